package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// hostCommands are the events of a command the operator runs on a host.
var hostCommands = map[string]bool{
	labstatus.EventRunsvctrl: true, labstatus.EventSV: true, labstatus.EventSMS: true,
	labstatus.EventMySQLServer: true, labstatus.EventSudo: true,
}

// TestScheduleNotBeforeOnTheLab: an intervention whose notBefore is in the
// future runs no command on any host until then (from the hosts' event
// logs and sshd logs), waits with WaitingForWindow, then goes Down by itself.
func TestScheduleNotBeforeOnTheLab(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.93", "--hosts", "4")
	e.useSharedOperator()
	notBefore := metav1.NewTime(time.Now().Add(60 * time.Second).Truncate(time.Second))
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Spec.Schedule = &diracv1.ScheduleSpec{NotBefore: &notBefore}
	})
	created := time.Now()
	e.create(vbi)
	e.waitCondition(vbi.Name, diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonWaitingForWindow, time.Minute)
	v := e.waitReady(vbi.Name, 3*time.Minute)
	first := time.Time{}
	for _, h := range e.lab.Hosts {
		for _, ev := range e.events(h.Name) {
			if !hostCommands[ev.Kind] || ev.Time.Before(created) {
				continue
			}
			if ev.Time.Before(notBefore.Time) {
				t.Errorf("%s: %s %s at %s, before notBefore %s", h.Name, ev.Kind, ev.Subject, ev.Time.Format(time.RFC3339Nano), notBefore.Format(time.RFC3339))
			}
			if first.IsZero() || ev.Time.Before(first) {
				first = ev.Time
			}
		}
	}
	if first.IsZero() {
		t.Fatal("no command in the hosts' event logs: the test proves nothing")
	}
	t.Logf("FIGURE notBefore: first command %.1fs after notBefore; Ready at %s", first.Sub(notBefore.Time).Seconds(), v.Status.CompletedAt)
}

// TestApprovalOnTheLab: the procedure stops before a gated tier with
// AwaitingApproval; `kubectl vobox approve` (the real plugin, as the
// harness's admin user) lets it go on, and the approver is recorded.
func TestApprovalOnTheLab(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.94", "--hosts", "4")
	e.useSharedOperator()
	plugin := filepath.Join(t.TempDir(), "kubectl-vobox")
	build := exec.Command("go", "build", "-o", plugin, "./cmd/kubectl-vobox")
	build.Dir = suite.root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kubectl-vobox: %v\n%s", err, out)
	}
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Spec.Strategy.Approvals = []string{diracv1.ServicesStoppedCondition}
	})
	e.create(vbi)
	v := e.waitCondition(vbi.Name, diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonAwaitingApproval, 2*time.Minute)
	if c := condition(v, diracv1.AgentsStoppedCondition); c == nil || *c != "True/"+diracv1.ReasonSucceeded {
		t.Errorf("AgentsStopped = %v at the gate, want True/Succeeded", c)
	}
	gated := time.Now()
	time.Sleep(2 * time.Second)
	for _, h := range e.lab.Hosts {
		if !h.HasRole("Services") && !h.HasRole("Framework") {
			continue
		}
		for _, ev := range eventsSince(e.events(h.Name), labstatus.EventRunsvctrl, gated.Add(-time.Second)) {
			t.Errorf("%s: %s %s while the tier awaits approval", h.Name, ev.Kind, ev.Subject)
		}
	}
	out, err := exec.Command(plugin, "--kubeconfig", suite.kubeconfig, "-n", e.ns, "approve", vbi.Name, diracv1.ServicesStoppedCondition).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl vobox approve: %v\n%s", err, out)
	}
	v = e.waitReady(vbi.Name, 3*time.Minute)
	if len(v.Status.Approvals) != 1 || v.Status.Approvals[0].Tier != diracv1.ServicesStoppedCondition || strings.TrimSpace(v.Status.Approvals[0].User) == "" {
		t.Fatalf("status.approvals = %+v, want the approval of ServicesStopped with its user", v.Status.Approvals)
	}
	t.Logf("FIGURE approval: approved by %q; %s", v.Status.Approvals[0].User, strings.TrimSpace(string(out)))
}
