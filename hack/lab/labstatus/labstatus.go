package labstatus

import (
	"encoding/json"
	"time"
)

// Roles a lab host can have; the same strings as the VOBoxIntervention API.
const (
	RoleDatabase  = "Database"
	RoleFramework = "Framework"
	RoleServices  = "Services"
	RoleAgents    = "Agents"
)

// Kinds of component.
const (
	// KindService is a long-running DIRAC service: it stops on TERM.
	KindService = "service"
	// KindAgent is a DIRAC agent: it works in cycles and stops gracefully at
	// the end of a cycle once control/t has created its stop_agent file.
	KindAgent = "agent"
)

// Component states, as runsvstat would report them.
const (
	// StateRun: runsv reports the process running.
	StateRun = "run"
	// StateDown: no process, or runsv is not running at all.
	StateDown = "down"
	// StateFinish: the process exited and ./finish is running.
	StateFinish = "finish"
	// StateMissing: the runit directory or its supervise/status is missing
	// (the component never ran since the lab was created).
	StateMissing = "missing"
)

// Where a component's startup link is.
const (
	LinkInStartup     = "startup"
	LinkInStartupSave = "startup-save"
	LinkInBoth        = "both"
	LinkInNone        = "none"
)

// Maintenance states derived from the ledger.
const (
	MaintenanceSet   = "set"
	MaintenanceClear = "clear"
	MaintenanceNone  = "none"
)

// Lab is lab.json: what "lab up" created. It does not change while the lab
// runs (faults change the hosts, not the lab's shape).
type Lab struct {
	// Dir is the absolute lab folder.
	Dir string `json:"dir"`
	// Net is the address prefix: host addresses are <net>.X.Y.
	Net string `json:"net"`
	// Topology is "seed" or "hosts=N".
	Topology string `json:"topology"`
	// User is the account the hosts accept logins for (dirac).
	User string `json:"user"`
	// CreatedAt is when "up" finished.
	CreatedAt time.Time `json:"createdAt"`
	// Files are the generated files, absolute paths.
	Files Files `json:"files"`
	// Profile is the DIRAC site layout the hosts simulate (lab up's
	// --dirac, --runit, --mysql, --agent-cycle, --agent-work, --noise).
	Profile Profile `json:"profile"`
	// Hosts in address order.
	Hosts []LabHost `json:"hosts"`
}

// DIRAC releases the lab simulates (lab up --dirac): they differ in their
// log timestamps and in how HTTPS services are run.
const (
	// DiracV8 logs "2026-11-30 12:00:01 UTC System/Component LEVEL: message"
	// and runs every service under its own runit link.
	DiracV8 = "v8"
	// DiracV9 logs "2026-11-30T12:00:01,123456Z System/Component LEVEL:
	// message", runs the Configuration Server with tornado-start-CS and the
	// HTTPS services under one Tornado_Tornado link (tornado-start-all).
	DiracV9 = "v9"
)

// Where the runit 1.x tools are (lab up --runit).
const (
	// RunitLocal: runsvctrl and runsvstat in /usr/local/bin, on the PATH of
	// an SSH session.
	RunitLocal = "local"
	// RunitSbin: runsvctrl and runsvstat only in /sbin, which a non-login
	// SSH session's PATH does not hold.
	RunitSbin = "sbin"
	// RunitSV: no runsvctrl or runsvstat; only runit 2's sv (/usr/bin/sv).
	RunitSV = "sv"
	// RunitNone: no runit tool a session can run: neither runsvctrl and
	// runsvstat nor sv (/usr/bin/sv hidden by a file that is not
	// executable); runsvdir and runsv run as always. A host an operator
	// must refuse before anything moves.
	RunitNone = "none"
)

// How a Database host runs MariaDB (lab up --mysql).
const (
	// MySQLDirac: mariadbd runs as the lab user, controlled by
	// /opt/dirac/pro/mysql/share/mysql/mysql.server (DIRAC v6 layout).
	MySQLDirac = "dirac"
	// MySQLSystem: mariadbd runs as the mysql account with Debian's paths
	// (/var/lib/mysql, /run/mysqld/mysqld.sock); the lab user controls it
	// only through sudo: sudo /usr/local/sbin/lab-mysqld start|stop.
	MySQLSystem = "system"
)

// Profile is the site layout of a lab's hosts.
type Profile struct {
	// Dirac is DiracV8 or DiracV9.
	Dirac string `json:"dirac"`
	// Runit is RunitLocal, RunitSbin, RunitSV or RunitNone.
	Runit string `json:"runit"`
	// MySQL is MySQLDirac or MySQLSystem.
	MySQL string `json:"mysql"`
	// AgentCycle is the agents' PollingTime, e.g. "2s".
	AgentCycle string `json:"agentCycle"`
	// AgentWork is how long an agent's cycle works, during which it does
	// not look at stop_agent, e.g. "1s".
	AgentWork string `json:"agentWork"`
	// Noise is true when components log what busy real ones do: NOTICE
	// "Returning response … ERROR: …" lines of failed RPCs, and WARN/ERROR
	// "Can't update from any server" when started while no Configuration
	// Server answers.
	Noise bool `json:"noise"`
}

// Files are the paths of the files "lab up" wrote into the lab folder.
type Files struct {
	PrivateKey   string `json:"privateKey"`
	PublicKey    string `json:"publicKey"`
	KnownHosts   string `json:"knownHosts"`
	Secret       string `json:"secret"`
	Intervention string `json:"intervention"`
	Ledger       string `json:"ledger"`
}

// LabHost is one simulated VOBox.
type LabHost struct {
	Name    string   `json:"name"`
	Address string   `json:"address"`
	Port    int      `json:"port"`
	Roles   []string `json:"roles"`
	// Dir is the host's folder, <dir>/hosts/<name>; /opt/dirac inside the
	// host is Dir/opt-dirac and /home/dirac is Dir/home-dirac.
	Dir string `json:"dir"`
	// EventLog is Dir/events.log.
	EventLog string `json:"eventLog"`
	// Database is true when the host runs MariaDB.
	Database bool `json:"database"`
	// InnodbLogMove is true when the host is listed in the intervention's
	// database.innodbLog (the journal move of step 3).
	InnodbLogMove bool `json:"innodbLogMove,omitempty"`
	// Components the host runs under runit, in startup-link order.
	Components []LabComponent `json:"components"`
}

// LabComponent is one runit-supervised DIRAC component.
type LabComponent struct {
	// Name is the startup link name, System_Component.
	Name      string `json:"name"`
	System    string `json:"system"`
	Component string `json:"component"`
	// Kind is KindService or KindAgent.
	Kind string `json:"kind"`
	// RunitDir is the directory inside the host, /opt/dirac/runit/System/Component.
	RunitDir string `json:"runitDir"`
}

// HasRole reports whether the host has the role.
func (h LabHost) HasRole(role string) bool {
	for _, r := range h.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Host returns the named host of the lab, or false.
func (l *Lab) Host(name string) (LabHost, bool) {
	for _, h := range l.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return LabHost{}, false
}

// Status is the output of "lab status --json".
type Status struct {
	// Time is when the status was read.
	Time  time.Time    `json:"time"`
	Hosts []HostStatus `json:"hosts"`
}

// Host returns the named host's status, or false.
func (s *Status) Host(name string) (HostStatus, bool) {
	for _, h := range s.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return HostStatus{}, false
}

// HostStatus is one host's real state.
type HostStatus struct {
	Name    string   `json:"name"`
	Address string   `json:"address"`
	Roles   []string `json:"roles"`
	// Booted is true when the host's init process is alive (false between
	// the kill and the boot of a reboot, or after a failed boot).
	Booted bool `json:"booted"`
	// Reachable is true when an SSH login as the lab user succeeded, with
	// the host key checked against the lab's known_hosts.
	Reachable bool `json:"reachable"`
	// ReachError says why the login failed, when it did.
	ReachError string `json:"reachError,omitempty"`
	// Frozen is true between "lab freeze" and "lab thaw".
	Frozen bool `json:"frozen"`
	// BootID is what /proc/sys/kernel/random/boot_id reads inside the host:
	// new at every boot (lab reboot, or reboot on the host).
	BootID string `json:"bootId,omitempty"`
	// Components are the host's configured components.
	Components []ComponentStatus `json:"components"`
	// Startup maps each symlink in /opt/dirac/startup to its target.
	Startup map[string]string `json:"startup"`
	// StartupSave maps each symlink in /opt/dirac/startup-save to its target
	// (regular files such as an operator's manifest are left out).
	StartupSave map[string]string `json:"startupSave"`
	// StartupSaveExists is true when /opt/dirac/startup-save exists.
	StartupSaveExists bool            `json:"startupSaveExists"`
	MySQLD            MySQLDStatus    `json:"mysqld"`
	InnodbLog         InnodbLogStatus `json:"innodbLog"`
	// Maintenance is MaintenanceSet, MaintenanceClear or MaintenanceNone,
	// from the last sms call in the ledger that names this host.
	Maintenance string `json:"maintenance"`
	// Events are the last events of the host's event log, oldest first.
	Events []Event `json:"events"`
}

// Component returns the named component's status, or false.
func (h HostStatus) Component(name string) (ComponentStatus, bool) {
	for _, c := range h.Components {
		if c.Name == name {
			return c, true
		}
	}
	return ComponentStatus{}, false
}

// ComponentStatus is a component's runit state, read from its
// supervise/status file exactly as runsvstat reads it.
type ComponentStatus struct {
	// Name is the startup link name, System_Component.
	Name string `json:"name"`
	// Kind is KindService or KindAgent.
	Kind string `json:"kind"`
	// State is StateRun, StateDown, StateFinish or StateMissing.
	State string `json:"state"`
	// PID is the process id inside the host (what ps on the host shows);
	// 0 unless State is run or finish.
	PID int `json:"pid"`
	// Seconds since the state last changed.
	Seconds int `json:"seconds"`
	// Supervised is true when a runsv process supervises the directory.
	Supervised bool `json:"supervised"`
	// Want is "up" or "down": what runsv was last told.
	Want string `json:"want,omitempty"`
	// Paused is true after runsvctrl p.
	Paused bool `json:"paused,omitempty"`
	// GotTerm is true when runsv sent TERM and the process is still there.
	GotTerm bool `json:"gotTerm,omitempty"`
	// LinkIn is where the startup link is: LinkInStartup, LinkInStartupSave,
	// LinkInBoth or LinkInNone.
	LinkIn string `json:"linkIn"`
	// Break is the fault set with "lab break": errors, nostop, slowstop=N;
	// empty when none.
	Break string `json:"break,omitempty"`
}

// MySQLDStatus is the database state of a host.
type MySQLDStatus struct {
	// Present is true on Database hosts.
	Present bool `json:"present"`
	// Running is true when a mariadbd process runs on the host.
	Running bool `json:"running"`
	// PID is mariadbd's process id inside the host.
	PID int `json:"pid,omitempty"`
}

// InnodbLogStatus is where the InnoDB log group home is.
type InnodbLogStatus struct {
	// Path is always /opt/dirac/mysql/log.
	Path string `json:"path"`
	// Exists is true when Path exists (as a directory or a link).
	Exists bool `json:"exists"`
	// IsLink is true when Path is a symlink (the journal was moved).
	IsLink bool `json:"isLink"`
	// Target is the link's target when IsLink.
	Target string `json:"target"`
}

// LedgerEntry is one call of the sms command on a lab host.
type LedgerEntry struct {
	// Time of the call.
	Time time.Time `json:"time"`
	// Host is the host the command ran on (its hostname).
	Host string `json:"host"`
	// Args are the command's arguments, e.g. set maintenance "power stop"
	// other volhcb20.
	Args []string `json:"args"`
}

// Action is the first argument (set, clear, …) or "".
func (e LedgerEntry) Action() string {
	if len(e.Args) == 0 {
		return ""
	}
	return e.Args[0]
}

// IsMaintenance reports whether the call is "sms set|clear maintenance …".
func (e LedgerEntry) IsMaintenance() bool {
	return len(e.Args) >= 2 && (e.Args[0] == "set" || e.Args[0] == "clear") && e.Args[1] == "maintenance"
}

// Targets returns the hosts a maintenance call is about: the arguments after
// "maintenance" that name a host in hosts; if none does, the calling host.
func (e LedgerEntry) Targets(hosts map[string]bool) []string {
	var out []string
	if len(e.Args) > 2 {
		for _, a := range e.Args[2:] {
			if hosts[a] {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		out = []string{e.Host}
	}
	return out
}

// MaintenanceStates folds the ledger into each host's maintenance state:
// MaintenanceSet or MaintenanceClear after the last call naming it; hosts
// never named are absent from the map (MaintenanceNone).
func MaintenanceStates(entries []LedgerEntry, hosts map[string]bool) map[string]string {
	out := map[string]string{}
	for _, e := range entries {
		if !e.IsMaintenance() {
			continue
		}
		for _, h := range e.Targets(hosts) {
			out[h] = e.Args[0]
		}
	}
	return out
}

// MarshalIndent is json.MarshalIndent with the lab's indentation.
func MarshalIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
