package main

import (
	"os"

	"golang.org/x/term"
)

// painter colours text with ANSI escapes, or leaves it plain.
type painter struct{ on bool }

// newPainter colours on a terminal unless NO_COLOR is set
// (https://no-color.org), or as --color says.
func newPainter(o *options) painter {
	e := o.e
	switch o.color {
	case "always":
		return painter{on: true}
	case "never":
		return painter{}
	}
	return painter{on: os.Getenv("NO_COLOR") == "" && e.isTerminal()}
}

func stdoutIsTerminal() bool { return term.IsTerminal(int(os.Stdout.Fd())) }

// stdoutWidth is the terminal's width, 0 when stdout is not a terminal.
func stdoutWidth() int {
	w, _, err := term.GetSize(int(os.Stdout.Fd()))
	if err != nil {
		return 0
	}
	return w
}

func (p painter) paint(code, s string) string {
	if !p.on || s == "" || code == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p painter) bold(s string) string   { return p.paint("1", s) }
func (p painter) dim(s string) string    { return p.paint("2", s) }
func (p painter) red(s string) string    { return p.paint("31", s) }
func (p painter) green(s string) string  { return p.paint("32", s) }
func (p painter) yellow(s string) string { return p.paint("33", s) }
