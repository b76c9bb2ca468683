# Roost: build and test entry points.
#
#   make test         THE test command (CI runs it through .ci/run): installs missing
#                     test tools, then gofmt check, go vet, staticcheck, unit and
#                     integration tests with -race, and a short fuzz of every fuzz target
#   make build        builds ./cmd/roost into bin/roost
#   make lint         gofmt check, go vet, staticcheck
#   make fuzz-smoke   fuzzes every fuzz target for FUZZTIME (make fuzz-smoke FUZZTIME=1m)
#   make bench        benchmarks of packet, topic and broker
#   make fmt          rewrites Go files with gofmt
#   make release-check  installs goreleaser (pinned) and runs goreleaser check on
#                     .goreleaser.yaml (not part of make test: building goreleaser
#                     takes minutes)

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
# The steps of `make test` run in the order listed, even under make -j.
.NOTPARALLEL:

GO ?= go
FUZZTIME ?= 10s
STATICCHECK_VERSION ?= v0.8.2
GORELEASER_VERSION ?= v2.15.1
BENCH_PKGS ?= ./packet ./topic ./broker

.PHONY: build test test-deps lint fmt-check vet staticcheck unit fuzz-smoke bench fmt clean release-check

build:
	$(GO) build -o bin/roost ./cmd/roost

test: test-deps fmt-check vet staticcheck unit fuzz-smoke

# Hook: scripts/install-test-deps.sh, when present, installs what the tests need
# (mosquitto, mosquitto-clients, gcc for -race) and fails if it cannot.
test-deps:
	if [ -f scripts/install-test-deps.sh ]; then GO='$(GO)' bash scripts/install-test-deps.sh; fi

lint: fmt-check vet staticcheck

fmt-check:
	GO='$(GO)' bash scripts/gofmt-check.sh

vet:
	$(GO) vet ./...

staticcheck:
	GO='$(GO)' STATICCHECK_VERSION='$(STATICCHECK_VERSION)' bash scripts/staticcheck.sh ./...

# ROOST_REQUIRE_INTEROP=1: interop tests fail, never skip, when mosquitto_pub/sub are missing.
unit:
	ROOST_REQUIRE_INTEROP=1 $(GO) test -race -count=1 ./...

fuzz-smoke:
	GO='$(GO)' FUZZTIME='$(FUZZTIME)' bash scripts/fuzz-smoke.sh ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCH_PKGS)

fmt:
	$(GO) fmt ./...

release-check:
	GOBIN="$$(pwd)/bin/tools" $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
	bin/tools/goreleaser check

clean:
	rm -rf bin
