package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// benchLab is one lab of the benchmark: N hosts on their own --net, shared
// by every contender of that size.
type benchLab struct {
	bin string
	dir string
	net string
	*labstatus.Lab
	// groups are the host names by tier group: all, database, innodb,
	// framework, services, agents.
	groups map[string][]string
}

// Tier groups, named as in the Ansible inventory.
const (
	groupAll       = "all"
	groupDatabase  = "database"
	groupInnodb    = "innodb"
	groupFramework = "framework"
	groupServices  = "services"
	groupAgents    = "agents"
)

func (l *benchLab) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, l.bin, append([]string{"--dir", l.dir}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab %s: %w: %s", strings.Join(args, " "), err, tailString(string(out), 2000))
	}
	return nil
}

// up creates the lab: the seed topology for 11 hosts, else --hosts N.
func upLab(ctx context.Context, bin, dir, net string, n int) (*benchLab, error) {
	l := &benchLab{bin: bin, dir: dir, net: net}
	_ = l.run(ctx, "down") // a previous run's leftovers
	_ = os.RemoveAll(dir)
	args := []string{"up", "--net", net}
	if n == 11 {
		args = append(args, "--topology", "seed")
	} else {
		args = append(args, "--hosts", fmt.Sprint(n))
	}
	if err := l.run(ctx, args...); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return nil, err
	}
	l.Lab = &labstatus.Lab{}
	if err := json.Unmarshal(raw, l.Lab); err != nil {
		return nil, err
	}
	l.groups = map[string][]string{}
	for _, h := range l.Hosts {
		l.groups[groupAll] = append(l.groups[groupAll], h.Name)
		if h.InnodbLogMove {
			l.groups[groupInnodb] = append(l.groups[groupInnodb], h.Name)
		}
		for _, r := range h.Roles {
			g := strings.ToLower(r)
			l.groups[g] = append(l.groups[g], h.Name)
		}
	}
	return l, nil
}

func (l *benchLab) down() error { return l.run(context.Background(), "down") }

func (l *benchLab) reboot(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	err := l.run(ctx, "reboot", "--all")
	return time.Since(start), err
}

func (l *benchLab) host(name string) labstatus.LabHost {
	h, _ := l.Lab.Host(name)
	return h
}

func (l *benchLab) status(ctx context.Context) (*labstatus.Status, error) {
	out, err := exec.CommandContext(ctx, l.bin, "--dir", l.dir, "status", "--json", "--no-ssh", "--events", "0").Output()
	if err != nil {
		return nil, fmt.Errorf("lab status: %w", err)
	}
	st := &labstatus.Status{}
	return st, json.Unmarshal(out, st)
}

// notSteady says what keeps the lab from its resting state (every component
// running from its startup link, mysqld up, no maintenance), or "".
func (l *benchLab) notSteady(st *labstatus.Status) string {
	var why []string
	for _, h := range st.Hosts {
		lh := l.host(h.Name)
		for _, c := range h.Components {
			if c.State != labstatus.StateRun || c.LinkIn != labstatus.LinkInStartup {
				why = append(why, fmt.Sprintf("%s/%s %s in %s", h.Name, c.Name, c.State, c.LinkIn))
			}
		}
		if lh.Database && !h.MySQLD.Running {
			why = append(why, h.Name+" mysqld down")
		}
		if h.Maintenance == labstatus.MaintenanceSet {
			why = append(why, h.Name+" in maintenance")
		}
		for n, t := range h.StartupSave {
			why = append(why, fmt.Sprintf("%s startup-save/%s -> %s", h.Name, n, t))
		}
	}
	if len(why) > 5 {
		why = append(why[:5], fmt.Sprintf("and %d more", len(why)-5))
	}
	return strings.Join(why, "; ")
}

// waitSteady waits until the lab is at rest (see notSteady).
func (l *benchLab) waitSteady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := l.status(ctx)
		if err != nil {
			return err
		}
		why := l.notSteady(st)
		if why == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the lab is not at rest after %s: %s", timeout, why)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// events reads every host's event log.
func (l *benchLab) events() (map[string][]labstatus.Event, error) {
	out := map[string][]labstatus.Event{}
	for _, h := range l.Hosts {
		ev, err := labstatus.ReadEvents(h.EventLog)
		if err != nil {
			return nil, err
		}
		out[h.Name] = ev
	}
	return out, nil
}

// startupMTime is the last change of a host's /opt/dirac/startup: after Up,
// the moment its links were restored.
func (l *benchLab) startupMTime(name string) time.Time {
	st, err := os.Stat(filepath.Join(l.host(name).Dir, "opt-dirac", "startup"))
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
