/* ha.c - a high-availability pair: Binary Star (the ZeroMQ Guide,
 * chapter 4), built into the queue and majordomo devices.
 * SPDX-License-Identifier: MIT
 *
 * Two nodes run the same device, one the primary, the other the backup.
 * Each publishes its state on a PUB (ha_bind) every ha_heartbeat and
 * reads the other's on a SUB (ha_peer). One node is active and serves
 * clients; the other is passive: its engine stands by (engine.c) and the
 * requests that reach it are read and dropped, counted (ha.refused), so
 * that a Lazy Pirate client times out and tries the other node. (A
 * majordomo's one socket carries its workers' traffic too: there the
 * handler, mdp.c, asks zr__ha_client_request about each client message
 * instead.)
 *
 * The state machine is the Guide's (zr__ha_next). What matters about it:
 * a passive node takes over only when its peer has been silent for two
 * heartbeats AND a client request comes to it. Cutting only the link
 * between the two nodes therefore makes no second active as long as the
 * clients still reach the active one: they never turn to the passive.
 *
 * Where zrelay differs from the Guide, and why:
 *  - Two actives, two passives: the Guide's server exits. A zrelay
 *    daemon runs other devices too, and exiting leaves no server at all.
 *    Both nodes see the conflict in the same heartbeats and settle it
 *    the same way without another message: on two actives the backup
 *    yields (passive), on two passives the primary takes over (active).
 *    Each is logged as an error and counted (ha.conflicts.*).
 *  - A node publishes its state at once when it changes, not only at the
 *    next heartbeat: the peer follows sooner.
 *  - A heartbeat says who sends it: "ZRHA1 ROLE STATE". One from a node
 *    of the same role (both configured primary) or malformed is not
 *    acted on and is counted (ha.heartbeats.bad) and logged.
 *  - Both ends keep only the newest heartbeat (ZMQ_CONFLATE): after a
 *    cut link heals, the states queued during the cut are not replayed.
 *  - The Guide starts a node's wait for its peer when it starts (bstar.c,
 *    bstar_start): a primary that starts alone serves a client only two
 *    heartbeats after it started, so a restarted primary does not serve
 *    while the backup it has not heard yet is active. Kept.
 *
 * Everything runs in the device's thread: the SUB is an engine watch,
 * the heartbeat an engine ticker, the frontend's requests in standby the
 * engine's standby function. Counters are relaxed atomics for STATS.
 */
#include "zr_impl.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAGIC "ZRHA1"
#define S_MAX_BEAT 64      /* bytes of a heartbeat, at most */
#define S_READ_BUDGET 1024 /* requests refused in one call, at most */

static const char *const s_states[] = {"off", "primary", "backup", "active",
                                       "passive"};

static const char *const s_kinds[ZR__HA_KINDS] = {
    "ready",        "follow",      "alone",       "failover",
    "peer_restart", "dual_active", "dual_passive"};

static const char *const s_reasons[ZR__HA_KINDS] = {
    "the backup is there and passive",
    "the peer is active",
    "a client request, and no word from the peer for two heartbeats",
    "a client request, and the peer silent for two heartbeats: failover",
    "the peer restarted; it will be passive",
    "both nodes were active: the backup yields",
    "both nodes were passive: the primary takes over"};

struct zr__ha_t {
    zr__engine_t *engine;
    char *name;
    void *pub, *sub, *frontend;
    int role;            /* ZR__HA_PRIMARY or ZR__HA_BACKUP */
    int heartbeat;       /* ms */
    int state;           /* ZR__HA_PRIMARY ... ZR__HA_PASSIVE */
    int64_t peer_expiry; /* the peer is dead to us from then on */
    int64_t next_beat;
    bool peer_alive; /* as last logged */
    zr__log_limit_t bad_limit, conflict_limit;
    /* STATS: written here only. */
    _Atomic uint64_t st_state, st_peer, st_heard_at;
    _Atomic uint64_t st_refused, st_sent, st_received, st_bad;
    _Atomic uint64_t st_kinds[ZR__HA_KINDS];
    _Atomic uint64_t st_dual_active, st_dual_passive;
};

const char *
zr__ha_state_name(int state)
{
    return state >= 0 && state <= ZR__HA_PASSIVE ? s_states[state] : "?";
}

const char *
zr__ha_kind_name(int kind)
{
    return kind >= 0 && kind < ZR__HA_KINDS ? s_kinds[kind] : "none";
}

/* ---------------------------------------------------------------------
 * The state machine: no I/O, no clock (tests/test_ha.c walks it).
 */

zr__ha_step_t
zr__ha_next(int role, int state, int event, bool peer_dead)
{
    zr__ha_step_t s = {state, -1, -1, false};
    bool primary = role == ZR__HA_PRIMARY;
    switch (state) {
    case ZR__HA_PRIMARY: /* waiting for the backup; may serve when alone */
        if (event == ZR__HA_BACKUP) {
            s.state = ZR__HA_ACTIVE;
            s.kind = ZR__HA_READY;
        }
        else if (event == ZR__HA_ACTIVE) {
            s.state = ZR__HA_PASSIVE;
            s.kind = ZR__HA_FOLLOW;
        }
        else if (event == ZR__HA_CLIENT_REQUEST && peer_dead) {
            s.state = ZR__HA_ACTIVE;
            s.kind = ZR__HA_ALONE;
            s.serve = true;
        }
        break;
    case ZR__HA_BACKUP: /* waiting for an active primary; never serves */
        if (event == ZR__HA_ACTIVE) {
            s.state = ZR__HA_PASSIVE;
            s.kind = ZR__HA_FOLLOW;
        }
        break;
    case ZR__HA_ACTIVE:
        if (event == ZR__HA_ACTIVE) {
            s.conflict = ZR__HA_DUAL_ACTIVE;
            if (!primary) {
                s.state = ZR__HA_PASSIVE;
                s.kind = ZR__HA_DUAL_ACTIVE;
            }
        }
        else if (event == ZR__HA_CLIENT_REQUEST) {
            s.serve = true;
        }
        break;
    case ZR__HA_PASSIVE:
        if (event == ZR__HA_PRIMARY || event == ZR__HA_BACKUP) {
            s.state = ZR__HA_ACTIVE;
            s.kind = ZR__HA_PEER_RESTART;
        }
        else if (event == ZR__HA_PASSIVE) {
            s.conflict = ZR__HA_DUAL_PASSIVE;
            if (primary) {
                s.state = ZR__HA_ACTIVE;
                s.kind = ZR__HA_DUAL_PASSIVE;
            }
        }
        else if (event == ZR__HA_CLIENT_REQUEST && peer_dead) {
            s.state = ZR__HA_ACTIVE;
            s.kind = ZR__HA_FAILOVER;
            s.serve = true;
        }
        break;
    default: break;
    }
    return s;
}

/* ---------------------------------------------------------------------
 * The node.
 */

static void s_standby(void *arg);

static void
s_publish(zr__ha_t *self, int64_t now)
{
    char beat[S_MAX_BEAT];
    int n = snprintf(beat, sizeof beat, S_MAGIC " %s %s", s_states[self->role],
                     s_states[self->state]);
    if (zmq_send(self->pub, beat, (size_t) n, ZMQ_DONTWAIT) == n) {
        zr__stat_add(&self->st_sent, 1);
    }
    self->next_beat = now + self->heartbeat;
}

/* Serve (active) or stand by (any other state). */
static void
s_serve(zr__ha_t *self)
{
    if (!self->frontend) {
        return; /* the handler asks (a majordomo) */
    }
    if (self->state == ZR__HA_ACTIVE) {
        zr__engine_standby(self->engine, NULL, NULL);
    }
    else {
        zr__engine_standby(self->engine, s_standby, self);
    }
}

static void
s_apply(zr__ha_t *self, zr__ha_step_t step, int64_t now)
{
    if (step.conflict >= 0) {
        zr__stat_add(step.conflict == ZR__HA_DUAL_ACTIVE
                         ? &self->st_dual_active
                         : &self->st_dual_passive,
                     1);
        if (zr__log_limit(&self->conflict_limit, 1, "ha conflicts")) {
            ZR_LOG_E("%s: ha: both nodes %s: %s", self->name,
                     step.conflict == ZR__HA_DUAL_ACTIVE ? "active" : "passive",
                     step.kind >= 0 ? "this node settles it"
                                    : "the peer settles it");
        }
    }
    if (step.kind < 0 || step.state == self->state) {
        return;
    }
    int from = self->state;
    self->state = step.state;
    zr__stat_set(&self->st_state, (uint64_t) step.state);
    zr__stat_add(&self->st_kinds[step.kind], 1);
    const char *fields[] = {
        "from", s_states[from],     "to", s_states[step.state],
        "kind", s_kinds[step.kind], NULL};
    ZR_LOG_EVENT(ZR_LOG_NOTICE, self->name, "ha_transition", fields,
                 "ha: %s -> %s (%s): %s", s_states[from], s_states[step.state],
                 s_kinds[step.kind], s_reasons[step.kind]);
    s_serve(self);
    s_publish(self, now); /* the peer follows sooner */
}

bool
zr__ha_client_request(zr__ha_t *self)
{
    if (self->state == ZR__HA_ACTIVE) {
        return true;
    }
    int64_t now = zr__now_ms();
    zr__ha_step_t step =
        zr__ha_next(self->role, self->state, ZR__HA_CLIENT_REQUEST,
                    now >= self->peer_expiry);
    s_apply(self, step, now);
    if (!step.serve) {
        zr__stat_add(&self->st_refused, 1);
    }
    return step.serve;
}

/* The engine's standby function: requests on the frontend while this
 * node does not serve. Each is a client request to the state machine:
 * one that makes this node active is left for the engine to move; the
 * others are read whole and dropped. */
static void
s_standby(void *arg)
{
    zr__ha_t *self = arg;
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    for (int n = 0; n < S_READ_BUDGET; n++) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(self->frontend, ZMQ_EVENTS, &events, &len) != 0 ||
            !(events & ZMQ_POLLIN)) {
            break;
        }
        if (zr__ha_client_request(self)) {
            break; /* active now: the engine serves it */
        }
        /* libzmq hands over a message whole: its frames are all here. */
        while (zmq_msg_recv(&frame, self->frontend, ZMQ_DONTWAIT) >= 0 &&
               zmq_msg_more(&frame)) {
        }
    }
    zmq_msg_close(&frame);
}

/* A heartbeat's text into the peer's state (an event), or -1. */
static int
s_parse(zr__ha_t *self, const char *text)
{
    char role[16], state[16];
    char tail;
    if (sscanf(text, S_MAGIC " %15s %15s%c", role, state, &tail) != 2) {
        if (zr__log_limit(&self->bad_limit, 1, "ha bad heartbeats")) {
            ZR_LOG_W("%s: ha: a heartbeat that is none: '%.40s'", self->name,
                     text);
        }
        return -1;
    }
    int r = strcmp(role, "primary") == 0  ? ZR__HA_PRIMARY
            : strcmp(role, "backup") == 0 ? ZR__HA_BACKUP
                                          : -1;
    int s = -1;
    for (int i = ZR__HA_PRIMARY; i <= ZR__HA_PASSIVE; i++) {
        if (strcmp(state, s_states[i]) == 0) {
            s = i;
        }
    }
    /* A node in PRIMARY (BACKUP) state is the primary (backup). */
    bool consistent = !((s == ZR__HA_PRIMARY || s == ZR__HA_BACKUP) && s != r);
    if (r < 0 || s < 0 || !consistent) {
        if (zr__log_limit(&self->bad_limit, 1, "ha bad heartbeats")) {
            ZR_LOG_W("%s: ha: a heartbeat that is none: '%.40s'", self->name,
                     text);
        }
        return -1;
    }
    if (r == self->role) {
        if (zr__log_limit(&self->bad_limit, 1, "ha bad heartbeats")) {
            ZR_LOG_E("%s: ha: the peer is a %s too: one node must be "
                     "primary, the other backup (ignored)",
                     self->name, role);
        }
        return -1;
    }
    return s;
}

/* The engine's watch of the SUB: the peer's heartbeats. Only the newest
 * is acted on. */
static void
s_peer_ready(void *arg)
{
    zr__ha_t *self = arg;
    int event = -1;
    for (int n = 0; n < S_READ_BUDGET; n++) {
        char beat[S_MAX_BEAT + 1];
        int size = zmq_recv(self->sub, beat, S_MAX_BEAT, ZMQ_DONTWAIT);
        if (size < 0) {
            break;
        }
        int more = 0;
        size_t len = sizeof more;
        zmq_getsockopt(self->sub, ZMQ_RCVMORE, &more, &len);
        bool bad = more || size > S_MAX_BEAT;
        while (more) {
            zmq_recv(self->sub, beat, 0, ZMQ_DONTWAIT);
            zmq_getsockopt(self->sub, ZMQ_RCVMORE, &more, &len);
        }
        beat[bad ? 0 : size] = 0;
        int e = bad ? -1 : s_parse(self, beat);
        if (e < 0) {
            zr__stat_add(&self->st_bad, 1);
            continue;
        }
        zr__stat_add(&self->st_received, 1);
        event = e;
    }
    if (event < 0) {
        return;
    }
    int64_t now = zr__now_ms();
    self->peer_expiry = now + 2 * (int64_t) self->heartbeat;
    zr__stat_set(&self->st_heard_at, (uint64_t) now);
    zr__stat_set(&self->st_peer, (uint64_t) event);
    if (!self->peer_alive) {
        self->peer_alive = true;
        ZR_LOG_N("%s: ha: the peer is there (%s)", self->name, s_states[event]);
    }
    s_apply(self, zr__ha_next(self->role, self->state, event, false), now);
}

/* The engine's ticker: a heartbeat every ha_heartbeat; the peer's
 * silence noticed (logged: from then on a client request fails over). */
static int64_t
s_tick(void *arg, int64_t now)
{
    zr__ha_t *self = arg;
    if (now >= self->next_beat) {
        s_publish(self, now);
    }
    if (self->peer_alive && now >= self->peer_expiry) {
        self->peer_alive = false;
        ZR_LOG_W("%s: ha: the peer has been silent for two heartbeats "
                 "(%d ms): %s",
                 self->name, 2 * self->heartbeat,
                 self->state == ZR__HA_ACTIVE ? "this node goes on serving"
                 : self->state == ZR__HA_BACKUP
                     ? "a backup serves only after it saw an active primary"
                     : "the next client request makes this node active");
    }
    int64_t next = self->next_beat;
    if (self->peer_alive && self->peer_expiry < next) {
        next = self->peer_expiry;
    }
    return next;
}

static void *
s_socket(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        return NULL;
    }
    int zero = 0, one = 1, hwm = 16;
    int64_t max = S_MAX_BEAT;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max);
    if (type == ZMQ_PUB) {
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    }
    else {
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    }
    if (type == ZMQ_PUB) {
        /* The newest state only, in each pipe. */
        zmq_setsockopt(s, ZMQ_CONFLATE, &one, sizeof one);
    }
    return s;
}

int
zr__ha_check(const zr__ha_opts_t *opts, char *err, size_t errlen)
{
    if (opts->role == ZR__HA_OFF) {
        if (opts->bind || opts->peer) {
            zr__errf(err, errlen,
                     "ha_bind and ha_peer need ha = primary or backup");
            errno = EINVAL;
            return -1;
        }
        return 0;
    }
    if (!opts->bind || !opts->peer) {
        zr__errf(err, errlen,
                 "ha = %s needs ha_bind (this node's state endpoint) and "
                 "ha_peer (the other node's)",
                 s_states[opts->role]);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

zr__ha_t *
zr__ha_new(void *ctx, zr__engine_t *engine, const char *name,
           const zr__ha_opts_t *opts, void *frontend, char *err, size_t errlen)
{
    if (zr__ha_check(opts, err, errlen) != 0 || opts->role == ZR__HA_OFF) {
        errno = EINVAL;
        return NULL;
    }
    zr__ha_t *self = calloc(1, sizeof *self);
    if (!self || !(self->name = strdup(name))) {
        free(self);
        zr__errf(err, errlen, "ha: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->frontend = frontend;
    self->role = opts->role;
    self->heartbeat = opts->heartbeat;
    self->state = opts->role;
    self->pub = s_socket(ctx, ZMQ_PUB);
    self->sub = s_socket(ctx, ZMQ_SUB);
    char why[300];
    if (!self->pub || !self->sub) {
        zr__errf(err, errlen, "ha: cannot create its sockets: %s",
                 zmq_strerror(errno));
        goto fail;
    }
    if (zr_endpoints_attach(opts->bind, self->pub, why, sizeof why) != 0) {
        zr__errf(err, errlen, "ha_bind: %s", why);
        goto fail;
    }
    if (zr_endpoints_attach(opts->peer, self->sub, why, sizeof why) != 0) {
        zr__errf(err, errlen, "ha_peer: %s", why);
        goto fail;
    }
    if (zr__engine_watch(engine, self->sub, s_peer_ready, self) != 0) {
        zr__errf(err, errlen, "ha: too many sockets to watch");
        goto fail;
    }
    /* As bstar_start: the peer has two heartbeats to be heard. */
    int64_t now = zr__now_ms();
    self->peer_expiry = now + 2 * (int64_t) self->heartbeat;
    zr__stat_set(&self->st_state, (uint64_t) self->state);
    zr__engine_set_ticker(engine, s_tick, self);
    s_serve(self); /* stand by until the state machine says otherwise */
    ZR_LOG_N("%s: ha: %s, heartbeat %d ms; standing by until the peer is "
             "heard or a client request comes two heartbeats from now",
             self->name, s_states[self->role], self->heartbeat);
    return self;
fail : {
    int e = errno ? errno : EINVAL;
    zr__ha_destroy(&self);
    errno = e;
    return NULL;
}
}

void
zr__ha_destroy(zr__ha_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__ha_t *self = *self_p;
    if (self->pub) {
        zmq_close(self->pub);
    }
    if (self->sub) {
        zmq_close(self->sub);
    }
    free(self->name);
    free(self);
    *self_p = NULL;
}

int
zr__ha_state(const zr__ha_t *self)
{
    return (int) zr__stat_get(&self->st_state);
}

/* ---------------------------------------------------------------------
 * Its rows of the stats table.
 */

static const char *
s_role_text(const void *base)
{
    return s_states[((const zr__ha_t *) base)->role];
}

static const char *
s_state_text(const void *base)
{
    return zr__ha_state_name(zr__ha_state(base));
}

static const char *
s_peer_text(const void *base)
{
    uint64_t peer = zr__stat_get(&((const zr__ha_t *) base)->st_peer);
    return peer ? zr__ha_state_name((int) peer) : "unknown";
}

static double
s_active(const void *base)
{
    return zr__ha_state(base) == ZR__HA_ACTIVE;
}

static double
s_peer_alive(const void *base)
{
    const zr__ha_t *self = base;
    uint64_t at = zr__stat_get(&self->st_heard_at);
    return at && zr__now_ms() < (int64_t) at + 2 * (int64_t) self->heartbeat;
}

#define S_AT(field) offsetof(zr__ha_t, field)
#define S_ROW(k, m, l, kd, field, text)                                        \
    {                                                                          \
        .key = k, .metric = m, .labels = l, .kind = kd, .help = text,          \
        .offset = S_AT(field)                                                  \
    }
#define S_KIND(k, i, text)                                                     \
    S_ROW("transitions." k, "ha_transitions_total", "kind=\"" k "\"",          \
          ZR__STAT_COUNTER, st_kinds[i], text)
static const zr__stat_t s_rows[] = {
    {.key = "role",
     .metric = "ha_role_info",
     .kind = ZR__STAT_TEXT,
     .help = "This node's part of the pair: primary or backup.",
     .text = s_role_text},
    {.key = "state",
     .metric = "ha_state_info",
     .kind = ZR__STAT_TEXT,
     .help = "This node's state: primary or backup (started, waiting for "
             "the peer), active (serving) or passive.",
     .text = s_state_text},
    {.key = "active",
     .metric = "ha_active",
     .kind = ZR__STAT_FLAG,
     .help = "1 while this node serves clients.",
     .get = s_active},
    {.key = "peer_state",
     .metric = "ha_peer_state_info",
     .kind = ZR__STAT_TEXT,
     .help = "The peer's state in its last heartbeat (unknown: never heard).",
     .text = s_peer_text},
    {.key = "peer_alive",
     .metric = "ha_peer_alive",
     .kind = ZR__STAT_FLAG,
     .help = "1 while the peer's last heartbeat is less than two "
             "heartbeats old.",
     .get = s_peer_alive},
    S_KIND("ready", ZR__HA_READY,
           "Primary to active: the backup was there and passive."),
    S_KIND("follow", ZR__HA_FOLLOW,
           "Primary or backup to passive: the peer was active."),
    S_KIND("alone", ZR__HA_ALONE,
           "Primary to active: a client request, the peer silent since "
           "this node started."),
    S_KIND("failover", ZR__HA_FAILOVER,
           "Passive to active: a client request, the peer silent for two "
           "heartbeats."),
    S_KIND("peer_restart", ZR__HA_PEER_RESTART,
           "Passive to active: the peer restarted."),
    S_KIND("dual_active", ZR__HA_DUAL_ACTIVE,
           "Active to passive (the backup): both nodes were active."),
    S_KIND("dual_passive", ZR__HA_DUAL_PASSIVE,
           "Passive to active (the primary): both nodes were passive."),
    S_ROW("conflicts.dual_active", "ha_conflicts_total", "kind=\"dual_active\"",
          ZR__STAT_COUNTER, st_dual_active,
          "Heartbeats that showed both nodes active."),
    S_ROW("conflicts.dual_passive", "ha_conflicts_total",
          "kind=\"dual_passive\"", ZR__STAT_COUNTER, st_dual_passive,
          "Heartbeats that showed both nodes passive."),
    S_ROW("refused", "ha_requests_refused_total", NULL, ZR__STAT_COUNTER,
          st_refused,
          "Client requests read and dropped while this node did not serve "
          "and its peer lived: the client retries on the other node."),
    S_ROW("heartbeats.sent", "ha_heartbeats_total", "way=\"sent\"",
          ZR__STAT_COUNTER, st_sent, "Heartbeats (this node's state) sent."),
    S_ROW("heartbeats.received", "ha_heartbeats_total", "way=\"received\"",
          ZR__STAT_COUNTER, st_received, "Heartbeats from the peer."),
    S_ROW("heartbeats.bad", "ha_heartbeats_bad_total", NULL, ZR__STAT_COUNTER,
          st_bad,
          "Heartbeats not acted on: malformed, or from a node of the same "
          "role."),
};
#undef S_KIND
#undef S_ROW
#undef S_AT

zr__stat_section_t
zr__ha_section(const zr__ha_t *self)
{
    return (zr__stat_section_t){.path = "ha",
                                .rows = s_rows,
                                .nrows = sizeof s_rows / sizeof s_rows[0],
                                .base = self};
}
