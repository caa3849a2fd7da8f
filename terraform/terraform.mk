# AWS deployment targets, included by the top Makefile:
#   make lambda       build the four functions into reproducible dist/<name>.zip
#   make lambda-host  the same binaries for this machine's architecture, plus
#                     the Lambda runtime emulator, into dist/host (imagepipe
#                     dev --lambda-binaries, the moto test, the benchmarks)
#   make tf-validate  terraform fmt -check, offline init, validate
#   make test-aws     apply the stack to moto_server, run the real binaries
#                     under the runtime emulator against it, destroy
#   make deploy       lambda + terraform init + apply (real AWS, asks to confirm)

LAMBDA_FUNCTIONS ?= presign process notify deadletter
LAMBDA_DIST      ?= dist
LAMBDA_GOFLAGS   := -tags lambda.norpc -trimpath -buildvcs=false -ldflags='-s -w -buildid='
# The deployed architecture; lambda-host builds the same with the host's.
LAMBDA_GOARCH    ?= arm64
LAMBDA_BUILD_DIR ?= $(LAMBDA_DIST)/build
LAMBDA_HOST_DIR  ?= $(LAMBDA_DIST)/host
# AWS's Lambda Runtime Interface Emulator, pinned (a Go module; the proxy
# serves no tagged release of it).
LAMBDA_RIE       := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d
TF               ?= terraform
TF_DIR           ?= terraform
# Provider mirror for offline init, used when it exists; otherwise init
# downloads the pinned provider from the registry.
TF_PLUGIN_DIR    ?= /opt/tf-plugins
TF_INIT_FLAGS    ?= -input=false $(if $(wildcard $(TF_PLUGIN_DIR)),-plugin-dir=$(TF_PLUGIN_DIR))
# Extra flags for `make deploy`'s apply, e.g. TF_APPLY_FLAGS='-var-file=prod.tfvars'.
TF_APPLY_FLAGS   ?=
# tf-validate keeps its own data directory so it never disturbs a deploy's.
TF_VALIDATE_DATA ?= $(CURDIR)/$(LAMBDA_DIST)/tf-validate

.PHONY: lambda lambda-binaries lambda-host tf-validate test-aws deploy

lambda: $(LAMBDA_FUNCTIONS:%=$(LAMBDA_DIST)/%.zip) ## build the Lambda zips (linux/arm64, reproducible) into dist/

lambda-binaries: $(LAMBDA_FUNCTIONS:%=$(LAMBDA_BUILD_DIR)/%/bootstrap)

# Always rebuilt (go build is cached); the zip depends only on the bytes of
# the executable, which depend only on the sources and the toolchain.
.PHONY: $(LAMBDA_FUNCTIONS:%=$(LAMBDA_BUILD_DIR)/%/bootstrap) $(LAMBDA_FUNCTIONS:%=$(LAMBDA_DIST)/%.zip)
$(LAMBDA_FUNCTIONS:%=$(LAMBDA_BUILD_DIR)/%/bootstrap): $(LAMBDA_BUILD_DIR)/%/bootstrap:
	GOOS=linux GOARCH=$(LAMBDA_GOARCH) CGO_ENABLED=0 go build $(LAMBDA_GOFLAGS) \
		-o $@ ./cmd/lambda/$*
$(LAMBDA_FUNCTIONS:%=$(LAMBDA_DIST)/%.zip): $(LAMBDA_DIST)/%.zip: $(LAMBDA_BUILD_DIR)/%/bootstrap
	go run ./scripts/lambdazip -o $@ $<

# The bootstraps of `make lambda` for this machine (only GOARCH differs),
# as <dir>/<fn>/bootstrap, and the emulator as <dir>/aws-lambda-rie.
lambda-host: ## build the functions for this machine and the Lambda runtime emulator into dist/host
	$(MAKE) --no-print-directory lambda-binaries LAMBDA_GOARCH=$$(go env GOARCH) LAMBDA_BUILD_DIR=$(LAMBDA_HOST_DIR)
	GOBIN=$(abspath $(LAMBDA_HOST_DIR)) CGO_ENABLED=0 go install $(LAMBDA_RIE)

tf-validate: ## terraform fmt -check, offline init, validate
	$(TF) -chdir=$(TF_DIR) fmt -check -recursive -diff
	TF_DATA_DIR=$(TF_VALIDATE_DATA) $(TF) -chdir=$(TF_DIR) init -backend=false $(TF_INIT_FLAGS)
	TF_DATA_DIR=$(TF_VALIDATE_DATA) $(TF) -chdir=$(TF_DIR) validate

# The moto flow test and the HCL checks (package terraform_test); both also
# run in `go test ./...`.
test-aws: lambda-host ## apply the stack to moto_server, run the flow through the real binaries under the runtime emulator, destroy
	IMAGEPIPE_LAMBDA_BINARIES=$(abspath $(LAMBDA_HOST_DIR)) go test -count=1 -timeout 15m -v ./$(TF_DIR)/

# The zips are taken from $(LAMBDA_DIST), the directory `make lambda` just
# wrote (an absolute path: terraform runs in $(TF_DIR)).
deploy: lambda ## build the zips, terraform init and apply to AWS (asks to confirm), print the page URL
	$(TF) -chdir=$(TF_DIR) init $(TF_INIT_FLAGS)
	$(TF) -chdir=$(TF_DIR) apply -var 'lambda_dist_dir=$(abspath $(LAMBDA_DIST))' $(TF_APPLY_FLAGS)
	@echo
	@echo "upload page: $$($(TF) -chdir=$(TF_DIR) output -raw page_url)"
	@echo "API key:     terraform -chdir=$(TF_DIR) output -raw api_key"
