package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// spawnInit boots a host: it starts the host's power supervisor ("vobox-lab
// power"), detached in its own session, which starts "vobox-lab init" as PID
// 1 of new mount, PID and UTS namespaces and records its pid in init.pid.
// Killing that pid (from outside) kills every process of the host at once:
// that is the host's power switch. spawnInit returns init's pid once
// init.pid names a live init.
func spawnInit(p labPaths, name string) (int, error) {
	hp := p.host(name)
	_ = os.Remove(hp.initPid())
	logf, err := os.OpenFile(hp.bootLog(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command(p.binary(), "power", "--dir", p.dir, "--host", name)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "GOMAXPROCS=1", "GOGC=50"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("failed to start the power supervisor of %s: %w", name, err)
	}
	power := cmd.Process.Pid
	_ = cmd.Process.Release()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if init, ok := readInit(hp); ok {
			return init.pid, nil
		}
		if gone(power) || time.Now().After(deadline) {
			_ = syscall.Kill(power, syscall.SIGKILL)
			return 0, fmt.Errorf("the init of %s did not start (see %s)", name, hp.bootLog())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cmdPower is a host's power supervisor, outside the host: it starts the
// host's init in new namespaces, records it in init.pid and waits for it.
// When init exits with initRebootCode (the host's own reboot, through sudo)
// it boots the host again, with new namespaces and a new boot id, exactly
// as "lab reboot" does; when init is killed (lab reboot, lab down) it exits.
func cmdPower(o *options) error {
	p := labPaths{o.dir}
	hp := p.host(o.initHost)
	for {
		cmd := exec.Command(p.binary(), "init", "--dir", p.dir, "--host", o.initHost)
		cmd.Dir = "/"
		cmd.Env = os.Environ()
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS,
			Setsid:     true,
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("failed to start the init of %s: %w", o.initHost, err)
		}
		if err := writeInitPid(hp.initPid(), cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			return err
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != initRebootCode {
			return nil
		}
		fmt.Fprintf(os.Stderr, "power: %s asked for a reboot\n", o.initHost)
		// The kernel is still killing the rest of the old PID namespace;
		// sshd retries its bind and MariaDB its lock meanwhile.
		time.Sleep(50 * time.Millisecond)
	}
}

// newBootID is a random UUID (version 4), the form of the kernel's boot_id.
func newBootID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// cmdInit is PID 1 of a host. It makes the host's filesystem view (its own
// /opt/dirac, /home/dirac, /run, /proc and the lab tools as
// /usr/local/bin), sets the hostname, starts sshd, runsvdir for
// /opt/dirac/startup as the lab user and, on Database hosts, MariaDB through
// mysql.server; then it reaps orphans forever. SIGUSR1 starts sshd again if
// it is not running (start-sshd, rekey).
func cmdInit(o *options) error {
	if os.Getpid() != 1 {
		return fmt.Errorf("init must be PID 1 of a new PID namespace (it is started by up and reboot)")
	}
	debug.SetGCPercent(50)
	p := labPaths{o.dir}
	hp := p.host(o.initHost)
	b, err := os.ReadFile(hp.hostJSON())
	if err != nil {
		return fmt.Errorf("failed to read host.json: %w", err)
	}
	var cfg hostConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("failed to parse host.json: %w", err)
	}
	acct, err := lookupAccount()
	if err != nil {
		return err
	}
	// A new boot id for this boot, bound over the kernel's in setupHostFS.
	bootID := newBootID()
	if err := os.WriteFile(hp.bootID(), []byte(bootID+"\n"), 0o444); err != nil {
		return fmt.Errorf("failed to write the boot id: %w", err)
	}
	if err := setupHostFS(p, hp, cfg); err != nil {
		return fmt.Errorf("failed to set up the filesystem of %s: %w", cfg.Name, err)
	}
	if err := syscall.Sethostname([]byte(cfg.Name)); err != nil {
		return fmt.Errorf("failed to set the hostname: %w", err)
	}
	events := filepath.Join(inHostHostDir, "events.log")
	ev := func(kind, subject, detail string) {
		if err := appendEvent(events, kind, subject, detail); err != nil {
			fmt.Fprintf(os.Stderr, "init: failed to log an event: %v\n", err)
		}
	}
	ev(labstatus.EventBoot, cfg.Name, "bootId="+bootID)

	if err := startExitWatcher(acct, events); err != nil {
		fmt.Fprintf(os.Stderr, "init: failed to start the exit watcher: %v\n", err)
	}
	r := newReaper()
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + diracHome, "USER=" + labUser,
		"LOGNAME=" + labUser, "SHELL=/bin/bash", "LANG=C.UTF-8"}
	asUser := &syscall.SysProcAttr{Setsid: true, Credential: &syscall.Credential{Uid: uint32(acct.uid), Gid: uint32(acct.gid), Groups: []uint32{}}}

	// sshd runs in the foreground (-D) as a child of init, so that init
	// logs its exit. SIGUSR1 starts it again if it is gone.
	var startMu sync.Mutex     // serialises starts
	var sshdDone chan struct{} // closed once the last sshd started was reaped
	startSSHD := func() {
		startMu.Lock()
		defer startMu.Unlock()
		if sshdDone != nil {
			select {
			case <-sshdDone:
			case <-time.After(3 * time.Second):
				return // still running
			}
		}
		for attempt := 1; ; attempt++ {
			began := time.Now()
			pid, exited, err := r.start("/usr/sbin/sshd", []string{"/usr/sbin/sshd", "-D", "-f", inHostHostDir + "/ssh/sshd_config",
				"-E", inHostHostDir + "/sshd.log"}, []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8"},
				&syscall.SysProcAttr{Setsid: true}, "/")
			if err != nil {
				fmt.Fprintf(os.Stderr, "init: failed to start sshd: %v\n", err)
				return
			}
			ev(labstatus.EventSSHDStart, "sshd", fmt.Sprintf("pid=%d", pid))
			done := make(chan struct{})
			sshdDone = done
			select {
			case ws := <-exited:
				ev(labstatus.EventSSHDExit, "sshd", fmt.Sprintf("pid=%d status=%s", pid, waitString(ws)))
				close(done)
				// sshd exits 255 at once when it cannot bind (a socket of
				// the previous boot not yet closed): try again for a while.
				if attempt < 20 && ws.Exited() && ws.ExitStatus() == 255 && time.Since(began) < 2*time.Second {
					time.Sleep(250 * time.Millisecond)
					continue
				}
				return
			case <-time.After(500 * time.Millisecond):
			}
			go func() {
				ws := <-exited
				ev(labstatus.EventSSHDExit, "sshd", fmt.Sprintf("pid=%d status=%s", pid, waitString(ws)))
				close(done)
			}()
			return
		}
	}
	go startSSHD()

	pid, _, err := r.start("/usr/bin/runsvdir", []string{"runsvdir", "-P", diracRoot + "/startup",
		"log: DIRAC runsv ........................................................................................"},
		env, asUser, diracRoot)
	if err != nil {
		fmt.Fprintf(os.Stderr, "init: failed to start runsvdir: %v\n", err)
	} else {
		ev(labstatus.EventRunsvdirStart, "runsvdir", fmt.Sprintf("pid=%d", pid))
	}

	switch {
	case cfg.Database && cfg.Profile.MySQL == labstatus.MySQLSystem:
		// The system's MariaDB, started by the boot as systemd would, as root.
		if _, _, err := r.start(labMysqldPath, []string{labMysqldPath, "start"},
			[]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"},
			&syscall.SysProcAttr{Setsid: true}, "/"); err != nil {
			fmt.Fprintf(os.Stderr, "init: failed to run lab-mysqld start: %v\n", err)
		}
	case cfg.Database:
		// The host's boot scripts start MariaDB, as /etc/init.d would.
		if _, _, err := r.start(mysqlServerPath, []string{mysqlServerPath, "start"}, env, asUser, diracRoot); err != nil {
			fmt.Fprintf(os.Stderr, "init: failed to run mysql.server start: %v\n", err)
		}
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	for s := range sig {
		if s == syscall.SIGUSR2 {
			// The host's reboot: give its caller a moment to return, then
			// end the PID namespace; the power supervisor boots it again.
			time.Sleep(200 * time.Millisecond)
			os.Exit(initRebootCode)
		}
		startSSHD()
	}
	return nil
}

// lookupAccount returns the lab user's uid and gid.
func lookupAccount() (account, error) {
	acct, err := lookupUser(labUser)
	if err != nil {
		return account{}, fmt.Errorf("no %s account (lab up creates it): %w", labUser, err)
	}
	return acct, nil
}

// lookupUser returns an account's uid and gid.
func lookupUser(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return account{}, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return account{}, err
	}
	return account{uid: uid, gid: gid}, nil
}

// setupHostFS builds the host's view of the filesystem in its new mount
// namespace. Nothing propagates back to the machine.
func setupHostFS(p labPaths, hp hostPaths, cfg hostConfig) error {
	type step struct {
		what string
		fn   func() error
	}
	steps := []step{
		{"make / private", func() error { return syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "") }},
		{"mount /proc", func() error {
			return syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, "")
		}},
		{"bind the boot id", func() error { return bind(hp.bootID(), bootIDPath, true) }},
		{"mount /run", func() error {
			return syscall.Mount("tmpfs", "/run", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=755,size=16m")
		}},
		{"create /run dirs", func() error {
			for _, d := range []string{"/run/sshd", inHostHostDir, inHostSharedDir, "/run/lock"} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			return os.WriteFile(inHostLedger, nil, 0o644)
		}},
		{"bind the host folder", func() error { return bind(hp.dir, inHostHostDir, false) }},
		{"bind the ledger", func() error { return bind(p.ledger(), inHostLedger, false) }},
		{"bind the shared folder", func() error { return bind(p.sharedDir(), inHostSharedDir, false) }},
		{"bind /opt/dirac", func() error { return bind(hp.optDirac(), diracRoot, false) }},
		{"bind /home/dirac", func() error { return bind(hp.homeDirac(), diracHome, false) }},
		{"bind /usr/local/bin", func() error { return bind(p.toolsDir(), inHostToolsDir, true) }},
		{"bind /usr/local/sbin", func() error { return bind(p.localSbinDir(), inHostLocalSbin, true) }},
		{"lay bin/sbin over /usr/sbin", func() error {
			return syscall.Mount("overlay", inHostSbin, "overlay", syscall.MS_RDONLY,
				"lowerdir="+p.sbinDir()+":"+inHostSbin)
		}},
		{"bind /etc/hosts", func() error { return bind(hp.etcHosts(), "/etc/hosts", true) }},
	}
	if cfg.Database && cfg.Profile.MySQL == labstatus.MySQLSystem {
		steps = append(steps,
			step{"bind /var/lib/mysql", func() error { return bind(hp.varLibMysql(), "/var/lib/mysql", false) }},
			step{"bind /etc/mysql/my.cnf", func() error { return bind(hp.etcMyCnf(), "/etc/mysql/my.cnf", true) }})
	}
	if cfg.Profile.Runit == labstatus.RunitSV {
		steps = append(steps, step{"wrap /usr/bin/sv", func() error {
			if err := os.WriteFile(svReal, nil, 0o755); err != nil {
				return err
			}
			if err := bind("/usr/bin/sv", svReal, true); err != nil {
				return err
			}
			return bind(p.binary(), "/usr/bin/sv", true)
		}})
	}
	if cfg.Profile.Runit == labstatus.RunitNone {
		steps = append(steps, step{"hide /usr/bin/sv", func() error {
			if err := os.WriteFile(svHidden, nil, 0o644); err != nil {
				return err
			}
			return bind(svHidden, "/usr/bin/sv", true)
		}})
	}
	for _, s := range steps {
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

func bind(src, dst string, readOnly bool) error {
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		return err
	}
	if readOnly {
		return syscall.Mount("", dst, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, "")
	}
	return nil
}

// reaper is PID 1's child handling: it reaps every child, orphans included,
// as soon as SIGCHLD arrives, and hands the exit status of the children it
// started to whoever waits for them.
type reaper struct {
	mu      sync.Mutex
	waiters map[int]chan syscall.WaitStatus
}

func newReaper() *reaper {
	r := &reaper{waiters: map[int]chan syscall.WaitStatus{}}
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, syscall.SIGCHLD)
	go func() {
		for range ch {
			r.reap()
		}
	}()
	return r
}

func (r *reaper) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		// start holds mu until the pid is registered, so a child that exits
		// at once is still matched with its waiter.
		r.mu.Lock()
		if w, ok := r.waiters[pid]; ok {
			w <- ws
			delete(r.waiters, pid)
		}
		r.mu.Unlock()
	}
}

// start starts a child without os/exec (the reaper owns waiting) and
// returns its pid and a channel that receives its exit status.
func (r *reaper) start(path string, argv, env []string, attr *syscall.SysProcAttr, dir string) (int, <-chan syscall.WaitStatus, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, nil, err
	}
	defer devnull.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Dir: dir, Env: env, Files: []*os.File{devnull, os.Stdout, os.Stderr}, Sys: attr,
	})
	if err != nil {
		return 0, nil, err
	}
	pid := proc.Pid
	_ = proc.Release()
	w := make(chan syscall.WaitStatus, 1)
	r.waiters[pid] = w
	return pid, w, nil
}

func waitString(ws syscall.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit:%d", ws.ExitStatus())
	case ws.Signaled():
		return "signal:" + ws.Signal().String()
	default:
		return fmt.Sprint(int(ws))
	}
}
