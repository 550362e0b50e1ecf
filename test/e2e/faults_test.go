package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// SSH and host faults injected with the lab's fault verbs while the operator
// works. Each test proves from the hosts what happened, and that the
// intervention either recovers on its own or stops with a reason a person
// can act on.

// firstAgent returns a host's first agent component.
func (e *env) firstAgent(host string) string {
	e.t.Helper()
	h, _ := e.lab.Host(host)
	for _, c := range h.Components {
		if c.Kind == labstatus.KindAgent {
			return c.Name
		}
	}
	e.t.Fatalf("%s has no agent", host)
	return ""
}

// waitStopSent waits until the operator has sent runsvctrl d to a host
// since a time, as the host's event log says: the moment to inject a fault
// while the host waits for its components to stop (the status may not show
// it, as a pass waits on the host for the stop before it writes).
func (e *env) waitStopSent(host string, since time.Time) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, ev := range eventsSince(e.events(host), labstatus.EventRunsvctrl, since) {
			if ev.Subject == "d" {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: no runsvctrl d within a minute", host)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stalledOn waits until Stalled is True with a message naming the host.
func (e *env) stalledOn(name, host string, timeout time.Duration) (*diracv1.VOBoxIntervention, *metav1.Condition) {
	e.t.Helper()
	v := e.waitFor(name, timeout, func(v *diracv1.VOBoxIntervention) bool {
		c := meta.FindStatusCondition(v.Status.Conditions, diracv1.StalledCondition)
		return c != nil && c.Status == metav1.ConditionTrue && strings.Contains(c.Message, host)
	})
	return v, meta.FindStatusCondition(v.Status.Conditions, diracv1.StalledCondition)
}

// TestFaultFreeze freezes a host in the middle of its tier (every process
// SIGSTOPped, sshd included: TCP connects, no SSH answer). With stepTimeout
// 10s the intervention must report Stalled naming the host within
// stepTimeout and a few seconds; after thaw it resumes and completes.
func TestFaultFreeze(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.43", "--topology", "seed")
	e.useSharedOperator()
	hosts := []string{"volhcb15", "volhcb18", "volhcb20"}
	before := e.status()
	original, tracked := startupLinks(before), trackedLinks(before)
	// A slow agent keeps the tier running long enough to freeze the host in it.
	e.labCmd("break", "volhcb20", e.firstAgent("volhcb20"), "slowstop=6")

	const stepTimeout = 10 * time.Second
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		onlyHosts(v, hosts...)
		v.Spec.Strategy.StepTimeout = metav1.Duration{Duration: stepTimeout}
	})
	created := time.Now()
	e.create(vbi)
	e.waitStopSent("volhcb20", created)
	e.labCmd("freeze", "volhcb20")
	frozen := time.Now()

	v, stalled := e.stalledOn(vbi.Name, "volhcb20", stepTimeout+20*time.Second)
	took := time.Since(frozen)
	t.Logf("FIGURE freeze: Stalled after %.1fs (stepTimeout %s): %s: %s", took.Seconds(), stepTimeout, stalled.Reason, stalled.Message)
	if limit := stepTimeout + 5*time.Second; took > limit {
		t.Errorf("Stalled %s after the freeze, want within %s", took.Round(100*time.Millisecond), limit)
	}
	if hs := hostStatus(v, "volhcb20"); hs.Phase != diracv1.HostFailed || hs.Reason != diracv1.ReasonStepTimeout {
		t.Errorf("volhcb20: phase %s reason %s, want Failed StepTimeout", hs.Phase, hs.Reason)
	}

	e.labCmd("thaw", "volhcb20")
	thawed := time.Now()
	v = e.waitReady(vbi.Name, 2*time.Minute)
	t.Logf("FIGURE freeze: Ready (Down) %.1fs after the thaw", time.Since(thawed).Seconds())
	if c := condition(v, diracv1.StalledCondition); c == nil || !strings.HasPrefix(*c, "False/") {
		t.Errorf("Stalled = %v after recovery, want False", c)
	}
	st := e.status()
	report(t, "Down state", checkDown(e.lab, st, original, hosts, nil))
	v2, lost := linksOnce(tracked, st)
	report(t, "links", v2)
	if lost > 0 {
		t.Errorf("%d links lost", lost)
	}
}

// TestFaultSSHDKilled kills a host's sshd and its sessions while a command
// runs there (a maintenance command that takes 3s), then starts sshd again:
// the command runs to its end on the host all the same, the operator sends
// it again, its marker says it ran, and the intervention completes with
// the command run exactly once.
func TestFaultSSHDKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.44", "--topology", "seed")
	e.useSharedOperator()
	hosts := []string{"volhcb20", "volhcb21"}
	before := e.status()
	original, tracked := startupLinks(before), trackedLinks(before)
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		onlyHosts(v, hosts...)
		// A slow site maintenance command: it records the call at once, then
		// takes 3s to return.
		v.Spec.Maintenance.Set = []string{"sh", "-c", `sms set maintenance "$1" other "$2" && sleep 3`, "slow-sms", "{reason}", "{host}"}
	})
	e.create(vbi)

	h, _ := e.lab.Host("volhcb20")
	var first labstatus.Event
	deadline := time.Now().Add(time.Minute)
	for first.Time.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("volhcb20 never ran its maintenance command")
		}
		evs, _ := labstatus.ReadEvents(h.EventLog)
		if sms := labstatus.Filter(evs, labstatus.EventSMS, "set"); len(sms) > 0 {
			first = sms[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.labCmd("kill-sshd", "volhcb20")
	killed := time.Now()
	time.Sleep(2 * time.Second)
	e.labCmd("start-sshd", "volhcb20")
	if killed.Sub(first.Time) >= 3*time.Second {
		t.Fatalf("sshd was killed %s after the command started: not during it", killed.Sub(first.Time))
	}

	v := e.waitReady(vbi.Name, 2*time.Minute)
	st := e.status()
	report(t, "Down state", checkDown(e.lab, st, original, hosts, []string{"volhcb21"}))
	lv, _ := linksOnce(tracked, st)
	report(t, "links", lv)
	sets := 0
	for _, l := range e.ledger() {
		if l.Host == "volhcb20" && l.Action() == "set" {
			sets++
		}
	}
	// The command cut with its session ran to its end on the host (it runs
	// detached from the session, with its marker): the operator sent it
	// again and the marker said it had run.
	if sets != 1 {
		t.Errorf("volhcb20 ran its maintenance command %d time(s); want exactly once (the one cut by the sshd kill ran to its end, the resend found its marker)", sets)
	}
	raw, err := os.ReadFile(e.op.logPath)
	if err != nil {
		t.Fatal(err)
	}
	resent := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.Contains(line, `"namespace":"`+e.ns+`"`) && strings.Contains(line, "Maintenance command already ran") {
			resent++
		}
	}
	if resent == 0 {
		t.Errorf("the operator never sent the cut command again (no 'already ran' in its log): the cut was not seen")
	}
	t.Logf("FIGURE sshd killed %.1fs into a 3s command; sent again %d time(s), run %d time(s); Ready; last step %s", killed.Sub(first.Time).Seconds(), resent, sets, hostStatus(v, "volhcb20").LastStep.Name)
}

// TestFaultReboot reboots hosts in the middle of Down (the agents host while
// its agents stop, a database host before its tier) and between Down and Up
// (only some hosts: the others' databases stay stopped), and checks the
// power stop still ends with every link back and the tiers in order.
func TestFaultReboot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.45", "--topology", "seed")
	e.useSharedOperator()
	before := e.status()
	original, tracked := startupLinks(before), trackedLinks(before)
	var all []string
	for _, h := range e.lab.Hosts {
		all = append(all, h.Name)
	}
	e.labCmd("break", "volhcb20", e.firstAgent("volhcb20"), "slowstop=5")
	vbi := e.labIntervention(fast)
	downStart := time.Now()
	e.create(vbi)

	// Mid-Down: the agents host while it waits for its agents, with
	// RecordManifest done and runsvctrl d sent.
	e.waitStopSent("volhcb20", downStart)
	rebooted := time.Now()
	e.labCmd("reboot", "volhcb20", "volhcb21")
	v := e.waitReady(vbi.Name, 3*time.Minute)
	t.Logf("FIGURE reboot mid-Down: Ready (Down) %.1fs after the reboot", time.Since(rebooted).Seconds())
	down := e.status()
	report(t, "Down state", checkDown(e.lab, down, original, all, vbi.Spec.Database.InnodbLog.Hosts))
	lv, _ := linksOnce(tracked, down)
	report(t, "links after Down", lv)
	// The components the reboot brought back were stopped again: they start
	// after the reboot and exit before the end.
	restarted := eventsSince(e.events("volhcb20"), labstatus.EventComponentStart, rebooted)
	t.Logf("reboot mid-Down: %d agent(s) came back with the host and were stopped again", len(restarted))
	if c := hostStatus(v, "volhcb20"); len(c.SavedComponents)+len(c.ExcludedComponents) != len(original["volhcb20"]) {
		t.Errorf("volhcb20 saved %v, want all of %v", c.SavedComponents, original["volhcb20"])
	}

	// Between Down and Up: only the framework host and one database host
	// reboot; the other databases stay stopped and must be started.
	upStart := time.Now()
	e.labCmd("reboot", "volhcb18", "volhcb21")
	e.setState(vbi.Name, diracv1.StateUp)
	e.waitReady(vbi.Name, 3*time.Minute)
	up := e.status()
	report(t, "Up state", checkUp(up, original, nil))
	report(t, "Up order", checkUpOrder(e.lab, e.events, e.ledger(), upStart, nil, vbi.Spec.Checks.ComponentUptime.Duration))
	lv, _ = linksOnce(tracked, up)
	report(t, "links after Up", lv)
	starts := 0
	for _, db := range []string{"volhcb22", "volhcb23", "volhcb24", "volhcb25", "volhcb26"} {
		starts += len(eventsSince(e.events(db), labstatus.EventMySQLServer, upStart))
	}
	t.Logf("FIGURE reboot between Down and Up: 2 hosts rebooted, %d databases started by the operator, Ready", starts)
}

// TestFaultRekey changes a host's key while the operator works on it: the
// intervention stops with Stalled reason HostKeyMismatch naming the host, and
// not one session is opened on the host after the change.
func TestFaultRekey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.46", "--topology", "seed")
	e.useSharedOperator()
	agent := e.firstAgent("volhcb20")
	original := startupLinks(e.status())
	e.labCmd("break", "volhcb20", agent, "slowstop=8")
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		onlyHosts(v, "volhcb15", "volhcb20")
	})
	created := time.Now()
	e.create(vbi)
	e.waitStopSent("volhcb20", created)
	e.labCmd("rekey", "volhcb20")
	rekeyed := time.Now()
	h, _ := e.lab.Host("volhcb20")
	sshdLog := filepath.Join(h.Dir, "sshd.log")
	// The lab's own login check ends before rekey returns: from here on, an
	// accepted login can only be the operator's.
	accepted := countLines(t, sshdLog, "Accepted publickey")

	v, stalled := e.stalledOn(vbi.Name, "volhcb20", 30*time.Second)
	t.Logf("FIGURE rekey: Stalled after %.1fs: %s: %s", time.Since(rekeyed).Seconds(), stalled.Reason, stalled.Message)
	if stalled.Reason != diracv1.ReasonHostKeyMismatch {
		t.Errorf("Stalled reason = %s, want %s", stalled.Reason, diracv1.ReasonHostKeyMismatch)
	}
	if hs := hostStatus(v, "volhcb20"); hs.Reason != diracv1.ReasonHostKeyMismatch {
		t.Errorf("volhcb20 reason = %s, want %s", hs.Reason, diracv1.ReasonHostKeyMismatch)
	}
	// Give a wrong retry time to happen.
	time.Sleep(5 * time.Second)
	if n := countLines(t, sshdLog, "Accepted publickey"); n != accepted {
		t.Errorf("%d session(s) accepted on volhcb20 after its key changed", n-accepted)
	}
	var rekeyAt time.Time
	for _, ev := range e.events("volhcb20") {
		if ev.Kind == labstatus.EventRekey {
			rekeyAt = ev.Time
		}
	}
	for _, ev := range e.events("volhcb20") {
		if ev.Time.After(rekeyAt) && (ev.Kind == labstatus.EventRunsvctrl || ev.Kind == labstatus.EventSMS || ev.Kind == labstatus.EventMySQLServer) {
			t.Errorf("a command ran on volhcb20 after its key changed: %s", ev)
		}
	}
	st := e.status()
	h2, _ := st.Host("volhcb20")
	if c, _ := h2.Component(agent); c.LinkIn != labstatus.LinkInStartup {
		t.Errorf("%s was moved (link in %s) after the key changed", agent, c.LinkIn)
	}

	// What a person does once the new key is verified: update the Secret's
	// known_hosts, then touch the spec (suspend, resume) so that the
	// stalled host is tried again.
	e.kubectl("apply", "-n", e.ns, "-f", e.lab.Files.Secret)
	e.kubectl("patch", "vbi", vbi.Name, "-n", e.ns, "--type=merge", "-p", `{"spec":{"suspend":true}}`)
	e.kubectl("patch", "vbi", vbi.Name, "-n", e.ns, "--type=merge", "-p", `{"spec":{"suspend":false}}`)
	fixed := time.Now()
	e.waitReady(vbi.Name, 2*time.Minute)
	t.Logf("FIGURE rekey: Ready (Down) %.1fs after the Secret was updated and the spec touched", time.Since(fixed).Seconds())
	report(t, "Down state", checkDown(e.lab, e.status(), original, []string{"volhcb15", "volhcb20"}, nil))
}

// TestFaultNoStop has an agent that ignores every stop request: it is
// killed after stopTimeout, parked with the others, and recorded in
// status.hosts[].killedComponents.
func TestFaultNoStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.47", "--topology", "seed")
	e.useSharedOperator()
	agent := e.firstAgent("volhcb20")
	before := e.status()
	original, tracked := startupLinks(before), trackedLinks(before)
	e.labCmd("break", "volhcb20", agent, "nostop")
	const stopTimeout = 6 * time.Second
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		onlyHosts(v, "volhcb20")
		v.Spec.Strategy.StopTimeout = metav1.Duration{Duration: stopTimeout}
	})
	start := time.Now()
	e.create(vbi)
	v := e.waitReady(vbi.Name, 2*time.Minute)
	hs := hostStatus(v, "volhcb20")
	if !slices.Equal(hs.KilledComponents, []string{agent}) {
		t.Errorf("killedComponents = %v, want [%s]", hs.KilledComponents, agent)
	}
	st := e.status()
	report(t, "Down state", checkDown(e.lab, st, original, []string{"volhcb20"}, nil))
	lv, _ := linksOnce(tracked, st)
	report(t, "links", lv)
	evs := e.events("volhcb20")
	var exit, stopAsked time.Time
	for _, ev := range evs {
		switch {
		case ev.Time.Before(start):
		case ev.Kind == labstatus.EventComponentExit && ev.Subject == agent:
			if ev.Field("signal") != "9" {
				t.Errorf("%s exited with %s, want signal 9 (killed)", agent, ev.Detail)
			}
			exit = ev.Time
		case ev.Kind == labstatus.EventComponentStop && ev.Subject == agent:
			t.Errorf("%s stopped on request (%s): its nostop fault did not hold", agent, ev.Detail)
		case ev.Kind == labstatus.EventRunsvctrl && ev.Subject == "d" && stopAsked.IsZero():
			stopAsked = ev.Time
		}
	}
	if exit.IsZero() || stopAsked.IsZero() {
		t.Fatalf("no stop request (%s) or no exit (%s) of %s in the event log", stopAsked, exit, agent)
	}
	// The event log has the time runsvctrl ran on the host, a few
	// milliseconds after the operator sent it.
	if d := exit.Sub(stopAsked); d < stopTimeout-100*time.Millisecond {
		t.Errorf("%s was killed %s after the stop request, before stopTimeout %s", agent, d, stopTimeout)
	}
	t.Logf("FIGURE nostop: %s killed %.1fs after runsvctrl d (stopTimeout %s), recorded in killedComponents", agent, exit.Sub(stopAsked).Seconds(), stopTimeout)
}

// TestFaultErrorsOnStart has a framework service log ERROR lines when it
// starts again on Up: its check fails (ErrorsInLog), failurePolicy Halt stops
// the procedure before the next tier, and maintenance stays set everywhere.
func TestFaultErrorsOnStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.48", "--topology", "seed")
	e.useSharedOperator()
	hosts := []string{"volhcb15", "volhcb18", "volhcb20"}
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		onlyHosts(v, hosts...)
	})
	e.create(vbi)
	e.waitReady(vbi.Name, 2*time.Minute)
	h, _ := e.lab.Host("volhcb18")
	broken := h.Components[0].Name
	e.labCmd("break", "volhcb18", broken, "errors")

	upStart := time.Now()
	e.setState(vbi.Name, diracv1.StateUp)
	v := e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, "", 2*time.Minute)
	stalled := meta.FindStatusCondition(v.Status.Conditions, diracv1.StalledCondition)
	t.Logf("FIGURE errors on start: Stalled %s: %s", stalled.Reason, stalled.Message)
	if stalled.Reason != diracv1.ReasonHalted {
		t.Errorf("Stalled reason = %s, want %s (failurePolicy Halt)", stalled.Reason, diracv1.ReasonHalted)
	}
	hs := hostStatus(v, "volhcb18")
	if hs.Reason != diracv1.ReasonErrorsInLog || len(hs.Findings) == 0 || !strings.Contains(strings.Join(hs.Findings, "\n"), broken) {
		t.Errorf("volhcb18: reason %s, findings %v; want ErrorsInLog with a line of %s", hs.Reason, hs.Findings, broken)
	}
	if c := condition(v, diracv1.FrameworkStartedCondition); c == nil || *c != "False/"+diracv1.ReasonHostFailed {
		t.Errorf("FrameworkStarted = %v, want False/HostFailed", c)
	}
	// Halt: nothing of the next tiers starts, even a while later.
	time.Sleep(3 * time.Second)
	for _, host := range []string{"volhcb15", "volhcb20"} {
		if s := eventsSince(e.events(host), labstatus.EventComponentStart, upStart); len(s) > 0 {
			t.Errorf("%s started %d component(s) after its tier was halted: %s", host, len(s), s[0])
		}
	}
	st := e.status()
	for _, host := range hosts {
		hst, _ := st.Host(host)
		if hst.Maintenance != labstatus.MaintenanceSet {
			t.Errorf("%s maintenance = %s, want set (a check failed)", host, hst.Maintenance)
		}
	}
	for _, l := range e.ledger() {
		if l.Action() == "clear" && l.Time.After(upStart) {
			t.Errorf("maintenance cleared after a failed check: %v", l.Args)
		}
	}
	if v.Status.Phase != diracv1.PhaseFailed {
		t.Errorf("phase = %s, want Failed", v.Status.Phase)
	}
}

func countLines(t *testing.T, path, substr string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(raw), substr)
}

var _ = fmt.Sprint
