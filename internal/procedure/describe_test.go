package procedure

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// describeSpec is a spec as the API server stores it, with the schema's
// defaults applied, for three hosts: a database that moves its journal, a
// Framework server and an agents host with an excluded link.
func describeSpec(state diracv1.State) *diracv1.VOBoxInterventionSpec {
	return &diracv1.VOBoxInterventionSpec{
		State:  state,
		Reason: "power stop",
		Layout: diracv1.LayoutSpec{DiracRoot: "/opt/dirac", MysqlServer: "/opt/dirac/pro/mysql/share/mysql/mysql.server"},
		Hosts: []diracv1.HostSpec{
			{Name: "db1", Roles: []diracv1.Role{diracv1.RoleDatabase}},
			{Name: "fw", Roles: []diracv1.Role{diracv1.RoleFramework}},
			{Name: "ag", Roles: []diracv1.Role{diracv1.RoleAgents}, Exclude: []string{"WorkloadManagement_SiteDirector"}},
		},
		Maintenance: diracv1.MaintenanceSpec{
			Set:   []string{"sms", "set", "maintenance", "{reason}", "other", "{host}"},
			Clear: []string{"sms", "clear", "maintenance", "{reason}", "{host}"},
		},
		Database: diracv1.DatabaseSpec{InnodbLog: &diracv1.InnodbLogSpec{From: "/opt/dirac/mysql/log", To: "/home/dirac/mysql-log"}},
		Checks: diracv1.ChecksSpec{
			SettleDelay:     metav1.Duration{Duration: time.Minute},
			ComponentUptime: metav1.Duration{Duration: 10 * time.Second},
			ErrorPatterns:   []string{" ERROR: ", "Traceback"},
		},
		Strategy: diracv1.StrategySpec{
			StepTimeout: metav1.Duration{Duration: 5 * time.Minute},
			StopTimeout: metav1.Duration{Duration: 2 * time.Minute},
		},
	}
}

// flatten renders a description one line per tier, host and step, so a
// case can state the whole of it.
func flatten(tds []TierDescription) []string {
	var out []string
	for _, td := range tds {
		line := "tier " + td.Condition
		if td.Note != "" {
			line += " (" + td.Note + ")"
		}
		out = append(out, line)
		for _, hd := range td.Hosts {
			line := "  host " + hd.Name
			if hd.Links != "" {
				line += " [" + hd.Links + "]"
			}
			out = append(out, line)
			for _, st := range hd.Steps {
				on := ""
				if st.On != hd.Name {
					on = " on " + st.On
				}
				out = append(out, fmt.Sprintf("    %s%s: %s", st.Name, on, st.CommandLine()))
			}
		}
	}
	return out
}

const (
	probeLinks = "    Probe: vobox-probe /opt/dirac .vobox-manifest-u1 '' '' '' '' 0"
	mysql      = "/opt/dirac/pro/mysql/share/mysql/mysql.server"
)

func stopSteps() []string {
	return []string{
		probeLinks,
		"    RecordManifest: vobox-manifest /opt/dirac/startup-save .vobox-manifest-u1 MANIFEST",
		"    StopComponents: runsvctrl d /opt/dirac/startup/LINK...",
		"    KillComponents: runsvctrl k /opt/dirac/startup/LINK...",
		"    DropDuplicateLinks: rm -f -- /opt/dirac/startup/LINK...",
		"    ParkLinks: vobox-park /opt/dirac/startup /opt/dirac/startup-save LINK...",
	}
}

func startSteps(last bool) []string {
	s := []string{
		probeLinks,
		"    RemoveStopAgentFiles: rm -f -- /opt/dirac/control/SYSTEM/AGENT/stop_agent",
		"    RestoreLinks: vobox-restore /opt/dirac/startup-save /opt/dirac/startup LINK...",
		"    DropDuplicateLinks: rm -f -- /opt/dirac/startup-save/LINK...",
		"    StartComponents: runsvctrl u /opt/dirac/startup/LINK...",
		"    CheckLogs: vobox-logscan /opt/dirac 0 2 ' ERROR: ' Traceback LINK SINCE...",
	}
	if last {
		s = append(s, "    RemoveManifest: rm -f -- /opt/dirac/startup-save/.vobox-manifest-u1")
	}
	return s
}

func lines(parts ...any) []string {
	var out []string
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			out = append(out, v)
		case []string:
			out = append(out, v...)
		}
	}
	return out
}

// containing keeps the lines that contain any of subs.
func containing(subs ...string) func(string) bool {
	return func(l string) bool {
		return slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(l, s) })
	}
}

func TestDescribePlan(t *testing.T) {
	cases := []struct {
		name string
		spec func() *diracv1.VOBoxInterventionSpec
		uid  string
		want []string
		keep func(line string) bool // only these lines, when set
	}{
		{
			name: "Down, in order, with journal move and exclude",
			spec: func() *diracv1.VOBoxInterventionSpec { return describeSpec(diracv1.StateDown) },
			uid:  "u1",
			want: lines(
				"tier MaintenanceSet",
				"  host db1", "    SetMaintenance: sms set maintenance 'power stop' other db1",
				"  host fw", "    SetMaintenance: sms set maintenance 'power stop' other fw",
				"  host ag", "    SetMaintenance: sms set maintenance 'power stop' other ag",
				"tier AgentsStopped",
				"  host ag [every startup link; parked and never restarted: WorkloadManagement_SiteDirector]", stopSteps(),
				"tier ServicesStopped",
				"  host fw [every startup link]", stopSteps(),
				"tier DatabasesStopped",
				"  host db1",
				"    Probe: vobox-probe /opt/dirac .vobox-manifest-u1 "+mysql+" /opt/dirac/mysql/log /home/dirac/mysql-log '' 0",
				"    StopDatabase: "+mysql+" stop",
				"    MoveJournal: vobox-journal /opt/dirac/mysql/log /home/dirac/mysql-log",
			),
		},
		{
			name: "Up, in reverse order, settle delay before the agents",
			spec: func() *diracv1.VOBoxInterventionSpec { return describeSpec(diracv1.StateUp) },
			uid:  "u1",
			want: lines(
				"tier DatabasesStarted",
				"  host db1",
				"    Probe: vobox-probe /opt/dirac .vobox-manifest-u1 "+mysql+" /opt/dirac/mysql/log /home/dirac/mysql-log '' 0",
				"    StartDatabase: "+mysql+" start",
				"tier FrameworkStarted",
				"  host fw [every link this intervention parked]", startSteps(false),
				"tier ServicesStarted",
				"tier AgentsStarted (starts 1m0s after ServicesStarted finished (spec.checks.settleDelay))",
				"  host ag [every link this intervention parked; left in startup-save: WorkloadManagement_SiteDirector]", startSteps(false),
				"tier MaintenanceCleared",
				// The manifest's removal rides in the clear's session on a
				// host that parked links.
				"  host db1", "    ClearMaintenance: sms clear maintenance 'power stop' db1",
				"  host fw", "    RemoveManifest: rm -f -- /opt/dirac/startup-save/.vobox-manifest-u1", "    ClearMaintenance: sms clear maintenance 'power stop' fw",
				"  host ag", "    RemoveManifest: rm -f -- /opt/dirac/startup-save/.vobox-manifest-u1", "    ClearMaintenance: sms clear maintenance 'power stop' ag",
			),
		},
		{
			name: "maintenance cleared elsewhere (runOn): the manifest goes after the host's last start tier",
			spec: func() *diracv1.VOBoxInterventionSpec {
				s := describeSpec(diracv1.StateUp)
				s.Maintenance.RunOn = "db1"
				return s
			},
			uid:  "u1",
			keep: containing("host ", "RemoveManifest"),
			want: lines(
				"  host db1", "  host fw [every link this intervention parked]",
				"    RemoveManifest: rm -f -- /opt/dirac/startup-save/.vobox-manifest-u1",
				"  host ag [every link this intervention parked; left in startup-save: WorkloadManagement_SiteDirector]",
				"    RemoveManifest: rm -f -- /opt/dirac/startup-save/.vobox-manifest-u1",
				"  host db1", "  host fw", "  host ag",
			),
		},
		{
			name: "journal hosts limit the move; no UID shows the placeholder",
			spec: func() *diracv1.VOBoxInterventionSpec {
				s := describeSpec(diracv1.StateDown)
				s.Hosts = append(s.Hosts, diracv1.HostSpec{Name: "db2", Roles: []diracv1.Role{diracv1.RoleDatabase}})
				s.Database.InnodbLog.Hosts = []string{"db2"}
				return s
			},
			keep: containing("Probe: vobox-probe /opt/dirac .vobox-manifest-UID /"),
			want: lines(
				"    Probe: vobox-probe /opt/dirac .vobox-manifest-UID "+mysql+" '' '' '' 0",
				"    Probe: vobox-probe /opt/dirac .vobox-manifest-UID "+mysql+" /opt/dirac/mysql/log /home/dirac/mysql-log '' 0",
			),
		},
		{
			name: "maintenance runs on runOn",
			spec: func() *diracv1.VOBoxInterventionSpec {
				s := describeSpec(diracv1.StateDown)
				s.Maintenance.RunOn = "fw"
				return s
			},
			keep: containing("SetMaintenance"),
			want: lines(
				"    SetMaintenance on fw: sms set maintenance 'power stop' other db1",
				"    SetMaintenance: sms set maintenance 'power stop' other fw",
				"    SetMaintenance on fw: sms set maintenance 'power stop' other ag",
			),
		},
		{
			name: "maintenance disabled: the tier is skipped, its hosts have no steps",
			spec: func() *diracv1.VOBoxInterventionSpec {
				s := describeSpec(diracv1.StateUp)
				off := false
				s.Maintenance.Enabled = &off
				return s
			},
			keep: containing("MaintenanceCleared"),
			want: lines("tier MaintenanceCleared (skipped: spec.maintenance.enabled is false)"),
		},
		{
			name: "a host with services and agents tells them apart by run script; the manifest goes after the agents",
			spec: func() *diracv1.VOBoxInterventionSpec {
				s := describeSpec(diracv1.StateUp)
				s.Hosts = []diracv1.HostSpec{{Name: "mix", Roles: []diracv1.Role{diracv1.RoleServices, diracv1.RoleAgents}}}
				s.Database.InnodbLog = nil
				off := false
				s.Maintenance.Enabled = &off // else the clear's session removes it
				return s
			},
			keep: containing("host mix", "RemoveManifest"),
			want: lines(
				"  host mix [the parked links whose run script runs neither dirac-agent nor dirac-executor]",
				"  host mix [the parked links whose run script runs dirac-agent or dirac-executor]",
				"    RemoveManifest: rm -f -- /opt/dirac/startup-save/.vobox-manifest-UID",
				"  host mix",
			),
		},
		{
			name: "stopping a mixed host: agents by run script, then everything still there",
			spec: func() *diracv1.VOBoxInterventionSpec {
				s := describeSpec(diracv1.StateDown)
				s.Hosts = []diracv1.HostSpec{{Name: "mix", Roles: []diracv1.Role{diracv1.RoleServices, diracv1.RoleAgents}}}
				return s
			},
			keep: containing("host mix ["),
			want: lines(
				"  host mix [the startup links whose run script runs dirac-agent or dirac-executor]",
				"  host mix [every startup link still there]",
			),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := flatten(DescribePlan(tc.spec(), tc.uid))
			if tc.keep != nil {
				got = slices.DeleteFunc(got, func(l string) bool { return !tc.keep(l) })
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("DescribePlan:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDescribePlanMatchesBuildPlan(t *testing.T) {
	for _, state := range []diracv1.State{diracv1.StateDown, diracv1.StateUp} {
		every := []diracv1.Role{diracv1.RoleDatabase, diracv1.RoleFramework, diracv1.RoleServices, diracv1.RoleAgents}
		for mask := 1; mask < 1<<len(every); mask++ {
			var roles []diracv1.Role
			for i, r := range every {
				if mask&(1<<i) != 0 {
					roles = append(roles, r)
				}
			}
			spec := describeSpec(state)
			spec.Hosts = []diracv1.HostSpec{{Name: "h", Roles: roles}}
			plan := BuildPlan(spec)
			tds := DescribePlan(spec, "u")
			if len(tds) != len(plan.Tiers) {
				t.Fatalf("%s %v: %d tiers described, plan has %d", state, roles, len(tds), len(plan.Tiers))
			}
			for i, td := range tds {
				pt := plan.Tiers[i]
				if td.Condition != pt.Condition || td.Action != pt.Action || len(td.Hosts) != len(pt.Hosts) {
					t.Errorf("%s %v tier %d: described %s/%s with %d hosts, plan %s/%s with %d", state, roles, i,
						td.Condition, td.Action, len(td.Hosts), pt.Condition, pt.Action, len(pt.Hosts))
				}
				for _, hd := range td.Hosts {
					if len(hd.Steps) == 0 {
						t.Errorf("%s %v tier %s: host %s has no steps", state, roles, td.Condition, hd.Name)
					}
				}
			}
		}
	}
}

func TestStepCommandLine(t *testing.T) {
	cases := []struct {
		cmd  []string
		want string
	}{
		{nil, "(no command)"},
		{[]string{"sms", "set", "maintenance", "power stop", "other", "volhcb20"}, "sms set maintenance 'power stop' other volhcb20"},
		{[]string{"echo", "it's"}, `echo 'it'\''s'`},
		{[]string{"bad\x00arg"}, "bad\x00arg"},
	}
	for _, tc := range cases {
		if got := (StepDescription{Command: tc.cmd}).CommandLine(); got != tc.want {
			t.Errorf("CommandLine(%q) = %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
