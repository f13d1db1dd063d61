/* scale.c - zrelay-bench-scale: what a relay costs as the work grows.
 * SPDX-License-Identifier: MIT
 *
 * Five scenarios, against relays that run as processes of their own (the
 * zrelay binary; for the forwarder also zmq_proxy() in
 * zrelay-bench-zmq-proxy), over tcp on 127.0.0.1, every other party in
 * this process:
 *
 *   fanout  PUB -> forwarder -> N SUB (1, 10, 100, 1,000): msgs/s per
 *           subscriber and in total, loss, the relay's CPU and memory
 *   subs    N distinct subscriptions (10, 1,000, 100,000) over 4 SUB
 *           sockets: publish rate, memory and CPU per subscription, how
 *           long `zrelay ctl EP stats --json` takes
 *   queue   zrelay queue --strategy lru|hash, W lbbroker REQ workers and
 *           C DEALER clients: the relay's CPU per request, memory per peer
 *   churn   SUB sockets connecting, subscribing and closing (1,000 a
 *           second) against a forwarder while a steady PUB -> SUB stream
 *           flows through it
 *   io      zrelay streamer, 1, 8 and 64 KiB, --io-threads 1 against 2
 *
 * Relays are driven as bench/contender.c drives them: "ROLE bind ADDRESS"
 * lines, then "ready" (never a sleep); SIGTERM stops them. Their CPU is
 * the run time of every thread (/proc/PID/task/TID/schedstat, in ns;
 * utime + stime of /proc/PID/stat, in 10 ms ticks, when it is missing),
 * the loop's share the threads that are not libzmq's (ZMQbg/...), their
 * memory VmRSS and VmHWM. Within a scenario the contenders (or conditions)
 * alternate round by round, the first rotating, so a machine getting busier
 * weighs on all alike; the tables give medians and the rounds' min-max, and
 * ratios are taken round by round. Every message starts with a tag byte or is a
 * topic: control messages are at most 2 bytes ("P" probe, "E" end of
 * stream, "~P", "~E"), data messages longer.
 *
 * Output: --out DIR gets scale-SCENARIO.md (a markdown table and its
 * settings) and scale-SCENARIO.dat (gnuplot blocks for plot-scale.gp),
 * which bench/make-scale.sh puts into docs/PERFORMANCE.md. Without it the
 * tables go to stdout.
 */
#define _GNU_SOURCE /* pipe2, sys/epoll.h */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "relay_proc.h"

#ifndef ZRELAY_BIN
#define ZRELAY_BIN "zrelay"
#endif
#ifndef ZMQ_PROXY_BIN
#define ZMQ_PROXY_BIN "zrelay-bench-zmq-proxy"
#endif

#define S_MAX_REPS 32
#define S_MAX_LIST 8
#define S_BURST 512 /* messages taken from one socket per visit */
#define S_BATCH 100 /* connections opened at once (listen backlog) */
#define S_SETUP_NS 120000000000ull /* connecting, subscribing */
#define S_QUIET_NS 5000000000ull   /* no progress this long: stuck */
#define S_MSG_SIZE 16              /* fanout, subs, churn */
#define S_SUB_SOCKETS 4            /* subs: the SUB sockets */
#define S_TOPIC_LEN 8              /* subs: "t0001234" */
#define S_NOFILE 65536             /* the descriptors we ask for */

typedef enum { S_FANOUT, S_SUBS, S_QUEUE, S_CHURN, S_IO, S_NSCEN } s_scen_t;
static const char *const s_scen_names[S_NSCEN] = {"fanout", "subs", "queue",
                                                  "churn", "io"};

typedef enum { S_ZRELAY, S_ZMQ_PROXY, S_NKINDS } s_kind_t;
static const char *const s_kind_names[S_NKINDS] = {"zrelay", "zmq_proxy"};

typedef struct {
    const char *zrelay, *zmq_proxy;
    const char *mode; /* "full", "quick", "smoke" */
    const char *out;  /* directory, or NULL: stdout */
    bool want[S_NSCEN];
    bool want_kind[S_NKINDS];
    int reps;          /* fanout, churn, io */
    int reps_slow;     /* subs, queue */
    double duration_s; /* traffic per run */
    double churn_s;    /* churn: traffic per run */
    int fan[S_MAX_LIST], nfan;
    int subs[S_MAX_LIST], nsubs;
    bool subs_sorted; /* subscribe in sorted order instead of shuffled */
    int ctl_reps;
    int workers[S_MAX_LIST], nworkers;
    int clients[S_MAX_LIST], nclients;
    const char *strategies[S_MAX_LIST];
    int nstrategies;
    uint64_t requests; /* queue: per round */
    int window;
    int churn_rate, churn_life_ms;
    size_t sizes[S_MAX_LIST];
    int nsizes;
    long nofile; /* RLIMIT_NOFILE we got */
    char tmpdir[64];
    int failures;
} s_cfg_t;

/* ---------------------------------------------------------------------
 * Small things: time, numbers, summaries.
 */

static uint64_t
s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void
s_sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t) (ns / 1000000000u),
                          (long) (ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double
s_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

typedef struct {
    double v[S_MAX_REPS];
    int n;
} s_ser_t;

static void
s_put(s_ser_t *s, double x)
{
    if (s->n < S_MAX_REPS && isfinite(x)) {
        s->v[s->n++] = x;
    }
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_med(const s_ser_t *s)
{
    if (s->n == 0) {
        return NAN;
    }
    double v[S_MAX_REPS];
    memcpy(v, s->v, sizeof v[0] * (size_t) s->n);
    qsort(v, (size_t) s->n, sizeof v[0], s_cmp_double);
    return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

static double
s_lo(const s_ser_t *s)
{
    double m = NAN;
    for (int i = 0; i < s->n; i++) {
        m = isnan(m) || s->v[i] < m ? s->v[i] : m;
    }
    return m;
}

static double
s_hi(const s_ser_t *s)
{
    double m = NAN;
    for (int i = 0; i < s->n; i++) {
        m = isnan(m) || s->v[i] > m ? s->v[i] : m;
    }
    return m;
}

/* A number for a table: 1.23M, 456k, 78.9, 0.123. */
static const char *
s_num(double x, char *buf, size_t len)
{
    double a = fabs(x);
    if (isnan(x)) {
        snprintf(buf, len, "-");
    }
    else if (a >= 1e7) {
        snprintf(buf, len, "%.1fM", x / 1e6);
    }
    else if (a >= 1e6) {
        snprintf(buf, len, "%.2fM", x / 1e6);
    }
    else if (a >= 1e4) {
        snprintf(buf, len, "%.0fk", x / 1e3);
    }
    else if (a >= 1e3) {
        snprintf(buf, len, "%.1fk", x / 1e3);
    }
    else if (a >= 100) {
        snprintf(buf, len, "%.0f", x);
    }
    else if (a >= 10) {
        snprintf(buf, len, "%.1f", x);
    }
    else if (a >= 1) {
        snprintf(buf, len, "%.2f", x);
    }
    else {
        snprintf(buf, len, "%.3f", x);
    }
    return buf;
}

/* "median (min-max)", or the median alone for one round. */
static const char *
s_cell(const s_ser_t *s, char *buf, size_t len)
{
    char a[32], b[32], c[32];
    if (s->n == 0) {
        snprintf(buf, len, "-");
    }
    else if (s->n == 1) {
        snprintf(buf, len, "%s", s_num(s_med(s), a, sizeof a));
    }
    else {
        snprintf(buf, len, "%s (%s–%s)", s_num(s_med(s), a, sizeof a),
                 s_num(s_lo(s), b, sizeof b), s_num(s_hi(s), c, sizeof c));
    }
    return buf;
}

/* A ratio cell, two decimals: "1.05× (0.98–1.10)". */
static const char *
s_ratio_cell(const s_ser_t *s, char *buf, size_t len)
{
    if (s->n == 0) {
        snprintf(buf, len, "-");
    }
    else if (s->n == 1) {
        snprintf(buf, len, "%.2f×", s_med(s));
    }
    else {
        snprintf(buf, len, "%.2f× (%.2f–%.2f)", s_med(s), s_lo(s), s_hi(s));
    }
    return buf;
}

static void
s_progress(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zrelay-bench-scale: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* ---------------------------------------------------------------------
 * A relay in a process of its own.
 */

typedef b_relay_proc_t s_relay_t;

/* Start KIND's VERB with the options EXTRA (NULL-terminated), frontend
 * and backend bound to fresh ports on 127.0.0.1; return once it printed
 * "ready". */
static int
s_relay_start(const s_cfg_t *cfg, s_relay_t *r, s_kind_t kind, const char *verb,
              const char *const *extra, char *err, size_t errlen)
{
    const char *bin = kind == S_ZRELAY ? cfg->zrelay : cfg->zmq_proxy;
    const char *argv[32] = {bin, verb};
    int argc = 2;
    for (int i = 0; extra && extra[i] && argc < 28; i++) {
        argv[argc++] = extra[i];
    }
    argv[argc++] = "@tcp://127.0.0.1:*";
    argv[argc++] = "@tcp://127.0.0.1:*";
    argv[argc] = NULL;
    b_relay_how_t how = {
        .what = "relay", .dir = cfg->tmpdir, .ready_s = 30, .pin_cpu = -1};
    return b_relay_proc_start(r, argv, &how, err, errlen);
}

/* The relay's CPU seconds so far: every thread, and its own threads
 * without libzmq's I/O and reaper threads (ZMQbg/...: its loop). From
 * each task's schedstat (nanoseconds of run time); utime + stime of
 * /proc/PID/stat counts whole 10 ms ticks, too coarse for a short run,
 * and is the fallback. */
static void
s_relay_cpu(const s_relay_t *r, double *total, double *loop)
{
    char path[96];
    *total = *loop = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int) r->pid);
    DIR *dir = opendir(path);
    struct dirent *e;
    bool exact = dir != NULL;
    while (dir && (e = readdir(dir))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char tpath[128], comm[64] = "";
        snprintf(tpath, sizeof tpath, "/proc/%d/task/%.16s/stat", (int) r->pid,
                 e->d_name);
        double s = b_proc_stat_cpu_s(tpath, comm, sizeof comm);
        snprintf(tpath, sizeof tpath, "/proc/%d/task/%.16s/schedstat",
                 (int) r->pid, e->d_name);
        FILE *f = fopen(tpath, "r");
        unsigned long long ns = 0;
        if (f && fscanf(f, "%llu", &ns) == 1) {
            s = (double) ns / 1e9;
        }
        else {
            exact = false;
        }
        if (f) {
            fclose(f);
        }
        *total += s;
        if (strncmp(comm, "ZMQbg", 5) != 0) {
            *loop += s;
        }
    }
    if (dir) {
        closedir(dir);
    }
    if (!exact) {
        snprintf(path, sizeof path, "/proc/%d/stat", (int) r->pid);
        *total = b_proc_stat_cpu_s(path, NULL, 0);
    }
}

/* "VmRSS:" or "VmHWM:" of the relay, KiB; NAN when unreadable. */
static double
s_relay_kib(const s_relay_t *r, const char *field)
{
    return b_proc_status_kib(r->pid, field);
}

/* ---------------------------------------------------------------------
 * Sockets.
 */

static void *
s_ctx(int max_sockets)
{
    void *ctx = zmq_ctx_new();
    if (ctx) {
        zmq_ctx_set(ctx, ZMQ_IO_THREADS, 1);
        zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, max_sockets + 64);
    }
    return ctx;
}

static void *
s_socket(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (s) {
        int zero = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    }
    return s;
}

static void
s_set_int(void *s, int option, int value)
{
    zmq_setsockopt(s, option, &value, sizeof value);
}

static int
s_add_fd(int ep, void *s, uint32_t index)
{
    int fd;
    size_t len = sizeof fd;
    if (zmq_getsockopt(s, ZMQ_FD, &fd, &len) != 0) {
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = index};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* zmq_send, retried on EINTR: 0 or an errno. */
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

/* ---------------------------------------------------------------------
 * A sink: one thread takes messages from N sockets (a ZMQ_FD epoll set,
 * each socket drained in bursts), counts data per socket, and notes
 * probes and ends of stream. It makes, connects and closes its sockets
 * itself (CONNECT), a batch at a time, the next batch once the last has
 * seen a probe (SUB) or at once (PULL); or it is handed sockets made by
 * the caller before it starts.
 */

typedef struct {
    /* Set by the caller. */
    void *ctx;
    const char *connect; /* NULL: socks are given */
    int type;
    int n;
    bool gate_batches; /* SUB: connect the next batch once these probed */
    int seq_at;        /* data messages carry a sequence number here; 0: none */
    void **socks;
    /* Results. */
    uint64_t *got, *first, *last;
    unsigned char *state; /* 0, 1 probed, 2 ended */
    /* For readers in other threads, after each burst: got[] and the sum
     * (a window's counts are read while the sink runs). */
    _Atomic uint64_t *seen;
    _Atomic uint64_t total;
    /* With seq_at: messages missing in each socket's sequence (lost on
     * the way), and the sum for other threads. */
    uint64_t *next_seq, lost;
    _Atomic uint64_t lost_total;
    atomic_int ready, done, connected;
    atomic_bool stop;
    pthread_t thread;
    bool started;
    char error[160];
} s_sink_t;

static int
s_sink_init(s_sink_t *k, void *ctx, int type, int n)
{
    memset(k, 0, sizeof *k);
    k->ctx = ctx;
    k->type = type;
    k->n = n;
    k->socks = calloc((size_t) n, sizeof *k->socks);
    k->got = calloc((size_t) n, sizeof *k->got);
    k->first = calloc((size_t) n, sizeof *k->first);
    k->last = calloc((size_t) n, sizeof *k->last);
    k->state = calloc((size_t) n, 1);
    k->seen = calloc((size_t) n, sizeof *k->seen);
    k->next_seq = calloc((size_t) n, sizeof *k->next_seq);
    return k->socks && k->got && k->first && k->last && k->state && k->seen &&
                   k->next_seq
               ? 0
               : -1;
}

static void
s_sink_free(s_sink_t *k)
{
    free(k->socks);
    free(k->got);
    free(k->first);
    free(k->last);
    free(k->state);
    free((void *) k->seen);
    free(k->next_seq);
}

static void
s_sink_fail(s_sink_t *k, const char *what, int err)
{
    if (!k->error[0] && err != ETERM) {
        snprintf(k->error, sizeof k->error, "%s: %s", what, zmq_strerror(err));
    }
    atomic_store(&k->stop, true);
}

/* Take up to S_BURST messages from socket I; true when it may have more. */
static bool s_sink_burst(s_sink_t *k, int i, zmq_msg_t *m);

static bool
s_sink_drain(s_sink_t *k, int i, zmq_msg_t *m)
{
    uint64_t before = k->got[i], lost = k->lost;
    bool more = s_sink_burst(k, i, m);
    if (k->got[i] != before) {
        atomic_store_explicit(&k->seen[i], k->got[i], memory_order_relaxed);
        atomic_fetch_add_explicit(&k->total, k->got[i] - before,
                                  memory_order_relaxed);
    }
    if (k->lost != lost) {
        atomic_fetch_add_explicit(&k->lost_total, k->lost - lost,
                                  memory_order_relaxed);
    }
    return more;
}

static bool
s_sink_burst(s_sink_t *k, int i, zmq_msg_t *m)
{
    for (int b = 0; b < S_BURST; b++) {
        if (zmq_msg_recv(m, k->socks[i], ZMQ_DONTWAIT) < 0) {
            if (errno == EINTR) {
                return true;
            }
            if (errno != EAGAIN) {
                s_sink_fail(k, "sink recv", errno);
            }
            return false;
        }
        size_t size = zmq_msg_size(m);
        if (size > 2) {
            if (k->got[i]++ == 0) {
                k->first[i] = s_now_ns();
            }
            if (k->seq_at && size >= (size_t) k->seq_at + sizeof(uint64_t)) {
                uint64_t seq;
                memcpy(&seq, (const char *) zmq_msg_data(m) + k->seq_at,
                       sizeof seq);
                /* The first one seen starts the count. */
                if (k->got[i] > 1 && seq > k->next_seq[i]) {
                    k->lost += seq - k->next_seq[i];
                }
                k->next_seq[i] = seq + 1;
            }
            continue;
        }
        char tag = size ? ((const char *) zmq_msg_data(m))[size - 1] : 0;
        if (tag == 'P' && k->state[i] == 0) {
            k->state[i] = 1;
            atomic_fetch_add(&k->ready, 1);
        }
        else if (tag == 'E' && k->state[i] < 2) {
            k->state[i] = 2;
            k->last[i] = s_now_ns();
            atomic_fetch_add(&k->done, 1);
        }
    }
    return true;
}

/* Make and connect sockets up to N, S_BATCH at a time. */
static int
s_sink_connect_more(s_sink_t *k, int ep)
{
    int have = atomic_load(&k->connected);
    if (have == k->n ||
        (k->gate_batches && have > 0 && atomic_load(&k->ready) < have)) {
        return 0;
    }
    int upto = have + S_BATCH < k->n ? have + S_BATCH : k->n;
    for (int i = have; i < upto; i++) {
        void *s = s_socket(k->ctx, k->type);
        if (!s) {
            s_sink_fail(k, "sink socket", errno);
            return -1;
        }
        if (k->type == ZMQ_SUB) {
            zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
        }
        if (zmq_connect(s, k->connect) != 0 || s_add_fd(ep, s, (uint32_t) i)) {
            s_sink_fail(k, "sink connect", errno);
            zmq_close(s);
            return -1;
        }
        k->socks[i] = s;
        atomic_store(&k->connected, i + 1);
    }
    return 0;
}

static void *
s_sink_run(void *arg)
{
    s_sink_t *k = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int *pend = calloc((size_t) k->n, sizeof *pend);
    int *next = calloc((size_t) k->n, sizeof *next);
    bool *queued = calloc((size_t) k->n, sizeof *queued);
    if (ep < 0 || !pend || !next || !queued) {
        s_sink_fail(k, "sink", ENOMEM);
        goto out;
    }
    if (!k->connect) {
        for (int i = 0; i < k->n; i++) {
            if (s_add_fd(ep, k->socks[i], (uint32_t) i) != 0) {
                s_sink_fail(k, "sink epoll", errno);
                goto out;
            }
        }
        atomic_store(&k->connected, k->n);
    }
    zmq_msg_t m;
    zmq_msg_init(&m);
    int npend = 0;
    uint64_t quiet_since = s_now_ns();
    struct epoll_event ev[256];
    while (!atomic_load(&k->stop) && atomic_load(&k->done) < k->n) {
        if (k->connect && s_sink_connect_more(k, ep) != 0) {
            break;
        }
        int nev = epoll_wait(ep, ev, 256, npend ? 0 : 20);
        int nnext = 0;
        for (int j = 0; j < npend; j++) {
            int i = pend[j];
            queued[i] = false;
            if (s_sink_drain(k, i, &m) && !queued[i]) {
                queued[i] = true;
                next[nnext++] = i;
            }
        }
        for (int j = 0; j < nev; j++) {
            int i = (int) ev[j].data.u32;
            if (!queued[i] && s_sink_drain(k, i, &m)) {
                queued[i] = true;
                next[nnext++] = i;
            }
        }
        memcpy(pend, next, sizeof *pend * (size_t) nnext);
        npend = nnext;
        uint64_t now = s_now_ns();
        if (nev > 0 || npend > 0) {
            quiet_since = now;
        }
        else if (now - quiet_since > 100000000u) {
            /* A sweep now and then, in case an edge went unseen. */
            int have = atomic_load(&k->connected);
            for (int i = 0; i < have; i++) {
                while (s_sink_drain(k, i, &m)) {
                }
            }
            quiet_since = now;
        }
    }
    zmq_msg_close(&m);
out:
    if (ep >= 0) {
        close(ep);
    }
    free(pend);
    free(next);
    free(queued);
    if (k->connect) {
        /* The sockets are this thread's: close them here. */
        int have = atomic_load(&k->connected);
        for (int i = 0; i < have; i++) {
            zmq_close(k->socks[i]);
            k->socks[i] = NULL;
        }
    }
    return NULL;
}

static int
s_sink_start(s_sink_t *k)
{
    if (pthread_create(&k->thread, NULL, s_sink_run, k) != 0) {
        return -1;
    }
    k->started = true;
    return 0;
}

static void
s_sink_join(s_sink_t *k)
{
    if (k->started) {
        atomic_store(&k->stop, true);
        pthread_join(k->thread, NULL);
        k->started = false;
    }
}

/* The sink's tally: messages in all, and the span from the first data
 * message to the last end of stream; the slowest socket's rate over the
 * mean's. -1 with a reason in ERR when no message came through. */
static int
s_sink_tally(const s_sink_t *k, uint64_t *total, double *span_s,
             double *min_ratio, char *err, size_t errlen)
{
    uint64_t first = UINT64_MAX, last = 0;
    *total = 0;
    for (int i = 0; i < k->n; i++) {
        *total += k->got[i];
        if (k->got[i]) {
            first = k->first[i] < first ? k->first[i] : first;
        }
        last = k->last[i] > last ? k->last[i] : last;
    }
    *span_s = last > first ? (double) (last - first) / 1e9 : 0;
    double mean = *span_s > 0 ? (double) *total / k->n / *span_s : 0;
    double slowest = INFINITY;
    for (int i = 0; i < k->n; i++) {
        double span = k->last[i] > k->first[i]
                          ? (double) (k->last[i] - k->first[i]) / 1e9
                          : 0;
        double rate = span > 0 ? (double) k->got[i] / span : 0;
        slowest = rate < slowest ? rate : slowest;
    }
    *min_ratio = mean > 0 ? slowest / mean : NAN;
    if (*total == 0 || *span_s <= 0) {
        snprintf(err, errlen, "no message came through");
        return -1;
    }
    return 0;
}

/* Probe (PROBE) on PUB until the sink's N sockets all saw one; the sink
 * connects the next batch as a batch is through. */
static int
s_probe(void *pub, s_sink_t *k, const char *probe, char *err, size_t errlen)
{
    uint64_t deadline = s_now_ns() + S_SETUP_NS;
    while (atomic_load(&k->ready) < k->n) {
        if (atomic_load(&k->stop)) {
            snprintf(err, errlen, "%s",
                     k->error[0] ? k->error : "sink stopped");
            return -1;
        }
        if (s_now_ns() > deadline) {
            snprintf(err, errlen, "%d of %d subscribers came through in %llu s",
                     atomic_load(&k->ready), k->n,
                     (unsigned long long) (S_SETUP_NS / 1000000000u));
            return -1;
        }
        int e = s_send(pub, probe, strlen(probe), ZMQ_DONTWAIT);
        if (e && e != EAGAIN) {
            snprintf(err, errlen, "probe: %s", zmq_strerror(e));
            return -1;
        }
        s_sleep_ns(1000000);
    }
    return 0;
}

/* Repeat END on PUB until every socket of the sink has seen one (a PUB
 * or an XPUB may drop any copy). */
static int
s_end(void *pub, s_sink_t *k, const char *end, char *err, size_t errlen)
{
    uint64_t last_done = 0, deadline = s_now_ns() + S_SETUP_NS;
    while (atomic_load(&k->done) < k->n) {
        if (atomic_load(&k->stop)) {
            snprintf(err, errlen, "%s",
                     k->error[0] ? k->error : "sink stopped");
            return -1;
        }
        uint64_t done = (uint64_t) atomic_load(&k->done);
        if (done != last_done) {
            last_done = done;
            deadline = s_now_ns() + S_SETUP_NS;
        }
        if (s_now_ns() > deadline) {
            snprintf(err, errlen, "end of stream: %d of %d acknowledged",
                     atomic_load(&k->done), k->n);
            return -1;
        }
        int e = s_send(pub, end, strlen(end), ZMQ_DONTWAIT);
        if (e && e != EAGAIN) {
            snprintf(err, errlen, "end: %s", zmq_strerror(e));
            return -1;
        }
        s_sleep_ns(1000000);
    }
    return 0;
}

/* Send SIZE-byte data messages for DURATION; how many. */
static int64_t
s_stream(void *s, size_t size, double duration_s, char *err, size_t errlen)
{
    char *buf = malloc(size);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(buf, 'x', size);
    buf[0] = 'D';
    uint64_t end = s_now_ns() + (uint64_t) (duration_s * 1e9);
    int64_t n = 0;
    for (;; n++) {
        if ((n & 63) == 0 && s_now_ns() >= end) {
            break;
        }
        int e = s_send(s, buf, size, 0);
        if (e) {
            snprintf(err, errlen, "send: %s", zmq_strerror(e));
            n = -1;
            break;
        }
    }
    free(buf);
    return n;
}

/* ---------------------------------------------------------------------
 * Output: a markdown file and a gnuplot data file per scenario.
 */

typedef struct {
    FILE *md, *dat;
} s_out_t;

static int
s_out_open(const s_cfg_t *cfg, s_scen_t sc, s_out_t *o)
{
    o->md = stdout;
    o->dat = NULL;
    if (!cfg->out) {
        return 0;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/scale-%s.md", cfg->out, s_scen_names[sc]);
    o->md = fopen(path, "w");
    snprintf(path, sizeof path, "%s/scale-%s.dat", cfg->out, s_scen_names[sc]);
    o->dat = fopen(path, "w");
    if (!o->md || !o->dat) {
        fprintf(stderr, "zrelay-bench-scale: cannot write %s: %s\n", path,
                strerror(errno));
        exit(1);
    }
    return 0;
}

static void
s_out_close(s_out_t *o)
{
    if (o->md && o->md != stdout) {
        fclose(o->md);
    }
    else {
        fflush(stdout);
    }
    if (o->dat) {
        fclose(o->dat);
    }
}

/* A gnuplot data column triple: median, min, max. */
static void
s_dat3(FILE *f, const s_ser_t *s)
{
    double v[3] = {s_med(s), s_lo(s), s_hi(s)};
    for (int i = 0; f && i < 3; i++) {
        if (isnan(v[i])) {
            fprintf(f, " ?"); /* plot-scale.gp: missing */
        }
        else {
            fprintf(f, " %g", v[i]);
        }
    }
}

static void
s_note_fail(s_cfg_t *cfg, const char *what, const char *err)
{
    cfg->failures++;
    s_progress("FAILED %s: %s", what, err);
}

/* A run that failed with ERR: counted in *FAILED, ERR kept in ERROR (the
 * table's note on the case) and said, the case named by FMT. */
static void __attribute__((format(printf, 6, 7)))
s_run_failed(s_cfg_t *cfg, int *failed, char *error, size_t len,
             const char *err, const char *fmt, ...)
{
    (*failed)++;
    snprintf(error, len, "%s", err);
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    s_note_fail(cfg, what, err);
}

/* ---------------------------------------------------------------------
 * The start and the end of every run: its error is the first thing that
 * went wrong (ERR, with RC -1), then the relay's not stopping cleanly,
 * then the sink's (or another thread's) error.
 */

/* A setup step failed: ERR says why, unless it already does. */
static void
s_setup_failed(char *err, size_t errlen)
{
    if (!err[0]) {
        snprintf(err, errlen, "cannot set up: %s", zmq_strerror(errno));
    }
}

/* RC, or -1 with WHY in ERR when WHY says something and RC was 0. */
static int
s_keep_err(int rc, const char *why, char *err, size_t errlen)
{
    if (why[0] && rc == 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    return rc;
}

/* Stop R; its failing to stop cleanly is the run's error (s_keep_err). */
static int
s_relay_end(s_relay_t *r, int rc, char *err, size_t errlen)
{
    char stop_err[200] = "";
    b_relay_proc_stop(r, stop_err, sizeof stop_err);
    return s_keep_err(rc, stop_err, err, errlen);
}

/* Once its context is gone: the sink's error (s_keep_err), its memory. */
static int
s_sink_end(s_sink_t *k, bool ok, int rc, char *err, size_t errlen)
{
    if (ok) {
        rc = s_keep_err(rc, k->error, err, errlen);
        s_sink_free(k);
    }
    return rc;
}

static void
s_ctx_term(void *ctx)
{
    if (ctx) {
        zmq_ctx_term(ctx);
    }
}

/* NCASES cases, REPS rounds each, in every round every wanted relay, the
 * first rotating so a machine getting busier weighs on both alike. RUN
 * runs case K with KIND in round REP and returns its msgs/s (NAN when it
 * failed); RATIO[K] gets zrelay's over zmq_proxy's, round by round. */
typedef double (*s_case_fn)(s_cfg_t *cfg, int k, s_kind_t kind, int rep,
                            void *arg);

static void
s_alternate(s_cfg_t *cfg, int ncases, int reps, s_ser_t *ratio, s_case_fn run,
            void *arg)
{
    for (int k = 0; k < ncases; k++) {
        for (int rep = 0; rep < reps; rep++) {
            double rate[S_NKINDS] = {NAN, NAN};
            for (int j = 0; j < S_NKINDS; j++) {
                s_kind_t kind = (s_kind_t) ((j + rep) % S_NKINDS);
                if (cfg->want_kind[kind]) {
                    rate[kind] = run(cfg, k, kind, rep, arg);
                }
            }
            s_put(&ratio[k], rate[S_ZRELAY] / rate[S_ZMQ_PROXY]);
        }
    }
}

/* A publisher of TYPE connected to EP that waits rather than drop
 * (XPUB_NODROP); NULL with a reason in ERR. */
static void *
s_publisher(void *ctx, int type, const char *ep, char *err, size_t errlen)
{
    void *s = s_socket(ctx, type);
    s_set_int(s, ZMQ_XPUB_NODROP, 1);
    if (zmq_connect(s, ep) != 0) {
        snprintf(err, errlen, "connect: %s", zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* ---------------------------------------------------------------------
 * 1. Fan-out: PUB -> forwarder -> N SUB.
 */

typedef struct {
    s_ser_t total, per_sub, min_ratio, loss, cpu_pct, us_per_msg, kib_per_sub,
        peak_mib, harness_pct;
    int failed;
    char error[200];
} s_fan_res_t;

static int
s_fan_run(const s_cfg_t *cfg, s_kind_t kind, int n, s_fan_res_t *res, char *err,
          size_t errlen)
{
    s_relay_t relay;
    void *pctx = s_ctx(4), *sctx = s_ctx(n), *pub = NULL;
    s_sink_t sink;
    bool sink_ok = s_sink_init(&sink, sctx, ZMQ_SUB, n) == 0;
    int rc = -1;
    err[0] = '\0';
    if (!pctx || !sctx || !sink_ok ||
        s_relay_start(cfg, &relay, kind, "forwarder", NULL, err, errlen) != 0) {
        s_setup_failed(err, errlen);
        goto done;
    }
    pub = s_publisher(pctx, ZMQ_PUB, relay.frontend, err, errlen);
    if (!pub) {
        goto stop;
    }
    double kib0 = s_relay_kib(&relay, "VmRSS:");
    sink.connect = relay.backend;
    sink.gate_batches = true;
    sink.seq_at = 8;
    if (s_sink_start(&sink) != 0 || s_probe(pub, &sink, "P", err, errlen)) {
        goto stop;
    }
    double kib1 = s_relay_kib(&relay, "VmRSS:");
    /* Publish for a warm-up and then the measured window; the counts are
     * taken at the window's edges, while traffic flows: waiting for the
     * end of stream would measure the drain of every subscriber's queues
     * too (at 1,000 subscribers, 20 s of it). */
    uint64_t *at0 = calloc((size_t) n, sizeof *at0);
    if (!at0) {
        snprintf(err, errlen, "out of memory");
        goto stop;
    }
    char buf[S_MSG_SIZE];
    memset(buf, 'x', sizeof buf);
    buf[0] = 'D';
    uint64_t warm = (uint64_t) (cfg->duration_s * 0.25e9);
    uint64_t start = s_now_ns(), t0 = start + warm;
    uint64_t t1 = t0 + (uint64_t) (cfg->duration_s * 1e9);
    uint64_t sent = 0, total0 = 0, total1 = 0, lost0 = 0, lost1 = 0, now = 0;
    double cpu0 = 0, loop0, cpu1, loop1, self0 = 0, self1;
    bool measuring = false;
    for (;; sent++) {
        if ((sent & 63) == 0 && (now = s_now_ns()) >= t0) {
            if (!measuring) {
                measuring = true;
                t0 = now;
                t1 = now + (uint64_t) (cfg->duration_s * 1e9);
                total0 = atomic_load(&sink.total);
                lost0 = atomic_load(&sink.lost_total);
                for (int i = 0; i < n; i++) {
                    at0[i] = atomic_load_explicit(&sink.seen[i],
                                                  memory_order_relaxed);
                }
                s_relay_cpu(&relay, &cpu0, &loop0);
                self0 = s_self_cpu_s();
            }
            else if (now >= t1) {
                total1 = atomic_load(&sink.total);
                lost1 = atomic_load(&sink.lost_total);
                break;
            }
        }
        memcpy(buf + 8, &sent, sizeof sent);
        int e = s_send(pub, buf, sizeof buf, 0);
        if (e) {
            snprintf(err, errlen, "send: %s", zmq_strerror(e));
            free(at0);
            goto stop;
        }
    }
    t1 = now;
    s_relay_cpu(&relay, &cpu1, &loop1);
    self1 = s_self_cpu_s();
    double peak = s_relay_kib(&relay, "VmHWM:");
    double slowest = INFINITY;
    for (int i = 0; i < n; i++) {
        uint64_t got =
            atomic_load_explicit(&sink.seen[i], memory_order_relaxed) - at0[i];
        slowest = (double) got < slowest ? (double) got : slowest;
    }
    free(at0);
    uint64_t total = total1 - total0;
    if (total == 0) {
        snprintf(err, errlen, "no message came through");
        goto stop;
    }
    double wall = (double) (t1 - t0) / 1e9;
    s_put(&res->total, (double) total / wall);
    s_put(&res->per_sub, (double) total / wall / n);
    s_put(&res->min_ratio, slowest * n / (double) total);
    /* Loss: the gaps in each subscriber's sequence numbers, over what
     * it received and missed in the window. */
    uint64_t lost = lost1 - lost0;
    s_put(&res->loss, 100.0 * (double) lost / (double) (lost + total));
    s_put(&res->cpu_pct, 100.0 * (cpu1 - cpu0) / wall);
    s_put(&res->us_per_msg, (cpu1 - cpu0) * 1e6 / (double) total);
    s_put(&res->kib_per_sub, (kib1 - kib0) / n);
    s_put(&res->peak_mib, peak / 1024.0);
    s_put(&res->harness_pct, 100.0 * (self1 - self0) / wall);
    rc = 0;
stop:
    s_sink_join(&sink);
    if (pub) {
        zmq_close(pub);
    }
    rc = s_relay_end(&relay, rc, err, errlen);
done:
    s_ctx_term(pctx);
    s_ctx_term(sctx);
    return s_sink_end(&sink, sink_ok, rc, err, errlen);
}

/* Case K of the fan-out by KIND in round REP: its msgs/s in all, NAN
 * when it failed (s_alternate). */
static double
s_fan_case(s_cfg_t *cfg, int k, s_kind_t kind, int rep, void *arg)
{
    s_fan_res_t *r = &((s_fan_res_t(*)[S_NKINDS]) arg)[k][kind];
    int n = cfg->fan[k], before = r->total.n;
    char err[200];
    if (s_fan_run(cfg, kind, n, r, err, sizeof err) != 0) {
        s_run_failed(cfg, &r->failed, r->error, sizeof r->error, err,
                     "fanout %d %s", n, s_kind_names[kind]);
        return NAN;
    }
    s_progress("fanout %4d subscribers %-9s round %d: %.0f msgs/s in total, "
               "loss %.1f %%",
               n, s_kind_names[kind], rep + 1, r->total.v[before],
               r->loss.v[before]);
    return r->total.v[before];
}

static void
s_fanout(s_cfg_t *cfg)
{
    s_fan_res_t res[S_MAX_LIST][S_NKINDS];
    s_ser_t ratio[S_MAX_LIST];
    memset(res, 0, sizeof res);
    memset(ratio, 0, sizeof ratio);
    s_alternate(cfg, cfg->nfan, cfg->reps, ratio, s_fan_case, res);

    s_out_t o;
    s_out_open(cfg, S_FANOUT, &o);
    fprintf(o.md,
            "### Fan-out: PUB → forwarder → N SUB (tcp, %d B, counted over "
            "%.1f s of full-speed publishing after %.2f s of warm-up, %d "
            "rounds; median (min–max))\n\n",
            S_MSG_SIZE, cfg->duration_s, cfg->duration_s * 0.25, cfg->reps);
    fprintf(o.md,
            "| subs | relay | msgs/s per sub | msgs/s total | zrelay/zmq_proxy "
            "(total) | slowest sub / mean | loss %% | relay CPU %% | relay CPU "
            "µs per delivered msg | relay RSS KiB per sub (idle) | relay peak "
            "RSS MiB | harness CPU %% |\n");
    fprintf(o.md, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
                  "|\n");
    for (int k = 0; k < cfg->nfan; k++) {
        for (int kind = 0; kind < S_NKINDS; kind++) {
            if (!cfg->want_kind[kind]) {
                continue;
            }
            s_fan_res_t *r = &res[k][kind];
            char c[12][64];
            fprintf(o.md,
                    "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | "
                    "%s | %s |%s%s\n",
                    cfg->fan[k], s_kind_names[kind],
                    s_cell(&r->per_sub, c[0], 64), s_cell(&r->total, c[1], 64),
                    kind == S_ZRELAY ? s_ratio_cell(&ratio[k], c[2], 64) : "",
                    s_cell(&r->min_ratio, c[3], 64), s_cell(&r->loss, c[4], 64),
                    s_cell(&r->cpu_pct, c[5], 64),
                    s_cell(&r->us_per_msg, c[6], 64),
                    s_cell(&r->kib_per_sub, c[7], 64),
                    s_cell(&r->peak_mib, c[8], 64),
                    s_cell(&r->harness_pct, c[9], 64),
                    r->failed ? " failed: " : "", r->failed ? r->error : "");
        }
    }
    fprintf(o.md, "\n");
    for (int kind = 0; kind < S_NKINDS && o.dat; kind++) {
        fprintf(o.dat,
                "# fanout %s\n# subs total(med min max) "
                "us_per_msg(med min max) per_sub(med min max)\n",
                s_kind_names[kind]);
        for (int k = 0; k < cfg->nfan && cfg->want_kind[kind]; k++) {
            fprintf(o.dat, "%d", cfg->fan[k]);
            s_dat3(o.dat, &res[k][kind].total);
            s_dat3(o.dat, &res[k][kind].us_per_msg);
            s_dat3(o.dat, &res[k][kind].per_sub);
            fprintf(o.dat, "\n");
        }
        fprintf(o.dat, "\n\n");
    }
    s_out_close(&o);
}

/* ---------------------------------------------------------------------
 * 2. Subscriptions: N distinct topics over S_SUB_SOCKETS SUB sockets.
 */

typedef struct {
    s_ser_t rate, loss, sub_s, us_per_sub, bytes_per_sub, ctl_ms, raw_ms,
        upstream_pct;
    double reply_kib;
    int failed;
    char error[200];
} s_subs_res_t;

/* The subscriptions the publisher's XPUB has seen: distinct topics
 * starting with FIRST (subscribe) or unsubscribes of them. */
static void
s_read_subs(void *xpub, char first, uint64_t *subs, uint64_t *unsubs)
{
    char buf[64];
    for (;;) {
        int n = zmq_recv(xpub, buf, sizeof buf, ZMQ_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        if (n >= 2 && buf[1] == first) {
            *(buf[0] == 1 ? subs : unsubs) += 1;
        }
    }
}

/* Run `zrelay ctl EP stats --json` and time it; reply size in *BYTES.
 * Milliseconds, or NAN when it failed. */
static double
s_time_ctl(const s_cfg_t *cfg, const char *ep, size_t *bytes)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return NAN;
    }
    uint64_t t0 = s_now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 2);
        }
        execl(cfg->zrelay, cfg->zrelay, "ctl", ep, "stats", "--json",
              "--timeout", "60s", (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    *bytes = 0;
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) != 0) {
        if (n < 0 && errno != EINTR) {
            break;
        }
        *bytes += n > 0 ? (size_t) n : 0;
    }
    close(fds[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        return NAN;
    }
    return (double) (s_now_ns() - t0) / 1e6;
}

/* STATS over a REQ socket: the reply (malloc'd, NUL-terminated) and how
 * long it took, ms; NULL on failure. */
static char *
s_raw_stats(void *ctx, const char *ep, double *ms)
{
    void *req = s_socket(ctx, ZMQ_REQ);
    if (!req) {
        return NULL;
    }
    s_set_int(req, ZMQ_RCVTIMEO, 60000);
    char *text = NULL;
    uint64_t t0 = s_now_ns();
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_connect(req, ep) == 0 && zmq_send(req, "STATS", 5, 0) == 5 &&
        zmq_msg_recv(&m, req, 0) >= 0) {
        *ms = (double) (s_now_ns() - t0) / 1e6;
        text = malloc(zmq_msg_size(&m) + 1);
        if (text) {
            memcpy(text, zmq_msg_data(&m), zmq_msg_size(&m));
            text[zmq_msg_size(&m)] = '\0';
        }
    }
    zmq_msg_close(&m);
    zmq_close(req);
    return text;
}

/* A shuffled (or sorted) order of N topics. */
static uint32_t *
s_order(int n, bool sorted)
{
    uint32_t *order = malloc(sizeof *order * (size_t) n);
    if (!order) {
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        order[i] = (uint32_t) i;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift: the same every run */
    for (int i = n - 1; i > 0 && !sorted; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int j = (int) (x % (uint64_t) (i + 1));
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    return order;
}

static int
s_subs_run(const s_cfg_t *cfg, s_kind_t kind, int n, bool time_ctl,
           s_subs_res_t *res, char *err, size_t errlen)
{
    s_relay_t relay;
    const char *control[] = {"--control", "@tcp://127.0.0.1:*", NULL};
    void *pctx = s_ctx(4), *sctx = s_ctx(S_SUB_SOCKETS), *xpub = NULL;
    char *topics = malloc((size_t) n * S_TOPIC_LEN);
    uint32_t *order = s_order(n, cfg->subs_sorted);
    s_sink_t sink;
    bool sink_ok = s_sink_init(&sink, sctx, ZMQ_SUB, S_SUB_SOCKETS) == 0;
    int rc = -1;
    err[0] = '\0';
    if (!pctx || !sctx || !topics || !order || !sink_ok ||
        s_relay_start(cfg, &relay, kind, "forwarder",
                      kind == S_ZRELAY ? control : NULL, err, errlen) != 0) {
        s_setup_failed(err, errlen);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        char t[16];
        snprintf(t, sizeof t, "t%07d", i);
        memcpy(topics + (size_t) i * S_TOPIC_LEN, t, S_TOPIC_LEN);
    }
    xpub = s_publisher(pctx, ZMQ_XPUB, relay.frontend, err, errlen);
    if (!xpub) {
        goto stop;
    }
    /* The subscribers, each with "~" (the control messages) first. */
    for (int i = 0; i < S_SUB_SOCKETS; i++) {
        void *s = s_socket(sctx, ZMQ_SUB);
        sink.socks[i] = s;
        /* Subscriptions beyond SNDHWM in flight are dropped by libzmq. */
        s_set_int(s, ZMQ_SNDHWM, 0);
        char own[8];
        snprintf(own, sizeof own, "~%d", i);
        if (!s || zmq_setsockopt(s, ZMQ_SUBSCRIBE, "~", 1) != 0 ||
            zmq_setsockopt(s, ZMQ_SUBSCRIBE, own, strlen(own)) != 0 ||
            zmq_connect(s, relay.backend) != 0) {
            snprintf(err, errlen, "subscriber: %s", zmq_strerror(errno));
            goto stop;
        }
    }
    /* Every connection up, the same way for both relays: each
     * subscriber's "~K" of its own has reached the publisher (with "~",
     * S_SUB_SOCKETS + 1 distinct topics). The memory then is the
     * baseline. */
    uint64_t subs = 0, unsubs = 0, deadline = s_now_ns() + S_SETUP_NS;
    while (subs < S_SUB_SOCKETS + 1) {
        s_read_subs(xpub, '~', &subs, &unsubs);
        if (s_now_ns() > deadline) {
            snprintf(err, errlen, "the subscribers did not come through");
            goto stop;
        }
        s_sleep_ns(1000000);
    }
    double kib0 = s_relay_kib(&relay, "VmRSS:");
    double cpu0, loop0, cpu1, loop1;
    s_relay_cpu(&relay, &cpu0, &loop0);
    uint64_t t0 = s_now_ns();
    for (int i = 0; i < n; i++) {
        uint32_t t = order[i];
        if (zmq_setsockopt(sink.socks[t % S_SUB_SOCKETS], ZMQ_SUBSCRIBE,
                           topics + (size_t) t * S_TOPIC_LEN,
                           S_TOPIC_LEN) != 0) {
            snprintf(err, errlen, "subscribe: %s", zmq_strerror(errno));
            goto stop;
        }
    }
    /* Until every topic reached the publisher, or none came for a while
     * (a relay that lost some on the way). */
    subs = 0;
    uint64_t last_subs = 0, last_change = s_now_ns(), t_done = last_change;
    while (subs < (uint64_t) n) {
        s_read_subs(xpub, 't', &subs, &unsubs);
        uint64_t now = s_now_ns();
        if (subs != last_subs) {
            last_subs = subs;
            last_change = t_done = now;
        }
        else if (now - last_change > S_QUIET_NS) {
            break;
        }
        s_sleep_ns(200000);
    }
    s_relay_cpu(&relay, &cpu1, &loop1);
    double kib1 = s_relay_kib(&relay, "VmRSS:");
    s_put(&res->sub_s, (double) (t_done - t0) / 1e9);
    s_put(&res->us_per_sub, (cpu1 - cpu0) * 1e6 / n);
    s_put(&res->bytes_per_sub, (kib1 - kib0) * 1024.0 / n);
    s_put(&res->upstream_pct, 100.0 * (double) subs / n);

    /* Traffic: every message to one topic, in turn. */
    if (s_sink_start(&sink) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        goto stop;
    }
    char buf[S_MSG_SIZE];
    memset(buf, 'x', sizeof buf);
    uint64_t end = s_now_ns() + (uint64_t) (cfg->duration_s * 1e9), sent = 0;
    for (int i = 0;; i = i + 1 == n ? 0 : i + 1) {
        if ((sent & 63) == 0) {
            if (s_now_ns() >= end) {
                break;
            }
            s_read_subs(xpub, 't', &subs, &unsubs);
        }
        memcpy(buf, topics + (size_t) i * S_TOPIC_LEN, S_TOPIC_LEN);
        int e = s_send(xpub, buf, sizeof buf, 0);
        if (e) {
            snprintf(err, errlen, "send: %s", zmq_strerror(e));
            goto stop;
        }
        sent++;
    }
    if (s_end(xpub, &sink, "~E", err, errlen) != 0) {
        goto stop;
    }
    s_sink_join(&sink);
    uint64_t total;
    double span, min_ratio;
    if (s_sink_tally(&sink, &total, &span, &min_ratio, err, errlen) != 0) {
        goto stop;
    }
    s_put(&res->rate, (double) total / span);
    s_put(&res->loss, 100.0 * (1.0 - (double) total / (double) sent));

    /* STATS: the CLI's whole round trip, and the relay's answer alone. */
    for (int i = 0; time_ctl && kind == S_ZRELAY && i < cfg->ctl_reps; i++) {
        size_t bytes = 0;
        double ms = s_time_ctl(cfg, relay.control, &bytes);
        if (isnan(ms)) {
            snprintf(err, errlen, "zrelay ctl %.100s stats --json failed",
                     relay.control);
            goto stop;
        }
        s_put(&res->ctl_ms, ms);
        res->reply_kib = (double) bytes / 1024.0;
        char *text = s_raw_stats(pctx, relay.control, &ms);
        free(text);
        s_put(&res->raw_ms, text ? ms : NAN);
    }
    rc = 0;
stop:
    s_sink_join(&sink);
    if (xpub) {
        zmq_close(xpub);
    }
    for (int i = 0; i < S_SUB_SOCKETS && sink_ok; i++) {
        if (sink.socks[i]) {
            zmq_close(sink.socks[i]);
        }
    }
    rc = s_relay_end(&relay, rc, err, errlen);
done:
    s_ctx_term(pctx);
    s_ctx_term(sctx);
    rc = s_sink_end(&sink, sink_ok, rc, err, errlen);
    free(topics);
    free(order);
    return rc;
}

/* Case K of the subscriptions by KIND in round REP: its msgs/s, NAN when
 * it failed (s_alternate). The first round also times STATS. */
static double
s_subs_case(s_cfg_t *cfg, int k, s_kind_t kind, int rep, void *arg)
{
    s_subs_res_t *r = &((s_subs_res_t(*)[S_NKINDS]) arg)[k][kind];
    int n = cfg->subs[k], before = r->rate.n;
    char err[200];
    if (s_subs_run(cfg, kind, n, rep == 0, r, err, sizeof err)) {
        s_run_failed(cfg, &r->failed, r->error, sizeof r->error, err,
                     "subs %d %s", n, s_kind_names[kind]);
        return NAN;
    }
    s_progress("subs %6d %-9s round %d: %.0f msgs/s, subscribed in %.2f s, "
               "upstream %.1f %%",
               n, s_kind_names[kind], rep + 1, r->rate.v[before],
               r->sub_s.v[r->sub_s.n - 1],
               r->upstream_pct.v[r->upstream_pct.n - 1]);
    return r->rate.v[before];
}

static void
s_subscriptions(s_cfg_t *cfg)
{
    s_subs_res_t res[S_MAX_LIST][S_NKINDS];
    s_ser_t ratio[S_MAX_LIST];
    memset(res, 0, sizeof res);
    memset(ratio, 0, sizeof ratio);
    s_alternate(cfg, cfg->nsubs, cfg->reps_slow, ratio, s_subs_case, res);

    s_out_t o;
    s_out_open(cfg, S_SUBS, &o);
    fprintf(o.md,
            "### Subscriptions: N distinct prefixes over %d SUB sockets "
            "(tcp, %d B messages each matching one, %s order, %.1f s per "
            "run, %d rounds; median (min–max))\n\n",
            S_SUB_SOCKETS, S_MSG_SIZE, cfg->subs_sorted ? "sorted" : "shuffled",
            cfg->duration_s, cfg->reps_slow);
    fprintf(o.md, "| subscriptions | relay | msgs/s | zrelay/zmq_proxy | "
                  "loss %% | reached the publisher %% | all through in s | "
                  "relay CPU µs per subscription | relay RSS bytes per "
                  "subscription | `zrelay ctl stats --json` ms | STATS "
                  "answer alone ms | reply KiB |\n");
    fprintf(o.md, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
                  "|\n");
    for (int k = 0; k < cfg->nsubs; k++) {
        for (int kind = 0; kind < S_NKINDS; kind++) {
            if (!cfg->want_kind[kind]) {
                continue;
            }
            s_subs_res_t *r = &res[k][kind];
            char c[12][64], kib[32];
            snprintf(kib, sizeof kib, "%.1f", r->reply_kib);
            fprintf(
                o.md,
                "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s "
                "| %s | %s |%s%s\n",
                cfg->subs[k], s_kind_names[kind], s_cell(&r->rate, c[0], 64),
                kind == S_ZRELAY ? s_ratio_cell(&ratio[k], c[1], 64) : "",
                s_cell(&r->loss, c[2], 64), s_cell(&r->upstream_pct, c[3], 64),
                s_cell(&r->sub_s, c[4], 64), s_cell(&r->us_per_sub, c[5], 64),
                s_cell(&r->bytes_per_sub, c[6], 64),
                s_cell(&r->ctl_ms, c[7], 64), s_cell(&r->raw_ms, c[8], 64),
                r->ctl_ms.n ? kib : "-", r->failed ? " failed: " : "",
                r->failed ? r->error : "");
        }
    }
    fprintf(o.md, "\n");
    for (int kind = 0; kind < S_NKINDS && o.dat; kind++) {
        fprintf(o.dat,
                "# subs %s\n# n rate(med min max) bytes_per_sub(med min max) "
                "ctl_ms(med min max) sub_s(med min max) us_per_sub(med min "
                "max)\n",
                s_kind_names[kind]);
        for (int k = 0; k < cfg->nsubs && cfg->want_kind[kind]; k++) {
            s_subs_res_t *r = &res[k][kind];
            fprintf(o.dat, "%d", cfg->subs[k]);
            s_dat3(o.dat, &r->rate);
            s_dat3(o.dat, &r->bytes_per_sub);
            s_dat3(o.dat, &r->ctl_ms);
            s_dat3(o.dat, &r->sub_s);
            s_dat3(o.dat, &r->us_per_sub);
            fprintf(o.dat, "\n");
        }
        fprintf(o.dat, "\n\n");
    }
    s_out_close(&o);
}

/* ---------------------------------------------------------------------
 * 3. Queue: W lbbroker REQ workers, C DEALER clients.
 */

/* The workers: N REQ sockets, one thread; each says READY and sends
 * every request back whole as its reply. */
typedef struct {
    void *ctx;
    const char *connect;
    int n;
    void **socks;
    atomic_bool stop;
    atomic_int connected;
    pthread_t thread;
    bool started;
    char error[160];
} s_farm_t;

/* Serve socket S until it has nothing more; -1 on an error. */
static int
s_farm_serve(s_farm_t *f, void *s)
{
    zmq_msg_t fr[8];
    for (;;) {
        int n = 0;
        bool more = true;
        while (more && n < 8) {
            zmq_msg_init(&fr[n]);
            if (zmq_msg_recv(&fr[n], s, n ? 0 : ZMQ_DONTWAIT) < 0) {
                int e = errno;
                zmq_msg_close(&fr[n]);
                for (int i = 0; i < n; i++) {
                    zmq_msg_close(&fr[i]);
                }
                if (e == EAGAIN && n == 0) {
                    return 0;
                }
                if (e == EINTR && n == 0) {
                    continue;
                }
                if (e != ETERM && !f->error[0]) {
                    snprintf(f->error, sizeof f->error, "worker recv: %s",
                             zmq_strerror(e));
                }
                return -1;
            }
            more = zmq_msg_more(&fr[n]);
            n++;
        }
        for (int i = 0; i < n; i++) {
            if (zmq_msg_send(&fr[i], s, i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
                if (errno != ETERM && !f->error[0]) {
                    snprintf(f->error, sizeof f->error, "worker send: %s",
                             zmq_strerror(errno));
                }
                for (int j = i; j < n; j++) {
                    zmq_msg_close(&fr[j]);
                }
                return -1;
            }
        }
    }
}

static void *
s_farm_run(void *arg)
{
    s_farm_t *f = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev[256];
    for (int i = 0; i < f->n && ep >= 0; i++) {
        void *s = s_socket(f->ctx, ZMQ_REQ);
        if (!s || zmq_connect(s, f->connect) != 0 ||
            s_add_fd(ep, s, (uint32_t) i) != 0 ||
            s_send(s, "READY", 5, 0) != 0) {
            snprintf(f->error, sizeof f->error, "worker: %s",
                     zmq_strerror(errno));
            if (s) {
                zmq_close(s);
            }
            break;
        }
        f->socks[i] = s;
        atomic_store(&f->connected, i + 1);
        if ((i + 1) % S_BATCH == 0) {
            /* Pace the connections to the relay's listen backlog (100)
             * rather than have the kernel drop SYNs for a second. */
            s_sleep_ns(10000000);
        }
    }
    uint64_t quiet_since = s_now_ns();
    while (!atomic_load(&f->stop) && !f->error[0]) {
        int nev = epoll_wait(ep, ev, 256, 20);
        for (int j = 0; j < nev; j++) {
            s_farm_serve(f, f->socks[ev[j].data.u32]);
        }
        uint64_t now = s_now_ns();
        if (nev > 0) {
            quiet_since = now;
        }
        else if (now - quiet_since > 100000000u) {
            int have = atomic_load(&f->connected);
            for (int i = 0; i < have; i++) {
                s_farm_serve(f, f->socks[i]);
            }
            quiet_since = now;
        }
    }
    int have = atomic_load(&f->connected);
    for (int i = 0; i < have; i++) {
        zmq_close(f->socks[i]);
    }
    if (ep >= 0) {
        close(ep);
    }
    return NULL;
}

/* The clients: C connections of DEALER sockets, S_CONNS_PER_SOCKET to a
 * socket, driven by the calling thread; requests [""][8-byte key] sent
 * from each socket in turn, which deals them to its connections in turn.
 * To the relay each connection is a client (a peer, a routing id of its
 * own), and two descriptors per 100 clients instead of per client keep
 * 10,000 of them within this machine's 20,000 (a hard limit). libzmq
 * connects a DEALER to an endpoint once, so each connection names a
 * source address of its own: tcp://127.10.A.B:0;127.0.0.1:PORT. */
#define S_CONNS_PER_SOCKET 100
#define S_QUEUE_SETUP_NS 25000000000ull

typedef struct {
    void **socks;
    int n; /* sockets */
    int ep;
    uint64_t sent, got, errors, key;
    zmq_msg_t m;
} s_clients_t;

/* Take whatever replies socket I has. */
static int
s_clients_drain(s_clients_t *c, int i)
{
    void *s = c->socks[i];
    for (;;) {
        if (zmq_msg_recv(&c->m, s, ZMQ_DONTWAIT) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN ? 0 : -1;
        }
        size_t last = zmq_msg_size(&c->m);
        while (zmq_msg_more(&c->m)) {
            if (zmq_msg_recv(&c->m, s, 0) < 0) {
                return -1;
            }
            last = zmq_msg_size(&c->m);
        }
        c->got++;
        c->errors += last != sizeof(uint64_t);
    }
}

/* COUNT requests from clients LO..HI-1 in turn, WINDOW in flight. */
static int
s_clients_run(s_clients_t *c, int lo, int hi, uint64_t count, int window,
              char *err, size_t errlen)
{
    uint64_t target = c->got + count, left = count;
    uint64_t quiet_since = s_now_ns(), last_got = c->got;
    int next = lo;
    struct epoll_event ev[256];
    while (c->got < target) {
        while (left > 0 && c->sent - c->got < (uint64_t) window) {
            void *s = c->socks[next];
            uint64_t key = c->key++;
            if (s_send(s, "", 0, ZMQ_SNDMORE) ||
                s_send(s, &key, sizeof key, 0)) {
                snprintf(err, errlen, "client send: %s", zmq_strerror(errno));
                return -1;
            }
            c->sent++;
            left--;
            /* The send may have taken the socket's wake-up: look now. */
            if (s_clients_drain(c, next) != 0) {
                snprintf(err, errlen, "client recv: %s", zmq_strerror(errno));
                return -1;
            }
            next = next + 1 == hi ? lo : next + 1;
        }
        int nev = epoll_wait(c->ep, ev, 256, 20);
        for (int j = 0; j < nev; j++) {
            if (s_clients_drain(c, (int) ev[j].data.u32) != 0) {
                snprintf(err, errlen, "client recv: %s", zmq_strerror(errno));
                return -1;
            }
        }
        uint64_t now = s_now_ns();
        if (c->got != last_got) {
            last_got = c->got;
            quiet_since = now;
        }
        else if (nev <= 0 && now - quiet_since > 100000000u) {
            for (int i = lo; i < hi; i++) {
                s_clients_drain(c, i);
            }
            if (now - quiet_since > 2 * S_QUIET_NS) {
                snprintf(err, errlen,
                         "no reply for 10 s (%" PRIu64 " of %" PRIu64
                         " in flight)",
                         c->sent - c->got, c->sent);
                return -1;
            }
        }
    }
    if (c->errors) {
        snprintf(err, errlen, "%" PRIu64 " error replies", c->errors);
        return -1;
    }
    return 0;
}

/* A number from the relay's STATS by its path of keys (NULL-terminated):
 * s_stat_num(ctx, ep, "broker", "workers", "known", NULL); -1 when
 * unreadable. */
static double
s_stat_num(void *ctx, const char *control, ...)
{
    double ms;
    char *text = s_raw_stats(ctx, control, &ms);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *node = root;
    va_list ap;
    va_start(ap, control);
    for (const char *key; (key = va_arg(ap, const char *));) {
        node = cJSON_GetObjectItem(node, key);
    }
    va_end(ap);
    double v = cJSON_IsNumber(node) ? node->valuedouble : -1;
    cJSON_Delete(root);
    return v;
}

typedef struct {
    s_ser_t us_req, loop_us_req, rate, kib_per_peer, setup_s;
    double dropped; /* connections the relay closed (heartbeat timeouts) */
    int failed, skipped;
    char error[200];
} s_queue_res_t;

static int
s_queue_run(const s_cfg_t *cfg, const char *strategy, int nw, int nc,
            s_queue_res_t *res, char *err, size_t errlen)
{
    s_relay_t relay;
    /* "lru --heartbeat-ivl 1h": the strategy, then more options. */
    char words[256];
    snprintf(words, sizeof words, "%s", strategy);
    const char *opts[16] = {"--strategy"};
    int nopts = 1;
    char *save = NULL;
    for (char *w = strtok_r(words, " ", &save); w && nopts < 13;
         w = strtok_r(NULL, " ", &save)) {
        opts[nopts++] = w;
    }
    opts[nopts++] = "--control";
    opts[nopts++] = "@tcp://127.0.0.1:*";
    void *wctx = s_ctx(nw), *cctx = s_ctx(nc), *mctx = s_ctx(4);
    s_farm_t farm = {.n = nw};
    s_clients_t cl = {.ep = -1};
    zmq_msg_init(&cl.m);
    farm.socks = calloc((size_t) nw, sizeof *farm.socks);
    cl.n = (nc + S_CONNS_PER_SOCKET - 1) / S_CONNS_PER_SOCKET;
    cl.socks = calloc((size_t) cl.n, sizeof *cl.socks);
    int rc = -1;
    err[0] = '\0';
    if (!wctx || !cctx || !mctx || !farm.socks || !cl.socks ||
        s_relay_start(cfg, &relay, S_ZRELAY, "queue", opts, err, errlen) != 0) {
        s_setup_failed(err, errlen);
        goto done;
    }
    double kib0 = s_relay_kib(&relay, "VmRSS:");
    uint64_t t0 = s_now_ns();
    farm.ctx = wctx;
    farm.connect = relay.backend;
    if (pthread_create(&farm.thread, NULL, s_farm_run, &farm) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        goto stop;
    }
    farm.started = true;
    for (int known = 0; known != nw;) {
        if (farm.error[0] || s_now_ns() - t0 > S_SETUP_NS) {
            snprintf(err, errlen, "%d of %d workers known: %s", known, nw,
                     farm.error);
            goto stop;
        }
        s_sleep_ns(5000000);
        known = (int) s_stat_num(mctx, relay.control, "broker", "workers",
                                 "known", NULL);
    }
    /* The clients, a socket at a time, a round trip on each of its
     * connections before the next socket connects. */
    cl.ep = epoll_create1(EPOLL_CLOEXEC);
    const char *port = strrchr(relay.frontend, ':');
    for (int j = 0; j < cl.n; j++) {
        if (s_now_ns() - t0 > S_QUEUE_SETUP_NS) {
            snprintf(err, errlen,
                     "setup over %llu s: %d of %d clients had answered",
                     (unsigned long long) (S_QUEUE_SETUP_NS / 1000000000u),
                     j * S_CONNS_PER_SOCKET, nc);
            goto stop;
        }
        int lo = j * S_CONNS_PER_SOCKET;
        int hi = lo + S_CONNS_PER_SOCKET < nc ? lo + S_CONNS_PER_SOCKET : nc;
        cl.socks[j] = s_socket(cctx, ZMQ_DEALER);
        if (!cl.socks[j] || s_add_fd(cl.ep, cl.socks[j], (uint32_t) j)) {
            snprintf(err, errlen, "client: %s", zmq_strerror(errno));
            goto stop;
        }
        for (int i = lo; i < hi; i++) {
            char ep[128];
            snprintf(ep, sizeof ep, "tcp://127.10.%d.%d:0;127.0.0.1%.16s",
                     1 + i / 250, 1 + i % 250, port ? port : ":0");
            if (zmq_connect(cl.socks[j], ep) != 0) {
                snprintf(err, errlen, "client %s: %s", ep, zmq_strerror(errno));
                goto stop;
            }
        }
        if (s_clients_run(&cl, j, j + 1, (uint64_t) (hi - lo), hi - lo, err,
                          errlen) != 0) {
            goto stop;
        }
    }
    s_put(&res->setup_s, (double) (s_now_ns() - t0) / 1e9);
    /* Warm up, then the rounds. */
    if (s_clients_run(&cl, 0, cl.n, cfg->requests / 4, cfg->window, err,
                      errlen) != 0) {
        goto stop;
    }
    s_put(&res->kib_per_peer,
          (s_relay_kib(&relay, "VmRSS:") - kib0) / (nw + nc));
    for (int round = 0; round < cfg->reps_slow; round++) {
        double cpu0, loop0, cpu1, loop1;
        s_relay_cpu(&relay, &cpu0, &loop0);
        uint64_t a = s_now_ns();
        if (s_clients_run(&cl, 0, cl.n, cfg->requests, cfg->window, err,
                          errlen) != 0) {
            goto stop;
        }
        uint64_t b = s_now_ns();
        s_relay_cpu(&relay, &cpu1, &loop1);
        s_put(&res->us_req, (cpu1 - cpu0) * 1e6 / (double) cfg->requests);
        s_put(&res->loop_us_req,
              (loop1 - loop0) * 1e6 / (double) cfg->requests);
        s_put(&res->rate, (double) cfg->requests * 1e9 / (double) (b - a));
    }
    rc = 0;
stop:
    if (relay.pid > 0 && relay.control[0]) {
        /* Peers the relay gave up on: ZMTP heartbeat timeouts. */
        double d = s_stat_num(mctx, relay.control, "frontend", "connections",
                              "disconnected", NULL) +
                   s_stat_num(mctx, relay.control, "backend", "connections",
                              "disconnected", NULL);
        res->dropped = d > res->dropped ? d : res->dropped;
    }
    if (farm.started) {
        atomic_store(&farm.stop, true);
        pthread_join(farm.thread, NULL);
    }
    rc = s_keep_err(rc, farm.error, err, errlen);
    for (int i = 0; cl.socks && i < cl.n; i++) {
        if (cl.socks[i]) {
            zmq_close(cl.socks[i]);
        }
    }
    rc = s_relay_end(&relay, rc, err, errlen);
done:
    zmq_msg_close(&cl.m);
    if (cl.ep >= 0) {
        close(cl.ep);
    }
    s_ctx_term(wctx);
    s_ctx_term(cctx);
    s_ctx_term(mctx);
    free(farm.socks);
    free(cl.socks);
    return rc;
}

static void
s_queue(s_cfg_t *cfg)
{
    static s_queue_res_t res[S_MAX_LIST][S_MAX_LIST][S_MAX_LIST];
    memset(res, 0, sizeof res);
    for (int s = 0; s < cfg->nstrategies; s++) {
        for (int w = 0; w < cfg->nworkers; w++) {
            for (int c = 0; c < cfg->nclients; c++) {
                int nw = cfg->workers[w], nc = cfg->clients[c];
                long need = 2L * nw + nc + 512;
                s_queue_res_t *r = &res[s][w][c];
                char err[200];
                /* A cell with no fewer peers than one that failed: not
                 * run (it takes a minute to fail). */
                int fw = -1, fc = -1;
                for (int w2 = 0; w2 <= w && fw < 0; w2++) {
                    for (int c2 = 0; c2 <= c && fw < 0; c2++) {
                        if ((w2 != w || c2 != c) && res[s][w2][c2].failed &&
                            !res[s][w2][c2].skipped) {
                            fw = cfg->workers[w2];
                            fc = cfg->clients[c2];
                        }
                    }
                }
                if (fw >= 0) {
                    snprintf(r->error, sizeof r->error,
                             "not run: %d workers and %d clients failed", fw,
                             fc);
                    r->failed = r->skipped = 1;
                    s_progress("queue %s %d workers %d clients: %s",
                               cfg->strategies[s], nw, nc, r->error);
                    continue;
                }
                if (need > cfg->nofile) {
                    snprintf(err, sizeof err,
                             "needs %ld file descriptors, have %ld", need,
                             cfg->nofile);
                    s_run_failed(cfg, &r->failed, r->error, sizeof r->error,
                                 err, "queue");
                    continue;
                }
                if (s_queue_run(cfg, cfg->strategies[s], nw, nc, r, err,
                                sizeof err) != 0) {
                    s_run_failed(cfg, &r->failed, r->error, sizeof r->error,
                                 err, "queue %s %d workers %d clients",
                                 cfg->strategies[s], nw, nc);
                    continue;
                }
                s_progress("queue %-4s %5d workers %5d clients: %.2f us/req "
                           "(loop %.2f), %.0f req/s, %.2f KiB/peer",
                           cfg->strategies[s], nw, nc, s_med(&r->us_req),
                           s_med(&r->loop_us_req), s_med(&r->rate),
                           s_med(&r->kib_per_peer));
            }
        }
    }

    s_out_t o;
    s_out_open(cfg, S_QUEUE, &o);
    fprintf(o.md,
            "### Queue: `zrelay queue --strategy lru|hash`, W lbbroker REQ "
            "workers, C DEALER clients (tcp, [\"\", 8-byte key] requests from "
            "each client in turn, %d in flight, %d rounds of %" PRIu64
            " requests; median (min–max) of the rounds)\n\n",
            cfg->window, cfg->reps_slow, cfg->requests);
    fprintf(o.md, "| strategy | workers | clients | relay CPU µs/request | "
                  "its loop µs/request | requests/s | relay RSS KiB per peer | "
                  "setup s | connections the relay dropped |\n");
    fprintf(o.md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int s = 0; s < cfg->nstrategies; s++) {
        for (int w = 0; w < cfg->nworkers; w++) {
            for (int c = 0; c < cfg->nclients; c++) {
                s_queue_res_t *r = &res[s][w][c];
                char x[6][64];
                fprintf(
                    o.md,
                    "| %s | %d | %d | %s | %s | %s | %s | %s | %.0f |%s%s\n",
                    cfg->strategies[s], cfg->workers[w], cfg->clients[c],
                    s_cell(&r->us_req, x[0], 64),
                    s_cell(&r->loop_us_req, x[1], 64),
                    s_cell(&r->rate, x[2], 64),
                    s_cell(&r->kib_per_peer, x[3], 64),
                    s_cell(&r->setup_s, x[4], 64), r->dropped,
                    r->failed ? " failed: " : "", r->failed ? r->error : "");
            }
        }
    }
    fprintf(o.md, "\n");
    for (int s = 0; s < cfg->nstrategies && o.dat; s++) {
        for (int c = 0; c < cfg->nclients; c++) {
            fprintf(o.dat,
                    "# [q %d %d] %s, %d clients\n# workers "
                    "us_req(med min max) loop_us_req(med min max)\n",
                    s + 1, c + 1, cfg->strategies[s], cfg->clients[c]);
            for (int w = 0; w < cfg->nworkers; w++) {
                fprintf(o.dat, "%d", cfg->workers[w]);
                s_dat3(o.dat, &res[s][w][c].us_req);
                s_dat3(o.dat, &res[s][w][c].loop_us_req);
                fprintf(o.dat, "\n");
            }
            fprintf(o.dat, "\n\n");
        }
    }
    if (cfg->out) {
        /* The blocks' names for plot-scale.gp. */
        char path[512];
        snprintf(path, sizeof path, "%s/scale-queue.vars", cfg->out);
        FILE *f = fopen(path, "w");
        if (f) {
            fprintf(f, "array strat[%d] = [", cfg->nstrategies);
            for (int s = 0; s < cfg->nstrategies; s++) {
                fprintf(f, "%s\"%s\"", s ? ", " : "", cfg->strategies[s]);
            }
            fprintf(f, "]\narray clients[%d] = [", cfg->nclients);
            for (int c = 0; c < cfg->nclients; c++) {
                fprintf(f, "%s%d", c ? ", " : "", cfg->clients[c]);
            }
            fprintf(f, "]\n");
            fclose(f);
        }
    }
    s_out_close(&o);
}

/* ---------------------------------------------------------------------
 * 4. Connection churn.
 */

/* SUB sockets connecting to CONNECT, subscribing to a topic of their own
 * and closing LIFE_MS later, RATE a second. */
typedef struct {
    void *ctx;
    const char *connect;
    int rate, life_ms;
    atomic_bool stop;
    _Atomic uint64_t opened; /* read by the driving thread */
    uint64_t closed;
    double elapsed_s;
    pthread_t thread;
    bool started;
    char error[160];
} s_churn_t;

static void *
s_churn_run(void *arg)
{
    s_churn_t *ch = arg;
    int cap = ch->rate * ch->life_ms / 1000 * 2 + 64;
    void **ring = calloc((size_t) cap, sizeof *ring);
    uint64_t *born = calloc((size_t) cap, sizeof *born);
    int head = 0, count = 0;
    uint64_t period = 1000000000u / (uint64_t) ch->rate;
    uint64_t life = (uint64_t) ch->life_ms * 1000000u;
    uint64_t t0 = s_now_ns(), next = t0;
    while (ring && born && !atomic_load(&ch->stop)) {
        uint64_t now = s_now_ns();
        while (count > 0 && born[head] + life <= now) {
            zmq_close(ring[head]);
            head = (head + 1) % cap;
            count--;
            ch->closed++;
        }
        if (now >= next && count < cap) {
            void *s = s_socket(ch->ctx, ZMQ_SUB);
            char topic[32];
            uint64_t opened =
                atomic_load_explicit(&ch->opened, memory_order_relaxed);
            int len = snprintf(topic, sizeof topic, "c%" PRIu64, opened);
            if (!s || zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, (size_t) len) ||
                zmq_connect(s, ch->connect) != 0) {
                snprintf(ch->error, sizeof ch->error, "churn: %s",
                         zmq_strerror(errno));
                if (s) {
                    zmq_close(s);
                }
                break;
            }
            int tail = (head + count) % cap;
            ring[tail] = s;
            born[tail] = now;
            count++;
            atomic_store_explicit(&ch->opened, opened + 1,
                                  memory_order_relaxed);
            next += period;
            if (now > next + 100000000u) {
                next = now; /* fell behind: no burst to catch up */
            }
            continue;
        }
        uint64_t wake = next;
        if (count > 0 && born[head] + life < wake) {
            wake = born[head] + life;
        }
        if (wake > now) {
            s_sleep_ns(wake - now);
        }
    }
    ch->elapsed_s = (double) (s_now_ns() - t0) / 1e9;
    while (count > 0) {
        zmq_close(ring[head]);
        head = (head + 1) % cap;
        count--;
        ch->closed++;
    }
    free(ring);
    free(born);
    return NULL;
}

typedef enum { S_NONE, S_CHURN_HERE, S_CHURN_ELSEWHERE, S_NCONDS } s_cond_t;
static const char *const s_cond_names[S_NCONDS] = {
    "steady only", "churn on this relay", "churn on another relay"};

typedef struct {
    s_ser_t rate, ratio, cpu_pct, churn_rate, upstream_pct, harness_pct,
        us_per_conn;
    int failed;
    char error[200];
} s_churn_res_t;

static int
s_churn_one(const s_cfg_t *cfg, s_kind_t kind, s_cond_t cond,
            s_churn_res_t *res, double *rate_out, double *cpu_out,
            double *conn_out, char *err, size_t errlen)
{
    s_relay_t relay, other;
    b_relay_proc_init(&other);
    void *pctx = s_ctx(4), *sctx = s_ctx(4), *chctx = NULL, *xpub = NULL;
    s_sink_t sink;
    bool sink_ok = s_sink_init(&sink, sctx, ZMQ_SUB, 1) == 0;
    s_churn_t ch = {.rate = cfg->churn_rate, .life_ms = cfg->churn_life_ms};
    int rc = -1;
    err[0] = '\0';
    if (!pctx || !sctx || !sink_ok ||
        s_relay_start(cfg, &relay, kind, "forwarder", NULL, err, errlen) != 0) {
        s_setup_failed(err, errlen);
        goto done;
    }
    if (cond == S_CHURN_ELSEWHERE &&
        s_relay_start(cfg, &other, kind, "forwarder", NULL, err, errlen) != 0) {
        goto stop;
    }
    xpub = s_publisher(pctx, ZMQ_XPUB, relay.frontend, err, errlen);
    if (!xpub) {
        goto stop;
    }
    sink.connect = relay.backend;
    sink.gate_batches = true;
    if (s_sink_start(&sink) != 0 || s_probe(xpub, &sink, "P", err, errlen)) {
        goto stop;
    }
    uint64_t subs = 0, unsubs = 0;
    s_read_subs(xpub, 'c', &subs, &unsubs);
    uint64_t subs_start = subs;
    if (cond != S_NONE) {
        int cap = cfg->churn_rate * cfg->churn_life_ms / 1000 * 2 + 64;
        chctx = s_ctx(cap);
        ch.ctx = chctx;
        ch.connect = cond == S_CHURN_HERE ? relay.backend : other.backend;
        if (!chctx || pthread_create(&ch.thread, NULL, s_churn_run, &ch) != 0) {
            snprintf(err, errlen, "cannot start the churn");
            goto stop;
        }
        ch.started = true;
        /* Into its stride before the steady stream is measured. */
        s_sleep_ns((uint64_t) cfg->churn_life_ms * 2000000u);
    }
    s_read_subs(xpub, 'c', &subs, &unsubs);
    uint64_t opened0 = atomic_load(&ch.opened);
    double cpu0, loop0, cpu1, loop1, self0 = s_self_cpu_s();
    s_relay_cpu(&relay, &cpu0, &loop0);
    uint64_t t0 = s_now_ns(), end = t0 + (uint64_t) (cfg->churn_s * 1e9);
    char buf[S_MSG_SIZE];
    memset(buf, 'x', sizeof buf);
    buf[0] = 'D';
    uint64_t sent = 0;
    for (;; sent++) {
        if ((sent & 255) == 0) {
            if (s_now_ns() >= end) {
                break;
            }
            s_read_subs(xpub, 'c', &subs, &unsubs);
        }
        int e = s_send(xpub, buf, sizeof buf, 0);
        if (e) {
            snprintf(err, errlen, "send: %s", zmq_strerror(e));
            goto stop;
        }
    }
    uint64_t opened1 = atomic_load(&ch.opened);
    if (s_end(xpub, &sink, "E", err, errlen) != 0) {
        goto stop;
    }
    uint64_t t1 = s_now_ns();
    s_relay_cpu(&relay, &cpu1, &loop1);
    double self1 = s_self_cpu_s();
    s_read_subs(xpub, 'c', &subs, &unsubs);
    s_sink_join(&sink);
    if (ch.started) {
        atomic_store(&ch.stop, true);
        pthread_join(ch.thread, NULL);
        ch.started = false;
        if (ch.error[0]) {
            snprintf(err, errlen, "%s", ch.error);
            goto stop;
        }
        /* The last ones' subscriptions on their way up. */
        for (uint64_t until = s_now_ns() + 300000000u; s_now_ns() < until;) {
            s_read_subs(xpub, 'c', &subs, &unsubs);
            s_sleep_ns(5000000);
        }
    }
    uint64_t total;
    double span, min_ratio;
    if (s_sink_tally(&sink, &total, &span, &min_ratio, err, errlen) != 0) {
        goto stop;
    }
    double wall = (double) (t1 - t0) / 1e9;
    *rate_out = (double) total / span;
    s_put(&res->rate, *rate_out);
    s_put(&res->cpu_pct, 100.0 * (cpu1 - cpu0) / wall);
    s_put(&res->harness_pct, 100.0 * (self1 - self0) / wall);
    if (cond != S_NONE) {
        s_put(&res->churn_rate, (double) (opened1 - opened0) / wall);
    }
    uint64_t opened = atomic_load(&ch.opened);
    if (cond == S_CHURN_HERE && opened > 0) {
        /* The churning sockets' subscriptions that reached the publisher
         * (each a topic of its own): a socket closed before its handshake
         * was through never subscribed. */
        s_put(&res->upstream_pct,
              100.0 * (double) (subs - subs_start) / (double) opened);
    }
    *cpu_out = (cpu1 - cpu0) / wall;
    *conn_out = (double) (opened1 - opened0) / wall;
    rc = 0;
stop:
    s_sink_join(&sink);
    if (ch.started) {
        atomic_store(&ch.stop, true);
        pthread_join(ch.thread, NULL);
    }
    if (xpub) {
        zmq_close(xpub);
    }
    rc = s_relay_end(&relay, rc, err, errlen);
    rc = s_relay_end(&other, rc, err, errlen);
done:
    s_ctx_term(pctx);
    s_ctx_term(sctx);
    s_ctx_term(chctx);
    return s_sink_end(&sink, sink_ok, rc, err, errlen);
}

static void
s_churn(s_cfg_t *cfg)
{
    s_churn_res_t res[S_NKINDS][S_NCONDS];
    memset(res, 0, sizeof res);
    int ncombos = S_NKINDS * S_NCONDS;
    for (int rep = 0; rep < cfg->reps; rep++) {
        double rate[S_NKINDS][S_NCONDS], cpu[S_NKINDS][S_NCONDS];
        double conn[S_NKINDS][S_NCONDS];
        for (int j = 0; j < ncombos; j++) {
            int combo = (j + rep) % ncombos;
            s_kind_t kind = (s_kind_t) (combo / S_NCONDS);
            s_cond_t cond = (s_cond_t) (combo % S_NCONDS);
            rate[kind][cond] = cpu[kind][cond] = conn[kind][cond] = NAN;
            if (!cfg->want_kind[kind]) {
                continue;
            }
            s_churn_res_t *r = &res[kind][cond];
            char err[200];
            if (s_churn_one(cfg, kind, cond, r, &rate[kind][cond],
                            &cpu[kind][cond], &conn[kind][cond], err,
                            sizeof err) != 0) {
                s_run_failed(cfg, &r->failed, r->error, sizeof r->error, err,
                             "churn %s %s", s_kind_names[kind],
                             s_cond_names[cond]);
                continue;
            }
            s_progress("churn %-9s %-22s round %d: %.0f msgs/s",
                       s_kind_names[kind], s_cond_names[cond], rep + 1,
                       rate[kind][cond]);
        }
        for (int kind = 0; kind < S_NKINDS; kind++) {
            for (int cond = 0; cond < S_NCONDS; cond++) {
                s_put(&res[kind][cond].ratio,
                      rate[kind][cond] / rate[kind][S_NONE]);
            }
            /* The relay's CPU beyond what its steady messages cost (at
             * the steady-only run's CPU per message), per connection. */
            double per_msg = cpu[kind][S_NONE] / rate[kind][S_NONE];
            double extra =
                cpu[kind][S_CHURN_HERE] - rate[kind][S_CHURN_HERE] * per_msg;
            s_put(&res[kind][S_CHURN_HERE].us_per_conn,
                  extra * 1e6 / conn[kind][S_CHURN_HERE]);
        }
    }

    s_out_t o;
    s_out_open(cfg, S_CHURN, &o);
    fprintf(o.md,
            "### Connection churn: PUB → forwarder → SUB at full speed (tcp, "
            "%d B) while SUB sockets connect, subscribe to a topic of their "
            "own and close %d ms later, %d a second (%.1f s per run, %d "
            "rounds; median (min–max); ratios to the same relay's steady-only "
            "run of the same round)\n\n",
            S_MSG_SIZE, cfg->churn_life_ms, cfg->churn_rate, cfg->churn_s,
            cfg->reps);
    fprintf(o.md, "| relay | condition | steady msgs/s | / steady only | relay "
                  "CPU %% | relay CPU µs per churn connection | churn "
                  "achieved /s | churn subscriptions that reached the "
                  "publisher %% | harness CPU %% |\n");
    fprintf(o.md, "|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int kind = 0; kind < S_NKINDS; kind++) {
        for (int cond = 0; cond < S_NCONDS && cfg->want_kind[kind]; cond++) {
            s_churn_res_t *r = &res[kind][cond];
            char x[7][64];
            fprintf(o.md,
                    "| %s | %s | %s | %s | %s | %s | %s | %s | %s |%s%s\n",
                    s_kind_names[kind], s_cond_names[cond],
                    s_cell(&r->rate, x[0], 64),
                    cond == S_NONE ? "1" : s_ratio_cell(&r->ratio, x[1], 64),
                    s_cell(&r->cpu_pct, x[2], 64),
                    s_cell(&r->us_per_conn, x[6], 64),
                    s_cell(&r->churn_rate, x[3], 64),
                    s_cell(&r->upstream_pct, x[4], 64),
                    s_cell(&r->harness_pct, x[5], 64),
                    r->failed ? " failed: " : "", r->failed ? r->error : "");
        }
    }
    fprintf(o.md, "\n");
    if (o.dat) {
        fprintf(o.dat, "# churn\n# index label rate(med min max) ratio(med "
                       "min max)\n");
        int x = 0;
        for (int kind = 0; kind < S_NKINDS; kind++) {
            for (int cond = 0; cond < S_NCONDS; cond++) {
                fprintf(o.dat, "%d %s:%s", x++, s_kind_names[kind],
                        cond == S_NONE         ? "steady-only"
                        : cond == S_CHURN_HERE ? "churn-here"
                                               : "churn-elsewhere");
                s_dat3(o.dat, &res[kind][cond].rate);
                s_dat3(o.dat, &res[kind][cond].ratio);
                fprintf(o.dat, "\n");
            }
        }
        fprintf(o.dat, "\n\n");
    }
    s_out_close(&o);
}

/* ---------------------------------------------------------------------
 * 5. io_threads: zrelay streamer, --io-threads 1 against 2.
 */

typedef struct {
    s_ser_t rate, mbps, cpu_pct, io_pct, ratio;
    int failed;
    char error[200];
} s_io_res_t;

static int
s_io_one(const s_cfg_t *cfg, size_t size, int io, s_io_res_t *res,
         double *rate_out, char *err, size_t errlen)
{
    s_relay_t relay;
    char ios[16];
    snprintf(ios, sizeof ios, "%d", io);
    const char *opts[] = {"--io-threads", ios, NULL};
    void *pctx = s_ctx(4), *cctx = s_ctx(4), *push = NULL;
    s_sink_t sink;
    bool sink_ok = s_sink_init(&sink, cctx, ZMQ_PULL, 1) == 0;
    int rc = -1;
    err[0] = '\0';
    if (!pctx || !cctx || !sink_ok ||
        s_relay_start(cfg, &relay, S_ZRELAY, "streamer", opts, err, errlen)) {
        s_setup_failed(err, errlen);
        goto done;
    }
    push = s_socket(pctx, ZMQ_PUSH);
    sink.connect = relay.backend;
    if (zmq_connect(push, relay.frontend) != 0 || s_sink_start(&sink) != 0) {
        snprintf(err, errlen, "connect: %s", zmq_strerror(errno));
        goto stop;
    }
    double cpu0, loop0, cpu1, loop1;
    s_relay_cpu(&relay, &cpu0, &loop0);
    uint64_t t0 = s_now_ns();
    int64_t sent = s_stream(push, size, cfg->duration_s, err, errlen);
    int e = sent < 0 ? 0 : s_send(push, "E", 1, 0);
    if (sent < 0 || e) {
        if (e) {
            snprintf(err, errlen, "send: %s", zmq_strerror(e));
        }
        goto stop;
    }
    uint64_t deadline = s_now_ns() + S_SETUP_NS;
    while (atomic_load(&sink.done) < 1 && !atomic_load(&sink.stop)) {
        if (s_now_ns() > deadline) {
            snprintf(err, errlen, "end of stream not seen");
            goto stop;
        }
        s_sleep_ns(1000000);
    }
    uint64_t t1 = s_now_ns();
    s_relay_cpu(&relay, &cpu1, &loop1);
    s_sink_join(&sink);
    uint64_t total;
    double span, min_ratio;
    if (s_sink_tally(&sink, &total, &span, &min_ratio, err, errlen) != 0) {
        goto stop;
    }
    double wall = (double) (t1 - t0) / 1e9;
    *rate_out = (double) total / span;
    s_put(&res->rate, *rate_out);
    s_put(&res->mbps, *rate_out * (double) size / 1e6);
    s_put(&res->cpu_pct, 100.0 * (cpu1 - cpu0) / wall);
    s_put(&res->io_pct, 100.0 * ((cpu1 - loop1) - (cpu0 - loop0)) / wall);
    rc = 0;
stop:
    s_sink_join(&sink);
    if (push) {
        zmq_close(push);
    }
    rc = s_relay_end(&relay, rc, err, errlen);
done:
    s_ctx_term(pctx);
    s_ctx_term(cctx);
    return s_sink_end(&sink, sink_ok, rc, err, errlen);
}

static void
s_io(s_cfg_t *cfg)
{
    s_io_res_t res[S_MAX_LIST][2];
    memset(res, 0, sizeof res);
    for (int k = 0; k < cfg->nsizes; k++) {
        for (int rep = 0; rep < cfg->reps; rep++) {
            double rate[2] = {NAN, NAN};
            for (int j = 0; j < 2; j++) {
                int io = (j + rep) % 2; /* index: io_threads - 1 */
                s_io_res_t *r = &res[k][io];
                char err[200];
                if (s_io_one(cfg, cfg->sizes[k], io + 1, r, &rate[io], err,
                             sizeof err) != 0) {
                    s_run_failed(cfg, &r->failed, r->error, sizeof r->error,
                                 err, "io");
                    continue;
                }
                s_progress("io %6zu B --io-threads %d round %d: %.0f msgs/s",
                           cfg->sizes[k], io + 1, rep + 1, rate[io]);
            }
            s_put(&res[k][1].ratio, rate[1] / rate[0]);
        }
    }

    s_out_t o;
    s_out_open(cfg, S_IO, &o);
    fprintf(o.md,
            "### I/O threads: PUSH → `zrelay streamer --io-threads N` → PULL "
            "(tcp, the harness's contexts 1 I/O thread each, %.1f s per run, "
            "%d rounds; median (min–max); ratio per round)\n\n",
            cfg->duration_s, cfg->reps);
    fprintf(o.md, "| size | --io-threads | msgs/s | MB/s | 2 / 1 | relay CPU "
                  "%% | of which I/O threads %% |\n");
    fprintf(o.md, "|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < cfg->nsizes; k++) {
        for (int io = 0; io < 2; io++) {
            s_io_res_t *r = &res[k][io];
            char x[6][64];
            fprintf(o.md, "| %zu | %d | %s | %s | %s | %s | %s |%s%s\n",
                    cfg->sizes[k], io + 1, s_cell(&r->rate, x[0], 64),
                    s_cell(&r->mbps, x[1], 64),
                    io ? s_ratio_cell(&r->ratio, x[2], 64) : "",
                    s_cell(&r->cpu_pct, x[3], 64), s_cell(&r->io_pct, x[4], 64),
                    r->failed ? " failed: " : "", r->failed ? r->error : "");
        }
    }
    fprintf(o.md, "\n");
    for (int io = 0; io < 2 && o.dat; io++) {
        fprintf(o.dat,
                "# io %d\n# size mbps(med min max) rate(med min max) "
                "ratio(med min max)\n",
                io + 1);
        for (int k = 0; k < cfg->nsizes; k++) {
            fprintf(o.dat, "%zu", cfg->sizes[k]);
            s_dat3(o.dat, &res[k][io].mbps);
            s_dat3(o.dat, &res[k][io].rate);
            s_dat3(o.dat, &res[k][io].ratio);
            fprintf(o.dat, "\n");
        }
        fprintf(o.dat, "\n\n");
    }
    s_out_close(&o);
}

/* ---------------------------------------------------------------------
 * Options.
 */

static void
s_usage(FILE *f)
{
    fprintf(
        f,
        "usage: zrelay-bench-scale [--quick | --smoke] [OPTIONS]\n"
        "What a relay costs as the work grows (bench/README.md, bench-scale):\n"
        "  fanout  PUB -> forwarder -> N SUB: zrelay and zmq_proxy\n"
        "  subs    N distinct subscriptions: rate, memory, STATS time\n"
        "  queue   zrelay queue lru/hash: CPU per request by workers, clients\n"
        "  churn   SUB connects/closes against a forwarder under traffic\n"
        "  io      zrelay streamer --io-threads 1 against 2\n"
        "Options:\n"
        "  --scenario LIST      which (default: all): "
        "fanout,subs,queue,churn,io\n"
        "  --quick              a small subset in under a minute\n"
        "  --smoke              one tiny case of each (the bench-smoke test)\n"
        "  --relays LIST        zrelay,zmq_proxy (forwarder scenarios)\n"
        "  --reps N             rounds (fanout, churn, io; default 5)\n"
        "  --reps-slow N        rounds (subs, queue; default 3)\n"
        "  --duration S         traffic per run (default 1)\n"
        "  --churn-duration S   churn: traffic per run (default 2)\n"
        "  --subscribers LIST   fanout (default 1,10,100,1000)\n"
        "  --subscriptions LIST subs (default 10,1000,100000)\n"
        "  --sorted             subs: subscribe in sorted order, not shuffled\n"
        "  --workers LIST       queue (default 10,100,1000)\n"
        "  --clients LIST       queue (default 10,1000,10000)\n"
        "  --strategy LIST      queue: strategies, each with more options for\n"
        "                       zrelay queue if need be (default: lru,hash,\n"
        "                       lru --heartbeat-ivl 1h)\n"
        "  --requests N         queue: requests per round (default 10000)\n"
        "  --window N           queue: requests in flight (default 256)\n"

        "  --churn-rate N       churn: connects a second (default 1000)\n"
        "  --churn-life MS      churn: how long each stays (default 100)\n"
        "  --sizes LIST         io (default 1024,8192,65536)\n"
        "  --out DIR            write DIR/scale-SCENARIO.{md,dat}; else "
        "stdout\n"
        "  --zrelay PATH, --zmq-proxy PATH   the binaries\n"
        "  --allow-debug        run in an unoptimized or sanitizer build\n"
        "Exit status: 0, 1 when a case failed, 2 on a usage error.\n");
}

static int
s_int_list(const char *text, int *out, int max)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(buf, ",", &save); p && n < max;
         p = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(p, &end, 10);
        if (*end || v < 1 || v > 10000000) {
            return -1;
        }
        out[n++] = (int) v;
    }
    return n > 0 ? n : -1;
}

static void
s_defaults(s_cfg_t *cfg, const char *mode)
{
    cfg->mode = mode;
    for (int i = 0; i < S_NKINDS; i++) {
        cfg->want_kind[i] = true;
    }
    cfg->window = 256;
    cfg->churn_rate = 1000;
    cfg->churn_life_ms = 100;
    cfg->ctl_reps = 5;
    if (strcmp(mode, "smoke") == 0) {
        cfg->reps = cfg->reps_slow = 1;
        cfg->duration_s = 0.05;
        cfg->churn_s = 0.2;
        cfg->nfan = s_int_list("3", cfg->fan, S_MAX_LIST);
        cfg->nsubs = s_int_list("10", cfg->subs, S_MAX_LIST);
        cfg->nworkers = s_int_list("2", cfg->workers, S_MAX_LIST);
        cfg->nclients = s_int_list("3", cfg->clients, S_MAX_LIST);
        cfg->requests = 200;
        cfg->window = 16;
        cfg->churn_rate = 200;
        cfg->churn_life_ms = 20;
        cfg->ctl_reps = 1;
        cfg->sizes[0] = 1024;
        cfg->nsizes = 1;
    }
    else if (strcmp(mode, "quick") == 0) {
        cfg->reps = 2;
        cfg->reps_slow = 1;
        cfg->duration_s = 0.3;
        cfg->churn_s = 0.5;
        cfg->nfan = s_int_list("1,100", cfg->fan, S_MAX_LIST);
        cfg->nsubs = s_int_list("10,10000", cfg->subs, S_MAX_LIST);
        cfg->nworkers = s_int_list("10,100", cfg->workers, S_MAX_LIST);
        cfg->nclients = s_int_list("10,1000", cfg->clients, S_MAX_LIST);
        cfg->requests = 10000;
        cfg->ctl_reps = 3;
        cfg->sizes[0] = 1024;
        cfg->sizes[1] = 65536;
        cfg->nsizes = 2;
    }
    else {
        cfg->reps = 5;
        cfg->reps_slow = 3;
        cfg->duration_s = 1;
        cfg->churn_s = 2;
        cfg->nfan = s_int_list("1,10,100,1000", cfg->fan, S_MAX_LIST);
        cfg->nsubs = s_int_list("10,1000,100000", cfg->subs, S_MAX_LIST);
        cfg->nworkers = s_int_list("10,100,1000", cfg->workers, S_MAX_LIST);
        cfg->nclients = s_int_list("10,1000,10000", cfg->clients, S_MAX_LIST);
        cfg->requests = 10000;
        cfg->sizes[0] = 1024;
        cfg->sizes[1] = 8192;
        cfg->sizes[2] = 65536;
        cfg->nsizes = 3;
    }
    cfg->strategies[0] = "lru";
    cfg->strategies[1] = "hash";
    /* lru without ZMTP heartbeats (an hour apart): what they cost. */
    cfg->strategies[2] = "lru --heartbeat-ivl 1h";
    cfg->nstrategies = strcmp(mode, "full") == 0 ? 3 : 2;
    if (strcmp(mode, "quick") == 0) {
        cfg->nstrategies = 1;
    }
}

static int
s_bad(const char *opt, const char *val)
{
    fprintf(stderr, "zrelay-bench-scale: bad %s '%s'\n", opt, val ? val : "");
    s_usage(stderr);
    return 2;
}

static int
s_parse(int argc, char **argv, s_cfg_t *cfg, bool *allow_debug)
{
    const char *mode = "full";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            mode = "quick";
        }
        else if (strcmp(argv[i], "--smoke") == 0) {
            mode = "smoke";
        }
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            exit(0);
        }
    }
    s_defaults(cfg, mode);
    cfg->zrelay = ZRELAY_BIN;
    cfg->zmq_proxy = ZMQ_PROXY_BIN;
    bool any = false;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--quick") == 0 || strcmp(opt, "--smoke") == 0) {
            continue;
        }
        if (strcmp(opt, "--allow-debug") == 0) {
            *allow_debug = true;
            continue;
        }
        if (strcmp(opt, "--sorted") == 0) {
            cfg->subs_sorted = true;
            continue;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (!val) {
            return s_bad(opt, val);
        }
        int *list = NULL, *count = NULL;
        if (strcmp(opt, "--scenario") == 0) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", val);
            char *save = NULL;
            for (char *p = strtok_r(buf, ",", &save); p;
                 p = strtok_r(NULL, ",", &save)) {
                int k = 0;
                while (k < S_NSCEN && strcmp(p, s_scen_names[k]) != 0) {
                    k++;
                }
                if (k == S_NSCEN) {
                    return s_bad(opt, p);
                }
                cfg->want[k] = any = true;
            }
        }
        else if (strcmp(opt, "--relays") == 0) {
            cfg->want_kind[S_ZRELAY] = strstr(val, "zrelay") != NULL;
            cfg->want_kind[S_ZMQ_PROXY] = strstr(val, "zmq_proxy") != NULL;
            if (!cfg->want_kind[S_ZRELAY] && !cfg->want_kind[S_ZMQ_PROXY]) {
                return s_bad(opt, val);
            }
        }
        else if (strcmp(opt, "--reps") == 0 ||
                 strcmp(opt, "--reps-slow") == 0) {
            int v[1];
            if (s_int_list(val, v, 1) != 1 || v[0] > S_MAX_REPS) {
                return s_bad(opt, val);
            }
            *(strcmp(opt, "--reps") == 0 ? &cfg->reps : &cfg->reps_slow) = v[0];
        }
        else if (strcmp(opt, "--duration") == 0 ||
                 strcmp(opt, "--churn-duration") == 0) {
            double d = strtod(val, NULL);
            if (!(d > 0 && d < 3600)) {
                return s_bad(opt, val);
            }
            *(strcmp(opt, "--duration") == 0 ? &cfg->duration_s
                                             : &cfg->churn_s) = d;
        }
        else if (strcmp(opt, "--subscribers") == 0) {
            list = cfg->fan, count = &cfg->nfan;
        }
        else if (strcmp(opt, "--subscriptions") == 0) {
            list = cfg->subs, count = &cfg->nsubs;
        }
        else if (strcmp(opt, "--workers") == 0) {
            list = cfg->workers, count = &cfg->nworkers;
        }
        else if (strcmp(opt, "--clients") == 0) {
            list = cfg->clients, count = &cfg->nclients;
        }
        else if (strcmp(opt, "--strategy") == 0) {
            static char buf[256];
            snprintf(buf, sizeof buf, "%s", val);
            cfg->nstrategies = 0;
            char *save = NULL;
            for (char *p = strtok_r(buf, ",", &save);
                 p && cfg->nstrategies < S_MAX_LIST;
                 p = strtok_r(NULL, ",", &save)) {
                cfg->strategies[cfg->nstrategies++] = p;
            }
        }
        else if (strcmp(opt, "--sizes") == 0) {
            int v[S_MAX_LIST];
            int n = s_int_list(val, v, S_MAX_LIST);
            if (n < 0) {
                return s_bad(opt, val);
            }
            for (int k = 0; k < n; k++) {
                cfg->sizes[k] = (size_t) v[k];
            }
            cfg->nsizes = n;
        }
        else if (strcmp(opt, "--requests") == 0 ||
                 strcmp(opt, "--window") == 0 ||
                 strcmp(opt, "--churn-rate") == 0 ||
                 strcmp(opt, "--churn-life") == 0) {
            int v[1];
            if (s_int_list(val, v, 1) != 1) {
                return s_bad(opt, val);
            }
            if (strcmp(opt, "--requests") == 0) {
                cfg->requests = (uint64_t) v[0];
            }
            else if (strcmp(opt, "--window") == 0) {
                cfg->window = v[0];
            }
            else if (strcmp(opt, "--churn-rate") == 0) {
                cfg->churn_rate = v[0];
            }
            else {
                cfg->churn_life_ms = v[0];
            }
        }
        else if (strcmp(opt, "--out") == 0) {
            cfg->out = val;
        }
        else if (strcmp(opt, "--zrelay") == 0) {
            cfg->zrelay = val;
        }
        else if (strcmp(opt, "--zmq-proxy") == 0) {
            cfg->zmq_proxy = val;
        }
        else {
            fprintf(stderr, "zrelay-bench-scale: unknown option '%s'\n", opt);
            s_usage(stderr);
            return 2;
        }
        if (list) {
            int n = s_int_list(val, list, S_MAX_LIST);
            if (n < 0) {
                return s_bad(opt, val);
            }
            *count = n;
        }
    }
    for (int k = 0; !any && k < S_NSCEN; k++) {
        cfg->want[k] = true;
    }
    return 0;
}

/* As many descriptors as we may need: 10,000 clients hold two each (a
 * socket's mailbox and its connection), and the relay as many again. */
static long
s_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 1024;
    }
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < S_NOFILE) {
        struct rlimit want = {S_NOFILE, S_NOFILE};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) { /* root may */
            return S_NOFILE;
        }
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > S_NOFILE
                      ? S_NOFILE
                      : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return (long) rl.rlim_cur;
}

int
main(int argc, char **argv)
{
    s_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    bool allow_debug = false;
    int rc = s_parse(argc, argv, &cfg, &allow_debug);
    if (rc) {
        return rc;
    }
    bool optimized = false;
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
    optimized = true;
#endif
    if (!optimized && !allow_debug) {
        fprintf(stderr, "zrelay-bench-scale: this is not an optimized build: "
                        "measuring is for an optimized (Release) build; "
                        "--allow-debug runs anyway\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    cfg.nofile = s_raise_nofile();
    snprintf(cfg.tmpdir, sizeof cfg.tmpdir, "/tmp/zrelay-scale-XXXXXX");
    if (!mkdtemp(cfg.tmpdir)) {
        fprintf(stderr, "zrelay-bench-scale: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    if (cfg.out && mkdir(cfg.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "zrelay-bench-scale: %s: %s\n", cfg.out,
                strerror(errno));
        return 1;
    }
    s_progress("%s run, %s build, file descriptors %ld, zrelay %s", cfg.mode,
               optimized ? "optimized" : "UNOPTIMIZED", cfg.nofile, cfg.zrelay);
    uint64_t t0 = s_now_ns();
    void (*const run[S_NSCEN])(s_cfg_t *) = {s_fanout, s_subscriptions, s_queue,
                                             s_churn, s_io};
    for (int k = 0; k < S_NSCEN; k++) {
        if (cfg.want[k]) {
            uint64_t a = s_now_ns();
            run[k](&cfg);
            s_progress("%s: %.0f s", s_scen_names[k],
                       (double) (s_now_ns() - a) / 1e9);
        }
    }
    s_progress("all: %.0f s, %d failed", (double) (s_now_ns() - t0) / 1e9,
               cfg.failures);
    rmdir(cfg.tmpdir);
    return cfg.failures ? 1 : 0;
}
