/* traffic.c - one run: the same traffic for every contender, a producer
 * (or client) and its consumers (or server), each in a thread with a
 * context of its own, the contender in the middle.
 * SPDX-License-Identifier: MIT
 *
 * Every message starts with a tag byte: 'D' data, 'P' a probe (forwarder:
 * are the subscriptions through?), 'E' end of stream. A run ends only when
 * every consumer has seen its 'E', so no run loses its tail (libzmq drops
 * unsent messages over ipc on a quick close); a forwarder's 'E' can be
 * dropped like any message, so it is repeated until every subscriber has
 * answered.
 *
 * Clocks: throughput is counted at the consumer, from its first data
 * message to its end of stream, with no clock read per message. Latency
 * is one clock read per round trip, into a histogram.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_HANDSHAKE_NS 10000000000ull /* subscriptions, end of stream */
#define S_GRACE_NS 30000000000ull     /* a run's time past its duration */
#define S_STALL_QUIET_NS 300000000ull /* sends refused this long: stalled */
#define S_STALL_MAX_NS 30000000000ull
#define S_WARMUP 200        /* round trips not measured */
#define S_WORKER_POLL_MS 10 /* lru workers look at clients_done this often */
#define S_MAX_FRAMES 8      /* frames of a request an lru worker takes */

typedef struct s_run_t s_run_t;

typedef struct {
    s_run_t *run;
    int index;
} s_arg_t;

struct s_run_t {
    const b_config_t *cfg;
    b_pattern_t pattern;
    size_t size;
    uint64_t duration_ns;
    void *prod;
    void *cons[B_MAX_SUBS];
    int ncons;
    atomic_int subs_ready, subs_done;
    atomic_bool abort;
    atomic_bool clients_done; /* the client has its 'E' back (queues) */
    uint64_t sent;
    uint64_t got[B_MAX_SUBS];
    uint64_t t_first[B_MAX_SUBS], t_last[B_MAX_SUBS];
    b_hist_t *hist;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
    char error[200];
};

static void
s_fail(s_run_t *run, const char *who, int err)
{
    pthread_mutex_lock(&run->mu);
    if (!run->error[0] && err != ETERM) {
        snprintf(run->error, sizeof run->error, "%s: %s", who,
                 zmq_strerror(err));
    }
    atomic_store(&run->abort, true);
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
}

static void
s_failf(s_run_t *run, const char *what)
{
    pthread_mutex_lock(&run->mu);
    if (!run->error[0]) {
        snprintf(run->error, sizeof run->error, "%s", what);
    }
    atomic_store(&run->abort, true);
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
}

static void
s_finished(s_run_t *run)
{
    pthread_mutex_lock(&run->mu);
    run->finished++;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
}

/* zmq_send, retried on EINTR. 0 or an errno. */
static int
s_send(void *s, const void *buf, size_t len, int flags)
{
    while (zmq_send(s, buf, len, flags) < 0) {
        if (errno != EINTR) {
            return errno;
        }
    }
    return 0;
}

/* zmq_msg_recv, retried on EINTR. 0 or an errno. */
static int
s_recv(void *s, zmq_msg_t *m, int flags)
{
    while (zmq_msg_recv(m, s, flags) < 0) {
        if (errno != EINTR) {
            return errno;
        }
    }
    return 0;
}

static char
s_tag(zmq_msg_t *m)
{
    return zmq_msg_size(m) ? *(char *) zmq_msg_data(m) : 0;
}

static char *
s_payload(size_t size)
{
    char *buf = malloc(size);
    if (buf) {
        memset(buf, 'x', size);
        buf[0] = 'D';
    }
    return buf;
}

/* Send data messages for the run's duration; returns how many, or -1. */
static int64_t
s_stream(s_run_t *run, const char *buf)
{
    uint64_t end = b_now_ns() + run->duration_ns;
    int64_t n = 0;
    for (;;) {
        if ((n & 31) == 0 && (b_now_ns() >= end || atomic_load(&run->abort))) {
            break;
        }
        int err = s_send(run->prod, buf, run->size, 0);
        if (err) {
            s_fail(run, "producer send", err);
            return -1;
        }
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------------
 * streamer: PUSH -> PULL.
 */

static void *
s_push(void *arg)
{
    s_run_t *run = arg;
    char *buf = s_payload(run->size);
    int64_t n = buf ? s_stream(run, buf) : -1;
    if (n >= 0) {
        run->sent = (uint64_t) n;
        int err = s_send(run->prod, "E", 1, 0);
        if (err) {
            s_fail(run, "producer send", err);
        }
    }
    free(buf);
    s_finished(run);
    return NULL;
}

static void *
s_pull(void *varg)
{
    s_arg_t *arg = varg;
    s_run_t *run = arg->run;
    int i = arg->index;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        int err = s_recv(run->cons[i], &m, 0);
        if (err) {
            s_fail(run, "consumer recv", err);
            break;
        }
        if (s_tag(&m) == 'E') {
            run->t_last[i] = b_now_ns();
            break;
        }
        if (run->got[i]++ == 0) {
            run->t_first[i] = b_now_ns();
        }
    }
    zmq_msg_close(&m);
    s_finished(run);
    return NULL;
}

/* ---------------------------------------------------------------------
 * forwarder: PUB -> SUB x N.
 */

/* Repeat the end-of-stream marker until every subscriber has acknowledged
 * it: a PUB (or the forwarder's XPUB) may drop any one copy. */
static void
s_end_stream(s_run_t *run)
{
    uint64_t deadline = b_now_ns() + S_HANDSHAKE_NS;
    while (atomic_load(&run->subs_done) < run->ncons &&
           !atomic_load(&run->abort)) {
        if (b_now_ns() > deadline) {
            s_failf(run, "end of stream not acknowledged within 10 s");
            break;
        }
        int err = s_send(run->prod, "E", 1, ZMQ_DONTWAIT);
        if (err && err != EAGAIN) {
            s_fail(run, "publisher send", err);
            break;
        }
        b_sleep_ms(1);
    }
}

/* Stream BUF (NULL: it could not be made), then the end of stream until
 * every subscriber has it; the producer's end either way. */
static void *
s_publish(s_run_t *run, char *buf)
{
    int64_t n = buf ? s_stream(run, buf) : -1;
    if (n >= 0) {
        run->sent = (uint64_t) n;
        s_end_stream(run);
    }
    free(buf);
    s_finished(run);
    return NULL;
}

/* Probe until every subscription has come through the proxy. */
static int
s_probe_subs(s_run_t *run)
{
    uint64_t deadline = b_now_ns() + S_HANDSHAKE_NS;
    while (atomic_load(&run->subs_ready) < run->ncons) {
        if (atomic_load(&run->abort)) {
            return -1;
        }
        if (b_now_ns() > deadline) {
            s_failf(run, "subscriptions did not reach the publisher "
                         "within 10 s");
            return -1;
        }
        int err = s_send(run->prod, "P", 1, ZMQ_DONTWAIT);
        if (err && err != EAGAIN) {
            s_fail(run, "publisher send", err);
            return -1;
        }
        b_sleep_ms(1);
    }
    return 0;
}

static void *
s_pub(void *arg)
{
    s_run_t *run = arg;
    char *buf = s_payload(run->size);
    if (buf && s_probe_subs(run) != 0) {
        free(buf);
        buf = NULL;
    }
    return s_publish(run, buf);
}

/* forwarder-gate: PUSH into a forwarder that holds publications until a
 * subscription exists. No probing: a PUSH does not drop, and the gate
 * keeps what comes before the subscriber, which is the point. The 'E' is
 * repeated as for a PUB: the forwarder's XPUB may drop it. */
static void *
s_gate_pub(void *arg)
{
    s_run_t *run = arg;
    return s_publish(run, s_payload(run->size));
}

static void *
s_sub(void *varg)
{
    s_arg_t *arg = varg;
    s_run_t *run = arg->run;
    int i = arg->index;
    bool probed = false;
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        int err = s_recv(run->cons[i], &m, 0);
        if (err) {
            s_fail(run, "subscriber recv", err);
            break;
        }
        char tag = s_tag(&m);
        if (tag == 'D') {
            if (run->got[i]++ == 0) {
                run->t_first[i] = b_now_ns();
            }
        }
        else if (tag == 'P') {
            if (!probed) {
                probed = true;
                atomic_fetch_add(&run->subs_ready, 1);
            }
        }
        else if (tag == 'E') {
            run->t_last[i] = b_now_ns();
            atomic_fetch_add(&run->subs_done, 1);
            break;
        }
    }
    zmq_msg_close(&m);
    s_finished(run);
    return NULL;
}

/* ---------------------------------------------------------------------
 * queue: REQ -> REP, one request at a time.
 */

/* A request client's end: unless ERR, the 'E' round trip that tells the
 * server the run is over; then the run's bookkeeping. */
static void *
s_client_end(s_run_t *run, zmq_msg_t *m, char *buf, int err)
{
    if (!err) {
        err = s_send(run->prod, "E", 1, 0);
        err = err ? err : s_recv(run->prod, m, 0);
    }
    if (err) {
        s_fail(run, "client", err);
    }
    atomic_store(&run->clients_done, true);
    zmq_msg_close(m);
    free(buf);
    s_finished(run);
    return NULL;
}

static void *
s_req(void *arg)
{
    s_run_t *run = arg;
    char *buf = s_payload(run->size);
    zmq_msg_t m;
    zmq_msg_init(&m);
    int err = buf ? 0 : ENOMEM;
    for (int i = 0; i < S_WARMUP && !err; i++) {
        err = s_send(run->prod, buf, run->size, 0);
        err = err ? err : s_recv(run->prod, &m, 0);
    }
    uint64_t start = b_now_ns(), end = start + run->duration_ns;
    uint64_t t0 = start, n = 0;
    while (!err && t0 < end) {
        err = s_send(run->prod, buf, run->size, 0);
        err = err ? err : s_recv(run->prod, &m, 0);
        uint64_t t1 = b_now_ns();
        b_hist_add(run->hist, t1 - t0);
        t0 = t1;
        n++;
    }
    if (!err) {
        run->got[0] = n;
        run->t_first[0] = start;
        run->t_last[0] = t0;
    }
    return s_client_end(run, &m, buf, err);
}

/* Echo every message, frame by frame and without a copy, until 'E'
 * (echoed too). A REP socket or a DEALER worker. */
static void *
s_echo(void *varg)
{
    s_arg_t *arg = varg;
    s_run_t *run = arg->run;
    void *s = run->cons[arg->index];
    zmq_msg_t m;
    zmq_msg_init(&m);
    for (;;) {
        int err = s_recv(s, &m, 0);
        if (err) {
            s_fail(run, "server recv", err);
            break;
        }
        bool more = zmq_msg_more(&m);
        bool end = !more && s_tag(&m) == 'E';
        while (zmq_msg_send(&m, s, more ? ZMQ_SNDMORE : 0) < 0) {
            if (errno != EINTR) {
                s_fail(run, "server send", errno);
                goto out;
            }
        }
        if (end) {
            break;
        }
    }
out:
    zmq_msg_close(&m);
    s_finished(run);
    return NULL;
}

/* ---------------------------------------------------------------------
 * queue: DEALER -> DEALER, up to `window` requests in flight.
 */

static void *
s_dealer(void *arg)
{
    s_run_t *run = arg;
    char *buf = s_payload(run->size);
    zmq_msg_t m;
    zmq_msg_init(&m);
    int err = buf ? 0 : ENOMEM;
    uint64_t end = b_now_ns() + run->duration_ns;
    uint64_t sent = 0, got = 0, first = 0;
    int outstanding = 0;
    bool stopping = false;
    while (!err) {
        while (!stopping && outstanding < run->cfg->window && !err) {
            err = s_send(run->prod, buf, run->size, 0);
            outstanding++;
            if ((++sent & 31) == 0 && b_now_ns() >= end) {
                stopping = true;
            }
        }
        if (err || outstanding == 0) {
            break;
        }
        err = s_recv(run->prod, &m, 0);
        outstanding--;
        if (got++ == 0) {
            first = b_now_ns();
        }
        if ((got & 31) == 0 && !stopping &&
            (b_now_ns() >= end || atomic_load(&run->abort))) {
            stopping = true;
        }
    }
    if (!err) {
        run->got[0] = got;
        run->sent = sent;
        run->t_first[0] = first;
        run->t_last[0] = b_now_ns();
    }
    return s_client_end(run, &m, buf, err);
}

/* ---------------------------------------------------------------------
 * lru queue: the ZeroMQ Guide's lbbroker worker, a REQ socket that says
 * "READY" first and then sends every request ([client envelope...,
 * body]) back whole as its reply (its REQ adds and strips the
 * delimiters). It runs until the client is done, not until an 'E': with
 * several workers the client's 'E' reaches only one of them.
 */

static void *
s_lru_worker(void *varg)
{
    s_arg_t *arg = varg;
    s_run_t *run = arg->run;
    void *s = run->cons[arg->index];
    zmq_msg_t f[S_MAX_FRAMES];
    int err = s_send(s, "READY", 5, 0);
    while (!err) {
        /* A message arrives whole: after its first frame, no EAGAIN. */
        int n = 0;
        bool more = true;
        while (more && !err && n < S_MAX_FRAMES) {
            zmq_msg_init(&f[n]);
            err = s_recv(s, &f[n], 0);
            if (err) {
                zmq_msg_close(&f[n]);
                break;
            }
            more = zmq_msg_more(&f[n]);
            n++;
        }
        if (err == EAGAIN && n == 0) { /* S_WORKER_POLL_MS of silence */
            err = 0;
            if (atomic_load(&run->clients_done) || atomic_load(&run->abort)) {
                break;
            }
            continue;
        }
        if (!err && more) {
            s_failf(run, "worker: a request of too many frames");
        }
        for (int i = 0; i < n; i++) {
            while (!err && !more &&
                   zmq_msg_send(&f[i], s, i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
                if (errno != EINTR) {
                    err = errno;
                }
            }
            zmq_msg_close(&f[i]);
        }
        if (more) {
            break;
        }
    }
    if (err) {
        s_fail(run, "worker", err);
    }
    s_finished(run);
    return NULL;
}

/* ---------------------------------------------------------------------
 * stall: PUSH into a consumer that never reads, until nothing more is
 * accepted. In the calling thread; the caller reads the proxy's memory.
 */

static void
s_stall(s_run_t *run)
{
    char *buf = s_payload(run->size);
    uint64_t start = b_now_ns(), refused_since = 0, n = 0;
    while (buf) {
        uint64_t now = b_now_ns();
        if (now - start > S_STALL_MAX_NS) {
            s_failf(run, "the producer was never stopped by backpressure");
            break;
        }
        int err = s_send(run->prod, buf, run->size, ZMQ_DONTWAIT);
        if (!err) {
            n++;
            refused_since = 0;
            continue;
        }
        if (err != EAGAIN) {
            s_fail(run, "producer send", err);
            break;
        }
        if (!refused_since) {
            refused_since = now;
        }
        else if (now - refused_since > S_STALL_QUIET_NS) {
            break;
        }
        b_sleep_ms(1);
    }
    run->sent = n;
    run->got[0] = n;
    run->t_first[0] = start;
    run->t_last[0] = b_now_ns();
    free(buf);
}

/* ---------------------------------------------------------------------
 * Setting up and tearing down a run.
 */

static void *
s_socket(const b_config_t *cfg, void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &cfg->sndhwm, sizeof cfg->sndhwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &cfg->rcvhwm, sizeof cfg->rcvhwm);
    if (type == ZMQ_PUB) {
        /* Throttle the publisher at its HWM instead of dropping: the
         * same for every contender. */
        int on = 1;
        zmq_setsockopt(s, ZMQ_XPUB_NODROP, &on, sizeof on);
    }
    if (type == ZMQ_SUB) {
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    }
    return s;
}

/* Bind S to a fresh endpoint of TRANSPORT; its resolved address in EP. */
static int
s_bind(const b_config_t *cfg, void *s, b_transport_t t, char *ep, size_t len)
{
    char want[200];
    b_endpoint(cfg, t, want, sizeof want);
    if (zmq_bind(s, want) != 0) {
        return -1;
    }
    return zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len);
}

static void *
s_new_ctx(const b_config_t *cfg)
{
    void *ctx = zmq_ctx_new();
    if (ctx) {
        zmq_ctx_set(ctx, ZMQ_IO_THREADS, cfg->io_threads);
    }
    return ctx;
}

typedef void *(s_thread_fn) (void *);

void
b_run(const b_config_t *cfg, b_pattern_t pattern, b_transport_t transport,
      size_t size, b_contender_t c, b_run_t *out)
{
    b_hist_t *hist = out->hist;
    memset(out, 0, sizeof *out);
    out->hist = hist;
    out->proxy_cpu_s = out->proxy_loop_cpu_s = out->proxy_rss_mb = NAN;
    out->rss_base_mb = out->rss_stalled_mb = NAN;
    out->loss_pct = NAN;
    const b_pattern_info_t *info = &b_patterns[pattern];

    s_run_t *run = calloc(1, sizeof *run);
    if (!run) {
        snprintf(out->error, sizeof out->error, "out of memory");
        return;
    }
    run->cfg = cfg;
    run->pattern = pattern;
    run->size = size;
    run->duration_ns = (uint64_t) (cfg->duration_s * 1e9);
    run->ncons = info->nsubs;
    run->hist = hist;
    pthread_mutex_init(&run->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&run->cv, &ca);
    pthread_condattr_destroy(&ca);

    void *shared = NULL, *pctx = NULL, *cctx = NULL;
    b_proxy_t *proxy = NULL;
    pthread_t threads[1 + B_MAX_SUBS];
    s_arg_t args[B_MAX_SUBS];
    int nthreads = 0;
    char err[240] = "";

    if (transport == B_INPROC) {
        /* One context for every party; start its threads now so they
         * are not counted as the proxy's. */
        shared = s_new_ctx(cfg);
        void *warm = shared ? zmq_socket(shared, ZMQ_PAIR) : NULL;
        if (warm) {
            zmq_close(warm);
        }
    }
    proxy = b_proxy_start(cfg, c, pattern, transport, shared, err, sizeof err);
    if (!proxy) {
        goto teardown;
    }
    pctx = shared ? shared : s_new_ctx(cfg);
    cctx = shared ? shared : s_new_ctx(cfg);

    /* The sockets: who binds follows the usual shape of each pattern
     * when there is no proxy; with one, everybody connects to it. */
    int ptype, ctype;
    switch (pattern) {
    case B_FORWARD1:
    case B_FORWARD4:
        ptype = ZMQ_PUB;
        ctype = ZMQ_SUB;
        break;
    case B_FWD_GATE: /* --ingest pull: publishers PUSH */
        ptype = ZMQ_PUSH;
        ctype = ZMQ_SUB;
        break;
    case B_REQREP:
        ptype = ZMQ_REQ;
        ctype = ZMQ_REP;
        break;
    case B_REQREP_LRU: /* lbbroker workers are REQ sockets */
        ptype = ZMQ_REQ;
        ctype = ZMQ_REQ;
        break;
    case B_DEALER:
        ptype = ZMQ_DEALER;
        ctype = ZMQ_DEALER;
        break;
    case B_DEALER_LRU:
        ptype = ZMQ_DEALER;
        ctype = ZMQ_REQ;
        break;
    default:
        ptype = ZMQ_PUSH;
        ctype = ZMQ_PULL;
        break;
    }
    run->prod = pctx ? s_socket(cfg, pctx, ptype) : NULL;
    for (int i = 0; i < run->ncons; i++) {
        run->cons[i] = cctx ? s_socket(cfg, cctx, ctype) : NULL;
    }
    bool sockets_ok = run->prod != NULL;
    for (int i = 0; i < run->ncons; i++) {
        sockets_ok = sockets_ok && run->cons[i] != NULL;
        if (sockets_ok && ctype == ZMQ_REQ) {
            /* An lru worker blocks this long, then looks whether the
             * client is done. */
            int ms = S_WORKER_POLL_MS;
            zmq_setsockopt(run->cons[i], ZMQ_RCVTIMEO, &ms, sizeof ms);
        }
    }
    if (!sockets_ok) {
        snprintf(err, sizeof err, "cannot create sockets: %s",
                 zmq_strerror(errno));
        goto teardown;
    }
    char ep[256];
    int rc = 0;
    if (c == B_DIRECT) {
        bool pub_binds = ptype == ZMQ_PUB;
        void *binder = pub_binds ? run->prod : run->cons[0];
        rc = s_bind(cfg, binder, transport, ep, sizeof ep);
        if (pub_binds) {
            for (int i = 0; rc == 0 && i < run->ncons; i++) {
                rc = zmq_connect(run->cons[i], ep);
            }
        }
        else if (rc == 0) {
            rc = zmq_connect(run->prod, ep);
        }
    }
    else {
        rc = zmq_connect(run->prod, b_proxy_frontend(proxy));
        for (int i = 0; rc == 0 && i < run->ncons; i++) {
            rc = zmq_connect(run->cons[i], b_proxy_backend(proxy));
        }
    }
    if (rc != 0) {
        snprintf(err, sizeof err, "cannot attach: %s", zmq_strerror(errno));
        goto teardown;
    }

    double cpu0, loop0, cpu1, loop1;
    b_proxy_cpu(proxy, &cpu0, &loop0);
    if (pattern == B_STALL) {
        double peak;
        b_proxy_rss(proxy, &out->rss_base_mb, &peak);
        s_stall(run);
        b_proxy_rss(proxy, &out->rss_stalled_mb, &peak);
        out->proxy_rss_mb = peak;
    }
    else {
        s_thread_fn *cons_fn = ctype == ZMQ_PULL  ? s_pull
                               : ctype == ZMQ_SUB ? s_sub
                               : ctype == ZMQ_REQ ? s_lru_worker
                                                  : s_echo;
        s_thread_fn *prod_fn = pattern == B_FWD_GATE ? s_gate_pub
                               : ptype == ZMQ_PUSH   ? s_push
                               : ptype == ZMQ_PUB    ? s_pub
                               : ptype == ZMQ_REQ    ? s_req
                                                     : s_dealer;
        for (int i = 0; i < run->ncons; i++) {
            args[i] = (s_arg_t){run, i};
            if (pthread_create(&threads[nthreads], NULL, cons_fn, &args[i]) ==
                0) {
                nthreads++;
            }
        }
        if (pthread_create(&threads[nthreads], NULL, prod_fn, run) == 0) {
            nthreads++;
        }
        if (nthreads != run->ncons + 1) {
            s_failf(run, "cannot start threads");
        }
        /* Wait for every party, or for an error or the deadline. */
        uint64_t deadline = b_now_ns() + run->duration_ns + S_GRACE_NS;
        struct timespec ts = {(time_t) (deadline / 1000000000u),
                              (long) (deadline % 1000000000u)};
        pthread_mutex_lock(&run->mu);
        while (run->finished < nthreads && !atomic_load(&run->abort)) {
            if (pthread_cond_timedwait(&run->cv, &run->mu, &ts) != 0 &&
                b_now_ns() >= deadline) {
                break;
            }
        }
        bool complete = run->finished == nthreads;
        pthread_mutex_unlock(&run->mu);
        if (!complete) {
            if (!atomic_load(&run->abort)) {
                s_failf(run, "run did not finish in time");
            }
            /* Unblock whoever still waits on a socket. */
            zmq_ctx_shutdown(pctx);
            zmq_ctx_shutdown(cctx);
        }
        for (int i = 0; i < nthreads; i++) {
            pthread_join(threads[i], NULL);
        }
        double now;
        b_proxy_rss(proxy, &now, &out->proxy_rss_mb);
    }
    b_proxy_cpu(proxy, &cpu1, &loop1);
    out->proxy_cpu_s = cpu1 - cpu0;
    out->proxy_loop_cpu_s = loop1 - loop0;

    /* The tally. */
    if (info->device == ZR_FORWARDER) {
        uint64_t total = 0, first = UINT64_MAX, last = 0;
        for (int i = 0; i < run->ncons; i++) {
            total += run->got[i];
            first = run->t_first[i] < first ? run->t_first[i] : first;
            last = run->t_last[i] > last ? run->t_last[i] : last;
        }
        out->msgs = total / (uint64_t) run->ncons;
        out->elapsed_s = last > first ? (double) (last - first) / 1e9 : 0;
        out->loss_pct =
            run->sent ? 100.0 * (1.0 - (double) total / ((double) run->sent *
                                                         (double) run->ncons))
                      : NAN;
    }
    else {
        out->msgs = run->got[0];
        out->elapsed_s = run->t_last[0] > run->t_first[0]
                             ? (double) (run->t_last[0] - run->t_first[0]) / 1e9
                             : 0;
    }
    out->sent = run->sent;
    if (!run->error[0] && (out->msgs == 0 || out->elapsed_s <= 0)) {
        snprintf(run->error, sizeof run->error, "no message came through");
    }
    snprintf(err, sizeof err, "%s", run->error);

teardown:
    if (run->prod) {
        zmq_close(run->prod);
    }
    for (int i = 0; i < run->ncons; i++) {
        if (run->cons[i]) {
            zmq_close(run->cons[i]);
        }
    }
    if (!shared) {
        if (pctx) {
            zmq_ctx_term(pctx);
        }
        if (cctx) {
            zmq_ctx_term(cctx);
        }
    }
    char stop_err[240];
    if (b_proxy_stop(&proxy, stop_err, sizeof stop_err) != 0 && !err[0]) {
        snprintf(err, sizeof err, "%s", stop_err);
    }
    if (shared) {
        zmq_ctx_term(shared);
    }
    pthread_cond_destroy(&run->cv);
    pthread_mutex_destroy(&run->mu);
    free(run);
    snprintf(out->error, sizeof out->error, "%s", err);
    out->ok = !err[0];
}
