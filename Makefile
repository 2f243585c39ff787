# SKEET: the two commands are `make run` and `make test`.
#
#   make run     build everything in release mode and start SKEET on its embedded default
#   make test    formatting, lints and every test (what CI runs, via .ci/run)
#   make bench   criterion benchmarks (results: docs/benchmarks.md)

CARGO ?= cargo
SKEET := target/release/skeet
DATA_DIR ?= ./skeet-data

.PHONY: run build test lint unit bench clean

# The platform itself (Ctrl-C stops it); the first start seeds a demo workspace.
run: build
	@$(SKEET) --data-dir $(DATA_DIR) serve --listen $${SKEET_LISTEN:-127.0.0.1:8080}

build:
	$(CARGO) build --release --locked -p skeet-cli

test: lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# cargo-nextest runs every test in its own process (isolation, parallelism); doctests are not
# supported by nextest, so they run separately.
unit:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --locked --no-fail-fast && \
		$(CARGO) test --workspace --doc --locked; \
	else \
		$(CARGO) test --workspace --locked --no-fail-fast; \
	fi

bench:
	$(CARGO) bench --workspace

clean:
	$(CARGO) clean
