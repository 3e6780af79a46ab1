/* budget.c - see budget.h. */
#include "budget.h"
#include "config.h"
#include "os.h"
#include "stats.h"

#include "debug.h"

int oms_budget_take(uint64_t bytes)
{
	uint64_t limit = oms_os.data_limit();
	if (oms_cfg.max && oms_cfg.max < limit)
		limit = oms_cfg.max;
	uint64_t live = __atomic_load_n(&oms_stats.live, __ATOMIC_RELAXED);
	do {
		if (bytes > limit || live > limit - bytes)
			return 0;
	} while (!__atomic_compare_exchange_n(&oms_stats.live, &live, live + bytes, 1,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	uint64_t now = live + bytes, peak = __atomic_load_n(&oms_stats.peak, __ATOMIC_RELAXED);
	while (now > peak && !__atomic_compare_exchange_n(&oms_stats.peak, &peak, now, 1,
							  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	return 1;
}

void oms_budget_give(uint64_t bytes)
{
	uint64_t was = __atomic_fetch_sub(&oms_stats.live, bytes, __ATOMIC_RELAXED);
	OMS_ASSERT(was >= bytes); /* more given back than taken: an accounting bug */
	(void)was;
}

uint64_t oms_budget_live(void)
{
	return __atomic_load_n(&oms_stats.live, __ATOMIC_RELAXED);
}
