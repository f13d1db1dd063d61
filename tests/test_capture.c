/* test_capture.c - the capture sees every message the relay sends, both
 * ways, whatever sent it: the direct path, a broker's dispatch, a cached
 * last value for a late subscriber.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

/* A capture listener, subscribed to everything, and what it saw. */
typedef struct {
    void *sub;
    uint64_t seen;
    char last[64]; /* the last frame of the last message, as text */
    uint64_t requests, replies, values;
    char way[16];   /* the first frame of the last copy */
    bool way_right; /* every request went "backend", reply "frontend" */
} s_listener_t;

static void
s_listen(s_listener_t *l, void *ctx, zr_device_t *dev)
{
    memset(l, 0, sizeof *l);
    l->sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(l->sub, ZMQ_SUBSCRIBE, "", 0);
    const char *role = NULL, *address = NULL;
    for (size_t i = 0; zr_device_endpoint(dev, i, &role, NULL, &address) == 0;
         i++) {
        if (strcmp(role, "capture") == 0) {
            zrt_connect(l->sub, address);
            return;
        }
    }
    ZR_FAILF("the device has no capture endpoint");
}

/* Read one copy, whole, noting what its last frame says. */
static void
s_take(s_listener_t *l)
{
    ZR_CHECKF(zrt_readable(l->sub, ZRT_DEADLINE_MS),
              "the capture listener got %" PRIu64 " copies, then nothing",
              l->seen);
    int more;
    int w = zmq_recv(l->sub, l->way, sizeof l->way - 1, 0);
    ZR_CHECK(w >= 0);
    l->way[w < (int) sizeof l->way - 1 ? w : (int) sizeof l->way - 1] = 0;
    do {
        int n = zmq_recv(l->sub, l->last, sizeof l->last - 1, 0);
        ZR_CHECK(n >= 0);
        l->last[n < (int) sizeof l->last - 1 ? n : (int) sizeof l->last - 1] =
            0;
        size_t len = sizeof more;
        zmq_getsockopt(l->sub, ZMQ_RCVMORE, &more, &len);
    } while (more);
    l->seen++;
    bool request = strncmp(l->last, "request", 7) == 0;
    bool reply = strncmp(l->last, "reply", 5) == 0;
    l->requests += request;
    l->replies += reply;
    if ((request && strcmp(l->way, "backend") != 0) ||
        (reply && strcmp(l->way, "frontend") != 0)) {
        l->way_right = false;
    }
    l->values += strcmp(l->last, "A value") == 0;
}

/* Read copies until the listener saw as many as the relay counted
 * since BASE (copies made before the listener's subscription arrived are
 * counted but never reach it: see s_sync). */
static void
s_catch_up(s_listener_t *l, zr_device_t *dev, uint64_t base)
{
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, true, ZRT_DEADLINE_MS);
    while (l->seen < st.capture_msgs - base) {
        s_take(l);
    }
    ZR_EQ(st.capture_drops, 0);
}

/* Once the copy of a message whose last frame is MARKER arrived, the
 * listener and the relay's counter agree from then on: the relay's count
 * then, less what the listener saw (all its copies came before). */
static uint64_t
s_sync(s_listener_t *l, zr_device_t *dev, const char *marker)
{
    do {
        s_take(l);
    } while (strcmp(l->last, marker) != 0);
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, true, ZRT_DEADLINE_MS);
    l->seen = l->requests = l->replies = l->values = 0;
    l->way_right = true;
    return st.capture_msgs;
}

static void
s_lru(zr_device_t *dev)
{
    ZR_PASS(zr_device_set_strategy(dev, "lru"));
    ZR_PASS(zr_device_set(dev, "heartbeat", "60s"));
    ZR_PASS(zr_device_set_capture(dev, "@inproc://cap-lru-capture"));
}

/* One round trip: the client asks, the worker answers as it was asked. */
static void
s_round_trip(void *client, void *worker, const char *request, const char *reply)
{
    ZR_SEND(client, request);
    ZR_CHECK(zrt_readable(worker, ZRT_DEADLINE_MS));
    zmq_msg_t id;
    zmq_msg_init(&id);
    ZR_CHECK(zmq_msg_recv(&id, worker, 0) > 0); /* the client's identity */
    ZR_CHECK(zmq_msg_more(&id));
    ZR_RECV(worker, request);
    ZR_PASS(zmq_msg_send(&id, worker, ZMQ_SNDMORE));
    ZR_SEND(worker, reply);
    ZR_RECV(client, reply);
    zmq_msg_close(&id);
}

/* lru sends each request to its worker itself (not the direct path):
 * the capture must still see it, as it sees the reply. */
static void
test_capture_lru(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, "@inproc://cap-lru-front",
                                  "@inproc://cap-lru-back", s_lru);
    s_listener_t l;
    s_listen(&l, ctx, dev);
    void *worker = zrt_socket(ctx, ZMQ_DEALER);
    void *client = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(worker, "inproc://cap-lru-back");
    zrt_connect(client, "inproc://cap-lru-front");
    ZR_SEND(worker, "\x01"); /* READY */
    /* Until the listener's subscription reached the capture, copies are
     * lost to it: round trips until it sees one. */
    do {
        s_round_trip(client, worker, "warm-up", "warm-up");
    } while (!zrt_readable(l.sub, 20));
    s_round_trip(client, worker, "marker?", "marker");
    uint64_t base = s_sync(&l, dev, "marker");
    const int k = 10;
    for (int i = 0; i < k; i++) {
        s_round_trip(client, worker, "request", "reply");
    }
    s_catch_up(&l, dev, base);
    printf("     %d round trips: %" PRIu64 " copies, %" PRIu64
           " requests, %" PRIu64 " replies\n",
           k, l.seen, l.requests, l.replies);
    ZR_EQ(l.seen, 2 * k);
    ZR_EQ(l.requests, k);
    ZR_EQ(l.replies, k);
    ZR_CHECKF(l.way_right, "a copy named the wrong way (last: %s)", l.way);
    zr_device_destroy(&dev);
    zmq_close(l.sub);
    zmq_close(worker);
    zmq_close(client);
    zmq_ctx_term(ctx);
}

static void
s_last_value(zr_device_t *dev)
{
    ZR_PASS(zr_device_set_last_value(dev, true, 0, 0, false));
    ZR_PASS(zr_device_set_capture(dev, "@inproc://cap-lv-capture"));
}

/* A late subscriber gets the topic's last value from the cache, sent by
 * the forwarder itself: the capture sees that too. */
static void
test_capture_last_value(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_FORWARDER, "@inproc://cap-lv-front",
                                  "@inproc://cap-lv-back", s_last_value);
    s_listener_t l;
    s_listen(&l, ctx, dev);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://cap-lv-front");
    /* With a last value cache the frontend subscribes to everything;
     * until that reached the publisher, and the listener's subscription
     * the capture, publications or copies are lost. (The capture also
     * sees that subscription, sent upstream.) */
    do {
        ZR_SEND(pub, "warm-up");
        while (zrt_readable(l.sub, 20) && strcmp(l.last, "warm-up") != 0) {
            s_take(&l);
        }
    } while (strcmp(l.last, "warm-up") != 0);
    ZR_SEND(pub, "marker");
    uint64_t base = s_sync(&l, dev, "marker");
    ZR_SEND(pub, "A value");
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.capture_msgs == base + 1, ZRT_DEADLINE_MS);
    void *late = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(late, ZMQ_SUBSCRIBE, "A", 1);
    zrt_connect(late, "inproc://cap-lv-back");
    ZR_RECV(late, "A value"); /* from the cache */
    s_catch_up(&l, dev, base);
    printf("     %" PRIu64 " copies after the marker, %" PRIu64
           " of 'A value'\n",
           l.seen, l.values);
    /* The publication, the late subscriber's subscription sent upstream,
     * the cached value sent to it. */
    ZR_EQ(l.values, 2);
    ZR_EQ(l.seen, 3);
    zr_device_destroy(&dev);
    zmq_close(l.sub);
    zmq_close(pub);
    zmq_close(late);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"lru: requests sent to workers are captured", test_capture_lru},
    {"last value: a value sent to a late subscriber is captured",
     test_capture_last_value},
    {NULL, NULL},
};
ZR_MAIN
