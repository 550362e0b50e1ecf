package controllers

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// releaseFixture is a done 40-host intervention whose Leases were taken by
// acquireLeases, next to a Lease of another intervention (labelled with
// its own UID) and one of ours from before the holder label existed.
type releaseFixture struct {
	vbi                          *diracv1.VOBoxIntervention
	c                            client.Client
	r                            *VOBoxInterventionReconciler
	deletes, collections, forbid atomic.Int64
	others, othersNotNamed       string
}

func newReleaseFixture(t *testing.T) *releaseFixture {
	t.Helper()
	f := &releaseFixture{vbi: &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "site", Name: "power-stop", UID: "u1"}}}
	f.vbi.Spec.State, f.vbi.Spec.SSH.Port = diracv1.StateDown, 22
	for i := range 40 {
		f.vbi.Spec.Hosts = append(f.vbi.Spec.Hosts, diracv1.HostSpec{Name: fmt.Sprintf("h%03d", i), Roles: []diracv1.Role{diracv1.RoleServices}})
	}
	scheme := runtime.NewScheme()
	if err := coordinationv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	f.c = interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).Build(), interceptor.Funcs{
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			f.deletes.Add(1)
			return c.Delete(ctx, obj, opts...)
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			f.collections.Add(1)
			if f.forbid.Load() > 0 {
				return apierrors.NewForbidden(coordinationv1.Resource("leases"), "", fmt.Errorf("no deletecollection"))
			}
			return c.DeleteAllOf(ctx, obj, opts...)
		},
	})
	f.r = &VOBoxInterventionReconciler{Client: f.c, APIReader: f.c, LockNamespace: "locks", Clock: clocktesting.NewFakePassiveClock(statusNow)}
	s := &scope{vbi: f.vbi}
	if _, err := f.r.acquireLeases(context.Background(), s); err != nil || s.blocked != nil {
		t.Fatalf("acquireLeases: %v, blocked %+v", err, s.blocked)
	}
	locks := hostLocks(f.vbi)
	// One of ours from an operator before the holder label: no label.
	l := &coordinationv1.Lease{}
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: "locks", Name: locks[7].lease}, l); err != nil {
		t.Fatal(err)
	}
	delete(l.Labels, LeaseHolderLabel)
	if err := f.c.Update(context.Background(), l); err != nil {
		t.Fatal(err)
	}
	// Two of another intervention's (a namesake in another namespace):
	// one labelled with its UID, one from before the label.
	f.others, f.othersNotNamed = "other-machine", "unlabelled-other"
	for name, labels := range map[string]map[string]string{
		f.others:         {LeaseManagedByLabel: LeaseManagedByValue, LeaseHolderLabel: "u2"},
		f.othersNotNamed: {LeaseManagedByLabel: LeaseManagedByValue},
	} {
		if err := f.c.Create(context.Background(), &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: "locks", Name: name, Labels: labels},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("other/power-stop/u2")},
		}); err != nil {
			t.Fatal(err)
		}
	}
	f.deletes.Store(0)
	return f
}

func (f *releaseFixture) leases(t *testing.T) map[string]string {
	t.Helper()
	list := &coordinationv1.LeaseList{}
	if err := f.c.List(context.Background(), list, client.InNamespace("locks")); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range list.Items {
		out[l.Name] = ptr.Deref(l.Spec.HolderIdentity, "")
	}
	return out
}

// TestReleaseDeletesTheCollectionOnce: a done intervention gives its 40
// machines back with one delete of its labelled collection and one delete
// for its Lease without the label, and leaves the other intervention's
// Leases alone; passing again (every drift check) writes nothing.
func TestReleaseDeletesTheCollectionOnce(t *testing.T) {
	t.Parallel()
	f := newReleaseFixture(t)
	if err := f.r.releaseLeases(context.Background(), f.vbi, false); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{f.others: "other/power-stop/u2", f.othersNotNamed: "other/power-stop/u2"}
	if got := f.leases(t); !maps.Equal(got, want) {
		t.Errorf("Leases after the release: %v, want only the other intervention's %v", got, want)
	}
	if f.collections.Load() != 1 || f.deletes.Load() != 1 {
		t.Errorf("%d collection deletes and %d single deletes, want 1 and 1 (the unlabelled Lease)", f.collections.Load(), f.deletes.Load())
	}
	if err := f.r.releaseLeases(context.Background(), f.vbi, false); err != nil {
		t.Fatal(err)
	}
	if f.collections.Load() != 1 || f.deletes.Load() != 1 {
		t.Errorf("a second pass wrote: %d collection deletes and %d single deletes in all", f.collections.Load(), f.deletes.Load())
	}
	// The deletion of the intervention deletes the collection whatever the
	// cache shows.
	if err := f.r.releaseLeases(context.Background(), f.vbi, true); err != nil {
		t.Fatal(err)
	}
	if f.collections.Load() != 2 {
		t.Errorf("the deletion's release did not delete the collection")
	}
}

// TestReleaseWithoutDeleteCollection: where the Role lacks deletecollection
// (403), every Lease held is deleted by itself, and nothing else.
func TestReleaseWithoutDeleteCollection(t *testing.T) {
	t.Parallel()
	f := newReleaseFixture(t)
	f.forbid.Store(1)
	if err := f.r.releaseLeases(context.Background(), f.vbi, false); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{f.others: "other/power-stop/u2", f.othersNotNamed: "other/power-stop/u2"}
	if got := f.leases(t); !maps.Equal(got, want) {
		t.Errorf("Leases after the release: %v, want only the other intervention's %v", got, want)
	}
	if f.deletes.Load() != 40 {
		t.Errorf("%d single deletes, want one per machine (40)", f.deletes.Load())
	}
}
