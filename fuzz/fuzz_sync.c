/* fuzz_sync.c - the forwarder's message handling (pubsub.c): what
 * subscribers send upstream (subscriptions, and what is none), what
 * publishers send (publications, sync probes), with the subscription
 * table (subs.c), the gate, last values and the sync service
 * (sync_service.c), whose requests come over a real ROUTER from a
 * DEALER. The handler and the sync socket's callback are caught with
 * ld's --wrap as they are installed, and called here, in this thread, as
 * the engine would.
 * Input: a byte of options (frontend PULL or XSUB, max_subscriptions,
 * last values, the gate), then operations, each a byte (see
 * LLVMFuzzerTestOneInput) and its frames.
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include "zr_impl.h"

#include <errno.h>
#include <zmq.h>

static zr__handler_t s_handler;
static void (*s_watch_fn)(void *);
static void *s_watch_arg;

void __real_zr__engine_set_handler(zr__engine_t *self,
                                   const zr__handler_t *handler);
void __wrap_zr__engine_set_handler(zr__engine_t *self,
                                   const zr__handler_t *handler);
int __real_zr__engine_watch(zr__engine_t *self, void *socket,
                            void (*fn)(void *), void *arg);
int __wrap_zr__engine_watch(zr__engine_t *self, void *socket,
                            void (*fn)(void *), void *arg);

void
__wrap_zr__engine_set_handler(zr__engine_t *self, const zr__handler_t *handler)
{
    s_handler = *handler;
    __real_zr__engine_set_handler(self, handler);
}

int
__wrap_zr__engine_watch(zr__engine_t *self, void *socket, void (*fn)(void *),
                        void *arg)
{
    s_watch_fn = fn;
    s_watch_arg = arg;
    return __real_zr__engine_watch(self, socket, fn, arg);
}

static void *s_ctx;
static unsigned long s_round;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    zr_fuzz_log_on();
    zr_log_set_level(ZR_LOG_INFO); /* debug: a line per message */
    s_ctx = zmq_ctx_new();
    ZR_FUZZ_CHECK(s_ctx != NULL);
    return 0;
}

/* A socket of TYPE. Sockets closed by earlier inputs are reaped by
 * libzmq's reaper thread a moment later; until then they count against
 * ZMQ_MAX_SOCKETS and a new one fails with EMFILE: wait for the reaper. */
static void *
s_socket(int type)
{
    int64_t deadline = zr__now_ms() + 30000;
    void *s;
    while (!(s = zmq_socket(s_ctx, type)) && errno == EMFILE &&
           zr__now_ms() < deadline) {
        zmq_poll(NULL, 0, 10);
    }
    if (!s) {
        fprintf(stderr, "fuzz_sync: zmq_socket: %s\n", zmq_strerror(errno));
        ZR_FUZZ_CHECK(s != NULL);
    }
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    return s;
}

static void
s_frames(zr_fuzz_in_t *in, zr__msg_t *msg, int nframes)
{
    for (int i = 0; i < nframes; i++) {
        size_t len;
        const uint8_t *at = zr_fuzz_frame(in, &len);
        zr__msg_add(msg, at, len);
    }
}

static void
s_deliver(zr__engine_t *engine, void *front, void *back, int dir,
          zr__msg_t *msg)
{
    if (!(s_handler.dirs & (1u << dir))) {
        zr__msg_destroy(msg); /* the engine would move it untouched */
        return;
    }
    zr__verdict_t v = s_handler.message(s_handler.arg, dir, msg);
    ZR_FUZZ_CHECK(v == ZR__SEND || v == ZR__TAKEN || v == ZR__DROP);
    if (v == ZR__TAKEN) {
        ZR_FUZZ_CHECK(msg->size == 0);
    }
    if (v == ZR__SEND && msg->size > 0 && dir == ZR__DOWNSTREAM) {
        (void) zr__engine_send_now(engine, back, msg);
    }
    (void) front;
    zr__msg_destroy(msg);
}

/* Replies the sync client got: the last probe topic in one of them is
 * kept in PROBE (LEN), to come back as a publisher's probe. */
static void
s_replies(void *client, char *probe, size_t *len)
{
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, client, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            return;
        }
        size_t n = zmq_msg_size(&part);
        if (n > 1 && n < 64 &&
            ((unsigned char *) zmq_msg_data(&part))[0] == 0xff) {
            memcpy(probe, zmq_msg_data(&part), n);
            *len = n;
        }
        zmq_msg_close(&part);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    uint8_t o = zr_fuzz_byte(&in);
    zr__pubsub_opts_t opts = {.last_value = o & 2,
                              .last_value_all = o & 4,
                              .lv_max_topics = 4,
                              .lv_max_bytes = 4096,
                              .max_subscriptions = o & 8 ? 3 : 0,
                              .hold_until = o & 0x10 ? 2 : 0,
                              .hold_max = 4,
                              .hold_max_bytes = 4096,
                              .hold_timeout = o & 0x20 ? 100 : 0};
    void *front = s_socket(o & 1 ? ZMQ_PULL : ZMQ_XSUB);
    void *back = s_socket(ZMQ_XPUB);
    void *sync = s_socket(ZMQ_ROUTER);
    void *client = s_socket(ZMQ_DEALER);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://fuzz-sync-%lu", ++s_round);
    ZR_FUZZ_CHECK(zmq_bind(sync, ep) == 0);
    ZR_FUZZ_CHECK(zmq_connect(client, ep) == 0);
    zr__engine_t *engine = zr__engine_new();
    ZR_FUZZ_CHECK(engine != NULL);
    ZR_FUZZ_CHECK(zr__engine_set_sockets(engine, front, back) == 0);
    memset(&s_handler, 0, sizeof s_handler);
    s_watch_fn = NULL;
    zr__pubsub_t *ps = zr__pubsub_new(engine, "fuzz", front, back, sync, &opts);
    ZR_FUZZ_CHECK(ps && s_handler.message && s_watch_fn);
    char probe[64];
    size_t probe_len = 0;
    int64_t now = zr__now_ms();
    for (int ops = 0; zr_fuzz_more(&in) && ops < 64; ops++) {
        uint8_t op = zr_fuzz_byte(&in);
        int n = (op >> 3) % 5 + 1;
        zr__msg_t msg = {NULL, 0, 0};
        switch (op & 7) {
        case 0: /* from a subscriber: a subscription, or anything */
        case 1:
            s_frames(&in, &msg, op & 1 ? n : 1);
            s_deliver(engine, front, back, ZR__UPSTREAM, &msg);
            break;
        case 2: /* a publication */
            s_frames(&in, &msg, n);
            s_deliver(engine, front, back, ZR__DOWNSTREAM, &msg);
            break;
        case 3: /* the probe the sync service asked for last */
            if (probe_len) {
                zr__msg_add(&msg, probe, probe_len);
                s_frames(&in, &msg, n - 1);
                s_deliver(engine, front, back, ZR__DOWNSTREAM, &msg);
            }
            break;
        case 4: /* a sync request of any frames */
        case 5: {
            int frames = op & 1 ? n + 4 : n;
            for (int i = 0; i < frames; i++) {
                size_t len;
                const uint8_t *at = zr_fuzz_frame(&in, &len);
                zmq_send(client, at, len, i + 1 < frames ? ZMQ_SNDMORE : 0);
            }
            zmq_pollitem_t item = {sync, 0, ZMQ_POLLIN, 0};
            ZR_FUZZ_CHECK(zmq_poll(&item, 1, 5000) == 1);
            s_watch_fn(s_watch_arg);
            s_replies(client, probe, &probe_len);
            break;
        }
        default: /* time passes */
            now += (int64_t) (op >> 3) * 50;
            if (s_handler.timer) {
                (void) s_handler.timer(s_handler.arg, now);
            }
            s_replies(client, probe, &probe_len);
            break;
        }
    }
    if (s_handler.flush) {
        s_handler.flush(s_handler.arg);
    }
    zr__pubsub_destroy(&ps);
    zr__engine_destroy(&engine);
    zmq_close(client);
    zmq_close(sync);
    zmq_close(back);
    zmq_close(front);
    return 0;
}
