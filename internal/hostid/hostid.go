// Package hostid names a machine the way the lock must: by where the
// operator connects, not by what one intervention calls it. Two
// interventions that list the same address and port under different names,
// in different namespaces, get the same identity and so the same Lease.
package hostid

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultPort is sshd's port, filled in when none is given.
const DefaultPort = 22

// Identity is a machine's normalized "address:port": a DNS name lower-cased
// without its trailing dot, an IP literal in its canonical form (an
// IPv4-mapped IPv6 address as IPv4), a port of 0 replaced by DefaultPort.
// IPv6 literals are bracketed, as in net.JoinHostPort.
func Identity(address string, port int32) string {
	if port <= 0 {
		port = DefaultPort
	}
	a := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(address)), ".")
	if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
		a = ip.Unmap().WithZone("").String()
	}
	return net.JoinHostPort(a, strconv.Itoa(int(port)))
}

// Hash is a short, stable digest of an identity, usable as a label value.
func Hash(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return hex.EncodeToString(sum[:])[:20]
}

// LeaseName is the name of the Lease that locks the machine: readable for
// people (the address with every character but a-z and 0-9 turned into
// '-', so dots and colons never make an invalid name),
// unique through the hash (two addresses that read the same once cleaned
// still differ).
func LeaseName(identity string) string {
	var b strings.Builder
	for _, r := range identity {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	readable := b.String()
	if len(readable) > 200 {
		readable = readable[:200]
	}
	readable = strings.Trim(readable, "-")
	return "vobox-host-" + readable + "-" + Hash(identity)[:10]
}
