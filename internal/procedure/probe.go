package procedure

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SvState is runit's view of one supervised link.
type SvState struct {
	// Raw is runsvstat's line without the directory prefix.
	Raw string
	// Running is true when the process runs ("run (pid N) S seconds").
	Running bool
	// WantDown is true when runit was told to take it down but it still runs.
	WantDown bool
	// WantUp is true when runsv wants it up but it is not running (yet):
	// runsv starts it again by itself, a second after each exit.
	WantUp bool
	// Supervised is false when runsv does not (yet) watch the link.
	Supervised bool
	// Seconds is how long it has been in its state.
	Seconds int64
	// Unknown is true when the probe could not read what runit holds: no
	// line for a startup link, a tool that failed, a permission refused.
	// A state, or a warning that no runsv supervises the link (yet, or any
	// more), is known. An unknown state is never read as stopped.
	Unknown bool
}

// unsupervisedWarnings are the warnings, of runsvstat and sv alike, that say no
// runsv supervises a link: runsvdir has not picked it up yet, or has let
// it go, or its directory is gone.
var unsupervisedWarnings = []string{
	"unable to open supervise/ok: file does not exist",
	"runsv not running",
	"unable to change directory: file does not exist",
	"unable to change to service directory: file does not exist",
}

// ParseSvState parses a runit 1.x runsvstat line ("run (pid 12) 5 seconds",
// "down 3 seconds, normally up", "finish (pid 7) 1 seconds", or an error).
func ParseSvState(s string) SvState {
	st := SvState{Raw: s}
	switch {
	case strings.HasPrefix(s, "run "):
		st.Running, st.Supervised = true, true
	case strings.HasPrefix(s, "finish "):
		st.Running, st.Supervised = true, true
	case strings.HasPrefix(s, "down "):
		st.Supervised = true
	default:
		st.Unknown = !strings.HasPrefix(s, "warning: ") || !slices.ContainsFunc(unsupervisedWarnings, func(w string) bool { return strings.Contains(s, w) })
		return st
	}
	st.WantDown = strings.Contains(s, "want down")
	st.WantUp = !st.Running && strings.Contains(s, "want up")
	fields := strings.Fields(strings.SplitN(s, ",", 2)[0])
	for i, f := range fields {
		if f == "seconds" && i > 0 {
			if n, err := strconv.ParseInt(fields[i-1], 10, 64); err == nil {
				st.Seconds = n
			}
		}
	}
	return st
}

// ParseSvStatus parses runit 2's "sv status" line of a link, as the probe
// reports it without the directory: "run: (pid 12) 5s; run: log: (pid 11)
// 5s", "down: 3s, normally up", "finish: (pid 7) 1s", "warning: unable to
// open supervise/ok: file does not exist", "fail: runsv not running". It
// reads as runsvstat's line would.
func ParseSvStatus(s string) SvState {
	main, _, _ := strings.Cut(s, "; ")
	state, rest, ok := strings.Cut(main, ": ")
	if !ok {
		return SvState{Raw: s, Unknown: true}
	}
	switch state {
	case "run", "finish", "down":
		// "5s, want down" → "5 seconds, want down"
		f := strings.Fields(rest)
		for i, w := range f {
			num, comma := strings.CutSuffix(w, ",")
			if n, ok := strings.CutSuffix(num, "s"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
				f[i] = n + " seconds"
				if comma {
					f[i] += ","
				}
				break
			}
		}
		st := ParseSvState(state + " " + strings.Join(f, " "))
		st.Raw = s
		return st
	case "warning", "fail":
		st := ParseSvState("warning: " + rest)
		st.Raw = s
		return st
	}
	return SvState{Raw: s, Unknown: true}
}

// ManifestEntry is one startup link recorded before any action.
type ManifestEntry struct {
	Name     string
	Target   string
	Class    LinkClass
	WasUp    bool
	Excluded bool
}

// Manifest is the on-host record of the links an intervention parks; it lives
// in startup-save under a dot name tied to the intervention's UID, so it
// survives a controller crash and a host reboot.
type Manifest struct {
	Entries []ManifestEntry
}

const manifestHeader = "# vobox-operator manifest: links parked by this intervention; do not edit"

// ManifestName is the manifest's file name for an intervention UID.
func ManifestName(uid string) string { return ".vobox-manifest-" + uid }

// Encode renders the manifest, one tab-separated line per link, sorted.
func (m *Manifest) Encode() string {
	var b strings.Builder
	b.WriteString(manifestHeader + "\n")
	entries := append([]ManifestEntry(nil), m.Entries...)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Target, e.Class, boolWord(e.WasUp, "up", "down"), boolWord(e.Excluded, "excluded", "restore"))
	}
	return b.String()
}

// Entry returns the manifest entry of a link name, or nil.
func (m *Manifest) Entry(name string) *ManifestEntry {
	for i := range m.Entries {
		if m.Entries[i].Name == name {
			return &m.Entries[i]
		}
	}
	return nil
}

func boolWord(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// Probe is a host's state as probeScript saw it.
type Probe struct {
	Now int64
	// BootID is the host's /proc/sys/kernel/random/boot_id, "" where it
	// has none: new at every boot.
	BootID       string
	RootExists   bool
	Startup      map[string]string
	Save         map[string]string
	State        map[string]SvState
	AgentScript  map[string]bool
	Manifest     *Manifest
	MysqlPresent bool
	MysqldUp     bool
	// Runit are the runit tools found on the host.
	Runit RunitTools
	// Ready is true when the database's readiness argv exited 0
	// (spec.database.service.ready); only asked with one.
	Ready bool
	// Journal is "dir", "none", "other" or "link" (JournalTarget then holds its target).
	Journal       string
	JournalTarget string
	// JournalTo is "dir", "other" or "none".
	JournalTo string
}

// ParseProbe parses probeScript's output. Unknown lines are ignored so that
// a newer script stays readable by an older parser.
func ParseProbe(out []byte) (*Probe, error) {
	p := &Probe{Startup: map[string]string{}, Save: map[string]string{}, State: map[string]SvState{}, AgentScript: map[string]bool{}}
	var manifestLines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1024*1024) // grows from 4 KiB as lines need: a probe is read on every session
	sawRoot := false
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case f[0] == "now" && len(f) == 2:
			p.Now, _ = strconv.ParseInt(f[1], 10, 64)
		case f[0] == "boot" && len(f) == 2:
			p.BootID = f[1]
		case f[0] == "root" && len(f) == 2:
			sawRoot, p.RootExists = true, f[1] == "ok"
		case f[0] == "startup" && len(f) == 3:
			p.Startup[f[1]] = f[2]
		case f[0] == "startup-save" && len(f) == 3:
			p.Save[f[1]] = f[2]
		case f[0] == "stat" && len(f) == 3:
			p.State[f[1]] = ParseSvState(f[2])
		case f[0] == "sv" && len(f) == 3:
			p.State[f[1]] = ParseSvStatus(f[2])
		case f[0] == "runit" && len(f) == 4 && f[1] == "runsv":
			p.Runit = RunitTools{Runsvctrl: f[2], Runsvstat: f[3]}
		case f[0] == "runit" && len(f) == 3 && f[1] == "sv":
			p.Runit = RunitTools{SV: f[2]}
		case f[0] == "runit" && len(f) == 2 && f[1] == "missing":
			p.Runit = RunitTools{Missing: true}
		case f[0] == "ready" && len(f) == 2:
			p.Ready = f[1] == "yes"
		case f[0] == "agent" && len(f) == 2:
			p.AgentScript[f[1]] = true
		case f[0] == "manifest" && len(f) >= 2:
			manifestLines = append(manifestLines, strings.Join(f[1:], "\t"))
		case f[0] == "mysql" && len(f) == 2:
			p.MysqlPresent = f[1] == "present"
		case f[0] == "mysqld" && len(f) == 2:
			p.MysqldUp = f[1] == "running"
		case f[0] == "jfrom" && len(f) >= 2:
			p.Journal = f[1]
			if len(f) == 3 {
				p.JournalTarget = f[2]
			}
		case f[0] == "jto" && len(f) == 2:
			p.JournalTo = f[1]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("failed to read probe output: %w", err)
	}
	if !sawRoot {
		return nil, fmt.Errorf("probe output is incomplete (no root line): %q", Tail(string(out), 200))
	}
	for n := range p.Startup {
		if _, ok := p.State[n]; !ok {
			p.State[n] = SvState{Unknown: true}
		}
	}
	if manifestLines != nil {
		m, err := ParseManifest(manifestLines)
		if err != nil {
			return nil, err
		}
		p.Manifest = m
	}
	return p, nil
}

// ParseManifest parses the lines of a manifest file.
func ParseManifest(lines []string) (*Manifest, error) {
	m := &Manifest{}
	for _, l := range lines {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("manifest line %q: want 5 tab-separated fields, got %d", l, len(f))
		}
		m.Entries = append(m.Entries, ManifestEntry{
			Name: f[0], Target: f[1], Class: LinkClass(f[2]), WasUp: f[3] == "up", Excluded: f[4] == "excluded",
		})
	}
	return m, nil
}

// ParseFindings parses logScanScript's output into "link: line" strings.
func ParseFindings(out []byte) []string {
	var findings []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.SplitN(l, "\t", 3)
		if len(f) == 3 && f[0] == "finding" {
			findings = append(findings, f[1]+": "+Tail(f[2], 200))
		}
	}
	return findings
}

// Tail keeps the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
