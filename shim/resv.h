/* resv.h - address space the program reserved PROT_NONE and commits later
 * with mprotect (issue 16, item 4).
 *
 * V8 and the JVM reserve their heaps as large PROT_NONE private anonymous
 * mappings and make parts writable as they grow: node's 600 MB Map made 259
 * reservations and 1,073 mprotect(PROT_READ|PROT_WRITE) calls, and none of
 * it reached our files.  A part that was never accessible holds only
 * zeros, so at that mprotect it can become a piece of our arena (disk
 * reserved first) instead of anonymous memory: region_advise.c does that
 * for a range this table holds.  Untouched reservations cost no disk.
 *
 * Lock: oms_map_lock, held by every caller (region_*.c).
 */
#ifndef OMS_RESV_H
#define OMS_RESV_H

#include <stdint.h>

extern int oms_resv_count; /* ranges in the table; 0 = nothing to look up */

/* [a, b) is a fresh PROT_NONE private anonymous mapping. */
void oms_resv_note(uintptr_t a, uintptr_t b);
/* [a, b) is no longer one: unmapped, moved, replaced or made accessible. */
void oms_resv_forget(uintptr_t a, uintptr_t b);
/* Advice the program gave a reservation, which a commit gives its piece
 * (the mapping it replaces carried it): V8 makes every reservation
 * MADV_DONTFORK.  Other advice that sets a flag on a mapping makes the
 * range no reservation of ours (region_advise.c). */
enum { OMS_RESV_DONTFORK = 1, OMS_RESV_WIPE = 2, OMS_RESV_DONTDUMP = 4 };
void oms_resv_advise(uintptr_t a, uintptr_t b, unsigned bit, int on);
/* 1 if [a, b) lies inside one recorded range; *adv: its advice. */
int oms_resv_holds(uintptr_t a, uintptr_t b, unsigned *adv);
/* Forget everything (mlockall(MCL_CURRENT) locked it all); and note
 * nothing from now on (MCL_FUTURE: new mappings are locked, and a
 * committed part would not be). */
void oms_resv_reset(void);
void oms_resv_stop(void);
extern int oms_resv_stopped;

#endif
