package gitops

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// Argo CD health statuses, as health.lua returns them.
const (
	argoHealthy     = "Healthy"
	argoProgressing = "Progressing"
	argoDegraded    = "Degraded"
	argoSuspended   = "Suspended"
)

// stage is a point in an intervention's life: what a person changed in the
// spec (a commit), what the controller then wrote in the status, and what
// each tool must call the result.
type stage struct {
	name string
	// spec changes the spec, as a commit would; nil leaves it.
	spec func(*diracv1.VOBoxIntervention)
	// status writes the status as the controller derives it after acting on
	// the current generation; nil means the controller has not acted yet.
	status func(*diracv1.VOBoxIntervention)
	// kstatus is what status.Compute must say (Flux, kubectl wait).
	kstatus status.Status
	// argo is what health.lua must say.
	argo string
}

// life is one intervention from creation to the end of its Up, with a failure
// and a suspension on the way. Stages run in order, each on the object the
// previous one left.
var life = []stage{
	{name: "created, before the first reconcile",
		kstatus: status.InProgressStatus, argo: argoProgressing},
	{name: "shutting down", status: working(diracv1.PhaseShuttingDown, diracv1.AgentsStoppedCondition),
		kstatus: status.InProgressStatus, argo: argoProgressing},
	{name: "waiting for a host Lease held by another intervention", status: hostLocked,
		kstatus: status.InProgressStatus, argo: argoProgressing},
	{name: "down", status: done(diracv1.PhaseDown),
		kstatus: status.CurrentStatus, argo: argoHealthy},
	{name: "flipped to Up, not yet seen by the controller", spec: setState(diracv1.StateUp),
		kstatus: status.InProgressStatus, argo: argoProgressing},
	{name: "starting up", status: working(diracv1.PhaseStartingUp, diracv1.DatabasesStartedCondition),
		kstatus: status.InProgressStatus, argo: argoProgressing},
	{name: "a host failed, Halt", status: stalled(diracv1.ReasonHalted, "1 host(s) failed: volhcb21: ComponentNotUp"),
		kstatus: status.FailedStatus, argo: argoDegraded},
	{name: "suspended, not yet seen", spec: setSuspend(true),
		kstatus: status.InProgressStatus, argo: argoProgressing},
	{name: "suspended", status: suspended,
		kstatus: status.InProgressStatus, argo: argoSuspended},
	{name: "resumed, not yet seen", spec: setSuspend(false),
		kstatus: status.InProgressStatus, argo: argoProgressing},
	{name: "the Secret is gone", status: stalled(diracv1.ReasonSecretNotFound, `Secret "vobox-ssh" not found`),
		kstatus: status.FailedStatus, argo: argoDegraded},
	{name: "up", status: done(diracv1.PhaseUp),
		kstatus: status.CurrentStatus, argo: argoHealthy},
}

// newIntervention is a small valid intervention with state Down.
func newIntervention(namespace string) *diracv1.VOBoxIntervention {
	return &diracv1.VOBoxIntervention{
		TypeMeta:   metav1.TypeMeta{APIVersion: diracv1.GroupVersion.String(), Kind: "VOBoxIntervention"},
		ObjectMeta: metav1.ObjectMeta{Name: "power-stop", Namespace: namespace},
		Spec: diracv1.VOBoxInterventionSpec{
			State:  diracv1.StateDown,
			Reason: "power stop",
			SSH:    diracv1.SSHSpec{SecretRef: diracv1.SecretReference{Name: "vobox-ssh"}},
			Hosts: []diracv1.HostSpec{
				{Name: "volhcb20", Roles: []diracv1.Role{diracv1.RoleServices}},
				{Name: "volhcb21", Roles: []diracv1.Role{diracv1.RoleAgents}},
			},
		},
	}
}

func setState(s diracv1.State) func(*diracv1.VOBoxIntervention) {
	return func(vbi *diracv1.VOBoxIntervention) { vbi.Spec.State = s }
}

func setSuspend(b bool) func(*diracv1.VOBoxIntervention) {
	return func(vbi *diracv1.VOBoxIntervention) { vbi.Spec.Suspend = b }
}

// The status writers below set what controllers/voboxintervention_status.go
// derives for each case: status.observedGeneration and every condition's
// observedGeneration at the current generation, Ready/Reconciling/Stalled,
// and a phase condition of the tier under way.

func observe(vbi *diracv1.VOBoxIntervention, phase diracv1.Phase) func(string, metav1.ConditionStatus, string, string) {
	vbi.Status.ObservedGeneration = vbi.Generation
	vbi.Status.ObservedState = vbi.Spec.State
	vbi.Status.Phase = phase
	vbi.Status.Progress = "1/3"
	return func(t string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&vbi.Status.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason,
			Message: msg, ObservedGeneration: vbi.Generation})
	}
}

func working(phase diracv1.Phase, tier string) func(*diracv1.VOBoxIntervention) {
	return func(vbi *diracv1.VOBoxIntervention) {
		set := observe(vbi, phase)
		msg := tier + ": 0/1 hosts done"
		set(diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonProgressing, msg)
		set(diracv1.ReconcilingCondition, metav1.ConditionTrue, diracv1.ReasonProgressing, msg)
		set(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonProgressing, "Not stalled")
		set(tier, metav1.ConditionFalse, diracv1.ReasonProgressing, "0/1 hosts passed")
	}
}

func hostLocked(vbi *diracv1.VOBoxIntervention) {
	set := observe(vbi, diracv1.PhasePending)
	msg := "Host volhcb20 is held by intervention other/power-cut"
	set(diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonHostLocked, msg)
	set(diracv1.ReconcilingCondition, metav1.ConditionTrue, diracv1.ReasonHostLocked, msg)
	set(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonProgressing, "Waiting for the hosts' Leases")
}

func done(phase diracv1.Phase) func(*diracv1.VOBoxIntervention) {
	return func(vbi *diracv1.VOBoxIntervention) {
		set := observe(vbi, phase)
		vbi.Status.Progress = "3/3"
		set(diracv1.ReadyCondition, metav1.ConditionTrue, diracv1.ReasonSucceeded, "All 2 hosts are "+string(vbi.Spec.State)+" and every check passed")
		set(diracv1.ReconcilingCondition, metav1.ConditionFalse, diracv1.ReasonSucceeded, "Nothing left to do")
		set(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonSucceeded, "Not stalled")
	}
}

func stalled(reason, msg string) func(*diracv1.VOBoxIntervention) {
	return func(vbi *diracv1.VOBoxIntervention) {
		set := observe(vbi, diracv1.PhaseFailed)
		set(diracv1.ReadyCondition, metav1.ConditionFalse, reason, msg)
		set(diracv1.ReconcilingCondition, metav1.ConditionFalse, reason, "Stalled: "+msg)
		set(diracv1.StalledCondition, metav1.ConditionTrue, reason, msg)
	}
}

func suspended(vbi *diracv1.VOBoxIntervention) {
	set := observe(vbi, diracv1.PhaseSuspended)
	msg := "spec.suspend is true: no new step starts"
	set(diracv1.ReadyCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, msg)
	set(diracv1.ReconcilingCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, msg)
	set(diracv1.StalledCondition, metav1.ConditionFalse, diracv1.ReasonSuspended, msg)
}
