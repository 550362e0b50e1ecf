package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

var (
	//go:embed scripts/dirac-component
	diracComponentScript []byte
	//go:embed scripts/mysql.server
	mysqlServerScript []byte
)

// diracVersion is the release folder /opt/dirac/pro points at.
const diracVersion = "v7r3p30"

// installTools fills <dir>/bin/host, which every host sees as /usr/local/bin
// (on the default PATH of SSH sessions): this binary as vobox-lab, runsvctrl,
// runsvstat and sms as links to it, and the component script.
func installTools(p labPaths) error {
	if err := os.MkdirAll(p.toolsDir(), 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("failed to find this program's binary: %w", err)
	}
	if err := copyFile(self, p.binary(), 0o755); err != nil {
		return fmt.Errorf("failed to copy the lab binary into the lab: %w", err)
	}
	for name := range toolNames {
		link := filepath.Join(p.toolsDir(), name)
		_ = os.Remove(link)
		if err := os.Symlink(binName, link); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(p.toolsDir(), "dirac-component"), diracComponentScript, 0o755)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// hostConfig is hosts/<name>/host.json: what the host's init needs to boot.
type hostConfig struct {
	labstatus.LabHost
	LabDir string `json:"labDir"`
}

// provisionHost creates a host's folder: the DIRAC tree with runit services
// and startup links, MariaDB on Database hosts, the lab user's home with the
// authorized key, and sshd's configuration and host key.
func provisionHost(p labPaths, h labstatus.LabHost, acct account, mariadbTemplate string, agentCycle time.Duration, clientPub []byte) (keyPair, error) {
	hp := p.host(h.Name)
	opt, home := hp.optDirac(), hp.homeDirac()
	for _, d := range []string{hp.dir, hp.breakDir(), opt, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return keyPair{}, err
		}
	}
	if err := os.MkdirAll(hp.sshDir(), 0o700); err != nil {
		return keyPair{}, err
	}

	files := map[string]string{ // path inside the host → content
		"/opt/dirac/bashrc":                "# DIRAC environment (vobox lab)\nexport DIRAC=/opt/dirac\nexport DIRACSYSCONFIG=/opt/dirac/etc/dirac.cfg\n",
		"/opt/dirac/etc/dirac.cfg":         fmt.Sprintf("# DIRAC configuration of %s (vobox lab)\nLocalSite\n{\n  InstancePath = /opt/dirac\n}\n", h.Name),
		"/home/dirac/.bashrc":              "# vobox lab: deliberately empty, so that an SSH session costs milliseconds.\n",
		"/home/dirac/.profile":             "# vobox lab: deliberately empty, so that an SSH session costs milliseconds.\n",
		"/home/dirac/.hushlogin":           "",
		"/home/dirac/.ssh/authorized_keys": string(clientPub),
	}
	dirs := []string{"/opt/dirac/startup", "/opt/dirac/runit", "/opt/dirac/control", "/opt/dirac/etc",
		"/opt/dirac/versions/" + diracVersion, "/home/dirac/.ssh"}
	for _, c := range h.Components {
		rd := c.RunitDir
		name := c.System + "/" + c.Component
		extra := ""
		if c.Kind == labstatus.KindAgent {
			extra = fmt.Sprintf("export AGENT_CYCLE=%g\n", agentCycle.Seconds())
		}
		files[rd+"/run"] = fmt.Sprintf("#!/bin/sh\n# DIRAC %s %s (vobox lab)\n%sexec 2>&1\nexec /usr/local/bin/dirac-component %s %s\n",
			c.Kind, name, extra, c.Kind, name)
		files[rd+"/finish"] = fmt.Sprintf("#!/bin/sh\nexec /usr/local/bin/dirac-component finish %s \"$@\"\n", name)
		files[rd+"/log/run"] = "#!/bin/sh\nexec svlogd .\n"
		files[rd+"/log/config"] = "s1000000\nn3\n"
		dirs = append(dirs, rd+"/log")
		if c.Kind == labstatus.KindAgent {
			ctl := "/opt/dirac/control/" + name
			dirs = append(dirs, ctl, rd+"/control")
			// DIRAC's graceful stop: runsv runs control/t on "d" and "t"; it
			// exits 0, so runsv sends no TERM and the agent stops at the end
			// of its cycle when it finds stop_agent.
			files[rd+"/control/t"] = fmt.Sprintf("#!/bin/sh\necho 1 > %s/stop_agent\n", ctl)
		}
	}
	if h.Database {
		dirs = append(dirs, "/opt/dirac/mysql/etc", "/opt/dirac/versions/"+diracVersion+"/mysql/share/mysql")
		files["/opt/dirac/mysql/etc/my.cnf"] = hostMyCnf()
		files["/opt/dirac/versions/"+diracVersion+"/mysql/share/mysql/mysql.server"] = string(mysqlServerScript)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(hp.inside(d), 0o755); err != nil {
			return keyPair{}, err
		}
	}
	for path, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(path, "/run") || strings.HasSuffix(path, "/finish") || strings.HasSuffix(path, "/t") ||
			strings.HasSuffix(path, "mysql.server") {
			mode = 0o755
		}
		if strings.HasSuffix(path, "authorized_keys") {
			mode = 0o600
		}
		if err := os.WriteFile(hp.inside(path), []byte(content), mode); err != nil {
			return keyPair{}, err
		}
	}
	if err := os.Chmod(hp.inside("/home/dirac/.ssh"), 0o700); err != nil {
		return keyPair{}, err
	}
	links := map[string]string{
		"/opt/dirac/pro": "versions/" + diracVersion,
	}
	for _, c := range h.Components {
		links["/opt/dirac/startup/"+c.Name] = c.RunitDir
	}
	for link, target := range links {
		if err := os.Symlink(target, hp.inside(link)); err != nil {
			return keyPair{}, err
		}
	}
	if h.Database {
		for _, d := range []string{"db", "log"} {
			if err := copyTree(filepath.Join(mariadbTemplate, d), hp.inside("/opt/dirac/mysql/"+d)); err != nil {
				return keyPair{}, err
			}
		}
	}
	if err := chownTree(opt, acct); err != nil {
		return keyPair{}, err
	}
	if err := chownTree(home, acct); err != nil {
		return keyPair{}, err
	}
	if err := os.WriteFile(hp.events(), nil, 0o644); err != nil {
		return keyPair{}, err
	}
	if err := os.Chown(hp.events(), acct.uid, acct.gid); err != nil {
		return keyPair{}, err
	}

	hostKey, err := newKeyPair("root@" + h.Name)
	if err != nil {
		return keyPair{}, err
	}
	if err := writeKeyPair(hostKey, hp.hostKey()); err != nil {
		return keyPair{}, err
	}
	if err := os.WriteFile(hp.sshdConfig(), []byte(sshdConfig(h.Address, h.Port)), 0o644); err != nil {
		return keyPair{}, err
	}
	cfg, err := json.MarshalIndent(hostConfig{LabHost: h, LabDir: p.dir}, "", "  ")
	if err != nil {
		return keyPair{}, err
	}
	if err := os.WriteFile(hp.hostJSON(), cfg, 0o644); err != nil {
		return keyPair{}, err
	}
	return hostKey, nil
}

func chownTree(root string, acct account) error {
	return filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, acct.uid, acct.gid)
	})
}

// sshdConfig is a host's sshd_config: its own address, its own host key,
// public-key logins for the lab user only, no PAM, and many sessions per
// connection (the operator multiplexes). MaxStartups keeps its default.
func sshdConfig(address string, port int) string {
	return fmt.Sprintf(`# sshd of a vobox lab host
ListenAddress %s:%d
HostKey %s/ssh/ssh_host_ed25519_key
PidFile none
UsePAM no
PermitRootLogin no
AllowUsers %s
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile .ssh/authorized_keys
StrictModes yes
MaxSessions 100
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
PermitUserEnvironment no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
LogLevel INFO
`, address, port, inHostHostDir, labUser)
}
