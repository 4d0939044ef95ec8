/*
 * replog_int.h - what users.c and suppress.c call to note their changes
 * in the replication log (gatehouse/replog.h).
 */
#ifndef GATEHOUSE_REPLOG_INT_H
#define GATEHOUSE_REPLOG_INT_H

#include <jansson.h>
#include "gatehouse/replog.h"

/*
 * gh_replog_contacts_txn - note the parts of user's contacts that differ
 * between old and new (either may be NULL: no record): GH_REP_CONTACTS
 * for everything but push, GH_REP_PUSH for push.  So a push subscription
 * added by a web node and a name changed by an admin on another host at
 * the same time do not overwrite each other in the cluster.
 */
gh_err gh_replog_contacts_txn(struct gh_txn *txn, const char *user,
                              const json_t *old, const json_t *new_rec);

#endif
