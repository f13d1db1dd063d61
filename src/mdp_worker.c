/* mdp_worker.c - a Majordomo worker (ZeroMQ RFC 7 MDP/0.1, RFC 18
 * MDP/0.2) with the Guide's reliability (mdwrkapi): READY on connecting,
 * a HEARTBEAT every `heartbeat` ms while it waits for a request, the
 * broker taken for dead after `liveness` heartbeats without a word from
 * it; then, after `reconnect` ms, a new socket to the next broker of the
 * list and READY again. DISCONNECT from the broker (it forgot this
 * worker, or a reply came too late) does the same at once.
 * SPDX-License-Identifier: MIT
 *
 * The worker only heartbeats while it waits in zr_mdp_worker_recv: the
 * broker does not expire a busy worker (docs/MAJORDOMO.md), and the time
 * spent working is not counted against the broker either (the silence
 * is measured from the reply on).
 */
#include "mdp_msg.h"
#include "zr_impl.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Commands: MDP/0.1 and 0.2 numbers. */
#define S_READY 0
#define S_REQUEST 1
#define S_PARTIAL 2
#define S_FINAL 3
#define S_HEARTBEAT 4
#define S_DISCONNECT 5
static const unsigned char s_cmd[2][6] = {{1, 2, 0, 3, 4, 5},
                                          {1, 2, 3, 4, 5, 6}};

struct zr_mdp_worker_t {
    void *ctx;
    bool own_ctx;
    char **endpoints;
    size_t n, cur;
    char *service;
    void *socket;
    int heartbeat, liveness, reconnect, version;
    char *curve_server_key, *curve_cert;
    int wake_fd;
    int64_t heartbeat_at; /* the next HEARTBEAT to send */
    int64_t expiry;       /* the broker is dead after this */
    int64_t reconnect_at; /* no socket: connect at this time */
    int64_t disconnected; /* the last DISCONNECT, or 0 */
    zr_mdp_msg_t *in;     /* what the socket gave */
    zmq_msg_t reply_to;   /* the open request's client */
    bool open;
    uint64_t connects;
    char error[512];
};

zr_mdp_worker_t *
zr_mdp_worker_new(void *ctx, const char *const *endpoints, size_t n,
                  const char *service)
{
    if (!endpoints || n == 0 || !service || !*service ||
        strncmp(service, "mmi.", 4) == 0) {
        errno = EINVAL;
        return NULL;
    }
    zr_mdp_worker_t *self = calloc(1, sizeof *self);
    if (!self || !(self->endpoints = calloc(n, sizeof(char *))) ||
        !(self->service = strdup(service)) || !(self->in = zr_mdp_msg_new())) {
        if (self) {
            free(self->endpoints);
            free(self->service);
        }
        free(self);
        errno = ENOMEM;
        return NULL;
    }
    zmq_msg_init(&self->reply_to);
    self->heartbeat = 2500;
    self->liveness = 3;
    self->reconnect = 2500;
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
        zr_mdp_worker_destroy(&self);
        errno = e;
        return NULL;
    }
    return self;
}

/* Send command CMD, then HEAD's frames and BODY's, in this version's
 * envelope. */
static int
s_send(zr_mdp_worker_t *self, int cmd, const zr__mdp_frame_t *extra,
       size_t nextra, const zr_mdp_msg_t *body)
{
    zr__mdp_frame_t head[6];
    size_t n = 0;
    if (self->version == 1) {
        head[n++] = (zr__mdp_frame_t){"", 0};
        head[n++] = ZR__MDP_STR("MDPW01");
    }
    else {
        head[n++] = ZR__MDP_STR("MDPW02");
    }
    head[n++] = (zr__mdp_frame_t){&s_cmd[self->version - 1][cmd], 1};
    for (size_t i = 0; i < nextra; i++) {
        head[n++] = extra[i];
    }
    return zr__mdp_msg_send(self->socket, head, n, body, 0);
}

static void
s_close(zr_mdp_worker_t *self, int linger)
{
    if (self->socket) {
        zmq_setsockopt(self->socket, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(self->socket);
        self->socket = NULL;
    }
    self->open = false;
    zmq_msg_close(&self->reply_to);
    zmq_msg_init(&self->reply_to);
}

void
zr_mdp_worker_destroy(zr_mdp_worker_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr_mdp_worker_t *self = *self_p;
    if (self->socket) {
        int zero = 0;
        zmq_setsockopt(self->socket, ZMQ_SNDTIMEO, &zero, sizeof zero);
        s_send(self, S_DISCONNECT, NULL, 0, NULL);
    }
    s_close(self, 1000);
    zmq_msg_close(&self->reply_to);
    for (size_t i = 0; i < self->n; i++) {
        free(self->endpoints[i]);
    }
    free(self->endpoints);
    free(self->service);
    free(self->curve_server_key);
    free(self->curve_cert);
    zr_mdp_msg_destroy(&self->in);
    if (self->own_ctx && self->ctx) {
        zmq_ctx_term(self->ctx);
    }
    free(self);
    *self_p = NULL;
}

int
zr_mdp_worker_set_heartbeat(zr_mdp_worker_t *self, int msecs)
{
    if (!self || msecs < 1) {
        errno = EINVAL;
        return -1;
    }
    self->heartbeat = msecs;
    return 0;
}

int
zr_mdp_worker_set_liveness(zr_mdp_worker_t *self, int liveness)
{
    if (!self || liveness < 1) {
        errno = EINVAL;
        return -1;
    }
    self->liveness = liveness;
    return 0;
}

int
zr_mdp_worker_set_reconnect(zr_mdp_worker_t *self, int msecs)
{
    if (!self || msecs < 0) {
        errno = EINVAL;
        return -1;
    }
    self->reconnect = msecs;
    return 0;
}

int
zr_mdp_worker_set_version(zr_mdp_worker_t *self, int version)
{
    if (!self || (version != 1 && version != 2) || self->socket) {
        errno = self && self->socket ? EFSM : EINVAL;
        return -1;
    }
    self->version = version;
    return 0;
}

int
zr_mdp_worker_set_curve(zr_mdp_worker_t *self, const char *server_key,
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
zr_mdp_worker_set_wake_fd(zr_mdp_worker_t *self, int fd)
{
    if (self) {
        self->wake_fd = fd;
    }
}

uint64_t
zr_mdp_worker_connects(const zr_mdp_worker_t *self)
{
    return self ? self->connects : 0;
}

const char *
zr_mdp_worker_error(const zr_mdp_worker_t *self)
{
    return self ? self->error : "";
}

/* The broker is silent from now on for liveness heartbeats at most. */
static void
s_alive(zr_mdp_worker_t *self, int64_t now)
{
    self->expiry = now + (int64_t) self->heartbeat * self->liveness;
}

/* A new socket to the current endpoint, and READY on it. */
static int
s_connect(zr_mdp_worker_t *self)
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
    /* Bounds a send to a broker that stopped reading: the broker is then
     * as good as dead. */
    zmq_setsockopt(self->socket, ZMQ_SNDTIMEO, &self->heartbeat,
                   sizeof self->heartbeat);
    char why[256] = "";
    int rc = 0;
    if (self->curve_server_key &&
        zr_curve_client(self->socket, self->curve_server_key, self->curve_cert,
                        why, sizeof why) != 0) {
        rc = -1;
    }
    else if (zmq_connect(self->socket, ep) != 0) {
        snprintf(why, sizeof why, "%s", zmq_strerror(errno));
        rc = -1;
    }
    else {
        zr__mdp_frame_t service = {self->service, strlen(self->service)};
        if (s_send(self, S_READY, &service, 1, NULL) != 0) {
            snprintf(why, sizeof why, "READY: %s", zmq_strerror(errno));
            rc = -1;
        }
    }
    if (rc != 0) {
        int e = errno ? errno : EINVAL;
        snprintf(self->error, sizeof self->error, "%s: %s", ep, why);
        s_close(self, 0);
        errno = e;
        return -1;
    }
    int64_t now = zr__now_ms();
    s_alive(self, now);
    self->heartbeat_at = now + self->heartbeat;
    self->connects++;
    zr__log_at(ZR_LOG_INFO, "mdp worker '%s': READY sent to %s (MDP/0.%d)",
               self->service, ep, self->version);
    return 0;
}

int
zr_mdp_worker_connect(zr_mdp_worker_t *self)
{
    if (!self) {
        errno = EINVAL;
        return -1;
    }
    return self->socket ? 0 : s_connect(self);
}

/* Give up this socket (WHY goes to the error text and the log): the next
 * endpoint, after DELAY ms. */
static void
s_drop(zr_mdp_worker_t *self, int64_t now, int delay, const char *why)
{
    snprintf(self->error, sizeof self->error, "%s: %s; connecting again%s",
             self->endpoints[self->cur], why, delay ? " after a delay" : "");
    zr__log_at(ZR_LOG_INFO, "mdp worker '%s': %s", self->service, self->error);
    s_close(self, 0);
    self->cur = (self->cur + 1) % self->n;
    self->reconnect_at = now + delay;
}

/* A message from the broker in SELF->in: 1 and REQUEST filled when it is
 * a request, else 0 (handled). */
static int
s_handle(zr_mdp_worker_t *self, zr_mdp_msg_t *request, int64_t now)
{
    zr_mdp_msg_t *in = self->in;
    size_t at = 0;
    if (self->version == 1) {
        if (!zr__mdp_msg_is(in, 0, "") || !zr__mdp_msg_is(in, 1, "MDPW01")) {
            return 0;
        }
        at = 2;
    }
    else {
        if (!zr__mdp_msg_is(in, 0, "MDPW02")) {
            return 0;
        }
        at = 1;
    }
    if (zr_mdp_msg_size(in, at) != 1) {
        return 0;
    }
    s_alive(self, now);
    unsigned char cmd = *(const unsigned char *) zr_mdp_msg_data(in, at);
    const unsigned char *t = s_cmd[self->version - 1];
    if (cmd == t[S_REQUEST]) {
        /* client, "", body... */
        if (zr_mdp_msg_frames(in) < at + 3 ||
            zr_mdp_msg_size(in, at + 2) != 0) {
            return 0;
        }
        zmq_msg_close(&self->reply_to);
        zmq_msg_init(&self->reply_to);
        zmq_msg_copy(&self->reply_to, zr__mdp_msg_frame(in, at + 1));
        zr_mdp_msg_clear(request);
        if (zr__mdp_msg_append(request, in, at + 3) != 0) {
            return -1;
        }
        self->open = true;
        return 1;
    }
    if (cmd == t[S_DISCONNECT]) {
        /* At once, unless the broker keeps saying it: then the delay, so
         * that a broker refusing this worker is not asked in a loop. */
        bool again =
            self->disconnected && now - self->disconnected < self->reconnect;
        self->disconnected = now;
        s_drop(self, now, again ? self->reconnect : 0,
               "the broker sent DISCONNECT");
    }
    /* HEARTBEAT: alive, seen above; anything else is ignored. */
    return 0;
}

int
zr_mdp_worker_recv(zr_mdp_worker_t *self, zr_mdp_msg_t *request, int timeout)
{
    if (!self || !request) {
        errno = EINVAL;
        return -1;
    }
    if (self->open) {
        errno = EFSM;
        return -1;
    }
    int64_t deadline =
        timeout < 0 ? INT64_MAX : zr__now_ms() + (int64_t) timeout;
    for (;;) {
        int64_t now = zr__now_ms();
        int64_t until;
        if (!self->socket) {
            if (now >= self->reconnect_at) {
                if (s_connect(self) != 0) {
                    int e = errno;
                    if (e == ETERM || e == EMFILE || e == EINVAL) {
                        return -1;
                    }
                    self->cur = (self->cur + 1) % self->n;
                    self->reconnect_at = now + self->reconnect;
                }
                continue;
            }
            until = self->reconnect_at;
        }
        else {
            if (now >= self->expiry) {
                char why[96];
                snprintf(why, sizeof why, "the broker was silent for %lld ms",
                         (long long) self->heartbeat * self->liveness);
                s_drop(self, now, self->reconnect, why);
                continue;
            }
            if (now >= self->heartbeat_at) {
                /* A full pipe (a broker that stopped reading) loses it;
                 * the silence that follows says the rest. */
                int zero = 0;
                zmq_setsockopt(self->socket, ZMQ_SNDTIMEO, &zero, sizeof zero);
                s_send(self, S_HEARTBEAT, NULL, 0, NULL);
                zmq_setsockopt(self->socket, ZMQ_SNDTIMEO, &self->heartbeat,
                               sizeof self->heartbeat);
                self->heartbeat_at = now + self->heartbeat;
            }
            until = self->heartbeat_at < self->expiry ? self->heartbeat_at
                                                      : self->expiry;
        }
        if (now >= deadline) {
            errno = EAGAIN;
            return -1;
        }
        if (deadline < until) {
            until = deadline;
        }
        zmq_pollitem_t items[2];
        int n = 0;
        if (self->socket) {
            items[n++] = (zmq_pollitem_t){self->socket, 0, ZMQ_POLLIN, 0};
        }
        int wake = -1;
        if (self->wake_fd >= 0) {
            wake = n;
            items[n++] = (zmq_pollitem_t){NULL, self->wake_fd, ZMQ_POLLIN, 0};
        }
        int64_t wait = until - now;
        int rc = zmq_poll(items, n, (long) (wait > 0 ? wait : 0));
        if (rc < 0) {
            return -1;
        }
        if (wake >= 0 && (items[wake].revents & ZMQ_POLLIN)) {
            errno = EINTR;
            return -1;
        }
        if (rc == 0 || !self->socket || !(items[0].revents & ZMQ_POLLIN)) {
            continue;
        }
        /* Every message waiting, so that a burst of heartbeats does not
         * cost a poll each. */
        while (self->socket) {
            if (zr__mdp_msg_recv(self->in, self->socket) != 0) {
                if (errno == EAGAIN) {
                    break;
                }
                return -1;
            }
            rc = s_handle(self, request, zr__now_ms());
            if (rc != 0) {
                return rc > 0 ? 0 : -1;
            }
        }
    }
}

static int
s_answer(zr_mdp_worker_t *self, int cmd, const zr_mdp_msg_t *body)
{
    if (!self || !body || !zr_mdp_msg_frames(body)) {
        errno = EINVAL;
        return -1;
    }
    if (!self->open || !self->socket) {
        errno = EFSM;
        return -1;
    }
    zr__mdp_frame_t head[2] = {
        {zmq_msg_data(&self->reply_to), zmq_msg_size(&self->reply_to)},
        {"", 0}};
    int64_t now = zr__now_ms();
    if (s_send(self, cmd, head, 2, body) != 0) {
        int e = errno;
        char why[128];
        snprintf(why, sizeof why, "cannot send the reply: %s", zmq_strerror(e));
        s_drop(self, now, self->reconnect, why);
        errno = e;
        return -1;
    }
    /* The time spent working does not count as the broker's silence. */
    s_alive(self, now);
    if (cmd == S_FINAL) {
        self->open = false;
        self->heartbeat_at = now + self->heartbeat;
    }
    return 0;
}

int
zr_mdp_worker_partial(zr_mdp_worker_t *self, const zr_mdp_msg_t *body)
{
    if (self && self->version == 1) {
        errno = ENOTSUP;
        return -1;
    }
    return s_answer(self, S_PARTIAL, body);
}

int
zr_mdp_worker_reply(zr_mdp_worker_t *self, const zr_mdp_msg_t *body)
{
    return s_answer(self, S_FINAL, body);
}
