/* cli_msg.c - the client verbs' messages: frames in an array, and whole
 * messages to and from a socket.
 * SPDX-License-Identifier: MIT
 */
#include "cli_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
cli_msg_reserve(cli_msg_t *self, size_t n)
{
    if (n <= self->cap) {
        return 0;
    }
    size_t cap = self->cap ? self->cap : 4;
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
cli_msg_add(cli_msg_t *self, const void *data, size_t size)
{
    if (cli_msg_reserve(self, self->size + 1) != 0) {
        return -1;
    }
    zmq_msg_t *frame = &self->frames[self->size];
    if (zmq_msg_init_size(frame, size) != 0) {
        return -1;
    }
    if (size) {
        memcpy(zmq_msg_data(frame), data, size);
    }
    self->size++;
    return 0;
}

int
cli_msg_addstr(cli_msg_t *self, const char *text)
{
    return cli_msg_add(self, text, strlen(text));
}

int
cli_msg_copy(cli_msg_t *dst, const cli_msg_t *src)
{
    cli_msg_clear(dst);
    if (cli_msg_reserve(dst, src->size) != 0) {
        return -1;
    }
    for (size_t i = 0; i < src->size; i++) {
        zmq_msg_init(&dst->frames[i]);
        /* Large bodies are shared (reference counted), not copied. */
        zmq_msg_copy(&dst->frames[i], &src->frames[i]);
        dst->size++;
    }
    return 0;
}

void
cli_msg_move(cli_msg_t *dst, cli_msg_t *src)
{
    cli_msg_destroy(dst);
    *dst = *src;
    *src = (cli_msg_t){NULL, 0, 0};
}

void
cli_msg_clear(cli_msg_t *self)
{
    for (size_t i = 0; i < self->size; i++) {
        zmq_msg_close(&self->frames[i]);
    }
    self->size = 0;
}

void
cli_msg_destroy(cli_msg_t *self)
{
    cli_msg_clear(self);
    free(self->frames);
    self->frames = NULL;
    self->cap = 0;
}

int
cli_msg_recv(cli_msg_t *self, void *socket)
{
    cli_msg_clear(self);
    for (;;) {
        if (cli_msg_reserve(self, self->size + 1) != 0) {
            return -1;
        }
        zmq_msg_t *f = &self->frames[self->size];
        zmq_msg_init(f);
        /* The rest of a message is there once its first frame is: wait
         * for it, across signals. */
        int rc;
        do {
            rc = zmq_msg_recv(f, socket, self->size ? 0 : ZMQ_DONTWAIT);
        } while (rc < 0 && errno == EINTR && self->size);
        if (rc < 0) {
            int e = errno;
            zmq_msg_close(f);
            errno = e;
            return !self->size && (e == EAGAIN || e == EINTR) ? 0 : -1;
        }
        self->size++;
        if (!zmq_msg_more(f)) {
            return 1;
        }
    }
}

int
cli_msg_send(cli_msg_t *self, void *socket)
{
    for (size_t i = 0; i < self->size; i++) {
        int flags = i + 1 < self->size ? ZMQ_SNDMORE : 0;
        int rc;
        do {
            /* Once the first frame is in, the others are accepted. */
            rc = zmq_msg_send(&self->frames[i], socket,
                              flags | (i ? 0 : ZMQ_DONTWAIT));
        } while (rc < 0 && errno == EINTR && i);
        if (rc < 0) {
            if (i == 0) {
                return errno == EAGAIN || errno == EINTR ? 0 : -1;
            }
            return -1;
        }
    }
    cli_msg_clear(self);
    return 1;
}
