/* lvc.c - the last value cache: the last message of each topic (its first
 * frame), bounded in topics and bytes, the least recently updated evicted
 * first.
 * SPDX-License-Identifier: MIT
 *
 * Lookups by exact topic go through a hash table; a new subscription asks
 * for every topic that starts with its prefix, which walks the entries
 * (subscriptions are rare next to publications). The entries form a list
 * in update order, newest first, so eviction takes the tail.
 */
#include "zr_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct s_entry {
    struct s_entry *newer, *older; /* update order */
    unsigned char *topic;
    size_t size, bytes;
    uint64_t hash;
    zr__msg_t msg;
} s_entry_t;

struct zr__lvc_t {
    s_entry_t **slots; /* open addressing; NULL empty, S_GONE deleted */
    size_t nslots, used;
    s_entry_t *newest, *oldest;
    size_t topics, bytes;
    size_t max_topics, max_bytes;
    uint64_t evictions;
};

static s_entry_t s_gone_entry;
#define S_GONE (&s_gone_entry)

zr__lvc_t *
zr__lvc_new(size_t max_topics, size_t max_bytes)
{
    zr__lvc_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->nslots = 64;
    self->slots = calloc(self->nslots, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        errno = ENOMEM;
        return NULL;
    }
    self->max_topics = max_topics;
    self->max_bytes = max_bytes;
    return self;
}

static void
s_entry_free(s_entry_t *e)
{
    zr__msg_destroy(&e->msg);
    free(e->topic);
    free(e);
}

void
zr__lvc_destroy(zr__lvc_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__lvc_t *self = *self_p;
    s_entry_t *e = self->newest;
    while (e) {
        s_entry_t *older = e->older;
        s_entry_free(e);
        e = older;
    }
    free(self->slots);
    free(self);
    *self_p = NULL;
}

/* The slot holding TOPIC, or the first free one for it. */
static size_t
s_slot(const zr__lvc_t *self, const unsigned char *topic, size_t size,
       uint64_t hash, bool *found)
{
    size_t mask = self->nslots - 1;
    size_t i = (size_t) hash & mask;
    size_t free_slot = SIZE_MAX;
    for (;;) {
        s_entry_t *e = self->slots[i];
        if (!e) {
            *found = false;
            return free_slot != SIZE_MAX ? free_slot : i;
        }
        if (e == S_GONE) {
            free_slot = free_slot == SIZE_MAX ? i : free_slot;
        }
        else if (e->hash == hash && e->size == size &&
                 memcmp(e->topic, topic, size) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int
s_grow(zr__lvc_t *self)
{
    size_t n = self->nslots * 2;
    s_entry_t **slots = calloc(n, sizeof *slots);
    if (!slots) {
        return -1;
    }
    for (s_entry_t *e = self->newest; e; e = e->older) {
        size_t i = (size_t) e->hash & (n - 1);
        while (slots[i]) {
            i = (i + 1) & (n - 1);
        }
        slots[i] = e;
    }
    free(self->slots);
    self->slots = slots;
    self->nslots = n;
    self->used = self->topics;
    return 0;
}

static void
s_unlink(zr__lvc_t *self, s_entry_t *e)
{
    if (e->newer) {
        e->newer->older = e->older;
    }
    else {
        self->newest = e->older;
    }
    if (e->older) {
        e->older->newer = e->newer;
    }
    else {
        self->oldest = e->newer;
    }
    e->newer = e->older = NULL;
}

static void
s_push_newest(zr__lvc_t *self, s_entry_t *e)
{
    e->older = self->newest;
    e->newer = NULL;
    if (self->newest) {
        self->newest->newer = e;
    }
    self->newest = e;
    if (!self->oldest) {
        self->oldest = e;
    }
}

static void
s_evict_oldest(zr__lvc_t *self)
{
    s_entry_t *e = self->oldest;
    bool found;
    size_t i = s_slot(self, e->topic, e->size, e->hash, &found);
    if (found) {
        self->slots[i] = S_GONE;
    }
    s_unlink(self, e);
    self->topics--;
    self->bytes -= e->bytes;
    self->evictions++;
    s_entry_free(e);
}

void
zr__lvc_store(zr__lvc_t *self, const zr__msg_t *msg)
{
    zmq_msg_t *first = (zmq_msg_t *) &msg->frames[0];
    const unsigned char *topic = zmq_msg_data(first);
    size_t size = zmq_msg_size(first);
    uint64_t hash = zr__hash(topic, size);
    bool found;
    size_t i = s_slot(self, topic, size, hash, &found);
    s_entry_t *e;
    if (found) {
        e = self->slots[i];
        s_unlink(self, e);
        self->bytes -= e->bytes;
    }
    else {
        if ((self->used + 1) * 4 > self->nslots * 3) {
            if (s_grow(self) != 0) {
                return;
            }
            i = s_slot(self, topic, size, hash, &found);
        }
        e = calloc(1, sizeof *e);
        unsigned char *copy = malloc(size ? size : 1);
        if (!e || !copy) {
            free(e);
            free(copy);
            return;
        }
        memcpy(copy, topic, size);
        e->topic = copy;
        e->size = size;
        e->hash = hash;
        if (!self->slots[i]) {
            self->used++;
        }
        self->slots[i] = e;
        self->topics++;
    }
    /* The cache shares the message's bodies (reference counted). */
    zr__msg_copy(&e->msg, msg);
    e->bytes = zr__msg_bytes(&e->msg);
    self->bytes += e->bytes;
    s_push_newest(self, e);
    while (self->topics > 1 &&
           ((self->max_topics && self->topics > self->max_topics) ||
            (self->max_bytes && self->bytes > self->max_bytes))) {
        s_evict_oldest(self);
    }
}

size_t
zr__lvc_match(zr__lvc_t *self, const void *prefix, size_t len,
              const zr__msg_t **out, size_t max)
{
    size_t n = 0, total = 0;
    /* Newest first: out[0] is the most recently updated match. */
    for (s_entry_t *e = self->newest; e; e = e->older) {
        if (e->size >= len && memcmp(e->topic, prefix, len) == 0) {
            if (n < max) {
                out[n++] = &e->msg;
            }
            total++;
        }
    }
    return total;
}

void
zr__lvc_stats(const zr__lvc_t *self, uint64_t *topics, uint64_t *bytes,
              uint64_t *evictions)
{
    *topics = self->topics;
    *bytes = self->bytes;
    *evictions = self->evictions;
}
