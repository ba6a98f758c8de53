# The two commands of the README, and a few more, over CMake.
#   make bench   install what is missing, build Release, run the main job
#   make test    install what is missing, build with ASan/UBSan, run every test
# Each target installs only the Debian packages it lacks (see `deps`).

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
WORKLOAD  ?= workloads/seed.ini
RELEASE   := build/release
SANITIZE  := build/test
FUZZ      := build/fuzz

# Debian packages by name: what building and testing needs.
PACKAGES := cmake make gcc libc6-dev pkg-config libsqlite3-dev sqlite3 libinih-dev \
            libcriterion-dev gnuplot-nox clang libclang-rt-14-dev

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

FUZZ_SECONDS ?= 60

.PHONY: all deps build build-test build-fuzz bench bench-quick test fuzz format clean

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

build: deps
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DOVERLAP_TESTS=OFF >/dev/null
	cmake --build $(RELEASE) -j $(JOBS)

build-test: deps
	cmake -S . -B $(SANITIZE) -DCMAKE_BUILD_TYPE=Sanitize >/dev/null
	cmake --build $(SANITIZE) -j $(JOBS)

bench: build
	$(RELEASE)/overlap workload check workloads/*.ini

# The libFuzzer targets, built with clang; `make test` runs each for a few seconds.
build-fuzz: deps
	CC=clang cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=Fuzz -DOVERLAP_FUZZ=ON >/dev/null
	cmake --build $(FUZZ) -j $(JOBS)

test: build-test build-fuzz
	cd $(SANITIZE) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2
	cd $(FUZZ) && ctest --output-on-failure -j 2

# Each fuzz target for FUZZ_SECONDS (default 60); findings land in build/fuzz.
fuzz: build-fuzz
	cd $(FUZZ) && cmake -DOVERLAP_FUZZ_SECONDS=$(FUZZ_SECONDS) . >/dev/null && \
	  ctest --output-on-failure --timeout $$(( $(FUZZ_SECONDS) * 2 + 60 )); \
	  status=$$?; cmake -DOVERLAP_FUZZ_SECONDS=5 . >/dev/null; exit $$status

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
