package controllers

import (
	"context"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// TestPassNeverStartsFromAStatusOlderThanOurWrite: the cache is used only
// when it holds the very version last seen on the API server; a cache
// behind our own write (or ahead of it: somebody else wrote) is settled by
// one read around it, and a deleted intervention is forgotten.
func TestPassNeverStartsFromAStatusOlderThanOurWrite(t *testing.T) {
	t.Parallel()
	scheme := runtime.NewScheme()
	if err := diracv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	object := func(rv string, completed ...string) *diracv1.VOBoxIntervention {
		vbi := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "site", Name: "power-stop", ResourceVersion: rv}}
		vbi.Status.Hosts = []diracv1.HostStatus{{Name: "h1", CompletedTiers: completed}}
		return vbi
	}
	key := client.ObjectKey{Namespace: "site", Name: "power-stop"}
	// The informer's copy is one write behind the API server's.
	cache := fake.NewClientBuilder().WithScheme(scheme).WithObjects(object("5")).Build()
	var reads atomic.Int64
	server := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).WithObjects(object("7", "AgentsStopped")).Build(), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, k client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			reads.Add(1)
			return c.Get(ctx, k, obj, opts...)
		},
	})
	r := &VOBoxInterventionReconciler{Client: cache, APIReader: server}
	get := func(want string, wantReads int64) {
		t.Helper()
		vbi, err := r.getIntervention(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		if vbi.ResourceVersion != want || reads.Load() != wantReads {
			t.Fatalf("read version %s with %d reads around the cache, want %s with %d", vbi.ResourceVersion, reads.Load(), want, wantReads)
		}
	}

	get("7", 1) // nothing seen yet (a new leader): around the cache
	r.versions.saw(key, "7")
	get("7", 2) // the cache holds 5, we wrote 7: around it again, never 5
	got, _ := r.getIntervention(context.Background(), key)
	if len(got.Status.Hosts[0].CompletedTiers) != 1 {
		t.Fatalf("the pass would start from a status without the tier we recorded: %+v", got.Status.Hosts)
	}
	reads.Store(2)

	// The watch catches up: the cache now holds our write.
	if err := cache.Delete(context.Background(), object("5")); err != nil {
		t.Fatal(err)
	}
	if err := cache.Create(context.Background(), object("", "AgentsStopped")); err != nil {
		t.Fatal(err)
	}
	cached := &diracv1.VOBoxIntervention{}
	if err := cache.Get(context.Background(), key, cached); err != nil {
		t.Fatal(err)
	}
	r.versions.saw(key, cached.ResourceVersion)
	get(cached.ResourceVersion, 2) // from the cache, no read around it

	// Somebody else writes (the cache is ahead of what we saw): around it.
	cached.Spec.Suspend = true
	if err := cache.Update(context.Background(), cached); err != nil {
		t.Fatal(err)
	}
	get("7", 3)

	// Gone from the API server: the version is forgotten.
	if err := server.Delete(context.Background(), object("7")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.getIntervention(context.Background(), key); err == nil {
		t.Fatal("a deleted intervention was read")
	}
	if r.versions.is(key, "7") {
		t.Error("the version of a deleted intervention is still remembered")
	}
}
