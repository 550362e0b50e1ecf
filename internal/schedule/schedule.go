// Package schedule decides whether an intervention may act now: not before
// spec.schedule.notBefore and only inside its recurring weekly window. It is
// pure (the caller passes the time) and embeds Go's time zone database, so a
// manager image without /usr/share/zoneinfo still knows Europe/Zurich.
package schedule

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // time zones without the host's zoneinfo

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// ErrInvalid wraps every error that makes a schedule impossible to evaluate
// (an unknown time zone, a malformed time the schema let through).
var ErrInvalid = errors.New("invalid schedule")

// Decision is what the schedule allows at a given time.
type Decision struct {
	// Open is true when the procedure may start new work now.
	Open bool
	// Next is when it may next start, when Open is false; zero when never.
	Next time.Time
	// Until is when the current window closes, when Open is true and a
	// window is set; zero when there is no end.
	Until time.Time
	// Why says, for people, what holds the procedure (empty when Open).
	Why string
}

var weekdays = map[diracv1.Weekday]time.Weekday{
	"Sun": time.Sunday, "Mon": time.Monday, "Tue": time.Tuesday, "Wed": time.Wednesday,
	"Thu": time.Thursday, "Fri": time.Friday, "Sat": time.Saturday,
}

// Evaluate says whether s allows work at now. A nil schedule is always open.
func Evaluate(s *diracv1.ScheduleSpec, now time.Time) (Decision, error) {
	if s == nil {
		return Decision{Open: true}, nil
	}
	if s.NotBefore != nil && now.Before(s.NotBefore.Time) {
		d := Decision{Next: s.NotBefore.Time, Why: "not before " + s.NotBefore.UTC().Format(time.RFC3339)}
		if s.Window != nil {
			// The first opening after notBefore, which may be later still.
			w, err := Evaluate(&diracv1.ScheduleSpec{Window: s.Window}, s.NotBefore.Time)
			if err != nil {
				return Decision{}, err
			}
			if !w.Open {
				d.Next = w.Next
				d.Why += "; then " + w.Why
			}
		}
		return d, nil
	}
	if s.Window == nil {
		return Decision{Open: true}, nil
	}
	return evaluateWindow(s.Window, now)
}

// evaluateWindow looks at the window's openings from the day before now
// (an opening of yesterday may cross midnight into today) to eight days on.
func evaluateWindow(w *diracv1.WindowSpec, now time.Time) (Decision, error) {
	tzName := w.TimeZone
	if tzName == "" {
		tzName = "UTC"
	}
	loc, err := time.LoadLocation(tzName)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: unknown time zone %q: %w", ErrInvalid, tzName, err)
	}
	startH, startM, err := clock(w.Start)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: window.start: %w", ErrInvalid, err)
	}
	endH, endM, err := clock(w.End)
	if err != nil {
		return Decision{}, fmt.Errorf("%w: window.end: %w", ErrInvalid, err)
	}
	days := map[time.Weekday]bool{}
	for _, d := range w.Days {
		wd, ok := weekdays[d]
		if !ok {
			return Decision{}, fmt.Errorf("%w: unknown day %q", ErrInvalid, d)
		}
		days[wd] = true
	}
	local := now.In(loc)
	for i := -1; i <= 8; i++ {
		day := time.Date(local.Year(), local.Month(), local.Day()+i, 0, 0, 0, 0, loc)
		if len(days) > 0 && !days[day.Weekday()] {
			continue
		}
		open := time.Date(day.Year(), day.Month(), day.Day(), startH, startM, 0, 0, loc)
		closing := time.Date(day.Year(), day.Month(), day.Day(), endH, endM, 0, 0, loc)
		if !closing.After(open) {
			closing = closing.AddDate(0, 0, 1) // crosses midnight (or spans the whole day)
		}
		if !now.Before(open) && now.Before(closing) {
			return Decision{Open: true, Until: closing}, nil
		}
		if now.Before(open) {
			return Decision{Next: open, Why: "outside the window; it opens at " + open.Format(time.RFC3339)}, nil
		}
	}
	return Decision{Why: "the window never opens"}, nil
}

// clock parses HH:MM.
func clock(s string) (int, int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not HH:MM: %w", s, err)
	}
	return t.Hour(), t.Minute(), nil
}
