package remote

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cmd  Command
		want string
	}{
		{Command{"true"}, "true"},
		{Command{"ls", "-l", "/var/log"}, "ls -l /var/log"},
		{Command{"echo", ""}, "echo ''"},
		{Command{"echo", "a b"}, "echo 'a b'"},
		{Command{"echo", "it's"}, `echo 'it'\''s'`},
		{Command{"echo", "'"}, `echo ''\'''`},
		{Command{"echo", "$HOME", "`id`", "a=b", "~", "#x", "*"}, "echo '$HOME' '`id`' 'a=b' '~' '#x' '*'"},
		{Command{"echo", "a\nb"}, "echo 'a\nb'"},
		{Command{"printf", "%s", "user@host:/p,q+r"}, "printf %s user@host:/p,q+r"},
	} {
		got, err := Quote(tc.cmd)
		if err != nil || got != tc.want {
			t.Errorf("Quote(%q) = %q, %v; want %q", tc.cmd, got, err, tc.want)
		}
	}
	for _, cmd := range []Command{nil, {}, {"echo", "a\x00b"}} {
		var invalid *InvalidRequestError
		if _, err := Quote(cmd); !errors.As(err, &invalid) {
			t.Errorf("Quote(%q): got %v, want an InvalidRequestError", cmd, err)
		}
	}
}

// shellArgv runs the quoted command in the local POSIX sh, as sshd runs it in
// the login shell, with the command printing its argv NUL-terminated.
func shellArgv(t *testing.T, args []string) []string {
	t.Helper()
	line, err := Quote(append(Command{"printf", `%s\0`}, args...))
	if err != nil {
		t.Fatalf("Quote: %v", err)
	}
	var stdout, stderr bytes.Buffer
	sh := exec.Command("sh", "-c", line)
	sh.Stdout, sh.Stderr = &stdout, &stderr
	if err := sh.Run(); err != nil {
		t.Fatalf("sh -c %q: %v: %s", line, err, stderr.Bytes())
	}
	return splitNUL(stdout.Bytes())
}

func TestQuoteRoundTripLocalShell(t *testing.T) {
	t.Parallel()
	got := shellArgv(t, trickyArgs)
	if len(got) != len(trickyArgs) {
		t.Fatalf("sh saw %d args, want %d: %q", len(got), len(trickyArgs), got)
	}
	for i := range got {
		if got[i] != trickyArgs[i] {
			t.Errorf("arg %d: sh saw %q, want %q", i, got[i], trickyArgs[i])
		}
	}
}

// FuzzQuote checks that argv → Quote → sh → argv is the identity for every
// argv without NUL, and that NUL is refused. Run longer with
//
//	go test -run '^$' -fuzz '^FuzzQuote$' -fuzztime 5m ./internal/remote/
func FuzzQuote(f *testing.F) {
	for _, a := range trickyArgs {
		f.Add(a, "x", "")
	}
	f.Add("'", `'\''`, "\x00")
	f.Add("$(", "`", "\\")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		args := []string{a, b, c}
		if strings.ContainsRune(a+b+c, 0) {
			if _, err := Quote(append(Command{"printf"}, args...)); err == nil {
				t.Fatalf("Quote accepted a NUL byte in %q", args)
			}
			return
		}
		got := shellArgv(t, args)
		if len(got) != len(args) {
			t.Fatalf("sh saw %q, want %q", got, args)
		}
		for i := range args {
			if got[i] != args[i] {
				t.Fatalf("arg %d: sh saw %q, want %q", i, got[i], args[i])
			}
		}
	})
}
