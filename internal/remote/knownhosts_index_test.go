package remote

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // known_hosts' hashed names are HMAC-SHA1.
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// linearMatch is the lookup the index replaces: every entry in file order.
func linearMatch(entries []knownHostEntry, name string) []ssh.PublicKey {
	var keys []ssh.PublicKey
	for i := range entries {
		if entries[i].matches(name) {
			keys = append(keys, entries[i].key)
		}
	}
	return keys
}

// hashedName is an OpenSSH hashed known_hosts name for name.
func hashedName(name string, salt byte) string {
	s := []byte{salt, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	mac := hmac.New(sha1.New, s)
	mac.Write([]byte(name))
	return "|1|" + base64.StdEncoding.EncodeToString(s) + "|" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TestEntryIndexAgreesWithEveryEntryInTurn: on known_hosts files mixing
// plain names, several names per line, repeated names, wildcards,
// negations, hashed names and @cert-authority lines, the index returns for
// every name the keys trying each entry in turn returns, in the same order,
// asked once or again (the remembered answer).
func TestEntryIndexAgreesWithEveryEntryInTurn(t *testing.T) {
	t.Parallel()
	keys := make([]ssh.PublicKey, 6)
	for i := range keys {
		keys[i] = newEd25519Signer(t).PublicKey()
	}
	hosts := []string{"vobox01.cern.ch", "vobox02.cern.ch", "lbvobox1.cern.ch", "db.lhcb.example", "[vobox01.cern.ch]:2222", "10.0.0.7", "bad.cern.ch"}
	forms := []func(r *rand.Rand) string{
		func(r *rand.Rand) string { return hosts[r.IntN(len(hosts))] },
		func(r *rand.Rand) string { return hosts[r.IntN(len(hosts))] + "," + hosts[r.IntN(len(hosts))] },
		func(r *rand.Rand) string { return "*.cern.ch,!bad.cern.ch" },
		func(r *rand.Rand) string { return "vobox0?.cern.ch" },
		func(r *rand.Rand) string { return hashedName(hosts[r.IntN(len(hosts))], byte(r.IntN(256))) },
		func(r *rand.Rand) string { return strings.ToUpper(hosts[r.IntN(len(hosts))]) },
	}
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 7))
		var lines []string
		for range 1 + r.IntN(12) {
			marker := ""
			if r.IntN(5) == 0 {
				marker = "@cert-authority "
			}
			lines = append(lines, marker+forms[r.IntN(len(forms))](r)+" "+authorizedKey(keys[r.IntN(len(keys))]))
		}
		kh, err := parseKnownHosts([]byte(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, strings.Join(lines, "\n"))
		}
		for _, name := range append(hosts, "other.example", "[10.0.0.7]:22") {
			for range 2 {
				if got, want := kh.keysFor(name), linearMatch(kh.entries, name); !sameKeys(got, want) || len(got) != len(want) {
					t.Fatalf("seed %d, %s: index %d keys, each entry in turn %d\n%s", seed, name, len(got), len(want), strings.Join(lines, "\n"))
				}
				if got, want := kh.authoritiesFor(name), linearMatch(kh.authorities, name); !sameKeys(got, want) || len(got) != len(want) {
					t.Fatalf("seed %d, %s: index %d authorities, each entry in turn %d\n%s", seed, name, len(got), len(want), strings.Join(lines, "\n"))
				}
			}
		}
	}
}

// BenchmarkKnownHostsLookup looks up 100 hosts of a known_hosts with one
// line per host, as first connections to them do (nothing remembered), with
// the index and trying each entry in turn:
// go test ./internal/remote -run '^$' -bench KnownHostsLookup.
func BenchmarkKnownHostsLookup(b *testing.B) {
	key := newEd25519Signer(b).PublicKey()
	for _, n := range []int{1000, 10000} {
		for _, hashed := range []bool{false, true} {
			names := make([]string, n)
			var sb strings.Builder
			for i := range names {
				names[i] = fmt.Sprintf("vobox%05d.example.org", i)
				h := names[i]
				if hashed {
					h = hashedName(h, byte(i))
				}
				sb.WriteString(h + " " + authorizedKey(key) + "\n")
			}
			kh, err := parseKnownHosts([]byte(sb.String()))
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("hosts=%d/hashed=%v/index", n, hashed), func(b *testing.B) {
				x := newEntryIndex(kh.entries)
				for b.Loop() {
					clear(x.memo) // first connections: nothing remembered
					for _, name := range names[:100] {
						if len(x.match(name)) != 1 {
							b.Fatal("no key")
						}
					}
				}
			})
			b.Run(fmt.Sprintf("hosts=%d/hashed=%v/each-entry", n, hashed), func(b *testing.B) {
				for b.Loop() {
					for _, name := range names[:100] {
						if len(linearMatch(kh.entries, name)) != 1 {
							b.Fatal("no key")
						}
					}
				}
			})
		}
	}
}
