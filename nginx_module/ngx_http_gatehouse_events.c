/*
 * ngx_http_gatehouse_events.c - the events API (docs/api.md, "Events
 * API"): `gatehouse_events_api [types=PATTERN...];` makes a location take
 * POSTed JSON events from the application on the same host and queue
 * them for gatehouse-notifyd, as the application's own service call
 * would: type, user, title, message, priority, category, action_url,
 * metadata, expires (a duration, like `gatehouse notify --expires`) and
 * dedup_key.
 *
 * What an event may be is the core's decision, not this file's: the web
 * domain may raise upload.* and the types of gatehouse.conf's
 * [events_api] (gh_domain_accept_policy, docs/security.md).  The
 * location's types= is a first filter an admin narrows per location.
 * Both are checked here so that the application hears at once, with a 400
 * naming the field; with [store] web set the event then goes into the web
 * domain's outbox, and notifyd checks it all again when the bridge hands
 * it over (a worker that skipped these checks still raises nothing else).
 * With one shared store ([store] web unset) this file is the only check
 * and queues the event as the core would stamp it.
 *
 * The body is read by nginx (at most NGX_HTTP_GATEHOUSE_EVENT_BODY_MAX,
 * 413 past it), parsed on the event loop (a small JSON object), and the
 * one write is made in the location's thread pool through the worker's
 * group commit: the event loop never waits for the store's write lock.
 *
 * The location is meant for the application only: `allow 127.0.0.1;
 * deny all;` or auth_request in front of it (docs/nginx.md).
 */
#include "ngx_http_gatehouse_module.h"
#include "gatehouse/conf.h"
#include "gatehouse/domain.h"
#include "gatehouse/queue.h"

#include <fnmatch.h>
#include <stdio.h>


/* The largest body taken: an event's own limit (GH_RECORD_MAX / 4, which
 * the encoded event must also stay under). */
#define NGX_HTTP_GATEHOUSE_EVENT_BODY_MAX  (GH_RECORD_MAX / 4)

/* expires: at most a year ahead */
#define NGX_HTTP_GATEHOUSE_EXPIRES_MAX  (366LL * 24 * 3600 * 1000)


/* The write, in the request's pool: the request is held until it is done. */
typedef struct {
    ngx_http_request_t              *request;
    ngx_http_gatehouse_main_conf_t  *main;
    json_t                          *ev;
    int64_t                          now;
    uint64_t                         id;
    int                              dup;
    gh_err                           err;
} ngx_http_gatehouse_events_task_t;


/* The members an application may give, beside the queue's own names. */
static const char  *ngx_http_gatehouse_event_fields[] = {
    "type", "user", "title", "message", "priority", "category",
    "action_url", "metadata", "expires", "dedup_key", NULL
};


/* ---- configuration ---- */


/*
 * From gatehouse.conf, while it is read (ngx_http_gatehouse_load_conf):
 * [events_api], [queue] dedup_window and the core's store path (to tell
 * whether the worker's store is the core's).  A bad [events_api] fails
 * `nginx -t` as it fails notifyd's start: both read the same file.
 */
char *
ngx_http_gatehouse_events_conf(ngx_conf_t *cf,
    ngx_http_gatehouse_main_conf_t *gmcf, const struct gh_conf *conf)
{
    char                  detail[512];
    size_t                len;
    struct gh_store_opts  core;

    gmcf->events_policy = ngx_pcalloc(cf->pool,
                                      sizeof(struct gh_domain_policy));
    if (gmcf->events_policy == NULL) {
        return NGX_CONF_ERROR;
    }

    if (gh_domain_policy_load(conf, gmcf->events_policy, detail,
                              sizeof(detail))
        != GH_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "gatehouse_conf: %s",
                           detail);
        return NGX_CONF_ERROR;
    }

    gmcf->events_dedup_window = gh_conf_int(conf, "queue", "dedup_window");

    gh_conf_store_opts(conf, &core);

    if (core.path != NULL) {
        len = ngx_strlen(core.path);
        gmcf->events_core_path.data = ngx_http_gatehouse_pstrdup(cf->pool,
                                          core.path, len);
        if (gmcf->events_core_path.data == NULL) {
            return NGX_CONF_ERROR;
        }

        gmcf->events_core_path.len = len;
    }

    return NGX_CONF_OK;
}


/*
 * gatehouse_events_api [types=PATTERN [PATTERN...]];
 *
 * nginx splits arguments at spaces, so "types=app.* order.*" is two: the
 * first carries types=, the words after it are more patterns.
 */
char *
ngx_http_gatehouse_set_events_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gatehouse_loc_conf_t *glcf = conf;

    ngx_str_t                       *value, v;
    ngx_uint_t                       i;
    const char                     **pat;
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler != NULL) {
        return "is not allowed with another content handler";
    }

    value = cf->args->elts;

    if (cf->args->nelts > 1) {
        if (ngx_strncmp(value[1].data, "types=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown parameter \"%V\" in \"%V\": use "
                               "types=PATTERN [PATTERN...]", &value[1],
                               &cmd->name);
            return NGX_CONF_ERROR;
        }

        glcf->events_types = ngx_array_create(cf->pool, cf->args->nelts,
                                              sizeof(const char *));
        if (glcf->events_types == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 1; i < cf->args->nelts; i++) {
        v = value[i];

        if (i == 1) {
            v.data += 6;
            v.len -= 6;
        }

        if (!gh_domain_type_pattern_ok((const char *) v.data, v.len)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid type pattern \"%V\" in \"%V\": use "
                               "1-%d of a-z, 0-9, '.', '_', '-', '*' and "
                               "'?' (app.*, order.shipped)", &v, &cmd->name,
                               GH_POLICY_TYPE_LEN);
            return NGX_CONF_ERROR;
        }

        pat = ngx_array_push(glcf->events_types);
        if (pat == NULL) {
            return NGX_CONF_ERROR;
        }

        /* the configuration's strings are NUL-terminated */
        *pat = (const char *) v.data;
    }

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gatehouse_module);
    gmcf->needs_store = 1;

    clcf->handler = ngx_http_gatehouse_events_handler;

    return NGX_CONF_OK;
}


/* From merge_loc_conf, for a location with gatehouse_events_api. */
char *
ngx_http_gatehouse_events_merge(ngx_conf_t *cf,
    ngx_http_gatehouse_loc_conf_t *glcf)
{
    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_gatehouse_main_conf_t  *gmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gatehouse_module);

    if (gmcf->events_policy == NULL || gmcf->store_path.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"gatehouse_events_api\" in location \"%V\" "
                           "needs \"gatehouse_conf\" (the store, and the "
                           "[events_api] types the core allows)",
                           &clcf->name);
        return NGX_CONF_ERROR;
    }

    if (gmcf->events_policy->ntypes == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"gatehouse_events_api\" in location \"%V\": "
                           "gatehouse.conf's [events_api] types is empty, "
                           "so every event will be refused", &clcf->name);
    }

    /* the worker writes the core's store itself: nothing checks after us */
    gmcf->events_shared = (gmcf->store_path.len == gmcf->events_core_path.len
                           && ngx_strncmp(gmcf->store_path.data,
                                          gmcf->events_core_path.data,
                                          gmcf->store_path.len) == 0);

    return NGX_CONF_OK;
}


/* ---- answers ---- */


static ngx_int_t
ngx_http_gatehouse_events_refuse(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *field, const char *message)
{
    json_t     *body;

    body = json_pack("{s:s, s:s, s:i}", "error", code, "message", message,
                     "status", (int) status);
    if (body == NULL
        || (field != NULL
            && json_object_set_new(body, "field", json_string(field)) != 0))
    {
        json_decref(body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the message may quote the application's bytes: not logged */
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gatehouse: event refused: %ui %s", status, code);

    return ngx_http_gatehouse_send_json(r, status, body);
}


/*
 * Which field the library's detail is about: the first quoted word of
 * "field 'x' ...", "unknown field 'x'", "an event needs 'user' ..."; the
 * type for the core's "may raise only" refusal.  NULL when none is.
 */
static const char *
ngx_http_gatehouse_detail_field(const char *detail, char *buf, size_t cap)
{
    size_t       n;
    const char  *p, *q;

    if (ngx_strstr(detail, "may raise only") != NULL) {
        return "type";
    }

    p = ngx_strchr(detail, '\'');
    if (p == NULL) {
        return NULL;
    }

    q = ngx_strchr(p + 1, '\'');
    if (q == NULL) {
        return NULL;
    }

    n = q - (p + 1);
    if (n == 0 || n >= cap) {
        return NULL;
    }

    ngx_memcpy(buf, p + 1, n);
    buf[n] = '\0';

    return buf;
}


/* 400 bad_event for the library's detail, with the field it is about. */
static ngx_int_t
ngx_http_gatehouse_events_bad(ngx_http_request_t *r, const char *detail)
{
    char  fbuf[64];

    return ngx_http_gatehouse_events_refuse(r, NGX_HTTP_BAD_REQUEST,
               "bad_event",
               ngx_http_gatehouse_detail_field(detail, fbuf, sizeof(fbuf)),
               detail);
}


/* ---- the event ---- */


/*
 * The queue's event from the application's object: the same members but
 * expires (a duration) made expires_at.  On a refusal: NULL, *field and
 * msg say why.
 */
static json_t *
ngx_http_gatehouse_events_build(json_t *body, int64_t now,
    const char **field, char *msg, size_t cap)
{
    long long    ms;
    json_t      *ev, *val;
    ngx_uint_t   i;
    const char  *key, *s;

    ev = json_object();
    if (ev == NULL) {
        ngx_cpystrn((u_char *) msg, (u_char *) "out of memory", cap);
        return NULL;
    }

    json_object_foreach(body, key, val) {

        for (i = 0; ngx_http_gatehouse_event_fields[i] != NULL; i++) {
            if (ngx_strcmp(key, ngx_http_gatehouse_event_fields[i]) == 0) {
                break;
            }
        }

        if (ngx_http_gatehouse_event_fields[i] == NULL) {
            *field = key;

            if (ngx_strcmp(key, "channels") == 0
                || ngx_strcmp(key, "recipients") == 0)
            {
                snprintf(msg, cap, "field '%s' is not "
                             "taken: who is told, and how, is decided by "
                             "Gatehouse (the user's preferences)", key);

            } else if (ngx_strcmp(key, "source") == 0) {
                snprintf(msg, cap, "field 'source' is not "
                             "taken: Gatehouse stamps it");

            } else if (ngx_strcmp(key, "expires_at") == 0) {
                snprintf(msg, cap, "field 'expires_at' is "
                             "not taken: give expires, a duration such as "
                             "30m, 2h or 7d");

            } else {
                snprintf(msg, cap, "unknown field '%s'",
                             key);
            }

            goto refused;
        }

        if (ngx_strcmp(key, "expires") == 0) {
            if (json_is_null(val)) {
                continue;
            }

            s = json_string_value(val);

            if (s == NULL || gh_parse_duration_ms(s, &ms) != GH_OK
                || ms <= 0 || ms > NGX_HTTP_GATEHOUSE_EXPIRES_MAX)
            {
                *field = "expires";
                snprintf(msg, cap, "field 'expires' must "
                             "be a duration such as 30m, 2h or 7d (at "
                             "most 366d)");
                goto refused;
            }

            if (json_object_set_new(ev, "expires_at",
                                    json_integer(now + ms)) != 0)
            {
                goto nomem;
            }

            continue;
        }

        /* a copy: the event goes to a pool thread, the body is freed
         * here meanwhile, and jansson values are not shared across
         * threads */
        if (json_object_set_new(ev, key, json_deep_copy(val)) != 0) {
            goto nomem;
        }
    }

    if (json_object_get(ev, "user") == NULL) {
        *field = "user";
        snprintf(msg, cap, "field 'user' is required: the "
                     "id of the user the event is for");
        goto refused;
    }

    return ev;

nomem:

    ngx_cpystrn((u_char *) msg, (u_char *) "out of memory", cap);

refused:

    json_decref(ev);

    return NULL;
}


/* Does a location's types= (or none) take this type? */
static ngx_int_t
ngx_http_gatehouse_events_type_ok(ngx_http_gatehouse_loc_conf_t *glcf,
    const char *type)
{
    ngx_uint_t    i;
    const char  **pat;

    if (glcf->events_types == NULL) {
        return 1;
    }

    pat = glcf->events_types->elts;

    for (i = 0; i < glcf->events_types->nelts; i++) {
        if (fnmatch(pat[i], type, 0) == 0) {
            return 1;
        }
    }

    return 0;
}


/* The body, whole, into buf (cap bytes): its length, or -1 past cap. */
static ssize_t
ngx_http_gatehouse_events_body_copy(ngx_http_request_t *r, u_char *buf,
    size_t cap)
{
    size_t        n, k;
    ssize_t       got;
    ngx_chain_t  *cl;

    n = 0;

    if (r->request_body == NULL) {
        return 0;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {

        if (cl->buf->in_file) {
            /* a body past client_body_buffer_size: nginx's temp file,
             * small by the cap, read back at once */
            k = (size_t) (cl->buf->file_last - cl->buf->file_pos);
            if (n + k > cap) {
                return -1;
            }

            got = ngx_read_file(cl->buf->file, buf + n, k,
                                cl->buf->file_pos);
            if (got != (ssize_t) k) {
                return -2;
            }

            n += k;
            continue;
        }

        k = cl->buf->last - cl->buf->pos;
        if (n + k > cap) {
            return -1;
        }

        ngx_memcpy(buf + n, cl->buf->pos, k);
        n += k;
    }

    return (ssize_t) n;
}


/* ---- the write ---- */


static gh_err
ngx_http_gatehouse_events_txn(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_events_task_t *t = arg;

    /* the group commit may run this again alone: outputs set afresh */
    t->id = 0;
    t->dup = 0;

    return gh_queue_enqueue_txn(txn, t->ev, t->now,
                                t->main->events_dedup_window, &t->id,
                                &t->dup);
}


/* In a thread of the pool. */
static void
ngx_http_gatehouse_events_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_events_task_t *t = data;

    t->err = ngx_http_gatehouse_store_write(t->main,
                                            ngx_http_gatehouse_events_txn, t);
}


static ngx_int_t
ngx_http_gatehouse_events_answer(ngx_http_gatehouse_events_task_t *t)
{
    json_t              *body;
    ngx_http_request_t  *r = t->request;

    if (t->err != GH_OK) {
        /* the type is [a-z0-9._-]; the user, the application's bytes,
         * stays out of the log */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: event \"%s\" not queued: %s",
                      json_string_value(json_object_get(t->ev, "type")),
                      gh_strerror(t->err));

        return ngx_http_gatehouse_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "store_unavailable",
                                        "the event could not be queued "
                                        "just now, try again later");
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gatehouse: event %uL \"%s\" %s the %s",
                  t->id, json_string_value(json_object_get(t->ev, "type")),
                  t->dup ? "already in" : "queued in",
                  t->main->events_shared ? "core store" : "web outbox");

    body = json_pack("{s:I, s:b, s:s}", "id", (json_int_t) t->id,
                     "duplicate", t->dup,
                     "queue", t->main->events_shared ? "core" : "outbox");

    return ngx_http_gatehouse_send_json(r, NGX_HTTP_ACCEPTED, body);
}


/* Back in the event loop. */
static void
ngx_http_gatehouse_events_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_events_task_t *t = ev->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r = t->request;

    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    r->main->blocked--;

    rc = ngx_http_gatehouse_events_answer(t);

    json_decref(t->ev);
    t->ev = NULL;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* Once nginx has the body. */
static void
ngx_http_gatehouse_events_body(ngx_http_request_t *r)
{
    char                              msg[512];
    u_char                           *buf;
    gh_err                            err;
    json_t                           *body, *ev, *accepted;
    ssize_t                           n;
    ngx_int_t                         rc;
    const char                       *field, *type;
    json_error_t                      jerr;
    ngx_http_gatehouse_loc_conf_t    *glcf;
    ngx_http_gatehouse_main_conf_t   *gmcf;
    ngx_http_gatehouse_events_task_t *t;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gatehouse_module);
    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gatehouse_module);

    body = NULL;
    ev = NULL;
    accepted = NULL;
    field = NULL;

    buf = ngx_pnalloc(r->pool, NGX_HTTP_GATEHOUSE_EVENT_BODY_MAX);
    if (buf == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    n = ngx_http_gatehouse_events_body_copy(r, buf,
                                            NGX_HTTP_GATEHOUSE_EVENT_BODY_MAX);
    if (n == -1) {
        rc = ngx_http_gatehouse_events_refuse(r,
                 NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "event_too_large", NULL,
                 "the event is larger than 64 KiB");
        goto done;
    }

    if (n < 0) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    body = json_loadb((char *) buf, (size_t) n, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (!json_is_object(body)) {
        snprintf(msg, sizeof(msg), "the body is not a JSON "
                     "object%s%s", body ? "" : ": ",
                     body ? "" : jerr.text);
        rc = ngx_http_gatehouse_events_refuse(r, NGX_HTTP_BAD_REQUEST,
                                              "bad_json", NULL, msg);
        goto done;
    }

    ev = ngx_http_gatehouse_events_build(body, gh_now_ms(), &field, msg,
                                         sizeof(msg));
    if (ev == NULL) {
        rc = ngx_http_gatehouse_events_refuse(r, NGX_HTTP_BAD_REQUEST,
                                              "bad_event", field, msg);
        goto done;
    }

    /* the queue's contract (docs/events.md), with its own words */
    err = gh_event_validate(ev, msg, sizeof(msg));
    if (err == GH_ETOOBIG) {
        rc = ngx_http_gatehouse_events_refuse(r,
                 NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "event_too_large", NULL,
                 msg);
        goto done;
    }

    if (err != GH_OK) {
        rc = ngx_http_gatehouse_events_bad(r, msg);
        goto done;
    }

    type = json_string_value(json_object_get(ev, "type"));

    if (!ngx_http_gatehouse_events_type_ok(glcf, type)) {
        snprintf(msg, sizeof(msg), "field 'type': '%s' is "
                     "not taken here (gatehouse_events_api types=)", type);
        rc = ngx_http_gatehouse_events_refuse(r, NGX_HTTP_BAD_REQUEST,
                                              "bad_event", "type", msg);
        goto done;
    }

    /* upload.* are the module's own; the rest is the core's list */
    if (!gh_domain_policy_type(gmcf->events_policy, type)) {
        snprintf(msg, sizeof(msg), "field 'type': '%s' is "
                     "not a type the web domain may raise (gatehouse.conf "
                     "[events_api] types)", type);
        rc = ngx_http_gatehouse_events_refuse(r, NGX_HTTP_BAD_REQUEST,
                                              "bad_event", "type", msg);
        goto done;
    }

    /* what the core will make of it: category, link, priority, source */
    err = gh_domain_accept_policy(GH_DOMAIN_WEB, gmcf->events_policy, ev,
                                  &accepted, msg, sizeof(msg));
    if (err == GH_ENOMEM) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    if (err != GH_OK) {
        rc = ngx_http_gatehouse_events_bad(r, msg);
        goto done;
    }

    if (ngx_http_gatehouse_store(gmcf, r->connection->log) == NULL) {
        rc = ngx_http_gatehouse_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store_unavailable",
                                      "events cannot be queued at the "
                                      "moment, try again later");
        goto done;
    }

    t = ngx_pcalloc(r->pool, sizeof(ngx_http_gatehouse_events_task_t));
    if (t == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    t->request = r;
    t->main = gmcf;
    t->now = gh_now_ms();

    /* into the core store, as the core would stamp it; into the outbox,
     * as the application said it (the core stamps it when it arrives) */
    if (gmcf->events_shared) {
        t->ev = accepted;
        accepted = NULL;

    } else {
        t->ev = ev;
        ev = NULL;
    }

    if (ngx_http_gatehouse_post(glcf, r->pool, ngx_http_gatehouse_events_run,
                                ngx_http_gatehouse_events_done, t,
                                r->connection->log)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: could not post an event to thread pool "
                      "\"%V\"", &glcf->thread_pool_name);
        json_decref(t->ev);
        t->ev = NULL;
        rc = ngx_http_gatehouse_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "store_unavailable",
                                      "try again later");
        goto done;
    }

    /* held until the event is written: ngx_http_gatehouse_events_done */
    r->main->blocked++;

    json_decref(body);
    json_decref(ev);
    json_decref(accepted);

    return;

done:

    json_decref(body);
    json_decref(ev);
    json_decref(accepted);

    ngx_http_finalize_request(r, rc);
}


/* application/json, with parameters or not */
static ngx_int_t
ngx_http_gatehouse_events_is_json(ngx_http_request_t *r)
{
    size_t      n;
    ngx_str_t  *ct;

    if (r->headers_in.content_type == NULL) {
        return 0;
    }

    ct = &r->headers_in.content_type->value;
    n = sizeof("application/json") - 1;

    return ct->len >= n
           && ngx_strncasecmp(ct->data, (u_char *) "application/json", n) == 0
           && (ct->len == n || ct->data[n] == ';' || ct->data[n] == ' ');
}


ngx_int_t
ngx_http_gatehouse_events_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (!(r->method & NGX_HTTP_POST)) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_gatehouse_add_header(r, "Allow", "POST") != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_gatehouse_events_refuse(r, NGX_HTTP_NOT_ALLOWED,
                                                "method_not_allowed", NULL,
                                                "events are sent with POST");
    }

    if (!ngx_http_gatehouse_events_is_json(r)) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_gatehouse_events_refuse(r,
                   NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "not_json", NULL,
                   "the body must be application/json");
    }

    if (r->headers_in.content_length_n > NGX_HTTP_GATEHOUSE_EVENT_BODY_MAX) {
        /* not read: the connection goes once this answer is out */
        r->keepalive = 0;
        r->lingering_close = 1;

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_gatehouse_events_refuse(r,
                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "event_too_large",
                   NULL, "the event is larger than 64 KiB");
    }

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_gatehouse_events_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}
