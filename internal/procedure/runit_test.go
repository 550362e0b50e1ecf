package procedure

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/hostsim"
)

// simSV is runit 2's sv as the simulated host's supervise files read: the
// status lines of runit 2.1.2's sv.c, and down/up/kill through the host's
// runsvctrl, moved to sbin/.
const simSV = `#!/bin/sh
c=$1; shift; rc=0; now=$(date +%s)
case $c in
status)
  for d; do
    if [ ! -d "$d" ]; then echo "fail: $d: unable to change to service directory: file does not exist"; rc=$((rc+1)); continue; fi
    if [ ! -d "$d/supervise" ]; then echo "warning: $d: unable to open supervise/ok: file does not exist"; rc=$((rc+1)); continue; fi
    read -r st < "$d/supervise/stat"; read -r since < "$d/supervise/since"; s=$((now - since))
    case $st in
    run) echo "run: $d: (pid 4242) ${s}s; run: log: (pid 4241) ${s}s";;
    stopping) echo "run: $d: (pid 4242) ${s}s, want down; run: log: (pid 4241) ${s}s";;
    *) echo "down: $d: ${s}s, normally up; run: log: (pid 4241) ${s}s";;
    esac
  done;;
down) exec "$SIM_DIR/sbin/runsvctrl" d "$@";;
up) exec "$SIM_DIR/sbin/runsvctrl" u "$@";;
kill) exec "$SIM_DIR/sbin/runsvctrl" k "$@";;
*) echo "usage: sv [-v] [-w sec] command service ..." >&2; exit 100;;
esac
exit $rc
`

// moveRunit moves the host's runsvctrl and runsvstat from its PATH to
// sbin/, and installs sv on its PATH when sv is set.
func moveRunit(t *testing.T, h *hostsim.Host, sv bool) {
	t.Helper()
	if err := os.MkdirAll(h.Path("sbin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"runsvctrl", "runsvstat"} {
		if err := os.Rename(h.Path("bin", tool), h.Path("sbin", tool)); err != nil {
			t.Fatal(err)
		}
	}
	if sv {
		if err := os.WriteFile(h.Path("bin", "sv"), []byte(simSV), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseSvStatus(t *testing.T) {
	cases := []struct {
		line string
		want SvState
	}{
		{"run: (pid 123) 45s; run: log: (pid 122) 45s", SvState{Running: true, Supervised: true, Seconds: 45}},
		{"run: (pid 9) 7s, want down, got TERM; run: log: (pid 8) 9s", SvState{Running: true, WantDown: true, Supervised: true, Seconds: 7}},
		{"run: (pid 9) 3s, normally down", SvState{Running: true, Supervised: true, Seconds: 3}},
		{"finish: (pid 7) 1s", SvState{Running: true, Supervised: true, Seconds: 1}},
		{"down: 3s, normally up; run: log: (pid 122) 45s", SvState{Supervised: true, Seconds: 3}},
		{"down: 0s, normally up, want up", SvState{Supervised: true, WantUp: true}},
		{"warning: unable to open supervise/ok: file does not exist", SvState{}},
		{"fail: runsv not running", SvState{}},
		{"fail: unable to change to service directory: file does not exist", SvState{}},
		{"warning: unable to open supervise/ok: access denied", SvState{Unknown: true}},
		{"timeout: down: 3s", SvState{Unknown: true}},
		{"sv: not found", SvState{Unknown: true}},
		{"", SvState{Unknown: true}},
	}
	for _, tc := range cases {
		t.Run(tc.line, func(t *testing.T) {
			tc.want.Raw = tc.line
			if got := ParseSvStatus(tc.line); got != tc.want {
				t.Errorf("ParseSvStatus(%q) = %+v, want %+v", tc.line, got, tc.want)
			}
		})
	}
}

// TestProbeScriptRunitTools runs the probe on hosts with the runit tools
// where sites put them: on the PATH, only in a directory off it
// (spec.layout.runitBin, as DIRAC's runit build in /sbin), and only
// runit 2's sv; the decisions' commands then run with what it found.
func TestProbeScriptRunitTools(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		comps := []hostsim.Component{{Link: "Framework_SystemAdministrator"}, {Link: "WorkloadManagement_SiteDirector", Agent: true}}
		cases := []struct {
			name     string
			setup    func(t *testing.T, h *hostsim.Host)
			runitBin string
			want     RunitTools
			stop     string // the stop command's program
		}{
			{"1.x on the PATH", func(*testing.T, *hostsim.Host) {}, "", RunitTools{Runsvctrl: "runsvctrl", Runsvstat: "runsvstat"}, "runsvctrl"},
			{"1.x off the PATH, in runitBin", func(t *testing.T, h *hostsim.Host) { moveRunit(t, h, true) }, hostsim.Root + "/sbin",
				RunitTools{Runsvctrl: hostsim.Root + "/sbin/runsvctrl", Runsvstat: hostsim.Root + "/sbin/runsvstat"}, hostsim.Root + "/sbin/runsvctrl"},
			{"runit 2's sv only", func(t *testing.T, h *hostsim.Host) { moveRunit(t, h, true) }, "", RunitTools{SV: "sv"}, "sv"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				h := newHost(t, shell, "vobox1", false, comps...)
				tc.setup(t, h)
				probe := func() *Probe {
					t.Helper()
					res := runSim(t, h, ProbeOp(ProbeArgs{Root: hostsim.DiracRoot, Manifest: ".m", RunitBin: tc.runitBin}, nil, 0).Argv)
					p, err := ParseProbe(res.Stdout)
					if err != nil || res.ExitCode != 0 {
						t.Fatalf("probe: %v, exit %d: %s %s", err, res.ExitCode, res.Stdout, res.Stderr)
					}
					return p
				}
				p := probe()
				if p.Runit != tc.want {
					t.Fatalf("Runit = %+v, want %+v", p.Runit, tc.want)
				}
				for _, n := range []string{"Framework_SystemAdministrator", "WorkloadManagement_SiteDirector"} {
					if st := p.State[n]; st.Unknown || !st.Running || st.Seconds < 99 {
						t.Errorf("%s: state %+v, want running for 100 s", n, st)
					}
				}
				// Down: the stop DecideStop asks for runs with the tool found,
				// and the next probe reads the components down.
				in := stopInput(agentsAndServiceRoles, ActionStopAgents)
				in.Root, in.ManifestName = hostsim.DiracRoot, ".m"
				d := DecideStop(p, in)
				if d.Step() != OpRecordManifest {
					t.Fatalf("first decision %+v, want RecordManifest", d)
				}
				runSim(t, h, d.Op.Argv)
				d = DecideStop(probe(), in)
				if d.Step() != OpStopComponents || d.Op.Argv[0] != tc.stop {
					t.Fatalf("decision %+v, want StopComponents with %s", d, tc.stop)
				}
				if res := runSim(t, h, d.Op.Argv); res.ExitCode != 0 {
					t.Fatalf("%q exited %d: %s", d.Op.Argv, res.ExitCode, res.Stderr)
				}
				if st := probe().State["WorkloadManagement_SiteDirector"]; st.Running || st.Unknown || !st.Supervised {
					t.Errorf("after %q: state %+v, want down", d.Op.Argv, st)
				}
			})
		}
	})
}

var agentsAndServiceRoles = []diracv1.Role{diracv1.RoleAgents, diracv1.RoleServices}

// TestProbeScriptNoRunitTools runs the probe where neither runit 1.x's
// tools nor sv are anywhere it looks: it says so, and no link's state
// reads as stopped.
func TestProbeScriptNoRunitTools(t *testing.T) {
	forShells(t, func(t *testing.T, shell string) {
		root := t.TempDir()
		bin := t.TempDir()
		for _, tool := range []string{"date", "readlink", "grep", "sleep"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
		// An sv that cannot run (as the lab's --runit none hides runit 2's):
		// bash's command -v would name it.
		if err := os.WriteFile(filepath.Join(bin, "sv"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "runit", "Framework", "SystemAdministrator"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(root, "startup"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../runit/Framework/SystemAdministrator", filepath.Join(root, "startup", "Framework_SystemAdministrator")); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"/sbin", "/usr/sbin"} {
			for _, tool := range []string{"runsvctrl", "runsvstat", "sv"} {
				if _, err := os.Stat(filepath.Join(d, tool)); err == nil {
					t.Skipf("this machine has %s/%s", d, tool)
				}
			}
		}
		argv := ProbeOp(ProbeArgs{Root: root, Manifest: ".m", RunitBin: filepath.Join(root, "nothing-here")}, nil, 0).Argv
		cmd := exec.Command(shell, argv[1:]...)
		cmd.Env = []string{"PATH=" + bin}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("probe: %v: %s", err, out)
		}
		p, err := ParseProbe(out)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Runit.Missing {
			t.Errorf("Runit = %+v, want missing:\n%s", p.Runit, out)
		}
		if st := p.State["Framework_SystemAdministrator"]; !st.Unknown {
			t.Errorf("state %+v, want unknown", st)
		}
		in := stopInput(agentsAndServiceRoles, ActionStopServices)
		in.Root = root
		if d := DecideStop(p, in); d.Fail == nil || d.Fail.Reason != diracv1.ReasonRunitToolsMissing || !d.Fail.IsTerminal() || d.Op != nil {
			t.Errorf("DecideStop = %+v, want RunitToolsMissing, nothing run", d)
		}
		f, _ := Preflight(p, PreflightInput{Host: "vobox1", Root: root, Roles: agentsAndServiceRoles})
		if f == nil || f.Reason != diracv1.ReasonRunitToolsMissing || !strings.Contains(f.Message, "/sbin") {
			t.Errorf("Preflight = %+v, want RunitToolsMissing", f)
		}
	})
}
