package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// prober logs in to hosts over SSH with the lab's key, checking host keys
// against the lab's known_hosts: the definition of "reachable".
type prober struct {
	config *ssh.ClientConfig
}

func newProber(p labPaths, timeout time.Duration) (*prober, error) {
	keyPEM, err := os.ReadFile(p.privateKey())
	if err != nil {
		return nil, fmt.Errorf("failed to read the lab's client key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("failed to parse the lab's client key: %w", err)
	}
	hkcb, err := knownhosts.New(p.knownHosts())
	if err != nil {
		return nil, fmt.Errorf("failed to read the lab's known_hosts: %w", err)
	}
	return &prober{config: &ssh.ClientConfig{
		User:            labUser,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hkcb,
		Timeout:         timeout,
	}}, nil
}

// login dials, completes the handshake and authenticates, all within the
// timeout (a frozen host accepts the TCP connection but never answers).
func (pr *prober) login(address string, port int) error {
	addr := net.JoinHostPort(address, strconv.Itoa(port))
	conn, err := net.DialTimeout("tcp", addr, pr.config.Timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(pr.config.Timeout)); err != nil {
		return err
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, pr.config)
	if err != nil {
		return err
	}
	client := ssh.NewClient(c, chans, reqs)
	return client.Close()
}

// loginAll probes hosts concurrently and returns each host's error (nil is
// success), by name.
func (pr *prober) loginAll(hosts []labstatus.LabHost) map[string]error {
	out := make(map[string]error, len(hosts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			err := pr.login(h.Address, h.Port)
			<-sem
			mu.Lock()
			out[h.Name] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}
