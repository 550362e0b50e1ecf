package procedure

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func TestDetectDrift(t *testing.T) {
	t.Parallel()
	probe := func(mysqld bool, startup ...string) *Probe {
		p := &Probe{Startup: map[string]string{}, State: map[string]SvState{}, MysqldUp: mysqld}
		for _, n := range startup {
			p.Startup[n] = "../runit/" + n
		}
		return p
	}
	running := probe(false, "WorkloadManagement_JobAgent")
	running.State["WorkloadManagement_JobAgent"] = SvState{Running: true, Supervised: true}
	cases := []struct {
		name string
		p    *Probe
		in   DriftInput
		want []string
	}{
		{"Down, all parked", probe(false), DriftInput{State: diracv1.StateDown, Parked: []string{"A_B"}}, nil},
		{"Down, a parked link back", probe(false, "A_B", "C_D"), DriftInput{State: diracv1.StateDown, Parked: []string{"A_B"}},
			[]string{"A_B is back in startup"}},
		{"Down, a parked link back and running", running, DriftInput{State: diracv1.StateDown, Parked: []string{"WorkloadManagement_JobAgent"}},
			[]string{"WorkloadManagement_JobAgent is back in startup and runs"}},
		{"Down, mysqld back at boot: recorded", probe(true), DriftInput{State: diracv1.StateDown, Database: true},
			[]string{"recorded: mysqld runs"}},
		{"Down, mysqld back with keepStopped: drift", probe(true), DriftInput{State: diracv1.StateDown, Database: true, KeepStopped: true},
			[]string{"mysqld runs"}},
		{"Down, mysqld on a host without the Database role", probe(true), DriftInput{State: diracv1.StateDown, KeepStopped: true}, nil},
		{"Up, all restored", probe(true, "A_B"), DriftInput{State: diracv1.StateUp, Restored: []string{"A_B"}, Database: true, KeepStopped: true}, nil},
		{"Up, a restored link gone", probe(false), DriftInput{State: diracv1.StateUp, Restored: []string{"A_B"}},
			[]string{"A_B is no longer in startup"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds := DetectDrift(tc.p, tc.in)
			var got []string
			for _, d := range ds {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("DetectDrift = %q, want %q", got, tc.want)
			}
			wantDrifted := slices.ContainsFunc(tc.want, func(s string) bool { return s[:min(len(s), len(RecordedDriftPrefix))] != RecordedDriftPrefix })
			if Drifted(ds) != wantDrifted {
				t.Errorf("Drifted = %v, want %v", Drifted(ds), wantDrifted)
			}
		})
	}
}

// BenchmarkDriftCheck is the operator's own work for one host's drift
// check once the probe's output is in: parse it and compare (six parked
// links, the manifest, mysqld). The SSH session is the rest of the cost.
func BenchmarkDriftCheck(b *testing.B) {
	var out strings.Builder
	out.WriteString("now\t1700000000\nboot\t6f1c0d3e-55aa-4c8e-9b0e-2f3a7c1d9e01\nroot\tok\n")
	var parked []string
	for i := range 6 {
		n := fmt.Sprintf("WorkloadManagement_Agent%d", i)
		parked = append(parked, n)
		fmt.Fprintf(&out, "startup-save\t%s\t../runit/WorkloadManagement/Agent%d\n", n, i)
		fmt.Fprintf(&out, "manifest\t%s\t../runit/WorkloadManagement/Agent%d\tagent\tup\trestore\n", n, i)
	}
	out.WriteString("mysql\tpresent\nmysqld\tstopped\n")
	raw := []byte(out.String())
	in := DriftInput{State: diracv1.StateDown, Parked: parked, Database: true}
	b.ReportAllocs()
	for b.Loop() {
		p, err := ParseProbe(raw)
		if err != nil {
			b.Fatal(err)
		}
		if DetectDrift(p, in) != nil {
			b.Fatal("drift")
		}
	}
}
