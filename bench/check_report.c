/* check_report.c - is a zrelay-bench --json report well-formed? Every
 * contender ran for every case it belongs to, no run failed, every field
 * is there and finite where it must be. No speed threshold: that is the
 * benchmark's business, not a test's.
 * SPDX-License-Identifier: MIT
 *
 * usage: zrelay-bench-check [--quick] REPORT.json
 *   --quick  also require that the run covered every pattern, transport
 *            and contender (what --quick promises)
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_problems;
static char s_where[160];

static void
s_bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "zrelay-bench-check: %s: ", s_where);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    s_problems++;
}

static const char *const s_patterns[] = {
    "streamer",   "forwarder-1", "forwarder-4", "forwarder-gate", "reqrep",
    "reqrep-lru", "dealer",      "dealer-lru",  "stall"};
enum {
    P_STREAMER,
    P_FORWARD1,
    P_FORWARD4,
    P_FWD_GATE,
    P_REQREP,
    P_REQREP_LRU,
    P_DEALER,
    P_DEALER_LRU,
    P_STALL
};
static const char *const s_transports[] = {"tcp", "ipc", "inproc"};
static const char *const s_contenders[] = {"direct", "zmq_proxy-thread",
                                           "zrelay-thread", "zmq_proxy-process",
                                           "zrelay-process"};
#define S_NP 9
#define S_NT 3
#define S_NC 5

static int
s_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static const cJSON *
s_get(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        s_bad("no field '%s'", key);
    }
    return v;
}

/* A number, finite, >= MIN; false (and a problem) otherwise. */
static bool
s_num(const cJSON *o, const char *key, double min, double *out)
{
    const cJSON *v = s_get(o, key);
    if (!v) {
        return false;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        s_bad("'%s' is not a finite number", key);
        return false;
    }
    if (v->valuedouble < min) {
        s_bad("'%s' is %g, below %g", key, v->valuedouble, min);
        return false;
    }
    if (out) {
        *out = v->valuedouble;
    }
    return true;
}

static void
s_null(const cJSON *o, const char *key)
{
    const cJSON *v = s_get(o, key);
    if (v && !cJSON_IsNull(v)) {
        s_bad("'%s' should be null here", key);
    }
}

static void
s_stats(const cJSON *o, const char *key)
{
    const cJSON *s = s_get(o, key);
    if (!s) {
        return;
    }
    if (!cJSON_IsObject(s)) {
        s_bad("'%s' is not an object", key);
        return;
    }
    double med, min, max;
    if (s_num(s, "median", 1e-12, &med) && s_num(s, "min", 1e-12, &min) &&
        s_num(s, "max", 1e-12, &max) &&
        !(min <= med * (1 + 1e-9) && med <= max * (1 + 1e-9))) {
        s_bad("'%s' is not min <= median <= max", key);
    }
}

/* zrelay's own features: only zrelay-thread and zrelay-process run them,
 * compared with a plain pattern. */
static bool
s_zrelay_only(int pattern)
{
    return pattern == P_FWD_GATE || pattern == P_REQREP_LRU ||
           pattern == P_DEALER_LRU;
}

/* A number > 0, or null (the plain case is not in the run); with
 * REQUIRED, only a number. */
static void
s_num_or_null(const cJSON *o, const char *key, bool required)
{
    const cJSON *v = s_get(o, key);
    if (v && (required || !cJSON_IsNull(v))) {
        s_num(o, key, 1e-12, NULL);
    }
}

static void
s_result(const cJSON *r, int pattern, int contender, int reps, bool quick)
{
    bool direct = contender == 0;
    bool process = contender >= 3;
    bool stall = pattern == P_STALL;
    bool feature = s_zrelay_only(pattern);
    double runs = 0, failed = 0;
    if (s_num(r, "runs", 0, &runs) && runs != (stall ? 1 : reps)) {
        s_bad("%g runs, expected %d", runs, stall ? 1 : reps);
    }
    if (s_num(r, "failed", 0, &failed) && failed != 0) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
        s_bad("%g failed run(s): %s", failed,
              cJSON_IsString(e) ? e->valuestring : "?");
    }
    s_stats(r, "msgs_per_s");
    s_stats(r, "mb_per_s");
    if (direct || stall || feature) {
        s_null(r, "ratio_direct");
    }
    else {
        s_num(r, "ratio_direct", 1e-12, NULL);
    }
    if (feature) {
        /* --quick runs each beside its plain case. */
        s_num_or_null(r, "ratio_plain", quick);
        s_num_or_null(r, "ratio_plain_zmq_proxy", quick);
    }
    else {
        s_null(r, "ratio_plain");
        s_null(r, "ratio_plain_zmq_proxy");
    }
    if (direct) {
        s_null(r, "ratio_zmq_proxy");
        s_null(r, "proxy_cpu_s_per_M");
        s_null(r, "proxy_loop_cpu_s_per_M");
    }
    else {
        double total = 0, loop = 0;
        if (feature) {
            s_null(r, "ratio_zmq_proxy");
        }
        else {
            s_num(r, "ratio_zmq_proxy", 1e-12, NULL);
        }
        if (s_num(r, "proxy_cpu_s_per_M", 0, &total) &&
            s_num(r, "proxy_loop_cpu_s_per_M", 0, &loop) &&
            loop > total * 1.001 + 1e-9) {
            s_bad("the loop thread used more CPU than the whole proxy");
        }
    }
    if (process) {
        s_num(r, "proxy_peak_rss_mb", 0.1, NULL);
    }
    else {
        s_null(r, "proxy_peak_rss_mb");
    }
    if (pattern == P_FORWARD1 || pattern == P_FORWARD4 ||
        pattern == P_FWD_GATE) {
        double loss;
        if (s_num(r, "loss_pct", -1e-6, &loss) && loss > 100) {
            s_bad("loss_pct %g above 100", loss);
        }
    }
    else {
        s_null(r, "loss_pct");
    }
    const cJSON *lat = s_get(r, "latency_us");
    if (pattern == P_REQREP || pattern == P_REQREP_LRU) {
        if (!cJSON_IsObject(lat)) {
            s_bad("%s without latency_us", s_patterns[pattern]);
        }
        else {
            static const char *const q[] = {"p50", "p90", "p99", "p999"};
            double prev = 0, v;
            for (int i = 0; i < 4; i++) {
                if (s_num(lat, q[i], 1e-9, &v)) {
                    if (v < prev) {
                        s_bad("latency %s below the quantile before it", q[i]);
                    }
                    prev = v;
                }
            }
            s_num(lat, "samples", 1, NULL);
        }
    }
    else if (lat && !cJSON_IsNull(lat)) {
        s_bad("latency_us should be null here");
    }
    if (stall) {
        const cJSON *st = s_get(r, "stall");
        if (cJSON_IsObject(st)) {
            s_num(st, "accepted", 1, NULL);
            s_num(st, "rss_before_mb", 0.1, NULL);
            s_num(st, "rss_stalled_mb", 0.1, NULL);
            s_num(st, "growth_mb", -1e9, NULL);
            s_num(st, "bound_mb", 1e-9, NULL);
            s_num(st, "proxy_cpu_pct", 0, NULL);
        }
        else if (st) {
            s_bad("'stall' is not an object");
        }
    }
}

int
main(int argc, char **argv)
{
    bool quick = false;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        }
        else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "usage: zrelay-bench-check [--quick] REPORT.json\n");
        return 2;
    }
    snprintf(s_where, sizeof s_where, "%s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    size_t n;
    while (text && (n = fread(text + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *bigger = realloc(text, cap *= 2);
            if (!bigger) {
                free(text);
                text = NULL;
            }
            text = bigger;
        }
    }
    fclose(f);
    cJSON *doc = text ? cJSON_ParseWithLength(text, len) : NULL;
    free(text);
    if (!doc) {
        s_bad("not JSON");
        return 1;
    }
    const cJSON *tool = s_get(doc, "tool");
    if (!cJSON_IsString(tool) || strcmp(tool->valuestring, "zrelay-bench")) {
        s_bad("not a zrelay-bench report");
    }
    double reps = 0, planned = 0;
    const cJSON *settings = s_get(doc, "settings");
    if (settings) {
        s_num(settings, "reps", 1, &reps);
        s_num(settings, "duration_s", 1e-6, NULL);
    }
    s_num(doc, "planned_cases", 1, &planned);
    const cJSON *names = s_get(doc, "contenders");
    bool wanted[S_NC] = {false};
    const cJSON *name;
    cJSON_ArrayForEach(name, names)
    {
        int c = cJSON_IsString(name)
                    ? s_index(s_contenders, S_NC, name->valuestring)
                    : -1;
        if (c < 0) {
            s_bad("unknown contender in 'contenders'");
        }
        else {
            wanted[c] = true;
        }
    }
    const cJSON *cases = s_get(doc, "cases");
    int ncases = cJSON_GetArraySize(cases), nresults = 0;
    if (ncases == 0 || ncases != (int) planned) {
        s_bad("%d cases reported, %g planned", ncases, planned);
    }
    bool seen_p[S_NP] = {false}, seen_t[S_NT] = {false};
    bool seen_c[S_NC] = {false};
    const cJSON *k;
    int ki = 0;
    cJSON_ArrayForEach(k, cases)
    {
        const cJSON *pj = s_get(k, "pattern"), *tj = s_get(k, "transport");
        double size = 0;
        int p = cJSON_IsString(pj) ? s_index(s_patterns, S_NP, pj->valuestring)
                                   : -1;
        int t = cJSON_IsString(tj)
                    ? s_index(s_transports, S_NT, tj->valuestring)
                    : -1;
        s_num(k, "size", 1, &size);
        snprintf(s_where, sizeof s_where, "%s: case %d (%s %s %g)", path, ki,
                 p >= 0 ? s_patterns[p] : "?", t >= 0 ? s_transports[t] : "?",
                 size);
        ki++;
        if (p < 0 || t < 0) {
            s_bad("unknown pattern or transport");
            continue;
        }
        seen_p[p] = seen_t[t] = true;
        bool got[S_NC] = {false};
        const cJSON *r;
        cJSON_ArrayForEach(r, s_get(k, "results"))
        {
            const cJSON *cj = s_get(r, "contender");
            int c = cJSON_IsString(cj)
                        ? s_index(s_contenders, S_NC, cj->valuestring)
                        : -1;
            if (c < 0 || got[c]) {
                s_bad("unknown or repeated contender");
                continue;
            }
            got[c] = seen_c[c] = true;
            char where[160];
            snprintf(where, sizeof where, "%s", s_where);
            snprintf(s_where + strlen(s_where),
                     sizeof s_where - strlen(s_where), " %s", s_contenders[c]);
            s_result(r, p, c, (int) reps, quick);
            snprintf(s_where, sizeof s_where, "%s", where);
            nresults++;
        }
        const cJSON *plain = s_get(k, "plain_pattern");
        if (s_zrelay_only(p) ? !cJSON_IsString(plain) : !cJSON_IsNull(plain)) {
            s_bad("'plain_pattern' is wrong for %s", s_patterns[p]);
        }
        const cJSON *opts = s_get(k, "options");
        if (!cJSON_IsObject(opts) ||
            (cJSON_GetArraySize(opts) > 0) != s_zrelay_only(p)) {
            s_bad("'options' is wrong for %s", s_patterns[p]);
        }
        for (int c = 0; c < S_NC; c++) {
            bool process = c >= 3;
            bool zrelay = c == 2 || c == 4;
            bool expect = wanted[c] && !(process && t == 2) &&
                          !(p == P_STALL && !process) &&
                          !(s_zrelay_only(p) && !zrelay);
            if (expect && !got[c]) {
                s_bad("%s did not run", s_contenders[c]);
            }
            if (!expect && got[c]) {
                s_bad("%s ran where it does not belong", s_contenders[c]);
            }
        }
    }
    snprintf(s_where, sizeof s_where, "%s", path);
    if (quick) {
        for (int i = 0; i < S_NP; i++) {
            if (!seen_p[i]) {
                s_bad("--quick did not cover pattern %s", s_patterns[i]);
            }
        }
        for (int i = 0; i < S_NT; i++) {
            if (!seen_t[i]) {
                s_bad("--quick did not cover transport %s", s_transports[i]);
            }
        }
        for (int i = 0; i < S_NC; i++) {
            if (!seen_c[i]) {
                s_bad("--quick did not run contender %s", s_contenders[i]);
            }
        }
    }
    const cJSON *goals = s_get(doc, "goals"), *g;
    cJSON_ArrayForEach(g, goals)
    {
        const cJSON *m = s_get(g, "measured");
        if (m && !cJSON_IsNull(m) &&
            !(cJSON_IsNumber(m) && isfinite(m->valuedouble))) {
            s_bad("a goal's measurement is neither a number nor null");
        }
        const cJSON *v = s_get(g, "verdict");
        if (v && !cJSON_IsString(v)) {
            s_bad("a goal without a verdict");
        }
    }
    cJSON_Delete(doc);
    if (s_problems) {
        fprintf(stderr, "zrelay-bench-check: %d problem(s)\n", s_problems);
        return 1;
    }
    printf("zrelay-bench-check: %s: %d cases, %d results, well-formed\n", path,
           ncases, nresults);
    return 0;
}
