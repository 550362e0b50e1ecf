package e2e

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

// The site profiles of issue 15, on the lab: each layout the operator
// claims to support (docs/dirac.md), Down and Up checked from the hosts'
// event logs and files, not from the operator's word.

// labMysqld is the system MariaDB's control on a --mysql system lab host,
// as a site's spec.database.service gives it.
var labMysqld = &diracv1.DatabaseServiceSpec{
	Start: []string{"sudo", "/usr/local/sbin/lab-mysqld", "start"},
	Stop:  []string{"sudo", "/usr/local/sbin/lab-mysqld", "stop"},
	Ready: []string{"mysqladmin", "ping"},
}

// TestProfileModernSite is a DIRAC v9 site: the runit 1.x tools only in
// /sbin (off a session's PATH), the system's MariaDB behind sudo. Down
// stops MariaDB through sudo; Up starts it again, ready by mysqladmin ping,
// starts the Framework host's CS first, and no component logs the CS error;
// the NOTICE "Returning response … ERROR:" noise fails nothing.
func TestProfileModernSite(t *testing.T) {
	e := newEnv(t, "127.70", "--topology", "seed", "--dirac", "v9", "--runit", "sbin", "--mysql", "system")
	e.useSharedOperator()
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Spec.Database.Service = labMysqld
	})
	downStart := time.Now()
	e.create(vbi)
	e.waitReady(vbi.Name, 4*time.Minute)
	if len(eventsSince(e.events("volhcb20"), labstatus.EventRunsvctrl, downStart)) == 0 {
		t.Error("volhcb20: no runsvctrl event: the operator did not use /sbin/runsvctrl")
	}
	for _, h := range e.lab.Hosts {
		if !h.Database {
			continue
		}
		evs := e.events(h.Name)
		if s := labstatus.Filter(eventsSince(evs, labstatus.EventMySQLServer, downStart), labstatus.EventMySQLServer, "stop"); len(s) == 0 || !strings.Contains(s[0].Detail, "by=dirac") {
			t.Errorf("%s: no lab-mysqld stop through sudo by dirac: %v", h.Name, s)
		}
		if len(eventsSince(evs, labstatus.EventMySQLDStop, downStart)) == 0 {
			t.Errorf("%s: mariadbd not stopped", h.Name)
		}
	}

	upStart := time.Now()
	e.setState(vbi.Name, diracv1.StateUp)
	e.waitReady(vbi.Name, 4*time.Minute)
	for _, h := range e.lab.Hosts {
		if !h.Database {
			continue
		}
		evs := e.events(h.Name)
		if s := labstatus.Filter(eventsSince(evs, labstatus.EventMySQLServer, upStart), labstatus.EventMySQLServer, "start"); len(s) == 0 {
			t.Errorf("%s: no lab-mysqld start through sudo on Up", h.Name)
		}
		if len(eventsSince(evs, labstatus.EventMySQLDStart, upStart)) == 0 {
			t.Errorf("%s: mariadbd not started on Up", h.Name)
		}
	}
	// The CS first, up componentUptime before the others of its host.
	starts := eventsSince(e.events("volhcb18"), labstatus.EventComponentStart, upStart)
	if len(starts) == 0 || starts[0].Subject != "Configuration_Server" {
		t.Errorf("volhcb18: first start on Up %v, want Configuration_Server", starts)
	} else {
		for _, s := range starts[1:] {
			if gap := s.Time.Sub(starts[0].Time); gap < vbi.Spec.Checks.ComponentUptime.Duration {
				t.Errorf("volhcb18: %s started %s after the CS, want at least componentUptime (%s)", s.Subject, gap, vbi.Spec.Checks.ComponentUptime.Duration)
			}
		}
		if last := starts[len(starts)-1]; last.Subject != "Framework_SystemAdministrator" {
			t.Errorf("volhcb18: last start %s, want Framework_SystemAdministrator", last.Subject)
		}
	}
	// No component logs the Configuration Server's absence on Up; the
	// NOTICE noise with ERROR: in its message is there, and failed nothing.
	csErrors, noise := logLinesSince(t, e.lab, upStart, "Can't update from any server"), logLinesSince(t, e.lab, upStart, "Returning response")
	for _, l := range csErrors {
		t.Errorf("a component logged the CS error on Up: %s", l)
	}
	if len(noise) == 0 {
		t.Error("no NOTICE Returning response noise since Up: the profile's noise is off?")
	}
	t.Logf("FIGURE modern site: Down and Up Ready with /sbin/runsvctrl and sudo lab-mysqld; %d NOTICE noise lines in the Up window, none failed; CS first on volhcb18 (%s)", len(noise), starts[0].Time.Format(labstatus.TimeFormat))
}

// TestProfileAgentKilled has agents whose cycles (58 s of 60) outlast
// stopTimeout: Down kills them after stopTimeout, and each leaves the
// stop_agent its stop made; after the power stop's reboot, Up removes it
// before the link is back, so the agents start and stay up instead of
// exiting at once on the leftover.
func TestProfileAgentKilled(t *testing.T) {
	e := newEnv(t, "127.73", "--hosts", "4", "--dirac", "v9", "--agent-cycle", "60s", "--agent-work", "58s")
	e.useSharedOperator()
	ah := hostWithRole(t, e.lab, "Agents")
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Spec.Strategy.StopTimeout = metav1.Duration{Duration: 4 * time.Second}
	})
	e.create(vbi)
	got := e.waitReady(vbi.Name, 3*time.Minute)
	killed := hostStatus(got, ah.Name).KilledComponents
	if len(killed) == 0 {
		t.Fatalf("%s: no agent killed after stopTimeout (cycles of 58s)", ah.Name)
	}
	stopFile := func(link string) string {
		for _, c := range ah.Components {
			if c.Name == link {
				return filepath.Join(ah.Dir, "opt-dirac", "control", c.System, c.Component, "stop_agent")
			}
		}
		t.Fatalf("no component %s on %s", link, ah.Name)
		return ""
	}
	for _, k := range killed {
		if _, err := os.Stat(stopFile(k)); err != nil {
			t.Errorf("%s was killed: its stop_agent should be left behind: %v", k, err)
		}
	}
	// The power stop: a killed agent's children (a cycle's work) may
	// outlive it and hold its log pipe, and so its runsv, until they end;
	// the reboot between Down and Up ends them, as on a real site.
	e.labCmd("reboot", ah.Name)
	upStart := time.Now()
	e.setState(vbi.Name, diracv1.StateUp)
	e.waitReady(vbi.Name, 3*time.Minute)
	for _, k := range killed {
		if _, err := os.Stat(stopFile(k)); !os.IsNotExist(err) {
			t.Errorf("%s: stop_agent still there after Up (%v)", k, err)
		}
	}
	for _, ev := range eventsSince(e.events(ah.Name), labstatus.EventComponentStop, upStart) {
		t.Errorf("%s: %s stopped after Up: %s", ah.Name, ev.Subject, ev.Detail)
	}
	st := e.status()
	hst, _ := st.Host(ah.Name)
	for _, c := range hst.Components {
		if c.State != "run" {
			t.Errorf("%s: %s is %s after Up, want run", ah.Name, c.Name, c.State)
		}
	}
	t.Logf("FIGURE agents killed: %v after stopTimeout; stop_agent removed before the links came back; all running after Up", killed)
}

// TestProfileSV is a site with runit 2 only (sv, no runsvctrl/runsvstat) on
// DIRAC v8: Down and Up through sv; then a service that logs ERROR at its
// start fails its check with the v8 line.
func TestProfileSV(t *testing.T) {
	e := newEnv(t, "127.71", "--hosts", "4", "--runit", "sv", "--dirac", "v8")
	e.useSharedOperator()
	vbi := e.labIntervention(fast)
	downStart := time.Now()
	e.create(vbi)
	e.waitReady(vbi.Name, 3*time.Minute)
	svc := hostWithRole(t, e.lab, "Services")
	if s := labstatus.Filter(eventsSince(e.events(svc.Name), labstatus.EventSV, downStart), labstatus.EventSV, "down"); len(s) == 0 {
		t.Errorf("%s: no sv down on Down", svc.Name)
	}
	st := e.status()
	for _, h := range st.Hosts {
		if len(h.Startup) > 0 {
			t.Errorf("%s: links left in startup after Down: %v", h.Name, h.Startup)
		}
	}
	broken := svc.Components[0].Name
	e.labCmd("break", svc.Name, broken, "errors")
	e.setState(vbi.Name, diracv1.StateUp)
	v := e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, "", 3*time.Minute)
	hs := hostStatus(v, svc.Name)
	findings := strings.Join(hs.Findings, "\n")
	if hs.Reason != diracv1.ReasonErrorsInLog || !strings.Contains(findings, " UTC ") || !strings.Contains(findings, " ERROR: ") {
		t.Errorf("%s: reason %s, findings %q; want ErrorsInLog with a v8 ERROR line", svc.Name, hs.Reason, hs.Findings)
	}
	t.Logf("FIGURE sv/v8: Down through sv; Up: %s %s", hs.Reason, hs.Message)
}

// TestProfileV9Rotated is DIRAC v9 with a service that logs ERROR at its
// start, whose log svlogd rotates before the check reads it: the line in
// the rotated @….s file fails the check.
func TestProfileV9Rotated(t *testing.T) {
	e := newEnv(t, "127.72", "--hosts", "4", "--dirac", "v9")
	e.useSharedOperator()
	vbi := e.labIntervention(func(v *diracv1.VOBoxIntervention) {
		fast(v)
		v.Spec.Checks.ComponentUptime = metav1.Duration{Duration: 8 * time.Second}
	})
	e.create(vbi)
	e.waitReady(vbi.Name, 3*time.Minute)
	svc := hostWithRole(t, e.lab, "Services")
	broken := svc.Components[0].Name
	e.labCmd("break", svc.Name, broken, "errors")
	upStart := time.Now()
	e.setState(vbi.Name, diracv1.StateUp)
	deadline := time.Now().Add(2 * time.Minute)
	for len(labstatus.Filter(eventsSince(e.events(svc.Name), labstatus.EventComponentStart, upStart), labstatus.EventComponentStart, broken)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s never started on Up", broken)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // its ERROR lines follow its start
	e.labCmd("rotate", svc.Name, broken)
	v := e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, "", 2*time.Minute)
	hs := hostStatus(v, svc.Name)
	if hs.Reason != diracv1.ReasonErrorsInLog || len(hs.Findings) == 0 {
		t.Fatalf("%s: reason %s (%s); want ErrorsInLog from the rotated file", svc.Name, hs.Reason, hs.Message)
	}
	line := strings.TrimPrefix(hs.Findings[0], broken+": ")
	if !strings.Contains(line, "Z "+strings.Replace(broken, "_", "/", 1)+" ERROR: ") {
		t.Errorf("finding %q: want a v9 ERROR line", hs.Findings[0])
	}
	var comp labstatus.LabComponent
	for _, c := range svc.Components {
		if c.Name == broken {
			comp = c
		}
	}
	logDir := filepath.Join(svc.Dir, "opt-dirac", strings.TrimPrefix(comp.RunitDir, "/opt/dirac/"), "log")
	if cur, _ := os.ReadFile(filepath.Join(logDir, "current")); strings.Contains(string(cur), line) {
		t.Errorf("the finding is in log/current: the rotation came too late to test the rotated files")
	}
	rotated, _ := filepath.Glob(filepath.Join(logDir, "@*.s"))
	t.Logf("FIGURE v9 rotated: %s from %d rotated file(s): %s", hs.Reason, len(rotated), hs.Findings[0])
}

// TestProfileNoRunitTools is a site whose hosts have no runit tool a
// session can run (--runit none: neither runsvctrl/runsvstat anywhere nor an
// sv that runs): the preflight stops the intervention with
// RunitToolsMissing on every host that parks links, and nothing moved
// anywhere, maintenance included.
func TestProfileNoRunitTools(t *testing.T) {
	e := newEnv(t, "127.75", "--hosts", "4", "--runit", "none")
	e.useSharedOperator()
	vbi := e.labIntervention(fast)
	before, ledgerBefore := e.snapshot()
	e.create(vbi)
	v := e.waitCondition(vbi.Name, diracv1.StalledCondition, metav1.ConditionTrue, "", 2*time.Minute)
	for _, h := range e.lab.Hosts {
		hs := hostStatus(v, h.Name)
		switch {
		case len(h.Components) > 0 && hs.Reason != diracv1.ReasonRunitToolsMissing:
			t.Errorf("%s: reason %q (%s), want RunitToolsMissing", h.Name, hs.Reason, hs.Message)
		case len(h.Components) == 0 && hs.Reason == diracv1.ReasonRunitToolsMissing:
			t.Errorf("%s parks no link: it needs no runit tool (%s)", h.Name, hs.Message)
		}
	}
	time.Sleep(3 * time.Second) // nothing follows either
	after, ledgerAfter := e.snapshot()
	report(t, "nothing moved", diffSnapshots(before, after, ledgerBefore, ledgerAfter))
	t.Logf("FIGURE no runit tools: Stalled %s; %s", *condition(v, diracv1.StalledCondition), hostStatus(v, hostWithRole(t, e.lab, "Agents").Name).Message)
}

// hostWithRole is the lab's first host with role.
func hostWithRole(t *testing.T, lab *labstatus.Lab, role string) labstatus.LabHost {
	t.Helper()
	for _, h := range lab.Hosts {
		if h.HasRole(role) && len(h.Components) > 0 {
			return h
		}
	}
	t.Fatalf("the lab has no %s host with components", role)
	return labstatus.LabHost{}
}

// logLinesSince returns the lines of every component log (log/current and
// rotated files) of the lab stamped at or after since that contain substr.
func logLinesSince(t *testing.T, lab *labstatus.Lab, since time.Time, substr string) []string {
	t.Helper()
	from := since.UTC().Truncate(time.Second).Format("2006-01-02 15:04:05")
	var out []string
	for _, h := range lab.Hosts {
		for _, c := range h.Components {
			dir := filepath.Join(h.Dir, "opt-dirac", strings.TrimPrefix(c.RunitDir, "/opt/dirac/"), "log")
			files, _ := filepath.Glob(filepath.Join(dir, "@*"))
			for _, f := range append(files, filepath.Join(dir, "current")) {
				fh, err := os.Open(f)
				if err != nil {
					continue
				}
				sc := bufio.NewScanner(fh)
				for sc.Scan() {
					l := sc.Text()
					if len(l) < 19 || !strings.Contains(l, substr) {
						continue
					}
					if stamp := l[:10] + " " + l[11:19]; stamp >= from {
						out = append(out, h.Name+": "+l)
					}
				}
				_ = fh.Close()
			}
		}
	}
	slices.Sort(out)
	return out
}
