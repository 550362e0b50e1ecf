// Package metrics_test scrapes the operator's metrics endpoint as Prometheus
// would: the manager binary runs as its own process against a real API
// server, and an intervention whose Secret is missing must show up as a
// Failed intervention with the SSH and step metrics registered beside it.
package metrics_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
	"github.com/vobox-operator/vobox-operator/internal/testenv"
)

func TestMetricsEndpoint(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dir := t.TempDir()
	manager := filepath.Join(dir, "manager")
	if out, err := exec.Command("go", "build", "-C", env.Root, "-o", manager, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	kubeconfig, err := env.WriteKubeconfig(dir, "metrics-admin")
	if err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	cmd := exec.Command(manager, "--metrics-bind-address="+addr, "--metrics-secure=false", "--health-probe-bind-address=0", "--lock-namespace=default")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	logf, _ := os.Create(filepath.Join(dir, "operator.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })

	k8s := env.Client
	vbi := &diracv1.VOBoxIntervention{
		ObjectMeta: metav1.ObjectMeta{Name: "no-secret", Namespace: "default"},
		Spec: diracv1.VOBoxInterventionSpec{
			State: diracv1.StateDown, Reason: "power stop",
			SSH:   diracv1.SSHSpec{SecretRef: diracv1.SecretReference{Name: "absent"}},
			Hosts: []diracv1.HostSpec{{Name: "volhcb20", Address: "127.0.0.2", Roles: []diracv1.Role{diracv1.RoleAgents}}},
		},
	}
	if err := k8s.Create(context.Background(), vbi); err != nil {
		t.Fatal(err)
	}

	// A second intervention with a usable Secret, aimed at a port where
	// nothing listens: its preflight probes fail, which the SSH metrics count.
	secret := sshSecret(t, "lab-ssh", "127.0.0.3")
	if err := k8s.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	refused := vbi.DeepCopy()
	refused.ObjectMeta = metav1.ObjectMeta{Name: "refused", Namespace: "default"}
	refused.Spec.SSH = diracv1.SSHSpec{SecretRef: diracv1.SecretReference{Name: "lab-ssh"}, Port: 1}
	refused.Spec.Hosts[0].Address = "127.0.0.3"
	if err := k8s.Create(context.Background(), refused); err != nil {
		t.Fatal(err)
	}

	// Two interventions whose one host is this machine's own sshd: "runs"
	// goes Down for real (maintenance commands that succeed, a DIRAC root
	// with no component), "fails" fails its first step. Together they give
	// every step, tier, host and SSH metric a sample, so the dashboard's and
	// the alerts' queries are checked against a scrape that has them all.
	srv := startSSHD(t, "127.0.0.5", "127.0.0.6")
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"startup", "startup-save", "runit"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := k8s.Create(context.Background(), sshSecretFor(t, "local-ssh", srv.clientKey, srv.knownHosts("127.0.0.5", "127.0.0.6"))); err != nil {
		t.Fatal(err)
	}
	for name, cmd := range map[string]string{"runs": "true", "fails": "false"} {
		v := vbi.DeepCopy()
		v.ObjectMeta = metav1.ObjectMeta{Name: name, Namespace: "default"}
		addr := map[string]string{"runs": "127.0.0.5", "fails": "127.0.0.6"}[name]
		v.Spec.SSH = diracv1.SSHSpec{SecretRef: diracv1.SecretReference{Name: "local-ssh"}, Port: int32(srv.port), User: me.Username}
		v.Spec.Hosts = []diracv1.HostSpec{{Name: "local-" + name, Address: addr, Roles: []diracv1.Role{diracv1.RoleAgents}}}
		v.Spec.Layout.DiracRoot = root
		v.Spec.Maintenance = diracv1.MaintenanceSpec{Set: []string{cmd}, Clear: []string{cmd}}
		// A failing command is retried until stepTimeout: let "fails" fail at once.
		v.Spec.Strategy.StepTimeout = metav1.Duration{Duration: time.Second}
		if err := k8s.Create(context.Background(), v); err != nil {
			t.Fatal(err)
		}
	}

	want := []string{
		`vobox_interventions{intervention="runs",intervention_namespace="default",phase="Down"} 1`,
		`vobox_hosts{intervention="runs",intervention_namespace="default",phase="Down"} 1`,
		`vobox_interventions{intervention="fails",intervention_namespace="default",phase="Failed"} 1`,
		`vobox_step_failures_total{reason="CommandFailed"}`,
		`vobox_step_duration_seconds_bucket{outcome="success",step="SetMaintenance"`,
		`vobox_step_duration_seconds_bucket{outcome="failure",step="SetMaintenance"`,
		`vobox_phase_duration_seconds_bucket{phase="AgentsStopped",result="succeeded"`,
		`vobox_ssh_commands_total{outcome="success"}`,
		`vobox_ssh_command_duration_seconds_bucket`,
		`vobox_interventions{intervention="no-secret",intervention_namespace="default",phase="Failed"} 1`,
		`vobox_hosts{intervention="no-secret",intervention_namespace="default",phase="Pending"} 1`,
		"vobox_status_writes_total",
		`vobox_intervention_reads_total{source="apiserver"}`,
		`vobox_ssh_handshake_failures_total`,
		"# TYPE vobox_ssh_open_connections gauge",
		"controller_runtime_reconcile_total",
	}
	deadline := time.Now().Add(120 * time.Second)
	var body string
	for time.Now().Before(deadline) {
		body = scrape(addr)
		missing := 0
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing++
			}
		}
		if missing == 0 {
			checkShippedQueries(t, env.Root, body)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("metrics endpoint lacks %q", w)
		}
	}
	var ours []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "vobox_") && !strings.Contains(l, "_bucket{") || strings.Contains(l, `le="+Inf"`) {
			ours = append(ours, l)
		}
	}
	t.Logf("last scrape, vobox_ series:\n%s", strings.Join(ours, "\n"))
	raw, _ := os.ReadFile(filepath.Join(dir, "operator.log"))
	t.Logf("operator log:\n%s", raw)
}

// sshSecret makes a Secret of type kubernetes.io/ssh-auth with a fresh
// client key and a known_hosts entry for address.
func sshSecret(t *testing.T, name, address string) *corev1.Secret {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	hostPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostKey, err := ssh.NewPublicKey(hostPub)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{remote.SecretLabelSSHKey: remote.SecretLabelSSHKeyValue}},
		Type:       corev1.SecretTypeSSHAuth,
		Data: map[string][]byte{
			corev1.SSHAuthPrivateKey: pem.EncodeToMemory(block),
			"known_hosts":            []byte(knownhosts.Line([]string{address + ":1"}, hostKey) + "\n"),
		},
	}
}

// sshSecretFor is a Secret of type kubernetes.io/ssh-auth with key and
// the known_hosts lines given.
func sshSecretFor(t *testing.T, name string, key ed25519.PrivateKey, knownHosts string) *corev1.Secret {
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{remote.SecretLabelSSHKey: remote.SecretLabelSSHKeyValue}},
		Type:       corev1.SecretTypeSSHAuth,
		Data:       map[string][]byte{corev1.SSHAuthPrivateKey: pem.EncodeToMemory(block), "known_hosts": []byte(knownHosts)},
	}
}

func pemBytes(b *pem.Block) []byte { return pem.EncodeToMemory(b) }

func scrape(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}
