/* mdp.c - zrelay-bench-mdp: the majordomo against the queue's lru on the
 * same echo load (issue 16: "MDP within 80 % of the lru queue's rate").
 * SPDX-License-Identifier: MIT
 *
 * Both brokers run as zrelay processes over tcp on 127.0.0.1, started
 * and stopped by relay_proc.c (their endpoint lines, then "ready"):
 *
 *   lru  `zrelay queue --strategy lru @tcp://127.0.0.1:* @tcp://...:*`
 *        clients: DEALER, [""; body] (a REQ's envelope)
 *        workers: Paranoid Pirate DEALER (RFC 6): READY \x01, heartbeat
 *        \x02, each request [client; ""; body] echoed whole
 *   mdp  `zrelay majordomo @tcp://127.0.0.1:*`
 *        clients: DEALER, MDP/0.1 [""; MDPC01; echo; body]
 *        workers: DEALER, MDP/0.1 [""; MDPW01; READY; echo], each
 *        [""; MDPW01; REQUEST; client; ""; body] answered with the same
 *        frames, the command REPLY
 *
 * Each client does synchronous round trips (one request in flight),
 * clients in parallel, each in a thread of its own (one context for the
 * clients, one for the workers, one I/O thread each); each worker in a
 * thread of its own. A run waits until every client has had S_WARMUP
 * replies and every worker has answered (so all are known to the broker),
 * then counts the round trips over --duration seconds, and the broker
 * process's CPU over the same window (/proc/PID/task/N/schedstat, every
 * thread). Every reply is checked: the echo of the request sent (its
 * sequence number in the body), in the envelope of its protocol; a reply
 * that is not (an error reply) fails the run.
 *
 * Rounds: every case (workers x clients x size) runs lru and mdp once per
 * round, the first of the two alternating, so each pair saw the same
 * machine; the ratio mdp/lru is taken per round and its median reported
 * with its min-max.
 */
#define _GNU_SOURCE
#include "relay_proc.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_ROUNDS 32
#define S_MAX_LIST 8
#define S_MAX_PARTIES 64
#define S_MAX_FRAMES 8
#define S_WARMUP 50          /* replies per client before the window */
#define S_HEARTBEAT_MS 1000  /* a worker silent this long heartbeats */
#define S_REPLY_TIMEOUT 5000 /* ms: a client's reply later is a failure */

typedef enum { K_LRU, K_MDP, K_N } s_kind_t;
static const char *const s_kind_names[K_N] = {"lru", "mdp"};

typedef struct {
    int rounds;
    double duration_s;
    size_t sizes[S_MAX_LIST];
    int nsizes;
    int workers[S_MAX_LIST];
    int nworkers;
    int clients[S_MAX_LIST];
    int nclients;
    const char *zrelay;
    const char *markdown;
    long requests; /* > 0: this many round trips per run, no window */
    char dir[64];  /* the relays' stderr files */
} s_cfg_t;

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* CPU nanoseconds of every thread of process PID so far. */
static uint64_t
s_proc_cpu_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *d = opendir(path);
    uint64_t sum = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char file[320];
        snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", (int) pid,
                 e->d_name);
        FILE *f = fopen(file, "r");
        unsigned long long ns = 0;
        if (f && fscanf(f, "%llu", &ns) == 1) {
            sum += ns;
        }
        if (f) {
            fclose(f);
        }
    }
    if (d) {
        closedir(d);
    }
    return sum;
}

/* ---------------------------------------------------------------------
 * Clients and workers.
 */
typedef struct {
    void *ctx;
    const char *endpoint;
    s_kind_t kind;
    size_t size;
    int index;
    const atomic_bool *stop;
    _Atomic long *tickets; /* --requests: one per round trip */
    /* Client 0: its round trips' times (us) while WINDOW is set. */
    const atomic_bool *window;
    float *lat;
    size_t nlat, maxlat;
    _Atomic uint64_t done; /* round trips (client), answers (worker) */
    atomic_bool failed;
    char error[200]; /* why, once failed */
} s_party_t;

static void
s_fail(s_party_t *p, const char *what, const void *data, size_t len)
{
    if (!atomic_load(&p->failed)) {
        snprintf(p->error, sizeof p->error, "%s %d: %s%s%.*s",
                 p->index < 0 ? "worker" : "client",
                 p->index < 0 ? -p->index - 1 : p->index, what,
                 data ? ": " : "", (int) (len < 80 ? len : 80),
                 data ? (const char *) data : "");
        atomic_store(&p->failed, true);
    }
}

static void *
s_socket(void *ctx, int rcvtimeo_ms)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &rcvtimeo_ms, sizeof rcvtimeo_ms);
    return s;
}

/* Send N frames of the strings/lengths given, all but the last MORE. */
static int
s_send(void *s, int n, const void *const *data, const size_t *len)
{
    for (int i = 0; i < n; i++) {
        if (zmq_send(s, data[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
            return -1;
        }
    }
    return 0;
}

/* One whole message into F (at most S_MAX_FRAMES, the rest dropped):
 * its frame count (more than S_MAX_FRAMES when it had more), 0 on a
 * timeout, -1 on another error. */
static int
s_recv(void *s, zmq_msg_t *f)
{
    int n = 0;
    for (;;) {
        zmq_msg_t *m = n < S_MAX_FRAMES ? &f[n] : &f[S_MAX_FRAMES - 1];
        if (n >= S_MAX_FRAMES) {
            zmq_msg_close(m);
            zmq_msg_init(m);
        }
        if (zmq_msg_recv(m, s, 0) < 0) {
            if (n == 0 && errno == EAGAIN) {
                return 0;
            }
            return -1;
        }
        n++;
        if (!zmq_msg_more(m)) {
            return n;
        }
    }
}

static bool
s_is(zmq_msg_t *m, const char *text, size_t len)
{
    return zmq_msg_size(m) == len && memcmp(zmq_msg_data(m), text, len) == 0;
}

static void *
s_client(void *arg)
{
    s_party_t *p = arg;
    void *s = s_socket(p->ctx, S_REPLY_TIMEOUT);
    zmq_connect(s, p->endpoint);
    size_t size = p->size;
    unsigned char *body = calloc(1, size + 8);
    for (size_t j = 0; j < size; j++) {
        body[j] = (unsigned char) (p->index * 31 + (int) j);
    }
    zmq_msg_t f[S_MAX_FRAMES];
    for (int i = 0; i < S_MAX_FRAMES; i++) {
        zmq_msg_init(&f[i]);
    }
    const bool mdp = p->kind == K_MDP;
    const void *out[] = {"", "MDPC01", "echo", body};
    const size_t outlen[] = {0, 6, 4, size};
    /* lru: [""; body]; mdp: [""; MDPC01; echo; body] */
    const void *lru_out[] = {"", body};
    const size_t lru_len[] = {0, size};
    const int want = mdp ? 4 : 2;
    for (uint64_t seq = 1; !atomic_load(p->stop); seq++) {
        if (p->tickets && atomic_fetch_sub(p->tickets, 1) <= 0) {
            break;
        }
        memcpy(body, &seq, size < sizeof seq ? size : sizeof seq);
        double sent = p->lat ? s_now() : 0;
        if ((mdp ? s_send(s, 4, out, outlen) : s_send(s, 2, lru_out, lru_len)) <
            0) {
            s_fail(p, zmq_strerror(errno), NULL, 0);
            break;
        }
        int n = s_recv(s, f);
        if (n <= 0) {
            s_fail(p, n == 0 ? "no reply within 5 s" : zmq_strerror(errno),
                   NULL, 0);
            break;
        }
        zmq_msg_t *got = &f[want - 1];
        if (n != want || zmq_msg_size(&f[0]) != 0 ||
            (mdp && (!s_is(&f[1], "MDPC01", 6) || !s_is(&f[2], "echo", 4))) ||
            zmq_msg_size(got) != size ||
            memcmp(zmq_msg_data(got), body, size) != 0) {
            zmq_msg_t *last = &f[(n < want ? n : want) - 1];
            s_fail(p, "not the echo of its request", zmq_msg_data(last),
                   zmq_msg_size(last));
            break;
        }
        atomic_fetch_add_explicit(&p->done, 1, memory_order_relaxed);
        if (p->lat && p->nlat < p->maxlat && atomic_load(p->window)) {
            p->lat[p->nlat++] = (float) ((s_now() - sent) * 1e6);
        }
    }
    for (int i = 0; i < S_MAX_FRAMES; i++) {
        zmq_msg_close(&f[i]);
    }
    free(body);
    zmq_close(s);
    return NULL;
}

static int
s_worker_heartbeat(void *s, bool mdp)
{
    if (mdp) {
        const void *hb[] = {"", "MDPW01", "\x04"};
        const size_t len[] = {0, 6, 1};
        return s_send(s, 3, hb, len);
    }
    return zmq_send(s, "\x02", 1, 0) < 0 ? -1 : 0;
}

static void *
s_worker(void *arg)
{
    s_party_t *p = arg;
    const bool mdp = p->kind == K_MDP;
    void *s = s_socket(p->ctx, 10);
    zmq_connect(s, p->endpoint);
    zmq_msg_t f[S_MAX_FRAMES];
    for (int i = 0; i < S_MAX_FRAMES; i++) {
        zmq_msg_init(&f[i]);
    }
    int rc;
    if (mdp) {
        const void *ready[] = {"", "MDPW01", "\x01", "echo"};
        const size_t len[] = {0, 6, 1, 4};
        rc = s_send(s, 4, ready, len);
    }
    else {
        rc = zmq_send(s, "\x01", 1, 0) < 0 ? -1 : 0;
    }
    double last_sent = s_now();
    while (rc == 0 && !atomic_load(p->stop)) {
        int n = s_recv(s, f);
        if (n < 0 || n > S_MAX_FRAMES) {
            s_fail(p, n < 0 ? zmq_strerror(errno) : "too many frames", NULL, 0);
            break;
        }
        if (n > 0 && mdp) {
            if (n < 3 || zmq_msg_size(&f[0]) != 0 ||
                !s_is(&f[1], "MDPW01", 6) || zmq_msg_size(&f[2]) != 1) {
                s_fail(p, "not an MDP/0.1 command", NULL, 0);
                break;
            }
            unsigned char cmd = *(unsigned char *) zmq_msg_data(&f[2]);
            if (cmd == 0x05) {
                s_fail(p, "DISCONNECT from the broker", NULL, 0);
                break;
            }
            if (cmd == 0x02) { /* REQUEST: [""; MDPW01; 2; client; ""; body] */
                if (n < 6) {
                    s_fail(p, "a REQUEST without its frames", NULL, 0);
                    break;
                }
                *(unsigned char *) zmq_msg_data(&f[2]) = 0x03; /* REPLY */
            }
            else {
                n = 0; /* HEARTBEAT: nothing to do */
            }
        }
        else if (n == 1 && s_is(&f[0], "\x02", 1)) {
            n = 0; /* lru: the broker's heartbeat */
        }
        /* The echo: the frames back as they came (the command changed). */
        for (int i = 0; i < n && rc == 0; i++) {
            if (zmq_msg_send(&f[i], s, i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
                s_fail(p, zmq_strerror(errno), NULL, 0);
                rc = -1;
            }
        }
        double now = s_now();
        if (n > 0) {
            atomic_fetch_add_explicit(&p->done, 1, memory_order_relaxed);
            last_sent = now;
        }
        else if (now - last_sent >= S_HEARTBEAT_MS / 1000.0) {
            rc = s_worker_heartbeat(s, mdp);
            last_sent = now;
        }
    }
    for (int i = 0; i < S_MAX_FRAMES; i++) {
        zmq_msg_close(&f[i]);
    }
    zmq_close(s);
    return NULL;
}

/* ---------------------------------------------------------------------
 * One run: a broker, its workers and clients, the window.
 */
typedef struct {
    bool ok;
    char error[400];
    double rate;   /* round trips/s over the window */
    double cpu_us; /* the broker's CPU per round trip, microseconds */
    double p50_us; /* client 0's median round trip over the window */
} s_run_t;

static int
s_start_broker(b_relay_proc_t *r, const s_cfg_t *cfg, s_kind_t kind, char *err,
               size_t errlen)
{
    const char *lru[] = {cfg->zrelay,
                         "queue",
                         "--strategy",
                         "lru",
                         "@tcp://127.0.0.1:*",
                         "@tcp://127.0.0.1:*",
                         NULL};
    const char *mdp[] = {cfg->zrelay, "majordomo", "@tcp://127.0.0.1:*", NULL};
    b_relay_how_t how = {.what = s_kind_names[kind],
                         .dir = cfg->dir,
                         .ready_s = 10,
                         .pin_cpu = -1,
                         .one_endpoint = kind == K_MDP};
    return b_relay_proc_start(r, kind == K_MDP ? mdp : lru, &how, err, errlen);
}

/* Sum of the parties' counts; *FAILED gets the first failure. */
static uint64_t
s_count(s_party_t *ps, int n, uint64_t *min, const s_party_t **failed)
{
    uint64_t sum = 0;
    *min = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        uint64_t d = atomic_load_explicit(&ps[i].done, memory_order_relaxed);
        sum += d;
        *min = d < *min ? d : *min;
        if (atomic_load(&ps[i].failed) && !*failed) {
            *failed = &ps[i];
        }
    }
    return sum;
}

static void
s_run(const s_cfg_t *cfg, s_kind_t kind, int nworkers, int nclients,
      size_t size, s_run_t *out)
{
    memset(out, 0, sizeof *out);
    out->rate = NAN;
    out->cpu_us = NAN;
    b_relay_proc_t r;
    b_relay_proc_init(&r);
    if (s_start_broker(&r, cfg, kind, out->error, sizeof out->error) != 0) {
        return;
    }
    void *wctx = zmq_ctx_new(), *cctx = zmq_ctx_new();
    atomic_bool wstop = false, cstop = false;
    _Atomic long tickets = cfg->requests;
    atomic_bool window = false;
    size_t maxlat = (size_t) (cfg->duration_s * 1e6 / 20) + 1000;
    float *lat = malloc(maxlat * sizeof *lat);
    static s_party_t ws[S_MAX_PARTIES], cs[S_MAX_PARTIES];
    pthread_t wt[S_MAX_PARTIES], ct[S_MAX_PARTIES];
    const char *wep = kind == K_MDP ? r.frontend : r.backend;
    for (int i = 0; i < nworkers; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i] = (s_party_t){.ctx = wctx,
                            .endpoint = wep,
                            .kind = kind,
                            .size = size,
                            .index = -i - 1,
                            .stop = &wstop};
        pthread_create(&wt[i], NULL, s_worker, &ws[i]);
    }
    for (int i = 0; i < nclients; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i] = (s_party_t){.ctx = cctx,
                            .endpoint = r.frontend,
                            .kind = kind,
                            .size = size,
                            .index = i,
                            .stop = &cstop,
                            .tickets = cfg->requests > 0 ? &tickets : NULL,
                            .window = &window,
                            .lat = i == 0 ? lat : NULL,
                            .maxlat = maxlat};
        pthread_create(&ct[i], NULL, s_client, &cs[i]);
    }
    const s_party_t *failed = NULL;
    uint64_t cmin = 0, wmin = 0;
    bool joined = false;
    if (cfg->requests > 0) {
        /* Fixed work (--requests, for callgrind): the whole run counts,
         * the broker's CPU from its start. */
        double t0 = s_now();
        for (int i = 0; i < nclients; i++) {
            pthread_join(ct[i], NULL);
        }
        joined = true;
        double t1 = s_now();
        uint64_t total = s_count(cs, nclients, &cmin, &failed);
        if (!failed && total == (uint64_t) cfg->requests) {
            out->rate = (double) total / (t1 - t0);
            out->cpu_us = (double) s_proc_cpu_ns(r.pid) / 1e3 / (double) total;
            out->ok = true;
        }
        goto stop;
    }
    /* Warm up: every client has had replies, every worker has answered
     * (so the broker knows them all). A deadline, no guessing. */
    double deadline = s_now() + 10;
    for (;;) {
        s_count(cs, nclients, &cmin, &failed);
        s_count(ws, nworkers, &wmin, &failed);
        if (failed || (cmin >= S_WARMUP && wmin >= 1) || s_now() > deadline) {
            break;
        }
        s_sleep_ms(1);
    }
    if (!failed && (cmin < S_WARMUP || wmin < 1)) {
        snprintf(out->error, sizeof out->error,
                 "warm-up not done within 10 s (a client with %llu replies, "
                 "a worker with %llu answers)",
                 (unsigned long long) cmin, (unsigned long long) wmin);
    }
    else if (!failed) {
        uint64_t c0 = s_count(cs, nclients, &cmin, &failed);
        uint64_t cpu0 = s_proc_cpu_ns(r.pid);
        double t0 = s_now();
        atomic_store(&window, true);
        s_sleep_ms((int) (cfg->duration_s * 1000 + 0.5)); /* the window */
        atomic_store(&window, false);
        uint64_t c1 = s_count(cs, nclients, &cmin, &failed);
        uint64_t cpu1 = s_proc_cpu_ns(r.pid);
        double t1 = s_now();
        if (!failed && c1 > c0) {
            out->rate = (double) (c1 - c0) / (t1 - t0);
            out->cpu_us = (double) (cpu1 - cpu0) / 1e3 / (double) (c1 - c0);
            out->ok = true;
        }
        else if (!failed) {
            snprintf(out->error, sizeof out->error, "no round trip in %.2f s",
                     t1 - t0);
        }
    }
stop:
    atomic_store(&cstop, true);
    for (int i = 0; !joined && i < nclients; i++) {
        pthread_join(ct[i], NULL);
    }
    atomic_store(&wstop, true);
    for (int i = 0; i < nworkers; i++) {
        pthread_join(wt[i], NULL);
    }
    s_count(cs, nclients, &cmin, &failed);
    s_count(ws, nworkers, &wmin, &failed);
    double *v = malloc((cs[0].nlat + 1) * sizeof *v);
    for (size_t i = 0; i < cs[0].nlat; i++) {
        v[i] = cs[0].lat[i];
    }
    b_sort(v, cs[0].nlat);
    out->p50_us = b_quantile(v, cs[0].nlat, 0.50);
    free(v);
    free(lat);
    if (failed) {
        snprintf(out->error, sizeof out->error, "%s", failed->error);
        out->ok = false;
    }
    zmq_ctx_term(cctx);
    zmq_ctx_term(wctx);
    char err[400];
    if (b_relay_proc_stop(&r, err, sizeof err) != 0) {
        snprintf(out->error, sizeof out->error, "%s", err);
        out->ok = false;
    }
}

/* ---------------------------------------------------------------------
 * Options, rounds, the table.
 */
static double
s_median(const double *v, int n)
{
    double c[S_MAX_ROUNDS];
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!isnan(v[i])) {
            c[m++] = v[i];
        }
    }
    b_sort(c, (size_t) m);
    if (m == 0) {
        return NAN;
    }
    return m % 2 ? c[m / 2] : (c[m / 2 - 1] + c[m / 2]) / 2;
}

static void
s_minmax(const double *v, int n, double *lo, double *hi)
{
    *lo = NAN;
    *hi = NAN;
    for (int i = 0; i < n; i++) {
        if (!isnan(v[i])) {
            *lo = isnan(*lo) || v[i] < *lo ? v[i] : *lo;
            *hi = isnan(*hi) || v[i] > *hi ? v[i] : *hi;
        }
    }
}

static int
s_list(const char *val, long *out, int max, long lo, long hi)
{
    char copy[256];
    snprintf(copy, sizeof copy, "%s", val);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(tok, &end, 10);
        if (*end == 'K' || *end == 'k') {
            v *= 1024;
            end++;
        }
        if (n == max || *end || v < lo || v > hi) {
            return -1;
        }
        out[n++] = v;
    }
    return n;
}

static void
s_usage(FILE *f)
{
    fputs("usage: zrelay-bench-mdp [OPTIONS]\n"
          "\n"
          "The majordomo (MDP/0.1) against the queue's lru on the same echo\n"
          "load: C clients doing synchronous round trips in parallel, C echo\n"
          "workers, both brokers zrelay processes on tcp 127.0.0.1, lru and\n"
          "mdp alternating round by round (bench/README.md).\n"
          "\n"
          "  --rounds N        rounds (5)\n"
          "  --duration S      seconds counted per run (1)\n"
          "  --size LIST       request bytes (16,1K)\n"
          "  --workers LIST    echo workers (1,4)\n"
          "  --clients LIST    clients in parallel (1,8)\n"
          "  --zrelay PATH     the zrelay binary (" ZRELAY_BIN ")\n"
          "  --markdown FILE   the table (default: stdout)\n"
          "  --requests N      fixed work: N round trips per run, counted\n"
          "                    from the broker's start (for callgrind)\n"
          "  --smoke           one short round of 16 B (the ctest)\n"
          "  --allow-debug     measure in an unoptimized or sanitizer build\n"
          "  -h, --help\n",
          f);
}

static int
s_parse(int argc, char **argv, s_cfg_t *cfg, bool *allow_debug)
{
    *cfg = (s_cfg_t){.rounds = 5,
                     .duration_s = 1,
                     .zrelay = ZRELAY_BIN,
                     .sizes = {16, 1024},
                     .nsizes = 2,
                     .workers = {1, 4},
                     .nworkers = 2,
                     .clients = {1, 8},
                     .nclients = 2};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            s_usage(stdout);
            exit(0);
        }
        if (!strcmp(opt, "--allow-debug")) {
            *allow_debug = true;
            continue;
        }
        if (!strcmp(opt, "--smoke")) {
            cfg->rounds = 1;
            cfg->duration_s = 0.05;
            cfg->nsizes = 1;
            *allow_debug = true;
            continue;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (!val) {
            fprintf(stderr, "zrelay-bench-mdp: %s needs a value\n", opt);
            return 2;
        }
        long list[S_MAX_LIST];
        int n = 0;
        if (!strcmp(opt, "--rounds")) {
            cfg->rounds = atoi(val);
        }
        else if (!strcmp(opt, "--duration")) {
            cfg->duration_s = atof(val);
        }
        else if (!strcmp(opt, "--zrelay")) {
            cfg->zrelay = val;
        }
        else if (!strcmp(opt, "--markdown")) {
            cfg->markdown = val;
        }
        else if (!strcmp(opt, "--requests")) {
            cfg->requests = atol(val);
        }
        else if (!strcmp(opt, "--size")) {
            if ((n = s_list(val, list, S_MAX_LIST, 0, 1 << 24)) <= 0) {
                goto bad;
            }
            for (cfg->nsizes = 0; cfg->nsizes < n; cfg->nsizes++) {
                cfg->sizes[cfg->nsizes] = (size_t) list[cfg->nsizes];
            }
        }
        else if (!strcmp(opt, "--workers") || !strcmp(opt, "--clients")) {
            bool w = opt[2] == 'w';
            if ((n = s_list(val, list, S_MAX_LIST, 1, S_MAX_PARTIES)) <= 0) {
                goto bad;
            }
            for (int k = 0; k < n; k++) {
                (w ? cfg->workers : cfg->clients)[k] = (int) list[k];
            }
            *(w ? &cfg->nworkers : &cfg->nclients) = n;
        }
        else {
            fprintf(stderr, "zrelay-bench-mdp: unknown option %s\n", opt);
            s_usage(stderr);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "zrelay-bench-mdp: bad %s '%s'\n", opt, val);
        return 2;
    }
    if (cfg->rounds < 1 || cfg->rounds > S_MAX_ROUNDS ||
        !(cfg->duration_s > 0)) {
        fprintf(stderr, "zrelay-bench-mdp: --rounds 1..%d, --duration > 0\n",
                S_MAX_ROUNDS);
        return 2;
    }
    return 0;
}

typedef struct {
    int workers, clients;
    size_t size;
    double rate[K_N][S_MAX_ROUNDS], cpu[K_N][S_MAX_ROUNDS];
    double p50[K_N][S_MAX_ROUNDS];
    double ratio[S_MAX_ROUNDS], cpu_ratio[S_MAX_ROUNDS],
        p50_ratio[S_MAX_ROUNDS];
} s_case_t;

static void
s_loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = '\0';
    if (f && fgets(buf, (int) len, f)) {
        buf[strcspn(buf, " \n")] = '\0'; /* the 1-minute figure */
    }
    if (f) {
        fclose(f);
    }
}

static const char *
s_size_name(size_t size, char *buf, size_t len)
{
    if (size >= 1024 && size % 1024 == 0) {
        snprintf(buf, len, "%zu KiB", size / 1024);
    }
    else {
        snprintf(buf, len, "%zu B", size);
    }
    return buf;
}

static void
s_table(FILE *out, const s_cfg_t *cfg, const s_case_t *cases, int ncases,
        const char *command, const char *started, const char *load0,
        const char *load1, bool optimized)
{
    struct utsname u;
    uname(&u);
    fprintf(out,
            "### Majordomo against the queue's lru: echo round trips\n\n"
            "`%s` (%s build), %s UTC, %ld CPUs, Linux %s; load average "
            "(1 min) %s at the start, %s at the end. %d rounds of %.2f s "
            "per broker and case, lru and mdp alternating; cells: median "
            "(min-max) over the rounds; ratios per round, then their "
            "median.\n\n",
            command, optimized ? "optimized" : "UNOPTIMIZED", started,
            sysconf(_SC_NPROCESSORS_ONLN), u.release, load0, load1, cfg->rounds,
            cfg->duration_s);
    fputs("| workers | clients | size | lru rt/s | mdp rt/s | mdp/lru | "
          "lru CPU us/rt | mdp CPU us/rt | CPU mdp/lru | p50 us lru / mdp | "
          "p50 mdp/lru |\n"
          "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
          "---: | ---: |\n",
          out);
    int below = 0, measured = 0;
    char size_buf[32];
    for (int k = 0; k < ncases; k++) {
        const s_case_t *c = &cases[k];
        double lo, hi, rlo, rhi;
        s_minmax(c->ratio, cfg->rounds, &rlo, &rhi);
        double ratio = s_median(c->ratio, cfg->rounds);
        fprintf(out, "| %d | %d | %s |", c->workers, c->clients,
                s_size_name(c->size, size_buf, sizeof size_buf));
        for (int kind = 0; kind < K_N; kind++) {
            s_minmax(c->rate[kind], cfg->rounds, &lo, &hi);
            fprintf(out, " %.0f (%.0f-%.0f) |",
                    s_median(c->rate[kind], cfg->rounds), lo, hi);
        }
        fprintf(out, " **%.2f** (%.2f-%.2f) |", ratio, rlo, rhi);
        for (int kind = 0; kind < K_N; kind++) {
            fprintf(out, " %.1f |", s_median(c->cpu[kind], cfg->rounds));
        }
        fprintf(out, " %.2f | %.0f / %.0f | %.2f |\n",
                s_median(c->cpu_ratio, cfg->rounds),
                s_median(c->p50[K_LRU], cfg->rounds),
                s_median(c->p50[K_MDP], cfg->rounds),
                s_median(c->p50_ratio, cfg->rounds));
        if (!isnan(ratio)) {
            measured++;
            below += ratio < 0.80;
        }
    }
    fprintf(out,
            "\nTarget (issue 16): mdp at least 0.80 of lru's round trips/s "
            "(the median of the per-round ratios): met in %d of %d cases%s",
            measured - below, ncases, below ? "; missed in:" : ".\n");
    for (int i = 0, n = 0; below && i < ncases; i++) {
        double ratio = s_median(cases[i].ratio, cfg->rounds);
        if (ratio < 0.80) {
            fprintf(out, "%s %dw %dc %s (%.2f)", n++ ? "," : "",
                    cases[i].workers, cases[i].clients,
                    s_size_name(cases[i].size, size_buf, sizeof size_buf),
                    ratio);
        }
    }
    fputs(below ? ".\n" : "", out);
}

int
main(int argc, char **argv)
{
    s_cfg_t cfg;
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
        fprintf(stderr, "zrelay-bench-mdp: this is not an optimized build: "
                        "measuring is for an optimized (Release) build; "
                        "--allow-debug runs anyway\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(cfg.dir, sizeof cfg.dir, "/tmp/zrelay-mdp-XXXXXX");
    if (!mkdtemp(cfg.dir)) {
        perror("mkdtemp");
        return 1;
    }
    char command[512] = "zrelay-bench-mdp";
    for (int i = 1; i < argc; i++) {
        size_t used = strlen(command);
        snprintf(command + used, sizeof command - used, " %s", argv[i]);
    }
    char started[32], load0[32], load1[32];
    time_t now = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%d %H:%M", gmtime(&now));
    s_loadavg(load0, sizeof load0);

    int ncases = cfg.nworkers * cfg.nclients * cfg.nsizes;
    s_case_t *cases = calloc((size_t) ncases, sizeof *cases);
    int k = 0;
    for (int s = 0; s < cfg.nsizes; s++) {
        for (int w = 0; w < cfg.nworkers; w++) {
            for (int c = 0; c < cfg.nclients; c++, k++) {
                cases[k].workers = cfg.workers[w];
                cases[k].clients = cfg.clients[c];
                cases[k].size = cfg.sizes[s];
            }
        }
    }
    int failed = 0;
    for (int round = 0; round < cfg.rounds; round++) {
        for (k = 0; k < ncases; k++) {
            s_case_t *c = &cases[k];
            for (int j = 0; j < K_N; j++) {
                s_kind_t kind = (s_kind_t) ((j + round + k) % K_N);
                s_run_t run;
                s_run(&cfg, kind, c->workers, c->clients, c->size, &run);
                c->rate[kind][round] = run.ok ? run.rate : NAN;
                c->cpu[kind][round] = run.ok ? run.cpu_us : NAN;
                c->p50[kind][round] = run.ok ? run.p50_us : NAN;
                fprintf(stderr,
                        "round %d/%d %dw %dc %zu B %s: %.0f rt/s, %.1f us "
                        "CPU/rt%s%s\n",
                        round + 1, cfg.rounds, c->workers, c->clients, c->size,
                        s_kind_names[kind], run.rate, run.cpu_us,
                        run.ok ? "" : ": FAILED: ", run.ok ? "" : run.error);
                failed += !run.ok;
            }
            c->ratio[round] = c->rate[K_MDP][round] / c->rate[K_LRU][round];
            c->cpu_ratio[round] = c->cpu[K_MDP][round] / c->cpu[K_LRU][round];
            c->p50_ratio[round] = c->p50[K_MDP][round] / c->p50[K_LRU][round];
        }
    }
    s_loadavg(load1, sizeof load1);
    FILE *out = stdout;
    if (cfg.markdown && strcmp(cfg.markdown, "-") != 0) {
        out = fopen(cfg.markdown, "w");
        if (!out) {
            perror(cfg.markdown);
            return 1;
        }
    }
    s_table(out, &cfg, cases, ncases, command, started, load0, load1,
            optimized);
    if (failed) {
        fprintf(out, "\n%d run(s) FAILED (stderr says why).\n", failed);
    }
    if (out != stdout) {
        fclose(out);
    }
    free(cases);
    rmdir(cfg.dir);
    return failed ? 1 : 0;
}
