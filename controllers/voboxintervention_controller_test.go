package controllers

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostid"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The controller against a real API server and simulated hosts. Tests
// assert on what the API server and the hosts hold at the end: conditions,
// links, supervise states, maintenance, the hosts' event logs.

const (
	waitShort = 20 * time.Second
	waitLong  = 60 * time.Second
)

// intervention returns an intervention of the simulated layout: the sim's
// paths, short checks, and the journal moved on every Database host.
func (h *harness) intervention(name string, state diracv1.State, hosts ...diracv1.HostSpec) *diracv1.VOBoxIntervention {
	return &diracv1.VOBoxIntervention{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name},
		Spec: diracv1.VOBoxInterventionSpec{
			State:    state,
			Reason:   "power stop",
			SSH:      diracv1.SSHSpec{SecretRef: diracv1.SecretReference{Name: "ssh"}},
			Layout:   diracv1.LayoutSpec{DiracRoot: hostsim.DiracRoot, MysqlServer: hostsim.MysqlServer},
			Hosts:    hosts,
			Database: diracv1.DatabaseSpec{InnodbLog: &diracv1.InnodbLogSpec{From: hostsim.JournalFrom, To: hostsim.JournalTo}},
			Checks: diracv1.ChecksSpec{
				SettleDelay:     metav1.Duration{Duration: time.Second},
				ComponentUptime: metav1.Duration{Duration: time.Second},
			},
			Strategy: diracv1.StrategySpec{
				StepTimeout: metav1.Duration{Duration: 15 * time.Second},
				StopTimeout: metav1.Duration{Duration: time.Hour},
			},
		},
	}
}

func hostSpec(name string, roles ...diracv1.Role) diracv1.HostSpec {
	return diracv1.HostSpec{Name: name, Roles: roles}
}

func (h *harness) create(vbi *diracv1.VOBoxIntervention) {
	h.t.Helper()
	if err := k8sClient.Create(context.Background(), vbi); err != nil {
		h.t.Fatalf("failed to create intervention %s: %v", vbi.Name, err)
	}
}

func (h *harness) get(name string) *diracv1.VOBoxIntervention {
	h.t.Helper()
	vbi := &diracv1.VOBoxIntervention{}
	if err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: name}, vbi); err != nil {
		h.t.Fatalf("failed to get intervention %s: %v", name, err)
	}
	return vbi
}

// update changes an intervention's spec or metadata.
func (h *harness) update(name string, change func(*diracv1.VOBoxIntervention)) {
	h.t.Helper()
	vbi := h.get(name)
	patch := client.MergeFrom(vbi.DeepCopy())
	change(vbi)
	if err := k8sClient.Patch(context.Background(), vbi, patch); err != nil {
		h.t.Fatalf("failed to patch intervention %s: %v", name, err)
	}
}

// waitFor polls an intervention until cond holds; on timeout it fails with
// the last status.
func (h *harness) waitFor(name string, timeout time.Duration, what string, cond func(*diracv1.VOBoxIntervention) bool) *diracv1.VOBoxIntervention {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		vbi := h.get(name)
		if cond(vbi) {
			return vbi
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("intervention %s: %s: not within %s; status:\n%s", name, what, timeout, describeStatus(vbi))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitReady waits until the intervention's current generation is Ready.
func (h *harness) waitReady(name string, state diracv1.State, timeout time.Duration) *diracv1.VOBoxIntervention {
	h.t.Helper()
	return h.waitFor(name, timeout, "Ready="+string(state), func(v *diracv1.VOBoxIntervention) bool {
		c := meta.FindStatusCondition(v.Status.Conditions, diracv1.ReadyCondition)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == v.Generation &&
			v.Status.ObservedGeneration == v.Generation && v.Status.ObservedState == state
	})
}

// waitCondition waits for a condition with a status and reason.
func (h *harness) waitCondition(name, typ string, status metav1.ConditionStatus, reason string, timeout time.Duration) *diracv1.VOBoxIntervention {
	h.t.Helper()
	return h.waitFor(name, timeout, fmt.Sprintf("%s=%s/%s", typ, status, reason), func(v *diracv1.VOBoxIntervention) bool {
		c := meta.FindStatusCondition(v.Status.Conditions, typ)
		return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == v.Generation
	})
}

func describeStatus(vbi *diracv1.VOBoxIntervention) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  generation %d observed %d state %s phase %s progress %s\n", vbi.Generation, vbi.Status.ObservedGeneration, vbi.Status.ObservedState, vbi.Status.Phase, vbi.Status.Progress)
	for _, c := range vbi.Status.Conditions {
		fmt.Fprintf(&b, "  %s=%s %s (gen %d): %s\n", c.Type, c.Status, c.Reason, c.ObservedGeneration, c.Message)
	}
	for _, t := range vbi.Status.Tiers {
		fmt.Fprintf(&b, "  tier %s %s %d/%d\n", t.Name, t.State, t.Done, len(t.Hosts))
	}
	for _, hs := range vbi.Status.Hosts {
		last := ""
		if hs.LastStep != nil {
			last = fmt.Sprintf("%s %v exit %v: %s", hs.LastStep.Name, hs.LastStep.Command, ptr.Deref(hs.LastStep.ExitCode, -1), hs.LastStep.Output)
		}
		fmt.Fprintf(&b, "  host %s %s %s %q tiers %v saved %v excluded %v last %s\n", hs.Name, hs.Phase, hs.Reason, hs.Message, hs.CompletedTiers, hs.SavedComponents, hs.ExcludedComponents, last)
	}
	return b.String()
}

// wantConditions checks conditions by type: status and reason, and that
// every condition speaks for the current generation.
func wantConditions(t *testing.T, vbi *diracv1.VOBoxIntervention, want map[string][2]string) {
	t.Helper()
	for typ, w := range want {
		c := meta.FindStatusCondition(vbi.Status.Conditions, typ)
		switch {
		case c == nil && w[0] == "":
		case c == nil:
			t.Errorf("no %s condition", typ)
		case w[0] == "":
			t.Errorf("condition %s is there: %+v", typ, c)
		case string(c.Status) != w[0] || c.Reason != w[1]:
			t.Errorf("%s = %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, w[0], w[1])
		}
	}
	for _, c := range vbi.Status.Conditions {
		if c.ObservedGeneration != vbi.Generation {
			t.Errorf("%s has observedGeneration %d, generation is %d", c.Type, c.ObservedGeneration, vbi.Generation)
		}
	}
}

// leaseOf is the Lease of a simulated host (its name is its address, on port 22).
func leaseOf(host string) string { return hostid.LeaseName(hostid.Identity(host, 22)) }

// wantLeases is every host's Lease held by vbi.
func wantLeases(vbi *diracv1.VOBoxIntervention, hosts ...diracv1.HostSpec) map[string]string {
	out := map[string]string{}
	for _, hs := range hosts {
		out[leaseOf(hs.Name)] = holderIdentity(vbi)
	}
	return out
}

func (h *harness) leases() map[string]string {
	h.t.Helper()
	list := &coordinationv1.LeaseList{}
	if err := k8sClient.List(context.Background(), list, client.InNamespace(h.ns)); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range list.Items {
		out[l.Name] = ptr.Deref(l.Spec.HolderIdentity, "")
	}
	return out
}

// events returns the Kubernetes events about an intervention.
func (h *harness) events(name string) []eventsv1.Event {
	h.t.Helper()
	list := &eventsv1.EventList{}
	if err := k8sClient.List(context.Background(), list, client.InNamespace(h.ns)); err != nil {
		h.t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func hostStatusOf(vbi *diracv1.VOBoxIntervention, name string) diracv1.HostStatus {
	for _, hs := range vbi.Status.Hosts {
		if hs.Name == name {
			return hs
		}
	}
	return diracv1.HostStatus{}
}

// manifests lists the manifest files left in a host's startup-save.
func manifests(h *hostsim.Host) []string {
	entries, _ := os.ReadDir(h.Path("dirac", "startup-save"))
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".vobox-manifest-") {
			out = append(out, e.Name())
		}
	}
	return out
}

// smallTopology is five hosts: Framework, Services, Agents, a Database, and
// one with Database, Services and Agents together.
func smallTopology(t *testing.T) (*hostsim.Cluster, []diracv1.HostSpec) {
	fw := hostsim.NewHost(t, "fw", false, hostsim.Component{Link: "Framework_SystemAdministrator"}, hostsim.Component{Link: "Configuration_Server"})
	svc := hostsim.NewHost(t, "svc", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"}, hostsim.Component{Link: "DataManagement_FileCatalog", Down: true})
	agents := hostsim.NewHost(t, "agents", false, hostsim.Component{Link: "WorkloadManagement_JobAgent", Agent: true}, hostsim.Component{Link: "WorkloadManagement_SiteDirector", Agent: true})
	db := hostsim.NewHost(t, "db", true)
	mixed := hostsim.NewHost(t, "mixed", true, hostsim.Component{Link: "RequestManagement_ReqManager"}, hostsim.Component{Link: "RequestManagement_RequestExecutingAgent", Agent: true})
	hosts := []diracv1.HostSpec{
		hostSpec("fw", diracv1.RoleFramework),
		hostSpec("svc", diracv1.RoleServices),
		{Name: "agents", Roles: []diracv1.Role{diracv1.RoleAgents}, Exclude: []string{"WorkloadManagement_SiteDirector"}},
		hostSpec("db", diracv1.RoleDatabase),
		hostSpec("mixed", diracv1.RoleDatabase, diracv1.RoleServices, diracv1.RoleAgents),
	}
	return hostsim.NewCluster(fw, svc, agents, db, mixed), hosts
}

var agentLinks = []string{"WorkloadManagement_JobAgent", "WorkloadManagement_SiteDirector", "RequestManagement_RequestExecutingAgent"}

func TestDownThenUp(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	before := map[string]map[string]string{}
	for name, host := range sim.Hosts {
		before[name] = host.Links(t, "startup")
	}

	h.create(h.intervention("power-stop", diracv1.StateDown, hosts...))
	vbi := h.waitReady("power-stop", diracv1.StateDown, waitLong)

	// Conditions, phase and progress.
	T, F := string(metav1.ConditionTrue), string(metav1.ConditionFalse)
	wantConditions(t, vbi, map[string][2]string{
		diracv1.ReadyCondition:            {T, diracv1.ReasonSucceeded},
		diracv1.ReconcilingCondition:      {F, diracv1.ReasonSucceeded},
		diracv1.StalledCondition:          {F, diracv1.ReasonSucceeded},
		diracv1.MaintenanceSetCondition:   {T, diracv1.ReasonSucceeded},
		diracv1.AgentsStoppedCondition:    {T, diracv1.ReasonSucceeded},
		diracv1.ServicesStoppedCondition:  {T, diracv1.ReasonSucceeded},
		diracv1.DatabasesStoppedCondition: {T, diracv1.ReasonSucceeded},
	})
	if vbi.Status.Phase != diracv1.PhaseDown || vbi.Status.Progress != "12/12" || vbi.Status.CompletedAt == nil {
		t.Errorf("phase %s progress %s completedAt %v, want Down 12/12 and a completion time", vbi.Status.Phase, vbi.Status.Progress, vbi.Status.CompletedAt)
	}
	for _, hs := range vbi.Status.Hosts {
		if hs.Phase != diracv1.HostDown {
			t.Errorf("host %s phase %s, want Down", hs.Name, hs.Phase)
		}
	}
	if got := hostStatusOf(vbi, "agents"); !slices.Equal(got.SavedComponents, []string{"WorkloadManagement_JobAgent"}) ||
		!slices.Equal(got.ExcludedComponents, []string{"WorkloadManagement_SiteDirector"}) {
		t.Errorf("agents saved %v excluded %v", got.SavedComponents, got.ExcludedComponents)
	}
	if got := hostStatusOf(vbi, "svc").SavedComponents; !slices.Equal(got, []string{"DataManagement_FileCatalog", "WorkloadManagement_JobMonitoring"}) {
		t.Errorf("svc saved %v", got)
	}

	// The hosts: every link parked with its target, every component and
	// mysqld down, the journal moved, every host in maintenance.
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
		if host.DB && (host.MysqldRunning() || host.Journal(t) != "link:"+host.Path("home", "mysql-log")) {
			t.Errorf("host %s: mysqld running %v, journal %s", name, host.MysqldRunning(), host.Journal(t))
		}
		if !sim.InMaintenance(name) {
			t.Errorf("host %s is not in maintenance", name)
		}
	}
	// The machines stay locked from Down to Up: through the reboot window.
	if got, want := h.leases(), wantLeases(vbi, hosts...); !maps.Equal(got, want) {
		t.Errorf("Leases after Down = %v, want %v", got, want)
	}
	checkDownOrder(t, sim.Events(t))

	// Up.
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	vbi = h.waitReady("power-stop", diracv1.StateUp, waitLong)
	wantConditions(t, vbi, map[string][2]string{
		diracv1.ReadyCondition:              {T, diracv1.ReasonSucceeded},
		diracv1.ReconcilingCondition:        {F, diracv1.ReasonSucceeded},
		diracv1.StalledCondition:            {F, diracv1.ReasonSucceeded},
		diracv1.DatabasesStartedCondition:   {T, diracv1.ReasonSucceeded},
		diracv1.FrameworkStartedCondition:   {T, diracv1.ReasonSucceeded},
		diracv1.ServicesStartedCondition:    {T, diracv1.ReasonSucceeded},
		diracv1.AgentsStartedCondition:      {T, diracv1.ReasonSucceeded},
		diracv1.MaintenanceClearedCondition: {T, diracv1.ReasonSucceeded},
		diracv1.MaintenanceSetCondition:     {"", ""},
		diracv1.AgentsStoppedCondition:      {"", ""},
		diracv1.ServicesStoppedCondition:    {"", ""},
		diracv1.DatabasesStoppedCondition:   {"", ""},
	})
	if vbi.Status.Phase != diracv1.PhaseUp || vbi.Status.Progress != "12/12" {
		t.Errorf("phase %s progress %s, want Up 12/12", vbi.Status.Phase, vbi.Status.Progress)
	}
	for _, hs := range vbi.Status.Hosts {
		if hs.Phase != diracv1.HostUp || len(hs.Findings) != 0 {
			t.Errorf("host %s phase %s findings %v, want Up and none", hs.Name, hs.Phase, hs.Findings)
		}
	}
	for name, host := range sim.Hosts {
		want := maps.Clone(before[name])
		wantSaved := map[string]string{}
		if name == "agents" {
			wantSaved["WorkloadManagement_SiteDirector"] = want["WorkloadManagement_SiteDirector"]
			delete(want, "WorkloadManagement_SiteDirector")
		}
		if got := host.Links(t, "startup"); !maps.Equal(got, want) {
			t.Errorf("host %s: startup = %v, want %v", name, got, want)
		}
		if got := host.Links(t, "startup-save"); !maps.Equal(got, wantSaved) {
			t.Errorf("host %s: startup-save = %v, want %v", name, got, wantSaved)
		}
		if m := manifests(host); len(m) != 0 {
			t.Errorf("host %s: manifests left: %v", name, m)
		}
		for link := range want {
			if st := host.SvState(t, link); st != "run" {
				t.Errorf("host %s: %s is %s, want run", name, link, st)
			}
		}
		if host.DB && !host.MysqldRunning() {
			t.Errorf("host %s: mysqld is not running", name)
		}
		if sim.InMaintenance(name) {
			t.Errorf("host %s is still in maintenance", name)
		}
	}
	if got := h.leases(); len(got) != 0 {
		t.Errorf("Leases left after Up: %v", got)
	}
	checkUpOrder(t, sim.Events(t), time.Second)

	// An event per transition: Ready became True twice.
	readyTrue := 0
	for _, e := range h.events("power-stop") {
		if e.Action == diracv1.ReadyCondition && e.Reason == diracv1.ReasonSucceeded {
			readyTrue++
		}
	}
	if readyTrue != 2 {
		t.Errorf("%d events for Ready becoming True, want 2", readyTrue)
	}
}

// checkDownOrder checks the hosts' event logs of a Down: maintenance first,
// agents before services, services before databases, nothing left for
// runsvdir to stop behind the controller's back, nothing killed.
func checkDownOrder(t *testing.T, events []hostsim.Event) {
	t.Helper()
	last := map[string]int64{}
	first := map[string]int64{}
	note := func(k string, at int64) {
		if _, ok := first[k]; !ok {
			first[k] = at
		}
		last[k] = at
	}
	for _, e := range events {
		switch {
		case e.Kind == "maintenance-set":
			note("maintenance", e.At)
		case e.Kind == "component-stop" && slices.Contains(agentLinks, e.Subject):
			note("agents", e.At)
		case e.Kind == "component-stop":
			note("services", e.At)
		case e.Kind == "mysqld-stop":
			note("databases", e.At)
		case e.Kind == "component-term", e.Kind == "component-kill", e.Kind == "component-start", e.Kind == "mysqld-start":
			t.Errorf("unexpected event in Down: %s", e)
		}
	}
	for _, k := range []string{"maintenance", "agents", "services", "databases"} {
		if _, ok := first[k]; !ok {
			t.Fatalf("no %s event in Down: %v", k, events)
		}
	}
	if last["maintenance"] > first["agents"] || last["agents"] > first["services"] || last["services"] > first["databases"] {
		t.Errorf("Down out of order: %v", events)
	}
}

// checkUpOrder checks an Up: databases, framework, the other services, the
// settle delay, agents, then maintenance cleared.
func checkUpOrder(t *testing.T, events []hostsim.Event, settle time.Duration) {
	t.Helper()
	first, last := map[string]int64{}, map[string]int64{}
	started := false
	for _, e := range events {
		if e.Kind == "maintenance-set" || e.Kind == "component-stop" || e.Kind == "mysqld-stop" {
			continue // the Down before
		}
		started = true
		var k string
		switch {
		case e.Kind == "mysqld-start":
			k = "databases"
		case e.Kind == "component-start" && slices.Contains(agentLinks, e.Subject):
			k = "agents"
		case e.Kind == "component-start" && e.Host == "fw":
			k = "framework"
		case e.Kind == "component-start":
			k = "services"
		case e.Kind == "maintenance-clear":
			k = "maintenance"
		case e.Kind == "mysql.server-start":
			continue
		default:
			t.Errorf("unexpected event in Up: %s", e)
			continue
		}
		if _, ok := first[k]; !ok {
			first[k] = e.At
		}
		last[k] = e.At
	}
	if !started {
		t.Fatal("no Up event")
	}
	order := []string{"databases", "framework", "services", "agents", "maintenance"}
	for i := 1; i < len(order); i++ {
		if last[order[i-1]] > first[order[i]] {
			t.Errorf("Up: %s after %s started: %v", order[i-1], order[i], events)
		}
	}
	if gap := time.Duration(first["agents"] - last["services"]); gap < settle {
		t.Errorf("agents started %s after the services, want at least the settle delay %s", gap, settle)
	}
}

func TestSuspend(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, hosts...)
	vbi.Spec.Suspend = true
	h.create(vbi)
	vbi = h.waitCondition("power-stop", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, waitShort)
	if vbi.Status.Phase != diracv1.PhaseSuspended {
		t.Errorf("phase = %s, want Suspended", vbi.Status.Phase)
	}
	// The plan is shown before anything runs.
	if len(vbi.Status.Tiers) != 4 || vbi.Status.Progress != "0/12" {
		t.Errorf("tiers %v progress %s, want the Down plan and 0/12", vbi.Status.Tiers, vbi.Status.Progress)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := sim.Commands(); n != 0 {
		t.Errorf("%d commands ran while suspended", n)
	}
	if got := h.leases(); len(got) != 0 {
		t.Errorf("Leases taken while suspended: %v", got)
	}

	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.Suspend = false })
	h.waitReady("power-stop", diracv1.StateDown, waitLong)

	// Flipped to Up and suspended in the same change: nothing starts.
	n := sim.Commands()
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State, v.Spec.Suspend = diracv1.StateUp, true })
	vbi = h.waitCondition("power-stop", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, waitShort)
	if vbi.Status.Phase != diracv1.PhaseSuspended || vbi.Status.ObservedState != diracv1.StateUp {
		t.Errorf("phase %s observed state %s, want Suspended and Up", vbi.Status.Phase, vbi.Status.ObservedState)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := sim.Commands(); got != n {
		t.Errorf("%d commands ran while suspended", got-n)
	}
	for name, host := range sim.Hosts {
		if got := host.Links(t, "startup"); len(got) != 0 {
			t.Errorf("host %s: links restored while suspended: %v", name, got)
		}
	}
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.Suspend = false })
	h.waitReady("power-stop", diracv1.StateUp, waitLong)
}

// TestFlipMidway flips Down to Up while the services host cannot stop a
// component: the agents were parked, the services host's components stopped
// (one still running, wanted down) but not parked, the databases never
// touched.
func TestFlipMidway(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	sim.Hosts["svc"].SetFault(t, "WorkloadManagement_JobMonitoring", "nostop")
	h := newHarness(t, sim)
	before := map[string]map[string]string{}
	for name, host := range sim.Hosts {
		before[name] = host.Links(t, "startup")
	}
	h.create(h.intervention("power-stop", diracv1.StateDown, hosts...))
	h.waitFor("power-stop", waitShort, "the services host waits for its stop", func(v *diracv1.VOBoxIntervention) bool {
		hs := hostStatusOf(v, "svc")
		return meta.IsStatusConditionTrue(v.Status.Conditions, diracv1.AgentsStoppedCondition) &&
			hs.LastStep != nil && hs.LastStep.Name == "StopComponents"
	})
	if st := sim.Hosts["svc"].SvState(t, "WorkloadManagement_JobMonitoring"); st != "stopping" {
		t.Fatalf("JobMonitoring is %s, want it still running, wanted down", st)
	}
	if got := sim.Hosts["agents"].Links(t, "startup"); len(got) != 0 {
		t.Fatalf("agents not parked: %v", got)
	}

	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	vbi := h.waitReady("power-stop", diracv1.StateUp, waitLong)
	if vbi.Status.Phase != diracv1.PhaseUp {
		t.Errorf("phase = %s", vbi.Status.Phase)
	}
	for name, host := range sim.Hosts {
		want := maps.Clone(before[name])
		if name == "agents" {
			delete(want, "WorkloadManagement_SiteDirector") // excluded: stays parked
		}
		if got := host.Links(t, "startup"); !maps.Equal(got, want) {
			t.Errorf("host %s: startup = %v, want %v", name, got, want)
		}
		for link := range want {
			if name == "svc" && link == "DataManagement_FileCatalog" {
				// Down before the intervention and never parked: not ours to start.
				if st := host.SvState(t, link); st != "down" {
					t.Errorf("host svc: %s is %s, want it left down", link, st)
				}
				continue
			}
			if st := host.SvState(t, link); st != "run" {
				t.Errorf("host %s: %s is %s, want run (and no longer wanted down)", name, link, st)
			}
		}
		if sim.InMaintenance(name) {
			t.Errorf("host %s still in maintenance", name)
		}
	}
	// Nothing that was never stopped was touched: the databases.
	for _, e := range sim.Events(t) {
		if (e.Host == "db" || e.Host == "mixed") && strings.HasPrefix(e.Kind, "mysql") {
			t.Errorf("database touched: %s", e)
		}
		if e.Kind == "component-term" || e.Kind == "component-kill" {
			t.Errorf("unexpected event: %s", e)
		}
	}
}

// TestFailurePolicy breaks a service so that it logs errors when it starts:
// Halt stops before the agents; Continue brings up the rest and leaves the
// broken host in maintenance.
func TestFailurePolicy(t *testing.T) {
	t.Parallel()
	for _, policy := range []diracv1.FailurePolicy{diracv1.FailurePolicyHalt, diracv1.FailurePolicyContinue} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			fw := hostsim.NewHost(t, "fw", false, hostsim.Component{Link: "Framework_SystemAdministrator"})
			s1 := hostsim.NewHost(t, "s1", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"})
			s2 := hostsim.NewHost(t, "s2", false, hostsim.Component{Link: "DataManagement_FileCatalog"})
			a1 := hostsim.NewHost(t, "a1", false, hostsim.Component{Link: "WorkloadManagement_JobAgent", Agent: true})
			sim := hostsim.NewCluster(fw, s1, s2, a1)
			h := newHarness(t, sim)
			vbi := h.intervention("power-stop", diracv1.StateDown,
				hostSpec("fw", diracv1.RoleFramework), hostSpec("s1", diracv1.RoleServices),
				hostSpec("s2", diracv1.RoleServices), hostSpec("a1", diracv1.RoleAgents))
			vbi.Spec.Strategy.FailurePolicy = policy
			h.create(vbi)
			h.waitReady("power-stop", diracv1.StateDown, waitLong)

			s1.SetFault(t, "WorkloadManagement_JobMonitoring", "errors")
			h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
			reason := diracv1.ReasonHalted
			if policy == diracv1.FailurePolicyContinue {
				reason = diracv1.ReasonCompletedWithFailures
			}
			vbi = h.waitCondition("power-stop", diracv1.StalledCondition, metav1.ConditionTrue, reason, waitLong)
			if vbi.Status.Phase != diracv1.PhaseFailed {
				t.Errorf("phase = %s, want Failed", vbi.Status.Phase)
			}
			stalled := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.StalledCondition)
			ready := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.ReadyCondition)
			for _, c := range []*metav1.Condition{stalled, ready} {
				if !strings.Contains(c.Message, "s1") || !strings.Contains(c.Message, "ERROR: Cannot get the configuration") {
					t.Errorf("%s message %q does not name s1 and what it saw", c.Type, c.Message)
				}
			}
			if ready.Status != metav1.ConditionFalse || ready.Reason != diracv1.ReasonHostFailed {
				t.Errorf("Ready = %s/%s", ready.Status, ready.Reason)
			}
			hs := hostStatusOf(vbi, "s1")
			if hs.Phase != diracv1.HostFailed || hs.Reason != diracv1.ReasonErrorsInLog || len(hs.Findings) == 0 {
				t.Errorf("s1 = %s/%s findings %v", hs.Phase, hs.Reason, hs.Findings)
			}
			for _, f := range hs.Findings {
				if strings.Contains(f, "an old error") {
					t.Errorf("finding from before the start: %q", f)
				}
			}
			services := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.ServicesStartedCondition)
			if services.Status != metav1.ConditionFalse || services.Reason != diracv1.ReasonHostFailed {
				t.Errorf("ServicesStarted = %s/%s", services.Status, services.Reason)
			}
			// s2 passed either way; s1 stays in maintenance either way.
			if got := s2.SvState(t, "DataManagement_FileCatalog"); got != "run" {
				t.Errorf("s2's service is %s", got)
			}
			if !sim.InMaintenance("s1") {
				t.Error("s1 left maintenance")
			}
			agents := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.AgentsStartedCondition)
			switch policy {
			case diracv1.FailurePolicyHalt:
				if agents.Status != metav1.ConditionFalse || agents.Reason != diracv1.ReasonPending {
					t.Errorf("AgentsStarted = %s/%s, want False/Pending", agents.Status, agents.Reason)
				}
				if got := a1.Links(t, "startup"); len(got) != 0 {
					t.Errorf("agents restored after a halt: %v", got)
				}
				for _, name := range []string{"fw", "s2", "a1"} {
					if !sim.InMaintenance(name) {
						t.Errorf("%s left maintenance after a halt", name)
					}
				}
				// Halted: it stays so.
				time.Sleep(1500 * time.Millisecond)
				if got := a1.Links(t, "startup"); len(got) != 0 {
					t.Errorf("agents restored after a halt: %v", got)
				}
			case diracv1.FailurePolicyContinue:
				if agents.Status != metav1.ConditionTrue {
					t.Errorf("AgentsStarted = %s/%s, want True", agents.Status, agents.Reason)
				}
				if got := a1.SvState(t, "WorkloadManagement_JobAgent"); got != "run" {
					t.Errorf("agent is %s", got)
				}
				for _, name := range []string{"fw", "s2", "a1"} {
					if sim.InMaintenance(name) {
						t.Errorf("%s still in maintenance", name)
					}
					if hs := hostStatusOf(vbi, name); hs.Phase != diracv1.HostUp {
						t.Errorf("%s is %s at the end, want Up", name, hs.Phase)
					}
				}
			}
		})
	}
}

// lockTopology is three services hosts; JobMonitoring on b can be made to
// ignore its stop, so that an intervention holds b.
func lockTopology(t *testing.T) *hostsim.Cluster {
	return hostsim.NewCluster(
		hostsim.NewHost(t, "a", false, hostsim.Component{Link: "Framework_A"}),
		hostsim.NewHost(t, "b", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"}),
		hostsim.NewHost(t, "c", false, hostsim.Component{Link: "DataManagement_C"}),
	)
}

func TestHostLocked(t *testing.T) {
	t.Parallel()
	for _, release := range []string{"first completes", "first deleted"} {
		t.Run(release, func(t *testing.T) {
			t.Parallel()
			sim := lockTopology(t)
			sim.Hosts["b"].SetFault(t, "WorkloadManagement_JobMonitoring", "nostop")
			h := newHarness(t, sim)
			h.create(h.intervention("first", diracv1.StateDown, hostSpec("a", diracv1.RoleServices), hostSpec("b", diracv1.RoleServices)))
			first := h.waitFor("first", waitShort, "b waits for its stop", func(v *diracv1.VOBoxIntervention) bool {
				hs := hostStatusOf(v, "b")
				return hs.LastStep != nil && hs.LastStep.Name == "StopComponents"
			})
			if got := h.leases(); got[leaseOf("a")] != holderIdentity(first) || got[leaseOf("b")] != holderIdentity(first) {
				t.Fatalf("Leases = %v, want a and b held by first", got)
			}

			h.create(h.intervention("second", diracv1.StateDown, hostSpec("b", diracv1.RoleServices), hostSpec("c", diracv1.RoleServices)))
			second := h.waitCondition("second", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonHostLocked, waitShort)
			ready := meta.FindStatusCondition(second.Status.Conditions, diracv1.ReadyCondition)
			if !strings.Contains(ready.Message, "b (b:22, held by "+h.ns+"/first)") {
				t.Errorf("Ready message %q does not name the holder", ready.Message)
			}
			wantConditions(t, second, map[string][2]string{
				diracv1.ReconcilingCondition: {string(metav1.ConditionTrue), diracv1.ReasonHostLocked},
				diracv1.StalledCondition:     {string(metav1.ConditionFalse), diracv1.ReasonProgressing},
			})
			if second.Status.Phase != diracv1.PhasePending {
				t.Errorf("second's phase = %s, want Pending", second.Status.Phase)
			}
			time.Sleep(time.Second)
			if n := sim.Hosts["c"].Commands.Load(); n != 0 {
				t.Errorf("%d commands ran on c while second waited", n)
			}

			sim.Hosts["b"].SetFault(t, "WorkloadManagement_JobMonitoring", "")
			switch release {
			case "first completes":
				// first's Down done, b is still first's until first is Up:
				// second waits through the reboot window, runs nothing.
				h.waitReady("first", diracv1.StateDown, waitLong)
				bCommands, cCommands := sim.Hosts["b"].Commands.Load(), sim.Hosts["c"].Commands.Load()
				time.Sleep(2 * time.Second)
				h.waitCondition("second", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonHostLocked, waitShort)
				if b, c := sim.Hosts["b"].Commands.Load()-bCommands, sim.Hosts["c"].Commands.Load()-cCommands; b != 0 || c != 0 {
					t.Errorf("%d commands on b and %d on c while first held b after its Down", b, c)
				}
				h.update("first", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
				h.waitReady("first", diracv1.StateUp, waitLong)
			case "first deleted":
				aCommands := sim.Hosts["a"].Commands.Load()
				if err := k8sClient.Delete(context.Background(), first); err != nil {
					t.Fatal(err)
				}
				h.waitGone("first")
				if n := sim.Hosts["a"].Commands.Load(); n != aCommands {
					t.Errorf("deletion ran %d commands on a host", n-aCommands)
				}
			}
			second = h.waitReady("second", diracv1.StateDown, waitLong)
			if got := sim.Hosts["c"].Links(t, "startup"); len(got) != 0 {
				t.Errorf("c not parked: %v", got)
			}
			// first's are gone; second holds b and c until its Up.
			if got, want := h.leases(), map[string]string{leaseOf("b"): holderIdentity(second), leaseOf("c"): holderIdentity(second)}; !maps.Equal(got, want) {
				t.Errorf("Leases = %v, want %v", got, want)
			}
		})
	}
}

// TestHostLockedOrdering: an intervention waiting for one host must not sit
// on the others' Leases, or two waiting interventions can deadlock.
func TestHostLockedOrdering(t *testing.T) {
	t.Parallel()
	sim := lockTopology(t)
	h := newHarness(t, sim)
	// Someone else holds a.
	other := "other"
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: leaseOf("a"),
			Labels: map[string]string{LeaseManagedByLabel: LeaseManagedByValue, LeaseHostLabel: hostid.Hash(hostid.Identity("a", 22))}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &other},
	}
	if err := k8sClient.Create(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	h.create(h.intervention("first", diracv1.StateDown, hostSpec("a", diracv1.RoleServices), hostSpec("b", diracv1.RoleServices)))
	h.waitCondition("first", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonHostLocked, waitShort)
	// second needs b only (and c): first, waiting, must not keep it.
	h.create(h.intervention("second", diracv1.StateDown, hostSpec("b", diracv1.RoleServices), hostSpec("c", diracv1.RoleServices)))
	h.waitReady("second", diracv1.StateDown, waitLong)
	// second holds b until its Up; then a is released and first goes.
	h.update("second", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	h.waitReady("second", diracv1.StateUp, waitLong)
	if err := k8sClient.Delete(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	h.waitReady("first", diracv1.StateDown, waitLong)
}

func (h *harness) waitGone(name string) {
	h.t.Helper()
	deadline := time.Now().Add(waitShort)
	for {
		err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: name}, &diracv1.VOBoxIntervention{})
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("intervention %s still exists: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDeletion(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	sim.Hosts["svc"].SetFault(t, "WorkloadManagement_JobMonitoring", "nostop")
	h := newHarness(t, sim)
	h.create(h.intervention("power-stop", diracv1.StateDown, hosts...))
	vbi := h.waitFor("power-stop", waitShort, "the services host waits for its stop", func(v *diracv1.VOBoxIntervention) bool {
		hs := hostStatusOf(v, "svc")
		return hs.LastStep != nil && hs.LastStep.Name == "StopComponents"
	})
	if !slices.Contains(vbi.Finalizers, Finalizer) {
		t.Fatalf("finalizers = %v", vbi.Finalizers)
	}
	if got := h.leases(); len(got) != len(hosts) {
		t.Fatalf("Leases = %v, want one per host", got)
	}
	if err := k8sClient.Delete(context.Background(), vbi); err != nil {
		t.Fatal(err)
	}
	h.waitGone("power-stop")
	if got := h.leases(); len(got) != 0 {
		t.Errorf("Leases left after deletion: %v", got)
	}
	// A pass in flight when the deletion came (a probe waiting on the host
	// for the stop) ends before the deletion is handled; nothing starts after.
	commands := sim.Commands()
	time.Sleep(time.Second)
	if n := sim.Commands() - commands; n != 0 {
		t.Errorf("%d commands ran on the hosts after the deletion", n)
	}
	// The hosts are as the intervention left them: agents parked.
	if got := sim.Hosts["agents"].Links(t, "startup-save"); len(got) != 2 {
		t.Errorf("agents host startup-save = %v", got)
	}
	// A Warning event names the hosts left down.
	var warning *eventsv1.Event
	deadline := time.Now().Add(waitShort)
	for warning == nil && time.Now().Before(deadline) {
		for _, e := range h.events("power-stop") {
			if e.Reason == diracv1.ReasonHostsLeftDown {
				warning = &e
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if warning == nil {
		t.Fatal("no HostsLeftDown event")
	}
	if warning.Type != "Warning" {
		t.Errorf("event type = %s", warning.Type)
	}
	for _, name := range []string{"fw", "svc", "agents", "db", "mixed"} {
		if !strings.Contains(warning.Note, name) {
			t.Errorf("event note %q does not name %s", warning.Note, name)
		}
	}
}

func TestMissingSecret(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	vbi := h.intervention("power-stop", diracv1.StateDown, hosts...)
	vbi.Spec.SSH.SecretRef.Name = "late"
	h.create(vbi)
	vbi = h.waitCondition("power-stop", diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonSecretNotFound, waitShort)
	wantConditions(t, vbi, map[string][2]string{
		diracv1.ReadyCondition:       {string(metav1.ConditionFalse), diracv1.ReasonSecretNotFound},
		diracv1.ReconcilingCondition: {string(metav1.ConditionFalse), diracv1.ReasonSecretNotFound},
	})
	if c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.StalledCondition); !strings.Contains(c.Message, h.ns+"/late") {
		t.Errorf("Stalled message %q does not name the Secret", c.Message)
	}
	if vbi.Status.Phase != diracv1.PhaseFailed {
		t.Errorf("phase = %s", vbi.Status.Phase)
	}
	if n := sim.Commands(); n != 0 {
		t.Errorf("%d commands ran without credentials", n)
	}
	if got := h.leases(); len(got) != 0 {
		t.Errorf("Leases taken without credentials: %v", got)
	}
	// The Secret arrives; a touch makes the controller look at once.
	h.createSecret("late")
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) {
		v.Annotations = map[string]string{"test/poke": "1"}
	})
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
}

// TestSecretNotAllowed: a Secret of the namespace is used only when its
// owner marked it for this use (type kubernetes.io/ssh-auth and the label
// dirac.vobox.io/ssh-key: "true"); anything else stalls with
// SecretNotAllowed naming what is missing, and nothing is dialled.
func TestSecretNotAllowed(t *testing.T) {
	t.Parallel()
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	h.createSecret("deploy-key")
	setLabel := func(value *string) {
		t.Helper()
		secret := &corev1.Secret{}
		if err := k8sClient.Get(t.Context(), types.NamespacedName{Namespace: h.ns, Name: "deploy-key"}, secret); err != nil {
			t.Fatal(err)
		}
		if value == nil {
			delete(secret.Labels, remote.SecretLabelSSHKey)
		} else {
			secret.Labels = map[string]string{remote.SecretLabelSSHKey: *value}
		}
		if err := k8sClient.Update(t.Context(), secret); err != nil {
			t.Fatal(err)
		}
	}
	setLabel(nil)
	vbi := h.intervention("power-stop", diracv1.StateDown, hosts...)
	vbi.Spec.SSH.SecretRef.Name = "deploy-key"
	h.create(vbi)
	vbi = h.waitCondition("power-stop", diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonSecretNotAllowed, waitShort)
	c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.StalledCondition)
	for _, want := range []string{h.ns + "/deploy-key", remote.SecretLabelSSHKey} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("Stalled message %q does not name %q", c.Message, want)
		}
	}
	if n := sim.Commands(); n != 0 {
		t.Errorf("%d commands ran with a Secret not allowed", n)
	}
	if got := h.leases(); len(got) != 0 {
		t.Errorf("Leases taken with a Secret not allowed: %v", got)
	}
	// Its owner allows it; a touch makes the controller look at once.
	allowed := remote.SecretLabelSSHKeyValue
	setLabel(&allowed)
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) {
		v.Annotations = map[string]string{"test/poke": "1"}
	})
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
}

// TestNoStatusWriteWhileWaiting: a host waiting for a component to stop
// changes nothing in the status, so nothing is written, while the controller
// keeps looking (a probe waits on the host at most DefaultHostWaitPerPass).
func TestNoStatusWriteWhileWaiting(t *testing.T) {
	t.Parallel()
	sim := hostsim.NewCluster(hostsim.NewHost(t, "b", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring", Fault: "nostop"}))
	h := newHarness(t, sim)
	h.create(h.intervention("power-stop", diracv1.StateDown, hostSpec("b", diracv1.RoleServices)))
	h.waitFor("power-stop", waitShort, "b waits for its stop", func(v *diracv1.VOBoxIntervention) bool {
		hs := hostStatusOf(v, "b")
		return hs.LastStep != nil && hs.LastStep.Name == "StopComponents"
	})
	time.Sleep(500 * time.Millisecond) // let a write of that pass land
	rv, commands := h.get("power-stop").ResourceVersion, sim.Commands()
	window := DefaultHostWaitPerPass + 1500*time.Millisecond
	time.Sleep(window)
	vbi := h.get("power-stop")
	if vbi.ResourceVersion != rv {
		t.Errorf("the status was written while nothing changed (resourceVersion %s → %s):\n%s", rv, vbi.ResourceVersion, describeStatus(vbi))
	}
	if n := sim.Commands() - commands; n < 1 {
		t.Errorf("%d probes in %s: the controller is not looking", n, window)
	}
	if got := sim.Hosts["b"].SvState(t, "WorkloadManagement_JobMonitoring"); got != "stopping" {
		t.Errorf("JobMonitoring is %s", got)
	}
}

// TestHostWaitPerPass: with --host-wait-per-pass 1s, a host waiting for a
// component that does not stop is looked at again in a new session about
// every second (with the default 5 s, at most twice in the same window),
// and the stop is still waited for, not repeated.
func TestHostWaitPerPass(t *testing.T) {
	t.Parallel()
	sim := hostsim.NewCluster(hostsim.NewHost(t, "b", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring", Fault: "nostop"}))
	h := newHarness(t, sim, func(h *harness) { h.hostWait = time.Second })
	h.create(h.intervention("power-stop", diracv1.StateDown, hostSpec("b", diracv1.RoleServices)))
	h.waitFor("power-stop", waitShort, "b waits for its stop", func(v *diracv1.VOBoxIntervention) bool {
		hs := hostStatusOf(v, "b")
		return hs.LastStep != nil && hs.LastStep.Name == "StopComponents"
	})
	commands := sim.Commands()
	const window = 5 * time.Second
	time.Sleep(window)
	if n := sim.Commands() - commands; n < 3 {
		t.Errorf("%d sessions in %s while waiting, want one about every second (at least 3)", n, window)
	}
	if got := hostStatusOf(h.get("power-stop"), "b").LastStep.Name; got != "StopComponents" {
		t.Errorf("last step %s, want the stop still waited for", got)
	}
}

// TestDatabaseSlowStart: mysqld takes two seconds to come up after
// mysql.server start; the controller waits for it rather than starting it
// again.
func TestDatabaseSlowStart(t *testing.T) {
	t.Parallel()
	db := hostsim.NewHost(t, "db", true)
	sim := hostsim.NewCluster(db)
	h := newHarness(t, sim)
	h.create(h.intervention("power-stop", diracv1.StateDown, hostSpec("db", diracv1.RoleDatabase)))
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
	if err := os.WriteFile(db.Path("state", "mysql-slow"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h.update("power-stop", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	h.waitReady("power-stop", diracv1.StateUp, waitLong)
	starts := 0
	for _, e := range db.Events(t) {
		if e.Kind == "mysql.server-start" {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("mysql.server start ran %d times, want once", starts)
	}
	if !db.MysqldRunning() {
		t.Error("mysqld is not running")
	}
	if _, err := os.Lstat(filepath.Join(db.Path("mysql", "log"))); err != nil {
		t.Errorf("journal link gone: %v", err)
	}
}

// TestReconcileDeleteRunsNothing: the delete path releases the Leases and
// the finalizer without a single command on a host. (TestDeletion checks the
// whole controller, where a pass already in flight may finish first.)
func TestReconcileDeleteRunsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "vbi-delete-"}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ns: ns.Name}
	vbi := h.intervention("power-stop", diracv1.StateDown, hostSpec("a", diracv1.RoleAgents))
	vbi.Finalizers = []string{Finalizer}
	if err := k8sClient.Create(ctx, vbi); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Delete(ctx, vbi); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(vbi), vbi); err != nil || vbi.DeletionTimestamp.IsZero() {
		t.Fatalf("intervention not being deleted: %v", err)
	}
	var ran atomic.Int32
	r := &VOBoxInterventionReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: events.NewFakeRecorder(10), LockNamespace: ns.Name,
		Executor: &remote.Fake{RunFunc: func(context.Context, remote.Target, remote.Command) (remote.Result, error) {
			ran.Add(1)
			return remote.Result{}, nil
		}}}
	if _, err := r.reconcileDelete(ctx, vbi); err != nil {
		t.Fatal(err)
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("the delete path ran %d command(s) on hosts", n)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(vbi), vbi); !apierrors.IsNotFound(err) {
		t.Errorf("intervention still there after its finalizer was handled: %v", err)
	}
}
