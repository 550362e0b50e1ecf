package controllers

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostid"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
)

func TestHostLocks(t *testing.T) {
	t.Parallel()
	vbi := &diracv1.VOBoxIntervention{
		ObjectMeta: metav1.ObjectMeta{Namespace: "site", Name: "stop", UID: "u1"},
		Spec: diracv1.VOBoxInterventionSpec{SSH: diracv1.SSHSpec{Port: 22}, Hosts: []diracv1.HostSpec{
			{Name: "zeta", Address: "VOBOX1.example.org."},
			{Name: "alpha", Address: "vobox1.example.org", Port: ptr.To[int32](22)},
			{Name: "other", Address: "vobox1.example.org", Port: ptr.To[int32](2222)},
			{Name: "byname"},
		}},
	}
	locks := hostLocks(vbi)
	got := map[string][]string{}
	for i, l := range locks {
		got[l.identity] = l.hosts
		if l.lease != hostid.LeaseName(l.identity) {
			t.Errorf("lease of %s = %s, want %s", l.identity, l.lease, hostid.LeaseName(l.identity))
		}
		if i > 0 && locks[i-1].lease >= l.lease {
			t.Errorf("locks not in Lease-name order: %s before %s", locks[i-1].lease, l.lease)
		}
	}
	want := map[string][]string{
		"vobox1.example.org:22":   {"zeta", "alpha"},
		"vobox1.example.org:2222": {"other"},
		"byname:22":               {"byname"},
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("hostLocks = %v, want %v", got, want)
	}
	if ids := hostIDs(vbi); len(ids) != 3 {
		t.Errorf("hostIDs = %v, want 3 machines", ids)
	}
	if h := holderIdentity(vbi); h != "site/stop/u1" || holderName(h) != "site/stop" {
		t.Errorf("holder %q named %q", h, holderName(h))
	}
}

func TestHoldsLeases(t *testing.T) {
	t.Parallel()
	done := []diracv1.TierStatus{{State: diracv1.TierSucceeded}}
	cases := []struct {
		name     string
		state    diracv1.State
		observed diracv1.State
		tiers    []diracv1.TierStatus
		want     bool
	}{
		{"new", diracv1.StateDown, "", nil, true},
		{"Down complete: the reboot window", diracv1.StateDown, diracv1.StateDown, done, true},
		{"Up asked, Down plan still in the status", diracv1.StateUp, diracv1.StateDown, done, true},
		{"Up running", diracv1.StateUp, diracv1.StateUp, []diracv1.TierStatus{{State: diracv1.TierRunning}}, true},
		{"Up complete", diracv1.StateUp, diracv1.StateUp, done, false},
	}
	for _, tc := range cases {
		vbi := &diracv1.VOBoxIntervention{Spec: diracv1.VOBoxInterventionSpec{State: tc.state},
			Status: diracv1.VOBoxInterventionStatus{ObservedState: tc.observed, Tiers: tc.tiers}}
		if got := holdsLeases(vbi); got != tc.want {
			t.Errorf("%s: holdsLeases = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// newHarnessNamespaces is newHarness with a second namespace (and its own
// SSH Secret) that the manager watches too; the first is the lock namespace.
func newHarnessNamespaces(t *testing.T, sim *hostsim.Cluster) (*harness, string) {
	t.Helper()
	ctx := context.Background()
	var names []string
	for range 2 {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "vbi-test-"}}
		if err := k8sClient.Create(ctx, ns); err != nil {
			t.Fatalf("failed to create a namespace: %v", err)
		}
		t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
		names = append(names, ns.Name)
	}
	h := &harness{t: t, ns: names[1], sim: sim}
	h.createSecret("ssh")
	h.ns, h.others = names[0], []string{names[1]}
	h.createSecret("ssh")
	h.startManager()
	return h, names[1]
}

// TestLockIsTheMachine: two interventions in two namespaces name one
// address under two names. The second waits with HostLocked naming the
// first, runs nothing on the host through the first's Down and reboot
// window, and starts as soon as the first is Up (woken by the Lease's
// deletion through the host index, not by its own backoff).
func TestLockIsTheMachine(t *testing.T) {
	t.Parallel()
	sim := hostsim.NewCluster(hostsim.NewHost(t, "vobox1", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"}))
	h, otherNS := newHarnessNamespaces(t, sim)
	host := sim.Hosts["vobox1"]

	first := h.intervention("first", diracv1.StateDown, diracv1.HostSpec{Name: "alpha", Address: "vobox1", Roles: []diracv1.Role{diracv1.RoleServices}})
	h.create(first)
	first = h.waitReady("first", diracv1.StateDown, waitLong)

	lease := &coordinationv1.Lease{}
	id := hostid.Identity("vobox1", 22)
	if err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: hostid.LeaseName(id)}, lease); err != nil {
		t.Fatalf("the machine's Lease: %v", err)
	}
	if ptr.Deref(lease.Spec.HolderIdentity, "") != h.ns+"/first/"+string(first.UID) || lease.Labels[LeaseHostLabel] != hostid.Hash(id) {
		t.Errorf("Lease holder %q labels %v", ptr.Deref(lease.Spec.HolderIdentity, ""), lease.Labels)
	}

	// The same machine, another name, another namespace, the port spelled out.
	second := h.intervention("second", diracv1.StateDown, diracv1.HostSpec{Name: "beta", Address: "vobox1", Port: ptr.To[int32](22), Roles: []diracv1.Role{diracv1.RoleServices}})
	second.Namespace = otherNS
	before := host.Commands.Load()
	h.create(second)
	h2 := &harness{t: t, ns: otherNS, sim: sim}
	locked := h2.waitCondition("second", diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonHostLocked, waitShort)
	if c := meta.FindStatusCondition(locked.Status.Conditions, diracv1.ReadyCondition); !strings.Contains(c.Message, h.ns+"/first") || !strings.Contains(c.Message, "beta") {
		t.Errorf("Ready message %q does not name the host and its holder", c.Message)
	}
	time.Sleep(2 * time.Second)
	if n := host.Commands.Load() - before; n != 0 {
		t.Errorf("%d commands ran on the machine while the first held it", n)
	}

	h.update("first", func(v *diracv1.VOBoxIntervention) { v.Spec.State = diracv1.StateUp })
	up := h.waitReady("first", diracv1.StateUp, waitLong)
	downAgain := h2.waitReady("second", diracv1.StateDown, waitLong)
	if took := downAgain.Status.StartedAt.Sub(up.Status.CompletedAt.Time); took > 8*time.Second {
		t.Errorf("second started %s after first released the machine: not woken by the Lease", took)
	}
	if got := host.Links(t, "startup"); len(got) != 0 {
		t.Errorf("second did not park the machine's links: %v", got)
	}
	if got := h.leases(); !maps.Equal(got, map[string]string{hostid.LeaseName(id): holderIdentity(downAgain)}) {
		t.Errorf("Leases = %v, want the machine's held by second", got)
	}
}

// TestStaleLeaseTakenOver: a Lease whose holder intervention is gone (its
// finalizer removed by hand) does not lock the machine for ever.
func TestStaleLeaseTakenOver(t *testing.T) {
	t.Parallel()
	sim := lockTopology(t)
	h := newHarness(t, sim)
	gone := h.ns + "/gone/0e0e0e0e-0000-0000-0000-000000000000"
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: leaseOf("a"),
			Labels: map[string]string{LeaseManagedByLabel: LeaseManagedByValue, LeaseHostLabel: hostid.Hash(hostid.Identity("a", 22))}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &gone},
	}
	if err := k8sClient.Create(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
	h.create(h.intervention("first", diracv1.StateDown, hostSpec("a", diracv1.RoleServices)))
	vbi := h.waitReady("first", diracv1.StateDown, waitLong)
	if got := h.leases(); got[leaseOf("a")] != holderIdentity(vbi) {
		t.Errorf("Leases = %v, want a's held by first", got)
	}
}
