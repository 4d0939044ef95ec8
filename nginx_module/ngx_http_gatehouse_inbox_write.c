/*
 * ngx_http_gatehouse_inbox_write.c - the inbox API's writes (an item read,
 * every item read, preferences, Web Push subscriptions): made in nginx's
 * thread pool, since a write may wait for the store's lock, and answered
 * back in the event loop.  With a web store of its own ([store] web) the
 * change also goes, in the same transaction, into the outbox as a request
 * for the core ("web.*" events).  Apart from the reads
 * (ngx_http_gatehouse_inbox_read.c), which run in the event loop.
 */
#include "ngx_http_gatehouse_module.h"
#include "ngx_http_gatehouse_inbox.h"
#include "gatehouse/event.h"
#include "gatehouse/queue.h"
#include "gatehouse/users.h"


/* ---- writes, in the thread pool ---- */

/* The request for the core, in the web store's outbox (webreq.h in
 * notifyd): only when the web store is not the core's. */
static gh_err
ngx_http_gatehouse_in_request(struct gh_txn *txn,
    ngx_http_gatehouse_inwrite_t *w, const char *type, json_t *md)
{
    gh_err            err;
    json_t           *ev;
    struct gh_event  *b;

    if (md == NULL) {
        return GH_ENOMEM;
    }

    b = gh_event_new();

    gh_event_set_type(b, type);
    gh_event_set_title(b, "inbox request");
    gh_event_set_user(b, w->user);
    gh_event_set_metadata_new(b, md);

    err = gh_event_finish(b, &ev, NULL, 0);
    if (err != GH_OK) {
        return err;
    }

    err = gh_queue_enqueue_txn(txn, ev, w->now, 0, NULL, NULL);
    json_decref(ev);

    return err;
}


static gh_err
ngx_http_gatehouse_in_write_txn(struct gh_txn *txn, void *arg)
{
    ngx_http_gatehouse_inwrite_t  *w = arg;

    gh_err       err;
    ngx_uint_t   split;
    json_t      *sub;

    split = w->gmcf->inbox_split;
    w->changed = 0;
    w->why[0] = '\0';
    w->unknown = 0;

    /* Preferences and subscriptions only for users the store has
     * something of (contacts, preferences or an item): the core refuses
     * the others (docs/security.md, "The web face"), so say so now
     * rather than answer a change that will never be made. */
    if (w->what == NGX_HTTP_GATEHOUSE_IN_PREFS
        || (w->what == NGX_HTTP_GATEHOUSE_IN_PUSH && !w->remove))
    {
        err = gh_user_known_txn(txn, w->user);
        if (err == GH_ENOTFOUND) {
            w->unknown = 1;
        }

        if (err) {
            return err;
        }
    }

    switch (w->what) {

    case NGX_HTTP_GATEHOUSE_IN_READ:
        err = gh_inbox_mark_read_txn(txn, w->user, w->id, w->now,
                                     &w->changed);
        if (err == GH_OK && split && w->changed) {
            err = ngx_http_gatehouse_in_request(txn, w, "web.inbox_read",
                      json_pack("{s:I}", "id", (json_int_t) w->id));
        }

        return err;

    case NGX_HTTP_GATEHOUSE_IN_READ_ALL:
        err = gh_inbox_mark_read_txn(txn, w->user, 0, w->now, &w->changed);
        if (err == GH_OK && split && w->changed) {
            /* only when it changed something: a request in the outbox
             * per click would let one user fill the web store */
            err = ngx_http_gatehouse_in_request(txn, w,
                                                "web.inbox_read_all",
                                                json_object());
        }

        return err;

    case NGX_HTTP_GATEHOUSE_IN_PREFS:
        err = gh_prefs_put_txn(txn, w->user, w->body, w->now);
        if (err == GH_OK && split) {
            err = ngx_http_gatehouse_in_request(txn, w, "web.prefs",
                      json_pack("{s:O}", "prefs", w->body));
        }

        return err;

    case NGX_HTTP_GATEHOUSE_IN_PUSH:
        if (split) {
            /* contacts are the core's alone: the web store keeps none */
            if (w->remove) {
                return ngx_http_gatehouse_in_request(txn, w,
                           "web.push_remove",
                           json_pack("{s:O}", "endpoint",
                                     json_object_get(w->body, "endpoint")));
            }

            return ngx_http_gatehouse_in_request(txn, w, "web.push_add",
                       json_pack("{s:O}", "subscription", w->body));
        }

        if (w->remove) {
            err = gh_push_remove_txn(txn, w->user,
                      json_string_value(json_object_get(w->body,
                                                        "endpoint")),
                      w->now);
            return (err == GH_ENOTFOUND) ? GH_OK : err;
        }

        sub = w->body;

        return gh_push_add_txn(txn, w->user, sub, w->now, w->why,
                               sizeof(w->why));

    default:
        return GH_EINVAL;
    }
}


static void
ngx_http_gatehouse_in_write_run(void *data, ngx_log_t *log)
{
    ngx_http_gatehouse_inwrite_t  *w = data;

    w->err = ngx_http_gatehouse_store_write(w->gmcf,
                                            ngx_http_gatehouse_in_write_txn,
                                            w);
}


static void
ngx_http_gatehouse_in_write_done(ngx_event_t *ev)
{
    ngx_http_gatehouse_inwrite_t  *w = ev->data;

    json_t              *body;
    ngx_int_t            rc;
    ngx_http_request_t  *r = w->request;

    r->main->blocked--;

    if (w->err == GH_ENOTFOUND && w->unknown) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_NOT_FOUND,
                 "unknown_user", "nothing is known of this user yet");
        goto done;
    }

    if (w->err == GH_ENOTFOUND) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such notification");
        goto done;
    }

    if (w->err == GH_ETOOBIG) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                 "too_big", "the change would make the user's record "
                 "too big");
        goto done;
    }

    if (w->err == GH_EINVAL) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                 "bad_subscription", w->why[0] ? w->why
                                               : "the request was refused");
        goto done;
    }

    if (w->err != GH_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gatehouse: inbox write for \"%s\": %s", w->user,
                      gh_strerror(w->err));
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                 "store_unavailable", "the change could not be saved now");
        goto done;
    }

    switch (w->what) {

    case NGX_HTTP_GATEHOUSE_IN_READ:
        body = json_pack("{s:I, s:b}", "id", (json_int_t) w->id, "is_read",
                         1);
        rc = ngx_http_gatehouse_in_json(r, NGX_HTTP_OK, body);
        break;

    case NGX_HTTP_GATEHOUSE_IN_READ_ALL:
        body = json_pack("{s:I}", "marked", (json_int_t) w->changed);
        rc = ngx_http_gatehouse_in_json(r, NGX_HTTP_OK, body);
        break;

    case NGX_HTTP_GATEHOUSE_IN_PREFS:
        rc = ngx_http_gatehouse_in_json(r, NGX_HTTP_OK, json_incref(w->body));
        break;

    default: /* push */
        body = json_pack("{s:O, s:b}", "endpoint",
                         json_object_get(w->body, "endpoint"),
                         "subscribed", !w->remove);
        rc = ngx_http_gatehouse_in_json(r, w->remove ? NGX_HTTP_OK
                                                     : NGX_HTTP_CREATED,
                                        body);
        break;
    }

done:

    json_decref(w->body);
    w->body = NULL;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(r->connection);
}


ngx_int_t
ngx_http_gatehouse_in_write(ngx_http_request_t *r,
    ngx_http_gatehouse_inwrite_t *w)
{
    ngx_http_gatehouse_loc_conf_t  *glcf;

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gatehouse_module);

    w->request = r;
    w->now = gh_now_ms();

    if (ngx_http_gatehouse_post(glcf, r->pool,
                                ngx_http_gatehouse_in_write_run,
                                ngx_http_gatehouse_in_write_done, w,
                                r->connection->log)
        != NGX_OK)
    {
        return ngx_http_gatehouse_in_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "store_unavailable", "the change could not be saved now");
    }

    /* the request lives until the write is done (in_write_done) */
    r->main->count++;
    r->main->blocked++;

    return NGX_DONE;
}
