/* requests.c - requests waiting for a worker, in the order they came:
 * the one queue the queue's broker (broker.c) and the majordomo (mdp.c)
 * both keep their requests in.
 * SPDX-License-Identifier: MIT
 *
 * A broker's own request struct starts with a zr__request_t: the link,
 * how often it was retried and when it began to wait. What else it
 * holds (the client's envelope, its body), where it goes and what its
 * client is told stay with the broker; this file only keeps the order,
 * and finds the requests that waited too long.
 */
#include "zr_impl.h"

#include <stddef.h>

void
zr__requests_push(zr__requests_t *self, zr__request_t *r)
{
    r->next = NULL;
    if (self->tail) {
        self->tail->next = r;
    }
    else {
        self->head = r;
    }
    self->tail = r;
    self->size++;
}

void
zr__requests_push_front(zr__requests_t *self, zr__request_t *r)
{
    r->next = self->head;
    self->head = r;
    if (!self->tail) {
        self->tail = r;
    }
    self->size++;
}

zr__request_t *
zr__requests_pop(zr__requests_t *self)
{
    zr__request_t *r = self->head;
    if (r) {
        self->head = r->next;
        if (!self->head) {
            self->tail = NULL;
        }
        self->size--;
        r->next = NULL;
    }
    return r;
}

void
zr__requests_append(zr__requests_t *self, zr__requests_t *src)
{
    if (!src->head) {
        return;
    }
    if (self->tail) {
        self->tail->next = src->head;
    }
    else {
        self->head = src->head;
    }
    self->tail = src->tail;
    self->size += src->size;
    *src = (zr__requests_t){NULL, NULL, 0};
}

size_t
zr__requests_expire(zr__requests_t *self, int64_t now, int64_t limit,
                    zr__requests_t *expired)
{
    if (limit <= 0) {
        return 0;
    }
    zr__requests_t keep = {NULL, NULL, 0};
    size_t n = 0;
    zr__request_t *r;
    while ((r = zr__requests_pop(self))) {
        if (now - r->since < limit) {
            zr__requests_push(&keep, r);
        }
        else {
            zr__requests_push(expired, r);
            n++;
        }
    }
    *self = keep;
    return n;
}

int64_t
zr__requests_next_check(int64_t now, int64_t limit, int64_t next)
{
    if (limit <= 0) {
        return next;
    }
    /* Waiting requests are looked at at least this often. */
    int64_t step = limit / 4 + 1;
    return now + step < next ? now + step : next;
}
