package procedure

import (
	"slices"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// Action is the kind of work a tier does on each of its hosts.
type Action string

const (
	// ActionSetMaintenance runs the maintenance set template.
	ActionSetMaintenance Action = "SetMaintenance"
	// ActionStopAgents stops and parks the agent links.
	ActionStopAgents Action = "StopAgents"
	// ActionStopServices stops and parks every remaining link.
	ActionStopServices Action = "StopServices"
	// ActionStopDatabase stops mysqld and moves the InnoDB journal where configured.
	ActionStopDatabase Action = "StopDatabase"
	// ActionStartDatabase starts mysqld unless it already runs.
	ActionStartDatabase Action = "StartDatabase"
	// ActionStartServices restores and checks the service links.
	ActionStartServices Action = "StartServices"
	// ActionStartAgents restores and checks the agent links.
	ActionStartAgents Action = "StartAgents"
	// ActionClearMaintenance runs the maintenance clear template.
	ActionClearMaintenance Action = "ClearMaintenance"
)

// Tier is one ordered stage of the procedure: a phase condition, the work it
// does and the hosts that take part. A tier starts only when the previous one
// is done.
type Tier struct {
	// Condition is the phase condition type the tier sets.
	Condition string
	// Action is the work done on each host.
	Action Action
	// Hosts are the names of the hosts taking part, in spec order.
	Hosts []string
	// Skipped is true when the tier is disabled (maintenance off).
	Skipped bool
}

// Plan is the ordered list of tiers for one desired state.
type Plan struct {
	// State is the desired state the plan reaches.
	State diracv1.State
	// Tiers are run in order.
	Tiers []Tier
	// Cycle is true for a cycle's plan (spec.cycle): the Down tiers, the
	// Rebooted tier when spec.reboot is set, then the Up tiers, ending Up.
	Cycle bool
}

// HostsAfter returns the hosts of the first tier after tier i that runs
// (not skipped, with hosts), or nil.
func (p Plan) HostsAfter(i int) []string {
	for _, t := range p.Tiers[i+1:] {
		if !t.Skipped && len(t.Hosts) > 0 {
			return t.Hosts
		}
	}
	return nil
}

// Total counts the host steps of the plan.
func (p Plan) Total() int {
	n := 0
	for _, t := range p.Tiers {
		if !t.Skipped {
			n += len(t.Hosts)
		}
	}
	return n
}

// Tier returns the tier that sets the given condition, or nil.
func (p Plan) Tier(condition string) *Tier {
	for i := range p.Tiers {
		if p.Tiers[i].Condition == condition {
			return &p.Tiers[i]
		}
	}
	return nil
}

// BuildPlan turns a spec into the ordered tiers of the procedure. It is pure:
// the same spec always gives the same plan, which is shown in the status
// before anything runs.
//
// Down: MaintenanceSet (all) → AgentsStopped (Agents) → ServicesStopped
// (Services, Framework) → DatabasesStopped (Database).
// Up: DatabasesStarted (Database) → FrameworkStarted (Framework) →
// ServicesStarted (Services) → AgentsStarted (Agents) → MaintenanceCleared (all).
//
// A cycle (spec.cycle with state Up) is both in one plan, with the Rebooted
// tier between them when spec.reboot is set (cycle.go).
func BuildPlan(spec *diracv1.VOBoxInterventionSpec) Plan {
	if IsCycle(spec) {
		return buildCyclePlan(spec)
	}
	all := make([]string, 0, len(spec.Hosts))
	for _, h := range spec.Hosts {
		all = append(all, h.Name)
	}
	with := func(roles ...diracv1.Role) []string {
		var names []string
		for _, h := range spec.Hosts {
			if slices.ContainsFunc(roles, func(r diracv1.Role) bool { return slices.Contains(h.Roles, r) }) {
				names = append(names, h.Name)
			}
		}
		return names
	}
	maintenanceOff := spec.Maintenance.Enabled != nil && !*spec.Maintenance.Enabled

	if spec.State == diracv1.StateDown {
		return Plan{State: diracv1.StateDown, Tiers: []Tier{
			{Condition: diracv1.MaintenanceSetCondition, Action: ActionSetMaintenance, Hosts: all, Skipped: maintenanceOff},
			{Condition: diracv1.AgentsStoppedCondition, Action: ActionStopAgents, Hosts: with(diracv1.RoleAgents)},
			{Condition: diracv1.ServicesStoppedCondition, Action: ActionStopServices, Hosts: with(diracv1.RoleServices, diracv1.RoleFramework)},
			{Condition: diracv1.DatabasesStoppedCondition, Action: ActionStopDatabase, Hosts: with(diracv1.RoleDatabase)},
		}}
	}
	return Plan{State: diracv1.StateUp, Tiers: []Tier{
		{Condition: diracv1.DatabasesStartedCondition, Action: ActionStartDatabase, Hosts: with(diracv1.RoleDatabase)},
		{Condition: diracv1.FrameworkStartedCondition, Action: ActionStartServices, Hosts: with(diracv1.RoleFramework)},
		{Condition: diracv1.ServicesStartedCondition, Action: ActionStartServices, Hosts: with(diracv1.RoleServices)},
		{Condition: diracv1.AgentsStartedCondition, Action: ActionStartAgents, Hosts: with(diracv1.RoleAgents)},
		{Condition: diracv1.MaintenanceClearedCondition, Action: ActionClearMaintenance, Hosts: all, Skipped: maintenanceOff},
	}}
}

// LinkClass says which tier a startup link belongs to.
type LinkClass string

const (
	ClassAgent   LinkClass = "agent"
	ClassService LinkClass = "service"
)

// Classify decides a link's class from the host's roles: a host that runs
// only agents or only services needs no guess; a host with both roles tells
// agents from services by their runit run script (DIRAC's run scripts exec
// dirac-agent or dirac-executor for agents).
func Classify(roles []diracv1.Role, runScriptIsAgent bool) LinkClass {
	agents := slices.Contains(roles, diracv1.RoleAgents)
	services := slices.Contains(roles, diracv1.RoleServices) || slices.Contains(roles, diracv1.RoleFramework)
	switch {
	case agents && !services:
		return ClassAgent
	case services && !agents:
		return ClassService
	case runScriptIsAgent:
		return ClassAgent
	default:
		return ClassService
	}
}

// ClassesFor returns the link classes a tier action handles on a host.
// Stopping services parks everything left, so nothing keeps running on a
// services host whatever its classification; starting services on a host
// without the Agents role restores everything, for the same reason.
func ClassesFor(action Action, roles []diracv1.Role) []LinkClass {
	hasAgents := slices.Contains(roles, diracv1.RoleAgents)
	switch action {
	case ActionStopAgents, ActionStartAgents:
		return []LinkClass{ClassAgent}
	case ActionStopServices:
		return []LinkClass{ClassAgent, ClassService}
	case ActionStartServices:
		if hasAgents {
			return []LinkClass{ClassService}
		}
		return []LinkClass{ClassAgent, ClassService}
	}
	return nil
}

// LastStartTier reports whether action is the last component-starting tier
// of the Up plan for a host with these roles: the manifest is removed after it.
func LastStartTier(action Action, condition string, roles []diracv1.Role) bool {
	switch {
	case slices.Contains(roles, diracv1.RoleAgents):
		return action == ActionStartAgents
	case slices.Contains(roles, diracv1.RoleServices):
		return condition == diracv1.ServicesStartedCondition
	case slices.Contains(roles, diracv1.RoleFramework):
		return condition == diracv1.FrameworkStartedCondition
	}
	return false
}
