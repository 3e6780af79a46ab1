# oomshield - build, test, install.
#   make                 library and tools into build/<arch>/
#   make check           unit tests (Check) + integration tests + tool tests
#   make demo            the headline demonstration (needs root for the cgroup)
#   make bench           benchmarks (BENCH_QUICK=1 for a short run)
#   make install         PREFIX=/usr/local DESTDIR=
#   make ARCH=i386 install-lib   a second target's library beside it
#   make ARCH=i386 / make CROSS=arm-linux-gnueabihf-   other targets

CROSS   ?=
ARCH    ?=
CC      := $(CROSS)gcc
CXX     := $(CROSS)g++
ifeq ($(ARCH),i386)
  ARCHFLAGS := -m32
endif
TRIPLET := $(shell $(CC) $(ARCHFLAGS) -print-multiarch 2>/dev/null)
ifeq ($(TRIPLET),)
  TRIPLET := $(shell $(CC) $(ARCHFLAGS) -dumpmachine)
endif
# DEBUG=1: the invariant checks (OMS_ASSERT, shim/debug.h) compiled in, in
# a build folder of its own; `make check` runs part of the suite on it too.
ifeq ($(DEBUG),1)
  CPPFLAGS += -DOMS_DEBUG
  B       ?= build/$(TRIPLET)-debug
endif
B       ?= build/$(TRIPLET)

PREFIX  ?= /usr/local
DESTDIR ?=
LIBDIR  ?= $(PREFIX)/lib/$(TRIPLET)
VERSION := 0.1.0

WARN     := -Wall -Wextra -Werror
CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DOMS_VERSION=\"$(VERSION)\"
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) $(ARCHFLAGS) -pthread
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++17 $(WARN) $(ARCHFLAGS)
SHIM_CFLAGS := $(CFLAGS) -fPIC -fvisibility=hidden -fno-builtin-malloc -fno-builtin-free \
	-fno-builtin-calloc -fno-builtin-realloc -ftls-model=initial-exec

# The exported wrappers and the constructor; everything else in shim/ is
# policy code that the unit tests link directly.
SHIM_EXPORT_SRC := shim/malloc.c shim/mmap.c shim/init.c shim/wait.c
SHIM_SRC  := $(sort $(wildcard shim/*.c))
SHIM_CORE_SRC := $(filter-out $(SHIM_EXPORT_SRC),$(SHIM_SRC))
SHIM_OBJ  := $(SHIM_SRC:shim/%.c=$(B)/shim/%.o)
SHIM_CORE_OBJ := $(SHIM_CORE_SRC:shim/%.c=$(B)/shim/%.o)
LIB       := $(B)/liboomshield.so

UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
PROG_C    := $(sort $(wildcard tests/progs/*.c))
PROG_CXX  := $(sort $(wildcard tests/progs/*.cc))
PROG_BIN  := $(PROG_C:tests/progs/%.c=$(B)/tests/progs/%) $(PROG_CXX:tests/progs/%.cc=$(B)/tests/progs/%)

CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

# Extra targets that tool and subsystem fragments append to.
ALL_TARGETS   := $(LIB)
CHECK_TARGETS :=
INSTALL_TARGETS :=
UNINSTALL_TARGETS :=

all: build-all

-include tools/tools.mk
-include bench/bench.mk
-include $(wildcard mk/*.mk)

build-all: $(ALL_TARGETS)

$(B)/shim/%.o: shim/%.c $(wildcard shim/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(SHIM_CFLAGS) -c -o $@ $<

# build/lib/<triplet> links to each default build folder: the layout of
# ld.so's $LIB token (Debian multiarch: lib/<triplet>), through which
# tools/oomshield preloads every target's build at once.
$(LIB): $(SHIM_OBJ) shim/exports.map
	$(CC) $(ARCHFLAGS) -shared -pthread -Wl,--version-script=shim/exports.map \
		-Wl,-soname,liboomshield.so -Wl,-z,relro,-z,now -Wl,--no-undefined -o $@ $(SHIM_OBJ) -ldl
	$(if $(filter build/$(TRIPLET),$(B)),@mkdir -p build/lib && ln -sfn ../$(TRIPLET) build/lib/$(TRIPLET))

$(B)/tests/unit/%: tests/unit/%.c $(SHIM_CORE_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Ishim -o $@ $< $(SHIM_CORE_OBJ) $(CHECK_LIBS) -ldl

$(B)/tests/progs/%: tests/progs/%.c $(wildcard tests/progs/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lm

$(B)/tests/progs/%: tests/progs/%.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -o $@ $<

tests: $(LIB) $(UNIT_BIN) $(PROG_BIN)

ifeq ($(ARCH),i386)
# A 32-bit shim cannot be preloaded into the 64-bit host programs some
# integration tests use: mk/cross.mk runs the i386 set (and the 32-bit
# headline) natively.
check: cross-run-i386
else
check: build-all tests check-layers
	@B=$(B) sh tests/run-unit.sh $(UNIT_BIN)
	@B=$(B) LIB=$(abspath $(LIB)) sh tests/run-integration.sh
	@$(if $(CHECK_TARGETS),$(MAKE) --no-print-directory $(CHECK_TARGETS))
	@$(MAKE) --no-print-directory DEBUG=1 check-debug
endif

# The shim's objects form layers with no cycle and no upward call
# (tools/dev/layers.py has the layers; read with nm from this build).
check-layers: $(LIB)
	@python3 tools/dev/layers.py $(B)/shim shim

# The unit tests and the semantics suites again, with every invariant
# checked (a broken one aborts with a line naming it).
DEBUG_TESTS := core_semantics maps_semantics mm_model
check-debug: build-all tests
	@B=$(B) sh tests/run-unit.sh $(UNIT_BIN)
	@B=$(B) LIB=$(abspath $(LIB)) sh tests/run-integration.sh $(DEBUG_TESTS)

demo: $(LIB) $(PROG_BIN)
	@B=$(B) LIB=$(abspath $(LIB)) sh tests/demo.sh

install: build-all $(INSTALL_TARGETS) install-lib

# The library alone, for a second target beside the first install
# (make ARCH=i386 install-lib): the launcher picks per program.
install-lib: $(LIB)
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/liboomshield.so

uninstall: $(UNINSTALL_TARGETS)
	rm -f $(DESTDIR)$(LIBDIR)/liboomshield.so

clean:
	rm -rf build

.PHONY: all build-all tests check check-debug check-layers demo install install-lib uninstall clean
.SECONDARY:
