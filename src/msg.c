/* msg.c - zr__msg_t: a whole multipart message as an array of frames,
 * for code that must see or hold one (handlers, injected messages).
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int
zr__msg_grow(zr__msg_t *self, size_t n)
{
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

/* A new frame holding a copy of DATA, at position AT. */
static int
s_insert(zr__msg_t *self, size_t at, const void *data, size_t size)
{
    if (zr__msg_reserve(self, self->size + 1) != 0) {
        return -1;
    }
    zmq_msg_t frame;
    if (zmq_msg_init_size(&frame, size) != 0) {
        return -1;
    }
    if (size) {
        memcpy(zmq_msg_data(&frame), data, size);
    }
    memmove(&self->frames[at + 1], &self->frames[at],
            (self->size - at) * sizeof frame);
    self->frames[at] = frame;
    self->size++;
    return 0;
}

int
zr__msg_add(zr__msg_t *self, const void *data, size_t size)
{
    return s_insert(self, self->size, data, size);
}

int
zr__msg_prepend(zr__msg_t *self, const void *data, size_t size)
{
    return s_insert(self, 0, data, size);
}

int
zr__msg_insert(zr__msg_t *self, size_t at, const void *data, size_t size)
{
    return s_insert(self, at <= self->size ? at : self->size, data, size);
}

int
zr__msg_addstr(zr__msg_t *self, const char *text)
{
    return s_insert(self, self->size, text, strlen(text));
}

void
zr__msg_remove(zr__msg_t *self, size_t at)
{
    if (at >= self->size) {
        return;
    }
    zmq_msg_close(&self->frames[at]);
    memmove(&self->frames[at], &self->frames[at + 1],
            (self->size - at - 1) * sizeof self->frames[0]);
    self->size--;
}

int
zr__msg_copy(zr__msg_t *dst, const zr__msg_t *src)
{
    zr__msg_clear(dst);
    if (zr__msg_reserve(dst, src->size) != 0) {
        return -1;
    }
    for (size_t i = 0; i < src->size; i++) {
        zmq_msg_init(&dst->frames[i]);
        /* Large bodies are shared (reference counted), not copied. */
        zmq_msg_copy(&dst->frames[i], (zmq_msg_t *) &src->frames[i]);
        dst->size++;
    }
    return 0;
}

size_t
zr__msg_bytes(const zr__msg_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->size; i++) {
        n += zmq_msg_size((zmq_msg_t *) &self->frames[i]);
    }
    return n;
}

int
zr__msg_take(zr__msg_t *dst, zr__msg_t *src, size_t from)
{
    if (from >= src->size) {
        return 0;
    }
    if (zr__msg_reserve(dst, dst->size + src->size - from) != 0) {
        return -1;
    }
    for (size_t i = from; i < src->size; i++) {
        zmq_msg_init(&dst->frames[dst->size]);
        zmq_msg_move(&dst->frames[dst->size++], &src->frames[i]);
    }
    return 0;
}

int
zr__msg_recv(zr__msg_t *self, void *socket)
{
    zr__msg_clear(self);
    for (;;) {
        if (zr__msg_reserve(self, self->size + 1) != 0) {
            return -1;
        }
        zmq_msg_t *f = &self->frames[self->size];
        zmq_msg_init(f);
        if (zmq_msg_recv(f, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(f);
            return -1; /* whole messages only: nothing, or EAGAIN */
        }
        self->size++;
        if (!zmq_msg_more(f)) {
            return 0;
        }
    }
}

int
zr__msg_send(zr__msg_t *self, void *socket)
{
    for (size_t i = 0; i < self->size; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < self->size ? ZMQ_SNDMORE : 0);
        if (zmq_msg_send(&self->frames[i], socket, flags) < 0 && i == 0) {
            return -1;
        }
    }
    return 0;
}

void
zr__msg_move(zr__msg_t *dst, zr__msg_t *src)
{
    zr__msg_destroy(dst);
    *dst = *src;
    *src = (zr__msg_t){NULL, 0, 0};
}

void
zr__msg_clear(zr__msg_t *self)
{
    for (size_t i = 0; i < self->size; i++) {
        zmq_msg_close(&self->frames[i]);
    }
    self->size = 0;
}

void
zr__msg_destroy(zr__msg_t *self)
{
    zr__msg_clear(self);
    free(self->frames);
    self->frames = NULL;
    self->cap = 0;
}
