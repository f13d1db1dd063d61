/* titanic.c - durable requests for the majordomo (ZeroMQ RFC 9, the
 * Titanic Service Protocol), stored in LMDB (docs/MAJORDOMO.md,
 * "Durability: Titanic").
 * SPDX-License-Identifier: MIT
 *
 * The broker itself serves titanic.request, titanic.reply and
 * titanic.close. A request is stored, and only once the write
 * transaction holding it has committed (LMDB's default: fsync) does its
 * client get "200" and the UUID; then it goes to its service through the
 * broker as if a client had sent it, its "client" being the UUID
 * (mdp.c), and the worker's final reply is stored in its turn.
 *
 * Group commit: requests, replies and closes are staged while the engine
 * reads a burst; the handler's timer, called right after the burst,
 * commits them all in one write transaction (one fsync) and then sends
 * the acknowledgements. Nothing waits on the disk but that commit, which
 * runs in the device's thread: requests that arrive during its fsync
 * make the next burst and share the next commit. titanic_commit = each
 * commits every request and reply on its own (the bench's comparison).
 *
 * One LMDB environment in DIR, two named databases keyed by the 32
 * hex-digit UUID: "requests" (the service name and the body frames) and
 * "replies" (the reply's frames), each a length-prefixed list of byte
 * strings (little-endian 32-bit lengths). Bounded by titanic_max_bytes
 * (the map's size): a commit that finds the map or the disk full is
 * undone, its requests tried again each on its own, and those that do
 * not fit answered "500" with a reason, not acknowledged; the broker
 * goes on.
 */
#include "zr_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_UUID 32
#define S_WHY_MAX 200

typedef enum { S_OP_REQUEST, S_OP_REPLY, S_OP_CLOSE } s_kind_t;

/* What a staged operation came to in the transaction. */
typedef enum { S_NONE, S_DONE, S_GONE } s_result_t;

typedef struct s_op {
    s_kind_t kind;
    char uuid[S_UUID + 1];
    zr__msg_t header; /* REQUEST, CLOSE: the client's reply so far */
    zr__msg_t frames; /* REQUEST: service, body...; REPLY: the reply */
    s_result_t result;
    bool was_pending; /* CLOSE: it took a request with no reply */
    int err;          /* REQUEST: why its own commit failed (0: none) */
    struct s_op *next;
} s_op_t;

/* [ha_sync] Answers held until the passive node has their group. */
typedef struct s_held {
    uint64_t seq;
    int64_t deadline;
    zr__msg_t *msgs;
    size_t n, cap;
    struct s_held *next;
} s_held_t;

struct zr__titanic_t {
    zr__engine_t *engine;
    void *socket;
    char name[64];
    char dir[PATH_MAX];
    uint64_t max_bytes;
    bool each;
    int lock_fd;
    MDB_env *env;
    MDB_dbi requests, replies;
    s_op_t *head, *tail;
    size_t nstaged;
    zr__titanic_dispatch_fn *dispatch;
    void *arg;
    _Atomic uint64_t st_stored, st_acked, st_replies, st_fetched, st_polls,
        st_unknown, st_closed, st_pending, st_full, st_errors, st_invalid,
        st_commits, st_committed, st_batch_max, st_bytes, st_map, st_recovered,
        st_dropped;
    /* [ha_sync] replication to the other node of a pair (below). */
    bool ha_mode;         /* on a pair: dispatch only while active */
    bool recover_pending; /* became active: dispatch what is stored */
    zr__ha_t *ha;
    void *router, *dealer;
    bool wait;     /* ha_sync = yes */
    int heartbeat; /* ms */
    int state;     /* the node's, as last told */
    s_held_t *hold, *held_head, *held_tail;
    /* the active's side */
    unsigned char peer_id[256];
    size_t peer_id_len; /* 0: no passive has asked */
    uint64_t seq, acked;
    bool lagging; /* not waited on until it answers the last group */
    /* the passive's side */
    bool synced, in_snapshot;
    uint64_t applied;
    int64_t next_hello;
    zr__log_limit_t sync_limit;
    _Atomic uint64_t st_sync_sent, st_sync_acked, st_sync_degraded,
        st_sync_snap_sent, st_sync_snap_recv, st_sync_applied, st_sync_synced,
        st_sync_lag, st_sync_hellos, st_sync_gaps;
};

static void s_sync_group(zr__titanic_t *self, s_op_t *list);
static void s_sync_tick(zr__titanic_t *self);
static int s_recover(zr__titanic_t *self);

/* ---------------------------------------------------------------------
 * Encoding: a list of byte strings, each after its length (4 bytes,
 * little-endian).
 */

static size_t
s_encoded_size(const zr__msg_t *m)
{
    size_t n = 4;
    for (size_t i = 0; i < m->size; i++) {
        n += 4 + zmq_msg_size(&m->frames[i]);
    }
    return n;
}

static void
s_put32(unsigned char *p, size_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
    p[3] = (unsigned char) (v >> 24);
}

static size_t
s_get32(const unsigned char *p)
{
    return (size_t) p[0] | (size_t) p[1] << 8 | (size_t) p[2] << 16 |
           (size_t) p[3] << 24;
}

static void
s_encode(const zr__msg_t *m, unsigned char *out)
{
    s_put32(out, m->size);
    out += 4;
    for (size_t i = 0; i < m->size; i++) {
        size_t len = zmq_msg_size(&m->frames[i]);
        s_put32(out, len);
        memcpy(out + 4, zmq_msg_data(&m->frames[i]), len);
        out += 4 + len;
    }
}

/* The frames of VALUE appended to OUT: 0, or -1 (EPROTO: not ours). */
static int
s_decode(const MDB_val *value, zr__msg_t *out)
{
    const unsigned char *p = value->mv_data;
    size_t left = value->mv_size;
    if (left < 4) {
        errno = EPROTO;
        return -1;
    }
    size_t n = s_get32(p);
    p += 4;
    left -= 4;
    for (size_t i = 0; i < n; i++) {
        size_t len = left >= 4 ? s_get32(p) : SIZE_MAX;
        if (len > left - 4) {
            errno = EPROTO;
            return -1;
        }
        if (zr__msg_add(out, p + 4, len) != 0) {
            return -1;
        }
        p += 4 + len;
        left -= 4 + len;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * UUIDs: 32 hex digits (RFC 9), 128 random bits.
 */

static int
s_uuid(char out[S_UUID + 1])
{
    unsigned char bits[S_UUID / 2];
    size_t got = 0;
    while (got < sizeof bits) {
        ssize_t n = getrandom(bits + got, sizeof bits - got, 0);
        if (n < 0 && errno != EINTR) {
            return -1;
        }
        got += n > 0 ? (size_t) n : 0;
    }
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < sizeof bits; i++) {
        out[2 * i] = hex[bits[i] >> 4];
        out[2 * i + 1] = hex[bits[i] & 15];
    }
    out[S_UUID] = 0;
    return 0;
}

/* FRAME as a UUID, in upper case, into OUT; false when it is none. */
static bool
s_uuid_of(const zmq_msg_t *frame, char out[S_UUID + 1])
{
    if (zmq_msg_size((zmq_msg_t *) frame) != S_UUID) {
        return false;
    }
    const char *p = zmq_msg_data((zmq_msg_t *) frame);
    for (size_t i = 0; i < S_UUID; i++) {
        char c = p[i];
        if (c >= 'a' && c <= 'f') {
            c = (char) (c - 'a' + 'A');
        }
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
        out[i] = c;
    }
    out[S_UUID] = 0;
    return true;
}

/* ---------------------------------------------------------------------
 * Replies to clients: the header mdp.c made ([identity, (""), MDPC0v,
 * (FINAL), service]), then the status frame and what follows it.
 */

static void
s_answer(zr__titanic_t *self, zr__msg_t *header, const char *status,
         const char *text, const zr__msg_t *more)
{
    zr__msg_t copy = {NULL, 0, 0};
    int rc = zr__msg_addstr(header, status);
    if (rc == 0 && text) {
        rc = zr__msg_addstr(header, text);
    }
    if (rc == 0 && more && more->size) {
        rc = zr__msg_copy(&copy, more);
        if (rc == 0) {
            rc = zr__msg_take(header, &copy, 0);
        }
    }
    s_held_t *h = self->hold; /* [ha_sync] after the passive's answer */
    if (rc == 0 && h && h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        zr__msg_t *m = realloc(h->msgs, cap * sizeof *m);
        if (m) {
            h->msgs = m;
            h->cap = cap;
        }
    }
    if (rc == 0 && h && h->n < h->cap) {
        h->msgs[h->n] = (zr__msg_t){NULL, 0, 0};
        zr__msg_move(&h->msgs[h->n++], header);
    }
    else if (rc != 0 ||
             zr__engine_inject(self->engine, self->socket, header) != 0) {
        zr__stat_add(&self->st_dropped, 1);
    }
    zr__msg_destroy(&copy);
    zr__msg_destroy(header);
}

/* ---------------------------------------------------------------------
 * The store.
 */

static void
s_publish_size(zr__titanic_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(self->env, &info) == 0 &&
        mdb_env_stat(self->env, &st) == 0) {
        zr__stat_set(&self->st_bytes,
                     (uint64_t) (info.me_last_pgno + 1) * st.ms_psize);
        zr__stat_set(&self->st_map, (uint64_t) info.me_mapsize);
    }
}

/* Put or delete what the ops of LIST ask, those of KIND (-1: all),
 * in one write transaction; 0 or LMDB's (or errno's) code. */
static int
s_write(zr__titanic_t *self, s_op_t *list, int kind)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    bool begun = rc == 0;
    for (s_op_t *op = list; op && rc == 0; op = op->next) {
        if (kind >= 0 && (int) op->kind != kind) {
            continue;
        }
        MDB_val key = {S_UUID, op->uuid}, val, old;
        op->result = S_DONE;
        switch (op->kind) {
        case S_OP_REQUEST:
        case S_OP_REPLY:
            if (op->kind == S_OP_REPLY) {
                rc = mdb_get(txn, self->requests, &key, &old);
                if (rc == MDB_NOTFOUND) {
                    op->result = S_GONE; /* closed meanwhile */
                    rc = 0;
                    break;
                }
                if (rc != 0) {
                    break;
                }
            }
            val.mv_size = s_encoded_size(&op->frames);
            rc = mdb_put(
                txn, op->kind == S_OP_REQUEST ? self->requests : self->replies,
                &key, &val, MDB_RESERVE);
            if (rc == 0) {
                s_encode(&op->frames, val.mv_data);
            }
            break;
        case S_OP_CLOSE:
            op->was_pending =
                mdb_get(txn, self->requests, &key, &old) == 0 &&
                mdb_get(txn, self->replies, &key, &old) == MDB_NOTFOUND;
            rc = mdb_del(txn, self->requests, &key, NULL);
            if (rc == 0 || rc == MDB_NOTFOUND) {
                rc = mdb_del(txn, self->replies, &key, NULL);
            }
            rc = rc == MDB_NOTFOUND ? 0 : rc;
            break;
        }
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
    }
    else if (begun) {
        mdb_txn_abort(txn);
    }
    if (rc == 0) {
        uint64_t n = 0;
        for (s_op_t *op = list; op; op = op->next) {
            n += kind < 0 || (int) op->kind == kind;
        }
        zr__stat_add(&self->st_commits, 1);
        zr__stat_add(&self->st_committed, n);
        if (n > zr__stat_get(&self->st_batch_max)) {
            zr__stat_set(&self->st_batch_max, n);
        }
    }
    for (s_op_t *op = list; rc != 0 && op; op = op->next) {
        if (kind < 0 || (int) op->kind == kind) {
            op->result = S_NONE; /* undone */
        }
    }
    return rc;
}

/* Why a transaction failed, for the "500" reply and the log. */
static const char *
s_why(int rc, char *buf, size_t len)
{
    if (rc == MDB_MAP_FULL) {
        zr__errf(buf, len, "ZRELAY-ERROR full titanic_max_bytes reached");
    }
    else if (rc == ENOSPC || rc == EDQUOT) {
        zr__errf(buf, len, "ZRELAY-ERROR full no space left on the disk");
    }
    else if (rc == EIO) {
        /* LMDB says EIO for a short write: a disk that filled up
         * mid-commit (or failed). */
        zr__errf(buf, len,
                 "ZRELAY-ERROR full the disk is full or failing (I/O error)");
    }
    else {
        zr__errf(buf, len, "ZRELAY-ERROR storage %s", mdb_strerror(rc));
    }
    return buf;
}

static bool
s_full(int rc)
{
    return rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT || rc == EIO;
}

static void
s_op_free(s_op_t *op)
{
    zr__msg_destroy(&op->header);
    zr__msg_destroy(&op->frames);
    free(op);
}

void
zr__titanic_commit(zr__titanic_t *self)
{
    if (self && self->router) {
        s_sync_tick(self); /* [ha_sync] */
    }
    s_op_t *list = self ? self->head : NULL;
    if (!list) {
        return;
    }
    size_t n = self->nstaged;
    self->head = self->tail = NULL;
    self->nstaged = 0;
    int rc = s_write(self, list, -1);
    int failed = rc; /* the requests' outcome */
    if (rc != 0) {
        /* Full, or worse: the replies and closes on their own (a close
         * makes room for the next commit), the requests refused. */
        rc = s_write(self, list, S_OP_CLOSE);
        if (rc == 0) {
            rc = s_write(self, list, S_OP_REPLY);
        }
        char why[S_WHY_MAX];
        ZR_LOG_W("%s: titanic: a commit of %zu failed: %s", self->name, n,
                 s_why(failed, why, sizeof why));
        /* Full: each request on its own, so that one too big for what is
         * left (a client's oversize request) does not get the others of
         * its group refused. */
        for (s_op_t *op = list; rc == 0 && s_full(failed) && op;
             op = op->next) {
            if (op->kind == S_OP_REQUEST) {
                s_op_t *next = op->next;
                op->next = NULL;
                op->err = s_write(self, op, S_OP_REQUEST);
                op->next = next;
            }
        }
    }
    s_publish_size(self);
    if (self->router) {
        s_sync_group(self, list); /* [ha_sync] may set self->hold */
    }
    for (s_op_t *op = list, *next; op; op = next) {
        next = op->next;
        switch (op->kind) {
        case S_OP_REQUEST:
            if (op->result != S_DONE) {
                char why[S_WHY_MAX];
                int err = op->err ? op->err : failed;
                zr__stat_add(s_full(err) ? &self->st_full : &self->st_errors,
                             1);
                s_answer(self, &op->header, "500", s_why(err, why, sizeof why),
                         NULL);
                break;
            }
            zr__stat_add(&self->st_stored, 1);
            zr__stat_add(&self->st_pending, 1);
            zr__msg_t uuid = {NULL, 0, 0};
            if (zr__msg_addstr(&uuid, op->uuid) == 0) {
                zr__stat_add(&self->st_acked, 1);
            }
            s_answer(self, &op->header, "200", NULL, &uuid);
            zr__msg_destroy(&uuid);
            /* frames: service, body... */
            zr__msg_t body = {NULL, 0, 0};
            zr__msg_move(&body, &op->frames);
            self->dispatch(self->arg, op->uuid, zmq_msg_data(&body.frames[0]),
                           zmq_msg_size(&body.frames[0]), &body, 1);
            zr__msg_destroy(&body);
            break;
        case S_OP_REPLY:
            if (op->result == S_DONE) {
                zr__stat_add(&self->st_replies, 1);
                zr__stat_set(&self->st_pending,
                             zr__stat_get(&self->st_pending) - 1);
            }
            else {
                /* Closed meanwhile, or not stored: at a restart the
                 * request (if still there) goes to a worker again. */
                zr__stat_add(&self->st_dropped, 1);
            }
            break;
        case S_OP_CLOSE:
            if (op->result == S_DONE) {
                zr__stat_add(&self->st_closed, 1);
                if (op->was_pending) {
                    zr__stat_set(&self->st_pending,
                                 zr__stat_get(&self->st_pending) - 1);
                }
                s_answer(self, &op->header, "200", NULL, NULL);
            }
            else {
                char why[S_WHY_MAX];
                zr__stat_add(&self->st_errors, 1);
                s_answer(self, &op->header, "500",
                         s_why(rc ? rc : failed, why, sizeof why), NULL);
            }
            break;
        }
        s_op_free(op);
    }
    if (self->hold) {
        /* [ha_sync] the answers wait for the passive's */
        if (self->held_tail) {
            self->held_tail->next = self->hold;
        }
        else {
            self->held_head = self->hold;
        }
        self->held_tail = self->hold;
        self->hold = NULL;
    }
}

static void
s_stage(zr__titanic_t *self, s_op_t *op)
{
    if (self->tail) {
        self->tail->next = op;
    }
    else {
        self->head = op;
    }
    self->tail = op;
    self->nstaged++;
    if (self->each) {
        zr__titanic_commit(self);
    }
    else {
        /* The timer, right after this burst. */
        zr__engine_set_deadline(self->engine, zr__now_ms());
    }
}

/* ---------------------------------------------------------------------
 * The services.
 */

static bool
s_prefixed(const void *name, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(name, prefix, n) == 0;
}

/* titanic.reply: "200" and the reply, "300" while there is none yet,
 * "400" for a UUID unknown here. */
static void
s_reply(zr__titanic_t *self, zr__msg_t *header, const char *uuid)
{
    MDB_txn *txn;
    MDB_val key = {S_UUID, (void *) uuid}, val;
    zr__msg_t frames = {NULL, 0, 0};
    char why[S_WHY_MAX];
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        zr__stat_add(&self->st_errors, 1);
        s_answer(self, header, "500", s_why(rc, why, sizeof why), NULL);
        return;
    }
    rc = mdb_get(txn, self->replies, &key, &val);
    if (rc == 0) {
        if (s_decode(&val, &frames) != 0) {
            mdb_txn_abort(txn);
            zr__msg_destroy(&frames);
            zr__stat_add(&self->st_errors, 1);
            s_answer(self, header, "500",
                     "ZRELAY-ERROR storage a stored reply is corrupt", NULL);
            return;
        }
        mdb_txn_abort(txn);
        zr__stat_add(&self->st_fetched, 1);
        s_answer(self, header, "200", NULL, &frames);
        zr__msg_destroy(&frames);
        return;
    }
    if (rc == MDB_NOTFOUND) {
        rc = mdb_get(txn, self->requests, &key, &val);
    }
    mdb_txn_abort(txn);
    if (rc == 0) {
        zr__stat_add(&self->st_polls, 1);
        s_answer(self, header, "300", NULL, NULL);
    }
    else if (rc == MDB_NOTFOUND) {
        zr__stat_add(&self->st_unknown, 1);
        s_answer(self, header, "400", NULL, NULL);
    }
    else {
        zr__stat_add(&self->st_errors, 1);
        s_answer(self, header, "500", s_why(rc, why, sizeof why), NULL);
    }
}

static void
s_invalid(zr__titanic_t *self, zr__msg_t *header, const char *text)
{
    zr__stat_add(&self->st_invalid, 1);
    s_answer(self, header, "400", text, NULL);
}

void
zr__titanic_client(zr__titanic_t *self, zr__msg_t *header, const char *svc,
                   size_t len, zr__msg_t *msg, size_t at)
{
    size_t nbody = at < msg->size ? msg->size - at : 0;
    char uuid[S_UUID + 1];
    if (len == 15 && memcmp(svc, "titanic.request", 15) == 0) {
        if (nbody < 2) {
            s_invalid(
                self, header,
                "ZRELAY-ERROR invalid a service name and a body expected");
            return;
        }
        const zmq_msg_t *name = &msg->frames[at];
        size_t nlen = zmq_msg_size((zmq_msg_t *) name);
        const void *ndata = zmq_msg_data((zmq_msg_t *) name);
        if (nlen == 0 || nlen > 255 || s_prefixed(ndata, nlen, "titanic.") ||
            s_prefixed(ndata, nlen, "mmi.")) {
            s_invalid(self, header,
                      "ZRELAY-ERROR invalid not a service Titanic stores "
                      "requests for (titanic.*, mmi.*, or no name)");
            return;
        }
        s_op_t *op = calloc(1, sizeof *op);
        if (!op || s_uuid(op->uuid) != 0) {
            free(op);
            zr__stat_add(&self->st_errors, 1);
            s_answer(self, header, "500", "ZRELAY-ERROR storage no memory",
                     NULL);
            return;
        }
        op->kind = S_OP_REQUEST;
        zr__msg_move(&op->header, header);
        if (zr__msg_take(&op->frames, msg, at) != 0) {
            zr__msg_move(header, &op->header);
            s_op_free(op);
            zr__stat_add(&self->st_errors, 1);
            s_answer(self, header, "500", "ZRELAY-ERROR storage no memory",
                     NULL);
            return;
        }
        s_stage(self, op);
        return;
    }
    bool reply = len == 13 && memcmp(svc, "titanic.reply", 13) == 0;
    bool close = len == 13 && memcmp(svc, "titanic.close", 13) == 0;
    if (!reply && !close) {
        s_invalid(self, header,
                  "ZRELAY-ERROR invalid titanic.request, titanic.reply and "
                  "titanic.close are the Titanic services");
        return;
    }
    if (nbody < 1 || !s_uuid_of(&msg->frames[at], uuid)) {
        s_invalid(self, header, "ZRELAY-ERROR invalid not a UUID");
        return;
    }
    if (reply) {
        s_reply(self, header, uuid);
        return;
    }
    s_op_t *op = calloc(1, sizeof *op);
    if (!op) {
        zr__stat_add(&self->st_errors, 1);
        s_answer(self, header, "500", "ZRELAY-ERROR storage no memory", NULL);
        return;
    }
    op->kind = S_OP_CLOSE;
    memcpy(op->uuid, uuid, sizeof uuid);
    zr__msg_move(&op->header, header);
    s_stage(self, op);
}

void
zr__titanic_reply(zr__titanic_t *self, const char *uuid, zr__msg_t *reply)
{
    s_op_t *op = calloc(1, sizeof *op);
    if (!op) {
        zr__stat_add(&self->st_dropped, 1);
        return;
    }
    op->kind = S_OP_REPLY;
    memcpy(op->uuid, uuid, S_UUID);
    zr__msg_move(&op->frames, reply);
    s_stage(self, op);
}

/* ---------------------------------------------------------------------
 * Life.
 */

static zr__titanic_t *
s_open_failed(zr__titanic_t *self, char *err, size_t errlen, const char *what,
              int rc)
{
    zr__errf(err, errlen, "titanic: cannot %s '%s': %s", what, self->dir,
             rc > 0 && rc < 1000 ? strerror(rc) : mdb_strerror(rc));
    zr__titanic_destroy(&self);
    errno = rc > 0 && rc < 1000 ? rc : EIO;
    return NULL;
}

zr__titanic_t *
zr__titanic_new(zr__engine_t *engine, void *socket, const char *name,
                const zr__titanic_opts_t *opts, char *err, size_t errlen)
{
    zr__titanic_t *self = calloc(1, sizeof *self);
    if (!self) {
        zr__errf(err, errlen, "titanic: no memory");
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->socket = socket;
    self->lock_fd = -1;
    snprintf(self->name, sizeof self->name, "%s", name);
    snprintf(self->dir, sizeof self->dir, "%s", opts->dir);
    self->max_bytes = opts->max_bytes;
    self->each = opts->commit_each;
    self->ha_mode = opts->ha;
    if (mkdir(self->dir, 0700) != 0 && errno != EEXIST) {
        return s_open_failed(self, err, errlen, "create", errno);
    }
    /* One broker per directory: a second would dispatch the same
     * requests. The lock goes with the process, kill -9 included. */
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/titanic.lock", self->dir);
    self->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0) {
        return s_open_failed(self, err, errlen, "open", errno);
    }
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            zr__errf(err, errlen, "titanic: '%s' is in use by another broker",
                     self->dir);
            zr__titanic_destroy(&self);
            errno = EBUSY;
            return NULL;
        }
        return s_open_failed(self, err, errlen, "lock", e);
    }
    MDB_txn *txn = NULL;
    int rc = mdb_env_create(&self->env);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(self->env, 2);
    }
    if (rc == 0) {
        rc = mdb_env_set_mapsize(self->env, (size_t) self->max_bytes);
    }
    if (rc == 0) {
        /* MDB_NOTLS: read transactions are not tied to a thread (the
         * device opens in one and runs in another). */
        rc = mdb_env_open(self->env, self->dir, MDB_NOTLS, 0600);
    }
    if (rc != 0) {
        return s_open_failed(self, err, errlen, "open", rc);
    }
    int dead;
    mdb_reader_check(self->env, &dead); /* slots of a killed process */
    rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "requests", MDB_CREATE, &self->requests);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "replies", MDB_CREATE, &self->replies);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
    }
    else if (txn) {
        mdb_txn_abort(txn);
    }
    if (rc != 0) {
        return s_open_failed(self, err, errlen, "open the databases in", rc);
    }
    s_publish_size(self);
    return self;
}

int
zr__titanic_start(zr__titanic_t *self, zr__titanic_dispatch_fn *dispatch,
                  void *arg)
{
    self->dispatch = dispatch;
    self->arg = arg;
    /* [ha_sync] On a pair, only once the node is active. */
    return self->ha_mode ? 0 : s_recover(self);
}

static int
s_recover(zr__titanic_t *self)
{
    /* Every stored request with no reply goes to its service again: the
     * reply of one a worker handled before the broker died may not have
     * been committed (at-least-once). */
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        errno = EIO;
        return -1;
    }
    rc = mdb_cursor_open(txn, self->requests, &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        errno = EIO;
        return -1;
    }
    MDB_val key, val, rep;
    uint64_t pending = 0, bad = 0;
    for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
        if (mdb_get(txn, self->replies, &key, &rep) == 0) {
            continue;
        }
        zr__msg_t frames = {NULL, 0, 0};
        char uuid[S_UUID + 1];
        if (key.mv_size != S_UUID || s_decode(&val, &frames) != 0 ||
            frames.size < 2) {
            bad++;
            zr__msg_destroy(&frames);
            continue;
        }
        memcpy(uuid, key.mv_data, S_UUID);
        uuid[S_UUID] = 0;
        pending++;
        self->dispatch(self->arg, uuid, zmq_msg_data(&frames.frames[0]),
                       zmq_msg_size(&frames.frames[0]), &frames, 1);
        zr__msg_destroy(&frames);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    zr__stat_set(&self->st_pending, pending);
    zr__stat_add(&self->st_recovered, pending);
    if (pending || bad) {
        ZR_LOG_I("%s: titanic: %llu stored requests with no reply go to "
                 "their services again%s",
                 self->name, (unsigned long long) pending,
                 bad ? " (some stored requests are unreadable)" : "");
    }
    return 0;
}

void
zr__titanic_destroy(zr__titanic_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__titanic_t *self = *self_p;
    while (self->held_head) { /* [ha_sync] */
        s_held_t *h = self->held_head;
        self->held_head = h->next;
        for (size_t i = 0; i < h->n; i++) {
            zr__msg_destroy(&h->msgs[i]);
        }
        free(h->msgs);
        free(h);
    }
    if (self->router) {
        zmq_close(self->router);
    }
    if (self->dealer) {
        zmq_close(self->dealer);
    }
    while (self->head) {
        s_op_t *op = self->head;
        self->head = op->next;
        s_op_free(op);
    }
    if (self->env) {
        mdb_env_close(self->env);
    }
    if (self->lock_fd >= 0) {
        close(self->lock_fd);
    }
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------
 * [ha_sync] Replication to the other node of a pair (docs/SCALING.md,
 * "Durable requests on a pair").
 *
 * Each node binds a ROUTER (ha_sync_bind) and connects a DEALER to the
 * other's (ha_sync_peer). The passive node speaks on its DEALER, the
 * active one answers on its ROUTER, so that everything the active sends
 * a passive travels on one pipe, in order:
 *
 *   passive -> active   [ZRS1, H]          hello: send me everything
 *                       [ZRS1, A, seq]     the group SEQ is committed here
 *   active -> passive   [ZRS1, C, seq]     a snapshot starts: clear yours
 *                       [ZRS1, B, op...]   snapshot records
 *                       [ZRS1, E, seq]     the snapshot ends; up to SEQ
 *                       [ZRS1, G, seq, op...]  a committed group
 *
 * An op is two frames: its kind ('Q' request, 'R' reply, 'X' close) and
 * UUID, then the value (the stored encoding; empty for a close).
 *
 * The active sends each group once it committed it, and holds the
 * group's answers (200 + UUID) until the passive says SEQ; after two
 * heartbeats without it, or at once when the peer is dead to the state
 * machine, it answers anyway (ha_sync.degraded, a WARNING) and waits no
 * more until the passive has caught up with the last group sent. The
 * snapshot is queued whole when the hello comes (the ROUTER has no
 * high-water mark): the groups that follow it are behind it on the pipe.
 * A passive that sees a group out of sequence asks again.
 */

#define S_SYNC "ZRS1"
#define S_BATCH_OPS 256
#define S_BATCH_BYTES (1024 * 1024)

/* MSG whole on SOCKET without waiting, then destroyed. */
static int
s_send_all(void *socket, zr__msg_t *msg)
{
    int rc = zr__msg_send(msg, socket);
    zr__msg_destroy(msg);
    return rc;
}

static bool
s_is(const zmq_msg_t *f, const char *text)
{
    size_t n = strlen(text);
    return zmq_msg_size((zmq_msg_t *) f) == n &&
           memcmp(zmq_msg_data((zmq_msg_t *) f), text, n) == 0;
}

static uint64_t
s_seq_of(const zmq_msg_t *f)
{
    char text[24];
    size_t n = zmq_msg_size((zmq_msg_t *) f);
    n = n < sizeof text - 1 ? n : sizeof text - 1;
    memcpy(text, zmq_msg_data((zmq_msg_t *) f), n);
    text[n] = 0;
    return strtoull(text, NULL, 10);
}

static int
s_addseq(zr__msg_t *m, uint64_t seq)
{
    char text[24];
    snprintf(text, sizeof text, "%llu", (unsigned long long) seq);
    return zr__msg_addstr(m, text);
}

/* An op's two frames from KIND, UUID and an encoded VALUE. */
static int
s_add_op(zr__msg_t *m, char kind, const char *uuid, const void *value,
         size_t len)
{
    char head[1 + S_UUID];
    head[0] = kind;
    memcpy(head + 1, uuid, S_UUID);
    if (zr__msg_add(m, head, sizeof head) != 0) {
        return -1;
    }
    return zr__msg_add(m, value, len);
}

static const char *
s_state_word(int state)
{
    return zr__ha_state_name(state);
}

static void
s_release(zr__titanic_t *self, s_held_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        /* At once: this runs outside the engine's burst (a watch), where
         * an injected message would wait for the next one. */
        if (zr__engine_send_now(self->engine, self->socket, &h->msgs[i]) == 0) {
            continue;
        }
        if (zr__engine_inject(self->engine, self->socket, &h->msgs[i]) != 0) {
            zr__stat_add(&self->st_dropped, 1);
        }
        zr__msg_destroy(&h->msgs[i]);
    }
    free(h->msgs);
    free(h);
}

/* Answer the held groups up to SEQ (all: UINT64_MAX). */
static void
s_release_upto(zr__titanic_t *self, uint64_t seq)
{
    while (self->held_head && self->held_head->seq <= seq) {
        s_held_t *h = self->held_head;
        self->held_head = h->next;
        if (!self->held_head) {
            self->held_tail = NULL;
        }
        s_release(self, h);
    }
}

static void
s_lag_publish(zr__titanic_t *self)
{
    zr__stat_set(&self->st_sync_lag,
                 self->peer_id_len && self->seq > self->acked
                     ? self->seq - self->acked
                     : 0);
}

/* Stop waiting for the passive: answer what is held. */
static void
s_degrade(zr__titanic_t *self, const char *why)
{
    if (!self->held_head) {
        return;
    }
    uint64_t n = 0;
    for (s_held_t *h = self->held_head; h; h = h->next) {
        n++;
    }
    zr__stat_add(&self->st_sync_degraded, n);
    self->lagging = true;
    if (zr__log_limit(&self->sync_limit, 1, "ha_sync degraded")) {
        ZR_LOG_W("%s: ha_sync: %s: %llu group(s) acknowledged without the "
                 "passive node (lost if this node dies before it catches "
                 "up)",
                 self->name, why, (unsigned long long) n);
    }
    s_release_upto(self, UINT64_MAX);
}

/* The active's group LIST, committed here: to the passive; its answers
 * held (self->hold) when they wait for the passive's. */
static void
s_sync_group(zr__titanic_t *self, s_op_t *list)
{
    if (self->state != ZR__HA_ACTIVE) {
        return;
    }
    zr__msg_t m = {NULL, 0, 0};
    bool acks = false; /* a request or close whose client waits */
    int rc = zr__msg_reserve(&m, 4);
    if (rc == 0) {
        rc = zr__msg_add(&m, self->peer_id, self->peer_id_len);
    }
    if (rc == 0) {
        rc = zr__msg_addstr(&m, S_SYNC);
    }
    if (rc == 0) {
        rc = zr__msg_addstr(&m, "G");
    }
    if (rc == 0) {
        rc = s_addseq(&m, self->seq + 1);
    }
    size_t ops = 0;
    for (s_op_t *op = list; op && rc == 0; op = op->next) {
        if (op->result != S_DONE) {
            continue;
        }
        acks = acks || op->kind != S_OP_REPLY;
        ops++;
        if (op->kind == S_OP_CLOSE) {
            rc = s_add_op(&m, 'X', op->uuid, NULL, 0);
            continue;
        }
        size_t len = s_encoded_size(&op->frames);
        unsigned char *buf = malloc(len);
        if (!buf) {
            rc = -1;
            break;
        }
        s_encode(&op->frames, buf);
        rc = s_add_op(&m, op->kind == S_OP_REQUEST ? 'Q' : 'R', op->uuid, buf,
                      len);
        free(buf);
    }
    if (ops == 0) {
        zr__msg_destroy(&m);
        return;
    }
    bool sent = false;
    if (rc == 0 && self->peer_id_len) {
        self->seq++;
        sent = s_send_all(self->router, &m) == 0;
        if (sent) {
            zr__stat_add(&self->st_sync_sent, 1);
        }
        else {
            /* EHOSTUNREACH: the passive is gone; it asks again. */
            self->peer_id_len = 0;
        }
        s_lag_publish(self);
    }
    zr__msg_destroy(&m);
    if (!self->wait || !acks) {
        return;
    }
    bool alive = self->ha && zr__ha_peer_alive(self->ha);
    if (!sent || self->lagging || !alive) {
        zr__stat_add(&self->st_sync_degraded, 1);
        if (zr__log_limit(&self->sync_limit, 1, "ha_sync degraded")) {
            ZR_LOG_W("%s: ha_sync: %s: acknowledged without the passive "
                     "node (lost if this node dies before it catches up)",
                     self->name,
                     !alive  ? "the peer is dead"
                     : !sent ? "no passive node has caught up"
                             : "the passive node lags");
        }
        return;
    }
    s_held_t *h = calloc(1, sizeof *h);
    if (!h) {
        return; /* answered at once */
    }
    h->seq = self->seq;
    h->deadline = zr__now_ms() + 2 * (int64_t) self->heartbeat;
    self->hold = h;
    zr__engine_set_deadline(self->engine, h->deadline);
}

/* The passive: ask the active for everything. */
static void
s_hello(zr__titanic_t *self, int64_t now)
{
    zr__msg_t m = {NULL, 0, 0};
    if (zr__msg_addstr(&m, S_SYNC) == 0 && zr__msg_addstr(&m, "H") == 0 &&
        s_send_all(self->dealer, &m) == 0) {
        zr__stat_add(&self->st_sync_hellos, 1);
    }
    zr__msg_destroy(&m);
    self->next_hello = now + 2 * (int64_t) self->heartbeat;
    zr__engine_set_deadline(self->engine, self->next_hello);
}

static void
s_set_synced(zr__titanic_t *self, bool synced)
{
    self->synced = synced;
    zr__stat_set(&self->st_sync_synced, synced);
    if (self->ha) {
        zr__ha_set_synced(self->ha, synced);
    }
}

/* Timers: held answers past their bound, the passive's hello. */
static void
s_sync_tick(zr__titanic_t *self)
{
    int64_t now = zr__now_ms();
    if (self->recover_pending && self->state == ZR__HA_ACTIVE) {
        self->recover_pending = false;
        s_recover(self);
    }
    if (self->held_head) {
        if (self->ha && !zr__ha_peer_alive(self->ha)) {
            s_degrade(self, "the peer is dead");
        }
        else if (now >= self->held_head->deadline) {
            s_degrade(self, "no answer from the passive node in two "
                            "heartbeats");
        }
        else {
            zr__engine_set_deadline(self->engine, self->held_head->deadline);
        }
    }
    if (self->state == ZR__HA_PASSIVE && !self->synced) {
        if (now >= self->next_hello) {
            s_hello(self, now);
        }
        else {
            zr__engine_set_deadline(self->engine, self->next_hello);
        }
    }
}

/* The active: a snapshot of both databases to the passive ID. */
static void
s_snapshot(zr__titanic_t *self)
{
    zr__msg_t m = {NULL, 0, 0};
    zr__msg_add(&m, self->peer_id, self->peer_id_len);
    zr__msg_addstr(&m, S_SYNC);
    zr__msg_addstr(&m, "C");
    s_addseq(&m, self->seq);
    s_send_all(self->router, &m);
    MDB_txn *txn;
    uint64_t records = 0;
    if (mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn) == 0) {
        MDB_dbi dbis[2] = {self->requests, self->replies};
        for (int d = 0; d < 2; d++) {
            MDB_cursor *cur;
            if (mdb_cursor_open(txn, dbis[d], &cur) != 0) {
                continue;
            }
            MDB_val key, val;
            size_t n = 0, bytes = 0;
            for (int rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
                 rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
                if (key.mv_size != S_UUID) {
                    continue;
                }
                if (m.size == 0) {
                    zr__msg_add(&m, self->peer_id, self->peer_id_len);
                    zr__msg_addstr(&m, S_SYNC);
                    zr__msg_addstr(&m, "B");
                }
                char uuid[S_UUID + 1];
                memcpy(uuid, key.mv_data, S_UUID);
                s_add_op(&m, d == 0 ? 'Q' : 'R', uuid, val.mv_data,
                         val.mv_size);
                records++;
                n++;
                bytes += val.mv_size;
                if (n >= S_BATCH_OPS || bytes >= S_BATCH_BYTES) {
                    s_send_all(self->router, &m);
                    n = bytes = 0;
                }
            }
            mdb_cursor_close(cur);
            if (m.size) {
                s_send_all(self->router, &m);
            }
        }
        mdb_txn_abort(txn);
    }
    zr__msg_add(&m, self->peer_id, self->peer_id_len);
    zr__msg_addstr(&m, S_SYNC);
    zr__msg_addstr(&m, "E");
    s_addseq(&m, self->seq);
    s_send_all(self->router, &m);
    zr__stat_add(&self->st_sync_snap_sent, records);
    ZR_LOG_N("%s: ha_sync: the passive node asked: %llu record(s) sent, "
             "then the live stream from group %llu",
             self->name, (unsigned long long) records,
             (unsigned long long) self->seq + 1);
}

/* The active's ROUTER: hellos and answers from the passive. */
static void
s_router_ready(void *arg)
{
    zr__titanic_t *self = arg;
    zr__msg_t m = {NULL, 0, 0};
    for (int n = 0; n < 1024 && zr__msg_recv(&m, self->router) == 0; n++) {
        if (m.size < 3 || !s_is(&m.frames[1], S_SYNC) ||
            zmq_msg_size(&m.frames[0]) > sizeof self->peer_id) {
            continue;
        }
        if (s_is(&m.frames[2], "H") && self->state == ZR__HA_ACTIVE) {
            self->peer_id_len = zmq_msg_size(&m.frames[0]);
            memcpy(self->peer_id, zmq_msg_data(&m.frames[0]),
                   self->peer_id_len);
            self->lagging = true;    /* until it has the last group */
            self->acked = self->seq; /* the snapshot has them all */
            s_snapshot(self);
            s_lag_publish(self);
        }
        else if (s_is(&m.frames[2], "A") && m.size >= 4) {
            uint64_t seq = s_seq_of(&m.frames[3]);
            if (seq > self->seq) {
                continue; /* not ours */
            }
            if (seq > self->acked) {
                zr__stat_add(&self->st_sync_acked, seq - self->acked);
                self->acked = seq;
            }
            s_release_upto(self, self->acked);
            if (self->lagging && self->acked == self->seq) {
                self->lagging = false;
                ZR_LOG_N("%s: ha_sync: the passive node has every group: "
                         "acknowledgements wait for it again",
                         self->name);
            }
            s_lag_publish(self);
        }
    }
    zr__msg_destroy(&m);
}

/* The passive: apply the ops of M from frame AT in one transaction. */
static int
s_apply_ops(zr__titanic_t *self, zr__msg_t *m, size_t at, bool clear)
{
    s_op_t *head = NULL, **tail = &head;
    int rc = 0;
    for (size_t i = at; i + 1 < m->size && rc == 0; i += 2) {
        zmq_msg_t *h = &m->frames[i];
        if (zmq_msg_size(h) != 1 + S_UUID) {
            rc = EPROTO;
            break;
        }
        const char *p = zmq_msg_data(h);
        s_op_t *op = calloc(1, sizeof *op);
        if (!op) {
            rc = ENOMEM;
            break;
        }
        *tail = op;
        tail = &op->next;
        op->kind = p[0] == 'Q'   ? S_OP_REQUEST
                   : p[0] == 'R' ? S_OP_REPLY
                                 : S_OP_CLOSE;
        memcpy(op->uuid, p + 1, S_UUID);
        if (op->kind != S_OP_CLOSE) {
            MDB_val v = {zmq_msg_size(&m->frames[i + 1]),
                         zmq_msg_data(&m->frames[i + 1])};
            rc = s_decode(&v, &op->frames) == 0 ? 0 : EPROTO;
        }
    }
    if (rc == 0 && clear) {
        MDB_txn *txn;
        rc = mdb_txn_begin(self->env, NULL, 0, &txn);
        if (rc == 0) {
            rc = mdb_drop(txn, self->requests, 0);
            if (rc == 0) {
                rc = mdb_drop(txn, self->replies, 0);
            }
            rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
        }
    }
    if (rc == 0 && head) {
        rc = s_write(self, head, -1);
    }
    while (head) {
        s_op_t *op = head;
        head = op->next;
        s_op_free(op);
    }
    return rc;
}

static void
s_ack(zr__titanic_t *self, uint64_t seq)
{
    zr__msg_t m = {NULL, 0, 0};
    if (zr__msg_addstr(&m, S_SYNC) == 0 && zr__msg_addstr(&m, "A") == 0 &&
        s_addseq(&m, seq) == 0) {
        s_send_all(self->dealer, &m);
    }
    zr__msg_destroy(&m);
}

static void
s_resync(zr__titanic_t *self, const char *why)
{
    ZR_LOG_W("%s: ha_sync: %s: asking the active node for everything again",
             self->name, why);
    zr__stat_add(&self->st_sync_gaps, 1);
    s_set_synced(self, false);
    self->in_snapshot = false;
    s_hello(self, zr__now_ms());
}

/* The passive's DEALER: the snapshot and the groups. */
static void
s_dealer_ready(void *arg)
{
    zr__titanic_t *self = arg;
    zr__msg_t m = {NULL, 0, 0};
    for (int n = 0; n < 1024 && zr__msg_recv(&m, self->dealer) == 0; n++) {
        if (m.size < 2 || !s_is(&m.frames[0], S_SYNC) ||
            self->state == ZR__HA_ACTIVE) {
            continue;
        }
        zmq_msg_t *t = &m.frames[1];
        int rc = 0;
        if (s_is(t, "C") && m.size >= 3) {
            s_set_synced(self, false);
            self->in_snapshot = true;
            self->next_hello = zr__now_ms() + 8 * (int64_t) self->heartbeat;
            rc = s_apply_ops(self, &m, 3, true);
        }
        else if (s_is(t, "B") && self->in_snapshot) {
            rc = s_apply_ops(self, &m, 2, false);
            zr__stat_add(&self->st_sync_snap_recv, (m.size - 2) / 2);
            self->next_hello = zr__now_ms() + 8 * (int64_t) self->heartbeat;
        }
        else if (s_is(t, "E") && self->in_snapshot && m.size >= 3) {
            self->in_snapshot = false;
            self->applied = s_seq_of(&m.frames[2]);
            s_set_synced(self, true);
            s_ack(self, self->applied);
            ZR_LOG_N(
                "%s: ha_sync: caught up with the active node's store "
                "(%llu record(s)): this node may take over",
                self->name,
                (unsigned long long) zr__stat_get(&self->st_sync_snap_recv));
        }
        else if (s_is(t, "G") && self->synced && m.size >= 3) {
            uint64_t seq = s_seq_of(&m.frames[2]);
            if (seq != self->applied + 1) {
                s_resync(self, "a group out of sequence");
                continue;
            }
            rc = s_apply_ops(self, &m, 3, false);
            if (rc == 0) {
                self->applied = seq;
                zr__stat_add(&self->st_sync_applied, 1);
                s_ack(self, seq);
            }
        }
        if (rc != 0) {
            char why[S_WHY_MAX];
            ZR_LOG_E("%s: ha_sync: cannot store what the active node sent: "
                     "%s",
                     self->name, s_why(rc, why, sizeof why));
            s_resync(self, "a failed write");
        }
    }
    zr__msg_destroy(&m);
}

/* The node's state changed (ha.c). */
static void
s_on_state(void *arg, int state)
{
    zr__titanic_t *self = arg;
    int from = self->state;
    self->state = state;
    if (state == ZR__HA_ACTIVE && from != ZR__HA_ACTIVE) {
        /* A failover (or the start): what is stored with no reply goes
         * to its service; in the timer, not inside the request that made
         * this node active. */
        if (from == ZR__HA_PASSIVE && !self->synced) {
            /* The peer restarted (Binary Star's peer_restart) before
             * this node caught up: it serves what it has; what only the
             * peer had is lost when the peer catches up from here. */
            ZR_LOG_E("%s: ha_sync: active without having caught up with "
                     "the peer's store: requests only the peer had are "
                     "lost",
                     self->name);
        }
        self->in_snapshot = false;
        self->peer_id_len = 0;
        self->recover_pending = true;
        zr__engine_set_deadline(self->engine, zr__now_ms());
        ZR_LOG_N("%s: ha_sync: active: the stored requests with no reply "
                 "go to their services",
                 self->name);
    }
    else if (state == ZR__HA_PASSIVE && from != ZR__HA_PASSIVE) {
        s_degrade(self, "this node is passive now");
        self->peer_id_len = 0;
        s_set_synced(self, false);
        s_hello(self, zr__now_ms());
    }
    s_lag_publish(self);
    (void) s_state_word;
}

static void *
s_sync_socket(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        return NULL;
    }
    int zero = 0, one = 1;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
    if (type == ZMQ_ROUTER) {
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    }
    else {
        /* Nothing queued for a peer not there: a stale hello would ask
         * for a snapshot when it comes back. */
        zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
    }
    return s;
}

int
zr__titanic_sync(zr__titanic_t *self, void *ctx, zr__ha_t *ha,
                 const zr__ha_opts_t *opts, char *err, size_t errlen)
{
    char why[300];
    self->ha = ha;
    self->wait = opts->sync != 0;
    self->heartbeat = zr__ha_heartbeat(ha);
    self->state = zr__ha_state(ha);
    self->router = s_sync_socket(ctx, ZMQ_ROUTER);
    self->dealer = s_sync_socket(ctx, ZMQ_DEALER);
    if (!self->router || !self->dealer) {
        zr__errf(err, errlen, "ha_sync: cannot create its sockets: %s",
                 zmq_strerror(errno));
        return -1;
    }
    if (zr_endpoints_attach(opts->sync_bind, self->router, why, sizeof why) !=
        0) {
        zr__errf(err, errlen, "ha_sync_bind: %s", why);
        return -1;
    }
    if (zr_endpoints_attach(opts->sync_peer, self->dealer, why, sizeof why) !=
        0) {
        zr__errf(err, errlen, "ha_sync_peer: %s", why);
        return -1;
    }
    if (zr__engine_watch(self->engine, self->router, s_router_ready, self) !=
            0 ||
        zr__engine_watch(self->engine, self->dealer, s_dealer_ready, self) !=
            0) {
        zr__errf(err, errlen, "ha_sync: too many sockets to watch");
        errno = EINVAL;
        return -1;
    }
    /* A node starts with the store it has: it may serve from it when it
     * starts alone (the Binary Star rule), but as a passive it takes
     * over only once it has caught up. */
    s_set_synced(self, false);
    zr__ha_set_listener(ha, s_on_state, self);
    ZR_LOG_N("%s: ha_sync: %s; dispatching stored requests only while "
             "active",
             self->name,
             self->wait ? "acknowledgements wait for the passive node"
                        : "no (acknowledgements do not wait for the passive "
                          "node)");
    return 0;
}

/* ---------------------------------------------------------------------
 * Its rows of the stats table (section "titanic").
 */

#define S_AT(field) offsetof(zr__titanic_t, field)
#define S_ROW(k, m, l, kd, field, text)                                        \
    {                                                                          \
        .key = k, .metric = m, .labels = l, .kind = kd, .help = text,          \
        .offset = S_AT(field)                                                  \
    }
#define S_REF(k, field, text)                                                  \
    S_ROW("refused." k, "titanic_refused_total", "reason=\"" k "\"",           \
          ZR__STAT_COUNTER, field, text)
#define S_ANS(k, field, text)                                                  \
    S_ROW("reply_answers." k, "titanic_reply_answers_total",                   \
          "answer=\"" k "\"", ZR__STAT_COUNTER, field, text)
static const zr__stat_t s_rows[] = {
    S_ROW("requests.stored", "titanic_requests_stored_total", NULL,
          ZR__STAT_COUNTER, st_stored,
          "titanic.request: requests committed to the store."),
    S_ROW("requests.acknowledged", "titanic_requests_acknowledged_total", NULL,
          ZR__STAT_COUNTER, st_acked,
          "Requests answered 200 and their UUID, each after its commit."),
    S_ROW("requests.pending", "titanic_requests_pending", NULL, ZR__STAT_GAUGE,
          st_pending, "Stored requests with no stored reply yet."),
    S_ROW("requests.recovered", "titanic_requests_recovered_total", NULL,
          ZR__STAT_COUNTER, st_recovered,
          "Stored requests with no reply sent to their service again at "
          "start."),
    S_ROW("replies.stored", "titanic_replies_stored_total", NULL,
          ZR__STAT_COUNTER, st_replies,
          "Workers' final replies to stored requests, committed."),
    S_ROW("replies.dropped", "titanic_replies_dropped_total", NULL,
          ZR__STAT_COUNTER, st_dropped,
          "Replies not stored (their request was closed, or the store was "
          "full) or answers not sent for want of memory."),
    S_ANS("fetched", st_fetched, "titanic.reply answered 200 and the reply."),
    S_ANS("pending", st_polls,
          "titanic.reply answered 300: the request is stored, its reply not "
          "yet."),
    S_ANS("unknown", st_unknown,
          "titanic.reply answered 400: no such request here."),
    S_ROW("closed", "titanic_closed_total", NULL, ZR__STAT_COUNTER, st_closed,
          "titanic.close committed (a request and its reply deleted, or "
          "none known)."),
    S_REF("full", st_full,
          "titanic.request answered 500: titanic_max_bytes or the disk "
          "full."),
    S_REF("error", st_errors,
          "Titanic requests answered 500 for another storage error."),
    S_REF("invalid", st_invalid,
          "Titanic requests answered 400: malformed, not a UUID, or for "
          "titanic.* or mmi.*."),
    S_ROW("commits", "titanic_commits_total", NULL, ZR__STAT_COUNTER,
          st_commits, "Write transactions committed (each one fsync)."),
    S_ROW("commit_ops", "titanic_commit_ops_total", NULL, ZR__STAT_COUNTER,
          st_committed,
          "Requests, replies and closes in those commits (divided by "
          "commits: the group's mean size)."),
    S_ROW("commit_max", "titanic_commit_max_ops", NULL, ZR__STAT_GAUGE,
          st_batch_max, "The most operations one commit held."),
    S_ROW("bytes", "titanic_bytes", NULL, ZR__STAT_GAUGE, st_bytes,
          "Bytes of the store's map in use (LMDB reuses freed pages)."),
    S_ROW("max_bytes", "titanic_max_bytes", NULL, ZR__STAT_GAUGE, st_map,
          "titanic_max_bytes: the store's bound (its map size)."),
};
#undef S_ANS
#undef S_REF
#undef S_ROW
#undef S_AT

zr__stat_section_t
zr__titanic_section(const zr__titanic_t *self)
{
    return (zr__stat_section_t){"titanic", NULL, ZR__STAT_ROWS(s_rows), self};
}

/* [ha_sync] Its rows (section "ha_sync"). */
#define S_AT(field) offsetof(zr__titanic_t, field)
#define S_ROW(k, m, kd, field, text)                                           \
    {                                                                          \
        .key = k, .metric = m, .kind = kd, .help = text, .offset = S_AT(field) \
    }
static const zr__stat_t s_sync_rows[] = {
    S_ROW("synced", "ha_sync_synced", ZR__STAT_FLAG, st_sync_synced,
          "1 once this node, passive, has the active node's store (a "
          "snapshot, then every group): only then may it take over."),
    S_ROW("groups.sent", "ha_sync_groups_sent_total", ZR__STAT_COUNTER,
          st_sync_sent,
          "Committed groups (requests, replies, closes) sent to the passive "
          "node."),
    S_ROW("groups.acked", "ha_sync_groups_acked_total", ZR__STAT_COUNTER,
          st_sync_acked,
          "Groups the passive node answered for: committed there too."),
    S_ROW("groups.applied", "ha_sync_groups_applied_total", ZR__STAT_COUNTER,
          st_sync_applied,
          "Groups from the active node committed here (this node passive)."),
    S_ROW("degraded", "ha_sync_degraded_total", ZR__STAT_COUNTER,
          st_sync_degraded,
          "Groups acknowledged without the passive node's answer (it was "
          "dead, silent two heartbeats, or not caught up): lost if this "
          "node dies before the passive has them."),
    S_ROW("lag", "ha_sync_lag_groups", ZR__STAT_GAUGE, st_sync_lag,
          "Groups sent to the passive node and not yet answered."),
    S_ROW("snapshot.sent", "ha_sync_snapshot_sent_total", ZR__STAT_COUNTER,
          st_sync_snap_sent,
          "Stored records sent to a passive node catching up."),
    S_ROW("snapshot.received", "ha_sync_snapshot_received_total",
          ZR__STAT_COUNTER, st_sync_snap_recv,
          "Stored records received from the active node while catching up."),
    S_ROW("hellos", "ha_sync_hellos_total", ZR__STAT_COUNTER, st_sync_hellos,
          "Requests for a snapshot this node sent as passive."),
    S_ROW("resyncs", "ha_sync_resyncs_total", ZR__STAT_COUNTER, st_sync_gaps,
          "Times this passive node started over (a group out of sequence "
          "or a failed write)."),
};
#undef S_ROW
#undef S_AT

bool
zr__titanic_sync_section(const zr__titanic_t *self, zr__stat_section_t *out)
{
    if (!self || !self->router) {
        return false;
    }
    *out =
        (zr__stat_section_t){"ha_sync", NULL, ZR__STAT_ROWS(s_sync_rows), self};
    return true;
}
