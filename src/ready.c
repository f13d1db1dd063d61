/* ready.c - workers ready for a request, the least recently ready
 * first: the queue's lru list (broker.c) and each majordomo service's
 * (mdp.c).
 * SPDX-License-Identifier: MIT
 *
 * A broker's own worker struct starts with a zr__ready_link_t; the list
 * only links and unlinks workers in O(1) (doubly linked). When a worker
 * is ready and whom a request goes to stay with the broker.
 */
#include "zr_impl.h"

#include <stddef.h>

void
zr__ready_append(zr__ready_t *self, zr__ready_link_t *w)
{
    w->prev = self->tail;
    w->next = NULL;
    if (self->tail) {
        self->tail->next = w;
    }
    else {
        self->head = w;
    }
    self->tail = w;
}

void
zr__ready_unlink(zr__ready_t *self, zr__ready_link_t *w)
{
    if (w->prev) {
        w->prev->next = w->next;
    }
    else {
        self->head = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    else {
        self->tail = w->prev;
    }
    w->prev = w->next = NULL;
}
