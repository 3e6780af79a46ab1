/* start.h - the shim's one-time start (start.c). */
#ifndef OMS_START_H
#define OMS_START_H

/* Idempotent and thread-safe; returns at once when done or when called
 * from inside itself.  Afterwards oms_threshold is set (SIZE_MAX when the
 * shim stands aside). */
void oms_start(void);

/* The start is complete (any thread may use the policy paths). */
int oms_start_done(void);

/* This thread is inside oms_start: a malloc now (the C library's, while
 * the settings are read) goes straight to the next allocator. */
int oms_starting(void);

#endif
