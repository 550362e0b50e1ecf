package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// One intervention at a time per host: before acting, an intervention holds a
// coordination.k8s.io Lease per host, named after the host, in its own
// namespace. The holder is the intervention (name and UID), not the process,
// so a restarted operator still holds what it held; the Leases go when the
// intervention reaches its state or is deleted.

const (
	// LeaseManagedByLabel marks the Leases this operator owns; the manager's
	// cache only sees Leases with it.
	LeaseManagedByLabel = "app.kubernetes.io/managed-by"
	// LeaseManagedByValue is the value of LeaseManagedByLabel.
	LeaseManagedByValue = "vobox-operator"
	// LeaseHostLabel carries the host name of a Lease.
	LeaseHostLabel = "dirac.vobox.io/host"
)

var coordinationLease = coordinationv1.Lease{}

// leaseName is the Lease of a host.
func leaseName(host string) string { return "vobox-host-" + host }

// holderIdentity names an intervention as a Lease holder.
func holderIdentity(vbi *diracv1.VOBoxIntervention) string {
	return vbi.Name + "/" + string(vbi.UID)
}

// acquireLeases takes every host's Lease before the first step; if another
// intervention holds one, nothing runs and the status says who holds it.
func (r *VOBoxInterventionReconciler) acquireLeases(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.blocked != nil || s.vbi.Spec.Suspend || isComplete(s.vbi) {
		return ctrl.Result{}, nil
	}
	me := holderIdentity(s.vbi)
	// Leases are taken in host-name order and not past the first one held by
	// another intervention: a waiting intervention sits on no host it cannot
	// use yet, and two interventions can never wait for each other.
	names := make([]string, 0, len(s.vbi.Spec.Hosts))
	for _, h := range s.vbi.Spec.Hosts {
		names = append(names, h.Name)
	}
	slices.Sort(names)
	// Every holder is read first (from the cache); then the free Leases
	// before the first one held by another are created at once, not one
	// request after another (200 hosts: a fraction of a second, not seconds).
	holders := make([]string, len(names))
	firstHeld := len(names)
	for i, name := range names {
		holder, err := r.leaseHolder(ctx, s.vbi, name)
		if err != nil {
			return ctrl.Result{}, err
		}
		holders[i] = holder
		if holder != me && holder != "" && firstHeld == len(names) {
			firstHeld = i
		}
	}
	taken := make([]bool, len(names))
	if err := inParallel(firstHeld, leaseParallelism, func(i int) error {
		if holders[i] == me {
			return nil
		}
		holder, err := r.acquireLease(ctx, s.vbi, names[i], me)
		holders[i], taken[i] = holder, holder == me
		return err
	}); err != nil {
		return ctrl.Result{}, err
	}
	// A Lease lost to a creation race is held by another: give back what
	// this pass took past it, so that the order above still holds.
	if lost := slices.IndexFunc(holders, func(h string) bool { return h != me && h != "" }); lost >= 0 {
		if err := inParallel(len(names)-lost-1, leaseParallelism, func(i int) error {
			if i += lost + 1; !taken[i] {
				return nil
			}
			holders[i] = ""
			return r.releaseLease(ctx, s.vbi, names[i], me)
		}); err != nil {
			return ctrl.Result{}, err
		}
	}
	var held []string
	for i, holder := range holders {
		if holder != me && holder != "" {
			held = append(held, fmt.Sprintf("%s (held by %s)", names[i], strings.SplitN(holder, "/", 2)[0]))
		}
	}
	if len(held) > 0 {
		s.blocked = &procedure.Failure{Reason: diracv1.ReasonHostLocked,
			Message: fmt.Sprintf("Waiting for %d host(s) held by another intervention: %s", len(held), strings.Join(held, ", "))}
		s.requeueAfter(backoff(5))
	}
	return ctrl.Result{}, nil
}

// leaseHolder returns the holder of a host's Lease, "" when it is free.
func (r *VOBoxInterventionReconciler) leaseHolder(ctx context.Context, vbi *diracv1.VOBoxIntervention, host string) (string, error) {
	key := types.NamespacedName{Namespace: vbi.Namespace, Name: leaseName(host)}
	lease := &coordinationv1.Lease{}
	if err := r.Get(ctx, key, lease); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("failed to get Lease %s: %w", key, err)
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

// acquireLease creates the host's Lease for me, or returns its holder.
func (r *VOBoxInterventionReconciler) acquireLease(ctx context.Context, vbi *diracv1.VOBoxIntervention, host, me string) (string, error) {
	key := types.NamespacedName{Namespace: vbi.Namespace, Name: leaseName(host)}
	lease := &coordinationv1.Lease{}
	err := r.Get(ctx, key, lease)
	if err == nil && lease.Spec.HolderIdentity != nil {
		return *lease.Spec.HolderIdentity, nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("failed to get Lease %s: %w", key, err)
	}
	now := metav1.NewMicroTime(r.Clock.Now())
	lease = &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			Labels: map[string]string{LeaseManagedByLabel: LeaseManagedByValue, LeaseHostLabel: host}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &me, AcquireTime: &now},
	}
	if err := r.Create(ctx, lease); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Someone won the race; read the winner from the API server.
			if err := r.APIReader.Get(ctx, key, lease); err != nil || lease.Spec.HolderIdentity == nil {
				return "", fmt.Errorf("failed to read Lease %s after losing its creation race: %w", key, err)
			}
			return *lease.Spec.HolderIdentity, nil
		}
		return "", fmt.Errorf("failed to create Lease %s: %w", key, err)
	}
	log.FromContext(ctx).V(1).Info("Acquired host Lease", "host", host)
	return me, nil
}

// releaseLeasesWhenDone gives the hosts back once the intervention reached
// its state.
func (r *VOBoxInterventionReconciler) releaseLeasesWhenDone(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !isComplete(s.vbi) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.releaseLeases(ctx, s.vbi)
}

// releaseLeases deletes the Leases this intervention holds.
func (r *VOBoxInterventionReconciler) releaseLeases(ctx context.Context, vbi *diracv1.VOBoxIntervention) error {
	me := holderIdentity(vbi)
	return inParallel(len(vbi.Spec.Hosts), leaseParallelism, func(i int) error {
		return r.releaseLease(ctx, vbi, vbi.Spec.Hosts[i].Name, me)
	})
}

// releaseLease deletes a host's Lease if me holds it, as read from the API server.
func (r *VOBoxInterventionReconciler) releaseLease(ctx context.Context, vbi *diracv1.VOBoxIntervention, host, me string) error {
	lease := &coordinationv1.Lease{}
	key := types.NamespacedName{Namespace: vbi.Namespace, Name: leaseName(host)}
	if err := r.APIReader.Get(ctx, key, lease); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("failed to get Lease %s: %w", key, err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != me {
		return nil
	}
	if err := r.Delete(ctx, lease, client.Preconditions{UID: &lease.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("failed to release Lease %s: %w", key, err)
	}
	return nil
}

// leaseParallelism bounds the Lease requests of one intervention in flight:
// 200 hosts take four rounds. (At 16, the Lease creations of a 200-host
// intervention took 3.1 s on a 2-core lab busy with the SSH handshakes
// started beside them; at 64, 2.4 s. The API server's priority and fairness
// queues what it cannot serve at once.)
const leaseParallelism = 64

// interventionsWaitingForLease enqueues the interventions of a Lease's
// namespace that list its host, so a waiting one starts when it is released.
func (r *VOBoxInterventionReconciler) interventionsWaitingForLease(ctx context.Context, o client.Object) []reconcile.Request {
	host := o.GetLabels()[LeaseHostLabel]
	if host == "" {
		return nil
	}
	// The holder took or gave the Lease itself, in a pass that already
	// requeued what it needs: only the others are waiting for it.
	holder := ""
	if l, ok := o.(*coordinationv1.Lease); ok && l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	list := &diracv1.VOBoxInterventionList{}
	if err := r.List(ctx, list, client.InNamespace(o.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list interventions for a Lease", "lease", klog.KObj(o))
		return nil
	}
	var reqs []reconcile.Request
	for _, v := range list.Items {
		if holderIdentity(&v) == holder {
			continue
		}
		if slices.ContainsFunc(v.Spec.Hosts, func(h diracv1.HostSpec) bool { return h.Name == host }) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&v)})
		}
	}
	return reqs
}
