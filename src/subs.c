/* subs.c - the forwarder's subscription table: how many subscriptions
 * each topic has, the max_subscriptions limit, and the count a sync
 * request or the gate waits for.
 * SPDX-License-Identifier: MIT
 *
 * The backend XPUB runs with ZMQ_XPUB_VERBOSER, so every subscribe and
 * unsubscribe of every subscriber comes through. The table counts
 * subscription messages per topic: a SUB subscribed to "" and to "A"
 * counts twice. Topics are kept sorted, so the subscriptions that start
 * with a prefix are one range.
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* STATS lists at most this many topics. */
#define S_LIST_MAX 1000

typedef struct {
    unsigned char *topic;
    size_t size;
    uint64_t count;   /* accepted subscriptions */
    uint64_t refused; /* refused ones libzmq still remembers */
} s_topic_t;

struct zr__subs_t {
    /* Sorted by topic; the lock is for STATS, which lists them from
     * another thread. */
    pthread_mutex_t lock;
    s_topic_t *topics;
    size_t ntopics, cap;
    uint64_t total;
    uint64_t max; /* 0: no limit */
    /* Counters, read by STATS from any thread. */
    _Atomic uint64_t st_total, st_topics, st_refused;
};

zr__subs_t *
zr__subs_new(uint64_t max_subscriptions)
{
    zr__subs_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    self->max = max_subscriptions;
    return self;
}

void
zr__subs_destroy(zr__subs_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__subs_t *self = *self_p;
    for (size_t i = 0; i < self->ntopics; i++) {
        free(self->topics[i].topic);
    }
    free(self->topics);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static int
s_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

/* Index of TOPIC, or where it would go (with *found false). */
static size_t
s_find(const zr__subs_t *self, const unsigned char *topic, size_t size,
       bool *found)
{
    size_t lo = 0, hi = self->ntopics;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const s_topic_t *t = &self->topics[mid];
        int c = s_cmp(t->topic, t->size, topic, size);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

/* The entry for TOPIC, made if need be (NULL when out of memory). */
static s_topic_t *
s_entry(zr__subs_t *self, const unsigned char *topic, size_t size)
{
    bool found;
    size_t i = s_find(self, topic, size, &found);
    if (found) {
        return &self->topics[i];
    }
    if (self->ntopics == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        s_topic_t *topics = realloc(self->topics, cap * sizeof *topics);
        if (!topics) {
            return NULL;
        }
        self->topics = topics;
        self->cap = cap;
    }
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) {
        return NULL;
    }
    memcpy(copy, topic, size);
    memmove(&self->topics[i + 1], &self->topics[i],
            (self->ntopics - i) * sizeof *self->topics);
    self->topics[i] = (s_topic_t){copy, size, 0, 0};
    self->ntopics++;
    return &self->topics[i];
}

static void
s_entry_drop_if_empty(zr__subs_t *self, s_topic_t *t)
{
    if (t->count || t->refused) {
        return;
    }
    size_t i = (size_t) (t - self->topics);
    free(t->topic);
    memmove(&self->topics[i], &self->topics[i + 1],
            (self->ntopics - i - 1) * sizeof *self->topics);
    self->ntopics--;
}

static void
s_publish(zr__subs_t *self)
{
    uint64_t topics = 0;
    for (size_t i = 0; i < self->ntopics; i++) {
        topics += self->topics[i].count > 0;
    }
    zr__stat_set(&self->st_total, self->total);
    zr__stat_set(&self->st_topics, topics);
}

static zr__subs_change_t
s_subscribe(zr__subs_t *self, const unsigned char *topic, size_t size)
{
    pthread_mutex_lock(&self->lock);
    s_topic_t *t = s_entry(self, topic, size);
    zr__subs_change_t change = ZR__SUBS_ADDED;
    if (t && self->max && self->total >= self->max) {
        t->refused++;
        zr__stat_add(&self->st_refused, 1);
        change = ZR__SUBS_REFUSED;
    }
    else if (t) {
        t->count++;
        self->total++;
    }
    s_publish(self);
    pthread_mutex_unlock(&self->lock);
    return change;
}

/* libzmq cannot say which pipe a subscriber's farewell unsubscribes came
 * from, so a refused one is assumed first: at worst a topic stays
 * subscribed upstream a while longer, never does one go while somebody
 * still wants it. */
static zr__subs_change_t
s_unsubscribe(zr__subs_t *self, const unsigned char *topic, size_t size)
{
    pthread_mutex_lock(&self->lock);
    bool found;
    zr__subs_change_t change = ZR__SUBS_IGNORED;
    size_t i = s_find(self, topic, size, &found);
    if (found) {
        s_topic_t *t = &self->topics[i];
        if (t->refused) {
            t->refused--;
        }
        else if (t->count) {
            t->count--;
            self->total--;
            change = ZR__SUBS_REMOVED;
        }
        s_entry_drop_if_empty(self, t);
    }
    s_publish(self);
    pthread_mutex_unlock(&self->lock);
    return change;
}

zr__subs_change_t
zr__subs_apply(zr__subs_t *self, zmq_msg_t *frame)
{
    const unsigned char *data = zmq_msg_data(frame);
    size_t size = zmq_msg_size(frame);
    if (data[0] == 1) {
        return s_subscribe(self, data + 1, size - 1);
    }
    return s_unsubscribe(self, data + 1, size - 1);
}

uint64_t
zr__subs_total(const zr__subs_t *self)
{
    return self->total;
}

uint64_t
zr__subs_overlap(const zr__subs_t *self, const void *prefix, size_t len)
{
    if (len == 0) {
        return self->total;
    }
    uint64_t n = 0;
    const unsigned char *p = prefix;
    bool found;
    /* Topics that are prefixes of PREFIX (shorter than it). */
    for (size_t l = 0; l < len; l++) {
        size_t i = s_find(self, p, l, &found);
        if (found) {
            n += self->topics[i].count;
        }
    }
    /* Topics starting with PREFIX: a contiguous range from it. */
    for (size_t i = s_find(self, p, len, &found); i < self->ntopics; i++) {
        const s_topic_t *t = &self->topics[i];
        if (t->size < len || memcmp(t->topic, p, len)) {
            break;
        }
        n += t->count;
    }
    return n;
}

/* {"topic": TEXT} when printable, else {"topic_hex": HEX}. */
static cJSON *
s_topic_json(const unsigned char *topic, size_t size, uint64_t count)
{
    cJSON *o = cJSON_CreateObject();
    bool printable = true;
    for (size_t k = 0; k < size && printable; k++) {
        printable = topic[k] >= 32 && topic[k] < 127;
    }
    char *text = malloc(2 * size + 1);
    if (text && printable) {
        memcpy(text, topic, size);
        text[size] = 0;
        cJSON_AddStringToObject(o, "topic", text);
    }
    else if (text) {
        for (size_t k = 0; k < size; k++) {
            snprintf(text + 2 * k, 3, "%02x", topic[k]);
        }
        text[2 * size] = 0;
        cJSON_AddStringToObject(o, "topic_hex", text);
    }
    free(text);
    cJSON_AddNumberToObject(o, "count", (double) count);
    return o;
}

void
zr__subs_describe(const zr__subs_t *self, cJSON *stats)
{
    cJSON *subs = cJSON_AddObjectToObject(stats, "subscriptions");
    cJSON_AddNumberToObject(subs, "total",
                            (double) zr__stat_get(&self->st_total));
    cJSON_AddNumberToObject(subs, "topics",
                            (double) zr__stat_get(&self->st_topics));
    if (self->max) {
        cJSON_AddNumberToObject(subs, "max", (double) self->max);
    }
    cJSON_AddNumberToObject(subs, "refused",
                            (double) zr__stat_get(&self->st_refused));
    cJSON *list = cJSON_AddArrayToObject(subs, "list");
    zr__subs_t *m = (zr__subs_t *) self;
    pthread_mutex_lock(&m->lock);
    size_t listed = 0;
    for (size_t i = 0; i < self->ntopics && listed < S_LIST_MAX; i++) {
        const s_topic_t *t = &self->topics[i];
        if (t->count) {
            cJSON_AddItemToArray(list,
                                 s_topic_json(t->topic, t->size, t->count));
            listed++;
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (listed == S_LIST_MAX) {
        cJSON_AddBoolToObject(subs, "truncated", true);
    }
}
