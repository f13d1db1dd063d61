/* lvc.c - the last value cache: the last message of each topic (its first
 * frame), bounded in topics and bytes, the least recently updated evicted
 * first.
 * SPDX-License-Identifier: MIT
 *
 * Lookups by exact topic go through a hash table; a new subscription asks
 * for every topic that starts with its prefix, which walks the entries
 * (subscriptions are rare next to publications). The entries form a list
 * in update order, newest first, so eviction takes the tail.
 *
 * Memory follows the bounds whatever the churn: a publisher of
 * single-frame messages makes every message a new topic, so entries come
 * and go all the time. The table uses linear probing with backward-shift
 * deletion (no tombstones, so a deleted slot is free again at once), and
 * its size follows the live entries only: it doubles over a load of 3/4
 * and halves under 1/8. The bytes counted for an entry include its
 * bookkeeping, so max_bytes bounds memory even for tiny messages.
 */
#include "zr_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_MIN_SLOTS 64

typedef struct s_entry {
    struct s_entry *newer, *older; /* update order */
    unsigned char *topic;
    size_t size, bytes;
    uint64_t hash;
    zr__msg_t msg;
} s_entry_t;

struct zr__lvc_t {
    s_entry_t **slots; /* open addressing, linear probing; NULL is free */
    size_t nslots;
    s_entry_t *newest, *oldest;
    size_t topics, bytes;
    size_t max_topics, max_bytes;
    uint64_t evictions;
};

zr__lvc_t *
zr__lvc_new(size_t max_topics, size_t max_bytes)
{
    zr__lvc_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->nslots = S_MIN_SLOTS;
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

/* The slot holding TOPIC, or the free one where it would go. */
static size_t
s_slot(const zr__lvc_t *self, const unsigned char *topic, size_t size,
       uint64_t hash, bool *found)
{
    size_t mask = self->nslots - 1;
    for (size_t i = (size_t) hash & mask;; i = (i + 1) & mask) {
        s_entry_t *e = self->slots[i];
        if (!e) {
            *found = false;
            return i;
        }
        if (e->hash == hash && e->size == size &&
            memcmp(e->topic, topic, size) == 0) {
            *found = true;
            return i;
        }
    }
}

/* Rehash every entry into a table of N slots (a power of two). */
static int
s_resize(zr__lvc_t *self, size_t n)
{
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
    return 0;
}

/* Empty slot I and move back the entries after it that can no longer be
 * found past the hole (Knuth's algorithm R for linear probing). */
static void
s_slot_clear(zr__lvc_t *self, size_t i)
{
    size_t mask = self->nslots - 1;
    self->slots[i] = NULL;
    for (size_t j = (i + 1) & mask; self->slots[j]; j = (j + 1) & mask) {
        size_t home = (size_t) self->slots[j]->hash & mask;
        /* The entry at J stays if its home lies cyclically in (I, J]. */
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            self->slots[i] = self->slots[j];
            self->slots[j] = NULL;
            i = j;
        }
    }
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
        s_slot_clear(self, i);
    }
    s_unlink(self, e);
    self->topics--;
    self->bytes -= e->bytes;
    self->evictions++;
    s_entry_free(e);
}

/* A new entry for TOPIC in slot I (NULL when out of memory). */
static s_entry_t *
s_entry_new(zr__lvc_t *self, size_t i, const unsigned char *topic, size_t size,
            uint64_t hash)
{
    s_entry_t *e = calloc(1, sizeof *e);
    unsigned char *copy = malloc(size ? size : 1);
    if (!e || !copy) {
        free(e);
        free(copy);
        return NULL;
    }
    memcpy(copy, topic, size);
    e->topic = copy;
    e->size = size;
    e->hash = hash;
    self->slots[i] = e;
    self->topics++;
    return e;
}

/* What an entry costs: the message's bytes and the cache's own. */
static size_t
s_cost(const s_entry_t *e)
{
    return zr__msg_bytes(&e->msg) + e->size + sizeof *e +
           e->msg.cap * sizeof(zmq_msg_t) + 2 * sizeof(s_entry_t *);
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
        if ((self->topics + 1) * 4 > self->nslots * 3) {
            if (s_resize(self, self->nslots * 2) != 0) {
                return;
            }
            i = s_slot(self, topic, size, hash, &found);
        }
        if (!(e = s_entry_new(self, i, topic, size, hash))) {
            return;
        }
    }
    /* The cache shares the message's bodies (reference counted). */
    zr__msg_copy(&e->msg, msg);
    e->bytes = s_cost(e);
    self->bytes += e->bytes;
    s_push_newest(self, e);
    while (self->topics > 1 &&
           ((self->max_topics && self->topics > self->max_topics) ||
            (self->max_bytes && self->bytes > self->max_bytes))) {
        s_evict_oldest(self);
    }
    if (self->nslots > S_MIN_SLOTS && self->topics * 8 < self->nslots) {
        s_resize(self, self->nslots / 2); /* if out of memory: stays */
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

size_t
zr__lvc_slots(const zr__lvc_t *self)
{
    return self->nslots;
}

void
zr__lvc_stats(const zr__lvc_t *self, uint64_t *topics, uint64_t *bytes,
              uint64_t *evictions)
{
    *topics = self->topics;
    *bytes = self->bytes;
    *evictions = self->evictions;
}
