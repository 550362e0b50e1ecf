package gitops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// apiServer is the package's API server with the generated CRD, started by
// the first test that needs it: the Argo CD tests run without one.
type apiServer struct {
	client     client.Client
	kubeconfig string
	kubectl    string
}

var (
	startOnce sync.Once
	server    *apiServer
	startErr  error
	testEnv   *envtest.Environment
	tmpDir    string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testEnv != nil {
		if err := testEnv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "failed to stop envtest: %v\n", err)
		}
	}
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

// needAPIServer returns the API server, starting it on first use. Without
// KUBEBUILDER_ASSETS the test fails: it is never skipped.
func needAPIServer(t *testing.T) *apiServer {
	t.Helper()
	startOnce.Do(func() { server, startErr = start() })
	if startErr != nil {
		t.Fatal(startErr)
	}
	return server
}

func start() (*apiServer, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return nil, fmt.Errorf("KUBEBUILDER_ASSETS is not set: these tests need kube-apiserver, etcd and kubectl; " +
			"run them with `make test`, which builds the binaries and sets it " +
			"(or export KUBEBUILDER_ASSETS=\"$(bash hack/envtest-build.sh)\")")
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := testEnv.Start()
	if err != nil {
		return nil, fmt.Errorf("failed to start envtest: %w", err)
	}
	admin, err := testEnv.AddUser(envtest.User{Name: "gitops-test-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to add a user: %w", err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return nil, fmt.Errorf("failed to write a kubeconfig: %w", err)
	}
	if tmpDir, err = os.MkdirTemp("", "vobox-gitops-test-"); err != nil {
		return nil, fmt.Errorf("failed to create a temporary directory: %w", err)
	}
	s := &apiServer{kubeconfig: filepath.Join(tmpDir, "kubeconfig"), kubectl: filepath.Join(assets, "kubectl")}
	if err := os.WriteFile(s.kubeconfig, kc, 0o600); err != nil {
		return nil, fmt.Errorf("failed to write the kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("failed to build the scheme: %w", err)
	}
	if err := diracv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("failed to build the scheme: %w", err)
	}
	if s.client, err = client.New(admin.Config(), client.Options{Scheme: scheme}); err != nil {
		return nil, fmt.Errorf("failed to create a client: %w", err)
	}
	return s, nil
}

// newNamespace creates a namespace of the test's own.
func (s *apiServer) newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gitops-"}}
	if err := s.client.Create(context.Background(), ns); err != nil {
		t.Fatalf("failed to create a namespace: %v", err)
	}
	return ns.Name
}
