package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

func newStatusCmd(o *options) *cobra.Command {
	return newShowCmd(o, "status NAME", "Show the progress as a tree: tiers, hosts, last step",
		func(_ context.Context, _ *clients, _ types.NamespacedName, vbi *diracv1.VOBoxIntervention) error {
			escapeObject(vbi)
			writeStatus(o.e.stdout, newPainter(o), vbi, o.e.now())
			return nil
		})
}

// newShowCmd builds a command that reads the one named intervention and
// hands it to show, which writes what the command shows: a command that only
// reads an intervention (status, events) says no more than that.
func newShowCmd(o *options, use, short string, show func(ctx context.Context, cl *clients, key types.NamespacedName, vbi *diracv1.VOBoxIntervention) error) *cobra.Command {
	return &cobra.Command{
		Use:               use,
		Short:             short,
		Args:              oneName,
		ValidArgsFunction: o.completeNames,
		RunE: o.oneShot(func(ctx context.Context, cl *clients, key types.NamespacedName) error {
			vbi, err := get(ctx, cl.c, key)
			if err != nil {
				return err
			}
			return show(ctx, cl, key, vbi)
		}),
	}
}

func writeStatus(w io.Writer, p painter, vbi *diracv1.VOBoxIntervention, now time.Time) {
	st := &vbi.Status
	fmt.Fprintf(w, "%s %s/%s\n", p.bold("VOBoxIntervention"), vbi.Namespace, vbi.Name)
	phase := string(st.Phase)
	if phase == "" {
		phase = "-"
	}
	line := fmt.Sprintf("State %s  Phase %s", p.bold(string(vbi.Spec.State)), p.paint(phaseColour(phase), phase))
	if st.Progress != "" {
		line += "  Progress " + st.Progress
	}
	if vbi.Spec.Suspend {
		line += "  " + p.yellow("Suspended")
	}
	fmt.Fprintln(w, line)
	if st.ObservedGeneration != vbi.Generation {
		fmt.Fprintln(w, p.yellow(fmt.Sprintf("Generation %d is not observed yet (status describes %d): the operator has not acted on the last change.",
			vbi.Generation, st.ObservedGeneration)))
	}
	for _, t := range []string{diracv1.ReadyCondition, diracv1.ReconcilingCondition, diracv1.StalledCondition} {
		c := meta.FindStatusCondition(st.Conditions, t)
		if c == nil {
			continue
		}
		text := fmt.Sprintf("%-12s %-5s %s", t, c.Status, c.Reason)
		if c.Message != "" {
			text += "  " + c.Message
		}
		fmt.Fprintln(w, p.paint(conditionColour(t, c.Status), text))
	}
	if len(st.Tiers) == 0 {
		fmt.Fprintf(w, "No tiers yet: the operator has not planned this intervention. "+
			"'kubectl vobox plan %s -n %s' shows what it will do.\n", vbi.Name, vbi.Namespace)
		return
	}

	fmt.Fprintf(w, "Tiers for %s\n", p.bold(string(st.ObservedState)))
	for i, ts := range st.Tiers {
		lastTier := i == len(st.Tiers)-1
		fmt.Fprintf(w, "%s%s\n", branch(lastTier), tierLine(p, ts, now))
		if ts.State == diracv1.TierSkipped {
			continue
		}
		indent := stem(lastTier)
		for j, name := range ts.Hosts {
			lastHost := j == len(ts.Hosts)-1
			hs := findHost(st.Hosts, name)
			fmt.Fprintf(w, "%s%s%s\n", indent, branch(lastHost), hostLine(p, st.Tiers, ts, hs, name))
			if hs == nil || stepTier(st.Tiers, hs) != ts.Name {
				continue
			}
			var children []string
			if hs.LastStep != nil {
				children = append(children, stepLines(p, hs.LastStep, now)...)
			}
			for _, f := range hs.Findings {
				children = append(children, p.red("log: "+clip(f, 160)))
			}
			for k, c := range children {
				fmt.Fprintf(w, "%s%s%s%s\n", indent, stem(lastHost), branch(k == len(children)-1), c)
			}
		}
	}
}

func branch(last bool) string {
	if last {
		return "└─ "
	}
	return "├─ "
}

func stem(last bool) string {
	if last {
		return "   "
	}
	return "│  "
}

func tierLine(p painter, ts diracv1.TierStatus, now time.Time) string {
	var mark, colour string
	switch ts.State {
	case diracv1.TierSucceeded:
		mark, colour = "✓", "32"
	case diracv1.TierFailed:
		mark, colour = "✗", "31"
	case diracv1.TierRunning:
		mark, colour = "▶", "33"
	case diracv1.TierSkipped:
		mark, colour = "–", "2"
	default:
		mark, colour = "·", "2"
	}
	line := fmt.Sprintf("%s %s  %s", p.paint(colour, mark), p.bold(ts.Name), p.paint(colour, string(ts.State)))
	if ts.State != diracv1.TierSkipped {
		line += fmt.Sprintf("  %d/%d", ts.Done, len(ts.Hosts))
	}
	switch {
	case ts.StartedAt != nil && ts.FinishedAt != nil:
		line += "  took " + human(ts.FinishedAt.Sub(ts.StartedAt.Time))
	case ts.StartedAt != nil:
		line += "  running for " + human(now.Sub(ts.StartedAt.Time))
	}
	return line
}

// hostLine shows a host in a tier: done, pending, or, in the tier it is in,
// its phase and why.
func hostLine(p painter, tiers []diracv1.TierStatus, ts diracv1.TierStatus, hs *diracv1.HostStatus, name string) string {
	switch {
	case hs == nil:
		return p.dim("· " + name + "  no status yet")
	case slices.Contains(hs.CompletedTiers, ts.Name):
		return p.green("✓") + " " + name + "  " + p.green("done")
	case nextTier(tiers, hs) != ts.Name:
		return p.dim("· " + name + "  pending")
	case !started(hs) && hs.Reason == "" && hs.Phase != diracv1.HostWaiting:
		return p.dim("· " + name + "  pending")
	}
	var mark string
	switch hs.Phase {
	case diracv1.HostFailed:
		mark = "✗"
	case diracv1.HostWorking, diracv1.HostWaiting:
		mark = "▶"
	default:
		mark = "·"
	}
	colour := hostColour(hs.Phase)
	line := p.paint(colour, mark) + " " + name + "  " + p.paint(colour, string(hs.Phase))
	if hs.Reason != "" || hs.Message != "" {
		line += "  " + p.paint(colour, strings.TrimPrefix(hs.Reason+": "+clip(hs.Message, 200), ": "))
	}
	return line
}

// stepLines shows a step: name, exit code, duration and command, then the
// last line of its output when it did not succeed.
func stepLines(p painter, s *diracv1.StepStatus, now time.Time) []string {
	exit := p.red("no exit code")
	ok := false
	if s.ExitCode != nil {
		ok = *s.ExitCode == 0
		exit = fmt.Sprintf("exit %d", *s.ExitCode)
		if ok {
			exit = p.green(exit)
		} else {
			exit = p.red(exit)
		}
	}
	line := p.bold(s.Name) + "  " + exit
	if s.StartedAt != nil && s.FinishedAt != nil {
		line += "  in " + human(s.FinishedAt.Sub(s.StartedAt.Time))
	}
	if s.FinishedAt != nil {
		line += ", " + human(now.Sub(s.FinishedAt.Time)) + " ago"
	}
	if len(s.Command) > 0 {
		line += "  " + p.dim(clip(commandLine(s.Command), 120))
	}
	lines := []string{line}
	if out := lastLine(s.Output); !ok && out != "" {
		lines = append(lines, p.red("output: "+clip(out, 160)))
	}
	return lines
}

// nextTier is the first tier a host takes part in and has not passed.
func nextTier(tiers []diracv1.TierStatus, hs *diracv1.HostStatus) string {
	for _, ts := range tiers {
		if ts.State != diracv1.TierSkipped && slices.Contains(ts.Hosts, hs.Name) && !slices.Contains(hs.CompletedTiers, ts.Name) {
			return ts.Name
		}
	}
	return ""
}

// started reports whether a host is in the middle of a step: the controller
// sets waitingSince when it starts one and clears it when the host passes.
func started(hs *diracv1.HostStatus) bool {
	return hs.WaitingSince != nil || hs.Phase == diracv1.HostFailed
}

// stepTier is the tier a host's last step belongs to: the tier it works on
// now, else the last tier it passed.
func stepTier(tiers []diracv1.TierStatus, hs *diracv1.HostStatus) string {
	if next := nextTier(tiers, hs); next != "" && started(hs) {
		return next
	}
	last := ""
	for _, ts := range tiers {
		if slices.Contains(hs.CompletedTiers, ts.Name) && slices.Contains(ts.Hosts, hs.Name) {
			last = ts.Name
		}
	}
	if last == "" {
		return nextTier(tiers, hs)
	}
	return last
}

func findHost(hosts []diracv1.HostStatus, name string) *diracv1.HostStatus {
	for i := range hosts {
		if hosts[i].Name == name {
			return &hosts[i]
		}
	}
	return nil
}

func phaseColour(phase string) string {
	switch diracv1.Phase(phase) {
	case diracv1.PhaseDown, diracv1.PhaseUp:
		return "32"
	case diracv1.PhaseFailed:
		return "31"
	case diracv1.PhaseShuttingDown, diracv1.PhaseStartingUp, diracv1.PhaseSuspended:
		return "33"
	}
	return "2"
}

func hostColour(phase diracv1.HostPhase) string {
	switch phase {
	case diracv1.HostDown, diracv1.HostUp:
		return "32"
	case diracv1.HostFailed:
		return "31"
	case diracv1.HostWorking, diracv1.HostWaiting:
		return "33"
	}
	return "2"
}

// conditionColour: green when all is well, yellow while working, red when
// a person is needed.
func conditionColour(t string, s metav1.ConditionStatus) string {
	switch {
	case t == diracv1.ReadyCondition && s == metav1.ConditionTrue, t != diracv1.ReadyCondition && s == metav1.ConditionFalse:
		return "32"
	case t == diracv1.StalledCondition:
		return "31"
	}
	return "33"
}

// human shows a duration to the second; status times have no finer grain.
func human(d time.Duration) string {
	if d < time.Second {
		return "<1s"
	}
	return d.Round(time.Second).String()
}

// commandLine shows an argv as the executor sent it, shell-quoted.
func commandLine(argv []string) string {
	line, err := remote.Quote(argv)
	if err != nil {
		return strings.Join(argv, " ")
	}
	return line
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
