package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
	"github.com/vobox-operator/vobox-operator/internal/hostid"
)

// Crash-resume. TestChaos runs the power stop (Down → reboot of every host →
// Up) on the seed lab, again and again, while the operator is killed with
// SIGKILL at moments drawn from a seeded schedule and restarted at once. At
// every kill point and at the end of each run it checks, from the hosts:
//
//   - every startup link that existed before Down exists exactly once, in
//     startup or startup-save, with its original target; after Up, startup is
//     exactly the original minus the excluded links;
//   - Down ran in order, and on Up no component started before its tier's
//     turn (databases → framework → services → agents); maintenance was
//     cleared only once the last component had passed its check;
//   - a second intervention sharing a host waited on its Lease (HostLocked)
//     through the first's Down and the reboot window, and no maintenance
//     command of either ran while the other held the host's Lease (from the
//     ledger and a watch of the Leases);
//   - every host's maintenance was set and cleared exactly once per run,
//     kills or not (from the ledger);
//   - the intervention reaches Ready.
//
// VOBOX_CHAOS_SEED replays a schedule, VOBOX_CHAOS_KILLS sets the number of
// kill points (default 20, `make chaos` runs 200), VOBOX_CHAOS_SUMMARY names a
// Markdown file for the summary.

const (
	chaosMinDelay = 300 * time.Millisecond
	chaosMaxDelay = 2500 * time.Millisecond
	intruderHost  = "volhcb20"
	intruderWhy   = "intruder check"
)

// killPoint is one SIGKILL of the operator and what the hosts showed then.
type killPoint struct {
	N      int
	Cycle  int
	After  time.Duration // since the operator's last start
	At     time.Time
	Where  string // the intervention's phase and running tier, as last written
	Lost   int
	Broken []string
}

// chaos is the state the test's two goroutines share.
type chaos struct {
	e      *env
	delays []time.Duration

	active atomic.Bool // a procedure runs: kill points count
	done   atomic.Bool // every kill point was used

	// mu is held by the killer from a kill until the operator runs again,
	// and by the main loop while it changes the lab or reads it for checks.
	mu       sync.Mutex
	cycle    int
	name     string
	intruder string
	tracked  linkSet
	kills    []killPoint
}

func envInt(name string, def int64) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

func TestChaos(t *testing.T) {
	seed, err := envInt("VOBOX_CHAOS_SEED", time.Now().UnixNano())
	if err != nil {
		t.Fatalf("VOBOX_CHAOS_SEED: %v", err)
	}
	n, err := envInt("VOBOX_CHAOS_KILLS", 20)
	if err != nil || n < 1 {
		t.Fatalf("VOBOX_CHAOS_KILLS must be a positive number: %v", err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)>>17))
	c := &chaos{delays: make([]time.Duration, n)}
	var sched []string
	for i := range c.delays {
		c.delays[i] = chaosMinDelay + time.Duration(rng.Int64N(int64(chaosMaxDelay-chaosMinDelay)))
		sched = append(sched, fmt.Sprintf("%.2fs", c.delays[i].Seconds()))
	}
	t.Logf("chaos: seed %d, %d kill points, SIGKILL this long after each (re)start of the operator, while a procedure runs: %s", seed, n, strings.Join(sched, " "))
	t.Logf("chaos: replay with VOBOX_CHAOS_SEED=%d VOBOX_CHAOS_KILLS=%d", seed, n)

	e := newEnv(t, "127.41", "--topology", "seed")
	c.e = e
	// Services that take a while to stop, as real ones do, so that kills
	// land while links are being parked, not only while they come back.
	for _, host := range []string{"volhcb17", "volhcb19"} {
		h, _ := e.lab.Host(host)
		e.labCmd("break", host, h.Components[0].Name, "slowstop=2")
	}
	op := e.startOwnOperator()
	leases := watchLeases(t, lockNamespace)
	started := time.Now()

	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		c.killer(op)
	}()
	t.Cleanup(func() {
		// Before the operator's own clean-up: no kill after the test.
		c.done.Store(true)
		c.active.Store(false)
		<-killerDone
	})
	var (
		cycles     int
		violations []string
		lostEnd    int
		cycleBad   = map[int]bool{}
	)
	for !c.done.Load() && !t.Failed() {
		cycles++
		v, lost := c.run(t, cycles, leases)
		for _, s := range v {
			t.Errorf("cycle %d: %s", cycles, s)
		}
		violations = append(violations, v...)
		cycleBad[cycles] = len(v) > 0
		lostEnd += lost
	}
	c.done.Store(true)
	<-killerDone
	elapsed := time.Since(started)

	// A kill point is survived when the links were whole at it and the run
	// it fell in ended with every invariant holding.
	survived, lostAtKills := 0, 0
	byWhere := map[string]int{}
	for _, k := range c.kills {
		lostAtKills += k.Lost
		where := k.Where
		if where == "" {
			where = "(no status yet)"
		}
		byWhere[where]++
		if len(k.Broken) == 0 && !cycleBad[k.Cycle] {
			survived++
		}
		for _, b := range k.Broken {
			t.Errorf("kill point %d (cycle %d, %s): %s", k.N, k.Cycle, k.Where, b)
		}
	}
	if len(c.kills) < int(n) {
		t.Errorf("only %d of %d kill points were used", len(c.kills), n)
	}
	t.Logf("FIGURE chaos: seed %d: %d/%d kill points survived in %d runs of Down → reboot → Up, %d operator starts, links lost %d (at kill points) + %d (at the ends), %d violations, %s",
		seed, survived, len(c.kills), cycles, op.starts, lostAtKills, lostEnd, len(violations), elapsed.Round(time.Second))
	if path := os.Getenv("VOBOX_CHAOS_SUMMARY"); path != "" {
		writeChaosSummary(t, path, seed, c, cycles, survived, lostAtKills+lostEnd, len(violations), byWhere, elapsed, e)
	}
}

// killer kills the operator on schedule while a procedure runs, checks the
// links at each kill point, and restarts it.
func (c *chaos) killer(op *operator) {
	last, atStart, logAt := time.Now(), "", int64(0)
	for i := 0; i < len(c.delays) && !c.done.Load(); i++ {
		for !c.active.Load() && !c.done.Load() {
			time.Sleep(20 * time.Millisecond)
		}
		if c.done.Load() {
			return
		}
		// Time spent idle between procedures does not count.
		if since := time.Since(last); since > c.delays[i] {
			last = time.Now()
		}
		time.Sleep(time.Until(last.Add(c.delays[i])))
		// Liveness: a kill only once the operator has done something since
		// its last start (ran a command on a host, or wrote an
		// intervention). On a loaded machine its start can take longer than
		// the delay, and killing it again and again before it acts would
		// prove nothing and never end.
		for c.active.Load() && c.progress() == atStart && !ranStep(op.logPath, logAt) {
			time.Sleep(50 * time.Millisecond)
		}
		if !c.active.Load() {
			i--
			continue
		}
		c.mu.Lock()
		op.kill()
		k := killPoint{N: i + 1, Cycle: c.cycle, After: time.Since(last), At: time.Now(), Where: c.where()}
		st, err := c.e.readStatus(false)
		if err != nil {
			k.Broken = append(k.Broken, err.Error())
		} else {
			k.Broken, k.Lost = linksOnce(c.tracked, st)
		}
		atStart, logAt = c.progressLocked(), fileSize(op.logPath)
		if err := op.start(); err != nil {
			k.Broken = append(k.Broken, "restart: "+err.Error())
		}
		last = time.Now()
		c.kills = append(c.kills, k)
		c.mu.Unlock()
		c.e.t.Logf("kill %d at %s, %.2fs after start, cycle %d, %s: links ok=%t", k.N, k.At.Format("15:04:05.000"), k.After.Seconds(), k.Cycle, k.Where, len(k.Broken) == 0)
	}
	c.done.Store(true)
}

// progress is the resource versions of the run's interventions: they change
// whenever the operator writes one of them (or the test changes a spec).
func (c *chaos) progress() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.progressLocked()
}

func (c *chaos) progressLocked() string {
	var rvs []string
	for _, name := range []string{c.name, c.intruder} {
		v := &diracv1.VOBoxIntervention{}
		if err := suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: c.e.ns, Name: name}, v); err == nil {
			rvs = append(rvs, v.ResourceVersion)
		} else {
			rvs = append(rvs, "-")
		}
	}
	return strings.Join(rvs, "/")
}

// ranStep reports whether the operator logged a command it ran on a host
// after offset in its log.
func ranStep(path string, offset int64) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	raw, err := io.ReadAll(io.NewSectionReader(f, offset, 1<<40))
	return err == nil && bytes.Contains(raw, []byte(`"msg":"Ran step"`))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// where says what the intervention was doing, from its last written status.
func (c *chaos) where() string {
	v := &diracv1.VOBoxIntervention{}
	if err := suite.k8s.Get(context.Background(), client.ObjectKey{Namespace: c.e.ns, Name: c.name}, v); err != nil {
		return "unknown"
	}
	for _, ts := range v.Status.Tiers {
		if ts.State == diracv1.TierRunning || ts.State == diracv1.TierPending {
			return fmt.Sprintf("%s %s", v.Status.Phase, ts.Name)
		}
	}
	return string(v.Status.Phase)
}

// run is one power stop under kills; it returns the violations it saw.
func (c *chaos) run(t *testing.T, cycle int, leases *leaseLog) ([]string, int) {
	e := c.e
	var v []string
	st := e.status()
	original := startupLinks(st)
	agent := slices.Sorted(maps.Keys(original[intruderHost]))[0]
	excluded := map[string][]string{intruderHost: {agent}}
	name, intruder := fmt.Sprintf("chaos-%d", cycle), fmt.Sprintf("intruder-%d", cycle)
	c.mu.Lock()
	c.cycle, c.name, c.intruder, c.tracked = cycle, name, intruder, trackedLinks(st)
	c.mu.Unlock()

	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Name = name
		for i := range v.Spec.Hosts {
			if v.Spec.Hosts[i].Name == intruderHost {
				v.Spec.Hosts[i].Exclude = []string{agent}
			}
		}
	})
	downStart := time.Now()
	e.create(vbi)
	c.active.Store(true)

	// A second intervention on one of the hosts, once the first holds it.
	first := e.get(name)
	me := first.Namespace + "/" + first.Name + "/" + string(first.UID)
	leaseOf := hostLeases(vbi)
	if _, err := leases.waitHolder(leaseOf[intruderHost], me, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	iv := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Name = intruder
		v.Spec.Reason = intruderWhy
		onlyHosts(v, intruderHost)
	})
	e.create(iv)
	locked := e.waitFor(intruder, 2*time.Minute, func(v *diracv1.VOBoxIntervention) bool {
		c := meta.FindStatusCondition(v.Status.Conditions, diracv1.ReadyCondition)
		return c != nil && (c.Reason == diracv1.ReasonHostLocked || c.Status == metav1.ConditionTrue)
	})
	if c := meta.FindStatusCondition(locked.Status.Conditions, diracv1.ReadyCondition); c.Reason != diracv1.ReasonHostLocked || !strings.Contains(c.Message, name) {
		v = append(v, fmt.Sprintf("the intruder did not wait for %s's Lease: Ready %s %s: %s", name, c.Status, c.Reason, c.Message))
	}

	e.waitReady(name, 10*time.Minute)
	downTook := time.Since(downStart)
	c.active.Store(false)
	c.mu.Lock()
	down := e.status()
	v = append(v, checkDown(e.lab, down, original, hostNames(e.lab), vbi.Spec.Database.InnodbLog.Hosts)...)
	v = append(v, checkDownOrder(e.lab, e.events, e.ledger(), downStart)...)
	lv, lost := linksOnce(c.tracked, down)
	v = append(v, lv...)
	c.mu.Unlock()

	// The lock is held across the reboot window: the intruder still waits
	// after the first's Down and after the hosts rebooted, until its Up.
	upStart := time.Now()
	e.labCmd("reboot", "--all")
	v = append(v, stillLocked(e, intruder, name)...)
	e.deleteAndWait(intruder, 2*time.Minute)
	e.setState(name, diracv1.StateUp)
	c.active.Store(true)
	e.waitReady(name, 10*time.Minute)
	c.active.Store(false)

	c.mu.Lock()
	defer c.mu.Unlock()
	up := e.status()
	v = append(v, checkUp(up, original, excluded)...)
	v = append(v, checkUpOrder(e.lab, e.events, e.ledger(), upStart, excluded, vbi.Spec.Checks.ComponentUptime.Duration)...)
	lv, l2 := linksOnce(c.tracked, up)
	v = append(v, lv...)
	lost += l2
	v = append(v, leases.check(e.ledger(), downStart, map[string]string{vbi.Spec.Reason: e.ns + "/chaos-", intruderWhy: e.ns + "/intruder-"}, leaseOf)...)
	v = append(v, maintenanceOnce(e.ledger(), downStart, hostNames(e.lab))...)
	t.Logf("cycle %d: Down %s, Up %s, %d kill points so far, %d violations", cycle,
		downTook.Round(time.Second), time.Since(upStart).Round(time.Second), len(c.kills), len(v))

	// Make the next run start from the same state: the excluded agent back.
	e.deleteAndWait(name, 2*time.Minute)
	e.labCmd("ssh", intruderHost, "mv -n -T /opt/dirac/startup-save/"+agent+" /opt/dirac/startup/"+agent)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := e.status()
		h, _ := st.Host(intruderHost)
		if comp, _ := h.Component(agent); comp.State == labstatus.StateRun {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/%s did not start again after it was put back", intruderHost, agent)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return v, lost
}

func hostNames(lab *labstatus.Lab) []string {
	var out []string
	for _, h := range lab.Hosts {
		out = append(out, h.Name)
	}
	return out
}

// lockNamespace is where the operators of these tests keep the host
// Leases (--lock-namespace in operator.start).
const lockNamespace = "default"

// hostLeases maps an intervention's hosts to their machines' Leases, as the
// operator names them (controllers.hostLocks).
func hostLeases(vbi *diracv1.VOBoxIntervention) map[string]string {
	out := map[string]string{}
	for _, h := range vbi.Spec.Hosts {
		address, port := h.Address, vbi.Spec.SSH.Port
		if address == "" {
			address = h.Name
		}
		if h.Port != nil {
			port = *h.Port
		}
		out[h.Name] = hostid.LeaseName(hostid.Identity(address, port))
	}
	return out
}

// stillLocked checks that waiter still waits on holder's Lease.
func stillLocked(e *env, waiter, holder string) []string {
	v := e.get(waiter)
	c := meta.FindStatusCondition(v.Status.Conditions, diracv1.ReadyCondition)
	if c == nil || c.Reason != diracv1.ReasonHostLocked || !strings.Contains(c.Message, holder) {
		return []string{fmt.Sprintf("%s does not wait for %s's Lease through the reboot window: Ready %v", waiter, holder, c)}
	}
	return nil
}

// maintenanceOnce proves from the ledger that since `since` every host's
// maintenance was set and cleared exactly once, kills or not (issue 13.5).
func maintenanceOnce(ledger []labstatus.LedgerEntry, since time.Time, hosts []string) []string {
	known := map[string]bool{}
	for _, h := range hosts {
		known[h] = true
	}
	count := map[string]int{}
	for _, e := range ledger {
		if !e.IsMaintenance() || e.Time.Before(since) {
			continue
		}
		for _, h := range e.Targets(known) {
			count[h+" "+e.Args[0]]++
		}
	}
	var v []string
	for _, h := range hosts {
		for _, dir := range []string{"set", "clear"} {
			if n := count[h+" "+dir]; n != 1 {
				v = append(v, fmt.Sprintf("maintenance %s ran %d times on %s, want exactly once", dir, n, h))
			}
		}
	}
	return v
}

// leaseEvent is one Lease change as a watch saw it.
type leaseEvent struct {
	Seen    time.Time
	Type    watch.EventType
	Name    string
	Holder  string
	Acquire time.Time
}

// leaseLog records every Lease change of a namespace.
type leaseLog struct {
	mu     sync.Mutex
	events []leaseEvent
	gaps   int
}

// watchLeases watches the namespace's Leases until the test ends.
func watchLeases(t *testing.T, ns string) *leaseLog {
	t.Helper()
	l := &leaseLog{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	start := func() (watch.Interface, error) {
		return suite.watcher.Watch(ctx, &coordinationv1.LeaseList{}, client.InNamespace(ns))
	}
	w, err := start()
	if err != nil {
		t.Fatalf("failed to watch Leases: %v", err)
	}
	go func() {
		for {
			for ev := range w.ResultChan() {
				lease, ok := ev.Object.(*coordinationv1.Lease)
				if !ok {
					continue
				}
				le := leaseEvent{Seen: time.Now(), Type: ev.Type, Name: lease.Name}
				if lease.Spec.HolderIdentity != nil {
					le.Holder = *lease.Spec.HolderIdentity
				}
				if lease.Spec.AcquireTime != nil {
					le.Acquire = lease.Spec.AcquireTime.Time
				}
				l.mu.Lock()
				l.events = append(l.events, le)
				l.mu.Unlock()
			}
			if ctx.Err() != nil {
				return
			}
			l.mu.Lock()
			l.gaps++ // the watch ended: events may be missing
			l.mu.Unlock()
			if w, err = start(); err != nil {
				return
			}
		}
	}()
	return l
}

// waitHolder waits until the watch saw the Lease held by holder.
func (l *leaseLog) waitHolder(name, holder string, timeout time.Duration) (leaseEvent, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, ev := range l.events {
			if ev.Name == name && ev.Holder == holder && ev.Type != watch.Deleted {
				l.mu.Unlock()
				return ev, nil
			}
		}
		l.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	return leaseEvent{}, fmt.Errorf("Lease %s never held by %s within %s", name, holder, timeout)
}

// holding is a Lease held by one holder from acquire to release.
type holding struct {
	holder     string
	from, till time.Time // till is zero while held
}

// holdings turns the watch into who held each Lease when. A holding ends
// at the earlier of its deletion as seen and the next holder's acquire time
// (the watch sees a deletion late; the next holder's Create comes after it).
func (l *leaseLog) holdings() (map[string][]holding, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var v []string
	out := map[string][]holding{}
	for _, ev := range l.events {
		hs := out[ev.Name]
		open := len(hs) > 0 && hs[len(hs)-1].till.IsZero()
		switch ev.Type {
		case watch.Added, watch.Modified:
			if open && hs[len(hs)-1].holder == ev.Holder {
				continue
			}
			if open {
				v = append(v, fmt.Sprintf("Lease %s changed holder from %s to %s without being released", ev.Name, hs[len(hs)-1].holder, ev.Holder))
				hs[len(hs)-1].till = ev.Acquire
			}
			hs = append(hs, holding{holder: ev.Holder, from: ev.Acquire})
		case watch.Deleted:
			if open {
				hs[len(hs)-1].till = ev.Seen
			}
		}
		out[ev.Name] = hs
	}
	for name, hs := range out {
		for i := 0; i+1 < len(hs); i++ {
			if hs[i+1].from.Before(hs[i].till) {
				hs[i].till = hs[i+1].from
			}
		}
		out[name] = hs
	}
	if l.gaps > 0 {
		v = append(v, fmt.Sprintf("the Lease watch was interrupted %d time(s): holdings may be incomplete", l.gaps))
	}
	return out, v
}

// check proves from the ledger that every maintenance command since `since`
// ran while its own intervention (told apart by the reason it passes) held
// the host's Lease, and never while another one did.
func (l *leaseLog) check(ledger []labstatus.LedgerEntry, since time.Time, owners map[string]string, leaseOf map[string]string) []string {
	held, v := l.holdings()
	for _, e := range ledger {
		if !e.IsMaintenance() || e.Time.Before(since) || len(e.Args) < 3 {
			continue
		}
		owner, ok := owners[e.Args[2]]
		if !ok {
			v = append(v, fmt.Sprintf("maintenance command with an unknown reason: %v", e.Args))
			continue
		}
		var holder string
		for _, h := range held[leaseOf[e.Host]] {
			if !e.Time.Before(h.from) && (h.till.IsZero() || e.Time.Before(h.till)) {
				holder = h.holder
			}
		}
		switch {
		case holder == "":
			v = append(v, fmt.Sprintf("%s on %s at %s ran while no intervention held the host's Lease", strings.Join(e.Args, " "), e.Host, e.Time.Format(labstatus.TimeFormat)))
		case !strings.HasPrefix(holder, owner):
			v = append(v, fmt.Sprintf("%s on %s at %s ran while %s held the host's Lease", strings.Join(e.Args, " "), e.Host, e.Time.Format(labstatus.TimeFormat), holder))
		}
	}
	return v
}

// writeChaosSummary writes the figures of a chaos run as Markdown.
func writeChaosSummary(t *testing.T, path string, seed int64, c *chaos, cycles, survived, lost, violations int, byWhere map[string]int, elapsed time.Duration, e *env) {
	var b strings.Builder
	fmt.Fprintf(&b, "# Chaos run summary\n\nWritten by `make chaos` (test/e2e/chaos_test.go, TestChaos) on %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "| Figure | Value |\n|---|---|\n")
	fmt.Fprintf(&b, "| Seed (replay with `VOBOX_CHAOS_SEED`) | %d |\n", seed)
	fmt.Fprintf(&b, "| Kill points (SIGKILL of the operator) | %d |\n", len(c.kills))
	fmt.Fprintf(&b, "| Kill points survived (every invariant held, run reached Ready) | %d |\n", survived)
	fmt.Fprintf(&b, "| Runs of Down → reboot of all 11 hosts → Up | %d |\n", cycles)
	fmt.Fprintf(&b, "| Startup links lost | %d |\n", lost)
	fmt.Fprintf(&b, "| Invariant violations | %d |\n", violations)
	fmt.Fprintf(&b, "| Result | %s |\n", map[bool]string{true: "FAIL", false: "PASS"}[t.Failed()])
	fmt.Fprintf(&b, "| Wall time | %s |\n\n", elapsed.Round(time.Second))
	fmt.Fprintf(&b, "Kill delays after each (re)start: uniform in [%s, %s), counted only while a procedure runs, and a kill waits until the operator has acted since its last start (ran a command or wrote an intervention), so that a slow start cannot livelock the run.\n\n", chaosMinDelay, chaosMaxDelay)
	fmt.Fprintf(&b, "Where the kills landed (the intervention's phase and running tier as last written):\n\n| Phase | Kills |\n|---|---|\n")
	keys := slices.Collect(maps.Keys(byWhere))
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %d |\n", k, byWhere[k])
	}
	fmt.Fprintf(&b, "\nMaintenance commands run at most once per host and direction (a marker written on the host with the command, both detached from the session under a lock, looked at first), kills or not: %d maintenance calls for %d needed.\n", len(e.ledger()), cycles*2*len(e.lab.Hosts))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Errorf("failed to write the summary: %v", err)
	}
	t.Logf("chaos summary written to %s", path)
}
