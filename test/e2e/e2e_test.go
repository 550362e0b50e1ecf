package e2e

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// TestPowerStop is the procedure document end to end: the seed lab (11
// VOBoxes with real sshd, runit and MariaDB), the operator as its own
// process, Down, a reboot of every host, Up — checked from the hosts' real
// state and event logs, not from the operator's word.
func TestPowerStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.42", "--topology", "seed")
	e.useSharedOperator()

	const excluded = "volhcb20"
	before := e.status()
	agents, _ := before.Host(excluded)
	excludedLink := slices.Sorted(maps.Keys(agents.Startup))[0]
	original := startupLinks(before)
	tracked := trackedLinks(before)

	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		for i := range v.Spec.Hosts {
			if v.Spec.Hosts[i].Name == excluded {
				v.Spec.Hosts[i].Exclude = []string{excludedLink}
			}
		}
	})
	downStart := time.Now()
	e.create(vbi)

	// Down.
	got := e.waitReady(vbi.Name, 4*time.Minute)
	if got.Status.Phase != diracv1.PhaseDown {
		t.Errorf("phase after Down = %s, want Down", got.Status.Phase)
	}
	for _, c := range []string{diracv1.MaintenanceSetCondition, diracv1.AgentsStoppedCondition, diracv1.ServicesStoppedCondition, diracv1.DatabasesStoppedCondition} {
		if s := condition(got, c); s == nil || !strings.HasPrefix(*s, "True/") {
			t.Errorf("condition %s = %v, want True", c, s)
		}
	}
	for _, ts := range got.Status.Tiers {
		t.Logf("Down tier %-18s %-9s %d/%d hosts in %s", ts.Name, ts.State, ts.Done, len(ts.Hosts), ts.FinishedAt.Sub(ts.StartedAt.Time))
	}
	down := e.status()
	var all []string
	for _, h := range e.lab.Hosts {
		all = append(all, h.Name)
	}
	report(t, "Down state", checkDown(e.lab, down, original, all, vbi.Spec.Database.InnodbLog.Hosts))
	report(t, "Down order", checkDownOrder(e.lab, e.events, e.ledger(), downStart))
	if v, _ := linksOnce(tracked, down); len(v) > 0 {
		report(t, "links after Down", v)
	}

	// The power stop.
	upStart := time.Now() // databases come back on their own during the reboot
	e.labCmd("reboot", "--all")

	// Up.
	e.setState(vbi.Name, diracv1.StateUp)
	got = e.waitReady(vbi.Name, 4*time.Minute)
	if got.Status.Phase != diracv1.PhaseUp {
		t.Errorf("phase after Up = %s, want Up", got.Status.Phase)
	}
	for _, ts := range got.Status.Tiers {
		t.Logf("Up tier %-18s %-9s %d/%d hosts in %s", ts.Name, ts.State, ts.Done, len(ts.Hosts), ts.FinishedAt.Sub(ts.StartedAt.Time))
	}
	up := e.status()
	excl := map[string][]string{excluded: {excludedLink}}
	report(t, "Up state", checkUp(up, original, excl))
	report(t, "Up order", checkUpOrder(e.lab, e.events, e.ledger(), upStart, excl, vbi.Spec.Checks.ComponentUptime.Duration))
	if v, _ := linksOnce(tracked, up); len(v) > 0 {
		report(t, "links after Up", v)
	}
}

// report fails the test with every violation found.
func report(t *testing.T, what string, violations []string) {
	t.Helper()
	for _, v := range violations {
		t.Errorf("%s: %s", what, v)
	}
}
