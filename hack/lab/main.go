// Command lab runs a testbed of simulated DIRAC VOBoxes on one Linux machine:
// each host has its own mount, PID and UTS namespaces, its own sshd on its own
// loopback address, runit supervising DIRAC components under /opt/dirac, and
// on Database hosts a real MariaDB. See README.md for the verbs and layout.
//
//	go run ./hack/lab up --topology seed      # the procedure's 11 hosts
//	go run ./hack/lab status --json
//	go run ./hack/lab down
//
// The same binary is also, inside every host, runsvctrl, runsvstat, sms,
// reboot and (with --runit sv) the wrapper of sv, selected by the name it is
// called by; and each host's init and, outside it, its power supervisor.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// usageText is printed by "lab help" and on a usage error.
const usageText = `usage: lab [--dir DIR] VERB [flags] [args]

Verbs:
  up --topology seed | --hosts N  [--net 127.1] [--timeout D] [--keep-on-failure]
     [--dirac v8|v9] [--runit local|sbin|sv] [--mysql dirac|system]
     [--agent-cycle 2s] [--agent-work D] [--noise auto|on|off]
  down
  status [--json] [--events N] [--no-ssh]
  events HOST [--json] [--kind KIND]
  ledger [--json]
  reboot HOST... | --all  [--no-wait]
  freeze HOST             SIGSTOP every process of the host (sshd included)
  thaw HOST               SIGCONT them
  kill-sshd HOST          kill the host's sshd and its sessions
  start-sshd HOST         start it again
  rekey HOST              new host key; sshd restarted, connections dropped;
                          known_hosts and secret.yaml are rewritten
  break HOST COMPONENT errors|nostop|slowstop=N|none
  rotate HOST [COMPONENT...]  make svlogd rotate log/current now (@*.s files)
  ssh HOST [COMMAND...]   log in as the lab user with the lab's key

Global flags (before or after the verb):
  --dir DIR   the lab folder (default: $VOBOX_LAB_DIR, else ./.lab)
`

// toolNames are the commands the binary provides inside the hosts.
var toolNames = map[string]func(args []string) int{
	"runsvctrl": toolRunsvctrl,
	"runsvstat": toolRunsvstat,
	"sms":       toolSMS,
	"reboot":    toolReboot,
	"sv":        toolSV,
}

func main() {
	if tool, ok := toolNames[filepath.Base(os.Args[0])]; ok {
		os.Exit(tool(os.Args[1:]))
	}
	if err := run(os.Args[1:]); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(os.Stderr, "lab: %v\n\n%s", err, usageText)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// options holds every flag of every verb; each verb reads the ones it uses.
type options struct {
	dir            string
	net            string
	topology       string
	hosts          int
	agentCycle     time.Duration
	agentWork      time.Duration
	dirac          string
	runit          string
	mysql          string
	noise          string
	timeout        time.Duration
	keepOnFailure  bool
	json           bool
	events         int
	noSSH          bool
	kind           string
	all            bool
	noWait         bool
	initHost       string
	positional     []string
	verb           string
	dirFromDefault bool
}

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	fs.StringVar(&o.dir, "dir", "", "lab folder")
	fs.StringVar(&o.net, "net", "127.1", "address prefix 127.A: hosts get 127.A.X.Y")
	fs.StringVar(&o.topology, "topology", "", "seed")
	fs.IntVar(&o.hosts, "hosts", 0, "scaled topology with N hosts")
	fs.DurationVar(&o.agentCycle, "agent-cycle", 2*time.Second, "agents' PollingTime")
	fs.DurationVar(&o.agentWork, "agent-work", 0, "how long an agent's cycle works (default: half of --agent-cycle)")
	// TODO(issue 15): the default becomes v9 once the operator reads v9 logs.
	fs.StringVar(&o.dirac, "dirac", labstatus.DiracV9, "DIRAC release simulated: v8 or v9")
	fs.StringVar(&o.runit, "runit", labstatus.RunitLocal, "runit tools: local, sbin, sv or none")
	fs.StringVar(&o.mysql, "mysql", labstatus.MySQLDirac, "MariaDB layout: dirac or system")
	fs.StringVar(&o.noise, "noise", "auto", "RPC error and CS-down log lines: on, off, auto (on for v9)")
	fs.DurationVar(&o.timeout, "timeout", 0, "how long up and reboot wait for the hosts (default scales with the host count)")
	fs.BoolVar(&o.keepOnFailure, "keep-on-failure", false, "leave a failed lab up for inspection")
	fs.BoolVar(&o.json, "json", false, "JSON output")
	fs.IntVar(&o.events, "events", 20, "status: last events per host (-1: all)")
	fs.BoolVar(&o.noSSH, "no-ssh", false, "status: skip the SSH login probe")
	fs.StringVar(&o.kind, "kind", "", "events: only this kind")
	fs.BoolVar(&o.all, "all", false, "reboot: every host")
	fs.BoolVar(&o.noWait, "no-wait", false, "reboot: return once the host is booting")
	fs.StringVar(&o.initHost, "host", "", "init: the host to boot (internal)")
	return fs
}

// parseArgs parses flags anywhere on the command line (Go's flag package
// stops at the first positional argument, but "reboot volhcb20 --dir X" must
// work). After "ssh HOST" everything is the remote command, verbatim.
func parseArgs(args []string) (*options, error) {
	o := &options{}
	fs := newFlagSet(o)
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, usagef("%v", err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		o.positional = append(o.positional, rest[0])
		rest = rest[1:]
		if o.positional[0] == "ssh" && len(o.positional) >= 2 {
			// ssh HOST takes the remainder verbatim as the remote command.
			o.positional = append(o.positional, rest...)
			rest = nil
			break
		}
	}
	if len(o.positional) == 0 {
		return nil, usagef("no verb")
	}
	o.verb, o.positional = o.positional[0], o.positional[1:]
	if o.dir == "" {
		o.dir = os.Getenv("VOBOX_LAB_DIR")
	}
	if o.dir == "" {
		o.dir = ".lab"
		o.dirFromDefault = true
	}
	abs, err := filepath.Abs(o.dir)
	if err != nil {
		return nil, fmt.Errorf("failed to make --dir absolute: %w", err)
	}
	o.dir = abs
	return o, nil
}

func run(args []string) error {
	o, err := parseArgs(args)
	if err != nil {
		return err
	}
	switch o.verb {
	case "help", "-h", "--help":
		fmt.Print(usageText)
		return nil
	case "up":
		return cmdUp(o)
	case "down":
		return cmdDown(o)
	case "status":
		return cmdStatus(o)
	case "events":
		return cmdEvents(o)
	case "ledger":
		return cmdLedger(o)
	case "reboot":
		return cmdReboot(o)
	case "freeze":
		return cmdFreeze(o)
	case "thaw":
		return cmdThaw(o)
	case "kill-sshd":
		return cmdKillSSHD(o)
	case "start-sshd":
		return cmdStartSSHD(o)
	case "rekey":
		return cmdRekey(o)
	case "break":
		return cmdBreak(o)
	case "ssh":
		return cmdSSH(o)
	case "rotate":
		return cmdRotate(o)
	case "power":
		return cmdPower(o)
	case "init":
		return cmdInit(o)
	default:
		return usagef("unknown verb %q", o.verb)
	}
}

// oneHost returns the single HOST argument of a verb.
func (o *options) oneHost() (string, error) {
	if len(o.positional) != 1 {
		return "", usagef("%s takes exactly one HOST", o.verb)
	}
	return o.positional[0], nil
}
