package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// State is the desired state of every host of an intervention.
// +kubebuilder:validation:Enum=Down;Up
type State string

const (
	// StateDown takes the hosts down: maintenance set, agents, services and
	// databases stopped, startup links parked in startup-save.
	StateDown State = "Down"
	// StateUp brings the hosts back: databases, framework, services, agents,
	// then maintenance cleared.
	StateUp State = "Up"
)

// Role is what a VOBox does in the DIRAC installation.
// +kubebuilder:validation:Enum=Database;Framework;Services;Agents
type Role string

const (
	// RoleDatabase hosts run MySQL/MariaDB.
	RoleDatabase Role = "Database"
	// RoleFramework hosts run the Framework services, started before the others.
	RoleFramework Role = "Framework"
	// RoleServices hosts run DIRAC services.
	RoleServices Role = "Services"
	// RoleAgents hosts run DIRAC agents, stopped first and started last.
	RoleAgents Role = "Agents"
)

// FailurePolicy says what happens to the procedure when a host fails.
// +kubebuilder:validation:Enum=Halt;Continue
type FailurePolicy string

const (
	// FailurePolicyHalt stops the procedure before the next tier when a host fails.
	FailurePolicyHalt FailurePolicy = "Halt"
	// FailurePolicyContinue lets the other hosts carry on; the failed host takes
	// no further part and maintenance is not cleared.
	FailurePolicyContinue FailurePolicy = "Continue"
)

// VOBoxInterventionSpec is the desired state of an intervention.
// +kubebuilder:validation:XValidation:rule="!has(self.maintenance) || !has(self.maintenance.runOn) || self.hosts.exists(h, h.name == self.maintenance.runOn)",message="spec.maintenance.runOn must name a host listed in spec.hosts",fieldPath=".maintenance.runOn"
// +kubebuilder:validation:XValidation:rule="!has(self.database) || !has(self.database.innodbLog) || !has(self.database.innodbLog.hosts) || self.database.innodbLog.hosts.all(n, self.hosts.exists(h, h.name == n && 'Database' in h.roles))",message="spec.database.innodbLog.hosts must name hosts of spec.hosts with the Database role",fieldPath=".database.innodbLog.hosts"
// +kubebuilder:validation:XValidation:rule="!has(self.strategy) || !has(self.strategy.rolling) || has(self.cycle)",message="spec.strategy.rolling needs spec.cycle: a rolling cycle is triggered by a new cycle token",fieldPath=".strategy.rolling"
// +kubebuilder:validation:XValidation:rule="!has(self.cycle) || self.state == 'Up'",message="spec.cycle needs spec.state Up: a cycle takes the hosts down and ends Up",fieldPath=".cycle"
type VOBoxInterventionSpec struct {
	// State is the desired state of every listed host: Down or Up.
	// +required
	State State `json:"state"`

	// Reason says why, e.g. "power stop". It is passed to the maintenance
	// commands as {reason}.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9 ._:-]+$`
	Reason string `json:"reason"`

	// Suspend, when true, stops any new step from starting. Steps already
	// running finish; unsuspending carries on from the hosts' real state.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// SSH says how the operator logs in to the hosts.
	// +required
	SSH SSHSpec `json:"ssh"`

	// Layout is where DIRAC lives on the hosts.
	// +optional
	// +kubebuilder:default={}
	Layout LayoutSpec `json:"layout,omitempty"`

	// Hosts are the VOBoxes of the intervention. The list is immutable: a
	// different set of hosts is a new intervention.
	// +required
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.hosts is immutable: create a new intervention for a different set of hosts"
	// +kubebuilder:validation:XValidation:rule="self.map(h, has(h.address) ? h.address : h.name).distinct().size() == self.size()",message="spec.hosts[].address must be unique (an unset address defaults to the host name)"
	Hosts []HostSpec `json:"hosts"`

	// Maintenance is how hosts are put in and out of maintenance.
	// +optional
	// +kubebuilder:default={}
	Maintenance MaintenanceSpec `json:"maintenance,omitempty"`

	// Database configures the database tier.
	// +optional
	Database DatabaseSpec `json:"database,omitempty"`

	// Checks configures the checks made after starting components.
	// +optional
	// +kubebuilder:default={}
	Checks ChecksSpec `json:"checks,omitempty"`

	// Strategy configures parallelism, failure handling and timeouts.
	// +optional
	// +kubebuilder:default={}
	Strategy StrategySpec `json:"strategy,omitempty"`

	// Cycle, with state Up, asks for a whole Down → (reboot) → Up cycle each
	// time its value differs from status.observedCycle: committing a new
	// token (e.g. "kernel-2026-11-30") is how a patch round is triggered.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`
	Cycle string `json:"cycle,omitempty"`

	// Reboot, when set, makes the operator reboot each host after its Down
	// tiers and wait for it to come back (same pinned host key, new boot id)
	// before it goes on.
	// +optional
	Reboot *RebootSpec `json:"reboot,omitempty"`

	// Schedule says when the procedure may run: nothing starts before
	// notBefore or outside the window.
	// +optional
	Schedule *ScheduleSpec `json:"schedule,omitempty"`

	// Notify sends on-call messages (Down done, Up done, host failed,
	// awaiting approval) to the URLs held in a Secret.
	// +optional
	Notify *NotifySpec `json:"notify,omitempty"`
}

// RebootSpec is the operator-run reboot between Down and Up.
type RebootSpec struct {
	// Command is the argv that reboots a host, run on the host itself; the
	// placeholders {host} and {reason} are replaced; nothing goes through a
	// shell.
	// +optional
	// +kubebuilder:default={"sudo","/sbin/reboot"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^([^{}]|\{host\}|\{reason\})*$`
	Command []string `json:"command,omitempty"`

	// Timeout bounds the wait for a host to answer again with a new boot id.
	// +optional
	// +kubebuilder:default="15m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="spec.reboot.timeout must be between 1m and 24h"
	Timeout metav1.Duration `json:"timeout,omitzero"`
}

// Weekday is a day of the week, abbreviated as in Go's time package.
// +kubebuilder:validation:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
type Weekday string

// ScheduleSpec bounds when the procedure may act.
type ScheduleSpec struct {
	// NotBefore: no command runs before this time.
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`

	// Window is a recurring window outside which no new tier starts.
	// +optional
	Window *WindowSpec `json:"window,omitempty"`
}

// WindowSpec is a recurring weekly window, e.g. Tue and Thu 06:00–09:00
// Europe/Zurich. An end before the start crosses midnight: the window opens
// on a listed day and closes the next day.
type WindowSpec struct {
	// Days are the days the window opens on; empty means every day.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=7
	Days []Weekday `json:"days,omitempty"`

	// Start is the opening time, HH:MM (24 h) in TimeZone.
	// +required
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	Start string `json:"start"`

	// End is the closing time, HH:MM (24 h) in TimeZone; before Start, the
	// window crosses midnight.
	// +required
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	End string `json:"end"`

	// TimeZone is an IANA time zone name, e.g. Europe/Zurich.
	// +optional
	// +kubebuilder:default="UTC"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_+/-]+$`
	TimeZone string `json:"timeZone,omitempty"`
}

// NotifySpec is where on-call messages go.
type NotifySpec struct {
	// URLSecretRef names a Secret key holding one notification URL per line
	// (shoutrrr syntax: slack://, mattermost://, teams://, smtp://,
	// generic+https://…).
	// +required
	URLSecretRef SecretKeyReference `json:"urlSecretRef"`
}

// SecretKeyReference names one key of a Secret in the intervention's namespace.
type SecretKeyReference struct {
	// Name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// Key in the Secret's data.
	// +optional
	// +kubebuilder:default=url
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key,omitempty"`
}

// SSHSpec says how the operator logs in to the hosts.
type SSHSpec struct {
	// User is the remote login name.
	// +optional
	// +kubebuilder:default=dirac
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_-]*$`
	User string `json:"user,omitempty"`

	// Port is the default sshd port of the hosts.
	// +optional
	// +kubebuilder:default=22
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// SecretRef names a Secret of type kubernetes.io/ssh-auth in the
	// intervention's namespace, with the keys ssh-privatekey and known_hosts
	// (and passphrase when the key is encrypted). Host keys are always
	// verified against known_hosts.
	// +required
	SecretRef SecretReference `json:"secretRef"`

	// ConnectTimeout bounds the TCP connect and SSH handshake.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('10m')",message="spec.ssh.connectTimeout must be more than 0s and at most 10m"
	ConnectTimeout metav1.Duration `json:"connectTimeout,omitzero"`
}

// SecretReference names a Secret in the intervention's namespace.
type SecretReference struct {
	// Name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`
}

// LayoutSpec is where DIRAC lives on the hosts. Paths are absolute and clean:
// no "." or ".." segments, no "//", no shell metacharacters.
type LayoutSpec struct {
	// DiracRoot is the DIRAC installation root holding startup/, startup-save/
	// and runit/.
	// +optional
	// +kubebuilder:default="/opt/dirac"
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._+-]+)+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="spec.layout.diracRoot must not contain '.' or '..' segments"
	DiracRoot string `json:"diracRoot,omitempty"`

	// MysqlServer is the MySQL control script, called with start, stop and
	// status.
	// +optional
	// +kubebuilder:default="/opt/dirac/pro/mysql/share/mysql/mysql.server"
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._+-]+)+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="spec.layout.mysqlServer must not contain '.' or '..' segments"
	MysqlServer string `json:"mysqlServer,omitempty"`

	// RunitBin is a directory holding runsvctrl and runsvstat (runit 1.x) or
	// sv (runit 2), searched before the session's PATH, /sbin and /usr/sbin.
	// +optional
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._+-]+)+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="spec.layout.runitBin must not contain '.' or '..' segments"
	RunitBin string `json:"runitBin,omitempty"`
}

// HostSpec is one VOBox.
type HostSpec struct {
	// Name is the host's short name, e.g. volhcb20 (a DNS-1123 label).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// Address is the DNS name or IP literal to connect to; defaults to Name.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="isIP(self) || self.matches('^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?([.][A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$')",message="spec.hosts[].address must be a DNS name or an IP address"
	Address string `json:"address,omitempty"`

	// Port overrides spec.ssh.port for this host.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`

	// Roles are what the host runs; a host with several roles takes part in
	// each of its tiers.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	Roles []Role `json:"roles"`

	// Exclude names startup links (System_Component, e.g.
	// WorkloadManagement_SiteDirector) that are stopped and put aside with the
	// others but NOT restarted on Up.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][A-Za-z0-9_.-]*$`
	Exclude []string `json:"exclude,omitempty"`
}

// MaintenanceSpec is how hosts are put in and out of maintenance. The
// commands are argv templates: each element is passed as one argument, with
// the placeholders {host} and {reason} replaced; nothing goes through a shell.
type MaintenanceSpec struct {
	// Enabled runs the maintenance commands; false skips both tiers.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// Set is the argv that puts a host in maintenance.
	// +optional
	// +kubebuilder:default={"sms","set","maintenance","{reason}","other","{host}"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^([^{}]|\{host\}|\{reason\})*$`
	Set []string `json:"set,omitempty"`

	// Clear is the argv that takes a host out of maintenance.
	// +optional
	// +kubebuilder:default={"sms","clear","maintenance","{reason}","{host}"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^([^{}]|\{host\}|\{reason\})*$`
	Clear []string `json:"clear,omitempty"`

	// RunOn names one listed host that runs the commands for all hosts;
	// by default each host runs its own.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	RunOn string `json:"runOn,omitempty"`
}

// DatabaseSpec configures the database tier.
type DatabaseSpec struct {
	// InnodbLog moves the InnoDB journal off the database volume after the
	// database stops (step 3 of the procedure), leaving a symlink behind.
	// +optional
	InnodbLog *InnodbLogSpec `json:"innodbLog,omitempty"`

	// Service controls a system-managed MySQL/MariaDB (DIRAC v7 and later)
	// instead of layout.mysqlServer (the v6-era script under /opt/dirac).
	// +optional
	Service *DatabaseServiceSpec `json:"service,omitempty"`

	// KeepStopped makes a running mysqld on a Database host drift while the
	// intervention is Down (corrected under driftPolicy Correct). By
	// default databases may come back at boot, as the procedure expects,
	// and a running one is only recorded.
	// +optional
	KeepStopped bool `json:"keepStopped,omitempty"`
}

// DatabaseServiceSpec is a system-managed database, driven by argv templates
// (placeholders {host} and {reason}; nothing goes through a shell), e.g.
// ["sudo", "systemctl", "stop", "mariadb"].
type DatabaseServiceSpec struct {
	// Start is the argv that starts the database.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^([^{}]|\{host\}|\{reason\})*$`
	Start []string `json:"start"`

	// Stop is the argv that stops the database.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^([^{}]|\{host\}|\{reason\})*$`
	Stop []string `json:"stop"`

	// Ready is the argv that exits 0 when the server answers.
	// +optional
	// +kubebuilder:default={"mysqladmin","ping"}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^([^{}]|\{host\}|\{reason\})*$`
	Ready []string `json:"ready,omitempty"`
}

// InnodbLogSpec is the InnoDB journal move of step 3.
type InnodbLogSpec struct {
	// From is the journal directory, replaced by a symlink to To.
	// +optional
	// +kubebuilder:default="/opt/dirac/mysql/log"
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._+-]+)+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="spec.database.innodbLog.from must not contain '.' or '..' segments"
	From string `json:"from,omitempty"`

	// To is where the journal goes, e.g. /home/dirac/mysql-log.
	// +required
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._+-]+)+$`
	// +kubebuilder:validation:XValidation:rule="!self.matches('(^|/)[.][.]?(/|$)')",message="spec.database.innodbLog.to must not contain '.' or '..' segments"
	To string `json:"to"`

	// Hosts is the subset of Database hosts that move their journal; default all.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	Hosts []string `json:"hosts,omitempty"`
}

// ChecksSpec configures the checks made after starting components.
type ChecksSpec struct {
	// SettleDelay is the wait between the services being up and the agents
	// being started.
	// +optional
	// +kubebuilder:default="60s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="spec.checks.settleDelay must be at most 24h"
	SettleDelay metav1.Duration `json:"settleDelay,omitzero"`

	// ComponentUptime is how long a started component must stay up to pass.
	// +optional
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('1h')",message="spec.checks.componentUptime must be at most 1h"
	ComponentUptime metav1.Duration `json:"componentUptime,omitzero"`

	// ErrorPatterns are substrings that, found in the message of a log line
	// a component wrote since it started (what follows its level, or a whole
	// continuation line such as a traceback's), fail its check. The level
	// itself is errorLevels' business: a NOTICE line whose message holds
	// "ERROR:" (DIRAC's RequestHandler reporting an RPC's error) does not fail.
	// +optional
	// +kubebuilder:default={"Traceback"}
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	ErrorPatterns []string `json:"errorPatterns,omitempty"`

	// ErrorLevels are DIRAC log levels that fail a component's check when a
	// line written since it started carries one (the level token after
	// System/Component, e.g. "ERROR:").
	// +optional
	// +kubebuilder:default={"ERROR","FATAL"}
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:Enum=DEBUG;VERBOSE;INFO;WARN;NOTICE;ERROR;FATAL;ALWAYS
	ErrorLevels []string `json:"errorLevels,omitempty"`

	// StartFirst are link name patterns (shell globs) started first on a
	// host, each up for componentUptime before the rest.
	// +optional
	// +kubebuilder:default={"Configuration_*"}
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_.*?-]+$`
	StartFirst []string `json:"startFirst,omitempty"`

	// StartLast are link name patterns (shell globs) started last on a host.
	// +optional
	// +kubebuilder:default={"Framework_SystemAdministrator"}
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9_.*?-]+$`
	StartLast []string `json:"startLast,omitempty"`

	// DriftInterval is how often a complete intervention re-probes its hosts
	// (read-only, one session per host); 0s disables.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration('0s') || (duration(self) >= duration('10s') && duration(self) <= duration('24h'))",message="spec.checks.driftInterval must be 0s (off) or between 10s and 24h"
	DriftInterval metav1.Duration `json:"driftInterval,omitzero"`

	// RequireReboot makes Up wait until every host booted again since its
	// Down completed (a new boot id): the power stop really happened.
	// +optional
	RequireReboot bool `json:"requireReboot,omitempty"`
}

// StrategySpec configures parallelism, failure handling and timeouts.
type StrategySpec struct {
	// MaxParallel bounds the hosts of a tier worked on at once; 0 means all.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=256
	MaxParallel int32 `json:"maxParallel,omitempty"`

	// FailurePolicy is what a failed host does to the procedure.
	// +optional
	// +kubebuilder:default=Halt
	FailurePolicy FailurePolicy `json:"failurePolicy,omitempty"`

	// StepTimeout bounds every remote command and every step's wait.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('24h')",message="spec.strategy.stepTimeout must be between 1s and 24h"
	StepTimeout metav1.Duration `json:"stepTimeout,omitzero"`

	// StopTimeout is how long a component may take to stop before it is killed.
	// +optional
	// +kubebuilder:default="2m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('24h')",message="spec.strategy.stopTimeout must be at most 24h"
	StopTimeout metav1.Duration `json:"stopTimeout,omitzero"`

	// DriftPolicy is what a drift check does when a host left its state.
	// +optional
	// +kubebuilder:default=Correct
	DriftPolicy DriftPolicy `json:"driftPolicy,omitempty"`

	// Rolling, with spec.cycle, cycles hosts in batches instead of a full
	// stop: at most maxUnavailable hosts of a role out of service at once.
	// +optional
	Rolling *RollingSpec `json:"rolling,omitempty"`

	// Approvals are tiers the operator stops before until a person approves
	// them for this generation (kubectl vobox approve NAME TIER).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=12
	// +kubebuilder:validation:items:Enum=MaintenanceSet;AgentsStopped;ServicesStopped;DatabasesStopped;Rebooted;DatabasesStarted;FrameworkStarted;ServicesStarted;AgentsStarted;MaintenanceCleared
	Approvals []string `json:"approvals,omitempty"`
}

// DriftPolicy says what a drift check does.
// +kubebuilder:validation:Enum=Correct;Report
type DriftPolicy string

const (
	// DriftPolicyCorrect re-applies the host's steps for the current state.
	DriftPolicyCorrect DriftPolicy = "Correct"
	// DriftPolicyReport only reports: Ready=False, Stalled=True, reason Drifted.
	DriftPolicyReport DriftPolicy = "Report"
)

// RollingSpec is a rolling cycle.
type RollingSpec struct {
	// MaxUnavailable is how many hosts of one role may be out of service at once.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=256
	MaxUnavailable int32 `json:"maxUnavailable"`
}

// Phase is a one-word display summary of an intervention. Conditions, not
// the phase, are the contract.
// +kubebuilder:validation:Enum=Pending;ShuttingDown;Down;StartingUp;Up;Failed;Suspended
type Phase string

const (
	// PhasePending means nothing has run yet.
	PhasePending Phase = "Pending"
	// PhaseShuttingDown means the Down procedure is running.
	PhaseShuttingDown Phase = "ShuttingDown"
	// PhaseDown means every host reached Down.
	PhaseDown Phase = "Down"
	// PhaseStartingUp means the Up procedure is running.
	PhaseStartingUp Phase = "StartingUp"
	// PhaseUp means every host reached Up and every check passed.
	PhaseUp Phase = "Up"
	// PhaseFailed means the procedure is stalled on a failure.
	PhaseFailed Phase = "Failed"
	// PhaseSuspended means spec.suspend holds the procedure.
	PhaseSuspended Phase = "Suspended"
)

// HostPhase summarises one host.
// +kubebuilder:validation:Enum=Pending;Waiting;Working;Down;Rebooting;Up;Failed
type HostPhase string

const (
	// HostPending means the host has not been worked on for this state.
	HostPending HostPhase = "Pending"
	// HostWaiting means the host waits for an earlier tier or another holder.
	HostWaiting HostPhase = "Waiting"
	// HostWorking means a step runs on the host.
	HostWorking HostPhase = "Working"
	// HostDown means every Down tier of the host is done.
	HostDown HostPhase = "Down"
	// HostRebooting means the operator rebooted the host and waits for it.
	HostRebooting HostPhase = "Rebooting"
	// HostUp means every Up tier of the host is done and checked.
	HostUp HostPhase = "Up"
	// HostFailed means a step failed on the host; see message.
	HostFailed HostPhase = "Failed"
)

// TierState is where a tier of the plan is.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped
type TierState string

const (
	// TierPending means the tier has not started.
	TierPending TierState = "Pending"
	// TierRunning means some of the tier's hosts are being worked on.
	TierRunning TierState = "Running"
	// TierSucceeded means every host of the tier passed.
	TierSucceeded TierState = "Succeeded"
	// TierFailed means a host of the tier failed.
	TierFailed TierState = "Failed"
	// TierSkipped means the tier has nothing to do (no host, or disabled).
	TierSkipped TierState = "Skipped"
)

// TierStatus is one tier of the plan: a phase condition and its hosts.
type TierStatus struct {
	// Name is the phase condition type the tier sets, e.g. AgentsStopped.
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`
	// Hosts are the hosts taking part, in plan order.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=256
	Hosts []string `json:"hosts,omitempty"`
	// State is where the tier is.
	State TierState `json:"state"`
	// Done counts the hosts that passed the tier.
	// +optional
	Done int32 `json:"done,omitempty"`
	// StartedAt is when the tier's first step started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// FinishedAt is when the tier's last host passed or failed.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// StepStatus is the last remote command run on a host.
type StepStatus struct {
	// Name is the step, e.g. StopComponents.
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`
	// Command is the argv that ran (scripts shown by name, arguments in full).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Command []string `json:"command,omitempty"`
	// ExitCode is the remote exit status, absent when the command did not finish.
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// StartedAt is when the command started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// FinishedAt is when the command returned.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// Output is the tail of the command's output.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Output string `json:"output,omitempty"`
}

// HostStatus is what the controller knows of one host.
type HostStatus struct {
	// Name is the host's name in spec.hosts.
	Name string `json:"name"`
	// Phase summarises the host.
	// +optional
	Phase HostPhase `json:"phase,omitempty"`
	// CompletedTiers are the tiers of the current plan this host passed.
	// +optional
	// +listType=atomic
	CompletedTiers []string `json:"completedTiers,omitempty"`
	// SavedComponents are the startup links this intervention parked in
	// startup-save and will restore on Up.
	// +optional
	// +listType=atomic
	SavedComponents []string `json:"savedComponents,omitempty"`
	// ExcludedComponents are the links parked and never restored (spec exclude).
	// +optional
	// +listType=atomic
	ExcludedComponents []string `json:"excludedComponents,omitempty"`
	// KilledComponents are components that had to be killed after stopTimeout.
	// +optional
	// +listType=atomic
	KilledComponents []string `json:"killedComponents,omitempty"`
	// Findings are log lines that matched spec.checks.errorPatterns.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Findings []string `json:"findings,omitempty"`
	// LastStep is the last remote command run on the host.
	// +optional
	LastStep *StepStatus `json:"lastStep,omitempty"`
	// Reason is a CamelCase reason for the host's phase when it failed or waits.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says what the controller saw on the host, for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
	// WaitingSince is when the host started waiting in the current step (a
	// stop requested, a retry, a start): what timeouts are measured from.
	// +optional
	WaitingSince *metav1.Time `json:"waitingSince,omitempty"`
	// Attempts counts the consecutive transient failures of the current step.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// BootID is the host's boot id (/proc/sys/kernel/random/boot_id) when
	// its Down completed.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	BootID string `json:"bootID,omitempty"`
	// Rebooted is true once a probe saw a boot id other than BootID.
	// +optional
	Rebooted bool `json:"rebooted,omitempty"`
	// RebootedAt is when the operator saw the host back from its own reboot.
	// +optional
	RebootedAt *metav1.Time `json:"rebootedAt,omitempty"`
	// Drift is what the last drift check found out of place on the host.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Drift []string `json:"drift,omitempty"`
	// LastCheckedAt is when the host was last probed by a drift check.
	// +optional
	LastCheckedAt *metav1.Time `json:"lastCheckedAt,omitempty"`
}

// VOBoxInterventionStatus is the observed state of an intervention.
type VOBoxInterventionStatus struct {
	// ObservedGeneration is the generation the status describes; -1 before
	// the first reconcile, so a new object never reads as done.
	// +optional
	// +kubebuilder:default=-1
	ObservedGeneration int64 `json:"observedGeneration"`

	// ObservedState is the spec.state the plan and tiers were made for.
	// +optional
	ObservedState State `json:"observedState,omitempty"`

	// Phase is a display summary; use the conditions to make decisions.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// Conditions: Ready, Reconciling, Stalled and one per procedure phase.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=32
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Tiers is the plan for ObservedState, in order, with each tier's progress.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Tiers []TierStatus `json:"tiers,omitempty"`

	// Hosts is the per-host status.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Hosts []HostStatus `json:"hosts,omitempty"`

	// Progress counts host-tier steps done over the plan's total, e.g. 7/11.
	// +optional
	Progress string `json:"progress,omitempty"`

	// StartedAt is when the procedure for ObservedState started.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`

	// CompletedAt is when every host reached ObservedState.
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`

	// ObservedCycle is the spec.cycle token of the last completed cycle.
	// +optional
	ObservedCycle string `json:"observedCycle,omitempty"`

	// Approvals are the approvals of gated tiers for this generation,
	// copied from the intervention's approval annotations.
	// +optional
	// +listType=map
	// +listMapKey=tier
	// +kubebuilder:validation:MaxItems=12
	Approvals []ApprovalStatus `json:"approvals,omitempty"`

	// SSHSecretVersion is the resourceVersion of the spec.ssh.secretRef
	// Secret last loaded: a new one (a rotated key or known_hosts) retries
	// the hosts that failed on a host key or on authentication.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	SSHSecretVersion string `json:"sshSecretVersion,omitempty"`
}

// ApprovalStatus records who approved a gated tier and when.
type ApprovalStatus struct {
	// Tier is the approved tier, e.g. AgentsStarted.
	// +kubebuilder:validation:MaxLength=64
	Tier string `json:"tier"`
	// User is the approving user, as the API server authenticated them.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	User string `json:"user,omitempty"`
	// ApprovedAt is when the approval was given.
	// +optional
	ApprovedAt *metav1.Time `json:"approvedAt,omitempty"`
	// Generation is the spec generation approved.
	// +optional
	Generation int64 `json:"generation,omitempty"`
}

// VOBoxIntervention declares that a set of DIRAC VOBoxes must be Down or Up;
// the controller drives them there through the ordered power-stop procedure.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=vbi,categories=vobox
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.progress`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VOBoxIntervention struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state.
	// +required
	Spec VOBoxInterventionSpec `json:"spec"`

	// Status is the observed state.
	// +optional
	// +kubebuilder:default={"observedGeneration":-1}
	Status VOBoxInterventionStatus `json:"status,omitempty"`
}

// VOBoxInterventionList is a list of VOBoxIntervention.
//
// +kubebuilder:object:root=true
type VOBoxInterventionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the interventions.
	Items []VOBoxIntervention `json:"items"`
}

func init() {
	SchemeBuilder.Register(&VOBoxIntervention{}, &VOBoxInterventionList{})
}
