package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// terminalBytes are the bytes a terminal acts on: ESC, BEL, CSI as C1.
const terminalBytes = "\x1b\x07\u009b"

// TestHostileLogLine: a DIRAC component on a real lab host logs an ERROR
// line carrying an OSC 52 clipboard write, an OSC 0 title change and a
// colour. The check fails as it must (ErrorsInLog, the line in the
// findings), but nothing a terminal would act on reaches the status, the
// conditions or the events that kubectl prints to on-call.
func TestHostileLogLine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.91", "--topology", "seed")
	e.useSharedOperator()
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		onlyHosts(v, "volhcb18")
	})
	e.create(vbi)
	e.waitReady(vbi.Name, 2*time.Minute)
	h, _ := e.lab.Host("volhcb18")
	broken := h.Components[0].Name
	e.labCmd("break", "volhcb18", broken, "escapes")

	// The line really is on the host, escapes and all.
	e.setState(vbi.Name, diracv1.StateUp)
	v := e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, "", 2*time.Minute)
	hs := hostStatus(v, "volhcb18")
	if hs.Reason != diracv1.ReasonErrorsInLog || len(hs.Findings) == 0 {
		t.Fatalf("volhcb18: reason %s, findings %q; want ErrorsInLog with the hostile line", hs.Reason, hs.Findings)
	}
	found := strings.Join(hs.Findings, "\n")
	if !strings.Contains(found, "Bad request") || !strings.Contains(found, "client") {
		t.Errorf("the finding lost the line's text: %q", found)
	}
	logFile := filepath.Join(h.Dir, "opt-dirac", strings.TrimPrefix(h.Components[0].RunitDir, "/opt/dirac"), "log", "current")
	if raw, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(raw), "\x1b]52;") {
		t.Errorf("the lab did not write the escape to %s (%v): the test proves nothing", logFile, err)
	}
	status, err := json.Marshal(v.Status)
	if err != nil {
		t.Fatal(err)
	}
	var decoded diracv1.VOBoxInterventionStatus
	if err := json.Unmarshal(status, &decoded); err != nil {
		t.Fatal(err)
	}
	for _, hs := range decoded.Hosts {
		for _, s := range append(append([]string{hs.Message}, hs.Findings...), lastOutput(hs)) {
			if strings.ContainsAny(s, terminalBytes) {
				t.Errorf("host %s: terminal escape in the status: %q", hs.Name, s)
			}
		}
	}
	for _, c := range decoded.Conditions {
		if strings.ContainsAny(c.Message, terminalBytes) {
			t.Errorf("condition %s: terminal escape in its message: %q", c.Type, c.Message)
		}
	}
	events := &eventsv1.EventList{}
	if err := suite.k8s.List(context.Background(), events, client.InNamespace(e.ns)); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		if strings.ContainsAny(ev.Note, terminalBytes) {
			t.Errorf("event %s: terminal escape in its note: %q", ev.Reason, ev.Note)
		}
	}
}

func lastOutput(hs diracv1.HostStatus) string {
	if hs.LastStep == nil {
		return ""
	}
	return hs.LastStep.Output
}

// TestSecretNotAllowedOnTheLab: the lab's key in a Secret without the
// opt-in label stalls the intervention with SecretNotAllowed, and no host's
// sshd sees a connection; labelled, the same Secret works.
func TestSecretNotAllowedOnTheLab(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "127.92", "--hosts", "4")
	e.useSharedOperator()
	ctx := context.Background()
	lab := &corev1.Secret{}
	if err := suite.k8s.Get(ctx, client.ObjectKey{Namespace: e.ns, Name: "vobox-lab-ssh"}, lab); err != nil {
		t.Fatal(err)
	}
	unlabelled := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "ci-deploy-key"}, Type: lab.Type, Data: lab.Data}
	if err := suite.k8s.Create(ctx, unlabelled); err != nil {
		t.Fatal(err)
	}
	sshdBytes := func() int64 {
		var n int64
		for _, h := range e.lab.Hosts {
			if fi, err := os.Stat(filepath.Join(h.Dir, "sshd.log")); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	before := sshdBytes()
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Spec.SSH.SecretRef.Name = "ci-deploy-key"
	})
	e.create(vbi)
	v := e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonSecretNotAllowed, time.Minute)
	if c := meta.FindStatusCondition(v.Status.Conditions, diracv1.StalledCondition); !strings.Contains(c.Message, remote.SecretLabelSSHKey) {
		t.Errorf("Stalled message %q does not name the missing label", c.Message)
	}
	time.Sleep(3 * time.Second)
	if after := sshdBytes(); after != before {
		t.Errorf("the hosts' sshd logs grew by %d bytes: something connected with a Secret not allowed", after-before)
	}
	unlabelled.Labels = map[string]string{remote.SecretLabelSSHKey: remote.SecretLabelSSHKeyValue}
	if err := suite.k8s.Update(ctx, unlabelled); err != nil {
		t.Fatal(err)
	}
	// A touch makes the controller look at once.
	cur := e.get(vbi.Name)
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Annotations = map[string]string{"test/poke": "1"}
	if err := suite.k8s.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	e.waitReady(vbi.Name, 3*time.Minute)
}
