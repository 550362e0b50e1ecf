package procedure

import (
	_ "embed"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The catalogue of remote operations. Each operation is defined here once:
// its name (OpName, what status.hosts[].lastStep.name and the log show), its
// script (a file of scripts/, embedded), the builder that turns typed values
// into its argv, the parser of its output where one is read, and its display
// form. The remote side runs fixed scripts only: every value from the spec or
// from the host (paths, link names, patterns) is a positional argument, which
// the executor quotes; nothing is spliced into script text. $0 names the
// script, so that ps on the host says what runs.

var (
	// probeScript reads, in one round trip, everything a step decides on;
	// with wait arguments it first waits on the host (see Wait). Parsed by
	// ParseProbe.
	//go:embed scripts/probe.sh
	probeScript string
	// stepScript runs queued operations, then what follows it (the probe),
	// in one session. Split by SplitStepOutput.
	//go:embed scripts/step.sh
	stepScript string
	// manifestScript writes the manifest atomically.
	//go:embed scripts/manifest.sh
	manifestScript string
	// linksScript moves named links between directories, never overwriting.
	//go:embed scripts/links.sh
	linksScript string
	// journalScript moves the InnoDB journal and links it back.
	//go:embed scripts/journal.sh
	journalScript string
	// logScanScript prints the log lines matching the error patterns.
	// Parsed by ParseFindings.
	//go:embed scripts/logscan.sh
	logScanScript string
)

func init() {
	for _, text := range []*string{&probeScript, &stepScript, &manifestScript, &linksScript, &journalScript, &logScanScript} {
		*text = stripComments(*text)
	}
}

// stripComments drops the lines that are only a comment: the scripts'
// documentation stays in the files, and does not travel with every session.
func stripComments(text string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if !strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// OpName names a remote operation. It is what status.hosts[].lastStep.name
// and the log show, and what a plan description lists.
type OpName string

const (
	// OpSession runs queued operations in one session (scripts/step.sh),
	// then a probe unless it is a flush; each queued operation is recorded
	// under its own name.
	OpSession OpName = "Session"
	// OpProbe reads a host's links, runit's state, the manifest, mysqld and
	// the journal (scripts/probe.sh), after waiting on the host for a Wait.
	OpProbe OpName = "Probe"
	// OpRecordManifest writes the manifest of a host's links (scripts/manifest.sh).
	OpRecordManifest OpName = "RecordManifest"
	// OpStopComponents asks runit to stop links (runsvctrl d).
	OpStopComponents OpName = "StopComponents"
	// OpKillComponents kills links still running after stopTimeout (runsvctrl k).
	OpKillComponents OpName = "KillComponents"
	// OpDropDuplicateLinks removes a link whose same copy is already in the
	// other directory (rm -f).
	OpDropDuplicateLinks OpName = "DropDuplicateLinks"
	// OpParkLinks moves links from startup to startup-save (scripts/links.sh).
	OpParkLinks OpName = "ParkLinks"
	// OpRestoreLinks moves links from startup-save back to startup (scripts/links.sh).
	OpRestoreLinks OpName = "RestoreLinks"
	// OpStartComponents asks runit to start links (runsvctrl u).
	OpStartComponents OpName = "StartComponents"
	// OpCheckLogs scans the components' logs for the error patterns (scripts/logscan.sh).
	OpCheckLogs OpName = "CheckLogs"
	// OpRemoveManifest removes the manifest once every link is back (rm -f).
	OpRemoveManifest OpName = "RemoveManifest"
	// OpStopDatabase runs mysql.server stop.
	OpStopDatabase OpName = "StopDatabase"
	// OpStartDatabase runs mysql.server start.
	OpStartDatabase OpName = "StartDatabase"
	// OpMoveJournal moves the InnoDB journal and links it back (scripts/journal.sh).
	OpMoveJournal OpName = "MoveJournal"
	// OpSetMaintenance runs spec.maintenance.set.
	OpSetMaintenance OpName = "SetMaintenance"
	// OpClearMaintenance runs spec.maintenance.clear.
	OpClearMaintenance OpName = "ClearMaintenance"
)

// Op is one remote operation ready to run: its name, its argv, and the typed
// values it was built from, which callers read instead of its argv.
type Op struct {
	// Name says which operation it is.
	Name OpName
	// Argv is the command that runs.
	Argv remote.Command
	// Links are the link names the operation acts on, where it acts on links.
	Links []string
	// Manifest is what OpRecordManifest writes.
	Manifest *Manifest
	// display is Argv as people read it (a script by its $0 name).
	display []string
}

// maxDisplayArgs bounds the arguments a displayed command keeps.
const maxDisplayArgs = 64

// Display is the operation's argv as status.hosts[].lastStep.command and the
// plan description show it: a script by its $0 name, then its arguments in
// full (the manifest's content as its line count), at most 64 of them.
func (o Op) Display() []string {
	d := o.display
	if d == nil {
		d = o.Argv
	}
	return append([]string(nil), d[:min(len(d), maxDisplayArgs)]...)
}

// Program is what the operation runs, as ps on the host shows it: a
// script's $0 name, or the program of its argv.
func (o Op) Program() string {
	if o.display != nil {
		return o.display[0]
	}
	if len(o.Argv) == 0 {
		return "command"
	}
	return o.Argv[0]
}

// command is an operation that runs a program of the host.
func command(name OpName, argv ...string) Op {
	return Op{Name: name, Argv: argv}
}

// script is an operation that runs an embedded script, shown as dollar0.
func script(name OpName, text, dollar0 string, args ...string) Op {
	return Op{Name: name, Argv: append(remote.Command{"sh", "-c", text, dollar0}, args...),
		display: append([]string{dollar0}, args...)}
}

// RecordManifest writes m as the manifest called name in saveDir.
func RecordManifest(saveDir, name string, m *Manifest) Op {
	content := m.Encode()
	op := script(OpRecordManifest, manifestScript, manifestDollar0, saveDir, name, content)
	op.display = manifestDisplay(saveDir, name, fmt.Sprintf("<%d lines>", strings.Count(content, "\n")))
	op.Manifest = m
	return op
}

// manifestDollar0 names scripts/manifest.sh on the host.
const manifestDollar0 = "vobox-manifest"

// manifestDisplay shows RecordManifest with content standing for the
// manifest's lines.
func manifestDisplay(saveDir, name, content string) []string {
	return []string{manifestDollar0, saveDir, name, content}
}

// StopComponents asks runit to stop the links of startup.
func StopComponents(startup string, links []string) Op {
	return runsvctrl(OpStopComponents, "d", startup, links)
}

// KillComponents has runit kill the links of startup.
func KillComponents(startup string, links []string) Op {
	return runsvctrl(OpKillComponents, "k", startup, links)
}

// StartComponents asks runit to start the links of startup.
func StartComponents(startup string, links []string) Op {
	return runsvctrl(OpStartComponents, "u", startup, links)
}

func runsvctrl(name OpName, verb, startup string, links []string) Op {
	op := command(name, append([]string{"runsvctrl", verb}, prefixed(startup, links)...)...)
	op.Links = links
	return op
}

// DropDuplicateLinks removes the links of dir that the other directory
// already holds with the same target.
func DropDuplicateLinks(dir string, links []string) Op {
	op := command(OpDropDuplicateLinks, append([]string{"rm", "-f", "--"}, prefixed(dir, links)...)...)
	op.Links = links
	return op
}

// ParkLinks moves links from startup to save, never overwriting one.
func ParkLinks(startup, save string, links []string) Op {
	op := script(OpParkLinks, linksScript, "vobox-park", append([]string{startup, save}, links...)...)
	op.Links = links
	return op
}

// RestoreLinks moves links from save back to startup, never overwriting one.
func RestoreLinks(save, startup string, links []string) Op {
	op := script(OpRestoreLinks, linksScript, "vobox-restore", append([]string{save, startup}, links...)...)
	op.Links = links
	return op
}

// CheckLogs scans the log/current of each item's link, from the item's
// time on, for the patterns (fixed strings). Its output is read by
// ParseFindings.
func CheckLogs(root string, patterns []string, items []ScanItem) Op {
	args := append([]string{root, strconv.Itoa(len(patterns))}, patterns...)
	links := make([]string, 0, len(items))
	for _, it := range items {
		args = append(args, it.Link, it.Since.UTC().Format(logTimeLayout))
		links = append(links, it.Link)
	}
	op := script(OpCheckLogs, logScanScript, "vobox-logscan", args...)
	op.Links = links
	return op
}

// logTimeLayout is DIRAC's log time stamp, which the log scan compares.
const logTimeLayout = "2006-01-02 15:04:05"

// RemoveManifest removes the manifest called name from saveDir.
func RemoveManifest(saveDir, name string) Op {
	return command(OpRemoveManifest, "rm", "-f", "--", path.Join(saveDir, name))
}

// StopDatabase runs mysqlServer stop.
func StopDatabase(mysqlServer string) Op { return command(OpStopDatabase, mysqlServer, "stop") }

// StartDatabase runs mysqlServer start.
func StartDatabase(mysqlServer string) Op { return command(OpStartDatabase, mysqlServer, "start") }

// MoveJournal moves the InnoDB journal from from to to and links it back;
// it resumes a move interrupted between the two.
func MoveJournal(from, to string) Op {
	return script(OpMoveJournal, journalScript, "vobox-journal", from, to)
}

// Maintenance expands a maintenance argv template (OpSetMaintenance or
// OpClearMaintenance): each element stays one argument, with {host} and
// {reason} replaced.
func Maintenance(name OpName, template []string, host, reason string) Op {
	r := strings.NewReplacer("{host}", host, "{reason}", reason)
	argv := make([]string, len(template))
	for i, a := range template {
		argv[i] = r.Replace(a)
	}
	return command(name, argv...)
}

// ProbeArgs are what a probe reads besides the links: the DIRAC root, the
// manifest's name, and for a database host mysql.server and the journal
// move (empty when not looked at).
type ProbeArgs struct {
	Root, Manifest, MysqlServer, JournalFrom, JournalTo string
}

// args are probe.sh's positional arguments, followed by the wait's.
func (a ProbeArgs) args(w *Wait, tick time.Duration) []string {
	args := []string{a.Root, a.Manifest, a.MysqlServer, a.JournalFrom, a.JournalTo}
	if w != nil {
		args = append(args, w.Args(tick)...)
	}
	return args
}

// ProbeOp reads the host (scripts/probe.sh) after waiting there for w, when
// not nil, looking every tick. Its output is read by ParseProbe.
func ProbeOp(a ProbeArgs, w *Wait, tick time.Duration) Op {
	return script(OpProbe, probeScript, "vobox-probe", a.args(w, tick)...)
}

// Session runs ops in order, in one session, then the probe of a (after
// its wait for w, when not nil), unless a is nil: the probe that verifies a
// move rides along with it. Its output is split by SplitStepOutput, the
// rest read by ParseProbe; the first operation that fails ends it.
func Session(ops []Op, a *ProbeArgs, w *Wait, tick time.Duration) Op {
	text := stepScript
	if a != nil {
		text += probeScript
	}
	var args []string
	for _, op := range ops {
		args = append(append(args, strconv.Itoa(len(op.Argv))), op.Argv...)
	}
	args = append(args, "--")
	if a != nil {
		args = append(args, a.args(w, tick)...)
	}
	return script(OpSession, text, "vobox-step", args...)
}

func prefixed(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = path.Join(dir, n)
	}
	return out
}
