// Package termsafe makes text from hosts safe to show on a terminal.
//
// DIRAC log lines and command output end up in a VOBoxIntervention's status,
// in events and in what kubectl prints. A host (or anything that writes to
// its logs) controls those bytes, and a terminal acts on some of them: an
// OSC 52 sequence ("ESC ] 52 ; c ; ... BEL") writes the clipboard, OSC 0 sets
// the window title, CSI sequences move the cursor, clear the screen or
// recolour text so that one line hides another, and a carriage return
// overwrites what was printed before it.
//
// Strip and StripLine guarantee that their result:
//   - is valid UTF-8 (each invalid byte becomes U+FFFD, so a raw 0x9B byte
//     cannot be read as an 8-bit CSI by a terminal in a legacy mode);
//   - holds no C0 control (U+0000-U+001F) but, for Strip, tab and newline,
//     no DEL (U+007F), no C1 control (U+0080-U+009F) and no Unicode
//     bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069), which
//     reorder what is displayed ("Trojan Source");
//   - keeps every other character, in order.
//
// Escape sequences are removed whole rather than only their ESC byte, so
// that no "]52;c;..." residue is left: CSI (ESC [ or U+009B) up to its final
// byte; OSC, DCS, SOS, PM and APC strings (ESC ] P X ^ _, or U+009D U+0090
// U+0098 U+009E U+009F) up to BEL or ST (ESC \ or U+009C); and other escape
// sequences (ESC, intermediate bytes, final byte). An unterminated string
// sequence ends at the next newline, so it hides at most the rest of its own
// line. As no control survives, a result contains no escape sequence, and
// stripping it again changes nothing.
//
// The package has no dependencies beyond the standard library, so that the
// controller, the procedure and the kubectl plugin can all use it.
package termsafe
