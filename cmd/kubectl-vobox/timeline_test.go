package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/NAME, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("failed to read the golden file (go test -run %s -update writes it): %v", t.Name(), err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it after a deliberate change)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var (
	databases = []string{"volhcb21", "volhcb22", "volhcb23", "volhcb24", "volhcb25", "volhcb26"}
	allHosts  = slices.Concat([]string{"volhcb15", "volhcb17", "volhcb19", "volhcb18", "volhcb20"}, databases)
)

func at(d time.Duration) *metav1.Time { m := metav1.NewTime(testNow.Add(d)); return &m }

func exit(c int32) *int32 { return &c }

// runningDown is the power stop half-way through ServicesStopped: one host
// failed, one is in a step, one waits for another intervention's Lease.
func runningDown() *diracv1.VOBoxIntervention {
	vbi := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "vobox", Name: "power-stop", Generation: 1}}
	vbi.Spec.State = diracv1.StateDown
	vbi.Status = diracv1.VOBoxInterventionStatus{
		ObservedGeneration: 1, ObservedState: diracv1.StateDown, Phase: diracv1.PhaseShuttingDown, Progress: "13/22",
		StartedAt: at(-5*time.Minute - 2*time.Second),
		Tiers: []diracv1.TierStatus{
			{Name: "MaintenanceSet", Hosts: allHosts, State: diracv1.TierSucceeded, Done: 11, StartedAt: at(-5 * time.Minute), FinishedAt: at(-5*time.Minute + 3*time.Second)},
			{Name: "AgentsStopped", Hosts: []string{"volhcb20"}, State: diracv1.TierSucceeded, Done: 1, StartedAt: at(-4 * time.Minute), FinishedAt: at(-2 * time.Minute)},
			{Name: "ServicesStopped", Hosts: []string{"volhcb15", "volhcb17", "volhcb19", "volhcb18"}, State: diracv1.TierRunning, Done: 1, StartedAt: at(-time.Minute)},
			{Name: "DatabasesStopped", Hosts: databases, State: diracv1.TierPending},
		},
	}
	for _, h := range allHosts {
		hs := diracv1.HostStatus{Name: h, Phase: diracv1.HostWorking, CompletedTiers: []string{"MaintenanceSet"},
			LastStep: &diracv1.StepStatus{Name: "SetMaintenance", Command: []string{"sms", "set", "maintenance", "power stop", "other", h},
				ExitCode: exit(0), StartedAt: at(-5 * time.Minute), FinishedAt: at(-5*time.Minute + time.Second)}}
		switch h {
		case "volhcb20":
			hs.CompletedTiers = append(hs.CompletedTiers, "AgentsStopped")
			hs.LastStep = &diracv1.StepStatus{Name: "ParkLinks", ExitCode: exit(0), StartedAt: at(-2*time.Minute - 20*time.Second), FinishedAt: at(-2 * time.Minute)}
		case "volhcb15":
			hs.CompletedTiers = append(hs.CompletedTiers, "ServicesStopped")
			hs.LastStep = &diracv1.StepStatus{Name: "ParkLinks", ExitCode: exit(0), StartedAt: at(-35 * time.Second), FinishedAt: at(-30 * time.Second)}
		case "volhcb17":
			hs.Phase, hs.Reason, hs.Message = diracv1.HostFailed, diracv1.ReasonCommandFailed, "host volhcb17: StopComponents exited 1"
			hs.WaitingSince = at(-time.Minute)
			hs.LastStep = &diracv1.StepStatus{Name: "StopComponents", ExitCode: exit(1), StartedAt: at(-40 * time.Second), FinishedAt: at(-38 * time.Second)}
		case "volhcb19":
			hs.WaitingSince = at(-time.Minute)
			hs.LastStep = &diracv1.StepStatus{Name: "StopComponents", StartedAt: at(-10 * time.Second)}
		case "volhcb18":
			hs.Phase, hs.Reason, hs.Message = diracv1.HostWaiting, diracv1.ReasonHostLocked, "held by intervention other/reboot"
			hs.WaitingSince = at(-time.Minute)
		}
		vbi.Status.Hosts = append(vbi.Status.Hosts, hs)
	}
	return vbi
}

// failedDown stopped at DatabasesStopped: volhcb23's database would not stop.
func failedDown() *diracv1.VOBoxIntervention {
	vbi := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "vobox", Name: "db-stop", Generation: 1}}
	vbi.Spec.State = diracv1.StateDown
	vbi.Status = diracv1.VOBoxInterventionStatus{
		ObservedGeneration: 1, ObservedState: diracv1.StateDown, Phase: diracv1.PhaseFailed,
		StartedAt: at(-20 * time.Minute),
		Tiers: []diracv1.TierStatus{
			{Name: "MaintenanceSet", Hosts: []string{"volhcb21", "volhcb23"}, State: diracv1.TierSucceeded, Done: 2, StartedAt: at(-20 * time.Minute), FinishedAt: at(-19 * time.Minute)},
			{Name: "AgentsStopped", State: diracv1.TierSkipped},
			{Name: "ServicesStopped", State: diracv1.TierSkipped},
			{Name: "DatabasesStopped", Hosts: []string{"volhcb21", "volhcb23"}, State: diracv1.TierFailed, Done: 1, StartedAt: at(-19 * time.Minute), FinishedAt: at(-13 * time.Minute)},
		},
		Hosts: []diracv1.HostStatus{
			{Name: "volhcb21", Phase: diracv1.HostDown, CompletedTiers: []string{"MaintenanceSet", "DatabasesStopped"},
				LastStep: &diracv1.StepStatus{Name: "MoveJournal", ExitCode: exit(0), StartedAt: at(-17 * time.Minute), FinishedAt: at(-17*time.Minute + 2*time.Second)}},
			{Name: "volhcb23", Phase: diracv1.HostFailed, CompletedTiers: []string{"MaintenanceSet"},
				Reason: diracv1.ReasonStepTimeout, Message: "mysqld still runs 5m after mysql.server stop", WaitingSince: at(-18 * time.Minute),
				LastStep: &diracv1.StepStatus{Name: "StopDatabase", ExitCode: exit(0), StartedAt: at(-18 * time.Minute), FinishedAt: at(-13 * time.Minute)}},
		},
	}
	return vbi
}

// completedUp is a whole Up: the agents start after the settle delay.
func completedUp() *diracv1.VOBoxIntervention {
	vbi := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "vobox", Name: "power-stop", Generation: 2}}
	vbi.Spec.State = diracv1.StateUp
	vbi.Status = diracv1.VOBoxInterventionStatus{
		ObservedGeneration: 2, ObservedState: diracv1.StateUp, Phase: diracv1.PhaseUp,
		StartedAt: at(-30 * time.Minute), CompletedAt: at(-21*time.Minute - 30*time.Second),
		Tiers: []diracv1.TierStatus{
			{Name: "DatabasesStarted", Hosts: []string{"volhcb21"}, State: diracv1.TierSucceeded, Done: 1, StartedAt: at(-30 * time.Minute), FinishedAt: at(-29 * time.Minute)},
			{Name: "FrameworkStarted", Hosts: []string{"volhcb18"}, State: diracv1.TierSucceeded, Done: 1, StartedAt: at(-29 * time.Minute), FinishedAt: at(-28 * time.Minute)},
			{Name: "ServicesStarted", Hosts: []string{"volhcb15", "volhcb17"}, State: diracv1.TierSucceeded, Done: 2, StartedAt: at(-28 * time.Minute), FinishedAt: at(-26 * time.Minute)},
			{Name: "AgentsStarted", Hosts: []string{"volhcb20"}, State: diracv1.TierSucceeded, Done: 1, StartedAt: at(-25 * time.Minute), FinishedAt: at(-22 * time.Minute)},
			{Name: "MaintenanceCleared", Hosts: []string{"volhcb15", "volhcb17", "volhcb18", "volhcb20", "volhcb21"}, State: diracv1.TierSucceeded, Done: 5, StartedAt: at(-22 * time.Minute), FinishedAt: at(-21*time.Minute - 30*time.Second)},
		},
	}
	for _, h := range []string{"volhcb15", "volhcb17", "volhcb18", "volhcb20", "volhcb21"} {
		vbi.Status.Hosts = append(vbi.Status.Hosts, diracv1.HostStatus{Name: h, Phase: diracv1.HostUp,
			CompletedTiers: []string{"DatabasesStarted", "FrameworkStarted", "ServicesStarted", "AgentsStarted", "MaintenanceCleared"},
			LastStep:       &diracv1.StepStatus{Name: "ClearMaintenance", ExitCode: exit(0), StartedAt: at(-21*time.Minute - 40*time.Second), FinishedAt: at(-21*time.Minute - 31*time.Second)}})
	}
	return vbi
}

func notStarted() *diracv1.VOBoxIntervention {
	vbi := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "vobox", Name: "fresh"}}
	vbi.Spec.State = diracv1.StateDown
	vbi.Status.ObservedGeneration = -1
	return vbi
}

var sgr = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func TestTimelineGolden(t *testing.T) {
	cases := []struct {
		golden string
		vbi    *diracv1.VOBoxIntervention
		width  int
		colour bool
	}{
		{"timeline-running-100.golden", runningDown(), 100, false},
		{"timeline-running-60.golden", runningDown(), 60, false},
		{"timeline-running-colour-100.golden", runningDown(), 100, true},
		{"timeline-failed-100.golden", failedDown(), 100, false},
		{"timeline-up-140.golden", completedUp(), 140, false},
		{"timeline-up-40.golden", completedUp(), 40, false},
		{"timeline-not-started.golden", notStarted(), 100, false},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			var b bytes.Buffer
			writeTimeline(&b, painter{on: tc.colour}, tc.vbi, testNow, tc.width)
			golden(t, tc.golden, b.String())
			// Every line fits the width (the legend and header may wrap as prose).
			for i, l := range strings.Split(b.String(), "\n") {
				if i < 2 || strings.HasPrefix(l, "One column is") || strings.Contains(l, "tier / recorded step") {
					continue
				}
				if n := utf8.RuneCountInString(sgr.ReplaceAllString(l, "")); n > tc.width {
					t.Errorf("line %d is %d columns wide, more than %d: %q", i, n, tc.width, l)
				}
			}
		})
	}
}

func TestAxis(t *testing.T) {
	a := axis{start: testNow, end: testNow.Add(100 * time.Second), cols: 100}
	for _, tc := range []struct {
		t         time.Duration
		col, last int
	}{
		{0, 0, 0}, {time.Second, 1, 0}, {1500 * time.Millisecond, 1, 1}, {99 * time.Second, 99, 98}, {100 * time.Second, 99, 99}, {200 * time.Second, 99, 99}, {-time.Second, 0, 0},
	} {
		if c, l := a.col(testNow.Add(tc.t)), a.lastCol(testNow.Add(tc.t)); c != tc.col || l != tc.last {
			t.Errorf("at %s: col %d, lastCol %d; want %d, %d", tc.t, c, l, tc.col, tc.last)
		}
	}
	for d, want := range map[time.Duration]string{0: "0", 90 * time.Second: "1m30s", 2 * time.Minute: "2m", time.Hour: "1h", 90 * time.Minute: "1h30m", 5 * time.Second: "5s"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
