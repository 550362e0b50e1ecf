package controllers

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/approval"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/schedule"
)

// Gates hold the procedure at a tier boundary, never in the middle of a
// host's step: the schedule (spec.schedule: not before a time, only inside a
// weekly window) and approvals (spec.strategy.approvals, given with kubectl
// vobox approve). A held intervention is Ready=False and Reconciling=True
// with the gate's reason (WaitingForWindow, AwaitingApproval): it waits, it
// is not stuck.

// maxScheduleRequeue bounds the wait for a window, so that a pass looks at
// the clock again at least this often (a changed clock or zone database).
const maxScheduleRequeue = time.Hour

// checkSchedule holds an intervention that has not started yet until its
// schedule opens: no Lease, no connection, no command before then. A
// schedule that cannot be evaluated (an unknown time zone) stalls it with
// InvalidSchedule. It also copies the approvals of the current generation
// into the status.
func (r *VOBoxInterventionReconciler) checkSchedule(_ context.Context, s *scope) (ctrl.Result, error) {
	st := &s.vbi.Status
	st.Approvals = nil
	if gated := s.vbi.Spec.Strategy.Approvals; len(gated) > 0 {
		st.Approvals = approval.FromAnnotations(s.vbi.Annotations, gated, s.vbi.Generation)
	}
	if s.blocked != nil || isComplete(s.vbi) {
		return ctrl.Result{}, nil
	}
	d, err := schedule.Evaluate(s.vbi.Spec.Schedule, s.now)
	if err != nil {
		s.blocked = &procedure.Failure{Reason: diracv1.ReasonInvalidSchedule, Terminal: true,
			Message: fmt.Sprintf("spec.schedule cannot be evaluated: %v", err)}
		return ctrl.Result{}, nil
	}
	s.window = &d
	if !d.Open && !startedAny(st) {
		s.blocked = windowWait(d)
		s.requeueAfter(untilNext(d, s.now))
	}
	return ctrl.Result{}, nil
}

// tierGate says what holds tier back from starting now, or nil.
func (r *VOBoxInterventionReconciler) tierGate(s *scope, tier *procedure.Tier) *procedure.Failure {
	if s.window != nil && !s.window.Open {
		s.requeueAfter(untilNext(*s.window, s.now))
		return windowWait(*s.window)
	}
	if approval.Pending(tier.Condition, s.vbi.Spec.Strategy.Approvals, s.vbi.Status.Approvals) {
		return &procedure.Failure{Reason: diracv1.ReasonAwaitingApproval, Message: fmt.Sprintf(
			"%s awaits approval for generation %d: kubectl vobox approve %s %s", tier.Condition, s.vbi.Generation, s.vbi.Name, tier.Condition)}
	}
	return nil
}

// windowWait is the wait for the schedule, naming the next opening.
func windowWait(d schedule.Decision) *procedure.Failure {
	msg := "Waiting for the schedule: " + d.Why
	if !d.Next.IsZero() {
		msg = fmt.Sprintf("Waiting for the schedule until %s: %s", d.Next.UTC().Format(time.RFC3339), d.Why)
	}
	return &procedure.Failure{Reason: diracv1.ReasonWaitingForWindow, Message: msg}
}

// untilNext is how long to wait before looking at the schedule again.
func untilNext(d schedule.Decision, now time.Time) time.Duration {
	if d.Next.IsZero() {
		return maxScheduleRequeue
	}
	return min(max(d.Next.Sub(now), time.Second), maxScheduleRequeue)
}
