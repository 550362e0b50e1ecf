package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// rebootScope is statusFixture as a cycle with reboot, with host s1 sent
// its reboot at statusNow from boot id "old".
func rebootScope() (*scope, *diracv1.HostStatus) {
	vbi := statusFixture(diracv1.StateUp, diracv1.FailurePolicyHalt)
	vbi.Spec.Cycle = "k1"
	vbi.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: 15 * time.Minute}}
	s := statusScope(vbi)
	sent := metav1.NewTime(statusNow)
	hs := s.hostStatus("s1")
	hs.WaitingSince, hs.BootID = &sent, "old"
	hs.LastStep = &diracv1.StepStatus{Name: string(procedure.OpReboot), StartedAt: &sent}
	return s, hs
}

// probeOutput is what probe.sh prints on a host booted as boot.
func probeOutput(boot string) []byte {
	return []byte(fmt.Sprintf("now\t%d\nboot\t%s\nroot\tok\n", statusNow.Unix(), boot))
}

// TestAwaitReboot: after the reboot was sent, a new boot id is done (with
// rebootedAt), the old one or no answer a wait, another host key a
// terminal HostKeyMismatch, and no new boot id within spec.reboot.timeout
// RebootTimeout, with no command sent after the timeout.
func TestAwaitReboot(t *testing.T) {
	mismatch := &remote.HostKeyMismatchError{Host: "s1", KeyType: "ssh-ed25519", Fingerprint: "SHA256:other"}
	refused := &remote.ConnectionError{Host: "s1:22", Op: "dial", Err: errors.New("connection refused")}
	cases := []struct {
		name    string
		after   time.Duration
		answer  []byte
		err     error
		done    bool
		reason  string
		waiting bool
		runs    int32
	}{
		{name: "back with a new boot id", after: time.Minute, answer: probeOutput("new"), done: true, runs: 1},
		{name: "not down yet", after: time.Second, answer: probeOutput("old"), waiting: true, runs: 1},
		{name: "down", after: time.Minute, err: refused, waiting: true, runs: 1},
		{name: "back with another host key", after: time.Minute, err: mismatch, reason: diracv1.ReasonHostKeyMismatch, runs: 1},
		{name: "timeout", after: 15 * time.Minute, answer: probeOutput("new"), reason: diracv1.ReasonRebootTimeout, runs: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var runs atomic.Int32
			fake := &remote.Fake{RunFunc: func(context.Context, remote.Target, remote.Command) (remote.Result, error) {
				runs.Add(1)
				return remote.Result{Stdout: tc.answer}, tc.err
			}}
			r := &VOBoxInterventionReconciler{Executor: fake, Clock: clocktesting.NewFakePassiveClock(statusNow.Add(tc.after))}
			s, hs := rebootScope()
			o, waiting := r.awaitReboot(context.Background(), s, s.plan.Tier(diracv1.RebootedCondition), s.host("s1"))
			if o.done != tc.done || (waiting != "") != tc.waiting || runs.Load() != tc.runs {
				t.Errorf("outcome %+v, waiting %q, %d command(s); want done %v, waiting %v, %d command(s)", o, waiting, runs.Load(), tc.done, tc.waiting, tc.runs)
			}
			switch {
			case tc.reason != "" && (o.fail == nil || o.fail.Reason != tc.reason || !o.fail.IsTerminal()):
				t.Errorf("failure %+v, want terminal %s", o.fail, tc.reason)
			case tc.reason == "" && o.fail != nil:
				t.Errorf("failure %+v, want none", o.fail)
			}
			if tc.done && (hs.RebootedAt == nil || !hs.Rebooted) {
				t.Errorf("back: rebootedAt %v rebooted %v", hs.RebootedAt, hs.Rebooted)
			}
		})
	}
}

// TestSendReboot: the session dropping under the command is what a reboot
// looks like; a command that never started is not "sent" when it was
// marked in this pass (the next pass marks and sends it), but stays marked
// when it was a send again (the host may be rebooting from the first); one
// that exited non-zero did not reboot.
func TestSendReboot(t *testing.T) {
	mismatch := &remote.HostKeyMismatchError{Host: "s1", KeyType: "ssh-ed25519", Fingerprint: "SHA256:other"}
	refused := &remote.ConnectionError{Host: "s1:22", Op: "dial", Err: errors.New("refused")}
	cases := []struct {
		name      string
		again     bool
		res       remote.Result
		err       error
		fail      string
		sent      bool
		confirmed bool
	}{
		{name: "returns at once", res: remote.Result{ExitCode: 0}, sent: true, confirmed: true},
		{name: "session dropped (ssh's 255)", res: remote.Result{ExitCode: 255}, sent: true, confirmed: true},
		{name: "connection lost under it", err: &remote.ConnectionError{Host: "s1:22", Op: "command", Err: errors.New("EOF")}, sent: true, confirmed: true},
		{name: "no connection", err: refused, fail: diracv1.ReasonUnreachable},
		{name: "refused by sudo", res: remote.Result{ExitCode: 1, Stderr: []byte("sudo: a password is required")}, fail: diracv1.ReasonCommandFailed, sent: true, confirmed: true},
		{name: "again: no connection", again: true, err: refused, sent: true},
		{name: "again: already sent", again: true, res: remote.Result{Stdout: []byte("reboot\tskipped\n")}, sent: true, confirmed: true},
		{name: "again: another host key", again: true, err: mismatch, fail: diracv1.ReasonHostKeyMismatch, sent: true, confirmed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var argv remote.Command
			fake := &remote.Fake{RunFunc: func(_ context.Context, _ remote.Target, cmd remote.Command) (remote.Result, error) {
				argv = cmd
				return tc.res, tc.err
			}}
			r := &VOBoxInterventionReconciler{Executor: fake, Clock: clocktesting.NewFakePassiveClock(statusNow)}
			s, hs := rebootScope()
			f := r.sendReboot(context.Background(), s, s.host("s1"), !tc.again)
			switch {
			case tc.fail == "" && f != nil, tc.fail != "" && (f == nil || f.Reason != tc.fail):
				t.Errorf("failure %v, want %q", f, tc.fail)
			}
			if got := rebootSent(hs); got != tc.sent {
				t.Errorf("rebootSent = %v after it, want %v (last step %+v)", got, tc.sent, hs.LastStep)
			}
			if got := hs.LastStep.FinishedAt != nil; tc.sent && got != tc.confirmed {
				t.Errorf("send recorded as done: %v, want %v", got, tc.confirmed)
			}
			if n := len(argv); n < 2 || argv[n-2] != "sudo" || argv[n-1] != "/sbin/reboot" || argv[0] != "sh" {
				t.Errorf("ran %q, want the reboot script around sudo /sbin/reboot", argv)
			}
		})
	}
}

// TestRebootNeverBack: a reboot command that does nothing is sent once,
// however many passes wait for the host (each reads the status back from
// the API server, as an operator restarted mid-reboot does), and the host
// fails with RebootTimeout after spec.reboot.timeout: nothing further runs
// on it, nothing is started, maintenance is not cleared.
func TestRebootNeverBack(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for a 1m reboot timeout")
	}
	svc := hostsim.NewHost(t, "svc", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"})
	sim := hostsim.NewCluster(svc)
	sudo := "#!/bin/sh\nprintf '%s sudo %s\\n' \"$(date +%s%N)\" \"$1\" >> \"$SIM_DIR/events.log\"\nexit 0\n"
	if err := os.WriteFile(svc.Path("bin", "sudo"), []byte(sudo), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, sim)
	vbi := h.intervention("patch", diracv1.StateUp, hostSpec("svc", diracv1.RoleServices))
	vbi.Spec.Cycle = "k1"
	vbi.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: time.Minute}}
	h.create(vbi)
	h.waitFor("patch", waitShort, "svc Rebooting", func(v *diracv1.VOBoxIntervention) bool {
		return hostStatusOf(v, "svc").Phase == diracv1.HostRebooting
	})
	failed := h.waitFor("patch", 2*time.Minute, "svc failed with RebootTimeout", func(v *diracv1.VOBoxIntervention) bool {
		hs := hostStatusOf(v, "svc")
		return hs.Phase == diracv1.HostFailed && hs.Reason == diracv1.ReasonRebootTimeout
	})
	commands := sim.Commands()
	time.Sleep(3 * time.Second)
	if n := sim.Commands(); n != commands {
		t.Errorf("%d command(s) ran on svc after RebootTimeout", n-commands)
	}
	sudos, starts := 0, 0
	for _, e := range sim.Events(t) {
		switch e.Kind {
		case "sudo":
			sudos++
		case "component-start":
			starts++
		}
	}
	if sudos != 1 || starts != 0 || !sim.InMaintenance("svc") {
		t.Errorf("%d reboot command(s), %d start(s), in maintenance %v; want 1, 0, true", sudos, starts, sim.InMaintenance("svc"))
	}
	wantConditions(t, failed, map[string][2]string{
		diracv1.ReadyCondition:   {string(metav1.ConditionFalse), diracv1.ReasonHostFailed},
		diracv1.StalledCondition: {string(metav1.ConditionTrue), diracv1.ReasonRebootTimeout},
	})
}
