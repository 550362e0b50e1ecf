package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/notify"
	"github.com/vobox-operator/vobox-operator/internal/procedure"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// Finalizer releases the hosts' Leases before an intervention goes away.
const Finalizer = "dirac.vobox.io/release-leases"

// DefaultMaxConcurrentReconciles is how many interventions are worked at
// once by default (--max-concurrent-reconciles). A pass mostly waits: on
// SSH sessions and on the hosts (up to HostWaitPerPass per pass), so
// workers, not CPU, are what concurrent interventions queue for
// (docs/benchmarks-sim.md: at 5,000 simulated hosts, 20 interventions on 4
// workers spent 35–150 s in a tier whose ideal is 20 s). Connections are
// bounded apart (--ssh-max-handshakes), and the API writes by the client's
// rate limit.
const DefaultMaxConcurrentReconciles = 16

// VOBoxInterventionReconciler drives VOBoxInterventions to their state.
type VOBoxInterventionReconciler struct {
	client.Client
	// Executor runs commands on the hosts; required.
	Executor remote.Executor
	// Recorder emits an event per condition transition; required.
	Recorder events.EventRecorder
	// Clock decides timeouts, settle delays and uptimes; defaults to the real clock.
	Clock clock.PassiveClock
	// APIReader reads around the cache: the intervention at the start of a
	// pass when the cache does not hold the version last seen (freshness.go),
	// the SSH Secrets (their content is never cached: the Secret watch
	// is metadata-only) and Leases after a creation race.
	// Defaults to the manager's API reader.
	APIReader client.Reader
	// Metrics records durations and outcomes; nil records nothing.
	Metrics *Metrics
	// MaxConcurrentReconciles is how many interventions are worked at once;
	// DefaultMaxConcurrentReconciles when zero.
	MaxConcurrentReconciles int
	// HostWaitPerPass bounds how long a pass waits on a host for a change;
	// DefaultHostWaitPerPass when zero.
	HostWaitPerPass time.Duration
	// Notifier sends spec.notify's on-call messages; nil sends none.
	Notifier *notify.Notifier
	// LockNamespace is where the machines' Leases live, for every
	// intervention of every namespace (--lock-namespace); required.
	LockNamespace string

	// versions is the last resourceVersion of each intervention seen on the
	// API server (freshness.go).
	versions versions
}

// RBAC: only the verbs the controller uses. The finalizer is patched, the
// status patched; Secrets are read with get and watched metadata-only (the
// rotation of an SSH Secret wakes the interventions naming it; no content
// is cached). The host Leases live in --lock-namespace only, granted there by
// the leader-election Role (config/rbac/leader_election_role.yaml), not
// cluster-wide.
// +kubebuilder:rbac:groups=dirac.vobox.io,resources=voboxinterventions,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=dirac.vobox.io,resources=voboxinterventions/status,verbs=patch
// +kubebuilder:rbac:groups=dirac.vobox.io,resources=voboxinterventions/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile is plumbing: get, finalizer, scope, deferred status patch, then
// the delete or normal path. The work lives in the step functions.
func (r *VOBoxInterventionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	// Never a status older than our last write: a pass started from one
	// would replay finished steps (freshness.go).
	vbi, err := r.getIntervention(ctx, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("voboxintervention", klog.KObj(vbi)))

	if !vbi.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, vbi)
	}
	if !controllerutil.ContainsFinalizer(vbi, Finalizer) {
		// The pass goes on with the patched object: nothing has been done
		// that the finalizer should have covered.
		patch := client.MergeFrom(vbi.DeepCopy())
		controllerutil.AddFinalizer(vbi, Finalizer)
		if err := r.Patch(ctx, vbi, patch); err != nil {
			return ctrl.Result{}, fmt.Errorf("failed to add the finalizer: %w", err)
		}
		r.versions.saw(req.NamespacedName, vbi.ResourceVersion)
	}

	now := r.Clock.Now()
	s := &scope{vbi: vbi, original: vbi.DeepCopy(), plan: procedure.BuildPlan(&vbi.Spec), now: now, written: now}
	defer func() {
		if err := r.patchStatus(ctx, s.original, s); err != nil {
			reterr = errors.Join(reterr, err)
		}
	}()
	return r.reconcileNormal(ctx, s)
}

// checkpoint writes the status in the middle of a pass, for what must be on
// the API server before the pass goes on (the maintenance commands, which
// are not probed first, so that a crash after them does not run them again).
func (r *VOBoxInterventionReconciler) checkpoint(ctx context.Context, s *scope) error {
	if err := r.patchStatus(ctx, s.original, s); err != nil {
		return err
	}
	s.original, s.written = s.vbi.DeepCopy(), r.Clock.Now()
	s.resolveHosts(ctx) // the host contexts point into s.vbi.Status, whatever a write did to it
	return nil
}

// statusFlushAfter is how long a pass may go on without writing the status
// before it writes it at the next tier's start: a pass that runs several
// tiers back to back would otherwise show none of them until it ends.
const statusFlushAfter = 2 * time.Second

// flushStatus writes the status when the pass has not written it for
// statusFlushAfter; it is called where no host step is in flight.
func (r *VOBoxInterventionReconciler) flushStatus(ctx context.Context, s *scope) error {
	if r.Clock.Since(s.written) < statusFlushAfter {
		return nil
	}
	return r.checkpoint(ctx, s)
}

// resolveHosts resolves, once per pass, each host's spec, status, target
// and logger (scope.resolveHosts).
func (r *VOBoxInterventionReconciler) resolveHosts(ctx context.Context, s *scope) (ctrl.Result, error) {
	s.resolveHosts(ctx)
	return ctrl.Result{}, nil
}

// reconcileNormal runs the steps of a pass in order; each may stop the pass.
func (r *VOBoxInterventionReconciler) reconcileNormal(ctx context.Context, s *scope) (ctrl.Result, error) {
	steps := []func(context.Context, *scope) (ctrl.Result, error){
		r.observeGeneration,
		r.loadCredentials,
		r.retryAfterRotation,
		r.checkSchedule,
		r.resolveHosts,
		r.acquireLeases, // before any connection: a held machine sees nothing from us
		r.connectAhead,
		r.waitForReboot,
		r.runTiers,
		r.observeCycle,
		r.recordBoots,
		r.checkDrift,
		r.releaseLeasesWhenDone,
	}
	for _, step := range steps {
		res, err := step(ctx, s)
		if err != nil || !res.IsZero() {
			return res, err
		}
	}
	if s.requeue > 0 {
		return ctrl.Result{RequeueAfter: s.requeue}, nil
	}
	return ctrl.Result{}, nil
}

// observeGeneration resets the plan when spec.state changed and clears
// failures when anything else in the spec changed, so the next tier starts
// from each host's real state.
func (r *VOBoxInterventionReconciler) observeGeneration(ctx context.Context, s *scope) (ctrl.Result, error) {
	st := &s.vbi.Status
	s.ensureHostStatuses()
	if st.ObservedState != s.vbi.Spec.State || len(st.Tiers) != len(s.plan.Tiers) || newCycle(s) {
		log.FromContext(ctx).Info("Planning", "state", s.vbi.Spec.State, "tiers", len(s.plan.Tiers), "hostSteps", s.plan.Total())
		st.ObservedState = s.vbi.Spec.State
		st.Tiers = make([]diracv1.TierStatus, len(s.plan.Tiers))
		for i, t := range s.plan.Tiers {
			st.Tiers[i] = diracv1.TierStatus{Name: t.Condition, Hosts: t.Hosts, State: diracv1.TierPending}
		}
		for i := range st.Hosts {
			hs := &st.Hosts[i]
			if s.vbi.Spec.State == diracv1.StateDown || s.plan.Cycle {
				// A new Down records afresh what it parks; the on-host
				// manifest of an unfinished Up still holds the old record.
				hs.SavedComponents, hs.ExcludedComponents = nil, nil
				// And the boot it ends in (boot.go).
				hs.BootID, hs.Rebooted, hs.RebootedAt = "", false, nil
			}
			hs.CompletedTiers, hs.WaitingSince, hs.Attempts, hs.Findings, hs.KilledComponents = nil, nil, 0, nil, nil
			clearFailed(hs)
			hs.Reason, hs.Message = "", ""
		}
		now := metav1.NewTime(s.now)
		st.StartedAt, st.CompletedAt = &now, nil
		return ctrl.Result{}, nil
	}
	if st.ObservedGeneration != s.vbi.Generation {
		for i := range st.Hosts {
			if hs := &st.Hosts[i]; hs.Phase == diracv1.HostFailed {
				clearFailed(hs)
				hs.Reason, hs.Message, hs.Attempts, hs.WaitingSince = "", "", 0, nil
			}
		}
		for i := range st.Tiers {
			if st.Tiers[i].State == diracv1.TierFailed {
				st.Tiers[i].State, st.Tiers[i].FinishedAt = diracv1.TierRunning, nil
			}
		}
	}
	return ctrl.Result{}, nil
}

// secretRetry is how often a stalled intervention looks at its Secret again.
const secretRetry = 15 * time.Second

// loadCredentials reads the SSH Secret. A missing or unusable Secret stalls
// the intervention until the Secret is fixed (its metadata watch wakes the
// intervention, and it is read again every secretRetry in any case).
func (r *VOBoxInterventionReconciler) loadCredentials(ctx context.Context, s *scope) (ctrl.Result, error) {
	if due, _ := driftDue(s); (isComplete(s.vbi) && !due) || s.vbi.Spec.Suspend {
		return ctrl.Result{}, nil
	}
	secret := &corev1.Secret{}
	key := types.NamespacedName{Namespace: s.vbi.Namespace, Name: s.vbi.Spec.SSH.SecretRef.Name}
	if err := r.APIReader.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			s.blocked = &procedure.Failure{Reason: diracv1.ReasonSecretNotFound, Terminal: true,
				Message: fmt.Sprintf("Secret %s named by spec.ssh.secretRef does not exist", key)}
			s.requeueAfter(secretRetry)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("failed to get Secret %s: %w", key, err)
	}
	// Only Secrets their owner marked for this use: a user who may create
	// interventions but not read Secrets cannot borrow another key of the
	// namespace (a CI's deploy key) by naming it. Nothing is dialled.
	if err := remote.CheckSecretAllowed(secret); err != nil {
		s.blocked = &procedure.Failure{Reason: diracv1.ReasonSecretNotAllowed, Terminal: true, Message: err.Error()}
		s.requeueAfter(secretRetry)
		return ctrl.Result{}, nil
	}
	creds, err := remote.NewCredentials(secret.Data)
	if err != nil {
		s.blocked = &procedure.Failure{Reason: diracv1.ReasonSecretInvalid, Terminal: true,
			Message: fmt.Sprintf("Secret %s named by spec.ssh.secretRef is unusable: %v", key, err)}
		s.requeueAfter(secretRetry)
		return ctrl.Result{}, nil
	}
	s.creds = creds
	return ctrl.Result{}, nil
}

// connectAhead opens, in the background, the connections the start of a
// plan needs, so that the SSH handshakes overlap the Lease round trips
// instead of following them: every host for a Down plan (its preflight
// probes them all), the first tier's hosts for an Up plan. runTiers opens
// each next tier's while a tier runs.
func (r *VOBoxInterventionReconciler) connectAhead(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.blocked != nil || s.vbi.Spec.Suspend || startedAny(&s.vbi.Status) {
		return ctrl.Result{}, nil
	}
	if s.plan.State == diracv1.StateDown || s.plan.Cycle {
		hosts := make([]string, len(s.vbi.Spec.Hosts))
		for i, h := range s.vbi.Spec.Hosts {
			hosts[i] = h.Name
		}
		r.connect(ctx, s, hosts)
		return ctrl.Result{}, nil
	}
	r.connect(ctx, s, s.plan.HostsAfter(-1))
	return ctrl.Result{}, nil
}

// connect opens the connections to hosts in the background, when the
// executor can (remote.Connector). It runs nothing on a host, and the host
// key is verified as for a command; its errors are left to the first
// command, which reports them.
func (r *VOBoxInterventionReconciler) connect(ctx context.Context, s *scope, hosts []string) {
	c, ok := r.Executor.(remote.Connector)
	if !ok || s.creds == nil || len(hosts) == 0 {
		return
	}
	targets := make([]remote.Target, len(hosts))
	for i, name := range hosts {
		targets[i] = s.host(name).target
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.vbi.Spec.Strategy.StepTimeout.Duration)
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() { _ = c.Connect(ctx, t) })
	}
	go func() { wg.Wait(); cancel() }()
}

// reconcileDelete releases the Leases and lets the object go; it never
// touches the hosts. Hosts left down are named in a Warning event.
func (r *VOBoxInterventionReconciler) reconcileDelete(ctx context.Context, vbi *diracv1.VOBoxIntervention) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(vbi, Finalizer) {
		return ctrl.Result{}, nil
	}
	if err := r.releaseLeases(ctx, vbi, true); err != nil {
		return ctrl.Result{}, err
	}
	if down := hostsLeftDown(vbi); len(down) > 0 {
		r.Recorder.Eventf(vbi, nil, corev1.EventTypeWarning, diracv1.ReasonHostsLeftDown, "Delete",
			"Deleted while %d host(s) are not back up; nothing was done to them: %s", len(down), strings.Join(down, ", "))
	}
	patch := client.MergeFrom(vbi.DeepCopy())
	controllerutil.RemoveFinalizer(vbi, Finalizer)
	if err := r.Patch(ctx, vbi, patch); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to remove the finalizer: %w", err)
	}
	r.Metrics.forget(vbi)
	r.versions.forget(client.ObjectKeyFromObject(vbi))
	log.FromContext(ctx).Info("Released the hosts and removed the finalizer")
	return ctrl.Result{}, nil
}

// hostsLeftDown lists the hosts an intervention took (part-way) down and did
// not bring back up.
func hostsLeftDown(vbi *diracv1.VOBoxIntervention) []string {
	var down []string
	for _, hs := range vbi.Status.Hosts {
		switch {
		case vbi.Status.ObservedState == diracv1.StateDown && len(hs.CompletedTiers) > 0:
			down = append(down, hs.Name)
		case vbi.Status.ObservedState == diracv1.StateUp && hs.Phase != diracv1.HostUp && len(hs.SavedComponents) > 0:
			down = append(down, hs.Name)
		}
	}
	return down
}

// patchStatus derives the conditions, emits an event per condition change
// and writes the status once, only when it changed.
func (r *VOBoxInterventionReconciler) patchStatus(ctx context.Context, original *diracv1.VOBoxIntervention, s *scope) error {
	sanitizeStatus(&s.vbi.Status) // what the hosts said, before conditions are made of it
	deriveStatus(s)
	sanitizeStatus(&s.vbi.Status)
	r.emitTransitions(original, s.vbi)
	r.Metrics.observeIntervention(s.vbi)
	patch, changed, err := statusPatch(original, s.vbi)
	if err != nil || !changed {
		return err
	}
	// The answer is asked for as metadata only: the status written is ours,
	// and decoding the whole object back (up to 256 host entries) was, after
	// the watch, the largest cost of a write at scale. Only the new
	// resourceVersion is needed from it.
	written := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: s.vbi.Namespace, Name: s.vbi.Name}}
	written.SetGroupVersionKind(diracv1.GroupVersion.WithKind("VOBoxIntervention"))
	if err := r.Status().Patch(ctx, written, patch); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("failed to patch the status: %w", err)
	}
	s.vbi.ResourceVersion = written.ResourceVersion
	r.versions.saw(client.ObjectKeyFromObject(s.vbi), written.ResourceVersion)
	r.Metrics.statusWrite()
	r.notify(ctx, original, s.vbi)
	return nil
}

// emitTransitions emits one event per condition whose status or reason changed.
func (r *VOBoxInterventionReconciler) emitTransitions(before, after *diracv1.VOBoxIntervention) {
	for _, c := range after.Status.Conditions {
		old := meta.FindStatusCondition(before.Status.Conditions, c.Type)
		if old != nil && old.Status == c.Status && old.Reason == c.Reason {
			continue
		}
		switch {
		case old == nil && c.Status == metav1.ConditionFalse && c.Reason == diracv1.ReasonPending:
			continue // a new plan's pending tiers are not news
		case c.Type == diracv1.ReconcilingCondition:
			continue // Ready says the same, for people
		case c.Type == diracv1.StalledCondition && c.Status != metav1.ConditionTrue:
			continue // only getting stuck is news
		}
		kind := corev1.EventTypeNormal
		if (c.Type == diracv1.StalledCondition && c.Status == metav1.ConditionTrue) || c.Reason == diracv1.ReasonHostFailed {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(after, nil, kind, c.Reason, c.Type, "%s=%s: %s", c.Type, c.Status, c.Message)
	}
}

// SetupWithManager registers the controller. It refuses a reconciler without
// an executor or recorder rather than failing later in a reconcile.
func (r *VOBoxInterventionReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if r.Executor == nil {
		return errors.New("VOBoxInterventionReconciler needs an Executor")
	}
	if r.Recorder == nil {
		return errors.New("VOBoxInterventionReconciler needs a Recorder")
	}
	if r.LockNamespace == "" {
		return errors.New("VOBoxInterventionReconciler needs a LockNamespace for the hosts' Leases")
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.MaxConcurrentReconciles <= 0 {
		r.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if err := indexHostIDs(ctx, mgr); err != nil {
		return fmt.Errorf("failed to index interventions by host: %w", err)
	}
	if err := indexSecretRefs(ctx, mgr); err != nil {
		return fmt.Errorf("failed to index interventions by SSH Secret: %w", err)
	}
	// Our own status writes do not change the generation: they must not
	// trigger a pass. Deletion and finalizer changes must.
	deleting := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().IsZero() || len(e.ObjectNew.GetFinalizers()) != len(e.ObjectOld.GetFinalizers())
	}}
	return ctrl.NewControllerManagedBy(mgr).
		For(&diracv1.VOBoxIntervention{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deleting))).
		Watches(&coordinationLease, handler.EnqueueRequestsFromMapFunc(r.interventionsWaitingForLease)).
		// Metadata only: the cache holds no Secret content (rotation.go).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.interventionsForSecret)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		Named("voboxintervention").
		Complete(r)
}
