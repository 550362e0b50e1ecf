package sim

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The differential test: the same scenarios, driven by the procedure's
// decide functions, on this simulator and on internal/hostsim (the real
// scripts, run by sh over a fake filesystem). Both must take the same
// decisions (operations with their links, failures, what was parked,
// killed and found in the logs) and end in the same state (links,
// supervision, manifest, mysqld, journal, maintenance). Polls are not
// compared: how often a host is looked at depends on timing, not on what it
// holds.

// world is one side of the comparison.
type world interface {
	executor() remote.Executor
	clock() Clock
	state(t *testing.T, host string, links []string) string
	// conflict puts a parked link of the same name, another target.
	conflict(t *testing.T, host, link string)
	// mysqldBack starts mysqld behind the procedure's back.
	mysqldBack(t *testing.T, host string)
}

// hostSpec is one host of a scenario.
type hostSpec struct {
	name  string
	db    bool
	roles []diracv1.Role
	comps []hostsim.Component
}

const uid = "diff"

var maintSet = []string{"sms", "set", "maintenance", "{reason}", "other", "{host}"}
var maintClear = []string{"sms", "clear", "maintenance", "{reason}", "{host}"}

// --- internal/hostsim ---

type scriptWorld struct {
	cluster *hostsim.Cluster
	hosts   map[string]*hostsim.Host
	clk     Clock
}

func newScriptWorld(t *testing.T, specs []hostSpec) *scriptWorld {
	w := &scriptWorld{hosts: map[string]*hostsim.Host{}, clk: NewScaledClock(1)}
	var hs []*hostsim.Host
	for _, s := range specs {
		h := hostsim.NewHost(t, s.name, s.db, s.comps...)
		w.hosts[s.name] = h
		hs = append(hs, h)
	}
	w.cluster = hostsim.NewCluster(hs...)
	return w
}

func (w *scriptWorld) executor() remote.Executor { return w.cluster.Executor() }
func (w *scriptWorld) clock() Clock              { return w.clk }

func (w *scriptWorld) state(t *testing.T, name string, links []string) string {
	h := w.hosts[name]
	var b strings.Builder
	fmt.Fprintf(&b, "startup=%v save=%v", sortedMap(h.Links(t, "startup")), sortedMap(h.Links(t, "startup-save")))
	for _, l := range links {
		fmt.Fprintf(&b, " %s=%s", l, process(h.SvState(t, l)))
	}
	_, err := os.Stat(h.Path("dirac", "startup-save", procedure.ManifestName(uid)))
	fmt.Fprintf(&b, " manifest=%v", err == nil)
	if h.DB {
		fmt.Fprintf(&b, " mysqld=%v journal=%s", h.MysqldRunning(), strings.ReplaceAll(h.Journal(t), h.Path()+"/", hostsim.Root+"/"))
	}
	_, err = os.Stat(h.Path("state", "maintenance", name))
	fmt.Fprintf(&b, " maintenance=%v", err == nil)
	return b.String()
}

func (w *scriptWorld) conflict(t *testing.T, host, link string) {
	if err := os.MkdirAll(w.hosts[host].Path("dirac", "startup-save"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../runit/Elsewhere/Other", w.hosts[host].Path("dirac", "startup-save", link)); err != nil {
		t.Fatal(err)
	}
}

func (w *scriptWorld) mysqldBack(t *testing.T, host string) {
	if err := os.WriteFile(w.hosts[host].Path("state", "mysqld.running"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// --- this simulator ---

type simWorld struct{ s *Sim }

func newSimWorld(specs []hostSpec) *simWorld {
	s := New(Config{Seed: 1, Model: InstantModel(), Clock: NewScaledClock(25),
		Layout:         Layout{Root: hostsim.DiracRoot, MysqlServer: hostsim.MysqlServer, JournalFrom: hostsim.JournalFrom, JournalTo: hostsim.JournalTo},
		MaintenanceSet: maintSet, MaintenanceClear: maintClear})
	for _, sp := range specs {
		var comps []Component
		for _, c := range sp.comps {
			comps = append(comps, Component{Link: c.Link, Agent: c.Agent, Down: c.Down, Fault: Fault(c.Fault)})
		}
		s.AddHost(sp.name, sp.db, comps...)
	}
	return &simWorld{s: s}
}

func (w *simWorld) executor() remote.Executor { return w.s }
func (w *simWorld) clock() Clock              { return w.s.Clock() }

func (w *simWorld) state(_ *testing.T, name string, links []string) string {
	h := w.s.Host(name)
	var b strings.Builder
	fmt.Fprintf(&b, "startup=%v save=%v", sortedMap(h.Links("startup")), sortedMap(h.Links("startup-save")))
	for _, l := range links {
		fmt.Fprintf(&b, " %s=%s", l, process(h.SvState(l)))
	}
	_, ok := h.File(procedure.ManifestName(uid))
	fmt.Fprintf(&b, " manifest=%v", ok)
	if h.db {
		fmt.Fprintf(&b, " mysqld=%v journal=%s", h.MysqldRunning(), h.Journal())
	}
	fmt.Fprintf(&b, " maintenance=%v", h.InMaintenance(name))
	return b.String()
}

func (w *simWorld) conflict(_ *testing.T, host, link string) {
	w.s.Host(host).SetLink("startup-save", link, "../runit/Elsewhere/Other")
}

func (w *simWorld) mysqldBack(_ *testing.T, host string) { w.s.Host(host).SetMysqldRunning(true) }

// process is what runs of a component: a parked link's runsv goes at
// runsvdir's next scan, which hostsim makes before a command and this
// simulator at its rescan, so "down" and "unsupervised" are one state here.
func process(sv string) string {
	if sv == "unsupervised" {
		return "down"
	}
	return sv
}

func sortedMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"->"+m[k])
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// --- the driver: the decide functions, one host at a time per tier ---

// tick is how often a waiting probe looks.
const tick = 100 * time.Millisecond

type driver struct {
	t     *testing.T
	w     world
	specs []hostSpec
	stop  time.Duration // stopTimeout
}

// run plays the plan of state on every host, tier by tier (hosts of a tier
// in parallel), and returns the decisions per host, in order.
func (d *driver) run(state diracv1.State) map[string][]string {
	spec := &diracv1.VOBoxInterventionSpec{State: state}
	for _, s := range d.specs {
		spec.Hosts = append(spec.Hosts, diracv1.HostSpec{Name: s.name, Roles: s.roles})
	}
	plan := procedure.BuildPlan(spec)
	var mu sync.Mutex
	out := map[string][]string{}
	for _, tier := range plan.Tiers {
		var wg sync.WaitGroup
		for _, name := range tier.Hosts {
			s := d.spec(name)
			wg.Go(func() {
				got := d.host(s, tier)
				mu.Lock()
				out[name] = append(out[name], got...)
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	return out
}

func (d *driver) spec(name string) hostSpec {
	for _, s := range d.specs {
		if s.name == name {
			return s
		}
	}
	d.t.Fatalf("no host %s", name)
	return hostSpec{}
}

// host drives one host through one tier.
func (d *driver) host(s hostSpec, tier procedure.Tier) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, clk := d.w.executor(), d.w.clock()
	target := remote.Target{Name: s.name, Address: s.name, Credentials: &remote.Credentials{}}
	prefix := string(tier.Action) + ": "
	var log []string
	run := func(cmd remote.Command) remote.Result {
		res, err := ex.Run(ctx, target, cmd)
		if err != nil {
			d.t.Errorf("%s: %s: %v", s.name, tier.Action, err)
		}
		return res
	}
	switch tier.Action {
	case procedure.ActionSetMaintenance, procedure.ActionClearMaintenance:
		tmpl, name := maintSet, procedure.OpSetMaintenance
		if tier.Action == procedure.ActionClearMaintenance {
			tmpl, name = maintClear, procedure.OpClearMaintenance
		}
		op := procedure.MaintenanceOnce(procedure.Maintenance(name, tmpl, s.name, "power stop"), hostsim.DiracRoot+"/startup-save", uid, s.name)
		var out []string
		// Twice: the marker makes the second a no-op.
		for range 2 {
			res := run(op.Argv)
			out = append(out, fmt.Sprintf("%s%s exit=%d ran=%v", prefix, name, res.ExitCode, procedure.ParseMaintenance(res.Stdout)))
		}
		return out
	}
	args := procedure.ProbeArgs{Root: hostsim.DiracRoot, Manifest: procedure.ManifestName(uid)}
	if s.db {
		args.MysqlServer, args.JournalFrom, args.JournalTo = hostsim.MysqlServer, hostsim.JournalFrom, hostsim.JournalTo
	}
	classes := procedure.ClassesFor(tier.Action, s.roles)
	in := procedure.ComponentsInput{Host: s.name, Root: hostsim.DiracRoot, ManifestName: procedure.ManifestName(uid),
		Roles: s.roles, Classes: classes, StopTimeout: d.stop, StepTimeout: 20 * time.Second, Uptime: time.Second,
		Patterns: []string{"Traceback"}, Levels: []string{"ERROR", "FATAL"},
		StartFirst: []string{"Configuration_*"}, StartLast: []string{"Framework_SystemAdministrator"},
		ScanFrom: clk.Now().Add(-time.Hour)}
	db := procedure.DatabaseInput{Host: s.name, Root: hostsim.DiracRoot, MysqlServer: hostsim.MysqlServer, JournalFrom: hostsim.JournalFrom,
		JournalTo: hostsim.JournalTo, StepTimeout: 20 * time.Second}
	since := clk.Now()
	var until *procedure.Wait
	var out []byte
	probe := true
	for range 300 {
		if probe {
			outs, rest := procedure.SplitStepOutput(run(procedure.ProbeOp(args, until, tick).Argv).Stdout)
			log, out = append(log, ranAfter(prefix, until, outs)...), rest
		}
		p, err := procedure.ParseProbe(out)
		if err != nil {
			d.t.Errorf("%s: %v", s.name, err)
			return log
		}
		in.Elapsed, db.Elapsed = clk.Now().Sub(since), clk.Now().Sub(since)
		var dec procedure.Decision
		switch tier.Action {
		case procedure.ActionStopAgents, procedure.ActionStopServices:
			dec = procedure.DecideStop(p, in)
		case procedure.ActionStartServices, procedure.ActionStartAgents:
			dec = procedure.DecideStart(p, in)
		case procedure.ActionStopDatabase:
			dec = procedure.DecideStopDatabase(p, db)
		case procedure.ActionStartDatabase:
			dec = procedure.DecideStartDatabase(p, db)
		}
		switch {
		case dec.Fail != nil:
			return append(log, prefix+"fail "+dec.Fail.Reason)
		case dec.Done:
			log = append(log, fmt.Sprintf("%sdone saved=%v excluded=%v", prefix, dec.Saved, dec.Excluded))
			if p.Manifest != nil && procedure.LastStartTier(tier.Action, tier.Condition, s.roles) {
				op := procedure.RemoveManifest(hostsim.DiracRoot+"/startup-save", procedure.ManifestName(uid))
				log = append(log, fmt.Sprintf("%s%s exit=%d", prefix, op.Name, run(op.Argv).ExitCode))
			}
			return log
		case dec.Op != nil && dec.Op.Name == procedure.OpCheckLogs:
			findings := procedure.ParseFindings(run(dec.Op.Argv).Stdout)
			var links []string
			for _, f := range findings {
				links = append(links, strings.SplitN(f, ":", 2)[0])
			}
			log = append(log, fmt.Sprintf("%s%s %v findings=%v", prefix, dec.Op.Name, dec.Op.Links, links))
			in.Scanned, until, probe = true, nil, true
		case dec.Op != nil:
			ops := []procedure.Op{*dec.Op}
			if dec.Next != nil {
				ops = append(ops, *dec.Next)
			}
			for _, op := range ops {
				log = append(log, fmt.Sprintf("%s%s %v killed=%v", prefix, op.Name, op.Links, dec.Killed))
			}
			res := run(procedure.Session(ops, &args, dec.Then, tick).Argv)
			outs, rest := procedure.SplitStepOutput(res.Stdout)
			if len(outs) < len(ops) || outs[len(ops)-1].ExitCode != 0 {
				return append(log, fmt.Sprintf("%s%s failed: %q", prefix, dec.Op.Name, res.Stdout))
			}
			log = append(log, ranAfter(prefix, dec.Then, outs[len(ops):])...)
			switch dec.Op.Name {
			case procedure.OpStopComponents, procedure.OpKillComponents:
				in.StopRequested, since = true, clk.Now()
			case procedure.OpStopDatabase, procedure.OpStartDatabase:
				db.Tried = true
			}
			out, until, probe = rest, nil, false
		default:
			until, probe = dec.Until, true
			if err := clk.Sleep(ctx, dec.Wait); err != nil {
				d.t.Errorf("%s: %v", s.name, err)
				return log
			}
		}
	}
	d.t.Errorf("%s: %s did not finish", s.name, tier.Action)
	return log
}

// ranAfter logs the operations of a wait's After that ran (outs, their
// outputs), or that they did not.
func ranAfter(prefix string, w *procedure.Wait, outs []procedure.CommandOutput) []string {
	if w == nil || len(w.After) == 0 {
		return nil
	}
	if len(outs) == 0 {
		return []string{prefix + "after: not met"}
	}
	var log []string
	for i, o := range outs {
		log = append(log, fmt.Sprintf("%safter: %s %v exit=%d", prefix, w.After[i].Name, w.After[i].Links, o.ExitCode))
	}
	return log
}

// --- scenarios ---

type scenario struct {
	name  string
	hosts []hostSpec
	stop  time.Duration
	// before each direction, on both worlds.
	beforeDown, beforeUp func(t *testing.T, w world)
	// up runs the Up plan after the Down plan.
	up bool
}

func scenarios() []scenario {
	small := []hostSpec{
		{name: "db1", db: true, roles: []diracv1.Role{diracv1.RoleDatabase}},
		{name: "fw1", roles: []diracv1.Role{diracv1.RoleFramework}, comps: []hostsim.Component{{Link: "Configuration_Server"}, {Link: "Framework_SystemAdministrator"}}},
		{name: "svc1", roles: []diracv1.Role{diracv1.RoleServices}, comps: []hostsim.Component{{Link: "WorkloadManagement_JobMonitoring"}, {Link: "DataManagement_FileCatalog", Fault: "errors"}}},
		{name: "agt1", roles: []diracv1.Role{diracv1.RoleAgents}, comps: []hostsim.Component{{Link: "WorkloadManagement_SiteDirector", Agent: true}, {Link: "Transformation_TaskAgent", Agent: true, Down: true}}},
		{name: "mix1", roles: []diracv1.Role{diracv1.RoleAgents, diracv1.RoleServices}, comps: []hostsim.Component{{Link: "RequestManagement_ReqManager"}, {Link: "RequestManagement_RequestExecutingAgent", Agent: true}}},
	}
	return []scenario{
		{name: "DownUp", hosts: small, stop: time.Hour, up: true},
		{name: "KillPath", stop: time.Second, up: true, hosts: []hostSpec{
			{name: "agt2", roles: []diracv1.Role{diracv1.RoleAgents}, comps: []hostsim.Component{{Link: "WorkloadManagement_StalledJobAgent", Agent: true, Fault: "nostop"}, {Link: "WorkloadManagement_JobCleaningAgent", Agent: true}}},
		}},
		{name: "ConflictingLink", stop: time.Hour, hosts: []hostSpec{
			{name: "svc2", roles: []diracv1.Role{diracv1.RoleServices}, comps: []hostsim.Component{{Link: "Accounting_DataStore"}, {Link: "Monitoring_Monitoring"}}},
		}, beforeDown: func(t *testing.T, w world) { w.conflict(t, "svc2", "Monitoring_Monitoring") }},
		{name: "DatabaseBackAtBoot", stop: time.Hour, up: true, hosts: []hostSpec{
			{name: "db2", db: true, roles: []diracv1.Role{diracv1.RoleDatabase}},
		}, beforeUp: func(t *testing.T, w world) { w.mysqldBack(t, "db2") }},
	}
}

func links(hosts []hostSpec, name string) []string {
	for _, h := range hosts {
		if h.name == name {
			var out []string
			for _, c := range h.comps {
				out = append(out, c.Link)
			}
			return out
		}
	}
	return nil
}

// play runs a scenario on a world and returns its decisions and states.
func play(t *testing.T, sc scenario, w world) []string {
	d := &driver{t: t, w: w, specs: sc.hosts, stop: sc.stop}
	var out []string
	snapshot := func(label string, dec map[string][]string) {
		for _, h := range sc.hosts {
			out = append(out, fmt.Sprintf("%s %s decisions: %s", label, h.name, strings.Join(dec[h.name], "; ")))
			out = append(out, fmt.Sprintf("%s %s state: %s", label, h.name, w.state(t, h.name, links(sc.hosts, h.name))))
		}
	}
	if sc.beforeDown != nil {
		sc.beforeDown(t, w)
	}
	snapshot("Down", d.run(diracv1.StateDown))
	if sc.up {
		if sc.beforeUp != nil {
			sc.beforeUp(t, w)
		}
		snapshot("Up", d.run(diracv1.StateUp))
	}
	return out
}

func TestDifferential(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			var script, simulated []string
			var wg sync.WaitGroup
			wg.Go(func() { script = play(t, sc, newScriptWorld(t, sc.hosts)) })
			wg.Go(func() { simulated = play(t, sc, newSimWorld(sc.hosts)) })
			wg.Wait()
			if !slices.Equal(script, simulated) {
				for i := range max(len(script), len(simulated)) {
					var a, b string
					if i < len(script) {
						a = script[i]
					}
					if i < len(simulated) {
						b = simulated[i]
					}
					if a != b {
						t.Errorf("differs:\n  hostsim: %s\n  sim:     %s", a, b)
					}
				}
			}
			if testing.Verbose() {
				for _, l := range simulated {
					t.Log(l)
				}
			}
		})
	}
}
