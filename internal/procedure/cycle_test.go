package procedure

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
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
	if len(steps) != 3 || steps[1].Name != string(OpReboot) || !strings.HasSuffix(strings.Join(steps[1].Command, " "), " sudo /sbin/reboot db") ||
		!strings.Contains(strings.Join(steps[1].Command, " "), RebootMarker("uid", 0, PlaceholderBootID)) ||
		steps[0].Name != string(OpProbe) || !strings.Contains(steps[2].When, "new boot id") {
		t.Errorf("Rebooted tier's steps: %+v", steps)
	}
}

// TestRebootOnceScript: the reboot command runs at most once per boot and
// mark, however often it is sent (the marker is written before it runs and
// survives the reboot); a command that fails leaves no marker and runs
// again; a new mark runs it again and removes the old markers.
func TestRebootOnceScript(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false)
		dir := hostsim.DiracRoot + "/startup-save"
		// The host's "reboot": it logs, then exits as the session drops.
		if err := os.WriteFile(h.Path("bin", "fake-reboot"), []byte("#!/bin/sh\necho rebooting \"$1\" >> \"$SIM_DIR/reboots\"\nexit \"${2:-0}\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		reboots := func() int {
			b, _ := os.ReadFile(h.Path("reboots"))
			return strings.Count(string(b), "rebooting")
		}
		op := func(markedAt int64, boot string, args ...string) Op {
			return RebootOnce(Reboot(append([]string{"fake-reboot", "{host}"}, args...), "vobox1", "kernel"), dir, "uid1", markedAt, boot)
		}
		run := func(o Op, wantCode int, wantRan bool) {
			t.Helper()
			res := runSim(t, h, o.Argv)
			if res.ExitCode != wantCode || ParseReboot(res.Stdout) != wantRan {
				t.Fatalf("exited %d, ran %v (want %d, %v): %s%s", res.ExitCode, ParseReboot(res.Stdout), wantCode, wantRan, res.Stdout, res.Stderr)
			}
		}
		first := op(100, "boot-a")
		if first.Name != OpReboot || first.Display()[0] != "vobox-reboot" || !slices.Contains(first.Display(), "fake-reboot") {
			t.Errorf("shown as %v", first.Display())
		}
		run(first, 0, true)
		run(first, 0, false) // sent again after a crash: not run
		run(first, 0, false) // and after the reboot, on the new boot
		if n := reboots(); n != 1 {
			t.Fatalf("%d reboots for one mark, want 1", n)
		}
		run(op(200, "boot-b", "1"), 1, true) // sudo refusing: no marker left
		run(op(200, "boot-b"), 0, true)      // so a retry runs
		if n := reboots(); n != 3 {
			t.Errorf("%d reboot commands, want 3", n)
		}
		entries, _ := os.ReadDir(h.Path("dirac", "startup-save"))
		var markers []string
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".vobox-reboot-") {
				markers = append(markers, e.Name())
			}
		}
		if want := []string{RebootMarker("uid1", 200, "boot-b")}; !slices.Equal(markers, want) {
			t.Errorf("markers %v, want %v", markers, want)
		}
	})
}
