package controllers

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// hostOutcome is what one pass of a step did on one host.
type hostOutcome struct {
	done bool
	wait time.Duration
	fail *procedure.Failure
}

// maxMovesPerPass bounds the probe → act rounds of one host in one pass, so
// that a host which keeps changing under us cannot hold a worker.
const maxMovesPerPass = 8

// runHostStep carries one host through one tier as far as it can go now:
// probe, decide, act, and probe again (the act and the next probe in one
// session, the probe first waiting on the host for what the act set off),
// until the step is done, must wait or fails. It only touches its own
// HostStatus, so hosts run in parallel.
func (r *VOBoxInterventionReconciler) runHostStep(ctx context.Context, s *scope, tier *procedure.Tier, hc *hostContext) hostOutcome {
	hs := hc.status
	ctx = log.IntoContext(ctx, hc.log.WithValues("step", tier.Condition))
	if hs.WaitingSince == nil {
		now := metav1.NewTime(s.now)
		hs.WaitingSince = &now
	}
	switch tier.Action {
	case procedure.ActionSetMaintenance, procedure.ActionClearMaintenance:
		return r.runMaintenance(ctx, s, tier, hc)
	}
	h := &hostStep{r: r, s: s, tier: tier, hc: hc, known: hc.takeFirstLook(),
		waitLeft: min(r.hostWaitPerPass(), s.vbi.Spec.Strategy.StepTimeout.Duration/2)}
	for range maxMovesPerPass {
		p, err := h.look(ctx)
		if err != nil {
			return failed(err)
		}
		d := r.decide(s, tier, h.hc, p, &h.state)
		if d.Warning != "" {
			s.warn(hc.name, d.Warning)
		}
		if d.Op != nil && d.Op.Name != procedure.OpCheckLogs {
			h.queue(d, p)
			continue
		}
		// Anything else reads or ends the step: what was decided runs first.
		if err := h.flush(ctx); err != nil {
			return failed(err)
		}
		switch {
		case d.Fail != nil:
			return h.fail(ctx, d)
		case d.Done:
			hs.SavedComponents = mergeNames(hs.SavedComponents, d.Saved)
			hs.ExcludedComponents = mergeNames(hs.ExcludedComponents, d.Excluded)
			return r.finishHostStep(ctx, s, tier, hc, p)
		case d.Wait > 0:
			if h.until = boundWait(d.Until, h.waitLeft, hostPollTick(len(tier.Hosts))); h.until == nil {
				return hostOutcome{wait: d.Wait}
			}
		case d.Op != nil:
			if f := h.scan(ctx, *d.Op, p); f != nil {
				return hostOutcome{fail: f}
			}
		}
	}
	if err := h.flush(ctx); err != nil {
		return failed(err)
	}
	return hostOutcome{wait: procedure.PollInterval}
}

// hostStep is one host's step within one pass: what it learned, and the
// commands decided but not yet sent, which ride with the next probe.
type hostStep struct {
	r    *VOBoxInterventionReconciler
	s    *scope
	tier *procedure.Tier
	hc   *hostContext

	state stepState
	// known is a probe still true: the moves since only read (a clean log
	// scan) or wrote the manifest it now shows. Deciding on it again spares
	// a round trip, which on a large fleet is what a tier is made of.
	known *procedure.Probe
	// queued are decided operations, run in the session of the next probe.
	queued []procedure.Op
	// until is what the next probe waits for on the host, within waitLeft.
	until    *procedure.Wait
	waitLeft time.Duration
	// stopQueued: a stop or kill is queued; stopTimeout counts from it.
	stopQueued bool
}

// look returns the host's state: the known probe, or a new probe that first
// runs the queued commands and waits for until.
func (h *hostStep) look(ctx context.Context) (*procedure.Probe, error) {
	if p := h.known; p != nil {
		h.known = nil
		return p, nil
	}
	started := h.r.Clock.Now()
	p, after, err := h.r.probeSession(ctx, h.s, h.tier, h.hc, h.queued, h.until)
	finished := h.r.Clock.Now()
	// A scan that rode in a session stands only for the decision on that
	// session's report: lines logged since are not in it.
	h.state.scannedAfter = nil
	for _, a := range after {
		if a.op.Name == procedure.OpCheckLogs && a.out.ExitCode == 0 {
			h.state.scannedAfter = &scanResult{items: a.op.Scan, findings: procedure.ParseFindings(a.out.Output)}
		}
	}
	if h.until != nil {
		h.waitLeft -= finished.Sub(started)
	}
	if h.stopQueued {
		h.state.stopRequestedAt = stopSentBy(started, finished, h.until)
	}
	h.queued, h.until, h.stopQueued = nil, nil, false
	return p, err
}

// stopSentBy is when stopTimeout counts from for a stop (or kill) sent in a
// session from started to finished, before a wait on the host for until:
// never before the host got it. Without a wait that is the session's end.
// With one, the session's end less the wait's budget: when the host waited
// it out (a component still runs) the stop was sent before that; when the
// wait ended sooner, every component had stopped and nothing is killed.
func stopSentBy(started, finished time.Time, until *procedure.Wait) time.Time {
	if until == nil {
		return finished
	}
	return later(started, finished.Add(-until.For))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// queue takes a procedure.Decision's commands: they run with the next probe, which
// waits for what they set off (d.Then).
func (h *hostStep) queue(d procedure.Decision, p *procedure.Probe) {
	hs := h.hc.status
	hs.KilledComponents = mergeNames(hs.KilledComponents, d.Killed)
	h.queued = append(h.queued, *d.Op)
	if d.Next != nil {
		h.queued = append(h.queued, *d.Next)
	}
	h.until = boundWait(d.Then, h.waitLeft, hostPollTick(len(h.tier.Hosts)))
	switch d.Op.Name {
	case procedure.OpRecordManifest:
		p.Manifest, h.known = d.Op.Manifest, p
	case procedure.OpStopComponents, procedure.OpKillComponents:
		h.stopQueued = true
	case procedure.OpStopDatabase, procedure.OpStartDatabase:
		h.state.tried = true
	}
}

// flush runs the queued commands now, in one session, without a probe.
func (h *hostStep) flush(ctx context.Context) error {
	queued := h.queued
	h.queued = nil
	switch len(queued) {
	case 0:
		return nil
	case 1:
		_, err := h.r.act(ctx, h.s, h.hc, h.hc.target, queued[0])
		return err
	}
	started := metav1.NewTime(h.r.Clock.Now())
	res, err := h.r.run(ctx, h.s, h.hc.target, procedure.Session(queued, nil, nil, 0))
	_, err = h.r.recordQueued(ctx, h.s, h.hc, queued, nil, started, res, err)
	return err
}

// fail ends the step with d's procedure.Failure, with the log lines that explain it
// when d asks for a scan.
func (h *hostStep) fail(ctx context.Context, d procedure.Decision) hostOutcome {
	if len(d.Scan) > 0 {
		spec := &h.s.vbi.Spec
		op := procedure.CheckLogs(spec.Layout.DiracRoot, procedure.LogCheck{Levels: spec.Checks.ErrorLevels, Patterns: spec.Checks.ErrorPatterns}, d.Scan)
		if findings, err := h.r.scanLogs(ctx, h.s, h.hc, op); err == nil && len(findings) > 0 {
			h.hc.status.Findings = findings
			d.Fail.Message += "; log: " + strings.Join(findings, " | ")
		}
	}
	return hostOutcome{fail: d.Fail}
}

// scan runs the log scan op, unless the scan that rode in the session of
// the probe p stands for it (procedure.ScanCovers); the probe stays true
// (a scan only reads). It returns the procedure.Failure when the scan fails
// or finds errors.
func (h *hostStep) scan(ctx context.Context, op procedure.Op, p *procedure.Probe) *procedure.Failure {
	var findings []string
	if done := h.state.scannedAfter; done != nil && procedure.ScanCovers(done.items, op.Scan) {
		findings = lastFindings(done.findings)
	} else {
		var err error
		if findings, err = h.r.scanLogs(ctx, h.s, h.hc, op); err != nil {
			return procedure.FailureOf(err)
		}
	}
	h.state.scanned = true
	if len(findings) > 0 {
		h.hc.status.Findings = findings
		return &procedure.Failure{Reason: diracv1.ReasonErrorsInLog, Terminal: true,
			Message: fmt.Sprintf("host %s: %d log line(s) at spec.checks.errorLevels or matching errorPatterns: %s", h.hc.name, len(findings), strings.Join(findings, " | "))}
	}
	h.known = p
	return nil
}

// DefaultHostWaitPerPass bounds how long one pass waits on a host (in its
// probes) for a change, by default (--host-wait-per-pass): a pass holds its
// worker, and the status is written at the end of a pass, so people see
// progress at least this often (plus the pass's sessions). Shorter means a
// fresher status and more SSH sessions: a start waits for runsvdir's 5 s
// rescan and componentUptime, a stop for an agent's cycle, and a wait that
// outlasts a pass costs the host one more session (docs/benchmarks-sim.md).
const DefaultHostWaitPerPass = 5 * time.Second

// hostWaitPerPass is HostWaitPerPass, or its default when unset.
func (r *VOBoxInterventionReconciler) hostWaitPerPass() time.Duration {
	if r.HostWaitPerPass <= 0 {
		return DefaultHostWaitPerPass
	}
	return r.HostWaitPerPass
}

// hostPollTick is how often a waiting probe looks at runit's state on the
// host. Looking costs the host a fork of sleep: 50 ms follows a change
// closely; a tier of many hosts looks less often (up to 250 ms, the
// controller's own poll), so that hosts sharing CPU (a lab, VMs on one
// hypervisor) are not kept busy by the looking.
func hostPollTick(hosts int) time.Duration {
	return min(max(time.Duration(hosts)*2*time.Millisecond, 50*time.Millisecond), procedure.PollInterval)
}

// boundWait returns w bounded by what is left of the pass's wait, or nil
// when a wait on the host is not worth a probe of its own.
func boundWait(w *procedure.Wait, left, tick time.Duration) *procedure.Wait {
	if w == nil {
		return nil
	}
	b := *w
	b.For = min(b.For, left)
	if b.For < tick {
		return nil
	}
	return &b
}

// ranInThisStep reports whether the host's last command is one of steps and
// ran in its current step (not in a tier or plan before, whose last command
// may have the same name).
func ranInThisStep(hs *diracv1.HostStatus, steps ...procedure.OpName) bool {
	return hs.LastStep != nil && slices.Contains(steps, procedure.OpName(hs.LastStep.Name)) &&
		hs.WaitingSince != nil && hs.LastStep.StartedAt != nil && !hs.LastStep.StartedAt.Before(hs.WaitingSince)
}

// stepState is what a step learned earlier in this pass.
type stepState struct {
	// stopRequestedAt is when runsvctrl d (or k) was last sent in this pass.
	stopRequestedAt time.Time
	tried           bool
	scanned         bool
	// scannedAfter is the log scan that rode in the session of the probe
	// being decided on, if one did.
	scannedAfter *scanResult
}

// scanResult is a log scan done: what it scanned and what it found.
type scanResult struct {
	items    []procedure.ScanItem
	findings []string
}

// decide dispatches a probe to the decide function of the tier's action.
func (r *VOBoxInterventionReconciler) decide(s *scope, tier *procedure.Tier, hc *hostContext, p *procedure.Probe, st *stepState) procedure.Decision {
	spec := &s.vbi.Spec
	h := hc.spec
	hs := hc.status
	// Measured now, not at the pass's start: a pass may wait on the host.
	elapsed := r.Clock.Now().Sub(hs.WaitingSince.Time)
	in := procedure.ComponentsInput{
		Host: hc.name, Root: spec.Layout.DiracRoot, ManifestName: procedure.ManifestName(string(s.vbi.UID)),
		Roles: h.Roles, Classes: procedure.ClassesFor(tier.Action, h.Roles), Exclude: h.Exclude,
		// runsvctrl d was sent in this step when it is the last thing done on
		// the host: a step always parks its links before it is done.
		StopRequested: !st.stopRequestedAt.IsZero() || ranInThisStep(hs, procedure.OpStopComponents, procedure.OpKillComponents),
		Elapsed:       elapsed, StopTimeout: spec.Strategy.StopTimeout.Duration, StepTimeout: spec.Strategy.StepTimeout.Duration,
		Uptime: spec.Checks.ComponentUptime.Duration, SavedInStatus: hs.SavedComponents, Scanned: st.scanned,
		Patterns: spec.Checks.ErrorPatterns, Levels: spec.Checks.ErrorLevels, ScanFrom: scanFrom(s, hc),
		StartFirst: spec.Checks.StartFirst, StartLast: spec.Checks.StartLast,
	}
	// stopTimeout counts from the last stop (or kill) request, not from the
	// step's start: recording the manifest may take a while on a busy host.
	if tier.Action == procedure.ActionStopAgents || tier.Action == procedure.ActionStopServices {
		switch {
		case !st.stopRequestedAt.IsZero():
			in.Elapsed = r.Clock.Now().Sub(st.stopRequestedAt)
		case in.StopRequested:
			// Status times are whole seconds: count from the latest moment
			// the request can have been sent.
			in.Elapsed = r.Clock.Now().Sub(hs.LastStep.StartedAt.Add(time.Second))
		}
	}
	db := procedure.DatabaseInput{Host: hc.name, Root: spec.Layout.DiracRoot, MysqlServer: spec.Layout.MysqlServer,
		Service: procedure.DatabaseServiceFor(spec, hc.name), Elapsed: elapsed,
		StepTimeout: spec.Strategy.StepTimeout.Duration, Tried: st.tried}
	// A start or stop sent in an earlier pass of this step is waited for,
	// not sent again.
	switch tier.Action {
	case procedure.ActionStopDatabase:
		// MoveJournal rides with the stop, and runs only after one.
		db.Tried = db.Tried || ranInThisStep(hs, procedure.OpStopDatabase, procedure.OpMoveJournal)
	case procedure.ActionStartDatabase:
		db.Tried = db.Tried || ranInThisStep(hs, procedure.OpStartDatabase)
	}
	switch tier.Action {
	case procedure.ActionStopAgents, procedure.ActionStopServices:
		return procedure.DecideStop(p, in)
	case procedure.ActionStartServices, procedure.ActionStartAgents:
		return procedure.DecideStart(p, in)
	case procedure.ActionStopDatabase:
		db.JournalFrom, db.JournalTo = procedure.JournalMove(spec, hc.name)
		return procedure.DecideStopDatabase(p, db)
	case procedure.ActionStartDatabase:
		return procedure.DecideStartDatabase(p, db)
	}
	return procedure.Decision{Fail: &procedure.Failure{Reason: diracv1.ReasonCommandFailed, Terminal: true, Message: "unknown action " + string(tier.Action)}}
}

// startedAt is when the procedure for the current state started.
func startedAt(vbi *diracv1.VOBoxIntervention) time.Time {
	if vbi.Status.StartedAt == nil {
		return time.Time{}
	}
	return vbi.Status.StartedAt.Time
}

// finishHostStep runs the clean-up a finished step needs: after a host's last
// start tier, its manifest is removed (its links are all back), in the
// session of the maintenance clear where that runs on the host. p, the
// probe the step finished on, is the first look of the host's next tier.
func (r *VOBoxInterventionReconciler) finishHostStep(ctx context.Context, s *scope, tier *procedure.Tier, hc *hostContext, p *procedure.Probe) hostOutcome {
	if (tier.Action == procedure.ActionStartServices || tier.Action == procedure.ActionStartAgents) &&
		procedure.LastStartTier(tier.Action, tier.Condition, hc.spec.Roles) && p.Manifest != nil && !procedure.ClearRemovesManifest(&s.vbi.Spec) {
		if _, err := r.act(ctx, s, hc, hc.target, removeManifest(s)); err != nil {
			return failed(err)
		}
		p.Manifest = nil
	}
	hc.firstLook = p
	return hostOutcome{done: true}
}

// removeManifest is the removal of the intervention's manifest.
func removeManifest(s *scope) procedure.Op {
	return procedure.RemoveManifest(path.Join(s.vbi.Spec.Layout.DiracRoot, "startup-save"), procedure.ManifestName(string(s.vbi.UID)))
}

// runMaintenance runs the set or clear template for one host, on that host
// or on spec.maintenance.runOn.
func (r *VOBoxInterventionReconciler) runMaintenance(ctx context.Context, s *scope, tier *procedure.Tier, hc *hostContext) hostOutcome {
	spec := &s.vbi.Spec
	template, op := spec.Maintenance.Set, procedure.OpSetMaintenance
	if tier.Action == procedure.ActionClearMaintenance {
		template, op = spec.Maintenance.Clear, procedure.OpClearMaintenance
	}
	on := hc.name
	if spec.Maintenance.RunOn != "" {
		on = spec.Maintenance.RunOn
	}
	// At most once per host and direction, even when this process is killed
	// between the command and the status write: a marker on the host that
	// runs it, written in the same session, is looked at first.
	once := procedure.MaintenanceOnce(procedure.Maintenance(op, template, hc.name, spec.Reason),
		path.Join(spec.Layout.DiracRoot, "startup-save"), string(s.vbi.UID), hc.name)
	var out []byte
	if op == procedure.OpClearMaintenance && procedure.ClearRemovesManifest(&s.vbi.Spec) && procedure.ParksLinks(hc.spec) {
		// The manifest's removal, deferred from the last start tier: its
		// links are all back.
		started := metav1.NewTime(r.Clock.Now())
		ops := []procedure.Op{removeManifest(s), once}
		res, err := r.run(ctx, s, hc.target, procedure.Session(ops, nil, nil, 0))
		if _, err := r.recordQueued(ctx, s, hc, ops, nil, started, res, err); err != nil {
			return failed(err)
		}
		outs, _ := procedure.SplitStepOutput(res.Stdout)
		out = outs[1].Output
	} else {
		res, err := r.act(ctx, s, hc, s.target(on), once)
		if err != nil {
			return failed(err)
		}
		out = res.Stdout
	}
	if !procedure.ParseMaintenance(out) {
		hc.log.Info("Maintenance command already ran for this host (its marker is there): not run again", "command", op, "on", on)
	}
	return hostOutcome{done: true}
}

// probe runs the probe on a host, after the queued operations (in the same
// session) and a wait there for until (when not nil).
func (r *VOBoxInterventionReconciler) probe(ctx context.Context, s *scope, tier *procedure.Tier, hc *hostContext, queued []procedure.Op, until *procedure.Wait) (*procedure.Probe, error) {
	p, _, err := r.probeSession(ctx, s, tier, hc, queued, until)
	return p, err
}

// ranOp is an operation that ran in a probe's session, with its output.
type ranOp struct {
	op  procedure.Op
	out procedure.CommandOutput
}

// probeSession is probe, and what ran of until's After, with its outputs.
func (r *VOBoxInterventionReconciler) probeSession(ctx context.Context, s *scope, tier *procedure.Tier, hc *hostContext, queued []procedure.Op, until *procedure.Wait) (*procedure.Probe, []ranOp, error) {
	spec := &s.vbi.Spec
	args := procedure.ProbeArgs{Root: spec.Layout.DiracRoot, Manifest: procedure.ManifestName(string(s.vbi.UID)), RunitBin: spec.Layout.RunitBin}
	// A database host's probe reads the database in every tier, so that
	// one tier's last probe is a whole first look for the next.
	if slices.Contains(hc.spec.Roles, diracv1.RoleDatabase) {
		args.MysqlServer = spec.Layout.MysqlServer
		if svc := procedure.DatabaseServiceFor(spec, hc.name); svc != nil {
			// A system database: asked whether it answers, no mysql.server.
			args.MysqlServer, args.Ready = "", svc.Ready
		}
		args.JournalFrom, args.JournalTo = procedure.JournalMove(spec, hc.name)
	}
	tick := hostPollTick(len(tier.Hosts))
	op := procedure.ProbeOp(args, until, tick)
	if len(queued) > 0 {
		op = procedure.Session(queued, &args, until, tick)
	}
	var after []procedure.Op
	if until != nil {
		after = until.After
	}
	started := metav1.NewTime(r.Clock.Now())
	res, err := r.run(ctx, s, hc.target, op)
	var ran []ranOp
	if len(queued)+len(after) > 0 {
		outs, _ := procedure.SplitStepOutput(res.Stdout)
		for i := len(queued); i < len(outs) && i-len(queued) < len(after); i++ {
			ran = append(ran, ranOp{op: after[i-len(queued)], out: outs[i]})
		}
		if res.Stdout, err = r.recordQueued(ctx, s, hc, queued, after, started, res, err); err != nil {
			return nil, nil, err
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if res.ExitCode != 0 {
		return nil, nil, &procedure.Failure{Reason: diracv1.ReasonCommandFailed,
			Message: fmt.Sprintf("host %s: probe exited %d: %s", hc.name, res.ExitCode, procedure.Tail(string(res.Stderr), 300))}
	}
	p, err := procedure.ParseProbe(res.Stdout)
	if err != nil {
		return nil, nil, &procedure.Failure{Reason: diracv1.ReasonCommandFailed, Message: fmt.Sprintf("host %s: %v", hc.name, err)}
	}
	noteBoot(hc, p)
	return p, ran, nil
}

// scanLogs runs the log scan and returns the findings.
func (r *VOBoxInterventionReconciler) scanLogs(ctx context.Context, s *scope, hc *hostContext, op procedure.Op) ([]string, error) {
	res, err := r.act(ctx, s, hc, hc.target, op)
	if err != nil {
		return nil, err
	}
	return lastFindings(procedure.ParseFindings(res.Stdout)), nil
}

// lastFindings keeps a scan's last 16 findings.
func lastFindings(findings []string) []string {
	if len(findings) > 16 {
		findings = findings[len(findings)-16:]
	}
	return findings
}

// recordQueued records the operations a session ran before its probe, as act
// does for one command, and returns the probe's share of the output: the
// queued ones, then those of the probe's wait (Wait.After), which run only
// when the wait was met, so that one without output did not run. The first
// command that did not exit 0, or (queued) did not report (the session
// failed before it), is the error; a session that failed after them (in the
// probe) gives its error with the commands recorded.
func (r *VOBoxInterventionReconciler) recordQueued(ctx context.Context, s *scope, hc *hostContext, queued, after []procedure.Op, started metav1.Time, res remote.Result, runErr error) ([]byte, error) {
	outs, rest := procedure.SplitStepOutput(res.Stdout)
	target := hc.target
	for i, op := range append(slices.Clip(queued), after...) {
		if i >= len(outs) && i >= len(queued) {
			break // the wait was not met: not run
		}
		if i >= len(outs) {
			err := runErr
			if err == nil {
				err = &procedure.Failure{Reason: diracv1.ReasonCommandFailed, Message: fmt.Sprintf("host %s: %s did not report its exit status (the session exited %d): %s",
					hc.name, op.Name, res.ExitCode, procedure.Tail(strings.TrimSpace(string(res.Stderr)), 300))}
			}
			return nil, r.recordStep(ctx, s, hc, target, op, started, remote.Result{ExitCode: -1, Duration: res.Duration}, err)
		}
		one := remote.Result{Stdout: outs[i].Output, ExitCode: outs[i].ExitCode, Duration: res.Duration}
		if err := r.recordStep(ctx, s, hc, target, op, started, one, nil); err != nil {
			return nil, err
		}
	}
	return rest, runErr
}

// act runs a command that changes (or checks) a host, records it as the
// host's last step, logs it, and turns a non-zero exit into a procedure.Failure.
func (r *VOBoxInterventionReconciler) act(ctx context.Context, s *scope, hc *hostContext, target remote.Target, op procedure.Op) (remote.Result, error) {
	started := metav1.NewTime(r.Clock.Now())
	res, err := r.run(ctx, s, target, op)
	return res, r.recordStep(ctx, s, hc, target, op, started, res, err)
}

// recordStep records a command that ran as the host's last step, logs it,
// and returns its error, or a procedure.Failure for a non-zero exit.
func (r *VOBoxInterventionReconciler) recordStep(ctx context.Context, s *scope, hc *hostContext, target remote.Target, op procedure.Op, started metav1.Time, res remote.Result, err error) error {
	hs := hc.status
	finished := metav1.NewTime(r.Clock.Now())
	step := string(op.Name)
	last := &diracv1.StepStatus{Name: step, Command: op.Display(), StartedAt: &started, FinishedAt: &finished}
	if err == nil {
		code := int32(res.ExitCode)
		last.ExitCode = &code
		last.Output = procedure.Tail(strings.TrimSpace(string(res.Stdout)+"\n"+string(res.Stderr)), 2048)
	} else {
		last.Output = procedure.Tail(err.Error(), 2048)
	}
	hs.LastStep = last
	log.FromContext(ctx).Info("Ran step", "on", target.Name, "command", step, "exitCode", res.ExitCode, "duration", res.Duration, "error", errString(err))
	r.Metrics.observeStep(step, finished.Sub(started.Time), err == nil && res.ExitCode == 0)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		msg := res.Stderr
		if len(msg) == 0 {
			msg = res.Stdout // stepScript merges a command's stderr into its output
		}
		return &procedure.Failure{Reason: diracv1.ReasonCommandFailed,
			Message: fmt.Sprintf("host %s: %s exited %d: %s", target.Name, step, res.ExitCode, procedure.Tail(strings.TrimSpace(string(msg)), 300))}
	}
	return nil
}

// run runs one operation bounded by stepTimeout.
func (r *VOBoxInterventionReconciler) run(ctx context.Context, s *scope, target remote.Target, op procedure.Op) (remote.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.vbi.Spec.Strategy.StepTimeout.Duration)
	defer cancel()
	s.countCommand(target.Name)
	res, err := r.Executor.Run(ctx, target, op.Argv)
	if err != nil {
		return res, fmt.Errorf("failed to run %s on host %s: %w", op.Program(), target.Name, err)
	}
	return res, nil
}

// failed is the outcome of a host whose command could not run.
func failed(err error) hostOutcome { return hostOutcome{fail: procedure.FailureOf(err)} }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// mergeNames adds names to a sorted set.
func mergeNames(set []string, add []string) []string {
	for _, n := range add {
		if !slices.Contains(set, n) {
			set = append(set, n)
		}
	}
	slices.Sort(set)
	return set
}
