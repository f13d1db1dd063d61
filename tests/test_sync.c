/* test_sync.c - the forwarder's sync service and gate: go means every
 * subscriber gets everything sent next, probes never reach subscribers,
 * and held publications leave in order, counted when forced.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <unistd.h>

static zr_device_t *
s_forwarder(void *ctx, const char *tag, const char *extra_key,
            const char *extra_value)
{
    char sync[64];
    snprintf(sync, sizeof sync, "@inproc://%s-sync", tag);
    const char *kv[] = {"sync", sync, extra_key, extra_value, NULL};
    return zrt_tag_device(ctx, ZR_FORWARDER, tag, kv);
}

/* N = 0 goes at once; more than there are times out; nonsense gets an
 * error reply. */
static void
test_answers(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_forwarder(ctx, "ans", NULL, NULL);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://ans-front");
    ZR_EQ(zr_sync_wait(ctx, pub, "inproc://ans-sync", 0, "", 5000), 0);
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "A", 1);
    zrt_connect(sub, "inproc://ans-back");
    ZR_EQ(zr_sync_wait(ctx, pub, "inproc://ans-sync", 1, "A", 5000), 1);
    ZR_EQ(zr_sync_wait(ctx, pub, "inproc://ans-sync", 1, "AB", 5000), 1);
    /* "B" does not overlap "A". */
    int64_t start = zrt_now_ms();
    ZR_FAIL(zr_sync_wait(ctx, pub, "inproc://ans-sync", 1, "B", 200),
            ETIMEDOUT);
    ZR_CHECK(zrt_now_ms() - start >= 200);
    ZR_FAIL(zr_sync_wait(ctx, pub, "inproc://ans-sync", 2, "", 100), ETIMEDOUT);
    /* A REQ speaking the protocol by hand, wrongly. */
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://ans-sync");
    ZR_SEND(req, "HELLO");
    ZR_RECV(req, "ERROR");
    ZR_RECV(req, "expected WAIT N PREFIX TIMEOUT_MS (see docs/SYNC.md)");
    ZR_SENDMORE(req, "WAIT");
    ZR_SENDMORE(req, "three");
    ZR_SENDMORE(req, "");
    ZR_SEND(req, "100");
    ZR_RECV(req, "ERROR");
    ZR_RECV(req, "N must be a whole number");
    ZR_EQ(zrt_stat(dev, "sync", "go", NULL), 3);
    ZR_EQ(zrt_stat(dev, "sync", "timeouts", NULL), 2);
    ZR_EQ(zrt_stat(dev, "sync", "errors", NULL), 2);
    ZR_EQ(zrt_stat(dev, "sync", "waiting", NULL), 0);
    ZR_EQ(zrt_stat(dev, "subscriptions", "total", NULL), 1);
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* A subscriber to everything sees no probe, ever. */
static void
test_probes_consumed(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_forwarder(ctx, "pc", NULL, NULL);
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(sub, "inproc://pc-back");
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://pc-front");
    for (int round = 0; round < 5; round++) {
        ZR_EQ(zr_sync_wait(ctx, pub, "inproc://pc-sync", 1, "", 5000), 1);
        ZR_SEND(pub, "data");
        ZR_RECV(sub, "data");
    }
    /* The probes took the same way as the data, so a probe that got past
     * the forwarder would come before "end": "end" is next, and the
     * backend sent the five data messages and "end", nothing else. */
    ZR_SEND(pub, "end");
    ZR_RECV(sub, "end");
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_out >= 6, ZRT_DEADLINE_MS);
    ZR_EQ(st.backend.msgs_out, 6);
    ZR_CHECK(zrt_stat(dev, "sync", "probes", NULL) >= 5);
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * The acceptance trials: one publisher, the forwarder and 3 subscribers
 * start in a random order; the publisher waits for 3, then sends 1,000
 * at once; every subscriber gets all 1,000. Everything at HWM 10,000 (a
 * burst larger than its HWM is dropped by any PUB). Over ipc, whose
 * endpoints are known before anything binds.
 */

#define S_HWM 10000
#define S_BURST 1000
#define S_SUBS 3

typedef struct {
    void *ctx;
    char front[128], sync[128];
    int rc, err;
} s_pub_t;

static void *
s_publish(void *arg)
{
    s_pub_t *p = arg;
    void *pub = zrt_socket(p->ctx, ZMQ_PUB);
    zrt_setint(pub, ZMQ_SNDHWM, S_HWM);
    zrt_setint(pub, ZMQ_RECONNECT_IVL, 10);
    zrt_connect(pub, p->front);
    p->rc = zr_sync_wait(p->ctx, pub, p->sync, S_SUBS, "", 20000);
    p->err = errno;
    for (uint32_t i = 0; p->rc >= 0 && i < S_BURST; i++) {
        if (zmq_send(pub, &i, sizeof i, 0) != sizeof i) {
            p->rc = -1;
            p->err = errno;
        }
    }
    zrt_setint(pub, ZMQ_LINGER, 5000); /* deliver the burst */
    zmq_close(pub);
    return NULL;
}

static zr_device_t *
s_broker(void *ctx, const char *dir)
{
    char front[128], back[128], sync[128];
    snprintf(front, sizeof front, "@ipc://%s/front", dir);
    snprintf(back, sizeof back, "@ipc://%s/back", dir);
    snprintf(sync, sizeof sync, "@ipc://%s/sync", dir);
    zr_device_t *dev = zr_device_new(ctx, ZR_FORWARDER, "trial");
    ZR_PASS(zr_device_set_frontend(dev, front));
    ZR_PASS(zr_device_set_backend(dev, back));
    ZR_PASS(zr_device_set_sync(dev, sync));
    ZR_PASS(zr_device_set_sndhwm(dev, S_HWM));
    ZR_PASS(zr_device_set_rcvhwm(dev, S_HWM));
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

static uint64_t s_rand_state = 88172645463325252ull;

static unsigned
s_rand(unsigned n)
{
    s_rand_state ^= s_rand_state << 13;
    s_rand_state ^= s_rand_state >> 7;
    s_rand_state ^= s_rand_state << 17;
    return (unsigned) (s_rand_state % n);
}

/* ORDER: 0 the publisher, 1 the forwarder, 2.. the subscribers. */
static void
s_trial(int trial, const int *order)
{
    char dir[] = "/tmp/zrelay-sync-XXXXXX";
    ZR_CHECK(mkdtemp(dir) != NULL);
    void *ctx = zmq_ctx_new();
    s_pub_t pub = {.ctx = ctx, .rc = -1};
    snprintf(pub.front, sizeof pub.front, "ipc://%s/front", dir);
    snprintf(pub.sync, sizeof pub.sync, "ipc://%s/sync", dir);
    pthread_t thread;
    bool published = false;
    zr_device_t *dev = NULL;
    void *subs[S_SUBS] = {NULL};
    char back[128];
    snprintf(back, sizeof back, "ipc://%s/back", dir);
    for (int step = 0; step < 2 + S_SUBS; step++) {
        int who = order[step];
        if (who == 0) {
            pthread_create(&thread, NULL, s_publish, &pub);
            published = true;
        }
        else if (who == 1) {
            dev = s_broker(ctx, dir);
        }
        else {
            void *sub = zrt_socket(ctx, ZMQ_SUB);
            zrt_setint(sub, ZMQ_RCVHWM, S_HWM);
            zrt_setint(sub, ZMQ_RECONNECT_IVL, 10);
            zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
            zrt_connect(sub, back);
            subs[who - 2] = sub;
        }
    }
    ZR_CHECK(published);
    for (int s = 0; s < S_SUBS; s++) {
        for (uint32_t i = 0; i < S_BURST; i++) {
            uint32_t n;
            ZR_CHECKF(zrt_readable(subs[s], ZRT_DEADLINE_MS),
                      "trial %d (order %d%d%d%d%d): subscriber %d got %u of "
                      "%d",
                      trial, order[0], order[1], order[2], order[3], order[4],
                      s, i, S_BURST);
            ZR_EQ(zmq_recv(subs[s], &n, sizeof n, 0), 4);
            ZR_CHECKF(n == i, "trial %d: subscriber %d got %u, want %u", trial,
                      s, n, i);
        }
    }
    pthread_join(thread, NULL);
    ZR_CHECKF(pub.rc == S_SUBS, "trial %d: zr_sync_wait: %d (%s)", trial,
              pub.rc, zmq_strerror(pub.err));
    zr_device_destroy(&dev);
    for (int s = 0; s < S_SUBS; s++) {
        zmq_close(subs[s]);
    }
    zmq_ctx_term(ctx);
    const char *names[] = {"front", "back", "sync"};
    for (int i = 0; i < 3; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void
test_two_hundred_trials(void)
{
    const int trials = 200;
    int first = 0, last = 0;
    for (int t = 0; t < trials; t++) {
        int order[2 + S_SUBS] = {0, 1, 2, 3, 4};
        if (t == 0) {
            /* The publisher first: it waits before anything exists. */
        }
        else if (t == 1) {
            int o[] = {1, 2, 3, 4, 0}; /* the publisher last */
            memcpy(order, o, sizeof o);
        }
        else {
            for (int i = 4; i > 0; i--) { /* Fisher-Yates */
                int j = (int) s_rand((unsigned) i + 1);
                int tmp = order[i];
                order[i] = order[j];
                order[j] = tmp;
            }
        }
        first += order[0] == 0;
        last += order[4] == 0;
        s_trial(t, order);
    }
    printf("%d trials (publisher first in %d, last in %d): every subscriber "
           "got all %d every time\n",
           trials, first, last, S_BURST);
}

/* ---------------------------------------------------------------------
 * The gate.
 */

static zr_device_t *
s_gate(void *ctx, const char *tag, uint64_t until, uint64_t max, int timeout)
{
    char front[64], back[64];
    snprintf(front, sizeof front, "@inproc://%s-front", tag);
    snprintf(back, sizeof back, "@inproc://%s-back", tag);
    zr_device_t *dev = zr_device_new(ctx, ZR_FORWARDER, tag);
    ZR_PASS(zr_device_set_frontend(dev, front));
    ZR_PASS(zr_device_set_backend(dev, back));
    ZR_PASS(zr_device_set(dev, "ingest", "pull"));
    ZR_PASS(zr_device_set_hold(dev, until, max, 0, timeout));
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

/* Publications that come before any subscriber wait, and all arrive. */
static void
test_gate_holds_then_releases(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_gate(ctx, "gate", 1, 100, 0);
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, "inproc://gate-front");
    for (int i = 0; i < 3; i++) {
        char text[16];
        snprintf(text, sizeof text, "early %d", i);
        ZR_SEND(push, text);
    }
    ZR_WAIT(zrt_stat(dev, "gate", "held", NULL) == 3, ZRT_DEADLINE_MS);
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(sub, "inproc://gate-back");
    ZR_RECV(sub, "early 0");
    ZR_RECV(sub, "early 1");
    ZR_RECV(sub, "early 2");
    ZR_SEND(push, "later");
    ZR_RECV(sub, "later");
    ZR_EQ(zrt_stat(dev, "gate", "held", NULL), 0);
    ZR_EQ(zrt_stat(dev, "gate", "released", NULL), 3);
    ZR_EQ(zrt_stat(dev, "gate", "forced_by_bound", NULL), 0);
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* The bound and the timeout force messages on, counted. */
static void
test_gate_forced(void)
{
    void *ctx = zmq_ctx_new();
    /* Wait for 2 subscribers; hold at most 2 messages, 300 ms each. */
    zr_device_t *dev = s_gate(ctx, "forced", 2, 2, 300);
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(sub, "inproc://forced-back");
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 1,
            ZRT_DEADLINE_MS);
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, "inproc://forced-front");
    ZR_SEND(push, "m0");
    ZR_SEND(push, "m1");
    ZR_SEND(push, "m2"); /* over the bound: m0 goes on */
    ZR_RECV(sub, "m0");
    ZR_EQ(zrt_stat(dev, "gate", "forced_by_bound", NULL), 1);
    /* The other two leave at their timeout, in order. */
    int64_t start = zrt_now_ms();
    ZR_RECV(sub, "m1");
    ZR_RECV(sub, "m2");
    ZR_CHECK(zrt_now_ms() - start >= 200);
    ZR_EQ(zrt_stat(dev, "gate", "forced_by_timeout", NULL), 2);
    ZR_EQ(zrt_stat(dev, "gate", "held", NULL), 0);
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* At stop, what the gate holds goes to whoever is subscribed. */
static void
test_gate_flush_at_stop(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_gate(ctx, "flush", 5, 100, 0);
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(sub, "inproc://flush-back");
    ZR_WAIT(zrt_stat(dev, "subscriptions", "total", NULL) == 1,
            ZRT_DEADLINE_MS);
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, "inproc://flush-front");
    ZR_SEND(push, "held");
    ZR_WAIT(zrt_stat(dev, "gate", "held", NULL) == 1, ZRT_DEADLINE_MS);
    zr_device_stop(dev);
    ZR_EQ(zr_device_join(dev), 0);
    ZR_RECV(sub, "held");
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* Sync on a PULL frontend needs no probe: PUSH queues. */
static void
test_sync_with_pull(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_forwarder(ctx, "sp", "ingest", "pull");
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(sub, "inproc://sp-back");
    ZR_EQ(zr_sync_wait(ctx, NULL, "inproc://sp-sync", 1, "", 5000), 1);
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, "inproc://sp-front");
    ZR_SEND(push, "pushed");
    ZR_RECV(sub, "pushed");
    ZR_EQ(zrt_stat(dev, "sync", "probes", NULL), 0);
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

static void
test_options_apply_to_forwarders(void)
{
    zr_device_t *dev = zr_device_new(NULL, ZR_QUEUE, "q");
    ZR_FAIL(zr_device_set(dev, "sync", "@inproc://s"), EINVAL);
    ZR_STREQ(zr_device_error(dev), "'sync' does not apply to a queue");
    ZR_FAIL(zr_device_set_hold(dev, 1, 0, 0, 0), EINVAL);
    ZR_STREQ(zr_device_error(dev), "hold_until applies to a forwarder");
    zr_device_destroy(&dev);
    dev = zr_device_new(NULL, ZR_FORWARDER, "f");
    ZR_FAIL(zr_device_set(dev, "ingest", "push"), EINVAL);
    ZR_STREQ(zr_device_error(dev), "'push' is not one of sub|pull");
    zr_device_destroy(&dev);
}

/* Send the frames of FRAMES (NULL-terminated) as one message. */
static void
s_send_frames(void *socket, const char *const *frames)
{
    for (; *frames; frames++) {
        zrt_send_str(socket, *frames, frames[1] ? ZMQ_SNDMORE : 0);
    }
}

/* Requests of any shape are read whole and answered once: one of 21
 * frames, whose 17th would be taken for a routing id if it were read in
 * two, and one of 10,000. */
static void
test_long_requests(void)
{
    void *ctx = zmq_ctx_new();
    /* A PULL frontend: a request for 0 goes at once, without a probe. */
    zr_device_t *dev = s_forwarder(ctx, "long", "ingest", "pull");
    /* A client whose routing id is "x", known to the sync socket. */
    void *x = zrt_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(x, ZMQ_ROUTING_ID, "x", 1);
    zrt_connect(x, "inproc://long-sync");
    const char *const zero[] = {"", "WAIT", "0", "", "1000", NULL};
    s_send_frames(x, zero);
    ZR_RECV(x, "");
    ZR_RECV(x, "GO");
    ZR_RECV(x, "0");
    void *client = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(client, "inproc://long-sync");
    const char *const long_one[] = {
        "",  "WAIT", "1", "",  "1000", "a", "a", "a",    "a", "a", "a",
        "a", "a",    "a", "a", "a",    "x", "",  "WAIT", "0", "",  NULL};
    s_send_frames(client, long_one);
    ZR_RECV(client, "");
    ZR_RECV(client, "ERROR");
    ZR_RECV(client, "expected WAIT N PREFIX TIMEOUT_MS (see docs/SYNC.md)");
    for (int i = 0; i < 10000; i++) {
        ZR_SENDMORE(client, i == 0 ? "" : "b");
    }
    ZR_SEND(client, "b");
    ZR_RECV(client, "");
    ZR_RECV(client, "ERROR");
    ZR_RECV(client, "expected WAIT N PREFIX TIMEOUT_MS (see docs/SYNC.md)");
    /* Everything before this was read by the time it is answered. */
    s_send_frames(client, zero);
    ZR_RECV(client, "");
    ZR_RECV(client, "GO");
    ZR_RECV(client, "0");
    ZR_CHECK(!zrt_readable(client, 0));
    ZR_CHECK(!zrt_readable(x, 0));
    ZR_EQ(zrt_stat(dev, "sync", "errors", NULL), 2);
    ZR_EQ(zrt_stat(dev, "sync", "go", NULL), 2);
    zr_device_destroy(&dev);
    zmq_close(x);
    zmq_close(client);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"inproc: sync answers", test_answers},
    {"inproc: probes never reach subscribers", test_probes_consumed},
    {"inproc: a request of any length is answered once", test_long_requests},
    {"inproc: the gate holds, then releases in order",
     test_gate_holds_then_releases},
    {"inproc: the gate's bound and timeout force messages on",
     test_gate_forced},
    {"inproc: the gate delivers what it holds at stop",
     test_gate_flush_at_stop},
    {"inproc: sync with a PULL frontend", test_sync_with_pull},
    {"inproc: sync and gate are forwarder options",
     test_options_apply_to_forwarders},
    {"ipc: 200 trials in random order, every message to every subscriber",
     test_two_hundred_trials},
    {NULL, NULL},
};
ZR_MAIN
