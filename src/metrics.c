/* metrics.c - the HTTP endpoint's pages, rendered from the stats table:
 * Prometheus text (exposition format 0.0.4), the STATS JSON of every
 * device, health and readiness.
 * SPDX-License-Identifier: MIT
 *
 * Every row of every device's sections is one sample; the samples are
 * sorted by family so that each family's # HELP and # TYPE come once,
 * however many devices and sockets it spreads over. A family's help is
 * its rows' help when they all say the same, else the line s_families
 * gives it (one per label value would not be one family's help). Reading
 * takes no lock (stats.c); who may call this and when, see http.c.
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_TEXT "text/plain; charset=utf-8"
#define S_JSON "application/json"
#define S_PROM "text/plain; version=0.0.4; charset=utf-8"

/* Families whose rows say different things (one per reason, socket or
 * state): the family's help. */
static const struct {
    const char *family, *help;
} s_families[] = {
    {"messages_dropped_total",
     "Messages dropped, by socket and reason (docs/METRICS.md lists each "
     "reason)."},
    {"messages_sent_total",
     "Messages sent on the socket (a multipart message once); on the "
     "capture socket, the copies sent to it."},
    {"connections_refused_total",
     "Connections refused, by reason: max_connections would have been "
     "open, or the process's file descriptors were nearly all in use."},
    {"handshake_failures_total",
     "Peers that failed the ZMTP handshake, by reason (no_detail, "
     "protocol, auth)."},
    {"auth_denied_total",
     "Connections the authentication handler refused, by reason."},
    {"gate_forced_messages_total",
     "Publications the gate sent on before their subscriptions came, by "
     "reason: hold_max held, or hold_timeout passed."},
    {"sync_answers_total", "Answers of the sync service, by outcome."},
    {"subscriptions_ignored_total",
     "Subscriptions and unsubscriptions ignored, by reason."},
    {"subscriptions_refused_total",
     "Subscriptions refused (beyond max_subscriptions), and messages from "
     "subscribers that were no subscription, by reason."},
    {"broker_workers", "Workers by state now."},
    {"broker_requests_total", "Requests through the broker, by outcome."},
    {"http_requests_total", "HTTP requests answered, by class of status code."},
    {"mdp_requests_total",
     "Majordomo requests, by outcome (docs/METRICS.md lists each)."},
    {"mdp_malformed_total",
     "Majordomo messages dropped as malformed, by reason (frames, "
     "protocol, command)."},
    {"mdp_service_workers", "A Majordomo service's workers, by state now."},
    {"mdp_service_requests_total",
     "A Majordomo service's requests, by outcome."},
    {"federation_states_total",
     "Federation state messages, by way (sent, unsent, received, "
     "malformed)."},
    {"federation_requests_total",
     "Requests a federated broker sent to its peers, by outcome."},
    {"peer_requests_total",
     "Requests forwarded to a peer broker, by outcome (sent, received, "
     "failed, late)."},
    {"ha_transitions_total",
     "High-availability state changes of this node, by kind "
     "(docs/SCALING.md)."},
    {"ha_conflicts_total",
     "Heartbeats that showed both nodes of the pair active, or both "
     "passive, by kind."},
    {"ha_heartbeats_total", "High-availability heartbeats, sent and received."},
    {"titanic_reply_answers_total",
     "titanic.reply requests, by answer (fetched: 200, pending: 300, "
     "unknown: 400)."},
    {"titanic_refused_total",
     "Titanic requests refused, by reason (full: 500, the store or the disk "
     "full; error: 500, another storage error; invalid: 400)."},
};

/* ---------------------------------------------------------------------
 * Prometheus text.
 */
typedef struct {
    const char *device; /* NULL: the process's (the http section) */
    const zr__stat_section_t *sec;
    const zr__stat_t *row;
    size_t order;
} s_sample_t;

static int
s_sample_cmp(const void *pa, const void *pb)
{
    const s_sample_t *a = pa, *b = pb;
    int c = strcmp(a->row->metric, b->row->metric);
    return c ? c : (a->order > b->order) - (a->order < b->order);
}

/* TEXT as a label value: backslash, quote and newline escaped. */
static void
s_label_value(zr__buf_t *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\' || *p == '"') {
            zr__buf_printf(out, "\\%c", *p);
        }
        else if (*p == '\n') {
            zr__buf_add(out, "\\n", 2);
        }
        else {
            zr__buf_add(out, p, 1);
        }
    }
}

/* HELP text: backslash and newline escaped. */
static void
s_help_text(zr__buf_t *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '\\') {
            zr__buf_add(out, "\\\\", 2);
        }
        else if (*p == '\n') {
            zr__buf_add(out, "\\n", 2);
        }
        else {
            zr__buf_add(out, p, 1);
        }
    }
}

static void
s_value(zr__buf_t *out, double v)
{
    if (v >= 0 && v < 9007199254740992.0 && (double) (uint64_t) v == v) {
        zr__buf_printf(out, " %llu\n", (unsigned long long) v);
    }
    else {
        zr__buf_printf(out, " %.15g\n", v);
    }
}

static const char *
s_family_help(const s_sample_t *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (strcmp(s[i].row->help, s[0].row->help) != 0) {
            for (size_t f = 0; f < sizeof s_families / sizeof s_families[0];
                 f++) {
                if (strcmp(s_families[f].family, s[0].row->metric) == 0) {
                    return s_families[f].help;
                }
            }
            break;
        }
    }
    return s[0].row->help;
}

static void
s_sample(zr__buf_t *out, const s_sample_t *s)
{
    const zr__stat_t *r = s->row;
    zr__buf_printf(out, "zrelay_%s", r->metric);
    const char *labels[3] = {s->sec->labels, r->labels, NULL};
    bool any = s->device || labels[0] || labels[1] || r->kind == ZR__STAT_TEXT;
    if (any) {
        zr__buf_add(out, "{", 1);
    }
    bool comma = false;
    if (s->device) {
        zr__buf_add(out, "device=\"", 8);
        s_label_value(out, s->device);
        zr__buf_add(out, "\"", 1);
        comma = true;
    }
    for (int i = 0; i < 2; i++) {
        if (labels[i]) {
            zr__buf_printf(out, "%s%s", comma ? "," : "", labels[i]);
            comma = true;
        }
    }
    if (r->kind == ZR__STAT_TEXT) {
        /* A setting: its last key word is the label ("strategy"). */
        const char *word = strrchr(r->key, '.');
        const char *text = s->sec->base ? r->text(s->sec->base) : NULL;
        zr__buf_printf(out, "%s%s=\"", comma ? "," : "",
                       word ? word + 1 : r->key);
        s_label_value(out, text ? text : "");
        zr__buf_add(out, "\"", 1);
    }
    if (any) {
        zr__buf_add(out, "}", 1);
    }
    s_value(out,
            r->kind == ZR__STAT_TEXT ? 1 : zr__stat_value(r, s->sec->base));
}

/* Every sample of the table, sorted by family. */
static void
s_table(zr__buf_t *out, const zr__devview_t *devs, size_t n,
        const zr_http_t *http)
{
    size_t nsecs = 0, nsamples = 0;
    zr__stat_section_t *secs =
        calloc((n + 1) * ZR__STAT_SECTIONS_MAX, sizeof *secs);
    const char **owner = calloc((n + 1) * ZR__STAT_SECTIONS_MAX, sizeof *owner);
    if (!secs || !owner) {
        out->oom = true;
        free(secs);
        free(owner);
        return;
    }
    for (size_t d = 0; d < n; d++) {
        if (!devs[d].dev) {
            continue;
        }
        size_t k = zr__device_sections(devs[d].dev, secs + nsecs,
                                       ZR__STAT_SECTIONS_MAX);
        for (size_t i = 0; i < k; i++) {
            owner[nsecs + i] = devs[d].name;
            nsamples += secs[nsecs + i].nrows;
        }
        nsecs += k;
    }
    if (http) {
        secs[nsecs] = zr__http_section(http);
        owner[nsecs] = NULL;
        nsamples += secs[nsecs++].nrows;
    }
    s_sample_t *all = calloc(nsamples + 1, sizeof *all);
    if (!all) {
        out->oom = true;
        free(secs);
        free(owner);
        return;
    }
    size_t m = 0;
    for (size_t s = 0; s < nsecs; s++) {
        for (size_t i = 0; i < secs[s].nrows; i++) {
            if (secs[s].rows[i].metric) {
                all[m] = (s_sample_t){owner[s], &secs[s], &secs[s].rows[i], m};
                m++;
            }
        }
    }
    qsort(all, m, sizeof *all, s_sample_cmp);
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && strcmp(all[j].row->metric, all[i].row->metric) == 0) {
            j++;
        }
        zr__buf_printf(out, "# HELP zrelay_%s ", all[i].row->metric);
        s_help_text(out, s_family_help(all + i, j - i));
        zr__buf_printf(out, "\n# TYPE zrelay_%s %s\n", all[i].row->metric,
                       all[i].row->kind == ZR__STAT_COUNTER ? "counter"
                                                            : "gauge");
        for (; i < j; i++) {
            s_sample(out, &all[i]);
        }
    }
    free(all);
    free(secs);
    free(owner);
}

/* Seconds since the epoch when this process started: its start in
 * clock ticks after boot (/proc/self/stat, field 22) plus the boot time
 * (/proc/stat btime). */
static double
s_start_time(void)
{
    static double start;
    if (start > 0) {
        return start;
    }
    char buf[1024];
    unsigned long long ticks = 0, btime = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = 0;
        fclose(f);
        const char *p = strrchr(buf, ')'); /* the name may hold spaces */
        for (int field = 2; p && field < 22; field++) {
            p = strchr(p + 1, ' ');
        }
        if (p) {
            ticks = strtoull(p + 1, NULL, 10);
        }
    }
    f = fopen("/proc/stat", "r");
    while (f && fgets(buf, sizeof buf, f)) {
        if (sscanf(buf, "btime %llu", &btime) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    long hz = sysconf(_SC_CLK_TCK);
    start = btime && hz > 0 ? (double) btime + (double) ticks / (double) hz
                            : (double) time(NULL);
    return start;
}

static double
s_rss_bytes(void)
{
    unsigned long long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &size, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return (double) resident * (double) sysconf(_SC_PAGESIZE);
}

static double
s_cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) {
        return 0;
    }
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_process(zr__buf_t *out, const zr__devview_t *devs, size_t n)
{
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    zr__buf_printf(out, "# HELP zrelay_build_info zrelay's version and the "
                        "libzmq it runs on (always 1).\n"
                        "# TYPE zrelay_build_info gauge\n"
                        "zrelay_build_info{version=\"");
    s_label_value(out, zr_version());
    zr__buf_printf(out, "\",libzmq=\"%d.%d.%d\"} 1\n", major, minor, patch);
    zr__buf_printf(out, "# HELP zrelay_device_up Whether the device runs (1, "
                        "paused too) or is stopped or failed to start (0).\n"
                        "# TYPE zrelay_device_up gauge\n");
    for (size_t i = 0; i < n; i++) {
        zr_stats_t st = {0};
        if (devs[i].dev) {
            zr_device_stats(devs[i].dev, &st);
        }
        zr__buf_add(out, "zrelay_device_up{device=\"", 25);
        s_label_value(out, devs[i].name);
        zr__buf_printf(out, "\",type=\"%s\"} %d\n",
                       devs[i].dev
                           ? zr_device_type_name(zr_device_type(devs[i].dev))
                           : "unknown",
                       st.running ? 1 : 0);
    }
    zr__buf_printf(out, "# HELP process_start_time_seconds Start time of the "
                        "process since the Unix epoch.\n"
                        "# TYPE process_start_time_seconds gauge\n"
                        "process_start_time_seconds");
    s_value(out, s_start_time());
    zr__buf_printf(out, "# HELP process_resident_memory_bytes Resident "
                        "memory size.\n"
                        "# TYPE process_resident_memory_bytes gauge\n"
                        "process_resident_memory_bytes");
    s_value(out, s_rss_bytes());
    zr__buf_printf(out, "# HELP process_cpu_seconds_total User and system "
                        "CPU time spent by the process.\n"
                        "# TYPE process_cpu_seconds_total counter\n"
                        "process_cpu_seconds_total");
    s_value(out, s_cpu_seconds());
}

/* ---------------------------------------------------------------------
 * Health and readiness.
 */
static const char *
s_state(const zr__devview_t *d)
{
    if (!d->dev) {
        return "failed";
    }
    zr_stats_t st;
    zr_device_stats(d->dev, &st);
    return !st.running ? "stopped" : st.paused ? "paused" : "running";
}

/* A health page's answer: 200 and OK_TEXT when no device (BAD of them)
 * is amiss, else 503 and ROOT (its "devices" say which) with STATUS.
 * Takes ROOT. */
static int
s_verdict(cJSON *root, int bad, const char *ok_text, const char *status,
          zr__buf_t *out, const char **type)
{
    if (!bad) {
        cJSON_Delete(root);
        zr__buf_printf(out, "%s\n", ok_text);
        *type = S_TEXT;
        return 200;
    }
    cJSON_AddStringToObject(root, "status", status);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) {
        out->oom = true;
        return 500;
    }
    zr__buf_printf(out, "%s\n", text);
    free(text);
    *type = S_JSON;
    return 503;
}

/* 200 "ok" while every device runs (paused is running); else 503 and the
 * devices that do not. */
static int
s_health(const zr__devview_t *devs, size_t n, zr__buf_t *out, const char **type)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "devices");
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *state = s_state(&devs[i]);
        if (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", devs[i].name);
            cJSON_AddStringToObject(o, "state", state);
            cJSON_AddItemToArray(list, o);
            bad++;
        }
    }
    return s_verdict(root, bad, "ok", "unhealthy", out, type);
}

/* Ready: every device runs, every endpoint bound (true once it opened)
 * and each socket that connects (frontend, backend) made at least as
 * many connections as it has '>' endpoints. */
static int
s_ready(const zr__devview_t *devs, size_t n, zr__buf_t *out, const char **type)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "devices");
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const char *state = s_state(&devs[i]);
        cJSON *waiting = cJSON_CreateArray();
        if (devs[i].dev &&
            (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0)) {
            zr_stats_t st;
            zr_device_stats(devs[i].dev, &st);
            uint64_t need[2] = {0, 0};
            size_t ne = zr_device_endpoint_count(devs[i].dev);
            for (size_t e = 0; e < ne; e++) {
                const char *role, *address;
                bool bind;
                zr_device_endpoint(devs[i].dev, e, &role, &bind, &address);
                int side = strcmp(role, "frontend") == 0  ? 0
                           : strcmp(role, "backend") == 0 ? 1
                                                          : -1;
                if (!bind && side >= 0) {
                    need[side]++;
                }
            }
            const zr_conn_stats_t *c[2] = {&st.frontend.conns,
                                           &st.backend.conns};
            for (size_t e = 0; e < ne; e++) {
                const char *role, *address;
                bool bind;
                zr_device_endpoint(devs[i].dev, e, &role, &bind, &address);
                int side = strcmp(role, "frontend") == 0  ? 0
                           : strcmp(role, "backend") == 0 ? 1
                                                          : -1;
                if (!bind && side >= 0 && c[side]->connected_out < need[side]) {
                    char what[300];
                    snprintf(what, sizeof what, "%s connect %s", role, address);
                    cJSON_AddItemToArray(waiting, cJSON_CreateString(what));
                }
            }
        }
        else {
            cJSON_AddItemToArray(waiting, cJSON_CreateString(state));
        }
        if (cJSON_GetArraySize(waiting) == 0) {
            cJSON_Delete(waiting);
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", devs[i].name);
        cJSON_AddStringToObject(o, "state", state);
        cJSON_AddItemToObject(o, "waiting", waiting);
        cJSON_AddItemToArray(list, o);
        bad++;
    }
    return s_verdict(root, bad, "ready", "not ready", out, type);
}

/* The same object as STATS without a name (ctl.c): {"devices": [...]}. */
static int
s_stats(const zr__devview_t *devs, size_t n, zr__buf_t *out, const char **type)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "devices");
    for (size_t i = 0; i < n; i++) {
        char *one = devs[i].dev ? zr_device_stats_json(devs[i].dev) : NULL;
        cJSON *o = one ? cJSON_Parse(one) : NULL;
        free(one);
        if (o) {
            cJSON_AddItemToArray(list, o);
        }
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) {
        out->oom = true;
        return 500;
    }
    zr__buf_add(out, text, strlen(text));
    zr__buf_add(out, "\n", 1);
    free(text);
    *type = S_JSON;
    return 200;
}

int
zr__metrics_render(const zr__devview_t *devs, size_t n, const zr_http_t *http,
                   zr__page_t page, zr__buf_t *out, const char **type)
{
    switch (page) {
    case ZR__PAGE_METRICS:
        s_process(out, devs, n);
        s_table(out, devs, n, http);
        *type = S_PROM;
        return 200;
    case ZR__PAGE_STATS: return s_stats(devs, n, out, type);
    case ZR__PAGE_HEALTH: return s_health(devs, n, out, type);
    case ZR__PAGE_READY: return s_ready(devs, n, out, type);
    default:
        zr__buf_printf(out, "zrelay %s: /metrics /stats /healthz /readyz\n",
                       zr_version());
        *type = S_TEXT;
        return 200;
    }
}
