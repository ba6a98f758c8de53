# The two commands of the README, and a few more, over CMake.
#   make bench   install what is missing, build Release, run the main job
#   make test    install what is missing, build every build type with warnings
#                as errors, run every test, and run the main job's quick sweep
#                with the Release binary `make bench` uses
# Each target installs only the Debian packages it lacks (see `deps`).

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
# `make bench`: SUITE picks the suite, WORKLOAD (if set) replaces its workload,
# RESULTS is where the results folders go, BENCH_FLAGS adds any `overlap bench` flag.
SUITE       ?= harness/suites/default.ini
WORKLOAD    ?=
RESULTS     ?= results
BENCH_FLAGS ?=
RELEASE   := build/release
SANITIZE  := build/test
FUZZ      := build/fuzz
TSAN      := build/tsan
STRICT    := build/strict

# Debian packages by name: what building and testing needs.
PACKAGES := cmake make gcc libc6-dev pkg-config libsqlite3-dev sqlite3 libinih-dev \
            libcriterion-dev libhttp-parser-dev gnuplot-nox clang libclang-rt-14-dev libpq-dev zlib1g-dev \
            liburing-dev libjansson-dev iproute2
# The PostgreSQL server `overlap pg` runs: what its tests need (`make test`).
PG_PACKAGES := postgresql-15
# The runtimes of the shipped external engines, as their manifests name them
# (engines/*.ini, `packages =`): `make test` checks every one.
EXT_PACKAGES := $(sort $(shell sed -n 's/^packages[[:space:]]*=//p' engines/*.ini))

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

FUZZ_SECONDS ?= 60

.PHONY: all deps build build-test build-fuzz build-tsan build-strict bench bench-quick bench-peers \
        bench-runtimes bench-uring bench-pgcost \
        test test-tsan test-main-job test-report fuzz format clean

all: build

# Installs the missing packages only; `apt-get update` runs only when one is missing.
deps:
	@missing=""; for p in $(PACKAGES) $(EXTRA_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The user's build: a warning is printed, never fatal (a newer compiler may
# warn where Debian's does not). `make test` builds this very binary with
# WERROR=ON before its quick sweep runs it, so an optimiser-only warning
# (gcc's -Wmaybe-uninitialized at -O2) stops `make test`, not a user's
# `make bench` (which then rebuilds it once with WERROR=OFF).
WERROR ?= OFF
build: deps
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DOVERLAP_TESTS=OFF -DOVERLAP_WERROR=$(WERROR) >/dev/null
	cmake --build $(RELEASE) -j $(JOBS)

build-test: deps
	cmake -S . -B $(SANITIZE) -DCMAKE_BUILD_TYPE=Sanitize -DOVERLAP_WERROR=ON >/dev/null
	cmake --build $(SANITIZE) -j $(JOBS)

# More compilers and levels, warnings as errors, tests included: `make
# build-strict STRICT_BUILDS='clang-Release gcc-Debug'`. Not part of `make
# test`, which builds Release with gcc (the user's binary, above), Sanitize
# (gcc -O1) and Fuzz (clang -O1), each with warnings as errors, within its
# ten minutes.
STRICT_BUILDS ?= gcc-Release clang-Release
build-strict: deps
	@for b in $(STRICT_BUILDS); do \
	  cc=$${b%%-*}; type=$${b#*-}; echo "build-strict: $$cc $$type"; \
	  CC=$$cc cmake -S . -B $(STRICT)/$$b -DCMAKE_BUILD_TYPE=$$type -DOVERLAP_WERROR=ON >/dev/null && \
	  cmake --build $(STRICT)/$$b -j $(JOBS) >$(STRICT)/$$b.log 2>&1 || \
	  { grep -E -m 20 'error|warning' $(STRICT)/$$b.log; echo "build-strict: $$cc $$type failed ($(STRICT)/$$b.log)"; exit 1; }; \
	done

# Debian packages `make test-report` and `make test` need: a browser to open
# report.html.
REPORT_PACKAGES := chromium

# The sweep, then its charts and report.html, which overlap bench draws as
# it ends (results/latest is the new folder). A suite that runs its own
# PostgreSQL (`database = postgres`, or `--database postgres` in
# BENCH_FLAGS) gets postgresql-15 installed first; no other suite does.
PG_SUITE := $(shell grep -Eqs '^[[:space:]]*database[[:space:]]*=[[:space:]]*postgres[[:space:]]*$$' \
              $(SUITE) && echo yes)$(findstring --database postgres,$(BENCH_FLAGS))
bench: EXTRA_PACKAGES += $(if $(PG_SUITE),$(PG_PACKAGES))
# and an external engine's runtime (ext:NAME in the suite or the flags) is
# installed from its manifest's `packages`
EXT_NAMES := $(patsubst ext:%,%,$(shell grep -hoE 'ext:[A-Za-z0-9_.-]+' $(SUITE) 2>/dev/null; \
               echo '$(BENCH_FLAGS)' | grep -oE 'ext:[A-Za-z0-9_.-]+'))
bench: EXTRA_PACKAGES += $(sort $(foreach n,$(EXT_NAMES),\
                           $(shell sed -n 's/^packages[[:space:]]*=//p' engines/$(n).ini 2>/dev/null)))
bench: build
	$(RELEASE)/overlap bench --suite $(SUITE) $(if $(WORKLOAD),--workload $(WORKLOAD)) \
	  --out $(RESULTS) $(BENCH_FLAGS)

# Two configs, a few short points, each twice, and the timeline: under a minute.
bench-quick: build
	$(RELEASE)/overlap bench --quick $(if $(WORKLOAD),--workload $(WORKLOAD)) \
	  --out $(RESULTS) $(BENCH_FLAGS)

# Opens a report.html (the fixture's, or REPORT=DIR's) in headless Chromium:
# fails on a missing chart or image or a script error; saves a screenshot.
test-report: EXTRA_PACKAGES += $(REPORT_PACKAGES)
test-report: build
	harness/test-report.sh $(RELEASE)/overlap $(REPORT)

# The libFuzzer targets, built with clang; `make test` runs each for a few seconds.
build-fuzz: deps
	CC=clang cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Fuzz -DOVERLAP_FUZZ=ON -DOVERLAP_WERROR=ON >/dev/null
	cmake --build $(FUZZ) -j $(JOBS)

# ThreadSanitizer over the servers and the database: Criterion cannot run
# under TSan, so the ASan-built tests start a TSan-built overlap, and a race
# ends that child with status 66, which fails the test.
build-tsan: deps
	cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Tsan -DOVERLAP_TESTS=OFF -DOVERLAP_WERROR=ON >/dev/null
	cmake --build $(TSAN) -j $(JOBS) --target overlap

test: EXTRA_PACKAGES += $(PG_PACKAGES) $(EXT_PACKAGES) $(REPORT_PACKAGES)
# The Release binary is built first, with warnings as errors; then the main
# job and the TSan pass run beside the sanitized suites (their output after
# theirs): the suites wait on sweeps' windows and servers half the time, and
# every test must pass with other work beside it anyway.
test: build-test build-fuzz build-tsan
	$(MAKE) --no-print-directory build WERROR=ON
	@main_log=$$(mktemp); tsan_log=$$(mktemp); \
	$(MAKE) --no-print-directory test-main-job WERROR=ON >"$$main_log" 2>&1 & main=$$!; \
	$(MAKE) --no-print-directory test-tsan >"$$tsan_log" 2>&1 & tsan=$$!; \
	(cd $(SANITIZE) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2); status=$$?; \
	wait $$main; main_status=$$?; wait $$tsan; tsan_status=$$?; \
	echo "---- the main job ----"; cat "$$main_log"; rm -f "$$main_log"; \
	echo "---- the TSan pass ----"; cat "$$tsan_log"; rm -f "$$tsan_log"; \
	[ $$status = 0 ] && [ $$main_status = 0 ] && [ $$tsan_status = 0 ]
	cd $(FUZZ) && ctest --output-on-failure -j 2

# The README's main job as a user runs it: `make bench-quick` (the Release
# build, the quick sweep, its charts) into a temporary folder, then a check
# that the folder holds every run, the CSVs, the charts and report.html, and
# report.html opened in headless Chromium (harness/test-report.sh): no script
# error, no missing image, the answer and the summary table on the first
# screen, whose screenshot is kept in build/test-main-job/.
MAIN_JOB_OUT := build/test-main-job
test-main-job: EXTRA_PACKAGES += $(REPORT_PACKAGES)
test-main-job: build
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory bench-quick RESULTS=$$tmp BENCH_FLAGS= WORKLOAD= && \
	tests/main-job.sh $$tmp/latest && \
	harness/test-report.sh - $$tmp/latest; status=$$?; \
	mkdir -p $(MAIN_JOB_OUT) && cp $$tmp/latest/report*.png $(MAIN_JOB_OUT)/ 2>/dev/null; \
	exit $$status

# The faults suite's overload test is left to the sanitized pass: seven
# engines each held at three times its bound burn a core for 45 s, under
# TSan several times that, beside the other suites; the engine suite's
# 200-connection overload still runs under TSan.
test-tsan: build-test build-tsan
	cd $(SANITIZE) && OVERLAP_BIN=$(CURDIR)/$(TSAN)/overlap \
	  TSAN_OPTIONS=halt_on_error=1:exitcode=66 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  CRITERION_TEST_PATTERN='!(faults/overload_at_three_times_the_bound)' \
	  ctest -R 'test_engine|test_async|test_db|test_faults' --output-on-failure -j 2

# /plaintext where the server is the limit: the pipelined peak (wrk) and the
# CPU per request at a fixed open-loop rate (overlap load) of overlap-floor,
# nginx, async and the pool (see harness/peers.sh; ROUNDS, DURATION);
# installs nginx-light and wrk when missing.
PEERS_PACKAGES := nginx-light wrk
bench-peers: EXTRA_PACKAGES += $(PEERS_PACKAGES)
bench-peers: build
	harness/peers.sh $(RELEASE)/overlap

# io_uring's ladder against epoll on /plaintext (harness/perf/ladder.sh):
# async and uring's four steps at 1, 10, 100 and 1,000 connections, their
# peaks, CPU and system calls per request and p99 at one rate all hold, and
# RSS per idle connection; installs wrk and perf when missing.
URING_PACKAGES := wrk linux-perf
bench-uring: EXTRA_PACKAGES += $(URING_PACKAGES)
bench-uring: build
	harness/perf/ladder.sh $(RELEASE)/overlap

# What the engines' PostgreSQL client costs the server a query, against
# `pgbench -M prepared` as a client of the same select
# (harness/perf/pgcost.sh; ROUNDS, RATE, CONNS); installs postgresql-15.
bench-pgcost: EXTRA_PACKAGES += $(PG_PACKAGES)
bench-pgcost: build
	harness/perf/pgcost.sh $(RELEASE)/overlap

# What each shipped external engine's runtime costs beside async and the
# floor: CPU per /plaintext request at a rate all hold, best of ROUNDS, and
# RSS per idle keep-alive connection (harness/perf/runtimes.sh; RATE, IDLE).
bench-runtimes: EXTRA_PACKAGES += $(EXT_PACKAGES)
bench-runtimes: build
	harness/perf/runtimes.sh $(RELEASE)/overlap

# Each fuzz target for FUZZ_SECONDS (default 60); findings land in build/fuzz.
fuzz: build-fuzz
	cd $(FUZZ) && cmake -DOVERLAP_FUZZ_SECONDS=$(FUZZ_SECONDS) . >/dev/null && \
	  ctest --output-on-failure --timeout $$(( $(FUZZ_SECONDS) * 2 + 60 )); \
	  status=$$?; cmake -DOVERLAP_FUZZ_SECONDS=3 . >/dev/null; exit $$status

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
