package main

import (
	"path"
	"slices"
	"time"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote/sim"
)

// The ideal schedule of one intervention, from the latencies the simulator
// drew: max over hosts of the handshake, then for each tier the max over its
// hosts of the tier's work plus one RTT. No orchestrator can beat it: it
// talks to every host at once, sends each host's tier in one message and
// learns at once that it is done. The work of a tier on a host:
//   - maintenance: the command's own time;
//   - stopping components: the longest time one of the tier's links took to
//     exit once told (the drawn time the simulator used: a service's exit,
//     an agent's rest of cycle);
//   - stopping or starting mysqld: the time the simulator drew for it;
//   - starting components: runsvdir's next scan after the tier starts (the
//     links are restored at once) plus componentUptime, which the check
//     needs before it can say they stay up; for each start group in turn
//     (spec.checks.startFirst, the others, startLast);
//   - starting agents after an earlier tier: spec.checks.settleDelay first,
//     which the procedure waits for the services to settle.
//
// An Up reuses the Down's connections (the simulator keeps them), so its
// ideal has no handshake.

// tierIdeal is one tier's ideal duration.
type tierIdeal struct {
	condition string
	seconds   float64
}

func ideal(s *sim.Sim, g *group, plan procedure.Plan, start time.Time, model sim.Model) (float64, []tierIdeal) {
	var t time.Duration
	if plan.State == diracv1.StateDown {
		for _, h := range g.hosts {
			t = max(t, s.Host(h.name).Handshake())
		}
	}
	// stopped: links already taken down by an earlier tier of the plan.
	stopped := map[string]bool{}
	restored := map[string]bool{}
	var tiers []tierIdeal
	for _, tier := range plan.Tiers {
		if tier.Skipped || len(tier.Hosts) == 0 {
			continue
		}
		var w time.Duration
		if tier.Action == procedure.ActionStartAgents && len(tiers) > 0 {
			t += settleDelay
		}
		for _, name := range tier.Hosts {
			h := g.host(name)
			sh := s.Host(name)
			work := model.Exec
			switch tier.Action {
			case procedure.ActionStopAgents, procedure.ActionStopServices:
				delays := sh.StopDelays()
				classes := procedure.ClassesFor(tier.Action, h.roles)
				for _, c := range h.comps {
					if stopped[name+"/"+c.Link] || !slices.Contains(classes, procedure.Classify(h.roles, c.Agent)) {
						continue
					}
					stopped[name+"/"+c.Link] = true
					work = max(work, delays[c.Link])
				}
			case procedure.ActionStopDatabase:
				_, stop := sh.MysqldTimes()
				work += stop
			case procedure.ActionStartDatabase:
				st, _ := sh.MysqldTimes()
				work += st
			case procedure.ActionStartServices, procedure.ActionStartAgents:
				// Each start group (startFirst, the others, startLast) is
				// restored once the one before it is up for componentUptime.
				classes := procedure.ClassesFor(tier.Action, h.roles)
				var groups [3]bool
				for _, c := range h.comps {
					if restored[name+"/"+c.Link] || !slices.Contains(classes, procedure.Classify(h.roles, c.Agent)) {
						continue
					}
					restored[name+"/"+c.Link] = true
					groups[startGroup(c.Link)] = true
				}
				at := start.Add(t)
				for _, g := range groups {
					if g {
						at = sh.NextRescan(at).Add(componentUptime)
					}
				}
				work = max(work, at.Sub(start.Add(t)))
			}
			w = max(w, work+sh.RTT())
		}
		t += w
		if tier.Action == procedure.ActionStartAgents && len(tiers) > 0 {
			w += settleDelay
		}
		tiers = append(tiers, tierIdeal{condition: tier.Condition, seconds: w.Seconds()})
	}
	return t.Seconds(), tiers
}

// startGroup is the start group of a link under the default
// spec.checks.startFirst and startLast: 0 first, 1 the others, 2 last.
func startGroup(link string) int {
	if ok, _ := path.Match("Configuration_*", link); ok {
		return 0
	}
	if link == "Framework_SystemAdministrator" {
		return 2
	}
	return 1
}

func (g *group) host(name string) *host {
	for _, h := range g.hosts {
		if h.name == name {
			return h
		}
	}
	return nil
}
