/* frag.c - see frag.h.
 *
 * Invariants: pure code over caller-owned memory.  Never allocates, never
 * touches stdio or errno-setting libc calls, never reads past the `len` or
 * `end` it is given (the text need not be NUL-terminated per line).  All
 * arithmetic is 64-bit so that a 32-bit build computes what a 64-bit
 * kernel prints.
 */
#include "frag.h"
#include "config.h"

#include <string.h>

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_space(const char *s, const char *end)
{
	while (s < end && is_space(*s))
		s++;
	return s;
}

static int lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return 0;
	return *a == *b;
}

/* Unsigned decimal up to `end`; NULL on no digits or overflow. */
static const char *parse_u64(const char *s, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return NULL;
		v = v * 10 + d;
	}
	if (p == s)
		return NULL;
	*out = v;
	return p;
}

/* "Node N, zone NAME" -> position after NAME.  The same header opens a
 * zone in buddyinfo, the debugfs files and zoneinfo. */
static const char *parse_header(const char *s, const char *end, int *node, char *name)
{
	uint64_t n;
	s = skip_space(s, end);
	if (end - s < 5 || memcmp(s, "Node", 4) || !is_space(s[4]))
		return NULL;
	s = skip_space(s + 4, end);
	if (!(s = parse_u64(s, end, &n)) || n > 1u << 20 || s >= end || *s != ',')
		return NULL;
	s = skip_space(s + 1, end);
	if (end - s < 5 || memcmp(s, "zone", 4) || !is_space(s[4]))
		return NULL;
	s = skip_space(s + 4, end);
	const char *b = s;
	while (s < end && !is_space(*s))
		s++;
	size_t len = (size_t)(s - b);
	if (len == 0 || len >= OMS_FRAG_ZONE_NAME)
		return NULL;
	memcpy(name, b, len);
	name[len] = '\0';
	*node = (int)n;
	return s;
}

const char *oms_frag_next_line(const char **pos, size_t *len)
{
	const char *s = *pos;
	if (!s || !*s)
		return NULL;
	const char *nl = strchr(s, '\n');
	*len = nl ? (size_t)(nl - s) : strlen(s);
	*pos = nl ? nl + 1 : s + *len;
	return s;
}

int oms_frag_parse_buddy(const char *line, size_t len, struct oms_frag_zone *z)
{
	const char *end = line + len, *s;
	if (!(s = parse_header(line, end, &z->node, z->name)))
		return -1;
	z->norders = 0;
	for (;;) {
		const char *t = skip_space(s, end);
		if (t == end)
			break;
		if (t == s || z->norders == OMS_FRAG_ORDERS)
			return -1; /* glued tokens, or more orders than any kernel */
		if (!(s = parse_u64(t, end, &z->nr_free[z->norders])))
			return -1;
		z->norders++;
	}
	return z->norders ? 0 : -1;
}

const char *oms_frag_parse_milli(const char *s, const char *end, int *out)
{
	uint64_t ip, fp;
	int neg = 0;
	if (s < end && *s == '-')
		neg = 1, s++;
	if (!(s = parse_u64(s, end, &ip)) || ip > 1 || s >= end || *s != '.')
		return NULL;
	s++;
	if (s < end && *s == '-') {
		/* idx % 1000 of a negative idx printed with %03d: "-500",
		 * "-62", "-07" are whole thousandths, not decimal digits. */
		const char *d = s + 1;
		if (neg || ip || !(s = parse_u64(d, end, &fp)) || fp >= 1000)
			return NULL;
		*out = -(int)fp;
	} else {
		/* Positive fractions are always three digits ("%03d"); an
		 * older "%d.%03d" kernel prints the same. */
		const char *d = s;
		if (!(s = parse_u64(d, end, &fp)) || s - d != 3)
			return NULL;
		int v = (int)(ip * 1000 + fp);
		*out = neg ? -v : v;
	}
	if (*out > 1000 || *out < -1000)
		return NULL;
	return s;
}

int oms_frag_parse_index(const char *line, size_t len, struct oms_frag_zone *z)
{
	const char *end = line + len, *s;
	if (!(s = parse_header(line, end, &z->node, z->name)))
		return -1;
	z->norders = 0;
	for (;;) {
		const char *t = skip_space(s, end);
		if (t == end)
			break;
		if (t == s || z->norders == OMS_FRAG_ORDERS)
			return -1;
		if (!(s = oms_frag_parse_milli(t, end, &z->milli[z->norders])))
			return -1;
		z->norders++;
	}
	return z->norders ? 0 : -1;
}

/* mm/vmstat.c fill_contig_page_info(): free pages, free blocks, and free
 * blocks counted in units of the requested order. */
struct contig {
	uint64_t free_pages, blocks_total, blocks_suitable;
};

static struct contig fill_contig(const uint64_t *nr_free, int norders, int order)
{
	struct contig c = {0, 0, 0};
	for (int o = 0; o < norders; o++) {
		c.blocks_total += nr_free[o];
		c.free_pages += nr_free[o] << o;
		if (o >= order)
			c.blocks_suitable += nr_free[o] << (o - order);
	}
	return c;
}

int oms_frag_extfrag(const uint64_t *nr_free, int norders, int order)
{
	struct contig c = fill_contig(nr_free, norders, order);
	if (!c.blocks_total)
		return 0;
	if (c.blocks_suitable)
		return OMS_FRAG_SUITABLE;
	uint64_t requested = (uint64_t)1 << order;
	return (int)(1000 - (int64_t)((1000 + c.free_pages * 1000 / requested) / c.blocks_total));
}

int oms_frag_unusable(const uint64_t *nr_free, int norders, int order)
{
	struct contig c = fill_contig(nr_free, norders, order);
	if (!c.free_pages)
		return 1000; /* no free memory: all of it is unusable */
	return (int)((c.free_pages - (c.blocks_suitable << order)) * 1000 / c.free_pages);
}

void oms_frag_compute(struct oms_frag_zone *z, int metric)
{
	for (int o = 0; o < z->norders; o++)
		z->milli[o] = metric == OMS_METRIC_UNUSABLE
			? oms_frag_unusable(z->nr_free, z->norders, o)
			: oms_frag_extfrag(z->nr_free, z->norders, o);
}

int oms_frag_level(const int *milli, int norders, int threshold)
{
	int n = 0;
	while (n < norders && (milli[n] == OMS_FRAG_SUITABLE || milli[n] < threshold))
		n++;
	return n;
}

uint64_t oms_frag_free_pages(const struct oms_frag_zone *z)
{
	uint64_t p = 0;
	for (int o = 0; o < z->norders; o++)
		p += z->nr_free[o] << o;
	return p;
}

/* Offer (node, name, pages) as the node's watched zone.  A named zone wins
 * outright; "auto" keeps the largest, the first one on ties. */
static int offer(struct oms_frag_watch *w, int n, int max, const char *want,
		 int node, const char *name, uint64_t pages)
{
	int is_auto = name_eq(want, "auto");
	if (!pages || (!is_auto && !name_eq(want, name)))
		return n;
	int i = 0;
	while (i < n && w[i].node != node)
		i++;
	if (i == n) {
		if (n == max)
			return n;
		n++;
	} else if (pages <= w[i].pages) {
		return n;
	}
	w[i].node = node;
	w[i].pages = pages;
	memcpy(w[i].name, name, sizeof w[i].name);
	return n;
}

int oms_frag_pick_zoneinfo(const char *text, const char *want,
			   struct oms_frag_watch *w, int max)
{
	const char *pos = text, *line;
	size_t len;
	int n = 0, node = -1;
	char name[OMS_FRAG_ZONE_NAME];
	while ((line = oms_frag_next_line(&pos, &len))) {
		const char *end = line + len;
		if (parse_header(line, end, &node, name))
			continue;
		const char *s = skip_space(line, end);
		uint64_t pages;
		/* "        managed  3840" inside the current zone's block. */
		if (node >= 0 && end - s > 8 && !memcmp(s, "managed", 7) && is_space(s[7]) &&
		    parse_u64(skip_space(s + 7, end), end, &pages))
			n = offer(w, n, max, want, node, name, pages);
	}
	return n;
}

int oms_frag_pick_buddy(const char *text, const char *want,
			struct oms_frag_watch *w, int max)
{
	const char *pos = text, *line;
	size_t len;
	int n = 0;
	struct oms_frag_zone z;
	/* buddyinfo lists populated zones only, so even a zone with nothing
	 * free is a real zone: +1 keeps it eligible by name. */
	while ((line = oms_frag_next_line(&pos, &len)))
		if (oms_frag_parse_buddy(line, len, &z) == 0)
			n = offer(w, n, max, want, z.node, z.name, oms_frag_free_pages(&z) + 1);
	return n;
}
