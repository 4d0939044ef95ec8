/*
 * record.c - decoding and writing the JSON records of the shared
 * databases (record_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include "record_int.h"

unsigned
gh_rec_version(const json_t *rec, unsigned vmax, gh_err *err)
{
	const json_t *v = json_object_get(rec, "v");
	json_int_t n;

	if (err)
		*err = GH_ECORRUPT;
	if (!json_is_object(rec) || !json_is_integer(v))
		return 0;
	n = json_integer_value(v);
	if (n < 1)
		return 0;
	if (n > (json_int_t)vmax) {
		if (err)
			*err = GH_EVERSION;
		return 0;
	}
	if (err)
		*err = GH_OK;
	return (unsigned)n;
}

gh_err
gh_rec_load(const void *val, size_t vlen, unsigned vmax, json_t **out)
{
	json_t *rec;
	gh_err err;

	*out = NULL;
	rec = json_loadb(val, vlen, JSON_REJECT_DUPLICATES, NULL);
	if (rec == NULL)
		return GH_ECORRUPT;
	if (gh_rec_version(rec, vmax, &err) == 0) {
		json_decref(rec);
		return err;
	}
	*out = rec;
	return GH_OK;
}

gh_err
gh_rec_put(struct gh_txn *txn, enum gh_db db, const void *key, size_t klen,
           const json_t *rec, int append)
{
	char *text;
	size_t n;
	gh_err err;

	if (!append)
		return gh_txn_put_json(txn, db, key, klen, rec);
	if (!json_is_object(rec))
		return GH_EINVAL;
	text = json_dumps(rec, JSON_COMPACT);
	if (text == NULL)
		return GH_ENOMEM;
	n = strlen(text);
	err = n > GH_RECORD_MAX ? GH_ETOOBIG :
	      gh_txn_put_append(txn, db, key, klen, text, n);
	free(text);
	return err;
}

const char *
gh_rec_str(const json_t *rec, const char *name)
{
	return json_string_value(json_object_get(rec, name));
}

const char *
gh_rec_text(const json_t *rec, const char *name)
{
	const char *s = gh_rec_str(rec, name);

	return s ? s : "";
}

int64_t
gh_rec_int(const json_t *rec, const char *name, int64_t dflt)
{
	const json_t *j = json_object_get(rec, name);

	return json_is_integer(j) ? (int64_t)json_integer_value(j) : dflt;
}

gh_err
gh_rec_get_id(struct gh_txn *txn, enum gh_db db, unsigned vmax, uint64_t id,
              json_t **out)
{
	unsigned char key[8];
	const void *val;
	size_t vlen;
	gh_err err;

	*out = NULL;
	gh_put_be64(key, id);
	err = gh_txn_get(txn, db, key, sizeof(key), &val, &vlen);
	if (err)
		return err;
	return gh_rec_load(val, vlen, vmax, out);
}

struct scan_ids {
	unsigned vmax;
	gh_rec_id_fn fn;
	void *arg;
	size_t skipped;
};

static int
scan_id(const void *key, size_t klen, const void *val, size_t vlen,
        void *arg)
{
	struct scan_ids *a = arg;
	json_t *rec;
	int stop;

	if (klen != 8 || gh_rec_load(val, vlen, a->vmax, &rec) != GH_OK) {
		a->skipped++;
		return 0;
	}
	stop = a->fn(gh_get_be64(key), rec, a->arg);
	json_decref(rec);
	return stop;
}

gh_err
gh_rec_scan_ids(struct gh_txn *txn, enum gh_db db, unsigned vmax,
                uint64_t start, int reverse, gh_rec_id_fn fn, void *arg,
                size_t *skipped)
{
	struct scan_ids a = {vmax, fn, arg, 0};
	unsigned char key[8];
	gh_err err;

	gh_put_be64(key, start);
	err = gh_txn_scan(txn, db, start ? key : NULL, start ? sizeof(key) : 0,
	                  reverse, scan_id, &a, NULL);
	if (skipped)
		*skipped = a.skipped;
	return err;
}
