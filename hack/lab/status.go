package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// statusOptions select what gatherStatus does beyond reading files.
type statusOptions struct {
	ssh        bool          // probe SSH logins
	sshTimeout time.Duration // per login
	events     int           // last events per host; -1 all, 0 none
}

// gatherStatus reads every host's real state from the outside: runit's
// supervise files, the startup folders, the host's processes, the ledger,
// the event log, and (optionally) an SSH login.
func gatherStatus(l *labstatus.Lab, opt statusOptions) (*labstatus.Status, error) {
	p := labPaths{l.Dir}
	now := time.Now()
	st := &labstatus.Status{Time: now.UTC()}
	ledger, err := labstatus.ReadLedger(p.ledger())
	if err != nil {
		return nil, fmt.Errorf("failed to read the ledger: %w", err)
	}
	names := map[string]bool{}
	for _, h := range l.Hosts {
		names[h.Name] = true
	}
	maint := labstatus.MaintenanceStates(ledger, names)
	var reach map[string]error
	if opt.ssh {
		pr, err := newProber(p, opt.sshTimeout)
		if err != nil {
			return nil, err
		}
		reach = pr.loginAll(l.Hosts)
	}
	byNS := procsByNS(allProcs())
	for _, h := range l.Hosts {
		hs, err := hostStatus(p, h, byNS, now, opt)
		if err != nil {
			return nil, fmt.Errorf("failed to read the state of %s: %w", h.Name, err)
		}
		hs.Maintenance = labstatus.MaintenanceNone
		if m, ok := maint[h.Name]; ok {
			hs.Maintenance = m
		}
		if opt.ssh {
			if err := reach[h.Name]; err != nil {
				hs.ReachError = err.Error()
			} else {
				hs.Reachable = true
			}
		}
		st.Hosts = append(st.Hosts, hs)
	}
	return st, nil
}

func hostStatus(p labPaths, h labstatus.LabHost, byNS map[string][]proc, now time.Time, opt statusOptions) (labstatus.HostStatus, error) {
	hp := p.host(h.Name)
	hs := labstatus.HostStatus{
		Name: h.Name, Address: h.Address, Roles: h.Roles,
		Components:  []labstatus.ComponentStatus{},
		Startup:     map[string]string{},
		StartupSave: map[string]string{},
		Events:      []labstatus.Event{},
	}
	var procs []proc
	if init, ok := readInit(hp); ok {
		hs.Booted = true
		procs = byNS[nsOf(init.pid)]
		if b, err := os.ReadFile(hp.bootID()); err == nil {
			hs.BootID = strings.TrimSpace(string(b))
		}
	}
	if _, err := os.Stat(hp.frozen()); err == nil {
		hs.Frozen = true
	}
	var err error
	if hs.Startup, _, err = readLinks(hp.inside(diracRoot + "/startup")); err != nil {
		return hs, err
	}
	if hs.StartupSave, hs.StartupSaveExists, err = readLinks(hp.inside(diracRoot + "/startup-save")); err != nil {
		return hs, err
	}
	for _, c := range h.Components {
		hs.Components = append(hs.Components, componentStatus(hp, c, hs.Startup, hs.StartupSave, now))
	}
	hs.MySQLD.Present = h.Database
	for _, pr := range procs {
		if pr.comm == "mariadbd" && pr.state != 'Z' {
			hs.MySQLD.Running = true
			hs.MySQLD.PID = pr.nsPid
		}
	}
	hs.InnodbLog.Path = innodbLogPath
	if fi, err := os.Lstat(hp.inside(innodbLogPath)); err == nil {
		hs.InnodbLog.Exists = true
		if fi.Mode()&os.ModeSymlink != 0 {
			hs.InnodbLog.IsLink = true
			hs.InnodbLog.Target, _ = os.Readlink(hp.inside(innodbLogPath))
		}
	}
	if opt.events != 0 {
		ev, err := labstatus.ReadEvents(hp.events())
		if err != nil {
			return hs, err
		}
		if opt.events > 0 && len(ev) > opt.events {
			ev = ev[len(ev)-opt.events:]
		}
		if ev != nil {
			hs.Events = ev
		}
	}
	return hs, nil
}

// readLinks maps the symlinks of dir to their targets; other entries (an
// operator's manifest file) are left out. A missing dir is empty.
func readLinks(dir string) (map[string]string, bool, error) {
	out := map[string]string{}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, false, nil
	}
	if err != nil {
		return out, false, err
	}
	for _, e := range ents {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		if t, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil {
			out[e.Name()] = t
		}
	}
	return out, true, nil
}

func componentStatus(hp hostPaths, c labstatus.LabComponent, startup, save map[string]string, now time.Time) labstatus.ComponentStatus {
	cs := labstatus.ComponentStatus{Name: c.Name, Kind: c.Kind, State: labstatus.StateMissing}
	_, inStartup := startup[c.Name]
	_, inSave := save[c.Name]
	switch {
	case inStartup && inSave:
		cs.LinkIn = labstatus.LinkInBoth
	case inStartup:
		cs.LinkIn = labstatus.LinkInStartup
	case inSave:
		cs.LinkIn = labstatus.LinkInStartupSave
	default:
		cs.LinkIn = labstatus.LinkInNone
	}
	if b, err := os.ReadFile(filepath.Join(hp.breakDir(), c.Name)); err == nil {
		cs.Break = strings.TrimSpace(string(b))
	}
	dir := hp.inside(c.RunitDir)
	s, err := readSupervise(dir)
	if err != nil {
		return cs
	}
	cs.Seconds = int(now.Sub(s.when) / time.Second)
	if cs.Seconds < 0 {
		cs.Seconds = 0
	}
	running, _ := runsvRunning(dir)
	cs.Supervised = running
	cs.State = labstatus.StateDown
	if !running {
		// A status file left by a runsv that is gone (link moved away, host
		// rebooted): nothing supervises the directory, nothing runs.
		return cs
	}
	switch s.want {
	case 'u':
		cs.Want = "up"
	case 'd':
		cs.Want = "down"
	}
	cs.Paused, cs.GotTerm = s.paused, s.gotTerm
	if s.pid != 0 {
		cs.PID = s.pid
		switch s.state {
		case 1:
			cs.State = labstatus.StateRun
		case 2:
			cs.State = labstatus.StateFinish
		}
	}
	return cs
}

func cmdStatus(o *options) error {
	if err := checkRoot(); err != nil {
		return err
	}
	l, err := loadLab(o.dir)
	if err != nil {
		return err
	}
	st, err := gatherStatus(l, statusOptions{ssh: !o.noSSH, sshTimeout: 3 * time.Second, events: o.events})
	if err != nil {
		return err
	}
	if o.json {
		b, err := labstatus.MarshalIndent(st)
		if err != nil {
			return err
		}
		_, err = os.Stdout.Write(b)
		return err
	}
	printStatus(os.Stdout, st, !o.noSSH)
	return nil
}

func printStatus(w io.Writer, st *labstatus.Status, ssh bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tADDRESS\tROLES\tBOOTED\tSSH\tFROZEN\tMAINTENANCE\tMYSQLD\tINNODB LOG\tSTARTUP\tSAVED\tCOMPONENTS")
	for _, h := range st.Hosts {
		sshs := "-"
		if ssh {
			sshs = "ok"
			if !h.Reachable {
				sshs = "FAIL"
			}
		}
		mysqld := "-"
		if h.MySQLD.Present {
			mysqld = "stopped"
			if h.MySQLD.Running {
				mysqld = fmt.Sprintf("running (pid %d)", h.MySQLD.PID)
			}
		}
		innodb := "-"
		if h.MySQLD.Present {
			innodb = "dir"
			if h.InnodbLog.IsLink {
				innodb = "-> " + h.InnodbLog.Target
			} else if !h.InnodbLog.Exists {
				innodb = "missing"
			}
		}
		counts := map[string]int{}
		for _, c := range h.Components {
			counts[c.State]++
		}
		var cs []string
		for _, k := range sortedKeys(counts) {
			cs = append(cs, fmt.Sprintf("%s:%d", k, counts[k]))
		}
		comps := strings.Join(cs, " ")
		if comps == "" {
			comps = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", h.Name, h.Address, strings.Join(h.Roles, ","),
			yesNo(h.Booted), sshs, yesNo(h.Frozen), h.Maintenance, mysqld, innodb, len(h.Startup), len(h.StartupSave), comps)
	}
	tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
