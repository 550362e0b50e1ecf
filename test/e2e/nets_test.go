package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestLabNetworksUnique: every lab of this suite has a loopback network of
// its own. Two tests on one --net fight over the addresses, and since the
// machines' Leases are named after the address, one test's intervention
// would wait (HostLocked) for the other's: a failure far from its cause.
func TestLabNetworksUnique(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	net := regexp.MustCompile(`newEnv\(t, "(127\.[0-9]+)"`)
	seen := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range net.FindAllStringSubmatch(string(raw), -1) {
			if other, ok := seen[m[1]]; ok {
				t.Errorf("--net %s is used by %s and %s", m[1], other, f)
			}
			seen[m[1]] = f
		}
	}
	if len(seen) < 10 {
		t.Fatalf("found only %d lab networks: the pattern no longer matches newEnv calls", len(seen))
	}
}
