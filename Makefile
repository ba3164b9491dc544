# ehlo — build, run and test. `make help` lists the targets.
GO        ?= go
BIN       ?= bin/ehlo
FUZZTIME  ?= 60s
BENCHTIME ?= 1s
PKGS      := ./...
# bin/ehlo is linked statically: about 4 ms less CPU at every start, and
# name resolution is Go's own (/etc/hosts, resolv.conf; docs/performance.md
# says what is lost). `make build CGO_ENABLED=1` links against libc.
# Only the build uses it: go test -race needs cgo.
CGO_ENABLED ?= 0

.PHONY: help build run test interop fuzz fuzz-ci bench compare screenshots lint cover clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/ehlo (static; CGO_ENABLED=1 for libc's resolver)
	CGO_ENABLED=$(CGO_ENABLED) $(GO) build -o $(BIN) .

run: build ## the TUI against the embedded sandbox
	./$(BIN)

test: ## unit, scripted-server and CLI tests (no external servers needed)
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 $(PKGS)

interop: build ## start real MTAs on loopback and talk to each (needs root; installs them)
	bash testdata/interop/run.sh

fuzz: ## run every fuzz target for FUZZTIME each
	bash testdata/fuzz.sh $(FUZZTIME)

fuzz-ci: ## every fuzz target for 20s (what CI runs)
	bash testdata/fuzz.sh 20s

bench: ## Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

compare: ## ehlo send --repeat vs smtp-source, smtplib, swaks, go-smtp on loopback (root installs them; docs/performance.md)
	GO=$(GO) bash testdata/compare/run.sh

screenshots: build ## README's TUI screenshot again (tmux + testdata/screenshot)
	env TERM=xterm-256color COLORTERM=truecolor bash testdata/screenshot/shot.sh docs/screenshot-tui.png 120 40 env TERM=xterm-256color COLORTERM=truecolor bin/ehlo < testdata/screenshot/tui.steps

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

cover: ## coverage of the protocol package
	$(GO) test -count=1 -coverprofile=coverage.out ./protocol && $(GO) tool cover -func=coverage.out | tail -1

clean:
	rm -rf bin coverage.out
