package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// The end-to-end tests run the lab for real: they need root and the
// packages of hack/install-deps.sh, and fail (never skip) without them.

// labBin is the lab binary built once for the package's tests.
var labBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lab-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	labBin = filepath.Join(dir, "lab")
	if out, err := exec.Command("go", "build", "-o", labBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./hack/lab: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireLab fails the test, naming the fix, when the lab cannot run here.
func requireLab(t *testing.T) {
	t.Helper()
	if err := preflight(); err != nil {
		t.Fatalf("the lab cannot run here: %v", err)
	}
}

// testLab drives one lab through the binary, as the demo and the operator's
// tests do.
type testLab struct {
	t   *testing.T
	dir string
	lab *labstatus.Lab
}

func (l *testLab) run(args ...string) (string, error) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, labBin, append([]string{"--dir", l.dir}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (l *testLab) mustRun(args ...string) string {
	l.t.Helper()
	out, err := l.run(args...)
	if err != nil {
		l.t.Fatalf("lab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (l *testLab) status() *labstatus.Status {
	l.t.Helper()
	cmd := exec.Command(labBin, "--dir", l.dir, "status", "--json", "--events", "-1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		l.t.Fatalf("lab status --json: %v\n%s", err, stderr.String())
	}
	st := &labstatus.Status{}
	if err := json.Unmarshal(out, st); err != nil {
		l.t.Fatalf("decoding status --json: %v\n%s", err, out)
	}
	return st
}

// eventually polls status until check returns nil.
func (l *testLab) eventually(what string, timeout time.Duration, check func(*labstatus.Status) error) *labstatus.Status {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := l.status()
		err := check(st)
		if err == nil {
			return st
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// sshResult is what a command run over ssh returned.
type sshResult struct {
	stdout, stderr string
	code           int
}

// ssh runs a shell command on a host with OpenSSH, exactly the way the
// procedure's operator would (strict host-key checking, the lab's key).
func (l *testLab) sshWith(knownHosts, host, command string) sshResult {
	l.t.Helper()
	h, ok := l.lab.Host(host)
	if !ok {
		l.t.Fatalf("no host %s", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-i", l.lab.Files.PrivateKey, "-o", "UserKnownHostsFile="+knownHosts,
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "-o", "IdentitiesOnly=yes",
		labUser+"@"+h.Address, command)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		l.t.Fatalf("ssh %s: %v", host, err)
	}
	return sshResult{stdout.String(), stderr.String(), code}
}

func (l *testLab) ssh(host, command string) sshResult {
	l.t.Helper()
	return l.sshWith(l.lab.Files.KnownHosts, host, command)
}

func (l *testLab) mustSSH(host, command string) string {
	l.t.Helper()
	r := l.ssh(host, command)
	if r.code != 0 {
		l.t.Fatalf("ssh %s %q: exit %d\nstdout: %s\nstderr: %s", host, command, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// onHosts runs fn for each host concurrently (hosts of a tier act at once).
func onHosts(hosts []string, fn func(host string)) {
	var wg sync.WaitGroup
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(h)
		}()
	}
	wg.Wait()
}

func startLab(t *testing.T, net string, upArgs ...string) (*testLab, time.Duration) {
	t.Helper()
	requireLab(t)
	l := &testLab{t: t, dir: filepath.Join(t.TempDir(), "lab")}
	t.Cleanup(func() {
		if _, err := os.Stat(l.dir); err == nil {
			if out, err := l.run("down"); err != nil {
				t.Errorf("cleanup: lab down: %v\n%s", err, out)
			}
		}
	})
	began := time.Now()
	l.mustRun(append([]string{"up", "--net", net}, upArgs...)...)
	took := time.Since(began)
	lab, err := loadLab(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	l.lab = lab
	return l, took
}

// checkDown runs "lab down" and checks that nothing of the lab is left: no
// process refers to the folder, no mount under it, no folder.
func checkDown(t *testing.T, l *testLab, budget time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	l.mustRun("down")
	took := time.Since(began)
	if took > 2*budget {
		t.Errorf("down took %s; budget %s", took, budget)
	}
	if _, err := os.Stat(l.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lab folder still there after down: %v", err)
	}
	if left := procsReferencing(l.dir); len(left) > 0 {
		var s []string
		for _, p := range left {
			s = append(s, fmt.Sprintf("%d %s", p.pid, p.comm))
		}
		t.Errorf("processes still refer to the lab after down: %v", s)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "mountinfo"))
		if err == nil && bytes.Contains(b, []byte(l.dir)) {
			t.Errorf("process %s still has a mount of the lab", e.Name())
		}
	}
	for _, h := range l.lab.Hosts {
		// Each address's port 22 is free again.
		if err := checkPortsFree([]labstatus.LabHost{h}); err != nil {
			t.Errorf("after down: %v", err)
		}
	}
	return took
}

var (
	agentsHost    = "volhcb20"
	frameworkHost = "volhcb18"
	serviceHosts  = []string{"volhcb15", "volhcb17", "volhcb19"}
	dbHosts       = []string{"volhcb21", "volhcb22", "volhcb23", "volhcb24", "volhcb25", "volhcb26"}
	journalHosts  = []string{"volhcb21", "volhcb22", "volhcb23", "volhcb24"}
	mysqlServer   = "/opt/dirac/pro/mysql/share/mysql/mysql.server"
)

func allSeedHosts() []string {
	return append(append([]string{agentsHost, frameworkHost}, serviceHosts...), dbHosts...)
}

// TestSeedLab runs the procedure document's own commands by hand over ssh on
// the seed lab, Down, power stop, Up, checking every state change through
// "status --json", then every fault verb, then down.
func TestSeedLab(t *testing.T) {
	l, upTook := startLab(t, "127.21", "--topology", "seed", "--dirac", "v8") // the procedure document, written for v8
	t.Logf("budget: seed up, every host reachable: %s (budget 20s)", upTook.Round(time.Millisecond))
	if upTook > 40*time.Second {
		t.Errorf("seed up took %s; budget 20s", upTook)
	}

	initial := l.status()
	original := map[string]map[string]string{} // host → startup links
	t.Run("up", func(t *testing.T) { checkInitial(t, l, initial, original) })
	if t.Failed() {
		return
	}
	t.Run("files", func(t *testing.T) { checkFiles(t, l) })
	t.Run("procedure down", func(t *testing.T) { procedureDown(t, l, original) })
	if t.Failed() {
		return
	}
	var powerOn time.Time
	t.Run("power stop", func(t *testing.T) { powerOn = powerStop(t, l) })
	if t.Failed() {
		return
	}
	t.Run("procedure up", func(t *testing.T) { procedureUp(t, l, original, powerOn) })
	if t.Failed() {
		return
	}
	t.Run("runit commands", func(t *testing.T) { checkRunitCommands(t, l) })
	t.Run("reboot", func(t *testing.T) { faultReboot(t, l) })
	t.Run("freeze thaw", func(t *testing.T) { faultFreeze(t, l) })
	t.Run("kill-sshd start-sshd", func(t *testing.T) { faultKillSSHD(t, l) })
	t.Run("rekey", func(t *testing.T) { faultRekey(t, l) })
	t.Run("break", func(t *testing.T) { faultBreak(t, l) })
	t.Run("break agent", func(t *testing.T) { faultBreakAgent(t, l) })
	t.Run("down", func(t *testing.T) {
		took := checkDown(t, l, 10*time.Second)
		t.Logf("budget: seed down: %s (budget 10s)", took.Round(time.Millisecond))
	})
}

func checkInitial(t *testing.T, l *testLab, st *labstatus.Status, original map[string]map[string]string) {
	if len(st.Hosts) != 11 {
		t.Fatalf("%d hosts, want 11", len(st.Hosts))
	}
	for _, h := range st.Hosts {
		lh, _ := l.lab.Host(h.Name)
		if !h.Booted || !h.Reachable || h.Frozen {
			t.Errorf("%s: booted %v reachable %v (%s) frozen %v", h.Name, h.Booted, h.Reachable, h.ReachError, h.Frozen)
		}
		if h.Maintenance != labstatus.MaintenanceNone {
			t.Errorf("%s: maintenance %q", h.Name, h.Maintenance)
		}
		if len(h.Components) != len(lh.Components) || len(h.Startup) != len(lh.Components) || len(h.StartupSave) != 0 || h.StartupSaveExists {
			t.Errorf("%s: %d components, %d links in startup, %d in startup-save", h.Name, len(h.Components), len(h.Startup), len(h.StartupSave))
		}
		for _, c := range h.Components {
			if c.State != labstatus.StateRun || c.PID == 0 || !c.Supervised || c.LinkIn != labstatus.LinkInStartup {
				t.Errorf("%s %s: %+v", h.Name, c.Name, c)
			}
			if h.Startup[c.Name] != "/opt/dirac/runit/"+strings.Replace(c.Name, "_", "/", 1) {
				t.Errorf("%s: link %s -> %q", h.Name, c.Name, h.Startup[c.Name])
			}
			if len(labstatus.Filter(h.Events, labstatus.EventComponentStart, c.Name)) != 1 {
				t.Errorf("%s: no single component-start event for %s", h.Name, c.Name)
			}
		}
		if h.MySQLD.Present != lh.Database || h.MySQLD.Running != lh.Database {
			t.Errorf("%s: mysqld %+v", h.Name, h.MySQLD)
		}
		if lh.Database && (!h.InnodbLog.Exists || h.InnodbLog.IsLink) {
			t.Errorf("%s: innodb log %+v", h.Name, h.InnodbLog)
		}
		if len(labstatus.Filter(h.Events, labstatus.EventBoot, h.Name)) != 1 {
			t.Errorf("%s: no boot event", h.Name)
		}
		original[h.Name] = h.Startup
	}
	// What the host looks like from an SSH session.
	out := l.mustSSH(frameworkHost, "hostname; id -un; ps -e -o comm= | sort | uniq -c | sort -rn | head -3; command -v runsvctrl runsvstat sms; cat /proc/1/cmdline | tr '\\0' ' '")
	if !strings.HasPrefix(out, frameworkHost+"\n"+labUser+"\n") || !strings.Contains(out, "/usr/local/bin/runsvctrl") {
		t.Errorf("session on %s:\n%s", frameworkHost, out)
	}
	if r := l.ssh("volhcb21", mysqlServer+" status"); r.code != 0 || !strings.Contains(r.stdout, "SUCCESS! MariaDB running") {
		t.Errorf("mysql.server status: %+v", r)
	}
}

func checkFiles(t *testing.T, l *testLab) {
	kh, err := os.ReadFile(l.lab.Files.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(kh)), "\n")
	if len(lines) != 11 || !strings.HasPrefix(lines[0], "127.21.0.1 ssh-ed25519 ") {
		t.Errorf("known_hosts:\n%s", kh)
	}
	secret, err := os.ReadFile(l.lab.Files.Secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: Secret", "name: vobox-lab-ssh", "type: kubernetes.io/ssh-auth", "ssh-privatekey: ", "known_hosts: " + base64.StdEncoding.EncodeToString(kh)} {
		if !strings.Contains(string(secret), want) {
			t.Errorf("secret.yaml lacks %q", want)
		}
	}
	iv, err := os.ReadFile(l.lab.Files.Intervention)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: dirac.vobox.io/v1alpha1", "kind: VOBoxIntervention", "name: power-stop", "state: Down",
		"reason: power stop", "name: vobox-lab-ssh", "user: dirac", "- name: volhcb18\n      address: 127.21.0.3\n      roles: [Framework]",
		"innodbLog:\n      to: /home/dirac/mysql-log\n      hosts: [volhcb21, volhcb22, volhcb23, volhcb24]"} {
		if !strings.Contains(string(iv), want) {
			t.Errorf("intervention.yaml lacks %q:\n%s", want, iv)
		}
	}
}

// tierDown is steps 1 and 2 of the procedure on one host.
func tierDown(t *testing.T, l *testLab, host string) {
	l.mustSSH(host, "runsvctrl d /opt/dirac/startup/*")
	l.eventually(host+" components down", 15*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(host)
		for _, c := range h.Components {
			if c.State != labstatus.StateDown || c.Want != "down" {
				return fmt.Errorf("%s is %s (want %s)", c.Name, c.State, c.Want)
			}
		}
		return nil
	})
	out := l.mustSSH(host, "mkdir /opt/dirac/startup-save\nmv /opt/dirac/startup/* /opt/dirac/startup-save\nps fax | grep run")
	if !strings.Contains(out, "runsvdir -P /opt/dirac/startup") {
		t.Errorf("%s: ps fax | grep run:\n%s", host, out)
	}
}

func procedureDown(t *testing.T, l *testLab, original map[string]map[string]string) {
	// You should put all the machine in maintenance mode.
	onHosts(allSeedHosts(), func(h string) { l.mustSSH(h, "sms set maintenance 'power stop' other "+h) })
	l.eventually("maintenance set", 5*time.Second, func(st *labstatus.Status) error {
		for _, h := range st.Hosts {
			if h.Maintenance != labstatus.MaintenanceSet {
				return fmt.Errorf("%s: %s", h.Name, h.Maintenance)
			}
		}
		return nil
	})

	// 1. stop all agents.
	tierDown(t, l, agentsHost)
	st := l.eventually("agents put aside", 15*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(agentsHost)
		if len(h.Startup) != 0 || !h.StartupSaveExists {
			return fmt.Errorf("startup %v", h.Startup)
		}
		for _, c := range h.Components {
			if c.LinkIn != labstatus.LinkInStartupSave || c.Supervised {
				return fmt.Errorf("%s: link in %s, supervised %v", c.Name, c.LinkIn, c.Supervised)
			}
		}
		return nil
	})
	h, _ := st.Host(agentsHost)
	if fmt.Sprint(h.StartupSave) != fmt.Sprint(original[agentsHost]) {
		t.Errorf("startup-save %v, want %v", h.StartupSave, original[agentsHost])
	}
	for _, c := range h.Components {
		// Graceful: control/t made stop_agent, the agent finished its cycle.
		stops := labstatus.Filter(h.Events, labstatus.EventComponentStop, c.Name)
		if len(stops) != 1 || stops[0].Field("reason") != "stop_agent" {
			t.Errorf("%s: stop events %v", c.Name, stops)
		}
	}

	// 2. stop all services, the Framework host with them.
	onHosts(append([]string{frameworkHost}, serviceHosts...), func(h string) { tierDown(t, l, h) })
	// An operator may keep a manifest in startup-save: status ignores files.
	l.mustSSH(frameworkHost, "echo saved > /opt/dirac/startup-save/.manifest")
	st = l.eventually("services put aside", 15*time.Second, func(st *labstatus.Status) error {
		for _, name := range append([]string{frameworkHost}, serviceHosts...) {
			h, _ := st.Host(name)
			if len(h.Startup) != 0 || fmt.Sprint(h.StartupSave) != fmt.Sprint(original[name]) {
				return fmt.Errorf("%s: startup %v, startup-save %v", name, h.Startup, h.StartupSave)
			}
			for _, c := range h.Components {
				if c.State != labstatus.StateDown || c.Supervised {
					return fmt.Errorf("%s %s: %s supervised %v", name, c.Name, c.State, c.Supervised)
				}
			}
		}
		return nil
	})

	// 3. stop all databases; move the InnoDB journal on 21-24.
	onHosts(dbHosts, func(h string) {
		out := l.mustSSH(h, mysqlServer+" stop")
		if !strings.Contains(out, "SUCCESS!") {
			t.Errorf("%s: mysql.server stop: %s", h, out)
		}
		if r := l.ssh(h, mysqlServer+" status"); r.code != 3 {
			t.Errorf("%s: mysql.server status after stop: exit %d, want 3 (%s)", h, r.code, r.stdout)
		}
	})
	onHosts(journalHosts, func(h string) {
		l.mustSSH(h, "mv /opt/dirac/mysql/log /home/dirac/mysql-log\nln -s /home/dirac/mysql-log /opt/dirac/mysql/log")
	})
	st = l.status()
	for _, name := range dbHosts {
		h, _ := st.Host(name)
		if h.MySQLD.Running {
			t.Errorf("%s: mysqld still running", name)
		}
		moved := strings.Contains(strings.Join(journalHosts, " "), name)
		if h.InnodbLog.IsLink != moved || moved && h.InnodbLog.Target != "/home/dirac/mysql-log" {
			t.Errorf("%s: innodb log %+v", name, h.InnodbLog)
		}
		if n := len(labstatus.Filter(h.Events, labstatus.EventMySQLDStop, "")); n != 1 {
			t.Errorf("%s: %d mysqld-stop events", name, n)
		}
	}
}

// powerStop reboots every host (the servers' power stop) and checks that
// the hosts come back with nothing started but the databases.
func powerStop(t *testing.T, l *testLab) time.Time {
	began := time.Now()
	l.mustRun("reboot", "--all")
	t.Logf("reboot --all: %s", time.Since(began).Round(time.Millisecond))
	// 4. start all databases: should occur automatically.
	l.eventually("databases back on their own", 30*time.Second, func(st *labstatus.Status) error {
		for _, h := range st.Hosts {
			if !h.Reachable {
				return fmt.Errorf("%s unreachable: %s", h.Name, h.ReachError)
			}
			if h.MySQLD.Present && !h.MySQLD.Running {
				return fmt.Errorf("%s: mysqld not running", h.Name)
			}
			for _, c := range h.Components {
				if c.State != labstatus.StateDown || c.LinkIn != labstatus.LinkInStartupSave {
					return fmt.Errorf("%s %s: %s, link in %s", h.Name, c.Name, c.State, c.LinkIn)
				}
			}
			if len(labstatus.Filter(h.Events, labstatus.EventBoot, "")) != 2 || len(labstatus.Filter(h.Events, labstatus.EventReboot, "")) != 1 {
				return fmt.Errorf("%s: no reboot and second boot in the event log", h.Name)
			}
		}
		return nil
	})
	return began
}

// tierUp is "mv /opt/dirac/startup-save/* /opt/dirac/startup" and the check
// that every component runs and logged no error.
func tierUp(t *testing.T, l *testLab, host string) {
	l.mustSSH(host, "mv /opt/dirac/startup-save/* /opt/dirac/startup")
	l.eventually(host+" components running", 20*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(host)
		for _, c := range h.Components {
			if c.State != labstatus.StateRun || c.LinkIn != labstatus.LinkInStartup {
				return fmt.Errorf("%s: %s, link in %s", c.Name, c.State, c.LinkIn)
			}
		}
		return nil
	})
	// check the logs for errors
	if r := l.ssh(host, "grep -h ' ERROR: ' /opt/dirac/startup/*/log/current"); r.code != 1 {
		t.Errorf("%s: errors in the logs (grep exit %d):\n%s", host, r.code, r.stdout)
	}
}

func procedureUp(t *testing.T, l *testLab, original map[string]map[string]string, powerOn time.Time) {
	onHosts(dbHosts, func(h string) { l.mustSSH(h, mysqlServer+" status") })
	tierUp(t, l, frameworkHost)                               // 5.
	onHosts(serviceHosts, func(h string) { tierUp(t, l, h) }) // 6.
	tierUp(t, l, agentsHost)                                  // 7.
	onHosts(allSeedHosts(), func(h string) { l.mustSSH(h, "sms clear maintenance 'power stop' "+h) })

	st := l.status()
	for _, h := range st.Hosts {
		if h.Maintenance != labstatus.MaintenanceClear {
			t.Errorf("%s: maintenance %s", h.Name, h.Maintenance)
		}
		if fmt.Sprint(h.Startup) != fmt.Sprint(original[h.Name]) || len(h.StartupSave) != 0 {
			t.Errorf("%s: startup %v (want %v), startup-save %v", h.Name, h.Startup, original[h.Name], h.StartupSave)
		}
	}
	// The order of the startup, from the hosts' own event logs: databases
	// ran before the Framework services, those before the other services,
	// and services before agents.
	first := func(hosts []string, kind string, latest bool) time.Time {
		var out time.Time
		for _, name := range hosts {
			h, _ := st.Host(name)
			for _, e := range labstatus.Filter(h.Events, kind, "") {
				if e.Time.Before(powerOn) {
					continue
				}
				if out.IsZero() || latest && e.Time.After(out) || !latest && e.Time.Before(out) {
					out = e.Time
				}
			}
		}
		if out.IsZero() {
			t.Fatalf("no %s event on %v after the power stop", kind, hosts)
		}
		return out
	}
	dbReady := first(dbHosts, labstatus.EventMySQLDStart, true)
	fwFirst, fwLast := first([]string{frameworkHost}, labstatus.EventComponentStart, false), first([]string{frameworkHost}, labstatus.EventComponentStart, true)
	svcFirst, svcLast := first(serviceHosts, labstatus.EventComponentStart, false), first(serviceHosts, labstatus.EventComponentStart, true)
	agFirst := first([]string{agentsHost}, labstatus.EventComponentStart, false)
	if !(dbReady.Before(fwFirst) && fwLast.Before(svcFirst) && svcLast.Before(agFirst)) {
		t.Errorf("start order: databases ready %s, framework %s–%s, services %s–%s, agents from %s", dbReady, fwFirst, fwLast, svcFirst, svcLast, agFirst)
	}
	// The ledger: one set then one clear per host, in that order.
	out := l.mustRun("ledger", "--json")
	var ledger []labstatus.LedgerEntry
	if err := json.Unmarshal([]byte(out), &ledger); err != nil {
		t.Fatalf("ledger --json: %v\n%s", err, out)
	}
	if len(ledger) != 22 {
		t.Errorf("ledger has %d entries, want 22", len(ledger))
	}
	seen := map[string]string{}
	for _, e := range ledger {
		target := e.Args[len(e.Args)-1]
		if e.Host != target || e.Args[2] != "power stop" {
			t.Errorf("ledger entry %+v", e)
		}
		if want := map[string]string{"": "set", "set": "clear"}[seen[target]]; e.Action() != want {
			t.Errorf("%s: %s after %q", target, e.Action(), seen[target])
		}
		seen[target] = e.Action()
	}
}

var runsvstatLine = regexp.MustCompile(`^/opt/dirac/startup/[A-Za-z0-9]+_[A-Za-z0-9]+: run \(pid [0-9]+\) [0-9]+ seconds$`)

func checkRunitCommands(t *testing.T, l *testLab) {
	out := l.mustSSH(frameworkHost, "runsvstat /opt/dirac/startup/*")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Errorf("runsvstat printed %d lines:\n%s", len(lines), out)
	}
	for _, line := range lines {
		if !runsvstatLine.MatchString(line) {
			t.Errorf("runsvstat line %q", line)
		}
	}
	out = l.mustSSH(frameworkHost, "runsvstat -l /opt/dirac/startup/Configuration_Server")
	if !regexp.MustCompile(`^/opt/dirac/startup/Configuration_Server: run \(pid \d+\) \d+ seconds\n  log: run \(pid \d+\) \d+ seconds\n$`).MatchString(out) {
		t.Errorf("runsvstat -l:\n%s", out)
	}
	r := l.ssh(frameworkHost, "runsvctrl d /nonexistent /opt/dirac/runit/Framework")
	if r.code != 2 || !strings.Contains(r.stderr, "runsvctrl: warning: /nonexistent: unable to change directory: file does not exist") ||
		!strings.Contains(r.stderr, "runsvctrl: warning: /opt/dirac/runit/Framework: unable to open supervise/control: file does not exist") {
		t.Errorf("runsvctrl on bad dirs: %+v", r)
	}
	if r := l.ssh(frameworkHost, "runsvctrl z /opt/dirac/startup/Configuration_Server"); r.code != 1 || !strings.Contains(r.stderr, "usage: runsvctrl") {
		t.Errorf("runsvctrl z: %+v", r)
	}
	// A link moved back by hand but never supervised yet, seen by runsvstat.
	r = l.ssh("volhcb21", "runsvstat /opt/dirac/startup/*")
	if r.code == 0 {
		t.Errorf("runsvstat of an empty glob succeeded: %+v", r)
	}
}

func faultReboot(t *testing.T, l *testLab) {
	rebootAt := time.Now()
	l.mustRun("reboot", agentsHost, "volhcb21")
	st := l.eventually("rebooted hosts running again", 30*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(agentsHost)
		for _, c := range h.Components {
			if c.State != labstatus.StateRun || c.Seconds > int(time.Since(rebootAt).Seconds())+1 {
				return fmt.Errorf("%s: %s for %ds", c.Name, c.State, c.Seconds)
			}
		}
		db, _ := st.Host("volhcb21")
		if !db.MySQLD.Running || !db.Reachable {
			return errors.New("volhcb21: mysqld not running")
		}
		return nil
	})
	h, _ := st.Host(agentsHost)
	if n := len(labstatus.Filter(h.Events, labstatus.EventBoot, "")); n != 3 {
		t.Errorf("%d boot events on %s, want 3", n, agentsHost)
	}
	// The journal link survived and MariaDB uses it.
	if out := l.mustSSH("volhcb21", "readlink /opt/dirac/mysql/log; ls /home/dirac/mysql-log"); !strings.Contains(out, "/home/dirac/mysql-log\n") || !strings.Contains(out, "ib_logfile0") {
		t.Errorf("journal after reboot: %s", out)
	}
}

func faultFreeze(t *testing.T, l *testLab) {
	host := "volhcb15"
	before, _ := l.status().Host(host)
	l.mustRun("freeze", host)
	began := time.Now()
	r := l.ssh(host, "true")
	if r.code == 0 || time.Since(began) < 2*time.Second {
		t.Errorf("ssh to a frozen host: exit %d after %s: %s", r.code, time.Since(began), r.stderr)
	}
	h, _ := l.status().Host(host)
	if !h.Frozen || h.Reachable {
		t.Errorf("frozen host: frozen %v reachable %v", h.Frozen, h.Reachable)
	}
	l.mustRun("thaw", host)
	l.mustSSH(host, "true")
	h, _ = l.status().Host(host)
	if h.Frozen || !h.Reachable {
		t.Errorf("thawed host: frozen %v reachable %v", h.Frozen, h.Reachable)
	}
	for i, c := range h.Components {
		if c.State != labstatus.StateRun || c.PID != before.Components[i].PID {
			t.Errorf("%s after thaw: %s pid %d (was %d)", c.Name, c.State, c.PID, before.Components[i].PID)
		}
	}
	if len(labstatus.Filter(h.Events, labstatus.EventFreeze, host)) != 1 || len(labstatus.Filter(h.Events, labstatus.EventThaw, host)) != 1 {
		t.Error("no freeze and thaw events")
	}
}

func faultKillSSHD(t *testing.T, l *testLab) {
	host := "volhcb17"
	l.mustRun("kill-sshd", host)
	if r := l.ssh(host, "true"); r.code != 255 || !strings.Contains(r.stderr, "refused") {
		t.Errorf("ssh after kill-sshd: %+v", r)
	}
	h, _ := l.status().Host(host)
	if h.Reachable {
		t.Error("reachable without sshd")
	}
	for _, c := range h.Components {
		if c.State != labstatus.StateRun {
			t.Errorf("%s: %s after kill-sshd", c.Name, c.State)
		}
	}
	l.mustRun("start-sshd", host)
	l.mustSSH(host, "true")
	h, _ = l.status().Host(host)
	if len(labstatus.Filter(h.Events, labstatus.EventKillSSHD, "")) != 1 || len(labstatus.Filter(h.Events, labstatus.EventSSHDExit, "")) != 1 {
		t.Errorf("events: %v", h.Events[len(h.Events)-3:])
	}
}

func faultRekey(t *testing.T, l *testLab) {
	host := "volhcb19"
	oldKH := filepath.Join(t.TempDir(), "known_hosts.old")
	b, err := os.ReadFile(l.lab.Files.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(oldKH, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// A session open across the rekey is dropped.
	session := make(chan sshResult, 1)
	go func() { session <- l.ssh(host, "echo started; sleep 120.5; echo survived") }()
	// Rekey only once the session runs (a busy machine may take seconds to
	// log in); the pattern does not match the pgrep's own command line.
	deadline := time.Now().Add(30 * time.Second)
	for l.ssh(host, "pgrep -f 'sleep 12[0].5'").code != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the session across the rekey never started")
		}
		time.Sleep(200 * time.Millisecond)
	}
	l.mustRun("rekey", host)
	select {
	case r := <-session:
		if r.code == 0 || strings.Contains(r.stdout, "survived") {
			t.Errorf("session across rekey: %+v", r)
		}
	case <-time.After(60 * time.Second):
		t.Error("session not dropped by rekey")
	}
	if r := l.sshWith(oldKH, host, "true"); r.code != 255 || !strings.Contains(r.stderr, "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("old known_hosts after rekey: %+v", r)
	}
	l.mustSSH(host, "true")
	// Other hosts keep their keys; the Secret carries the new known_hosts.
	l.mustSSH(frameworkHost, "true")
	nb, _ := os.ReadFile(l.lab.Files.KnownHosts)
	secret, _ := os.ReadFile(l.lab.Files.Secret)
	if bytes.Equal(b, nb) || !strings.Contains(string(secret), base64.StdEncoding.EncodeToString(nb)) {
		t.Error("known_hosts or secret.yaml not rewritten")
	}
	h, _ := l.status().Host(host)
	if len(labstatus.Filter(h.Events, labstatus.EventRekey, host)) != 1 {
		t.Error("no rekey event")
	}
}

// componentState polls until the component is in state (run or down).
func componentState(t *testing.T, l *testLab, host, comp, state string, timeout time.Duration) labstatus.ComponentStatus {
	t.Helper()
	var out labstatus.ComponentStatus
	l.eventually(host+" "+comp+" "+state, timeout, func(st *labstatus.Status) error {
		h, _ := st.Host(host)
		out, _ = h.Component(comp)
		if out.State != state {
			return fmt.Errorf("%s", out.State)
		}
		return nil
	})
	return out
}

func faultBreak(t *testing.T, l *testLab) {
	host := "volhcb15"
	dir := "/opt/dirac/startup/"
	errs, nostop, slow := "WorkloadManagement_JobManager", "WorkloadManagement_JobMonitoring", "WorkloadManagement_Matcher"
	l.mustRun("break", host, errs, "errors")
	l.mustRun("break", host, nostop, "nostop")
	l.mustRun("break", host, slow, "slowstop=2")
	if _, err := l.run("break", host, "Nope_Nothing", "errors"); err == nil {
		t.Error("break of an unknown component succeeded")
	}
	if _, err := l.run("break", host, errs, "slowstop=x"); err == nil {
		t.Error("break with a bad mode succeeded")
	}

	// errors: ERROR lines when it starts again.
	l.mustSSH(host, "runsvctrl t "+dir+errs)
	l.eventually("restarted with errors", 10*time.Second, func(*labstatus.Status) error {
		if r := l.ssh(host, "grep -c ' ERROR: ' "+dir+errs+"/log/current"); r.code != 0 {
			return errors.New("no ERROR line yet")
		}
		return nil
	})

	// nostop and slowstop=2.
	began := time.Now()
	l.mustSSH(host, "runsvctrl d "+dir+nostop+" "+dir+slow)
	time.Sleep(time.Second)
	// Only nostop is sampled: on a busy machine the status may come later
	// than slowstop's 2 s, which is checked from its timing and event below.
	st := l.status()
	h, _ := st.Host(host)
	if c, _ := h.Component(nostop); c.State != labstatus.StateRun || c.Want != "down" || !c.GotTerm {
		t.Errorf("%s one second after d: %+v", nostop, c)
	}
	componentState(t, l, host, slow, labstatus.StateDown, 10*time.Second)
	if took := time.Since(began); took < 2*time.Second {
		t.Errorf("slowstop=2 stopped in %s", took)
	}
	time.Sleep(time.Second)
	if c := componentState(t, l, host, nostop, labstatus.StateRun, time.Second); c.Want != "down" {
		t.Errorf("nostop: %+v", c)
	}
	l.mustSSH(host, "runsvctrl k "+dir+nostop)
	componentState(t, l, host, nostop, labstatus.StateDown, 5*time.Second)
	h, _ = l.status().Host(host)
	if e := labstatus.Filter(h.Events, labstatus.EventComponentStop, slow); len(e) == 0 || e[len(e)-1].Field("delay") != "2" {
		t.Errorf("slowstop events: %v", e)
	}
	if e := labstatus.Filter(h.Events, labstatus.EventComponentExit, nostop); len(e) == 0 || e[len(e)-1].Field("signal") != "9" {
		t.Errorf("nostop exit events: %v", e)
	}
	if c, _ := h.Component(nostop); c.Break != "nostop" {
		t.Errorf("break not in status: %+v", c)
	}

	// none: back to normal.
	for _, c := range []string{errs, nostop, slow} {
		l.mustRun("break", host, c, "none")
	}
	l.mustSSH(host, "runsvctrl u "+dir+"*")
	for _, c := range []string{nostop, slow} {
		componentState(t, l, host, c, labstatus.StateRun, 10*time.Second)
	}
}

func faultBreakAgent(t *testing.T, l *testLab) {
	host, agent := agentsHost, "WorkloadManagement_SiteDirector"
	link := "/opt/dirac/startup/" + agent
	l.mustRun("break", host, agent, "nostop")
	l.mustSSH(host, "runsvctrl d "+link)
	time.Sleep(5 * time.Second) // two cycles and more
	if c := componentState(t, l, host, agent, labstatus.StateRun, time.Second); c.Want != "down" {
		t.Errorf("nostop agent: %+v", c)
	}
	if out := l.mustSSH(host, "grep 'Found StopAgent file' "+link+"/log/current"); !strings.Contains(out, "Found StopAgent file for agent WorkloadManagement/SiteDirector: ignoring it") {
		t.Errorf("agent log:\n%s", out)
	}
	l.mustSSH(host, "runsvctrl k "+link)
	componentState(t, l, host, agent, labstatus.StateDown, 5*time.Second)
	l.mustRun("break", host, agent, "none")
	l.mustSSH(host, "runsvctrl u "+link)
	componentState(t, l, host, agent, labstatus.StateRun, 10*time.Second)
}

// TestScaledLab brings up a small scaled topology (the shape the benchmarks
// use at 200 hosts) and checks roles, reachability and down.
func TestScaledLab(t *testing.T) {
	l, took := startLab(t, "127.29", "--hosts", "20")
	t.Logf("up --hosts 20: %s", took.Round(time.Millisecond))
	st := l.status()
	roles := map[string]int{}
	for _, h := range st.Hosts {
		roles[h.Roles[0]]++
		if !h.Reachable {
			t.Errorf("%s unreachable: %s", h.Name, h.ReachError)
		}
		for _, c := range h.Components {
			if c.State != labstatus.StateRun {
				t.Errorf("%s %s: %s", h.Name, c.Name, c.State)
			}
		}
		if h.MySQLD.Present != (h.Roles[0] == labstatus.RoleDatabase) || h.MySQLD.Present && !h.MySQLD.Running {
			t.Errorf("%s: mysqld %+v", h.Name, h.MySQLD)
		}
	}
	want := map[string]int{labstatus.RoleDatabase: 1, labstatus.RoleFramework: 1, labstatus.RoleServices: 6, labstatus.RoleAgents: 12}
	if fmt.Sprint(roles) != fmt.Sprint(want) {
		t.Errorf("roles %v, want %v", roles, want)
	}
	// A second lab on the same addresses is refused with a clear message.
	other := filepath.Join(t.TempDir(), "other")
	out, err := exec.Command(labBin, "--dir", other, "up", "--hosts", "20", "--net", "127.29").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another lab uses the same --net") {
		t.Errorf("second lab on 127.29: %v\n%s", err, out)
	}
	// So is a second up in the same folder.
	if out, err := l.run("up", "--hosts", "20", "--net", "127.30"); err == nil || !strings.Contains(out, "already holds a lab") {
		t.Errorf("second up in the same folder: %v\n%s", err, out)
	}
	checkDown(t, l, 10*time.Second)
}

// TestNotRoot checks the message a user without root gets.
func TestNotRoot(t *testing.T) {
	requireLab(t)
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", labBin, "--dir", t.TempDir(), "up", "--topology", "seed")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "must run as root") || !strings.Contains(string(out), fixCommand) {
		t.Errorf("lab up as nobody: %v\n%s", err, out)
	}
}
