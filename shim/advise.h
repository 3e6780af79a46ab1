/* advise.h - adaptive read-around for file-backed memory (see advise.c).
 * Driven from the DefragTick thread; without that thread the kernel's
 * default read-around stays in force. */
#ifndef OMS_ADVISE_H
#define OMS_ADVISE_H

#include <stddef.h>
#include <stdint.h>

struct oms_range {
	void *addr;
	size_t len;
};

/* One tick's counters, as deltas. */
struct oms_advise_sample {
	uint64_t majflt, minflt, read_bytes;
	uint64_t ms; /* the tick's length; 0 means 1000 */
};

extern int oms_advise_mode; /* MADV_NORMAL or MADV_RANDOM, for all mappings */

/* The policy: the advice wanted after this sample (pure but for the
 * probe/backoff state; unit-testable). */
int oms_advise_step(struct oms_advise_sample s);

/* Sample getrusage and re-advise every mapping if the mode changes. */
void oms_advise_tick(void);

/* How soon the thread should tick again for this policy: OMS_ADVISE_FAST_MS
 * while the program has file-backed memory and disk reads; 0 otherwise
 * (then the DefragTick interval alone decides). */
#define OMS_ADVISE_FAST_MS 200
unsigned oms_advise_wanted_ms(void);

/* Give a mapping the current advice; `had` is the advice it carries now
 * (MADV_NORMAL when fresh, the recorded one when reused from the cache), so
 * that the common case costs no syscall. */
void oms_advise_new(void *addr, size_t len, int had);

void oms_advise_reset(void);     /* tests, and the fork child */

/* The controller thread is running: new mappings may start RANDOM. */
void oms_advise_start(void);

#endif
