package metrics_test

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshd is a real OpenSSH sshd on loopback that lets clientKey in as the
// user running the test, so that the operator runs steps for real and every
// step, tier and SSH metric gets a sample.
type sshd struct {
	port      int
	hostKey   ssh.Signer
	clientKey ed25519.PrivateKey
}

// startSSHD starts sshd on addrs (one port) and stops it with the test.
func startSSHD(t *testing.T, addrs ...string) *sshd {
	t.Helper()
	const bin = "/usr/sbin/sshd"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("OpenSSH sshd is required and %s is missing: run `make deps` (openssh-server): %v", bin, err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("failed to create /run/sshd: %v", err)
	}
	dir := t.TempDir()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	_, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, err := ssh.NewPublicKey(clientPriv.Public())
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(hostPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hostKeyPath := write("host_key", pemBytes(block))
	akPath := write("authorized_keys", ssh.MarshalAuthorizedKey(clientPub))
	port := freePort(t)
	lines := []string{
		"HostKey " + hostKeyPath, "PidFile " + filepath.Join(dir, "sshd.pid"), "AuthorizedKeysFile " + akPath,
		"PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no", "PubkeyAuthentication yes",
		"PasswordAuthentication no", "KbdInteractiveAuthentication no", "X11Forwarding no", "PrintMotd no",
		"PrintLastLog no", "MaxStartups 20", "MaxSessions 20", "SetEnv SHLVL=1",
	}
	for _, a := range addrs {
		lines = append(lines, "ListenAddress "+a+":"+strconv.Itoa(port))
	}
	conf := write("sshd_config", []byte(strings.Join(lines, "\n")+"\n"))
	cmd := exec.Command(bin, "-D", "-e", "-f", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start sshd: %v", err)
	}
	t.Cleanup(func() {
		// The listener and every session it forked: its process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			if !once && strings.Contains(sc.Text(), "Server listening on") {
				once = true
				close(listening)
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		t.Fatal("sshd did not listen within 10s")
	}
	return &sshd{port: port, hostKey: hostSigner, clientKey: clientPriv}
}

// knownHosts is the known_hosts line of the sshd for addrs.
func (s *sshd) knownHosts(addrs ...string) string {
	var hosts []string
	for _, a := range addrs {
		hosts = append(hosts, knownhosts.Normalize(a+":"+strconv.Itoa(s.port)))
	}
	return knownhosts.Line(hosts, s.hostKey.PublicKey()) + "\n"
}

func freePort(t *testing.T) int {
	t.Helper()
	addr := freeAddr(t)
	p, err := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	if err != nil {
		t.Fatal(err)
	}
	return p
}
