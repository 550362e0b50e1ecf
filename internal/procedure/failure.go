package procedure

import (
	"errors"
	"slices"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The failure vocabulary: why a host cannot pass its step, as a condition
// reason, and whether a retry can fix it. Whether a failure is terminal is
// decided here and nowhere else.

// Failure is why a host cannot pass its step.
type Failure struct {
	// Reason is a CamelCase condition reason.
	Reason string
	// Message says what was seen, for people.
	Message string
	// Terminal failures are not retried until the spec or credentials change.
	Terminal bool
}

// Error says the reason and what was seen.
func (f *Failure) Error() string { return f.Reason + ": " + f.Message }

// IsTerminal reports whether a retry cannot fix f: the host waits for a
// change of the spec or credentials.
func (f *Failure) IsTerminal() bool { return f.Terminal || IsTerminalReason(f.Reason) }

// terminalReasons are failures a retry cannot fix; the host waits for a
// spec change. Everything else (timeouts, refused connections, a non-zero
// exit, a component slow to come up) is retried with backoff.
var terminalReasons = []string{
	diracv1.ReasonHostKeyUnknown, diracv1.ReasonHostKeyMismatch, diracv1.ReasonHostKeyRevoked, diracv1.ReasonAuthFailed,
	diracv1.ReasonSecretInvalid, diracv1.ReasonStartupSaveConflict, diracv1.ReasonStartupConflict,
	diracv1.ReasonLinkMissing, diracv1.ReasonJournalConflict, diracv1.ReasonDiracRootMissing,
	diracv1.ReasonMysqlServerMissing, diracv1.ReasonErrorsInLog, diracv1.ReasonRunitToolsMissing,
}

// IsTerminalReason reports whether a host that failed for reason must wait
// for a spec change.
func IsTerminalReason(reason string) bool { return slices.Contains(terminalReasons, reason) }

// FailureOf turns the error of a command into a Failure: a Failure as it
// is; an executor error as the reason it maps to, terminal when a retry
// cannot fix it (a host key, a login, the credentials), transient otherwise
// (retried with backoff until stepTimeout).
func FailureOf(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return &Failure{Reason: conditionReason(err), Message: err.Error(), Terminal: remote.IsTerminal(err)}
}

// conditionReasons maps the executor's reasons to the API's condition
// reasons. An executor reason missing here (a refused, reset or lost
// connection, a closed executor, an error from elsewhere) is
// ReasonUnreachable.
var conditionReasons = map[string]string{
	remote.ReasonHostKeyUnknown:     diracv1.ReasonHostKeyUnknown,
	remote.ReasonHostKeyMismatch:    diracv1.ReasonHostKeyMismatch,
	remote.ReasonHostKeyRevoked:     diracv1.ReasonHostKeyRevoked,
	remote.ReasonAuthFailed:         diracv1.ReasonAuthFailed,
	remote.ReasonCredentialsInvalid: diracv1.ReasonSecretInvalid,
	remote.ReasonTimeout:            diracv1.ReasonStepTimeout,
	remote.ReasonInvalidRequest:     diracv1.ReasonCommandFailed,
}

// conditionReason maps an executor error to the API's condition reasons.
func conditionReason(err error) string {
	if reason, ok := conditionReasons[remote.Reason(err)]; ok {
		return reason
	}
	return diracv1.ReasonUnreachable
}
