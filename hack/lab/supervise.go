package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// superviseStatus is runsv's 20-byte supervise/status file (runit 2.1.2,
// read the way runit 1.x's runsvstat reads it).
type superviseStatus struct {
	when    time.Time // last state change (TAI64N in the file)
	pid     int
	paused  bool
	want    byte // 'u' or 'd'
	gotTerm bool
	state   byte // 0 down, 1 run, 2 finish
}

// taiOffset is 2^62 + 10: TAI64 label of the Unix epoch as runit writes it.
const taiOffset = 4611686018427387914

func parseSuperviseStatus(b []byte) (superviseStatus, error) {
	if len(b) != 20 {
		return superviseStatus{}, errors.New("bad format")
	}
	sec := binary.BigEndian.Uint64(b[0:8])
	nsec := binary.BigEndian.Uint32(b[8:12])
	s := superviseStatus{
		when:    time.Unix(int64(sec-taiOffset), int64(nsec)),
		pid:     int(binary.LittleEndian.Uint32(b[12:16])),
		paused:  b[16] != 0,
		want:    b[17],
		gotTerm: b[18] != 0,
		state:   b[19],
	}
	return s, nil
}

// runsvRunning reports whether a runsv process supervises dir: the
// supervise/ok fifo has a reader. runsvstat's own test.
func runsvRunning(dir string) (bool, error) {
	fd, err := syscall.Open(filepath.Join(dir, "supervise", "ok"), syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			return false, nil
		}
		return false, err
	}
	syscall.Close(fd)
	return true, nil
}

// readSupervise reads dir/supervise/status.
func readSupervise(dir string) (superviseStatus, error) {
	b, err := os.ReadFile(filepath.Join(dir, "supervise", "status"))
	if err != nil {
		return superviseStatus{}, err
	}
	return parseSuperviseStatus(b)
}

// formatRunsvstat is runit 1.x runsvstat's line for one directory (without
// the newline): "dir: run (pid 123) 45 seconds", "dir: down 3 seconds,
// normally up", with ", paused", ", want up", ", want down", ", got TERM".
func formatRunsvstat(name string, s superviseStatus, normallyUp bool, now time.Time) string {
	when := s.when
	if now.Before(when) {
		when = now
	}
	secs := int64(now.Sub(when) / time.Second)
	out := name + ": "
	if s.pid != 0 {
		switch s.state {
		case 1:
			out += "run "
		case 2:
			out += "finish "
		}
		out += "(pid " + strconv.Itoa(s.pid) + ") "
	} else {
		out += "down "
	}
	out += strconv.FormatInt(secs, 10) + " seconds"
	if s.pid != 0 && !normallyUp {
		out += ", normally down"
	}
	if s.pid == 0 && normallyUp {
		out += ", normally up"
	}
	if s.pid != 0 && s.paused {
		out += ", paused"
	}
	if s.pid == 0 && s.want == 'u' {
		out += ", want up"
	}
	if s.pid != 0 && s.want == 'd' {
		out += ", want down"
	}
	if s.pid != 0 && s.gotTerm {
		out += ", got TERM"
	}
	return out
}

// djbError renders an error the way runit's strerr does ("file does not
// exist", "access denied", …).
func djbError(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOENT:
			return "file does not exist"
		case syscall.EACCES, syscall.EPERM:
			return "access denied"
		case syscall.ENOTDIR:
			return "not a directory"
		case syscall.ENXIO:
			return "device not configured"
		case syscall.EINTR:
			return "interrupted system call"
		case syscall.EAGAIN:
			return "temporary failure"
		case syscall.ELOOP:
			return "too many levels of symbolic links"
		}
		return errno.Error()
	}
	return fmt.Sprint(err)
}
