package remote

import (
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// certOptions shape a certificate made by signHostCert.
type certOptions struct {
	principals  []string
	validAfter  time.Time // zero: an hour ago
	validBefore time.Time // zero: forever
	certType    uint32    // zero: ssh.HostCert
	critical    map[string]string
}

// signHostCert signs key with ca as ssh-keygen -h -s would.
func signHostCert(t testing.TB, ca ssh.Signer, key ssh.PublicKey, o certOptions) *ssh.Certificate {
	t.Helper()
	cert := &ssh.Certificate{
		Key:             key,
		Serial:          1,
		CertType:        o.certType,
		KeyId:           "test",
		ValidPrincipals: o.principals,
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     ssh.CertTimeInfinity,
		Permissions:     ssh.Permissions{CriticalOptions: o.critical},
	}
	if cert.CertType == 0 {
		cert.CertType = ssh.HostCert
	}
	if !o.validAfter.IsZero() {
		cert.ValidAfter = uint64(o.validAfter.Unix())
	}
	if !o.validBefore.IsZero() {
		cert.ValidBefore = uint64(o.validBefore.Unix())
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatalf("failed to sign the host certificate: %v", err)
	}
	return cert
}

// TestKnownHostsCertificates checks @cert-authority lines against
// certificates signed in the test: accepted only when signed by an authority
// whose patterns match the host, of host type, valid now, naming the host
// among its principals; otherwise the plain key is checked as ssh(1) does;
// @revoked wins over everything.
func TestKnownHostsCertificates(t *testing.T) {
	t.Parallel()
	ca := newEd25519Signer(t)
	otherCA := newEd25519Signer(t)
	revokedCA := newEd25519Signer(t)
	hostKey := newEd25519Signer(t).PublicKey()
	pinnedKey := newEd25519Signer(t).PublicKey()
	revokedKey := newEd25519Signer(t).PublicKey()
	rsaHost := genKeygenKey(t, "rsa", "", "-b", "2048").pub

	kh, err := parseKnownHosts([]byte(strings.Join([]string{
		"@cert-authority *.cern.ch,!bad.cern.ch " + authorizedKey(ca.PublicKey()),
		"@cert-authority [*.port.example]:2222 " + authorizedKey(ca.PublicKey()),
		"@cert-authority *.cern.ch,!bad.cern.ch " + authorizedKey(revokedCA.PublicKey()),
		"@cert-authority other.example " + authorizedKey(otherCA.PublicKey()),
		"pinned.cern.ch " + authorizedKey(pinnedKey),
		"@revoked * " + authorizedKey(revokedCA.PublicKey()),
		"@revoked * " + authorizedKey(revokedKey),
		"",
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}

	hour := time.Hour
	const (
		ok       = ""
		unknown  = ReasonHostKeyUnknown
		mismatch = ReasonHostKeyMismatch
		revoked  = ReasonHostKeyRevoked
	)
	for _, tc := range []struct {
		name    string
		host    string
		port    int
		signer  ssh.Signer
		key     ssh.PublicKey
		opts    certOptions
		tamper  func(*ssh.Certificate)
		want    string
		message string // a substring of the error
	}{
		{name: "valid", host: "vobox1.cern.ch", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}}, want: ok},
		{name: "host name compared lower-cased", host: "VOBOX1.cern.ch", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}}, want: ok},
		{name: "address no pattern covers", host: "10.0.0.5", signer: ca, key: rsaHost,
			opts: certOptions{principals: []string{"vobox5.cern.ch", "10.0.0.5"}}, want: unknown},
		{name: "rsa host key, one of several principals", host: "vobox5.cern.ch", signer: ca, key: rsaHost,
			opts: certOptions{principals: []string{"vobox5.cern.ch", "10.0.0.5"}}, want: ok},
		{name: "port pattern", host: "a.port.example", port: 2222, signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"a.port.example"}}, want: ok},
		{name: "port pattern does not cover port 22", host: "a.port.example", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"a.port.example"}}, want: unknown},
		{name: "host pattern does not cover another port", host: "vobox1.cern.ch", port: 2222, signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}}, want: unknown},
		{name: "negated host", host: "bad.cern.ch", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"bad.cern.ch"}}, want: unknown},
		{name: "authority of another host", host: "vobox1.cern.ch", signer: otherCA, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}}, want: mismatch, message: "not accepted: ssh: no authorities"},
		{name: "unknown authority", host: "vobox1.cern.ch", signer: newEd25519Signer(t), key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}}, want: mismatch, message: "no authorities"},
		{name: "principal of another host", host: "vobox1.cern.ch", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"vobox2.cern.ch"}}, want: mismatch, message: "not in the set of valid principals"},
		{name: "no principals", host: "vobox1.cern.ch", signer: ca, key: hostKey,
			want: mismatch, message: "certificate has no principals"},
		{name: "expired", host: "vobox1.cern.ch", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}, validAfter: time.Now().Add(-2 * hour), validBefore: time.Now().Add(-hour)},
			want: mismatch, message: "expired"},
		{name: "not yet valid", host: "vobox1.cern.ch", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}, validAfter: time.Now().Add(hour)},
			want: mismatch, message: "not yet valid"},
		{name: "user certificate", host: "vobox1.cern.ch", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}, certType: ssh.UserCert},
			want: mismatch, message: "has type 1"},
		{name: "critical option", host: "vobox1.cern.ch", signer: ca, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}, critical: map[string]string{"force-command": "true"}},
			want: mismatch, message: "unsupported critical option"},
		{name: "tampered after signing", host: "vobox1.cern.ch", signer: ca, key: hostKey,
			opts:   certOptions{principals: []string{"vobox2.cern.ch"}},
			tamper: func(c *ssh.Certificate) { c.ValidPrincipals = []string{"vobox1.cern.ch"} },
			want:   mismatch, message: "signature does not verify"},
		{name: "rejected certificate falls back to the pinned plain key", host: "pinned.cern.ch", signer: ca, key: pinnedKey,
			opts: certOptions{principals: []string{"somewhere.else"}}, want: ok},
		{name: "certificate without authority falls back to the plain key", host: "pinned.cern.ch", port: 2222, signer: otherCA, key: pinnedKey,
			opts: certOptions{principals: []string{"pinned.cern.ch"}}, want: unknown},
		{name: "revoked authority", host: "vobox1.cern.ch", signer: revokedCA, key: hostKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}}, want: revoked, message: "certificate authority"},
		{name: "revoked host key in a valid certificate", host: "vobox1.cern.ch", signer: ca, key: revokedKey,
			opts: certOptions{principals: []string{"vobox1.cern.ch"}}, want: revoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cert := signHostCert(t, tc.signer, tc.key, tc.opts)
			if tc.tamper != nil {
				tc.tamper(cert)
			}
			err := kh.check(knownHostsName(tc.host, tc.port), cert)
			if got := Reason(err); got != tc.want {
				t.Fatalf("check = %v (reason %q), want reason %q", err, got, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
			if err != nil && !strings.Contains(err.Error(), cert.Type()) && tc.want != revoked {
				t.Errorf("error %q does not name the certificate type", err)
			}
		})
	}
}

// TestKnownHostsCertificateAuthorityOnly: a known_hosts of @cert-authority
// lines alone is usable, offers certificate algorithms first to the hosts it
// covers, and still refuses a plain key.
func TestKnownHostsCertificateAuthorityOnly(t *testing.T) {
	t.Parallel()
	ca := newEd25519Signer(t)
	kh, err := parseKnownHosts([]byte("@cert-authority *.cern.ch " + authorizedKey(ca.PublicKey()) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	algos := kh.hostKeyAlgorithms("vobox1.cern.ch")
	if !slices.Equal(algos[:len(certHostKeyAlgorithms)], certHostKeyAlgorithms) ||
		!slices.Equal(algos[len(certHostKeyAlgorithms):], plainHostKeyAlgorithms) {
		t.Errorf("hostKeyAlgorithms(covered) = %q", algos)
	}
	if got := kh.hostKeyAlgorithms("elsewhere.example"); !slices.Equal(got, plainHostKeyAlgorithms) {
		t.Errorf("hostKeyAlgorithms(not covered) = %q", got)
	}
	plain := newEd25519Signer(t).PublicKey()
	var unknown *HostKeyUnknownError
	if err := kh.check("vobox1.cern.ch", plain); !errors.As(err, &unknown) || unknown.Fingerprint != ssh.FingerprintSHA256(plain) {
		t.Errorf("check(plain key) = %v, want HostKeyUnknownError with its fingerprint", err)
	}
}

// TestKnownHostsCertificateLines: a certificate is neither a host key nor an
// authority (ssh(1) ignores such lines; a Secret holding one is a mistake
// worth naming), but may be revoked.
func TestKnownHostsCertificateLines(t *testing.T) {
	t.Parallel()
	ca := newEd25519Signer(t)
	cert := signHostCert(t, ca, newEd25519Signer(t).PublicKey(), certOptions{principals: []string{"h"}})
	line := authorizedKey(cert)
	for _, data := range []string{"h " + line, "@cert-authority * " + line} {
		if _, err := parseKnownHosts([]byte(data + "\n")); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("parseKnownHosts(%.40q...) = %v, want an error about the certificate", data, err)
		}
	}
	if _, err := parseKnownHosts([]byte("h " + authorizedKey(ca.PublicKey()) + "\n@revoked * " + line + "\n")); err != nil {
		t.Errorf("a revoked certificate line was refused: %v", err)
	}
}
