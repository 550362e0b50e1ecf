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
	"github.com/vobox-operator/vobox-operator/internal/hostid"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
)

// One intervention at a time per machine, cluster-wide: before its first
// command an intervention holds a coordination.k8s.io Lease per machine, in
// the operator's lock namespace (--lock-namespace), named after the
// machine's identity (hostid: its normalized address and port, not the name
// an intervention gives it), so that two interventions naming one address
// under two names, in two namespaces, meet on the same Lease. The holder is
// the intervention (namespace/name/uid), not the process, so a restarted
// operator still holds what it held. The Leases are held through Down, the
// reboot window and Up, and go only when the intervention is Up and
// complete, or deleted.

const (
	// LeaseManagedByLabel marks the Leases this operator owns; the manager's
	// cache only sees Leases with it.
	LeaseManagedByLabel = "app.kubernetes.io/managed-by"
	// LeaseManagedByValue is the value of LeaseManagedByLabel.
	LeaseManagedByValue = "vobox-operator"
	// LeaseHostLabel carries hostid.Hash of the machine a Lease locks: the
	// key under which the interventions naming that machine are indexed.
	LeaseHostLabel = "dirac.vobox.io/host-id"
	// LeaseHolderLabel carries the UID of the intervention that created a
	// Lease, which is its holder for the Lease's whole life (a holder is
	// never changed in place): an intervention gives all its machines back
	// with one delete of the collection so labelled.
	LeaseHolderLabel = "dirac.vobox.io/holder-uid"
	// LeaseHostAnnotation carries the machine's identity (address:port), for people.
	LeaseHostAnnotation = "dirac.vobox.io/host"
	// hostIDIndex indexes interventions by the hostid.Hash of each machine they name.
	hostIDIndex = "spec.hosts.hostID"
)

var coordinationLease = coordinationv1.Lease{}

// hostIdentity is the machine a host of spec names: its address (the name
// when none is given) and port (spec.ssh.port when none is given).
func hostIdentity(spec *diracv1.VOBoxInterventionSpec, h *diracv1.HostSpec) string {
	address, port := h.Address, spec.SSH.Port
	if address == "" {
		address = h.Name
	}
	if h.Port != nil {
		port = *h.Port
	}
	return hostid.Identity(address, port)
}

// hostIDs are the hostid.Hash of every machine an intervention names (the
// hostIDIndex of an intervention).
func hostIDs(vbi *diracv1.VOBoxIntervention) []string {
	out := make([]string, 0, len(vbi.Spec.Hosts))
	for i := range vbi.Spec.Hosts {
		out = append(out, hostid.Hash(hostIdentity(&vbi.Spec, &vbi.Spec.Hosts[i])))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// hostLock is one machine's Lease as an intervention needs it.
type hostLock struct {
	// identity is the machine (hostid.Identity), lease the Lease's name.
	identity, lease string
	// hosts are the spec names of the machine in this intervention.
	hosts []string
}

// hostLocks are the Leases an intervention needs, in Lease-name order: the
// order every intervention takes them in, so that two can never wait for
// each other.
func hostLocks(vbi *diracv1.VOBoxIntervention) []hostLock {
	byID := map[string]*hostLock{}
	for i := range vbi.Spec.Hosts {
		h := &vbi.Spec.Hosts[i]
		id := hostIdentity(&vbi.Spec, h)
		if byID[id] == nil {
			byID[id] = &hostLock{identity: id, lease: hostid.LeaseName(id)}
		}
		byID[id].hosts = append(byID[id].hosts, h.Name)
	}
	out := make([]hostLock, 0, len(byID))
	for _, l := range byID {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b hostLock) int { return strings.Compare(a.lease, b.lease) })
	return out
}

// holderIdentity names an intervention as a Lease holder: namespace/name/uid.
func holderIdentity(vbi *diracv1.VOBoxIntervention) string {
	return vbi.Namespace + "/" + vbi.Name + "/" + string(vbi.UID)
}

// holderName is the namespace/name part of a holder identity, for people.
func holderName(holder string) string {
	if i := strings.LastIndex(holder, "/"); i > 0 {
		return holder[:i]
	}
	return holder
}

// holdsLeases reports whether an intervention holds its machines' Leases
// by now: from its first command until it is Up and complete.
func holdsLeases(vbi *diracv1.VOBoxIntervention) bool {
	return !(isComplete(vbi) && vbi.Spec.State == diracv1.StateUp && vbi.Status.ObservedState == diracv1.StateUp)
}

// acquireLeases takes every machine's Lease before the first command; if
// another intervention holds one, nothing runs and the status names who
// holds it. A suspended intervention takes none (it runs nothing), but
// keeps those it holds.
func (r *VOBoxInterventionReconciler) acquireLeases(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.blocked != nil || s.vbi.Spec.Suspend || !holdsLeases(s.vbi) {
		return ctrl.Result{}, nil
	}
	me := holderIdentity(s.vbi)
	locks := hostLocks(s.vbi)
	// Every holder is read first (from the cache); then the free Leases
	// before the first one held by another are created at once, not one
	// request after another (200 hosts: a fraction of a second, not
	// seconds). Leases are not taken past the first one held by another
	// intervention: a waiting intervention sits on no machine it cannot use
	// yet.
	holders := make([]string, len(locks))
	firstHeld := len(locks)
	for i, l := range locks {
		holder, err := r.leaseHolder(ctx, l.lease)
		if err != nil {
			return ctrl.Result{}, err
		}
		if holder != me && holder != "" {
			if holder, err = r.dropStaleLease(ctx, l.lease, holder); err != nil {
				return ctrl.Result{}, err
			}
		}
		holders[i] = holder
		if holder != me && holder != "" && firstHeld == len(locks) {
			firstHeld = i
		}
	}
	taken := make([]bool, len(locks))
	for start := 0; start < firstHeld; start += leaseParallelism {
		end := min(start+leaseParallelism, firstHeld)
		if err := inParallel(end-start, leaseParallelism, func(j int) error {
			i := start + j
			if holders[i] == me {
				return nil
			}
			holder, err := r.acquireLease(ctx, locks[i], me)
			holders[i], taken[i] = holder, holder == me
			return err
		}); err != nil {
			return ctrl.Result{}, err
		}
		if slices.ContainsFunc(holders[start:end], func(h string) bool { return h != me && h != "" }) {
			break // a creation race lost in this round: nothing past it is taken
		}
	}
	// A Lease lost to a creation race is held by another: give back what
	// this pass took past it, so that the order above still holds.
	if lost := slices.IndexFunc(holders, func(h string) bool { return h != me && h != "" }); lost >= 0 {
		if err := inParallel(len(locks)-lost-1, leaseParallelism, func(i int) error {
			if i += lost + 1; !taken[i] {
				return nil
			}
			holders[i] = ""
			// Created moments ago: maybe not in the cache yet.
			return r.releaseLease(ctx, r.APIReader, locks[i].lease, me)
		}); err != nil {
			return ctrl.Result{}, err
		}
	}
	var held []string
	for i, holder := range holders {
		if holder != me && holder != "" {
			held = append(held, fmt.Sprintf("%s (%s, held by %s)", strings.Join(locks[i].hosts, ", "), locks[i].identity, holderName(holder)))
			s.lockHolders = append(s.lockHolders, holderName(holder))
		}
	}
	if len(held) > 0 {
		s.blocked = &procedure.Failure{Reason: diracv1.ReasonHostLocked,
			Message: fmt.Sprintf("Waiting for %d host(s) held by another intervention: %s", len(held), strings.Join(held, "; "))}
		s.requeueAfter(backoff(5))
	}
	return ctrl.Result{}, nil
}

// leaseHolder returns the holder of a Lease, "" when it is free.
func (r *VOBoxInterventionReconciler) leaseHolder(ctx context.Context, name string) (string, error) {
	key := types.NamespacedName{Namespace: r.LockNamespace, Name: name}
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

// dropStaleLease deletes a Lease whose holder is gone (an intervention
// removed without its finalizer, e.g. by hand) and returns "", or returns
// the holder when it still exists. The holder is read from the API server:
// a cache that has not seen a new intervention yet must not free its hosts.
func (r *VOBoxInterventionReconciler) dropStaleLease(ctx context.Context, name, holder string) (string, error) {
	parts := strings.Split(holder, "/")
	if len(parts) != 3 {
		return holder, nil // not one of ours: never taken over
	}
	other := &diracv1.VOBoxIntervention{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: parts[0], Name: parts[1]}, other)
	switch {
	case err == nil && string(other.UID) == parts[2]:
		return holder, nil
	case err != nil && !apierrors.IsNotFound(err):
		return "", fmt.Errorf("failed to get the holder %s of Lease %s: %w", holderName(holder), name, err)
	}
	lease := &coordinationv1.Lease{}
	key := types.NamespacedName{Namespace: r.LockNamespace, Name: name}
	if err := r.APIReader.Get(ctx, key, lease); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("failed to get Lease %s: %w", key, err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != holder {
		return "", nil // changed meanwhile: the next pass reads it again
	}
	if err := r.Delete(ctx, lease, client.Preconditions{UID: &lease.UID}); client.IgnoreNotFound(err) != nil {
		return "", fmt.Errorf("failed to delete Lease %s of the gone intervention %s: %w", key, holderName(holder), err)
	}
	log.FromContext(ctx).Info("Deleted the Lease of a gone intervention", "lease", name, "holder", holder)
	return "", nil
}

// acquireLease creates a machine's Lease for me, or returns its holder.
func (r *VOBoxInterventionReconciler) acquireLease(ctx context.Context, l hostLock, me string) (string, error) {
	key := types.NamespacedName{Namespace: r.LockNamespace, Name: l.lease}
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
			Labels: map[string]string{LeaseManagedByLabel: LeaseManagedByValue, LeaseHostLabel: hostid.Hash(l.identity),
				LeaseHolderLabel: holderUID(me)},
			Annotations: map[string]string{LeaseHostAnnotation: l.identity}},
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
	log.FromContext(ctx).V(1).Info("Acquired host Lease", "host", l.identity, "lease", l.lease)
	return me, nil
}

// releaseLeasesWhenDone gives the machines back once the intervention is
// Up and complete: a Down intervention holds them through the reboot
// window until its Up. A done intervention passes here at every drift
// check: it writes only while the cache still shows a Lease of its own.
func (r *VOBoxInterventionReconciler) releaseLeasesWhenDone(ctx context.Context, s *scope) (ctrl.Result, error) {
	if holdsLeases(s.vbi) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.releaseLeases(ctx, s.vbi, false)
}

// releaseLeases deletes the Leases this intervention holds: those carrying
// its LeaseHolderLabel with one delete of the collection (one request for
// up to 256 machines, where a delete each waited on the client's rate limit
// at the end of every large Up: docs/benchmarks-sim.md), any other one it
// holds (created before the label existed) by itself. The collection is
// deleted when the cache shows one of its Leases, or always when always is
// set (the deletion of the intervention: nothing may be left behind by a
// cache that has not seen a Lease created moments ago).
func (r *VOBoxInterventionReconciler) releaseLeases(ctx context.Context, vbi *diracv1.VOBoxIntervention, always bool) error {
	me := holderIdentity(vbi)
	locks := hostLocks(vbi)
	labelled, unlabelled := always, make([]bool, len(locks))
	for i, l := range locks {
		lease := &coordinationv1.Lease{}
		key := types.NamespacedName{Namespace: r.LockNamespace, Name: l.lease}
		if err := r.Get(ctx, key, lease); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("failed to get Lease %s: %w", key, err)
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != me {
			continue
		}
		if lease.Labels[LeaseHolderLabel] == string(vbi.UID) {
			labelled = true
		} else {
			unlabelled[i] = true
		}
	}
	if labelled {
		err := r.DeleteAllOf(ctx, &coordinationv1.Lease{}, client.InNamespace(r.LockNamespace),
			client.MatchingLabels{LeaseManagedByLabel: LeaseManagedByValue, LeaseHolderLabel: string(vbi.UID)})
		switch {
		case apierrors.IsForbidden(err):
			// A Role without deletecollection (bound by hand in another
			// --lock-namespace): one delete per Lease, as before.
			log.FromContext(ctx).Info("Cannot delete the Leases as a collection; deleting them one by one", "error", err.Error())
			for i := range unlabelled {
				unlabelled[i] = true
			}
		case err != nil:
			return fmt.Errorf("failed to release the Leases of %s: %w", me, err)
		}
	}
	return inParallel(len(locks), leaseParallelism, func(i int) error {
		if !unlabelled[i] {
			return nil
		}
		return r.releaseLease(ctx, r.Client, locks[i].lease, me)
	})
}

// holderUID is the UID part of a holder identity (holderIdentity).
func holderUID(holder string) string {
	return holder[strings.LastIndex(holder, "/")+1:]
}

// releaseLease deletes one Lease if me holds it, as read by reader: the
// cache for a done or deleted intervention's Lease without the holder label
// (releaseLeases), the API server for a Lease created in this pass and
// given back after a lost creation race. The delete is conditional on the
// Lease's UID: nothing changes a Lease's holder in place (a machine is
// taken by creating its Lease, given back by deleting it), so the object
// with that UID is ours, and one another intervention created since has
// another UID and is left alone (409).
func (r *VOBoxInterventionReconciler) releaseLease(ctx context.Context, reader client.Reader, name, me string) error {
	lease := &coordinationv1.Lease{}
	key := types.NamespacedName{Namespace: r.LockNamespace, Name: name}
	if err := reader.Get(ctx, key, lease); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("failed to get Lease %s: %w", key, err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != me {
		return nil
	}
	err := r.Delete(ctx, lease, client.Preconditions{UID: &lease.UID})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or no longer the Lease we held
	}
	if err != nil {
		return fmt.Errorf("failed to release Lease %s: %w", key, err)
	}
	return nil
}

// heldByOthers returns the names of the hosts whose machine another
// intervention holds now (from the cache): a complete Up intervention,
// which holds nothing, checks none of them for drift.
func (r *VOBoxInterventionReconciler) heldByOthers(ctx context.Context, vbi *diracv1.VOBoxIntervention) (map[string]bool, error) {
	me := holderIdentity(vbi)
	out := map[string]bool{}
	for _, l := range hostLocks(vbi) {
		holder, err := r.leaseHolder(ctx, l.lease)
		if err != nil {
			return nil, err
		}
		if holder != "" && holder != me {
			for _, h := range l.hosts {
				out[h] = true
			}
		}
	}
	return out, nil
}

// leaseParallelism bounds the Lease requests of one intervention in flight:
// 200 hosts take four rounds. (At 16, the Lease creations of a 200-host
// intervention took 3.1 s on a 2-core lab busy with the SSH handshakes
// started beside them; at 64, 2.4 s. The API server's priority and fairness
// queues what it cannot serve at once.) Creations go round by round in the
// Leases' order, and a round that loses a creation race is the last: the
// race costs at most one round's give-backs, not every Lease past it (at
// 1,000 simulated hosts, two interventions sharing two machines gave back
// about 250, a quarter of the API writes of the run).
const leaseParallelism = 64

// indexHostIDs registers hostIDIndex, so that a Lease's change finds the
// interventions naming its machine in any namespace without listing every
// intervention.
func indexHostIDs(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &diracv1.VOBoxIntervention{}, hostIDIndex, func(o client.Object) []string {
		vbi, ok := o.(*diracv1.VOBoxIntervention)
		if !ok {
			return nil
		}
		return hostIDs(vbi)
	})
}

// interventionsWaitingForLease enqueues the interventions, in any
// namespace, that name a Lease's machine, so a waiting one starts when it
// is released.
func (r *VOBoxInterventionReconciler) interventionsWaitingForLease(ctx context.Context, o client.Object) []reconcile.Request {
	id := o.GetLabels()[LeaseHostLabel]
	if id == "" || o.GetNamespace() != r.LockNamespace {
		return nil
	}
	// The holder took or gave the Lease itself, in a pass that already
	// requeued what it needs: only the others are waiting for it.
	holder := ""
	if l, ok := o.(*coordinationv1.Lease); ok && l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	// Read only, so the cache's own objects (no copy of up to 256 host
	// entries per intervention at every Lease event).
	list := &diracv1.VOBoxInterventionList{}
	if err := r.List(ctx, list, client.MatchingFields{hostIDIndex: id}, client.UnsafeDisableDeepCopy); err != nil {
		log.FromContext(ctx).Error(err, "Failed to list interventions for a Lease", "lease", klog.KObj(o))
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if holderIdentity(&list.Items[i]) != holder {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
