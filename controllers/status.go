package controllers

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// The functions of this file are pure: they turn what the steps recorded in
// the status (tiers, hosts) and the pass's blockers into conditions, phase
// and progress. Messages carry no clock values, so a pass that changed
// nothing writes nothing.

// summary is the state of the procedure as the status derivation sees it.
type summary struct {
	complete  bool
	failed    []string // hosts failed, "name: message"
	halted    bool     // Halt stopped the procedure on a procedure.Failure
	finished  bool     // every tier closed (Continue may leave failures)
	current   *diracv1.TierStatus
	doneSteps int
	total     int
}

// summarize reads the tiers and hosts of the status.
func summarize(vbi *diracv1.VOBoxIntervention, plan procedure.Plan) summary {
	sm := summary{complete: isComplete(vbi), total: plan.Total(), finished: len(vbi.Status.Tiers) > 0}
	for i := range vbi.Status.Tiers {
		ts := &vbi.Status.Tiers[i]
		if i < len(plan.Tiers) && !plan.Tiers[i].Skipped {
			sm.doneSteps += int(ts.Done)
		}
		switch ts.State {
		case diracv1.TierPending, diracv1.TierRunning:
			sm.finished = false
			if sm.current == nil {
				sm.current = ts
			}
		case diracv1.TierFailed:
			if vbi.Spec.Strategy.FailurePolicy != diracv1.FailurePolicyContinue {
				sm.halted, sm.finished = true, false
			}
		}
	}
	for _, hs := range vbi.Status.Hosts {
		if hs.Phase == diracv1.HostFailed {
			sm.failed = append(sm.failed, fmt.Sprintf("%s: %s", hs.Name, firstNonEmpty(hs.Message, hs.Reason)))
		}
	}
	if len(sm.failed) > 0 && vbi.Spec.Strategy.FailurePolicy != diracv1.FailurePolicyContinue {
		sm.halted = true
	}
	return sm
}

// deriveStatus sets conditions, phase, progress and host phases from the
// status the steps wrote and from what blocked this pass.
func deriveStatus(s *scope) {
	vbi := s.vbi
	st := &vbi.Status
	sm := summarize(vbi, s.plan)
	gen := vbi.Generation
	set := func(t string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: status, Reason: reason,
			Message: truncate(msg, 1024), ObservedGeneration: gen})
	}

	deriveTierConditions(s, set)
	deriveHostPhases(s)
	st.Progress = fmt.Sprintf("%d/%d", sm.doneSteps, sm.total)
	st.ObservedGeneration = gen
	if sm.complete && st.CompletedAt == nil {
		now := metav1.NewTime(s.now)
		st.CompletedAt = &now
	}

	state := string(vbi.Spec.State)
	drift := driftSummary(vbi) // drift.go
	switch {
	case sm.complete && drift != "" && !corrects(vbi):
		msg := "Drifted (not corrected: driftPolicy Report, or after Up): " + drift
		set(diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonDrifted, msg)
		set(diracv1.ReconcilingCondition, metav1.ConditionFalse, diracv1.ReasonDrifted, "Stalled: "+msg)
		set(diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonDrifted, msg)
		st.Phase = map[diracv1.State]diracv1.Phase{diracv1.StateDown: diracv1.PhaseDown, diracv1.StateUp: diracv1.PhaseUp}[vbi.Spec.State]
	case sm.complete:
		set(diracv1.ReadyCondition, metav1.ConditionTrue, diracv1.ReasonSucceeded, fmt.Sprintf("All %d hosts are %s and every check passed", len(vbi.Spec.Hosts), state))
		set(diracv1.ReconcilingCondition, metav1.ConditionFalse, diracv1.ReasonSucceeded, "Nothing left to do")
		set(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonSucceeded, "Not stalled")
		st.Phase = map[diracv1.State]diracv1.Phase{diracv1.StateDown: diracv1.PhaseDown, diracv1.StateUp: diracv1.PhaseUp}[vbi.Spec.State]
	case s.blocked != nil && !s.blocked.Terminal:
		// A wait (a Lease, the schedule, an approval), not a failure.
		set(diracv1.ReadyCondition, metav1.ConditionFalse, s.blocked.Reason, s.blocked.Message)
		set(diracv1.ReconcilingCondition, metav1.ConditionTrue, s.blocked.Reason, s.blocked.Message)
		waiting := map[string]string{
			diracv1.ReasonHostLocked:       "Waiting for the hosts' Leases",
			diracv1.ReasonWaitingForWindow: "Waiting for the schedule",
			diracv1.ReasonAwaitingApproval: "Waiting for an approval",
			diracv1.ReasonWaitingForReboot: "Waiting for the hosts to boot again",
		}[s.blocked.Reason]
		set(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonProgressing, firstNonEmpty(waiting, "Waiting: "+s.blocked.Reason))
		st.Phase = diracv1.PhasePending
		if startedAny(st) {
			st.Phase = workingPhase(s)
		}
	case s.blocked != nil:
		set(diracv1.ReadyCondition, metav1.ConditionFalse, s.blocked.Reason, s.blocked.Message)
		set(diracv1.ReconcilingCondition, metav1.ConditionFalse, s.blocked.Reason, "Stalled: "+s.blocked.Message)
		set(diracv1.StalledCondition, metav1.ConditionTrue, s.blocked.Reason, s.blocked.Message)
		st.Phase = diracv1.PhaseFailed
	case vbi.Spec.Suspend:
		msg := "spec.suspend is true: no new step starts"
		set(diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, msg)
		set(diracv1.ReconcilingCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, msg)
		set(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, msg)
		st.Phase = diracv1.PhaseSuspended
	case len(sm.failed) > 0 && (sm.halted || sm.finished):
		reason := diracv1.ReasonHalted
		if sm.finished {
			reason = diracv1.ReasonCompletedWithFailures
		}
		if r := sharedHostReason(vbi); r != "" && !slices.Contains(checkReasons, r) {
			reason = r
		}
		msg := fmt.Sprintf("%d host(s) failed: %s", len(sm.failed), strings.Join(sm.failed, "; "))
		set(diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonHostFailed, msg)
		set(diracv1.ReconcilingCondition, metav1.ConditionFalse, reason, "Stalled: "+msg)
		set(diracv1.StalledCondition, metav1.ConditionTrue, reason, msg)
		st.Phase = diracv1.PhaseFailed
	default:
		msg := "Working"
		if sm.current != nil {
			msg = fmt.Sprintf("%s: %d/%d hosts done", sm.current.Name, sm.current.Done, len(sm.current.Hosts))
		}
		if len(sm.failed) > 0 {
			msg += fmt.Sprintf("; %d host(s) failed: %s", len(sm.failed), strings.Join(sm.failed, "; "))
		}
		reason := diracv1.ReasonProgressing
		if drift != "" && corrects(vbi) {
			reason, msg = diracv1.ReasonDrifted, "Correcting drift: "+drift+"; "+msg
		}
		set(diracv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
		set(diracv1.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
		set(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonProgressing, "Not stalled")
		st.Phase = diracv1.PhasePending
		if startedAny(st) {
			st.Phase = workingPhase(s)
		}
	}
}

// checkReasons are failures of the procedure's own checks: the procedure.Failure
// policy decides what follows, and Stalled says which policy did (Halted,
// CompletedWithFailures). Any other procedure.Failure (a host's key, its address, its
// layout, a conflict on it) is for a person to fix before the host can go
// on, whatever the policy, so Stalled carries it as its reason when the
// failed hosts share it: an alert on HostKeyMismatch needs no message parsing.
var checkReasons = []string{
	diracv1.ReasonErrorsInLog, diracv1.ReasonComponentNotUp,
	diracv1.ReasonDatabaseNotStarted, diracv1.ReasonDatabaseNotStopped,
}

// sharedHostReason is the reason every failed host shares, or "".
func sharedHostReason(vbi *diracv1.VOBoxIntervention) string {
	reason := ""
	for _, hs := range vbi.Status.Hosts {
		if hs.Phase != diracv1.HostFailed {
			continue
		}
		if reason != "" && hs.Reason != reason {
			return ""
		}
		reason = hs.Reason
	}
	return reason
}

// deriveTierConditions sets one condition per tier of the plan and removes
// the phase conditions of the other direction.
func deriveTierConditions(s *scope, set func(string, metav1.ConditionStatus, string, string)) {
	st := &s.vbi.Status
	keep := map[string]bool{diracv1.ReadyCondition: true, diracv1.ReconcilingCondition: true, diracv1.StalledCondition: true}
	for i, tier := range s.plan.Tiers {
		keep[tier.Condition] = true
		ts := st.Tiers[i]
		n := len(tier.Hosts)
		switch ts.State {
		case diracv1.TierSucceeded:
			set(tier.Condition, metav1.ConditionTrue, diracv1.ReasonSucceeded, fmt.Sprintf("%d/%d hosts passed", n, n))
		case diracv1.TierSkipped:
			msg := "No host takes part"
			if tier.Skipped {
				msg = "spec.maintenance.enabled is false"
			}
			set(tier.Condition, metav1.ConditionTrue, diracv1.ReasonNotApplicable, msg)
		case diracv1.TierFailed:
			set(tier.Condition, metav1.ConditionFalse, diracv1.ReasonHostFailed, tierFailures(s, tier))
		case diracv1.TierRunning:
			msg := fmt.Sprintf("%d/%d hosts passed", ts.Done, n)
			if f := tierFailures(s, tier); f != "" {
				msg += "; " + f
			}
			set(tier.Condition, metav1.ConditionFalse, diracv1.ReasonProgressing, msg)
		default:
			set(tier.Condition, metav1.ConditionFalse, diracv1.ReasonPending, fmt.Sprintf("Waits for the tiers before it (%d hosts)", n))
		}
	}
	st.Conditions = slices.DeleteFunc(st.Conditions, func(c metav1.Condition) bool { return !keep[c.Type] })
}

// tierFailures names the failed hosts of a tier and what they saw.
func tierFailures(s *scope, tier procedure.Tier) string {
	var parts []string
	statuses := s.statusIndex() // at every status write: no scan per host
	for _, name := range tier.Hosts {
		hs := statuses[name]
		if hs.Phase == diracv1.HostFailed && !slices.Contains(hs.CompletedTiers, tier.Condition) {
			parts = append(parts, fmt.Sprintf("host %s failed (%s): %s", name, hs.Reason, hs.Message))
		}
	}
	return strings.Join(parts, "; ")
}

// A host's phase is derived here, at the end of a pass, from what the pass
// recorded. The one fact the steps record in it is a failure (markFailed,
// clearFailed), which this derivation keeps.

// markFailed records that a host failed its step for good (or, under Halt,
// until a retry fixes it).
func markFailed(hs *diracv1.HostStatus) { hs.Phase = diracv1.HostFailed }

// clearFailed records that a host is not failed (any more); its phase is
// derived at the end of the pass.
func clearFailed(hs *diracv1.HostStatus) {
	if hs.Phase == diracv1.HostFailed || hs.Phase == "" {
		hs.Phase = diracv1.HostPending
	}
}

// deriveHostPhases summarises each host from the tiers it passed.
func deriveHostPhases(s *scope) {
	closed := planClosed(s.vbi)
	for i := range s.vbi.Status.Hosts {
		hs := &s.vbi.Status.Hosts[i]
		if hs.Phase == diracv1.HostFailed {
			continue
		}
		all := true
		for _, t := range s.plan.Tiers {
			if !t.Skipped && slices.Contains(t.Hosts, hs.Name) && !slices.Contains(hs.CompletedTiers, t.Condition) {
				all = false
			}
		}
		switch {
		case all && s.plan.State == diracv1.StateDown:
			hs.Phase = diracv1.HostDown
		case all && (isComplete(s.vbi) || closed):
			// Under Continue a finished plan may hold failed hosts; the
			// others are Up, not waiting for a clear that will not come.
			hs.Phase = diracv1.HostUp
		case all:
			hs.Phase = diracv1.HostWaiting // waits for maintenance to clear on the others
		case hs.WaitingSince != nil && hs.Reason == diracv1.ReasonRebooting:
			hs.Phase = diracv1.HostRebooting // reboot.go
		case hs.WaitingSince != nil:
			hs.Phase = diracv1.HostWorking
		case len(hs.CompletedTiers) > 0 || (s.blocked != nil && s.blocked.Reason == diracv1.ReasonHostLocked):
			hs.Phase = diracv1.HostWaiting
		default:
			hs.Phase = diracv1.HostPending
		}
	}
}

// planClosed reports whether every tier of the plan is over: succeeded,
// skipped, or failed under failurePolicy Continue (which goes on past it).
func planClosed(vbi *diracv1.VOBoxIntervention) bool {
	if len(vbi.Status.Tiers) == 0 {
		return false
	}
	for _, t := range vbi.Status.Tiers {
		switch t.State {
		case diracv1.TierSucceeded, diracv1.TierSkipped:
		case diracv1.TierFailed:
			if vbi.Spec.Strategy.FailurePolicy != diracv1.FailurePolicyContinue {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func startedAny(st *diracv1.VOBoxInterventionStatus) bool {
	for _, t := range st.Tiers {
		if t.StartedAt != nil {
			return true
		}
	}
	return false
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}
