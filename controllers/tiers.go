package controllers

import (
	"context"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// backoff is the wait before retrying a transient procedure.Failure.
func backoff(attempts int32) time.Duration {
	d := time.Second << min(max(attempts-1, 0), 5)
	return min(d, 30*time.Second)
}

// runTiers advances the plan as far as it can go in this pass: tiers run in
// order, a tier's hosts in parallel up to maxParallel, and a finished tier
// hands over to the next one at once.
func (r *VOBoxInterventionReconciler) runTiers(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.blocked != nil || s.vbi.Spec.Suspend || isComplete(s.vbi) {
		return ctrl.Result{}, nil
	}
	if (s.plan.State == diracv1.StateDown || s.plan.Cycle) && !startedAny(&s.vbi.Status) && !r.preflight(ctx, s) {
		return ctrl.Result{}, nil
	}
	if procedure.IsRolling(&s.vbi.Spec) {
		return r.runRolling(ctx, s) // rolling.go
	}
	for i := range s.plan.Tiers {
		tier, ts := &s.plan.Tiers[i], &s.vbi.Status.Tiers[i]
		switch {
		case ts.State == diracv1.TierSucceeded || ts.State == diracv1.TierSkipped:
			continue
		case ts.State == diracv1.TierFailed && s.vbi.Spec.Strategy.FailurePolicy == diracv1.FailurePolicyContinue:
			continue // the failed hosts stay behind, the others go on
		case ts.State == diracv1.TierFailed:
			return ctrl.Result{}, nil // halted until the spec changes
		}
		if tier.Skipped || len(tier.Hosts) == 0 {
			ts.State = diracv1.TierSkipped
			continue
		}
		if wait := r.settleWait(s, i); wait > 0 {
			s.requeueAfter(wait)
			return ctrl.Result{}, nil
		}
		if ts.StartedAt == nil {
			if gate := r.tierGate(s, tier); gate != nil {
				s.blocked = gate // steps in flight finished above; no new tier
				return ctrl.Result{}, nil
			}
			now := metav1.NewTime(s.now)
			ts.StartedAt, ts.State = &now, diracv1.TierRunning
			// The next tier's handshakes overlap this tier's waits.
			r.connect(ctx, s, s.plan.HostsAfter(i))
			// The tiers this pass finished, on the API server before the
			// next one's sessions (status age, docs/benchmarks-sim.md).
			if err := r.flushStatus(ctx, s); err != nil {
				return ctrl.Result{}, err
			}
			ts = &s.vbi.Status.Tiers[i] // as after any status write
		}
		if tier.Action == procedure.ActionReboot {
			if err := r.runRebootTier(ctx, s, tier, tier.Hosts); err != nil {
				return ctrl.Result{}, err
			}
			ts = &s.vbi.Status.Tiers[i] // runRebootTier writes the status
		} else {
			r.runTier(ctx, s, tier)
		}
		if !r.closeTier(s, tier, ts) {
			return ctrl.Result{}, nil
		}
		if tier.Action == procedure.ActionSetMaintenance && i+1 < len(s.plan.Tiers) {
			// The maintenance commands cannot be probed first: record that
			// they ran before the next tier, so that a crash there does not
			// run them again (a site's sms may notify people each time).
			if err := r.checkpoint(ctx, s); err != nil {
				return ctrl.Result{}, err
			}
		}
	}
	return ctrl.Result{}, nil
}

// settleWait is how long the agents must still wait after the services are
// up (spec.checks.settleDelay), counted from the previous tier's end.
func (r *VOBoxInterventionReconciler) settleWait(s *scope, i int) time.Duration {
	if s.plan.Tiers[i].Action != procedure.ActionStartAgents || i == 0 {
		return 0
	}
	// Counted from the last tier that ran: the services tier is skipped
	// when only Framework hosts run services.
	for j := i - 1; j >= 0; j-- {
		if prev := s.vbi.Status.Tiers[j]; prev.FinishedAt != nil {
			return prev.FinishedAt.Add(s.vbi.Spec.Checks.SettleDelay.Duration).Sub(s.now)
		}
	}
	return 0
}

// runTier runs the pending hosts of a tier in parallel, bounded by maxParallel.
func (r *VOBoxInterventionReconciler) runTier(ctx context.Context, s *scope, tier *procedure.Tier) {
	var todo []string
	for _, name := range tier.Hosts {
		if hostNeedsWork(s, tier, name) {
			todo = append(todo, name)
		}
	}
	if batched := batch(s, todo); len(batched) < len(todo) {
		// The others start as places free up: look again soon.
		todo = batched
		s.requeueAfter(procedure.PollInterval)
	}
	outcomes := make([]hostOutcome, len(todo))
	ran := make([]bool, len(todo))
	_ = inParallel(len(todo), s.maxParallel(len(todo)), func(i int) error {
		if r.suspendedNow(ctx, s) {
			return nil // suspended meanwhile: no new host step starts
		}
		outcomes[i], ran[i] = r.runHostStep(ctx, s, tier, s.host(todo[i])), true
		return nil
	})
	for i, name := range todo {
		if ran[i] {
			r.applyOutcome(ctx, s, tier, name, outcomes[i])
		}
	}
}

// hostNeedsWork says whether a host takes part in this pass of a tier.
func hostNeedsWork(s *scope, tier *procedure.Tier, name string) bool {
	hs := s.host(name).status
	if slices.Contains(hs.CompletedTiers, tier.Condition) {
		return false
	}
	if hs.Phase == diracv1.HostFailed {
		// Continue leaves a failed host behind; Halt retries it unless the
		// procedure.Failure needs a person.
		if s.vbi.Spec.Strategy.FailurePolicy == diracv1.FailurePolicyContinue || procedure.IsTerminalReason(hs.Reason) {
			return false
		}
	}
	return !failedEarlier(s, tier, name)
}

// failedEarlier reports whether, under Continue, a host failed a tier before
// this one: it takes no further part.
func failedEarlier(s *scope, tier *procedure.Tier, name string) bool {
	hs := s.host(name).status
	if hs.Phase != diracv1.HostFailed {
		return false
	}
	for _, t := range s.plan.Tiers {
		if t.Condition == tier.Condition {
			return false
		}
		if slices.Contains(t.Hosts, name) && !slices.Contains(hs.CompletedTiers, t.Condition) && !t.Skipped {
			return true
		}
	}
	return false
}

// applyOutcome writes one host's outcome into its status.
func (r *VOBoxInterventionReconciler) applyOutcome(ctx context.Context, s *scope, tier *procedure.Tier, name string, o hostOutcome) {
	hs := s.host(name).status
	switch {
	case o.done:
		hs.CompletedTiers = append(hs.CompletedTiers, tier.Condition)
		hs.WaitingSince, hs.Attempts, hs.Reason, hs.Message = nil, 0, "", s.warnings[name]
		clearFailed(hs)
		r.Metrics.observeHostTier(tier.Condition, s.vbi, hs)
	case o.fail != nil:
		hs.Attempts++
		hs.Reason, hs.Message = o.fail.Reason, truncate(o.fail.Message, 1024)
		// Measured now, not at the pass's start: a command that hung until
		// stepTimeout must fail the host in this pass, not the next one.
		elapsed := r.Clock.Now().Sub(hs.WaitingSince.Time)
		if o.fail.IsTerminal() || elapsed >= s.vbi.Spec.Strategy.StepTimeout.Duration {
			markFailed(hs)
			r.Metrics.stepFailed(o.fail.Reason)
		} else {
			clearFailed(hs)
		}
		if !o.fail.IsTerminal() {
			s.requeueAfter(backoff(hs.Attempts))
		}
	default:
		clearFailed(hs)
		hs.Reason, hs.Message = "", s.warnings[name]
		s.requeueAfter(max(o.wait, procedure.PollInterval))
	}
}

// closeTier updates a tier's state after a pass and says whether the next
// tier may start.
func (r *VOBoxInterventionReconciler) closeTier(s *scope, tier *procedure.Tier, ts *diracv1.TierStatus) bool {
	done, failed, pending := 0, 0, 0
	for _, name := range tier.Hosts {
		hs := s.host(name).status
		switch {
		case slices.Contains(hs.CompletedTiers, tier.Condition):
			done++
		case hs.Phase == diracv1.HostFailed:
			failed++
			if s.vbi.Spec.Strategy.FailurePolicy != diracv1.FailurePolicyContinue && !procedure.IsTerminalReason(hs.Reason) {
				pending++ // Halt keeps retrying what a retry can fix
			}
		default:
			pending++
		}
	}
	ts.Done = int32(done)
	if pending > 0 {
		return false
	}
	now := metav1.NewTime(s.now)
	ts.FinishedAt = &now
	r.Metrics.observeTier(tier.Condition, ts)
	if failed == 0 {
		ts.State = diracv1.TierSucceeded
		return true
	}
	ts.State = diracv1.TierFailed
	return s.vbi.Spec.Strategy.FailurePolicy == diracv1.FailurePolicyContinue
}

// isComplete reports whether every tier of the current plan is done.
func isComplete(vbi *diracv1.VOBoxIntervention) bool {
	if len(vbi.Status.Tiers) == 0 {
		return false
	}
	for _, t := range vbi.Status.Tiers {
		if t.State != diracv1.TierSucceeded && t.State != diracv1.TierSkipped {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
