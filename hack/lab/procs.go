package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process as seen from the machine (outside every host).
type proc struct {
	pid   int
	comm  string
	state byte   // R, S, T, Z, …
	pidNS string // "pid:[4026532…]"
	nsPid int    // the pid inside its own namespace (last NSpid entry)
}

// readProc reads one process; ok is false when it vanished.
func readProc(pid int) (proc, bool) {
	p := proc{pid: pid}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return p, false
	}
	// comm is in parentheses and may contain spaces: take the last ')'.
	open, closeIdx := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || closeIdx < open || closeIdx+2 >= len(stat) {
		return p, false
	}
	p.comm = string(stat[open+1 : closeIdx])
	p.state = stat[closeIdx+2]
	p.pidNS, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	p.nsPid = pid
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
				f := strings.Fields(v)
				if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
					p.nsPid = n
				}
				break
			}
		}
	}
	return p, true
}

// allProcs lists every process of the machine.
func allProcs() []proc {
	ents, _ := os.ReadDir("/proc")
	out := make([]proc, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

// procsByNS groups processes by PID namespace.
func procsByNS(procs []proc) map[string][]proc {
	m := map[string][]proc{}
	for _, p := range procs {
		if p.pidNS != "" {
			m[p.pidNS] = append(m[p.pidNS], p)
		}
	}
	return m
}

// procStartTime is field 22 of /proc/PID/stat (clock ticks since boot): with
// the pid it identifies a process across pid reuse.
func procStartTime(pid int) (string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return "", errors.New("malformed stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return "", errors.New("malformed stat")
	}
	return f[19], nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	p, ok := readProc(pid)
	return ok && p.state != 'Z' && p.state != 'X'
}

// hostInit is a host's init process, recorded in hosts/<name>/init.pid as
// "<pid> <starttime>".
type hostInit struct {
	pid   int
	start string
}

func writeInitPid(path string, pid int) error {
	st, err := procStartTime(pid)
	if err != nil {
		return fmt.Errorf("failed to read the start time of init %d: %w", pid, err)
	}
	return writeFileAtomic(path, []byte(fmt.Sprintf("%d %s\n", pid, st)), 0o644)
}

// readInit returns the host's init if it is there (same pid and start time,
// not gone: a dying init still counts until its namespace is empty), else
// ok false.
func readInit(h hostPaths) (hostInit, bool) {
	b, err := os.ReadFile(h.initPid())
	if err != nil {
		return hostInit{}, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return hostInit{}, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil {
		return hostInit{}, false
	}
	st, err := procStartTime(pid)
	if err != nil || st != f[1] || gone(pid) {
		return hostInit{}, false
	}
	return hostInit{pid: pid, start: f[1]}, true
}

// nsOf returns the PID namespace of pid.
func nsOf(pid int) string {
	s, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	return s
}

// hostProcs lists the processes in the PID namespace of the host's init.
func hostProcs(init hostInit) []proc {
	ns := nsOf(init.pid)
	if ns == "" {
		return nil
	}
	var out []proc
	for _, p := range allProcs() {
		if p.pidNS == ns {
			out = append(out, p)
		}
	}
	return out
}

// gone reports whether a process has fully exited: it is not in /proc, or
// it is a zombie with no thread left. A Go program's main thread can be a
// zombie while its other threads still exit; for a host's init that is the
// moment the kernel is still killing the rest of the PID namespace (and
// sockets, port 22 included, are still open).
func gone(pid int) bool {
	p, ok := readProc(pid)
	if !ok {
		return true
	}
	if p.state != 'Z' && p.state != 'X' {
		return false
	}
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return err != nil || len(tasks) <= 1
}

// killAndWait SIGKILLs the pids and waits until every one is gone.
func killAndWait(pids []int, timeout time.Duration) error {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, pid := range pids {
			if !gone(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v still alive after SIGKILL and %s", left, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procsReferencing lists processes whose command line, working directory or
// executable refers to dir (except this process and its ancestors).
func procsReferencing(dir string) []proc {
	skip := map[int]bool{}
	for pid := os.Getpid(); pid > 1; {
		skip[pid] = true
		ppid, err := parentPid(pid)
		if err != nil {
			break
		}
		pid = ppid
	}
	prefix := dir + string(filepath.Separator)
	refers := func(s string) bool { return s == dir || strings.HasPrefix(s, prefix) }
	var out []proc
	for _, p := range allProcs() {
		if skip[p.pid] || p.state == 'Z' {
			continue
		}
		hit := false
		if cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.pid)); err == nil {
			for _, a := range bytes.Split(cmd, []byte{0}) {
				if refers(string(a)) || bytes.Contains(a, []byte(prefix)) {
					hit = true
				}
			}
		}
		for _, l := range []string{"cwd", "exe"} {
			if t, err := os.Readlink(fmt.Sprintf("/proc/%d/%s", p.pid, l)); err == nil && refers(strings.TrimSuffix(t, " (deleted)")) {
				hit = true
			}
		}
		if hit {
			out = append(out, p)
		}
	}
	return out
}

func parentPid(pid int) (int, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0, errors.New("malformed stat")
	}
	return strconv.Atoi(f[1])
}

// mountsUnder lists the mount points of this mount namespace under dir.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeMount(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMount undoes the octal escapes of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
