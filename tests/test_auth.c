/* test_auth.c - certificates, the device's security options, and the one
 * ZAP handler a context's devices share (auth.c).
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under /tmp, in DIR. */
static void
s_tmpdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/zrt-auth-XXXXXX");
    ZR_CHECK(mkdtemp(dir) != NULL);
}

static void
test_keygen(void)
{
    char dir[64], name[128], secret[160], err[600];
    s_tmpdir(dir, sizeof dir);
    snprintf(name, sizeof name, "%s/relay", dir);
    snprintf(secret, sizeof secret, "%s_secret", name);
    ZR_PASS(zr_cert_generate(name, false, err, sizeof err));
    struct stat st;
    ZR_PASS(stat(secret, &st));
    ZR_EQ(st.st_mode & 0777, 0600);
    char key[41], again[41];
    ZR_PASS(zr_cert_public_text(name, key, err, sizeof err));
    ZR_EQ(strlen(key), 40);
    /* No overwrite without force; the files stay as they were. */
    err[0] = 0;
    ZR_FAIL(zr_cert_generate(name, false, err, sizeof err), EEXIST);
    ZR_CHECKF(strstr(err, "--force"), "error '%s'", err);
    ZR_PASS(zr_cert_public_text(name, again, err, sizeof err));
    ZR_STREQ(again, key);
    /* With force: a new pair, the secret still 0600. */
    ZR_PASS(chmod(secret, 0644));
    ZR_PASS(zr_cert_generate(name, true, err, sizeof err));
    ZR_PASS(zr_cert_public_text(name, again, err, sizeof err));
    ZR_CHECK(strcmp(again, key) != 0);
    ZR_PASS(stat(secret, &st));
    ZR_EQ(st.st_mode & 0777, 0600);
    /* Never through a symbolic link, not even with force; no secret is
     * left without its public half (ATTACK14). */
    unlink(name);
    unlink(secret);
    char target[200];
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    ZR_PASS(symlink(target, name));
    err[0] = 0;
    ZR_CHECK(zr_cert_generate(name, true, err, sizeof err) != 0);
    ZR_CHECKF(strstr(err, "symbolic link"), "error '%s'", err);
    ZR_CHECK(lstat(target, &st) != 0);
    ZR_CHECK(lstat(secret, &st) != 0);
    unlink(name);
    rmdir(dir);
}

static void
test_refuse_open(void)
{
    char dir[64], name[128], err[600];
    s_tmpdir(dir, sizeof dir);
    snprintf(name, sizeof name, "%s/relay", dir);
    ZR_PASS(zr_cert_generate(name, false, err, sizeof err));
    zr_device_t *dev = zr_device_new(NULL, ZR_STREAMER, "s");
    ZR_PASS(zr_device_set_frontend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set_backend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set(dev, "curve_secret", name));
    ZR_CHECK(zr_device_open(dev) == -1);
    ZR_CHECKF(strstr(zr_device_error(dev), "--curve-allow-any") &&
                  strstr(zr_device_error(dev), "--curve-allow DIR"),
              "error '%s'", zr_device_error(dev));
    /* A missing certificate says which file. */
    ZR_PASS(zr_device_set(dev, "curve_allow_any", "true"));
    ZR_PASS(zr_device_set(dev, "curve_secret", "/nonexistent/cert"));
    ZR_CHECK(zr_device_open(dev) == -1);
    ZR_CHECKF(strstr(zr_device_error(dev), "/nonexistent/cert"), "error '%s'",
              zr_device_error(dev));
    /* With both: it opens. */
    ZR_PASS(zr_device_set(dev, "curve_secret", name));
    ZR_PASS(zr_device_open(dev));
    zr_device_destroy(&dev);
    char secret[160];
    snprintf(secret, sizeof secret, "%s_secret", name);
    unlink(name);
    unlink(secret);
    rmdir(dir);
}

static void
test_addresses(void)
{
    zr_device_t *dev = zr_device_new(NULL, ZR_STREAMER, "s");
    const char *good[] = {"127.0.0.1", "10.0.0.0/8",       "::1",
                          "fd00::/8",  "1.2.3.4/32, ::/0", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (zr_device_set(dev, "allow", good[i]) != 0) {
            ZR_FAILF("allow %s: %s", good[i], zr_device_error(dev));
        }
    }
    const char *bad[] = {"10.0.0.0/33", "::1/129", "host.example",    "1.2.3",
                         "10.0.0.0/",   ",",       "1.2.3.4,,5.6.7.8"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ZR_CHECKF(zr_device_set(dev, "deny", bad[i]) == -1,
                  "deny '%s' accepted", bad[i]);
        ZR_CHECKF(strstr(zr_device_error(dev), "address"), "error '%s'",
                  zr_device_error(dev));
    }
    zr_device_destroy(&dev);
}

/* A PUSH to the frontend of DEV; true when its message reaches PULL. */
static void *
s_push(void *ctx, zr_device_t *dev, bool ipv6)
{
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_setint(push, ZMQ_RECONNECT_IVL, -1);
    zrt_setint(push, ZMQ_IPV6, ipv6);
    zrt_connect(push, zrt_device_endpoint(dev, 0));
    return push;
}

static zr_device_t *
s_streamer(void *ctx, const char *name, const char *key, const char *value)
{
    zr_device_t *dev = zr_device_new(ctx, ZR_STREAMER, name);
    ZR_PASS(zr_device_set_frontend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set_backend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set(dev, "secure_side", "frontend"));
    if (zr_device_set(dev, key, value) != 0) {
        ZR_FAILF("%s: %s", key, zr_device_error(dev));
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

/* Devices of one context share one handler, each with its own policy;
 * it stops with the last, and a later device starts a new one. */
static void
test_shared_handler(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *open = s_streamer(ctx, "open", "allow", "127.0.0.0/8");
    zr_device_t *shut = s_streamer(ctx, "shut", "deny", "127.0.0.1/8");
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, zrt_device_endpoint(open, 1));
    void *in = s_push(ctx, open, false);
    ZR_SEND(in, "in");
    ZR_RECV(pull, "in");
    void *out = s_push(ctx, shut, false);
    ZR_SEND(out, "out");
    ZR_WAIT(zrt_stat(shut, "auth", "denied", "address", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(open, "auth", "denied", "address", NULL), 0);
    ZR_EQ(zrt_stat(open, "auth", "allowed", NULL), 1); /* the PUSH */
    /* The first device gone, the handler still serves the other. */
    zr_device_destroy(&open);
    void *out2 = s_push(ctx, shut, false);
    ZR_WAIT(zrt_stat(shut, "auth", "denied", "address", NULL) == 2,
            ZRT_DEADLINE_MS);
    zr_device_destroy(&shut);
    /* And a new one binds the handler's endpoint again. */
    zr_device_t *again = s_streamer(ctx, "again", "deny", "127.0.0.1");
    void *out3 = s_push(ctx, again, false);
    ZR_WAIT(zrt_stat(again, "auth", "denied", "address", NULL) == 1,
            ZRT_DEADLINE_MS);
    zr_device_destroy(&again);
    zmq_close(pull);
    zmq_close(in);
    zmq_close(out);
    zmq_close(out2);
    zmq_close(out3);
    zmq_ctx_term(ctx);
}

/* A device with no policy neither has nor needs a ZAP handler: NULL
 * peers connect with no domain, its auth counters read zero. */
static void
s_no_guard(zr_device_t *dev)
{
    ZR_PASS(zr_device_set(dev, "refuse_unversioned", "false"));
}

/* A NULL device with refuse_unversioned off starts no handler. */
static void
test_open_device(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, "@tcp://127.0.0.1:*",
                                  "@tcp://127.0.0.1:*", s_no_guard);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, zrt_device_endpoint(dev, 1));
    void *push = s_push(ctx, dev, false);
    ZR_SEND(push, "x");
    ZR_RECV(pull, "x");
    ZR_EQ(zrt_stat(dev, "auth", "allowed", NULL), 0);
    /* The handler's endpoint is free: nobody bound it. (Only with
     * refuse_unversioned off: by default a NULL device has a handler.) */
    void *zap = zrt_socket(ctx, ZMQ_REP);
    ZR_PASS(zmq_bind(zap, "inproc://zeromq.zap.01"));
    zmq_close(zap);
    zr_device_destroy(&dev);
    zmq_close(pull);
    zmq_close(push);
    zmq_ctx_term(ctx);
}

/* Refused over max_connections at the ZAP handshake, a connection fails
 * its handshake, which the monitor counts: it is a max_connections
 * refusal, not an auth.denied.protocol one (which counted each, once
 * the check moved to the handshake). */
static void
s_max_one(zr_device_t *dev)
{
    ZR_PASS(zr_device_set(dev, "allow", "127.0.0.0/8"));
    ZR_PASS(zr_device_set(dev, "max_connections", "1"));
}

static void
test_over_max_not_protocol(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_STREAMER, "@tcp://127.0.0.1:*",
                                  "@tcp://127.0.0.1:*", s_max_one);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, zrt_device_endpoint(dev, 1));
    void *in = s_push(ctx, dev, false);
    ZR_SEND(in, "in");
    ZR_RECV(pull, "in");
    void *over[3];
    for (int i = 0; i < 3; i++) {
        over[i] = s_push(ctx, dev, false);
    }
    ZR_WAIT(zrt_stat(dev, "frontend", "connections", "refused",
                     "max_connections", NULL) == 3,
            ZRT_DEADLINE_MS);
    ZR_WAIT(
        zrt_stat(dev, "frontend", "connections", "handshake_failed", NULL) == 3,
        ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(dev, "auth", "denied", "protocol", NULL), 0);
    /* The PUSH and the PULL; none of the three over the limit. */
    ZR_EQ(zrt_stat(dev, "auth", "allowed", NULL), 2);
    zr_device_destroy(&dev);
    for (int i = 0; i < 3; i++) {
        zmq_close(over[i]);
    }
    zmq_close(in);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

/* Two devices of one name in one context (library use) each have their
 * own ZAP domain, policy and count: one client on each gets in with
 * max_connections 1, a second on one is refused there only. */
static zr_device_t *
s_named_max_one(void *ctx)
{
    zr_device_t *dev = zr_device_new(ctx, ZR_STREAMER, "same");
    ZR_PASS(zr_device_set_frontend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set_backend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set(dev, "max_connections", "1"));
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

static void
test_same_name_own_limits(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev[2] = {s_named_max_one(ctx), s_named_max_one(ctx)};
    void *pull[2], *push[2];
    for (int i = 0; i < 2; i++) {
        pull[i] = zrt_socket(ctx, ZMQ_PULL);
        zrt_connect(pull[i], zrt_device_endpoint(dev[i], 1));
        push[i] = s_push(ctx, dev[i], false);
        ZR_SEND(push[i], "in");
        ZR_RECV(pull[i], "in");
    }
    void *over = s_push(ctx, dev[0], false);
    ZR_WAIT(zrt_stat(dev[0], "frontend", "connections", "refused",
                     "max_connections", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(dev[1], "frontend", "connections", "refused",
                   "max_connections", NULL),
          0);
    ZR_SEND(push[1], "still");
    ZR_RECV(pull[1], "still");
    for (int i = 0; i < 2; i++) {
        zr_device_destroy(&dev[i]);
        zmq_close(pull[i]);
        zmq_close(push[i]);
    }
    zmq_close(over);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"keygen", test_keygen},
    {"refuse open", test_refuse_open},
    {"addresses", test_addresses},
    {"shared handler", test_shared_handler},
    {"open device", test_open_device},
    {"over max not protocol", test_over_max_not_protocol},
    {"same name, own limits", test_same_name_own_limits},
    {NULL, NULL},
};
ZR_MAIN
