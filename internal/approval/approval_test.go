package approval

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func record(t *testing.T, user string, gen int64) string {
	t.Helper()
	b, err := json.Marshal(diracv1.ApprovalRecord{User: user, Time: metav1.NewTime(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)), Generation: gen})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFromAnnotationsAndPending(t *testing.T) {
	t.Parallel()
	gated := []string{diracv1.AgentsStartedCondition, diracv1.RebootedCondition}
	ann := map[string]string{
		diracv1.ApprovalAnnotation(diracv1.AgentsStartedCondition):   record(t, "alice@cern.ch", 3),
		diracv1.ApprovalAnnotation(diracv1.RebootedCondition):        record(t, "bob", 2), // an older generation
		diracv1.ApprovalAnnotation(diracv1.ServicesStartedCondition): record(t, "eve", 3), // not gated
		diracv1.ApprovalAnnotation("Broken"):                         "{",
		"unrelated":                                                  "x",
	}
	got := FromAnnotations(ann, gated, 3)
	if len(got) != 1 || got[0].Tier != diracv1.AgentsStartedCondition || got[0].User != "alice@cern.ch" || got[0].Generation != 3 || got[0].ApprovedAt == nil {
		t.Fatalf("FromAnnotations = %+v, want alice's approval of AgentsStarted only", got)
	}
	for tier, want := range map[string]bool{
		diracv1.AgentsStartedCondition:   false, // approved
		diracv1.RebootedCondition:        true,  // approved for generation 2 only
		diracv1.ServicesStartedCondition: false, // not gated
	} {
		if p := Pending(tier, gated, got); p != want {
			t.Errorf("Pending(%s) = %v, want %v", tier, p, want)
		}
	}
}
