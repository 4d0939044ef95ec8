/*
 * channel.c - the table of channel kinds and the secret-reading helper
 * they share (see channel.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/file.h"
#include "channel.h"

static const struct nd_kind *const kinds[] = {
	&nd_kind_webhook, &nd_kind_smtp, &nd_kind_inbox, &nd_kind_slack,
	&nd_kind_mattermost, &nd_kind_discord, &nd_kind_teams, &nd_kind_sms,
	&nd_kind_ntfy, &nd_kind_gotify, &nd_kind_webpush
};

const struct nd_kind *
nd_kind_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

void *
nd_priv_new(struct nd_chan *ch, size_t len)
{
	ch->priv = calloc(1, len);
	ch->priv_len = ch->priv ? len : 0;
	return ch->priv;
}

void
nd_priv_free(struct nd_chan *ch)
{
	if (ch->priv)
		explicit_bzero(ch->priv, ch->priv_len);
	free(ch->priv);
	ch->priv = NULL;
	ch->priv_len = 0;
}

gh_err
nd_conf_secret(const struct gh_conf *conf, const char *section,
               const char *key, const char *file_key, char *out, size_t cap,
               int *found, char *detail, size_t dlen)
{
	const char *v = gh_conf_str(conf, section, key);
	const char *f = file_key ? gh_conf_str(conf, section, file_key) : NULL;
	char why[512];
	size_t n;
	gh_err err;

	*found = 0;
	out[0] = '\0';
	if (v && f) {
		snprintf(detail, dlen, "[%s]: set %s or %s, not both", section,
		         key, file_key);
		return GH_ECONFIG;
	}
	if (v) {
		if (strlen(v) >= cap) {
			snprintf(detail, dlen, "[%s] %s: too long", section, key);
			return GH_ECONFIG;
		}
		memcpy(out, v, strlen(v) + 1);
		*found = 1;
		return GH_OK;
	}
	if (f == NULL)
		return GH_OK;
	err = gh_file_read_into(f, 0, out, cap, &n, why, sizeof(why));
	if (err) {
		explicit_bzero(out, cap);
		snprintf(detail, dlen, "[%s] %s: %s", section, file_key, why);
		return GH_ECONFIG;
	}
	/* the first line is the secret */
	n = strcspn(out, "\r\n");
	explicit_bzero(out + n, cap - n);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' ||
	                 out[n - 1] == ' ' || out[n - 1] == '\t'))
		out[--n] = '\0';
	if (n == 0) {
		snprintf(detail, dlen, "[%s] %s: %s is empty", section, file_key,
		         f);
		return GH_ECONFIG;
	}
	*found = 1;
	return GH_OK;
}
