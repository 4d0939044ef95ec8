/*
 * conf_int.h - the schema table shared by conf.c and conf_schema.c.
 */
#ifndef GATEHOUSE_CONF_INT_H
#define GATEHOUSE_CONF_INT_H

#include "gatehouse/conf.h"

/* Each table ends with an entry whose section is NULL; gh_conf_schemas
 * lists them all and ends with NULL. */
extern const struct gh_conf_key gh_conf_schema_common[];
extern const struct gh_conf_key gh_conf_schema_milter[];
extern const struct gh_conf_key gh_conf_schema_nginx[];
extern const struct gh_conf_key gh_conf_schema_pam[];
extern const struct gh_conf_key gh_conf_schema_notifyd[];
extern const struct gh_conf_key gh_conf_schema_nats[];
extern const struct gh_conf_key *const gh_conf_schemas[];

/* Units for the tables. */
#define GH_KB 1024LL
#define GH_MB (1024LL * GH_KB)
#define GH_GB (1024LL * GH_MB)
#define GH_SEC 1000LL
#define GH_MIN (60 * GH_SEC)
#define GH_HOUR (60 * GH_MIN)
#define GH_DAY (24 * GH_HOUR)

#endif
