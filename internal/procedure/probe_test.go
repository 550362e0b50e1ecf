package procedure

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/hostsim"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

func TestParseSvState(t *testing.T) {
	cases := []struct {
		line string
		want SvState
	}{
		{"run (pid 123) 45 seconds", SvState{Running: true, Supervised: true, Seconds: 45}},
		{"run (pid 123) 0 seconds, normally down", SvState{Running: true, Supervised: true}},
		{"run (pid 9) 2 seconds, want down", SvState{Running: true, WantDown: true, Supervised: true, Seconds: 2}},
		{"run (pid 9) 7 seconds, want down, got TERM", SvState{Running: true, WantDown: true, Supervised: true, Seconds: 7}},
		{"run (pid 9) 3 seconds, paused", SvState{Running: true, Supervised: true, Seconds: 3}},
		{"finish (pid 7) 1 seconds", SvState{Running: true, Supervised: true, Seconds: 1}},
		{"down 3 seconds, normally up", SvState{Supervised: true, Seconds: 3}},
		{"down 86400 seconds", SvState{Supervised: true, Seconds: 86400}},
		{"down 0 seconds, normally up, want up", SvState{Supervised: true, WantUp: true}},
		{"warning: /opt/dirac/startup/WorkloadManagement_JobMonitoring: unable to open supervise/ok: file does not exist", SvState{}},
		{"warning: /opt/dirac/startup/Framework_SystemAdministrator: runsv not running.", SvState{}},
		{"warning: /opt/dirac/startup/X: unable to change directory: file does not exist", SvState{}},
		{"runsvstat: not found", SvState{Unknown: true}},
		{"", SvState{Unknown: true}},
		{"warning: /opt/dirac/startup/X: unable to open supervise/ok: access denied", SvState{Unknown: true}},
		{"sh: 1: runsvstat: Permission denied", SvState{Unknown: true}},
		{"run (pid 1) many seconds", SvState{Running: true, Supervised: true}},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			tc.want.Raw = tc.line
			if got := ParseSvState(tc.line); got != tc.want {
				t.Errorf("ParseSvState(%q) = %+v, want %+v", tc.line, got, tc.want)
			}
		})
	}
}

func TestParseProbe(t *testing.T) {
	manifestText := manifestHeader + "\n" +
		"Framework_SystemAdministrator\t/opt/dirac/runit/Framework/SystemAdministrator\tservice\tup\trestore\n" +
		"WorkloadManagement_SiteDirector\t/opt/dirac/runit/WorkloadManagement/SiteDirector\tagent\tdown\texcluded\n"
	var manifestOut strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(manifestText, "\n"), "\n") {
		manifestOut.WriteString("manifest\t" + l + "\n")
	}
	cases := []struct {
		name    string
		out     string
		want    *Probe
		wantErr string
	}{
		{
			name: "services host, one link parked, one running, one not supervised",
			out: "now\t1700000000\nboot\t6f1c0d3e-55aa-4c8e-9b0e-2f3a7c1d9e01\nroot\tok\n" +
				"startup\tFramework_SystemAdministrator\t/opt/dirac/runit/Framework/SystemAdministrator\n" +
				"stat\tFramework_SystemAdministrator\trun (pid 812) 3600 seconds\n" +
				"startup\tWorkloadManagement_JobMonitoring\t/opt/dirac/runit/WorkloadManagement/JobMonitoring\n" +
				"stat\tWorkloadManagement_JobMonitoring\twarning: /opt/dirac/startup/WorkloadManagement_JobMonitoring: unable to open supervise/ok: file does not exist\n" +
				"startup\tWorkloadManagement_SiteDirector\t/opt/dirac/runit/WorkloadManagement/SiteDirector\n" +
				"stat\tWorkloadManagement_SiteDirector\tdown 12 seconds, normally up\n" +
				"agent\tWorkloadManagement_SiteDirector\n" +
				"startup-save\tDataManagement_FileCatalog\t/opt/dirac/runit/DataManagement/FileCatalog\n" +
				manifestOut.String() +
				"a-line-from-a-newer-script\twith\tfields\n",
			want: &Probe{
				Now: 1700000000, BootID: "6f1c0d3e-55aa-4c8e-9b0e-2f3a7c1d9e01", RootExists: true,
				Startup: map[string]string{
					"Framework_SystemAdministrator":    "/opt/dirac/runit/Framework/SystemAdministrator",
					"WorkloadManagement_JobMonitoring": "/opt/dirac/runit/WorkloadManagement/JobMonitoring",
					"WorkloadManagement_SiteDirector":  "/opt/dirac/runit/WorkloadManagement/SiteDirector",
				},
				Save: map[string]string{"DataManagement_FileCatalog": "/opt/dirac/runit/DataManagement/FileCatalog"},
				State: map[string]SvState{
					"Framework_SystemAdministrator": {Raw: "run (pid 812) 3600 seconds", Running: true, Supervised: true, Seconds: 3600},
					"WorkloadManagement_JobMonitoring": {
						Raw: "warning: /opt/dirac/startup/WorkloadManagement_JobMonitoring: unable to open supervise/ok: file does not exist"},
					"WorkloadManagement_SiteDirector": {Raw: "down 12 seconds, normally up", Supervised: true, Seconds: 12},
				},
				AgentScript: map[string]bool{"WorkloadManagement_SiteDirector": true},
				Manifest: &Manifest{Entries: []ManifestEntry{
					{Name: "Framework_SystemAdministrator", Target: "/opt/dirac/runit/Framework/SystemAdministrator", Class: ClassService, WasUp: true},
					{Name: "WorkloadManagement_SiteDirector", Target: "/opt/dirac/runit/WorkloadManagement/SiteDirector", Class: ClassAgent, Excluded: true},
				}},
			},
		},
		{
			name: "database host, journal moved",
			out: "now\t1700000000\nroot\tok\nmysql\tpresent\nmysqld\trunning\n" +
				"jfrom\tlink\t/home/dirac/mysql-log\njto\tdir\n",
			want: &Probe{Now: 1700000000, RootExists: true, Startup: map[string]string{}, Save: map[string]string{},
				State: map[string]SvState{}, AgentScript: map[string]bool{}, MysqlPresent: true, MysqldUp: true,
				Journal: "link", JournalTarget: "/home/dirac/mysql-log", JournalTo: "dir"},
		},
		{
			name: "database host, no mysql.server, journal in place",
			out:  "now\t1700000000\nroot\tok\nmysql\tmissing\nmysqld\tstopped\njfrom\tdir\njto\tnone\n",
			want: &Probe{Now: 1700000000, RootExists: true, Startup: map[string]string{}, Save: map[string]string{},
				State: map[string]SvState{}, AgentScript: map[string]bool{}, Journal: "dir", JournalTo: "none"},
		},
		{
			name: "no DIRAC root",
			out:  "now\t1700000000\nroot\tmissing\n",
			want: &Probe{Now: 1700000000, Startup: map[string]string{}, Save: map[string]string{},
				State: map[string]SvState{}, AgentScript: map[string]bool{}},
		},
		{
			name: "empty manifest (header only) is a manifest",
			out:  "now\t1\nroot\tok\nmanifest\t" + manifestHeader + "\n",
			want: &Probe{Now: 1, RootExists: true, Startup: map[string]string{}, Save: map[string]string{},
				State: map[string]SvState{}, AgentScript: map[string]bool{}, Manifest: &Manifest{}},
		},
		{name: "cut short", out: "now\t1700000000\n", wantErr: "incomplete"},
		{name: "empty", out: "", wantErr: "incomplete"},
		{name: "bad manifest", out: "root\tok\nmanifest\tname\ttarget\n", wantErr: "want 5 tab-separated fields"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseProbe([]byte(tc.out))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseProbe error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseProbe: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseProbe =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := &Manifest{Entries: []ManifestEntry{
		{Name: "WorkloadManagement_SiteDirector", Target: "/opt/dirac/runit/WorkloadManagement/SiteDirector", Class: ClassAgent, WasUp: true, Excluded: true},
		{Name: "Framework_SystemAdministrator", Target: "/opt/dirac/runit/Framework/SystemAdministrator", Class: ClassService, WasUp: true},
		{Name: "DataManagement_FTS3Agent", Target: "../runit/DataManagement/FTS3Agent", Class: ClassAgent},
	}}
	text := m.Encode()
	if !strings.HasPrefix(text, manifestHeader+"\n") || !strings.HasSuffix(text, "\n") {
		t.Fatalf("encode() = %q: want the header first and a final newline", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if !slices.IsSorted(lines[1:]) {
		t.Errorf("encode() lines are not sorted by name: %q", lines)
	}
	got, err := ParseManifest(lines)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(m.Entries)
	slices.SortFunc(want, func(a, b ManifestEntry) int { return strings.Compare(a.Name, b.Name) })
	if !reflect.DeepEqual(got.Entries, want) {
		t.Errorf("round trip = %+v, want %+v", got.Entries, want)
	}
	if m.Encode() != text {
		t.Error("encode is not deterministic")
	}
	if e := got.Entry("Framework_SystemAdministrator"); e == nil || e.Class != ClassService {
		t.Errorf("entry() = %+v", e)
	}
	if got.Entry("Nope") != nil {
		t.Error("entry of an unknown name is not nil")
	}
	if ManifestName("1234-abcd") != ".vobox-manifest-1234-abcd" {
		t.Errorf("manifestName = %q", ManifestName("1234-abcd"))
	}
}

func TestParseFindings(t *testing.T) {
	long := strings.Repeat("x", 300)
	out := "finding\tFramework_A\t2024-01-01 10:00:00 UTC Framework/A ERROR: boom\n" +
		"noise\n" +
		"finding\tFramework_B\tTraceback (most recent call last):\n" +
		"finding\tFramework_C\t" + long + "\n" +
		"finding\tbroken\n"
	got := ParseFindings([]byte(out))
	want := []string{
		"Framework_A: 2024-01-01 10:00:00 UTC Framework/A ERROR: boom",
		"Framework_B: Traceback (most recent call last):",
		"Framework_C: " + strings.Repeat("x", 200),
	}
	if !slices.Equal(got, want) {
		t.Errorf("ParseFindings = %q, want %q", got, want)
	}
	if ParseFindings(nil) != nil {
		t.Error("no output gives findings")
	}
}

// The scripts, run for real with sh against a simulated host.

func runSim(t *testing.T, h *hostsim.Host, cmd remote.Command) remote.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := h.Run(ctx, cmd)
	if err != nil {
		t.Fatalf("%s: %v", cmd[min(len(cmd)-1, 3)], err)
	}
	return res
}

func probeSim(t *testing.T, h *hostsim.Host, manifestFile string, db bool) *Probe {
	t.Helper()
	args := ProbeArgs{Root: hostsim.DiracRoot, Manifest: manifestFile}
	if db {
		args.MysqlServer, args.JournalFrom, args.JournalTo = hostsim.MysqlServer, hostsim.JournalFrom, hostsim.JournalTo
	}
	cmd := ProbeOp(args, nil, 0).Argv
	res := runSim(t, h, cmd)
	if res.ExitCode != 0 {
		t.Fatalf("probe exited %d: %s", res.ExitCode, res.Stderr)
	}
	p, err := ParseProbe(res.Stdout)
	if err != nil {
		t.Fatalf("ParseProbe: %v\n%s", err, res.Stdout)
	}
	return p
}

func TestProbeScript(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", true,
			hostsim.Component{Link: "Framework_SystemAdministrator"},
			hostsim.Component{Link: "WorkloadManagement_SiteDirector", Agent: true},
			hostsim.Component{Link: "DataManagement_FTS3Agent", Agent: true, Down: true},
		)
		// Odd entries the probe must skip: a name outside the link alphabet, a
		// target with a tab, a plain file, and a dot link which it must see.
		if err := os.Symlink("../runit/x", h.Path("dirac", "startup", "bad name")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../runit/with\ttab", h.Path("dirac", "startup", "Tabbed_Target")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(h.Path("dirac", "startup", "README"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(h.Path("dirac", "startup-save"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../runit/Old/Thing", h.Path("dirac", "startup-save", ".Hidden_Link")); err != nil {
			t.Fatal(err)
		}
		before := time.Now().Unix()
		p := probeSim(t, h, ManifestName("uid-1"), true)

		if !p.RootExists || p.Now < before || p.Now > time.Now().Unix()+1 {
			t.Errorf("root/now = %v/%d", p.RootExists, p.Now)
		}
		wantStartup := map[string]string{
			"Framework_SystemAdministrator":   "../runit/Framework/SystemAdministrator",
			"WorkloadManagement_SiteDirector": "../runit/WorkloadManagement/SiteDirector",
			"DataManagement_FTS3Agent":        "../runit/DataManagement/FTS3Agent",
		}
		if !reflect.DeepEqual(p.Startup, wantStartup) {
			t.Errorf("startup = %v, want %v", p.Startup, wantStartup)
		}
		if !reflect.DeepEqual(p.Save, map[string]string{".Hidden_Link": "../runit/Old/Thing"}) {
			t.Errorf("startup-save = %v", p.Save)
		}
		if st := p.State["Framework_SystemAdministrator"]; !st.Running || !st.Supervised || st.Seconds < 100 {
			t.Errorf("state of a running service = %+v", st)
		}
		if st := p.State["DataManagement_FTS3Agent"]; st.Running || !st.Supervised {
			t.Errorf("state of a stopped agent = %+v", st)
		}
		if !reflect.DeepEqual(p.AgentScript, map[string]bool{"WorkloadManagement_SiteDirector": true, "DataManagement_FTS3Agent": true}) {
			t.Errorf("agent scripts = %v", p.AgentScript)
		}
		if p.Manifest != nil {
			t.Errorf("fresh host has a manifest: %+v", p.Manifest)
		}
		if !p.MysqlPresent || !p.MysqldUp || p.Journal != "dir" || p.JournalTo != "none" {
			t.Errorf("database = present %v up %v journal %s→%s", p.MysqlPresent, p.MysqldUp, p.Journal, p.JournalTo)
		}

		// A link whose runsv has not started yet: runsvstat's warning, not a state.
		sys := h.Path("dirac", "runit", "Framework", "SystemAdministrator", "supervise")
		if err := os.RemoveAll(sys); err != nil {
			t.Fatal(err)
		}
		// The runsvdir scan before the next command marks it pending only.
		p = probeSim(t, h, ManifestName("uid-1"), false)
		if st := p.State["Framework_SystemAdministrator"]; st.Supervised || st.Running || !strings.Contains(st.Raw, "unable to open supervise/ok") {
			t.Errorf("state of an unsupervised link = %+v", st)
		}
		if p.MysqlPresent || p.Journal != "" {
			t.Errorf("a probe without database arguments reports the database: %+v", p)
		}

		// mysqld stopped, mysql.server gone.
		if err := os.Remove(h.Path("state", "mysqld.running")); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(h.Path("mysql", "mysql.server")); err != nil {
			t.Fatal(err)
		}
		if p = probeSim(t, h, ManifestName("uid-1"), true); p.MysqlPresent || p.MysqldUp {
			t.Errorf("database = present %v up %v, want neither", p.MysqlPresent, p.MysqldUp)
		}
	})
}

// TestProbeScriptReadlinkFallback: where one readlink for all the links
// does not pair up with them (a readlink taking one operand, a target with
// a newline), the probe reads each link on its own and reports the same.
func TestProbeScriptReadlinkFallback(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false,
			hostsim.Component{Link: "Framework_SystemAdministrator"},
			hostsim.Component{Link: "WorkloadManagement_SiteDirector", Agent: true},
		)
		want := probeSim(t, h, ManifestName("uid"), false)
		if len(want.Startup) != 2 {
			t.Fatalf("startup = %v", want.Startup)
		}
		oneOperand := "#!/bin/sh\n[ $# -le 2 ] || { echo 'readlink: extra operand' >&2; exit 1; }\nPATH=${PATH#*:} exec readlink \"$@\"\n"
		if err := os.WriteFile(h.Path("bin", "readlink"), []byte(oneOperand), 0o755); err != nil {
			t.Fatal(err)
		}
		if got := probeSim(t, h, ManifestName("uid"), false); !reflect.DeepEqual(got.Startup, want.Startup) || !reflect.DeepEqual(timeless(got.State), timeless(want.State)) {
			t.Errorf("with a one-operand readlink: startup %v state %v, want %v %v", got.Startup, got.State, want.Startup, want.State)
		}
		if err := os.Remove(h.Path("bin", "readlink")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../runit/two\nlines", h.Path("dirac", "startup", "A_Newline")); err != nil {
			t.Fatal(err)
		}
		if got := probeSim(t, h, ManifestName("uid"), false); !reflect.DeepEqual(got.Startup, want.Startup) {
			t.Errorf("with a target holding a newline: startup %v, want %v (that link skipped, the others paired right)", got.Startup, want.Startup)
		}
	})
}

// timeless is a probe's runit states without what changes with time (the
// seconds in a state, and the raw line that holds them), for comparing two
// probes taken a moment apart.
func timeless(states map[string]SvState) map[string]SvState {
	out := make(map[string]SvState, len(states))
	for link, st := range states {
		st.Seconds, st.Raw = 0, ""
		out[link] = st
	}
	return out
}

func TestProbeScriptNoRoot(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false)
		if err := os.RemoveAll(h.Path("dirac")); err != nil {
			t.Fatal(err)
		}
		p := probeSim(t, h, ManifestName("uid"), true)
		if p.RootExists {
			t.Fatal("probe says the root exists")
		}
		d := DecideStop(p, ComponentsInput{Host: "vobox1", Root: hostsim.DiracRoot})
		if d.Fail == nil || d.Fail.Reason != "DiracRootMissing" {
			t.Errorf("DecideStop without a root = %+v", d)
		}
	})
}

// TestProbeScriptWaits runs the probe's wait on the host for real: it
// returns when the links reach the state asked for (the simulated runsvdir
// scans at every tick), sleeps the uptime after a start it saw (up to its
// budget), and gives up when its budget is spent. The report after a wait is a whole probe.
func TestProbeScriptWaits(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		const (
			agent = "WorkloadManagement_SiteDirector"
			svc   = "Framework_SystemAdministrator"
		)
		wait := func(t *testing.T, h *hostsim.Host, w Wait, tick time.Duration) (*Probe, time.Duration) {
			t.Helper()
			cmd := ProbeOp(ProbeArgs{Root: hostsim.DiracRoot, Manifest: ManifestName("uid")}, &w, tick).Argv
			start := time.Now()
			res := runSim(t, h, cmd)
			took := time.Since(start)
			if res.ExitCode != 0 {
				t.Fatalf("probe exited %d: %s", res.ExitCode, res.Stderr)
			}
			p, err := ParseProbe(res.Stdout)
			if err != nil {
				t.Fatalf("ParseProbe: %v\n%s", err, res.Stdout)
			}
			if len(p.Startup) == 0 || len(p.State) == 0 {
				t.Fatalf("the report after the wait is not a whole probe:\n%s", res.Stdout)
			}
			return p, took
		}
		// stopping is a host whose agent was told to stop and does so after
		// d, the service running on.
		stopping := func(t *testing.T, d time.Duration) *hostsim.Host {
			h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: agent, Agent: true, Fault: "nostop"}, hostsim.Component{Link: svc})
			runSim(t, h, remote.Command{"runsvctrl", "d", hostsim.DiracRoot + "/startup/" + agent})
			go func() {
				time.Sleep(d)
				_ = os.Remove(h.Path("dirac", "runit", "WorkloadManagement", "SiteDirector", "sim-fault"))
			}()
			return h
		}
		t.Run("already down: at once", func(t *testing.T) {
			t.Parallel()
			h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: agent, Agent: true, Down: true}, hostsim.Component{Link: svc})
			p, took := wait(t, h, Wait{Links: []string{agent}, For: 10 * time.Second}, 50*time.Millisecond)
			if p.State[agent].Running || took > 5*time.Second {
				t.Errorf("state %+v after %s, want down at once", p.State[agent], took)
			}
		})
		t.Run("stops during the wait", func(t *testing.T) {
			t.Parallel()
			h := stopping(t, 400*time.Millisecond)
			p, took := wait(t, h, Wait{Links: []string{agent}, For: 20 * time.Second}, 50*time.Millisecond)
			if p.State[agent].Running || took < 400*time.Millisecond || took > 15*time.Second {
				t.Errorf("state %+v after %s, want down after its fault went (400ms), before the budget (20s)", p.State[agent], took)
			}
			if !p.State[svc].Running {
				t.Errorf("%s not running: %+v", svc, p.State[svc])
			}
		})
		t.Run("never stops: the budget", func(t *testing.T) {
			t.Parallel()
			h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: agent, Agent: true, Fault: "nostop"})
			runSim(t, h, remote.Command{"runsvctrl", "d", hostsim.DiracRoot + "/startup/" + agent})
			p, took := wait(t, h, Wait{Links: []string{agent}, For: 700 * time.Millisecond}, 100*time.Millisecond)
			if !p.State[agent].Running || !p.State[agent].WantDown || took < 700*time.Millisecond {
				t.Errorf("state %+v after %s, want still stopping after the 700ms budget", p.State[agent], took)
			}
		})
		// Wait.After: the links stopped are parked in the wait's session,
		// only once every one is down.
		park := []Op{ParkLinks(hostsim.DiracRoot+"/startup", hostsim.DiracRoot+"/startup-save", []string{agent})}
		t.Run("down within the budget: After runs", func(t *testing.T) {
			t.Parallel()
			h := stopping(t, 300*time.Millisecond)
			p, _ := wait(t, h, Wait{Links: []string{agent}, For: 20 * time.Second, After: park}, 50*time.Millisecond)
			if _, parked := p.Save[agent]; !parked || p.Startup[agent] != "" {
				t.Errorf("startup %v, startup-save %v: want %s parked once down", p.Startup, p.Save, agent)
			}
			if _, ok := p.Startup[svc]; !ok {
				t.Errorf("%s was moved too: startup %v", svc, p.Startup)
			}
		})
		t.Run("never down: After does not run", func(t *testing.T) {
			t.Parallel()
			h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: agent, Agent: true, Fault: "nostop"})
			runSim(t, h, remote.Command{"runsvctrl", "d", hostsim.DiracRoot + "/startup/" + agent})
			cmd := ProbeOp(ProbeArgs{Root: hostsim.DiracRoot, Manifest: ManifestName("uid")}, &Wait{Links: []string{agent}, For: 500 * time.Millisecond, After: park}, 100*time.Millisecond).Argv
			res := runSim(t, h, cmd)
			outs, rest := SplitStepOutput(res.Stdout)
			p, err := ParseProbe(rest)
			if err != nil || len(outs) != 0 {
				t.Fatalf("%d command outputs, %v: want none and a report\n%s", len(outs), err, res.Stdout)
			}
			if _, ok := p.Startup[agent]; !ok || !p.State[agent].Running {
				t.Errorf("%s: startup %v state %+v, want still running, in startup", agent, p.Startup, p.State[agent])
			}
		})
		t.Run("picked up, then settle", func(t *testing.T) {
			t.Parallel()
			h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: svc})
			// A link runsvdir has not picked up yet: no supervise directory.
			if err := os.RemoveAll(h.Path("dirac", "runit", "Framework", "SystemAdministrator", "supervise")); err != nil {
				t.Fatal(err)
			}
			p, took := wait(t, h, Wait{Up: true, Links: []string{svc}, Settle: 1500 * time.Millisecond, Rest: 0, For: 20 * time.Second}, 50*time.Millisecond)
			if !p.State[svc].Running || took < 1500*time.Millisecond || took > 15*time.Second {
				t.Errorf("state %+v after %s, want running, reported after it ran 1.5s", p.State[svc], took)
			}
		})
		t.Run("running at the first look: rest", func(t *testing.T) {
			t.Parallel()
			h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: svc})
			p, took := wait(t, h, Wait{Up: true, Links: []string{svc}, Settle: 30 * time.Second, Rest: 300 * time.Millisecond, For: 40 * time.Second}, 50*time.Millisecond)
			if !p.State[svc].Running || took < 300*time.Millisecond || took > 20*time.Second {
				t.Errorf("state %+v after %s, want running, reported after rest (300ms), not settle (30s)", p.State[svc], took)
			}
		})
		t.Run("an uptime beyond the budget: the budget, not at once", func(t *testing.T) {
			t.Parallel()
			h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: svc})
			p, took := wait(t, h, Wait{Up: true, Links: []string{svc}, Settle: 30 * time.Second, Rest: 30 * time.Second, For: 700 * time.Millisecond}, 50*time.Millisecond)
			if !p.State[svc].Running || took < 700*time.Millisecond || took > 15*time.Second {
				t.Errorf("state %+v after %s, want running, reported after the 700ms budget", p.State[svc], took)
			}
		})
	})
}

// TestStepScript runs commands and the probe in one session for real: each
// argument reaches its command as it was (quotes, spaces, $, ${10} and
// beyond), each command's output and status are told apart, and the first
// Failure ends the session before the next command and the probe.
func TestStepScript(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: "Framework_SystemAdministrator"})
		odd := []string{"a b", `$(touch /tmp/vobox-pwned) "q' ` + "`x`", "3", "4", "5", "6", "7", "8", "9", "ten", "eleven"}
		step := func(cmds ...remote.Command) remote.Command {
			var queued []Op
			for _, c := range cmds {
				queued = append(queued, command("Test", c...))
			}
			return Session(queued, &ProbeArgs{Root: hostsim.DiracRoot, Manifest: ManifestName("uid")}, nil, 0).Argv
		}
		res := runSim(t, h, step(append(remote.Command{"printf", `%s\n`}, odd...), remote.Command{"sh", "-c", "echo to-stderr >&2"}))
		outs, rest := SplitStepOutput(res.Stdout)
		if len(outs) != 2 {
			t.Fatalf("%d command outputs, want 2:\n%q", len(outs), res.Stdout)
		}
		if got := strings.Split(strings.TrimSuffix(string(outs[0].Output), "\n"), "\n"); !slices.Equal(got, odd) || outs[0].ExitCode != 0 {
			t.Errorf("first command: args %q exit %d, want %q exit 0", got, outs[0].ExitCode, odd)
		}
		if string(outs[1].Output) != "to-stderr\n" || outs[1].ExitCode != 0 {
			t.Errorf("second command: %q exit %d, want its stderr in its output", outs[1].Output, outs[1].ExitCode)
		}
		if p, err := ParseProbe(rest); err != nil || !p.State["Framework_SystemAdministrator"].Running {
			t.Errorf("the probe after the commands: %+v, %v\n%s", p, err, rest)
		}
		if _, err := os.Stat("/tmp/vobox-pwned"); err == nil {
			t.Error("an argument was run as shell code")
		}

		// Without the probe (a flush): the commands only.
		res = runSim(t, h, Session([]Op{command("Test", "echo", "one"), command("Test", "echo", "two")}, nil, nil, 0).Argv)
		if outs, rest := SplitStepOutput(res.Stdout); len(outs) != 2 || string(outs[1].Output) != "two\n" || len(rest) != 0 || res.ExitCode != 0 {
			t.Errorf("commands without a probe: %+v, rest %q, exit %d", outs, rest, res.ExitCode)
		}

		res = runSim(t, h, step(remote.Command{"sh", "-c", "echo no; exit 3"}, remote.Command{"runsvctrl", "d", hostsim.DiracRoot + "/startup/Framework_SystemAdministrator"}))
		outs, rest = SplitStepOutput(res.Stdout)
		if len(outs) != 1 || outs[0].ExitCode != 3 || string(outs[0].Output) != "no\n" || len(rest) != 0 {
			t.Errorf("after a failing command: %+v, rest %q; want its status 3 and nothing after it", outs, rest)
		}
		if h.ComponentDown(t, "Framework_SystemAdministrator") {
			t.Error("the command after the failing one ran")
		}
	})
}

func TestSplitStepOutput(t *testing.T) {
	outs, rest := SplitStepOutput([]byte("moved\tA\n\n\x1evobox-exit\t0\nno newline\n\x1evobox-exit\t1\nnow\t1\n"))
	want := []CommandOutput{{Output: []byte("moved\tA\n"), ExitCode: 0}, {Output: []byte("no newline"), ExitCode: 1}}
	if !reflect.DeepEqual(outs, want) || string(rest) != "now\t1\n" {
		t.Errorf("SplitStepOutput = %+v, %q", outs, rest)
	}
	if outs, rest := SplitStepOutput([]byte("now\t1\n")); outs != nil || string(rest) != "now\t1\n" {
		t.Errorf("a plain probe's output = %+v, %q", outs, rest)
	}
}

func TestWriteManifestScript(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false)
		name := ManifestName("0b5c-uid")
		m := &Manifest{Entries: []ManifestEntry{
			{Name: "Framework_SystemAdministrator", Target: "../runit/Framework/SystemAdministrator", Class: ClassService, WasUp: true},
			{Name: "WorkloadManagement_SiteDirector", Target: "../runit/WorkloadManagement/SiteDirector", Class: ClassAgent, Excluded: true},
		}}
		write := func(m *Manifest) {
			t.Helper()
			res := runSim(t, h, RecordManifest(hostsim.DiracRoot+"/startup-save", name, m).Argv)
			if res.ExitCode != 0 {
				t.Fatalf("write manifest exited %d: %s", res.ExitCode, res.Stderr)
			}
		}
		write(m) // creates startup-save
		p := probeSim(t, h, name, false)
		if p.Manifest == nil || !reflect.DeepEqual(p.Manifest.Entries, m.Entries) {
			t.Fatalf("manifest read back = %+v, want %+v", p.Manifest, m.Entries)
		}
		// Rewritten with one more entry: replaced whole, no temporary file left.
		m.Entries = append(m.Entries, ManifestEntry{Name: "Z_Z", Target: "../runit/Z/Z", Class: ClassService, WasUp: true})
		write(m)
		if p = probeSim(t, h, name, false); len(p.Manifest.Entries) != 3 {
			t.Errorf("rewritten manifest has %d entries, want 3", len(p.Manifest.Entries))
		}
		entries, _ := os.ReadDir(h.Path("dirac", "startup-save"))
		if len(entries) != 1 || entries[0].Name() != name {
			t.Errorf("startup-save holds %v, want only the manifest", entries)
		}
		// Another intervention's manifest is not ours.
		if p = probeSim(t, h, ManifestName("other"), false); p.Manifest != nil {
			t.Errorf("probe for another UID found a manifest")
		}
		// The manifest is no link: it never shows as a parked link.
		if len(p.Save) != 0 {
			t.Errorf("startup-save links = %v", p.Save)
		}
	})
}

func TestMoveLinksScript(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false,
			hostsim.Component{Link: "A_One"}, hostsim.Component{Link: "A_Two"}, hostsim.Component{Link: "A_Three"}, hostsim.Component{Link: "A_Four"})
		save := h.Path("dirac", "startup-save")
		if err := os.MkdirAll(save, 0o755); err != nil {
			t.Fatal(err)
		}
		// A_Two has a different link of the same name parked; A_Three's name is
		// taken by a directory (which mv without -T would move the link into);
		// A_Four's by a dangling link.
		if err := os.Symlink("../runit/Other/Two", filepath.Join(save, "A_Two")); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(save, "A_Three"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/nonexistent", filepath.Join(save, "A_Four")); err != nil {
			t.Fatal(err)
		}
		res := runSim(t, h, ParkLinks(hostsim.DiracRoot+"/startup", hostsim.DiracRoot+"/startup-save",
			[]string{"A_One", "A_Two", "A_Three", "A_Four", "A_Missing"}).Argv)
		if res.ExitCode != 0 {
			t.Fatalf("move exited %d: %s", res.ExitCode, res.Stderr)
		}
		wantOut := "moved\tA_One\nexists\tA_Two\nexists\tA_Three\nexists\tA_Four\nabsent\tA_Missing\n"
		if string(res.Stdout) != wantOut {
			t.Errorf("output = %q, want %q", res.Stdout, wantOut)
		}
		if got := h.Links(t, "startup"); !reflect.DeepEqual(got, map[string]string{
			"A_Two": "../runit/A/Two", "A_Three": "../runit/A/Three", "A_Four": "../runit/A/Four"}) {
			t.Errorf("startup = %v", got)
		}
		if got := h.Links(t, "startup-save"); !reflect.DeepEqual(got, map[string]string{
			"A_One": "../runit/A/One", "A_Two": "../runit/Other/Two", "A_Four": "/nonexistent"}) {
			t.Errorf("startup-save = %v", got)
		}
		if entries, _ := os.ReadDir(filepath.Join(save, "A_Three")); len(entries) != 0 {
			t.Errorf("a link was moved into the directory A_Three: %v", entries)
		}
		// Moving back restores the link; a second run moves nothing.
		back := RestoreLinks(hostsim.DiracRoot+"/startup-save", hostsim.DiracRoot+"/startup", []string{"A_One"}).Argv
		if res = runSim(t, h, back); string(res.Stdout) != "moved\tA_One\n" {
			t.Errorf("restore output = %q", res.Stdout)
		}
		if res = runSim(t, h, back); string(res.Stdout) != "exists\tA_One\n" || res.ExitCode != 0 {
			t.Errorf("second restore output = %q, exit %d", res.Stdout, res.ExitCode)
		}
		if got := h.Links(t, "startup")["A_One"]; got != "../runit/A/One" {
			t.Errorf("restored link points to %q", got)
		}
	})
}

func TestJournalScript(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		in := DatabaseInput{Host: "db1", MysqlServer: hostsim.MysqlServer, JournalFrom: hostsim.JournalFrom, JournalTo: hostsim.JournalTo}
		move := MoveJournal(hostsim.JournalFrom, hostsim.JournalTo).Argv
		stopped := func(t *testing.T, h *hostsim.Host) *Probe {
			t.Helper()
			_ = os.Remove(h.Path("state", "mysqld.running"))
			return probeSim(t, h, ManifestName("uid"), true)
		}
		checkMoved := func(t *testing.T, h *hostsim.Host) {
			t.Helper()
			if got := h.Journal(t); got != "link:"+h.Path("home", "mysql-log") {
				t.Fatalf("journal = %s, want a link to the destination", got)
			}
			if b, err := os.ReadFile(h.Path("home", "mysql-log", "ib_logfile0")); err != nil || string(b) != "journal" {
				t.Fatalf("journal content at the destination: %q, %v", b, err)
			}
			if d := DecideStopDatabase(stopped(t, h), in); !d.Done {
				t.Fatalf("after the move, DecideStopDatabase = %+v, want done", d)
			}
		}

		t.Run("fresh move, then idempotent", func(t *testing.T) {
			h := newHost(t, shell, "db1", true)
			d := DecideStopDatabase(stopped(t, h), in)
			if d.Step() != OpMoveJournal {
				t.Fatalf("Decision = %+v, want MoveJournal", d)
			}
			for range 2 {
				if res := runSim(t, h, d.Op.Argv); res.ExitCode != 0 {
					t.Fatalf("journal move exited %d: %s", res.ExitCode, res.Stderr)
				}
				checkMoved(t, h)
			}
		})
		t.Run("mysqld still runs: nothing moved", func(t *testing.T) {
			h := newHost(t, shell, "db1", true)
			if res := runSim(t, h, move); res.ExitCode != 0 || !strings.Contains(string(res.Stdout), "mysqld runs") {
				t.Fatalf("journal move exited %d: %s%s", res.ExitCode, res.Stdout, res.Stderr)
			}
			if h.Journal(t) != "dir" {
				t.Errorf("journal = %s, want it left in place while mysqld runs", h.Journal(t))
			}
		})
		t.Run("resumes after a crash between mv and ln", func(t *testing.T) {
			h := newHost(t, shell, "db1", true)
			if err := os.Rename(h.Path("mysql", "log"), h.Path("home", "mysql-log")); err != nil {
				t.Fatal(err)
			}
			if d := DecideStopDatabase(stopped(t, h), in); d.Step() != OpMoveJournal {
				t.Fatalf("Decision after the crash = %+v, want MoveJournal", d)
			}
			if res := runSim(t, h, move); res.ExitCode != 0 {
				t.Fatalf("journal move exited %d: %s", res.ExitCode, res.Stderr)
			}
			checkMoved(t, h)
		})
		t.Run("both directories: nothing moved", func(t *testing.T) {
			h := newHost(t, shell, "db1", true)
			if err := os.MkdirAll(h.Path("home", "mysql-log"), 0o755); err != nil {
				t.Fatal(err)
			}
			if d := DecideStopDatabase(stopped(t, h), in); d.Fail == nil || d.Fail.Reason != "JournalConflict" {
				t.Fatalf("Decision = %+v, want JournalConflict", d)
			}
			// Even if run, the script leaves both alone.
			if res := runSim(t, h, move); res.ExitCode != 0 {
				t.Fatalf("journal script exited %d: %s", res.ExitCode, res.Stderr)
			}
			if h.Journal(t) != "dir" {
				t.Errorf("journal = %s, want it left in place", h.Journal(t))
			}
			if _, err := os.Stat(h.Path("home", "mysql-log", "log")); err == nil {
				t.Error("the journal was moved into the existing destination")
			}
		})
	})
}

func TestLogScanScript(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: "WorkloadManagement_JobMonitoring"}, hostsim.Component{Link: "Framework_Monitoring"})
		write := func(link, content string) {
			sys, comp, _ := strings.Cut(link, "_")
			if err := os.WriteFile(h.Path("dirac", "runit", sys, comp, "log", "current"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("WorkloadManagement_JobMonitoring", ""+
			"2024-05-01 09:59:59 UTC WorkloadManagement/JobMonitoring ERROR: before the start, ignored\n"+
			"Traceback (most recent call last): continuation of an old line, ignored\n"+
			"2024-05-01 10:00:00 UTC WorkloadManagement/JobMonitoring INFO: Starting\n"+
			"2024-05-01 10:00:01 UTC WorkloadManagement/JobMonitoring ERROR: Cannot connect\n"+
			"2024-05-01 10:00:02 UTC WorkloadManagement/JobMonitoring INFO: xERROR:y, no match for the spaced pattern\n"+
			"2024-05-01 10:00:03 UTC WorkloadManagement/JobMonitoring INFO: handled\n"+
			"Traceback (most recent call last):\n"+
			"  File \"x.py\", line 3, in f\n"+
			"2024-05-01 10:00:04 UTC WorkloadManagement/JobMonitoring FATAL: dying\n")
		var many strings.Builder
		for i := range 9 {
			many.WriteString("2024-05-01 10:00:0" + string(rune('0'+i)) + " UTC Framework/Monitoring ERROR: number " + string(rune('0'+i)) + "\n")
		}
		write("Framework_Monitoring", many.String())

		since := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
		items := []ScanItem{{Link: "WorkloadManagement_JobMonitoring", Since: since}, {Link: "Framework_Monitoring", Since: since}, {Link: "No_Log", Since: since}}
		res := runSim(t, h, logScanCommand(hostsim.DiracRoot, defaultCheck, items))
		if res.ExitCode != 0 {
			t.Fatalf("scan exited %d: %s", res.ExitCode, res.Stderr)
		}
		got := ParseFindings(res.Stdout)
		want := []string{
			"WorkloadManagement_JobMonitoring: 2024-05-01 10:00:01 UTC WorkloadManagement/JobMonitoring ERROR: Cannot connect",
			"WorkloadManagement_JobMonitoring: Traceback (most recent call last):",
			"WorkloadManagement_JobMonitoring: 2024-05-01 10:00:04 UTC WorkloadManagement/JobMonitoring FATAL: dying",
			// The last five of each log only.
			"Framework_Monitoring: 2024-05-01 10:00:04 UTC Framework/Monitoring ERROR: number 4",
			"Framework_Monitoring: 2024-05-01 10:00:05 UTC Framework/Monitoring ERROR: number 5",
			"Framework_Monitoring: 2024-05-01 10:00:06 UTC Framework/Monitoring ERROR: number 6",
			"Framework_Monitoring: 2024-05-01 10:00:07 UTC Framework/Monitoring ERROR: number 7",
			"Framework_Monitoring: 2024-05-01 10:00:08 UTC Framework/Monitoring ERROR: number 8",
		}
		if !slices.Equal(got, want) {
			t.Errorf("findings =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		// A continuation line belongs to the line before it: a traceback under
		// an in-window line is found even by a pattern of its own lines only.
		res = runSim(t, h, logScanCommand(hostsim.DiracRoot, LogCheck{Patterns: []string{`File "x.py"`}}, items[:1]))
		if got := ParseFindings(res.Stdout); len(got) != 1 || !strings.Contains(got[0], `File "x.py", line 3`) {
			t.Errorf("continuation findings = %q", got)
		}
		// A later start: only what follows it.
		res = runSim(t, h, logScanCommand(hostsim.DiracRoot, defaultCheck,
			[]ScanItem{{Link: "WorkloadManagement_JobMonitoring", Since: since.Add(4 * time.Second)}}))
		if got := ParseFindings(res.Stdout); len(got) != 1 || !strings.Contains(got[0], "FATAL: dying") {
			t.Errorf("findings since 10:00:04 = %q", got)
		}
		// No pattern finds nothing; a clean window finds nothing.
		if res = runSim(t, h, logScanCommand(hostsim.DiracRoot, LogCheck{}, items)); len(ParseFindings(res.Stdout)) != 0 || res.ExitCode != 0 {
			t.Errorf("no pattern: %q, exit %d", res.Stdout, res.ExitCode)
		}
		res = runSim(t, h, logScanCommand(hostsim.DiracRoot, LogCheck{Levels: []string{"ERROR"}}, []ScanItem{{Link: "Framework_Monitoring", Since: since.Add(time.Hour)}}))
		if got := ParseFindings(res.Stdout); len(got) != 0 {
			t.Errorf("findings after the last line = %q", got)
		}
		// Patterns that look like options or regular expressions are fixed strings.
		write("Framework_Monitoring", "2024-05-01 10:00:00 UTC x -e a.b [y] -f C:\\tmp $HOME \"q\"\n")
		for _, awk := range []string{"gawk", "mawk", "original-awk"} {
			// The probe runs whatever awk the host has: GNU's, mawk (Debian's
			// default), the one true awk.
			path, err := exec.LookPath(awk)
			if err != nil {
				continue
			}
			if err := os.WriteFile(h.Path("bin", "awk"), []byte("#!/bin/sh\nexec "+path+" \"$@\"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"-e", "a.b", "[y]", "-f", `C:\tmp`, "$HOME", `"q"`} {
				res = runSim(t, h, logScanCommand(hostsim.DiracRoot, LogCheck{Patterns: []string{p}}, []ScanItem{{Link: "Framework_Monitoring", Since: since}}))
				if got := ParseFindings(res.Stdout); len(got) != 1 {
					t.Errorf("%s: pattern %q: findings %q, stderr %q", awk, p, got, res.Stderr)
				}
			}
			if res = runSim(t, h, logScanCommand(hostsim.DiracRoot, LogCheck{Patterns: []string{`C:\\tmp`, "C:\ttmp"}}, []ScanItem{{Link: "Framework_Monitoring", Since: since}})); len(ParseFindings(res.Stdout)) != 0 {
				t.Errorf("%s: a backslash in a pattern was interpreted: %q", awk, ParseFindings(res.Stdout))
			}
		}
		if err := os.Remove(h.Path("bin", "awk")); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		res = runSim(t, h, logScanCommand(hostsim.DiracRoot, LogCheck{Patterns: []string{"a?b"}}, []ScanItem{{Link: "Framework_Monitoring", Since: since}}))
		if got := ParseFindings(res.Stdout); len(got) != 0 {
			t.Errorf("pattern a?b matched as a regular expression: %q", got)
		}
	})
}

// logScanCommand is the argv of a log scan.
func logScanCommand(root string, check LogCheck, items []ScanItem) remote.Command {
	return CheckLogs(root, check, items).Argv
}

// defaultCheck is spec.checks' default: the levels ERROR and FATAL, the
// pattern Traceback.
var defaultCheck = LogCheck{Levels: []string{"ERROR", "FATAL"}, Patterns: []string{"Traceback"}}

// tai64n is svlogd's name of a file rotated at t.
func tai64n(t time.Time) string {
	return fmt.Sprintf("@%016x%08x", uint64(1)<<62+10+uint64(t.Unix()), t.Nanosecond())
}

func TestLogScanFormats(t *testing.T) {
	since := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "vobox1", false, hostsim.Component{Link: "Framework_SystemAdministrator"})
		logDir := h.Path("dirac", "runit", "Framework", "SystemAdministrator", "log")
		write := func(name, content string) {
			t.Helper()
			if err := os.WriteFile(filepath.Join(logDir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		scan := func(check LogCheck, from time.Time) []string {
			t.Helper()
			res := runSim(t, h, logScanCommand(hostsim.DiracRoot, check, []ScanItem{{Link: "Framework_SystemAdministrator", Since: from}}))
			if res.ExitCode != 0 {
				t.Fatalf("scan exited %d: %s", res.ExitCode, res.Stderr)
			}
			return ParseFindings(res.Stdout)
		}
		const sa = "Framework_SystemAdministrator: "
		cases := []struct {
			name, log string
			want      []string
		}{
			{"v9: an ERROR line fails, NOTICE noise with ERROR: in its message does not",
				"2026-11-30T11:59:59,999999Z Framework/SystemAdministrator ERROR: before the window\n" +
					"2026-11-30T12:00:00,000001Z Framework/SystemAdministrator NOTICE: Returning response [127.0.0.1:4242][dirac_admin:admin] (0.03 secs) ERROR: Job 12 not found\n" +
					"2026-11-30T12:00:01,123456Z Framework/SystemAdministrator ERROR: Can't update from any server Reason(s):\n" +
					"\tRefresherBase: no answer\n" +
					"2026-11-30T12:00:02,5Z Framework/SystemAdministrator WARN: Can't update from server ERROR: x\n",
				[]string{sa + "2026-11-30T12:00:01,123456Z Framework/SystemAdministrator ERROR: Can't update from any server Reason(s):"}},
			{"v8: the same, UTC stamps",
				"2026-11-30 11:59:59 UTC Framework/SystemAdministrator FATAL: before the window\n" +
					"2026-11-30 12:00:00 UTC Framework/SystemAdministrator NOTICE: Returning response [127.0.0.1:4242] ERROR: Job 12 not found\n" +
					"2026-11-30 12:00:03 UTC Framework/SystemAdministrator/Sub [140234] FATAL: dying\n",
				[]string{sa + "2026-11-30 12:00:03 UTC Framework/SystemAdministrator/Sub [140234] FATAL: dying"}},
			{"a pattern is searched in the message and in continuation lines, never in the level",
				"2026-11-30T12:00:00,1Z Framework/SystemAdministrator INFO: handled\n" +
					"Traceback (most recent call last):\n" +
					"2026-11-30T12:00:01,1Z Framework/SystemAdministrator NOTICE: a Traceback in a message\n",
				[]string{sa + "Traceback (most recent call last):", sa + "2026-11-30T12:00:01,1Z Framework/SystemAdministrator NOTICE: a Traceback in a message"}},
		}
		for _, tc := range cases {
			write("current", tc.log)
			if got := scan(defaultCheck, since); !slices.Equal(got, tc.want) {
				t.Errorf("%s: findings =\n%s\nwant\n%s", tc.name, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		}
		// The NOTICE noise fails only where a site asks for NOTICE, or for
		// its message.
		write("current", "2026-11-30T12:00:00,000001Z Framework/SystemAdministrator NOTICE: Returning response (0.03 secs) ERROR: Job 12 not found\n")
		if got := scan(LogCheck{Levels: []string{"NOTICE"}}, since); len(got) != 1 {
			t.Errorf("level NOTICE: findings %q, want the line", got)
		}
		if got := scan(LogCheck{Patterns: []string{"ERROR: Job"}}, since); len(got) != 1 {
			t.Errorf("pattern on the message: findings %q, want the line", got)
		}

		// svlogd rotated log/current into @….s (and .u after a power cut):
		// a file rotated after the window began holds lines of it; one
		// rotated before holds none and is not read (its line would fail).
		write("current", "2026-11-30T12:00:09,1Z Framework/SystemAdministrator INFO: quiet\n")
		write(tai64n(since.Add(-time.Hour))+".s", "2026-11-30T12:00:00,1Z Framework/SystemAdministrator ERROR: not read: rotated before the window\n")
		write(tai64n(since.Add(5*time.Second))+".s", "2026-11-30T11:59:00,1Z Framework/SystemAdministrator ERROR: before\n"+
			"2026-11-30T12:00:04,1Z Framework/SystemAdministrator ERROR: in a rotated file\n")
		write(tai64n(since.Add(7*time.Second))+".u", "2026-11-30T12:00:06,1Z Framework/SystemAdministrator FATAL: in an unfinished file\n")
		write("@garbage.s", "2026-11-30T12:00:06,1Z Framework/SystemAdministrator FATAL: not svlogd's\n")
		want := []string{sa + "2026-11-30T12:00:04,1Z Framework/SystemAdministrator ERROR: in a rotated file",
			sa + "2026-11-30T12:00:06,1Z Framework/SystemAdministrator FATAL: in an unfinished file"}
		if got := scan(defaultCheck, since); !slices.Equal(got, want) {
			t.Errorf("rotated: findings =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, awk := range []string{"gawk", "mawk", "original-awk"} {
			path, err := exec.LookPath(awk)
			if err != nil {
				continue
			}
			if err := os.WriteFile(h.Path("bin", "awk"), []byte("#!/bin/sh\nexec "+path+" \"$@\"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			if got := scan(defaultCheck, since); !slices.Equal(got, want) {
				t.Errorf("%s: rotated: findings = %q", awk, got)
			}
		}
		_ = os.Remove(h.Path("bin", "awk"))
	})
}

// forShells runs a script test with dash and with bash: the scripts are
// POSIX sh, and a host's sh may be either.
func forShells(t *testing.T, test func(t *testing.T, shell string)) {
	for _, shell := range []string{"dash", "bash"} {
		t.Run(shell, func(t *testing.T) {
			if _, err := exec.LookPath(shell); err != nil {
				t.Fatalf("%s is needed to test the scripts: %v", shell, err)
			}
			test(t, shell)
		})
	}
}

// newHost is a simulated host whose sh is shell.
func newHost(t *testing.T, shell, name string, db bool, comps ...hostsim.Component) *hostsim.Host {
	h := hostsim.NewHost(t, name, db, comps...)
	h.Shell = shell
	return h
}
