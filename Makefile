# SpaceTime: the two set-up commands are `make run` and `make test`.
# Each installs what it needs that is missing (see scripts/).

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/spacetime-vr/spacetime/internal/buildinfo.version=$(VERSION)
BIN      := bin/spacetime
FUZZTIME ?= 20s

.PHONY: run test build web release generate fuzz bench clean

## run: build and start the server on its embedded defaults (http://127.0.0.1:8080)
run: build
	./$(BIN) serve

## test: everything CI checks (formatting, vet, race tests, short fuzzing)
test:
	./scripts/test.sh

## build: the debug build of the binary into bin/, with the web client
build: web
	./scripts/deps.sh go
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/spacetime

## web: the browser client (npm ci when needed, then its build into web/dist)
web:
	./scripts/deps.sh web

## release: the release build (HTTP API off unless GODOT_ENABLE_HTTP_API=true)
release: web
	./scripts/deps.sh go
	CGO_ENABLED=0 $(GO) build -tags release -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(BIN) ./cmd/spacetime

## generate: regenerate the sample content from the ephemeris data
generate:
	$(GO) generate ./content/...

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

## bench: the benchmarks behind docs/benchmarks.md
bench: build
	./scripts/bench.sh

clean:
	rm -rf bin
