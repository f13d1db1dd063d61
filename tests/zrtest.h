/* zrtest.h - zrelay's test harness: real sockets, deadlines, no sleeps.
 * SPDX-License-Identifier: MIT
 *
 * A test file defines static void functions and lists them:
 *     ZR_TESTS = { {"queue roundtrip", test_queue_roundtrip}, {NULL, NULL} };
 * It runs every test, or those whose name contains argv[1]. A failed check
 * prints file:line and what it saw, and ends the run with status 1; a test
 * that cannot run here calls ZR_SKIP (status 77, CTest's skip).
 */
#ifndef ZRTEST_H_INCLUDED
#define ZRTEST_H_INCLUDED

#include "zrelay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

typedef struct {
    const char *name;
    void (*fn)(void);
} zrt_test_t;

static const char *zrt_current;

#define ZR_TESTS static const zrt_test_t zrt_tests[]

#define ZR_FAILF(...)                                                     \
    do {                                                                  \
        fprintf(stderr, "FAIL %s (%s:%d): ", zrt_current, __FILE__,       \
                __LINE__);                                                \
        fprintf(stderr, __VA_ARGS__);                                     \
        fputc('\n', stderr);                                              \
        exit(1);                                                          \
    } while (0)

#define ZR_SKIP(...)                                                      \
    do {                                                                  \
        fprintf(stderr, "SKIP %s: ", zrt_current);                        \
        fprintf(stderr, __VA_ARGS__);                                     \
        fputc('\n', stderr);                                              \
        exit(77);                                                         \
    } while (0)

#define ZR_CHECK(cond)                                                    \
    do {                                                                  \
        if (!(cond)) {                                                    \
            ZR_FAILF("%s", #cond);                                        \
        }                                                                 \
    } while (0)

#define ZR_CHECKF(cond, ...)                                              \
    do {                                                                  \
        if (!(cond)) {                                                    \
            ZR_FAILF(__VA_ARGS__);                                        \
        }                                                                 \
    } while (0)

/* EXPR must succeed (not -1, not NULL); prints errno's text if not. */
#define ZR_PASS(expr)                                                     \
    do {                                                                  \
        errno = 0;                                                        \
        if ((intptr_t) (expr) == -1) {                                    \
            ZR_FAILF("%s failed: %s", #expr, zmq_strerror(errno));        \
        }                                                                 \
    } while (0)

/* EXPR must fail with -1 and errno ERR. */
#define ZR_FAIL(expr, err)                                                \
    do {                                                                  \
        errno = 0;                                                        \
        intptr_t zrt_rc_ = (intptr_t) (expr);                             \
        int zrt_e_ = errno;                                               \
        if (zrt_rc_ != -1 || zrt_e_ != (err)) {                           \
            ZR_FAILF("%s: want -1/%s, got %" PRIdPTR "/%s", #expr, #err,  \
                     zrt_rc_, zmq_strerror(zrt_e_));                      \
        }                                                                 \
    } while (0)

/* EXPR must return NULL with errno ERR. */
#define ZR_FAILP(expr, err)                                               \
    do {                                                                  \
        errno = 0;                                                        \
        const void *zrt_p_ = (expr);                                      \
        int zrt_e_ = errno;                                               \
        if (zrt_p_ != NULL || zrt_e_ != (err)) {                          \
            ZR_FAILF("%s: want NULL/%s, got %p/%s", #expr, #err, zrt_p_,  \
                     zmq_strerror(zrt_e_));                               \
        }                                                                 \
    } while (0)

#define ZR_EQ(a, b)                                                       \
    do {                                                                  \
        long long zrt_a_ = (long long) (a), zrt_b_ = (long long) (b);     \
        if (zrt_a_ != zrt_b_) {                                           \
            ZR_FAILF("%s == %s: %lld != %lld", #a, #b, zrt_a_, zrt_b_);   \
        }                                                                 \
    } while (0)

#define ZR_STREQ(a, b)                                                    \
    do {                                                                  \
        const char *zrt_a_ = (a), *zrt_b_ = (b);                          \
        if (!zrt_a_ || !zrt_b_ || strcmp(zrt_a_, zrt_b_) != 0) {          \
            ZR_FAILF("%s == %s: '%s' != '%s'", #a, #b,                    \
                     zrt_a_ ? zrt_a_ : "(null)", zrt_b_ ? zrt_b_ : "(null)"); \
        }                                                                 \
    } while (0)

/* Default deadline for anything a test waits on. */
#define ZRT_DEADLINE_MS 10000

static inline int64_t
zrt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until COND holds, re-checking at least every 2 ms (an event the
 * test cannot poll, such as a counter in another thread), or fail at the
 * deadline. */
#define ZR_WAIT(cond, ms)                                                 \
    do {                                                                  \
        int64_t zrt_end_ = zrt_now_ms() + (ms);                           \
        while (!(cond)) {                                                 \
            if (zrt_now_ms() > zrt_end_) {                                \
                ZR_FAILF("gave up after %d ms waiting for %s", (int) (ms), \
                         #cond);                                          \
            }                                                             \
            zmq_poll(NULL, 0, 2);                                         \
        }                                                                 \
    } while (0)

/* Wait until DEV's counters, read into ST (a zr_stats_t), satisfy COND
 * while the relay waits for traffic: its counters then include every
 * message it moved. */
#define ZR_WAIT_STATS(dev, st, cond, ms)                                  \
    ZR_WAIT((zr_device_stats((dev), &(st)), (st).waiting && (cond)), ms)

static inline void
zrt_setint(void *socket, int option, int value)
{
    if (zmq_setsockopt(socket, option, &value, sizeof value) != 0) {
        ZR_FAILF("setsockopt %d: %s", option, zmq_strerror(errno));
    }
}

/* A socket with linger 0, so a test never hangs at exit. */
static inline void *
zrt_socket(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        ZR_FAILF("zmq_socket: %s", zmq_strerror(errno));
    }
    zrt_setint(s, ZMQ_LINGER, 0);
    return s;
}

/* Bind to ENDPOINT (e.g. tcp://127.0.0.1:*) and return the resolved one
 * in BUF. */
static inline const char *
zrt_bind(void *socket, const char *endpoint, char *buf, size_t len)
{
    if (zmq_bind(socket, endpoint) != 0) {
        ZR_FAILF("bind %s: %s", endpoint, zmq_strerror(errno));
    }
    zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, buf, &len);
    return buf;
}

static inline void
zrt_connect(void *socket, const char *endpoint)
{
    if (zmq_connect(socket, endpoint) != 0) {
        ZR_FAILF("connect %s: %s", endpoint, zmq_strerror(errno));
    }
}

/* Wait for SOCKET to become readable within MS; false on timeout. */
static inline bool
zrt_readable(void *socket, long ms)
{
    zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
    return zmq_poll(&item, 1, ms) == 1;
}

static inline void
zrt_send_str(void *socket, const char *text, int flags)
{
    if (zmq_send(socket, text, strlen(text), flags) < 0) {
        ZR_FAILF("send '%s': %s", text, zmq_strerror(errno));
    }
}

/* Receive one frame as a string (truncated to LEN-1) within the deadline. */
static inline char *
zrt_recv_str(void *socket, char *buf, size_t len)
{
    if (!zrt_readable(socket, ZRT_DEADLINE_MS)) {
        ZR_FAILF("nothing received within %d ms", ZRT_DEADLINE_MS);
    }
    int n = zmq_recv(socket, buf, len - 1, 0);
    if (n < 0) {
        ZR_FAILF("recv: %s", zmq_strerror(errno));
    }
    buf[(size_t) n < len - 1 ? (size_t) n : len - 1] = 0;
    return buf;
}

#define ZR_SEND(socket, text) zrt_send_str((socket), (text), 0)
#define ZR_SENDMORE(socket, text) zrt_send_str((socket), (text), ZMQ_SNDMORE)
#define ZR_RECV(socket, text)                                             \
    do {                                                                  \
        char zrt_buf_[256];                                               \
        ZR_STREQ(zrt_recv_str((socket), zrt_buf_, sizeof zrt_buf_), (text)); \
    } while (0)

/* A device of TYPE between FRONT and BACK (endpoint lists), configured by
 * CONFIGURE when not NULL, running in a thread of its own. */
static inline zr_device_t *
zrt_device(void *ctx, zr_device_type_t type, const char *front,
           const char *back, void (*configure)(zr_device_t *))
{
    zr_device_t *dev = zr_device_new(ctx, type, NULL);
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, front));
    ZR_PASS(zr_device_set_backend(dev, back));
    if (configure) {
        configure(dev);
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("device start: %s", zr_device_error(dev));
    }
    return dev;
}

/* A device named TAG between @inproc://TAG-front and @inproc://TAG-back,
 * with the options of KV (key, value, ..., NULL; KV may be NULL),
 * started. */
static inline zr_device_t *
zrt_tag_device(void *ctx, zr_device_type_t type, const char *tag,
               const char *const *kv)
{
    char front[64], back[64];
    snprintf(front, sizeof front, "@inproc://%s-front", tag);
    snprintf(back, sizeof back, "@inproc://%s-back", tag);
    zr_device_t *dev = zr_device_new(ctx, type, tag);
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, front));
    ZR_PASS(zr_device_set_backend(dev, back));
    for (; kv && kv[0]; kv += 2) {
        if (zr_device_set(dev, kv[0], kv[1]) != 0) {
            ZR_FAILF("%s = %s: %s", kv[0], kv[1], zr_device_error(dev));
        }
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

/* The number at the path KEY, ... (NULL-terminated) in DEV's STATS JSON,
 * e.g. zrt_stat(dev, "last_value", "sent", NULL). */
static inline double
zrt_stat(zr_device_t *dev, const char *key, ...)
{
    char *text = zr_device_stats_json(dev);
    cJSON *root = cJSON_Parse(text);
    free(text);
    ZR_CHECK(root != NULL);
    cJSON *o = root;
    char path[256] = "";
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *)) {
        o = cJSON_GetObjectItem(o, k);
        size_t at = strlen(path);
        snprintf(path + at, sizeof path - at, "%s%s", at ? "." : "", k);
    }
    va_end(ap);
    ZR_CHECKF(cJSON_IsNumber(o), "no %s in STATS", path);
    double v = o->valuedouble;
    cJSON_Delete(root);
    return v;
}

/* The resolved address of DEV's endpoint number I (see zr_device_endpoint). */
static inline const char *
zrt_device_endpoint(zr_device_t *dev, size_t i)
{
    const char *address = NULL;
    ZR_PASS(zr_device_endpoint(dev, i, NULL, NULL, &address));
    return address;
}

static int zrt_run(const zrt_test_t *tests, int argc, char **argv);

#define ZR_MAIN                                                           \
    int main(int argc, char **argv)                                       \
    {                                                                     \
        return zrt_run(zrt_tests, argc, argv);                            \
    }

static inline int
zrt_run(const zrt_test_t *tests, int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int ran = 0;
    for (const zrt_test_t *t = tests; t->name; t++) {
        if (argc > 1 && !strstr(t->name, argv[1])) {
            continue;
        }
        zrt_current = t->name;
        int64_t start = zrt_now_ms();
        printf("RUN  %s\n", t->name);
        t->fn();
        printf("OK   %s (%" PRId64 " ms)\n", t->name, zrt_now_ms() - start);
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "no test matches '%s'\n", argc > 1 ? argv[1] : "");
        return 1;
    }
    return 0;
}

#endif
