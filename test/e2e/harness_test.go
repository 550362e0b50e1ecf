package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// env is one end-to-end environment: a real API server (envtest), the
// operator built and run as its own process, and a lab of simulated VOBoxes.
type env struct {
	t          *testing.T
	dir        string
	kubeconfig string
	k8s        client.Client
	lab        *labstatus.Lab
	labBin     string
	labDir     string
	operator   *exec.Cmd
	opLog      string
	managerBin string
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = diracv1.AddToScheme(s)
	return s
}()

// repoRoot is the module root, two levels up from this package.
func repoRoot(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

// newEnv starts the API server, builds the operator and the lab, and brings a
// lab up with the given arguments on its own loopback network.
func newEnv(t *testing.T, net string, labArgs ...string) *env {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds the control plane")
	}
	if os.Geteuid() != 0 {
		t.Fatal("the end-to-end tests need root for the lab: run `make test` as root")
	}
	e := &env{t: t, dir: t.TempDir()}
	root := repoRoot(t)
	e.managerBin = filepath.Join(e.dir, "manager")
	e.labBin = filepath.Join(e.dir, "lab-bin")
	e.mustRun(root, "go", "build", "-o", e.managerBin, ".")
	e.mustRun(root, "go", "build", "-o", e.labBin, "./hack/lab")

	testEnv := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		t.Fatalf("failed to start envtest: %v", err)
	}
	t.Cleanup(func() { _ = testEnv.Stop() })
	user, err := testEnv.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("failed to add an envtest user: %v", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	e.kubeconfig = filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(e.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	if e.k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}

	e.labDir = filepath.Join(e.dir, "lab")
	t.Cleanup(func() {
		out, err := exec.Command(e.labBin, "--dir", e.labDir, "down").CombinedOutput()
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
	e.kubectl("apply", "-f", e.lab.Files.Secret)
	return e
}

func (e *env) mustRun(dir string, name string, args ...string) string {
	e.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// labCmd runs a lab verb and returns its stdout.
func (e *env) labCmd(args ...string) string {
	e.t.Helper()
	full := append([]string{"--dir", e.labDir}, args...)
	cmd := exec.Command(e.labBin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("lab %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// kubectl runs kubectl against the test API server, as a user would.
func (e *env) kubectl(args ...string) string {
	e.t.Helper()
	cmd := exec.Command("kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// startOperator runs the manager binary as its own process.
func (e *env) startOperator() {
	e.t.Helper()
	e.opLog = filepath.Join(e.dir, "operator.log")
	f, err := os.OpenFile(e.opLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(e.managerBin, "--metrics-bind-address=0", "--health-probe-bind-address=0", "--zap-log-level=info")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.kubeconfig)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.operator = cmd
	e.t.Cleanup(func() {
		e.stopOperator()
		_ = f.Close()
		if e.t.Failed() {
			e.t.Logf("operator log (tail):\n%s", tailFile(e.opLog, 60))
		}
	})
}

func (e *env) stopOperator() {
	if e.operator != nil && e.operator.Process != nil {
		_ = e.operator.Process.Kill()
		_, _ = e.operator.Process.Wait()
		e.operator = nil
	}
}

// labIntervention reads the lab's intervention manifest and lets the test
// adjust it before it is created.
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
	if vbi.Namespace == "" {
		vbi.Namespace = "default"
	}
	if mutate != nil {
		mutate(vbi)
	}
	return vbi
}

// status reads "lab status --json".
func (e *env) status() *labstatus.Status {
	e.t.Helper()
	st := &labstatus.Status{}
	if err := json.Unmarshal([]byte(e.labCmd("status", "--json")), st); err != nil {
		e.t.Fatalf("lab status --json: %v", err)
	}
	return st
}

// waitReady waits until the intervention has observed its latest generation
// and is Ready, with kubectl wait as users do.
func (e *env) waitReady(ctx context.Context, name string, timeout time.Duration) *diracv1.VOBoxIntervention {
	e.t.Helper()
	vbi := e.waitFor(ctx, name, timeout, func(v *diracv1.VOBoxIntervention) bool {
		return v.Status.ObservedGeneration == v.Generation
	})
	e.kubectl("wait", "--for=condition=Ready", "vbi/"+name, "-n", vbi.Namespace, fmt.Sprintf("--timeout=%ds", int(timeout.Seconds())))
	return e.get(ctx, vbi.Namespace, name)
}

// waitFor polls the intervention until ok holds.
func (e *env) waitFor(ctx context.Context, name string, timeout time.Duration, ok func(*diracv1.VOBoxIntervention) bool) *diracv1.VOBoxIntervention {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := e.get(ctx, "default", name)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(v.Status, "", "  ")
			e.t.Fatalf("intervention %s: condition not reached within %s; status:\n%s", name, timeout, raw)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (e *env) get(ctx context.Context, ns, name string) *diracv1.VOBoxIntervention {
	e.t.Helper()
	v := &diracv1.VOBoxIntervention{}
	if err := e.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// condition returns a condition of the intervention, or nil.
func condition(v *diracv1.VOBoxIntervention, t string) *string {
	c := meta.FindStatusCondition(v.Status.Conditions, t)
	if c == nil {
		return nil
	}
	s := string(c.Status) + "/" + c.Reason
	return &s
}

func tailFile(path string, lines int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

var _ = corev1.EventTypeWarning
