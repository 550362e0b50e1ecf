package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// What the HA test needs beyond the harness: manager replicas started with
// leader election, and two observers that tell, from outside the processes,
// which replica acted on which host when. The hosts' event logs do not say
// which SSH connection ran a command, so the observers tie each connection
// and each session process to a replica:
//
//   - connSampler reads every few milliseconds which TCP connections each
//     live replica's file descriptors hold to a lab sshd (/proc/PID/fd →
//     socket inode → /proc/net/tcp). The executor pools its connections
//     (one per host, idle for minutes before it closes one), so each is seen
//     many times; each host's sshd.log names the source port of every login
//     it accepted, and a login no replica's connection explains is reported.
//   - sessionScanner reads every process's environment (/proc/*/environ,
//     the lab hosts' processes included: their PID namespaces are children
//     of ours) for SSH_CONNECTION, which sshd gives every command of a
//     session and which its children inherit. That is the only way to see
//     a command outlive its client: sshd does not end a session's command
//     when the client dies (no pty, no SIGHUP); the executor's watchdog
//     (package remote) is what should, and the scans show whether it did.

// replica is one manager process started with leader election.
type replica struct {
	name    string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	log    *os.File
	killed time.Time
}

// startReplicas runs n managers with --leader-elect, electing in ns, for
// this test alone; the shared operator must not run meanwhile.
func (e *env) startReplicas(n int, ns string) []*replica {
	e.t.Helper()
	suite.mu.Lock()
	if suite.shared != nil {
		suite.mu.Unlock()
		e.t.Fatal("the shared operator runs: it would act on this test's interventions too")
	}
	suite.ownRunning++
	suite.mu.Unlock()
	dir := e.t.TempDir()
	var rs []*replica
	e.t.Cleanup(func() {
		for _, r := range rs {
			r.kill()
			r.mu.Lock()
			if r.log != nil {
				_ = r.log.Close()
			}
			r.mu.Unlock()
		}
		suite.mu.Lock()
		suite.ownRunning--
		suite.mu.Unlock()
		if e.t.Failed() {
			for _, r := range rs {
				e.t.Logf("replica %s log (tail):\n%s", r.name, tailMatching(r.logPath, "", 60))
			}
		}
	})
	for i := range n {
		r := &replica{name: string(rune('a' + i)), logPath: filepath.Join(dir, fmt.Sprintf("replica-%c.log", 'a'+i))}
		f, err := os.Create(r.logPath)
		if err != nil {
			e.t.Fatal(err)
		}
		r.log = f
		r.cmd = exec.Command(suite.managerBin, "--metrics-bind-address=0", "--health-probe-bind-address=0", "--zap-log-level=info",
			"--leader-elect", "--leader-election-namespace="+ns)
		// POD_NAMESPACE: the manager's own namespace, where it keeps the
		// host Leases (--lock-namespace's default), as in a Deployment.
		r.cmd.Env = append(os.Environ(), "KUBECONFIG="+suite.kubeconfig, "POD_NAMESPACE="+ns)
		r.cmd.Stdout, r.cmd.Stderr = f, f
		if err := r.cmd.Start(); err != nil {
			e.t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// pid returns the replica's process id while it runs (0 once killed: its
// pid may be reused by then).
func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// kill sends SIGKILL, reaps the process and returns when it was reaped: from
// then on the kernel has closed its sockets.
func (r *replica) kill() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return r.killed
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = r.cmd.Process.Wait()
	r.cmd = nil
	r.killed = time.Now()
	return r.killed
}

// exited reports whether the replica ended by itself (a zombie not yet
// reaped: reaping is kill's, so its pid cannot be reused meanwhile).
func (r *replica) exited() bool {
	pid := r.pid()
	if pid == 0 {
		return false
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, ok := strings.Cut(string(raw), ") ")
	return ok && strings.HasPrefix(rest, "Z")
}

// logged reports whether the replica's log has a line matching re.
func (r *replica) logged(re *regexp.Regexp) bool {
	raw, err := os.ReadFile(r.logPath)
	return err == nil && re.Match(raw)
}

// connWindow is one TCP connection of a replica to a lab sshd: established
// after notBefore (a sample that did not see it), seen from firstSeen, gone
// by gone (a sample that no longer saw it, or the replica's reaping; zero
// while open).
type connWindow struct {
	replica   string
	host      string
	localPort int
	notBefore time.Time
	firstSeen time.Time
	gone      time.Time
}

// covers reports whether the connection may have been open at t.
func (c *connWindow) covers(t time.Time) bool {
	return !t.Before(c.notBefore) && (c.gone.IsZero() || !t.After(c.gone))
}

// connSampler records every connection of the replicas to the lab's hosts.
type connSampler struct {
	hosts map[string]string // "addr:port" → host name

	mu    sync.Mutex
	conns []*connWindow
}

func startConnSampler(t *testing.T, lab *labstatus.Lab, rs []*replica, every time.Duration) *connSampler {
	s := &connSampler{hosts: map[string]string{}}
	for _, h := range lab.Hosts {
		s.hosts[fmt.Sprintf("%s:%d", h.Address, h.Port)] = h.Name
	}
	open := map[string]map[string]*connWindow{} // replica → "local→remote" → window
	prev := map[string]time.Time{}
	poll(t, every, func() {
		now := time.Now()
		table, err := readTCPTable()
		if err != nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, r := range rs {
			pid := r.pid()
			if open[r.name] == nil {
				open[r.name] = map[string]*connWindow{}
			}
			if pid == 0 {
				// Reaped: the kernel closed every socket it held.
				for k, c := range open[r.name] {
					c.gone = r.killed
					delete(open[r.name], k)
				}
				continue
			}
			seen := map[string]bool{}
			for _, ino := range socketInodes(pid) {
				ent, ok := table[ino]
				if !ok {
					continue
				}
				host, ok := s.hosts[ent.remote]
				if !ok {
					continue
				}
				key := ent.local + "→" + ent.remote
				seen[key] = true
				if _, ok := open[r.name][key]; !ok {
					_, port, _ := strings.Cut(ent.local, ":")
					p, _ := strconv.Atoi(port)
					c := &connWindow{replica: r.name, host: host, localPort: p, notBefore: prev[r.name], firstSeen: now}
					open[r.name][key] = c
					s.conns = append(s.conns, c)
				}
			}
			for k, c := range open[r.name] {
				if !seen[k] {
					c.gone = now
					delete(open[r.name], k)
				}
			}
			prev[r.name] = now
		}
	})
	return s
}

// poll runs fn now and then every interval until the test ends (its
// clean-up waits for the last run).
func poll(t *testing.T, every time.Duration, fn func()) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			fn()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

// snapshot returns a copy of every connection window so far.
func (s *connSampler) snapshot() []connWindow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]connWindow, len(s.conns))
	for i, c := range s.conns {
		out[i] = *c
	}
	return out
}

type tcpEntry struct{ local, remote string }

// readTCPTable reads /proc/net/tcp (this network namespace, which the lab
// shares) into socket inode → endpoints.
func readTCPTable() (map[string]tcpEntry, error) {
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil, err
	}
	out := map[string]tcpEntry{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[9] == "0" {
			continue
		}
		l, err1 := hexEndpoint(f[1])
		r, err2 := hexEndpoint(f[2])
		if err1 != nil || err2 != nil {
			continue
		}
		out[f[9]] = tcpEntry{local: l, remote: r}
	}
	return out, nil
}

// hexEndpoint decodes /proc/net/tcp's "0100007F:8CA0" (the address as the
// kernel's 32-bit word in host order, little-endian here; the port in hex).
func hexEndpoint(s string) (string, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok || len(a) != 8 {
		return "", fmt.Errorf("not an IPv4 endpoint: %q", s)
	}
	ip, err := strconv.ParseUint(a, 16, 32)
	if err != nil {
		return "", err
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", ip&0xff, ip>>8&0xff, ip>>16&0xff, ip>>24, port), nil
}

// socketInodes lists the socket inodes a process holds open.
func socketInodes(pid int) []string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			out = append(out, strings.TrimSuffix(ino, "]"))
		}
	}
	return out
}

// sessionProc is one process of an SSH session on a lab host, told apart by
// the session's source port (SSH_CONNECTION).
type sessionProc struct {
	host       string
	srcPort    int
	pid        int
	comm       string
	firstSeen  time.Time
	lastSeen   time.Time
	goneBefore time.Time // the first scan after lastSeen that did not see it
}

// sessionScanner records every process of an SSH session on a lab host.
type sessionScanner struct {
	addrs map[string]string // address → host name

	mu    sync.Mutex
	procs map[string]*sessionProc // "pid/port"
	scans int
	cost  time.Duration
}

func startSessionScanner(t *testing.T, lab *labstatus.Lab, every time.Duration) *sessionScanner {
	s := &sessionScanner{addrs: map[string]string{}, procs: map[string]*sessionProc{}}
	for _, h := range lab.Hosts {
		s.addrs[h.Address] = h.Name
	}
	poll(t, every, s.scan)
	return s
}

func (s *sessionScanner) scan() {
	start := time.Now()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	seen := map[string]bool{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		i := bytes.Index(raw, []byte("SSH_CONNECTION="))
		if i < 0 || i > 0 && raw[i-1] != 0 {
			continue
		}
		v := raw[i+len("SSH_CONNECTION="):]
		if j := bytes.IndexByte(v, 0); j >= 0 {
			v = v[:j]
		}
		f := strings.Fields(string(v)) // client port server port
		if len(f) != 4 {
			continue
		}
		host, ok := s.addrs[f[2]]
		if !ok {
			continue
		}
		port, _ := strconv.Atoi(f[1])
		key := fmt.Sprintf("%d/%d", pid, port)
		seen[key] = true
		s.mu.Lock()
		p, ok := s.procs[key]
		if !ok {
			comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
			p = &sessionProc{host: host, srcPort: port, pid: pid, comm: strings.TrimSpace(string(comm)), firstSeen: start}
			s.procs[key] = p
		}
		p.lastSeen = start
		s.mu.Unlock()
	}
	s.mu.Lock()
	for key, p := range s.procs {
		if !seen[key] && p.goneBefore.IsZero() {
			p.goneBefore = start
		}
	}
	s.scans++
	s.cost += time.Since(start)
	s.mu.Unlock()
}

// snapshot returns a copy of every session process seen so far, and the
// number of scans and their mean cost.
func (s *sessionScanner) snapshot() ([]sessionProc, int, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sessionProc, 0, len(s.procs))
	for _, p := range s.procs {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b sessionProc) int { return a.firstSeen.Compare(b.firstSeen) })
	var mean time.Duration
	if s.scans > 0 {
		mean = s.cost / time.Duration(s.scans)
	}
	return out, s.scans, mean
}

// running returns when a session process named comm, first seen on host at
// or after since, was first seen, if the last scan still saw it (zero if
// none).
func (s *sessionScanner) running(host, comm string, since time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.host == host && p.comm == comm && !p.firstSeen.Before(since) && p.goneBefore.IsZero() {
			return p.firstSeen
		}
	}
	return time.Time{}
}

// acceptedLogin is a login a host's sshd accepted.
type acceptedLogin struct {
	host    string
	srcAddr string
	srcPort int
}

var acceptedRe = regexp.MustCompile(`^Accepted \S+ for \S+ from (\S+) port (\d+) `)

// sshdLogins reads the logins each host's sshd.log accepted after the given
// byte offsets (sshd.log has no timestamps: offsets delimit a window), and
// returns the new offsets.
func sshdLogins(lab *labstatus.Lab, from map[string]int64) ([]acceptedLogin, map[string]int64, error) {
	var out []acceptedLogin
	to := map[string]int64{}
	for _, h := range lab.Hosts {
		raw, err := os.ReadFile(filepath.Join(h.Dir, "sshd.log"))
		if err != nil {
			return nil, nil, err
		}
		to[h.Name] = int64(len(raw))
		if off := from[h.Name]; off <= int64(len(raw)) {
			raw = raw[off:]
		}
		for _, line := range strings.Split(string(raw), "\n") {
			m := acceptedRe.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			p, _ := strconv.Atoi(m[2])
			out = append(out, acceptedLogin{host: h.Name, srcAddr: m[1], srcPort: p})
		}
	}
	return out, to, nil
}
