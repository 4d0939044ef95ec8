/*
 * conf_schema_nats.c - the keys of gatehouse.conf for the multi-host mode:
 * [nats], how each part reaches the NATS JetStream cluster (cluster/ghc.h,
 * docs/cluster.md).  See conf_schema.c for how these tables are used;
 * document every key in conf/gatehouse.conf and docs/man/gatehouse.conf.5
 * too.  With servers empty (the default) nothing reads the rest and every
 * part behaves exactly as on a single host.
 */
#include <stddef.h>

#include "conf_int.h"

const struct gh_conf_key gh_conf_schema_nats[] = {
	/* [nats] -- the multi-host mode over NATS JetStream */
	{"nats", "servers", GH_CT_LIST, "", 0, 0, NULL,
	 "nats:// (or tls://) URLs of the JetStream cluster, comma separated; "
	 "empty: single-host mode, nothing leaves this host"},
	{"nats", "host", GH_CT_STRING, NULL, 0, 0, NULL,
	 "this host's name in subjects and metrics (letters, digits, _ and - "
	 "only); unset: the hostname, up to its first dot"},
	{"nats", "credentials", GH_CT_STRING, NULL, 0, 0, NULL,
	 "a NATS .creds file (user JWT and seed); %d becomes the domain (mail, "
	 "web, login, core), so each domain's bridge reads only its own; "
	 "owner-readable only"},
	{"nats", "nkey_seed", GH_CT_STRING, NULL, 0, 0, NULL,
	 "instead of credentials: a file holding a user NKey seed (SU...), "
	 "the same %d rule; owner-readable only"},
	{"nats", "tls_ca", GH_CT_PATH, NULL, 0, 0, NULL,
	 "CA certificates (PEM) the servers' certificates are checked against"},
	{"nats", "tls_cert", GH_CT_PATH, NULL, 0, 0, NULL,
	 "client certificate (PEM) when the servers ask for one"},
	{"nats", "tls_key", GH_CT_PATH, NULL, 0, 0, NULL,
	 "the client certificate's private key (PEM)"},
	{"nats", "stream", GH_CT_STRING, "GATEHOUSE_EVENTS", 0, 0, NULL,
	 "the JetStream stream of events (its dead letters: the same name with "
	 "_DEAD)"},
	{"nats", "subject_prefix", GH_CT_STRING, "gatehouse", 0, 0, NULL,
	 "first token of every subject (PREFIX.events.DOMAIN.HOST) and of the "
	 "KV buckets (PREFIX_hosts); letters, digits, _ and - only"},
	{"nats", "replicas", GH_CT_INT, "1", 1, 5, NULL,
	 "copies JetStream keeps of the stream and buckets (3 in a cluster)"},
	{"nats", "ack_wait", GH_CT_DURATION, "60s", 1 * GH_SEC, 1 * GH_HOUR,
	 NULL, "how long a notifyd may hold an event before JetStream gives it "
	 "to another (longer than the slowest channel's timeout)"},
	{"nats", "max_deliver", GH_CT_INT, "10", 1, 1000, NULL,
	 "times JetStream hands one event out before giving up on it"},
	{"nats", "connect_timeout", GH_CT_DURATION, "5s", 100, 5 * GH_MIN, NULL,
	 "longest wait for one connection attempt (reconnects never stop)"},
	{"nats", "stream_max_bytes", GH_CT_SIZE, "256M", 1 * GH_MB,
	 1024 * GH_GB, NULL, "most bytes the events stream holds (then "
	 "publishes are refused and bridges retry), and the dead-letter "
	 "stream (then its oldest go)"},

	{NULL, NULL, GH_CT_STRING, NULL, 0, 0, NULL, NULL}
};
