package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// withReboot makes an intervention a cycle that reboots its hosts with the
// lab's own sudo /sbin/reboot.
func withReboot(token string, timeout time.Duration) func(*diracv1.VOBoxIntervention) {
	return func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Spec.State = diracv1.StateUp
		v.Spec.Cycle = token
		v.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: timeout}}
	}
}

// rebootsSince is each host's reboot events (the host going down for a
// reboot: its own sudo /sbin/reboot or lab reboot) at or after t.
func (e *env) rebootsSince(t time.Time) map[string][]time.Time {
	out := map[string][]time.Time{}
	for _, h := range e.lab.Hosts {
		for _, ev := range eventsSince(e.events(h.Name), labstatus.EventReboot, t) {
			out[h.Name] = append(out[h.Name], ev.Time)
		}
	}
	return out
}

// TestCycleWithReboot is a kernel-patch round on the seed lab in one
// object: a cycle with spec.reboot goes Down, has every host reboot itself
// (sudo /sbin/reboot) exactly once, and comes back Up. Checked from the
// hosts: new boot ids everywhere, the Down order before the first reboot,
// the Up order after it (maintenance cleared last), link sets exact.
func TestCycleWithReboot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.80", "--topology", "seed")
	e.useSharedOperator()

	before := e.status()
	original := startupLinks(before)
	tracked := trackedLinks(before)
	boots := map[string]string{}
	for _, h := range before.Hosts {
		boots[h.Name] = h.BootID
	}
	vbi := e.labIntervention(withReboot("kernel-1", 5*time.Minute))
	start := time.Now()
	e.create(vbi)
	got := e.waitFor(vbi.Name, 8*time.Minute, func(v *diracv1.VOBoxIntervention) bool {
		return v.Status.ObservedCycle == "kernel-1"
	})
	if s := condition(got, diracv1.ReadyCondition); s == nil || *s != "True/Succeeded" {
		t.Errorf("Ready = %v after the cycle", s)
	}
	want := []string{diracv1.MaintenanceSetCondition, diracv1.AgentsStoppedCondition, diracv1.ServicesStoppedCondition, diracv1.DatabasesStoppedCondition,
		diracv1.RebootedCondition, diracv1.DatabasesStartedCondition, diracv1.FrameworkStartedCondition, diracv1.ServicesStartedCondition,
		diracv1.AgentsStartedCondition, diracv1.MaintenanceClearedCondition}
	var tiers []string
	for _, ts := range got.Status.Tiers {
		tiers = append(tiers, ts.Name)
		t.Logf("Cycle tier %-18s %-9s %d/%d hosts in %s", ts.Name, ts.State, ts.Done, len(ts.Hosts), ts.FinishedAt.Sub(ts.StartedAt.Time))
	}
	if !slices.Equal(tiers, want) {
		t.Errorf("status.tiers = %v, want %v", tiers, want)
	}

	after := e.status()
	reboots := e.rebootsSince(start)
	var firstReboot time.Time
	for _, h := range after.Hosts {
		hs := hostStatus(got, h.Name)
		if h.BootID == "" || h.BootID == boots[h.Name] {
			t.Errorf("host %s: boot id %q, was %q: not rebooted", h.Name, h.BootID, boots[h.Name])
		}
		if n := len(reboots[h.Name]); n != 1 {
			t.Errorf("host %s rebooted %d times", h.Name, n)
		}
		if hs.RebootedAt == nil || hs.BootID != boots[h.Name] || hs.Phase != diracv1.HostUp {
			t.Errorf("host %s: status bootID %q (was %q), rebootedAt %v, phase %s", h.Name, hs.BootID, boots[h.Name], hs.RebootedAt, hs.Phase)
		}
		for _, at := range reboots[h.Name] {
			if firstReboot.IsZero() || at.Before(firstReboot) {
				firstReboot = at
			}
		}
	}
	if firstReboot.IsZero() {
		t.Fatal("no host rebooted")
	}
	beforeReboot := func(host string) []labstatus.Event {
		return slices.DeleteFunc(e.events(host), func(ev labstatus.Event) bool { return !ev.Time.Before(firstReboot) })
	}
	report(t, "Down order", checkDownOrder(e.lab, beforeReboot, e.ledger(), start))
	report(t, "Up order", checkUpOrder(e.lab, e.events, e.ledger(), firstReboot, nil, vbi.Spec.Checks.ComponentUptime.Duration))
	report(t, "Up state", checkUp(after, original, nil))
	if v, _ := linksOnce(tracked, after); len(v) > 0 {
		report(t, "links after the cycle", v)
	}
	// Nothing stopped after the first reboot, nothing started before it.
	for _, h := range e.lab.Hosts {
		for _, ev := range e.events(h.Name) {
			switch {
			case ev.Time.Before(start):
			case ev.Kind == labstatus.EventComponentStart && ev.Time.Before(firstReboot):
				t.Errorf("%s: %s started at %s, before the first reboot", h.Name, ev.Subject, ev.Time.Format(labstatus.TimeFormat))
			case ev.Kind == labstatus.EventMySQLServer && ev.Subject == "stop" && !ev.Time.Before(firstReboot):
				t.Errorf("%s: mysql.server stop at %s, after the first reboot", h.Name, ev.Time.Format(labstatus.TimeFormat))
			}
		}
	}
}

// TestRollingCycle: a rolling cycle with maxUnavailable 1 on a scaled lab.
// From the event logs, each host is out of service (from its first stop to
// its last start) while no other host of any of its roles is, the groups
// go Agents, Services, Framework, Database, each host reboots exactly
// once, maintenance is set and cleared per host around its own cycle, and
// the lab ends Up with its links exact.
func TestRollingCycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.81", "--hosts", "7")
	e.useSharedOperator()
	before := e.status()
	original := startupLinks(before)
	vbi := e.labIntervention(withReboot("kernel-1", 5*time.Minute))
	vbi.Spec.Strategy.Rolling = &diracv1.RollingSpec{MaxUnavailable: 1}
	start := time.Now()
	e.create(vbi)
	got := e.waitFor(vbi.Name, 10*time.Minute, func(v *diracv1.VOBoxIntervention) bool {
		return v.Status.ObservedCycle == "kernel-1"
	})
	if s := condition(got, diracv1.ReadyCondition); s == nil || *s != "True/Succeeded" {
		t.Errorf("Ready = %v after the rolling cycle", s)
	}
	after := e.status()
	report(t, "Up state", checkUp(after, original, nil))

	type out struct {
		host     string
		roles    []string
		from, to time.Time
	}
	var spans []out
	reboots := e.rebootsSince(start)
	for _, h := range e.lab.Hosts {
		var s span
		for _, ev := range e.events(h.Name) {
			if ev.Time.Before(start) {
				continue
			}
			switch {
			case ev.Kind == labstatus.EventRunsvctrl || ev.Kind == labstatus.EventSV, ev.Kind == labstatus.EventMySQLServer,
				ev.Kind == labstatus.EventReboot, ev.Kind == labstatus.EventComponentStart, ev.Kind == labstatus.EventMySQLDStart:
				s.add(ev.Time)
			}
		}
		if s.first.IsZero() || len(reboots[h.Name]) != 1 {
			t.Errorf("host %s: out of service %v–%v, %d reboot(s)", h.Name, s.first, s.last, len(reboots[h.Name]))
			continue
		}
		spans = append(spans, out{host: h.Name, roles: h.Roles, from: s.first, to: s.last})
	}
	slices.SortFunc(spans, func(a, b out) int { return a.from.Compare(b.from) })
	shared := 0
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if !slices.ContainsFunc(a.roles, func(r string) bool { return slices.Contains(b.roles, r) }) {
				continue
			}
			shared++
			if b.from.Before(a.to) {
				t.Errorf("hosts %s (%s–%s) and %s (%s–%s) of one role were out of service at once", a.host,
					a.from.Format(labstatus.TimeFormat), a.to.Format(labstatus.TimeFormat), b.host, b.from.Format(labstatus.TimeFormat), b.to.Format(labstatus.TimeFormat))
			}
		}
	}
	if shared == 0 {
		t.Errorf("no two hosts share a role: the lab does not test maxUnavailable")
	}
	rank := map[string]int{labstatus.RoleAgents: 0, labstatus.RoleServices: 1, labstatus.RoleFramework: 2, labstatus.RoleDatabase: 3}
	var order []string
	for i, sp := range spans {
		order = append(order, fmt.Sprintf("%s(%s)", sp.host, sp.roles[0]))
		if i > 0 && rank[sp.roles[0]] < rank[spans[i-1].roles[0]] {
			t.Errorf("%s (%s) went after %s (%s)", sp.host, sp.roles[0], spans[i-1].host, spans[i-1].roles[0])
		}
	}
	t.Logf("Rolling order: %v", order)
	// Maintenance per host, around its own cycle.
	names := map[string]bool{}
	for _, h := range e.lab.Hosts {
		names[h.Name] = true
	}
	for _, sp := range spans {
		var set, clear time.Time
		for _, l := range e.ledger() {
			if !l.IsMaintenance() || l.Time.Before(start) || !slices.Contains(l.Targets(names), sp.host) {
				continue
			}
			switch l.Action() {
			case "set":
				set = l.Time
			case "clear":
				clear = l.Time
			}
		}
		if set.IsZero() || clear.IsZero() || !set.Before(sp.from) || clear.Before(sp.to) {
			t.Errorf("host %s: maintenance set %s, cleared %s, around %s–%s", sp.host, set.Format(labstatus.TimeFormat),
				clear.Format(labstatus.TimeFormat), sp.from.Format(labstatus.TimeFormat), sp.to.Format(labstatus.TimeFormat))
		}
	}
}

// TestRebootTimeout: a host whose reboot command does nothing never
// answers with a new boot id: after spec.reboot.timeout it fails with
// RebootTimeout, nothing further runs on it (its links stay parked, its
// maintenance set), and the intervention stalls with that reason.
func TestRebootTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.82", "--hosts", "4")
	e.useSharedOperator()
	vbi := e.labIntervention(withReboot("kernel-1", time.Minute))
	onlyHosts(vbi, e.lab.Hosts[len(e.lab.Hosts)-1].Name) // an Agents host
	host := vbi.Spec.Hosts[0].Name
	vbi.Spec.Reboot.Command = []string{"true"}
	e.create(vbi)
	got := e.waitFor(vbi.Name, 4*time.Minute, func(v *diracv1.VOBoxIntervention) bool {
		hs := hostStatus(v, host)
		return hs.Phase == diracv1.HostFailed && hs.Reason == diracv1.ReasonRebootTimeout
	})
	e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonRebootTimeout, 30*time.Second)
	if hs := hostStatus(got, host); hs.RebootedAt != nil {
		t.Errorf("rebootedAt %v on a host that never rebooted", hs.RebootedAt)
	}
	evs := len(e.events(host))
	time.Sleep(5 * time.Second)
	if n := len(e.events(host)); n != evs {
		t.Errorf("%d event(s) on %s after RebootTimeout: %v", n-evs, host, e.events(host)[evs:])
	}
	st := e.status()
	h, _ := st.Host(host)
	if len(h.Startup) != 0 || h.Maintenance != labstatus.MaintenanceSet {
		t.Errorf("after RebootTimeout, %s: startup %v, maintenance %s; want parked and set", host, h.Startup, h.Maintenance)
	}
}

// TestRebootHostKeyChanged: a host that comes back from its reboot with
// another host key (lab rekey, then lab reboot, while the operator waits)
// fails with HostKeyMismatch and nothing runs on it after the new key: no
// command gets past the handshake.
func TestRebootHostKeyChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.84", "--hosts", "4")
	e.useSharedOperator()
	vbi := e.labIntervention(withReboot("kernel-1", 5*time.Minute))
	host := e.lab.Hosts[len(e.lab.Hosts)-1].Name // an Agents host
	onlyHosts(vbi, host)
	vbi.Spec.Reboot.Command = []string{"true"} // the test reboots it
	e.create(vbi)
	e.waitFor(vbi.Name, 2*time.Minute, func(v *diracv1.VOBoxIntervention) bool {
		return hostStatus(v, host).Phase == diracv1.HostRebooting
	})
	rekeyed := time.Now()
	e.labCmd("rekey", host)
	e.labCmd("reboot", host)
	got := e.waitFor(vbi.Name, time.Minute, func(v *diracv1.VOBoxIntervention) bool {
		hs := hostStatus(v, host)
		return hs.Phase == diracv1.HostFailed && hs.Reason == diracv1.ReasonHostKeyMismatch
	})
	e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonHostKeyMismatch, 30*time.Second)
	if hs := hostStatus(got, host); hs.RebootedAt != nil {
		t.Errorf("rebootedAt %v recorded from a host with another key", hs.RebootedAt)
	}
	time.Sleep(3 * time.Second)
	for _, ev := range e.events(host) {
		switch ev.Kind {
		case labstatus.EventRunsvctrl, labstatus.EventSV, labstatus.EventSMS, labstatus.EventComponentStart, labstatus.EventMySQLServer, labstatus.EventSudo:
			if !ev.Time.Before(rekeyed) {
				t.Errorf("%s %s %s on %s after its key changed", ev.Time.Format(labstatus.TimeFormat), ev.Kind, ev.Subject, host)
			}
		}
	}
	h, _ := e.status().Host(host)
	if len(h.Startup) != 0 || h.Maintenance != labstatus.MaintenanceSet {
		t.Errorf("after HostKeyMismatch, %s: startup %v, maintenance %s; want parked and set", host, h.Startup, h.Maintenance)
	}
}
