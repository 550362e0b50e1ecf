package procedure

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// The decide functions are pure: given what a probe saw on a host, they say
// what to do next. Every Decision is safe to take twice, which is what makes
// the controller crash-safe: after a restart it probes again and carries on.

// Decision is the next move of a step on one host.
type Decision struct {
	// Done means the host passed the step (verified).
	Done bool
	// Wait asks for another probe after this long.
	Wait time.Duration
	// Fail stops the host.
	Fail *Failure
	// Op is the operation to run next; a non-zero exit fails the step.
	Op *Op
	// Saved and Excluded are the links parked (for the status).
	Saved, Excluded []string
	// Killed are components killed after stopTimeout.
	Killed []string
	// Warning is worth telling but does not stop the host.
	Warning string
	// Scan asks for the logs of these links to be scanned since when they started.
	Scan []ScanItem
	// Until, with Wait, says what the host itself can wait for before the
	// next probe reports, sparing a round trip per poll.
	Until *Wait
	// Then, with Op, is what the probe that follows it (in the same
	// session) waits for: the change it set off.
	Then *Wait
	// Next, with Op, runs after it in the same session: an operation that
	// checks on the host whether it may run yet (MoveJournal after
	// StopDatabase), which spares a session when it can.
	Next *Op
}

// Step names the decision's operation, or "" when it runs none.
func (d Decision) Step() OpName {
	if d.Op == nil {
		return ""
	}
	return d.Op.Name
}

// Wait is what a probe waits for on the host before it reports: every
// link down, or every link running (then for the uptime the check needs).
// The probe reports when that holds or For is spent, whichever comes first;
// the Decision is then taken again on what it reports, so a wait is only a
// choice of when to look, never a verification.
type Wait struct {
	// Up waits for every link to run; otherwise for every link to be down.
	Up    bool
	Links []string
	// Settle is how long to wait after the last link was seen starting (the
	// uptime the check needs); Rest how long when all ran at the first look.
	Settle, Rest time.Duration
	// For bounds the wait, the sleep of Settle or Rest included: an uptime
	// beyond it is left to a later probe, after a requeue.
	For time.Duration
	// After are operations the host runs once the wait is met in full
	// (every link down, or up for all of Settle), before the report, and
	// not when For ran out: parking the links stopped, in the session of
	// their stop. Each is one the decision would take on the report that
	// follows, which verifies it.
	After []Op
}

// Args are probeScript's wait arguments: mode, tick, budget, settle and
// rest in milliseconds, the number of links and their names, then the
// After operations.
func (w *Wait) Args(tick time.Duration) []string {
	mode := "down"
	if w.Up {
		mode = "up"
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 0), 10) }
	args := append([]string{mode, ms(tick), ms(w.For), ms(w.Settle), ms(w.Rest), strconv.Itoa(len(w.Links))}, w.Links...)
	return append(args, opGroups(w.After)...)
}

// ScanItem is one component log to scan from a time on.
type ScanItem struct {
	Link  string
	Since time.Time
}

// ComponentsInput is what the component steps need besides the probe.
type ComponentsInput struct {
	Host         string
	Root         string
	ManifestName string
	Roles        []diracv1.Role
	Classes      []LinkClass
	Exclude      []string
	// StopRequested is true once runsvctrl d was sent in this step.
	StopRequested bool
	// Elapsed is the time since the step started on this host; for the stop
	// steps, since the last stop (or kill) request, once there was one.
	Elapsed     time.Duration
	StopTimeout time.Duration
	StepTimeout time.Duration
	Uptime      time.Duration
	// SavedInStatus is the status's record, used when the manifest is gone.
	SavedInStatus []string
	// Scanned is true once the logs were scanned clean.
	Scanned bool
	// Patterns are the error patterns a log scan looks for in a message.
	Patterns []string
	// Levels are the DIRAC log levels that fail a log scan.
	Levels []string
	// StartFirst and StartLast are link name patterns (path.Match globs)
	// started first, each up for Uptime before the rest, and last.
	StartFirst, StartLast []string
	// ScanFrom is when this procedure started: log lines older than that
	// belong to an earlier life of a component and are not scanned.
	ScanFrom time.Time
}

// PollInterval is the wait between two probes of a host that is changing
// (a component stopping or being picked up by runsvdir, mysqld going) when
// the host cannot wait itself (a Decision without Until, or the pass's wait
// on the host is spent): short, so that the procedure follows the hosts
// closely; a probe is one SSH session starting a handful of processes.
const PollInterval = 250 * time.Millisecond

// DecideStop takes one host's links of the tier's classes down and parks
// them in startup-save: record the manifest, runsvctrl d, wait (kill past
// stopTimeout), move without overwriting, verify.
func DecideStop(p *Probe, in ComponentsInput) Decision {
	if f := checkRoot(p, in.Host, in.Root); f != nil {
		return Decision{Fail: f}
	}
	if f := checkRunit(p, in.Host, slices.Sorted(maps.Keys(p.Startup))); f != nil {
		return Decision{Fail: f}
	}
	startup, save := path.Join(in.Root, "startup"), path.Join(in.Root, "startup-save")

	m, grew := RecordLinks(p, in)
	if grew {
		return Decision{Op: ptr(RecordManifest(save, in.ManifestName, m))}
	}
	warning := MissingExcludes(m, in.Exclude, in.Host)

	var tierLinks []ManifestEntry
	for _, e := range m.Entries {
		if slices.Contains(in.Classes, e.Class) {
			tierLinks = append(tierLinks, e)
		}
	}
	// Refuse before moving anything: a conflict must leave the host untouched.
	var running, toMove, duplicates []string
	for _, e := range tierLinks {
		cur, inStartup := p.Startup[e.Name]
		parked, inSave := p.Save[e.Name]
		switch {
		case inStartup && inSave && parked != cur:
			return Decision{Fail: startupSaveConflict(in.Host, save, e.Name, parked, cur)}
		case inStartup && inSave:
			// Dropping a running copy would have runsvdir TERM it behind our
			// back, unverified: stop it like the others first.
			duplicates = append(duplicates, e.Name)
			if p.State[e.Name].Running {
				running = append(running, e.Name)
			}
		case inStartup:
			toMove = append(toMove, e.Name)
			if p.State[e.Name].Running {
				running = append(running, e.Name)
			}
		case !inSave:
			return Decision{Fail: &Failure{Reason: diracv1.ReasonLinkMissing, Terminal: true,
				Message: fmt.Sprintf("host %s: link %s recorded in the manifest is in neither startup nor startup-save", in.Host, e.Name)}}
		}
	}
	// runit says whether it was told to stop a component ("want down"): one
	// that runs without it was never asked, or its host rebooted since (its
	// runsv started afresh, wanting it up), and waiting would be in vain.
	var notAsked []string
	for _, n := range running {
		if !p.State[n].WantDown {
			notAsked = append(notAsked, n)
		}
	}
	// Once every link to park is down, the host parks them in the same
	// session (Wait.After), as the decision on its report would. The wait
	// covers each link it parks, not only those it stops: one whose runsv
	// was not running at the probe (a host just booted) may have started
	// since, and is left to the report, as is a duplicate (dropped first).
	var park []Op
	waitFor := running
	if len(duplicates) == 0 && len(running) > 0 {
		var supervised []string
		for _, n := range toMove {
			if p.State[n].Supervised {
				supervised = append(supervised, n)
			}
		}
		if len(supervised) > 0 {
			park = []Op{ParkLinks(startup, save, supervised)}
			waitFor = union(running, supervised)
		}
	}
	switch {
	case len(notAsked) > 0:
		return Decision{Op: ptr(StopComponents(p.Runit, startup, notAsked)), Warning: warning,
			Then: &Wait{Links: waitFor, For: in.StopTimeout, After: park}}
	case len(running) > 0 && in.Elapsed >= in.StopTimeout:
		return Decision{Op: ptr(KillComponents(p.Runit, startup, running)), Warning: warning, Killed: running,
			Then: &Wait{Links: waitFor, For: in.StopTimeout, After: park}}
	case len(running) > 0:
		return Decision{Wait: PollInterval, Warning: warning,
			Until: &Wait{Links: waitFor, For: in.StopTimeout - in.Elapsed, After: park}}
	case len(duplicates) > 0:
		// The same link, same target, is already parked: dropping the copy in
		// startup loses nothing.
		return Decision{Op: ptr(DropDuplicateLinks(startup, duplicates))}
	case len(toMove) > 0:
		return Decision{Op: ptr(ParkLinks(startup, save, toMove)), Warning: warning}
	}
	d := Decision{Done: true, Warning: warning}
	for _, e := range tierLinks {
		if e.Excluded {
			d.Excluded = append(d.Excluded, e.Name)
		} else {
			d.Saved = append(d.Saved, e.Name)
		}
	}
	return d
}

// RecordLinks returns the manifest with every link now in startup added,
// and whether it grew (so it must be written before anything else happens).
func RecordLinks(p *Probe, in ComponentsInput) (*Manifest, bool) {
	m := &Manifest{}
	if p.Manifest != nil {
		m.Entries = append(m.Entries, p.Manifest.Entries...)
	}
	names := make([]string, 0, len(p.Startup))
	for n := range p.Startup {
		names = append(names, n)
	}
	sort.Strings(names)
	grew := p.Manifest == nil && len(names) > 0
	for _, n := range names {
		if m.Entry(n) != nil {
			continue
		}
		grew = true
		m.Entries = append(m.Entries, ManifestEntry{
			Name:     n,
			Target:   p.Startup[n],
			Class:    Classify(in.Roles, p.AgentScript[n]),
			WasUp:    p.State[n].Running || !p.State[n].Supervised,
			Excluded: slices.Contains(in.Exclude, n),
		})
	}
	return m, grew
}

// MissingExcludes warns about exclude entries that name no link on the host.
func MissingExcludes(m *Manifest, exclude []string, host string) string {
	var missing []string
	for _, x := range exclude {
		if m.Entry(x) == nil {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("host %s: exclude names no startup link: %s", host, strings.Join(missing, ", "))
}

// DecideStart restores the links this intervention parked for the tier's
// classes (never clobbering startup), waits until each stays up for
// componentUptime, then asks for a log scan. It goes in the order DIRAC's
// own restart does: the links matching StartFirst (the Configuration
// Server, which the others ask for their configuration) restored and up
// for componentUptime first, then the rest, then those matching StartLast
// (the SystemAdministrator). An agent's stop_agent left behind by a kill is
// removed before its link is restored.
func DecideStart(p *Probe, in ComponentsInput) Decision {
	if f := checkRoot(p, in.Host, in.Root); f != nil {
		return Decision{Fail: f}
	}
	if p.Manifest == nil {
		// Nothing recorded on the host: either this intervention never parked
		// anything here, or the last start tier already finished and removed
		// the manifest. The status's record tells which.
		for _, n := range in.SavedInStatus {
			if _, ok := p.Startup[n]; !ok {
				return Decision{Fail: &Failure{Reason: diracv1.ReasonLinkMissing, Terminal: true,
					Message: fmt.Sprintf("host %s: the manifest is gone and %s is not in startup", in.Host, n)}}
			}
		}
		return Decision{Done: true}
	}
	var groups [3][]ManifestEntry
	for _, e := range p.Manifest.Entries {
		if e.Excluded || !slices.Contains(in.Classes, e.Class) {
			continue
		}
		g := startGroup(e.Name, in.StartFirst, in.StartLast)
		groups[g] = append(groups[g], e)
	}
	var scan []ScanItem
	for i, g := range groups {
		d, done := decideStartGroup(p, in, g)
		scan = append(scan, d.Scan...)
		if !done {
			if d.Fail != nil && d.Fail.Reason == diracv1.ReasonComponentNotUp {
				d.Scan = scan // the logs of what runs explain what does not
			}
			// The last links starting: once up for the uptime, the host
			// scans the logs in the same session (ScanAfterStart).
			w := d.Until
			if restores(d) {
				w = d.Then
			}
			if w != nil && w.Up && !in.Scanned && len(slices.Concat(groups[i+1:]...)) == 0 {
				w.After = []Op{CheckLogs(in.Root, LogCheck{Levels: in.Levels, Patterns: in.Patterns}, ScanAfterStart(p, in, scan, w.Links))}
			}
			return d
		}
	}
	if !in.Scanned && len(scan) > 0 {
		return Decision{Op: ptr(CheckLogs(in.Root, LogCheck{Levels: in.Levels, Patterns: in.Patterns}, scan)), Scan: scan}
	}
	return Decision{Done: true}
}

// restores says whether d restores links (after removing stop_agent files).
func restores(d Decision) bool {
	return d.Step() == OpRestoreLinks || (d.Next != nil && d.Next.Name == OpRestoreLinks)
}

// ScanAfterStart is the log scan that rides in the session that waits for
// the last links starting (Wait.After): the logs of earlier groups from
// their items; of a link running at p, from its start; of one restored or
// not yet running, from p's time (it has not run since). Never before
// ScanFrom. Its findings stand for the scan the decision on the report asks
// for where they cover it (ScanCovers).
func ScanAfterStart(p *Probe, in ComponentsInput, earlier []ScanItem, links []string) []ScanItem {
	items := slices.Clone(earlier)
	for _, n := range links {
		since := time.Unix(p.Now, 0).UTC()
		if st := p.State[n]; st.Running {
			since = time.Unix(p.Now-st.Seconds-1, 0).UTC()
		}
		if since.Before(in.ScanFrom) {
			since = in.ScanFrom.UTC()
		}
		items = append(items, ScanItem{Link: n, Since: since})
	}
	return items
}

// maxScanLead is how much earlier than a component's start a scan's window
// may begin and still stand for the scan from its start: runsvdir's 5 s
// rescan, and a second of the time stamps' rounding.
const maxScanLead = 6 * time.Second

// ScanCovers says whether a scan done of done's items stands for one of
// want's: the same links, each window beginning at most a second later
// (whole seconds) and at most maxScanLead earlier, so that it holds no
// earlier life of a component (one that restarted since reads its logs
// again).
func ScanCovers(done, want []ScanItem) bool {
	for _, w := range want {
		i := slices.IndexFunc(done, func(d ScanItem) bool { return d.Link == w.Link })
		if i < 0 {
			return false
		}
		if lead := w.Since.Sub(done[i].Since); lead < -time.Second || lead > maxScanLead {
			return false
		}
	}
	return true
}

// startGroup is 0 for a link started first, 2 for one started last, 1
// for the others.
func startGroup(name string, first, last []string) int {
	match := func(patterns []string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool { ok, _ := path.Match(p, name); return ok })
	}
	switch {
	case match(first):
		return 0
	case match(last):
		return 2
	}
	return 1
}

// decideStartGroup is DecideStart for one group of entries: its decision,
// and whether the group is done (every link restored and up for Uptime;
// its log scan items in the decision's Scan).
func decideStartGroup(p *Probe, in ComponentsInput, entries []ManifestEntry) (Decision, bool) {
	startup, save := path.Join(in.Root, "startup"), path.Join(in.Root, "startup-save")
	var restore, duplicates, wake, starting, restoreUp, unknown []string
	var stopFiles []ManifestEntry
	var wait, rest time.Duration
	allRun := true
	var scan []ScanItem
	for _, e := range entries {
		cur, inStartup := p.Startup[e.Name]
		parked, inSave := p.Save[e.Name]
		switch {
		case inStartup && inSave && cur != parked:
			return Decision{Fail: &Failure{Reason: diracv1.ReasonStartupConflict, Terminal: true,
				Message: fmt.Sprintf("host %s: startup/%s points to %s, the parked link to %s; nothing was moved", in.Host, e.Name, cur, parked)}}, false
		case inStartup && inSave:
			duplicates = append(duplicates, e.Name)
			continue
		case inSave:
			restore = append(restore, e.Name)
			if e.WasUp {
				restoreUp = append(restoreUp, e.Name)
				if e.Class == ClassAgent {
					stopFiles = append(stopFiles, e)
				}
			}
			continue
		case !inStartup:
			return Decision{Fail: &Failure{Reason: diracv1.ReasonLinkMissing, Terminal: true,
				Message: fmt.Sprintf("host %s: parked link %s is in neither startup nor startup-save", in.Host, e.Name)}}, false
		}
		if !e.WasUp {
			continue // it was down before the intervention: not ours to start
		}
		st := p.State[e.Name]
		switch {
		case st.Unknown:
			unknown = append(unknown, e.Name)
		case !st.Supervised:
			starting = append(starting, e.Name) // runsvdir picks links up within 5s
			wait, allRun = max(wait, PollInterval), false
		case !st.Running && st.WantUp:
			// runsv restarts it by itself: asking again changes nothing.
			starting = append(starting, e.Name)
			wait, allRun = max(wait, PollInterval), false
		case !st.Running || st.WantDown:
			// Still running but wanted down (a stop cut short by a flip to
			// Up): runit would not restart it once it exits.
			wake = append(wake, e.Name)
		case time.Duration(st.Seconds)*time.Second < in.Uptime:
			starting = append(starting, e.Name)
			rest = max(rest, in.Uptime-time.Duration(st.Seconds)*time.Second)
			wait = max(wait, min(rest, 5*time.Second))
		default:
			since := time.Unix(p.Now-st.Seconds-1, 0).UTC()
			if since.Before(in.ScanFrom) {
				since = in.ScanFrom.UTC()
			}
			scan = append(scan, ScanItem{Link: e.Name, Since: since})
		}
	}
	if f := checkRunit(p, in.Host, unknown); f != nil {
		return Decision{Fail: f}, false
	}
	// After a restore or a wake, the host waits for what it set off: runsvdir
	// picking the links up, then componentUptime.
	then := func(links []string) *Wait {
		if len(links) == 0 {
			return nil
		}
		return &Wait{Up: true, Links: links, Settle: in.Uptime, Rest: in.Uptime, For: in.StepTimeout - in.Elapsed}
	}
	switch {
	case len(restore) > 0 && len(stopFiles) > 0:
		// An agent killed after stopTimeout never read the stop_agent its
		// stop left: restored with it, it would exit at once, and again.
		return Decision{Op: ptr(RemoveStopAgentFiles(in.Root, stopFiles)), Next: ptr(RestoreLinks(save, startup, restore)), Then: then(restoreUp)}, false
	case len(restore) > 0:
		return Decision{Op: ptr(RestoreLinks(save, startup, restore)), Then: then(restoreUp)}, false
	case len(duplicates) > 0:
		return Decision{Op: ptr(DropDuplicateLinks(save, duplicates))}, false
	case len(wake) > 0:
		return Decision{Op: ptr(StartComponents(p.Runit, startup, wake)), Then: then(wake)}, false
	case len(starting) > 0 && in.Elapsed >= in.StepTimeout:
		return Decision{Scan: scan, Fail: &Failure{Reason: diracv1.ReasonComponentNotUp,
			Message: fmt.Sprintf("host %s: not up for %s within %s: %s", in.Host, in.Uptime, in.StepTimeout, strings.Join(starting, ", "))}}, false
	case len(starting) > 0:
		if !allRun {
			// It may start before the wait begins: all would run at the
			// first look, the last one only just.
			rest = in.Uptime
		}
		return Decision{Wait: wait, Until: &Wait{Up: true, Links: starting,
			Settle: in.Uptime, Rest: rest, For: in.StepTimeout - in.Elapsed}}, false
	}
	return Decision{Scan: scan}, true
}

// DatabaseInput is what the database steps need besides the probe.
type DatabaseInput struct {
	Host        string
	Root        string
	MysqlServer string
	// Service, when set, drives a system-managed database instead of
	// MysqlServer, and its Ready argv says when it answers.
	Service *DatabaseService
	// JournalFrom and JournalTo are set when this host moves its journal.
	JournalFrom, JournalTo string
	Elapsed                time.Duration
	StepTimeout            time.Duration
	// Tried is true once the start or stop command ran in this step.
	Tried bool
}

// DecideStopDatabase stops mysqld, verifies it is gone, then moves the
// InnoDB journal where configured (already a link to the target = done).
func DecideStopDatabase(p *Probe, in DatabaseInput) Decision {
	if f := checkMysql(p, in); f != nil {
		return Decision{Fail: f}
	}
	if p.MysqldUp {
		if in.Tried && in.Elapsed >= in.StepTimeout {
			return Decision{Fail: &Failure{Reason: diracv1.ReasonDatabaseNotStopped,
				Message: fmt.Sprintf("host %s: mysqld still runs %s after %s", in.Host, in.StepTimeout, strings.Join(StopDatabase(in.MysqlServer, in.Service).Argv, " "))}}
		}
		if in.Tried {
			return Decision{Wait: PollInterval}
		}
		d := Decision{Op: ptr(StopDatabase(in.MysqlServer, in.Service))}
		if in.JournalFrom != "" {
			if move, f := journalMove(p, in.Host, in.JournalFrom, in.JournalTo); move && f == nil {
				d.Next = ptr(MoveJournal(in.JournalFrom, in.JournalTo))
			}
		}
		return d
	}
	if in.JournalFrom == "" {
		return Decision{Done: true}
	}
	switch move, f := journalMove(p, in.Host, in.JournalFrom, in.JournalTo); {
	case f != nil:
		return Decision{Fail: f}
	case move:
		return Decision{Op: ptr(MoveJournal(in.JournalFrom, in.JournalTo))}
	}
	return Decision{Done: true}
}

// journalMove says whether the InnoDB journal is still to move (it is in
// from, or the move was cut between mv and ln), or why it cannot be: from
// and to do not look like before, during or after a move. Already a link to
// to is done.
func journalMove(p *Probe, host, from, to string) (bool, *Failure) {
	switch {
	case p.Journal == "link" && path.Clean(p.JournalTarget) == path.Clean(to):
		return false, nil
	case (p.Journal == "dir" && p.JournalTo == "none") || (p.Journal == "none" && p.JournalTo == "dir"):
		return true, nil
	}
	desc := p.Journal
	if p.Journal == "link" {
		desc = "a link to " + p.JournalTarget
	}
	return false, &Failure{Reason: diracv1.ReasonJournalConflict, Terminal: true,
		Message: fmt.Sprintf("host %s: cannot move the InnoDB journal: %s is %s and %s is %s", host, from, desc, to, p.JournalTo)}
}

// DecideStartDatabase starts mysqld only if it does not run (it may have come
// back on its own after the reboot), then verifies it runs; with a
// service, that it answers its readiness argv (mysqladmin ping): a server
// that runs but does not answer yet is started (a no-op when it runs) and
// waited for.
func DecideStartDatabase(p *Probe, in DatabaseInput) Decision {
	if f := checkMysql(p, in); f != nil {
		return Decision{Fail: f}
	}
	if in.Service != nil {
		switch {
		case p.Ready:
			return Decision{Done: true}
		case in.Tried && in.Elapsed >= in.StepTimeout:
			return Decision{Fail: &Failure{Reason: diracv1.ReasonDatabaseNotReady,
				Message: fmt.Sprintf("host %s: %s does not succeed %s after %s", in.Host, strings.Join(in.Service.Ready, " "), in.StepTimeout, strings.Join(in.Service.Start, " "))}}
		case in.Tried:
			return Decision{Wait: PollInterval}
		}
		return Decision{Op: ptr(StartDatabase(in.MysqlServer, in.Service))}
	}
	switch {
	case p.MysqldUp:
		return Decision{Done: true}
	case in.Tried && in.Elapsed >= in.StepTimeout:
		return Decision{Fail: &Failure{Reason: diracv1.ReasonDatabaseNotStarted,
			Message: fmt.Sprintf("host %s: mysqld does not run %s after %s start", in.Host, in.StepTimeout, in.MysqlServer)}}
	case in.Tried:
		return Decision{Wait: PollInterval}
	}
	return Decision{Op: ptr(StartDatabase(in.MysqlServer, in.Service))}
}

func checkMysql(p *Probe, in DatabaseInput) *Failure {
	if f := checkRoot(p, in.Host, in.Root); f != nil {
		return f
	}
	if in.Service == nil && !p.MysqlPresent {
		return &Failure{Reason: diracv1.ReasonMysqlServerMissing, Terminal: true,
			Message: fmt.Sprintf("host %s has no executable %s (spec.layout.mysqlServer)", in.Host, in.MysqlServer)}
	}
	return nil
}

// checkRoot fails a host without its DIRAC root.
func checkRoot(p *Probe, host, root string) *Failure {
	if p.RootExists {
		return nil
	}
	return &Failure{Reason: diracv1.ReasonDiracRootMissing, Terminal: true,
		Message: fmt.Sprintf("host %s has no %s (spec.layout.diracRoot)", host, root)}
}

// checkRunit fails a host without runit tools (terminal), or whose probe
// could not read runit's state of one of links in startup (retried): a
// state not read is never taken for stopped.
func checkRunit(p *Probe, host string, links []string) *Failure {
	if p.Runit.Missing {
		return &Failure{Reason: diracv1.ReasonRunitToolsMissing, Terminal: true,
			Message: fmt.Sprintf("host %s has neither runsvctrl and runsvstat (runit 1.x) nor sv (runit 2) in spec.layout.runitBin, the PATH, /sbin or /usr/sbin", host)}
	}
	var unknown []string
	for _, n := range links {
		if st, ok := p.State[n]; ok && st.Unknown {
			unknown = append(unknown, fmt.Sprintf("%s (%s)", n, cmp.Or(st.Raw, "no state reported")))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	return &Failure{Reason: diracv1.ReasonComponentStateUnknown,
		Message: fmt.Sprintf("host %s: cannot read runit's state of %s", host, strings.Join(unknown, ", "))}
}

// startupSaveConflict fails a host whose startup-save (save) already holds
// a different link of a name to park.
func startupSaveConflict(host, save, name, parked, cur string) *Failure {
	return &Failure{Reason: diracv1.ReasonStartupSaveConflict, Terminal: true,
		Message: fmt.Sprintf("host %s: %s/%s already exists with target %s, startup/%s points to %s; nothing was moved",
			host, save, name, parked, name, cur)}
}

// PreflightInput is what the preflight of a host checks besides its probe.
type PreflightInput struct {
	Host    string
	Root    string
	Roles   []diracv1.Role
	Exclude []string
	// MysqlServer is set on a Database host without Service.
	MysqlServer string
	// Service is set on a Database host of a site with spec.database.service.
	Service *DatabaseService
	// JournalFrom and JournalTo are set when the host moves its journal.
	JournalFrom, JournalTo string
}

// Preflight says, from a probe of a host before the first tier of a Down
// plan, why the host cannot take part (nil when it can), and what is worth
// a warning (an exclude naming no link). It asks what the decide functions
// will ask, with their own checks, before anything changes on any host: the
// DIRAC root, mysql.server on a Database host (without a service), the
// journal move, the runit tools and every startup link's state on a host
// that parks links, and a startup-save holding a different link of a name
// to park.
func Preflight(p *Probe, in PreflightInput) (*Failure, string) {
	if f := checkRoot(p, in.Host, in.Root); f != nil {
		return f, ""
	}
	if in.MysqlServer != "" || in.Service != nil {
		if f := checkMysql(p, DatabaseInput{Host: in.Host, Root: in.Root, MysqlServer: in.MysqlServer, Service: in.Service}); f != nil {
			return f, ""
		}
	}
	if in.JournalFrom != "" {
		if _, f := journalMove(p, in.Host, in.JournalFrom, in.JournalTo); f != nil {
			return f, ""
		}
	}
	if !ParksLinks(&diracv1.HostSpec{Roles: in.Roles}) {
		return nil, "" // parks no link
	}
	if f := checkRunit(p, in.Host, slices.Sorted(maps.Keys(p.Startup))); f != nil {
		return f, ""
	}
	save := path.Join(in.Root, "startup-save")
	for _, n := range slices.Sorted(maps.Keys(p.Startup)) {
		if parked, ok := p.Save[n]; ok && parked != p.Startup[n] {
			return startupSaveConflict(in.Host, save, n, parked, p.Startup[n]), ""
		}
	}
	m, _ := RecordLinks(p, ComponentsInput{Roles: in.Roles, Exclude: in.Exclude})
	return nil, MissingExcludes(m, in.Exclude, in.Host)
}

func ptr(op Op) *Op { return &op }

// union is a's names, then those of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
