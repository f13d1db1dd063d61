# zrelay - the two commands a newcomer needs, and a few more.
#   make run     install missing dependencies, build, start the default relay
#   make test    install missing dependencies, build with ASan+UBSan, run
#                every test (CTest)
#   make         the optimized build: build/zrelay, build/libzrelay.{a,so}
#   make bench   benchmarks (optimized build), writes docs/PERFORMANCE.md
#   make bench-quick  a representative subset in under a minute, no file
#   make install PREFIX=/usr/local DESTDIR=
#   make clean

BUILD   ?= build
TESTDIR ?= build-asan
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build run test bench bench-quick install clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DZR_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/zrelay run

test: deps
	@cmake -S . -B $(TESTDIR) -DCMAKE_BUILD_TYPE=Debug -DZR_SANITIZE=ON \
	    >/dev/null
	@cmake --build $(TESTDIR) -j $(JOBS)
	cd $(TESTDIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The full matrix (about 20 minutes; keep the machine otherwise idle):
# docs/PERFORMANCE.md and docs/perf-throughput.png, keeping the hand-written
# analysis at the end of the former.
bench: build
	@scripts/deps.sh --bench
	bench/make-report.sh $(BUILD) docs/PERFORMANCE.md \
	    --zrelay-latency-arg=--busy-poll=200us

bench-quick: build
	$(BUILD)/zrelay-bench --quick

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(TESTDIR)
