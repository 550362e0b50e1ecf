package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// High availability (issue 13, item 6). TestHALeaderKilledMidDown runs two
// manager replicas with --leader-elect on the seed lab (one agent slow to
// stop), starts a Down, and SIGKILLs the leader in the AgentsStopped tier:
// once the Agents host's event log shows `runsvctrl d` and the leader's
// session there is waiting on the host for the agents to stop. It then
// proves, from outside the processes:
//
//   - takeover: the standby acquires the election Lease within the bound
//     client-go's algorithm gives after the leader's last renewal (≤ the
//     kill): the standby's last look at the renewed record can come one
//     jittered retry period (RetryPeriod·(1+JitterFactor)) after it, the
//     Lease is then valid for its leaseDurationSeconds from that look, and
//     the try that finds it expired can come one more jittered period later;
//     plus 1 s for the API calls on a loaded machine. With
//     controller-runtime's defaults (15 s, retry 2 s; main.go sets neither)
//     that is 24.8 s. The measured takeover is logged (FIGURE ha);
//   - the Down finishes Ready with every startup link exactly once (0 lost)
//     and the Down state and order invariants holding; then the survivor
//     alone brings every host Up (after a reboot of all) to Ready, with the
//     Up state and order invariants;
//   - the replicas never act at the same time. The hosts' event logs do not
//     name the SSH connection that ran a command, so each action is tied to
//     a process through what the kernel shows (ha_harness_test.go): the TCP
//     connections each replica's file descriptors hold to a host's sshd
//     (sampled every 20 ms); every login each host's sshd.log accepted,
//     which must be one of those connections (no other client logged in);
//     and every process on a host that carries a session's SSH_CONNECTION
//     (scanned every 50 ms), whose source port names the connection, hence
//     the replica. sshd alone would let a session's command run on after
//     its client died (no pty, no SIGHUP); the executor's watchdog (package
//     remote) kills the command's process group when the session's stdin
//     reaches EOF, which the connection's death brings. The kill point is
//     chosen so that a command is in flight (the wait for the slow agent),
//     and the test measures when it ended (within 1 s of the kill) instead
//     of trusting the watchdog.
//     From those: the standby had no connection to any host before it held
//     the election Lease; every session process of the killed leader in
//     flight at the kill was gone before the new leader's first connection
//     could have been made (a sample without it); every command event of
//     the hosts' logs (runsvctrl, mysql.server, sms, sv, sudo) lies, before
//     the kill, in a connection of the old leader to that host and in none
//     of the standby's; after it, either while a session process of the
//     killed leader was in flight on that host (all before the new leader's
//     first connection) or in a connection of the new leader to that host.
//     So the hosts saw the old leader's commands, then the new leader's,
//     never the two interleaved. A connection shorter than a sample could
//     escape the sampler, but not sshd.log; a process shorter than a scan
//     could escape the scanner, but a command it ran still shows in the
//     event log, where one after the kill with no session of the killed
//     leader seen on its host is reported.
func TestHALeaderKilledMidDown(t *testing.T) {
	const (
		electionLease = "vobox-operator.dirac.vobox.io" // main.go's LeaderElectionID
		// controller-runtime's default retry period and client-go's jitter
		// factor (leaderelection.JitterFactor): main.go sets no durations.
		retryPeriod  = 2 * time.Second
		jitterFactor = 1.2
		apiSlack     = time.Second
		// How long the slow agent takes to stop: the killed leader's
		// session waits on the host for it (up to what is left of a pass's
		// 5 s wait), so a command is in flight at the kill.
		agentSlowStop = 4 * time.Second
		// The watchdog ends a session's command within milliseconds of the
		// connection's death; without it the wait would run on for the
		// rest of its budget (seconds).
		watchdogBound = time.Second
	)
	acquired := regexp.MustCompile(`(?i)successfully acquired lease`)
	start := time.Now()
	e := newEnv(t, "127.49", "--topology", "seed")
	_, _, _, agentHosts := tierHosts(e.lab)
	if len(agentHosts) == 0 {
		t.Fatal("the seed lab has no Agents host")
	}
	agentsHost, _ := e.lab.Host(agentHosts[0])
	// An agent that takes a while to stop, as a real one finishing its
	// cycle does: the leader is killed while its session waits on the host
	// for the stop.
	slow := agentsHost.Components[0].Name
	e.labCmd("break", agentsHost.Name, slow, fmt.Sprintf("slowstop=%d", int(agentSlowStop.Seconds())))
	before := e.status() // the last SSH login of the test itself until the reboot
	original := startupLinks(before)
	tracked := trackedLinks(before)

	_, offsets, err := sshdLogins(e.lab, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := e.startReplicas(2, e.ns)
	conns := startConnSampler(t, e.lab, rs, 20*time.Millisecond)
	procs := startSessionScanner(t, e.lab, 50*time.Millisecond)

	// The first replica to try creates the election Lease and leads; the
	// other waits on it.
	var leader, standby *replica
	deadline := time.Now().Add(time.Minute)
	for leader == nil {
		for i, r := range rs {
			if r.exited() {
				t.Fatalf("replica %s exited at its start", r.name)
			}
			if r.logged(acquired) {
				leader, standby = r, rs[1-i]
			}
		}
		if leader == nil && time.Now().After(deadline) {
			t.Fatal("no replica acquired the election Lease within 1m")
		}
		time.Sleep(50 * time.Millisecond)
	}
	first := &coordinationv1.Lease{}
	if err := suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: electionLease}, first); err != nil {
		t.Fatal(err)
	}
	oldHolder := *first.Spec.HolderIdentity
	if standby.logged(acquired) {
		t.Fatal("both replicas say they acquired the election Lease")
	}
	t.Logf("replica %s leads (%s), replica %s stands by", leader.name, oldHolder, standby.name)

	vbi := e.labIntervention(fast)
	downStart := time.Now()
	e.create(vbi)

	// Kill point: the agents are being stopped (runsvctrl d on the Agents
	// host) and the leader's session there is waiting for them on the host
	// (its probe's sleep runs): a command of the leader is in flight.
	var stopAsked, waiting time.Time
	deadline = time.Now().Add(3 * time.Minute)
	for waiting.IsZero() {
		if stopAsked.IsZero() {
			evs, err := labstatus.ReadEvents(agentsHost.EventLog)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range eventsSince(evs, labstatus.EventRunsvctrl, downStart) {
				if ev.Subject == "d" {
					stopAsked = ev.Time
					break
				}
			}
		} else {
			waiting = procs.running(agentsHost.Name, "sleep", stopAsked)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no runsvctrl d and wait on %s within 3m of the Down", agentsHost.Name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	killAt := leader.kill()
	where := "unknown"
	if v := e.get(vbi.Name); v != nil {
		where = string(v.Status.Phase)
		for _, ts := range v.Status.Tiers {
			if ts.State == diracv1.TierRunning {
				where += " " + ts.Name
			}
		}
	}
	t.Logf("SIGKILL of leader %s %.3fs after the Down began, %.3fs after runsvctrl d on %s, %.3fs after its session was seen waiting there (status: %s)",
		leader.name, killAt.Sub(downStart).Seconds(), killAt.Sub(stopAsked).Seconds(), agentsHost.Name, killAt.Sub(waiting).Seconds(), where)

	// Takeover: the election Lease changes holder; its acquireTime is the
	// new leader's clock (the machine's, as the kill's).
	lease := &coordinationv1.Lease{}
	deadline = time.Now().Add(2 * time.Minute)
	for {
		err := suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: e.ns, Name: electionLease}, lease)
		if err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != oldHolder && lease.Spec.AcquireTime != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the election Lease is still held by %s 2m after the kill (err %v)", oldHolder, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	acquiredAt := lease.Spec.AcquireTime.Time
	takeover := acquiredAt.Sub(killAt)
	leaseDuration := time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	jittered := time.Duration(float64(retryPeriod) * (1 + jitterFactor))
	bound := leaseDuration + 2*jittered + apiSlack
	if takeover > bound {
		t.Errorf("the standby took over %.3fs after the kill; the election Lease lasts %s, bound %s", takeover.Seconds(), leaseDuration, bound)
	}
	// The replica logs its acquisition once the API answered its update,
	// which may be after this test saw the update.
	for deadline = time.Now().Add(10 * time.Second); !standby.logged(acquired); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("the election Lease went to %s, but replica %s's log does not say it acquired it", *lease.Spec.HolderIdentity, standby.name)
			break
		}
	}

	// reached waits until the intervention is Ready in phase, and reads the
	// hosts (without an SSH login of its own) and the logins since from.
	reached := func(phase diracv1.Phase, from map[string]int64) (*labstatus.Status, []acceptedLogin, map[string]int64) {
		t.Helper()
		if got := e.waitReady(vbi.Name, 6*time.Minute); got.Status.Phase != phase {
			t.Errorf("phase = %s, want %s", got.Status.Phase, phase)
		}
		logins, to, err := sshdLogins(e.lab, from)
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.readStatus(false)
		if err != nil {
			t.Fatal(err)
		}
		return st, logins, to
	}
	down, downLogins, afterDown := reached(diracv1.PhaseDown, offsets)
	downReady := time.Now()
	report(t, "Down state", checkDown(e.lab, down, original, hostNames(e.lab), vbi.Spec.Database.InnodbLog.Hosts))
	report(t, "Down order", checkDownOrder(e.lab, e.events, e.ledger(), downStart))
	lv, lost := linksOnce(tracked, down)
	report(t, "links after Down", lv)

	x := exclusivity{e: e, old: leader.name, new: standby.name, killAt: killAt, acquired: acquiredAt}
	x.read(conns, procs)
	report(t, "exclusivity (Down)", x.check(downLogins, downStart, downReady))
	if took := x.oldGone.Sub(killAt); took > watchdogBound {
		t.Errorf("the killed leader's commands in flight ran on %.3fs after it died (watchdog bound %s)", took.Seconds(), watchdogBound)
	}
	t.Logf("FIGURE ha: takeover %.3fs after the SIGKILL (election Lease %s, bound %s); new leader's first connection %.3fs, first command on a host %.3fs after the kill; killed leader's %d session processes in flight at the kill gone %.3fs after it (%d command events of theirs after it)",
		takeover.Seconds(), leaseDuration, bound, x.newFirst.Sub(killAt).Seconds(), x.newFirstAct.Sub(killAt).Seconds(),
		x.orphans, x.oldGone.Sub(killAt).Seconds(), x.orphanActs)
	for _, o := range x.orphanLog {
		t.Logf("session process of the killed leader in flight at the kill: %s", o)
	}
	t.Logf("Down %s with a takeover in it; links lost %d; %d logins, %d connections, %d session processes attributed; %d process scans (%s each)",
		downReady.Sub(downStart).Round(100*time.Millisecond), lost, len(downLogins), x.nConns, x.nProcs, x.scans, x.scanCost.Round(10*time.Microsecond))

	// The power stop, then Up on the survivor.
	upStart := time.Now() // databases come back on their own during the reboot
	e.labCmd("reboot", "--all")
	rebooted := time.Now() // the lab's own logins (is each host up?) are over
	_, afterReboot, err := sshdLogins(e.lab, afterDown)
	if err != nil {
		t.Fatal(err)
	}
	e.setState(vbi.Name, diracv1.StateUp)
	up, upLogins, _ := reached(diracv1.PhaseUp, afterReboot)
	upReady := time.Now()
	report(t, "Up state", checkUp(up, original, nil))
	report(t, "Up order", checkUpOrder(e.lab, e.events, e.ledger(), upStart, nil, vbi.Spec.Checks.ComponentUptime.Duration))
	lv, l2 := linksOnce(tracked, up)
	report(t, "links after Up", lv)
	x.read(conns, procs)
	report(t, "exclusivity (Up)", x.checkOnly(upLogins, rebooted, upReady, standby.name))
	t.Logf("Up %s on replica %s; links lost %d; %d logins; whole test %s",
		upReady.Sub(upStart).Round(100*time.Millisecond), standby.name, l2, len(upLogins), time.Since(start).Round(time.Second))
}

// exclusivity ties every login, session process and command event of the
// hosts to one replica, and checks that the two never overlapped.
type exclusivity struct {
	e        *env
	old, new string
	killAt   time.Time
	acquired time.Time

	conns    []connWindow
	procs    []sessionProc
	scans    int
	scanCost time.Duration

	// Found by check.
	nConns, nProcs int
	oldGone        time.Time // every session process of the old leader was gone by then (a scan)
	newFirst       time.Time // the new leader's first connection was made after this
	newFirstAct    time.Time
	orphans        int
	orphanLog      []string
	orphanActs     int
}

func (x *exclusivity) read(c *connSampler, p *sessionScanner) {
	x.conns = c.snapshot()
	x.procs, x.scans, x.scanCost = p.snapshot()
}

// owner returns the replica whose connection from port to host it was.
func (x *exclusivity) owner(host string, port int) (string, bool) {
	for _, c := range x.conns {
		if c.host == host && c.localPort == port {
			return c.replica, true
		}
	}
	return "", false
}

// actionKinds are the events a command of the procedure logs.
var actionKinds = []string{labstatus.EventRunsvctrl, labstatus.EventMySQLServer, labstatus.EventSMS, labstatus.EventSV, labstatus.EventSudo}

// check proves the Down window [from, to]: see TestHALeaderKilledMidDown.
func (x *exclusivity) check(logins []acceptedLogin, from, to time.Time) []string {
	var v []string
	x.nConns = 0
	for _, c := range x.conns {
		if c.firstSeen.Before(from) || c.firstSeen.After(to) {
			continue
		}
		x.nConns++
		if c.replica == x.new && (c.notBefore.IsZero() || c.notBefore.Before(x.acquired)) {
			v = append(v, fmt.Sprintf("replica %s (standby) connected to %s from port %d at %s, before it held the election Lease (%s)",
				c.replica, c.host, c.localPort, c.firstSeen.Format(labstatus.TimeFormat), x.acquired.Format(labstatus.TimeFormat)))
		}
		if c.replica == x.new && (x.newFirst.IsZero() || c.notBefore.Before(x.newFirst)) {
			x.newFirst = c.notBefore
		}
	}
	if x.newFirst.IsZero() {
		v = append(v, "the new leader made no connection to any host")
	}
	for _, l := range logins {
		if l.srcAddr != "127.0.0.1" {
			v = append(v, fmt.Sprintf("%s accepted a login from %s port %d: not a replica's", l.host, l.srcAddr, l.srcPort))
			continue
		}
		if _, ok := x.owner(l.host, l.srcPort); !ok {
			v = append(v, fmt.Sprintf("%s accepted a login from port %d that no replica's connection explains", l.host, l.srcPort))
		}
	}
	orphanHosts := map[string]bool{}
	x.nProcs, x.orphans, x.oldGone, x.orphanLog = 0, 0, x.killAt, nil
	for _, p := range x.procs {
		if p.lastSeen.Before(from) || p.firstSeen.After(to) {
			continue
		}
		x.nProcs++
		who, ok := x.owner(p.host, p.srcPort)
		switch {
		case !ok:
			v = append(v, fmt.Sprintf("session process %d (%s) on %s from port %d belongs to no replica's connection", p.pid, p.comm, p.host, p.srcPort))
		case who == x.old && (p.goneBefore.IsZero() || p.goneBefore.After(x.killAt)):
			// In flight at the kill, as far as the scans tell: seen by the
			// last scan before it.
			x.orphans++
			orphanHosts[p.host] = true
			x.orphanLog = append(x.orphanLog, fmt.Sprintf("%s pid %d (%s) from port %d, last seen %+.3fs, gone by %+.3fs",
				p.host, p.pid, p.comm, p.srcPort, p.lastSeen.Sub(x.killAt).Seconds(), p.goneBefore.Sub(x.killAt).Seconds()))
			if p.goneBefore.IsZero() {
				v = append(v, fmt.Sprintf("session process %d (%s) of the killed leader still runs on %s", p.pid, p.comm, p.host))
			} else if p.goneBefore.After(x.oldGone) {
				x.oldGone = p.goneBefore
			}
		case who == x.new && p.firstSeen.Before(x.acquired):
			v = append(v, fmt.Sprintf("session process %d (%s) of the standby on %s at %s, before it held the election Lease", p.pid, p.comm, p.host, p.firstSeen.Format(labstatus.TimeFormat)))
		}
	}
	if x.orphans == 0 {
		v = append(v, "no session of the leader was in flight at the kill: the kill point missed what it is for")
	}
	if !x.newFirst.IsZero() && x.newFirst.Before(x.oldGone) {
		v = append(v, fmt.Sprintf("the new leader's first connection may have been made at %s, while a session of the killed leader still ran on a host (until %s)",
			x.newFirst.Format(labstatus.TimeFormat), x.oldGone.Format(labstatus.TimeFormat)))
	}
	in := func(replica, host string, t time.Time) bool {
		for _, c := range x.conns {
			if c.replica == replica && c.host == host && c.covers(t) {
				return true
			}
		}
		return false
	}
	x.orphanActs = 0
	for _, h := range x.e.lab.Hosts {
		for _, ev := range x.e.events(h.Name) {
			if !slices.Contains(actionKinds, ev.Kind) || ev.Time.Before(from) || ev.Time.After(to) {
				continue
			}
			what := fmt.Sprintf("%s %s %s on %s at %s", ev.Kind, ev.Subject, ev.Detail, h.Name, ev.Time.Format(labstatus.TimeFormat))
			switch {
			case ev.Time.Before(x.killAt):
				if !in(x.old, h.Name, ev.Time) {
					v = append(v, what+": before the kill, but in no connection of the leader to that host")
				}
				if in(x.new, h.Name, ev.Time) {
					v = append(v, what+": the standby had a connection to that host then")
				}
			case ev.Time.Before(x.oldGone):
				x.orphanActs++
				if !orphanHosts[h.Name] {
					v = append(v, what+": after the kill, while the killed leader's sessions were in flight, but none of them on that host")
				}
			default:
				if !in(x.new, h.Name, ev.Time) {
					v = append(v, what+": after the kill, but in no connection of the new leader to that host")
				}
				if x.newFirstAct.IsZero() || ev.Time.Before(x.newFirstAct) {
					x.newFirstAct = ev.Time
				}
			}
		}
	}
	return v
}

// checkOnly proves that in [from, to] only the replica `only` logged in to
// the hosts or ran a session process on them.
func (x *exclusivity) checkOnly(logins []acceptedLogin, from, to time.Time, only string) []string {
	var v []string
	for _, l := range logins {
		if who, ok := x.owner(l.host, l.srcPort); !ok || who != only || l.srcAddr != "127.0.0.1" {
			v = append(v, fmt.Sprintf("%s accepted a login from %s port %d: not replica %s's (owner %q)", l.host, l.srcAddr, l.srcPort, only, who))
		}
	}
	for _, p := range x.procs {
		if p.firstSeen.Before(from) || p.firstSeen.After(to) {
			continue
		}
		if who, ok := x.owner(p.host, p.srcPort); !ok || who != only {
			v = append(v, fmt.Sprintf("session process %d (%s) on %s from port %d: not replica %s's (owner %q)", p.pid, p.comm, p.host, p.srcPort, only, who))
		}
	}
	return v
}
