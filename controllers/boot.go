package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// Boot tracking: a host's boot id is recorded when its Down completes
// (status.hosts[].bootID), and any later probe that sees another one marks
// the host rebooted; spec.checks.requireReboot holds Up until every host
// whose Down this intervention completed booted again.

// rebootPoll is how often an Up waiting for reboots looks at the hosts again.
const rebootPoll = 10 * time.Second

// noteBoot takes in what a probe says of the host's boot. Each host's
// probes run in its own worker, and touch only its own context and status.
func noteBoot(hc *hostContext, p *procedure.Probe) {
	if p.BootID == "" {
		return
	}
	hc.bootID = p.BootID
	if hs := hc.status; hs.BootID != "" && p.BootID != hs.BootID {
		hs.Rebooted = true
	}
}

// downComplete reports whether a host passed every tier of a Down plan it
// takes part in.
func downComplete(s *scope, name string) bool {
	if s.plan.State != diracv1.StateDown || len(s.vbi.Status.Tiers) != len(s.plan.Tiers) {
		return false
	}
	hs := s.host(name).status
	for _, t := range s.plan.Tiers {
		if !t.Skipped && slices.Contains(t.Hosts, name) && !slices.Contains(hs.CompletedTiers, t.Condition) {
			return false
		}
	}
	return true
}

// recordBoots records, for each host whose Down completed in this pass,
// the boot id its last probe saw: the boot the power stop must end.
func (r *VOBoxInterventionReconciler) recordBoots(_ context.Context, s *scope) (ctrl.Result, error) {
	for name, hc := range s.hosts {
		if hs := hc.status; hs.BootID == "" && hc.bootID != "" && downComplete(s, name) {
			hs.BootID, hs.Rebooted = hc.bootID, false
		}
	}
	return ctrl.Result{}, nil
}

// notRebooted names the hosts whose Down this intervention completed (a
// boot id recorded) and that were not seen booted since.
func notRebooted(vbi *diracv1.VOBoxIntervention) []string {
	var out []string
	for _, hs := range vbi.Status.Hosts {
		if hs.BootID != "" && !hs.Rebooted {
			out = append(out, hs.Name)
		}
	}
	return out
}

// waitForReboot holds an Up with spec.checks.requireReboot before its first
// step until every host booted again since its Down: it probes the hosts
// not yet seen rebooted (read-only, one session each) every rebootPoll.
func (r *VOBoxInterventionReconciler) waitForReboot(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.blocked != nil || s.vbi.Spec.Suspend || !s.vbi.Spec.Checks.RequireReboot ||
		s.plan.State != diracv1.StateUp || startedAny(&s.vbi.Status) || isComplete(s.vbi) {
		return ctrl.Result{}, nil
	}
	waiting := notRebooted(s.vbi)
	if len(waiting) == 0 {
		return ctrl.Result{}, nil
	}
	r.probeReadOnly(ctx, s, waiting)
	if waiting = notRebooted(s.vbi); len(waiting) == 0 {
		return ctrl.Result{}, nil
	}
	s.blocked = &procedure.Failure{Reason: diracv1.ReasonWaitingForReboot,
		Message: fmt.Sprintf("Waiting for %d host(s) to boot again since their Down (checks.requireReboot): %s", len(waiting), strings.Join(waiting, ", "))}
	s.requeueAfter(rebootPoll)
	return ctrl.Result{}, nil
}

// probeReadOnly probes hosts with nothing before the probe, bounded by
// maxParallel, and returns each host's probe (nil where it failed).
// Probes note the boot ids they see.
func (r *VOBoxInterventionReconciler) probeReadOnly(ctx context.Context, s *scope, hosts []string) []*procedure.Probe {
	probes := make([]*procedure.Probe, len(hosts))
	_ = inParallel(len(hosts), s.maxParallel(len(hosts)), func(i int) error {
		hc := s.host(hosts[i])
		tier := &procedure.Tier{Action: procedure.ActionStopAgents, Hosts: hosts}
		if slices.Contains(hc.spec.Roles, diracv1.RoleDatabase) {
			tier.Action = procedure.ActionStopDatabase
		}
		p, err := r.probe(ctx, s, tier, hc, nil, nil)
		if err != nil {
			hc.log.Info("Read-only probe failed", "error", err.Error())
			return nil
		}
		probes[i] = p
		return nil
	})
	return probes
}
