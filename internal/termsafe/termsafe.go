package termsafe

import (
	"strings"
	"unicode/utf8"
)

// Strip returns s without escape sequences and control characters, keeping
// tab and newline, for multi-line text such as command output. A carriage
// return is removed, so CRLF line ends become LF.
func Strip(s string) string { return strip(s, false) }

// StripLine returns s as Strip does, but with each tab and newline replaced
// by a space, for text that must stay on one line: a condition message, an
// event note, a table cell.
func StripLine(s string) string { return strip(s, true) }

// Control characters that introduce or end a sequence.
const (
	esc = 0x1b
	bel = 0x07
	// C1 forms, as code points.
	c1DCS = 0x90
	c1SOS = 0x98
	c1CSI = 0x9b
	c1ST  = 0x9c
	c1OSC = 0x9d
	c1PM  = 0x9e
	c1APC = 0x9f
)

func strip(s string, oneLine bool) string {
	if isClean(s, oneLine) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
			i++
		case r == esc:
			i = skipEscape(s, i+1)
		case r == c1CSI:
			i = skipCSI(s, i+size)
		case r == c1OSC || r == c1DCS || r == c1SOS || r == c1PM || r == c1APC:
			i = skipString(s, i+size)
		case r == '\t' || r == '\n':
			if oneLine {
				b.WriteByte(' ')
			} else {
				b.WriteByte(byte(r))
			}
			i++
		case isControl(r):
			i += size
		default:
			b.WriteString(s[i : i+size])
			i += size
		}
	}
	return b.String()
}

// isClean reports whether s is already what strip would return, so the
// common case allocates nothing.
func isClean(s string, oneLine bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if c == '\n' || c == '\t' {
			if oneLine {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || isControl(r) {
			return false
		}
		i += size
	}
	return true
}

// isControl reports whether r is removed when met outside a sequence.
func isControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// skipEscape returns the index after the escape sequence whose ESC ended
// just before i.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '[':
		return skipCSI(s, i+1)
	case ']', 'P', 'X', '^', '_':
		return skipString(s, i+1)
	}
	// nF, Fp, Fe and Fs sequences: intermediate bytes, then a final byte.
	return upTo(s, span(s, i, 0x20, 0x2f), 0x30, 0x7e)
}

// skipCSI returns the index after the control sequence whose introducer
// ended just before i: parameter bytes, intermediate bytes, a final byte.
// A byte out of place ends the sequence without being consumed, as
// terminals abandon a malformed sequence there.
func skipCSI(s string, i int) int {
	i = span(s, i, 0x30, 0x3f) // parameters
	i = span(s, i, 0x20, 0x2f) // intermediates
	return upTo(s, i, 0x40, 0x7e)
}

// span returns the index of the first byte from i on outside [lo, hi].
func span(s string, i int, lo, hi byte) int {
	for i < len(s) && s[i] >= lo && s[i] <= hi {
		i++
	}
	return i
}

// upTo returns i+1 if the byte at i is in [lo, hi], else i.
func upTo(s string, i int, lo, hi byte) int {
	if i < len(s) && s[i] >= lo && s[i] <= hi {
		return i + 1
	}
	return i
}

// skipString returns the index after the command string whose introducer
// ended just before i: up to BEL or ST included, or up to a newline (kept),
// an ESC that starts another sequence (as terminals abandon the string
// there), or the end.
func skipString(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case bel:
			return i + 1
		case '\n':
			return i
		case esc:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i
		}
		if r, size := utf8.DecodeRuneInString(s[i:]); r == c1ST {
			return i + size
		}
		i++
	}
	return i
}
