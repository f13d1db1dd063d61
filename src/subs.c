/* subs.c - the forwarder's subscription table: how many subscriptions
 * each topic has, the max_subscriptions limit, and the count a sync
 * request or the gate waits for.
 * SPDX-License-Identifier: MIT
 *
 * The backend XPUB runs with ZMQ_XPUB_VERBOSER, so every subscribe and
 * unsubscribe of every subscriber comes through, duplicates included.
 * The table counts as libzmq does: one subscription per subscriber pipe
 * and topic (a SUB subscribed to "" and to "A" counts twice, one
 * subscribed to "A" twice once). A report that changes nothing in libzmq
 * (a subscribe to a topic the pipe holds, an unsubscribe of one it does
 * not) changes nothing here either; holders.c says which, for the
 * connections libzmq names (tcp, ipc). Reports from inproc peers, and
 * the unsubscribes libzmq makes for a pipe that went, name none: they
 * count as they come. Topics are kept sorted, so the subscriptions that
 * start with a prefix are one range.
 *
 * Refused subscriptions (over max_subscriptions) are not applied, but
 * libzmq remembers them and unsubscribes them when their subscriber
 * goes. An unsubscribe that names no connection ends a refused one of
 * its topic first: at worst a topic stays subscribed upstream a while
 * longer, never does one go while somebody still wants it. One that
 * names its connection ends what that connection held.
 *
 * Readers (STATS, from any thread) never take a lock the device thread
 * waits on: the device thread publishes an immutable snapshot of the
 * table after each change (zr__subs_publish),
 * and a reader takes a reference to the current one (zr__subs_view).
 * The device thread frees a replaced snapshot once no reader holds it;
 * it never waits for one, it tries again at its next publication. Why
 * that is safe: a reader counts itself in `readers` before it loads the
 * snapshot pointer and takes its reference before it counts itself out,
 * so once the device thread has swapped the pointer and then sees
 * `readers` at 0, every reader that got the old snapshot holds a
 * reference to it, and no later one can get it.
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
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

/* The topics STATS lists: the first S_LIST_MAX with subscriptions, in
 * byte order, then their bytes. Shared by the snapshots that list the
 * same, so that a change to a topic past the list copies nothing. */
typedef struct {
    unsigned refs; /* snapshots that point here (device thread only) */
    size_t nrows;
    zr__subs_row_t rows[];
} s_rows_t;

/* A published table. */
typedef struct s_snap {
    struct s_snap *next; /* replaced ones, waiting for their readers */
    atomic_uint refs;    /* readers holding it */
    s_rows_t *rows;
    zr__subs_view_t view;
} s_snap_t;

struct zr__subs_t {
    s_topic_t *topics; /* sorted by topic */
    size_t ntopics, cap;
    uint64_t total; /* accepted subscriptions */
    uint64_t live;  /* topics with accepted subscriptions */
    uint64_t max;   /* 0: no limit */
    zr__holders_t *holders;
    bool changed;   /* since the last publication */
    bool relist;    /* and the listed topics with it */
    s_rows_t *rows; /* the current list */
    _Atomic(s_snap_t *) snap;
    atomic_uint readers; /* between loading snap and taking a reference */
    s_snap_t *replaced;
    /* Counters, read by STATS from any thread. */
    _Atomic uint64_t st_total, st_topics, st_refused;
    _Atomic uint64_t st_duplicates, st_strays;
};

/* What a connection holds of a topic (holders.c), when it holds it. */
enum { S_HELD_REFUSED, S_HELD_ACCEPTED };

/* Device thread: a snapshot no reader holds any more. */
static void
s_snap_free(s_snap_t *snap)
{
    if (--snap->rows->refs == 0) {
        free(snap->rows);
    }
    free(snap);
}

zr__subs_t *
zr__subs_new(uint64_t max_subscriptions)
{
    zr__subs_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->max = max_subscriptions;
    self->holders = zr__holders_new();
    if (!self->holders) {
        free(self);
        return NULL;
    }
    self->changed = self->relist = true;
    zr__subs_publish(self);
    if (!atomic_load(&self->snap)) {
        zr__subs_destroy(&self);
        errno = ENOMEM;
        return NULL;
    }
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
    zr__holders_destroy(&self->holders);
    /* No reader is left by now (the device is going). */
    s_snap_t *snap = atomic_load(&self->snap);
    if (snap) {
        snap->next = self->replaced;
        self->replaced = snap;
    }
    while (self->replaced) {
        s_snap_t *next = self->replaced->next;
        s_snap_free(self->replaced);
        self->replaced = next;
    }
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

/* Whether a change to TOPIC changes the list STATS shows. */
static bool
s_listed(const zr__subs_t *self, const unsigned char *topic, size_t size)
{
    const s_rows_t *rows = self->rows;
    if (!rows || rows->nrows < S_LIST_MAX) {
        return true;
    }
    const zr__subs_row_t *last = &rows->rows[rows->nrows - 1];
    return s_cmp(topic, size, last->topic, last->size) <= 0;
}

static zr__subs_change_t
s_subscribe(zr__subs_t *self, const unsigned char *topic, size_t size)
{
    s_topic_t *t = s_entry(self, topic, size);
    if (!t || (self->max && self->total >= self->max)) {
        if (t) {
            t->refused++;
        }
        zr__stat_add(&self->st_refused, 1);
        return ZR__SUBS_REFUSED; /* out of memory: the same */
    }
    self->live += t->count++ == 0;
    self->total++;
    self->changed = true;
    self->relist |= s_listed(self, topic, size);
    return ZR__SUBS_ADDED;
}

/* End one subscription to TOPIC, an accepted one unless REFUSED_FIRST
 * and the topic has refused ones. */
static zr__subs_change_t
s_unsubscribe(zr__subs_t *self, const unsigned char *topic, size_t size,
              bool refused_first)
{
    bool found;
    size_t i = s_find(self, topic, size, &found);
    s_topic_t *t = found ? &self->topics[i] : NULL;
    if (!t) {
        zr__stat_add(&self->st_strays, 1);
        return ZR__SUBS_IGNORED;
    }
    zr__subs_change_t change = ZR__SUBS_IGNORED;
    if (t->refused && (refused_first || !t->count)) {
        t->refused--;
    }
    else {
        self->live -= --t->count == 0;
        self->total--;
        self->changed = true;
        self->relist |= s_listed(self, topic, size);
        change = ZR__SUBS_REMOVED;
    }
    s_entry_drop_if_empty(self, t);
    return change;
}

/* A report from connection WHO (holders.c), which holds TOPIC as HELD
 * (-1: not at all). */
static zr__subs_change_t
s_named(zr__subs_t *self, int who, bool subscribe, const unsigned char *topic,
        size_t size)
{
    int held = zr__holders_get(self->holders, who, topic, size);
    if (subscribe && held >= 0) {
        zr__stat_add(&self->st_duplicates, 1);
        return ZR__SUBS_IGNORED;
    }
    if (!subscribe && held < 0) {
        zr__stat_add(&self->st_strays, 1);
        return ZR__SUBS_IGNORED;
    }
    if (!subscribe) {
        zr__holders_drop(self->holders, who, topic, size);
        return s_unsubscribe(self, topic, size, held == S_HELD_REFUSED);
    }
    zr__subs_change_t change = s_subscribe(self, topic, size);
    int state = change == ZR__SUBS_ADDED ? S_HELD_ACCEPTED : S_HELD_REFUSED;
    /* Out of memory, it counts as an anonymous one. */
    zr__holders_put(self->holders, who, topic, size, state);
    return change;
}

zr__subs_change_t
zr__subs_apply(zr__subs_t *self, zmq_msg_t *frame)
{
    const unsigned char *data = zmq_msg_data(frame);
    size_t size = zmq_msg_size(frame);
    bool subscribe = data[0] == 1;
    int who = zr__holders_who(self->holders, frame);
    if (who >= 0) {
        return s_named(self, who, subscribe, data + 1, size - 1);
    }
    if (subscribe) {
        return s_subscribe(self, data + 1, size - 1);
    }
    return s_unsubscribe(self, data + 1, size - 1, true);
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

/* A new list of the first S_LIST_MAX topics with subscriptions. */
static s_rows_t *
s_rows_new(const zr__subs_t *self)
{
    size_t nrows = 0, bytes = 0, i = 0;
    for (; i < self->ntopics && nrows < S_LIST_MAX; i++) {
        nrows += self->topics[i].count > 0;
        bytes += self->topics[i].count > 0 ? self->topics[i].size : 0;
    }
    s_rows_t *rows =
        malloc(sizeof *rows + nrows * sizeof rows->rows[0] + bytes + 1);
    if (!rows) {
        return NULL;
    }
    rows->refs = 0;
    rows->nrows = nrows;
    unsigned char *text = (unsigned char *) &rows->rows[nrows];
    for (size_t k = 0, n = 0; n < nrows; k++) {
        const s_topic_t *t = &self->topics[k];
        if (t->count) {
            memcpy(text, t->topic, t->size);
            rows->rows[n++] = (zr__subs_row_t){text, t->size, t->count};
            text += t->size;
        }
    }
    return rows;
}

/* Free the replaced snapshots no reader holds, unless a reader may be
 * about to take one. */
static void
s_reclaim(zr__subs_t *self)
{
    if (atomic_load(&self->readers) != 0) {
        return; /* next time */
    }
    for (s_snap_t **p = &self->replaced; *p;) {
        s_snap_t *snap = *p;
        if (atomic_load(&snap->refs) == 0) {
            *p = snap->next;
            s_snap_free(snap);
        }
        else {
            p = &snap->next;
        }
    }
}

void
zr__subs_publish(zr__subs_t *self)
{
    s_reclaim(self);
    if (!self->changed) {
        return;
    }
    s_rows_t *rows = self->relist ? s_rows_new(self) : self->rows;
    s_snap_t *snap = rows ? malloc(sizeof *snap) : NULL;
    if (!snap) {
        if (rows && rows != self->rows) {
            free(rows);
        }
        return; /* readers see the older table a while longer */
    }
    atomic_init(&snap->refs, 0);
    snap->next = NULL;
    snap->rows = rows;
    rows->refs++;
    self->rows = rows;
    snap->view = (zr__subs_view_t){self->total, self->live, rows->nrows,
                                   self->live > rows->nrows, rows->rows};
    s_snap_t *old = atomic_exchange(&self->snap, snap);
    if (old) {
        old->next = self->replaced;
        self->replaced = old;
    }
    self->changed = self->relist = false;
    zr__stat_set(&self->st_total, self->total);
    zr__stat_set(&self->st_topics, self->live);
    s_reclaim(self);
}

bool
zr__subs_changed(const zr__subs_t *self)
{
    return self->changed;
}

const zr__subs_view_t *
zr__subs_view(zr__subs_t *self)
{
    atomic_fetch_add(&self->readers, 1);
    s_snap_t *snap = atomic_load(&self->snap);
    atomic_fetch_add(&snap->refs, 1);
    atomic_fetch_sub(&self->readers, 1);
    return &snap->view;
}

void
zr__subs_release(zr__subs_t *self, const zr__subs_view_t *view)
{
    (void) self;
    if (view) {
        s_snap_t *snap =
            (s_snap_t *) ((const char *) view - offsetof(s_snap_t, view));
        atomic_fetch_sub(&snap->refs, 1);
    }
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

static double
s_max(const void *base)
{
    return (double) ((const zr__subs_t *) base)->max;
}

#define S_AT(field) offsetof(zr__subs_t, field)
static const zr__stat_t s_rows[] = {
    {.key = "total",
     .metric = "subscriptions",
     .kind = ZR__STAT_GAUGE,
     .help = "Subscriptions held by subscribers now (duplicates on one "
             "connection once).",
     .offset = S_AT(st_total)},
    {.key = "topics",
     .metric = "subscription_topics",
     .kind = ZR__STAT_GAUGE,
     .help = "Distinct topics subscribed to now.",
     .offset = S_AT(st_topics)},
    {.key = "max",
     .metric = "subscriptions_max",
     .kind = ZR__STAT_GAUGE,
     .help = "max_subscriptions (0: no limit).",
     .get = s_max},
    {.key = "refused",
     .metric = "subscriptions_refused_total",
     .labels = "reason=\"max_subscriptions\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Subscriptions refused beyond max_subscriptions.",
     .offset = S_AT(st_refused)},
    {.key = "ignored_duplicates",
     .metric = "subscriptions_ignored_total",
     .labels = "reason=\"duplicate\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Subscribes to a topic the connection already held.",
     .offset = S_AT(st_duplicates)},
    {.key = "ignored_unsubscribes",
     .metric = "subscriptions_ignored_total",
     .labels = "reason=\"not_held\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Unsubscribes of a topic the connection did not hold.",
     .offset = S_AT(st_strays)},
};
#undef S_AT

zr__stat_section_t
zr__subs_section(const zr__subs_t *self)
{
    return (zr__stat_section_t){"subscriptions", NULL, ZR__STAT_ROWS(s_rows),
                                self};
}

void
zr__subs_list(zr__subs_t *self, cJSON *stats)
{
    const zr__subs_view_t *v = zr__subs_view(self);
    cJSON *subs = cJSON_GetObjectItem(stats, "subscriptions");
    if (!subs) {
        subs = cJSON_AddObjectToObject(stats, "subscriptions");
    }
    cJSON *list = cJSON_AddArrayToObject(subs, "list");
    for (size_t i = 0; i < v->nrows; i++) {
        const zr__subs_row_t *r = &v->rows[i];
        cJSON_AddItemToArray(list, s_topic_json(r->topic, r->size, r->count));
    }
    if (v->truncated) {
        cJSON_AddBoolToObject(subs, "truncated", true);
    }
    zr__subs_release(self, v);
}
