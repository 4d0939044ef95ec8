/*
 * ngx_http_gatehouse_inbox_body.c - the JSON body of a PUT .../preferences
 * or a POST or DELETE .../push-subscriptions: read whole (16 KiB at most),
 * a JSON object, and checked as notifyd will check it (users.h) before
 * anything is written (ngx_http_gatehouse_inbox_write.c), so that a bad
 * one is a 400 that says why.  Apart because it is the part that reads
 * what a client sends.
 */
#include "ngx_http_gatehouse_module.h"
#include "ngx_http_gatehouse_inbox.h"
#include "gatehouse/json.h"
#include "gatehouse/users.h"


/* The body, whole, as JSON; NULL with a code and message when it is not
 * a JSON object. */
static json_t *
ngx_http_gatehouse_in_read_json(ngx_http_request_t *r, const char **msg)
{
    u_char       *buf, *p;
    size_t        len;
    ssize_t       n;
    json_t       *j;
    ngx_chain_t  *cl;

    *msg = "the body must be a JSON object";

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NULL;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NULL;
    }

    if (len > NGX_HTTP_GATEHOUSE_INBOX_BODY_MAX) {
        *msg = "the JSON body is larger than 16 KiB";
        return NULL;
    }

    buf = ngx_pnalloc(r->pool, len);
    if (buf == NULL) {
        return NULL;
    }

    p = buf;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            n = ngx_read_file(cl->buf->file, p,
                              cl->buf->file_last - cl->buf->file_pos,
                              cl->buf->file_pos);
            if (n < 0) {
                return NULL;
            }

            p += n;

        } else {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    j = json_loadb((const char *) buf, p - buf, JSON_REJECT_DUPLICATES,
                   NULL);

    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }

    return j;
}


void
ngx_http_gatehouse_inbox_body(ngx_http_request_t *r)
{
    char                           detail[200];
    const char                    *msg;
    json_t                        *j, *probe, *sub;
    ngx_int_t                      rc;
    ngx_http_gatehouse_inwrite_t  *w;

    w = ngx_http_gatehouse_in_find(r);
    if (w == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    j = ngx_http_gatehouse_in_read_json(r, &msg);
    if (j == NULL) {
        rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST, "bad_json",
                                         msg);
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (w->what == NGX_HTTP_GATEHOUSE_IN_PREFS) {
        /* the fields notifyd honours, and nothing else (users.h) */
        if (json_object_get(j, "v") || json_object_get(j, "updated_at")
            || gh_prefs_validate(j, detail, sizeof(detail)) != GH_OK)
        {
            if (json_object_get(j, "v") || json_object_get(j, "updated_at"))
            {
                ngx_cpystrn((u_char *) detail,
                            (u_char *) "v and updated_at are the store's",
                            sizeof(detail));
            }

            json_decref(j);
            rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                                             "bad_preferences", detail);
            ngx_http_finalize_request(r, rc);
            return;
        }

        w->body = j;

    } else if (w->remove) {
        if (!json_is_string(json_object_get(j, "endpoint"))
            || json_string_length(json_object_get(j, "endpoint")) == 0
            || json_string_length(json_object_get(j, "endpoint")) > 2048)
        {
            json_decref(j);
            rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                     "bad_subscription", "endpoint must be a URL");
            ngx_http_finalize_request(r, rc);
            return;
        }

        w->body = j;

    } else {
        /* PushSubscription.toJSON(): endpoint, keys, expirationTime.
         * keys holds p256dh and auth only: anything else would be
         * stored in the user's contacts record for nothing (and once
         * filled it past the record bound). */
        {
            static const char *const  keys[] = { "p256dh", "auth", NULL };
            const char               *k;

            if (!gh_json_only_members(json_object_get(j, "keys"), keys,
                                      &k))
            {
                (void) snprintf(detail, sizeof(detail),
                                "keys.%.64s is not a member of a "
                                "subscription's keys (p256dh, auth)", k);
                json_decref(j);
                rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                                                 "bad_subscription", detail);
                ngx_http_finalize_request(r, rc);
                return;
            }
        }

        sub = json_pack("{s:O?, s:O?}", "endpoint",
                        json_object_get(j, "endpoint"), "keys",
                        json_object_get(j, "keys"));
        probe = sub ? json_pack("{s:[O]}", "push", sub) : NULL;

        if (probe == NULL
            || json_object_get(sub, "endpoint") == NULL
            || json_object_get(sub, "keys") == NULL
            || gh_contacts_validate(probe, detail, sizeof(detail)) != GH_OK)
        {
            if (sub != NULL && (json_object_get(sub, "endpoint") == NULL
                                || json_object_get(sub, "keys") == NULL))
            {
                ngx_cpystrn((u_char *) detail, (u_char *) "a subscription "
                            "needs endpoint and keys", sizeof(detail));
            }

            json_decref(probe);
            json_decref(sub);
            json_decref(j);
            rc = ngx_http_gatehouse_in_error(r, NGX_HTTP_BAD_REQUEST,
                                             "bad_subscription", detail);
            ngx_http_finalize_request(r, rc);
            return;
        }

        json_decref(probe);
        json_decref(j);
        w->body = sub;
    }

    rc = ngx_http_gatehouse_in_write(r, w);

    ngx_http_finalize_request(r, rc);
}
