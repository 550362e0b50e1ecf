package main

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// Paths of the site layouts (lab up --runit, --mysql) inside a host.
const (
	// inHostSbin is /usr/sbin (and so /sbin, a link to it on Debian): the
	// lab lays bin/sbin over it, with reboot and, for --runit sbin, the
	// runit 1.x tools.
	inHostSbin = "/usr/sbin"
	// inHostLocalSbin is /usr/local/sbin: bin/local-sbin, with lab-mysqld.
	inHostLocalSbin = "/usr/local/sbin"
	// labMysqldPath is the system MariaDB's control command (--mysql
	// system), run by the lab user through sudo.
	labMysqldPath = "/usr/local/sbin/lab-mysqld"
	// rebootPath is the host's reboot, run by the lab user through sudo.
	rebootPath = "/usr/sbin/reboot"
	// inHostSharedDir is the lab-wide folder every host sees (bin/shared):
	// Configuration Servers hold their lock files there.
	inHostSharedDir = "/run/lab/shared"
	// svReal is where a --runit sv host keeps runit 2's own sv; /usr/bin/sv
	// is the lab's wrapper that logs an sv event and runs it.
	svReal = "/run/lab/sv.real"
	// svHidden is the empty, non-executable file a --runit none host binds
	// over /usr/bin/sv.
	svHidden = "/run/lab/sv.none"
	// bootIDPath is the file a host's boot id is bound over.
	bootIDPath = "/proc/sys/kernel/random/boot_id"
	// mysqlUser runs the system MariaDB (--mysql system).
	mysqlUser = "mysql"
	// initRebootCode is the exit status of a host's init asked to reboot
	// (SIGUSR2, sent by the host's reboot): its power supervisor boots the
	// host again.
	initRebootCode = 100
)

//go:embed scripts/lab-mysqld
var labMysqldScript []byte

// diracCommands are DIRAC's commands the run scripts exec, all the lab's
// dirac-component under these names.
var diracCommands = []string{"dirac-agent", "dirac-service", "tornado-start-CS", "tornado-start-all"}

// resolveProfile checks up's profile flags and fills in the defaults.
func resolveProfile(o *options) (labstatus.Profile, error) {
	pr := labstatus.Profile{Dirac: o.dirac, Runit: o.runit, MySQL: o.mysql}
	switch pr.Dirac {
	case labstatus.DiracV8, labstatus.DiracV9:
	default:
		return pr, usagef("--dirac must be v8 or v9, got %q", pr.Dirac)
	}
	switch pr.Runit {
	case labstatus.RunitLocal, labstatus.RunitSbin, labstatus.RunitSV, labstatus.RunitNone:
	default:
		return pr, usagef("--runit must be local, sbin, sv or none, got %q", pr.Runit)
	}
	switch pr.MySQL {
	case labstatus.MySQLDirac, labstatus.MySQLSystem:
	default:
		return pr, usagef("--mysql must be dirac or system, got %q", pr.MySQL)
	}
	switch o.noise {
	case "auto":
		pr.Noise = pr.Dirac == labstatus.DiracV9
	case "on":
		pr.Noise = true
	case "off":
	default:
		return pr, usagef("--noise must be auto, on or off, got %q", o.noise)
	}
	if o.agentCycle < 100*time.Millisecond {
		return pr, usagef("--agent-cycle must be at least 100ms, got %s", o.agentCycle)
	}
	work := o.agentWork
	if work == 0 {
		work = o.agentCycle / 2
	}
	if work < 0 {
		return pr, usagef("--agent-work must not be negative, got %s", o.agentWork)
	}
	pr.AgentCycle, pr.AgentWork = o.agentCycle.String(), work.String()
	return pr, nil
}

// profileDurations returns the agent cycle and work of a profile.
func profileDurations(pr labstatus.Profile) (cycle, work time.Duration) {
	cycle, _ = time.ParseDuration(pr.AgentCycle)
	work, _ = time.ParseDuration(pr.AgentWork)
	return cycle, work
}

// Folders of the lab's tools (see installTools).
func (p labPaths) sbinDir() string      { return filepath.Join(p.dir, "bin", "sbin") }
func (p labPaths) localSbinDir() string { return filepath.Join(p.dir, "bin", "local-sbin") }
func (p labPaths) sharedDir() string    { return filepath.Join(p.dir, "shared") }

// sudoersPath is the lab's sudoers rule, one file per lab folder.
func (p labPaths) sudoersPath() string {
	sum := sha256.Sum256([]byte(p.dir))
	return "/etc/sudoers.d/vobox-lab-" + hex.EncodeToString(sum[:6])
}

// sudoersRule lets the lab user run the host's reboot and lab-mysqld as
// root, and nothing else. The commands are pinned by their SHA-256 digest,
// so the rule matches only the lab's own programs inside a lab host: the
// machine's real /usr/sbin/reboot has another digest and is refused.
func sudoersRule(p labPaths) (string, error) {
	digest := func(path string) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		return "sha256:" + hex.EncodeToString(sum[:]), nil
	}
	rb, err := digest(p.binary())
	if err != nil {
		return "", err
	}
	md, err := digest(filepath.Join(p.localSbinDir(), "lab-mysqld"))
	if err != nil {
		return "", err
	}
	var cmds []string
	for _, path := range []string{"/sbin/reboot", rebootPath} {
		cmds = append(cmds, rb+" "+path)
	}
	for _, verb := range []string{"start", "stop", "restart", "status"} {
		cmds = append(cmds, md+" "+labMysqldPath+" "+verb)
	}
	return fmt.Sprintf("# vobox lab in %s (hack/lab): what %s may run as root inside the lab's\n"+
		"# hosts. Written by \"lab up\", removed by \"lab down\".\n"+
		"%s ALL=(root) NOPASSWD: %s\n", p.dir, labUser, labUser, strings.Join(cmds, ", \\\n    ")), nil
}

// writeSudoers installs the lab's sudoers rule after visudo checked it.
func writeSudoers(p labPaths) error {
	rule, err := sudoersRule(p)
	if err != nil {
		return err
	}
	tmp := filepath.Join(p.dir, "sudoers.tmp")
	if err := os.WriteFile(tmp, []byte(rule), 0o440); err != nil {
		return err
	}
	defer os.Remove(tmp)
	if out, err := exec.Command("visudo", "-c", "-q", "-f", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("visudo rejected the lab's sudoers rule: %v: %s", err, out)
	}
	if err := os.MkdirAll("/etc/sudoers.d", 0o750); err != nil {
		return err
	}
	return writeFileAtomic(p.sudoersPath(), []byte(rule), 0o440)
}

// installProfileTools fills bin/sbin (laid over /usr/sbin in every host:
// reboot, and the runit 1.x tools for --runit sbin), bin/local-sbin
// (/usr/local/sbin: lab-mysqld), bin/shared and DIRAC's commands in
// bin/host; the runit 1.x tools go to bin/host only for --runit local.
func installProfileTools(p labPaths, pr labstatus.Profile) error {
	for _, d := range []string{p.sbinDir(), p.localSbinDir(), p.sharedDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// Configuration Servers of every host, as the lab user, lock files here.
	if err := os.Chmod(p.sharedDir(), os.ModeSticky|0o777); err != nil {
		return err
	}
	link := func(dir, name, target string) error {
		path := filepath.Join(dir, name)
		_ = os.Remove(path)
		return os.Symlink(target, path)
	}
	inHostBinary := inHostToolsDir + "/" + binName
	if err := link(p.sbinDir(), "reboot", inHostBinary); err != nil {
		return err
	}
	for _, tool := range []string{"runsvctrl", "runsvstat"} {
		_ = os.Remove(filepath.Join(p.toolsDir(), tool))
		switch pr.Runit {
		case labstatus.RunitLocal:
			if err := link(p.toolsDir(), tool, binName); err != nil {
				return err
			}
		case labstatus.RunitSbin:
			if err := link(p.sbinDir(), tool, inHostBinary); err != nil {
				return err
			}
		}
	}
	for _, c := range diracCommands {
		if err := link(p.toolsDir(), c, "dirac-component"); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(p.localSbinDir(), "lab-mysqld"), labMysqldScript, 0o755)
}
