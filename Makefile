# vobox-operator Makefile, the kubebuilder way: generated files are made by
# pinned tools in ./bin and checked fresh by `make verify`.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# Tools, pinned.
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE_VERSION ?= v5.8.1
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)

# The control plane for tests, built from source and cached outside the repo.
ENVTEST_K8S_VERSION ?= 1.37.2
ENVTEST_ETCD_VERSION ?= 3.6.8
export ENVTEST_K8S_VERSION ENVTEST_ETCD_VERSION

IMG ?= ghcr.io/vobox-operator/vobox-operator:dev
GO_TEST_FLAGS ?=
# Fuzzing budgets are execution counts (about 10 s each here), not durations:
# a duration-based -fuzztime can fail with a bare "context deadline exceeded"
# and no failing input when a loaded machine starves the workers at the
# deadline (golang/go#75804, fixed in go1.27; seen in CI on FuzzStrip).
# FUZZTIME=30s (say) overrides the three.
FUZZTIME ?=
FUZZ_QUOTE ?= 8000x
FUZZ_KNOWN_HOSTS ?= 45000x
FUZZ_STRIP ?= 150000x
fuzztime = $(or $(FUZZTIME),$(1))

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and RBAC manifests.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: manifests generate fmt ## Fail when generated files or formatting are stale.
	@if [ -n "$$(git status --porcelain -- api config controllers internal hack main.go cmd go.mod go.sum)" ]; then \
		echo "Generated files or formatting are stale; run 'make manifests generate fmt' and commit:"; \
		git status --porcelain -- api config controllers internal hack main.go cmd go.mod go.sum; \
		git --no-pager diff --stat; exit 1; fi
	go mod tidy -diff
	$(MAKE) vet
	shellcheck internal/procedure/scripts/*.sh
	@if grep -rIl --exclude-dir=.git --exclude-dir=bin 'Insecure''IgnoreHostKey' . ; then \
		echo "host-key verification must never be switched off"; exit 1; fi

.PHONY: deps
deps: ## Install the machine's dependencies (apt packages for the lab and tests).
	bash hack/install-deps.sh

.PHONY: envtest
envtest: ## Build (or reuse) kube-apiserver and etcd for envtest.
	@bash hack/envtest-build.sh >/dev/null

.PHONY: test
test: deps manifests generate fmt vet envtest ## Run every test: unit, envtest, real sshd, lab, end to end.
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-build.sh)" go test $(GO_TEST_FLAGS) -timeout 25m -p 1 ./... -coverprofile cover.out
	go test -run '^$$' -fuzz '^FuzzQuote$$' -fuzztime $(call fuzztime,$(FUZZ_QUOTE)) ./internal/remote/
	go test -run '^$$' -fuzz '^FuzzParseKnownHosts$$' -fuzztime $(call fuzztime,$(FUZZ_KNOWN_HOSTS)) ./internal/remote/
	go test -run '^$$' -fuzz '^FuzzStrip$$' -fuzztime $(call fuzztime,$(FUZZ_STRIP)) ./internal/termsafe/

CHAOS_KILLS ?= 200

.PHONY: chaos
chaos: deps envtest ## Crash-resume: power stops under CHAOS_KILLS SIGKILLs of the operator, then a cycle with reboot under kills (VOBOX_CHAOS_SEED=N replays); summary in docs/chaos-summary.md.
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-build.sh)" VOBOX_CHAOS_KILLS=$(CHAOS_KILLS) VOBOX_CHAOS_SUMMARY=$(CURDIR)/docs/chaos-summary.md \
		go test ./test/e2e/ -run '^(TestChaos|TestCycleChaos)$$' -count=1 -v -timeout 100m

.PHONY: e2e-defaults
e2e-defaults: deps envtest ## The end-to-end suite with the interventions at the API's defaults (componentUptime 10s, settleDelay 60s, stopTimeout 2m), as users run them; slower than make test.
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-build.sh)" VOBOX_E2E_DEFAULTS=1 go test ./test/e2e/ -count=1 -v -timeout 80m

##@ Demo

KEEP ?=

.PHONY: demo
demo: deps envtest ## The main job: API server, seed lab, operator, Down → reboot → Up, summary (KEEP=1 leaves it running).
	go build -o bin/manager .
	go build -o bin/lab ./hack/lab
	go build -o bin/demo ./hack/demo
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-build.sh)" bin/demo $(if $(KEEP),-keep)

.PHONY: demo-cycle
demo-cycle: deps envtest ## A rolling kernel-patch cycle on the seed lab, watched live: each host Down → sudo reboot → Up, Agents first, Database last (KEEP=1 leaves it running).
	go build -o bin/manager .
	go build -o bin/lab ./hack/lab
	go build -o bin/demo ./hack/demo
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-build.sh)" bin/demo -cycle $(if $(KEEP),-keep)

.PHONY: demo-down
demo-down: ## Stop a demo left running by KEEP=1.
	go build -o bin/lab ./hack/lab
	go run ./hack/demo -down

##@ Benchmark

RUNS ?= 3
SIZES ?= 11,50,200

.PHONY: bench
bench: deps envtest ## Operator vs Ansible, pdsh, the SSH floor and the hosts' limit (RUNS=3 SIZES=11,50,200): docs/benchmarks.{md,json}.
	bash hack/bench/install.sh
	go build -o bin/manager .
	go build -o bin/lab ./hack/lab
	go build -o bin/bench ./hack/bench
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-build.sh)" bin/bench -runs $(RUNS) -sizes $(SIZES)

SIM_SIZES ?= 1000,5000,10000
SIM_TIMEOUT ?= 8m

.PHONY: bench-sim
bench-sim: envtest ## The controller alone at scale against simulated hosts (SIM_SIZES=1000,5000,10000; SIM_TIMEOUT per size), vs the ideal schedule: docs/benchmarks-sim.{md,json}.
	go build -o bin/benchsim ./hack/benchsim
	KUBEBUILDER_ASSETS="$$(bash hack/envtest-build.sh)" bin/benchsim -sizes $(SIM_SIZES) -timeout $(SIM_TIMEOUT)

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary.
	go build -o bin/manager .

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the current kubeconfig.
	go run ./main.go

##@ Deployment

.PHONY: install
install: manifests ## Install the CRD into the cluster of the current kubeconfig.
	kubectl apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: manifests ## Remove the CRD from the cluster of the current kubeconfig.
	kubectl delete --ignore-not-found -f config/crd/bases

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

##@ Deployment (kustomize)
# config/default is the operator as one install (namespace vobox-system, names
# prefixed vobox-operator-), its image the default IMG. IMG replaces that image
# in an overlay under dist/ (ignored by git), so rendering never edits a
# tracked file.

KUBECTL ?= kubectl
# Where the installer is written; the deploy test writes its own elsewhere.
INSTALLER ?= dist/install.yaml
INSTALLER_OVERLAY := dist/overlay

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install the pinned kustomize in bin/.

$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/kustomize $(KUSTOMIZE)

.PHONY: installer
installer: $(KUSTOMIZE) ## Render config/default with IMG into dist/install.yaml (or INSTALLER), without regenerating.
	rm -rf $(INSTALLER_OVERLAY) && mkdir -p $(INSTALLER_OVERLAY) $(dir $(INSTALLER))
	printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../config/default\n' >$(INSTALLER_OVERLAY)/kustomization.yaml
	cd $(INSTALLER_OVERLAY) && $(KUSTOMIZE) edit set image ghcr.io/vobox-operator/vobox-operator=$(IMG)
	$(KUSTOMIZE) build $(INSTALLER_OVERLAY) >$(INSTALLER).tmp && mv $(INSTALLER).tmp $(INSTALLER)

.PHONY: build-installer
build-installer: manifests installer ## Generate the manifests and write dist/install.yaml (CRD, RBAC, manager) for IMG.

.PHONY: deploy
deploy: build-installer ## Deploy the operator (image IMG) to the cluster of the current kubeconfig.
	$(KUBECTL) apply --server-side -f $(INSTALLER)

.PHONY: undeploy
undeploy: installer ## Remove the operator; keeps the CRD and so every intervention (`make uninstall` removes those).
	$(KUBECTL) delete --ignore-not-found -l 'app.kubernetes.io/component!=crd' -f $(INSTALLER)

.PHONY: docker-build
docker-build: ## Build the manager image IMG (needs a Docker engine).
	docker build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image IMG.
	docker push $(IMG)

##@ kubectl plugin

.PHONY: kubectl-vobox
kubectl-vobox: ## Build the kubectl plugin bin/kubectl-vobox (with bin/ on PATH: kubectl vobox plan|status|down|up|suspend|resume NAME).
	go build -o bin/kubectl-vobox ./cmd/kubectl-vobox

# A semantic version with a leading v, as krew wants: the tag, else a dev version of the commit.
RELEASE_VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --exact-match 2>/dev/null || echo "v0.0.0-dev.g$$(git rev-parse --short HEAD)")

.PHONY: release
release: ## Build kubectl-vobox for linux/darwin × amd64/arm64 into dist/ (tar.gz with LICENSE, .sha256) and render krew's dist/vobox.yaml.
	VERSION=$(RELEASE_VERSION) DIST=dist bash plugins/release.sh
