# fleetboot: `make demo` runs the agent against the embedded mock cloud;
# `make test` runs the whole suite (what CI runs).
GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BUILDTIME := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X github.com/fleetboot/fleetboot/agent.buildTime=$(BUILDTIME)
FUZZTIME  ?= 4s
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(HOME)/go/bin/staticcheck)

.PHONY: all build demo test lint unit fuzz-short fuzz soak bench cross deb clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/fleetboot ./cmd/fleetboot
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/mockcloud ./cmd/mockcloud
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/fleetsim ./cmd/fleetsim

demo: build
	./scripts/demo.sh

test: lint unit fuzz-short

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(STATICCHECK) ./...

unit:
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -tags "notpm nocbor" -run "Stub|NoCBOR|CBORWithout|NoTPM" ./keystore/tpm ./provisioning ./agent ./cmd/fleetboot
	$(GO) test -race -count=1 -timeout 20m ./agent/ ./cmd/fleetsim/

# A few seconds of every fuzz target, from the committed seeds.
fuzz-short:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

fuzz:
	FUZZTIME=2m ./scripts/fuzz.sh

soak:
	FLEETBOOT_SOAK=1 $(GO) test -count=1 -timeout 60m -run 'Soak' ./...

bench:
	./scripts/bench.sh

cross:
	./scripts/cross.sh

# Debian packages for amd64, arm64 and armhf in dist/ (nfpm, pinned in tools/go.mod).
deb:
	./scripts/deb.sh dist

clean:
	rm -rf $(BIN) dist
