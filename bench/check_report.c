/* check_report.c - is a zrelay-bench --json report well-formed? Every
 * contender ran for every case it belongs to, no run failed, every field
 * is there and finite where it must be; every ratio to zmq_proxy has its
 * band (min-max of the per-round ratios), which holds the ratio and which
 * the per-round msgs/s reproduce; issue 13's goal counts agree with the
 * bands. No speed threshold: that is the benchmark's business, not a
 * test's.
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
/* Issue 13's families: every cell at least zmq_proxy within the band. */
static const int s_fam[] = {P_STREAMER, P_FORWARD1, P_FORWARD4, P_REQREP,
                            P_DEALER};
#define S_NFAM 5

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

/* A and B equal but for the %.6g of the JSON. */
static bool
s_close(double a, double b)
{
    return fabs(a - b) <= 1e-5 * fmax(fabs(a), fabs(b)) + 1e-12;
}

static bool
s_lesseq(double a, double b)
{
    return a <= b || s_close(a, b);
}

/* "ratio_zmq_proxy_band" of a result whose ratio is RATIO: {min, max,
 * paired, rounds}, min <= RATIO <= max; paired: one pair per good run. */
static void
s_band(const cJSON *r, double ratio, double runs)
{
    const cJSON *b = s_get(r, "ratio_zmq_proxy_band");
    if (!b) {
        return;
    }
    if (!cJSON_IsObject(b)) {
        s_bad("'ratio_zmq_proxy_band' is not an object");
        return;
    }
    double lo, hi, rounds;
    if (!s_num(b, "min", 1e-12, &lo) || !s_num(b, "max", 1e-12, &hi)) {
        return;
    }
    if (isfinite(ratio) && !(s_lesseq(lo, ratio) && s_lesseq(ratio, hi))) {
        s_bad("ratio_zmq_proxy %g outside its band %g-%g", ratio, lo, hi);
    }
    const cJSON *paired = s_get(b, "paired");
    if (paired && !cJSON_IsBool(paired)) {
        s_bad("the band's 'paired' is not a boolean");
    }
    if (s_num(b, "rounds", 0, &rounds) && cJSON_IsTrue(paired) &&
        rounds != runs) {
        s_bad("the band pairs %g rounds of %g runs", rounds, runs);
    }
}

/* "rounds_msgs_per_s": NROUNDS entries, a number > 0 for each good run
 * (RUNS of them) and null for a failed one; their median is msgs/s's. */
static void
s_rounds(const cJSON *r, int nrounds, double runs)
{
    const cJSON *a = s_get(r, "rounds_msgs_per_s"), *v;
    if (!a) {
        return;
    }
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != nrounds) {
        s_bad("'rounds_msgs_per_s' is not an array of %d", nrounds);
        return;
    }
    double x[64];
    int n = 0;
    cJSON_ArrayForEach(v, a)
    {
        if (cJSON_IsNumber(v) && isfinite(v->valuedouble) &&
            v->valuedouble > 0 && n < 64) {
            x[n++] = v->valuedouble;
        }
        else if (!cJSON_IsNull(v)) {
            s_bad("'rounds_msgs_per_s' holds neither msgs/s nor null");
        }
    }
    if (n != (int) runs) {
        s_bad("'rounds_msgs_per_s' has %d rounds, %g runs", n, runs);
        return;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "msgs_per_s");
    const cJSON *med = cJSON_GetObjectItemCaseSensitive(st, "median");
    if (n > 0 && cJSON_IsNumber(med)) {
        for (int i = 1; i < n; i++) {
            for (int j = i; j > 0 && x[j - 1] > x[j]; j--) {
                double t = x[j];
                x[j] = x[j - 1];
                x[j - 1] = t;
            }
        }
        double m = n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
        if (!s_close(m, med->valuedouble)) {
            s_bad("the rounds' median %g is not msgs_per_s's %g", m,
                  med->valuedouble);
        }
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
    s_rounds(r, stall ? 1 : reps, runs);
    if (direct) {
        s_null(r, "ratio_zmq_proxy");
        s_null(r, "ratio_zmq_proxy_band");
        s_null(r, "proxy_cpu_s_per_M");
        s_null(r, "proxy_loop_cpu_s_per_M");
    }
    else {
        double total = 0, loop = 0;
        if (feature) {
            s_null(r, "ratio_zmq_proxy");
            s_null(r, "ratio_zmq_proxy_band");
        }
        else {
            double ratio = NAN;
            s_num(r, "ratio_zmq_proxy", 1e-12, &ratio);
            s_band(r, ratio, runs);
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

/* Rounds of result R: msgs/s by round, NAN for a failed one; how many
 * rounds, or -1. */
static int
s_round_rates(const cJSON *r, double *x, int max)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "rounds_msgs_per_s");
    const cJSON *v;
    int n = 0;
    if (!cJSON_IsArray(a)) {
        return -1;
    }
    cJSON_ArrayForEach(v, a)
    {
        if (n == max) {
            return -1;
        }
        x[n++] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    return n;
}

/* The band of result RC over result RB, recomputed from their rounds:
 * the min and max of the per-round ratios when both have the same good
 * rounds, else RC's min / RB's max .. RC's max / RB's min. Returns the
 * cell's class for issue 13 (2 above 1, 1 holding 1, 0 below 1), -1
 * when there is no band to check. */
static int
s_check_band(const cJSON *rc, const cJSON *rb)
{
    const cJSON *band =
        cJSON_GetObjectItemCaseSensitive(rc, "ratio_zmq_proxy_band");
    const cJSON *bmin = cJSON_GetObjectItemCaseSensitive(band, "min");
    const cJSON *bmax = cJSON_GetObjectItemCaseSensitive(band, "max");
    double a[64], b[64];
    int n = s_round_rates(rc, a, 64);
    if (!cJSON_IsNumber(bmin) || !cJSON_IsNumber(bmax) || n < 0 ||
        s_round_rates(rb, b, 64) != n) {
        return -1; /* reported already */
    }
    double lo = INFINITY, hi = -INFINITY;
    double amin = INFINITY, amax = -INFINITY;
    double bmn = INFINITY, bmx = -INFINITY;
    bool paired = true;
    for (int i = 0; i < n; i++) {
        if (isfinite(a[i])) {
            amin = fmin(amin, a[i]);
            amax = fmax(amax, a[i]);
        }
        if (isfinite(b[i])) {
            bmn = fmin(bmn, b[i]);
            bmx = fmax(bmx, b[i]);
        }
        if (isfinite(a[i]) != isfinite(b[i])) {
            paired = false;
        }
        else if (isfinite(a[i])) {
            lo = fmin(lo, a[i] / b[i]);
            hi = fmax(hi, a[i] / b[i]);
        }
    }
    if (!paired) {
        lo = amin / bmx;
        hi = amax / bmn;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(band, "paired")) !=
        paired) {
        s_bad("the band says paired %s, the rounds say %s",
              paired ? "false" : "true", paired ? "true" : "false");
    }
    if (!s_close(lo, bmin->valuedouble) || !s_close(hi, bmax->valuedouble)) {
        s_bad("band %g-%g, the rounds give %g-%g", bmin->valuedouble,
              bmax->valuedouble, lo, hi);
    }
    return bmin->valuedouble > 1.0 ? 2 : bmax->valuedouble < 1.0 ? 0 : 1;
}

/* One goal: its measurement (a number or null), its verdict from it, its
 * band around it; an issue-13 family row (CELLS: the counts from the
 * bands, by pattern) also its counts and its cells below. */
static void
s_goal(const cJSON *g, int (*cells)[3], const bool *seen_p)
{
    const cJSON *name = s_get(g, "goal"), *m = s_get(g, "measured");
    const cJSON *t = s_get(g, "target"), *cmp = s_get(g, "compare");
    const cJSON *v = s_get(g, "verdict");
    char where[160];
    snprintf(where, sizeof where, "%s", s_where);
    snprintf(s_where + strlen(s_where), sizeof s_where - strlen(s_where),
             ": goal '%.80s'", cJSON_IsString(name) ? name->valuestring : "?");
    bool measured = cJSON_IsNumber(m) && isfinite(m->valuedouble);
    if (m && !cJSON_IsNull(m) && !measured) {
        s_bad("a goal's measurement is neither a number nor null");
    }
    if (!cJSON_IsString(v)) {
        s_bad("a goal without a verdict");
    }
    else if (!measured) {
        if (strcmp(v->valuestring, "not measured") != 0) {
            s_bad("verdict '%s' without a measurement", v->valuestring);
        }
    }
    else if (cJSON_IsNumber(t) && cJSON_IsString(cmp)) {
        double x = m->valuedouble, y = t->valuedouble;
        bool at_least = strcmp(cmp->valuestring, ">=") == 0;
        bool met = at_least ? x >= y : x <= y;
        if (!s_close(x, y) &&
            strcmp(v->valuestring, met ? "met" : "NOT MET") != 0) {
            s_bad("verdict '%s' for %g %s %g", v->valuestring, x,
                  cmp->valuestring, y);
        }
    }
    else {
        s_bad("a goal without a target or a comparison");
    }
    const cJSON *lo = s_get(g, "band_min"), *hi = s_get(g, "band_max");
    if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi) && measured &&
        !(s_lesseq(lo->valuedouble, m->valuedouble) &&
          s_lesseq(m->valuedouble, hi->valuedouble))) {
        s_bad("measured %g outside its band %g-%g", m->valuedouble,
              lo->valuedouble, hi->valuedouble);
    }
    const cJSON *fam = s_get(g, "family");
    if (!cells || !cJSON_IsString(fam)) {
        if (fam && !cJSON_IsNull(fam)) {
            s_bad("'family' where there is none");
        }
        snprintf(s_where, sizeof s_where, "%s", where);
        return;
    }
    /* The counts the cases' bands give for this family (or all). */
    int want[3] = {0, 0, 0};
    bool all = strcmp(fam->valuestring, "all") == 0, known = all;
    for (int f = 0; f < S_NFAM; f++) {
        int p = s_fam[f];
        if (all || strcmp(fam->valuestring, s_patterns[p]) == 0) {
            known = true;
            for (int i = 0; i < 3 && seen_p[p]; i++) {
                want[i] += cells[p][i];
            }
        }
    }
    if (!known) {
        s_bad("unknown family '%s'", fam->valuestring);
    }
    double n = 0, above = 0, level = 0, below = 0;
    s_num(g, "cells", 0, &n);
    s_num(g, "above", 0, &above);
    s_num(g, "level", 0, &level);
    s_num(g, "below", 0, &below);
    if (above + level + below != n) {
        s_bad("%g cells but %g above, %g level, %g below", n, above, level,
              below);
    }
    if (above != want[2] || level != want[1] || below != want[0]) {
        s_bad("%g above, %g level, %g below; the bands say %d, %d, %d", above,
              level, below, want[2], want[1], want[0]);
    }
    if (n > 0 ? !measured || m->valuedouble != below : measured) {
        s_bad("measured is not the count below (null without cells)");
    }
    const cJSON *list = s_get(g, "below_cells"), *c;
    if (list && cJSON_GetArraySize(list) != (int) below) {
        s_bad("%d below_cells, %g below", cJSON_GetArraySize(list), below);
    }
    cJSON_ArrayForEach(c, list)
    {
        double ratio = 0, bl = 0, bh = 0;
        if (s_num(c, "ratio", 1e-12, &ratio) &&
            s_num(c, "band_min", 1e-12, &bl) &&
            s_num(c, "band_max", 1e-12, &bh) &&
            !(bh < 1.0 && s_lesseq(bl, ratio) && s_lesseq(ratio, bh))) {
            s_bad("a cell below with ratio %g band %g-%g", ratio, bl, bh);
        }
    }
    snprintf(s_where, sizeof s_where, "%s", where);
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
    int cells[S_NP][3] = {{0}}; /* issue 13: below, level, above */
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
        const cJSON *res[S_NC] = {NULL};
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
            res[c] = r;
            char where[160];
            snprintf(where, sizeof where, "%s", s_where);
            snprintf(s_where + strlen(s_where),
                     sizeof s_where - strlen(s_where), " %s", s_contenders[c]);
            s_result(r, p, c, (int) reps, quick);
            snprintf(s_where, sizeof s_where, "%s", where);
            nresults++;
        }
        /* Each ratio's band against the rounds of both sides: thread
         * with thread (1, 2), process with process (3, 4). */
        for (int c = 1; c < S_NC && !s_zrelay_only(p); c++) {
            int base = c <= 2 ? 1 : 3;
            if (res[c] && res[base]) {
                char where[160];
                snprintf(where, sizeof where, "%s", s_where);
                snprintf(s_where + strlen(s_where),
                         sizeof s_where - strlen(s_where), " %s",
                         s_contenders[c]);
                int cls = s_check_band(res[c], res[base]);
                snprintf(s_where, sizeof s_where, "%s", where);
                if (cls >= 0 && (c == 2 || c == 4)) {
                    cells[p][cls]++;
                }
            }
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
        s_goal(g, NULL, seen_p);
    }
    /* Issue 13: a row per family in the run, one for all of them when
     * there are several, each counting the cells as their bands say. */
    const cJSON *goals13 = s_get(doc, "goals_13");
    if (goals13 && !cJSON_IsArray(goals13)) {
        s_bad("'goals_13' is not an array");
    }
    bool row[S_NFAM + 1] = {false};
    cJSON_ArrayForEach(g, goals13)
    {
        s_goal(g, cells, seen_p);
        const cJSON *fam = cJSON_GetObjectItemCaseSensitive(g, "family");
        for (int f = 0; cJSON_IsString(fam) && f <= S_NFAM; f++) {
            if (strcmp(fam->valuestring,
                       f < S_NFAM ? s_patterns[s_fam[f]] : "all") == 0) {
                if (row[f]) {
                    s_bad("two goals_13 rows for %s", fam->valuestring);
                }
                row[f] = true;
            }
        }
    }
    int nfam = 0;
    for (int f = 0; f < S_NFAM; f++) {
        nfam += seen_p[s_fam[f]];
        if (seen_p[s_fam[f]] != row[f]) {
            s_bad("goals_13: %s row %s", s_patterns[s_fam[f]],
                  row[f] ? "without its cases" : "missing");
        }
    }
    if ((nfam > 1) != row[S_NFAM]) {
        s_bad("goals_13: the row of all families is %s",
              row[S_NFAM] ? "there with one family" : "missing");
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
