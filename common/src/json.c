/*
 * json.c - checks on JSON from outside (gatehouse/json.h).
 */
#include <string.h>

#include "gatehouse/json.h"

int
gh_json_only_members(const json_t *o, const char *const *allowed,
                     const char **bad)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)o, k, v) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			if (bad != NULL)
				*bad = k;
			return 0;
		}
	}
	return 1;
}
