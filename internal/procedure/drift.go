package procedure

import (
	"slices"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// DriftInput is what a drift check compares a host's probe with: the state
// the intervention holds and what it recorded doing on the host.
type DriftInput struct {
	// State is the state reached (Down or Up).
	State diracv1.State
	// Parked are the links this intervention parked (restored on Up or
	// not); while Down none may be back in startup or run.
	Parked []string
	// Restored are the links this intervention put back on Up; while Up
	// each must still be in startup.
	Restored []string
	// Database is true on a host with the Database role.
	Database bool
	// KeepStopped makes a running mysqld drift while Down
	// (spec.database.keepStopped); otherwise it is only recorded.
	KeepStopped bool
}

// Drift is one thing out of place on a host.
type Drift struct {
	// Subject is the component (a startup link, or mysqld).
	Subject string
	// What says how it left the intervention's state.
	What string
	// Recorded is true for what is noted but is not drift (mysqld back at
	// boot without keepStopped: the procedure expects databases to come
	// back, and checks them at Up).
	Recorded bool
}

// String is the drift as status.hosts[].drift shows it.
func (d Drift) String() string {
	if d.Recorded {
		return RecordedDriftPrefix + d.Subject + " " + d.What
	}
	return d.Subject + " " + d.What
}

// RecordedDriftPrefix starts an entry of status.hosts[].drift that is
// recorded only, not drift.
const RecordedDriftPrefix = "recorded: "

// DetectDrift says what, on a host the probe saw, is no longer as the
// intervention left it. It is pure and reads only the probe: the check
// changes nothing.
//
// While Down: a parked link back in startup (its component then runs, or
// will at the next runsvdir scan), and mysqld running on a Database host
// (drift with KeepStopped, else recorded). While Up: a restored link no
// longer in startup.
func DetectDrift(p *Probe, in DriftInput) []Drift {
	var out []Drift
	switch in.State {
	case diracv1.StateDown:
		for _, n := range sortedUnique(in.Parked) {
			if _, back := p.Startup[n]; !back {
				continue
			}
			what := "is back in startup"
			if p.State[n].Running {
				what = "is back in startup and runs"
			}
			out = append(out, Drift{Subject: n, What: what})
		}
		if in.Database && p.MysqldUp {
			out = append(out, Drift{Subject: "mysqld", What: "runs", Recorded: !in.KeepStopped})
		}
	case diracv1.StateUp:
		for _, n := range sortedUnique(in.Restored) {
			if _, ok := p.Startup[n]; !ok {
				out = append(out, Drift{Subject: n, What: "is no longer in startup"})
			}
		}
	}
	return out
}

// Drifted reports whether any of ds is drift, not only recorded.
func Drifted(ds []Drift) bool {
	return slices.ContainsFunc(ds, func(d Drift) bool { return !d.Recorded })
}

func sortedUnique(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
