/*
 * conf_schema_milter.c - the keys of gatehouse.conf that belong to the milter
 * component.  See conf_schema.c for how these tables are used; document
 * every key in conf/gatehouse.conf and docs/man/gatehouse.conf.5 too.
 *
 *   [milter]     the daemon, which mail it signs, the mail log's failure
 *                policy, bulk mail and opt-out, virus scanning
 *   [dkim]       signing defaults and the key directory that
 *                `gatehouse dkim keygen|rotate` manage
 *   [dkim.NAME]  extra signing-table entries: a From domain, a selector
 *                and a key file kept anywhere
 *   [ratelimit]  per user / sender / sender domain limits on outgoing mail
 */
#include <stddef.h>

#include "conf_int.h"

const struct gh_conf_key gh_conf_schema_milter[] = {
	/* [milter] -- the daemon */
	/* Inside Postfix's queue directory, where its chrooted smtpd and
	 * cleanup (Debian's default) reach it, and so does an unchrooted
	 * Postfix: the default works with every Postfix; see gatehouse.conf
	 * and docs/security.md ("Postfix", "Sendmail"). */
	{"milter", "socket", GH_CT_STRING,
	 "unix:/var/spool/postfix/gatehouse/milter.sock",
	 0, 0, NULL, "where the MTA connects: unix:PATH, inet:PORT@ADDRESS or "
	 "inet6:PORT@ADDRESS"},
	{"milter", "socket_mode", GH_CT_STRING, "0660", 0, 0, NULL,
	 "permissions of a unix socket (octal); nothing for others: the "
	 "MTA connects through socket_group"},
	{"milter", "socket_group", GH_CT_STRING, "postfix", 0, 0, NULL,
	 "the MTA's own group, given to a unix socket and the directory the "
	 "milter creates for it; empty: the milter user's group"},
	{"milter", "user", GH_CT_STRING, "gatehouse-mail", 0, 0, NULL,
	 "when started as root, run as this user (and its groups)"},
	{"milter", "pid_file", GH_CT_PATH, "/run/gatehouse-milter/milter.pid", 0, 0,
	 NULL, "pid file written after dropping privileges (-p overrides), "
	 "locked while the milter runs"},
	{"milter", "program", GH_CT_PATH, NULL, 0, 0, NULL,
	 "the gatehouse-milter binary: `gatehouse dkim rotate` signals the "
	 "pid file's lock holder only if it runs this file (unset: any file "
	 "named gatehouse-milter)"},
	{"milter", "log_facility", GH_CT_ENUM, "mail", 0, 0,
	 "mail|daemon|user|local0|local1|local2|local3|local4|local5|local6|"
	 "local7", "syslog facility when running as a daemon"},
	{"milter", "timeout", GH_CT_DURATION, "60s", 1 * GH_SEC, 1 * GH_HOUR,
	 NULL, "how long to wait on the MTA before dropping the connection"},
	{"milter", "drain_timeout", GH_CT_DURATION, "30s", 0, 10 * GH_MIN, NULL,
	 "on SIGTERM, how long messages in progress may take to finish"},
	{"milter", "tcp_nodelay", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "send replies on inet: sockets at once (no Nagle delay); leave on"},
	{"milter", "mail_log", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "write one record per message into the store's mail log"},
	{"milter", "internal_hosts", GH_CT_LIST, "127.0.0.0/8 ::1", 0, 0, NULL,
	 "clients whose mail is outgoing (signed, rate limited), like "
	 "OpenDKIM's InternalHosts: addresses or ADDR/BITS"},
	{"milter", "sign_authenticated", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "mail from SMTP AUTH clients ({auth_authen}) is outgoing wherever "
	 "they connect from"},
	{"milter", "on_store_error", GH_CT_ENUM, "tempfail", 0, 0,
	 "tempfail|accept", "when the store is missing, locked or full: "
	 "tempfail the message, or accept it unlogged and unlimited"},
	{"milter", "on_sign_error", GH_CT_ENUM, "accept", 0, 0,
	 "tempfail|accept", "when an outgoing message cannot be signed (a key "
	 "failed, headers over the bounds): send it unsigned, or tempfail"},
	{"milter", "bulk_header", GH_CT_STRING, NULL, 0, 0, NULL,
	 "a header field whose presence marks bulk mail, besides Precedence: "
	 "bulk|list|junk and List-Id"},
	{"milter", "transactional_header", GH_CT_STRING, NULL, 0, 0, NULL,
	 "a header field marking mail transactional (never suppressed, no "
	 "List-Unsubscribe) even if it also looks bulk"},
	{"milter", "unsubscribe_url", GH_CT_STRING, NULL, 0, 0, NULL,
	 "base URL of the one-click unsubscribe endpoint; bulk mail to one "
	 "recipient gets List-Unsubscribe: <URL?t=TOKEN> (needs [tokens] "
	 "key_file)"},
	{"milter", "scan", GH_CT_BOOL, "no", 0, 0, NULL,
	 "scan every message with libclamav"},
	{"milter", "scan_text", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "scan plain text messages too (no Content-Type or only text/plain, "
	 "no uuencoded part); no: leave those unscanned"},
	{"milter", "clamav_db", GH_CT_PATH, "/var/lib/clamav", 0, 0, NULL,
	 "ClamAV signature directory, loaded at start, on SIGHUP and when "
	 "it changes (clamav_check)"},
	{"milter", "clamav_check", GH_CT_DURATION, "60s", 0, 1 * GH_DAY, NULL,
	 "how often the milter looks for a new signature database "
	 "(freshclam's) and loads it; 0: only on SIGHUP"},
	{"milter", "scan_max_size", GH_CT_SIZE, "25M", 64 * GH_KB, 1 * GH_GB,
	 NULL, "bytes of a message kept for scanning; the rest is not scanned"},
	{"milter", "scan_timeout", GH_CT_DURATION, "30s", 1 * GH_SEC,
	 10 * GH_MIN, NULL, "longest scan of one message"},
	{"milter", "on_scan_error", GH_CT_ENUM, "tempfail", 0, 0,
	 "tempfail|accept", "when the scanner fails on a message, or its "
	 "scan takes longer than scan_timeout"},
	{"milter", "on_scan_limit", GH_CT_ENUM, "accept", 0, 0,
	 "accept|tempfail|reject", "when a message cannot be scanned whole: "
	 "an encrypted archive, a part past scan_max_size, archives nested "
	 "too deep, too many files"},
	{"milter", "spool_dir", GH_CT_PATH, "/var/tmp", 0, 0, NULL,
	 "where copies of messages over 256 KiB are kept for scanning "
	 "(unlinked files; smaller ones stay in memory)"},
	{"milter", "clamav_tmp", GH_CT_PATH, NULL, 0, 0, NULL,
	 "libclamav's temporary directory (a directory per scan, the parts "
	 "of mail it takes apart); default $TMPDIR or /tmp; a tmpfs is "
	 "cheapest"},
	{"milter", "clamd_socket", GH_CT_PATH, NULL, 0, 0, NULL,
	 "scan with the clamd listening on this unix socket (e.g. "
	 "/run/clamav/clamd.ctl) instead of loading the signatures in the "
	 "milter; clamav_db and clamav_check are then not used"},
	{"milter", "scan_cache", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "keep clean and infected verdicts in the mail store, by the "
	 "message's SHA-256 and the signatures' version, and answer the same "
	 "message again without scanning it"},

	/* [dkim] -- signing defaults */
	{"dkim", "key_dir", GH_CT_PATH, "/etc/gatehouse/dkim", 0, 0, NULL,
	 "keys as DOMAIN/SELECTOR.key (made by `gatehouse dkim keygen`); "
	 "every key of the From domain signs"},
	{"dkim", "canonicalization", GH_CT_ENUM, "relaxed/relaxed", 0, 0,
	 "relaxed/relaxed|relaxed/simple|simple/relaxed|simple/simple",
	 "c= header/body canonicalization"},
	{"dkim", "headers", GH_CT_LIST, NULL, 0, 0, NULL,
	 "header fields to sign; unset: From, To, Cc, Subject, Date, "
	 "Message-ID, MIME and List-* fields and more"},
	{"dkim", "oversign", GH_CT_LIST, NULL, 0, 0, NULL,
	 "fields signed once more than present, so none can be added; unset: "
	 "From To Subject Date List-Unsubscribe List-Unsubscribe-Post"},
	{"dkim", "expire", GH_CT_DURATION, "0", 0, 3650 * GH_DAY, NULL,
	 "signature lifetime written as x=; 0 leaves x= out"},
	{"dkim", "subdomains", GH_CT_BOOL, "yes", 0, 0, NULL,
	 "a key of example.org also signs mail From a.example.org"},
	{"dkim", "rsa_bits", GH_CT_INT, "2048", 1024, 4096, NULL,
	 "size of the RSA keys `gatehouse dkim keygen` and `rotate` make "
	 "(--bits overrides it)"},
	{"dkim", "retire_grace", GH_CT_DURATION, "7d", 0, 365 * GH_DAY, NULL,
	 "how long a retired key's DNS record stays published after the key "
	 "stopped signing (mail it signed may still be in transit); "
	 "`gatehouse dns records` lists it until then"},

	/* [dkim.NAME] -- signing-table entries for keys outside key_dir */
	{"dkim.*", "domain", GH_CT_STRING, NULL, 0, 0, NULL,
	 "From domain this entry signs (required)"},
	{"dkim.*", "selector", GH_CT_STRING, NULL, 0, 0, NULL,
	 "s= selector, published at SELECTOR._domainkey.DOMAIN (required)"},
	{"dkim.*", "key_file", GH_CT_PATH, NULL, 0, 0, NULL,
	 "PEM private key, RSA 1024-4096 bits or Ed25519 (required)"},
	{"dkim.*", "signing_domain", GH_CT_STRING, NULL, 0, 0, NULL,
	 "d= if not the From domain (a parent domain, or a provider's)"},

	/* [ratelimit] -- limits on outgoing mail, kept in the store */
	{"ratelimit", "window", GH_CT_DURATION, "1h", 1 * GH_SEC, 30 * GH_DAY,
	 NULL, "the sliding window the limits below count in"},
	{"ratelimit", "action", GH_CT_ENUM, "tempfail", 0, 0, "tempfail|reject",
	 "over a limit: 451 4.7.1 (the sender retries later) or 550 5.7.1"},
	{"ratelimit", "user_messages", GH_CT_INT, "0", 0, 1000000000, NULL,
	 "messages per window per SMTP AUTH user; 0: no limit"},
	{"ratelimit", "user_recipients", GH_CT_INT, "0", 0, 1000000000, NULL,
	 "recipients per window per SMTP AUTH user; 0: no limit"},
	{"ratelimit", "sender_messages", GH_CT_INT, "0", 0, 1000000000, NULL,
	 "messages per window per envelope sender address; 0: no limit"},
	{"ratelimit", "sender_recipients", GH_CT_INT, "0", 0, 1000000000, NULL,
	 "recipients per window per envelope sender address; 0: no limit"},
	{"ratelimit", "domain_messages", GH_CT_INT, "0", 0, 1000000000, NULL,
	 "messages per window per envelope sender domain; 0: no limit"},
	{"ratelimit", "domain_recipients", GH_CT_INT, "0", 0, 1000000000, NULL,
	 "recipients per window per envelope sender domain; 0: no limit"},

	{NULL, NULL, GH_CT_STRING, NULL, 0, 0, NULL, NULL}
};
