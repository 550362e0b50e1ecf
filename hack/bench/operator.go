package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// apiServer is the envtest control plane shared by every operator run.
type apiServer struct {
	env        *envtest.Environment
	kubeconfig string
	k8s        client.WithWatch
}

func startAPIServer(dir string) (*apiServer, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make bench`, which builds the control plane")
	}
	root, _ := os.Getwd()
	a := &apiServer{env: &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}}
	cfg, err := a.env.Start()
	if err != nil {
		return nil, fmt.Errorf("failed to start the API server: %w", err)
	}
	user, err := a.env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, err
	}
	a.kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(a.kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = diracv1.AddToScheme(s)
	cfg.QPS, cfg.Burst = 1000, 1000
	a.k8s, err = client.NewWithWatch(cfg, client.Options{Scheme: s})
	return a, err
}

func (a *apiServer) stop() {
	if a != nil && a.env != nil {
		_ = a.env.Stop()
	}
}

// operatorProc is one operator process, started fresh for each run so that
// its peak RSS and CPU time are that run's.
type operatorProc struct {
	cmd     *exec.Cmd
	log     string
	metrics string
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startOperator(ctx context.Context, bin, kubeconfig, logPath, pprofAddr string) (*operatorProc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mport, hport := freePort(), freePort()
	args := []string{"--zap-time-encoding=rfc3339nano",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", mport), "--metrics-secure=false",
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", hport),
		"--lock-namespace=default"} // outside a cluster there is no pod namespace
	if pprofAddr != "" {
		args = append(args, "--pprof-bind-address="+pprofAddr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start the operator: %w", err)
	}
	p := &operatorProc{cmd: cmd, log: logPath, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport)}
	// Ready once its controller's workers run (the caches are synced).
	deadline := time.Now().Add(60 * time.Second)
	for {
		raw, _ := os.ReadFile(logPath)
		if strings.Contains(string(raw), "Starting workers") {
			return p, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, fmt.Errorf("the operator did not start its workers: %s", tailString(string(raw), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *operatorProc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// usage is the operator's CPU time so far (user+system) and its peak RSS.
func (p *operatorProc) usage() (cpu time.Duration, hwm uint64) {
	pid := p.cmd.Process.Pid
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseUint(f[11], 10, 64)
		st, _ := strconv.ParseUint(f[12], 10, 64)
		cpu = time.Duration(ut+st) * time.Second / 100 // USER_HZ
	}
	if raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				hwm = kb * 1024
			}
		}
	}
	return cpu, hwm
}

// resetPeak sets the peak RSS back to the current RSS (Linux >= 4.0).
func (p *operatorProc) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0)
}

// counters are what the bench reads of the operator's metrics.
type counters struct {
	// status are its status patches, writes all its API writes.
	status, writes float64
	// sessions are its SSH sessions (vobox_ssh_commands_total, every outcome).
	sessions float64
}

// scrape reads the operator's counters.
func (p *operatorProc) scrape() counters {
	c := counters{status: -1, writes: -1, sessions: -1}
	resp, err := http.Get(p.metrics)
	if err != nil {
		return c
	}
	c = counters{}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(line, "vobox_status_writes_total"):
			c.status = v
		case strings.HasPrefix(line, "vobox_ssh_commands_total"):
			c.sessions += v
		case strings.HasPrefix(line, "rest_client_requests_total{"):
			for _, m := range []string{`method="POST"`, `method="PUT"`, `method="PATCH"`, `method="DELETE"`} {
				if strings.Contains(line, m) {
					c.writes += v
				}
			}
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return c
}

// operatorContender runs the operator: a fresh process per run, a new
// intervention per run from the lab's intervention.yaml with settleDelay 0s
// and componentUptime 1s.
type operatorContender struct {
	b *bench
}

func (o *operatorContender) name() string { return "operator" }

func (o *operatorContender) run(ctx context.Context, l *benchLab, runID string) (*runResult, error) {
	b := o.b
	if err := applySecret(ctx, b.api.k8s, l); err != nil {
		return nil, err
	}
	proc, err := startOperator(ctx, b.manager, b.api.kubeconfig, filepath.Join(b.dir, "operator-"+runID+".log"), b.pprof)
	if err != nil {
		return nil, err
	}
	defer proc.stop()
	obj, err := interventionFor(l, "bench-"+runID)
	if err != nil {
		return nil, err
	}
	res := &runResult{}
	key := types.NamespacedName{Namespace: "default", Name: obj.GetName()}
	// Delete it while the operator still runs (defers run last-in first-out),
	// so that its finalizer goes and the hosts' Leases are free for the next run.
	defer func() {
		if err := b.api.k8s.Delete(context.Background(), obj); err != nil {
			return
		}
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if err := b.api.k8s.Get(context.Background(), key, &diracv1.VOBoxIntervention{}); apierrors.IsNotFound(err) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for _, dir := range []string{dirDown, dirUp} {
		if dir == dirUp {
			rb, err := l.reboot(ctx)
			if err != nil {
				return res, err
			}
			res.Reboot = rb.Seconds()
		}
		watch, err := newTouchWatch(l)
		if err != nil {
			return res, err
		}
		cpu0, _ := proc.usage()
		proc.resetPeak()
		c0 := proc.scrape()
		start := time.Now()
		if dir == dirDown {
			err = b.api.k8s.Create(ctx, obj)
		} else {
			err = b.api.k8s.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"state":"Up"}}`)))
		}
		if err != nil {
			watch.result()
			return res, fmt.Errorf("failed to apply %s: %w", dir, err)
		}
		applied := time.Now()
		end, err := waitReady(ctx, b.api.k8s, key, obj.GetGeneration(), b.timeout)
		touch, host := watch.result()
		if err != nil {
			return res, fmt.Errorf("%s: %w (operator log: %s)", dir, err, proc.log)
		}
		cpu1, hwm := proc.usage()
		c1 := proc.scrape()
		d := &directionResult{Wall: end.Sub(start).Seconds(), Start: start, End: end,
			OperatorCPU: (cpu1 - cpu0).Seconds(), OperatorPeakRSSMiB: float64(hwm) / (1 << 20),
			StatusWrites: c1.status - c0.status, APIWrites: c1.writes - c0.writes, Sessions: c1.sessions - c0.sessions,
			ApplySeconds: applied.Sub(start).Seconds()}
		if !touch.IsZero() {
			d.FirstCommandMs = touch.Sub(start).Seconds() * 1000
			d.FirstCommandHost = host
		}
		res.set(dir, d)
	}
	return res, nil
}

// applySecret creates or updates the lab's SSH Secret.
func applySecret(ctx context.Context, k8s client.Client, l *benchLab) error {
	raw, err := os.ReadFile(l.Files.Secret)
	if err != nil {
		return err
	}
	s := &corev1.Secret{}
	if err := yaml.Unmarshal(raw, s); err != nil {
		return err
	}
	s.Namespace = "default"
	cur := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(s), cur); err == nil {
		cur.Data = s.Data
		return k8s.Update(ctx, cur)
	}
	return k8s.Create(ctx, s)
}

// interventionFor is the lab's intervention under a new name, with
// settleDelay 0s and componentUptime 1s written out: Go's typed specs would
// drop a zero duration (omitzero) and let the API default it to 60s.
func interventionFor(l *benchLab, name string) (*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(l.Files.Intervention)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetName(name)
	u.SetNamespace("default")
	if err := unstructured.SetNestedMap(u.Object, map[string]any{"settleDelay": "0s", "componentUptime": uptime.String()}, "spec", "checks"); err != nil {
		return nil, err
	}
	return u, nil
}

// waitReady watches the intervention until it observed its generation and
// is Ready; it returns when the watch delivered that state.
func waitReady(ctx context.Context, k8s client.WithWatch, key types.NamespacedName, _ int64, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cur := &diracv1.VOBoxIntervention{}
	if err := k8s.Get(ctx, key, cur); err != nil {
		return time.Time{}, err
	}
	gen := cur.Generation
	check := func(v *diracv1.VOBoxIntervention) (bool, error) {
		if v.Generation != gen || v.Status.ObservedGeneration != gen {
			return false, nil
		}
		if c := meta.FindStatusCondition(v.Status.Conditions, diracv1.ReadyCondition); c != nil && c.Status == metav1.ConditionTrue {
			return true, nil
		}
		if c := meta.FindStatusCondition(v.Status.Conditions, diracv1.StalledCondition); c != nil && c.Status == metav1.ConditionTrue {
			return false, fmt.Errorf("stalled: %s", c.Message)
		}
		return false, nil
	}
	if ok, err := check(cur); ok || err != nil {
		return time.Now(), err
	}
	w, err := k8s.Watch(ctx, &diracv1.VOBoxInterventionList{}, client.InNamespace(key.Namespace),
		client.MatchingFields{"metadata.name": key.Name}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: cur.ResourceVersion}})
	if err != nil {
		return time.Time{}, err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("not Ready after %s", timeout)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return waitReady(ctx, k8s, key, gen, timeout)
			}
			v, isV := ev.Object.(*diracv1.VOBoxIntervention)
			if !isV {
				continue
			}
			if ok, err := check(v); ok || err != nil {
				return time.Now(), err
			}
		}
	}
}
