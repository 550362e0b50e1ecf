package labstatus

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// TimeFormat is the timestamp of event-log and ledger lines: UTC with
// nanoseconds, always nine digits, so lines sort as text.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// Event kinds. An event-log line is
//
//	<time> <kind> <subject> <detail>
//
// with <time> in TimeFormat, <kind> and <subject> single words ("-" for no
// subject) and <detail> the rest of the line (possibly empty), usually
// key=value pairs.
const (
	// EventBoot: the host's init started (subject: host name). Every other
	// process of the host starts after it.
	EventBoot = "boot"
	// EventReboot: "lab reboot" is about to kill every process of the host
	// (subject: host name). A boot event follows.
	EventReboot = "reboot"
	// EventFreeze / EventThaw: "lab freeze" / "lab thaw" (subject: host
	// name; thaw's detail: processes=<n> continued).
	EventFreeze = "freeze"
	EventThaw   = "thaw"
	// EventRekey: "lab rekey" replaced the host key (subject: host name;
	// detail: fingerprint=SHA256:…).
	EventRekey = "rekey"
	// EventKillSSHD: "lab kill-sshd", before the kill (subject: sshd).
	EventKillSSHD = "kill-sshd"
	// EventSSHDStart / EventSSHDExit: the host's sshd listener started or
	// exited (subject: sshd; detail: pid=<pid> [status=…]).
	EventSSHDStart = "sshd-start"
	EventSSHDExit  = "sshd-exit"
	// EventRunsvdirStart: runsvdir /opt/dirac/startup started as the lab user
	// (subject: runsvdir; detail: pid=<pid>).
	EventRunsvdirStart = "runsvdir-start"
	// EventBreak: "lab break" set a component's fault (subject:
	// System_Component; detail: mode=errors|nostop|slowstop=N|none).
	EventBreak = "break"
	// EventComponentStart: a component's process started; logged by the
	// component itself as its first action (subject: System_Component;
	// detail: pid=<pid> kind=service|agent break=<mode>).
	EventComponentStart = "component-start"
	// EventComponentStop: a component is exiting on its own after a stop
	// request (subject: System_Component; detail: reason=TERM|stop_agent
	// [delay=N]). A component killed with KILL logs none.
	EventComponentStop = "component-stop"
	// EventComponentExit: runsv ran ./finish after the process ended,
	// however it ended (subject: System_Component; detail: code=<exit code
	// or -1> signal=<signal or 0>).
	EventComponentExit = "component-exit"
	// EventRunsvctrl: runsvctrl was called (subject: the control letter, e.g.
	// d; detail: the service directories as given).
	EventRunsvctrl = "runsvctrl"
	// EventMySQLServer: mysql.server was called with start, stop or restart
	// (subject: the action; detail: by=<user>).
	EventMySQLServer = "mysql.server"
	// EventMySQLDStart: mariadbd answers on its socket (subject: mysqld;
	// detail: pid=<pid>).
	EventMySQLDStart = "mysqld-start"
	// EventMySQLDStop: mariadbd is gone after mysql.server stop (subject:
	// mysqld; detail: pid=<pid>).
	EventMySQLDStop = "mysqld-stop"
	// EventSMS: sms was called (subject: its first argument, e.g. set;
	// detail: the remaining arguments, shell-quoted).
	EventSMS = "sms"
	// EventSV: runit 2's sv was called on the host (subject: its command,
	// e.g. down; detail: the services as given). Hosts of --runit sv only.
	EventSV = "sv"
	// EventRotate: "lab rotate" made svlogd rotate log/current (subject:
	// System_Component).
	EventRotate = "rotate"
	// EventSudo: a command the lab user may run as root through sudo
	// (subject: reboot or lab-mysqld; detail: its arguments).
	EventSudo = "sudo"
)

// Event is one line of a host's event log.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	Detail  string    `json:"detail"`
}

// String formats the event as an event-log line (without the newline).
func (e Event) String() string {
	subject := e.Subject
	if subject == "" {
		subject = "-"
	}
	s := e.Time.UTC().Format(TimeFormat) + " " + e.Kind + " " + subject
	if e.Detail != "" {
		s += " " + e.Detail
	}
	return s
}

// Field returns the value of key=value in Detail, or "".
func (e Event) Field(key string) string {
	for _, f := range strings.Fields(e.Detail) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// ParseEvent parses one event-log line.
func ParseEvent(line string) (Event, error) {
	parts := strings.SplitN(strings.TrimRight(line, "\r\n"), " ", 4)
	if len(parts) < 3 {
		return Event{}, fmt.Errorf("malformed event line %q", line)
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return Event{}, fmt.Errorf("malformed time in event line %q: %w", line, err)
	}
	e := Event{Time: t.UTC(), Kind: parts[1], Subject: parts[2]}
	if e.Subject == "-" {
		e.Subject = ""
	}
	if len(parts) == 4 {
		e.Detail = parts[3]
	}
	return e, nil
}

// ParseEvents reads an event log, skipping malformed lines (a line cut short
// by a host killed while writing it), and sorts the events by time: writers
// take the time before appending, so the file order may differ by a few
// microseconds between concurrent processes.
func ParseEvents(r io.Reader) ([]Event, error) {
	out, err := parseLines(r, ParseEvent)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, err
}

// ReadEvents reads the event log at path; a missing file has no events.
func ReadEvents(path string) ([]Event, error) { return readLog(path, ParseEvents) }

// ParseLedger reads ledger lines: one JSON LedgerEntry per line. Malformed
// lines are skipped.
func ParseLedger(r io.Reader) ([]LedgerEntry, error) {
	return parseLines(r, func(line string) (LedgerEntry, error) {
		var e LedgerEntry
		err := json.Unmarshal([]byte(line), &e)
		return e, err
	})
}

// ReadLedger reads the ledger at path; a missing file is an empty ledger.
func ReadLedger(path string) ([]LedgerEntry, error) { return readLog(path, ParseLedger) }

// parseLines parses each line of a log with parse, in file order, and skips
// the lines parse rejects: blank ones, and ones cut short by a process killed
// while writing them. A line may be up to 1 MiB long.
func parseLines[T any](r io.Reader, parse func(line string) (T, error)) ([]T, error) {
	var out []T
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if v, err := parse(sc.Text()); err == nil {
			out = append(out, v)
		}
	}
	return out, sc.Err()
}

// readLog opens the log at path and parses it with parse; a missing file
// holds nothing.
func readLog[T any](path string, parse func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f)
}

// Filter returns the events of the given kind and, if subject is not empty,
// that subject.
func Filter(events []Event, kind, subject string) []Event {
	var out []Event
	for _, e := range events {
		if e.Kind == kind && (subject == "" || e.Subject == subject) {
			out = append(out, e)
		}
	}
	return out
}
