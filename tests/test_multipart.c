/* test_multipart.c - whole messages through every device: 1 to 64 frames,
 * frames of 0 B to 1 MiB, every byte checked, never split or interleaved.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#include <pthread.h>
#include <stdatomic.h>

/* Frame sizes around libzmq's boundaries: empty, the 33-byte inline
 * ("very small") limit, 255/256 (ZMTP short/long frame), 1 MiB. */
static const size_t s_sizes[] = {0,   1,    32,    33,    34,     255,
                                 256, 4096, 65536, 65537, 1 << 20};
#define S_NSIZES (sizeof s_sizes / sizeof s_sizes[0])
#define S_MESSAGES 128

static size_t
s_frames_of(int msg)
{
    return 1 + (size_t) (msg * 7) % 64; /* 1..64, in a mixed order */
}

static size_t
s_size_of(int msg, size_t frame)
{
    /* Keep the big frames rare so the test stays quick under ASan. */
    size_t i = (size_t) (msg + (int) frame * 3) % S_NSIZES;
    if (s_sizes[i] > 4096 && (frame % 16) != 1) {
        return s_sizes[i % 5];
    }
    return s_sizes[i];
}

static unsigned char
s_byte(int msg, size_t frame, size_t at)
{
    return (unsigned char) (msg * 31 + (int) frame * 7 + (int) at);
}

/* Frame 0 of a forwarded message is its topic: "T" then the number. */
static void
s_send_message(void *socket, int msg, bool topic)
{
    size_t frames = s_frames_of(msg);
    for (size_t f = 0; f < frames; f++) {
        size_t size = s_size_of(msg, f);
        if (f == 0 && topic && size == 0) {
            size = 1;
        }
        zmq_msg_t part;
        zmq_msg_init_size(&part, size);
        unsigned char *data = zmq_msg_data(&part);
        for (size_t i = 0; i < size; i++) {
            data[i] = s_byte(msg, f, i);
        }
        if (f == 0 && topic) {
            data[0] = 'T';
        }
        int flags = f + 1 < frames ? ZMQ_SNDMORE : 0;
        if (zmq_msg_send(&part, socket, flags) < 0) {
            ZR_FAILF("send message %d frame %zu: %s", msg, f,
                     zmq_strerror(errno));
        }
    }
}

/* Receive message MSG (after SKIP envelope frames, which must be there)
 * and check every frame and byte. */
static void
s_check_message(void *socket, int msg, bool topic, int skip)
{
    size_t frames = s_frames_of(msg);
    zmq_msg_t part;
    zmq_msg_init(&part);
    ZR_CHECKF(zrt_readable(socket, ZRT_DEADLINE_MS), "message %d missing", msg);
    for (int i = 0; i < skip; i++) {
        ZR_CHECK(zmq_msg_recv(&part, socket, 0) >= 0);
        ZR_CHECKF(zmq_msg_more(&part), "message %d: envelope only", msg);
    }
    for (size_t f = 0; f < frames; f++) {
        ZR_CHECK(zmq_msg_recv(&part, socket, 0) >= 0);
        size_t want = s_size_of(msg, f);
        if (f == 0 && topic && want == 0) {
            want = 1;
        }
        ZR_CHECKF(zmq_msg_size(&part) == want,
                  "message %d frame %zu: %zu bytes, want %zu", msg, f,
                  zmq_msg_size(&part), want);
        const unsigned char *data = zmq_msg_data(&part);
        for (size_t i = (f == 0 && topic) ? 1 : 0; i < want; i++) {
            if (data[i] != s_byte(msg, f, i)) {
                ZR_FAILF("message %d frame %zu byte %zu differs", msg, f, i);
            }
        }
        bool more = zmq_msg_more(&part);
        ZR_CHECKF(more == (f + 1 < frames),
                  "message %d: frame %zu more-flag %d, frames %zu", msg, f,
                  more, frames);
    }
    zmq_msg_close(&part);
}

static void
s_streamer(const char *front, const char *back)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, front, back, NULL);
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(push, zrt_device_endpoint(dev, 0));
    zrt_connect(pull, zrt_device_endpoint(dev, 1));
    for (int m = 0; m < S_MESSAGES; m++) {
        s_send_message(push, m, false);
        s_check_message(pull, m, false, 0);
    }
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_out == S_MESSAGES, ZRT_DEADLINE_MS);
    uint64_t frames = 0;
    for (int m = 0; m < S_MESSAGES; m++) {
        frames += s_frames_of(m);
    }
    ZR_EQ(st.frontend.frames_in, frames);
    ZR_EQ(st.backend.frames_out, frames);
    ZR_EQ(st.frontend.bytes_in, st.backend.bytes_out);
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

/* Both directions: DEALER client -> queue -> DEALER server, which sends
 * every message back through the queue with its envelope. */
static void
s_queue(const char *front, const char *back)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, front, back, NULL);
    void *client = zrt_socket(ctx, ZMQ_DEALER);
    void *server = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(client, zrt_device_endpoint(dev, 0));
    zrt_connect(server, zrt_device_endpoint(dev, 1));
    zmq_msg_t identity;
    zmq_msg_init(&identity);
    for (int m = 0; m < S_MESSAGES; m++) {
        s_send_message(client, m, false);
        /* The server sees [identity, message...]. */
        ZR_CHECK(zrt_readable(server, ZRT_DEADLINE_MS));
        ZR_CHECK(zmq_msg_recv(&identity, server, 0) > 0);
        ZR_CHECK(zmq_msg_more(&identity));
        s_check_message(server, m, false, 0);
        ZR_PASS(zmq_msg_send(&identity, server, ZMQ_SNDMORE));
        s_send_message(server, m + 1000, false);
        s_check_message(client, m + 1000, false, 0);
    }
    zmq_msg_close(&identity);
    zr_device_destroy(&dev);
    zmq_close(client);
    zmq_close(server);
    zmq_ctx_term(ctx);
}

typedef struct {
    void *socket;
    int stream;
} s_burst_t;

/* Message M of stream S: a header frame "S M", then M % 64 frames of
 * (S, M, f) bytes. */
static void *
s_send_burst(void *arg)
{
    s_burst_t *b = arg;
    for (int m = 0; m < S_MESSAGES; m++) {
        char head[32];
        int frames = m % 64;
        snprintf(head, sizeof head, "%d %d", b->stream, m);
        zrt_send_str(b->socket, head, frames ? ZMQ_SNDMORE : 0);
        for (int f = 0; f < frames; f++) {
            unsigned char body[3] = {(unsigned char) b->stream,
                                     (unsigned char) m, (unsigned char) f};
            ZR_PASS(zmq_send(b->socket, body, sizeof body,
                             f + 1 < frames ? ZMQ_SNDMORE : 0));
        }
    }
    return NULL;
}

/* Two producers at once: messages arrive whole, never interleaved. */
static void
s_interleave(const char *front, const char *back)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, front, back, NULL);
    void *push[2], *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, zrt_device_endpoint(dev, 1));
    s_burst_t bursts[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        push[i] = zrt_socket(ctx, ZMQ_PUSH);
        zrt_connect(push[i], zrt_device_endpoint(dev, 0));
        bursts[i] = (s_burst_t){push[i], i};
        pthread_create(&threads[i], NULL, s_send_burst, &bursts[i]);
    }
    int next[2] = {0, 0};
    for (int n = 0; n < 2 * S_MESSAGES; n++) {
        char head[32];
        int stream, m;
        zrt_recv_str(pull, head, sizeof head);
        ZR_CHECK(sscanf(head, "%d %d", &stream, &m) == 2);
        ZR_CHECK(stream == 0 || stream == 1);
        ZR_EQ(m, next[stream]);
        next[stream]++;
        int more;
        size_t len = sizeof more;
        zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len);
        ZR_EQ(more, m % 64 != 0);
        for (int f = 0; f < m % 64; f++) {
            unsigned char body[3];
            ZR_EQ(zmq_recv(pull, body, sizeof body, 0), 3);
            ZR_CHECKF(body[0] == stream && body[1] == m && body[2] == f,
                      "stream %d message %d frame %d: got (%d, %d, %d)", stream,
                      m, f, body[0], body[1], body[2]);
            zmq_getsockopt(pull, ZMQ_RCVMORE, &more, &len);
            ZR_EQ(more, f + 1 < m % 64);
        }
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        zmq_close(push[i]);
    }
    zr_device_destroy(&dev);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

static void
s_forwarder(const char *front, const char *back)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_FORWARDER, front, back, NULL);
    void *pub = zrt_socket(ctx, ZMQ_PUB);
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "T", 1);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "ready", 5);
    zrt_connect(pub, zrt_device_endpoint(dev, 0));
    zrt_connect(sub, zrt_device_endpoint(dev, 1));
    /* Until the subscription reaches the publisher, PUB drops. */
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    do {
        ZR_SEND(pub, "ready?");
        ZR_CHECK(zrt_now_ms() < end);
    } while (!zrt_readable(sub, 5));
    ZR_SEND(pub, "ready!");
    char buf[16];
    do {
        zrt_recv_str(sub, buf, sizeof buf);
    } while (strcmp(buf, "ready!") != 0);
    for (int m = 0; m < S_MESSAGES; m++) {
        s_send_message(pub, m, true);
        s_check_message(sub, m, true, 0);
    }
    zr_device_destroy(&dev);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * Churn: a consumer that keeps leaving while 64-frame messages stream
 * through. libzmq's PUSH fails a later frame of a message when the pipe
 * it went to dies, rolls the frames back, and swallows the rest of that
 * message; a relay that retries the frame elsewhere creates fragments.
 * Every message a consumer gets must be whole, and the relay's counters
 * must account for every message it took in.
 */
#define S_CHURN_FRAMES 64

typedef struct {
    void *ctx;
    const char *endpoint;
    atomic_bool stop;
    _Atomic uint64_t whole, fragments, cycles;
} s_churn_t;

/* Send message ID: S_CHURN_FRAMES frames of (id, index). */
static void
s_churn_send(void *socket, uint32_t id)
{
    for (uint32_t f = 0; f < S_CHURN_FRAMES; f++) {
        uint32_t body[2] = {id, f};
        if (zmq_send(socket, body, sizeof body,
                     f + 1 < S_CHURN_FRAMES ? ZMQ_SNDMORE : 0) < 0) {
            ZR_FAILF("send %u/%u: %s", id, f, zmq_strerror(errno));
        }
    }
}

/* Receive one message (readable already); whole or a fragment. Returns
 * false for the end marker (one 3-byte frame). */
static bool
s_churn_recv(void *socket, s_churn_t *c)
{
    bool whole = true;
    uint32_t id = 0, frames = 0;
    int more;
    do {
        uint32_t body[2];
        int n = zmq_recv(socket, body, sizeof body, 0);
        ZR_CHECK(n >= 0);
        size_t len = sizeof more;
        zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &len);
        if (n == 3 && frames == 0 && !more) {
            return false;
        }
        if (frames == 0) {
            id = body[0];
        }
        if (n != (int) sizeof body || body[0] != id || body[1] != frames) {
            whole = false;
        }
        frames++;
    } while (more);
    whole = whole && frames == S_CHURN_FRAMES;
    atomic_fetch_add(whole ? &c->whole : &c->fragments, 1);
    return true;
}

/* The consumer that stays: reads until the end marker. */
static void *
s_churn_stable(void *arg)
{
    s_churn_t *c = arg;
    void *pull = zrt_socket(c->ctx, ZMQ_PULL);
    zrt_connect(pull, c->endpoint);
    for (;;) {
        ZR_CHECKF(zrt_readable(pull, 30000), "stable consumer: no end marker");
        if (!s_churn_recv(pull, c)) {
            break;
        }
    }
    zmq_close(pull);
    return NULL;
}

/* The consumer that keeps leaving: connects, takes a few messages (or
 * waits a moment for them), closes with linger 0, again and again. */
static void *
s_churn_leaver(void *arg)
{
    s_churn_t *c = arg;
    while (!atomic_load(&c->stop)) {
        void *pull = zrt_socket(c->ctx, ZMQ_PULL);
        zrt_setint(pull, ZMQ_RCVHWM, 4);
        zrt_connect(pull, c->endpoint);
        for (int i = 0; i < 3 && zrt_readable(pull, 10); i++) {
            s_churn_recv(pull, c);
        }
        zmq_close(pull);
        atomic_fetch_add(&c->cycles, 1);
    }
    return NULL;
}

static void
s_hwm4(zr_device_t *dev)
{
    ZR_PASS(zr_device_set_sndhwm(dev, 4));
}

static void
s_churn(const char *front, const char *back)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, front, back, s_hwm4);
    s_churn_t c = {.ctx = ctx, .endpoint = zrt_device_endpoint(dev, 1)};
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, zrt_device_endpoint(dev, 0));
    pthread_t stable, leaver;
    pthread_create(&stable, NULL, s_churn_stable, &c);
    pthread_create(&leaver, NULL, s_churn_leaver, &c);
    /* Stream for a while: long enough for a few hundred departures. */
    uint32_t sent = 0;
    int64_t end = zrt_now_ms() + 3000;
    while (zrt_now_ms() < end || atomic_load(&c.cycles) < 50) {
        s_churn_send(push, sent++);
        ZR_CHECKF(zrt_now_ms() < end + 20000, "the leaver is stuck");
    }
    atomic_store(&c.stop, true);
    pthread_join(leaver, NULL);
    zrt_send_str(push, "end", 0);
    pthread_join(stable, NULL);
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.frontend.msgs_in == sent + 1, ZRT_DEADLINE_MS);
    printf("     %u sent, %" PRIu64 " whole, %" PRIu64 " fragments, %" PRIu64
           " departures; relay: %" PRIu64 " in, %" PRIu64 " out, %" PRIu64
           " resent\n",
           sent, atomic_load(&c.whole), atomic_load(&c.fragments),
           atomic_load(&c.cycles), st.frontend.msgs_in, st.backend.msgs_out,
           st.backend.msgs_resent);
    ZR_EQ(atomic_load(&c.fragments), 0);
    /* Every message taken in went out whole (once) or was counted. */
    ZR_EQ(st.frontend.msgs_in, st.backend.msgs_out + st.backend.drop_error);
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_ctx_term(ctx);
}

static void
test_churn_inproc(void)
{
    s_churn("@inproc://mp-c-in", "@inproc://mp-c-out");
}

static void
test_churn_tcp(void)
{
    s_churn("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

static void
test_streamer_inproc(void)
{
    s_streamer("@inproc://mp-s-in", "@inproc://mp-s-out");
}

static void
test_queue_inproc(void)
{
    s_queue("@inproc://mp-q-in", "@inproc://mp-q-out");
}

static void
test_forwarder_inproc(void)
{
    s_forwarder("@inproc://mp-f-in", "@inproc://mp-f-out");
}

static void
test_interleave_inproc(void)
{
    s_interleave("@inproc://mp-i-in", "@inproc://mp-i-out");
}

static void
test_streamer_tcp(void)
{
    s_streamer("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

static void
test_queue_tcp(void)
{
    s_queue("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

static void
test_forwarder_tcp(void)
{
    s_forwarder("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

static void
test_interleave_tcp(void)
{
    s_interleave("@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*");
}

ZR_TESTS = {
    {"inproc: streamer", test_streamer_inproc},
    {"inproc: queue, both ways", test_queue_inproc},
    {"inproc: forwarder", test_forwarder_inproc},
    {"inproc: two producers, no interleaving", test_interleave_inproc},
    {"tcp: streamer", test_streamer_tcp},
    {"tcp: queue, both ways", test_queue_tcp},
    {"tcp: forwarder", test_forwarder_tcp},
    {"tcp: two producers, no interleaving", test_interleave_tcp},
    {"inproc: a consumer leaves mid-message, no fragments", test_churn_inproc},
    {"tcp: a consumer leaves mid-message, no fragments", test_churn_tcp},
    {NULL, NULL},
};
ZR_MAIN
