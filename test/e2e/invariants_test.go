package e2e

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// The invariants of the procedure, read from the hosts' real state (lab
// status), their event logs and the maintenance ledger, never from the
// operator's own word. Each returns the violations it found, so that a test
// can report them all and the chaos test can count them.

// linkSet is every startup link a host had, name → target.
type linkSet map[string]map[string]string

// trackedLinks is what must survive an intervention: the symlinks of
// startup and startup-save on every host.
func trackedLinks(st *labstatus.Status) linkSet {
	out := linkSet{}
	for _, h := range st.Hosts {
		m := maps.Clone(h.Startup)
		if m == nil {
			m = map[string]string{}
		}
		maps.Copy(m, h.StartupSave)
		out[h.Name] = m
	}
	return out
}

// linksOnce checks that every tracked link exists exactly once, in startup
// or in startup-save, with its original target: nothing lost, nothing
// duplicated, nothing retargeted.
func linksOnce(tracked linkSet, st *labstatus.Status) (violations []string, lost int) {
	for _, host := range slices.Sorted(maps.Keys(tracked)) {
		h, ok := st.Host(host)
		if !ok {
			violations = append(violations, fmt.Sprintf("host %s missing from lab status", host))
			continue
		}
		for _, link := range slices.Sorted(maps.Keys(tracked[host])) {
			want := tracked[host][link]
			inStartup, okS := h.Startup[link]
			inSave, okV := h.StartupSave[link]
			switch {
			case okS && okV:
				violations = append(violations, fmt.Sprintf("%s: %s is in both startup (%s) and startup-save (%s)", host, link, inStartup, inSave))
			case !okS && !okV:
				lost++
				violations = append(violations, fmt.Sprintf("%s: %s is LOST: in neither startup nor startup-save", host, link))
			case okS && inStartup != want:
				violations = append(violations, fmt.Sprintf("%s: startup/%s points to %s, want %s", host, link, inStartup, want))
			case okV && inSave != want:
				violations = append(violations, fmt.Sprintf("%s: startup-save/%s points to %s, want %s", host, link, inSave, want))
			}
		}
	}
	return violations, lost
}

// checkDown checks the Down state of the listed hosts: no component runs,
// startup is empty and every original link is parked, mysqld is stopped,
// the journal moved where configured, and maintenance is set.
func checkDown(lab *labstatus.Lab, st *labstatus.Status, original linkSet, hosts []string, journal []string) []string {
	var v []string
	for _, name := range hosts {
		h, ok := st.Host(name)
		if !ok {
			v = append(v, "no host "+name)
			continue
		}
		for _, c := range h.Components {
			if c.State == labstatus.StateRun || c.State == labstatus.StateFinish {
				v = append(v, fmt.Sprintf("after Down, %s/%s is %s", name, c.Name, c.State))
			}
		}
		if len(h.Startup) != 0 {
			v = append(v, fmt.Sprintf("after Down, %s still has startup links %v", name, h.Startup))
		}
		for link, target := range original[name] {
			if h.StartupSave[link] != target {
				v = append(v, fmt.Sprintf("after Down, %s: startup-save/%s = %q, want %q", name, link, h.StartupSave[link], target))
			}
		}
		if h.MySQLD.Present && h.MySQLD.Running {
			v = append(v, "after Down, mysqld still runs on "+name)
		}
		moved := slices.Contains(journal, name)
		if moved && (!h.InnodbLog.IsLink || h.InnodbLog.Target != "/home/dirac/mysql-log") {
			v = append(v, fmt.Sprintf("after Down, %s: InnoDB journal not moved: %+v", name, h.InnodbLog))
		}
		if !moved && h.InnodbLog.IsLink {
			v = append(v, fmt.Sprintf("after Down, %s: InnoDB journal moved but not configured", name))
		}
		if h.Maintenance != labstatus.MaintenanceSet {
			v = append(v, fmt.Sprintf("after Down, %s maintenance = %s, want set", name, h.Maintenance))
		}
	}
	return v
}

// checkUp checks the Up state: startup is exactly the original minus the
// excluded links, which stay parked; components run; mysqld runs; maintenance
// is clear.
func checkUp(st *labstatus.Status, original linkSet, excluded map[string][]string) []string {
	var v []string
	for _, h := range st.Hosts {
		want := maps.Clone(original[h.Name])
		for _, x := range excluded[h.Name] {
			delete(want, x)
			if h.StartupSave[x] != original[h.Name][x] {
				v = append(v, fmt.Sprintf("after Up, excluded %s/%s is not parked in startup-save", h.Name, x))
			}
		}
		if !maps.Equal(h.Startup, want) && !(len(h.Startup) == 0 && len(want) == 0) {
			v = append(v, fmt.Sprintf("after Up, %s startup = %v, want %v", h.Name, h.Startup, want))
		}
		for _, c := range h.Components {
			if _, restored := want[c.Name]; restored && c.State != labstatus.StateRun {
				v = append(v, fmt.Sprintf("after Up, %s/%s is %s", h.Name, c.Name, c.State))
			}
		}
		if h.MySQLD.Present && !h.MySQLD.Running {
			v = append(v, "after Up, mysqld does not run on "+h.Name)
		}
		if h.Maintenance != labstatus.MaintenanceClear {
			v = append(v, fmt.Sprintf("after Up, %s maintenance = %s, want clear", h.Name, h.Maintenance))
		}
	}
	return v
}

// tierHosts splits a lab's hosts by the Up tier they start in.
func tierHosts(lab *labstatus.Lab) (db, framework, services, agents []string) {
	for _, h := range lab.Hosts {
		switch {
		case h.HasRole(labstatus.RoleDatabase):
			db = append(db, h.Name)
		case h.HasRole(labstatus.RoleFramework):
			framework = append(framework, h.Name)
		case h.HasRole(labstatus.RoleServices):
			services = append(services, h.Name)
		case h.HasRole(labstatus.RoleAgents):
			agents = append(agents, h.Name)
		}
	}
	return
}

type span struct{ first, last time.Time }

func (s *span) add(t time.Time) {
	if s.first.IsZero() || t.Before(s.first) {
		s.first = t
	}
	if t.After(s.last) {
		s.last = t
	}
}

// checkUpOrder proves from the event logs that, since `since`, databases ran
// before any framework service started, framework services before the other
// services, services before the agents, that excluded components never
// started, and that maintenance was cleared on every host only after the
// last component had been up for componentUptime (its check passed).
func checkUpOrder(lab *labstatus.Lab, events func(string) []labstatus.Event, ledger []labstatus.LedgerEntry, since time.Time, excluded map[string][]string, uptime time.Duration) []string {
	var v []string
	db, fw, svc, ag := tierHosts(lab)
	starts := func(hosts []string, kind string) span {
		var s span
		for _, name := range hosts {
			for _, ev := range events(name) {
				if ev.Kind != kind || ev.Time.Before(since) {
					continue
				}
				if slices.Contains(excluded[name], ev.Subject) {
					v = append(v, fmt.Sprintf("excluded component %s/%s started at %s", name, ev.Subject, ev.Time.Format(labstatus.TimeFormat)))
				}
				s.add(ev.Time)
			}
		}
		return s
	}
	tiers := []struct {
		name string
		s    span
	}{
		{"databases", starts(db, labstatus.EventMySQLDStart)},
		{"framework", starts(fw, labstatus.EventComponentStart)},
		{"services", starts(svc, labstatus.EventComponentStart)},
		{"agents", starts(ag, labstatus.EventComponentStart)},
	}
	for i, x := range tiers {
		if x.s.first.IsZero() {
			v = append(v, fmt.Sprintf("no start event for the %s since %s", x.name, since.Format(labstatus.TimeFormat)))
			continue
		}
		if i > 0 && !tiers[i-1].s.last.IsZero() && !tiers[i-1].s.last.Before(x.s.first) {
			v = append(v, fmt.Sprintf("a %s start at %s is not before the first %s start at %s",
				tiers[i-1].name, tiers[i-1].s.last.Format(labstatus.TimeFormat), x.name, x.s.first.Format(labstatus.TimeFormat)))
		}
	}
	lastStart := tiers[len(tiers)-1].s.last
	cleared := map[string]bool{}
	names := map[string]bool{}
	for _, h := range lab.Hosts {
		names[h.Name] = true
	}
	for _, l := range ledger {
		if !l.IsMaintenance() || l.Action() != "clear" || l.Time.Before(since) {
			continue
		}
		for _, h := range l.Targets(names) {
			cleared[h] = true
		}
		// runit counts whole seconds from its own start time, a moment
		// before the component logs its start: allow that moment.
		if l.Time.Before(lastStart.Add(uptime - time.Second)) {
			v = append(v, fmt.Sprintf("maintenance cleared at %s, before the last component (started %s) passed its %s uptime check",
				l.Time.Format(labstatus.TimeFormat), lastStart.Format(labstatus.TimeFormat), uptime))
		}
	}
	for h := range names {
		if !cleared[h] {
			v = append(v, "maintenance never cleared on "+h)
		}
	}
	return v
}

// checkDownOrder proves from the event logs and ledger that, since `since`,
// every host was put in maintenance before anything was stopped, the agents
// were gone before any service was asked to stop, and the services before
// any database.
func checkDownOrder(lab *labstatus.Lab, events func(string) []labstatus.Event, ledger []labstatus.LedgerEntry, since time.Time) []string {
	var v []string
	db, fw, svc, ag := tierHosts(lab)
	names := map[string]bool{}
	for _, h := range lab.Hosts {
		names[h.Name] = true
	}
	firstSet := map[string]time.Time{}
	for _, l := range ledger {
		if !l.IsMaintenance() || l.Action() != "set" || l.Time.Before(since) {
			continue
		}
		for _, h := range l.Targets(names) {
			if _, ok := firstSet[h]; !ok {
				firstSet[h] = l.Time
			}
		}
	}
	var allSet time.Time
	for h := range names {
		t, ok := firstSet[h]
		if !ok {
			v = append(v, "maintenance never set on "+h)
		}
		if t.After(allSet) {
			allSet = t
		}
	}
	var stopAsked, agentsGone, servicesAsked, servicesGone, dbAsked span
	collect := func(hosts []string, asked, gone *span) {
		for _, name := range hosts {
			for _, ev := range events(name) {
				if ev.Time.Before(since) {
					continue
				}
				switch {
				case ev.Kind == labstatus.EventRunsvctrl || ev.Kind == labstatus.EventMySQLServer && ev.Subject == "stop":
					asked.add(ev.Time)
					stopAsked.add(ev.Time)
				case ev.Kind == labstatus.EventComponentExit && gone != nil:
					gone.add(ev.Time)
				}
			}
		}
	}
	var agentsAsked span
	collect(ag, &agentsAsked, &agentsGone)
	collect(append(slices.Clone(fw), svc...), &servicesAsked, &servicesGone)
	collect(db, &dbAsked, nil)
	if !stopAsked.first.IsZero() && !allSet.Before(stopAsked.first) {
		v = append(v, fmt.Sprintf("something was stopped at %s before every host was in maintenance (%s)", stopAsked.first.Format(labstatus.TimeFormat), allSet.Format(labstatus.TimeFormat)))
	}
	if !servicesAsked.first.IsZero() && !agentsGone.last.Before(servicesAsked.first) {
		v = append(v, fmt.Sprintf("an agent exited at %s, after the services were asked to stop at %s", agentsGone.last.Format(labstatus.TimeFormat), servicesAsked.first.Format(labstatus.TimeFormat)))
	}
	if !dbAsked.first.IsZero() && !servicesGone.last.Before(dbAsked.first) {
		v = append(v, fmt.Sprintf("a service exited at %s, after a database was asked to stop at %s", servicesGone.last.Format(labstatus.TimeFormat), dbAsked.first.Format(labstatus.TimeFormat)))
	}
	return v
}

// eventsSince is a host's events of a kind at or after t.
func eventsSince(evs []labstatus.Event, kind string, t time.Time) []labstatus.Event {
	var out []labstatus.Event
	for _, ev := range evs {
		if ev.Kind == kind && !ev.Time.Before(t) {
			out = append(out, ev)
		}
	}
	return out
}

// hostSnapshot is what "nothing on a host changed" compares: the state of
// every component and link, mysqld, the journal, maintenance, and the
// length of the event log (every action of the procedure logs an event).
type hostSnapshot struct {
	Components  map[string]string
	Startup     map[string]string
	StartupSave map[string]string
	SaveExists  bool
	MySQLD      labstatus.MySQLDStatus
	InnodbLog   labstatus.InnodbLogStatus
	Maintenance string
	Events      int
}

// snapshot captures every host of the lab, and the ledger's length.
func (e *env) snapshot() (map[string]hostSnapshot, int) {
	e.t.Helper()
	st := e.status()
	out := map[string]hostSnapshot{}
	for _, h := range st.Hosts {
		s := hostSnapshot{Components: map[string]string{}, Startup: h.Startup, StartupSave: h.StartupSave,
			SaveExists: h.StartupSaveExists, MySQLD: h.MySQLD, InnodbLog: h.InnodbLog, Maintenance: h.Maintenance,
			Events: len(e.events(h.Name))}
		for _, c := range h.Components {
			s.Components[c.Name] = fmt.Sprintf("%s pid=%d linkIn=%s want=%s", c.State, c.PID, c.LinkIn, c.Want)
		}
		out[h.Name] = s
	}
	return out, len(e.ledger())
}

// diffSnapshots lists what changed between two snapshots.
func diffSnapshots(before, after map[string]hostSnapshot, ledgerBefore, ledgerAfter int) []string {
	var v []string
	hosts := slices.Sorted(maps.Keys(before))
	for _, h := range hosts {
		b, a := before[h], after[h]
		if fmt.Sprint(b) != fmt.Sprint(a) {
			v = append(v, fmt.Sprintf("host %s changed:\n  before %+v\n  after  %+v", h, b, a))
		}
	}
	if ledgerAfter != ledgerBefore {
		v = append(v, fmt.Sprintf("the maintenance ledger grew from %d to %d entries", ledgerBefore, ledgerAfter))
	}
	sort.Strings(v)
	return v
}
