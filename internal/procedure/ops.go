package procedure

import (
	"cmp"
	_ "embed"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
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
	// opsScript defines run_ops, which step.sh and probe.sh (for a
	// Wait's After) run operations with; put before them.
	//go:embed scripts/ops.sh
	opsScript string
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
	// maintenanceScript runs a maintenance command at most once per host
	// and direction, behind a marker on the host. Parsed by ParseMaintenance.
	//go:embed scripts/maintenance.sh
	maintenanceScript string
	// detachScript defines the function that runs a command and its marker
	// out of the watchdog's reach, under a lock; put before the scripts
	// that use it (maintenance.sh, reboot.sh).
	//go:embed scripts/detach.sh
	detachScript string
)

func init() {
	for _, text := range []*string{&probeScript, &stepScript, &opsScript, &manifestScript, &linksScript, &journalScript, &logScanScript, &maintenanceScript} {
		*text = stripComments(*text)
	}
	maintenanceScript = stripComments(detachScript) + maintenanceScript
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
	// OpStopComponents asks runit to stop links (runsvctrl d, or sv down).
	OpStopComponents OpName = "StopComponents"
	// OpKillComponents kills links still running after stopTimeout
	// (runsvctrl k, or sv kill).
	OpKillComponents OpName = "KillComponents"
	// OpDropDuplicateLinks removes a link whose same copy is already in the
	// other directory (rm -f).
	OpDropDuplicateLinks OpName = "DropDuplicateLinks"
	// OpParkLinks moves links from startup to startup-save (scripts/links.sh).
	OpParkLinks OpName = "ParkLinks"
	// OpRestoreLinks moves links from startup-save back to startup (scripts/links.sh).
	OpRestoreLinks OpName = "RestoreLinks"
	// OpStartComponents asks runit to start links (runsvctrl u, or sv up).
	OpStartComponents OpName = "StartComponents"
	// OpRemoveStopAgentFiles removes the control/<System>/<Agent>/stop_agent
	// an agent killed after stopTimeout left behind (rm -f), before its link
	// is restored: DIRAC's AgentModule would read it and exit at once.
	OpRemoveStopAgentFiles OpName = "RemoveStopAgentFiles"
	// OpCheckLogs scans the components' logs for lines at the error levels
	// or matching the error patterns (scripts/logscan.sh).
	OpCheckLogs OpName = "CheckLogs"
	// OpRemoveManifest removes the manifest once every link is back (rm -f).
	OpRemoveManifest OpName = "RemoveManifest"
	// OpStopDatabase runs spec.database.service.stop, or mysql.server stop.
	OpStopDatabase OpName = "StopDatabase"
	// OpStartDatabase runs spec.database.service.start, or mysql.server start.
	OpStartDatabase OpName = "StartDatabase"
	// OpMoveJournal moves the InnoDB journal and links it back (scripts/journal.sh).
	OpMoveJournal OpName = "MoveJournal"
	// OpSetMaintenance runs spec.maintenance.set.
	OpSetMaintenance OpName = "SetMaintenance"
	// OpClearMaintenance runs spec.maintenance.clear.
	OpClearMaintenance OpName = "ClearMaintenance"
	// OpReboot runs spec.reboot.command. The session dropping (ssh's exit
	// 255, a lost connection) is its expected outcome: the host went down
	// under it. What counts is the new boot id a later probe reads.
	OpReboot OpName = "Reboot"
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
	// Scan is what OpCheckLogs scans: each link's log from a time on.
	Scan []ScanItem
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

// RunitTools are the runit programs a probe found on a host, where the
// site put them: runit 1.x's runsvctrl and runsvstat (DIRAC's own runit
// build, often only in /sbin), else runit 2's sv. A program found on the
// session's PATH is named, one found elsewhere given by its path. The zero
// value is runsvctrl and runsvstat on the PATH, what a probe that does not
// report its tools (an older script) implies.
type RunitTools struct {
	// Missing is true when the host has neither: nothing can be stopped,
	// started or read there (RunitToolsMissing).
	Missing bool
	// SV is runit 2's sv, used when runsvctrl and runsvstat are absent.
	SV string
	// Runsvctrl and Runsvstat are runit 1.x's; empty means on the PATH.
	Runsvctrl, Runsvstat string
}

// runitVerbs are each control operation's runsvctrl letter and sv command:
// sv down/up/kill write the same d/u/k to supervise/control.
var runitVerbs = map[OpName][2]string{
	OpStopComponents:  {"d", "down"},
	OpKillComponents:  {"k", "kill"},
	OpStartComponents: {"u", "up"},
}

// control is runsvctrl VERB (or sv COMMAND) on the links of startup.
func (t RunitTools) control(name OpName, startup string, links []string) Op {
	verb := runitVerbs[name]
	argv := []string{cmp.Or(t.Runsvctrl, "runsvctrl"), verb[0]}
	if t.SV != "" {
		argv = []string{t.SV, verb[1]}
	}
	op := command(name, append(argv, prefixed(startup, links)...)...)
	op.Links = links
	return op
}

// StopComponents asks runit (with the tools t) to stop the links of startup.
func StopComponents(t RunitTools, startup string, links []string) Op {
	return t.control(OpStopComponents, startup, links)
}

// KillComponents has runit (with the tools t) kill the links of startup.
func KillComponents(t RunitTools, startup string, links []string) Op {
	return t.control(OpKillComponents, startup, links)
}

// StartComponents asks runit (with the tools t) to start the links of startup.
func StartComponents(t RunitTools, startup string, links []string) Op {
	return t.control(OpStartComponents, startup, links)
}

// RemoveStopAgentFiles removes the stop_agent file of each agent entry,
// root/control/<System>/<Agent>/stop_agent, System and Agent taken from the
// link's target (…/runit/<System>/<Agent>), as DIRAC's AgentModule names
// its ControlDirectory.
func RemoveStopAgentFiles(root string, agents []ManifestEntry) Op {
	argv := []string{"rm", "-f", "--"}
	links := make([]string, 0, len(agents))
	for _, e := range agents {
		argv = append(argv, StopAgentFile(root, e.Target))
		links = append(links, e.Name)
	}
	op := command(OpRemoveStopAgentFiles, argv...)
	op.Links = links
	return op
}

// StopAgentFile is the stop_agent file of the agent whose runit directory
// is target (absolute, or relative to startup).
func StopAgentFile(root, target string) string {
	t := path.Clean(target)
	return path.Join(root, "control", path.Base(path.Dir(t)), path.Base(t), "stop_agent")
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

// LogCheck is what fails a component's log check (spec.checks): a line
// whose DIRAC level is one of Levels, or whose message contains one of
// Patterns (fixed strings).
type LogCheck struct {
	Levels, Patterns []string
}

// CheckLogs scans the log of each item's link (log/current, and svlogd's
// rotated files rotated since), from the item's time on, for lines that
// fail check. Its output is read by ParseFindings.
func CheckLogs(root string, check LogCheck, items []ScanItem) Op {
	args := append([]string{root, strconv.Itoa(len(check.Levels))}, check.Levels...)
	args = append(append(args, strconv.Itoa(len(check.Patterns))), check.Patterns...)
	links := make([]string, 0, len(items))
	for _, it := range items {
		args = append(args, it.Link, it.Since.UTC().Format(logTimeLayout), strconv.FormatInt(it.Since.Unix(), 10))
		links = append(links, it.Link)
	}
	op := script(OpCheckLogs, logScanScript, "vobox-logscan", args...)
	op.Links, op.Scan = links, items
	return op
}

// logTimeLayout is the form the log scan compares DIRAC's time stamps in:
// v7/v8's "2006-01-02 15:04:05 UTC" and v9's "2006-01-02T15:04:05,000000Z"
// both read as it.
const logTimeLayout = "2006-01-02 15:04:05"

// RemoveManifest removes the manifest called name from saveDir.
func RemoveManifest(saveDir, name string) Op {
	return command(OpRemoveManifest, "rm", "-f", "--", path.Join(saveDir, name))
}

// DatabaseService is a system-managed database's argv, expanded for one
// host (spec.database.service): DIRAC v7 and later use the system's
// MySQL/MariaDB.
type DatabaseService struct {
	Start, Stop, Ready []string
}

// DatabaseServiceFor expands spec.database.service for host, or nil when
// the site uses mysql.server (spec.layout.mysqlServer).
func DatabaseServiceFor(spec *diracv1.VOBoxInterventionSpec, host string) *DatabaseService {
	s := spec.Database.Service
	if s == nil {
		return nil
	}
	ready := s.Ready
	if len(ready) == 0 {
		ready = []string{"mysqladmin", "ping"}
	}
	return &DatabaseService{Start: expand(s.Start, host, spec.Reason), Stop: expand(s.Stop, host, spec.Reason),
		Ready: expand(ready, host, spec.Reason)}
}

// StopDatabase runs svc's stop argv, or mysqlServer stop without one.
func StopDatabase(mysqlServer string, svc *DatabaseService) Op {
	if svc != nil {
		return command(OpStopDatabase, svc.Stop...)
	}
	return command(OpStopDatabase, mysqlServer, "stop")
}

// StartDatabase runs svc's start argv, or mysqlServer start without one.
func StartDatabase(mysqlServer string, svc *DatabaseService) Op {
	if svc != nil {
		return command(OpStartDatabase, svc.Start...)
	}
	return command(OpStartDatabase, mysqlServer, "start")
}

// MoveJournal moves the InnoDB journal from from to to and links it back;
// it resumes a move interrupted between the two.
func MoveJournal(from, to string) Op {
	return script(OpMoveJournal, journalScript, "vobox-journal", from, to)
}

// Maintenance expands a maintenance argv template (OpSetMaintenance or
// OpClearMaintenance): each element stays one argument, with {host} and
// {reason} replaced.
func Maintenance(name OpName, template []string, host, reason string) Op {
	return command(name, expand(template, host, reason)...)
}

// MaintenanceOnce runs a maintenance operation (Maintenance) through
// scripts/maintenance.sh: at most once per host and direction for the
// intervention uid, however often it is sent. The marker, a file of
// markerDir named by MaintenanceMarker, is written on the host that runs
// the command, by the same detached process as the command (so that a cut
// session does not split them), under a lock per host (so that a second
// send waits for the first), and removes the other direction's: a crash
// between the command and the status write does not run it again, and the
// next Down (or Up) does. Its output is read by ParseMaintenance.
func MaintenanceOnce(op Op, markerDir, uid, host string) Op {
	mine, other := MaintenanceMarker(uid, host, OpSetMaintenance), MaintenanceMarker(uid, host, OpClearMaintenance)
	if op.Name == OpClearMaintenance {
		mine, other = other, mine
	}
	lock := ".vobox-maintenance-" + uid + "-" + host + ".lock"
	return script(op.Name, maintenanceScript, "vobox-maintenance", append([]string{markerDir, mine, other, lock}, op.Argv...)...)
}

// MaintenanceMarker is the name of the marker that says a maintenance
// operation (OpSetMaintenance or OpClearMaintenance) ran for host.
func MaintenanceMarker(uid, host string, name OpName) string {
	return ".vobox-maintenance-" + uid + "-" + host + "-" + string(name)
}

// ParseMaintenance reads MaintenanceOnce's output: whether the command ran
// in this session (false: its marker said it had run already).
func ParseMaintenance(out []byte) (ran bool) {
	for _, l := range strings.Split(string(out), "\n") {
		switch l {
		case "maintenance\tran":
			return true
		case "maintenance\tskipped":
			return false
		}
	}
	return false
}

// expand is an argv template with {host} and {reason} replaced, each
// element one argument.
func expand(template []string, host, reason string) []string {
	r := strings.NewReplacer("{host}", host, "{reason}", reason)
	argv := make([]string, len(template))
	for i, a := range template {
		argv[i] = r.Replace(a)
	}
	return argv
}

// Reboot expands the spec.reboot.command template (OpReboot) as Maintenance
// does: each element stays one argument, with {host} and {reason} replaced.
// It is shown as it runs.
func Reboot(template []string, host, reason string) Op {
	return Maintenance(OpReboot, template, host, reason)
}

// ProbeArgs are what a probe reads besides the links: the DIRAC root, the
// manifest's name, for a database host mysql.server or the service's
// readiness argv and the journal move (empty when not looked at), and
// spec.layout.runitBin.
type ProbeArgs struct {
	Root, Manifest, MysqlServer, JournalFrom, JournalTo string
	// RunitBin is searched for the runit tools before the PATH, /sbin and /usr/sbin.
	RunitBin string
	// Ready is the argv that exits 0 when the database answers
	// (spec.database.service.ready).
	Ready []string
}

// args are probe.sh's positional arguments, followed by the wait's.
func (a ProbeArgs) args(w *Wait, tick time.Duration) []string {
	args := []string{a.Root, a.Manifest, a.MysqlServer, a.JournalFrom, a.JournalTo, a.RunitBin, strconv.Itoa(len(a.Ready))}
	args = append(args, a.Ready...)
	if w != nil {
		args = append(args, w.Args(tick)...)
	}
	return args
}

// ProbeOp reads the host (scripts/probe.sh) after waiting there for w, when
// not nil, looking every tick. Its output is read by ParseProbe.
func ProbeOp(a ProbeArgs, w *Wait, tick time.Duration) Op {
	return script(OpProbe, opsScript+probeScript, "vobox-probe", a.args(w, tick)...)
}

// Session runs ops in order, in one session, then the probe of a (after
// its wait for w, when not nil), unless a is nil: the probe that verifies a
// move rides along with it. Its output is split by SplitStepOutput, the
// rest read by ParseProbe; the first operation that fails ends it.
func Session(ops []Op, a *ProbeArgs, w *Wait, tick time.Duration) Op {
	text := opsScript + stepScript
	if a != nil {
		text += probeScript
	}
	args := append(opGroups(ops), "--")
	if a != nil {
		args = append(args, a.args(w, tick)...)
	}
	return script(OpSession, text, "vobox-step", args...)
}

// opGroups are ops as run_ops (scripts/ops.sh) takes them: each one's
// argument count, then its argv.
func opGroups(ops []Op) []string {
	var args []string
	for _, op := range ops {
		args = append(append(args, strconv.Itoa(len(op.Argv))), op.Argv...)
	}
	return args
}

func prefixed(dir string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = path.Join(dir, n)
	}
	return out
}
