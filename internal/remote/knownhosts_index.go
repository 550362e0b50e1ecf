package remote

import (
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// A lookup used to try every known_hosts entry in turn, an HMAC-SHA1 per
// hashed name: with one entry per host, a site of N hosts paid N² pattern
// matches to connect to all of them (issue 17: quadratic at 10,000 hosts).
// entryIndex answers a plain host name from a map, tries one by one only
// the entries that a map cannot answer (wildcards, negations, hashed
// names), and remembers each name's answer: a name is looked up twice per
// handshake (host key algorithms, then the key) and again at each
// reconnection, and the entries never change (a new Secret is new
// Credentials). Hashed names still cost one HMAC per hashed entry, once per
// name: their salts differ, so nothing can be indexed.

// maxMemo bounds the names an index remembers (a spec names at most 256
// hosts; every intervention sharing one Secret could name others).
const maxMemo = 1 << 16

// entryIndex finds the entries of one list (plain entries or
// @cert-authority lines) whose patterns match a name, in file order.
type entryIndex struct {
	entries []knownHostEntry
	// exact maps a name to the entries whose patterns are all plain,
	// positive names, in file order.
	exact map[string][]int
	// scan lists the other entries, in file order.
	scan []int

	mu   sync.Mutex
	memo map[string][]ssh.PublicKey
}

func newEntryIndex(entries []knownHostEntry) *entryIndex {
	x := &entryIndex{entries: entries, exact: map[string][]int{}, memo: map[string][]ssh.PublicKey{}}
	for i := range entries {
		if !allPlain(entries[i].patterns) {
			x.scan = append(x.scan, i)
			continue
		}
		for _, p := range entries[i].patterns {
			if ids := x.exact[p.pattern]; len(ids) == 0 || ids[len(ids)-1] != i {
				x.exact[p.pattern] = append(ids, i)
			}
		}
	}
	return x
}

// allPlain reports whether every pattern is a plain positive name, which
// matches exactly that name (patterns and names are lower-cased).
func allPlain(patterns []hostPattern) bool {
	for _, p := range patterns {
		if p.negate || p.sum != nil || strings.ContainsAny(p.pattern, "*?") {
			return false
		}
	}
	return true
}

// match returns the keys of the entries name matches, in file order.
func (x *entryIndex) match(name string) []ssh.PublicKey {
	x.mu.Lock()
	keys, ok := x.memo[name]
	x.mu.Unlock()
	if ok {
		return slices.Clone(keys)
	}
	exact := x.exact[name]
	var ids []int
	for _, i := range x.scan {
		if x.entries[i].matches(name) {
			ids = append(ids, i)
		}
	}
	if len(exact) > 0 {
		ids = append(ids, exact...)
		slices.Sort(ids)
	}
	for _, i := range ids {
		keys = append(keys, x.entries[i].key)
	}
	x.mu.Lock()
	if len(x.memo) >= maxMemo {
		clear(x.memo)
	}
	x.memo[name] = keys
	x.mu.Unlock()
	return slices.Clone(keys)
}
