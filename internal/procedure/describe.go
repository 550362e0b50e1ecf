package procedure

import (
	"fmt"
	"path"
	"slices"
	"strings"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// Placeholders stand, in a described command, for what only the host's probe
// can tell. They are written in capitals and made of characters a shell takes
// literally, so a rendered command line stays readable.
const (
	// PlaceholderLinks stands for the startup link names a step acts on.
	PlaceholderLinks = "LINK..."
	// PlaceholderManifest stands for the manifest's content, one line per link.
	PlaceholderManifest = "MANIFEST"
	// PlaceholderUID stands for the intervention's UID when it is not known yet.
	PlaceholderUID = "UID"
)

// TierDescription is one tier of a plan as people read it: what it sets, what
// it does and, per host, the commands the controller may run there.
type TierDescription struct {
	// Condition is the phase condition type the tier sets.
	Condition string
	// Action is the work done on each host.
	Action Action
	// Skipped is true when the tier is disabled (maintenance off).
	Skipped bool
	// Note says what holds the tier back besides the previous tier, if anything.
	Note string
	// Hosts are the hosts taking part, in plan order; a skipped tier's hosts
	// have no steps.
	Hosts []HostDescription
}

// HostDescription is one host's part in a tier.
type HostDescription struct {
	// Name is the host's name in spec.hosts.
	Name string
	// Links says which startup links the tier handles on this host; empty for
	// maintenance and database tiers.
	Links string
	// Steps are the commands in the order the controller takes them. Each runs
	// only when the probe before it says it is needed (see When), so a step
	// that is already done on the host is not run again.
	Steps []StepDescription
}

// StepDescription is one remote command of a host's part in a tier.
type StepDescription struct {
	// Name is the step as status.hosts[].lastStep.name shows it once it ran.
	Name string
	// On is the host the command runs on (another host for maintenance with
	// spec.maintenance.runOn).
	On string
	// Command is the argv as status.hosts[].lastStep.command shows it: fixed
	// scripts by their name ($0), arguments in full, and placeholders
	// (PlaceholderLinks, PlaceholderManifest) for what the probe finds.
	Command []string
	// When says in which case the step runs, as a sentence for people.
	When string
}

// CommandLine renders Command as one POSIX shell command line, quoted as the
// executor quotes it.
func (s StepDescription) CommandLine() string {
	if len(s.Command) == 0 {
		return "(no command)"
	}
	line, err := remote.Quote(s.Command)
	if err != nil {
		return strings.Join(s.Command, " ")
	}
	return line
}

// DescribePlan turns a spec into the tiers of its plan (BuildPlan) and, for
// every host of every tier, the commands the controller may run there. It is
// pure and runs nothing: link names, which only the host's probe can tell,
// are shown as PlaceholderLinks. uid is the intervention's UID, which names
// the on-host manifest; empty shows PlaceholderUID.
//
// The spec is read as the API server stores it, with its defaults applied.
func DescribePlan(spec *diracv1.VOBoxInterventionSpec, uid string) []TierDescription {
	if uid == "" {
		uid = PlaceholderUID
	}
	plan := BuildPlan(spec)
	out := make([]TierDescription, 0, len(plan.Tiers))
	for i := range plan.Tiers {
		t := &plan.Tiers[i]
		td := TierDescription{Condition: t.Condition, Action: t.Action, Skipped: t.Skipped}
		if t.Action == ActionStartAgents && i > 0 {
			td.Note = fmt.Sprintf("starts %s after %s finished (spec.checks.settleDelay)",
				spec.Checks.SettleDelay.Duration, plan.Tiers[i-1].Condition)
		}
		if t.Skipped {
			td.Note = "skipped: spec.maintenance.enabled is false"
		}
		for _, name := range t.Hosts {
			hd := HostDescription{Name: name}
			if !t.Skipped {
				hd = describeHost(spec, uid, t, name)
			}
			td.Hosts = append(td.Hosts, hd)
		}
		out = append(out, td)
	}
	return out
}

// describeHost lists the steps of one host in one tier, mirroring
// runHostStep: maintenance is one command; the other tiers probe, then run
// what the decide function of their action asks for.
func describeHost(spec *diracv1.VOBoxInterventionSpec, uid string, t *Tier, name string) HostDescription {
	h := hostSpec(spec, name)
	hd := HostDescription{Name: name}
	root := spec.Layout.DiracRoot
	startup, save := path.Join(root, "startup"), path.Join(root, "startup-save")
	manifest := ManifestName(uid)
	links := []string{PlaceholderLinks}
	step := func(op Op, when string) StepDescription {
		return StepDescription{Name: string(op.Name), On: hd.Name, Command: op.Display(), When: when}
	}
	probe := func(mysql, jfrom, jto string) StepDescription {
		reads := "the links, runit's state and the manifest"
		switch {
		case jfrom != "":
			reads = "mysql.server, mysqld and the InnoDB journal"
		case mysql != "":
			reads = "mysql.server and mysqld"
		}
		args := ProbeArgs{Root: root, Manifest: manifest, MysqlServer: mysql, JournalFrom: jfrom, JournalTo: jto, RunitBin: spec.Layout.RunitBin}
		if svc := DatabaseServiceFor(spec, name); svc != nil && mysql != "" {
			args.MysqlServer, args.Ready = "", svc.Ready
			reads = strings.Replace(reads, "mysql.server", "mysqld, its readiness ("+strings.Join(svc.Ready, " ")+")", 1)
		}
		return step(ProbeOp(args, nil, 0), "before every step: reads "+reads)
	}

	switch t.Action {
	case ActionSetMaintenance, ActionClearMaintenance:
		template, op := spec.Maintenance.Set, OpSetMaintenance
		if t.Action == ActionClearMaintenance {
			template, op = spec.Maintenance.Clear, OpClearMaintenance
		}
		st := step(Maintenance(op, template, name, spec.Reason), "")
		if spec.Maintenance.RunOn != "" {
			st.On = spec.Maintenance.RunOn
		}
		hd.Steps = []StepDescription{st}
		if t.Action == ActionClearMaintenance && ClearRemovesManifest(spec) && ParksLinks(h) {
			hd.Steps = []StepDescription{step(RemoveManifest(save, manifest), "in the same session, before it: deferred from the host's last start tier, every link being back"), st}
		}

	case ActionStopAgents, ActionStopServices:
		classes := ClassesFor(t.Action, h.Roles)
		hd.Links = describeLinks(h, classes, true)
		if len(h.Exclude) > 0 {
			hd.Links += "; parked and never restarted: " + strings.Join(h.Exclude, ", ")
		}
		record := RecordManifest(save, manifest, &Manifest{})
		record.display = manifestDisplay(save, manifest, PlaceholderManifest)
		hd.Steps = []StepDescription{
			probe("", "", ""),
			step(record, "once, before anything moves: records every link of startup (target, class, up or down, excluded)"),
			step(StopComponents(RunitTools{}, startup, links), "for the links that run (runsvctrl and runsvstat where the probe finds them: spec.layout.runitBin, the PATH, /sbin, /usr/sbin; else sv down)"),
			step(KillComponents(RunitTools{}, startup, links), fmt.Sprintf("for the links still running after spec.strategy.stopTimeout (%s)", spec.Strategy.StopTimeout.Duration)),
			step(DropDuplicateLinks(startup, links), "for a stopped link already parked in startup-save with the same target"),
			step(ParkLinks(startup, save, links), "for the stopped links: moves them to startup-save, never overwriting (mv -n -T); in the session of their stop, once every one is down"),
		}

	case ActionStartServices, ActionStartAgents:
		classes := ClassesFor(t.Action, h.Roles)
		hd.Links = describeLinks(h, classes, false)
		if len(h.Exclude) > 0 {
			hd.Links += "; left in startup-save: " + strings.Join(h.Exclude, ", ")
		}
		scan := CheckLogs(root, LogCheck{Levels: spec.Checks.ErrorLevels, Patterns: spec.Checks.ErrorPatterns}, nil)
		scan.display = append(scan.display, "LINK", "SINCE...")
		hd.Steps = []StepDescription{
			probe("", "", ""),
			step(RemoveStopAgentFiles(root, []ManifestEntry{{Name: PlaceholderLinks, Target: "SYSTEM/AGENT"}}), "before restoring agents that were up: the stop_agent a kill left behind"),
			step(RestoreLinks(save, startup, links), fmt.Sprintf("for the parked links: moves them back to startup, never overwriting (mv -n -T); those matching spec.checks.startFirst (%s) first, up for componentUptime before the others, those matching spec.checks.startLast (%s) last",
				strings.Join(spec.Checks.StartFirst, ", "), strings.Join(spec.Checks.StartLast, ", "))),
			step(DropDuplicateLinks(save, links), "for a parked link already back in startup with the same target"),
			step(StartComponents(RunitTools{}, startup, links), "for restored links that were up before the intervention and that runit holds down"),
			step(scan, fmt.Sprintf("once every link stayed up spec.checks.componentUptime (%s), in the session that waits for it: fails the host on log lines since the start (log/current and svlogd's files rotated since) at one of spec.checks.errorLevels or whose message matches spec.checks.errorPatterns",
				spec.Checks.ComponentUptime.Duration)),
		}
		if LastStartTier(t.Action, t.Condition, h.Roles) && !ClearRemovesManifest(spec) {
			hd.Steps = append(hd.Steps, step(RemoveManifest(save, manifest), "after the host's last start tier, once every link is back"))
		}

	case ActionStopDatabase:
		jfrom, jto := JournalMove(spec, name)
		hd.Steps = []StepDescription{
			probe(spec.Layout.MysqlServer, jfrom, jto),
			step(StopDatabase(spec.Layout.MysqlServer, DatabaseServiceFor(spec, name)), fmt.Sprintf("if mysqld runs; then waits for it to stop, up to spec.strategy.stepTimeout (%s)", spec.Strategy.StepTimeout.Duration)),
		}
		if jfrom != "" {
			hd.Steps = append(hd.Steps, step(MoveJournal(jfrom, jto), fmt.Sprintf("once mysqld is gone: mv %s %s, then a symlink back", jfrom, jto)))
		}

	case ActionReboot:
		hd.Steps = []StepDescription{
			probe("", "", ""),
			step(RebootOnce(Reboot(spec.Reboot.Command, name, spec.Reason), save, uid, 0, PlaceholderBootID),
				"once the host's Down tiers are done, its boot id recorded in the status first; at most once per boot (a marker on the host, written before the command); the session dropping is expected"),
			probe("", "", ""),
		}
		hd.Steps[2].When = fmt.Sprintf("until the host answers with its pinned host key and a new boot id, up to spec.reboot.timeout (%s)", spec.Reboot.Timeout.Duration)

	case ActionStartDatabase:
		jfrom, jto := JournalMove(spec, name)
		hd.Steps = []StepDescription{
			probe(spec.Layout.MysqlServer, jfrom, jto),
			step(StartDatabase(spec.Layout.MysqlServer, DatabaseServiceFor(spec, name)), fmt.Sprintf("unless mysqld already runs (with spec.database.service: unless it answers its ready argv); then waits for it, up to spec.strategy.stepTimeout (%s)", spec.Strategy.StepTimeout.Duration)),
		}
	}
	return hd
}

// ClearRemovesManifest says whether the plan's maintenance clear runs on
// each host itself, after its last start tier: the manifest's removal then
// rides in its session instead of one of its own.
func ClearRemovesManifest(spec *diracv1.VOBoxInterventionSpec) bool {
	if spec.Maintenance.RunOn != "" {
		return false
	}
	tiers := BuildPlan(spec).Tiers
	last := tiers[len(tiers)-1]
	return last.Action == ActionClearMaintenance && !last.Skipped
}

// ParksLinks says whether a host has a role whose links are parked (any
// but Database).
func ParksLinks(h *diracv1.HostSpec) bool {
	return slices.ContainsFunc(h.Roles, func(r diracv1.Role) bool { return r != diracv1.RoleDatabase })
}

// describeLinks says which links a component tier handles on a host, as
// ClassesFor and Classify decide it.
func describeLinks(h *diracv1.HostSpec, classes []LinkClass, stopping bool) string {
	agents := slices.Contains(h.Roles, diracv1.RoleAgents)
	services := slices.Contains(h.Roles, diracv1.RoleServices) || slices.Contains(h.Roles, diracv1.RoleFramework)
	all, some := "every link this intervention parked", "the parked links"
	if stopping {
		all, some = "every startup link", "the startup links"
	}
	switch {
	case len(classes) > 1 && stopping && agents:
		return all + " still there"
	case len(classes) > 1 || !(agents && services):
		return all
	case classes[0] == ClassAgent:
		return some + " whose run script runs dirac-agent or dirac-executor"
	default:
		return some + " whose run script runs neither dirac-agent nor dirac-executor"
	}
}

// hostSpec returns the spec of a listed host, or nil.
func hostSpec(spec *diracv1.VOBoxInterventionSpec, name string) *diracv1.HostSpec {
	for i := range spec.Hosts {
		if spec.Hosts[i].Name == name {
			return &spec.Hosts[i]
		}
	}
	return nil
}

// JournalMove returns the InnoDB journal move of a host (spec.database.innodbLog
// on a Database host it names), or empty strings.
func JournalMove(spec *diracv1.VOBoxInterventionSpec, name string) (from, to string) {
	j := spec.Database.InnodbLog
	if j == nil {
		return "", ""
	}
	h := hostSpec(spec, name)
	if h == nil || !slices.Contains(h.Roles, diracv1.RoleDatabase) {
		return "", ""
	}
	if len(j.Hosts) > 0 && !slices.Contains(j.Hosts, name) {
		return "", ""
	}
	return j.From, j.To
}
