package namespaced_test

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
	"github.com/vobox-operator/vobox-operator/internal/manager"
	"github.com/vobox-operator/vobox-operator/internal/testenv"
)

// TestNamespacedRBACEnvtest applies the RBAC that config/namespaced renders
// to a real API server and acts as the manager's ServiceAccount: its cache,
// watching only the --watch-namespaces (and the lock namespace for Leases),
// syncs, which is what the manager needs to start; it can get Secrets in a
// watched namespace and not elsewhere; it can check the lock namespace.
func TestNamespacedRBACEnvtest(t *testing.T) {
	r := render(t, ".")
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := t.Context()
	admin := env.Client

	watchArg, _ := r.arg("--watch-namespaces")
	ns, err := manager.ParseNamespaces(watchArg, "", manager.Env{
		Getenv:   func(string) string { return r.deployment.Namespace },
		ReadFile: nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	var objs []client.Object
	for _, n := range append([]string{ns.Lock, "elsewhere"}, ns.Watch...) {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
	}
	objs = append(objs, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: r.serviceAccount.Namespace, Name: r.serviceAccount.Name}})
	for _, o := range r.clusterRoles {
		objs = append(objs, &o)
	}
	for i := range r.roles {
		objs = append(objs, &r.roles[i])
	}
	for i := range r.clusterRoleBindings {
		objs = append(objs, &r.clusterRoleBindings[i])
	}
	for i := range r.roleBindings {
		objs = append(objs, &r.roleBindings[i])
	}
	for _, o := range objs {
		if err := admin.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	for _, n := range append([]string{"elsewhere"}, ns.Watch...) {
		if err := admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: n, Name: "vobox-ssh"}}); err != nil {
			t.Fatal(err)
		}
	}

	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + r.serviceAccount.Namespace + ":" + r.serviceAccount.Name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + r.serviceAccount.Namespace, "system:authenticated"},
	}
	sa, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}

	// The start-up check of the lock namespace.
	if err := manager.CheckLockNamespace(ctx, sa, ns.Lock); err != nil {
		t.Errorf("CheckLockNamespace as the manager: %v", err)
	}
	// Secrets: get in the watched namespaces only.
	for _, n := range ns.Watch {
		if err := sa.Get(ctx, client.ObjectKey{Namespace: n, Name: "vobox-ssh"}, &corev1.Secret{}); err != nil {
			t.Errorf("get Secret in watched %s: %v", n, err)
		}
	}
	if err := sa.Get(ctx, client.ObjectKey{Namespace: "elsewhere", Name: "vobox-ssh"}, &corev1.Secret{}); !apierrors.IsForbidden(err) {
		t.Errorf("get Secret in an unwatched namespace: %v, want forbidden", err)
	}
	if err := sa.List(ctx, &diracv1.VOBoxInterventionList{}); !apierrors.IsForbidden(err) {
		t.Errorf("list interventions cluster-wide: %v, want forbidden", err)
	}

	// The manager's cache as main.go builds it syncs: every watch allowed.
	c, err := cache.New(cfg, cache.Options{
		Scheme:            env.Scheme,
		DefaultNamespaces: manager.DefaultNamespaces(ns.Watch),
		ByObject: map[client.Object]cache.ByObject{
			&coordinationv1.Lease{}: {Namespaces: map[string]cache.Config{ns.Lock: {}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{&diracv1.VOBoxIntervention{}, &coordinationv1.Lease{}} {
		if _, err := c.GetInformer(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = c.Start(cctx) }()
	syncCtx, cancelSync := context.WithTimeout(ctx, 20*time.Second)
	defer cancelSync()
	if !c.WaitForCacheSync(syncCtx) {
		t.Fatal("the manager's cache did not sync with the namespaced RBAC: a watch is forbidden")
	}

	// Without --watch-namespaces (every namespace) the same RBAC cannot
	// start: the case docs/security.md used to describe.
	all, err := cache.New(cfg, cache.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := all.GetInformer(ctx, &diracv1.VOBoxIntervention{}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = all.Start(cctx) }()
	shortCtx, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	defer cancelShort()
	if all.WaitForCacheSync(shortCtx) {
		t.Error("a cluster-wide cache synced with RoleBindings only")
	}
}
