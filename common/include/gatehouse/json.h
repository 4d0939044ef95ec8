/*
 * gatehouse/json.h - checks on JSON the parts take from outside
 *
 * Records and requests are closed: a member nobody reads is refused, not
 * carried along (it would be stored, copied and shown for nothing, and a
 * padded one once filled a record to its bound).  The one check of that
 * rule lives here.  No allocation, no logging, thread safe (on objects no
 * other thread changes).
 */
#ifndef GATEHOUSE_JSON_H
#define GATEHOUSE_JSON_H

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * gh_json_only_members - 1 if every member of object o is named in allowed
 * (a NULL-terminated list), else 0 and *bad (if not NULL) the first other
 * member's name (valid while o is).  o not an object: 1 (nothing to
 * refuse; callers check the type themselves).
 */
int gh_json_only_members(const json_t *o, const char *const *allowed,
                         const char **bad);

#ifdef __cplusplus
}
#endif
#endif /* GATEHOUSE_JSON_H */
