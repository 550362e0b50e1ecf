package controllers

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// A cycle (spec.cycle with state Up) is one plan, Down → (Rebooted) → Up
// (procedure.BuildPlan), run as any other by runTiers, or host by host by
// runRolling under spec.strategy.rolling. Its token is the trigger: a
// token other than status.observedCycle on a finished plan starts a new
// cycle (observeGeneration plans it afresh), and observedCycle takes the
// token when the cycle completes. A token changed while a cycle runs is
// taken by that cycle: it completes under the newer token.

// newCycle reports whether spec.cycle asks for a cycle the status has not
// seen: the plan is a cycle's, finished, and done for another token.
func newCycle(s *scope) bool {
	return s.plan.Cycle && s.vbi.Status.ObservedCycle != s.vbi.Spec.Cycle && isComplete(s.vbi)
}

// observeCycle records the token of a completed cycle.
func (r *VOBoxInterventionReconciler) observeCycle(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.plan.Cycle || !isComplete(s.vbi) || s.vbi.Status.ObservedCycle == s.vbi.Spec.Cycle {
		return ctrl.Result{}, nil
	}
	log.FromContext(ctx).Info("Cycle complete", "cycle", s.vbi.Spec.Cycle)
	s.vbi.Status.ObservedCycle = s.vbi.Spec.Cycle
	return ctrl.Result{}, nil
}

// scanFrom is when the log scan of a host's Up starts: the start of the
// procedure, or, in a cycle, of the host's own Up (its return from the
// reboot, else the Up tiers' start), so that what the components logged
// before the cycle stopped them is not read as their new start's.
func scanFrom(s *scope, hc *hostContext) time.Time {
	from := startedAt(s.vbi)
	if !s.plan.Cycle {
		return from
	}
	if at := hc.status.RebootedAt; at != nil {
		return at.Time
	}
	if i := s.plan.DownTiers(); i < len(s.vbi.Status.Tiers) {
		for _, ts := range s.vbi.Status.Tiers[i:] {
			if ts.StartedAt != nil {
				return ts.StartedAt.Time
			}
		}
	}
	return from
}

// workingPhase is the display phase of a plan under way: ShuttingDown or
// StartingUp by spec.state; a cycle is ShuttingDown until its first tier
// after the Down tiers started.
func workingPhase(s *scope) diracv1.Phase {
	if s.plan.Cycle {
		if i := s.plan.DownTiers(); i < len(s.vbi.Status.Tiers) && !startedAny(&diracv1.VOBoxInterventionStatus{Tiers: s.vbi.Status.Tiers[i:]}) {
			return diracv1.PhaseShuttingDown
		}
		return diracv1.PhaseStartingUp
	}
	if s.vbi.Spec.State == diracv1.StateDown {
		return diracv1.PhaseShuttingDown
	}
	return diracv1.PhaseStartingUp
}
