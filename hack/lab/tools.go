package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// The commands below run inside the hosts, as the lab user, through links
// in /usr/local/bin. They log to the host's event log when it is there and
// are silent about it otherwise.

// hostEvent appends to the host's event log, if this runs inside a host.
func hostEvent(kind, subject, detail string) {
	path := filepath.Join(inHostHostDir, "events.log")
	if _, err := os.Stat(path); err != nil {
		return
	}
	_ = appendEvent(path, kind, subject, detail)
}

// toolRunsvctrl is runit 1.x's runsvctrl: "runsvctrl ctrl service...",
// writing the control character to each service's supervise/control. It
// exits with the number of services it failed to control (at most 100).
func toolRunsvctrl(args []string) int {
	const prog = "runsvctrl"
	usage := func() int {
		fmt.Fprintf(os.Stderr, "usage: %s u|d|o|p|c|h|a|i|q|1|2|t|k|x|e service ...\n", prog)
		return 1
	}
	if len(args) < 2 || args[0] == "" {
		return usage()
	}
	c := args[0][0]
	if !strings.ContainsRune("udoxepchaitkq12", rune(c)) {
		return usage()
	}
	hostEvent(labstatus.EventRunsvctrl, string(c), strings.Join(args[1:], " "))
	rc := 0
	warn := func(m1, m2 string, err error) {
		rc++
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: warning: %s: %s: %s\n", prog, m1, m2, djbError(err))
		} else {
			fmt.Fprintf(os.Stderr, "%s: warning: %s: %s\n", prog, m1, m2)
		}
	}
	for _, dir := range args[1:] {
		if err := checkChdir(dir); err != nil {
			warn(dir, "unable to change directory", err)
			continue
		}
		fd, err := syscall.Open(filepath.Join(dir, "supervise", "control"), syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) {
				warn(dir, "supervise not running.", nil)
			} else {
				warn(dir, "unable to open supervise/control", err)
			}
			continue
		}
		if n, err := syscall.Write(fd, []byte{c}); n != 1 {
			if err == nil {
				err = syscall.EIO
			}
			warn(dir, "unable to write to supervise/control", err)
		}
		syscall.Close(fd)
	}
	return min(rc, 100)
}

// checkChdir fails like chdir(2) would.
func checkChdir(dir string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return syscall.ENOTDIR
	}
	return syscall.Access(dir, 1) // X_OK
}

// toolRunsvstat is runit 1.x's runsvstat: "runsvstat [-l] service...".
func toolRunsvstat(args []string) int {
	const prog = "runsvstat"
	showLog := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		if args[0] == "--" {
			args = args[1:]
			break
		}
		for _, f := range args[0][1:] {
			switch f {
			case 'l':
				showLog = true
			default:
				fmt.Fprintf(os.Stderr, "usage: %s [ -l ] service ...\n", prog)
				return 1
			}
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintf(os.Stderr, "usage: %s [ -l ] service ...\n", prog)
		return 1
	}
	rc := 0
	warn := func(m1, m2 string, err error) {
		rc++
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: warning: %s: %s: %s\n", prog, m1, m2, djbError(err))
		} else {
			fmt.Fprintf(os.Stderr, "%s: warning: %s: %s\n", prog, m1, m2)
		}
	}
	now := time.Now()
	show := func(dir, name string) (string, bool) {
		normallyUp := false
		if _, err := os.Stat(filepath.Join(dir, "down")); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				warn(name, "unable to stat down", err)
				return "", false
			}
			normallyUp = true
		}
		running, err := runsvRunning(dir)
		if err != nil {
			warn(name, "unable to open supervise/ok", err)
			return "", false
		}
		if !running {
			warn(name, "runsv not running.", nil)
			return "", false
		}
		b, err := os.ReadFile(filepath.Join(dir, "supervise", "status"))
		if err != nil {
			warn(name, "unable to open supervise/status", err)
			return "", false
		}
		s, err := parseSuperviseStatus(b)
		if err != nil {
			warn(name, "unable to read supervise/status: bad format.", nil)
			return "", false
		}
		return formatRunsvstat(name, s, normallyUp, now), true
	}
	var out strings.Builder
	for _, dir := range args {
		if err := checkChdir(dir); err != nil {
			warn(dir, "unable to change directory", err)
			continue
		}
		line, ok := show(dir, dir)
		if !ok {
			continue
		}
		out.WriteString(line)
		if showLog {
			logDir := filepath.Join(dir, "log")
			if st, err := os.Stat(logDir); err != nil {
				if !errors.Is(err, os.ErrNotExist) {
					warn("unable to stat()", "./log", err)
				}
			} else if !st.IsDir() {
				warn("./log", "not a directory.", nil)
			} else if l, ok := show(logDir, "\n  log"); ok {
				out.WriteString(l)
			}
		}
		out.WriteString("\n")
		os.Stdout.WriteString(out.String())
		out.Reset()
	}
	return min(rc, 100)
}

// toolSMS records "sms ARGS…" (e.g. sms set maintenance 'power stop' other
// volhcb20) in the lab-wide ledger with the calling host and the time.
func toolSMS(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: sms set|clear maintenance REASON [other] HOST...")
		return 1
	}
	host, _ := os.Hostname()
	entry := labstatus.LedgerEntry{Time: time.Now().UTC(), Host: host, Args: args}
	b, err := json.Marshal(entry)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sms: %v\n", err)
		return 1
	}
	f, err := os.OpenFile(inHostLedger, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sms: cannot reach the SMS service: %v\n", err)
		return 1
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sms: failed to record the request: %v\n", err)
		return 1
	}
	hostEvent(labstatus.EventSMS, args[0], shellJoin(args[1:]))
	fmt.Printf("sms: %s recorded for %s\n", shellJoin(args), host)
	return 0
}

// shellJoin quotes arguments for display, the way a shell would need them.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = shellQuote(a)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// inLabHost reports whether this process runs inside a lab host: the lab's
// init is PID 1 and the host folder is mounted. The host's reboot acts only
// then.
func inLabHost() bool {
	if _, err := os.Stat(filepath.Join(inHostHostDir, "host.json")); err != nil {
		return false
	}
	comm, err := os.ReadFile("/proc/1/comm")
	return err == nil && strings.TrimSpace(string(comm)) == binName
}

// toolReboot is the host's /sbin/reboot (run as root through sudo): it asks
// the host's init to end the host (SIGUSR2), and the host's power
// supervisor boots it again, as "lab reboot" does: new boot id, sshd with
// the same host key, the startup links started by runsvdir. It returns at
// once; the caller's SSH session drops a moment later.
func toolReboot(args []string) int {
	if !inLabHost() {
		fmt.Fprintln(os.Stderr, "reboot: not inside a vobox lab host: refusing")
		return 1
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "reboot: must be root (sudo /sbin/reboot)")
		return 1
	}
	by := os.Getenv("SUDO_USER")
	if by == "" {
		by = "root"
	}
	host, _ := os.Hostname()
	hostEvent(labstatus.EventSudo, "reboot", shellJoin(append([]string{"by=" + by}, args...)))
	hostEvent(labstatus.EventReboot, host, "by="+by)
	if err := syscall.Kill(1, syscall.SIGUSR2); err != nil {
		fmt.Fprintf(os.Stderr, "reboot: failed to signal init: %v\n", err)
		return 1
	}
	return 0
}

// toolSV is /usr/bin/sv on --runit sv hosts: it logs an sv event (subject:
// the command, detail: the services) and runs runit 2's own sv.
func toolSV(args []string) int {
	var command string
	var services []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case command == "" && a == "-w" && i+1 < len(args):
			i++
		case command == "" && strings.HasPrefix(a, "-") && len(a) > 1:
		case command == "":
			command = a
		default:
			services = append(services, a)
		}
	}
	if command != "" {
		hostEvent(labstatus.EventSV, command, strings.Join(services, " "))
	}
	err := syscall.Exec(svReal, append([]string{"sv"}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "sv: failed to run runit's sv: %v\n", err)
	return 111
}
