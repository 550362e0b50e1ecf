package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/testenv"
)

// fake starts a shell that runs until signalled, running onTerm on SIGTERM
// (an empty onTerm ignores SIGTERM), and records it as a kept process.
func fake(t *testing.T, name, onTerm string) (keptProcess, *exec.Cmd) {
	t.Helper()
	trap := `trap '` + onTerm + `; exit 0' TERM`
	if onTerm == "" {
		trap = `trap '' TERM`
	}
	cmd := exec.Command("sh", "-c", trap+"; while :; do sleep 0.05; done")
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	// Let the shell set its trap before anyone signals it.
	time.Sleep(200 * time.Millisecond)
	p, err := newKeptProcess(name, cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return p, cmd
}

func TestStopInOrder(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	etcd, _ := fake(t, "etcd", `echo etcd >> `+log)
	// The API server notes whether etcd still ran when it got SIGTERM.
	apiserver, _ := fake(t, "kube-apiserver", fmt.Sprintf(`if kill -0 %d 2>/dev/null; then echo apiserver-etcd-up >> %s; else echo apiserver-etcd-gone >> %s; fi`, etcd.PID, log, log))
	stubborn, _ := fake(t, "operator", "")

	dir := t.TempDir()
	if err := writePIDFile(dir, []keptProcess{stubborn, apiserver, etcd}); err != nil {
		t.Fatal(err)
	}
	procs, err := readPIDFile(dir)
	if err != nil || len(procs) != 3 || procs[1] != apiserver {
		t.Fatalf("the pid file reads back as %+v (%v)", procs, err)
	}

	var said []string
	s := stopper{grace: time.Second, poll: 20 * time.Millisecond, say: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }}
	start := time.Now()
	if err := s.stop(procs); err != nil {
		t.Fatalf("stop: %v", err)
	}
	took := time.Since(start)
	for _, p := range procs {
		if p.running() {
			t.Errorf("%s (pid %d) still runs", p.Name, p.PID)
		}
	}
	got, _ := os.ReadFile(log)
	if string(got) != "apiserver-etcd-up\netcd\n" {
		t.Errorf("the API server must stop, with etcd still up, before etcd is signalled; the processes logged:\n%s", got)
	}
	if !strings.Contains(strings.Join(said, "\n"), "operator (pid "+fmt.Sprint(stubborn.PID)+") still runs after 1s: SIGKILL") {
		t.Errorf("the process that ignores SIGTERM was not killed after the grace period:\n%s", strings.Join(said, "\n"))
	}
	if took > 5*time.Second {
		t.Errorf("stopping took %s", took)
	}

	// Stopping again finds nothing running and signals nothing.
	said = nil
	if err := s.stop(procs); err != nil || len(said) != 3 || !strings.Contains(said[0], "is not running") {
		t.Errorf("a second stop: %v, %q", err, said)
	}
}

func TestStopLeavesAStrangerAlone(t *testing.T) {
	p, cmd := fake(t, "etcd", "true")
	// The PID now belongs to another process than the one recorded.
	recorded := p
	recorded.Start--
	s := stopper{grace: time.Second, poll: 20 * time.Millisecond, say: func(string, ...any) {}}
	if err := s.stop([]keptProcess{recorded}); err != nil {
		t.Fatal(err)
	}
	if !p.running() || cmd.ProcessState != nil {
		t.Errorf("demo-down signalled pid %d, which is not the process it recorded", p.PID)
	}
	recorded = p
	recorded.Exe = "/usr/local/bin/etcd"
	if err := s.stop([]keptProcess{recorded}); err != nil || !p.running() {
		t.Errorf("demo-down signalled a process whose executable is not the recorded one (%v)", err)
	}
}

func TestChildNamed(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p, err := childNamed("sleep")
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != cmd.Process.Pid || !p.running() || filepath.Base(p.Exe) != "sleep" {
		t.Errorf("childNamed(sleep) = %+v, want pid %d", p, cmd.Process.Pid)
	}
	if _, err := childNamed("kube-apiserver"); err == nil {
		t.Errorf("found a kube-apiserver child that this test never started")
	}
}

// TestStopRealControlPlane stops envtest's own kube-apiserver and etcd as
// demo-down does: found as this process's children, the API server first.
func TestStopRealControlPlane(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	var procs []keptProcess
	for _, name := range []string{"kube-apiserver", "etcd"} {
		p, err := childNamed(name)
		if err != nil {
			_ = env.Stop()
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	dir := t.TempDir()
	if err := writePIDFile(dir, procs); err != nil {
		t.Fatal(err)
	}
	kept, err := readPIDFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	begin := time.Now()
	s := stopper{grace: 20 * time.Second, poll: 50 * time.Millisecond, say: func(f string, a ...any) {
		said = append(said, fmt.Sprintf("%5.1fs ", time.Since(begin).Seconds())+fmt.Sprintf(f, a...))
	}}
	if err := s.stop(kept); err != nil {
		t.Errorf("stop: %v", err)
	}
	for _, p := range kept {
		if p.running() {
			t.Errorf("%s (pid %d) still runs", p.Name, p.PID)
		}
	}
	if strings.Contains(strings.Join(said, "\n"), "SIGKILL") {
		t.Errorf("the control plane needed SIGKILL, stopped in order it exits on SIGTERM:\n%s", strings.Join(said, "\n"))
	}
	t.Logf("stopped in %s:\n%s", time.Since(begin).Round(time.Millisecond), strings.Join(said, "\n"))
	// envtest's own Stop finds its processes gone.
	_ = env.Stop()
}
