package controllers

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// Rotation picked up: the SSH Secrets are watched metadata-only (the cache
// holds no key, no known_hosts), and a Secret's change enqueues the
// interventions naming it (a field index on spec.ssh.secretRef.name). A
// new resourceVersion of the Secret retries the hosts that failed on a host
// key or on authentication, with the new content, without anyone touching
// the intervention. With the Secret unchanged, those failures stay terminal:
// a host whose key changed sees no further connection.

// secretRefIndex indexes interventions by spec.ssh.secretRef.name.
const secretRefIndex = "spec.ssh.secretRef.name"

// credentialReasons are the host failures a new Secret may fix.
var credentialReasons = []string{
	diracv1.ReasonHostKeyUnknown, diracv1.ReasonHostKeyMismatch, diracv1.ReasonHostKeyRevoked, diracv1.ReasonAuthFailed,
}

// indexSecretRefs registers secretRefIndex.
func indexSecretRefs(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &diracv1.VOBoxIntervention{}, secretRefIndex, func(o client.Object) []string {
		vbi, ok := o.(*diracv1.VOBoxIntervention)
		if !ok || vbi.Spec.SSH.SecretRef.Name == "" {
			return nil
		}
		return []string{vbi.Spec.SSH.SecretRef.Name}
	})
}

// interventionsForSecret enqueues the interventions of a Secret's namespace
// that name it.
func (r *VOBoxInterventionReconciler) interventionsForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	list := &diracv1.VOBoxInterventionList{} // read only: the cache's own objects
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace()), client.MatchingFields{secretRefIndex: o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list interventions for a Secret", "secret", klog.KObj(o))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// retryAfterRotation runs once the credentials are loaded: when the
// Secret's resourceVersion (from the metadata cache) is not the one last
// loaded, the hosts that failed on a host key or authentication are retried.
func (r *VOBoxInterventionReconciler) retryAfterRotation(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.creds == nil {
		return ctrl.Result{}, nil
	}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	key := types.NamespacedName{Namespace: s.vbi.Namespace, Name: s.vbi.Spec.SSH.SecretRef.Name}
	if err := r.Get(ctx, key, meta); err != nil {
		// The content was just read: the cache lags, the event will come.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	st := &s.vbi.Status
	if st.SSHSecretVersion == meta.ResourceVersion {
		return ctrl.Result{}, nil
	}
	first := st.SSHSecretVersion == ""
	st.SSHSecretVersion = meta.ResourceVersion
	if first {
		return ctrl.Result{}, nil
	}
	retried := retryCredentialFailures(st)
	if len(retried) > 0 {
		log.FromContext(ctx).Info("The SSH Secret changed: retrying the hosts that failed on a host key or authentication", "hosts", retried)
		s.resolveHosts(ctx)
	}
	return ctrl.Result{}, nil
}

// retryCredentialFailures clears the failures a new Secret may fix, as a
// new generation does, and reopens the tiers they failed; it returns the
// hosts retried.
func retryCredentialFailures(st *diracv1.VOBoxInterventionStatus) []string {
	var retried []string
	for i := range st.Hosts {
		hs := &st.Hosts[i]
		if hs.Phase != diracv1.HostFailed || !slices.Contains(credentialReasons, hs.Reason) {
			continue
		}
		clearFailed(hs)
		hs.Reason, hs.Message, hs.Attempts, hs.WaitingSince = "", "", 0, nil
		retried = append(retried, hs.Name)
	}
	if len(retried) == 0 {
		return nil
	}
	for i := range st.Tiers {
		if st.Tiers[i].State == diracv1.TierFailed {
			st.Tiers[i].State, st.Tiers[i].FinishedAt = diracv1.TierRunning, nil
		}
	}
	return retried
}
