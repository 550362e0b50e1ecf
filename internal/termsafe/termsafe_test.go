package termsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want, wantLine string
	}{
		{"plain", "2026-11-30 12:00:00 UTC Framework/SystemAdministrator ERROR: gone", "", ""},
		{"tab and newline kept", "a\tb\nc", "a\tb\nc", "a b c"},
		{"CRLF", "line one\r\nline two\r\n", "line one\nline two\n", "line one line two "},
		{"carriage return overwrite", "ERROR: disk full\rINFO: all good    ", "ERROR: disk fullINFO: all good    ", ""},
		{"OSC 52 clipboard, BEL", "ERROR: x\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07 done", "ERROR: x done", ""},
		{"OSC 52 clipboard, ST", "ERROR: x\x1b]52;c;Y3VybA==\x1b\\ done", "ERROR: x done", ""},
		{"OSC 0 title", "\x1b]0;root@evil\x07ERROR: y", "ERROR: y", ""},
		{"OSC 8 hyperlink", "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click", ""},
		{"C1 OSC", "a\u009d52;c;Zm9v\u009cb", "ab", ""},
		{"C1 CSI", "a\u009b31mred\u009b0m", "ared", ""},
		{"CSI colour", "\x1b[1;31mERROR\x1b[0m: z", "ERROR: z", ""},
		{"CSI private mode, cursor, erase", "\x1b[?25l\x1b[2J\x1b[H\x1b[3A\x1b[Khidden", "hidden", ""},
		{"CSI with intermediate", "\x1b[1 qx", "x", ""},
		{"malformed CSI ends at the odd byte", "\x1b[31\x07m", "m", ""},
		{"unterminated CSI", "tail\x1b[12;", "tail", ""},
		{"DCS", "a\x1bP1$r0m\x1b\\b", "ab", ""},
		{"APC, PM, SOS", "a\x1b_x\x07b\x1b^y\x1b\\c\x1bXz\x1b\\d", "abcd", ""},
		{"unterminated OSC ends at newline", "a\x1b]0;title\nnext line", "a\nnext line", "a next line"},
		{"OSC abandoned by another escape", "a\x1b]0;t\x1b[31mb", "ab", ""},
		{"charset and single escapes", "\x1b(B\x1b)0\x1b7\x1b8\x1bc\x1b=ok", "ok", ""},
		{"lone ESC at end", "ok\x1b", "ok", ""},
		{"other C0, DEL", "a\x00b\x01c\x08d\x0be\x0cf\x7fg", "abcdefg", ""},
		{"other C1", "a\u0085b\u0080c", "abc", ""},
		{"bidi override", "file\u202egpj.exe and \u2066x\u2069", "filegpj.exe and x", ""},
		{"invalid UTF-8", "a\xffb\x9bc", "a\ufffdb\ufffdc", ""},
		{"non-ASCII kept", "Zürich ✓ 日本 \u00a0", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, wantLine := tc.want, tc.wantLine
			if want == "" {
				want = tc.in
			}
			if wantLine == "" {
				wantLine = strings.NewReplacer("\t", " ", "\n", " ").Replace(want)
			}
			if got := Strip(tc.in); got != want {
				t.Errorf("Strip(%q) = %q, want %q", tc.in, got, want)
			}
			if got := StripLine(tc.in); got != wantLine {
				t.Errorf("StripLine(%q) = %q, want %q", tc.in, got, wantLine)
			}
		})
	}
}

// TestStripNoAllocation: clean text, the common case, is returned as is.
func TestStripNoAllocation(t *testing.T) {
	line := "2026-11-30 12:00:00 UTC WorkloadManagement/JobAgent INFO: done\tok"
	if n := testing.AllocsPerRun(100, func() { _ = Strip(line) }); n != 0 {
		t.Errorf("Strip of clean text allocated %v times", n)
	}
}

// FuzzStrip checks the guarantees of the package doc on any input: valid
// UTF-8, no control but tab and newline (none in StripLine), no bidi
// override, stripping twice changes nothing, and the printable ASCII of a
// string without ESC or C1 introducers survives in order.
//
//	go test -run '^$' -fuzz '^FuzzStrip$' -fuzztime 1m ./internal/termsafe/
func FuzzStrip(f *testing.F) {
	for _, seed := range []string{
		"plain", "a\tb\r\nc", "\x1b]52;c;Zm9v\x07x", "\x1b[1;31mred\x1b[0m", "\u009b2J\u009d0;t\u009c",
		"\x1bP\x1b\\", "\x1b]0;\n", "\xff\xfe\x9b", "\u202e\u2066", "\x1b", "\x1b[", "\x1b]",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, oneLine := range []bool{false, true} {
			got := strip(s, oneLine)
			if !utf8.ValidString(got) {
				t.Fatalf("strip(%q, %v) = %q: invalid UTF-8", s, oneLine, got)
			}
			for _, r := range got {
				if (isControl(r) && r != '\t' && r != '\n') || (oneLine && (r == '\t' || r == '\n')) {
					t.Fatalf("strip(%q, %v) = %q: holds %U", s, oneLine, got, r)
				}
			}
			if again := strip(got, oneLine); again != got {
				t.Fatalf("strip is not idempotent: %q -> %q -> %q", s, got, again)
			}
			if len(got) > 3*len(s) {
				t.Fatalf("strip(%q) grew to %d bytes", s, len(got))
			}
		}
		if !strings.ContainsAny(s, "\x1b\u009b\u009d\u0090\u0098\u009e\u009f") {
			var want strings.Builder
			for _, r := range s {
				if r >= 0x20 && r < 0x7f {
					want.WriteRune(r)
				}
			}
			var got strings.Builder
			for _, r := range Strip(s) {
				if r >= 0x20 && r < 0x7f {
					got.WriteRune(r)
				}
			}
			if got.String() != want.String() {
				t.Fatalf("Strip(%q) lost printable text: %q, want %q", s, got.String(), want.String())
			}
		}
	})
}
