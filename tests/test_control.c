/* test_control.c - the control socket (zmq_proxy_steerable's commands and
 * STATS), pause and resume, capture, zr_proxy, and the device API's
 * errors.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#include <cjson/cJSON.h>
#include <pthread.h>

static void
s_control(zr_device_t *dev)
{
    ZR_PASS(zr_device_set_control(dev, "@inproc://ctl"));
}

/* Send COMMAND on REQ and return the number of reply frames, copying the
 * first into FIRST. */
static int
s_ask(void *req, const char *command, char *first, size_t len,
      zmq_msg_t *frames, int max)
{
    ZR_SEND(req, command);
    ZR_CHECKF(zrt_readable(req, 1000), "no reply to %s within 1 s", command);
    int n = 0;
    zmq_msg_t part;
    zmq_msg_init(&part);
    do {
        ZR_CHECK(zmq_msg_recv(&part, req, 0) >= 0);
        if (n == 0 && first) {
            size_t size = zmq_msg_size(&part);
            size = size < len - 1 ? size : len - 1;
            memcpy(first, zmq_msg_data(&part), size);
            first[size] = 0;
        }
        if (frames && n < max) {
            zmq_msg_init(&frames[n]);
            zmq_msg_copy(&frames[n], &part);
        }
        n++;
    } while (zmq_msg_more(&part));
    zmq_msg_close(&part);
    return n;
}

static uint64_t
s_u64(zmq_msg_t *frame)
{
    uint64_t v;
    ZR_EQ(zmq_msg_size(frame), 8);
    memcpy(&v, zmq_msg_data(frame), 8);
    return v;
}

/* The steerable commands answer as libzmq does; an unknown one gets an
 * error reply and the relay goes on. */
static void
test_steerable_commands(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, "@inproc://sc-in",
                                  "@inproc://sc-out", s_control);
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://ctl");
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, "inproc://sc-in");
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, "inproc://sc-out");

    /* 10 messages of 3 frames, 5 bytes each: a multipart message counts
     * once in STATISTICS, bytes are all of its frames. */
    for (int i = 0; i < 10; i++) {
        ZR_SENDMORE(push, "aaaaa");
        ZR_SENDMORE(push, "bbbbb");
        ZR_SEND(push, "ccccc");
    }
    for (int i = 0; i < 30; i++) {
        char buf[8];
        zrt_recv_str(pull, buf, sizeof buf);
    }
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_out == 10, ZRT_DEADLINE_MS);

    char first[8192];
    zmq_msg_t frames[8];
    ZR_EQ(s_ask(req, "STATISTICS", NULL, 0, frames, 8), 8);
    uint64_t want[8] = {10, 150, 0, 0, 0, 0, 10, 150};
    for (int i = 0; i < 8; i++) {
        ZR_EQ(s_u64(&frames[i]), want[i]);
        zmq_msg_close(&frames[i]);
    }
    ZR_EQ(s_ask(req, "STATS", first, sizeof first, NULL, 0), 1);
    cJSON *json = cJSON_Parse(first);
    ZR_CHECKF(json, "STATS is not JSON: %s", first);
    ZR_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(json, "type")),
             "streamer");
    ZR_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(json, "state")),
             "running");
    cJSON *front = cJSON_GetObjectItem(json, "frontend");
    ZR_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(front, "frames_in")), 30);
    ZR_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(front, "msgs_in")), 10);
    cJSON_Delete(json);

    ZR_EQ(s_ask(req, "BOGUS", first, sizeof first, NULL, 0), 1);
    ZR_CHECKF(strncmp(first, "ERROR", 5) == 0 && strstr(first, "BOGUS"),
              "reply to BOGUS: '%s'", first);
    /* A binary command is quoted safely. */
    ZR_PASS(zmq_send(req, "\x01\xff", 2, 0));
    ZR_CHECK(zrt_readable(req, 1000));
    ZR_CHECK(zmq_recv(req, first, sizeof first - 1, 0) > 5);
    ZR_CHECK(strncmp(first, "ERROR", 5) == 0);
    /* The relay is still there. */
    ZR_EQ(s_ask(req, "PAUSE", first, sizeof first, NULL, 0), 1);
    ZR_STREQ(first, "");
    ZR_WAIT((zr_device_stats(dev, &st), st.paused), ZRT_DEADLINE_MS);
    ZR_EQ(s_ask(req, "RESUME", first, sizeof first, NULL, 0), 1);
    ZR_STREQ(first, "");
    ZR_WAIT((zr_device_stats(dev, &st), !st.paused), ZRT_DEADLINE_MS);
    zr_device_stats(dev, &st);
    ZR_EQ(st.control_errors, 2);
    ZR_EQ(st.control_cmds, 4);
    ZR_EQ(s_ask(req, "TERMINATE", first, sizeof first, NULL, 0), 1);
    ZR_STREQ(first, "");
    ZR_EQ(zr_device_join(dev), 0);
    zr_device_stats(dev, &st);
    ZR_CHECK(!st.running);
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

/* A command for another device's name is refused. */
static void
test_named_commands(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zr_device_new(ctx, ZR_QUEUE, "orders");
    ZR_PASS(zr_device_set_frontend(dev, "@inproc://nc-in"));
    ZR_PASS(zr_device_set_backend(dev, "@inproc://nc-out"));
    ZR_PASS(zr_device_set_control(dev, "@inproc://nc-ctl"));
    ZR_PASS(zr_device_start(dev));
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://nc-ctl");
    char reply[256];
    ZR_SENDMORE(req, "PAUSE");
    ZR_SEND(req, "billing");
    zrt_recv_str(req, reply, sizeof reply);
    ZR_CHECKF(strstr(reply, "ERROR") && strstr(reply, "billing"), "'%s'",
              reply);
    ZR_SENDMORE(req, "PAUSE");
    ZR_SEND(req, "orders");
    ZR_RECV(req, "");
    zr_stats_t st;
    ZR_WAIT((zr_device_stats(dev, &st), st.paused), ZRT_DEADLINE_MS);
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_ctx_term(ctx);
}

/* PAUSE stops delivery, RESUME restores it, nothing is lost. */
static void
test_pause_resume(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, "@inproc://pr-in",
                                  "@inproc://pr-out", s_control);
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://ctl");
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, "inproc://pr-in");
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, "inproc://pr-out");
    ZR_SEND(req, "PAUSE");
    ZR_RECV(req, "");
    for (int i = 0; i < 100; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        ZR_SEND(push, text);
    }
    /* Paused: STATS still answers, and it says nothing moved. */
    char reply[1024];
    ZR_SEND(req, "STATS");
    zrt_recv_str(req, reply, sizeof reply);
    ZR_CHECKF(strstr(reply, "\"state\":\"paused\""), "%s", reply);
    ZR_CHECK(!zrt_readable(pull, 200));
    zr_stats_t st;
    zr_device_stats(dev, &st);
    ZR_EQ(st.frontend.msgs_in, 0);
    ZR_SEND(req, "RESUME");
    ZR_RECV(req, "");
    for (int i = 0; i < 100; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        ZR_RECV(pull, text);
    }
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

static void
s_capture(zr_device_t *dev)
{
    ZR_PASS(zr_device_set_capture(dev, "@inproc://cap"));
}

/* Wait until the capture listener LISTENER is subscribed: push probes
 * through PUSH/PULL until one is captured, then drain up to a marker. */
static void
s_capture_sync(void *push, void *pull, void *listener)
{
    char buf[32];
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    do {
        ZR_SEND(push, "probe");
        ZR_RECV(pull, "probe");
        ZR_CHECK(zrt_now_ms() < end);
    } while (!zrt_readable(listener, 5));
    ZR_SEND(push, "marker");
    ZR_RECV(pull, "marker");
    do {
        zrt_recv_str(listener, buf, sizeof buf);
    } while (strcmp(buf, "marker") != 0);
}

/* A streamer inproc://NAME-in -> NAME-out capturing to inproc://cap, a
 * SUB listener on the capture (RCVHWM HWM), a PUSH into the streamer and
 * a PULL out of it; open once the listener is subscribed. */
typedef struct {
    void *ctx;
    zr_device_t *dev;
    void *listener, *push, *pull;
} s_capture_rig_t;

static void
s_capture_open(s_capture_rig_t *c, const char *name, int hwm)
{
    char in[64], out[64]; /* "@ADDRESS": the device binds, we connect */
    snprintf(in, sizeof in, "@inproc://%s-in", name);
    snprintf(out, sizeof out, "@inproc://%s-out", name);
    c->ctx = zmq_ctx_new();
    c->dev = zrt_device(c->ctx, ZR_STREAMER, in, out, s_capture);
    c->listener = zrt_socket(c->ctx, ZMQ_SUB);
    zrt_setint(c->listener, ZMQ_RCVHWM, hwm);
    zmq_setsockopt(c->listener, ZMQ_SUBSCRIBE, "", 0);
    zrt_connect(c->listener, "inproc://cap");
    c->push = zrt_socket(c->ctx, ZMQ_PUSH);
    zrt_connect(c->push, in + 1);
    c->pull = zrt_socket(c->ctx, ZMQ_PULL);
    zrt_connect(c->pull, out + 1);
    s_capture_sync(c->push, c->pull, c->listener);
}

static void
s_capture_close(s_capture_rig_t *c)
{
    zr_device_destroy(&c->dev);
    zmq_close(c->listener);
    zmq_close(c->push);
    zmq_close(c->pull);
    zmq_ctx_term(c->ctx);
}

/* Capture sees every frame, with its more-flag, of 10,000 messages. */
static void
test_capture_every_frame(void)
{
    s_capture_rig_t c;
    s_capture_open(&c, "cf", 100000);
    zr_device_t *dev = c.dev;
    void *listener = c.listener, *push = c.push, *pull = c.pull;
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, true, ZRT_DEADLINE_MS);
    uint64_t base = st.capture_msgs;

    const int count = 10000;
    for (int i = 0; i < count; i += 500) {
        /* Batches of 500, each consumed before the next is sent. */
        for (int j = i; j < i + 500; j++) {
            uint32_t n = (uint32_t) j;
            ZR_PASS(zmq_send(push, &n, sizeof n, ZMQ_SNDMORE));
            ZR_SEND(push, "tail");
        }
        for (int j = i; j < i + 500; j++) {
            uint32_t n;
            char tail[8];
            ZR_CHECK(zrt_readable(pull, ZRT_DEADLINE_MS));
            ZR_EQ(zmq_recv(pull, &n, sizeof n, 0), 4);
            zrt_recv_str(pull, tail, sizeof tail);
        }
    }
    for (int j = 0; j < count; j++) {
        uint32_t n;
        int more;
        size_t len = sizeof more;
        ZR_CHECKF(zrt_readable(listener, ZRT_DEADLINE_MS),
                  "capture stopped at %d of %d", j, count);
        ZR_RECV(listener, "backend"); /* the way it went: sent there */
        ZR_EQ(zmq_recv(listener, &n, sizeof n, 0), 4);
        ZR_EQ(n, j);
        zmq_getsockopt(listener, ZMQ_RCVMORE, &more, &len);
        ZR_EQ(more, 1);
        ZR_RECV(listener, "tail");
        zmq_getsockopt(listener, ZMQ_RCVMORE, &more, &len);
        ZR_EQ(more, 0);
    }
    ZR_WAIT_STATS(dev, st, st.capture_msgs == base + count, ZRT_DEADLINE_MS);
    ZR_EQ(st.capture_drops, 0);
    s_capture_close(&c);
}

/* A listener that never reads costs counted capture drops, not the
 * relay's traffic. */
static void
test_capture_stalled_listener(void)
{
    s_capture_rig_t c;
    s_capture_open(&c, "cs", 10);
    zr_device_t *dev = c.dev;
    void *push = c.push, *pull = c.pull;
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, true, ZRT_DEADLINE_MS);
    uint64_t msgs = st.capture_msgs, drops = st.capture_drops;

    const int count = 10000;
    for (int i = 0; i < count; i += 500) {
        for (int j = 0; j < 500; j++) {
            ZR_SEND(push, "data");
        }
        for (int j = 0; j < 500; j++) {
            ZR_RECV(pull, "data");
        }
    }
    ZR_WAIT_STATS(dev, st, st.backend.msgs_out >= (uint64_t) count,
                  ZRT_DEADLINE_MS);
    uint64_t copied = st.capture_msgs - msgs;
    uint64_t missed = st.capture_drops - drops;
    printf("stalled listener: %" PRIu64 " copied, %" PRIu64 " missed\n", copied,
           missed);
    ZR_EQ(copied + missed, count);
    ZR_CHECK(missed > 0);
    s_capture_close(&c);
}

typedef struct {
    void *front, *back, *control; /* control may be NULL */
    int rc;
    pthread_t thread;
} s_proxy_args_t;

static void *
s_run_proxy(void *arg)
{
    s_proxy_args_t *a = arg;
    a->rc = zr_proxy(a->front, a->back, NULL, a->control);
    return NULL;
}

/* Bind A's sockets to inproc://NAME-in, -out and -ctl (each there is) and
 * run zr_proxy on them in a thread. */
static void
s_proxy_start(s_proxy_args_t *a, const char *name)
{
    void *socks[3] = {a->front, a->back, a->control};
    const char *ends[3] = {"in", "out", "ctl"};
    for (int i = 0; i < 3; i++) {
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://%s-%s", name, ends[i]);
        if (socks[i]) {
            ZR_PASS(zmq_bind(socks[i], ep));
        }
    }
    ZR_EQ(pthread_create(&a->thread, NULL, s_run_proxy, a), 0);
}

/* Wait for zr_proxy to return (a->rc), then close A's sockets. */
static void
s_proxy_join(s_proxy_args_t *a)
{
    pthread_join(a->thread, NULL);
    zmq_close(a->front);
    zmq_close(a->back);
    if (a->control) {
        zmq_close(a->control);
    }
}

/* zr_proxy on the caller's own sockets, as zmq_proxy_steerable. */
static void
test_zr_proxy(void)
{
    void *ctx = zmq_ctx_new();
    s_proxy_args_t args = {.front = zrt_socket(ctx, ZMQ_ROUTER),
                           .back = zrt_socket(ctx, ZMQ_DEALER),
                           .control = zrt_socket(ctx, ZMQ_REP),
                           .rc = 1};
    s_proxy_start(&args, "px");
    void *req = zrt_socket(ctx, ZMQ_REQ);
    void *rep = zrt_socket(ctx, ZMQ_REP);
    void *ctl = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://px-in");
    zrt_connect(rep, "inproc://px-out");
    zrt_connect(ctl, "inproc://px-ctl");
    ZR_SEND(req, "hello");
    ZR_RECV(rep, "hello");
    ZR_SEND(rep, "world");
    ZR_RECV(req, "world");
    ZR_SEND(ctl, "TERMINATE");
    ZR_RECV(ctl, "");
    s_proxy_join(&args);
    ZR_EQ(args.rc, 0);
    zmq_close(req);
    zmq_close(rep);
    zmq_close(ctl);
    zmq_ctx_term(ctx);
}

/* zr_proxy returns -1/ETERM when its context is shut down. */
static void
test_zr_proxy_eterm(void)
{
    void *ctx = zmq_ctx_new();
    s_proxy_args_t args = {.front = zrt_socket(ctx, ZMQ_PULL),
                           .back = zrt_socket(ctx, ZMQ_PUSH),
                           .control = NULL,
                           .rc = 1};
    ZR_PASS(zmq_bind(args.front, "inproc://pe-in"));
    ZR_EQ(pthread_create(&args.thread, NULL, s_run_proxy, &args), 0);
    zmq_ctx_shutdown(ctx);
    s_proxy_join(&args);
    ZR_EQ(args.rc, -1);
    zmq_ctx_term(ctx);
    /* Two sockets that cannot exchange anything in any direction. */
    void *ctx2 = zmq_ctx_new();
    void *a = zrt_socket(ctx2, ZMQ_PUSH), *b = zrt_socket(ctx2, ZMQ_PUSH);
    ZR_FAIL(zr_proxy(a, b, NULL, NULL), EINVAL);
    ZR_FAIL(zr_proxy(NULL, b, NULL, NULL), EFAULT);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx2);
}

/* ---------------------------------------------------------------------
 * A ROUTER control socket (zr_proxy on the caller's sockets) and requests
 * that break the protocol's framing, [identity..., "", command, name?]:
 * each gets a defined outcome, an error reply where one can be routed
 * and a counted refusal otherwise, and the relay keeps serving.
 */

#define S_JUNK 40

/* Send FRAMES (N strings, "" for an empty frame) as one message. */
static void
s_send_strs(void *socket, const char *const *frames, int n)
{
    for (int i = 0; i < n; i++) {
        zrt_send_str(socket, frames[i], i + 1 < n ? ZMQ_SNDMORE : 0);
    }
}

/* Receive one whole message into TEXT (N frames at most, each cut to
 * 511 bytes); returns its frame count. */
static int
s_recv_strs(void *socket, char text[][512], int max)
{
    ZR_CHECKF(zrt_readable(socket, ZRT_DEADLINE_MS), "no reply within %d ms",
              ZRT_DEADLINE_MS);
    int n = 0, more = 1;
    size_t len = sizeof more;
    while (more) {
        char buf[512];
        int size = zmq_recv(socket, buf, sizeof buf - 1, 0);
        ZR_CHECKF(size >= 0, "recv: %s", zmq_strerror(errno));
        buf[size < (int) sizeof buf ? size : (int) sizeof buf - 1] = 0;
        if (n < max) {
            memcpy(text[n], buf, sizeof buf);
        }
        n++;
        zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &len);
    }
    return n;
}

/* The next reply on PEER must be exactly the N frames WANT; a frame
 * "ERROR*" matches any text that starts with "ERROR: " and contains
 * WHAT. */
static void
s_expect(void *peer, const char *const *want, int n, const char *what,
         const char *request)
{
    char got[S_JUNK + 8][512];
    int m = s_recv_strs(peer, got, S_JUNK + 8);
    ZR_CHECKF(m == n,
              "%s: a reply of %d frames (first '%s', last '%s'), "
              "want %d",
              request, m, got[0], got[m - 1 < S_JUNK + 7 ? m - 1 : S_JUNK + 7],
              n);
    for (int i = 0; i < n; i++) {
        if (strcmp(want[i], "ERROR*") == 0) {
            ZR_CHECKF(strncmp(got[i], "ERROR: ", 7) == 0 &&
                          strstr(got[i], what),
                      "%s: frame %d is '%s', want an ERROR naming '%s'",
                      request, i, got[i], what);
        }
        else {
            ZR_CHECKF(strcmp(got[i], want[i]) == 0,
                      "%s: frame %d is '%s', want '%s'", request, i, got[i],
                      want[i]);
        }
    }
}

static void
test_router_control_malformed(void)
{
    void *ctx = zmq_ctx_new();
    s_proxy_args_t args = {.front = zrt_socket(ctx, ZMQ_PULL),
                           .back = zrt_socket(ctx, ZMQ_PUSH),
                           .control = zrt_socket(ctx, ZMQ_ROUTER),
                           .rc = 1};
    s_proxy_start(&args, "rm");
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    void *peer = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(push, "inproc://rm-in");
    zrt_connect(pull, "inproc://rm-out");
    zrt_connect(peer, "inproc://rm-ctl");
    ZR_SEND(push, "before");
    ZR_RECV(pull, "before");

    /* Well-formed, as REQ sends it: answered. */
    const char *stats[] = {"", "STATS"};
    s_send_strs(peer, stats, 2);
    char got[S_JUNK + 8][512];
    ZR_EQ(s_recv_strs(peer, got, 2), 2);
    ZR_STREQ(got[0], "");
    ZR_CHECKF(got[1][0] == '{', "STATS: '%s'", got[1]);

    /* No delimiter: the command frame is no envelope to echo back. */
    const char *no_delim[] = {"STATS"};
    const char *error_only[] = {"ERROR*"};
    s_send_strs(peer, no_delim, 1);
    s_expect(peer, error_only, 1, "delimiter", "[STATS]");

    /* The envelope alone, no command. */
    const char *envelope[] = {""};
    const char *enveloped_error[] = {"", "ERROR*"};
    s_send_strs(peer, envelope, 1);
    s_expect(peer, enveloped_error, 2, "unknown command ''", "['']");

    /* Many frames after a good request: the rest is ignored. */
    const char *many[S_JUNK + 3] = {"", "PAUSE", "proxy"};
    for (int i = 3; i < S_JUNK + 3; i++) {
        many[i] = "ignored";
    }
    const char *empty_reply[] = {"", ""};
    s_send_strs(peer, many, S_JUNK + 3);
    s_expect(peer, empty_reply, 2, NULL, "['', PAUSE, proxy, ...]");
    many[1] = "RESUME";
    s_send_strs(peer, many, S_JUNK + 3);
    s_expect(peer, empty_reply, 2, NULL, "['', RESUME, proxy, ...]");

    /* Many frames and no delimiter in any. */
    const char *junk[S_JUNK];
    for (int i = 0; i < S_JUNK; i++) {
        junk[i] = "junk";
    }
    s_send_strs(peer, junk, S_JUNK);
    s_expect(peer, error_only, 1, "delimiter", "[junk x 40]");

    /* An envelope too long to echo: refused and counted, no reply (the
     * next reply is the next request's). */
    const char *deep[24];
    for (int i = 0; i < 21; i++) {
        deep[i] = "hop";
    }
    deep[21] = "";
    deep[22] = "STATS";
    s_send_strs(peer, deep, 23);

    /* Garbage, with and without the delimiter. */
    ZR_PASS(zmq_send(peer, "", 0, ZMQ_SNDMORE));
    ZR_PASS(zmq_send(peer, "\x00\xff\x7f", 3, 0));
    s_expect(peer, enveloped_error, 2, "unknown command '\?\?\?'",
             "['', garbage]");
    ZR_PASS(zmq_send(peer, "\xff\xfe\x00", 3, 0));
    s_expect(peer, error_only, 1, "delimiter", "[garbage]");

    /* It still answers, counted every request, and relays. */
    s_send_strs(peer, stats, 2);
    char empty[8], json[8192];
    ZR_EQ(zmq_recv(peer, empty, sizeof empty, 0), 0);
    int n = zmq_recv(peer, json, sizeof json - 1, 0);
    ZR_CHECK(n > 0 && n < (int) sizeof json - 1);
    json[n] = 0;
    cJSON *o = cJSON_Parse(json);
    cJSON *ctl = cJSON_GetObjectItem(o, "control");
    ZR_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(o, "state")), "running");
    ZR_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(ctl, "commands")), 4);
    ZR_EQ(cJSON_GetNumberValue(cJSON_GetObjectItem(ctl, "errors")), 6);
    cJSON_Delete(o);
    ZR_SEND(push, "after");
    ZR_RECV(pull, "after");
    const char *terminate[] = {"", "TERMINATE"};
    s_send_strs(peer, terminate, 2);
    s_expect(peer, empty_reply, 2, NULL, "['', TERMINATE]");
    s_proxy_join(&args);
    ZR_EQ(args.rc, 0);
    zmq_close(push);
    zmq_close(pull);
    zmq_close(peer);
    zmq_ctx_term(ctx);
}

/* A device's REP control socket: libzmq drops a request without the
 * delimiter before zrelay sees it; the next one is answered. */
static void
test_rep_control_no_delimiter(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, "@inproc://rd-in",
                                  "@inproc://rd-out", s_control);
    void *peer = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(peer, "inproc://ctl");
    ZR_SEND(peer, "TERMINATE"); /* no delimiter: refused, nothing done */
    char got[4][512];
    ZR_EQ(s_recv_strs(peer, got, 4), 1);
    ZR_CHECKF(strstr(got[0], "ERROR: malformed request") &&
                  strstr(got[0], "delimiter"),
              "%s", got[0]);
    const char *stats[] = {"", "STATS"};
    s_send_strs(peer, stats, 2);
    ZR_EQ(s_recv_strs(peer, got, 4), 2);
    ZR_STREQ(got[0], "");
    ZR_CHECKF(strstr(got[1], "\"state\":\"running\""), "%s", got[1]);
    zr_stats_t st;
    zr_device_stats(dev, &st);
    ZR_EQ(st.control_cmds, 1);
    ZR_EQ(st.control_errors, 1);
    zr_device_destroy(&dev);
    zmq_close(peer);
    zmq_ctx_term(ctx);
}

/* A malformed request (no delimiter) from a peer that is gone when the
 * relay reads it must not cost the next client its answer. With a REP
 * control socket it did: libzmq's REP passed the junk envelope to its
 * ROUTER, found no pipe for it, and left the ROUTER inside a "dropped
 * message" whose end was the next reply (router.cpp rollback). */
static void
test_control_junk_from_a_gone_peer(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, "@inproc://jg-in",
                                  "@inproc://jg-out", s_control);
    int answered = 0;
    const int rounds = 20;
    for (int i = 0; i < rounds; i++) {
        void *junk = zrt_socket(ctx, ZMQ_DEALER);
        zrt_connect(junk, "inproc://ctl");
        zrt_send_str(junk, "x", ZMQ_SNDMORE);
        zrt_send_str(junk, "STATS", 0);
        zmq_close(junk); /* gone before the relay answers */
        void *req = zrt_socket(ctx, ZMQ_REQ);
        zrt_connect(req, "inproc://ctl");
        ZR_SEND(req, "STATS");
        if (zrt_readable(req, 2000)) {
            char reply[8192];
            ZR_CHECK(zmq_recv(req, reply, sizeof reply, 0) > 0);
            answered++;
        }
        zmq_close(req);
    }
    printf("     %d of %d requests after a vanished peer's junk answered\n",
           answered, rounds);
    ZR_EQ(answered, rounds);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* On a control socket whose send can block (PAIR, DEALER, ROUTER with
 * ZMQ_ROUTER_MANDATORY: zr_proxy takes any) a peer that sends requests
 * and never reads the replies fills the pipe: the replies it does not
 * take are dropped and counted (control.unsent), and the relay goes on.
 * Before the control rewrite the relay's thread blocked in zmq_send:
 * traffic stopped and this test failed at its deadline. */
static void
test_control_peer_never_reads(void)
{
    void *ctx = zmq_ctx_new();
    s_proxy_args_t args = {.front = zrt_socket(ctx, ZMQ_PULL),
                           .back = zrt_socket(ctx, ZMQ_PUSH),
                           .control = zrt_socket(ctx, ZMQ_PAIR),
                           .rc = 1};
    zrt_setint(args.control, ZMQ_SNDHWM, 2);
    s_proxy_start(&args, "nr");
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    void *peer = zrt_socket(ctx, ZMQ_PAIR);
    zrt_setint(peer, ZMQ_RCVHWM, 2);
    zrt_connect(push, "inproc://nr-in");
    zrt_connect(pull, "inproc://nr-out");
    zrt_connect(peer, "inproc://nr-ctl");
    for (int i = 0; i < 100; i++) {
        ZR_SEND(peer, "STATS"); /* and never read a reply */
    }
    for (int i = 0; i < 100; i++) {
        ZR_SEND(push, "still relayed");
        ZR_RECV(pull, "still relayed");
    }
    ZR_SEND(push, "x"); /* the proxy is still serving */
    ZR_RECV(pull, "x");
    zmq_ctx_shutdown(ctx);
    s_proxy_join(&args);
    zmq_close(push);
    zmq_close(pull);
    zmq_close(peer);
    zmq_ctx_term(ctx);
}

static void
test_device_errors(void)
{
    ZR_FAILP(zr_device_new(NULL, (zr_device_type_t) 99, NULL), EINVAL);
    ZR_EQ(zr_device_type_from_name("queue"), ZR_QUEUE);
    ZR_FAIL(zr_device_type_from_name("qeueu"), EINVAL);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zr_device_new(ctx, ZR_QUEUE, "q");
    ZR_STREQ(zr_device_name(dev), "q");
    ZR_FAIL(zr_device_open(dev), EINVAL);
    ZR_STREQ(zr_device_error(dev), "no frontend endpoint set");
    ZR_FAIL(zr_device_set_frontend(dev, "5559"), EINVAL);
    ZR_CHECKF(strstr(zr_device_error(dev), "endpoint '5559' has no transport"),
              "%s", zr_device_error(dev));
    ZR_FAIL(zr_device_set_sndhwm(dev, -5), EINVAL);
    ZR_FAIL(zr_device_set_linger(dev, -1), EINVAL);

    /* A port that is taken: the error names it, no socket is left. */
    void *holder = zrt_socket(ctx, ZMQ_PULL);
    char taken[128], spec[140];
    zrt_bind(holder, "tcp://127.0.0.1:*", taken, sizeof taken);
    snprintf(spec, sizeof spec, "@%s", taken);
    ZR_PASS(zr_device_set_frontend(dev, "@inproc://de-in"));
    ZR_PASS(zr_device_set_backend(dev, spec));
    ZR_FAIL(zr_device_open(dev), EADDRINUSE);
    ZR_CHECKF(strstr(zr_device_error(dev), "cannot bind tcp://127.0.0.1:") &&
                  strstr(zr_device_error(dev), "Address already in use"),
              "%s", zr_device_error(dev));
    /* The frontend it had bound is released (libzmq does that as the
     * closed socket is reaped): another socket can bind it. */
    void *again = zrt_socket(ctx, ZMQ_PULL);
    ZR_WAIT(zmq_bind(again, "inproc://de-in") == 0, ZRT_DEADLINE_MS);
    zmq_close(again);
    zr_device_destroy(&dev);
    ZR_CHECK(dev == NULL);
    zr_device_destroy(&dev);
    zmq_close(holder);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"inproc: steerable commands", test_steerable_commands},
    {"inproc: commands for another device are refused", test_named_commands},
    {"inproc: pause and resume lose nothing", test_pause_resume},
    {"inproc: capture sees every frame", test_capture_every_frame},
    {"inproc: a stalled capture listener costs counted drops",
     test_capture_stalled_listener},
    {"inproc: zr_proxy as zmq_proxy_steerable", test_zr_proxy},
    {"inproc: zr_proxy ends on context shutdown", test_zr_proxy_eterm},
    {"inproc: device errors name their cause", test_device_errors},
    {"inproc: ROUTER control, malformed requests",
     test_router_control_malformed},
    {"inproc: device control, no delimiter", test_rep_control_no_delimiter},
    {"inproc: junk from a vanished peer costs nobody an answer",
     test_control_junk_from_a_gone_peer},
    {"inproc: a control peer that never reads does not stall the relay",
     test_control_peer_never_reads},
    {NULL, NULL},
};
ZR_MAIN
