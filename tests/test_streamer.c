/* test_streamer.c - PULL->PUSH: nothing lost, order kept per producer.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#include <pthread.h>

#define S_PER_PRODUCER 50000

typedef struct {
    void *ctx;
    const char *endpoint;
    int id;
} s_producer_t;

static void *
s_produce(void *arg)
{
    s_producer_t *p = arg;
    void *push = zrt_socket(p->ctx, ZMQ_PUSH);
    zrt_connect(push, p->endpoint);
    for (uint32_t seq = 0; seq < S_PER_PRODUCER; seq++) {
        uint32_t body[2] = {(uint32_t) p->id, seq};
        if (zmq_send(push, body, sizeof body, 0) != sizeof body) {
            ZR_FAILF("producer %d send: %s", p->id, zmq_strerror(errno));
        }
    }
    /* Linger 0 would throw away what is still queued: wait for it. */
    zrt_setint(push, ZMQ_LINGER, -1);
    zmq_close(push);
    return NULL;
}

static void
s_two_producers(const char *front_spec, const char *back_spec)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev =
        zrt_device(ctx, ZR_STREAMER, front_spec, back_spec, NULL);
    const char *front = zrt_device_endpoint(dev, 0);
    const char *back = zrt_device_endpoint(dev, 1);

    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, back);
    pthread_t threads[2];
    s_producer_t producers[2] = {{ctx, front, 0}, {ctx, front, 1}};
    for (int i = 0; i < 2; i++) {
        pthread_create(&threads[i], NULL, s_produce, &producers[i]);
    }
    uint32_t next[2] = {0, 0};
    for (int n = 0; n < 2 * S_PER_PRODUCER; n++) {
        uint32_t body[2];
        ZR_CHECKF(zrt_readable(pull, ZRT_DEADLINE_MS),
                  "only %d of %d messages arrived", n, 2 * S_PER_PRODUCER);
        ZR_EQ(zmq_recv(pull, body, sizeof body, 0), sizeof body);
        ZR_CHECK(body[0] < 2);
        ZR_CHECKF(body[1] == next[body[0]],
                  "producer %u: got %u, expected %u (order or loss)", body[0],
                  body[1], next[body[0]]);
        next[body[0]]++;
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
    }
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_out == 2 * S_PER_PRODUCER,
                  ZRT_DEADLINE_MS);
    ZR_EQ(st.frontend.msgs_in, 2 * S_PER_PRODUCER);
    ZR_EQ(st.backend.msgs_out, 2 * S_PER_PRODUCER);
    ZR_EQ(st.backend.bytes_out, 2 * S_PER_PRODUCER * 8);
    ZR_EQ(st.frontend.msgs_out, 0); /* a PULL frontend never sends */
    zr_device_destroy(&dev);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

static void
test_inproc(void)
{
    s_two_producers("@inproc://stream-in", "@inproc://stream-out");
}

static void
test_tcp(void)
{
    s_two_producers("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

ZR_TESTS = {
    {"100,000 from 2 producers over inproc", test_inproc},
    {"100,000 from 2 producers over tcp", test_tcp},
    {NULL, NULL},
};
ZR_MAIN
