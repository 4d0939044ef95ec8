/*
 * usage.c - `gatehouse COMMAND --help` and `gatehouse COMMAND SUB --help`:
 * every subcommand with every option its parser accepts, one entry per
 * subcommand.  `gatehouse --help` (main.c) stays a one-line-per-command
 * summary; this is the reference a person types at the prompt.
 *
 * Kept apart from the parsers so that the whole text reads as one page.
 * tests/integration/common/test_docs.py checks that every option a
 * parser in cli/ accepts is printed here and that everything printed here
 * is in docs/man/gatehouse.1: add an option in all three places.
 *
 * Each entry starts with the line "gatehouse COMMAND SUB ..." (the test
 * reads the options of SUB from there to the next such line).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *cmd, *sub, *text;
} entries[] = {
	/* ---- store ---- */
	{"store", "init",
	 "gatehouse store init [--owner USER]\n"
	 "  Create every store the configuration names, or migrate older ones\n"
	 "  (run as root, or as the owner of a single store).\n"
	 "  --owner USER        owner of the core store (default [store] owner)\n"},
	{"store", "info",
	 "gatehouse store info\n"
	 "  Path, schema, map size, space in use, reader slots, events by state,\n"
	 "  records per database.\n"},
	{"store", "purge",
	 "gatehouse store purge [--dry-run]\n"
	 "  Apply [retention] now to the core store (or --domain D's).\n"
	 "  --dry-run           delete nothing; say how many would go\n"},
	/* ---- events ---- */
	{"events", "list",
	 "gatehouse events list [--state STATES] [--limit N] [--after ID]\n"
	 "    [--oldest-first]\n"
	 "  --state STATES      comma-separated: ready, leased, done, dead,\n"
	 "                      expired, all (default all)\n"
	 "  --limit N           at most N events (default 50, 0: all)\n"
	 "  --after ID          start after event ID (the next page)\n"
	 "  --oldest-first      oldest first instead of newest first\n"},
	{"events", "show",
	 "gatehouse events show ID\n"
	 "  One event with its queue state, metadata and delivery records.\n"},
	{"events", "enqueue",
	 "gatehouse events enqueue --user U --type T --title TEXT [--message TEXT]\n"
	 "    [--priority P] [--category NAME] [--dedup-key KEY]\n"
	 "    [--expires DURATION] [--action-url URL] [--metadata JSON]\n"
	 "    [--source NAME] [--channel NAME]... [--recipient ADDRESS]...\n"
	 "  Queue an event for gatehouse-notifyd and print its id.\n"
	 "  --priority P        low, normal, high, urgent (or 1-4)\n"
	 "  --dedup-key KEY     not queued again within [queue] dedup_window\n"
	 "  --expires DURATION  dropped if not delivered by then (30m, 2h, 1d)\n"
	 "  --metadata JSON     a JSON object\n"
	 "  --source NAME       default cli\n"
	 "  --channel NAME      send only through these channels (repeatable)\n"
	 "  --recipient ADDRESS also tell ADDRESS (repeatable)\n"},
	{"events", "lease",
	 "gatehouse events lease [--max N] [--visibility DURATION]\n"
	 "  Hand out due events as ID:TOKEN TYPE USER TITLE lines.\n"
	 "  --max N             at most N events (default 10)\n"
	 "  --visibility DURATION  how long they stay leased\n"
	 "                      (default [queue] visibility)\n"},
	{"events", "ack",
	 "gatehouse events ack ID:TOKEN...\n"
	 "  Mark leased events done.\n"},
	{"events", "retry",
	 "gatehouse events retry ID\n"
	 "  Queue a done, dead or expired event again, now.\n"},
	{"events", "purge",
	 "gatehouse events purge [--older-than DURATION] [--state STATES]\n"
	 "  Delete finished events and their delivery records.\n"
	 "  --older-than DURATION  last changed before then (default\n"
	 "                      [queue] keep_done)\n"
	 "  --state STATES      done, dead, expired (default all three)\n"},
	/* ---- config ---- */
	{"config", "check",
	 "gatehouse config check [--as-service] [--only PARTS] [--pam-dir DIR]\n"
	 "  Parse the configuration and run every part's own checks of it.\n"
	 "  --as-service        also open each daemon's files as its user (root)\n"
	 "  --only PARTS        comma-separated: milter, notifyd, nginx, tokens,\n"
	 "                      pam, store, bridge, nats\n"
	 "  --pam-dir DIR       where the pam_gatehouse.so lines are\n"
	 "                      (default /etc/pam.d)\n"},
	{"config", "dump",
	 "gatehouse config dump\n"
	 "  Every known key with its effective value, marking defaults.\n"},
	/* ---- logins ---- */
	{"logins", "list",
	 "gatehouse logins list [--user USER]\n"
	 "  The (user, network) pairs pam_gatehouse has seen at login.\n"
	 "  --user USER         only USER's\n"},
	{"logins", "forget",
	 "gatehouse logins forget USER [NETWORK]\n"
	 "  Forget one network of USER, or all of them.\n"},
	{"logins", "purge",
	 "gatehouse logins purge --older-than DURATION [--dry-run]\n"
	 "  --older-than DURATION  remove the pairs not seen for DURATION (180d)\n"
	 "  --dry-run           list them instead\n"},
	/* ---- suppress ---- */
	{"suppress", "add",
	 "gatehouse suppress add ADDRESS [--list LIST] [--reason TEXT]\n"
	 "  Stop bulk mail to ADDRESS.\n"
	 "  --list LIST         for one list only (default: every list)\n"
	 "  --reason TEXT       kept with the entry\n"},
	{"suppress", "remove",
	 "gatehouse suppress remove ADDRESS [--list LIST]\n"},
	{"suppress", "check",
	 "gatehouse suppress check ADDRESS [--list LIST]\n"
	 "  Exit 0 if suppressed, 1 if not.\n"},
	{"suppress", "list",
	 "gatehouse suppress list\n"},
	/* ---- mail ---- */
	{"mail", "log",
	 "gatehouse mail log [--sender ADDRESS] [--rcpt ADDRESS] [--since WHEN]\n"
	 "    [--status ACTION] [--limit N]\n"
	 "  The messages gatehouse-milter saw, newest first.\n"
	 "  --since WHEN        a duration back (2h, 7d) or a date (2024-05-01,\n"
	 "                      2024-05-01T10:00:00Z)\n"
	 "  --status ACTION     accepted, rejected, tempfailed, discarded, aborted\n"
	 "  --limit N           at most N (default 50, 0: all)\n"},
	{"mail", "show",
	 "gatehouse mail show ID|QUEUE-ID\n"},
	/* ---- users ---- */
	{"users", "set",
	 "gatehouse users set USER [--name NAME] [--email ADDRESS] [--phone NUMBER]\n"
	 "    [--tz ZONE] [--lang LANG] [--chat CHANNEL=VALUE]...\n"
	 "    [--push-add JSON]... [--push-remove ENDPOINT]... [--unset FIELD]...\n"
	 "  Create or change USER's contacts; what is not given is kept.\n"
	 "  --name NAME         display name\n"
	 "  --email ADDRESS     for mail channels\n"
	 "  --phone NUMBER      +, then 3 to 20 digits, for SMS\n"
	 "  --tz ZONE           IANA time zone for quiet hours and digests\n"
	 "  --lang LANG         language of USER's notifications (ko, pt-BR);\n"
	 "                      '' or default: [notifyd] default_language\n"
	 "  --chat CHANNEL=VALUE  USER's recipient on a channel or channel kind\n"
	 "                      (an ntfy topic...); CHANNEL= removes it\n"
	 "  --push-add JSON     a Web Push subscription (PushSubscription JSON)\n"
	 "  --push-remove ENDPOINT  drop the subscription of ENDPOINT\n"
	 "  --unset FIELD       remove name, email, phone, tz, lang, chat or push\n"},
	{"users", "show",
	 "gatehouse users show USER\n"},
	{"users", "list",
	 "gatehouse users list\n"},
	{"users", "delete",
	 "gatehouse users delete USER\n"
	 "  Remove USER's contacts and preferences.\n"},
	/* ---- prefs ---- */
	{"prefs", "set",
	 "gatehouse prefs set USER [--channel CHANNEL=on|off|default]...\n"
	 "    [--category CATEGORY=on|off|digest|default]...\n"
	 "    [--quiet HH:MM-HH:MM|off] [--digest daily@HH:MM|weekly:DAY@HH:MM|off]\n"
	 "    [--digest-channel CHANNEL|default]...\n"
	 "  Change how USER is told; what is not given is kept.\n"
	 "  --channel CHANNEL=on|off|default  a channel (or kind) wanted or never\n"
	 "  --category CATEGORY=on|off|digest|default\n"
	 "  --quiet HH:MM-HH:MM  quiet hours in USER's time zone (off: none)\n"
	 "  --digest WHEN       when digests go out (DAY: mon..sun)\n"
	 "  --digest-channel CHANNEL  where digests go (repeatable)\n"},
	{"prefs", "show",
	 "gatehouse prefs show USER\n"},
	/* ---- inbox ---- */
	{"inbox", "list",
	 "gatehouse inbox list USER [--unread] [--limit N]\n"
	 "  --unread            only unread items\n"
	 "  --limit N           at most N items (default 0: all)\n"},
	{"inbox", "read",
	 "gatehouse inbox read USER ID|--all\n"
	 "  Mark one item (by event id), or --all, read.\n"},
	/* ---- notify ---- */
	{"notify", NULL,
	 "gatehouse notify USER --title TEXT [--type T] [--message TEXT]\n"
	 "    [--priority P] [--category NAME] [--channel NAME]...\n"
	 "    [--action-url URL] [--expires DURATION] [--metadata JSON]\n"
	 "    [--dedup-key KEY]\n"
	 "  Queue a notification for USER (source cli) and print its id.\n"
	 "  --type T            event type (default admin.notice)\n"
	 "  --priority P        low, normal, high, urgent (or 1-4)\n"
	 "  --category NAME     security, system, social, marketing...\n"
	 "  --channel NAME      send only through these channels (repeatable)\n"
	 "  --expires DURATION  dropped if not delivered by then (30m, 2h, 1d)\n"
	 "  --metadata JSON     a JSON object\n"
	 "  --dedup-key KEY     not queued again within [queue] dedup_window\n"},
	/* ---- deliveries ---- */
	{"deliveries", "list",
	 "gatehouse deliveries list [--failed] [--channel NAME] [--state STATE]\n"
	 "    [--event ID] [--limit N]\n"
	 "  What gatehouse-notifyd did with each event, channel and recipient.\n"
	 "  --failed            only dead deliveries and those waiting to retry\n"
	 "  --channel NAME      only this channel\n"
	 "  --state STATE       delivered, retry, deferred, dead, skipped,\n"
	 "                      expired or held\n"
	 "  --event ID          only this event's\n"
	 "  --limit N           at most N (default 100, 0: all)\n"},
	/* ---- dkim ---- */
	{"dkim", "keygen",
	 "gatehouse dkim keygen --domain D --selector S [--type rsa|ed25519]\n"
	 "    [--bits N] [--out FILE] [--force]\n"
	 "  Make a key in [dkim] key_dir/D/S.key and print its DNS record.\n"
	 "  --bits N            RSA size, 1024 to 4096 (default 2048)\n"
	 "  --out FILE          write the key to FILE instead\n"
	 "  --force             replace an existing key\n"},
	{"dkim", "rotate",
	 "gatehouse dkim rotate --domain D [--type rsa|ed25519] [--bits N]\n"
	 "    [--selector S] [--grace DURATION] [--no-reload]\n"
	 "  New keys under new selectors; the old ones sign on for DURATION.\n"
	 "  --grace DURATION    how long old keys keep signing (default 7d)\n"
	 "  --no-reload         do not signal gatehouse-milter\n"},
	{"dkim", "list",
	 "gatehouse dkim list [--domain D]\n"},
	/* ---- dns ---- */
	{"dns", "records",
	 "gatehouse dns records DOMAIN\n"
	 "  The SPF, DKIM and DMARC records to publish for DOMAIN.\n"},
	/* ---- tokens ---- */
	{"tokens", "keygen",
	 "gatehouse tokens keygen [--force]\n"
	 "  Write a new master key to [tokens] key_file.\n"
	 "  --force             replace an existing key\n"},
	{"tokens", "derive",
	 "gatehouse tokens derive\n"
	 "  (Re)write [tokens] mail_key_file and web_key_file from the master.\n"},
	{"tokens", "make",
	 "gatehouse tokens make unsubscribe RECIPIENT LIST [--ttl DURATION]\n"
	 "gatehouse tokens make download ID [USER] [--ttl DURATION]\n"
	 "  Print a signed token.\n"
	 "  --ttl DURATION      valid for DURATION (default [tokens]\n"
	 "                      unsubscribe_ttl or download_ttl)\n"},
	{"tokens", "check",
	 "gatehouse tokens check unsubscribe|download TOKEN\n"
	 "  Verify a token and print what it carries.\n"},
	/* ---- uploads ---- */
	{"uploads", "list",
	 "gatehouse uploads list [--user USER] [--status STATUS] [--limit N]\n"
	 "  --status STATUS     receiving, scanning, stored, quarantined, rejected\n"
	 "  --limit N           at most N (default 100, 0: all)\n"},
	{"uploads", "show",
	 "gatehouse uploads show ID\n"},
	/* ---- cluster ---- */
	{"cluster", "status",
	 "gatehouse cluster status\n"
	 "  The multi-host mode ([nats]): servers, streams, consumers, each\n"
	 "  host's bridges (backlog, lag, last seen) and the KV buckets.\n"},
	{"cluster", "nkey",
	 "gatehouse cluster nkey --out FILE [--owner USER]\n"
	 "  Make a NATS user NKey (one per domain, docs/cluster.md): the seed\n"
	 "  into FILE (new, mode 0600), for [nats] nkey_seed; the public key\n"
	 "  (U...) on stdout, for the server's nkey: line.\n"
	 "  --out FILE          the seed file to create (never overwritten)\n"
	 "  --owner USER        give FILE to USER, who reads it (the domain's\n"
	 "                      store owner; gatehouse-notifyd's for core)\n"},
};

/* 1 if COMMAND has an entry here (every command of main.c's table does). */
static int
known(const char *cmd)
{
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
		if (strcmp(entries[i].cmd, cmd) == 0)
			return 1;
	return 0;
}

/* The text is the program's own, but the printers escape every %s (a
 * line feed in one is printed as \n): so one line at a time. */
static void
print_lines(const char *text)
{
	const char *nl;

	while ((nl = strchr(text, '\n')) != NULL) {
		cli_printf("%.*s\n", (int)(nl - text), text);
		text = nl + 1;
	}
}

int
cli_command_help(const char *cmd, const char *sub)
{
	int any = 0;

	if (!known(cmd)) {
		/* a command of main.c's table without its entries here:
		 * tests/integration/common/test_docs.py says so too */
		cli_eprintf("gatehouse: no usage for '%s' yet; see "
		            "'gatehouse --help'\n", cmd);
		return EXIT_SOFTWARE;
	}
	/* only SUB's entry when there is one, else the whole command */
	for (size_t i = 0; sub && i < sizeof(entries) / sizeof(entries[0]); i++)
		if (strcmp(entries[i].cmd, cmd) == 0 && entries[i].sub &&
		    strcmp(entries[i].sub, sub) == 0)
			any = 1;
	cli_printf("usage:\n");
	for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
		if (strcmp(entries[i].cmd, cmd) != 0 ||
		    (any && strcmp(entries[i].sub, sub) != 0))
			continue;
		print_lines(entries[i].text);
		cli_printf("\n");
	}
	cli_printf("Global options, before COMMAND: -c FILE, --domain D, "
	           "--json (also after it).\nSee gatehouse(1).\n");
	return EXIT_OK;
}
