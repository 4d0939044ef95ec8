/*
 * tzfile.h - IANA time zones read from TZif files, without TZ or tzset()
 *
 * Quiet hours and digests are kept in each user's own time zone, and
 * notifyd serves many users at once.  The C library's localtime() works
 * through one process-wide zone (the TZ variable, tzset()) that is neither
 * per user nor thread safe, so zones are read here directly:
 *
 *   - the TZif file (RFC 8536) under the zone directory, default
 *     /usr/share/zoneinfo (Debian package tzdata): its version 2+ body with
 *     64-bit transition times (a version 1 file's 32-bit body is used when
 *     that is all there is);
 *   - the POSIX TZ string in its footer ("EST5EDT,M3.2.0,M11.1.0"), with the
 *     RFC 8536 extensions (hours up to 167, negative rule times), for
 *     instants past the last transition in the table.
 *
 * Zones with leap seconds (the "right/" tree) are refused: notifyd's clock
 * is POSIX time.  A loaded zone is immutable and may be shared by threads.
 *
 * Names are IANA names ("Asia/Seoul", "America/New_York", "UTC"):
 * components of [A-Za-z0-9_+-] (a component may not start with '-' or
 * '.') separated by '/', at most 255 bytes.  "UTC", "Etc/UTC" and the empty
 * name give UTC even when no zone files are installed.
 */
#ifndef GH_NOTIFYD_TZFILE_H
#define GH_NOTIFYD_TZFILE_H

#include <stdint.h>
#include "gatehouse/err.h"

#define GH_TZ_DIR_DEFAULT "/usr/share/zoneinfo"
#define GH_TZ_NAME_MAX 255
#define GH_TZ_FILE_MAX (256 * 1024)   /* the largest real file is ~4 KiB */

struct nd_tz;

/* nd_tz_name_ok - 1 if name is acceptable as a zone name (see above). */
int nd_tz_name_ok(const char *name);

/*
 * nd_tz_load - load zone name from dir (NULL: GH_TZ_DIR_DEFAULT).
 * GH_EINVAL for a bad name or a file that is not valid TZif (or has leap
 * seconds), GH_ENOTFOUND when there is no such zone, GH_EACCES, GH_EIO,
 * GH_ENOMEM.
 */
gh_err nd_tz_load(const char *name, const char *dir, struct nd_tz **out);

/*
 * nd_tz_parse - a zone from TZif bytes already in memory (for tests and for
 * callers that read files their own way); name is only recorded.
 */
gh_err nd_tz_parse(const char *name, const unsigned char *data, size_t len,
                   struct nd_tz **out);

/* nd_tz_posix - a zone defined only by a POSIX TZ string. GH_EINVAL. */
gh_err nd_tz_posix(const char *spec, struct nd_tz **out);

/* nd_tz_utc - the UTC zone (never fails but for GH_ENOMEM). */
gh_err nd_tz_utc(struct nd_tz **out);

void nd_tz_free(struct nd_tz *tz);

/* nd_tz_name - the name the zone was loaded under. */
const char *nd_tz_name(const struct nd_tz *tz);

/*
 * nd_tz_offset - seconds east of UTC in effect at instant t (seconds since
 * the epoch): local wall time = t + offset.  *isdst (optional) receives 1
 * during daylight saving time.
 */
int32_t nd_tz_offset(const struct nd_tz *tz, int64_t t, int *isdst);

/*
 * nd_tz_resolve - the instants at which the wall clock shows local (local
 * wall time written as seconds since 1970-01-01 00:00 of the wall clock).
 *   Usual case: one instant, *first == *second.
 *   Overlap (clocks set back): the wall time happens twice; *first is the
 *     earlier instant, *second the later.
 *   Gap (clocks set forward): the wall time never happens; both receive
 *     the instant of the change, the first at which the wall clock reads
 *     later than local: 02:30 on a spring-forward night in New York gives
 *     07:00 UTC, when the clock jumps from 01:59:59 EST to 03:00 EDT.
 * Returns 1 normally, 2 for an overlap, 0 for a gap.
 */
int nd_tz_resolve(const struct nd_tz *tz, int64_t local, int64_t *first,
                  int64_t *second);

#endif /* GH_NOTIFYD_TZFILE_H */
