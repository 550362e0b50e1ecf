// Command bench is `make bench`: the operator against Ansible and pdsh on the
// same lab, and against the physical limit and the SSH floor.
//
// For each size (11 hosts: the seed topology; 50; 200) it brings up a lab of
// simulated VOBoxes (hack/lab) and, --runs times, runs every contender in
// turn (the order rotates from run to run): Down, lab reboot --all, Up. The
// contenders are the operator (its own process against a real API server),
// Ansible (hack/bench/ansible), pdsh (hack/bench/pdsh.sh) and the SSH floor
// (the project's executor with no controller). Between two contenders the
// lab is brought back to rest (every component up, maintenance cleared).
// It writes medians and every sample to docs/benchmarks.json and the table
// into docs/benchmarks.md, between the bench markers.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/vobox-operator/vobox-operator/internal/remote"
)

// uptime is componentUptime for every contender that checks it.
const uptime = time.Second

type bench struct {
	dir, manager, labBin string
	pprof                string
	timeout              time.Duration
	api                  *apiServer
}

func main() {
	b := &bench{}
	runs := flag.Int("runs", 3, "Runs of every contender per size (medians are quoted).")
	sizes := flag.String("sizes", "11,50,200", "Lab sizes: 11 is the seed topology, others --hosts N.")
	only := flag.String("contenders", "operator,ansible,pdsh,floor", "Contenders to run.")
	net := flag.Int("net", 60, "First loopback prefix: size i uses 127.(net+i).")
	flag.StringVar(&b.dir, "dir", ".bench", "Folder for the benchmark's state and logs.")
	flag.StringVar(&b.manager, "manager", "bin/manager", "The operator binary.")
	flag.StringVar(&b.labBin, "lab", "bin/lab", "The lab binary.")
	flag.StringVar(&b.pprof, "pprof", "", "Have the operator serve pprof on this address (e.g. 127.0.0.1:6060).")
	flag.DurationVar(&b.timeout, "timeout", 15*time.Minute, "Give up on one direction of one run after this long.")
	flag.StringVar(&ansibleModule, "ansible-module", "raw", "Module of the Ansible tasks: raw (the scripts through the login shell, no Python on the hosts: the fastest), or shell (as the playbooks are written).")
	out := flag.String("json", "docs/benchmarks.json", "JSON results.")
	md := flag.String("md", "docs/benchmarks.md", "Markdown report (the table between the bench markers is replaced).")
	flag.Parse()

	ctrllog.SetLogger(logr.Discard()) // the floor's executor logs through controller-runtime
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fatalf("bad --sizes %q", *sizes)
		}
		ns = append(ns, n)
	}
	rep, err := b.run(ctx, ns, *runs, strings.Split(*only, ","), *net)
	if rep != nil {
		if werr := rep.write(*out, *md); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
		}
		rep.print(os.Stdout)
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Printf("%s bench: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (b *bench) run(ctx context.Context, sizes []int, runs int, names []string, net int) (*report, error) {
	var err error
	if b.dir, err = filepath.Abs(b.dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, err
	}
	all := map[string]contender{
		"operator": &operatorContender{b}, "ansible": &ansibleContender{b},
		"pdsh": &pdshContender{b}, "floor": &floorContender{b},
	}
	var cs []contender
	for _, n := range names {
		c, ok := all[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("unknown contender %q", n)
		}
		cs = append(cs, c)
	}
	if slices.ContainsFunc(cs, func(c contender) bool { return c.name() == "operator" }) {
		logf("starting the API server")
		if b.api, err = startAPIServer(b.dir); err != nil {
			return nil, err
		}
		defer b.api.stop()
	}
	rep := newReport(runs)
	for i, n := range sizes {
		if err := b.runSize(ctx, rep, n, i, runs, cs, net); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (b *bench) runSize(ctx context.Context, rep *report, n, i, runs int, cs []contender, net int) error {
	labNet := fmt.Sprintf("127.%d", net+i)
	logf("lab up: %d hosts on %s", n, labNet)
	l, err := upLab(ctx, b.labBin, filepath.Join(b.dir, fmt.Sprintf("lab%d", n)), labNet, n)
	if err != nil {
		return err
	}
	defer func() {
		if err := l.down(); err != nil {
			logf("lab down: %v", err)
		}
	}()
	sz := rep.size(n)
	for r := 0; r < runs; r++ {
		for k := range cs {
			c := cs[(k+r)%len(cs)]
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := l.waitSteady(ctx, 5*time.Minute); err != nil {
				return err
			}
			runID := fmt.Sprintf("%d-%d-%s", n, r+1, c.name())
			logf("run %s", runID)
			res, err := c.run(ctx, l, runID)
			if err != nil {
				logf("run %s failed: %v", runID, err)
				sz.Failures = append(sz.Failures, fmt.Sprintf("%s: %v", runID, err))
				if err := b.reset(ctx, l); err != nil {
					return err
				}
				continue
			}
			// The limit needs the hosts' last events (pdsh does not wait
			// for the components it restores): read them at rest.
			if err := l.waitSteady(ctx, 5*time.Minute); err != nil {
				return err
			}
			ev, err := l.events()
			if err != nil {
				return err
			}
			for _, d := range []string{dirDown, dirUp} {
				dr := res.get(d)
				to := dr.End
				if c.name() == "pdsh" || c.name() == "floor" {
					to = time.Now()
				}
				dr.Limit, dr.LimitTiers = l.limitOf(d, ev, dr.Start, to, uptime)
				if dr.FirstCommandMs == 0 && c.name() == "operator" {
					if t, h := firstEvent(ev, dr.Start, dr.End); !t.IsZero() {
						dr.FirstCommandMs, dr.FirstCommandHost = t.Sub(dr.Start).Seconds()*1000, h
					}
				}
				logf("  %s %-5s wall %6.2fs limit %6.2fs", runID, d, dr.Wall, dr.Limit)
			}
			sz.add(c.name(), res)
			rep.finish()
			if err := rep.write(filepath.Join(b.dir, "partial.json"), ""); err != nil {
				logf("%v", err)
			}
		}
	}
	return nil
}

// reset brings a lab back after a failed run: start the databases, restore
// every parked link, clear maintenance (the floor's Up commands), then wait.
func (b *bench) reset(ctx context.Context, l *benchLab) error {
	logf("resetting the lab after a failure")
	creds, err := labCredentials(l)
	if err != nil {
		return err
	}
	ex := remote.NewSSHExecutor(remote.Options{})
	defer ex.Close()
	if err := runTiersWith(ctx, l, dirUp, ex, creds); err != nil {
		logf("reset: %v", err)
	}
	return l.waitSteady(ctx, 5*time.Minute)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
