package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/ssh"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/controllers"
	"github.com/vobox-operator/vobox-operator/internal/remote/sim"
	"github.com/vobox-operator/vobox-operator/internal/testenv"
)

// The interventions' namespace, and the Leases'.
const (
	namespace     = "bench"
	lockNamespace = "vobox-locks"
)

// observed is what the watch saw of one intervention.
type observed struct {
	// updates are the times its object changed (each one a write).
	updates []time.Time
	// trueAt is when each condition was first seen True for a generation.
	trueAt map[int64]map[string]time.Time
	// readyAt is when Ready was first seen True for a generation.
	readyAt map[int64]time.Time
	// stalled is the Stalled message, once seen.
	stalled string
}

// watcher follows every intervention of the namespace.
type watcher struct {
	mu  sync.Mutex
	obs map[string]*observed
}

func (w *watcher) get(name string) *observed {
	o := w.obs[name]
	if o == nil {
		o = &observed{trueAt: map[int64]map[string]time.Time{}, readyAt: map[int64]time.Time{}}
		w.obs[name] = o
	}
	return o
}

func (w *watcher) run(ctx context.Context, c client.WithWatch) {
	for ctx.Err() == nil {
		wi, err := c.Watch(ctx, &diracv1.VOBoxInterventionList{}, client.InNamespace(namespace))
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for ev := range wi.ResultChan() {
			vbi, ok := ev.Object.(*diracv1.VOBoxIntervention)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			now := time.Now()
			w.mu.Lock()
			o := w.get(vbi.Name)
			o.updates = append(o.updates, now)
			gen := vbi.Generation
			if o.trueAt[gen] == nil {
				o.trueAt[gen] = map[string]time.Time{}
			}
			for _, c := range vbi.Status.Conditions {
				if c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen {
					if _, seen := o.trueAt[gen][c.Type]; !seen {
						o.trueAt[gen][c.Type] = now
					}
				}
			}
			if c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.ReadyCondition); c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen {
				if _, seen := o.readyAt[gen]; !seen {
					o.readyAt[gen] = now
				}
			}
			if c := meta.FindStatusCondition(vbi.Status.Conditions, diracv1.StalledCondition); c != nil && c.Status == metav1.ConditionTrue {
				o.stalled = c.Reason + ": " + c.Message
			}
			w.mu.Unlock()
		}
	}
}

// done reports how many of names are Ready at gen or stalled.
func (w *watcher) done(names []string, gen int64) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, name := range names {
		o := w.get(name)
		if _, ok := o.readyAt[gen]; ok || o.stalled != "" {
			n++
		}
	}
	return n
}

// runSize runs Down then Up of n hosts and measures them.
func runSize(ctx context.Context, n int, opt options) (*sizeResult, error) {
	res := &sizeResult{Hosts: n, PerIntervention: opt.per}
	began := time.Now()
	env, err := testenv.Start()
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Stop() }()
	k8s := env.Client
	for _, ns := range []string{namespace, lockNamespace} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, fmt.Errorf("failed to create namespace %s: %w", ns, err)
		}
	}
	if err := createSecret(ctx, k8s); err != nil {
		return nil, err
	}

	model := sim.DefaultModel()
	s := sim.New(sim.Config{Seed: opt.seed, Model: model, Layout: layout,
		MaintenanceSet: maintenanceSet, MaintenanceClear: maintenanceClear})
	groups := topology(n, opt.per)
	seen := map[string]bool{}
	for _, g := range groups {
		for _, h := range g.hosts {
			if !seen[h.name] {
				seen[h.name] = true
				s.AddHost(h.name, h.db, h.comps...)
			}
		}
		if len(g.shared) > 0 {
			res.SharingInterventions++
		}
	}
	res.Interventions = len(groups)

	// The operator: the real reconciler in a manager of its own, its
	// writes counted.
	writes := newWriteCounter()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = float32(opt.qps), opt.burst
	cfg.Wrap(writes.wrap)
	managed := labels.SelectorFromSet(labels.Set{controllers.LeaseManagedByLabel: controllers.LeaseManagedByValue})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{ByObject: map[client.Object]cache.ByObject{&coordinationv1.Lease{}: {Label: managed}}},
		// One manager per size in this process: the controller's name repeats.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("failed to create the manager: %w", err)
	}
	mctx, stopMgr := context.WithCancel(ctx)
	defer stopMgr()
	rec := &controllers.VOBoxInterventionReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Executor: labelledSim{s},
		Recorder: mgr.GetEventRecorder("vobox-operator"), Metrics: controllers.NewMetrics(prometheus.NewRegistry()),
		LockNamespace: lockNamespace, HostWaitPerPass: opt.hostWait,
	}
	if err := rec.SetupWithManager(mctx, mgr); err != nil {
		return nil, fmt.Errorf("failed to set up the controller: %w", err)
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mctx) }()
	if !mgr.GetCache().WaitForCacheSync(mctx) {
		return nil, fmt.Errorf("the manager's cache did not sync")
	}

	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Scheme})
	if err != nil {
		return nil, err
	}
	w := &watcher{obs: map[string]*observed{}}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go inPart(wctx, partBench, func(ctx context.Context) { w.run(ctx, wc) })

	// Memory: sampled from here on, against the base with the hosts built
	// and the manager running.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.RSS.BaseMiB = float64(rssKiB()) / 1024
	baseHeap := ms.HeapInuse
	var peakRSS int64
	var peakHeap uint64
	memDone := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-memDone:
				return
			case <-t.C:
				peakRSS = max(peakRSS, rssKiB())
				runtime.ReadMemStats(&ms)
				peakHeap = max(peakHeap, ms.HeapInuse)
			}
		}
	}()

	prof, err := os.Create(filepath.Join(opt.profiles, fmt.Sprintf("cpu-%d.pprof", n)))
	if err != nil {
		return nil, err
	}
	_ = pprof.StartCPUProfile(prof)

	cpu0, api0 := cpuSelf(), childrenCPU()
	_ = writes.snapshot()
	var runs []*interventionRun
	inPart(ctx, partBench, func(ctx context.Context) { runs = runPipelines(ctx, k8s, groups, w, opt.timeout) })
	res.OperatorCPUSeconds = cpuSelf() - cpu0
	res.APIServerCPUSeconds = map[string]float64{}
	for k, v := range childrenCPU() {
		res.APIServerCPUSeconds[k] = v - api0[k]
	}
	res.APIWrites.ByResource = writes.snapshot()
	for _, g := range groups {
		res.HostTiers += g.plan(diracv1.StateDown).Total() + g.plan(diracv1.StateUp).Total()
	}
	res.CPUPerHostTierMs = res.OperatorCPUSeconds * 1000 / float64(res.HostTiers)
	for d := range 2 {
		res.Directions = append(res.Directions, direction(s, groups, runs, w, d, model))
	}
	for i, r := range runs {
		if r.err != nil {
			res.Failures = append(res.Failures, groups[i].name+": "+r.err.Error())
		}
	}
	pprof.StopCPUProfile()
	_ = prof.Close()
	if shares, err := cpuByPart(prof.Name()); err == nil {
		res.CPUShares = shares
		res.OperatorOnlyCPUPerHostTierMs = res.CPUPerHostTierMs * shares[partOperator]
	} else {
		logf("%d hosts: no CPU split: %v", n, err)
	}
	close(memDone)
	if f, err := os.Create(filepath.Join(opt.profiles, fmt.Sprintf("heap-%d.pprof", n))); err == nil {
		_ = pprof.WriteHeapProfile(f)
		_ = f.Close()
	}
	res.RSS.PeakMiB = float64(peakRSS) / 1024
	res.RSS.PerHostKiB = float64(peakRSS-int64(res.RSS.BaseMiB*1024)) / float64(n)
	if peakHeap > baseHeap {
		res.HeapPerHostKiB = float64(peakHeap-baseHeap) / 1024 / float64(n)
	}
	var writesTotal int
	for _, v := range res.APIWrites.ByResource {
		writesTotal += v
	}
	res.APIWrites.Total = writesTotal
	res.APIWrites.PerHost = float64(writesTotal) / float64(n)

	// BENCHSIM_DUMP=host (or all) prints what ran on the hosts, to see
	// where an intervention's time went.
	if dump := os.Getenv("BENCHSIM_DUMP"); dump != "" {
		for _, h := range s.Hosts() {
			if dump != "all" && dump != h.Name() {
				continue
			}
			for _, a := range h.Applied() {
				fmt.Fprintf(os.Stderr, "%s %s %s %v exit=%d %q\n", a.At.Format("15:04:05.000"), h.Name(), a.Op, a.Links, a.Exit, a.Argv)
			}
		}
	}
	stopWatch()
	stopMgr()
	select {
	case <-mgrDone:
	case <-time.After(30 * time.Second):
	}
	res.ElapsedSeconds = time.Since(began).Seconds()
	return res, nil
}

// interventionRun is one intervention's pipeline: created Down, set Up as
// soon as it is Ready, so that an intervention waiting for another's hosts
// gets them once the other brought them back up.
type interventionRun struct {
	starts, readys [2]time.Time
	gens           [2]int64
	err            error
}

// runPipelines runs every intervention's Down then Up, all started
// together, and waits for them (or the timeout).
func runPipelines(ctx context.Context, k8s client.Client, groups []*group, w *watcher, timeout time.Duration) []*interventionRun {
	runs := make([]*interventionRun, len(groups))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, g := range groups {
		r := &interventionRun{}
		runs[i] = r
		wg.Go(func() {
			for d, state := range []diracv1.State{diracv1.StateDown, diracv1.StateUp} {
				r.starts[d] = time.Now()
				if state == diracv1.StateDown {
					vbi := g.spec(namespace)
					if r.err = k8s.Create(ctx, vbi); r.err != nil {
						return
					}
					r.gens[d] = vbi.Generation
				} else {
					vbi := &diracv1.VOBoxIntervention{}
					if r.err = k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: g.name}, vbi); r.err != nil {
						return
					}
					patch := client.MergeFrom(vbi.DeepCopy())
					vbi.Spec.State = diracv1.StateUp
					if r.err = k8s.Patch(ctx, vbi, patch); r.err != nil {
						return
					}
					r.gens[d] = vbi.Generation
				}
				for w.done([]string{g.name}, r.gens[d]) == 0 {
					if ctx.Err() != nil {
						r.err = fmt.Errorf("%s not Ready after %s", state, timeout)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				w.mu.Lock()
				ready, ok := w.get(g.name).readyAt[r.gens[d]]
				stalled := w.get(g.name).stalled
				w.mu.Unlock()
				if !ok {
					r.err = fmt.Errorf("%s stalled: %s", state, stalled)
					return
				}
				r.readys[d] = ready
			}
		})
	}
	wg.Wait()
	return runs
}

// direction sums up one direction of every intervention.
func direction(s *sim.Sim, groups []*group, runs []*interventionRun, w *watcher, d int, model sim.Model) *dirResult {
	state := []diracv1.State{diracv1.StateDown, diracv1.StateUp}[d]
	res := &dirResult{Direction: string(state)}
	w.mu.Lock()
	defer w.mu.Unlock()
	var ages []float64
	agesByOp := map[string][]float64{}
	var first, last time.Time
	for i, g := range groups {
		r := runs[i]
		if r.starts[d].IsZero() {
			continue
		}
		if first.IsZero() || r.starts[d].Before(first) {
			first = r.starts[d]
		}
		o := w.get(g.name)
		plan := g.plan(state)
		idealS, tiers := ideal(s, g, plan, r.starts[d], model)
		smp := &sample{Name: g.name, Hosts: len(g.hosts), Shared: len(g.shared) > 0, IdealSeconds: idealS}
		ready := r.readys[d]
		if ready.IsZero() {
			smp.Failed = "not done"
			if r.err != nil {
				smp.Failed = r.err.Error()
			}
		} else {
			smp.WallSeconds = ready.Sub(r.starts[d]).Seconds()
			smp.Ratio = smp.WallSeconds / idealS
			if ready.After(last) {
				last = ready
			}
		}
		prev := r.starts[d]
		for _, t := range tiers {
			ts := tierSample{Condition: t.condition, IdealSeconds: t.seconds, WallSeconds: -1}
			if at, ok := o.trueAt[r.gens[d]][t.condition]; ok {
				ts.WallSeconds = at.Sub(prev).Seconds()
				ts.OverheadSeconds = ts.WallSeconds - t.seconds
				prev = at
			}
			smp.Tiers = append(smp.Tiers, ts)
		}
		res.Samples = append(res.Samples, smp)
		if ready.IsZero() {
			continue
		}
		// Status age: for each operation on a host of this intervention
		// alone, how long until its object next changed.
		for _, h := range g.hosts {
			if g.shared[h.name] {
				continue
			}
			for _, a := range s.Host(h.name).Applied() {
				if a.Op == "Probe" || a.At.Before(r.starts[d]) || a.At.After(ready) {
					continue
				}
				j := sort.Search(len(o.updates), func(j int) bool { return !o.updates[j].Before(a.At) })
				if j < len(o.updates) {
					age := o.updates[j].Sub(a.At).Seconds()
					ages = append(ages, age)
					agesByOp[string(a.Op)] = append(agesByOp[string(a.Op)], age)
				}
			}
		}
	}
	if !last.IsZero() {
		res.WallSeconds = last.Sub(first).Seconds()
	}
	res.StatusAge = stats(ages)
	res.StatusAgeByOp = map[string]dist{}
	for op, v := range agesByOp {
		res.StatusAgeByOp[op] = stats(v)
	}
	res.summarize()
	return res
}

func first(s []string, n int) []string { return s[:min(len(s), n)] }

// createSecret creates the SSH Secret: a key, and a known_hosts line that
// matches every host (the simulator verifies nothing).
func createSecret(ctx context.Context, k8s client.Client) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return err
	}
	hostPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	pub, err := ssh.NewPublicKey(hostPub)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "ssh", Labels: map[string]string{"dirac.vobox.io/ssh-key": "true"}},
		Type:       corev1.SecretTypeSSHAuth,
		Data: map[string][]byte{
			corev1.SSHAuthPrivateKey: pem.EncodeToMemory(block),
			"known_hosts":            []byte("* " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + "\n"),
		},
	}
	if err := k8s.Create(ctx, secret); err != nil {
		return fmt.Errorf("failed to create the Secret: %w", err)
	}
	return nil
}

// quantile of sorted values (nearest rank).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func stats(v []float64) dist {
	if len(v) == 0 {
		return dist{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return dist{N: len(s), Min: s[0], P50: quantile(s, 0.5), P99: quantile(s, 0.99), Max: s[len(s)-1]}
}
