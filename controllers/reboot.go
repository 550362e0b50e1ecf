package controllers

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// The operator-run reboot (spec.reboot, the Rebooted tier of a cycle):
//
//  1. Mark. The host's boot id is read (a probe) and recorded in
//     status.hosts[].bootID with the reboot command as its last step,
//     started and not finished: "reboot sent". The status is written
//     before anything is sent, so that an operator that crashes from here
//     on never sends the command twice.
//  2. Send. spec.reboot.command runs; the session dropping under it (ssh's
//     exit 255, a lost connection) is the expected outcome. The pooled
//     connection to the boot that ends is dropped (remote.Disconnector).
//  3. Wait. Each pass probes the host on a new connection, whose host key
//     is verified against the pinned known_hosts: another key is
//     HostKeyMismatch and runs nothing. The same boot id means the host has
//     not gone down yet; a new one means it is back: rebootedAt is
//     recorded and the host goes on. No new boot id within
//     spec.reboot.timeout of the send fails the host with RebootTimeout,
//     and nothing further runs on it.
//
// On resume after a crash, a host marked "reboot sent" whose send was not
// recorded as done is sent it again, through scripts/reboot.sh: a marker
// on the host, named after the boot id and the mark, written before the
// command runs and kept across the reboot, makes that a no-op when the
// host got it. A host whose send was recorded is only waited for. A reboot
// is therefore sent at most once per mark, and never lost to a crash.

// stepRebootNotSent names, in status.hosts[].lastStep, a reboot command
// that was marked as sent and could not start (no connection): not
// rebootSent, so the next pass sends it.
const stepRebootNotSent = "RebootNotSent"

// rebootPollInterval is how often a rebooting host is looked at.
const rebootPollInterval = 2 * time.Second

// rebootSent reports whether the reboot command was sent (or marked as
// about to be sent) in the host's current step.
func rebootSent(hs *diracv1.HostStatus) bool {
	return ranInThisStep(hs, procedure.OpReboot)
}

// runRebootTier works the hosts of a Rebooted tier (all of them for a
// cycle, one batch's for a rolling cycle) as far as they go in this pass.
// It writes the status between marking and sending, so the host contexts
// and the status's tiers must be looked up again after it.
func (r *VOBoxInterventionReconciler) runRebootTier(ctx context.Context, s *scope, tier *procedure.Tier, hosts []string) error {
	spec := &s.vbi.Spec
	var mark, resend, wait []string
	for _, name := range hosts {
		if !hostNeedsWork(s, tier, name) {
			continue
		}
		hs := s.host(name).status
		if hs.WaitingSince == nil {
			now := metav1.NewTime(s.now)
			hs.WaitingSince = &now
		}
		switch {
		case !rebootSent(hs):
			mark = append(mark, name)
		case hs.LastStep.FinishedAt == nil && r.Clock.Now().Before(hs.LastStep.StartedAt.Add(spec.Reboot.Timeout.Duration)):
			// Marked, and the pass that sent it (if it did) did not get to
			// write so: send it again, which the host's marker makes a
			// no-op if it got it.
			resend = append(resend, name)
		default:
			wait = append(wait, name)
		}
	}

	// 1. Mark: read each boot id; record it with the "sent" mark.
	var marked []string
	fails := make([]*procedure.Failure, len(mark))
	probes := make([]*procedure.Probe, len(mark))
	_ = inParallel(len(mark), s.maxParallel(len(mark)), func(i int) error {
		p, err := r.probe(ctx, s, tier, s.host(mark[i]), nil, nil)
		if err != nil {
			fails[i] = procedure.FailureOf(err)
		}
		probes[i] = p
		return nil
	})
	for i, name := range mark {
		hc := s.host(name)
		switch {
		case fails[i] != nil:
			r.applyOutcome(ctx, s, tier, name, hostOutcome{fail: fails[i]})
		case probes[i].BootID == "":
			r.applyOutcome(ctx, s, tier, name, hostOutcome{fail: &procedure.Failure{Reason: diracv1.ReasonCommandFailed, Terminal: true,
				Message: fmt.Sprintf("host %s has no /proc/sys/kernel/random/boot_id: the operator cannot tell that it rebooted", name)}})
		default:
			hs := hc.status
			now := metav1.NewTime(r.Clock.Now())
			hs.BootID, hs.Rebooted, hs.RebootedAt = probes[i].BootID, false, nil
			hs.LastStep = &diracv1.StepStatus{Name: string(procedure.OpReboot), StartedAt: &now}
			hs.LastStep.Command = rebootOp(s, hc).Display()
			hs.Reason, hs.Message = diracv1.ReasonRebooting, fmt.Sprintf("Sending the reboot command (boot id %s)", hs.BootID)
			marked = append(marked, name)
		}
	}
	if len(marked) > 0 {
		if err := r.checkpoint(ctx, s); err != nil {
			return err // nothing sent
		}
	}

	// 2. Send (again, for a reboot marked and not known to be sent).
	first := len(marked)
	marked = append(marked, resend...)
	sendFails := make([]*procedure.Failure, len(marked))
	_ = inParallel(len(marked), s.maxParallel(len(marked)), func(i int) error {
		sendFails[i] = r.sendReboot(ctx, s, s.host(marked[i]), i < first)
		return nil
	})
	for i, name := range marked {
		hs := s.host(name).status
		if f := sendFails[i]; f != nil {
			r.applyOutcome(ctx, s, tier, name, hostOutcome{fail: f})
			continue
		}
		hs.Reason = diracv1.ReasonRebooting
		hs.Message = fmt.Sprintf("Reboot sent; waiting for the host to answer with a boot id other than %s (up to %s)", hs.BootID, spec.Reboot.Timeout.Duration)
		s.requeueAfter(rebootPollInterval)
	}

	// 3. Wait for the hosts sent a reboot in an earlier pass.
	outcomes := make([]hostOutcome, len(wait))
	waits := make([]string, len(wait))
	_ = inParallel(len(wait), s.maxParallel(len(wait)), func(i int) error {
		outcomes[i], waits[i] = r.awaitReboot(ctx, s, tier, s.host(wait[i]))
		return nil
	})
	for i, name := range wait {
		r.applyOutcome(ctx, s, tier, name, outcomes[i])
		if waits[i] != "" {
			hs := s.host(name).status
			hs.Reason, hs.Message = diracv1.ReasonRebooting, truncate(waits[i], 1024)
		}
	}
	return nil
}

// rebootOp is the host's reboot command, run once per boot and mark
// (procedure.RebootOnce) for the reboot marked in its last step.
func rebootOp(s *scope, hc *hostContext) procedure.Op {
	spec := &s.vbi.Spec
	hs := hc.status
	return procedure.RebootOnce(procedure.Reboot(spec.Reboot.Command, hc.name, spec.Reason),
		path.Join(spec.Layout.DiracRoot, "startup-save"), string(s.vbi.UID), hs.LastStep.StartedAt.Unix(), hs.BootID)
}

// sendReboot runs the reboot command, marked as sent, and drops the
// connection it ran on. It returns a failure only when the command surely
// did not reboot the host: the host could not be trusted, the command
// exited non-zero, or, on its first send (marked in this pass), it could
// not start: nothing ran, the mark is taken back and the next pass marks
// and sends it again. A send again (first false) that could not start
// stays marked and unconfirmed: the host may be rebooting from the send
// before, and a new mark would reboot it twice.
func (r *VOBoxInterventionReconciler) sendReboot(ctx context.Context, s *scope, hc *hostContext, first bool) *procedure.Failure {
	hs := hc.status
	op := rebootOp(s, hc)
	res, err := r.run(ctx, s, hc.target, op)
	if d, ok := r.Executor.(remote.Disconnector); ok {
		d.Disconnect(hc.target)
	}
	hc.log.Info("Ran step", "on", hc.name, "command", op.Name, "exitCode", res.ExitCode, "error", errString(err))
	if err != nil && !first && notRun(err) && !procedure.FailureOf(err).IsTerminal() {
		hs.LastStep.Output = procedure.Tail(err.Error(), 2048)
		return nil // still unconfirmed: sent again next pass
	}
	finished := metav1.NewTime(r.Clock.Now())
	hs.LastStep.FinishedAt = &finished
	switch {
	case err != nil && !first && notRun(err):
		return procedure.FailureOf(err) // another host key: nothing ran
	case err != nil && notRun(err):
		hs.LastStep.Name = stepRebootNotSent // nothing ran: the next pass sends it
		hs.LastStep.Output = procedure.Tail(err.Error(), 2048)
		return procedure.FailureOf(err)
	case err != nil:
		// The connection broke under it, or it did not return: the host
		// went down under the command, as expected.
		hs.LastStep.Output = procedure.Tail(err.Error(), 2048)
		return nil
	}
	code := int32(res.ExitCode)
	hs.LastStep.ExitCode = &code
	hs.LastStep.Output = procedure.Tail(string(res.Stdout)+string(res.Stderr), 2048)
	if !procedure.ParseReboot(res.Stdout) {
		hc.log.Info("Reboot already sent for this boot (its marker is on the host): not sent again", "bootID", hs.BootID)
	}
	if res.ExitCode != 0 && res.ExitCode != 255 {
		return &procedure.Failure{Reason: diracv1.ReasonCommandFailed, Terminal: true,
			Message: fmt.Sprintf("host %s: the reboot command exited %d: %s", hc.name, res.ExitCode, procedure.Tail(string(res.Stderr), 300))}
	}
	return nil
}

// notRun reports whether err says the command never started on the host:
// no connection, no session, or a host that could not be trusted.
func notRun(err error) bool {
	var ce *remote.ConnectionError
	if errors.As(err, &ce) {
		return ce.Op != "command"
	}
	var te *remote.TimeoutError
	if errors.As(err, &te) {
		return te.Op == "connect"
	}
	return remote.IsTerminal(err)
}

// awaitReboot looks at a host sent a reboot: done with a new boot id, a
// failure when its key changed or the timeout passed, else a wait, with
// what it waits for.
func (r *VOBoxInterventionReconciler) awaitReboot(ctx context.Context, s *scope, tier *procedure.Tier, hc *hostContext) (hostOutcome, string) {
	hs := hc.status
	timeout := s.vbi.Spec.Reboot.Timeout.Duration
	sent := hs.LastStep.StartedAt.Time
	left := sent.Add(timeout).Sub(r.Clock.Now())
	if left > 0 {
		pctx, cancel := context.WithTimeout(ctx, left)
		p, err := r.probe(pctx, s, tier, hc, nil, nil)
		cancel()
		switch {
		case err != nil && procedure.FailureOf(err).IsTerminal():
			// Another host key (or a refused login): nothing ran on it.
			return hostOutcome{fail: procedure.FailureOf(err)}, ""
		case err == nil && p.BootID != "" && p.BootID != hs.BootID:
			now := metav1.NewTime(r.Clock.Now())
			hs.Rebooted, hs.RebootedAt = true, &now
			hc.log.Info("Host is back from its reboot", "bootID", p.BootID, "after", now.Sub(sent).Round(time.Second))
			return hostOutcome{done: true}, ""
		case err == nil:
			s.requeueAfter(rebootPollInterval)
			return hostOutcome{wait: rebootPollInterval}, fmt.Sprintf("Reboot sent; the host still answers with boot id %s", hs.BootID)
		}
		if r.Clock.Now().Before(sent.Add(timeout)) {
			s.requeueAfter(rebootPollInterval)
			return hostOutcome{wait: rebootPollInterval}, fmt.Sprintf("Reboot sent %s ago; waiting for the host to answer: %v",
				r.Clock.Now().Sub(sent).Round(time.Second), err)
		}
	}
	return hostOutcome{fail: &procedure.Failure{Reason: diracv1.ReasonRebootTimeout, Terminal: true,
		Message: fmt.Sprintf("host %s did not answer with a new boot id within spec.reboot.timeout (%s) of the reboot command", hc.name, timeout)}}, ""
}
