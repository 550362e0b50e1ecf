package controllers

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func TestNotifications(t *testing.T) {
	t.Parallel()
	base := func(state diracv1.State, ready metav1.ConditionStatus, reason, msg string, hosts ...diracv1.HostStatus) *diracv1.VOBoxIntervention {
		v := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "lhcb", Name: "power-stop"}}
		v.Spec.Reason = "power stop"
		v.Spec.Hosts = []diracv1.HostSpec{{Name: "a1"}, {Name: "s1"}}
		v.Status.ObservedState = state
		v.Status.Conditions = []metav1.Condition{{Type: diracv1.ReadyCondition, Status: ready, Reason: reason, Message: msg}}
		v.Status.Hosts = hosts
		return v
	}
	failed := diracv1.HostStatus{Name: "s1", Phase: diracv1.HostFailed, Reason: diracv1.ReasonErrorsInLog, Message: "1 log line(s)"}
	cases := []struct {
		name          string
		before, after *diracv1.VOBoxIntervention
		want          []string // a title each
	}{
		{"down done", base(diracv1.StateDown, metav1.ConditionFalse, diracv1.ReasonProgressing, ""), base(diracv1.StateDown, metav1.ConditionTrue, diracv1.ReasonSucceeded, ""), []string{"lhcb/power-stop: Down"}},
		{"up done", base(diracv1.StateUp, metav1.ConditionFalse, diracv1.ReasonProgressing, ""), base(diracv1.StateUp, metav1.ConditionTrue, diracv1.ReasonSucceeded, ""), []string{"lhcb/power-stop: Up"}},
		{"still ready: nothing", base(diracv1.StateUp, metav1.ConditionTrue, diracv1.ReasonSucceeded, ""), base(diracv1.StateUp, metav1.ConditionTrue, diracv1.ReasonSucceeded, ""), nil},
		{"a host fails", base(diracv1.StateUp, metav1.ConditionFalse, diracv1.ReasonProgressing, ""), base(diracv1.StateUp, metav1.ConditionFalse, diracv1.ReasonHostFailed, "", failed), []string{"lhcb/power-stop: host s1 failed"}},
		{"still failed: nothing", base(diracv1.StateUp, metav1.ConditionFalse, diracv1.ReasonHostFailed, "", failed), base(diracv1.StateUp, metav1.ConditionFalse, diracv1.ReasonHostFailed, "", failed), nil},
		{"awaiting approval", base(diracv1.StateUp, metav1.ConditionFalse, diracv1.ReasonProgressing, ""), base(diracv1.StateUp, metav1.ConditionFalse, diracv1.ReasonAwaitingApproval, "AgentsStarted awaits approval"), []string{"lhcb/power-stop: awaiting approval"}},
		{"drift", base(diracv1.StateDown, metav1.ConditionTrue, diracv1.ReasonSucceeded, ""), base(diracv1.StateDown, metav1.ConditionFalse, diracv1.ReasonDrifted, "a1: WorkloadManagement_JobAgent running"), []string{"lhcb/power-stop: drift"}},
	}
	for _, tc := range cases {
		var got []string
		for _, m := range notifications(tc.before, tc.after) {
			got = append(got, m.title)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: titles %q, want %q", tc.name, got, tc.want)
		}
	}
}

// hook is a webhook receiver on loopback that records what it got.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newHook(t *testing.T, status int) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, string(b))
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

// TestNotifyOnCall: Down done reaches a working webhook; a failing one
// neither blocks nor fails the intervention, and is a Warning event.
func TestNotifyOnCall(t *testing.T) {
	t.Parallel()
	ok, broken := newHook(t, http.StatusOK), newHook(t, http.StatusInternalServerError)
	sim, hosts := smallTopology(t)
	h := newHarness(t, sim)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "vobox-notify"},
		Data: map[string][]byte{"url": []byte(
			"generic+" + ok.URL + "/hook?template=json\n" +
				"generic+" + broken.URL + "/hook?template=json\n")},
	}
	if err := k8sClient.Create(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	vbi := h.intervention("power-stop", diracv1.StateDown, hosts...)
	vbi.Spec.Notify = &diracv1.NotifySpec{URLSecretRef: diracv1.SecretKeyReference{Name: "vobox-notify", Key: "url"}}
	h.create(vbi)
	h.waitReady("power-stop", diracv1.StateDown, waitLong)
	deadline := time.Now().Add(waitShort)
	for time.Now().Before(deadline) {
		if bodies := ok.got(); len(bodies) > 0 {
			if !strings.Contains(bodies[0], "power-stop") || !strings.Contains(bodies[0], "Down") {
				t.Errorf("the webhook got %q, want the Down message", bodies[0])
			}
			if len(bodies) != 1 {
				t.Errorf("the webhook got %d messages, want 1: %q", len(bodies), bodies)
			}
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(ok.got()) == 0 {
		t.Fatal("no notification reached the webhook")
	}
	for time.Now().Before(deadline) {
		for _, e := range h.events("power-stop") {
			if e.Reason == ReasonNotificationFailed {
				if strings.Contains(e.Note, broken.URL) {
					t.Errorf("the event shows the URL (it may hold credentials): %q", e.Note)
				}
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Error("no NotificationFailed event for the failing webhook")
}
