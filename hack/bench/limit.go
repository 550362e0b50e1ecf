package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// The physical limit of a direction is the sum over its tiers of the slowest
// host's own time for that tier's work, read from the hosts' event logs of
// one run: what the hosts needed with no orchestration at all.
//
//   - maintenance (sms): an instant on the host (0).
//   - stopping components: from runsvctrl d to the last component-exit
//     (an agent finishes its cycle first, up to --agent-cycle).
//   - stopping a database: from mysql.server stop to mysqld-stop.
//   - starting a database: from mysql.server start to mysqld-start; 0 when
//     mysqld already runs (the hosts' boot started it).
//   - starting components: from the links' restore (the mtime of
//     /opt/dirac/startup) to the last component-start (runsvdir rescans
//     every 5 s), plus componentUptime, which the check requires.

// tierLimit is the limit of one tier.
type tierLimit struct {
	Tier    string  `json:"tier"`
	Seconds float64 `json:"seconds"`
	Host    string  `json:"host,omitempty"`
}

// limitOf computes the limit of one direction from events in [from, to].
func (l *benchLab) limitOf(direction string, events map[string][]labstatus.Event, from, to time.Time, uptime time.Duration) (float64, []tierLimit) {
	total := 0.0
	var out []tierLimit
	for _, t := range tiersOf(direction) {
		names, _ := l.hostsOf(t)
		tl := tierLimit{Tier: t.name}
		for _, n := range names {
			d := l.hostTime(t, n, window(events[n], from, to), uptime)
			if s := d.Seconds(); s > tl.Seconds {
				tl.Seconds, tl.Host = s, n
			}
		}
		total += tl.Seconds
		out = append(out, tl)
	}
	return total, out
}

func window(ev []labstatus.Event, from, to time.Time) []labstatus.Event {
	var out []labstatus.Event
	for _, e := range ev {
		if !e.Time.Before(from) && !e.Time.After(to) {
			out = append(out, e)
		}
	}
	return out
}

// hostTime is one host's own time for one tier's work.
func (l *benchLab) hostTime(t tier, name string, ev []labstatus.Event, uptime time.Duration) time.Duration {
	first := func(kind, subject string) (time.Time, bool) {
		for _, e := range ev {
			if e.Kind == kind && (subject == "" || e.Subject == subject) {
				return e.Time, true
			}
		}
		return time.Time{}, false
	}
	lastAfter := func(kind string, after time.Time) (time.Time, bool) {
		var last time.Time
		ok := false
		for _, e := range ev {
			if e.Kind == kind && !e.Time.Before(after) {
				last, ok = e.Time, true
			}
		}
		return last, ok
	}
	switch t.name {
	case "AgentsStopped", "ServicesStopped":
		d, ok := first(labstatus.EventRunsvctrl, "d")
		if !ok {
			return 0
		}
		if end, ok := lastAfter(labstatus.EventComponentExit, d); ok {
			return end.Sub(d)
		}
	case "DatabasesStopped":
		if s, ok := first(labstatus.EventMySQLServer, "stop"); ok {
			if end, ok := lastAfter(labstatus.EventMySQLDStop, s); ok {
				return end.Sub(s)
			}
		}
	case "DatabasesStarted":
		if s, ok := first(labstatus.EventMySQLServer, "start"); ok {
			if end, ok := lastAfter(labstatus.EventMySQLDStart, s); ok {
				return end.Sub(s)
			}
		}
	case "FrameworkStarted", "ServicesStarted", "AgentsStarted":
		restored := l.startupMTime(name)
		if end, ok := lastAfter(labstatus.EventComponentStart, restored); ok && len(ev) > 0 && !restored.Before(ev[0].Time.Add(-time.Minute)) {
			return end.Sub(restored) + uptime
		}
	}
	return 0
}

// firstEvent is the earliest event of any host in [from, to], or zero.
func firstEvent(events map[string][]labstatus.Event, from, to time.Time) (time.Time, string) {
	var best time.Time
	host := ""
	for n, ev := range events {
		for _, e := range window(ev, from, to) {
			if e.Kind == labstatus.EventReboot || e.Kind == labstatus.EventBoot {
				continue
			}
			if best.IsZero() || e.Time.Before(best) {
				best, host = e.Time, n
			}
			break
		}
	}
	return best, host
}

// touchWatch records when an orchestrator first reaches a host after it is
// armed: the first login sshd accepts ("Accepted publickey" in sshd.log) or
// the first event a command logs (sms, runsvctrl, mysql.server) in
// events.log, whichever comes first. inotify timestamps the write when it
// happens, which sshd's log, without timestamps, cannot.
type touchWatch struct {
	f     *os.File
	files map[int32]*watchedFile
	mu    sync.Mutex
	first time.Time
	host  string
	done  chan struct{}
}

type watchedFile struct {
	host, path string
	sshd       bool
	offset     int64
}

func newTouchWatch(l *benchLab) (*touchWatch, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	w := &touchWatch{files: map[int32]*watchedFile{}, done: make(chan struct{})}
	for _, h := range l.Hosts {
		for _, name := range []string{"sshd.log", "events.log"} {
			path := filepath.Join(h.Dir, name)
			wd, err := syscall.InotifyAddWatch(fd, path, syscall.IN_MODIFY)
			if err != nil {
				syscall.Close(fd)
				return nil, fmt.Errorf("inotify %s: %w", path, err)
			}
			wf := &watchedFile{host: h.Name, path: path, sshd: name == "sshd.log"}
			if st, err := os.Stat(path); err == nil {
				wf.offset = st.Size()
			}
			w.files[int32(wd)] = wf
		}
	}
	// Non-blocking, so that the runtime poller reads it and Close ends Read.
	w.f = os.NewFile(uintptr(fd), "inotify")
	go w.loop()
	return w, nil
}

func (w *touchWatch) loop() {
	defer close(w.done)
	buf := make([]byte, 64*1024)
	for {
		n, err := w.f.Read(buf)
		if err != nil || n < syscall.SizeofInotifyEvent {
			return
		}
		now := time.Now()
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			wf := w.files[ev.Wd]
			if wf == nil || !wf.contact() {
				continue
			}
			w.mu.Lock()
			if w.first.IsZero() {
				w.first, w.host = now, wf.host
			}
			w.mu.Unlock()
		}
	}
}

// contact reads what was appended and says whether it shows an
// orchestrator's login or command.
func (wf *watchedFile) contact() bool {
	f, err := os.Open(wf.path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() <= wf.offset {
		if err == nil {
			wf.offset = st.Size()
		}
		return false
	}
	b := make([]byte, st.Size()-wf.offset)
	n, _ := f.ReadAt(b, wf.offset)
	wf.offset += int64(n)
	for _, line := range strings.Split(string(b[:n]), "\n") {
		if wf.sshd && strings.HasPrefix(line, "Accepted ") {
			return true
		}
		if !wf.sshd {
			if e, err := labstatus.ParseEvent(line); err == nil {
				switch e.Kind {
				case labstatus.EventSMS, labstatus.EventRunsvctrl:
					return true
				case labstatus.EventMySQLServer: // a boot's start is not ours
					return e.Subject == "stop"
				}
			}
		}
	}
	return false
}

// result stops the watch and returns the first contact.
func (w *touchWatch) result() (time.Time, string) {
	_ = w.f.Close()
	select {
	case <-w.done:
	case <-time.After(time.Second):
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first, w.host
}
