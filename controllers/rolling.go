package controllers

import (
	"context"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// A rolling cycle (spec.strategy.rolling with spec.cycle) takes each host
// through its own share of the cycle's plan, Down → (Rebooted) → Up, its
// maintenance set before and cleared after, instead of taking every host
// down at once. Hosts go in the groups of procedure.RollingGroups (Agents,
// Services, Framework, Database: see there why), one group at a time, at
// most maxUnavailable hosts of the group out of service at once: a host
// counts from its first tier until its last (its Up checks passed and its
// maintenance cleared), and only then does the next host of its group
// start. Under Halt a host that fails for good stops the rolling; under
// Continue it is left behind, gives its place up, and the others go on.
// The tiers of status.tiers count, per tier, the hosts that passed it.
// Gates hold a host before a tier it has not started yet; settleDelay does
// not apply (the services a host's agents call are up elsewhere).

// maxRollingRounds bounds the rounds of one pass: each round moves every
// host being worked by at most one tier.
const maxRollingRounds = 24

// runRolling advances a rolling cycle as far as it can go in this pass.
func (r *VOBoxInterventionReconciler) runRolling(ctx context.Context, s *scope) (ctrl.Result, error) {
	defer r.closeRollingTiers(s)
	for range maxRollingRounds {
		active := r.rollingActive(s)
		if len(active) == 0 || s.blocked != nil {
			return ctrl.Result{}, nil
		}
		progressed, err := r.rollingRound(ctx, s, active)
		if err != nil {
			return ctrl.Result{}, err
		}
		r.closeRollingTiers(s)
		// Another round when a host passed a tier, or when the hosts to
		// work changed (one left behind under Continue frees its place).
		if !progressed && slices.Equal(r.rollingActive(s), active) {
			return ctrl.Result{}, nil
		}
	}
	return ctrl.Result{}, nil
}

// nextTier is the index of the first tier of the plan a host takes part in
// and has not passed, or -1 when it passed them all.
func nextTier(s *scope, name string) int {
	hs := s.host(name).status
	for i, t := range s.plan.Tiers {
		if !t.Skipped && slices.Contains(t.Hosts, name) && !slices.Contains(hs.CompletedTiers, t.Condition) {
			return i
		}
	}
	return -1
}

// leftBehind reports whether a failed host takes no further part: under
// Continue, or for a failure a retry cannot fix.
func leftBehind(s *scope, hs *diracv1.HostStatus) bool {
	return hs.Phase == diracv1.HostFailed &&
		(s.vbi.Spec.Strategy.FailurePolicy == diracv1.FailurePolicyContinue || procedure.IsTerminalReason(hs.Reason) || hs.Reason == diracv1.ReasonRebootTimeout)
}

// rollingActive returns the hosts to work in this round: those of the
// current group already out of service, and as many more as
// maxUnavailable allows. Under Halt, a host left behind stops everything.
func (r *VOBoxInterventionReconciler) rollingActive(s *scope) []string {
	halt := s.vbi.Spec.Strategy.FailurePolicy != diracv1.FailurePolicyContinue
	for _, h := range s.vbi.Spec.Hosts {
		if halt && leftBehind(s, s.host(h.Name).status) {
			return nil
		}
	}
	maxOut := int(s.vbi.Spec.Strategy.Rolling.MaxUnavailable)
	for _, group := range procedure.RollingGroups(&s.vbi.Spec) {
		var out, waiting []string
		for _, name := range group {
			hs := s.host(name).status
			switch {
			case nextTier(s, name) < 0 || leftBehind(s, hs):
			case len(hs.CompletedTiers) > 0 || hs.WaitingSince != nil:
				out = append(out, name)
			default:
				waiting = append(waiting, name)
			}
		}
		if len(out) == 0 && len(waiting) == 0 {
			continue // the group is through
		}
		for _, name := range waiting {
			if len(out) >= maxOut {
				break
			}
			out = append(out, name)
		}
		return out
	}
	return nil
}

// rollingRound moves each active host through its next tier, and says
// whether any passed one.
func (r *VOBoxInterventionReconciler) rollingRound(ctx context.Context, s *scope, active []string) (bool, error) {
	var steps, reboots []string
	for _, name := range active {
		i := nextTier(s, name)
		tier, ts := &s.plan.Tiers[i], &s.vbi.Status.Tiers[i]
		if s.host(name).status.WaitingSince == nil {
			// A tier the host has not started: its gates first.
			if gate := r.tierGate(s, tier); gate != nil {
				s.blocked = gate
				continue
			}
		}
		if ts.StartedAt == nil {
			now := metav1.NewTime(s.now)
			ts.StartedAt, ts.State = &now, diracv1.TierRunning
		}
		if tier.Action == procedure.ActionReboot {
			reboots = append(reboots, name)
		} else {
			steps = append(steps, name)
		}
	}
	before := map[string]int{}
	for _, name := range active {
		before[name] = len(s.host(name).status.CompletedTiers)
	}

	tiers := make([]*procedure.Tier, len(steps))
	outcomes := make([]hostOutcome, len(steps))
	work := make([]bool, len(steps))
	for i, name := range steps {
		tiers[i] = &s.plan.Tiers[nextTier(s, name)]
		work[i] = hostNeedsWork(s, tiers[i], name)
	}
	_ = inParallel(len(steps), s.maxParallel(len(steps)), func(i int) error {
		if work[i] {
			outcomes[i] = r.runHostStep(ctx, s, tiers[i], s.host(steps[i]))
		}
		return nil
	})
	maintenance := false
	for i, name := range steps {
		if !work[i] {
			continue
		}
		r.applyOutcome(ctx, s, tiers[i], name, outcomes[i])
		if outcomes[i].done && (tiers[i].Action == procedure.ActionSetMaintenance || tiers[i].Action == procedure.ActionClearMaintenance) {
			maintenance = true
		}
	}
	if maintenance {
		// The maintenance commands are not probed first: recorded before
		// anything else acts (runTiers does the same).
		if err := r.checkpoint(ctx, s); err != nil {
			return false, err
		}
	}
	if len(reboots) > 0 {
		if err := r.runRebootTier(ctx, s, s.plan.Tier(diracv1.RebootedCondition), reboots); err != nil {
			return false, err
		}
	}
	for _, name := range active {
		if len(s.host(name).status.CompletedTiers) > before[name] {
			return true, nil
		}
	}
	return false, nil
}

// closeRollingTiers sets each tier's count and state from its hosts: done
// when every host passed it or was left behind at it.
func (r *VOBoxInterventionReconciler) closeRollingTiers(s *scope) {
	halt := s.vbi.Spec.Strategy.FailurePolicy != diracv1.FailurePolicyContinue
	for i := range s.plan.Tiers {
		tier, ts := &s.plan.Tiers[i], &s.vbi.Status.Tiers[i]
		if tier.Skipped || len(tier.Hosts) == 0 {
			ts.State = diracv1.TierSkipped
			continue
		}
		// A host left behind fails the tier it stopped at, and, under
		// Continue, takes no part in the later ones (as failedEarlier).
		done, failed, failedHere := 0, 0, 0
		for _, name := range tier.Hosts {
			hs := s.host(name).status
			switch next := nextTier(s, name); {
			case slices.Contains(hs.CompletedTiers, tier.Condition):
				done++
			case leftBehind(s, hs) && next == i:
				failed++
				failedHere++
			case leftBehind(s, hs) && next >= 0 && next < i && !halt:
				failed++
			}
		}
		ts.Done = int32(done)
		switch {
		case done+failed == len(tier.Hosts) || (failedHere > 0 && halt):
			if ts.FinishedAt == nil {
				now := metav1.NewTime(s.now)
				ts.FinishedAt = &now
				r.Metrics.observeTier(tier.Condition, ts)
			}
			ts.State = diracv1.TierSucceeded
			if failed > 0 {
				ts.State = diracv1.TierFailed
			}
		case ts.StartedAt != nil:
			ts.State, ts.FinishedAt = diracv1.TierRunning, nil
		}
	}
}
