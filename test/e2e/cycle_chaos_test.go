package e2e

import (
	"math/rand/v2"
	"testing"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// TestCycleChaos: a kernel-patch cycle with reboot on the seed lab while
// the operator is SIGKILLed every 0.3–2.5 s (once it did something since
// its start) and started again at once. At every kill point and at the
// end, every startup link exists exactly once with its original target;
// at the end every host rebooted exactly once (a reboot is recorded as
// sent before it is sent, and a resumed operator only waits for it), the
// cycle is observed and the lab is Up with its links exact.
// VOBOX_CHAOS_SEED replays the schedule. `make chaos` runs it after
// TestChaos.
func TestCycleChaos(t *testing.T) {
	seed, err := envInt("VOBOX_CHAOS_SEED", time.Now().UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 14))
	t.Logf("cycle chaos: replay with VOBOX_CHAOS_SEED=%d", seed)
	e := newEnv(t, "127.83", "--topology", "seed")
	before := e.status()
	original := startupLinks(before)
	tracked := trackedLinks(before)
	op := e.startOwnOperator()

	vbi := e.labIntervention(withReboot("kernel-1", 5*time.Minute))
	start := time.Now()
	e.create(vbi)
	done := make(chan struct{})
	killed := make(chan int)
	go func() {
		kills, logAt := 0, fileSize(op.logPath)
		defer func() { killed <- kills }()
		for {
			select {
			case <-done:
				return
			case <-time.After(300*time.Millisecond + time.Duration(rng.Int64N(int64(2200*time.Millisecond)))):
			}
			if !ranStep(op.logPath, logAt) {
				continue // it has not acted since its start: a kill would prove nothing
			}
			op.kill()
			kills++
			if st, err := e.readStatus(false); err != nil {
				t.Errorf("kill %d: %v", kills, err)
			} else if broken, _ := linksOnce(tracked, st); len(broken) > 0 {
				for _, b := range broken {
					t.Errorf("kill %d: %s", kills, b)
				}
			}
			logAt = fileSize(op.logPath)
			if err := op.start(); err != nil {
				t.Errorf("restart after kill %d: %v", kills, err)
				return
			}
		}
	}()
	got, err := e.poll(vbi.Name, 10*time.Minute, func(v *diracv1.VOBoxIntervention) bool {
		return v.Status.ObservedCycle == "kernel-1"
	})
	close(done)
	kills := <-killed
	if err != nil {
		t.Fatal(err)
	}
	if s := condition(got, diracv1.ReadyCondition); s == nil || *s != "True/Succeeded" {
		t.Errorf("Ready = %v after the cycle", s)
	}
	after := e.status()
	report(t, "Up state", checkUp(after, original, nil))
	lost := 0
	if v, n := linksOnce(tracked, after); len(v) > 0 {
		report(t, "links after the cycle", v)
		lost = n
	}
	reboots := e.rebootsSince(start)
	once := 0
	for _, h := range after.Hosts {
		if n := len(reboots[h.Name]); n != 1 {
			t.Errorf("host %s rebooted %d times", h.Name, n)
		} else {
			once++
		}
	}
	t.Logf("FIGURE cycle chaos: seed %d: %d operator kills during one cycle with reboot of %d hosts in %s; %d/%d hosts rebooted exactly once, %d links lost",
		seed, kills, len(after.Hosts), time.Since(start).Round(time.Second), once, len(after.Hosts), lost)
	if kills == 0 {
		t.Errorf("no kill point")
	}
}
