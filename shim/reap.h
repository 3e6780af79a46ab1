/* reap.h - the last unmap of a large freed block, done on the DefragTick
 * thread (see reap.c). */
#ifndef OMS_REAP_H
#define OMS_REAP_H

#include <stddef.h>
#include <time.h>

/* Blocks at least this large are handed over; smaller ones free fast. */
#define OMS_REAP_MIN ((size_t)16 << 20)

/* Unmap [addr, addr+len), a freed block backed by `fd` (-1: unknown; the
 * caller closes it after).  The range is free when this returns; the file
 * behind it may be freed a moment later, on the thread. */
void oms_reap_unmap(void *addr, size_t len, int fd);

/* Free every handed-over file now and wait for one being freed on the
 * thread.  Nonzero if there was anything: worth retrying a full disk. */
int oms_reap_drain(void);

/* The thread's sleep: until the absolute CLOCK_MONOTONIC time `t`, freeing
 * what is handed over meanwhile (hand-overs are taken only in here). */
void oms_reap_sleep_until(const struct timespec *t);

/* Take hand-overs (1) or stop (0, and free what is pending); tests. */
void oms_reap_open(int on);

void oms_reap_fork_child(void); /* no thread, no pages: the child has neither */

#endif
