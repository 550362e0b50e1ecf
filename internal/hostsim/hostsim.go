// Package hostsim simulates VOBox hosts for tests: it runs the operator's
// real commands and scripts with os/exec, each host in a temporary
// directory of its own, so that the procedure's script tests and the
// controller's envtest suite both assert on a host's resulting state.
package hostsim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The host simulator runs the controller's real commands and scripts with
// os/exec, each host in a temporary directory of its own. Paths under Root
// in an argv are rewritten to the host's directory, and the host's bin/ comes
// first on PATH with small shell versions of what a VOBox has: runit 1.x's
// runsvstat and runsvctrl, a runsvdir that picks up and drops links, ps,
// sms and mysql.server. Everything they change is a file, so tests assert on
// the host's state (links, supervise state, events), not on the commands.

// Root is the fake absolute prefix of every path the intervention names.
const Root = "/vbsim"

// BootIDPath is the kernel's boot id; a simulated host reads its own
// (state/boot_id), new at every Reboot.
const BootIDPath = "/proc/sys/kernel/random/boot_id"

// The paths of a simulated host, as the intervention names them.
const (
	DiracRoot   = Root + "/dirac"
	MysqlServer = Root + "/mysql/mysql.server"
	JournalFrom = Root + "/mysql/log"
	JournalTo   = Root + "/home/mysql-log"
)

// simEventPrologue appends "nanos kind subject" lines to the host's event log.
const simEventPrologue = `ev() { printf '%s %s %s\n' "$(date +%s%N)" "$1" "$2" >> "$SIM_DIR/events.log"; }
`

// simTools are the host's fake programs, by name.
var simTools = map[string]string{
	// sim-start DIR: runsv starts the service of DIR (log lines, event).
	"sim-start": `#!/bin/sh
` + simEventPrologue + `d=$1
comp=${d##*/}; sys=${d%/*}; sys=${sys##*/}
echo run > "$d/supervise/stat"; date +%s > "$d/supervise/since"
ts=$(date -u '+%Y-%m-%d %H:%M:%S')
printf '%s UTC %s/%s INFO: Starting %s\n' "$ts" "$sys" "$comp" "$comp" >> "$d/log/current"
if grep -qx errors "$d/sim-fault" 2>/dev/null; then
  printf '%s UTC %s/%s ERROR: Cannot get the configuration\n' "$ts" "$sys" "$comp" >> "$d/log/current"
  printf 'Traceback (most recent call last):\n  File "dirac.py", line 42, in <module>\n' >> "$d/log/current"
fi
ev component-start "${sys}_${comp}"
`,
	// sim-runsvdir: runsvdir's scan of startup/, run before every command. A
	// new link gets its runsv one scan after it appears; a removed link's
	// runsv gets TERM, stops the service and exits.
	"sim-runsvdir": `#!/bin/sh
` + simEventPrologue + `root=$SIM_DIR/dirac
[ -d "$root/runit" ] || exit 0
linked=
# A slow mysqld comes up two seconds after mysql.server start.
if [ -f "$SIM_DIR/state/mysqld.starting" ] && [ "$(date +%s)" -ge "$(cat "$SIM_DIR/state/mysqld.starting")" ]; then
  mv "$SIM_DIR/state/mysqld.starting" "$SIM_DIR/state/mysqld.running"; ev mysqld-start mysqld
fi
# A component that ignored runsvctrl d exits once its fault is gone.
for d in "$root"/runit/*/*; do
  [ -f "$d/supervise/stat" ] || continue
  read -r st < "$d/supervise/stat"; read -r since < "$d/supervise/since"
  if [ "$st" = stopping ] && ! grep -qx nostop "$d/sim-fault" 2>/dev/null; then
    comp=${d##*/}; sys=${d%/*}; sys=${sys##*/}
    echo down > "$d/supervise/stat"; date +%s > "$d/supervise/since"; ev component-stop "${sys}_${comp}"
  fi
done
for l in "$root"/startup/*; do
  [ -L "$l" ] && [ -d "$l" ] || continue
  d=$(cd "$l" && pwd -P)
  linked="$linked|$d|"
  [ -d "$d/supervise" ] && continue
  if [ -e "$d/supervise-pending" ]; then
    rm -f "$d/supervise-pending"; mkdir "$d/supervise"
    if [ -e "$d/down" ]; then echo down > "$d/supervise/stat"; date +%s > "$d/supervise/since"; else "$SIM_DIR/bin/sim-start" "$d"; fi
  else
    : > "$d/supervise-pending"
  fi
done
for d in "$root"/runit/*/*; do
  [ -d "$d" ] || continue
  d=$(cd "$d" && pwd -P)
  case $linked in *"|$d|"*) continue;; esac
  rm -f "$d/supervise-pending"
  [ -d "$d/supervise" ] || continue
  read -r st < "$d/supervise/stat"; read -r since < "$d/supervise/since"
  comp=${d##*/}; sys=${d%/*}; sys=${sys##*/}
  if [ "$st" != down ]; then ev component-term "${sys}_${comp}"; fi
  rm -rf "$d/supervise"
done
`,
	"runsvstat": `#!/bin/sh
rc=0; now=$(date +%s)
for d; do
  if [ ! -d "$d" ]; then echo "runsvstat: warning: $d: unable to change directory: file does not exist" >&2; rc=$((rc+1)); continue; fi
  if [ ! -d "$d/supervise" ]; then echo "runsvstat: warning: $d: unable to open supervise/ok: file does not exist" >&2; rc=$((rc+1)); continue; fi
  read -r st < "$d/supervise/stat"; read -r since < "$d/supervise/since"
  secs=$((now - since))
  case $st in
  run) if grep -qx crash "$d/sim-fault" 2>/dev/null; then secs=0; fi; echo "$d: run (pid 4242) $secs seconds";;
  stopping) echo "$d: run (pid 4242) $secs seconds, want down";;
  *) echo "$d: down $secs seconds, normally up";;
  esac
done
exit $rc
`,
	"runsvctrl": `#!/bin/sh
` + simEventPrologue + `c=$1; shift; rc=0
for d; do
  if [ ! -d "$d/supervise" ]; then echo "runsvctrl: warning: $d: unable to open supervise/control: file does not exist" >&2; rc=$((rc+1)); continue; fi
  read -r st < "$d/supervise/stat"; read -r since < "$d/supervise/since"
  real=$(cd "$d" && pwd -P); comp=${real##*/}; sys=${real%/*}; sys=${sys##*/}; comp=${sys}_$comp
  case $c in
  d) [ "$st" = run ] || continue
     if grep -qx nostop "$d/sim-fault" 2>/dev/null; then echo stopping > "$d/supervise/stat"; ev component-wantdown "$comp"
     else echo down > "$d/supervise/stat"; date +%s > "$d/supervise/since"; ev component-stop "$comp"; fi;;
  k) [ "$st" = down ] && continue
     echo down > "$d/supervise/stat"; date +%s > "$d/supervise/since"; ev component-kill "$comp";;
  u) case $st in
     run) ;;
     stopping) echo run > "$d/supervise/stat";;
     *) "$SIM_DIR/bin/sim-start" "$real";;
     esac;;
  *) echo "usage: runsvctrl u|d|k service ..." >&2; exit 1;;
  esac
done
exit $rc
`,
	// sleep lets runsvdir scan while a probe waits on the host.
	"sleep": `#!/bin/sh
"$SIM_DIR/bin/sim-runsvdir"
PATH=${PATH#*:} exec sleep "$@"
`,
	"ps": `#!/bin/sh
echo init; echo sshd; echo runsvdir
[ -f "$SIM_DIR/state/mysqld.running" ] && echo mariadbd
exit 0
`,
	"sms": `#!/bin/sh
` + simEventPrologue + `mkdir -p "$SIM_DIR/state/maintenance"
case "$1 $2" in
"set maintenance") printf '%s\n' "$3" > "$SIM_DIR/state/maintenance/$5"; ev maintenance-set "$5";;
"clear maintenance") rm -f "$SIM_DIR/state/maintenance/$4"; ev maintenance-clear "$4";;
*) echo "usage: sms set|clear maintenance REASON [other] HOST" >&2; exit 2;;
esac
`,
}

// simMysqlScript is the host's mysql.server.
const simMysqlScript = `#!/bin/sh
` + simEventPrologue + `s=$SIM_DIR/state/mysqld.running
case $1 in
start)
  ev mysql.server-start mysqld
  if [ -f "$SIM_DIR/state/mysql-broken" ]; then echo "Starting MariaDB. ERROR! The server quit without updating PID file"; exit 1; fi
  if [ -f "$SIM_DIR/state/mysql-slow" ]; then
    [ -f "$s" ] || [ -f "$SIM_DIR/state/mysqld.starting" ] || echo $(( $(date +%s) + 2 )) > "$SIM_DIR/state/mysqld.starting"
    echo "Starting MariaDB. SUCCESS! (still starting)"; exit 0
  fi
  if [ ! -f "$s" ]; then : > "$s"; ev mysqld-start mysqld; fi
  echo "Starting MariaDB. SUCCESS!";;
stop)
  if [ ! -f "$s" ]; then echo " ERROR! MariaDB server PID file could not be found!"; exit 1; fi
  rm -f "$s"; ev mysqld-stop mysqld; echo "Shutting down MariaDB. SUCCESS!";;
status)
  if [ -f "$s" ]; then echo " SUCCESS! MariaDB running"; exit 0; fi
  echo " ERROR! MariaDB is not running"; exit 3;;
*) echo "Usage: mysql.server {start|stop|status}"; exit 1;;
esac
`

// Component is one DIRAC component of a simulated host.
type Component struct {
	// Link is System_Component, e.g. WorkloadManagement_JobMonitoring.
	Link string
	// Agent makes its run script exec dirac-agent.
	Agent bool
	// Down means an administrator stopped it before the intervention.
	Down bool
	// Fault is "", "errors" (logs errors on start), "nostop" (ignores
	// runsvctrl d) or "crash" (restarts every second).
	Fault string
}

// Host is one simulated VOBox.
type Host struct {
	name string
	dir  string
	// Shell, when set, runs what would run with sh (dash, bash), so that
	// the scripts are tested with each.
	Shell string
	// DB is a database host (mysql.server, mysqld, the InnoDB journal).
	DB bool

	mu sync.Mutex // one command at a time, like runsvdir's scan
	// Commands counts the commands (SSH sessions) run on the host.
	Commands atomic.Int64
}

// NewHost builds a host with its components running, their links in
// startup, and, for a database host, mysqld running and the InnoDB journal in
// place.
func NewHost(t testing.TB, name string, db bool, comps ...Component) *Host {
	t.Helper()
	h := &Host{name: name, dir: t.TempDir(), DB: db}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("sim host %s: %v", name, err)
		}
	}
	must(os.MkdirAll(h.Path("bin"), 0o755))
	for tool, script := range simTools {
		must(os.WriteFile(h.Path("bin", tool), []byte(script), 0o755))
	}
	must(os.MkdirAll(h.Path("dirac", "startup"), 0o755))
	must(os.MkdirAll(h.Path("dirac", "runit"), 0o755))
	must(os.MkdirAll(h.Path("state"), 0o755))
	must(os.MkdirAll(h.Path("home"), 0o755))
	must(os.MkdirAll(h.Path("mysql"), 0o755))
	if db {
		must(os.WriteFile(h.Path("mysql", "mysql.server"), []byte(simMysqlScript), 0o755))
		must(os.MkdirAll(h.Path("mysql", "log"), 0o755))
		must(os.WriteFile(h.Path("mysql", "log", "ib_logfile0"), []byte("journal"), 0o644))
		must(os.WriteFile(h.Path("state", "mysqld.running"), nil, 0o644))
	}
	must(h.newBootID())
	for _, c := range comps {
		h.AddComponent(t, c)
	}
	return h
}

// newBootID gives the host a new boot id.
func (h *Host) newBootID() error {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	id := fmt.Sprintf("%x-%x-%x-%x-%x\n", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	return os.WriteFile(h.Path("state", "boot_id"), []byte(id), 0o644)
}

// BootID returns the host's current boot id.
func (h *Host) BootID(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(h.Path("state", "boot_id"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Reboot power-cycles the host: a new boot id; every runsv starts afresh,
// so every link in startup runs again (unless its service has a down
// file) and the others are unsupervised; mysqld comes back, as a boot
// starts it.
func (h *Host) Reboot(t testing.TB) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.newBootID(); err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(h.Path("dirac", "runit", "*", "*"))
	for _, d := range dirs {
		_ = os.RemoveAll(filepath.Join(d, "supervise"))
		_ = os.Remove(filepath.Join(d, "supervise-pending"))
	}
	env := append(os.Environ(), "PATH="+h.Path("bin")+":"+os.Getenv("PATH"), "SIM_DIR="+h.dir)
	for name, target := range h.Links(t, "startup") {
		d := filepath.Join(h.Path("dirac", "startup"), target)
		if filepath.IsAbs(target) {
			d = strings.Replace(target, Root+"/", h.dir+"/", 1)
		}
		if err := os.MkdirAll(filepath.Join(d, "supervise"), 0o755); err != nil {
			t.Fatalf("sim host %s: %s: %v", h.name, name, err)
		}
		if _, err := os.Stat(filepath.Join(d, "down")); err == nil {
			_ = os.WriteFile(filepath.Join(d, "supervise", "stat"), []byte("down\n"), 0o644)
			_ = os.WriteFile(filepath.Join(d, "supervise", "since"), []byte(fmt.Sprintf("%d\n", time.Now().Unix())), 0o644)
			continue
		}
		start := exec.Command(h.Path("bin", "sim-start"), d)
		start.Env = env
		if out, err := start.CombinedOutput(); err != nil {
			t.Fatalf("sim host %s: starting %s at boot: %v: %s", h.name, name, err, out)
		}
	}
	if h.DB {
		_ = os.Remove(h.Path("state", "mysqld.starting"))
		if err := os.WriteFile(h.Path("state", "mysqld.running"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// AddComponent installs a component, running (or down) for 100 seconds, with
// an old error in its log that no scan of a new start may report.
func (h *Host) AddComponent(t testing.TB, c Component) {
	t.Helper()
	sys, comp, ok := strings.Cut(c.Link, "_")
	if !ok {
		t.Fatalf("component link %q is not System_Component", c.Link)
	}
	dir := h.Path("dirac", "runit", sys, comp)
	if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "supervise"), 0o755); err != nil {
		t.Fatal(err)
	}
	kind := "dirac-service"
	if c.Agent {
		kind = "dirac-agent"
	}
	files := map[string]string{
		"run":             fmt.Sprintf("#!/bin/bash\nsource /opt/dirac/bashrc\nexec 2>&1\nexec %s %s/%s -o LogLevel=INFO\n", kind, sys, comp),
		"log/current":     "2001-01-01 00:00:00 UTC " + sys + "/" + comp + " ERROR: an old error, before the intervention\n",
		"supervise/stat":  map[bool]string{true: "down", false: "run"}[c.Down] + "\n",
		"supervise/since": fmt.Sprintf("%d\n", time.Now().Unix()-100),
	}
	if c.Fault != "" {
		files["sim-fault"] = c.Fault + "\n"
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../runit/"+sys+"/"+comp, h.Path("dirac", "startup", c.Link)); err != nil {
		t.Fatal(err)
	}
}

// Path is a path inside the host's directory.
func (h *Host) Path(elem ...string) string {
	return filepath.Join(append([]string{h.dir}, elem...)...)
}

// SetFault sets or clears a component's fault.
func (h *Host) SetFault(t testing.TB, link, fault string) {
	t.Helper()
	sys, comp, _ := strings.Cut(link, "_")
	f := h.Path("dirac", "runit", sys, comp, "sim-fault")
	if fault == "" {
		_ = os.Remove(f)
		return
	}
	if err := os.WriteFile(f, []byte(fault+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Run executes one command the way sshd would, on this host.
func (h *Host) Run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Commands.Add(1)
	if len(cmd) == 0 {
		return remote.Result{}, &remote.InvalidRequestError{Field: "command", Msg: "empty"}
	}
	env := append(os.Environ(), "PATH="+h.Path("bin")+":"+os.Getenv("PATH"), "SIM_DIR="+h.dir)
	tick := exec.CommandContext(ctx, h.Path("bin", "sim-runsvdir"))
	tick.Env = env
	if out, err := tick.CombinedOutput(); err != nil {
		return remote.Result{}, fmt.Errorf("sim host %s: runsvdir scan failed: %v: %s", h.name, err, out)
	}
	argv := make([]string, len(cmd))
	for i, a := range cmd {
		argv[i] = strings.ReplaceAll(strings.ReplaceAll(a, Root+"/", h.dir+"/"), BootIDPath, h.Path("state", "boot_id"))
	}
	if argv[0] == "sh" && h.Shell != "" {
		argv[0] = h.Shell
	}
	prog := argv[0]
	if !strings.Contains(prog, "/") {
		if _, err := os.Stat(h.Path("bin", prog)); err == nil {
			prog = h.Path("bin", prog)
		}
	}
	c := exec.CommandContext(ctx, prog, argv[1:]...)
	c.Env = env
	c.Dir = h.dir
	// As behind the executor's watchdog: the command leads a process group,
	// and a session cut (the context ending) kills the whole group; what the
	// command detached from it (setsid) lives on, and its hold on the
	// output pipes is not waited for.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 100 * time.Millisecond
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	err := c.Run()
	// The host sees its own paths as Root: map them back.
	unmap := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(h.dir+"/"), []byte(Root+"/")) }
	res := remote.Result{Stdout: unmap(stdout.Bytes()), Stderr: unmap(stderr.Bytes()), Duration: time.Since(start)}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.ExitCode = -1
		return res, &remote.TimeoutError{Host: h.name + ":22", Op: "command", After: res.Duration, Err: ctx.Err()}
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	case err != nil:
		// The program does not exist: the remote shell's 127.
		res.ExitCode, res.Stderr = 127, []byte(fmt.Sprintf("sh: 1: %s: not found\n", cmd[0]))
	}
	return res, nil
}

// Links returns the links of startup or startup-save, name → target.
func (h *Host) Links(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(h.Path("dirac", dir))
	if errors.Is(err, os.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(h.Path("dirac", dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = target
	}
	return out
}

// SvState returns "run", "down", "stopping" or "unsupervised".
func (h *Host) SvState(t testing.TB, link string) string {
	t.Helper()
	sys, comp, _ := strings.Cut(link, "_")
	b, err := os.ReadFile(h.Path("dirac", "runit", sys, comp, "supervise", "stat"))
	if errors.Is(err, os.ErrNotExist) {
		return "unsupervised"
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))[0]
}

// ComponentDown reports whether a component's process is gone.
func (h *Host) ComponentDown(t testing.TB, link string) bool {
	st := h.SvState(t, link)
	return st == "down" || st == "unsupervised"
}

// MysqldRunning reports whether the host's mysqld runs.
func (h *Host) MysqldRunning() bool {
	_, err := os.Stat(h.Path("state", "mysqld.running"))
	return err == nil
}

// Journal returns where the InnoDB journal directory is: "dir" in place, or
// "link:<target>".
func (h *Host) Journal(t testing.TB) string {
	t.Helper()
	fi, err := os.Lstat(h.Path("mysql", "log"))
	if err != nil {
		return "none"
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(h.Path("mysql", "log"))
		return "link:" + target
	}
	return "dir"
}

// Event is one line of a host's event log.
type Event struct {
	At      int64
	Host    string
	Kind    string
	Subject string
}

// String shows an event as host:kind:subject.
func (e Event) String() string { return e.Host + ":" + e.Kind + ":" + e.Subject }

// Events returns the host's event log.
func (h *Host) Events(t testing.TB) []Event {
	t.Helper()
	f, err := os.Open(h.Path("events.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var out []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		at, _ := strconv.ParseInt(fields[0], 10, 64)
		out = append(out, Event{At: at, Host: h.name, Kind: fields[1], Subject: fields[2]})
	}
	return out
}

// Cluster is the set of hosts behind one fake executor, by address.
type Cluster struct {
	mu sync.Mutex
	// Hosts are the simulated hosts by address.
	Hosts map[string]*Host
	// unreachable hosts refuse connections.
	unreachable map[string]bool
}

func NewCluster(hosts ...*Host) *Cluster {
	c := &Cluster{Hosts: map[string]*Host{}, unreachable: map[string]bool{}}
	for _, h := range hosts {
		c.Hosts[h.name] = h
	}
	return c
}

// Executor is the fake the reconciler gets.
func (c *Cluster) Executor() *remote.Fake {
	return &remote.Fake{RunFunc: func(ctx context.Context, target remote.Target, cmd remote.Command) (remote.Result, error) {
		if target.Credentials == nil {
			return remote.Result{}, &remote.InvalidRequestError{Field: "target.credentials", Msg: "nil"}
		}
		c.mu.Lock()
		h, down := c.Hosts[target.Address], c.unreachable[target.Address]
		c.mu.Unlock()
		if h == nil || down {
			return remote.Result{}, &remote.ConnectionError{Host: target.Address + ":22", Op: "dial", Err: errors.New("connect: no route to host")}
		}
		return h.Run(ctx, cmd)
	}}
}

// Commands counts the commands run on every host.
func (c *Cluster) Commands() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, h := range c.Hosts {
		n += h.Commands.Load()
	}
	return n
}

// Events merges the hosts' event logs in time order.
func (c *Cluster) Events(t testing.TB) []Event {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []Event
	for _, h := range c.Hosts {
		all = append(all, h.Events(t)...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].At < all[j].At })
	return all
}

// InMaintenance reports whether some host recorded host as in maintenance.
func (c *Cluster) InMaintenance(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.Hosts {
		if _, err := os.Stat(h.Path("state", "maintenance", host)); err == nil {
			return true
		}
	}
	return false
}
