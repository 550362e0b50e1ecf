package remote

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// This file starts real OpenSSH sshd processes for the tests: on loopback,
// on a free port, with a generated host key, as the current user.

const sshdPath = "/usr/sbin/sshd"

func requireSSHD(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Fatalf("OpenSSH sshd is required for these tests and %s is missing (%v): run `apt-get install openssh-server`", sshdPath, err)
	}
	// Debian's sshd refuses to start without its privilege separation dir.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("failed to create /run/sshd for sshd: %v", err)
	}
}

// sshdConfig configures a test sshd.
type sshdConfig struct {
	// hostKey is the host key; a new ed25519 key when nil.
	hostKey ssh.Signer
	// hostCert, when set, is a certificate of hostKey that sshd presents
	// (HostCertificate).
	hostCert *ssh.Certificate
	// authorized are the client keys allowed to log in.
	authorized []ssh.PublicKey
	// maxStartups is sshd's MaxStartups; "10" when empty.
	maxStartups string
	// maxSessions is sshd's MaxSessions; 10 when zero.
	maxSessions int
	// port to listen on; a free one when zero.
	port int
}

// testSSHD is one running sshd.
type testSSHD struct {
	t    testing.TB
	dir  string
	cfg  sshdConfig
	user string

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  bytes.Buffer
	done chan struct{}
}

func currentUser(t testing.TB) string {
	u, err := user.Current()
	if err != nil {
		t.Fatalf("failed to look up the current user: %v", err)
	}
	return u.Username
}

// startSSHD starts sshd and stops it (and every process it started) when the
// test ends.
func startSSHD(t testing.TB, cfg sshdConfig) *testSSHD {
	t.Helper()
	requireSSHD(t)
	if cfg.hostKey == nil {
		cfg.hostKey = newEd25519Signer(t)
	}
	if cfg.maxStartups == "" {
		cfg.maxStartups = "10"
	}
	if cfg.maxSessions == 0 {
		cfg.maxSessions = 10
	}
	s := &testSSHD{t: t, dir: t.TempDir(), cfg: cfg, user: currentUser(t)}
	t.Cleanup(s.kill)
	s.start()
	return s
}

// start runs sshd on cfg.port, or on a free port (retrying if another process
// grabs it first), and waits until it listens.
func (s *testSSHD) start() {
	s.t.Helper()
	fixed := s.cfg.port != 0
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		if !fixed {
			s.cfg.port = freePort(s.t)
		}
		if lastErr = s.startOnce(); lastErr == nil {
			return
		}
		if fixed {
			// The old process may still hold the port for a moment.
			time.Sleep(100 * time.Millisecond)
		}
	}
	s.t.Fatalf("failed to start sshd: %v", lastErr)
}

func (s *testSSHD) startOnce() error {
	hostKeyPath := filepath.Join(s.dir, "ssh_host_key")
	writeFile(s.t, hostKeyPath, marshalPrivateKey(s.t, s.cfg.hostKey), 0o600)
	var ak bytes.Buffer
	for _, k := range s.cfg.authorized {
		ak.Write(ssh.MarshalAuthorizedKey(k))
	}
	akPath := filepath.Join(s.dir, "authorized_keys")
	writeFile(s.t, akPath, ak.Bytes(), 0o600)
	var hostCert []string
	if s.cfg.hostCert != nil {
		certPath := filepath.Join(s.dir, "ssh_host_key-cert.pub")
		writeFile(s.t, certPath, ssh.MarshalAuthorizedKey(s.cfg.hostCert), 0o600)
		hostCert = []string{"HostCertificate " + certPath}
	}
	config := strings.Join(append([]string{
		"ListenAddress 127.0.0.1:" + strconv.Itoa(s.cfg.port),
		"HostKey " + hostKeyPath,
		"PidFile " + filepath.Join(s.dir, "sshd.pid"),
		"AuthorizedKeysFile " + akPath,
		"PermitRootLogin yes",
		"UsePAM no",
		"StrictModes no",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"AllowAgentForwarding no",
		"X11Forwarding no",
		"PrintMotd no",
		"PrintLastLog no",
		"MaxStartups " + s.cfg.maxStartups,
		"MaxSessions " + strconv.Itoa(s.cfg.maxSessions),
		"LogLevel VERBOSE", // "Starting session" lines tell what ran
		// bash sources ~/.bashrc for ssh sessions only at SHLVL 0. The test
		// user's .bashrc is the developer's, and may be slow (pyenv init
		// waits up to 60s on its rehash lock) or print; the executor's
		// behaviour is what is under test, not the user's shell setup.
		"SetEnv SHLVL=1",
	}, append(hostCert, "")...), "\n")
	configPath := filepath.Join(s.dir, "sshd_config")
	writeFile(s.t, configPath, []byte(config), 0o600)

	cmd := exec.Command(sshdPath, "-D", "-e", "-f", configPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to run %s: %w", sshdPath, err)
	}
	done := make(chan struct{})
	listening := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if !signalled && strings.Contains(line, "Server listening on") {
				signalled = true
				close(listening)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	select {
	case <-listening:
	case <-done:
		return fmt.Errorf("sshd exited before listening: %s", s.logText())
	case <-time.After(10 * time.Second):
		killTree(cmd.Process.Pid, syscall.SIGKILL)
		return fmt.Errorf("sshd did not listen within 10s: %s", s.logText())
	}
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	return nil
}

func (s *testSSHD) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// kill kills sshd and everything it started (connection handlers and the
// commands they run), as a crash or power loss would.
func (s *testSSHD) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	killTree(cmd.Process.Pid, syscall.SIGKILL)
	<-done
	if s.t.Failed() {
		s.t.Logf("sshd on port %d logged:\n%s", s.cfg.port, s.logText())
	}
}

// restart starts sshd again on the same port, with cfg.hostKey.
func (s *testSSHD) restart() {
	s.t.Helper()
	s.kill()
	s.start()
}

// signalChildren sends sig to every process below the sshd listener (the
// connection handlers and their commands) but not the listener itself.
func (s *testSSHD) signalChildren(sig syscall.Signal) {
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	for _, p := range descendants(pid) {
		_ = syscall.Kill(p, sig)
	}
}

// knownHostsLine is the host's known_hosts entry.
func (s *testSSHD) knownHostsLine() string {
	return knownHostsEntry(knownHostsName("127.0.0.1", s.cfg.port), s.cfg.hostKey.PublicKey())
}

func knownHostsEntry(name string, key ssh.PublicKey) string {
	return name + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

func (s *testSSHD) target(creds *Credentials) Target {
	return Target{
		Name:           fmt.Sprintf("sshd-%d", s.cfg.port),
		Address:        "127.0.0.1",
		Port:           s.cfg.port,
		User:           s.user,
		ConnectTimeout: 10 * time.Second,
		Credentials:    creds,
	}
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func killTree(pid int, sig syscall.Signal) {
	// Stop the listener first so that it cannot start new children.
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	for _, p := range descendants(pid) {
		_ = syscall.Kill(p, sig)
	}
	_ = syscall.Kill(pid, sig)
	_ = syscall.Kill(pid, syscall.SIGCONT)
}

// processWithArg reports whether a process has arg in its argv.
func processWithArg(arg string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(cmdline, []byte{0}) {
			if string(a) == arg {
				return true
			}
		}
	}
	return false
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("failed to find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatalf("failed to write %s: %v", path, err)
	}
}

func newEd25519Signer(t testing.TB) ssh.Signer {
	t.Helper()
	s, _ := newKey(t)
	return s
}

// testKeys maps the signers made by newClientKey to their private keys, so
// that their PEM can be written for sshd or a Secret.
var testKeys sync.Map // ssh.Signer -> crypto private key

func marshalPrivateKey(t testing.TB, s ssh.Signer) []byte {
	t.Helper()
	priv, ok := testKeys.Load(s)
	if !ok {
		t.Fatalf("no private key recorded for %s", ssh.FingerprintSHA256(s.PublicKey()))
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// newKey makes an ed25519 key and returns its signer and OpenSSH PEM.
func newKey(t testing.TB) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	testKeys.Store(s, priv)
	return s, marshalPrivateKey(t, s)
}

// newCreds builds Credentials from a client key PEM and known_hosts lines.
func newCreds(t testing.TB, keyPEM []byte, knownHosts ...string) *Credentials {
	t.Helper()
	c, err := NewCredentials(map[string][]byte{
		SecretKeyPrivateKey: keyPEM,
		SecretKeyKnownHosts: []byte(strings.Join(knownHosts, "\n") + "\n"),
	})
	if err != nil {
		t.Fatalf("NewCredentials: %v", err)
	}
	return c
}
