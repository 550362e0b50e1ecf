package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pidFileName is where a demo records the processes it leaves running
// with -keep, in the order `make demo-down` stops them.
const pidFileName = "pids.json"

// keptProcess is one process a kept demo left running. Start (the
// process's start time in clock ticks since boot, /proc/PID/stat field 22)
// and Exe tell it apart from a later process that got the same PID, so that
// demo-down never signals a stranger.
type keptProcess struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
	Exe   string `json:"exe"`
}

// identify reads what tells a process apart (its start time and
// executable) and its state (R, S, Z...).
func identify(pid int) (start uint64, exe, state string, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", "", err
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start after the last ')'.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", "", fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, "", "", fmt.Errorf("unreadable /proc/%d/stat", pid)
	}
	if start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return 0, "", "", fmt.Errorf("unreadable start time in /proc/%d/stat: %w", pid, err)
	}
	exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return start, strings.TrimSuffix(exe, " (deleted)"), f[0], nil
}

// newKeptProcess records a running process.
func newKeptProcess(name string, pid int) (keptProcess, error) {
	start, exe, _, err := identify(pid)
	if err != nil {
		return keptProcess{}, fmt.Errorf("failed to identify %s (pid %d): %w", name, pid, err)
	}
	return keptProcess{Name: name, PID: pid, Start: start, Exe: exe}, nil
}

// ownChildren are the PIDs of this process's children (of every thread),
// from /proc/self/task/*/children: envtest starts kube-apiserver and etcd
// and keeps their PIDs to itself, but they are our children.
func ownChildren() ([]int, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/children")
	if err != nil || len(tasks) == 0 {
		return nil, fmt.Errorf("failed to list this process's children (/proc/self/task/*/children): %v", err)
	}
	var pids []int
	for _, t := range tasks {
		raw, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(raw)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids, nil
}

// childNamed finds the child process whose executable's base name is name.
func childNamed(name string) (keptProcess, error) {
	pids, err := ownChildren()
	if err != nil {
		return keptProcess{}, err
	}
	for _, pid := range pids {
		if _, exe, _, err := identify(pid); err == nil && filepath.Base(exe) == name {
			return newKeptProcess(name, pid)
		}
	}
	return keptProcess{}, fmt.Errorf("no child process runs %s", name)
}

// writePIDFile records the kept processes, in the order they must stop.
func writePIDFile(dir string, procs []keptProcess) error {
	data, err := json.MarshalIndent(procs, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, pidFileName+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("failed to write %s: %w", tmp, err)
	}
	return os.Rename(tmp, filepath.Join(dir, pidFileName))
}

// readPIDFile reads the kept processes; none when the file is absent.
func readPIDFile(dir string) ([]keptProcess, error) {
	data, err := os.ReadFile(filepath.Join(dir, pidFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var procs []keptProcess
	if err := json.Unmarshal(data, &procs); err != nil {
		return nil, fmt.Errorf("failed to read %s: %w", filepath.Join(dir, pidFileName), err)
	}
	return procs, nil
}

// running reports whether p is still the process recorded: alive, not a
// zombie, same start time and executable.
func (p keptProcess) running() bool {
	start, exe, state, err := identify(p.PID)
	return err == nil && start == p.Start && (p.Exe == "" || exe == p.Exe) && state != "Z" && state != "X"
}

// stopper stops kept processes one after the other.
type stopper struct {
	// grace is how long a process has to exit after SIGTERM before SIGKILL.
	grace time.Duration
	// poll is how often it looks.
	poll time.Duration
	say  func(format string, args ...any)
}

// stop stops the processes in order, each gone before the next is
// signalled: the API server before etcd, which it needs to shut down
// cleanly (signalled together, the API server waits on an etcd that is
// gone and outlives demo-down). A process that ignores SIGTERM for grace is
// killed. A PID that is no longer the recorded process is left alone.
func (s stopper) stop(procs []keptProcess) error {
	var errs []error
	for _, p := range procs {
		if !p.running() {
			s.say("%s (pid %d) is not running", p.Name, p.PID)
			continue
		}
		s.say("Stopping %s (pid %d)", p.Name, p.PID)
		if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("failed to signal %s (pid %d): %w", p.Name, p.PID, err))
			continue
		}
		if s.wait(p, s.grace) {
			continue
		}
		s.say("%s (pid %d) still runs after %s: SIGKILL", p.Name, p.PID, s.grace)
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("failed to kill %s (pid %d): %w", p.Name, p.PID, err))
			continue
		}
		if !s.wait(p, 10*time.Second) {
			errs = append(errs, fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID))
		}
	}
	return errors.Join(errs...)
}

// wait waits up to d for p to exit.
func (s stopper) wait(p keptProcess, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if !p.running() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(s.poll)
	}
}
