package procedure

import (
	"slices"
	"strings"
	"testing"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The decisions on what real DIRAC sites hold (issue 15): states a probe
// cannot read, the start order inside a host, a killed agent's stop_agent,
// and a system-managed database.

func TestDecideUnknownState(t *testing.T) {
	unknown := func(name string) link {
		return link{name: name, target: target(name), stat: "runsvstat: fatal: unable to read supervise/status"}
	}
	m := manifestOf(entry("WorkloadManagement_JobAgent", ClassAgent, true, false))
	cases := []struct {
		name   string
		decide func(*Probe, ComponentsInput) Decision
		p      *Probe
		in     ComponentsInput
	}{
		{"stop: not recorded yet", DecideStop, probed([]link{unknown("WorkloadManagement_JobAgent")}, nil, nil), stopInput(agentsOnly, ActionStopAgents)},
		{"stop: recorded", DecideStop, probed([]link{unknown("WorkloadManagement_JobAgent")}, nil, m), stopInput(agentsOnly, ActionStopAgents)},
		{"stop: another link of the host", DecideStop, probed([]link{running("WorkloadManagement_JobAgent", 50), unknown("Framework_Other")}, nil, m), stopInput(agentsOnly, ActionStopAgents)},
		{"start: restored", DecideStart, probed([]link{unknown("WorkloadManagement_JobAgent")}, nil, m), stopInput(agentsOnly, ActionStartAgents)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.decide(tc.p, tc.in)
			if d.Fail == nil || d.Fail.Reason != diracv1.ReasonComponentStateUnknown || d.Op != nil || d.Done {
				t.Fatalf("Decision = %+v, want ComponentStateUnknown and nothing run", d)
			}
			if d.Fail.IsTerminal() || !strings.Contains(d.Fail.Message, "unable to read supervise/status") {
				t.Errorf("failure %+v: want a retried failure naming what runit said", d.Fail)
			}
		})
	}
	// A link with no line at all (ParseProbe marks it) is unknown too.
	p, err := ParseProbe([]byte("now\t1\nroot\tok\nrunit\trunsv\trunsvctrl\trunsvstat\nstartup\tA_B\t/opt/dirac/runit/A/B\n"))
	if err != nil || !p.State["A_B"].Unknown {
		t.Fatalf("a startup link without a state line: %+v, %v", p.State, err)
	}
	if f, _ := Preflight(p, PreflightInput{Host: "h", Root: root, Roles: servicesOnly}); f == nil || f.Reason != diracv1.ReasonComponentStateUnknown {
		t.Errorf("Preflight = %+v, want ComponentStateUnknown", f)
	}
	// A Database-only host parks no link: no runit needed.
	p.Runit.Missing = true
	p.MysqlPresent = true
	if f, _ := Preflight(p, PreflightInput{Host: "h", Root: root, Roles: []diracv1.Role{diracv1.RoleDatabase}, MysqlServer: "/m"}); f != nil {
		t.Errorf("Preflight of a Database host without runit = %+v, want nil", f)
	}
	// The runit tools missing is terminal, whatever the states say.
	if d := DecideStart(probed([]link{running("WorkloadManagement_JobAgent", 50)}, nil, m), stopInput(agentsOnly, ActionStartAgents)); d.Fail != nil {
		t.Errorf("tools found: %+v", d)
	}
	pm := probed([]link{unknown("WorkloadManagement_JobAgent")}, nil, m)
	pm.Runit.Missing = true
	if d := DecideStart(pm, stopInput(agentsOnly, ActionStartAgents)); d.Fail == nil || d.Fail.Reason != diracv1.ReasonRunitToolsMissing || !d.Fail.IsTerminal() {
		t.Errorf("no tools: %+v, want RunitToolsMissing", d)
	}
}

func TestDecideStartOrder(t *testing.T) {
	cs, sa, pm, bd := "Configuration_Server", "Framework_SystemAdministrator", "Framework_ProxyManager", "Framework_BundleDelivery"
	m := manifestOf(entry(cs, ClassService, true, false), entry(sa, ClassService, true, false), entry(pm, ClassService, true, false),
		entry(bd, ClassService, false, false))
	in := stopInput(servicesOnly, ActionStartServices)
	in.StartFirst, in.StartLast = []string{"Configuration_*"}, []string{"Framework_SystemAdministrator"}
	in.Levels, in.Patterns = []string{"ERROR"}, []string{"Traceback"}
	saveDir, startupDir := root+"/startup-save", root+"/startup"
	restore := func(links ...string) remote.Command {
		return append(remote.Command{"sh", "-c", linksScript, "vobox-restore", saveDir, startupDir}, links...)
	}
	steps := []struct {
		name    string
		startup []link
		save    []link
		check   func(t *testing.T, d Decision)
	}{
		{"all parked: the CS alone, waited for up componentUptime", nil, []link{parked(cs), parked(sa), parked(pm), parked(bd)}, func(t *testing.T, d Decision) {
			wantCommand(t, d, "RestoreLinks", restore(cs))
			if d.Then == nil || !slices.Equal(d.Then.Links, []string{cs}) || d.Then.Settle != in.Uptime {
				t.Errorf("then = %+v, want the CS up for the uptime", d.Then)
			}
		}},
		{"the CS up less than componentUptime: wait for it", []link{running(cs, 3)}, []link{parked(sa), parked(pm), parked(bd)}, func(t *testing.T, d Decision) {
			if d.Wait == 0 || d.Op != nil || d.Until == nil || !slices.Equal(d.Until.Links, []string{cs}) {
				t.Errorf("Decision = %+v, want a wait on the CS", d)
			}
		}},
		{"the CS up: the rest but the last (a link that was down comes back, not waited for)", []link{running(cs, 12)}, []link{parked(sa), parked(pm), parked(bd)}, func(t *testing.T, d Decision) {
			wantCommand(t, d, "RestoreLinks", restore(pm, bd))
			if d.Then == nil || !slices.Equal(d.Then.Links, []string{pm}) {
				t.Errorf("then = %+v, want ProxyManager", d.Then)
			}
		}},
		{"the rest up: the SystemAdministrator last", []link{running(cs, 30), running(pm, 12), stopped(bd)}, []link{parked(sa)}, func(t *testing.T, d Decision) {
			wantCommand(t, d, "RestoreLinks", restore(sa))
		}},
		{"all up: one log scan of every link", []link{running(cs, 40), running(pm, 22), stopped(bd), running(sa, 11)}, nil, func(t *testing.T, d Decision) {
			if d.Step() != OpCheckLogs {
				t.Fatalf("Decision = %+v, want CheckLogs", d)
			}
			var links []string
			for _, it := range d.Scan {
				links = append(links, it.Link)
			}
			if want := []string{cs, pm, sa}; !slices.Equal(links, want) {
				t.Errorf("scanned %q, want %q", links, want)
			}
			if !slices.Equal(d.Op.Argv[4:9], []string{root, "1", "ERROR", "1", "Traceback"}) {
				t.Errorf("scan argv %q, want the levels then the patterns", d.Op.Argv[4:9])
			}
		}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) { st.check(t, DecideStart(probed(st.startup, st.save, m), in)) })
	}
	// The CS that does not come up fails the host with its log, before the
	// others are restored.
	late := in
	late.Elapsed = late.StepTimeout
	d := DecideStart(probed([]link{running(cs, 1)}, []link{parked(sa), parked(pm)}, m), late)
	if d.Fail == nil || d.Fail.Reason != diracv1.ReasonComponentNotUp || !strings.Contains(d.Fail.Message, cs) {
		t.Errorf("Decision = %+v, want ComponentNotUp naming the CS", d)
	}
	if got := startGroup("Configuration_Server", nil, nil); got != 1 {
		t.Errorf("no patterns: group %d, want 1 (all at once)", got)
	}
}

func TestDecideDatabaseService(t *testing.T) {
	svc := &DatabaseService{Start: []string{"sudo", "/usr/local/sbin/lab-mysqld", "start"}, Stop: []string{"sudo", "/usr/local/sbin/lab-mysqld", "stop"},
		Ready: []string{"mysqladmin", "ping"}}
	base := DatabaseInput{Host: "db1", Root: root, Service: svc, StepTimeout: time.Minute}
	tried := func(elapsed time.Duration) DatabaseInput { in := base; in.Tried, in.Elapsed = true, elapsed; return in }
	// A system MariaDB: no mysql.server under DIRAC's root (MysqlPresent
	// false), and that is no failure.
	probe := func(up, ready bool) *Probe { return &Probe{RootExists: true, MysqldUp: up, Ready: ready} }
	cases := []struct {
		name   string
		decide func(*Probe, DatabaseInput) Decision
		p      *Probe
		in     DatabaseInput
		step   OpName
		argv   []string
		done   bool
		wait   bool
		fail   string
	}{
		{"stop: runs → the stop argv", DecideStopDatabase, probe(true, true), base, OpStopDatabase, svc.Stop, false, false, ""},
		{"stop: still runs after it → wait", DecideStopDatabase, probe(true, false), tried(time.Second), "", nil, false, true, ""},
		{"stop: still runs after stepTimeout → DatabaseNotStopped", DecideStopDatabase, probe(true, false), tried(time.Minute), "", nil, false, false, diracv1.ReasonDatabaseNotStopped},
		{"stop: gone → done", DecideStopDatabase, probe(false, false), base, "", nil, true, false, ""},
		{"start: answers → done", DecideStartDatabase, probe(true, true), base, "", nil, true, false, ""},
		{"start: stopped → the start argv", DecideStartDatabase, probe(false, false), base, OpStartDatabase, svc.Start, false, false, ""},
		{"start: runs but does not answer → start (a no-op when running), then wait", DecideStartDatabase, probe(true, false), base, OpStartDatabase, svc.Start, false, false, ""},
		{"start: no answer yet → wait", DecideStartDatabase, probe(true, false), tried(time.Second), "", nil, false, true, ""},
		{"start: no answer after stepTimeout → DatabaseNotReady", DecideStartDatabase, probe(true, false), tried(time.Minute), "", nil, false, false, diracv1.ReasonDatabaseNotReady},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.decide(tc.p, tc.in)
			switch {
			case tc.fail != "":
				if d.Fail == nil || d.Fail.Reason != tc.fail {
					t.Errorf("Decision = %+v, want %s", d, tc.fail)
				}
			case tc.done:
				if !d.Done {
					t.Errorf("Decision = %+v, want done", d)
				}
			case tc.wait:
				if d.Wait == 0 || d.Op != nil {
					t.Errorf("Decision = %+v, want a wait", d)
				}
			default:
				if d.Step() != tc.step || !slices.Equal(d.Op.Argv, tc.argv) {
					t.Errorf("Decision = %+v, want %s %q", d, tc.step, tc.argv)
				}
			}
		})
	}
	if f, _ := Preflight(probe(true, true), PreflightInput{Host: "db1", Root: root, Roles: []diracv1.Role{diracv1.RoleDatabase}, Service: svc}); f != nil {
		t.Errorf("Preflight of a system MariaDB = %+v, want nil (no mysql.server needed)", f)
	}
}

// TestProbeScriptReady runs the readiness argv in the probe, for real.
func TestProbeScriptReady(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		h := newHost(t, shell, "db1", true)
		ready := []string{"test", "-f", hostsim.Root + "/state/mysqld.running"}
		probe := func() *Probe {
			t.Helper()
			res := runSim(t, h, ProbeOp(ProbeArgs{Root: hostsim.DiracRoot, Manifest: ".m", Ready: ready}, nil, 0).Argv)
			p, err := ParseProbe(res.Stdout)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if p := probe(); !p.Ready || !p.MysqldUp || p.MysqlPresent {
			t.Errorf("running: %+v, want ready and running (no mysql.server asked)", p)
		}
		runSim(t, h, remote.Command{hostsim.MysqlServer, "stop"})
		if p := probe(); p.Ready || p.MysqldUp {
			t.Errorf("stopped: %+v, want neither", p)
		}
	})
}

// TestDecideStartWantUp: a restored link runsv wants up but that is not
// running (restarting after an exit, or a runsv that cannot start it) is
// waited for, not asked again with runsvctrl u at every look; one runit
// holds down is woken.
func TestDecideStartWantUp(t *testing.T) {
	m := manifestOf(entry("WorkloadManagement_JobAgent", ClassAgent, true, false))
	in := stopInput(agentsOnly, ActionStartAgents)
	wantUp := link{name: "WorkloadManagement_JobAgent", target: target("WorkloadManagement_JobAgent"), stat: "down 0 seconds, normally up, want up"}
	if d := DecideStart(probed([]link{wantUp}, nil, m), in); d.Op != nil || d.Wait == 0 || d.Until == nil {
		t.Errorf("want up: %+v, want a wait", d)
	}
	held := link{name: "WorkloadManagement_JobAgent", target: target("WorkloadManagement_JobAgent"), stat: "down 3 seconds, normally up"}
	if d := DecideStart(probed([]link{held}, nil, m), in); d.Step() != OpStartComponents {
		t.Errorf("held down: %+v, want StartComponents", d)
	}
	late := in
	late.Elapsed = in.StepTimeout
	if d := DecideStart(probed([]link{wantUp}, nil, m), late); d.Fail == nil || d.Fail.Reason != diracv1.ReasonComponentNotUp {
		t.Errorf("want up past stepTimeout: %+v, want ComponentNotUp", d)
	}
}
