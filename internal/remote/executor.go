package remote

import (
	"context"
	"time"
)

// Executor runs one command on one remote host. Implementations must honour
// ctx: when it is cancelled or its deadline passes, Run returns promptly with a
// *TimeoutError and the remote process is signalled.
//
// The controller receives an Executor as a field so that unit tests can use
// Fake and production uses the pooled SSH implementation.
type Executor interface {
	// Run executes cmd on target and returns its result. A non-zero exit code is
	// not an error: it is reported in Result.ExitCode. An error means the
	// command could not be run or did not finish (connection, authentication,
	// host-key or timeout failures); see IsTransient and IsTerminal.
	Run(ctx context.Context, target Target, cmd Command) (Result, error)
}

// Connector is an Executor that can open its connection to a target ahead
// of the first command, so that the handshake overlaps other work. It runs
// nothing on the host; the host key is verified as for a command.
type Connector interface {
	// Connect makes sure a verified connection to target is open (or
	// opening) and returns once it is, or with the reason it is not.
	Connect(ctx context.Context, target Target) error
}

// Command is an argv. It is never interpreted as a shell string: the executor
// quotes every element for the remote POSIX shell, so each element reaches the
// remote program unchanged, whatever bytes it holds.
type Command []string

// Target says where and as whom a command runs.
type Target struct {
	// Name is the logical host name, used in errors, logs and metrics.
	Name string
	// Address is the DNS name or IP literal to dial.
	Address string
	// Port is the TCP port of sshd; 0 means 22.
	Port int
	// User is the remote login name.
	User string
	// ConnectTimeout bounds dialling and the SSH handshake; 0 means 10s.
	ConnectTimeout time.Duration
	// Credentials authenticate the client and verify the host key. They must
	// not be nil for the SSH executor.
	Credentials *Credentials
}

// Result is what a command produced.
type Result struct {
	// ExitCode is the remote exit status; -1 when the process died of a signal
	// or did not finish, and whenever Run returns an error.
	ExitCode int
	// Signal is the name of the signal that killed the remote process, as
	// sshd reports it without the "SIG" prefix (e.g. "KILL"), or "".
	Signal string
	// Stdout is the tail of the standard output, capped (64 KiB by default).
	Stdout []byte
	// Stderr is the tail of the standard error, capped (64 KiB by default).
	Stderr []byte
	// Truncated is true when Stdout or Stderr lost their head to the cap.
	Truncated bool
	// Duration is the wall time of the command, from session open to exit
	// (or to when it was abandoned on timeout).
	Duration time.Duration
}
