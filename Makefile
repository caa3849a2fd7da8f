# imagepipe's interface: every task a developer or CI runs is a target here.
GO      ?= go
BIN     := bin/imagepipe
PKGS    := ./...
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: help run build test vet fmt-check lint bench bench-pipeline bench-flow cost fuzz axe mermaid corpus chaos lambda-memory clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# The commit stamped into the CLI (imagepipe --version) for when the go
# command records none itself (GOFLAGS=-buildvcs=false, a git worktree).
VCS_LDFLAGS := $(shell git log -1 --format='-X main.vcsRevision=%H -X main.vcsTime=%cI' 2>/dev/null) \
	$(shell test -z "$$(git status --porcelain 2>/dev/null)" || echo '-X main.vcsModified=true')

# ARGS are flags of imagepipe dev: make run ARGS="--api 127.0.0.1:8081 --edge 127.0.0.1:4567".
# The binary is built, then replaces the recipe's shell: Ctrl-C stops it
# cleanly and make exits 0.
run: ## run the whole pipeline on this machine (imagepipe dev; flags in ARGS="...")
	@$(GO) build -ldflags "$(VCS_LDFLAGS)" -o $(BIN) ./cmd/imagepipe && exec $(BIN) dev $(ARGS)

build: ## build the CLI into bin/imagepipe
	$(GO) build -trimpath -ldflags "$(VCS_LDFLAGS)" -o $(BIN) ./cmd/imagepipe

# The Lambda binaries and the runtime emulator are built once (make
# lambda-host) for every package that runs them.
test: fmt-check vet tf-validate lambda-host ## the full test suite (what CI runs)
	IMAGEPIPE_LAMBDA_BINARIES=$(abspath $(LAMBDA_HOST_DIR)) $(GO) test -count=1 -timeout 30m $(PKGS)

vet: ## go vet
	$(GO) vet $(PKGS)

fmt-check: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

lint: fmt-check vet ## gofmt, go vet and a pinned staticcheck
	$(GO) run $(STATICCHECK) $(PKGS)

# The results are kept in docs/bench.txt (the record of the figures the
# README quotes) and priced by make cost.
bench: lambda-host ## benchmarks of the image steps, the whole pipeline and the Lambda binaries; kept in docs/bench.txt, then make cost
	IMAGEPIPE_LAMBDA_BINARIES=$(abspath $(LAMBDA_HOST_DIR)) scripts/bench.sh docs/bench.txt ./imaging ./local ./functions/status ./local/lambdarie ./local/sqsserver
	$(MAKE) --no-print-directory cost

cost: ## dollars per million images on AWS from docs/bench.txt and docs/cost/prices.json, written into README.md
	$(GO) run ./scripts/cost -write

PIPELINE_RUNS ?= 5
bench-pipeline: ## upload-to-done beside the worker alone, PIPELINE_RUNS times: x-worker best and median, CPU profile in dist/pipeline.cpu.prof
	@mkdir -p dist
	$(GO) test -run '^$$' -bench '^BenchmarkUploadToDone$$' -benchtime 60x -count $(PIPELINE_RUNS) \
		-cpuprofile $(CURDIR)/dist/pipeline.cpu.prof -o $(CURDIR)/dist/local.test ./local | tee dist/pipeline-bench.txt
	@awk '/parallel=8/ { for (i = 2; i <= NF; i++) if ($$i == "x-worker") print $$(i-1) }' dist/pipeline-bench.txt | sort -n | \
		awk '{ v[NR] = $$1 } END { if (NR) printf "x-worker over %d runs: best %.2f, median %.2f\n", NR, v[NR], v[int((NR + 1) / 2)] }'

bench-flow: build ## the user's flow: N photos through imagepipe upload --wait against imagepipe dev, beside imagepipe convert on two processes (x-worker, CPU per image)
	scripts/bench-flow.sh $(BIN)

corpus: ## build the real-photo corpus in .corpus/ (Debian's and Go's test images + variants, with Pillow/libjpeg-turbo references); make test then checks it
	scripts/corpus.sh

CHAOS_KILLS   ?= 40
CHAOS_UPLOADS ?= 300
chaos: ## kill imagepipe dev CHAOS_KILLS times across CHAOS_UPLOADS uploads; every acknowledged upload done exactly once
	@mkdir -p dist
	$(GO) test -count=1 -timeout 60m -run '^TestChaos$$' -v ./cmd/imagepipe \
		-args -chaos.kills=$(CHAOS_KILLS) -chaos.uploads=$(CHAOS_UPLOADS) -chaos.report=$(CURDIR)/dist/chaos.json

lambda-memory: ## peak memory of the worst batch of the process function at its Lambda memory setting
	IMAGEPIPE_MEMORY_TEST=1 $(GO) test -count=1 -timeout 30m -run '^TestWorstBatchPeakMemory$$' -v ./functions/process

fuzz: ## fuzz the event pattern parser and matcher, and the JPEG coefficient reader, 30 s each
	$(GO) test -run '^$$' -fuzz '^FuzzPattern$$' -fuzztime 30s ./eventbus
	$(GO) test -run '^$$' -fuzz '^FuzzJPEGCoefficients$$' -fuzztime 30s ./imaging

axe: ## install axe-core (pinned, npm ci) for the upload page's accessibility check
	npm ci --prefix web/testdata/axe --no-audit --no-fund

# mermaid's browser bundle, pinned by version and npm integrity (sha512 of
# the package tarball), for the README diagram's check in docs/.
MERMAID_VERSION   = 12.3.0
MERMAID_INTEGRITY = sha512-4113TdXeLAsMruJ79OpFL5O8+LTFXhQqZ260rF3tgUmiNAtRm4Uume04I+65PRN6yZ69J4f8rVYWW8zRk65UYw==

mermaid: ## install mermaid (pinned) to check that the README's diagram renders
	scripts/mermaid.sh $(MERMAID_VERSION) $(MERMAID_INTEGRITY) docs/testdata/mermaid.min.js

clean: ## remove build outputs
	rm -rf bin dist

-include terraform/terraform.mk
