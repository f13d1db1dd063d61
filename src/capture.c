/* capture.c - the capture socket: a copy of every message the relay sent,
 * both ways, each whole.
 * SPDX-License-Identifier: MIT
 *
 * The outlets (outlet.c) hand over a copy of each message once all of it
 * went out; the copy shares the bodies of large frames (zmq_msg_copy).
 * Each copy is sent after one frame naming the socket the message was
 * sent on: "frontend" or "backend".
 * The capture is an XPUB with ZMQ_XPUB_NODROP: a listener that cannot
 * keep up makes the first frame fail with EAGAIN, and that whole message
 * is counted as missed, by every listener: libzmq's NODROP XPUB sends to
 * all subscribers or to none. Without NODROP only the slow one would
 * miss it, but silently; counted loss for all is the lesser evil. It never
 * slows the relay: every send is DONTWAIT.
 */
#include "zr_impl.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct zr__capture_t {
    void *socket;
    _Atomic uint64_t msgs, drops;
};

zr__capture_t *
zr__capture_new(void *socket)
{
    zr__capture_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->socket = socket;
    return self;
}

void
zr__capture_destroy(zr__capture_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

void *
zr__capture_socket(const zr__capture_t *self)
{
    return self ? self->socket : NULL;
}

/* End a message that libzmq refused half-way: never leave a listener's
 * stream inside a message. (libzmq's XPUB checks its HWM per message, so
 * this does not happen with 4.3.) */
static void
s_end_message(void *socket)
{
    zmq_msg_t end;
    zmq_msg_init(&end);
    zmq_msg_send(&end, socket, ZMQ_DONTWAIT);
    zmq_msg_close(&end);
}

void
zr__capture_send(zr__capture_t *self, const char *way, zr__msg_t *copy)
{
    /* First a frame naming the socket it was sent on, then the message:
     * a listener knows which way each copy went. */
    if (zmq_send(self->socket, way, strlen(way),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zr__msg_clear(copy);
        zr__stat_add(&self->drops, 1);
        return;
    }
    for (size_t i = 0; i < copy->size; i++) {
        int flags = (i + 1 < copy->size ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
        if (zmq_msg_send(&copy->frames[i], self->socket, flags) < 0) {
            s_end_message(self->socket);
            zr__msg_clear(copy);
            zr__stat_add(&self->drops, 1);
            return;
        }
    }
    zr__msg_clear(copy);
    zr__stat_add(&self->msgs, 1);
}

void
zr__capture_missed(zr__capture_t *self)
{
    zr__stat_add(&self->drops, 1);
}

void
zr__capture_drain(zr__capture_t *self)
{
    /* Listeners' subscriptions arrive here; read them so that they do not
     * pile up. */
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, self->socket, ZMQ_DONTWAIT) >= 0) {
    }
    zmq_msg_close(&msg);
}

void
zr__capture_stats(const zr__capture_t *self, uint64_t *msgs, uint64_t *drops)
{
    *msgs = self ? zr__stat_get(&self->msgs) : 0;
    *drops = self ? zr__stat_get(&self->drops) : 0;
}

static double
s_enabled(const void *base)
{
    return base != NULL;
}

static const zr__stat_t s_rows[] = {
    {.key = "enabled",
     .metric = "capture_enabled",
     .kind = ZR__STAT_FLAG,
     .help = "Whether the device copies what it sends to a capture socket.",
     .get = s_enabled},
    {.key = "msgs",
     .metric = "messages_sent_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Copies sent to the capture socket, one per message sent.",
     .offset = offsetof(zr__capture_t, msgs)},
    {.key = "drops",
     .metric = "messages_dropped_total",
     .labels = "reason=\"slow_listener\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Copies every capture listener missed because one could not keep up.",
     .offset = offsetof(zr__capture_t, drops)},
};

zr__stat_section_t
zr__capture_section(const zr__capture_t *self)
{
    return (zr__stat_section_t){.path = "capture",
                                .labels = "socket=\"capture\"",
                                .rows = s_rows,
                                .nrows = sizeof s_rows / sizeof s_rows[0],
                                .base = self};
}
