package controllers

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// A pass must start from the status this process last wrote: one that
// started from an older status would replay finished steps, and the
// maintenance commands are not probed first. The informer's copy is usually
// that status (our own writes come back on the watch within milliseconds),
// but nothing orders that event before the next pass. Reading every pass
// around the cache was safe but decoded the whole object (up to 256 host
// entries) from the API server each time, the largest share of the
// operator's CPU at scale (docs/benchmarks-sim.md, cause 3).
//
// So the reconciler remembers, per intervention, the resourceVersion the API
// server itself last gave it (the answer to its own write, or a read around
// the cache). The cached copy is used when it carries exactly that version;
// any other version (older: the watch is behind; newer: somebody else wrote,
// or another process led before us) is settled by one read around the cache.
// resourceVersions are compared only for equality, as the API asks.

// versions is the last resourceVersion read from or written to the API
// server, per intervention.
type versions struct {
	mu sync.Mutex
	m  map[types.NamespacedName]string
}

// saw records rv as the newest version of key this process knows.
func (v *versions) saw(key types.NamespacedName, rv string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = map[types.NamespacedName]string{}
	}
	v.m[key] = rv
}

// forget drops key (the object is gone).
func (v *versions) forget(key types.NamespacedName) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.m, key)
}

// is reports whether rv is the version of key last seen from the API server.
func (v *versions) is(key types.NamespacedName, rv string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	known, ok := v.m[key]
	return ok && rv != "" && known == rv
}

// getIntervention reads the intervention a pass starts from: the cached
// copy when it is the version this process last saw on the API server,
// otherwise a read around the cache.
func (r *VOBoxInterventionReconciler) getIntervention(ctx context.Context, key types.NamespacedName) (*diracv1.VOBoxIntervention, error) {
	cached := &diracv1.VOBoxIntervention{}
	if err := r.Get(ctx, key, cached); err == nil && r.versions.is(key, cached.ResourceVersion) {
		r.Metrics.interventionRead(true)
		return cached, nil
	}
	fresh := &diracv1.VOBoxIntervention{}
	if err := r.APIReader.Get(ctx, key, fresh); err != nil {
		if apierrors.IsNotFound(err) {
			r.versions.forget(key)
		}
		return nil, err
	}
	r.Metrics.interventionRead(false)
	r.versions.saw(key, fresh.ResourceVersion)
	return fresh, nil
}
