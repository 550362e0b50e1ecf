package controllers

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

func TestRanInThisStep(t *testing.T) {
	at := func(d time.Duration) *metav1.Time { tm := metav1.NewTime(statusNow.Add(d)); return &tm }
	step := func(name string, started *metav1.Time) *diracv1.StepStatus {
		return &diracv1.StepStatus{Name: name, StartedAt: started}
	}
	cases := []struct {
		name string
		hs   diracv1.HostStatus
		want bool
	}{
		{"sent in this step", diracv1.HostStatus{WaitingSince: at(0), LastStep: step("StopDatabase", at(time.Second))}, true},
		{"same second (timestamps are whole seconds)", diracv1.HostStatus{WaitingSince: at(0), LastStep: step("StopDatabase", at(0))}, true},
		{"left over from the plan before a flip", diracv1.HostStatus{WaitingSince: at(0), LastStep: step("StopDatabase", at(-time.Minute))}, false},
		{"another command last", diracv1.HostStatus{WaitingSince: at(0), LastStep: step("MoveJournal", at(time.Second))}, false},
		{"nothing ran", diracv1.HostStatus{WaitingSince: at(0)}, false},
		{"not in a step", diracv1.HostStatus{LastStep: step("StopDatabase", at(0))}, false},
	}
	for _, tc := range cases {
		if got := ranInThisStep(&tc.hs, "StopDatabase"); got != tc.want {
			t.Errorf("%s: ranInThisStep = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDecideUsesTheCurrentStepOnly: a command of the same name run before a
// flip does not count as sent in the new step.
func TestDecideUsesTheCurrentStepOnly(t *testing.T) {
	r := &VOBoxInterventionReconciler{Clock: clocktesting.NewFakePassiveClock(statusNow)}
	vbi := statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt)
	vbi.Spec.Layout.MysqlServer = "/opt/dirac/pro/mysql/share/mysql/mysql.server"
	vbi.Spec.Strategy.StopTimeout = metav1.Duration{Duration: time.Minute}
	s := statusScope(vbi)
	since, before := metav1.NewTime(statusNow), metav1.NewTime(statusNow.Add(-10*time.Minute))
	up := &procedure.Probe{RootExists: true, MysqlPresent: true, MysqldUp: true}

	db := s.hostStatus("d1")
	db.WaitingSince, db.LastStep = &since, &diracv1.StepStatus{Name: "StopDatabase", StartedAt: &before}
	tier := s.plan.Tier(diracv1.DatabasesStoppedCondition)
	if d := r.decide(s, tier, s.host("d1"), up, &stepState{}); d.Step() != procedure.OpStopDatabase {
		t.Errorf("stale StopDatabase: decision = %+v, want the stop sent", d)
	}
	db.LastStep.StartedAt = &since
	if d := r.decide(s, tier, s.host("d1"), up, &stepState{}); d.Wait == 0 {
		t.Errorf("StopDatabase sent in this step: decision = %+v, want a wait", d)
	}

	a := s.hostStatus("a1")
	a.WaitingSince, a.LastStep = &since, &diracv1.StepStatus{Name: "StopComponents", StartedAt: &before}
	p, err := procedure.ParseProbe([]byte("root\tok\n" +
		"startup\tWorkloadManagement_JobAgent\t/opt/dirac/runit/WorkloadManagement/JobAgent\n" +
		"stat\tWorkloadManagement_JobAgent\trun (pid 42) 50 seconds\n" +
		"manifest\tWorkloadManagement_JobAgent\t/opt/dirac/runit/WorkloadManagement/JobAgent\tagent\tup\trestore\n"))
	if err != nil {
		t.Fatal(err)
	}
	tier = s.plan.Tier(diracv1.AgentsStoppedCondition)
	if d := r.decide(s, tier, s.host("a1"), p, &stepState{}); d.Step() != procedure.OpStopComponents {
		t.Errorf("stale StopComponents: decision = %+v, want runsvctrl d", d)
	}
}

func TestMergeNames(t *testing.T) {
	if got := mergeNames([]string{"b", "a"}, []string{"c", "a"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("mergeNames = %v", got)
	}
}

func TestBoundWait(t *testing.T) {
	w := &procedure.Wait{Links: []string{"a"}, For: time.Minute}
	if got := boundWait(w, 5*time.Second, 50*time.Millisecond); got == nil || got.For != 5*time.Second || w.For != time.Minute {
		t.Errorf("boundWait = %+v (input now %+v), want For bounded to 5s, input untouched", got, w)
	}
	if got := boundWait(w, 40*time.Millisecond, 50*time.Millisecond); got != nil {
		t.Errorf("boundWait with less than a tick left = %+v, want nil (the controller waits instead)", got)
	}
	if got := boundWait(nil, time.Second, 50*time.Millisecond); got != nil {
		t.Errorf("boundWait(nil) = %+v", got)
	}
}

func TestHostPollTick(t *testing.T) {
	for hosts, want := range map[int]time.Duration{1: 50 * time.Millisecond, 11: 50 * time.Millisecond, 60: 120 * time.Millisecond, 200: procedure.PollInterval} {
		if got := hostPollTick(hosts); got != want {
			t.Errorf("hostPollTick(%d) = %s, want %s", hosts, got, want)
		}
	}
}

// TestStopSentBy: stopTimeout never counts from before the host got the
// stop: the session's end, or that less the wait that followed the stop.
func TestStopSentBy(t *testing.T) {
	start := statusNow
	cases := []struct {
		name     string
		finished time.Duration
		until    *procedure.Wait
		want     time.Duration
	}{
		{"no wait: the session's end", 80 * time.Millisecond, nil, 80 * time.Millisecond},
		{"waited out a 5s budget", 5100 * time.Millisecond, &procedure.Wait{For: 5 * time.Second}, 100 * time.Millisecond},
		{"wait ended early (all stopped): not before the session", 300 * time.Millisecond, &procedure.Wait{For: 5 * time.Second}, 0},
	}
	for _, tc := range cases {
		if got := stopSentBy(start, start.Add(tc.finished), tc.until); !got.Equal(start.Add(tc.want)) {
			t.Errorf("%s: stopSentBy = +%s, want +%s", tc.name, got.Sub(start), tc.want)
		}
	}
}

// connectRecorder is an executor that can connect ahead and records to whom.
type connectRecorder struct {
	remote.Executor
	mu  sync.Mutex
	got []string
	all chan struct{}
	n   int
}

func (c *connectRecorder) Connect(_ context.Context, t remote.Target) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, t.Name)
	if len(c.got) == c.n {
		close(c.all)
	}
	return nil
}

// TestConnectAhead: a Down plan not started opens every host's connection
// (its preflight probes them all), an Up plan the first tier's; a started
// plan none (runTiers opens each next tier's).
func TestConnectAhead(t *testing.T) {
	cases := []struct {
		state   diracv1.State
		started bool
		want    []string
	}{
		{diracv1.StateDown, false, []string{"a1", "d1", "s1", "s2"}},
		{diracv1.StateUp, false, []string{"d1"}},
		{diracv1.StateDown, true, nil},
	}
	for _, tc := range cases {
		rec := &connectRecorder{all: make(chan struct{}), n: len(tc.want)}
		r := &VOBoxInterventionReconciler{Executor: rec}
		vbi := statusFixture(tc.state, diracv1.FailurePolicyHalt)
		var s *scope
		if tc.started {
			s = statusScope(vbi, diracv1.TierSucceeded)
		} else {
			s = statusScope(vbi)
		}
		s.creds = &remote.Credentials{}
		s.resolveHosts(context.Background())
		if _, err := r.connectAhead(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if len(tc.want) > 0 {
			select {
			case <-rec.all:
			case <-time.After(10 * time.Second):
			}
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		rec.mu.Lock()
		got := slices.Sorted(slices.Values(rec.got))
		rec.mu.Unlock()
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s (started %v): connected to %v, want %v", tc.state, tc.started, got, tc.want)
		}
	}
}
