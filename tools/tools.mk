# tools.mk - the launcher, oomshield-check, oomshield-status, man pages.
# Included by the top-level Makefile, which provides B, CC, CPPFLAGS,
# CFLAGS, PREFIX, DESTDIR, LIBDIR, TRIPLET, VERSION and the ALL_TARGETS,
# CHECK_TARGETS, INSTALL_TARGETS lists this file appends to.
#
# The launcher is installed with the library's directory substituted for
# @LIBDIR@, and @BINDIR@/@VERSION@ likewise; in the source tree the
# placeholders stay, and the script finds build/<triplet>/ next to it.

# oomshield-check needs libelf for the target; a cross or ARCH=i386 build
# often has only the native one.  The launcher then borrows a checker built
# for another target (it passes --lib, so any checker will do).
HAVE_LIBELF := $(shell printf 'int main(void){return 0;}\n' | \
	$(CC) $(CFLAGS) -x c - -o /dev/null -lelf >/dev/null 2>&1 && echo yes)
TOOLS_BIN   := $(B)/oomshield-status
ifeq ($(HAVE_LIBELF),yes)
  TOOLS_BIN += $(B)/oomshield-check
else
  $(info tools.mk: no libelf for $(TRIPLET): oomshield-check is not built)
endif
TOOLS_MAN1  := tools/man/oomshield.1 tools/man/oomshield-check.1
TOOLS_MAN7  := tools/man/oomshield.7
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
FUZZ_SECONDS ?= 60

ALL_TARGETS     += $(TOOLS_BIN)
CHECK_TARGETS   += check-tools
INSTALL_TARGETS += install-tools
UNINSTALL_TARGETS += uninstall-tools

$(B)/tools/%.o: tools/%.c tools/elfinfo.h shim/names.h tools/tools.mk
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/oomshield-check: $(B)/tools/oomshield-check.o $(B)/tools/elfinfo.o
	$(CC) $(CFLAGS) -o $@ $^ -lelf

$(B)/oomshield-status: $(B)/tools/oomshield-status.o
	$(CC) $(CFLAGS) -o $@ $^

# TAP as the tests run, then bats' summary line ("N tests, F failures").
check-tools: $(TOOLS_BIN) $(LIB)
	@echo "tools: bats tests/tools"
	@B=$(abspath $(B)) LIB=$(abspath $(LIB)) TRIPLET=$(TRIPLET) ARCH="$(ARCH)" ARCHFLAGS="$(ARCHFLAGS)" \
		sh tests/tools/run.sh

# Not part of make check: libFuzzer over oc_inspect() for FUZZ_SECONDS.
FUZZ_BIN := $(B)/fuzz/fuzz-elfinfo
$(FUZZ_BIN): tools/fuzz/fuzz-elfinfo.c tools/elfinfo.c tools/elfinfo.h
	@mkdir -p $(@D)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-D_GNU_SOURCE -Itools -o $@ tools/fuzz/fuzz-elfinfo.c tools/elfinfo.c -lelf
fuzz-check: $(FUZZ_BIN)
	@mkdir -p $(B)/fuzz/corpus
	@sh tools/fuzz/seed.sh $(B)/fuzz/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix=$(B)/fuzz/ $(B)/fuzz/corpus

install-tools: $(TOOLS_BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	sed -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
		-e 's|@VERSION@|$(VERSION)|g' tools/oomshield > $(DESTDIR)$(BINDIR)/oomshield.tmp
	chmod 0755 $(DESTDIR)$(BINDIR)/oomshield.tmp
	mv -f $(DESTDIR)$(BINDIR)/oomshield.tmp $(DESTDIR)$(BINDIR)/oomshield
	install -m 0755 $(TOOLS_BIN) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(TOOLS_MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(TOOLS_MAN7) $(DESTDIR)$(MANDIR)/man7/

uninstall-tools:
	rm -f $(DESTDIR)$(BINDIR)/oomshield $(DESTDIR)$(BINDIR)/oomshield-check \
		$(DESTDIR)$(BINDIR)/oomshield-status \
		$(DESTDIR)$(MANDIR)/man1/oomshield.1 $(DESTDIR)$(MANDIR)/man1/oomshield-check.1 \
		$(DESTDIR)$(MANDIR)/man7/oomshield.7

.PHONY: check-tools fuzz-check install-tools uninstall-tools
