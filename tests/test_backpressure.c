/* test_backpressure.c - a stopped consumer: the producer is held back,
 * the relay holds no more than its high-water marks, keeps answering its
 * control socket, does not spin, and loses nothing when the consumer
 * comes back.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#define S_HWM 100

static void
s_configure(zr_device_t *dev)
{
    ZR_PASS(zr_device_set_sndhwm(dev, S_HWM));
    ZR_PASS(zr_device_set_rcvhwm(dev, S_HWM));
    ZR_PASS(zr_device_set_control(dev, "@tcp://127.0.0.1:*"));
}

/* Send numbered messages (after PREFIX frames) with ZMQ_DONTWAIT until
 * the socket stays unwritable for 300 ms; returns how many went. */
static uint32_t
s_fill(void *socket, bool envelope)
{
    uint32_t sent = 0;
    for (;;) {
        if (envelope) {
            if (zmq_send(socket, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
                ZR_CHECK(errno == EAGAIN);
                zmq_pollitem_t item = {.socket = socket,
                                       .events = ZMQ_POLLOUT};
                if (zmq_poll(&item, 1, 300) == 0) {
                    return sent;
                }
                continue;
            }
            ZR_PASS(zmq_send(socket, &sent, sizeof sent, 0));
            sent++;
            continue;
        }
        if (zmq_send(socket, &sent, sizeof sent, ZMQ_DONTWAIT) == 4) {
            sent++;
            continue;
        }
        ZR_CHECK(errno == EAGAIN);
        zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLOUT};
        if (zmq_poll(&item, 1, 300) == 0) {
            return sent;
        }
        ZR_CHECKF(sent < 10 * 1000 * 1000, "the producer is never held back");
    }
}

/* STATISTICS through the control endpoint must answer within 1 s. */
static void
s_statistics(void *ctx, const char *endpoint, uint64_t out[8])
{
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, endpoint);
    int64_t start = zrt_now_ms();
    ZR_SEND(req, "STATISTICS");
    ZR_CHECKF(zrt_readable(req, 1000), "STATISTICS unanswered after 1 s");
    for (int i = 0; i < 8; i++) {
        ZR_EQ(zmq_recv(req, &out[i], 8, 0), 8);
    }
    printf("STATISTICS answered in %" PRId64 " ms\n", zrt_now_ms() - start);
    zmq_close(req);
}

/* CPU the relay's thread uses in half a second of being blocked. */
static void
s_check_idle(zr_device_t *dev)
{
    zr_stats_t before, after;
    zr_device_stats(dev, &before);
    int64_t start = zrt_now_ms();
    /* A measuring window, not a wait for an event. */
    zmq_poll(NULL, 0, 500);
    zr_device_stats(dev, &after);
    int64_t wall = zrt_now_ms() - start;
    double cpu_ms = (double) (after.cpu_ns - before.cpu_ns) / 1e6;
    printf("blocked relay: %.1f ms CPU in %" PRId64 " ms, %" PRIu64
           " polls\n",
           cpu_ms, wall, after.polls - before.polls);
    ZR_CHECKF(cpu_ms < wall * 0.1, "the blocked relay spins: %.1f ms CPU",
              cpu_ms);
}

static void
s_streamer(const char *front, const char *back)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, front, back, s_configure);
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    /* Small kernel buffers keep the count of messages in flight (and the
     * test's run time) small over tcp. */
    zrt_setint(push, ZMQ_SNDBUF, 16384);
    zrt_setint(pull, ZMQ_RCVBUF, 16384);
    zrt_setint(push, ZMQ_SNDHWM, S_HWM);
    zrt_setint(pull, ZMQ_RCVHWM, S_HWM);
    zrt_connect(push, zrt_device_endpoint(dev, 0));
    zrt_connect(pull, zrt_device_endpoint(dev, 1));

    uint32_t sent = s_fill(push, false);
    uint64_t st[8];
    s_statistics(ctx, zrt_device_endpoint(dev, 2), st);
    uint64_t held = st[0] - st[6]; /* frontend in - backend out */
    printf("producer sent %u before it was held back; the relay took %" PRIu64
           ", passed on %" PRIu64 ", holds %" PRIu64 "\n",
           sent, st[0], st[6], held);
    ZR_CHECKF(held <= 2 * S_HWM, "the relay holds %" PRIu64 " > its HWMs",
              held);
    ZR_CHECKF(st[0] < sent, "the relay read everything: no backpressure");
    s_check_idle(dev);
    /* The one message in hand shows as held on the backend. */
    ZR_EQ(zrt_stat(dev, "backend", "held", NULL), 1);

    /* The consumer comes back: every message, in order. */
    for (uint32_t i = 0; i < sent; i++) {
        uint32_t n;
        ZR_CHECKF(zrt_readable(pull, ZRT_DEADLINE_MS), "lost from %u of %u",
                  i, sent);
        ZR_EQ(zmq_recv(pull, &n, sizeof n, 0), 4);
        ZR_EQ(n, i);
    }
    zr_stats_t stats;
    ZR_WAIT_STATS(dev, stats, stats.backend.msgs_out == sent,
                  ZRT_DEADLINE_MS);
    ZR_EQ(stats.frontend.msgs_in, sent);
    ZR_EQ(zrt_stat(dev, "backend", "held", NULL), 0);
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

/* Queue: the servers stop reading; clients are held back; when the
 * servers come back every request is answered. */
static void
s_queue(const char *front, const char *back)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, front, back, s_configure);
    void *client = zrt_socket(ctx, ZMQ_DEALER);
    void *server = zrt_socket(ctx, ZMQ_DEALER);
    zrt_setint(client, ZMQ_SNDBUF, 16384);
    zrt_setint(server, ZMQ_RCVBUF, 16384);
    zrt_setint(client, ZMQ_SNDHWM, S_HWM);
    /* The client takes every reply as it comes (a client that does not is
     * dropped from, and counted: see test_queue's stalled client). */
    zrt_setint(client, ZMQ_RCVHWM, 0);
    zrt_setint(server, ZMQ_RCVHWM, S_HWM);
    zrt_connect(client, zrt_device_endpoint(dev, 0));
    zrt_connect(server, zrt_device_endpoint(dev, 1));

    uint32_t sent = s_fill(client, true);
    uint64_t st[8];
    s_statistics(ctx, zrt_device_endpoint(dev, 2), st);
    uint64_t held = st[0] - st[6];
    printf("client sent %u before it was held back; the relay holds %" PRIu64
           "\n",
           sent, held);
    ZR_CHECKF(held <= 2 * S_HWM, "the relay holds %" PRIu64 " > its HWMs",
              held);
    s_check_idle(dev);

    /* The server answers everything; the client gets every reply. */
    zmq_msg_t part;
    zmq_msg_init(&part);
    for (uint32_t i = 0; i < sent; i++) {
        ZR_CHECKF(zrt_readable(server, ZRT_DEADLINE_MS), "request %u lost", i);
        int more;
        do {
            ZR_CHECK(zmq_msg_recv(&part, server, 0) >= 0);
            more = zmq_msg_more(&part);
            ZR_CHECK(zmq_msg_send(&part, server, more ? ZMQ_SNDMORE : 0) >= 0);
        } while (more);
        /* Read replies as they come so the client side never fills. */
        while (zrt_readable(client, 0)) {
            ZR_CHECK(zmq_msg_recv(&part, client, 0) >= 0);
        }
    }
    zr_stats_t stats;
    ZR_WAIT_STATS(dev, stats,
                  stats.frontend.msgs_out + stats.frontend.drop_peer_full +
                          stats.frontend.drop_no_route ==
                      sent,
                  ZRT_DEADLINE_MS);
    ZR_EQ(stats.frontend.drop_peer_full + stats.frontend.drop_no_route, 0);
    zmq_msg_close(&part);
    zr_device_destroy(&dev);
    zmq_close(client);
    zmq_close(server);
    zmq_ctx_term(ctx);
}

static void
test_streamer_inproc(void)
{
    s_streamer("@inproc://bp-s-in", "@inproc://bp-s-out");
}

static void
test_streamer_tcp(void)
{
    s_streamer("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

static void
test_queue_inproc(void)
{
    s_queue("@inproc://bp-q-in", "@inproc://bp-q-out");
}

static void
test_queue_tcp(void)
{
    s_queue("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

ZR_TESTS = {
    {"inproc: streamer with a stopped consumer", test_streamer_inproc},
    {"inproc: queue with stopped servers", test_queue_inproc},
    {"tcp: streamer with a stopped consumer", test_streamer_tcp},
    {"tcp: queue with stopped servers", test_queue_tcp},
    {NULL, NULL},
};
ZR_MAIN
