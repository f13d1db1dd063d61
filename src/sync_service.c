/* sync_service.c - the forwarder's sync endpoint: tells a publisher when
 * its subscribers are really there (docs/SYNC.md). The publisher's side
 * is zr_sync_wait, in sync.c.
 * SPDX-License-Identifier: MIT
 *
 * A publisher asks to wait until N subscriptions overlap a topic prefix.
 * A count alone is not enough: the subscriptions may still be on their
 * way to the publisher's PUB socket. So once the count is reached the
 * forwarder subscribes upstream to a fresh probe topic, behind those
 * subscriptions on every connection, and tells the publisher to send
 * probes on its PUB. The first probe that arrives proves the publisher's
 * PUB has applied everything before it: go. The probe topic starts with
 * \xff so that a publisher connecting later gets it last when XSUB
 * replays its subscriptions (in byte order). Probes are consumed by the
 * forwarder: no subscriber ever sees one. With a PULL frontend
 * (publishers PUSH, which queues) the count alone means go.
 */
#include "zr_impl.h"

#include <stddef.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_PROBE_PREFIX "\xffzrelay-probe"
#define S_PROBE_PREFIX_LEN (sizeof S_PROBE_PREFIX - 1)
/* Frames of a request kept: a well-formed one has 6 at most. */
#define S_REQUEST_FRAMES 8

typedef struct s_waiter {
    struct s_waiter *next;
    zr__msg_t envelope; /* the ROUTER identity and delimiter to reply to */
    uint64_t want;
    char *prefix;
    size_t prefix_len;
    int64_t deadline;
    char probe[64]; /* "" until the count is reached */
    size_t probe_len;
} s_waiter_t;

struct zr__syncsvc_t {
    zr__engine_t *engine;
    void *sync, *frontend;
    bool pull; /* the frontend is a PULL: no probes */
    const zr__subs_t *subs;
    char name[64];
    s_waiter_t *waiters;
    uint64_t probe_seq;
    /* Counters, read by STATS from any thread. */
    _Atomic uint64_t st_waiting, st_go, st_timeouts, st_probes, st_errors;
};

bool
zr__syncsvc_is_probe(const zmq_msg_t *first)
{
    return zmq_msg_size((zmq_msg_t *) first) >= S_PROBE_PREFIX_LEN &&
           memcmp(zmq_msg_data((zmq_msg_t *) first), S_PROBE_PREFIX,
                  S_PROBE_PREFIX_LEN) == 0;
}

static void
s_reply(zr__syncsvc_t *self, s_waiter_t *w, const char *verdict,
        const char *detail, size_t detail_len)
{
    for (size_t i = 0; i < w->envelope.size; i++) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        zmq_msg_copy(&part, &w->envelope.frames[i]);
        zmq_msg_send(&part, self->sync, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_msg_close(&part);
    }
    zmq_send(self->sync, verdict, strlen(verdict), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->sync, detail, detail_len, ZMQ_DONTWAIT);
}

static void
s_reply_count(zr__syncsvc_t *self, s_waiter_t *w, const char *verdict)
{
    char count[32];
    uint64_t n = zr__subs_overlap(self->subs, w->prefix, w->prefix_len);
    int len = snprintf(count, sizeof count, "%llu", (unsigned long long) n);
    s_reply(self, w, verdict, count, (size_t) len);
}

/* Subscribe (1) or unsubscribe (0) the frontend upstream to TOPIC. */
static void
s_upstream(zr__syncsvc_t *self, int subscribe, const char *topic, size_t len)
{
    zr__msg_t msg = {NULL, 0, 0};
    char buf[80];
    buf[0] = (char) subscribe;
    memcpy(buf + 1, topic, len);
    if (zr__msg_add(&msg, buf, len + 1) == 0) {
        zr__engine_inject(self->engine, self->frontend, &msg);
    }
    zr__msg_destroy(&msg);
}

static void
s_waiter_free(s_waiter_t *w)
{
    zr__msg_destroy(&w->envelope);
    free(w->prefix);
    free(w);
}

static void
s_waiter_remove(zr__syncsvc_t *self, s_waiter_t *w)
{
    for (s_waiter_t **p = &self->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    if (w->probe_len) {
        s_upstream(self, 0, w->probe, w->probe_len);
    }
    s_waiter_free(w);
}

static void
s_count_waiters(zr__syncsvc_t *self)
{
    uint64_t n = 0;
    for (s_waiter_t *w = self->waiters; w; w = w->next) {
        n++;
    }
    zr__stat_set(&self->st_waiting, n);
}

/* A waiter whose count is reached: go with a PULL frontend, else probe. */
static void
s_reached(zr__syncsvc_t *self, s_waiter_t *w)
{
    if (self->pull) {
        zr__stat_add(&self->st_go, 1);
        s_reply_count(self, w, "GO");
        s_waiter_remove(self, w);
        return;
    }
    uint64_t r = (uint64_t) zr__now_ms() ^ ((uint64_t) (uintptr_t) w << 7);
    w->probe_len = (size_t) snprintf(
        w->probe, sizeof w->probe, S_PROBE_PREFIX "-%llu-%llx",
        (unsigned long long) ++self->probe_seq, (unsigned long long) r);
    s_upstream(self, 1, w->probe, w->probe_len);
    s_reply(self, w, "PROBE", w->probe, w->probe_len);
}

void
zr__syncsvc_check(zr__syncsvc_t *self)
{
    s_waiter_t *w = self->waiters;
    while (w) {
        s_waiter_t *next = w->next;
        if (!w->probe_len &&
            zr__subs_overlap(self->subs, w->prefix, w->prefix_len) >= w->want) {
            s_reached(self, w);
        }
        w = next;
    }
    s_count_waiters(self);
}

static bool
s_frame_uint(zmq_msg_t *frame, uint64_t max, uint64_t *out)
{
    char text[24];
    size_t n = zmq_msg_size(frame);
    if (n == 0 || n >= sizeof text) {
        return false;
    }
    memcpy(text, zmq_msg_data(frame), n);
    text[n] = 0;
    int64_t v;
    if (zr__parse_int(text, 0, (int64_t) max, &v) != 0) {
        return false;
    }
    *out = (uint64_t) v;
    return true;
}

/* Read one request from the sync socket, whole, whatever its length:
 * its first frames go into REQ (at most S_REQUEST_FRAMES, more than a
 * well-formed one has), the rest are read and dropped; returns how many
 * frames it had. A request read in two would be answered twice, the
 * second time to a "routing id" taken from its middle. */
static size_t
s_read_request(zr__syncsvc_t *self, zr__msg_t *req)
{
    size_t total = 0;
    zmq_msg_t spare;
    zmq_msg_init(&spare);
    for (;;) {
        zmq_msg_t *f = &spare;
        if (req->size < S_REQUEST_FRAMES &&
            zr__msg_reserve(req, req->size + 1) == 0) {
            f = &req->frames[req->size];
            zmq_msg_init(f);
        }
        if (zmq_msg_recv(f, self->sync, ZMQ_DONTWAIT) < 0) {
            if (f != &spare) {
                zmq_msg_close(f);
            }
            break; /* not inside a message: ROUTER delivers it whole */
        }
        total++;
        req->size += f != &spare;
        if (!zmq_msg_more(f)) {
            break;
        }
    }
    zmq_msg_close(&spare);
    return total;
}

/* Fill W from the request's arguments A (NARGS of them): NULL, or why
 * the request is malformed. */
static const char *
s_parse(s_waiter_t *w, zmq_msg_t *a, size_t nargs)
{
    uint64_t timeout = 0;
    if (nargs != 4 || zmq_msg_size(&a[0]) != 4 ||
        memcmp(zmq_msg_data(&a[0]), "WAIT", 4) != 0) {
        return "expected WAIT N PREFIX TIMEOUT_MS (see docs/SYNC.md)";
    }
    if (!s_frame_uint(&a[1], UINT32_MAX, &w->want)) {
        return "N must be a whole number";
    }
    if (!s_frame_uint(&a[3], INT32_MAX, &timeout)) {
        return "TIMEOUT_MS must be a whole number of milliseconds";
    }
    if (!(w->prefix = malloc(zmq_msg_size(&a[2]) + 1))) {
        return "out of memory";
    }
    w->prefix_len = zmq_msg_size(&a[2]);
    memcpy(w->prefix, zmq_msg_data(&a[2]), w->prefix_len);
    w->prefix[w->prefix_len] = 0;
    w->deadline = zr__now_ms() + (int64_t) timeout;
    return NULL;
}

/* One request on the sync socket: [identity, "", "WAIT", N, PREFIX,
 * TIMEOUT_MS] (the empty delimiter is there when a REQ asks). Every
 * request is answered once, an ERROR when malformed. */
static void
s_request(zr__syncsvc_t *self)
{
    zr__msg_t req = {NULL, 0, 0};
    size_t total = s_read_request(self, &req);
    s_waiter_t *w = req.size >= 1 ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        zr__stat_add(&self->st_errors, req.size >= 1);
        zr__msg_destroy(&req);
        return;
    }
    /* The envelope: the identity, and the delimiter if there is one. */
    size_t body = req.size >= 2 && zmq_msg_size(&req.frames[1]) == 0 ? 2 : 1;
    for (size_t i = 0; i < body; i++) {
        zr__msg_add(&w->envelope, zmq_msg_data(&req.frames[i]),
                    zmq_msg_size(&req.frames[i]));
    }
    const char *why = s_parse(w, &req.frames[body], total - body);
    zr__msg_destroy(&req);
    if (why) {
        zr__stat_add(&self->st_errors, 1); /* before the client can ask */
        s_reply(self, w, "ERROR", why, strlen(why));
        ZR_LOG_I("%s: sync: %s", self->name, why);
        s_waiter_free(w);
        return;
    }
    w->next = self->waiters;
    self->waiters = w;
    zr__engine_set_deadline(self->engine, w->deadline);
    zr__syncsvc_check(self);
}

static void
s_ready(void *arg)
{
    zr__syncsvc_t *self = arg;
    int events = 0;
    size_t len = sizeof events;
    while (zmq_getsockopt(self->sync, ZMQ_EVENTS, &events, &len) == 0 &&
           (events & ZMQ_POLLIN)) {
        s_request(self);
    }
}

void
zr__syncsvc_probe(zr__syncsvc_t *self, const zmq_msg_t *first)
{
    zr__stat_add(&self->st_probes, 1);
    size_t size = zmq_msg_size((zmq_msg_t *) first);
    const void *data = zmq_msg_data((zmq_msg_t *) first);
    for (s_waiter_t *w = self->waiters; w; w = w->next) {
        if (w->probe_len == size && memcmp(w->probe, data, size) == 0) {
            zr__stat_add(&self->st_go, 1);
            s_reply_count(self, w, "GO");
            s_waiter_remove(self, w);
            s_count_waiters(self);
            return;
        }
    }
    /* A late probe of a waiter already answered: consumed all the same. */
}

int64_t
zr__syncsvc_timer(zr__syncsvc_t *self, int64_t now)
{
    int64_t next = -1;
    s_waiter_t *w = self->waiters;
    while (w) {
        s_waiter_t *after = w->next;
        if (now >= w->deadline) {
            zr__stat_add(&self->st_timeouts, 1);
            s_reply_count(self, w, "TIMEOUT");
            s_waiter_remove(self, w);
        }
        else if (next < 0 || w->deadline < next) {
            next = w->deadline;
        }
        w = after;
    }
    s_count_waiters(self);
    return next;
}

zr__syncsvc_t *
zr__syncsvc_new(zr__engine_t *engine, const char *name, void *sync,
                void *frontend, const zr__subs_t *subs)
{
    zr__syncsvc_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->sync = sync;
    self->frontend = frontend;
    self->subs = subs;
    snprintf(self->name, sizeof self->name, "%s", name);
    int type = 0;
    size_t len = sizeof type;
    zmq_getsockopt(frontend, ZMQ_TYPE, &type, &len);
    self->pull = type == ZMQ_PULL;
    if (zr__engine_watch(engine, sync, s_ready, self) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void
zr__syncsvc_destroy(zr__syncsvc_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__syncsvc_t *self = *self_p;
    while (self->waiters) {
        s_waiter_t *next = self->waiters->next;
        s_waiter_free(self->waiters);
        self->waiters = next;
    }
    free(self);
    *self_p = NULL;
}

#define S_AT(field) offsetof(zr__syncsvc_t, field)
static const zr__stat_t s_rows[] = {
    {.key = "waiting",
     .metric = "sync_waiting",
     .kind = ZR__STAT_GAUGE,
     .help = "Publishers waiting on the sync endpoint now.",
     .offset = S_AT(st_waiting)},
    {.key = "go",
     .metric = "sync_answers_total",
     .labels = "answer=\"go\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Waits answered GO: the subscriptions are there.",
     .offset = S_AT(st_go)},
    {.key = "timeouts",
     .metric = "sync_answers_total",
     .labels = "answer=\"timeout\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Waits answered TIMEOUT.",
     .offset = S_AT(st_timeouts)},
    {.key = "probes",
     .metric = "sync_probes_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Probes from publishers consumed by the forwarder.",
     .offset = S_AT(st_probes)},
    {.key = "errors",
     .metric = "sync_answers_total",
     .labels = "answer=\"error\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Requests answered ERROR (malformed).",
     .offset = S_AT(st_errors)},
};
#undef S_AT

zr__stat_section_t
zr__syncsvc_section(const zr__syncsvc_t *self)
{
    return (zr__stat_section_t){"sync", NULL, ZR__STAT_ROWS(s_rows), self};
}
