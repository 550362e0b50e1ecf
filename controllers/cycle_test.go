package controllers

import (
	"context"
	"os"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// rebooter gives simulated hosts a sudo that asks for a reboot (as the
// lab's sudo /sbin/reboot does), and reboots a host that asked, a moment
// later, as its own power supervisor would.
type rebooter struct {
	mu      sync.Mutex
	reboots map[string][]time.Time
}

// sudoReboot records the request and returns at once, as sudo /sbin/reboot.
const sudoReboot = `#!/bin/sh
[ "$1" = /sbin/reboot ] || { echo "sudo: not allowed: $*" >&2; exit 1; }
printf '%s reboot-request %s\n' "$(date +%s%N)" "$1" >> "$SIM_DIR/events.log"
touch "$SIM_DIR/state/reboot-requested"
`

// sudoIgnore returns 0 and does nothing: a reboot that never happens.
const sudoIgnore = "#!/bin/sh\nexit 0\n"

// newRebooter installs sudo on the hosts and reboots, until the test
// ends, those that asked.
func newRebooter(t *testing.T, sudo string, hosts ...*hostsim.Host) *rebooter {
	t.Helper()
	rb := &rebooter{reboots: map[string][]time.Time{}}
	for _, h := range hosts {
		if err := os.WriteFile(h.Path("bin", "sudo"), []byte(sudo), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, h := range hosts {
				if err := os.Remove(h.Path("state", "reboot-requested")); err != nil {
					continue
				}
				time.Sleep(100 * time.Millisecond)
				h.Reboot(t)
				rb.mu.Lock()
				rb.reboots[h.Path()] = append(rb.reboots[h.Path()], time.Now())
				rb.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return rb
}

// count is how many times a host was rebooted.
func (rb *rebooter) count(h *hostsim.Host) int {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return len(rb.reboots[h.Path()])
}

// cycleTiers is the plan of a cycle with reboot, as status.tiers shows it.
var cycleTiers = []string{
	diracv1.MaintenanceSetCondition, diracv1.AgentsStoppedCondition, diracv1.ServicesStoppedCondition, diracv1.DatabasesStoppedCondition,
	diracv1.RebootedCondition,
	diracv1.DatabasesStartedCondition, diracv1.FrameworkStartedCondition, diracv1.ServicesStartedCondition, diracv1.AgentsStartedCondition, diracv1.MaintenanceClearedCondition,
}

func tierNames(vbi *diracv1.VOBoxIntervention) []string {
	var out []string
	for _, t := range vbi.Status.Tiers {
		out = append(out, t.Name)
	}
	return out
}

// TestCycleWithReboot: a cycle with spec.reboot takes every host Down,
// reboots each once (a new boot id, rebootedAt), brings them Up and sets
// observedCycle; status.tiers is the cycle's one plan; nothing starts
// before every host is back. A new token runs a second cycle, and only then.
func TestCycleWithReboot(t *testing.T) {
	t.Parallel()
	ag := hostsim.NewHost(t, "ag", false, hostsim.Component{Link: "WorkloadManagement_SiteDirector", Agent: true})
	svc := hostsim.NewHost(t, "svc", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"})
	db := hostsim.NewHost(t, "db", true)
	sim := hostsim.NewCluster(ag, svc, db)
	rb := newRebooter(t, sudoReboot, ag, svc, db)
	h := newHarness(t, sim)
	boots := map[*hostsim.Host]string{ag: ag.BootID(t), svc: svc.BootID(t), db: db.BootID(t)}

	vbi := h.intervention("patch", diracv1.StateUp, hostSpec("ag", diracv1.RoleAgents), hostSpec("svc", diracv1.RoleServices), hostSpec("db", diracv1.RoleDatabase))
	vbi.Spec.Cycle = "kernel-1"
	vbi.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: time.Minute}}
	h.create(vbi)
	h.waitFor("patch", waitShort, "the cycle's plan", func(v *diracv1.VOBoxIntervention) bool { return len(v.Status.Tiers) > 0 })
	if got := tierNames(h.get("patch")); !slices.Equal(got, cycleTiers) {
		t.Errorf("status.tiers = %v, want %v", got, cycleTiers)
	}
	if l := h.leases(); len(l) == 0 {
		t.Errorf("no Lease held during the cycle")
	}
	up := h.waitFor("patch", waitLong, "observedCycle kernel-1", func(v *diracv1.VOBoxIntervention) bool {
		return v.Status.ObservedCycle == "kernel-1"
	})
	wantConditions(t, up, map[string][2]string{
		diracv1.ReadyCondition:    {string(metav1.ConditionTrue), diracv1.ReasonSucceeded},
		diracv1.RebootedCondition: {string(metav1.ConditionTrue), diracv1.ReasonSucceeded},
	})
	for host, name := range map[*hostsim.Host]string{ag: "ag", svc: "svc", db: "db"} {
		hs := hostStatusOf(up, name)
		if rb.count(host) != 1 || host.BootID(t) == boots[host] || hs.BootID != boots[host] || hs.RebootedAt == nil || !hs.Rebooted || hs.Phase != diracv1.HostUp {
			t.Errorf("host %s: %d reboot(s), boot id %s (was %s), status bootID %q rebooted %v rebootedAt %v phase %s",
				name, rb.count(host), host.BootID(t), boots[host], hs.BootID, hs.Rebooted, hs.RebootedAt, hs.Phase)
		}
		if sim.InMaintenance(name) {
			t.Errorf("host %s still in maintenance", name)
		}
	}
	if got := svc.SvState(t, "WorkloadManagement_JobMonitoring"); got != "run" {
		t.Errorf("svc's JobMonitoring is %s after the cycle", got)
	}
	if got := ag.SvState(t, "WorkloadManagement_SiteDirector"); got != "run" {
		t.Errorf("ag's SiteDirector is %s after the cycle", got)
	}
	// Order across the whole cycle: every stop before the first reboot,
	// every start after the last.
	var lastReboot, firstStart, lastStop int64
	for _, e := range sim.Events(t) {
		switch e.Kind {
		case "reboot-request":
			lastReboot = max(lastReboot, e.At)
		case "component-start", "mysql.server-start":
			if firstStart == 0 && lastReboot > 0 {
				firstStart = e.At
			}
		case "component-stop", "mysqld-stop":
			lastStop = max(lastStop, e.At)
		}
	}
	if lastReboot == 0 || lastStop > lastReboot || (firstStart != 0 && firstStart < lastReboot) {
		t.Errorf("order: last stop %d, last reboot request %d, first start after it %d; events:\n%v", lastStop, lastReboot, firstStart, sim.Events(t))
	}
	if l := h.leases(); len(l) != 0 {
		t.Errorf("Leases still held after the cycle: %v", l)
	}

	// The same token again changes nothing; a new one runs a new cycle.
	time.Sleep(time.Second)
	if rb.count(svc) != 1 {
		t.Fatalf("svc rebooted again without a new token")
	}
	h.update("patch", func(v *diracv1.VOBoxIntervention) { v.Spec.Cycle = "kernel-2" })
	h.waitFor("patch", waitLong, "observedCycle kernel-2", func(v *diracv1.VOBoxIntervention) bool {
		return v.Status.ObservedCycle == "kernel-2" && isComplete(v)
	})
	for host, name := range map[*hostsim.Host]string{ag: "ag", svc: "svc", db: "db"} {
		if rb.count(host) != 2 {
			t.Errorf("host %s rebooted %d times over two cycles", name, rb.count(host))
		}
	}
}

// TestCycleWithoutReboot: a cycle without spec.reboot has no Rebooted
// tier and reboots nothing.
func TestCycleWithoutReboot(t *testing.T) {
	t.Parallel()
	svc := hostsim.NewHost(t, "svc", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"})
	sim := hostsim.NewCluster(svc)
	h := newHarness(t, sim)
	boot := svc.BootID(t)
	vbi := h.intervention("restart", diracv1.StateUp, hostSpec("svc", diracv1.RoleServices))
	vbi.Spec.Cycle = "r1"
	h.create(vbi)
	up := h.waitFor("restart", waitLong, "observedCycle r1", func(v *diracv1.VOBoxIntervention) bool { return v.Status.ObservedCycle == "r1" })
	want := slices.DeleteFunc(slices.Clone(cycleTiers), func(s string) bool { return s == diracv1.RebootedCondition })
	if got := tierNames(up); !slices.Equal(got, want) {
		t.Errorf("status.tiers = %v, want %v", got, want)
	}
	if svc.BootID(t) != boot {
		t.Errorf("svc rebooted in a cycle without spec.reboot")
	}
	var stops, starts int
	for _, e := range sim.Events(t) {
		switch e.Kind {
		case "component-stop":
			stops++
		case "component-start":
			starts++
		}
	}
	if stops != 1 || starts != 1 {
		t.Errorf("%d stop(s) and %d start(s) of JobMonitoring, want 1 and 1", stops, starts)
	}
}

// TestRollingCycle: with maxUnavailable 1, hosts go one at a time per role
// (maintenance set to cleared never overlapping within a role), Agents
// before Services before Framework before Database, each rebooted once,
// and the intervention ends Up.
func TestRollingCycle(t *testing.T) {
	t.Parallel()
	hosts := []*hostsim.Host{
		hostsim.NewHost(t, "a1", false, hostsim.Component{Link: "WorkloadManagement_SiteDirector", Agent: true}),
		hostsim.NewHost(t, "a2", false, hostsim.Component{Link: "WorkloadManagement_JobCleaningAgent", Agent: true}),
		hostsim.NewHost(t, "s1", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"}),
		hostsim.NewHost(t, "s2", false, hostsim.Component{Link: "WorkloadManagement_JobManager"}),
		hostsim.NewHost(t, "fw", false, hostsim.Component{Link: "Configuration_Server"}),
		hostsim.NewHost(t, "db", true),
	}
	sim := hostsim.NewCluster(hosts...)
	rb := newRebooter(t, sudoReboot, hosts...)
	h := newHarness(t, sim)
	roles := map[string]diracv1.Role{"a1": diracv1.RoleAgents, "a2": diracv1.RoleAgents, "s1": diracv1.RoleServices, "s2": diracv1.RoleServices,
		"fw": diracv1.RoleFramework, "db": diracv1.RoleDatabase}
	var specs []diracv1.HostSpec
	for _, name := range []string{"db", "fw", "s1", "s2", "a1", "a2"} { // spec order is not rolling order
		specs = append(specs, hostSpec(name, roles[name]))
	}
	vbi := h.intervention("roll", diracv1.StateUp, specs...)
	vbi.Spec.Cycle = "kernel-1"
	vbi.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: time.Minute}}
	vbi.Spec.Strategy.Rolling = &diracv1.RollingSpec{MaxUnavailable: 1}
	h.create(vbi)
	up := h.waitFor("roll", 2*waitLong, "observedCycle kernel-1", func(v *diracv1.VOBoxIntervention) bool { return v.Status.ObservedCycle == "kernel-1" })
	wantConditions(t, up, map[string][2]string{diracv1.ReadyCondition: {string(metav1.ConditionTrue), diracv1.ReasonSucceeded}})
	if got := tierNames(up); !slices.Equal(got, cycleTiers) {
		t.Errorf("status.tiers = %v, want %v", got, cycleTiers)
	}

	// Out of service: from the host's maintenance set to its clear.
	type span struct {
		host       string
		from, to   int64
		rebootedIn bool
	}
	spans := map[string]*span{}
	for _, e := range sim.Events(t) {
		switch e.Kind {
		case "maintenance-set":
			spans[e.Subject] = &span{host: e.Subject, from: e.At}
		case "maintenance-clear":
			spans[e.Subject].to = e.At
		}
	}
	for _, e := range sim.Events(t) {
		if sp := spans[e.Host]; sp != nil && (e.Kind == "component-stop" || e.Kind == "component-start" || e.Kind == "reboot-request" || e.Kind == "mysqld-stop") {
			if e.At < sp.from || (sp.to != 0 && e.At > sp.to) {
				t.Errorf("%s outside its host's maintenance", e)
			}
			if e.Kind == "reboot-request" {
				sp.rebootedIn = true
			}
		}
	}
	var order []*span
	for _, name := range []string{"a1", "a2", "s1", "s2", "fw", "db"} {
		sp := spans[name]
		if sp == nil || sp.to == 0 || !sp.rebootedIn {
			t.Fatalf("host %s: maintenance span %+v; events:\n%v", name, sp, sim.Events(t))
		}
		order = append(order, sp)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].from < order[j].from })
	var got []string
	for i, sp := range order {
		got = append(got, sp.host)
		if i > 0 && sp.from < order[i-1].to {
			t.Errorf("%s went out of service before %s was back", sp.host, order[i-1].host)
		}
	}
	if want := []string{"a1", "a2", "s1", "s2", "fw", "db"}; !slices.Equal(got, want) {
		t.Errorf("rolling order %v, want %v", got, want)
	}
	for _, host := range hosts {
		if n := rb.count(host); n != 1 {
			t.Errorf("host %s rebooted %d times", host.Path(), n)
		}
	}
	t.Logf("Rolling order: %v", got)
}

// TestDriftReopensOnlyTheCyclesUpTiers: a host that drifted after a cycle
// is brought back by the cycle's Up tiers only: its Down tiers and its
// reboot are not run again.
func TestDriftReopensOnlyTheCyclesUpTiers(t *testing.T) {
	vbi := statusFixture(diracv1.StateUp, diracv1.FailurePolicyHalt)
	vbi.Spec.Cycle = "k1"
	vbi.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: time.Minute}}
	var done []diracv1.TierState
	for range cycleTiers {
		done = append(done, diracv1.TierSucceeded)
	}
	s := statusScope(vbi, done...)
	reopenHost(s, "s1", []procedure.Drift{{Subject: "WorkloadManagement_JobMonitoring", What: "is not in startup"}})
	want := []string{diracv1.MaintenanceSetCondition, diracv1.ServicesStoppedCondition, diracv1.RebootedCondition, diracv1.MaintenanceClearedCondition}
	got := slices.Clone(s.hostStatus("s1").CompletedTiers)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("completed tiers after drift %v, want %v (only ServicesStarted reopened)", got, want)
	}
}

// TestRollingFailurePolicy: in a rolling cycle the failure policy applies
// per host. An agents host whose component logs errors at its new start
// fails (ErrorsInLog); under Halt nothing else starts after it, under
// Continue it is left behind (in maintenance) and the others go through.
func TestRollingFailurePolicy(t *testing.T) {
	t.Parallel()
	for _, policy := range []diracv1.FailurePolicy{diracv1.FailurePolicyHalt, diracv1.FailurePolicyContinue} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			a1 := hostsim.NewHost(t, "a1", false, hostsim.Component{Link: "WorkloadManagement_SiteDirector", Agent: true, Fault: "errors"})
			a2 := hostsim.NewHost(t, "a2", false, hostsim.Component{Link: "WorkloadManagement_JobCleaningAgent", Agent: true})
			s1 := hostsim.NewHost(t, "s1", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"})
			sim := hostsim.NewCluster(a1, a2, s1)
			newRebooter(t, sudoReboot, a1, a2, s1)
			h := newHarness(t, sim)
			vbi := h.intervention("roll", diracv1.StateUp, hostSpec("a1", diracv1.RoleAgents), hostSpec("a2", diracv1.RoleAgents), hostSpec("s1", diracv1.RoleServices))
			vbi.Spec.Cycle = "k1"
			vbi.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: time.Minute}}
			vbi.Spec.Strategy.Rolling = &diracv1.RollingSpec{MaxUnavailable: 1}
			vbi.Spec.Strategy.FailurePolicy = policy
			h.create(vbi)
			failed := h.waitFor("roll", waitLong, "a1 failed", func(v *diracv1.VOBoxIntervention) bool {
				hs := hostStatusOf(v, "a1")
				return hs.Phase == diracv1.HostFailed && hs.Reason == diracv1.ReasonErrorsInLog
			})
			if policy == diracv1.FailurePolicyHalt {
				time.Sleep(3 * time.Second)
				if sim.InMaintenance("a2") || sim.InMaintenance("s1") || a2.SvState(t, "WorkloadManagement_JobCleaningAgent") != "run" {
					t.Errorf("under Halt another host went out of service after a1 failed")
				}
				wantConditions(t, failed, map[string][2]string{diracv1.ReadyCondition: {string(metav1.ConditionFalse), diracv1.ReasonHostFailed}})
				h.waitCondition("roll", diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonHalted, waitShort)
				return
			}
			end := h.waitFor("roll", waitLong, "a2 and s1 through", func(v *diracv1.VOBoxIntervention) bool {
				return hostStatusOf(v, "a2").Phase == diracv1.HostUp && hostStatusOf(v, "s1").Phase == diracv1.HostUp
			})
			if !sim.InMaintenance("a1") || sim.InMaintenance("a2") || sim.InMaintenance("s1") {
				t.Errorf("maintenance a1 %v a2 %v s1 %v, want only a1's set", sim.InMaintenance("a1"), sim.InMaintenance("a2"), sim.InMaintenance("s1"))
			}
			if hostStatusOf(end, "a2").RebootedAt == nil || hostStatusOf(end, "s1").RebootedAt == nil {
				t.Errorf("a2 or s1 not rebooted")
			}
			h.waitCondition("roll", diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonCompletedWithFailures, waitShort)
		})
	}
}

// TestWorkingPhase: a cycle reads ShuttingDown until its first tier after
// the Down tiers starts, StartingUp then; a plain plan by its state.
func TestWorkingPhase(t *testing.T) {
	vbi := statusFixture(diracv1.StateUp, diracv1.FailurePolicyHalt)
	vbi.Spec.Cycle = "k1"
	vbi.Spec.Reboot = &diracv1.RebootSpec{Command: []string{"sudo", "/sbin/reboot"}, Timeout: metav1.Duration{Duration: time.Minute}}
	s := statusScope(vbi, diracv1.TierSucceeded, diracv1.TierRunning)
	if got := workingPhase(s); got != diracv1.PhaseShuttingDown {
		t.Errorf("cycle in its Down tiers: %s", got)
	}
	s = statusScope(statusFixture(diracv1.StateUp, diracv1.FailurePolicyHalt))
	s.vbi.Spec.Cycle, s.vbi.Spec.Reboot = "k1", vbi.Spec.Reboot
	s = statusScope(s.vbi, diracv1.TierSucceeded, diracv1.TierSucceeded, diracv1.TierSucceeded, diracv1.TierSucceeded, diracv1.TierRunning)
	if got := workingPhase(s); got != diracv1.PhaseStartingUp {
		t.Errorf("cycle rebooting: %s", got)
	}
	for state, want := range map[diracv1.State]diracv1.Phase{diracv1.StateDown: diracv1.PhaseShuttingDown, diracv1.StateUp: diracv1.PhaseStartingUp} {
		if got := workingPhase(statusScope(statusFixture(state, diracv1.FailurePolicyHalt))); got != want {
			t.Errorf("%s plan: %s, want %s", state, got, want)
		}
	}
}
