# orderflow: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

STACK_DIR ?= $(CURDIR)/.stack
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Tests against the one long-lived stack; -p 1 keeps packages from racing for the
# fixed scrape address and from starving the servers on a 2-core machine.
TEST_FLAGS ?= -race -count=1 -p 1 -timeout 20m
# The end-to-end tests of whole paths under faults (stand-ins failing a third of their
# calls, the dispatcher SIGKILLed and started again; the fault suite's connector cases:
# stand-ins failing half, timing out, 429 storms, the dispatcher killed between a call and
# its commit) and through time (seven years of orders purged, offboarded and purged
# again): their own target, which .ci/run runs after `make test`, so that `make test`
# stays near ten minutes.
E2E_TESTS := ^(TestCourierJobsReachTheirCouriersOnce|TestBooksArePostedOnceAndReconcile|TestSevenYearsOfOrders|TestFault(Courier|Books).*)$$
E2E_PKGS := ./worker/cmd/orderflow/ ./worker/retention/
# The tests against the local ClickHouse cluster (make cluster-up) are named TestCluster*:
# make test-cluster runs them, with the cluster's addresses from .stack/cluster.env.
CLUSTER_TESTS := ^TestCluster
# The packages that have some: the others need not be built for them.
CLUSTER_PKGS = $(sort $(dir $(shell grep -rl --include='*_test.go' '^func TestCluster' .)))

# TLS=1 (make demo TLS=1): orderflow's own connections go to the stack's TLS listeners
# (Kafka SASL_SSL with a client certificate, ClickHouse's secure port, Vault HTTPS), which
# always run beside the plaintext ones: .stack/tls.env overrides .stack/env.
TLS ?= 0
# CLUSTER=1 (make up CLUSTER=1): the local ClickHouse cluster too (make cluster-up).
CLUSTER ?= 0
STACK_ENV = set -a; source "$(STACK_DIR)/env"; $(if $(filter 1,$(TLS)),source "$(STACK_DIR)/tls.env";) $(if $(filter 1,$(CLUSTER)),$(CLUSTER_ENV);) set +a
# With CLUSTER=1 orderflow's commands (make demo CLUSTER=1) run in cluster mode on the
# local cluster, reached through its servers' addresses.
CLUSTER_ENV = source "$(STACK_DIR)/cluster.env"; \
	ORDERFLOW_CLICKHOUSE_ADDR="$$ORDERFLOW_TEST_CLICKHOUSE_CLUSTER_SHARD_1,$$ORDERFLOW_TEST_CLICKHOUSE_CLUSTER_SHARD_2"; \
	ORDERFLOW_CLICKHOUSE_CLUSTER="$$ORDERFLOW_TEST_CLICKHOUSE_CLUSTER"

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/orderflow
	go build -ldflags "$(LDFLAGS)" -o bin/orderflow ./worker/cmd/orderflow

.PHONY: image
image: ## build the container image localhost/orderflow:<version> and :latest (FROM scratch, non-root, no shell) with podman: deploy/image
	VERSION=$(VERSION) COMMIT=$(COMMIT) deploy/image/build.sh

.PHONY: up
up: ## install what is missing and start Kafka, ClickHouse, Vault and Prometheus (their TLS listeners too; TLS=1 says how to use them)
	deploy/local/stack.sh up
	$(if $(filter 1,$(CLUSTER)),deploy/local/clickhouse-cluster.sh start)
	$(if $(filter 1,$(TLS)),@echo "TLS=1: orderflow's own connections go over TLS with: set -a; . $(STACK_DIR)/env; . $(STACK_DIR)/tls.env; set +a (make demo TLS=1 does it)")

.PHONY: down
down: ## stop the local stack (and the local cluster and the small-disk ClickHouse, if they run)
	deploy/local/stack.sh down

.PHONY: cluster-up
cluster-up: ## start the local ClickHouse cluster: ZooKeeper and three more ClickHouse 18.16 servers, 2 shards (addresses in .stack/cluster.env)
	deploy/local/install.sh
	deploy/local/clickhouse-cluster.sh start

.PHONY: cluster-down
cluster-down: ## stop the local ClickHouse cluster (the stack keeps running)
	deploy/local/clickhouse-cluster.sh stop

.PHONY: cluster-status
cluster-status: ## say which of the local cluster's servers run
	@deploy/local/clickhouse-cluster.sh status || true

.PHONY: smalldisk-up
smalldisk-up: ## start the small-disk ClickHouse: one more 18.16 server on a size-limited tmpfs, for the disk-full tests (needs root; addresses in .stack/smalldisk.env)
	deploy/local/install.sh
	deploy/local/clickhouse-smalldisk.sh start

.PHONY: smalldisk-down
smalldisk-down: ## stop the small-disk ClickHouse and unmount its disk (the stack keeps running)
	deploy/local/clickhouse-smalldisk.sh stop

.PHONY: stack-status
stack-status: ## say which of the stack's servers run
	@deploy/local/stack.sh status || true

.PHONY: test
test: up smalldisk-up ## start the stack (and the small-disk ClickHouse) if needed, then run every test against it (but test-e2e's and the cluster's), and test-current
	status=0; set -a; source "$(STACK_DIR)/env"; source "$(STACK_DIR)/smalldisk.env"; set +a; go test $(TEST_FLAGS) -skip '$(E2E_TESTS)|$(CLUSTER_TESTS)' ./... || status=$$?; \
	$(MAKE) --no-print-directory test-current || status=$$?; exit $$status

# The stack's ClickHouse is 18.16 (Debian's); users run current releases. chdb-core embeds
# a current ClickHouse in Python: deploy/local/chdb.sh makes its virtualenv once per machine.
.PHONY: test-current
test-current: ## the migrations, sample queries, purge and erasure SQL on a current ClickHouse (chdb-core 26.9, in-process; needs no stack)
	"$$(deploy/local/chdb.sh)" -m unittest discover -s schemas/clickhouse/current -v

.PHONY: test-e2e
test-e2e: up ## the end-to-end tests: couriers and books under faults, seven years of retention (.ci/run runs them too)
	set -a; source "$(STACK_DIR)/env"; set +a; go test $(TEST_FLAGS) -run '$(E2E_TESTS)' $(E2E_PKGS)

.PHONY: test-cluster
# TEST_FLAGS' -p 1 matters here: some tests stop and start the cluster's servers, and
# every ON CLUSTER statement of a package run beside them would wait for the stopped one.
test-cluster: up cluster-up ## the tests against the local ClickHouse cluster (TestCluster*), with the stack and the cluster started
	set -a; source "$(STACK_DIR)/env"; source "$(STACK_DIR)/cluster.env"; set +a; go test $(TEST_FLAGS) -run '$(CLUSTER_TESTS)' $(CLUSTER_PKGS)

# The fault suite (worker/faults, and the connectors' TestFault* in worker/cmd/orderflow):
# make test runs each case's short version; make faults the long ones (30 s outages, a
# dozen kills, 20,000-30,000 messages a case). FAULTS_FLAGS adds go test flags, such as
# -count=3 or -run TestFaultVault.
FAULT_PKGS := ./worker/faults/ ./worker/cmd/orderflow/
FAULTS_FLAGS ?=
.PHONY: faults
faults: up smalldisk-up ## the fault suite's long cases: servers stopped, workers killed, rebalances, stand-ins failing (not in CI)
	set -a; source "$(STACK_DIR)/env"; source "$(STACK_DIR)/smalldisk.env"; set +a; ORDERFLOW_FAULTS_LONG=1 go test -race -count=1 -p 1 -timeout 90m -v -run '^TestFault' $(FAULTS_FLAGS) $(FAULT_PKGS)

.PHONY: test-short
test-short: ## unit tests only: integration tests skip without the stack (CI never skips)
	go test -race -count=1 ./...

.PHONY: bench
bench: up build ## end-to-end benchmark: bin/orderflow beside bare kafka-go and clickhouse-go on the same data; results in worker/bench/results
	go build -o bin/orderflow-bench ./worker/cmd/orderflow-bench
	set -a; source "$(STACK_DIR)/env"; set +a; bin/orderflow-bench $(BENCH_FLAGS)

# BENCH_FLAGS: e.g. --runs 1 --orders 50000 --latency-rates 1000,2000 --latency-duration 10s --keep
BENCH_FLAGS ?=

.PHONY: soak
soak: up build ## soak (not in CI): the worker at a steady 5,000 orders/s for 20 min with the purge every minute; heap, goroutines, open files and parts per partition judged flat; results in worker/bench/results/soak-<UTC start>
	go build -o bin/orderflow-bench ./worker/cmd/orderflow-bench
	set -a; source "$(STACK_DIR)/env"; set +a; bin/orderflow-bench --soak $(SOAK_FLAGS)

# SOAK_FLAGS: e.g. --rate 3000 --duration 2m --sample-interval 5s --retention-interval 1m --keep
SOAK_FLAGS ?= --rate 5000 --duration 20m

.PHONY: microbench
microbench: up ## micro-benchmarks (decode + normalise, card scan, Vault batching, ClickHouse writer) on one core, against the stack
	set -a; source "$(STACK_DIR)/env"; set +a; go test -run '^$$' -bench . -benchmem -cpu 1 $(BENCH_PKGS)

BENCH_PKGS ?= ./worker/... ./connectors/...

.PHONY: demo
demo: up build ## the main job end to end: fresh topics and databases, generated orders, the worker, a summary
	$(STACK_ENV); bin/orderflow demo --config deploy/local/orderflow.yaml $(DEMO_FLAGS)
	@echo "The stack is still running for exploring; 'make down' stops it."

# DEMO_FLAGS: e.g. --count 100000 --seed 7 --tenants 5
DEMO_FLAGS ?=

.PHONY: dashboards
dashboards: ## write dashboards/*.json from their builders (dashboards/generate); a test fails when they differ
	go run ./dashboards/generate

.PHONY: pictures
pictures: up ## draw each dashboard's main panels from the stack's Prometheus (run after make demo) to dashboards/pictures/<uid>.png
	set -a; source "$(STACK_DIR)/env"; set +a; go run ./worker/cmd/orderflow-pictures $(PICTURES_FLAGS)

# PICTURES_FLAGS: e.g. --since 1h (the window ends now; default 15m)
PICTURES_FLAGS ?=

.PHONY: migrate
migrate: up build ## apply the ClickHouse schema to the local stack's databases
	set -a; source "$(STACK_DIR)/env"; set +a; bin/orderflow migrate --config deploy/local/orderflow.yaml

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
