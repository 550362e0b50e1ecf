// Package remote runs commands on the VOBoxes over SSH.
//
// Controllers depend on the narrow Executor interface and receive it as a
// field: production uses SSHExecutor, unit tests use Fake. A Command is an
// argv, never a shell string, and a non-zero exit status is a Result, not an
// error: an error means the command could not be run, or not to the end.
//
// # Quoting
//
// sshd hands the command line to the remote user's login shell as
// "$SHELL -c line", so that shell must be POSIX (sh, bash, dash, ksh, zsh).
// Quote builds the line: an argument made only of [A-Za-z0-9-_./,+@%:] is
// written as is, any other is put in single quotes, inside which sh expands
// nothing, and each single quote it holds is closed, escaped and reopened:
//
//	Command{"echo", "it's $HOME"}  ->  echo 'it'\''s $HOME'
//
// Every byte but NUL therefore reaches the remote program unchanged: spaces,
// newlines, '$', '`', '\', globs and invalid UTF-8 included. An argument
// holding NUL (which no argv can carry) or an empty argv is refused. User
// input can never become shell syntax; a command that needs the shell says so
// explicitly, as in Command{"sh", "-c", script, "sh", arg1, arg2}.
//
// SSHExecutor runs the quoted argv with the shell's exec, behind a small
// watchdog (see below), so argv[0] is a program looked up in PATH, not a shell
// builtin or alias, and may not begin with '-'. The command's stdin is
// /dev/null. Whatever the login shell's startup files print (bash reads
// ~/.bashrc for ssh sessions) lands in the output, as with any ssh client.
//
// # Host keys and credentials
//
// Credentials come from a Secret of type kubernetes.io/ssh-auth labelled
// dirac.vobox.io/ssh-key: "true" (CheckSecretAllowed, before anything else;
// see NewCredentials): the client key and an OpenSSH known_hosts, parsed from
// the bytes, with hashed names, [host]:port entries, several keys per host,
// @cert-authority lines that host certificates are verified against (x/crypto's
// CertChecker) and @revoked keys, which win over everything. Host-key
// verification cannot be switched off. Only public key
// authentication is offered: no password, no keyboard-interactive, no agent
// and no agent forwarding.
//
// # Errors: what is retried, what is terminal
//
// Every error from Run is one of this package's typed errors, and Reason maps
// it to a CamelCase condition reason. IsTerminal errors are ones no retry can
// fix, so they are never retried, here or by a well-behaved controller:
// *HostKeyUnknownError, *HostKeyMismatchError and *HostKeyRevokedError (which
// name the host and the SHA256 fingerprint it presented), *AuthError,
// *CredentialsError and *InvalidRequestError. IsTransient errors may go away:
// *TimeoutError, *ConnectionError and ErrClosed; a controller requeues after a
// delay.
//
// Within one Run the executor retries only what cannot have run anything: a
// handshake the host reset before its banner (as sshd does past MaxStartups)
// is retried with jittered exponential backoff, up to Options.HandshakeAttempts
// times; a session open on a pooled connection that turns out to be broken is
// retried once on a fresh connection; a session the host refused (sshd
// MaxSessions, which it frees a moment after a session ends) is retried after
// a short pause. A refused TCP connection is not retried. A command that
// started is never run again: when the connection breaks under it, Run returns
// a *ConnectionError with Op "command" (reason ConnectionLost) and the caller,
// which probes before it acts, decides.
//
// # Deadlines
//
// Nothing waits without a bound. One dial plus handshake is bounded by
// Target.ConnectTimeout; the whole Run by its context. When the context ends
// during a command, Run returns a *TimeoutError at once, with the output so
// far, without waiting for the host to answer, and the remote command is
// killed: the session is sent SIGKILL and closed. sshd ignores signal requests
// from root logins (they need privilege separation), so every command also
// runs behind a watchdog: a background reader of the session's stdin, which
// the executor holds open until the command ends and closes to abandon it.
// On that EOF, or when the connection dies, the watchdog kills the command's
// process group, unless the command already ended; processes a command leaves
// running on purpose are not touched. Keepalives (keepalive@openssh.com) on a
// ticker close a connection that stops answering, which also ends any
// goroutine still waiting on it.
//
// # Connections
//
// SSHExecutor keeps one connection per (address, port, user) and runs
// concurrent commands on it as separate sessions, up to
// Options.MaxSessionsPerConnection at a time. A connection that breaks is
// dropped and redialled by the next command, one that stays idle is closed,
// and one made with Credentials whose Digest differs from the caller's (the
// Secret changed) is retired: it finishes its commands and closes, and the new
// content is used for a new connection and host-key check. Two Secrets with
// different content for the same (address, port, user) would therefore keep
// replacing each other's connection. Handshakes are bounded per executor and
// per address:port so that a fan-out to hundreds of hosts neither trips
// MaxStartups nor starves the CPU.
//
// # Metrics
//
// On controller-runtime's registry: vobox_ssh_command_duration_seconds and
// vobox_ssh_commands_total by outcome, vobox_ssh_open_connections, and
// vobox_ssh_handshake_failures_total by kind.
package remote
