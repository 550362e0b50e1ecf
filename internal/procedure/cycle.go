package procedure

import (
	_ "embed"
	"slices"
	"strconv"
	"strings"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// PlaceholderBootID stands for a host's boot id in a plan description.
const PlaceholderBootID = "BOOTID"

// ActionReboot sends spec.reboot.command to a host and waits until it
// answers again, with its pinned host key and a new boot id.
const ActionReboot Action = "Reboot"

// IsCycle reports whether spec asks for a cycle: spec.cycle with state Up
// (the API refuses a cycle with state Down).
func IsCycle(spec *diracv1.VOBoxInterventionSpec) bool {
	return spec.Cycle != "" && spec.State == diracv1.StateUp
}

// IsRolling reports whether spec asks for a rolling cycle.
func IsRolling(spec *diracv1.VOBoxInterventionSpec) bool {
	return IsCycle(spec) && spec.Strategy.Rolling != nil && spec.Strategy.Rolling.MaxUnavailable > 0
}

// buildCyclePlan is the plan of a cycle: the Down tiers, the Rebooted tier
// when spec.reboot is set, then the Up tiers, in one list. A rolling cycle
// has the same tiers; each host goes through its own share of them (see
// RollingOrder), so the list shows, per tier, how many hosts passed it.
func buildCyclePlan(spec *diracv1.VOBoxInterventionSpec) Plan {
	down, up := *spec, *spec
	down.State, up.State = diracv1.StateDown, diracv1.StateUp
	down.Cycle, up.Cycle = "", ""
	tiers := slices.Clone(BuildPlan(&down).Tiers)
	if spec.Reboot != nil {
		all := make([]string, 0, len(spec.Hosts))
		for _, h := range spec.Hosts {
			all = append(all, h.Name)
		}
		tiers = append(tiers, Tier{Condition: diracv1.RebootedCondition, Action: ActionReboot, Hosts: all})
	}
	tiers = append(tiers, BuildPlan(&up).Tiers...)
	return Plan{State: diracv1.StateUp, Cycle: true, Tiers: tiers}
}

// DownTiers is how many tiers at the head of the plan take hosts down:
// all of a Down plan's, those before the Rebooted and Up tiers of a
// cycle's, none of an Up plan's.
func (p Plan) DownTiers() int {
	for i, t := range p.Tiers {
		if t.Action == ActionReboot || t.Action == ActionStartDatabase {
			return i
		}
	}
	return len(p.Tiers)
}

// rollingOrder is the order roles are cycled in, and why: what depends on
// a role is cycled before it, so that each role goes down while what it
// serves is still fully up. Agents call the services, and nothing calls
// the agents: their hosts go first. Services hosts next, while the
// Framework (the Configuration Server, the SystemAdministrator, the
// proxies every other component asks) runs. The Framework then, while the
// databases under it are up. The databases last: every DIRAC component
// holds connections to them, and each of their hosts out of service is
// felt everywhere, so they go out one batch at a time when everything
// else is back.
var rollingOrder = []diracv1.Role{diracv1.RoleAgents, diracv1.RoleServices, diracv1.RoleFramework, diracv1.RoleDatabase}

// RollingGroup is the role a host is cycled with in a rolling cycle: of
// its roles, the one cycled last (a host that runs a database and
// services is cycled with the databases).
func RollingGroup(roles []diracv1.Role) diracv1.Role {
	group := rollingOrder[0]
	for _, r := range rollingOrder {
		if slices.Contains(roles, r) {
			group = r
		}
	}
	return group
}

// RollingGroups returns the hosts of spec in the groups a rolling cycle
// takes them in, in order (Agents, Services, Framework, Database), each in
// spec order; empty groups are left out.
func RollingGroups(spec *diracv1.VOBoxInterventionSpec) [][]string {
	var out [][]string
	for _, role := range rollingOrder {
		var names []string
		for _, h := range spec.Hosts {
			if RollingGroup(h.Roles) == role {
				names = append(names, h.Name)
			}
		}
		if len(names) > 0 {
			out = append(out, names)
		}
	}
	return out
}

// rebootScript runs the reboot command once per boot, behind a marker on
// the host. Parsed by ParseReboot.
//
//go:embed scripts/reboot.sh
var rebootScript string

func init() { rebootScript = stripComments(detachScript + rebootScript) }

// RebootOnce runs a reboot operation (Reboot) through scripts/reboot.sh: at
// most once for the host's boot bootID, for the reboot the intervention uid
// marked as sent at markedAt (Unix seconds; a reboot marked anew, after a
// person retried a failed host, runs again). The
// marker, a file of markerDir named by RebootMarker, is written before the
// command runs and survives the reboot, so that an operator that cannot
// tell whether it sent the command (killed after marking it as sent in its
// status) sends it again safely. Its output is read by ParseReboot.
func RebootOnce(op Op, markerDir, uid string, markedAt int64, bootID string) Op {
	prefix := rebootMarkerPrefix(uid)
	marker := RebootMarker(uid, markedAt, bootID)
	return script(OpReboot, rebootScript, "vobox-reboot", append([]string{markerDir, marker, prefix}, op.Argv...)...)
}

func rebootMarkerPrefix(uid string) string { return ".vobox-reboot-" + uid + "-" }

// RebootMarker is the name of the marker that says the reboot of the boot
// bootID, marked at markedAt, was sent for the intervention uid.
func RebootMarker(uid string, markedAt int64, bootID string) string {
	return rebootMarkerPrefix(uid) + strconv.FormatInt(markedAt, 10) + "-" + bootID
}

// ParseReboot reads RebootOnce's output: false when its marker said the
// command was sent already, and it was not run again.
func ParseReboot(out []byte) (ran bool) {
	for _, l := range strings.Split(string(out), "\n") {
		if l == "reboot\tskipped" {
			return false
		}
	}
	return true
}
