package procedure

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

var allRoles = []diracv1.Role{diracv1.RoleDatabase, diracv1.RoleFramework, diracv1.RoleServices, diracv1.RoleAgents}

// roleSubsets returns the 15 non-empty subsets of the four roles.
func roleSubsets() [][]diracv1.Role {
	var out [][]diracv1.Role
	for mask := 1; mask < 1<<len(allRoles); mask++ {
		var roles []diracv1.Role
		for i, r := range allRoles {
			if mask&(1<<i) != 0 {
				roles = append(roles, r)
			}
		}
		out = append(out, roles)
	}
	return out
}

func roleNames(roles []diracv1.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, "+")
}

// tierRow is one expected tier: its condition, action and whether the host
// takes part.
type tierRow struct {
	condition string
	action    Action
	member    bool
}

func TestBuildPlanEveryRoleCombination(t *testing.T) {
	for _, roles := range roleSubsets() {
		has := func(r diracv1.Role) bool { return slices.Contains(roles, r) }
		cases := []struct {
			state diracv1.State
			want  []tierRow
		}{
			{diracv1.StateDown, []tierRow{
				{diracv1.MaintenanceSetCondition, ActionSetMaintenance, true},
				{diracv1.AgentsStoppedCondition, ActionStopAgents, has(diracv1.RoleAgents)},
				{diracv1.ServicesStoppedCondition, ActionStopServices, has(diracv1.RoleServices) || has(diracv1.RoleFramework)},
				{diracv1.DatabasesStoppedCondition, ActionStopDatabase, has(diracv1.RoleDatabase)},
			}},
			{diracv1.StateUp, []tierRow{
				{diracv1.DatabasesStartedCondition, ActionStartDatabase, has(diracv1.RoleDatabase)},
				{diracv1.FrameworkStartedCondition, ActionStartServices, has(diracv1.RoleFramework)},
				{diracv1.ServicesStartedCondition, ActionStartServices, has(diracv1.RoleServices)},
				{diracv1.AgentsStartedCondition, ActionStartAgents, has(diracv1.RoleAgents)},
				{diracv1.MaintenanceClearedCondition, ActionClearMaintenance, true},
			}},
		}
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/%s", tc.state, roleNames(roles)), func(t *testing.T) {
				spec := &diracv1.VOBoxInterventionSpec{State: tc.state, Hosts: []diracv1.HostSpec{{Name: "h", Roles: roles}}}
				plan := BuildPlan(spec)
				if plan.State != tc.state {
					t.Errorf("plan state = %s, want %s", plan.State, tc.state)
				}
				if len(plan.Tiers) != len(tc.want) {
					t.Fatalf("plan has %d tiers, want %d: %+v", len(plan.Tiers), len(tc.want), plan.Tiers)
				}
				total := 0
				for i, w := range tc.want {
					got := plan.Tiers[i]
					if got.Condition != w.condition || got.Action != w.action {
						t.Errorf("tier %d = %s/%s, want %s/%s", i, got.Condition, got.Action, w.condition, w.action)
					}
					if got.Skipped {
						t.Errorf("tier %s is skipped with maintenance enabled by default", got.Condition)
					}
					if member := slices.Contains(got.Hosts, "h"); member != w.member {
						t.Errorf("tier %s: host member = %v, want %v", got.Condition, member, w.member)
					}
					if w.member {
						total++
					}
				}
				if plan.Total() != total {
					t.Errorf("Total() = %d, want %d", plan.Total(), total)
				}
			})
		}
	}
}

// TestPlanRestoresWhatItParks checks, for every role combination, that the
// link classes a host parks on Down are exactly the classes its Up tiers
// restore, and that the manifest is removed after its last start tier only.
func TestPlanRestoresWhatItParks(t *testing.T) {
	for _, roles := range roleSubsets() {
		for _, agentScript := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/agentScript=%v", roleNames(roles), agentScript), func(t *testing.T) {
				hosts := []diracv1.HostSpec{{Name: "h", Roles: roles}}
				class := Classify(roles, agentScript)
				parkedBy, restoredBy := "", ""
				for _, tier := range BuildPlan(&diracv1.VOBoxInterventionSpec{State: diracv1.StateDown, Hosts: hosts}).Tiers {
					if slices.Contains(tier.Hosts, "h") && parkedBy == "" && slices.Contains(ClassesFor(tier.Action, roles), class) {
						parkedBy = tier.Condition
					}
				}
				var lastStart []string
				for _, tier := range BuildPlan(&diracv1.VOBoxInterventionSpec{State: diracv1.StateUp, Hosts: hosts}).Tiers {
					if !slices.Contains(tier.Hosts, "h") {
						continue
					}
					if restoredBy == "" && slices.Contains(ClassesFor(tier.Action, roles), class) {
						restoredBy = tier.Condition
					}
					if LastStartTier(tier.Action, tier.Condition, roles) {
						lastStart = append(lastStart, tier.Condition)
					}
				}
				runsComponents := slices.ContainsFunc(roles, func(r diracv1.Role) bool { return r != diracv1.RoleDatabase })
				if !runsComponents {
					if parkedBy != "" || restoredBy != "" || len(lastStart) != 0 {
						t.Fatalf("database-only host parks in %q, restores in %q, removes its manifest in %v; want nothing", parkedBy, restoredBy, lastStart)
					}
					return
				}
				if parkedBy == "" || restoredBy == "" {
					t.Fatalf("a %s link is parked in %q and restored in %q; want both", class, parkedBy, restoredBy)
				}
				if len(lastStart) != 1 {
					t.Fatalf("manifest removed after %v; want exactly one tier", lastStart)
				}
				// The manifest goes after the host's last start tier: no
				// component tier of the host comes after it.
				up := BuildPlan(&diracv1.VOBoxInterventionSpec{State: diracv1.StateUp, Hosts: hosts})
				seen := false
				for _, tier := range up.Tiers {
					if tier.Condition == lastStart[0] {
						seen = true
						continue
					}
					if seen && slices.Contains(tier.Hosts, "h") && len(ClassesFor(tier.Action, roles)) > 0 {
						t.Errorf("tier %s restores links after the manifest was removed in %s", tier.Condition, lastStart[0])
					}
				}
			})
		}
	}
}

func TestBuildPlanTopology(t *testing.T) {
	// The hosts of the documented power stop, in spec order.
	hosts := []diracv1.HostSpec{
		{Name: "volhcb15", Roles: []diracv1.Role{diracv1.RoleServices}},
		{Name: "volhcb17", Roles: []diracv1.Role{diracv1.RoleServices}},
		{Name: "volhcb18", Roles: []diracv1.Role{diracv1.RoleFramework}},
		{Name: "volhcb19", Roles: []diracv1.Role{diracv1.RoleServices}},
		{Name: "volhcb20", Roles: []diracv1.Role{diracv1.RoleAgents}},
		{Name: "volhcb21", Roles: []diracv1.Role{diracv1.RoleDatabase}},
		{Name: "volhcb22", Roles: []diracv1.Role{diracv1.RoleDatabase, diracv1.RoleAgents}},
	}
	all := []string{"volhcb15", "volhcb17", "volhcb18", "volhcb19", "volhcb20", "volhcb21", "volhcb22"}
	off := false
	cases := []struct {
		name        string
		state       diracv1.State
		maintenance *bool
		want        []Tier
		total       int
	}{
		{"down", diracv1.StateDown, nil, []Tier{
			{Condition: diracv1.MaintenanceSetCondition, Action: ActionSetMaintenance, Hosts: all},
			{Condition: diracv1.AgentsStoppedCondition, Action: ActionStopAgents, Hosts: []string{"volhcb20", "volhcb22"}},
			{Condition: diracv1.ServicesStoppedCondition, Action: ActionStopServices, Hosts: []string{"volhcb15", "volhcb17", "volhcb18", "volhcb19"}},
			{Condition: diracv1.DatabasesStoppedCondition, Action: ActionStopDatabase, Hosts: []string{"volhcb21", "volhcb22"}},
		}, 15},
		{"up", diracv1.StateUp, nil, []Tier{
			{Condition: diracv1.DatabasesStartedCondition, Action: ActionStartDatabase, Hosts: []string{"volhcb21", "volhcb22"}},
			{Condition: diracv1.FrameworkStartedCondition, Action: ActionStartServices, Hosts: []string{"volhcb18"}},
			{Condition: diracv1.ServicesStartedCondition, Action: ActionStartServices, Hosts: []string{"volhcb15", "volhcb17", "volhcb19"}},
			{Condition: diracv1.AgentsStartedCondition, Action: ActionStartAgents, Hosts: []string{"volhcb20", "volhcb22"}},
			{Condition: diracv1.MaintenanceClearedCondition, Action: ActionClearMaintenance, Hosts: all},
		}, 15},
		{"down, maintenance disabled", diracv1.StateDown, &off, []Tier{
			{Condition: diracv1.MaintenanceSetCondition, Action: ActionSetMaintenance, Hosts: all, Skipped: true},
			{Condition: diracv1.AgentsStoppedCondition, Action: ActionStopAgents, Hosts: []string{"volhcb20", "volhcb22"}},
			{Condition: diracv1.ServicesStoppedCondition, Action: ActionStopServices, Hosts: []string{"volhcb15", "volhcb17", "volhcb18", "volhcb19"}},
			{Condition: diracv1.DatabasesStoppedCondition, Action: ActionStopDatabase, Hosts: []string{"volhcb21", "volhcb22"}},
		}, 8},
		{"up, maintenance disabled", diracv1.StateUp, &off, []Tier{
			{Condition: diracv1.DatabasesStartedCondition, Action: ActionStartDatabase, Hosts: []string{"volhcb21", "volhcb22"}},
			{Condition: diracv1.FrameworkStartedCondition, Action: ActionStartServices, Hosts: []string{"volhcb18"}},
			{Condition: diracv1.ServicesStartedCondition, Action: ActionStartServices, Hosts: []string{"volhcb15", "volhcb17", "volhcb19"}},
			{Condition: diracv1.AgentsStartedCondition, Action: ActionStartAgents, Hosts: []string{"volhcb20", "volhcb22"}},
			{Condition: diracv1.MaintenanceClearedCondition, Action: ActionClearMaintenance, Hosts: all, Skipped: true},
		}, 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &diracv1.VOBoxInterventionSpec{State: tc.state, Hosts: hosts, Maintenance: diracv1.MaintenanceSpec{Enabled: tc.maintenance}}
			plan := BuildPlan(spec)
			if len(plan.Tiers) != len(tc.want) {
				t.Fatalf("got %d tiers, want %d", len(plan.Tiers), len(tc.want))
			}
			for i, w := range tc.want {
				g := plan.Tiers[i]
				if g.Condition != w.Condition || g.Action != w.Action || g.Skipped != w.Skipped || !slices.Equal(g.Hosts, w.Hosts) {
					t.Errorf("tier %d = %+v, want %+v", i, g, w)
				}
			}
			if plan.Total() != tc.total {
				t.Errorf("Total() = %d, want %d", plan.Total(), tc.total)
			}
			if tier := plan.Tier(tc.want[1].Condition); tier == nil || tier.Condition != tc.want[1].Condition {
				t.Errorf("Tier(%s) = %+v", tc.want[1].Condition, tier)
			}
			if plan.Tier("NoSuchCondition") != nil {
				t.Error("Tier of an unknown condition is not nil")
			}
			// Pure: the same spec gives the same plan.
			again := BuildPlan(spec)
			for i := range plan.Tiers {
				if !slices.Equal(plan.Tiers[i].Hosts, again.Tiers[i].Hosts) || plan.Tiers[i].Condition != again.Tiers[i].Condition {
					t.Fatalf("BuildPlan is not deterministic")
				}
			}
		})
	}
}

func TestClassify(t *testing.T) {
	a, s, f, d := diracv1.RoleAgents, diracv1.RoleServices, diracv1.RoleFramework, diracv1.RoleDatabase
	cases := []struct {
		roles       []diracv1.Role
		agentScript bool
		want        LinkClass
	}{
		{[]diracv1.Role{a}, false, ClassAgent},
		{[]diracv1.Role{a}, true, ClassAgent},
		{[]diracv1.Role{a, d}, false, ClassAgent},
		{[]diracv1.Role{s}, true, ClassService},
		{[]diracv1.Role{f}, true, ClassService},
		{[]diracv1.Role{s, f, d}, true, ClassService},
		{[]diracv1.Role{a, s}, true, ClassAgent},
		{[]diracv1.Role{a, s}, false, ClassService},
		{[]diracv1.Role{a, f}, true, ClassAgent},
		{[]diracv1.Role{a, f}, false, ClassService},
		{[]diracv1.Role{d}, false, ClassService},
	}
	for _, tc := range cases {
		if got := Classify(tc.roles, tc.agentScript); got != tc.want {
			t.Errorf("Classify(%s, agentScript=%v) = %s, want %s", roleNames(tc.roles), tc.agentScript, got, tc.want)
		}
	}
}

func TestClassesFor(t *testing.T) {
	a, s, f := diracv1.RoleAgents, diracv1.RoleServices, diracv1.RoleFramework
	both := []LinkClass{ClassAgent, ClassService}
	cases := []struct {
		action Action
		roles  []diracv1.Role
		want   []LinkClass
	}{
		{ActionStopAgents, []diracv1.Role{a, s}, []LinkClass{ClassAgent}},
		{ActionStartAgents, []diracv1.Role{a}, []LinkClass{ClassAgent}},
		{ActionStopServices, []diracv1.Role{s}, both},
		{ActionStopServices, []diracv1.Role{a, s}, both},
		{ActionStartServices, []diracv1.Role{s}, both},
		{ActionStartServices, []diracv1.Role{f}, both},
		{ActionStartServices, []diracv1.Role{a, f}, []LinkClass{ClassService}},
		{ActionSetMaintenance, []diracv1.Role{s}, nil},
		{ActionStopDatabase, []diracv1.Role{s}, nil},
	}
	for _, tc := range cases {
		if got := ClassesFor(tc.action, tc.roles); !slices.Equal(got, tc.want) {
			t.Errorf("ClassesFor(%s, %s) = %v, want %v", tc.action, roleNames(tc.roles), got, tc.want)
		}
	}
}
