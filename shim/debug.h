/* debug.h - invariant checks for the debug build.
 *
 * OMS_ASSERT(cond) is compiled only with -DOMS_DEBUG (make debug; `make
 * check` also runs the unit and integration tests against that build).
 * The release library never aborts a program the shim protects: there a
 * broken invariant costs protection, never the program.  A failed check
 * writes one line with write(2) - no stdio, no malloc: we may be inside
 * malloc - and aborts.
 */
#ifndef OMS_DEBUG_H
#define OMS_DEBUG_H

#ifdef OMS_DEBUG
void oms_assert_fail(const char *cond, const char *file, int line) __attribute__((noreturn));
#define OMS_ASSERT(c) ((c) ? (void)0 : oms_assert_fail(#c, __FILE__, __LINE__))
#else
#define OMS_ASSERT(c) ((void)sizeof(!(c)))
#endif

#endif
