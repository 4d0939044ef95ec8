/*
 * gatehouse/uploads.h - upload records: one per file part seen by the
 * nginx module (the uploads database), the definition of their keys and
 * records
 *
 * WHERE  The web domain's store ([store] web; the core's when it has
 * none).  The nginx module writes it (from its thread pool, docs/nginx.md)
 * and reads it (status, pass mode, download links); `gatehouse uploads
 * list|show` reads it; retention deletes records by created_at.
 *
 * KEY  uploads[be64 id]: id from gh_txn_next_seq(txn, GH_UPLOAD_SEQ); it is
 *   the upload's public id (the module's JSON answers,
 *   /uploads/status/ID, download tokens).  A record is rewritten under its
 *   id as the upload moves on.
 *
 * RECORD  JSON {v, id, user, field, original_name, display_name,
 *   stored_name, url, uri, size, category, mime, sha256, scan, signature,
 *   scan_error, scan_cached, status, reason, client_addr, created_at,
 *   updated_at}, times in ms, and for images the module processed the
 *   optional width, height, metadata, stored_size, stored_sha256,
 *   thumb_name, thumb_url, thumb_width, thumb_height, thumb_size.
 *   status: receiving, scanning, stored, quarantined or rejected; scan:
 *   not_scanned, clean, infected, unscannable or error.
 *
 * VERSIONS
 *   1  original_name is the safe name (there is no display_name)
 *   2  display_name is the safe name (gh_fn_sanitize), original_name what
 *      the client sent, escaped (docs/nginx.md, "File names in answers").
 *      The image members came later as optional ones, still v 2.
 *   GH_UPLOAD_V (2) is written.  Readers take both; gh_upload_read and
 *   the *_json accessors give the safe name of either as display_name,
 *   and the original only when the version has one.  A later version is
 *   GH_EVERSION, never guessed at.
 *
 * Every *_txn call runs in the caller's transaction (gh_store_update, or
 * gh_store_view for reads); JSON handed out by *_get_txn is a new
 * reference the caller releases; what a scan's fn gets, and what the
 * accessors return, is borrowed.  A handle's rules (store.h) are the only
 * thread rules.  Nothing here logs or blocks beyond LMDB.
 */
#ifndef GATEHOUSE_UPLOADS_H
#define GATEHOUSE_UPLOADS_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GH_UPLOAD_V        2          /* the version written */
#define GH_UPLOAD_SEQ      "upload"   /* the meta counter of ids */
#define GH_UPLOAD_KEY_LEN  8

/* gh_upload_key - the key of upload id. */
void gh_upload_key(uint64_t id, unsigned char key[GH_UPLOAD_KEY_LEN]);

/* gh_upload_key_parse - the id of a key; GH_ECORRUPT when key is not one
 * (not 8 bytes, or id 0). */
gh_err gh_upload_key_parse(const void *key, size_t klen, uint64_t *id);

/*
 * gh_upload_display_json - the safe name of any version (display_name, or
 * a v 1 record's original_name); gh_upload_original_json - what the
 * client sent, escaped (a v 2 record's original_name), NULL for v 1.
 * Borrowed from rec; NULL when absent.
 */
json_t *gh_upload_display_json(const json_t *rec);
json_t *gh_upload_original_json(const json_t *rec);

/*
 * struct gh_upload - a record read, whatever its version.  Strings point
 * into rec ("" when absent or null), except original_name, NULL for a
 * version that has none; valid while rec is.
 */
struct gh_upload {
	json_t *rec;              /* borrowed */
	unsigned v;
	uint64_t id;
	const char *user, *field, *display_name, *original_name;
	const char *stored_name, *url, *uri, *category, *mime, *sha256;
	const char *scan, *signature, *scan_error, *status, *reason;
	const char *client_addr;
	int64_t size, created_at, updated_at;
};

/* gh_upload_read - fill u from rec.  GH_ECORRUPT when rec is not an
 * upload record, GH_EVERSION when it is a later version's. */
gh_err gh_upload_read(json_t *rec, struct gh_upload *u);

/* gh_upload_kept - 1 when the record's file was kept (status stored or
 * quarantined: the file is the application's or the quarantine's). */
int gh_upload_kept(const struct gh_upload *u);

/*
 * gh_upload_add_txn - store rec (version GH_UPLOAD_V) as a new record: its
 * id from the counter (also set in rec as "id", and in *id), "v" set.
 * rec is changed only in those two members.  Write transaction.
 */
gh_err gh_upload_add_txn(struct gh_txn *txn, json_t *rec, uint64_t *id);

/*
 * gh_upload_put_txn - rewrite record id with rec, whose "v" must be
 * GH_UPLOAD_V and "id" id (GH_EINVAL otherwise: a writer writes the
 * newest layout, and a record's id is its key).
 */
gh_err gh_upload_put_txn(struct gh_txn *txn, uint64_t id, const json_t *rec);

/* gh_upload_get_txn - record id.  GH_ENOTFOUND, GH_ECORRUPT,
 * GH_EVERSION (see gh_upload_read). */
gh_err gh_upload_get_txn(struct gh_txn *txn, uint64_t id, json_t **out);

/*
 * gh_upload_scan_txn - visit records from id start (0: the first, or with
 * reverse the last) in id order, or newest first with reverse.  fn returns
 * non-zero to stop.  Records that cannot be read (not JSON, a later
 * version) are not given to fn; *skipped (optional) counts them.  Records
 * must not be written from fn.
 */
typedef int (*gh_upload_fn)(const struct gh_upload *u, void *arg);
gh_err gh_upload_scan_txn(struct gh_txn *txn, uint64_t start, int reverse,
                          gh_upload_fn fn, void *arg, size_t *skipped);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_UPLOADS_H */
