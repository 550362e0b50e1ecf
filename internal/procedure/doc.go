// Package procedure is the DIRAC power-stop procedure without Kubernetes:
// the plan (BuildPlan, DescribePlan; a cycle's plan and the rolling order
// in cycle.go); the pure decide functions
// (DecideStop, DecideStart, DecideStopDatabase, DecideStartDatabase, and
// Preflight, which asks their questions before anything moves); the failure
// vocabulary (failure.go); the catalogue of remote operations (ops.go: per
// operation an OpName, a script of scripts/ embedded with go:embed, a typed
// builder, a parser and a display form); and the parsing of what hosts
// report (ParseProbe, ParseManifest, ParseFindings, SplitStepOutput).
//
// It imports no controller-runtime package, so that the controller, the
// kubectl plugin and the benchmarks share one definition of the procedure.
//
// What it guarantees:
//
//   - Every decision is pure and safe to take twice: given what a probe saw
//     on a host it says what to do next, so a controller that crashed
//     anywhere probes again and carries on.
//   - Commands are argv, never shell strings: the scripts are fixed files,
//     every value reaches them as a positional parameter, and an Op carries
//     the typed values it was built from, so nothing reads an argv back.
//   - What a probe cannot read is never taken for stopped: a host without
//     runit tools (runsvctrl/runsvstat where sites put them, else runit 2's
//     sv) fails with RunitToolsMissing before anything moves, a link whose
//     state is not read with ComponentStateUnknown (docs/dirac.md).
//   - A host-tier costs one SSH session where the procedure allows it: the
//     commands a decision queues run in the session of the probe that
//     verifies them (Session), and that probe first waits on the host for
//     what they set off (Wait); what the next decision would take once the
//     wait is met rides after it (Wait.After: parking the links stopped,
//     scanning the logs of the links started), verified by the same report.
//   - The scripts are POSIX sh, clean under shellcheck (make verify), and
//     their tests run them with dash and with bash against simulated hosts
//     (internal/hostsim).
package procedure
