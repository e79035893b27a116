# The front doors. Each target installs missing Debian packages first.
#   make run     build, then `horizons run`: the embedded cluster, the five services, a workload, a report
#   make test    build, then every test suite: unit, embedded, kafka (starts and stops a real
#                cluster itself), postgres (starts and stops its own server), slurm (its own
#                single-node Slurm), ..., then the unit and
#                postgres suites again under ASan/UBSan, then every fuzz target for FUZZ_SMOKE_SECONDS
#   make fuzz    the fuzz targets (clang, libFuzzer) for FUZZ_SECONDS each (default 60; fuzz/README.md)
#   make bench   release build, then the codec benchmark and `horizons bench`, its platform scenario
#                included (results in bench/results/)
#   make kafka-up / kafka-down   a real 3-node Kafka cluster on 127.0.0.1:19092-19094
#   make registry-up / registry-down   a Confluent-compatible schema registry (Apicurio) on 127.0.0.1:18081
#   make slurm-up / slurm-down   a single-node Slurm (tools/slurm); then `export SLURM_CONF=...` as printed
#   make format / format-check   apply / check .clang-format on every tracked C++ file (CI checks)
.PHONY: all deps build run test test-release test-asan fuzz bench clean format format-check slurm-up slurm-down

JOBS ?= $(shell nproc)
RELEASE := build/release
ASAN := build/asan
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
HORIZONS := $(RELEASE)/bin/horizons

all: build

deps:
	@tools/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	@$(HORIZONS) run --dashboard

# Each step once; `test` runs them, the others one each. NICE is empty unless `test` sets it.
ASAN_BUILD = cmake --preset asan >/dev/null && $(NICE) cmake --build --preset asan -j $(JOBS) --target tests_unit tests_postgres
ASAN_TESTS = ctest --preset asan -j $(JOBS) -L 'unit|postgres'
FUZZ_BUILD = cmake --preset fuzz >/dev/null && $(NICE) cmake --build --preset fuzz -j $(JOBS) --target fuzz_targets

# The sanitizer and fuzz builds run at the lowest CPU priority while the release suites run: they mostly
# wait on brokers, servers and child processes, so the builds take the idle CPU instead of time of their own.
# The ASan suites start as soon as their build is done, while the fuzz build may still be going on.
test: NICE = nice -n 19
test: build
	@mkdir -p build
	@{ $(ASAN_BUILD); } > build/asan-build.log 2>&1 & asan_build=$$!; \
	{ $(FUZZ_BUILD); } > build/fuzz-build.log 2>&1 & fuzz_build=$$!; \
	ctest --preset release -j $(JOBS); release=$$?; \
	if ! wait $$asan_build; then cat build/asan-build.log; echo "make test: the ASan build failed" >&2; exit 1; fi; \
	$(ASAN_TESTS); asan=$$?; \
	if ! wait $$fuzz_build; then cat build/fuzz-build.log; echo "make test: the fuzz build failed" >&2; exit 1; fi; \
	FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) fuzz/run.sh; fuzz=$$?; \
	test $$release -eq 0 && test $$asan -eq 0 && test $$fuzz -eq 0

test-release: build
	@ctest --preset release -j $(JOBS)

test-asan: deps
	@$(ASAN_BUILD)
	@$(ASAN_TESTS)

fuzz: deps
	@$(FUZZ_BUILD)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh

# Codec benchmark, then `horizons bench` on the embedded cluster and, only when tools/kafka is already up,
# on the real cluster (never started from here); the platform's capacity on SQLite, and on PostgreSQL when
# tools/postgres is up. Results: bench/results/*.json and *.svg.
bench: build
	@mkdir -p bench/results
	@$(RELEASE)/bin/horizons_codec_bench --benchmark_format=json --benchmark_out=bench/results/codec.json \
		--benchmark_out_format=json --benchmark_repetitions=3 --benchmark_report_aggregates_only=true >/dev/null
	@/usr/bin/python3 bench/codec_table.py < bench/results/codec.json
	@env -u KAFKA_BROKERS $(HORIZONS) bench --json --plot bench/results/embedded.svg > bench/results/embedded.json
	@/usr/bin/python3 bench/bench_table.py bench/results/embedded.json
	@env -u KAFKA_BROKERS $(HORIZONS) bench --scenario platform --json > bench/results/platform-embedded.json
	@if tools/kafka/kafka.sh status >/dev/null 2>&1; then \
		$(HORIZONS) bench --brokers "$$(tools/kafka/kafka.sh bootstrap)" --json --plot bench/results/kafka.svg \
			> bench/results/kafka.json && /usr/bin/python3 bench/bench_table.py bench/results/kafka.json && \
		$(HORIZONS) bench --scenario platform --brokers "$$(tools/kafka/kafka.sh bootstrap)" --json \
			> bench/results/platform-kafka.json; \
	else \
		echo "bench: tools/kafka is not up, real-cluster run skipped (make kafka-up starts it)"; \
	fi
	@if tools/postgres/postgres.sh status >/dev/null 2>&1; then \
		env -u KAFKA_BROKERS $(HORIZONS) bench --scenario platform-scale --json \
			--platform-postgres "$$(tools/postgres/postgres.sh url)" > bench/results/platform-scale.json; \
	else \
		echo "bench: tools/postgres is not up, platform-scale run on SQLite only (tools/postgres/postgres.sh up)"; \
		env -u KAFKA_BROKERS $(HORIZONS) bench --scenario platform-scale --json > bench/results/platform-scale.json; \
	fi

clean:
	rm -rf build

CXX_SOURCES = git ls-files -z -- '*.cpp' '*.hpp'
format: deps
	@$(CXX_SOURCES) | xargs -0 clang-format -i
format-check: deps
	@$(CXX_SOURCES) | xargs -0 clang-format --dry-run -Werror || \
		{ echo "format-check: run 'make format' (clang-format, .clang-format)" >&2; exit 1; }

# A real 3-node Apache Kafka cluster on loopback for people (the kafka tests start their own).
.PHONY: kafka-up kafka-down registry-up registry-down
kafka-up: deps
	@tools/kafka/kafka.sh up
kafka-down:
	@tools/kafka/kafka.sh down

slurm-up: deps
	@tools/slurm/slurm.sh up
slurm-down:
	@tools/slurm/slurm.sh down

# An independent Confluent-compatible schema registry on loopback (tools/registry/README.md).
registry-up: deps
	@tools/registry/registry.sh up
registry-down:
	@tools/registry/registry.sh down
