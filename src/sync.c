/* sync.c - the publisher's side of the forwarder's sync service: wait
 * until N subscriptions matching a prefix are there, and really there
 * (docs/SYNC.md).
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

/* Probes are few and spaced: each one that gets through takes a slot of
 * the publisher's send HWM, and libzmq learns of slots freed only every
 * HWM/2 messages. */
#define S_PROBE_EVERY_MS 10
/* How long to wait past the timeout for the forwarder's own answer. */
#define S_GRACE_MS 1000

/* Read one reply, [delimiter, verdict, detail], into VERDICT/DETAIL. */
static int
s_reply(void *sock, char *verdict, size_t vlen, char *detail, size_t dlen)
{
    char parts[3][128];
    int sizes[3] = {0, 0, 0};
    int n = 0, more = 1;
    size_t ml = sizeof more;
    while (more) {
        char buf[128];
        int size = zmq_recv(sock, buf, sizeof buf, 0);
        if (size < 0) {
            return -1;
        }
        if (n < 3) {
            size = size < (int) sizeof buf ? size : (int) sizeof buf;
            memcpy(parts[n], buf, (size_t) size);
            sizes[n] = size;
        }
        n++;
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    }
    if (n != 3 || sizes[0] != 0) {
        errno = EPROTO;
        return -1;
    }
    snprintf(verdict, vlen, "%.*s", sizes[1], parts[1]);
    int d = sizes[2] < (int) dlen - 1 ? sizes[2] : (int) dlen - 1;
    memcpy(detail, parts[2], (size_t) d);
    detail[d] = 0;
    return sizes[2];
}

/* Send the WAIT request, as a REQ socket would (an empty delimiter
 * first). */
static int
s_send_wait(void *sock, unsigned n, const char *prefix, int timeout_msecs)
{
    char num[32], ms[32];
    snprintf(num, sizeof num, "%u", n);
    snprintf(ms, sizeof ms, "%d", timeout_msecs);
    const char *p = prefix ? prefix : "";
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, "WAIT", 4, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, num, strlen(num), ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, p, strlen(p), ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, ms, strlen(ms), 0) < 0) {
        return -1;
    }
    return 0;
}

/* A probe the forwarder asked for: sent on PUB until one gets through. */
typedef struct {
    char data[128];
    int len; /* -1: none asked for yet */
} s_probe_t;

/* One answer of the forwarder: 1 to wait on (a PROBE), or the result
 * (the count, or -1 with errno). */
static int
s_answer(void *sock, void *pub, s_probe_t *probe, const char *endpoint,
         int *result)
{
    char verdict[16], detail[128];
    int dlen = s_reply(sock, verdict, sizeof verdict, detail, sizeof detail);
    *result = -1;
    if (dlen < 0) {
        return 0;
    }
    if (strcmp(verdict, "PROBE") == 0) {
        if (!pub) {
            errno = EINVAL; /* this forwarder needs the PUB socket */
            return 0;
        }
        memcpy(probe->data, detail, (size_t) dlen);
        probe->len = dlen;
        zmq_send(pub, probe->data, (size_t) probe->len, ZMQ_DONTWAIT);
        return 1;
    }
    int64_t count = 0;
    zr__parse_int(detail, 0, INT64_MAX, &count);
    if (strcmp(verdict, "GO") == 0) {
        *result = (int) (count > INT32_MAX ? INT32_MAX : count);
    }
    else if (strcmp(verdict, "TIMEOUT") == 0) {
        errno = ETIMEDOUT;
    }
    else {
        ZR_LOG_W("sync: %s answered %s: %s", endpoint, verdict, detail);
        errno = EPROTO;
    }
    return 0;
}

/* Wait for the forwarder's verdict on SOCK, probing PUB when asked. */
static int
s_wait(void *sock, void *pub, const char *endpoint, int timeout_msecs)
{
    int64_t deadline = zr__now_ms() + timeout_msecs + S_GRACE_MS;
    s_probe_t probe = {.len = -1};
    for (;;) {
        int64_t left = deadline - zr__now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT; /* not even the forwarder answered */
            return -1;
        }
        long wait = probe.len >= 0 && left > S_PROBE_EVERY_MS ? S_PROBE_EVERY_MS
                                                              : (long) left;
        zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
        int got = zmq_poll(&item, 1, wait);
        if (got < 0) {
            return -1; /* EINTR too: a signal ends the wait, as in libzmq */
        }
        if (got == 0) {
            if (probe.len >= 0) {
                /* Dropped by the PUB until the probe subscription reaches
                 * it; the first one through means go. */
                zmq_send(pub, probe.data, (size_t) probe.len, ZMQ_DONTWAIT);
            }
            continue;
        }
        int result;
        if (s_answer(sock, pub, &probe, endpoint, &result) == 0) {
            return result;
        }
    }
}

int
zr_sync_wait(void *ctx, void *pub, const char *sync_endpoint, unsigned n,
             const char *prefix, int timeout_msecs)
{
    if (!ctx || !sync_endpoint || timeout_msecs < 0) {
        errno = EINVAL;
        return -1;
    }
    zr_endpoints_t *eps = zr_endpoints_parse(sync_endpoint, false, NULL, 0);
    if (!eps) {
        return -1;
    }
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    if (!sock) {
        zr_endpoints_destroy(&eps);
        return -1;
    }
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    int rc = -1;
    if (zr_endpoints_attach(eps, sock, NULL, 0) == 0 &&
        s_send_wait(sock, n, prefix, timeout_msecs) == 0) {
        rc = s_wait(sock, pub, sync_endpoint, timeout_msecs);
    }
    int err = errno;
    zmq_close(sock);
    zr_endpoints_destroy(&eps);
    errno = err;
    return rc;
}
