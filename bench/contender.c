/* contender.c - what sits between producer and consumer: nothing,
 * zmq_proxy() or zr_proxy() in a thread of the harness (a zr_device with
 * options for the patterns only zrelay runs: the gate, lru), or a
 * separate process (bench/zmq_proxy_main.c or the zrelay binary, with
 * the same options). Reads the CPU time and memory of whatever it
 * started.
 * SPDX-License-Identifier: MIT
 *
 * Fairness: both in-process proxies run on sockets this file makes the
 * same way (types, HWMs, linger, their own context with the same I/O
 * threads), in a thread this file starts, stopped the same way (the
 * context is shut down, both return ETERM). Both processes get the same
 * command line and are driven through the same printed lines.
 *
 * CPU time comes from /proc/.../task/TID/schedstat (nanoseconds; the
 * tick-based utime/stime of /proc/.../stat when it is missing). For a
 * thread contender, "the proxy" is the loop thread plus the I/O and
 * reaper threads its own context started; for a process, every thread of
 * the process. The loop thread alone is reported too.
 */
#define _GNU_SOURCE /* syscall */
#include "bench.h"
#include "relay_proc.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

struct b_proxy_t {
    b_contender_t kind;
    zr_device_type_t device;
    const b_pattern_info_t *pattern;
    char frontend[256], backend[256];
    /* in a thread */
    void *ctx;
    bool own_ctx;
    void *front, *back;
    zr_device_t *dev; /* a pattern with options: zr_device, not zr_proxy */
    pthread_t thread;
    bool started;
    _Atomic int loop_tid;
    pid_t tids[B_MAX_TIDS]; /* the context's threads, then the loop's */
    int ntids;
    /* in a process */
    b_relay_proc_t proc;
};

uint64_t
b_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void
b_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

pid_t
b_gettid(void)
{
    return (pid_t) syscall(SYS_gettid);
}

void
b_endpoint(const b_config_t *cfg, b_transport_t t, char *buf, size_t len)
{
    static atomic_int counter;
    int n = atomic_fetch_add(&counter, 1);
    switch (t) {
    case B_TCP: snprintf(buf, len, "tcp://127.0.0.1:*"); break;
    case B_IPC: snprintf(buf, len, "ipc://%s/e%d", cfg->tmpdir, n); break;
    default: snprintf(buf, len, "inproc://zrbench-%d", n); break;
    }
}

/* ---------------------------------------------------------------------
 * CPU and memory from /proc.
 */

static double
s_task_cpu_s(pid_t pid, pid_t tid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int) pid,
             (int) tid);
    FILE *f = fopen(path, "r");
    if (f) {
        unsigned long long ns = 0;
        int n = fscanf(f, "%llu", &ns);
        fclose(f);
        if (n == 1) {
            return (double) ns / 1e9;
        }
    }
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int) pid, (int) tid);
    return b_proc_stat_cpu_s(path, NULL, 0);
}

double
b_thread_cpu_s(pid_t tid)
{
    return s_task_cpu_s(getpid(), tid);
}

/* The thread ids of process PID, at most MAX. */
static int
s_list_tasks(pid_t pid, pid_t *tids, int max)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *dir = opendir(path);
    if (!dir) {
        return 0;
    }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < max) {
        if (e->d_name[0] != '.') {
            tids[n++] = (pid_t) atoi(e->d_name);
        }
    }
    closedir(dir);
    return n;
}

static bool
s_has(const pid_t *tids, int n, pid_t tid)
{
    for (int i = 0; i < n; i++) {
        if (tids[i] == tid) {
            return true;
        }
    }
    return false;
}

void
b_proxy_cpu(const b_proxy_t *self, double *total, double *loop)
{
    *total = *loop = NAN;
    if (!self || self->kind == B_DIRECT) {
        return;
    }
    if (b_is_process(self->kind)) {
        pid_t tids[B_MAX_TIDS];
        int n = s_list_tasks(self->proc.pid, tids, B_MAX_TIDS);
        *total = 0;
        for (int i = 0; i < n; i++) {
            *total += s_task_cpu_s(self->proc.pid, tids[i]);
        }
        *loop = s_task_cpu_s(self->proc.pid, self->proc.pid);
        return;
    }
    *total = 0;
    for (int i = 0; i < self->ntids; i++) {
        *total += b_thread_cpu_s(self->tids[i]);
    }
    *loop = b_thread_cpu_s((pid_t) atomic_load(&self->loop_tid));
}

void
b_proxy_rss(const b_proxy_t *self, double *now, double *peak)
{
    *now = *peak = NAN;
    if (self && b_is_process(self->kind)) {
        *now = b_proc_status_kib(self->proc.pid, "VmRSS:") / 1024.0;
        *peak = b_proc_status_kib(self->proc.pid, "VmHWM:") / 1024.0;
    }
}

const char *
b_proxy_frontend(const b_proxy_t *self)
{
    return self->kind == B_DIRECT ? NULL : self->frontend;
}

const char *
b_proxy_backend(const b_proxy_t *self)
{
    return self->kind == B_DIRECT ? NULL : self->backend;
}

/* ---------------------------------------------------------------------
 * In a thread of the harness.
 */

static const struct {
    zr_device_type_t device;
    int frontend, backend;
    const char *verb;
} s_devices[] = {
    {ZR_FORWARDER, ZMQ_XSUB, ZMQ_XPUB, "forwarder"},
    {ZR_QUEUE, ZMQ_ROUTER, ZMQ_DEALER, "queue"},
    {ZR_STREAMER, ZMQ_PULL, ZMQ_PUSH, "streamer"},
};

static int
s_device_index(zr_device_type_t device)
{
    for (int i = 0; i < 3; i++) {
        if (s_devices[i].device == device) {
            return i;
        }
    }
    return 0;
}

static void *
s_proxy_thread(void *arg)
{
    b_proxy_t *self = arg;
    atomic_store(&self->loop_tid, (int) b_gettid());
    if (self->kind == B_ZMQ_THREAD) {
        zmq_proxy(self->front, self->back, NULL);
    }
    else if (self->dev) {
        zr_device_run(self->dev);
    }
    else {
        zr_proxy(self->front, self->back, NULL, NULL);
    }
    return NULL;
}

/* A zr_device with the pattern's options, for what zr_proxy() cannot do
 * (the gate, lru): the same context, HWMs and linger as the sockets of
 * s_bound_socket, its endpoints bound to fresh addresses. Its loop runs
 * in s_proxy_thread (zr_device_run), so the CPU accounting is the same. */
static int
s_open_device(const b_config_t *cfg, b_proxy_t *self, b_transport_t transport,
              char *err, size_t errlen)
{
    self->dev = zr_device_new(self->ctx, self->device, "bench");
    if (!self->dev) {
        snprintf(err, errlen, "zr_device_new: %s", zr_strerror(errno));
        return -1;
    }
    char front[201], back[201];
    front[0] = back[0] = '@';
    b_endpoint(cfg, transport, front + 1, sizeof front - 1);
    b_endpoint(cfg, transport, back + 1, sizeof back - 1);
    int rc = zr_device_set_frontend(self->dev, front);
    rc = rc ? rc : zr_device_set_backend(self->dev, back);
    rc = rc ? rc : zr_device_set_sndhwm(self->dev, cfg->sndhwm);
    rc = rc ? rc : zr_device_set_rcvhwm(self->dev, cfg->rcvhwm);
    rc = rc ? rc : zr_device_set_linger(self->dev, 0);
    for (int i = 0; rc == 0 && i < B_MAX_OPTS && self->pattern->opts[i].name;
         i++) {
        rc = zr_device_set(self->dev, self->pattern->opts[i].name,
                           self->pattern->opts[i].value);
    }
    rc = rc ? rc : zr_device_open(self->dev);
    if (rc != 0) {
        snprintf(err, errlen, "zr_device: %s", zr_device_error(self->dev));
        return -1;
    }
    for (size_t i = 0; i < zr_device_endpoint_count(self->dev); i++) {
        const char *role, *addr;
        zr_device_endpoint(self->dev, i, &role, NULL, &addr);
        char *to = strcmp(role, "frontend") == 0  ? self->frontend
                   : strcmp(role, "backend") == 0 ? self->backend
                                                  : NULL;
        if (to) {
            snprintf(to, sizeof self->frontend, "%s", addr);
        }
    }
    return 0;
}

static void *
s_bound_socket(const b_config_t *cfg, void *ctx, int type,
               b_transport_t transport, char *resolved, size_t len, char *err,
               size_t errlen)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &cfg->sndhwm, sizeof cfg->sndhwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &cfg->rcvhwm, sizeof cfg->rcvhwm);
    if (type == ZMQ_ROUTER) {
        /* As zr_device does; costs nothing on the way of a message. */
        int on = 1;
        zmq_setsockopt(s, ZMQ_ROUTER_HANDOVER, &on, sizeof on);
    }
    char ep[200];
    b_endpoint(cfg, transport, ep, sizeof ep);
    if (zmq_bind(s, ep) != 0) {
        snprintf(err, errlen, "bind %s: %s", ep, zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    size_t n = len;
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, resolved, &n);
    return s;
}

static int
s_start_thread(const b_config_t *cfg, b_proxy_t *self, b_transport_t transport,
               void *shared_ctx, char *err, size_t errlen)
{
    pid_t before[B_MAX_TIDS];
    int nbefore = s_list_tasks(getpid(), before, B_MAX_TIDS);
    if (shared_ctx) {
        self->ctx = shared_ctx;
    }
    else {
        self->ctx = zmq_ctx_new();
        self->own_ctx = true;
        zmq_ctx_set(self->ctx, ZMQ_IO_THREADS, cfg->io_threads);
    }
    if (self->pattern->opts[0].name) {
        if (s_open_device(cfg, self, transport, err, errlen) != 0) {
            return -1;
        }
    }
    else {
        int d = s_device_index(self->device);
        self->front =
            s_bound_socket(cfg, self->ctx, s_devices[d].frontend, transport,
                           self->frontend, sizeof self->frontend, err, errlen);
        if (self->front) {
            self->back = s_bound_socket(cfg, self->ctx, s_devices[d].backend,
                                        transport, self->backend,
                                        sizeof self->backend, err, errlen);
        }
        if (!self->back) {
            return -1;
        }
    }
    if (pthread_create(&self->thread, NULL, s_proxy_thread, self) != 0) {
        snprintf(err, errlen, "cannot start the proxy thread");
        return -1;
    }
    self->started = true;
    while (atomic_load(&self->loop_tid) == 0) {
        b_sleep_ms(1);
    }
    /* The context's own threads (none new on a shared context), then
     * the loop thread. */
    pid_t after[B_MAX_TIDS];
    int nafter = s_list_tasks(getpid(), after, B_MAX_TIDS);
    pid_t loop = (pid_t) atomic_load(&self->loop_tid);
    for (int i = 0; i < nafter && self->ntids < B_MAX_TIDS - 1; i++) {
        if (!s_has(before, nbefore, after[i]) && after[i] != loop) {
            self->tids[self->ntids++] = after[i];
        }
    }
    self->tids[self->ntids++] = loop;
    return 0;
}

/* ---------------------------------------------------------------------
 * In a process of its own.
 */

static int
s_start_process(const b_config_t *cfg, b_proxy_t *self, b_transport_t transport,
                char *err, size_t errlen)
{
    bool latency = self->pattern->latency;
    const char *bin =
        self->kind == B_ZR_PROCESS ? cfg->zrelay_bin : cfg->zmq_proxy_bin;
    char sndhwm[16], rcvhwm[16], io[16], front[200], back[200];
    snprintf(sndhwm, sizeof sndhwm, "%d", cfg->sndhwm);
    snprintf(rcvhwm, sizeof rcvhwm, "%d", cfg->rcvhwm);
    snprintf(io, sizeof io, "%d", cfg->io_threads);
    front[0] = back[0] = '@';
    b_endpoint(cfg, transport, front + 1, sizeof front - 1);
    b_endpoint(cfg, transport, back + 1, sizeof back - 1);
    const char *verb = s_devices[s_device_index(self->device)].verb;
    char *argv[48] = {(char *) bin, (char *) verb, "--sndhwm",     sndhwm,
                      "--rcvhwm",   rcvhwm,        "--io-threads", io};
    int argc = 8;
    /* The pattern's options, as the command line spells them:
     * hold_until -> --hold-until. */
    char opts[B_MAX_OPTS][64];
    for (int i = 0; i < B_MAX_OPTS && self->pattern->opts[i].name; i++) {
        snprintf(opts[i], sizeof opts[i], "--%s", self->pattern->opts[i].name);
        for (char *p = opts[i]; *p; p++) {
            *p = *p == '_' ? '-' : *p;
        }
        argv[argc++] = opts[i];
        argv[argc++] = (char *) self->pattern->opts[i].value;
    }
    if (self->kind == B_ZR_PROCESS) {
        for (int i = 0; i < cfg->nzrelay_args; i++) {
            argv[argc++] = (char *) cfg->zrelay_args[i];
        }
        for (int i = 0; latency && i < cfg->nzrelay_lat_args; i++) {
            argv[argc++] = (char *) cfg->zrelay_lat_args[i];
        }
    }
    argv[argc++] = front;
    argv[argc++] = back;
    argv[argc] = NULL;
    b_relay_how_t how = {.what = "proxy",
                         .dir = cfg->tmpdir,
                         .ready_s = 15,
                         .pin_cpu = cfg->pin_cpu};
    if (b_relay_proc_start(&self->proc, (const char *const *) argv, &how, err,
                           errlen) != 0) {
        return -1;
    }
    snprintf(self->frontend, sizeof self->frontend, "%s", self->proc.frontend);
    snprintf(self->backend, sizeof self->backend, "%s", self->proc.backend);
    return 0;
}

/* ---------------------------------------------------------------------
 * Start and stop.
 */

b_proxy_t *
b_proxy_start(const b_config_t *cfg, b_contender_t c, b_pattern_t pattern,
              b_transport_t transport, void *shared_ctx, char *err,
              size_t errlen)
{
    b_proxy_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->kind = c;
    self->pattern = &b_patterns[pattern];
    self->device = self->pattern->device;
    b_relay_proc_init(&self->proc);
    int rc = 0;
    if (c == B_ZMQ_THREAD || c == B_ZR_THREAD) {
        rc = s_start_thread(cfg, self, transport, shared_ctx, err, errlen);
    }
    else if (b_is_process(c)) {
        rc = s_start_process(cfg, self, transport, err, errlen);
    }
    if (rc != 0) {
        char ignored[8];
        b_proxy_stop(&self, ignored, sizeof ignored);
        return NULL;
    }
    return self;
}

int
b_proxy_stop(b_proxy_t **self_p, char *err, size_t errlen)
{
    b_proxy_t *self = *self_p;
    if (!self) {
        return 0;
    }
    int rc = 0;
    if (b_is_process(self->kind)) {
        rc = b_relay_proc_stop(&self->proc, err, errlen);
    }
    else if (self->ctx) {
        /* Both proxies return ETERM once their context is shut down. */
        zmq_ctx_shutdown(self->ctx);
        if (self->started) {
            pthread_join(self->thread, NULL);
        }
        if (self->front) {
            zmq_close(self->front);
        }
        if (self->back) {
            zmq_close(self->back);
        }
        zr_device_destroy(&self->dev);
        if (self->own_ctx) {
            zmq_ctx_term(self->ctx);
        }
    }
    free(self);
    *self_p = NULL;
    return rc;
}
