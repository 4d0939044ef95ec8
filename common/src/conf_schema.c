/*
 * conf_schema.c - the keys of the shared sections of gatehouse.conf
 * ([store], [queue], [retention], [tokens], [events_api]) and the list of every component's table.
 *
 * Each component declares its own sections in conf_schema_COMPONENT.c
 * (section, name, type, default, bounds, a line of documentation).  These
 * tables are the single source of truth: the parser rejects anything not in
 * them, the getters take defaults from them, `gatehouse config dump` prints
 * them, and tests/integration/common/test_cli.py checks that
 * conf/gatehouse.conf and gatehouse.conf(5) mention every key.
 */
#include <stddef.h>

#include "gatehouse/conf.h"
#include "conf_int.h"

const struct gh_conf_key gh_conf_schema_common[] = {
	/* [store] -- the LMDB store every part shares */
	{"store", "path", GH_CT_PATH, "/var/lib/gatehouse/store", 0, 0, NULL,
	 "directory of the LMDB store"},
	{"store", "owner", GH_CT_STRING, "", 0, 0, NULL,
	 "user that owns the store (gatehouse store init as root); empty: "
	 "the user running store init"},
	{"store", "mail", GH_CT_STRING, "", 0, 0, NULL,
	 "directory of the mail domain's store (gatehouse-milter); empty: "
	 "the milter writes [store] path"},
	{"store", "mail_owner", GH_CT_STRING, "", 0, 0, NULL,
	 "user that owns the mail store (the milter's user)"},
	{"store", "web", GH_CT_STRING, "", 0, 0, NULL,
	 "directory of the web domain's store (nginx workers); empty: they "
	 "write [store] path"},
	{"store", "web_owner", GH_CT_STRING, "", 0, 0, NULL,
	 "user that owns the web store (nginx's worker user)"},
	{"store", "login", GH_CT_STRING, "", 0, 0, NULL,
	 "directory of the login domain's store (pam_gatehouse); empty: it "
	 "writes [store] path"},
	{"store", "login_owner", GH_CT_STRING, "", 0, 0, NULL,
	 "user that owns the login store (pam_gatehouse's writer becomes it)"},
	{"store", "map_size", GH_CT_SIZE, "64M", 1 * GH_MB, 1024 * GH_GB, NULL,
	 "initial map size; the map doubles when full"},
	{"store", "map_max", GH_CT_SIZE, "4G", 1 * GH_MB, 1024 * GH_GB, NULL,
	 "the map never grows past this; writes then fail as full"},
	{"store", "sync", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "fsync every commit (no: survives crashes of processes, not of the "
	 "machine)"},
	{"store", "lock_timeout", GH_CT_DURATION, "2s", 0, 10 * GH_MIN, NULL,
	 "longest a writer waits for the store's write lock"},

	/* [queue] -- event queue policy shared by producers and notifyd */
	{"queue", "dedup_window", GH_CT_DURATION, "1d", 1 * GH_SEC, 365 * GH_DAY,
	 NULL, "events with the same dedup_key within this window are one"},
	{"queue", "keep_done", GH_CT_DURATION, "7d", 0, 3650 * GH_DAY, NULL,
	 "`gatehouse events purge` removes finished events older than this"},
	{"queue", "visibility", GH_CT_DURATION, "60s", 1 * GH_SEC, 1 * GH_DAY, NULL,
	 "how long a leased event stays invisible to other consumers"},

	/* [retention] -- how long the store keeps what (docs/store.md,
	 * "Retention"); 0 keeps for ever */
	{"retention", "mail_log", GH_CT_DURATION, "30d", 0, 3650 * GH_DAY, NULL,
	 "mail log records, after the message was handled"},
	{"retention", "uploads", GH_CT_DURATION, "30d", 0, 3650 * GH_DAY, NULL,
	 "records of uploads not kept (refused, or abandoned while receiving "
	 "or scanning), after the upload began"},
	{"retention", "uploads_kept", GH_CT_DURATION, "0", 0, 3650 * GH_DAY,
	 NULL, "records of stored and quarantined files, after the upload "
	 "began (their files stay, and download links need the record)"},
	{"retention", "deliveries", GH_CT_DURATION, "30d", 0, 3650 * GH_DAY,
	 NULL, "delivery records of a finished event, after it finished (they "
	 "go with their event in any case)"},
	{"retention", "events", GH_CT_DURATION, "30d", 0, 3650 * GH_DAY, NULL,
	 "finished events (done, dead, expired), after they finished"},
	{"retention", "inbox_read", GH_CT_DURATION, "30d", 0, 3650 * GH_DAY,
	 NULL, "inbox items, after they were read"},
	{"retention", "inbox_unread", GH_CT_DURATION, "90d", 0, 3650 * GH_DAY,
	 NULL, "inbox items never read, after they arrived (one waiting for a "
	 "digest stays at least 8 days)"},
	{"retention", "known_hosts", GH_CT_DURATION, "180d", 0, 3650 * GH_DAY,
	 NULL, "networks a user logged in from, after the last login from "
	 "there (one forgotten alerts again as new)"},
	{"retention", "scan_cache", GH_CT_DURATION, "7d", 0, 3650 * GH_DAY,
	 NULL, "verdicts of the scan cache (nginx module, gatehouse-milter), "
	 "after the scan; a verdict of older signatures is never used"},
	{"retention", "interval", GH_CT_DURATION, "10m", 1 * GH_SEC, 1 * GH_DAY,
	 NULL, "how often notifyd and each bridge apply retention to their "
	 "store (and once shortly after they start)"},

	/* [tokens] -- signed unsubscribe and download links (docs/tokens.md) */
	{"tokens", "key_file", GH_CT_PATH, "/etc/gatehouse/token.key", 0, 0,
	 NULL, "master key for tokens: 64 hex digits, made by "
	 "`gatehouse tokens keygen`"},
	{"tokens", "previous_key_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "the key before a rotation: tokens it signed still verify"},
	{"tokens", "mail_key_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "the mail domain's key file (the unsubscribe key it signs with), "
	 "written by `gatehouse tokens keygen`; empty: the milter reads "
	 "key_file"},
	{"tokens", "web_key_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "the web domain's key file (the unsubscribe and download keys, and "
	 "their previous ones), written by `gatehouse tokens keygen`; empty: "
	 "nginx reads key_file and previous_key_file"},
	{"tokens", "unsubscribe_ttl", GH_CT_DURATION, "180d", 1 * GH_DAY,
	 3650 * GH_DAY, NULL, "how long an unsubscribe link in a message works"},
	{"tokens", "download_ttl", GH_CT_DURATION, "1h", 1 * GH_SEC, 365 * GH_DAY,
	 NULL, "default lifetime of a signed download link"},
	{"tokens", "base_url", GH_CT_STRING, NULL, 0, 0, NULL,
	 "where the web server that checks the links is reached, e.g. "
	 "https://files.example.org: `gatehouse tokens make download` then "
	 "prints the whole link, not the token alone"},
	{"tokens", "download_path", GH_CT_STRING, "/dl/", 0, 0, NULL,
	 "the nginx location with gatehouse_download, as the path of a link "
	 "under base_url: base_url + download_path + ID?t=TOKEN"},

	/* [events_api] -- what the core lets the web domain raise beyond
	 * upload.*: applications' events through nginx's
	 * gatehouse_events_api (docs/api.md); read by notifyd and nginx */
	{"events_api", "types", GH_CT_LIST, "", 0, 0, NULL,
	 "event types (fnmatch patterns, app.* order.*) the web domain may "
	 "raise; never mail.*, login.*, store.* or digest; empty: none"},
	{"events_api", "action_url_prefix", GH_CT_LIST, "", 0, 0, NULL,
	 "an application event's action_url must start with one of these "
	 "(https://app.example.org/); empty: events with a link are refused"},

	{NULL, NULL, GH_CT_STRING, NULL, 0, 0, NULL, NULL}
};

const struct gh_conf_key *const gh_conf_schemas[] = {
	gh_conf_schema_common,
	gh_conf_schema_milter,
	gh_conf_schema_nginx,
	gh_conf_schema_pam,
	gh_conf_schema_notifyd,
	gh_conf_schema_nats,
	NULL
};
