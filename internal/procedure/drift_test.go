package procedure

import (
	"slices"
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
