/* frag.h - parsers and arithmetic for the kernel's fragmentation reports.
 *
 * Pure functions over text already in memory: no I/O, no allocation, no
 * locks, no global state, so the DefragTick thread and the unit tests call
 * them alike.  Indices are integers in thousandths, exactly as mm/vmstat.c
 * computes them before printing "%2d.%03d": 500 is "0.500", -1000 is
 * "-1.000" (OMS_FRAG_SUITABLE: a free block of that order exists).
 */
#ifndef OMS_FRAG_H
#define OMS_FRAG_H

#include <stddef.h>
#include <stdint.h>

/* Orders per zone line.  x86_64 prints 11, some ARM configurations 14;
 * the kernel's MAX_PAGE_ORDER is far below this on every architecture. */
#define OMS_FRAG_ORDERS 32
#define OMS_FRAG_ZONE_NAME 16 /* kernel zone names are at most 7 chars */
#define OMS_FRAG_SUITABLE (-1000)

/* One "Node N, zone NAME v0 v1 ..." line of buddyinfo or a debugfs index
 * file.  For buddyinfo, nr_free[] holds the free blocks per order; for an
 * index file, milli[] holds the parsed values. */
struct oms_frag_zone {
	int node;
	int norders;
	char name[OMS_FRAG_ZONE_NAME];
	uint64_t nr_free[OMS_FRAG_ORDERS];
	int milli[OMS_FRAG_ORDERS];
};

/* Split text into lines: returns the next line and its length (without
 * '\n') and advances *pos; NULL at the end of the text. */
const char *oms_frag_next_line(const char **pos, size_t *len);

/* Parse one /proc/buddyinfo line into z->nr_free.  0, or -1 if the line
 * is not a well-formed zone line (nothing in *z is then meaningful). */
int oms_frag_parse_buddy(const char *line, size_t len, struct oms_frag_zone *z);

/* Parse one extfrag_index / unusable_index line into z->milli.  Accepts
 * every shape "%2d.%03d" produces, including " 0.-500" and " 0.-07". */
int oms_frag_parse_index(const char *line, size_t len, struct oms_frag_zone *z);

/* One printed value ("-1.000", "0.852", "0.-62") -> thousandths; returns
 * the end of the token, or NULL if it is not such a value. */
const char *oms_frag_parse_milli(const char *s, const char *end, int *out);

/* The kernel's __fragmentation_index() and unusable_free_index() for
 * `order`, from the free-block counts of one zone. */
int oms_frag_extfrag(const uint64_t *nr_free, int norders, int order);
int oms_frag_unusable(const uint64_t *nr_free, int norders, int order);

/* Fill z->milli from z->nr_free with one of the two formulas above
 * (metric: enum oms_metric in config.h). */
void oms_frag_compute(struct oms_frag_zone *z, int metric);

/* Safety level: how many orders, from order 0 up, have an index below
 * `threshold` (thousandths).  OMS_FRAG_SUITABLE is always below it. */
int oms_frag_level(const int *milli, int norders, int threshold);

/* Total free pages of a buddyinfo zone (sum of nr_free << order). */
uint64_t oms_frag_free_pages(const struct oms_frag_zone *z);

/* A zone chosen for watching, one per node. */
struct oms_frag_watch {
	int node;
	char name[OMS_FRAG_ZONE_NAME];
	uint64_t pages; /* managed pages (zoneinfo) or free pages (buddyinfo) */
};

/* From /proc/zoneinfo text, choose per node the zone to watch: `want` is
 * a zone name (case-insensitive) or "auto" for the zone with the most
 * managed pages.  Zones with no managed pages are never chosen.  Returns
 * how many entries were written (nodes in file order), at most `max`. */
int oms_frag_pick_zoneinfo(const char *text, const char *want,
			   struct oms_frag_watch *w, int max);

/* The same choice from buddyinfo text, by free pages, for when zoneinfo
 * is unreadable. */
int oms_frag_pick_buddy(const char *text, const char *want,
			struct oms_frag_watch *w, int max);

#endif
