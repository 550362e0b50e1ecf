package manager

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/vobox-operator/vobox-operator/internal/testenv"
)

func fakeEnv(podNamespace, saFile string) Env {
	return Env{
		Getenv: func(k string) string {
			if k == PodNamespaceEnv {
				return podNamespace
			}
			return ""
		},
		ReadFile: func(name string) ([]byte, error) {
			if name == ServiceAccountNamespaceFile && saFile != "" {
				return []byte(saFile), nil
			}
			return nil, fs.ErrNotExist
		},
	}
}

func TestParseNamespaces(t *testing.T) {
	t.Parallel()
	var names []string
	for i := range maxWatchNamespaces + 1 {
		names = append(names, fmt.Sprintf("site-%d", i))
	}
	many := strings.Join(names, ",")
	for _, tc := range []struct {
		name        string
		watch, lock string
		env         Env
		want        Namespaces
		err         string
	}{
		{name: "defaults in a pod", env: fakeEnv("", "operators\n"), want: Namespaces{Lock: "operators"}},
		{name: "POD_NAMESPACE first", env: fakeEnv("from-env", "from-file"), want: Namespaces{Lock: "from-env"}},
		{name: "outside a pod", env: fakeEnv("", ""), want: Namespaces{Lock: FallbackNamespace}},
		{name: "explicit lock namespace", lock: "locks", env: fakeEnv("pod", ""), want: Namespaces{Lock: "locks"}},
		{name: "watch list sorted, deduplicated, trimmed", watch: " site-b,site-a,,site-b ", env: fakeEnv("", ""),
			want: Namespaces{Watch: []string{"site-a", "site-b"}, Lock: FallbackNamespace}},
		{name: "bad watch name", watch: "site-a,Site_B", env: fakeEnv("", ""), err: `--watch-namespaces: "Site_B" is not a namespace name`},
		{name: "bad lock name", lock: "vobox/system", env: fakeEnv("", ""), err: `--lock-namespace: "vobox/system" is not a namespace name`},
		{name: "bad namespace from the environment", env: fakeEnv("Bad Env", ""), err: `--lock-namespace: "Bad Env"`},
		{name: "too many", watch: many, env: fakeEnv("", ""), err: "at most 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseNamespaces(tc.watch, tc.lock, tc.env)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseNamespaces = %+v, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got.Watch, tc.want.Watch) || got.Lock != tc.want.Lock {
				t.Fatalf("ParseNamespaces = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestDefaultNamespaces(t *testing.T) {
	t.Parallel()
	if got := DefaultNamespaces(nil); got != nil {
		t.Errorf("DefaultNamespaces(nil) = %v, want nil (all namespaces)", got)
	}
	got := DefaultNamespaces([]string{"a", "b"})
	if _, ok := got["a"]; !ok || len(got) != 2 {
		t.Errorf("DefaultNamespaces(a, b) = %v", got)
	}
}

// TestCheckLockNamespace runs against a real API server: an existing
// namespace passes, a missing one gives an error naming it, and a manager
// whose only right on namespaces is a Role in the lock namespace granting
// get on namespaces (what config/rbac and config/namespaced grant: RBAC
// reads a Namespace as inside itself, so such a Role reaches no other)
// can make the check.
func TestCheckLockNamespace(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	const lock = "vobox-locks"
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: lock}}); err != nil {
		t.Fatal(err)
	}

	if err := CheckLockNamespace(ctx, env.Client, lock); err != nil {
		t.Errorf("existing namespace: %v", err)
	}
	err = CheckLockNamespace(ctx, env.Client, "vobox-sytem")
	if !errors.Is(err, ErrLockNamespaceMissing) || !strings.Contains(err.Error(), `"vobox-sytem"`) {
		t.Errorf("missing namespace: %v, want ErrLockNamespaceMissing naming it", err)
	}

	// The manager's own rights: a Role in the lock namespace.
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: lock, Name: "lock-namespace-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"},
			Verbs: []string{"get"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: lock, Name: "lock-namespace-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "manager"}},
	}
	for _, o := range []client.Object{role, binding} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	user, err := env.Environment.AddUser(envtest.User{Name: "manager"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	restricted, err := client.New(user.Config(), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckLockNamespace(ctx, restricted, lock); err != nil {
		t.Errorf("with a Role in the lock namespace: %v", err)
	}
	// Without it (another namespace): forbidden, and said so.
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}); err != nil {
		t.Fatal(err)
	}
	if err := CheckLockNamespace(ctx, restricted, "elsewhere"); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("without rights: %v, want forbidden", err)
	}
}
