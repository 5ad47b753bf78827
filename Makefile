# make test: everything CI runs (installs the npm MCP clients on first use).
# make demo: the proxy in front of its embedded AgentCore + Cognito emulator.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/agentcore-proxy/agentcore-proxy/internal/cli.Version=$(VERSION)
FUZZTIME ?= 5s
NPM_STAMP := e2e/npm/node_modules/.package-lock.json

.PHONY: test vet unit fuzz build demo monitoring

test: vet unit fuzz monitoring

# The monitoring assets (deploy/) are a separate module; their tests need
# promtool (apt-get install --no-install-recommends prometheus).
monitoring:
	cd deploy && go vet ./... && go test -count=1 ./...

vet:
	go vet ./...

unit: $(NPM_STAMP)
	go test -race -count=1 ./...

# Short, bounded runs of every fuzz target (seed corpora run in `unit` too).
FUZZ_TARGETS := proxy:FuzzParseRuntimeARN proxy:FuzzSniffRequest proxy:FuzzDiagnose proxy:FuzzSSEToJSON \
	internal/config:FuzzParse jwtcheck:FuzzCheckClaims jwtcheck:FuzzDecode

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "go test -fuzz=$${t#*:} -fuzztime=$(FUZZTIME) ./$${t%%:*}"; \
		go test -run='^$$' -fuzz="^$${t#*:}$$" -fuzztime=$(FUZZTIME) ./$${t%%:*} > /dev/null; \
	done

$(NPM_STAMP): e2e/npm/package-lock.json
	npm ci --prefix e2e/npm --no-audit --no-fund

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/agentcore-proxy .

demo:
	go run . demo
