/* engine.c - the loop that moves messages: whole multipart messages from
 * one socket to another, never blocking, counting everything.
 * SPDX-License-Identifier: MIT
 *
 * A device has up to two directions, frontend to backend and back. Each
 * reads its source with ZMQ_DONTWAIT in bursts and hands every message to
 * the outlet of its destination (outlet.c), the one way out, which sends
 * it whole or holds it. While an outlet holds a message, its direction
 * reads nothing more: backpressure reaches the producer through the
 * source socket's own queue, and the relay holds at most one message per
 * direction (plus what a handler injected), never a copy.
 *
 * The direct path: a direction no handler looks at moves single frames
 * without a callback or an allocation; a multipart message is read whole
 * first (libzmq makes a message readable only once all of it arrived).
 *
 * When to poll: only when every direction ran dry or is blocked. While a
 * socket has data the loop drains it in bursts without waiting, which is
 * what makes it faster than zmq_proxy's poll-per-burst loop; and it waits
 * in zr__poll (poll.c), which looks at each socket once per sleep where
 * zmq_poll looks three times.
 *
 * Stopping (s_finish): a device first closes its intake (the one-way
 * devices unbind and disconnect their frontend, so producers keep what
 * they have not sent yet), then delivers what its sockets hold within the
 * linger time, and counts every message it could not deliver
 * (drops.shutdown), reading what is left in its sources to count it.
 */
#include "zr_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Messages per direction per turn: bounds how long one busy direction can
 * keep the other (and the control socket) waiting. */
#define S_BURST 1024
/* At stop, messages read from a source just to count them, at most: the
 * sources are closed or quiet by then; this only bounds a producer that
 * keeps sending over inproc. */
#define S_COUNT_MAX 1000000

typedef enum { S_OK, S_DRY, S_BUSY, S_BLOCKED, S_TERM } s_status_t;

typedef struct {
    int which;                    /* ZR__DOWNSTREAM or ZR__UPSTREAM */
    void *src;                    /* read from */
    zr__outlet_t *out;            /* sent on; NULL: a sink, read only */
    zr__sockstats_t *in_stats;    /* the source socket's counters */
    zr__sockstats_t *out_stats;   /* the destination socket's */
    bool handled;                 /* a handler sees its messages */
    zmq_msg_t frame;              /* the frame in hand on the direct path */
    bool frame_held;              /* it starts a message not yet taken */
    zr__msg_t in_msg;             /* a message being read whole */
    uint64_t msgs, frames, bytes; /* read, not yet published */
    unsigned dry_turns;           /* turns in a row it had nothing */
    uint64_t drained;             /* times it was read until it had none */
    /* [limits] The bounds of one whole message (UINT64_MAX: none), what
     * the one being read has so far, and messages dropped for going over
     * them, not yet published. */
    uint64_t max_frames, max_bytes, msg_bytes, too_big;
    bool skipping; /* reading the rest of a message over them, to drop */
    /* [limits] unended.c, while it looks for a connection stuck in an
     * unended message: SEEN(ARG, frame) on the last frame of each
     * message read; PARKED: the outlet held a message since it asked. */
    void (*seen)(void *arg, zmq_msg_t *frame);
    void *seen_arg;
    bool parked;
} s_dir_t;

/* A side socket the loop serves: FN(ARG) when it has input. */
typedef struct {
    void *socket;
    void (*fn)(void *);
    void *arg;
} s_watch_t;

struct zr__engine_t {
    void *frontend, *backend;
    zr__capture_t *capture;
    s_dir_t dirs[2];
    int ndirs;
    zr__sockstats_t front_stats, back_stats;
    _Atomic uint64_t polls;
    atomic_bool waiting; /* in zr__poll, counters published */
    atomic_bool stop;
    atomic_bool paused;
    atomic_bool running;
    _Atomic uint64_t cpu_ns; /* final CPU time once the loop ended */
    pthread_t thread;
    int wake[2]; /* self-pipe: stop/pause from other threads or signals */
    int linger_ms;
    bool drain; /* at stop, read what the sources hold (devices do) */
    void (*close_intake)(void *);
    void *intake_arg;
    char *name, *type;
    s_watch_t watch[ZR__WATCH_MAX], lazy[ZR__WATCH_MAX];
    int nwatch, nlazy;
    int64_t lazy_at; /* when the lazy watches are served next */
    unsigned lazy_turns;
    zr__handler_t handler;
    int64_t deadline; /* of the handler's timer, -1: none */
    /* [ha] A timer of its own beside the handler's (ha.c), and standby:
     * while STANDBY_FN is set the frontend's requests are not moved;
     * STANDBY_FN(ARG) is called when it has input instead. */
    int64_t (*tick_fn)(void *, int64_t);
    void *tick_arg;
    int64_t tick_at;
    void (*standby_fn)(void *);
    void *standby_arg;
    bool eintr_returns;
    unsigned turns;          /* turns of the loop, for S_DRY_EVERY */
    bool streak;             /* the last turn was busy: no poll since */
    int busy_poll_us;        /* spin this long before sleeping (0: never) */
    uint64_t frames_at_poll; /* frames read when it last went to sleep */
    uint64_t max_frames, max_bytes; /* [limits] of a whole message */
};

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
    self->max_frames = self->max_bytes = UINT64_MAX;
    return self;
}

static void
s_clear_dirs(zr__engine_t *self)
{
    for (int i = 0; i < self->ndirs; i++) {
        zr__outlet_destroy(&self->dirs[i].out);
        zr__msg_destroy(&self->dirs[i].in_msg);
    }
    self->ndirs = 0;
}

void
zr__engine_destroy(zr__engine_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__engine_t *self = *self_p;
    s_clear_dirs(self);
    zr__capture_destroy(&self->capture);
    close(self->wake[0]);
    close(self->wake[1]);
    free(self->name);
    free(self->type);
    free(self);
    *self_p = NULL;
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

static int
s_add_dir(zr__engine_t *self, int which, void *src, zr__sockstats_t *in,
          void *dst, zr__sockstats_t *out)
{
    s_dir_t *d = &self->dirs[self->ndirs++];
    memset(d, 0, sizeof *d);
    d->which = which;
    d->src = src;
    d->in_stats = in;
    d->out_stats = out;
    d->handled = self->handler.message && (self->handler.dirs & (1u << which));
    d->max_frames = self->max_frames;
    d->max_bytes = self->max_bytes;
    if (dst) {
        d->out = zr__outlet_new(dst, out, self->capture, self->name);
        if (!d->out) {
            return -1;
        }
        zr__outlet_set_way(d->out,
                           which == ZR__DOWNSTREAM ? "backend" : "frontend");
    }
    return 0;
}

int
zr__engine_set_sockets(zr__engine_t *self, void *frontend, void *backend)
{
    int ft = zr__socket_type(frontend), bt = zr__socket_type(backend);
    s_clear_dirs(self);
    self->frontend = frontend;
    self->backend = backend;
    /* A socket that receives but whose peer cannot send (an XPUB backend
     * behind a PULL frontend) is still read, as a sink: its queue must not
     * grow, and a handler may want what comes (subscriptions). */
    int rc = 0;
    if (frontend == backend) {
        /* One socket both ways (a majordomo's ROUTER): one direction that
         * reads it and sends on it, so its one outlet holds whatever the
         * socket refused and the socket's counters are one set. */
        if (!s_can_recv(ft) || !s_can_send(ft) ||
            s_add_dir(self, ZR__DOWNSTREAM, frontend, &self->front_stats,
                      frontend, &self->front_stats) != 0) {
            int err = self->ndirs ? ENOMEM : EINVAL;
            s_clear_dirs(self);
            errno = err;
            return -1;
        }
        zr__outlet_set_way(self->dirs[0].out, "frontend");
        return 0;
    }
    if (s_can_recv(ft)) {
        rc |= s_add_dir(self, ZR__DOWNSTREAM, frontend, &self->front_stats,
                        s_can_send(bt) ? backend : NULL, &self->back_stats);
    }
    if (s_can_recv(bt)) {
        rc |= s_add_dir(self, ZR__UPSTREAM, backend, &self->back_stats,
                        s_can_send(ft) ? frontend : NULL, &self->front_stats);
    }
    if (rc != 0) {
        s_clear_dirs(self);
        errno = ENOMEM;
        return -1;
    }
    if (self->ndirs == 0 ||
        (!self->dirs[0].out && (self->ndirs == 1 || !self->dirs[1].out))) {
        s_clear_dirs(self);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

void
zr__engine_set_capture(zr__engine_t *self, void *capture)
{
    zr__capture_destroy(&self->capture);
    if (capture) {
        self->capture = zr__capture_new(capture);
    }
    for (int i = 0; i < self->ndirs; i++) {
        if (self->dirs[i].out) {
            zr__outlet_set_capture(self->dirs[i].out, self->capture);
        }
    }
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
zr__engine_set_msg_limits(zr__engine_t *self, uint64_t max_frames,
                          uint64_t max_bytes)
{
    self->max_frames = max_frames ? max_frames : UINT64_MAX;
    self->max_bytes = max_bytes ? max_bytes : UINT64_MAX;
    for (int i = 0; i < self->ndirs; i++) {
        self->dirs[i].max_frames = self->max_frames;
        self->dirs[i].max_bytes = self->max_bytes;
    }
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

void
zr__engine_set_drain(zr__engine_t *self, void (*close_intake)(void *),
                     void *arg)
{
    self->drain = true;
    self->close_intake = close_intake;
    self->intake_arg = arg;
}

static int
s_watch_add(s_watch_t *list, int *n, void *socket, void (*fn)(void *),
            void *arg)
{
    if (*n == ZR__WATCH_MAX) {
        errno = ENOSPC;
        return -1;
    }
    list[(*n)++] = (s_watch_t){socket, fn, arg};
    return 0;
}

int
zr__engine_watch(zr__engine_t *self, void *socket, void (*fn)(void *),
                 void *arg)
{
    return s_watch_add(self->watch, &self->nwatch, socket, fn, arg);
}

int
zr__engine_watch_lazy(zr__engine_t *self, void *socket, void (*fn)(void *),
                      void *arg)
{
    return s_watch_add(self->lazy, &self->nlazy, socket, fn, arg);
}

static s_dir_t *
s_dir_reading(zr__engine_t *self, void *socket)
{
    for (int i = 0; i < self->ndirs; i++) {
        if (self->dirs[i].src == socket) {
            return &self->dirs[i];
        }
    }
    return NULL;
}

void
zr__engine_track(zr__engine_t *self, void *socket,
                 void (*seen)(void *, zmq_msg_t *), void *arg)
{
    s_dir_t *d = s_dir_reading(self, socket);
    if (d) {
        d->seen = seen;
        d->seen_arg = arg;
    }
}

bool
zr__engine_parked(zr__engine_t *self, void *socket)
{
    s_dir_t *d = s_dir_reading(self, socket);
    if (!d) {
        return true; /* not read at all */
    }
    bool parked = d->parked ||
                  atomic_load_explicit(&self->paused, memory_order_relaxed) ||
                  (d->out && zr__outlet_holding(d->out));
    d->parked = false;
    return parked;
}

uint64_t
zr__engine_drained(zr__engine_t *self, void *socket)
{
    s_dir_t *d = s_dir_reading(self, socket);
    return d ? d->drained : 0;
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

/* The outlet that sends on SOCKET, or NULL. */
static zr__outlet_t *
s_outlet(const zr__engine_t *self, void *socket)
{
    for (int i = 0; socket && i < self->ndirs; i++) {
        zr__outlet_t *o = self->dirs[i].out;
        if (o && zr__outlet_socket(o) == socket) {
            return o;
        }
    }
    return NULL;
}

int
zr__engine_inject(zr__engine_t *self, void *socket, zr__msg_t *msg)
{
    zr__outlet_t *o = s_outlet(self, socket);
    if (!o) {
        errno = EINVAL;
        return -1;
    }
    return zr__outlet_queue(o, msg);
}

void
zr__engine_set_block_timeout(zr__engine_t *self, void *socket, int msecs)
{
    zr__outlet_t *o = s_outlet(self, socket);
    if (o) {
        zr__outlet_set_block_timeout(o, msecs);
    }
}

static int
s_send_now(zr__engine_t *self, void *socket, zr__msg_t *msg, bool lossy_ok)
{
    zr__outlet_t *o = s_outlet(self, socket);
    if (!o) {
        errno = EINVAL;
        return -1;
    }
    return lossy_ok ? zr__outlet_send_now_lossy(o, msg)
                    : zr__outlet_send_now(o, msg);
}

int
zr__engine_send_now(zr__engine_t *self, void *socket, zr__msg_t *msg)
{
    return s_send_now(self, socket, msg, false);
}

int
zr__engine_send_now_lossy(zr__engine_t *self, void *socket, zr__msg_t *msg)
{
    return s_send_now(self, socket, msg, true);
}

bool
zr__engine_holds_topic(const zr__engine_t *self, void *socket,
                       const void *topic, size_t size)
{
    zr__outlet_t *o = s_outlet(self, socket);
    return o && zr__outlet_holds_topic(o, topic, size);
}

size_t
zr__engine_queued(const zr__engine_t *self, void *socket)
{
    zr__outlet_t *o = s_outlet(self, socket);
    return o ? zr__outlet_queued(o) : 0;
}

void
zr__engine_set_deadline(zr__engine_t *self, int64_t when)
{
    if (when < 0) {
        return; /* "none": another deadline asked for still holds */
    }
    if (self->deadline < 0 || when < self->deadline) {
        self->deadline = when;
    }
}

void
zr__engine_set_ticker(zr__engine_t *self, int64_t (*fn)(void *, int64_t),
                      void *arg)
{
    self->tick_fn = fn;
    self->tick_arg = arg;
    self->tick_at = 0; /* at once, when the loop starts */
}

void
zr__engine_standby(zr__engine_t *self, void (*fn)(void *), void *arg)
{
    self->standby_fn = fn;
    self->standby_arg = arg;
}

bool
zr__engine_standing_by(const zr__engine_t *self)
{
    return self->standby_fn != NULL;
}

/* [ha] D reads the frontend's requests, and they wait (standby). */
static bool
s_standby(const zr__engine_t *self, const s_dir_t *d)
{
    return self->standby_fn && d->which == ZR__DOWNSTREAM &&
           d->src == self->frontend;
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
s_publish(s_dir_t *d)
{
    if (d->msgs || d->frames) {
        zr__stat_add(&d->in_stats->msgs_in, d->msgs);
        zr__stat_add(&d->in_stats->frames_in, d->frames);
        zr__stat_add(&d->in_stats->bytes_in, d->bytes);
        d->msgs = d->frames = d->bytes = 0;
    }
    if (d->too_big) {
        zr__stat_add(&d->in_stats->drop_too_big, d->too_big);
        d->too_big = 0;
    }
    if (d->out) {
        zr__outlet_publish(d->out);
    }
}

/* [limits] The message being read went over max_frames or max_bytes:
 * let go of what was read of it and drop the rest as it comes. libzmq
 * makes a message readable only once all of it arrived, so its frames
 * were in libzmq's queue by then; what this bounds is the relay's own
 * copy and what it would pass on. */
static void
s_too_big(s_dir_t *d)
{
    zr__msg_clear(&d->in_msg);
    d->skipping = true;
}

/* Read the rest of a message into d->in_msg (its first frames may be
 * there already). S_OK once it is whole, S_DRY (a part stays in in_msg
 * until the rest arrives), S_TERM. A message over the limits is read to
 * its end and dropped, counted (drops.too_big), and the next one read. */
static s_status_t
s_recv_msg(s_dir_t *d)
{
    for (;;) {
        zr__msg_t *m = &d->in_msg;
        if (zr__msg_reserve(m, m->size + 1) != 0) {
            return S_DRY; /* out of memory: try again later */
        }
        zmq_msg_t *f = &m->frames[m->size];
        zmq_msg_init(f);
        int size = zmq_msg_recv(f, d->src, ZMQ_DONTWAIT);
        if (size < 0) {
            zmq_msg_close(f);
            return errno == ETERM ? S_TERM : S_DRY;
        }
        m->size++;
        d->frames++;
        d->bytes += (unsigned) size;
        d->msg_bytes += (unsigned) size;
        bool more = zmq_msg_get(f, ZMQ_MORE);
        /* [limits] One compare per frame while a message is in bounds;
         * bytes bound multipart messages (max_msg_size, in libzmq, one
         * frame). */
        if (m->size > d->max_frames || d->skipping ||
            (d->msg_bytes > d->max_bytes && (m->size > 1 || more))) {
            if (!more && d->seen) {
                d->seen(d->seen_arg, f);
            }
            s_too_big(d);
            if (more) {
                continue;
            }
            d->skipping = false;
            d->msg_bytes = 0;
            d->too_big++;
            continue; /* the next message, if there is one */
        }
        if (!more) {
            if (d->seen) {
                d->seen(d->seen_arg, f);
            }
            d->msg_bytes = 0;
            d->msgs++;
            return S_OK;
        }
    }
}

static s_status_t
s_status(zr__out_t out)
{
    return out == ZR__OUT_HELD    ? S_BLOCKED
           : out == ZR__OUT_ENDED ? S_TERM
                                  : S_OK;
}

/* A multipart message on the direct path: the frame in hand starts it. */
static s_status_t
s_direct_multipart(s_dir_t *d)
{
    if (zr__msg_reserve(&d->in_msg, 2) != 0) {
        d->frame_held = true; /* it stays in hand; try again later */
        return S_DRY;
    }
    d->frame_held = false;
    d->msg_bytes = zmq_msg_size(&d->frame);
    zmq_msg_init(&d->in_msg.frames[0]);
    zmq_msg_move(&d->in_msg.frames[0], &d->frame);
    d->in_msg.size = 1;
    s_status_t st = s_recv_msg(d);
    if (st != S_OK) {
        return st;
    }
    return s_status(zr__outlet_send(d->out, &d->in_msg));
}

/* The direct path: no handler. Until the source runs dry, the outlet
 * holds a message, or BUDGET messages went. */
static s_status_t
s_pump_direct(s_dir_t *d, int budget)
{
    for (int n = 0; n < budget; n++) {
        s_status_t st;
        int size;
        if (d->in_msg.size || d->frame_held || d->skipping) {
            /* A message partly read, or a first frame kept in hand. */
            st = d->frame_held ? s_direct_multipart(d) : s_recv_msg(d);
            if (st == S_OK && d->in_msg.size) {
                st = s_status(zr__outlet_send(d->out, &d->in_msg));
            }
        }
        else if ((size = zmq_msg_recv(&d->frame, d->src, ZMQ_DONTWAIT)) < 0) {
            return errno == ETERM ? S_TERM : S_DRY;
        }
        else {
            d->frames++;
            d->bytes += (unsigned) size;
            /* zmq_msg_more without its wrapper: this runs per message. */
            if (zmq_msg_get(&d->frame, ZMQ_MORE)) {
                st = s_direct_multipart(d);
            }
            else {
                d->msgs++;
                if (d->seen) {
                    d->seen(d->seen_arg, &d->frame);
                }
                st = s_status(zr__outlet_send_frame(d->out, &d->frame));
            }
        }
        if (st != S_OK) {
            return st;
        }
    }
    return S_BUSY;
}

/* The message path: whole messages, each shown to the handler (or, for a
 * sink, dropped); what it injects goes before what is read next. */
static s_status_t
s_pump_handled(zr__engine_t *self, s_dir_t *d, int budget)
{
    for (int n = 0; n < budget; n++) {
        s_status_t st = s_recv_msg(d);
        if (st != S_OK) {
            return st;
        }
        zr__verdict_t v =
            d->handled
                ? self->handler.message(self->handler.arg, d->which, &d->in_msg)
                : ZR__DROP;
        if (v == ZR__SEND && d->out) {
            st = s_status(zr__outlet_send(d->out, &d->in_msg));
        }
        else if (v != ZR__TAKEN) {
            zr__msg_clear(&d->in_msg);
        }
        if (st == S_OK && d->out && zr__outlet_holding(d->out)) {
            st = s_status(zr__outlet_flush(d->out));
        }
        if (st != S_OK) {
            return st;
        }
    }
    return S_BUSY;
}

/* Move messages from d->src to its outlet: first what the outlet holds,
 * then (BUDGET > 0) new ones. */
static s_status_t
s_pump(zr__engine_t *self, s_dir_t *d, int budget)
{
    s_status_t st = S_OK;
    if (d->out && zr__outlet_holding(d->out)) {
        st = s_status(zr__outlet_flush(d->out));
    }
    if (st == S_OK) {
        st = budget == 0             ? S_DRY
             : d->handled || !d->out ? s_pump_handled(self, d, budget)
                                     : s_pump_direct(d, budget);
    }
    d->parked |= st == S_BLOCKED;
    s_publish(d);
    return st;
}

static bool
s_has_input(void *socket)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(socket, ZMQ_EVENTS, &events, &len) == 0 &&
           (events & ZMQ_POLLIN);
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

/* A direction whose outlet holds a message: what to wait for. */
static int
s_wait_for(const s_dir_t *d, zmq_pollitem_t *items, int n, long *timeout)
{
    if (zr__outlet_waits_pollout(d->out)) {
        return s_poll_add(items, n, zr__outlet_socket(d->out), ZMQ_POLLOUT);
    }
    long wait = zr__outlet_backoff(d->out);
    if (*timeout < 0 || wait < *timeout) {
        *timeout = wait;
    }
    int fd = zr__outlet_wake_fd(d->out);
    if (fd >= 0) {
        items[n++] = (zmq_pollitem_t){.fd = fd, .events = ZMQ_POLLIN};
    }
    return n;
}

/* After a wait: wake the outlets whose socket signalled (see
 * zr__outlet_wake_fd). */
static void
s_wake_outlets(zr__engine_t *self, const zmq_pollitem_t *items, int n)
{
    for (int i = 0; i < n; i++) {
        if (items[i].socket || !(items[i].revents & ZMQ_POLLIN)) {
            continue;
        }
        for (int k = 0; k < self->ndirs; k++) {
            zr__outlet_t *o = self->dirs[k].out;
            if (o && zr__outlet_blocked(o) &&
                zr__outlet_wake_fd(o) == items[i].fd) {
                zr__outlet_wake(o);
            }
        }
    }
}

/* ---------------------------------------------------------------------
 * Stopping.
 */

/* A handler injected for an outlet that is not blocked (the other
 * direction's, too): nothing but another turn sends it. */
static bool
s_injected(const zr__engine_t *self)
{
    for (int i = 0; i < self->ndirs; i++) {
        zr__outlet_t *o = self->dirs[i].out;
        if (o && zr__outlet_holding(o) && !zr__outlet_blocked(o)) {
            return true;
        }
    }
    return false;
}

static bool
s_holding(const zr__engine_t *self)
{
    for (int i = 0; i < self->ndirs; i++) {
        if (self->dirs[i].out && zr__outlet_holding(self->dirs[i].out)) {
            return true;
        }
    }
    return false;
}

/* At stop: the handler hands back what it holds (zr__engine_inject),
 * also what it took from the messages read while stopping. True when an
 * outlet now has something to send that no wait would wake it for. */
static bool
s_hand_back(zr__engine_t *self)
{
    if (self->handler.flush) {
        self->handler.flush(self->handler.arg);
    }
    return s_injected(self);
}

/* Deliver what the outlets hold and (DRAIN) what the sources still have,
 * until everything is out and no source had anything for QUIET_MS, or
 * DEADLINE. False when the context ended. */
static bool
s_deliver(zr__engine_t *self, int64_t deadline, int quiet_ms)
{
    if (zr__now_ms() >= deadline) {
        return true; /* linger 0: deliver nothing more, count it all */
    }
    for (;;) {
        zmq_pollitem_t items[4];
        int n = 0;
        long timeout = -1;
        bool busy = false;
        for (int i = 0; i < self->ndirs; i++) {
            s_dir_t *d = &self->dirs[i];
            bool drain = self->drain && !s_standby(self, d);
            s_status_t st = s_pump(self, d, drain ? S_BURST : 0);
            if (st == S_TERM) {
                return false;
            }
            busy |= st == S_BUSY;
            if (st == S_BLOCKED) {
                n = s_wait_for(d, items, n, &timeout);
            }
            else if (drain) {
                n = s_poll_add(items, n, d->src, ZMQ_POLLIN);
            }
        }
        busy |= s_hand_back(self);
        int64_t left = deadline - zr__now_ms();
        bool done = !busy && !s_holding(self);
        if (left <= 0 || (done && quiet_ms == 0)) {
            return true;
        }
        if (busy) {
            continue;
        }
        if (done) {
            timeout = quiet_ms; /* wait for more, a little */
        }
        if (timeout < 0 || timeout > left) {
            timeout = (long) left;
        }
        int rc = zr__poll(items, n, timeout);
        if (rc < 0 && errno == ETERM) {
            return false;
        }
        if (rc > 0) {
            s_wake_outlets(self, items, n); /* else the fd stays readable */
        }
        if (rc == 0 && done) {
            return true; /* quiet */
        }
    }
}

/* What is still in a source will never go: read it to count it, at most
 * S_COUNT_MAX. A handler still sees each message: what it would send is
 * counted (on the socket it was for), what it drops (a heartbeat) is
 * not, what it takes it hands back next (s_finish) and that is counted
 * with the outlet's. */
static size_t
s_count_left(zr__engine_t *self, s_dir_t *d)
{
    size_t n = 0;
    zr__msg_clear(&d->in_msg);
    for (size_t read = 0; read < S_COUNT_MAX && s_recv_msg(d) == S_OK; read++) {
        zr__verdict_t v =
            d->handled
                ? self->handler.message(self->handler.arg, d->which, &d->in_msg)
                : ZR__SEND;
        n += v == ZR__SEND && d->out;
        if (v != ZR__TAKEN) {
            zr__msg_clear(&d->in_msg);
        }
    }
    zr__msg_clear(&d->in_msg);
    s_publish(d);
    if (n) {
        zr__stat_add(&d->out_stats->drop_shutdown, n);
    }
    return n;
}

static uint64_t
s_msgs_in(const zr__engine_t *self)
{
    return zr__stat_get(&self->front_stats.msgs_in) +
           zr__stat_get(&self->back_stats.msgs_in);
}

/* How long the sources must stay quiet before a stop closes the intake:
 * longer than any gap between the batches libzmq's I/O thread decodes
 * from a connection whose sender has finished. */
#define S_QUIET_MS 20

/* At stop: let the handler hand back what it holds; deliver what comes
 * until the sources are quiet (at most half the linger time: a producer
 * that has finished or paused loses nothing, not even what is still in
 * the kernel's buffers); close the intake; deliver what is left within
 * the linger time; count what could not be. */
static void
s_finish(zr__engine_t *self, bool ended)
{
    int64_t start = zr__now_ms();
    uint64_t in_before = s_msgs_in(self);
    if (!ended) {
        if (self->drain) {
            ended = !s_deliver(self, start + self->linger_ms / 2, S_QUIET_MS);
        }
        if (!ended && self->close_intake) {
            self->close_intake(self->intake_arg);
        }
        if (!ended) {
            ended = !s_deliver(self, start + self->linger_ms,
                               self->drain ? S_QUIET_MS : 0);
        }
    }
    size_t lost = 0;
    if (!ended) {
        for (int i = 0; self->drain && i < self->ndirs; i++) {
            if (!s_standby(self, &self->dirs[i])) {
                lost += s_count_left(self, &self->dirs[i]);
            }
        }
        s_hand_back(self); /* taken at the deadline: counted below */
    }
    for (int i = 0; i < self->ndirs; i++) {
        if (self->dirs[i].out) {
            lost += zr__outlet_discard(self->dirs[i].out);
        }
    }
    for (int i = 0; i < self->nlazy; i++) {
        self->lazy[i].fn(self->lazy[i].arg); /* the final counts */
    }
    const char *name = self->name ? self->name : "relay";
    uint64_t drained = s_msgs_in(self) - in_before;
    if (lost) {
        ZR_LOG_W("%s: stopped with %zu message(s) undelivered after %d ms "
                 "linger (counted as drops.shutdown); %" PRIu64
                 " read while draining",
                 name, lost, self->linger_ms, drained);
    }
    else if (self->drain) {
        ZR_LOG_I("%s: stopped: every message delivered (%" PRIu64
                 " read while draining, %" PRId64 " ms)",
                 name, drained, zr__now_ms() - start);
    }
}

/* ---------------------------------------------------------------------
 * The loop.
 */

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
    if (!little || s_holding(self)) {
        return false;
    }
    int64_t until = s_now_us() + self->busy_poll_us;
    while (s_now_us() < until &&
           !atomic_load_explicit(&self->stop, memory_order_relaxed)) {
        for (int i = 0; i < self->ndirs; i++) {
            if (s_standby(self, &self->dirs[i])) {
                continue;
            }
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
        for (int i = 0; i < self->nwatch; i++) {
            if (s_has_input(self->watch[i].socket)) {
                return true;
            }
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

/* The handler's timer, if due. */
static void
s_timers(zr__engine_t *self, int64_t *now)
{
    if (self->tick_fn) {
        *now = zr__now_ms();
        if (*now >= self->tick_at) {
            self->tick_at = self->tick_fn(self->tick_arg, *now);
        }
    }
    if (self->deadline < 0) {
        return;
    }
    *now = zr__now_ms();
    if (*now >= self->deadline) {
        self->deadline = -1;
        zr__engine_set_deadline(self,
                                self->handler.timer(self->handler.arg, *now));
    }
}

/* TIMEOUT, shortened to the handler's next deadline (which the handler
 * may have moved while it saw messages). */
static long
s_timer_wait(const zr__engine_t *self, long timeout)
{
    int64_t at = self->deadline;
    if (self->tick_fn && (at < 0 || self->tick_at < at)) {
        at = self->tick_at;
    }
    if (at < 0) {
        return timeout;
    }
    int64_t now = zr__now_ms();
    long wait = (long) (at > now ? at - now : 0);
    return timeout < 0 || wait < timeout ? wait : timeout;
}

/* A direction that keeps having nothing while the other one streams (a
 * forwarder's subscriptions beside its publications) is read only every
 * S_DRY_EVERY turns of such a streak: each read that finds nothing costs
 * libzmq a look at its command mailbox. It is always read after a wait. */
#define S_DRY_TURNS 4
#define S_DRY_EVERY 16

static bool
s_skip(const zr__engine_t *self, const s_dir_t *d)
{
    return self->streak && d->dry_turns >= S_DRY_TURNS &&
           self->turns % S_DRY_EVERY != 0 &&
           !(d->out && zr__outlet_holding(d->out));
}

/* One turn over the directions: pump each, and add to ITEMS what to wait
 * for. Sets *BUSY when data keeps coming (no poll then). */
static s_status_t
s_turn(zr__engine_t *self, int64_t now, zmq_pollitem_t *items, int *n,
       long *timeout, bool *busy)
{
    self->turns++;
    for (int i = 0; i < self->ndirs; i++) {
        s_dir_t *d = &self->dirs[i];
        if (s_standby(self, d)) {
            /* [ha] Its requests are the standby function's to read (and
             * refuse), or to leave for the pump when it ends standby. */
            if (s_has_input(d->src)) {
                self->standby_fn(self->standby_arg);
            }
            if (s_standby(self, d)) {
                *n = s_poll_add(items, *n, d->src, ZMQ_POLLIN);
                continue;
            }
        }
        if (s_skip(self, d)) {
            /* If the turn ends in a wait, the wait looks at it. */
            *n = s_poll_add(items, *n, d->src, ZMQ_POLLIN);
            continue;
        }
        if (d->out && zr__outlet_blocked(d->out) &&
            !zr__outlet_waits_pollout(d->out)) {
            now = now ? now : zr__now_ms();
            int64_t at = zr__outlet_retry_at(d->out);
            if (now < at) {
                *n = s_wait_for(d, items, *n, timeout);
                continue;
            }
        }
        s_status_t st = s_pump(self, d, S_BURST);
        if (st == S_TERM) {
            return st;
        }
        d->dry_turns = st == S_DRY ? d->dry_turns + 1 : 0;
        d->drained += st == S_DRY;
        if (st == S_BUSY) {
            *busy = true;
        }
        else if (st == S_BLOCKED) {
            *n = s_wait_for(d, items, *n, timeout);
        }
        else {
            *n = s_poll_add(items, *n, d->src, ZMQ_POLLIN);
        }
    }
    *busy |= s_injected(self);
    return S_OK;
}

/* The lazy watches, when their time came (NOW: zr__now_ms, or 0 to
 * read the clock); the wait until their next time, else. */
static long
s_lazy(zr__engine_t *self, int64_t now)
{
    if (self->nlazy == 0) {
        return -1;
    }
    now = now ? now : zr__now_ms();
    if (now < self->lazy_at) {
        return (long) (self->lazy_at - now);
    }
    for (int i = 0; i < self->nlazy; i++) {
        self->lazy[i].fn(self->lazy[i].arg);
    }
    self->lazy_at = now + ZR__LAZY_MS;
    return ZR__LAZY_MS;
}

/* Data keeps coming: no poll, but never starve the watched sockets (a
 * control endpoint) or the capture's subscriptions. ZMQ_EVENTS is cheap
 * next to a burst. */
#define S_LAZY_TURNS 16 /* busy turns between two looks at the clock */
static void
s_side_sockets(zr__engine_t *self)
{
    if (self->nlazy && ++self->lazy_turns % S_LAZY_TURNS == 0) {
        s_lazy(self, 0);
    }
    if (self->capture && s_has_input(zr__capture_socket(self->capture))) {
        zr__capture_drain(self->capture);
    }
    /* An XPUB takes its commands (a subscriber's pipe active again) only
     * when asked: once a busy turn, as zmq_proxy's polls do. */
    for (int i = 0; i < self->ndirs; i++) {
        zr__outlet_t *o = self->dirs[i].out;
        if (o && zr__outlet_wake_fd(o) >= 0) {
            int events;
            size_t len = sizeof events;
            zmq_getsockopt(zr__outlet_socket(o), ZMQ_EVENTS, &events, &len);
        }
    }
    for (int i = 0; i < self->nwatch; i++) {
        if (s_has_input(self->watch[i].socket)) {
            self->watch[i].fn(self->watch[i].arg);
        }
    }
}

/* Wait in zr__poll for ITEMS (N of them) plus the side sockets and the
 * wake pipe. -1 with errno when the wait failed. */
static int
s_wait(zr__engine_t *self, zmq_pollitem_t *items, int n, long timeout)
{
    int cap_item = -1;
    if (self->capture) {
        cap_item = n;
        n = s_poll_add(items, n, zr__capture_socket(self->capture), ZMQ_POLLIN);
    }
    int watch_item = n;
    for (int i = 0; i < self->nwatch; i++) {
        items[n++] = (zmq_pollitem_t){.socket = self->watch[i].socket,
                                      .events = ZMQ_POLLIN};
    }
    items[n++] = (zmq_pollitem_t){.fd = self->wake[0], .events = ZMQ_POLLIN};
    zr__stat_add(&self->polls, 1);
    atomic_store_explicit(&self->waiting, true, memory_order_release);
    int rc = zr__poll(items, n, timeout);
    atomic_store_explicit(&self->waiting, false, memory_order_relaxed);
    if (rc < 0) {
        return -1;
    }
    if (cap_item >= 0 && (items[cap_item].revents & ZMQ_POLLIN)) {
        zr__capture_drain(self->capture);
    }
    for (int i = 0; i < self->nwatch; i++) {
        if (items[watch_item + i].revents & ZMQ_POLLIN) {
            self->watch[i].fn(self->watch[i].arg);
        }
    }
    if (items[n - 1].revents & ZMQ_POLLIN) {
        zr__wake_drain(self->wake[0]);
    }
    s_wake_outlets(self, items, n - 1);
    return 0;
}

/* The loop until a stop request, ETERM or (zr_proxy) a signal: 0 or -1
 * with errno. */
static int
s_loop(zr__engine_t *self)
{
    while (!atomic_load_explicit(&self->stop, memory_order_relaxed)) {
        bool paused = atomic_load_explicit(&self->paused, memory_order_relaxed);
        bool busy = false;
        int64_t now = 0;
        zmq_pollitem_t items[6 + ZR__WATCH_MAX];
        int n = 0;
        long timeout = -1;
        s_timers(self, &now);
        if (!paused &&
            s_turn(self, now, items, &n, &timeout, &busy) == S_TERM) {
            errno = ETERM;
            return -1;
        }
        timeout = s_timer_wait(self, timeout);
        if (!busy) {
            long lazy = s_lazy(self, 0);
            if (lazy >= 0 && (timeout < 0 || lazy < timeout)) {
                timeout = lazy;
            }
        }
        self->streak = busy;
        if (busy) {
            s_side_sockets(self);
            continue;
        }
        if (self->busy_poll_us > 0 && !paused && timeout < 0) {
            s_status_t term = S_OK;
            bool moved = s_spin(self, &term);
            if (term == S_TERM) {
                errno = ETERM;
                return -1;
            }
            if (moved) {
                continue;
            }
        }
        if (s_wait(self, items, n, timeout) != 0) {
            if (errno == ETERM || self->eintr_returns) {
                /* zr_proxy, like zmq_proxy: a signal ends it. */
                return -1;
            }
            /* EINTR: a signal; the stop flag says what to do. */
        }
    }
    return 0;
}

int
zr__engine_run(zr__engine_t *self)
{
    self->thread = pthread_self();
    atomic_store(&self->running, true);
    for (int i = 0; i < self->ndirs; i++) {
        zmq_msg_init(&self->dirs[i].frame);
    }
    zr__wake_drain(self->wake[0]);
    int rc = s_loop(self);
    int err = errno;
    s_finish(self, rc != 0 && err == ETERM);
    for (int i = 0; i < self->ndirs; i++) {
        zmq_msg_close(&self->dirs[i].frame);
        zr__msg_clear(&self->dirs[i].in_msg);
    }
    atomic_store(&self->cpu_ns, s_thread_cpu_ns(self->thread));
    atomic_store(&self->running, false);
    errno = err;
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
    out->msgs_resent = zr__stat_get(&m->msgs_resent);
    out->peer_stalls = zr__stat_get(&m->peer_stalls);
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
zr__engine_stats(const zr__engine_t *self, zr_stats_t *stats)
{
    zr__engine_t *m = (zr__engine_t *) self;
    memset(stats, 0, sizeof *stats);
    /* First the flag, then the counters it vouches for. */
    stats->waiting = atomic_load_explicit(&m->waiting, memory_order_acquire);
    stats->polls = zr__stat_get(&m->polls);
    s_sockstats(&self->front_stats, &stats->frontend);
    s_sockstats(&self->back_stats, &stats->backend);
    zr__capture_stats(self->capture, &stats->capture_msgs,
                      &stats->capture_drops);
    stats->paused = atomic_load(&m->paused);
    stats->running = atomic_load(&m->running);
    stats->cpu_ns = stats->running ? s_thread_cpu_ns(self->thread)
                                   : atomic_load(&m->cpu_ns);
}

/* ---------------------------------------------------------------------
 * The engine's rows of the stats table.
 */

#define S_SOCK(field) offsetof(zr__sockstats_t, field)
#define S_DROP(field, reason, text)                                            \
    {                                                                          \
        .key = "drops." reason, .metric = "messages_dropped_total",            \
        .labels = "reason=\"" reason "\"", .kind = ZR__STAT_COUNTER,           \
        .help = text, .offset = S_SOCK(field)                                  \
    }
static const zr__stat_t s_socket_rows[] = {
    {.key = "msgs_in",
     .metric = "messages_received_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Messages received on the socket (a multipart message once).",
     .offset = S_SOCK(msgs_in)},
    {.key = "frames_in",
     .metric = "frames_received_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Frames received on the socket.",
     .offset = S_SOCK(frames_in)},
    {.key = "bytes_in",
     .metric = "received_bytes_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Bytes received on the socket, every frame's.",
     .offset = S_SOCK(bytes_in)},
    {.key = "msgs_out",
     .metric = "messages_sent_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Messages sent on the socket (a multipart message once).",
     .offset = S_SOCK(msgs_out)},
    {.key = "frames_out",
     .metric = "frames_sent_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Frames sent on the socket.",
     .offset = S_SOCK(frames_out)},
    {.key = "bytes_out",
     .metric = "sent_bytes_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Bytes sent on the socket, every frame's.",
     .offset = S_SOCK(bytes_out)},
    {.key = "msgs_resent",
     .metric = "messages_resent_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Messages sent again, whole, after the peer they went to "
             "vanished mid-message (not lost).",
     .offset = S_SOCK(msgs_resent)},
    {.key = "held",
     .metric = "messages_held",
     .kind = ZR__STAT_GAUGE,
     .help = "Messages the relay holds for this socket now, not yet sent: "
             "the one in hand while the socket is full, and those a "
             "handler queued behind it (last values, broker replies).",
     .offset = S_SOCK(held)},
    {.key = "peer_stalls",
     .metric = "peer_stalls_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Times a ROUTER peer's full queue held the socket for the "
             "grace period (100 ms); its messages are then dropped "
             "(peer_full) until it reads, and at once if it stalls again "
             "within 5 s.",
     .offset = S_SOCK(peer_stalls)},
    S_DROP(drop_no_route, "no_route",
           "Messages for a ROUTER peer that is gone."),
    S_DROP(drop_peer_full, "peer_full",
           "Messages for a ROUTER peer whose queue stayed full."),
    S_DROP(drop_error, "error", "Messages no send could take, other reasons."),
    S_DROP(drop_too_big, "too_big",
           "Messages dropped as they came in, on the socket they came in on "
           "(not in msgs_in): more frames than max_msg_frames or, with more "
           "than one frame, more bytes than max_msg_bytes."),
    S_DROP(drop_shutdown, "shutdown",
           "Messages taken in and not delivered when the relay stopped."),
    S_DROP(drop_slow, "slow_subscriber",
           "Messages sent the lossy way because a subscriber's queue "
           "stayed full (1 ms; block_timeout with slow_subscriber = "
           "block): each missed by at least one subscriber, which libzmq "
           "then skips, uncounted, until it has read its queue down to "
           "half."),
};
#undef S_DROP
#undef S_SOCK

static double
s_cpu_seconds(const void *base)
{
    const zr__engine_t *self = base;
    bool running = atomic_load(&((zr__engine_t *) self)->running);
    uint64_t ns = running ? s_thread_cpu_ns(self->thread)
                          : atomic_load(&((zr__engine_t *) self)->cpu_ns);
    return (double) ns / 1e9;
}

static const zr__stat_t s_loop_rows[] = {
    {.key = "polls",
     .metric = "polls_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Times the relay waited for its sockets (it drains without "
             "waiting while data flows).",
     .offset = offsetof(zr__engine_t, polls)},
    {.key = "cpu_seconds",
     .metric = "cpu_seconds_total",
     .kind = ZR__STAT_COUNTER,
     .help = "CPU time of the relay's thread.",
     .get = s_cpu_seconds},
};

size_t
zr__engine_sections(const zr__engine_t *self, zr__stat_section_t *out,
                    size_t max)
{
    const zr__stat_section_t all[] = {
        {"frontend", "socket=\"frontend\"", ZR__STAT_ROWS(s_socket_rows),
         &self->front_stats},
        {"backend", "socket=\"backend\"", ZR__STAT_ROWS(s_socket_rows),
         &self->back_stats},
        zr__capture_section(self->capture),
        {"", NULL, ZR__STAT_ROWS(s_loop_rows), self},
    };
    size_t n = sizeof all / sizeof all[0];
    n = n < max ? n : max;
    memcpy(out, all, n * sizeof all[0]);
    return n;
}
