package e2e

import (
	"context"
	"regexp"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestLeaderReleasesOnShutdown: a leader stopped as a rollout stops it
// (SIGTERM) gives its election Lease back (LeaderElectionReleaseOnCancel),
// so the standby leads within a retry period or two, not after the Lease's
// 15 s expire as it must after a SIGKILL (TestHALeaderKilledMidDown).
//
// Not parallel: its replicas must be the only managers running, which holds
// while the suite's sequential tests run (as for TestHALeaderKilledMidDown).
func TestLeaderReleasesOnShutdown(t *testing.T) {
	ns := "leader-release"
	if err := suite.k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ns: ns}
	rs := e.startReplicas(2, ns)
	acquired := regexp.MustCompile(`[Ss]uccessfully acquired lease`)
	var leader, standby *replica
	deadline := time.Now().Add(time.Minute)
	for leader == nil && time.Now().Before(deadline) {
		for i, r := range rs {
			if r.logged(acquired) {
				leader, standby = r, rs[1-i]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if leader == nil {
		t.Fatal("no replica became leader within a minute")
	}
	leader.mu.Lock()
	proc := leader.cmd.Process
	leader.mu.Unlock()
	stopped := time.Now()
	if err := proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for !standby.logged(acquired) {
		if time.Since(stopped) > 30*time.Second {
			t.Fatal("the standby did not lead within 30 s of the leader's SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(stopped)
	t.Logf("FIGURE release on shutdown: the standby leads %.1fs after the leader's SIGTERM", took.Seconds())
	// Without the release the standby waits for the Lease to expire: 15 s
	// after the leader's last renewal, so at least ~13 s after the signal.
	if took > 10*time.Second {
		t.Errorf("the standby led %.1fs after the leader's SIGTERM: the Lease was not released (it expired)", took.Seconds())
	}
	for !leader.exited() {
		if time.Since(stopped) > 20*time.Second {
			t.Fatal("the leader did not exit within 20 s of SIGTERM")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
