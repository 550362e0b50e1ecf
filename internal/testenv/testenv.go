// Package testenv starts the real API server the project's tests share: a
// kube-apiserver and etcd built from source by hack/envtest-build.sh (the
// Makefile exports KUBEBUILDER_ASSETS), with the generated CRD installed, a
// client for the project's types, and a kubeconfig for kubectl and for the
// operator run as its own process.
//
// Tests never skip for want of the binaries: Start fails with the command
// that fixes it.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	diracv1 "github.com/vobox-operator/vobox-operator/api/v1alpha1"
)

// ErrNoAssets says how to get the control-plane binaries.
var ErrNoAssets = errors.New("KUBEBUILDER_ASSETS is not set: these tests need kube-apiserver and etcd; " +
	"run them with `make test`, which builds the binaries and sets it " +
	"(or export KUBEBUILDER_ASSETS=\"$(bash hack/envtest-build.sh)\")")

// Env is a running API server with the CRD installed.
type Env struct {
	// Environment is envtest's handle, for AddUser and friends.
	Environment *envtest.Environment
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Scheme knows client-go's types and the project's API.
	Scheme *runtime.Scheme
	// Client is an uncached client: what a test reads is what the API server holds.
	Client client.Client
	// Root is the repository root.
	Root string
}

// Start starts the API server and installs the CRD from config/crd/bases.
func Start() (*Env, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, ErrNoAssets
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	e := &Env{Root: root, Scheme: runtime.NewScheme()}
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, diracv1.AddToScheme} {
		if err := add(e.Scheme); err != nil {
			return nil, fmt.Errorf("failed to build the scheme: %w", err)
		}
	}
	e.Environment = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if e.Config, err = e.Environment.Start(); err != nil {
		return nil, fmt.Errorf("failed to start envtest: %w", err)
	}
	if e.Client, err = client.New(e.Config, client.Options{Scheme: e.Scheme}); err != nil {
		_ = e.Environment.Stop()
		return nil, fmt.Errorf("failed to create a client: %w", err)
	}
	return e, nil
}

// Stop stops the API server and etcd.
func (e *Env) Stop() error {
	if err := e.Environment.Stop(); err != nil {
		return fmt.Errorf("failed to stop envtest: %w", err)
	}
	return nil
}

// WriteKubeconfig writes a kubeconfig for a cluster administrator named user
// into dir and returns its path.
func (e *Env) WriteKubeconfig(dir, user string) (string, error) {
	u, err := e.Environment.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("failed to add the user %s: %w", user, err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("failed to render a kubeconfig: %w", err)
	}
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		return "", fmt.Errorf("failed to write the kubeconfig: %w", err)
	}
	return path, nil
}

// RepoRoot finds the module root (the folder holding go.mod) from the
// working directory up.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
