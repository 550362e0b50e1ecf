package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// contender is one way of running the procedure on a lab: Down, reboot, Up.
type contender interface {
	name() string
	run(ctx context.Context, l *benchLab, runID string) (*runResult, error)
}

// runResult is one contender's run.
type runResult struct {
	Down   *directionResult `json:"down,omitempty"`
	Up     *directionResult `json:"up,omitempty"`
	Reboot float64          `json:"rebootSeconds,omitempty"`
}

func (r *runResult) set(dir string, d *directionResult) {
	if dir == dirDown {
		r.Down = d
	} else {
		r.Up = d
	}
}

func (r *runResult) get(dir string) *directionResult {
	if dir == dirDown {
		return r.Down
	}
	return r.Up
}

// directionResult is one direction of one run.
type directionResult struct {
	Wall  float64   `json:"wallSeconds"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Limit is the physical limit of this run, from its event logs.
	Limit      float64     `json:"limitSeconds"`
	LimitTiers []tierLimit `json:"limitTiers,omitempty"`
	// The operator only.
	OperatorCPU        float64 `json:"cpuSeconds,omitempty"`
	OperatorPeakRSSMiB float64 `json:"peakRSSMiB,omitempty"`
	StatusWrites       float64 `json:"statusWrites,omitempty"`
	APIWrites          float64 `json:"apiWrites,omitempty"`
	Sessions           float64 `json:"sshSessions,omitempty"`
	ApplySeconds       float64 `json:"applySeconds,omitempty"`
	FirstCommandMs     float64 `json:"applyToFirstCommandMs,omitempty"`
	FirstCommandHost   string  `json:"firstCommandHost,omitempty"`
}

// runDirections runs Down, reboot, Up with fn timing one direction.
func runDirections(ctx context.Context, l *benchLab, fn func(dir string) error) (*runResult, error) {
	res := &runResult{}
	for _, dir := range []string{dirDown, dirUp} {
		if dir == dirUp {
			rb, err := l.reboot(ctx)
			if err != nil {
				return res, err
			}
			res.Reboot = rb.Seconds()
		}
		start := time.Now()
		err := fn(dir)
		end := time.Now()
		if err != nil {
			return res, fmt.Errorf("%s: %w", dir, err)
		}
		res.set(dir, &directionResult{Wall: end.Sub(start).Seconds(), Start: start, End: end})
	}
	return res, nil
}

//go:embed ansible/down.yml
var ansibleDown []byte

//go:embed ansible/up.yml
var ansibleUp []byte

//go:embed ansible/inventory.ini.tmpl
var inventoryTemplate string

//go:embed ansible/ansible.cfg.tmpl
var ansibleCfgTemplate string

// ansibleContender runs hack/bench/ansible's playbooks with forks = N,
// ControlPersist and pipelining.
type ansibleContender struct{ b *bench }

func (a *ansibleContender) name() string { return "ansible" }

func (a *ansibleContender) run(ctx context.Context, l *benchLab, runID string) (*runResult, error) {
	dir := filepath.Join(a.b.dir, "ansible-"+fmt.Sprint(len(l.Hosts)))
	if err := writeAnsible(dir, l, a.b.dir); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(a.b.dir, "ansible-"+runID+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	return runDirections(ctx, l, func(d string) error {
		book := "down.yml"
		if d == dirUp {
			book = "up.yml"
		}
		cmd := exec.CommandContext(ctx, "ansible-playbook", "-i", "inventory.ini", book)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(dir, "ansible.cfg"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("ansible-playbook %s: %w (log: %s)", book, err, logf.Name())
		}
		return nil
	})
}

func writeAnsible(dir string, l *benchLab, benchDir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data := map[string]any{"Lab": l, "Groups": l.groups, "Forks": len(l.Hosts),
		"ControlPath": filepath.Join(benchDir, "cp"), "Uptime": int(uptime.Seconds())}
	for name, tmpl := range map[string]string{"inventory.ini": inventoryTemplate, "ansible.cfg": ansibleCfgTemplate} {
		t, err := template.New(name).Funcs(template.FuncMap{"hostOf": l.host, "list": func(s ...string) []string { return s }}).Parse(tmpl)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(benchDir, "cp"), 0o700); err != nil {
		return err
	}
	down, up := ansibleDown, ansibleUp
	if ansibleModule == "raw" {
		down, up = rawPlaybook(down), rawPlaybook(up)
	}
	if err := os.WriteFile(filepath.Join(dir, "down.yml"), down, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "up.yml"), up, 0o644)
}

// ansibleModule is the module of the playbooks' tasks: shell (and command
// for sms), or raw, which runs the same scripts through the login shell
// with no Python on the host.
var ansibleModule = "shell"

// rawPlaybook turns the playbook's tasks into raw tasks.
func rawPlaybook(b []byte) []byte {
	s := strings.ReplaceAll(string(b), "ansible.builtin.shell: |", "ansible.builtin.raw: |")
	for _, pair := range [][2]string{
		{"ansible.builtin.command:\n        argv: [sms, set, maintenance, power stop, other, \"{{ inventory_hostname }}\"]",
			"ansible.builtin.raw: sms set maintenance 'power stop' other {{ inventory_hostname }}"},
		{"ansible.builtin.command:\n        argv: [sms, clear, maintenance, power stop, \"{{ inventory_hostname }}\"]",
			"ansible.builtin.raw: sms clear maintenance 'power stop' {{ inventory_hostname }}"},
	} {
		s = strings.ReplaceAll(s, pair[0], pair[1])
	}
	return []byte(s)
}

// pdshContender runs hack/bench/pdsh.sh: each tier's commands with pdsh's
// ssh rcmd, fan-out N, a new connection per command, no checks.
type pdshContender struct{ b *bench }

func (p *pdshContender) name() string { return "pdsh" }

func (p *pdshContender) run(ctx context.Context, l *benchLab, runID string) (*runResult, error) {
	dir := filepath.Join(p.b.dir, "pdsh-"+fmt.Sprint(len(l.Hosts)))
	if err := writeTierFiles(dir, l); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(p.b.dir, "pdsh-"+runID+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	return runDirections(ctx, l, func(d string) error {
		cmd := exec.CommandContext(ctx, "bash", "hack/bench/pdsh.sh", dir, strings.ToLower(d))
		cmd.Env = append(os.Environ(), "LAB_KEY="+l.Files.PrivateKey, "LAB_KNOWN_HOSTS="+l.Files.KnownHosts,
			fmt.Sprintf("FANOUT=%d", len(l.Hosts)))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pdsh.sh %s: %w (log: %s)", d, err, logf.Name())
		}
		return nil
	})
}

// writeTierFiles writes, for pdsh.sh, one folder per tier and direction:
// tier files named NN-Name, each a list of "address command-file" lines
// grouped by command.
func writeTierFiles(dir string, l *benchLab) error {
	_ = os.RemoveAll(dir)
	for _, d := range []string{dirDown, dirUp} {
		for i, t := range tiersOf(d) {
			names, commands := l.hostsOf(t)
			byCmd := map[string][]string{}
			var order []string
			for _, n := range names {
				c := commands[n]
				if _, ok := byCmd[c]; !ok {
					order = append(order, c)
				}
				byCmd[c] = append(byCmd[c], l.host(n).Address)
			}
			td := filepath.Join(dir, strings.ToLower(d), fmt.Sprintf("%02d-%s", i+1, t.name))
			if err := os.MkdirAll(td, 0o755); err != nil {
				return err
			}
			for j, c := range order {
				// pdsh runs one command line on every host: the host name
				// comes from the host itself.
				line := strings.ReplaceAll(c, `"$1"`, `"$(hostname)"`)
				if err := os.WriteFile(filepath.Join(td, fmt.Sprintf("%d.hosts", j)), []byte(strings.Join(byCmd[c], ",")+"\n"), 0o644); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(td, fmt.Sprintf("%d.cmd", j)), []byte(line+"\n"), 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// floorContender is the SSH floor: the project's own pooled executor
// (internal/remote) running each tier's commands on its hosts in parallel,
// with no controller, no API and no checks.
type floorContender struct{ b *bench }

func (f *floorContender) name() string { return "floor" }

func (f *floorContender) run(ctx context.Context, l *benchLab, runID string) (*runResult, error) {
	creds, err := labCredentials(l)
	if err != nil {
		return nil, err
	}
	return runDirections(ctx, l, func(d string) error {
		// A new executor per direction: the reboot broke the connections,
		// and the operator too dials again after it.
		ex := remote.NewSSHExecutor(remote.Options{})
		defer ex.Close()
		return runTiersWith(ctx, l, d, ex, creds)
	})
}

// runTiersWith runs the tiers of a direction with an executor.
func runTiersWith(ctx context.Context, l *benchLab, d string, ex remote.Executor, creds *remote.Credentials) error {
	for _, t := range tiersOf(d) {
		names, commands := l.hostsOf(t)
		var wg sync.WaitGroup
		errs := make([]error, len(names))
		for i, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h := l.host(n)
				tgt := remote.Target{Name: n, Address: h.Address, Port: h.Port, User: l.User, Credentials: creds}
				cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				defer cancel()
				_, errs[i] = ex.Run(cctx, tgt, remote.Command{"sh", "-c", commands[n], "bench-floor", n})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return fmt.Errorf("tier %s: %w", t.name, err)
			}
		}
	}
	return nil
}

func labCredentials(l *benchLab) (*remote.Credentials, error) {
	key, err := os.ReadFile(l.Files.PrivateKey)
	if err != nil {
		return nil, err
	}
	kh, err := os.ReadFile(l.Files.KnownHosts)
	if err != nil {
		return nil, err
	}
	return remote.NewCredentials(map[string][]byte{remote.SecretKeyPrivateKey: key, remote.SecretKeyKnownHosts: kh})
}
