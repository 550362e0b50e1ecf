package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/google/pprof/profile"

	"github.com/vobox-operator/vobox-operator/internal/remote"
	"github.com/vobox-operator/vobox-operator/internal/remote/sim"
)

// The benchmark is one process: the controller, the simulated hosts and
// the bench's own watch all count in its CPU time. Their goroutines carry
// a pprof label "part" (simulator, bench; the controller's carry none), so
// the CPU profile splits that time. What has no label (the controller, its
// client and informers, and the Go runtime's background GC) is charged to
// the operator: the split can only overstate it.

// Parts of the process, as labelled.
const (
	partLabel     = "part"
	partSimulator = "simulator"
	partBench     = "bench"
	partOperator  = "operator" // no label
)

// inPart runs f with the part label, and every goroutine f starts too.
func inPart(ctx context.Context, part string, f func(context.Context)) {
	pprof.Do(ctx, pprof.Labels(partLabel, part), f)
}

// labelledSim is the simulator with its work labelled.
type labelledSim struct{ *sim.Sim }

// Run runs cmd on the simulated host, labelled as the simulator's.
func (l labelledSim) Run(ctx context.Context, t remote.Target, cmd remote.Command) (res remote.Result, err error) {
	inPart(ctx, partSimulator, func(ctx context.Context) { res, err = l.Sim.Run(ctx, t, cmd) })
	return res, err
}

// Connect opens the simulated connection, labelled as the simulator's.
func (l labelledSim) Connect(ctx context.Context, t remote.Target) (err error) {
	inPart(ctx, partSimulator, func(ctx context.Context) { err = l.Sim.Connect(ctx, t) })
	return err
}

// cpuByPart reads a CPU profile and returns each part's share of its samples.
func cpuByPart(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("failed to parse %s: %w", path, err)
	}
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("%s has no cpu samples", path)
	}
	by := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		part := partOperator
		if v := s.Label[partLabel]; len(v) > 0 {
			part = v[0]
		}
		by[part] += s.Value[idx]
		total += s.Value[idx]
	}
	shares := map[string]float64{}
	for k, v := range by {
		if total > 0 {
			shares[k] = float64(v) / float64(total)
		}
	}
	return shares, nil
}
