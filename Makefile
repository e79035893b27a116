# The front doors. Each target installs missing Debian packages first.
#   make run     build, then `horizons run`: the embedded cluster, the five services, a workload, a report
#   make test    build, then every test suite: unit, embedded, kafka (starts and stops a real
#                cluster itself), then the unit suite again under ASan/UBSan
#   make bench   release build, then the codec benchmark (results in bench/results/)
#   make kafka-up / kafka-down   a real 3-node Kafka cluster on 127.0.0.1:19092-19094
.PHONY: all deps build run test test-release test-asan bench clean

JOBS ?= $(shell nproc)
RELEASE := build/release
ASAN := build/asan
HORIZONS := $(RELEASE)/bin/horizons

all: build

deps:
	@tools/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	@$(HORIZONS) run

test: test-release test-asan

test-release: build
	@ctest --preset release -j $(JOBS)

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan -j $(JOBS) -L unit

bench: build
	@mkdir -p bench/results
	@$(RELEASE)/bin/horizons_codec_bench --benchmark_format=json --benchmark_out=bench/results/codec.json \
		--benchmark_out_format=json --benchmark_repetitions=3 --benchmark_report_aggregates_only=true >/dev/null
	@/usr/bin/python3 bench/codec_table.py < bench/results/codec.json

clean:
	rm -rf build

# A real 3-node Apache Kafka cluster on loopback for people (the kafka tests start their own).
.PHONY: kafka-up kafka-down
kafka-up: deps
	@tools/kafka/kafka.sh up
kafka-down:
	@tools/kafka/kafka.sh down
