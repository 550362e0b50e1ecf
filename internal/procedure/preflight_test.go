package procedure

import (
	"strings"
	"testing"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

func TestPreflight(t *testing.T) {
	db := PreflightInput{Host: "db1", Root: root, Roles: []diracv1.Role{diracv1.RoleDatabase}, MysqlServer: "/opt/mysql.server",
		JournalFrom: "/var/lib/mysql/log", JournalTo: "/data/log"}
	svc := PreflightInput{Host: "vobox1", Root: root, Roles: servicesOnly, Exclude: []string{"Nope_Agent"}}
	cases := []struct {
		name    string
		p       *Probe
		in      PreflightInput
		reason  string
		warning string
	}{
		{"no DIRAC root", &Probe{}, svc, diracv1.ReasonDiracRootMissing, ""},
		{"a database host without mysql.server", &Probe{RootExists: true}, db, diracv1.ReasonMysqlServerMissing, ""},
		{"a journal in the way", dbProbe(true, "dir", "", "dir"), db, diracv1.ReasonJournalConflict, ""},
		{"a journal already moved", dbProbe(true, "link", "/data/log", "dir"), db, "", ""},
		{"a database host ready", dbProbe(true, "dir", "", "none"), db, "", ""},
		{"a different link parked under the same name",
			probed([]link{running("Framework_SystemAdministrator", 9)}, []link{{name: "Framework_SystemAdministrator", target: "/old"}}, nil),
			svc, diracv1.ReasonStartupSaveConflict, ""},
		{"the same link parked: no conflict, an exclude naming no link warned about",
			probed([]link{running("Framework_SystemAdministrator", 9)}, []link{parked("Framework_SystemAdministrator")}, nil),
			svc, "", "Nope_Agent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, warning := Preflight(tc.p, tc.in)
			switch {
			case tc.reason == "" && f != nil:
				t.Errorf("failure %+v, want none", f)
			case tc.reason != "" && (f == nil || f.Reason != tc.reason || !f.IsTerminal()):
				t.Errorf("failure %+v, want terminal %s", f, tc.reason)
			}
			if (tc.warning == "") != (warning == "") || !strings.Contains(warning, tc.warning) {
				t.Errorf("warning %q, want one naming %q", warning, tc.warning)
			}
		})
	}
}
