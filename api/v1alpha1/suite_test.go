package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	diracv1alpha1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// k8sClient talks to the one API server the package's tests share; each test
// works in namespaces of its own, so tests may run in parallel.
var k8sClient client.Client

// TestMain starts a real kube-apiserver and etcd with the generated CRD
// installed: the schema, its defaults and its CEL rules are what is tested,
// and only a real API server applies them.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "FAIL: KUBEBUILDER_ASSETS is not set: these tests need kube-apiserver and etcd; "+
			"run them with `make test`, which builds the binaries and sets it "+
			"(or export KUBEBUILDER_ASSETS=\"$(bash hack/envtest-build.sh)\")")
		return 1
	}

	testEnv := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: failed to start envtest: %v\n", err)
		return 1
	}
	defer func() {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "failed to stop envtest: %v\n", err)
		}
	}()

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: failed to build the scheme: %v\n", err)
		return 1
	}
	if err := diracv1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: failed to build the scheme: %v\n", err)
		return 1
	}
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: failed to create a client: %v\n", err)
		return 1
	}
	return m.Run()
}

// newNamespace creates a fresh namespace for one test and deletes it after.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "vbi-test-"}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("failed to create a namespace: %v", err)
	}
	t.Cleanup(func() {
		// envtest runs no namespace controller, so this only marks it
		// Terminating; the API server goes away with the suite anyway.
		_ = k8sClient.Delete(context.Background(), ns)
	})
	return ns.Name
}
