package controllers

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
)

// driftTopology is an agents host and a database host, Down with drift
// checks every 10 s (the shortest the schema allows).
func driftTopology(t *testing.T, policy diracv1.DriftPolicy, keepStopped bool) (*harness, *hostsim.Host, *hostsim.Host, map[string]string) {
	agents := hostsim.NewHost(t, "agents", false, hostsim.Component{Link: "WorkloadManagement_JobAgent", Agent: true})
	db := hostsim.NewHost(t, "db", true)
	h := newHarness(t, hostsim.NewCluster(agents, db))
	vbi := h.intervention("power-stop", diracv1.StateDown, hostSpec("agents", diracv1.RoleAgents), hostSpec("db", diracv1.RoleDatabase))
	vbi.Spec.Checks.DriftInterval = metav1.Duration{Duration: 10 * time.Second}
	vbi.Spec.Strategy.DriftPolicy = policy
	vbi.Spec.Database.KeepStopped = keepStopped
	h.create(vbi)
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
	manifest := map[string]string{}
	for _, m := range manifests(agents) {
		b, err := os.ReadFile(agents.Path("dirac", "startup-save", m))
		if err != nil {
			t.Fatal(err)
		}
		manifest[m] = string(b)
	}
	return h, agents, db, manifest
}

// putBackAndReboot is what the drift checks are for: someone moves a
// parked link back by hand, then the host is power-cycled (its component
// starts at boot, and so does mysqld).
func putBackAndReboot(t *testing.T, agents, db *hostsim.Host) {
	t.Helper()
	link := "WorkloadManagement_JobAgent"
	if err := os.Rename(agents.Path("dirac", "startup-save", link), agents.Path("dirac", "startup", link)); err != nil {
		t.Fatal(err)
	}
	agents.Reboot(t)
	db.Reboot(t)
	if st := agents.SvState(t, link); st != "run" {
		t.Fatalf("JobAgent is %s after the reboot, want run", st)
	}
}

// eventWith reports whether an event about name has the reason, an action
// starting with action, and a note holding text.
func (h *harness) eventWith(name, reason, action, text string) bool {
	for _, e := range h.events(name) {
		if e.Reason == reason && strings.HasPrefix(e.Action, action) && strings.Contains(e.Note, text) {
			return true
		}
	}
	return false
}

// TestDriftCorrect: within a drift interval the link put back is parked and
// its component stopped again (manifest unchanged); mysqld, back at boot, is
// recorded and left running (keepStopped is false).
func TestDriftCorrect(t *testing.T) {
	t.Parallel()
	h, agents, db, manifest := driftTopology(t, diracv1.DriftPolicyCorrect, false)
	putBackAndReboot(t, agents, db)
	start := time.Now()

	h.waitFor("power-stop", waitLong, "a Drifted event naming the host and the component", func(*diracv1.VOBoxIntervention) bool {
		return h.eventWith("power-stop", diracv1.ReasonDrifted, "DriftCheck/agents", "Host agents") &&
			h.eventWith("power-stop", diracv1.ReasonDrifted, "DriftCheck/agents", "WorkloadManagement_JobAgent")
	})
	vbi := h.waitFor("power-stop", waitLong, "the link parked and stopped again, Ready", func(v *diracv1.VOBoxIntervention) bool {
		return isComplete(v) && len(agents.Links(t, "startup")) == 0 && agents.ComponentDown(t, "WorkloadManagement_JobAgent") &&
			len(countedDrift(hostStatusOf(v, "agents").Drift)) == 0
	})
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("corrected after %s, want within the 10s drift interval (and a pass)", took)
	}
	vbi = h.waitReady("power-stop", diracv1.StateDown, waitShort)
	if !h.eventWith("power-stop", diracv1.ReasonDrifted, diracv1.ReadyCondition, "Correcting drift") {
		t.Errorf("Ready never said Drifted while correcting")
	}
	got := map[string]string{}
	for _, m := range manifests(agents) {
		b, _ := os.ReadFile(agents.Path("dirac", "startup-save", m))
		got[m] = string(b)
	}
	if !maps.Equal(got, manifest) {
		t.Errorf("manifest changed by the correction:\n%v\nwant\n%v", got, manifest)
	}
	if !db.MysqldRunning() {
		t.Errorf("mysqld was stopped though keepStopped is false")
	}
	if d := hostStatusOf(vbi, "db").Drift; !slices.Equal(d, []string{"recorded: mysqld runs"}) {
		t.Errorf("db drift = %q, want mysqld recorded", d)
	}
	if h.eventWith("power-stop", diracv1.ReasonDrifted, "DriftCheck", "Host db") {
		t.Errorf("a Drifted event for db, whose mysqld is only recorded")
	}
	if n := testutil.ToFloat64(h.rec.Metrics.drift.WithLabelValues(h.ns, "power-stop", "agents")); n != 1 {
		t.Errorf("vobox_drift_total for agents = %v, want 1", n)
	}
	if hs := hostStatusOf(vbi, "agents"); !hs.Rebooted || hs.LastCheckedAt == nil {
		t.Errorf("agents: rebooted %v lastCheckedAt %v", hs.Rebooted, hs.LastCheckedAt)
	}
}

// TestDriftReport: Report changes nothing on the hosts; the intervention
// says Ready=False, Stalled=True, Drifted, naming host and component, and
// with keepStopped a running mysqld is drift too.
func TestDriftReport(t *testing.T) {
	t.Parallel()
	h, agents, db, _ := driftTopology(t, diracv1.DriftPolicyReport, true)
	putBackAndReboot(t, agents, db)
	vbi := h.waitCondition("power-stop", diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonDrifted, waitLong)
	F := string(metav1.ConditionFalse)
	wantConditions(t, vbi, map[string][2]string{
		diracv1.ReadyCondition:       {F, diracv1.ReasonDrifted},
		diracv1.ReconcilingCondition: {F, diracv1.ReasonDrifted},
	})
	time.Sleep(2 * time.Second)
	if got := agents.Links(t, "startup"); len(got) != 1 || agents.SvState(t, "WorkloadManagement_JobAgent") != "run" {
		t.Errorf("Report changed the host: startup %v, JobAgent %s", got, agents.SvState(t, "WorkloadManagement_JobAgent"))
	}
	if !db.MysqldRunning() {
		t.Errorf("Report stopped mysqld")
	}
	vbi = h.get("power-stop")
	if d := hostStatusOf(vbi, "db").Drift; !slices.Equal(d, []string{"mysqld runs"}) {
		t.Errorf("db drift = %q, want mysqld as drift (keepStopped)", d)
	}
	if !h.eventWith("power-stop", diracv1.ReasonDrifted, "DriftCheck/db", "Host db is no longer Down: mysqld runs") {
		t.Errorf("no Drifted event naming mysqld")
	}
}

// TestDriftAfterUp: a restored link taken out of startup after Up is
// reported (Stalled, Drifted), not corrected: the manifest that said where
// it belongs is gone; nothing is run on the host but the checks.
func TestDriftAfterUp(t *testing.T) {
	t.Parallel()
	svc := hostsim.NewHost(t, "svc", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"})
	h := newHarness(t, hostsim.NewCluster(svc))
	vbi := h.intervention("power-stop", diracv1.StateDown, hostSpec("svc", diracv1.RoleServices))
	vbi.Spec.Checks.DriftInterval = metav1.Duration{Duration: 10 * time.Second}
	h.create(vbi)
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	h.waitReady("power-stop", diracv1.StateUp, waitLong)
	link := "WorkloadManagement_JobMonitoring"
	if err := os.Rename(svc.Path("dirac", "startup", link), svc.Path("dirac", "startup-save", link)); err != nil {
		t.Fatal(err)
	}
	v := h.waitCondition("power-stop", diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonDrifted, waitLong)
	if d := hostStatusOf(v, "svc").Drift; !slices.Equal(d, []string{link + " is no longer in startup"}) {
		t.Errorf("drift = %q", d)
	}
	time.Sleep(2 * time.Second)
	if got := svc.Links(t, "startup"); len(got) != 0 {
		t.Errorf("the link was put back: %v", got)
	}
	// Put back by a person: Ready again at the next check.
	if err := os.Rename(svc.Path("dirac", "startup-save", link), svc.Path("dirac", "startup", link)); err != nil {
		t.Fatal(err)
	}
	h.waitReady("power-stop", diracv1.StateUp, waitLong)
}
