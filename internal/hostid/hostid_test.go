package hostid

import (
	"regexp"
	"strings"
	"testing"
)

func TestIdentity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		address string
		port    int32
		want    string
	}{
		{"volhcb18.cern.ch", 22, "volhcb18.cern.ch:22"},
		{"VOLHCB18.CERN.CH.", 0, "volhcb18.cern.ch:22"},
		{"volhcb18", 2222, "volhcb18:2222"},
		{"127.0.0.1", 0, "127.0.0.1:22"},
		{"::ffff:127.0.0.1", 22, "127.0.0.1:22"},
		{"2001:DB8::0018", 22, "[2001:db8::18]:22"},
		{"[2001:db8::18]", 22, "[2001:db8::18]:22"},
	}
	for _, tc := range cases {
		if got := Identity(tc.address, tc.port); got != tc.want {
			t.Errorf("Identity(%q, %d) = %q, want %q", tc.address, tc.port, got, tc.want)
		}
	}
}

// TestLeaseNameIsAValidName: a Lease name is a DNS subdomain (RFC 1123), at
// most 253 characters; different identities never share one.
func TestLeaseNameIsAValidName(t *testing.T) {
	t.Parallel()
	subdomain := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	seen := map[string]string{}
	for _, id := range []string{
		Identity("volhcb18.cern.ch", 22), Identity("volhcb18.cern.ch", 2222),
		Identity("2001:db8::18", 22), Identity("2001:db8:0:0:0:0:0:18", 22), Identity("2001-db8--18", 22),
		Identity(strings.Repeat("a.", 126)+"b", 22),
	} {
		n := LeaseName(id)
		if len(n) > 253 || !subdomain.MatchString(n) {
			t.Errorf("LeaseName(%q) = %q: not a valid object name", id, n)
		}
		if other, ok := seen[n]; ok && other != id {
			t.Errorf("LeaseName(%q) == LeaseName(%q) = %q", id, other, n)
		}
		seen[n] = id
	}
	if LeaseName(Identity("VOLHCB18.cern.ch", 0)) != LeaseName(Identity("volhcb18.cern.ch", 22)) {
		t.Error("one machine under two spellings must have one Lease")
	}
}
