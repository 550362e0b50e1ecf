package controllers

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The decide functions are pure: given what a probe saw on a host, they say
// what to do next. Every decision is safe to take twice, which is what makes
// the controller crash-safe: after a restart it probes again and carries on.

// failure is why a host cannot pass its step.
type failure struct {
	// Reason is a CamelCase condition reason.
	Reason string
	// Message says what was seen, for people.
	Message string
	// Terminal failures are not retried until the spec or credentials change.
	Terminal bool
}

func (f *failure) Error() string { return f.Reason + ": " + f.Message }

// decision is the next move of a step on one host.
type decision struct {
	// Done means the host passed the step (verified).
	Done bool
	// Wait asks for another probe after this long.
	Wait time.Duration
	// Fail stops the host.
	Fail *failure
	// Step names the commands, for status.lastStep and the log.
	Step string
	// Commands run in order; a non-zero exit fails the step.
	Commands []remote.Command
	// Saved and Excluded are the links parked (for the status).
	Saved, Excluded []string
	// Killed are components killed after stopTimeout.
	Killed []string
	// Warning is worth telling but does not stop the host.
	Warning string
	// Scan asks for the logs of these links to be scanned since when they started.
	Scan []scanItem
	// Until, with Wait, says what the host itself can wait for before the
	// next probe reports, sparing a round trip per poll.
	Until *hostWait
	// Then, with Commands, is what the probe that follows them (in the same
	// session) waits for: the change the commands set off.
	Then *hostWait
}

// hostWait is what a probe waits for on the host before it reports: every
// link down, or every link running (then for the uptime the check needs).
// The probe reports when that holds or For is spent, whichever comes first;
// the decision is then taken again on what it reports, so a wait is only a
// choice of when to look, never a verification.
type hostWait struct {
	// Up waits for every link to run; otherwise for every link to be down.
	Up    bool
	Links []string
	// Settle is how long to wait after the last link was seen starting (the
	// uptime the check needs); Rest how long when all ran at the first look.
	Settle, Rest time.Duration
	// For bounds the wait.
	For time.Duration
}

// args are probeScript's wait arguments: mode, tick, budget, settle and
// rest in milliseconds, then the link names.
func (w *hostWait) args(tick time.Duration) []string {
	mode := "down"
	if w.Up {
		mode = "up"
	}
	ms := func(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 0), 10) }
	return append([]string{mode, ms(tick), ms(w.For), ms(w.Settle), ms(w.Rest)}, w.Links...)
}

// scanItem is one component log to scan from a time on.
type scanItem struct {
	Link  string
	Since time.Time
}

// componentsInput is what the component steps need besides the probe.
type componentsInput struct {
	Host         string
	Root         string
	ManifestName string
	Roles        []diracv1.Role
	Classes      []linkClass
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
	// ScanFrom is when this procedure started: log lines older than that
	// belong to an earlier life of a component and are not scanned.
	ScanFrom time.Time
}

// pollInterval is the wait between two probes of a host that is changing
// (a component stopping or being picked up by runsvdir, mysqld going) when
// the host cannot wait itself (a decision without Until, or the pass's wait
// on the host is spent): short, so that the procedure follows the hosts
// closely; a probe is one SSH session starting a handful of processes.
const pollInterval = 250 * time.Millisecond

// decideStop takes one host's links of the tier's classes down and parks
// them in startup-save: record the manifest, runsvctrl d, wait (kill past
// stopTimeout), move without overwriting, verify.
func decideStop(p *hostProbe, in componentsInput) decision {
	if !p.RootExists {
		return decision{Fail: &failure{Reason: diracv1.ReasonDiracRootMissing, Terminal: true,
			Message: fmt.Sprintf("host %s has no %s", in.Host, in.Root)}}
	}
	startup, save := path.Join(in.Root, "startup"), path.Join(in.Root, "startup-save")

	m, grew := recordLinks(p, in)
	if grew {
		return decision{Step: "RecordManifest", Commands: []remote.Command{
			{"sh", "-c", writeManifestScript, "vobox-manifest", save, in.ManifestName, m.encode()},
		}}
	}
	warning := missingExcludes(m, in.Exclude, in.Host)

	var tierLinks []manifestEntry
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
			return decision{Fail: &failure{Reason: diracv1.ReasonStartupSaveConflict, Terminal: true,
				Message: fmt.Sprintf("host %s: %s/%s already exists with target %s, startup/%s points to %s; nothing was moved",
					in.Host, save, e.Name, parked, e.Name, cur)}}
		case inStartup && inSave:
			// Dropping a running copy would have runsvdir TERM it behind our
			// back, unverified: stop it like the others first.
			duplicates = append(duplicates, path.Join(startup, e.Name))
			if p.State[e.Name].Running {
				running = append(running, e.Name)
			}
		case inStartup:
			toMove = append(toMove, e.Name)
			if p.State[e.Name].Running {
				running = append(running, e.Name)
			}
		case !inSave:
			return decision{Fail: &failure{Reason: diracv1.ReasonLinkMissing, Terminal: true,
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
	switch {
	case len(notAsked) > 0:
		return decision{Step: "StopComponents", Warning: warning,
			Commands: []remote.Command{append(remote.Command{"runsvctrl", "d"}, prefixed(startup, notAsked)...)},
			Then:     &hostWait{Links: running, For: in.StopTimeout}}
	case len(running) > 0 && in.Elapsed >= in.StopTimeout:
		return decision{Step: "KillComponents", Warning: warning, Killed: running,
			Commands: []remote.Command{append(remote.Command{"runsvctrl", "k"}, prefixed(startup, running)...)},
			Then:     &hostWait{Links: running, For: in.StopTimeout}}
	case len(running) > 0:
		return decision{Wait: pollInterval, Warning: warning,
			Until: &hostWait{Links: running, For: in.StopTimeout - in.Elapsed}}
	case len(duplicates) > 0:
		// The same link, same target, is already parked: dropping the copy in
		// startup loses nothing.
		return decision{Step: "DropDuplicateLinks", Commands: []remote.Command{append(remote.Command{"rm", "-f", "--"}, duplicates...)}}
	case len(toMove) > 0:
		return decision{Step: "ParkLinks", Warning: warning,
			Commands: []remote.Command{append(remote.Command{"sh", "-c", moveLinksScript, "vobox-park", startup, save}, toMove...)}}
	}
	d := decision{Done: true, Warning: warning}
	for _, e := range tierLinks {
		if e.Excluded {
			d.Excluded = append(d.Excluded, e.Name)
		} else {
			d.Saved = append(d.Saved, e.Name)
		}
	}
	return d
}

// recordLinks returns the manifest with every link now in startup added,
// and whether it grew (so it must be written before anything else happens).
func recordLinks(p *hostProbe, in componentsInput) (*manifest, bool) {
	m := &manifest{}
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
		if m.entry(n) != nil {
			continue
		}
		grew = true
		m.Entries = append(m.Entries, manifestEntry{
			Name:     n,
			Target:   p.Startup[n],
			Class:    classify(in.Roles, p.AgentScript[n]),
			WasUp:    p.State[n].Running || !p.State[n].Supervised,
			Excluded: slices.Contains(in.Exclude, n),
		})
	}
	return m, grew
}

// missingExcludes warns about exclude entries that name no link on the host.
func missingExcludes(m *manifest, exclude []string, host string) string {
	var missing []string
	for _, x := range exclude {
		if m.entry(x) == nil {
			missing = append(missing, x)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("host %s: exclude names no startup link: %s", host, strings.Join(missing, ", "))
}

// decideStart restores the links this intervention parked for the tier's
// classes (never clobbering startup), waits until each stays up for
// componentUptime, then asks for a log scan.
func decideStart(p *hostProbe, in componentsInput) decision {
	if !p.RootExists {
		return decision{Fail: &failure{Reason: diracv1.ReasonDiracRootMissing, Terminal: true,
			Message: fmt.Sprintf("host %s has no %s", in.Host, in.Root)}}
	}
	startup, save := path.Join(in.Root, "startup"), path.Join(in.Root, "startup-save")
	if p.Manifest == nil {
		// Nothing recorded on the host: either this intervention never parked
		// anything here, or the last start tier already finished and removed
		// the manifest. The status's record tells which.
		for _, n := range in.SavedInStatus {
			if _, ok := p.Startup[n]; !ok {
				return decision{Fail: &failure{Reason: diracv1.ReasonLinkMissing, Terminal: true,
					Message: fmt.Sprintf("host %s: the manifest is gone and %s is not in startup", in.Host, n)}}
			}
		}
		return decision{Done: true}
	}
	var restore, duplicates, wake, starting, restoreUp []string
	var wait, rest time.Duration
	allRun := true
	var scan []scanItem
	for _, e := range p.Manifest.Entries {
		if e.Excluded || !slices.Contains(in.Classes, e.Class) {
			continue
		}
		cur, inStartup := p.Startup[e.Name]
		parked, inSave := p.Save[e.Name]
		switch {
		case inStartup && inSave && cur != parked:
			return decision{Fail: &failure{Reason: diracv1.ReasonStartupConflict, Terminal: true,
				Message: fmt.Sprintf("host %s: startup/%s points to %s, the parked link to %s; nothing was moved", in.Host, e.Name, cur, parked)}}
		case inStartup && inSave:
			duplicates = append(duplicates, path.Join(save, e.Name))
			continue
		case inSave:
			restore = append(restore, e.Name)
			if e.WasUp {
				restoreUp = append(restoreUp, e.Name)
			}
			continue
		case !inStartup:
			return decision{Fail: &failure{Reason: diracv1.ReasonLinkMissing, Terminal: true,
				Message: fmt.Sprintf("host %s: parked link %s is in neither startup nor startup-save", in.Host, e.Name)}}
		}
		if !e.WasUp {
			continue // it was down before the intervention: not ours to start
		}
		st := p.State[e.Name]
		switch {
		case !st.Supervised:
			starting = append(starting, e.Name) // runsvdir picks links up within 5s
			wait, allRun = max(wait, pollInterval), false
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
			scan = append(scan, scanItem{Link: e.Name, Since: since})
		}
	}
	// After a restore or a wake, the host waits for what it set off: runsvdir
	// picking the links up, then componentUptime.
	then := func(links []string) *hostWait {
		if len(links) == 0 {
			return nil
		}
		return &hostWait{Up: true, Links: links, Settle: in.Uptime, Rest: in.Uptime, For: in.StepTimeout - in.Elapsed}
	}
	switch {
	case len(restore) > 0:
		return decision{Step: "RestoreLinks", Then: then(restoreUp),
			Commands: []remote.Command{append(remote.Command{"sh", "-c", moveLinksScript, "vobox-restore", save, startup}, restore...)}}
	case len(duplicates) > 0:
		return decision{Step: "DropDuplicateLinks", Commands: []remote.Command{append(remote.Command{"rm", "-f", "--"}, duplicates...)}}
	case len(wake) > 0:
		return decision{Step: "StartComponents", Then: then(wake),
			Commands: []remote.Command{append(remote.Command{"runsvctrl", "u"}, prefixed(startup, wake)...)}}
	case len(starting) > 0 && in.Elapsed >= in.StepTimeout:
		return decision{Scan: scan, Fail: &failure{Reason: diracv1.ReasonComponentNotUp,
			Message: fmt.Sprintf("host %s: not up for %s within %s: %s", in.Host, in.Uptime, in.StepTimeout, strings.Join(starting, ", "))}}
	case len(starting) > 0:
		if !allRun {
			// It may start before the wait begins: all would run at the
			// first look, the last one only just.
			rest = in.Uptime
		}
		return decision{Wait: wait, Until: &hostWait{Up: true, Links: starting,
			Settle: in.Uptime, Rest: rest, For: in.StepTimeout - in.Elapsed}}
	case !in.Scanned && len(scan) > 0:
		return decision{Step: "CheckLogs", Scan: scan}
	}
	return decision{Done: true}
}

// databaseInput is what the database steps need besides the probe.
type databaseInput struct {
	Host        string
	MysqlServer string
	// JournalFrom and JournalTo are set when this host moves its journal.
	JournalFrom, JournalTo string
	Elapsed                time.Duration
	StepTimeout            time.Duration
	// Tried is true once the start or stop command ran in this step.
	Tried bool
}

// decideStopDatabase stops mysqld, verifies it is gone, then moves the
// InnoDB journal where configured (already a link to the target = done).
func decideStopDatabase(p *hostProbe, in databaseInput) decision {
	if f := checkMysql(p, in); f != nil {
		return decision{Fail: f}
	}
	if p.MysqldUp {
		if in.Tried && in.Elapsed >= in.StepTimeout {
			return decision{Fail: &failure{Reason: diracv1.ReasonDatabaseNotStopped,
				Message: fmt.Sprintf("host %s: mysqld still runs %s after %s stop", in.Host, in.StepTimeout, in.MysqlServer)}}
		}
		if in.Tried {
			return decision{Wait: pollInterval}
		}
		return decision{Step: "StopDatabase", Commands: []remote.Command{{in.MysqlServer, "stop"}}}
	}
	if in.JournalFrom == "" {
		return decision{Done: true}
	}
	switch {
	case p.Journal == "link" && path.Clean(p.JournalTarget) == path.Clean(in.JournalTo):
		return decision{Done: true}
	case (p.Journal == "dir" && p.JournalTo == "none") || (p.Journal == "none" && p.JournalTo == "dir"):
		return decision{Step: "MoveJournal", Commands: []remote.Command{{"sh", "-c", journalScript, "vobox-journal", in.JournalFrom, in.JournalTo}}}
	}
	desc := p.Journal
	if p.Journal == "link" {
		desc = "a link to " + p.JournalTarget
	}
	return decision{Fail: &failure{Reason: diracv1.ReasonJournalConflict, Terminal: true,
		Message: fmt.Sprintf("host %s: cannot move the InnoDB journal: %s is %s and %s is %s", in.Host, in.JournalFrom, desc, in.JournalTo, p.JournalTo)}}
}

// decideStartDatabase starts mysqld only if it does not run (it may have come
// back on its own after the reboot), then verifies it runs.
func decideStartDatabase(p *hostProbe, in databaseInput) decision {
	if f := checkMysql(p, in); f != nil {
		return decision{Fail: f}
	}
	switch {
	case p.MysqldUp:
		return decision{Done: true}
	case in.Tried && in.Elapsed >= in.StepTimeout:
		return decision{Fail: &failure{Reason: diracv1.ReasonDatabaseNotStarted,
			Message: fmt.Sprintf("host %s: mysqld does not run %s after %s start", in.Host, in.StepTimeout, in.MysqlServer)}}
	case in.Tried:
		return decision{Wait: pollInterval}
	}
	return decision{Step: "StartDatabase", Commands: []remote.Command{{in.MysqlServer, "start"}}}
}

func checkMysql(p *hostProbe, in databaseInput) *failure {
	if !p.RootExists {
		return &failure{Reason: diracv1.ReasonDiracRootMissing, Terminal: true, Message: fmt.Sprintf("host %s has no DIRAC root", in.Host)}
	}
	if !p.MysqlPresent {
		return &failure{Reason: diracv1.ReasonMysqlServerMissing, Terminal: true,
			Message: fmt.Sprintf("host %s has no executable %s", in.Host, in.MysqlServer)}
	}
	return nil
}

// maintenanceCommand expands an argv template: each element stays one
// argument, with {host} and {reason} replaced.
func maintenanceCommand(template []string, host, reason string) remote.Command {
	r := strings.NewReplacer("{host}", host, "{reason}", reason)
	cmd := make(remote.Command, len(template))
	for i, a := range template {
		cmd[i] = r.Replace(a)
	}
	return cmd
}

// logScanCommand builds the scan of the given component logs.
func logScanCommand(root string, patterns []string, items []scanItem) remote.Command {
	cmd := remote.Command{"sh", "-c", logScanScript, "vobox-logscan", root, fmt.Sprint(len(patterns))}
	cmd = append(cmd, patterns...)
	for _, it := range items {
		cmd = append(cmd, it.Link, it.Since.Format("2006-01-02 15:04:05"))
	}
	return cmd
}

func prefixed(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = path.Join(dir, n)
	}
	return out
}
