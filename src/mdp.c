/* mdp.c - the majordomo's handler: a service-oriented broker speaking the
 * Majordomo Protocol (ZeroMQ RFC 7 MDP/0.1, RFC 18 MDP/0.2) with the
 * management interface (RFC 8 MMI), on one ROUTER for clients and
 * workers (docs/MAJORDOMO.md).
 * SPDX-License-Identifier: MIT
 *
 * Every message is told apart by its protocol frame, after the ROUTER's
 * identity frame and an optional empty frame (MDP/0.1 peers send one,
 * MDP/0.2 peers do not): MDPC01 and MDPC02 are clients' requests, MDPW01
 * and MDPW02 workers' commands. Each peer is answered in the version and
 * the envelope (with or without the empty frame) it used, so a 0.1
 * client can be served by a 0.2 worker and the other way round: a 0.2
 * worker's PARTIAL replies to a 0.1 client are held and go out with its
 * FINAL as one reply (0.1 has one reply per request).
 *
 * Services are made on first use (a request or a READY) and forgotten
 * once they have neither workers nor requests. A request waits in its
 * service's queue until a worker of it is ready: the least recently
 * ready first. A service holds at most max_waiting requests; a request
 * waits at most request_timeout; beyond either, and when the workers
 * that had it died more than `retries` times, its client gets an error
 * reply (one body frame "ZRELAY-ERROR CODE text"), never silence.
 *
 * A worker is gone when a send to it fails with EHOSTUNREACH (the outlet
 * sets ROUTER_MANDATORY), when the socket monitor reports its connection
 * closed (the queue's lru broker does the same: its fd comes from
 * ZMQ_SRCFD), or when it is idle and silent for liveness heartbeats. A
 * busy worker is not expired by silence (the Guide's worker does not
 * heartbeat while it works). The request a gone worker had goes back to
 * the front of its service's queue; a reply that comes later from that
 * worker (now unknown here) is dropped and counted, and the worker is
 * told DISCONNECT, so no request is answered twice.
 *
 * Removal is never nested: removing a worker does not dispatch; callers
 * dispatch its service afterwards (s_settle), and nothing holds a pointer
 * to a removed worker across a removal.
 *
 * Requests to workers, heartbeats and DISCONNECTs go out at once
 * (zr__engine_send_now: their errors say whether the worker lives);
 * replies to clients go out as the message the engine read, rewritten in
 * place (ZR__SEND: whole, held while the client is full), error replies
 * through zr__engine_inject. Every send goes through the socket's outlet.
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MDPC01 "MDPC01"
#define S_MDPC02 "MDPC02"
#define S_MDPW01 "MDPW01"
#define S_MDPW02 "MDPW02"
/* MDP/0.2 client commands. */
#define S_C2_REQUEST 1
#define S_C2_PARTIAL 2
#define S_C2_FINAL 3

#define S_ID_MAX 255
#define S_BUCKETS 1024       /* services and workers: chains */
#define S_MAX_SERVICES 10000 /* made by requests too: bounded */
#define S_SLOTS 16           /* services with a stats section of their own */
#define S_SLOT_NAME 48       /* their names at most this long */

/* Worker commands, whatever the version. */
typedef enum {
    W_READY,
    W_REQUEST,
    W_PARTIAL,
    W_FINAL, /* MDP/0.1 REPLY */
    W_HEARTBEAT,
    W_DISCONNECT,
    W_BAD
} s_wcmd_t;

static const unsigned char s_w1[] = {1, 2, 0, 3, 4, 5}; /* 0: none */
static const unsigned char s_w2[] = {1, 2, 3, 4, 5, 6};

static s_wcmd_t
s_wcmd(int version, unsigned char c)
{
    const unsigned char *t = version == 1 ? s_w1 : s_w2;
    for (int i = 0; i < W_BAD; i++) {
        if (t[i] && t[i] == c) {
            return (s_wcmd_t) i;
        }
    }
    return W_BAD;
}

typedef enum { S_IDLE, S_BUSY, S_FULL } s_state_t;

/* A service's counters, read by any thread (stats table). */
typedef struct {
    char path[80];
    char labels[80];
    char name[S_SLOT_NAME + 1];
    _Atomic uint64_t ready, busy, waiting, inflight;
    _Atomic uint64_t served, retried, failed, timeouts, rejected;
    _Atomic uint64_t time_ms, time_max_ms; /* service time: sum, max */
} s_slot_t;

typedef struct {
    zr__request_t base; /* first: its link, retries and since */
    unsigned char client[S_ID_MAX];
    size_t client_len;
    int client_v;      /* 1 or 2 */
    bool client_delim; /* it sent the empty frame */
    zr__msg_t body;
    zr__msg_t held;  /* 0.1 client, 0.2 worker: PARTIAL bodies so far */
    int64_t sent_at; /* to its worker (ms): the service time's start */
    /* [federation] A peer broker's request: its hop frame, part of the
     * client's address (fed.c). */
    unsigned char hop[ZR__HOP_MAX];
    size_t hop_len;
    bool titanic; /* titanic: a stored request; CLIENT is its UUID */
} s_request_t;

/* titanic: a stored request waits until a worker takes it, whatever
 * request_timeout (requests.c expires none that began to wait here). */
#define S_NEVER (INT64_MAX / 4)

struct s_worker;

typedef struct s_service {
    char name[S_ID_MAX + 1];
    size_t len;
    uint64_t hash;
    zr__requests_t waiting;
    zr__ready_t ready; /* idle workers */
    size_t nworkers, nready, nbusy;
    s_slot_t *slot;
    uint64_t pub_ready, pub_busy, pub_waiting; /* what SLOT has of ours */
    struct s_service *bucket_next, *prev, *next;
} s_service_t;

typedef struct s_worker {
    zr__ready_link_t ready; /* first: on its service's ready list */
    unsigned char id[S_ID_MAX];
    size_t id_len;
    uint64_t hash;
    s_service_t *service;
    s_state_t state;
    int version;
    bool delim;
    int fd; /* its connection (ZMQ_SRCFD); -1: none (inproc) */
    /* Its connection closed while it had a request: it goes once the
     * socket was read dry since (s_disconnected), so that its reply,
     * queued before the close, is not taken for a late one. */
    bool closed;
    uint64_t closed_at; /* zr__engine_drained() then */
    int64_t closed_ms;  /* and the time: a heartbeat later it goes anyway */
    int64_t expiry;
    s_request_t *inflight;
    struct s_worker *bucket_next, *prev, *next;
} s_worker_t;

struct zr__mdp_t {
    zr__engine_t *engine;
    void *socket;
    char name[64];
    zr__broker_opts_t opts;
    zr__monitor_t *monitor;
    s_service_t *services[S_BUCKETS], *service_list;
    size_t nservices;
    s_worker_t *workers[S_BUCKETS], *worker_list;
    size_t nworkers, nwaiting, nclosed;
    int64_t next_beat;
    zr__fed_t *fed; /* [federation] peers, or NULL (fed.c) */
    bool stopping;  /* s_flush has begun */
    /* titanic: durable requests, or NULL */
    zr__titanic_t *titanic;
    s_slot_t slots[S_SLOTS + 1]; /* the last: every other service */
    _Atomic size_t nslots;       /* of the first S_SLOTS in use */
    atomic_bool other_used;
    zr__ha_t *ha; /* [ha] issue 17: a node of a pair (ha.c); NULL: none */
    _Atomic uint64_t st_services, st_workers, st_waiting, st_inflight,
        st_requests, st_answered, st_partials, st_titanic, st_retried,
        st_failed, st_timeouts, st_rejected, st_stopped, st_mmi, st_late,
        st_bad_frames, st_bad_protocol, st_bad_command, st_unexpected,
        st_expired, st_gone, st_disconnected, st_dropped, st_given_up;
};

/* ---------------------------------------------------------------------
 * Frames and queues.
 */

static bool
s_is(const zmq_msg_t *frame, const char *text, size_t len)
{
    return zmq_msg_size((zmq_msg_t *) frame) == len &&
           memcmp(zmq_msg_data((zmq_msg_t *) frame), text, len) == 0;
}

/* Append a copy of each frame of SRC to DST (large frames are shared,
 * reference counted). */
static int
s_append_copy(zr__msg_t *dst, const zr__msg_t *src)
{
    if (zr__msg_reserve(dst, dst->size + src->size) != 0) {
        return -1;
    }
    for (size_t i = 0; i < src->size; i++) {
        zmq_msg_t *f = &dst->frames[dst->size];
        zmq_msg_init(f);
        if (zmq_msg_copy(f, (zmq_msg_t *) &src->frames[i]) != 0) {
            zmq_msg_close(f);
            return -1;
        }
        dst->size++;
    }
    return 0;
}

/* The first request of Q, taken off (zr__request_t is its first
 * member). */
static s_request_t *
s_pop(zr__requests_t *q)
{
    return (s_request_t *) zr__requests_pop(q);
}

static void
s_request_free(s_request_t *r)
{
    if (r) {
        zr__msg_destroy(&r->body);
        zr__msg_destroy(&r->held);
        free(r);
    }
}

/* ---------------------------------------------------------------------
 * Counters: the per-service slots.
 */

static void
s_gauge(_Atomic uint64_t *v, uint64_t *pub, uint64_t now)
{
    /* Unsigned wrap: the slot's level moves by what ours moved. */
    zr__stat_set(v, zr__stat_get(v) + (now - *pub));
    *pub = now;
}

static void
s_publish(zr__mdp_t *self, s_service_t *s)
{
    if (s && s->slot) {
        s_gauge(&s->slot->ready, &s->pub_ready, s->nready);
        s_gauge(&s->slot->busy, &s->pub_busy, s->nbusy);
        s_gauge(&s->slot->waiting, &s->pub_waiting, s->waiting.size);
        zr__stat_set(&s->slot->inflight, zr__stat_get(&s->slot->busy));
    }
    zr__stat_set(&self->st_services, self->nservices);
    zr__stat_set(&self->st_workers, self->nworkers);
    zr__stat_set(&self->st_waiting, self->nwaiting);
}

/* A name fit for a label and a JSON key of its own. */
static bool
s_slot_name(const char *name, size_t len)
{
    if (len == 0 || len > S_SLOT_NAME || name[0] == '_') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
            return false;
        }
    }
    return true;
}

/* The slot of service NAME: its own (kept for the device's life, found
 * again when the service comes back), else the shared one. */
static s_slot_t *
s_slot(zr__mdp_t *self, const char *name, size_t len)
{
    size_t n = atomic_load_explicit(&self->nslots, memory_order_relaxed);
    if (s_slot_name(name, len)) {
        for (size_t i = 0; i < n; i++) {
            if (strlen(self->slots[i].name) == len &&
                memcmp(self->slots[i].name, name, len) == 0) {
                return &self->slots[i];
            }
        }
        if (n < S_SLOTS) {
            s_slot_t *s = &self->slots[n];
            memcpy(s->name, name, len);
            s->name[len] = 0;
            /* A dot would nest the JSON key: '_' in the key, the real
             * name in the label. */
            snprintf(s->path, sizeof s->path, "services.%.*s", (int) len, name);
            for (char *c = s->path + 9; *c; c++) {
                *c = *c == '.' ? '_' : *c;
            }
            for (size_t i = 0; i < n; i++) {
                if (strcmp(self->slots[i].path, s->path) == 0) {
                    /* "a.b" after "a_b" (or the other way round): one
                     * key, so the shared section. */
                    memset(s, 0, sizeof *s);
                    atomic_store_explicit(&self->other_used, true,
                                          memory_order_release);
                    return &self->slots[S_SLOTS];
                }
            }
            snprintf(s->labels, sizeof s->labels, "service=\"%.*s\"", (int) len,
                     name);
            atomic_store_explicit(&self->nslots, n + 1, memory_order_release);
            return s;
        }
    }
    atomic_store_explicit(&self->other_used, true, memory_order_release);
    return &self->slots[S_SLOTS];
}

/* ---------------------------------------------------------------------
 * Services.
 */

static s_service_t *
s_service_find(zr__mdp_t *self, const void *name, size_t len)
{
    uint64_t h = zr__hash(name, len);
    for (s_service_t *s = self->services[h % S_BUCKETS]; s;
         s = s->bucket_next) {
        if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0) {
            return s;
        }
    }
    return NULL;
}

/* NAME's service, made if new; NULL when there are too many or no
 * memory. */
static s_service_t *
s_service_get(zr__mdp_t *self, const void *name, size_t len)
{
    s_service_t *s = s_service_find(self, name, len);
    if (s || len > S_ID_MAX || self->nservices >= S_MAX_SERVICES) {
        return s;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    memcpy(s->name, name, len);
    s->len = len;
    s->hash = zr__hash(name, len);
    s->slot = s_slot(self, s->name, len);
    s_service_t **b = &self->services[s->hash % S_BUCKETS];
    s->bucket_next = *b;
    *b = s;
    s->next = self->service_list;
    if (s->next) {
        s->next->prev = s;
    }
    self->service_list = s;
    self->nservices++;
    ZR_LOG_D("%s: service '%.*s' made", self->name, (int) len, s->name);
    return s;
}

/* S has neither workers nor requests: forgotten. */
static void
s_service_settle_free(zr__mdp_t *self, s_service_t *s)
{
    if (s->nworkers || s->waiting.size) {
        return;
    }
    s_publish(self, s); /* its gauges back to 0 in its slot */
    s_service_t **p = &self->services[s->hash % S_BUCKETS];
    while (*p && *p != s) {
        p = &(*p)->bucket_next;
    }
    if (*p) {
        *p = s->bucket_next;
    }
    if (s->prev) {
        s->prev->next = s->next;
    }
    else {
        self->service_list = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    self->nservices--;
    zr__stat_set(&self->st_services, self->nservices); /* without S now */
    free(s);
}

/* ---------------------------------------------------------------------
 * Messages out.
 */

/* The header of a message to a client: [identity, (hop), (""), MDPC0v,
 * (cmd), service]. */
static int
s_client_header(zr__msg_t *m, const void *id, size_t id_len, const void *hop,
                size_t hop_len, bool delim, int v, int cmd, const void *svc,
                size_t svc_len)
{
    unsigned char c = (unsigned char) cmd;
    if (zr__msg_add(m, id, id_len) != 0 ||
        (hop_len && zr__msg_add(m, hop, hop_len) != 0) || /* [federation] */
        (delim && zr__msg_add(m, "", 0) != 0) ||
        zr__msg_add(m, v == 1 ? S_MDPC01 : S_MDPC02, 6) != 0 ||
        (v == 2 && zr__msg_add(m, &c, 1) != 0) ||
        zr__msg_add(m, svc, svc_len) != 0) {
        return -1;
    }
    return 0;
}

/* R's client gets an error reply: one body frame "ZRELAY-ERROR CODE
 * text" (docs/MAJORDOMO.md); R is freed. */
static void
s_fail(zr__mdp_t *self, s_request_t *r, const s_service_t *s, const char *code,
       const char *text)
{
    zr__msg_t m = {NULL, 0, 0};
    char body[256];
    if (r->titanic) {
        /* titanic: stored; at a restart it goes to a worker again. */
        s_request_free(r);
        return;
    }
    snprintf(body, sizeof body, "ZRELAY-ERROR %s %s", code, text);
    if (s_client_header(&m, r->client, r->client_len, r->hop, r->hop_len,
                        r->client_delim, r->client_v, S_C2_FINAL, s->name,
                        s->len) != 0 ||
        zr__msg_addstr(&m, body) != 0 ||
        zr__engine_inject(self->engine, self->socket, &m) != 0) {
        zr__stat_add(&self->st_dropped, 1);
    }
    zr__msg_destroy(&m);
    s_request_free(r);
}

/* A command to worker identity ID: [id, (""), MDPW0v, cmd]; 0 or -1 with
 * the send's errno. */
static int
s_to_worker(zr__mdp_t *self, const void *id, size_t id_len, bool delim, int v,
            s_wcmd_t cmd, const s_request_t *r)
{
    zr__msg_t m = {NULL, 0, 0};
    unsigned char c = (v == 1 ? s_w1 : s_w2)[cmd];
    int rc = -1, err = ENOMEM;
    /* Room for every frame at once, and R's body copied straight in (it
     * stays with R for a re-dispatch; large frames are shared): one
     * allocation per request instead of four. */
    if (zr__msg_reserve(&m, 6 + (r ? r->body.size : 0)) == 0 &&
        zr__msg_add(&m, id, id_len) == 0 &&
        (!delim || zr__msg_add(&m, "", 0) == 0) &&
        zr__msg_add(&m, v == 1 ? S_MDPW01 : S_MDPW02, 6) == 0 &&
        zr__msg_add(&m, &c, 1) == 0) {
        if (!r ||
            (zr__msg_add(&m, r->client, r->client_len) == 0 &&
             zr__msg_add(&m, "", 0) == 0 && s_append_copy(&m, &r->body) == 0)) {
            rc = zr__engine_send_now(self->engine, self->socket, &m);
            err = errno;
        }
    }
    zr__msg_destroy(&m);
    errno = err;
    return rc;
}

/* ---------------------------------------------------------------------
 * Workers.
 */

static s_worker_t *
s_worker_find(zr__mdp_t *self, const void *id, size_t len)
{
    uint64_t h = zr__hash(id, len);
    for (s_worker_t *w = self->workers[h % S_BUCKETS]; w; w = w->bucket_next) {
        if (w->hash == h && w->id_len == len && memcmp(w->id, id, len) == 0) {
            return w;
        }
    }
    return NULL;
}

/* The one place a worker changes state; the service's counts follow. */
static void
s_set_state(zr__mdp_t *self, s_worker_t *w, s_state_t state)
{
    s_service_t *s = w->service;
    if (w->state == S_IDLE) {
        zr__ready_unlink(&s->ready, &w->ready);
        s->nready--;
    }
    else if (w->state == S_BUSY) {
        s->nbusy--;
        zr__stat_set(&self->st_inflight, zr__stat_get(&self->st_inflight) - 1);
    }
    w->state = state;
    if (state == S_IDLE) {
        /* At the tail: the least recently ready goes first. */
        zr__ready_append(&s->ready, &w->ready);
        s->nready++;
    }
    else if (state == S_BUSY) {
        s->nbusy++;
        zr__stat_add(&self->st_inflight, 1);
    }
}

/* R waits in S's queue (at its FRONT after its worker died): the timer
 * looks at it by request_timeout, whatever the heartbeat. */
static void
s_wait(zr__mdp_t *self, s_service_t *s, s_request_t *r, bool front)
{
    if (front) {
        zr__requests_push_front(&s->waiting, &r->base);
    }
    else {
        zr__requests_push(&s->waiting, &r->base);
    }
    self->nwaiting++;
    if (self->opts.request_timeout > 0 && !r->titanic) {
        zr__engine_set_deadline(self->engine,
                                r->base.since + self->opts.request_timeout);
    }
}

/* R goes back to the front of S's queue after its worker died, or to
 * its error reply once it has had its retries. */
static void
s_requeue(zr__mdp_t *self, s_service_t *s, s_request_t *r)
{
    if (r->base.retries >= self->opts.retries && !r->titanic) {
        zr__stat_add(&self->st_failed, 1);
        zr__stat_add(&s->slot->failed, 1);
        s_fail(self, r, s, "failed",
               "the workers handling it failed; no more retries");
        return;
    }
    /* PARTIALs held from the dead worker (0.1 client) belong to an
     * answer that never finished: the next worker's starts afresh. */
    zr__msg_destroy(&r->held);
    r->base.retries++;
    r->base.since = r->titanic ? S_NEVER : zr__now_ms();
    /* titanic: the next worker starts over; the gone one's PARTIALs held
     * so far are not part of its reply. */
    zr__msg_clear(&r->held);
    zr__stat_add(&self->st_retried, 1);
    zr__stat_add(&s->slot->retried, 1);
    s_wait(self, s, r, true);
}

/* W is gone: forgotten and freed now; what it had in flight goes back to
 * its service's queue. Dispatches nothing (s_settle does). */
static void
s_worker_remove(zr__mdp_t *self, s_worker_t *w, const char *why)
{
    s_service_t *s = w->service;
    ZR_LOG_I("%s: worker of '%s' %s%s", self->name, s->name, why,
             w->inflight ? "; its request goes to another worker" : "");
    s_set_state(self, w, S_FULL); /* off the ready list, not busy */
    s_worker_t **b = &self->workers[w->hash % S_BUCKETS];
    while (*b && *b != w) {
        b = &(*b)->bucket_next;
    }
    if (*b) {
        *b = w->bucket_next;
    }
    if (w->prev) {
        w->prev->next = w->next;
    }
    else {
        self->worker_list = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    self->nworkers--;
    s->nworkers--;
    self->nclosed -= w->closed;
    if (w->inflight) {
        s_requeue(self, s, w->inflight);
    }
    free(w);
    s_publish(self, s);
}

/* Send S's waiting requests to its ready workers, least recently ready
 * first. */
static void
s_dispatch(zr__mdp_t *self, s_service_t *s)
{
    /* Stopping: nothing more to workers. s_flush answers what waits
     * "stopping"; a request sent now (one a peer gave back at s_flush's
     * zr__fed_flush) would be worked on while its client is told
     * "stopping" and may ask again elsewhere: done twice. */
    while (!self->stopping && s->waiting.head && s->ready.head) {
        s_worker_t *w = (s_worker_t *) s->ready.head;
        s_request_t *r = s_pop(&s->waiting);
        self->nwaiting--;
        if (s_to_worker(self, w->id, w->id_len, w->delim, w->version, W_REQUEST,
                        r) == 0) {
            w->inflight = r;
            r->sent_at = zr__now_ms();
            s_set_state(self, w, S_BUSY);
            continue;
        }
        int err = errno;
        /* Not sent: first in line. */
        zr__requests_push_front(&s->waiting, &r->base);
        self->nwaiting++;
        if (err == EHOSTUNREACH) {
            zr__stat_add(&self->st_gone, 1);
            s_worker_remove(self, w, "is gone (a send to it failed)");
        }
        else {
            /* Alive but not reading (or no memory now): nothing more for
             * it until a heartbeat goes through. */
            s_set_state(self, w, S_FULL);
        }
    }
    s_publish(self, s);
}

/* After a change to S: dispatch, then forget it if it is empty. */
static void
s_settle(zr__mdp_t *self, s_service_t *s)
{
    s_dispatch(self, s);
    s_service_settle_free(self, s);
}

/* The socket monitor: connection FD closed; its worker is gone. */
static void
s_disconnected(void *arg, int fd)
{
    zr__mdp_t *self = arg;
    for (s_worker_t *w = self->worker_list; w; w = w->next) {
        if (w->fd == fd) {
            if (w->inflight) {
                /* Its reply may be queued in the socket still: it goes
                 * once the socket was read dry (s_closed_gone). */
                w->closed = true;
                w->closed_at = zr__engine_drained(self->engine, self->socket);
                w->closed_ms = zr__now_ms();
                w->fd = -1; /* FD may be a new connection's soon */
                self->nclosed++;
                zr__engine_set_deadline(self->engine, zr__now_ms());
                return;
            }
            s_service_t *s = w->service;
            zr__stat_add(&self->st_gone, 1);
            s_worker_remove(self, w, "is gone (its connection closed)");
            s_settle(self, s);
            return;
        }
    }
}

/* ---------------------------------------------------------------------
 * MMI (RFC 8), and beyond it mmi.services and mmi.workers.
 */

/* The reply's body for service SVC (mmi.*), asked with BODY (frames from
 * AT of MSG), added to OUT. */
static int
s_mmi(zr__mdp_t *self, const char *svc, size_t len, const zr__msg_t *msg,
      size_t at, zr__msg_t *out)
{
    const void *arg = at < msg->size ? zr__msg_frame_data(msg, at) : NULL;
    size_t arg_len = at < msg->size ? zr__msg_frame_size(msg, at) : 0;
    if (len == 11 && memcmp(svc, "mmi.service", 11) == 0) {
        const s_service_t *s = arg ? s_service_find(self, arg, arg_len) : NULL;
        return zr__msg_addstr(out, s && s->nworkers ? "200" : "404");
    }
    if (len == 12 && memcmp(svc, "mmi.services", 12) == 0) {
        int rc = zr__msg_addstr(out, "200");
        for (s_service_t *s = self->service_list; s && rc == 0; s = s->next) {
            if (s->nworkers) {
                rc = zr__msg_add(out, s->name, s->len);
            }
        }
        return rc;
    }
    if (len == 11 && memcmp(svc, "mmi.workers", 11) == 0) {
        cJSON *o = cJSON_CreateObject();
        for (s_service_t *s = self->service_list; o && s; s = s->next) {
            if (arg && (arg_len != s->len || memcmp(arg, s->name, s->len))) {
                continue;
            }
            cJSON *c = cJSON_AddObjectToObject(o, s->name);
            cJSON_AddNumberToObject(c, "ready", (double) s->nready);
            cJSON_AddNumberToObject(c, "busy", (double) s->nbusy);
            cJSON_AddNumberToObject(
                c, "full", (double) (s->nworkers - s->nready - s->nbusy));
            cJSON_AddNumberToObject(c, "waiting", (double) s->waiting.size);
        }
        char *text = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        int rc = text && zr__msg_addstr(out, "200") == 0 &&
                         zr__msg_addstr(out, text) == 0
                     ? 0
                     : -1;
        free(text);
        return rc;
    }
    return zr__msg_addstr(out, "501");
}

/* ---------------------------------------------------------------------
 * Messages in.
 */

static void s_fed_spill(zr__mdp_t *self, s_service_t *s);

/* titanic: the service a titanic.request names (frame AT of MSG) made
 * now, before the request is stored, so that the commit's dispatch finds
 * it (the timer commits before it forgets empty services): false when
 * there is no room for it. Names titanic.c refuses are not made. */
static bool
s_titanic_room(zr__mdp_t *self, const zr__msg_t *msg, size_t at)
{
    const char *name = zr__msg_frame_data(msg, at);
    size_t len = zr__msg_frame_size(msg, at);
    if (len == 0 || len > S_ID_MAX || (len >= 4 && !memcmp(name, "mmi.", 4)) ||
        (len >= 8 && !memcmp(name, "titanic.", 8))) {
        return true;
    }
    return s_service_get(self, name, len) != NULL;
}

/* A request from a client of version V; the service frame is at AT; HOP:
 * a peer broker's, or NULL. */
static zr__verdict_t
s_from_client(zr__mdp_t *self, zr__msg_t *msg, int v, bool delim, size_t at,
              const zmq_msg_t *hop)
{
    if (v == 2) {
        if (at >= msg->size || zr__msg_frame_size(msg, at) != 1 ||
            *(const unsigned char *) zr__msg_frame_data(msg, at) !=
                S_C2_REQUEST) {
            zr__stat_add(&self->st_bad_command, 1);
            return ZR__DROP;
        }
        at++;
    }
    size_t len = at < msg->size ? zr__msg_frame_size(msg, at) : 0;
    if (len == 0 || len > S_ID_MAX || zr__msg_frame_size(msg, 0) > S_ID_MAX) {
        zr__stat_add(&self->st_bad_frames, 1);
        return ZR__DROP;
    }
    const char *name = zr__msg_frame_data(msg, at);
    bool mmi = len >= 4 && memcmp(name, "mmi.", 4) == 0; /* as READY */
    if (!mmi && at + 1 >= msg->size) {
        /* No body: malformed, not a request (counted as one, it would
         * have no outcome). */
        zr__stat_add(&self->st_bad_frames, 1);
        return ZR__DROP;
    }
    zr__stat_add(&self->st_requests, 1);
    if (mmi) {
        zr__msg_t out = {NULL, 0, 0};
        if (s_client_header(&out, zr__msg_frame_data(msg, 0),
                            zr__msg_frame_size(msg, 0),
                            hop ? zmq_msg_data((zmq_msg_t *) hop) : NULL,
                            hop ? zmq_msg_size((zmq_msg_t *) hop) : 0, delim, v,
                            S_C2_FINAL, name, len) != 0 ||
            s_mmi(self, name, len, msg, at + 1, &out) != 0) {
            zr__msg_destroy(&out);
            zr__stat_add(&self->st_dropped, 1);
            return ZR__DROP;
        }
        zr__stat_add(&self->st_mmi, 1);
        zr__msg_move(msg, &out);
        return ZR__SEND;
    }
    if (self->titanic && len > 8 && memcmp(name, "titanic.", 8) == 0) {
        /* titanic: answered by titanic.c, at once or after a commit. */
        zr__msg_t out = {NULL, 0, 0};
        if (s_client_header(&out, zr__msg_frame_data(msg, 0),
                            zr__msg_frame_size(msg, 0),
                            hop ? zmq_msg_data((zmq_msg_t *) hop) : NULL,
                            hop ? zmq_msg_size((zmq_msg_t *) hop) : 0, delim, v,
                            S_C2_FINAL, name, len) != 0) {
            zr__msg_destroy(&out);
            zr__stat_add(&self->st_dropped, 1);
            return ZR__DROP;
        }
        if (len == 15 && memcmp(name, "titanic.request", 15) == 0 &&
            at + 2 < msg->size && !s_titanic_room(self, msg, at + 1)) {
            /* titanic: no room for its service: it could not be queued,
             * so it is not stored (an acknowledged one would wait for
             * ever without a worker ever seeing it). */
            zr__stat_add(&self->st_rejected, 1);
            if (zr__msg_addstr(&out, "500") != 0 ||
                zr__msg_addstr(&out, "ZRELAY-ERROR busy too many services") !=
                    0) {
                zr__msg_destroy(&out);
                return ZR__DROP;
            }
            zr__msg_move(msg, &out);
            return ZR__SEND;
        }
        zr__titanic_client(self->titanic, &out, name, len, msg, at + 1);
        zr__msg_destroy(&out);
        zr__stat_add(&self->st_titanic, 1);
        return ZR__DROP;
    }
    s_request_t *r = calloc(1, sizeof *r);
    if (!r) {
        zr__stat_add(&self->st_dropped, 1);
        return ZR__DROP;
    }
    r->client_len = zr__msg_frame_size(msg, 0);
    memcpy(r->client, zr__msg_frame_data(msg, 0), r->client_len);
    r->client_v = v;
    r->client_delim = delim;
    if (hop) { /* [federation] */
        r->hop_len = zmq_msg_size((zmq_msg_t *) hop);
        memcpy(r->hop, zmq_msg_data((zmq_msg_t *) hop), r->hop_len);
    }
    r->base.since = zr__now_ms();
    s_service_t *s = s_service_get(self, name, len);
    if (!s) {
        zr__stat_add(&self->st_rejected, 1);
        s_service_t tmp = {.len = len};
        memcpy(tmp.name, name, len);
        s_fail(self, r, &tmp, "busy", "too many services");
        return ZR__DROP;
    }
    if (zr__msg_take(&r->body, msg, at + 1) != 0) {
        zr__stat_add(&self->st_dropped, 1);
        s_request_free(r);
        s_service_settle_free(self, s);
        return ZR__DROP;
    }
    if (!s->ready.head && self->opts.max_waiting &&
        s->waiting.size >= self->opts.max_waiting) {
        zr__stat_add(&self->st_rejected, 1);
        zr__stat_add(&s->slot->rejected, 1);
        s_fail(self, r, s, "busy", "too many requests waiting for the service");
        s_service_settle_free(self, s);
        return ZR__DROP;
    }
    s_wait(self, s, r, false);
    s_settle(self, s);
    s_fed_spill(self, s); /* [federation] no ready worker: to a peer */
    s_service_settle_free(self, s);
    return ZR__DROP; /* its frames were taken; the rest are empty */
}

/* W's request in flight had its final reply: counted (with its service
 * time) and freed; W is ready again, or gone if its connection closed
 * after the reply (s_disconnected). */
static void
s_answered(zr__mdp_t *self, s_worker_t *w)
{
    s_request_t *r = w->inflight;
    s_service_t *s = w->service;
    int64_t took = zr__now_ms() - r->sent_at;
    w->inflight = NULL;
    s_request_free(r);
    zr__stat_add(&self->st_answered, 1);
    zr__stat_add(&s->slot->served, 1);
    if (took > 0) {
        zr__stat_add(&s->slot->time_ms, (uint64_t) took);
        if ((uint64_t) took > atomic_load(&s->slot->time_max_ms)) {
            atomic_store(&s->slot->time_max_ms, (uint64_t) took);
        }
    }
    if (w->closed) {
        zr__stat_add(&self->st_gone, 1);
        s_worker_remove(self, w, "is gone (its connection closed)");
    }
    else {
        s_set_state(self, w, S_IDLE);
    }
    s_settle(self, s);
}

/* A reply (PARTIAL or FINAL) from W for its request in flight: MSG
 * becomes the client's message, or is held (a PARTIAL for a 0.1 client). */
static zr__verdict_t
s_on_reply(zr__mdp_t *self, s_worker_t *w, zr__msg_t *msg, size_t at,
           bool final)
{
    s_request_t *r = w->inflight;
    s_service_t *s = w->service;
    zr__msg_t out = {NULL, 0, 0};
    if (r->titanic) {
        /* titanic: the PARTIALs and the FINAL, stored as one reply. */
        if (zr__msg_take(&r->held, msg, at) != 0) {
            zr__stat_add(&self->st_dropped, 1);
        }
        if (!final) {
            zr__stat_add(&self->st_partials, 1);
            return ZR__DROP;
        }
        zr__titanic_reply(self->titanic, (const char *) r->client, &r->held);
        s_answered(self, w);
        return ZR__DROP;
    }
    if (!final && r->client_v == 1) {
        if (zr__msg_take(&r->held, msg, at) != 0) {
            zr__stat_add(&self->st_dropped, 1);
        }
        zr__stat_add(&self->st_partials, 1);
        return ZR__DROP;
    }
    if (s_client_header(&out, r->client, r->client_len, r->hop, r->hop_len,
                        r->client_delim, r->client_v,
                        final ? S_C2_FINAL : S_C2_PARTIAL, s->name,
                        s->len) != 0 ||
        zr__msg_take(&out, &r->held, 0) != 0 ||
        zr__msg_take(&out, msg, at) != 0) {
        zr__msg_destroy(&out);
        zr__stat_add(&self->st_dropped, 1);
        return ZR__DROP;
    }
    zr__msg_move(msg, &out);
    if (!final) {
        zr__stat_add(&self->st_partials, 1);
        return ZR__SEND;
    }
    s_answered(self, w);
    return ZR__SEND;
}

/* Tell identity ID (a worker of version V) DISCONNECT: it is not, or no
 * longer, known here. */
static void
s_disconnect(zr__mdp_t *self, const void *id, size_t len, bool delim, int v)
{
    if (s_to_worker(self, id, len, delim, v, W_DISCONNECT, NULL) != 0) {
        ZR_LOG_D("%s: DISCONNECT not sent: %s", self->name,
                 zmq_strerror(errno));
    }
}

/* A command from a worker of version V; the command frame is at AT. */
static zr__verdict_t
s_from_worker(zr__mdp_t *self, zr__msg_t *msg, int v, bool delim, size_t at)
{
    if (at >= msg->size || zr__msg_frame_size(msg, at) != 1 ||
        zr__msg_frame_size(msg, 0) > S_ID_MAX) {
        zr__stat_add(&self->st_bad_frames, 1);
        return ZR__DROP;
    }
    s_wcmd_t cmd =
        s_wcmd(v, *(const unsigned char *) zr__msg_frame_data(msg, at));
    const void *id = zr__msg_frame_data(msg, 0);
    size_t id_len = zr__msg_frame_size(msg, 0);
    s_worker_t *w = s_worker_find(self, id, id_len);
    int fd = zmq_msg_get(&msg->frames[1], ZMQ_SRCFD);
    if (fd >= 0 && (!w || w->fd != fd) && self->monitor) {
        /* A connection new here: first what closed before it (its fd may
         * have been a gone worker's). */
        zr__monitor_drain(self->monitor);
        w = s_worker_find(self, id, id_len);
    }
    int64_t expiry =
        zr__now_ms() + (int64_t) self->opts.heartbeat * self->opts.liveness;
    if (w) {
        w->expiry = expiry; /* any command is a heartbeat */
    }
    switch (cmd) {
    case W_READY: {
        size_t len = at + 1 < msg->size ? zr__msg_frame_size(msg, at + 1) : 0;
        if (len == 0 || len > S_ID_MAX) {
            zr__stat_add(&self->st_bad_frames, 1);
            return ZR__DROP;
        }
        const char *name = zr__msg_frame_data(msg, at + 1);
        s_service_t *s = NULL;
        if (w || (len >= 4 && memcmp(name, "mmi.", 4) == 0) ||
            (self->titanic && len >= 8 && memcmp(name, "titanic.", 8) == 0) ||
            !(s = s_service_get(self, name, len))) {
            /* A second READY, a reserved name, or no room: RFC 7 says
             * DISCONNECT. */
            zr__stat_add(&self->st_unexpected, 1);
            s_disconnect(self, id, id_len, delim, v);
            if (w) {
                s_service_t *ws = w->service;
                s_worker_remove(self, w, "sent READY twice: disconnected");
                s_settle(self, ws);
            }
            return ZR__DROP;
        }
        w = calloc(1, sizeof *w);
        if (!w) {
            zr__stat_add(&self->st_dropped, 1);
            s_service_settle_free(self, s);
            return ZR__DROP;
        }
        memcpy(w->id, id, id_len);
        w->id_len = id_len;
        w->hash = zr__hash(id, id_len);
        w->service = s;
        w->version = v;
        w->delim = delim;
        w->fd = fd;
        w->expiry = expiry;
        w->state = S_FULL; /* s_set_state: from nothing */
        s_worker_t **b = &self->workers[w->hash % S_BUCKETS];
        w->bucket_next = *b;
        *b = w;
        w->next = self->worker_list;
        if (w->next) {
            w->next->prev = w;
        }
        self->worker_list = w;
        self->nworkers++;
        s->nworkers++;
        ZR_LOG_I("%s: a worker of '%s' (MDP/0.%d) is ready", self->name,
                 s->name, v);
        s_set_state(self, w, S_IDLE);
        s_settle(self, s);
        return ZR__DROP;
    }
    case W_HEARTBEAT:
        if (!w) {
            /* Expired here, or never READY: it must start again. */
            zr__stat_add(&self->st_unexpected, 1);
            s_disconnect(self, id, id_len, delim, v);
        }
        return ZR__DROP;
    case W_DISCONNECT:
        if (w) {
            s_service_t *s = w->service;
            zr__stat_add(&self->st_disconnected, 1);
            s_worker_remove(self, w, "said DISCONNECT");
            s_settle(self, s);
        }
        return ZR__DROP;
    case W_PARTIAL:
    case W_FINAL:
        if (at + 2 >= msg->size || zr__msg_frame_size(msg, at + 2) != 0) {
            zr__stat_add(&self->st_bad_frames, 1);
            return ZR__DROP;
        }
        if (w && w->inflight &&
            zr__msg_frame_size(msg, at + 1) == w->inflight->client_len &&
            memcmp(zr__msg_frame_data(msg, at + 1), w->inflight->client,
                   w->inflight->client_len) == 0) {
            return s_on_reply(self, w, msg, at + 3, cmd == W_FINAL);
        }
        /* From a worker given up on (its request went to another), or
         * never asked: dropped, and the worker told to start again. */
        zr__stat_add(&self->st_late, 1);
        s_disconnect(self, id, id_len, delim, v);
        if (w) {
            s_service_t *s = w->service;
            s_worker_remove(self, w, "replied unasked: disconnected");
            s_settle(self, s);
        }
        return ZR__DROP;
    default: zr__stat_add(&self->st_bad_command, 1); return ZR__DROP;
    }
}

static void s_fed_expired(zr__mdp_t *self, int64_t now);

static zr__verdict_t
s_message(void *arg, int dir, zr__msg_t *msg)
{
    zr__mdp_t *self = arg;
    (void) dir;
    /* [identity, (""), protocol, ...] */
    size_t at = msg->size >= 2 && zr__msg_frame_size(msg, 1) == 0 ? 2 : 1;
    /* [federation] [identity, hop, "", MDPC0v, ...]: a request a peer
     * broker forwarded (fed.c); the hop frame is part of its address. */
    const zmq_msg_t *hop = NULL;
    if (msg->size >= 4 && zr__msg_frame_size(msg, 2) == 0 &&
        zr__fed_is_hop(&msg->frames[1])) {
        hop = &msg->frames[1];
        at = 3;
    }
    if (at >= msg->size || zr__msg_frame_size(msg, at) != 6) {
        zr__stat_add(&self->st_bad_frames, 1);
        return ZR__DROP;
    }
    const zmq_msg_t *p = &msg->frames[at];
    bool delim = at >= 2;
    if (s_is(p, S_MDPC01, 6) || s_is(p, S_MDPC02, 6)) {
        /* [ha] issue 17: a node that does not serve drops what clients
         * ask, counted as ha.refused; they retry on the other node. */
        if (self->ha && !zr__ha_client_request(self->ha)) {
            return ZR__DROP;
        }
        return s_from_client(self, msg, s_is(p, S_MDPC01, 6) ? 1 : 2, delim,
                             at + 1, hop);
    }
    if (!hop && (s_is(p, S_MDPW01, 6) || s_is(p, S_MDPW02, 6))) {
        return s_from_worker(self, msg, s_is(p, S_MDPW01, 6) ? 1 : 2, delim,
                             at + 1);
    }
    zr__stat_add(&self->st_bad_protocol, 1);
    return ZR__DROP;
}

/* ---------------------------------------------------------------------
 * Time: heartbeats, silence, waiting requests.
 */

/* Requests of S that waited past request_timeout get their error reply. */
static void
s_expire_waiting(zr__mdp_t *self, s_service_t *s, int64_t now)
{
    int64_t limit = self->opts.request_timeout;
    zr__requests_t expired = {NULL, NULL, 0};
    zr__requests_expire(&s->waiting, now, limit, &expired);
    s_request_t *r;
    while ((r = s_pop(&expired))) {
        self->nwaiting--;
        zr__stat_add(&self->st_timeouts, 1);
        zr__stat_add(&s->slot->timeouts, 1);
        char text[96];
        snprintf(text, sizeof text, "no worker took it within %lld ms",
                 (long long) limit);
        s_fail(self, r, s, "timeout", text);
    }
}

/* Workers whose connection closed while they had a request
 * (s_disconnected) are gone once the socket was read dry since: a reply
 * they sent before the close would have come by then. A flood may keep
 * the socket from ever running dry: a heartbeat after the close they go
 * anyway (a reply read later is late). Whether some wait still. */
static bool
s_closed_gone(zr__mdp_t *self, int64_t now)
{
    if (!self->nclosed) {
        return false;
    }
    uint64_t drained = zr__engine_drained(self->engine, self->socket);
    for (s_worker_t *w = self->worker_list, *next; w; w = next) {
        next = w->next; /* nothing but W is removed here */
        if (w->closed && (drained > w->closed_at ||
                          now - w->closed_ms >= self->opts.heartbeat)) {
            /* Its service is settled by the timer, after. */
            zr__stat_add(&self->st_gone, 1);
            s_worker_remove(self, w, "is gone (its connection closed)");
        }
    }
    return self->nclosed > 0;
}

static int64_t
s_timer(void *arg, int64_t now)
{
    zr__mdp_t *self = arg;
    zr__titanic_commit(self->titanic); /* titanic: the group's commit */
    bool closing = s_closed_gone(self, now);
    bool beat = now >= self->next_beat;
    if (beat) {
        self->next_beat = now + self->opts.heartbeat;
        zr__fed_tick(self->fed, now); /* [federation] state, liveness */
        for (s_worker_t *w = self->worker_list, *next; w; w = next) {
            next = w->next; /* nothing but W is removed here */
            const char *why = NULL;
            if (w->closed) {
                continue; /* gone soon (s_closed_gone) */
            }
            if (s_to_worker(self, w->id, w->id_len, w->delim, w->version,
                            W_HEARTBEAT, NULL) == 0) {
                if (w->state == S_FULL) {
                    s_set_state(self, w, S_IDLE); /* room again */
                }
            }
            else if (errno == EHOSTUNREACH) {
                zr__stat_add(&self->st_gone, 1);
                why = "is gone (its connection closed)";
            }
            else if (w->state == S_IDLE) {
                s_set_state(self, w, S_FULL);
            }
            if (!why && w->state != S_BUSY && now >= w->expiry) {
                zr__stat_add(&self->st_expired, 1);
                why = "expired (no heartbeat)";
            }
            if (!why && w->inflight && self->opts.busy_timeout > 0 &&
                now - w->inflight->sent_at >= self->opts.busy_timeout) {
                /* Stuck, or slower than the operator allows: its request
                 * goes to another worker; it is told to start again, and
                 * a reply it sends yet is dropped as late. */
                zr__stat_add(&self->st_given_up, 1);
                s_disconnect(self, w->id, w->id_len, w->delim, w->version);
                why = "given up (busy past busy_timeout)";
            }
            if (why) {
                s_worker_remove(self, w, why);
            }
        }
    }
    s_fed_expired(self, now);
    for (s_service_t *s = self->service_list, *next; s; s = next) {
        next = s->next;
        s_expire_waiting(self, s, now);
        s_settle(self, s); /* may free S */
    }
    if (closing) {
        return now; /* again after the next read of the socket */
    }
    return zr__requests_next_check(now, self->opts.request_timeout,
                                   self->next_beat);
}

/* At stop: every request not yet answered gets an error reply. */
static void
s_flush(void *arg)
{
    zr__mdp_t *self = arg;
    self->stopping = true;    /* what comes back is answered "stopping" */
    zr__fed_flush(self->fed); /* [federation] forwarded ones come back */
    zr__titanic_commit(self->titanic); /* titanic: acknowledge the staged */
    for (s_service_t *s = self->service_list; s; s = s->next) {
        s_request_t *r;
        while ((r = s_pop(&s->waiting))) {
            self->nwaiting--;
            /* titanic: a stored one is not answered; it stays stored. */
            zr__stat_add(&self->st_stopped, !r->titanic);
            s_fail(self, r, s, "stopping", "the broker is stopping");
        }
        s_publish(self, s);
    }
    for (s_worker_t *w = self->worker_list; w; w = w->next) {
        if (w->inflight) {
            zr__stat_add(&self->st_stopped, !w->inflight->titanic);
            s_fail(self, w->inflight, w->service, "stopping",
                   "the broker is stopping");
            w->inflight = NULL;
            s_set_state(self, w, S_FULL); /* not busy: not in flight */
            s_publish(self, w->service);
        }
    }
}

/* ---------------------------------------------------------------------
 * Life.
 */

zr__mdp_t *
zr__mdp_new(zr__engine_t *engine, const char *name, void *socket,
            const zr__broker_opts_t *opts)
{
    zr__mdp_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->socket = socket;
    snprintf(self->name, sizeof self->name, "%s", name);
    self->opts = *opts;
    if (self->opts.heartbeat <= 0) {
        self->opts.heartbeat = 2500;
    }
    if (self->opts.liveness <= 0) {
        self->opts.liveness = 3;
    }
    s_slot_t *other = &self->slots[S_SLOTS];
    snprintf(other->path, sizeof other->path, "services._other");
    snprintf(other->labels, sizeof other->labels, "service=\"_other\"");
    self->next_beat = zr__now_ms() + self->opts.heartbeat;
    zr__handler_t handler = {s_message, s_timer, s_flush, self,
                             1u << ZR__DOWNSTREAM};
    zr__engine_set_handler(engine, &handler);
    zr__engine_set_deadline(engine, self->next_beat);
    return self;
}

/* [ha] issue 17. */
void
zr__mdp_set_ha(zr__mdp_t *self, zr__ha_t *ha)
{
    self->ha = ha;
}

void
zr__mdp_watch(zr__mdp_t *self, zr__monitor_t *monitor)
{
    self->monitor = monitor;
    zr__monitor_on_disconnect(monitor, s_disconnected, self);
}

void
zr__mdp_destroy(zr__mdp_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__mdp_t *self = *self_p;
    while (self->worker_list) {
        s_worker_t *w = self->worker_list;
        self->worker_list = w->next;
        s_request_free(w->inflight);
        free(w);
    }
    while (self->service_list) {
        s_service_t *s = self->service_list;
        self->service_list = s->next;
        s_request_t *r;
        while ((r = s_pop(&s->waiting))) {
            s_request_free(r);
        }
        free(s);
    }
    zr__titanic_destroy(&self->titanic);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------
 * titanic: stored requests go through the broker as clients' do, their
 * "client" the UUID; they neither expire nor run out of retries.
 */

static void
s_titanic_dispatch(void *arg, const char *uuid, const void *svc, size_t len,
                   zr__msg_t *frames, size_t at)
{
    zr__mdp_t *self = arg;
    s_request_t *r = calloc(1, sizeof *r);
    s_service_t *s = r ? s_service_get(self, svc, len) : NULL;
    zr__stat_add(&self->st_requests, 1); /* its outcome: below */
    if (!s || zr__msg_take(&r->body, frames, at) != 0) {
        /* Stays stored: a restart sends it again. */
        zr__stat_add(&self->st_dropped, 1);
        s_request_free(r);
        if (s) {
            s_service_settle_free(self, s);
        }
        return;
    }
    r->titanic = true;
    memcpy(r->client, uuid, 32);
    r->client_len = 32;
    r->base.since = S_NEVER;
    s_wait(self, s, r, false);
    s_settle(self, s);
}

zr__titanic_t *
zr__mdp_titanic(zr__mdp_t *self)
{
    return self->titanic; /* [ha_sync] */
}

int
zr__mdp_set_titanic(zr__mdp_t *self, zr__titanic_t *titanic)
{
    self->titanic = titanic;
    return zr__titanic_start(titanic, s_titanic_dispatch, self);
}

/* ---------------------------------------------------------------------
 * The majordomo's rows of the stats table: its own, and a section per
 * service (the first S_SLOTS fit names; the others share "_other").
 */

#define S_AT(field) offsetof(zr__mdp_t, field)
#define S_ROW(k, m, l, kd, field, text)                                        \
    {                                                                          \
        .key = k, .metric = m, .labels = l, .kind = kd, .help = text,          \
        .offset = S_AT(field)                                                  \
    }
#define S_REQ(k, field, text)                                                  \
    S_ROW("requests." k, "mdp_requests_total", "outcome=\"" k "\"",            \
          ZR__STAT_COUNTER, field, text)
#define S_BAD(k, field, text)                                                  \
    S_ROW("malformed." k, "mdp_malformed_total", "reason=\"" k "\"",           \
          ZR__STAT_COUNTER, field, text)
static const zr__stat_t s_rows[] = {
    S_ROW("services", "mdp_services", NULL, ZR__STAT_GAUGE, st_services,
          "Services known now (with workers or requests)."),
    S_ROW("workers.known", "mdp_workers", NULL, ZR__STAT_GAUGE, st_workers,
          "Workers known now, of every service."),
    S_ROW("workers.expired", "mdp_workers_expired_total", NULL,
          ZR__STAT_COUNTER, st_expired,
          "Idle workers given up: silent for liveness heartbeats."),
    S_ROW("workers.given_up", "mdp_workers_given_up_total", NULL,
          ZR__STAT_COUNTER, st_given_up,
          "Busy workers given up: one request held past busy_timeout "
          "(told DISCONNECT; the request goes to another worker)."),
    S_ROW("workers.gone", "mdp_workers_gone_total", NULL, ZR__STAT_COUNTER,
          st_gone,
          "Workers whose connection closed (the socket monitor, or "
          "a send to them failed)."),
    S_ROW("workers.disconnected", "mdp_workers_disconnected_total", NULL,
          ZR__STAT_COUNTER, st_disconnected, "Workers that said DISCONNECT."),
    S_ROW("workers.unexpected", "mdp_workers_unexpected_total", NULL,
          ZR__STAT_COUNTER, st_unexpected,
          "Valid but unexpected worker commands (a second READY, a READY "
          "for mmi.*, a HEARTBEAT from an unknown worker): answered with "
          "DISCONNECT."),
    S_ROW("requests.waiting", "mdp_requests_waiting", NULL, ZR__STAT_GAUGE,
          st_waiting, "Requests waiting for a worker, of every service."),
    S_ROW("requests.in_flight", "mdp_requests_in_flight", NULL, ZR__STAT_GAUGE,
          st_inflight, "Requests a worker is working on."),
    S_REQ("received", st_requests, "Requests from clients, mmi.* included."),
    S_REQ("answered", st_answered, "Requests whose final reply went back."),
    S_REQ("mmi", st_mmi, "Requests the broker answered itself (mmi.*)."),
    S_REQ("titanic", st_titanic,
          "Requests titanic answered (titanic.request, reply, close), "
          "at once or after their commit."),
    S_REQ("retried", st_retried,
          "Requests sent again after their worker died, or their peer "
          "broker gave them back or kept them past busy_timeout."),
    S_REQ("failed", st_failed,
          "Requests answered with an error after their retries."),
    S_REQ("timeouts", st_timeouts,
          "Requests answered with an error after request_timeout."),
    S_REQ("rejected", st_rejected,
          "Requests answered with an error: max_waiting reached, or too many "
          "services."),
    S_REQ("stopped", st_stopped,
          "Requests answered with an error: the broker stopped first."),
    S_REQ("late_replies", st_late,
          "Replies dropped: from a worker given up on, or not asked."),
    S_REQ("dropped", st_dropped,
          "Requests or replies dropped for want of memory."),
    S_ROW("partials", "mdp_partials_total", NULL, ZR__STAT_COUNTER, st_partials,
          "MDP/0.2 PARTIAL replies from workers."),
    S_BAD("frames", st_bad_frames,
          "Messages dropped: frames missing or of the wrong size."),
    S_BAD("protocol", st_bad_protocol,
          "Messages dropped: no MDPC01, MDPC02, MDPW01 or MDPW02 header."),
    S_BAD("command", st_bad_command,
          "Messages dropped: a command the protocol does not have there."),
};
#undef S_BAD
#undef S_REQ
#undef S_ROW
#undef S_AT

#define S_AT(field) offsetof(s_slot_t, field)
#define S_SVC(k, m, l, kd, field, text)                                        \
    {                                                                          \
        .key = k, .metric = m, .labels = l, .kind = kd, .help = text,          \
        .offset = S_AT(field)                                                  \
    }
#define S_OUT(k, field, text)                                                  \
    S_SVC("requests." k, "mdp_service_requests_total", "outcome=\"" k "\"",    \
          ZR__STAT_COUNTER, field, text)
/* Kept in ms, shown in seconds (Prometheus' base unit). */
static double
s_time_total(const void *base)
{
    return base ? (double) atomic_load(&((const s_slot_t *) base)->time_ms) /
                      1000.0
                : 0.0;
}

static double
s_time_max(const void *base)
{
    return base
               ? (double) atomic_load(&((const s_slot_t *) base)->time_max_ms) /
                     1000.0
               : 0.0;
}

static const zr__stat_t s_service_rows[] = {
    S_SVC("workers.ready", "mdp_service_workers", "state=\"ready\"",
          ZR__STAT_GAUGE, ready,
          "The service's workers waiting for a request."),
    S_SVC("workers.busy", "mdp_service_workers", "state=\"busy\"",
          ZR__STAT_GAUGE, busy, "The service's workers with a request."),
    S_SVC("requests.waiting", "mdp_service_requests_waiting", NULL,
          ZR__STAT_GAUGE, waiting,
          "The service's requests waiting for a worker."),
    S_SVC("requests.in_flight", "mdp_service_requests_in_flight", NULL,
          ZR__STAT_GAUGE, inflight,
          "The service's requests a worker is working on."),
    S_OUT("served", served,
          "The service's requests answered by a local worker (through a "
          "peer broker: federation.requests.answered)."),
    S_OUT("retried", retried,
          "The service's requests sent again after their worker died, or "
          "their peer broker gave them back or kept them past "
          "busy_timeout."),
    S_OUT("failed", failed,
          "The service's requests answered with an error after their "
          "retries."),
    S_OUT("timeouts", timeouts,
          "The service's requests answered with an error after "
          "request_timeout."),
    S_OUT("rejected", rejected,
          "The service's requests answered with an error: max_waiting."),
    {.key = "service_time.total_seconds",
     .metric = "mdp_service_time_seconds_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Seconds the service's workers took, from a request's send to "
             "its final reply, summed over requests.served (their ratio is "
             "the mean service time).",
     .get = s_time_total},
    {.key = "service_time.max_seconds",
     .metric = "mdp_service_time_max_seconds",
     .kind = ZR__STAT_GAUGE,
     .help = "The longest one request of the service took its worker.",
     .get = s_time_max},
};
#undef S_OUT
#undef S_SVC
#undef S_AT

size_t
zr__mdp_sections(const zr__mdp_t *self, zr__stat_section_t *out, size_t max)
{
    size_t k = 0;
    if (k < max) {
        out[k++] = (zr__stat_section_t){"majordomo", NULL,
                                        ZR__STAT_ROWS(s_rows), self};
    }
    if (!self) {
        return k;
    }
    if (self->titanic && k < max) {
        out[k++] = zr__titanic_section(self->titanic); /* titanic */
    }
    if (k < max && zr__titanic_sync_section(self->titanic, &out[k])) {
        k++; /* [ha_sync] */
    }
    zr__mdp_t *m = (zr__mdp_t *) self;
    size_t n = atomic_load_explicit(&m->nslots, memory_order_acquire);
    for (size_t i = 0; i < n && k < max; i++) {
        out[k++] = (zr__stat_section_t){
            self->slots[i].path, self->slots[i].labels,
            ZR__STAT_ROWS(s_service_rows), &self->slots[i]};
    }
    if (atomic_load_explicit(&m->other_used, memory_order_acquire) && k < max) {
        out[k++] = (zr__stat_section_t){
            self->slots[S_SLOTS].path, self->slots[S_SLOTS].labels,
            ZR__STAT_ROWS(s_service_rows), &self->slots[S_SLOTS]};
    }
    return k;
}

/* ---------------------------------------------------------------------
 * [federation] What fed.c asks of the majordomo (docs/SCALING.md).
 */

void
zr__mdp_set_fed(zr__mdp_t *self, zr__fed_t *fed)
{
    self->fed = fed;
}

/* The service SVC of R, a request back from a peer; NULL when it cannot
 * be made again (too many services): R got its error reply. */
static s_service_t *
s_fed_service(zr__mdp_t *self, s_request_t *r, const char *svc, size_t len)
{
    s_service_t *s = s_service_get(self, svc, len);
    if (!s) {
        zr__stat_add(&self->st_rejected, 1);
        s_service_t tmp = {.len = len};
        memcpy(tmp.name, svc, len);
        s_fail(self, r, &tmp, "busy", "too many services");
    }
    return s;
}

/* Requests at a peer past busy_timeout, unanswered (a peer that takes
 * requests and never replies): given up as a worker busy too long is,
 * back to their service's queue for another try (another worker, or
 * peer), or their error reply after `retries`. */
static void
s_fed_expired(zr__mdp_t *self, int64_t now)
{
    char svc[256];
    size_t len = 0;
    s_request_t *r;
    while (self->opts.busy_timeout > 0 &&
           (r = zr__fed_expired(self->fed, now, self->opts.busy_timeout, svc,
                                &len))) {
        s_service_t *s = s_fed_service(self, r, svc, len);
        if (!s) {
            continue;
        }
        s_requeue(self, s, r); /* may answer it: S may be empty now */
        s_dispatch(self, s);
        s_fed_spill(self, s);
        s_service_settle_free(self, s);
    }
}

/* S has no ready worker: its waiting requests (not a peer's: one hop at
 * most; not Titanic's: their replies are stored here) go to peers while
 * one takes them, in order. */
static void
s_fed_spill(zr__mdp_t *self, s_service_t *s)
{
    if (!self->fed || s->ready.head || !s->waiting.head) {
        return;
    }
    zr__requests_t keep = {NULL, NULL, 0};
    s_request_t *r;
    while ((r = s_pop(&s->waiting))) {
        bool local = r->hop_len || r->titanic;
        if (local ||
            !zr__fed_forward(self->fed, r, s->name, s->len, &r->body)) {
            zr__requests_push(&keep, &r->base);
            if (!local) {
                break; /* no peer takes it: none takes the next either */
            }
            continue;
        }
        self->nwaiting--;
    }
    zr__requests_append(&keep, &s->waiting);
    s->waiting = keep;
    s_publish(self, s);
}

static void
s_fed_ready(void *owner, void (*fn)(void *, const char *, size_t, size_t),
            void *arg)
{
    zr__mdp_t *self = owner;
    for (s_service_t *s = self->service_list; s; s = s->next) {
        if (s->nworkers) { /* busy ones too: 0 ready is news as well */
            fn(arg, s->name, s->len, s->nready);
        }
    }
}

static void
s_fed_answer(void *owner, void *req, const char *svc, size_t len,
             zr__msg_t *msg, size_t at)
{
    zr__mdp_t *self = owner;
    s_request_t *r = req;
    zr__msg_t out = {NULL, 0, 0};
    if (s_client_header(&out, r->client, r->client_len, r->hop, r->hop_len,
                        r->client_delim, r->client_v, S_C2_FINAL, svc,
                        len) != 0 ||
        zr__msg_take(&out, msg, at) != 0 ||
        zr__engine_inject(self->engine, self->socket, &out) != 0) {
        zr__stat_add(&self->st_dropped, 1);
    }
    else {
        zr__stat_add(&self->st_answered, 1);
    }
    zr__msg_destroy(&out);
    s_request_free(r);
}

static void
s_fed_giveback(void *owner, void *req, const char *svc, size_t len)
{
    zr__mdp_t *self = owner;
    s_request_t *r = req;
    s_service_t *s = s_fed_service(self, r, svc, len);
    if (!s) {
        return;
    }
    /* A retry, as when a worker dies with it (a peer that keeps closing
     * its connection on it must not bounce it for ever), but its
     * request_timeout still counts from when it came. */
    if (!self->stopping && r->base.retries >= self->opts.retries) {
        zr__stat_add(&self->st_failed, 1);
        zr__stat_add(&s->slot->failed, 1);
        s_fail(self, r, s, "failed",
               "the brokers handling it failed; no more retries");
        s_service_settle_free(self, s);
        return;
    }
    if (!self->stopping) {
        r->base.retries++;
        zr__stat_add(&self->st_retried, 1);
        zr__stat_add(&s->slot->retried, 1);
    }
    s_wait(self, s, r, true); /* since: when it came */
    s_settle(self, s);
    s_fed_spill(self, s);
    s_service_settle_free(self, s);
}

static void
s_fed_offer(void *owner, const char *svc, size_t len)
{
    zr__mdp_t *self = owner;
    s_service_t *s = s_service_find(self, svc, len);
    if (s) {
        s_fed_spill(self, s);
        s_service_settle_free(self, s);
    }
}

static void
s_fed_free(void *req)
{
    s_request_free(req);
}

const zr__fed_owner_t zr__mdp_fed = {s_fed_ready, s_fed_answer, s_fed_giveback,
                                     s_fed_offer, s_fed_free};
