/*
 * err.c - gh_strerror() and gh_errname(): the text of every gh_err;
 * gh_err_exit_code(): its sysexits(3) code.
 */
#include <stddef.h>
#include <sysexits.h>

#include "gatehouse/err.h"

static const struct {
	const char *name;
	const char *text;
} gh_errs[GH_ERR_COUNT_] = {
	[GH_OK] = {"OK", "success"},
	[GH_ENOMEM] = {"ENOMEM", "out of memory"},
	[GH_EINVAL] = {"EINVAL", "invalid argument"},
	[GH_ENOTFOUND] = {"ENOTFOUND", "not found"},
	[GH_EEXIST] = {"EEXIST", "already exists"},
	[GH_EIO] = {"EIO", "input/output error"},
	[GH_EACCES] = {"EACCES", "permission denied"},
	[GH_ELOCKED] = {"ELOCKED", "store write lock not acquired in time"},
	[GH_EFULL] = {"EFULL", "store is full (map_max reached or disk full)"},
	[GH_ECORRUPT] = {"ECORRUPT", "store or record is corrupt"},
	[GH_EVERSION] = {"EVERSION", "store schema or record is newer than this program"},
	[GH_ECONFIG] = {"ECONFIG", "configuration error"},
	[GH_ETOOBIG] = {"ETOOBIG", "value too large"},
	[GH_ESTALE] = {"ESTALE", "lease is no longer held"},
	[GH_EREADONLY] = {"EREADONLY", "store is open read-only"},
	[GH_EEXPIRED] = {"EEXPIRED", "expired"},
};

const char *
gh_strerror(gh_err err)
{
	if ((unsigned)err >= GH_ERR_COUNT_ || gh_errs[err].text == NULL)
		return "unknown error";
	return gh_errs[err].text;
}

const char *
gh_errname(gh_err err)
{
	if ((unsigned)err >= GH_ERR_COUNT_ || gh_errs[err].name == NULL)
		return "EUNKNOWN";
	return gh_errs[err].name;
}

int
gh_err_exit_code(gh_err err)
{
	switch (err) {
	case GH_OK:
		return EX_OK;
	case GH_EINVAL:
	case GH_ETOOBIG:
	case GH_EEXPIRED:
		return EX_DATAERR;
	case GH_ENOTFOUND:
		return EX_NOINPUT;
	case GH_EIO:
	case GH_EFULL:
	case GH_ECORRUPT:
	case GH_EVERSION:
		return EX_IOERR;
	case GH_ELOCKED:
	case GH_ESTALE:
		return EX_TEMPFAIL;
	case GH_ENOMEM:
		return EX_OSERR;
	case GH_EEXIST:
		return EX_CANTCREAT;
	case GH_EACCES:
	case GH_EREADONLY:
		return EX_NOPERM;
	case GH_ECONFIG:
		return EX_CONFIG;
	default:
		return EX_SOFTWARE;
	}
}
