/* broker_scale.c - zrelay-bench-broker: what one request costs the queue's
 * broker (strategies lru and hash) with 10, 1,000 and 10,000 workers.
 * SPDX-License-Identifier: MIT
 *
 * The queue is a zr_device running in a thread of its own on this
 * process's context, over inproc. N lbbroker REQ workers (the broker never
 * heartbeats a REQ worker, so nothing it does per worker per second blurs
 * the measure) are served by one thread that polls them all; one DEALER
 * client keeps WINDOW requests in flight, each with a key of its own (for
 * hash: spread over every worker). After WARMUP requests, REQUESTS more
 * are timed. The number that matters is the relay thread's CPU time per
 * request (zr_device_stats' cpu_ns): the broker's own cost, whatever
 * polling N sockets costs the harness. The wall-clock rate is printed
 * too; with many workers it is mostly the harness's.
 *
 *   zrelay-bench-broker [--workers 10,1000,10000] [--strategy lru,hash]
 *                       [--requests N] [--warmup N] [--window N]
 *                       [--reps N] [--csv]
 *
 * Numbers are only worth something from an optimized build
 * (-DCMAKE_BUILD_TYPE=Release) on an otherwise idle machine.
 */
#include "zrelay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_MAX_LIST 8
#define S_MAX_FRAMES 8

typedef struct {
    int workers[S_MAX_LIST];
    int nworkers;
    const char *strategies[S_MAX_LIST];
    int nstrategies;
    uint64_t requests, warmup;
    int window, reps;
    bool csv;
} s_cfg_t;

static int64_t
s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
s_die(const char *what)
{
    fprintf(stderr, "zrelay-bench-broker: %s: %s\n", what, zmq_strerror(errno));
    exit(1);
}

/* ---------------------------------------------------------------------
 * The workers: N REQ sockets, one thread polling them all.
 */

typedef struct {
    int n;
    void **socks;
    zmq_pollitem_t *items;
    atomic_bool stop;
    pthread_t thread;
} s_farm_t;

/* One request on S, sent back whole as its reply. */
static void
s_echo(void *s)
{
    zmq_msg_t f[S_MAX_FRAMES];
    int n = 0;
    bool more = true;
    while (more && n < S_MAX_FRAMES) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f[n]);
            break;
        }
        more = zmq_msg_more(&f[n]);
        n++;
    }
    for (int i = 0; i < n; i++) {
        if (!more && zmq_msg_send(&f[i], s, i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
            s_die("worker send");
        }
        zmq_msg_close(&f[i]);
    }
}

static void *
s_farm_run(void *arg)
{
    s_farm_t *farm = arg;
    while (!atomic_load(&farm->stop)) {
        if (zmq_poll(farm->items, farm->n, 10) <= 0) {
            continue;
        }
        for (int i = 0; i < farm->n; i++) {
            if (farm->items[i].revents & ZMQ_POLLIN) {
                s_echo(farm->socks[i]);
            }
        }
    }
    return NULL;
}

static void
s_farm_start(s_farm_t *farm, void *ctx, int n)
{
    memset(farm, 0, sizeof *farm);
    farm->n = n;
    farm->socks = calloc((size_t) n, sizeof *farm->socks);
    farm->items = calloc((size_t) n, sizeof *farm->items);
    if (!farm->socks || !farm->items) {
        errno = ENOMEM;
        s_die("workers");
    }
    for (int i = 0; i < n; i++) {
        void *s = zmq_socket(ctx, ZMQ_REQ);
        int zero = 0;
        if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_connect(s, "inproc://bench-broker-back") != 0 ||
            zmq_send(s, "READY", 5, 0) != 5) {
            s_die("worker");
        }
        farm->socks[i] = s;
        farm->items[i] = (zmq_pollitem_t){.socket = s, .events = ZMQ_POLLIN};
    }
    pthread_create(&farm->thread, NULL, s_farm_run, farm);
}

static void
s_farm_stop(s_farm_t *farm)
{
    atomic_store(&farm->stop, true);
    pthread_join(farm->thread, NULL);
    for (int i = 0; i < farm->n; i++) {
        zmq_close(farm->socks[i]);
    }
    free(farm->socks);
    free(farm->items);
}

/* ---------------------------------------------------------------------
 * The broker and the client.
 */

/* broker.workers.known in DEV's STATS. */
static int
s_known(zr_device_t *dev)
{
    char *text = zr_device_stats_json(dev);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cJSON *b = cJSON_GetObjectItem(root, "broker");
    cJSON *w = cJSON_GetObjectItem(b, "workers");
    cJSON *k = cJSON_GetObjectItem(w, "known");
    int known = cJSON_IsNumber(k) ? (int) k->valuedouble : -1;
    cJSON_Delete(root);
    return known;
}

static zr_device_t *
s_broker(void *ctx, const char *strategy)
{
    zr_device_t *dev = zr_device_new(ctx, ZR_QUEUE, "bench-broker");
    if (!dev || zr_device_set_frontend(dev, "@inproc://bench-broker-front") ||
        zr_device_set_backend(dev, "@inproc://bench-broker-back") ||
        zr_device_set(dev, "strategy", strategy) ||
        zr_device_set(dev, "max_waiting", "0") ||
        zr_device_set(dev, "request_timeout", "0") ||
        zr_device_set_linger(dev, 0) || zr_device_start(dev)) {
        fprintf(stderr, "zrelay-bench-broker: device: %s\n",
                dev ? zr_device_error(dev) : zmq_strerror(errno));
        exit(1);
    }
    return dev;
}

/* COUNT requests with WINDOW in flight; *NEXT numbers their keys. */
static void
s_requests(void *client, uint64_t count, int window, uint64_t *next)
{
    uint64_t sent = 0, got = 0;
    char buf[64];
    while (got < count) {
        while (sent < count && sent - got < (uint64_t) window) {
            uint64_t key = (*next)++;
            if (zmq_send(client, "", 0, ZMQ_SNDMORE) != 0 ||
                zmq_send(client, &key, sizeof key, 0) != sizeof key) {
                s_die("client send");
            }
            sent++;
        }
        zmq_pollitem_t item = {.socket = client, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 30000) != 1) {
            errno = ETIMEDOUT;
            s_die("no reply within 30 s");
        }
        if (zmq_recv(client, buf, sizeof buf, 0) != 0 ||
            zmq_recv(client, buf, sizeof buf, 0) != sizeof(uint64_t)) {
            s_die("client: not a reply");
        }
        got++;
    }
}

typedef struct {
    double us_per_req; /* the relay thread's CPU per request */
    double rate;       /* requests per second, wall clock */
    double setup_s;    /* from the first worker to all of them known */
} s_result_t;

static s_result_t
s_run(const s_cfg_t *cfg, const char *strategy, int nworkers)
{
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, nworkers + 64);
    zr_device_t *dev = s_broker(ctx, strategy);
    int64_t t0 = s_now_ns();
    s_farm_t farm;
    s_farm_start(&farm, ctx, nworkers);
    while (s_known(dev) != nworkers) {
        zmq_poll(NULL, 0, 5);
    }
    s_result_t r = {0};
    r.setup_s = (double) (s_now_ns() - t0) / 1e9;
    void *client = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(client, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(client, "inproc://bench-broker-front");
    uint64_t key = 0;
    s_requests(client, cfg->warmup, cfg->window, &key);
    zr_stats_t a, b;
    zr_device_stats(dev, &a);
    int64_t start = s_now_ns();
    s_requests(client, cfg->requests, cfg->window, &key);
    int64_t wall = s_now_ns() - start;
    zr_device_stats(dev, &b);
    r.us_per_req = (double) (b.cpu_ns - a.cpu_ns) / 1e3 / cfg->requests;
    r.rate = (double) cfg->requests * 1e9 / (double) wall;
    zmq_close(client);
    s_farm_stop(&farm);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
    return r;
}

/* ---------------------------------------------------------------------
 * Options and the table.
 */

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: zrelay-bench-broker [--workers 10,1000,10000] "
                 "[--strategy lru,hash]\n"
                 "       [--requests N] [--warmup N] [--window N] [--reps N] "
                 "[--csv]\n");
}

static int
s_list(char *text, const char **out, int max)
{
    int n = 0;
    for (char *p = strtok(text, ","); p && n < max; p = strtok(NULL, ",")) {
        out[n++] = p;
    }
    return n;
}

static void
s_parse(int argc, char **argv, s_cfg_t *cfg)
{
    *cfg = (s_cfg_t){
        {10, 1000, 10000}, 3, {"lru", "hash"}, 2, 100000, 10000, 256, 3, false};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--csv") == 0) {
            cfg->csv = true;
            continue;
        }
        if (strcmp(opt, "--help") == 0) {
            s_usage(stdout);
            exit(0);
        }
        if (!val) {
            s_usage(stderr);
            exit(2);
        }
        i++;
        if (strcmp(opt, "--workers") == 0) {
            const char *items[S_MAX_LIST];
            cfg->nworkers = s_list(val, items, S_MAX_LIST);
            for (int k = 0; k < cfg->nworkers; k++) {
                cfg->workers[k] = atoi(items[k]);
            }
        }
        else if (strcmp(opt, "--strategy") == 0) {
            cfg->nstrategies = s_list(val, cfg->strategies, S_MAX_LIST);
        }
        else if (strcmp(opt, "--requests") == 0) {
            cfg->requests = strtoull(val, NULL, 10);
        }
        else if (strcmp(opt, "--warmup") == 0) {
            cfg->warmup = strtoull(val, NULL, 10);
        }
        else if (strcmp(opt, "--window") == 0) {
            cfg->window = atoi(val);
        }
        else if (strcmp(opt, "--reps") == 0) {
            cfg->reps = atoi(val);
        }
        else {
            s_usage(stderr);
            exit(2);
        }
    }
    if (cfg->requests == 0 || cfg->window < 1 || cfg->reps < 1 ||
        cfg->reps > 64) {
        s_usage(stderr);
        exit(2);
    }
}

int
main(int argc, char **argv)
{
    s_cfg_t cfg;
    s_parse(argc, argv, &cfg);
    if (cfg.csv) {
        printf("strategy,workers,requests,window,broker_us_per_req_median,"
               "broker_us_per_req_min,broker_us_per_req_max,req_per_s,"
               "setup_s\n");
    }
    else {
        printf("%-8s %8s %9s %6s  %-28s %10s %8s\n", "strategy", "workers",
               "requests", "window", "broker CPU us/req med (min-max)", "req/s",
               "setup s");
    }
    for (int s = 0; s < cfg.nstrategies; s++) {
        for (int w = 0; w < cfg.nworkers; w++) {
            double us[64], rate = 0, setup = 0;
            for (int rep = 0; rep < cfg.reps; rep++) {
                s_result_t r = s_run(&cfg, cfg.strategies[s], cfg.workers[w]);
                us[rep] = r.us_per_req;
                rate += r.rate / cfg.reps;
                setup += r.setup_s / cfg.reps;
                fprintf(stderr, "%s %d workers, round %d: %.2f us/req\n",
                        cfg.strategies[s], cfg.workers[w], rep + 1,
                        r.us_per_req);
            }
            qsort(us, (size_t) cfg.reps, sizeof us[0], s_cmp);
            double med = us[cfg.reps / 2];
            if (cfg.csv) {
                printf("%s,%d,%" PRIu64 ",%d,%.3f,%.3f,%.3f,%.0f,%.3f\n",
                       cfg.strategies[s], cfg.workers[w], cfg.requests,
                       cfg.window, med, us[0], us[cfg.reps - 1], rate, setup);
            }
            else {
                char cell[64];
                snprintf(cell, sizeof cell, "%.2f (%.2f-%.2f)", med, us[0],
                         us[cfg.reps - 1]);
                printf("%-8s %8d %9" PRIu64 " %6d  %-28s %10.0f %8.2f\n",
                       cfg.strategies[s], cfg.workers[w], cfg.requests,
                       cfg.window, cell, rate, setup);
            }
        }
    }
    return 0;
}
