package remote

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestKnownHostsLookup(t *testing.T) {
	t.Parallel()
	keyA := newEd25519Signer(t).PublicKey()
	keyB := newEd25519Signer(t).PublicKey()
	keyECDSA := genKeygenKey(t, "ecdsa", "").pub
	keyRSA := genKeygenKey(t, "rsa", "", "-b", "2048").pub
	data := strings.Join([]string{
		"# comment",
		"",
		"plain.example,10.0.0.1 " + authorizedKey(keyA),
		"[plain.example]:2222 " + authorizedKey(keyB),
		"*.wild.example,!bad.wild.example " + authorizedKey(keyA),
		"10.1.?.1 " + authorizedKey(keyB),
		"multi.example " + authorizedKey(keyA),
		"multi.example " + authorizedKey(keyECDSA) + " with a comment",
		"Multi.Example " + authorizedKey(keyRSA),
		"\tcrlf.example " + authorizedKey(keyB) + "\r",
		"@cert-authority *.example " + authorizedKey(keyB),
	}, "\n")
	kh, err := parseKnownHosts([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		address string
		port    int
		want    []ssh.PublicKey
	}{
		{"plain.example", 22, []ssh.PublicKey{keyA}},
		{"PLAIN.example", 0, []ssh.PublicKey{keyA}},
		{"10.0.0.1", 22, []ssh.PublicKey{keyA}},
		{"plain.example", 2222, []ssh.PublicKey{keyB}},
		{"plain.example", 2223, nil},
		{"[plain.example]", 2222, []ssh.PublicKey{keyB}},
		{"a.wild.example", 22, []ssh.PublicKey{keyA}},
		{"a.b.wild.example", 22, []ssh.PublicKey{keyA}},
		{"bad.wild.example", 22, nil},
		{"wild.example", 22, nil},
		{"a.wild.example", 2222, nil},
		{"10.1.5.1", 22, []ssh.PublicKey{keyB}},
		{"10.1.55.1", 22, nil},
		{"multi.example", 22, []ssh.PublicKey{keyA, keyECDSA, keyRSA}},
		{"crlf.example", 22, []ssh.PublicKey{keyB}},
		{"other.example", 22, nil},
	} {
		got := kh.keysFor(knownHostsName(tc.address, tc.port))
		if !sameKeys(got, tc.want) {
			t.Errorf("%s port %d: got %v, want %v", tc.address, tc.port, fingerprints(got), fingerprints(tc.want))
		}
	}

	// multi.example and unknown.example are covered by the @cert-authority
	// line: certificates first; 10.0.0.1 and other.org are not.
	if got, want := kh.hostKeyAlgorithms("multi.example"), append(slices.Clone(certHostKeyAlgorithms),
		ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
	); !slices.Equal(got, want) {
		t.Errorf("hostKeyAlgorithms(multi) = %q, want %q", got, want)
	}
	if got, want := kh.hostKeyAlgorithms("10.0.0.1"), []string{ssh.KeyAlgoED25519}; !slices.Equal(got, want) {
		t.Errorf("hostKeyAlgorithms(10.0.0.1) = %q, want %q", got, want)
	}
	if got, want := kh.hostKeyAlgorithms("unknown.example"), append(slices.Clone(certHostKeyAlgorithms),
		plainHostKeyAlgorithms...); !slices.Equal(got, want) {
		t.Errorf("hostKeyAlgorithms(unknown.example) = %q, want %q", got, want)
	}
	if got := kh.hostKeyAlgorithms("other.org"); !slices.Equal(got, plainHostKeyAlgorithms) {
		t.Errorf("hostKeyAlgorithms(other.org) = %q", got)
	}

	var (
		unknown  *HostKeyUnknownError
		mismatch *HostKeyMismatchError
	)
	if err := kh.check("multi.example", keyECDSA); err != nil {
		t.Errorf("check(multi, ecdsa) = %v", err)
	}
	if err := kh.check("other.example", keyA); !errors.As(err, &unknown) || unknown.Host != "other.example" {
		t.Errorf("check(other) = %v, want HostKeyUnknownError", err)
	}
	if err := kh.check("[plain.example]:2222", keyA); !errors.As(err, &mismatch) ||
		mismatch.Fingerprint != ssh.FingerprintSHA256(keyA) || len(mismatch.Known) != 1 {
		t.Errorf("check([plain]:2222, A) = %v, want HostKeyMismatchError", err)
	}
}

func sameKeys(a, b []ssh.PublicKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if string(a[i].Marshal()) != string(b[i].Marshal()) {
			return false
		}
	}
	return true
}

// TestKnownHostsHashed hashes a known_hosts file with ssh-keygen -H and
// checks that the hashed entries match as the plain ones did.
func TestKnownHostsHashed(t *testing.T) {
	t.Parallel()
	keyA := newEd25519Signer(t).PublicKey()
	keyB := newEd25519Signer(t).PublicKey()
	path := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, path, []byte(strings.Join([]string{
		"vobox1.example.org,192.0.2.10 " + authorizedKey(keyA),
		"[vobox2.example.org]:2222 " + authorizedKey(keyB),
		"",
	}, "\n")), 0o600)
	if out, err := exec.Command("ssh-keygen", "-H", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -H: %v: %s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "example.org") || !strings.Contains(string(data), "|1|") {
		t.Fatalf("ssh-keygen did not hash:\n%s", data)
	}
	kh, err := parseKnownHosts(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		address string
		port    int
		want    []ssh.PublicKey
	}{
		{"vobox1.example.org", 22, []ssh.PublicKey{keyA}},
		{"VOBOX1.example.org", 22, []ssh.PublicKey{keyA}},
		{"192.0.2.10", 22, []ssh.PublicKey{keyA}},
		{"vobox2.example.org", 2222, []ssh.PublicKey{keyB}},
		{"vobox2.example.org", 22, nil},
		{"vobox1.example.org", 2222, nil},
	} {
		if got := kh.keysFor(knownHostsName(tc.address, tc.port)); !sameKeys(got, tc.want) {
			t.Errorf("%s port %d: got %v, want %v", tc.address, tc.port, fingerprints(got), fingerprints(tc.want))
		}
	}
}

func TestKnownHostsRevoked(t *testing.T) {
	t.Parallel()
	key := newEd25519Signer(t).PublicKey()
	kh, err := parseKnownHosts([]byte("host " + authorizedKey(key) + "\n@revoked * " + authorizedKey(key) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	var revoked *HostKeyRevokedError
	if err := kh.check("host", key); !errors.As(err, &revoked) || revoked.Fingerprint != ssh.FingerprintSHA256(key) {
		t.Fatalf("got %v, want HostKeyRevokedError", err)
	}
	// Revoked keys alone do not make a usable known_hosts.
	if _, err := parseKnownHosts([]byte("@revoked * " + authorizedKey(key) + "\n")); err == nil {
		t.Error("a known_hosts with only revoked keys was accepted")
	}
}

func TestWildcardMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*.example", "x.example", true},
		{"*.example", "example", false},
		{"**a", "bba", true},
		{"*a*b*c*", "xaxbxcx", true},
		{"*a*b*c*", "xaxcxbx", false},
		{strings.Repeat("*a", 50) + "b", strings.Repeat("a", 200), false},
	} {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

// FuzzParseKnownHosts feeds arbitrary bytes to the parser and looks up an
// arbitrary host: nothing may panic, a parsed file has host keys, and every
// answer of check is nil or one of the host-key errors. Run longer with
//
//	go test -run '^$' -fuzz '^FuzzParseKnownHosts$' -fuzztime 5m ./internal/remote/
//
// Certificates are checked by TestKnownHostsCertificates: the fuzzer cannot
// forge a signature.
func FuzzParseKnownHosts(f *testing.F) {
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	for _, seed := range []string{
		"host " + key,
		"host,10.0.0.1 " + key + " comment\n[host]:2222 " + key + "\n",
		"|1|JfKTdBh7rNbXkVAQCRp4OQoPfmI=|USECr3SWf1JUPsms5AqfD5QfxkM= " + key,
		"*.example,!bad.example " + key + "\r\n# comment\n\n",
		"@revoked * " + key + "\n@cert-authority *.example " + key + "\nh " + key,
		"@cert-authority *.example,!x.example " + key,
		"@marker host " + key,
		"host ssh-rsa AAAA",
		"|1|x|y " + key,
		"\x00\xff host",
	} {
		f.Add([]byte(seed), "host", uint16(22))
	}
	f.Fuzz(func(t *testing.T, data []byte, host string, port uint16) {
		kh, err := parseKnownHosts(data)
		if err != nil {
			if kh != nil {
				t.Fatal("error with a result")
			}
			return
		}
		if len(kh.entries) == 0 && len(kh.authorities) == 0 {
			t.Fatal("parsed known_hosts without host keys or authorities")
		}
		name := knownHostsName(host, int(port))
		keys := kh.keysFor(name)
		algos := kh.hostKeyAlgorithms(name)
		if len(algos) == 0 {
			t.Fatalf("no host key algorithms for %q", name)
		}
		var probe ssh.PublicKey
		if len(kh.entries) > 0 {
			probe = kh.entries[0].key
		} else {
			probe = kh.authorities[0].key
		}
		err = kh.check(name, probe)
		var (
			unknown  *HostKeyUnknownError
			mismatch *HostKeyMismatchError
			revoked  *HostKeyRevokedError
		)
		switch {
		case err == nil:
			if !slices.ContainsFunc(keys, func(k ssh.PublicKey) bool { return string(k.Marshal()) == string(probe.Marshal()) }) {
				t.Fatal("check accepted a key not known for the host")
			}
		case errors.As(err, &unknown):
			if len(keys) != 0 {
				t.Fatal("unknown host with known keys")
			}
		case errors.As(err, &mismatch), errors.As(err, &revoked):
		default:
			t.Fatalf("check returned %T %v", err, err)
		}
	})
}
