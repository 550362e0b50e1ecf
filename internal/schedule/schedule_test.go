package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	// 2026-12-01 is a Tuesday. Zurich is UTC+1 in winter.
	tueThu := &diracv1.WindowSpec{Days: []diracv1.Weekday{"Tue", "Thu"}, Start: "06:00", End: "09:00", TimeZone: "Europe/Zurich"}
	overnight := &diracv1.WindowSpec{Days: []diracv1.Weekday{"Fri"}, Start: "22:00", End: "02:00", TimeZone: "UTC"}
	everyDay := &diracv1.WindowSpec{Start: "10:00", End: "11:00"}
	nb := metav1.NewTime(mustTime(t, "2026-12-01T12:00:00Z"))

	cases := []struct {
		name     string
		s        *diracv1.ScheduleSpec
		now      string
		open     bool
		next     string // RFC 3339 in UTC, when closed
		until    string // RFC 3339 in UTC, when open inside a window
		whyParts []string
	}{
		{name: "no schedule", s: nil, now: "2026-12-01T00:00:00Z", open: true},
		{name: "before notBefore", s: &diracv1.ScheduleSpec{NotBefore: &nb}, now: "2026-12-01T11:59:59Z", next: "2026-12-01T12:00:00Z"},
		{name: "at notBefore", s: &diracv1.ScheduleSpec{NotBefore: &nb}, now: "2026-12-01T12:00:00Z", open: true},
		{name: "inside the window, local time", s: &diracv1.ScheduleSpec{Window: tueThu}, now: "2026-12-01T05:30:00Z", open: true, until: "2026-12-01T08:00:00Z"},
		{name: "before the window opens (UTC 04:59 is 05:59 Zurich)", s: &diracv1.ScheduleSpec{Window: tueThu}, now: "2026-12-01T04:59:00Z", next: "2026-12-01T05:00:00Z"},
		{name: "at the close", s: &diracv1.ScheduleSpec{Window: tueThu}, now: "2026-12-01T08:00:00Z", next: "2026-12-03T05:00:00Z"},
		{name: "on a day not listed", s: &diracv1.ScheduleSpec{Window: tueThu}, now: "2026-12-02T06:00:00Z", next: "2026-12-03T05:00:00Z"},
		{name: "across midnight, before it", s: &diracv1.ScheduleSpec{Window: overnight}, now: "2026-12-04T21:59:00Z", next: "2026-12-04T22:00:00Z"},
		{name: "across midnight, Friday evening", s: &diracv1.ScheduleSpec{Window: overnight}, now: "2026-12-04T23:00:00Z", open: true, until: "2026-12-05T02:00:00Z"},
		{name: "across midnight, Saturday morning (opened Friday)", s: &diracv1.ScheduleSpec{Window: overnight}, now: "2026-12-05T01:59:00Z", open: true, until: "2026-12-05T02:00:00Z"},
		{name: "across midnight, after it closed", s: &diracv1.ScheduleSpec{Window: overnight}, now: "2026-12-05T02:00:00Z", next: "2026-12-11T22:00:00Z"},
		{name: "every day, default zone UTC", s: &diracv1.ScheduleSpec{Window: everyDay}, now: "2026-12-06T10:30:00Z", open: true, until: "2026-12-06T11:00:00Z"},
		{name: "notBefore then the window", s: &diracv1.ScheduleSpec{NotBefore: &nb, Window: tueThu}, now: "2026-12-01T06:00:00Z", next: "2026-12-03T05:00:00Z", whyParts: []string{"not before", "window"}},
		{name: "after notBefore, inside the window", s: &diracv1.ScheduleSpec{NotBefore: &nb, Window: tueThu}, now: "2026-12-03T06:00:00Z", open: true, until: "2026-12-03T08:00:00Z"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := Evaluate(tc.s, mustTime(t, tc.now))
			if err != nil {
				t.Fatal(err)
			}
			if d.Open != tc.open {
				t.Fatalf("open = %v, want %v (%+v)", d.Open, tc.open, d)
			}
			if tc.next != "" && !d.Next.Equal(mustTime(t, tc.next)) {
				t.Errorf("next = %s, want %s", d.Next.UTC().Format(time.RFC3339), tc.next)
			}
			if tc.until != "" && !d.Until.Equal(mustTime(t, tc.until)) {
				t.Errorf("until = %s, want %s", d.Until.UTC().Format(time.RFC3339), tc.until)
			}
			if !d.Open && d.Why == "" {
				t.Error("a closed schedule must say why")
			}
			for _, p := range tc.whyParts {
				if !strings.Contains(d.Why, p) {
					t.Errorf("why %q does not mention %q", d.Why, p)
				}
			}
		})
	}
}

func TestEvaluateInvalid(t *testing.T) {
	t.Parallel()
	for name, w := range map[string]*diracv1.WindowSpec{
		"unknown time zone": {Start: "06:00", End: "07:00", TimeZone: "Mars/Olympus_Mons"},
		"malformed start":   {Start: "6h", End: "07:00"},
		"unknown day":       {Days: []diracv1.Weekday{"Monday"}, Start: "06:00", End: "07:00"},
	} {
		if _, err := Evaluate(&diracv1.ScheduleSpec{Window: w}, time.Now()); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
