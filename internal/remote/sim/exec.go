package sim

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// How the catalogue's operations look in an argv, learnt from its builders
// so that a renamed script or verb follows: a script by its $0, a runit
// verb by its argv prefix.
var (
	// scriptOps maps a script operation's $0 to its name.
	scriptOps = map[string]procedure.OpName{}
	// stepDollar0 is the $0 of procedure.Session's step script.
	stepDollar0 string
	// maintenanceDollar0 is the $0 of procedure.MaintenanceOnce's script,
	// which runs a maintenance command behind a marker.
	maintenanceDollar0 string
	// runsvctrlOps maps "runsvctrl <verb>" to the operation.
	runsvctrlOps = map[string]procedure.OpName{}
	// rmPrefix is the argv prefix of the removals (links, manifest).
	rmPrefix []string
	// manifestPrefix starts every manifest's name.
	manifestPrefix = procedure.ManifestName("")
)

func init() {
	for _, op := range []procedure.Op{
		procedure.ProbeOp(procedure.ProbeArgs{}, nil, 0),
		procedure.RecordManifest("d", "n", &procedure.Manifest{}),
		procedure.ParkLinks("a", "b", nil),
		procedure.RestoreLinks("a", "b", nil),
		procedure.CheckLogs("r", procedure.LogCheck{}, nil),
		procedure.MoveJournal("a", "b"),
	} {
		scriptOps[op.Argv[3]] = op.Name
	}
	stepDollar0 = procedure.Session(nil, nil, nil, 0).Argv[3]
	maintenanceDollar0 = procedure.MaintenanceOnce(procedure.Maintenance(procedure.OpSetMaintenance, []string{"x"}, "h", "r"), "d", "u", "h").Argv[3]
	for _, op := range []procedure.Op{
		procedure.StopComponents(procedure.RunitTools{}, "s", nil), procedure.KillComponents(procedure.RunitTools{}, "s", nil),
		procedure.StartComponents(procedure.RunitTools{}, "s", nil),
	} {
		runsvctrlOps[strings.Join(op.Argv, " ")] = op.Name
	}
	rmPrefix = procedure.DropDuplicateLinks("d", nil).Argv
}

// isScript tells an embedded script's argv: sh -c TEXT $0 ARGS…
func isScript(cmd remote.Command) bool {
	return len(cmd) >= 4 && cmd[0] == "sh" && cmd[1] == "-c"
}

// Config is a simulation's set-up.
type Config struct {
	// Seed draws every host's latencies and delays.
	Seed uint64
	// Model is how long things take; the zero Model takes no time.
	Model Model
	// Clock is the simulated time; nil means real time.
	Clock Clock
	// Layout is where things are on every host.
	Layout Layout
	// MaintenanceSet and MaintenanceClear are the spec's maintenance argv
	// templates ({host}, {reason}), so that the hosts know them.
	MaintenanceSet, MaintenanceClear []string
}

// Sim is a set of simulated hosts behind remote.Executor and
// remote.Connector, by address.
type Sim struct {
	cfg   Config
	clock Clock
	maint []maintTemplate

	mu    sync.RWMutex
	hosts map[string]*Host
}

var (
	_ remote.Executor  = (*Sim)(nil)
	_ remote.Connector = (*Sim)(nil)
)

// New makes an empty simulation.
func New(cfg Config) *Sim {
	s := &Sim{cfg: cfg, clock: cfg.Clock, hosts: map[string]*Host{}}
	if s.clock == nil {
		s.clock = NewScaledClock(1)
	}
	for _, t := range []struct {
		op   procedure.OpName
		argv []string
	}{{procedure.OpSetMaintenance, cfg.MaintenanceSet}, {procedure.OpClearMaintenance, cfg.MaintenanceClear}} {
		if len(t.argv) > 0 {
			s.maint = append(s.maint, compileMaint(t.op, t.argv))
		}
	}
	return s
}

// Clock is the simulation's clock.
func (s *Sim) Clock() Clock { return s.clock }

// AddHost adds a host, reached at its name, with the components given
// running; a database host has mysqld running and its journal in place.
func (s *Sim) AddHost(name string, db bool, comps ...Component) *Host {
	h := newHost(name, db, s)
	for _, c := range comps {
		h.AddComponent(c)
	}
	s.mu.Lock()
	s.hosts[name] = h
	s.mu.Unlock()
	return h
}

// Host returns the host at address, or nil.
func (s *Sim) Host(address string) *Host {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hosts[address]
}

// Hosts returns every host.
func (s *Sim) Hosts() []*Host {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Host, 0, len(s.hosts))
	for _, h := range s.hosts {
		out = append(out, h)
	}
	return out
}

// Connect opens the connection to target: one handshake per host, shared by
// whoever waits for it.
func (s *Sim) Connect(ctx context.Context, target remote.Target) error {
	h, err := s.lookup(target)
	if err != nil {
		return err
	}
	return h.connect(ctx)
}

func (s *Sim) lookup(target remote.Target) (*Host, error) {
	if target.Credentials == nil {
		return nil, &remote.InvalidRequestError{Field: "target.credentials", Msg: "nil"}
	}
	h := s.Host(target.Address)
	if h == nil {
		return nil, &remote.ConnectionError{Host: target.Address + ":22", Op: "dial", Err: errors.New("connect: no route to host")}
	}
	return h, nil
}

func (h *Host) connect(ctx context.Context) error {
	h.connectCalls.Add(1)
	h.connOnce.Do(func() {
		go func() {
			_ = h.clock.Sleep(context.Background(), h.handshake)
			close(h.connDone)
		}()
	})
	select {
	case <-h.connDone:
		return nil
	case <-ctx.Done():
		return &remote.TimeoutError{Host: h.name + ":22", Op: "handshake", Err: ctx.Err()}
	}
}

// Run runs cmd on the host at target.Address: the handshake if the
// connection is not open yet, a session's round trips, then the command's
// work, with its effects on the host at the time they happen.
func (s *Sim) Run(ctx context.Context, target remote.Target, cmd remote.Command) (remote.Result, error) {
	h, err := s.lookup(target)
	if err != nil {
		return remote.Result{ExitCode: -1}, err
	}
	if len(cmd) == 0 {
		return remote.Result{ExitCode: -1}, &remote.InvalidRequestError{Field: "command", Msg: "empty"}
	}
	if err := h.connect(ctx); err != nil {
		return remote.Result{ExitCode: -1}, err
	}
	h.sessions.Add(1)
	start := h.clock.Now()
	half := h.Session() / 2
	timeout := func(err error) (remote.Result, error) {
		d := h.clock.Now().Sub(start)
		return remote.Result{ExitCode: -1, Duration: d}, &remote.TimeoutError{Host: h.name + ":22", Op: "command", After: d, Err: err}
	}
	if err := h.clock.Sleep(ctx, half+h.model.Exec); err != nil {
		return timeout(err)
	}
	x := &execution{h: h, ctx: ctx, sim: s}
	stdout, stderr, code := x.run(cmd, false)
	if x.err != nil {
		return timeout(x.err)
	}
	if err := h.clock.Sleep(ctx, half); err != nil {
		return timeout(err)
	}
	return remote.Result{ExitCode: code, Stdout: []byte(stdout), Stderr: []byte(stderr), Duration: h.clock.Now().Sub(start)}, nil
}

// execution is one session on a host.
type execution struct {
	h   *Host
	sim *Sim
	ctx context.Context
	// err is set when the session was abandoned (ctx done while waiting).
	err error
}

func (x *execution) sleep(d time.Duration) bool {
	if x.err != nil {
		return false
	}
	if err := x.h.clock.Sleep(x.ctx, d); err != nil {
		x.err = err
		return false
	}
	return true
}

// run runs one argv; merged says stderr goes to stdout (step.sh's 2>&1).
func (x *execution) run(cmd remote.Command, merged bool) (string, string, int) {
	var stdout, stderr string
	var code int
	switch {
	case isScript(cmd) && cmd[3] == stepDollar0:
		return x.step(cmd[4:]), "", 0
	case isScript(cmd):
		stdout, stderr, code = x.script(cmd)
	default:
		stdout, stderr, code = x.command(cmd)
	}
	if merged {
		return stdout + stderr, "", code
	}
	return stdout, stderr, code
}

// step runs procedure.Session's operations, each followed by its exit
// marker, the first failure ending it, then the probe if it has arguments.
func (x *execution) step(args []string) string {
	var b strings.Builder
	args, ok := x.runOps(&b, args)
	if ok && len(args) > 1 {
		b.WriteString(x.probe(args[1:]))
	}
	return b.String()
}

// runOps is ops.sh's run_ops: the operations of args (each an argument
// count and its argv) up to "--" or the end, each followed by its exit
// marker, the first failure ending them. It returns what follows them, and
// false when one failed (the script exits there).
func (x *execution) runOps(b *strings.Builder, args []string) ([]string, bool) {
	for len(args) > 0 && args[0] != "--" {
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 || n > len(args)-1 {
			b.WriteString("vobox-step: malformed arguments\n")
			return nil, false
		}
		out, _, rc := x.run(args[1:1+n], true)
		args = args[1+n:]
		b.WriteString(out)
		fmt.Fprintf(b, "\n\x1evobox-exit\t%d\n", rc)
		if rc != 0 || x.err != nil {
			return nil, false
		}
	}
	return args, true
}

func (x *execution) script(cmd remote.Command) (string, string, int) {
	h, args := x.h, cmd[4:]
	if cmd[3] == maintenanceDollar0 {
		return x.maintenanceOnce(args)
	}
	op, ok := scriptOps[cmd[3]]
	if !ok {
		return x.unknown(cmd)
	}
	if op == procedure.OpProbe {
		return x.probe(args), "", 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	h.advance(now)
	rec := Applied{At: now, Op: op}
	var out string
	switch op {
	case procedure.OpRecordManifest:
		if len(args) == 3 && args[0] == h.layout.save() {
			h.files[args[1]] = args[2]
		} else {
			rec.Exit = 1
		}
	case procedure.OpParkLinks, procedure.OpRestoreLinks:
		if len(args) < 2 {
			rec.Exit = 1
			break
		}
		from, to := h.dirAt(args[0]), h.dirAt(args[1])
		rec.Links = args[2:]
		if from == nil || to == nil {
			rec.Exit = 1
			break
		}
		var b strings.Builder
		for _, n := range args[2:] {
			_, isFile := h.files[n]
			_, exists := to[n]
			switch {
			case exists || (isFile && args[1] == h.layout.save()):
				fmt.Fprintf(&b, "exists\t%s\n", n)
			case from[n] == "":
				fmt.Fprintf(&b, "absent\t%s\n", n)
			default:
				to[n] = from[n]
				delete(from, n)
				fmt.Fprintf(&b, "moved\t%s\n", n)
			}
		}
		out = b.String()
		h.touchStartup(now)
	case procedure.OpCheckLogs:
		out, rec.Links = h.scanLogs(args)
	case procedure.OpMoveJournal:
		if len(args) == 2 && args[0] == h.layout.JournalFrom && args[1] == h.layout.JournalTo {
			if h.jfrom == "dir" && h.jto == "none" {
				h.jfrom, h.jto = "none", "dir"
			}
			if h.jfrom == "none" && h.jto == "dir" {
				h.jfrom, h.jfromTarget = "link", args[1]
			}
		}
	}
	h.applied = append(h.applied, rec)
	return out, "", rec.Exit
}

// dirAt is the link directory at p, or nil.
func (h *Host) dirAt(p string) map[string]string {
	switch path.Clean(p) {
	case h.layout.startup():
		return h.startup
	case h.layout.save():
		return h.save
	}
	return nil
}

// scanLogs is logscan.sh: the last five lines of each link's log at or
// after its time that hold a pattern; a line without a time stamp belongs
// to the line before it.
func (h *Host) scanLogs(args []string) (string, []string) {
	if len(args) < 2 || args[0] != h.layout.Root {
		return "", nil
	}
	nl, err := strconv.Atoi(args[1])
	if err != nil || nl < 0 || len(args) < 3+nl {
		return "", nil
	}
	levels := args[2 : 2+nl]
	np, err := strconv.Atoi(args[2+nl])
	if err != nil || np < 0 || len(args) < 3+nl+np {
		return "", nil
	}
	patterns, rest := args[3+nl:3+nl+np], args[3+nl+np:]
	matches := func(s string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool { return strings.Contains(s, p) })
	}
	var b strings.Builder
	var links []string
	for ; len(rest) >= 3; rest = rest[3:] {
		link, since := rest[0], rest[1]
		links = append(links, link)
		s := h.startupService(link)
		if s == nil {
			continue
		}
		var found []string
		in := false
		for _, line := range s.log {
			if !logStamp.MatchString(line) {
				if in && matches(line) {
					found = append(found, line)
				}
				continue
			}
			in = line[:10]+" "+line[11:19] >= since
			if !in {
				continue
			}
			// The DIRAC level is the first LEVEL: among the next fields;
			// the message is what follows it.
			level, msg := "", line
			for i, f := range strings.Fields(line) {
				if i >= 1 && i <= 7 && diracLevel.MatchString(f) {
					level = strings.TrimSuffix(f, ":")
					msg = line[strings.Index(line, " "+f)+len(f)+2:]
					break
				}
			}
			if slices.Contains(levels, level) || matches(msg) {
				found = append(found, line)
			}
		}
		for _, line := range found[max(0, len(found)-5):] {
			fmt.Fprintf(&b, "finding\t%s\t%s\n", link, line)
		}
	}
	return b.String(), links
}

// logStamp starts a DIRAC log line (v7/v8 "YYYY-MM-DD hh:mm:ss UTC", v9
// "YYYY-MM-DDThh:mm:ss,uuuuuuZ").
var logStamp = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}`)

// diracLevel is a DIRAC log level field.
var diracLevel = regexp.MustCompile(`^(DEBUG|VERBOSE|INFO|WARN|NOTICE|ERROR|FATAL|ALWAYS):$`)

// probe is probe.sh: the wait on the host, when asked, then the report.
func (x *execution) probe(args []string) string {
	h := x.h
	if len(args) < 5 {
		return ""
	}
	root, manifest, mysql, jfrom, jto := args[0], args[1], args[2], args[3], args[4]
	// Then runitBin, the readiness argv (counted), and the wait's.
	rest := args[5:]
	if len(rest) >= 2 {
		n, _ := strconv.Atoi(rest[1])
		rest = rest[min(2+max(n, 0), len(rest)):]
	}
	// The wait: mode, four times, the links (counted), then the operations
	// that run once it is met (Wait.After).
	var b strings.Builder
	if len(rest) >= 6 {
		n, _ := strconv.Atoi(rest[5])
		n = min(max(n, 0), len(rest)-6)
		met := x.wait(root, rest[0], rest[1:5], rest[6:6+n])
		if x.err != nil {
			return ""
		}
		if met {
			if _, ok := x.runOps(&b, rest[6+n:]); !ok {
				return b.String()
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	h.advance(now)
	h.applied = append(h.applied, Applied{At: now, Op: procedure.OpProbe})
	return b.String() + h.report(now, root, manifest, mysql, jfrom, jto)
}

// wait is probe.sh's wait: every link down (or running), looked at every
// tick within the budget; in "up" mode then settle (or rest, when all ran
// at the first look), never past the budget. It says whether the wait was
// met in full (every link down, or up for all of the settle).
func (x *execution) wait(root, mode string, ms []string, links []string) bool {
	var v [4]int64
	for i, s := range ms {
		v[i], _ = strconv.ParseInt(s, 10, 64)
	}
	tick, budget, settle, rest := v[0], v[1], v[2], v[3]
	h := x.h
	first, spent := true, int64(0)
	for {
		h.mu.Lock()
		h.advance(h.clock.Now())
		all := root == h.layout.Root
		for _, n := range links {
			st := h.superviseStat(n)
			if !(mode == "down" && strings.HasPrefix(st, "down") || mode == "up" && st == "run") {
				all = false
				break
			}
		}
		h.mu.Unlock()
		if all {
			if !first {
				rest = settle
			}
			met := true
			if spent+rest > budget {
				rest, met = budget-spent, mode == "down"
			}
			if mode == "up" && rest > 0 {
				return x.sleep(time.Duration(rest)*time.Millisecond) && met
			}
			return met
		}
		first = false
		if spent+tick > budget || tick <= 0 {
			return false
		}
		if !x.sleep(time.Duration(tick) * time.Millisecond) {
			return false
		}
		spent += tick
	}
}

// command runs a program operation: runit's verbs, a removal, mysql.server,
// a maintenance template.
func (x *execution) command(cmd remote.Command) (string, string, int) {
	h := x.h
	switch {
	case len(cmd) >= 2 && runsvctrlOps[cmd[0]+" "+cmd[1]] != "":
		return h.runsvctrl(runsvctrlOps[cmd[0]+" "+cmd[1]], cmd[2:])
	case len(cmd) >= len(rmPrefix) && slices.Equal(cmd[:len(rmPrefix)], rmPrefix):
		return h.remove(cmd[len(rmPrefix):])
	case h.db && len(cmd) == 2 && slices.Equal(cmd, procedure.StopDatabase(h.layout.MysqlServer, nil).Argv):
		return x.mysqlServer(procedure.OpStopDatabase)
	case h.db && len(cmd) == 2 && slices.Equal(cmd, procedure.StartDatabase(h.layout.MysqlServer, nil).Argv):
		return x.mysqlServer(procedure.OpStartDatabase)
	}
	for _, m := range x.sim.maint {
		if host, reason, ok := m.match(cmd); ok {
			h.mu.Lock()
			defer h.mu.Unlock()
			if m.op == procedure.OpSetMaintenance {
				h.maintenance[host] = reason
			} else {
				delete(h.maintenance, host)
			}
			h.applied = append(h.applied, Applied{At: h.clock.Now(), Op: m.op, Links: []string{host}})
			return "", "", 0
		}
	}
	return x.unknown(cmd)
}

// maintenanceOnce is maintenance.sh (markerDir marker other lock argv…): the
// command unless its marker says it ran; once it exits 0, its marker is
// written and the other direction's removed. The simulated host runs one
// command at a time, so the lock has nothing to order.
func (x *execution) maintenanceOnce(args []string) (string, string, int) {
	h := x.h
	if len(args) < 5 {
		return "", "vobox-maintenance: missing arguments\n", 2
	}
	dir, marker, other := args[0], args[1], args[2]
	h.mu.Lock()
	_, ran := h.files[marker]
	h.mu.Unlock()
	if dir == h.layout.save() && ran {
		return "maintenance\tskipped\n", "", 0
	}
	out, stderr, rc := x.command(args[4:])
	if rc == 0 {
		h.mu.Lock()
		if dir == h.layout.save() {
			h.files[marker] = ""
			delete(h.files, other)
		}
		h.mu.Unlock()
		out += "\nmaintenance\tran\n"
	}
	return out, stderr, rc
}

func (x *execution) unknown(cmd remote.Command) (string, string, int) {
	h := x.h
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applied = append(h.applied, Applied{At: h.clock.Now(), Exit: 127, Argv: append([]string(nil), cmd...)})
	return "", fmt.Sprintf("sh: 1: %s: not found\n", cmd[0]), 127
}

// runsvctrl is runit 1.x's runsvctrl d|k|u on startup links; a link
// without its runsv is a warning, and the exit status counts them.
func (h *Host) runsvctrl(op procedure.OpName, paths []string) (string, string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	h.advance(now)
	rec := Applied{At: now, Op: op}
	var stderr strings.Builder
	for _, p := range paths {
		dir, link := path.Split(p)
		rec.Links = append(rec.Links, link)
		var s *service
		if path.Clean(dir) == h.layout.startup() {
			s = h.startupService(link)
		}
		if s == nil || !s.supervised {
			fmt.Fprintf(&stderr, "runsvctrl: warning: %s: unable to open supervise/control: file does not exist\n", p)
			rec.Exit++
			continue
		}
		switch op {
		case procedure.OpStopComponents:
			if s.state != svRun {
				continue
			}
			r := h.model.ServiceStop
			if s.agent {
				r = h.model.AgentCycle
			}
			s.stopDelay = h.rng.draw(r)
			s.state = svWantDown
			if s.fault == FaultNoStop {
				continue
			}
			s.stopAt = now.Add(s.stopDelay)
			if s.stopDelay == 0 {
				s.state, s.since, s.stopAt = svDown, now, time.Time{}
			}
		case procedure.OpKillComponents:
			if s.state != svDown {
				s.state, s.since, s.stopAt = svDown, now, time.Time{}
			}
		case procedure.OpStartComponents:
			switch s.state {
			case svWantDown:
				s.state, s.stopAt = svRun, time.Time{}
			case svDown:
				h.start(s, now)
			}
		}
	}
	h.applied = append(h.applied, rec)
	return "", stderr.String(), rec.Exit
}

// remove is rm -f -- of links (startup, startup-save) and manifests.
func (h *Host) remove(paths []string) (string, string, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	h.advance(now)
	rec := Applied{At: now, Op: procedure.OpRemoveManifest}
	for _, p := range paths {
		dir, name := path.Split(p)
		switch {
		case strings.HasPrefix(path.Clean(dir), path.Join(h.layout.Root, "control")+"/"):
			// control/<System>/<Agent>/stop_agent: this simulation's agents
			// leave none, so there is nothing to remove.
			rec.Op = procedure.OpRemoveStopAgentFiles
			rec.Links = append(rec.Links, path.Base(path.Dir(path.Clean(dir))))
			continue
		case !strings.HasPrefix(name, manifestPrefix):
			rec.Op = procedure.OpDropDuplicateLinks
			rec.Links = append(rec.Links, name)
		}
		switch path.Clean(dir) {
		case h.layout.startup():
			delete(h.startup, name)
			h.touchStartup(now)
		case h.layout.save():
			delete(h.save, name)
			delete(h.files, name)
		}
	}
	h.applied = append(h.applied, rec)
	return "", "", 0
}

// mysqlServer is mysql.server stop|start: both wait for mysqld.
func (x *execution) mysqlServer(op procedure.OpName) (string, string, int) {
	h := x.h
	h.mu.Lock()
	up, broken := h.mysqldUp, h.mysqlBroken
	h.mu.Unlock()
	out, code, changes := "", 0, false
	var took time.Duration
	switch {
	case op == procedure.OpStopDatabase && !up:
		out, code = " ERROR! MariaDB server PID file could not be found!\n", 1
	case op == procedure.OpStopDatabase:
		took, changes = h.rng.draw(h.model.MysqldStop), true
		if !x.sleep(took) {
			return "", "", -1
		}
		out = "Shutting down MariaDB. SUCCESS!\n"
	case up:
		out = "Starting MariaDB. SUCCESS!\n"
	case broken:
		out, code = "Starting MariaDB. ERROR! The server quit without updating PID file\n", 1
	default:
		took, changes = h.rng.draw(h.model.MysqldStart), true
		if !x.sleep(took) {
			return "", "", -1
		}
		out = "Starting MariaDB. SUCCESS!\n"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.clock.Now()
	h.advance(now)
	if changes {
		h.mysqldUp = op == procedure.OpStartDatabase
		if h.mysqldUp {
			h.mysqldStart = took
		} else {
			h.mysqldStop = took
		}
	}
	h.applied = append(h.applied, Applied{At: now, Op: op, Exit: code})
	return out, "", code
}

// maintTemplate matches a maintenance command built from a template.
type maintTemplate struct {
	op    procedure.OpName
	elems []*regexp.Regexp
}

func compileMaint(op procedure.OpName, template []string) maintTemplate {
	m := maintTemplate{op: op}
	for _, t := range template {
		re := regexp.QuoteMeta(t)
		re = strings.ReplaceAll(re, regexp.QuoteMeta("{host}"), `(?P<host>.*)`)
		re = strings.ReplaceAll(re, regexp.QuoteMeta("{reason}"), `(?P<reason>.*)`)
		m.elems = append(m.elems, regexp.MustCompile(`^(?s:`+re+`)$`))
	}
	return m
}

// match reports whether cmd is the template's, with the host and reason.
func (m maintTemplate) match(cmd remote.Command) (host, reason string, ok bool) {
	if len(cmd) != len(m.elems) {
		return "", "", false
	}
	for i, re := range m.elems {
		sub := re.FindStringSubmatch(cmd[i])
		if sub == nil {
			return "", "", false
		}
		for j, name := range re.SubexpNames() {
			switch name {
			case "host":
				host = sub[j]
			case "reason":
				reason = sub[j]
			}
		}
	}
	return host, reason, true
}
