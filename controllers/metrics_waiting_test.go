package controllers

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// TestWaitingMetric: vobox_intervention_waiting is 1 for the reason an
// intervention waits for (an approval here), 0 for the others, and gone with
// the intervention.
func TestWaitingMetric(t *testing.T) {
	t.Parallel()
	m := NewMetrics(prometheus.NewRegistry())
	vbi := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "lhcb", Name: "power-stop"}}
	vbi.Status.Conditions = []metav1.Condition{{Type: diracv1.ReadyCondition, Status: metav1.ConditionFalse, Reason: diracv1.ReasonAwaitingApproval}}
	m.observeIntervention(vbi)
	if v := testutil.ToFloat64(m.waiting.WithLabelValues("lhcb", "power-stop", diracv1.ReasonAwaitingApproval)); v != 1 {
		t.Errorf("waiting{AwaitingApproval} = %v, want 1", v)
	}
	if v := testutil.ToFloat64(m.waiting.WithLabelValues("lhcb", "power-stop", diracv1.ReasonWaitingForWindow)); v != 0 {
		t.Errorf("waiting{WaitingForWindow} = %v, want 0", v)
	}
	vbi.Status.Conditions[0].Reason = diracv1.ReasonProgressing
	m.observeIntervention(vbi)
	if v := testutil.ToFloat64(m.waiting.WithLabelValues("lhcb", "power-stop", diracv1.ReasonAwaitingApproval)); v != 0 {
		t.Errorf("waiting{AwaitingApproval} = %v after the approval, want 0", v)
	}
	m.forget(vbi)
	if n := testutil.CollectAndCount(m.waiting); n != 0 {
		t.Errorf("%d waiting series left after forget", n)
	}
}
