# Vigil — session-recording gateway appliance.
# `make help` lists the targets.

SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null)
LDFLAGS := -s -w -X github.com/vigilgw/vigil/daemon/internal/version.Version=$(VERSION) -X github.com/vigilgw/vigil/daemon/internal/version.Commit=$(COMMIT) -X github.com/vigilgw/vigil/plugins/sdk.BuildVersion=$(VERSION)
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN_DIR):$(PATH)

PLUGINS := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
BIN := bin
RUN_DIR ?= run
TEST_TIMEOUT ?= 40m
BENCH ?= .
BENCHTIME ?= 1x
BENCHCOUNT ?= 1
FUZZTIME ?= 20s

.PHONY: all build run test test-deps bench lint proto fuzz screenshots package-files deb rpm rootfs clean help

all: build

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-12s %s\n", $$1, $$2}'

build: ## build vigild, vigilctl and every plugin into ./bin
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./daemon/cmd/vigild ./daemon/cmd/vigilctl
	@for p in $(PLUGINS); do \
	  echo "$(GO) build -o $(BIN)/vigil-plugin-$$p ./plugins/$$p"; \
	  $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/vigil-plugin-$$p ./plugins/$$p || exit 1; \
	done

run: build ## build and start an appliance on embedded defaults under ./run (prints the admin password once)
	@mkdir -p $(RUN_DIR)
	@[ -f $(RUN_DIR)/vigil.toml ] || { cp etc/vigil-dev.toml $(RUN_DIR)/vigil.toml; echo "make run: wrote $(RUN_DIR)/vigil.toml"; }
	exec $(BIN)/vigild --config $(RUN_DIR)/vigil.toml

test-deps: ## install the real peers the tests use (sshd, x11vnc, ffmpeg, rsyslog, versitygw, chromium, ...) when missing
	@bash packaging/dev/test-deps.sh

test: test-deps build lint ## install what the tests need, then run every test (race detector on)
	VIGIL_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -race -timeout $(TEST_TIMEOUT) -count=1 ./...

bench: test-deps build ## run the benchmarks and print each figure as a ratio against its baseline from the same run
	VIGIL_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -timeout 60m ./... 2>&1 | $(GO) run ./daemon/cmd/benchratio

lint: ## gofmt check and go vet
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

proto: ## regenerate the plugin contract's gRPC code from plugins/sdk/proto
	cd plugins/sdk/proto && protoc --go_out=. --go_opt=paths=source_relative \
	  --go-grpc_out=. --go-grpc_opt=paths=source_relative $$(find . -name '*.proto' | sort)

screenshots: test-deps build ## save a 1280x800 PNG of every web UI page of a real vigild (headless Chromium) into ./screenshots
	VIGIL_BIN_DIR=$(CURDIR)/$(BIN) VIGIL_SCREENSHOTS_DIR=$(CURDIR)/screenshots $(GO) test -count=1 -run '^TestWUIScreenshots$$' ./daemon/e2e/

fuzz: ## run every fuzz target for FUZZTIME each
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Packages (packaging/README.md). PKG_VERSION is VERSION made valid, and
# ordered alike, for dpkg and rpm. Their binaries are position independent
# (full ASLR, read-only relocations), as Debian's hardening checks ask.
PKG_VERSION := $(shell packaging/pkgversion.sh '$(VERSION)')
ARCH ?= $(shell $(GO) env GOARCH)
PKG_ENV = VERSION='$(PKG_VERSION)' ARCH='$(ARCH)'

package-files: ## build what deb and rpm ship: PIE binaries in ./bin; man pages, changelog, licence notices in ./dist
	GOFLAGS='$(strip $(GOFLAGS) -buildmode=pie)' $(MAKE) --no-print-directory build
	@mkdir -p dist/man
	packaging/changelog.sh '$(PKG_VERSION)' '$(VERSION)' > dist/changelog && gzip -9nf dist/changelog
	packaging/notices.sh ./daemon/cmd/vigild ./daemon/cmd/vigilctl $(addprefix ./plugins/,$(PLUGINS)) > dist/third-party-notices
	gzip -9n < dist/third-party-notices > dist/third-party-notices.gz
	for m in packaging/man/*.8; do gzip -9n < $$m > dist/man/$${m##*/}.gz; done

deb: package-files ## build dist/vigil_<version>_<arch>.deb with nfpm
	shlibs=$$(packaging/shlibdeps.sh $(BIN)/*) && $(PKG_ENV) DEB_SHLIBS="$$shlibs" nfpm pkg --config packaging/nfpm.yaml --packager deb --target dist/

rpm: package-files ## build dist/vigil-<version>-1.<arch>.rpm with nfpm
	$(PKG_ENV) nfpm pkg --config packaging/nfpm.yaml --packager rpm --target dist/

rootfs: deb ## assemble dist/vigil-rootfs.tar.gz: Debian 12 debootstrap + the .deb + the rootfs/ overlay (root, a few minutes)
	packaging/rootfs.sh "$$(ls -t dist/vigil_$(PKG_VERSION)_*.deb | head -1)" dist/vigil-rootfs.tar.gz

clean: ## remove build output (keeps ./run)
	rm -rf $(BIN) dist
