/* report.c - the runs as a table for people (stdout, docs) and as JSON,
 * CSV and plot data for machines.
 * SPDX-License-Identifier: MIT
 *
 * Per case and contender: msgs/s and MB/s (median, min, max over the
 * rounds), the ratio of the medians to direct and to zmq_proxy run the
 * same way (thread to thread, process to process), the latter with its
 * noise band (b_ratio_band: the min-max of the per-round ratios), the
 * goals of the issues (issue 13's from the bands), round-trip percentiles
 * from the merged histogram of every round, the proxy's CPU seconds per
 * million messages (median) and its peak RSS (a process's own).
 */
#include "bench.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zmq.h>

/* ---------------------------------------------------------------------
 * Histogram.
 */

static int
s_bucket(uint64_t v)
{
    if (v < 64) {
        return (int) v;
    }
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 5;
    int idx = shift * 32 + (int) (v >> shift);
    return idx < B_HIST_BUCKETS ? idx : B_HIST_BUCKETS - 1;
}

static double
s_bucket_mid(int idx)
{
    if (idx < 64) {
        return idx;
    }
    int shift = idx / 32 - 1;
    double lower = (double) ((uint64_t) (idx - shift * 32) << shift);
    return lower + (double) (1ull << shift) / 2.0;
}

void
b_hist_add(b_hist_t *h, uint64_t ns)
{
    h->counts[s_bucket(ns)]++;
    h->total++;
}

void
b_hist_merge(b_hist_t *into, const b_hist_t *from)
{
    for (int i = 0; i < B_HIST_BUCKETS; i++) {
        into->counts[i] += from->counts[i];
    }
    into->total += from->total;
}

double
b_hist_quantile(const b_hist_t *h, double q)
{
    if (!h || h->total == 0) {
        return NAN;
    }
    uint64_t rank = (uint64_t) ceil(q * (double) h->total);
    rank = rank ? rank : 1;
    uint64_t seen = 0;
    for (int i = 0; i < B_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            return s_bucket_mid(i);
        }
    }
    return s_bucket_mid(B_HIST_BUCKETS - 1);
}

/* ---------------------------------------------------------------------
 * Summaries.
 */

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

/* The finite values of V, sorted, in OUT; how many. */
static int
s_finite_sorted(const double *v, int n, double *out)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (isfinite(v[i])) {
            out[m++] = v[i];
        }
    }
    qsort(out, (size_t) m, sizeof *out, s_cmp);
    return m;
}

double
b_median(const double *v, int n)
{
    double s[B_MAX_REPS];
    int m = s_finite_sorted(v, n, s);
    if (m == 0) {
        return NAN;
    }
    return m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2.0;
}

double
b_min(const double *v, int n)
{
    double s[B_MAX_REPS];
    int m = s_finite_sorted(v, n, s);
    return m ? s[0] : NAN;
}

double
b_max(const double *v, int n)
{
    double s[B_MAX_REPS];
    int m = s_finite_sorted(v, n, s);
    return m ? s[m - 1] : NAN;
}

double
b_case_rate(const b_case_t *k, b_contender_t c)
{
    if (!k->has[c]) {
        return NAN;
    }
    return b_median(k->res[c].rate, k->res[c].nruns);
}

const b_case_t *
b_plain_case(const b_report_t *r, const b_case_t *k)
{
    int plain = b_patterns[k->pattern].plain;
    for (int i = 0; plain >= 0 && i < r->ncases; i++) {
        const b_case_t *pk = &r->cases[i];
        if (pk->pattern == (b_pattern_t) plain &&
            pk->transport == k->transport && pk->size == k->size) {
            return pk;
        }
    }
    return NULL;
}

const char *
b_size_name(size_t size, char *buf, size_t len)
{
    if (size >= 1024 && size % 1024 == 0) {
        snprintf(buf, len, "%zu KiB", size / 1024);
    }
    else {
        snprintf(buf, len, "%zu B", size);
    }
    return buf;
}

double
b_stall_bound_mb(const b_config_t *cfg, size_t size)
{
    /* What the proxy may hold: its frontend's receive queue, its
     * backend's send queue and the message in hand, each message with up
     * to 1 KiB of libzmq's and the allocator's bookkeeping (zmq_msg_t in
     * the pipe, content header, the 8 KiB receive buffers that small
     * messages share), plus 1 MiB of engine buffers. */
    double msgs = (double) cfg->rcvhwm + (double) cfg->sndhwm + 1.0;
    return (msgs * ((double) size + 1024.0) + 1024.0 * 1024.0) /
           (1024.0 * 1024.0);
}

static double
s_ratio(const b_case_t *k, b_contender_t c, int base)
{
    if (base < 0 || !k->has[base]) {
        return NAN;
    }
    return b_case_rate(k, c) / b_case_rate(k, (b_contender_t) base);
}

static double
s_latency(const b_case_t *k, b_contender_t c, double q)
{
    if (!k || (int) c < 0 || !k->has[c]) {
        return NAN;
    }
    return b_patterns[k->pattern].latency ? b_hist_quantile(k->res[c].hist, q)
                                          : NAN;
}

int
b_ratio_band(const b_case_t *k, b_contender_t c, int base, double *lo,
             double *hi)
{
    *lo = *hi = NAN;
    if (base < 0 || !k->has[c] || !k->has[base]) {
        return -1;
    }
    const b_result_t *a = &k->res[c], *b = &k->res[base];
    if (a->nruns == 0 || b->nruns == 0) {
        return -1;
    }
    /* Pair by round: both must have the same rounds. */
    double r[B_MAX_REPS];
    int n = 0;
    bool paired = a->nruns == b->nruns;
    for (int i = 0; paired && i < a->nruns; i++) {
        int j = 0;
        while (j < b->nruns && b->round[j] != a->round[i]) {
            j++;
        }
        if (j == b->nruns) {
            paired = false;
        }
        else {
            r[n++] = a->rate[i] / b->rate[j];
        }
    }
    if (!paired) {
        *lo = b_min(a->rate, a->nruns) / b_max(b->rate, b->nruns);
        *hi = b_max(a->rate, a->nruns) / b_min(b->rate, b->nruns);
        return 0;
    }
    *lo = b_min(r, n);
    *hi = b_max(r, n);
    return n;
}

/* For a zrelay-only pattern (the gate, lru): contender C's median rate in
 * case K over BASE's in the plain case of K (the same transport and size,
 * the same run), or NAN. */
static double
s_plain_ratio(const b_report_t *r, const b_case_t *k, b_contender_t c, int base)
{
    const b_case_t *pk = b_plain_case(r, k);
    if (!pk || base < 0 || !pk->has[base]) {
        return NAN;
    }
    return b_case_rate(k, c) / b_case_rate(pk, (b_contender_t) base);
}

/* The same for latency quantile Q. */
static double
s_plain_latency_ratio(const b_report_t *r, const b_case_t *k, b_contender_t c,
                      int base, double q)
{
    const b_case_t *pk = b_plain_case(r, k);
    if (!pk || base < 0) {
        return NAN;
    }
    return s_latency(k, c, q) / s_latency(pk, (b_contender_t) base, q);
}

static double
s_stall_growth(const b_result_t *res)
{
    double g[B_MAX_REPS];
    for (int i = 0; i < res->nruns; i++) {
        g[i] = res->rss_stalled[i] - res->rss_base[i];
    }
    return b_max(g, res->nruns);
}

/* ---------------------------------------------------------------------
 * Goals of the issues, checked where the run has the cases.
 */
typedef struct {
    char name[160];
    double value, target;
    bool at_least; /* value >= target; else value <= target */
    double lo, hi; /* a ratio's band (b_ratio_band); NAN: none */
    /* A family row (issue 13): FAMILY is a b_pattern_t, or -1 for every
     * family together; VALUE is BELOW (NAN without cells), target 0. */
    int family; /* -2: not a family row */
    int cells, above, level, below;
} s_goal_t;

static const b_case_t *
s_find(const b_report_t *r, b_pattern_t p, b_transport_t t, size_t size)
{
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        if (cs->pattern == p && cs->transport == t && cs->size == size) {
            return cs;
        }
    }
    return NULL;
}

/* A new goal at G[*N] named by FMT, or NULL when G is full. */
static s_goal_t *s_goal_add(s_goal_t *g, int *n, int max, double value,
                            double target, bool at_least, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static s_goal_t *
s_goal_add(s_goal_t *g, int *n, int max, double value, double target,
           bool at_least, const char *fmt, ...)
{
    if (*n >= max) {
        return NULL;
    }
    s_goal_t *goal = &g[(*n)++];
    memset(goal, 0, sizeof *goal);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(goal->name, sizeof goal->name, fmt, ap);
    va_end(ap);
    goal->value = value;
    goal->target = target;
    goal->at_least = at_least;
    goal->lo = goal->hi = NAN;
    goal->family = -2;
    return goal;
}

/* A goal on C's median msgs/s over BASE's in case K, with its band. */
static void
s_goal_ratio(s_goal_t *g, int *n, int max, const b_case_t *k, b_contender_t c,
             int base, double target, const char *name)
{
    s_goal_t *goal =
        s_goal_add(g, n, max, s_ratio(k, c, base), target, true, "%s", name);
    if (goal) {
        b_ratio_band(k, c, base, &goal->lo, &goal->hi);
    }
}

/* What the zrelay binary ran the latency patterns with: "default options"
 * or its extra arguments; false when there were any. */
static bool
s_lat_options(const b_config_t *cfg, char *buf, size_t len)
{
    if (cfg->nzrelay_args == 0 && cfg->nzrelay_lat_args == 0) {
        snprintf(buf, len, "default options");
        return true;
    }
    int off = snprintf(buf, len, "zrelay with");
    for (int i = 0; i < cfg->nzrelay_args + cfg->nzrelay_lat_args; i++) {
        const char *arg = i < cfg->nzrelay_args
                              ? cfg->zrelay_args[i]
                              : cfg->zrelay_lat_args[i - cfg->nzrelay_args];
        if (off >= 0 && (size_t) off < len) {
            off += snprintf(buf + off, len - (size_t) off, " %s", arg);
        }
    }
    return false;
}

/* The goals of the benchmark issue. */
static int
s_goals(const b_report_t *r, s_goal_t *g, int max)
{
    int n = 0;
    const b_case_t *k = s_find(r, B_STREAMER, B_TCP, 16);
    if (k) {
        s_goal_ratio(
            g, &n, max, k, B_ZR_PROCESS, B_ZMQ_PROCESS, 2.0,
            "streamer tcp 16 B: zrelay-process msgs/s / zmq_proxy-process");
        s_goal_ratio(g, &n, max, k, B_ZR_PROCESS, B_DIRECT, 0.6,
                     "streamer tcp 16 B: zrelay-process msgs/s / direct");
    }
    k = s_find(r, B_STREAMER, B_TCP, 1024);
    if (k) {
        s_goal_ratio(
            g, &n, max, k, B_ZR_PROCESS, B_ZMQ_PROCESS, 1.2,
            "streamer tcp 1 KiB: zrelay-process msgs/s / zmq_proxy-process");
    }
    k = s_find(r, B_REQREP, B_TCP, 16);
    if (k && k->has[B_ZR_PROCESS] && k->has[B_ZMQ_PROCESS]) {
        char opts[120];
        s_lat_options(&r->cfg, opts, sizeof opts);
        s_goal_add(
            g, &n, max,
            s_latency(k, B_ZR_PROCESS, 0.5) / s_latency(k, B_ZMQ_PROCESS, 0.5),
            0.9, false,
            "reqrep tcp 16 B: zrelay-process p50 / zmq_proxy-process p50, "
            "%.100s",
            opts);
        s_goal_add(g, &n, max,
                   s_latency(k, B_ZR_PROCESS, 0.99) /
                       s_latency(k, B_ZMQ_PROCESS, 0.99),
                   0.8, false,
                   "reqrep tcp 16 B: zrelay-process p99 / zmq_proxy-process "
                   "p99, %.100s",
                   opts);
    }
    for (int i = 0; i < r->ncases; i++) {
        k = &r->cases[i];
        if (k->pattern != B_STALL || !k->has[B_ZR_PROCESS]) {
            continue;
        }
        char size[32];
        s_goal_add(g, &n, max,
                   s_stall_growth(&k->res[B_ZR_PROCESS]) /
                       b_stall_bound_mb(&r->cfg, k->size),
                   1.0, false,
                   "stall tcp %s: zrelay-process RSS growth / HWM bound",
                   b_size_name(k->size, size, sizeof size));
    }
    return n;
}

/* Issue 13: the pattern families whose every cell should be at least
 * zmq_proxy's within the noise band, and the pairs each cell compares. */
static const b_pattern_t s_families[] = {B_STREAMER, B_FORWARD1, B_FORWARD4,
                                         B_REQREP, B_DEALER};
#define S_NFAMILIES ((int) (sizeof s_families / sizeof s_families[0]))
static const b_contender_t s_zr_side[2] = {B_ZR_THREAD, B_ZR_PROCESS};

/* Where zrelay contender C of case K stands against its zmq_proxy: 2
 * above (the band's min > 1), 1 level (the band holds 1), 0 below (its
 * max < 1), -1 not measured. */
static int
s_cell_class(const b_case_t *k, b_contender_t c, double *ratio, double *lo,
             double *hi)
{
    int base = b_baseline_of(c);
    *ratio = s_ratio(k, c, base);
    if (b_ratio_band(k, c, base, lo, hi) < 0 || !isfinite(*ratio) ||
        !isfinite(*lo) || !isfinite(*hi)) {
        return -1;
    }
    return *lo > 1.0 ? 2 : *hi < 1.0 ? 0 : 1;
}

static bool
s_is_family(b_pattern_t p, int family)
{
    if (family >= 0) {
        return p == (b_pattern_t) family;
    }
    for (int i = 0; i < S_NFAMILIES; i++) {
        if (p == s_families[i]) {
            return true;
        }
    }
    return false;
}

/* The cells of FAMILY (-1: all) in GOAL's counts. */
static void
s_count_family(const b_report_t *r, int family, s_goal_t *goal)
{
    for (int i = 0; i < r->ncases; i++) {
        const b_case_t *k = &r->cases[i];
        if (!s_is_family(k->pattern, family)) {
            continue;
        }
        for (int j = 0; j < 2; j++) {
            double ratio, lo, hi;
            int cls = s_cell_class(k, s_zr_side[j], &ratio, &lo, &hi);
            if (cls < 0) {
                continue;
            }
            goal->cells++;
            goal->above += cls == 2;
            goal->level += cls == 1;
            goal->below += cls == 0;
        }
    }
    goal->value = goal->cells ? (double) goal->below : NAN;
}

/* The goals of issue 13 ("never slower than zmq_proxy, anywhere"). */
static int
s_goals13(const b_report_t *r, s_goal_t *g, int max)
{
    int n = 0, nfam = 0;
    for (int f = 0; f < S_NFAMILIES; f++) {
        bool any = false;
        for (int i = 0; i < r->ncases && !any; i++) {
            any = r->cases[i].pattern == s_families[f];
        }
        if (!any) {
            continue;
        }
        s_goal_t *goal = s_goal_add(g, &n, max, NAN, 0, false,
                                    "%s: zrelay/zmq_proxy cells, thr and proc",
                                    b_patterns[s_families[f]].name);
        if (goal) {
            goal->family = (int) s_families[f];
            s_count_family(r, goal->family, goal);
            nfam++;
        }
    }
    if (nfam > 1) {
        s_goal_t *goal =
            s_goal_add(g, &n, max, NAN, 0, false,
                       "every family: zrelay/zmq_proxy cells, thr and proc");
        if (goal) {
            goal->family = -1;
            s_count_family(r, -1, goal);
        }
    }
    const b_case_t *k = s_find(r, B_FORWARD1, B_TCP, 16);
    if (k) {
        s_goal_ratio(
            g, &n, max, k, B_ZR_PROCESS, B_ZMQ_PROCESS, 1.3,
            "forwarder-1 tcp 16 B: zrelay-process msgs/s / zmq_proxy-process");
    }
    k = s_find(r, B_REQREP, B_TCP, 16);
    if (k && k->has[B_ZR_PROCESS] && k->has[B_ZMQ_PROCESS]) {
        /* With default options only: no busy-poll. */
        char opts[120];
        bool plain = s_lat_options(&r->cfg, opts, sizeof opts);
        s_goal_add(g, &n, max,
                   plain ? s_latency(k, B_ZR_PROCESS, 0.5) /
                               s_latency(k, B_ZMQ_PROCESS, 0.5)
                         : NAN,
                   0.9, false,
                   "reqrep tcp 16 B: zrelay-process p50 / zmq_proxy-process "
                   "p50, default options (no busy-poll)");
    }
    return n;
}

static const char *
s_goal_verdict(const s_goal_t *g)
{
    if (!isfinite(g->value)) {
        return "not measured";
    }
    bool met = g->at_least ? g->value >= g->target : g->value <= g->target;
    return met ? "met" : "NOT MET";
}

/* ---------------------------------------------------------------------
 * Tables: markdown pipe tables, padded so that they read as well in a
 * terminal.
 */
#define S_MAXCOLS 16
typedef char s_cell_t[48];

typedef struct {
    int ncols;
    const char *head[S_MAXCOLS];
    const char *align; /* 'l' or 'r' per column */
    s_cell_t (*rows)[S_MAXCOLS];
    int nrows, cap;
} s_table_t;

static void
s_table_init(s_table_t *t, const char *align, const char *const *head)
{
    memset(t, 0, sizeof *t);
    t->align = align;
    t->ncols = (int) strlen(align);
    for (int i = 0; i < t->ncols; i++) {
        t->head[i] = head[i];
    }
}

static s_cell_t *
s_table_row(s_table_t *t)
{
    if (t->nrows == t->cap) {
        int cap = t->cap ? t->cap * 2 : 32;
        void *rows = realloc(t->rows, (size_t) cap * sizeof *t->rows);
        if (!rows) {
            return NULL;
        }
        t->rows = rows;
        t->cap = cap;
    }
    s_cell_t *row = t->rows[t->nrows++];
    memset(row, 0, sizeof(s_cell_t) * S_MAXCOLS);
    return row;
}

/* The columns S takes in a terminal: its characters, not its bytes (a
 * band's en dash is three bytes of UTF-8). */
static int
s_width(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        n += (*p & 0xC0) != 0x80;
    }
    return n;
}

static void
s_pad(FILE *out, const char *s, int width, char align)
{
    int n = s_width(s);
    if (align == 'r') {
        fprintf(out, " %*s%s |", width - n, "", s);
    }
    else {
        fprintf(out, " %s%*s |", s, width - n, "");
    }
}

static void
s_table_print(s_table_t *t, FILE *out)
{
    int w[S_MAXCOLS];
    for (int c = 0; c < t->ncols; c++) {
        w[c] = s_width(t->head[c]);
        for (int r = 0; r < t->nrows; r++) {
            int n = s_width(t->rows[r][c]);
            w[c] = n > w[c] ? n : w[c];
        }
        w[c] = w[c] < 3 ? 3 : w[c];
    }
    fputc('|', out);
    for (int c = 0; c < t->ncols; c++) {
        s_pad(out, t->head[c], w[c], t->align[c]);
    }
    fputs("\n|", out);
    for (int c = 0; c < t->ncols; c++) {
        fputc(' ', out);
        for (int i = 0; i < w[c] - 1; i++) {
            fputc('-', out);
        }
        fputs(t->align[c] == 'r' ? ":" : "-", out);
        fputs(" |", out);
    }
    fputc('\n', out);
    for (int r = 0; r < t->nrows; r++) {
        fputc('|', out);
        for (int c = 0; c < t->ncols; c++) {
            s_pad(out, t->rows[r][c], w[c], t->align[c]);
        }
        fputc('\n', out);
    }
    fputc('\n', out);
    free(t->rows);
    t->rows = NULL;
}

static void
s_fmt_rate(char *buf, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, sizeof(s_cell_t), "-");
    }
    else if (v >= 1e6) {
        snprintf(buf, sizeof(s_cell_t), "%.2fM", v / 1e6);
    }
    else if (v >= 1e3) {
        snprintf(buf, sizeof(s_cell_t), "%.1fk", v / 1e3);
    }
    else {
        snprintf(buf, sizeof(s_cell_t), "%.0f", v);
    }
}

static void
s_fmt(char *buf, const char *fmt, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, sizeof(s_cell_t), "-");
    }
    else {
        snprintf(buf, sizeof(s_cell_t), fmt, v);
    }
}

static void
s_heading(FILE *out, bool md, const char *title)
{
    if (md) {
        fprintf(out, "### %s\n\n", title);
    }
    else {
        fprintf(out, "%s\n\n", title);
    }
}

/* The measured and target cells of goal G. */
static void
s_goal_cells(const s_goal_t *g, char *measured, char *target)
{
    if (g->family >= -1) {
        if (g->cells == 0) {
            snprintf(measured, sizeof(s_cell_t), "no cells");
        }
        else {
            snprintf(measured, sizeof(s_cell_t),
                     "%d cells: %d above, %d level, %d below", g->cells,
                     g->above, g->level, g->below);
        }
        snprintf(target, sizeof(s_cell_t), "0 below");
        return;
    }
    if (isfinite(g->value) && isfinite(g->lo) && isfinite(g->hi) &&
        g->lo < g->hi) {
        snprintf(measured, sizeof(s_cell_t), "%.2f (%.2f–%.2f)", g->value,
                 g->lo, g->hi);
    }
    else {
        s_fmt(measured, "%.2f", g->value);
    }
    snprintf(target, sizeof(s_cell_t), "%s %.2f",
             g->at_least ? ">=" : "<=", g->target);
}

/* A goals table under TITLE. The goal names are longer than a cell: they
 * are printed whole. */
static void
s_goals_print(FILE *out, bool md, const char *title, const s_goal_t *g, int n)
{
    static const char *const head[] = {"goal", "measured", "target", "verdict"};
    static const char align[] = "lrrl";
    s_cell_t(*cells)[3] = calloc((size_t) n, sizeof *cells);
    if (!cells) {
        return;
    }
    int w[4];
    for (int c = 0; c < 4; c++) {
        w[c] = s_width(head[c]);
    }
    for (int i = 0; i < n; i++) {
        s_goal_cells(&g[i], cells[i][0], cells[i][1]);
        snprintf(cells[i][2], sizeof cells[i][2], "%s", s_goal_verdict(&g[i]));
        int len = s_width(g[i].name);
        w[0] = len > w[0] ? len : w[0];
        for (int c = 1; c < 4; c++) {
            int l = s_width(cells[i][c - 1]);
            w[c] = l > w[c] ? l : w[c];
        }
    }
    s_heading(out, md, title);
    fputc('|', out);
    for (int c = 0; c < 4; c++) {
        s_pad(out, head[c], w[c], align[c]);
    }
    fputs("\n|", out);
    for (int c = 0; c < 4; c++) {
        fputc(' ', out);
        for (int i = 0; i < w[c] - 1; i++) {
            fputc('-', out);
        }
        fputs(align[c] == 'r' ? ": |" : "- |", out);
    }
    fputc('\n', out);
    for (int i = 0; i < n; i++) {
        fputc('|', out);
        s_pad(out, g[i].name, w[0], 'l');
        for (int c = 1; c < 4; c++) {
            s_pad(out, cells[i][c - 1], w[c], align[c]);
        }
        fputc('\n', out);
    }
    fputc('\n', out);
    free(cells);
}

/* Issue 13's cells below zmq_proxy, one line each, with their band. */
static void
s_below_list(const b_report_t *r, FILE *out)
{
    int nbelow = 0, ncells = 0;
    for (int i = 0; i < r->ncases; i++) {
        const b_case_t *k = &r->cases[i];
        if (!s_is_family(k->pattern, -1)) {
            continue;
        }
        for (int j = 0; j < 2; j++) {
            double ratio, lo, hi;
            int cls = s_cell_class(k, s_zr_side[j], &ratio, &lo, &hi);
            ncells += cls >= 0;
            if (cls != 0) {
                continue;
            }
            if (nbelow++ == 0) {
                fputs("Cells below zmq_proxy (the band's max < 1.00):\n\n",
                      out);
            }
            char size[32];
            fprintf(out, "- %s %s %s %s: %.2fx (%.2f–%.2f)\n",
                    b_patterns[k->pattern].name,
                    b_transport_names[k->transport],
                    b_size_name(k->size, size, sizeof size), j ? "proc" : "thr",
                    ratio, lo, hi);
        }
    }
    if (nbelow == 0) {
        fputs("No cell below zmq_proxy.\n", out);
    }
    /* Two equal contenders put all R rounds' ratios under 1.00 with
     * probability 1/2^R: that many cells fall below (and above) by
     * chance alone. */
    if (ncells > 0 && r->cfg.reps > 0 && r->cfg.reps < 31) {
        fprintf(out,
                "\nFor two equal contenders a cell falls below with "
                "probability 1/2^%d (every round's ratio under 1.00): "
                "%.1f of these %d cells are expected below by chance "
                "alone, and as many above.\n",
                r->cfg.reps, ncells / (double) (1u << r->cfg.reps), ncells);
    }
    fputc('\n', out);
}

static void
s_goals_table(const b_report_t *r, FILE *out, bool md)
{
    s_goal_t g[16];
    int n = s_goals(r, g, 16);
    if (n > 0) {
        s_goals_print(out, md, "Goals (issue: same machine, same run)", g, n);
    }
    n = s_goals13(r, g, 16);
    if (n == 0) {
        return;
    }
    s_goals_print(out, md,
                  "Goals of issue 13: never slower than zmq_proxy (same run)",
                  g, n);
    fprintf(out,
            "A cell is zrelay's msgs/s (reqrep, dealer: round trips/s) over "
            "zmq_proxy's run the same way (thread/thread, process/process) "
            "for one transport and size; its band is the min–max of the "
            "%d rounds' ratios (zrelay's round i over zmq_proxy's round i). "
            "*above*: the band's min > 1.00; *level*: the band holds 1.00 "
            "(noise); *below*: its max < 1.00.\n\n",
            r->cfg.reps);
    char opts[120];
    if (!s_lat_options(&r->cfg, opts, sizeof opts)) {
        fprintf(out,
                "The reqrep p50 goal wants zrelay's default options; this run "
                "had %s: not measured.\n\n",
                opts);
    }
    s_below_list(r, out);
}

/* A zrelay-only pattern (the gate, lru): zrelay's two contenders, then
 * the plain pattern of the same transport and size from the same run
 * (what a user would run without the feature), and the ratios. */
static void
s_feature_table(const b_report_t *r, b_pattern_t p, FILE *out, bool md)
{
    const b_pattern_info_t *info = &b_patterns[p];
    const char *f = info->tag, *pl = info->plain_tag;
    char h[10][32];
    snprintf(h[0], sizeof h[0], "%s zr thr", f);
    snprintf(h[1], sizeof h[1], "%s zr proc", f);
    snprintf(h[2], sizeof h[2], "%s zmq thr", pl);
    snprintf(h[3], sizeof h[3], "%s zr thr", pl);
    snprintf(h[4], sizeof h[4], "%s zmq proc", pl);
    snprintf(h[5], sizeof h[5], "%s zr proc", pl);
    snprintf(h[6], sizeof h[6], "%s/%s thr", f, pl);
    snprintf(h[7], sizeof h[7], "%s/%s proc", f, pl);
    snprintf(h[8], sizeof h[8], "%s/zmq thr", f);
    snprintf(h[9], sizeof h[9], "%s/zmq proc", f);
    const char *const head[] = {"transport", "size", h[0], h[1], h[2], h[3],
                                h[4],        h[5],   h[6], h[7], h[8], h[9]};
    s_table_t t;
    s_table_init(&t, "llrrrrrrrrrr", head);
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        if (cs->pattern != p) {
            continue;
        }
        s_cell_t *row = s_table_row(&t);
        if (!row) {
            break;
        }
        const b_case_t *pk = b_plain_case(r, cs);
        snprintf(row[0], sizeof row[0], "%s", b_transport_names[cs->transport]);
        b_size_name(cs->size, row[1], sizeof row[1]);
        s_fmt_rate(row[2], b_case_rate(cs, B_ZR_THREAD));
        s_fmt_rate(row[3], b_case_rate(cs, B_ZR_PROCESS));
        static const b_contender_t plain[] = {B_ZMQ_THREAD, B_ZR_THREAD,
                                              B_ZMQ_PROCESS, B_ZR_PROCESS};
        for (int i = 0; i < 4; i++) {
            s_fmt_rate(row[4 + i], pk ? b_case_rate(pk, plain[i]) : NAN);
        }
        s_fmt(row[8], "%.2fx", s_plain_ratio(r, cs, B_ZR_THREAD, B_ZR_THREAD));
        s_fmt(row[9], "%.2fx",
              s_plain_ratio(r, cs, B_ZR_PROCESS, B_ZR_PROCESS));
        s_fmt(row[10], "%.2fx",
              s_plain_ratio(r, cs, B_ZR_THREAD, B_ZMQ_THREAD));
        s_fmt(row[11], "%.2fx",
              s_plain_ratio(r, cs, B_ZR_PROCESS, B_ZMQ_PROCESS));
    }
    if (t.nrows == 0) {
        free(t.rows);
        return;
    }
    char title[400];
    snprintf(title, sizeof title,
             "%s (%s): %s/s, median of %d; zrelay only; '%s' columns: "
             "%s of the same run",
             info->name, info->what, info->unit, r->cfg.reps, info->plain_tag,
             b_patterns[info->plain].name);
    s_heading(out, md, title);
    s_table_print(&t, out);
}

/* The ratio of C's median msgs/s over BASE's in case K with its band:
 * "1.37x (1.10–1.62)"; a band of one round is the ratio itself and is not
 * shown; a band that fell back to min/max over max/min (a round failed on
 * one side) is marked '*' and sets *FALLBACK. */
static void
s_fmt_band(char *buf, const b_case_t *k, b_contender_t c, int base,
           bool *fallback)
{
    double ratio = s_ratio(k, c, base), lo, hi;
    int n = b_ratio_band(k, c, base, &lo, &hi);
    if (!isfinite(ratio) || n < 0 || n == 1) {
        s_fmt(buf, "%.2fx", ratio);
        return;
    }
    snprintf(buf, sizeof(s_cell_t), "%.2fx (%.2f–%.2f)%s", ratio, lo, hi,
             n == 0 ? "*" : "");
    *fallback |= n == 0;
}

/* Per pattern: the median msgs/s of every contender by transport and
 * size, and the ratios that matter. */
static void
s_throughput_tables(const b_report_t *r, FILE *out, bool md)
{
    static const char *const head[] = {"transport",       "size",
                                       "direct",          "zmq_proxy thr",
                                       "zrelay thr",      "zmq_proxy proc",
                                       "zrelay proc",     "zrelay/zmq thr",
                                       "zrelay/zmq proc", "zrelay proc/direct"};
    for (int p = 0; p < B_NPATTERNS; p++) {
        if (p == B_STALL) {
            continue;
        }
        if (b_patterns[p].zrelay_only) {
            s_feature_table(r, (b_pattern_t) p, out, md);
            continue;
        }
        s_table_t t;
        s_table_init(&t, "llrrrrrrrr", head);
        bool fallback = false;
        for (int k = 0; k < r->ncases; k++) {
            const b_case_t *cs = &r->cases[k];
            if (cs->pattern != (b_pattern_t) p) {
                continue;
            }
            s_cell_t *row = s_table_row(&t);
            if (!row) {
                break;
            }
            snprintf(row[0], sizeof row[0], "%s",
                     b_transport_names[cs->transport]);
            b_size_name(cs->size, row[1], sizeof row[1]);
            for (int c = 0; c < B_NCONTENDERS; c++) {
                s_fmt_rate(row[2 + c], b_case_rate(cs, (b_contender_t) c));
            }
            s_fmt_band(row[7], cs, B_ZR_THREAD, B_ZMQ_THREAD, &fallback);
            s_fmt_band(row[8], cs, B_ZR_PROCESS, B_ZMQ_PROCESS, &fallback);
            s_fmt(row[9], "%.0f%%", 100 * s_ratio(cs, B_ZR_PROCESS, B_DIRECT));
        }
        if (t.nrows == 0) {
            free(t.rows);
            continue;
        }
        char title[400];
        int len = snprintf(title, sizeof title, "%s (%s): %s/s, median of %d",
                           b_patterns[p].name, b_patterns[p].what,
                           b_patterns[p].unit, r->cfg.reps);
        if (r->cfg.reps > 1) {
            len += snprintf(title + len, sizeof title - (size_t) len,
                            "; zrelay/zmq: ratio of the medians "
                            "(min–max of the per-round ratios)");
        }
        if (fallback) {
            snprintf(title + len, sizeof title - (size_t) len,
                     "; *: a round failed on one side only, band is zrelay "
                     "min / zmq max – zrelay max / zmq min");
        }
        s_heading(out, md, title);
        s_table_print(&t, out);
    }
}

/* Round-trip percentiles of latency pattern P. A zrelay-only pattern
 * (lru) is compared with its plain pattern (reqrep) of the same run: the
 * same contender's (/rr) and zmq_proxy's run the same way (/zmq). */
static void
s_latency_table(const b_report_t *r, b_pattern_t p, FILE *out, bool md)
{
    const b_pattern_info_t *info = &b_patterns[p];
    bool feature = info->zrelay_only;
    char h[4][32];
    snprintf(h[0], sizeof h[0], "p50/%s", feature ? info->plain_tag : "zmq");
    snprintf(h[1], sizeof h[1], "p99/%s", feature ? info->plain_tag : "zmq");
    snprintf(h[2], sizeof h[2], "p50/zmq");
    snprintf(h[3], sizeof h[3], "p99/zmq");
    const char *const head[] = {"transport", "size",   "contender", "p50 us",
                                "p90 us",    "p99 us", "p99.9 us",  h[0],
                                h[1],        h[2],     h[3],        "samples"};
    /* Without the /zmq pair for a plain pattern: h[0], h[1] are it. */
    int nratios = feature ? 4 : 2;
    char align[16];
    snprintf(align, sizeof align, "lllrrrr%.*sr", nratios, "rrrr");
    const char *heads[12];
    int nh = 0;
    for (int i = 0; i < 7 + nratios; i++) {
        heads[nh++] = head[i];
    }
    heads[nh++] = head[11];
    s_table_t t;
    s_table_init(&t, align, heads);
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        if (cs->pattern != p) {
            continue;
        }
        for (int c = 0; c < B_NCONTENDERS; c++) {
            if (!cs->has[c]) {
                continue;
            }
            s_cell_t *row = s_table_row(&t);
            if (!row) {
                break;
            }
            snprintf(row[0], sizeof row[0], "%s",
                     b_transport_names[cs->transport]);
            b_size_name(cs->size, row[1], sizeof row[1]);
            snprintf(row[2], sizeof row[2], "%s", b_contender_names[c]);
            static const double qs[] = {0.5, 0.9, 0.99, 0.999};
            for (int i = 0; i < 4; i++) {
                s_fmt(row[3 + i], "%.1f",
                      s_latency(cs, (b_contender_t) c, qs[i]) / 1e3);
            }
            int base = b_baseline_of((b_contender_t) c);
            if (feature) {
                s_fmt(row[7], "%.2f",
                      s_plain_latency_ratio(r, cs, (b_contender_t) c, c, 0.5));
                s_fmt(row[8], "%.2f",
                      s_plain_latency_ratio(r, cs, (b_contender_t) c, c, 0.99));
                s_fmt(
                    row[9], "%.2f",
                    s_plain_latency_ratio(r, cs, (b_contender_t) c, base, 0.5));
                s_fmt(row[10], "%.2f",
                      s_plain_latency_ratio(r, cs, (b_contender_t) c, base,
                                            0.99));
            }
            else if (base >= 0 && base != c && cs->has[base]) {
                s_fmt(row[7], "%.2f",
                      s_latency(cs, (b_contender_t) c, 0.5) /
                          s_latency(cs, (b_contender_t) base, 0.5));
                s_fmt(row[8], "%.2f",
                      s_latency(cs, (b_contender_t) c, 0.99) /
                          s_latency(cs, (b_contender_t) base, 0.99));
            }
            else {
                snprintf(row[7], sizeof row[7], "-");
                snprintf(row[8], sizeof row[8], "-");
            }
            snprintf(row[7 + nratios], sizeof row[0], "%llu",
                     (unsigned long long) (cs->res[c].hist
                                               ? cs->res[c].hist->total
                                               : 0));
        }
    }
    if (t.nrows == 0) {
        free(t.rows);
        return;
    }
    char title[400];
    if (feature) {
        snprintf(title, sizeof title,
                 "%s round-trip latency (%s; zrelay only; /%s: over the "
                 "same contender's %s, /zmq: over zmq_proxy's %s, same run)",
                 info->name, info->what, info->plain_tag,
                 b_patterns[info->plain].name, b_patterns[info->plain].name);
    }
    else {
        snprintf(title, sizeof title,
                 "%s round-trip latency (all rounds' round trips in one "
                 "histogram)",
                 info->name);
    }
    s_heading(out, md, title);
    s_table_print(&t, out);
}

/* The proxies' CPU seconds per million messages and peak memory. */
static void
s_cost_table(const b_report_t *r, FILE *out, bool md)
{
    static const char *const head[] = {
        "case",        "zmq_proxy thr", "zrelay thr", "zmq_proxy proc",
        "zrelay proc", "zmq_proxy RSS", "zrelay RSS", "fwd loss zmq/zr"};
    s_table_t t;
    s_table_init(&t, "lrrrrrrr", head);
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        if (cs->pattern == B_STALL) {
            continue;
        }
        s_cell_t *row = s_table_row(&t);
        if (!row) {
            break;
        }
        char size[32];
        snprintf(row[0], sizeof row[0], "%.16s %.8s %.16s",
                 b_patterns[cs->pattern].name, b_transport_names[cs->transport],
                 b_size_name(cs->size, size, sizeof size));
        for (int c = B_ZMQ_THREAD; c <= B_ZR_PROCESS; c++) {
            const b_result_t *res = &cs->res[c];
            double v = cs->has[c] ? b_median(res->cpu, res->nruns) : NAN;
            s_fmt(row[c], "%.2f", v);
        }
        for (int c = B_ZMQ_PROCESS; c <= B_ZR_PROCESS; c++) {
            const b_result_t *res = &cs->res[c];
            double v = cs->has[c] ? b_max(res->rss, res->nruns) : NAN;
            s_fmt(row[5 + c - B_ZMQ_PROCESS], "%.1f MiB", v);
        }
        if (b_patterns[cs->pattern].device == ZR_FORWARDER) {
            int zmq = cs->has[B_ZMQ_PROCESS] ? B_ZMQ_PROCESS : B_ZMQ_THREAD;
            int zr = cs->has[B_ZR_PROCESS] ? B_ZR_PROCESS : B_ZR_THREAD;
            s_cell_t a, b;
            s_fmt(a, "%.1f%%",
                  cs->has[zmq] ? b_median(cs->res[zmq].loss, cs->res[zmq].nruns)
                               : NAN);
            s_fmt(b, "%.1f%%",
                  cs->has[zr] ? b_median(cs->res[zr].loss, cs->res[zr].nruns)
                              : NAN);
            snprintf(row[7], sizeof row[7], "%.20s / %.20s", a, b);
        }
        else {
            snprintf(row[7], sizeof row[7], "-");
        }
    }
    if (t.nrows == 0) {
        free(t.rows);
        return;
    }
    s_heading(out, md,
              "Proxy cost: CPU seconds per million messages (loop and I/O "
              "threads; median), peak RSS of the process");
    s_table_print(&t, out);
}

static void
s_stall_table(const b_report_t *r, FILE *out, bool md)
{
    static const char *const head[] = {
        "size",     "contender", "msgs accepted", "RSS before",   "RSS stalled",
        "peak RSS", "growth",    "HWM bound",     "growth/bound", "proxy CPU"};
    s_table_t t;
    s_table_init(&t, "llrrrrrrrr", head);
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        if (cs->pattern != B_STALL) {
            continue;
        }
        for (int c = 0; c < B_NCONTENDERS; c++) {
            const b_result_t *res = &cs->res[c];
            if (!cs->has[c] || res->nruns == 0) {
                continue;
            }
            s_cell_t *row = s_table_row(&t);
            if (!row) {
                break;
            }
            int i = res->nruns - 1;
            double bound = b_stall_bound_mb(&r->cfg, cs->size);
            double growth = s_stall_growth(res);
            b_size_name(cs->size, row[0], sizeof row[0]);
            snprintf(row[1], sizeof row[1], "%s", b_contender_names[c]);
            snprintf(row[2], sizeof row[2], "%llu",
                     (unsigned long long) res->sent[i]);
            s_fmt(row[3], "%.1f MiB", res->rss_base[i]);
            s_fmt(row[4], "%.1f MiB", res->rss_stalled[i]);
            s_fmt(row[5], "%.1f MiB", res->rss[i]);
            s_fmt(row[6], "%.1f MiB", growth);
            s_fmt(row[7], "%.1f MiB", bound);
            s_fmt(row[8], "%.2f", growth / bound);
            s_fmt(row[9], "%.0f%%", res->busy_pct[i]);
        }
    }
    if (t.nrows == 0) {
        free(t.rows);
        return;
    }
    s_heading(out, md,
              "Memory with a stopped consumer (tcp; the producer sends until "
              "nothing more is accepted for 300 ms; proxy CPU: its CPU time "
              "over that whole time)");
    s_table_print(&t, out);
}

static void
s_failures(const b_report_t *r, FILE *out, bool md)
{
    bool any = false;
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        for (int c = 0; c < B_NCONTENDERS; c++) {
            if (cs->has[c] && cs->res[c].nfailed) {
                if (!any) {
                    s_heading(out, md, "Failed runs");
                    any = true;
                }
                char size[32];
                fprintf(out, "- %s %s %s %s: %d of %d failed, last: %s\n",
                        b_patterns[cs->pattern].name,
                        b_transport_names[cs->transport],
                        b_size_name(cs->size, size, sizeof size),
                        b_contender_names[c], cs->res[c].nfailed,
                        cs->res[c].nfailed + cs->res[c].nruns,
                        cs->res[c].error);
            }
        }
    }
    if (any) {
        fputc('\n', out);
    }
}

/* Every case and contender: medians with their range, both ratios. */
static void
s_detail_table(const b_report_t *r, FILE *out, bool md)
{
    static const char *const head[] = {
        "case", "contender", "msgs/s",   "min",         "max",     "MB/s",
        "min",  "max",       "x direct", "x zmq_proxy", "x plain", "runs"};
    s_table_t t;
    s_table_init(&t, "llrrrrrrrrrr", head);
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        for (int c = 0; c < B_NCONTENDERS; c++) {
            const b_result_t *res = &cs->res[c];
            if (!cs->has[c]) {
                continue;
            }
            s_cell_t *row = s_table_row(&t);
            if (!row) {
                break;
            }
            char size[32];
            snprintf(row[0], sizeof row[0], "%.16s %.8s %.16s",
                     b_patterns[cs->pattern].name,
                     b_transport_names[cs->transport],
                     b_size_name(cs->size, size, sizeof size));
            snprintf(row[1], sizeof row[1], "%s", b_contender_names[c]);
            double mb = (double) cs->size / 1e6;
            s_fmt_rate(row[2], b_median(res->rate, res->nruns));
            s_fmt_rate(row[3], b_min(res->rate, res->nruns));
            s_fmt_rate(row[4], b_max(res->rate, res->nruns));
            s_fmt(row[5], "%.1f", b_median(res->rate, res->nruns) * mb);
            s_fmt(row[6], "%.1f", b_min(res->rate, res->nruns) * mb);
            s_fmt(row[7], "%.1f", b_max(res->rate, res->nruns) * mb);
            s_fmt(row[8], "%.2f",
                  c == B_DIRECT ? NAN
                                : s_ratio(cs, (b_contender_t) c, B_DIRECT));
            s_fmt(row[9], "%.2f",
                  c == B_ZMQ_THREAD || c == B_ZMQ_PROCESS
                      ? NAN
                      : s_ratio(cs, (b_contender_t) c,
                                b_baseline_of((b_contender_t) c)));
            s_fmt(row[10], "%.2f", s_plain_ratio(r, cs, (b_contender_t) c, c));
            snprintf(row[11], sizeof row[11], "%d", res->nruns);
        }
    }
    if (t.nrows == 0) {
        free(t.rows);
        return;
    }
    if (md) {
        fputs("<details><summary>Every case and contender: median, min and "
              "max over the rounds, ratios of the medians (x plain: a "
              "gate or lru case over the same contender's plain "
              "case)</summary>\n\n",
              out);
    }
    else {
        s_heading(out, md,
                  "Every case and contender: median, min and max over the "
                  "rounds, ratios of the medians (x plain: a gate or lru "
                  "case over the same contender's plain case)");
    }
    s_table_print(&t, out);
    if (md) {
        fputs("</details>\n\n", out);
    }
}

static void
s_tables(const b_report_t *r, FILE *out, bool md)
{
    s_goals_table(r, out, md);
    s_throughput_tables(r, out, md);
    for (int p = 0; p < B_NPATTERNS; p++) {
        if (b_patterns[p].latency) {
            s_latency_table(r, (b_pattern_t) p, out, md);
        }
    }
    s_cost_table(r, out, md);
    s_stall_table(r, out, md);
    s_detail_table(r, out, md);
    s_failures(r, out, md);
}

void
b_report_table(const b_report_t *r, FILE *out)
{
    fputc('\n', out);
    s_tables(r, out, false);
    fflush(out);
}

/* ---------------------------------------------------------------------
 * The machine.
 */

static void
s_read_field(const char *path, const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    char line[512];
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) == 0) {
            char *v = line + klen;
            while (*v == ' ' || *v == '\t' || *v == ':' || *v == '=' ||
                   *v == '"') {
                v++;
            }
            v[strcspn(v, "\"\n")] = '\0';
            snprintf(buf, len, "%s", v);
            break;
        }
    }
    fclose(f);
}

typedef struct {
    char cpu[160], os[160], kernel[160], mem[64];
    long cores;
} s_machine_t;

static void
s_machine(s_machine_t *m)
{
    s_read_field("/proc/cpuinfo", "model name", m->cpu, sizeof m->cpu);
    s_read_field("/etc/os-release", "PRETTY_NAME", m->os, sizeof m->os);
    char kb[64];
    s_read_field("/proc/meminfo", "MemTotal", kb, sizeof kb);
    snprintf(m->mem, sizeof m->mem, "%.1f GiB",
             strtod(kb, NULL) / (1024.0 * 1024.0));
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(m->kernel, sizeof m->kernel, "%.20s %.100s %.20s", u.sysname,
                 u.release, u.machine);
    }
    else {
        snprintf(m->kernel, sizeof m->kernel, "unknown");
    }
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
}

int
b_report_markdown(const b_report_t *r, FILE *out)
{
    s_machine_t m;
    s_machine(&m);
    const b_config_t *cfg = &r->cfg;
    fprintf(
        out,
        "## The machine and the run\n\n"
        "- CPU: %s, %ld online\n"
        "- Memory: %s\n"
        "- OS: %s, %s\n"
        "- libzmq %d.%d.%d, zrelay %s, compiler %s%s\n"
        "- Started %s, %.0f s wall; %s mode, %d round%s of %.2g s per "
        "contender and case, alternating\n"
        "- Every socket: SNDHWM %d, RCVHWM %d; %d I/O thread%s per "
        "context; DEALER window %d%s\n"
        "- Command: `%s`\n",
        m.cpu, m.cores, m.mem, m.os, m.kernel, ZMQ_VERSION_MAJOR,
        ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH, zr_version(), __VERSION__,
        r->optimized ? ", optimized" : ", NOT OPTIMIZED (numbers mean nothing)",
        r->started, r->wall_s, r->mode, cfg->reps, cfg->reps == 1 ? "" : "s",
        cfg->duration_s, cfg->sndhwm, cfg->rcvhwm, cfg->io_threads,
        cfg->io_threads == 1 ? "" : "s", cfg->window,
        cfg->pin_cpu >= 0 ? "; proxy processes pinned" : "", r->command);
    if (cfg->nzrelay_args || cfg->nzrelay_lat_args) {
        fputs("- Extra arguments of the zrelay binary:", out);
        for (int i = 0; i < cfg->nzrelay_args; i++) {
            fprintf(out, " `%s`", cfg->zrelay_args[i]);
        }
        if (cfg->nzrelay_lat_args) {
            fputs(cfg->nzrelay_args ? "; for the latency patterns also:"
                                    : " for the latency patterns:",
                  out);
        }
        for (int i = 0; i < cfg->nzrelay_lat_args; i++) {
            fprintf(out, " `%s`", cfg->zrelay_lat_args[i]);
        }
        fputc('\n', out);
    }
    fputc('\n', out);
    fprintf(out,
            "Contenders: **direct** (producer and consumer connected to each "
            "other), **zmq_proxy** (libzmq's `zmq_proxy()`), **zrelay** "
            "(`zr_proxy()`, the library's engine), each proxy both in a "
            "thread of the harness (*thr*) and as a separate process "
            "(*proc*: bench/zmq_proxy_main.c, the `zrelay` binary). "
            "msgs/s is counted at the consumer; MB/s is msgs/s x size "
            "(10^6 bytes). The forwarder's gate (forwarder-gate) and the "
            "queue's lru strategy (reqrep-lru, dealer-lru) are zrelay's "
            "own: only zrelay runs them (in a thread as a `zr_device`), "
            "compared with the plain pattern of the same run. A zrelay/zmq "
            "cell is the ratio of the medians and, in brackets, its noise "
            "band: the min–max of the per-round ratios (the contenders "
            "alternate within a round, so zrelay's round i and "
            "zmq_proxy's round i saw the same machine); a band that holds "
            "1.00 is noise, one wholly below it a loss.\n\n");
    s_tables(r, out, true);
    return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------------
 * JSON, CSV, plot data.
 */

static void
s_jnum(FILE *out, const char *key, double v, bool comma)
{
    if (isfinite(v)) {
        fprintf(out, "\"%s\":%.6g%s", key, v, comma ? "," : "");
    }
    else {
        fprintf(out, "\"%s\":null%s", key, comma ? "," : "");
    }
}

/* V's characters, escaped for a JSON string. */
static void
s_jraw(FILE *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p);
        }
        else if ((unsigned char) *p < 0x20) {
            fprintf(out, "\\u%04x", *p);
        }
        else {
            fputc(*p, out);
        }
    }
}

static void
s_jstr(FILE *out, const char *key, const char *v, bool comma)
{
    fprintf(out, "\"%s\":\"", key);
    s_jraw(out, v);
    fprintf(out, "\"%s", comma ? "," : "");
}

static void
s_jstats(FILE *out, const char *key, const double *v, int n, double scale)
{
    fprintf(out, "\"%s\":{", key);
    s_jnum(out, "median", b_median(v, n) * scale, true);
    s_jnum(out, "min", b_min(v, n) * scale, true);
    s_jnum(out, "max", b_max(v, n) * scale, false);
    fputs("},", out);
}

/* "ratio_zmq_proxy_band": the band of ratio_zmq_proxy (b_ratio_band):
 * {min, max, paired: whether round pairs made it (else min/max over
 * max/min), rounds: how many pairs}; null where ratio_zmq_proxy is. */
static void
s_jband(FILE *out, const b_case_t *k, b_contender_t c)
{
    double lo, hi;
    int base = b_baseline_of(c);
    int n = b_ratio_band(k, c, base, &lo, &hi);
    if (n < 0 || !isfinite(s_ratio(k, c, base))) {
        fputs("\"ratio_zmq_proxy_band\":null,", out);
        return;
    }
    fputs("\"ratio_zmq_proxy_band\":{", out);
    s_jnum(out, "min", lo, true);
    s_jnum(out, "max", hi, true);
    fprintf(out, "\"paired\":%s,", n > 0 ? "true" : "false");
    s_jnum(out, "rounds", n, false);
    fputs("},", out);
}

/* "rounds_msgs_per_s": msgs/s of each of the NROUNDS rounds by round,
 * null for a failed one. */
static void
s_jrounds(FILE *out, const b_case_t *k, b_contender_t c, int nrounds)
{
    const b_result_t *res = &k->res[c];
    fputs("\"rounds_msgs_per_s\":[", out);
    for (int round = 0; round < nrounds; round++) {
        int i = 0;
        while (i < res->nruns && res->round[i] != round) {
            i++;
        }
        fputs(round ? "," : "", out);
        if (i < res->nruns && isfinite(res->rate[i])) {
            fprintf(out, "%.6g", res->rate[i]);
        }
        else {
            fputs("null", out);
        }
    }
    fputs("],", out);
}

/* A goal's fields after "goal" and the others every goal has: a ratio's
 * band, a family's counts and its cells below. */
static void
s_jgoal(FILE *out, const b_report_t *r, const s_goal_t *g)
{
    fputs("{", out);
    s_jstr(out, "goal", g->name, true);
    s_jnum(out, "measured", g->value, true);
    s_jnum(out, "target", g->target, true);
    s_jstr(out, "compare", g->at_least ? ">=" : "<=", true);
    s_jnum(out, "band_min", g->lo, true);
    s_jnum(out, "band_max", g->hi, true);
    if (g->family >= -1) {
        s_jstr(out, "family",
               g->family >= 0 ? b_patterns[g->family].name : "all", true);
        fprintf(out, "\"cells\":%d,\"above\":%d,\"level\":%d,\"below\":%d,",
                g->cells, g->above, g->level, g->below);
        fputs("\"below_cells\":[", out);
        bool first = true;
        for (int i = 0; i < r->ncases; i++) {
            const b_case_t *k = &r->cases[i];
            if (!s_is_family(k->pattern, g->family)) {
                continue;
            }
            for (int j = 0; j < 2; j++) {
                double ratio, lo, hi;
                if (s_cell_class(k, s_zr_side[j], &ratio, &lo, &hi) != 0) {
                    continue;
                }
                fputs(first ? "{" : ",{", out);
                first = false;
                s_jstr(out, "pattern", b_patterns[k->pattern].name, true);
                s_jstr(out, "transport", b_transport_names[k->transport], true);
                s_jnum(out, "size", (double) k->size, true);
                s_jstr(out, "contender", b_contender_names[s_zr_side[j]], true);
                s_jnum(out, "ratio", ratio, true);
                s_jnum(out, "band_min", lo, true);
                s_jnum(out, "band_max", hi, false);
                fputs("}", out);
            }
        }
        fputs("],", out);
    }
    else {
        fputs("\"family\":null,", out);
    }
    s_jstr(out, "verdict", s_goal_verdict(g), false);
    fputs("}", out);
}

int
b_report_json(const b_report_t *r, FILE *out)
{
    s_machine_t m;
    s_machine(&m);
    const b_config_t *cfg = &r->cfg;
    fputs("{", out);
    s_jstr(out, "tool", "zrelay-bench", true);
    fputs("\"format\":1,", out);
    s_jstr(out, "mode", r->mode, true);
    s_jstr(out, "command", r->command, true);
    s_jstr(out, "started", r->started, true);
    s_jnum(out, "wall_s", r->wall_s, true);
    fprintf(out, "\"optimized\":%s,", r->optimized ? "true" : "false");
    fputs("\"machine\":{", out);
    s_jstr(out, "cpu", m.cpu, true);
    s_jnum(out, "cores", (double) m.cores, true);
    s_jstr(out, "memory", m.mem, true);
    s_jstr(out, "os", m.os, true);
    s_jstr(out, "kernel", m.kernel, true);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR,
             ZMQ_VERSION_PATCH);
    s_jstr(out, "libzmq", v, true);
    s_jstr(out, "zrelay", zr_version(), false);
    fputs("},\"settings\":{", out);
    s_jnum(out, "duration_s", cfg->duration_s, true);
    s_jnum(out, "reps", cfg->reps, true);
    s_jnum(out, "io_threads", cfg->io_threads, true);
    s_jnum(out, "sndhwm", cfg->sndhwm, true);
    s_jnum(out, "rcvhwm", cfg->rcvhwm, true);
    s_jnum(out, "window", cfg->window, true);
    s_jnum(out, "pin_proxy_cpu", cfg->pin_cpu, true);
    fputs("\"zrelay_args\":[", out);
    for (int i = 0; i < cfg->nzrelay_args; i++) {
        fputs(i ? "," : "", out);
        fputs("\"", out);
        s_jraw(out, cfg->zrelay_args[i]);
        fputs("\"", out);
    }
    fputs("],\"zrelay_latency_args\":[", out);
    for (int i = 0; i < cfg->nzrelay_lat_args; i++) {
        fputs(i ? "," : "", out);
        fputs("\"", out);
        s_jraw(out, cfg->zrelay_lat_args[i]);
        fputs("\"", out);
    }
    fputs("]},\"contenders\":[", out);
    for (int c = 0; c < B_NCONTENDERS; c++) {
        fprintf(out, "%s\"%s\"", c ? "," : "", b_contender_names[c]);
    }
    fprintf(out, "],\"planned_cases\":%d,\"cases\":[", r->ncases);
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        const b_pattern_info_t *info = &b_patterns[cs->pattern];
        fprintf(out, "%s{", k ? "," : "");
        s_jstr(out, "pattern", info->name, true);
        s_jstr(out, "transport", b_transport_names[cs->transport], true);
        s_jnum(out, "size", (double) cs->size, true);
        s_jstr(out, "unit", info->unit, true);
        /* zrelay-only patterns: the device options and the plain pattern
         * they are compared with (ratio_plain*). */
        if (info->plain >= 0) {
            s_jstr(out, "plain_pattern", b_patterns[info->plain].name, true);
        }
        else {
            fputs("\"plain_pattern\":null,", out);
        }
        fputs("\"options\":{", out);
        for (int i = 0; i < B_MAX_OPTS && info->opts[i].name; i++) {
            fputs(i ? "," : "", out);
            s_jstr(out, info->opts[i].name, info->opts[i].value, false);
        }
        fputs("},", out);
        fputs("\"results\":[", out);
        bool first = true;
        for (int c = 0; c < B_NCONTENDERS; c++) {
            if (!cs->has[c]) {
                continue;
            }
            const b_result_t *res = &cs->res[c];
            fprintf(out, "%s{", first ? "" : ",");
            first = false;
            s_jstr(out, "contender", b_contender_names[c], true);
            s_jnum(out, "runs", res->nruns, true);
            s_jnum(out, "failed", res->nfailed, true);
            s_jstats(out, "msgs_per_s", res->rate, res->nruns, 1.0);
            s_jstats(out, "mb_per_s", res->rate, res->nruns,
                     (double) cs->size / 1e6);
            s_jnum(out, "ratio_direct",
                   c == B_DIRECT ? NAN
                                 : s_ratio(cs, (b_contender_t) c, B_DIRECT),
                   true);
            s_jnum(out, "ratio_zmq_proxy",
                   s_ratio(cs, (b_contender_t) c,
                           b_baseline_of((b_contender_t) c)),
                   true);
            s_jband(out, cs, (b_contender_t) c);
            s_jrounds(out, cs, (b_contender_t) c,
                      cs->pattern == B_STALL ? 1 : cfg->reps);
            s_jnum(out, "ratio_plain",
                   s_plain_ratio(r, cs, (b_contender_t) c, c), true);
            s_jnum(out, "ratio_plain_zmq_proxy",
                   s_plain_ratio(r, cs, (b_contender_t) c,
                                 b_baseline_of((b_contender_t) c)),
                   true);
            if (info->latency) {
                fputs("\"latency_us\":{", out);
                s_jnum(out, "p50", s_latency(cs, (b_contender_t) c, 0.5) / 1e3,
                       true);
                s_jnum(out, "p90", s_latency(cs, (b_contender_t) c, 0.9) / 1e3,
                       true);
                s_jnum(out, "p99", s_latency(cs, (b_contender_t) c, 0.99) / 1e3,
                       true);
                s_jnum(out, "p999",
                       s_latency(cs, (b_contender_t) c, 0.999) / 1e3, true);
                s_jnum(out, "samples",
                       res->hist ? (double) res->hist->total : 0, false);
                fputs("},", out);
            }
            else {
                fputs("\"latency_us\":null,", out);
            }
            s_jnum(out, "proxy_cpu_s_per_M", b_median(res->cpu, res->nruns),
                   true);
            s_jnum(out, "proxy_loop_cpu_s_per_M",
                   b_median(res->loop_cpu, res->nruns), true);
            s_jnum(out, "proxy_peak_rss_mb", b_max(res->rss, res->nruns), true);
            s_jnum(out, "loss_pct", b_median(res->loss, res->nruns), true);
            if (cs->pattern == B_STALL && res->nruns) {
                fputs("\"stall\":{", out);
                s_jnum(out, "accepted", (double) res->sent[res->nruns - 1],
                       true);
                s_jnum(out, "rss_before_mb", res->rss_base[res->nruns - 1],
                       true);
                s_jnum(out, "rss_stalled_mb", res->rss_stalled[res->nruns - 1],
                       true);
                s_jnum(out, "growth_mb", s_stall_growth(res), true);
                s_jnum(out, "bound_mb", b_stall_bound_mb(cfg, cs->size), true);
                s_jnum(out, "proxy_cpu_pct", res->busy_pct[res->nruns - 1],
                       false);
                fputs("},", out);
            }
            s_jstr(out, "error", res->error, false);
            fputs("}", out);
        }
        fputs("]}", out);
    }
    fputs("],\"goals\":[", out);
    s_goal_t g[16];
    int n = s_goals(r, g, 16);
    for (int i = 0; i < n; i++) {
        fputs(i ? "," : "", out);
        s_jgoal(out, r, &g[i]);
    }
    fputs("],\"goals_13\":[", out);
    n = s_goals13(r, g, 16);
    for (int i = 0; i < n; i++) {
        fputs(i ? "," : "", out);
        s_jgoal(out, r, &g[i]);
    }
    fputs("]}\n", out);
    return ferror(out) ? -1 : 0;
}

static void
s_cnum(FILE *out, double v)
{
    if (isfinite(v)) {
        fprintf(out, ",%.6g", v);
    }
    else {
        fputs(",", out);
    }
}

int
b_report_csv(const b_report_t *r, FILE *out)
{
    fputs("pattern,transport,size,contender,runs,failed,"
          "msgs_per_s_median,msgs_per_s_min,msgs_per_s_max,"
          "mb_per_s_median,mb_per_s_min,mb_per_s_max,ratio_direct,"
          "ratio_zmq_proxy,p50_us,p90_us,p99_us,p999_us,proxy_cpu_s_per_M,"
          "proxy_loop_cpu_s_per_M,proxy_peak_rss_mb,loss_pct,ratio_plain,"
          "ratio_plain_zmq_proxy,ratio_zmq_proxy_min,ratio_zmq_proxy_max,"
          "ratio_zmq_proxy_paired\n",
          out);
    for (int k = 0; k < r->ncases; k++) {
        const b_case_t *cs = &r->cases[k];
        for (int c = 0; c < B_NCONTENDERS; c++) {
            if (!cs->has[c]) {
                continue;
            }
            const b_result_t *res = &cs->res[c];
            double mb = (double) cs->size / 1e6;
            fprintf(out, "%s,%s,%zu,%s,%d,%d", b_patterns[cs->pattern].name,
                    b_transport_names[cs->transport], cs->size,
                    b_contender_names[c], res->nruns, res->nfailed);
            s_cnum(out, b_median(res->rate, res->nruns));
            s_cnum(out, b_min(res->rate, res->nruns));
            s_cnum(out, b_max(res->rate, res->nruns));
            s_cnum(out, b_median(res->rate, res->nruns) * mb);
            s_cnum(out, b_min(res->rate, res->nruns) * mb);
            s_cnum(out, b_max(res->rate, res->nruns) * mb);
            s_cnum(out, c == B_DIRECT
                            ? NAN
                            : s_ratio(cs, (b_contender_t) c, B_DIRECT));
            s_cnum(out, s_ratio(cs, (b_contender_t) c,
                                b_baseline_of((b_contender_t) c)));
            static const double qs[] = {0.5, 0.9, 0.99, 0.999};
            for (int i = 0; i < 4; i++) {
                s_cnum(out, s_latency(cs, (b_contender_t) c, qs[i]) / 1e3);
            }
            s_cnum(out, b_median(res->cpu, res->nruns));
            s_cnum(out, b_median(res->loop_cpu, res->nruns));
            s_cnum(out, b_max(res->rss, res->nruns));
            s_cnum(out, b_median(res->loss, res->nruns));
            s_cnum(out, s_plain_ratio(r, cs, (b_contender_t) c, c));
            s_cnum(out, s_plain_ratio(r, cs, (b_contender_t) c,
                                      b_baseline_of((b_contender_t) c)));
            /* The band of ratio_zmq_proxy; paired 1: per-round ratios, 0:
             * min/max over max/min (a round failed on one side). */
            double lo, hi;
            int base = b_baseline_of((b_contender_t) c);
            int pairs = b_ratio_band(cs, (b_contender_t) c, base, &lo, &hi);
            bool band =
                pairs >= 0 && isfinite(s_ratio(cs, (b_contender_t) c, base));
            s_cnum(out, band ? lo : NAN);
            s_cnum(out, band ? hi : NAN);
            s_cnum(out, band ? (pairs > 0) : NAN);
            fputc('\n', out);
        }
    }
    return ferror(out) ? -1 : 0;
}

int
b_report_plot(const b_report_t *r, FILE *out)
{
    /* One block per pattern and transport, named for gnuplot's
     * `index "streamer tcp"`: size, then median msgs/s of each
     * contender, then MB/s of each. */
    for (int p = 0; p < B_NPATTERNS; p++) {
        for (int t = 0; t < B_NTRANSPORTS; t++) {
            bool any = false;
            for (int k = 0; k < r->ncases; k++) {
                const b_case_t *cs = &r->cases[k];
                if (cs->pattern != (b_pattern_t) p ||
                    cs->transport != (b_transport_t) t) {
                    continue;
                }
                if (!any) {
                    fprintf(out, "# %s %s\n# size", b_patterns[p].name,
                            b_transport_names[t]);
                    for (int c = 0; c < B_NCONTENDERS; c++) {
                        fprintf(out, " %s", b_contender_names[c]);
                    }
                    fputs(" (msgs/s, then MB/s)\n", out);
                    any = true;
                }
                fprintf(out, "%zu", cs->size);
                for (int pass = 0; pass < 2; pass++) {
                    for (int c = 0; c < B_NCONTENDERS; c++) {
                        double v = b_case_rate(cs, (b_contender_t) c);
                        v = pass ? v * (double) cs->size / 1e6 : v;
                        if (isfinite(v)) {
                            fprintf(out, " %.6g", v);
                        }
                        else {
                            fputs(" NaN", out);
                        }
                    }
                }
                fputc('\n', out);
            }
            if (any) {
                fputs("\n\n", out);
            }
        }
    }
    return ferror(out) ? -1 : 0;
}
