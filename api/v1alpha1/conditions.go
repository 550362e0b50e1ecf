package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types. Ready, Reconciling and Stalled follow kstatus; the others
// are one per phase of the procedure, True once every host of that tier passed.
const (
	// ReadyCondition is True when every host is in spec.state and every check passed.
	ReadyCondition = "Ready"
	// ReconcilingCondition is True while the controller works towards spec.state.
	ReconcilingCondition = "Reconciling"
	// StalledCondition is True when progress needs a person: a failed host, a held lock, bad input.
	StalledCondition = "Stalled"

	// MaintenanceSetCondition is True once every host is in maintenance.
	MaintenanceSetCondition = "MaintenanceSet"
	// AgentsStoppedCondition is True once the agents of every Agents host are stopped and parked.
	AgentsStoppedCondition = "AgentsStopped"
	// ServicesStoppedCondition is True once the services of every Services and Framework host are stopped and parked.
	ServicesStoppedCondition = "ServicesStopped"
	// DatabasesStoppedCondition is True once every database is stopped (and its journal moved where configured).
	DatabasesStoppedCondition = "DatabasesStopped"
	// RebootedCondition is True once every host was rebooted by the operator and answered with a new boot id.
	RebootedCondition = "Rebooted"
	// DatabasesStartedCondition is True once every database runs.
	DatabasesStartedCondition = "DatabasesStarted"
	// FrameworkStartedCondition is True once the Framework hosts' services run and passed their checks.
	FrameworkStartedCondition = "FrameworkStarted"
	// ServicesStartedCondition is True once the other services run and passed their checks.
	ServicesStartedCondition = "ServicesStarted"
	// AgentsStartedCondition is True once the agents run and passed their checks.
	AgentsStartedCondition = "AgentsStarted"
	// MaintenanceClearedCondition is True once every host is out of maintenance.
	MaintenanceClearedCondition = "MaintenanceCleared"
)

// Condition reasons.
const (
	// ReasonSucceeded means the condition's work is done and checked.
	ReasonSucceeded = "Succeeded"
	// ReasonProgressing means work towards the condition is under way.
	ReasonProgressing = "Progressing"
	// ReasonPending means the condition's tier has not started yet.
	ReasonPending = "Pending"
	// ReasonNotApplicable means the tier has no work (no host of that role, or disabled).
	ReasonNotApplicable = "NotApplicable"
	// ReasonNewGeneration means the spec changed and the controller has not acted on it yet.
	ReasonNewGeneration = "NewGeneration"
	// ReasonSuspended means spec.suspend holds the procedure.
	ReasonSuspended = "Suspended"
	// ReasonHostLocked means another intervention holds a host's Lease.
	ReasonHostLocked = "HostLocked"
	// ReasonHostFailed means a host failed a step; the message names it.
	ReasonHostFailed = "HostFailed"
	// ReasonHalted means failurePolicy Halt stopped the procedure before the next tier.
	ReasonHalted = "Halted"
	// ReasonCompletedWithFailures means failurePolicy Continue finished with failed hosts.
	ReasonCompletedWithFailures = "CompletedWithFailures"
	// ReasonSecretNotFound means spec.ssh.secretRef names no Secret.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretInvalid means the Secret lacks a key or holds an unusable key or known_hosts.
	ReasonSecretInvalid = "SecretInvalid"
	// ReasonHostKeyUnknown means a host's key is not in known_hosts.
	ReasonHostKeyUnknown = "HostKeyUnknown"
	// ReasonHostKeyMismatch means a host presented a key other than the known one.
	ReasonHostKeyMismatch = "HostKeyMismatch"
	// ReasonHostKeyRevoked means a host presented a key marked @revoked in known_hosts.
	ReasonHostKeyRevoked = "HostKeyRevoked"
	// ReasonAuthFailed means the host refused the client key.
	ReasonAuthFailed = "AuthFailed"
	// ReasonUnreachable means the host could not be reached.
	ReasonUnreachable = "Unreachable"
	// ReasonStepTimeout means a step did not finish within stepTimeout.
	ReasonStepTimeout = "StepTimeout"
	// ReasonDiracRootMissing means spec.layout.diracRoot does not exist on the host.
	ReasonDiracRootMissing = "DiracRootMissing"
	// ReasonMysqlServerMissing means spec.layout.mysqlServer does not exist on the host.
	ReasonMysqlServerMissing = "MysqlServerMissing"
	// ReasonStartupSaveConflict means startup-save holds a different link of the same name.
	ReasonStartupSaveConflict = "StartupSaveConflict"
	// ReasonStartupConflict means startup holds a different link of a name to restore.
	ReasonStartupConflict = "StartupConflict"
	// ReasonLinkMissing means a link this intervention saved is in neither startup nor startup-save.
	ReasonLinkMissing = "LinkMissing"
	// ReasonJournalConflict means both the InnoDB journal and its destination exist as directories.
	ReasonJournalConflict = "JournalConflict"
	// ReasonDatabaseNotStopped means mysqld still runs after mysql.server stop.
	ReasonDatabaseNotStopped = "DatabaseNotStopped"
	// ReasonDatabaseNotStarted means mysqld does not run after mysql.server start.
	ReasonDatabaseNotStarted = "DatabaseNotStarted"
	// ReasonComponentNotUp means a started component did not stay up for componentUptime.
	ReasonComponentNotUp = "ComponentNotUp"
	// ReasonErrorsInLog means a started component logged lines matching errorPatterns.
	ReasonErrorsInLog = "ErrorsInLog"
	// ReasonCommandFailed means a remote command exited non-zero.
	ReasonCommandFailed = "CommandFailed"
	// ReasonExcludeNotFound means an exclude entry names no link on the host (a warning).
	ReasonExcludeNotFound = "ExcludeNotFound"
	// ReasonHostsLeftDown means the intervention was deleted while hosts were down.
	ReasonHostsLeftDown = "HostsLeftDown"
	// ReasonSecretNotAllowed means the Secret is not of type kubernetes.io/ssh-auth or lacks the dirac.vobox.io/ssh-key=true label.
	ReasonSecretNotAllowed = "SecretNotAllowed"
	// ReasonRunitToolsMissing means a host has neither runsvctrl/runsvstat nor sv where the operator looks.
	ReasonRunitToolsMissing = "RunitToolsMissing"
	// ReasonComponentStateUnknown means a probe could not read a component's runit state.
	ReasonComponentStateUnknown = "ComponentStateUnknown"
	// ReasonDatabaseNotReady means the database did not answer its readiness command.
	ReasonDatabaseNotReady = "DatabaseNotReady"
	// ReasonDrifted means a drift check found a host out of the intervention's state.
	ReasonDrifted = "Drifted"
	// ReasonWaitingForReboot means Up waits for hosts to boot again (checks.requireReboot).
	ReasonWaitingForReboot = "WaitingForReboot"
	// ReasonRebooting means the operator rebooted hosts and waits for them to answer.
	ReasonRebooting = "Rebooting"
	// ReasonRebootTimeout means a host did not answer with a new boot id within reboot.timeout.
	ReasonRebootTimeout = "RebootTimeout"
	// ReasonWaitingForWindow means the schedule holds the procedure; the message gives the next opening.
	ReasonWaitingForWindow = "WaitingForWindow"
	// ReasonInvalidSchedule means the schedule cannot be evaluated, e.g. an unknown time zone.
	ReasonInvalidSchedule = "InvalidSchedule"
	// ReasonAwaitingApproval means the next tier is gated until approved (kubectl vobox approve).
	ReasonAwaitingApproval = "AwaitingApproval"
)

// Annotations and labels.
const (
	// ApprovalAnnotationPrefix prefixes the annotation that approves a gated
	// tier: approval.dirac.vobox.io/<Tier>, its value an ApprovalRecord as JSON.
	ApprovalAnnotationPrefix = "approval.dirac.vobox.io/"
	// SSHKeyLabel marks a Secret of type kubernetes.io/ssh-auth as usable by
	// interventions (value "true").
	SSHKeyLabel = "dirac.vobox.io/ssh-key"
)

// ApprovalAnnotation is the annotation key that approves tier.
func ApprovalAnnotation(tier string) string { return ApprovalAnnotationPrefix + tier }

// ApprovalRecord is the value of an approval annotation, written by
// kubectl vobox approve and copied by the operator into status.approvals.
type ApprovalRecord struct {
	// User is the approving user, from a SelfSubjectReview.
	User string `json:"user"`
	// Time is when the approval was given, RFC 3339.
	Time metav1.Time `json:"time"`
	// Generation is the metadata.generation the approval is for.
	Generation int64 `json:"generation"`
}
