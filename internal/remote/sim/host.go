package sim

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// Fault is how a simulated component misbehaves.
type Fault string

const (
	// FaultNone behaves.
	FaultNone Fault = ""
	// FaultErrors logs an ERROR and a traceback each time it starts.
	FaultErrors Fault = "errors"
	// FaultNoStop ignores runsvctrl d: only runsvctrl k takes it down.
	FaultNoStop Fault = "nostop"
	// FaultCrash restarts every second: runsvstat never sees it up long.
	FaultCrash Fault = "crash"
)

// Component is one DIRAC component of a simulated host, as in
// internal/hostsim.
type Component struct {
	// Link is System_Component, e.g. WorkloadManagement_JobMonitoring.
	Link string
	// Agent makes its run script exec dirac-agent.
	Agent bool
	// Down means an administrator stopped it before the intervention.
	Down bool
	// Fault is how it misbehaves.
	Fault Fault
}

// Layout is where things are on every simulated host.
type Layout struct {
	// Root is the DIRAC root (startup, startup-save and runit below it).
	Root string
	// MysqlServer is the mysql.server script of a database host.
	MysqlServer string
	// JournalFrom is the InnoDB journal directory, JournalTo where it moves.
	JournalFrom, JournalTo string
}

func (l Layout) startup() string { return path.Join(l.Root, "startup") }
func (l Layout) save() string    { return path.Join(l.Root, "startup-save") }

// svState is runit's state of a service.
type svState int

const (
	svDown svState = iota
	svRun
	// svWantDown runs, told to go down (runsvstat: "…, want down").
	svWantDown
)

// service is a runit service directory, runit/System/Component.
type service struct {
	sys, comp  string
	agent      bool
	fault      Fault
	supervised bool
	state      svState
	since      time.Time
	pid        int
	// stopAt is when a service told to go down exits (zero: never).
	stopAt time.Time
	// stopDelay is the last drawn time to stop, for the ideal schedule.
	stopDelay time.Duration
	log       []string
}

// Applied is one operation a host ran, as the catalogue names it.
type Applied struct {
	// At is when it ran on the host (simulated time).
	At time.Time
	// Op is the catalogue's name; "" for a command it does not know.
	Op procedure.OpName
	// Links are the link names it acted on, where it acts on links.
	Links []string
	// Exit is its exit status.
	Exit int
	// Argv is the command, for a command it does not know.
	Argv []string
}

// Host is one simulated VOBox. Its methods are safe for concurrent use.
type Host struct {
	name   string
	bootID string
	db     bool
	layout Layout
	model  Model
	clock  Clock

	rtt, handshake, rescanPhase time.Duration
	rng                         lockedRand
	connOnce                    sync.Once
	connDone                    chan struct{}

	mu           sync.Mutex
	startup      map[string]string   // link name → target
	save         map[string]string   // link name → target
	files        map[string]string   // regular files of startup-save (manifests) → content
	svcs         map[string]*service // by link target (../runit/System/Component)
	mysqldUp     bool
	mysqlBroken  bool
	jfrom        string // "dir", "link" or "none"
	jfromTarget  string
	jto          string // "dir" or "none"
	maintenance  map[string]string
	rescanAt     time.Time
	nextPid      int
	applied      []Applied
	mysqldStart  time.Duration
	mysqldStop   time.Duration
	sessions     atomic.Int64
	connectCalls atomic.Int64
}

func newHost(name string, db bool, s *Sim) *Host {
	rng := hostRand(s.cfg.Seed, name)
	h := &Host{
		name: name, db: db, layout: s.cfg.Layout, model: s.cfg.Model, clock: s.clock,
		connDone: make(chan struct{}),
		startup:  map[string]string{}, save: map[string]string{}, files: map[string]string{},
		svcs: map[string]*service{}, maintenance: map[string]string{},
		jfrom: "none", jto: "none", nextPid: 1000 + rng.IntN(30000),
	}
	h.bootID = fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Int64N(1<<48))
	h.rtt = s.cfg.Model.drawRTT(rng)
	lo, hi := s.cfg.Model.HandshakeRTTs[0], s.cfg.Model.HandshakeRTTs[1]
	n := lo
	if hi > lo {
		n += rng.IntN(hi - lo + 1)
	}
	h.handshake = time.Duration(n) * h.rtt
	if s.cfg.Model.Rescan > 0 {
		h.rescanPhase = time.Duration(rng.Int64N(int64(s.cfg.Model.Rescan)))
	}
	h.rng.rng = rng
	if db {
		h.mysqldUp, h.jfrom = true, "dir"
	}
	return h
}

// Name is the host's name (and address).
func (h *Host) Name() string { return h.name }

// RTT is the host's round-trip time.
func (h *Host) RTT() time.Duration { return h.rtt }

// Handshake is how long the host's SSH handshake takes.
func (h *Host) Handshake() time.Duration { return h.handshake }

// Session is what a session costs besides its work.
func (h *Host) Session() time.Duration {
	return time.Duration(h.model.SessionRTTs * float64(h.rtt))
}

// NextRescan is when runsvdir next scans at or after t.
func (h *Host) NextRescan(t time.Time) time.Time {
	p := h.model.Rescan
	if p <= 0 {
		return t
	}
	base := t.Truncate(p).Add(h.rescanPhase)
	for base.Before(t) {
		base = base.Add(p)
	}
	for base.Sub(t) >= p {
		base = base.Add(-p)
	}
	return base
}

// Sessions counts the sessions (commands) run on the host.
func (h *Host) Sessions() int64 { return h.sessions.Load() }

// AddComponent installs a component, running (or down) for 100 seconds,
// with an old error in its log that no scan of a new start may report.
func (h *Host) AddComponent(c Component) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sys, comp, _ := strings.Cut(c.Link, "_")
	target := "../runit/" + sys + "/" + comp
	s := &service{sys: sys, comp: comp, agent: c.Agent, fault: c.Fault, supervised: true,
		since: h.clock.Now().Add(-100 * time.Second), pid: h.pid(),
		log: []string{"2001-01-01 00:00:00 UTC " + sys + "/" + comp + " ERROR: an old error, before the intervention"}}
	if !c.Down {
		s.state = svRun
	}
	h.svcs[target] = s
	h.startup[c.Link] = target
}

// SetFault sets or clears a component's fault.
func (h *Host) SetFault(link string, f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sys, comp, _ := strings.Cut(link, "_")
	if s := h.svcs["../runit/"+sys+"/"+comp]; s != nil {
		s.fault = f
	}
}

// SetLink puts a link named name with target into dir ("startup" or
// "startup-save"), as an administrator would.
func (h *Host) SetLink(dir, name, target string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dir(dir)[name] = target
	if dir == "startup" {
		h.touchStartup(h.clock.Now())
	}
}

func (h *Host) dir(name string) map[string]string {
	if name == "startup" {
		return h.startup
	}
	return h.save
}

// SetMysqlBroken makes mysql.server start fail.
func (h *Host) SetMysqlBroken(broken bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mysqlBroken = broken
}

// SetMysqldRunning starts or stops mysqld behind the procedure's back (a
// database that came back at boot).
func (h *Host) SetMysqldRunning(up bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mysqldUp = up
}

// Links returns the links of "startup" or "startup-save", name → target.
func (h *Host) Links(dir string) map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	for k, v := range h.dir(dir) {
		out[k] = v
	}
	return out
}

// SvState returns "run", "down", "stopping" or "unsupervised", as
// hostsim.Host.SvState does.
func (h *Host) SvState(link string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.advance(h.clock.Now())
	sys, comp, _ := strings.Cut(link, "_")
	s := h.svcs["../runit/"+sys+"/"+comp]
	switch {
	case s == nil || !s.supervised:
		return "unsupervised"
	case s.state == svRun:
		return "run"
	case s.state == svWantDown:
		return "stopping"
	}
	return "down"
}

// MysqldRunning reports whether the host's mysqld runs.
func (h *Host) MysqldRunning() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mysqldUp
}

// Journal returns where the InnoDB journal is: "dir" in place,
// "link:<target>", or "none".
func (h *Host) Journal() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.jfrom == "link" {
		return "link:" + h.jfromTarget
	}
	return h.jfrom
}

// InMaintenance reports whether the host recorded host as in maintenance.
func (h *Host) InMaintenance(host string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.maintenance[host]
	return ok
}

// File returns a regular file of startup-save (a manifest) and whether it
// exists.
func (h *Host) File(name string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.files[name]
	return c, ok
}

// Applied returns the operations the host ran, probes included, in order.
func (h *Host) Applied() []Applied {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Applied(nil), h.applied...)
}

// StopDelays returns, per link, how long its last stop took to take
// effect (an agent's rest of cycle, a service's exit), as drawn.
func (h *Host) StopDelays() map[string]time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]time.Duration{}
	for link, target := range h.linkTargets() {
		if s := h.svcs[target]; s != nil {
			out[link] = s.stopDelay
		}
	}
	return out
}

// MysqldTimes returns how long mysqld's last start and stop took.
func (h *Host) MysqldTimes() (start, stop time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mysqldStart, h.mysqldStop
}

// linkTargets is every link on the host, name → target.
func (h *Host) linkTargets() map[string]string {
	out := map[string]string{}
	for k, v := range h.save {
		out[k] = v
	}
	for k, v := range h.startup {
		out[k] = v
	}
	return out
}

func (h *Host) pid() int {
	h.nextPid++
	return h.nextPid
}

// touchStartup schedules runsvdir's scan after startup changed.
func (h *Host) touchStartup(now time.Time) {
	at := h.NextRescan(now)
	if h.rescanAt.IsZero() || at.Before(h.rescanAt) {
		h.rescanAt = at
	}
}

// advance brings the host to now: components told to stop exit, runsvdir
// scans.
func (h *Host) advance(now time.Time) {
	for _, s := range h.svcs {
		if s.state == svWantDown && !s.stopAt.IsZero() && !s.stopAt.After(now) && s.fault != FaultNoStop {
			s.state, s.since, s.stopAt = svDown, s.stopAt, time.Time{}
		}
	}
	if !h.rescanAt.IsZero() && !h.rescanAt.After(now) {
		at := h.rescanAt
		h.rescanAt = time.Time{}
		h.scan(at)
	}
}

// scan is runsvdir's: a runsv for each new link, which starts its service;
// a removed link's runsv is told to go, taking its service down.
func (h *Host) scan(at time.Time) {
	linked := map[*service]bool{}
	for _, target := range h.startup {
		if s := h.svcs[target]; s != nil {
			linked[s] = true
			if !s.supervised {
				s.supervised = true
				h.start(s, at)
			}
		}
	}
	for _, s := range h.svcs {
		if s.supervised && !linked[s] {
			s.supervised, s.state, s.since, s.stopAt = false, svDown, at, time.Time{}
		}
	}
}

// start runs a service, which logs its start (and its errors).
func (h *Host) start(s *service, at time.Time) {
	s.state, s.since, s.pid, s.stopAt = svRun, at, h.pid(), time.Time{}
	ts := at.UTC().Format("2006-01-02 15:04:05")
	s.log = append(s.log, fmt.Sprintf("%s UTC %s/%s INFO: Starting %s", ts, s.sys, s.comp, s.comp))
	if s.fault == FaultErrors {
		s.log = append(s.log, fmt.Sprintf("%s UTC %s/%s ERROR: Cannot get the configuration", ts, s.sys, s.comp),
			"Traceback (most recent call last):", `  File "dirac.py", line 42, in <module>`)
	}
}

// service returns the supervised service of a startup link, or nil.
func (h *Host) startupService(link string) *service {
	target, ok := h.startup[link]
	if !ok {
		return nil
	}
	return h.svcs[target]
}

// statLine is runsvstat's line for a startup link, without its directory.
func (h *Host) statLine(link string, now time.Time) string {
	s := h.startupService(link)
	p := path.Join(h.layout.startup(), link)
	switch {
	case s == nil:
		return "warning: " + p + ": unable to change directory: file does not exist"
	case !s.supervised:
		return "warning: " + p + ": unable to open supervise/ok: file does not exist"
	}
	secs := int64(now.Sub(s.since) / time.Second)
	switch s.state {
	case svRun, svWantDown:
		if s.fault == FaultCrash {
			secs = 0
		}
		line := fmt.Sprintf("run (pid %d) %d seconds", s.pid, secs)
		if s.state == svWantDown {
			line += ", want down"
		}
		return line
	}
	return fmt.Sprintf("down %d seconds, normally up", secs)
}

// superviseStat is what probe.sh's wait reads from supervise/stat, "" when
// unreadable.
func (h *Host) superviseStat(link string) string {
	s := h.startupService(link)
	switch {
	case s == nil || !s.supervised:
		return ""
	case s.state == svRun:
		return "run"
	case s.state == svWantDown:
		return "run, want down"
	}
	return "down"
}

// validName is probe.sh's filter of link names.
func validName(n string) bool {
	for _, c := range n {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return n != ""
}

// report is probe.sh's report, read at now.
func (h *Host) report(now time.Time, root, manifest, mysql, jfrom, jto string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "now\t%d\n", now.Unix())
	fmt.Fprintf(&b, "boot\t%s\n", h.bootID)
	if root != h.layout.Root {
		b.WriteString("root\tmissing\n")
		return b.String()
	}
	b.WriteString("root\tok\n")
	// runit 1.x's tools, on the session's PATH.
	b.WriteString("runit\trunsv\trunsvctrl\trunsvstat\n")
	for _, dir := range []string{"startup", "startup-save"} {
		links := h.dir(dir)
		names := make([]string, 0, len(links))
		for n, t := range links {
			if validName(n) && !strings.ContainsAny(t, "\t\n") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&b, "%s\t%s\t%s\n", dir, n, links[n])
		}
		if dir != "startup" {
			continue
		}
		for _, n := range names {
			fmt.Fprintf(&b, "stat\t%s\t%s\n", n, h.statLine(n, now))
		}
		for _, n := range names {
			if s := h.startupService(n); s != nil && s.agent {
				fmt.Fprintf(&b, "agent\t%s\n", n)
			}
		}
	}
	if content, ok := h.files[manifest]; ok && manifest != "" {
		for _, line := range strings.SplitAfter(content, "\n") {
			if line == "" {
				continue
			}
			fmt.Fprintf(&b, "manifest\t%s\n", strings.TrimSuffix(line, "\n"))
		}
	}
	if mysql != "" {
		if h.db && mysql == h.layout.MysqlServer {
			b.WriteString("mysql\tpresent\n")
		} else {
			b.WriteString("mysql\tmissing\n")
		}
		if h.mysqldUp {
			b.WriteString("mysqld\trunning\n")
		} else {
			b.WriteString("mysqld\tstopped\n")
		}
	}
	if jfrom != "" {
		kind, target := "none", ""
		if jfrom == h.layout.JournalFrom {
			kind, target = h.jfrom, h.jfromTarget
		}
		switch kind {
		case "link":
			fmt.Fprintf(&b, "jfrom\tlink\t%s\n", target)
		default:
			fmt.Fprintf(&b, "jfrom\t%s\n", kind)
		}
		kind = "none"
		if jto == h.layout.JournalTo {
			kind = h.jto
		}
		fmt.Fprintf(&b, "jto\t%s\n", kind)
	}
	return b.String()
}
