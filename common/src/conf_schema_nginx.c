/*
 * conf_schema_nginx.c - the keys of gatehouse.conf that belong to the nginx
 * component.  See conf_schema.c for how these tables are used; document
 * every key in conf/gatehouse.conf and docs/man/gatehouse.conf.5 too.
 *
 * The nginx module reads gatehouse.conf when nginx reads its own
 * configuration (directive gatehouse_conf); per-location behaviour stays in
 * nginx directives (docs/nginx.md).
 */
#include <stddef.h>

#include "conf_int.h"

const struct gh_conf_key gh_conf_schema_nginx[] = {
	/* [nginx] -- ngx_http_gatehouse_module */
	/* No longer used: the module's event loop never waits for the write
	 * lock (every write is made in nginx's thread pool, which waits up to
	 * [store] lock_timeout).  Still accepted so existing files load. */
	{"nginx", "lock_timeout", GH_CT_DURATION, "100ms", 0, 10 * GH_SEC, NULL,
	 "no longer used: an nginx worker's event loop never waits for the "
	 "store's write lock; its thread pool waits [store] lock_timeout"},

	{NULL, NULL, GH_CT_STRING, NULL, 0, 0, NULL, NULL}
};
