/* test_broker.c - the queue with strategies: lru gives the fastest worker
 * the most work, hash keeps a key on its worker, a dead or slow worker's
 * requests go elsewhere, and every request gets an answer.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------------
 * Workers in threads: Paranoid Pirate (DEALER: READY, heartbeats, one
 * reply per request), plain DEALER (for rr), or lbbroker REQ.
 */

typedef enum { W_PPP, W_DEALER, W_REQ } s_wkind_t;

typedef struct {
    void *ctx;
    const char *endpoint;
    s_wkind_t kind;
    int service_ms;
    char id[16];
    atomic_bool stop;
    atomic_bool mute; /* take requests, never answer */
    _Atomic int served;
    pthread_t thread;
} s_worker_t;

static void *
s_work(void *arg)
{
    s_worker_t *w = arg;
    void *sock = zrt_socket(w->ctx, w->kind == W_REQ ? ZMQ_REQ : ZMQ_DEALER);
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, w->id, strlen(w->id));
    zrt_connect(sock, w->endpoint);
    if (w->kind == W_PPP) {
        zrt_send_str(sock, "\x01", 0);
    }
    else if (w->kind == W_REQ) {
        ZR_SEND(sock, "READY");
    }
    zmq_msg_t frames[8];
    while (!atomic_load(&w->stop)) {
        if (!zrt_readable(sock, 10)) {
            if (w->kind == W_PPP) {
                zmq_send(sock, "\x02", 1, ZMQ_DONTWAIT);
            }
            continue;
        }
        int n = 0, more = 1;
        while (more && n < 8) {
            zmq_msg_init(&frames[n]);
            ZR_CHECK(zmq_msg_recv(&frames[n], sock, 0) >= 0);
            more = zmq_msg_more(&frames[n]);
            n++;
        }
        if (n == 1 && zmq_msg_size(&frames[0]) == 1) {
            zmq_msg_close(&frames[0]); /* a heartbeat */
            continue;
        }
        if (!atomic_load(&w->mute)) {
            if (w->service_ms) {
                zmq_poll(NULL, 0, w->service_ms); /* the work */
            }
            /* The reply: the envelope, then "ID: request". */
            for (int i = 0; i < n - 1; i++) {
                ZR_PASS(zmq_msg_send(&frames[i], sock, ZMQ_SNDMORE));
            }
            char reply[128];
            snprintf(reply, sizeof reply, "%s: %.*s", w->id,
                     (int) zmq_msg_size(&frames[n - 1]),
                     (const char *) zmq_msg_data(&frames[n - 1]));
            ZR_SEND(sock, reply);
            atomic_fetch_add(&w->served, 1);
        }
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&frames[i]);
        }
    }
    zmq_close(sock);
    return NULL;
}

static void
s_worker_start(s_worker_t *w, void *ctx, const char *endpoint, s_wkind_t kind,
               int service_ms, const char *id)
{
    memset(w, 0, sizeof *w);
    w->ctx = ctx;
    w->endpoint = endpoint;
    w->kind = kind;
    w->service_ms = service_ms;
    snprintf(w->id, sizeof w->id, "%s", id);
    pthread_create(&w->thread, NULL, s_work, w);
}

static void
s_worker_stop(s_worker_t *w)
{
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
}

typedef struct {
    void *ctx;
    const char *endpoint;
    int id, requests;
    pthread_t thread;
} s_client_t;

static void *
s_client(void *arg)
{
    s_client_t *c = arg;
    void *req = zrt_socket(c->ctx, ZMQ_REQ);
    zrt_connect(req, c->endpoint);
    for (int i = 0; i < c->requests; i++) {
        char text[64], reply[128];
        snprintf(text, sizeof text, "client %d request %d", c->id, i);
        ZR_SEND(req, text);
        zrt_recv_str(req, reply, sizeof reply);
        const char *colon = strstr(reply, ": ");
        ZR_CHECKF(colon && strcmp(colon + 2, text) == 0, "'%s' for '%s'", reply,
                  text);
    }
    zmq_close(req);
    return NULL;
}

/* 20 clients x 100 requests on 5 workers of 1, 2, 5, 10, 20 ms. */
static int64_t
s_load(const char *strategy, s_wkind_t kind, int served[5])
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", strategy, NULL};
    char tag[32];
    snprintf(tag, sizeof tag, "load-%s", strategy);
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, tag, kv);
    char front[64], back[64];
    snprintf(front, sizeof front, "inproc://%s-front", tag);
    snprintf(back, sizeof back, "inproc://%s-back", tag);
    static const int ms[5] = {1, 2, 5, 10, 20};
    s_worker_t workers[5];
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%dms", ms[i]);
        s_worker_start(&workers[i], ctx, back, kind, ms[i], id);
    }
    if (kind == W_PPP) {
        ZR_WAIT(zrt_stat(dev, "broker", "workers", "ready", NULL) == 5,
                ZRT_DEADLINE_MS);
    }
    int64_t start = zrt_now_ms();
    s_client_t clients[20];
    for (int i = 0; i < 20; i++) {
        clients[i] = (s_client_t){ctx, NULL, i, 100, 0};
        clients[i].endpoint = strdup(front);
        pthread_create(&clients[i].thread, NULL, s_client, &clients[i]);
    }
    for (int i = 0; i < 20; i++) {
        pthread_join(clients[i].thread, NULL);
        free((void *) clients[i].endpoint);
    }
    int64_t took = zrt_now_ms() - start;
    int total = 0;
    for (int i = 0; i < 5; i++) {
        s_worker_stop(&workers[i]);
        served[i] = atomic_load(&workers[i].served);
        total += served[i];
    }
    ZR_EQ(total, 2000); /* every request answered once */
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
    return took;
}

static void
test_lru_fastest_serves_most(void)
{
    int lru[5], rr[5];
    int64_t t_lru = s_load("lru", W_PPP, lru);
    int64_t t_rr = s_load("rr", W_DEALER, rr);
    printf("lru: %lld ms, work by 1/2/5/10/20 ms worker: %d %d %d %d %d\n",
           (long long) t_lru, lru[0], lru[1], lru[2], lru[3], lru[4]);
    printf("rr:  %lld ms, work by 1/2/5/10/20 ms worker: %d %d %d %d %d\n",
           (long long) t_rr, rr[0], rr[1], rr[2], rr[3], rr[4]);
    for (int i = 0; i < 4; i++) {
        ZR_CHECKF(lru[i] > lru[i + 1],
                  "lru: the %d-th fastest worker served %d, the next %d", i,
                  lru[i], lru[i + 1]);
    }
}

/* lbbroker workers: REQ sockets that say READY. */
static void
test_lru_req_workers(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", "lru", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "reqw", kv);
    s_worker_t w[2];
    s_worker_start(&w[0], ctx, "inproc://reqw-back", W_REQ, 0, "req0");
    s_worker_start(&w[1], ctx, "inproc://reqw-back", W_REQ, 0, "req1");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "ready", NULL) == 2,
            ZRT_DEADLINE_MS);
    s_client_t c = {ctx, "inproc://reqw-front", 0, 50, 0};
    s_client(&c);
    s_worker_stop(&w[0]);
    s_worker_stop(&w[1]);
    ZR_EQ(atomic_load(&w[0].served) + atomic_load(&w[1].served), 50);
    ZR_CHECK(atomic_load(&w[0].served) > 0 && atomic_load(&w[1].served) > 0);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "answered", NULL), 50);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* No worker: the error reply after request_timeout; over max_waiting,
 * at once; the broker holds no more than max_waiting. */
static void
test_no_workers(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", "lru",         "request_timeout",
                        "300ms",    "max_waiting", "1000",
                        NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "none", kv);
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://none-front");
    int64_t start = zrt_now_ms();
    ZR_SEND(req, "anyone?");
    char reply[128];
    zrt_recv_str(req, reply, sizeof reply);
    ZR_STREQ(reply, "ZRELAY-ERROR timeout no worker took it within 300 ms");
    ZR_CHECK(zrt_now_ms() - start >= 300);

    void *dealer = zrt_socket(ctx, ZMQ_DEALER);
    zrt_setint(dealer, ZMQ_RCVHWM, 0);
    zrt_setint(dealer, ZMQ_SNDHWM, 0);
    zrt_connect(dealer, "inproc://none-front");
    for (int i = 0; i < 10000; i++) {
        ZR_SENDMORE(dealer, "");
        ZR_SEND(dealer, "req");
    }
    int busy = 0, timeout = 0;
    for (int i = 0; i < 10000; i++) {
        char buf[128];
        ZR_CHECKF(zrt_readable(dealer, ZRT_DEADLINE_MS), "%d of 10000 answered",
                  i);
        ZR_EQ(zmq_recv(dealer, buf, sizeof buf, 0), 0); /* the delimiter */
        int n = zmq_recv(dealer, buf, sizeof buf - 1, 0);
        ZR_CHECK(n > 0);
        buf[n] = 0;
        if (strncmp(buf, "ZRELAY-ERROR busy ", 18) == 0) {
            busy++;
            if (busy == 9000) {
                /* Meanwhile the broker holds only what may wait. */
                ZR_CHECK(zrt_stat(dev, "broker", "requests", "waiting", NULL) <=
                         1000);
            }
        }
        else if (strncmp(buf, "ZRELAY-ERROR timeout ", 21) == 0) {
            timeout++;
        }
        else {
            ZR_FAILF("unexpected reply '%s'", buf);
        }
    }
    printf("10000 requests, no worker: %d refused at once, %d timed out\n",
           busy, timeout);
    ZR_EQ(busy, 9000);
    ZR_EQ(timeout, 1000);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "rejected", NULL), 9000);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "timeouts", NULL), 1001);
    /* Each error outcome counted once: none of these "failed". */
    ZR_EQ(zrt_stat(dev, "broker", "requests", "failed", NULL), 0);
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
}

/* A worker that takes a request and never answers is given up after
 * busy_timeout; the request goes to another; its late answer is dropped. */
static void
test_busy_timeout(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", "lru", "busy_timeout", "200ms", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "bt", kv);
    s_worker_t mute, good;
    s_worker_start(&mute, ctx, "inproc://bt-back", W_PPP, 0, "mute");
    atomic_store(&mute.mute, true);
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "ready", NULL) == 1,
            ZRT_DEADLINE_MS);
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://bt-front");
    ZR_SEND(req, "hello");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "busy", NULL) == 1,
            ZRT_DEADLINE_MS);
    s_worker_start(&good, ctx, "inproc://bt-back", W_PPP, 0, "good");
    ZR_RECV(req, "good: hello");
    ZR_EQ(zrt_stat(dev, "broker", "requests", "retried", NULL), 1);
    ZR_EQ(zrt_stat(dev, "broker", "workers", "expired", NULL), 1);
    s_worker_stop(&mute);
    s_worker_stop(&good);
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_ctx_term(ctx);
}

/* hash: the same key, the same worker; when a worker goes, only its keys
 * move. */
static void
test_hash(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", "hash", "heartbeat", "50ms", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "hash", kv);
    s_worker_t w[4];
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof id, "h%d", i);
        s_worker_start(&w[i], ctx, "inproc://hash-back", W_PPP, 0, id);
    }
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == 4,
            ZRT_DEADLINE_MS);
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://hash-front");
    enum { KEYS = 100 };
    char owner[KEYS][64];
    for (int round = 0; round < 10; round++) {
        for (int k = 0; k < KEYS; k++) {
            char key[16], reply[64];
            snprintf(key, sizeof key, "key%d", k);
            ZR_SEND(req, key);
            zrt_recv_str(req, reply, sizeof reply);
            char *colon = strchr(reply, ':');
            ZR_CHECK(colon);
            *colon = 0;
            if (round == 0) {
                snprintf(owner[k], sizeof owner[k], "%.15s", reply);
            }
            else {
                ZR_CHECKF(strcmp(owner[k], reply) == 0,
                          "key %d went to %s, then to %s", k, owner[k], reply);
            }
        }
    }
    /* 1000 requests, every key on one worker. Now h1 goes. */
    s_worker_stop(&w[1]);
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == 3,
            ZRT_DEADLINE_MS);
    int moved = 0;
    for (int k = 0; k < KEYS; k++) {
        char key[16], reply[64];
        snprintf(key, sizeof key, "key%d", k);
        ZR_SEND(req, key);
        zrt_recv_str(req, reply, sizeof reply);
        *strchr(reply, ':') = 0;
        if (strcmp(owner[k], "h1") == 0) {
            ZR_CHECK(strcmp(reply, "h1") != 0);
            moved++;
        }
        else {
            ZR_CHECKF(strcmp(owner[k], reply) == 0,
                      "key %d of %s moved to %s though %s lives", k, owner[k],
                      reply, owner[k]);
        }
    }
    printf("hash: %d of %d keys were the gone worker's and moved; the rest "
           "stayed\n",
           moved, KEYS);
    ZR_CHECK(moved > 0);
    for (int i = 0; i < 4; i++) {
        if (i != 1) {
            s_worker_stop(&w[i]);
        }
    }
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_ctx_term(ctx);
}

/* hash: the owner of each of KEYS keys, asked through REQ, into OWNER. */
static void
s_owners(void *req, int keys, char owner[][16])
{
    for (int k = 0; k < keys; k++) {
        char key[16], reply[64];
        snprintf(key, sizeof key, "key%d", k);
        ZR_SEND(req, key);
        zrt_recv_str(req, reply, sizeof reply);
        char *colon = strchr(reply, ':');
        ZR_CHECKF(colon, "'%s' is no worker's reply", reply);
        *colon = 0;
        snprintf(owner[k], sizeof owner[k], "%.15s", reply);
    }
}

/* From BEFORE to AFTER (owners of KEYS keys) only keys of workers in GONE
 * (names separated by spaces) moved, and only to live ones, or to JOINED.
 * Returns how many moved. */
static int
s_moves(char before[][16], char after[][16], int keys, const char *gone,
        const char *joined)
{
    int moved = 0;
    for (int k = 0; k < keys; k++) {
        bool was_gone = strstr(gone, before[k]) != NULL;
        bool ok = was_gone ? !strstr(gone, after[k])
                           : strcmp(before[k], after[k]) == 0 ||
                                 strcmp(after[k], joined) == 0;
        ZR_CHECKF(ok, "key %d: %s, then %s", k, before[k], after[k]);
        moved += strcmp(before[k], after[k]) != 0;
    }
    return moved;
}

/* hash, workers leaving and joining: a worker gone (its points dead on
 * the ring), a worker joining a ring with dead points, then most of the
 * ring dead at once (swept). Only the gone workers' keys move, and only
 * to the live ones; a new worker takes keys from the others only. */
static void
test_hash_churn(void)
{
    enum { KEYS = 200, N = 6 };
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", "hash", "heartbeat", "50ms", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "churn", kv);
    s_worker_t w[N + 1];
    for (int i = 0; i < N; i++) {
        char id[8];
        snprintf(id, sizeof id, "c%d", i);
        s_worker_start(&w[i], ctx, "inproc://churn-back", W_PPP, 0, id);
    }
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == N,
            ZRT_DEADLINE_MS);
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://churn-front");
    static char owners[4][KEYS][16];
    s_owners(req, KEYS, owners[0]);
    s_worker_stop(&w[1]);
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == N - 1,
            ZRT_DEADLINE_MS);
    s_owners(req, KEYS, owners[1]);
    int left = s_moves(owners[0], owners[1], KEYS, "c1", "");
    s_worker_start(&w[N], ctx, "inproc://churn-back", W_PPP, 0, "c6");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == N,
            ZRT_DEADLINE_MS);
    s_owners(req, KEYS, owners[2]);
    int joined = s_moves(owners[1], owners[2], KEYS, "", "c6");
    for (int i = 2; i <= N; i++) {
        if (i != N - 1) {
            s_worker_stop(&w[i]); /* c2 c3 c4 c6: most of the ring */
        }
    }
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == 2,
            ZRT_DEADLINE_MS);
    s_owners(req, KEYS, owners[3]);
    int swept = s_moves(owners[2], owners[3], KEYS, "c2 c3 c4 c6", "");
    printf("hash, %d keys: %d moved off c1, %d to c6 when it joined, %d off "
           "c2 c3 c4 c6\n",
           KEYS, left, joined, swept);
    ZR_CHECK(left > 0 && joined > 0 && swept > 0);
    s_worker_stop(&w[0]);
    s_worker_stop(&w[N - 1]);
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_ctx_term(ctx);
}

/* At stop, a request still waiting gets an error reply. */
static void
test_stop_answers(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", "lru", "request_timeout", "0", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "stop", kv);
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://stop-front");
    ZR_SEND(req, "waits");
    ZR_WAIT(zrt_stat(dev, "broker", "requests", "waiting", NULL) == 1,
            ZRT_DEADLINE_MS);
    zr_device_stop(dev);
    ZR_EQ(zr_device_join(dev), 0);
    ZR_RECV(req, "ZRELAY-ERROR stopping the broker is stopping");
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_ctx_term(ctx);
}

/* Issue 11.2: a worker whose pipe is full is not dead. W (hash, the
 * backend's SNDHWM 1 and W's RCVHWM 1: room for two messages) says READY
 * and stops reading; two heartbeats fill its pipe; it is expired for
 * silence; a request waits for any worker; then W heartbeats and is
 * welcome again, and the waiting request is for it. Its pipe is full:
 * the request must stay queued for W (not lost, not answered twice) and
 * reach it once W reads again. Before the fix the failed send freed W
 * under the heartbeat's feet (ASan: heap-use-after-free). */
static void
test_full_worker_not_dead(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", "hash",     "sndhwm", "1", "heartbeat",
                        "100ms",    "liveness", "2",      NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "full", kv);
    void *w = zrt_socket(ctx, ZMQ_DEALER);
    zrt_setint(w, ZMQ_RCVHWM, 1);
    ZR_PASS(zmq_setsockopt(w, ZMQ_ROUTING_ID, "W", 1));
    zrt_connect(w, "inproc://full-back");
    ZR_SEND(w, "\x01");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == 1,
            ZRT_DEADLINE_MS);
    /* Alive, not reading, until two heartbeats sit in its pipe. */
    ZR_WAIT((zmq_send(w, "\x02", 1, ZMQ_DONTWAIT),
             zrt_stat(dev, "backend", "msgs_out", NULL) >= 2),
            ZRT_DEADLINE_MS);
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "expired", NULL) == 1,
            ZRT_DEADLINE_MS);
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://full-front");
    ZR_SEND(req, "for W");
    ZR_WAIT(zrt_stat(dev, "broker", "requests", "waiting", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_SEND(w, "\x02"); /* back: the request is W's, its pipe is full */
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "waiting", NULL), 1);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "worker_full", NULL), 1);
    /* W reads again: heartbeats, then the request, which it answers. */
    int heartbeats = 0;
    for (;;) {
        ZR_CHECKF(zrt_readable(w, ZRT_DEADLINE_MS),
                  "W got no request (%d heartbeats)", heartbeats);
        char frames[4][64];
        int n = 0, more = 1, lens[4];
        while (more && n < 4) {
            int len = zmq_recv(w, frames[n], sizeof frames[n] - 1, 0);
            ZR_CHECK(len >= 0);
            frames[n][len] = 0;
            lens[n] = len;
            size_t sz = sizeof more;
            zmq_getsockopt(w, ZMQ_RCVMORE, &more, &sz);
            n++;
        }
        if (n == 1) {
            ZR_STREQ(frames[0], "\x02");
            ZR_SEND(w, "\x02"); /* alive */
            heartbeats++;
            continue;
        }
        ZR_EQ(n, 3); /* [client identity, "", request] */
        ZR_STREQ(frames[2], "for W");
        ZR_PASS(zmq_send(w, frames[0], (size_t) lens[0], ZMQ_SNDMORE));
        zmq_send(w, "", 0, ZMQ_SNDMORE);
        ZR_SEND(w, "W: for W");
        break;
    }
    ZR_RECV(req, "W: for W");
    ZR_EQ(zrt_stat(dev, "broker", "requests", "answered", NULL), 1);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "failed", NULL), 0);
    zr_device_destroy(&dev);
    zmq_close(req);
    zmq_close(w);
    zmq_ctx_term(ctx);
}

/* Issue 11.6: the timer must look at every worker, even when giving up
 * one makes another go. lru, heartbeat 1h (so the timer runs only at
 * busy deadlines), busy_timeout 300 ms. Workers X, A, C in that order;
 * X has a full pipe (two requests it never read) and is the only ready
 * worker; A and C hold a request each and never answer. At A's deadline
 * A is given up and its request goes to X, whose pipe is full. Before
 * the fix that send failure killed X, the removal moved C into a slot
 * the timer had passed, and C, skipped, stayed busy past busy_timeout
 * until the next heartbeat, an hour later. A and C are lbbroker REQ
 * workers: they never heartbeat, so nothing else wakes the timer. */
static void
test_timer_sees_every_worker(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {
        "strategy",     "lru",   "sndhwm",          "1", "heartbeat", "1h",
        "busy_timeout", "300ms", "request_timeout", "0", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "tick", kv);
    void *k = zrt_socket(ctx, ZMQ_DEALER);
    ZR_PASS(zmq_setsockopt(k, ZMQ_ROUTING_ID, "K", 1));
    zrt_connect(k, "inproc://tick-front");
    void *x = zrt_socket(ctx, ZMQ_DEALER);
    zrt_setint(x, ZMQ_RCVHWM, 1); /* with the backend's SNDHWM 1: room 2 */
    ZR_PASS(zmq_setsockopt(x, ZMQ_ROUTING_ID, "X", 1));
    zrt_connect(x, "inproc://tick-back");
    ZR_SEND(x, "\x01");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "ready", NULL) == 1,
            ZRT_DEADLINE_MS);
    /* X answers what it is given without reading it: its pipe fills
     * while the broker sees it serve. */
    ZR_SEND(k, "k1");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "busy", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_SENDMORE(x, "K");
    ZR_SEND(x, "fake1");
    ZR_RECV(k, "fake1");
    ZR_SEND(k, "k2"); /* X's pipe is full now; X stays busy meanwhile */
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "busy", NULL) == 1,
            ZRT_DEADLINE_MS);
    s_worker_t a, c, g;
    s_worker_start(&a, ctx, "inproc://tick-back", W_REQ, 0, "A");
    atomic_store(&a.mute, true);
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "ready", NULL) == 1,
            ZRT_DEADLINE_MS);
    s_worker_start(&c, ctx, "inproc://tick-back", W_REQ, 0, "C");
    atomic_store(&c.mute, true);
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "ready", NULL) == 2,
            ZRT_DEADLINE_MS);
    void *ra = zrt_socket(ctx, ZMQ_REQ);
    void *rc = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(ra, "inproc://tick-front");
    zrt_connect(rc, "inproc://tick-front");
    ZR_SEND(ra, "ra");
    ZR_SEND(rc, "rc");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "busy", NULL) == 3,
            ZRT_DEADLINE_MS);
    ZR_SENDMORE(x, "K"); /* X answers k2: ready, and full */
    ZR_SEND(x, "fake2");
    ZR_RECV(k, "fake2");
    /* Both deadlines pass: A and C are given up, X is kept. */
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "busy", NULL) == 0,
            ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(dev, "broker", "workers", "expired", NULL), 2);
    ZR_EQ(zrt_stat(dev, "broker", "workers", "known", NULL), 1);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "waiting", NULL), 2);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "worker_full", NULL), 1);
    /* A worker that reads serves both, each once. */
    s_worker_start(&g, ctx, "inproc://tick-back", W_PPP, 0, "G");
    ZR_RECV(ra, "G: ra");
    ZR_RECV(rc, "G: rc");
    ZR_EQ(zrt_stat(dev, "broker", "requests", "retried", NULL), 2);
    s_worker_stop(&a);
    s_worker_stop(&c);
    s_worker_stop(&g);
    zr_device_destroy(&dev);
    zmq_close(ra);
    zmq_close(rc);
    zmq_close(k);
    zmq_close(x);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * rr: REP workers behind the queue's DEALER backend, pipelined DEALER
 * clients in front (issue 11.14).
 */

typedef struct {
    void *ctx;
    const char *endpoint;
    atomic_bool *stop;
    _Atomic int served;
    pthread_t thread;
} s_rep_t;

/* A REP worker: each request back as its reply. */
static void *
s_rep(void *arg)
{
    s_rep_t *w = arg;
    void *rep = zrt_socket(w->ctx, ZMQ_REP);
    zrt_connect(rep, w->endpoint);
    while (!atomic_load(w->stop)) {
        if (!zrt_readable(rep, 10)) {
            continue;
        }
        char buf[64];
        int n = zmq_recv(rep, buf, sizeof buf, 0);
        ZR_CHECK(n >= 0);
        ZR_PASS(zmq_send(rep, buf, (size_t) n, 0));
        atomic_fetch_add(&w->served, 1);
    }
    zmq_close(rep);
    return NULL;
}

static int
s_served(s_rep_t *workers, int n)
{
    int served = 0;
    for (int i = 0; i < n; i++) {
        served += atomic_load(&workers[i].served);
    }
    return served;
}

typedef struct {
    void *ctx;
    const char *endpoint;
    int requests;
    _Atomic int replies;
    atomic_bool *done; /* the workers served every request */
    pthread_t thread;
} s_pipeliner_t;

/* A DEALER client with all its requests in flight: it sends them all,
 * ["", n], then reads the replies, until every one came or the workers
 * served everything and none came for 2 s (the rest was lost). */
static void *
s_pipeliner(void *arg)
{
    s_pipeliner_t *c = arg;
    void *dealer = zrt_socket(c->ctx, ZMQ_DEALER);
    zrt_connect(dealer, c->endpoint);
    for (int i = 0; i < c->requests; i++) {
        ZR_PASS(zmq_send(dealer, "", 0, ZMQ_SNDMORE));
        ZR_PASS(zmq_send(dealer, &i, sizeof i, 0));
    }
    int got = 0;
    int64_t quiet_since = zrt_now_ms();
    while (got < c->requests) {
        if (zrt_readable(dealer, 10)) {
            char buf[64];
            ZR_EQ(zmq_recv(dealer, buf, sizeof buf, 0), 0);
            ZR_EQ(zmq_recv(dealer, buf, sizeof buf, 0), sizeof(int));
            atomic_store(&c->replies, ++got);
            quiet_since = zrt_now_ms();
        }
        else if (!atomic_load(c->done)) {
            quiet_since = zrt_now_ms();
        }
        else if (zrt_now_ms() - quiet_since > 2000) {
            break;
        }
    }
    zmq_close(dealer);
    return NULL;
}

/* Issue 11.14: 4 DEALER clients with 5,000 requests each in flight
 * (20,000) and 4 REP workers, under rr. A REP socket drops a reply when
 * its pipe to the relay is full; the relay stops reading the backend
 * while a reply waits for a client's full pipe, and meanwhile keeps
 * feeding requests to the workers: before the backend's receive queue
 * was unbounded, thousands of replies were lost that way, and no counter
 * showed it. Now every reply a worker sends reaches the relay, and every
 * reply the relay gets reaches its client or is counted as dropped (a
 * client that does not read for 100 ms, the engine's grace). */
static void
test_rr_pipelined_no_loss(void)
{
    enum { CLIENTS = 4, WORKERS = 4, EACH = 5000 };
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "rrpipe", NULL);
    atomic_bool stop = false, done = false;
    s_rep_t workers[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (s_rep_t){ctx, "inproc://rrpipe-back", &stop, 0, 0};
        pthread_create(&workers[i].thread, NULL, s_rep, &workers[i]);
    }
    s_pipeliner_t clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] =
            (s_pipeliner_t){ctx, "inproc://rrpipe-front", EACH, 0, &done, 0};
        pthread_create(&clients[i].thread, NULL, s_pipeliner, &clients[i]);
    }
    ZR_WAIT(s_served(workers, WORKERS) == CLIENTS * EACH, 60000);
    int served = s_served(workers, WORKERS);
    atomic_store(&done, true);
    int replies = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(clients[i].thread, NULL);
        replies += atomic_load(&clients[i].replies);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(workers[i].thread, NULL);
    }
    /* Every reply a worker sent reached the relay, and every one the
     * relay got reached its client or was counted as dropped. */
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st,
                  st.frontend.msgs_out + st.frontend.drop_peer_full +
                          st.frontend.drop_no_route >=
                      st.backend.msgs_in,
                  ZRT_DEADLINE_MS);
    printf("rr: %d requests served, %d replies reached the clients; relay: "
           "requests in %" PRIu64 ", replies in %" PRIu64 ", replies out "
           "%" PRIu64 ", replies dropped at the frontend %" PRIu64 "\n",
           served, replies, st.frontend.msgs_in, st.backend.msgs_in,
           st.frontend.msgs_out,
           st.frontend.drop_peer_full + st.frontend.drop_no_route);
    ZR_EQ(st.frontend.msgs_in, CLIENTS * EACH);
    ZR_CHECKF(st.backend.msgs_in == (uint64_t) served,
              "%d replies lost at the workers",
              served - (int) st.backend.msgs_in);
    ZR_EQ(replies + st.frontend.drop_peer_full + st.frontend.drop_no_route,
          CLIENTS * EACH);
    /* What rr can count: every request came back from a worker. */
    ZR_EQ(zrt_stat(dev, "queue", "requests_in", NULL), CLIENTS * EACH);
    ZR_EQ(zrt_stat(dev, "queue", "replies_in", NULL), CLIENTS * EACH);
    ZR_EQ(zrt_stat(dev, "queue", "unanswered", NULL), 0);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* Whole messages read from S without waiting. */
static int
s_swallow(void *s)
{
    int n = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0) {
        n += !zmq_msg_more(&m);
    }
    zmq_msg_close(&m);
    return n;
}

/* rr cannot tell a worker from a raw peer on the backend that swallows
 * requests; its counters show what never came back. */
static void
test_rr_unanswered(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "rrsw", NULL);
    atomic_bool stop = false;
    s_rep_t rep = {ctx, "inproc://rrsw-back", &stop, 0, 0};
    pthread_create(&rep.thread, NULL, s_rep, &rep);
    void *swallower = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(swallower, "inproc://rrsw-back");
    void *client = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(client, "inproc://rrsw-front");
    /* One request at a time until the swallower has had some. */
    int sent = 0, swallowed = 0;
    while (sent < 10 || swallowed == 0) {
        ZR_CHECK(sent < 1000);
        ZR_SENDMORE(client, "");
        ZR_SEND(client, "request");
        sent++;
        ZR_WAIT((swallowed += s_swallow(swallower),
                 swallowed + atomic_load(&rep.served) == sent),
                ZRT_DEADLINE_MS);
    }
    int served = atomic_load(&rep.served);
    for (int i = 0; i < served; i++) {
        ZR_RECV(client, "");
        ZR_RECV(client, "request");
    }
    ZR_WAIT(zrt_stat(dev, "queue", "replies_out", NULL) == served,
            ZRT_DEADLINE_MS);
    printf("rr: %d requests, %d answered, %d swallowed\n", sent, served,
           swallowed);
    ZR_EQ(zrt_stat(dev, "queue", "requests_in", NULL), sent);
    ZR_EQ(zrt_stat(dev, "queue", "requests_out", NULL), sent);
    ZR_EQ(zrt_stat(dev, "queue", "replies_in", NULL), served);
    ZR_EQ(zrt_stat(dev, "queue", "unanswered", NULL), swallowed);
    zr_device_destroy(&dev);
    atomic_store(&stop, true);
    pthread_join(rep.thread, NULL);
    zmq_close(swallower);
    zmq_close(client);
    zmq_ctx_term(ctx);
}

/* Issue 12.10: rr with 3 REP workers over tcp, one killed with a request
 * in hand (its socket closed mid-request), 30 requests. libzmq's DEALER
 * drops, silently, what it had queued for the dead worker, and the relay
 * dropped nothing itself (requests_dropped 0); what the relay can count
 * is every request whose reply never came: queue.unanswered. */
static void
test_rr_worker_killed(void)
{
    enum { REQUESTS = 30, GOOD = 2 };
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, "@tcp://127.0.0.1:*",
                                  "@tcp://127.0.0.1:*", NULL);
    const char *front = zrt_device_endpoint(dev, 0);
    const char *back = zrt_device_endpoint(dev, 1);
    atomic_bool stop = false;
    s_rep_t good[GOOD];
    for (int i = 0; i < GOOD; i++) {
        good[i] = (s_rep_t){ctx, back, &stop, 0, 0};
        pthread_create(&good[i].thread, NULL, s_rep, &good[i]);
    }
    void *doomed = zrt_socket(ctx, ZMQ_REP);
    zrt_connect(doomed, back);
    ZR_WAIT(zrt_stat(dev, "backend", "connections", "connected", NULL) == 3,
            ZRT_DEADLINE_MS);
    void *client = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(client, front);
    /* One request at a time until the doomed worker has one in hand. */
    int sent = 0, replies = 0;
    bool killed = false;
    while (!killed) {
        ZR_CHECK(sent < REQUESTS);
        ZR_SENDMORE(client, "");
        ZR_SEND(client, "request");
        sent++;
        zmq_pollitem_t items[] = {{client, 0, ZMQ_POLLIN, 0},
                                  {doomed, 0, ZMQ_POLLIN, 0}};
        ZR_CHECK(zmq_poll(items, 2, ZRT_DEADLINE_MS) > 0);
        if (items[1].revents & ZMQ_POLLIN) {
            ZR_RECV(doomed, "request");
            zmq_close(doomed); /* killed with the request in hand */
            killed = true;
        }
        else {
            ZR_RECV(client, "");
            ZR_RECV(client, "request");
            replies++;
        }
    }
    /* The relay's DEALER drops the dead worker's pipe when its
     * connection closes (libzmq posts that to the device's socket right
     * after the DISCONNECTED event the monitor counts): the rest go to
     * the good workers, one at a time. */
    ZR_WAIT(zrt_stat(dev, "backend", "connections", "disconnected", NULL) == 1,
            ZRT_DEADLINE_MS);
    for (; sent < REQUESTS; sent++) {
        ZR_SENDMORE(client, "");
        ZR_SEND(client, "request");
        ZR_CHECK(zrt_readable(client, ZRT_DEADLINE_MS));
        ZR_RECV(client, "");
        ZR_RECV(client, "request");
        replies++;
    }
    ZR_WAIT(zrt_stat(dev, "queue", "replies_out", NULL) == replies,
            ZRT_DEADLINE_MS);
    double unanswered = zrt_stat(dev, "queue", "unanswered", NULL);
    printf("rr: %d requests, %d answered, 1 lost with the killed worker; "
           "requests_dropped %.0f, unanswered %.0f\n",
           REQUESTS, replies, zrt_stat(dev, "queue", "requests_dropped", NULL),
           unanswered);
    ZR_EQ(replies, REQUESTS - 1);
    ZR_EQ(zrt_stat(dev, "queue", "requests_in", NULL), REQUESTS);
    ZR_EQ(zrt_stat(dev, "queue", "requests_out", NULL), REQUESTS);
    ZR_EQ(zrt_stat(dev, "queue", "requests_dropped", NULL), 0);
    ZR_EQ(unanswered, 1);
    atomic_store(&stop, true);
    for (int i = 0; i < GOOD; i++) {
        pthread_join(good[i].thread, NULL);
    }
    zmq_close(client);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* Log lines at info and above, kept for a test to read (the device's
 * thread writes, the test reads after a wait on a counter). */
static char s_log[4096];
static pthread_mutex_t s_log_lock = PTHREAD_MUTEX_INITIALIZER;

static void
s_log_keep(zr_log_level_t level, const char *line, void *arg)
{
    (void) level;
    (void) arg;
    pthread_mutex_lock(&s_log_lock);
    size_t n = strlen(s_log);
    snprintf(s_log + n, sizeof s_log - n, "%s\n", line);
    pthread_mutex_unlock(&s_log_lock);
}

static bool
s_logged(const char *text)
{
    pthread_mutex_lock(&s_log_lock);
    bool found = strstr(s_log, text) != NULL;
    pthread_mutex_unlock(&s_log_lock);
    return found;
}

static void
s_lru_long_busy(zr_device_t *dev)
{
    ZR_PASS(zr_device_set(dev, "strategy", "lru"));
    ZR_PASS(zr_device_set(dev, "busy_timeout", "60s"));
}

/* Issue 12.11: an lbbroker REQ worker killed mid-request over tcp. Its
 * connection closing is seen (the backend's socket monitor) long before
 * busy_timeout (60 s here): it is no longer busy nor known, and its
 * request goes to the next worker. */
static void
test_lru_req_worker_killed(void)
{
    zr_log_set_handler(s_log_keep, NULL);
    zr_log_set_level(ZR_LOG_INFO);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, "@tcp://127.0.0.1:*",
                                  "@tcp://127.0.0.1:*", s_lru_long_busy);
    const char *front = zrt_device_endpoint(dev, 0);
    const char *back = zrt_device_endpoint(dev, 1);
    void *doomed = zrt_socket(ctx, ZMQ_REQ);
    zmq_setsockopt(doomed, ZMQ_ROUTING_ID, "doomed", 6);
    zrt_connect(doomed, back);
    ZR_SEND(doomed, "READY");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "ready", NULL) == 1,
            ZRT_DEADLINE_MS);
    void *client = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(client, front);
    ZR_SEND(client, "hello");
    /* The worker has the request in hand: [client id, "", "hello"]. */
    char frame[64];
    zrt_recv_str(doomed, frame, sizeof frame);
    ZR_RECV(doomed, "");
    ZR_RECV(doomed, "hello");
    ZR_EQ(zrt_stat(dev, "broker", "workers", "busy", NULL), 1);
    zmq_close(doomed); /* killed: linger 0, the connection closes */
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "known", NULL) == 0,
            ZRT_DEADLINE_MS);
    ZR_EQ(zrt_stat(dev, "broker", "workers", "busy", NULL), 0);
    ZR_EQ(zrt_stat(dev, "broker", "workers", "expired", NULL), 1);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "retried", NULL), 1);
    /* Logged at info (-v) with its identity and address. */
    ZR_CHECKF(s_logged("REQ worker 'doomed' (127.0.0.1:") &&
                  s_logged(": worker 'doomed' (127.0.0.1:") &&
                  s_logged("is gone (its connection closed); its request "
                           "goes to another worker"),
              "log:\n%s", s_log);
    s_worker_t good;
    s_worker_start(&good, ctx, back, W_REQ, 0, "good");
    ZR_CHECK(zrt_readable(client, ZRT_DEADLINE_MS));
    ZR_RECV(client, "good: hello");
    s_worker_stop(&good);
    zmq_close(client);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* Issue 16's race, in the lru queue: a REQ worker that replies and
 * closes at once (a one-shot worker). Its reply, queued in the backend
 * before the monitor reports the close, reaches its client: not dropped
 * as late, the request not sent again. */
static void
test_lru_reply_then_close(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_device(ctx, ZR_QUEUE, "@tcp://127.0.0.1:*",
                                  "@tcp://127.0.0.1:*", s_lru_long_busy);
    const char *front = zrt_device_endpoint(dev, 0);
    const char *back = zrt_device_endpoint(dev, 1);
    void *client = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(client, front);
    int rounds = 60;
    for (int i = 0; i < rounds; i++) {
        void *w = zrt_socket(ctx, ZMQ_REQ);
        zrt_connect(w, back);
        ZR_SEND(w, "READY");
        char body[16], id[256], got[64];
        snprintf(body, sizeof body, "%d", i);
        ZR_SEND(client, body);
        ZR_CHECK(zrt_readable(w, ZRT_DEADLINE_MS));
        int id_len = zmq_recv(w, id, sizeof id, 0); /* binary */
        ZR_CHECK(id_len > 0);
        ZR_RECV(w, "");
        ZR_RECV(w, body);
        zmq_send(w, id, (size_t) id_len, ZMQ_SNDMORE);
        zmq_send(w, "", 0, ZMQ_SNDMORE);
        zmq_send(w, body, strlen(body), 0);
        int linger = 1000; /* the reply goes out before the close */
        zmq_setsockopt(w, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(w);
        ZR_CHECKF(zrt_readable(client, ZRT_DEADLINE_MS),
                  "round %d: no reply (late replies %.0f, retried %.0f)", i,
                  zrt_stat(dev, "broker", "requests", "late_replies", NULL),
                  zrt_stat(dev, "broker", "requests", "retried", NULL));
        zrt_recv_str(client, got, sizeof got);
        ZR_STREQ(got, body);
    }
    ZR_EQ(zrt_stat(dev, "broker", "requests", "late_replies", NULL), 0);
    /* (A request may go to the last round's worker, idle and its close
     * not seen yet, and then, its send failing, to this round's: retried,
     * not lost.) */
    ZR_EQ(zrt_stat(dev, "broker", "requests", "answered", NULL), rounds);
    zmq_close(client);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * Issue 13: who gets ZMTP heartbeats. A raw ZMTP 3.0 peer (NULL, a
 * DEALER) sees the relay's PING commands that a libzmq peer answers
 * unseen.
 */

/* A TCP connection to ENDPOINT ("tcp://127.0.0.1:PORT") that has done the
 * NULL handshake's half: our greeting and READY. */
static int
s_zmtp_connect(const char *endpoint)
{
    const char *colon = strrchr(endpoint, ':');
    ZR_CHECK(colon != NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) atoi(colon + 1))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ZR_CHECK(fd >= 0);
    ZR_PASS(connect(fd, (struct sockaddr *) &sa, sizeof sa));
    unsigned char hello[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0};
    memcpy(hello + 12, "NULL", 4);
    static const unsigned char ready[] =
        "\x04\x1c\x05READY\x0bSocket-Type\x00\x00\x00\x06"
        "DEALER";
    ZR_CHECK(write(fd, hello, sizeof hello) == (ssize_t) sizeof hello);
    ZR_CHECK(write(fd, ready, sizeof ready - 1) == (ssize_t) sizeof ready - 1);
    return fd;
}

typedef struct {
    int fd;
    unsigned char buf[4096];
    size_t len;
    bool greeted; /* the relay's 64-byte greeting consumed */
    int pings;
} s_zmtp_t;

/* Read what FD has within MS and count the relay's PINGs. */
static void
s_zmtp_read(s_zmtp_t *z, int ms)
{
    struct pollfd p = {.fd = z->fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) {
        return;
    }
    ssize_t n = read(z->fd, z->buf + z->len, sizeof z->buf - z->len);
    ZR_CHECKF(n > 0, "the relay closed the raw peer's connection");
    z->len += (size_t) n;
    size_t at = 0;
    if (!z->greeted) {
        if (z->len < 64) {
            return;
        }
        z->greeted = true;
        at = 64;
    }
    while (z->len - at >= 2) {
        unsigned char flags = z->buf[at];
        ZR_CHECKF(!(flags & 0x02), "unexpected long frame");
        size_t size = z->buf[at + 1];
        if (z->len - at < 2 + size) {
            break;
        }
        const unsigned char *body = z->buf + at + 2;
        if ((flags & 0x04) && size >= 5 && memcmp(body, "\x04PING", 5) == 0) {
            z->pings++;
        }
        at += 2 + size;
    }
    memmove(z->buf, z->buf + at, z->len - at);
    z->len -= at;
}

/* Whether the relay's accepted TCP connection whose peer is FD's local
 * address has SO_KEEPALIVE on; *IDLE its TCP_KEEPIDLE. The relay runs in
 * this process: its sockets are among our fds. */
static bool
s_relay_keepalive(int fd, int *idle)
{
    struct sockaddr_in mine, theirs;
    socklen_t len = sizeof mine;
    ZR_PASS(getsockname(fd, (struct sockaddr *) &mine, &len));
    for (int f = 3; f < 4096; f++) {
        len = sizeof theirs;
        if (f == fd || getpeername(f, (struct sockaddr *) &theirs, &len) != 0 ||
            theirs.sin_family != AF_INET || theirs.sin_port != mine.sin_port) {
            continue;
        }
        int on = 0;
        len = sizeof on;
        ZR_PASS(getsockopt(f, SOL_SOCKET, SO_KEEPALIVE, &on, &len));
        len = sizeof *idle;
        ZR_PASS(getsockopt(f, IPPROTO_TCP, TCP_KEEPIDLE, idle, &len));
        return on != 0;
    }
    ZR_FAILF("no socket in this process is the relay's end of fd %d", fd);
    return false;
}

static void
s_lru_fast_heartbeat(zr_device_t *dev)
{
    ZR_PASS(zr_device_set(dev, "strategy", "lru"));
    ZR_PASS(zr_device_set(dev, "heartbeat", "50ms"));
}

static void
s_lru_heartbeat_ivl(zr_device_t *dev)
{
    s_lru_fast_heartbeat(dev);
    ZR_PASS(zr_device_set(dev, "heartbeat_ivl", "50ms"));
}

/* lru, unasked: ZMTP heartbeats go to the workers' side only (PINGs on
 * the backend); the clients' side has TCP keepalive instead (before:
 * PINGs on both, O(peers^2) in libzmq's timers, a broker stopped near
 * 9,000 peers). While the worker-side peer gets 3 PINGs (150 ms of 50 ms
 * heartbeats), the client-side one gets none. Asked for (heartbeat_ivl),
 * both sides get them. */
static void
test_heartbeat_sides(void)
{
    void *ctx = zmq_ctx_new();
    for (int asked = 0; asked < 2; asked++) {
        zr_device_t *dev = zrt_device(
            ctx, ZR_QUEUE, "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*",
            asked ? s_lru_heartbeat_ivl : s_lru_fast_heartbeat);
        s_zmtp_t client = {.fd = s_zmtp_connect(zrt_device_endpoint(dev, 0))};
        s_zmtp_t worker = {.fd = s_zmtp_connect(zrt_device_endpoint(dev, 1))};
        int64_t deadline = zrt_now_ms() + ZRT_DEADLINE_MS;
        while (worker.pings < 3 && zrt_now_ms() < deadline) {
            s_zmtp_read(&worker, 10);
            s_zmtp_read(&client, 0);
        }
        ZR_CHECKF(worker.pings >= 3, "the worker side got %d PINGs",
                  worker.pings);
        if (!asked) {
            ZR_CHECKF(client.pings == 0, "the client side got %d PINGs unasked",
                      client.pings);
            int idle = 0;
            ZR_CHECK(s_relay_keepalive(client.fd, &idle));
            ZR_EQ(idle, 60);
        }
        else {
            while (client.pings == 0 && zrt_now_ms() < deadline) {
                s_zmtp_read(&client, 10);
            }
            ZR_CHECKF(client.pings > 0, "heartbeat_ivl: no PING to a client");
        }
        close(client.fd);
        close(worker.fd);
        zr_device_destroy(&dev);
    }
    zmq_ctx_term(ctx);
}

static void
test_options(void)
{
    zr_device_t *dev = zr_device_new(NULL, ZR_FORWARDER, "f");
    ZR_FAIL(zr_device_set(dev, "strategy", "lru"), EINVAL);
    ZR_STREQ(zr_device_error(dev), "'strategy' does not apply to a forwarder");
    zr_device_destroy(&dev);
    dev = zr_device_new(NULL, ZR_QUEUE, "q");
    ZR_FAIL(zr_device_set(dev, "strategy", "random"), EINVAL);
    ZR_STREQ(zr_device_error(dev), "'random' is not one of rr|lru|hash");
    zr_device_destroy(&dev);
}

/* The last frame received on S had another after it. */
static bool
s_more(void *s)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len);
    return more != 0;
}

/* [federation] A request from a peer queue ([hop, "", body] from its
 * ROUTER: here a DEALER standing in for it): the worker sees the plain
 * envelope [identity, "", body] the Guide's lbworker unpacks; the reply,
 * and the error reply at request_timeout, carry the hop frame back. */
static void
test_fed_hop_served_here(void)
{
    void *ctx = zmq_ctx_new();
    const char *kv[] = {"strategy", "lru", "request_timeout", "300ms", NULL};
    zr_device_t *dev = zrt_tag_device(ctx, ZR_QUEUE, "hopq", kv);
    void *worker = zrt_socket(ctx, ZMQ_REQ);
    void *peer = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(peer, "inproc://hopq-front");
    /* No worker yet: it waits, is never sent on (no peers), then fails. */
    ZR_SENDMORE(peer, "zrelay-hop:A:20");
    ZR_SENDMORE(peer, "");
    ZR_SEND(peer, "early");
    ZR_RECV(peer, "zrelay-hop:A:20");
    ZR_RECV(peer, "");
    ZR_RECV(peer, "ZRELAY-ERROR timeout no worker took it within 300 ms");
    ZR_CHECK(!s_more(peer));
    zrt_connect(worker, "inproc://hopq-back");
    ZR_SEND(worker, "READY");
    ZR_WAIT(zrt_stat(dev, "broker", "workers", "ready", NULL) == 1,
            ZRT_DEADLINE_MS);
    ZR_SENDMORE(peer, "zrelay-hop:A:1f");
    ZR_SENDMORE(peer, "");
    ZR_SEND(peer, "body");
    /* [identity, "", body]: three frames, no hop frame. */
    char id[256];
    ZR_CHECK(zrt_readable(worker, ZRT_DEADLINE_MS));
    int idn = zmq_recv(worker, id, sizeof id, 0);
    ZR_CHECK(idn > 0 && s_more(worker));
    ZR_RECV(worker, "");
    ZR_CHECK(s_more(worker));
    ZR_RECV(worker, "body");
    ZR_CHECK(!s_more(worker));
    ZR_CHECK(zmq_send(worker, id, (size_t) idn, ZMQ_SNDMORE) == idn);
    ZR_SENDMORE(worker, "");
    ZR_SEND(worker, "reply");
    ZR_RECV(peer, "zrelay-hop:A:1f");
    ZR_RECV(peer, "");
    ZR_RECV(peer, "reply");
    ZR_CHECK(!s_more(peer));
    ZR_EQ(zrt_stat(dev, "broker", "requests", "answered", NULL), 1);
    ZR_EQ(zrt_stat(dev, "broker", "requests", "timeouts", NULL), 1);
    zmq_close(worker);
    zmq_close(peer);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* [federation] peers: a majordomo's and an lru queue's only, named. */
static void
test_fed_options(void)
{
    zr_device_t *dev = zr_device_new(NULL, ZR_FORWARDER, "f");
    ZR_FAIL(zr_device_set(dev, "peers", "tcp://127.0.0.1:5556"), EINVAL);
    ZR_CHECKF(strstr(zr_device_error(dev), "'peers' does not apply") != NULL,
              "%s", zr_device_error(dev));
    zr_device_destroy(&dev);
    const char *strategies[] = {"rr", "hash"};
    for (int i = 0; i < 2; i++) {
        void *ctx = zmq_ctx_new();
        dev = zr_device_new(ctx, ZR_QUEUE, "q");
        ZR_PASS(zr_device_set_frontend(dev, "@inproc://fedopt-front"));
        ZR_PASS(zr_device_set_backend(dev, "@inproc://fedopt-back"));
        ZR_PASS(zr_device_set(dev, "strategy", strategies[i]));
        ZR_PASS(zr_device_set(dev, "peer_bind", "inproc://fedopt-state"));
        ZR_FAIL(zr_device_start(dev), EINVAL);
        ZR_CHECKF(strstr(zr_device_error(dev), "need strategy = lru") != NULL,
                  "%s: %s", strategies[i], zr_device_error(dev));
        zr_device_destroy(&dev);
        zmq_ctx_term(ctx);
    }
}

ZR_TESTS = {
    {"load: lru gives the fastest worker the most, and beats rr",
     test_lru_fastest_serves_most},
    {"inproc: lru with lbbroker REQ workers", test_lru_req_workers},
    {"inproc: without workers every request is answered", test_no_workers},
    {"inproc: a worker busy too long is given up", test_busy_timeout},
    {"inproc: hash keeps keys, moves only the gone worker's", test_hash},
    {"inproc: hash keys across workers leaving and joining", test_hash_churn},
    {"inproc: at stop a waiting request is answered", test_stop_answers},
    {"inproc: hash, a worker with a full pipe is not dead (11.2)",
     test_full_worker_not_dead},
    {"inproc: the timer sees every worker (11.6)",
     test_timer_sees_every_worker},
    {"inproc: rr, pipelined DEALER clients lose no reply (11.14)",
     test_rr_pipelined_no_loss},
    {"inproc: rr counts the requests that never came back", test_rr_unanswered},
    {"tcp: rr counts the requests lost with a killed REP worker (12.10)",
     test_rr_worker_killed},
    {"tcp: lru, a REQ worker killed mid-request is seen at once (12.11)",
     test_lru_req_worker_killed},
    {"tcp: lru, a reply and then the worker's close: the reply arrives",
     test_lru_reply_then_close},
    {"tcp: lru heartbeats its workers, keeps its clients alive by TCP (13)",
     test_heartbeat_sides},
    {"inproc: strategy options", test_options},
    {"inproc: a peer's request served here, its hop frame kept",
     test_fed_hop_served_here},
    {"inproc: peers on a majordomo and an lru queue only", test_fed_options},
    {NULL, NULL},
};
ZR_MAIN
