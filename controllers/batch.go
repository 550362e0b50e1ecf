package controllers

import (
	"context"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// maxParallel is batching, whatever the pass structure: at most that many
// hosts of a tier are between their first act and their verified end. A
// host that must wait keeps its place across passes; a new host starts
// only when one is done (or failed for good). And spec.suspend stops new
// host steps at once: it is read again before each host step (at most once
// a second, from the cache: a spec change reaches the informer within
// milliseconds), not only when a pass starts.

// batch returns the hosts of a tier that may work in this pass: the ones
// already started (a step in progress, WaitingSince set) first, then new
// ones up to spec.strategy.maxParallel.
func batch(s *scope, names []string) []string {
	limit := int(s.vbi.Spec.Strategy.MaxParallel)
	if limit <= 0 || len(names) <= limit {
		return names
	}
	var started, fresh []string
	for _, n := range names {
		if s.host(n).status.WaitingSince != nil {
			started = append(started, n)
		} else {
			fresh = append(fresh, n)
		}
	}
	free := max(limit-len(started), 0)
	return append(started, fresh[:min(free, len(fresh))]...)
}

// suspendRecheck is how often a pass reads spec.suspend again.
const suspendRecheck = time.Second

// suspendCheck is spec.suspend as last read in a pass.
type suspendCheck struct {
	mu sync.Mutex
	at time.Time
}

// suspendedNow reports whether the intervention was suspended since the
// pass started, reading it from the cache at most every suspendRecheck
// (only the spec is read: freshness.go is about the status).
// Once seen, the pass's spec says so: the status shows Suspended and no
// new step starts.
func (r *VOBoxInterventionReconciler) suspendedNow(ctx context.Context, s *scope) bool {
	s.suspend.mu.Lock()
	defer s.suspend.mu.Unlock()
	if s.vbi.Spec.Suspend {
		return true
	}
	now := r.Clock.Now()
	if !s.suspend.at.IsZero() && now.Sub(s.suspend.at) < suspendRecheck {
		return false
	}
	s.suspend.at = now
	fresh := &diracv1.VOBoxIntervention{}
	if err := r.Get(ctx, client.ObjectKeyFromObject(s.vbi), fresh); err != nil || fresh.UID != s.vbi.UID {
		return false // gone or unreadable: the next pass sees it
	}
	if fresh.Spec.Suspend {
		s.vbi.Spec.Suspend = true
	}
	return s.vbi.Spec.Suspend
}
