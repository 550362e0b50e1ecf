package remote

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // OpenSSH hashes known_hosts names with HMAC-SHA1; this is its format, not our choice.
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// knownHosts is a parsed OpenSSH known_hosts file.
//
// It follows sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" rather than
// golang.org/x/crypto/ssh/knownhosts, which only reads files and whose
// wildcard and port handling differ from OpenSSH's:
//   - a host is looked up as "host" on port 22 and as "[host]:port" otherwise,
//     lower-cased, and a "host" entry does not match another port;
//   - the host field is a comma-separated list of patterns with '*' and '?'
//     wildcards and '!' negation, matched against that whole string, or a
//     hashed name "|1|salt|hmac" (HashKnownHosts);
//   - a host may have several entries (one per key type, or several keys);
//   - "@revoked" marks a key as revoked for every host;
//   - "@cert-authority" marks a CA whose host certificates are accepted for
//     the hosts its patterns match, as ssh(1) accepts them: the certificate
//     is a host certificate, signed by such a CA, valid now, with no critical
//     option, and its principals include the host name as given (lower-cased,
//     without the port); a certificate without principals is refused. A @revoked key wins over everything:
//     a certificate is refused when its key or its CA's key is revoked. A
//     certificate that is not accepted falls back to its plain key, which
//     then needs an ordinary entry, as ssh(1) does.
type knownHosts struct {
	entries []knownHostEntry
	// authorities are the @cert-authority lines.
	authorities []knownHostEntry
	// revoked holds the wire encodings of @revoked keys.
	revoked map[string]bool
	// byName and authoritiesByName find the entries and authorities a
	// name matches (knownhosts_index.go).
	byName, authoritiesByName *entryIndex
}

type knownHostEntry struct {
	patterns []hostPattern
	key      ssh.PublicKey
}

// hostPattern is one element of an entry's host list.
type hostPattern struct {
	negate bool
	// pattern is a lower-cased wildcard pattern, unless hashed.
	pattern string
	// salt and sum are set for a hashed name.
	salt, sum []byte
}

// parseKnownHosts parses OpenSSH known_hosts data. Blank lines and comments
// are skipped; any other unparsable line is an error naming its number, since
// a line that silently fails to parse would later look like an unknown host.
func parseKnownHosts(data []byte) (*knownHosts, error) {
	kh := &knownHosts{revoked: map[string]bool{}}
	for n, rest := 1, data; len(rest) > 0; n++ {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if err := kh.parseLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if len(kh.entries) == 0 && len(kh.authorities) == 0 {
		return nil, errors.New("no host keys and no @cert-authority")
	}
	kh.byName, kh.authoritiesByName = newEntryIndex(kh.entries), newEntryIndex(kh.authorities)
	return kh, nil
}

func (kh *knownHosts) parseLine(line []byte) error {
	marker, hosts, key, _, _, err := ssh.ParseKnownHosts(line)
	if errors.Is(err, io.EOF) {
		return nil // blank or comment
	}
	if err != nil {
		return fmt.Errorf("failed to parse known_hosts entry: %w", err)
	}
	if _, isCert := key.(*ssh.Certificate); isCert && marker != "revoked" {
		// ssh(1) accepts neither a certificate as a plain host key nor one
		// as an authority.
		return errors.New("a certificate is not a host key or an authority")
	}
	entry := knownHostEntry{key: key}
	switch marker {
	case "revoked":
		kh.revoked[string(key.Marshal())] = true
		return nil
	case "cert-authority", "":
	default:
		return fmt.Errorf("unknown marker @%s", marker)
	}
	for _, h := range hosts {
		if h == "" {
			continue
		}
		p, err := parseHostPattern(h)
		if err != nil {
			return err
		}
		entry.patterns = append(entry.patterns, p)
	}
	if len(entry.patterns) == 0 {
		return errors.New("no host names")
	}
	if marker == "cert-authority" {
		kh.authorities = append(kh.authorities, entry)
	} else {
		kh.entries = append(kh.entries, entry)
	}
	return nil
}

func parseHostPattern(h string) (hostPattern, error) {
	if !strings.HasPrefix(h, "|") {
		p := hostPattern{pattern: strings.ToLower(h)}
		if strings.HasPrefix(p.pattern, "!") {
			p.negate, p.pattern = true, p.pattern[1:]
		}
		return p, nil
	}
	// |1|base64(salt)|base64(HMAC-SHA1(salt, name))
	parts := strings.Split(h, "|")
	if len(parts) != 4 || parts[1] != "1" {
		return hostPattern{}, fmt.Errorf("invalid hashed host name %q", h)
	}
	salt, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return hostPattern{}, fmt.Errorf("invalid salt in hashed host name %q: %w", h, err)
	}
	sum, err := base64.StdEncoding.DecodeString(parts[3])
	if err != nil {
		return hostPattern{}, fmt.Errorf("invalid hash in hashed host name %q: %w", h, err)
	}
	if len(sum) != sha1.Size {
		return hostPattern{}, fmt.Errorf("invalid hash length in hashed host name %q", h)
	}
	return hostPattern{salt: salt, sum: sum}, nil
}

// knownHostsName is the string a host is looked up by: "host" on port 22,
// "[host]:port" otherwise, lower-cased, as OpenSSH writes it.
func knownHostsName(address string, port int) string {
	host := principalName(address)
	if port == 0 || port == 22 {
		return host
	}
	return "[" + host + "]:" + strconv.Itoa(port)
}

// principalName is the name a host certificate's principals must include:
// the address as given, lower-cased, without brackets or port (ssh(1) checks
// the host name it was given, not the known_hosts form).
func principalName(address string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(address, "["), "]"))
}

// hostName returns the host part of a name made by knownHostsName.
func hostName(name string) string {
	if h, _, err := net.SplitHostPort(name); err == nil && strings.HasPrefix(name, "[") {
		return h
	}
	return name
}

// matches reports whether name matches the entry: some positive pattern
// matches and no negated one does.
func (e *knownHostEntry) matches(name string) bool {
	matched := false
	for i := range e.patterns {
		p := &e.patterns[i]
		var ok bool
		if p.sum != nil {
			mac := hmac.New(sha1.New, p.salt)
			mac.Write([]byte(name))
			ok = hmac.Equal(mac.Sum(nil), p.sum)
		} else {
			ok = wildcardMatch(p.pattern, name)
		}
		if ok && p.negate {
			return false
		}
		matched = matched || ok
	}
	return matched
}

// keysFor returns the keys known for name (from knownHostsName).
func (kh *knownHosts) keysFor(name string) []ssh.PublicKey {
	return kh.byName.match(name)
}

// authoritiesFor returns the @cert-authority keys whose patterns match name.
func (kh *knownHosts) authoritiesFor(name string) []ssh.PublicKey {
	return kh.authoritiesByName.match(name)
}

// check verifies the key a host presented, a plain key or a host
// certificate. It returns a *HostKeyRevokedError, *HostKeyUnknownError or
// *HostKeyMismatchError.
func (kh *knownHosts) check(name string, key ssh.PublicKey) error {
	if cert, ok := key.(*ssh.Certificate); ok {
		return kh.checkCert(name, cert)
	}
	return kh.checkPlain(name, key, key, nil)
}

// checkPlain verifies a plain key. presented is what the host sent (the key,
// or the certificate carrying it) and certProblem why a certificate was not
// accepted, for the messages.
func (kh *knownHosts) checkPlain(name string, key, presented ssh.PublicKey, certProblem []string) error {
	wire := key.Marshal()
	if kh.revoked[string(wire)] {
		return &HostKeyRevokedError{Host: name, KeyType: presented.Type(), Fingerprint: ssh.FingerprintSHA256(key)}
	}
	known := kh.keysFor(name)
	if len(known) == 0 && len(certProblem) == 0 {
		return &HostKeyUnknownError{Host: name, KeyType: presented.Type(), Fingerprint: ssh.FingerprintSHA256(key)}
	}
	for _, k := range known {
		if bytes.Equal(k.Marshal(), wire) {
			return nil
		}
	}
	return &HostKeyMismatchError{
		Host: name, KeyType: presented.Type(), Fingerprint: ssh.FingerprintSHA256(key),
		Known: append(fingerprints(known), certProblem...),
	}
}

// checkCert verifies a host certificate with x/crypto's CertChecker against
// the authorities known for name, then, as ssh(1) does, falls back to its
// plain key. A certificate whose key or CA key is revoked is refused
// outright, before any of that.
func (kh *knownHosts) checkCert(name string, cert *ssh.Certificate) error {
	if kh.revoked[string(cert.Key.Marshal())] {
		return &HostKeyRevokedError{Host: name, KeyType: cert.Type(), Fingerprint: ssh.FingerprintSHA256(cert.Key)}
	}
	if ca := cert.SignatureKey; kh.revoked[string(ca.Marshal())] {
		return &HostKeyRevokedError{Host: name, KeyType: "certificate authority " + ca.Type(), Fingerprint: ssh.FingerprintSHA256(ca)}
	}
	cas := kh.authoritiesFor(name)
	if len(cas) == 0 {
		return kh.checkPlain(name, cert.Key, cert, nil)
	}
	checker := &ssh.CertChecker{
		IsHostAuthority: func(auth ssh.PublicKey, _ string) bool {
			return slices.ContainsFunc(cas, func(ca ssh.PublicKey) bool { return bytes.Equal(ca.Marshal(), auth.Marshal()) })
		},
	}
	var err error
	if len(cert.ValidPrincipals) == 0 {
		// x/crypto (and the certificate format) read an empty list as "any
		// host": a CA that signed without -n would vouch for every host its
		// patterns cover. Refused.
		err = errors.New("certificate has no principals")
	} else {
		// The port plays no part here: principals name hosts, and the
		// authorities' patterns were matched against name, port included.
		err = checker.CheckHostKey(net.JoinHostPort(hostName(name), "22"), nil, cert)
	}
	if err == nil {
		return nil
	}
	problem := make([]string, 0, len(cas)+1)
	for _, ca := range cas {
		problem = append(problem, "@cert-authority "+ca.Type()+" "+ssh.FingerprintSHA256(ca))
	}
	problem = append(problem, fmt.Sprintf("certificate signed by %s %s not accepted: %v",
		cert.SignatureKey.Type(), ssh.FingerprintSHA256(cert.SignatureKey), err))
	return kh.checkPlain(name, cert.Key, cert, problem)
}
func fingerprints(keys []ssh.PublicKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Type() + " " + ssh.FingerprintSHA256(k)
	}
	return out
}

// plainHostKeyAlgorithms is the client's preference among host key
// algorithms when it has no key for the host: plain keys only, so that the
// fingerprint in a HostKeyUnknownError can be compared with ssh-keyscan's.
var plainHostKeyAlgorithms = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// certHostKeyAlgorithms are offered first to a host that a @cert-authority
// covers, so that it presents its certificate. All types: a CA of one type
// signs host keys of any type.
var certHostKeyAlgorithms = []string{
	ssh.CertAlgoED25519v01,
	ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

// hostKeyAlgorithms returns the host key algorithms to offer when connecting
// to name. As OpenSSH does, it offers certificate types first when a
// @cert-authority covers the host, then only the plain types known for the
// host, so that a host with keys of several types presents the one we know
// instead of one that would look like a changed key. With no plain key known
// it offers every plain type, so that a host without a certificate presents a
// key whose fingerprint the error can name.
func (kh *knownHosts) hostKeyAlgorithms(name string) []string {
	var algos []string
	if len(kh.authoritiesFor(name)) > 0 {
		algos = append(algos, certHostKeyAlgorithms...)
	}
	known := kh.keysFor(name)
	if len(known) == 0 {
		return append(algos, plainHostKeyAlgorithms...)
	}
	types := map[string]bool{}
	for _, k := range known {
		types[k.Type()] = true
	}
	for _, a := range plainHostKeyAlgorithms {
		t := a
		if a == ssh.KeyAlgoRSASHA512 || a == ssh.KeyAlgoRSASHA256 {
			t = ssh.KeyAlgoRSA
		}
		if types[t] {
			algos = append(algos, a)
		}
	}
	for _, k := range known {
		if t := k.Type(); t != ssh.KeyAlgoRSA && !slices.Contains(algos, t) {
			algos = append(algos, t) // e.g. sk-* or ML-DSA keys
		}
	}
	return algos
}

// wildcardMatch matches s against an OpenSSH pattern where '*' is any
// sequence and '?' any one byte. It runs in O(len(p)*len(s)) without
// recursion, so hostile patterns cannot make it blow up.
func wildcardMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
