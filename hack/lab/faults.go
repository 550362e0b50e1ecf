package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// faultSetup is what every fault verb starts with: root, the lab, the host.
func faultSetup(o *options, name string) (*labstatus.Lab, labstatus.LabHost, hostPaths, error) {
	if err := checkRoot(); err != nil {
		return nil, labstatus.LabHost{}, hostPaths{}, err
	}
	l, err := loadLab(o.dir)
	if err != nil {
		return nil, labstatus.LabHost{}, hostPaths{}, err
	}
	h, err := labHost(l, name)
	if err != nil {
		return nil, labstatus.LabHost{}, hostPaths{}, err
	}
	return l, h, labPaths{l.Dir}.host(h.Name), nil
}

func waitTimeout(o *options, hosts int) time.Duration {
	if o.timeout != 0 {
		return o.timeout
	}
	return 30*time.Second + time.Duration(hosts)*200*time.Millisecond
}

// cmdReboot kills every process of each host (SIGKILL to its init takes the
// whole PID namespace: a power cut, not a clean shutdown) and boots it
// again: init, sshd, runsvdir (which starts whatever is linked in startup),
// and MariaDB on Database hosts. It waits until each host accepts SSH.
func cmdReboot(o *options) error {
	if err := checkRoot(); err != nil {
		return err
	}
	l, err := loadLab(o.dir)
	if err != nil {
		return err
	}
	var hosts []labstatus.LabHost
	switch {
	case o.all && len(o.positional) > 0:
		return usagef("reboot takes HOST... or --all, not both")
	case o.all:
		hosts = l.Hosts
	case len(o.positional) == 0:
		return usagef("reboot needs HOST... or --all")
	default:
		for _, name := range o.positional {
			h, err := labHost(l, name)
			if err != nil {
				return err
			}
			hosts = append(hosts, h)
		}
	}
	began := time.Now()
	p := labPaths{l.Dir}
	if err := parallel(hosts, 32, func(h labstatus.LabHost) error { return rebootHost(p, h) }); err != nil {
		return err
	}
	if !o.noWait {
		if err := waitReady(l, hosts, false, waitTimeout(o, len(hosts))); err != nil {
			return err
		}
	}
	fmt.Printf("lab reboot: %d host(s) in %.1fs\n", len(hosts), time.Since(began).Seconds())
	return nil
}

func rebootHost(p labPaths, h labstatus.LabHost) error {
	hp := p.host(h.Name)
	if err := appendEvent(hp.events(), labstatus.EventReboot, h.Name, ""); err != nil {
		return err
	}
	if init, ok := readInit(hp); ok {
		if err := killAndWait([]int{init.pid}, 10*time.Second); err != nil {
			return err
		}
	}
	_ = os.Remove(hp.frozen())
	_, err := spawnInit(p, h.Name)
	return err
}

// frozenMarker is hosts/<name>/frozen: the pids that were already stopped
// before the freeze (runsvctrl p), which thaw must leave stopped.
func cmdFreeze(o *options) error {
	name, err := o.oneHost()
	if err != nil {
		return err
	}
	_, h, hp, err := faultSetup(o, name)
	if err != nil {
		return err
	}
	init, ok := readInit(hp)
	if !ok {
		return fmt.Errorf("%s is not running", h.Name)
	}
	if _, err := os.Stat(hp.frozen()); err == nil {
		return fmt.Errorf("%s is already frozen", h.Name)
	}
	var already []string
	for _, pr := range hostProcs(init) {
		if pr.state == 'T' {
			already = append(already, strconv.Itoa(pr.pid))
		}
	}
	if err := writeFileAtomic(hp.frozen(), []byte(strings.Join(already, " ")+"\n"), 0o644); err != nil {
		return err
	}
	if err := appendEvent(hp.events(), labstatus.EventFreeze, h.Name, ""); err != nil {
		return err
	}
	// Stop until a pass finds nothing left running: a process may fork
	// while its siblings are being stopped.
	stopped := map[int]bool{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		running := 0
		for _, pr := range hostProcs(init) {
			if pr.state != 'T' && pr.state != 't' && pr.state != 'Z' {
				running++
				_ = syscall.Kill(pr.pid, syscall.SIGSTOP)
				stopped[pr.pid] = true
			}
		}
		if running == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d processes would not stop", h.Name, running)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("lab freeze: %s: %d processes stopped\n", h.Name, len(stopped))
	return nil
}

func cmdThaw(o *options) error {
	name, err := o.oneHost()
	if err != nil {
		return err
	}
	_, h, hp, err := faultSetup(o, name)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(hp.frozen())
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is not frozen", h.Name)
	}
	if err != nil {
		return err
	}
	keep := map[int]bool{}
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			keep[pid] = true
		}
	}
	n := 0
	if init, ok := readInit(hp); ok {
		for _, pr := range hostProcs(init) {
			if !keep[pr.pid] {
				_ = syscall.Kill(pr.pid, syscall.SIGCONT)
				n++
			}
		}
	}
	if err := os.Remove(hp.frozen()); err != nil {
		return err
	}
	if err := appendEvent(hp.events(), labstatus.EventThaw, h.Name, fmt.Sprintf("processes=%d", n)); err != nil {
		return err
	}
	fmt.Printf("lab thaw: %s: %d processes continued\n", h.Name, n)
	return nil
}

// killSSHD kills the host's sshd listener and every session process.
func killSSHD(hp hostPaths) (int, error) {
	init, ok := readInit(hp)
	if !ok {
		return 0, errors.New("the host is not running")
	}
	var pids []int
	for _, pr := range hostProcs(init) {
		if pr.comm == "sshd" && pr.state != 'Z' {
			pids = append(pids, pr.pid)
		}
	}
	return len(pids), killAndWait(pids, 5*time.Second)
}

func cmdKillSSHD(o *options) error {
	name, err := o.oneHost()
	if err != nil {
		return err
	}
	_, h, hp, err := faultSetup(o, name)
	if err != nil {
		return err
	}
	if err := appendEvent(hp.events(), labstatus.EventKillSSHD, "sshd", ""); err != nil {
		return err
	}
	n, err := killSSHD(hp)
	if err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	fmt.Printf("lab kill-sshd: %s: %d sshd processes killed\n", h.Name, n)
	return nil
}

// startSSHD asks the host's init (SIGUSR1) to start sshd and waits until a
// login works.
func startSSHD(l *labstatus.Lab, h labstatus.LabHost, hp hostPaths, timeout time.Duration) error {
	init, ok := readInit(hp)
	if !ok {
		return fmt.Errorf("%s is not running", h.Name)
	}
	if err := syscall.Kill(init.pid, syscall.SIGUSR1); err != nil {
		return err
	}
	return waitReady(l, []labstatus.LabHost{h}, false, timeout)
}

func cmdStartSSHD(o *options) error {
	name, err := o.oneHost()
	if err != nil {
		return err
	}
	l, h, hp, err := faultSetup(o, name)
	if err != nil {
		return err
	}
	if err := startSSHD(l, h, hp, waitTimeout(o, 1)); err != nil {
		return err
	}
	fmt.Printf("lab start-sshd: %s accepts logins\n", h.Name)
	return nil
}

// cmdRekey gives the host a new host key: sshd and its sessions are killed
// (so no connection survives with the old key), the key is replaced,
// known_hosts and secret.yaml are rewritten with it, and sshd starts again.
// A Secret applied before the rekey still holds the old key.
func cmdRekey(o *options) error {
	name, err := o.oneHost()
	if err != nil {
		return err
	}
	l, h, hp, err := faultSetup(o, name)
	if err != nil {
		return err
	}
	p := labPaths{l.Dir}
	key, err := newKeyPair("root@" + h.Name)
	if err != nil {
		return err
	}
	if _, err := killSSHD(hp); err != nil {
		return fmt.Errorf("%s: %w", h.Name, err)
	}
	if err := writeKeyPair(key, hp.hostKey()); err != nil {
		return err
	}
	if err := writeKnownHosts(p, l.Hosts); err != nil {
		return err
	}
	if err := writeSecret(p); err != nil {
		return err
	}
	fp := ssh.FingerprintSHA256(key.pub)
	if err := appendEvent(hp.events(), labstatus.EventRekey, h.Name, "fingerprint="+fp); err != nil {
		return err
	}
	if err := startSSHD(l, h, hp, waitTimeout(o, 1)); err != nil {
		return err
	}
	fmt.Printf("lab rekey: %s has host key %s; %s and %s rewritten\n", h.Name, fp, p.knownHosts(), p.secret())
	return nil
}

var breakModePattern = regexp.MustCompile(`^(errors|escapes|nostop|none|slowstop=[1-9][0-9]{0,4})$`)

// cmdBreak sets a component's fault, read by the component itself:
// errors and escapes when it starts, nostop and slowstop=N when it is asked
// to stop.
func cmdBreak(o *options) error {
	if len(o.positional) != 3 {
		return usagef("break takes HOST COMPONENT errors|escapes|nostop|slowstop=N|none")
	}
	_, h, hp, err := faultSetup(o, o.positional[0])
	if err != nil {
		return err
	}
	comp, mode := o.positional[1], o.positional[2]
	found := false
	var names []string
	for _, c := range h.Components {
		names = append(names, c.Name)
		if c.Name == comp {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s has no component %q (it has: %s)", h.Name, comp, strings.Join(names, ", "))
	}
	if !breakModePattern.MatchString(mode) {
		return usagef("break mode must be errors, escapes, nostop, slowstop=N (N seconds) or none, got %q", mode)
	}
	path := filepath.Join(hp.breakDir(), comp)
	if mode == "none" {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	} else if err := writeFileAtomic(path, []byte(mode+"\n"), 0o644); err != nil {
		return err
	}
	if err := appendEvent(hp.events(), labstatus.EventBreak, comp, "mode="+mode); err != nil {
		return err
	}
	when := "takes effect at its next start"
	if mode != "errors" && mode != "escapes" {
		when = "takes effect at its next stop"
	}
	if mode == "none" {
		when = "cleared"
	}
	fmt.Printf("lab break: %s %s %s (%s)\n", h.Name, comp, mode, when)
	return nil
}

// cmdRotate makes the svlogd of each named component (all of the host's
// when none is named) rotate log/current now (SIGALRM), as it does by
// itself at s10000000 bytes, and waits until the new @*.s file is there.
// A component whose current is empty is not rotated (svlogd skips it).
func cmdRotate(o *options) error {
	if len(o.positional) < 1 {
		return usagef("rotate takes HOST [COMPONENT...]")
	}
	_, h, hp, err := faultSetup(o, o.positional[0])
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, c := range o.positional[1:] {
		if _, ok := componentByName(h, c); !ok {
			return fmt.Errorf("%s has no component %q", h.Name, c)
		}
		want[c] = true
	}
	init, ok := readInit(hp)
	if !ok {
		return fmt.Errorf("%s is not running", h.Name)
	}
	rotated := 0
	for _, pr := range hostProcs(init) {
		if pr.comm != "svlogd" || pr.state == 'Z' {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pr.pid))
		if err != nil {
			continue
		}
		var comp labstatus.LabComponent
		found := false
		for _, c := range h.Components {
			if cwd == c.RunitDir+"/log" {
				comp, found = c, true
			}
		}
		if !found || len(want) > 0 && !want[comp.Name] {
			continue
		}
		dir := hp.inside(cwd)
		if st, err := os.Stat(filepath.Join(dir, "current")); err != nil || st.Size() == 0 {
			continue
		}
		before := rotatedFiles(dir)
		if err := syscall.Kill(pr.pid, syscall.SIGALRM); err != nil {
			return err
		}
		deadline := time.Now().Add(5 * time.Second)
		for len(rotatedFiles(dir)) <= len(before) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: svlogd of %s did not rotate within 5s", h.Name, comp.Name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := appendEvent(hp.events(), labstatus.EventRotate, comp.Name, ""); err != nil {
			return err
		}
		rotated++
	}
	fmt.Printf("lab rotate: %s: %d log(s) rotated\n", h.Name, rotated)
	return nil
}

// rotatedFiles lists svlogd's rotated files (@<tai64n>.s or .u) of a log dir.
func rotatedFiles(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "@*.[su]"))
	return m
}

func componentByName(h labstatus.LabHost, name string) (labstatus.LabComponent, bool) {
	for _, c := range h.Components {
		if c.Name == name {
			return c, true
		}
	}
	return labstatus.LabComponent{}, false
}
