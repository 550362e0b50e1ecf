package controllers

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// Metrics are the controller's Prometheus metrics. A nil *Metrics records
// nothing, so tests need not register any. The intervention's namespace is
// the label intervention_namespace, not namespace: the Prometheus Operator
// sets namespace to the scraped pod's and would rename ours exported_namespace.
type Metrics struct {
	stepDuration  *prometheus.HistogramVec
	tierDuration  *prometheus.HistogramVec
	stepFailures  *prometheus.CounterVec
	hostsByPhase  *prometheus.GaugeVec
	byPhase       *prometheus.GaugeVec
	statusWrites  prometheus.Counter
	hostTierTimes *prometheus.HistogramVec
	waiting       *prometheus.GaugeVec
	drift         *prometheus.CounterVec
	reads         *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (controller-runtime's
// metrics.Registry when nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = metrics.Registry
	}
	m := &Metrics{
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vobox_step_duration_seconds", Help: "Duration of remote steps run on hosts, by step and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 12), // 5ms … 15m
		}, []string{"step", "outcome"}),
		tierDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vobox_phase_duration_seconds", Help: "Duration of procedure phases (tiers), from first step to last host.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 15), // 1s … 4.5h
		}, []string{"phase", "result"}),
		hostTierTimes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vobox_host_phase_duration_seconds", Help: "Time one host took to pass a phase.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 13), // 50ms … 50m
		}, []string{"phase"}),
		stepFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vobox_step_failures_total", Help: "Host step failures, by reason.",
		}, []string{"reason"}),
		hostsByPhase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vobox_hosts", Help: "Hosts of each intervention by phase.",
		}, []string{"intervention_namespace", "intervention", "phase"}),
		byPhase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vobox_interventions", Help: "Interventions by namespace, name and phase (1 for the current phase).",
		}, []string{"intervention_namespace", "intervention", "phase"}),
		waiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vobox_intervention_waiting", Help: "1 while an intervention waits, by reason: AwaitingApproval, WaitingForWindow, HostLocked, WaitingForReboot.",
		}, []string{"intervention_namespace", "intervention", "reason"}),
		statusWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vobox_status_writes_total", Help: "Status patches sent to the API server.",
		}),
		drift: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vobox_drift_total", Help: "Drift checks that found a host out of its intervention's state (a new finding), by intervention and host.",
		}, []string{"intervention_namespace", "intervention", "host"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vobox_intervention_reads_total", Help: "Interventions read at the start of a pass, by source: cache (the informer held the version last seen on the API server) or apiserver (read around the cache).",
		}, []string{"source"}),
	}
	reg.MustRegister(m.stepDuration, m.tierDuration, m.hostTierTimes, m.stepFailures, m.hostsByPhase, m.byPhase, m.statusWrites, m.waiting, m.drift, m.reads)
	return m
}

func (m *Metrics) observeStep(step string, d time.Duration, ok bool) {
	if m == nil {
		return
	}
	outcome := "success"
	if !ok {
		outcome = "failure"
	}
	m.stepDuration.WithLabelValues(step, outcome).Observe(d.Seconds())
}

func (m *Metrics) observeTier(phase string, ts *diracv1.TierStatus) {
	if m == nil || ts.StartedAt == nil || ts.FinishedAt == nil {
		return
	}
	result := "succeeded"
	if ts.State == diracv1.TierFailed {
		result = "failed"
	}
	m.tierDuration.WithLabelValues(phase, result).Observe(ts.FinishedAt.Sub(ts.StartedAt.Time).Seconds())
}

func (m *Metrics) observeHostTier(phase string, vbi *diracv1.VOBoxIntervention, hs *diracv1.HostStatus) {
	if m == nil || hs.WaitingSince == nil {
		return
	}
	m.hostTierTimes.WithLabelValues(phase).Observe(time.Since(hs.WaitingSince.Time).Seconds())
}

func (m *Metrics) stepFailed(reason string) {
	if m == nil {
		return
	}
	m.stepFailures.WithLabelValues(reason).Inc()
}

func (m *Metrics) statusWrite() {
	if m == nil {
		return
	}
	m.statusWrites.Inc()
}

func (m *Metrics) interventionRead(cached bool) {
	if m == nil {
		return
	}
	source := "apiserver"
	if cached {
		source = "cache"
	}
	m.reads.WithLabelValues(source).Inc()
}

var allPhases = []diracv1.Phase{diracv1.PhasePending, diracv1.PhaseShuttingDown, diracv1.PhaseDown, diracv1.PhaseStartingUp, diracv1.PhaseUp, diracv1.PhaseFailed, diracv1.PhaseSuspended}

var allHostPhases = []diracv1.HostPhase{diracv1.HostPending, diracv1.HostWaiting, diracv1.HostWorking, diracv1.HostDown, diracv1.HostRebooting, diracv1.HostUp, diracv1.HostFailed}

// waitReasons are the reasons of vobox_intervention_waiting.
var waitReasons = []string{diracv1.ReasonAwaitingApproval, diracv1.ReasonWaitingForWindow, diracv1.ReasonHostLocked, diracv1.ReasonWaitingForReboot}

func (m *Metrics) observeIntervention(vbi *diracv1.VOBoxIntervention) {
	if m == nil {
		return
	}
	for _, p := range allPhases {
		v := 0.0
		if vbi.Status.Phase == p {
			v = 1
		}
		m.byPhase.WithLabelValues(vbi.Namespace, vbi.Name, string(p)).Set(v)
	}
	counts := map[diracv1.HostPhase]int{}
	for _, hs := range vbi.Status.Hosts {
		counts[hs.Phase]++
	}
	for _, p := range allHostPhases {
		m.hostsByPhase.WithLabelValues(vbi.Namespace, vbi.Name, string(p)).Set(float64(counts[p]))
	}
	ready := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.ReadyCondition)
	for _, reason := range waitReasons {
		v := 0.0
		if ready != nil && ready.Status != metav1.ConditionTrue && ready.Reason == reason {
			v = 1
		}
		m.waiting.WithLabelValues(vbi.Namespace, vbi.Name, reason).Set(v)
	}
}

// forget drops the series of a deleted intervention, so that alerts on a
// Failed intervention stop when it is gone.
func (m *Metrics) forget(vbi *diracv1.VOBoxIntervention) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"intervention_namespace": vbi.Namespace, "intervention": vbi.Name}
	m.byPhase.DeletePartialMatch(labels)
	m.hostsByPhase.DeletePartialMatch(labels)
	m.waiting.DeletePartialMatch(labels)
	m.drift.DeletePartialMatch(labels)
}
