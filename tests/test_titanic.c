/* test_titanic.c - the majordomo's durable requests (RFC 9 Titanic, LMDB):
 * acknowledged only once committed, 300 then 200, 400, close, group
 * commit against one commit each, kill -9 and a restart (the zrelay
 * binary), a full map and a full disk (a small tmpfs). The crash test
 * with a thousand requests is tests/interop/titanic_crash.py.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"
#include "zrtest.h"
#include "zrtest_proc.h"

#include <sys/mount.h>
#include <sys/stat.h>

#define S_FRAMES 16
#define S_FRAME 80

/* Send an MDP/0.2 request for SVC with the body frames of a NULL-ended
 * list. */
static void
s_request(void *socket, const char *svc, const char *const *body)
{
    ZR_SENDMORE(socket, "MDPC02");
    ZR_SENDMORE(socket, "\x01");
    zmq_send(socket, svc, strlen(svc), ZMQ_SNDMORE);
    for (; *body; body++) {
        ZR_CHECK(zmq_send(socket, *body, strlen(*body),
                          body[1] ? ZMQ_SNDMORE : 0) >= 0);
    }
}

/* A whole message within the deadline, its frames as strings (each cut
 * to S_FRAME - 1 bytes); how many. */
static size_t
s_recv(void *socket, char out[][S_FRAME])
{
    ZR_CHECKF(zrt_readable(socket, ZRT_DEADLINE_MS), "no message within %d ms",
              ZRT_DEADLINE_MS);
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        ZR_CHECK(zmq_msg_recv(&f, socket, 0) >= 0);
        if (n < S_FRAMES) {
            size_t len =
                zmq_msg_size(&f) < S_FRAME - 1 ? zmq_msg_size(&f) : S_FRAME - 1;
            memcpy(out[n], zmq_msg_data(&f), len);
            out[n][len] = 0;
            n++;
        }
        more = zmq_msg_more(&f);
        zmq_msg_close(&f);
    }
    return n;
}

/* A Titanic call from an MDP/0.2 client: the reply's frames after
 * [MDPC02, FINAL, SVC] go to OUT (OUT[0] the status); how many. */
static size_t
s_call(void *client, const char *svc, const char *const *body,
       char out[][S_FRAME])
{
    char f[S_FRAMES][S_FRAME];
    s_request(client, svc, body);
    size_t n = s_recv(client, f);
    ZR_CHECKF(n >= 4, "a reply of %zu frames", n);
    ZR_STREQ(f[0], "MDPC02");
    ZR_STREQ(f[1], "\x03");
    ZR_STREQ(f[2], svc);
    for (size_t i = 3; i < n; i++) {
        memcpy(out[i - 3], f[i], S_FRAME);
    }
    return n - 3;
}

/* titanic.reply for UUID: its status, the first reply frame in BODY. */
static void
s_poll(void *client, const char *uuid, char *status, char *body)
{
    char r[S_FRAMES][S_FRAME];
    size_t n = s_call(client, "titanic.reply", (const char *[]){uuid, NULL}, r);
    strcpy(status, r[0]);
    strcpy(body, n > 1 ? r[1] : "");
}

/* A fresh directory under /tmp into DIR. */
static void
s_tempdir(char *dir)
{
    strcpy(dir, "/tmp/zrt-titanic-XXXXXX");
    ZR_CHECK(mkdtemp(dir) != NULL);
}

/* Remove DIR and the files in it (the store's, no subdirectories). */
static void
s_rmdir(const char *dir)
{
    static const char *const files[] = {"data.mdb", "lock.mdb", "titanic.lock"};
    char path[600];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static zr_device_t *
s_broker(void *ctx, const char *ep, const char *dir, const char *const *kv)
{
    zr_device_t *dev = zr_device_new(ctx, ZR_MAJORDOMO, "ti");
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, ep));
    ZR_PASS(zr_device_set(dev, "titanic", dir));
    for (; kv && *kv; kv += 2) {
        ZR_PASS(zr_device_set(dev, kv[0], kv[1]));
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

static double
s_stat(zr_device_t *dev, const char *a, const char *b)
{
    return b ? zrt_stat(dev, "titanic", a, b, NULL)
             : zrt_stat(dev, "titanic", a, NULL);
}

/* titanic.request, the acknowledgement after the commit; titanic.reply
 * 300 until a worker's reply (PARTIAL and FINAL, stored as one) is
 * stored, then 200; 400 for what is unknown or malformed; close. */
static void
test_protocol(void)
{
    char dir[64];
    s_tempdir(dir);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@inproc://ti", dir, NULL);
    void *c = zrt_socket(ctx, ZMQ_DEALER);
    void *w = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(c, "inproc://ti");
    zrt_connect(w, "inproc://ti");
    char r[S_FRAMES][S_FRAME], status[S_FRAME], body[S_FRAME];
    ZR_EQ(s_call(c, "titanic.request", (const char *[]){"echo", "hi", NULL}, r),
          2);
    ZR_STREQ(r[0], "200");
    ZR_EQ(strlen(r[1]), 32);
    /* Answered only after its commit. */
    ZR_EQ(s_stat(dev, "requests", "stored"), 1);
    ZR_CHECK(s_stat(dev, "commits", NULL) >= 1);
    char uuid[S_FRAME];
    strcpy(uuid, r[1]);
    s_poll(c, uuid, status, body);
    ZR_STREQ(status, "300");
    ZR_EQ(s_stat(dev, "requests", "pending"), 1);
    /* A 0.2 worker: the request, its "client" the UUID. */
    ZR_SENDMORE(w, "MDPW02");
    ZR_SENDMORE(w, "\x01");
    ZR_SEND(w, "echo");
    ZR_EQ(s_recv(w, r), 5);
    ZR_STREQ(r[1], "\x02");
    ZR_STREQ(r[2], uuid);
    ZR_STREQ(r[4], "hi");
    ZR_SENDMORE(w, "MDPW02");
    ZR_SENDMORE(w, "\x03"); /* PARTIAL */
    ZR_SENDMORE(w, uuid);
    ZR_SENDMORE(w, "");
    ZR_SEND(w, "HI");
    ZR_SENDMORE(w, "MDPW02");
    ZR_SENDMORE(w, "\x04"); /* FINAL */
    ZR_SENDMORE(w, uuid);
    ZR_SENDMORE(w, "");
    ZR_SEND(w, "THERE");
    ZR_WAIT(s_stat(dev, "replies", "stored") == 1, ZRT_DEADLINE_MS);
    ZR_EQ(s_call(c, "titanic.reply", (const char *[]){uuid, NULL}, r), 3);
    ZR_STREQ(r[0], "200");
    ZR_STREQ(r[1], "HI");
    ZR_STREQ(r[2], "THERE");
    /* Idempotent, and the UUID in lower case is the same one. */
    for (char *p = uuid; *p; p++) {
        *p = (char) (*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    }
    s_poll(c, uuid, status, body);
    ZR_STREQ(status, "200");
    ZR_STREQ(body, "HI");
    ZR_EQ(s_stat(dev, "requests", "pending"), 0);
    /* Unknown, malformed, refused. */
    s_poll(c, "0123456789ABCDEF0123456789ABCDEF", status, body);
    ZR_STREQ(status, "400");
    s_poll(c, "not-a-uuid", status, body);
    ZR_STREQ(status, "400");
    ZR_CHECK(strncmp(body, "ZRELAY-ERROR invalid", 20) == 0);
    s_call(c, "titanic.request", (const char *[]){"mmi.service", "x", NULL}, r);
    ZR_STREQ(r[0], "400");
    s_call(c, "titanic.request", (const char *[]){"titanic.reply", "x", NULL},
           r);
    ZR_STREQ(r[0], "400");
    s_call(c, "titanic.request", (const char *[]){"echo", NULL}, r);
    ZR_STREQ(r[0], "400"); /* no body */
    s_call(c, "titanic.nothing", (const char *[]){"x", NULL}, r);
    ZR_STREQ(r[0], "400");
    ZR_EQ(s_stat(dev, "refused", "invalid"), 5);
    ZR_EQ(s_stat(dev, "reply_answers", "unknown"), 1);
    ZR_EQ(s_stat(dev, "reply_answers", "pending"), 1);
    ZR_EQ(s_stat(dev, "reply_answers", "fetched"), 2);
    /* Close: gone, and closing again (or the unknown) is 200 too. */
    ZR_EQ(s_call(c, "titanic.close", (const char *[]){uuid, NULL}, r), 1);
    ZR_STREQ(r[0], "200");
    s_poll(c, uuid, status, body);
    ZR_STREQ(status, "400");
    s_call(c, "titanic.close", (const char *[]){uuid, NULL}, r);
    ZR_STREQ(r[0], "200");
    ZR_EQ(s_stat(dev, "closed", NULL), 2);
    ZR_CHECK(s_stat(dev, "bytes", NULL) > 0);
    /* A worker may not offer titanic.*: the broker serves them. */
    void *w2 = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(w2, "inproc://ti");
    ZR_SENDMORE(w2, "MDPW02");
    ZR_SENDMORE(w2, "\x01");
    ZR_SEND(w2, "titanic.request");
    ZR_EQ(s_recv(w2, r), 2);
    ZR_STREQ(r[1], "\x06"); /* DISCONNECT */
    zr_device_destroy(&dev);
    zmq_close(c);
    zmq_close(w);
    zmq_close(w2);
    zmq_ctx_term(ctx);
    s_rmdir(dir);
}

/* A worker that sent a PARTIAL and then left: the request goes to
 * another worker, and only that worker's reply is stored (not the gone
 * worker's PARTIAL before it); retried counts it. */
static void
test_partial_then_gone(void)
{
    char dir[64];
    s_tempdir(dir);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@inproc://ti-gone", dir, NULL);
    void *c = zrt_socket(ctx, ZMQ_DEALER);
    void *w1 = zrt_socket(ctx, ZMQ_DEALER);
    void *w2 = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(c, "inproc://ti-gone");
    zrt_connect(w1, "inproc://ti-gone");
    zrt_connect(w2, "inproc://ti-gone");
    char r[S_FRAMES][S_FRAME], uuid[S_FRAME];
    s_call(c, "titanic.request", (const char *[]){"echo", "hi", NULL}, r);
    ZR_STREQ(r[0], "200");
    strcpy(uuid, r[1]);
    ZR_SENDMORE(w1, "MDPW02");
    ZR_SENDMORE(w1, "\x01");
    ZR_SEND(w1, "echo");
    ZR_EQ(s_recv(w1, r), 5);
    ZR_SENDMORE(w1, "MDPW02");
    ZR_SENDMORE(w1, "\x03"); /* PARTIAL */
    ZR_SENDMORE(w1, uuid);
    ZR_SENDMORE(w1, "");
    ZR_SEND(w1, "from the gone one");
    ZR_SENDMORE(w1, "MDPW02");
    ZR_SEND(w1, "\x06"); /* DISCONNECT */
    ZR_SENDMORE(w2, "MDPW02");
    ZR_SENDMORE(w2, "\x01");
    ZR_SEND(w2, "echo");
    ZR_EQ(s_recv(w2, r), 5);
    ZR_STREQ(r[2], uuid);
    ZR_SENDMORE(w2, "MDPW02");
    ZR_SENDMORE(w2, "\x04"); /* FINAL */
    ZR_SENDMORE(w2, uuid);
    ZR_SENDMORE(w2, "");
    ZR_SEND(w2, "whole");
    ZR_WAIT(s_stat(dev, "replies", "stored") == 1, ZRT_DEADLINE_MS);
    size_t n = s_call(c, "titanic.reply", (const char *[]){uuid, NULL}, r);
    ZR_STREQ(r[0], "200");
    ZR_STREQ(r[1], "whole");
    ZR_EQ(n, 2);
    ZR_EQ(zrt_stat(dev, "majordomo", "requests", "retried", NULL), 1);
    zr_device_destroy(&dev);
    zmq_close(c);
    zmq_close(w1);
    zmq_close(w2);
    zmq_ctx_term(ctx);
    s_rmdir(dir);
}

/* N requests read in one burst (sent while the device was paused) share
 * commits (group); with titanic_commit = each, one commit each. */
static double
s_burst(const char *mode, int n)
{
    char dir[64];
    s_tempdir(dir);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@inproc://ti-burst", dir,
                                (const char *[]){"titanic_commit", mode, NULL});
    void *c = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(c, "inproc://ti-burst");
    zr_device_pause(dev);
    for (int i = 0; i < n; i++) {
        s_request(c, "titanic.request", (const char *[]){"echo", "x", NULL});
    }
    zr_device_resume(dev);
    char r[S_FRAMES][S_FRAME];
    for (int i = 0; i < n; i++) {
        ZR_EQ(s_recv(c, r), 5);
        ZR_STREQ(r[3], "200");
    }
    ZR_EQ(s_stat(dev, "requests", "acknowledged"), n);
    ZR_EQ(s_stat(dev, "commit_ops", NULL), n);
    double commits = s_stat(dev, "commits", NULL);
    printf("     titanic_commit = %s: %d requests, %.0f commits\n", mode, n,
           commits);
    zr_device_destroy(&dev);
    zmq_close(c);
    zmq_ctx_term(ctx);
    s_rmdir(dir);
    return commits;
}

static void
test_group_commit(void)
{
    ZR_EQ(s_burst("each", 50), 50);
    ZR_CHECK(s_burst("group", 50) < 50);
}

/* `zrelay majordomo --titanic DIR` until "ready"; its tcp endpoint into
 * EP (when EP is empty, it binds port 0 and EP gets the port). */
static zrt_proc_t *
s_start(const char *dir, char *ep)
{
    char bind[300];
    snprintf(bind, sizeof bind, "@%s", *ep ? ep : "tcp://127.0.0.1:*");
    const char *argv[] = {ZRELAY_BIN,  "majordomo", bind,
                          "--titanic", dir,         NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    for (;;) {
        char line[512], address[256];
        ZR_CHECKF(zrt_proc_read_line(p, line, sizeof line, ZRT_DEADLINE_MS),
                  "zrelay majordomo printed no 'ready'; stderr:\n%s",
                  zrt_proc_stderr(p));
        if (strcmp(line, "ready") == 0) {
            break;
        }
        if (sscanf(line, "frontend bind %255s", address) == 1) {
            strcpy(ep, address);
        }
    }
    return p;
}

/* kill -9 with requests acknowledged and none answered: after a restart
 * they wait for their service again and are served; kill -9 again: the
 * replies are still there, and no request goes out a second time. */
static void
test_kill_restart(void)
{
    char dir[64], ep[300] = "";
    s_tempdir(dir);
    zrt_proc_t *p = s_start(dir, ep);
    void *ctx = zmq_ctx_new();
    void *c = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(c, ep);
    char uuids[5][S_FRAME], r[S_FRAMES][S_FRAME], status[S_FRAME],
        body[S_FRAME];
    for (int i = 0; i < 5; i++) {
        char text[16];
        snprintf(text, sizeof text, "req-%d", i);
        s_call(c, "titanic.request", (const char *[]){"echo", text, NULL}, r);
        ZR_STREQ(r[0], "200");
        strcpy(uuids[i], r[1]);
    }
    zrt_proc_signal(p, SIGKILL);
    zrt_proc_wait(p, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&p);
    p = s_start(dir, ep);
    /* The five wait for a worker of echo. */
    s_call(c, "mmi.workers", (const char *[]){"echo", NULL}, r);
    ZR_STREQ(r[0], "200");
    ZR_CHECKF(strstr(r[1], "\"waiting\":5") != NULL, "mmi.workers: %s", r[1]);
    for (int i = 0; i < 5; i++) {
        s_poll(c, uuids[i], status, body);
        ZR_STREQ(status, "300");
    }
    void *w = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(w, ep);
    ZR_SENDMORE(w, "");
    ZR_SENDMORE(w, "MDPW01");
    ZR_SENDMORE(w, "\x01");
    ZR_SEND(w, "echo");
    for (int i = 0; i < 5; i++) {
        ZR_EQ(s_recv(w, r), 6);
        ZR_STREQ(r[2], "\x02");
        ZR_SENDMORE(w, "");
        ZR_SENDMORE(w, "MDPW01");
        ZR_SENDMORE(w, "\x03");
        ZR_SENDMORE(w, r[3]);
        ZR_SENDMORE(w, "");
        char text[S_FRAME + 8];
        snprintf(text, sizeof text, "re:%s", r[5]);
        ZR_SEND(w, text);
    }
    /* Each reply is stored; then the broker dies again. */
    for (int i = 0; i < 5; i++) {
        int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
        for (;;) {
            s_poll(c, uuids[i], status, body);
            if (strcmp(status, "200") == 0) {
                break;
            }
            ZR_STREQ(status, "300");
            ZR_CHECKF(zrt_now_ms() < end, "no reply stored for %s", uuids[i]);
            zmq_poll(NULL, 0, 10);
        }
        char want[32];
        snprintf(want, sizeof want, "re:req-%d", i);
        ZR_STREQ(body, want);
    }
    zrt_proc_signal(p, SIGKILL);
    zrt_proc_wait(p, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&p);
    p = s_start(dir, ep);
    s_call(c, "mmi.workers", (const char *[]){"echo", NULL}, r);
    ZR_STREQ(r[1], "{}"); /* nothing waits: every one has its reply */
    for (int i = 0; i < 5; i++) {
        s_poll(c, uuids[i], status, body);
        ZR_STREQ(status, "200");
    }
    /* A second broker on the same directory is refused. */
    char ep2[300] = "";
    snprintf(ep2, sizeof ep2, "@tcp://127.0.0.1:*");
    const char *argv[] = {ZRELAY_BIN, "majordomo", ep2, "--titanic", dir, NULL};
    zrt_proc_t *second = zrt_proc_start(argv, NULL);
    zrt_proc_wait(second, ZRT_DEADLINE_MS);
    ZR_CHECKF(strstr(zrt_proc_stderr(second), "in use by another broker"),
              "stderr: %s", zrt_proc_stderr(second));
    zrt_proc_destroy(&second);
    zrt_proc_signal(p, SIGTERM);
    zrt_proc_wait(p, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&p);
    zmq_close(c);
    zmq_close(w);
    zmq_ctx_term(ctx);
    s_rmdir(dir);
}

/* Requests of BYTES each until one is refused: it gets "500" and a
 * reason starting with WHY; the broker still answers. How many were
 * acknowledged (their UUIDs into UUIDS, at most MAX). */
static int
s_fill(zr_device_t *dev, void *c, size_t bytes, const char *why,
       char uuids[][S_FRAME], int max, char *reason)
{
    char *big = malloc(bytes + 1);
    memset(big, 'x', bytes);
    big[bytes] = 0;
    char r[S_FRAMES][S_FRAME];
    int acked = 0;
    for (int i = 0; i < 10000; i++) {
        size_t n = s_call(c, "titanic.request",
                          (const char *[]){"echo", big, NULL}, r);
        if (strcmp(r[0], "200") == 0) {
            if (acked < max) {
                strcpy(uuids[acked], r[1]);
            }
            acked++;
            continue;
        }
        ZR_STREQ(r[0], "500");
        ZR_EQ(n, 2);
        ZR_CHECKF(strncmp(r[1], why, strlen(why)) == 0, "reason '%s'", r[1]);
        strcpy(reason, r[1]);
        break;
    }
    free(big);
    ZR_CHECKF(acked > 0 && acked < 10000, "%d acknowledged", acked);
    ZR_EQ(s_stat(dev, "refused", "full"), 1);
    ZR_EQ(s_stat(dev, "requests", "acknowledged"), acked);
    s_call(c, "mmi.service", (const char *[]){"echo", NULL}, r);
    ZR_STREQ(r[0], "404");
    return acked;
}

/* titanic_max_bytes: a request beyond it is refused with 500, not
 * acknowledged; a close makes room again. */
static void
test_map_full(void)
{
    char dir[64];
    s_tempdir(dir);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev =
        s_broker(ctx, "@inproc://ti-full", dir,
                 (const char *[]){"titanic_max_bytes", "256k", NULL});
    void *c = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(c, "inproc://ti-full");
    char uuids[64][S_FRAME], r[S_FRAMES][S_FRAME];
    char why[S_FRAME];
    int acked = s_fill(dev, c, 16 * 1024, "ZRELAY-ERROR full titanic_max_bytes",
                       uuids, 64, why);
    printf("     256k: %d requests of 16k acknowledged, then 500\n", acked);
    ZR_CHECK(acked <= 16);
    for (int i = 0; i < acked && i < 64; i++) {
        s_call(c, "titanic.close", (const char *[]){uuids[i], NULL}, r);
        ZR_STREQ(r[0], "200");
    }
    s_call(c, "titanic.request", (const char *[]){"echo", "small", NULL}, r);
    ZR_STREQ(r[0], "200");
    zr_device_destroy(&dev);
    zmq_close(c);
    zmq_ctx_term(ctx);
    s_rmdir(dir);
}

/* The disk full (a 1 MiB tmpfs): the same refusal, the broker goes on. */
static void
test_disk_full(void)
{
    char dir[64];
    s_tempdir(dir);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=1m") != 0) {
        int e = errno;
        rmdir(dir);
        zrt_skip("cannot mount a tmpfs on %s (%s): needs root and "
                 "CAP_SYS_ADMIN",
                 dir, strerror(e));
    }
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = s_broker(ctx, "@inproc://ti-disk", dir, NULL);
    void *c = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(c, "inproc://ti-disk");
    char uuids[64][S_FRAME], r[S_FRAMES][S_FRAME];
    char why[S_FRAME];
    int acked = s_fill(dev, c, 64 * 1024, "ZRELAY-ERROR full ", uuids, 64, why);
    printf("     1M tmpfs: %d requests of 64k acknowledged, then 500 '%s'\n",
           acked, why);
    /* What was acknowledged is still there; a close makes room. */
    for (int i = 0; i < acked && i < 64; i++) {
        s_call(c, "titanic.reply", (const char *[]){uuids[i], NULL}, r);
        ZR_STREQ(r[0], "300");
    }
    for (int i = 0; i < acked && i < 64; i++) {
        s_call(c, "titanic.close", (const char *[]){uuids[i], NULL}, r);
        ZR_STREQ(r[0], "200");
    }
    s_call(c, "titanic.request", (const char *[]){"echo", "small", NULL}, r);
    ZR_STREQ(r[0], "200");
    zr_device_destroy(&dev);
    zmq_close(c);
    zmq_ctx_term(ctx);
    s_rmdir(dir);
    umount(dir);
    rmdir(dir);
}

/* Only a majordomo takes titanic; a directory that cannot be opened
 * stops the start, naming it and why. */
static void
test_refused(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *q = zr_device_new(ctx, ZR_QUEUE, "q");
    ZR_FAIL(zr_device_set(q, "titanic", "/tmp"), EINVAL);
    ZR_CHECKF(strstr(zr_device_error(q), "titanic"), "error: %s",
              zr_device_error(q));
    zr_device_destroy(&q);
    char path[] = "/tmp/zrt-titanic-file-XXXXXX";
    int fd = mkstemp(path);
    ZR_CHECK(fd >= 0);
    close(fd);
    zr_device_t *dev = zr_device_new(ctx, ZR_MAJORDOMO, "ti-bad");
    ZR_PASS(zr_device_set_frontend(dev, "@inproc://ti-bad"));
    ZR_PASS(zr_device_set(dev, "titanic", path));
    ZR_EQ(zr_device_start(dev), -1);
    ZR_CHECKF(strstr(zr_device_error(dev), path) &&
                  strstr(zr_device_error(dev), "Not a directory"),
              "error: %s", zr_device_error(dev));
    zr_device_destroy(&dev);
    unlink(path);
    zr_config_t *cfg = zr_config_parse(
        "[queue q]\nfrontend = @inproc://a\nbackend = @inproc://b\n"
        "titanic = /tmp/x\n",
        "t.conf");
    ZR_CHECK(cfg != NULL);
    ZR_EQ(zr_config_error_count(cfg), 1);
    zr_config_destroy(&cfg);
    /* A majordomo takes the three keys; the values are checked. */
    cfg = zr_config_parse("[majordomo m]\nfrontend = @inproc://m\n"
                          "titanic = /tmp/x\ntitanic_max_bytes = 64M\n"
                          "titanic_commit = each\n",
                          "t.conf");
    ZR_CHECK(cfg != NULL);
    ZR_EQ(zr_config_error_count(cfg), 0);
    zr_config_destroy(&cfg);
    cfg = zr_config_parse("[majordomo m]\nfrontend = @inproc://m\n"
                          "titanic_max_bytes = 1k\ntitanic_commit = some\n",
                          "t.conf");
    ZR_CHECK(cfg != NULL);
    ZR_EQ(zr_config_error_count(cfg), 2);
    zr_config_destroy(&cfg);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"request, reply 300 then 200, 400, close", test_protocol},
    {"group commit against one commit each", test_group_commit},
    {"a PARTIAL from a worker gone before its FINAL", test_partial_then_gone},
    {"kill -9 and restart: acknowledged requests served", test_kill_restart},
    {"titanic_max_bytes: refused with 500", test_map_full},
    {"a full disk (tmpfs): refused with 500", test_disk_full},
    {"refused on a queue, a directory that cannot be opened", test_refused},
    {NULL, NULL},
};
ZR_MAIN
