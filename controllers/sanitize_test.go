package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// TestSanitizeStatus: what a host wrote reaches the status without a byte
// that a terminal would act on.
func TestSanitizeStatus(t *testing.T) {
	t.Parallel()
	const (
		clipboard = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"
		title     = "\x1b]0;pwned\x1b\\"
		colour    = "\x1b[31m"
	)
	st := &diracv1.VOBoxInterventionStatus{
		Conditions: []metav1.Condition{{Type: diracv1.ReadyCondition, Message: "host s1: " + title + "ErrorsInLog"}},
		Hosts: []diracv1.HostStatus{{
			Name:     "s1",
			Message:  "1 log line(s) match" + clipboard,
			Findings: []string{"2026-11-30T12:00:01,123456Z Framework/SystemAdministrator ERROR: " + clipboard + "boom" + colour},
			Drift:    []string{"Framework_Foo\u009b2J running"},
			LastStep: &diracv1.StepStatus{Name: "CheckLogs", Command: []string{"logscan", "x" + title},
				Output: "line one\r\n" + colour + "line two" + title + "\n"},
		}},
	}
	sanitizeStatus(st)
	hs := st.Hosts[0]
	for _, s := range []string{st.Conditions[0].Message, hs.Message, hs.Findings[0], hs.Drift[0], hs.LastStep.Output, hs.LastStep.Command[1]} {
		if strings.ContainsAny(s, "\x1b\x07\u009b\r") {
			t.Errorf("not clean: %q", s)
		}
	}
	if !strings.Contains(hs.Findings[0], "ERROR: boom") {
		t.Errorf("finding lost its text: %q", hs.Findings[0])
	}
	if hs.LastStep.Output != "line one\nline two\n" {
		t.Errorf("output = %q, want its lines kept", hs.LastStep.Output)
	}
	before := *st.DeepCopy()
	sanitizeStatus(st)
	if st.Hosts[0].Findings[0] != before.Hosts[0].Findings[0] || st.Conditions[0].Message != before.Conditions[0].Message {
		t.Error("sanitizeStatus is not idempotent")
	}
}
