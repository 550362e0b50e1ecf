package procedure

import (
	"errors"
	"fmt"
	"testing"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

func TestFailureOf(t *testing.T) {
	cases := []struct {
		err      error
		reason   string
		terminal bool
	}{
		{&Failure{Reason: diracv1.ReasonStartupSaveConflict, Terminal: true}, diracv1.ReasonStartupSaveConflict, true},
		{fmt.Errorf("failed to run x: %w", &remote.HostKeyMismatchError{}), diracv1.ReasonHostKeyMismatch, true},
		{fmt.Errorf("failed to run x: %w", &remote.AuthError{Err: errors.New("denied")}), diracv1.ReasonAuthFailed, true},
		{fmt.Errorf("failed to run x: %w", &remote.TimeoutError{Err: errors.New("deadline")}), diracv1.ReasonStepTimeout, false},
		{fmt.Errorf("failed to run x: %w", &remote.ConnectionError{Op: "dial", Err: errors.New("refused")}), diracv1.ReasonUnreachable, false},
		{fmt.Errorf("failed to run x: %w", &remote.InvalidRequestError{Field: "command"}), diracv1.ReasonCommandFailed, true},
	}
	for _, tc := range cases {
		f := FailureOf(tc.err)
		if f == nil || f.Reason != tc.reason || f.Terminal != tc.terminal {
			t.Errorf("FailureOf(%v) = %+v, want %s (terminal %v)", tc.err, f, tc.reason, tc.terminal)
		}
	}
}
