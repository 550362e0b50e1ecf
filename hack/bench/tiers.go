package main

// The tiers of the procedure, as the operator plans them, and the commands
// each tier runs on its hosts without any check: what pdsh and the SSH floor
// run. The operator and the Ansible playbook run the same commands with the
// procedure's checks around them.

// Paths of the lab's hosts (the operator's defaults).
const (
	diracRoot   = "/opt/dirac"
	mysqlServer = "/opt/dirac/pro/mysql/share/mysql/mysql.server"
	journalFrom = "/opt/dirac/mysql/log"
	journalTo   = "/home/dirac/mysql-log"
	reason      = "power stop"
)

// tier is one stage: the host group it runs on and the shell command each
// host runs ($1 is the host name). extra runs instead on the hosts of
// extraGroup (a subset of group), e.g. the InnoDB journal move.
type tier struct {
	name       string
	group      string
	command    string
	extraGroup string
	extra      string
}

const (
	cmdSetMaintenance   = `sms set maintenance 'power stop' other "$1"`
	cmdClearMaintenance = `sms clear maintenance 'power stop' "$1"`
	// cmdStop takes every startup link down and parks it, without waiting.
	cmdStop = `cd /opt/dirac && runsvctrl d startup/*; mkdir -p startup-save && mv -n startup/* startup-save/`
	// cmdRestore puts the parked links back (dot files, manifests, stay).
	cmdRestore     = `cd /opt/dirac && mv -n startup-save/* startup/`
	cmdStopDB      = mysqlServer + ` stop`
	cmdStartDB     = mysqlServer + ` start`
	cmdStopDBMoveJ = mysqlServer + ` stop; from=` + journalFrom + ` to=` + journalTo + `
if [ -d "$from" ] && [ ! -L "$from" ] && [ ! -e "$to" ]; then mv -T "$from" "$to"; fi
if [ ! -e "$from" ] && [ ! -L "$from" ] && [ -d "$to" ]; then ln -s "$to" "$from"; fi`
)

var downTiers = []tier{
	{name: "MaintenanceSet", group: groupAll, command: cmdSetMaintenance},
	{name: "AgentsStopped", group: groupAgents, command: cmdStop},
	{name: "ServicesStopped", group: groupServices + "," + groupFramework, command: cmdStop},
	{name: "DatabasesStopped", group: groupDatabase, command: cmdStopDB, extraGroup: groupInnodb, extra: cmdStopDBMoveJ},
}

var upTiers = []tier{
	{name: "DatabasesStarted", group: groupDatabase, command: cmdStartDB},
	{name: "FrameworkStarted", group: groupFramework, command: cmdRestore},
	{name: "ServicesStarted", group: groupServices, command: cmdRestore},
	{name: "AgentsStarted", group: groupAgents, command: cmdRestore},
	{name: "MaintenanceCleared", group: groupAll, command: cmdClearMaintenance},
}

func tiersOf(direction string) []tier {
	if direction == dirDown {
		return downTiers
	}
	return upTiers
}

// Directions.
const (
	dirDown = "Down"
	dirUp   = "Up"
)

// hostsOf lists the hosts of a tier's group(s) in lab order, with the
// command each runs.
func (l *benchLab) hostsOf(t tier) (names []string, commands map[string]string) {
	commands = map[string]string{}
	extra := map[string]bool{}
	for _, n := range l.groups[t.extraGroup] {
		extra[n] = true
	}
	member := map[string]bool{}
	for _, g := range splitComma(t.group) {
		for _, n := range l.groups[g] {
			member[n] = true
		}
	}
	for _, h := range l.Hosts {
		if !member[h.Name] {
			continue
		}
		names = append(names, h.Name)
		if extra[h.Name] {
			commands[h.Name] = t.extra
		} else {
			commands[h.Name] = t.command
		}
	}
	return names, commands
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
