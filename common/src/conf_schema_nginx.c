/*
 * conf_schema_nginx.c - the keys of gatehouse.conf that belong to the nginx
 * component.  See conf_schema.c for how these tables are used; document
 * every key in conf/gatehouse.conf and docs/man/gatehouse.conf.5 too.
 */
#include <stddef.h>

#include "conf_int.h"

const struct gh_conf_key gh_conf_schema_nginx[] = {
	{NULL, NULL, GH_CT_STRING, NULL, 0, 0, NULL, NULL}
};
