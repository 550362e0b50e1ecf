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
// (on the default PATH of SSH sessions): this binary as vobox-lab, sms as a
// link to it, and the component script.
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
	// runsvctrl and runsvstat are placed by installProfileTools (--runit),
	// reboot and sv are laid over the system's own inside the hosts.
	for _, name := range []string{"sms"} {
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
	LabDir  string            `json:"labDir"`
	Profile labstatus.Profile `json:"profile"`
}

// provisionHost creates a host's folder: the DIRAC tree with runit services
// and startup links shaped as ComponentInstaller.py writes them, MariaDB on
// Database hosts (DIRAC's or the system's, by profile), the lab user's home
// with the authorized key, and sshd's configuration and host key.
func provisionHost(p labPaths, h labstatus.LabHost, acct account, mariadbTemplate string, prof labstatus.Profile, cs string, clientPub []byte) (keyPair, error) {
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
	cycle, work := profileDurations(prof)
	noise := 0
	if prof.Noise {
		noise = 1
	}
	files := map[string]string{ // path inside the host → content
		"/opt/dirac/bashrc": fmt.Sprintf("# DIRAC environment (vobox lab)\nexport DIRAC=/opt/dirac\nexport DIRACSYSCONFIG=/opt/dirac/etc/dirac.cfg\n"+
			"# The lab's profile (lab up --dirac, --agent-cycle, --agent-work, --noise), read by its components.\n"+
			"export VOBOX_LAB_DIRAC=%s VOBOX_LAB_POLLING_MS=%d VOBOX_LAB_WORK_MS=%d VOBOX_LAB_NOISE=%d VOBOX_LAB_CS_HOST=%s\n",
			prof.Dirac, cycle.Milliseconds(), work.Milliseconds(), noise, cs),
		"/opt/dirac/etc/dirac.cfg":         fmt.Sprintf("# DIRAC configuration of %s (vobox lab)\nLocalSite\n{\n  InstancePath = /opt/dirac\n}\n", h.Name),
		"/home/dirac/.bashrc":              "# vobox lab: deliberately empty, so that an SSH session costs milliseconds.\n",
		"/home/dirac/.profile":             "# vobox lab: deliberately empty, so that an SSH session costs milliseconds.\n",
		"/home/dirac/.hushlogin":           "",
		"/home/dirac/.ssh/authorized_keys": string(clientPub),
	}
	dirs := []string{"/opt/dirac/startup", "/opt/dirac/runit", "/opt/dirac/control", "/opt/dirac/etc",
		"/opt/dirac/versions/" + diracVersion + "/etc", "/home/dirac/.ssh"}
	for _, c := range h.Components {
		rd := c.RunitDir
		for path, content := range runitFiles(c, prof) {
			files[path] = content
		}
		files["/opt/dirac/versions/"+diracVersion+"/etc/"+c.Name+".cfg"] = ""
		dirs = append(dirs, rd+"/log", rd+"/control")
		if c.Kind == labstatus.KindAgent {
			dirs = append(dirs, "/opt/dirac/control/"+c.System+"/"+c.Component)
		}
	}
	if h.Database && prof.MySQL == labstatus.MySQLDirac {
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
		if strings.HasSuffix(path, "/run") || strings.HasSuffix(path, "/finish") || strings.HasSuffix(path, "/control/t") ||
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
	if h.Database && prof.MySQL == labstatus.MySQLSystem {
		if err := copyTree(filepath.Join(mariadbTemplate, "db"), hp.varLibMysql()); err != nil {
			return keyPair{}, err
		}
		// The InnoDB log lives with the data, as in Debian's layout.
		if err := copyTree(filepath.Join(mariadbTemplate, "log")+"/.", hp.varLibMysql()); err != nil {
			return keyPair{}, err
		}
		if err := os.WriteFile(hp.etcMyCnf(), []byte(systemMyCnf()), 0o644); err != nil {
			return keyPair{}, err
		}
	} else if h.Database {
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
	if err := os.WriteFile(hp.etcHosts(), []byte(fmt.Sprintf("127.0.0.1\tlocalhost\n%s\t%s\n", h.Address, h.Name)), 0o644); err != nil {
		return keyPair{}, err
	}
	if err := os.WriteFile(hp.sshdConfig(), []byte(sshdConfig(h.Address, h.Port)), 0o644); err != nil {
		return keyPair{}, err
	}
	cfg, err := json.MarshalIndent(hostConfig{LabHost: h, LabDir: p.dir, Profile: prof}, "", "  ")
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

// runitFiles are a component's runit files as DIRAC's ComponentInstaller.py
// writes them (installComponent, installTornado, _createRunitLog): bash
// scripts sourcing /opt/dirac/bashrc, run exec'ing dirac-agent or
// dirac-service (v9: tornado-start-CS, tornado-start-all), log/run
// "svlogd ." with s10000000/n20, and an agent's control/t touching
// stop_agent. No ./finish: DIRAC has none; v8 labs keep the lab's finish
// hook, which logs component-exit with runsv's exit code and signal.
func runitFiles(c labstatus.LabComponent, prof labstatus.Profile) map[string]string {
	rd := c.RunitDir
	const rc = "#!/bin/bash\n\nrcfile=/opt/dirac/bashrc\n[[ -e ${rcfile} ]] && source ${rcfile}\n#\n"
	var run string
	switch {
	case prof.Dirac == labstatus.DiracV9 && c.Name == "Configuration_Server":
		run = rc + "export DIRAC_USE_TORNADO_IOLOOP=Yes\nexec 2>&1\n#\n[ \"service\" = \"agent\" ] && renice 20 -p $$\n#\n#\nexec tornado-start-CS -ddd\n"
	case c.Name == tornadoLink:
		run = "#!/bin/bash\n\nrcfile=/opt/dirac/bashrc\n[ -e $rcfile ] && source $rcfile\n#\nexport DIRAC_USE_TORNADO_IOLOOP=Yes\nexec 2>&1\n#\n#\nexec tornado-start-all\n"
	default:
		run = fmt.Sprintf(rc+"exec 2>&1\n#\n[[ \"%s\" = \"agent\" ]] && renice 20 -p $$\n#\n#\nexec dirac-%s %s/%s --cfg /opt/dirac/pro/etc/%s.cfg < /dev/null\n",
			c.Kind, c.Kind, c.System, c.Component, c.Name)
	}
	files := map[string]string{
		rd + "/run":        run,
		rd + "/log/config": "\ns10000000\nn20\n",
		rd + "/log/run":    rc + "exec svlogd .\n",
	}
	if c.Kind == labstatus.KindAgent {
		stop := diracRoot + "/control/" + c.System + "/" + c.Component + "/stop_agent"
		files[rd+"/control/t"] = fmt.Sprintf("#!/bin/bash\n\necho %s\ntouch %s\n", stop, stop)
	}
	if prof.Dirac == labstatus.DiracV8 {
		files[rd+"/finish"] = fmt.Sprintf("#!/bin/sh\n# vobox lab hook (DIRAC has no finish): logs component-exit.\nexec /usr/local/bin/dirac-component finish %s/%s \"$@\"\n", c.System, c.Component)
	}
	return files
}

// tornadoLink is the one runit link of a v9 host's HTTPS services.
const tornadoLink = "Tornado_Tornado"

// dipsServices stay DIPS services with links of their own on DIRAC v9 (the
// Configuration Server runs tornado-start-CS under its own link); a v9
// host's other services are HTTPS, served by one Tornado_Tornado.
var dipsServices = map[string]bool{
	"Configuration_Server": true, "Framework_SystemAdministrator": true,
	"DataManagement_StorageElement": true, "WorkloadManagement_SandboxStore": true,
}

// v9Components maps a host's components to DIRAC v9's links: the HTTPS
// services become one Tornado_Tornado, in the place of the first of them.
func v9Components(names []string) []string {
	var out []string
	tornado := false
	for _, n := range names {
		if componentKind(n) == labstatus.KindService && !dipsServices[n] {
			if !tornado {
				out = append(out, tornadoLink)
				tornado = true
			}
			continue
		}
		out = append(out, n)
	}
	return out
}

// csHostOf names the lab's first host with a Configuration Server, for the
// "Can't update from server" lines.
func csHostOf(plans []hostPlan) string {
	for _, pl := range plans {
		for _, c := range pl.components {
			if c == "Configuration_Server" {
				return pl.name
			}
		}
	}
	return "localhost"
}
