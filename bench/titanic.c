/* titanic.c - zrelay-bench-titanic: durable requests per second through
 * `zrelay majordomo --titanic DIR`, with group commit (the default) and
 * with one commit per request (--titanic-commit each), alternating round
 * by round so each pair saw the same machine and the same disk.
 * SPDX-License-Identifier: MIT
 *
 * C clients (MDP/0.2 DEALERs) keep W titanic.requests each in flight and
 * count the acknowledgements ("200" and a UUID, sent only once the
 * request is committed) for D seconds; one MDP/0.2 echo worker serves
 * the stored requests meanwhile, so its replies are committed too. The
 * store is a fresh directory under --dir each run (the disk under test).
 *
 *   zrelay-bench-titanic [--rounds N] [--duration S] [--clients C]
 *                        [--window W] [--size BYTES] [--dir DIR]
 *                        [--zrelay PATH] [--markdown FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_ROUNDS 20
#define S_MAX_CLIENTS 64
#define S_MAX_SAMPLES 200000

typedef struct {
    int rounds, clients, window;
    double duration_s;
    size_t size;
    const char *dir, *zrelay, *markdown;
} s_cfg_t;

typedef struct {
    pid_t pid;
    int out;
    char ep[256], store[256];
} s_broker_t;

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_die(const char *fmt, const char *arg)
{
    fprintf(stderr, "zrelay-bench-titanic: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

/* `zrelay majordomo @tcp://127.0.0.1:* --titanic STORE --titanic-commit
 * MODE`, until it printed "ready". */
static void
s_broker_start(s_broker_t *b, const s_cfg_t *cfg, const char *mode)
{
    snprintf(b->store, sizeof b->store, "%s/zrelay-bench-titanic-XXXXXX",
             cfg->dir);
    if (!mkdtemp(b->store)) {
        s_die("cannot make a directory in %s", cfg->dir);
    }
    int fds[2];
    if (pipe(fds) != 0) {
        s_die("pipe: %s", strerror(errno));
    }
    b->pid = fork();
    if (b->pid == 0) {
        dup2(fds[1], 1);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 2); /* its log lines */
        }
        close(fds[0]);
        close(fds[1]);
        execl(cfg->zrelay, cfg->zrelay, "majordomo", "@tcp://127.0.0.1:*",
              "--titanic", b->store, "--titanic-commit", mode, (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    b->out = fds[0];
    char buf[4096];
    size_t len = 0;
    double end = s_now() + 20;
    buf[0] = 0;
    while (!strstr(buf, "ready\n")) {
        struct pollfd p = {b->out, POLLIN, 0};
        int left = (int) ((end - s_now()) * 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0) {
            s_die("%s printed no 'ready'", cfg->zrelay);
        }
        ssize_t n = read(b->out, buf + len, sizeof buf - 1 - len);
        if (n <= 0) {
            s_die("%s ended before 'ready'", cfg->zrelay);
        }
        len += (size_t) n;
        buf[len] = 0;
    }
    const char *f = strstr(buf, "frontend bind ");
    if (!f || sscanf(f, "frontend bind %255s", b->ep) != 1) {
        s_die("no frontend in: %s", buf);
    }
}

static void
s_broker_stop(s_broker_t *b)
{
    kill(b->pid, SIGTERM);
    int status;
    waitpid(b->pid, &status, 0);
    close(b->out);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->store);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", b->store);
    }
}

typedef struct {
    const s_cfg_t *cfg;
    void *ctx;
    const char *ep;
    double start, end;
    uint64_t acked;
    double *lat; /* ms, one per acknowledgement measured */
    size_t nlat, maxlat;
    int failed;
} s_client_t;

static void
s_send_request(void *s, const char *body, size_t size)
{
    zmq_send(s, "MDPC02", 6, ZMQ_SNDMORE);
    zmq_send(s, "\x01", 1, ZMQ_SNDMORE);
    zmq_send(s, "titanic.request", 15, ZMQ_SNDMORE);
    zmq_send(s, "echo", 4, ZMQ_SNDMORE);
    zmq_send(s, body, size, 0);
}

/* The status frame of a reply [MDPC02, FINAL, service, status, ...]. */
static bool
s_recv_ok(void *s)
{
    char status[8] = "";
    int i = 0, more = 1;
    while (more) {
        zmq_msg_t f;
        zmq_msg_init(&f);
        if (zmq_msg_recv(&f, s, 0) < 0) {
            return false;
        }
        if (i == 3 && zmq_msg_size(&f) < sizeof status) {
            memcpy(status, zmq_msg_data(&f), zmq_msg_size(&f));
        }
        more = zmq_msg_more(&f);
        zmq_msg_close(&f);
        i++;
    }
    return strcmp(status, "200") == 0;
}

static void *
s_client(void *arg)
{
    s_client_t *c = arg;
    void *s = zmq_socket(c->ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, c->ep);
    char *body = calloc(1, c->cfg->size + 1);
    memset(body, 'x', c->cfg->size);
    int w = c->cfg->window;
    double *sent = calloc((size_t) w, sizeof *sent);
    size_t head = 0, tail = 0; /* FIFO of send times: acks come in order */
    for (int i = 0; i < w; i++) {
        sent[tail++ % (size_t) w] = s_now();
        s_send_request(s, body, c->cfg->size);
    }
    while (s_now() < c->end) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) {
            continue;
        }
        if (!s_recv_ok(s)) {
            c->failed++;
        }
        double now = s_now();
        double t = sent[head++ % (size_t) w];
        if (now >= c->start) {
            c->acked++;
            if (c->nlat < c->maxlat) {
                c->lat[c->nlat++] = (now - t) * 1000;
            }
        }
        sent[tail++ % (size_t) w] = now;
        s_send_request(s, body, c->cfg->size);
    }
    zmq_close(s);
    free(body);
    free(sent);
    return NULL;
}

typedef struct {
    void *ctx;
    const char *ep;
    atomic_bool stop;
} s_worker_t;

static void *
s_worker(void *arg)
{
    s_worker_t *w = arg;
    void *s = zmq_socket(w->ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, w->ep);
    zmq_send(s, "MDPW02", 6, ZMQ_SNDMORE);
    zmq_send(s, "\x01", 1, ZMQ_SNDMORE);
    zmq_send(s, "echo", 4, 0);
    while (!atomic_load(&w->stop)) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0) {
            continue;
        }
        zmq_msg_t f[8];
        int n = 0, more = 1;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, s, 0);
            more = zmq_msg_more(&m);
            if (n < 8) {
                zmq_msg_init(&f[n]);
                zmq_msg_move(&f[n++], &m);
            }
            zmq_msg_close(&m);
        }
        /* [MDPW02, REQUEST, client, "", body]: FINAL with the body. */
        if (n == 5 && zmq_msg_size(&f[1]) == 1 &&
            *(char *) zmq_msg_data(&f[1]) == 2) {
            zmq_send(s, "MDPW02", 6, ZMQ_SNDMORE);
            zmq_send(s, "\x04", 1, ZMQ_SNDMORE);
            zmq_send(s, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]), ZMQ_SNDMORE);
            zmq_send(s, "", 0, ZMQ_SNDMORE);
            zmq_send(s, zmq_msg_data(&f[4]), zmq_msg_size(&f[4]), 0);
        }
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&f[i]);
        }
    }
    zmq_close(s);
    return NULL;
}

typedef struct {
    double rate, p50, p99;
} s_result_t;

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static s_result_t
s_run(const s_cfg_t *cfg, const char *mode)
{
    s_broker_t b;
    s_broker_start(&b, cfg, mode);
    void *ctx = zmq_ctx_new();
    s_worker_t w = {ctx, b.ep, false};
    pthread_t wt, ct[S_MAX_CLIENTS];
    pthread_create(&wt, NULL, s_worker, &w);
    s_client_t c[S_MAX_CLIENTS];
    double warm = 0.2, t0 = s_now();
    size_t per = S_MAX_SAMPLES / (size_t) cfg->clients;
    for (int i = 0; i < cfg->clients; i++) {
        c[i] = (s_client_t){
            cfg, ctx,  b.ep, t0 + warm, t0 + warm + cfg->duration_s,
            0,   NULL, 0,    per,       0};
        c[i].lat = calloc(per, sizeof(double));
        pthread_create(&ct[i], NULL, s_client, &c[i]);
    }
    uint64_t acked = 0;
    int failed = 0;
    double *all = calloc(S_MAX_SAMPLES, sizeof(double));
    size_t n = 0;
    for (int i = 0; i < cfg->clients; i++) {
        pthread_join(ct[i], NULL);
        acked += c[i].acked;
        failed += c[i].failed;
        memcpy(all + n, c[i].lat, c[i].nlat * sizeof(double));
        n += c[i].nlat;
        free(c[i].lat);
    }
    atomic_store(&w.stop, true);
    pthread_join(wt, NULL);
    zmq_ctx_term(ctx);
    s_broker_stop(&b);
    if (failed) {
        fprintf(stderr, "%s: %d requests not acknowledged\n", mode, failed);
    }
    qsort(all, n, sizeof(double), s_cmp);
    s_result_t r = {(double) acked / cfg->duration_s, n ? all[n / 2] : NAN,
                    n ? all[(size_t) ((double) n * 0.99)] : NAN};
    free(all);
    return r;
}

static double
s_median(double *v, int n)
{
    qsort(v, (size_t) n, sizeof(double), s_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
    s_cfg_t cfg = {5, 8, 4, 2.0, 64, "/tmp", ZRELAY_BIN, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || !v) {
            printf("usage: zrelay-bench-titanic [--rounds N] [--duration S] "
                   "[--clients C]\n       [--window W] [--size BYTES] "
                   "[--dir DIR] [--zrelay PATH] [--markdown FILE]\n");
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
        i++;
        if (strcmp(a, "--rounds") == 0) {
            cfg.rounds = atoi(v);
        }
        else if (strcmp(a, "--duration") == 0) {
            cfg.duration_s = atof(v);
        }
        else if (strcmp(a, "--clients") == 0) {
            cfg.clients = atoi(v);
        }
        else if (strcmp(a, "--window") == 0) {
            cfg.window = atoi(v);
        }
        else if (strcmp(a, "--size") == 0) {
            cfg.size = (size_t) atol(v);
        }
        else if (strcmp(a, "--dir") == 0) {
            cfg.dir = v;
        }
        else if (strcmp(a, "--zrelay") == 0) {
            cfg.zrelay = v;
        }
        else if (strcmp(a, "--markdown") == 0) {
            cfg.markdown = v;
        }
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
    }
    if (cfg.rounds < 1 || cfg.rounds > S_MAX_ROUNDS || cfg.clients < 1 ||
        cfg.clients > S_MAX_CLIENTS || cfg.window < 1 || cfg.duration_s <= 0) {
        fprintf(stderr, "out of range: rounds 1-%d, clients 1-%d\n",
                S_MAX_ROUNDS, S_MAX_CLIENTS);
        return 2;
    }
    static const char *const modes[2] = {"group", "each"};
    double rate[2][S_MAX_ROUNDS], p50[2][S_MAX_ROUNDS], p99[2][S_MAX_ROUNDS];
    for (int r = 0; r < cfg.rounds; r++) {
        for (int m = 0; m < 2; m++) {
            s_result_t x = s_run(&cfg, modes[r % 2 ? 1 - m : m]);
            int k = r % 2 ? 1 - m : m;
            rate[k][r] = x.rate;
            p50[k][r] = x.p50;
            p99[k][r] = x.p99;
            fprintf(stderr,
                    "round %d %-5s %9.0f requests/s  p50 %.2f ms  "
                    "p99 %.2f ms\n",
                    r + 1, modes[k], x.rate, x.p50, x.p99);
        }
    }
    FILE *out = stdout;
    if (cfg.markdown) {
        out = fopen(cfg.markdown, "w");
        if (!out) {
            s_die("cannot write %s", cfg.markdown);
        }
    }
    fprintf(out,
            "Titanic: %d clients x %d requests in flight, %zu-byte bodies, "
            "one echo worker, store in %s; median of %d rounds of %.1f s.\n\n"
            "| titanic_commit | acknowledged requests/s | ack p50 ms | "
            "ack p99 ms |\n|---|---:|---:|---:|\n",
            cfg.clients, cfg.window, cfg.size, cfg.dir, cfg.rounds,
            cfg.duration_s);
    for (int m = 0; m < 2; m++) {
        fprintf(out, "| %s | %.0f | %.2f | %.2f |\n", modes[m],
                s_median(rate[m], cfg.rounds), s_median(p50[m], cfg.rounds),
                s_median(p99[m], cfg.rounds));
    }
    if (out != stdout) {
        fclose(out);
    }
    return 0;
}
