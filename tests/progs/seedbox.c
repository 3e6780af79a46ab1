/* seedbox.c - the seed's program, as a legacy C program would be written:
 * malloc one big buffer (200 MB by default), build a table of records in
 * it, modify every record in a second pass, write the buffer out to a
 * file, then read the file back and verify it against what the two passes
 * must have produced.  Nothing in it knows about oomshield.
 * Usage: seedbox OUTFILE [SIZE_MB]     (prints "ok ..." and exits 0)
 * Exit: 2 usage, 3 malloc failed, 4 wrong data in memory, 5 I/O error,
 *       6 the file read back differs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rec {                 /* 32 bytes: a record of the seed's table */
	uint32_t id;
	uint32_t key;
	uint64_t value;
	uint64_t check;
	uint32_t gen;
	uint32_t pad;
};

static uint64_t mix(uint64_t x)  /* splitmix64 */
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* What record i holds after both passes. */
static void expect(uint32_t i, struct rec *r)
{
	uint64_t v = mix(i);
	r->id = i;
	r->key = (uint32_t)(v >> 32);
	r->value = mix(v) + 1;
	r->gen = 2;
	r->pad = 0;
	r->check = r->value ^ r->key ^ ((uint64_t)i << 1);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		return 2;
	size_t mb = argc == 3 ? (size_t)atol(argv[2]) : 200;
	size_t n = mb * 1000 * 1000 / sizeof(struct rec);
	struct rec *t = malloc(n * sizeof *t);
	if (!t) {
		fprintf(stderr, "seedbox: malloc(%zu MB) failed\n", mb);
		return 3;
	}
	/* build */
	for (size_t i = 0; i < n; i++) {
		uint64_t v = mix(i);
		t[i].id = (uint32_t)i;
		t[i].key = (uint32_t)(v >> 32);
		t[i].value = v;
		t[i].gen = 1;
		t[i].pad = 0;
		t[i].check = 0;
	}
	/* modify: every record, in a second pass over the whole buffer */
	for (size_t i = 0; i < n; i++) {
		if (t[i].gen != 1 || t[i].id != (uint32_t)i) {
			fprintf(stderr, "seedbox: record %zu lost before the update\n", i);
			return 4;
		}
		t[i].value = mix(t[i].value) + 1;
		t[i].gen = 2;
		t[i].check = t[i].value ^ t[i].key ^ ((uint64_t)i << 1);
	}
	/* write out */
	FILE *f = fopen(argv[1], "wb");
	if (!f || fwrite(t, sizeof *t, n, f) != n || fclose(f) != 0) {
		perror("seedbox: write");
		return 5;
	}
	/* verify memory and file against the expected contents */
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		struct rec e;
		expect((uint32_t)i, &e);
		if (memcmp(&t[i], &e, sizeof e)) {
			fprintf(stderr, "seedbox: wrong record %zu in memory\n", i);
			return 4;
		}
		sum += e.check;
	}
	free(t);
	f = fopen(argv[1], "rb");
	if (!f) {
		perror("seedbox: reopen");
		return 5;
	}
	struct rec buf[4096];
	size_t i = 0, got;
	while ((got = fread(buf, sizeof *buf, 4096, f)) > 0)
		for (size_t k = 0; k < got; k++, i++) {
			struct rec e;
			expect((uint32_t)i, &e);
			if (memcmp(&buf[k], &e, sizeof e)) {
				fprintf(stderr, "seedbox: wrong record %zu in the file\n", i);
				return 6;
			}
		}
	fclose(f);
	if (i != n) {
		fprintf(stderr, "seedbox: file has %zu records, expected %zu\n", i, n);
		return 6;
	}
	printf("ok seedbox %zu MB, %zu records, check %016llx\n", mb, n, (unsigned long long)sum);
	return 0;
}
