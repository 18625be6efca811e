# Oven — the two commands a new engineer needs are `make run` and `make test`.
GO        ?= go
BIN       := .oven/bin
TOOLS     := $(CURDIR)/.oven/tools
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION        := v0.6.1
TEST_TIMEOUT ?= 15m

.PHONY: run scale build test test-short deps proto migrate admin lint fmt loadtest clean

## run: boot the whole stack (PostgreSQL, Redis, Couchbase dev server, etcd, 3 shards, presentation)
run: build deps
	@$(BIN)/run

## scale: add shards to, or drain shards from, a running `make run`: make scale SHARDS=4
scale:
	@test -n "$(SHARDS)" || { echo "usage: make scale SHARDS=N (with make run running)"; exit 1; }
	@test -x $(BIN)/run || $(MAKE) --no-print-directory build
	@$(BIN)/run scale $(SHARDS)

## loadtest: relay baseline + steady, burst and max load against a throw-away dev stack,
## then the invariant audit; report in loadtest/out (more: LOADTEST_ARGS='-find-max -social')
loadtest: build
	$(GO) build -o $(BIN)/loadtest ./loadtest
	$(BIN)/loadtest -boot $(BIN)/run -out loadtest/out $(LOADTEST_ARGS)

## build: compile the binaries into .oven/bin
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./application ./presentation ./deploy/run

## deps: install the system packages tests and the dev stack need (apt-get, as root)
deps:
	@./deploy/deps.sh

## test: every test, with the race detector, against real stores the tests start themselves
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-short: the same without -race (faster while editing)
test-short:
	$(GO) test -count=1 ./...

## proto: regenerate proto/ovenv1 with the pinned protoc plugins (generated code is committed)
proto:
	@command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler"; exit 1; }
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(TOOLS):$$PATH protoc --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative proto/ovenv1/oven.proto proto/ovenv1/admin.proto

## migrate: apply migrations to OVEN_DATABASE_URL (make run does this itself)
migrate:
	@test -n "$$OVEN_DATABASE_URL" || { echo "set OVEN_DATABASE_URL"; exit 1; }
	$(GO) run ./application migrate

## admin: add (or update) a GMS admin: make admin USERNAME=alice ROLE=editor
##        (password from OVEN_ADMIN_NEW_PASSWORD, else read from stdin)
admin:
	@test -n "$(USERNAME)" || { echo "usage: make admin USERNAME=alice ROLE=viewer|editor|publisher|operator"; exit 1; }
	@test -n "$$OVEN_DATABASE_URL" || { echo "set OVEN_DATABASE_URL (make run prints it in .oven/stack.json)"; exit 1; }
	$(GO) run ./application admin add -username "$(USERNAME)" -role "$(or $(ROLE),viewer)"

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(TOOLS)/staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)
