# SKEET: the two commands are `make run` and `make test`.
#
#   make run     build everything in release mode and start SKEET on its embedded default
#   make test    formatting, lints and every test (what CI runs, via .ci/run)
#   make bench   criterion benchmarks (results: docs/benchmarks.md)

CARGO ?= cargo
SKEET := target/release/skeet
DATA_DIR ?= ./skeet-data

.PHONY: run build ui test lint unit ui-test bench clean

# The platform itself (Ctrl-C stops it); the first start seeds a demo workspace.
run: build
	@$(SKEET) --data-dir $(DATA_DIR) serve --listen $${SKEET_LISTEN:-127.0.0.1:8080}

build: ui
	$(CARGO) build --release --locked -p skeet-cli

# The dashboard (frontend/dist), served by `skeet serve`. Needs Node.js >= 20.19 and npm.
ui:
	@command -v npm >/dev/null 2>&1 || { echo "make: npm is not installed: install Node.js 20.19+ to build the dashboard (the API works without it)"; exit 1; }
	cd frontend && npm ci --prefer-offline --no-audit --no-fund && npm run build

test: lint unit ui-test

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

# The dashboard: generated API types up to date with docs/openapi.json, type check + build,
# component tests (vitest), then end-to-end tests in headless Chromium against the real
# `skeet serve` (the debug binary the Rust tests built). Without Chromium the end-to-end tests
# are skipped with a note, unless SKEET_REQUIRE_SERVICES=1 (CI), where that is a failure.
ui-test:
	cd frontend && npm ci --prefer-offline --no-audit --no-fund && npm run check:api && npm run build && npm test
	@if [ -x "$${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then \
		$(CARGO) build --locked -p skeet-cli -p skeet-testkit && cd frontend && npx playwright test; \
	elif [ "$${SKEET_REQUIRE_SERVICES:-}" = "1" ]; then \
		echo "Chromium is required for the dashboard's end-to-end tests (SKEET_REQUIRE_SERVICES=1): apt-get install chromium"; exit 1; \
	else \
		echo "note: Chromium not found, dashboard end-to-end tests skipped (apt-get install chromium)"; \
	fi

bench:
	$(CARGO) bench --workspace

clean:
	$(CARGO) clean
