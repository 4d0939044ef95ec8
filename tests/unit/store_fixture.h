/*
 * store_fixture.h - a fresh store in a temporary directory for each cmocka
 * test: cmocka_unit_test_setup_teardown(test, gh_fx_setup, gh_fx_teardown),
 * then struct gh_fx *f = *state.  Include after <cmocka.h>.
 */
#ifndef GH_TEST_STORE_FIXTURE_H
#define GH_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/store.h"

struct gh_fx {
	char dir[64];
	char path[96];     /* dir/store: a store directory not yet created */
	struct gh_store *st;
};

static inline int
gh_fx_setup(void **state)
{
	struct gh_fx *f = calloc(1, sizeof(*f));
	struct gh_store_opts o = {0};

	assert_non_null(f);
	strcpy(f->dir, "/tmp/gh-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store", f->dir);
	o.path = f->path;
	o.flags = GH_STORE_CREATE | GH_STORE_NOSYNC;
	o.lock_timeout_ms = 1000;
	assert_int_equal(gh_store_open(&f->st, &o, NULL, 0), GH_OK);
	*state = f;
	return 0;
}

static inline int
gh_fx_teardown(void **state)
{
	struct gh_fx *f = *state;
	char cmd[128];

	gh_store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

#endif
