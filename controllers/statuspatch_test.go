package controllers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// applyStatusPatch applies the status patch from before to after onto
// server (the object as the API server holds it) and returns the result
// and the patch ("" when nothing changed).
func applyStatusPatch(t *testing.T, server, before, after *diracv1.VOBoxIntervention) (*diracv1.VOBoxIntervention, string, error) {
	t.Helper()
	patch, changed, err := statusPatch(before, after)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		return server.DeepCopy(), "", nil
	}
	data, err := patch.Data(after)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(server)
	if err != nil {
		t.Fatal(err)
	}
	p, err := jsonpatch.DecodePatch(data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		return nil, string(data), err
	}
	got := &diracv1.VOBoxIntervention{}
	if err := json.Unmarshal(out, got); err != nil {
		t.Fatal(err)
	}
	return got, string(data), nil
}

func TestStatusPatchWritesWhatChanged(t *testing.T) {
	t.Parallel()
	at := metav1.NewTime(statusNow)
	base := &diracv1.VOBoxIntervention{ObjectMeta: metav1.ObjectMeta{Namespace: "site", Name: "power-stop"}}
	base.Spec.State = diracv1.StateDown
	full := base.DeepCopy()
	full.Status.ObservedState, full.Status.Phase, full.Status.StartedAt = diracv1.StateDown, diracv1.PhaseShuttingDown, &at
	for _, n := range []string{"h1", "h2", "h3"} {
		full.Status.Hosts = append(full.Status.Hosts, diracv1.HostStatus{Name: n, Phase: diracv1.HostPending})
	}
	meta.SetStatusCondition(&full.Status.Conditions, metav1.Condition{Type: diracv1.ReadyCondition, Status: metav1.ConditionFalse, Reason: diracv1.ReasonPending, LastTransitionTime: at})

	cases := []struct {
		name   string
		before *diracv1.VOBoxIntervention
		change func(*diracv1.VOBoxIntervention)
		// in and out: what the patch must and must not carry.
		in, out []string
	}{{
		name: "first status", before: base,
		change: func(v *diracv1.VOBoxIntervention) { v.Status = *full.Status.DeepCopy() },
		in:     []string{`"path":"/status"`},
	}, {
		name: "one host changed", before: full,
		change: func(v *diracv1.VOBoxIntervention) {
			v.Status.Hosts[1].Phase, v.Status.Hosts[1].CompletedTiers = diracv1.HostWorking, []string{"MaintenanceSet"}
		},
		in:  []string{`"op":"test","path":"/status/hosts/1/name","value":"h2"`, `"op":"replace","path":"/status/hosts/1"`},
		out: []string{`"h1"`, `"h3"`, "conditions"},
	}, {
		name: "a field cleared, a condition changed", before: full,
		change: func(v *diracv1.VOBoxIntervention) {
			v.Status.StartedAt = nil
			meta.SetStatusCondition(&v.Status.Conditions, metav1.Condition{Type: diracv1.ReadyCondition, Status: metav1.ConditionTrue, Reason: "Down", LastTransitionTime: at})
		},
		in:  []string{`"op":"remove","path":"/status/startedAt"`, `"op":"add","path":"/status/conditions"`},
		out: []string{"hosts"},
	}, {
		name: "hosts renamed and added", before: full,
		change: func(v *diracv1.VOBoxIntervention) {
			v.Status.Hosts = append([]diracv1.HostStatus{{Name: "h0"}}, v.Status.Hosts...)
		},
		in: []string{`"op":"add","path":"/status/hosts","value":[`},
	}, {
		name: "hosts gone", before: full,
		change: func(v *diracv1.VOBoxIntervention) { v.Status.Hosts = nil },
		in:     []string{`"op":"remove","path":"/status/hosts"`},
	}, {
		name: "nothing changed", before: full,
		change: func(*diracv1.VOBoxIntervention) {},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			after := tc.before.DeepCopy()
			tc.change(after)
			got, data, err := applyStatusPatch(t, tc.before, tc.before, after)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(got.Status, after.Status) {
				t.Errorf("patched status = %+v\nwant %+v", got.Status, after.Status)
			}
			if (data == "") != (len(tc.in) == 0) {
				t.Errorf("patch %q, want one only when the status changed", data)
			}
			for _, s := range tc.in {
				if !strings.Contains(data, s) {
					t.Errorf("patch %s lacks %s", data, s)
				}
			}
			for _, s := range tc.out {
				if strings.Contains(data, s) {
					t.Errorf("patch %s carries %s, which did not change", data, s)
				}
			}
		})
	}
}

// TestStatusPatchNeverWritesOverAnotherHost: should the list on the server
// not be the one the pass started from, the name test fails the patch
// rather than write one host's entry over another's.
func TestStatusPatchNeverWritesOverAnotherHost(t *testing.T) {
	t.Parallel()
	before := &diracv1.VOBoxIntervention{}
	before.Status.ObservedState = diracv1.StateDown
	before.Status.Hosts = []diracv1.HostStatus{{Name: "h1"}, {Name: "h2"}}
	after := before.DeepCopy()
	after.Status.Hosts[1].Phase = diracv1.HostDown
	server := before.DeepCopy()
	server.Status.Hosts = []diracv1.HostStatus{{Name: "h2"}, {Name: "h1"}}
	if _, _, err := applyStatusPatch(t, server, before, after); err == nil {
		t.Fatal("the patch wrote h2's entry at h1's place")
	}
}

// TestPassWritesFinishedTiersBeforeTheNext: a pass that has not written
// the status for statusFlushAfter writes it when it starts its next tier,
// through the JSON patch, and not sooner.
func TestPassWritesFinishedTiersBeforeTheNext(t *testing.T) {
	t.Parallel()
	scheme := runtime.NewScheme()
	if err := diracv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	vbi := statusFixture(diracv1.StateDown, diracv1.FailurePolicyHalt)
	vbi.Namespace, vbi.Name = "site", "power-stop"
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(vbi).WithStatusSubresource(vbi).Build()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(vbi), vbi); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(statusNow)
	r := &VOBoxInterventionReconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Clock: clk}
	s := statusScope(vbi, diracv1.TierSucceeded, diracv1.TierRunning)
	s.original, s.written = &diracv1.VOBoxIntervention{ObjectMeta: vbi.ObjectMeta}, statusNow
	s.resolveHosts(context.Background())

	clk.Step(statusFlushAfter - time.Millisecond)
	if err := r.flushStatus(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	onServer := &diracv1.VOBoxIntervention{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(vbi), onServer); err != nil {
		t.Fatal(err)
	}
	if len(onServer.Status.Tiers) != 0 {
		t.Fatalf("the status was written %v after the last write, before statusFlushAfter", statusFlushAfter-time.Millisecond)
	}
	clk.Step(time.Millisecond)
	if err := r.flushStatus(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(vbi), onServer); err != nil {
		t.Fatal(err)
	}
	if len(onServer.Status.Tiers) < 2 || onServer.Status.Tiers[0].State != diracv1.TierSucceeded || onServer.Status.Tiers[1].State != diracv1.TierRunning {
		t.Fatalf("tiers on the API server after the flush = %+v, want the first Succeeded and the second Running", onServer.Status.Tiers)
	}
	if !s.written.Equal(clk.Now()) || !r.versions.is(client.ObjectKeyFromObject(vbi), onServer.ResourceVersion) {
		t.Errorf("after the flush: written %v (want %v), version %s remembered: %v", s.written, clk.Now(), onServer.ResourceVersion, r.versions.is(client.ObjectKeyFromObject(vbi), onServer.ResourceVersion))
	}
}
