/* test_review.c - cases from the review of the message path (issue 11):
 * the outlet, the engine's loop and stop, and how handlers use them.
 * Each case names what it checks; each failed before its fix.
 * SPDX-License-Identifier: MIT
 *
 * The engine is driven directly (zr__engine_*): a stop requested before
 * zr__engine_run makes the run go straight to its stop, so whatever a
 * peer sent beforehand is read by the stop's drain, deterministically.
 */
#include "zr_impl.h"
#include "zrtest.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

/* Wait until SOCKET has a message to read (not reading it). */
static void
s_wait_readable(void *socket)
{
    zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
    ZR_CHECKF(zmq_poll(&item, 1, ZRT_DEADLINE_MS) == 1,
              "nothing arrived within %d ms", ZRT_DEADLINE_MS);
}

static uint64_t
s_drops(const zr_socket_stats_t *s)
{
    return s->drop_no_route + s->drop_peer_full + s->drop_error +
           s->drop_shutdown;
}

/* An engine between a frontend and a backend socket of its own context,
 * bound to inproc://rv-NAME-front and inproc://rv-NAME-back; run in a
 * thread or stopped before it runs. Sockets a case adds are the case's to
 * close before s_rig_close. */
typedef struct {
    void *ctx, *front, *back;
    zr__engine_t *engine;
    pthread_t thread;
    bool running;
    char front_ep[64], back_ep[64];
} s_rig_t;

/* The context and the sockets, for options before s_rig_bind. */
static void
s_rig_new(s_rig_t *r, int front_type, int back_type)
{
    memset(r, 0, sizeof *r);
    r->ctx = zmq_ctx_new();
    r->front = zrt_socket(r->ctx, front_type);
    r->back = zrt_socket(r->ctx, back_type);
}

static void
s_rig_bind(s_rig_t *r, const char *name)
{
    snprintf(r->front_ep, sizeof r->front_ep, "inproc://rv-%s-front", name);
    snprintf(r->back_ep, sizeof r->back_ep, "inproc://rv-%s-back", name);
    ZR_PASS(zmq_bind(r->front, r->front_ep));
    ZR_PASS(zmq_bind(r->back, r->back_ep));
    r->engine = zr__engine_new();
    ZR_PASS(zr__engine_set_sockets(r->engine, r->front, r->back));
}

static void
s_rig_open(s_rig_t *r, const char *name, int front_type, int back_type)
{
    s_rig_new(r, front_type, back_type);
    s_rig_bind(r, name);
}

static void *
s_run_engine(void *arg)
{
    zr__engine_run(arg);
    return NULL;
}

static void
s_rig_run(s_rig_t *r)
{
    ZR_EQ(pthread_create(&r->thread, NULL, s_run_engine, r->engine), 0);
    r->running = true;
}

/* Stop the engine and wait for its thread. */
static void
s_rig_stop(s_rig_t *r)
{
    zr__engine_stop(r->engine);
    if (r->running) {
        pthread_join(r->thread, NULL);
        r->running = false;
    }
}

/* A peer of TYPE sends TEXT to the frontend; once it is there the engine
 * is stopped and then run: the run goes straight to the stop's drain,
 * which reads it. ST: the engine's stats after. Returns the peer. */
static void *
s_rig_drain_one(s_rig_t *r, int type, const char *text, zr_stats_t *st)
{
    void *peer = zrt_socket(r->ctx, type);
    zrt_connect(peer, r->front_ep);
    ZR_SEND(peer, text);
    s_wait_readable(r->front);

    zr__engine_stop(r->engine);
    ZR_EQ(zr__engine_run(r->engine), 0);
    zr__engine_stats(r->engine, st);
    return peer;
}

static void
s_rig_close(s_rig_t *r)
{
    zr__engine_destroy(&r->engine);
    zmq_close(r->front);
    zmq_close(r->back);
    zmq_ctx_term(r->ctx);
}

/* A forwarder with a gate (hold_until 1, no subscriber): a publication
 * that arrives during the stop's drain is taken by the gate. The gate
 * was flushed before the drain, never after: the message was neither
 * sent nor counted as a drop, and freed with the gate. */
static void
test_gate_drain_at_stop(void)
{
    s_rig_t r;
    s_rig_open(&r, "gate", ZMQ_PULL, ZMQ_XPUB);
    zr__engine_set_drain(r.engine, NULL, NULL);
    zr__pubsub_opts_t opts = {.hold_until = 1};
    zr__pubsub_t *pubsub =
        zr__pubsub_new(r.engine, "rv", r.front, r.back, NULL, &opts);
    ZR_CHECK(pubsub != NULL);

    zr_stats_t st;
    void *push = s_rig_drain_one(&r, ZMQ_PUSH, "hello", &st);
    ZR_EQ(st.frontend.msgs_in, 1);
    ZR_CHECKF(st.backend.msgs_out + s_drops(&st.backend) == 1,
              "msgs_in 1, but msgs_out %" PRIu64 " + drops %" PRIu64
              ": the message vanished",
              st.backend.msgs_out, s_drops(&st.backend));

    zr__pubsub_destroy(&pubsub);
    zmq_close(push);
    s_rig_close(&r);
}

/* A broker (lru, no worker): a request read during the stop's drain
 * waits for a worker; the broker's flush ran before the drain, so the
 * client never got its "ZRELAY-ERROR stopping" (docs/BROKER.md: "an
 * answer for every request"), and the request was not counted. */
static void
test_broker_drain_at_stop(void)
{
    s_rig_t r;
    s_rig_open(&r, "brk", ZMQ_ROUTER, ZMQ_ROUTER);
    zr__engine_set_drain(r.engine, NULL, NULL);
    zr__broker_opts_t opts = {
        .strategy = ZR__STRATEGY_LRU, .heartbeat = 1000, .liveness = 3};
    zr__broker_t *broker =
        zr__broker_new(r.engine, "rv", r.front, r.back, &opts);
    ZR_CHECK(broker != NULL);

    zr_stats_t st;
    void *client = s_rig_drain_one(&r, ZMQ_DEALER, "request", &st);
    ZR_EQ(st.frontend.msgs_in, 1);
    ZR_CHECKF(zrt_readable(client, 2000),
              "no answer to a request read at stop (frontend msgs_out %" PRIu64
              ", drops %" PRIu64 ")",
              st.frontend.msgs_out, s_drops(&st.frontend));
    ZR_RECV(client, "ZRELAY-ERROR stopping the broker is stopping");

    zr__broker_destroy(&broker);
    zmq_close(client);
    s_rig_close(&r);
}

/* A handler whose timer asks for another call (zr__engine_set_deadline,
 * as the broker does when it sends a request from its timer) and then
 * returns -1 ("nothing more from me"): the engine's "-1 < any deadline"
 * made that -1 wipe the deadline asked for, and the second call never
 * came. */
typedef struct {
    zr__engine_t *engine;
    atomic_int calls;
} s_timed_t;

static zr__verdict_t
s_timed_message(void *arg, int dir, zr__msg_t *msg)
{
    (void) arg;
    (void) dir;
    (void) msg;
    return ZR__SEND;
}

static int64_t
s_timed_timer(void *arg, int64_t now)
{
    s_timed_t *t = arg;
    if (atomic_fetch_add(&t->calls, 1) == 0) {
        zr__engine_set_deadline(t->engine, now + 5);
    }
    return -1;
}

static void
test_deadline_set_in_timer(void)
{
    s_rig_t r;
    s_rig_open(&r, "timer", ZMQ_PULL, ZMQ_PUSH);
    s_timed_t timed = {.engine = r.engine};
    zr__handler_t handler = {s_timed_message, s_timed_timer, NULL, &timed, 0};
    zr__engine_set_handler(r.engine, &handler);
    zr__engine_set_deadline(r.engine, zr__now_ms());
    s_rig_run(&r);
    ZR_WAIT(atomic_load(&timed.calls) >= 1, ZRT_DEADLINE_MS);
    int64_t start = zrt_now_ms();
    while (atomic_load(&timed.calls) < 2 && zrt_now_ms() - start < 2000) {
        zmq_poll(NULL, 0, 2);
    }
    int calls = atomic_load(&timed.calls);
    s_rig_stop(&r);
    ZR_CHECKF(calls >= 2,
              "the deadline the timer asked for was lost: %d call(s) in 2 s",
              calls);
    s_rig_close(&r);
}

/* ---------------------------------------------------------------------
 * A peer that goes mid-message. The test binary's own zmq_msg_send runs
 * a hook before libzmq's: armed on a socket, before its Nth frame it
 * disconnects that socket from ENDPOINT (on the sending thread, so the
 * pipe is terminating when the frame is written: deterministic).
 */
typedef int (*s_msg_send_fn)(zmq_msg_t *, void *, int);
static struct {
    void *socket;
    const char *endpoint;
    int nth, seen;
} s_cut;

int
zmq_msg_send(zmq_msg_t *msg, void *socket, int flags)
{
    static s_msg_send_fn real;
    if (!real) {
        void *p = dlsym(RTLD_NEXT, "zmq_msg_send");
        memcpy(&real, &p, sizeof p);
    }
    if (s_cut.socket && socket == s_cut.socket && s_cut.seen++ == s_cut.nth) {
        zmq_disconnect(s_cut.socket, s_cut.endpoint);
        s_cut.socket = NULL;
    }
    return real(msg, socket, flags);
}

/* Receive one whole message from SOCKET into TEXT ("a|b|c"). */
static void
s_recv_parts(void *socket, char *text, size_t len)
{
    text[0] = 0;
    int more = 1;
    while (more) {
        char part[64];
        zrt_recv_str(socket, part, sizeof part);
        more = 0;
        size_t size = sizeof more;
        zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &size);
        strncat(text, part, len - strlen(text) - 1);
        if (more) {
            strncat(text, "|", len - strlen(text) - 1);
        }
    }
}

/* A PUSH outlet sends "a|b|c" to its only peer, which goes before frame
 * CUT; capture on. The whole message must wait for the next peer and
 * reach it once, whole; the capture sees it once; nothing reaches the
 * peer that went. */
static void
s_restart_case(int cut)
{
    void *ctx = zmq_ctx_new();
    void *gone = zrt_socket(ctx, ZMQ_PULL);
    void *next = zrt_socket(ctx, ZMQ_PULL);
    void *cap = zrt_socket(ctx, ZMQ_XPUB);
    void *listener = zrt_socket(ctx, ZMQ_SUB);
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    ZR_PASS(zmq_bind(gone, "inproc://rv-cut-gone"));
    ZR_PASS(zmq_bind(next, "inproc://rv-cut-next"));
    ZR_PASS(zmq_bind(cap, "inproc://rv-cut-cap"));
    zrt_connect(listener, "inproc://rv-cut-cap");
    zmq_setsockopt(listener, ZMQ_SUBSCRIBE, "", 0);
    s_wait_readable(cap); /* the subscription */
    zrt_connect(push, "inproc://rv-cut-gone");

    zr__sockstats_t stats = {0};
    zr__capture_t *capture = zr__capture_new(cap);
    zr__capture_drain(capture);
    zr__outlet_t *o = zr__outlet_new(push, &stats, capture, "rv");
    zr__outlet_set_way(o, "backend");
    zr__msg_t msg = {NULL, 0, 0};
    zr__msg_addstr(&msg, "a");
    zr__msg_addstr(&msg, "b");
    zr__msg_addstr(&msg, "c");
    s_cut.socket = push;
    s_cut.endpoint = "inproc://rv-cut-gone";
    s_cut.nth = cut;
    s_cut.seen = 0;
    zr__out_t out = zr__outlet_send(o, &msg);
    ZR_CHECKF(s_cut.socket == NULL, "the peer did not go before frame %d", cut);
    ZR_CHECKF(out == ZR__OUT_HELD, "no peer left: want HELD, got %d",
              (int) out);
    zrt_connect(push, "inproc://rv-cut-next");
    ZR_WAIT(zr__outlet_flush(o) == ZR__OUT_SENT, ZRT_DEADLINE_MS);
    zr__outlet_publish(o);

    char text[64];
    s_recv_parts(next, text, sizeof text);
    ZR_STREQ(text, "a|b|c");
    s_recv_parts(listener, text, sizeof text);
    ZR_STREQ(text, "backend|a|b|c"); /* the way it went, then the copy */
    ZR_EQ(zr__stat_get(&stats.msgs_out), 1);
    ZR_EQ(zr__stat_get(&stats.msgs_resent), 1);
    ZR_EQ(zr__stat_get(&stats.drop_error), 0);
    uint64_t caps = 0, missed = 0;
    zr__capture_stats(capture, &caps, &missed);
    ZR_EQ(caps, 1);
    ZR_EQ(missed, 0);
    ZR_CHECKF(!zrt_readable(gone, 0) && !zrt_readable(next, 0) &&
                  !zrt_readable(listener, 0),
              "a fragment or a second copy arrived");

    zr__outlet_destroy(&o);
    zr__capture_destroy(&capture);
    zr__msg_destroy(&msg);
    zmq_close(push);
    zmq_close(gone);
    zmq_close(next);
    zmq_close(cap);
    zmq_close(listener);
    zmq_ctx_term(ctx);
}

static void
test_restart_middle_frame(void)
{
    s_restart_case(1);
}

static void
test_restart_last_frame(void)
{
    s_restart_case(2);
}

/* A forwarder with a gate (hold_until 1) and last values: A1 and A2 wait
 * at the gate; a subscriber to "A" arrives. The last value (A2, still at
 * the gate) went to it at once, ahead of the gate's release, which then
 * gave it A1 and A2 again: A2, A1, A2 instead of A1, A2. */
static void
test_gate_last_value_order(void)
{
    s_rig_t r;
    s_rig_open(&r, "lvg", ZMQ_PULL, ZMQ_XPUB);
    zr__pubsub_opts_t opts = {.hold_until = 1, .last_value = true};
    zr__pubsub_t *pubsub =
        zr__pubsub_new(r.engine, "rv", r.front, r.back, NULL, &opts);
    ZR_CHECK(pubsub != NULL);
    s_rig_run(&r);

    void *push = zrt_socket(r.ctx, ZMQ_PUSH);
    zrt_connect(push, r.front_ep);
    ZR_SEND(push, "A1");
    ZR_SEND(push, "A2");
    zr_stats_t st;
    ZR_WAIT((zr__engine_stats(r.engine, &st), st.frontend.msgs_in == 2),
            ZRT_DEADLINE_MS);
    void *sub = zrt_socket(r.ctx, ZMQ_SUB);
    zrt_connect(sub, r.back_ep);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "A", 1);
    char got[3][16] = {"", "", ""};
    int n = 0;
    while (n < 3 && zrt_readable(sub, n < 2 ? ZRT_DEADLINE_MS : 300)) {
        zrt_recv_str(sub, got[n], sizeof got[n]);
        n++;
    }
    s_rig_stop(&r);
    ZR_CHECKF(n == 2 && strcmp(got[0], "A1") == 0 && strcmp(got[1], "A2") == 0,
              "the late subscriber got %d message(s): %s %s %s (want A1 A2)", n,
              got[0], got[1], got[2]);

    zr__pubsub_destroy(&pubsub);
    zmq_close(sub);
    zmq_close(push);
    s_rig_close(&r);
}

/* Last values and a held message. A3 is held by the backend's outlet
 * (XPUB_NODROP, the only subscriber S1 not reading, its pipe full); S2
 * subscribes to "A". The cache used to give S2 A3 at once, ahead of the
 * held one, and the held A3 then reached S2 too: twice. The cache now
 * leaves a topic whose newer message is held to the live one. */
static void
test_held_last_value_twice(void)
{
    s_rig_t r;
    s_rig_new(&r, ZMQ_PULL, ZMQ_XPUB);
    zrt_setint(r.back, ZMQ_SNDHWM, 1);
    zrt_setint(r.back, ZMQ_XPUB_NODROP, 1);
    s_rig_bind(&r, "lvh");
    zr__pubsub_opts_t opts = {.last_value = true};
    zr__pubsub_t *pubsub =
        zr__pubsub_new(r.engine, "rv", r.front, r.back, NULL, &opts);
    ZR_CHECK(pubsub != NULL);
    s_rig_run(&r);

    void *s1 = zrt_socket(r.ctx, ZMQ_SUB);
    zrt_setint(s1, ZMQ_RCVHWM, 1);
    zrt_connect(s1, r.back_ep);
    zmq_setsockopt(s1, ZMQ_SUBSCRIBE, "A", 1);
    zr_stats_t st;
    ZR_WAIT((zr__engine_stats(r.engine, &st), st.backend.msgs_in == 1),
            ZRT_DEADLINE_MS);
    void *push = zrt_socket(r.ctx, ZMQ_PUSH);
    zrt_connect(push, r.front_ep);
    ZR_SEND(push, "A1");
    ZR_SEND(push, "A2");
    ZR_SEND(push, "A3");
    ZR_WAIT((zr__engine_stats(r.engine, &st),
             st.frontend.msgs_in == 3 && st.backend.msgs_out == 2),
            ZRT_DEADLINE_MS);
    void *s2 = zrt_socket(r.ctx, ZMQ_SUB);
    zrt_connect(s2, r.back_ep);
    zmq_setsockopt(s2, ZMQ_SUBSCRIBE, "A", 1);
    ZR_WAIT((zr__engine_stats(r.engine, &st), st.backend.msgs_in == 2),
            ZRT_DEADLINE_MS); /* S2's subscription was applied */
    ZR_RECV(s1, "A1");
    ZR_RECV(s1, "A2");
    ZR_RECV(s1, "A3"); /* the held one went: to S2 as well */
    ZR_RECV(s2, "A3"); /* once, live: the cache did not send it too */
    ZR_SEND(push, "A4");
    ZR_RECV(s1, "A4");
    char got[16];
    zrt_recv_str(s2, got, sizeof got);
    s_rig_stop(&r);
    ZR_CHECKF(strcmp(got, "A4") == 0,
              "S2 got %s after A3: A3 twice, from the cache and live", got);

    zr__pubsub_destroy(&pubsub);
    zmq_close(s1);
    zmq_close(s2);
    zmq_close(push);
    s_rig_close(&r);
}

ZR_TESTS = {
    {"REVIEW: a publication the gate takes at stop is not lost",
     test_gate_drain_at_stop},
    {"REVIEW: a request the broker takes at stop gets its answer",
     test_broker_drain_at_stop},
    {"REVIEW: a deadline set in the timer outlives its -1",
     test_deadline_set_in_timer},
    {"REVIEW: PUSH peer gone before a middle frame: sent once, whole",
     test_restart_middle_frame},
    {"REVIEW: PUSH peer gone before the last frame: sent once, whole",
     test_restart_last_frame},
    {"REVIEW: gate and last value: a late joiner gets each message once",
     test_gate_last_value_order},
    {"REVIEW: a last value and the same message held: sent once",
     test_held_last_value_twice},
    {NULL, NULL},
};
ZR_MAIN
