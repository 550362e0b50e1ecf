package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
)

// keyPair is an ed25519 key in OpenSSH formats.
type keyPair struct {
	private []byte // OPENSSH PRIVATE KEY PEM
	public  []byte // authorized_keys line
	pub     ssh.PublicKey
}

func newKeyPair(comment string) (keyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return keyPair{}, fmt.Errorf("failed to generate an ed25519 key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return keyPair{}, fmt.Errorf("failed to encode the private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return keyPair{}, err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + comment + "\n"
	return keyPair{private: pem.EncodeToMemory(block), public: []byte(line), pub: sshPub}, nil
}

// writeKeyPair writes path (0600) and path.pub (0644).
func writeKeyPair(k keyPair, path string) error {
	if err := writeFileAtomic(path, k.private, 0o600); err != nil {
		return err
	}
	return writeFileAtomic(path+".pub", k.public, 0o644)
}

// readPublicKey reads an authorized_keys-format public key file.
func readPublicKey(path string) (ssh.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(b)
	return pub, err
}

// knownHostsLine is "<address> <key>": port 22, so no [brackets].
func knownHostsLine(address string, port int, pub ssh.PublicKey) string {
	host := address
	if port != 22 {
		host = fmt.Sprintf("[%s]:%d", address, port)
	}
	return host + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
}
