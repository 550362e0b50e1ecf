package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// fixCommand is what every "missing dependency" message tells the user to run.
const fixCommand = "sudo hack/install-deps.sh"

// dependency is a program the lab runs and the Debian package providing it.
type dependency struct{ pkg, path string }

var dependencies = []dependency{
	{"runit", "/usr/bin/runsvdir"},
	{"runit", "/usr/bin/runsv"},
	{"runit", "/usr/bin/svlogd"},
	{"openssh-server", "/usr/sbin/sshd"},
	{"openssh-client", "/usr/bin/ssh"},
	{"mariadb-server", "/usr/sbin/mariadbd"},
	{"mariadb-server", "/usr/bin/mariadb-install-db"},
	{"mariadb-client", "/usr/bin/mariadb-admin"},
	{"procps", "/usr/bin/pgrep"},
	{"util-linux", "/usr/bin/setsid"},
	{"util-linux", "/usr/bin/flock"},
	{"sudo", "/usr/bin/sudo"},
	{"sudo", "/usr/sbin/visudo"},
}

// checkRoot fails unless the lab runs as root: it creates namespaces, mounts
// and the dirac account, and binds port 22.
func checkRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root (it creates namespaces, mounts, the %s account and sshd listeners on port 22): run it with sudo, after %q if the packages are missing", labUser, fixCommand)
	}
	return nil
}

// checkDeps fails at once, naming every missing package and the fix.
func checkDeps() error {
	var missing []string
	seen := map[string]bool{}
	for _, d := range dependencies {
		if _, err := os.Stat(d.path); err != nil && !seen[d.pkg] {
			seen[d.pkg] = true
			missing = append(missing, fmt.Sprintf("%s (%s)", d.pkg, d.path))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: install with %q", strings.Join(missing, ", "), fixCommand)
	}
	return nil
}

// preflight is checkRoot and checkDeps.
func preflight() error {
	if err := checkRoot(); err != nil {
		return err
	}
	return checkDeps()
}

// account is the lab user's identity on the machine.
type account struct {
	uid, gid int
}

// ensureAccount creates the dirac account if it is missing and makes sure it
// is not locked: with UsePAM no, OpenSSH refuses an account whose password
// field starts with "!" even when the key is right. "*" (no password can
// match) is accepted. Home is /home/dirac, shell /bin/bash; the home folder
// itself is per host (a bind mount), so only the mount point is created here.
func ensureAccount() (account, error) {
	unlock := lockFile("/run/vobox-lab.account.lock")
	defer unlock()
	if _, err := user.Lookup(labUser); err != nil {
		out, err := exec.Command("useradd", "--no-create-home", "--home-dir", diracHome,
			"--shell", "/bin/bash", "--user-group", "--comment", "DIRAC (vobox lab)", labUser).CombinedOutput()
		if err != nil {
			if _, lerr := user.Lookup(labUser); lerr != nil {
				return account{}, fmt.Errorf("failed to create the %s account: %v: %s", labUser, err, out)
			}
		}
	}
	locked, err := passwordLocked(labUser)
	if err != nil {
		return account{}, err
	}
	if locked {
		if out, err := exec.Command("usermod", "-p", "*", labUser).CombinedOutput(); err != nil {
			return account{}, fmt.Errorf("failed to unlock the %s account: %v: %s", labUser, err, out)
		}
	}
	u, err := user.Lookup(labUser)
	if err != nil {
		return account{}, fmt.Errorf("failed to look up %s: %w", labUser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if u.HomeDir != diracHome {
		return account{}, fmt.Errorf("the %s account's home is %s, the lab needs %s: fix with: usermod -d %s %s", labUser, u.HomeDir, diracHome, diracHome, labUser)
	}
	// Mount points for the per-host bind mounts. Empty directories on the
	// machine; each host sees its own folder there.
	for _, d := range []string{diracRoot, diracHome} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return account{}, fmt.Errorf("failed to create the mount point %s: %w", d, err)
		}
	}
	return account{uid: uid, gid: gid}, nil
}

// passwordLocked reads /etc/shadow: a password field starting with "!" is a
// locked account.
func passwordLocked(name string) (bool, error) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return false, fmt.Errorf("failed to read /etc/shadow: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) > 1 && fields[0] == name {
			return strings.HasPrefix(fields[1], "!"), nil
		}
	}
	return false, errors.Join(sc.Err(), fmt.Errorf("%s is not in /etc/shadow", name))
}

// lockFile takes an exclusive flock on path (created if needed) and returns
// the release function. Labs started concurrently (parallel test packages)
// serialise account creation and the MariaDB template build with it.
func lockFile(path string) func() {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}
