/*
 * mcfg.c - load, share and swap the milter's runtime configuration (see
 * mcfg.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcfg.h"
#include "scan.h"

static void
mcfg_free(struct gm_mcfg *c)
{
	gscan_engine_unref(c->scanner);
	gm_mcfg_clear(c);
	gh_conf_free(c->conf);
	free(c);
}

gh_err
gm_mcfg_load(const char *path, const struct gm_mcfg *prev,
             uint64_t generation, struct gm_mcfg **out, char *detail,
             size_t detail_len)
{
	struct gm_mcfg *c;
	gh_err err;

	*out = NULL;
	detail[0] = '\0';
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return GH_ENOMEM;
	c->refs = 1;
	c->generation = generation;
	err = gh_conf_load(&c->conf, path, detail, detail_len);
	if (err)
		goto cleanup;
	/* everything but the engine: mconf.c, which the CLI's config
	 * check runs too */
	err = gm_mcfg_parse(c, detail, detail_len);
	if (err)
		goto cleanup;
	if (gh_conf_bool(c->conf, "milter", "scan")) {
		/* The whole message is one file to ClamAV, kept up to
		 * scan_max_size.  What libclamav reads in all is more: the
		 * message, its decoded attachments, what their archives
		 * hold; four times the message covers base64 and a zip
		 * inside (a message needing more is unscannable, see
		 * on_scan_limit).  Files and recursion: libclamav's. */
		const char *clamd = gh_conf_str(c->conf, "milter",
		                                "clamd_socket");
		char clamd_db[4200];
		struct gscan_config sc = {
			.dbdir = gh_conf_str(c->conf, "milter", "clamav_db"),
			.tmpdir = gh_conf_str(c->conf, "milter", "clamav_tmp"),
			.max_filesize = c->scan_max_size,
			.max_scansize = GH_SCAN_READ_FACTOR * c->scan_max_size,
			.max_scantime_ms = gh_conf_int(c->conf, "milter",
			                               "scan_timeout"),
		};

		/* clamd_socket: the scanner's clamd backend (gscan.h) */
		if (clamd && *clamd) {
			snprintf(clamd_db, sizeof(clamd_db), "%s%s",
			         GSCAN_CLAMD_PREFIX, clamd);
			sc.dbdir = clamd_db;
		}
		if (sc.tmpdir && *sc.tmpdir &&
		    (err = gm_scan_check_tmpdir(sc.tmpdir, detail,
		                                detail_len)))
			goto cleanup;
		err = gscan_engine_open(&sc, prev ? prev->scanner : NULL,
		                        &c->scanner, detail, detail_len);
		if (err)
			goto cleanup;
	}
cleanup:
	if (err) {
		if (!detail[0])
			snprintf(detail, detail_len, "%s", gh_strerror(err));
		mcfg_free(c);
		return err;
	}
	*out = c;
	return GH_OK;
}

void
gm_mcfg_ref(struct gm_mcfg *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

void
gm_mcfg_unref(struct gm_mcfg *c)
{
	if (c != NULL && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		mcfg_free(c);
}

void
gm_mcfg_holder_init(struct gm_mcfg_holder *h, struct gm_mcfg *first)
{
	pthread_mutex_init(&h->mu, NULL);
	h->cur = first;
}

void
gm_mcfg_holder_destroy(struct gm_mcfg_holder *h)
{
	gm_mcfg_unref(h->cur);
	h->cur = NULL;
	pthread_mutex_destroy(&h->mu);
}

struct gm_mcfg *
gm_mcfg_acquire(struct gm_mcfg_holder *h)
{
	struct gm_mcfg *c;

	pthread_mutex_lock(&h->mu);
	c = h->cur;
	gm_mcfg_ref(c);
	pthread_mutex_unlock(&h->mu);
	return c;
}

void
gm_mcfg_swap(struct gm_mcfg_holder *h, struct gm_mcfg *next)
{
	struct gm_mcfg *old;

	pthread_mutex_lock(&h->mu);
	old = h->cur;
	h->cur = next;
	pthread_mutex_unlock(&h->mu);
	gm_mcfg_unref(old);
}
