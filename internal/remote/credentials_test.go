package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testKey is a client key as a Secret would hold it.
type testKey struct {
	name       string
	pem        []byte
	passphrase string
	pub        ssh.PublicKey
}

// genKeygenKey makes a key with OpenSSH's ssh-keygen, so that the formats
// are the ones administrators actually produce. format is "" (OpenSSH),
// "PEM" or "PKCS8".
func genKeygenKey(t testing.TB, typ, format string, opts ...string) testKey {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id")
	passphrase := ""
	args := []string{"-q", "-t", typ, "-f", path, "-C", "test"}
	for i := 0; i < len(opts); i += 2 {
		if opts[i] == "-N" {
			passphrase = opts[i+1]
		}
	}
	if passphrase == "" {
		args = append(args, "-N", "")
	}
	if format != "" {
		args = append(args, "-m", format)
	}
	args = append(args, opts...)
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %q: %v: %s (install openssh-client)", args, err, out)
	}
	keyPEM, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{name: strings.TrimSpace(typ + " " + format), pem: keyPEM, passphrase: passphrase, pub: pk}
}

var (
	keyFormatsOnce sync.Once
	keyFormats     []testKey
)

// allKeyFormats returns one key of every supported type and format (made
// once per test binary: RSA generation is slow).
func allKeyFormats(t testing.TB) []testKey {
	keyFormatsOnce.Do(func() {
		keyFormats = []testKey{
			genKeygenKey(t, "ed25519", ""),
			genKeygenKey(t, "ecdsa", "", "-b", "256"),
			genKeygenKey(t, "ecdsa", "PEM", "-b", "384"),
			genKeygenKey(t, "ecdsa", "PKCS8", "-b", "521"),
			genKeygenKey(t, "rsa", "", "-b", "2048"),
			genKeygenKey(t, "rsa", "PEM", "-b", "2048"),
			genKeygenKey(t, "rsa", "PKCS8", "-b", "2048"),
			genKeygenKey(t, "ed25519", "", "-N", "open sesame", "-a", "2"), // few KDF rounds: fast tests
			genKeygenKey(t, "rsa", "PEM", "-b", "2048", "-N", "open sesame"),
			genKeygenKey(t, "ecdsa", "PEM", "-N", "open sesame"),
		}
		keyFormats[1].name += " 256"
		keyFormats[2].name += " 384"
		keyFormats[3].name += " 521"
		for _, i := range []int{7, 8, 9} {
			keyFormats[i].name += " encrypted"
		}
		// ssh-keygen writes ed25519 only in OpenSSH format; PKCS#8 comes from
		// other tools (openssl genpkey -algorithm ed25519).
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		pk, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		keyFormats = append(keyFormats, testKey{
			name: "ed25519 PKCS8", pem: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pub: pk,
		})
	})
	if len(keyFormats) == 0 {
		t.Fatal("key generation failed in an earlier test")
	}
	return keyFormats
}

const testKnownHosts = "example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"

func TestNewCredentialsKeyFormats(t *testing.T) {
	t.Parallel()
	for _, k := range allKeyFormats(t) {
		t.Run(k.name, func(t *testing.T) {
			data := map[string][]byte{SecretKeyPrivateKey: k.pem, SecretKeyKnownHosts: []byte(testKnownHosts)}
			if k.passphrase != "" {
				data[SecretKeyPassphrase] = []byte(k.passphrase)
			}
			c, err := NewCredentials(data)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := c.Fingerprint(), ssh.FingerprintSHA256(k.pub); got != want {
				t.Errorf("Fingerprint = %s, want %s", got, want)
			}
			if !strings.HasPrefix(c.PublicKey(), k.pub.Type()+" ") {
				t.Errorf("PublicKey = %q", c.PublicKey())
			}
			if k.passphrase == "" {
				return
			}
			delete(data, SecretKeyPassphrase)
			_, err = NewCredentials(data)
			var ce *CredentialsError
			if !errors.As(err, &ce) || ce.Key != SecretKeyPrivateKey || !strings.Contains(err.Error(), "passphrase") {
				t.Errorf("without passphrase got %v, want a CredentialsError about the passphrase", err)
			}
			data[SecretKeyPassphrase] = []byte("wrong")
			_, err = NewCredentials(data)
			if !errors.As(err, &ce) || ce.Key != SecretKeyPassphrase {
				t.Errorf("with a wrong passphrase got %v, want a CredentialsError for %q", err, SecretKeyPassphrase)
			}
		})
	}
}

func TestNewCredentialsErrors(t *testing.T) {
	t.Parallel()
	_, keyPEM := newKey(t)
	encryptedPKCS8 := genKeygenKey(t, "ecdsa", "PKCS8", "-N", "pwpwpw")
	for _, tc := range []struct {
		name    string
		data    map[string][]byte
		key     string
		message string
	}{
		{"no key", map[string][]byte{SecretKeyKnownHosts: []byte(testKnownHosts)}, SecretKeyPrivateKey, "missing"},
		{"empty key", map[string][]byte{SecretKeyPrivateKey: {}, SecretKeyKnownHosts: []byte(testKnownHosts)}, SecretKeyPrivateKey, "missing"},
		{"garbage key", map[string][]byte{SecretKeyPrivateKey: []byte("not a key"), SecretKeyKnownHosts: []byte(testKnownHosts)}, SecretKeyPrivateKey, "failed to parse"},
		{"public key as private", map[string][]byte{SecretKeyPrivateKey: []byte(testKnownHosts[12:]), SecretKeyKnownHosts: []byte(testKnownHosts)}, SecretKeyPrivateKey, "failed to parse"},
		{"encrypted PKCS8", map[string][]byte{SecretKeyPrivateKey: encryptedPKCS8.pem, SecretKeyPassphrase: []byte("pwpwpw"), SecretKeyKnownHosts: []byte(testKnownHosts)}, SecretKeyPrivateKey, "ENCRYPTED PRIVATE KEY"},
		{"no known_hosts", map[string][]byte{SecretKeyPrivateKey: keyPEM}, SecretKeyKnownHosts, "host-key verification is mandatory"},
		{"comments only", map[string][]byte{SecretKeyPrivateKey: keyPEM, SecretKeyKnownHosts: []byte("# nothing\n\n")}, SecretKeyKnownHosts, "no host keys"},
		{"bad line", map[string][]byte{SecretKeyPrivateKey: keyPEM, SecretKeyKnownHosts: []byte(testKnownHosts + "host ssh-ed25519 AAAAnotbase64!\n")}, SecretKeyKnownHosts, "line 2"},
		{"type mismatch", map[string][]byte{SecretKeyPrivateKey: keyPEM, SecretKeyKnownHosts: []byte(strings.Replace(testKnownHosts, "ssh-ed25519", "ssh-rsa", 1))}, SecretKeyKnownHosts, "line 1"},
		{"bad hash", map[string][]byte{SecretKeyPrivateKey: keyPEM, SecretKeyKnownHosts: []byte("|1|abc|def " + testKnownHosts[12:])}, SecretKeyKnownHosts, "hashed host name"},
		{"bad marker", map[string][]byte{SecretKeyPrivateKey: keyPEM, SecretKeyKnownHosts: []byte("@trusted " + testKnownHosts)}, SecretKeyKnownHosts, "unknown marker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCredentials(tc.data)
			var ce *CredentialsError
			if !errors.As(err, &ce) || ce.Key != tc.key || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v, want a CredentialsError for %q saying %q", err, tc.key, tc.message)
			}
			if !IsTerminal(err) || Reason(err) != ReasonCredentialsInvalid {
				t.Errorf("IsTerminal = %v, Reason = %q", IsTerminal(err), Reason(err))
			}
		})
	}
}

func TestCredentialsDigest(t *testing.T) {
	t.Parallel()
	_, keyA := newKey(t)
	_, keyB := newKey(t)
	base := map[string][]byte{SecretKeyPrivateKey: keyA, SecretKeyKnownHosts: []byte(testKnownHosts)}
	digest := func(data map[string][]byte) string {
		t.Helper()
		c, err := NewCredentials(data)
		if err != nil {
			t.Fatal(err)
		}
		return c.Digest()
	}
	d := digest(base)
	if d != digest(map[string][]byte{SecretKeyPrivateKey: keyA, SecretKeyKnownHosts: []byte(testKnownHosts), "unrelated": []byte("x")}) {
		t.Error("digest changed with an unrelated key")
	}
	for name, data := range map[string]map[string][]byte{
		"private key": {SecretKeyPrivateKey: keyB, SecretKeyKnownHosts: []byte(testKnownHosts)},
		"known_hosts": {SecretKeyPrivateKey: keyA, SecretKeyKnownHosts: []byte(testKnownHosts + "# more\n")},
		"passphrase":  {SecretKeyPrivateKey: keyA, SecretKeyKnownHosts: []byte(testKnownHosts), SecretKeyPassphrase: []byte("unused")},
	} {
		if digest(data) == d {
			t.Errorf("digest did not change with %s", name)
		}
	}
}
