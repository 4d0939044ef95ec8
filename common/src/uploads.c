/*
 * uploads.c - the upload records' keys and versions
 * (gatehouse/uploads.h).
 */
#include <string.h>

#include "gatehouse/uploads.h"
#include "record_int.h"

void
gh_upload_key(uint64_t id, unsigned char key[GH_UPLOAD_KEY_LEN])
{
	gh_put_be64(key, id);
}

gh_err
gh_upload_key_parse(const void *key, size_t klen, uint64_t *id)
{
	*id = 0;
	if (klen != GH_UPLOAD_KEY_LEN)
		return GH_ECORRUPT;
	*id = gh_get_be64(key);
	return *id ? GH_OK : GH_ECORRUPT;
}

/* v 1 records have no display_name: their original_name is the safe name */
static int
is_v1(const json_t *rec)
{
	return !json_is_string(json_object_get(rec, "display_name"));
}

json_t *
gh_upload_display_json(const json_t *rec)
{
	json_t *v = json_object_get(rec, "display_name");

	if (!json_is_string(v))
		v = json_object_get(rec, "original_name");
	return json_is_string(v) ? v : NULL;
}

json_t *
gh_upload_original_json(const json_t *rec)
{
	json_t *v;

	if (is_v1(rec))
		return NULL;
	v = json_object_get(rec, "original_name");
	return json_is_string(v) ? v : NULL;
}

gh_err
gh_upload_read(json_t *rec, struct gh_upload *u)
{
	const char *s;
	gh_err err;

	memset(u, 0, sizeof(*u));
	u->v = gh_rec_version(rec, GH_UPLOAD_V, &err);
	if (u->v == 0)
		return err;
	u->rec = rec;
	u->id = (uint64_t)gh_rec_int(rec, "id", 0);
	u->user = gh_rec_text(rec, "user");
	u->field = gh_rec_text(rec, "field");
	s = json_string_value(gh_upload_display_json(rec));
	u->display_name = s ? s : "";
	u->original_name = json_string_value(gh_upload_original_json(rec));
	if (u->original_name == NULL && !is_v1(rec))
		u->original_name = "";
	u->stored_name = gh_rec_text(rec, "stored_name");
	u->url = gh_rec_text(rec, "url");
	u->uri = gh_rec_text(rec, "uri");
	u->category = gh_rec_text(rec, "category");
	u->mime = gh_rec_text(rec, "mime");
	u->sha256 = gh_rec_text(rec, "sha256");
	u->scan = gh_rec_text(rec, "scan");
	u->signature = gh_rec_text(rec, "signature");
	u->scan_error = gh_rec_text(rec, "scan_error");
	u->status = gh_rec_text(rec, "status");
	u->reason = gh_rec_text(rec, "reason");
	u->client_addr = gh_rec_text(rec, "client_addr");
	u->size = gh_rec_int(rec, "size", 0);
	u->created_at = gh_rec_int(rec, "created_at", 0);
	u->updated_at = gh_rec_int(rec, "updated_at", 0);
	return GH_OK;
}

int
gh_upload_kept(const struct gh_upload *u)
{
	return strcmp(u->status, "stored") == 0 ||
	       strcmp(u->status, "quarantined") == 0;
}

gh_err
gh_upload_add_txn(struct gh_txn *txn, json_t *rec, uint64_t *id)
{
	unsigned char key[GH_UPLOAD_KEY_LEN];
	gh_err err;

	*id = 0;
	if (!json_is_object(rec))
		return GH_EINVAL;
	err = gh_txn_next_seq(txn, GH_UPLOAD_SEQ, id);
	if (err)
		return err;
	if (json_object_set_new(rec, "v", json_integer(GH_UPLOAD_V)) ||
	    json_object_set_new(rec, "id", json_integer((json_int_t)*id)))
		return GH_ENOMEM;
	gh_upload_key(*id, key);
	/* a new id sorts last: LMDB appends without a search */
	return gh_rec_put(txn, GH_DB_UPLOADS, key, sizeof(key), rec, 1);
}

gh_err
gh_upload_put_txn(struct gh_txn *txn, uint64_t id, const json_t *rec)
{
	unsigned char key[GH_UPLOAD_KEY_LEN];

	if (id == 0 || gh_rec_int(rec, "v", 0) != GH_UPLOAD_V ||
	    gh_rec_int(rec, "id", 0) != (int64_t)id)
		return GH_EINVAL;
	gh_upload_key(id, key);
	return gh_rec_put(txn, GH_DB_UPLOADS, key, sizeof(key), rec, 0);
}

gh_err
gh_upload_get_txn(struct gh_txn *txn, uint64_t id, json_t **out)
{
	return gh_rec_get_id(txn, GH_DB_UPLOADS, GH_UPLOAD_V, id, out);
}

struct scan_arg {
	gh_upload_fn fn;
	void *arg;
	size_t skipped;
};

static int
scan_one(uint64_t id, json_t *rec, void *arg)
{
	struct scan_arg *a = arg;
	struct gh_upload u;

	if (id == 0 || gh_upload_read(rec, &u) != GH_OK) {
		a->skipped++;
		return 0;
	}
	u.id = id;    /* the key says which record it is */
	return a->fn(&u, a->arg);
}

gh_err
gh_upload_scan_txn(struct gh_txn *txn, uint64_t start, int reverse,
                   gh_upload_fn fn, void *arg, size_t *skipped)
{
	struct scan_arg a = {fn, arg, 0};
	size_t other = 0;
	gh_err err;

	err = gh_rec_scan_ids(txn, GH_DB_UPLOADS, GH_UPLOAD_V, start, reverse,
	                      scan_one, &a, &other);
	if (skipped)
		*skipped = a.skipped + other;
	return err;
}
