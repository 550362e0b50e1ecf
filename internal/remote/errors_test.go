package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err       error
		reason    string
		terminal  bool
		transient bool
	}{
		{nil, "", false, false},
		{&HostKeyUnknownError{}, ReasonHostKeyUnknown, true, false},
		{&HostKeyMismatchError{}, ReasonHostKeyMismatch, true, false},
		{&HostKeyRevokedError{}, ReasonHostKeyRevoked, true, false},
		{&AuthError{Err: io.EOF}, ReasonAuthFailed, true, false},
		{&CredentialsError{Err: io.EOF}, ReasonCredentialsInvalid, true, false},
		{&InvalidRequestError{}, ReasonInvalidRequest, true, false},
		{&TimeoutError{Err: context.DeadlineExceeded}, ReasonTimeout, false, true},
		{&ConnectionError{Op: opDial, Err: io.EOF}, ReasonConnectionFailed, false, true},
		{&ConnectionError{Op: opHandshake, Err: io.EOF}, ReasonConnectionFailed, false, true},
		{&ConnectionError{Op: opCommand, Err: io.EOF}, ReasonConnectionLost, false, true},
		{ErrClosed, ReasonExecutorClosed, false, true},
		{fmt.Errorf("when probing: %w", &HostKeyMismatchError{}), ReasonHostKeyMismatch, true, false},
		{fmt.Errorf("when probing: %w", &TimeoutError{}), ReasonTimeout, false, true},
		{errors.New("elsewhere"), ReasonUnknown, false, false},
	} {
		if got := Reason(tc.err); got != tc.reason {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.reason)
		}
		if got := IsTerminal(tc.err); got != tc.terminal {
			t.Errorf("IsTerminal(%v) = %v", tc.err, got)
		}
		if got := IsTransient(tc.err); got != tc.transient {
			t.Errorf("IsTransient(%v) = %v", tc.err, got)
		}
	}
	// Causes stay reachable.
	if !errors.Is(&TimeoutError{Err: context.Canceled}, context.Canceled) || !errors.Is(&ConnectionError{Err: io.EOF}, io.EOF) {
		t.Error("Unwrap lost the cause")
	}
}

func TestTailBuffer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		writes    []string
		want      string
		truncated bool
	}{
		{nil, "", false},
		{[]string{"abc"}, "abc", false},
		{[]string{"abcd"}, "abcd", false},
		{[]string{"ab", "cd"}, "abcd", false},
		{[]string{"abcde"}, "bcde", true},
		{[]string{"ab", "cde"}, "bcde", true},
		{[]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, "ghij", true},
		{[]string{"abcd", "e"}, "bcde", true},
		{[]string{"x", "abcd"}, "abcd", true},
	} {
		b := newTailBuffer(4)
		for _, w := range tc.writes {
			if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
		}
		got, truncated := b.bytes()
		if string(got) != tc.want || truncated != tc.truncated {
			t.Errorf("%q: got %q truncated=%v, want %q truncated=%v", tc.writes, got, truncated, tc.want, tc.truncated)
		}
	}
}

func TestFake(t *testing.T) {
	t.Parallel()
	var seen Command
	f := &Fake{RunFunc: func(_ context.Context, _ Target, cmd Command) (Result, error) {
		seen = cmd
		return Result{ExitCode: 1}, nil
	}}
	var e Executor = f
	res, err := e.Run(context.Background(), Target{}, Command{"x"})
	if err != nil || res.ExitCode != 1 || len(seen) != 1 {
		t.Fatalf("got %+v, %v", res, err)
	}
	if _, err := (&Fake{}).Run(context.Background(), Target{}, nil); err == nil {
		t.Error("a Fake without RunFunc succeeded")
	}
}
