package sim

import (
	"context"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Clock is the simulation's time: what the hosts report (runsvstat's
// seconds, probe.sh's now, log time stamps) and how long an operation takes.
type Clock interface {
	// Now is the simulated time.
	Now() time.Time
	// Sleep waits for d of simulated time, or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// ScaledClock runs simulated time Scale times faster than real time, from
// the moment it was made. Scale 1 is real time.
type ScaledClock struct {
	scale     float64
	realStart time.Time
	simStart  time.Time
}

// NewScaledClock returns a clock at scale (≤ 0 means 1) starting now.
func NewScaledClock(scale float64) *ScaledClock {
	if scale <= 0 {
		scale = 1
	}
	now := time.Now()
	return &ScaledClock{scale: scale, realStart: now, simStart: now}
}

// Now is the simulated time.
func (c *ScaledClock) Now() time.Time {
	return c.simStart.Add(time.Duration(float64(time.Since(c.realStart)) * c.scale))
}

// Sleep waits d/scale of real time.
func (c *ScaledClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(float64(d) / c.scale))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Real returns the real duration of d simulated.
func (c *ScaledClock) Real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.scale)
}

// Range is a duration drawn uniformly between Min and Max.
type Range struct{ Min, Max time.Duration }

func (r Range) draw(rng *rand.Rand) time.Duration {
	if r.Max <= r.Min {
		return r.Min
	}
	return r.Min + time.Duration(rng.Int64N(int64(r.Max-r.Min)))
}

// Model is how long things take on the simulated hosts.
type Model struct {
	// RTTMedian and RTTP99 fix the lognormal distribution of the hosts'
	// round-trip times (one drawn per host). A zero median means no latency.
	RTTMedian, RTTP99 time.Duration
	// HandshakeRTTs bounds the SSH handshake in round trips (key exchange,
	// authentication); each host draws a whole number in the range.
	HandshakeRTTs [2]int
	// SessionRTTs is a session's cost in round trips (channel open and
	// exec, then exit status and close), besides the work done.
	SessionRTTs float64
	// ServiceStop is how long a DIRAC service takes to exit on runsvctrl d.
	ServiceStop Range
	// AgentCycle is how long an agent takes to exit on runsvctrl d: it
	// finishes its cycle first, so the time left is uniform up to a cycle.
	AgentCycle Range
	// Rescan is runsvdir's scan period (5 s): a link that appears in
	// startup gets its runsv at the next scan, a removed link's runsv is
	// told to go. Zero picks a change up before the next command.
	Rescan time.Duration
	// MysqldStart and MysqldStop are how long mysql.server start and stop
	// take (both wait for mysqld).
	MysqldStart, MysqldStop Range
	// Exec is the time a command takes on the host itself (fork, exec, the
	// filesystem), per operation.
	Exec time.Duration
}

// DefaultModel is the model: RTT lognormal with median 40 ms and
// p99 300 ms, handshakes of 3–5 RTTs, a session of 2 RTTs, services that
// stop within a second, agents that finish a cycle of up to 20 s, runsvdir's
// 5 s rescan, mysqld starting in 3–8 s and stopping in 2–5 s.
func DefaultModel() Model {
	return Model{
		RTTMedian: 40 * time.Millisecond, RTTP99: 300 * time.Millisecond,
		HandshakeRTTs: [2]int{3, 5}, SessionRTTs: 2,
		ServiceStop: Range{100 * time.Millisecond, time.Second},
		AgentCycle:  Range{0, 20 * time.Second},
		Rescan:      5 * time.Second,
		MysqldStart: Range{3 * time.Second, 8 * time.Second},
		MysqldStop:  Range{2 * time.Second, 5 * time.Second},
		Exec:        5 * time.Millisecond,
	}
}

// InstantModel takes no time at all: components stop at once, runsvdir picks
// a change up before the next command. It is what internal/hostsim does,
// for the differential test.
func InstantModel() Model { return Model{} }

// z99 is the standard normal's 99th percentile.
const z99 = 2.3263478740408408

// drawRTT draws a lognormal RTT with the model's median and p99.
func (m Model) drawRTT(rng *rand.Rand) time.Duration {
	if m.RTTMedian <= 0 {
		return 0
	}
	sigma := 0.0
	if m.RTTP99 > m.RTTMedian {
		sigma = math.Log(float64(m.RTTP99)/float64(m.RTTMedian)) / z99
	}
	return time.Duration(float64(m.RTTMedian) * math.Exp(sigma*rng.NormFloat64()))
}

// hostRand is a host's own random stream: seed and name decide it, not the
// order in which hosts are made or used.
func hostRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// lockedRand guards a rand.Rand shared by a host's concurrent sessions.
type lockedRand struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func (l *lockedRand) draw(r Range) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return r.draw(l.rng)
}
