# make test: everything CI runs (installs what the tests need on first use).
# make demo: the proxy in front of its embedded AgentCore + Cognito emulator.
# make bench: agentcore-proxy side by side with direct, httputil and nginx.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/agentcore-proxy/agentcore-proxy/internal/cli.Version=$(VERSION)
# A count, not a duration: with -fuzztime=5s Go's fuzz coordinator sometimes
# ends a run on a busy 2-core machine with "context deadline exceeded".
FUZZTIME ?= 10000x

.PHONY: test test-short deps vet cross cross-all lint tools unit fuzz build demo monitoring image smoke bench bench-smoke bench-stdio

# Everything CI runs; on a fresh machine it installs what it needs first.
# Deterministic: no random fuzzing (seed corpora and saved crashers run in
# `unit`); `make fuzz` explores and is for developers.
test: deps
	$(MAKE) vet cross lint unit monitoring bench-smoke

# Debian packages, Go modules and npm clients the tests need (root or sudo).
deps:
	.ci/install-deps

# The deploy/ assets are a separate module; their tests need promtool and
# shellcheck (apt-get install --no-install-recommends prometheus shellcheck).
monitoring:
	cd deploy && go vet ./... && go test -count=1 ./...

# The FROM scratch image, built from a binary built here (no base image pulled).
image:
	deploy/build-image.sh

# Build that image and run it with podman against the demo emulator
# (apt-get install podman runc).
smoke:
	deploy/smoke-test.sh

vet:
	@files=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$files" ]; then echo "gofmt would change: $$files (run gofmt -w)"; exit 1; fi
	go vet ./...

# The other operating systems users run the proxy on: vet and build for
# each (unix-only pieces sit behind build tags, with a clear error
# elsewhere). linux/amd64 is vetted by `vet` and built by `unit`. Only the
# operating system decides which files build (CGO_ENABLED=0, no assembly of
# ours), so one architecture each keeps the gate quick; `make cross-all`
# covers the six release platforms.
PLATFORMS := darwin/arm64 windows/amd64
ALL_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
cross-all:
	$(MAKE) cross PLATFORMS="$(ALL_PLATFORMS)"

cross:
	@set -e; for p in $(PLATFORMS); do \
		echo "GOOS=$${p%/*} GOARCH=$${p#*/}: go vet, go build"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} go vet ./...; \
		GOOS=$${p%/*} GOARCH=$${p#*/} CGO_ENABLED=0 go build -trimpath -o /dev/null .; \
	done

# Pinned linters, installed into GOBIN (default $GOPATH/bin) by `make tools`;
# .ci/run installs them first. staticcheck v0.8.2 is release 2026.2.2.
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0
TOOLBIN := $(or $(shell go env GOBIN),$(shell go env GOPATH)/bin)
# GOVULNDB may name a mirror of the Go vulnerability database (https:// or a
# local copy as file:///DIR); an https one is probed first and skipped if down.
GOVULNDB ?= https://vuln.go.dev

tools:
	go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

lint: tools
	$(TOOLBIN)/staticcheck ./...
	cd deploy && $(TOOLBIN)/staticcheck ./...
	@case "$(GOVULNDB)" in \
	file://*) ;; \
	*) if ! curl -fsS -m 5 -o /dev/null "$(GOVULNDB)/index/db.json" 2>/dev/null; then \
		echo "govulncheck: skipped, $(patsubst https://%,%,$(GOVULNDB)) unreachable from this machine"; exit 0; fi ;; \
	esac; \
	echo "govulncheck -db $(GOVULNDB) ./... (and deploy/)"; \
	$(TOOLBIN)/govulncheck -db "$(GOVULNDB)" ./... && cd deploy && $(TOOLBIN)/govulncheck -db "$(GOVULNDB)" ./...

unit:
	go test -race -count=1 ./...

# The quick loop for developers, under a minute: no race detector, and the
# tests that need Node, Chromium or podman, or wait out real time in another
# process, skip and say why (`unit` runs them all).
test-short:
	go test -short -count=1 ./...

# Short, bounded runs of every fuzz target, for developers: random, so not
# part of `make test` (seed corpora and saved crashers run in `unit`). A
# finding lands in testdata/fuzz and fails `unit` until it is fixed.
FUZZ_TARGETS := agentcore:FuzzParseRuntimeARN proxy:FuzzSniffRequest proxy:FuzzCheckHeaders proxy:FuzzDiagnose proxy:FuzzSSEToJSON \
	internal/config:FuzzParse jwtcheck:FuzzCheckClaims jwtcheck:FuzzDecode \
	internal/server:FuzzGuardHeaders internal/doctor:FuzzResourceMetadata \
	discovery:FuzzParseChallenges discovery:FuzzDecodeResourceMetadata discovery:FuzzDecodeServerMetadata \
	tokencache:FuzzParseClientKey internal/stdio:FuzzReadLine internal/stdio:FuzzReadEvents \
	internal/redact:FuzzRedact internal/secureurl:FuzzCheck internal/awsjwt:FuzzParseClaims \
	internal/runtimeconfig:FuzzFetchAnswer

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "go test -fuzz=$${t#*:} -fuzztime=$(FUZZTIME) ./$${t%%:*}"; \
		out=$$(go test -run='^$$' -fuzz="^$${t#*:}$$" -fuzztime=$(FUZZTIME) ./$${t%%:*} 2>&1) || { echo "$$out"; exit 1; }; \
	done

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/agentcore-proxy .

demo:
	go run . demo

# Side-by-side figures (needs wrk; nginx-light when installed): about two
# minutes; BENCHFLAGS passes flags, e.g. BENCHFLAGS="-out bench-results.json".
BENCHFLAGS ?=
bench:
	go run ./internal/bench $(BENCHFLAGS)

# A short run that checks every contender answers and one token serves the
# whole run; it asserts no figure.
bench-smoke:
	go run ./internal/bench -smoke $(BENCHFLAGS)

# agentcore-proxy stdio against mcp-remote (needs Node and npm ci --prefix
# e2e/npm): per-call latency and peak RSS over 100 sequential tools/call.
bench-stdio:
	go run ./internal/bench -stdio 100 $(BENCHFLAGS)
