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
 * count as they come.
 *
 * Topics are kept in a red-black tree in byte order (libbsd's
 * <bsd/sys/tree.h>), so a subscribe or unsubscribe costs O(log n) at
 * any size, and the subscriptions that start with a prefix are one
 * range. Each node also keeps the accepted subscriptions of its whole
 * subtree (`sum`), so that range is counted in O(log n) however many
 * topics it holds, and the walk that lists the first topics for STATS
 * skips the topics that only have refused subscriptions.
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

/* The tree keeps each node's `sum` as the rotations move it (they call
 * RB_AUGMENT on the nodes whose children changed); a change of a count
 * goes up to the root by s_fixup. Inserts and removes only ever add or
 * take a node whose count is 0, so they change no sum but by moving
 * nodes, which the library's RB_AUGMENT calls cover. */
struct s_topic;
static void s_augment(struct s_topic *t);
#define RB_AUGMENT(x) s_augment(x)
#include <bsd/sys/tree.h>

/* STATS lists at most this many topics. */
#define S_LIST_MAX 1000

typedef struct s_topic {
    RB_ENTRY(s_topic) link;
    uint64_t count;   /* accepted subscriptions */
    uint64_t refused; /* refused ones libzmq still remembers */
    uint64_t sum;     /* accepted subscriptions in this subtree */
    size_t size;
    unsigned char topic[];
} s_topic_t;

RB_HEAD(s_tree, s_topic);

/* The topics STATS lists: the first S_LIST_MAX with subscriptions, in
 * byte order, then their bytes. Shared by the snapshots that list the
 * same, so that a change to a topic past the list copies nothing. */
typedef struct {
    unsigned refs; /* snapshots that point here (device thread only) */
    size_t nrows;
    zr__subs_row_t rows[];
} s_rows_t;

/* What the changes since the list was made do to it. One change is
 * applied to a copy of the list (two copies of consecutive rows and
 * their bytes), which costs little more than copying it; more than one,
 * the list is made anew from the tree. */
typedef enum {
    S_LIST_SAME,   /* nothing */
    S_LIST_COUNT,  /* row `list_at`: a new count (of `list_topic`) */
    S_LIST_INSERT, /* `list_topic` (new) at row `list_at` */
    S_LIST_REMOVE, /* row `list_at` goes */
    S_LIST_ANEW    /* more than one change */
} s_list_change_t;

/* A published table. */
typedef struct s_snap {
    struct s_snap *next; /* replaced ones, waiting for their readers */
    atomic_uint refs;    /* readers holding it */
    s_rows_t *rows;
    zr__subs_view_t view;
} s_snap_t;

struct zr__subs_t {
    struct s_tree topics; /* by topic, in byte order */
    uint64_t total;       /* accepted subscriptions */
    uint64_t live;        /* topics with accepted subscriptions */
    uint64_t max;         /* 0: no limit */
    size_t max_size;      /* the longest topic taken; 0: any */
    uint64_t max_peer;    /* accepted ones of one connection; 0: any */
    uint64_t refused;     /* refused subscriptions libzmq still holds */
    zr__holders_t *holders;
    bool changed;         /* since the last publication */
    s_rows_t *rows;       /* the current list */
    s_list_change_t list; /* what changed in it since */
    size_t list_at;
    const s_topic_t *list_topic;
    _Atomic(s_snap_t *) snap;
    atomic_uint readers; /* between loading snap and taking a reference */
    s_snap_t *replaced;
    /* Counters, read by STATS from any thread. */
    _Atomic uint64_t st_total, st_topics, st_refused, st_refused_peer;
    _Atomic uint64_t st_duplicates, st_strays;
};

/* What a connection holds of a topic (holders.c), when it holds it. */
enum { S_HELD_REFUSED, S_HELD_ACCEPTED };

static int
s_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

static int
s_topic_cmp(const s_topic_t *a, const s_topic_t *b)
{
    return s_cmp(a->topic, a->size, b->topic, b->size);
}

/* RB_GENERATE_STATIC's own attribute, __unused, is one libbsd leaves
 * undefined (glibc names struct members so). */
#define S_RB_STATIC __attribute__((unused)) static
RB_GENERATE_INTERNAL(s_tree, s_topic, link, s_topic_cmp, S_RB_STATIC)
#undef S_RB_STATIC

static uint64_t
s_sum(const s_topic_t *t)
{
    return t ? t->sum : 0;
}

static void
s_augment(s_topic_t *t)
{
    t->sum = t->count + s_sum(RB_LEFT(t, link)) + s_sum(RB_RIGHT(t, link));
}

/* T's count changed: the sums above it with it. */
static void
s_fixup(s_topic_t *t)
{
    for (; t; t = RB_PARENT(t, link)) {
        s_augment(t);
    }
}

/* Device thread: a snapshot no reader holds any more. */
static void
s_snap_free(s_snap_t *snap)
{
    if (--snap->rows->refs == 0) {
        free(snap->rows);
    }
    free(snap);
}

void
zr__subs_set_max_size(zr__subs_t *self, size_t max_size)
{
    self->max_size = max_size;
}

void
zr__subs_set_max_per_peer(zr__subs_t *self, uint64_t max)
{
    self->max_peer = max;
}

zr__subs_t *
zr__subs_new(uint64_t max_subscriptions)
{
    zr__subs_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    RB_INIT(&self->topics);
    self->max = max_subscriptions;
    self->holders = zr__holders_new(S_HELD_ACCEPTED);
    if (!self->holders) {
        free(self);
        return NULL;
    }
    self->changed = true;
    self->list = S_LIST_ANEW;
    zr__subs_publish(self);
    if (!atomic_load(&self->snap)) {
        zr__subs_destroy(&self);
        errno = ENOMEM;
        return NULL;
    }
    return self;
}

/* Free every node, children first (no rebalancing: the tree goes). */
static void
s_topics_free(struct s_tree *topics)
{
    s_topic_t *t = RB_ROOT(topics);
    while (t) {
        if (RB_LEFT(t, link)) {
            t = RB_LEFT(t, link);
            continue;
        }
        if (RB_RIGHT(t, link)) {
            t = RB_RIGHT(t, link);
            continue;
        }
        s_topic_t *parent = RB_PARENT(t, link);
        if (parent && RB_LEFT(parent, link) == t) {
            RB_LEFT(parent, link) = NULL;
        }
        else if (parent) {
            RB_RIGHT(parent, link) = NULL;
        }
        free(t);
        t = parent;
    }
    RB_INIT(topics);
}

void
zr__subs_destroy(zr__subs_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__subs_t *self = *self_p;
    s_topics_free(&self->topics);
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

/* The entry for TOPIC, or NULL. */
static s_topic_t *
s_find(const zr__subs_t *self, const unsigned char *topic, size_t size)
{
    s_topic_t *t = RB_ROOT(&self->topics);
    while (t) {
        int c = s_cmp(topic, size, t->topic, t->size);
        if (c == 0) {
            return t;
        }
        t = c < 0 ? RB_LEFT(t, link) : RB_RIGHT(t, link);
    }
    return NULL;
}

/* The entry for TOPIC, made if need be (NULL when out of memory). */
static s_topic_t *
s_entry(zr__subs_t *self, const unsigned char *topic, size_t size)
{
    s_topic_t *t = s_find(self, topic, size);
    if (t) {
        return t;
    }
    t = malloc(sizeof *t + size);
    if (!t) {
        return NULL;
    }
    t->count = t->refused = t->sum = 0;
    t->size = size;
    memcpy(t->topic, topic, size);
    RB_INSERT(s_tree, &self->topics, t);
    return t;
}

static void
s_entry_drop_if_empty(zr__subs_t *self, s_topic_t *t)
{
    if (t->count || t->refused) {
        return;
    }
    RB_REMOVE(s_tree, &self->topics, t);
    free(t);
}

/* Where TOPIC is in ROWS, or would go (with *found false). */
static size_t
s_row_find(const s_rows_t *rows, const unsigned char *topic, size_t size,
           bool *found)
{
    size_t lo = 0, hi = rows->nrows;
    *found = false;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const zr__subs_row_t *r = &rows->rows[mid];
        int c = s_cmp(r->topic, r->size, topic, size);
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
    return lo;
}

/* T's count of accepted subscriptions changed: what that does to the
 * list STATS shows. */
static void
s_list_note(zr__subs_t *self, const s_topic_t *t)
{
    const s_rows_t *rows = self->rows;
    if (self->list != S_LIST_SAME || !rows) {
        self->list = S_LIST_ANEW;
        return;
    }
    bool found;
    size_t at = s_row_find(rows, t->topic, t->size, &found);
    if (found) {
        self->list = t->count ? S_LIST_COUNT : S_LIST_REMOVE;
    }
    else if (at < S_LIST_MAX && t->count) {
        self->list = S_LIST_INSERT;
    }
    else {
        return; /* past a full list */
    }
    self->list_at = at;
    self->list_topic = t;
}

/* OVER_PEER: its connection holds max_subscriptions_per_peer already. */
static zr__subs_change_t
s_subscribe(zr__subs_t *self, const unsigned char *topic, size_t size,
            bool over_peer)
{
    s_topic_t *t = s_entry(self, topic, size);
    if (!t || over_peer || (self->max && self->total >= self->max) ||
        (self->max_size && size > self->max_size)) {
        if (t) {
            t->refused++;
            self->refused++;
        }
        zr__stat_add(t && over_peer ? &self->st_refused_peer
                                    : &self->st_refused,
                     1);
        return ZR__SUBS_REFUSED; /* out of memory: the same */
    }
    self->live += t->count++ == 0;
    s_fixup(t);
    self->total++;
    self->changed = true;
    s_list_note(self, t);
    return ZR__SUBS_ADDED;
}

/* End one subscription to TOPIC, an accepted one unless REFUSED_FIRST
 * and the topic has refused ones. */
static zr__subs_change_t
s_unsubscribe(zr__subs_t *self, const unsigned char *topic, size_t size,
              bool refused_first)
{
    s_topic_t *t = s_find(self, topic, size);
    if (!t) {
        zr__stat_add(&self->st_strays, 1);
        return ZR__SUBS_IGNORED;
    }
    zr__subs_change_t change = ZR__SUBS_IGNORED;
    if (t->refused && (refused_first || !t->count)) {
        t->refused--;
        self->refused--;
    }
    else {
        self->live -= --t->count == 0;
        s_fixup(t);
        self->total--;
        self->changed = true;
        s_list_note(self, t);
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
    bool over_peer =
        self->max_peer && zr__holders_count(self->holders, who) >= self->max_peer;
    zr__subs_change_t change = s_subscribe(self, topic, size, over_peer);
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
        return s_subscribe(self, data + 1, size - 1, false);
    }
    return s_unsubscribe(self, data + 1, size - 1, true);
}

uint64_t
zr__subs_total(const zr__subs_t *self)
{
    return self->total;
}

uint64_t
zr__subs_refused_held(const zr__subs_t *self)
{
    return self->refused;
}

/* Accepted subscriptions to the topics before P (LEN bytes), and with
 * WITHIN to those that start with P as well. */
static uint64_t
s_sum_before(const zr__subs_t *self, const unsigned char *p, size_t len,
             bool within)
{
    uint64_t n = 0;
    const s_topic_t *t = RB_ROOT(&self->topics);
    while (t) {
        bool before;
        if (within) {
            size_t l = t->size < len ? t->size : len;
            before = memcmp(t->topic, p, l) <= 0;
        }
        else {
            before = s_cmp(t->topic, t->size, p, len) < 0;
        }
        if (before) {
            n += s_sum(RB_LEFT(t, link)) + t->count;
            t = RB_RIGHT(t, link);
        }
        else {
            t = RB_LEFT(t, link);
        }
    }
    return n;
}

/* The last topic before P (LEN bytes), or at it too with AT; NULL when
 * there is none. */
static const s_topic_t *
s_last_before(const zr__subs_t *self, const unsigned char *p, size_t len,
              bool at)
{
    const s_topic_t *t = RB_ROOT(&self->topics), *last = NULL;
    while (t) {
        int c = s_cmp(t->topic, t->size, p, len);
        if (c < 0 || (at && c == 0)) {
            last = t;
            t = RB_RIGHT(t, link);
        }
        else {
            t = RB_LEFT(t, link);
        }
    }
    return last;
}

/* Accepted subscriptions to the topics shorter than PREFIX that it starts
 * with. Such a topic T comes before PREFIX; so does the last topic Q
 * before it. If Q is a prefix too, the next ones are among Q's. If not,
 * they are no longer than the bytes Q and PREFIX share (one longer would
 * come after Q): look before those bytes, and at them. Each step finds a
 * prefix or shortens what is looked for, so this takes as many steps as
 * there are such topics and topics in the way, not one per length. */
static uint64_t
s_sum_prefixes_of(const zr__subs_t *self, const unsigned char *p, size_t len)
{
    uint64_t n = 0;
    bool at = false;
    const s_topic_t *q;
    while (len && (q = s_last_before(self, p, len, at))) {
        size_t l = q->size < len ? q->size : len, same = 0;
        while (same < l && q->topic[same] == p[same]) {
            same++;
        }
        if (same == q->size) {
            n += q->count; /* a prefix of P: next, the shorter ones */
            len = q->size;
            at = false;
        }
        else {
            len = same;
            at = true;
        }
    }
    if (at && len == 0) {
        const s_topic_t *empty = s_find(self, p, 0);
        n += empty ? empty->count : 0;
    }
    return n;
}

uint64_t
zr__subs_overlap(const zr__subs_t *self, const void *prefix, size_t len)
{
    if (len == 0) {
        return self->total;
    }
    const unsigned char *p = prefix;
    /* Topics that are prefixes of PREFIX (shorter than it). */
    uint64_t n = s_sum_prefixes_of(self, p, len);
    /* Topics starting with PREFIX: a contiguous range from it. */
    return n + s_sum_before(self, p, len, true) -
           s_sum_before(self, p, len, false);
}

/* The first topic with accepted subscriptions in T's subtree, or NULL. */
static const s_topic_t *
s_first_live(const s_topic_t *t)
{
    while (t && t->sum) {
        const s_topic_t *left = RB_LEFT(t, link);
        if (left && left->sum) {
            t = left;
        }
        else if (t->count) {
            return t;
        }
        else {
            t = RB_RIGHT(t, link);
        }
    }
    return NULL;
}

/* The next topic after T with accepted subscriptions, or NULL. */
static const s_topic_t *
s_next_live(const s_topic_t *t)
{
    const s_topic_t *next = s_first_live(RB_RIGHT(t, link));
    for (const s_topic_t *up = RB_PARENT(t, link); !next && up;
         t = up, up = RB_PARENT(up, link)) {
        if (RB_LEFT(up, link) == t) {
            next = up->count ? up : s_first_live(RB_RIGHT(up, link));
        }
    }
    return next;
}

/* A list of NROWS rows and BYTES of topic text; *TEXT: where that goes. */
static s_rows_t *
s_rows_alloc(size_t nrows, size_t bytes, unsigned char **text)
{
    s_rows_t *rows =
        malloc(sizeof *rows + nrows * sizeof rows->rows[0] + bytes + 1);
    if (!rows) {
        return NULL;
    }
    rows->refs = 0;
    rows->nrows = nrows;
    *text = (unsigned char *) &rows->rows[nrows];
    return rows;
}

/* A new list of the first S_LIST_MAX topics with subscriptions. */
static s_rows_t *
s_rows_new(const zr__subs_t *self)
{
    size_t nrows = 0, bytes = 0;
    const s_topic_t *first = s_first_live(RB_ROOT(&self->topics));
    for (const s_topic_t *t = first; t && nrows < S_LIST_MAX;
         t = s_next_live(t)) {
        nrows++;
        bytes += t->size;
    }
    unsigned char *text;
    s_rows_t *rows = s_rows_alloc(nrows, bytes, &text);
    if (!rows) {
        return NULL;
    }
    const s_topic_t *t = first;
    for (size_t n = 0; n < nrows; n++, t = s_next_live(t)) {
        memcpy(text, t->topic, t->size);
        rows->rows[n] = (zr__subs_row_t){text, t->size, t->count};
        text += t->size;
    }
    return rows;
}

/* The first topic after P (LEN bytes) with accepted subscriptions, or
 * NULL. Those after P are the nodes where the way down to P turns left
 * and their right subtrees; the last such node with one is the one. */
static const s_topic_t *
s_first_live_after(const zr__subs_t *self, const unsigned char *p, size_t len)
{
    const s_topic_t *t = RB_ROOT(&self->topics), *after = NULL;
    while (t) {
        if (s_cmp(t->topic, t->size, p, len) > 0) {
            if (t->count || s_sum(RB_RIGHT(t, link))) {
                after = t;
            }
            t = RB_LEFT(t, link);
        }
        else {
            t = RB_RIGHT(t, link);
        }
    }
    return !after || after->count ? after : s_first_live(RB_RIGHT(after, link));
}

/* The bytes of rows A to B (excluded) of ROWS: consecutive. */
static size_t
s_rows_bytes(const s_rows_t *rows, size_t a, size_t b)
{
    if (a == b) {
        return 0;
    }
    const zr__subs_row_t *last = &rows->rows[b - 1];
    return (size_t) (last->topic + last->size - rows->rows[a].topic);
}

/* Rows A to B (excluded) of OLD to ROWS from row AT, their bytes to
 * TEXT; where the next bytes go. */
static unsigned char *
s_rows_copy(s_rows_t *rows, size_t at, const s_rows_t *old, size_t a, size_t b,
            unsigned char *text)
{
    if (a == b) {
        return text;
    }
    const unsigned char *from = old->rows[a].topic;
    size_t bytes = s_rows_bytes(old, a, b);
    memcpy(text, from, bytes);
    memcpy(&rows->rows[at], &old->rows[a], (b - a) * sizeof rows->rows[0]);
    for (size_t r = at; r < at + (b - a); r++) {
        rows->rows[r].topic = text + (rows->rows[r].topic - from);
    }
    return text + bytes;
}

/* Topic T as row AT of ROWS, its bytes to TEXT; where the next go. */
static unsigned char *
s_rows_put(s_rows_t *rows, size_t at, const s_topic_t *t, unsigned char *text)
{
    memcpy(text, t->topic, t->size);
    rows->rows[at] = (zr__subs_row_t){text, t->size, t->count};
    return text + t->size;
}

/* The list with the one change since it was made: the rows before
 * `list_at`, the changed or new one, the rest from row J to K, and after
 * a removal from a truncated list the next topic. */
static s_rows_t *
s_rows_edit(const zr__subs_t *self)
{
    const s_rows_t *old = self->rows;
    size_t at = self->list_at, j = at + 1, k = old->nrows;
    const s_topic_t *put = self->list_topic, *next = NULL;
    if (self->list == S_LIST_INSERT) {
        j = at;
        k = old->nrows < S_LIST_MAX ? old->nrows : S_LIST_MAX - 1;
    }
    else if (self->list == S_LIST_REMOVE) {
        put = NULL;
        const zr__subs_row_t *last = &old->rows[old->nrows - 1];
        if (self->live > old->nrows - 1) {
            next = s_first_live_after(self, last->topic, last->size);
        }
    }
    size_t nrows = at + (put != NULL) + (k - j) + (next != NULL);
    size_t bytes = s_rows_bytes(old, 0, at) + s_rows_bytes(old, j, k) +
                   (put ? put->size : 0) + (next ? next->size : 0);
    unsigned char *text;
    s_rows_t *rows = s_rows_alloc(nrows, bytes, &text);
    if (!rows) {
        return NULL;
    }
    text = s_rows_copy(rows, 0, old, 0, at, text);
    size_t r = at;
    if (put) {
        text = s_rows_put(rows, r++, put, text);
    }
    text = s_rows_copy(rows, r, old, j, k, text);
    r += k - j;
    if (next) {
        s_rows_put(rows, r, next, text);
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
    s_rows_t *rows = self->list == S_LIST_SAME   ? self->rows
                     : self->list == S_LIST_ANEW ? s_rows_new(self)
                                                 : s_rows_edit(self);
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
    self->changed = false;
    self->list = S_LIST_SAME;
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
     .help = "Subscriptions refused beyond max_subscriptions (or longer "
             "than max_subscription_size).",
     .offset = S_AT(st_refused)},
    {.key = "refused_per_peer",
     .metric = "subscriptions_refused_total",
     .labels = "reason=\"max_subscriptions_per_peer\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Subscriptions refused because their connection held "
             "max_subscriptions_per_peer already (tcp and ipc peers).",
     .offset = S_AT(st_refused_peer)},
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
