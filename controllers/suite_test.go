package controllers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
	"github.com/vobox-operator/vobox-operator/internal/testenv"
	"golang.org/x/crypto/ssh"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vobox-operator/vobox-operator/internal/notify"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The envtest suite: one real kube-apiserver and etcd with the generated CRD
// for the package. Each test gets a namespace and a manager of its own,
// watching only that namespace, with the reconciler wired to a simulated set
// of hosts (hostsim_test.go), so tests run in parallel.

var (
	testCfg    *rest.Config
	testScheme *runtime.Scheme
	// k8sClient is uncached: what a test reads is what the API server holds.
	k8sClient client.Client
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	logf := logr.Discard()
	if os.Getenv("VOBOX_TEST_LOG") != "" {
		logf = zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr))
	}
	ctrl.SetLogger(logf)

	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	testCfg, testScheme, k8sClient = env.Config, env.Scheme, env.Client
	return m.Run()
}

// harness is one test's namespace, hosts and running controller.
type harness struct {
	t   *testing.T
	ns  string
	sim *hostsim.Cluster
	rec *VOBoxInterventionReconciler
	// others are more namespaces the manager watches (newHarnessNamespaces).
	others []string
	// wrap, when set, wraps the simulated hosts' executor (a test's faults).
	wrap func(remote.Executor) remote.Executor
	// hostWait is the reconciler's HostWaitPerPass (zero: the default).
	hostWait time.Duration
}

// newHarness creates a namespace with the SSH Secret "ssh" and starts a
// manager running the reconciler against the simulated hosts.
func newHarness(t *testing.T, sim *hostsim.Cluster, opts ...func(*harness)) *harness {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "vbi-test-"}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		t.Fatalf("failed to create a namespace: %v", err)
	}
	t.Cleanup(func() {
		// envtest runs no namespace controller: this only marks it
		// Terminating; the API server goes away with the suite anyway.
		_ = k8sClient.Delete(context.Background(), ns)
	})
	h := &harness{t: t, ns: ns.Name, sim: sim}
	for _, o := range opts {
		o(h)
	}
	h.createSecret("ssh")
	h.startManager()
	return h
}

func (h *harness) startManager() {
	t := h.t
	t.Helper()
	managed := labels.SelectorFromSet(labels.Set{LeaseManagedByLabel: LeaseManagedByValue})
	namespaces := map[string]cache.Config{h.ns: {}}
	for _, ns := range h.others {
		namespaces[ns] = cache.Config{}
	}
	mgr, err := ctrl.NewManager(testCfg, ctrl.Options{
		Scheme:                 testScheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{
			DefaultNamespaces: namespaces,
			ByObject:          map[client.Object]cache.ByObject{&coordinationv1.Lease{}: {Label: managed}},
		},
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Logger:     ctrl.Log.WithName(t.Name()),
	})
	if err != nil {
		t.Fatalf("failed to create the manager: %v", err)
	}
	// Every harness can notify: only interventions with spec.notify do.
	notifier, err := notify.New(prometheus.NewRegistry(), notify.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var executor remote.Executor = h.sim.Executor()
	if h.wrap != nil {
		executor = h.wrap(executor)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.rec = &VOBoxInterventionReconciler{
		Notifier:  notifier,
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Executor:  executor,
		Recorder:  mgr.GetEventRecorder("vobox-operator"),
		Metrics:   NewMetrics(prometheus.NewRegistry()),
		// Each test's namespace is its own lock namespace, so that tests
		// running in parallel never meet on a Lease.
		LockNamespace:   h.ns,
		HostWaitPerPass: h.hostWait,
	}
	if err := h.rec.SetupWithManager(ctx, mgr); err != nil {
		cancel()
		t.Fatalf("failed to set up the controller: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the manager stopped with an error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("the manager did not stop")
		}
	})
}

// createSecret creates a kubernetes.io/ssh-auth Secret with a fresh key and
// a known_hosts line per simulated host.
func (h *harness) createSecret(name string) {
	h.t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		h.t.Fatal(err)
	}
	hostPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(hostPub)
	if err != nil {
		h.t.Fatal(err)
	}
	var kh strings.Builder
	for name := range h.sim.Hosts {
		kh.WriteString(name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + "\n")
	}
	if kh.Len() == 0 {
		kh.WriteString("none " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + "\n")
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name, Labels: map[string]string{remote.SecretLabelSSHKey: remote.SecretLabelSSHKeyValue}},
		Type:       corev1.SecretTypeSSHAuth,
		Data: map[string][]byte{
			corev1.SSHAuthPrivateKey: pem.EncodeToMemory(block),
			"known_hosts":            []byte(kh.String()),
		},
	}
	if err := k8sClient.Create(context.Background(), secret); err != nil {
		h.t.Fatalf("failed to create the Secret: %v", err)
	}
}
