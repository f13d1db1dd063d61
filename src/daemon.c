/* daemon.c - many devices from one config: each on a thread of its own,
 * one shared context, one control endpoint, and a reload that leaves
 * untouched devices alone.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

/* A restarted device may find its port still held for a moment after the
 * old one closed (measured: 2-4 in 200 rebinds); retry until this. */
#define S_REBIND_MS 3000

typedef struct {
    zr_device_t *dev;
    size_t index; /* its section in the current config */
} s_entry_t;

struct zr_daemon_t {
    void *ctx;
    bool own_ctx;
    zr_config_t *config;
    char *path; /* NULL: the embedded default */
    s_entry_t *entries;
    size_t nentries;
    void *control;
    zr__auth_t *control_auth; /* auth lane: CURVE on the control socket */
    char *control_spec;
    char *control_address; /* as bound, the real port */
    bool keep_going;
    bool config_log_level; /* the config's log_level applies */
    bool control_pending;  /* a reload moved the control endpoint */
    zr_http_t *http;       /* [zrelay] http, NULL: off (http.c) */
    char *http_spec;
    atomic_bool stop, reload;
    int wake[2];
    void (*notify)(const char *state, void *arg);
    void *notify_arg;
    char error[1024];
};

static void
s_notify(zr_daemon_t *self, const char *state)
{
    if (self->notify) {
        self->notify(state, self->notify_arg);
    }
}

zr_daemon_t *
zr_daemon_new(void *ctx)
{
    zr_daemon_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    if (zr__wake_pipe(self->wake) != 0) {
        free(self);
        return NULL;
    }
    self->ctx = ctx;
    self->config_log_level = true;
    return self;
}

static void
s_entry_stop(s_entry_t *e)
{
    if (!e->dev) {
        return;
    }
    zr_device_stop(e->dev);
    zr_device_join(e->dev);
    zr_stats_t st;
    zr_device_stats(e->dev, &st);
    uint64_t held = st.frontend.drop_shutdown + st.backend.drop_shutdown;
    if (zr_device_type(e->dev) == ZR_MAJORDOMO) {
        /* One socket: no backend to speak of. */
        ZR_LOG_N("%s: stopped: %" PRIu64 " messages in, %" PRIu64
                 " out; %" PRIu64 " undelivered",
                 zr_device_name(e->dev), st.frontend.msgs_in,
                 st.frontend.msgs_out, held);
    }
    else {
        ZR_LOG_N("%s: stopped: %" PRIu64 " messages in, %" PRIu64
                 " out on the frontend; %" PRIu64 " in, %" PRIu64
                 " out on the backend; %" PRIu64 " undelivered",
                 zr_device_name(e->dev), st.frontend.msgs_in,
                 st.frontend.msgs_out, st.backend.msgs_in, st.backend.msgs_out,
                 held);
    }
    zr_device_destroy(&e->dev);
}

/* Stop every device: all drain at once, then each is joined. */
static void
s_entries_stop(zr_daemon_t *self)
{
    for (size_t i = 0; i < self->nentries; i++) {
        if (self->entries[i].dev) {
            zr_device_stop(self->entries[i].dev);
        }
    }
    for (size_t i = 0; i < self->nentries; i++) {
        s_entry_stop(&self->entries[i]);
    }
}

void
zr_daemon_destroy(zr_daemon_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr_daemon_t *self = *self_p;
    s_entries_stop(self);
    zr_http_destroy(&self->http);
    free(self->http_spec);
    free(self->entries);
    if (self->control) {
        zmq_close(self->control);
    }
    zr__auth_destroy(&self->control_auth);
    if (self->own_ctx && self->ctx) {
        zmq_ctx_term(self->ctx);
    }
    zr_config_destroy(&self->config);
    free(self->path);
    free(self->control_spec);
    free(self->control_address);
    close(self->wake[0]);
    close(self->wake[1]);
    free(self);
    *self_p = NULL;
}

void
zr_daemon_set_notify(zr_daemon_t *self,
                     void (*fn)(const char *state, void *arg), void *arg)
{
    self->notify = fn;
    self->notify_arg = arg;
}

void
zr_daemon_set_keep_going(zr_daemon_t *self, bool keep_going)
{
    self->keep_going = keep_going;
}

void
zr_daemon_set_config_log_level(zr_daemon_t *self, bool apply)
{
    self->config_log_level = apply;
}

const char *
zr_daemon_error(const zr_daemon_t *self)
{
    return self->error;
}

void *
zr_daemon_context(const zr_daemon_t *self)
{
    return self->ctx;
}

const char *
zr_daemon_control(const zr_daemon_t *self)
{
    return self->control_address;
}

const char *
zr_daemon_http(const zr_daemon_t *self)
{
    return self->http ? zr_http_url(self->http) : NULL;
}

size_t
zr_daemon_device_count(const zr_daemon_t *self)
{
    return self->nentries;
}

zr_device_t *
zr_daemon_device(const zr_daemon_t *self, size_t i)
{
    return i < self->nentries ? self->entries[i].dev : NULL;
}

void
zr_daemon_stop(zr_daemon_t *self)
{
    atomic_store(&self->stop, true);
    zr__wake(self->wake[1]);
}

void
zr_daemon_reload(zr_daemon_t *self)
{
    atomic_store(&self->reload, true);
    zr__wake(self->wake[1]);
}

/* A control socket attached to EPS, or NULL with the reason in ERR. */
static void *
s_control_socket(zr_daemon_t *self, zr_endpoints_t *eps, char *err,
                 size_t errlen)
{
    void *sock = zr__ctl_socket(self->ctx);
    if (!sock) {
        zr__errf(err, errlen, "%s", zmq_strerror(errno));
        return NULL;
    }
    if (self->control_auth &&
        zr__auth_server_socket(self->control_auth, -1, sock, err, errlen) != 0) {
        zmq_close(sock);
        errno = EINVAL;
        return NULL;
    }
    if (zr_endpoints_attach(eps, sock, err, errlen) != 0) {
        int e = errno;
        zmq_close(sock);
        errno = e;
        return NULL;
    }
    return sock;
}

/* ---------------------------------------------------------------------
 * auth lane (issue 14): the control endpoint, reachable from anywhere but
 * loopback or ipc://, starts only CURVE-secured with an allow directory,
 * or when control_insecure = yes says so.
 */
static int
s_control_security(zr_daemon_t *self, zr_endpoints_t *eps)
{
    const zr_config_t *c = self->config;
    const char *secret = zr__config_control_curve_secret(c);
    const char *allow = zr__config_control_curve_allow(c);
    bool exposed = false;
    for (size_t i = 0; i < zr_endpoints_size(eps); i++) {
        exposed = exposed || !zr_address_is_local(zr_endpoints_address(eps, i));
    }
    if (exposed && !(secret && allow) && !zr__config_control_insecure(c)) {
        zr__errf(self->error, sizeof self->error,
                 "control: %s is reachable from the network: secure it with "
                 "control_curve_secret and control_curve_allow in [zrelay] "
                 "(docs/SECURITY.md), or write control_insecure = yes",
                 zr_endpoints_address(eps, 0));
        errno = EACCES;
        return -1;
    }
    if (!secret || self->control_auth) {
        return 0;
    }
    char err[512];
    zr__auth_t *a = zr__auth_new("zrelay-control");
    if (!a || zr__auth_set(a, ZR__AUTH_CURVE_SECRET, secret) != 0 ||
        zr__auth_set(a, ZR__AUTH_CURVE_ALLOW, allow) != 0 ||
        zr__auth_open(a, self->ctx, err, sizeof err) != 0) {
        zr__errf(self->error, sizeof self->error, "control: %s",
                 a ? err : "out of memory");
        zr__auth_destroy(&a);
        errno = EINVAL;
        return -1;
    }
    self->control_auth = a;
    return 0;
}

/* Bind the control endpoint SPEC. A new address is bound before the old
 * socket closes; the same port can only be had once the old socket let it
 * go, so then it closes first and is bound again, retried until a
 * deadline; if even that fails the old endpoint comes back. -1 with the
 * reason in self->error when the daemon keeps its old endpoint (or, at
 * start, has none). */
static int
s_control_open(zr_daemon_t *self, const char *spec)
{
    if (self->control && self->control_spec &&
        strcmp(spec, self->control_spec) == 0) {
        return 0;
    }
    char err[512];
    zr_endpoints_t *eps = zr_endpoints_parse(spec, true, err, sizeof err);
    if (!eps) {
        zr__errf(self->error, sizeof self->error, "control: %s", err);
        return -1;
    }
    if (s_control_security(self, eps) != 0) {
        zr_endpoints_destroy(&eps);
        return -1;
    }
    void *sock = s_control_socket(self, eps, err, sizeof err);
    if (!sock && errno == EADDRINUSE && self->control) {
        zmq_close(self->control);
        self->control = NULL;
        int64_t deadline = zr__now_ms() + S_REBIND_MS;
        while (!sock && errno == EADDRINUSE && zr__now_ms() < deadline) {
            zmq_poll(NULL, 0, 50);
            sock = s_control_socket(self, eps, err, sizeof err);
        }
    }
    if (!sock) {
        zr__errf(self->error, sizeof self->error, "control: %s", err);
        zr_endpoints_destroy(&eps);
        if (!self->control && self->control_spec) {
            /* The old one was closed for nothing: have it back. */
            char *old = self->control_spec;
            self->control_spec = NULL;
            if (s_control_open(self, old) != 0) {
                ZR_LOG_E("the control endpoint %s is gone too; restart "
                         "zrelay to steer it again",
                         old);
            }
            free(old);
        }
        return -1;
    }
    if (self->control) {
        zmq_close(self->control);
    }
    for (size_t i = 0; i < zr_endpoints_size(eps); i++) {
        const char *address = zr_endpoints_resolved(eps, i);
        if (zr_endpoints_is_bind(eps, i) && !zr_address_is_local(address)) {
            ZR_LOG_W("control endpoint %s is reachable from the network: "
                     "anyone who can connect can pause, reload or stop "
                     "zrelay",
                     address);
        }
        ZR_LOG_I("control: %s %s",
                 zr_endpoints_is_bind(eps, i) ? "bind" : "connect", address);
    }
    free(self->control_spec);
    free(self->control_address);
    self->control_spec = strdup(spec);
    self->control_address = strdup(zr_endpoints_resolved(eps, 0));
    self->control = sock;
    zr_endpoints_destroy(&eps);
    return 0;
}

/* Open device I of CONFIG, retrying a port still held by a device just
 * stopped. NULL, with the reason in ERR, when it cannot. */
static zr_device_t *
s_open(zr_daemon_t *self, const zr_config_t *config, size_t i, bool retry,
       char *err, size_t errlen)
{
    int64_t deadline = zr__now_ms() + (retry ? S_REBIND_MS : 0);
    for (;;) {
        zr_device_t *dev = zr_config_device_new(config, i, self->ctx);
        if (!dev) {
            zr__errf(err, errlen, "%s", zr_strerror(errno));
            return NULL;
        }
        if (zr_device_open(dev) == 0) {
            return dev;
        }
        int e = errno;
        zr__errf(err, errlen, "%s", zr_device_error(dev));
        zr_device_destroy(&dev);
        if (e != EADDRINUSE || zr__now_ms() >= deadline) {
            errno = e;
            return NULL;
        }
        zmq_poll(NULL, 0, 50);
    }
}

/* [limits] Every connection costs a file descriptor and every device
 * five or six sockets: take the hard limit on descriptors (the soft one
 * is often 1024), up to S_FD_MAX, and let the context have as many
 * sockets as descriptors, up to S_SOCKETS_MAX (libzmq's default is 1023:
 * about 170 devices). A device keeps the last eighth of the descriptors
 * free (device.c, s_fd_line) so that the control endpoint still answers
 * when connections flood in. */
#define S_FD_MAX (1 << 20)
#define S_SOCKETS_MAX 65535

static void
s_limits(void *ctx)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    rlim_t was = rl.rlim_cur;
    rlim_t want = rl.rlim_max < S_FD_MAX ? rl.rlim_max : S_FD_MAX;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rl.rlim_cur = was;
        }
    }
    int sockets = rl.rlim_cur > S_SOCKETS_MAX ? S_SOCKETS_MAX
                  : rl.rlim_cur < 1023        ? 1023
                                              : (int) rl.rlim_cur;
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, sockets);
    ZR_LOG_I("file descriptors: %llu (was %llu); sockets: %d",
             (unsigned long long) rl.rlim_cur, (unsigned long long) was,
             sockets);
}

static int s_http_open(zr_daemon_t *self);

static int
s_start(zr_device_t *dev)
{
    if (zr_device_start(dev) != 0) {
        return -1;
    }
    ZR_LOG_N("%s: %s started", zr_device_name(dev),
             zr_device_type_name(zr_device_type(dev)));
    return 0;
}

int
zr_daemon_start(zr_daemon_t *self, zr_config_t *config, const char *path)
{
    if (self->config) {
        errno = EBUSY;
        return -1;
    }
    self->config = config;
    self->path = path ? strdup(path) : NULL;
    if (zr_config_error_count(config) > 0) {
        zr__errf(self->error, sizeof self->error, "%s",
                 zr_config_error(config, 0));
        errno = EINVAL;
        return -1;
    }
    if (!self->ctx) {
        self->ctx = zmq_ctx_new();
        self->own_ctx = true;
        if (!self->ctx) {
            return -1;
        }
        zmq_ctx_set(self->ctx, ZMQ_IO_THREADS, zr_config_io_threads(config));
        s_limits(self->ctx); /* [limits] */
    }
    if (s_control_open(self, zr_config_control(config)) != 0) {
        return -1;
    }
    size_t n = zr_config_device_count(config);
    self->entries = calloc(n ? n : 1, sizeof *self->entries);
    if (!self->entries) {
        errno = ENOMEM;
        return -1;
    }
    int failed = 0;
    char first[600] = "";
    for (size_t i = 0; i < n; i++) {
        char err[512];
        zr_device_t *dev = s_open(self, config, i, false, err, sizeof err);
        if (!dev) {
            ZR_LOG_E("%s: %s", zr_config_device_name(config, i), err);
            if (!failed++) {
                zr__errf(first, sizeof first, "%s: %s",
                         zr_config_device_name(config, i), err);
            }
            continue;
        }
        self->entries[self->nentries++] = (s_entry_t){dev, i};
    }
    if (failed && !self->keep_going) {
        zr__errf(self->error, sizeof self->error,
                 "%s%s (%d device%s failed; --keep-going runs the others)",
                 first, "", failed, failed == 1 ? "" : "s");
        for (size_t i = 0; i < self->nentries; i++) {
            zr_device_destroy(&self->entries[i].dev);
        }
        self->nentries = 0;
        errno = EADDRINUSE;
        return -1;
    }
    for (size_t i = 0; i < self->nentries; i++) {
        if (s_start(self->entries[i].dev) != 0) {
            ZR_LOG_E("%s: %s", zr_device_name(self->entries[i].dev),
                     zr_device_error(self->entries[i].dev));
        }
    }
    if (failed) {
        ZR_LOG_W("%d device%s failed to start and %s not running", failed,
                 failed == 1 ? "" : "s", failed == 1 ? "is" : "are");
    }
    if (s_http_open(self) != 0) {
        s_entries_stop(self);
        self->nentries = 0;
        return -1;
    }
    s_notify(self, "READY=1");
    return 0;
}

/* ---------------------------------------------------------------------
 * Reload.
 */

/* A device whose section is unchanged and which still runs is left
 * alone; one stopped by its own TERMINATE is started again. */
static bool
s_keep(const zr_config_t *old, const s_entry_t *e, const zr_config_t *next,
       int j)
{
    zr_stats_t st;
    zr_device_stats(e->dev, &st);
    return j >= 0 && st.running &&
           zr_config_device_same(old, e->index, next, (size_t) j);
}

/* A reload in the making: the new config, the entries it will run, and
 * for each old entry where its device went. */
typedef struct {
    zr_config_t *old, *next;
    s_entry_t *entries; /* the new set */
    size_t nentries;
    size_t *was; /* old entry I's section in OLD */
    int *into;   /* old entry I's section in NEXT, -1: removed */
    bool *done;  /* NEXT's section J runs (kept or started) */
    size_t kept, stopped, started, failed;
} s_plan_t;

static void
s_plan_free(s_plan_t *p)
{
    free(p->entries);
    free(p->was);
    free(p->into);
    free(p->done);
}

/* The config to reload to, or NULL with WHY (the running set stays). */
static zr_config_t *
s_reload_load(zr_daemon_t *self, char *why, size_t whylen)
{
    zr_config_t *next =
        self->path ? zr_config_load(self->path)
                   : zr_config_parse(zr_config_default_text(), "<default>");
    if (!next) {
        zr__errf(why, whylen, "reload: %s", zr_strerror(errno));
        return NULL;
    }
    size_t nerr = zr_config_error_count(next);
    if (nerr) {
        for (size_t i = 0; i < nerr; i++) {
            ZR_LOG_E("reload refused: %s", zr_config_error(next, i));
        }
        zr__errf(
            why, whylen, "reload refused, the running set is unchanged: %s%s",
            zr_config_error(next, 0), nerr > 1 ? " (and more in the log)" : "");
        zr_config_destroy(&next);
    }
    return next;
}

/* First every removed or changed device stops (all at once, so their
 * lingers overlap), so that whatever ports they held are free for the
 * devices that start next; the unchanged ones move to the new set. */
static void
s_plan_stop(zr_daemon_t *self, s_plan_t *p)
{
    for (size_t i = 0; i < self->nentries; i++) {
        s_entry_t *e = &self->entries[i];
        int j = zr_config_device_find(p->next, zr_device_name(e->dev));
        p->into[i] = j;
        p->was[i] = e->index;
        if (s_keep(p->old, e, p->next, j)) {
            p->done[j] = true;
            p->entries[p->nentries++] = (s_entry_t){e->dev, (size_t) j};
            e->dev = NULL;
            p->kept++;
            continue;
        }
        ZR_LOG_N("%s: %s", zr_device_name(e->dev),
                 j < 0 ? "removed from the config"
                 : zr_config_device_same(p->old, e->index, p->next, (size_t) j)
                     ? "stopped by its control endpoint, starting again"
                     : "changed, restarting");
        zr_device_stop(e->dev);
    }
    for (size_t i = 0; i < self->nentries; i++) {
        if (self->entries[i].dev) {
            s_entry_stop(&self->entries[i]);
            p->stopped++;
        }
    }
}

/* Start section J of CONFIG into the new set; false when it cannot. */
static bool
s_plan_start(zr_daemon_t *self, s_plan_t *p, const zr_config_t *config,
             size_t j, size_t index, char *err, size_t errlen)
{
    zr_device_t *dev = s_open(self, config, j, true, err, errlen);
    if (dev && s_start(dev) == 0) {
        p->entries[p->nentries++] = (s_entry_t){dev, index};
        return true;
    }
    zr_device_destroy(&dev);
    return false;
}

/* Then the changed ones start anew: if one cannot, its old section runs
 * again (and compares as changed next time). */
static void
s_plan_restart(zr_daemon_t *self, s_plan_t *p, size_t nold)
{
    for (size_t i = 0; i < nold; i++) {
        int j = p->into[i];
        if (j < 0 || p->done[j]) {
            continue;
        }
        p->done[j] = true;
        char err[512];
        if (s_plan_start(self, p, p->next, (size_t) j, (size_t) j, err,
                         sizeof err)) {
            p->started++;
            continue;
        }
        p->failed++;
        ZR_LOG_E("%s: the new configuration cannot start (%s); keeping the "
                 "old one",
                 zr_config_device_name(p->next, (size_t) j), err);
        if (!s_plan_start(self, p, p->old, p->was[i], SIZE_MAX, err,
                          sizeof err)) {
            ZR_LOG_E("%s: the old configuration cannot start either (%s); "
                     "the device is down",
                     zr_config_device_name(p->old, p->was[i]), err);
        }
    }
    /* And the new ones. */
    for (size_t j = 0; j < zr_config_device_count(p->next); j++) {
        char err[512];
        if (p->done[j]) {
            continue;
        }
        if (s_plan_start(self, p, p->next, j, j, err, sizeof err)) {
            p->started++;
        }
        else {
            p->failed++;
            ZR_LOG_E("%s: %s", zr_config_device_name(p->next, j), err);
        }
    }
}

/* The new set and config take over. */
static void
s_plan_commit(zr_daemon_t *self, s_plan_t *p)
{
    if (zr_config_io_threads(p->next) != zr_config_io_threads(p->old)) {
        ZR_LOG_W("reload: io_threads takes effect at the next start");
    }
    if (self->config_log_level) {
        int level = zr_config_log_level(p->next);
        zr_log_set_level(level >= 0 ? (zr_log_level_t) level : ZR_LOG_NOTICE);
    }
    size_t n = zr_config_device_count(p->next);
    for (size_t i = 0; i < p->nentries; i++) {
        if (p->entries[i].index == SIZE_MAX) {
            p->entries[i].index = n; /* out of range: never "the same" */
        }
    }
    free(self->entries);
    self->entries = p->entries;
    self->nentries = p->nentries;
    p->entries = NULL;
    self->config = p->next;
    zr_config_destroy(&p->old);
    /* The control endpoint changes after the reply to RELOAD went out. */
    self->control_pending = true;
}

static int
s_reload(zr_daemon_t *self, char *why, size_t whylen)
{
    zr_config_t *next = s_reload_load(self, why, whylen);
    if (!next || zr_config_error_count(next)) {
        return -1;
    }
    s_notify(self, "RELOADING=1");
    ZR_LOG_N("reloading %s", zr_config_path(next));
    /* auth lane: allow directories and password files are read again,
     * also for the devices the reload leaves alone. */
    zr__auth_reload(self->ctx);
    size_t n = zr_config_device_count(next), nold = self->nentries;
    s_plan_t p = {.old = self->config,
                  .next = next,
                  .entries = calloc(n + nold + 1, sizeof(s_entry_t)),
                  .was = calloc(nold + 1, sizeof(size_t)),
                  .into = calloc(nold + 1, sizeof(int)),
                  .done = calloc(n + 1, sizeof(bool))};
    if (!p.entries || !p.was || !p.into || !p.done) {
        s_plan_free(&p);
        zr_config_destroy(&next);
        zr__errf(why, whylen, "reload: out of memory");
        return -1;
    }
    s_plan_stop(self, &p);
    s_plan_restart(self, &p, nold);
    s_plan_commit(self, &p);
    ZR_LOG_N("reloaded: %zu kept, %zu stopped, %zu started, %zu failed", p.kept,
             p.stopped, p.started, p.failed);
    s_plan_free(&p);
    s_notify(self, "READY=1");
    if (p.failed) {
        zr__errf(why, whylen,
                 "reload: %zu device%s failed to start (see the log)", p.failed,
                 p.failed == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

/* After a reload has been answered: move the control endpoint if the
 * config moved it. */
static void
s_control_follow(zr_daemon_t *self)
{
    if (!self->control_pending) {
        return;
    }
    self->control_pending = false;
    if (s_control_open(self, zr_config_control(self->config)) != 0) {
        ZR_LOG_E("reload: %s; the control endpoint stays %s", self->error,
                 self->control_spec ? self->control_spec : "(none)");
    }
    if (s_http_open(self) != 0) {
        ZR_LOG_E("reload: %s; no HTTP endpoint until it can bind", self->error);
    }
}

/* ---------------------------------------------------------------------
 * The HTTP endpoint (http.c): its pages are rendered here, on the
 * daemon's thread, between two turns of the loop, so that no device is
 * stopped or replaced while a page reads it.
 */
static int
s_http_render(void *arg, zr__page_t page, zr__buf_t *out, const char **type)
{
    zr_daemon_t *self = arg;
    const zr_config_t *c = self->config;
    size_t nconf = zr_config_device_count(c);
    zr__devview_t *views = calloc(self->nentries + nconf + 1, sizeof *views);
    if (!views) {
        out->oom = true;
        return 500;
    }
    size_t n = 0;
    for (size_t i = 0; i < self->nentries; i++) {
        views[n++] = (zr__devview_t){zr_device_name(self->entries[i].dev),
                                     self->entries[i].dev};
    }
    /* Configured and not running at all: it failed to start. */
    for (size_t j = 0; j < nconf; j++) {
        const char *name = zr_config_device_name(c, j);
        bool found = false;
        for (size_t i = 0; i < self->nentries && !found; i++) {
            found = strcmp(views[i].name, name) == 0;
        }
        if (!found) {
            views[n++] = (zr__devview_t){name, NULL};
        }
    }
    int status = zr__metrics_render(views, n, self->http, page, out, type);
    free(views);
    return status;
}

/* Serve [zrelay] http if it is set and not served already: -1 with the
 * reason in self->error when it cannot. */
static int
s_http_open(zr_daemon_t *self)
{
    const char *spec = zr__config_http(self->config);
    if (self->http && spec && self->http_spec &&
        strcmp(spec, self->http_spec) == 0) {
        return 0;
    }
    zr_http_destroy(&self->http);
    free(self->http_spec);
    self->http_spec = NULL;
    if (!spec) {
        return 0;
    }
    char err[512];
    self->http =
        zr__http_new(spec, self->ctx, s_http_render, self, err, sizeof err);
    if (!self->http) {
        zr__errf(self->error, sizeof self->error, "%s", err);
        return -1;
    }
    self->http_spec = strdup(spec);
    ZR_LOG_N("http: %s (the status page; /metrics /stats /healthz /readyz)",
             zr_http_url(self->http));
    return 0;
}

/* ---------------------------------------------------------------------
 * The control endpoint (docs/CONTROL.md).
 */

static const char *
s_state(zr_device_t *dev)
{
    zr_stats_t st;
    zr_device_stats(dev, &st);
    return !st.running ? "stopped" : st.paused ? "paused" : "running";
}

static char *
s_list_json(zr_daemon_t *self)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "devices");
    for (size_t i = 0; i < self->nentries; i++) {
        zr_device_t *dev = self->entries[i].dev;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", zr_device_name(dev));
        cJSON_AddStringToObject(o, "type",
                                zr_device_type_name(zr_device_type(dev)));
        cJSON_AddStringToObject(o, "state", s_state(dev));
        cJSON *eps = cJSON_AddArrayToObject(o, "endpoints");
        size_t n = zr_device_endpoint_count(dev);
        for (size_t e = 0; e < n; e++) {
            const char *role, *address;
            bool bind;
            zr_device_endpoint(dev, e, &role, &bind, &address);
            cJSON *ep = cJSON_CreateObject();
            cJSON_AddStringToObject(ep, "role", role);
            cJSON_AddStringToObject(ep, "mode", bind ? "bind" : "connect");
            cJSON_AddStringToObject(ep, "address", address);
            cJSON_AddItemToArray(eps, ep);
        }
        cJSON_AddItemToArray(list, o);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

/* The control endpoint's view of the daemon (ctl.c). */
static size_t
s_ctl_count(void *arg)
{
    return ((zr_daemon_t *) arg)->nentries;
}

static const char *
s_ctl_name(void *arg, size_t i)
{
    return zr_device_name(((zr_daemon_t *) arg)->entries[i].dev);
}

static void
s_ctl_pause(void *arg, size_t i, bool pause)
{
    zr_device_t *dev = ((zr_daemon_t *) arg)->entries[i].dev;
    if (pause) {
        zr_device_pause(dev);
    }
    else {
        zr_device_resume(dev);
    }
}

static char *
s_ctl_stats(void *arg, size_t i)
{
    return zr_device_stats_json(((zr_daemon_t *) arg)->entries[i].dev);
}

static void
s_ctl_statistics(void *arg, size_t i, uint64_t out[8])
{
    zr__stat_section_t secs[ZR__STAT_SECTIONS_MAX];
    size_t n = zr__device_sections(((zr_daemon_t *) arg)->entries[i].dev, secs,
                                   ZR__STAT_SECTIONS_MAX);
    zr__stats_statistics(secs, n, out);
}

static char *
s_ctl_list(void *arg)
{
    return s_list_json(arg);
}

static int
s_ctl_reload(void *arg, char *why, size_t len)
{
    return s_reload(arg, why, len);
}

/* STOP NAME: the device stops and is joined, and stays listed as
 * "stopped" with its sockets open, as one stopped by its own TERMINATE
 * (a reload starts it again). Stopped already: nothing to do. */
static int
s_ctl_stop(void *arg, size_t i, char *why, size_t len)
{
    (void) why;
    (void) len;
    zr_device_t *dev = ((zr_daemon_t *) arg)->entries[i].dev;
    zr_stats_t st;
    zr_device_stats(dev, &st);
    if (st.running) {
        zr_device_stop(dev);
        zr_device_join(dev);
    }
    return 0;
}

/* START NAME: a stopped device is replaced by a new one from its section
 * of the current config (the old one's ports are let go first). If that
 * cannot start, an unopened one of the same section stands in, listed
 * "stopped". Running (or paused) already: nothing to do. */
static int
s_ctl_start(void *arg, size_t i, char *why, size_t len)
{
    zr_daemon_t *self = arg;
    s_entry_t *e = &self->entries[i];
    zr_stats_t st;
    zr_device_stats(e->dev, &st);
    if (st.running) {
        return 0;
    }
    if (e->index >= zr_config_device_count(self->config)) {
        zr__errf(why, len,
                 "%s runs a section older than the config's (a reload could "
                 "not start the new one): RELOAD starts it",
                 zr_device_name(e->dev));
        return -1;
    }
    const char *name = zr_config_device_name(self->config, e->index);
    s_entry_stop(e);
    char err[512];
    zr_device_t *dev =
        s_open(self, self->config, e->index, true, err, sizeof err);
    if (dev && s_start(dev) == 0) {
        e->dev = dev;
        return 0;
    }
    if (dev) {
        zr__errf(err, sizeof err, "%s", zr_device_error(dev));
        zr_device_destroy(&dev);
    }
    zr__errf(why, len, "%s cannot start: %s", name, err);
    e->dev = zr_config_device_new(self->config, e->index, self->ctx);
    if (!e->dev) {
        /* Not even that: it is no longer listed. */
        memmove(e, e + 1, (self->nentries - i - 1) * sizeof *e);
        self->nentries--;
    }
    return -1;
}

static void
s_ctl_terminate(void *arg)
{
    zr_daemon_stop(arg);
}

static const zr__ctl_ops_t s_ctl_ops = {.owner = "daemon",
                                        .daemon = true,
                                        .count = s_ctl_count,
                                        .name = s_ctl_name,
                                        .pause = s_ctl_pause,
                                        .stats_json = s_ctl_stats,
                                        .statistics = s_ctl_statistics,
                                        .list_json = s_ctl_list,
                                        .reload = s_ctl_reload,
                                        .stop = s_ctl_stop,
                                        .start = s_ctl_start,
                                        .terminate = s_ctl_terminate};

/* One request on the control endpoint. */
static void
s_serve(zr_daemon_t *self)
{
    zr__ctl_serve(self->control, &s_ctl_ops, self);
}

int
zr_daemon_run(zr_daemon_t *self)
{
    if (!self->config) {
        errno = EINVAL;
        return -1;
    }
    int rc = 0;
    while (!atomic_load(&self->stop)) {
        s_control_follow(self);
        /* Without a control socket (a failed move) only signals steer. */
        zmq_pollitem_t items[3] = {
            {.fd = self->wake[0], .events = ZMQ_POLLIN},
            {.socket = self->control, .events = ZMQ_POLLIN},
            {.socket = zr__http_socket(self->http), .events = ZMQ_POLLIN},
        };
        int nitems = 1;
        if (self->control) {
            nitems = 2;
        }
        else if (self->http) {
            items[1] = items[2]; /* the HTTP bridge in the control's place */
        }
        if (self->http) {
            nitems++;
        }
        if (zmq_poll(items, nitems, -1) < 0 && errno == ETERM) {
            rc = -1;
            break;
        }
        zr__wake_drain(self->wake[0]);
        if (atomic_exchange(&self->reload, false)) {
            char why[900];
            if (s_reload(self, why, sizeof why) != 0) {
                ZR_LOG_E("%s", why);
            }
        }
        if (self->control && (items[1].revents & ZMQ_POLLIN)) {
            s_serve(self);
        }
        if (self->http && (items[nitems - 1].revents & ZMQ_POLLIN)) {
            /* Every request waiting: a page is quick to render. */
            while (zmq_poll(&items[nitems - 1], 1, 0) > 0 &&
                   (items[nitems - 1].revents & ZMQ_POLLIN)) {
                zr__http_answer(self->http);
            }
        }
    }
    /* No more pages: nobody would render them. */
    zr_http_destroy(&self->http);
    s_notify(self, "STOPPING=1");
    ZR_LOG_N("stopping %zu device%s", self->nentries,
             self->nentries == 1 ? "" : "s");
    /* Stop them all at once, then wait: linger times overlap. */
    for (size_t i = 0; i < self->nentries; i++) {
        zr_device_stop(self->entries[i].dev);
    }
    for (size_t i = 0; i < self->nentries; i++) {
        s_entry_stop(&self->entries[i]);
    }
    self->nentries = 0;
    return rc;
}
