/* fuzz_broker.c - the queue's broker (broker.c: strategies lru and hash,
 * Paranoid Pirate and REQ workers): whole messages from clients and from
 * workers, as the engine hands them over, and the timer. The broker sits
 * on a real engine and real sockets (inproc: two workers "W1", "W2" and
 * two clients "C1", "C2" are connected, so requests and replies can go
 * somewhere); its handler is caught with ld's --wrap as it installs
 * itself, and called here, in this thread, as the engine would.
 * Input: a byte of options (strategy, hash frame, bounds, timeouts), then
 * operations, each a byte (see LLVMFuzzerTestOneInput) and its frames.
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include "zr_impl.h"

#include <zmq.h>

static zr__handler_t s_handler;

void __real_zr__engine_set_handler(zr__engine_t *self,
                                   const zr__handler_t *handler);
void __wrap_zr__engine_set_handler(zr__engine_t *self,
                                   const zr__handler_t *handler);

void
__wrap_zr__engine_set_handler(zr__engine_t *self, const zr__handler_t *handler)
{
    s_handler = *handler;
    __real_zr__engine_set_handler(self, handler);
}

static void *s_ctx, *s_front, *s_back;
static void *s_workers[2], *s_clients[2];

static void *
s_peer(const char *id, const char *address)
{
    void *s = zmq_socket(s_ctx, ZMQ_DEALER);
    int zero = 0;
    ZR_FUZZ_CHECK(s != NULL);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
    ZR_FUZZ_CHECK(zmq_connect(s, address) == 0);
    return s;
}

/* The ROUTER knows PEER by its id once it has read from it. */
static void
s_introduce(void *peer, void *router)
{
    ZR_FUZZ_CHECK(zmq_send(peer, "hi", 2, 0) == 2);
    zmq_msg_t part;
    zmq_msg_init(&part);
    bool more = true;
    while (more) {
        ZR_FUZZ_CHECK(zmq_msg_recv(&part, router, 0) >= 0);
        more = zmq_msg_more(&part);
    }
    zmq_msg_close(&part);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    zr_fuzz_log_on();
    s_ctx = zmq_ctx_new();
    ZR_FUZZ_CHECK(s_ctx != NULL);
    s_front = zmq_socket(s_ctx, ZMQ_ROUTER);
    s_back = zmq_socket(s_ctx, ZMQ_ROUTER);
    int on = 1, zero = 0;
    zmq_setsockopt(s_front, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s_back, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s_back, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    ZR_FUZZ_CHECK(zmq_bind(s_front, "inproc://fuzz-broker-front") == 0);
    ZR_FUZZ_CHECK(zmq_bind(s_back, "inproc://fuzz-broker-back") == 0);
    s_workers[0] = s_peer("W1", "inproc://fuzz-broker-back");
    s_workers[1] = s_peer("W2", "inproc://fuzz-broker-back");
    s_clients[0] = s_peer("C1", "inproc://fuzz-broker-front");
    s_clients[1] = s_peer("C2", "inproc://fuzz-broker-front");
    for (int i = 0; i < 2; i++) {
        s_introduce(s_workers[i], s_back);
        s_introduce(s_clients[i], s_front);
    }
    return 0;
}

/* A message of NFRAMES frames from the input, after FIRST (NULL: none). */
static void
s_frames(zr_fuzz_in_t *in, zr__msg_t *msg, const char *first, int nframes)
{
    if (first) {
        zr__msg_addstr(msg, first);
    }
    for (int i = 0; i < nframes; i++) {
        size_t len;
        const uint8_t *at = zr_fuzz_frame(in, &len);
        zr__msg_add(msg, at, len);
    }
}

/* The handler's verdict carried out, as the engine does. */
static void
s_deliver(zr__engine_t *engine, int dir, zr__msg_t *msg)
{
    zr__verdict_t v = s_handler.message(s_handler.arg, dir, msg);
    ZR_FUZZ_CHECK(v == ZR__SEND || v == ZR__TAKEN || v == ZR__DROP);
    if (v == ZR__TAKEN) {
        ZR_FUZZ_CHECK(msg->size == 0);
    }
    if (v == ZR__SEND && msg->size > 0) {
        (void) zr__engine_send_now(engine,
                                   dir == ZR__UPSTREAM ? s_front : s_back, msg);
    }
    zr__msg_destroy(msg);
}

/* A request worker W received, answered as it came, body and all. */
static void
s_worker_answers(zr__engine_t *engine, int w)
{
    zr__msg_t msg = {NULL, 0, 0};
    zr__msg_addstr(&msg, w ? "W2" : "W1");
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, s_workers[w], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            break;
        }
        bool more = zmq_msg_more(&part);
        zr__msg_add(&msg, zmq_msg_data(&part), zmq_msg_size(&part));
        zmq_msg_close(&part);
        if (!more) {
            break;
        }
    }
    if (msg.size > 1) {
        s_deliver(engine, ZR__UPSTREAM, &msg);
    }
    zr__msg_destroy(&msg);
}

static void
s_drain(void *s)
{
    zmq_msg_t part;
    zmq_msg_init(&part);
    while (zmq_msg_recv(&part, s, ZMQ_DONTWAIT) >= 0) {
    }
    zmq_msg_close(&part);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    uint8_t o = zr_fuzz_byte(&in);
    static const uint64_t waits[] = {0, 1, 2, 8};
    zr__broker_opts_t opts = {.strategy =
                                  o & 1 ? ZR__STRATEGY_HASH : ZR__STRATEGY_LRU,
                              .hash_frame = (o >> 1) & 3,
                              .max_waiting = waits[(o >> 3) & 3],
                              .request_timeout = o & 0x20 ? 100 : 0,
                              .retries = o & 0x40 ? 2 : 0,
                              .busy_timeout = o & 0x80 ? 500 : 0,
                              .heartbeat = 1000,
                              .liveness = 3};
    zr__engine_t *engine = zr__engine_new();
    ZR_FUZZ_CHECK(engine != NULL);
    ZR_FUZZ_CHECK(zr__engine_set_sockets(engine, s_front, s_back) == 0);
    memset(&s_handler, 0, sizeof s_handler);
    zr__broker_t *broker =
        zr__broker_new(engine, "fuzz", s_front, s_back, &opts);
    ZR_FUZZ_CHECK(broker != NULL && s_handler.message && s_handler.timer);
    int64_t now = zr__now_ms();
    for (int ops = 0; zr_fuzz_more(&in) && ops < 64; ops++) {
        uint8_t op = zr_fuzz_byte(&in);
        int n = (op >> 3) % 6; /* frames after the identity */
        zr__msg_t msg = {NULL, 0, 0};
        switch (op & 7) {
        case 0: /* a request from C1 or C2 */
        case 1:
            s_frames(&in, &msg, op & 1 ? "C2" : "C1", n + 1);
            s_deliver(engine, ZR__DOWNSTREAM, &msg);
            break;
        case 2: /* from W1 or W2: READY, HEARTBEAT, a reply... */
        case 3:
            s_frames(&in, &msg, op & 1 ? "W2" : "W1", n + 1);
            s_deliver(engine, ZR__UPSTREAM, &msg);
            break;
        case 4: /* from anybody, identity and all */
            s_frames(&in, &msg, NULL, n + 1);
            s_deliver(engine, op & 0x40 ? ZR__UPSTREAM : ZR__DOWNSTREAM, &msg);
            break;
        case 5: /* a worker answers what it got */
            s_worker_answers(engine, (op >> 3) & 1);
            break;
        default: /* time passes: up to 31 heartbeats' worth */
            now += (int64_t) (op >> 3) * 1000 + (op & 1) * 150;
            (void) s_handler.timer(s_handler.arg, now);
            break;
        }
    }
    if (s_handler.flush) {
        s_handler.flush(s_handler.arg);
    }
    zr__broker_destroy(&broker);
    zr__engine_destroy(&engine);
    for (int i = 0; i < 2; i++) {
        s_drain(s_workers[i]);
        s_drain(s_clients[i]);
    }
    return 0;
}
