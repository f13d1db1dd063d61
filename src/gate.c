/* gate.c - the forwarder's gate (hold_until N): publications wait here
 * while fewer than N subscriptions exist, and leave in order when there
 * are N, when one has waited hold_timeout, or (oldest first) when the
 * hold is over its bounds (docs/SYNC.md).
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <stddef.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

typedef struct s_held {
    struct s_held *next;
    zr__msg_t msg;
    int64_t since;
} s_held_t;

struct zr__gate_t {
    zr__engine_t *engine;
    void *backend;
    uint64_t until, max, max_bytes;
    int64_t timeout; /* ms, 0: forever */
    s_held_t *held, *tail;
    uint64_t nheld, held_bytes;
    void (*on_release)(void *arg, const zr__msg_t *msg);
    void *release_arg;
    /* Counters, read by STATS from any thread. */
    _Atomic uint64_t st_held, st_released, st_forced_bound, st_forced_timeout;
};

zr__gate_t *
zr__gate_new(zr__engine_t *engine, void *backend, const zr__pubsub_opts_t *opts)
{
    zr__gate_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->backend = backend;
    self->until = opts->hold_until;
    self->max = opts->hold_max ? opts->hold_max : UINT64_MAX;
    self->max_bytes = opts->hold_max_bytes;
    self->timeout = opts->hold_timeout;
    return self;
}

void
zr__gate_destroy(zr__gate_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__gate_t *self = *self_p;
    while (self->held) {
        s_held_t *next = self->held->next;
        zr__msg_destroy(&self->held->msg);
        free(self->held);
        self->held = next;
    }
    free(self);
    *self_p = NULL;
}

void
zr__gate_on_release(zr__gate_t *self,
                    void (*fn)(void *arg, const zr__msg_t *msg), void *arg)
{
    self->on_release = fn;
    self->release_arg = arg;
}

/* Let the oldest held message go on to the backend. */
static void
s_release_one(zr__gate_t *self)
{
    s_held_t *h = self->held;
    self->held = h->next;
    if (!self->held) {
        self->tail = NULL;
    }
    self->nheld--;
    self->held_bytes -= zr__msg_bytes(&h->msg);
    if (self->on_release) {
        self->on_release(self->release_arg, &h->msg);
    }
    zr__engine_inject(self->engine, self->backend, &h->msg);
    zr__msg_destroy(&h->msg);
    free(h);
    zr__stat_set(&self->st_held, self->nheld);
}

static void
s_release_all(zr__gate_t *self)
{
    while (self->held) {
        s_release_one(self);
        zr__stat_add(&self->st_released, 1);
    }
}

/* Keep MSG (emptied); false when out of memory (MSG is intact). */
static bool
s_hold(zr__gate_t *self, zr__msg_t *msg)
{
    s_held_t *h = calloc(1, sizeof *h);
    if (!h) {
        return false;
    }
    h->since = zr__now_ms();
    zr__msg_move(&h->msg, msg);
    if (self->tail) {
        self->tail->next = h;
    }
    else {
        self->held = h;
    }
    self->tail = h;
    self->nheld++;
    self->held_bytes += zr__msg_bytes(&h->msg);
    while (self->nheld > self->max ||
           (self->max_bytes && self->held_bytes > self->max_bytes &&
            self->nheld > 1)) {
        s_release_one(self);
        zr__stat_add(&self->st_forced_bound, 1);
    }
    zr__stat_set(&self->st_held, self->nheld);
    if (self->timeout > 0) {
        zr__engine_set_deadline(self->engine,
                                self->held->since + self->timeout);
    }
    return true;
}

bool
zr__gate_take(zr__gate_t *self, zr__msg_t *msg, uint64_t subscriptions)
{
    bool open = subscriptions >= self->until;
    if (open) {
        s_release_all(self);
        return false;
    }
    /* Out of memory, the message goes on: better late than lost. */
    return s_hold(self, msg);
}

void
zr__gate_update(zr__gate_t *self, uint64_t subscriptions)
{
    if (self->held && subscriptions >= self->until) {
        s_release_all(self);
    }
}

int64_t
zr__gate_timer(zr__gate_t *self, int64_t now)
{
    if (self->timeout <= 0) {
        return -1;
    }
    while (self->held && now - self->held->since >= self->timeout) {
        s_release_one(self);
        zr__stat_add(&self->st_forced_timeout, 1);
    }
    return self->held ? self->held->since + self->timeout : -1;
}

void
zr__gate_flush(zr__gate_t *self)
{
    /* At stop what waits at the gate goes to whoever is subscribed. */
    s_release_all(self);
}

static double
s_until(const void *base)
{
    return (double) ((const zr__gate_t *) base)->until;
}

#define S_AT(field) offsetof(zr__gate_t, field)
static const zr__stat_t s_rows[] = {
    {.key = "hold_until",
     .metric = "gate_hold_until",
     .kind = ZR__STAT_GAUGE,
     .help = "Subscriptions the gate waits for before publications go on.",
     .get = s_until},
    {.key = "held",
     .metric = "gate_held_messages",
     .kind = ZR__STAT_GAUGE,
     .help = "Publications waiting at the gate now.",
     .offset = S_AT(st_held)},
    {.key = "released",
     .metric = "gate_released_messages_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Publications the gate let go once its subscriptions came.",
     .offset = S_AT(st_released)},
    {.key = "forced_by_bound",
     .metric = "gate_forced_messages_total",
     .labels = "reason=\"bound\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Publications sent on early: the gate held hold_max of them.",
     .offset = S_AT(st_forced_bound)},
    {.key = "forced_by_timeout",
     .metric = "gate_forced_messages_total",
     .labels = "reason=\"timeout\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Publications sent on early: they waited hold_timeout.",
     .offset = S_AT(st_forced_timeout)},
};
#undef S_AT

zr__stat_section_t
zr__gate_section(const zr__gate_t *self)
{
    return (zr__stat_section_t){"gate", NULL, ZR__STAT_ROWS(s_rows), self};
}
