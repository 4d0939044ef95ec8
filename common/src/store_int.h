/*
 * store_int.h - what the library's own files share about the store and are
 * not part of the public API.
 */
#ifndef GATEHOUSE_STORE_INT_H
#define GATEHOUSE_STORE_INT_H

#include "gatehouse/err.h"

/* gh_mdb_err - map an LMDB or errno code to a gh_err. */
gh_err gh_mdb_err(int rc);

#endif
