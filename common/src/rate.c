/*
 * rate.c - sliding-window rate counters kept in the store, so limits hold
 * across restarts and across several processes.
 *
 * Value: be64 start of the current fixed window | be64 count in it |
 * be64 count in the window before.  The sliding count is
 *     current + previous * (1 - elapsed / window)
 * which is within a few percent of a true sliding window and costs one
 * small record per key.
 */
#include <string.h>

#include "gatehouse/records.h"

#define RATE_KEY_MAX 200

gh_err
gh_rate_hit_txn(struct gh_txn *txn, const char *key, int64_t window,
                int64_t now, uint64_t add, uint64_t *count)
{
	unsigned char v[24];
	const void *old;
	size_t kl, ol;
	int64_t start;
	uint64_t cur = 0, prev = 0;
	double weight;
	gh_err err;

	if (key == NULL || window <= 0 || count == NULL)
		return GH_EINVAL;
	kl = strlen(key);
	if (kl == 0 || kl > RATE_KEY_MAX)
		return GH_EINVAL;
	start = now - now % window;
	err = gh_txn_get(txn, GH_DB_RATE, key, kl, &old, &ol);
	if (err == GH_OK && ol == 24) {
		int64_t ostart = (int64_t)gh_get_be64(old);
		uint64_t ocur = gh_get_be64((const unsigned char *)old + 8);

		if (ostart == start) {
			cur = ocur;
			prev = gh_get_be64((const unsigned char *)old + 16);
		} else if (ostart == start - window) {
			prev = ocur;
		}
	} else if (err != GH_OK && err != GH_ENOTFOUND) {
		return err;
	}
	cur += add;
	weight = 1.0 - (double)(now - start) / (double)window;
	*count = cur + (uint64_t)((double)prev * weight + 0.5);
	gh_put_be64(v, (uint64_t)start);
	gh_put_be64(v + 8, cur);
	gh_put_be64(v + 16, prev);
	if (add == 0 && err == GH_ENOTFOUND)
		return GH_OK;
	return gh_txn_put(txn, GH_DB_RATE, key, kl, v, sizeof(v));
}
