// Command manager runs the vobox-operator: the VOBoxIntervention controller
// and its pooled SSH executor.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/controllers"
	"github.com/vobox-operator/vobox-operator/internal/manager"
	"github.com/vobox-operator/vobox-operator/internal/notify"
	"github.com/vobox-operator/vobox-operator/internal/remote"
)

func main() {
	var (
		metricsAddr, probeAddr string
		pprofAddr              string
		secureMetrics          bool
		leaderElect            bool
		leaderElectNamespace   string
		concurrency            int
		sshHandshakes          int
		sshIdle                time.Duration
		watchNamespaces        string
		lockNamespace          string
		notifyTimeout          time.Duration
		apiQPS                 float64
		apiBurst               int
		hostWait               time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0", "Address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true, "Serve metrics over HTTPS, with authentication and authorization by the API server.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address net/http/pprof binds to, e.g. 127.0.0.1:6060 (empty: off); for profiling only.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one replica acts on hosts.")
	flag.StringVar(&leaderElectNamespace, "leader-election-namespace", "", "Namespace of the leader-election Lease (default: the pod's).")
	flag.IntVar(&concurrency, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "Interventions worked on at once.")
	flag.IntVar(&sshHandshakes, "ssh-max-handshakes", 0, "Concurrent SSH handshakes of the executor (0: the executor's default).")
	flag.DurationVar(&sshIdle, "ssh-idle-timeout", 0, "Close pooled SSH connections idle this long (0: the executor's default).")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces whose interventions are reconciled (empty: all). With config/namespaced, the manager needs Roles only there.")
	flag.StringVar(&lockNamespace, "lock-namespace", "", "Namespace of the host Leases, one for the whole operator (default: the manager's own, from "+manager.PodNamespaceEnv+" or the service account, else "+manager.FallbackNamespace+"). It must exist.")
	flag.Float64Var(&apiQPS, "kube-api-qps", 50, "Requests per second the manager may send to the API server (controller-runtime's default is 20; each host's Lease is created by a write of its own, so thousands of hosts wait on this; docs/benchmarks-sim.md).")
	flag.IntVar(&apiBurst, "kube-api-burst", 100, "Burst above --kube-api-qps.")
	flag.DurationVar(&hostWait, "host-wait-per-pass", controllers.DefaultHostWaitPerPass, "How long a pass waits on a host for a change (a stop, a start's uptime) before it writes the status and looks again in a new SSH session: shorter is a fresher status, longer fewer sessions on the hosts.")
	flag.DurationVar(&notifyTimeout, "notify-timeout", 10*time.Second, "Bound on sending one on-call notification (spec.notify) to all its URLs.")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")

	namespaces, err := manager.ParseNamespaces(watchNamespaces, lockNamespace, manager.OSEnv)
	if err != nil {
		setupLog.Error(err, "Invalid flags")
		os.Exit(2)
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(diracv1.AddToScheme(scheme))

	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		// HTTP/2 is off: it has had rapid-reset and stream-cancellation CVEs.
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
	}
	if secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = float32(apiQPS), apiBurst
	if err := checkLockNamespace(restConfig, scheme, namespaces.Lock); err != nil {
		setupLog.Error(err, "Cannot start", "lockNamespace", namespaces.Lock)
		os.Exit(1)
	}
	setupLog.Info("Namespaces", "watch", namespaces.Watch, "lockNamespace", namespaces.Lock)

	managed := labels.SelectorFromSet(labels.Set{controllers.LeaseManagedByLabel: controllers.LeaseManagedByValue})
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          leaderElect,
		LeaderElectionID:        "vobox-operator.dirac.vobox.io",
		LeaderElectionNamespace: leaderElectNamespace,
		// Give the election Lease up on SIGTERM, so a successor takes over at
		// once instead of after its duration. Safe because main returns as
		// soon as Start does.
		LeaderElectionReleaseOnCancel: true,
		Cache: cache.Options{
			// nil: every namespace.
			DefaultNamespaces: manager.DefaultNamespaces(namespaces.Watch),
			// Only our host Leases, in the lock namespace, are cached; the
			// leader-election Lease is not.
			ByObject: map[client.Object]cache.ByObject{
				&coordinationv1.Lease{}: {Label: managed, Namespaces: map[string]cache.Config{namespaces.Lock: {}}},
			},
		},
	})
	if err != nil {
		setupLog.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	notifier, err := notify.New(ctrlmetrics.Registry, notify.Options{Timeout: notifyTimeout})
	if err != nil {
		setupLog.Error(err, "Unable to set up notifications")
		os.Exit(1)
	}

	executor := remote.NewSSHExecutor(remote.Options{MaxConcurrentHandshakes: sshHandshakes, IdleTimeout: sshIdle})
	defer func() { _ = executor.Close() }()

	ctx := ctrl.SetupSignalHandler()
	if err := (&controllers.VOBoxInterventionReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Executor:                executor,
		Recorder:                mgr.GetEventRecorder("vobox-operator"),
		Metrics:                 controllers.NewMetrics(nil),
		MaxConcurrentReconciles: concurrency,
		HostWaitPerPass:         hostWait,
		LockNamespace:           namespaces.Lock,
		Notifier:                notifier,
	}).SetupWithManager(ctx, mgr); err != nil {
		setupLog.Error(err, "Unable to set up the controller")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the readiness check")
		os.Exit(1)
	}
	setupLog.Info("Starting the manager")
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "The manager stopped with an error")
		os.Exit(1)
	}
}

// checkLockNamespace makes sure the lock namespace exists, with a direct
// client since the manager's cache has not started, within a bound.
func checkLockNamespace(cfg *rest.Config, scheme *runtime.Scheme, name string) error {
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return fmt.Errorf("failed to build a client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return manager.CheckLockNamespace(ctx, c, name)
}
