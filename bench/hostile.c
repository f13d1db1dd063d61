/* hostile.c - zrelay-bench-hostile: what strangers cost a legitimate
 * client. A `zrelay queue` process, a REP worker and a REQ client that
 * measures its round trips; first alone, then while N raw TCP connections
 * to the same frontend port send garbage, dawdle in the handshake or
 * announce a frame of 2^62 bytes, reconnecting whenever the relay drops
 * them. Reports the client's p50/p99 in both phases, the relay's RSS and
 * CPU, and how often the relay dropped an attacker.
 * SPDX-License-Identifier: MIT
 *
 *   zrelay-bench-hostile [--attackers N] [--duration S] [--zrelay PATH]
 *                        [--relay-arg ARG]... [--markdown FILE]
 */
#include "relay_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_ATTACKERS 4000
#define S_MAX_SAMPLES 2000000
#define S_MAX_ARGS 32

typedef struct {
    int attackers;
    double duration_s;
    const char *zrelay;
    const char *relay_args[S_MAX_ARGS];
    int nrelay_args;
    const char *markdown;
} s_cfg_t;

/* One phase's figures. */
typedef struct {
    size_t samples;
    double p50_us, p99_us, max_us;
    double rss_kib, hwm_kib, cpu_s;
    uint64_t dropped;   /* attacker connections the relay closed */
    uint64_t connected; /* attacker connections made */
    uint64_t bytes;     /* garbage bytes sent */
} s_phase_t;

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------
 * The worker: REP, echoes.
 */
typedef struct {
    void *ctx;
    char endpoint[256];
    atomic_bool stop;
} s_worker_t;

static void *
s_worker_run(void *arg)
{
    s_worker_t *w = arg;
    void *rep = zmq_socket(w->ctx, ZMQ_REP);
    int timeout = 100, linger = 0;
    zmq_setsockopt(rep, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(rep, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_connect(rep, w->endpoint);
    char buf[256];
    while (!atomic_load(&w->stop)) {
        int n = zmq_recv(rep, buf, sizeof buf, 0);
        if (n < 0) {
            continue;
        }
        zmq_send(rep, buf, n > (int) sizeof buf ? sizeof buf : (size_t) n, 0);
    }
    zmq_close(rep);
    return NULL;
}

/* ---------------------------------------------------------------------
 * The attackers: N raw connections from one thread.
 */
typedef enum { S_GARBAGE, S_SLOW_GREETING, S_HUGE_FRAME, S_NKINDS } s_kind_t;

typedef struct {
    int fd;
    s_kind_t kind;
    size_t sent; /* bytes of the current script */
} s_conn_t;

typedef struct {
    int n;
    struct sockaddr_in addr;
    atomic_bool stop;
    atomic_uint_fast64_t dropped, connected, bytes;
    s_conn_t conns[S_MAX_ATTACKERS];
} s_attack_t;

/* A ZMTP 3.0 NULL greeting, a READY for a DEALER, then a long frame
 * header announcing 2^62 bytes. */
static size_t
s_huge_script(unsigned char *b)
{
    size_t n = 0;
    b[n++] = 0xff;
    memset(b + n, 0, 8);
    n += 8;
    b[n++] = 0x7f;
    b[n++] = 3;
    b[n++] = 0;
    memset(b + n, 0, 20);
    memcpy(b + n, "NULL", 4);
    n += 20;
    b[n++] = 0; /* as-server */
    memset(b + n, 0, 31);
    n += 31;
    static const char ready[] = "\x05READY\x0bSocket-Type\x00\x00\x00\x06"
                                "DEALER";
    size_t rlen = sizeof ready - 1;
    b[n++] = 0x04; /* command, short */
    b[n++] = (unsigned char) rlen;
    memcpy(b + n, ready, rlen);
    n += rlen;
    b[n++] = 0x02; /* message, long size */
    uint64_t size = (uint64_t) 1 << 62;
    for (int i = 7; i >= 0; i--) {
        b[n++] = (unsigned char) (size >> (i * 8));
    }
    return n;
}

static int
s_attack_connect(s_attack_t *a, s_conn_t *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        return -1;
    }
    if (connect(c->fd, (struct sockaddr *) &a->addr, sizeof a->addr) != 0 &&
        errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->sent = 0;
    atomic_fetch_add(&a->connected, 1);
    return 0;
}

/* One step of connection C's script; -1 when the relay closed it. */
static int
s_attack_step(s_attack_t *a, s_conn_t *c, unsigned *seed)
{
    unsigned char buf[512];
    size_t len = 0;
    switch (c->kind) {
    case S_GARBAGE:
        len = 1 + (size_t) (rand_r(seed) % sizeof buf);
        for (size_t i = 0; i < len; i++) {
            buf[i] = (unsigned char) rand_r(seed);
        }
        break;
    case S_SLOW_GREETING:
        /* The first 10 bytes of a greeting, one byte a step, then
         * nothing: a handshake that never ends. */
        if (c->sent >= 10) {
            return 0;
        }
        buf[0] = c->sent == 0 ? 0xff : c->sent == 9 ? 0x7f : 0;
        len = 1;
        break;
    case S_HUGE_FRAME: {
        unsigned char script[128];
        size_t n = s_huge_script(script);
        if (c->sent < n) {
            len = n - c->sent;
            memcpy(buf, script + c->sent, len);
        }
        else {
            len = 256; /* the 2^62-byte frame's first bytes, forever */
            memset(buf, 'x', len);
        }
        break;
    }
    default:
        return 0;
    }
    ssize_t rc = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (rc < 0 && (errno == EAGAIN || errno == EINPROGRESS ||
                   errno == ENOTCONN)) {
        return 0;
    }
    if (rc < 0) {
        return -1;
    }
    c->sent += (size_t) rc;
    atomic_fetch_add(&a->bytes, (uint64_t) rc);
    /* Whatever the relay says is read and thrown away; EOF: dropped. */
    char sink[512];
    ssize_t r = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        return -1;
    }
    return 0;
}

static void *
s_attack_run(void *arg)
{
    s_attack_t *a = arg;
    unsigned seed = 12345;
    for (int i = 0; i < a->n; i++) {
        a->conns[i].kind = (s_kind_t) (i % S_NKINDS);
        a->conns[i].fd = -1;
    }
    while (!atomic_load(&a->stop)) {
        for (int i = 0; i < a->n && !atomic_load(&a->stop); i++) {
            s_conn_t *c = &a->conns[i];
            if (c->fd < 0 && s_attack_connect(a, c) != 0) {
                continue;
            }
            if (s_attack_step(a, c, &seed) != 0) {
                close(c->fd);
                c->fd = -1;
                atomic_fetch_add(&a->dropped, 1);
            }
        }
        poll(NULL, 0, 10); /* a step per connection every ~10 ms */
    }
    for (int i = 0; i < a->n; i++) {
        if (a->conns[i].fd >= 0) {
            close(a->conns[i].fd);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * The client and a phase.
 */
static int
s_phase(void *ctx, const char *frontend, double duration_s,
        const b_relay_proc_t *relay, s_phase_t *out)
{
    double *lat = malloc(S_MAX_SAMPLES * sizeof *lat);
    if (!lat) {
        return -1;
    }
    void *req = zmq_socket(ctx, ZMQ_REQ);
    int timeout = 5000, relaxed = 1, linger = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(req, ZMQ_REQ_RELAXED, &relaxed, sizeof relaxed);
    zmq_setsockopt(req, ZMQ_REQ_CORRELATE, &relaxed, sizeof relaxed);
    zmq_connect(req, frontend);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%d/stat", (int) relay->pid);
    double cpu0 = b_proc_stat_cpu_s(proc, NULL, 0);
    double end = s_now() + duration_s, rss_max = 0;
    size_t n = 0;
    int lost = 0;
    while (s_now() < end && n < S_MAX_SAMPLES) {
        double t0 = s_now();
        char buf[16];
        if (zmq_send(req, "hello", 5, 0) < 0 ||
            zmq_recv(req, buf, sizeof buf, 0) < 0) {
            lost++;
            continue;
        }
        lat[n++] = (s_now() - t0) * 1e6;
        if (n % 256 == 0) {
            double rss = b_proc_status_kib(relay->pid, "VmRSS:");
            rss_max = rss > rss_max ? rss : rss_max;
        }
    }
    zmq_close(req);
    b_sort(lat, n);
    out->samples = n;
    out->p50_us = b_quantile(lat, n, 0.50);
    out->p99_us = b_quantile(lat, n, 0.99);
    out->max_us = n ? lat[n - 1] : NAN;
    double rss = b_proc_status_kib(relay->pid, "VmRSS:");
    out->rss_kib = rss > rss_max ? rss : rss_max;
    out->hwm_kib = b_proc_status_kib(relay->pid, "VmHWM:");
    out->cpu_s = b_proc_stat_cpu_s(proc, NULL, 0) - cpu0;
    free(lat);
    if (lost) {
        fprintf(stderr, "zrelay-bench-hostile: %d requests got no reply "
                        "within 5 s\n", lost);
    }
    return 0;
}

static void
s_usage(FILE *f)
{
    fputs("usage: zrelay-bench-hostile [OPTIONS]\n"
          "\n"
          "A `zrelay queue` process, a REP worker, a REQ client measuring\n"
          "its round trips: alone, then while raw TCP connections to the\n"
          "same port send garbage, stall in the handshake or announce a\n"
          "2^62-byte frame (reconnecting when dropped).\n"
          "\n"
          "  --attackers N     raw connections (500, at most 4000)\n"
          "  --duration S      seconds per phase (5)\n"
          "  --zrelay PATH     the zrelay binary (" ZRELAY_BIN ")\n"
          "  --relay-arg ARG   one more argument for `zrelay queue`\n"
          "                    (repeatable; e.g. --relay-arg=--max-msg-size=1M)\n"
          "  --markdown FILE   the table as markdown ('-': stdout)\n"
          "  -h, --help\n",
          f);
}

int
main(int argc, char **argv)
{
    s_cfg_t cfg = {.attackers = 500, .duration_s = 5, .zrelay = ZRELAY_BIN};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *eq = strchr(opt, '=');
        char name[64];
        size_t nlen = eq ? (size_t) (eq - opt) : strlen(opt);
        if (nlen >= sizeof name) {
            nlen = sizeof name - 1;
        }
        memcpy(name, opt, nlen);
        name[nlen] = '\0';
        if (!strcmp(name, "-h") || !strcmp(name, "--help")) {
            s_usage(stdout);
            return 0;
        }
        const char *val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!val) {
            fprintf(stderr, "zrelay-bench-hostile: %s needs a value\n", opt);
            return 2;
        }
        if (!strcmp(name, "--attackers")) {
            cfg.attackers = atoi(val);
        }
        else if (!strcmp(name, "--duration")) {
            cfg.duration_s = atof(val);
        }
        else if (!strcmp(name, "--zrelay")) {
            cfg.zrelay = val;
        }
        else if (!strcmp(name, "--relay-arg") && cfg.nrelay_args < S_MAX_ARGS) {
            cfg.relay_args[cfg.nrelay_args++] = val;
        }
        else if (!strcmp(name, "--markdown")) {
            cfg.markdown = val;
        }
        else {
            fprintf(stderr, "zrelay-bench-hostile: unknown option %s\n", opt);
            s_usage(stderr);
            return 2;
        }
    }
    if (cfg.attackers < 0 || cfg.attackers > S_MAX_ATTACKERS ||
        !(cfg.duration_s > 0)) {
        fprintf(stderr, "zrelay-bench-hostile: --attackers 0..%d, "
                        "--duration > 0\n",
                S_MAX_ATTACKERS);
        return 2;
    }

    const char *rargv[S_MAX_ARGS + 8];
    int rc = 0;
    rargv[rc++] = cfg.zrelay;
    rargv[rc++] = "queue";
    for (int i = 0; i < cfg.nrelay_args; i++) {
        rargv[rc++] = cfg.relay_args[i];
    }
    rargv[rc++] = "@tcp://127.0.0.1:*";
    rargv[rc++] = "@tcp://127.0.0.1:*";
    rargv[rc] = NULL;
    b_relay_proc_t relay;
    b_relay_proc_init(&relay);
    b_relay_how_t how = {.what = "relay", .dir = "/tmp", .ready_s = 10,
                         .pin_cpu = -1};
    char err[512];
    if (b_relay_proc_start(&relay, rargv, &how, err, sizeof err) != 0) {
        fprintf(stderr, "zrelay-bench-hostile: %s\n", err);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    s_worker_t worker = {.ctx = ctx};
    snprintf(worker.endpoint, sizeof worker.endpoint, "%s", relay.backend);
    pthread_t wt;
    pthread_create(&wt, NULL, s_worker_run, &worker);

    s_phase_t base = {0}, hit = {0};
    s_phase(ctx, relay.frontend, cfg.duration_s, &relay, &base);

    s_attack_t *atk = calloc(1, sizeof *atk);
    atk->n = cfg.attackers;
    atk->addr.sin_family = AF_INET;
    const char *port = strrchr(relay.frontend, ':');
    atk->addr.sin_port = htons((uint16_t) atoi(port ? port + 1 : "0"));
    inet_pton(AF_INET, "127.0.0.1", &atk->addr.sin_addr);
    pthread_t at;
    pthread_create(&at, NULL, s_attack_run, atk);
    /* Let the connections open before measuring (at most 10 s). */
    for (int waited = 0;
         atomic_load(&atk->connected) < (uint64_t) atk->n && waited < 1000;
         waited++) {
        poll(NULL, 0, 10);
    }
    s_phase(ctx, relay.frontend, cfg.duration_s, &relay, &hit);
    hit.dropped = atomic_load(&atk->dropped);
    hit.connected = atomic_load(&atk->connected);
    hit.bytes = atomic_load(&atk->bytes);
    atomic_store(&atk->stop, true);
    pthread_join(at, NULL);

    atomic_store(&worker.stop, true);
    pthread_join(wt, NULL);
    zmq_ctx_term(ctx);
    int status = 0;
    bool alive = waitpid(relay.pid, &status, WNOHANG) == 0;
    if (!alive) {
        fprintf(stderr, "zrelay-bench-hostile: the relay died (%s %d)\n",
                WIFSIGNALED(status) ? "signal" : "exit",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        relay.pid = 0;
    }
    int stop_rc = alive ? b_relay_proc_stop(&relay, err, sizeof err) : -1;

    FILE *out = stdout;
    if (cfg.markdown && strcmp(cfg.markdown, "-") != 0) {
        out = fopen(cfg.markdown, "w");
        if (!out) {
            perror(cfg.markdown);
            return 1;
        }
    }
    fprintf(out,
            "### Hostile peers: REQ → `zrelay queue` → REP (tcp 16 B) alone, "
            "then beside %d raw connections (garbage, a stalled greeting, a "
            "2^62-byte frame; %.1f s per phase)\n\n",
            cfg.attackers, cfg.duration_s);
    fputs("| phase | round trips | p50 us | p99 us | max us | relay RSS | "
          "relay peak RSS | relay CPU s | attacker connections | dropped by "
          "the relay | garbage sent |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
          "---: | ---: |\n",
          out);
    const s_phase_t *ph[2] = {&base, &hit};
    for (int i = 0; i < 2; i++) {
        fprintf(out,
                "| %s | %zu | %.0f | %.0f | %.0f | %.1f MiB | %.1f MiB | "
                "%.2f | %llu | %llu | %.1f MiB |\n",
                i ? "attacked" : "alone", ph[i]->samples, ph[i]->p50_us,
                ph[i]->p99_us, ph[i]->max_us, ph[i]->rss_kib / 1024,
                ph[i]->hwm_kib / 1024, ph[i]->cpu_s,
                (unsigned long long) ph[i]->connected,
                (unsigned long long) ph[i]->dropped,
                (double) ph[i]->bytes / (1 << 20));
    }
    fprintf(out, "\nThe relay %s the attack%s.\n",
            alive ? "survived" : "DID NOT survive",
            stop_rc == 0 ? " and stopped cleanly" : " (it did not stop cleanly)");
    if (out != stdout) {
        fclose(out);
    }
    free(atk);
    return alive && stop_rc == 0 ? 0 : 1;
}
