package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/crypto/ssh"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Defaults for the zero fields of Options.
const (
	DefaultConnectTimeout           = 10 * time.Second
	DefaultKeepaliveInterval        = 15 * time.Second
	DefaultIdleTimeout              = 5 * time.Minute
	DefaultMaxConcurrentHandshakes  = 32
	DefaultMaxHandshakesPerTarget   = 3
	DefaultMaxSessionsPerConnection = 10
	DefaultHandshakeAttempts        = 5
	DefaultRetryBackoff             = 100 * time.Millisecond
)

// maxRetryBackoff caps the exponential backoff between handshake attempts.
const maxRetryBackoff = 2 * time.Second

// clientVersion is sent to sshd and shows in its logs.
const clientVersion = "SSH-2.0-vobox-operator"

// Options configure an SSHExecutor. A zero field takes its default.
type Options struct {
	// MaxOutputBytes caps each of stdout and stderr; the tail is kept.
	// Default DefaultMaxOutputBytes (64 KiB).
	MaxOutputBytes int
	// ConnectTimeout bounds one dial plus SSH handshake for targets that do
	// not set Target.ConnectTimeout. Default 10s.
	ConnectTimeout time.Duration
	// KeepaliveInterval is how often an open connection is probed with a
	// keepalive@openssh.com request; a connection that does not answer
	// within KeepaliveTimeout is closed and redialled on the next command.
	// Default 15s.
	KeepaliveInterval time.Duration
	// KeepaliveTimeout is how long a keepalive may wait for its reply.
	// Default KeepaliveInterval.
	KeepaliveTimeout time.Duration
	// IdleTimeout closes a connection that ran no command for this long. It is
	// checked on the keepalive ticker, so a connection closes between
	// IdleTimeout and IdleTimeout+KeepaliveInterval after its last command.
	// Default 5m.
	IdleTimeout time.Duration
	// MaxConcurrentHandshakes bounds the handshakes in flight across all
	// targets of this executor. Default 32.
	MaxConcurrentHandshakes int
	// MaxHandshakesPerTarget bounds the handshakes in flight to one
	// address:port; keep it below the host's MaxStartups (OpenSSH default 10).
	// Default 3.
	MaxHandshakesPerTarget int
	// MaxSessionsPerConnection bounds concurrent commands on one connection;
	// more wait for a free session. It must not exceed the host's sshd
	// MaxSessions (OpenSSH default 10). Default 10.
	MaxSessionsPerConnection int
	// HandshakeAttempts is how many times a connection that the host reset
	// during the handshake (as sshd does past MaxStartups) is attempted.
	// Default 5.
	HandshakeAttempts int
	// RetryBackoff is the first pause between handshake attempts; it doubles
	// up to 2s, with ±50% jitter. Default 100ms.
	RetryBackoff time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxOutputBytes, DefaultMaxOutputBytes)
	defDur(&o.ConnectTimeout, DefaultConnectTimeout)
	defDur(&o.KeepaliveInterval, DefaultKeepaliveInterval)
	defDur(&o.KeepaliveTimeout, o.KeepaliveInterval)
	defDur(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.MaxConcurrentHandshakes, DefaultMaxConcurrentHandshakes)
	def(&o.MaxHandshakesPerTarget, DefaultMaxHandshakesPerTarget)
	def(&o.MaxSessionsPerConnection, DefaultMaxSessionsPerConnection)
	def(&o.HandshakeAttempts, DefaultHandshakeAttempts)
	defDur(&o.RetryBackoff, DefaultRetryBackoff)
	return o
}

// SSHExecutor runs commands over SSH, keeping one client connection per
// (address, port, user) and running concurrent commands as separate sessions
// on it. It is safe for concurrent use. Close it to release its connections.
type SSHExecutor struct {
	opts Options

	// ctx is cancelled by Close; it bounds dials, which outlive the Run that
	// started them.
	ctx    context.Context
	cancel context.CancelFunc
	// handshakes holds one token per handshake in flight.
	handshakes chan struct{}
	// wg counts the goroutines and the Runs holding connections, for Close.
	wg sync.WaitGroup

	mu     sync.Mutex
	closed bool
	// pool maps a key to its current connection, dialling or open.
	pool map[poolKey]*conn
	// open holds every open connection, pooled or retired.
	open    map[*conn]struct{}
	targets map[string]*targetSlots
}

var _ Executor = (*SSHExecutor)(nil)

// NewSSHExecutor returns an executor configured by opts.
func NewSSHExecutor(opts Options) *SSHExecutor {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &SSHExecutor{
		opts:       opts,
		ctx:        ctx,
		cancel:     cancel,
		handshakes: make(chan struct{}, opts.MaxConcurrentHandshakes),
		pool:       map[poolKey]*conn{},
		open:       map[*conn]struct{}{},
		targets:    map[string]*targetSlots{},
	}
}

type poolKey struct {
	address string
	port    int
	user    string
}

// conn is one pooled connection from its dial to its close.
type conn struct {
	key      poolKey
	hostport string
	digest   string
	// ready is closed when the dial finished, setting client or err.
	ready      chan struct{}
	cancelDial context.CancelFunc
	client     *ssh.Client
	err        error
	// dead is closed when the connection is gone.
	dead chan struct{}
	// sessions holds one token per open session.
	sessions chan struct{}

	// Guarded by SSHExecutor.mu.
	waiters  int // Runs waiting for ready
	active   int // Runs holding the connection
	lastUsed time.Time
	retired  bool // out of the pool: close once active drops to zero
}

func (c *conn) isReady() bool {
	select {
	case <-c.ready:
		return true
	default:
		return false
	}
}

func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

// targetSlots bounds handshakes to one address:port.
type targetSlots struct {
	ch   chan struct{}
	refs int
}

// Close closes every connection, abandons dials in progress and waits for
// the executor's goroutines to end. Commands still running fail. Run returns
// ErrClosed afterwards. Close is idempotent and always returns nil.
func (e *SSHExecutor) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for k, c := range e.pool {
		c.retired = true
		delete(e.pool, k)
	}
	clients := make([]*ssh.Client, 0, len(e.open))
	for c := range e.open {
		clients = append(clients, c.client)
	}
	e.mu.Unlock()

	e.cancel() // abandons dials in progress
	for _, client := range clients {
		_ = client.Close()
	}
	e.wg.Wait()
	return nil
}

// Run implements Executor. See the package documentation for what it
// guarantees.
func (e *SSHExecutor) Run(ctx context.Context, target Target, cmd Command) (Result, error) {
	start := time.Now()
	res, err := e.run(ctx, target, cmd)
	outcome := outcomeSuccess
	switch {
	case err != nil:
		res.ExitCode = -1 // never mistaken for success by a careless caller
		outcome = outcomeLabel(err)
	case res.ExitCode != 0:
		outcome = outcomeExitNonzero
	}
	commandsTotal.WithLabelValues(outcome).Inc()
	commandDuration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	return res, err
}

// Connect opens (or joins the opening of) the pooled connection to t and
// returns when it is ready, running nothing on the host. A Run that follows
// uses it, or shares its handshake when it is still in flight.
func (e *SSHExecutor) Connect(ctx context.Context, t Target) error {
	t, hostport, err := e.normalize(t)
	if err != nil {
		return err
	}
	c, err := e.acquire(ctx, t, hostport)
	if err != nil {
		return err
	}
	e.release(c)
	return nil
}

// normalize validates t, fills in its defaults and returns its host:port.
func (e *SSHExecutor) normalize(t Target) (Target, string, error) {
	if err := validateTarget(t); err != nil {
		return t, "", err
	}
	if t.Port == 0 {
		t.Port = 22
	}
	if t.ConnectTimeout <= 0 {
		t.ConnectTimeout = e.opts.ConnectTimeout
	}
	return t, net.JoinHostPort(strings.Trim(t.Address, "[]"), strconv.Itoa(t.Port)), nil
}

func (e *SSHExecutor) run(ctx context.Context, t Target, cmd Command) (Result, error) {
	start := time.Now()
	quoted, err := Quote(cmd)
	if err != nil {
		return Result{}, err
	}
	if strings.HasPrefix(cmd[0], "-") {
		// The shell's exec would take it for an option.
		return Result{}, &InvalidRequestError{Field: "command[0]", Msg: "program name must not begin with '-'"}
	}
	line := watchdog + quoted + " 3<&-"
	t, hostport, err := e.normalize(t)
	if err != nil {
		return Result{}, err
	}

	// A session that cannot be opened has run nothing, so it is safe to try
	// again: once on a fresh connection when the pooled one turns out broken,
	// and with a short backoff while the host refuses more sessions.
	redialled := false
	backoff, refusals := 2*time.Millisecond, 0
	for {
		c, err := e.acquire(ctx, t, hostport)
		if err != nil {
			return Result{}, err
		}
		res, err := e.runOn(ctx, c, line)
		var retry *sessionRetry
		if !errors.As(err, &retry) {
			return res, err
		}
		switch {
		case retry.broken && !redialled:
			redialled = true
			continue
		case retry.refused && refusals < maxSessionRefusals:
			// sshd counts a session until its server loop has cleaned it up,
			// a moment after the client saw it end.
			refusals++
			if err := sleepCtx(ctx, jitter(backoff)); err != nil {
				return Result{}, &TimeoutError{Host: hostport, Op: opCommand, After: time.Since(start), Err: err}
			}
			backoff = min(2*backoff, 200*time.Millisecond)
			continue
		}
		return Result{}, &ConnectionError{Host: hostport, Op: opSession, Err: retry.err}
	}
}

func validateTarget(t Target) error {
	switch {
	case strings.Trim(t.Address, "[]") == "":
		return &InvalidRequestError{Field: "target.address", Msg: "empty"}
	case t.User == "":
		return &InvalidRequestError{Field: "target.user", Msg: "empty"}
	case t.Port < 0 || t.Port > 65535:
		return &InvalidRequestError{Field: "target.port", Msg: fmt.Sprintf("%d is out of range", t.Port)}
	case t.Credentials == nil:
		return &InvalidRequestError{Field: "target.credentials", Msg: "nil; the SSH executor needs a private key and known_hosts"}
	case t.Credentials.signer == nil || t.Credentials.knownHosts == nil:
		return &InvalidRequestError{Field: "target.credentials", Msg: "not made by NewCredentials"}
	}
	return nil
}

// acquire returns a ready connection for t, dialling one if needed, and
// counts the caller as active on it; the caller must release it.
func (e *SSHExecutor) acquire(ctx context.Context, t Target, hostport string) (*conn, error) {
	start := time.Now()
	key := poolKey{address: t.Address, port: t.Port, user: t.User}
	digest := t.Credentials.Digest()
	for {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		c := e.pool[key]
		if c != nil && c.digest != digest {
			// The Secret changed: new commands use a connection made (and a
			// host key verified) with the new content; the old one finishes
			// its commands and closes.
			if old := e.retireLocked(c); old != nil {
				defer old.Close() //nolint:errcheck // after unlocking: Close does network I/O
			}
			c = nil
		}
		if c != nil && c.isReady() && (c.err != nil || c.isDead()) {
			delete(e.pool, key)
			c = nil
		}
		if c == nil {
			c = e.startDialLocked(ctx, key, hostport, t)
		}
		c.waiters++
		e.mu.Unlock()

		select {
		case <-c.ready:
		case <-ctx.Done():
			e.mu.Lock()
			c.waiters--
			if c.waiters == 0 && !c.isReady() {
				// Nobody wants this connection any more. Take it out of the
				// pool now, so that no new caller waits for a cancelled dial.
				e.retireLocked(c)
			}
			e.mu.Unlock()
			return nil, &TimeoutError{Host: hostport, Op: opConnect, After: time.Since(start), Err: context.Cause(ctx)}
		}

		e.mu.Lock()
		c.waiters--
		if c.err != nil {
			e.mu.Unlock()
			return nil, c.err
		}
		if c.isDead() {
			e.mu.Unlock()
			continue
		}
		if e.closed {
			e.mu.Unlock()
			return nil, ErrClosed
		}
		c.active++
		e.wg.Add(1)
		e.mu.Unlock()
		return c, nil
	}
}

// release undoes acquire.
func (e *SSHExecutor) release(c *conn) {
	e.mu.Lock()
	c.active--
	c.lastUsed = time.Now()
	closeIt := c.retired && c.active == 0
	e.mu.Unlock()
	if closeIt {
		_ = c.client.Close()
	}
	e.wg.Done()
}

// retireLocked takes c out of the pool so that it closes once its commands
// end. It returns c's client when the caller should close it now (after
// unlocking e.mu).
func (e *SSHExecutor) retireLocked(c *conn) *ssh.Client {
	if e.pool[c.key] == c {
		delete(e.pool, c.key)
	}
	c.retired = true
	switch {
	case !c.isReady():
		if c.waiters == 0 {
			c.cancelDial()
		}
	case c.client != nil && c.active == 0:
		return c.client
	}
	return nil
}

func (e *SSHExecutor) startDialLocked(ctx context.Context, key poolKey, hostport string, t Target) *conn {
	dctx, cancel := context.WithCancel(e.ctx)
	c := &conn{
		key:        key,
		hostport:   hostport,
		digest:     t.Credentials.Digest(),
		ready:      make(chan struct{}),
		cancelDial: cancel,
		dead:       make(chan struct{}),
		sessions:   make(chan struct{}, e.opts.MaxSessionsPerConnection),
	}
	e.pool[key] = c
	logger := log.FromContext(ctx).WithValues("sshTarget", t.Name, "sshHost", hostport, "sshUser", t.User)
	e.wg.Add(1)
	go e.dial(logr.NewContext(dctx, logger), logger, c, t)
	return c
}

// dial connects c and starts its monitors. It runs in its own goroutine so
// that one caller giving up does not fail the others waiting on c.
func (e *SSHExecutor) dial(ctx context.Context, logger logr.Logger, c *conn, t Target) {
	defer e.wg.Done()
	defer c.cancelDial()
	client, err := e.connect(ctx, c.hostport, t)

	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil && (e.closed || (c.retired && c.waiters == 0)) {
		defer client.Close() //nolint:errcheck // nobody wants it any more
		client, err = nil, ErrClosed
	}
	if err != nil {
		c.err = err
		if e.pool[c.key] == c {
			delete(e.pool, c.key)
		}
		close(c.dead)
		close(c.ready)
		return
	}
	c.client = client
	c.lastUsed = time.Now()
	e.open[c] = struct{}{}
	openConnections.Inc()
	e.wg.Add(2)
	go e.watch(logger, c)
	go e.keepalive(logger, c)
	close(c.ready)
}

// watch drops c from the pool as soon as its connection ends, whatever ended
// it, so that the next command redials.
func (e *SSHExecutor) watch(logger logr.Logger, c *conn) {
	defer e.wg.Done()
	err := c.client.Wait()
	e.mu.Lock()
	close(c.dead)
	if e.pool[c.key] == c {
		delete(e.pool, c.key)
	}
	delete(e.open, c)
	retired := c.retired
	e.mu.Unlock()
	openConnections.Dec()
	if !retired {
		logger.V(1).Info("SSH connection lost", "err", err)
	}
}

// keepalive probes c on a ticker and closes it when it stops answering or
// has been idle for IdleTimeout.
func (e *SSHExecutor) keepalive(logger logr.Logger, c *conn) {
	defer e.wg.Done()
	ticker := time.NewTicker(e.opts.KeepaliveInterval)
	defer ticker.Stop()
	for {
		select {
		case <-c.dead:
			return
		case <-ticker.C:
		}
		e.mu.Lock()
		idle := c.active == 0 && time.Since(c.lastUsed) >= e.opts.IdleTimeout
		if idle {
			e.retireLocked(c)
		}
		e.mu.Unlock()
		if idle {
			logger.V(1).Info("Closing idle SSH connection")
			_ = c.client.Close()
			return
		}
		timer := time.AfterFunc(e.opts.KeepaliveTimeout, func() { _ = c.client.Close() })
		_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
		if !timer.Stop() || err != nil {
			logger.V(1).Info("SSH keepalive failed, dropping connection", "err", err)
			_ = c.client.Close()
			return
		}
	}
}

// connect dials and authenticates, retrying handshakes that the host reset.
func (e *SSHExecutor) connect(ctx context.Context, hostport string, t Target) (*ssh.Client, error) {
	backoff := e.opts.RetryBackoff
	for attempt := 1; ; attempt++ {
		releaseSlots, err := e.handshakeSlots(ctx, hostport)
		if err != nil {
			return nil, e.abandoned(hostport, t, err)
		}
		client, kind, err := e.handshake(ctx, hostport, t)
		releaseSlots()
		if err == nil {
			return client, nil
		}
		handshakeFailures.WithLabelValues(kind).Inc()
		if kind != failReset || attempt >= e.opts.HandshakeAttempts {
			return nil, err
		}
		log.FromContext(ctx).V(1).Info("Retrying SSH handshake", "attempt", attempt, "err", err)
		if err := sleepCtx(ctx, jitter(backoff)); err != nil {
			return nil, e.abandoned(hostport, t, err)
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

// abandoned is the error of a dial whose context ended: the executor closed,
// or every caller waiting for it gave up (and none will see the error).
func (e *SSHExecutor) abandoned(hostport string, t Target, err error) error {
	if e.ctx.Err() != nil {
		return ErrClosed
	}
	return &TimeoutError{Host: hostport, Op: opConnect, After: t.ConnectTimeout, Err: err}
}

// handshakeSlots waits for a handshake slot of the executor and one of the
// target.
func (e *SSHExecutor) handshakeSlots(ctx context.Context, hostport string) (release func(), err error) {
	e.mu.Lock()
	ts := e.targets[hostport]
	if ts == nil {
		ts = &targetSlots{ch: make(chan struct{}, e.opts.MaxHandshakesPerTarget)}
		e.targets[hostport] = ts
	}
	ts.refs++
	e.mu.Unlock()
	unref := func() {
		e.mu.Lock()
		if ts.refs--; ts.refs == 0 {
			delete(e.targets, hostport)
		}
		e.mu.Unlock()
	}

	select {
	case ts.ch <- struct{}{}:
	case <-ctx.Done():
		unref()
		return nil, context.Cause(ctx)
	}
	select {
	case e.handshakes <- struct{}{}:
	case <-ctx.Done():
		<-ts.ch
		unref()
		return nil, context.Cause(ctx)
	}
	return func() {
		<-e.handshakes
		<-ts.ch
		unref()
	}, nil
}

// handshake makes one attempt to dial and authenticate, bounded by
// t.ConnectTimeout. It returns the failure kind for metrics and retries.
func (e *SSHExecutor) handshake(ctx context.Context, hostport string, t Target) (*ssh.Client, string, error) {
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, t.ConnectTimeout)
	defer cancel()
	timedOut := func(err error) (*ssh.Client, string, error) {
		if e.ctx.Err() != nil {
			return nil, failOther, ErrClosed
		}
		cause := context.Cause(actx)
		if cause == nil {
			cause = err
		}
		return nil, failTimeout, &TimeoutError{Host: hostport, Op: opConnect, After: time.Since(start), Err: cause}
	}

	var d net.Dialer
	nc, err := d.DialContext(actx, "tcp", hostport)
	if err != nil {
		switch {
		case actx.Err() != nil || isTimeout(err):
			return timedOut(err)
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, failRefused, &ConnectionError{Host: hostport, Op: opDial, Err: err}
		}
		return nil, failOther, &ConnectionError{Host: hostport, Op: opDial, Err: err}
	}
	if dl, ok := actx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	// The deadline bounds the handshake; this also stops it when the dial is
	// abandoned before the deadline.
	stop := context.AfterFunc(actx, func() { _ = nc.Close() })

	creds := t.Credentials
	name := knownHostsName(t.Address, t.Port)
	var hostKeyChecked atomic.Bool
	config := &ssh.ClientConfig{
		User: t.User,
		// Public key only: no password, keyboard-interactive or agent.
		Auth: []ssh.AuthMethod{ssh.PublicKeys(creds.signer)},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			hostKeyChecked.Store(true)
			return creds.knownHosts.check(name, key)
		},
		HostKeyAlgorithms: creds.knownHosts.hostKeyAlgorithms(name),
		ClientVersion:     clientVersion,
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, hostport, config)
	stopped := stop()
	if err != nil {
		_ = nc.Close()
		var (
			unknownErr  *HostKeyUnknownError
			mismatchErr *HostKeyMismatchError
			revokedErr  *HostKeyRevokedError
			negErr      *ssh.AlgorithmNegotiationError
		)
		switch {
		case errors.As(err, &unknownErr):
			return nil, failHostKeyUnknown, unknownErr
		case errors.As(err, &mismatchErr):
			return nil, failHostKeyMismatch, mismatchErr
		case errors.As(err, &revokedErr):
			return nil, failHostKeyRevoked, revokedErr
		case errors.As(err, &negErr) && negErr.What == "host key":
			return nil, failHostKeyMismatch, &HostKeyMismatchError{Host: name, Known: fingerprints(creds.knownHosts.keysFor(name))}
		case actx.Err() != nil || isTimeout(err):
			return timedOut(err)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, failAuth, &AuthError{Host: hostport, User: t.User, Fingerprint: creds.Fingerprint(), Err: err}
		case !hostKeyChecked.Load() && isReset(err):
			// sshd past MaxStartups closes new connections before its banner.
			return nil, failReset, &ConnectionError{Host: hostport, Op: opHandshake, Err: err}
		}
		return nil, failOther, &ConnectionError{Host: hostport, Op: opHandshake, Err: err}
	}
	if !stopped {
		_ = sc.Close()
		return timedOut(context.Cause(actx))
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), "", nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func isReset(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "connection reset by peer")
}

// maxSessionRefusals bounds the retries of a session the host refused, in
// case its MaxSessions is below Options.MaxSessionsPerConnection.
const maxSessionRefusals = 20

// watchdog prefixes every remote command line so that the command dies with
// its session, even where sshd ignores signal requests (root logins). It keeps
// the session's stdin on fd 3 for a background reader and gives the command
// /dev/null instead; the client holds stdin open until the command ends, and
// closes it (EOF) only to abandon the command, or the connection dies. On
// EOF the reader kills the session's process group (sshd makes the command a
// session leader), unless the command already ended: the client closes stdin
// only after sshd reaped it, so "kill -0 $$" fails then and background
// processes the command left behind survive, as they would without the
// watchdog. The command then replaces the shell (exec), so its exit status
// and terminating signal reach the client unchanged.
const watchdog = `exec 3<&0 </dev/null; { while read -r _ <&3; do :; done; kill -0 $$ && kill -KILL 0; } >/dev/null 2>&1 & exec `

// sessionRetry reports a session that could not be opened, so nothing ran.
type sessionRetry struct {
	err error
	// broken: the connection is gone; a fresh one may work.
	broken bool
	// refused: the host refused another session (sshd MaxSessions).
	refused bool
}

func (s *sessionRetry) Error() string { return "failed to open SSH session: " + s.err.Error() }

// runOn runs line in a new session on c and releases c. The session runs in
// its own goroutine so that Run returns as soon as ctx ends, even when the
// host stops answering; that goroutine ends when the session closes, at the
// latest when keepalive drops the connection.
func (e *SSHExecutor) runOn(ctx context.Context, c *conn, line string) (Result, error) {
	select {
	case c.sessions <- struct{}{}:
	case <-c.dead:
		e.release(c)
		return Result{}, &sessionRetry{err: errors.New("connection closed"), broken: true}
	case <-ctx.Done():
		e.release(c)
		return Result{}, &TimeoutError{Host: c.hostport, Op: opCommand, Err: context.Cause(ctx)}
	}

	stdout := newTailBuffer(e.opts.MaxOutputBytes)
	stderr := newTailBuffer(e.opts.MaxOutputBytes)
	start := time.Now()
	done := make(chan sessionOutcome, 1)
	go func() {
		defer e.release(c)
		defer func() { <-c.sessions }()
		out := runSession(ctx, c, line, stdout, stderr)
		var retry *sessionRetry
		if errors.As(out.err, &retry) && retry.broken {
			// Keep the next acquire from picking c before watch notices.
			e.mu.Lock()
			e.retireLocked(c)
			e.mu.Unlock()
		}
		done <- out
	}()

	var out sessionOutcome
	select {
	case out = <-done:
	case <-ctx.Done():
		select {
		case out = <-done:
		default:
			out = sessionOutcome{opened: true, err: ctx.Err()}
		}
	}

	res := Result{ExitCode: -1, Duration: time.Since(start)}
	if out.opened {
		var t1, t2 bool
		res.Stdout, t1 = stdout.bytes()
		res.Stderr, t2 = stderr.bytes()
		res.Truncated = t1 || t2
		res.Duration = out.duration
	}
	if out.err == nil {
		res.ExitCode = 0
		return res, nil
	}
	var exitErr *ssh.ExitError
	if errors.As(out.err, &exitErr) {
		res.ExitCode = exitErr.ExitStatus()
		if exitErr.Signal() == "" {
			// Exited on its own, even if ctx ended meanwhile.
			return res, nil
		}
		res.ExitCode = -1
		res.Signal = exitErr.Signal()
		if ctx.Err() == nil {
			return res, nil
		}
	}
	if ctx.Err() != nil {
		if res.Duration == 0 {
			res.Duration = time.Since(start)
		}
		return res, &TimeoutError{Host: c.hostport, Op: opCommand, After: time.Since(start), Err: context.Cause(ctx)}
	}
	if !out.opened {
		return Result{}, out.err
	}
	return res, &ConnectionError{Host: c.hostport, Op: opCommand, Err: out.err}
}

type sessionOutcome struct {
	opened   bool
	duration time.Duration
	err      error
}

// runSession runs line in a new session. When ctx ends first, the remote
// process group is sent SIGKILL and the session closed.
func runSession(ctx context.Context, c *conn, line string, stdout, stderr io.Writer) sessionOutcome {
	if err := ctx.Err(); err != nil {
		return sessionOutcome{err: err}
	}
	sess, err := c.client.NewSession()
	if err != nil {
		var oce *ssh.OpenChannelError
		if errors.As(err, &oce) {
			return sessionOutcome{err: &sessionRetry{err: err, refused: true}}
		}
		// Anything but a rejection means the connection is unusable.
		_ = c.client.Close()
		return sessionOutcome{err: &sessionRetry{err: err, broken: true}}
	}
	defer sess.Close()
	sess.Stdout, sess.Stderr = stdout, stderr
	// Held open until the command ends: its EOF triggers the watchdog.
	stdin, err := sess.StdinPipe()
	if err != nil {
		return sessionOutcome{opened: true, err: err}
	}
	stop := context.AfterFunc(ctx, func() {
		_ = stdin.Close()
		// sshd delivers the signal to the command's process group, but only
		// when privilege separation is on, which is not the case for root
		// logins; the watchdog covers those.
		_ = sess.Signal(ssh.SIGKILL)
		_ = sess.Close()
	})
	defer stop()
	start := time.Now()
	err = sess.Run(line)
	return sessionOutcome{opened: true, duration: time.Since(start), err: err}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// jitter spreads d by ±50% so that clients reset together do not retry
// together.
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d+1)
}
