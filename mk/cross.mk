# mk/cross.mk - 32-bit and ARM (issue 7).  Included by the top-level
# Makefile after tools.mk, so B, CC, ARCH, CROSS, TRIPLET, LIB, PROG_BIN and
# UNIT_BIN are known here.
#
#   make check-i386          ARCH=i386 build + unit + integration tests, and
#                            the 32-bit headline (2 GB over its life in a
#                            256 MiB cgroup)
#   make check-arm           armhf (or ARM_CROSS=aarch64-linux-gnu-): build,
#                            Check unit tests and test programs under qemu-user,
#                            the cgroup headline under qemu, the seed box
#   make check-cross-quick   CI: i386 build + tests, armhf build + qemu smoke
#   make check-cross         everything: i386, armhf and arm64, all under qemu
#
# Nothing here installs anything: tests/cross/deps.sh does (as root).  A
# missing toolchain, qemu or Check skips that part with a printed reason.

# --- ARCH=i386 without gcc-multilib's /usr/include/asm ---------------------
# Debian 12's gcc-multilib metapackage ships the /usr/include/asm symlink
# that `gcc -m32` needs for <asm/errno.h>, and it Conflicts with every
# gcc-*-linux-gnu* cross compiler.  So a machine with the ARM cross
# compilers has gcc-12-multilib but no /usr/include/asm.  The x86 asm
# headers serve -m32 and -m64 alike (they test __i386__), so we point
# -m32 at them through a private include dir, only when it is needed.
ifeq ($(ARCH),i386)
  CROSS_HASH := \#
  ifneq ($(shell printf '$(CROSS_HASH)include <asm/errno.h>\n' | $(CC) -m32 -E -x c - >/dev/null 2>&1 && echo y),y)
    CROSS_X86_ASM := $(firstword $(wildcard /usr/include/x86_64-linux-gnu/asm /usr/include/i386-linux-gnu/asm))
    ifneq ($(CROSS_X86_ASM),)
      CROSS_INC := $(abspath $(B))/cross-include
      $(shell mkdir -p $(CROSS_INC) && ln -sfn $(CROSS_X86_ASM) $(CROSS_INC)/asm)
      CPPFLAGS += -idirafter $(CROSS_INC)
    endif
  endif
endif

# --- programs of tests/cross ----------------------------------------------
# churn: the 32-bit headline program, built for the target like tests/progs.
# hog: tests/progs/hold built for the build machine (the seed box's "rest
# of the system", which needs no emulation).
CROSS_HOSTCC ?= gcc
CROSS_PROGS := $(B)/tests/cross/churn $(B)/tests/cross/hog

$(B)/tests/cross/churn: tests/cross/churn.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $<

$(B)/tests/cross/hog: tests/progs/hold.c
	@mkdir -p $(@D)
	$(CROSS_HOSTCC) -O2 -std=c11 -Wall -Wextra -Werror -o $@ $<

cross-progs: $(LIB) $(PROG_BIN) $(CROSS_PROGS)
.PHONY: cross-progs

# --- check targets ----------------------------------------------------------
# Integration scripts that put host programs (sh, sleep, sort, python3,
# stress-ng, the host's libjemalloc) under the shim: with a foreign
# liboomshield.so the host's ld.so refuses it ("wrong ELF class") and they
# test nothing.  secure_exec installs $LIB into the *host's* multiarch
# library directory (gcc -print-multiarch), where an i386 ld.so never looks.
# sanitizer builds its programs with the host's gcc (and i386 has no TSan).
# Every other tests/integration script runs for i386.
CROSS_HOST_ITESTS ?= defrag_% fd_budget fd_table jemalloc real_programs% sanitizer stress_ng
CROSS_ITESTS := $(filter-out $(CROSS_HOST_ITESTS),$(basename $(notdir $(wildcard tests/integration/*.sh))))
CROSS_HAVE_CHECK = $(shell printf 'int main(void){return 0;}\n' | \
	$(CC) $(CFLAGS) -x c - -o /dev/null $(CHECK_LIBS) >/dev/null 2>&1 && echo yes)
CROSS_ENV = B=$(B) LIB=$(abspath $(LIB)) TRIPLET=$(TRIPLET)
# can_link CC-and-flags: a C program links (the toolchain is usable)
cross_can_link = printf 'int main(void){return 0;}\n' | $(1) -x c - -o /dev/null >/dev/null 2>&1
# CROSS_HAVE TOOL...: yes when every TOOL is on PATH
cross_have = $(shell for t in $(1); do command -v $$t >/dev/null || exit 1; done && echo yes)

# Recursion: each target is re-run by make with its own ARCH/CROSS, so that
# B, CC and TRIPLET are the target's.
CROSS_MAKE = $(MAKE) --no-print-directory

# A kernel built without IA32 emulation links 32-bit programs but cannot
# run them: then the build is checked and the tests skip, saying why.
cross_can_run32 = t=$$(mktemp) && printf 'int main(void){return 0;}\n' | gcc -m32 -x c - -o $$t >/dev/null 2>&1 && { $$t; } 2>/dev/null; r=$$?; rm -f $$t; exit $$r

check-i386:
	@if ! $(call cross_can_link,gcc -m32); then \
		echo "check-i386: skipped: gcc -m32 cannot link (sh tests/cross/deps.sh installs gcc-12-multilib)"; \
	elif ! ( $(cross_can_run32) ); then \
		$(CROSS_MAKE) ARCH=i386 CROSS= build-all && \
		echo "check-i386: built; tests skipped: this kernel cannot run 32-bit x86 programs (no IA32 emulation)"; \
	else $(CROSS_MAKE) ARCH=i386 CROSS= cross-run-i386; fi

check-armhf:
	@if [ "$(call cross_have,arm-linux-gnueabihf-gcc)" != yes ]; then \
		echo "check-armhf: skipped: no arm-linux-gnueabihf-gcc (sh tests/cross/deps.sh)"; \
	elif [ "$(call cross_have,qemu-arm)" != yes ]; then \
		$(CROSS_MAKE) CROSS=arm-linux-gnueabihf- ARCH= build-all cross-tests; \
		echo "check-armhf: built; tests skipped: no qemu-arm (apt-get install qemu-user)"; \
	else $(CROSS_MAKE) CROSS=arm-linux-gnueabihf- ARCH= cross-run-qemu CROSS_MODE=$(or $(CROSS_MODE),full); fi

check-arm64:
	@if [ "$(call cross_have,aarch64-linux-gnu-gcc)" != yes ]; then \
		echo "check-arm64: skipped: no aarch64-linux-gnu-gcc (sh tests/cross/deps.sh)"; \
	elif [ "$(call cross_have,qemu-aarch64)" != yes ]; then \
		$(CROSS_MAKE) CROSS=aarch64-linux-gnu- ARCH= build-all cross-tests; \
		echo "check-arm64: built; tests skipped: no qemu-aarch64 (apt-get install qemu-user)"; \
	else $(CROSS_MAKE) CROSS=aarch64-linux-gnu- ARCH= cross-run-qemu CROSS_MODE=$(or $(CROSS_MODE),full); fi

# CI: i386 build + unit + integration + the 32-bit headline; armhf build +
# a qemu smoke test.  Every part runs; the exit status says if any failed.
check-cross-quick:
	@s=0; $(CROSS_MAKE) check-i386 || s=1; \
	$(CROSS_MAKE) check-armhf CROSS_MODE=smoke || s=1; \
	echo "check-cross-quick: $$( [ $$s = 0 ] && echo passed || echo FAILED)"; exit $$s

# Everything: i386, and the full suite under qemu for armhf and arm64.
check-cross:
	@s=0; $(CROSS_MAKE) check-i386 || s=1; \
	$(CROSS_MAKE) check-armhf || s=1; \
	$(CROSS_MAKE) check-arm64 || s=1; \
	echo "check-cross: $$( [ $$s = 0 ] && echo passed || echo FAILED)"; exit $$s

# The unit tests need Check for the target; without it they are skipped.
cross-tests: $(LIB) $(PROG_BIN) $(CROSS_PROGS)
	@if [ "$(CROSS_HAVE_CHECK)" = yes ]; then $(CROSS_MAKE) $(UNIT_BIN); \
	else echo "$(TRIPLET): no Check library for this target: unit tests not built"; fi

cross-run-i386: build-all cross-tests
	@s=0; echo "== i386: unit tests"; \
	if [ "$(CROSS_HAVE_CHECK)" = yes ]; then B=$(B) sh tests/run-unit.sh $(UNIT_BIN) || s=1; \
	else echo "skip: no Check for $(TRIPLET) (apt-get install check:i386 libsubunit-dev:i386)"; fi; \
	echo "== i386: integration tests (not run for a 32-bit shim: $(CROSS_HOST_ITESTS))"; \
	B=$(B) LIB=$(abspath $(LIB)) sh tests/run-integration.sh $(CROSS_ITESTS) || s=1; \
	echo "== i386: the 32-bit headline: 2 GiB over its life, up to 1 GiB live, in a 256 MiB cgroup"; \
	$(CROSS_ENV) sh tests/cross/cgroup-claim.sh 256 "ok churn" $(B)/tests/cross/churn 2048; \
	r=$$?; [ $$r = 77 ] || [ $$r = 0 ] || s=1; exit $$s

cross-run-qemu: build-all cross-tests
	@$(CROSS_ENV) sh tests/cross/suite.sh $(CROSS_MODE)

.PHONY: check-i386 check-armhf check-arm64 check-cross-quick check-cross cross-tests \
	cross-run-i386 cross-run-qemu
