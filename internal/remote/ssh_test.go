package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// These tests run the executor against real OpenSSH sshd processes.

type fixture struct {
	sshd   *testSSHD
	key    ssh.Signer
	keyPEM []byte
	creds  *Credentials
	exec   *SSHExecutor
}

func (f *fixture) target() Target { return f.sshd.target(f.creds) }

// newFixture starts an sshd that accepts a fresh client key and an executor
// whose credentials know the host.
func newFixture(t *testing.T, opts Options, cfg sshdConfig) *fixture {
	t.Helper()
	key, keyPEM := newKey(t)
	cfg.authorized = append(cfg.authorized, key.PublicKey())
	d := startSSHD(t, cfg)
	f := &fixture{sshd: d, key: key, keyPEM: keyPEM, creds: newCreds(t, keyPEM, d.knownHostsLine())}
	f.exec = newExecutor(t, opts)
	return f
}

func newExecutor(t *testing.T, opts Options) *SSHExecutor {
	t.Helper()
	e := NewSSHExecutor(opts)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func (f *fixture) run(t *testing.T, cmd ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := f.exec.Run(ctx, f.target(), Command(cmd))
	if err != nil {
		t.Fatalf("Run(%q): %v", cmd, err)
	}
	return res
}

func (e *SSHExecutor) openCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.open)
}

func TestRunStdoutStderr(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	res := f.run(t, "sh", "-c", "echo out; echo err >&2")
	if res.ExitCode != 0 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.Truncated || res.Signal != "" {
		t.Fatalf("got %+v (stdout %q, stderr %q)", res, res.Stdout, res.Stderr)
	}
	if res.Duration <= 0 || res.Duration > 10*time.Second {
		t.Errorf("Duration = %s", res.Duration)
	}
}

func TestRunNonZeroExit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	res := f.run(t, "sh", "-c", "echo partial; exit 3")
	if res.ExitCode != 3 || string(res.Stdout) != "partial\n" {
		t.Fatalf("got exit %d stdout %q, want 3 and %q", res.ExitCode, res.Stdout, "partial\n")
	}
	res = f.run(t, "/nonexistent/command")
	if res.ExitCode != 127 || !bytes.Contains(res.Stderr, []byte("not found")) && !bytes.Contains(res.Stderr, []byte("No such file")) {
		t.Fatalf("got exit %d stderr %q, want 127 and a not-found message", res.ExitCode, res.Stderr)
	}
}

func TestRunSignalledAndLeftBehind(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	res := f.run(t, "sh", "-c", "echo dying; kill -TERM $$")
	if res.ExitCode != -1 || res.Signal != "TERM" || string(res.Stdout) != "dying\n" {
		t.Fatalf("got exit %d signal %q stdout %q, want -1 TERM", res.ExitCode, res.Signal, res.Stdout)
	}
	// A process the command leaves running survives the end of the session,
	// as with plain sshd: the watchdog only acts on abandoned commands.
	const marker = "3.0505"
	f.run(t, "sh", "-c", "sleep "+marker+" >/dev/null 2>&1 </dev/null & echo started")
	time.Sleep(300 * time.Millisecond)
	if !processWithArg(marker) {
		t.Fatal("the background process was killed when the session ended")
	}
	// A program name starting with '-' would be an option to exec.
	if _, err := f.exec.Run(context.Background(), f.target(), Command{"-x"}); Reason(err) != ReasonInvalidRequest {
		t.Fatalf("got %v, want an invalid request", err)
	}
}

func TestRunOutputCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})

	// 50000 lines of seq are 288894 bytes: far past the default 64 KiB.
	res := f.run(t, "sh", "-c", "seq 1 50000; seq 1 50000 >&2")
	for name, out := range map[string][]byte{"stdout": res.Stdout, "stderr": res.Stderr} {
		if len(out) != DefaultMaxOutputBytes {
			t.Errorf("%s has %d bytes, want %d", name, len(out), DefaultMaxOutputBytes)
		}
		if !bytes.HasSuffix(out, []byte("\n49999\n50000\n")) {
			t.Errorf("%s does not keep the tail: ends with %q", name, out[max(0, len(out)-20):])
		}
	}
	if !res.Truncated {
		t.Error("Truncated = false, want true")
	}

	small := newExecutor(t, Options{MaxOutputBytes: 10})
	res, err := small.Run(context.Background(), f.target(), Command{"echo", "0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "789abcdef\n" || !res.Truncated {
		t.Fatalf("got %q truncated=%v, want %q truncated", res.Stdout, res.Truncated, "789abcdef\n")
	}

	res = f.run(t, "printf", "%s", strings.Repeat("x", DefaultMaxOutputBytes))
	if len(res.Stdout) != DefaultMaxOutputBytes || res.Truncated {
		t.Fatalf("exactly the cap: got %d bytes truncated=%v", len(res.Stdout), res.Truncated)
	}
}

// argvEcho makes the remote side print its argv, NUL-terminated.
func argvEcho(args ...string) Command {
	return append(Command{"sh", "-c", `printf '%s\0' "$@"`, "sh"}, args...)
}

func splitNUL(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	parts := strings.Split(string(b), "\x00")
	return parts[:len(parts)-1] // after the last NUL
}

var trickyArgs = []string{
	"plain",
	"",
	"two words",
	"  leading and trailing  ",
	"it's",
	"'",
	"''",
	`"double"`,
	`back\slash\`,
	"$HOME",
	"${HOME}",
	"$(id)",
	"`id`",
	"a\nnew\nline",
	"\n",
	"tab\there",
	"glob*?[a]",
	"~",
	"~root",
	"a=b",
	"-n",
	"--",
	"#comment",
	"semi;colon && or || pipe | amp &",
	"<redir >out 2>&1",
	"!bang",
	"{brace,expansion}",
	"\xff\xfe not UTF-8 \x80",
	"ünïcødé ✓",
	"\x01\x02\x1b[31mcontrol\x7f",
	strings.Repeat("long'$`\\", 1000),
}

func TestRunArgvArrivesUnchanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	res := f.run(t, argvEcho(trickyArgs...)...)
	got := splitNUL(res.Stdout)
	if len(got) != len(trickyArgs) {
		t.Fatalf("remote saw %d args, want %d: %q (stderr %q)", len(got), len(trickyArgs), got, res.Stderr)
	}
	for i := range trickyArgs {
		if got[i] != trickyArgs[i] {
			t.Errorf("arg %d: remote saw %q, want %q", i, got[i], trickyArgs[i])
		}
	}
	// The program itself may be any word too.
	res = f.run(t, "printf", "%s|", "$x", "`y`")
	if string(res.Stdout) != "$x|`y`|" {
		t.Errorf("got %q", res.Stdout)
	}
}

func TestRunRefusesNUL(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, Options{})
	_, err := e.Run(context.Background(), Target{Address: "127.0.0.1", User: "x", Credentials: &Credentials{}}, Command{"echo", "a\x00b"})
	var invalid *InvalidRequestError
	if !errors.As(err, &invalid) || invalid.Field != "command[1]" || !IsTerminal(err) {
		t.Fatalf("got %v, want an InvalidRequestError for command[1]", err)
	}
}

func TestRunTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	f.run(t, "true") // warm the pool so the deadline is all the command's

	for _, tc := range []struct {
		name   string
		marker string
		ctx    func() (context.Context, context.CancelFunc)
		want   error
	}{
		{"deadline", "60.0101", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}, context.DeadlineExceeded},
		{"cancel", "60.0202", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			return ctx, cancel
		}, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			res, err := f.exec.Run(ctx, f.target(), Command{"sh", "-c", "echo started; exec sleep " + tc.marker})
			elapsed := time.Since(start)
			var timeout *TimeoutError
			if !errors.As(err, &timeout) || timeout.Op != opCommand || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want a command TimeoutError wrapping %v", err, tc.want)
			}
			if !IsTransient(err) || Reason(err) != ReasonTimeout {
				t.Errorf("IsTransient = %v, Reason = %q", IsTransient(err), Reason(err))
			}
			if elapsed > 2*time.Second {
				t.Errorf("Run returned %s after start, more than 1s after the 1s deadline", elapsed)
			}
			if string(res.Stdout) != "started\n" {
				t.Errorf("partial stdout = %q, want %q", res.Stdout, "started\n")
			}
			// The remote process was killed, not left behind.
			waitFor(t, 5*time.Second, "remote sleep "+tc.marker+" to die", func() bool { return !processWithArg(tc.marker) })
		})
	}
	// The connection is still good.
	if res := f.run(t, "echo", "ok"); string(res.Stdout) != "ok\n" {
		t.Fatalf("after timeouts got %q", res.Stdout)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHostKeyUnknown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	other := newEd25519Signer(t)
	creds := newCreds(t, f.keyPEM,
		knownHostsEntry("[127.0.0.1]:1", other.PublicKey()), // another port
		knownHostsEntry("127.0.0.2", other.PublicKey()),     // another host
	)
	_, err := f.exec.Run(context.Background(), f.sshd.target(creds), Command{"true"})
	var unknown *HostKeyUnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("got %v, want HostKeyUnknownError", err)
	}
	wantHost := "[127.0.0.1]:" + strconv.Itoa(f.sshd.cfg.port)
	wantFP := ssh.FingerprintSHA256(f.sshd.cfg.hostKey.PublicKey())
	if unknown.Host != wantHost || unknown.Fingerprint != wantFP || !strings.HasPrefix(wantFP, "SHA256:") {
		t.Errorf("got host %q fingerprint %q, want %q %q", unknown.Host, unknown.Fingerprint, wantHost, wantFP)
	}
	if !strings.Contains(err.Error(), wantHost) || !strings.Contains(err.Error(), wantFP) {
		t.Errorf("message %q does not name the host and fingerprint", err)
	}
	if !IsTerminal(err) || IsTransient(err) || Reason(err) != ReasonHostKeyUnknown {
		t.Errorf("IsTerminal = %v, IsTransient = %v, Reason = %q", IsTerminal(err), IsTransient(err), Reason(err))
	}
}

func TestHostKeyChanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	f.run(t, "true")

	// The host is reinstalled (or impersonated) with a new key on the same port.
	oldKey := f.sshd.cfg.hostKey
	f.sshd.cfg.hostKey = newEd25519Signer(t)
	f.sshd.restart()

	_, err := f.exec.Run(context.Background(), f.target(), Command{"true"})
	var mismatch *HostKeyMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("got %v, want HostKeyMismatchError", err)
	}
	newFP := ssh.FingerprintSHA256(f.sshd.cfg.hostKey.PublicKey())
	oldFP := ssh.FingerprintSHA256(oldKey.PublicKey())
	if mismatch.Fingerprint != newFP || len(mismatch.Known) != 1 || !strings.Contains(mismatch.Known[0], oldFP) {
		t.Errorf("got %+v, want presented %s and known %s", mismatch, newFP, oldFP)
	}
	if !strings.Contains(err.Error(), newFP) || !strings.Contains(err.Error(), mismatch.Host) {
		t.Errorf("message %q does not name the host and fingerprint", err)
	}
	if !IsTerminal(err) || Reason(err) != ReasonHostKeyMismatch {
		t.Errorf("IsTerminal = %v, Reason = %q", IsTerminal(err), Reason(err))
	}
}

func TestHostKeyOfUnknownType(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	// known_hosts holds only an ECDSA key for the host, which has ed25519.
	ecdsaKey := genKeygenKey(t, "ecdsa", "")
	creds := newCreds(t, f.keyPEM, knownHostsEntry(knownHostsName("127.0.0.1", f.sshd.cfg.port), ecdsaKey.pub))
	_, err := f.exec.Run(context.Background(), f.sshd.target(creds), Command{"true"})
	var mismatch *HostKeyMismatchError
	if !errors.As(err, &mismatch) || len(mismatch.Known) != 1 {
		t.Fatalf("got %v, want HostKeyMismatchError", err)
	}
}

func TestHostKeyRevoked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	creds := newCreds(t, f.keyPEM, f.sshd.knownHostsLine(),
		"@revoked * "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(f.sshd.cfg.hostKey.PublicKey()))))
	_, err := f.exec.Run(context.Background(), f.sshd.target(creds), Command{"true"})
	var revoked *HostKeyRevokedError
	if !errors.As(err, &revoked) || !IsTerminal(err) || Reason(err) != ReasonHostKeyRevoked {
		t.Fatalf("got %v, want a terminal HostKeyRevokedError", err)
	}
}

func TestWrongClientKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	other, otherPEM := newKey(t)
	creds := newCreds(t, otherPEM, f.sshd.knownHostsLine())
	start := time.Now()
	_, err := f.exec.Run(context.Background(), f.sshd.target(creds), Command{"true"})
	var auth *AuthError
	if !errors.As(err, &auth) {
		t.Fatalf("got %v, want AuthError", err)
	}
	if auth.User != f.sshd.user || auth.Fingerprint != ssh.FingerprintSHA256(other.PublicKey()) {
		t.Errorf("got %+v", auth)
	}
	if !IsTerminal(err) || Reason(err) != ReasonAuthFailed {
		t.Errorf("IsTerminal = %v, Reason = %q", IsTerminal(err), Reason(err))
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("auth failure took %s: terminal errors must not be retried", time.Since(start))
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	_, keyPEM := newKey(t)
	port := freePort(t)
	creds := newCreds(t, keyPEM, knownHostsEntry(knownHostsName("127.0.0.1", port), newEd25519Signer(t).PublicKey()))
	e := newExecutor(t, Options{})
	_, err := e.Run(context.Background(), Target{Address: "127.0.0.1", Port: port, User: "root", Credentials: creds}, Command{"true"})
	var conn *ConnectionError
	if !errors.As(err, &conn) || conn.Op != opDial || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("got %v, want a dial ConnectionError", err)
	}
	if !IsTransient(err) || Reason(err) != ReasonConnectionFailed {
		t.Errorf("IsTransient = %v, Reason = %q", IsTransient(err), Reason(err))
	}
}

// TestConnectTimeout dials a listener that accepts but never speaks SSH.
func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	_, keyPEM := newKey(t)
	creds := newCreds(t, keyPEM, knownHostsEntry(knownHostsName("127.0.0.1", port), newEd25519Signer(t).PublicKey()))
	e := newExecutor(t, Options{})
	target := Target{Address: "127.0.0.1", Port: port, User: "root", Credentials: creds, ConnectTimeout: 300 * time.Millisecond}

	start := time.Now()
	_, err = e.Run(context.Background(), target, Command{"true"})
	var timeout *TimeoutError
	if !errors.As(err, &timeout) || timeout.Op != opConnect || !IsTransient(err) {
		t.Fatalf("got %v, want a connect TimeoutError", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 1300*time.Millisecond {
		t.Errorf("connect gave up after %s, want about the 300ms ConnectTimeout", d)
	}

	// The caller's shorter deadline wins over ConnectTimeout.
	target.ConnectTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = e.Run(ctx, target, Command{"true"})
	if !errors.As(err, &timeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a TimeoutError", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run returned after %s, want about 200ms", d)
	}
}

func TestSSHDKilledDuringCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	f.run(t, "true")

	const marker = "60.0303"
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := f.exec.Run(context.Background(), f.target(), Command{"sleep", marker})
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the remote command to start", func() bool { return processWithArg(marker) })
	f.sshd.kill()

	select {
	case err := <-errc:
		var conn *ConnectionError
		if !errors.As(err, &conn) || conn.Op != opCommand || Reason(err) != ReasonConnectionLost || !IsTransient(err) {
			t.Fatalf("got %v (reason %q), want a transient ConnectionLost", err, Reason(err))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after sshd was killed")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}

	// While the host is down, commands fail fast and transiently.
	_, err := f.exec.Run(context.Background(), f.target(), Command{"true"})
	if !IsTransient(err) {
		t.Fatalf("with sshd down got %v, want a transient error", err)
	}

	f.sshd.restart()
	if res := f.run(t, "echo", "back"); string(res.Stdout) != "back\n" {
		t.Fatalf("after restart got %q", res.Stdout)
	}
	waitFor(t, 5*time.Second, "one open connection", func() bool { return f.exec.openCount() == 1 })
}

// TestFrozenHost checks that a host that stops answering (its sshd stopped,
// the TCP connection still open) neither blocks a command past its deadline
// nor keeps its connection in the pool once keepalives go unanswered.
func TestFrozenHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{KeepaliveInterval: time.Second, KeepaliveTimeout: time.Second}, sshdConfig{})
	f.run(t, "true")
	frozen := f.exec.openConns()
	f.sshd.signalChildren(syscall.SIGSTOP)
	defer f.sshd.signalChildren(syscall.SIGCONT)

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.exec.Run(ctx, f.target(), Command{"true"})
	if Reason(err) != ReasonTimeout {
		t.Fatalf("got %v, want a timeout", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Run returned after %s, more than 1s after its 500ms deadline", d)
	}
	waitFor(t, 5*time.Second, "keepalive to drop the frozen connection", func() bool {
		open := f.exec.openConns()
		return len(open) == 0 || open[0] != frozen[0]
	})

	// The listener still works, so a fresh connection does.
	if res := f.run(t, "echo", "fresh"); string(res.Stdout) != "fresh\n" {
		t.Fatalf("got %q", res.Stdout)
	}
}

func (e *SSHExecutor) openConns() []*conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*conn
	for c := range e.open {
		out = append(out, c)
	}
	return out
}

func TestConcurrentCommandsShareOneConnection(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := f.exec.Run(ctx, f.target(), Command{"echo", strconv.Itoa(i)})
			switch {
			case err != nil:
				errs <- fmt.Errorf("command %d: %w", i, err)
			case string(res.Stdout) != strconv.Itoa(i)+"\n":
				errs <- fmt.Errorf("command %d: got %q", i, res.Stdout)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d concurrent commands took %s", n, time.Since(start))
	if got := strings.Count(f.sshd.logText(), "Accepted publickey"); got != 1 {
		t.Errorf("sshd accepted %d connections, want 1", got)
	}
	if got := f.exec.openCount(); got != 1 {
		t.Errorf("%d open connections, want 1", got)
	}
}

// TestConnectAhead: Connect opens the pooled connection without running
// anything, commands that follow (and a Connect racing them) use it, and a
// host with an unknown key fails Connect as it would fail a command.
func TestConnectAhead(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- f.exec.Connect(ctx, f.target()) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Connect: %v", err)
		}
	}
	if got := f.exec.openCount(); got != 1 {
		t.Errorf("%d open connections after Connect, want 1", got)
	}
	if strings.Contains(f.sshd.logText(), "Starting session") {
		t.Errorf("Connect opened a session:\n%s", f.sshd.logText())
	}
	if res, err := f.exec.Run(ctx, f.target(), Command{"echo", "hi"}); err != nil || string(res.Stdout) != "hi\n" {
		t.Fatalf("Run after Connect: %q, %v", res.Stdout, err)
	}
	// The check above can fail: sshd logs the command's session.
	if got := strings.Count(f.sshd.logText(), "Starting session"); got != 1 {
		t.Errorf("sshd logged %d sessions after one command, want 1:\n%s", got, f.sshd.logText())
	}
	if got := strings.Count(f.sshd.logText(), "Accepted publickey"); got != 1 {
		t.Errorf("sshd accepted %d connections, want 1 (the command used Connect's)", got)
	}

	other := newEd25519Signer(t)
	err := f.exec.Connect(ctx, f.sshd.target(newCreds(t, f.keyPEM, knownHostsEntry("127.0.0.1", other.PublicKey()))))
	var unknown *HostKeyUnknownError
	if !errors.As(err, &unknown) || !IsTerminal(err) {
		t.Errorf("Connect to a host whose key is not known: %v, want a terminal HostKeyUnknownError", err)
	}
}

// TestBurstMaxStartups fans out to 50 sshd instances that drop unauthenticated
// connections past 10, from several executors at once (as several operator
// replicas or a restart storm would), and wants every command to succeed.
func TestBurstMaxStartups(t *testing.T) {
	t.Parallel()
	const hosts, executors = 50, 6
	key, keyPEM := newKey(t)
	var (
		servers = make([]*testSSHD, hosts)
		lines   = make([]string, hosts)
		wg      sync.WaitGroup
	)
	for i := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i] = startSSHD(t, sshdConfig{authorized: []ssh.PublicKey{key.PublicKey()}, maxStartups: "10"})
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, s := range servers {
		lines[i] = s.knownHostsLine()
	}
	creds := newCreds(t, keyPEM, lines...)
	resetsBefore := counterValue(t, handshakeFailures.WithLabelValues(failReset))

	start := time.Now()
	errs := make(chan error, hosts*executors*2)
	for range executors {
		e := newExecutor(t, Options{})
		for _, s := range servers {
			for j := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
					defer cancel()
					res, err := e.Run(ctx, s.target(creds), Command{"echo", strconv.Itoa(j)})
					if err == nil && string(res.Stdout) != strconv.Itoa(j)+"\n" {
						err = fmt.Errorf("got %q", res.Stdout)
					}
					if err != nil {
						errs <- fmt.Errorf("port %d: %w", s.cfg.port, err)
					}
				}()
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d commands over %d hosts from %d executors took %s; %v handshakes were reset and retried",
		hosts*executors*2, hosts, executors, time.Since(start), counterValue(t, handshakeFailures.WithLabelValues(failReset))-resetsBefore)
}

// TestHandshakeRetryPastMaxStartups makes sshd drop connections for sure
// (MaxStartups 1) and checks that the retries get every command through.
func TestHandshakeRetryPastMaxStartups(t *testing.T) {
	t.Parallel()
	key, keyPEM := newKey(t)
	s := startSSHD(t, sshdConfig{authorized: []ssh.PublicKey{key.PublicKey()}, maxStartups: "1"})
	creds := newCreds(t, keyPEM, s.knownHostsLine())
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		e := newExecutor(t, Options{HandshakeAttempts: 10, RetryBackoff: 50 * time.Millisecond})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.Run(context.Background(), s.target(creds), Command{"true"}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := strings.Count(s.logText(), "past MaxStartups"); n > 0 {
		t.Logf("sshd dropped %d connections past MaxStartups; all retried", n)
	}
}

func TestPoolDropsConnectionOnCredentialsChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	f.run(t, "true")
	f.run(t, "true")
	if got := strings.Count(f.sshd.logText(), "Accepted publickey"); got != 1 {
		t.Fatalf("%d connections before the change, want 1", got)
	}

	// A command is running on the old connection when the Secret changes.
	errc := make(chan error, 1)
	go func() {
		_, err := f.exec.Run(context.Background(), f.target(), Command{"sleep", "1"})
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the sleep to start", func() bool { return processWithArg("1") && f.exec.activeCount() == 1 })

	changed := newCreds(t, f.keyPEM, f.sshd.knownHostsLine(), "# a comment is a change of content")
	if changed.Digest() == f.creds.Digest() {
		t.Fatal("digest did not change with the content")
	}
	res, err := f.exec.Run(context.Background(), f.sshd.target(changed), Command{"echo", "new"})
	if err != nil || string(res.Stdout) != "new\n" {
		t.Fatalf("with new credentials got %q, %v", res.Stdout, err)
	}
	if got := strings.Count(f.sshd.logText(), "Accepted publickey"); got != 2 {
		t.Errorf("%d connections after the change, want 2", got)
	}
	if err := <-errc; err != nil {
		t.Errorf("the command on the retired connection failed: %v", err)
	}
	waitFor(t, 5*time.Second, "the retired connection to close", func() bool { return f.exec.openCount() == 1 })

	// Same content again, new object: the connection is reused.
	same := newCreds(t, f.keyPEM, f.sshd.knownHostsLine(), "# a comment is a change of content")
	if _, err := f.exec.Run(context.Background(), f.sshd.target(same), Command{"true"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(f.sshd.logText(), "Accepted publickey"); got != 2 {
		t.Errorf("%d connections after reusing the content, want 2", got)
	}
}

func (e *SSHExecutor) activeCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for c := range e.open {
		n += c.active
	}
	return n
}

func TestIdleConnectionCloses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{KeepaliveInterval: 50 * time.Millisecond, KeepaliveTimeout: 5 * time.Second, IdleTimeout: 200 * time.Millisecond}, sshdConfig{})
	f.run(t, "true")
	if f.exec.openCount() != 1 {
		t.Fatal("no open connection after a command")
	}
	waitFor(t, 5*time.Second, "the idle connection to close", func() bool { return f.exec.openCount() == 0 })
	f.run(t, "true")
}

func TestCloseEndsEverything(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Options{}, sshdConfig{})
	before := runtime.NumGoroutine()
	f.run(t, "true")
	errc := make(chan error, 1)
	go func() {
		_, err := f.exec.Run(context.Background(), f.target(), Command{"sleep", "60.0404"})
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the sleep to start", func() bool { return processWithArg("60.0404") })

	start := time.Now()
	if err := f.exec.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
	if err := <-errc; !IsTransient(err) {
		t.Errorf("running command got %v, want a transient error", err)
	}
	_, err := f.exec.Run(context.Background(), f.target(), Command{"true"})
	if !errors.Is(err, ErrClosed) || Reason(err) != ReasonExecutorClosed {
		t.Errorf("Run after Close got %v, want ErrClosed", err)
	}
	waitFor(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before+2 })
}

func TestInvalidTargets(t *testing.T) {
	t.Parallel()
	e := newExecutor(t, Options{})
	_, keyPEM := newKey(t)
	creds := newCreds(t, keyPEM, testKnownHosts)
	for _, tc := range []struct {
		target Target
		cmd    Command
		field  string
	}{
		{Target{Address: "h", User: "u", Credentials: creds}, nil, "command"},
		{Target{User: "u", Credentials: creds}, Command{"true"}, "target.address"},
		{Target{Address: "h", Credentials: creds}, Command{"true"}, "target.user"},
		{Target{Address: "h", User: "u"}, Command{"true"}, "target.credentials"},
		{Target{Address: "h", User: "u", Port: 70000, Credentials: creds}, Command{"true"}, "target.port"},
		{Target{Address: "h", User: "u", Credentials: &Credentials{}}, Command{"true"}, "target.credentials"},
	} {
		_, err := e.Run(context.Background(), tc.target, tc.cmd)
		var invalid *InvalidRequestError
		if !errors.As(err, &invalid) || invalid.Field != tc.field || !IsTerminal(err) {
			t.Errorf("%+v %q: got %v, want an InvalidRequestError for %s", tc.target, tc.cmd, err, tc.field)
		}
	}
}

// TestClientKeyTypes logs in with every supported key type and format.
func TestClientKeyTypes(t *testing.T) {
	t.Parallel()
	keys := allKeyFormats(t)
	var authorized []ssh.PublicKey
	for _, k := range keys {
		authorized = append(authorized, k.pub)
	}
	s := startSSHD(t, sshdConfig{authorized: authorized})
	e := newExecutor(t, Options{})
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			data := map[string][]byte{SecretKeyPrivateKey: k.pem, SecretKeyKnownHosts: []byte(s.knownHostsLine())}
			if k.passphrase != "" {
				data[SecretKeyPassphrase] = []byte(k.passphrase)
			}
			creds, err := NewCredentials(data)
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Run(context.Background(), s.target(creds), Command{"echo", k.name})
			if err != nil || string(res.Stdout) != k.name+"\n" {
				t.Fatalf("got %q, %v", res.Stdout, err)
			}
		})
	}
}

// BenchmarkRunPooled measures a command on a pooled connection: session
// open, exec, exit.
func BenchmarkRunPooled(b *testing.B) {
	key, keyPEM := newKey(b)
	s := startSSHD(b, sshdConfig{authorized: []ssh.PublicKey{key.PublicKey()}})
	creds := newCreds(b, keyPEM, s.knownHostsLine())
	e := NewSSHExecutor(Options{})
	defer e.Close()
	ctx := context.Background()
	if _, err := e.Run(ctx, s.target(creds), Command{"true"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Run(ctx, s.target(creds), Command{"true"}); err != nil {
			b.Fatal(err)
		}
	}
}
