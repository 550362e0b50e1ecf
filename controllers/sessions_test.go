package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
)

// TestUpAtDefaultUptimeSessions: with spec.checks.componentUptime at its
// default (10s), longer than what a pass waits on a host (DefaultHostWaitPerPass),
// an Up costs a host a few SSH sessions per tier. It used to probe again at
// once each time the host's wait gave up on an uptime beyond its budget:
// 294–414 commands for an Up of the 11-host seed lab, against 61–69 with a
// 2s uptime.
func TestUpAtDefaultUptimeSessions(t *testing.T) {
	t.Parallel()
	host := hostsim.NewHost(t, "mixed", false,
		hostsim.Component{Link: "WorkloadManagement_JobMonitoring"},
		hostsim.Component{Link: "WorkloadManagement_JobAgent", Agent: true})
	sim := hostsim.NewCluster(host)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, hostSpec("mixed", diracv1.RoleServices, diracv1.RoleAgents))
	vbi.Spec.Checks.ComponentUptime = metav1.Duration{Duration: 10 * time.Second}
	vbi.Spec.Strategy.StepTimeout = metav1.Duration{Duration: time.Minute}
	h.create(vbi)
	h.waitReady("power-stop", diracv1.StateDown, waitLong)

	before := host.Commands.Load()
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	h.waitReady("power-stop", diracv1.StateUp, 2*waitLong)
	sessions := host.Commands.Load() - before
	t.Logf("Up at a 10s uptime: %d SSH sessions on the host (2 start tiers, maintenance)", sessions)
	// Per start tier: a probe, the restore with the probe that waits for the
	// links, a probe or two until the uptime is reached, the log scan; then
	// the manifest's removal and the maintenance clear.
	if sessions > 14 {
		t.Errorf("Up at a 10s uptime ran %d sessions on one host, want at most 14: the controller polls while the uptime runs", sessions)
	}
	for _, link := range []string{"WorkloadManagement_JobMonitoring", "WorkloadManagement_JobAgent"} {
		if st := host.SvState(t, link); st != "run" {
			t.Errorf("%s is %s, want run", link, st)
		}
	}
}

// TestDownSessions counts the SSH sessions of a Down of the small topology
// per host-tier (a host's part in a tier, maintenance included): the
// preflight's probe of a host is its first tier's first look, not a probe
// of its own, and the InnoDB journal moves in the session of the database's
// stop. The Up that follows is logged.
func TestDownSessions(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	h.create(h.intervention("power-stop", diracv1.StateDown, hosts...))
	vbi := h.waitReady("power-stop", diracv1.StateDown, waitLong)
	hostTiers := 0
	for _, ts := range vbi.Status.Tiers {
		hostTiers += len(ts.Hosts)
	}
	sessions := sim.Commands()
	t.Logf("Down of %d hosts: %d SSH sessions for %d host-tiers (%.2f per host-tier)", len(hosts), sessions, hostTiers, float64(sessions)/float64(hostTiers))
	// 31 sessions (2.58 per host-tier) when the preflight probed on its own
	// and the journal moved in a session after the database's stop; 24
	// (2.00) when the links were parked in a session after their stop and
	// each tier probed a host first. Now: the preflight (5), maintenance
	// (5), and one session per component host-tier (7).
	if limit := int64(hostTiers) * 150 / 100; sessions > limit {
		t.Errorf("Down ran %d SSH sessions for %d host-tiers, want at most %d", sessions, hostTiers, limit)
	}

	// The Up: its start tiers wait for componentUptime.
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	vbi = h.waitReady("power-stop", diracv1.StateUp, waitLong)
	upTiers := 0
	for _, ts := range vbi.Status.Tiers {
		upTiers += len(ts.Hosts)
	}
	up := sim.Commands() - sessions
	t.Logf("Up of %d hosts: %d SSH sessions for %d host-tiers (%.2f per host-tier)", len(hosts), up, upTiers, float64(up)/float64(upTiers))
	// 29 (2.42) when the logs were scanned and the manifest removed in
	// sessions of their own: now the scan rides in the session that waits
	// for the uptime, and the removal in the maintenance clear's.
	if limit := int64(upTiers) * 170 / 100; up > limit {
		t.Errorf("Up ran %d SSH sessions for %d host-tiers, want at most %d", up, upTiers, limit)
	}
}
