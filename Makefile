# tenantguard: build, run, test, bench.  See README.md.
CC       ?= gcc
BUILD    ?= build
PKGS     := libmicrohttpd gnutls jansson yaml-0.1 openssl libcurl
# Debian packages the build and the tests need; installed on demand (as root).
DEB_PKGS := gcc make pkg-config libmicrohttpd-dev libjansson-dev libssl-dev libyaml-dev \
            libcurl4-openssl-dev libgnutls28-dev curl openssl python3 python3-jsonpatch python3-yaml publicsuffix

WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
BASEFLAGS:= -D_GNU_SOURCE -O2 -g
ifeq ($(SAN),1)
BASEFLAGS:= -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
endif
# libFuzzer harnesses (tests/fuzz/): clang, with the library rebuilt for them in build/fuzz.
ifeq ($(FUZZ),1)
BASEFLAGS:= -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
            -fno-sanitize-recover=undefined
endif
INCLUDES  := -Iwebhook -Iwebhook/kube -Iwebhook/controller -Ipolicies -Icerts
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARN) $(BASEFLAGS) $(INCLUDES) $(PKG_CFLAGS) $(CFLAGS)
# policies/ is pure: its objects see only their own headers (and jansson, OpenSSL for
# tlscheck), so an include of a webhook/ header fails the build.
POLICY_CFLAGS = $(WARN) $(BASEFLAGS) -Ipolicies $(shell pkg-config --cflags jansson openssl 2>/dev/null) $(CFLAGS)
LDLIBS     = $(PKG_LIBS) -lpthread -lm

LIB_SRC  := $(wildcard policies/*.c) $(filter-out webhook/main.c,$(wildcard webhook/*.c webhook/*/*.c)) $(wildcard certs/*.c)
LIB_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(TOOL_SRC))
BENCH_BIN:= $(BUILD)/bench/bench_review
AUDIT_BENCH := $(BUILD)/bench/bench_audit
LIVE_BENCH := $(BUILD)/bench/bench_live

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BUILD ?= build/fuzz
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRC))
# clang and its libFuzzer runtime, only for the fuzz targets (Debian 12: LLVM 14).
FUZZ_PKGS := clang libclang-rt-14-dev
FUZZ_SECS ?= 600

.PHONY: all deps install-deps run test test-run bench clean manifests layout check-style webhook-certs image fuzz fuzz-build soak
all: deps $(BUILD)/tenantguard

# Installs whatever Debian package is missing; a no-op on a prepared machine (DEPS=skip: never).
deps:
	@[ "$(DEPS)" = skip ] || $(MAKE) --no-print-directory install-deps

install-deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "not root: install$$missing by hand" >&2; exit 1; fi; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/obj/%.o: %.c $(wildcard */*.h */*/*.h) | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/policies/%.o: policies/%.c $(wildcard policies/*.h) | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(POLICY_CFLAGS) -c $< -o $@

$(BUILD)/libtenantguard.a: $(LIB_OBJ)
	@ar rcs $@ $^

$(BUILD)/tenantguard: $(BUILD)/obj/webhook/main.o $(BUILD)/libtenantguard.a
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testhelp.h $(BUILD)/libtenantguard.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $< $(BUILD)/libtenantguard.a -o $@ $(LDLIBS)

$(BUILD)/tests/%: tests/tools/%.c $(BUILD)/libtenantguard.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $< $(BUILD)/libtenantguard.a -o $@ $(LDLIBS)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(BUILD)/libtenantguard.a
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Itests/fuzz $< $(BUILD)/libtenantguard.a -o $@ $(LDLIBS)

fuzz-build:
	@[ "$(DEPS)" = skip ] || $(MAKE) --no-print-directory install-deps DEB_PKGS="$(FUZZ_PKGS)"
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang FUZZ=1 $(FUZZ_BIN)

# Every harness for FUZZ_SECS seconds (default 600; FUZZ_RUNS: at most that many execs) from
# its corpus in $(FUZZ_BUILD)/corpus, seeded from tests/cases; prints the executions per
# harness. `make test` runs each briefly, the same mutations of the seeds every time.
fuzz: fuzz-build
	@FUZZ_RUNS=$(FUZZ_RUNS) tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECS)

# Reviews, config rewrites and certificate rotations for SOAK_SECS (default 10 min) against
# the optimised build; `make test` runs 60 s of it under the sanitizers.
SOAK_SECS ?= 600
soak: all
	@python3 tests/https/soak.py $(BUILD) $(SOAK_SECS)

$(BENCH_BIN): bench/bench_review.c bench/bench.h $(BUILD)/libtenantguard.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libtenantguard.a -o $@ $(LDLIBS)

$(AUDIT_BENCH): bench/bench_audit.c $(BUILD)/libtenantguard.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libtenantguard.a -o $@ $(LDLIBS)

$(LIVE_BENCH): bench/bench_live.c bench/bench.h $(BUILD)/libtenantguard.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(BUILD)/libtenantguard.a -o $@ $(LDLIBS)

# Dev certificates (CA + serving cert for localhost) are created on first use.
CERT_DIR ?= $(BUILD)/dev-certs
run: all
	$(BUILD)/tenantguard certs --out $(CERT_DIR) --service tenantguard --namespace tenantguard-system >/dev/null
	$(BUILD)/tenantguard serve --listen 127.0.0.1:8443 --tls-cert $(CERT_DIR)/tls.crt --tls-key $(CERT_DIR)/tls.key

# The kustomize base (manifests/*.yaml) is rendered from the Helm chart, its one source
# (helm is built from the Go module proxy on first use and cached; tests/helm checks that the
# committed base is current). webhook-certs: a CA and serving pair for the in-cluster Service
# and a kustomize overlay in build/kustomize with that Secret and caBundle.
manifests:
	@python3 tests/helm/render_base.py "$$(tests/e2e/build_tool.sh helm)" manifests
	@echo "manifests/ rendered from manifests/chart/tenantguard"

webhook-certs: all
	@manifests/overlay.sh $(BUILD)/tenantguard $(BUILD)/kustomize

# The OCI image tenantguard:<appVersion> in build/image/oci, made from Debian packages
# (mmdebstrap + umoci, no registry or Docker engine), then checked (image/check.sh: config,
# libraries in a chroot, and the container under podman when it can run here). Not part of
# `make test`: the root filesystem is downloaded from Debian on first use (cached).
IMAGE_PKGS := mmdebstrap umoci podman runc
image: all
	@[ "$(DEPS)" = skip ] || $(MAKE) --no-print-directory install-deps DEB_PKGS="$(IMAGE_PKGS)"
	@image/build.sh $(BUILD)
	@image/check.sh $(BUILD)

# Everything runs under ASan + UBSan in build/asan; the last line is "N passed, N failed".
# The optimised build comes first: -O2 sees warnings (-Werror) that -O1 does not, and it is
# what `make run` and the image ship.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory fuzz-build
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 test-run

test-run: $(BUILD)/tenantguard $(UNIT_BIN) $(TOOL_BIN)
	@BUILD=$(BUILD) tests/run.sh

# The house rules a compiler does not check (tests/tools/check_style.sh); tests/run.sh runs it.
check-style:
	@tests/tools/check_style.sh

# The HTTPS bench (bench/bench_https.sh) compares `serve` with nginx over TLS, driven by wrk
# (strace counts its system calls); bench/bench_peer.sh compares it with OPA (built by
# bench/build_opa.sh from the Go module proxy). nginx-light is only a meta package over nginx
# on Debian 12.
BENCH_PKGS := nginx wrk strace
bench: deps
	@[ "$(DEPS)" = skip ] || $(MAKE) --no-print-directory install-deps DEB_PKGS="$(BENCH_PKGS)"
	@$(MAKE) --no-print-directory $(BENCH_BIN) $(AUDIT_BENCH) $(LIVE_BENCH) $(BUILD)/tenantguard
	@$(BENCH_BIN)
	@$(AUDIT_BENCH)
	@$(LIVE_BENCH)
	@bench/bench_https.sh $(BUILD)
	@bench/bench_peer.sh $(BUILD)
	@bench/bench_scale.sh $(BUILD)

clean:
	rm -rf build

# The tree, each file with its purpose line, read from the files (README "Layout").
layout:
	@tests/tools/layout.sh
