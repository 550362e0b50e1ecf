package controllers

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

func TestRetryCredentialFailures(t *testing.T) {
	t.Parallel()
	st := &diracv1.VOBoxInterventionStatus{
		Hosts: []diracv1.HostStatus{
			{Name: "key", Phase: diracv1.HostFailed, Reason: diracv1.ReasonHostKeyMismatch, Attempts: 1},
			{Name: "auth", Phase: diracv1.HostFailed, Reason: diracv1.ReasonAuthFailed},
			{Name: "layout", Phase: diracv1.HostFailed, Reason: diracv1.ReasonDiracRootMissing},
			{Name: "fine", Phase: diracv1.HostDown},
		},
		Tiers: []diracv1.TierStatus{{State: diracv1.TierFailed}, {State: diracv1.TierPending}},
	}
	got := retryCredentialFailures(st)
	if len(got) != 2 || got[0] != "key" || got[1] != "auth" {
		t.Errorf("retried %v, want key and auth", got)
	}
	if st.Hosts[0].Phase == diracv1.HostFailed || st.Hosts[0].Reason != "" || st.Hosts[2].Phase != diracv1.HostFailed || st.Hosts[3].Phase != diracv1.HostDown {
		t.Errorf("hosts after retry: %+v", st.Hosts)
	}
	if st.Tiers[0].State != diracv1.TierRunning || st.Tiers[1].State != diracv1.TierPending {
		t.Errorf("tiers after retry: %+v", st.Tiers)
	}
	if retryCredentialFailures(&diracv1.VOBoxInterventionStatus{Tiers: []diracv1.TierStatus{{State: diracv1.TierFailed}}}) != nil {
		t.Errorf("a retry with nothing to retry")
	}
}

// TestRotation: b presents a key the Secret does not know. The
// intervention stalls on HostKeyMismatch and, with the Secret unchanged,
// tries b no more; once the Secret is updated it reaches Ready with the
// spec untouched.
func TestRotation(t *testing.T) {
	t.Parallel()
	sim := lockTopology(t)
	var stale atomic.Value // the digest of the credentials b refuses
	stale.Store("")
	var tries atomic.Int64
	h := newHarness(t, sim, func(h *harness) {
		h.wrap = func(inner remote.Executor) remote.Executor {
			return &remote.Fake{RunFunc: func(ctx context.Context, target remote.Target, cmd remote.Command) (remote.Result, error) {
				if target.Address == "b" && target.Credentials != nil && target.Credentials.Digest() == stale.Load() {
					tries.Add(1)
					return remote.Result{}, &remote.HostKeyMismatchError{Host: "b", KeyType: "ssh-ed25519", Fingerprint: "SHA256:new", Known: []string{"SHA256:old"}}
				}
				return inner.Run(ctx, target, cmd)
			}}
		}
	})
	secret := &corev1.Secret{}
	if err := k8sClient.Get(context.Background(), types.NamespacedName{Namespace: h.ns, Name: "ssh"}, secret); err != nil {
		t.Fatal(err)
	}
	creds, err := remote.NewCredentials(secret.Data)
	if err != nil {
		t.Fatal(err)
	}
	stale.Store(creds.Digest())

	h.create(h.intervention("power-stop", diracv1.StateDown, hostSpec("a", diracv1.RoleServices), hostSpec("b", diracv1.RoleServices)))
	stalled := h.waitCondition("power-stop", diracv1.StalledCondition, metav1.ConditionTrue, diracv1.ReasonHostKeyMismatch, waitShort)
	time.Sleep(time.Second)
	before := tries.Load()
	time.Sleep(3 * time.Second)
	if n := tries.Load() - before; n != 0 {
		t.Errorf("%d more connections to b with the Secret unchanged", n)
	}

	// The site updates known_hosts with b's new key.
	patch := client.MergeFrom(secret.DeepCopy())
	newKey, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(newKey)
	if err != nil {
		t.Fatal(err)
	}
	secret.Data["known_hosts"] = append(secret.Data["known_hosts"], []byte("b "+string(ssh.MarshalAuthorizedKey(pub)))...)
	if err := k8sClient.Patch(context.Background(), secret, patch); err != nil {
		t.Fatal(err)
	}
	vbi := h.waitReady("power-stop", diracv1.StateDown, waitLong)
	if vbi.Generation != stalled.Generation {
		t.Errorf("generation %d → %d: the spec was touched", stalled.Generation, vbi.Generation)
	}
	if got := sim.Hosts["b"].Links(t, "startup"); len(got) != 0 {
		t.Errorf("b not parked after the rotation: %v", got)
	}
}
