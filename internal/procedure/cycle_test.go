package procedure

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func cycleSpec(reboot bool) *diracv1.VOBoxInterventionSpec {
	spec := &diracv1.VOBoxInterventionSpec{State: diracv1.StateUp, Reason: "kernel", Cycle: "k1", Hosts: []diracv1.HostSpec{
		{Name: "db", Roles: []diracv1.Role{diracv1.RoleDatabase}},
		{Name: "fw", Roles: []diracv1.Role{diracv1.RoleFramework, diracv1.RoleServices}},
		{Name: "s1", Roles: []diracv1.Role{diracv1.RoleServices}},
		{Name: "a1", Roles: []diracv1.Role{diracv1.RoleAgents}},
		{Name: "a2", Roles: []diracv1.Role{diracv1.RoleAgents, diracv1.RoleServices}},
	}}
	if reboot {
		spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot", "{host}"}, Timeout: metav1.Duration{Duration: 15 * time.Minute}}
	}
	return spec
}

// TestBuildCyclePlan: a cycle is the Down plan, the Rebooted tier (every
// host) when spec.reboot is set, then the Up plan, in one list, ending Up.
func TestBuildCyclePlan(t *testing.T) {
	for _, reboot := range []bool{true, false} {
		spec := cycleSpec(reboot)
		p := BuildPlan(spec)
		down, up := *spec, *spec
		down.State, down.Cycle, up.Cycle = diracv1.StateDown, "", ""
		want := slices.Clone(BuildPlan(&down).Tiers)
		if reboot {
			want = append(want, Tier{Condition: diracv1.RebootedCondition, Action: ActionReboot, Hosts: []string{"db", "fw", "s1", "a1", "a2"}})
		}
		want = append(want, BuildPlan(&up).Tiers...)
		if !p.Cycle || p.State != diracv1.StateUp || len(p.Tiers) != len(want) {
			t.Fatalf("reboot %v: plan %+v", reboot, p)
		}
		for i := range want {
			if got := p.Tiers[i]; got.Condition != want[i].Condition || got.Action != want[i].Action || !slices.Equal(got.Hosts, want[i].Hosts) {
				t.Errorf("reboot %v: tier %d = %+v, want %+v", reboot, i, got, want[i])
			}
		}
		if got := p.DownTiers(); got != 4 {
			t.Errorf("reboot %v: DownTiers = %d, want 4", reboot, got)
		}
	}
	// Not a cycle: Up and Down plans are as before.
	spec := cycleSpec(true)
	spec.Cycle = ""
	if p := BuildPlan(spec); p.Cycle || len(p.Tiers) != 5 || p.DownTiers() != 0 {
		t.Errorf("Up with reboot and no cycle: %+v", p)
	}
	spec.State = diracv1.StateDown
	if p := BuildPlan(spec); p.Cycle || len(p.Tiers) != 4 || p.DownTiers() != 4 {
		t.Errorf("Down with reboot: %+v (spec.reboot acts only in a cycle)", p)
	}
}

// TestRollingGroups: Agents, then Services, then Framework, then
// Database; a host goes with the role of its that is cycled last.
func TestRollingGroups(t *testing.T) {
	got := RollingGroups(cycleSpec(true))
	want := [][]string{{"a1"}, {"s1", "a2"}, {"fw"}, {"db"}}
	if len(got) != len(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("group %d = %v, want %v", i, got[i], want[i])
		}
	}
	for _, roles := range roleSubsets() {
		g := RollingGroup(roles)
		if !slices.Contains(roles, g) {
			t.Errorf("RollingGroup(%s) = %s, not one of its roles", roleNames(roles), g)
		}
	}
}

// TestRebootOp: the template is expanded argument by argument, shown as it
// runs, and described between two probes.
func TestRebootOp(t *testing.T) {
	op := Reboot([]string{"sudo", "/sbin/reboot", "--reason={reason} on {host}"}, "volhcb20", "kernel patch")
	want := []string{"sudo", "/sbin/reboot", "--reason=kernel patch on volhcb20"}
	if op.Name != OpReboot || !slices.Equal(op.Argv, want) || !slices.Equal(op.Display(), want) {
		t.Errorf("Reboot = %+v", op)
	}
	var rebooted *TierDescription
	for _, td := range DescribePlan(cycleSpec(true), "uid") {
		if td.Action == ActionReboot {
			rebooted = &td
		}
	}
	if rebooted == nil || len(rebooted.Hosts) != 5 {
		t.Fatalf("DescribePlan has no Rebooted tier of 5 hosts: %+v", rebooted)
	}
	steps := rebooted.Hosts[0].Steps
	if len(steps) != 3 || steps[1].Name != string(OpReboot) || strings.Join(steps[1].Command, " ") != "sudo /sbin/reboot db" ||
		steps[0].Name != string(OpProbe) || !strings.Contains(steps[2].When, "new boot id") {
		t.Errorf("Rebooted tier's steps: %+v", steps)
	}
}
