# zrelay - the two commands a newcomer needs, and a few more.
#   make run     install missing dependencies, build, start the default relay
#   make test    install missing dependencies, build with ASan+UBSan, run
#                every test (CTest)
#   make         the optimized build: build/zrelay, build/libzrelay.{a,so}
#   make bench   benchmarks (optimized build), writes docs/PERFORMANCE.md
#   make bench-quick  a representative subset in under a minute, no file
#   make bench-cost   instructions and syscalls per message, zrelay vs
#                     zmq_proxy (callgrind, perf; about 4 minutes)
#   make bench-scale  cost as peers, subscriptions and connections grow
#   make bench-hostile  a client's round trips beside 500 garbage peers
#   make fuzz    every fuzz target for FUZZ_SECONDS (60) each, with clang
#                and libFuzzer: executions, coverage, findings
#                (docs/FUZZING.md)
#   make install PREFIX=/usr/local DESTDIR=
#   make deb     the Debian packages zrelay, libzrelay0 and libzrelay-dev
#                in build-deb/ (debian/, dist/make-deb.sh), lintian-checked
#   make clean

BUILD   ?= build
TESTDIR ?= build-asan
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
FUZZDIR ?= build-fuzz
DEBDIR  ?= build-deb
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: all deps build run test bench bench-quick bench-cost bench-scale \
	bench-hostile fuzz install deb clean

# The build's own makes (cmake --build runs make) inherit this: progress
# lines and the result, not hundreds of "Entering directory" lines.
MAKEFLAGS += --no-print-directory

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DZR_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@echo "built: $(BUILD)/zrelay, $(BUILD)/libzrelay.so, $(BUILD)/libzrelay.a"

run: build
	$(BUILD)/zrelay run

test: deps
	@cmake -S . -B $(TESTDIR) -DCMAKE_BUILD_TYPE=Debug -DZR_SANITIZE=ON \
	    >/dev/null
	@cmake --build $(TESTDIR) -j $(JOBS)
	cd $(TESTDIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The full matrix (about 20 minutes; keep the machine otherwise idle):
# docs/PERFORMANCE.md and docs/perf-throughput.png, keeping the hand-written
# analysis at the end of the former. zrelay runs with its default options
# (issue 13's latency goal is without busy-poll); to see what a busy-poll
# does: bench/make-report.sh $(BUILD) OUT.md --zrelay-latency-arg=--busy-poll=200us
bench: build
	@scripts/deps.sh --bench
	bench/make-report.sh $(BUILD) docs/PERFORMANCE.md

bench-quick: build
	$(BUILD)/zrelay-bench --quick

# Counts, not times (bench/README.md, "Cost per message"): instructions
# per message of each relay process under callgrind, syscalls per message
# at full speed (perf tracepoints: root). The tables go to stdout.
bench-cost: build
	@scripts/deps.sh --bench
	bench/cost.sh $(BUILD)
# Cost as the work grows (about 10 minutes): forwarder fan-out, subscription
# count, queue peers, connection churn, I/O threads; the "Scale" section of
# docs/PERFORMANCE.md and docs/perf-scale-*.png (bench/README.md). A subset
# in under a minute, tables only: $(BUILD)/zrelay-bench-scale --quick
bench-scale: build
	@scripts/deps.sh --bench
	bench/make-scale.sh $(BUILD) docs/PERFORMANCE.md

# What strangers cost a legitimate client (issue 14): a table on stdout.
bench-hostile: build
	$(BUILD)/zrelay-bench-hostile

# The fuzz targets built with clang and libFuzzer (ZR_FUZZ=ON, its own
# build directory), then each run for FUZZ_SECONDS; FUZZ_TARGETS="config
# ctl" runs only those. New inputs stay in $(FUZZDIR)/fuzz-corpus, crashes
# go to $(FUZZDIR)/fuzz-crashes (docs/FUZZING.md says what to do next).
fuzz:
	@scripts/deps.sh --fuzz
	@CC=clang-14 cmake -S . -B $(FUZZDIR) -DCMAKE_BUILD_TYPE=Debug \
	    -DZR_FUZZ=ON -DZR_BUILD_TESTS=OFF -DZR_BUILD_BENCH=OFF \
	    -DZR_BUILD_EXAMPLES=OFF >/dev/null
	@cmake --build $(FUZZDIR) -j $(JOBS) --target zr_fuzz_all
	fuzz/run.sh $(FUZZDIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# DESTDIR (from the command line or the environment) stages the files
# under it; the paths written into them name PREFIX (README.md, Install).
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)
	@echo "installed under $(DESTDIR)$(PREFIX) (README.md: Install)"

# Built out of the source tree, from a copy in $(DEBDIR) (README.md,
# "Installing from the package"); tests/deb/install_test.sh installs and
# purges them (as root: CI runs it after make test).
deb:
	@scripts/deps.sh --deb
	dist/make-deb.sh $(DEBDIR) $(JOBS)

clean:
	rm -rf $(BUILD) $(TESTDIR) $(FUZZDIR) $(DEBDIR)
