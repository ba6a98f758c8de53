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

.PHONY: all deps build build-test bench test fuzz format clean

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

test: build-test
	cd $(SANITIZE) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
