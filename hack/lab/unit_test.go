package main

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

func TestRoleCounts(t *testing.T) {
	tests := []struct {
		n                   int
		db, fw, svc, agents int
	}{
		{4, 1, 1, 1, 1},
		{11, 1, 1, 3, 6},
		{20, 1, 1, 6, 12},
		{50, 3, 3, 15, 29},
		{200, 10, 10, 60, 120},
		{256, 13, 13, 77, 153},
	}
	for _, tt := range tests {
		db, fw, svc, ag := roleCounts(tt.n)
		if db != tt.db || fw != tt.fw || svc != tt.svc || ag != tt.agents {
			t.Errorf("roleCounts(%d) = %d/%d/%d/%d, want %d/%d/%d/%d", tt.n, db, fw, svc, ag, tt.db, tt.fw, tt.svc, tt.agents)
		}
		if db+fw+svc+ag != tt.n {
			t.Errorf("roleCounts(%d) sums to %d", tt.n, db+fw+svc+ag)
		}
	}
}

func TestScaledTopology(t *testing.T) {
	plans, err := scaledTopology(200)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 200 || plans[0].name != "vobox001" || plans[199].name != "vobox200" {
		t.Fatalf("got %d hosts, first %s last %s", len(plans), plans[0].name, plans[len(plans)-1].name)
	}
	roles := map[string]int{}
	for _, p := range plans {
		roles[p.roles[0]]++
		if p.roles[0] == labstatus.RoleDatabase {
			if len(p.components) != 0 || !p.innodbMove {
				t.Errorf("%s: a Database host runs no components and moves its journal", p.name)
			}
		} else if len(p.components) != 3 {
			t.Errorf("%s: %d components, want 3", p.name, len(p.components))
		}
	}
	if roles[labstatus.RoleDatabase] != 10 || roles[labstatus.RoleAgents] != 120 {
		t.Errorf("roles = %v", roles)
	}
	for _, n := range []int{0, 3, 257} {
		if _, err := scaledTopology(n); err == nil {
			t.Errorf("scaledTopology(%d) succeeded", n)
		}
	}
}

func TestSeedTopology(t *testing.T) {
	var names []string
	for _, p := range seedTopology() {
		names = append(names, p.name+":"+strings.Join(p.roles, ","))
	}
	want := "volhcb15:Services volhcb17:Services volhcb18:Framework volhcb19:Services volhcb20:Agents " +
		"volhcb21:Database volhcb22:Database volhcb23:Database volhcb24:Database volhcb25:Database volhcb26:Database"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("seed = %s", got)
	}
	for _, p := range seedTopology() {
		for _, c := range p.components {
			kind := componentKind(c)
			if p.roles[0] == labstatus.RoleAgents && kind != labstatus.KindAgent || p.roles[0] != labstatus.RoleAgents && kind != labstatus.KindService {
				t.Errorf("%s on %s is a %s", c, p.name, kind)
			}
		}
	}
}

func TestAddressesAndNet(t *testing.T) {
	for i, want := range map[int]string{0: "127.21.0.1", 10: "127.21.0.11", 249: "127.21.0.250", 250: "127.21.1.1"} {
		if got := hostAddress("127.21", i); got != want {
			t.Errorf("hostAddress(%d) = %s, want %s", i, got, want)
		}
	}
	for _, ok := range []string{"127.1", "127.21", "127.255"} {
		if err := validateNet(ok); err != nil {
			t.Errorf("validateNet(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"10.1", "127", "127.256", "127.1.2", "localhost", ""} {
		if err := validateNet(bad); err == nil {
			t.Errorf("validateNet(%q) accepted", bad)
		}
	}
}

func superviseBytes(when time.Time, pid int, paused bool, want byte, term bool, state byte) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint64(b[0:8], uint64(when.Unix())+taiOffset)
	binary.BigEndian.PutUint32(b[8:12], uint32(when.Nanosecond()))
	binary.LittleEndian.PutUint32(b[12:16], uint32(pid))
	if paused {
		b[16] = 1
	}
	b[17] = want
	if term {
		b[18] = 1
	}
	b[19] = state
	return b
}

func TestRunsvstatFormat(t *testing.T) {
	now := time.Unix(1_700_000_100, 0)
	then := now.Add(-45 * time.Second)
	tests := []struct {
		name       string
		status     []byte
		normallyUp bool
		want       string
	}{
		{"run", superviseBytes(then, 123, false, 'u', false, 1), true, "x: run (pid 123) 45 seconds"},
		{"down", superviseBytes(then, 0, false, 'd', false, 0), true, "x: down 45 seconds, normally up"},
		{"down wanted up", superviseBytes(then, 0, false, 'u', false, 0), true, "x: down 45 seconds, normally up, want up"},
		{"stopping", superviseBytes(then, 7, false, 'd', true, 1), true, "x: run (pid 7) 45 seconds, want down, got TERM"},
		{"finish", superviseBytes(then, 7, false, 'd', false, 2), true, "x: finish (pid 7) 45 seconds, want down"},
		{"paused, down file", superviseBytes(then, 9, true, 'u', false, 1), false, "x: run (pid 9) 45 seconds, normally down, paused"},
		{"clock skew", superviseBytes(now.Add(time.Minute), 9, false, 'u', false, 1), true, "x: run (pid 9) 0 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSuperviseStatus(tt.status)
			if err != nil {
				t.Fatal(err)
			}
			if got := formatRunsvstat("x", s, tt.normallyUp, now); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := parseSuperviseStatus(make([]byte, 19)); err == nil {
		t.Error("a 19-byte status parsed")
	}
}

func TestEventLines(t *testing.T) {
	e := labstatus.Event{Time: time.Date(2011, 2, 22, 10, 0, 0, 1500, time.UTC), Kind: labstatus.EventComponentStart,
		Subject: "Framework_SystemAdministrator", Detail: "pid=12 kind=service break=none"}
	line := e.String()
	if line != "2011-02-22T10:00:00.000001500Z component-start Framework_SystemAdministrator pid=12 kind=service break=none" {
		t.Fatalf("line = %q", line)
	}
	got, err := labstatus.ParseEvent(line)
	if err != nil || got != e {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if got.Field("pid") != "12" || got.Field("break") != "none" || got.Field("nope") != "" {
		t.Errorf("fields: %q %q", got.Field("pid"), got.Field("break"))
	}
	// Lines written by the hosts' shell scripts (date +%N) parse too, and
	// events come back sorted by time.
	evs, err := labstatus.ParseEvents(strings.NewReader(
		"2011-02-22T10:00:01.000000002Z mysqld-start mysqld pid=9\n" +
			"garbage\n" +
			"2011-02-22T10:00:01.000000001Z reboot volhcb21\n"))
	if err != nil || len(evs) != 2 || evs[0].Kind != "reboot" || evs[0].Subject != "volhcb21" || evs[0].Detail != "" {
		t.Fatalf("ParseEvents = %+v, %v", evs, err)
	}
}

func TestMaintenanceStates(t *testing.T) {
	hosts := map[string]bool{"volhcb18": true, "volhcb20": true, "volhcb21": true}
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	ledger := []labstatus.LedgerEntry{
		{Time: at(1), Host: "volhcb20", Args: []string{"set", "maintenance", "power stop", "other", "volhcb20"}},
		{Time: at(2), Host: "volhcb18", Args: []string{"set", "maintenance", "power stop", "other", "volhcb18", "volhcb21"}},
		{Time: at(3), Host: "volhcb20", Args: []string{"clear", "maintenance", "power stop", "volhcb20"}},
		{Time: at(4), Host: "volhcb21", Args: []string{"status"}},
		{Time: at(5), Host: "volhcb21", Args: []string{"clear", "maintenance", "power stop"}}, // no host: the caller
	}
	got := labstatus.MaintenanceStates(ledger, hosts)
	want := map[string]string{"volhcb20": "clear", "volhcb18": "set", "volhcb21": "clear"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for h, s := range want {
		if got[h] != s {
			t.Errorf("%s: got %q, want %q", h, got[h], s)
		}
	}
}

func TestShellJoin(t *testing.T) {
	if got := shellJoin([]string{"set", "maintenance", "power stop", "it's", ""}); got != `set maintenance 'power stop' 'it'\''s' ''` {
		t.Errorf("got %s", got)
	}
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"reboot", "volhcb20", "--dir", "/tmp/x", "volhcb21", "--no-wait"})
	if err != nil {
		t.Fatal(err)
	}
	if o.verb != "reboot" || strings.Join(o.positional, ",") != "volhcb20,volhcb21" || o.dir != "/tmp/x" || !o.noWait {
		t.Errorf("got %+v", o)
	}
	o, err = parseArgs([]string{"--dir", "/tmp/x", "ssh", "volhcb20", "runsvstat", "-l", "/opt/dirac/startup/A"})
	if err != nil {
		t.Fatal(err)
	}
	if o.verb != "ssh" || strings.Join(o.positional, " ") != "volhcb20 runsvstat -l /opt/dirac/startup/A" {
		t.Errorf("got %+v", o)
	}
	if _, err := parseArgs([]string{"--bogus"}); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestCheckDepsNamesTheFix(t *testing.T) {
	saved := dependencies
	t.Cleanup(func() { dependencies = saved })
	dependencies = []dependency{{"runit", "/nonexistent/runsvdir"}, {"mariadb-server", "/nonexistent/mariadbd"}}
	err := checkDeps()
	if err == nil {
		t.Fatal("missing dependencies not reported")
	}
	for _, want := range []string{"runit", "mariadb-server", fixCommand} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
}
