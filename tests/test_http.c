/* test_http.c - the Prometheus rendering of the stats table (metrics.c)
 * and docs/METRICS.md, generated from it; the HTTP server in process.
 * The daemon, promtool, Prometheus and hostile clients: test_http.py.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"
#include "zrtest.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

/* Devices with every optional part of the table switched on (as
 * test_stats.c). */
static const char *const s_forwarder_kv[] = {
    "last_value", "true",
    "hold_until", "1",
    "sync",       "@inproc://ht-f-sync",
    "capture",    "@inproc://ht-f-cap",
    "control",    "@inproc://ht-f-ctl",
    NULL};
static const char *const s_lru_kv[] = {"strategy", "lru", NULL};
static const char *const s_rr_kv[] = {"strategy", "rr", NULL};
/* [ha] one node of a pair (its peer need not exist). */
static const char *const s_ha_kv[] = {"ha",      "primary",
                                      "ha_bind", "@inproc://ht-ha-state",
                                      "ha_peer", "inproc://ht-ha-peer",
                                      NULL};

typedef struct {
    void *ctx;
    zr_device_t *devs[8];
    zr__devview_t views[8];
    void *worker; /* a majordomo service's, so its rows show */
    void *peer;   /* [federation] a peer's state flow, likewise */
    size_t n;
    char store[64]; /* the majordomo's Titanic store (its rows show) */
    char ha_store[64]; /* [ha_sync] the pair node's */
} s_set_t;

static void
s_set_new(s_set_t *set)
{
    set->ctx = zmq_ctx_new();
    struct {
        zr_device_type_t type;
        const char *tag;
        const char *const *kv;
    } d[] = {{ZR_STREAMER, "ht-s", NULL},
             {ZR_QUEUE, "ht-rr", s_rr_kv},
             {ZR_QUEUE, "ht-lru", s_lru_kv},
             {ZR_QUEUE, "ht-ha", s_ha_kv},
             {ZR_FORWARDER, "ht-f", s_forwarder_kv}};
    set->n = sizeof d / sizeof d[0];
    for (size_t i = 0; i < set->n; i++) {
        set->devs[i] = zrt_tag_device(set->ctx, d[i].type, d[i].tag, d[i].kv);
        set->views[i] = (zr__devview_t){d[i].tag, set->devs[i]};
    }
    /* A majordomo (one socket) with a service "echo". */
    zr_device_t *mdp = zr_device_new(set->ctx, ZR_MAJORDOMO, "ht-mdp");
    ZR_CHECK(mdp != NULL);
    ZR_PASS(zr_device_set_frontend(mdp, "@inproc://ht-mdp"));
    /* [federation] A peer's state flow (a PUB here): its federation and
     * peers.NAME rows show. */
    void *peer = zrt_socket(set->ctx, ZMQ_PUB);
    ZR_PASS(zmq_bind(peer, "inproc://ht-mdp-peer"));
    ZR_PASS(zr_device_set(mdp, "peers", "inproc://ht-mdp-peer"));
    ZR_PASS(zr_device_set(mdp, "peer_bind", "inproc://ht-mdp-state"));
    snprintf(set->store, sizeof set->store, "/tmp/zrt-http-titanic-XXXXXX");
    ZR_CHECK(mkdtemp(set->store) != NULL);
    ZR_PASS(zr_device_set(mdp, "titanic", set->store));
    ZR_PASS(zr_device_start(mdp));
    set->worker = zrt_socket(set->ctx, ZMQ_DEALER);
    zrt_connect(set->worker, "inproc://ht-mdp");
    ZR_SENDMORE(set->worker, "");
    ZR_SENDMORE(set->worker, "MDPW01");
    ZR_SENDMORE(set->worker, "\x01");
    ZR_SEND(set->worker, "echo");
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    for (;;) {
        /* ["ZRFED01", name, its MDP endpoint, heartbeat ms, (svc, n)*] */
        ZR_SENDMORE(peer, "ZRFED01");
        ZR_SENDMORE(peer, "peer1");
        ZR_SENDMORE(peer, "ipc:///tmp/zrt-ht-mdp-peer1"); /* tcp, ipc only */
        ZR_SEND(peer, "60000");
        char *text = zr_device_stats_json(mdp);
        bool ready = strstr(text, "\"echo\"") != NULL &&
                     strstr(text, "\"peer1\"") != NULL;
        free(text);
        if (ready) {
            break;
        }
        ZR_CHECKF(zrt_now_ms() < end, "the mdp service never showed");
        zmq_poll(NULL, 0, 20);
    }
    set->peer = peer;
    set->devs[set->n] = mdp;
    set->views[set->n] = (zr__devview_t){"ht-mdp", mdp};
    set->n++;
    /* [ha_sync] A majordomo with titanic on a pair (its peer need not
     * exist; not with peers): its ha_sync metrics. */
    zr_device_t *pair = zr_device_new(set->ctx, ZR_MAJORDOMO, "ht-mdp-ha");
    ZR_CHECK(pair != NULL);
    ZR_PASS(zr_device_set_frontend(pair, "@inproc://ht-mdp-ha"));
    snprintf(set->ha_store, sizeof set->ha_store, "/tmp/zrt-http-ha-XXXXXX");
    ZR_CHECK(mkdtemp(set->ha_store) != NULL);
    const char *kv[] = {"titanic",      set->ha_store,
                        "ha",           "primary",
                        "ha_bind",      "@inproc://ht-mdp-ha-state",
                        "ha_peer",      "inproc://ht-mdp-ha-peer",
                        "ha_sync_bind", "@inproc://ht-mdp-ha-sync",
                        "ha_sync_peer", "inproc://ht-mdp-ha-sync-peer",
                        NULL};
    for (const char **k = kv; *k; k += 2) {
        ZR_PASS(zr_device_set(pair, k[0], k[1]));
    }
    ZR_PASS(zr_device_start(pair));
    set->devs[set->n] = pair;
    set->views[set->n] = (zr__devview_t){"ht-mdp-ha", pair};
    set->n++;
}

static void
s_set_destroy(s_set_t *set)
{
    zmq_close(set->worker);
    zmq_close(set->peer);
    for (size_t i = 0; i < set->n; i++) {
        zr_device_destroy(&set->devs[i]);
    }
    zmq_ctx_term(set->ctx);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", set->store, set->ha_store);
    ZR_CHECK(system(cmd) == 0);
}

static char *
s_render(const zr__devview_t *views, size_t n, const zr_http_t *http,
         zr__page_t page, int *status)
{
    zr__buf_t out = {0};
    const char *type = NULL;
    *status = zr__metrics_render(views, n, http, page, &out, &type);
    ZR_CHECK(!out.oom && out.data && type);
    return out.data;
}

/* `promtool check metrics` (Debian's prometheus) has nothing to say
 * about TEXT; where it is missing test_http.py says so (skipped). */
static void
s_promtool(const char *text)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        printf("     promtool not installed: not linted here\n");
        return;
    }
    char in[] = "/tmp/zrt-http-XXXXXX";
    int fd = mkstemp(in);
    ZR_CHECK(fd >= 0);
    ZR_CHECK(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
    close(fd);
    char cmd[256], said[4096] = "";
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", in);
    FILE *p = popen(cmd, "r");
    ZR_CHECK(p != NULL);
    size_t n = fread(said, 1, sizeof said - 1, p);
    said[n] = 0;
    int rc = pclose(p);
    unlink(in);
    ZR_CHECKF(rc == 0 && n == 0, "promtool check metrics (exit %d): %s", rc,
              said);
    printf("     promtool check metrics: nothing to say\n");
}

/* Each family's # HELP and # TYPE once, before its samples, which are
 * together; no series twice; every name well-formed. */
static void
test_families(void)
{
    s_set_t set;
    s_set_new(&set);
    int status;
    char *text = s_render(set.views, set.n, NULL, ZR__PAGE_METRICS, &status);
    ZR_EQ(status, 200);
    s_promtool(text);
    char done[512][96], current[96] = "";
    size_t ndone = 0, nlines = 0;
    char *save = NULL;
    char **series = calloc(4096, sizeof *series);
    size_t nseries = 0;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), nlines++) {
        char name[96];
        if (strncmp(line, "# HELP ", 7) == 0) {
            ZR_CHECK(sscanf(line + 7, "%95s", name) == 1);
            for (size_t i = 0; i < ndone; i++) {
                ZR_CHECKF(strcmp(done[i], name) != 0, "%s: two HELP lines",
                          name);
            }
            ZR_CHECK(ndone < 512);
            snprintf(done[ndone++], sizeof done[0], "%s", name);
            snprintf(current, sizeof current, "%s", name);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char kind[32];
            ZR_CHECK(sscanf(line + 7, "%95s %31s", name, kind) == 2);
            ZR_CHECKF(strcmp(name, current) == 0, "%s: TYPE without HELP",
                      name);
            ZR_CHECKF(strcmp(kind, "counter") == 0 ||
                          strcmp(kind, "gauge") == 0,
                      "%s: type %s", name, kind);
            size_t len = strlen(name);
            bool total = len > 6 && strcmp(name + len - 6, "_total") == 0;
            ZR_CHECKF(total == (strcmp(kind, "counter") == 0),
                      "%s: counters and only counters end in _total", name);
            continue;
        }
        size_t len = strcspn(line, "{ ");
        ZR_CHECKF(len == strlen(current) && strncmp(line, current, len) == 0,
                  "sample '%s' outside its family %s", line, current);
        for (const char *c = line; c < line + len; c++) {
            ZR_CHECKF(islower((unsigned char) *c) ||
                          isdigit((unsigned char) *c) || *c == '_',
                      "name in '%s'", line);
        }
        const char *sp = strrchr(line, ' ');
        size_t klen = (size_t) (sp - line);
        for (size_t i = 0; i < nseries; i++) {
            ZR_CHECKF(strlen(series[i]) != klen ||
                          strncmp(series[i], line, klen) != 0,
                      "series twice: %s", line);
        }
        ZR_CHECK(nseries < 4096);
        series[nseries++] = strndup(line, klen);
    }
    printf("     %zu lines, %zu families, %zu series\n", nlines, ndone,
           nseries);
    ZR_CHECK(ndone > 40);
    for (size_t i = 0; i < nseries; i++) {
        free(series[i]);
    }
    free(series);
    free(text);
    s_set_destroy(&set);
}

/* A device name with a quote, a backslash and a newline is escaped in
 * its label; STATS and health carry it as JSON. */
static void
test_escaping(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zr_device_new(ctx, ZR_STREAMER, "ht-esc");
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, "@inproc://ht-esc-f"));
    ZR_PASS(zr_device_set_backend(dev, "@inproc://ht-esc-b"));
    ZR_PASS(zr_device_start(dev));
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.running, ZRT_DEADLINE_MS);
    zr__devview_t view = {"a\"b\\c\nd", dev};
    int status;
    char *text = s_render(&view, 1, NULL, ZR__PAGE_METRICS, &status);
    ZR_CHECKF(strstr(text, "zrelay_device_up{device=\"a\\\"b\\\\c\\nd\","
                           "type=\"streamer\"} 1\n") != NULL,
              "%.400s", text);
    ZR_CHECK(strstr(text, "device=\"a\\\"b\\\\c\\nd\",socket=\"frontend\"") !=
             NULL);
    free(text);
    zr__devview_t failed = {"gone\"", NULL};
    zr__devview_t two[2] = {view, failed};
    text = s_render(two, 2, NULL, ZR__PAGE_HEALTH, &status);
    ZR_EQ(status, 503);
    ZR_CHECKF(strcmp(text, "{\"devices\":[{\"name\":\"gone\\\"\",\"state\":"
                           "\"failed\"}],\"status\":\"unhealthy\"}\n") == 0,
              "%s", text);
    free(text);
    text = s_render(&view, 1, NULL, ZR__PAGE_HEALTH, &status);
    ZR_EQ(status, 200);
    ZR_CHECK(strcmp(text, "ok\n") == 0);
    free(text);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* ---------------------------------------------------------------------
 * docs/METRICS.md: every family, generated.
 */
typedef struct {
    char name[96], kind[16], labels[160], help[600];
    char values[2048]; /* "`reason=\"x\"`: help" per row of its own label */
} s_family_t;

static s_family_t *
s_family(s_family_t *all, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(all[i].name, name) == 0) {
            return &all[i];
        }
    }
    ZR_CHECK(*n < 256);
    memset(&all[*n], 0, sizeof all[0]);
    snprintf(all[*n].name, sizeof all[0].name, "%s", name);
    return &all[(*n)++];
}

/* Label NAMES of the sample LINE ("a, b"), values aside. */
static void
s_label_names(const char *line, char *out, size_t len)
{
    out[0] = 0;
    const char *p = strchr(line, '{');
    while (p && *p && *p != '}') {
        p++;
        size_t n = strcspn(p, "=");
        size_t at = strlen(out);
        snprintf(out + at, len - at, "%s%.*s", at ? ", " : "", (int) n, p);
        p += n + 2; /* past =" */
        while (*p && *p != '"') {
            p += *p == '\\' ? 2 : 1;
        }
        p++; /* past the closing quote: ',' or '}' */
    }
}

#define S_BEGIN "<!-- metrics: generated by tests/test_http.c -->\n"
#define S_END "<!-- end of metrics -->\n"

static void
test_metrics_doc(void)
{
    s_set_t set;
    s_set_new(&set);
    char err[256];
    zr_http_t *http = zr_http_new(set.devs[0], "127.0.0.1:0", err, sizeof err);
    ZR_CHECKF(http != NULL, "%s", err);
    int status;
    char *text = s_render(set.views, set.n, http, ZR__PAGE_METRICS, &status);
    s_family_t *fams = calloc(256, sizeof *fams);
    size_t nfams = 0;
    s_family_t *f = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char name[96];
        if (strncmp(line, "# HELP ", 7) == 0) {
            sscanf(line + 7, "%95s", name);
            f = s_family(fams, &nfams, name);
            snprintf(f->help, sizeof f->help, "%s",
                     line + 7 + strlen(name) + 1);
        }
        else if (strncmp(line, "# TYPE ", 7) == 0) {
            sscanf(line + 7, "%95s %15s", name, f->kind);
        }
        else if (!f->labels[0] && strchr(line, '{')) {
            s_label_names(line, f->labels, sizeof f->labels);
        }
    }
    free(text);
    /* The rows with labels of their own: what each value means. */
    for (size_t d = 0; d < set.n; d++) {
        zr__stat_section_t secs[ZR__STAT_SECTIONS_MAX];
        size_t n =
            zr__device_sections(set.devs[d], secs, ZR__STAT_SECTIONS_MAX);
        ZR_CHECK(n < ZR__STAT_SECTIONS_MAX);
        secs[n++] = zr__http_section(http);
        for (size_t s = 0; s < n; s++) {
            for (size_t i = 0; i < secs[s].nrows; i++) {
                const zr__stat_t *r = &secs[s].rows[i];
                char name[96];
                snprintf(name, sizeof name, "zrelay_%s",
                         r->metric ? r->metric : "");
                if (!r->metric) {
                    continue;
                }
                s_family_t *g = s_family(fams, &nfams, name);
                char one[700];
                snprintf(one, sizeof one, "<br>`%s`: %s",
                         r->labels ? r->labels : "", r->help);
                if (r->labels && !strstr(g->values, one)) {
                    size_t at = strlen(g->values);
                    snprintf(g->values + at, sizeof g->values - at, "%s", one);
                }
            }
        }
    }
    zr_http_destroy(&http);
    s_set_destroy(&set);
    zr__buf_t doc = {0};
    zr__buf_printf(&doc, "| metric | type | labels | meaning |\n"
                         "|---|---|---|---|\n");
    for (size_t i = 0; i < nfams; i++) {
        ZR_CHECKF(fams[i].kind[0], "%s: in the table, not rendered",
                  fams[i].name);
        /* Rows saying different things: the family needs its own help
         * (metrics.c, s_families), not the first row's. */
        char mine[700];
        snprintf(mine, sizeof mine, "`: %s<br>", fams[i].help);
        char values[2100];
        snprintf(values, sizeof values, "%s<br>", fams[i].values);
        const char *first = strstr(values, "<br>`");
        ZR_CHECKF(!first || !strstr(first + 4, "<br>`") ||
                      !strstr(values, mine),
                  "%s: its rows' help differ, and the family's help is one "
                  "of them: give it its own in metrics.c",
                  fams[i].name);
        zr__buf_printf(&doc, "| `%s` | %s | %s | %s%s |\n", fams[i].name,
                       fams[i].kind, fams[i].labels[0] ? fams[i].labels : "",
                       fams[i].help, fams[i].values);
    }
    free(fams);
    const char *path = ZR_SOURCE_DIR "/docs/METRICS.md";
    FILE *in = fopen(path, "rb");
    ZR_CHECKF(in != NULL, "cannot open %s", path);
    char *docs = calloc(1, 1 << 20);
    size_t len = fread(docs, 1, (1 << 20) - 1, in);
    fclose(in);
    docs[len] = 0;
    char *begin = strstr(docs, S_BEGIN), *end = strstr(docs, S_END);
    ZR_CHECKF(begin && end && end > begin, "%s: no generated section", path);
    begin += strlen(S_BEGIN);
    bool same = (size_t) (end - begin) == doc.len &&
                memcmp(begin, doc.data, doc.len) == 0;
    if (!same && getenv("ZRT_WRITE_DOCS")) {
        FILE *out = fopen(path, "wb");
        ZR_CHECK(out != NULL);
        fwrite(docs, 1, (size_t) (begin - docs), out);
        fwrite(doc.data, 1, doc.len, out);
        fputs(end, out);
        fclose(out);
        printf("     wrote the metrics into %s\n", path);
        same = true;
    }
    free(docs);
    free(doc.data);
    ZR_CHECKF(same, "docs/METRICS.md's list of metrics differs from what "
                    "/metrics renders; run ZRT_WRITE_DOCS=1 tests/test_http "
                    "and review the diff");
}

/* ---------------------------------------------------------------------
 * The server, in process: one device's pages.
 */
static int
s_get(int port, const char *request, char *reply, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ZR_PASS(connect(fd, (struct sockaddr *) &sa, sizeof sa));
    ZR_CHECK(write(fd, request, strlen(request)) == (ssize_t) strlen(request));
    size_t got = 0;
    ssize_t n;
    while (got + 1 < len && (n = read(fd, reply + got, len - 1 - got)) > 0) {
        got += (size_t) n;
    }
    reply[got] = 0;
    close(fd);
    int status = 0;
    sscanf(reply, "HTTP/1.%*d %d", &status);
    return status;
}

static void
test_server(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_STREAMER, "ht-srv", NULL);
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.running, ZRT_DEADLINE_MS);
    char err[256];
    ZR_CHECK(zr_http_new(dev, "127.0.0.1", err, sizeof err) == NULL);
    ZR_EQ(errno, EINVAL);
    ZR_CHECKF(strstr(err, "'127.0.0.1' is not ADDRESS:PORT") != NULL, "%s",
              err);
    ZR_CHECK(zr_http_new(dev, "nohost:1", err, sizeof err) == NULL);
    ZR_CHECK(zr_http_new(dev, "127.0.0.1:70000", err, sizeof err) == NULL);
    zr_http_t *http = zr_http_new(dev, "127.0.0.1:0", err, sizeof err);
    ZR_CHECKF(http != NULL, "%s", err);
    int port = 0;
    ZR_CHECK(sscanf(zr_http_url(http), "http://127.0.0.1:%d/", &port) == 1);
    /* The same port again: refused, naming it. */
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%d", port);
    ZR_CHECK(zr_http_new(dev, spec, err, sizeof err) == NULL);
    ZR_EQ(errno, EADDRINUSE);
    ZR_CHECKF(strstr(err, "http: cannot bind 127.0.0.1:") != NULL, "%s", err);
    char *reply = malloc(1 << 20);
    ZR_EQ(s_get(port, "GET /metrics HTTP/1.0\r\n\r\n", reply, 1 << 20), 200);
    ZR_CHECK(strstr(reply, "Content-Type: text/plain; version=0.0.4") != NULL);
    ZR_CHECK(strstr(reply, "\r\nzrelay_build_info{version=") ||
             strstr(reply, "\n# HELP zrelay_build_info"));
    ZR_EQ(s_get(port, "GET /healthz HTTP/1.0\r\n\r\n", reply, 1 << 20), 200);
    ZR_CHECK(strstr(reply, "\r\n\r\nok\n") != NULL);
    ZR_EQ(s_get(port, "GET /readyz HTTP/1.0\r\n\r\n", reply, 1 << 20), 200);
    ZR_EQ(s_get(port, "GET /stats HTTP/1.0\r\n\r\n", reply, 1 << 20), 200);
    ZR_CHECK(strstr(reply, "{\"devices\":[{\"name\":\"ht-srv\"") != NULL);
    ZR_EQ(s_get(port, "GET /nope HTTP/1.0\r\n\r\n", reply, 1 << 20), 404);
    ZR_EQ(s_get(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
                reply, 1 << 20),
          405);
    ZR_CHECK(strstr(reply, "Allow: GET, HEAD") != NULL);
    /* Two requests on one connection (keep-alive, as Prometheus scrapes):
     * both answered. */
    ZR_EQ(s_get(port,
                "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close"
                "\r\n\r\n",
                reply, 1 << 20),
          200);
    const char *second = strstr(reply + 1, "HTTP/1.1 200 OK");
    ZR_CHECKF(second != NULL && strstr(reply, "Connection: close") > second,
              "a kept-alive connection answers twice: %s", reply);
    /* Stopped: unhealthy. */
    zr_device_stop(dev);
    zr_device_join(dev);
    ZR_EQ(s_get(port, "GET /healthz HTTP/1.0\r\n\r\n", reply, 1 << 20), 503);
    ZR_CHECK(strstr(reply, "{\"devices\":[{\"name\":\"ht-srv\",\"state\":"
                           "\"stopped\"}]") != NULL);
    ZR_EQ(s_get(port, "GET /readyz HTTP/1.0\r\n\r\n", reply, 1 << 20), 503);
    free(reply);
    zr_http_destroy(&http);
    zr_http_destroy(&http); /* NULL: nothing */
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* A GET that carries a body (Content-Length or chunked, as some health
 * checkers and proxies send): the body is read and ignored and the page
 * served, and the connection goes on to the next request. Before, the
 * answer was queued while the body was still unread, libmicrohttpd
 * refused it ("Application reported internal error") and closed the
 * connection with no answer at all, counted as a 200. */
static void
test_get_body(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_STREAMER, "ht-body", NULL);
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.running, ZRT_DEADLINE_MS);
    char err[256];
    zr_http_t *http = zr_http_new(dev, "127.0.0.1:0", err, sizeof err);
    ZR_CHECKF(http != NULL, "%s", err);
    int port = 0;
    ZR_CHECK(sscanf(zr_http_url(http), "http://127.0.0.1:%d/", &port) == 1);
    char *reply = malloc(1 << 20);
    ZR_EQ(s_get(port,
                "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                "Connection: close\r\n\r\nhello",
                reply, 1 << 20),
          200);
    ZR_CHECKF(strstr(reply, "\r\n\r\nok\n") != NULL, "%s", reply);
    ZR_EQ(s_get(port,
                "GET /healthz HTTP/1.1\r\nHost: t\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                "5\r\nhello\r\n0\r\n\r\n",
                reply, 1 << 20),
          200);
    /* The body read, the next request on the connection answered. */
    ZR_EQ(s_get(port,
                "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                "\r\nhelloGET /readyz HTTP/1.1\r\nHost: t\r\n"
                "Connection: close\r\n\r\n",
                reply, 1 << 20),
          200);
    ZR_CHECKF(strstr(reply, "\r\n\r\nready\n") != NULL,
              "no answer to the request after a body: %s", reply);
    free(reply);
    zr_http_destroy(&http);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

/* The 404 says which path was asked, and that path is the client's: an
 * escape sequence in it (%1b decoded by libmicrohttpd) reached the
 * terminal of whoever curls a crafted link. Shown as \xNN; every page
 * says nosniff, so no browser takes the echo for HTML. */
static void
test_not_found_echo(void)
{
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zrt_tag_device(ctx, ZR_STREAMER, "ht-echo", NULL);
    zr_stats_t st;
    ZR_WAIT_STATS(dev, st, st.running, ZRT_DEADLINE_MS);
    char err[256];
    zr_http_t *http = zr_http_new(dev, "127.0.0.1:0", err, sizeof err);
    ZR_CHECKF(http != NULL, "%s", err);
    int port = 0;
    ZR_CHECK(sscanf(zr_http_url(http), "http://127.0.0.1:%d/", &port) == 1);
    char *reply = malloc(1 << 16);
    ZR_EQ(s_get(port,
                "GET /%1b]0;PWNED%07%1b[2J%7f%c2%9b<b> "
                "HTTP/1.0\r\n\r\n",
                reply, 1 << 16),
          404);
    ZR_CHECKF(strstr(reply, "not found: /\\x1b]0;PWNED\\x07"
                            "\\x1b[2J\\x7f\\xc2\\x9b<b>") != NULL,
              "%s", reply);
    for (const char *p = reply; *p; p++) {
        ZR_CHECKF((unsigned char) *p >= 0x20 || *p == '\r' || *p == '\n',
                  "a control character 0x%02x in: %s", *p, reply);
    }
    ZR_CHECKF(strstr(reply, "X-Content-Type-Options: nosniff") != NULL, "%s",
              reply);
    free(reply);
    zr_http_destroy(&http);
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"/metrics: families once, grouped, well-formed", test_families},
    {"labels and JSON escaped", test_escaping},
    {"docs/METRICS.md is what /metrics renders", test_metrics_doc},
    {"the server: pages, 404, 405, a taken port", test_server},
    {"the server: a GET with a body is answered", test_get_body},
    {"the server: a 404 echoes no control character", test_not_found_echo},
    {NULL, NULL},
};
ZR_MAIN
