package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func TestSettleWait(t *testing.T) {
	at := func(d time.Duration) *metav1.Time { tm := metav1.NewTime(statusNow.Add(d)); return &tm }
	fw := diracv1.HostSpec{Name: "fw", Roles: []diracv1.Role{diracv1.RoleFramework}}
	svc := diracv1.HostSpec{Name: "svc", Roles: []diracv1.Role{diracv1.RoleServices}}
	ag := diracv1.HostSpec{Name: "ag", Roles: []diracv1.Role{diracv1.RoleAgents}}
	cases := []struct {
		name     string
		hosts    []diracv1.HostSpec
		finished map[string]*metav1.Time
		want     time.Duration
	}{
		{"services finished 20s ago", []diracv1.HostSpec{fw, svc, ag},
			map[string]*metav1.Time{diracv1.FrameworkStartedCondition: at(-40 * time.Second), diracv1.ServicesStartedCondition: at(-20 * time.Second)}, 40 * time.Second},
		{"settled", []diracv1.HostSpec{fw, svc, ag},
			map[string]*metav1.Time{diracv1.ServicesStartedCondition: at(-2 * time.Minute)}, -time.Minute},
		// No Services host: the delay follows the Framework tier all the same.
		{"framework only", []diracv1.HostSpec{fw, ag},
			map[string]*metav1.Time{diracv1.FrameworkStartedCondition: at(-10 * time.Second)}, 50 * time.Second},
		{"nothing ran before", []diracv1.HostSpec{ag}, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vbi := statusFixture(diracv1.StateUp, diracv1.FailurePolicyHalt)
			vbi.Spec.Hosts = tc.hosts
			vbi.Spec.Checks.SettleDelay = metav1.Duration{Duration: time.Minute}
			s := statusScope(vbi)
			for i := range vbi.Status.Tiers {
				vbi.Status.Tiers[i].FinishedAt = tc.finished[vbi.Status.Tiers[i].Name]
			}
			r := &VOBoxInterventionReconciler{}
			agents := 3
			if got := r.settleWait(s, agents); got != tc.want {
				t.Errorf("settleWait = %s, want %s", got, tc.want)
			}
			for i := range s.plan.Tiers {
				if i != agents && r.settleWait(s, i) != 0 {
					t.Errorf("tier %s waits to settle", s.plan.Tiers[i].Condition)
				}
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	for attempts, want := range map[int32]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 40: 30 * time.Second} {
		if got := backoff(attempts); got != want {
			t.Errorf("backoff(%d) = %s, want %s", attempts, got, want)
		}
	}
}

// TestCloseTier: Halt keeps retrying what a retry can fix and stops before
// the next tier on what it cannot; Continue closes the tier and goes on.
func TestCloseTier(t *testing.T) {
	cases := []struct {
		name       string
		policy     diracv1.FailurePolicy
		reason     string
		wantNext   bool
		wantState  diracv1.TierState
		wantNeedsW bool
	}{
		{"halt, terminal", diracv1.FailurePolicyHalt, diracv1.ReasonErrorsInLog, false, diracv1.TierFailed, false},
		{"halt, transient", diracv1.FailurePolicyHalt, diracv1.ReasonUnreachable, false, diracv1.TierRunning, true},
		{"continue, terminal", diracv1.FailurePolicyContinue, diracv1.ReasonErrorsInLog, true, diracv1.TierFailed, false},
		{"continue, transient", diracv1.FailurePolicyContinue, diracv1.ReasonUnreachable, true, diracv1.TierFailed, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := statusScope(statusFixture(diracv1.StateUp, tc.policy), diracv1.TierSucceeded, diracv1.TierSkipped, diracv1.TierRunning)
			tier, ts := &s.plan.Tiers[2], &s.vbi.Status.Tiers[2]
			ts.State = diracv1.TierRunning
			s.hostStatus("s2").CompletedTiers = []string{tier.Condition}
			failHost(s, "s1", tc.reason, "boom")
			r := &VOBoxInterventionReconciler{}
			if next := r.closeTier(s, tier, ts); next != tc.wantNext {
				t.Errorf("closeTier = %v, want %v", next, tc.wantNext)
			}
			if ts.State != tc.wantState || ts.Done != 1 {
				t.Errorf("tier state %s done %d, want %s 1", ts.State, ts.Done, tc.wantState)
			}
			if got := hostNeedsWork(s, tier, "s1"); got != tc.wantNeedsW {
				t.Errorf("hostNeedsWork(s1) = %v, want %v", got, tc.wantNeedsW)
			}
			if hostNeedsWork(s, tier, "s2") {
				t.Error("a host that passed the tier needs work")
			}
			// The failed host takes no part in the later tiers (maintenance is
			// not cleared on it); the others do.
			clear := &s.plan.Tiers[4]
			if !failedEarlier(s, clear, "s1") || hostNeedsWork(s, clear, "s1") {
				t.Error("s1 failed an earlier tier but would have its maintenance cleared")
			}
			if failedEarlier(s, clear, "s2") || !hostNeedsWork(s, clear, "s2") {
				t.Error("s2 passed but would not have its maintenance cleared")
			}
		})
	}
}
