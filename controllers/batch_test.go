package controllers

import (
	"maps"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
)

func TestBatch(t *testing.T) {
	t.Parallel()
	now := metav1.Now()
	mk := func(limit int32, started ...string) *scope {
		s := &scope{vbi: &diracv1.VOBoxIntervention{}}
		s.vbi.Spec.Strategy.MaxParallel = limit
		for _, n := range []string{"a", "b", "c", "d"} {
			s.vbi.Spec.Hosts = append(s.vbi.Spec.Hosts, diracv1.HostSpec{Name: n})
			hs := diracv1.HostStatus{Name: n}
			if slices.Contains(started, n) {
				hs.WaitingSince = &now
			}
			s.vbi.Status.Hosts = append(s.vbi.Status.Hosts, hs)
		}
		s.hosts = map[string]*hostContext{}
		for i := range s.vbi.Status.Hosts {
			s.hosts[s.vbi.Status.Hosts[i].Name] = &hostContext{status: &s.vbi.Status.Hosts[i]}
		}
		return s
	}
	all := []string{"a", "b", "c", "d"}
	cases := []struct {
		name  string
		s     *scope
		names []string
		want  []string
	}{
		{"no limit", mk(0), all, all},
		{"limit, none started", mk(2), all, []string{"a", "b"}},
		{"a started keeps its place", mk(2, "c"), all, []string{"c", "a"}},
		{"full: nothing new", mk(2, "b", "d"), all, []string{"b", "d"}},
		{"more started than the limit (lowered): none new", mk(1, "a", "c"), all, []string{"a", "c"}},
		{"fewer left than the limit", mk(3), []string{"d"}, []string{"d"}},
	}
	for _, tc := range cases {
		if got := batch(tc.s, tc.names); !slices.Equal(got, tc.want) {
			t.Errorf("%s: batch = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// slowStopTopology is three services hosts whose component ignores its stop
// until killed after stopTimeout: each host's step takes more than a pass.
func slowStopTopology(t *testing.T) (*hostsim.Cluster, []diracv1.HostSpec) {
	var hosts []*hostsim.Host
	var specs []diracv1.HostSpec
	for _, n := range []string{"s1", "s2", "s3"} {
		hosts = append(hosts, hostsim.NewHost(t, n, false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring", Fault: "nostop"}))
		specs = append(specs, hostSpec(n, diracv1.RoleServices))
	}
	return hostsim.NewCluster(hosts...), specs
}

// TestMaxParallelIsBatching: with maxParallel 1, from the hosts' event logs,
// no host of the services tier is asked to stop before the previous one's
// component is gone, though each takes several passes.
func TestMaxParallelIsBatching(t *testing.T) {
	t.Parallel()
	sim, specs := slowStopTopology(t)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, specs...)
	vbi.Spec.Strategy.MaxParallel = 1
	vbi.Spec.Strategy.StopTimeout = metav1.Duration{Duration: 2 * time.Second}
	vbi.Spec.Maintenance.Enabled = new(bool)
	h.create(vbi)
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
	type span struct{ from, to int64 }
	spans := map[string]*span{}
	for _, e := range sim.Events(t) {
		switch e.Kind {
		case "component-wantdown":
			if spans[e.Host] == nil {
				spans[e.Host] = &span{from: e.At}
			}
		case "component-kill", "component-stop":
			if sp := spans[e.Host]; sp != nil {
				sp.to = e.At
			}
		}
	}
	if len(spans) != 3 {
		t.Fatalf("stop spans %v, want one per host", slices.Collect(maps.Keys(spans)))
	}
	for a, sa := range spans {
		for b, sb := range spans {
			if a < b && sa.from < sb.to && sb.from < sa.to {
				t.Errorf("hosts %s [%d, %d] and %s [%d, %d] worked at once with maxParallel 1", a, sa.from, sa.to, b, sb.from, sb.to)
			}
		}
	}
}

// TestSuspendMidTier: suspended while the first host of a batched tier is
// at work, no other host's step starts; unsuspended, the tier goes on.
func TestSuspendMidTier(t *testing.T) {
	t.Parallel()
	sim, specs := slowStopTopology(t)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, specs...)
	vbi.Spec.Strategy.MaxParallel = 1
	vbi.Spec.Strategy.StopTimeout = metav1.Duration{Duration: 12 * time.Second} // more than a pass
	vbi.Spec.Maintenance.Enabled = new(bool)
	h.create(vbi)
	first := ""
	h.waitFor("power-stop", waitShort, "a first host at work", func(v *diracv1.VOBoxIntervention) bool {
		for _, hs := range v.Status.Hosts {
			if hs.LastStep != nil && hs.LastStep.Name == "StopComponents" {
				first = hs.Name
				return true
			}
		}
		return false
	})
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.Suspend = true })
	h.waitCondition("power-stop", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, waitShort)
	time.Sleep(6 * time.Second)
	for name, host := range sim.Hosts {
		if name == first {
			continue
		}
		if evs := host.Events(t); len(evs) != 0 {
			t.Errorf("host %s worked after the suspension: %v", name, evs)
		}
	}
	if v := h.get("power-stop"); meta.IsStatusConditionTrue(v.Status.Conditions, diracv1.ServicesStoppedCondition) {
		t.Errorf("the tier finished while suspended")
	}
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.Suspend = false })
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
}

// TestFlipUpToDown flips Up back to Down once the services are up and the
// agents wait for settleDelay: every link is parked again, exactly the
// recorded ones, the components stopped, the databases stopped again, and
// maintenance, never cleared, is not set a second time.
func TestFlipUpToDown(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	before := map[string]map[string]string{}
	for name, host := range sim.Hosts {
		before[name] = host.Links(t, "startup")
	}
	vbi := h.intervention("power-stop", diracv1.StateDown, hosts...)
	vbi.Spec.Checks.SettleDelay = metav1.Duration{Duration: time.Hour}
	h.create(vbi)
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	h.waitFor("power-stop", waitLong, "the services up, the agents waiting", func(v *diracv1.VOBoxIntervention) bool {
		return v.Status.ObservedState == diracv1.StateUp && meta.IsStatusConditionTrue(v.Status.Conditions, diracv1.ServicesStartedCondition)
	})
	if st := sim.Hosts["svc"].SvState(t, "WorkloadManagement_JobMonitoring"); st != "run" {
		t.Fatalf("svc's JobMonitoring is %s mid-Up, want run", st)
	}

	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateDown })
	vbi = h.waitReady("power-stop", diracv1.StateDown, waitLong)
	for name, host := range sim.Hosts {
		if got := host.Links(t, "startup"); len(got) != 0 {
			t.Errorf("host %s: startup still holds %v", name, got)
		}
		if got := host.Links(t, "startup-save"); !maps.Equal(got, before[name]) {
			t.Errorf("host %s: startup-save = %v, want %v", name, got, before[name])
		}
		for link := range before[name] {
			if !host.ComponentDown(t, link) {
				t.Errorf("host %s: %s is %s", name, link, host.SvState(t, link))
			}
		}
		if host.DB && host.MysqldRunning() {
			t.Errorf("host %s: mysqld runs", name)
		}
		if !sim.InMaintenance(name) {
			t.Errorf("host %s is not in maintenance", name)
		}
	}
	sets := map[string]int{}
	for _, e := range sim.Events(t) {
		switch {
		case e.Kind == "maintenance-set":
			sets[e.Subject]++
		case e.Kind == "maintenance-clear":
			t.Errorf("maintenance cleared on the way: %s", e)
		case e.Kind == "component-start" && slices.Contains(agentLinks, e.Subject):
			t.Errorf("an agent started before settleDelay: %s", e)
		}
	}
	for _, hs := range hosts {
		if sets[hs.Name] != 1 {
			t.Errorf("maintenance set %d times for %s, want once", sets[hs.Name], hs.Name)
		}
	}
}
