package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// Timeline glyphs.
const (
	glyphWork   = '█' // a tier from its start to its finish; a host's recorded step
	glyphWithin = '░' // the window in which a host passed a tier (the status keeps no per-host finish)
	glyphWait   = '·' // waiting: for the previous tier, a settle delay, a Lease, a stop
	glyphFail   = '✗'
	glyphNow    = '▶'
)

// minTimelineWidth is the narrowest timeline drawn: below it no bar is legible.
const minTimelineWidth = 40

func newTimelineCmd(o *options) *cobra.Command {
	var width int
	cmd := &cobra.Command{
		Use:   "timeline NAME",
		Short: "Draw the tiers and hosts as bars on a time axis, from the status timestamps",
		Long: "Draw the tiers and hosts as bars on a time axis, from the status timestamps: each tier from\n" +
			"its start to its finish, the waits before it, and per host what the status records (the window\n" +
			"in which it passed a tier, its last step, its wait, its failure). It fits the terminal's width.",
		Args:              oneName,
		ValidArgsFunction: o.completeNames,
		RunE: o.oneShot(func(ctx context.Context, cl *clients, key types.NamespacedName) error {
			if width == 0 {
				if width = o.e.width(); width == 0 {
					width = 100
				}
			}
			if width < minTimelineWidth {
				return usagef("--width must be at least %d, not %d", minTimelineWidth, width)
			}
			vbi, err := get(ctx, cl.c, key)
			if err != nil {
				return err
			}
			escapeObject(vbi)
			writeTimeline(o.e.stdout, newPainter(o), vbi, o.e.now(), width)
			return nil
		}),
	}
	cmd.Flags().IntVar(&width, "width", 0, "Width in columns (default: the terminal's, else 100)")
	return cmd
}

// tlSpan is a stretch of a row drawn with one glyph.
type tlSpan struct {
	from, to time.Time
	glyph    rune
	colour   string
}

// tlMark is one glyph at one time, drawn over the spans.
type tlMark struct {
	at     time.Time
	glyph  rune
	colour string
}

// tlRow is one line of the timeline: a tier or a host in it.
type tlRow struct {
	label      string
	bold       bool
	spans      []tlSpan
	marks      []tlMark
	note       string
	noteColour string
}

// writeTimeline draws an intervention's status on a time axis that fits
// width columns. Only recorded times are drawn: a tier's startedAt and
// finishedAt, the gap before it, and per host its waitingSince and its last
// step; a host that passed a tier without its own times is drawn over the
// tier's window in the lighter glyph.
func writeTimeline(w io.Writer, p painter, vbi *diracv1.VOBoxIntervention, now time.Time, width int) {
	st := &vbi.Status
	state := st.ObservedState
	if state == "" {
		state = vbi.Spec.State
	}
	fmt.Fprintf(w, "%s of voboxintervention %s/%s: %s", p.bold("Timeline"), vbi.Namespace, vbi.Name, p.bold(string(state)))
	if st.Phase != "" {
		fmt.Fprintf(w, ", phase %s", p.paint(phaseColour(string(st.Phase)), string(st.Phase)))
	}
	fmt.Fprintln(w)

	start, end, live := timeRange(st, now)
	if start.IsZero() {
		fmt.Fprintf(w, "Nothing has started yet: the status holds no time to draw. 'kubectl vobox status %s -n %s' shows where it is.\n", vbi.Name, vbi.Namespace)
		return
	}
	line := fmt.Sprintf("Started %s", start.UTC().Format(time.RFC3339))
	switch {
	case st.CompletedAt != nil:
		line += fmt.Sprintf(", completed %s, took %s", st.CompletedAt.UTC().Format(time.RFC3339), human(st.CompletedAt.Sub(start)))
	case live:
		line += fmt.Sprintf(", running for %s (now %s)", human(now.Sub(start)), now.UTC().Format(time.RFC3339))
	default:
		line += fmt.Sprintf(", last recorded %s, %s after the start", end.UTC().Format(time.RFC3339), human(end.Sub(start)))
	}
	fmt.Fprintln(w, line)

	rows := timelineRows(st, now, live)
	labelW := 0
	noteW := 0
	for _, r := range rows {
		labelW = max(labelW, utf8.RuneCountInString(r.label))
		noteW = max(noteW, utf8.RuneCountInString(r.note))
	}
	labelW = min(max(labelW, 8), 28, width/4)
	noteW = min(noteW, width/4)
	barW := width - labelW - noteW - 4
	if barW < 10 {
		noteW = max(0, noteW-(10-barW))
		barW = width - labelW - noteW - 4
	}
	scale := axis{start: start, end: end, cols: barW}

	// The axis: ticks at a round step, labelled with the time since the start.
	pad := strings.Repeat(" ", labelW+2)
	labels, ruler := scale.ticks()
	fmt.Fprintf(w, "%s%s\n%s%s\n", pad, strings.TrimRight(labels, " "), pad, p.dim(ruler))

	for _, r := range rows {
		cells := make([]rune, barW)
		colours := make([]string, barW)
		for i := range cells {
			cells[i] = ' '
		}
		for _, s := range r.spans {
			a, b := scale.col(s.from), scale.lastCol(s.to)
			for i := a; i <= b; i++ {
				cells[i], colours[i] = s.glyph, s.colour
			}
		}
		for _, m := range r.marks {
			i := min(scale.lastCol(m.at), barW-1)
			cells[i], colours[i] = m.glyph, m.colour
		}
		var bar strings.Builder
		for i := 0; i < barW; {
			j := i
			for j < barW && colours[j] == colours[i] {
				j++
			}
			bar.WriteString(p.paint(colours[i], string(cells[i:j])))
			i = j
		}
		label := fitRunes(r.label, labelW)
		if r.bold {
			label = p.bold(label)
		}
		label += strings.Repeat(" ", labelW-utf8.RuneCountInString(fitRunes(r.label, labelW)))
		note := p.paint(r.noteColour, fitRunes(r.note, noteW))
		fmt.Fprintln(w, strings.TrimRight(label+"  "+bar.String()+"  "+note, " "))
	}

	fmt.Fprintf(w, "\n%s tier / recorded step  %s host passed the tier in this window  %s waiting  %s failed  %s now\n",
		p.bold(string(glyphWork)), p.dim(string(glyphWithin)), p.dim(string(glyphWait)), p.red(string(glyphFail)), p.yellow(string(glyphNow)))
	fmt.Fprintf(w, "One column is %s. Times from status.tiers[].startedAt/finishedAt, status.hosts[].waitingSince and lastStep.\n",
		human(scale.perCol()))
}

// timeRange is the span the timeline covers: from the first recorded time
// to the last, or to now while the procedure runs.
func timeRange(st *diracv1.VOBoxInterventionStatus, now time.Time) (start, end time.Time, live bool) {
	see := func(t *metav1.Time) {
		if t == nil || t.IsZero() {
			return
		}
		if start.IsZero() || t.Time.Before(start) {
			start = t.Time
		}
		if t.Time.After(end) {
			end = t.Time
		}
	}
	see(st.StartedAt)
	see(st.CompletedAt)
	for _, ts := range st.Tiers {
		see(ts.StartedAt)
		see(ts.FinishedAt)
		if ts.State == diracv1.TierRunning {
			live = true
		}
	}
	for _, hs := range st.Hosts {
		see(hs.WaitingSince)
		if s := hs.LastStep; s != nil {
			see(s.StartedAt)
			see(s.FinishedAt)
		}
	}
	if st.CompletedAt != nil {
		live = false
	}
	if live && now.After(end) {
		end = now
	}
	if !start.IsZero() && !end.After(start) {
		end = start.Add(time.Second)
	}
	return start, end, live
}

// timelineRows turns the status into rows: each tier, then its hosts.
func timelineRows(st *diracv1.VOBoxInterventionStatus, now time.Time, live bool) []tlRow {
	var rows []tlRow
	prevFinish := time.Time{}
	if st.StartedAt != nil {
		prevFinish = st.StartedAt.Time
	}
	for _, ts := range st.Tiers {
		r := tlRow{label: ts.Name, bold: true}
		colour := tierColour(ts.State)
		switch {
		case ts.State == diracv1.TierSkipped:
			r.note, r.noteColour = "– skipped", "2"
			rows = append(rows, r)
			continue
		case ts.StartedAt == nil:
			r.note, r.noteColour = "· pending", "2"
			rows = append(rows, r)
			continue
		}
		begin := ts.StartedAt.Time
		finish := now
		if ts.FinishedAt != nil {
			finish = ts.FinishedAt.Time
		} else if !live {
			finish = begin
		}
		if !prevFinish.IsZero() && begin.Sub(prevFinish) >= time.Second {
			r.spans = append(r.spans, tlSpan{from: prevFinish, to: begin, glyph: glyphWait, colour: "2"})
		}
		r.spans = append(r.spans, tlSpan{from: begin, to: finish, glyph: glyphWork, colour: colour})
		switch ts.State {
		case diracv1.TierSucceeded:
			r.note, r.noteColour = "✓ "+human(finish.Sub(begin)), colour
		case diracv1.TierFailed:
			r.marks = append(r.marks, tlMark{at: finish, glyph: glyphFail, colour: "31"})
			r.note, r.noteColour = "✗ failed after "+human(finish.Sub(begin)), colour
		case diracv1.TierRunning:
			r.marks = append(r.marks, tlMark{at: finish, glyph: glyphNow, colour: "33"})
			r.note, r.noteColour = "▶ "+human(finish.Sub(begin))+" so far", colour
		default:
			r.note = string(ts.State)
		}
		if ts.FinishedAt != nil {
			prevFinish = ts.FinishedAt.Time
		}
		rows = append(rows, r)
		for _, name := range ts.Hosts {
			rows = append(rows, hostRow(st, ts, name, begin, finish, now, live))
		}
	}
	return rows
}

// hostRow draws one host in one tier from what the status records of it.
func hostRow(st *diracv1.VOBoxInterventionStatus, ts diracv1.TierStatus, name string, begin, finish, now time.Time, live bool) tlRow {
	r := tlRow{label: "  " + name}
	hs := findHost(st.Hosts, name)
	if hs == nil {
		r.note, r.noteColour = "no status yet", "2"
		return r
	}
	// The host's last step is drawn in the tier it belongs to, if it ran
	// within that tier's window.
	var step *diracv1.StepStatus
	if s := hs.LastStep; s != nil && s.StartedAt != nil && stepTier(st.Tiers, hs) == ts.Name && !s.StartedAt.Time.Before(begin.Add(-time.Second)) {
		step = s
	}
	stepEnd := func() time.Time {
		switch {
		case step.FinishedAt != nil:
			return step.FinishedAt.Time
		case live && hs.Phase == diracv1.HostWorking:
			return now
		}
		return step.StartedAt.Time
	}
	switch {
	case slices.Contains(hs.CompletedTiers, ts.Name):
		if step != nil {
			r.spans = append(r.spans, tlSpan{from: begin, to: step.StartedAt.Time, glyph: glyphWithin, colour: "2"},
				tlSpan{from: step.StartedAt.Time, to: stepEnd(), glyph: glyphWork, colour: "32"})
		} else {
			r.spans = append(r.spans, tlSpan{from: begin, to: finish, glyph: glyphWithin, colour: "2"})
		}
		r.note, r.noteColour = "✓ done", "32"
		return r
	case nextTier(st.Tiers, hs) != ts.Name, !started(hs) && hs.Reason == "" && hs.Phase != diracv1.HostWaiting:
		r.note, r.noteColour = "· pending", "2"
		return r
	}
	waitFrom := begin
	if hs.WaitingSince != nil && hs.WaitingSince.Time.After(begin) {
		waitFrom = hs.WaitingSince.Time
	}
	waitTo := finish
	if step != nil {
		waitTo = step.StartedAt.Time
	}
	if waitTo.Sub(waitFrom) >= time.Second || hs.Phase == diracv1.HostWaiting {
		r.spans = append(r.spans, tlSpan{from: waitFrom, to: waitTo, glyph: glyphWait, colour: "33"})
	}
	end := waitTo
	if step != nil {
		end = stepEnd()
		r.spans = append(r.spans, tlSpan{from: step.StartedAt.Time, to: end, glyph: glyphWork, colour: hostColour(hs.Phase)})
	}
	// The reason alone: the message is status's to show in full.
	why := hs.Reason
	if why == "" {
		why = hs.Message
	}
	switch hs.Phase {
	case diracv1.HostFailed:
		r.marks = append(r.marks, tlMark{at: end, glyph: glyphFail, colour: "31"})
		r.note, r.noteColour = "✗ "+why, "31"
	case diracv1.HostWaiting:
		if live {
			r.marks = append(r.marks, tlMark{at: now, glyph: glyphNow, colour: "33"})
		}
		r.note, r.noteColour = "waiting: "+why, "33"
	default:
		if live {
			r.marks = append(r.marks, tlMark{at: end, glyph: glyphNow, colour: "33"})
		}
		r.note, r.noteColour = "▶ "+string(hs.Phase), "33"
		if step != nil {
			r.note += ": " + step.Name
		}
	}
	return r
}

func tierColour(s diracv1.TierState) string {
	switch s {
	case diracv1.TierSucceeded:
		return "32"
	case diracv1.TierFailed:
		return "31"
	case diracv1.TierRunning:
		return "33"
	}
	return "2"
}

// axis maps times to the columns of the bars.
type axis struct {
	start, end time.Time
	cols       int
}

func (a axis) perCol() time.Duration { return a.end.Sub(a.start) / time.Duration(a.cols) }

// col is the column holding t.
func (a axis) col(t time.Time) int {
	f := float64(t.Sub(a.start)) / float64(a.end.Sub(a.start)) * float64(a.cols)
	return min(max(int(math.Floor(f)), 0), a.cols-1)
}

// lastCol is the last column a span ending at t covers: the one before the
// column t starts, so that back-to-back spans do not overlap.
func (a axis) lastCol(t time.Time) int {
	f := float64(t.Sub(a.start)) / float64(a.end.Sub(a.start)) * float64(a.cols)
	return min(max(int(math.Ceil(f))-1, 0), a.cols-1)
}

// tickSteps are the round steps the axis may be labelled at.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// ticks is the label line and the ruler: a tick every round step, at most
// one per 10 columns, each labelled with the time since the start.
func (a axis) ticks() (string, string) {
	total := a.end.Sub(a.start)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if int(total/s) <= a.cols/10 {
			step = s
			break
		}
	}
	labels := []rune(strings.Repeat(" ", a.cols+8))
	ruler := []rune(strings.Repeat("─", a.cols))
	nextFree := 0
	for t := time.Duration(0); t <= total; t += step {
		c := a.col(a.start.Add(t))
		ruler[c] = '┬'
		text := []rune(shortDuration(t))
		if c >= nextFree && c+len(text) <= len(labels) {
			copy(labels[c:], text)
			nextFree = c + len(text) + 1
		}
	}
	return string(labels), string(ruler)
}

// shortDuration is a duration without its zero tails: 1m, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// fitRunes clips s to n columns.
func fitRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return clip(s, n)
}
