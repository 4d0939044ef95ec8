/*
 * conf_schema.c - every key gatehouse.conf may hold: section, name, type,
 * default, bounds and a line of documentation.
 *
 * This table is the single source of truth: the parser rejects anything not
 * in it, the getters take defaults from it, `gatehouse config dump` prints
 * it, and tests/unit/test_conf.c checks that conf/gatehouse.conf and
 * gatehouse.conf(5) mention every key.  A component's issue adds its block.
 */
#include <stddef.h>

#include "gatehouse/conf.h"
#include "conf_int.h"

#define KB 1024LL
#define MB (1024LL * KB)
#define GB (1024LL * MB)
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

const struct gh_conf_key gh_conf_schema[] = {
	/* [store] -- the LMDB store every part shares */
	{"store", "path", GH_CT_PATH, "/var/lib/gatehouse/store", 0, 0, NULL,
	 "directory of the LMDB store"},
	{"store", "map_size", GH_CT_SIZE, "64M", 1 * MB, 1024 * GB, NULL,
	 "initial map size; the map doubles when full"},
	{"store", "map_max", GH_CT_SIZE, "4G", 1 * MB, 1024 * GB, NULL,
	 "the map never grows past this; writes then fail as full"},
	{"store", "sync", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "fsync every commit (no: survives crashes of processes, not of the "
	 "machine)"},
	{"store", "lock_timeout", GH_CT_DURATION, "2s", 0, 10 * MIN, NULL,
	 "longest a writer waits for the store's write lock"},

	/* [queue] -- event queue policy shared by producers and notifyd */
	{"queue", "dedup_window", GH_CT_DURATION, "1d", 1 * SEC, 365 * DAY,
	 NULL, "events with the same dedup_key within this window are one"},
	{"queue", "keep_done", GH_CT_DURATION, "7d", 0, 3650 * DAY, NULL,
	 "`gatehouse events purge` removes finished events older than this"},
	{"queue", "visibility", GH_CT_DURATION, "60s", 1 * SEC, 1 * DAY, NULL,
	 "how long a leased event stays invisible to other consumers"},

	/* [tokens] -- signed unsubscribe and download links (docs/tokens.md) */
	{"tokens", "key_file", GH_CT_PATH, "/etc/gatehouse/token.key", 0, 0,
	 NULL, "master key for tokens: 64 hex digits, made by "
	 "`gatehouse tokens keygen`"},
	{"tokens", "previous_key_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "the key before a rotation: tokens it signed still verify"},
	{"tokens", "unsubscribe_ttl", GH_CT_DURATION, "180d", 1 * DAY,
	 3650 * DAY, NULL, "how long an unsubscribe link in a message works"},
	{"tokens", "download_ttl", GH_CT_DURATION, "1h", 1 * SEC, 365 * DAY,
	 NULL, "default lifetime of a signed download link"},

	{NULL, NULL, GH_CT_STRING, NULL, 0, 0, NULL, NULL}
};
