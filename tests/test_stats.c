/* test_stats.c - the stats table: every row well-formed, in STATS, in
 * docs/CONTROL.md, one Prometheus series each; STATISTICS from it.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"
#include "zrtest.h"

#include <ctype.h>
#include <stdarg.h>

/* Devices with every optional part of the table switched on. */
static const char *const s_forwarder_kv[] = {
    "last_value", "true",
    "hold_until", "1",
    "sync",       "@inproc://st-f-sync",
    "capture",    "@inproc://st-f-cap",
    "control",    "@inproc://st-f-ctl",
    NULL};
static const char *const s_lru_kv[] = {"strategy", "lru", NULL};
static const char *const s_rr_kv[] = {"strategy", "rr", NULL};
/* [ha] one node of a pair (its peer need not exist). */
static const char *const s_ha_kv[] = {"ha",      "primary",
                                      "ha_bind", "@inproc://st-ha-state",
                                      "ha_peer", "inproc://st-ha-peer",
                                      NULL};

static char *
s_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ZR_CHECKF(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t) n + 1);
    ZR_CHECK(fread(text, 1, (size_t) n, f) == (size_t) n);
    text[n] = 0;
    fclose(f);
    return text;
}

static bool
s_metric_name(const char *m)
{
    if (!m || !*m || !(islower((unsigned char) *m) || *m == '_')) {
        return false;
    }
    for (; *m; m++) {
        if (!islower((unsigned char) *m) && !isdigit((unsigned char) *m) &&
            *m != '_') {
            return false;
        }
    }
    return true;
}

static bool
s_ends_with(const char *s, const char *end)
{
    size_t a = strlen(s), b = strlen(end);
    return a >= b && strcmp(s + a - b, end) == 0;
}

/* The JSON value at "a.b.c" under ROOT. */
static cJSON *
s_at(cJSON *root, const char *path)
{
    char buf[160];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *o = root;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o;
         k = strtok_r(NULL, ".", &save)) {
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    }
    return o;
}

/* The reference list of docs/CONTROL.md, rendered from the table. */
typedef struct {
    char *text;
    size_t len, cap;
    char seen[256][160];
    size_t nseen;
} s_doc_t;

static void s_docf(s_doc_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_docf(s_doc_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (d->len + (size_t) n + 1 > d->cap) {
        d->cap = (d->len + (size_t) n + 1) * 2;
        d->text = realloc(d->text, d->cap);
    }
    va_start(ap, fmt);
    vsnprintf(d->text + d->len, d->cap - d->len, fmt, ap);
    va_end(ap);
    d->len += (size_t) n;
}

static const char *
s_kind(zr__stat_kind_t k)
{
    return k == ZR__STAT_COUNTER ? "counter"
           : k == ZR__STAT_GAUGE ? "gauge"
           : k == ZR__STAT_FLAG  ? "flag"
                                 : "text";
}

/* One line per row, once: frontend and backend rows as SIDE. */
static void
s_doc_row(s_doc_t *d, const zr__stat_section_t *sec, const zr__stat_t *r)
{
    bool side = strncmp(sec->path, "frontend", 8) == 0 ||
                strncmp(sec->path, "backend", 7) == 0;
    bool service = strncmp(sec->path, "services.", 9) == 0;
    bool peer = strncmp(sec->path, "peers.", 6) == 0; /* [federation] */
    const char *rest = side ? strchr(sec->path, '.') : NULL;
    char path[160];
    snprintf(path, sizeof path, "%s%s%s%s",
             side      ? "SIDE"
             : service ? "services.SERVICE"
             : peer    ? "peers.PEER"
                       : sec->path,
             side && rest ? rest : "", *sec->path ? "." : "", r->key);
    for (size_t i = 0; i < d->nseen; i++) {
        if (strcmp(d->seen[i], path) == 0) {
            return;
        }
    }
    snprintf(d->seen[d->nseen++], sizeof d->seen[0], "%s", path);
    char metric[200] = "(STATS only)";
    if (r->metric) {
        const char *labels = side      ? "socket"
                             : service ? "service"
                             : peer    ? "peer"
                                       : sec->labels;
        snprintf(metric, sizeof metric, "`zrelay_%s`%s%s%s%s%s", r->metric,
                 labels || r->labels ? " {" : "", labels ? labels : "",
                 labels && r->labels ? ", " : "", r->labels ? r->labels : "",
                 labels || r->labels ? "}" : "");
    }
    s_docf(d, "| `%s` | %s | %s | %s |\n", path, s_kind(r->kind), metric,
           r->help);
}

/* Check every row of DEV's sections; add them to DOC; return how many. */
static size_t
s_check_device(zr_device_t *dev, s_doc_t *doc)
{
    zr__stat_section_t secs[ZR__STAT_SECTIONS_MAX];
    size_t n = zr__device_sections(dev, secs, ZR__STAT_SECTIONS_MAX);
    ZR_CHECK(n > 0 && n < ZR__STAT_SECTIONS_MAX);
    char *text = zr_device_stats_json(dev);
    cJSON *json = cJSON_Parse(text);
    free(text);
    ZR_CHECK(json != NULL);
    char series[256][160];
    size_t nseries = 0, rows = 0;
    for (size_t s = 0; s < n; s++) {
        for (size_t i = 0; i < secs[s].nrows; i++, rows++) {
            const zr__stat_t *r = &secs[s].rows[i];
            char path[160];
            snprintf(path, sizeof path, "%s%s%s", secs[s].path,
                     *secs[s].path ? "." : "", r->key);
            ZR_CHECKF(r->help && strlen(r->help) > 10 &&
                          s_ends_with(r->help, "."),
                      "%s: help must be a sentence", path);
            ZR_CHECKF(s_at(json, path) != NULL, "%s: not in STATS", path);
            s_doc_row(doc, &secs[s], r);
            if (!r->metric) {
                continue; /* a view of other rows, in STATS only */
            }
            ZR_CHECKF(s_metric_name(r->metric), "%s: metric name '%s'", path,
                      r->metric);
            ZR_CHECKF((r->kind == ZR__STAT_COUNTER) ==
                          s_ends_with(r->metric, "_total"),
                      "%s: %s: counters and only counters end in _total", path,
                      r->metric);
            ZR_CHECK(nseries < 256);
            snprintf(series[nseries], sizeof series[0], "%s{%s,%s}", r->metric,
                     secs[s].labels ? secs[s].labels : "",
                     r->labels ? r->labels : "");
            for (size_t k = 0; k < nseries; k++) {
                ZR_CHECKF(strcmp(series[k], series[nseries]) != 0,
                          "%s: the series %s twice", path, series[k]);
            }
            nseries++;
        }
    }
    cJSON_Delete(json);
    return rows;
}

#define S_BEGIN "<!-- counters: generated by tests/test_stats.c -->\n"
#define S_END "<!-- end of counters -->\n"

/* docs/CONTROL.md's list must be what the table says; ZRT_WRITE_DOCS=1
 * writes it there. */
static void
s_check_docs(const s_doc_t *doc)
{
    const char *path = ZR_SOURCE_DIR "/docs/CONTROL.md";
    char *docs = s_read_file(path);
    char *begin = strstr(docs, S_BEGIN), *end = strstr(docs, S_END);
    ZR_CHECKF(begin && end && end > begin, "%s: no counters section", path);
    begin += strlen(S_BEGIN);
    bool same = (size_t) (end - begin) == doc->len &&
                memcmp(begin, doc->text, doc->len) == 0;
    if (!same && getenv("ZRT_WRITE_DOCS")) {
        FILE *f = fopen(path, "wb");
        ZR_CHECK(f != NULL);
        fwrite(docs, 1, (size_t) (begin - docs), f);
        fwrite(doc->text, 1, doc->len, f);
        fputs(end, f);
        fclose(f);
        printf("     wrote the counters into %s\n", path);
        same = true;
    }
    free(docs);
    ZR_CHECKF(same,
              "docs/CONTROL.md's list of counters differs from the table; "
              "run ZRT_WRITE_DOCS=1 tests/test_stats and review the diff");
}

static void
test_rows(void)
{
    s_doc_t doc = {0};
    s_docf(&doc, "| STATS key | kind | metric | what it is |\n"
                 "|---|---|---|---|\n");
    void *ctx = zmq_ctx_new();
    struct {
        zr_device_type_t type;
        const char *tag;
        const char *const *kv;
    } devices[] = {{ZR_STREAMER, "st-s", NULL},
                   {ZR_QUEUE, "st-rr", s_rr_kv},
                   {ZR_QUEUE, "st-lru", s_lru_kv},
                   {ZR_QUEUE, "st-ha", s_ha_kv},
                   {ZR_FORWARDER, "st-f", s_forwarder_kv}};
    for (size_t i = 0; i < sizeof devices / sizeof devices[0]; i++) {
        zr_device_t *dev =
            zrt_tag_device(ctx, devices[i].type, devices[i].tag, devices[i].kv);
        size_t rows = s_check_device(dev, &doc);
        printf("     %s: %zu rows\n", devices[i].tag, rows);
        zr_device_destroy(&dev);
    }
    /* A majordomo (one socket), with a service: its per-service rows
     * exist once a worker says READY. */
    zr_device_t *mdp = zr_device_new(ctx, ZR_MAJORDOMO, "st-mdp");
    ZR_CHECK(mdp != NULL);
    ZR_PASS(zr_device_set_frontend(mdp, "@inproc://st-mdp"));
    /* [federation] A peer's state flow (a PUB here): its federation and
     * peers.NAME rows show. */
    void *peer = zrt_socket(ctx, ZMQ_PUB);
    ZR_PASS(zmq_bind(peer, "inproc://st-mdp-peer"));
    ZR_PASS(zr_device_set(mdp, "peers", "inproc://st-mdp-peer"));
    ZR_PASS(zr_device_set(mdp, "peer_bind", "inproc://st-mdp-state"));
    /* With Titanic on a store of its own: its "titanic" rows. */
    char store[] = "/tmp/zrt-stats-titanic-XXXXXX";
    ZR_CHECK(mkdtemp(store) != NULL);
    ZR_PASS(zr_device_set(mdp, "titanic", store));
    ZR_PASS(zr_device_start(mdp));
    void *worker = zrt_socket(ctx, ZMQ_DEALER);
    zrt_connect(worker, "inproc://st-mdp");
    ZR_SENDMORE(worker, "");
    ZR_SENDMORE(worker, "MDPW01");
    ZR_SENDMORE(worker, "\x01");
    ZR_SEND(worker, "echo");
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    for (;;) {
        /* ["ZRFED01", name, its MDP endpoint, heartbeat ms, (svc, n)*] */
        ZR_SENDMORE(peer, "ZRFED01");
        ZR_SENDMORE(peer, "peer1");
        ZR_SENDMORE(peer, "ipc:///tmp/zrt-st-mdp-peer1"); /* tcp, ipc only */
        ZR_SEND(peer, "60000");
        char *text = zr_device_stats_json(mdp);
        bool ready = strstr(text, "\"echo\"") != NULL &&
                     strstr(text, "\"peer1\"") != NULL;
        free(text);
        if (ready) {
            break;
        }
        ZR_CHECKF(zrt_now_ms() < end, "the service never showed in STATS");
        zmq_poll(NULL, 0, 20);
    }
    printf("     st-mdp: %zu rows\n", s_check_device(mdp, &doc));
    /* [ha_sync] With titanic on a pair (its peer need not exist; not
     * with peers): the "ha_sync" rows. */
    char ha_store[] = "/tmp/zrt-stats-ha-XXXXXX";
    ZR_CHECK(mkdtemp(ha_store) != NULL);
    zr_device_t *pair = zr_device_new(ctx, ZR_MAJORDOMO, "st-mdp-ha");
    ZR_PASS(zr_device_set_frontend(pair, "@inproc://st-mdp-ha"));
    const char *kv[] = {"titanic",      ha_store,
                        "ha",           "primary",
                        "ha_bind",      "@inproc://st-mdp-ha-state",
                        "ha_peer",      "inproc://st-mdp-ha-peer",
                        "ha_sync_bind", "@inproc://st-mdp-ha-sync",
                        "ha_sync_peer", "inproc://st-mdp-ha-sync-peer",
                        NULL};
    for (const char **k = kv; *k; k += 2) {
        ZR_PASS(zr_device_set(pair, k[0], k[1]));
    }
    ZR_PASS(zr_device_start(pair));
    printf("     st-mdp-ha: %zu rows\n", s_check_device(pair, &doc));
    zr_device_destroy(&pair);
    zmq_close(worker);
    zmq_close(peer);
    zr_device_destroy(&mdp);
    zmq_ctx_term(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", store, ha_store);
    ZR_CHECK(system(cmd) == 0);
    s_check_docs(&doc);
    free(doc.text);
}

/* STATISTICS (libzmq's 8 values) comes from the table and says what the
 * counters say. */
static void
test_statistics(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_STREAMER, "st-x", NULL);
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(push, "inproc://st-x-front");
    zrt_connect(pull, "inproc://st-x-back");
    for (int i = 0; i < 5; i++) {
        ZR_SEND(push, "hello");
        ZR_RECV(pull, "hello");
    }
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.backend.msgs_out == 5, ZRT_DEADLINE_MS);
    zr__stat_section_t secs[ZR__STAT_SECTIONS_MAX];
    size_t n = zr__device_sections(dev, secs, ZR__STAT_SECTIONS_MAX);
    uint64_t v[8];
    zr__stats_statistics(secs, n, v);
    uint64_t want[8] = {st.frontend.msgs_in,  st.frontend.bytes_in,
                        st.frontend.msgs_out, st.frontend.bytes_out,
                        st.backend.msgs_in,   st.backend.bytes_in,
                        st.backend.msgs_out,  st.backend.bytes_out};
    for (int i = 0; i < 8; i++) {
        ZR_EQ(v[i], want[i]);
    }
    ZR_EQ(v[0], 5);
    ZR_EQ(v[1], 25);
    zr_device_destroy(&dev);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"every row: help, metric name, in STATS and in the docs", test_rows},
    {"STATISTICS comes from the table", test_statistics},
    {NULL, NULL},
};
ZR_MAIN
