package controllers

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
)

// TestBootTracking: the boot id is recorded when a host's Down completes;
// with requireReboot, Up waits (WaitingForReboot, naming the hosts, nothing
// started) until every host booted again, then goes on.
func TestBootTracking(t *testing.T) {
	t.Parallel()
	svc := hostsim.NewHost(t, "svc", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"})
	db := hostsim.NewHost(t, "db", true)
	sim := hostsim.NewCluster(svc, db)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, hostSpec("svc", diracv1.RoleServices), hostSpec("db", diracv1.RoleDatabase))
	vbi.Spec.Checks.RequireReboot = true
	h.create(vbi)
	vbi = h.waitReady("power-stop", diracv1.StateDown, waitLong)
	for _, host := range []*hostsim.Host{svc, db} {
		name := "svc"
		if host == db {
			name = "db"
		}
		if hs := hostStatusOf(vbi, name); hs.BootID != host.BootID(t) || hs.Rebooted {
			t.Errorf("host %s: bootID %q rebooted %v, want %q and false", name, hs.BootID, hs.Rebooted, host.BootID(t))
		}
	}

	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	waiting := h.waitCondition("power-stop", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonWaitingForReboot, waitShort)
	if c := meta.FindStatusCondition(waiting.Status.Conditions, diracv1.ReadyCondition); !strings.Contains(c.Message, "svc, db") && !strings.Contains(c.Message, "db, svc") {
		t.Errorf("Ready message %q does not name both hosts", c.Message)
	}
	wantConditions(t, waiting, map[string][2]string{
		diracv1.ReconcilingCondition: {string(metav1.ConditionTrue), diracv1.ReasonWaitingForReboot},
		diracv1.StalledCondition:     {string(metav1.ConditionFalse), diracv1.ReasonProgressing},
	})

	svc.Reboot(t)
	h.waitFor("power-stop", waitLong, "only db left to reboot", func(v *diracv1.VOBoxIntervention) bool {
		c := meta.FindStatusCondition(v.Status.Conditions, diracv1.ReadyCondition)
		return hostStatusOf(v, "svc").Rebooted && c.Reason == diracv1.ReasonWaitingForReboot && !strings.Contains(c.Message, "svc")
	})
	if got := svc.Links(t, "startup"); len(got) != 0 {
		t.Errorf("svc: links restored before every host rebooted: %v", got)
	}
	for _, e := range sim.Events(t) {
		if e.Kind == "mysql.server-start" || e.Kind == "component-start" {
			t.Errorf("%s before every host rebooted", e)
		}
	}

	db.Reboot(t)
	up := h.waitReady("power-stop", diracv1.StateUp, waitLong)
	for _, name := range []string{"svc", "db"} {
		if hs := hostStatusOf(up, name); !hs.Rebooted || hs.BootID == "" {
			t.Errorf("host %s: rebooted %v bootID %q after Up", name, hs.Rebooted, hs.BootID)
		}
	}
	if got := svc.SvState(t, "WorkloadManagement_JobMonitoring"); got != "run" {
		t.Errorf("svc's JobMonitoring is %s after Up", got)
	}
}
