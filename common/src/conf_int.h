/*
 * conf_int.h - the schema table shared by conf.c and conf_schema.c.
 */
#ifndef GATEHOUSE_CONF_INT_H
#define GATEHOUSE_CONF_INT_H

#include "gatehouse/conf.h"

/* Terminated by an entry whose section is NULL. */
extern const struct gh_conf_key gh_conf_schema[];

#endif
