/* mdp_client.c - a Majordomo client (ZeroMQ RFC 7 MDP/0.1, RFC 18
 * MDP/0.2) with the Guide's reliability: each attempt waits `timeout` ms
 * for the reply; on silence the socket is closed (so a late reply to the
 * old attempt can never be taken for the new one's) and the request goes
 * again on a new socket, to the next broker of the list (Lazy Pirate,
 * and the failover the Guide's Binary Star client does), up to `retries`
 * times. The broker's error reply (one body frame "ZRELAY-ERROR CODE
 * text", docs/MAJORDOMO.md) becomes -1 with an errno per CODE.
 * SPDX-License-Identifier: MIT
 *
 * The socket is a DEALER, as the Guide's mdcliapi2 has: MDP/0.1 requests
 * carry the empty delimiter frame a REQ would add, MDP/0.2 ones do not.
 */
#include "mdp_msg.h"
#include "zr_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ERROR_PREFIX "ZRELAY-ERROR "

struct zr_mdp_client_t {
    void *ctx;
    bool own_ctx;
    char **endpoints;
    size_t n, cur;
    void *socket;
    int timeout, retries, version;
    char *curve_server_key, *curve_cert;
    int wake_fd;
    zr_mdp_partial_fn *partial_fn;
    void *partial_arg;
    zr_mdp_msg_t *in;   /* what the socket gave */
    zr_mdp_msg_t *part; /* a PARTIAL's body, for the callback */
    char error[512];
};

zr_mdp_client_t *
zr_mdp_client_new(void *ctx, const char *const *endpoints, size_t n)
{
    if (!endpoints || n == 0) {
        errno = EINVAL;
        return NULL;
    }
    zr_mdp_client_t *self = calloc(1, sizeof *self);
    if (!self || !(self->endpoints = calloc(n, sizeof(char *))) ||
        !(self->in = zr_mdp_msg_new()) || !(self->part = zr_mdp_msg_new())) {
        if (self) {
            free(self->endpoints);
            zr_mdp_msg_destroy(&self->in);
        }
        free(self);
        errno = ENOMEM;
        return NULL;
    }
    self->timeout = 2500;
    self->retries = 3;
    self->version = 1;
    self->wake_fd = -1;
    self->ctx = ctx;
    if (!ctx) {
        self->ctx = zmq_ctx_new();
        self->own_ctx = true;
    }
    int e = 0;
    for (; self->n < n; self->n++) {
        self->endpoints[self->n] = zr__mdp_endpoint(endpoints[self->n]);
        if (!self->endpoints[self->n]) {
            e = errno;
            break;
        }
    }
    if (!e && (!self->ctx ||
               zr__mdp_check_endpoints(self->ctx, self->endpoints, n) != 0)) {
        e = errno ? errno : EINVAL;
    }
    if (e) {
        zr_mdp_client_destroy(&self);
        errno = e;
        return NULL;
    }
    return self;
}

static void
s_close(zr_mdp_client_t *self)
{
    if (self->socket) {
        zmq_close(self->socket);
        self->socket = NULL;
    }
}

void
zr_mdp_client_destroy(zr_mdp_client_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr_mdp_client_t *self = *self_p;
    s_close(self);
    for (size_t i = 0; i < self->n; i++) {
        free(self->endpoints[i]);
    }
    free(self->endpoints);
    free(self->curve_server_key);
    free(self->curve_cert);
    zr_mdp_msg_destroy(&self->in);
    zr_mdp_msg_destroy(&self->part);
    if (self->own_ctx && self->ctx) {
        zmq_ctx_term(self->ctx);
    }
    free(self);
    *self_p = NULL;
}

int
zr_mdp_client_set_timeout(zr_mdp_client_t *self, int msecs)
{
    if (!self || msecs < 1) {
        errno = EINVAL;
        return -1;
    }
    self->timeout = msecs;
    return 0;
}

int
zr_mdp_client_set_retries(zr_mdp_client_t *self, int retries)
{
    if (!self || retries < 0) {
        errno = EINVAL;
        return -1;
    }
    self->retries = retries;
    return 0;
}

int
zr_mdp_client_set_version(zr_mdp_client_t *self, int version)
{
    if (!self || (version != 1 && version != 2)) {
        errno = EINVAL;
        return -1;
    }
    self->version = version;
    return 0;
}

int
zr_mdp_client_set_curve(zr_mdp_client_t *self, const char *server_key,
                        const char *cert)
{
    if (!self || !server_key) {
        errno = EINVAL;
        return -1;
    }
    return zr__mdp_set_text(&self->curve_server_key, server_key) ||
                   zr__mdp_set_text(&self->curve_cert, cert)
               ? -1
               : 0;
}

void
zr_mdp_client_set_partial_fn(zr_mdp_client_t *self, zr_mdp_partial_fn *fn,
                             void *arg)
{
    if (self) {
        self->partial_fn = fn;
        self->partial_arg = arg;
    }
}

void
zr_mdp_client_set_wake_fd(zr_mdp_client_t *self, int fd)
{
    if (self) {
        self->wake_fd = fd;
    }
}

const char *
zr_mdp_client_error(const zr_mdp_client_t *self)
{
    return self ? self->error : "";
}

const char *
zr_mdp_client_endpoint(const zr_mdp_client_t *self)
{
    return self ? self->endpoints[self->cur] : NULL;
}

/* A new socket, connected to the current endpoint. */
static int
s_open(zr_mdp_client_t *self)
{
    const char *ep = self->endpoints[self->cur];
    self->socket = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!self->socket) {
        int e = errno;
        snprintf(self->error, sizeof self->error, "socket: %s",
                 zmq_strerror(e));
        errno = e;
        return -1;
    }
    int zero = 0;
    zmq_setsockopt(self->socket, ZMQ_LINGER, &zero, sizeof zero);
    /* A connecting DEALER queues at once; this only bounds a send to a
     * pipe that is full, which a fresh socket does not have. */
    zmq_setsockopt(self->socket, ZMQ_SNDTIMEO, &self->timeout,
                   sizeof self->timeout);
    char why[256] = "";
    if (self->curve_server_key &&
        zr_curve_client(self->socket, self->curve_server_key, self->curve_cert,
                        why, sizeof why) != 0) {
        int e = errno ? errno : EINVAL;
        snprintf(self->error, sizeof self->error, "%s: curve: %s", ep, why);
        s_close(self);
        errno = e;
        return -1;
    }
    if (zmq_connect(self->socket, ep) != 0) {
        int e = errno;
        snprintf(self->error, sizeof self->error, "%s: %s", ep,
                 zmq_strerror(e));
        s_close(self);
        errno = e;
        return -1;
    }
    return 0;
}

static int
s_send(zr_mdp_client_t *self, const char *service, const zr_mdp_msg_t *request)
{
    zr__mdp_frame_t head[3];
    size_t n = 0;
    if (self->version == 1) {
        head[n++] = (zr__mdp_frame_t){"", 0};
        head[n++] = ZR__MDP_STR("MDPC01");
    }
    else {
        head[n++] = ZR__MDP_STR("MDPC02");
        head[n++] = ZR__MDP_STR("\x01");
    }
    head[n++] = (zr__mdp_frame_t){service, strlen(service)};
    return zr__mdp_msg_send(self->socket, head, n, request, 0);
}

/* Wait for the FINAL (0.1: the reply) to SERVICE, PARTIALs meanwhile: 0
 * with the body frames appended to REPLY, *FINAL_AT the index of the
 * FINAL's first; -1 EAGAIN when the time ran out (*PARTIAL says whether
 * a PARTIAL came), ECANCELED, EINTR, ETERM. Messages that are not a
 * reply to SERVICE in this version are dropped. */
static int
s_wait(zr_mdp_client_t *self, const char *service, zr_mdp_msg_t *reply,
       size_t *final_at, bool *partial)
{
    int64_t deadline = zr__now_ms() + self->timeout;
    for (;;) {
        int64_t left = deadline - zr__now_ms();
        if (left <= 0) {
            errno = EAGAIN;
            return -1;
        }
        zmq_pollitem_t items[2] = {{self->socket, 0, ZMQ_POLLIN, 0},
                                   {NULL, self->wake_fd, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, self->wake_fd >= 0 ? 2 : 1, (long) left);
        if (rc < 0) {
            return -1;
        }
        if (self->wake_fd >= 0 && (items[1].revents & ZMQ_POLLIN)) {
            errno = EINTR;
            return -1;
        }
        if (rc == 0) {
            continue;
        }
        if (zr__mdp_msg_recv(self->in, self->socket) != 0) {
            if (errno == EAGAIN) {
                continue;
            }
            return -1;
        }
        zr_mdp_msg_t *in = self->in;
        size_t size = zr_mdp_msg_frames(in);
        bool final;
        size_t body;
        if (self->version == 1) {
            if (size < 3 || !zr__mdp_msg_is(in, 0, "") ||
                !zr__mdp_msg_is(in, 1, "MDPC01") ||
                !zr__mdp_msg_is(in, 2, service)) {
                continue;
            }
            final = true;
            body = 3;
        }
        else {
            if (size < 3 || !zr__mdp_msg_is(in, 0, "MDPC02") ||
                zr_mdp_msg_size(in, 1) != 1 ||
                !zr__mdp_msg_is(in, 2, service)) {
                continue;
            }
            unsigned char cmd = *(const unsigned char *) zr_mdp_msg_data(in, 1);
            if (cmd != 2 && cmd != 3) {
                continue;
            }
            final = cmd == 3;
            body = 3;
        }
        if (!final) {
            *partial = true;
            deadline = zr__now_ms() + self->timeout;
            if (self->partial_fn) {
                zr_mdp_msg_clear(self->part);
                if (zr__mdp_msg_append(self->part, in, body) != 0) {
                    return -1;
                }
                if (self->partial_fn(self->part, self->partial_arg) != 0) {
                    errno = ECANCELED;
                    return -1;
                }
                continue;
            }
        }
        else {
            *final_at = zr_mdp_msg_frames(reply);
        }
        if (zr__mdp_msg_append(reply, in, body) != 0) {
            return -1;
        }
        if (final) {
            return 0;
        }
    }
}

/* The errno for the broker's error reply CODE (docs/MAJORDOMO.md). */
static int
s_error_errno(const char *code, size_t len)
{
    static const struct {
        const char *code;
        int e;
    } map[] = {{"timeout", ETIME},
               {"busy", EBUSY},
               {"failed", EIO},
               {"stopping", ESHUTDOWN}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strlen(map[i].code) == len && memcmp(map[i].code, code, len) == 0) {
            return map[i].e;
        }
    }
    return EPROTO;
}

/* After the FINAL: 0, or -1 with the error reply's errno. */
static int
s_final(zr_mdp_client_t *self, zr_mdp_msg_t *reply, size_t final_at)
{
    const size_t plen = sizeof S_ERROR_PREFIX - 1;
    size_t size = zr_mdp_msg_size(reply, final_at);
    const char *text = zr_mdp_msg_data(reply, final_at);
    if (zr_mdp_msg_frames(reply) != final_at + 1 || size < plen ||
        memcmp(text, S_ERROR_PREFIX, plen) != 0) {
        return 0;
    }
    snprintf(self->error, sizeof self->error, "%.*s", (int) size, text);
    /* Text ends at a NUL or a control character: one line. */
    for (char *p = self->error; *p; p++) {
        if ((unsigned char) *p < 0x20) {
            *p = 0;
            break;
        }
    }
    const char *code = self->error + plen;
    size_t clen = strcspn(code, " ");
    int e = s_error_errno(code, clen);
    if (final_at > 0) {
        zr_mdp_msg_clear(reply);
        zr_mdp_msg_add(reply, text, size);
    }
    errno = e;
    return -1;
}

int
zr_mdp_client_request(zr_mdp_client_t *self, const char *service,
                      const zr_mdp_msg_t *request, zr_mdp_msg_t *reply)
{
    if (!self || !service || !*service || !request ||
        !zr_mdp_msg_frames(request) || !reply) {
        errno = EINVAL;
        return -1;
    }
    self->error[0] = 0;
    zr_mdp_msg_clear(reply);
    int attempts = self->retries + 1;
    for (int a = 0; a < attempts; a++) {
        if (!self->socket && s_open(self) != 0) {
            return -1;
        }
        bool partial = false;
        size_t final_at = 0;
        int rc = s_send(self, service, request);
        if (rc == 0) {
            rc = s_wait(self, service, reply, &final_at, &partial);
        }
        if (rc == 0) {
            return s_final(self, reply, final_at);
        }
        int e = errno;
        s_close(self);
        zr_mdp_msg_clear(reply);
        if (e == EAGAIN && partial) {
            snprintf(self->error, sizeof self->error,
                     "the reply from %s stopped after a PARTIAL: no more "
                     "within %d ms",
                     self->endpoints[self->cur], self->timeout);
            errno = ETIMEDOUT;
            return -1;
        }
        if (e != EAGAIN) {
            snprintf(self->error, sizeof self->error, "%s: %s",
                     self->endpoints[self->cur], zmq_strerror(e));
            errno = e;
            return -1;
        }
        zr__log_at(ZR_LOG_INFO, "mdp client: no reply from %s within %d ms%s",
                   self->endpoints[self->cur], self->timeout,
                   a + 1 < attempts ? ", sending again" : "");
        self->cur = (self->cur + 1) % self->n;
    }
    int len =
        snprintf(self->error, sizeof self->error,
                 "no reply to '%.64s' within %d ms, %d attempt%s (", service,
                 self->timeout, attempts, attempts == 1 ? "" : "s");
    for (size_t i = 0;
         i < self->n && len > 0 && (size_t) len < sizeof self->error; i++) {
        len += snprintf(self->error + len, sizeof self->error - (size_t) len,
                        "%s%s", i ? ", " : "", self->endpoints[i]);
    }
    if (len > 0 && (size_t) len + 2 < sizeof self->error) {
        strcat(self->error, ")");
    }
    errno = ETIMEDOUT;
    return -1;
}
