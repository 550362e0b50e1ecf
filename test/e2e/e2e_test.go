package e2e

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// TestPowerStop is the procedure document end to end: the seed lab (11
// VOBoxes with real sshd, runit and MariaDB), the operator as its own
// process, Down, a reboot of every host, Up — checked from the hosts' real
// state and event logs, not from the operator's word.
func TestPowerStop(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "127.31", "--topology", "seed")
	e.startOperator()

	const excluded = "volhcb20"
	before := e.status()
	agents, _ := before.Host(excluded)
	excludedLink := slices.Sorted(maps.Keys(agents.Startup))[0]
	original := map[string]map[string]string{}
	for _, h := range before.Hosts {
		original[h.Name] = maps.Clone(h.Startup)
	}

	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		v.Spec.Checks.SettleDelay = metav1.Duration{Duration: 2 * time.Second}
		v.Spec.Checks.ComponentUptime = metav1.Duration{Duration: 2 * time.Second}
		v.Spec.Strategy.StepTimeout = metav1.Duration{Duration: 2 * time.Minute}
		v.Spec.Strategy.StopTimeout = metav1.Duration{Duration: 30 * time.Second}
		for i := range v.Spec.Hosts {
			if v.Spec.Hosts[i].Name == excluded {
				v.Spec.Hosts[i].Exclude = []string{excludedLink}
			}
		}
	})
	if err := e.k8s.Create(ctx, vbi); err != nil {
		t.Fatal(err)
	}

	// Down.
	got := e.waitReady(ctx, vbi.Name, 4*time.Minute)
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
	for _, h := range down.Hosts {
		for _, c := range h.Components {
			if c.State == labstatus.StateRun || c.State == labstatus.StateFinish {
				t.Errorf("after Down, %s/%s is %s", h.Name, c.Name, c.State)
			}
		}
		if len(h.Startup) != 0 {
			t.Errorf("after Down, %s still has startup links %v", h.Name, h.Startup)
		}
		for link, target := range original[h.Name] {
			if h.StartupSave[link] != target {
				t.Errorf("after Down, %s: startup-save/%s = %q, want %q", h.Name, link, h.StartupSave[link], target)
			}
		}
		if h.MySQLD.Present && h.MySQLD.Running {
			t.Errorf("after Down, mysqld still runs on %s", h.Name)
		}
		wantMoved := slices.Contains([]string{"volhcb21", "volhcb22", "volhcb23", "volhcb24"}, h.Name)
		if wantMoved && (!h.InnodbLog.IsLink || h.InnodbLog.Target != "/home/dirac/mysql-log") {
			t.Errorf("after Down, %s: InnoDB journal not moved: %+v", h.Name, h.InnodbLog)
		}
		if !wantMoved && h.InnodbLog.IsLink {
			t.Errorf("after Down, %s: InnoDB journal moved but not configured", h.Name)
		}
		if h.Maintenance != labstatus.MaintenanceSet {
			t.Errorf("after Down, %s maintenance = %s, want set", h.Name, h.Maintenance)
		}
	}

	// The power stop.
	upStart := time.Now() // databases come back on their own during the reboot
	e.labCmd("reboot", "--all")

	// Up.
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.State = diracv1.StateUp
	if err := e.k8s.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	got = e.waitReady(ctx, vbi.Name, 4*time.Minute)
	if got.Status.Phase != diracv1.PhaseUp {
		t.Errorf("phase after Up = %s, want Up", got.Status.Phase)
	}
	up := e.status()
	for _, h := range up.Hosts {
		want := maps.Clone(original[h.Name])
		if h.Name == excluded {
			delete(want, excludedLink)
			if h.StartupSave[excludedLink] != original[h.Name][excludedLink] {
				t.Errorf("excluded %s/%s is not parked in startup-save", h.Name, excludedLink)
			}
		}
		if !maps.Equal(h.Startup, want) {
			t.Errorf("after Up, %s startup = %v, want %v", h.Name, h.Startup, want)
		}
		if h.Maintenance != labstatus.MaintenanceClear {
			t.Errorf("after Up, %s maintenance = %s, want clear", h.Name, h.Maintenance)
		}
	}
	for _, ts := range got.Status.Tiers {
		t.Logf("Up tier %-18s %-9s %d/%d hosts in %s", ts.Name, ts.State, ts.Done, len(ts.Hosts), ts.FinishedAt.Sub(ts.StartedAt.Time))
	}
	checkOrder(t, e.events, e.ledger(), upStart, excluded, excludedLink)
}

// checkOrder proves from the hosts' event logs that, after the reboot,
// databases ran before framework services, framework services started
// before the other services, services before agents, the excluded agent
// never started, and maintenance was cleared last.
func checkOrder(t *testing.T, events func(host string) []labstatus.Event, ledger []labstatus.LedgerEntry, since time.Time, excludedHost, excludedLink string) {
	t.Helper()
	firstLast := func(hosts []string, kind string) (first, last time.Time) {
		for _, name := range hosts {
			for _, ev := range events(name) {
				if ev.Kind != kind || ev.Time.Before(since) {
					continue
				}
				if name == excludedHost && ev.Subject == excludedLink {
					t.Errorf("excluded component %s/%s started at %s", name, excludedLink, ev.Time)
				}
				if first.IsZero() || ev.Time.Before(first) {
					first = ev.Time
				}
				if ev.Time.After(last) {
					last = ev.Time
				}
			}
		}
		return first, last
	}
	dbFirst, dbLast := firstLast([]string{"volhcb21", "volhcb22", "volhcb23", "volhcb24", "volhcb25", "volhcb26"}, labstatus.EventMySQLDStart)
	fwFirst, fwLast := firstLast([]string{"volhcb18"}, labstatus.EventComponentStart)
	svcFirst, svcLast := firstLast([]string{"volhcb15", "volhcb17", "volhcb19"}, labstatus.EventComponentStart)
	agFirst, agLast := firstLast([]string{"volhcb20"}, labstatus.EventComponentStart)
	for _, x := range []struct {
		name        string
		first, last time.Time
	}{{"databases", dbFirst, dbLast}, {"framework", fwFirst, fwLast}, {"services", svcFirst, svcLast}, {"agents", agFirst, agLast}} {
		if x.first.IsZero() {
			t.Errorf("no start event for the %s after the reboot", x.name)
		}
	}
	if !dbLast.Before(fwFirst) {
		t.Errorf("a database started at %s, not before the framework at %s", dbLast, fwFirst)
	}
	if !fwLast.Before(svcFirst) {
		t.Errorf("a framework service started at %s, not before the other services at %s", fwLast, svcFirst)
	}
	if !svcLast.Before(agFirst) {
		t.Errorf("a service started at %s, not before the agents at %s", svcLast, agFirst)
	}
	var clears []time.Time
	for _, l := range ledger {
		if l.Action() == "clear" && l.Time.After(since) {
			clears = append(clears, l.Time)
		}
	}
	if len(clears) != 11 {
		t.Errorf("maintenance cleared %d times after the reboot, want 11", len(clears))
	}
	for _, c := range clears {
		if !c.After(agLast) {
			t.Errorf("maintenance cleared at %s, before the last agent started at %s", c, agLast)
		}
	}
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
