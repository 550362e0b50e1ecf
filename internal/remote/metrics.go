package remote

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Metrics are registered once, on controller-runtime's registry, so the
// manager's /metrics endpoint serves them. They aggregate over all executors.
var (
	commandDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vobox_ssh_command_duration_seconds",
		Help:    "Wall time of remote commands run over SSH, including waiting for a connection, by outcome.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
	}, []string{"outcome"})

	commandsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vobox_ssh_commands_total",
		Help: "Remote commands run over SSH, by outcome: success, exit_nonzero, or the snake_case error reason.",
	}, []string{"outcome"})

	openConnections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "vobox_ssh_open_connections",
		Help: "SSH client connections currently open in executor pools.",
	})

	handshakeFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vobox_ssh_handshake_failures_total",
		Help: "Failed SSH connection attempts (dial and handshake), by kind: refused, reset, timeout, auth, host_key_unknown, host_key_mismatch, host_key_revoked, other.",
	}, []string{"kind"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(commandDuration, commandsTotal, openConnections, handshakeFailures)
}

// Outcome label values of vobox_ssh_commands_total for commands that ran.
const (
	outcomeSuccess     = "success"
	outcomeExitNonzero = "exit_nonzero"
)

// outcomeLabel maps an error's Reason to a snake_case label value.
func outcomeLabel(err error) string {
	switch Reason(err) {
	case ReasonTimeout:
		return "timeout"
	case ReasonConnectionFailed:
		return "connection_failed"
	case ReasonConnectionLost:
		return "connection_lost"
	case ReasonHostKeyUnknown:
		return "host_key_unknown"
	case ReasonHostKeyMismatch:
		return "host_key_mismatch"
	case ReasonHostKeyRevoked:
		return "host_key_revoked"
	case ReasonAuthFailed:
		return "auth_failed"
	case ReasonCredentialsInvalid:
		return "credentials_invalid"
	case ReasonInvalidRequest:
		return "invalid_request"
	case ReasonExecutorClosed:
		return "executor_closed"
	}
	return "unknown"
}

// Handshake failure kinds, the label values of
// vobox_ssh_handshake_failures_total.
const (
	failRefused         = "refused"
	failReset           = "reset"
	failTimeout         = "timeout"
	failAuth            = "auth"
	failHostKeyUnknown  = "host_key_unknown"
	failHostKeyMismatch = "host_key_mismatch"
	failHostKeyRevoked  = "host_key_revoked"
	failOther           = "other"
)
