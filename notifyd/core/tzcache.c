/*
 * tzcache.c - a small LRU of loaded time zones (see tzcache.h).  Lookups
 * scan the entries: with a few dozen zones a scan beats hashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tzcache.h"

struct tz_entry {
	char name[GH_TZ_NAME_MAX + 1];
	struct nd_tz *tz;        /* NULL when loading failed */
	gh_err err;
	uint64_t used;           /* tick of the last lookup; 0: empty slot */
};

struct nd_tzcache {
	char *dir;
	size_t cap;
	struct tz_entry *e;
	uint64_t tick;
	unsigned long loads;
};

gh_err
nd_tzcache_new(const char *dir, size_t cap, struct nd_tzcache **out)
{
	struct nd_tzcache *c;

	*out = NULL;
	if (cap < 1 || cap > 65536)
		return GH_EINVAL;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return GH_ENOMEM;
	c->cap = cap;
	c->e = calloc(cap, sizeof *c->e);
	c->dir = strdup(dir ? dir : GH_TZ_DIR_DEFAULT);
	if (c->e == NULL || c->dir == NULL) {
		nd_tzcache_free(c);
		return GH_ENOMEM;
	}
	*out = c;
	return GH_OK;
}

void
nd_tzcache_free(struct nd_tzcache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; c->e && i < c->cap; i++)
		nd_tz_free(c->e[i].tz);
	free(c->e);
	free(c->dir);
	free(c);
}

gh_err
nd_tzcache_get(struct nd_tzcache *c, const char *name, const struct nd_tz **tz)
{
	struct tz_entry *victim = NULL;
	size_t i;

	*tz = NULL;
	if (name == NULL)
		name = "";
	if (strlen(name) > GH_TZ_NAME_MAX)
		return GH_EINVAL;
	c->tick++;
	for (i = 0; i < c->cap; i++) {
		struct tz_entry *e = &c->e[i];
		if (e->used != 0 && strcmp(e->name, name) == 0) {
			e->used = c->tick;
			*tz = e->tz;
			return e->err;
		}
		if (victim == NULL || e->used < victim->used)
			victim = e;
	}
	nd_tz_free(victim->tz);
	victim->tz = NULL;
	victim->err = nd_tz_load(name, c->dir, &victim->tz);
	c->loads++;
	/* Out of memory is not a fact about the zone: do not remember it. */
	if (victim->err == GH_ENOMEM) {
		victim->used = 0;
		return GH_ENOMEM;
	}
	memcpy(victim->name, name, strlen(name) + 1);
	victim->used = c->tick;
	*tz = victim->tz;
	return victim->err;
}

unsigned long
nd_tzcache_loads(const struct nd_tzcache *c)
{
	return c->loads;
}
