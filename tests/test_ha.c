/* test_ha.c - a high-availability pair (Binary Star, ha.c): the state
 * machine as the Guide has it, the options, and queue devices over
 * inproc, with a real peer or a fake one (a PUB the test speaks for).
 * The same across hosts, kill -9 and a cut link: tests/netns/ha_*.py.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"
#include "zrtest.h"

#define S_HB "50ms"
#define S_HB_MS 50

enum {
    P = ZR__HA_PRIMARY,
    B = ZR__HA_BACKUP,
    A = ZR__HA_ACTIVE,
    S = ZR__HA_PASSIVE,
    R = ZR__HA_CLIENT_REQUEST
};

/* ---------------------------------------------------------------------
 * The state machine.
 */

typedef struct {
    int role, state, event;
    bool dead;
    int want, kind, conflict;
    bool serve;
} s_row_t;

/* Every state and event, for both roles, peer alive and dead: the
 * Guide's bstar.c (PRIMARY and BACKUP wait for the peer; a client
 * request moves a PRIMARY or PASSIVE node only when the peer is dead),
 * except the two conflicts, settled instead of exiting (ha.c says why). */
static void
test_fsm(void)
{
    /* Default for anything not listed: no change, no kind, no conflict,
     * not served. */
    static const s_row_t rows[] = {
        /* primary, waiting */
        {P, P, B, false, A, ZR__HA_READY, -1, false},
        {P, P, B, true, A, ZR__HA_READY, -1, false},
        {P, P, A, false, S, ZR__HA_FOLLOW, -1, false},
        {P, P, R, true, A, ZR__HA_ALONE, -1, true},
        /* backup, waiting: a request never moves it */
        {B, B, A, false, S, ZR__HA_FOLLOW, -1, false},
        /* active */
        {P, A, R, false, A, -1, -1, true},
        {P, A, R, true, A, -1, -1, true},
        {B, A, R, false, A, -1, -1, true},
        {B, A, R, true, A, -1, -1, true},
        {P, A, A, false, A, -1, ZR__HA_DUAL_ACTIVE, false},
        {B, A, A, false, S, ZR__HA_DUAL_ACTIVE, ZR__HA_DUAL_ACTIVE, false},
        /* passive */
        {P, S, B, false, A, ZR__HA_PEER_RESTART, -1, false},
        {B, S, P, false, A, ZR__HA_PEER_RESTART, -1, false},
        {P, S, S, false, A, ZR__HA_DUAL_PASSIVE, ZR__HA_DUAL_PASSIVE, false},
        {B, S, S, false, S, -1, ZR__HA_DUAL_PASSIVE, false},
        {P, S, R, true, A, ZR__HA_FAILOVER, -1, true},
        {B, S, R, true, A, ZR__HA_FAILOVER, -1, true},
    };
    size_t nrows = sizeof rows / sizeof rows[0];
    int checked = 0;
    for (int role = P; role <= B; role++) {
        for (int state = P; state <= S; state++) {
            if ((state == P || state == B) && state != role) {
                continue; /* a primary never is in BACKUP, and so on */
            }
            for (int event = P; event <= R; event++) {
                if ((event == P || event == B) && event == role) {
                    continue; /* filtered before: a peer of our role */
                }
                for (int dead = 0; dead < 2; dead++) {
                    s_row_t want = {role,  state, event, dead,
                                    state, -1,    -1,    false};
                    for (size_t i = 0; i < nrows; i++) {
                        const s_row_t *r = &rows[i];
                        if (r->role == role && r->state == state &&
                            r->event == event &&
                            (r->dead == (bool) dead || r->event != R)) {
                            want = *r;
                        }
                    }
                    zr__ha_step_t got = zr__ha_next(role, state, event, dead);
                    ZR_CHECKF(got.state == want.want && got.kind == want.kind &&
                                  got.conflict == want.conflict &&
                                  got.serve == want.serve,
                              "%s in %s, event %d, peer %s: got %s/%s/%d/%d, "
                              "want %s/%s/%d/%d",
                              zr__ha_state_name(role), zr__ha_state_name(state),
                              event, dead ? "dead" : "alive",
                              zr__ha_state_name(got.state),
                              zr__ha_kind_name(got.kind), got.conflict,
                              got.serve, zr__ha_state_name(want.want),
                              zr__ha_kind_name(want.kind), want.conflict,
                              want.serve);
                    checked++;
                }
            }
        }
    }
    printf("     %d (role, state, event, peer) cases\n", checked);
}

/* ---------------------------------------------------------------------
 * Options.
 */

static void
test_options(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *fwd = zr_device_new(ctx, ZR_FORWARDER, "ho-f");
    ZR_FAIL(zr_device_set(fwd, "ha", "primary"), EINVAL);
    printf("     forwarder: %s\n", zr_device_error(fwd));
    ZR_CHECK(strstr(zr_device_error(fwd), "does not apply to a forwarder"));
    zr_device_destroy(&fwd);
    zr_device_t *str = zr_device_new(ctx, ZR_STREAMER, "ho-s");
    ZR_FAIL(zr_device_set(str, "ha_bind", "@inproc://x"), EINVAL);
    zr_device_destroy(&str);
    /* [ha_sync] A majordomo with titanic: only with the replication
     * link (the passive node keeps a copy of the store). */
    zr_device_t *mdp = zr_device_new(ctx, ZR_MAJORDOMO, "ho-m");
    ZR_PASS(zr_device_set_frontend(mdp, "@inproc://ho-m"));
    ZR_PASS(zr_device_set(mdp, "ha", "backup"));
    ZR_PASS(zr_device_set(mdp, "ha_bind", "@inproc://ho-m-state"));
    ZR_PASS(zr_device_set(mdp, "ha_peer", "inproc://ho-m-peer"));
    ZR_PASS(zr_device_set(mdp, "titanic", "/tmp/zrt-ha-titanic-unused"));
    ZR_FAIL(zr_device_open(mdp), EINVAL);
    printf("     with titanic: %s\n", zr_device_error(mdp));
    ZR_CHECK(strstr(zr_device_error(mdp), "ha_sync_bind"));
    ZR_FAIL(zr_device_set(mdp, "ha_sync", "maybe"), EINVAL);
    zr_device_destroy(&mdp);
    /* ha_sync without titanic, or on a queue: refused. */
    mdp = zr_device_new(ctx, ZR_MAJORDOMO, "ho-m2");
    ZR_PASS(zr_device_set_frontend(mdp, "@inproc://ho-m2"));
    ZR_PASS(zr_device_set(mdp, "ha", "backup"));
    ZR_PASS(zr_device_set(mdp, "ha_bind", "@inproc://ho-m2-state"));
    ZR_PASS(zr_device_set(mdp, "ha_peer", "inproc://ho-m2-peer"));
    ZR_PASS(zr_device_set(mdp, "ha_sync", "no"));
    ZR_FAIL(zr_device_open(mdp), EINVAL);
    printf("     ha_sync without titanic: %s\n", zr_device_error(mdp));
    ZR_CHECK(strstr(zr_device_error(mdp), "both ha and titanic"));
    zr_device_destroy(&mdp);
    zr_device_t *q0 = zr_device_new(ctx, ZR_QUEUE, "ho-q0");
    ZR_FAIL(zr_device_set(q0, "ha_sync_bind", "@inproc://x"), EINVAL);
    zr_device_destroy(&q0);

    zr_device_t *q = zr_device_new(ctx, ZR_QUEUE, "ho-q");
    ZR_FAIL(zr_device_set(q, "ha", "master"), EINVAL);
    ZR_CHECK(strstr(zr_device_error(q), "off|primary|backup"));
    ZR_FAIL(zr_device_set(q, "ha_heartbeat", "5ms"), EINVAL);
    ZR_FAIL(zr_device_set(q, "ha_peer", "nonsense"), EINVAL);
    ZR_PASS(zr_device_set_frontend(q, "@inproc://ho-q-front"));
    ZR_PASS(zr_device_set_backend(q, "@inproc://ho-q-back"));
    ZR_PASS(zr_device_set(q, "ha", "primary"));
    ZR_PASS(zr_device_set(q, "ha_bind", "@inproc://ho-q-state"));
    ZR_FAIL(zr_device_open(q), EINVAL);
    printf("     no ha_peer: %s\n", zr_device_error(q));
    ZR_CHECK(strstr(zr_device_error(q), "needs ha_bind"));
    ZR_PASS(zr_device_set(q, "ha", "off"));
    ZR_FAIL(zr_device_open(q), EINVAL);
    printf("     ha off: %s\n", zr_device_error(q));
    ZR_CHECK(strstr(zr_device_error(q), "need ha = primary or backup"));
    ZR_PASS(zr_device_set(q, "ha", "backup"));
    ZR_PASS(zr_device_set(q, "ha_peer", "inproc://ho-q-peer"));
    ZR_PASS(zr_device_set(q, "ha_heartbeat", S_HB));
    ZR_PASS(zr_device_open(q));
    zr_device_destroy(&q);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * Nodes.
 */

/* A queue NAME of role ROLE; ha_bind @inproc://NAME-state, its peer's
 * PEER-state. */
static zr_device_t *
s_node(void *ctx, const char *name, const char *role, const char *peer)
{
    char bind[64], conn[64];
    snprintf(bind, sizeof bind, "@inproc://%s-state", name);
    snprintf(conn, sizeof conn, "inproc://%s-state", peer);
    const char *kv[] = {"ha", role,           "ha_bind", bind, "ha_peer",
                        conn, "ha_heartbeat", S_HB,      NULL};
    return zrt_tag_device(ctx, ZR_QUEUE, name, kv);
}

/* DEV's STATS ha.KEY: a text, a flag (1/0) or a number (as text). */
static void
s_ha(zr_device_t *dev, const char *key, char *buf, size_t len)
{
    char *text = zr_device_stats_json(dev);
    cJSON *root = cJSON_Parse(text);
    free(text);
    ZR_CHECK(root != NULL);
    cJSON *o = cJSON_GetObjectItem(root, "ha");
    char path[64];
    snprintf(path, sizeof path, "%s", key);
    for (char *save = NULL, *k = strtok_r(path, ".", &save); k && o;
         k = strtok_r(NULL, ".", &save)) {
        o = cJSON_GetObjectItem(o, k);
    }
    ZR_CHECKF(o != NULL, "no ha.%s in STATS", key);
    if (cJSON_IsString(o)) {
        snprintf(buf, len, "%s", o->valuestring);
    }
    else if (cJSON_IsBool(o)) {
        snprintf(buf, len, "%d", cJSON_IsTrue(o));
    }
    else {
        snprintf(buf, len, "%.0f", o->valuedouble);
    }
    cJSON_Delete(root);
}

static bool
s_is(zr_device_t *dev, const char *key, const char *want)
{
    char got[64];
    s_ha(dev, key, got, sizeof got);
    return strcmp(got, want) == 0;
}

/* A fake peer: beats BEAT on PUB (every 10 ms) while waiting for COND. */
#define S_WAIT_BEATING(pub, beat, cond)                                        \
    ZR_WAIT((zrt_send_str((pub), (beat), ZMQ_DONTWAIT), zmq_poll(NULL, 0, 8),  \
             (cond)),                                                          \
            ZRT_DEADLINE_MS)

/* A REP worker that echoes, on ENDPOINTS (both nodes' backends). */
static void *
s_worker(void *ctx, const char *a, const char *b)
{
    void *rep = zrt_socket(ctx, ZMQ_REP);
    zrt_connect(rep, a);
    if (b) {
        zrt_connect(rep, b);
    }
    return rep;
}

/* Answer one request on REP, if one comes within MS. */
static bool
s_serve_one(void *rep, long ms)
{
    if (!zrt_readable(rep, ms)) {
        return false;
    }
    char buf[256];
    int n = zmq_recv(rep, buf, sizeof buf, 0);
    ZR_CHECK(n >= 0);
    ZR_CHECK(zmq_send(rep, buf, (size_t) n, 0) == n);
    return true;
}

/* A request to ENDPOINT answered through REP: the reply is the request. */
static void
s_roundtrip(void *ctx, const char *endpoint, void *rep, const char *text)
{
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, endpoint);
    ZR_SEND(req, text);
    ZR_CHECKF(s_serve_one(rep, ZRT_DEADLINE_MS), "%s: no request came",
              endpoint);
    ZR_RECV(req, text);
    zmq_close(req);
}

/* Two nodes find each other: the primary active, the backup passive;
 * the backup refuses a request (read, dropped, counted), the primary
 * serves; each publishes "ZRHA1 ROLE STATE". */
static void
test_pair(void)
{
    void *ctx = zmq_ctx_new();
    void *listen = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(listen, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(listen, "inproc://hp-b-state");
    zr_device_t *p = s_node(ctx, "hp-p", "primary", "hp-b");
    zr_device_t *b = s_node(ctx, "hp-b", "backup", "hp-p");
    ZR_WAIT(s_is(p, "state", "active") && s_is(b, "state", "passive"),
            ZRT_DEADLINE_MS);
    ZR_CHECK(s_is(p, "transitions.ready", "1"));
    ZR_CHECK(s_is(b, "transitions.follow", "1"));
    ZR_CHECK(s_is(p, "peer_state", "passive") && s_is(p, "peer_alive", "1"));
    ZR_CHECK(s_is(b, "peer_state", "active") && s_is(b, "active", "0"));
    /* What it said before it followed may come first. */
    char beat[64] = "";
    while (strcmp(beat, "ZRHA1 backup passive") != 0) {
        zrt_recv_str(listen, beat, sizeof beat);
        ZR_CHECKF(strcmp(beat, "ZRHA1 backup backup") == 0 ||
                      strcmp(beat, "ZRHA1 backup passive") == 0,
                  "the backup said '%s'", beat);
    }

    void *rep = s_worker(ctx, "inproc://hp-p-back", "inproc://hp-b-back");
    s_roundtrip(ctx, "inproc://hp-p-front", rep, "to the primary");
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://hp-b-front");
    ZR_SEND(req, "to the backup");
    ZR_WAIT(s_is(b, "refused", "1"), ZRT_DEADLINE_MS);
    ZR_CHECK(!zrt_readable(rep, 0)); /* dropped, not passed on */
    ZR_CHECK(s_is(b, "state", "passive"));
    ZR_EQ(zrt_stat(b, "backend", "msgs_out", NULL), 0);
    zmq_close(req);
    zmq_close(rep);
    zmq_close(listen);
    zr_device_destroy(&b);
    zr_device_destroy(&p);
    zmq_ctx_term(ctx);
}

/* The primary goes: the backup takes over on the next request once the
 * primary has been silent for two heartbeats, and serves that request
 * (not dropped). The primary comes back: it is passive. */
static void
test_failover(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *p = s_node(ctx, "hf-p", "primary", "hf-b");
    zr_device_t *b = s_node(ctx, "hf-b", "backup", "hf-p");
    ZR_WAIT(s_is(p, "state", "active") && s_is(b, "state", "passive"),
            ZRT_DEADLINE_MS);
    void *rep = s_worker(ctx, "inproc://hf-p-back", "inproc://hf-b-back");
    zr_device_destroy(&p);
    ZR_WAIT(s_is(b, "peer_alive", "0"), ZRT_DEADLINE_MS);
    ZR_CHECK(s_is(b, "state", "passive")); /* no request yet: stays */
    s_roundtrip(ctx, "inproc://hf-b-front", rep, "after the primary");
    ZR_CHECK(s_is(b, "state", "active"));
    ZR_CHECK(s_is(b, "transitions.failover", "1"));
    ZR_CHECK(s_is(b, "refused", "0"));
    /* The primary again: it follows the active backup. */
    p = s_node(ctx, "hf-p", "primary", "hf-b");
    ZR_WAIT(s_is(p, "state", "passive"), ZRT_DEADLINE_MS);
    ZR_CHECK(s_is(p, "transitions.follow", "1"));
    ZR_CHECK(s_is(b, "state", "active"));
    s_roundtrip(ctx, "inproc://hf-b-front", rep, "the backup serves");
    zmq_close(rep);
    zr_device_destroy(&p);
    zr_device_destroy(&b);
    zmq_ctx_term(ctx);
}

/* A backup never serves before it saw an active primary, however long
 * it waits (the Guide's rule: only the primary may start alone). A
 * primary alone serves a request two heartbeats after it started. */
static void
test_alone(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *b = s_node(ctx, "ha-b", "backup", "ha-nobody");
    zr_device_t *p = s_node(ctx, "ha-p", "primary", "ha-nobody2");
    void *rep = s_worker(ctx, "inproc://ha-b-back", "inproc://ha-p-back");
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://ha-b-front");
    int64_t started = zrt_now_ms();
    ZR_SEND(req, "to a lonely backup");
    ZR_WAIT(s_is(b, "refused", "1"), ZRT_DEADLINE_MS);
    /* Past its peer's two heartbeats, a second request: still refused. */
    zmq_close(req);
    ZR_WAIT(zrt_now_ms() > started + 4 * S_HB_MS, ZRT_DEADLINE_MS);
    req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://ha-b-front");
    ZR_SEND(req, "again");
    ZR_WAIT(s_is(b, "refused", "2"), ZRT_DEADLINE_MS);
    ZR_CHECK(s_is(b, "state", "backup"));
    ZR_CHECK(!zrt_readable(rep, 0));
    zmq_close(req);
    s_roundtrip(ctx, "inproc://ha-p-front", rep, "to a lonely primary");
    ZR_CHECK(s_is(p, "state", "active"));
    ZR_CHECK(s_is(p, "transitions.alone", "1"));
    zmq_close(rep);
    zr_device_destroy(&p);
    zr_device_destroy(&b);
    zmq_ctx_term(ctx);
}

/* A fake peer says what the test wants: the conflicts are settled, a
 * restart of the peer is followed, bad heartbeats are counted only. */
static void
test_conflicts(void)
{
    void *ctx = zmq_ctx_new();
    void *fake = zrt_socket(ctx, ZMQ_PUB);
    ZR_CHECK(zmq_bind(fake, "inproc://hc-fake-state") == 0);
    zr_device_t *b = s_node(ctx, "hc-b", "backup", "hc-fake");
    void *rep = s_worker(ctx, "inproc://hc-b-back", NULL);
    S_WAIT_BEATING(fake, "ZRHA1 primary active", s_is(b, "state", "passive"));
    /* The primary goes silent; a request: the backup is active. */
    ZR_WAIT(s_is(b, "peer_alive", "0"), ZRT_DEADLINE_MS);
    s_roundtrip(ctx, "inproc://hc-b-front", rep, "failover");
    ZR_CHECK(s_is(b, "state", "active"));
    /* The primary says it is active too: the backup yields. */
    S_WAIT_BEATING(fake, "ZRHA1 primary active", s_is(b, "state", "passive"));
    ZR_CHECK(s_is(b, "transitions.dual_active", "1"));
    ZR_CHECK(s_is(b, "conflicts.dual_active", "1"));
    /* Two passives: the backup waits for the primary to settle it. */
    S_WAIT_BEATING(fake, "ZRHA1 primary passive",
                   !s_is(b, "conflicts.dual_passive", "0"));
    ZR_CHECK(s_is(b, "state", "passive"));
    /* The primary restarts: the backup is active, the primary follows. */
    S_WAIT_BEATING(fake, "ZRHA1 primary primary", s_is(b, "state", "active"));
    ZR_CHECK(s_is(b, "transitions.peer_restart", "1"));
    /* Heartbeats that are none: counted, nothing else. */
    S_WAIT_BEATING(fake, "ZRHA1 backup active",
                   !s_is(b, "heartbeats.bad", "0"));
    S_WAIT_BEATING(fake, "hello", !s_is(b, "heartbeats.bad", "1"));
    S_WAIT_BEATING(fake, "ZRHA1 primary backup",
                   !s_is(b, "heartbeats.bad", "2"));
    ZR_CHECK(s_is(b, "state", "active"));
    zr_device_destroy(&b);

    /* A primary: two passives, and it takes over. */
    zr_device_t *p = s_node(ctx, "hc-p", "primary", "hc-fake");
    S_WAIT_BEATING(fake, "ZRHA1 backup active", s_is(p, "state", "passive"));
    S_WAIT_BEATING(fake, "ZRHA1 backup passive", s_is(p, "state", "active"));
    ZR_CHECK(s_is(p, "transitions.dual_passive", "1"));
    ZR_CHECK(s_is(p, "conflicts.dual_passive", "1"));
    /* Two actives: the primary stays active, counted. */
    S_WAIT_BEATING(fake, "ZRHA1 backup active",
                   s_is(p, "conflicts.dual_active", "1"));
    ZR_CHECK(s_is(p, "state", "active"));
    zr_device_destroy(&p);
    zmq_close(rep);
    zmq_close(fake);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * A majordomo pair: the handler asks the node about each client request
 * (mdp.c's hook); workers stay registered on the passive node.
 */

/* A majordomo NAME of ROLE, its one socket @inproc://NAME. */
static zr_device_t *
s_mdp_node(void *ctx, const char *name, const char *role, const char *peer)
{
    char front[64], bind[64], conn[64];
    snprintf(front, sizeof front, "@inproc://%s", name);
    snprintf(bind, sizeof bind, "@inproc://%s-state", name);
    snprintf(conn, sizeof conn, "inproc://%s-state", peer);
    zr_device_t *dev = zr_device_new(ctx, ZR_MAJORDOMO, name);
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, front));
    const char *kv[] = {"ha", role,           "ha_bind", bind, "ha_peer",
                        conn, "ha_heartbeat", S_HB,      NULL};
    for (const char **k = kv; *k; k += 2) {
        if (zr_device_set(dev, k[0], k[1]) != 0) {
            ZR_FAILF("%s = %s: %s", k[0], k[1], zr_device_error(dev));
        }
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

/* An MDP/0.1 worker of "echo" on ENDPOINT. */
static void *
s_mdp_worker(void *ctx, const char *endpoint)
{
    void *w = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(w, endpoint);
    ZR_SENDMORE(w, "");
    ZR_SENDMORE(w, "MDPW01");
    ZR_SENDMORE(w, "\x01");
    ZR_SEND(w, "echo");
    return w;
}

/* W answers one request (heartbeats skipped), if one comes within MS. */
static bool
s_mdp_serve(void *w, long ms)
{
    for (;;) {
        if (!zrt_readable(w, ms)) {
            return false;
        }
        zmq_msg_t f[8];
        int n = 0;
        int more = 1;
        while (more && n < 8) {
            zmq_msg_init(&f[n]);
            ZR_CHECK(zmq_msg_recv(&f[n], w, 0) >= 0);
            more = zmq_msg_more(&f[n]);
            n++;
        }
        bool request = n == 6 && zmq_msg_size(&f[2]) == 1 &&
                       *(char *) zmq_msg_data(&f[2]) == 2;
        if (request) {
            zmq_msg_t cmd;
            zmq_msg_init_size(&cmd, 1);
            *(char *) zmq_msg_data(&cmd) = 3; /* REPLY */
            zmq_msg_close(&f[2]);
            f[2] = cmd;
            for (int i = 0; i < n; i++) {
                ZR_CHECK(zmq_msg_send(&f[i], w, i + 1 < n ? ZMQ_SNDMORE : 0) >=
                         0);
            }
            return true;
        }
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&f[i]);
        }
    }
}

/* An MDP/0.1 request to "echo" at ENDPOINT on a new REQ. */
static void *
s_mdp_ask(void *ctx, const char *endpoint, const char *body)
{
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, endpoint);
    ZR_SENDMORE(req, "MDPC01");
    ZR_SENDMORE(req, "echo");
    ZR_SEND(req, body);
    return req;
}

static void
s_mdp_reply(void *req, const char *body)
{
    ZR_RECV(req, "MDPC01");
    ZR_RECV(req, "echo");
    ZR_RECV(req, body);
}

static void
test_mdp_pair(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *p = s_mdp_node(ctx, "hm-p", "primary", "hm-b");
    zr_device_t *b = s_mdp_node(ctx, "hm-b", "backup", "hm-p");
    ZR_WAIT(s_is(p, "state", "active") && s_is(b, "state", "passive"),
            ZRT_DEADLINE_MS);
    void *wp = s_mdp_worker(ctx, "inproc://hm-p");
    void *wb = s_mdp_worker(ctx, "inproc://hm-b");
    ZR_WAIT(zrt_stat(b, "majordomo", "workers", "known", NULL) == 1 &&
                zrt_stat(p, "majordomo", "workers", "known", NULL) == 1,
            ZRT_DEADLINE_MS);
    /* The passive node refuses a client, keeps its worker. */
    void *req = s_mdp_ask(ctx, "inproc://hm-b", "to the backup");
    ZR_WAIT(s_is(b, "refused", "1"), ZRT_DEADLINE_MS);
    ZR_CHECK(!s_mdp_serve(wb, 0));
    zmq_close(req);
    req = s_mdp_ask(ctx, "inproc://hm-p", "to the primary");
    ZR_CHECK(s_mdp_serve(wp, ZRT_DEADLINE_MS));
    s_mdp_reply(req, "to the primary");
    zmq_close(req);
    /* The primary goes: the next request fails over, and is served. */
    zmq_close(wp);
    zr_device_destroy(&p);
    ZR_WAIT(s_is(b, "peer_alive", "0"), ZRT_DEADLINE_MS);
    req = s_mdp_ask(ctx, "inproc://hm-b", "after the primary");
    ZR_CHECK(s_mdp_serve(wb, ZRT_DEADLINE_MS));
    s_mdp_reply(req, "after the primary");
    ZR_CHECK(s_is(b, "state", "active"));
    ZR_CHECK(s_is(b, "transitions.failover", "1"));
    ZR_CHECK(s_is(b, "refused", "1"));
    zmq_close(req);
    zmq_close(wb);
    zr_device_destroy(&b);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * [ha_sync] Titanic on a majordomo pair: the store replicated.
 */

/* DEV's STATS ha_sync.KEY as text (a flag: 1/0). */
static bool
s_sync_is(zr_device_t *dev, const char *key, const char *want)
{
    char *text = zr_device_stats_json(dev);
    cJSON *root = cJSON_Parse(text);
    free(text);
    ZR_CHECK(root != NULL);
    cJSON *o = cJSON_GetObjectItem(root, "ha_sync");
    char path[64];
    snprintf(path, sizeof path, "%s", key);
    for (char *save = NULL, *k = strtok_r(path, ".", &save); k && o;
         k = strtok_r(NULL, ".", &save)) {
        o = cJSON_GetObjectItem(o, k);
    }
    ZR_CHECKF(o != NULL, "no ha_sync.%s in STATS", key);
    char got[64];
    if (cJSON_IsBool(o)) {
        snprintf(got, sizeof got, "%d", cJSON_IsTrue(o));
    }
    else {
        snprintf(got, sizeof got, "%.0f", o->valuedouble);
    }
    cJSON_Delete(root);
    return strcmp(got, want) == 0;
}

/* A majordomo NAME of ROLE with titanic in DIR/NAME, replicating to
 * PEER's SYNC_PEER endpoint (NULL: PEER's own), ha_sync SYNC (NULL: the
 * default). */
static zr_device_t *
s_titanic_node_sync(void *ctx, const char *name, const char *role,
                    const char *peer, const char *dir, const char *sync_peer,
                    const char *sync)
{
    char front[64], bind[64], conn[64], sbind[64], sconn[64], store[300];
    snprintf(front, sizeof front, "@inproc://%s", name);
    snprintf(bind, sizeof bind, "@inproc://%s-state", name);
    snprintf(conn, sizeof conn, "inproc://%s-state", peer);
    snprintf(sbind, sizeof sbind, "@inproc://%s-sync", name);
    snprintf(sconn, sizeof sconn, "inproc://%s-sync",
             sync_peer ? sync_peer : peer);
    snprintf(store, sizeof store, "%s/%s", dir, name);
    zr_device_t *dev = zr_device_new(ctx, ZR_MAJORDOMO, name);
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, front));
    const char *kv[] = {"ha",           role,  "ha_bind",      bind,
                        "ha_peer",      conn,  "ha_heartbeat", S_HB,
                        "titanic",      store, "ha_sync_bind", sbind,
                        "ha_sync_peer", sconn, NULL};
    for (const char **k = kv; *k; k += 2) {
        if (zr_device_set(dev, k[0], k[1]) != 0) {
            ZR_FAILF("%s = %s: %s", k[0], k[1], zr_device_error(dev));
        }
    }
    if (sync && zr_device_set(dev, "ha_sync", sync) != 0) {
        ZR_FAILF("ha_sync = %s: %s", sync, zr_device_error(dev));
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

static zr_device_t *
s_titanic_node(void *ctx, const char *name, const char *role,
               const char *peer, const char *dir, const char *sync_peer)
{
    return s_titanic_node_sync(ctx, name, role, peer, dir, sync_peer, NULL);
}

/* A Titanic call on a new REQ at ENDPOINT: SVC with ARG (and BODY);
 * the status into STATUS and the next frame (if any) into OUT. */
static void
s_titanic_call(void *ctx, const char *endpoint, const char *svc,
               const char *arg, const char *body, char *status, char *out,
               size_t len)
{
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, endpoint);
    ZR_SENDMORE(req, "MDPC01");
    ZR_SENDMORE(req, svc);
    if (body) {
        ZR_SENDMORE(req, arg);
        ZR_SEND(req, body);
    }
    else {
        ZR_SEND(req, arg);
    }
    ZR_CHECKF(zrt_readable(req, ZRT_DEADLINE_MS), "no answer to %s", svc);
    ZR_RECV(req, "MDPC01");
    ZR_RECV(req, svc);
    zrt_recv_str(req, status, 8);
    out[0] = 0;
    int more = 0;
    size_t sz = sizeof more;
    zmq_getsockopt(req, ZMQ_RCVMORE, &more, &sz);
    if (more) {
        zrt_recv_str(req, out, len);
    }
    zmq_close(req);
}

static void
test_titanic_pair(void)
{
    char dir[] = "/tmp/zrt-ha-sync-XXXXXX";
    ZR_CHECK(mkdtemp(dir) != NULL);
    void *ctx = zmq_ctx_new();
    zr_device_t *p = s_titanic_node(ctx, "ht-p", "primary", "ht-b", dir, NULL);
    zr_device_t *b = s_titanic_node(ctx, "ht-b", "backup", "ht-p", dir, NULL);
    /* The backup follows, asks for the store, and has it. */
    ZR_WAIT(s_is(p, "state", "active") && s_is(b, "state", "passive") &&
                s_sync_is(b, "synced", "1"),
            ZRT_DEADLINE_MS);
    /* No worker anywhere: the request stays stored, no reply. */
    char status[8], uuid[64];
    s_titanic_call(ctx, "inproc://ht-p", "titanic.request", "echo", "durable",
                   status, uuid, sizeof uuid);
    ZR_CHECKF(strcmp(status, "200") == 0, "titanic.request: %s", status);
    ZR_CHECK(strlen(uuid) == 32);
    /* Acknowledged after the passive node committed it. */
    ZR_CHECK(s_sync_is(b, "groups.applied", "1"));
    ZR_CHECK(s_sync_is(p, "groups.acked", "1"));
    ZR_CHECK(s_sync_is(p, "degraded", "0"));
    /* The primary goes; the backup takes over and has the request. */
    zr_device_destroy(&p);
    ZR_WAIT(s_is(b, "peer_alive", "0"), ZRT_DEADLINE_MS);
    char reply[64];
    s_titanic_call(ctx, "inproc://ht-b", "titanic.reply", uuid, NULL, status,
                   reply, sizeof reply);
    ZR_CHECK(s_is(b, "state", "active"));
    ZR_CHECKF(strcmp(status, "300") == 0,
              "titanic.reply after the failover: %s (not 300: stored, no "
              "reply yet)",
              status);
    /* It dispatches it: a worker there answers, the reply is stored. */
    void *w = s_mdp_worker(ctx, "inproc://ht-b");
    ZR_CHECK(s_mdp_serve(w, ZRT_DEADLINE_MS));
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    for (;;) {
        s_titanic_call(ctx, "inproc://ht-b", "titanic.reply", uuid, NULL,
                       status, reply, sizeof reply);
        if (strcmp(status, "200") == 0) {
            break;
        }
        ZR_CHECKF(strcmp(status, "300") == 0 && zrt_now_ms() < end,
                  "titanic.reply: %s", status);
        zmq_poll(NULL, 0, 10);
    }
    ZR_CHECK(strcmp(reply, "durable") == 0);
    zmq_close(w);
    zr_device_destroy(&b);
    zmq_ctx_term(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ZR_CHECK(system(cmd) == 0);
}

/* ha_sync = no: acknowledged on the local commit (not counted as
 * degraded), replicated all the same. */
static void
test_titanic_nosync(void)
{
    char dir[] = "/tmp/zrt-ha-nosync-XXXXXX";
    ZR_CHECK(mkdtemp(dir) != NULL);
    void *ctx = zmq_ctx_new();
    zr_device_t *p =
        s_titanic_node_sync(ctx, "hn-p", "primary", "hn-b", dir, NULL, "no");
    zr_device_t *b =
        s_titanic_node_sync(ctx, "hn-b", "backup", "hn-p", dir, NULL, "no");
    ZR_WAIT(s_is(p, "state", "active") && s_sync_is(b, "synced", "1"),
            ZRT_DEADLINE_MS);
    char status[8], uuid[64];
    s_titanic_call(ctx, "inproc://hn-p", "titanic.request", "echo", "quick",
                   status, uuid, sizeof uuid);
    ZR_CHECKF(strcmp(status, "200") == 0, "titanic.request: %s", status);
    ZR_CHECK(s_sync_is(p, "groups.sent", "1"));
    ZR_WAIT(s_sync_is(b, "groups.applied", "1") &&
                s_sync_is(p, "groups.acked", "1"),
            ZRT_DEADLINE_MS);
    ZR_CHECK(s_sync_is(p, "degraded", "0")); /* no is not degraded */
    zr_device_destroy(&p);
    zr_device_destroy(&b);
    zmq_ctx_term(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ZR_CHECK(system(cmd) == 0);
}

/* A passive node that has not caught up does not take over. */
static void
test_titanic_unsynced(void)
{
    char dir[] = "/tmp/zrt-ha-unsynced-XXXXXX";
    ZR_CHECK(mkdtemp(dir) != NULL);
    void *ctx = zmq_ctx_new();
    /* The backup's replication link leads nowhere. */
    zr_device_t *p = s_titanic_node(ctx, "hu-p", "primary", "hu-b", dir, NULL);
    zr_device_t *b =
        s_titanic_node(ctx, "hu-b", "backup", "hu-p", dir, "hu-nowhere");
    ZR_WAIT(s_is(p, "state", "active") && s_is(b, "state", "passive"),
            ZRT_DEADLINE_MS);
    ZR_WAIT(s_sync_is(b, "hellos", "2"), ZRT_DEADLINE_MS);
    ZR_CHECK(s_sync_is(b, "synced", "0"));
    zr_device_destroy(&p);
    ZR_WAIT(s_is(b, "peer_alive", "0"), ZRT_DEADLINE_MS);
    void *req = s_mdp_ask(ctx, "inproc://hu-b", "to the backup");
    ZR_WAIT(s_is(b, "refused", "1"), ZRT_DEADLINE_MS);
    ZR_CHECK(s_is(b, "state", "passive"));
    ZR_CHECK(s_is(b, "transitions.failover", "0"));
    zmq_close(req);
    zr_device_destroy(&b);
    zmq_ctx_term(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ZR_CHECK(system(cmd) == 0);
}

ZR_TESTS = {
    {"ha state machine as the Guide", test_fsm},
    {"ha options and their errors", test_options},
    {"ha pair: active serves, passive refuses", test_pair},
    {"ha failover on a request, the old primary follows", test_failover},
    {"ha alone: a backup never, a primary after 2 beats", test_alone},
    {"ha conflicts settled, restarts followed, bad beats", test_conflicts},
    {"ha majordomo pair: refused, then failover", test_mdp_pair},
    {"ha_sync: acked once the passive has it, kept on failover",
     test_titanic_pair},
    {"ha_sync: a passive that has not caught up stays passive",
     test_titanic_unsynced},
    {"ha_sync = no: not degraded, replicated all the same",
     test_titanic_nosync},
    {NULL, NULL}};

ZR_MAIN
