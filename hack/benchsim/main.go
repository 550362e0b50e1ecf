// Command benchsim measures the controller alone at scale: a real API
// server (envtest) and the real reconciler, with the hosts simulated by
// internal/remote/sim. It runs Down then Up of 1,000, 5,000 and 10,000
// hosts as interventions started together, compares each intervention's
// wall time with the ideal schedule from the simulated latencies, and writes
// docs/benchmarks-sim.{md,json}. Run it with `make bench-sim`.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/vobox-operator/vobox-operator/controllers"
)

type options struct {
	sizes    []int
	per      int
	seed     uint64
	timeout  time.Duration
	out      string
	profiles string
	// qps and burst are the operator's client limits.
	qps   float64
	burst int
	// hostWait is the reconciler's HostWaitPerPass (--host-wait-per-pass).
	hostWait time.Duration
}

// report is docs/benchmarks-sim.json.
type report struct {
	GeneratedAt time.Time         `json:"generatedAt"`
	Machine     map[string]string `json:"machine"`
	Versions    map[string]string `json:"versions"`
	Settings    map[string]string `json:"settings"`
	Sizes       []*sizeResult     `json:"sizes"`
}

// sizeResult is one size: Down then Up.
type sizeResult struct {
	Hosts                int          `json:"hosts"`
	PerIntervention      int          `json:"maxHostsPerIntervention"`
	Interventions        int          `json:"interventions"`
	SharingInterventions int          `json:"interventionsSharingHosts"`
	Directions           []*dirResult `json:"directions"`
	APIWrites            struct {
		Total      int            `json:"total"`
		PerHost    float64        `json:"perHostDownUp"`
		ByResource map[string]int `json:"byResource"`
	} `json:"apiWrites"`
	RSS struct {
		BaseMiB    float64 `json:"baseMiB"`
		PeakMiB    float64 `json:"peakMiB"`
		PerHostKiB float64 `json:"perHostKiB"`
	} `json:"rss"`
	HeapPerHostKiB float64 `json:"heapInUsePerHostKiB"`
	// The operator's and the API server's CPU over Down and Up.
	OperatorCPUSeconds float64 `json:"operatorProcessCPUSeconds"`
	HostTiers          int     `json:"hostTiers"`
	CPUPerHostTierMs   float64 `json:"cpuPerHostTierMs"`
	// CPUShares splits the process's CPU by part (parts.go): operator,
	// simulator, bench; OperatorOnlyCPUPerHostTierMs is the operator's part.
	CPUShares                    map[string]float64 `json:"cpuShares,omitempty"`
	OperatorOnlyCPUPerHostTierMs float64            `json:"operatorOnlyCpuPerHostTierMs,omitempty"`
	APIServerCPUSeconds          map[string]float64 `json:"apiServerCPUSeconds"`
	ElapsedSeconds               float64            `json:"elapsedSeconds"`
	Failures                     []string           `json:"failures,omitempty"`
}

// dirResult is one direction of one size.
type dirResult struct {
	Direction   string  `json:"direction"`
	WallSeconds float64 `json:"wallSeconds"`
	// Ratio is wall/ideal over the interventions that share no host
	// (the others wait for Leases by design).
	Ratio       dist `json:"wallOverIdeal"`
	RatioShared dist `json:"wallOverIdealSharing"`
	Wall        dist `json:"interventionWallSeconds"`
	Ideal       dist `json:"interventionIdealSeconds"`
	// TierOverhead is wall minus ideal of each tier, by condition, over
	// the interventions that share no host.
	TierOverhead map[string]dist `json:"tierOverheadSeconds"`
	StatusAge    dist            `json:"statusAgeSeconds"`
	// StatusAgeByOp is StatusAge by the operation that started the wait:
	// which step's result people wait longest to see.
	StatusAgeByOp map[string]dist `json:"statusAgeByOpSeconds,omitempty"`
	Samples       []*sample       `json:"samples"`
}

// sample is one intervention in one direction.
type sample struct {
	Name         string       `json:"name"`
	Hosts        int          `json:"hosts"`
	Shared       bool         `json:"sharesHosts"`
	WallSeconds  float64      `json:"wallSeconds"`
	IdealSeconds float64      `json:"idealSeconds"`
	Ratio        float64      `json:"wallOverIdeal"`
	Tiers        []tierSample `json:"tiers"`
	Failed       string       `json:"failed,omitempty"`
}

type tierSample struct {
	Condition       string  `json:"condition"`
	WallSeconds     float64 `json:"wallSeconds"`
	IdealSeconds    float64 `json:"idealSeconds"`
	OverheadSeconds float64 `json:"overheadSeconds"`
}

// dist is a distribution's summary.
type dist struct {
	N   int     `json:"n"`
	Min float64 `json:"min"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func (d *dirResult) summarize() {
	var ratio, shared, wall, idealS []float64
	tiers := map[string][]float64{}
	for _, s := range d.Samples {
		idealS = append(idealS, s.IdealSeconds)
		if s.Failed != "" {
			continue
		}
		wall = append(wall, s.WallSeconds)
		if s.Shared {
			shared = append(shared, s.Ratio)
			continue
		}
		ratio = append(ratio, s.Ratio)
		for _, t := range s.Tiers {
			if t.WallSeconds >= 0 {
				tiers[t.Condition] = append(tiers[t.Condition], t.OverheadSeconds)
			}
		}
	}
	d.Ratio, d.RatioShared, d.Wall, d.Ideal = stats(ratio), stats(shared), stats(wall), stats(idealS)
	d.TierOverhead = map[string]dist{}
	for k, v := range tiers {
		d.TierOverhead[k] = stats(v)
	}
}

func main() {
	var sizes string
	opt := options{}
	flag.StringVar(&sizes, "sizes", "1000,5000,10000", "host counts, comma-separated")
	flag.IntVar(&opt.per, "per", 250, "hosts per intervention (at most 256)")
	flag.Uint64Var(&opt.seed, "seed", 1, "the simulation's seed")
	flag.DurationVar(&opt.timeout, "timeout", 8*time.Minute, "how long Down and Up of one size may take")
	flag.Float64Var(&opt.qps, "qps", 50, "the operator's API client QPS (the manager's --kube-api-qps default)")
	flag.IntVar(&opt.burst, "burst", 100, "the operator's API client burst (the manager's --kube-api-burst default)")
	flag.DurationVar(&opt.hostWait, "host-wait", controllers.DefaultHostWaitPerPass, "how long a pass waits on a host (the manager's --host-wait-per-pass)")
	flag.StringVar(&opt.out, "out", "docs/benchmarks-sim", "the report's path without .md/.json")
	flag.StringVar(&opt.profiles, "profiles", filepath.Join(os.TempDir(), "benchsim"), "where the CPU and heap profiles go")
	render := flag.Bool("render", false, "only rewrite the .md from the .json (and the profiles), e.g. after editing "+analysisFile)
	flag.Parse()
	if *render {
		b, err := os.ReadFile(opt.out + ".json")
		if err != nil {
			fatalf("%v", err)
		}
		rep := &report{}
		if err := json.Unmarshal(b, rep); err != nil {
			fatalf("%s.json: %v", opt.out, err)
		}
		if err := os.WriteFile(opt.out+".md", []byte(markdown(rep, opt)), 0o644); err != nil {
			fatalf("%v", err)
		}
		return
	}
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatalf("bad size %q", s)
		}
		opt.sizes = append(opt.sizes, n)
	}
	if opt.per < 1 || opt.per > 256 {
		fatalf("-per must be 1 to 256")
	}
	if err := os.MkdirAll(opt.profiles, 0o755); err != nil {
		fatalf("%v", err)
	}
	ctrl.SetLogger(logr.Discard())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	rep := &report{GeneratedAt: time.Now().UTC(), Machine: machine(), Versions: versions(),
		Settings: map[string]string{
			"maxHostsPerIntervention": strconv.Itoa(opt.per), "seed": strconv.FormatUint(opt.seed, 10),
			"componentUptime": componentUptime.String(), "settleDelay": settleDelay.String(), "stopTimeout": stopTimeout.String(), "stepTimeout": stepTimeout.String(),
			"timeoutPerSize": opt.timeout.String(), "clientQPS": fmt.Sprintf("%g, burst %d (the manager's --kube-api-qps/--kube-api-burst defaults are 50 and 100; controller-runtime's are 20 and 30)", opt.qps, opt.burst), "maxConcurrentReconciles": fmt.Sprintf("%d (default)", controllers.DefaultMaxConcurrentReconciles), "hostWaitPerPass": fmt.Sprintf("%s (the manager's --host-wait-per-pass default is %s)", opt.hostWait, controllers.DefaultHostWaitPerPass),
			"model": "RTT lognormal median 40ms p99 300ms per host; handshake 3-5 RTT; session 2 RTT + 5ms; service stop 0.1-1s; agent stop 0-20s (rest of cycle); runsvdir rescan 5s (per-host phase); mysqld start 3-8s, stop 2-5s",
		}}
	for _, n := range opt.sizes {
		logf("%d hosts: Down then Up", n)
		r, err := runSize(ctx, n, opt)
		if err != nil {
			fatalf("%d hosts: %v", n, err)
		}
		for _, d := range r.Directions {
			logf("%d hosts %s: wall %.1fs, wall/ideal p50 %.2f p99 %.2f, status age p99 %.1fs",
				n, d.Direction, d.WallSeconds, d.Ratio.P50, d.Ratio.P99, d.StatusAge.P99)
		}
		logf("%d hosts: cpu %.2f ms/host-tier (operator's part %.2f), %.2f API writes/host", n, r.CPUPerHostTierMs, r.OperatorOnlyCPUPerHostTierMs, r.APIWrites.PerHost)
		for _, f := range r.Failures {
			logf("%d hosts: %s", n, f)
		}
		rep.Sizes = append(rep.Sizes, r)
		if err := write(rep, opt); err != nil {
			fatalf("%v", err)
		}
	}
}

func write(rep *report, opt options) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(opt.out+".json", append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(opt.out+".md", []byte(markdown(rep, opt)), 0o644)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchsim: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

func machine() map[string]string {
	m := map[string]string{"cpus": strconv.Itoa(runtime.NumCPU()), "goos": runtime.GOOS, "goarch": runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m["cpu"] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m["memory"] = strings.Join(strings.Fields(strings.SplitN(string(b), "\n", 2)[0])[1:], " ")
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	return m
}

func versions() map[string]string {
	v := map[string]string{"go": runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "sigs.k8s.io/controller-runtime", "k8s.io/client-go":
				v[d.Path] = d.Version
			}
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				v["operator"] = s.Value
			}
		}
	}
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		if out, err := exec.Command(filepath.Join(assets, "kube-apiserver"), "--version").Output(); err == nil {
			v["kube-apiserver"] = strings.TrimSpace(string(out))
		}
		if out, err := exec.Command(filepath.Join(assets, "etcd"), "--version").Output(); err == nil {
			v["etcd"] = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		}
	}
	return v
}

// tierOrder is the tiers' order for the report.
var tierOrder = []string{"MaintenanceSet", "AgentsStopped", "ServicesStopped", "DatabasesStopped",
	"DatabasesStarted", "FrameworkStarted", "ServicesStarted", "AgentsStarted", "MaintenanceCleared"}

func sortedTiers(m map[string]dist) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(tierOrder, a), slices.Index(tierOrder, b)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(a, b)
	})
	return keys
}
