// Command demo is `make demo`: a real API server (envtest's kube-apiserver
// and etcd, built from source), the seed lab of 11 simulated VOBoxes, the
// operator as its own process, and the whole power stop — Down, reboot, Up —
// with live progress and a summary. It exits non-zero if anything failed and
// cleans up after itself (also on Ctrl-C) unless -keep is given.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/hack/lab/labstatus"
)

type demo struct {
	dir, manager, labBin, net string
	keep                      bool
	// cycle runs a rolling kernel-patch cycle instead of the power stop.
	cycle      bool
	kubeconfig string
	env        *envtest.Environment
	k8s        client.Client
	operator   *exec.Cmd
	lab        *labstatus.Lab
	failures   []string
	out        io.Writer
}

func main() {
	d := &demo{out: os.Stdout}
	flag.StringVar(&d.dir, "dir", ".demo", "Folder for the demo's state (kubeconfig, lab, logs).")
	flag.StringVar(&d.manager, "manager", "bin/manager", "The operator binary.")
	flag.StringVar(&d.labBin, "lab", "bin/lab", "The lab binary.")
	flag.StringVar(&d.net, "net", "127.77", "Loopback prefix of the lab's hosts.")
	flag.BoolVar(&d.keep, "keep", false, "Leave the API server, the operator and the lab running.")
	flag.BoolVar(&d.cycle, "cycle", false, "Show a rolling kernel-patch cycle (spec.cycle, spec.reboot, strategy.rolling) instead of the power stop.")
	timeout := flag.Duration("timeout", 15*time.Minute, "Give up after this long.")
	down := flag.Bool("down", false, "Stop a demo left running with -keep, and remove its folder.")
	flag.Parse()
	if *down {
		if err := d.stopKept(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	err := d.run(ctx)
	if err != nil {
		d.failures = append(d.failures, err.Error())
	}
	if !d.keep || err != nil {
		d.cleanup()
	} else {
		d.printKeep()
	}
	if len(d.failures) > 0 {
		fmt.Fprintf(d.out, "\nDEMO FAILED:\n  - %s\n", strings.Join(d.failures, "\n  - "))
		os.Exit(1)
	}
	if d.cycle {
		fmt.Fprintln(d.out, "\nDemo passed: a rolling Down → reboot → Up of every host, every check green.")
		return
	}
	fmt.Fprintln(d.out, "\nDemo passed: Down → reboot → Up, every check green.")
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "==> "+format+"\n", args...)
}

func (d *demo) run(ctx context.Context) error {
	var err error
	if d.dir, err = filepath.Abs(d.dir); err != nil {
		return err
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: run `make demo`, which builds the control plane")
	}
	_ = exec.Command(d.labBin, "--dir", filepath.Join(d.dir, "lab"), "down").Run() // a previous run's leftovers
	if kept, err := readPIDFile(d.dir); err == nil && len(kept) > 0 {
		if err := d.stopper().stop(kept); err != nil {
			return fmt.Errorf("failed to stop the demo kept in %s: %w", d.dir, err)
		}
	}
	_ = os.RemoveAll(d.dir)
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}

	d.say("Starting a local API server (kube-apiserver and etcd from %s)", os.Getenv("KUBEBUILDER_ASSETS"))
	if err := d.startAPIServer(); err != nil {
		return err
	}
	d.say("Bringing up the seed lab: 11 VOBoxes with sshd, runit and MariaDB on %s.0.0/16", d.net)
	if err := d.runLab(ctx, "up", "--topology", "seed", "--net", d.net); err != nil {
		return err
	}
	if err := d.loadLab(); err != nil {
		return err
	}
	d.say("Starting the operator (log: %s)", filepath.Join(d.dir, "operator.log"))
	if err := d.startOperator(); err != nil {
		return err
	}
	if err := d.recordPIDs(); err != nil {
		return err
	}
	before, err := d.labStatus(ctx)
	if err != nil {
		return err
	}
	if d.cycle {
		return d.runCycle(ctx, before) // cycle.go
	}
	manifest, err := d.writeIntervention()
	if err != nil {
		return err
	}
	d.say("kubectl apply -f secret.yaml -f intervention.yaml   (state: Down)")
	if err := d.kubectl(ctx, "apply", "-f", d.lab.Files.Secret, "-f", manifest); err != nil {
		return err
	}
	down, err := d.follow(ctx, "power-stop")
	if err != nil {
		return err
	}
	d.checkDown(ctx, before)

	d.say("Power stop: rebooting every host (lab reboot --all)")
	if err := d.runLab(ctx, "reboot", "--all"); err != nil {
		return err
	}
	d.say("kubectl patch vbi power-stop --type=merge -p '{\"spec\":{\"state\":\"Up\"}}'")
	if err := d.kubectl(ctx, "patch", "vbi", "power-stop", "--type=merge", "-p", `{"spec":{"state":"Up"}}`); err != nil {
		return err
	}
	up, err := d.follow(ctx, "power-stop")
	if err != nil {
		return err
	}
	d.checkUp(ctx, before)
	d.summary(down, up)
	return nil
}

func (d *demo) startAPIServer() error {
	root, _ := os.Getwd()
	d.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	// Known folders, so that `make demo-down` finds a kept control plane.
	d.env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(d.dir, "etcd")}
	d.env.ControlPlane.APIServer = &envtest.APIServer{CertDir: filepath.Join(d.dir, "apiserver")}
	for _, p := range []string{d.env.ControlPlane.Etcd.DataDir, d.env.ControlPlane.APIServer.CertDir} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	cfg, err := d.env.Start()
	if err != nil {
		return fmt.Errorf("failed to start the API server: %w", err)
	}
	user, err := d.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("failed to add the demo user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return err
	}
	d.kubeconfig = filepath.Join(d.dir, "kubeconfig")
	if err := os.WriteFile(d.kubeconfig, kc, 0o600); err != nil {
		return err
	}
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = diracv1.AddToScheme(s)
	d.k8s, err = client.New(cfg, client.Options{Scheme: s})
	return err
}

func (d *demo) startOperator() error {
	f, err := os.Create(filepath.Join(d.dir, "operator.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(d.manager, "--zap-time-encoding=rfc3339nano", "--metrics-bind-address=127.0.0.1:18080", "--metrics-secure=false", "--health-probe-bind-address=127.0.0.1:18081",
		// The machines' Leases: outside a cluster there is no pod namespace.
		"--lock-namespace=default")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+d.kubeconfig)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches us, and we stop it in order
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start the operator: %w", err)
	}
	d.operator = cmd
	return nil
}

// recordPIDs writes the processes a kept demo leaves running, in the order
// demo-down stops them: the operator, the API server, then etcd. envtest
// keeps the control plane's PIDs to itself; they are this process's
// children, found by their executables.
func (d *demo) recordPIDs() error {
	op, err := newKeptProcess("operator", d.operator.Process.Pid)
	if err != nil {
		return err
	}
	procs := []keptProcess{op}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		p, err := childNamed(name)
		if err != nil {
			return fmt.Errorf("failed to find the control plane's %s: %w", name, err)
		}
		procs = append(procs, p)
	}
	return writePIDFile(d.dir, procs)
}

// stopper stops kept processes: 15s to exit after SIGTERM, then SIGKILL.
func (d *demo) stopper() stopper {
	return stopper{grace: 15 * time.Second, poll: 100 * time.Millisecond, say: d.say}
}

// writeIntervention adapts the lab's intervention for a short demo: short
// settle and uptime checks, one excluded agent.
func (d *demo) writeIntervention() (string, error) {
	raw, err := os.ReadFile(d.lab.Files.Intervention)
	if err != nil {
		return "", err
	}
	vbi := &diracv1.VOBoxIntervention{}
	if err := yaml.Unmarshal(raw, vbi); err != nil {
		return "", fmt.Errorf("failed to read the lab's intervention: %w", err)
	}
	vbi.Spec.Checks.SettleDelay = metav1.Duration{Duration: 5 * time.Second}
	vbi.Spec.Checks.ComponentUptime = metav1.Duration{Duration: 3 * time.Second}
	out, err := yaml.Marshal(vbi)
	if err != nil {
		return "", err
	}
	path := filepath.Join(d.dir, "intervention.yaml")
	return path, os.WriteFile(path, out, 0o644)
}

// follow shows `kubectl get vbi -w` and the tiers as they progress, until the
// intervention observed its generation and is Ready (or stalls).
func (d *demo) follow(ctx context.Context, name string) (*diracv1.VOBoxIntervention, error) {
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch := exec.CommandContext(watchCtx, "kubectl", "get", "vbi", name, "-w", "--output-watch-events=false")
	watch.Env = append(os.Environ(), "KUBECONFIG="+d.kubeconfig)
	watch.Stdout = &lineWriter{w: d.out, prefix: "    kubectl get vbi -w | "}
	_ = watch.Start()
	defer func() { stopWatch(); _ = watch.Wait() }()

	start := time.Now()
	seen, phases := map[string]string{}, map[string]string{}
	for {
		v := &diracv1.VOBoxIntervention{}
		if err := d.k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: name}, v); err != nil {
			return nil, err
		}
		for _, t := range v.Status.Tiers {
			if v.Status.ObservedGeneration != v.Generation {
				break // still the previous state's tiers
			}
			line := fmt.Sprintf("%s %d/%d", t.State, t.Done, len(t.Hosts))
			if seen[t.Name] != line && t.State != diracv1.TierPending {
				seen[t.Name] = line
				fmt.Fprintf(d.out, "    [%5.1fs] %-18s %-9s %d/%d hosts %s\n", time.Since(start).Seconds(), t.Name, t.State, t.Done, len(t.Hosts), hostsLine(v, t))
			}
		}
		if d.cycle && v.Status.ObservedGeneration == v.Generation {
			for _, line := range hostPhases(v, phases, start) {
				fmt.Fprintln(d.out, line)
			}
		}
		ready := meta.FindStatusCondition(v.Status.Conditions, diracv1.ReadyCondition)
		stalled := meta.FindStatusCondition(v.Status.Conditions, diracv1.StalledCondition)
		if v.Status.ObservedGeneration == v.Generation {
			if ready != nil && ready.Status == metav1.ConditionTrue {
				d.say("%s is %s (Ready) after %.1fs", name, v.Spec.State, time.Since(start).Seconds())
				return v, nil
			}
			if stalled != nil && stalled.Status == metav1.ConditionTrue {
				return v, fmt.Errorf("intervention stalled: %s", stalled.Message)
			}
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("gave up waiting for %s to be Ready: %w", name, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func hostsLine(v *diracv1.VOBoxIntervention, t diracv1.TierStatus) string {
	var parts []string
	for _, h := range t.Hosts {
		for _, hs := range v.Status.Hosts {
			if hs.Name == h {
				mark := "…"
				switch {
				case slices.Contains(hs.CompletedTiers, t.Name):
					mark = "✓"
				case hs.Phase == diracv1.HostFailed:
					mark = "✗"
				}
				parts = append(parts, h+mark)
			}
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// checkDown verifies the hosts' real state after Down.
func (d *demo) checkDown(ctx context.Context, before *labstatus.Status) {
	st, err := d.labStatus(ctx)
	if err != nil {
		d.fail("lab status: %v", err)
		return
	}
	for _, h := range st.Hosts {
		for _, c := range h.Components {
			if c.State == labstatus.StateRun {
				d.fail("after Down, %s/%s still runs", h.Name, c.Name)
			}
		}
		orig, _ := before.Host(h.Name)
		for link, target := range orig.Startup {
			if h.StartupSave[link] != target || h.Startup[link] != "" {
				d.fail("after Down, %s: link %s not parked in startup-save", h.Name, link)
			}
		}
		if h.MySQLD.Running {
			d.fail("after Down, mysqld still runs on %s", h.Name)
		}
		if h.Maintenance != labstatus.MaintenanceSet {
			d.fail("after Down, %s is not in maintenance", h.Name)
		}
	}
	d.say("Checked on the hosts: every component down, every link parked, every mysqld stopped, maintenance set")
}

// checkUp verifies the hosts' real state after Up.
func (d *demo) checkUp(ctx context.Context, before *labstatus.Status) {
	st, err := d.labStatus(ctx)
	if err != nil {
		d.fail("lab status: %v", err)
		return
	}
	for _, h := range st.Hosts {
		orig, _ := before.Host(h.Name)
		if !maps.Equal(orig.Startup, h.Startup) {
			d.fail("after Up, %s: startup links %v, want %v", h.Name, h.Startup, orig.Startup)
		}
		for _, c := range h.Components {
			if c.State != labstatus.StateRun {
				d.fail("after Up, %s/%s is %s", h.Name, c.Name, c.State)
			}
		}
		if h.MySQLD.Present && !h.MySQLD.Running {
			d.fail("after Up, mysqld does not run on %s", h.Name)
		}
		if h.Maintenance != labstatus.MaintenanceClear {
			d.fail("after Up, %s is still in maintenance", h.Name)
		}
	}
	d.say("Checked on the hosts: every link back, every component and mysqld running, maintenance cleared")
}

func (d *demo) summary(down, up *diracv1.VOBoxIntervention) {
	fmt.Fprintln(d.out, "\nSummary")
	w := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "STATE\tTIER\tHOSTS\tRESULT\tDURATION")
	for _, v := range []*diracv1.VOBoxIntervention{down, up} {
		for _, t := range v.Status.Tiers {
			dur := "-"
			if t.StartedAt != nil && t.FinishedAt != nil {
				dur = t.FinishedAt.Sub(t.StartedAt.Time).Round(100 * time.Millisecond).String()
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", v.Status.ObservedState, t.Name, len(t.Hosts), t.State, dur)
		}
		if v.Status.StartedAt != nil && v.Status.CompletedAt != nil {
			fmt.Fprintf(w, "%s\t(total)\t%d\t%s\t%s\n", v.Status.ObservedState, len(v.Spec.Hosts), v.Status.Phase,
				v.Status.CompletedAt.Sub(v.Status.StartedAt.Time).Round(100*time.Millisecond))
		}
	}
	_ = w.Flush()
	fmt.Fprintln(d.out)
	w = tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "HOST\tPHASE\tPARKED+RESTORED\tEXCLUDED\tKILLED\tLAST STEP")
	for _, hs := range up.Status.Hosts {
		last := "-"
		if hs.LastStep != nil {
			last = hs.LastStep.Name
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\n", hs.Name, hs.Phase, len(hs.SavedComponents), len(hs.ExcludedComponents), len(hs.KilledComponents), last)
	}
	_ = w.Flush()
}

func (d *demo) fail(format string, args ...any) {
	d.failures = append(d.failures, fmt.Sprintf(format, args...))
}

func (d *demo) labStatus(ctx context.Context) (*labstatus.Status, error) {
	out, err := exec.CommandContext(ctx, d.labBin, "--dir", filepath.Join(d.dir, "lab"), "status", "--json").Output()
	if err != nil {
		return nil, fmt.Errorf("lab status: %w", err)
	}
	st := &labstatus.Status{}
	return st, json.Unmarshal(out, st)
}

func (d *demo) loadLab() error {
	raw, err := os.ReadFile(filepath.Join(d.dir, "lab", "lab.json"))
	if err != nil {
		return err
	}
	d.lab = &labstatus.Lab{}
	return json.Unmarshal(raw, d.lab)
}

func (d *demo) runLab(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, d.labBin, append([]string{"--dir", filepath.Join(d.dir, "lab")}, args...)...)
	cmd.Stdout, cmd.Stderr = prefixWriter{d.out, "    lab | "}, prefixWriter{d.out, "    lab | "}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func (d *demo) kubectl(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+d.kubeconfig)
	cmd.Stdout, cmd.Stderr = prefixWriter{d.out, "    "}, prefixWriter{d.out, "    "}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// cleanup stops everything the demo started, in reverse order.
func (d *demo) cleanup() {
	d.say("Cleaning up")
	if d.operator != nil && d.operator.Process != nil {
		_ = d.operator.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = d.operator.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.operator.Process.Kill()
		}
	}
	if out, err := exec.Command(d.labBin, "--dir", filepath.Join(d.dir, "lab"), "down").CombinedOutput(); err != nil {
		d.fail("lab down: %v: %s", err, out)
	}
	if d.env != nil {
		if err := d.env.Stop(); err != nil {
			d.fail("stopping the API server: %v", err)
		}
	}
}

func (d *demo) printKeep() {
	fmt.Fprintf(d.out, `
The demo is still running (KEEP=1). Try:

  export KUBECONFIG=%s
  kubectl get vbi -o wide
  kubectl describe vbi power-stop
  kubectl get vbi power-stop -o jsonpath='{.status.tiers}' | python3 -m json.tool
  kubectl patch vbi power-stop --type=merge -p '{"spec":{"state":"Down"}}' && kubectl get vbi -w
  curl -s 127.0.0.1:18080/metrics | grep ^vobox_
  go run ./hack/lab --dir %s status

Stop everything with: make demo-down
`, d.kubeconfig, filepath.Join(d.dir, "lab"))
}

// stopKept stops a demo left running by -keep: the operator, the lab, then
// the API server and etcd, each from the PID the demo recorded and each
// gone before the next is signalled.
func (d *demo) stopKept() error {
	dir, err := filepath.Abs(d.dir)
	if err != nil {
		return err
	}
	procs, err := readPIDFile(dir)
	if err != nil {
		return err
	}
	if len(procs) == 0 {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			d.say("No demo kept in %s", dir)
			return nil
		}
		d.say("%s has no %s: no process to stop", dir, pidFileName)
	}
	var operator, controlPlane []keptProcess
	for _, p := range procs {
		if p.Name == "operator" {
			operator = append(operator, p)
		} else {
			controlPlane = append(controlPlane, p)
		}
	}
	s := d.stopper()
	var errs []error
	if err := s.stop(operator); err != nil {
		errs = append(errs, err)
	}
	if out, err := exec.Command(d.labBin, "--dir", filepath.Join(dir, "lab"), "down").CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("lab down: %w: %s", err, out))
	}
	if err := s.stop(controlPlane); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return os.RemoveAll(dir)
}

// lineWriter prefixes whole lines of a stream written in pieces.
type lineWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := slices.Index(l.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := io.WriteString(l.w, l.prefix+string(l.buf[:i+1])); err != nil {
			return 0, err
		}
		l.buf = l.buf[i+1:]
	}
}

type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(p.w, p.prefix+line); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}
