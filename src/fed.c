/* fed.c - federation of brokers, majordomos or lru queues: brokers tell
 * each other which services they can serve now (state flow over
 * PUB/SUB, as in the Guide's broker peering, chapter 3), and a request
 * with no ready local worker goes to a live peer that has one; its reply
 * comes back the same way (docs/SCALING.md, "Federation").
 * SPDX-License-Identifier: MIT
 *
 * The broker that federates is the device's handler, the OWNER: mdp.c's
 * majordomo or broker.c's lru queue; fed.c reaches it only through its
 * zr__fed_owner_t (what it has ready, a reply, a request given back).
 * A queue is one service, ZR__FED_QUEUE ("queue"): all its workers are
 * alike.
 *
 * Sockets, all this module's (the broker's own ROUTER stays its own):
 *   - a PUB bound at peer_bind: every heartbeat, one state message
 *     [protocol, name, endpoint, heartbeat ms, (service, ready)*]
 *     naming the services with ready (idle) LOCAL workers and how many;
 *     protocol "ZRFED01" from a majordomo, "ZRFEDQ1" from a queue (a
 *     state of the other kind is refused, counted and logged: a queue
 *     cannot serve MDP requests, nor a majordomo a queue's);
 *   - a SUB connected to every `peers` endpoint, reading the others';
 *   - a ROUTER connected to each live peer's client endpoint (the one
 *     its state names; ZMQ_CONNECT_ROUTING_ID picks the peer per
 *     message). Majordomo: forwarded requests are MDP/0.1 client
 *     requests [hop, "", MDPC01, service, body...] and come back as
 *     replies [hop, "", MDPC01, service, body...]. Queue: [hop, "",
 *     body...] both ways; the peer queue takes the hop frame off before
 *     its worker sees the request and puts it back on the reply.
 *
 * The hop frame "zrelay-hop:NAME:SEQ" is the hop limit in the envelope:
 * the peer answers it like any client (the frame is part of the client's
 * address there), and never forwards a request that has one, so a
 * request crosses at most one broker boundary and never travels in
 * circles, however the brokers are peered.
 *
 * A peer is alive while its state messages come: silent for `liveness`
 * of its heartbeats, it is dead, its services are forgotten and the
 * requests forwarded to it go back to this broker (to a local worker,
 * another peer, or the error reply at request_timeout: never silence).
 * A reply that comes after that is dropped and counted.
 *
 * Improvements on the Guide's peering3: capacity per service (not one
 * number per broker), the peer with the most ready workers for it (not a
 * random one), the estimate lowered by each request sent so that one
 * state message does not draw more requests than it offered, liveness
 * (the Guide's brokers trust a dead peer's last state forever), and no
 * request lost with its peer.
 */
#define _GNU_SOURCE
#include "zr_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#define S_PROTOCOL "ZRFED" /* what the SUB takes: either kind */
#define S_PROTOCOL_MDP "ZRFED01"
#define S_PROTOCOL_QUEUE "ZRFEDQ1"
#define S_HOP "zrelay-hop:"
#define S_HOP_LEN (sizeof S_HOP - 1)
#define S_MAX_PEERS 128    /* each with a stats section */
#define S_MAX_OFFERS 10000 /* services one peer may advertise */
#define S_NAME_MAX 48      /* a broker's name: a label and a JSON key */
#define S_EP_MAX 256
#define S_BUCKETS 1024
/* The longest frame the state sockets take (ZMQ_MAXMSGSIZE): a state
 * frame is at most S_EP_MAX, a subscription "\1ZRFED", the handshake's
 * READY (its socket type and an identity of up to 255) well below. */
#define S_STATE_FRAME_MAX 1024

typedef struct {
    char *name;
    size_t len;
    uint64_t advertised; /* ready, in the peer's last state message */
    uint64_t ready;      /* that, lowered by each request sent, raised
                            again by each reply (its worker is free) */
    uint64_t cap;        /* ready at most: advertised + ours in flight */
} s_offer_t;

/* A forwarded request: on its peer's list and in the hash by SEQ. */
typedef struct s_fwd {
    uint64_t seq;
    int64_t sent_at; /* ms: zr__fed_expired gives it up LIMIT after */
    void *req;       /* the owner's, owned here while forwarded */
    char service[256];
    size_t service_len;
    struct s_peer *peer;
    struct s_fwd *prev, *next, *bucket_next;
} s_fwd_t;

/* A peer's counters and state, read by any thread (stats table). */
typedef struct s_peer {
    char path[80];
    char labels[80];
    char name[S_NAME_MAX + 1];
    char endpoint[S_EP_MAX]; /* where its requests go; "" until known */
    char rid[16];            /* its connection's id on our ROUTER */
    bool alive;
    bool up;        /* our connection to its MDP endpoint is established */
    bool warned_ep; /* its claim of another peer's endpoint was logged */
    bool bad_ep;    /* its endpoint could not be connected to (logged) */
    int64_t expiry;
    s_offer_t *offers;
    size_t noffers;
    s_fwd_t *inflight;
    _Atomic uint64_t st_alive, st_services, st_ready, st_sent, st_received,
        st_failed, st_late, st_states, st_deaths, st_forgotten;
} s_peer_t;

struct zr__fed_t {
    zr__engine_t *engine;
    const zr__fed_owner_t *ops; /* the majordomo's or the lru queue's */
    void *owner;
    bool queue;           /* requests [hop, "", body...], not MDP */
    const char *protocol; /* of our state messages: S_PROTOCOL_* */
    bool warned_kind;     /* a peer of the other kind was logged */
    char name[S_NAME_MAX + 1];
    char advertise[S_EP_MAX]; /* our MDP endpoint */
    int heartbeat, liveness;
    void *pub, *sub, *router;
    void *events; /* the ROUTER's monitor: its connections up and down */
    s_peer_t peers[S_MAX_PEERS];
    _Atomic size_t npeers;
    s_fwd_t *fwd[S_BUCKETS];
    uint64_t seq;
    unsigned rid_gen;
    bool stopping;
    _Atomic uint64_t st_peers, st_states_sent, st_states_unsent,
        st_states_received, st_states_bad, st_forwarded, st_answered,
        st_given_back, st_refused, st_late, st_expired;
};

/* ---------------------------------------------------------------------
 * Names and frames.
 */

/* A broker's name: letters, digits, '.', '-', '_', at most 48: a label
 * and a JSON key as it is (a '.' becomes '_' in the key). */
static bool
s_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > S_NAME_MAX || name[0] == '_') {
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

bool
zr__fed_is_hop(const zmq_msg_t *frame)
{
    size_t n = zmq_msg_size((zmq_msg_t *) frame);
    return n > S_HOP_LEN && n <= ZR__HOP_MAX &&
           memcmp(zmq_msg_data((zmq_msg_t *) frame), S_HOP, S_HOP_LEN) == 0;
}

/* Frame I of M as a decimal number; -1 if it is not one. */
static int64_t
s_number(const zr__msg_t *m, size_t i)
{
    size_t n = zr__msg_frame_size(m, i);
    const char *d = (const char *) zr__msg_frame_data(m, i);
    if (n == 0 || n > 9) {
        return -1;
    }
    int64_t v = 0;
    for (size_t k = 0; k < n; k++) {
        if (d[k] < '0' || d[k] > '9') {
            return -1;
        }
        v = v * 10 + (d[k] - '0');
    }
    return v;
}

/* A hop frame's sequence number, exactly as zr__fed_forward wrote it
 * (PRIx64: lower-case hex, no leading zero); 0 (never a request's: they
 * start at 1) for anything more or else ("1zz", "01", "1\0"). */
static uint64_t
s_seq(const char *text, size_t len)
{
    uint64_t seq = 0;
    if (len == 0 || len > 16 || text[0] == '0') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c >= '0' && c <= '9') {
            seq = seq * 16 + (uint64_t) (c - '0');
        }
        else if (c >= 'a' && c <= 'f') {
            seq = seq * 16 + (uint64_t) (c - 'a' + 10);
        }
        else {
            return 0;
        }
    }
    return seq;
}

static void
s_setopt(void *s, int opt, int value)
{
    zmq_setsockopt(s, opt, &value, sizeof value);
}

/* ---------------------------------------------------------------------
 * Forwarded requests.
 */

static s_fwd_t *
s_fwd_find(zr__fed_t *self, uint64_t seq)
{
    for (s_fwd_t *f = self->fwd[seq % S_BUCKETS]; f; f = f->bucket_next) {
        if (f->seq == seq) {
            return f;
        }
    }
    return NULL;
}

/* F off its peer's list and the hash; not freed. */
static void
s_fwd_unlink(zr__fed_t *self, s_fwd_t *f)
{
    s_fwd_t **b = &self->fwd[f->seq % S_BUCKETS];
    while (*b && *b != f) {
        b = &(*b)->bucket_next;
    }
    if (*b) {
        *b = f->bucket_next;
    }
    if (f->prev) {
        f->prev->next = f->next;
    }
    else {
        f->peer->inflight = f->next;
    }
    if (f->next) {
        f->next->prev = f->prev;
    }
}

/* ---------------------------------------------------------------------
 * Peers.
 */

static void
s_offers_clear(s_peer_t *p)
{
    for (size_t i = 0; i < p->noffers; i++) {
        free(p->offers[i].name);
    }
    free(p->offers);
    p->offers = NULL;
    p->noffers = 0;
    zr__stat_set(&p->st_services, 0);
    zr__stat_set(&p->st_ready, 0);
}

static void
s_publish_alive(zr__fed_t *self)
{
    uint64_t n = 0;
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np; i++) {
        n += self->peers[i].alive;
    }
    zr__stat_set(&self->st_peers, n);
}

static void s_giveback(zr__fed_t *self, s_peer_t *p);

/* P is dead (silent) or stopping: its services forgotten, what it had in
 * flight back to the owner (which may send it to another peer). */
static void
s_peer_down(zr__fed_t *self, s_peer_t *p, const char *why)
{
    if (p->alive) {
        ZR_LOG_W("%s: peer %s %s: %zu services forgotten, %s", self->name,
                 p->name, why, p->noffers,
                 p->inflight ? "its requests come back here" : "nothing lost");
        zr__stat_add(&p->st_deaths, 1);
        zr__stat_add(&p->st_forgotten, p->noffers);
    }
    p->alive = false;
    zr__stat_set(&p->st_alive, 0);
    s_offers_clear(p);
    s_publish_alive(self);
    s_giveback(self, p);
}

/* What P has in flight back to the owner: to a local worker,
 * another peer, or the error reply at request_timeout. */
static void
s_giveback(zr__fed_t *self, s_peer_t *p)
{
    s_fwd_t *f;
    while ((f = p->inflight)) {
        s_fwd_unlink(self, f);
        zr__stat_add(&p->st_failed, 1);
        zr__stat_add(&self->st_given_back, 1);
        void *req = f->req;
        char svc[256];
        size_t len = f->service_len;
        memcpy(svc, f->service, len);
        free(f);
        self->ops->giveback(self->owner, req, svc, len);
    }
}

static s_peer_t *
s_peer_find(zr__fed_t *self, const char *name, size_t len)
{
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np; i++) {
        if (strlen(self->peers[i].name) == len &&
            memcmp(self->peers[i].name, name, len) == 0) {
            return &self->peers[i];
        }
    }
    return NULL;
}

static s_peer_t *
s_peer_new(zr__fed_t *self, const char *name, size_t len)
{
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    if (np == S_MAX_PEERS) {
        return NULL;
    }
    s_peer_t *p = &self->peers[np];
    memcpy(p->name, name, len);
    p->name[len] = 0;
    snprintf(p->path, sizeof p->path, "peers.%.*s", (int) len, name);
    for (char *c = p->path + 6; *c; c++) {
        *c = *c == '.' ? '_' : *c; /* a dot would nest the JSON key */
    }
    snprintf(p->labels, sizeof p->labels, "peer=\"%.*s\"", (int) len, name);
    atomic_store_explicit(&self->npeers, np + 1, memory_order_release);
    return p;
}

/* The endpoint ADVERTISED by a peer whose state came in on FRAME's
 * connection, into OUT: a wildcard host (tcp://0.0.0.0:5555, or a '*')
 * becomes the address that connection comes from. */
static int
s_endpoint(const char *advertised, size_t len, const zmq_msg_t *frame,
           char *out, size_t size)
{
    static const char *const wild[] = {
        "tcp://0.0.0.0:", "tcp://*:", "tcp://[::]:", "tcp://[*]:"};
    if (len == 0 || len >= size) {
        return -1;
    }
    /* tcp or ipc only: a peer's state must not make us connect inside
     * this process (inproc) or over a transport nobody meant. */
    if (len <= 6 || (memcmp(advertised, "tcp://", 6) != 0 &&
                     memcmp(advertised, "ipc://", 6) != 0)) {
        return -1;
    }
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++) {
        size_t w = strlen(wild[i]);
        if (len > w && memcmp(advertised, wild[i], w) == 0) {
            int fd = zmq_msg_get((zmq_msg_t *) frame, ZMQ_SRCFD);
            struct sockaddr_storage sa;
            socklen_t sl = sizeof sa;
            char host[INET6_ADDRSTRLEN];
            if (fd < 0 || getpeername(fd, (struct sockaddr *) &sa, &sl) != 0) {
                return -1;
            }
            if (sa.ss_family == AF_INET) {
                inet_ntop(AF_INET, &((struct sockaddr_in *) &sa)->sin_addr,
                          host, sizeof host);
                snprintf(out, size, "tcp://%s:%.*s", host, (int) (len - w),
                         advertised + w);
            }
            else if (sa.ss_family == AF_INET6) {
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *) &sa)->sin6_addr,
                          host, sizeof host);
                snprintf(out, size, "tcp://[%s]:%.*s", host, (int) (len - w),
                         advertised + w);
            }
            else {
                return -1;
            }
            return 0;
        }
    }
    memcpy(out, advertised, len);
    out[len] = 0;
    return 0;
}

/* The peer other than P whose requests go to ENDPOINT, or NULL. One
 * connection per endpoint, one peer per connection: zmq_disconnect and
 * the ROUTER's monitor events name an endpoint, not a peer, so a second
 * peer on the same endpoint would take the first's connection with it
 * when it moved (zmq_disconnect closes every connection to it, and
 * libzmq does not connect again) and get its events. */
static s_peer_t *
s_endpoint_owner(zr__fed_t *self, const s_peer_t *p, const char *endpoint)
{
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np; i++) {
        s_peer_t *o = &self->peers[i];
        if (o != p && strcmp(o->endpoint, endpoint) == 0) {
            return o;
        }
    }
    return NULL;
}

static void s_on_reply(zr__fed_t *self, zr__msg_t *m);

/* zmq_disconnect(ENDPOINT) on the request ROUTER, safely: libzmq
 * 4.3.4's ROUTER prefetches a message's first frame when it is polled
 * (the engine's zmq_poll), and zmq_disconnect stops that connection's
 * pipe at once; reading the rest then aborts the process ("Assertion
 * failed: !_more (src/fq.cpp:112)", libzmq issue 3485). A peer whose
 * state flips its endpoint while it replies did that within seconds.
 * One whole message read first (a prefetched one comes first) leaves
 * nothing half read; the replies already here are read too (up to a
 * burst), answered rather than lost with the connection and retried. */
static void
s_router_disconnect(zr__fed_t *self, const char *endpoint)
{
    zr__msg_t m = {NULL, 0, 0};
    for (int burst = 0; burst < 256 && zr__msg_recv(&m, self->router) == 0;
         burst++) {
        s_on_reply(self, &m);
    }
    zr__msg_destroy(&m);
    zmq_disconnect(self->router, endpoint);
}

/* P's requests go to ENDPOINT from now on (our ROUTER connects to it,
 * the connection named afresh, so that no reply of the old one is taken
 * for the new one's). */
static int
s_peer_connect(zr__fed_t *self, s_peer_t *p, const char *endpoint)
{
    if (strcmp(p->endpoint, endpoint) == 0) {
        return 0;
    }
    if (*p->endpoint) {
        p->up = false; /* nothing more for it on the old connection */
        s_router_disconnect(self, p->endpoint);
        s_giveback(self, p); /* the old connection's replies are lost */
    }
    snprintf(p->rid, sizeof p->rid, "peer%u", ++self->rid_gen);
    zmq_setsockopt(self->router, ZMQ_CONNECT_ROUTING_ID, p->rid,
                   strlen(p->rid));
    if (zmq_connect(self->router, endpoint) != 0) {
        if (!p->bad_ep) { /* once, not at every state message */
            ZR_LOG_W("%s: peer %s: cannot connect to %s: %s; its state is "
                     "refused (federation.states.malformed)",
                     self->name, p->name, endpoint, zmq_strerror(errno));
        }
        p->bad_ep = true;
        *p->endpoint = 0;
        return -1;
    }
    p->bad_ep = false;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    ZR_LOG_I("%s: peer %s: requests go to %s", self->name, p->name, endpoint);
    return 0;
}

/* ---------------------------------------------------------------------
 * State flow in.
 */

static void
s_on_state(zr__fed_t *self, zr__msg_t *m)
{
    /* [protocol, name, endpoint, heartbeat ms, (service, ready)*] */
    if (m->size >= 2 && zr__msg_frame_size(m, 0) == 7 &&
        memcmp(zr__msg_frame_data(m, 0), self->protocol, 7) != 0 &&
        memcmp(zr__msg_frame_data(m, 0),
               self->queue ? S_PROTOCOL_MDP : S_PROTOCOL_QUEUE, 7) == 0) {
        if (!self->warned_kind) {
            ZR_LOG_E("%s: peer '%.*s' is a %s and this is a %s: they cannot "
                     "serve each other's requests; its state is refused "
                     "(federation.states.malformed)",
                     self->name, (int) zr__msg_frame_size(m, 1),
                     (const char *) zr__msg_frame_data(m, 1),
                     self->queue ? "majordomo" : "queue",
                     self->queue ? "queue" : "majordomo");
            self->warned_kind = true;
        }
        zr__stat_add(&self->st_states_bad, 1);
        return;
    }
    if (m->size < 4 || (m->size - 4) % 2 != 0 ||
        (m->size - 4) / 2 > S_MAX_OFFERS || zr__msg_frame_size(m, 0) != 7 ||
        memcmp(zr__msg_frame_data(m, 0), self->protocol, 7) != 0 ||
        !s_name_ok((const char *) zr__msg_frame_data(m, 1),
                   zr__msg_frame_size(m, 1)) ||
        s_number(m, 3) <= 0) {
        zr__stat_add(&self->st_states_bad, 1);
        return;
    }
    for (size_t i = 4; i < m->size; i += 2) {
        if (zr__msg_frame_size(m, i) == 0 || zr__msg_frame_size(m, i) > 255 ||
            s_number(m, i + 1) < 0) {
            zr__stat_add(&self->st_states_bad, 1);
            return;
        }
    }
    const char *name = (const char *) zr__msg_frame_data(m, 1);
    size_t len = zr__msg_frame_size(m, 1);
    if (len == strlen(self->name) && memcmp(name, self->name, len) == 0) {
        return; /* our own, through a `peers` entry that is us */
    }
    char endpoint[S_EP_MAX];
    if (s_endpoint((const char *) zr__msg_frame_data(m, 2),
                   zr__msg_frame_size(m, 2), &m->frames[2], endpoint,
                   sizeof endpoint) != 0) {
        zr__stat_add(&self->st_states_bad, 1);
        return;
    }
    s_peer_t *p = s_peer_find(self, name, len);
    if (!p && !(p = s_peer_new(self, name, len))) {
        zr__stat_add(&self->st_states_bad, 1); /* too many peers */
        return;
    }
    s_peer_t *owner = s_endpoint_owner(self, p, endpoint);
    if (owner && owner->alive) {
        /* A live peer's endpoint: refused (a copy of its state, a
         * forwarder in between that makes two wildcards one address),
         * or its connection would go with this one's. */
        if (!p->warned_ep) {
            ZR_LOG_E("%s: peer %s advertises the endpoint of peer %s "
                     "(%s): its state is refused "
                     "(federation.states.malformed)",
                     self->name, p->name, owner->name, endpoint);
            p->warned_ep = true;
        }
        zr__stat_add(&self->st_states_bad, 1);
        return;
    }
    if (owner) {
        /* A dead peer's (a broker renamed, a peer replaced): P's now, on
         * a connection of its own. */
        s_router_disconnect(self, owner->endpoint);
        owner->up = false;
        *owner->endpoint = 0;
        s_giveback(self, owner); /* nothing: it died */
    }
    if (s_peer_connect(self, p, endpoint) != 0) {
        /* An endpoint libzmq refuses (tcp://host without a port): never
         * usable, so not alive either. */
        zr__stat_add(&self->st_states_bad, 1);
        s_peer_down(self, p, "advertises an endpoint it cannot be reached at");
        return;
    }
    zr__stat_add(&self->st_states_received, 1);
    zr__stat_add(&p->st_states, 1);
    if (!p->alive) {
        ZR_LOG_I("%s: peer %s is alive", self->name, p->name);
    }
    p->alive = true;
    zr__stat_set(&p->st_alive, 1);
    s_publish_alive(self);
    /* Its heartbeat, not ours: brokers may beat at different paces. */
    p->expiry = zr__now_ms() + s_number(m, 3) * self->liveness;
    /* What it offers now replaces what it offered. */
    s_offers_clear(p);
    size_t n = (m->size - 4) / 2;
    p->offers = n ? calloc(n, sizeof *p->offers) : NULL;
    uint64_t ready = 0;
    for (size_t i = 0; p->offers && i < n; i++) {
        s_offer_t *o = &p->offers[p->noffers];
        o->len = zr__msg_frame_size(m, 4 + 2 * i);
        o->name = malloc(o->len);
        if (!o->name) {
            break;
        }
        memcpy(o->name, (const char *) zr__msg_frame_data(m, 4 + 2 * i),
               o->len);
        o->ready = o->advertised = (uint64_t) s_number(m, 5 + 2 * i);
        /* Our requests it is working on will free their workers: each
         * reply raises the estimate again, up to this. */
        o->cap = o->advertised;
        for (s_fwd_t *f = p->inflight; f; f = f->next) {
            o->cap += f->service_len == o->len &&
                      memcmp(f->service, o->name, o->len) == 0;
        }
        ready += o->ready;
        p->noffers++;
    }
    zr__stat_set(&p->st_services, p->noffers);
    zr__stat_set(&p->st_ready, ready);
    /* Requests waiting here for those services may go now. */
    for (size_t i = 0; i < p->noffers && p->alive; i++) {
        if (p->offers[i].ready) {
            self->ops->offer(self->owner, p->offers[i].name, p->offers[i].len);
        }
    }
}

static void
s_sub_ready(void *arg)
{
    zr__fed_t *self = arg;
    zr__msg_t m = {NULL, 0, 0};
    for (int burst = 0; burst < 64 && zr__msg_recv(&m, self->sub) == 0;
         burst++) {
        s_on_state(self, &m);
    }
    zr__msg_destroy(&m);
}

/* ---------------------------------------------------------------------
 * Replies in.
 */

static void
s_on_reply(zr__fed_t *self, zr__msg_t *m)
{
    /* [rid, hop, "", MDPC01, service, body...]; a queue's: [rid, hop,
     * "", body...] */
    size_t own = strlen(self->name);
    s_peer_t *from = NULL;
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np && m->size > 0; i++) {
        if (zr__msg_frame_size(m, 0) == strlen(self->peers[i].rid) &&
            memcmp((const char *) zr__msg_frame_data(m, 0), self->peers[i].rid,
                   zr__msg_frame_size(m, 0)) == 0) {
            from = &self->peers[i];
        }
    }
    bool mdp_ok = m->size >= 6 && zr__msg_frame_size(m, 3) == 6 &&
                  memcmp(zr__msg_frame_data(m, 3), "MDPC01", 6) == 0;
    if (m->size < 4 || !(self->queue || mdp_ok) ||
        !zr__fed_is_hop(&m->frames[1]) || zr__msg_frame_size(m, 2) != 0 ||
        zr__msg_frame_size(m, 1) < S_HOP_LEN + own + 2 ||
        memcmp((const char *) zr__msg_frame_data(m, 1) + S_HOP_LEN, self->name,
               own) != 0 ||
        ((const char *) zr__msg_frame_data(m, 1))[S_HOP_LEN + own] != ':') {
        zr__stat_add(&self->st_late, 1);
        if (from) {
            zr__stat_add(&from->st_late, 1);
        }
        return;
    }
    uint64_t seq =
        s_seq((const char *) zr__msg_frame_data(m, 1) + S_HOP_LEN + own + 1,
              zr__msg_frame_size(m, 1) - S_HOP_LEN - own - 1);
    s_fwd_t *f = s_fwd_find(self, seq);
    if (!f || f->peer != from) {
        /* Given up on (its peer was declared dead), or never sent. */
        zr__stat_add(&self->st_late, 1);
        if (from) {
            zr__stat_add(&from->st_late, 1);
        }
        return;
    }
    s_fwd_unlink(self, f);
    zr__stat_add(&f->peer->st_received, 1);
    zr__stat_add(&self->st_answered, 1);
    void *req = f->req;
    char svc[256];
    size_t len = f->service_len;
    memcpy(svc, f->service, len);
    free(f);
    self->ops->answer(self->owner, req, svc, len, m, self->queue ? 3 : 5);
    /* The worker that answered is free again: one more for the estimate
     * (at most what the peer advertised and what we had in flight there
     * when it did), and a request waiting here for
     * the service may go, without waiting for the next state message. */
    for (size_t k = 0; from->alive && k < from->noffers; k++) {
        s_offer_t *o = &from->offers[k];
        if (o->len == len && memcmp(o->name, svc, len) == 0) {
            if (o->ready < o->cap) {
                o->ready++;
                self->ops->offer(self->owner, svc, len);
            }
            break;
        }
    }
}

static void
s_router_ready(void *arg)
{
    zr__fed_t *self = arg;
    zr__msg_t m = {NULL, 0, 0};
    for (int burst = 0; burst < 256 && zr__msg_recv(&m, self->router) == 0;
         burst++) {
        s_on_reply(self, &m);
    }
    zr__msg_destroy(&m);
}

/* ---------------------------------------------------------------------
 * Our connections to the peers' MDP endpoints (the ROUTER's monitor):
 * nothing is sent to a peer before its connection is up (libzmq would
 * queue it for a connection that may never come: an endpoint its state
 * names but we cannot reach), and what was in flight on a connection
 * that closed comes back here (its reply could only come on it).
 */

static void
s_events_ready(void *arg)
{
    zr__fed_t *self = arg;
    for (int burst = 0; burst < 64; burst++) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        zmq_msg_init(&addr);
        if (zmq_msg_recv(&ev, self->events, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            zmq_msg_close(&addr);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= 2) {
            memcpy(&event, zmq_msg_data(&ev), 2);
        }
        if (!zmq_msg_more(&ev) ||
            zmq_msg_recv(&addr, self->events, ZMQ_DONTWAIT) < 0) {
            event = 0;
        }
        const char *a = zmq_msg_data(&addr);
        size_t n = zmq_msg_size(&addr);
        size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
        s_peer_t *p = NULL;
        for (size_t i = 0; i < np && event; i++) {
            if (strlen(self->peers[i].endpoint) == n &&
                memcmp(self->peers[i].endpoint, a, n) == 0) {
                p = &self->peers[i];
            }
        }
        if (p && event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            ZR_LOG_I("%s: peer %s: connected to %s", self->name, p->name,
                     p->endpoint);
            p->up = true;
            for (size_t k = 0; k < p->noffers && p->alive; k++) {
                if (p->offers[k].ready) {
                    self->ops->offer(self->owner, p->offers[k].name,
                                     p->offers[k].len);
                }
            }
        }
        else if (p && event == ZMQ_EVENT_DISCONNECTED && p->up) {
            ZR_LOG_W("%s: peer %s: connection to %s closed%s", self->name,
                     p->name, p->endpoint,
                     p->inflight ? "; its requests come back here" : "");
            p->up = false;
            /* libzmq does not connect again after a protocol error (a
             * reply over max_msg_size, say): the peer's next state message
             * connects afresh (s_peer_connect), at most once a heartbeat. */
            s_router_disconnect(self, p->endpoint);
            *p->endpoint = 0;
            s_giveback(self, p);
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
    }
}

/* ---------------------------------------------------------------------
 * Requests out.
 */

bool
zr__fed_forward(zr__fed_t *self, void *req, const char *svc, size_t len,
                const zr__msg_t *body)
{
    if (!self || self->stopping || len > 255) {
        return false;
    }
    /* The live peer with the most ready workers for SVC. */
    s_peer_t *best = NULL;
    s_offer_t *offer = NULL;
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np; i++) {
        s_peer_t *p = &self->peers[i];
        if (!p->alive || !p->up) {
            continue;
        }
        for (size_t k = 0; k < p->noffers; k++) {
            s_offer_t *o = &p->offers[k];
            if (o->len == len && memcmp(o->name, svc, len) == 0 && o->ready &&
                (!offer || o->ready > offer->ready)) {
                best = p;
                offer = o;
            }
        }
    }
    if (!best) {
        return false;
    }
    s_fwd_t *f = calloc(1, sizeof *f);
    zr__msg_t m = {NULL, 0, 0};
    char hop[ZR__HOP_MAX + 1];
    uint64_t seq = ++self->seq;
    snprintf(hop, sizeof hop, "%s%s:%" PRIx64, S_HOP, self->name, seq);
    if (!f || zr__msg_add(&m, best->rid, strlen(best->rid)) != 0 ||
        zr__msg_addstr(&m, hop) != 0 || zr__msg_add(&m, "", 0) != 0 ||
        (!self->queue && (zr__msg_add(&m, "MDPC01", 6) != 0 ||
                          zr__msg_add(&m, svc, len) != 0))) {
        free(f);
        zr__msg_destroy(&m);
        return false;
    }
    for (size_t i = 0; i < body->size; i++) {
        zmq_msg_t *dst;
        if (zr__msg_reserve(&m, m.size + 1) != 0) {
            free(f);
            zr__msg_destroy(&m);
            return false;
        }
        dst = &m.frames[m.size];
        zmq_msg_init(dst);
        zmq_msg_copy(dst, (zmq_msg_t *) &body->frames[i]);
        m.size++;
    }
    if (zr__msg_send(&m, self->router) != 0) {
        /* Not connected yet (EHOSTUNREACH) or full (EAGAIN): not sent; it
         * waits here, and the next state message offers again. */
        zr__stat_add(&best->st_failed, 1);
        zr__stat_add(&self->st_refused, 1);
        offer->ready = 0;
        free(f);
        zr__msg_destroy(&m);
        return false;
    }
    zr__msg_destroy(&m);
    offer->ready--;
    f->seq = seq;
    f->sent_at = zr__now_ms();
    f->req = req;
    memcpy(f->service, svc, len);
    f->service_len = len;
    f->peer = best;
    f->next = best->inflight;
    if (f->next) {
        f->next->prev = f;
    }
    best->inflight = f;
    s_fwd_t **b = &self->fwd[seq % S_BUCKETS];
    f->bucket_next = *b;
    *b = f;
    zr__stat_add(&best->st_sent, 1);
    zr__stat_add(&self->st_forwarded, 1);
    ZR_LOG_D("%s: a request for '%.*s' goes to peer %s", self->name, (int) len,
             svc, best->name);
    return true;
}

/* ---------------------------------------------------------------------
 * State flow out, liveness.
 */

static void
s_add_service(void *arg, const char *name, size_t len, size_t ready)
{
    zr__msg_t *m = arg;
    char n[24];
    snprintf(n, sizeof n, "%zu", ready);
    if (m->size < 4 + 2 * S_MAX_OFFERS) {
        zr__msg_add(m, name, len);
        zr__msg_addstr(m, n);
    }
}

void
zr__fed_tick(zr__fed_t *self, int64_t now)
{
    if (!self) {
        return;
    }
    if (self->pub) {
        zr__msg_t m = {NULL, 0, 0};
        char beat[24];
        snprintf(beat, sizeof beat, "%d", self->heartbeat);
        zr__msg_addstr(&m, self->protocol);
        zr__msg_addstr(&m, self->name);
        zr__msg_addstr(&m, self->advertise);
        zr__msg_addstr(&m, beat);
        self->ops->ready(self->owner, s_add_service, &m);
        if (m.size % 2 == 0 && zr__msg_send(&m, self->pub) == 0) {
            zr__stat_add(&self->st_states_sent, 1);
        }
        else {
            zr__stat_add(&self->st_states_unsent, 1);
        }
        zr__msg_destroy(&m);
    }
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np; i++) {
        s_peer_t *p = &self->peers[i];
        if (p->alive && now >= p->expiry) {
            s_peer_down(self, p, "went silent");
        }
    }
}

void
zr__fed_flush(zr__fed_t *self)
{
    if (!self) {
        return;
    }
    self->stopping = true; /* what comes back is not sent again */
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np; i++) {
        s_peer_t *p = &self->peers[i];
        bool was = p->alive;
        p->alive = false; /* no death counted: we stop, not it */
        s_peer_down(self, p, "left: stopping");
        p->alive = was;
        zr__stat_set(&p->st_alive, was);
    }
}

/* A forwarded request LIMIT ms or more at its peer, unanswered, taken
 * back (the caller's again), or NULL: a peer may take requests and never
 * reply (its worker hung, a bug, a hostile one) while its state keeps it
 * alive; the owner gives it up as it gives up a worker busy too long.
 * One at a time, no callback: the caller may forward others meanwhile. */
void *
zr__fed_expired(zr__fed_t *self, int64_t now, int64_t limit, char *svc,
                size_t *len)
{
    if (!self || limit <= 0) {
        return NULL;
    }
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np; i++) {
        for (s_fwd_t *f = self->peers[i].inflight; f; f = f->next) {
            if (now - f->sent_at >= limit) {
                s_fwd_unlink(self, f);
                zr__stat_add(&f->peer->st_failed, 1);
                zr__stat_add(&self->st_expired, 1);
                void *req = f->req;
                if (svc && len) {
                    memcpy(svc, f->service, f->service_len);
                    *len = f->service_len;
                }
                free(f);
                return req;
            }
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * Life.
 */

static void *
s_socket(zr__fed_t *self, void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        return NULL;
    }
    s_setopt(s, ZMQ_LINGER, 0);
    /* A cut link: ZMTP heartbeats close the connection within liveness
     * heartbeats and libzmq connects again, instead of TCP retrying into
     * the void for minutes. */
    s_setopt(s, ZMQ_HEARTBEAT_IVL, self->heartbeat);
    s_setopt(s, ZMQ_HEARTBEAT_TIMEOUT, self->heartbeat * self->liveness);
    s_setopt(s, ZMQ_HEARTBEAT_TTL, self->heartbeat * self->liveness);
    s_setopt(s, ZMQ_CONNECT_TIMEOUT, self->heartbeat * self->liveness);
    s_setopt(s, ZMQ_RECONNECT_IVL_MAX, self->heartbeat);
    return s;
}

/* Every endpoint of LIST (zr_endpoints_parse: '@' binds, '>' connects,
 * a bare one does what BIND says) attached to S; -1 with ERR set. */
static int
s_attach(void *s, const char *list, bool bind, char *err, size_t size)
{
    zr_endpoints_t *eps = zr_endpoints_parse(list, bind, err, size);
    int rc = eps ? zr_endpoints_attach(eps, s, err, size) : -1;
    zr_endpoints_destroy(&eps);
    return rc;
}

zr__fed_t *
zr__fed_new(void *ctx, zr__engine_t *engine, const zr__fed_owner_t *ops,
            void *owner, const char *name, const char *advertise,
            const zr__fed_opts_t *opts, char *err, size_t errsize)
{
    zr__fed_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errsize, "no memory");
        return NULL;
    }
    if (!s_name_ok(name, strlen(name))) {
        snprintf(err, errsize,
                 "a federated broker's name (%s) must be 1 to 48 letters, "
                 "digits, '.', '-' or '_'",
                 name);
        free(self);
        errno = EINVAL;
        return NULL;
    }
    self->engine = engine;
    self->ops = ops;
    self->owner = owner;
    self->queue = opts->queue;
    self->protocol = opts->queue ? S_PROTOCOL_QUEUE : S_PROTOCOL_MDP;
    snprintf(self->name, sizeof self->name, "%s", name);
    snprintf(self->advertise, sizeof self->advertise, "%s",
             advertise ? advertise : "");
    self->heartbeat = opts->heartbeat > 0 ? opts->heartbeat : 2500;
    self->liveness = opts->liveness > 0 ? opts->liveness : 3;
    self->sub = s_socket(self, ctx, ZMQ_SUB);
    self->router = s_socket(self, ctx, ZMQ_ROUTER);
    if (!self->sub || !self->router) {
        snprintf(err, errsize, "cannot create a peer socket: %s",
                 zmq_strerror(errno));
        zr__fed_destroy(&self);
        return NULL;
    }
    s_setopt(self->router, ZMQ_ROUTER_MANDATORY, 1);
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://zr-fed-events-%p", (void *) self);
    self->events = zmq_socket(ctx, ZMQ_PAIR);
    if (self->events) {
        /* libzmq sends the events blocking: no mark on this side. */
        s_setopt(self->events, ZMQ_LINGER, 0);
        s_setopt(self->events, ZMQ_RCVHWM, 0);
    }
    if (!self->events ||
        zmq_socket_monitor(self->router, mon,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                               ZMQ_EVENT_DISCONNECTED) != 0 ||
        zmq_connect(self->events, mon) != 0) {
        snprintf(err, errsize, "cannot watch the peer connections: %s",
                 zmq_strerror(errno));
        zr__fed_destroy(&self);
        return NULL;
    }
    zmq_setsockopt(self->sub, ZMQ_SUBSCRIBE, S_PROTOCOL, sizeof S_PROTOCOL - 1);
    /* libzmq 4.3.4's PUB keeps a trie node per byte of every
     * subscription (tens of times its size): a SUB on peer_bind that
     * subscribed with 4 MB cost the relay 160 MB (ASan build) and more
     * for more. Longer frames close their connection instead, on both
     * state sockets (a state publisher cannot send huge frames either).
     */
    int64_t most = S_STATE_FRAME_MAX;
    zmq_setsockopt(self->sub, ZMQ_MAXMSGSIZE, &most, sizeof most);
    /* [limits] A peer's reply is a message like any other: a frame over
     * the device's max_msg_size closes its connection (what was in
     * flight on it comes back: s_events_ready). */
    if (opts->max_msg_bytes > 0 && opts->max_msg_bytes <= INT64_MAX) {
        int64_t reply_most = (int64_t) opts->max_msg_bytes;
        zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &reply_most,
                       sizeof reply_most);
    }
    if (opts->bind && *opts->bind) {
        self->pub = s_socket(self, ctx, ZMQ_PUB);
        if (self->pub) {
            zmq_setsockopt(self->pub, ZMQ_MAXMSGSIZE, &most, sizeof most);
        }
        if (!self->pub ||
            s_attach(self->pub, opts->bind, true, err, errsize) != 0) {
            zr__fed_destroy(&self);
            return NULL;
        }
    }
    if (opts->peers &&
        s_attach(self->sub, opts->peers, false, err, errsize) != 0) {
        zr__fed_destroy(&self);
        return NULL;
    }
    if (zr__engine_watch(engine, self->sub, s_sub_ready, self) != 0 ||
        zr__engine_watch(engine, self->router, s_router_ready, self) != 0 ||
        zr__engine_watch(engine, self->events, s_events_ready, self) != 0) {
        snprintf(err, errsize, "too many sockets for the device's loop");
        zr__fed_destroy(&self);
        return NULL;
    }
    ZR_LOG_I("%s: federation: state on %s, peers %s, requests from peers on "
             "%s",
             self->name, opts->bind ? opts->bind : "(none)",
             opts->peers ? opts->peers : "(none)",
             *self->advertise ? self->advertise : "(none)");
    return self;
}

void
zr__fed_destroy(zr__fed_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__fed_t *self = *self_p;
    size_t np = atomic_load_explicit(&self->npeers, memory_order_relaxed);
    for (size_t i = 0; i < np; i++) {
        s_peer_t *p = &self->peers[i];
        s_fwd_t *f;
        while ((f = p->inflight)) {
            s_fwd_unlink(self, f);
            self->ops->free(f->req);
            free(f);
        }
        s_offers_clear(p);
    }
    if (self->pub) {
        zmq_close(self->pub);
    }
    if (self->sub) {
        zmq_close(self->sub);
    }
    if (self->router) {
        zmq_socket_monitor(self->router, NULL, 0);
        zmq_close(self->router);
    }
    if (self->events) {
        zmq_close(self->events);
    }
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------
 * The federation's rows of the stats table, and one section per peer.
 */

#define S_AT(field) offsetof(zr__fed_t, field)
#define S_ROW(k, m, l, kd, field, text)                                        \
    {                                                                          \
        .key = k, .metric = m, .labels = l, .kind = kd, .help = text,          \
        .offset = S_AT(field)                                                  \
    }
static const zr__stat_t s_rows[] = {
    S_ROW("peers_alive", "federation_peers_alive", NULL, ZR__STAT_GAUGE,
          st_peers, "Peers whose state messages come (alive)."),
    S_ROW("states.sent", "federation_states_total", "way=\"sent\"",
          ZR__STAT_COUNTER, st_states_sent,
          "State messages this broker published (one per heartbeat)."),
    S_ROW("states.unsent", "federation_states_total", "way=\"unsent\"",
          ZR__STAT_COUNTER, st_states_unsent,
          "State messages that could not be published."),
    S_ROW("states.received", "federation_states_total", "way=\"received\"",
          ZR__STAT_COUNTER, st_states_received,
          "State messages from peers, taken."),
    S_ROW("states.malformed", "federation_states_total", "way=\"malformed\"",
          ZR__STAT_COUNTER, st_states_bad,
          "State messages dropped: malformed, a bad name or endpoint (not "
          "tcp or ipc, one libzmq cannot connect to, or one a live peer "
          "advertises already), a "
          "broker of the other kind (a queue, a majordomo), or "
          "one peer too many."),
    S_ROW("requests.forwarded", "federation_requests_total",
          "outcome=\"forwarded\"", ZR__STAT_COUNTER, st_forwarded,
          "Requests sent to a peer: no ready local worker had their "
          "service."),
    S_ROW("requests.answered", "federation_requests_total",
          "outcome=\"answered\"", ZR__STAT_COUNTER, st_answered,
          "Forwarded requests whose reply came back."),
    S_ROW("requests.given_back", "federation_requests_total",
          "outcome=\"given_back\"", ZR__STAT_COUNTER, st_given_back,
          "Forwarded requests taken back: their peer died or went silent "
          "(then served here, by another peer, or answered with the error "
          "reply)."),
    S_ROW("requests.expired", "federation_requests_total",
          "outcome=\"expired\"", ZR__STAT_COUNTER, st_expired,
          "Forwarded requests taken back unanswered after busy_timeout "
          "(a peer that takes requests and never replies): given up as "
          "a worker busy too long is (another try, up to retries, then "
          "the failed error reply); a reply after that is late."),
    S_ROW("requests.refused", "federation_requests_total",
          "outcome=\"refused\"", ZR__STAT_COUNTER, st_refused,
          "Requests not sent to the peer chosen: not connected yet, or "
          "full; they wait here."),
    S_ROW("requests.late_replies", "federation_requests_total",
          "outcome=\"late_replies\"", ZR__STAT_COUNTER, st_late,
          "Replies from peers dropped: for a request given back, or "
          "malformed."),
};
#undef S_ROW
#undef S_AT

#define S_AT(field) offsetof(s_peer_t, field)
#define S_PEER(k, m, l, kd, field, text)                                       \
    {                                                                          \
        .key = k, .metric = m, .labels = l, .kind = kd, .help = text,          \
        .offset = S_AT(field)                                                  \
    }
static const zr__stat_t s_peer_rows[] = {
    S_PEER("alive", "peer_alive", NULL, ZR__STAT_GAUGE, st_alive,
           "1 while the peer's state messages come, 0 once it was silent "
           "for liveness of its heartbeats."),
    S_PEER("services", "peer_services", NULL, ZR__STAT_GAUGE, st_services,
           "Services the peer advertised in its last state message."),
    S_PEER("ready", "peer_ready_workers", NULL, ZR__STAT_GAUGE, st_ready,
           "Ready workers the peer advertised, over its services."),
    S_PEER("sent", "peer_requests_total", "outcome=\"sent\"", ZR__STAT_COUNTER,
           st_sent, "Requests forwarded to the peer."),
    S_PEER("received", "peer_requests_total", "outcome=\"received\"",
           ZR__STAT_COUNTER, st_received,
           "Replies from the peer to requests forwarded to it."),
    S_PEER("failed", "peer_requests_total", "outcome=\"failed\"",
           ZR__STAT_COUNTER, st_failed,
           "Requests for the peer that failed: refused by the socket, or "
           "given back when the peer died."),
    S_PEER("late", "peer_requests_total", "outcome=\"late\"", ZR__STAT_COUNTER,
           st_late,
           "Replies from the peer dropped: their request was given back."),
    S_PEER("states", "peer_states_total", NULL, ZR__STAT_COUNTER, st_states,
           "State messages from the peer."),
    S_PEER("deaths", "peer_deaths_total", NULL, ZR__STAT_COUNTER, st_deaths,
           "Times the peer went silent for liveness heartbeats."),
    S_PEER("services_forgotten", "peer_services_forgotten_total", NULL,
           ZR__STAT_COUNTER, st_forgotten,
           "Services forgotten when the peer died."),
};
#undef S_PEER
#undef S_AT

size_t
zr__fed_sections(const zr__fed_t *self, zr__stat_section_t *out, size_t max)
{
    size_t k = 0;
    if (!self || max == 0) {
        return 0;
    }
    out[k++] =
        (zr__stat_section_t){"federation", NULL, ZR__STAT_ROWS(s_rows), self};
    size_t np = atomic_load_explicit(&((zr__fed_t *) self)->npeers,
                                     memory_order_acquire);
    for (size_t i = 0; i < np && k < max; i++) {
        out[k++] =
            (zr__stat_section_t){self->peers[i].path, self->peers[i].labels,
                                 ZR__STAT_ROWS(s_peer_rows), &self->peers[i]};
    }
    return k;
}
