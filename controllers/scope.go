package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/log"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
	"github.com/vobox-operator/vobox-operator/internal/schedule"
)

// scope is everything one reconcile pass knows about one intervention. Steps
// read the spec from it and write what they saw into it; the status is
// derived from it once, at the end of the pass.
type scope struct {
	vbi *diracv1.VOBoxIntervention
	// original is the intervention as last read or written: the status
	// patch is the difference from it.
	original *diracv1.VOBoxIntervention
	plan     procedure.Plan
	now      time.Time
	// written is when the status was last written in this pass (or the
	// pass's start).
	written time.Time
	creds   *remote.Credentials

	// blocked says why nothing may run this pass (Secret, lock, suspend),
	// or, when not terminal, what it waits for (a Lease, the schedule, an
	// approval).
	blocked *procedure.Failure
	// window is the schedule's verdict for this pass (checkSchedule).
	window *schedule.Decision
	// lockHolders names the interventions holding our hosts' Leases.
	lockHolders []string
	// hosts are the hosts' contexts for this pass (resolveHosts).
	hosts map[string]*hostContext
	// requeue is the shortest wait any step asked for.
	requeue time.Duration
	// suspend is spec.suspend as read again during the pass (batch.go).
	suspend suspendCheck

	mu       sync.Mutex
	warnings map[string]string
	commands int
}

// hostContext is one host as a pass works it, resolved once per pass: its
// spec, its status entry, where and as whom to reach it, and a logger that
// names it.
type hostContext struct {
	name   string
	spec   *diracv1.HostSpec
	status *diracv1.HostStatus
	target remote.Target
	log    logr.Logger
	// bootID is the boot id this pass's last probe of the host saw (boot.go).
	bootID string
	// firstLook is the last probe of the host in this pass, when nothing
	// ran there since: the preflight's, or the one on which the host
	// finished its last tier. It is the first look of the host's next
	// tier, instead of a probe of its own; decisions on it are verified by
	// the probe that follows them.
	firstLook *procedure.Probe
}

// takeFirstLook returns the first look once, or nil; never one of an
// earlier boot than this pass last saw (a reboot tier ran since).
func (hc *hostContext) takeFirstLook() *procedure.Probe {
	p := hc.firstLook
	hc.firstLook = nil
	if p != nil && p.BootID != hc.bootID {
		return nil
	}
	return p
}

// resolveHosts builds the pass's host contexts, once every host has a
// status entry (ensureHostStatuses) and the credentials are loaded; again
// after a status write, which may replace the status's entries.
func (s *scope) resolveHosts(ctx context.Context) {
	logger := log.FromContext(ctx)
	statuses := s.statusIndex()
	hosts := make(map[string]*hostContext, len(s.vbi.Spec.Hosts))
	for i := range s.vbi.Spec.Hosts {
		h := &s.vbi.Spec.Hosts[i]
		name := h.Name
		hosts[name] = &hostContext{name: name, spec: h, status: statuses[name],
			target: s.targetOf(name, h), log: logger.WithValues("host", name)}
		if old := s.hosts[name]; old != nil {
			hosts[name].firstLook, hosts[name].bootID = old.firstLook, old.bootID
		}
	}
	s.hosts = hosts
}

// host returns the context of a listed host.
func (s *scope) host(name string) *hostContext { return s.hosts[name] }

// hostSpec returns the spec of a listed host.
func (s *scope) hostSpec(name string) *diracv1.HostSpec {
	for i := range s.vbi.Spec.Hosts {
		if s.vbi.Spec.Hosts[i].Name == name {
			return &s.vbi.Spec.Hosts[i]
		}
	}
	return nil
}

// hostStatus returns the status of a listed host; ensureHostStatuses made one
// for every host, so it is never nil for a listed host.
func (s *scope) hostStatus(name string) *diracv1.HostStatus {
	for i := range s.vbi.Status.Hosts {
		if s.vbi.Status.Hosts[i].Name == name {
			return &s.vbi.Status.Hosts[i]
		}
	}
	return nil
}

// statusIndex maps each host's name to its status entry: one pass over the
// entries, where a lookup each would scan them (256 hosts: 65,536 compares
// per pass).
func (s *scope) statusIndex() map[string]*diracv1.HostStatus {
	out := make(map[string]*diracv1.HostStatus, len(s.vbi.Status.Hosts))
	for i := range s.vbi.Status.Hosts {
		if _, dup := out[s.vbi.Status.Hosts[i].Name]; !dup {
			out[s.vbi.Status.Hosts[i].Name] = &s.vbi.Status.Hosts[i]
		}
	}
	return out
}

// ensureHostStatuses makes a status entry for every host, in spec order.
func (s *scope) ensureHostStatuses() {
	statuses := s.statusIndex()
	out := make([]diracv1.HostStatus, 0, len(s.vbi.Spec.Hosts))
	for _, h := range s.vbi.Spec.Hosts {
		if hs := statuses[h.Name]; hs != nil {
			out = append(out, *hs)
		} else {
			out = append(out, diracv1.HostStatus{Name: h.Name, Phase: diracv1.HostPending})
		}
	}
	s.vbi.Status.Hosts = out
}

// target returns where and as whom to run commands on a host.
func (s *scope) target(name string) remote.Target {
	return s.targetOf(name, s.hostSpec(name))
}

// targetOf is target for a host whose spec (nil when not listed) is known.
func (s *scope) targetOf(name string, h *diracv1.HostSpec) remote.Target {
	spec := &s.vbi.Spec
	t := remote.Target{
		Name: name, Address: name, Port: int(spec.SSH.Port), User: spec.SSH.User,
		ConnectTimeout: spec.SSH.ConnectTimeout.Duration, Credentials: s.creds,
	}
	if h == nil {
		return t
	}
	if h.Address != "" {
		t.Address = h.Address
	}
	if h.Port != nil {
		t.Port = int(*h.Port)
	}
	return t
}

// maxParallel is how many of n hosts may be worked at once
// (spec.strategy.maxParallel, 0 for all).
func (s *scope) maxParallel(n int) int {
	limit := int(s.vbi.Spec.Strategy.MaxParallel)
	if limit <= 0 || limit > n {
		limit = n
	}
	return max(limit, 1)
}

// warn records a warning about a host; it is shown once in its message.
func (s *scope) warn(host, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.warnings == nil {
		s.warnings = map[string]string{}
	}
	s.warnings[host] = msg
}

// countCommand counts the commands of this pass (for the log and metrics).
func (s *scope) countCommand(string) {
	s.mu.Lock()
	s.commands++
	s.mu.Unlock()
}

// requeueAfter keeps the shortest positive wait.
func (s *scope) requeueAfter(d time.Duration) {
	if d <= 0 {
		return
	}
	if s.requeue == 0 || d < s.requeue {
		s.requeue = d
	}
}
