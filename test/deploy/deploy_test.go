package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const (
	// namespace and prefix are what config/default sets.
	namespace = "vobox-system"
	prefix    = "vobox-operator-"
	// testImage shows that IMG reaches the Deployment.
	testImage = "registry.example.org/dirac/vobox-operator:deploy-test"
	// managerSA is the identity the manager runs as.
	managerSA = "system:serviceaccount:" + namespace + ":" + prefix + "controller-manager"
)

var (
	// k8sClient is an admin client of the package's API server.
	k8sClient client.Client
	// kubeconfig is a file for kubectl, as the same admin.
	kubeconfig string
	// kubectl is the kubectl envtest-build.sh put next to the API server.
	kubectl string
	// installer is dist/install.yaml as `make installer` renders it for
	// testImage, written outside the repository.
	installer string
)

// TestMain renders the installer once and starts a bare API server: no CRD
// installed, so applying the installer is what creates it.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", a...)
		return 1
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return fail("KUBEBUILDER_ASSETS is not set: these tests need kube-apiserver, etcd and kubectl; " +
			"run them with `make test`, which builds the binaries and sets it " +
			"(or export KUBEBUILDER_ASSETS=\"$(bash hack/envtest-build.sh)\")")
	}
	kubectl = filepath.Join(assets, "kubectl")

	dir, err := os.MkdirTemp("", "vobox-deploy-test-")
	if err != nil {
		return fail("failed to create a temporary directory: %v", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	// The same recipe as `make build-installer`, minus `make manifests`:
	// `make test` has just generated them, and regenerating here would rewrite
	// config/crd/bases under the feet of other packages' API servers.
	installer = filepath.Join(dir, "install.yaml")
	if out, err := makeTarget("installer", "IMG="+testImage, "INSTALLER="+installer); err != nil {
		return fail("`make installer` failed: %v\n%s", err, out)
	}

	testEnv := &envtest.Environment{}
	cfg, err := testEnv.Start()
	if err != nil {
		return fail("failed to start envtest: %v", err)
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "failed to stop envtest: %v\n", err)
		}
	}()
	admin, err := testEnv.AddUser(envtest.User{Name: "deploy-test-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return fail("failed to add a user: %v", err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return fail("failed to write a kubeconfig: %v", err)
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return fail("failed to write the kubeconfig: %v", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fail("failed to build the scheme: %v", err)
	}
	if k8sClient, err = client.New(admin.Config(), client.Options{Scheme: scheme}); err != nil {
		return fail("failed to create a client: %v", err)
	}
	return m.Run()
}

// makeTarget runs a target of the repository's Makefile.
func makeTarget(args ...string) ([]byte, error) {
	cmd := exec.Command("make", append([]string{"-s", "-C", filepath.Join("..", "..")}, args...)...)
	return cmd.CombinedOutput()
}

// runKubectl runs kubectl against the test API server.
func runKubectl(t *testing.T, args ...string) string {
	t.Helper()
	return runKubectlStdin(t, "", args...)
}

// runKubectlStdin runs kubectl with stdin.
func runKubectlStdin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl %s failed: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// readInstaller parses the installer into its objects, in file order.
func readInstaller(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(installer)
	if err != nil {
		t.Fatalf("failed to open the installer: %v", err)
	}
	defer func() { _ = f.Close() }()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("failed to parse the installer: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs
}

// ensureNamespace creates the operator's namespace for real: a server-side
// dry run of a Namespace does not make it exist for the namespaced objects
// that follow it in the same apply.
func ensureNamespace(t *testing.T) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := k8sClient.Create(context.Background(), ns); client.IgnoreAlreadyExists(err) != nil {
		t.Fatalf("failed to create namespace %s: %v", namespace, err)
	}
}

// TestInstallerContents checks what the deployment relies on and the API
// server would not: names, namespace, image, the manager's hardening.
func TestInstallerContents(t *testing.T) {
	objs := readInstaller(t)
	kinds := map[string]int{}
	var deploy *appsv1.Deployment
	for _, u := range objs {
		kinds[u.GetKind()]++
		id := u.GetKind() + "/" + u.GetName()
		switch u.GetKind() {
		case "Namespace":
			if u.GetName() != namespace {
				t.Errorf("%s: want the namespace %s", id, namespace)
			}
		case "CustomResourceDefinition":
			if u.GetName() != "voboxinterventions.dirac.vobox.io" {
				t.Errorf("%s: the CRD must keep its name", id)
			}
		default:
			if !strings.HasPrefix(u.GetName(), prefix) {
				t.Errorf("%s: want the name prefix %s", id, prefix)
			}
		}
		switch u.GetKind() {
		case "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding":
			if u.GetNamespace() != "" {
				t.Errorf("%s: cluster-scoped, yet in namespace %q", id, u.GetNamespace())
			}
		default:
			if u.GetNamespace() != namespace {
				t.Errorf("%s: in namespace %q, want %s", id, u.GetNamespace(), namespace)
			}
		}
		// `make undeploy` keeps exactly what carries this label.
		if crd := u.GetLabels()["app.kubernetes.io/component"] == "crd"; crd != (u.GetKind() == "CustomResourceDefinition") {
			t.Errorf("%s: app.kubernetes.io/component=crd must be on the CRD and only there", id)
		}
		if u.GetKind() == "Deployment" {
			deploy = &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, deploy); err != nil {
				t.Fatalf("failed to read the Deployment: %v", err)
			}
		}
	}
	want := map[string]int{
		"Namespace": 1, "CustomResourceDefinition": 1, "ServiceAccount": 1, "Role": 1, "RoleBinding": 1,
		// manager, metrics-auth, metrics-reader, editor, viewer
		"ClusterRole": 5, "ClusterRoleBinding": 2, "Service": 1, "Deployment": 1,
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("installer has %d %s, want %d", kinds[k], k, n)
		}
	}
	for k := range kinds {
		if _, ok := want[k]; !ok {
			t.Errorf("installer has an unexpected %s", k)
		}
	}
	if deploy == nil {
		t.Fatal("installer has no Deployment")
	}

	pod := deploy.Spec.Template.Spec
	if pod.ServiceAccountName != prefix+"controller-manager" {
		t.Errorf("serviceAccountName = %q", pod.ServiceAccountName)
	}
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != testImage {
		t.Errorf("image = %q, want IMG %q", c.Image, testImage)
	}
	for _, arg := range []string{"--leader-elect", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %q lack %s", c.Args, arg)
		}
	}
	sc := c.SecurityContext
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("container securityContext %+v: want no privilege escalation, a read-only root, every capability dropped", sc)
	}
	for name, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name || p.HTTPGet.Port.IntValue() != 8081 {
			t.Errorf("want a probe of %s on 8081, got %+v", name, p)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
}

// TestInstallerApplies applies the installer as `make deploy` does, first as
// a server-side dry run (what the API server would say, every object
// validated and admitted), then for real, and asks the API server's RBAC
// whether the manager may do its work. It ends with `make undeploy` as a dry
// run, which must leave the CRD alone.
func TestInstallerApplies(t *testing.T) {
	objs := readInstaller(t)
	ensureNamespace(t)

	out := runKubectl(t, "apply", "--server-side", "--dry-run=server", "-f", installer)
	if n := strings.Count(out, "(server dry run)"); n != len(objs) {
		t.Fatalf("dry run applied %d objects, want %d:\n%s", n, len(objs), out)
	}
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Name: "voboxinterventions.dirac.vobox.io"}, crd); err == nil {
		t.Fatal("the dry run created the CRD")
	}

	runKubectl(t, "apply", "--server-side", "-f", installer)
	t.Run("manager RBAC", testManagerRBAC)
	t.Run("people RBAC", testPeopleRBAC)

	// A dry run, because envtest runs no namespace controller: the
	// namespace would stay Terminating and kubectl would wait for it.
	undeploy, err := makeTarget("undeploy", "IMG="+testImage, "INSTALLER="+installer,
		"KUBECTL="+kubectl+" --kubeconfig="+kubeconfig+" --dry-run=server")
	if err != nil {
		t.Fatalf("`make undeploy` (dry run) failed: %v\n%s", err, undeploy)
	}
	if strings.Contains(string(undeploy), "customresourcedefinition") {
		t.Errorf("`make undeploy` deletes the CRD, and with it every intervention:\n%s", undeploy)
	}
	if n := strings.Count(string(undeploy), "deleted (server dry run)"); n != len(objs)-1 {
		t.Errorf("`make undeploy` deletes %d objects, want all %d but the CRD:\n%s", n, len(objs)-1, undeploy)
	}
}

// access is one question to the API server's authorizer.
type access struct {
	verb, group, resource, subresource, namespace string
	// path is a non-resource URL; set instead of resource.
	path  string
	allow bool
}

func (a access) String() string {
	if a.path != "" {
		return a.verb + " " + a.path
	}
	r := a.resource
	if a.group != "" {
		r += "." + a.group
	}
	if a.subresource != "" {
		r += "/" + a.subresource
	}
	if a.namespace != "" {
		r += " in " + a.namespace
	}
	return a.verb + " " + r
}

// checkAccess asks a SubjectAccessReview for each access of user.
func checkAccess(t *testing.T, user string, groups []string, accesses []access) {
	t.Helper()
	for _, a := range accesses {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: groups}}
		if a.path != "" {
			sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: a.path, Verb: a.verb}
		} else {
			sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Verb: a.verb, Group: a.group,
				Resource: a.resource, Subresource: a.subresource, Namespace: a.namespace}
		}
		if err := k8sClient.Create(context.Background(), sar); err != nil {
			t.Fatalf("failed to create a SubjectAccessReview: %v", err)
		}
		if sar.Status.Allowed != a.allow {
			t.Errorf("%s: %s allowed=%t, want %t (%s)", user, a, sar.Status.Allowed, a.allow, sar.Status.Reason)
		}
	}
}

const (
	group = "dirac.vobox.io"
	vbi   = "voboxinterventions"
	// prod stands for any namespace holding interventions.
	prod = "dirac-prod"
)

// testManagerRBAC: the generated ClusterRole and the hand-written roles, bound
// to the manager's ServiceAccount with the prefixed names.
func testManagerRBAC(t *testing.T) {
	checkAccess(t, managerSA, []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}, []access{
		{verb: "watch", group: group, resource: vbi, allow: true},
		{verb: "patch", group: group, resource: vbi, namespace: prod, allow: true},
		{verb: "patch", group: group, resource: vbi, subresource: "status", namespace: prod, allow: true},
		{verb: "update", group: group, resource: vbi, allow: false}, // the finalizer is patched
		{verb: "update", group: group, resource: vbi, subresource: "status", namespace: prod, allow: false},
		{verb: "update", group: group, resource: vbi, subresource: "finalizers", namespace: prod, allow: true},
		{verb: "create", group: group, resource: vbi, namespace: prod, allow: false},
		{verb: "delete", group: group, resource: vbi, namespace: prod, allow: false},
		// The SSH Secret: read by name, watched metadata-only so that its
		// rotation wakes the interventions naming it (issue 13); never written.
		{verb: "get", resource: "secrets", namespace: prod, allow: true},
		{verb: "list", resource: "secrets", namespace: prod, allow: true},
		{verb: "watch", resource: "secrets", allow: true},
		{verb: "update", resource: "secrets", namespace: prod, allow: false},
		{verb: "delete", resource: "secrets", namespace: prod, allow: false},
		// The machines' Leases and the leader Lease, in the operator's own
		// namespace (--lock-namespace) only: none next to the interventions.
		{verb: "watch", group: "coordination.k8s.io", resource: "leases", namespace: namespace, allow: true},
		{verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: namespace, allow: true},
		{verb: "delete", group: "coordination.k8s.io", resource: "leases", namespace: namespace, allow: true},
		{verb: "deletecollection", group: "coordination.k8s.io", resource: "leases", namespace: namespace, allow: true},
		{verb: "update", group: "coordination.k8s.io", resource: "leases", namespace: namespace, allow: true},
		{verb: "create", group: "coordination.k8s.io", resource: "leases", namespace: prod, allow: false},
		{verb: "watch", group: "coordination.k8s.io", resource: "leases", allow: false},
		{verb: "create", group: "events.k8s.io", resource: "events", namespace: prod, allow: true},
		{verb: "create", resource: "events", namespace: namespace, allow: true},
		// The metrics filter.
		{verb: "create", group: "authentication.k8s.io", resource: "tokenreviews", allow: true},
		{verb: "create", group: "authorization.k8s.io", resource: "subjectaccessreviews", allow: true},
		{verb: "get", resource: "pods", namespace: prod, allow: false},
	})
}

// testPeopleRBAC binds the editor, viewer and metrics-reader ClusterRoles as
// an administrator would, and checks what each grants.
func testPeopleRBAC(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prod}}
	if err := k8sClient.Create(ctx, ns); client.IgnoreAlreadyExists(err) != nil {
		t.Fatalf("failed to create namespace %s: %v", prod, err)
	}
	for _, b := range []struct{ user, role string }{
		{"alice", prefix + "voboxintervention-editor-role"},
		{"bob", prefix + "voboxintervention-viewer-role"},
	} {
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: b.user, Namespace: prod},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: b.user}},
		}
		if err := k8sClient.Create(ctx, rb); client.IgnoreAlreadyExists(err) != nil {
			t.Fatalf("failed to bind %s: %v", b.role, err)
		}
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-vobox-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: prefix + "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "prometheus"}},
	}
	if err := k8sClient.Create(ctx, crb); client.IgnoreAlreadyExists(err) != nil {
		t.Fatalf("failed to bind the metrics reader: %v", err)
	}

	checkAccess(t, "alice", nil, []access{
		{verb: "create", group: group, resource: vbi, namespace: prod, allow: true},
		{verb: "patch", group: group, resource: vbi, namespace: prod, allow: true},
		{verb: "delete", group: group, resource: vbi, namespace: prod, allow: true},
		{verb: "get", group: group, resource: vbi, subresource: "status", namespace: prod, allow: true},
		{verb: "patch", group: group, resource: vbi, subresource: "status", namespace: prod, allow: false},
		{verb: "create", group: group, resource: vbi, namespace: "default", allow: false},
		{verb: "get", resource: "secrets", namespace: prod, allow: false},
	})
	checkAccess(t, "bob", nil, []access{
		{verb: "list", group: group, resource: vbi, namespace: prod, allow: true},
		{verb: "get", group: group, resource: vbi, subresource: "status", namespace: prod, allow: true},
		{verb: "create", group: group, resource: vbi, namespace: prod, allow: false},
		{verb: "patch", group: group, resource: vbi, namespace: prod, allow: false},
	})
	checkAccess(t, "prometheus", nil, []access{
		{verb: "get", path: "/metrics", allow: true},
	})
	checkAccess(t, "mallory", nil, []access{
		{verb: "get", path: "/metrics", allow: false},
		{verb: "list", group: group, resource: vbi, namespace: prod, allow: false},
	})
}

// argocdCM is Argo CD's argocd-cm as its installer leaves it after an
// administrator set a key, applied server-side under kubectl's default field
// manager (Argo CD's documented install is a server-side apply).
const argocdCM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  namespace: %s
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
  url: https://argocd.example.org
`

// TestArgoCDHealthInstall installs config/argocd as docs/gitops.md says, onto
// an argocd-cm that already holds other keys: the health check is added, and
// nothing else changes. It also shows why the doc insists on a field manager
// of its own: under kubectl's default one, the same apply drops the url.
func TestArgoCDHealthInstall(t *testing.T) {
	ctx := context.Background()
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health.lua"))
	if err != nil {
		t.Fatalf("failed to read health.lua: %v", err)
	}
	const key = "resource.customizations.health.dirac.vobox.io_VOBoxIntervention"
	getCM := func(ns string) *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "argocd-cm"}, cm); err != nil {
			t.Fatalf("failed to get argocd-cm: %v", err)
		}
		return cm
	}
	for _, ns := range []string{"argocd", "argocd-default-manager"} {
		if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); client.IgnoreAlreadyExists(err) != nil {
			t.Fatalf("failed to create namespace %s: %v", ns, err)
		}
		runKubectlStdin(t, fmt.Sprintf(argocdCM, ns), "apply", "--server-side", "-f", "-")
	}

	config := filepath.Join("..", "..", "config", "argocd")
	for range 2 { // a second apply changes nothing
		runKubectl(t, "apply", "--server-side", "--field-manager=vobox-operator", "-k", config)
	}
	cm := getCM("argocd")
	if cm.Data[key] != string(script) {
		t.Errorf("argocd-cm %s is not health.lua:\n%s", key, cm.Data[key])
	}
	if cm.Data["url"] != "https://argocd.example.org" || cm.Labels["app.kubernetes.io/name"] != "argocd-cm" {
		t.Errorf("installing the health check changed argocd-cm's other fields: data %v, labels %v", cm.Data, cm.Labels)
	}

	rendered := runKubectl(t, "kustomize", config)
	rendered = strings.Replace(rendered, "namespace: argocd\n", "namespace: argocd-default-manager\n", 1)
	runKubectlStdin(t, rendered, "apply", "--server-side", "-f", "-")
	if cm := getCM("argocd-default-manager"); cm.Data[key] == "" || cm.Data["url"] != "" {
		t.Errorf("under kubectl's default field manager the apply was expected to take over argocd-cm and drop url "+
			"(if kubectl changed, update config/argocd and docs/gitops.md); data: %v", cm.Data)
	}
}
