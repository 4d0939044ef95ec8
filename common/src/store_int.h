/*
 * store_int.h - what the library's own files share about the store and are
 * not part of the public API.
 */
#ifndef GATEHOUSE_STORE_INT_H
#define GATEHOUSE_STORE_INT_H

#include "gatehouse/err.h"
#include "gatehouse/store.h"

/* gh_mdb_err - map an LMDB or errno code to a gh_err. */
gh_err gh_mdb_err(int rc);

/*
 * gh_txn_del_prefix - in a write transaction, delete every record of db
 * whose key starts with the plen bytes of prefix (an event's delivery
 * records, keyed by its id first).  *n (optional) receives how many.
 */
gh_err gh_txn_del_prefix(struct gh_txn *txn, enum gh_db db,
                         const void *prefix, size_t plen, size_t *n);

#endif
