/*
 * template.h - subjects and bodies from templates with {{field}} substitution
 *
 * SYNTAX
 *   {{name}} is replaced by the value of name in the event (a JSON object);
 *   spaces inside the braces are allowed ("{{ title }}").  A dotted name
 *   walks into objects and arrays: {{metadata.ip}}, {{items.0.title}}.
 *   Names are made of [A-Za-z0-9_.-].  Values render as: strings as they
 *   are, integers in decimal, reals with 15 significant digits, true/false,
 *   objects and arrays as compact JSON; a missing field or null renders as
 *   nothing.
 *   Anything else between braces, and a "{{" never closed, is copied
 *   literally, so a stray brace in a template cannot eat the rest of it.
 *   There are no conditionals or loops: templates stay data, not programs.
 *
 * ESCAPING
 *   The template's own text is copied as it is; only substituted values are
 *   escaped, according to where the output goes:
 *     GH_TMPL_PLAIN  nothing (text bodies, subjects, chat messages)
 *     GH_TMPL_HTML   & < > " ' as entities (HTML mail bodies)
 *     GH_TMPL_URL    application/x-www-form-urlencoded (SMS gateway forms)
 *     GH_TMPL_JSON   the inside of a JSON string (SMS gateway JSON bodies)
 *   Values in templates that are not HTML are not made safe for HTML.
 *
 * BOUNDS
 *   Output is limited to max bytes.  Past that it is cut, at a UTF-8
 *   character boundary and never inside an escape sequence, and the
 *   caller is told it was truncated.
 *
 * FILES
 *   A template directory holds one file per event type, channel and part.
 *   notifyd reads two: the shipped templates ([notifyd] shipped_templates,
 *   PKGDATADIR/templates) and then the admin's ([notifyd] templates,
 *   /etc/gatehouse/templates), whose files replace shipped ones of the same
 *   name (nd_tmpl_set_add_dir).  File names:
 *
 *     <type>.<channel>.<part>    for one channel ("login.new_host.sms.txt")
 *     <type>.<part>              for every channel ("login.new_host.subject")
 *     default.<channel>.<part>   for event types without their own
 *     default.<part>
 *
 *   Each directory may also hold a subdirectory per language, named by
 *   its language tag (gh_lang_tag_ok: "ko", "pt-BR"; any case, read in
 *   the canonical one), with files named as above: "ko/login.new_host.
 *   subject".  A lookup has a language (the user's contacts' lang) and a
 *   default (the [notifyd] default_language) and tries, in turn, the
 *   language, the language with its last subtags dropped one by one
 *   ("pt-BR", then "pt"), the same for the default language, and last the
 *   files outside any language directory, each with the whole type and
 *   channel order below.  The files outside the language directories are
 *   the English ones (GH_TMPL_BASE_LANG): once "en" is tried they come
 *   next, so an English reader never gets the default language.  So a language with
 *   no template for an event type uses the default language's, then the
 *   unsuffixed one.  Language directories of the admin's directory
 *   override the shipped ones file by file, like the top level.  The
 *   templates are read at load time from names in the directory, so a
 *   language at lookup time never becomes a path.
 *
 *   <part> is "subject" (one line; line breaks become spaces), "txt"
 *   (plain text body) or "html" (HTML body, values HTML-escaped).
 *   <channel> is tried first as the channel instance's name from
 *   [channel.NAME], then as its kind (smtp, slack, sms, ...).  The first
 *   file found in the order above wins.  Files are read once when the set
 *   is loaded (at start and on SIGHUP), must be UTF-8 and at most
 *   GH_TMPL_FILE_MAX bytes; other file names in the directory are ignored.
 *   When no file matches, a built-in plain rendering is used, shaped for
 *   the channel kind: for mail (and any other kind) title, message, link,
 *   every metadata field and a footer naming the event; for chat cards
 *   (slack, mattermost, discord, teams), which show title, link and type
 *   themselves, the message and metadata; for push (webpush, ntfy, gotify)
 *   the message alone; for sms title and message.
 *
 * A loaded set is read-only except for the record of misses that makes
 * nd_tmpl_missing_once() say each miss once; use it from one thread.
 */
#ifndef GH_NOTIFYD_TEMPLATE_H
#define GH_NOTIFYD_TEMPLATE_H

#include <stddef.h>
#include <jansson.h>
#include "gatehouse/err.h"
#include "gatehouse/users.h"

#define GH_TMPL_DIR_DEFAULT "/etc/gatehouse/templates"
#define GH_TMPL_FILE_MAX (64 * 1024)
#define GH_TMPL_FILES_MAX 4096
#define GH_TMPL_LANGS_MAX 17     /* languages one lookup tries */
#define GH_TMPL_BASE_LANG "en"   /* the language of the unsuffixed files */

enum nd_tmpl_escape {
	GH_TMPL_PLAIN = 0,
	GH_TMPL_HTML,
	GH_TMPL_URL,
	GH_TMPL_JSON
};

enum nd_tmpl_part {
	GH_TMPL_SUBJECT = 0,
	GH_TMPL_TEXT,
	GH_TMPL_HTML_BODY
};

/* "subject", "txt", "html": the file name suffix of a part. */
const char *nd_tmpl_part_name(enum nd_tmpl_part part);

/*
 * nd_tmpl_render - substitute vars into tlen bytes of tmpl.
 *   max        output bound in bytes (not counting the NUL), > 0
 *   out        receives a malloc'd NUL-terminated string (free())
 *   olen       (optional) its length
 *   truncated  (optional) set to 1 if the output was cut at max, else 0
 * vars may be NULL (every field is then missing).  GH_EINVAL, GH_ENOMEM.
 */
gh_err nd_tmpl_render(const char *tmpl, size_t tlen, const json_t *vars,
                      enum nd_tmpl_escape esc, size_t max, char **out,
                      size_t *olen, int *truncated);

/* nd_tmpl_lookup - the value at a dotted path, or NULL (borrowed). */
const json_t *nd_tmpl_lookup(const json_t *vars, const char *path,
                             size_t plen);

struct nd_tmpl_set;

/*
 * nd_tmpl_set_load - read the templates in dir.  detail (optional)
 * receives the offending file and why on failure.  GH_ENOTFOUND when dir
 * does not exist, GH_EINVAL for a file that is not UTF-8, GH_ETOOBIG for
 * one over GH_TMPL_FILE_MAX (or too many files), GH_EACCES, GH_EIO.
 */
gh_err nd_tmpl_set_load(const char *dir, struct nd_tmpl_set **out,
                        char *detail, size_t detail_len);

/*
 * nd_tmpl_set_add_dir - read the templates in dir into set, file by file:
 * a file named like one already in set replaces it (an admin's override
 * of a shipped template), the others are added.  *added (optional)
 * receives how many files dir held.  Errors as nd_tmpl_set_load, or
 * GH_ENOMEM; on error set is as it was.
 */
gh_err nd_tmpl_set_add_dir(struct nd_tmpl_set *set, const char *dir,
                           size_t *added, char *detail, size_t detail_len);

/* nd_tmpl_set_empty - a set with no files: everything falls back. */
gh_err nd_tmpl_set_empty(struct nd_tmpl_set **out);

void nd_tmpl_set_free(struct nd_tmpl_set *set);

/* nd_tmpl_set_count - number of template files loaded. */
size_t nd_tmpl_set_count(const struct nd_tmpl_set *set);

/*
 * nd_tmpl_lang_chain - the languages a lookup for lang with default
 * deflang tries, in order (see FILES), into chain (max entries, max >= 1):
 * canonical tags without repeats, and last "" for the files outside the
 * language directories.  lang and deflang may be NULL; one that is not a
 * language tag is left out.  Returns how many.
 */
size_t nd_tmpl_lang_chain(const char *lang, const char *deflang,
                          char chain[][GH_LANG_MAX + 1], size_t max);

/*
 * nd_tmpl_find - the template for (type, channel, part) in language lang
 * (default deflang) in the lookup order above; NULL when none.  lang,
 * deflang, instance and kind may be NULL.  *len receives its length;
 * *name (optional) the file name that matched ("ko/digest.subject").
 */
const char *nd_tmpl_find(const struct nd_tmpl_set *set, const char *lang,
                         const char *deflang, const char *type,
                         const char *instance, const char *kind,
                         enum nd_tmpl_part part, size_t *len,
                         const char **name);

/*
 * nd_tmpl_render_part - render one part for an event: the template found
 * by nd_tmpl_find (escaped as the part needs: HTML for html, plain
 * otherwise), else the built-in fallback, and then *fallback (optional) is
 * set to 1.  A subject is made one line and trimmed.  Same bounds and
 * ownership as nd_tmpl_render.
 */
gh_err nd_tmpl_render_part(const struct nd_tmpl_set *set, const char *lang,
                           const char *deflang, const json_t *ev,
                           const char *instance, const char *kind,
                           enum nd_tmpl_part part, size_t max, char **out,
                           int *fallback, int *truncated);

/*
 * nd_tmpl_missing_once - 1 the first time it is asked about (type, channel
 * kind, part) for this set, 0 afterwards: for logging a missing template
 * once per reload instead of per event.
 */
int nd_tmpl_missing_once(struct nd_tmpl_set *set, const char *type,
                         const char *kind, enum nd_tmpl_part part);

#endif /* GH_NOTIFYD_TEMPLATE_H */
