package sim

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

func TestRTTDistribution(t *testing.T) {
	m := DefaultModel()
	rng := hostRand(7, "x")
	var d []time.Duration
	for range 20000 {
		d = append(d, m.drawRTT(rng))
	}
	slices.Sort(d)
	median, p99 := d[len(d)/2], d[len(d)*99/100]
	if median < 37*time.Millisecond || median > 43*time.Millisecond {
		t.Errorf("median RTT %s, want about 40ms", median)
	}
	if p99 < 250*time.Millisecond || p99 > 350*time.Millisecond {
		t.Errorf("p99 RTT %s, want about 300ms", p99)
	}
}

func TestSeedReproducible(t *testing.T) {
	draw := func(seed uint64) (time.Duration, time.Duration, time.Duration) {
		s := New(Config{Seed: seed, Model: DefaultModel()})
		h := s.AddHost("h1", false)
		return h.RTT(), h.Handshake(), h.rescanPhase
	}
	a1, b1, c1 := draw(3)
	a2, b2, c2 := draw(3)
	if a1 != a2 || b1 != b2 || c1 != c2 {
		t.Errorf("seed 3 drew %s %s %s then %s %s %s", a1, b1, c1, a2, b2, c2)
	}
	if h := b1; h < 3*a1 || h > 5*a1 {
		t.Errorf("handshake %s is not 3-5 RTTs of %s", h, a1)
	}
}

func TestNextRescan(t *testing.T) {
	s := New(Config{Seed: 1, Model: DefaultModel()})
	h := s.AddHost("h1", false)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, off := range []time.Duration{0, time.Second, 4999 * time.Millisecond, 17 * time.Second} {
		at := base.Add(off)
		next := h.NextRescan(at)
		if next.Before(at) || next.Sub(at) >= 5*time.Second {
			t.Errorf("NextRescan(%s) = %s", at, next)
		}
		if got := next.Sub(base.Truncate(5*time.Second)) % (5 * time.Second); got != h.rescanPhase {
			t.Errorf("NextRescan(%s) = %s, off the host's phase %s", at, next, h.rescanPhase)
		}
	}
}

// An agent told to stop runs until its cycle ends; the probe's wait on the
// host sees it go, and the session's time is the model's.
func TestAgentStopsAtCycleEnd(t *testing.T) {
	clk := NewScaledClock(100)
	m := Model{AgentCycle: Range{2 * time.Second, 3 * time.Second}, RTTMedian: 40 * time.Millisecond, SessionRTTs: 2}
	s := New(Config{Seed: 1, Model: m, Clock: clk, Layout: Layout{Root: "/opt/dirac"}})
	h := s.AddHost("h1", false, Component{Link: "WorkloadManagement_SiteDirector", Agent: true})
	target := remote.Target{Name: "h1", Address: "h1", Credentials: &remote.Credentials{}}
	ctx := context.Background()
	args := procedure.ProbeArgs{Root: "/opt/dirac", Manifest: procedure.ManifestName("u")}
	stop := procedure.StopComponents(procedure.RunitTools{}, "/opt/dirac/startup", []string{"WorkloadManagement_SiteDirector"})
	w := &procedure.Wait{Links: []string{"WorkloadManagement_SiteDirector"}, For: 10 * time.Second}
	res, err := s.Run(ctx, target, procedure.Session([]procedure.Op{stop}, &args, w, 100*time.Millisecond).Argv)
	if err != nil {
		t.Fatal(err)
	}
	outs, rest := procedure.SplitStepOutput(res.Stdout)
	if len(outs) != 1 || outs[0].ExitCode != 0 {
		t.Fatalf("step output %q", res.Stdout)
	}
	p, err := procedure.ParseProbe(rest)
	if err != nil {
		t.Fatal(err)
	}
	if st := p.State["WorkloadManagement_SiteDirector"]; st.Running {
		t.Errorf("after the wait the agent still runs: %+v", st)
	}
	delay := h.StopDelays()["WorkloadManagement_SiteDirector"]
	if delay < 2*time.Second || res.Duration < delay || res.Duration > delay+time.Second+h.Handshake() {
		t.Errorf("session took %s for a stop of %s", res.Duration, delay)
	}
}
