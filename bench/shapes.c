/* shapes.c - issue 19's program shapes, each a small stand-in for a real
 * program the issue measured under a memory-cgroup limit:
 *   shapes sort MIB       GNU sort: MIB of text lines read into one large
 *                         buffer, the line table filled from its far end,
 *                         a merge sort of the table whose comparisons read
 *                         the text at random, then the sorted lines read out
 *   shapes lz MIB         xz's binary-tree match finder: a MIB window, a hash
 *                         head table (MIB) and two tree links per position
 *                         (8 x MIB), walked and relinked for every position:
 *                         random reads and writes over 10 x MIB
 *   shapes objs MIB       an interpreter's heap: about MIB of small objects
 *                         (32-144 bytes, one malloc each) behind a hash
 *                         table; lookups skewed to recent objects bump a
 *                         reference count, one in eight replaces its object
 *   shapes tile MIB       ImageMagick's pixel cache: two images of 8-byte
 *                         pixels, MIB/2 each; a horizontal blur row by row,
 *                         then a vertical blur column by column (a stride of
 *                         one row per pixel)
 * Each prints one line, "SHAPE MIB checksum", the same with any allocator and
 * any amount of memory; the time goes to stderr.  Exit 2 on wrong data. */
#include "bench.h"
#include <string.h>

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	while (n--)
		h = (h ^ *c++) * 0x100000001b3ull;
	return h;
}

/* ---- sort ----------------------------------------------------------------- */
struct line { const char *text; size_t len; };

static int line_cmp(const struct line *a, const struct line *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->text, b->text, n);
	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Top-down merge sort of v[0..n) using tmp[0..n/2+1), as GNU sort does. */
static void msort(struct line *v, size_t n, struct line *tmp)
{
	if (n < 2)
		return;
	size_t h = n / 2;
	msort(v, h, tmp);
	msort(v + h, n - h, tmp);
	memcpy(tmp, v, h * sizeof *v);
	size_t i = 0, j = h, k = 0;
	while (i < h && j < n)
		v[k++] = line_cmp(&v[j], &tmp[i]) < 0 ? v[j++] : tmp[i++];
	while (i < h)
		v[k++] = tmp[i++];
}

static uint64_t shape_sort(size_t mib)
{
	size_t text = mib << 20, max = text / 4; /* lines are >= 4 bytes */
	size_t size = text + (max + max / 2 + 2) * sizeof(struct line);
	char *buf = malloc(size);
	if (!buf)
		FAIL("sort: malloc %zu", size);
	/* The text grows from the front, the table down from the end. */
	struct line *end = (struct line *)(buf + size), *tab = end;
	uint64_t s = 7;
	size_t off = 0, n = 0;
	while (off + 24 <= text) {
		uint64_t x = mix64(&s);
		int len = 3 + (int)(x % 17);
		char *p = buf + off;
		for (int i = 0; i < len; i++, x = x / 10 + (x % 7) * 0x1000000000000ull)
			p[i] = (char)('0' + x % 10);
		p[len] = '\n';
		*--tab = (struct line){p, (size_t)len};
		off += (size_t)len + 1;
		n++;
	}
	msort(tab, n, tab - (n / 2 + 1));
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		if (i && line_cmp(&tab[i - 1], &tab[i]) > 0)
			FAIL("sort: line %zu out of order", i);
		h = fnv(h, tab[i].text, tab[i].len + 1);
	}
	free(buf);
	return h ^ n;
}

/* ---- lz --------------------------------------------------------------------- */
/* A pseudo-text: words from a vocabulary, the common ones far more often
 * (as in text), so that most matches are near and some far. */
static void lz_fill(unsigned char *w, size_t from, size_t to, uint64_t *s, const char (*voc)[12])
{
	size_t i = from;
	while (i < to) {
		uint64_t x = mix64(s);
		const char *word = voc[(x & 0xffff) * ((x >> 16) & 0xffff) >> 16];
		for (size_t k = 0; word[k] && i < to; k++)
			w[i++] = (unsigned char)word[k];
		if (i < to)
			w[i++] = (x >> 40) % 5 ? ' ' : '\n';
	}
}

static uint64_t shape_lz(size_t mib)
{
	enum { DEPTH = 8, NICE = 32, CHUNK = 1 << 16 };
	const uint32_t NONE = UINT32_MAX;
	size_t n = mib << 20, hsize = n / 4;
	unsigned char *w = malloc(n);
	uint32_t *head = malloc(hsize * sizeof *head);
	uint32_t *son = malloc(2 * n * sizeof *son);
	static char voc[65536][12];
	if (!w || !head || !son)
		FAIL("lz: malloc");
	uint64_t s = 11, sum = 0;
	for (int v = 0; v < 65536; v++) {
		uint64_t x = mix64(&s);
		int len = 2 + (int)(x % 9);
		for (int k = 0; k < len; k++)
			voc[v][k] = (char)('a' + (x >> (k * 5 + 4)) % 26);
	}
	memset(head, 0xff, hsize * sizeof *head);
	size_t filled = 0;
	for (size_t pos = 0; pos + 4 <= n; pos++) {
		if (filled < n && filled < pos + 2 * NICE) { /* read a block at a time */
			size_t to = filled + CHUNK < n ? filled + CHUNK : n;
			lz_fill(w, filled, to, &s, voc);
			filled = to;
		}
		const unsigned char *cur = w + pos;
		uint32_t h = (uint32_t)((cur[0] | cur[1] << 8 | cur[2] << 16 | (uint32_t)cur[3] << 24) * 2654435761u) % (uint32_t)hsize;
		uint32_t m = head[h];
		head[h] = (uint32_t)pos;
		/* Insert pos at the root of the tree of its hash, splitting the
		 * old tree into smaller (left) and larger (right) suffixes. */
		uint32_t *lt = &son[2 * pos], *gt = &son[2 * pos + 1];
		size_t lim = n - pos < NICE ? n - pos : NICE, llen = 0, glen = 0, best = 0, dist = 0;
		for (int d = DEPTH;; d--) {
			if (m == NONE) {
				*lt = *gt = NONE;
				break;
			}
			uint32_t *pair = &son[2 * (size_t)m];
			const unsigned char *pb = w + m;
			size_t len = llen < glen ? llen : glen;
			while (len < lim && pb[len] == cur[len])
				len++;
			if (len > best)
				best = len, dist = pos - m;
			if (len == lim || d == 0) {
				*lt = len == lim ? pair[0] : NONE;
				*gt = len == lim ? pair[1] : NONE;
				break;
			}
			if (pb[len] < cur[len]) {
				*lt = m, lt = &pair[1], m = *lt, llen = len;
			} else {
				*gt = m, gt = &pair[0], m = *gt, glen = len;
			}
		}
		sum = sum * 31 + best * 1000003 + dist;
	}
	free(son);
	free(head);
	free(w);
	return sum;
}

/* ---- objs ------------------------------------------------------------------ */
struct obj { uint64_t refs, key; uint32_t len; unsigned char data[]; };

static struct obj *obj_new(uint64_t key, uint64_t *s)
{
	uint32_t len = 8 + (uint32_t)(mix64(s) % 112);
	struct obj *o = malloc(sizeof *o + len);
	if (!o)
		FAIL("objs: malloc");
	o->refs = 1, o->key = key, o->len = len;
	for (uint32_t i = 0; i < len; i++)
		o->data[i] = (unsigned char)(key * 7 + i);
	return o;
}

static uint64_t shape_objs(size_t mib)
{
	size_t n = (mib << 20) / 96, cap = 1;
	while (cap < n * 2)
		cap *= 2;
	struct obj **tab = calloc(cap, sizeof *tab);
	if (!tab)
		FAIL("objs: calloc");
	uint64_t s = 5, sum = 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = (k * 0x9e3779b97f4a7c15ull) & (cap - 1);
		while (tab[i])
			i = (i + 1) & (cap - 1);
		tab[i] = obj_new(k, &s);
	}
	for (size_t op = 0; op < n * 2; op++) {
		uint64_t x = mix64(&s);
		/* Skewed to recent objects, as an interpreter's working set. */
		uint64_t key = n - 1 - (x & 0xffffffff) % n * ((x >> 32) % n) / n;
		size_t i = (key * 0x9e3779b97f4a7c15ull) & (cap - 1);
		while (tab[i]->key != key)
			i = (i + 1) & (cap - 1);
		struct obj *o = tab[i];
		o->refs++;
		if (o->data[o->len - 1] != (unsigned char)(key * 7 + o->len - 1))
			FAIL("objs: object %llu", (unsigned long long)key);
		sum += o->data[o->len / 2] + o->refs;
		if (op % 8 == 0) {
			tab[i] = obj_new(key, &s);
			tab[i]->refs = o->refs;
			free(o);
		}
	}
	for (size_t i = 0; i < cap; i++)
		if (tab[i]) {
			sum = sum * 31 + tab[i]->refs + tab[i]->len;
			free(tab[i]);
		}
	free(tab);
	return sum;
}

/* ---- tile ------------------------------------------------------------------ */
/* One pixel of a 7-tap blur along a line of n pixels, `step` apart in p,
 * the edge pixel repeated past either end. */
static uint64_t blur7(const uint64_t *p, size_t i, size_t n, size_t step)
{
	static const uint64_t k[7] = {1, 6, 15, 20, 15, 6, 1}; /* / 64 */
	uint64_t v = 0;
	for (int j = 0; j < 7; j++) {
		size_t at = i + (size_t)j < 3 ? 0 : i + j - 3 >= n ? n - 1 : i + j - 3;
		v += k[j] * p[at * step];
	}
	return v >> 6 & 0xffff0000ffffull;
}

static uint64_t shape_tile(size_t mib)
{
	size_t px = (mib << 20) / 2 / 8, wd = 4000, ht = px / wd;
	uint64_t *a = malloc(wd * ht * 8), *b = malloc(wd * ht * 8);
	if (!a || !b || ht < 8)
		FAIL("tile: malloc");
	uint64_t s = 3, sum = 0;
	for (size_t i = 0; i < wd * ht; i++)
		a[i] = mix64(&s) & 0xffff0000ffffull;
	for (size_t y = 0; y < ht; y++) /* rows: sequential */
		for (size_t x = 0; x < wd; x++)
			b[y * wd + x] = blur7(a + y * wd, x, wd, 1);
	for (size_t x = 0; x < wd; x++) /* columns: a stride of one row */
		for (size_t y = 0; y < ht; y++)
			a[y * wd + x] = blur7(b + x, y, ht, wd);
	for (size_t i = 0; i < wd * ht; i++)
		sum = sum * 31 + a[i];
	free(b);
	free(a);
	return sum;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		FAIL("usage: shapes sort|lz|objs|tile MIB");
	size_t mib = arg_size(argc, argv, 2, 64);
	double t0 = now_ms();
	uint64_t sum;
	if (!strcmp(argv[1], "sort"))
		sum = shape_sort(mib);
	else if (!strcmp(argv[1], "lz"))
		sum = shape_lz(mib);
	else if (!strcmp(argv[1], "objs"))
		sum = shape_objs(mib);
	else if (!strcmp(argv[1], "tile"))
		sum = shape_tile(mib);
	else
		FAIL("shapes: no shape %s", argv[1]);
	printf("%s %zu %016llx\n", argv[1], mib, (unsigned long long)sum);
	fprintf(stderr, "%s %zu: %.0f ms\n", argv[1], mib, now_ms() - t0);
	return 0;
}
