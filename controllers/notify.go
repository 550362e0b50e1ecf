package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/notify"
)

// ReasonNotificationFailed is the reason of the Warning event emitted when an
// on-call notification could not be delivered. The intervention goes on.
const ReasonNotificationFailed = "NotificationFailed"

// message is one on-call notification.
type message struct {
	title, text string
}

// notifications are what on-call wants to hear of a status change: Down
// done (reboot now), Up done, a host failed, a tier awaiting approval, a
// drift. Each is derived from the difference between two statuses, so a
// message goes out once per change, after the status holding it was written.
func notifications(before, after *diracv1.VOBoxIntervention) []message {
	name := after.Namespace + "/" + after.Name
	var out []message
	wasReady := meta.IsStatusConditionTrue(before.Status.Conditions, diracv1.ReadyCondition)
	ready := meta.FindStatusCondition(after.Status.Conditions, diracv1.ReadyCondition)
	if ready != nil && ready.Status == metav1.ConditionTrue && !wasReady {
		switch after.Status.ObservedState {
		case diracv1.StateDown:
			out = append(out, message{name + ": Down", fmt.Sprintf("%s: all %d host(s) are Down and every check passed; they may be rebooted now (%s).", name, len(after.Spec.Hosts), after.Spec.Reason)})
		case diracv1.StateUp:
			out = append(out, message{name + ": Up", fmt.Sprintf("%s: all %d host(s) are Up, every check passed, maintenance cleared (%s).", name, len(after.Spec.Hosts), after.Spec.Reason)})
		}
	}
	for _, hs := range after.Status.Hosts {
		if hs.Phase != diracv1.HostFailed {
			continue
		}
		i := slices.IndexFunc(before.Status.Hosts, func(b diracv1.HostStatus) bool { return b.Name == hs.Name })
		if i >= 0 && before.Status.Hosts[i].Phase == diracv1.HostFailed && before.Status.Hosts[i].Reason == hs.Reason {
			continue
		}
		out = append(out, message{name + ": host " + hs.Name + " failed", fmt.Sprintf("%s: host %s failed (%s): %s", name, hs.Name, hs.Reason, hs.Message)})
	}
	if ready != nil && ready.Status != metav1.ConditionTrue {
		old := meta.FindStatusCondition(before.Status.Conditions, diracv1.ReadyCondition)
		changed := old == nil || old.Reason != ready.Reason
		switch {
		case changed && ready.Reason == diracv1.ReasonAwaitingApproval:
			out = append(out, message{name + ": awaiting approval", fmt.Sprintf("%s: %s", name, ready.Message)})
		case changed && ready.Reason == diracv1.ReasonDrifted:
			out = append(out, message{name + ": drift", fmt.Sprintf("%s: %s", name, ready.Message)})
		}
	}
	return out
}

// notify sends what changed between before and after to spec.notify's URLs,
// in the background: a notification never blocks nor fails the intervention.
// A failure is an event and vobox_notifications_total{result}.
func (r *VOBoxInterventionReconciler) notify(ctx context.Context, before, after *diracv1.VOBoxIntervention) {
	if r.Notifier == nil || after.Spec.Notify == nil {
		return
	}
	msgs := notifications(before, after)
	if len(msgs) == 0 {
		return
	}
	ref := after.Spec.Notify.URLSecretRef
	key := types.NamespacedName{Namespace: after.Namespace, Name: ref.Name}
	obj := after.DeepCopy()
	logger := log.FromContext(ctx)
	go func() {
		// Detached from the pass, bounded by the Notifier's own timeout.
		ctx := log.IntoContext(context.WithoutCancel(ctx), logger)
		fail := func(err error) {
			logger.Error(err, "Failed to notify", "secret", key)
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, ReasonNotificationFailed, "Notify", "%s", strings.TrimSpace(err.Error()))
		}
		secret := &corev1.Secret{}
		if err := r.APIReader.Get(ctx, key, secret); err != nil {
			fail(fmt.Errorf("failed to read spec.notify.urlSecretRef %s: %w", key, err))
			return
		}
		dataKey := ref.Key
		if dataKey == "" {
			dataKey = notify.SecretKeyURL
		}
		urls, err := notify.ParseURLs(secret.Data[dataKey])
		if err != nil {
			fail(fmt.Errorf("secret %s key %s: %w", key, dataKey, err))
			return
		}
		for _, m := range msgs {
			if err := r.Notifier.Send(ctx, urls, m.title, m.text); err != nil {
				fail(err)
			}
		}
	}()
}
