/*
 * gatehouse/conf.h - gatehouse.conf, the one configuration file
 *
 * One INI file (default /etc/gatehouse/gatehouse.conf; GATEHOUSE_CONF or each
 * program's -c FILE overrides it), parsed with inih, a section per component.
 * Every key is declared once in common/src/conf_schema.c with its type,
 * default and bounds, documented in conf/gatehouse.conf and gatehouse.conf(5).
 * An unknown section or key, or a value of the wrong type, is an error that
 * names the file, the line and the key; a host refuses to start on it.
 *
 * Types:  string, path (absolute), bool (yes/no, true/false, on/off, 1/0),
 *         int (decimal), size (bytes, with K/M/G suffixes, 1024-based),
 *         duration (ms, s, m, h, d suffixes; a bare number is seconds;
 *         returned in milliseconds), enum (one word of a fixed list),
 *         list (words separated by spaces or commas).
 * Sections whose schema name ends in ".*" (such as "channel.*") may appear
 * many times with different names ("[channel.ops-slack]").
 *
 * A parsed configuration is immutable: any number of threads may read it.
 * Hosts reload by parsing anew and swapping pointers.
 */
#ifndef GATEHOUSE_CONF_H
#define GATEHOUSE_CONF_H

#include <stddef.h>
#include <stdint.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_CONF_DEFAULT_PATH "/etc/gatehouse/gatehouse.conf"

struct gh_conf;

/* gh_conf_default_path - $GATEHOUSE_CONF if set and non-empty, else
 * GH_CONF_DEFAULT_PATH.  The string is not to be freed. */
const char *gh_conf_default_path(void);

/*
 * gh_conf_load - parse the file at path (NULL: gh_conf_default_path()).
 *   out     receives the configuration (gh_conf_free()).
 *   detail  receives "FILE:LINE: key 'x' in [s]: why" on GH_ECONFIG, or the
 *           OS error on GH_ENOTFOUND / GH_EACCES.
 * A missing file is GH_ENOTFOUND: hosts decide whether defaults will do.
 */
gh_err gh_conf_load(struct gh_conf **out, const char *path, char *detail,
                    size_t detail_len);

/* gh_conf_parse - the same from a string; name is used in messages. */
gh_err gh_conf_parse(struct gh_conf **out, const char *text, const char *name,
                     char *detail, size_t detail_len);

/* gh_conf_defaults - a configuration holding only the schema's defaults. */
gh_err gh_conf_defaults(struct gh_conf **out);

void gh_conf_free(struct gh_conf *conf);

/* gh_conf_source - the file name the configuration came from. */
const char *gh_conf_source(const struct gh_conf *conf);

/*
 * Getters.  section is the section's name as written ("store",
 * "channel.ops-slack"); the key must be declared in the schema for that
 * section, otherwise the getter returns the zero value (NULL, 0) -- a
 * programming error the unit tests catch.  A key not set in the file gives the
 * schema's default.  Strings stay valid until gh_conf_free().
 */
const char *gh_conf_str(const struct gh_conf *conf, const char *section,
                        const char *key);
long long gh_conf_int(const struct gh_conf *conf, const char *section,
                      const char *key);   /* int, size, duration (ms) */
int gh_conf_bool(const struct gh_conf *conf, const char *section,
                 const char *key);
/* gh_conf_is_set - 1 if the key was written in the file. */
int gh_conf_is_set(const struct gh_conf *conf, const char *section,
                   const char *key);
/* gh_conf_line - the line the key was set on, 0 if not set. */
unsigned gh_conf_line(const struct gh_conf *conf, const char *section,
                      const char *key);

/*
 * gh_conf_sections - visit the names of sections present in the file that
 * begin with prefix (such as "channel."), in file order.
 */
typedef void (*gh_conf_section_fn)(const char *name, void *arg);
void gh_conf_sections(const struct gh_conf *conf, const char *prefix,
                      gh_conf_section_fn fn, void *arg);

/*
 * gh_conf_store_opts - fill store options from [store]: path, map_size,
 * map_max, sync and lock_timeout.  Pointers refer into conf.
 */
void gh_conf_store_opts(const struct gh_conf *conf, struct gh_store_opts *o);

/* Parsers shared with the hosts (nginx directives, PAM options): return
 * GH_OK or GH_EINVAL. */
gh_err gh_parse_size(const char *s, long long *out);
gh_err gh_parse_duration_ms(const char *s, long long *out);
gh_err gh_parse_bool(const char *s, int *out);

/*
 * The schema, for gatehouse.conf(5) and `gatehouse config dump`.
 * gh_conf_schema_each visits every declared key.
 */
enum gh_conf_type {
	GH_CT_STRING, GH_CT_PATH, GH_CT_BOOL, GH_CT_INT, GH_CT_SIZE,
	GH_CT_DURATION, GH_CT_ENUM, GH_CT_LIST
};
struct gh_conf_key {
	const char *section;   /* "store", "channel.*" */
	const char *key;
	enum gh_conf_type type;
	const char *def;       /* default as written in the file; NULL: unset */
	long long min, max;    /* bounds for int/size/duration (ms); 0,0: none */
	const char *choices;   /* enum: words separated by '|' */
	const char *doc;       /* one line */
};
typedef void (*gh_conf_key_fn)(const struct gh_conf_key *k, void *arg);
void gh_conf_schema_each(gh_conf_key_fn fn, void *arg);
const char *gh_conf_type_name(enum gh_conf_type t);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_CONF_H */
