package controllers

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The remote side runs fixed scripts only. Every value that comes from the
// spec or from the host (paths, link names, patterns) is passed as a
// positional argument, which the executor quotes; nothing is spliced into
// script text. $0 names the script so `ps` on the host says what runs.

// probeScript reads, in one round trip, everything a step decides on: the
// DIRAC root, the startup and startup-save links, runit's view of each
// startup link, whether each link's run script is an agent's, the manifest,
// mysqld, and the InnoDB journal. Args: diracRoot manifestName mysqlServer
// journalFrom journalTo (the last three may be empty). It is run at every
// poll, so it starts few processes: one readlink, one runsvstat and one
// grep for all the links, not one per link, and no pipelines. (GNU's
// readlink takes several links and prints a line each; where its lines do
// not pair up with the links, e.g. a readlink taking one operand or a link
// gone meanwhile, it runs once per link.)
//
// Five more arguments and link names make it wait on the host first (see
// hostWait): mode ("down" or "up"), then tick, budget, settle and rest in
// milliseconds. It reads runsv's supervise/stat of each link with the
// shell's own read, forking only sleep once per tick, until every link is
// down (or runs), or the budget is spent. In "up" mode it then sleeps
// settle if a link was not running at the first look (the last one started
// less than a tick ago), or rest if all were. The report that follows is the
// same as without a wait: the wait only chooses when to look.
const probeScript = `root=$1 manifest=$2 mysql=$3 jfrom=$4 jto=$5
if [ $# -gt 5 ]; then
  mode=$6 tick=$7 budget=$8 settle=$9 rest=${10}; shift 10
  secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }
  first=1 spent=0
  while :; do
    all=1
    for n; do
      f=$root/startup/$n/supervise/stat s=
      [ -r "$f" ] && read -r s < "$f"
      case $mode:$s in down:down*|up:run) ;; *) all=0; break;; esac
    done
    if [ $all = 1 ]; then
      [ $first = 1 ] || rest=$settle
      if [ "$mode" = up ] && [ "$rest" -gt 0 ] && [ $((spent + rest)) -le "$budget" ]; then sleep "$(secs "$rest")"; fi
      break
    fi
    first=0
    [ $((spent + tick)) -le "$budget" ] || break
    sleep "$(secs "$tick")"; spent=$((spent + tick))
  done
fi
printf 'now\t%s\n' "$(date -u +%s)"
if [ ! -d "$root" ]; then printf 'root\tmissing\n'; exit 0; fi
printf 'root\tok\n'
for dir in startup startup-save; do
  [ -d "$root/$dir" ] || continue
  set --
  for l in "$root/$dir"/* "$root/$dir"/.[!.]*; do
    [ -L "$l" ] || continue
    case ${l##*/} in *[!A-Za-z0-9_.-]*) continue;; esac
    set -- "$@" "$l"
  done
  [ $# -gt 0 ] || continue
  ts=$(readlink -- "$@" 2>/dev/null) || ts=
  left=$ts c=1
  while :; do case $left in *"
"*) left=${left#*"
"}; c=$((c+1));; *) break;; esac; done
  [ $c -eq $# ] || ts=
  for l; do
    shift
    if [ -n "$ts" ]; then t=${ts%%"
"*}; ts=${ts#*"
"}; else t=$(readlink -- "$l") || continue; fi
    case $t in *"	"*|*"
"*) continue;; esac
    printf '%s\t%s\t%s\n' "$dir" "${l##*/}" "$t"
    set -- "$@" "$l"
  done
  if [ "$dir" = startup ] && [ $# -gt 0 ]; then
    out=$(runsvstat "$@" 2>&1)
    while IFS= read -r s; do
      case $s in
        "runsvstat: warning: $root/startup/"*) n=${s#"runsvstat: warning: $root/startup/"}; s=${s#"runsvstat: "};;
        "$root/startup/"*) n=${s#"$root/startup/"}; s=${s#"$root/startup/"*": "};;
        *) continue;;
      esac
      printf 'stat\t%s\t%s\n' "${n%%: *}" "$s"
    done <<EOF
$out
EOF
    for l; do shift; set -- "$@" "$l/run"; done
    out=$(grep -ls -e dirac-agent -e dirac-executor -- "$@")
    while IFS= read -r f; do
      [ -n "$f" ] || continue
      n=${f#"$root/startup/"}; printf 'agent\t%s\n' "${n%/run}"
    done <<EOF
$out
EOF
  fi
done
if [ -f "$root/startup-save/$manifest" ]; then
  while IFS= read -r line; do printf 'manifest\t%s\n' "$line"; done < "$root/startup-save/$manifest"
fi
if [ -n "$mysql" ]; then
  if [ -x "$mysql" ]; then printf 'mysql\tpresent\n'; else printf 'mysql\tmissing\n'; fi
  if ps -eo comm= 2>/dev/null | grep -qxE 'mysqld|mariadbd|mysqld_safe'; then printf 'mysqld\trunning\n'; else printf 'mysqld\tstopped\n'; fi
fi
if [ -n "$jfrom" ]; then
  if [ -L "$jfrom" ]; then printf 'jfrom\tlink\t%s\n' "$(readlink "$jfrom")";
  elif [ -d "$jfrom" ]; then printf 'jfrom\tdir\n';
  elif [ -e "$jfrom" ]; then printf 'jfrom\tother\n';
  else printf 'jfrom\tnone\n'; fi
  if [ -d "$jto" ]; then printf 'jto\tdir\n'; elif [ -e "$jto" ]; then printf 'jto\tother\n'; else printf 'jto\tnone\n'; fi
fi
`

// stepScript runs a step's commands and then probeScript in one session, so
// that the probe which verifies a move (and waits for what it set off) rides
// along with it. Args: for each command, its argument count and its
// arguments; then "--" and probeScript's arguments. The arguments are only
// ever referenced ("${3}"), never spliced into the text that eval runs. Each
// command's output (stderr merged) is followed by a line with exitMarker and
// its exit status; the first command that fails ends the script before the
// others and the probe.
const stepScript = `while [ "$1" != -- ]; do
  n=$1; shift; i=2 a='"$1"'
  while [ $i -le "$n" ]; do a="$a \"\${$i}\""; i=$((i+1)); done
  eval "$a" 2>&1
  rc=$?; shift "$n"
  printf '\n\036vobox-exit\t%d\n' $rc
  [ $rc = 0 ] || exit 0
done
shift
`

// exitMarker starts the line stepScript prints after each command.
const exitMarker = "\n\x1evobox-exit\t"

// commandOutput is one command's share of stepScript's output.
type commandOutput struct {
	Output   []byte
	ExitCode int
}

// splitStepOutput splits stepScript's output into its commands' outputs and
// exit statuses, and what follows them (the probe's report).
func splitStepOutput(out []byte) ([]commandOutput, []byte) {
	var cmds []commandOutput
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
		cmds = append(cmds, commandOutput{Output: out[:i], ExitCode: code})
		out = rest
	}
}

// writeManifestScript writes the manifest atomically. Args: saveDir name content.
const writeManifestScript = `set -e
mkdir -p "$1"
printf '%s' "$3" > "$1/.$2.tmp"
mv -f "$1/.$2.tmp" "$1/$2"
`

// moveLinksScript moves named links from one directory to another without
// ever overwriting: a name already present at the destination is reported
// and left alone. mv -T never moves a link into a directory its name points
// at. Args: fromDir toDir name...
const moveLinksScript = `from=$1 to=$2; shift 2
mkdir -p "$to"
for n; do
  if [ -e "$to/$n" ] || [ -L "$to/$n" ]; then printf 'exists\t%s\n' "$n"; continue; fi
  if [ ! -L "$from/$n" ]; then printf 'absent\t%s\n' "$n"; continue; fi
  mv -n -T "$from/$n" "$to/$n" && printf 'moved\t%s\n' "$n"
done
`

// journalScript moves the InnoDB journal and links it back; it resumes a
// move interrupted between mv and ln. Args: from to.
const journalScript = `set -e
if [ -d "$1" ] && [ ! -L "$1" ] && [ ! -e "$2" ]; then mv -T "$1" "$2"; fi
if [ ! -e "$1" ] && [ ! -L "$1" ] && [ -d "$2" ]; then ln -s "$2" "$1"; fi
`

// logScanScript prints the last five lines of each component's log/current
// written at or after a time that contain one of the patterns (as fixed
// strings). A line without DIRAC's timestamp (a traceback's continuation)
// belongs to the line before it. One awk reads every log: the patterns reach
// it through the environment (never as program text or -v, which would
// interpret backslashes), each log's link and time as the assignment
// operands before it. Args: root npatterns pattern... then pairs of link
// and since ("YYYY-MM-DD hh:mm:ss").
const logScanScript = `root=$1 np=$2; shift 2
i=1
while [ "$i" -le "$np" ]; do eval "VOBOX_PATTERN_$i=\$1"; export "VOBOX_PATTERN_$i"; shift; i=$((i+1)); done
k=$(($# / 2))
while [ "$k" -gt 0 ]; do
  f=$root/startup/$1/log/current
  [ -r "$f" ] && set -- "$@" "link=$1" "since=$2" "$f"
  shift 2; k=$((k-1))
done
[ $# -gt 0 ] || exit 0
exec awk -v np="$np" '
function flush(i) { for (i = 1; i <= nb; i++) printf "finding\t%s\t%s\n", cur, buf[i]; nb = 0 }
BEGIN { for (i = 1; i <= np; i++) pat[i] = ENVIRON["VOBOX_PATTERN_" i] }
FNR == 1 { flush(); cur = link; in_window = 0 }
/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]/ { in_window = (substr($0, 1, 19) >= since) }
in_window {
  for (i = 1; i <= np; i++) if (index($0, pat[i]) > 0) {
    if (nb == 5) { for (j = 1; j < 5; j++) buf[j] = buf[j + 1]; nb = 4 }
    buf[++nb] = $0
    break
  }
}
END { flush() }
' "$@"
`

// svState is runit's view of one supervised link.
type svState struct {
	// Raw is runsvstat's line without the directory prefix.
	Raw string
	// Running is true when the process runs ("run (pid N) S seconds").
	Running bool
	// WantDown is true when runit was told to take it down but it still runs.
	WantDown bool
	// Supervised is false when runsv does not (yet) watch the link.
	Supervised bool
	// Seconds is how long it has been in its state.
	Seconds int64
}

// parseSvState parses a runit 1.x runsvstat line ("run (pid 12) 5 seconds",
// "down 3 seconds, normally up", "finish (pid 7) 1 seconds", or an error).
func parseSvState(s string) svState {
	st := svState{Raw: s}
	switch {
	case strings.HasPrefix(s, "run "):
		st.Running, st.Supervised = true, true
	case strings.HasPrefix(s, "finish "):
		st.Running, st.Supervised = true, true
	case strings.HasPrefix(s, "down "):
		st.Supervised = true
	default:
		return st
	}
	st.WantDown = strings.Contains(s, "want down")
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

// manifestEntry is one startup link recorded before any action.
type manifestEntry struct {
	Name     string
	Target   string
	Class    linkClass
	WasUp    bool
	Excluded bool
}

// manifest is the on-host record of the links an intervention parks; it lives
// in startup-save under a dot name tied to the intervention's UID, so it
// survives a controller crash and a host reboot.
type manifest struct {
	Entries []manifestEntry
}

const manifestHeader = "# vobox-operator manifest: links parked by this intervention; do not edit"

// manifestName is the manifest's file name for an intervention UID.
func manifestName(uid string) string { return ".vobox-manifest-" + uid }

// encode renders the manifest, one tab-separated line per link, sorted.
func (m *manifest) encode() string {
	var b strings.Builder
	b.WriteString(manifestHeader + "\n")
	entries := append([]manifestEntry(nil), m.Entries...)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	for _, e := range entries {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Target, e.Class, boolWord(e.WasUp, "up", "down"), boolWord(e.Excluded, "excluded", "restore"))
	}
	return b.String()
}

// entry returns the manifest entry of a link name, or nil.
func (m *manifest) entry(name string) *manifestEntry {
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

// hostProbe is a host's state as probeScript saw it.
type hostProbe struct {
	Now          int64
	RootExists   bool
	Startup      map[string]string
	Save         map[string]string
	State        map[string]svState
	AgentScript  map[string]bool
	Manifest     *manifest
	MysqlPresent bool
	MysqldUp     bool
	// Journal is "dir", "none", "other" or "link" (JournalTarget then holds its target).
	Journal       string
	JournalTarget string
	// JournalTo is "dir", "other" or "none".
	JournalTo string
}

// parseProbe parses probeScript's output. Unknown lines are ignored so that
// a newer script stays readable by an older parser.
func parseProbe(out []byte) (*hostProbe, error) {
	p := &hostProbe{Startup: map[string]string{}, Save: map[string]string{}, State: map[string]svState{}, AgentScript: map[string]bool{}}
	var manifestLines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	sawRoot := false
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		switch {
		case f[0] == "now" && len(f) == 2:
			p.Now, _ = strconv.ParseInt(f[1], 10, 64)
		case f[0] == "root" && len(f) == 2:
			sawRoot, p.RootExists = true, f[1] == "ok"
		case f[0] == "startup" && len(f) == 3:
			p.Startup[f[1]] = f[2]
		case f[0] == "startup-save" && len(f) == 3:
			p.Save[f[1]] = f[2]
		case f[0] == "stat" && len(f) == 3:
			p.State[f[1]] = parseSvState(f[2])
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
		return nil, fmt.Errorf("probe output is incomplete (no root line): %q", tail(string(out), 200))
	}
	if manifestLines != nil {
		m, err := parseManifest(manifestLines)
		if err != nil {
			return nil, err
		}
		p.Manifest = m
	}
	return p, nil
}

// parseManifest parses the lines of a manifest file.
func parseManifest(lines []string) (*manifest, error) {
	m := &manifest{}
	for _, l := range lines {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("manifest line %q: want 5 tab-separated fields, got %d", l, len(f))
		}
		m.Entries = append(m.Entries, manifestEntry{
			Name: f[0], Target: f[1], Class: linkClass(f[2]), WasUp: f[3] == "up", Excluded: f[4] == "excluded",
		})
	}
	return m, nil
}

// parseFindings parses logScanScript's output into "link: line" strings.
func parseFindings(out []byte) []string {
	var findings []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.SplitN(l, "\t", 3)
		if len(f) == 3 && f[0] == "finding" {
			findings = append(findings, f[1]+": "+tail(f[2], 200))
		}
	}
	return findings
}

// tail keeps the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
