/* proxy.c - zr_proxy: zmq_proxy_steerable's contract, zrelay's engine, on
 * sockets the caller owns.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

typedef struct {
    zr__engine_t *engine;
    void *control;
    zr__ctl_ops_t ctl;
    zr__ctl_counts_t counts;
} s_proxy_t;

static size_t
s_count(void *arg)
{
    (void) arg;
    return 1;
}

static const char *
s_name(void *arg, size_t i)
{
    (void) arg;
    (void) i;
    return "proxy";
}

static void
s_pause(void *arg, size_t i, bool pause)
{
    (void) i;
    zr__engine_pause(((s_proxy_t *) arg)->engine, pause);
}

static size_t
s_sections(s_proxy_t *self, zr__stat_section_t *out)
{
    size_t n = zr__engine_sections(self->engine, out, ZR__STAT_SECTIONS_MAX);
    if (n < ZR__STAT_SECTIONS_MAX) {
        out[n++] = zr__ctl_section(&self->counts);
    }
    return n;
}

static char *
s_stats_json(void *arg, size_t i)
{
    (void) i;
    s_proxy_t *self = arg;
    zr__stat_section_t secs[ZR__STAT_SECTIONS_MAX];
    size_t n = s_sections(self, secs);
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        return NULL;
    }
    cJSON_AddStringToObject(o, "name", "proxy");
    cJSON_AddStringToObject(o, "type", "proxy");
    cJSON_AddStringToObject(
        o, "state", zr__engine_paused(self->engine) ? "paused" : "running");
    zr__stats_add(o, secs, n);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void
s_statistics(void *arg, size_t i, uint64_t out[8])
{
    (void) i;
    zr__stat_section_t secs[ZR__STAT_SECTIONS_MAX];
    size_t n = s_sections(arg, secs);
    zr__stats_statistics(secs, n, out);
}

static void
s_terminate(void *arg)
{
    zr__engine_stop(((s_proxy_t *) arg)->engine);
}

static void
s_control_ready(void *arg)
{
    s_proxy_t *self = arg;
    zr__ctl_serve(self->control, &self->ctl, self);
}

int
zr_proxy(void *frontend, void *backend, void *capture, void *control)
{
    if (!frontend || !backend) {
        errno = EFAULT;
        return -1;
    }
    s_proxy_t self = {.control = control};
    self.engine = zr__engine_new();
    if (!self.engine) {
        return -1;
    }
    self.ctl = (zr__ctl_ops_t){.owner = "proxy",
                               .count = s_count,
                               .name = s_name,
                               .pause = s_pause,
                               .stats_json = s_stats_json,
                               .statistics = s_statistics,
                               .terminate = s_terminate,
                               .commands = &self.counts.commands,
                               .refused = &self.counts.refused,
                               .unsent = &self.counts.unsent};
    int rc = zr__engine_set_sockets(self.engine, frontend, backend);
    if (rc == 0) {
        zr__engine_set_capture(self.engine, capture);
        if (control) {
            zr__engine_watch(self.engine, control, s_control_ready, &self);
        }
        zr__engine_set_eintr_returns(self.engine, true);
        rc = zr__engine_run(self.engine);
    }
    int err = errno;
    zr__engine_destroy(&self.engine);
    errno = err;
    return rc;
}
