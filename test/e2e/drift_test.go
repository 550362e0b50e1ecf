package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// patchSpec changes an intervention's spec, as a user or Git would.
func (e *env) patchSpec(name string, change func(*diracv1.VOBoxIntervention)) {
	e.t.Helper()
	v := e.get(name)
	patch := client.MergeFrom(v.DeepCopy())
	change(v)
	if err := suite.k8s.Patch(context.Background(), v, patch); err != nil {
		e.t.Fatal(err)
	}
}

// manifest reads the intervention's manifest on a host.
func (e *env) manifest(host string, v *diracv1.VOBoxIntervention) string {
	e.t.Helper()
	return e.labCmd("ssh", host, "cat /opt/dirac/startup-save/"+procedure.ManifestName(string(v.UID)))
}

// TestDriftReportThenCorrectOnLab (issue 13.2 on the lab): an agents host
// Down with driftPolicy Report; a person moves an agent's link back by
// hand and runsvdir starts it. The next drift check reports it (Drifted
// event, Ready=False, Stalled=True, reason Drifted) and changes nothing:
// the link stays in startup, no runit command reaches the host. The policy
// switched to Correct: the agent is parked and stopped again, the manifest
// is what Down recorded, and the intervention is Ready again.
func TestDriftReportThenCorrectOnLab(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.64", "--topology", "seed")
	e.useSharedOperator()
	const host = "volhcb20"
	agent := e.firstAgent(host)
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Name = "report"
		onlyHosts(v, host)
		v.Spec.Checks.DriftInterval = metav1.Duration{Duration: ownershipDrift}
		v.Spec.Strategy.DriftPolicy = diracv1.DriftPolicyReport
	})
	e.create(vbi)
	down := e.waitReady(vbi.Name, 3*time.Minute)
	recorded := e.manifest(host, down)

	moved := time.Now()
	e.labCmd("ssh", host, "mv -n -T /opt/dirac/startup-save/"+agent+" /opt/dirac/startup/"+agent)
	stalled := e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonDrifted, ownershipDrift+time.Minute)
	t.Logf("FIGURE drift report: %s reported %.1fs after its link was moved back (driftInterval %s)", agent, time.Since(moved).Seconds(), ownershipDrift)
	if c := meta.FindStatusCondition(stalled.Status.Conditions, diracv1.ReadyCondition); c == nil || c.Status != metav1.ConditionFalse || c.Reason != diracv1.ReasonDrifted {
		t.Errorf("Ready %v, want False/Drifted", c)
	}
	events := &eventsv1.EventList{}
	if err := suite.k8s.List(context.Background(), events, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	named := false
	for _, ev := range events.Items {
		named = named || (ev.Reason == diracv1.ReasonDrifted && strings.Contains(ev.Note, host) && strings.Contains(ev.Note, agent))
	}
	if !named {
		t.Errorf("no Drifted event naming %s and %s", host, agent)
	}
	time.Sleep(ownershipDrift) // one more check: still nothing done
	if linkIn, _ := componentState(e, host, agent); linkIn != labstatus.LinkInStartup {
		t.Errorf("Report moved the link (now in %s)", linkIn)
	}
	for _, ev := range eventsSince(e.events(host), labstatus.EventRunsvctrl, moved) {
		t.Errorf("Report acted on the host: %s", ev)
	}

	e.patchSpec(vbi.Name, func(v *diracv1.VOBoxIntervention) { v.Spec.Strategy.DriftPolicy = diracv1.DriftPolicyCorrect })
	fixed := e.waitFor(vbi.Name, ownershipDrift+2*time.Minute, func(v *diracv1.VOBoxIntervention) bool {
		return meta.IsStatusConditionTrue(v.Status.Conditions, diracv1.ReadyCondition)
	})
	if linkIn, state := componentState(e, host, agent); linkIn != labstatus.LinkInStartupSave || state == labstatus.StateRun {
		t.Errorf("Correct left %s with its link in %s, %s", agent, linkIn, state)
	}
	if got := e.manifest(host, fixed); got != recorded {
		t.Errorf("the manifest changed through the correction:\nbefore:\n%s\nafter:\n%s", recorded, got)
	}
}

// TestSuspendMidTierOnLab (issue 13.7 on the lab): four services hosts with
// maxParallel 1, each with a component that takes 6 s to stop. spec.suspend
// set while the first host stops: that host's stop finishes, no other host
// gets a runit command while suspended, and Ready says Suspended; resumed,
// the Down completes.
func TestSuspendMidTierOnLab(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.65", "--topology", "seed")
	e.useSharedOperator()
	services := []string{"volhcb15", "volhcb17", "volhcb18", "volhcb19"}
	slow := map[string]string{}
	for _, host := range services {
		h, _ := e.lab.Host(host)
		slow[host] = h.Components[0].Name
		e.labCmd("break", host, slow[host], "slowstop=6")
	}
	original := startupLinks(e.status())
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Name = "suspended"
		onlyHosts(v, services...)
		v.Spec.Strategy.MaxParallel = 1
	})
	start := time.Now()
	e.create(vbi)
	var first string
	for deadline := time.Now().Add(2 * time.Minute); first == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, host := range services {
			for _, ev := range eventsSince(e.events(host), labstatus.EventRunsvctrl, start) {
				if ev.Subject == "d" {
					first = host
				}
			}
		}
	}
	if first == "" {
		t.Fatal("no services host got runsvctrl d within 2 minutes")
	}
	e.patchSpec(vbi.Name, func(v *diracv1.VOBoxIntervention) { v.Spec.Suspend = true })
	suspended := time.Now()
	e.waitCondition(vbi.Name, diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, time.Minute)
	time.Sleep(15 * time.Second) // longer than the first host's stop
	for _, host := range services {
		if host == first {
			continue
		}
		for _, ev := range eventsSince(e.events(host), labstatus.EventRunsvctrl, suspended.Add(time.Second)) {
			t.Errorf("%s got %s while suspended", host, ev)
		}
	}
	// The stop in flight finished; parking the link is a step of its own,
	// which waits for the resume.
	if linkIn, state := componentState(e, first, slow[first]); state == labstatus.StateRun {
		t.Errorf("%s: the stop in flight did not finish while suspended: %s link in %s, %s", first, slow[first], linkIn, state)
	}
	e.patchSpec(vbi.Name, func(v *diracv1.VOBoxIntervention) { v.Spec.Suspend = false })
	e.waitReady(vbi.Name, 5*time.Minute)
	report(t, "Down after the suspension", checkDown(e.lab, e.status(), original, services, nil))
	t.Logf("FIGURE suspend: no runit command on the other %d hosts for 15 s of suspension; Down done %s after the resume", len(services)-1, time.Since(suspended).Round(time.Second))
}
