package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reasons returned by Reason. They are CamelCase so that a controller can use
// them as the reason of a Kubernetes condition without translation.
const (
	// ReasonHostKeyUnknown: known_hosts has no key for the host.
	ReasonHostKeyUnknown = "HostKeyUnknown"
	// ReasonHostKeyMismatch: the host presented a key other than the known ones.
	ReasonHostKeyMismatch = "HostKeyMismatch"
	// ReasonHostKeyRevoked: the host presented a key marked @revoked.
	ReasonHostKeyRevoked = "HostKeyRevoked"
	// ReasonAuthFailed: the host refused the client key.
	ReasonAuthFailed = "AuthFailed"
	// ReasonCredentialsInvalid: the Secret is incomplete or unparsable.
	ReasonCredentialsInvalid = "CredentialsInvalid"
	// ReasonInvalidRequest: the Target or Command cannot be run at all.
	ReasonInvalidRequest = "InvalidRequest"
	// ReasonTimeout: connecting or the command outlived its deadline, or the
	// caller cancelled it.
	ReasonTimeout = "Timeout"
	// ReasonConnectionFailed: the TCP connection or the SSH handshake failed
	// for a reason a retry may fix (refused, reset, unreachable).
	ReasonConnectionFailed = "ConnectionFailed"
	// ReasonConnectionLost: the connection broke while the command ran; whether
	// the command took effect is unknown.
	ReasonConnectionLost = "ConnectionLost"
	// ReasonExecutorClosed: the executor was closed.
	ReasonExecutorClosed = "ExecutorClosed"
	// ReasonUnknown: the error did not come from this package.
	ReasonUnknown = "Unknown"
)

// ErrClosed is returned by Run after Close. It is transient: a new executor
// can run the command.
var ErrClosed = errors.New("remote executor is closed")

// CredentialsError says that a Secret's data cannot be used as Credentials:
// a key is missing, unparsable, or passphrase-protected without a passphrase.
// It is terminal: only a change to the Secret fixes it.
type CredentialsError struct {
	// Key is the Secret data key at fault, e.g. "ssh-privatekey".
	Key string
	// Err is the underlying cause.
	Err error
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("invalid SSH credentials: %s: %v", e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *CredentialsError) Unwrap() error { return e.Err }

// HostKeyUnknownError says that known_hosts holds no key for the host. It is
// terminal: retrying cannot make the host known.
type HostKeyUnknownError struct {
	// Host is the name looked up in known_hosts: "host" for port 22,
	// "[host]:port" otherwise.
	Host string
	// KeyType is the type of the key the host presented, e.g. "ssh-ed25519".
	KeyType string
	// Fingerprint is the SHA256 fingerprint of the presented key,
	// "SHA256:...", as ssh-keygen -l prints it.
	Fingerprint string
}

func (e *HostKeyUnknownError) Error() string {
	return fmt.Sprintf("host key for %s is not in known_hosts: host presented %s key %s", e.Host, e.KeyType, e.Fingerprint)
}

// HostKeyMismatchError says that the host presented a key other than the ones
// known_hosts holds for it: the key changed, or someone is in the middle. It is
// terminal.
type HostKeyMismatchError struct {
	// Host is the name looked up in known_hosts.
	Host string
	// KeyType is the type of the key the host presented. It is empty when the
	// host offered none of the known key types and so presented no key.
	KeyType string
	// Fingerprint is the SHA256 fingerprint of the presented key, "SHA256:...",
	// or empty as for KeyType.
	Fingerprint string
	// Known lists the fingerprints known_hosts holds for the host.
	Known []string
}

func (e *HostKeyMismatchError) Error() string {
	if e.Fingerprint == "" {
		return fmt.Sprintf("host key for %s does not match known_hosts: host offers none of the known key types (known: %s)",
			e.Host, strings.Join(e.Known, ", "))
	}
	return fmt.Sprintf("host key for %s does not match known_hosts: host presented %s key %s, known: %s",
		e.Host, e.KeyType, e.Fingerprint, strings.Join(e.Known, ", "))
}

// HostKeyRevokedError says that the host presented a key marked @revoked in
// known_hosts. It is terminal.
type HostKeyRevokedError struct {
	// Host is the name looked up in known_hosts.
	Host string
	// KeyType is the type of the presented key.
	KeyType string
	// Fingerprint is the SHA256 fingerprint of the presented key.
	Fingerprint string
}

func (e *HostKeyRevokedError) Error() string {
	return fmt.Sprintf("host key for %s is revoked in known_hosts: %s key %s", e.Host, e.KeyType, e.Fingerprint)
}

// AuthError says that the host refused the client key. It is terminal.
type AuthError struct {
	// Host is "address:port" as dialled.
	Host string
	// User is the login name that was refused.
	User string
	// Fingerprint is the SHA256 fingerprint of the client public key.
	Fingerprint string
	// Err is the SSH library's error.
	Err error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("SSH authentication as %q to %s with key %s failed: %v", e.User, e.Host, e.Fingerprint, e.Err)
}

// Unwrap returns the cause.
func (e *AuthError) Unwrap() error { return e.Err }

// TimeoutError says that connecting or a command did not finish before its
// deadline, or that the caller's context was cancelled. When a command timed
// out its remote process has been sent SIGKILL and its session closed. It is
// transient. errors.Is(err, context.DeadlineExceeded) and
// errors.Is(err, context.Canceled) tell the two causes apart.
type TimeoutError struct {
	// Host is "address:port".
	Host string
	// Op is "connect" or "command".
	Op string
	// After is how long the operation ran before it was abandoned.
	After time.Duration
	// Err is the context's error (or a network timeout).
	Err error
}

func (e *TimeoutError) Error() string {
	what := "timed out"
	if errors.Is(e.Err, context.Canceled) {
		what = "cancelled"
	}
	return fmt.Sprintf("SSH %s to %s %s after %s: %v", e.Op, e.Host, what, e.After.Round(time.Millisecond), e.Err)
}

// Unwrap returns the cause.
func (e *TimeoutError) Unwrap() error { return e.Err }

// ConnectionError says that the TCP connection or the SSH handshake failed
// (refused, reset, unreachable, dropped by MaxStartups) or that an established
// connection broke. It is transient. When Op is "command" the connection broke
// while the command ran, so it may or may not have taken effect.
type ConnectionError struct {
	// Host is "address:port".
	Host string
	// Op is "dial", "handshake", "session" or "command".
	Op string
	// Err is the underlying network or SSH error.
	Err error
}

func (e *ConnectionError) Error() string {
	return fmt.Sprintf("SSH %s to %s failed: %v", e.Op, e.Host, e.Err)
}

// Unwrap returns the cause.
func (e *ConnectionError) Unwrap() error { return e.Err }

// InvalidRequestError says that a Target or Command cannot be run at all: no
// address, no user, no credentials, an empty argv or an argument holding a NUL
// byte. It is terminal.
type InvalidRequestError struct {
	// Field names what is wrong, e.g. "target.address" or "command[2]".
	Field string
	// Msg says why.
	Msg string
}

func (e *InvalidRequestError) Error() string {
	return fmt.Sprintf("invalid remote command request: %s: %s", e.Field, e.Msg)
}

// IsTerminal reports whether err is one that retrying cannot fix: an unknown,
// changed or revoked host key, an authentication failure, invalid credentials
// or an invalid request. A controller should surface it in a condition and
// wait for a change (to the Secret, the host or the spec) rather than requeue
// with backoff.
func IsTerminal(err error) bool {
	switch Reason(err) {
	case ReasonHostKeyUnknown, ReasonHostKeyMismatch, ReasonHostKeyRevoked,
		ReasonAuthFailed, ReasonCredentialsInvalid, ReasonInvalidRequest:
		return true
	}
	return false
}

// IsTransient reports whether err is one that a later retry may fix: a
// timeout, a refused, reset or lost connection, or a closed executor. Errors
// that are neither transient nor terminal did not come from this package.
func IsTransient(err error) bool {
	switch Reason(err) {
	case ReasonTimeout, ReasonConnectionFailed, ReasonConnectionLost, ReasonExecutorClosed:
		return true
	}
	return false
}

// Reason returns a CamelCase reason for err suitable for a Kubernetes
// condition (one of the Reason constants), "" for nil and ReasonUnknown for an
// error from elsewhere. Errors are matched with errors.As, so wrapping is fine.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var (
		unknownErr  *HostKeyUnknownError
		mismatchErr *HostKeyMismatchError
		revokedErr  *HostKeyRevokedError
		authErr     *AuthError
		credsErr    *CredentialsError
		invalidErr  *InvalidRequestError
		timeoutErr  *TimeoutError
		connErr     *ConnectionError
	)
	switch {
	case errors.As(err, &unknownErr):
		return ReasonHostKeyUnknown
	case errors.As(err, &mismatchErr):
		return ReasonHostKeyMismatch
	case errors.As(err, &revokedErr):
		return ReasonHostKeyRevoked
	case errors.As(err, &authErr):
		return ReasonAuthFailed
	case errors.As(err, &credsErr):
		return ReasonCredentialsInvalid
	case errors.As(err, &invalidErr):
		return ReasonInvalidRequest
	case errors.As(err, &timeoutErr):
		return ReasonTimeout
	case errors.As(err, &connErr):
		if connErr.Op == opCommand {
			return ReasonConnectionLost
		}
		return ReasonConnectionFailed
	case errors.Is(err, ErrClosed):
		return ReasonExecutorClosed
	}
	return ReasonUnknown
}

// Operation names used in TimeoutError.Op and ConnectionError.Op.
const (
	opConnect   = "connect"
	opDial      = "dial"
	opHandshake = "handshake"
	opSession   = "session"
	opCommand   = "command"
)
