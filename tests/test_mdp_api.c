/* test_mdp_api.c - the Majordomo client and worker API (zr_mdp_client_*,
 * zr_mdp_worker_*) against a real majordomo device in this process:
 * MDP/0.1 and 0.2 both ways, PARTIALs, the broker's error reply as
 * errno, the client's resend to the next endpoint, a worker that comes
 * back after its broker restarted, DISCONNECT when a worker stops.
 * SPDX-License-Identifier: MIT
 */
#include "zrelay.h"
#include "zrtest.h"

#include <ctype.h>
#include <pthread.h>
#include <unistd.h>

static zr_device_t *
s_broker(void *ctx, const char *ep, const char *const *settings)
{
    zr_device_t *dev = zr_device_new(ctx, ZR_MAJORDOMO, "mdp");
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, ep));
    for (; settings && *settings; settings += 2) {
        ZR_PASS(zr_device_set(dev, settings[0], settings[1]));
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

/* A worker on a thread of its own: it echoes each request, in upper
 * case when the first frame is "upper"; "partial" first sends each frame
 * as a PARTIAL, then "done" as the FINAL. It stops when its wake pipe is
 * written. */
typedef struct {
    void *ctx;
    const char *endpoint;
    const char *service;
    int version;
    int heartbeat, liveness, reconnect;
    const char *curve; /* the broker's public certificate, or NULL */
    int wake[2];
    pthread_t thread;
    int served;
    uint64_t connects;
    zr_mdp_worker_t *worker;
} s_worker_t;

static void *
s_worker_run(void *arg)
{
    s_worker_t *w = arg;
    zr_mdp_msg_t *req = zr_mdp_msg_new();
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    for (;;) {
        if (zr_mdp_worker_recv(w->worker, req, -1) != 0) {
            break;
        }
        zr_mdp_msg_clear(rep);
        bool partial = zr_mdp_msg_size(req, 0) == 7 &&
                       memcmp(zr_mdp_msg_data(req, 0), "partial", 7) == 0;
        bool upper = zr_mdp_msg_size(req, 0) == 5 &&
                     memcmp(zr_mdp_msg_data(req, 0), "upper", 5) == 0;
        for (size_t i = 0; i < zr_mdp_msg_frames(req); i++) {
            char buf[256];
            size_t len = zr_mdp_msg_size(req, i);
            len = len < sizeof buf ? len : sizeof buf;
            memcpy(buf, zr_mdp_msg_data(req, i), len);
            for (size_t j = 0; upper && j < len; j++) {
                buf[j] = (char) toupper((unsigned char) buf[j]);
            }
            if (partial) {
                zr_mdp_msg_t *p = zr_mdp_msg_new();
                zr_mdp_msg_add(p, buf, len);
                zr_mdp_worker_partial(w->worker, p);
                zr_mdp_msg_destroy(&p);
            }
            else {
                zr_mdp_msg_add(rep, buf, len);
            }
        }
        if (partial) {
            zr_mdp_msg_addstr(rep, "done");
        }
        if (zr_mdp_worker_reply(w->worker, rep) == 0) {
            w->served++;
        }
    }
    zr_mdp_msg_destroy(&req);
    zr_mdp_msg_destroy(&rep);
    w->connects = zr_mdp_worker_connects(w->worker);
    zr_mdp_worker_destroy(&w->worker);
    return NULL;
}

static void
s_worker_start(s_worker_t *w)
{
    ZR_PASS(pipe(w->wake));
    const char *eps[] = {w->endpoint};
    w->worker = zr_mdp_worker_new(w->ctx, eps, 1, w->service);
    ZR_CHECK(w->worker != NULL);
    if (w->version) {
        ZR_PASS(zr_mdp_worker_set_version(w->worker, w->version));
    }
    if (w->heartbeat) {
        ZR_PASS(zr_mdp_worker_set_heartbeat(w->worker, w->heartbeat));
        ZR_PASS(zr_mdp_worker_set_liveness(w->worker, w->liveness));
        ZR_PASS(zr_mdp_worker_set_reconnect(w->worker, w->reconnect));
    }
    if (w->curve) {
        ZR_PASS(zr_mdp_worker_set_curve(w->worker, w->curve, NULL));
    }
    zr_mdp_worker_set_wake_fd(w->worker, w->wake[0]);
    ZR_PASS(zr_mdp_worker_connect(w->worker));
    ZR_EQ(zr_mdp_worker_connects(w->worker), 1);
    ZR_EQ(pthread_create(&w->thread, NULL, s_worker_run, w), 0);
}

/* Stop the worker (it says DISCONNECT) and join it. */
static void
s_worker_stop(s_worker_t *w)
{
    ZR_EQ(write(w->wake[1], "x", 1), 1);
    pthread_join(w->thread, NULL);
    close(w->wake[0]);
    close(w->wake[1]);
}

static zr_mdp_msg_t *
s_msg(const char *const *frames)
{
    zr_mdp_msg_t *m = zr_mdp_msg_new();
    ZR_CHECK(m != NULL);
    for (; *frames; frames++) {
        ZR_PASS(zr_mdp_msg_addstr(m, *frames));
    }
    return m;
}

/* Frame I of M is TEXT. */
static void
s_frame_is(const zr_mdp_msg_t *m, size_t i, const char *text)
{
    ZR_CHECKF(i < zr_mdp_msg_frames(m), "no frame %zu (%zu frames)", i,
              zr_mdp_msg_frames(m));
    ZR_CHECKF(zr_mdp_msg_size(m, i) == strlen(text) &&
                  memcmp(zr_mdp_msg_data(m, i), text, strlen(text)) == 0,
              "frame %zu is '%.*s', not '%s'", i, (int) zr_mdp_msg_size(m, i),
              (const char *) zr_mdp_msg_data(m, i), text);
}

/* Every client version against every worker version. */
static void
test_versions(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@inproc://mdp-v", NULL);
    s_worker_t w1 = {.ctx = ctx,
                     .endpoint = "inproc://mdp-v",
                     .service = "one",
                     .version = 1};
    s_worker_t w2 = {.ctx = ctx,
                     .endpoint = ">inproc://mdp-v",
                     .service = "two",
                     .version = 2};
    s_worker_start(&w1);
    s_worker_start(&w2);
    const char *eps[] = {"inproc://mdp-v"};
    zr_mdp_msg_t *req = s_msg((const char *[]){"upper", "hello", NULL});
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    for (int v = 1; v <= 2; v++) {
        zr_mdp_client_t *c = zr_mdp_client_new(ctx, eps, 1);
        ZR_CHECK(c != NULL);
        ZR_PASS(zr_mdp_client_set_version(c, v));
        ZR_PASS(zr_mdp_client_request(c, "one", req, rep));
        ZR_EQ(zr_mdp_msg_frames(rep), 2);
        s_frame_is(rep, 0, "UPPER");
        s_frame_is(rep, 1, "HELLO");
        ZR_STREQ(zr_mdp_client_error(c), "");
        ZR_PASS(zr_mdp_client_request(c, "two", req, rep));
        ZR_EQ(zr_mdp_msg_frames(rep), 2);
        s_frame_is(rep, 1, "HELLO");
        /* MMI through the same call. */
        zr_mdp_msg_t *q = s_msg((const char *[]){"two", NULL});
        ZR_PASS(zr_mdp_client_request(c, "mmi.service", q, rep));
        s_frame_is(rep, 0, "200");
        zr_mdp_msg_destroy(&q);
        zr_mdp_client_destroy(&c);
        ZR_CHECK(c == NULL);
    }
    s_worker_stop(&w1);
    s_worker_stop(&w2);
    ZR_EQ(w1.served, 2);
    ZR_EQ(w2.served, 2);
    zr_mdp_msg_destroy(&req);
    zr_mdp_msg_destroy(&rep);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

static int
s_on_partial(const zr_mdp_msg_t *body, void *arg)
{
    char *seen = arg;
    size_t len = strlen(seen);
    snprintf(seen + len, 64 - len, "%.*s;", (int) zr_mdp_msg_size(body, 0),
             (const char *) zr_mdp_msg_data(body, 0));
    return seen[0] == '!' ? -1 : 0;
}

/* MDP/0.2 PARTIALs: gathered into the reply, or one by one to a
 * callback, which may give up. A 0.1 client gets them in one reply. */
static void
test_partials(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@inproc://mdp-p", NULL);
    s_worker_t w = {.ctx = ctx,
                    .endpoint = "inproc://mdp-p",
                    .service = "stream",
                    .version = 2};
    s_worker_start(&w);
    const char *eps[] = {"inproc://mdp-p"};
    zr_mdp_client_t *c = zr_mdp_client_new(ctx, eps, 1);
    ZR_CHECK(c != NULL);
    ZR_PASS(zr_mdp_client_set_version(c, 2));
    zr_mdp_msg_t *req = s_msg((const char *[]){"partial", "a", "b", NULL});
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    ZR_PASS(zr_mdp_client_request(c, "stream", req, rep));
    ZR_EQ(zr_mdp_msg_frames(rep), 4);
    s_frame_is(rep, 0, "partial");
    s_frame_is(rep, 2, "b");
    s_frame_is(rep, 3, "done");
    char seen[64] = "";
    zr_mdp_client_set_partial_fn(c, s_on_partial, seen);
    ZR_PASS(zr_mdp_client_request(c, "stream", req, rep));
    ZR_STREQ(seen, "partial;a;b;");
    ZR_EQ(zr_mdp_msg_frames(rep), 1);
    s_frame_is(rep, 0, "done");
    /* The callback says stop: ECANCELED, and the next request is not
     * confused by the rest of the abandoned reply (a new socket). */
    zr_mdp_msg_t *stop = s_msg((const char *[]){"partial", "x", NULL});
    snprintf(seen, sizeof seen, "!");
    ZR_FAIL(zr_mdp_client_request(c, "stream", stop, rep), ECANCELED);
    seen[0] = 0;
    zr_mdp_client_set_partial_fn(c, NULL, NULL);
    ZR_PASS(zr_mdp_client_request(c, "stream", req, rep));
    ZR_EQ(zr_mdp_msg_frames(rep), 4);
    /* A 0.1 client: one reply, PARTIAL bodies first (the broker). */
    ZR_PASS(zr_mdp_client_set_version(c, 1));
    zr_mdp_client_destroy(&c);
    c = zr_mdp_client_new(ctx, eps, 1);
    ZR_PASS(zr_mdp_client_request(c, "stream", req, rep));
    ZR_EQ(zr_mdp_msg_frames(rep), 4);
    s_frame_is(rep, 3, "done");
    zr_mdp_client_destroy(&c);
    s_worker_stop(&w);
    zr_mdp_msg_destroy(&stop);
    zr_mdp_msg_destroy(&req);
    zr_mdp_msg_destroy(&rep);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* The broker's error reply is -1 with errno by its code, its text kept. */
static void
test_error_reply(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(
        ctx, "@inproc://mdp-e",
        (const char *[]){"request_timeout", "100ms", "max_waiting", "1", NULL});
    const char *eps[] = {"inproc://mdp-e"};
    zr_mdp_msg_t *req = s_msg((const char *[]){"hi", NULL});
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    for (int v = 1; v <= 2; v++) {
        zr_mdp_client_t *c = zr_mdp_client_new(ctx, eps, 1);
        ZR_PASS(zr_mdp_client_set_version(c, v));
        ZR_PASS(zr_mdp_client_set_timeout(c, ZRT_DEADLINE_MS));
        ZR_FAIL(zr_mdp_client_request(c, "nobody", req, rep), ETIME);
        ZR_CHECKF(
            strncmp(zr_mdp_client_error(c), "ZRELAY-ERROR timeout ", 21) == 0,
            "error text '%s'", zr_mdp_client_error(c));
        ZR_EQ(zr_mdp_msg_frames(rep), 1);
        ZR_CHECK(strncmp(zr_mdp_msg_data(rep, 0), "ZRELAY-ERROR timeout", 20) ==
                 0);
        zr_mdp_client_destroy(&c);
    }
    /* busy: one request waits (max_waiting 1), the next is refused. */
    zr_mdp_client_t *a = zr_mdp_client_new(ctx, eps, 1);
    zr_mdp_client_t *b = zr_mdp_client_new(ctx, eps, 1);
    ZR_PASS(zr_mdp_client_set_timeout(a, 50));
    ZR_PASS(zr_mdp_client_set_retries(a, 0));
    /* A's request stays queued in the broker after A gave up on it. */
    ZR_FAIL(zr_mdp_client_request(a, "slow", req, rep), ETIMEDOUT);
    ZR_PASS(zr_mdp_client_set_timeout(b, ZRT_DEADLINE_MS));
    int rc = zr_mdp_client_request(b, "slow", req, rep);
    /* A's request may have expired first (request_timeout 100ms): then B
     * waits its turn and times out in the broker instead. */
    ZR_CHECKF(rc == -1 && (errno == EBUSY || errno == ETIME),
              "rc %d, errno %s, '%s'", rc, zmq_strerror(errno),
              zr_mdp_client_error(b));
    zr_mdp_client_destroy(&a);
    zr_mdp_client_destroy(&b);
    zr_mdp_msg_destroy(&req);
    zr_mdp_msg_destroy(&rep);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* A dead first endpoint: the request goes again to the second, which
 * answers, and the client stays there. All dead: ETIMEDOUT. */
static void
test_failover(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@inproc://mdp-f", NULL);
    s_worker_t w = {
        .ctx = ctx, .endpoint = "inproc://mdp-f", .service = "echo"};
    s_worker_start(&w);
    /* Nothing is bound at mdp-dead: a connect there never hears back. */
    const char *eps[] = {"inproc://mdp-dead", "inproc://mdp-f"};
    zr_mdp_client_t *c = zr_mdp_client_new(ctx, eps, 2);
    ZR_CHECK(c != NULL);
    ZR_STREQ(zr_mdp_client_endpoint(c), "inproc://mdp-dead");
    ZR_PASS(zr_mdp_client_set_timeout(c, 200));
    ZR_PASS(zr_mdp_client_set_retries(c, 1));
    zr_mdp_msg_t *req = s_msg((const char *[]){"ping", NULL});
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    ZR_PASS(zr_mdp_client_request(c, "echo", req, rep));
    s_frame_is(rep, 0, "ping");
    ZR_STREQ(zr_mdp_client_endpoint(c), "inproc://mdp-f");
    ZR_PASS(zr_mdp_client_request(c, "echo", req, rep));
    zr_mdp_client_destroy(&c);
    s_worker_stop(&w);
    ZR_EQ(w.served, 2);
    /* Every endpoint dead: retries + 1 attempts, then ETIMEDOUT. */
    const char *dead[] = {"inproc://mdp-dead", "inproc://mdp-dead2"};
    c = zr_mdp_client_new(ctx, dead, 2);
    ZR_PASS(zr_mdp_client_set_timeout(c, 50));
    ZR_PASS(zr_mdp_client_set_retries(c, 2));
    ZR_FAIL(zr_mdp_client_request(c, "echo", req, rep), ETIMEDOUT);
    ZR_STREQ(zr_mdp_client_error(c),
             "no reply to 'echo' within 50 ms, 3 attempts (inproc://mdp-dead, "
             "inproc://mdp-dead2)");
    ZR_EQ(zr_mdp_msg_frames(rep), 0);
    zr_mdp_client_destroy(&c);
    zr_mdp_msg_destroy(&req);
    zr_mdp_msg_destroy(&rep);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* A client and a worker make one connection each, and nothing else: no
 * trial connection to check the endpoints (which the broker counted as a
 * failed handshake). */
static void
test_one_connection(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@tcp://127.0.0.1:*", NULL);
    const char *role = NULL, *ep = NULL;
    bool bind = false;
    ZR_PASS(zr_device_endpoint(dev, 0, &role, &bind, &ep));
    const char *eps[] = {ep};
    zr_mdp_client_t *c = zr_mdp_client_new(ctx, eps, 1);
    ZR_CHECK(c != NULL);
    zr_mdp_msg_t *req = s_msg((const char *[]){"echo", NULL});
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    ZR_PASS(zr_mdp_client_request(c, "mmi.service", req, rep));
    s_frame_is(rep, 0, "404");
    zr_mdp_worker_t *w = zr_mdp_worker_new(ctx, eps, 1, "echo");
    ZR_CHECK(w != NULL);
    ZR_PASS(zr_mdp_worker_connect(w));
    ZR_WAIT(zrt_stat(dev, "majordomo", "workers", "known", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(dev, "frontend", "connections", "accepted", NULL), 2);
    ZR_EQ(zrt_stat(dev, "frontend", "connections", "handshake_failed", NULL),
          0);
    zr_mdp_worker_destroy(&w);
    zr_mdp_client_destroy(&c);
    zr_mdp_msg_destroy(&req);
    zr_mdp_msg_destroy(&rep);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* The broker is killed and started again on the same port: the worker
 * finds out (silence, or DISCONNECT from the new broker that does not
 * know it), says READY again, and serves. */
static void
test_worker_reconnect(void)
{
    void *ctx = zmq_ctx_new();
    const char *const fast[] = {"heartbeat", "100ms", "liveness", "3", NULL};
    zr_device_t *dev = s_broker(ctx, "@tcp://127.0.0.1:*", fast);
    char ep[256];
    snprintf(ep, sizeof ep, "%s", zrt_device_endpoint(dev, 0));
    s_worker_t w = {.ctx = ctx,
                    .endpoint = ep,
                    .service = "echo",
                    .heartbeat = 100,
                    .liveness = 3,
                    .reconnect = 100};
    s_worker_start(&w);
    const char *eps[] = {ep};
    zr_mdp_client_t *c = zr_mdp_client_new(ctx, eps, 1);
    ZR_PASS(zr_mdp_client_set_timeout(c, ZRT_DEADLINE_MS));
    zr_mdp_msg_t *req = s_msg((const char *[]){"before", NULL});
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    ZR_PASS(zr_mdp_client_request(c, "echo", req, rep));
    s_frame_is(rep, 0, "before");
    zr_device_destroy(&dev);
    /* The same port again: a port just closed may not bind at once. */
    int64_t deadline = zrt_now_ms() + ZRT_DEADLINE_MS;
    char bind[260];
    snprintf(bind, sizeof bind, "@%s", ep);
    while (!dev) {
        dev = zr_device_new(ctx, ZR_MAJORDOMO, "mdp");
        ZR_PASS(zr_device_set_frontend(dev, bind));
        ZR_PASS(zr_device_set(dev, "heartbeat", "100ms"));
        if (zr_device_start(dev) != 0) {
            ZR_CHECKF(zrt_now_ms() < deadline, "cannot bind %s again: %s", ep,
                      zr_device_error(dev));
            zr_device_destroy(&dev);
            usleep(20000);
        }
    }
    zr_mdp_msg_t *after = s_msg((const char *[]){"after", NULL});
    ZR_PASS(zr_mdp_client_request(c, "echo", after, rep));
    s_frame_is(rep, 0, "after");
    zr_mdp_client_destroy(&c);
    s_worker_stop(&w);
    ZR_CHECKF(w.connects >= 2, "READY sent %llu times",
              (unsigned long long) w.connects);
    ZR_EQ(w.served, 2);
    zr_mdp_msg_destroy(&req);
    zr_mdp_msg_destroy(&after);
    zr_mdp_msg_destroy(&rep);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* A worker that stops says DISCONNECT: over inproc, where the broker
 * sees no closed connection and heartbeats are an hour apart, that is
 * the only way it can learn. */
static void
test_worker_disconnect(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@inproc://mdp-d",
                                (const char *[]){"heartbeat", "1h", NULL});
    s_worker_t w = {.ctx = ctx,
                    .endpoint = "inproc://mdp-d",
                    .service = "echo",
                    .version = 2};
    s_worker_start(&w);
    ZR_WAIT(zrt_stat(dev, "majordomo", "workers", "known", NULL) == 1,
            ZRT_DEADLINE_MS);
    s_worker_stop(&w);
    ZR_WAIT(zrt_stat(dev, "majordomo", "workers", "disconnected", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(dev, "majordomo", "workers", "known", NULL), 0);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* CURVE to a broker that requires it: client and worker with fresh key
 * pairs (the broker allows any); a client without CURVE gets nothing. */
static void
test_curve(void)
{
    char dir[] = "/tmp/zrelay-mdp-curve-XXXXXX";
    ZR_CHECK(mkdtemp(dir) != NULL);
    char name[128], secret[160], err[600];
    snprintf(name, sizeof name, "%s/broker", dir);
    snprintf(secret, sizeof secret, "%s_secret", name);
    ZR_PASS(zr_cert_generate(name, false, err, sizeof err));
    void *ctx = zmq_ctx_new();
    zr_device_t *dev =
        s_broker(ctx, "@tcp://127.0.0.1:*",
                 (const char *[]){"curve_secret", secret, "curve_allow_any",
                                  "true", NULL});
    char ep[256];
    snprintf(ep, sizeof ep, "%s", zrt_device_endpoint(dev, 0));
    s_worker_t w = {
        .ctx = ctx, .endpoint = ep, .service = "echo", .curve = name};
    s_worker_start(&w);
    const char *eps[] = {ep};
    zr_mdp_msg_t *req = s_msg((const char *[]){"secret", NULL});
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    zr_mdp_client_t *c = zr_mdp_client_new(ctx, eps, 1);
    ZR_PASS(zr_mdp_client_set_curve(c, name, NULL));
    ZR_PASS(zr_mdp_client_set_timeout(c, ZRT_DEADLINE_MS));
    ZR_PASS(zr_mdp_client_request(c, "echo", req, rep));
    s_frame_is(rep, 0, "secret");
    zr_mdp_client_destroy(&c);
    c = zr_mdp_client_new(ctx, eps, 1);
    ZR_PASS(zr_mdp_client_set_timeout(c, 200));
    ZR_PASS(zr_mdp_client_set_retries(c, 0));
    ZR_FAIL(zr_mdp_client_request(c, "echo", req, rep), ETIMEDOUT);
    /* A certificate that is not there: said at the request. */
    ZR_PASS(zr_mdp_client_set_curve(c, "/nonexistent/cert", NULL));
    ZR_CHECK(zr_mdp_client_request(c, "echo", req, rep) == -1);
    ZR_CHECKF(strstr(zr_mdp_client_error(c), "/nonexistent/cert"), "error '%s'",
              zr_mdp_client_error(c));
    zr_mdp_client_destroy(&c);
    s_worker_stop(&w);
    ZR_EQ(w.served, 1);
    zr_mdp_msg_destroy(&req);
    zr_mdp_msg_destroy(&rep);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
    unlink(name);
    unlink(secret);
    rmdir(dir);
}

/* What the calls refuse. */
static void
test_arguments(void)
{
    void *ctx = zmq_ctx_new();
    const char *good[] = {"inproc://x"};
    const char *bind[] = {"@tcp://127.0.0.1:5555"};
    const char *bad[] = {"tcp://no-port"};
    const char *proto[] = {"carrier-pigeon://x"};
    ZR_FAILP(zr_mdp_client_new(ctx, good, 0), EINVAL);
    ZR_FAILP(zr_mdp_client_new(ctx, bind, 1), EINVAL);
    ZR_FAILP(zr_mdp_client_new(ctx, bad, 1), EINVAL);
    ZR_FAILP(zr_mdp_client_new(ctx, proto, 1), EPROTONOSUPPORT);
    ZR_FAILP(zr_mdp_worker_new(ctx, good, 1, "mmi.service"), EINVAL);
    ZR_FAILP(zr_mdp_worker_new(ctx, good, 1, ""), EINVAL);
    ZR_FAILP(zr_mdp_worker_new(ctx, bad, 1, "echo"), EINVAL);
    zr_mdp_client_t *c = zr_mdp_client_new(ctx, good, 1);
    ZR_FAIL(zr_mdp_client_set_version(c, 3), EINVAL);
    ZR_FAIL(zr_mdp_client_set_timeout(c, 0), EINVAL);
    ZR_FAIL(zr_mdp_client_set_retries(c, -1), EINVAL);
    zr_mdp_msg_t *empty = zr_mdp_msg_new();
    zr_mdp_msg_t *rep = zr_mdp_msg_new();
    ZR_FAIL(zr_mdp_client_request(c, "echo", empty, rep), EINVAL);
    ZR_PASS(zr_mdp_msg_addstr(empty, "x"));
    ZR_FAIL(zr_mdp_client_request(c, "", empty, rep), EINVAL);
    zr_mdp_client_destroy(&c);
    zr_mdp_client_destroy(&c);
    zr_mdp_worker_t *w = zr_mdp_worker_new(ctx, good, 1, "echo");
    ZR_CHECK(w != NULL);
    ZR_FAIL(zr_mdp_worker_reply(w, empty), EFSM);
    ZR_FAIL(zr_mdp_worker_partial(w, empty), ENOTSUP);
    ZR_FAIL(zr_mdp_worker_recv(w, rep, 0), EAGAIN);
    ZR_FAIL(zr_mdp_worker_set_version(w, 2), EFSM);
    ZR_FAIL(zr_mdp_worker_set_heartbeat(w, 0), EINVAL);
    ZR_FAIL(zr_mdp_worker_set_liveness(w, 0), EINVAL);
    zr_mdp_worker_destroy(&w);
    zr_mdp_worker_destroy(&w);
    /* The message's accessors past the end. */
    ZR_EQ(zr_mdp_msg_frames(empty), 1);
    ZR_CHECK(zr_mdp_msg_data(empty, 1) == NULL);
    ZR_EQ(zr_mdp_msg_size(empty, 1), 0);
    ZR_PASS(zr_mdp_msg_add(empty, NULL, 0));
    ZR_EQ(zr_mdp_msg_frames(empty), 2);
    zr_mdp_msg_destroy(&empty);
    zr_mdp_msg_destroy(&rep);
    zr_mdp_msg_destroy(&empty);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"one connection each, no trial connection", test_one_connection},
    {"client and worker, MDP/0.1 and 0.2 both ways", test_versions},
    {"MDP/0.2 PARTIALs: gathered, called back, cancelled", test_partials},
    {"the broker's error reply as errno", test_error_reply},
    {"no reply: the next endpoint, then ETIMEDOUT", test_failover},
    {"worker: READY again after the broker restarts", test_worker_reconnect},
    {"worker: DISCONNECT when it stops", test_worker_disconnect},
    {"CURVE to a broker that requires it", test_curve},
    {"arguments refused", test_arguments},
    {NULL, NULL},
};

ZR_MAIN
