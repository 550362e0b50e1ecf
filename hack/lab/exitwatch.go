package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// Without runit's ./finish (DIRAC has none) a component logs its own
// component-exit; a SIGKILLed one cannot. The host's init watches for those:
// each component writes "PID System_Component" into the FIFO watchFIFO as it
// starts, and, before it exits on its own, creates exitedDir/PID. When a
// registered process ends without that marker it was killed, and init logs
// component-exit code=-1 signal=9 for it, as runsv would have told ./finish.
const (
	watchFIFO = "/run/lab/watch"
	exitedDir = "/run/lab/exited"
	// sysPidfdOpen is pidfd_open(2) on linux/amd64 and arm64 alike.
	sysPidfdOpen = 434
)

// exitWatcher is init's side of it.
type exitWatcher struct {
	epfd   int
	events string
	mu     sync.Mutex
	byFD   map[int32]watched
}

type watched struct {
	pid  int
	link string
}

// startExitWatcher creates the FIFO and the markers' folder (writable by
// the lab user) and starts reading registrations and waiting for exits.
func startExitWatcher(acct account, events string) error {
	if err := syscall.Mkfifo(watchFIFO, 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", watchFIFO, err)
	}
	if err := os.Chown(watchFIFO, acct.uid, acct.gid); err != nil {
		return err
	}
	if err := os.Mkdir(exitedDir, 0o755); err != nil {
		return err
	}
	if err := os.Chown(exitedDir, acct.uid, acct.gid); err != nil {
		return err
	}
	// Read-write, so that the FIFO never reports end of file.
	fifo, err := os.OpenFile(watchFIFO, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	w := &exitWatcher{epfd: epfd, byFD: map[int32]watched{}, events: events}
	// epoll_ctl may add to the set while another thread waits on it.
	go func() {
		sc := bufio.NewScanner(fifo)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 2 {
				continue
			}
			if pid, err := strconv.Atoi(f[0]); err == nil && pid > 1 {
				w.add(watched{pid: pid, link: f[1]})
			}
		}
	}()
	go w.loop()
	return nil
}

// loop handles the exits of the registered processes.
func (w *exitWatcher) loop() {
	evs := make([]syscall.EpollEvent, 16)
	for {
		n, err := syscall.EpollWait(w.epfd, evs, -1)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range evs[:n] {
			w.exited(ev.Fd)
		}
	}
}

func (w *exitWatcher) add(r watched) {
	fd, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(r.pid), 0, 0)
	if errno != 0 {
		return // already gone: it had time to leave its marker, or not; nothing to tell
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		syscall.Close(int(fd))
		return
	}
	w.byFD[int32(fd)] = r
}

func (w *exitWatcher) exited(fd int32) {
	w.mu.Lock()
	r, ok := w.byFD[fd]
	if ok {
		delete(w.byFD, fd)
		_ = syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		syscall.Close(int(fd))
	}
	w.mu.Unlock()
	if !ok {
		return
	}
	marker := filepath.Join(exitedDir, strconv.Itoa(r.pid))
	if err := os.Remove(marker); err == nil {
		return // it logged its own exit
	}
	if err := appendEvent(w.events, labstatus.EventComponentExit, r.link, "code=-1 signal=9"); err != nil {
		fmt.Fprintf(os.Stderr, "init: failed to log an event: %v\n", err)
	}
}
