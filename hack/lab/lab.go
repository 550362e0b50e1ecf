package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// Names and paths shared by the lab command and the hosts.
const (
	// labUser is the account the operator logs in as (the API's default).
	labUser = "dirac"
	// diracRoot is /opt/dirac inside a host: the host's opt-dirac folder.
	diracRoot = "/opt/dirac"
	// diracHome is /home/dirac inside a host: the host's home-dirac folder.
	diracHome = "/home/dirac"
	// inHostLab is where a host sees lab files: /run/lab/host is the host's
	// own folder (events.log, break/, ssh/), /run/lab/ledger.log the ledger.
	inHostLab       = "/run/lab"
	inHostHostDir   = "/run/lab/host"
	inHostLedger    = "/run/lab/ledger.log"
	inHostToolsDir  = "/usr/local/bin"
	binName         = "vobox-lab"
	mysqlServerPath = "/opt/dirac/pro/mysql/share/mysql/mysql.server"
	innodbLogPath   = "/opt/dirac/mysql/log"
	innodbLogTarget = "/home/dirac/mysql-log"
	secretName      = "vobox-lab-ssh"
	interventionNm  = "power-stop"
	sshPort         = 22
)

// labPaths are the files of a lab folder.
type labPaths struct{ dir string }

func (p labPaths) labJSON() string      { return filepath.Join(p.dir, "lab.json") }
func (p labPaths) privateKey() string   { return filepath.Join(p.dir, "id_ed25519") }
func (p labPaths) publicKey() string    { return filepath.Join(p.dir, "id_ed25519.pub") }
func (p labPaths) knownHosts() string   { return filepath.Join(p.dir, "known_hosts") }
func (p labPaths) secret() string       { return filepath.Join(p.dir, "secret.yaml") }
func (p labPaths) intervention() string { return filepath.Join(p.dir, "intervention.yaml") }
func (p labPaths) ledger() string       { return filepath.Join(p.dir, "ledger.log") }
func (p labPaths) toolsDir() string     { return filepath.Join(p.dir, "bin", "host") }
func (p labPaths) binary() string       { return filepath.Join(p.toolsDir(), binName) }
func (p labPaths) hostsDir() string     { return filepath.Join(p.dir, "hosts") }
func (p labPaths) host(name string) hostPaths {
	return hostPaths{dir: filepath.Join(p.hostsDir(), name)}
}

// hostPaths are the files of one host's folder, <dir>/hosts/<name>.
type hostPaths struct{ dir string }

func (h hostPaths) optDirac() string   { return filepath.Join(h.dir, "opt-dirac") }
func (h hostPaths) homeDirac() string  { return filepath.Join(h.dir, "home-dirac") }
func (h hostPaths) events() string     { return filepath.Join(h.dir, "events.log") }
func (h hostPaths) breakDir() string   { return filepath.Join(h.dir, "break") }
func (h hostPaths) sshDir() string     { return filepath.Join(h.dir, "ssh") }
func (h hostPaths) sshdConfig() string { return filepath.Join(h.sshDir(), "sshd_config") }
func (h hostPaths) hostKey() string    { return filepath.Join(h.sshDir(), "ssh_host_ed25519_key") }
func (h hostPaths) initPid() string    { return filepath.Join(h.dir, "init.pid") }
func (h hostPaths) bootLog() string    { return filepath.Join(h.dir, "boot.log") }
func (h hostPaths) hostJSON() string   { return filepath.Join(h.dir, "host.json") }
func (h hostPaths) frozen() string     { return filepath.Join(h.dir, "frozen") }
func (h hostPaths) bootID() string     { return filepath.Join(h.dir, "boot_id") }
func (h hostPaths) etcHosts() string   { return filepath.Join(h.dir, "etc-hosts") }
func (h hostPaths) etcMyCnf() string   { return filepath.Join(h.dir, "etc-mysql-my.cnf") }
func (h hostPaths) varLibMysql() string {
	return filepath.Join(h.dir, "var-lib-mysql")
}

// inside maps a path inside the host (/opt/dirac/…, /home/dirac/…) to the
// host folder outside.
func (h hostPaths) inside(p string) string {
	if rel, err := filepath.Rel(diracRoot, p); err == nil && filepath.IsLocal(rel) || p == diracRoot {
		return filepath.Join(h.optDirac(), rel)
	}
	if rel, err := filepath.Rel(diracHome, p); err == nil && filepath.IsLocal(rel) || p == diracHome {
		return filepath.Join(h.homeDirac(), rel)
	}
	panic("lab: no outside path for " + p)
}

// loadLab reads lab.json from the lab folder.
func loadLab(dir string) (*labstatus.Lab, error) {
	b, err := os.ReadFile(labPaths{dir}.labJSON())
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no lab in %s (lab.json is missing): run \"lab up\" first", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read lab.json: %w", err)
	}
	var l labstatus.Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("failed to parse %s: %w", labPaths{dir}.labJSON(), err)
	}
	return &l, nil
}

// labHost finds a host of the lab by name, with a helpful error.
func labHost(l *labstatus.Lab, name string) (labstatus.LabHost, error) {
	if h, ok := l.Host(name); ok {
		return h, nil
	}
	names := make([]string, 0, len(l.Hosts))
	for _, h := range l.Hosts {
		names = append(names, h.Name)
	}
	return labstatus.LabHost{}, fmt.Errorf("no host %q in the lab (hosts: %v)", name, names)
}

// writeFileAtomic writes through a temporary file and a rename, so readers
// never see half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// appendEvent appends one line to a host's event log. O_APPEND and a single
// write keep lines whole when hosts' processes append concurrently.
func appendEvent(path, kind, subject, detail string) error {
	line := labstatus.Event{Time: time.Now(), Kind: kind, Subject: subject, Detail: detail}.String() + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
