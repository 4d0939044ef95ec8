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
	{"nginx", "lock_timeout", GH_CT_DURATION, "100ms", 0, 10 * GH_SEC, NULL,
	 "longest an nginx worker waits for the store's write lock; then the "
	 "upload follows gatehouse_upload_on_store_error"},

	{NULL, NULL, GH_CT_STRING, NULL, 0, 0, NULL, NULL}
};
