/* test_hostile.c - what a hostile peer can do (issue 14, "Found by an
 * adversarial probe" 1, 2, 5, 7), each shown not to work any more.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"
#include "zrtest_proc.h"

#include <arpa/inet.h>
#include <pthread.h>

#ifndef ZRELAY_BIN
#error "ZRELAY_BIN comes from tests/CMakeLists.txt"
#endif

/* ---------------------------------------------------------------------
 * 14.1: ids in libzmq's reserved space. libzmq 4.3.4 gives a ROUTER's
 * anonymous peers the ids 0x00 + a 32-bit counter that starts at
 * rand() | rand() << 31, and never seeds rand(): unseeded, a process's
 * first ROUTER starts at 0x6b8b4567. A peer may claim such an id itself,
 * and libzmq asserts when the counter reaches it (socket_base.cpp:2130).
 */

#define S_DRAWS 4  /* the first ROUTERs a process makes */
#define S_AHEAD 16 /* anonymous peers each may have had */
#define S_CLAIMS (S_DRAWS * S_AHEAD)

/* The ids an unseeded process's ROUTERs hand out first. */
static void
s_predicted_ids(unsigned char ids[S_CLAIMS][5])
{
    srand(1); /* glibc's state before anyone seeds it */
    for (int d = 0; d < S_DRAWS; d++) {
        uint32_t low = (uint32_t) rand();
        uint32_t high = (uint32_t) rand();
        uint32_t first = low | (high << 31);
        for (int k = 0; k < S_AHEAD; k++) {
            uint32_t id = htonl(first + (uint32_t) k);
            ids[d * S_AHEAD + k][0] = 0;
            memcpy(&ids[d * S_AHEAD + k][1], &id, 4);
        }
    }
    ZR_EQ(ids[0][1], 0x6b); /* as the probe saw */
}

/* The address of ROLE in R's table (read up to "ready"). */
typedef struct {
    zrt_proc_t *proc;
    char front[256], back[256];
} s_relay_t;

static void
s_relay_start(s_relay_t *r, const char *const *argv)
{
    memset(r, 0, sizeof *r);
    r->proc = zrt_proc_start(argv, NULL);
    for (;;) {
        char line[512], role[16], mode[16], address[256];
        ZR_CHECKF(
            zrt_proc_read_line(r->proc, line, sizeof line, ZRT_DEADLINE_MS),
            "no 'ready'; stderr:\n%s", zrt_proc_stderr(r->proc));
        if (strcmp(line, "ready") == 0) {
            break;
        }
        if (sscanf(line, "%15s %15s %255s", role, mode, address) == 3) {
            if (strcmp(role, "frontend") == 0) {
                snprintf(r->front, sizeof r->front, "%s", address);
            }
            else if (strcmp(role, "backend") == 0) {
                snprintf(r->back, sizeof r->back, "%s", address);
            }
        }
    }
}

/* R must still run; else its stderr says why (libzmq's assertion). */
static void
s_relay_alive(s_relay_t *r)
{
    if (!zrt_proc_alive(r->proc)) {
        zrt_proc_wait(r->proc, ZRT_DEADLINE_MS);
        ZR_FAILF("the relay died (status 0x%x): %s", r->proc->status,
                 zrt_proc_stderr(r->proc));
    }
}

/* Read one whole message from S into FRAMES (at most 8); their count. */
static int
s_recv_all(void *s, char frames[8][64], int lens[8])
{
    int n = 0, more = 1;
    while (more && n < 8) {
        int len = zmq_recv(s, frames[n], 63, 0);
        ZR_CHECK(len >= 0);
        lens[n] = len < 63 ? len : 63;
        frames[n][lens[n]] = 0;
        size_t sz = sizeof more;
        zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz);
        n++;
    }
    return n;
}

/* Send FRAMES[0..N-2] as they are and BODY last. */
static void
s_send_all(void *s, char frames[8][64], int lens[8], int n, const char *body)
{
    for (int i = 0; i < n - 1; i++) {
        ZR_CHECK(zmq_send(s, frames[i], (size_t) lens[i], ZMQ_SNDMORE) >= 0);
    }
    ZR_SEND(s, body);
}

/* rr: 64 clients claim the ids an unseeded queue's frontend will give
 * its first anonymous clients, and each gets its request through (so the
 * relay has attached each); then one ordinary client. Before: SIGABRT,
 * "Assertion failed: ok (src/socket_base.cpp:2130)". Now the relay's
 * counter starts elsewhere: it lives and serves the client. */
static void
test_claimed_ids_frontend(void)
{
    unsigned char ids[S_CLAIMS][5];
    s_predicted_ids(ids);
    s_relay_t r;
    const char *argv[] = {ZRELAY_BIN, "queue", "@tcp://127.0.0.1:*",
                          "@tcp://127.0.0.1:*", NULL};
    s_relay_start(&r, argv);
    void *ctx = zmq_ctx_new();
    void *worker = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(worker, r.back);
    void *claims[S_CLAIMS];
    for (int i = 0; i < S_CLAIMS; i++) {
        claims[i] = zrt_socket(ctx, ZMQ_DEALER);
        ZR_PASS(zmq_setsockopt(claims[i], ZMQ_ROUTING_ID, ids[i], 5));
        zrt_connect(claims[i], r.front);
        ZR_SEND(claims[i], "claim");
    }
    for (int i = 0; i < S_CLAIMS; i++) {
        ZR_CHECKF(zrt_readable(worker, ZRT_DEADLINE_MS),
                  "the worker got %d of %d claims", i, S_CLAIMS);
        char f[8][64];
        int lens[8];
        ZR_EQ(s_recv_all(worker, f, lens), 2);
        ZR_STREQ(f[1], "claim");
    }
    void *client = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(client, r.front);
    ZR_SEND(client, "hello");
    if (!zrt_readable(worker, ZRT_DEADLINE_MS)) {
        s_relay_alive(&r);
        ZR_FAILF("the worker never got the client's request");
    }
    char f[8][64];
    int lens[8];
    int n = s_recv_all(worker, f, lens);
    ZR_STREQ(f[n - 1], "hello");
    s_send_all(worker, f, lens, n, "world");
    ZR_CHECK(zrt_readable(client, ZRT_DEADLINE_MS));
    ZR_RECV(client, "world");
    s_relay_alive(&r);
    for (int i = 0; i < S_CLAIMS; i++) {
        zmq_close(claims[i]);
    }
    zmq_close(client);
    zmq_close(worker);
    zmq_ctx_term(ctx);
    zrt_proc_signal(r.proc, SIGTERM);
    zrt_proc_expect_exit(r.proc, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&r.proc);
}

/* lru: the same on the backend, a ROUTER of workers. 64 workers claim
 * the ids, say READY and each takes a request (so each is attached);
 * then an ordinary worker says READY and must serve the next request. */
static void
test_claimed_ids_backend(void)
{
    unsigned char ids[S_CLAIMS][5];
    s_predicted_ids(ids);
    s_relay_t r;
    const char *argv[] = {
        ZRELAY_BIN,    "queue", "--strategy",         "lru",
        "--heartbeat", "1h",    "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*",
        NULL};
    s_relay_start(&r, argv);
    void *ctx = zmq_ctx_new();
    void *client = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(client, r.front);
    void *claims[S_CLAIMS];
    for (int i = 0; i < S_CLAIMS; i++) {
        claims[i] = zrt_socket(ctx, ZMQ_DEALER);
        ZR_PASS(zmq_setsockopt(claims[i], ZMQ_ROUTING_ID, ids[i], 5));
        zrt_connect(claims[i], r.back);
        ZR_SEND(claims[i], "\x01"); /* READY */
    }
    for (int i = 0; i < S_CLAIMS; i++) {
        char req[16];
        snprintf(req, sizeof req, "r%d", i);
        ZR_SEND(client, req);
    }
    /* Every claimed worker holds one request: all 64 are attached. */
    zmq_pollitem_t items[S_CLAIMS];
    for (int i = 0; i < S_CLAIMS; i++) {
        items[i] = (zmq_pollitem_t){claims[i], 0, ZMQ_POLLIN, 0};
    }
    int got = 0;
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (got < S_CLAIMS && zrt_now_ms() < end) {
        ZR_CHECK(zmq_poll(items, S_CLAIMS, 100) >= 0);
        for (int i = 0; i < S_CLAIMS; i++) {
            if (items[i].revents & ZMQ_POLLIN) {
                char f[8][64];
                int lens[8];
                int n = s_recv_all(claims[i], f, lens);
                if (n > 1) {
                    got++;
                }
            }
        }
    }
    ZR_CHECKF(got == S_CLAIMS, "the claimed workers got %d of %d requests", got,
              S_CLAIMS);
    void *worker = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(worker, r.back);
    ZR_SEND(worker, "\x01");
    ZR_SEND(client, "hello");
    for (;;) {
        if (!zrt_readable(worker, ZRT_DEADLINE_MS)) {
            s_relay_alive(&r);
            ZR_FAILF("the ordinary worker never got the request");
        }
        char f[8][64];
        int lens[8];
        int n = s_recv_all(worker, f, lens);
        if (n == 1) {
            continue; /* a heartbeat */
        }
        ZR_STREQ(f[n - 1], "hello");
        s_send_all(worker, f, lens, n, "world");
        break;
    }
    ZR_CHECK(zrt_readable(client, ZRT_DEADLINE_MS));
    ZR_RECV(client, "world");
    s_relay_alive(&r);
    for (int i = 0; i < S_CLAIMS; i++) {
        zmq_close(claims[i]);
    }
    zmq_close(client);
    zmq_close(worker);
    zmq_ctx_term(ctx);
    zrt_proc_signal(r.proc, SIGTERM);
    zrt_proc_expect_exit(r.proc, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&r.proc);
}

/* The library seeds rand() when it is loaded: a program linked with it
 * does not draw glibc's unseeded sequence. (1 in 2^31 that a seed draws
 * the same first number.) */
static void
test_seeded_at_load(void)
{
    ZR_CHECKF(rand() != 1804289383, "rand() is unseeded: 0x6b8b4567 first");
}

/* ---------------------------------------------------------------------
 * 14.2: reply theft. A queue (rr) over tcp; the test is its worker.
 */

static void *
s_named(void *ctx, const char *id, const char *endpoint)
{
    void *s = zrt_socket(ctx, ZMQ_DEALER);
    ZR_PASS(zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id)));
    zrt_connect(s, endpoint);
    return s;
}

static void
s_handover_on(zr_device_t *dev)
{
    ZR_PASS(zr_device_set(dev, "router_handover", "all"));
}

/* Alice asks and waits; a second peer connects as "alice" (its handshake
 * done, so the relay's ROUTER has its connection before the reply goes).
 * By default it does not get her identity, and her reply goes to her.
 * Before: every ROUTER had ZMQ_ROUTER_HANDOVER, the second peer took
 * "alice" and her reply. With router_handover = all it still does, as
 * documented. (libzmq 4.3.4 reads nothing from a peer it refused an
 * identity: the second peer's own requests never arrive.) */
static void
s_alice(bool handover)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev =
        zrt_device(ctx, ZR_QUEUE, "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*",
                   handover ? s_handover_on : NULL);
    const char *front = zrt_device_endpoint(dev, 0);
    void *worker = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(worker, zrt_device_endpoint(dev, 1));
    void *alice = s_named(ctx, "alice", front);
    ZR_SEND(alice, "q1");
    char f1[8][64];
    int l1[8];
    ZR_CHECK(zrt_readable(worker, ZRT_DEADLINE_MS));
    int n1 = s_recv_all(worker, f1, l1);
    ZR_EQ(n1, 2);
    ZR_STREQ(f1[0], "alice");
    ZR_STREQ(f1[1], "q1");
    void *thief = s_named(ctx, "alice", front);
    ZR_SEND(thief, "q2");
    /* libzmq hands the connection to the ROUTER before it reports the
     * handshake: the reply below is sent after the ROUTER has seen it. */
    ZR_WAIT(zrt_stat(dev, "frontend", "connections", "handshakes", NULL) == 2,
            ZRT_DEADLINE_MS);
    s_send_all(worker, f1, l1, n1, "r1");
    void *gets = handover ? thief : alice;
    ZR_CHECKF(zrt_readable(gets, ZRT_DEADLINE_MS),
              handover ? "router_handover: the second 'alice' got nothing"
                       : "alice got no reply: the second 'alice' stole it");
    ZR_RECV(gets, "r1");
    zmq_close(alice);
    zmq_close(thief);
    zmq_close(worker);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

static void
test_no_reply_theft(void)
{
    s_alice(false);
}

static void
test_handover_when_asked(void)
{
    s_alice(true);
}

/* A client that reconnects with its fixed identity once its old
 * connection is gone is served, as README and BROKER.md promise. */
static void
test_reconnect_same_identity(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, "@tcp://127.0.0.1:*",
                                  "@tcp://127.0.0.1:*", NULL);
    const char *front = zrt_device_endpoint(dev, 0);
    void *worker = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(worker, zrt_device_endpoint(dev, 1));
    for (int round = 0; round < 3; round++) {
        void *alice = s_named(ctx, "alice", front);
        ZR_SEND(alice, "q");
        char f[8][64];
        int lens[8];
        ZR_CHECKF(zrt_readable(worker, ZRT_DEADLINE_MS), "round %d: no request",
                  round);
        int n = s_recv_all(worker, f, lens);
        ZR_EQ(n, 2);
        ZR_STREQ(f[0], "alice");
        s_send_all(worker, f, lens, n, "a");
        ZR_CHECK(zrt_readable(alice, ZRT_DEADLINE_MS));
        ZR_RECV(alice, "a");
        zmq_close(alice); /* linger 0: the connection closes */
        ZR_WAIT(zrt_stat(dev, "frontend", "connections", "disconnected",
                         NULL) == round + 1,
                ZRT_DEADLINE_MS);
    }
    zmq_close(worker);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* The option's text forms. */
static void
test_handover_option(void)
{
    zr_device_t *dev = zr_device_new(NULL, ZR_QUEUE, "q");
    ZR_PASS(zr_device_set(dev, "router_handover", "none"));
    ZR_PASS(zr_device_set(dev, "router-handover", "workers"));
    ZR_PASS(zr_device_set(dev, "router_handover", "all"));
    ZR_FAIL(zr_device_set(dev, "router_handover", "true"), EINVAL);
    zr_device_destroy(&dev);
    dev = zr_device_new(NULL, ZR_STREAMER, "s");
    ZR_FAIL(zr_device_set(dev, "router_handover", "all"), EINVAL);
    zr_device_destroy(&dev);
}

/* ---------------------------------------------------------------------
 * 14.5: a subscriber that sends data. An XSUB on a forwarder's backend
 * over tcp sends plain messages, then a subscription: the publisher (an
 * XPUB on the frontend) gets the subscription only, the rest is counted.
 */
static void
test_subscriber_data_stays_down(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_FORWARDER, "@tcp://127.0.0.1:*",
                                  "@tcp://127.0.0.1:*", NULL);
    void *pub = zrt_socket(ctx, ZMQ_XPUB);
    zrt_connect(pub, zrt_device_endpoint(dev, 0));
    void *xsub = zrt_socket(ctx, ZMQ_XSUB);
    zrt_connect(xsub, zrt_device_endpoint(dev, 1));
    ZR_SEND(xsub, "data for the publisher");
    ZR_SEND(xsub, "\x02not a subscription either");
    ZR_SENDMORE(xsub, "multipart");
    ZR_SEND(xsub, "more data");
    ZR_SEND(xsub, "\x01topic"); /* the one thing that goes up */
    ZR_CHECK(zrt_readable(pub, ZRT_DEADLINE_MS));
    char buf[64];
    int len = zmq_recv(pub, buf, sizeof buf - 1, 0);
    ZR_EQ(len, 6);
    ZR_CHECK(memcmp(buf, "\x01topic", 6) == 0);
    ZR_WAIT(zrt_stat(dev, "subscriptions", "refused_messages", NULL) == 3,
            ZRT_DEADLINE_MS);
    ZR_CHECKF(!zrt_readable(pub, 0), "the publisher got more than the "
                                     "subscription");
    zmq_close(pub);
    zmq_close(xsub);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * 14.7: numbers and text.
 */

/* Each value must be refused by option NAME of a device of TYPE, with a
 * reason that contains WANT. */
static void
s_refused(zr_device_type_t type, const char *name, const char *value,
          const char *want)
{
    zr_device_t *dev = zr_device_new(NULL, type, "d");
    ZR_CHECKF(zr_device_set(dev, name, value) != 0, "%s = '%s' accepted", name,
              value);
    ZR_CHECKF(strstr(zr_device_error(dev), want), "%s = '%s': '%s' lacks '%s'",
              name, value, zr_device_error(dev), want);
    zr_device_destroy(&dev);
}

static void
test_bad_numbers(void)
{
    /* 3 * 715,827,883 overflows an int (UBSan: signed overflow). */
    s_refused(ZR_QUEUE, "heartbeat_ivl", "715827883", "out of range");
    s_refused(ZR_QUEUE, "heartbeat", "0", "out of range (10ms to 24h)");
    s_refused(ZR_QUEUE, "liveness", "0", "out of range");
    s_refused(ZR_QUEUE, "sndhwm", "-0", "not a whole number");
    s_refused(ZR_QUEUE, "linger", "-0", "not a duration");
    s_refused(ZR_QUEUE, "max_msg_size", "-0", "not a size");
    s_refused(ZR_QUEUE, "affinity", "", "not a list of CPUs");
    s_refused(ZR_QUEUE, "affinity", "1,", "not a list of CPUs");
    s_refused(ZR_QUEUE, "affinity", " 1", "not a list of CPUs");
    s_refused(ZR_QUEUE, "affinity", "3-1", "not a list of CPUs");
    s_refused(ZR_QUEUE, "affinity", "+1", "not a list of CPUs");
    s_refused(ZR_QUEUE, "affinity", "4096", "not a list of CPUs");
    zr_device_t *dev = zr_device_new(NULL, ZR_QUEUE, "d");
    ZR_PASS(zr_device_set(dev, "affinity", "0,2-3"));
    ZR_PASS(zr_device_set(dev, "heartbeat_ivl", "1h"));
    ZR_PASS(zr_device_set(dev, "heartbeat", "10ms"));
    zr_device_destroy(&dev);
    int64_t v;
    ZR_FAIL(zr_parse_int("-0", -5, 5, &v), EINVAL);
    ZR_FAIL(zr_parse_int("-", -5, 5, &v), EINVAL);
    ZR_FAIL(zr_parse_int(" 1", -5, 5, &v), EINVAL);
    ZR_PASS(zr_parse_int("-5", -5, 5, &v));
    ZR_EQ(v, -5);
}

/* Every number, size and duration has a range: its ends are taken, one
 * past either end is refused, and the range is said in the refusal. */
static void
test_every_number_has_a_range(void)
{
    const zr_option_t *o;
    int ranged = 0;
    for (size_t i = 0; (o = zr_option(i)); i++) {
        bool number = o->kind == ZR_OPT_INT || o->kind == ZR_OPT_SIZE ||
                      o->kind == ZR_OPT_DURATION || o->kind == ZR_OPT_MICROS;
        char range[80];
        zr_option_range(o, range, sizeof range);
        if (!number) {
            ZR_STREQ(range, "");
            continue;
        }
        ranged++;
        ZR_CHECKF(o->max > o->min && o->min >= 0, "%s: range %lld to %lld",
                  o->name, (long long) o->min, (long long) o->max);
        zr_device_type_t type = ZR_FORWARDER;
        while (!zr_option_applies(o, type)) {
            type++;
        }
        /* In the option's smallest unit, as text. */
        const char *unit = o->kind == ZR_OPT_DURATION ? "ms"
                           : o->kind == ZR_OPT_MICROS ? "us"
                                                      : "";
        char text[64];
        zr_device_t *dev = zr_device_new(NULL, type, "d");
        if (strcmp(o->name, "heartbeat_ivl") == 0 ||
            strcmp(o->name, "heartbeat_timeout") == 0) {
            ZR_PASS(zr_device_set(dev, "heartbeat_ivl", "1"));
        }
        int64_t ends[2] = {o->min, o->max};
        for (int e = 0; e < 2; e++) {
            snprintf(text, sizeof text, "%lld%s", (long long) ends[e], unit);
            ZR_CHECKF(zr_device_set(dev, o->name, text) == 0,
                      "%s = %s refused: %s", o->name, text,
                      zr_device_error(dev));
        }
        if (o->min > 0) {
            snprintf(text, sizeof text, "%lld%s", (long long) o->min - 1, unit);
            ZR_CHECKF(zr_device_set(dev, o->name, text) != 0,
                      "%s = %s accepted", o->name, text);
            ZR_CHECKF(strstr(zr_device_error(dev), range),
                      "%s: '%s' lacks '%s'", o->name, zr_device_error(dev),
                      range);
        }
        snprintf(text, sizeof text, "%lld%s", (long long) o->max + 1, unit);
        ZR_CHECKF(zr_device_set(dev, o->name, text) != 0, "%s = %s accepted",
                  o->name, text);
        zr_device_destroy(&dev);
    }
    ZR_CHECK(ranged > 10);
    char range[80];
    ZR_STREQ(zr_option_range(zr_option_find("heartbeat"), range, sizeof range),
             "10ms to 24h");
    ZR_STREQ(
        zr_option_range(zr_option_find("max_msg_size"), range, sizeof range),
        "0 to 1024G");
    ZR_STREQ(zr_option_range(zr_option_find("busy_poll"), range, sizeof range),
             "0 to 1s");
}

/* --max-msg-size 0 is no limit, as 0 is elsewhere: a 100 kB frame goes
 * through. Before: libzmq's ZMQ_MAXMSGSIZE 0 refused every frame. */
static void
test_max_msg_size_zero(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"max_msg_size", "0", NULL};
    zr_device_t *dev = zr_device_new(ctx, ZR_STREAMER, "big");
    ZR_PASS(zr_device_set_frontend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set_backend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set(dev, kv[0], kv[1]));
    ZR_PASS(zr_device_start(dev));
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, zrt_device_endpoint(dev, 0));
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, zrt_device_endpoint(dev, 1));
    size_t size = 100000;
    char *big = calloc(1, size);
    ZR_CHECK(big != NULL);
    ZR_EQ(zmq_send(push, big, size, 0), (int) size);
    ZR_CHECKF(zrt_readable(pull, ZRT_DEADLINE_MS),
              "a 100 kB frame did not pass max_msg_size 0");
    ZR_EQ(zmq_recv(pull, big, size, 0), (int) size);
    free(big);
    zmq_close(push);
    zmq_close(pull);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* Log lines as the handler got them. */
static char s_log[1 << 16];
static pthread_mutex_t s_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void
s_log_keep(zr_log_level_t level, const char *line, void *arg)
{
    (void) level;
    (void) arg;
    pthread_mutex_lock(&s_log_lock);
    size_t used = strlen(s_log);
    snprintf(s_log + used, sizeof s_log - used, "%s\n", line);
    pthread_mutex_unlock(&s_log_lock);
}

static bool
s_logged(const char *text)
{
    pthread_mutex_lock(&s_log_lock);
    bool found = strstr(s_log, text) != NULL;
    pthread_mutex_unlock(&s_log_lock);
    return found;
}

/* Text from the network in a log line (a name, a command, an identity)
 * with a newline and an ANSI escape is logged as one line, escaped.
 * Before: "zrelay: error: forged" stood on a line of its own and the
 * terminal took the colour code. ctl.c already shows a command's
 * unprintable bytes as '?': that holds too. */
static void
test_log_escapes_network_text(void)
{
    zr_log_set_handler(s_log_keep, NULL);
    zr_log_set_level(ZR_LOG_DEBUG);
    ZR_LOG_W("%s: refused", "x\nzrelay: error: forged\x1b[31m\x7f");
    ZR_CHECKF(!s_logged("\nzrelay: error: forged") && !s_logged("\x1b"),
              "raw text in the log:\n%s", s_log);
    ZR_CHECKF(s_logged("x\\x0azrelay: error: forged\\x1b[31m\\x7f: refused\n"),
              "no escaped text in the log:\n%s", s_log);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zr_device_new(ctx, ZR_STREAMER, "esc");
    ZR_PASS(zr_device_set_frontend(dev, "@inproc://esc-front"));
    ZR_PASS(zr_device_set_backend(dev, "@inproc://esc-back"));
    ZR_PASS(zr_device_set_control(dev, "@inproc://esc-ctl"));
    ZR_PASS(zr_device_start(dev));
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://esc-ctl");
    ZR_SEND(req, "PAUSE\nzrelay: error: forged: line\x1b[31m");
    ZR_CHECK(zrt_readable(req, ZRT_DEADLINE_MS));
    char buf[512];
    zrt_recv_str(req, buf, sizeof buf);
    ZR_WAIT(s_logged("forged: line"), ZRT_DEADLINE_MS);
    ZR_CHECKF(!s_logged("\nzrelay: error: forged: line") && !s_logged("\x1b"),
              "raw network text in the log:\n%s", s_log);
    zmq_close(req);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
    zr_log_set_handler(NULL, NULL);
}

/* A device's own control endpoint reachable from the network is warned
 * of, as the daemon's is; on loopback it is not. */
static void
test_control_on_network_warned(void)
{
    zr_log_set_handler(s_log_keep, NULL);
    zr_log_set_level(ZR_LOG_WARNING);
    void *ctx = zmq_ctx_new();
    for (int open = 0; open < 2; open++) {
        zr_device_t *dev =
            zr_device_new(ctx, ZR_STREAMER, open ? "wide" : "lo");
        /* Names of their own: an inproc name is let go of late. */
        ZR_PASS(zr_device_set_frontend(dev,
                                       open ? "@inproc://w1" : "@inproc://l1"));
        ZR_PASS(
            zr_device_set_backend(dev, open ? "@inproc://w2" : "@inproc://l2"));
        ZR_PASS(zr_device_set_control(dev, open ? "@tcp://0.0.0.0:*"
                                                : "@tcp://127.0.0.1:*"));
        ZR_PASS(zr_device_start(dev));
        zr_device_destroy(&dev);
    }
    ZR_CHECKF(s_logged("wide: control endpoint tcp://0.0.0.0:") &&
                  s_logged("is reachable from the network"),
              "no warning:\n%s", s_log);
    ZR_CHECKF(!s_logged("lo: control endpoint"), "a warning for loopback:\n%s",
              s_log);
    zmq_ctx_term(ctx);
    zr_log_set_handler(NULL, NULL);
}

/* zrelay check on many devices: every collision still found, whatever
 * the order (the check sorts instead of comparing every pair). */
static void
test_check_many_devices(void)
{
    size_t n = 3000, cap = n * 120 + 1024, used = 0;
    char *text = malloc(cap);
    ZR_CHECK(text != NULL);
    for (size_t i = 0; i < n; i++) {
        used += (size_t) snprintf(
            text + used, cap - used,
            "[streamer s%zu]\nfrontend = @ipc:///tmp/zr-many-%zu-a\n"
            "backend = @tcp://127.0.0.1:%zu\n",
            i, i, 20000 + i);
    }
    /* Three collisions: a same ipc path, a wildcard over a port, a
     * duplicate name. */
    used +=
        (size_t) snprintf(text + used, cap - used,
                          "[streamer x1]\nfrontend = @ipc:///tmp/zr-many-7-a\n"
                          "backend = @tcp://*:20009\n"
                          "[streamer s5]\nfrontend = @inproc://a\n"
                          "backend = @inproc://b\n");
    zr_config_t *cfg = zr_config_parse(text, "many.conf");
    ZR_CHECK(cfg != NULL);
    ZR_EQ(zr_config_error_count(cfg), 3);
    ZR_CHECKF(strstr(zr_config_error(cfg, 0), "many.conf:9002: device 'x1' "
                                              "frontend binds "
                                              "ipc:///tmp/zr-many-7-a, "
                                              "which device 's7' frontend "
                                              "binds already (line 23)"),
              "%s", zr_config_error(cfg, 0));
    ZR_CHECKF(strstr(zr_config_error(cfg, 1), "which device 's9' backend "
                                              "binds already (line 30)"),
              "%s", zr_config_error(cfg, 1));
    ZR_CHECKF(strstr(zr_config_error(cfg, 2), "duplicate device name 's5' "
                                              "(first at line 16)"),
              "%s", zr_config_error(cfg, 2));
    zr_config_destroy(&cfg);
    free(text);
}

/* ---------------------------------------------------------------------
 * A stopped device's monitors. A device stopped and joined (zrelay ctl
 * stop) keeps its sockets, and a queue its frontend bound, but nobody
 * reads its socket monitors any more. Each garbage connection is two or
 * three monitor events; libzmq's I/O thread sends them blocking (4.3.4
 * socket_base.cpp monitor_event), so once the monitor's inproc pipe is
 * full (its HWM: 1000 + 1000 messages) the I/O thread stops there for
 * good, and with it every socket of the context: the other devices and
 * the daemon's control endpoint (attack14_stoppedflood.py).
 */

/* Connect to tcp://127.0.0.1:PORT ENDPOINT, write garbage, close; false
 * when the connection is not accepted within 2 s (the kernel's accept
 * queue full: nobody accepts). */
static bool
s_garbage(const char *endpoint)
{
    const char *colon = strrchr(endpoint, ':');
    ZR_CHECK(colon != NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ZR_CHECK(fd >= 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    bool ok = connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0;
    if (ok) {
        static const char junk[] = "\x01\x02garbage, not ZMTP\r\n";
        ok = send(fd, junk, sizeof junk - 1, MSG_NOSIGNAL) > 0;
    }
    close(fd);
    return ok;
}

static void
test_stopped_device_flood(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *victim = zrt_device(ctx, ZR_QUEUE, "@tcp://127.0.0.1:*",
                                     "@tcp://127.0.0.1:*", NULL);
    zr_device_t *other = zrt_device(ctx, ZR_STREAMER, "@tcp://127.0.0.1:*",
                                    "@tcp://127.0.0.1:*", NULL);
    zr_device_stop(victim);
    zr_device_join(victim);
    char front[256];
    snprintf(front, sizeof front, "%s", zrt_device_endpoint(victim, 0));
    /* 1500 connections: at least 3000 events, well over the 2000 the
     * pipe holds. The backlog lets a few through after a freeze. */
    int refused_at = -1;
    for (int i = 0; i < 1500 && refused_at < 0; i++) {
        if (!s_garbage(front)) {
            refused_at = i;
        }
    }
    /* Another device of the context still works. */
    void *cctx = zmq_ctx_new();
    void *push = zrt_socket(cctx, ZMQ_PUSH);
    void *pull = zrt_socket(cctx, ZMQ_PULL);
    zrt_connect(push, zrt_device_endpoint(other, 0));
    zrt_connect(pull, zrt_device_endpoint(other, 1));
    ZR_SEND(push, "alive");
    zrt_setint(pull, ZMQ_RCVTIMEO, ZRT_DEADLINE_MS);
    char buf[16];
    int n = zmq_recv(pull, buf, sizeof buf, 0);
    if (refused_at >= 0 || n != 5) {
        /* The context is stuck: tearing it down would hang too. */
        ZR_FAILF("the stopped device's garbage froze the context "
                 "(connection %d not accepted; other device: %s)",
                 refused_at, n == 5 ? "ok" : "nothing through");
    }
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(cctx);
    zr_device_destroy(&other);
    zr_device_destroy(&victim);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"14.1 claimed ids on a queue's frontend", test_claimed_ids_frontend},
    {"14.1 claimed ids on an lru backend", test_claimed_ids_backend},
    {"14.1 rand seeded at load", test_seeded_at_load},
    {"14.2 no reply theft", test_no_reply_theft},
    {"14.2 handover when asked", test_handover_when_asked},
    {"14.2 reconnect with the same identity", test_reconnect_same_identity},
    {"14.2 router_handover option", test_handover_option},
    {"14.5 subscriber data stays down", test_subscriber_data_stays_down},
    {"14.7 bad numbers", test_bad_numbers},
    {"14.7 every number has a range", test_every_number_has_a_range},
    {"14.7 max_msg_size 0", test_max_msg_size_zero},
    {"14.7 log escapes network text", test_log_escapes_network_text},
    {"14.7 control on the network warned", test_control_on_network_warned},
    {"14.7 check many devices", test_check_many_devices},
    {"stopped device flood", test_stopped_device_flood},
    {NULL, NULL}};

ZR_MAIN
