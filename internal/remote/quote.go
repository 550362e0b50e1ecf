package remote

import (
	"strconv"
	"strings"
)

// Quote renders cmd as one POSIX sh command line that, parsed by the remote
// login shell, yields exactly cmd as argv. An argument made only of
// characters that sh never treats specially is written as is; any other is
// wrapped in single quotes, inside which sh interprets nothing, and each
// single quote in it is closed, escaped and reopened:
//
//	Command{"echo", "it's $HOME"}  ->  echo 'it'\''s $HOME'
//
// Every other byte, including newlines, '$', '`', '\', '*' and bytes that
// are not UTF-8, passes through unchanged.
//
// An empty argv and an argument holding a NUL byte cannot be expressed (an
// argv element is a C string) and yield an *InvalidRequestError.
func Quote(cmd Command) (string, error) {
	if len(cmd) == 0 {
		return "", &InvalidRequestError{Field: "command", Msg: "empty argv"}
	}
	var b strings.Builder
	for i, arg := range cmd {
		if strings.IndexByte(arg, 0) >= 0 {
			return "", &InvalidRequestError{Field: "command[" + strconv.Itoa(i) + "]", Msg: "argument holds a NUL byte"}
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		quoteArg(&b, arg)
	}
	return b.String(), nil
}

func quoteArg(b *strings.Builder, arg string) {
	if arg != "" && isSafe(arg) {
		b.WriteString(arg)
		return
	}
	b.WriteByte('\'')
	for {
		i := strings.IndexByte(arg, '\'')
		if i < 0 {
			break
		}
		b.WriteString(arg[:i])
		b.WriteString(`'\''`)
		arg = arg[i+1:]
	}
	b.WriteString(arg)
	b.WriteByte('\'')
}

// isSafe reports whether every byte of s is one that sh takes literally in
// any position of a word: no glob, tilde, expansion, quoting, assignment or
// separator meaning.
func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == '/' || c == ',' || c == '+' || c == '@' || c == '%' || c == ':':
		default:
			return false
		}
	}
	return true
}
