#!/bin/sh
# seed.sh DIR - fill a libFuzzer corpus with small real ELF files (the
# fuzzer mutates from them, so they should cover both classes, static and
# dynamic, and stripped sections).  Missing compilers just mean fewer seeds.
set -u
dir=$1
mkdir -p "$dir"
src=$(mktemp /tmp/oms-seed.XXXXXX.c) || exit 1
trap 'rm -f "$src"' EXIT
printf '#include <stdlib.h>\nint main(void){return malloc(1)==0;}\n' >"$src"
cc -O0 -o "$dir/dyn64" "$src" 2>/dev/null
cc -O0 -s -o "$dir/dyn64-stripped" "$src" 2>/dev/null
cc -O0 -m32 -o "$dir/dyn32" "$src" 2>/dev/null
cc -O0 -shared -fPIC -o "$dir/lib64.so" "$src" 2>/dev/null
printf 'void *malloc(unsigned long n){(void)n;return 0;}\nint main(void){return 0;}\n' >"$src"
cc -O0 -Wno-builtin-declaration-mismatch -o "$dir/ownmalloc" "$src" 2>/dev/null
printf 'not an elf\n' >"$dir/text"
ls "$dir" | wc -l | sed 's/^/seed corpus files: /'
