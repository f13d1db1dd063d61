/* curve.c - zrelay-bench-curve: what CURVE costs against NULL, through
 * the same zrelay binary. A `zrelay streamer` process (PUSH producer ->
 * relay -> PULL consumer: msgs/s) and a `zrelay queue` process (REQ ->
 * relay -> REP: round-trip p50/p99), once with the NULL mechanism and
 * once with both sides CURVE (a certificate from `zrelay keygen`,
 * --curve-allow-any, the clients with keys of their own), alternating
 * round by round so each pair saw the same machine.
 * SPDX-License-Identifier: MIT
 *
 *   zrelay-bench-curve [--rounds N] [--duration S] [--size LIST]
 *                      [--zrelay PATH] [--markdown FILE]
 */
#include "relay_proc.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
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
#define S_MAX_SIZES 8
#define S_MAX_SAMPLES 400000

typedef struct {
    int rounds;
    double duration_s;
    size_t sizes[S_MAX_SIZES];
    int nsizes;
    const char *zrelay;
    const char *markdown;
    char dir[64]; /* the certificate's directory */
    char secret[128];
    char server_public[41]; /* Z85 */
} s_cfg_t;

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A client socket: CURVE client with a fresh key pair when SECURE. */
static void *
s_socket(void *ctx, int type, const s_cfg_t *cfg, bool secure)
{
    void *s = zmq_socket(ctx, type);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (secure) {
        char pub[41], sec[41];
        zmq_curve_keypair(pub, sec);
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, cfg->server_public, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, 40);
    }
    return s;
}

static int
s_start(b_relay_proc_t *r, const s_cfg_t *cfg, const char *verb, bool secure)
{
    const char *argv[16];
    int n = 0;
    argv[n++] = cfg->zrelay;
    argv[n++] = verb;
    if (secure) {
        argv[n++] = "--curve-secret";
        argv[n++] = cfg->secret;
        argv[n++] = "--curve-allow-any";
    }
    argv[n++] = "@tcp://127.0.0.1:*";
    argv[n++] = "@tcp://127.0.0.1:*";
    argv[n] = NULL;
    b_relay_how_t how = {.what = "relay", .dir = cfg->dir, .ready_s = 10,
                         .pin_cpu = -1};
    char err[512];
    if (b_relay_proc_start(r, argv, &how, err, sizeof err) != 0) {
        fprintf(stderr, "zrelay-bench-curve: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * Streamer: msgs/s at the consumer over the duration.
 */
typedef struct {
    void *sock;
    size_t size;
    atomic_bool stop;
} s_producer_t;

static void *
s_produce(void *arg)
{
    s_producer_t *p = arg;
    char *buf = calloc(1, p->size ? p->size : 1);
    int timeout = 100;
    zmq_setsockopt(p->sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    while (!atomic_load(&p->stop)) {
        zmq_send(p->sock, buf, p->size, 0);
    }
    free(buf);
    return NULL;
}

static double
s_stream(const s_cfg_t *cfg, size_t size, bool secure)
{
    b_relay_proc_t r;
    b_relay_proc_init(&r);
    if (s_start(&r, cfg, "streamer", secure) != 0) {
        return NAN;
    }
    void *ctx = zmq_ctx_new();
    void *push = s_socket(ctx, ZMQ_PUSH, cfg, secure);
    void *pull = s_socket(ctx, ZMQ_PULL, cfg, secure);
    zmq_connect(push, r.frontend);
    zmq_connect(pull, r.backend);
    int timeout = 5000;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    s_producer_t p = {.sock = push, .size = size};
    pthread_t t;
    pthread_create(&t, NULL, s_produce, &p);
    zmq_msg_t m;
    zmq_msg_init(&m);
    double rate = NAN;
    /* Warm up (the handshakes, the first batches), then count. */
    for (int i = 0; i < 1000 && zmq_msg_recv(&m, pull, 0) >= 0; i++) {
    }
    uint64_t n = 0;
    double t0 = s_now(), end = t0 + cfg->duration_s;
    while (s_now() < end) {
        if (zmq_msg_recv(&m, pull, 0) < 0) {
            break;
        }
        n++;
    }
    double t1 = s_now();
    if (t1 >= end) {
        rate = (double) n / (t1 - t0);
    }
    zmq_msg_close(&m);
    atomic_store(&p.stop, true);
    pthread_join(t, NULL);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    char err[512];
    b_relay_proc_stop(&r, err, sizeof err);
    return rate;
}

/* ---------------------------------------------------------------------
 * Queue: round trips one at a time, p50 and p99.
 */
typedef struct {
    void *ctx;
    const s_cfg_t *cfg;
    bool secure;
    const char *endpoint;
    atomic_bool stop;
} s_worker_t;

static void *
s_work(void *arg)
{
    s_worker_t *w = arg;
    void *rep = s_socket(w->ctx, ZMQ_REP, w->cfg, w->secure);
    int timeout = 100;
    zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(rep, w->endpoint);
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (!atomic_load(&w->stop)) {
        if (zmq_msg_recv(&m, rep, 0) >= 0) {
            zmq_msg_send(&m, rep, 0);
        }
    }
    zmq_msg_close(&m);
    zmq_close(rep);
    return NULL;
}

static int
s_roundtrips(const s_cfg_t *cfg, size_t size, bool secure, double *p50,
             double *p99)
{
    b_relay_proc_t r;
    b_relay_proc_init(&r);
    if (s_start(&r, cfg, "queue", secure) != 0) {
        return -1;
    }
    void *ctx = zmq_ctx_new();
    s_worker_t w = {.ctx = ctx, .cfg = cfg, .secure = secure,
                    .endpoint = r.backend};
    pthread_t t;
    pthread_create(&t, NULL, s_work, &w);
    void *req = s_socket(ctx, ZMQ_REQ, cfg, secure);
    int timeout = 5000;
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(req, r.frontend);
    double *lat = malloc(S_MAX_SAMPLES * sizeof *lat);
    char *buf = calloc(1, size + 1);
    size_t n = 0;
    int rc = 0;
    for (int i = 0; i < 100; i++) { /* warm up */
        if (zmq_send(req, buf, size, 0) < 0 ||
            zmq_recv(req, buf, size, 0) < 0) {
            rc = -1;
            break;
        }
    }
    double end = s_now() + cfg->duration_s;
    while (rc == 0 && s_now() < end && n < S_MAX_SAMPLES) {
        double t0 = s_now();
        if (zmq_send(req, buf, size, 0) < 0 ||
            zmq_recv(req, buf, size, 0) < 0) {
            rc = -1;
            break;
        }
        lat[n++] = (s_now() - t0) * 1e6;
    }
    b_sort(lat, n);
    *p50 = b_quantile(lat, n, 0.50);
    *p99 = b_quantile(lat, n, 0.99);
    free(lat);
    free(buf);
    zmq_close(req);
    atomic_store(&w.stop, true);
    pthread_join(t, NULL);
    zmq_ctx_term(ctx);
    char err[512];
    b_relay_proc_stop(&r, err, sizeof err);
    return rc;
}

/* ---------------------------------------------------------------------
 * Set-up and report.
 */
static int
s_keygen(s_cfg_t *cfg)
{
    snprintf(cfg->dir, sizeof cfg->dir, "/tmp/zrelay-curve-XXXXXX");
    if (!mkdtemp(cfg->dir)) {
        perror("mkdtemp");
        return -1;
    }
    char name[100];
    snprintf(name, sizeof name, "%s/server", cfg->dir);
    snprintf(cfg->secret, sizeof cfg->secret, "%s_secret", name);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(cfg->zrelay, cfg->zrelay, "keygen", name, (char *) NULL);
        _exit(127);
    }
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "zrelay-bench-curve: %s keygen failed\n", cfg->zrelay);
        return -1;
    }
    /* The public key from the public certificate: public-key = "..." */
    FILE *f = fopen(name, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        char *k = strstr(line, "public-key = \"");
        if (k && strlen(k) >= 14 + 40) {
            memcpy(cfg->server_public, k + 14, 40);
            cfg->server_public[40] = 0;
        }
    }
    if (f) {
        fclose(f);
    }
    if (strlen(cfg->server_public) != 40) {
        fprintf(stderr, "zrelay-bench-curve: no public key in %s\n", name);
        return -1;
    }
    return 0;
}

static double
s_median(double *v, int n)
{
    b_sort(v, (size_t) n);
    return b_quantile(v, (size_t) n, 0.50);
}

static void
s_usage(FILE *f)
{
    fputs("usage: zrelay-bench-curve [OPTIONS]\n"
          "\n"
          "CURVE against NULL through the same zrelay: a streamer's msgs/s\n"
          "and a queue's round trip (one in flight), both sides secured,\n"
          "alternating round by round.\n"
          "\n"
          "  --rounds N        rounds per case (5)\n"
          "  --duration S      seconds per run (1)\n"
          "  --size LIST       message sizes, bytes (16,1024,65536)\n"
          "  --zrelay PATH     the zrelay binary (" ZRELAY_BIN ")\n"
          "  --markdown FILE   the tables as markdown (default: stdout)\n"
          "  -h, --help\n",
          f);
}

int
main(int argc, char **argv)
{
    s_cfg_t cfg = {.rounds = 5, .duration_s = 1, .zrelay = ZRELAY_BIN,
                   .sizes = {16, 1024, 65536}, .nsizes = 3};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
            s_usage(stdout);
            return 0;
        }
        const char *val = i + 1 < argc ? argv[++i] : NULL;
        if (!val) {
            fprintf(stderr, "zrelay-bench-curve: %s needs a value\n", opt);
            return 2;
        }
        if (!strcmp(opt, "--rounds")) {
            cfg.rounds = atoi(val);
        }
        else if (!strcmp(opt, "--duration")) {
            cfg.duration_s = atof(val);
        }
        else if (!strcmp(opt, "--zrelay")) {
            cfg.zrelay = val;
        }
        else if (!strcmp(opt, "--markdown")) {
            cfg.markdown = val;
        }
        else if (!strcmp(opt, "--size")) {
            cfg.nsizes = 0;
            char copy[256];
            snprintf(copy, sizeof copy, "%s", val);
            for (char *save = NULL, *tok = strtok_r(copy, ",", &save);
                 tok && cfg.nsizes < S_MAX_SIZES;
                 tok = strtok_r(NULL, ",", &save)) {
                cfg.sizes[cfg.nsizes++] = (size_t) strtoul(tok, NULL, 10);
            }
        }
        else {
            fprintf(stderr, "zrelay-bench-curve: unknown option %s\n", opt);
            s_usage(stderr);
            return 2;
        }
    }
    if (cfg.rounds < 1 || cfg.rounds > S_MAX_ROUNDS || !(cfg.duration_s > 0) ||
        cfg.nsizes < 1) {
        fprintf(stderr, "zrelay-bench-curve: --rounds 1..%d, --duration > 0, "
                        "--size at least one\n",
                S_MAX_ROUNDS);
        return 2;
    }
    if (s_keygen(&cfg) != 0) {
        return 1;
    }
    FILE *out = stdout;
    if (cfg.markdown && strcmp(cfg.markdown, "-") != 0) {
        out = fopen(cfg.markdown, "w");
        if (!out) {
            perror(cfg.markdown);
            return 1;
        }
    }
    fprintf(out,
            "### CURVE against NULL: `zrelay streamer` and `zrelay queue` "
            "(tcp 127.0.0.1, both sides secured, %d rounds of %.1f s "
            "alternating; median, CURVE/NULL: median of the per-round "
            "ratios)\n\n",
            cfg.rounds, cfg.duration_s);
    fputs("| case | size | NULL | CURVE | CURVE/NULL |\n"
          "| --- | ---: | ---: | ---: | ---: |\n",
          out);
    int failed = 0;
    for (int s = 0; s < cfg.nsizes; s++) {
        double null_r[S_MAX_ROUNDS], curve_r[S_MAX_ROUNDS], ratio[S_MAX_ROUNDS];
        double n50[S_MAX_ROUNDS], c50[S_MAX_ROUNDS], r50[S_MAX_ROUNDS];
        double n99[S_MAX_ROUNDS], c99[S_MAX_ROUNDS], r99[S_MAX_ROUNDS];
        for (int k = 0; k < cfg.rounds; k++) {
            null_r[k] = s_stream(&cfg, cfg.sizes[s], false);
            curve_r[k] = s_stream(&cfg, cfg.sizes[s], true);
            ratio[k] = curve_r[k] / null_r[k];
            if (s_roundtrips(&cfg, cfg.sizes[s], false, &n50[k], &n99[k]) ||
                s_roundtrips(&cfg, cfg.sizes[s], true, &c50[k], &c99[k])) {
                failed++;
            }
            r50[k] = c50[k] / n50[k];
            r99[k] = c99[k] / n99[k];
            fprintf(stderr, "size %zu round %d: %.0f / %.0f msgs/s, p50 %.0f / "
                            "%.0f us\n",
                    cfg.sizes[s], k + 1, null_r[k], curve_r[k], n50[k],
                    c50[k]);
        }
        fprintf(out, "| streamer msgs/s | %zu B | %.0f | %.0f | %.2fx |\n",
                cfg.sizes[s], s_median(null_r, cfg.rounds),
                s_median(curve_r, cfg.rounds), s_median(ratio, cfg.rounds));
        fprintf(out, "| queue p50 us | %zu B | %.0f | %.0f | %.2fx |\n",
                cfg.sizes[s], s_median(n50, cfg.rounds),
                s_median(c50, cfg.rounds), s_median(r50, cfg.rounds));
        fprintf(out, "| queue p99 us | %zu B | %.0f | %.0f | %.2fx |\n",
                cfg.sizes[s], s_median(n99, cfg.rounds),
                s_median(c99, cfg.rounds), s_median(r99, cfg.rounds));
    }
    if (out != stdout) {
        fclose(out);
    }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s/server", cfg.dir);
    unlink(cmd);
    snprintf(cmd, sizeof cmd, "%s/server_secret", cfg.dir);
    unlink(cmd);
    rmdir(cfg.dir);
    return failed ? 1 : 0;
}
