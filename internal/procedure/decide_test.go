package procedure

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

const (
	root = "/opt/dirac"
	uid  = "7f1c"
)

// link is one startup or startup-save link of a probed host.
type link struct {
	name, target string
	// stat is runsvstat's line for a link in startup ("" = not supervised).
	stat  string
	agent bool
}

func target(name string) string {
	sys, comp, _ := strings.Cut(name, "_")
	return root + "/runit/" + sys + "/" + comp
}

func running(name string, secs int) link {
	return link{name: name, target: target(name), stat: "run (pid 42) " + strconv.Itoa(secs) + " seconds"}
}

func stopped(name string) link {
	return link{name: name, target: target(name), stat: "down 5 seconds, normally up"}
}

func unsupervised(name string) link {
	return link{name: name, target: target(name), stat: "warning: " + root + "/startup/" + name + ": unable to open supervise/ok: file does not exist"}
}

func parked(name string) link { return link{name: name, target: target(name)} }

// probed builds a Probe the way ParseProbe would.
func probed(startup, save []link, m *Manifest) *Probe {
	p := &Probe{Now: 1_700_000_000, RootExists: true, Startup: map[string]string{}, Save: map[string]string{},
		State: map[string]SvState{}, AgentScript: map[string]bool{}, Manifest: m}
	for _, l := range startup {
		p.Startup[l.name] = l.target
		p.State[l.name] = ParseSvState(l.stat)
		if l.agent {
			p.AgentScript[l.name] = true
		}
	}
	for _, l := range save {
		p.Save[l.name] = l.target
	}
	return p
}

func entry(name string, class LinkClass, wasUp, excluded bool) ManifestEntry {
	return ManifestEntry{Name: name, Target: target(name), Class: class, WasUp: wasUp, Excluded: excluded}
}

func manifestOf(entries ...ManifestEntry) *Manifest { return &Manifest{Entries: entries} }

var (
	servicesOnly     = []diracv1.Role{diracv1.RoleServices}
	agentsOnly       = []diracv1.Role{diracv1.RoleAgents}
	agentsAndService = []diracv1.Role{diracv1.RoleAgents, diracv1.RoleServices}
)

func stopInput(roles []diracv1.Role, action Action) ComponentsInput {
	return ComponentsInput{Host: "vobox1", Root: root, ManifestName: ManifestName(uid), Roles: roles,
		Classes: ClassesFor(action, roles), StopTimeout: 2 * time.Minute, StepTimeout: 5 * time.Minute, Uptime: 10 * time.Second}
}

// wantCommand checks a Decision's single command.
func wantCommand(t *testing.T, d Decision, step string, want remote.Command) {
	t.Helper()
	if d.Fail != nil || d.Done || d.Wait != 0 {
		t.Fatalf("Decision = %+v, want step %s", d, step)
	}
	if d.Step() != OpName(step) {
		t.Errorf("step = %q, want %q", d.Step(), step)
	}
	if d.Op == nil || !slices.Equal(d.Op.Argv, want) {
		t.Errorf("op = %+v, want %q", d.Op, want)
	}
}

func wantFail(t *testing.T, d Decision, reason string, terminal bool, mentions ...string) {
	t.Helper()
	if d.Fail == nil {
		t.Fatalf("Decision = %+v, want Failure %s", d, reason)
	}
	if d.Fail.Reason != reason || d.Fail.Terminal != terminal {
		t.Errorf("Failure = %s (terminal %v), want %s (terminal %v)", d.Fail.Reason, d.Fail.Terminal, reason, terminal)
	}
	if d.Op != nil || d.Done {
		t.Errorf("a failed Decision runs %+v / done %v", d.Op, d.Done)
	}
	for _, m := range mentions {
		if !strings.Contains(d.Fail.Message, m) {
			t.Errorf("message %q does not mention %q", d.Fail.Message, m)
		}
	}
}

func TestDecideStopRecordsManifestFirst(t *testing.T) {
	in := stopInput(agentsAndService, ActionStopAgents)
	in.Exclude = []string{"WorkloadManagement_SiteDirector"}
	p := probed([]link{
		running("Framework_SystemAdministrator", 500),
		{name: "WorkloadManagement_SiteDirector", target: target("WorkloadManagement_SiteDirector"), stat: "run (pid 7) 500 seconds", agent: true},
		{name: "DataManagement_FTS3Agent", target: target("DataManagement_FTS3Agent"), stat: "down 900 seconds, normally up", agent: true},
		unsupervised("Transformation_TransformationAgent"),
	}, nil, nil)
	d := DecideStop(p, in)
	if d.Step() != OpRecordManifest || d.Op == nil {
		t.Fatalf("Decision on a fresh host = %+v, want RecordManifest", d)
	}
	cmd := d.Op.Argv
	if len(cmd) != 7 || !slices.Equal(cmd[:6], remote.Command{"sh", "-c", manifestScript, "vobox-manifest", root + "/startup-save", ManifestName(uid)}) {
		t.Fatalf("command = %q", d.Op.Display())
	}
	got, err := ParseManifest(strings.Split(strings.TrimSuffix(cmd[6], "\n"), "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ManifestEntry{
		entry("DataManagement_FTS3Agent", ClassAgent, false, false),
		entry("Framework_SystemAdministrator", ClassService, true, false),
		// Not supervised yet: runsv will start it, so it counts as up.
		entry("Transformation_TransformationAgent", ClassService, true, false),
		entry("WorkloadManagement_SiteDirector", ClassAgent, true, true),
	}
	if !slices.Equal(got.Entries, want) {
		t.Errorf("manifest = %+v\nwant %+v", got.Entries, want)
	}

	// A link that appears after the manifest was written is added, and the
	// recorded entries keep what they said (the stopped agent stays "was up").
	m := manifestOf(entry("WorkloadManagement_SiteDirector", ClassAgent, true, false))
	p = probed([]link{stopped("WorkloadManagement_SiteDirector"), running("Framework_New", 3)}, nil, m)
	d = DecideStop(p, stopInput(servicesOnly, ActionStopServices))
	if d.Step() != OpRecordManifest {
		t.Fatalf("Decision with a new link = %+v, want RecordManifest", d)
	}
	got, _ = ParseManifest(strings.Split(strings.TrimSuffix(d.Op.Argv[6], "\n"), "\n"))
	want = []ManifestEntry{entry("Framework_New", ClassService, true, false), entry("WorkloadManagement_SiteDirector", ClassAgent, true, false)}
	if !slices.Equal(got.Entries, want) {
		t.Errorf("grown manifest = %+v\nwant %+v", got.Entries, want)
	}
}

func TestDecideStop(t *testing.T) {
	saveDir, startupDir := root+"/startup-save", root+"/startup"
	mixed := manifestOf(
		entry("Framework_SystemAdministrator", ClassService, true, false),
		entry("WorkloadManagement_JobAgent", ClassAgent, true, false),
		entry("WorkloadManagement_SiteDirector", ClassAgent, true, true),
	)
	cases := []struct {
		name  string
		p     *Probe
		in    func(ComponentsInput) ComponentsInput
		roles []diracv1.Role
		tier  Action
		check func(t *testing.T, d Decision)
	}{
		{
			name:  "recorded and running: runsvctrl d on the tier's links only",
			p:     probed([]link{running("Framework_SystemAdministrator", 9), running("WorkloadManagement_JobAgent", 9), running("WorkloadManagement_SiteDirector", 9)}, nil, mixed),
			roles: agentsAndService, tier: ActionStopAgents,
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "StopComponents", remote.Command{"runsvctrl", "d", startupDir + "/WorkloadManagement_JobAgent", startupDir + "/WorkloadManagement_SiteDirector"})
				// The probe after it waits for them to stop, until stopTimeout.
				// Once they are down, it parks them in the same session.
				want := &Wait{Links: []string{"WorkloadManagement_JobAgent", "WorkloadManagement_SiteDirector"}, For: 2 * time.Minute,
					After: []Op{ParkLinks(startupDir, saveDir, []string{"WorkloadManagement_JobAgent", "WorkloadManagement_SiteDirector"})}}
				if !reflect.DeepEqual(d.Then, want) {
					t.Errorf("then = %+v, want %+v", d.Then, want)
				}
			},
		},
		{
			// A host just booted: runsvdir has started one agent (its runsv
			// wants it up) and not yet the other. The one not supervised
			// at the probe may start before the wait ends: it is not parked
			// on the wait's word, but on the report's.
			name:  "after a reboot, a link not yet supervised is not parked by the wait",
			p:     probed([]link{running("WorkloadManagement_JobAgent", 1), unsupervised("WorkloadManagement_SiteDirector")}, nil, mixed),
			roles: agentsOnly, tier: ActionStopAgents,
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "StopComponents", remote.Command{"runsvctrl", "d", startupDir + "/WorkloadManagement_JobAgent"})
				want := &Wait{Links: []string{"WorkloadManagement_JobAgent"}, For: 2 * time.Minute,
					After: []Op{ParkLinks(startupDir, saveDir, []string{"WorkloadManagement_JobAgent"})}}
				if !reflect.DeepEqual(d.Then, want) {
					t.Errorf("then = %+v, want %+v", d.Then, want)
				}
			},
		},
		{
			name:  "stop requested, still running: wait",
			p:     probed([]link{stopped("WorkloadManagement_JobAgent"), {name: "WorkloadManagement_SiteDirector", target: target("WorkloadManagement_SiteDirector"), stat: "run (pid 9) 2 seconds, want down"}}, nil, mixed),
			roles: agentsOnly, tier: ActionStopAgents,
			in: func(in ComponentsInput) ComponentsInput { in.StopRequested, in.Elapsed = true, time.Minute; return in },
			check: func(t *testing.T, d Decision) {
				if d.Wait != PollInterval || d.Op != nil || d.Done || d.Fail != nil {
					t.Errorf("Decision = %+v, want a wait of %s", d, PollInterval)
				}
				// The host waits for the stopping one, until stopTimeout.
				// It covers every link it then parks, the stopped one too.
				want := &Wait{Links: []string{"WorkloadManagement_SiteDirector", "WorkloadManagement_JobAgent"}, For: time.Minute,
					After: []Op{ParkLinks(startupDir, saveDir, []string{"WorkloadManagement_JobAgent", "WorkloadManagement_SiteDirector"})}}
				if !reflect.DeepEqual(d.Until, want) {
					t.Errorf("until = %+v, want %+v", d.Until, want)
				}
			},
		},
		{
			name:  "still running after stopTimeout: runsvctrl k, recorded as killed",
			p:     probed([]link{stopped("WorkloadManagement_JobAgent"), {name: "WorkloadManagement_SiteDirector", target: target("WorkloadManagement_SiteDirector"), stat: "run (pid 9) 200 seconds, want down"}}, nil, mixed),
			roles: agentsOnly, tier: ActionStopAgents,
			in: func(in ComponentsInput) ComponentsInput {
				in.StopRequested, in.Elapsed = true, 2*time.Minute
				return in
			},
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "KillComponents", remote.Command{"runsvctrl", "k", startupDir + "/WorkloadManagement_SiteDirector"})
				if !slices.Equal(d.Killed, []string{"WorkloadManagement_SiteDirector"}) {
					t.Errorf("killed = %v", d.Killed)
				}
			},
		},
		{
			name:  "all down: park the tier's links, excluded too",
			p:     probed([]link{running("Framework_SystemAdministrator", 9), stopped("WorkloadManagement_JobAgent"), unsupervised("WorkloadManagement_SiteDirector")}, nil, mixed),
			roles: agentsAndService, tier: ActionStopAgents,
			in: func(in ComponentsInput) ComponentsInput { in.StopRequested = true; return in },
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "ParkLinks", remote.Command{"sh", "-c", linksScript, "vobox-park", startupDir, saveDir, "WorkloadManagement_JobAgent", "WorkloadManagement_SiteDirector"})
			},
		},
		{
			name:  "everything parked: done, saved and excluded reported",
			p:     probed([]link{running("Framework_SystemAdministrator", 9)}, []link{parked("WorkloadManagement_JobAgent"), parked("WorkloadManagement_SiteDirector")}, mixed),
			roles: agentsAndService, tier: ActionStopAgents,
			check: func(t *testing.T, d Decision) {
				if !d.Done || d.Op != nil {
					t.Fatalf("Decision = %+v, want done", d)
				}
				if !slices.Equal(d.Saved, []string{"WorkloadManagement_JobAgent"}) || !slices.Equal(d.Excluded, []string{"WorkloadManagement_SiteDirector"}) {
					t.Errorf("saved %v excluded %v", d.Saved, d.Excluded)
				}
			},
		},
		{
			name: "a different link of the same name in startup-save: StartupSaveConflict, nothing runs",
			p: probed([]link{running("Framework_SystemAdministrator", 9), running("WorkloadManagement_JobAgent", 9)},
				[]link{{name: "WorkloadManagement_JobAgent", target: "/opt/dirac/old/JobAgent"}}, mixed),
			roles: agentsAndService, tier: ActionStopServices,
			check: func(t *testing.T, d Decision) {
				wantFail(t, d, diracv1.ReasonStartupSaveConflict, true, "vobox1", "WorkloadManagement_JobAgent", "/opt/dirac/old/JobAgent", "nothing was moved")
			},
		},
		{
			name:  "the same link already parked: drop the copy in startup",
			p:     probed([]link{stopped("Framework_SystemAdministrator")}, []link{parked("Framework_SystemAdministrator"), parked("WorkloadManagement_JobAgent"), parked("WorkloadManagement_SiteDirector")}, mixed),
			roles: servicesOnly, tier: ActionStopServices,
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "DropDuplicateLinks", remote.Command{"rm", "-f", "--", startupDir + "/Framework_SystemAdministrator"})
			},
		},
		{
			name:  "the same link already parked but running: stop it before dropping the copy",
			p:     probed([]link{running("Framework_SystemAdministrator", 9)}, []link{parked("Framework_SystemAdministrator"), parked("WorkloadManagement_JobAgent"), parked("WorkloadManagement_SiteDirector")}, mixed),
			roles: servicesOnly, tier: ActionStopServices,
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "StopComponents", remote.Command{"runsvctrl", "d", startupDir + "/Framework_SystemAdministrator"})
			},
		},
		{
			name:  "a recorded link is gone: LinkMissing",
			p:     probed([]link{stopped("WorkloadManagement_JobAgent")}, nil, mixed),
			roles: agentsAndService, tier: ActionStopServices,
			check: func(t *testing.T, d Decision) {
				wantFail(t, d, diracv1.ReasonLinkMissing, true, "Framework_SystemAdministrator")
			},
		},
		{
			name:  "an exclude naming no link: a warning, the step goes on",
			p:     probed([]link{running("Framework_SystemAdministrator", 9)}, nil, manifestOf(entry("Framework_SystemAdministrator", ClassService, true, false))),
			roles: servicesOnly, tier: ActionStopServices,
			in: func(in ComponentsInput) ComponentsInput {
				in.Exclude = []string{"Nope_Agent", "Framework_SystemAdministrator"}
				return in
			},
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "StopComponents", remote.Command{"runsvctrl", "d", startupDir + "/Framework_SystemAdministrator"})
				if !strings.Contains(d.Warning, "Nope_Agent") || strings.Contains(d.Warning, "Framework_SystemAdministrator") {
					t.Errorf("warning = %q, want it to name Nope_Agent only", d.Warning)
				}
			},
		},
		{
			name:  "no link at all: done, nothing recorded",
			p:     probed(nil, nil, nil),
			roles: servicesOnly, tier: ActionStopServices,
			check: func(t *testing.T, d Decision) {
				if !d.Done || d.Op != nil || len(d.Saved) != 0 {
					t.Errorf("Decision = %+v, want done", d)
				}
			},
		},
		{
			name:  "no DIRAC root: DiracRootMissing",
			p:     &Probe{},
			roles: servicesOnly, tier: ActionStopServices,
			check: func(t *testing.T, d Decision) { wantFail(t, d, diracv1.ReasonDiracRootMissing, true, "vobox1", root) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := stopInput(tc.roles, tc.tier)
			if tc.in != nil {
				in = tc.in(in)
			}
			tc.check(t, DecideStop(tc.p, in))
		})
	}
}

// TestDecideStopSequence walks a host through its stop from a fresh probe,
// applying each Decision to the probed state, as the controller does.
func TestDecideStopSequence(t *testing.T) {
	p := probed([]link{running("Framework_SystemAdministrator", 100), stopped("Framework_Idle")}, nil, nil)
	in := stopInput(servicesOnly, ActionStopServices)
	var steps []string
	for range 10 {
		d := DecideStop(p, in)
		if d.Fail != nil {
			t.Fatalf("failed: %v", d.Fail)
		}
		if d.Done {
			if !slices.Equal(d.Saved, []string{"Framework_Idle", "Framework_SystemAdministrator"}) {
				t.Errorf("saved = %v", d.Saved)
			}
			break
		}
		steps = append(steps, string(d.Step()))
		switch d.Step() {
		case "RecordManifest":
			p.Manifest = d.Op.Manifest
		case "StopComponents":
			in.StopRequested = true
			p.State["Framework_SystemAdministrator"] = ParseSvState("down 0 seconds, normally up")
		case "ParkLinks":
			for _, n := range d.Op.Links {
				p.Save[n] = p.Startup[n]
				delete(p.Startup, n)
			}
		}
	}
	if want := []string{"RecordManifest", "StopComponents", "ParkLinks"}; !slices.Equal(steps, want) {
		t.Errorf("steps = %v, want %v", steps, want)
	}
	// Done is stable: asked again, nothing to do.
	if d := DecideStop(p, in); !d.Done {
		t.Errorf("second look = %+v, want done", d)
	}
}

// TestScanCovers: a scan stands for another of the same links whose
// windows begin at most a second earlier or maxScanLead later.
func TestScanCovers(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(link string, d time.Duration) ScanItem { return ScanItem{Link: link, Since: t0.Add(d)} }
	for _, c := range []struct {
		name       string
		done, want []ScanItem
		covers     bool
	}{
		{"same window", []ScanItem{at("a", 0)}, []ScanItem{at("a", 0)}, true},
		{"started 5s after the restore", []ScanItem{at("a", 0)}, []ScanItem{at("a", 5*time.Second)}, true},
		{"restarted since: an earlier life in the window", []ScanItem{at("a", 0)}, []ScanItem{at("a", 7*time.Second)}, false},
		{"a second's rounding", []ScanItem{at("a", 0)}, []ScanItem{at("a", -time.Second)}, true},
		{"window begins too late", []ScanItem{at("a", 0)}, []ScanItem{at("a", -2*time.Second)}, false},
		{"a link not scanned", []ScanItem{at("a", 0)}, []ScanItem{at("a", 0), at("b", 0)}, false},
		{"more scanned than wanted", []ScanItem{at("a", 0), at("b", 0)}, []ScanItem{at("b", time.Second)}, true},
	} {
		if got := ScanCovers(c.done, c.want); got != c.covers {
			t.Errorf("%s: ScanCovers = %v, want %v", c.name, got, c.covers)
		}
	}
}

func TestDecideStart(t *testing.T) {
	saveDir, startupDir := root+"/startup-save", root+"/startup"
	m := manifestOf(
		entry("Framework_SystemAdministrator", ClassService, true, false),
		entry("Framework_Idle", ClassService, false, false),
		entry("WorkloadManagement_JobAgent", ClassAgent, true, false),
		entry("WorkloadManagement_SiteDirector", ClassAgent, true, true),
	)
	cases := []struct {
		name  string
		p     *Probe
		roles []diracv1.Role
		tier  Action
		in    func(ComponentsInput) ComponentsInput
		check func(t *testing.T, d Decision)
	}{
		{
			name:  "restore the tier's saved links, never the excluded",
			p:     probed(nil, []link{parked("Framework_SystemAdministrator"), parked("Framework_Idle"), parked("WorkloadManagement_JobAgent"), parked("WorkloadManagement_SiteDirector")}, m),
			roles: agentsAndService, tier: ActionStartAgents,
			check: func(t *testing.T, d Decision) {
				// A kill's leftover stop_agent goes first, in the same session.
				wantCommand(t, d, "RemoveStopAgentFiles", remote.Command{"rm", "-f", "--", root + "/control/WorkloadManagement/JobAgent/stop_agent"})
				if want := (remote.Command{"sh", "-c", linksScript, "vobox-restore", saveDir, startupDir, "WorkloadManagement_JobAgent"}); d.Next == nil || !slices.Equal(d.Next.Argv, want) {
					t.Errorf("next = %+v, want %q", d.Next, want)
				}
				// The probe after it waits for runsvdir, then the uptime, and
				// then the host scans the logs from the probe's time on: the
				// last links of the host's tier.
				scan := CheckLogs(root, LogCheck{}, []ScanItem{{Link: "WorkloadManagement_JobAgent", Since: time.Unix(1_700_000_000, 0).UTC()}})
				want := &Wait{Up: true, Links: []string{"WorkloadManagement_JobAgent"}, Settle: 10 * time.Second, Rest: 10 * time.Second, For: 5 * time.Minute,
					After: []Op{scan}}
				if !reflect.DeepEqual(d.Then, want) {
					t.Errorf("then = %+v, want %+v", d.Then, want)
				}
			},
		},
		{
			name:  "restore everything left on a host without agents",
			p:     probed(nil, []link{parked("Framework_SystemAdministrator"), parked("Framework_Idle"), parked("WorkloadManagement_JobAgent"), parked("WorkloadManagement_SiteDirector")}, m),
			roles: servicesOnly, tier: ActionStartServices,
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "RemoveStopAgentFiles", remote.Command{"rm", "-f", "--", root + "/control/WorkloadManagement/JobAgent/stop_agent"})
				if want := (remote.Command{"sh", "-c", linksScript, "vobox-restore", saveDir, startupDir, "Framework_SystemAdministrator", "Framework_Idle", "WorkloadManagement_JobAgent"}); d.Next == nil || !slices.Equal(d.Next.Argv, want) {
					t.Errorf("next = %+v, want %q", d.Next, want)
				}
			},
		},
		{
			name:  "restored, runsv not started yet: wait",
			p:     probed([]link{unsupervised("WorkloadManagement_JobAgent")}, []link{parked("WorkloadManagement_SiteDirector")}, m),
			roles: agentsOnly, tier: ActionStartAgents,
			check: func(t *testing.T, d Decision) {
				if d.Wait != PollInterval || d.Op != nil || d.Done {
					t.Errorf("Decision = %+v, want a wait", d)
				}
				// The host waits until it runs, then componentUptime.
				// Then scans its log from the probe's time on (it did not run).
				scan := CheckLogs(root, LogCheck{}, []ScanItem{{Link: "WorkloadManagement_JobAgent", Since: time.Unix(1_700_000_000, 0).UTC()}})
				want := &Wait{Up: true, Links: []string{"WorkloadManagement_JobAgent"}, Settle: 10 * time.Second, Rest: 10 * time.Second, For: 5 * time.Minute,
					After: []Op{scan}}
				if !reflect.DeepEqual(d.Until, want) {
					t.Errorf("until = %+v, want %+v", d.Until, want)
				}
			},
		},
		{
			name:  "up for less than componentUptime: wait for the rest, at most 5s",
			p:     probed([]link{running("WorkloadManagement_JobAgent", 8)}, nil, m),
			roles: agentsOnly, tier: ActionStartAgents,
			check: func(t *testing.T, d Decision) {
				if d.Wait != 2*time.Second || d.Done {
					t.Errorf("Decision = %+v, want a wait of 2s", d)
				}
				// Then scans its log from its start (8s ago, a second's rounding).
				scan := CheckLogs(root, LogCheck{}, []ScanItem{{Link: "WorkloadManagement_JobAgent", Since: time.Unix(1_700_000_000-9, 0).UTC()}})
				want := &Wait{Up: true, Links: []string{"WorkloadManagement_JobAgent"}, Settle: 10 * time.Second, Rest: 2 * time.Second, For: 5 * time.Minute,
					After: []Op{scan}}
				if !reflect.DeepEqual(d.Until, want) {
					t.Errorf("until = %+v, want %+v", d.Until, want)
				}
			},
		},
		{
			name:  "long uptime wanted: poll every 5s",
			p:     probed([]link{running("WorkloadManagement_JobAgent", 1)}, nil, m),
			roles: agentsOnly, tier: ActionStartAgents,
			in: func(in ComponentsInput) ComponentsInput { in.Uptime = time.Minute; return in },
			check: func(t *testing.T, d Decision) {
				if d.Wait != 5*time.Second {
					t.Errorf("Decision = %+v, want a wait of 5s", d)
				}
			},
		},
		{
			name:  "restored but down (supervised): runsvctrl u",
			p:     probed([]link{stopped("WorkloadManagement_JobAgent")}, nil, m),
			roles: agentsOnly, tier: ActionStartAgents,
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "StartComponents", remote.Command{"runsvctrl", "u", startupDir + "/WorkloadManagement_JobAgent"})
			},
		},
		{
			name: "still running but wanted down (a stop cut short by a flip): runsvctrl u",
			p: probed([]link{{name: "WorkloadManagement_JobAgent", target: target("WorkloadManagement_JobAgent"), stat: "run (pid 9) 300 seconds, want down"}},
				nil, m),
			roles: agentsOnly, tier: ActionStartAgents,
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "StartComponents", remote.Command{"runsvctrl", "u", startupDir + "/WorkloadManagement_JobAgent"})
			},
		},
		{
			name:  "up long enough: scan the logs since the start",
			p:     probed([]link{running("Framework_SystemAdministrator", 30), stopped("Framework_Idle")}, nil, m),
			roles: servicesOnly, tier: ActionStartServices,
			in: func(in ComponentsInput) ComponentsInput {
				in.Classes = []LinkClass{ClassService}
				return in
			},
			check: func(t *testing.T, d Decision) {
				if d.Step() != OpCheckLogs || d.Done || d.Fail != nil {
					t.Fatalf("Decision = %+v, want CheckLogs", d)
				}
				want := []ScanItem{{Link: "Framework_SystemAdministrator", Since: time.Unix(1_700_000_000-31, 0).UTC()}}
				if !slices.Equal(d.Scan, want) {
					t.Errorf("scan = %+v, want %+v", d.Scan, want)
				}
			},
		},
		{
			name:  "up since before this procedure (never stopped): scan only from the procedure's start",
			p:     probed([]link{running("Framework_SystemAdministrator", 3600), stopped("Framework_Idle")}, nil, m),
			roles: servicesOnly, tier: ActionStartServices,
			in: func(in ComponentsInput) ComponentsInput {
				in.Classes, in.ScanFrom = []LinkClass{ClassService}, time.Unix(1_700_000_000-60, 0)
				return in
			},
			check: func(t *testing.T, d Decision) {
				want := []ScanItem{{Link: "Framework_SystemAdministrator", Since: time.Unix(1_700_000_000-60, 0).UTC()}}
				if d.Step() != OpCheckLogs || !slices.Equal(d.Scan, want) {
					t.Errorf("Decision = %+v, want CheckLogs of %+v", d, want)
				}
			},
		},
		{
			name:  "scanned clean: done; the one that was down before is not started",
			p:     probed([]link{running("Framework_SystemAdministrator", 30), stopped("Framework_Idle")}, nil, m),
			roles: servicesOnly, tier: ActionStartServices,
			in: func(in ComponentsInput) ComponentsInput {
				in.Classes, in.Scanned = []LinkClass{ClassService}, true
				return in
			},
			check: func(t *testing.T, d Decision) {
				if !d.Done || d.Op != nil {
					t.Errorf("Decision = %+v, want done", d)
				}
			},
		},
		{
			name:  "not up within stepTimeout: ComponentNotUp, with a scan of what started",
			p:     probed([]link{running("Framework_SystemAdministrator", 1)}, nil, manifestOf(entry("Framework_SystemAdministrator", ClassService, true, false))),
			roles: servicesOnly, tier: ActionStartServices,
			in: func(in ComponentsInput) ComponentsInput { in.Elapsed = in.StepTimeout; return in },
			check: func(t *testing.T, d Decision) {
				wantFail(t, d, diracv1.ReasonComponentNotUp, false, "Framework_SystemAdministrator")
			},
		},
		{
			name:  "startup holds a different link: StartupConflict, nothing moved",
			p:     probed([]link{{name: "WorkloadManagement_JobAgent", target: "/elsewhere/JobAgent", stat: "run (pid 1) 100 seconds"}}, []link{parked("WorkloadManagement_JobAgent")}, m),
			roles: agentsOnly, tier: ActionStartAgents,
			check: func(t *testing.T, d Decision) {
				wantFail(t, d, diracv1.ReasonStartupConflict, true, "WorkloadManagement_JobAgent", "/elsewhere/JobAgent")
			},
		},
		{
			name:  "the same link in both: drop the parked copy",
			p:     probed([]link{running("WorkloadManagement_JobAgent", 100)}, []link{parked("WorkloadManagement_JobAgent")}, m),
			roles: agentsOnly, tier: ActionStartAgents,
			check: func(t *testing.T, d Decision) {
				wantCommand(t, d, "DropDuplicateLinks", remote.Command{"rm", "-f", "--", saveDir + "/WorkloadManagement_JobAgent"})
			},
		},
		{
			name:  "a parked link vanished: LinkMissing",
			p:     probed(nil, nil, m),
			roles: agentsOnly, tier: ActionStartAgents,
			check: func(t *testing.T, d Decision) {
				wantFail(t, d, diracv1.ReasonLinkMissing, true, "WorkloadManagement_JobAgent")
			},
		},
		{
			name:  "manifest gone, every link the status recorded is back: done",
			p:     probed([]link{running("WorkloadManagement_JobAgent", 100)}, nil, nil),
			roles: agentsOnly, tier: ActionStartAgents,
			in: func(in ComponentsInput) ComponentsInput {
				in.SavedInStatus = []string{"WorkloadManagement_JobAgent"}
				return in
			},
			check: func(t *testing.T, d Decision) {
				if !d.Done || d.Op != nil {
					t.Errorf("Decision = %+v, want done", d)
				}
			},
		},
		{
			name:  "manifest gone, a link the status recorded is not in startup: LinkMissing",
			p:     probed(nil, nil, nil),
			roles: agentsOnly, tier: ActionStartAgents,
			in: func(in ComponentsInput) ComponentsInput {
				in.SavedInStatus = []string{"WorkloadManagement_JobAgent"}
				return in
			},
			check: func(t *testing.T, d Decision) {
				wantFail(t, d, diracv1.ReasonLinkMissing, true, "manifest is gone", "WorkloadManagement_JobAgent")
			},
		},
		{
			name:  "never parked anything here: done, nothing restored",
			p:     probed([]link{running("Framework_SystemAdministrator", 100)}, nil, nil),
			roles: servicesOnly, tier: ActionStartServices,
			check: func(t *testing.T, d Decision) {
				if !d.Done || d.Op != nil {
					t.Errorf("Decision = %+v, want done", d)
				}
			},
		},
		{
			name:  "no DIRAC root: DiracRootMissing",
			p:     &Probe{},
			roles: servicesOnly, tier: ActionStartServices,
			check: func(t *testing.T, d Decision) { wantFail(t, d, diracv1.ReasonDiracRootMissing, true) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := stopInput(tc.roles, tc.tier)
			if tc.in != nil {
				in = tc.in(in)
			}
			tc.check(t, DecideStart(tc.p, in))
		})
	}
}

func dbProbe(mysqld bool, journal, journalTarget, journalTo string) *Probe {
	return &Probe{RootExists: true, MysqlPresent: true, MysqldUp: mysqld, Journal: journal, JournalTarget: journalTarget, JournalTo: journalTo}
}

func TestDecideDatabase(t *testing.T) {
	const from, to, mysql = "/opt/dirac/mysql/log", "/home/dirac/mysql-log", "/opt/dirac/pro/mysql/share/mysql/mysql.server"
	base := DatabaseInput{Host: "db1", MysqlServer: mysql, StepTimeout: time.Minute}
	withJournal := base
	withJournal.JournalFrom, withJournal.JournalTo = from, to
	tried := func(in DatabaseInput, elapsed time.Duration) DatabaseInput {
		in.Tried, in.Elapsed = true, elapsed
		return in
	}
	moveJournal := remote.Command{"sh", "-c", journalScript, "vobox-journal", from, to}
	type result struct {
		step     string
		cmd      remote.Command
		done     bool
		wait     bool
		fail     string
		terminal bool
	}
	cases := []struct {
		name   string
		decide func(*Probe, DatabaseInput) Decision
		p      *Probe
		in     DatabaseInput
		want   result
	}{
		{"stop: running → mysql.server stop", DecideStopDatabase, dbProbe(true, "", "", ""), base, result{step: "StopDatabase", cmd: remote.Command{mysql, "stop"}}},
		{"stop: still running after stop → wait", DecideStopDatabase, dbProbe(true, "", "", ""), tried(base, time.Second), result{wait: true}},
		{"stop: still running after stepTimeout → DatabaseNotStopped", DecideStopDatabase, dbProbe(true, "", "", ""), tried(base, time.Minute), result{fail: diracv1.ReasonDatabaseNotStopped}},
		{"stop: stopped, no journal move → done", DecideStopDatabase, dbProbe(false, "", "", ""), base, result{done: true}},
		{"stop: stopped, journal in place → move it", DecideStopDatabase, dbProbe(false, "dir", "", "none"), withJournal, result{step: "MoveJournal", cmd: moveJournal}},
		{"stop: running, journal in place → stop first", DecideStopDatabase, dbProbe(true, "dir", "", "none"), withJournal, result{step: "StopDatabase", cmd: remote.Command{mysql, "stop"}}},
		{"stop: crash between mv and ln → finish the move", DecideStopDatabase, dbProbe(false, "none", "", "dir"), withJournal, result{step: "MoveJournal", cmd: moveJournal}},
		{"stop: already a link to the target → done", DecideStopDatabase, dbProbe(false, "link", to+"/", "dir"), withJournal, result{done: true}},
		{"stop: a link elsewhere → JournalConflict", DecideStopDatabase, dbProbe(false, "link", "/data/other", "none"), withJournal, result{fail: diracv1.ReasonJournalConflict, terminal: true}},
		{"stop: both directories → JournalConflict", DecideStopDatabase, dbProbe(false, "dir", "", "dir"), withJournal, result{fail: diracv1.ReasonJournalConflict, terminal: true}},
		{"stop: journal is a file → JournalConflict", DecideStopDatabase, dbProbe(false, "other", "", "none"), withJournal, result{fail: diracv1.ReasonJournalConflict, terminal: true}},
		{"stop: journal and target both gone → JournalConflict", DecideStopDatabase, dbProbe(false, "none", "", "none"), withJournal, result{fail: diracv1.ReasonJournalConflict, terminal: true}},
		{"stop: destination is a file → JournalConflict", DecideStopDatabase, dbProbe(false, "dir", "", "other"), withJournal, result{fail: diracv1.ReasonJournalConflict, terminal: true}},
		{"stop: no mysql.server → MysqlServerMissing", DecideStopDatabase, &Probe{RootExists: true, MysqldUp: true}, base, result{fail: diracv1.ReasonMysqlServerMissing, terminal: true}},
		{"stop: no DIRAC root → DiracRootMissing", DecideStopDatabase, &Probe{}, base, result{fail: diracv1.ReasonDiracRootMissing, terminal: true}},
		{"start: came back on its own → done", DecideStartDatabase, dbProbe(true, "link", to, "dir"), withJournal, result{done: true}},
		{"start: stopped → mysql.server start", DecideStartDatabase, dbProbe(false, "", "", ""), base, result{step: "StartDatabase", cmd: remote.Command{mysql, "start"}}},
		{"start: not yet up after start → wait", DecideStartDatabase, dbProbe(false, "", "", ""), tried(base, time.Second), result{wait: true}},
		{"start: not up after stepTimeout → DatabaseNotStarted", DecideStartDatabase, dbProbe(false, "", "", ""), tried(base, 2*time.Minute), result{fail: diracv1.ReasonDatabaseNotStarted}},
		{"start: no mysql.server → MysqlServerMissing", DecideStartDatabase, &Probe{RootExists: true}, base, result{fail: diracv1.ReasonMysqlServerMissing, terminal: true}},
		{"start: no DIRAC root → DiracRootMissing", DecideStartDatabase, &Probe{}, base, result{fail: diracv1.ReasonDiracRootMissing, terminal: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.decide(tc.p, tc.in)
			switch {
			case tc.want.fail != "":
				wantFail(t, d, tc.want.fail, tc.want.terminal, "db1")
			case tc.want.done:
				if !d.Done || d.Op != nil {
					t.Errorf("Decision = %+v, want done", d)
				}
			case tc.want.wait:
				if d.Wait != PollInterval || d.Op != nil || d.Done || d.Fail != nil {
					t.Errorf("Decision = %+v, want a wait", d)
				}
			default:
				wantCommand(t, d, tc.want.step, tc.want.cmd)
			}
		})
	}
	// The journal move rides with the stop (the script checks that mysqld
	// is gone); without a move to make, the stop goes alone.
	if d := DecideStopDatabase(dbProbe(true, "dir", "", "none"), withJournal); d.Next == nil || !slices.Equal(d.Next.Argv, moveJournal) {
		t.Errorf("stop with a journal to move: next = %+v, want the move", d.Next)
	}
	for _, p := range []*Probe{dbProbe(true, "link", to, "dir"), dbProbe(true, "dir", "", "dir")} {
		if d := DecideStopDatabase(p, withJournal); d.Next != nil {
			t.Errorf("stop with journal %s/%s: next = %+v, want none", p.Journal, p.JournalTo, d.Next)
		}
	}
}

func TestMaintenanceCommand(t *testing.T) {
	cases := []struct {
		template []string
		want     remote.Command
	}{
		{[]string{"sms", "set", "maintenance", "{reason}", "other", "{host}"}, remote.Command{"sms", "set", "maintenance", "power stop; rm -rf /", "other", "volhcb20"}},
		{[]string{"sms", "clear", "maintenance", "{reason}", "{host}"}, remote.Command{"sms", "clear", "maintenance", "power stop; rm -rf /", "volhcb20"}},
		{[]string{"/usr/bin/notify", "--host={host}.cern.ch", "{host}:{reason}", "{unknown}"}, remote.Command{"/usr/bin/notify", "--host=volhcb20.cern.ch", "volhcb20:power stop; rm -rf /", "{unknown}"}},
	}
	for _, tc := range cases {
		got := Maintenance(OpSetMaintenance, tc.template, "volhcb20", "power stop; rm -rf /").Argv
		if !slices.Equal(got, tc.want) {
			t.Errorf("maintenanceCommand(%q) = %q, want %q", tc.template, got, tc.want)
		}
	}
	template := []string{"sms", "{host}"}
	_ = Maintenance(OpClearMaintenance, template, "h", "r")
	if template[1] != "{host}" {
		t.Error("maintenanceCommand changed its template")
	}
}

func TestLogScanCommand(t *testing.T) {
	since := time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	got := CheckLogs(root, LogCheck{Levels: []string{"ERROR", "FATAL"}, Patterns: []string{" ERROR: ", "Traceback"}},
		[]ScanItem{{Link: "A_B", Since: since.UTC()}, {Link: "C_D", Since: since.UTC().Add(time.Second)}}).Argv
	want := remote.Command{"sh", "-c", logScanScript, "vobox-logscan", root, "2", "ERROR", "FATAL", "2", " ERROR: ", "Traceback",
		"A_B", "2024-05-01 09:00:00", "1714554000", "C_D", "2024-05-01 09:00:01", "1714554001"}
	if !slices.Equal(got, want) {
		t.Errorf("logScanCommand = %q, want %q", got[3:], want[3:])
	}
}
