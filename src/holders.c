/* holders.c - which subscriber connection holds which subscription:
 * libzmq's per-pipe view of the subscriptions, for the connections
 * libzmq names.
 * SPDX-License-Identifier: MIT
 *
 * libzmq's XPUB keeps a subscription once per pipe: a second subscribe
 * to a topic the pipe holds changes nothing, nor does an unsubscribe of a
 * topic it does not hold, and when the pipe goes libzmq unsubscribes each
 * topic it held, once. With ZMQ_XPUB_VERBOSER the XPUB still reports
 * every such subscribe and unsubscribe, and it never says which pipe one
 * came from; counting the reports would count a duplicate forever.
 *
 * What libzmq does say, for tcp and ipc, is which connection: a message's
 * metadata holds the connection's file descriptor ("__fd", what
 * zmq_msg_get(ZMQ_SRCFD) reads), and the metadata object is the
 * connection's own. The table keeps, per descriptor, a copy of a message
 * of the connection last seen on it: the copy holds a reference to that
 * connection's metadata, so the metadata lives on and no later
 * connection's can take its address; a message whose "__fd" string is at
 * another address comes from a later connection. libzmq hands over a
 * departed connection's messages before any of the next one on its
 * descriptor, so by then the first is done with and is forgotten
 * (whatever it held was unsubscribed for it as it went). The forwarder's
 * backend has one pipe per connection (ZMQ_IMMEDIATE, see device.c), so
 * this table of (connection, topic) follows libzmq's per-pipe one. It
 * holds at most what the live connections hold and what the last one on
 * each descriptor held: bounded by the descriptors.
 *
 * inproc peers carry no metadata, and neither do the unsubscribes libzmq
 * makes for a pipe that went: those stay anonymous to this table.
 */
#include "zr_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* One topic one connection holds. */
typedef struct s_hold {
    struct s_hold *chain;       /* in its hash bucket */
    struct s_hold *prev, *next; /* in its connection's list */
    int fd;
    int state;
    uint64_t hash;
    size_t size;
    unsigned char topic[];
} s_hold_t;

/* The connection last seen on one descriptor. */
typedef struct {
    bool used;
    const void *meta; /* its metadata's "__fd" string */
    zmq_msg_t keep;   /* a message of it, which keeps its metadata */
    s_hold_t *holds;
    uint64_t counted; /* its holds in a state zr__holders_count counts */
} s_conn_t;

struct zr__holders_t {
    int counted_state; /* the state zr__holders_count counts */
    s_conn_t *conns;   /* by descriptor */
    size_t nconns;
    s_hold_t **buckets;
    size_t nbuckets, nholds;
};

zr__holders_t *
zr__holders_new(int counted_state)
{
    zr__holders_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->counted_state = counted_state;
    return self;
}

static void s_forget(zr__holders_t *self, int fd);

void
zr__holders_destroy(zr__holders_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__holders_t *self = *self_p;
    for (size_t fd = 0; fd < self->nconns; fd++) {
        s_forget(self, (int) fd);
    }
    free(self->conns);
    free(self->buckets);
    free(self);
    *self_p = NULL;
}

static uint64_t
s_hash(int fd, const void *topic, size_t size)
{
    return zr__hash(topic, size) ^ ((uint64_t) fd * 0x9e3779b97f4a7c15ull);
}

static s_hold_t **
s_bucket(const zr__holders_t *self, uint64_t hash)
{
    return &self->buckets[hash & (self->nbuckets - 1)];
}

/* Unlink H from its bucket and its connection, and free it. */
static void
s_hold_free(zr__holders_t *self, s_hold_t *h)
{
    for (s_hold_t **p = s_bucket(self, h->hash); *p; p = &(*p)->chain) {
        if (*p == h) {
            *p = h->chain;
            break;
        }
    }
    if (h->prev) {
        h->prev->next = h->next;
    }
    else {
        self->conns[h->fd].holds = h->next;
    }
    if (h->next) {
        h->next->prev = h->prev;
    }
    self->conns[h->fd].counted -= h->state == self->counted_state;
    self->nholds--;
    free(h);
}

static void
s_forget(zr__holders_t *self, int fd)
{
    s_conn_t *c = &self->conns[fd];
    while (c->holds) {
        s_hold_free(self, c->holds);
    }
    if (c->used) {
        zmq_msg_close(&c->keep);
    }
    c->used = false;
    c->meta = NULL;
}

/* Make room for descriptor FD. */
static int
s_conns_reserve(zr__holders_t *self, int fd)
{
    if ((size_t) fd < self->nconns) {
        return 0;
    }
    size_t n = self->nconns ? self->nconns : 64;
    while (n <= (size_t) fd) {
        n *= 2;
    }
    s_conn_t *conns = realloc(self->conns, n * sizeof *conns);
    if (!conns) {
        return -1;
    }
    memset(conns + self->nconns, 0, (n - self->nconns) * sizeof *conns);
    self->conns = conns;
    self->nconns = n;
    return 0;
}

int
zr__holders_who(zr__holders_t *self, zmq_msg_t *frame)
{
    const char *fd_text = zmq_msg_gets(frame, "__fd");
    int64_t fd;
    if (!fd_text || zr__parse_int(fd_text, 0, INT32_MAX - 1, &fd) != 0 ||
        s_conns_reserve(self, (int) fd) != 0) {
        return -1;
    }
    s_conn_t *c = &self->conns[fd];
    if (!c->used || c->meta != (const void *) fd_text) {
        s_forget(self, (int) fd); /* one that went: counted as it went */
        zmq_msg_init(&c->keep);
        if (zmq_msg_copy(&c->keep, frame) != 0) {
            zmq_msg_close(&c->keep);
            return -1;
        }
        c->used = true;
        c->meta = fd_text;
    }
    return (int) fd;
}

static s_hold_t *
s_find(const zr__holders_t *self, int who, const void *topic, size_t size)
{
    if (!self->nbuckets) {
        return NULL;
    }
    uint64_t hash = s_hash(who, topic, size);
    for (s_hold_t *h = *s_bucket(self, hash); h; h = h->chain) {
        if (h->hash == hash && h->fd == who && h->size == size &&
            memcmp(h->topic, topic, size) == 0) {
            return h;
        }
    }
    return NULL;
}

int
zr__holders_get(const zr__holders_t *self, int who, const void *topic,
                size_t size)
{
    const s_hold_t *h = s_find(self, who, topic, size);
    return h ? h->state : -1;
}

/* Keep the buckets between one and two per hold. */
static int
s_rehash(zr__holders_t *self)
{
    size_t n = self->nbuckets ? self->nbuckets : 64;
    while (n < self->nholds) {
        n *= 2;
    }
    while (n > 64 && n / 4 > self->nholds) {
        n /= 2;
    }
    if (n == self->nbuckets) {
        return 0;
    }
    s_hold_t **buckets = calloc(n, sizeof *buckets);
    if (!buckets) {
        return self->nbuckets ? 0 : -1; /* the old ones still serve */
    }
    for (size_t i = 0; i < self->nbuckets; i++) {
        while (self->buckets[i]) {
            s_hold_t *h = self->buckets[i];
            self->buckets[i] = h->chain;
            h->chain = buckets[h->hash & (n - 1)];
            buckets[h->hash & (n - 1)] = h;
        }
    }
    free(self->buckets);
    self->buckets = buckets;
    self->nbuckets = n;
    return 0;
}

int
zr__holders_put(zr__holders_t *self, int who, const void *topic, size_t size,
                int state)
{
    s_hold_t *h = malloc(sizeof *h + size);
    if (!h) {
        errno = ENOMEM;
        return -1;
    }
    self->nholds++;
    if (s_rehash(self) != 0) {
        self->nholds--;
        free(h);
        errno = ENOMEM;
        return -1;
    }
    h->fd = who;
    h->state = state;
    h->hash = s_hash(who, topic, size);
    h->size = size;
    memcpy(h->topic, topic, size);
    s_hold_t **bucket = s_bucket(self, h->hash);
    h->chain = *bucket;
    *bucket = h;
    s_conn_t *c = &self->conns[who];
    h->prev = NULL;
    h->next = c->holds;
    if (c->holds) {
        c->holds->prev = h;
    }
    c->holds = h;
    c->counted += state == self->counted_state;
    return 0;
}

uint64_t
zr__holders_count(const zr__holders_t *self, int who)
{
    return who >= 0 && (size_t) who < self->nconns ? self->conns[who].counted
                                                    : 0;
}

void
zr__holders_drop(zr__holders_t *self, int who, const void *topic, size_t size)
{
    s_hold_t *h = s_find(self, who, topic, size);
    if (h) {
        s_hold_free(self, h);
        s_rehash(self);
    }
}
