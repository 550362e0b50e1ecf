package procedure

import (
	"slices"
	"testing"
)

func TestOpDisplay(t *testing.T) {
	m := &Manifest{Entries: []ManifestEntry{entry("A_B", ClassService, true, false)}}
	cases := []struct {
		op   Op
		want []string
	}{
		{ProbeOp(ProbeArgs{Root: "/opt/dirac", Manifest: ".m"}, nil, 0), []string{"vobox-probe", "/opt/dirac", ".m", "", "", ""}},
		{RecordManifest("/opt/dirac/startup-save", ".m", m), []string{"vobox-manifest", "/opt/dirac/startup-save", ".m", "<2 lines>"}},
		{StopComponents("/opt/dirac/startup", []string{"A_B"}), []string{"runsvctrl", "d", "/opt/dirac/startup/A_B"}},
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
