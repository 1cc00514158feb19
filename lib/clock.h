/*
 * The process's clocks (cd_runtime): readings that differ on every call, so
 * not part of the pure time functions of timeutil.h.
 */
#ifndef CD_CLOCK_H
#define CD_CLOCK_H

#include <stdint.h>

/* The monotonic clock (CLOCK_MONOTONIC), for durations and deadlines. */
int64_t mono_ns(void);
int64_t mono_ms(void);

#endif
