package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// report is docs/benchmarks.json.
type report struct {
	GeneratedAt time.Time         `json:"generatedAt"`
	Runs        int               `json:"runsPerContender"`
	Machine     map[string]string `json:"machine"`
	Versions    map[string]string `json:"versions"`
	Settings    map[string]string `json:"settings"`
	Sizes       []*sizeReport     `json:"sizes"`
}

// sizeReport is one lab size: medians per direction and every sample.
type sizeReport struct {
	Hosts    int                     `json:"hosts"`
	Summary  []*summary              `json:"summary"`
	Samples  map[string][]*runResult `json:"samples"`
	Failures []string                `json:"failures,omitempty"`
}

// summary holds the medians of one direction of one size. Ratios are
// medians of per-run ratios where both sides come from the same run (the
// operator over its limit), else ratios of medians.
type summary struct {
	Direction string  `json:"direction"`
	Tiers     int     `json:"tiers"`
	Runs      int     `json:"operatorRuns"`
	Operator  float64 `json:"operatorSeconds"`
	Ansible   float64 `json:"ansibleSeconds"`
	Pdsh      float64 `json:"pdshSeconds"`
	Floor     float64 `json:"floorSeconds"`
	// Limit is the median physical limit of the operator's runs.
	Limit             float64 `json:"limitSeconds"`
	OperatorOverLimit float64 `json:"operatorOverLimit"`
	// LimitChecked is the median limit of the runs of both contenders that
	// run the procedure with its checks (operator and Ansible): a run's own
	// load (its polling) slows the hosts and so raises its own limit.
	LimitChecked             float64 `json:"limitCheckedRunsSeconds"`
	OperatorOverLimitChecked float64 `json:"operatorOverLimitCheckedRuns"`
	// Overheads are wall time minus the limit of the same run.
	OperatorOverhead float64 `json:"operatorOverheadSeconds"`
	AnsibleOverhead  float64 `json:"ansibleOverheadSeconds"`
	// AnsibleOverheadOverOperator is Ansible's orchestration overhead over
	// the operator's (target at 200 hosts: >= 5).
	AnsibleOverheadOverOperator float64 `json:"ansibleOverheadOverOperator"`
	AnsibleOverOperator         float64 `json:"ansibleOverOperator"`
	PdshOverOperator            float64 `json:"pdshOverOperator"`
	// ControllerCost is the operator's overhead above the limit minus the
	// SSH floor: what the controller adds to running the commands.
	ControllerCost      float64 `json:"controllerCostSeconds"`
	PeakRSSMiB          float64 `json:"operatorPeakRSSMiB"`
	CPUSeconds          float64 `json:"operatorCPUSeconds"`
	StatusWrites        float64 `json:"statusWrites"`
	StatusWritesPerHost float64 `json:"statusWritesPerHostTier"`
	APIWrites           float64 `json:"apiWrites"`
	FirstCommandMs      float64 `json:"applyToFirstCommandMs"`
	// SessionsPerHostTier are the operator's SSH sessions (from
	// vobox_ssh_commands_total) over the direction's host-tiers, and
	// CPUMsPerHostTier its CPU time over them: medians, with the
	// smallest and largest run.
	SessionsPerHostTier float64    `json:"sessionsPerHostTier"`
	SessionsRange       [2]float64 `json:"sessionsPerHostTierMinMax"`
	CPUMsPerHostTier    float64    `json:"cpuMsPerHostTier"`
	CPUMsRange          [2]float64 `json:"cpuMsPerHostTierMinMax"`
}

func newReport(runs int) *report {
	return &report{Runs: runs, Machine: machine(), Versions: versions(), Settings: map[string]string{
		"settleDelay": "0s", "componentUptime": uptime.String(), "agentCycle": "2s (lab default)",
		"benchAccount": "dirac, with empty .bashrc/.profile and .hushlogin: an SSH session costs milliseconds",
		"ansible":      "forks = hosts, gathering explicit, pipelining, ControlPersist 300s, one " + ansibleModule + " task per tier, waits polled on the host every 0.1s",
		"pdsh":         "-R ssh, fan-out = hosts, a new connection per command, no checks",
		"floor":        "internal/remote SSHExecutor (defaults), same commands as pdsh, one goroutine per host, no checks",
	}}
}

func (r *report) size(n int) *sizeReport {
	for _, s := range r.Sizes {
		if s.Hosts == n {
			return s
		}
	}
	s := &sizeReport{Hosts: n, Samples: map[string][]*runResult{}}
	r.Sizes = append(r.Sizes, s)
	return s
}

func (s *sizeReport) add(name string, res *runResult) { s.Samples[name] = append(s.Samples[name], res) }

// finish computes the summaries from the samples.
func (r *report) finish() {
	r.GeneratedAt = time.Now().UTC().Truncate(time.Second)
	for _, s := range r.Sizes {
		s.Summary = nil
		for _, d := range []string{dirDown, dirUp} {
			s.Summary = append(s.Summary, s.summarise(d))
		}
	}
}

func (s *sizeReport) summarise(d string) *summary {
	col := func(name string, f func(*directionResult) float64) []float64 {
		var v []float64
		for _, res := range s.Samples[name] {
			if dr := res.get(d); dr != nil {
				v = append(v, f(dr))
			}
		}
		return v
	}
	wall := func(dr *directionResult) float64 { return dr.Wall }
	over := func(dr *directionResult) float64 { return dr.Wall - dr.Limit }
	sm := &summary{Direction: d, Tiers: len(tiersOf(d)),
		Runs:     len(col("operator", wall)),
		Operator: median(col("operator", wall)), Ansible: median(col("ansible", wall)),
		Pdsh: median(col("pdsh", wall)), Floor: median(col("floor", wall)),
		Limit:             median(col("operator", func(dr *directionResult) float64 { return dr.Limit })),
		OperatorOverLimit: median(col("operator", func(dr *directionResult) float64 { return ratio(dr.Wall, dr.Limit) })),
		OperatorOverhead:  median(col("operator", over)), AnsibleOverhead: median(col("ansible", over)),
		PeakRSSMiB:     median(col("operator", func(dr *directionResult) float64 { return dr.OperatorPeakRSSMiB })),
		CPUSeconds:     median(col("operator", func(dr *directionResult) float64 { return dr.OperatorCPU })),
		StatusWrites:   median(col("operator", func(dr *directionResult) float64 { return dr.StatusWrites })),
		APIWrites:      median(col("operator", func(dr *directionResult) float64 { return dr.APIWrites })),
		FirstCommandMs: median(col("operator", func(dr *directionResult) float64 { return dr.FirstCommandMs })),
	}
	lim := func(dr *directionResult) float64 { return dr.Limit }
	sm.LimitChecked = median(append(col("operator", lim), col("ansible", lim)...))
	sm.OperatorOverLimitChecked = ratio(sm.Operator, sm.LimitChecked)
	sm.AnsibleOverOperator = ratio(sm.Ansible, sm.Operator)
	sm.PdshOverOperator = ratio(sm.Pdsh, sm.Operator)
	sm.AnsibleOverheadOverOperator = ratio(sm.AnsibleOverhead, sm.OperatorOverhead)
	if sm.Floor > 0 && sm.Operator > 0 {
		sm.ControllerCost = sm.OperatorOverhead - sm.Floor
	}
	if hostTiers := float64(s.hostTiers(d)); hostTiers > 0 {
		sm.StatusWritesPerHost = sm.StatusWrites / hostTiers
		perHostTier := func(f func(*directionResult) float64) (float64, [2]float64) {
			v := col("operator", func(dr *directionResult) float64 { return f(dr) / hostTiers })
			if len(v) == 0 {
				return 0, [2]float64{}
			}
			return median(v), [2]float64{slices.Min(v), slices.Max(v)}
		}
		sm.SessionsPerHostTier, sm.SessionsRange = perHostTier(func(dr *directionResult) float64 { return dr.Sessions })
		sm.CPUMsPerHostTier, sm.CPUMsRange = perHostTier(func(dr *directionResult) float64 { return dr.OperatorCPU * 1000 })
	}
	return sm
}

// hostTiers is the number of (host, tier) steps of a direction; the lab's
// hosts each have one role, so it is the sum of the tiers' host counts.
func (s *sizeReport) hostTiers(d string) int {
	// Down: maintenance (all) + each host's component or database tier;
	// Up: the same plus maintenance again; i.e. 2N either way.
	return 2 * s.Hosts
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func ratio(a, b float64) float64 {
	if a == 0 || b <= 0 {
		return 0
	}
	return a / b
}

func (r *report) write(jsonPath, mdPath string) error {
	r.finish()
	if err := writeJSON(jsonPath, r); err != nil {
		return err
	}
	if mdPath == "" {
		return nil
	}
	var b bytes.Buffer
	r.print(&b)
	const begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
	old, _ := os.ReadFile(mdPath)
	doc := string(old)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		doc = "# Benchmarks\n\n" + begin + "\n" + end + "\n"
		i, j = strings.Index(doc, begin), strings.Index(doc, end)
	}
	doc = doc[:i+len(begin)] + "\n" + b.String() + doc[j:]
	return os.WriteFile(mdPath, []byte(doc), 0o644)
}

// print writes the tables in Markdown.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "Generated by `make bench` on %s; median of %d run(s) per contender.\n\n", r.GeneratedAt.Format(time.RFC3339), r.Runs)
	fmt.Fprintln(w, "| hosts | direction | operator s | limit s | operator / limit | limit, checked runs s | operator / that limit | Ansible s | Ansible / operator | Ansible overhead / operator overhead | pdsh s | pdsh / operator | SSH floor s | controller cost s | peak RSS MiB | CPU s | status writes (per host·tier) | API writes | apply → first command ms |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range r.Sizes {
		for _, sm := range s.Summary {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s |\n",
				s.Hosts, sm.Direction, f2(sm.Operator), f2(sm.Limit), f2(sm.OperatorOverLimit), f2(sm.LimitChecked), f2(sm.OperatorOverLimitChecked), f2(sm.Ansible), f2(sm.AnsibleOverOperator),
				f2(sm.AnsibleOverheadOverOperator), f2(sm.Pdsh), f2(sm.PdshOverOperator), f2(sm.Floor), f2(sm.ControllerCost),
				f1(sm.PeakRSSMiB), f2(sm.CPUSeconds), f0(sm.StatusWrites), f2(sm.StatusWritesPerHost), f0(sm.APIWrites), f0(sm.FirstCommandMs))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The operator's cost per host-tier (a host's part in a tier, maintenance included), median [min–max] over the runs: SSH sessions (`vobox_ssh_commands_total`) and CPU time.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| hosts | direction | sessions / host-tier | CPU ms / host-tier |")
	fmt.Fprintln(w, "|---:|---|---:|---:|")
	for _, s := range r.Sizes {
		for _, sm := range s.Summary {
			fmt.Fprintf(w, "| %d | %s | %s [%s–%s] | %s [%s–%s] |\n", s.Hosts, sm.Direction,
				f2(sm.SessionsPerHostTier), f2(sm.SessionsRange[0]), f2(sm.SessionsRange[1]),
				f2(sm.CPUMsPerHostTier), f2(sm.CPUMsRange[0]), f2(sm.CPUMsRange[1]))
		}
	}
	fmt.Fprintln(w)
	var fails []string
	for _, s := range r.Sizes {
		fails = append(fails, s.Failures...)
	}
	if len(fails) > 0 {
		fmt.Fprintf(w, "Failed runs (left out of the medians):\n\n")
		for _, f := range fails {
			fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(f, "\n", " "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Machine: %s.\n\n", joinMap(r.Machine))
	fmt.Fprintf(w, "Versions: %s.\n\n", joinMap(r.Versions))
}

func f0(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

func f1(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", v)
}

func f2(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func joinMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+" "+m[k])
	}
	return strings.Join(parts, "; ")
}

func machine() map[string]string {
	m := map[string]string{"cpus": fmt.Sprint(runtime.NumCPU())}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.SplitN(string(raw), "\n", 2)[0], "MemTotal: %f kB", &kb)
		m["memory"] = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	m["kernel"] = firstLine(exec.Command("uname", "-r"))
	if raw, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m["os"] = strings.Trim(v, `"`)
			}
		}
	}
	return m
}

func versions() map[string]string {
	dpkg := func(p string) string {
		return firstLine(exec.Command("dpkg-query", "-W", "-f=${Version}", p))
	}
	v := map[string]string{
		"go":        runtime.Version(),
		"ansible":   dpkg("ansible") + " (ansible-core " + dpkg("ansible-core") + ")",
		"pdsh":      dpkg("pdsh"),
		"openssh":   dpkg("openssh-server"),
		"runit":     dpkg("runit"),
		"mariadb":   dpkg("mariadb-server"),
		"python3":   dpkg("python3"),
		"operator":  firstLine(exec.Command("git", "describe", "--always", "--dirty")),
		"apiserver": os.Getenv("ENVTEST_K8S_VERSION"),
	}
	return v
}

func firstLine(cmd *exec.Cmd) string {
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}
