# gitopskit — one Makefile for the whole workspace.
#
#   make test          build the control plane if missing, then vet and test every module
#   make demo          run gitopsd against a local control plane and git server, step by step
#   make bench         run every Benchmark* of every module
#   make fuzz          run every Fuzz* target for FUZZTIME (default 30s; FUZZMINIMIZETIME 2s)
#   make controlplane  build kube-apiserver and etcd from source into the cache folder
#   make generate      regenerate the reference operator's deepcopy code, CRDs and RBAC
#   make tidy-check    fail if `go mod tidy` would change any go.mod/go.sum
#   make lint          gofmt and go vet
#
# Everything a clean machine needs is built here from the Go module proxy: the
# control-plane binaries come from tools/controlplane, pinned in its go.mod files.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

GO ?= go

# Modules in the workspace, in go.work order (the floors of DESIGN.md).
MODULES := $(shell sed -n 's|^[[:space:]]*\./\([^[:space:]]*\)[[:space:]]*$$|\1|p' go.work)

# Control plane: versions come from the pinned go.mod files, never typed twice.
K8S_VERSION  := $(shell awk '$$1=="k8s.io/kubernetes" && $$2 ~ /^v/ {print $$2; exit}' tools/controlplane/go.mod)
ETCD_VERSION := $(shell awk '$$1=="go.etcd.io/etcd/server/v3" && $$2 ~ /^v/ {print $$2; exit}' tools/controlplane/etcd/go.mod)
CACHE_HOME   := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)
CONTROLPLANE_DIR ?= $(CACHE_HOME)/gitopskit/controlplane/$(K8S_VERSION)
export KUBEBUILDER_ASSETS ?= $(CONTROLPLANE_DIR)

# Code generators, pinned in tools/codegen/go.mod and built once per version.
CONTROLLER_GEN_VERSION := $(shell awk '$$1=="sigs.k8s.io/controller-tools" && $$2 ~ /^v/ {print $$2; exit}' tools/codegen/go.mod)
CONTROLLER_GEN := $(CACHE_HOME)/gitopskit/bin/controller-gen-$(CONTROLLER_GEN_VERSION)
# Files make generate writes (a shell glob, expanded when the recipe runs);
# make test fails when they are not up to date.
GENERATED_GLOB := examples/api/*/zz_generated.deepcopy.go examples/api/*/*/zz_generated.deepcopy.go \
	examples/config/crd/bases/*.yaml examples/config/rbac/role*.yaml

FUZZTIME  ?= 30s
# Time spent minimising each new interesting input (Go's default, 60s, eats
# most of a short run): the rest goes to new inputs.
FUZZMINIMIZETIME ?= 2s
BENCHTIME ?= 1x
TEST_FLAGS ?= -race -count=1

K8S_MAJOR := $(word 1,$(subst ., ,$(patsubst v%,%,$(K8S_VERSION))))
K8S_MINOR := $(word 2,$(subst ., ,$(patsubst v%,%,$(K8S_VERSION))))
VERSION_PKGS := k8s.io/component-base/version k8s.io/client-go/pkg/version
K8S_LDFLAGS := -s -w $(foreach p,$(VERSION_PKGS),\
	-X $(p).gitVersion=$(K8S_VERSION) -X $(p).gitMajor=$(K8S_MAJOR) -X $(p).gitMinor=$(K8S_MINOR) \
	-X $(p).gitTreeState=clean -X $(p).buildDate=1970-01-01T00:00:00Z)

.PHONY: test
test: controlplane generate-check fmt-check ## vet and test every module, stopping at the first that fails
	@for m in $(MODULES); do \
		echo "==> $$m: go vet"; \
		( cd $$m && $(GO) vet ./... ) || { echo "FAIL: module $$m (go vet)"; exit 1; }; \
		echo "==> $$m: go test $(TEST_FLAGS)"; \
		( cd $$m && $(GO) test $(TEST_FLAGS) ./... ) || { echo "FAIL: module $$m (go test)"; exit 1; }; \
	done
	@echo "all modules passed: $(MODULES)"

# The demo runs the real gitopsd binary, built here into a cache folder
# (never into the source tree), against the control plane make controlplane
# builds.
GITOPSD_BIN := $(CACHE_HOME)/gitopskit/bin/gitopsd

.PHONY: demo
demo: controlplane ## show gitopsd syncing, updating and pruning a sample app from a local git server
	cd examples && $(GO) build -o $(GITOPSD_BIN) ./cmd/gitopsd
	cd examples && $(GO) run ./cmd/demo --gitopsd $(GITOPSD_BIN)

.PHONY: bench
bench: controlplane ## run every benchmark once per module (BENCHTIME to change)
	@for m in $(MODULES); do \
		echo "==> $$m: benchmarks"; \
		( cd $$m && $(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./... ) || { echo "FAIL: module $$m (bench)"; exit 1; }; \
	done

.PHONY: fuzz
fuzz: controlplane ## run every Fuzz* target for FUZZTIME
	@for m in $(MODULES); do \
		for pkg in $$(cd $$m && $(GO) list ./...); do \
			dir=$$(cd $$m && $(GO) list -f '{{.Dir}}' $$pkg); \
			for f in $$(grep -hoE '^func Fuzz[A-Za-z0-9_]+' $$dir/*_test.go 2>/dev/null | awk '{print $$2}'); do \
				echo "==> $$pkg $$f ($(FUZZTIME))"; \
				( cd $$dir && $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) . ) || { echo "FAIL: $$pkg $$f"; exit 1; }; \
			done; \
		done; \
	done

.PHONY: generate
generate: $(CONTROLLER_GEN) ## regenerate deepcopy functions, CRD manifests and RBAC of examples/
	cd examples && GOWORK=off $(CONTROLLER_GEN) object:headerFile=/dev/null crd:crdVersions=v1 \
		paths=./api/... output:crd:artifacts:config=config/crd/bases
	cd examples && GOWORK=off $(CONTROLLER_GEN) rbac:roleName=gitopsd \
		paths=./internal/controller/... output:rbac:artifacts:config=config/rbac

# Regenerates, then compares checksums of every generated file before and
# after (file names included, so a new or removed file counts too). This
# works in a plain copy of the tree as well as in a git checkout.
.PHONY: generate-check
generate-check: $(CONTROLLER_GEN) ## fail if make generate would change a generated file
	@sums() { shopt -s nullglob; local f=($(GENERATED_GLOB)); [ $${#f[@]} -eq 0 ] || sha256sum "$${f[@]}"; }; \
	before=$$(sums); \
	$(MAKE) --no-print-directory generate >/dev/null; \
	after=$$(sums); \
	if [ "$$before" != "$$after" ]; then \
		echo "FAIL: generated files are out of date; run make generate and commit:"; \
		diff <(echo "$$before") <(echo "$$after") || true; exit 1; \
	fi; echo "generated files are up to date"

$(CONTROLLER_GEN):
	@mkdir -p $(dir $@)
	@echo "==> building controller-gen $(CONTROLLER_GEN_VERSION)"
	cd tools/codegen && GOWORK=off $(GO) build -trimpath -o $@.tmp sigs.k8s.io/controller-tools/cmd/controller-gen
	mv $@.tmp $@

.PHONY: controlplane
controlplane: $(CONTROLPLANE_DIR)/kube-apiserver $(CONTROLPLANE_DIR)/etcd ## build kube-apiserver and etcd if missing
	@echo "control plane $(K8S_VERSION) (etcd $(ETCD_VERSION)) in $(CONTROLPLANE_DIR)"

# Each binary is built into a temporary name and renamed, so an interrupted
# build never leaves a half-written binary that a later run would trust.
$(CONTROLPLANE_DIR)/kube-apiserver:
	@mkdir -p $(CONTROLPLANE_DIR)
	@echo "==> building kube-apiserver $(K8S_VERSION) from source (about 10 minutes on 2 cores, once)"
	cd tools/controlplane && GOWORK=off CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(K8S_LDFLAGS)' \
		-o $@.tmp k8s.io/kubernetes/cmd/kube-apiserver
	mv $@.tmp $@

$(CONTROLPLANE_DIR)/etcd:
	@mkdir -p $(CONTROLPLANE_DIR)
	@echo "==> building etcd $(ETCD_VERSION) from source"
	cd tools/controlplane/etcd && GOWORK=off CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' \
		-o $@.tmp go.etcd.io/etcd/server/v3
	mv $@.tmp $@

.PHONY: tidy-check
tidy-check: ## fail if go mod tidy would change a go.mod or go.sum
	@for m in $(MODULES) tools/controlplane tools/controlplane/etcd tools/codegen; do \
		( cd $$m && GOWORK=off $(GO) mod tidy -diff ) || { echo "FAIL: module $$m is not tidy (run: cd $$m && GOWORK=off go mod tidy)"; exit 1; }; \
	done
	@echo "every module is tidy"

.PHONY: fmt-check
fmt-check: ## fail if a Go file is not gofmt-formatted
	@out=$$(gofmt -l $(MODULES) tools); if [ -n "$$out" ]; then echo "FAIL: gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: lint
lint: fmt-check ## gofmt and go vet
	@for m in $(MODULES); do ( cd $$m && $(GO) vet ./... ) || { echo "FAIL: module $$m (go vet)"; exit 1; }; done
	@echo "lint ok"

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'
