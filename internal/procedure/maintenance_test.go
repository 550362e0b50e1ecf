package procedure

import (
	"os"
	"testing"

	"github.com/vobox-operator/vobox-operator/internal/hostsim"
)

// TestMaintenanceOnceScript: a maintenance command runs at most once per
// host and direction, however often it is sent; a failed one leaves no
// marker and runs again; the other direction's marker goes, so the next
// Down runs set again.
func TestMaintenanceOnceScript(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false)
		dir := hostsim.DiracRoot + "/startup-save"
		set := MaintenanceOnce(Maintenance(OpSetMaintenance, []string{"sms", "set", "maintenance", "{reason}", "other", "{host}"}, "vobox1", "power"), dir, "uid1", "vobox1")
		clear := MaintenanceOnce(Maintenance(OpClearMaintenance, []string{"sms", "clear", "maintenance", "{reason}", "{host}"}, "vobox1", "power"), dir, "uid1", "vobox1")
		if set.Name != OpSetMaintenance || clear.Name != OpClearMaintenance || set.Display()[0] != "vobox-maintenance" {
			t.Errorf("ops %s %s shown as %v", set.Name, clear.Name, set.Display())
		}
		count := func(kind string) int {
			n := 0
			for _, e := range h.Events(t) {
				if e.Kind == kind {
					n++
				}
			}
			return n
		}
		run := func(op Op, wantRan bool) {
			t.Helper()
			res := runSim(t, h, op.Argv)
			if res.ExitCode != 0 || ParseMaintenance(res.Stdout) != wantRan {
				t.Fatalf("%s exited %d, ran %v (want %v): %s%s", op.Name, res.ExitCode, ParseMaintenance(res.Stdout), wantRan, res.Stdout, res.Stderr)
			}
		}
		run(set, true)
		run(set, false)
		if n := count("maintenance-set"); n != 1 {
			t.Errorf("set ran %d times, want once", n)
		}
		run(clear, true)
		run(clear, false)
		if n := count("maintenance-clear"); n != 1 {
			t.Errorf("clear ran %d times, want once", n)
		}
		if _, err := os.Stat(h.Path("dirac", "startup-save", MaintenanceMarker("uid1", "vobox1", OpSetMaintenance))); err == nil {
			t.Errorf("the set marker is still there after clear")
		}
		run(set, true) // the next Down
		if n := count("maintenance-set"); n != 2 {
			t.Errorf("set ran %d times after a second Down, want 2", n)
		}
		// Another intervention has markers of its own.
		run(MaintenanceOnce(Maintenance(OpSetMaintenance, []string{"sms", "set", "maintenance", "x", "other", "vobox1"}, "vobox1", "x"), dir, "uid2", "vobox1"), true)

		// A failing command leaves no marker: it runs again.
		bad := MaintenanceOnce(Maintenance(OpClearMaintenance, []string{"sms", "bogus"}, "vobox1", "power"), dir, "uid3", "vobox1")
		for range 2 {
			if res := runSim(t, h, bad.Argv); res.ExitCode != 2 || ParseMaintenance(res.Stdout) {
				t.Errorf("a failing command exited %d, ran %v", res.ExitCode, ParseMaintenance(res.Stdout))
			}
		}
		// The markers are no links: they never show as parked links.
		if p := probeSim(t, h, ManifestName("uid1"), false); len(p.Save) != 0 || p.BootID != h.BootID(t) {
			t.Errorf("probe: startup-save links %v, boot id %q want %q", p.Save, p.BootID, h.BootID(t))
		}
	})
}
