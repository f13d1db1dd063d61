/* engine.c - the only code that moves messages: whole multipart messages
 * from one socket to another, never blocking, counting everything.
 * SPDX-License-Identifier: MIT
 *
 * How it moves a message: frame by frame, received with ZMQ_DONTWAIT and
 * sent with ZMQ_DONTWAIT. libzmq delivers a multipart message atomically
 * and checks the send high-water mark on its first frame, so once the
 * first frame is out the rest follow; if a send would block, the frame in
 * hand is parked, that direction stops reading (backpressure reaches the
 * producer through the source socket's own queue), and the frames still
 * unread stay in the source socket until the destination takes the parked
 * one. The relay so holds at most one frame per direction, never a copy.
 *
 * When to poll: only when every direction ran dry or is blocked. While a
 * socket has data the loop drains it in bursts without calling zmq_poll,
 * which is what makes it faster than zmq_proxy's poll-per-burst loop.
 *
 * Where ZMQ_POLLOUT cannot be trusted: a ROUTER reports writable when any
 * peer has room, an XPUB always does. Those destinations retry on a
 * back-off timer instead. A ROUTER destination is sent to with
 * ZMQ_ROUTER_MANDATORY: a message for a gone peer is dropped and counted
 * at once; a full peer gets a grace period (its I/O thread may just be
 * behind), after which it is marked stalled and its messages are dropped
 * and counted, without waiting, until one gets through again. So one
 * stalled peer costs the others one grace period, not their traffic.
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Messages per direction per turn: bounds how long one busy direction can
 * keep the other (and the control socket) waiting. */
#define S_BURST 1024
/* Back-off for destinations whose POLLOUT cannot be trusted. */
#define S_BACKOFF_MIN_MS 1
#define S_BACKOFF_MAX_MS 64
/* How long a full ROUTER peer may hold its direction up, and how many
 * stalled peers are remembered (the oldest is forgotten first; a
 * forgotten peer just gets a grace period again). */
#define S_PEER_GRACE_MS 100
#define S_STALLED_MAX 64

typedef enum { S_OK, S_DRY, S_BUSY, S_BLOCKED, S_DROPPED, S_TERM } s_status_t;

typedef enum {
    S_PARK_POLL,  /* park, wait for POLLOUT (PUSH, DEALER, PAIR, ...) */
    S_PARK_TIMER, /* park, retry on a back-off timer (XPUB, PUB, XSUB) */
    S_PER_PEER    /* ROUTER: grace for a full peer, then drop and count */
} s_policy_t;

typedef enum { S_CAP_ON, S_CAP_SKIP } s_capstate_t;

/* Local tallies for one pump call, published to the atomics once. */
typedef struct {
    uint64_t msgs_in, frames_in, bytes_in;
    uint64_t msgs_out, frames_out, bytes_out;
    uint64_t no_route, peer_full, error, slow;
    uint64_t cap_msgs, cap_drops;
} s_tally_t;

/* A message waiting to be sent on a direction's destination. */
typedef struct s_node {
    struct s_node *next;
    zr__msg_t msg;
} s_node_t;

typedef struct {
    int which;            /* ZR__DOWNSTREAM or ZR__UPSTREAM */
    void *src, *dst;      /* dst NULL: a sink, read and never sent on */
    zr__sockstats_t *in;  /* the source socket's counters */
    zr__sockstats_t *out; /* the destination socket's counters */
    s_policy_t policy;
    /* The message path, for directions a handler sees and for messages
     * a handler injected: whole messages, sent from `out`. */
    bool handled;
    zr__msg_t in_msg, out_msg;
    size_t out_next;
    s_node_t *queue, *queue_tail;
    size_t queued;
    zmq_msg_t frame; /* the frame in hand, parked while `parked` */
    bool parked;
    bool mid_in;      /* the current message has frames left on src */
    bool mid_out;     /* frames of the current message went out */
    bool dropping;    /* the rest of the current message is dropped */
    s_capstate_t cap; /* capture of the current message */
    int backoff_ms;
    int64_t retry_at;
    int64_t parked_at; /* when the frame in hand was first refused */
    int block_timeout; /* -1, or ms a NODROP XPUB may block (see above) */
    bool congested;    /* block_timeout passed; lossy until a send is not */
} s_dir_t;

/* A ROUTER peer identity (at most 255 bytes in ZMTP). */
typedef struct {
    size_t size;
    unsigned char data[255];
} s_peer_t;

struct zr__engine_t {
    void *frontend, *backend, *capture, *control;
    s_dir_t dirs[2];
    int ndirs;
    zr__sockstats_t front_stats, back_stats;
    _Atomic uint64_t capture_msgs, capture_drops;
    _Atomic uint64_t control_cmds, control_errors;
    s_dir_t *capture_owner; /* direction with a message half-way out */
    s_peer_t stalled[S_STALLED_MAX];
    int nstalled;
    zmq_msg_t capframe;
    _Atomic uint64_t polls;
    atomic_bool waiting; /* in zmq_poll, counters published */
    atomic_bool stop;
    atomic_bool paused;
    atomic_bool running;
    _Atomic uint64_t cpu_ns; /* final CPU time once the loop ended */
    pthread_t thread;
    int wake[2]; /* self-pipe: stop/pause from other threads or signals */
    int linger_ms;
    char *name, *type;
    struct {
        void *socket;
        void (*fn)(void *);
        void *arg;
    } watch[ZR__WATCH_MAX];
    int nwatch;
    void (*describe)(cJSON *, void *);
    void *describe_arg;
    zr__handler_t handler;
    int64_t deadline; /* of the handler's timer, -1: none */
    bool eintr_returns;
    int busy_poll_us;        /* spin this long before sleeping (0: never) */
    uint64_t frames_at_poll; /* frames read when it last went to sleep */
};

/* A counter moved by N: nothing to publish when nothing moved. */
static inline void
s_add_n(_Atomic uint64_t *v, uint64_t n)
{
    if (n) {
        zr__stat_add(v, n);
    }
}

zr__engine_t *
zr__engine_new(void)
{
    zr__engine_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    if (zr__wake_pipe(self->wake) != 0) {
        free(self);
        return NULL;
    }
    self->linger_ms = 1000;
    self->deadline = -1;
    return self;
}

void
zr__engine_destroy(zr__engine_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__engine_t *self = *self_p;
    for (int i = 0; i < self->ndirs; i++) {
        s_dir_t *d = &self->dirs[i];
        while (d->queue) {
            s_node_t *next = d->queue->next;
            zr__msg_destroy(&d->queue->msg);
            free(d->queue);
            d->queue = next;
        }
        zr__msg_destroy(&d->in_msg);
        zr__msg_destroy(&d->out_msg);
    }
    close(self->wake[0]);
    close(self->wake[1]);
    free(self->name);
    free(self->type);
    free(self);
    *self_p = NULL;
}

static int
s_type(void *socket)
{
    int type = -1;
    size_t len = sizeof type;
    zmq_getsockopt(socket, ZMQ_TYPE, &type, &len);
    return type;
}

static bool
s_can_recv(int type)
{
    return type != ZMQ_PUSH && type != ZMQ_PUB && type != -1;
}

static bool
s_can_send(int type)
{
    return type != ZMQ_PULL && type != ZMQ_SUB && type != -1;
}

static s_policy_t
s_policy_for(int type)
{
    switch (type) {
    case ZMQ_ROUTER: return S_PER_PEER;
    case ZMQ_PUSH:
    case ZMQ_DEALER:
    case ZMQ_PAIR:
    case ZMQ_REQ:
    case ZMQ_REP: return S_PARK_POLL;
    default: return S_PARK_TIMER;
    }
}

static void
s_add_dir(zr__engine_t *self, int which, void *src, zr__sockstats_t *in,
          void *dst, zr__sockstats_t *out)
{
    s_dir_t *d = &self->dirs[self->ndirs++];
    memset(d, 0, sizeof *d);
    d->which = which;
    d->block_timeout = -1;
    d->src = src;
    d->dst = dst;
    d->in = in;
    d->out = out;
    if (!dst) {
        return;
    }
    int type = s_type(dst);
    d->policy = s_policy_for(type);
    if (type == ZMQ_ROUTER) {
        int on = 1;
        zmq_setsockopt(dst, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    }
}

int
zr__engine_set_sockets(zr__engine_t *self, void *frontend, void *backend)
{
    int ft = s_type(frontend), bt = s_type(backend);
    self->frontend = frontend;
    self->backend = backend;
    self->ndirs = 0;
    /* A socket that receives but whose peer cannot send (an XPUB backend
     * behind a PULL frontend) is still read, as a sink: its queue must not
     * grow, and a handler may want what comes (subscriptions). */
    if (s_can_recv(ft)) {
        s_add_dir(self, ZR__DOWNSTREAM, frontend, &self->front_stats,
                  s_can_send(bt) ? backend : NULL, &self->back_stats);
    }
    if (s_can_recv(bt)) {
        s_add_dir(self, ZR__UPSTREAM, backend, &self->back_stats,
                  s_can_send(ft) ? frontend : NULL, &self->front_stats);
    }
    if (self->ndirs == 0 ||
        (!self->dirs[0].dst && (self->ndirs == 1 || !self->dirs[1].dst))) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

void
zr__engine_set_capture(zr__engine_t *self, void *capture)
{
    self->capture = capture;
}

void
zr__engine_set_control(zr__engine_t *self, void *control)
{
    self->control = control;
}

void
zr__engine_set_identity(zr__engine_t *self, const char *name, const char *type)
{
    free(self->name);
    free(self->type);
    self->name = name ? strdup(name) : NULL;
    self->type = type ? strdup(type) : NULL;
}

void
zr__engine_set_busy_poll(zr__engine_t *self, int usecs)
{
    self->busy_poll_us = usecs;
}

void
zr__engine_set_eintr_returns(zr__engine_t *self, bool returns)
{
    self->eintr_returns = returns;
}

void
zr__engine_set_linger(zr__engine_t *self, int msecs)
{
    self->linger_ms = msecs < 0 ? 0 : msecs;
}

int
zr__engine_watch(zr__engine_t *self, void *socket, void (*fn)(void *),
                 void *arg)
{
    if (self->nwatch == ZR__WATCH_MAX) {
        errno = ENOSPC;
        return -1;
    }
    self->watch[self->nwatch].socket = socket;
    self->watch[self->nwatch].fn = fn;
    self->watch[self->nwatch].arg = arg;
    self->nwatch++;
    return 0;
}

void
zr__engine_set_describe(zr__engine_t *self, void (*fn)(cJSON *, void *),
                        void *arg)
{
    self->describe = fn;
    self->describe_arg = arg;
}

void
zr__engine_set_handler(zr__engine_t *self, const zr__handler_t *handler)
{
    self->handler = *handler;
    for (int i = 0; i < self->ndirs; i++) {
        s_dir_t *d = &self->dirs[i];
        d->handled = handler->message && (handler->dirs & (1u << d->which));
    }
}

static s_dir_t *
s_dir_to(zr__engine_t *self, void *socket)
{
    for (int i = 0; i < self->ndirs; i++) {
        if (self->dirs[i].dst == socket) {
            return &self->dirs[i];
        }
    }
    return NULL;
}

int
zr__engine_inject(zr__engine_t *self, void *socket, zr__msg_t *msg)
{
    s_dir_t *d = socket ? s_dir_to(self, socket) : NULL;
    if (!d) {
        errno = EINVAL;
        return -1;
    }
    s_node_t *node = calloc(1, sizeof *node);
    if (!node) {
        errno = ENOMEM;
        return -1;
    }
    zr__msg_move(&node->msg, msg);
    if (d->queue_tail && d->queue) {
        d->queue_tail->next = node;
    }
    else {
        d->queue = node;
    }
    d->queue_tail = node;
    d->queued++;
    return 0;
}

void
zr__engine_set_block_timeout(zr__engine_t *self, void *socket, int msecs)
{
    s_dir_t *d = s_dir_to(self, socket);
    if (d) {
        d->block_timeout = msecs;
    }
}

int
zr__engine_send_now(zr__engine_t *self, void *socket, zr__msg_t *msg)
{
    s_dir_t *d = s_dir_to(self, socket);
    if (!d || d->mid_out) {
        errno = d ? EAGAIN : EINVAL; /* never inside another message */
        return -1;
    }
    s_tally_t t = {0};
    int rc = 0;
    for (size_t i = 0; i < msg->size; i++) {
        size_t size = zmq_msg_size(&msg->frames[i]);
        int flags = (i + 1 < msg->size ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
        if (zmq_msg_send(&msg->frames[i], socket, flags) < 0) {
            if (i == 0) {
                return -1; /* nothing went: the caller keeps it all */
            }
            rc = -1; /* libzmq fails only the first frame; never half */
            break;
        }
        t.frames_out++;
        t.bytes_out += size;
    }
    t.msgs_out += rc == 0;
    zr__msg_clear(msg);
    s_add_n(&d->out->msgs_out, t.msgs_out);
    s_add_n(&d->out->frames_out, t.frames_out);
    s_add_n(&d->out->bytes_out, t.bytes_out);
    return rc;
}

size_t
zr__engine_queued(const zr__engine_t *self, void *socket)
{
    s_dir_t *d = s_dir_to((zr__engine_t *) self, socket);
    return d ? d->queued : 0;
}

void
zr__engine_set_deadline(zr__engine_t *self, int64_t when)
{
    if (self->deadline < 0 || when < self->deadline) {
        self->deadline = when;
    }
}

void
zr__engine_stop(zr__engine_t *self)
{
    atomic_store(&self->stop, true);
    zr__wake(self->wake[1]);
}

void
zr__engine_pause(zr__engine_t *self, bool pause)
{
    atomic_store(&self->paused, pause);
    zr__wake(self->wake[1]);
}

/* ---------------------------------------------------------------------
 * Moving messages.
 */

static void
s_publish(s_dir_t *d, zr__engine_t *self, const s_tally_t *t)
{
    s_add_n(&d->in->msgs_in, t->msgs_in);
    s_add_n(&d->in->frames_in, t->frames_in);
    s_add_n(&d->in->bytes_in, t->bytes_in);
    s_add_n(&d->out->msgs_out, t->msgs_out);
    s_add_n(&d->out->frames_out, t->frames_out);
    s_add_n(&d->out->bytes_out, t->bytes_out);
    s_add_n(&d->out->drop_no_route, t->no_route);
    s_add_n(&d->out->drop_peer_full, t->peer_full);
    s_add_n(&d->out->drop_error, t->error);
    s_add_n(&d->out->drop_slow, t->slow);
    s_add_n(&self->capture_msgs, t->cap_msgs);
    s_add_n(&self->capture_drops, t->cap_drops);
}

/* Copy of a frame that just went out, to the capture socket. A listener
 * that cannot keep up loses whole messages, counted; it never slows the
 * relay (the capture XPUB has ZMQ_XPUB_NODROP, sends are DONTWAIT). */
static void
s_capture_send(zr__engine_t *self, s_dir_t *d, bool first, bool more,
               s_tally_t *t)
{
    int flags = (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
    if (zmq_msg_send(&self->capframe, self->capture, flags) < 0) {
        d->cap = S_CAP_SKIP;
        t->cap_drops++;
        if (!first) {
            /* Never happens with libzmq's XPUB (it checks the HWM on the
             * first frame), but never leave a half message open there. */
            zmq_msg_t end;
            zmq_msg_init(&end);
            zmq_msg_send(&end, self->capture, ZMQ_DONTWAIT);
            zmq_msg_close(&end);
            self->capture_owner = NULL;
        }
        return;
    }
    if (more) {
        self->capture_owner = d;
    }
    else {
        self->capture_owner = NULL;
        t->cap_msgs++;
    }
}

static int
s_stalled_find(const zr__engine_t *self, const zmq_msg_t *identity)
{
    size_t size = zmq_msg_size((zmq_msg_t *) identity);
    const void *data = zmq_msg_data((zmq_msg_t *) identity);
    for (int i = 0; i < self->nstalled; i++) {
        if (self->stalled[i].size == size &&
            memcmp(self->stalled[i].data, data, size) == 0) {
            return i;
        }
    }
    return -1;
}

static void
s_stalled_add(zr__engine_t *self, const zmq_msg_t *identity)
{
    size_t size = zmq_msg_size((zmq_msg_t *) identity);
    if (size > sizeof self->stalled[0].data) {
        return;
    }
    if (self->nstalled == S_STALLED_MAX) {
        memmove(&self->stalled[0], &self->stalled[1],
                (S_STALLED_MAX - 1) * sizeof self->stalled[0]);
        self->nstalled--;
    }
    s_peer_t *p = &self->stalled[self->nstalled++];
    p->size = size;
    memcpy(p->data, zmq_msg_data((zmq_msg_t *) identity), size);
    ZR_LOG_I("%s: a peer's queue stayed full for %d ms; dropping its "
             "messages until it reads again",
             self->name ? self->name : "relay", S_PEER_GRACE_MS);
}

static void
s_stalled_remove(zr__engine_t *self, int i)
{
    self->stalled[i] = self->stalled[--self->nstalled];
}

static void
s_backoff(s_dir_t *d, int64_t now)
{
    d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : S_BACKOFF_MIN_MS;
    if (d->backoff_ms > S_BACKOFF_MAX_MS) {
        d->backoff_ms = S_BACKOFF_MAX_MS;
    }
    d->retry_at = now + d->backoff_ms;
}

/* Send frame F (MORE: frames follow). S_OK when it went out, S_BLOCKED
 * when it must wait (the caller keeps it), S_DROPPED when the message is
 * dropped and counted (the caller discards the rest), S_TERM when the
 * context ended. */
static s_status_t
s_send_frame(zr__engine_t *self, s_dir_t *d, zmq_msg_t *f, bool more,
             s_tally_t *t)
{
    bool first = !d->mid_out;
    size_t size = zmq_msg_size(f);
    bool cap = false;
    if (self->capture) {
        /* Another direction's message half-way out on capture: skip this
         * one rather than interleave frames. */
        if (first) {
            d->cap = self->capture_owner ? S_CAP_SKIP : S_CAP_ON;
        }
        if (d->cap == S_CAP_ON) {
            cap = zmq_msg_copy(&self->capframe, f) == 0;
        }
    }
    /* A stalled peer that takes a message again is stalled no more. */
    int stalled = self->nstalled && first && d->policy == S_PER_PEER
                      ? s_stalled_find(self, f)
                      : -1;
    int flags = (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
    if (zmq_msg_send(f, d->dst, flags) >= 0) {
        t->frames_out++;
        t->bytes_out += size;
        t->msgs_out += !more;
        d->parked = false;
        d->backoff_ms = 0;
        d->mid_out = more;
        d->congested = false;
        if (stalled >= 0) {
            s_stalled_remove(self, stalled);
        }
        if (cap) {
            s_capture_send(self, d, first, more, t);
        }
        else if (self->capture && first) {
            t->cap_drops++;
        }
        return S_OK;
    }
    int err = errno;
    if (err == ETERM) {
        return S_TERM;
    }
    if (err == EAGAIN || err == EINTR) {
        bool hold = true;
        int64_t now = d->policy == S_PARK_POLL ? 0 : zr__now_ms();
        if (d->policy == S_PER_PEER && first) {
            /* A full peer: hold for the grace period unless it is known
             * to be stalled, then mark it and drop. */
            if (!d->parked) {
                d->parked_at = now;
            }
            if (stalled >= 0) {
                hold = false;
            }
            else if (now - d->parked_at >= S_PEER_GRACE_MS) {
                s_stalled_add(self, f);
                hold = false;
            }
        }
        if (hold && d->block_timeout >= 0 && first) {
            /* An XPUB with ZMQ_XPUB_NODROP: a slow subscriber may hold
             * the others up to block_timeout; then the message goes out
             * the lossy way, and the slow ones miss it (counted). Until a
             * message goes out without loss again, the next ones do not
             * wait: one stalled subscriber costs one timeout, not one per
             * message. */
            if (!d->parked) {
                d->parked_at = now;
            }
            if (d->congested || now - d->parked_at >= d->block_timeout) {
                d->congested = true;
                int off = 0, on = 1;
                zmq_setsockopt(d->dst, ZMQ_XPUB_NODROP, &off, sizeof off);
                int rc = zmq_msg_send(f, d->dst, flags);
                zmq_setsockopt(d->dst, ZMQ_XPUB_NODROP, &on, sizeof on);
                if (rc >= 0) {
                    t->frames_out++;
                    t->bytes_out += size;
                    t->msgs_out += !more;
                    t->slow++;
                    d->parked = false;
                    d->backoff_ms = 0;
                    d->mid_out = more;
                    if (cap) {
                        s_capture_send(self, d, first, more, t);
                    }
                    return S_OK;
                }
            }
        }
        if (hold) {
            d->parked = true;
            if (d->policy != S_PARK_POLL) {
                s_backoff(d, now);
            }
            return S_BLOCKED;
        }
    }
    /* Drop the whole message: this frame and whatever is left of it. */
    if (err == EHOSTUNREACH) {
        t->no_route++;
    }
    else if (err == EAGAIN) {
        t->peer_full++;
    }
    else {
        t->error++;
        ZR_LOG_D("engine: send failed (%s), message dropped",
                 zmq_strerror(err));
    }
    d->parked = false;
    d->backoff_ms = 0;
    d->mid_out = false;
    return S_DROPPED;
}

/* Send the rest of the message in d->out_msg. */
static s_status_t
s_send_out(zr__engine_t *self, s_dir_t *d, s_tally_t *t)
{
    while (d->out_next < d->out_msg.size) {
        size_t i = d->out_next;
        s_status_t st = s_send_frame(self, d, &d->out_msg.frames[i],
                                     i + 1 < d->out_msg.size, t);
        if (st == S_OK) {
            d->out_next++;
            continue;
        }
        if (st != S_DROPPED) {
            return st;
        }
        break;
    }
    zr__msg_clear(&d->out_msg);
    d->out_next = 0;
    return S_OK;
}

/* Receive one whole message into d->in_msg. S_OK, S_DRY, S_TERM. */
static s_status_t
s_recv_msg(s_dir_t *d, s_tally_t *t)
{
    for (;;) {
        zr__msg_t *m = &d->in_msg;
        if (zr__msg_reserve(m, m->size + 1) != 0) {
            return S_DRY; /* out of memory: try again later */
        }
        zmq_msg_t *f = &m->frames[m->size];
        zmq_msg_init(f);
        if (zmq_msg_recv(f, d->src, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(f);
            return errno == ETERM ? S_TERM : S_DRY;
        }
        m->size++;
        t->frames_in++;
        t->bytes_in += zmq_msg_size(f);
        if (!zmq_msg_more(f)) {
            t->msgs_in++;
            return S_OK;
        }
    }
}

/* The message path: what is in hand, then injected messages, then (for a
 * handled direction or a sink) new messages, each whole. */
static s_status_t
s_pump_msg(zr__engine_t *self, s_dir_t *d, int budget)
{
    s_tally_t t = {0};
    s_status_t status = S_DRY;
    if (d->out_msg.size && (status = s_send_out(self, d, &t)) != S_OK) {
        goto done;
    }
    while (d->queue) {
        s_node_t *node = d->queue;
        d->queue = node->next;
        d->queued--;
        zr__msg_t spare = d->out_msg; /* empty, keeps its array */
        d->out_msg = node->msg;
        d->out_next = 0;
        zr__msg_destroy(&spare);
        free(node);
        if ((status = s_send_out(self, d, &t)) != S_OK) {
            goto done;
        }
    }
    if (!d->handled && d->dst) {
        status = S_BUSY; /* back to the direct path */
        goto done;
    }
    for (int n = 0;; n++) {
        if (n >= budget) {
            status = S_BUSY;
            break;
        }
        status = s_recv_msg(d, &t);
        if (status != S_OK) {
            break; /* a partial message stays in in_msg until the rest */
        }
        zr__verdict_t v =
            d->handled
                ? self->handler.message(self->handler.arg, d->which, &d->in_msg)
                : ZR__DROP;
        if (v == ZR__SEND && d->dst) {
            zr__msg_t spare = d->out_msg;
            d->out_msg = d->in_msg;
            d->in_msg = spare;
            d->out_next = 0;
            if ((status = s_send_out(self, d, &t)) != S_OK) {
                break;
            }
        }
        else if (v != ZR__TAKEN) {
            zr__msg_clear(&d->in_msg);
        }
    }
done:
    s_publish(d, self, &t);
    return status;
}

/* Move messages from d->src to d->dst until the source runs dry, the
 * destination blocks, or BUDGET messages went (never stopping inside a
 * message). The direct path: frame by frame, no handler, no copy. */
static s_status_t
s_pump(zr__engine_t *self, s_dir_t *d, int budget)
{
    bool direct_busy =
        d->mid_in || d->dropping || (d->parked && !d->out_msg.size);
    if (!direct_busy &&
        (d->handled || !d->dst || d->out_msg.size || d->queue)) {
        return s_pump_msg(self, d, budget);
    }
    s_tally_t t = {0};
    s_status_t status = S_DRY;
    if (d->parked) {
        status = s_send_frame(self, d, &d->frame, zmq_msg_more(&d->frame), &t);
        if (status == S_DROPPED) {
            d->dropping = d->mid_in;
            zmq_msg_close(&d->frame);
            zmq_msg_init(&d->frame);
        }
        else if (status != S_OK) {
            goto done;
        }
    }
    for (int n = 0;;) {
        if (!d->mid_in && n >= budget) {
            status = S_BUSY;
            break;
        }
        if (!d->mid_in && !d->dropping && d->queue) {
            status = S_BUSY; /* injected messages go next */
            break;
        }
        if (zmq_msg_recv(&d->frame, d->src, ZMQ_DONTWAIT) < 0) {
            status = errno == ETERM ? S_TERM : S_DRY;
            break;
        }
        size_t size = zmq_msg_size(&d->frame);
        d->mid_in = zmq_msg_more(&d->frame);
        t.frames_in++;
        t.bytes_in += size;
        if (!d->mid_in) {
            t.msgs_in++;
            n++;
        }
        if (d->dropping) {
            d->dropping = d->mid_in;
            continue;
        }
        status = s_send_frame(self, d, &d->frame, d->mid_in, &t);
        if (status == S_DROPPED) {
            d->dropping = d->mid_in;
            zmq_msg_close(&d->frame);
            zmq_msg_init(&d->frame);
            status = S_OK;
        }
        else if (status != S_OK) {
            break;
        }
    }
done:
    s_publish(d, self, &t);
    return status;
}

static bool
s_has_input(void *socket)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(socket, ZMQ_EVENTS, &events, &len) == 0 &&
           (events & ZMQ_POLLIN);
}

static void
s_serve_control(zr__engine_t *self)
{
    while (s_has_input(self->control)) {
        zr__ctl_serve(self, self->control);
    }
}

/* The capture XPUB receives its listeners' subscriptions; read them so
 * they do not pile up. */
static void
s_drain(void *socket)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    while (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) >= 0) {
    }
    zmq_msg_close(&msg);
}

/* Add SOCKET/EVENTS to the poll set, merging with an item for the same
 * socket (a queue's frontend is read by one direction, written by the
 * other). */
static int
s_poll_add(zmq_pollitem_t *items, int n, void *socket, short events)
{
    for (int i = 0; i < n; i++) {
        if (items[i].socket == socket) {
            items[i].events |= events;
            return n;
        }
    }
    items[n] = (zmq_pollitem_t){.socket = socket, .events = events};
    return n + 1;
}

static bool
s_holding(const s_dir_t *d)
{
    return d->dst && (d->parked || d->mid_in || d->out_msg.size || d->queue);
}

/* At stop: the handler hands back what it holds; deliver that and the
 * messages in hand within the linger time, and count what could not be. */
static void
s_finish(zr__engine_t *self)
{
    if (self->handler.flush) {
        self->handler.flush(self->handler.arg);
    }
    int64_t deadline = zr__now_ms() + self->linger_ms;
    for (;;) {
        zmq_pollitem_t items[2];
        int n = 0;
        long timeout = -1;
        for (int i = 0; i < self->ndirs; i++) {
            s_dir_t *d = &self->dirs[i];
            if (!s_holding(d)) {
                continue;
            }
            /* Budget 0: finish what is held, read nothing new. */
            bool handled = d->handled;
            d->handled = true;
            s_status_t st = s_pump(self, d, 0);
            d->handled = handled;
            if (st == S_BLOCKED) {
                if (d->policy == S_PARK_POLL) {
                    n = s_poll_add(items, n, d->dst, ZMQ_POLLOUT);
                }
                else {
                    timeout = d->backoff_ms;
                }
            }
        }
        int64_t left = deadline - zr__now_ms();
        if ((n == 0 && timeout < 0) || left <= 0) {
            break;
        }
        if (timeout < 0 || timeout > left) {
            timeout = left;
        }
        if (zmq_poll(items, n, timeout) < 0 && errno == ETERM) {
            break;
        }
    }
    size_t lost = 0;
    for (int i = 0; i < self->ndirs; i++) {
        s_dir_t *d = &self->dirs[i];
        if (!s_holding(d)) {
            continue;
        }
        size_t held = d->queued +
                      ((d->parked || d->mid_in) && !d->out_msg.size ? 1 : 0) +
                      (d->out_msg.size ? 1 : 0);
        s_add_n(&d->out->drop_shutdown, held);
        lost += held;
    }
    if (lost) {
        ZR_LOG_W("%s: stopped with %zu message(s) undelivered after %d ms "
                 "linger",
                 self->name ? self->name : "relay", lost, self->linger_ms);
    }
}

static int64_t
s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t
s_frames_in(zr__engine_t *self)
{
    return zr__stat_get(&self->front_stats.frames_in) +
           zr__stat_get(&self->back_stats.frames_in);
}

/* Busy polling: after a wake-up that brought little (a request, not a
 * stream: streams keep the loop busy anyway), keep pumping for a while
 * instead of paying a thread wake-up for the next message. True when
 * something moved. */
#define S_SPIN_WHEN_UNDER 16
static bool
s_spin(zr__engine_t *self, s_status_t *term)
{
    uint64_t frames = s_frames_in(self);
    bool little = frames - self->frames_at_poll < S_SPIN_WHEN_UNDER;
    self->frames_at_poll = frames;
    if (!little) {
        return false;
    }
    for (int i = 0; i < self->ndirs; i++) {
        if (self->dirs[i].parked) {
            return false;
        }
    }
    int64_t until = s_now_us() + self->busy_poll_us;
    while (s_now_us() < until &&
           !atomic_load_explicit(&self->stop, memory_order_relaxed)) {
        for (int i = 0; i < self->ndirs; i++) {
            s_status_t st = s_pump(self, &self->dirs[i], S_BURST);
            if (st == S_TERM) {
                *term = st;
                return true;
            }
            if (st != S_DRY) {
                return true;
            }
        }
        if (s_frames_in(self) != frames) {
            return true;
        }
        if ((self->control && s_has_input(self->control))) {
            return true;
        }
    }
    return false;
}

static uint64_t
s_thread_cpu_ns(pthread_t thread)
{
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(thread, &cid) != 0 ||
        clock_gettime(cid, &ts) != 0) {
        return 0;
    }
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

int
zr__engine_run(zr__engine_t *self)
{
    self->thread = pthread_self();
    atomic_store(&self->running, true);
    for (int i = 0; i < self->ndirs; i++) {
        zmq_msg_init(&self->dirs[i].frame);
    }
    zmq_msg_init(&self->capframe);
    zr__wake_drain(self->wake[0]);
    int rc = 0;
    int err = 0;

    while (!atomic_load_explicit(&self->stop, memory_order_relaxed)) {
        bool paused = atomic_load_explicit(&self->paused, memory_order_relaxed);
        bool busy = false;
        int64_t now = 0;
        long timeout = -1;
        zmq_pollitem_t items[6 + ZR__WATCH_MAX];
        int n = 0;

        if (self->deadline >= 0) {
            now = zr__now_ms();
            if (now >= self->deadline) {
                self->deadline = -1;
                int64_t next = self->handler.timer(self->handler.arg, now);
                zr__engine_set_deadline(self, next);
            }
            if (self->deadline >= 0) {
                timeout =
                    (long) (self->deadline > now ? self->deadline - now : 0);
            }
        }
        if (!paused) {
            for (int i = 0; i < self->ndirs; i++) {
                s_dir_t *d = &self->dirs[i];
                if (d->parked && d->policy != S_PARK_POLL) {
                    now = now ? now : zr__now_ms();
                    if (now < d->retry_at) {
                        long wait = (long) (d->retry_at - now);
                        timeout =
                            timeout < 0 || wait < timeout ? wait : timeout;
                        continue;
                    }
                }
                s_status_t st = s_pump(self, d, S_BURST);
                if (st == S_TERM) {
                    rc = -1;
                    err = ETERM;
                    goto out;
                }
                if (st == S_BUSY) {
                    busy = true;
                }
                else if (st == S_BLOCKED) {
                    if (d->policy == S_PARK_POLL) {
                        n = s_poll_add(items, n, d->dst, ZMQ_POLLOUT);
                    }
                    else if (timeout < 0 || d->backoff_ms < timeout) {
                        timeout = d->backoff_ms;
                    }
                }
                else {
                    n = s_poll_add(items, n, d->src, ZMQ_POLLIN);
                }
            }
        }
        /* A handler may have injected messages for any direction. */
        for (int i = 0; i < self->ndirs && !paused; i++) {
            if (self->dirs[i].queue && !self->dirs[i].parked) {
                busy = true;
            }
        }
        if (busy) {
            /* Data keeps coming: no poll, but never starve the control
             * socket. ZMQ_EVENTS is cheap next to a burst. */
            if (self->control) {
                s_serve_control(self);
            }
            if (self->capture && s_has_input(self->capture)) {
                s_drain(self->capture);
            }
            for (int i = 0; i < self->nwatch; i++) {
                if (s_has_input(self->watch[i].socket)) {
                    self->watch[i].fn(self->watch[i].arg);
                }
            }
            continue;
        }
        if (self->busy_poll_us > 0 && !paused && timeout < 0) {
            s_status_t term = S_OK;
            bool moved = s_spin(self, &term);
            if (term == S_TERM) {
                rc = -1;
                err = ETERM;
                goto out;
            }
            if (moved) {
                continue;
            }
        }
        int ctl_item = -1, cap_item = -1;
        if (self->control) {
            ctl_item = n;
            n = s_poll_add(items, n, self->control, ZMQ_POLLIN);
        }
        if (self->capture) {
            cap_item = n;
            n = s_poll_add(items, n, self->capture, ZMQ_POLLIN);
        }
        int watch_item = n;
        for (int i = 0; i < self->nwatch; i++) {
            items[n++] = (zmq_pollitem_t){.socket = self->watch[i].socket,
                                          .events = ZMQ_POLLIN};
        }
        items[n++] =
            (zmq_pollitem_t){.fd = self->wake[0], .events = ZMQ_POLLIN};
        s_add_n(&self->polls, 1);
        atomic_store_explicit(&self->waiting, true, memory_order_release);
        int rc_poll = zmq_poll(items, n, timeout);
        atomic_store_explicit(&self->waiting, false, memory_order_relaxed);
        if (rc_poll < 0) {
            if (errno == ETERM) {
                rc = -1;
                err = ETERM;
                break;
            }
            if (self->eintr_returns) {
                /* zr_proxy, like zmq_proxy: a signal ends it. */
                rc = -1;
                err = EINTR;
                break;
            }
            continue; /* EINTR: a signal; the stop flag says what to do */
        }
        if (ctl_item >= 0 && (items[ctl_item].revents & ZMQ_POLLIN)) {
            s_serve_control(self);
        }
        if (cap_item >= 0 && (items[cap_item].revents & ZMQ_POLLIN)) {
            s_drain(self->capture);
        }
        for (int i = 0; i < self->nwatch; i++) {
            if (items[watch_item + i].revents & ZMQ_POLLIN) {
                self->watch[i].fn(self->watch[i].arg);
            }
        }
        if (items[n - 1].revents & ZMQ_POLLIN) {
            zr__wake_drain(self->wake[0]);
        }
    }
out:
    if (err != ETERM) {
        s_finish(self);
    }
    for (int i = 0; i < self->ndirs; i++) {
        s_dir_t *d = &self->dirs[i];
        zmq_msg_close(&d->frame);
        d->parked = false;
        d->mid_in = d->mid_out = false;
        d->dropping = false;
        zr__msg_clear(&d->in_msg);
        zr__msg_clear(&d->out_msg);
        d->out_next = 0;
    }
    zmq_msg_close(&self->capframe);
    self->capture_owner = NULL;
    atomic_store(&self->cpu_ns, s_thread_cpu_ns(self->thread));
    atomic_store(&self->running, false);
    if (rc != 0) {
        errno = err;
    }
    return rc;
}

/* ---------------------------------------------------------------------
 * Counters.
 */

static void
s_sockstats(const zr__sockstats_t *s, zr_socket_stats_t *out)
{
    zr__sockstats_t *m = (zr__sockstats_t *) s;
    out->msgs_in = zr__stat_get(&m->msgs_in);
    out->frames_in = zr__stat_get(&m->frames_in);
    out->bytes_in = zr__stat_get(&m->bytes_in);
    out->msgs_out = zr__stat_get(&m->msgs_out);
    out->frames_out = zr__stat_get(&m->frames_out);
    out->bytes_out = zr__stat_get(&m->bytes_out);
    out->drop_no_route = zr__stat_get(&m->drop_no_route);
    out->drop_peer_full = zr__stat_get(&m->drop_peer_full);
    out->drop_error = zr__stat_get(&m->drop_error);
    out->drop_shutdown = zr__stat_get(&m->drop_shutdown);
    out->drop_slow = zr__stat_get(&m->drop_slow);
}

bool
zr__engine_paused(const zr__engine_t *self)
{
    return atomic_load(&((zr__engine_t *) self)->paused);
}

const char *
zr__engine_name(const zr__engine_t *self)
{
    return self->name ? self->name : "proxy";
}

void
zr__engine_count_control(zr__engine_t *self, bool ok)
{
    s_add_n(ok ? &self->control_cmds : &self->control_errors, 1);
}

void
zr__engine_stats(const zr__engine_t *self, zr_stats_t *stats)
{
    zr__engine_t *m = (zr__engine_t *) self;
    memset(stats, 0, sizeof *stats);
    /* First the flag, then the counters it vouches for. */
    stats->waiting = atomic_load_explicit(&m->waiting, memory_order_acquire);
    stats->polls = zr__stat_get(&m->polls);
    s_sockstats(&self->front_stats, &stats->frontend);
    s_sockstats(&self->back_stats, &stats->backend);
    stats->capture_msgs = zr__stat_get(&m->capture_msgs);
    stats->capture_drops = zr__stat_get(&m->capture_drops);
    stats->control_cmds = zr__stat_get(&m->control_cmds);
    stats->control_errors = zr__stat_get(&m->control_errors);
    stats->paused = atomic_load(&m->paused);
    stats->running = atomic_load(&m->running);
    stats->cpu_ns = stats->running ? s_thread_cpu_ns(self->thread)
                                   : atomic_load(&m->cpu_ns);
}

static cJSON *
s_sockstats_json(const zr_socket_stats_t *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "msgs_in", (double) s->msgs_in);
    cJSON_AddNumberToObject(o, "frames_in", (double) s->frames_in);
    cJSON_AddNumberToObject(o, "bytes_in", (double) s->bytes_in);
    cJSON_AddNumberToObject(o, "msgs_out", (double) s->msgs_out);
    cJSON_AddNumberToObject(o, "frames_out", (double) s->frames_out);
    cJSON_AddNumberToObject(o, "bytes_out", (double) s->bytes_out);
    cJSON *drops = cJSON_AddObjectToObject(o, "drops");
    cJSON_AddNumberToObject(drops, "no_route", (double) s->drop_no_route);
    cJSON_AddNumberToObject(drops, "peer_full", (double) s->drop_peer_full);
    cJSON_AddNumberToObject(drops, "error", (double) s->drop_error);
    cJSON_AddNumberToObject(drops, "shutdown", (double) s->drop_shutdown);
    cJSON_AddNumberToObject(drops, "slow_subscriber", (double) s->drop_slow);
    return o;
}

char *
zr__engine_stats_json(const zr__engine_t *self)
{
    zr_stats_t st;
    zr__engine_stats(self, &st);
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        return NULL;
    }
    cJSON_AddStringToObject(o, "name", self->name ? self->name : "proxy");
    cJSON_AddStringToObject(o, "type", self->type ? self->type : "proxy");
    cJSON_AddStringToObject(o, "state",
                            !st.running ? "stopped"
                            : st.paused ? "paused"
                                        : "running");
    cJSON_AddItemToObject(o, "frontend", s_sockstats_json(&st.frontend));
    cJSON_AddItemToObject(o, "backend", s_sockstats_json(&st.backend));
    cJSON *cap = cJSON_AddObjectToObject(o, "capture");
    cJSON_AddBoolToObject(cap, "enabled", self->capture != NULL);
    cJSON_AddNumberToObject(cap, "msgs", (double) st.capture_msgs);
    cJSON_AddNumberToObject(cap, "drops", (double) st.capture_drops);
    cJSON *ctl = cJSON_AddObjectToObject(o, "control");
    cJSON_AddNumberToObject(ctl, "commands", (double) st.control_cmds);
    cJSON_AddNumberToObject(ctl, "errors", (double) st.control_errors);
    cJSON_AddNumberToObject(o, "polls", (double) st.polls);
    cJSON_AddNumberToObject(o, "cpu_seconds", (double) st.cpu_ns / 1e9);
    if (self->describe) {
        self->describe(o, self->describe_arg);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
