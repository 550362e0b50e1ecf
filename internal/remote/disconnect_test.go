package remote

import (
	"strings"
	"testing"
	"time"
)

// TestDisconnect: after Disconnect the next command runs on a new
// connection (a new client port), made with a fresh host-key check.
func TestDisconnect(t *testing.T) {
	f := newFixture(t, Options{}, sshdConfig{})
	client := func() string {
		return strings.TrimSpace(string(f.run(t, "sh", "-c", `echo "$SSH_CLIENT"`).Stdout))
	}
	first := client()
	if again := client(); again != first {
		t.Fatalf("Without Disconnect the connection changed: %q then %q", first, again)
	}
	f.exec.Disconnect(f.target())
	if after := client(); after == first {
		t.Fatalf("After Disconnect the command ran on the old connection %q", after)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.exec.openCount() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the old connection's watcher drops it
	}
	if n := f.exec.openCount(); n != 1 {
		t.Fatalf("open connections = %d, want 1", n)
	}
	f.exec.Disconnect(Target{}) // an invalid target is ignored
}
