package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/vobox-operator/vobox-operator/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: %v\n", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	k8sClient = env.Client
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
