package procedure

import (
	"bytes"
	"strconv"
)

// exitMarker starts the line scripts/step.sh prints after each command.
const exitMarker = "\n\x1evobox-exit\t"

// CommandOutput is one command's share of stepScript's output.
type CommandOutput struct {
	Output   []byte
	ExitCode int
}

// SplitStepOutput splits stepScript's output into its commands' outputs and
// exit statuses, and what follows them (the probe's report).
func SplitStepOutput(out []byte) ([]CommandOutput, []byte) {
	var cmds []CommandOutput
	for {
		i := bytes.Index(out, []byte(exitMarker))
		if i < 0 {
			return cmds, out
		}
		line, rest, _ := bytes.Cut(out[i+len(exitMarker):], []byte("\n"))
		code, err := strconv.Atoi(string(line))
		if err != nil {
			code = -1
		}
		cmds = append(cmds, CommandOutput{Output: out[:i], ExitCode: code})
		out = rest
	}
}
