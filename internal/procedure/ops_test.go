package procedure

import (
	"reflect"
	"slices"
	"testing"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func TestOpDisplay(t *testing.T) {
	m := &Manifest{Entries: []ManifestEntry{entry("A_B", ClassService, true, false)}}
	cases := []struct {
		op   Op
		want []string
	}{
		{ProbeOp(ProbeArgs{Root: "/opt/dirac", Manifest: ".m"}, nil, 0), []string{"vobox-probe", "/opt/dirac", ".m", "", "", "", "", "0"}},
		{ProbeOp(ProbeArgs{Root: "/opt/dirac", Manifest: ".m", RunitBin: "/opt/runit/bin", Ready: []string{"mysqladmin", "ping"}}, nil, 0),
			[]string{"vobox-probe", "/opt/dirac", ".m", "", "", "", "/opt/runit/bin", "2", "mysqladmin", "ping"}},
		{RecordManifest("/opt/dirac/startup-save", ".m", m), []string{"vobox-manifest", "/opt/dirac/startup-save", ".m", "<2 lines>"}},
		{StopComponents(RunitTools{}, "/opt/dirac/startup", []string{"A_B"}), []string{"runsvctrl", "d", "/opt/dirac/startup/A_B"}},
		{StopComponents(RunitTools{Runsvctrl: "/sbin/runsvctrl", Runsvstat: "/sbin/runsvstat"}, "/opt/dirac/startup", []string{"A_B"}), []string{"/sbin/runsvctrl", "d", "/opt/dirac/startup/A_B"}},
		{StopComponents(RunitTools{SV: "sv"}, "/opt/dirac/startup", []string{"A_B"}), []string{"sv", "down", "/opt/dirac/startup/A_B"}},
		{KillComponents(RunitTools{SV: "/usr/bin/sv"}, "/opt/dirac/startup", []string{"A_B"}), []string{"/usr/bin/sv", "kill", "/opt/dirac/startup/A_B"}},
		{StartComponents(RunitTools{SV: "sv"}, "/opt/dirac/startup", []string{"A_B"}), []string{"sv", "up", "/opt/dirac/startup/A_B"}},
		{StartComponents(RunitTools{}, "/opt/dirac/startup", []string{"A_B"}), []string{"runsvctrl", "u", "/opt/dirac/startup/A_B"}},
		{RemoveStopAgentFiles("/opt/dirac", []ManifestEntry{{Name: "WorkloadManagement_SiteDirector", Target: "/opt/dirac/runit/WorkloadManagement/SiteDirector"},
			{Name: "DataManagement_FTS3Agent", Target: "../runit/DataManagement/FTS3Agent/"}}),
			[]string{"rm", "-f", "--", "/opt/dirac/control/WorkloadManagement/SiteDirector/stop_agent", "/opt/dirac/control/DataManagement/FTS3Agent/stop_agent"}},
		{StopDatabase("/opt/dirac/pro/mysql/share/mysql/mysql.server", nil), []string{"/opt/dirac/pro/mysql/share/mysql/mysql.server", "stop"}},
		{StopDatabase("/unused", &DatabaseService{Stop: []string{"sudo", "systemctl", "stop", "mariadb"}}), []string{"sudo", "systemctl", "stop", "mariadb"}},
		{StartDatabase("/unused", &DatabaseService{Start: []string{"sudo", "systemctl", "start", "mariadb"}}), []string{"sudo", "systemctl", "start", "mariadb"}},
	}
	for _, tc := range cases {
		if got := tc.op.Display(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Display = %q, want %q", tc.op.Name, got, tc.want)
		}
	}
	long := ParkLinks("/a", "/b", make([]string, 100))
	if got := long.Display(); len(got) != 64 {
		t.Errorf("Display keeps %d arguments, want 64", len(got))
	}
}

func TestDatabaseServiceFor(t *testing.T) {
	spec := &diracv1.VOBoxInterventionSpec{Reason: "power stop"}
	if svc := DatabaseServiceFor(spec, "db1"); svc != nil {
		t.Errorf("no service: %+v, want nil (mysql.server)", svc)
	}
	spec.Database.Service = &diracv1.DatabaseServiceSpec{Start: []string{"sudo", "/usr/local/sbin/lab-mysqld", "start"},
		Stop: []string{"sudo", "systemctl", "stop", "mariadb@{host}", "--message={reason}"}}
	got := DatabaseServiceFor(spec, "db1")
	want := &DatabaseService{Start: []string{"sudo", "/usr/local/sbin/lab-mysqld", "start"},
		Stop: []string{"sudo", "systemctl", "stop", "mariadb@db1", "--message=power stop"}, Ready: []string{"mysqladmin", "ping"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DatabaseServiceFor = %+v, want %+v", got, want)
	}
}
