package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// Unit tests of the site profiles (lab up --dirac, --runit, --mysql, …).

func TestResolveProfile(t *testing.T) {
	parse := func(args ...string) (labstatus.Profile, error) {
		t.Helper()
		o, err := parseArgs(append([]string{"up"}, args...))
		if err != nil {
			t.Fatal(err)
		}
		return resolveProfile(o)
	}
	// The defaults are DIRAC v9 (noise on), since the operator reads v9
	// logs (issue 15).
	pr, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	want := labstatus.Profile{Dirac: "v9", Runit: "local", MySQL: "dirac", AgentCycle: "2s", AgentWork: "1s", Noise: true}
	if pr != want {
		t.Errorf("defaults: got %+v, want %+v", pr, want)
	}
	pr, err = parse("--dirac", "v9", "--runit", "sbin", "--mysql", "system", "--agent-cycle", "60s", "--agent-work", "45s")
	if err != nil {
		t.Fatal(err)
	}
	want = labstatus.Profile{Dirac: "v9", Runit: "sbin", MySQL: "system", AgentCycle: "1m0s", AgentWork: "45s", Noise: true}
	if pr != want {
		t.Errorf("v9: got %+v, want %+v", pr, want)
	}
	if pr, _ := parse("--dirac", "v9", "--noise", "off"); pr.Noise {
		t.Error("--noise off ignored")
	}
	if pr, _ := parse("--noise", "on"); !pr.Noise {
		t.Error("--noise on ignored")
	}
	for _, bad := range [][]string{{"--dirac", "v7"}, {"--runit", "usr"}, {"--mysql", "docker"}, {"--noise", "yes"},
		{"--agent-cycle", "1ms"}, {"--agent-work", "-1s"}} {
		if _, err := parse(bad...); err == nil {
			t.Errorf("%v accepted", bad)
		} else if _, ok := err.(usageError); !ok {
			t.Errorf("%v: %v is not a usage error", bad, err)
		}
	}
}

func TestV9Components(t *testing.T) {
	for _, tc := range []struct{ in, want []string }{
		{[]string{"Configuration_Server", "Framework_SystemAdministrator", "Framework_ProxyManager", "Framework_BundleDelivery"},
			[]string{"Configuration_Server", "Framework_SystemAdministrator", "Tornado_Tornado"}},
		{[]string{"WorkloadManagement_JobManager", "WorkloadManagement_JobMonitoring", "WorkloadManagement_SandboxStore"},
			[]string{"Tornado_Tornado", "WorkloadManagement_SandboxStore"}},
		{[]string{"WorkloadManagement_SiteDirector", "DataManagement_FTS3Agent"},
			[]string{"WorkloadManagement_SiteDirector", "DataManagement_FTS3Agent"}},
	} {
		if got := v9Components(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("v9Components(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestRunitFiles checks the shapes against ComponentInstaller.py, and that
// every generated script passes shellcheck.
func TestRunitFiles(t *testing.T) {
	agent := labstatus.LabComponent{Name: "WorkloadManagement_SiteDirector", System: "WorkloadManagement", Component: "SiteDirector",
		Kind: labstatus.KindAgent, RunitDir: "/opt/dirac/runit/WorkloadManagement/SiteDirector"}
	cs := labstatus.LabComponent{Name: "Configuration_Server", System: "Configuration", Component: "Server",
		Kind: labstatus.KindService, RunitDir: "/opt/dirac/runit/Configuration/Server"}
	tornado := labstatus.LabComponent{Name: tornadoLink, System: "Tornado", Component: "Tornado",
		Kind: labstatus.KindService, RunitDir: "/opt/dirac/runit/Tornado/Tornado"}
	v8 := labstatus.Profile{Dirac: labstatus.DiracV8}
	v9 := labstatus.Profile{Dirac: labstatus.DiracV9}
	dir := t.TempDir()
	check := func(c labstatus.LabComponent, pr labstatus.Profile, execLine string, finish bool) {
		t.Helper()
		files := runitFiles(c, pr)
		run := files[c.RunitDir+"/run"]
		for _, want := range []string{"#!/bin/bash\n", "[[ -e ${rcfile} ]] && source ${rcfile}", "exec 2>&1\n", execLine} {
			if !strings.Contains(run, want) && !(c.Name == tornadoLink && strings.HasPrefix(want, "[[")) {
				t.Errorf("%s %s run lacks %q:\n%s", pr.Dirac, c.Name, want, run)
			}
		}
		if got := files[c.RunitDir+"/log/config"]; got != "\ns10000000\nn20\n" {
			t.Errorf("log/config = %q", got)
		}
		if got := files[c.RunitDir+"/log/run"]; !strings.HasSuffix(got, "exec svlogd .\n") || !strings.HasPrefix(got, "#!/bin/bash\n") {
			t.Errorf("log/run = %q", got)
		}
		if _, ok := files[c.RunitDir+"/finish"]; ok != finish {
			t.Errorf("%s %s: finish present %v, want %v", pr.Dirac, c.Name, ok, finish)
		}
		for path, content := range files {
			if !strings.HasPrefix(content, "#!") {
				continue
			}
			f := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "_"))
			if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			// SC1090: the rc file is sourced by a computed path; SC2050:
			// DIRAC's own constant test, [[ "agent" = "agent" ]].
			if out, err := exec.Command("shellcheck", "-e", "SC1090,SC2050", f).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", path, err, out)
			}
		}
	}
	check(agent, v9, "exec dirac-agent WorkloadManagement/SiteDirector --cfg /opt/dirac/pro/etc/WorkloadManagement_SiteDirector.cfg < /dev/null\n", false)
	check(agent, v8, "exec dirac-agent WorkloadManagement/SiteDirector", true)
	check(cs, v9, "exec tornado-start-CS -ddd\n", false)
	check(cs, v8, "exec dirac-service Configuration/Server", true)
	check(tornado, v9, "exec tornado-start-all\n", false)
	if got := runitFiles(agent, v9)[agent.RunitDir+"/control/t"]; !strings.Contains(got, "touch /opt/dirac/control/WorkloadManagement/SiteDirector/stop_agent\n") {
		t.Errorf("control/t = %q", got)
	}
}

func TestEmbeddedScriptsShellcheck(t *testing.T) {
	scripts, _ := filepath.Glob("scripts/*")
	if len(scripts) < 3 {
		t.Fatalf("scripts: %v", scripts)
	}
	if out, err := exec.Command("shellcheck", scripts...).CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

func TestNewBootID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := newBootID(), newBootID()
	if !re.MatchString(a) || !re.MatchString(b) || a == b {
		t.Errorf("boot ids %q %q", a, b)
	}
}

func TestSudoersRule(t *testing.T) {
	p := labPaths{t.TempDir()}
	for _, d := range []string{p.toolsDir(), p.localSbinDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(p.binary(), []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.localSbinDir(), "lab-mysqld"), []byte("script"), 0o755); err != nil {
		t.Fatal(err)
	}
	rule, err := sudoersRule(p)
	if err != nil {
		t.Fatal(err)
	}
	// sha256("binary") and sha256("script"): the rule pins the lab's programs.
	for _, want := range []string{"dirac ALL=(root) NOPASSWD: ",
		"sha256:9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd /sbin/reboot",
		"sha256:9a3a45d01531a20e89ac6ae10b0b0beb0492acd7216a368aa062d1a5fecaf9cd /usr/sbin/reboot",
		"sha256:21a0270b7f66a1e4c25933f13a1e5a1bbb4757578072930c8189131f9c6aaae1 " + labMysqldPath + " start"} {
		if !strings.Contains(rule, want) {
			t.Errorf("rule lacks %q:\n%s", want, rule)
		}
	}
	for _, verb := range []string{"start", "stop"} {
		if !strings.Contains(rule, labMysqldPath+" "+verb) {
			t.Errorf("rule lacks lab-mysqld %s:\n%s", verb, rule)
		}
	}
	if _, err := exec.LookPath("visudo"); err == nil {
		f := filepath.Join(p.dir, "rule")
		if err := os.WriteFile(f, []byte(rule), 0o440); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("visudo", "-c", "-q", "-f", f).CombinedOutput(); err != nil {
			t.Errorf("visudo: %v\n%s", err, out)
		}
	}
}

// Log lines as DIRAC writes them (BaseFormatter): v9 with microseconds and
// Z, v8 with " UTC".
var (
	v9Line = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d{6}Z [A-Za-z]+/[A-Za-z0-9]+ (ALWAYS|NOTICE|INFO|VERBOSE|DEBUG|WARN|ERROR|FATAL): `)
	v8Line = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC [A-Za-z]+/[A-Za-z0-9]+ (ALWAYS|NOTICE|INFO|VERBOSE|DEBUG|WARN|ERROR|FATAL): `)
)

// checkLogLines checks that every timestamped line of a log has the
// release's format; lines that are not DIRAC's own (renice's, a message's
// continuation) start with neither form.
func checkLogLines(t *testing.T, what, log string, want *regexp.Regexp) {
	t.Helper()
	other := v8Line
	if want == v8Line {
		other = v9Line
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		if other.MatchString(line) {
			t.Errorf("%s: line of the other release's format: %q", what, line)
		}
		if want.MatchString(line) {
			n++
		}
	}
	if n == 0 {
		t.Errorf("%s: no line in the expected format:\n%s", what, log)
	}
}

// TestProfileLab runs a seed lab of a modern site: DIRAC v9, the runit 1.x
// tools only in /sbin, the system's MariaDB behind sudo, agents with long
// cycles; and checks boot ids, the in-host reboot, the stale stop_agent,
// log formats, the Configuration Server dependency and log rotation.
func TestProfileLab(t *testing.T) {
	l, _ := startLab(t, "127.23", "--topology", "seed", "--dirac", "v9", "--runit", "sbin", "--mysql", "system",
		"--agent-cycle", "8s", "--agent-work", "6s")
	if l.lab.Profile.Dirac != "v9" || l.lab.Profile.Runit != "sbin" || l.lab.Profile.MySQL != "system" || !l.lab.Profile.Noise {
		t.Fatalf("lab.json profile %+v", l.lab.Profile)
	}
	st := l.status()
	t.Run("boot ids", func(t *testing.T) {
		seen := map[string]string{}
		for _, h := range st.Hosts {
			if h.BootID == "" {
				t.Errorf("%s: no boot id in status", h.Name)
			}
			if other, dup := seen[h.BootID]; dup {
				t.Errorf("%s and %s share boot id %s", h.Name, other, h.BootID)
			}
			seen[h.BootID] = h.Name
		}
		for _, name := range []string{agentsHost, "volhcb21"} {
			h, _ := st.Host(name)
			if got := strings.TrimSpace(l.mustSSH(name, "cat /proc/sys/kernel/random/boot_id")); got != h.BootID {
				t.Errorf("%s: boot_id reads %q, status says %q", name, got, h.BootID)
			}
		}
		machine, _ := os.ReadFile(bootIDPath)
		if _, dup := seen[strings.TrimSpace(string(machine))]; dup {
			t.Error("a host has the machine's boot id")
		}
	})
	t.Run("v9 layout", func(t *testing.T) {
		fw, _ := st.Host(frameworkHost)
		if !slices.Equal(sortedKeys(fw.Startup), []string{"Configuration_Server", "Framework_SystemAdministrator", tornadoLink}) {
			t.Errorf("%s links: %v", frameworkHost, sortedKeys(fw.Startup))
		}
		out := l.mustSSH(frameworkHost, "cat /opt/dirac/runit/Configuration/Server/run; ls /opt/dirac/runit/*/*/finish 2>&1; ps -e -o args= | grep -c '^/bin/bash /usr/local/bin/tornado-start-CS'")
		if !strings.Contains(out, "exec tornado-start-CS -ddd") || !strings.Contains(out, "No such file") || !strings.HasSuffix(out, "1\n") {
			t.Errorf("CS run, finish, process:\n%s", out)
		}
	})
	t.Run("runit sbin", func(t *testing.T) {
		r := l.ssh(agentsHost, "command -v runsvctrl runsvstat")
		if r.code == 0 {
			t.Errorf("runit tools on the session's PATH: %s", r.stdout)
		}
		out := l.mustSSH(agentsHost, "/sbin/runsvstat /opt/dirac/startup/DataManagement_FTS3Agent")
		if !strings.Contains(out, ": run (pid ") {
			t.Errorf("/sbin/runsvstat: %s", out)
		}
	})
	t.Run("logs", func(t *testing.T) {
		// The Tornado and the SystemAdministrator started with the CS:
		// whichever came before its lock logged the CS error (a race, as
		// on a real Framework host); the services log NOTICE RPC noise.
		out := l.mustSSH(frameworkHost, "cat /opt/dirac/runit/Tornado/Tornado/log/current")
		checkLogLines(t, "Tornado", out, v9Line)
		if !regexp.MustCompile(`(?m) Tornado/Tornado NOTICE: Returning response \S+ \(\d+\.\d\d secs\) ERROR: `).MatchString(out) {
			t.Errorf("no NOTICE Returning response … ERROR: line:\n%s", out)
		}
		out = l.mustSSH(agentsHost, "cat /opt/dirac/runit/WorkloadManagement/SiteDirector/log/current")
		checkLogLines(t, "SiteDirector", out, v9Line)
		for _, want := range []string{" NOTICE: Loaded agent module WorkloadManagement/SiteDirector\n", " NOTICE:  Polling time: 8 seconds\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("SiteDirector log lacks %q", want)
			}
		}
		// The CS up: a restarted service logs no CS error.
		restart := "/sbin/runsvctrl t /opt/dirac/startup/Framework_SystemAdministrator; sleep 1.5; grep -c \"Can't update from any server\" /opt/dirac/runit/Framework/SystemAdministrator/log/current"
		before := strings.TrimSpace(l.ssh(frameworkHost, "grep -c \"Can't update from any server\" /opt/dirac/runit/Framework/SystemAdministrator/log/current").stdout)
		if after := strings.TrimSpace(l.ssh(frameworkHost, restart).stdout); after != before {
			t.Errorf("CS up: a restart logged the CS error (%s → %s)", before, after)
		}
		// The CS down: it does.
		l.mustSSH(frameworkHost, "/sbin/runsvctrl d /opt/dirac/startup/Configuration_Server; sleep 0.5")
		out = l.ssh(frameworkHost, restart+"; tail -n 30 /opt/dirac/runit/Framework/SystemAdministrator/log/current").stdout
		if !regexp.MustCompile(`Framework/SystemAdministrator WARN: Can't update from server Error while updating from https://volhcb18:9135/Configuration/Server: `).MatchString(out) ||
			!regexp.MustCompile(`Framework/SystemAdministrator ERROR: Can't update from any server Reason\(s\):\n\t`).MatchString(out) {
			t.Errorf("CS down: no CS error lines:\n%s", out)
		}
		l.mustSSH(frameworkHost, "/sbin/runsvctrl u /opt/dirac/startup/Configuration_Server")
	})
	t.Run("rotation", func(t *testing.T) {
		l.mustRun("rotate", agentsHost, "WorkloadManagement_SiteDirector")
		out := l.mustSSH(agentsHost, "cd /opt/dirac/runit/WorkloadManagement/SiteDirector/log && cat config && ls && cat @*.s | grep -c 'Loaded agent module'")
		if !regexp.MustCompile(`(?m)^@[0-9a-f]{24}\.s$`).MatchString(out) || !strings.HasSuffix(out, "1\n") || !strings.HasPrefix(out, "\ns10000000\nn20\n") {
			t.Errorf("rotated log:\n%s", out)
		}
		h, _ := l.status().Host(agentsHost)
		if len(labstatus.Filter(h.Events, labstatus.EventRotate, "WorkloadManagement_SiteDirector")) != 1 {
			t.Error("no rotate event")
		}
	})
	t.Run("system mysql", func(t *testing.T) { checkSystemMySQL(t, l) })
	t.Run("agent cycles", func(t *testing.T) { checkAgentCycles(t, l) })
	t.Run("stale stop_agent", func(t *testing.T) { checkStaleStopAgent(t, l) })
	t.Run("in-host reboot", func(t *testing.T) { checkInHostReboot(t, l, agentsHost) })
	t.Run("in-host reboot of a database", func(t *testing.T) { checkInHostReboot(t, l, "volhcb22") })
	t.Run("down", func(t *testing.T) {
		sudoers := labPaths{l.dir}.sudoersPath()
		if _, err := os.Stat(sudoers); err != nil {
			t.Errorf("sudoers rule: %v", err)
		}
		checkDown(t, l, 10*time.Second)
		if _, err := os.Stat(sudoers); !os.IsNotExist(err) {
			t.Errorf("sudoers rule left after down: %v", err)
		}
	})
}

func checkSystemMySQL(t *testing.T, l *testLab) {
	const db = "volhcb21"
	out := l.mustSSH(db, "ls /opt/dirac; ls /opt/dirac/pro/mysql 2>&1; ps -o user= -C mariadbd; mysqladmin ping")
	if strings.Contains(out, "\nmysql\n") && strings.Contains(out, "share") || !strings.Contains(out, "No such file") ||
		!strings.Contains(out, "\nmysql\nmysqld is alive\n") {
		t.Errorf("system MariaDB on %s:\n%s", db, out)
	}
	if r := l.ssh(db, "sudo -n /bin/true"); r.code == 0 {
		t.Error("sudo lets dirac run anything")
	}
	l.mustSSH(db, "sudo /usr/local/sbin/lab-mysqld stop")
	h, _ := l.status().Host(db)
	if h.MySQLD.Running {
		t.Errorf("mysqld still running after sudo lab-mysqld stop")
	}
	if r := l.ssh(db, "mysqladmin ping"); r.code == 0 {
		t.Errorf("mysqladmin ping answers with mysqld stopped: %s", r.stdout)
	}
	if r := l.ssh(db, "sudo /usr/local/sbin/lab-mysqld status"); r.code != 3 {
		t.Errorf("status of a stopped server: exit %d", r.code)
	}
	l.mustSSH(db, "sudo /usr/local/sbin/lab-mysqld start && mysqladmin ping")
	h, _ = l.status().Host(db)
	if !h.MySQLD.Running {
		t.Errorf("mysqld not running after sudo lab-mysqld start")
	}
	var kinds []string
	for _, e := range h.Events {
		if e.Kind == labstatus.EventMySQLServer || e.Kind == labstatus.EventMySQLDStart || e.Kind == labstatus.EventMySQLDStop {
			kinds = append(kinds, e.Kind+" "+e.Subject+" "+e.Detail)
		}
	}
	// The boot's start by root (init, as systemd would), then dirac's
	// stop and start through sudo.
	if len(kinds) != 6 || kinds[0] != "mysql.server start by=root" || kinds[2] != "mysql.server stop by=dirac" ||
		!strings.HasPrefix(kinds[3], "mysqld-stop mysqld pid=") || kinds[4] != "mysql.server start by=dirac" ||
		!strings.HasPrefix(kinds[5], "mysqld-start mysqld pid=") {
		t.Errorf("events: %q", kinds)
	}
}

// checkAgentCycles: with an 8 s PollingTime and 6 s of work, a stop asked
// during a cycle waits for its end; one asked while idle is seen within 5 s.
func checkAgentCycles(t *testing.T, l *testLab) {
	const agent = "WorkloadManagement_StalledJobAgent"
	dir := "/opt/dirac/startup/" + agent
	log := "/opt/dirac/runit/WorkloadManagement/StalledJobAgent/log/current"
	// Wait for a cycle to start, then ask.
	l.mustSSH(agentsHost, fmt.Sprintf("n=$(grep -c 'Starting cycle' %[1]s); while [ $(grep -c 'Starting cycle' %[1]s) = $n ]; do sleep 0.1; done", log))
	asked := time.Now()
	l.mustSSH(agentsHost, "/sbin/runsvctrl d "+dir)
	st := l.eventually(agent+" stopped", 20*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(agentsHost)
		if c, _ := h.Component(agent); c.State != labstatus.StateDown {
			return fmt.Errorf("%s", c.State)
		}
		return nil
	})
	took := time.Since(asked)
	if took < 4*time.Second {
		t.Errorf("an agent asked during its 6 s cycle stopped after %s: the cycle was interrupted", took)
	}
	h, _ := st.Host(agentsHost)
	stops := labstatus.Filter(h.Events, labstatus.EventComponentStop, agent)
	if len(stops) != 1 || stops[0].Detail != "reason=stop_agent" {
		t.Errorf("component-stop events: %v", stops)
	}
	// Idle: start, wait for the cycle's end, ask; seen within 5 s (+ slack).
	l.mustSSH(agentsHost, "/sbin/runsvctrl u "+dir)
	l.mustSSH(agentsHost, fmt.Sprintf("n=$(grep -c 'Cycle was successful' %[1]s); while [ $(grep -c 'Cycle was successful' %[1]s) = $n ]; do sleep 0.1; done", log))
	asked = time.Now()
	l.mustSSH(agentsHost, "/sbin/runsvctrl d "+dir)
	l.eventually(agent+" stopped while idle", 10*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(agentsHost)
		if c, _ := h.Component(agent); c.State != labstatus.StateDown {
			return fmt.Errorf("%s", c.State)
		}
		return nil
	})
	if took := time.Since(asked); took > 6500*time.Millisecond {
		t.Errorf("an idle agent took %s to see stop_agent (at most 5 s)", took)
	}
	l.mustSSH(agentsHost, "/sbin/runsvctrl u "+dir)
}

// checkStaleStopAgent: a stop_agent left behind makes the next start exit
// at once; the agent removes it, runit starts it again, and it runs.
func checkStaleStopAgent(t *testing.T, l *testLab) {
	const agent = "DataManagement_FTS3Agent"
	dir := "/opt/dirac/startup/" + agent
	ctl := "/opt/dirac/control/DataManagement/FTS3Agent/stop_agent"
	killed := time.Now()
	l.mustSSH(agentsHost, "/sbin/runsvctrl k "+dir+"; /sbin/runsvctrl d "+dir)
	l.eventually(agent+" down, its kill logged", 10*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(agentsHost)
		if c, _ := h.Component(agent); c.State != labstatus.StateDown {
			return fmt.Errorf("%s", c.State)
		}
		// No ./finish on v9: the host's init logs the SIGKILLed exit.
		for _, e := range labstatus.Filter(h.Events, labstatus.EventComponentExit, agent) {
			if e.Time.After(killed) {
				if e.Detail != "code=-1 signal=9" {
					return fmt.Errorf("exit %q after runsvctrl k", e.Detail)
				}
				return nil
			}
		}
		return fmt.Errorf("no component-exit after runsvctrl k")
	})
	since := time.Now()
	l.mustSSH(agentsHost, "touch "+ctl+" && /sbin/runsvctrl u "+dir)
	st := l.eventually(agent+" running again", 15*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(agentsHost)
		var starts int
		for _, e := range labstatus.Filter(h.Events, labstatus.EventComponentStart, agent) {
			if e.Time.After(since) {
				starts++
			}
		}
		if c, _ := h.Component(agent); c.State != labstatus.StateRun || starts != 2 {
			return fmt.Errorf("%s, %d starts", c.State, starts)
		}
		return nil
	})
	h, _ := st.Host(agentsHost)
	var seq []string
	for _, e := range h.Events {
		if e.Subject == agent && e.Time.After(since) {
			seq = append(seq, e.Kind+" "+strings.Fields(e.Detail + " -")[0])
		}
	}
	want := []string{"component-start pid=", "component-stop reason=stop_agent", "component-exit code=0", "component-start pid="}
	if len(seq) != 4 || !strings.HasPrefix(seq[0], want[0]) || seq[1] != want[1] || seq[2] != want[2] || !strings.HasPrefix(seq[3], want[3]) {
		t.Errorf("events after the stale stop_agent: %q, want %q", seq, want)
	}
	if r := l.ssh(agentsHost, "test -e "+ctl); r.code == 0 {
		t.Error("stop_agent still there")
	}
}

// checkInHostReboot: "sudo /sbin/reboot" over the host's own SSH session
// power-cycles it like lab reboot: new boot id, the same host key (strict
// checking against the lab's known_hosts), the startup links started again.
func checkInHostReboot(t *testing.T, l *testLab, host string) {
	before, _ := l.status().Host(host)
	began := time.Now()
	r := l.ssh(host, "sudo /sbin/reboot; echo rebooting")
	if r.code != 0 && r.code != 255 {
		t.Fatalf("sudo /sbin/reboot: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	st := l.eventually(host+" back", 30*time.Second, func(st *labstatus.Status) error {
		h, _ := st.Host(host)
		if h.BootID == before.BootID || !h.Reachable {
			return fmt.Errorf("boot id %s, reachable %v (%s)", h.BootID, h.Reachable, h.ReachError)
		}
		for _, c := range h.Components {
			if c.State != labstatus.StateRun || c.Seconds > int(time.Since(began).Seconds())+1 {
				return fmt.Errorf("%s: %s for %ds", c.Name, c.State, c.Seconds)
			}
		}
		if h.MySQLD.Present && !h.MySQLD.Running {
			return fmt.Errorf("mysqld not running")
		}
		return nil
	})
	h, _ := st.Host(host)
	if got := strings.TrimSpace(l.mustSSH(host, "cat /proc/sys/kernel/random/boot_id")); got != h.BootID {
		t.Errorf("boot_id reads %q, status %q", got, h.BootID)
	}
	reboots := labstatus.Filter(h.Events, labstatus.EventReboot, host)
	if len(reboots) == 0 || reboots[len(reboots)-1].Detail != "by=dirac" {
		t.Errorf("reboot events: %v", reboots)
	}
	boots := labstatus.Filter(h.Events, labstatus.EventBoot, host)
	if len(boots) < 2 || boots[len(boots)-1].Detail != "bootId="+h.BootID {
		t.Errorf("boot events: %v", boots)
	}
	if h.MySQLD.Present {
		l.mustSSH(host, "mysqladmin ping")
	}
}

// TestSVLab runs a scaled v8 lab with only runit 2's sv: no runit 1.x tool
// anywhere, sv works and is logged; lab reboot gives a new boot id.
func TestSVLab(t *testing.T) {
	l, _ := startLab(t, "127.24", "--hosts", "4", "--runit", "sv", "--dirac", "v8")
	agents := ""
	for _, h := range l.lab.Hosts {
		if h.HasRole(labstatus.RoleAgents) {
			agents = h.Name
		}
	}
	r := l.ssh(agents, "ls /usr/local/bin/runsvctrl /sbin/runsvctrl /usr/sbin/runsvstat /usr/local/bin/runsvstat 2>&1; command -v sv")
	if strings.Count(r.stdout, "No such file") != 4 || !strings.HasSuffix(r.stdout, "/usr/bin/sv\n") {
		t.Errorf("tools:\n%s", r.stdout)
	}
	h, _ := l.lab.Host(agents)
	c := h.Components[0]
	out := l.mustSSH(agents, "sv status /opt/dirac/startup/"+c.Name+"; sv down /opt/dirac/startup/"+c.Name+"; sv -w 15 status /opt/dirac/startup/"+c.Name)
	if !strings.HasPrefix(out, "run: /opt/dirac/startup/"+c.Name+": (pid ") {
		t.Errorf("sv:\n%s", out)
	}
	st := l.eventually(c.Name+" down", 15*time.Second, func(st *labstatus.Status) error {
		hs, _ := st.Host(agents)
		if cs, _ := hs.Component(c.Name); cs.State != labstatus.StateDown {
			return fmt.Errorf("%s", cs.State)
		}
		return nil
	})
	hs, _ := st.Host(agents)
	if ev := labstatus.Filter(hs.Events, labstatus.EventSV, "down"); len(ev) != 1 || ev[0].Detail != "/opt/dirac/startup/"+c.Name {
		t.Errorf("sv events: %v", ev)
	}
	// v8: DIRAC's older timestamps, and the lab's finish hook.
	logs := l.mustSSH(agents, "cat /opt/dirac/runit/"+c.System+"/"+c.Component+"/log/current")
	checkLogLines(t, c.Name, logs, v8Line)
	if ev := labstatus.Filter(hs.Events, labstatus.EventComponentExit, c.Name); len(ev) != 1 {
		t.Errorf("component-exit events: %v", ev)
	}
	before := hs.BootID
	l.mustRun("reboot", agents)
	hs, _ = l.status().Host(agents)
	if hs.BootID == "" || hs.BootID == before {
		t.Errorf("boot id %q before lab reboot, %q after", before, hs.BootID)
	}
	checkDown(t, l, 10*time.Second)
}
