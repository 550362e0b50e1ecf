package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// Desired state held: while an intervention is complete, each host is
// probed again, read-only and in one session, every
// spec.checks.driftInterval. What is out of place (procedure.DetectDrift)
// goes into status.hosts[].drift, a Drifted event and vobox_drift_total;
// under driftPolicy Correct the host's tiers are opened again and run with
// every guarantee of the procedure (the manifest, the order, the checks),
// Reconciling=True reason Drifted until they are done; under Report nothing
// changes on the host and the intervention says Ready=False, Stalled=True,
// reason Drifted, until a check finds the host back in its state.

// maxDriftEntries bounds status.hosts[].drift (its schema's maxItems).
const maxDriftEntries = 32

// driftDue reports whether a complete intervention has a host to check for
// drift now, and else how long until the next one is due.
func driftDue(s *scope) (bool, time.Duration) {
	interval := s.vbi.Spec.Checks.DriftInterval.Duration
	if interval <= 0 || !isComplete(s.vbi) || s.vbi.Spec.Suspend {
		return false, 0
	}
	next := interval
	for i := range s.vbi.Status.Hosts {
		left := checkDueIn(s, &s.vbi.Status.Hosts[i])
		if left <= 0 {
			return true, 0
		}
		next = min(next, left)
	}
	return false, next
}

// checkDueIn is how long until a host's next drift check: an interval
// after its last one, or after the procedure completed (whose last probes
// verified every host: a check then would only repeat them).
func checkDueIn(s *scope, hs *diracv1.HostStatus) time.Duration {
	if correcting(s.vbi, hs) {
		return 0
	}
	interval := s.vbi.Spec.Checks.DriftInterval.Duration
	switch {
	case hs.LastCheckedAt != nil:
		return hs.LastCheckedAt.Add(interval).Sub(s.now)
	case s.vbi.Status.CompletedAt != nil:
		return s.vbi.Status.CompletedAt.Add(interval).Sub(s.now)
	}
	return interval // completed in this pass
}

// correcting reports whether a host's last check found drift that
// driftPolicy Correct is putting right: its next check verifies at once.
func correcting(vbi *diracv1.VOBoxIntervention, hs *diracv1.HostStatus) bool {
	return corrects(vbi) && len(countedDrift(hs.Drift)) > 0
}

// corrects reports whether drift is corrected: under driftPolicy Correct,
// while Down. After Up the manifest that said where each link belongs is
// gone (removed once every link was back), so a restored link that left
// startup cannot be put back with the procedure's guarantees: that drift
// is reported, as under Report.
func corrects(vbi *diracv1.VOBoxIntervention) bool {
	return vbi.Spec.Strategy.DriftPolicy != diracv1.DriftPolicyReport && vbi.Status.ObservedState == diracv1.StateDown
}

// countedDrift drops the entries recorded only (procedure.Drift.Recorded).
func countedDrift(entries []string) []string {
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e, procedure.RecordedDriftPrefix) {
			out = append(out, e)
		}
	}
	return out
}

// driftSummary names the hosts with drift and what drifted, "" when none.
func driftSummary(vbi *diracv1.VOBoxIntervention) string {
	var parts []string
	for _, hs := range vbi.Status.Hosts {
		if d := countedDrift(hs.Drift); len(d) > 0 {
			parts = append(parts, fmt.Sprintf("host %s: %s", hs.Name, strings.Join(d, ", ")))
		}
	}
	return strings.Join(parts, "; ")
}

// checkDrift probes the hosts whose check is due, records what drifted and,
// under Correct, opens their tiers again.
func (r *VOBoxInterventionReconciler) checkDrift(ctx context.Context, s *scope) (ctrl.Result, error) {
	due, next := driftDue(s)
	if !due {
		s.requeueAfter(next)
		return ctrl.Result{}, nil
	}
	if s.blocked != nil || s.creds == nil {
		return ctrl.Result{}, nil
	}
	interval := s.vbi.Spec.Checks.DriftInterval.Duration
	// A complete Up holds no Lease: a machine another intervention holds
	// now is that one's to work, and sees nothing from this one.
	others, err := r.heldByOthers(ctx, s.vbi)
	if err != nil {
		return ctrl.Result{}, err
	}
	var hosts []string
	for _, h := range s.vbi.Spec.Hosts {
		if !others[h.Name] && checkDueIn(s, s.host(h.Name).status) <= 0 {
			hosts = append(hosts, h.Name)
		}
	}
	probes := r.probeReadOnly(ctx, s, hosts)
	now := r.Clock.Now()
	for i, name := range hosts {
		if probes[i] != nil {
			r.recordDrift(s, name, probes[i], now)
		}
	}
	s.requeueAfter(interval)
	return ctrl.Result{}, nil
}

// recordDrift records what one host's probe shows out of place, and acts
// on it by the drift policy.
func (r *VOBoxInterventionReconciler) recordDrift(s *scope, name string, p *procedure.Probe, now time.Time) {
	hc := s.host(name)
	hs := hc.status
	spec := &s.vbi.Spec
	in := procedure.DriftInput{State: s.vbi.Status.ObservedState, Parked: append(slices.Clone(hs.SavedComponents), hs.ExcludedComponents...),
		Restored: hs.SavedComponents, Database: slices.Contains(hc.spec.Roles, diracv1.RoleDatabase), KeepStopped: spec.Database.KeepStopped}
	if p.Manifest != nil {
		// The host's own record, exact, while it is there.
		in.Parked = nil
		for _, e := range p.Manifest.Entries {
			in.Parked = append(in.Parked, e.Name)
		}
	}
	found := procedure.DetectDrift(p, in)
	entries := make([]string, 0, len(found))
	for _, d := range found {
		entries = append(entries, d.String())
	}
	entries = entries[:min(len(entries), maxDriftEntries)]
	checked := metav1.NewTime(now)
	hs.LastCheckedAt = &checked
	news := !slices.Equal(countedDrift(entries), countedDrift(hs.Drift))
	hs.Drift = entries
	if len(entries) == 0 {
		hs.Drift = nil
	}
	if !procedure.Drifted(found) {
		return
	}
	if news {
		hc.log.Info("Host drifted", "drift", countedDrift(entries), "policy", spec.Strategy.DriftPolicy)
		// One action per host: the events recorder folds events of one
		// object, reason and action into a series that keeps the first note.
		r.Recorder.Eventf(s.vbi, nil, corev1.EventTypeWarning, diracv1.ReasonDrifted, "DriftCheck/"+name,
			"Host %s is no longer %s: %s", name, s.vbi.Status.ObservedState, strings.Join(countedDrift(entries), ", "))
		r.Metrics.drifted(s.vbi, name)
	}
	if corrects(s.vbi) {
		reopenHost(s, name, found)
	}
}

// reopenHost opens again the tiers of the current plan that put a host in
// its state, so that the procedure runs them on it again, in order. The
// maintenance tiers stay closed (a host in maintenance stays there), and
// so does the database tier unless mysqld itself drifted.
func reopenHost(s *scope, name string, found []procedure.Drift) {
	hs := s.host(name).status
	database := slices.ContainsFunc(found, func(d procedure.Drift) bool { return d.Subject == "mysqld" && !d.Recorded })
	others := slices.ContainsFunc(found, func(d procedure.Drift) bool { return d.Subject != "mysqld" && !d.Recorded })
	for i, t := range s.plan.Tiers {
		if t.Skipped || !slices.Contains(t.Hosts, name) || !slices.Contains(hs.CompletedTiers, t.Condition) {
			continue
		}
		if s.plan.Cycle && (i < s.plan.DownTiers() || t.Action == procedure.ActionReboot) {
			continue // a cycle's Down tiers and reboot are not how a host is brought back Up
		}
		switch t.Action {
		case procedure.ActionSetMaintenance, procedure.ActionClearMaintenance:
			continue
		case procedure.ActionStopDatabase, procedure.ActionStartDatabase:
			if !database {
				continue
			}
		default:
			if !others {
				continue
			}
		}
		hs.CompletedTiers = slices.DeleteFunc(hs.CompletedTiers, func(c string) bool { return c == t.Condition })
		ts := &s.vbi.Status.Tiers[i]
		ts.State, ts.FinishedAt = diracv1.TierRunning, nil
		if ts.Done > 0 {
			ts.Done--
		}
	}
	hs.WaitingSince, hs.Attempts = nil, 0
	s.vbi.Status.CompletedAt = nil
	s.requeueAfter(procedure.PollInterval)
}

// drifted counts a new drift finding on a host.
func (m *Metrics) drifted(vbi *diracv1.VOBoxIntervention, host string) {
	if m == nil {
		return
	}
	m.drift.WithLabelValues(vbi.Namespace, vbi.Name, host).Inc()
}
