/*
 * tzcache.h - the time zones of many users, each read from disk once
 *
 * notifyd checks quiet hours and digest times for every delivery, each in
 * its user's zone.  Loading a TZif file is cheap but not free (a file read
 * and a parse), and a handful of zones serve almost every user, so zones
 * are kept in a small cache, least recently used out first.  Failures are
 * cached too, so a user with a misspelt zone costs one failed open per
 * eviction cycle, not one per event.
 *
 * A zone returned by nd_tzcache_get stays valid until the next call on the
 * same cache (which may evict it) or nd_tzcache_free: use it at once.  The
 * cache is plain data for one thread (notifyd's event loop).
 */
#ifndef GH_NOTIFYD_TZCACHE_H
#define GH_NOTIFYD_TZCACHE_H

#include <stddef.h>
#include "gatehouse/err.h"
#include "tzfile.h"

struct nd_tzcache;

/* nd_tzcache_new - a cache of up to cap zones (>= 1) read from dir (NULL:
 * GH_TZ_DIR_DEFAULT; the string is copied). */
gh_err nd_tzcache_new(const char *dir, size_t cap, struct nd_tzcache **out);

void nd_tzcache_free(struct nd_tzcache *c);

/*
 * nd_tzcache_get - the zone called name: GH_OK and *tz, or nd_tz_load's
 * error for it (remembered like a success).  NULL or "" is UTC.
 */
gh_err nd_tzcache_get(struct nd_tzcache *c, const char *name,
                      const struct nd_tz **tz);

/* nd_tzcache_loads - how many times a file was read (for tests, metrics). */
unsigned long nd_tzcache_loads(const struct nd_tzcache *c);

#endif /* GH_NOTIFYD_TZCACHE_H */
