/*
 * record_int.h - what the headers of the shared databases (maillog.h,
 * uploads.h, knownhosts.h, deliveries.h) have in common: decoding a JSON
 * record with its version, and writing one.  Not part of the public API.
 */
#ifndef GATEHOUSE_RECORD_INT_H
#define GATEHOUSE_RECORD_INT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

/*
 * gh_rec_version - the record's "v" when it is an integer from 1 to vmax;
 * 0 otherwise.  *err (optional) says why not: GH_ECORRUPT for a value that
 * is not an object or has no integer v of at least 1, GH_EVERSION for a v
 * above vmax (a newer writer's layout, which a reader must not guess at).
 */
unsigned gh_rec_version(const json_t *rec, unsigned vmax, gh_err *err);

/*
 * gh_rec_load - decode the JSON value val (vlen bytes) into *out (a new
 * reference) when gh_rec_version() accepts it; *out NULL and its error
 * otherwise, or GH_ENOMEM.
 */
gh_err gh_rec_load(const void *val, size_t vlen, unsigned vmax, json_t **out);

/*
 * gh_rec_put - encode rec compactly and put it at key; with append, a key
 * known to sort after every other (an id from a counter), which LMDB then
 * writes without a search.  GH_ETOOBIG past GH_RECORD_MAX.
 */
gh_err gh_rec_put(struct gh_txn *txn, enum gh_db db, const void *key,
                  size_t klen, const json_t *rec, int append);

/* gh_rec_str / gh_rec_int - member name of rec as a string (NULL when it
 * is not one) or an integer (dflt when it is not one). */
const char *gh_rec_str(const json_t *rec, const char *name);
/* gh_rec_text - as gh_rec_str, but "" for a member that is not a string
 * (a struct's fields that are never NULL). */
const char *gh_rec_text(const json_t *rec, const char *name);
int64_t gh_rec_int(const json_t *rec, const char *name, int64_t dflt);

/*
 * gh_rec_scan_ids - visit the records of db, a database keyed by be64 ids,
 * from id start (0: the first, or with reverse the last), decoded (version
 * up to vmax): fn gets the id, the record (borrowed) and arg, and returns
 * non-zero to stop.  Keys that are not ids and records that do not decode
 * are counted in *skipped (optional) and not given to fn.
 */
typedef int (*gh_rec_id_fn)(uint64_t id, json_t *rec, void *arg);
gh_err gh_rec_scan_ids(struct gh_txn *txn, enum gh_db db, unsigned vmax,
                       uint64_t start, int reverse, gh_rec_id_fn fn,
                       void *arg, size_t *skipped);

/* gh_rec_get_id - record id of db (keyed by be64 ids), decoded. */
gh_err gh_rec_get_id(struct gh_txn *txn, enum gh_db db, unsigned vmax,
                     uint64_t id, json_t **out);

#endif
