/* lastvalue.c - last values for new subscribers: the forwarder keeps the
 * last message of each topic (lvc.c) and sends a new subscription the
 * cached values it matches, to that subscriber alone.
 * SPDX-License-Identifier: MIT
 *
 * "To that subscriber alone" is libzmq's ZMQ_XPUB_MANUAL_LAST_VALUE: with
 * it set, a send goes only to the pipe whose subscription was applied
 * last, which is the new subscriber's while the forwarder handles its
 * subscription. The XPUB runs ZMQ_XPUB_MANUAL whenever there is a cache.
 */
#include "zr_impl.h"

#include <stddef.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

/* ZMQ_XPUB_MANUAL_LAST_VALUE: absent from libzmq 4.3.4's header without
 * the draft API, but there at run time (measured). */
#define S_XPUB_MANUAL_LAST_VALUE 98

struct zr__lastvalue_t {
    zr__engine_t *engine;
    void *backend;
    zr__lvc_t *lvc;
    bool all; /* a prefix gets every match, not the newest */
    /* Counters, read by STATS from any thread. */
    _Atomic uint64_t st_sent, st_missed, st_topics, st_bytes, st_evictions;
};

zr__lastvalue_t *
zr__lastvalue_new(zr__engine_t *engine, void *backend,
                  const zr__pubsub_opts_t *opts)
{
    zr__lastvalue_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->backend = backend;
    self->all = opts->last_value_all;
    self->lvc = zr__lvc_new(opts->lv_max_topics, opts->lv_max_bytes);
    if (!self->lvc) {
        free(self);
        return NULL;
    }
    return self;
}

void
zr__lastvalue_destroy(zr__lastvalue_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__lvc_destroy(&(*self_p)->lvc);
    free(*self_p);
    *self_p = NULL;
}

void
zr__lastvalue_store(zr__lastvalue_t *self, const zr__msg_t *msg)
{
    zr__lvc_store(self->lvc, msg);
    uint64_t topics, bytes, evictions;
    zr__lvc_stats(self->lvc, &topics, &bytes, &evictions);
    zr__stat_set(&self->st_topics, topics);
    zr__stat_set(&self->st_bytes, bytes);
    zr__stat_set(&self->st_evictions, evictions);
}

/* Send a copy of CACHED on the backend, to the subscriber whose
 * subscription was just applied alone (EXCLUSIVE) or to all that match. */
static void
s_send_cached(zr__lastvalue_t *self, const zr__msg_t *cached, bool exclusive)
{
    /* A newer message of that topic waits in the backend's outlet (a slow
     * subscriber holds the XPUB up): it goes to the new subscriber live,
     * so the cached one would come twice. */
    if (cached->size && zr__engine_holds_topic(
                            self->engine, self->backend,
                            zmq_msg_data((zmq_msg_t *) &cached->frames[0]),
                            zmq_msg_size((zmq_msg_t *) &cached->frames[0]))) {
        return;
    }
    zr__msg_t copy = {NULL, 0, 0};
    if (zr__msg_copy(&copy, cached) != 0) {
        zr__stat_add(&self->st_missed, 1);
        return;
    }
    int on = 1, off = 0, rc;
    if (exclusive) {
        /* Only around a send: set and left set, it would give the next
         * live message to this subscriber alone and rob the others. */
        zmq_setsockopt(self->backend, S_XPUB_MANUAL_LAST_VALUE, &on, sizeof on);
        rc = zr__engine_send_now(self->engine, self->backend, &copy);
        /* Clearing it clears ZMQ_XPUB_MANUAL too: set that again. */
        zmq_setsockopt(self->backend, S_XPUB_MANUAL_LAST_VALUE, &off,
                       sizeof off);
        zmq_setsockopt(self->backend, ZMQ_XPUB_MANUAL, &on, sizeof on);
    }
    else {
        /* To every subscriber of the topic with room: one that is full
         * misses it (an overflow, counted), the others do not. */
        rc = zr__engine_send_now_lossy(self->engine, self->backend, &copy);
    }
    zr__stat_add(rc == 0 ? &self->st_sent : &self->st_missed, 1);
    zr__msg_destroy(&copy);
}

void
zr__lastvalue_subscribed(zr__lastvalue_t *self, const void *prefix, size_t len)
{
    const zr__msg_t *newest;
    size_t n = zr__lvc_match(self->lvc, prefix, len, &newest, 1);
    if (n == 0) {
        return;
    }
    if (n == 1 || !self->all) {
        s_send_cached(self, newest, true);
        return;
    }
    const zr__msg_t **all = malloc(n * sizeof *all);
    if (!all) {
        s_send_cached(self, newest, true);
        return;
    }
    n = zr__lvc_match(self->lvc, prefix, len, all, n);
    for (size_t i = n; i-- > 0;) { /* oldest first, as they came */
        s_send_cached(self, all[i], false);
    }
    free(all);
}

#define S_AT(field) offsetof(zr__lastvalue_t, field)
static const zr__stat_t s_rows[] = {
    {.key = "topics",
     .metric = "last_value_topics",
     .kind = ZR__STAT_GAUGE,
     .help = "Topics whose last value is cached.",
     .offset = S_AT(st_topics)},
    {.key = "bytes",
     .metric = "last_value_bytes",
     .kind = ZR__STAT_GAUGE,
     .help = "Memory the cached values take, bookkeeping included.",
     .offset = S_AT(st_bytes)},
    {.key = "evictions",
     .metric = "last_value_evictions_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Cached topics dropped to stay within the cache's bounds.",
     .offset = S_AT(st_evictions)},
    {.key = "sent",
     .metric = "last_value_sent_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Cached values sent to new subscribers.",
     .offset = S_AT(st_sent)},
    {.key = "missed",
     .metric = "last_value_missed_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Cached values a new subscriber could not take (full).",
     .offset = S_AT(st_missed)},
};
#undef S_AT

zr__stat_section_t
zr__lastvalue_section(const zr__lastvalue_t *self)
{
    return (zr__stat_section_t){"last_value", NULL, ZR__STAT_ROWS(s_rows),
                                self};
}
