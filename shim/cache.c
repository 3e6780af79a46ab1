/* cache.c - see cache.h.  Invariant: cache_bytes is the sum of cap over
 * the n live entries, and never exceeds oms_cfg.cache. */
#include "cache.h"
#include "budget.h"
#include "config.h"
#include "os.h"
#include "stats.h"
#include "store.h"

#include <string.h>

static struct oms_cached slot[OMS_CACHE_SLOTS];
static int n;
static size_t cache_bytes;

static void drop(int i, struct oms_cache_out *out)
{
	out->e[out->n++] = slot[i];
	cache_bytes -= slot[i].cap;
	slot[i] = slot[--n];
}

static void decay(uint64_t now, struct oms_cache_out *out)
{
	for (int i = n - 1; i >= 0; i--)
		if (now - slot[i].since_ms > OMS_CACHE_DECAY_MS)
			drop(i, out);
}

int oms_cache_put(const struct oms_cached *c, uint64_t now, struct oms_cache_out *out)
{
	decay(now, out);
	if (c->cap > oms_cfg.cache)
		return 0;
	while (n && (n == OMS_CACHE_SLOTS || cache_bytes + c->cap > oms_cfg.cache)) {
		int oldest = 0;
		for (int i = 1; i < n; i++)
			if (slot[i].since_ms < slot[oldest].since_ms)
				oldest = i;
		drop(oldest, out);
	}
	slot[n] = *c;
	slot[n++].since_ms = now;
	cache_bytes += c->cap;
	return 1;
}

int oms_cache_take(size_t cap, uint64_t now, struct oms_cached *c, struct oms_cache_out *out)
{
	decay(now, out);
	int best = -1;
	for (int i = 0; i < n; i++)
		if (slot[i].cap >= cap && slot[i].cap - cap <= cap / 4 &&
		    (best < 0 || slot[i].cap < slot[best].cap))
			best = i;
	if (best < 0)
		return 0;
	*c = slot[best];
	cache_bytes -= c->cap;
	slot[best] = slot[--n];
	__atomic_fetch_add(&oms_stats.cache_hits, 1, __ATOMIC_RELAXED);
	return 1;
}

void oms_cache_decay(uint64_t now, struct oms_cache_out *out)
{
	decay(now, out);
}

void oms_cache_flush(struct oms_cache_out *out)
{
	while (n)
		drop(n - 1, out);
}

void oms_cache_release(struct oms_cache_out *out)
{
	size_t bytes = 0;
	for (int i = 0; i < out->n; i++) {
		struct oms_cached *e = &out->e[i];
		struct oms_block b = {.fd = e->fd, .dev = e->dev, .ino = e->ino};
		oms_os.munmap(e->addr, e->cap);
		oms_store_close(&b); /* last reference: the file and its disk go */
		bytes += e->cap;
	}
	if (bytes)
		oms_budget_give(bytes);
	out->n = 0;
}
