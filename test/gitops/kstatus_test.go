package gitops

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// advance applies a stage to the intervention on the API server: the spec
// change as a person's update, then the status as the controller's write.
func advance(t *testing.T, s *apiServer, key client.ObjectKey, st stage) {
	t.Helper()
	ctx := context.Background()
	if st.spec != nil {
		vbi := &diracv1.VOBoxIntervention{}
		if err := s.client.Get(ctx, key, vbi); err != nil {
			t.Fatalf("failed to get the intervention: %v", err)
		}
		st.spec(vbi)
		if err := s.client.Update(ctx, vbi); err != nil {
			t.Fatalf("failed to update the spec: %v", err)
		}
	}
	if st.status != nil {
		vbi := &diracv1.VOBoxIntervention{}
		if err := s.client.Get(ctx, key, vbi); err != nil {
			t.Fatalf("failed to get the intervention: %v", err)
		}
		st.status(vbi)
		if err := s.client.Status().Update(ctx, vbi); err != nil {
			t.Fatalf("failed to write the status: %v", err)
		}
	}
}

// getUnstructured reads the intervention as GitOps tools do: untyped, as the
// API server serves it, defaults applied.
func getUnstructured(t *testing.T, s *apiServer, key client.ObjectKey) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(diracv1.GroupVersion.WithKind("VOBoxIntervention"))
	if err := s.client.Get(context.Background(), key, u); err != nil {
		t.Fatalf("failed to get the intervention: %v", err)
	}
	return u
}

// TestLifecycle drives an intervention through its life on the API server
// and checks, on each stage's object as the server returns it, what kstatus
// (Flux health checks, kstatus-aware waits) and health.lua (Argo CD) call it.
func TestLifecycle(t *testing.T) {
	s := needAPIServer(t)
	vbi := newIntervention(s.newNamespace(t))
	if err := s.client.Create(context.Background(), vbi); err != nil {
		t.Fatalf("failed to create the intervention: %v", err)
	}
	key := client.ObjectKeyFromObject(vbi)
	script := healthScript(t)

	for _, st := range life {
		ok := t.Run(st.name, func(t *testing.T) {
			advance(t, s, key, st)
			u := getUnstructured(t, s, key)
			observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")

			res, err := status.Compute(u)
			if err != nil {
				t.Fatalf("kstatus failed: %v", err)
			}
			if res.Status != st.kstatus {
				t.Errorf("kstatus = %s (%s), want %s (generation %d, observedGeneration %d)",
					res.Status, res.Message, st.kstatus, u.GetGeneration(), observed)
			}
			h := argoHealth(t, script, u.Object)
			if h.status != st.argo {
				t.Errorf("Argo CD health = %s (%s), want %s (generation %d, observedGeneration %d)",
					h.status, h.message, st.argo, u.GetGeneration(), observed)
			}
			t.Logf("generation %d, observed %d: kstatus %s %q; Argo CD %s %q",
				u.GetGeneration(), observed, res.Status, res.Message, h.status, h.message)
		})
		if !ok {
			return // later stages build on this one
		}
	}
}

// kubectlWait runs `kubectl wait` on the intervention and says whether the
// condition was met before the timeout.
func kubectlWait(t *testing.T, s *apiServer, key client.ObjectKey, forArg, timeout string) bool {
	t.Helper()
	cmd := exec.Command(s.kubectl, "--kubeconfig", s.kubeconfig, "wait", "-n", key.Namespace,
		"voboxintervention/"+key.Name, "--for="+forArg, "--timeout="+timeout)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil && !strings.Contains(out.String(), "timed out") {
		t.Fatalf("kubectl wait --for=%s failed: %v\n%s", forArg, err, out.String())
	}
	return err == nil
}

// TestKubectlWaitAfterFlip shows the wait docs/gitops.md prescribes after a
// flip from Down to Up: while the controller has not seen the new generation,
// `--for=condition=Ready` (kubectl reads the condition's observedGeneration)
// and the observedGeneration wait hold, whereas a jsonpath wait on Ready's
// status returns at once on the stale Ready=True of Down.
func TestKubectlWaitAfterFlip(t *testing.T) {
	s := needAPIServer(t)
	vbi := newIntervention(s.newNamespace(t))
	if err := s.client.Create(context.Background(), vbi); err != nil {
		t.Fatalf("failed to create the intervention: %v", err)
	}
	key := client.ObjectKeyFromObject(vbi)
	const readyJSONPath = `jsonpath={.status.conditions[?(@.type=="Ready")].status}=True`

	advance(t, s, key, stage{status: done(diracv1.PhaseDown)})
	if !kubectlWait(t, s, key, "condition=Ready", "10s") {
		t.Fatal("Ready=True at the current generation, yet kubectl wait --for=condition=Ready timed out")
	}

	advance(t, s, key, stage{spec: setState(diracv1.StateUp)})
	if gen := getUnstructured(t, s, key).GetGeneration(); gen != 2 {
		t.Fatalf("generation %d after the flip, want 2", gen)
	}
	if kubectlWait(t, s, key, "condition=Ready", "2s") {
		t.Error("kubectl wait --for=condition=Ready returned on the Ready of the previous generation")
	}
	if kubectlWait(t, s, key, "jsonpath={.status.observedGeneration}=2", "2s") {
		t.Error("kubectl wait for observedGeneration 2 returned before the controller wrote it")
	}
	if !kubectlWait(t, s, key, readyJSONPath, "2s") {
		t.Error("a jsonpath wait on Ready's status was expected to return at once on the stale Ready: " +
			"if kubectl changed, update docs/gitops.md")
	}

	advance(t, s, key, stage{status: working(diracv1.PhaseStartingUp, diracv1.DatabasesStartedCondition)})
	if !kubectlWait(t, s, key, "jsonpath={.status.observedGeneration}=2", "10s") {
		t.Error("observedGeneration 2 written, yet the wait timed out")
	}
	if kubectlWait(t, s, key, "condition=Ready", "2s") {
		t.Error("kubectl wait --for=condition=Ready returned while the Up procedure runs")
	}
	advance(t, s, key, stage{status: done(diracv1.PhaseUp)})
	if !kubectlWait(t, s, key, "condition=Ready", "10s") {
		t.Error("Up done, yet kubectl wait --for=condition=Ready timed out")
	}
}
