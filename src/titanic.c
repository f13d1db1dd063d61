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
};

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

/* Move frames FROM.. of SRC to the end of DST (SRC keeps empty ones). */
static int
s_append(zr__msg_t *dst, zr__msg_t *src, size_t from)
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
            rc = s_append(header, &copy, 0);
        }
    }
    if (rc != 0 || zr__engine_inject(self->engine, self->socket, header) != 0) {
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
        if (s_append(&op->frames, msg, at) != 0) {
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
