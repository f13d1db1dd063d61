/* mdp_msg.c - zr_mdp_msg_t: a Majordomo request or reply body, an array
 * of frames, for the client and worker API (mdp_client.c, mdp_worker.c)
 * without ZeroMQ or CZMQ types in zrelay.h.
 * SPDX-License-Identifier: MIT
 */
#include "mdp_msg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The frames are owned by the message. */
struct zr_mdp_msg_t {
    zmq_msg_t *frames;
    size_t size, cap;
};

zr_mdp_msg_t *
zr_mdp_msg_new(void)
{
    zr_mdp_msg_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
    }
    return self;
}

void
zr_mdp_msg_clear(zr_mdp_msg_t *self)
{
    if (!self) {
        return;
    }
    for (size_t i = 0; i < self->size; i++) {
        zmq_msg_close(&self->frames[i]);
    }
    self->size = 0;
}

void
zr_mdp_msg_destroy(zr_mdp_msg_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr_mdp_msg_clear(*self_p);
    free((*self_p)->frames);
    free(*self_p);
    *self_p = NULL;
}

static int
s_reserve(zr_mdp_msg_t *self, size_t n)
{
    if (n <= self->cap) {
        return 0;
    }
    size_t cap = self->cap ? self->cap * 2 : 4;
    while (cap < n) {
        cap *= 2;
    }
    zmq_msg_t *frames = realloc(self->frames, cap * sizeof *frames);
    if (!frames) {
        errno = ENOMEM;
        return -1;
    }
    self->frames = frames;
    self->cap = cap;
    return 0;
}

int
zr_mdp_msg_add(zr_mdp_msg_t *self, const void *data, size_t size)
{
    if (!self || (!data && size)) {
        errno = EINVAL;
        return -1;
    }
    if (s_reserve(self, self->size + 1) != 0) {
        return -1;
    }
    zmq_msg_t *f = &self->frames[self->size];
    if (zmq_msg_init_size(f, size) != 0) {
        return -1;
    }
    if (size) {
        memcpy(zmq_msg_data(f), data, size);
    }
    self->size++;
    return 0;
}

int
zr_mdp_msg_addstr(zr_mdp_msg_t *self, const char *text)
{
    if (!text) {
        errno = EINVAL;
        return -1;
    }
    return zr_mdp_msg_add(self, text, strlen(text));
}

size_t
zr_mdp_msg_frames(const zr_mdp_msg_t *self)
{
    return self ? self->size : 0;
}

const void *
zr_mdp_msg_data(const zr_mdp_msg_t *self, size_t i)
{
    if (!self || i >= self->size) {
        return NULL;
    }
    return zmq_msg_data((zmq_msg_t *) &self->frames[i]);
}

size_t
zr_mdp_msg_size(const zr_mdp_msg_t *self, size_t i)
{
    if (!self || i >= self->size) {
        return 0;
    }
    return zmq_msg_size((zmq_msg_t *) &self->frames[i]);
}

zmq_msg_t *
zr__mdp_msg_frame(const zr_mdp_msg_t *self, size_t i)
{
    return (zmq_msg_t *) &self->frames[i];
}

int
zr__mdp_msg_take(zr_mdp_msg_t *self, zmq_msg_t *frame)
{
    if (s_reserve(self, self->size + 1) != 0) {
        return -1;
    }
    zmq_msg_init(&self->frames[self->size]);
    zmq_msg_move(&self->frames[self->size], frame);
    self->size++;
    return 0;
}

int
zr__mdp_msg_append(zr_mdp_msg_t *self, const zr_mdp_msg_t *src, size_t first)
{
    if (first >= src->size) {
        return 0;
    }
    if (s_reserve(self, self->size + src->size - first) != 0) {
        return -1;
    }
    for (size_t i = first; i < src->size; i++) {
        zmq_msg_t *f = &self->frames[self->size];
        zmq_msg_init(f);
        zmq_msg_copy(f, (zmq_msg_t *) &src->frames[i]);
        self->size++;
    }
    return 0;
}

int
zr__mdp_msg_recv(zr_mdp_msg_t *self, void *socket)
{
    zr_mdp_msg_clear(self);
    int flags = ZMQ_DONTWAIT;
    for (;;) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, socket, flags) < 0) {
            int e = errno;
            zmq_msg_close(&f);
            if (self->size) {
                /* The rest of a message is there once its first frame
                 * is: only ETERM or EINTR get here. */
                zr_mdp_msg_clear(self);
            }
            errno = e;
            return -1;
        }
        int more = zmq_msg_more(&f);
        if (zr__mdp_msg_take(self, &f) != 0) {
            zmq_msg_close(&f);
            /* Drain the rest, so that no half message is left behind. */
            while (more) {
                zmq_msg_init(&f);
                if (zmq_msg_recv(&f, socket, 0) < 0) {
                    break;
                }
                more = zmq_msg_more(&f);
                zmq_msg_close(&f);
            }
            zr_mdp_msg_clear(self);
            errno = ENOMEM;
            return -1;
        }
        if (!more) {
            return 0;
        }
        flags = 0;
    }
}

int
zr__mdp_msg_send(void *socket, const zr__mdp_frame_t *head, size_t nhead,
                 const zr_mdp_msg_t *body, size_t first)
{
    size_t nbody = body && body->size > first ? body->size - first : 0;
    for (size_t i = 0; i < nhead; i++) {
        int more = i + 1 < nhead || nbody ? ZMQ_SNDMORE : 0;
        if (zmq_send(socket, head[i].data, head[i].size, more) < 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < nbody; i++) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        zmq_msg_copy(&f, (zmq_msg_t *) &body->frames[first + i]);
        int more = i + 1 < nbody ? ZMQ_SNDMORE : 0;
        if (zmq_msg_send(&f, socket, more) < 0) {
            int e = errno;
            zmq_msg_close(&f);
            errno = e;
            return -1;
        }
    }
    return 0;
}

bool
zr__mdp_msg_is(const zr_mdp_msg_t *self, size_t i, const char *text)
{
    size_t len = strlen(text);
    return i < self->size && zr_mdp_msg_size(self, i) == len &&
           memcmp(zr_mdp_msg_data(self, i), text, len) == 0;
}

char *
zr__mdp_endpoint(const char *endpoint)
{
    if (!endpoint) {
        errno = EINVAL;
        return NULL;
    }
    while (*endpoint == ' ') {
        endpoint++;
    }
    if (*endpoint == '>') {
        endpoint++;
    }
    if (!*endpoint || *endpoint == '@') {
        errno = EINVAL;
        return NULL;
    }
    char *copy = strdup(endpoint);
    if (!copy) {
        errno = ENOMEM;
    }
    return copy;
}

int
zr__mdp_check_endpoints(void *ctx, char **endpoints, size_t n)
{
    /* Parsed, not connected: a trial connection would reach the broker
     * and count there as a failed handshake. What only a connection can
     * tell (a host that does not resolve) is said by the first one. */
    (void) ctx;
    for (size_t i = 0; i < n; i++) {
        const char *sep = strstr(endpoints[i], "://");
        char scheme[16] = "";
        if (sep && (size_t) (sep - endpoints[i]) < sizeof scheme) {
            memcpy(scheme, endpoints[i], (size_t) (sep - endpoints[i]));
            scheme[sep - endpoints[i]] = 0;
        }
        if (sep && strcmp(scheme, "tcp") != 0 && strcmp(scheme, "ipc") != 0 &&
            strcmp(scheme, "inproc") != 0 && !zmq_has(scheme)) {
            errno = EPROTONOSUPPORT;
            return -1;
        }
        char spec[1024];
        int len = snprintf(spec, sizeof spec, ">%s", endpoints[i]);
        zr_endpoints_t *e = len > 0 && (size_t) len < sizeof spec
                                ? zr_endpoints_parse(spec, false, NULL, 0)
                                : NULL;
        if (!e || zr_endpoints_size(e) != 1) {
            zr_endpoints_destroy(&e);
            errno = EINVAL;
            return -1;
        }
        zr_endpoints_destroy(&e);
    }
    return 0;
}

int
zr__mdp_set_text(char **slot, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value))) {
        errno = ENOMEM;
        return -1;
    }
    free(*slot);
    *slot = copy;
    return 0;
}
