# bench.mk - `make bench` (included by the top Makefile).
#   make bench               full run, about 9 minutes on 2 cores
#   make bench BENCH_QUICK=1 short run for CI (about 3 minutes); never judges timings
# Results: a table on stdout, $(B)/bench/results.csv, $(B)/bench/pressure.png.
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
BENCH_QUICK ?=

$(B)/bench/%: bench/%.c bench/bench.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lm

bench-progs: $(LIB) $(BENCH_BIN) $(B)/tests/progs/nodemap $(B)/tests/progs/peakrss

bench: bench-progs
	@B=$(B) LIB=$(abspath $(LIB)) BENCH_QUICK=$(BENCH_QUICK) bash bench/run.sh

.PHONY: bench bench-progs
