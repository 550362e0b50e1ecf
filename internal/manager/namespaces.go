package manager

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// FallbackNamespace is the lock namespace when the manager cannot tell
	// its own: not in a pod, and POD_NAMESPACE unset.
	FallbackNamespace = "vobox-system"
	// PodNamespaceEnv names the environment variable the Deployment sets to
	// the pod's namespace (downward API).
	PodNamespaceEnv = "POD_NAMESPACE"
	// ServiceAccountNamespaceFile holds the pod's namespace in every pod
	// that mounts a service account token.
	ServiceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
	// maxWatchNamespaces bounds --watch-namespaces: beyond a few dozen, one
	// cluster-wide watch is cheaper than a watch per namespace.
	maxWatchNamespaces = 64
)

// Namespaces are the parsed namespace flags.
type Namespaces struct {
	// Watch lists the namespaces whose interventions (and Secrets, Leases)
	// the manager sees, sorted and without duplicates; empty means all.
	Watch []string
	// Lock is the namespace of the host Leases.
	Lock string
}

// Env is what ParseNamespaces reads from the process's environment, as
// functions so that tests need not touch the real one.
type Env struct {
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

// OSEnv reads the real environment and file system.
var OSEnv = Env{Getenv: os.Getenv, ReadFile: os.ReadFile}

// ParseNamespaces validates --watch-namespaces (a comma-separated list;
// empty for all) and --lock-namespace (empty for the manager's own
// namespace: POD_NAMESPACE, else the service account's namespace file,
// else FallbackNamespace). Every name must be a DNS-1123 label; an error
// names the flag and the value at fault.
func ParseNamespaces(watch, lock string, env Env) (Namespaces, error) {
	var ns Namespaces
	for _, n := range strings.Split(watch, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return Namespaces{}, fmt.Errorf("--watch-namespaces: %q is not a namespace name: %s", n, strings.Join(errs, "; "))
		}
		ns.Watch = append(ns.Watch, n)
	}
	slices.Sort(ns.Watch)
	ns.Watch = slices.Compact(ns.Watch)
	if len(ns.Watch) > maxWatchNamespaces {
		return Namespaces{}, fmt.Errorf("--watch-namespaces: %d namespaces, at most %d (leave it empty to watch all)", len(ns.Watch), maxWatchNamespaces)
	}
	ns.Lock = strings.TrimSpace(lock)
	if ns.Lock == "" {
		ns.Lock = OwnNamespace(env)
	}
	if errs := validation.IsDNS1123Label(ns.Lock); len(errs) > 0 {
		return Namespaces{}, fmt.Errorf("--lock-namespace: %q is not a namespace name: %s", ns.Lock, strings.Join(errs, "; "))
	}
	return ns, nil
}

// OwnNamespace returns the manager's namespace: POD_NAMESPACE, else the
// service account's namespace file, else FallbackNamespace.
func OwnNamespace(env Env) string {
	if n := strings.TrimSpace(env.Getenv(PodNamespaceEnv)); n != "" {
		return n
	}
	if b, err := env.ReadFile(ServiceAccountNamespaceFile); err == nil {
		if n := strings.TrimSpace(string(b)); n != "" {
			return n
		}
	}
	return FallbackNamespace
}

// DefaultNamespaces returns controller-runtime's cache.Options
// DefaultNamespaces for watch: one entry per namespace, or nil (all
// namespaces) when watch is empty.
func DefaultNamespaces(watch []string) map[string]cache.Config {
	if len(watch) == 0 {
		return nil
	}
	m := make(map[string]cache.Config, len(watch))
	for _, n := range watch {
		m[n] = cache.Config{}
	}
	return m
}

// ErrLockNamespaceMissing is wrapped by CheckLockNamespace's error when the
// namespace does not exist.
var ErrLockNamespaceMissing = errors.New("lock namespace does not exist")

// CheckLockNamespace gets the lock namespace through r (a direct client:
// the manager's cache has not started) and returns an error naming it when
// it does not exist or cannot be read. The manager needs `get` on that one
// Namespace object, which a Role in it grants.
func CheckLockNamespace(ctx context.Context, r client.Reader, name string) error {
	err := r.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("--lock-namespace %q: %w: create it, or give the namespace the host Leases should live in", name, ErrLockNamespaceMissing)
	default:
		return fmt.Errorf("--lock-namespace %q: failed to check that it exists: %w", name, err)
	}
}
