package remote

import "golang.org/x/crypto/ssh"

// Disconnector is an Executor that can drop its connection to a target, so
// that the next command dials again and verifies the host key afresh: after
// a reboot, a pooled connection to the boot that ended must not be taken
// for the host (on a host that lost power no FIN comes, and the keepalive
// would take KeepaliveInterval+KeepaliveTimeout to notice).
type Disconnector interface {
	// Disconnect closes the connection to target now, if there is one;
	// commands still running on it fail with a *ConnectionError.
	Disconnect(target Target)
}

var _ Disconnector = (*SSHExecutor)(nil)

// Disconnect implements Disconnector.
func (e *SSHExecutor) Disconnect(t Target) {
	t, _, err := e.normalize(t)
	if err != nil {
		return
	}
	e.mu.Lock()
	c := e.pool[poolKey{address: t.Address, port: t.Port, user: t.User}]
	var client *ssh.Client
	if c != nil {
		e.retireLocked(c)
		if c.isReady() && c.client != nil {
			client = c.client
		}
	}
	e.mu.Unlock()
	if client != nil {
		_ = client.Close() // after unlocking: Close does network I/O
	}
}
