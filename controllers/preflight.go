package controllers

import (
	"context"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// preflight probes every host before the first tier of a Down plan and
// holds the plan while a host cannot take part: unreachable, a host key or
// login refused, no DIRAC root, no mysql.server on a Database host (without
// spec.database.service), an InnoDB journal in the way, no runit tools
// (RunitToolsMissing) or a link whose state cannot be read on a host that
// parks links, or a startup-save that already holds a different link of a
// name to park. It only reads, so bad input found here
// changes nothing on any host; without it the maintenance tier would have
// run everywhere, and the agents and services been stopped, before a
// database host's missing mysql.server showed. Under Continue, the hosts
// that failed for good are left out and the others go on. Exclude entries
// that name no link are warned about, not refused.
func (r *VOBoxInterventionReconciler) preflight(ctx context.Context, s *scope) bool {
	continuePolicy := s.vbi.Spec.Strategy.FailurePolicy == diracv1.FailurePolicyContinue
	var todo []string
	for _, h := range s.vbi.Spec.Hosts {
		hs := s.host(h.Name).status
		if hs.Phase == diracv1.HostFailed && (continuePolicy || procedure.IsTerminalReason(hs.Reason)) {
			continue
		}
		todo = append(todo, h.Name)
	}
	fails := make([]*procedure.Failure, len(todo))
	_ = inParallel(len(todo), s.maxParallel(len(todo)), func(i int) error {
		fails[i] = r.preflightHost(ctx, s, todo[i])
		return nil
	})

	ok := true
	for i, name := range todo {
		hs := s.host(name).status
		if fails[i] == nil {
			hs.WaitingSince, hs.Attempts, hs.Reason, hs.Message = nil, 0, "", s.warnings[name]
			clearFailed(hs)
			continue
		}
		if hs.WaitingSince == nil {
			now := metav1.NewTime(s.now)
			hs.WaitingSince = &now
		}
		r.applyOutcome(ctx, s, &s.plan.Tiers[0], name, hostOutcome{fail: fails[i]})
		if !continuePolicy || hs.Phase != diracv1.HostFailed {
			ok = false
		}
	}
	for _, h := range s.vbi.Spec.Hosts {
		if hs := s.host(h.Name).status; hs.Phase == diracv1.HostFailed && !continuePolicy {
			ok = false
		}
	}
	return ok
}

// preflightHost probes one host and says why it cannot take part, or nil,
// with procedure.Preflight: the decide functions' own checks.
func (r *VOBoxInterventionReconciler) preflightHost(ctx context.Context, s *scope, name string) *procedure.Failure {
	spec := &s.vbi.Spec
	hc := s.host(name)
	h := hc.spec
	in := procedure.PreflightInput{Host: name, Root: spec.Layout.DiracRoot, Roles: h.Roles, Exclude: h.Exclude}
	probeTier := &procedure.Tier{Action: procedure.ActionStopAgents}
	if slices.Contains(h.Roles, diracv1.RoleDatabase) {
		probeTier = &procedure.Tier{Action: procedure.ActionStopDatabase}
		in.MysqlServer, in.Service = spec.Layout.MysqlServer, procedure.DatabaseServiceFor(spec, name)
		if in.Service != nil {
			in.MysqlServer = ""
		}
		in.JournalFrom, in.JournalTo = procedure.JournalMove(spec, name)
	}
	p, err := r.probe(ctx, s, probeTier, hc, nil, nil)
	if err != nil {
		return procedure.FailureOf(err)
	}
	f, warning := procedure.Preflight(p, in)
	if warning != "" {
		s.warn(name, warning)
	}
	if f == nil {
		hc.firstLook = p
	}
	return f
}
