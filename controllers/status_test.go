package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

var statusNow = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// statusFixture is a small intervention: agents on a1, services on s1 and
// s2, a database on d1.
func statusFixture(state diracv1.State, policy diracv1.FailurePolicy) *diracv1.VOBoxIntervention {
	return &diracv1.VOBoxIntervention{
		ObjectMeta: metav1.ObjectMeta{Name: "power-stop", Namespace: "lhcb", Generation: 3, UID: "uid-1"},
		Spec: diracv1.VOBoxInterventionSpec{
			State: state, Reason: "power stop",
			Hosts: []diracv1.HostSpec{
				{Name: "a1", Roles: []diracv1.Role{diracv1.RoleAgents}},
				{Name: "s1", Roles: []diracv1.Role{diracv1.RoleServices}},
				{Name: "s2", Roles: []diracv1.Role{diracv1.RoleServices}},
				{Name: "d1", Roles: []diracv1.Role{diracv1.RoleDatabase}},
			},
			Strategy: diracv1.StrategySpec{FailurePolicy: policy, StepTimeout: metav1.Duration{Duration: time.Minute}},
		},
		Status: diracv1.VOBoxInterventionStatus{ObservedGeneration: -1},
	}
}

// statusScope plans the intervention and sets its tiers to the given states
// (Done counted from the hosts' CompletedTiers).
func statusScope(vbi *diracv1.VOBoxIntervention, tiers ...diracv1.TierState) *scope {
	s := &scope{vbi: vbi, plan: procedure.BuildPlan(&vbi.Spec), now: statusNow}
	s.ensureHostStatuses()
	st := &vbi.Status
	st.ObservedState = vbi.Spec.State
	st.Tiers = make([]diracv1.TierStatus, len(s.plan.Tiers))
	for i, t := range s.plan.Tiers {
		st.Tiers[i] = diracv1.TierStatus{Name: t.Condition, Hosts: t.Hosts, State: diracv1.TierPending}
		if i < len(tiers) {
			st.Tiers[i].State = tiers[i]
		}
		if st.Tiers[i].State != diracv1.TierPending {
			started := metav1.NewTime(statusNow.Add(-time.Minute))
			st.Tiers[i].StartedAt = &started
		}
		if st.Tiers[i].State == diracv1.TierSucceeded {
			for _, h := range t.Hosts {
				hs := s.hostStatus(h)
				hs.CompletedTiers = append(hs.CompletedTiers, t.Condition)
			}
			st.Tiers[i].Done = int32(len(t.Hosts))
		}
	}
	s.resolveHosts(context.Background())
	return s
}

// failHost marks a host failed in a tier.
func failHost(s *scope, name, reason, msg string) {
	hs := s.hostStatus(name)
	hs.Phase, hs.Reason, hs.Message = diracv1.HostFailed, reason, msg
}

// condition is one expected condition.
type condition struct {
	status metav1.ConditionStatus
	reason string
	// mentions are substrings of the message.
	mentions []string
}

func TestDeriveStatus(t *testing.T) {
	S, F, R, K := diracv1.TierSucceeded, diracv1.TierFailed, diracv1.TierRunning, diracv1.TierSkipped
	cases := []struct {
		name string
		// setup builds the scope as the steps left it.
		setup     func() *scope
		phase     diracv1.Phase
		progress  string
		want      map[string]condition
		absent    []string
		hostPhase map[string]diracv1.HostPhase
	}{
		{
			name:     "fresh: planned, nothing ran",
			setup:    func() *scope { return statusScope(statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt)) },
			phase:    diracv1.PhasePending,
			progress: "0/8",
			want: map[string]condition{
				diracv1.ReadyCondition:            {metav1.ConditionFalse, diracv1.ReasonProgressing, []string{"MaintenanceSet: 0/4 hosts done"}},
				diracv1.ReconcilingCondition:      {metav1.ConditionTrue, diracv1.ReasonProgressing, nil},
				diracv1.StalledCondition:          {metav1.ConditionFalse, diracv1.ReasonProgressing, nil},
				diracv1.MaintenanceSetCondition:   {metav1.ConditionFalse, diracv1.ReasonPending, nil},
				diracv1.DatabasesStoppedCondition: {metav1.ConditionFalse, diracv1.ReasonPending, []string{"1 hosts"}},
			},
			hostPhase: map[string]diracv1.HostPhase{"a1": diracv1.HostPending, "d1": diracv1.HostPending},
		},
		{
			name: "running: agents stopping",
			setup: func() *scope {
				s := statusScope(statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt), S, R)
				since := metav1.NewTime(statusNow)
				s.hostStatus("a1").WaitingSince = &since
				return s
			},
			phase:    diracv1.PhaseShuttingDown,
			progress: "4/8",
			want: map[string]condition{
				diracv1.ReadyCondition:           {metav1.ConditionFalse, diracv1.ReasonProgressing, []string{"AgentsStopped: 0/1 hosts done"}},
				diracv1.ReconcilingCondition:     {metav1.ConditionTrue, diracv1.ReasonProgressing, nil},
				diracv1.StalledCondition:         {metav1.ConditionFalse, diracv1.ReasonProgressing, nil},
				diracv1.MaintenanceSetCondition:  {metav1.ConditionTrue, diracv1.ReasonSucceeded, []string{"4/4"}},
				diracv1.AgentsStoppedCondition:   {metav1.ConditionFalse, diracv1.ReasonProgressing, []string{"0/1"}},
				diracv1.ServicesStoppedCondition: {metav1.ConditionFalse, diracv1.ReasonPending, nil},
			},
			hostPhase: map[string]diracv1.HostPhase{"a1": diracv1.HostWorking, "s1": diracv1.HostWaiting},
		},
		{
			name: "halted on a failed host",
			setup: func() *scope {
				s := statusScope(statusFixture(diracv1.StateUp, diracv1.FailurePolicyHalt), S, K, F)
				failHost(s, "s1", diracv1.ReasonErrorsInLog, "host s1: 1 log line(s) match errorPatterns")
				s.hostStatus("s2").CompletedTiers = []string{diracv1.ServicesStartedCondition}
				s.vbi.Status.Tiers[2].Done = 1
				return s
			},
			phase:    diracv1.PhaseFailed,
			progress: "2/8",
			want: map[string]condition{
				diracv1.ReadyCondition:            {metav1.ConditionFalse, diracv1.ReasonHostFailed, []string{"s1", "errorPatterns"}},
				diracv1.ReconcilingCondition:      {metav1.ConditionFalse, diracv1.ReasonHalted, nil},
				diracv1.StalledCondition:          {metav1.ConditionTrue, diracv1.ReasonHalted, []string{"1 host(s) failed", "s1"}},
				diracv1.ServicesStartedCondition:  {metav1.ConditionFalse, diracv1.ReasonHostFailed, []string{"host s1 failed (ErrorsInLog)"}},
				diracv1.FrameworkStartedCondition: {metav1.ConditionTrue, diracv1.ReasonNotApplicable, []string{"No host"}},
				diracv1.AgentsStartedCondition:    {metav1.ConditionFalse, diracv1.ReasonPending, nil},
			},
			hostPhase: map[string]diracv1.HostPhase{"s1": diracv1.HostFailed, "s2": diracv1.HostWaiting},
		},
		{
			name: "continue: finished with failures",
			setup: func() *scope {
				s := statusScope(statusFixture(diracv1.StateUp, diracv1.FailurePolicyContinue), S, K, F, S, F)
				failHost(s, "s1", diracv1.ReasonComponentNotUp, "host s1: not up")
				s.hostStatus("s2").CompletedTiers = []string{diracv1.ServicesStartedCondition, diracv1.MaintenanceClearedCondition}
				for _, h := range []string{"a1", "d1"} {
					s.hostStatus(h).CompletedTiers = append(s.hostStatus(h).CompletedTiers, diracv1.MaintenanceClearedCondition)
				}
				s.vbi.Status.Tiers[2].Done, s.vbi.Status.Tiers[4].Done = 1, 3
				return s
			},
			phase:    diracv1.PhaseFailed,
			progress: "6/8",
			want: map[string]condition{
				diracv1.ReadyCondition:              {metav1.ConditionFalse, diracv1.ReasonHostFailed, []string{"s1: host s1: not up"}},
				diracv1.ReconcilingCondition:        {metav1.ConditionFalse, diracv1.ReasonCompletedWithFailures, nil},
				diracv1.StalledCondition:            {metav1.ConditionTrue, diracv1.ReasonCompletedWithFailures, []string{"s1"}},
				diracv1.AgentsStartedCondition:      {metav1.ConditionTrue, diracv1.ReasonSucceeded, nil},
				diracv1.MaintenanceClearedCondition: {metav1.ConditionFalse, diracv1.ReasonHostFailed, []string{"s1"}},
			},
			// The healthy hosts are Up: nothing is left for them to wait for
			// (issue 16: they used to stay Waiting forever).
			hostPhase: map[string]diracv1.HostPhase{"s1": diracv1.HostFailed, "a1": diracv1.HostUp, "s2": diracv1.HostUp, "d1": diracv1.HostUp},
		},
		{
			name: "continue: a procedure.Failure while the others go on",
			setup: func() *scope {
				s := statusScope(statusFixture(diracv1.StateUp, diracv1.FailurePolicyContinue), S, K, F, R)
				failHost(s, "s1", diracv1.ReasonComponentNotUp, "host s1: not up")
				s.hostStatus("s2").CompletedTiers = []string{diracv1.ServicesStartedCondition}
				s.vbi.Status.Tiers[2].Done = 1
				return s
			},
			phase:    diracv1.PhaseStartingUp,
			progress: "2/8",
			want: map[string]condition{
				diracv1.ReadyCondition:       {metav1.ConditionFalse, diracv1.ReasonProgressing, []string{"AgentsStarted: 0/1", "1 host(s) failed", "s1"}},
				diracv1.ReconcilingCondition: {metav1.ConditionTrue, diracv1.ReasonProgressing, nil},
				diracv1.StalledCondition:     {metav1.ConditionFalse, diracv1.ReasonProgressing, nil},
			},
		},
		{
			name: "suspended",
			setup: func() *scope {
				vbi := statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt)
				vbi.Spec.Suspend = true
				return statusScope(vbi, S)
			},
			phase:    diracv1.PhaseSuspended,
			progress: "4/8",
			want: map[string]condition{
				diracv1.ReadyCondition:       {metav1.ConditionFalse, diracv1.ReasonSuspended, []string{"spec.suspend"}},
				diracv1.ReconcilingCondition: {metav1.ConditionFalse, diracv1.ReasonSuspended, nil},
				diracv1.StalledCondition:     {metav1.ConditionFalse, diracv1.ReasonSuspended, nil},
			},
		},
		{
			name: "host locked by another intervention",
			setup: func() *scope {
				s := statusScope(statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt))
				s.blocked = &procedure.Failure{Reason: diracv1.ReasonHostLocked, Message: "Waiting for 1 host(s) held by another intervention: s1 (held by other)"}
				return s
			},
			phase:    diracv1.PhasePending,
			progress: "0/8",
			want: map[string]condition{
				diracv1.ReadyCondition:       {metav1.ConditionFalse, diracv1.ReasonHostLocked, []string{"s1 (held by other)"}},
				diracv1.ReconcilingCondition: {metav1.ConditionTrue, diracv1.ReasonHostLocked, []string{"held by other"}},
				diracv1.StalledCondition:     {metav1.ConditionFalse, diracv1.ReasonProgressing, nil},
			},
			hostPhase: map[string]diracv1.HostPhase{"s1": diracv1.HostWaiting, "a1": diracv1.HostWaiting},
		},
		{
			name: "blocked by a missing Secret",
			setup: func() *scope {
				s := statusScope(statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt))
				s.blocked = &procedure.Failure{Reason: diracv1.ReasonSecretNotFound, Terminal: true, Message: "Secret lhcb/ssh named by spec.ssh.secretRef does not exist"}
				return s
			},
			phase:    diracv1.PhaseFailed,
			progress: "0/8",
			want: map[string]condition{
				diracv1.ReadyCondition:       {metav1.ConditionFalse, diracv1.ReasonSecretNotFound, []string{"lhcb/ssh"}},
				diracv1.ReconcilingCondition: {metav1.ConditionFalse, diracv1.ReasonSecretNotFound, nil},
				diracv1.StalledCondition:     {metav1.ConditionTrue, diracv1.ReasonSecretNotFound, []string{"does not exist"}},
			},
		},
		{
			name: "down complete",
			setup: func() *scope {
				return statusScope(statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt), S, S, S, S)
			},
			phase:    diracv1.PhaseDown,
			progress: "8/8",
			want: map[string]condition{
				diracv1.ReadyCondition:            {metav1.ConditionTrue, diracv1.ReasonSucceeded, []string{"All 4 hosts are Down"}},
				diracv1.ReconcilingCondition:      {metav1.ConditionFalse, diracv1.ReasonSucceeded, nil},
				diracv1.StalledCondition:          {metav1.ConditionFalse, diracv1.ReasonSucceeded, nil},
				diracv1.DatabasesStoppedCondition: {metav1.ConditionTrue, diracv1.ReasonSucceeded, []string{"1/1"}},
			},
			hostPhase: map[string]diracv1.HostPhase{"a1": diracv1.HostDown, "d1": diracv1.HostDown},
		},
		{
			name: "up complete, maintenance disabled; the Down conditions are gone",
			setup: func() *scope {
				vbi := statusFixture(diracv1.StateUp, diracv1.FailurePolicyHalt)
				off := false
				vbi.Spec.Maintenance.Enabled = &off
				for _, c := range []string{diracv1.MaintenanceSetCondition, diracv1.AgentsStoppedCondition, diracv1.ServicesStoppedCondition, diracv1.DatabasesStoppedCondition} {
					meta.SetStatusCondition(&vbi.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, Reason: diracv1.ReasonSucceeded, ObservedGeneration: 2})
				}
				return statusScope(vbi, S, K, S, S, K)
			},
			phase:    diracv1.PhaseUp,
			progress: "4/4",
			want: map[string]condition{
				diracv1.ReadyCondition:              {metav1.ConditionTrue, diracv1.ReasonSucceeded, []string{"All 4 hosts are Up"}},
				diracv1.MaintenanceClearedCondition: {metav1.ConditionTrue, diracv1.ReasonNotApplicable, []string{"spec.maintenance.enabled is false"}},
				diracv1.FrameworkStartedCondition:   {metav1.ConditionTrue, diracv1.ReasonNotApplicable, []string{"No host takes part"}},
			},
			absent:    []string{diracv1.MaintenanceSetCondition, diracv1.AgentsStoppedCondition, diracv1.ServicesStoppedCondition, diracv1.DatabasesStoppedCondition},
			hostPhase: map[string]diracv1.HostPhase{"a1": diracv1.HostUp, "s1": diracv1.HostUp, "d1": diracv1.HostUp},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.setup()
			deriveStatus(s)
			st := &s.vbi.Status
			if st.Phase != tc.phase {
				t.Errorf("phase = %s, want %s", st.Phase, tc.phase)
			}
			if st.Progress != tc.progress {
				t.Errorf("progress = %s, want %s", st.Progress, tc.progress)
			}
			if st.ObservedGeneration != 3 {
				t.Errorf("observedGeneration = %d, want 3", st.ObservedGeneration)
			}
			for typ, w := range tc.want {
				c := meta.FindStatusCondition(st.Conditions, typ)
				if c == nil {
					t.Errorf("no %s condition", typ)
					continue
				}
				if c.Status != w.status || c.Reason != w.reason {
					t.Errorf("%s = %s/%s (%q), want %s/%s", typ, c.Status, c.Reason, c.Message, w.status, w.reason)
				}
				for _, m := range w.mentions {
					if !strings.Contains(c.Message, m) {
						t.Errorf("%s message %q does not mention %q", typ, c.Message, m)
					}
				}
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != 3 {
					t.Errorf("%s has observedGeneration %d, want 3", c.Type, c.ObservedGeneration)
				}
				if c.Reason == "" || c.Message == "" {
					t.Errorf("%s has no reason or message: %+v", c.Type, c)
				}
			}
			// One condition per tier plus Ready, Reconciling and Stalled.
			if len(st.Conditions) != len(s.plan.Tiers)+3 {
				t.Errorf("%d conditions, want %d", len(st.Conditions), len(s.plan.Tiers)+3)
			}
			for _, typ := range tc.absent {
				if meta.FindStatusCondition(st.Conditions, typ) != nil {
					t.Errorf("condition %s of the other direction is still there", typ)
				}
			}
			for h, want := range tc.hostPhase {
				if got := s.hostStatus(h).Phase; got != want {
					t.Errorf("host %s phase = %s, want %s", h, got, want)
				}
			}
			if (st.Phase == diracv1.PhaseDown || st.Phase == diracv1.PhaseUp) != (st.CompletedAt != nil) {
				t.Errorf("phase %s with completedAt %v", st.Phase, st.CompletedAt)
			}

			// Deriving again from the same state changes nothing: a pass that
			// saw nothing new writes no status.
			before := st.DeepCopy()
			s.now = s.now.Add(time.Hour)
			deriveStatus(s)
			if !equality.Semantic.DeepEqual(before, st) {
				t.Errorf("a second derivation changed the status:\nbefore %+v\nafter  %+v", before, st)
			}
		})
	}
}

func TestDeriveStatusNewGeneration(t *testing.T) {
	s := statusScope(statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt), diracv1.TierSucceeded, diracv1.TierSucceeded, diracv1.TierSucceeded, diracv1.TierSucceeded)
	deriveStatus(s)
	ready := *meta.FindStatusCondition(s.vbi.Status.Conditions, diracv1.ReadyCondition)
	// The spec changed in a way that keeps the plan (e.g. the reason): the
	// conditions now speak for generation 4, and the transition time of an
	// unchanged status stays.
	s.vbi.Generation = 4
	deriveStatus(s)
	got := meta.FindStatusCondition(s.vbi.Status.Conditions, diracv1.ReadyCondition)
	if got.ObservedGeneration != 4 || s.vbi.Status.ObservedGeneration != 4 {
		t.Errorf("observedGeneration = %d/%d, want 4", got.ObservedGeneration, s.vbi.Status.ObservedGeneration)
	}
	if !got.LastTransitionTime.Equal(&ready.LastTransitionTime) {
		t.Errorf("Ready's transition time moved without a transition")
	}
}
