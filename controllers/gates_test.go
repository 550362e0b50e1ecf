package controllers

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// TestScheduleNotBefore: nothing runs before notBefore, not even a probe;
// the intervention waits (Reconciling, not Stalled) and names the time, then
// goes on by itself.
func TestScheduleNotBefore(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, hosts...)
	notBefore := metav1.NewTime(time.Now().Add(4 * time.Second).Truncate(time.Second))
	vbi.Spec.Schedule = &diracv1.ScheduleSpec{NotBefore: &notBefore}
	h.create(vbi)
	vbi = h.waitCondition("power-stop", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonWaitingForWindow, waitShort)
	if c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.ReconcilingCondition); c.Status != metav1.ConditionTrue {
		t.Errorf("Reconciling = %s, want True while waiting", c.Status)
	}
	if c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.StalledCondition); c.Status != metav1.ConditionFalse {
		t.Errorf("Stalled = %s, want False while waiting", c.Status)
	}
	if c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.ReadyCondition); !strings.Contains(c.Message, notBefore.UTC().Format(time.RFC3339)) {
		t.Errorf("Ready message %q does not name notBefore", c.Message)
	}
	for time.Now().Before(notBefore.Add(-500 * time.Millisecond)) {
		if n := sim.Commands(); n != 0 {
			t.Fatalf("%d commands before notBefore", n)
		}
		if got := h.leases(); len(got) != 0 {
			t.Fatalf("Leases taken before notBefore: %v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	vbi = h.waitReady("power-stop", diracv1.StateDown, waitLong)
	if vbi.Status.StartedAt == nil || vbi.Status.Tiers[0].StartedAt.Before(&notBefore) {
		t.Errorf("the first tier started at %v, before notBefore %v", vbi.Status.Tiers[0].StartedAt, notBefore)
	}
}

// TestInvalidSchedule: a time zone Go does not know stalls the intervention
// with InvalidSchedule and runs nothing.
func TestInvalidSchedule(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, hosts...)
	vbi.Spec.Schedule = &diracv1.ScheduleSpec{Window: &diracv1.WindowSpec{Start: "06:00", End: "09:00", TimeZone: "Mars/Olympus_Mons"}}
	h.create(vbi)
	vbi = h.waitCondition("power-stop", diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonInvalidSchedule, waitShort)
	if c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.StalledCondition); !strings.Contains(c.Message, "Mars/Olympus_Mons") {
		t.Errorf("Stalled message %q does not name the zone", c.Message)
	}
	time.Sleep(time.Second)
	if n := sim.Commands(); n != 0 {
		t.Errorf("%d commands with an invalid schedule", n)
	}
}

// TestApprovalGate: the procedure stops before a gated tier until it is
// approved for this generation; an approval of another generation does not
// count; the approver is copied into the status.
func TestApprovalGate(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, hosts...)
	vbi.Spec.Strategy.Approvals = []string{diracv1.ServicesStoppedCondition}
	h.create(vbi)
	vbi = h.waitCondition("power-stop", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonAwaitingApproval, waitLong)
	if c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.ReadyCondition); !strings.Contains(c.Message, "kubectl vobox approve power-stop ServicesStopped") {
		t.Errorf("Ready message %q does not say how to approve", c.Message)
	}
	agents := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.AgentsStoppedCondition)
	services := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.ServicesStoppedCondition)
	if agents.Status != metav1.ConditionTrue || services.Reason != diracv1.ReasonPending {
		t.Fatalf("AgentsStopped %s/%s, ServicesStopped %s/%s: want the gate right before ServicesStopped", agents.Status, agents.Reason, services.Status, services.Reason)
	}
	if got := sim.Hosts["fw"].Links(t, "startup"); len(got) == 0 {
		t.Errorf("the Framework host was stopped before the approval")
	}
	approve := func(gen int64) {
		rec, err := json.Marshal(diracv1.ApprovalRecord{User: "alice@cern.ch", Time: metav1.Now(), Generation: gen})
		if err != nil {
			t.Fatal(err)
		}
		h.update("power-stop", func(v *diracv1.VOBoxIntervention) {
			v.Annotations = map[string]string{diracv1.ApprovalAnnotation(diracv1.ServicesStoppedCondition): string(rec)}
		})
	}
	approve(vbi.Generation + 1) // not this generation
	time.Sleep(1500 * time.Millisecond)
	if v := h.get("power-stop"); meta.FindStatusCondition(v.Status.Conditions, diracv1.ReadyCondition).Reason != diracv1.ReasonAwaitingApproval {
		t.Fatalf("an approval of another generation let the procedure go on:\n%s", describeStatus(v))
	}
	approve(vbi.Generation)
	vbi = h.waitReady("power-stop", diracv1.StateDown, waitLong)
	if len(vbi.Status.Approvals) != 1 || vbi.Status.Approvals[0].User != "alice@cern.ch" || vbi.Status.Approvals[0].Tier != diracv1.ServicesStoppedCondition {
		t.Errorf("status.approvals = %+v, want alice's approval of ServicesStopped", vbi.Status.Approvals)
	}
}

// TestTierGateWindowClosed: once the window closes, the next tier does not
// start; the wait names the next opening and asks for a pass then.
func TestTierGateWindowClosed(t *testing.T) {
	t.Parallel()
	vbi := statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt)
	vbi.Spec.Schedule = &diracv1.ScheduleSpec{Window: &diracv1.WindowSpec{Start: "06:00", End: "07:00", TimeZone: "UTC"}}
	s := statusScope(vbi, diracv1.TierSucceeded, diracv1.TierSucceeded)
	s.now = time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC) // the window just closed
	if _, err := (&VOBoxInterventionReconciler{}).checkSchedule(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if s.blocked != nil {
		t.Fatalf("a started procedure is blocked at the pass start: %+v (steps in flight must finish)", s.blocked)
	}
	gate := (&VOBoxInterventionReconciler{}).tierGate(s, &s.plan.Tiers[2])
	if gate == nil || gate.Reason != diracv1.ReasonWaitingForWindow || gate.Terminal {
		t.Fatalf("gate = %+v, want a WaitingForWindow wait", gate)
	}
	if !strings.Contains(gate.Message, "2026-12-01T06:00:00Z") {
		t.Errorf("gate message %q does not name the next opening", gate.Message)
	}
	if s.requeue != 23*time.Hour && s.requeue != maxScheduleRequeue {
		t.Errorf("requeue = %s, want a pass at the next opening (at most %s)", s.requeue, maxScheduleRequeue)
	}
}
