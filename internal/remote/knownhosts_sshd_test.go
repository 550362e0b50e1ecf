package remote

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// TestHostCertificateSSHD connects to a real sshd presenting a host
// certificate (HostCertificate) with known_hosts that hold only a
// @cert-authority line: the handshake picks the certificate and a command
// runs; a revoked CA, another CA or a certificate naming another host stops
// the connection before any session.
func TestHostCertificateSSHD(t *testing.T) {
	t.Parallel()
	client, clientPEM := newKey(t)
	ca := newEd25519Signer(t)
	hostKey := newEd25519Signer(t)
	good := startSSHD(t, sshdConfig{
		hostKey:    hostKey,
		hostCert:   signHostCert(t, ca, hostKey.PublicKey(), certOptions{principals: []string{"vobox.example", "127.0.0.1"}}),
		authorized: []ssh.PublicKey{client.PublicKey()},
	})
	otherHostKey := newEd25519Signer(t)
	wrongName := startSSHD(t, sshdConfig{
		hostKey:    otherHostKey,
		hostCert:   signHostCert(t, ca, otherHostKey.PublicKey(), certOptions{principals: []string{"vobox.example"}}),
		authorized: []ssh.PublicKey{client.PublicKey()},
	})
	authority := func(s *testSSHD, signer ssh.Signer) string {
		return "@cert-authority " + knownHostsName("127.0.0.1", s.cfg.port) + " " + authorizedKey(signer.PublicKey())
	}

	for _, tc := range []struct {
		name       string
		sshd       *testSSHD
		knownHosts []string
		want       string // reason; "" for a command that ran
		message    string
	}{
		{name: "certificate of a trusted CA", sshd: good, knownHosts: []string{authority(good, ca)}},
		{name: "revoked CA", sshd: good, knownHosts: []string{authority(good, ca), "@revoked * " + authorizedKey(ca.PublicKey())},
			want: ReasonHostKeyRevoked, message: "certificate authority"},
		{name: "revoked host key", sshd: good, knownHosts: []string{authority(good, ca), "@revoked * " + authorizedKey(hostKey.PublicKey())},
			want: ReasonHostKeyRevoked, message: ssh.FingerprintSHA256(hostKey.PublicKey())},
		{name: "another CA", sshd: good, knownHosts: []string{authority(good, newEd25519Signer(t))},
			want: ReasonHostKeyMismatch, message: "no authorities"},
		{name: "certificate naming another host", sshd: wrongName, knownHosts: []string{authority(wrongName, ca)},
			want: ReasonHostKeyMismatch, message: "not in the set of valid principals"},
		{name: "plain key pinned, no CA", sshd: good, knownHosts: []string{good.knownHostsLine()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec := newExecutor(t, Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := exec.Run(ctx, tc.sshd.target(newCreds(t, clientPEM, tc.knownHosts...)), Command{"echo", "ran"})
			if got := Reason(err); got != tc.want {
				t.Fatalf("Run = %v (reason %q), want reason %q", err, got, tc.want)
			}
			if err == nil && string(res.Stdout) != "ran\n" {
				t.Fatalf("stdout %q", res.Stdout)
			}
			if err != nil && !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
		})
	}
	// The refused connections never reached authentication, let alone a
	// session (sshd logs "Starting session" for each command it runs).
	if n := strings.Count(good.logText(), "Starting session"); n != 2 {
		t.Errorf("sshd with the good certificate started %d sessions, want 2:\n%s", n, good.logText())
	}
	if n := strings.Count(wrongName.logText(), "Starting session"); n != 0 {
		t.Errorf("sshd with the certificate naming another host started %d sessions", n)
	}
}
