package procedure

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/hostsim"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// TestOnceScriptsSurviveACutSession: the controller killed in the middle
// of a maintenance or reboot command cuts its session, and the executor's
// watchdog then kills the session's process group. The command, once
// started, still runs to its end together with its marker: a maintenance
// command that acted is not run again by the resumed controller, and a
// reboot marked on the host is sent, never only marked (issue 13.5; the
// second was a cycle that waited 5 minutes for hosts never rebooted).
func TestOnceScriptsSurviveACutSession(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false)
		dir := hostsim.DiracRoot + "/startup-save"
		// The command acts at once, then takes a while to return (a
		// maintenance service's answer); the reboot is slow to act.
		// Each says it started (the moment the session is cut), then acts.
		if err := os.WriteFile(h.Path("bin", "slow-act"), []byte("#!/bin/sh\necho started >> \"$SIM_DIR/acts\"\necho \"$1\" >> \"$SIM_DIR/acts\"\nsleep 0.6\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(h.Path("bin", "slow-reboot"), []byte("#!/bin/sh\necho started >> \"$SIM_DIR/acts\"\nsleep 0.6\necho reboot >> \"$SIM_DIR/acts\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		acts := func(what string) int {
			b, _ := os.ReadFile(h.Path("acts"))
			return strings.Count(string(b), what)
		}
		// cut runs op and cuts its session once the command has started
		// (however loaded the machine), as a killed controller would.
		cut := func(op Op) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			before := acts("started")
			go func() {
				for ctx.Err() == nil && acts("started") == before {
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
			}()
			_, err := h.Run(ctx, op.Argv)
			if te := (*remote.TimeoutError)(nil); !errors.As(err, &te) {
				t.Fatalf("%s: the session was not cut: %v", op.Name, err)
			}
		}
		settle := func(what string, want int) {
			t.Helper()
			for end := time.Now().Add(5 * time.Second); acts(what) < want && time.Now().Before(end); {
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(700 * time.Millisecond) // whatever would run twice has had its time
		}

		set := MaintenanceOnce(Maintenance(OpSetMaintenance, []string{"slow-act", "set-{host}"}, "vobox1", "power"), dir, "uid1", "vobox1")
		cut(set)
		settle("set-vobox1", 1)
		if res := runSim(t, h, set.Argv); res.ExitCode != 0 || ParseMaintenance(res.Stdout) {
			t.Errorf("set sent again after the cut: exited %d, ran %v: %s%s", res.ExitCode, ParseMaintenance(res.Stdout), res.Stdout, res.Stderr)
		}
		if n := acts("set-vobox1"); n != 1 {
			t.Errorf("maintenance set ran %d times across a cut session and a resend, want once", n)
		}
		// What the cut run left (its output files, the lock) is gone: the
		// marker alone stays.
		var left []string
		entries, _ := os.ReadDir(h.Path("dirac", "startup-save"))
		for _, e := range entries {
			if strings.Contains(e.Name(), "vobox-maintenance") {
				left = append(left, e.Name())
			}
		}
		if want := []string{MaintenanceMarker("uid1", "vobox1", OpSetMaintenance)}; !slices.Equal(left, want) {
			t.Errorf("startup-save holds %v after the resend, want only %v", left, want)
		}

		reboot := RebootOnce(Reboot([]string{"slow-reboot"}, "vobox1", "kernel"), dir, "uid1", 100, "boot-a")
		cut(reboot)
		settle("reboot", 1)
		if n := acts("reboot"); n != 1 {
			t.Errorf("the reboot ran %d times after its session was cut once it marked it, want once", n)
		}
		if res := runSim(t, h, reboot.Argv); res.ExitCode != 0 || ParseReboot(res.Stdout) {
			t.Errorf("reboot sent again: exited %d, ran %v", res.ExitCode, ParseReboot(res.Stdout))
		}
		if n := acts("reboot"); n != 1 {
			t.Errorf("%d reboots, want 1", n)
		}
	})
}
