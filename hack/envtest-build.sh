#!/usr/bin/env bash
# envtest-build.sh builds the control-plane binaries that controller-runtime's
# envtest needs (kube-apiserver, etcd, kubectl) from the Go module proxy and
# caches them outside the repository, keyed by version. setup-envtest cannot
# download release binaries on machines without general Internet access, but
# the module proxy is reachable, so we compile from source instead.
#
# Usage: hack/envtest-build.sh            # builds if missing, prints the dir
#
# The directory printed on stdout is what KUBEBUILDER_ASSETS must point at.
# A second run finds the cache and returns in milliseconds.
set -euo pipefail

K8S_VERSION="${ENVTEST_K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ENVTEST_ETCD_VERSION:-3.6.8}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/vobox-operator/envtest"
DEST="${CACHE_ROOT}/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"

if [[ -x "${DEST}/kube-apiserver" && -x "${DEST}/etcd" && -x "${DEST}/kubectl" ]]; then
  echo "${DEST}"
  exit 0
fi

log() { echo "envtest-build: $*" >&2; }
mkdir -p "${DEST}"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

staging_version="0.${K8S_VERSION#1.}"

# kube-apiserver: a scratch module requiring k8s.io/kubernetes, with a replace
# for every staging module the kubernetes go.mod replaces with a local path.
if [[ ! -x "${DEST}/kube-apiserver" ]]; then
  log "building kube-apiserver v${K8S_VERSION} (first time: several minutes)"
  mkdir -p "${WORK}/apiserver"
  (
    cd "${WORK}/apiserver"
    go mod init envtest.local/apiserver >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@v${K8S_VERSION}"
    modfile="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
    grep -E '^\s*k8s\.io/[^ ]+ => \./staging/' "${modfile}" | awk '{print $1}' | while read -r m; do
      go mod edit -replace="${m}=${m}@v${staging_version}"
    done
    cat >main.go <<'EOF'
package main

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"

func main() {}
EOF
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 || true
    rm main.go
    GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${DEST}/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  )
fi

if [[ ! -x "${DEST}/etcd" ]]; then
  log "building etcd v${ETCD_VERSION}"
  mkdir -p "${WORK}/etcd"
  (
    cd "${WORK}/etcd"
    go mod init envtest.local/etcd >/dev/null 2>&1
    cat >main.go <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
    go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >/dev/null 2>&1
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${DEST}/etcd" .
  )
fi

if [[ ! -x "${DEST}/kubectl" ]]; then
  if command -v kubectl >/dev/null 2>&1; then
    ln -sf "$(command -v kubectl)" "${DEST}/kubectl"
  else
    log "building kubectl v${K8S_VERSION}"
    mkdir -p "${WORK}/kubectl"
    (
      cd "${WORK}/kubectl"
      go mod init envtest.local/kubectl >/dev/null 2>&1
      cat >main.go <<'EOF'
package main

import (
	"os"

	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/component-base/cli"
)

func main() { os.Exit(cli.Run(cmd.NewDefaultKubectlCommand())) }
EOF
      go get "k8s.io/kubectl@v${staging_version}" >/dev/null 2>&1
      GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1
      CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${DEST}/kubectl" .
    )
  fi
fi

echo "${DEST}"
