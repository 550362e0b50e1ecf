package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
	"github.com/vobox-operator/vobox-operator/internal/testenv"
)

// The package shares what is costly to make: the manager and lab binaries
// are built once, one API server (envtest) serves every test, and the tests
// that do not kill the operator share one operator process. Each test has its
// own namespace and its own lab on its own loopback network (--net 127.40+),
// so tests can run in parallel (go test runs at most GOMAXPROCS at once).

// suite is what TestMain sets up for the whole package.
var suite struct {
	root       string
	dir        string
	kubeconfig string
	managerBin string
	labBin     string
	k8s        client.Client
	watcher    client.WithWatch

	sharedOnce sync.Once
	shared     *operator
	sharedErr  error

	// ownRunning counts the operators tests started for themselves; the
	// shared one must not run at the same time (both would act).
	mu         sync.Mutex
	ownRunning int
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, testenv.ErrNoAssets)
		return 1
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the end-to-end tests need root for the lab: run `make test` as root")
		return 1
	}
	var err error
	if suite.root, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if suite.dir, err = os.MkdirTemp("", "vobox-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(suite.dir)

	setupStart := time.Now()
	suite.managerBin = filepath.Join(suite.dir, "manager")
	suite.labBin = filepath.Join(suite.dir, "lab-bin")
	for _, b := range [][]string{{"-o", suite.managerBin, "."}, {"-o", suite.labBin, "./hack/lab"}} {
		cmd := exec.Command("go", append([]string{"build"}, b...)...)
		cmd.Dir = suite.root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", strings.Join(b, " "), err, out)
			return 1
		}
	}

	ctrllog.SetLogger(logr.Discard())
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if suite.kubeconfig, err = env.WriteKubeconfig(suite.dir, "e2e-admin"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if suite.watcher, err = client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	suite.k8s = suite.watcher
	fmt.Fprintf(os.Stderr, "e2e: binaries built and API server up in %s\n", time.Since(setupStart).Round(100*time.Millisecond))
	code := m.Run()
	if suite.shared != nil {
		suite.shared.stop()
	}
	return code
}

// operator is the manager binary run as its own process, as a user runs it.
type operator struct {
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	log    *os.File
	starts int
}

func newOperator(logPath string) *operator { return &operator{logPath: logPath} }

// start runs the manager; its output is appended to logPath.
func (o *operator) start() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cmd != nil {
		return fmt.Errorf("the operator already runs")
	}
	if o.log == nil {
		f, err := os.OpenFile(o.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		o.log = f
	}
	// One lock namespace for every operator of the suite, as in a cluster:
	// the machines' Leases are cluster-wide.
	cmd := exec.Command(suite.managerBin, "--metrics-bind-address=0", "--health-probe-bind-address=0", "--zap-log-level=info", "--lock-namespace=default")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+suite.kubeconfig)
	cmd.Stdout, cmd.Stderr = o.log, o.log
	if err := cmd.Start(); err != nil {
		return err
	}
	o.cmd = cmd
	o.starts++
	return nil
}

// kill sends SIGKILL, as a node failure or the OOM killer would, and reaps it.
func (o *operator) kill() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cmd == nil {
		return
	}
	_ = o.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = o.cmd.Process.Wait()
	o.cmd = nil
}

func (o *operator) stop() {
	o.kill()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.log != nil {
		_ = o.log.Close()
		o.log = nil
	}
}

// env is one test's world: a namespace of the shared API server, a lab of
// simulated VOBoxes on its own network, and the operator acting on them.
type env struct {
	t      *testing.T
	ns     string
	lab    *labstatus.Lab
	labDir string
	op     *operator
	// ownOperator is true when the test started (and may kill) its operator.
	ownOperator bool
}

var nsUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)

// newEnv makes the test's namespace, brings a lab up on its own loopback
// network and applies the lab's Secret in the namespace.
func newEnv(t *testing.T, net string, labArgs ...string) *env {
	t.Helper()
	ns := strings.Trim(nsUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(ns) > 50 {
		ns = strings.Trim(ns[:50], "-")
	}
	e := &env{t: t, ns: ns, labDir: filepath.Join(t.TempDir(), "lab")}
	ctx := context.Background()
	if err := suite.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatalf("failed to create namespace %s: %v", ns, err)
	}
	t.Cleanup(func() {
		out, err := exec.Command(suite.labBin, "--dir", e.labDir, "down").CombinedOutput()
		if err != nil {
			t.Logf("lab down: %v\n%s", err, out)
		}
	})
	e.labCmd(append([]string{"up", "--net", net}, labArgs...)...)
	raw, err := os.ReadFile(filepath.Join(e.labDir, "lab.json"))
	if err != nil {
		t.Fatal(err)
	}
	e.lab = &labstatus.Lab{}
	if err := json.Unmarshal(raw, e.lab); err != nil {
		t.Fatal(err)
	}
	e.kubectl("apply", "-n", ns, "-f", e.lab.Files.Secret)
	t.Cleanup(e.keepArtifacts)
	return e
}

// keepArtifacts copies, when the test failed and VOBOX_E2E_ARTIFACTS names
// a directory, the operator's log and every host's event log there (under
// the test's namespace), since the test's temporary directory goes away.
func (e *env) keepArtifacts() {
	root := os.Getenv("VOBOX_E2E_ARTIFACTS")
	if root == "" || !e.t.Failed() {
		return
	}
	dir := filepath.Join(root, e.ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		e.t.Logf("artifacts: %v", err)
		return
	}
	files := map[string]string{}
	if e.op != nil {
		files[e.op.logPath] = "operator.log"
	}
	for _, h := range e.lab.Hosts {
		files[h.EventLog] = h.Name + ".events"
	}
	for from, to := range files {
		raw, err := os.ReadFile(from)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, to), raw, 0o644)
		}
		if err != nil {
			e.t.Logf("artifacts: %v", err)
		}
	}
	e.t.Logf("artifacts kept in %s", dir)
}

// useSharedOperator has the test's interventions worked by the package's
// shared operator (started on first use).
func (e *env) useSharedOperator() {
	e.t.Helper()
	suite.mu.Lock()
	own := suite.ownRunning
	suite.mu.Unlock()
	if own > 0 {
		e.t.Fatal("a test runs its own operator: the shared one would act on its interventions too")
	}
	suite.sharedOnce.Do(func() {
		suite.shared = newOperator(filepath.Join(suite.dir, "shared-operator.log"))
		suite.sharedErr = suite.shared.start()
	})
	if suite.sharedErr != nil {
		e.t.Fatalf("failed to start the shared operator: %v", suite.sharedErr)
	}
	e.op = suite.shared
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("shared operator log, lines about namespace %s (tail):\n%s", e.ns, tailMatching(e.op.logPath, `"namespace":"`+e.ns+`"`, 80))
		}
	})
}

// startOwnOperator runs an operator for this test alone; the test may kill
// and restart it. The shared operator must not run meanwhile.
func (e *env) startOwnOperator() *operator {
	e.t.Helper()
	suite.mu.Lock()
	if suite.shared != nil {
		suite.mu.Unlock()
		e.t.Fatal("the shared operator runs: it would act on this test's interventions too")
	}
	suite.ownRunning++
	suite.mu.Unlock()
	e.op = newOperator(filepath.Join(e.t.TempDir(), "operator.log"))
	e.ownOperator = true
	if err := e.op.start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		e.op.stop()
		suite.mu.Lock()
		suite.ownRunning--
		suite.mu.Unlock()
		if e.t.Failed() {
			e.t.Logf("operator log (tail):\n%s", tailMatching(e.op.logPath, "", 80))
		}
	})
	return e.op
}

// labCmd runs a lab verb and returns its stdout; a failure fails the test.
func (e *env) labCmd(args ...string) string {
	e.t.Helper()
	out, err := e.labRun(args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// labRun runs a lab verb and returns its stdout; safe from any goroutine.
func (e *env) labRun(args ...string) (string, error) {
	cmd := exec.Command(suite.labBin, append([]string{"--dir", e.labDir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("lab %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// kubectl runs kubectl against the test API server, as a user would.
func (e *env) kubectl(args ...string) string {
	e.t.Helper()
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+suite.kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// labIntervention reads the lab's intervention manifest, puts it in the
// test's namespace and lets the test adjust it before it is created.
func (e *env) labIntervention(mutate func(*diracv1.VOBoxIntervention)) *diracv1.VOBoxIntervention {
	e.t.Helper()
	raw, err := os.ReadFile(e.lab.Files.Intervention)
	if err != nil {
		e.t.Fatal(err)
	}
	vbi := &diracv1.VOBoxIntervention{}
	if err := yaml.UnmarshalStrict(raw, vbi); err != nil {
		e.t.Fatalf("the lab's intervention.yaml does not match the API: %v", err)
	}
	vbi.Namespace = e.ns
	if mutate != nil {
		mutate(vbi)
	}
	return vbi
}

// onlyHosts keeps the listed hosts of an intervention (and its journal move
// on those of them that are listed there).
func onlyHosts(v *diracv1.VOBoxIntervention, names ...string) {
	v.Spec.Hosts = slices.DeleteFunc(v.Spec.Hosts, func(h diracv1.HostSpec) bool { return !slices.Contains(names, h.Name) })
	if j := v.Spec.Database.InnodbLog; j != nil {
		j.Hosts = slices.DeleteFunc(j.Hosts, func(n string) bool { return !slices.Contains(names, n) })
		if len(j.Hosts) == 0 {
			v.Spec.Database.InnodbLog = nil
		}
	}
}

// fast shortens the waits of the procedure for tests, unless
// VOBOX_E2E_DEFAULTS is set (make e2e-defaults): then the interventions
// keep the API's defaults, as users get them (componentUptime 10s,
// settleDelay 60s, stopTimeout and stepTimeout as defaulted).
func fast(v *diracv1.VOBoxIntervention) {
	if os.Getenv("VOBOX_E2E_DEFAULTS") != "" {
		return
	}
	v.Spec.Checks.SettleDelay = metav1.Duration{Duration: 2 * time.Second}
	v.Spec.Checks.ComponentUptime = metav1.Duration{Duration: 2 * time.Second}
	v.Spec.Strategy.StepTimeout = metav1.Duration{Duration: 2 * time.Minute}
	v.Spec.Strategy.StopTimeout = metav1.Duration{Duration: 30 * time.Second}
}

func (e *env) create(v *diracv1.VOBoxIntervention) {
	e.t.Helper()
	if err := suite.k8s.Create(context.Background(), v); err != nil {
		e.t.Fatalf("failed to create intervention %s: %v", v.Name, err)
	}
}

// setState flips spec.state, as a user or Git would.
func (e *env) setState(name string, state diracv1.State) {
	e.t.Helper()
	v := e.get(name)
	patch := client.MergeFrom(v.DeepCopy())
	v.Spec.State = state
	if err := suite.k8s.Patch(context.Background(), v, patch); err != nil {
		e.t.Fatal(err)
	}
}

// deleteAndWait deletes an intervention and waits until it is gone (its
// finalizer released the Leases).
func (e *env) deleteAndWait(name string, timeout time.Duration) {
	e.t.Helper()
	ctx := context.Background()
	v := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name}}
	if err := suite.k8s.Delete(ctx, v); client.IgnoreNotFound(err) != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := suite.k8s.Get(ctx, client.ObjectKeyFromObject(v), v)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("intervention %s still exists %s after its deletion (err %v)", name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// status reads "lab status --json" with every event.
func (e *env) status() *labstatus.Status {
	e.t.Helper()
	st, err := e.readStatus(true)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// readStatus reads the lab's status; without ssh it only reads files (a
// few milliseconds) and is safe from any goroutine.
func (e *env) readStatus(ssh bool) (*labstatus.Status, error) {
	args := []string{"status", "--json", "--events", "0"}
	if !ssh {
		args = append(args, "--no-ssh")
	}
	out, err := e.labRun(args...)
	if err != nil {
		return nil, err
	}
	st := &labstatus.Status{}
	if err := json.Unmarshal([]byte(out), st); err != nil {
		return nil, fmt.Errorf("lab status --json: %w", err)
	}
	return st, nil
}

// waitReady waits until the intervention has observed its latest generation
// and is Ready, with kubectl wait as users do.
func (e *env) waitReady(name string, timeout time.Duration) *diracv1.VOBoxIntervention {
	e.t.Helper()
	start := time.Now()
	e.waitFor(name, timeout, func(v *diracv1.VOBoxIntervention) bool {
		return v.Status.ObservedGeneration == v.Generation && v.Status.ObservedState == v.Spec.State
	})
	left := max(timeout-time.Since(start), 5*time.Second)
	e.kubectl("wait", "--for=condition=Ready", "vbi/"+name, "-n", e.ns, fmt.Sprintf("--timeout=%ds", int(left.Seconds())))
	return e.get(name)
}

// waitCondition waits until a condition has the status and, if not empty,
// the reason.
func (e *env) waitCondition(name, typ string, status metav1.ConditionStatus, reason string, timeout time.Duration) *diracv1.VOBoxIntervention {
	e.t.Helper()
	return e.waitFor(name, timeout, func(v *diracv1.VOBoxIntervention) bool {
		c := meta.FindStatusCondition(v.Status.Conditions, typ)
		return v.Status.ObservedGeneration == v.Generation && c != nil && c.Status == status && (reason == "" || c.Reason == reason)
	})
}

// waitFor polls the intervention until ok holds.
func (e *env) waitFor(name string, timeout time.Duration, ok func(*diracv1.VOBoxIntervention) bool) *diracv1.VOBoxIntervention {
	e.t.Helper()
	v, err := e.poll(name, timeout, ok)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// poll is waitFor returning an error; safe from any goroutine.
func (e *env) poll(name string, timeout time.Duration, ok func(*diracv1.VOBoxIntervention) bool) (*diracv1.VOBoxIntervention, error) {
	deadline := time.Now().Add(timeout)
	for {
		v := &diracv1.VOBoxIntervention{}
		err := suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, v)
		if err == nil && ok(v) {
			return v, nil
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(v.Status, "", "  ")
			return v, fmt.Errorf("intervention %s/%s: condition not reached within %s (err %v); status:\n%s", e.ns, name, timeout, err, raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *env) get(name string) *diracv1.VOBoxIntervention {
	e.t.Helper()
	v := &diracv1.VOBoxIntervention{}
	if err := suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: name}, v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// events reads a host's whole event log.
func (e *env) events(host string) []labstatus.Event {
	e.t.Helper()
	h, ok := e.lab.Host(host)
	if !ok {
		e.t.Fatalf("no lab host %s", host)
	}
	evs, err := labstatus.ReadEvents(h.EventLog)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// ledger reads the lab's maintenance ledger.
func (e *env) ledger() []labstatus.LedgerEntry {
	e.t.Helper()
	entries, err := labstatus.ReadLedger(e.lab.Files.Ledger)
	if err != nil {
		e.t.Fatal(err)
	}
	return entries
}

// startupLinks is every host's startup links, by host.
func startupLinks(st *labstatus.Status) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, h := range st.Hosts {
		out[h.Name] = maps.Clone(h.Startup)
	}
	return out
}

// condition returns "Status/Reason" of a condition, or nil.
func condition(v *diracv1.VOBoxIntervention, t string) *string {
	c := meta.FindStatusCondition(v.Status.Conditions, t)
	if c == nil {
		return nil
	}
	s := string(c.Status) + "/" + c.Reason
	return &s
}

// hostStatus returns an intervention's status of a host.
func hostStatus(v *diracv1.VOBoxIntervention, name string) diracv1.HostStatus {
	for _, hs := range v.Status.Hosts {
		if hs.Name == name {
			return hs
		}
	}
	return diracv1.HostStatus{}
}

// tailMatching returns the last lines of a file that contain substr.
func tailMatching(path, substr string, lines int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var all []string
	for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
		if strings.Contains(l, substr) {
			all = append(all, l)
		}
	}
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
