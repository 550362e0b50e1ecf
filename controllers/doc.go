// Package controllers holds the VOBoxIntervention reconciler: it drives every
// host of an intervention through the ordered tiers of the DIRAC power-stop
// procedure over SSH and records what it did in the status.
//
// This package does the Kubernetes work: Reconcile, the per-pass scope, the
// hosts' Leases, the status and its conditions, events, metrics, and the
// wiring of the remote.Executor. The procedure itself (the plan, the decide
// functions, the catalogue of remote operations and their scripts, the
// parsing of what hosts report) lives in internal/procedure, which knows
// nothing of Kubernetes. Files are named by concern: the reconciler
// (voboxintervention_controller.go), the pass's scope and host contexts
// (scope.go), the tiers (tiers.go), one host's step (steps.go), the
// preflight (preflight.go), the Leases (leases.go), the status derivation
// (status.go) and the one bounded-parallel loop (parallel.go); a cycle's
// token (cycle.go), the operator-run reboot (reboot.go) and the rolling
// cycle (rolling.go).
//
// What it guarantees:
//
//   - Probe → act → verify. Every step reads the host's real state in one
//     round trip (procedure.OpProbe), decides with a pure function
//     (procedure.DecideStop, DecideStart, DecideStopDatabase,
//     DecideStartDatabase) and acts; the next probe verifies. A move's
//     operations run in the same session as the probe that verifies them
//     (procedure.Session), and that probe first waits on
//     the host for what they set off (a component to stop, runsvdir to pick
//     a link up), reading runsv's state with the shell's own read: one
//     round trip per move, not one per poll. Every decision is safe to take
//     twice, so the controller carries on after a crash at any point: the
//     hosts, not the status, are the source of truth.
//   - No startup link is lost. Before acting, the links of a host are
//     recorded on the host (a manifest in startup-save named after the
//     intervention's UID). Links move with mv -T into a name that does not
//     exist yet, never over one; a conflicting name stops the host with
//     StartupSaveConflict before anything moves. Up moves back exactly what
//     the manifest lists and removes it after the host's last start tier.
//   - Order. A tier starts only when the previous one is done: databases,
//     framework, services, agents on Up, the reverse on Down. Under Halt a
//     failed host stops the procedure before the next tier; under Continue it
//     takes no further part and maintenance is not cleared.
//   - One intervention per machine, cluster-wide (leases.go): a Lease per
//     machine (its normalized address and port, whatever the host is
//     called) in the lock namespace, held by the intervention (not the
//     process), taken in Lease-name order before its first connection and
//     held from Down through the reboot window to the end of Up. Another
//     intervention naming the machine waits with HostLocked and runs
//     nothing there.
//   - Desired state held (drift.go): a complete intervention probes its
//     hosts read-only every checks.driftInterval; driftPolicy Correct runs
//     a drifted host's tiers again, Report says Stalled. Boot ids are
//     recorded at Down (boot.go); checks.requireReboot holds Up until every
//     host booted again.
//   - Maintenance commands run at most once per host and direction, behind
//     a marker written on the host in the command's session.
//   - maxParallel bounds the hosts of a tier between first act and verified
//     end across passes; spec.suspend is read again before each host step
//     (batch.go). A new Secret retries hosts failed on a host key or
//     authentication (rotation.go).
//   - Commands are argv, never shell strings: the remote scripts are fixed
//     files (internal/procedure/scripts) and every value reaches them as a
//     positional parameter.
//   - Waiting happens on the host, at most HostWaitPerPass per pass, then
//     through RequeueAfter; every command is bounded by stepTimeout; the
//     status is patched once per pass (and after the maintenance tier, before
//     the next one acts) and only when it changed; an event is emitted per
//     condition transition.
//   - A reboot is sent at most once per host and cycle, and never lost:
//     the boot id and the mark "sent" are in the status before the command
//     runs, a marker on the host (written before it) makes sending it again
//     after a crash a no-op, and only a new boot id, read on a new
//     connection whose host key was verified, ends the wait.
package controllers
