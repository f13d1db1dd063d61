/* cmd_top.c - `zrelay top`: a live view of a relay's devices, from the
 * STATS replies of its control endpoint (docs/CONTROL.md): rates per
 * device, drops by reason, connections, subscriptions and workers.
 * SPDX-License-Identifier: MIT
 *
 * On a terminal it redraws one screen every interval (the alternate
 * screen, ANSI escapes, termios for single keys; no curses: see
 * docs/DEPENDENCIES.md); elsewhere, or with --once or --json, it prints
 * plain blocks or JSON lines. Rates are differences of the counters
 * between two replies over the time between them, so the first screen
 * shows "-" and the first plain block comes after the second reply.
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static const char *s_help =
    "usage: zrelay top [EP] [--once] [--json] [--interval D] [--sort KEY]\n"
    "\n"
    "A live view of a running relay through its control endpoint (the\n"
    "daemon's, or one device's --control): one row per device with\n"
    "messages/s and bytes/s in and out, drops/s (by reason under the row),\n"
    "open connections, subscriptions and workers (ready/busy), then the\n"
    "totals. On a terminal it redraws every interval; keys: r sort by\n"
    "rate, d by drops, n by name, q quit. Elsewhere it prints a plain\n"
    "block per interval until interrupted.\n"
    "  EP       the control endpoint (an argument containing '://'); "
    "default\n"
    "           -c CONFIG's, else " CLI_DEFAULT_CONTROL " (the daemon's)\n"
    "\n"
    "Options:\n"
    "  --once          print one block (rates over one interval) and exit\n"
    "  --json          print a JSON object per interval, one per line\n"
    "  --interval D    time between two samples (default 1s)\n"
    "  --sort KEY      rate, drops or name (default name)\n"
    "  --timeout D     give up without a reply after D (default 2s)\n"
    "  -c, --config F  use the control endpoint of config file F\n"
    /* clang-format off */
    CLI_CTL_AUTH_HELP
    /* clang-format on */
    "  -h, --help      this text\n"
    "\n"
    "Exit status: 0 q, --once done, SIGINT or SIGTERM; 1 no reply or an\n"
    "error reply; 2 usage error.\n"
    "Example: zrelay top tcp://127.0.0.1:6000 --once\n";

typedef enum { S_SORT_NAME, S_SORT_RATE, S_SORT_DROPS } s_sort_t;
static const char *const s_sort_names[] = {"name", "rate", "drops"};

#define S_REASONS 16

/* One device in one STATS reply: both sockets added up. */
typedef struct {
    char name[64], type[24], state[16];
    double msgs_in, msgs_out, bytes_in, bytes_out;
    int nreasons;
    char reason[S_REASONS][32];
    double drops[S_REASONS];
    double connections;
    double subscriptions; /* -1: not a forwarder */
    double ready, busy;   /* -1: no workers (not a broker) */
} s_dev_t;

typedef struct {
    s_dev_t *devs;
    size_t n;
    int64_t at_ms;
} s_sample_t;

/* A device's rates between two samples. */
typedef struct {
    const s_dev_t *dev;
    bool rated; /* false: first sample of it, or its counters went back */
    double msgs_in, msgs_out, bytes_in, bytes_out, drops;
    double reason[S_REASONS]; /* per dev->reason */
} s_row_t;

typedef struct {
    const char *config, *endpoint;
    cli_ctl_auth_t auth;
    bool once, json;
    int64_t interval, timeout;
    s_sort_t sort;
    char from_config[512];
} s_top_t;

static volatile sig_atomic_t s_stop, s_winch;

static void
s_on_signal(int sig)
{
    if (sig == SIGWINCH) {
        s_winch = 1;
    }
    else {
        s_stop = sig;
    }
}

/* ---------------------------------------------------------------------
 * The terminal: keys one at a time without echo, the alternate screen,
 * no cursor; all of it undone on every way out (s_term_leave also runs
 * at exit).
 */

static struct termios s_saved;
static bool s_raw, s_screen;

static void
s_term_leave(void)
{
    if (s_screen) {
        fputs("\033[?25h\033[?1049l", stdout);
        fflush(stdout);
        s_screen = false;
    }
    if (s_raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &s_saved);
        s_raw = false;
    }
}

static void
s_term_enter(void)
{
    atexit(s_term_leave);
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &s_saved) == 0) {
        struct termios raw = s_saved;
        raw.c_lflag &= ~(tcflag_t) (ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
            s_raw = true;
        }
    }
    fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout);
    fflush(stdout);
    s_screen = true;
}

static void
s_term_size(int *rows, int *cols)
{
    struct winsize ws;
    *rows = 24;
    *cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
        ws.ws_col > 0) {
        *rows = ws.ws_row;
        *cols = ws.ws_col;
    }
}

/* ---------------------------------------------------------------------
 * Samples: what a STATS reply says, per device.
 */

static double
s_num(cJSON *obj, const char *key)
{
    cJSON *item = cJSON_GetObjectItem(obj, key);
    return cJSON_IsNumber(item) ? item->valuedouble : 0;
}

/* TEXT (a name, a state, a reason, an error: what the relay says) made
 * safe for a terminal in place: every control character, C0, DEL and C1
 * (UTF-8 0xc2 0x80-0x9f), becomes '?'. Raw, an escape sequence in a
 * reply would rewrite the screen, the title or the clipboard of whoever
 * runs top, and a newline would forge a row. */
static char *
s_clean(char *text)
{
    for (unsigned char *p = (unsigned char *) text; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            p[0] = '?';
            p[1] = '?';
            p++;
        }
    }
    return text;
}

static void
s_copy(char *out, size_t len, cJSON *obj, const char *key)
{
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(obj, key));
    snprintf(out, len, "%s", text ? text : "?");
    s_clean(out);
}

static void
s_add_drop(s_dev_t *d, const char *reason, double n)
{
    char clean[sizeof d->reason[0]];
    snprintf(clean, sizeof clean, "%s", reason);
    reason = s_clean(clean);
    for (int i = 0; i < d->nreasons; i++) {
        if (strcmp(d->reason[i], reason) == 0) {
            d->drops[i] += n;
            return;
        }
    }
    if (d->nreasons < S_REASONS) {
        snprintf(d->reason[d->nreasons], sizeof d->reason[0], "%s", reason);
        s_clean(d->reason[d->nreasons]);
        d->drops[d->nreasons++] = n;
    }
}

/* The workers of a broker: the object "workers" with "ready" and "busy"
 * in one of DEV's objects. */
static void
s_workers(s_dev_t *d, cJSON *dev)
{
    d->ready = d->busy = -1;
    cJSON *item;
    cJSON_ArrayForEach(item, dev)
    {
        cJSON *w = cJSON_GetObjectItem(item, "workers");
        if (cJSON_IsObject(w) &&
            cJSON_IsNumber(cJSON_GetObjectItem(w, "ready"))) {
            d->ready = s_num(w, "ready");
            d->busy = s_num(w, "busy");
            return;
        }
    }
}

static void
s_read_device(s_dev_t *d, cJSON *dev)
{
    memset(d, 0, sizeof *d);
    s_copy(d->name, sizeof d->name, dev, "name");
    s_copy(d->type, sizeof d->type, dev, "type");
    s_copy(d->state, sizeof d->state, dev, "state");
    static const char *const sides[] = {"frontend", "backend"};
    for (int i = 0; i < 2; i++) {
        cJSON *s = cJSON_GetObjectItem(dev, sides[i]);
        d->msgs_in += s_num(s, "msgs_in");
        d->msgs_out += s_num(s, "msgs_out");
        d->bytes_in += s_num(s, "bytes_in");
        d->bytes_out += s_num(s, "bytes_out");
        d->connections +=
            s_num(cJSON_GetObjectItem(s, "connections"), "connected");
        cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(s, "drops"))
        {
            /* r->string: NULL when "drops" is an array, not an object */
            if (cJSON_IsNumber(r) && r->string) {
                s_add_drop(d, r->string, r->valuedouble);
            }
        }
    }
    cJSON *capture = cJSON_GetObjectItem(dev, "capture");
    if (cJSON_IsTrue(cJSON_GetObjectItem(capture, "enabled"))) {
        s_add_drop(d, "capture", s_num(capture, "drops"));
    }
    cJSON *subs = cJSON_GetObjectItem(dev, "subscriptions");
    d->subscriptions = cJSON_IsObject(subs) ? s_num(subs, "total") : -1;
    s_workers(d, dev);
}

static int
s_dev_cmp(const void *a, const void *b)
{
    return strcmp(((const s_dev_t *) a)->name, ((const s_dev_t *) b)->name);
}

static void
s_sample_free(s_sample_t *s)
{
    free(s->devs);
    s->devs = NULL;
    s->n = 0;
}

/* TEXT, a STATS reply (the daemon's {"devices":[...]} or one device's
 * object), into S: 0, or -1 when it is not that. */
static int
s_sample_parse(s_sample_t *s, const char *text, size_t len, int64_t at)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    cJSON *devices = cJSON_GetObjectItem(root, "devices");
    size_t n =
        cJSON_IsArray(devices) ? (size_t) cJSON_GetArraySize(devices) : 1;
    s->devs = calloc(n ? n : 1, sizeof *s->devs);
    if (!s->devs) {
        cJSON_Delete(root);
        return -1;
    }
    s->n = 0;
    s->at_ms = at;
    if (cJSON_IsArray(devices)) {
        cJSON *dev;
        cJSON_ArrayForEach(dev, devices)
        {
            s_read_device(&s->devs[s->n++], dev);
        }
    }
    else if (cJSON_GetObjectItem(root, "name")) {
        s_read_device(&s->devs[s->n++], root);
    }
    else {
        cJSON_Delete(root);
        s_sample_free(s);
        return -1;
    }
    cJSON_Delete(root);
    /* By name, for s_rows' bsearch: a walk per device was quadratic
     * (30,000 devices: 10 s a screen). */
    qsort(s->devs, s->n, sizeof *s->devs, s_dev_cmp);
    return 0;
}

static double
s_per_s(double now, double then, double seconds)
{
    return (now - then) / seconds;
}

/* Rows of NOW's devices, rated against THEN (NULL: none yet). */
static s_row_t *
s_rows(const s_sample_t *now, const s_sample_t *then)
{
    s_row_t *rows = calloc(now->n ? now->n : 1, sizeof *rows);
    if (!rows) {
        return NULL;
    }
    double seconds = then ? (double) (now->at_ms - then->at_ms) / 1000 : 0;
    for (size_t i = 0; i < now->n; i++) {
        const s_dev_t *d = &now->devs[i];
        s_row_t *r = &rows[i];
        r->dev = d;
        const s_dev_t *p =
            then ? bsearch(d, then->devs, then->n, sizeof *d, s_dev_cmp) : NULL;
        /* Counters that went back: the device was started anew. */
        if (!p || seconds <= 0 || d->msgs_in < p->msgs_in ||
            d->msgs_out < p->msgs_out) {
            continue;
        }
        r->rated = true;
        r->msgs_in = s_per_s(d->msgs_in, p->msgs_in, seconds);
        r->msgs_out = s_per_s(d->msgs_out, p->msgs_out, seconds);
        r->bytes_in = s_per_s(d->bytes_in, p->bytes_in, seconds);
        r->bytes_out = s_per_s(d->bytes_out, p->bytes_out, seconds);
        for (int k = 0; k < d->nreasons; k++) {
            double before = 0;
            for (int m = 0; m < p->nreasons; m++) {
                if (strcmp(p->reason[m], d->reason[k]) == 0) {
                    before = p->drops[m];
                }
            }
            double rate = s_per_s(d->drops[k], before, seconds);
            r->reason[k] = rate > 0 ? rate : 0;
            r->drops += r->reason[k];
        }
    }
    return rows;
}

static s_sort_t s_order;

static int
s_compare(const void *a, const void *b)
{
    const s_row_t *x = a, *y = b;
    double kx = 0, ky = 0;
    if (s_order == S_SORT_RATE) {
        kx = x->msgs_in + x->msgs_out;
        ky = y->msgs_in + y->msgs_out;
    }
    else if (s_order == S_SORT_DROPS) {
        kx = x->drops;
        ky = y->drops;
    }
    if (kx != ky) {
        return kx < ky ? 1 : -1; /* the biggest first */
    }
    return strcmp(x->dev->name, y->dev->name);
}

/* ---------------------------------------------------------------------
 * Rendering.
 */

/* A rate in 7 characters: 12.3, 12.3k, 12.3M; "-" before it is known. */
static const char *
s_rate(char *out, size_t len, double v, bool rated)
{
    static const char units[] = " kMGT";
    int u = 0;
    if (!rated) {
        snprintf(out, len, "-");
        return out;
    }
    while (v >= 999.95 && u < 4) {
        v /= 1000;
        u++;
    }
    if (u == 0) {
        snprintf(out, len, "%.1f", v);
    }
    else {
        snprintf(out, len, "%.1f%c", v, units[u]);
    }
    return out;
}

static const char *
s_count(char *out, size_t len, double v)
{
    if (v < 0) {
        snprintf(out, len, "-");
    }
    else {
        snprintf(out, len, "%.0f", v);
    }
    return out;
}

/* Lines, each without its newline, for the screen or a plain block. */
typedef struct {
    char **lines;
    size_t n, cap;
} s_lines_t;

static void s_linef(s_lines_t *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_linef(s_lines_t *l, const char *fmt, ...)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        char **lines = realloc(l->lines, cap * sizeof *lines);
        if (!lines) {
            return;
        }
        l->lines = lines;
        l->cap = cap;
    }
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *line = strdup(text);
    if (line) {
        l->lines[l->n++] = line;
    }
}

static void
s_lines_free(s_lines_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->lines[i]);
    }
    free(l->lines);
    memset(l, 0, sizeof *l);
}

/* The table of ROWS (N, sorted): header, a row per device with its drop
 * reasons under it when it dropped, the totals. */
static void
s_table(s_lines_t *l, const s_row_t *rows, size_t n)
{
    int w = 6;
    for (size_t i = 0; i < n; i++) {
        int len = (int) strlen(rows[i].dev->name);
        w = len > w ? (len > 32 ? 32 : len) : w;
    }
    s_linef(l, "%-*s %-9s %-8s %9s %9s %9s %9s %8s %6s %6s %8s", w, "DEVICE",
            "TYPE", "STATE", "MSG/S IN", "MSG/S OUT", "B/S IN", "B/S OUT",
            "DROP/S", "CONNS", "SUBS", "WORKERS");
    s_row_t total = {.rated = n > 0};
    double conns = 0, subs = -1, ready = -1, busy = 0;
    char a[5][16], c[3][24];
    for (size_t i = 0; i < n; i++) {
        const s_row_t *r = &rows[i];
        const s_dev_t *d = r->dev;
        if (d->ready >= 0) {
            snprintf(c[2], sizeof c[2], "%.0f/%.0f", d->ready, d->busy);
            ready = (ready < 0 ? 0 : ready) + d->ready;
            busy += d->busy;
        }
        else {
            snprintf(c[2], sizeof c[2], "-");
        }
        s_linef(l, "%-*.*s %-9.9s %-8.8s %9s %9s %9s %9s %8s %6s %6s %8s", w, w,
                d->name, d->type, d->state,
                s_rate(a[0], 16, r->msgs_in, r->rated),
                s_rate(a[1], 16, r->msgs_out, r->rated),
                s_rate(a[2], 16, r->bytes_in, r->rated),
                s_rate(a[3], 16, r->bytes_out, r->rated),
                s_rate(a[4], 16, r->drops, r->rated),
                s_count(c[0], 24, d->connections),
                s_count(c[1], 24, d->subscriptions), c[2]);
        if (r->rated && r->drops > 0) {
            char why[512] = "";
            size_t used = 0;
            for (int k = 0; k < d->nreasons && used < sizeof why; k++) {
                if (r->reason[k] > 0) {
                    char v[16];
                    int m = snprintf(why + used, sizeof why - used, "%s%s %s",
                                     used ? ", " : "", d->reason[k],
                                     s_rate(v, sizeof v, r->reason[k], true));
                    used += m > 0 ? (size_t) m : 0;
                }
            }
            s_linef(l, "%*s drops/s: %s", w, "", why);
        }
        total.rated = total.rated && r->rated;
        total.msgs_in += r->msgs_in;
        total.msgs_out += r->msgs_out;
        total.bytes_in += r->bytes_in;
        total.bytes_out += r->bytes_out;
        total.drops += r->drops;
        conns += d->connections;
        if (d->subscriptions >= 0) {
            subs = (subs < 0 ? 0 : subs) + d->subscriptions;
        }
    }
    if (ready >= 0) {
        snprintf(c[2], sizeof c[2], "%.0f/%.0f", ready, busy);
    }
    else {
        snprintf(c[2], sizeof c[2], "-");
    }
    char devices[32];
    snprintf(devices, sizeof devices, "%zu device%s", n, n == 1 ? "" : "s");
    s_linef(l, "%-*s %-9s %-8s %9s %9s %9s %9s %8s %6s %6s %8s", w, "TOTAL",
            devices, "", s_rate(a[0], 16, total.msgs_in, total.rated),
            s_rate(a[1], 16, total.msgs_out, total.rated),
            s_rate(a[2], 16, total.bytes_in, total.rated),
            s_rate(a[3], 16, total.bytes_out, total.rated),
            s_rate(a[4], 16, total.drops, total.rated),
            s_count(c[0], 24, conns), s_count(c[1], 24, subs), c[2]);
}

static void
s_clock(char *out, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, len, "%H:%M:%S", &tm);
}

/* The screen: the title, a status line, the table; LINES cut to the
 * terminal's size. */
static void
s_draw_screen(const s_top_t *top, const s_row_t *rows, size_t n,
              const char *status)
{
    int height, width;
    s_term_size(&height, &width);
    s_lines_t l = {0};
    char now[16];
    s_clock(now, sizeof now);
    s_linef(&l,
            "zrelay top - %s - %s - every %.3gs - sort: %s  (r rate, d drops, "
            "n name, q quit)",
            top->endpoint, now, (double) top->interval / 1000,
            s_sort_names[top->sort]);
    s_linef(&l, "%s", status ? status : "");
    s_table(&l, rows, n);
    fputs("\033[H", stdout);
    for (size_t i = 0; i < l.n && (int) i < height; i++) {
        /* The bottom line without its newline: no scroll. */
        fprintf(stdout, "%.*s\033[K%s", width, l.lines[i],
                (int) i + 1 < height ? "\n" : "");
    }
    fputs("\033[J", stdout);
    fflush(stdout);
    s_lines_free(&l);
}

static void
s_print_plain(const s_top_t *top, const s_row_t *rows, size_t n)
{
    s_lines_t l = {0};
    char now[16];
    s_clock(now, sizeof now);
    s_linef(&l, "zrelay top - %s - %s - over %.3gs", top->endpoint, now,
            (double) top->interval / 1000);
    s_table(&l, rows, n);
    for (size_t i = 0; i < l.n; i++) {
        printf("%s\n", l.lines[i]);
    }
    printf("\n");
    fflush(stdout);
    s_lines_free(&l);
}

static void
s_json_rates(cJSON *obj, const s_row_t *r)
{
    cJSON_AddNumberToObject(obj, "msgs_in_per_s", r->msgs_in);
    cJSON_AddNumberToObject(obj, "msgs_out_per_s", r->msgs_out);
    cJSON_AddNumberToObject(obj, "bytes_in_per_s", r->bytes_in);
    cJSON_AddNumberToObject(obj, "bytes_out_per_s", r->bytes_out);
    cJSON_AddNumberToObject(obj, "drops_per_s", r->drops);
}

static void
s_print_json(const s_top_t *top, const s_row_t *rows, size_t n, double seconds)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "endpoint", top->endpoint);
    cJSON_AddNumberToObject(root, "time", (double) time(NULL));
    cJSON_AddNumberToObject(root, "seconds", seconds);
    cJSON *devices = cJSON_AddArrayToObject(root, "devices");
    s_row_t total = {0};
    double conns = 0;
    for (size_t i = 0; i < n; i++) {
        const s_row_t *r = &rows[i];
        const s_dev_t *d = r->dev;
        cJSON *dev = cJSON_CreateObject();
        cJSON_AddStringToObject(dev, "name", d->name);
        cJSON_AddStringToObject(dev, "type", d->type);
        cJSON_AddStringToObject(dev, "state", d->state);
        s_json_rates(dev, r);
        cJSON *reasons = cJSON_AddObjectToObject(dev, "drops_by_reason_per_s");
        for (int k = 0; k < d->nreasons; k++) {
            cJSON_AddNumberToObject(reasons, d->reason[k], r->reason[k]);
        }
        cJSON_AddNumberToObject(dev, "connections", d->connections);
        if (d->subscriptions >= 0) {
            cJSON_AddNumberToObject(dev, "subscriptions", d->subscriptions);
        }
        if (d->ready >= 0) {
            cJSON *w = cJSON_AddObjectToObject(dev, "workers");
            cJSON_AddNumberToObject(w, "ready", d->ready);
            cJSON_AddNumberToObject(w, "busy", d->busy);
        }
        cJSON_AddItemToArray(devices, dev);
        total.msgs_in += r->msgs_in;
        total.msgs_out += r->msgs_out;
        total.bytes_in += r->bytes_in;
        total.bytes_out += r->bytes_out;
        total.drops += r->drops;
        conns += d->connections;
    }
    cJSON *totals = cJSON_AddObjectToObject(root, "totals");
    s_json_rates(totals, &total);
    cJSON_AddNumberToObject(totals, "connections", conns);
    char *text = cJSON_PrintUnformatted(root);
    if (text) {
        printf("%s\n", text);
        fflush(stdout);
        cJSON_free(text);
    }
    cJSON_Delete(root);
}

/* ---------------------------------------------------------------------
 * The loop: ask STATS every interval, show what came, read keys.
 */

typedef struct {
    s_top_t *top;
    bool screen;
    void *ctx, *req;
    s_sample_t now, then;
    bool in_flight, answered;
    int64_t sent_at, next_at;
    char status[256];
} s_loop_t;

/* Rows of the last two samples, sorted, drawn or printed. Returns true
 * once --once has printed. */
static bool
s_show(s_loop_t *lp)
{
    s_top_t *top = lp->top;
    const s_sample_t *then = lp->then.devs ? &lp->then : NULL;
    if (!lp->screen && !then) {
        return false; /* a plain block has rates or is not printed */
    }
    s_row_t *rows = s_rows(&lp->now, then);
    if (!rows) {
        return false;
    }
    s_order = top->sort;
    qsort(rows, lp->now.n, sizeof *rows, s_compare);
    if (lp->screen) {
        s_draw_screen(top, rows, lp->now.n, lp->status);
    }
    else if (top->json) {
        s_print_json(top, rows, lp->now.n,
                     (double) (lp->now.at_ms - lp->then.at_ms) / 1000);
    }
    else {
        s_print_plain(top, rows, lp->now.n);
    }
    free(rows);
    return top->once;
}

static int
s_send(s_loop_t *lp)
{
    int status = CLI_OK;
    if (!lp->req) {
        lp->req = cli_ctl_socket(lp->ctx, "top", lp->top->endpoint,
                                 &lp->top->auth, &status);
        if (!lp->req) {
            return status;
        }
    }
    zmq_send(lp->req, "STATS", 5, ZMQ_DONTWAIT);
    lp->in_flight = true;
    lp->sent_at = cli_now_ms();
    return CLI_OK;
}

/* The reply on REQ: -1 to go on, or the exit status. */
static int
s_receive(s_loop_t *lp)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, lp->req, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    lp->in_flight = false;
    const char *text = zmq_msg_data(&msg);
    size_t len = zmq_msg_size(&msg);
    /* What an error reply said, at most 200 bytes, terminal-safe. */
    char said[201];
    snprintf(said, sizeof said, "%.*s", (int) (len > 200 ? 200 : len), text);
    s_clean(said);
    if (len >= 5 && strncmp(text, "ERROR", 5) == 0) {
        s_term_leave();
        int status = cli_error(CLI_FAILURE, "top: %s answered: %s",
                               lp->top->endpoint, said);
        zmq_msg_close(&msg);
        return status;
    }
    s_sample_t sample = {0};
    if (s_sample_parse(&sample, text, len, cli_now_ms()) != 0) {
        s_term_leave();
        int status =
            cli_error(CLI_FAILURE, "top: the reply is not STATS: %s", said);
        zmq_msg_close(&msg);
        return status;
    }
    zmq_msg_close(&msg);
    lp->answered = true;
    lp->status[0] = 0;
    s_sample_free(&lp->then);
    lp->then = lp->now;
    lp->now = sample;
    return s_show(lp) ? CLI_OK : -1;
}

/* Keys waiting on standard input: -1 to go on, or the exit status. */
static int
s_keys(s_loop_t *lp)
{
    char keys[64];
    ssize_t n = read(STDIN_FILENO, keys, sizeof keys);
    bool redraw = false;
    for (ssize_t i = 0; i < n; i++) {
        switch (keys[i]) {
        case 'q':
        case 'Q': return CLI_OK;
        case 'r':
        case 'R':
            lp->top->sort = S_SORT_RATE;
            redraw = true;
            break;
        case 'd':
        case 'D':
            lp->top->sort = S_SORT_DROPS;
            redraw = true;
            break;
        case 'n':
        case 'N':
            lp->top->sort = S_SORT_NAME;
            redraw = true;
            break;
        default: break;
        }
    }
    if (redraw && lp->now.devs) {
        s_show(lp);
    }
    return -1;
}

static int
s_run(s_loop_t *lp)
{
    s_top_t *top = lp->top;
    lp->next_at = cli_now_ms();
    for (;;) {
        if (s_stop) {
            return CLI_OK;
        }
        if (s_winch) {
            s_winch = 0;
            if (lp->now.devs) {
                s_show(lp);
            }
        }
        int64_t now = cli_now_ms();
        if (!lp->in_flight && now >= lp->next_at) {
            int status = s_send(lp);
            if (status != CLI_OK) {
                return status;
            }
            /* The next one an interval after this one, not after the
             * reply: a steady rhythm. */
            lp->next_at += top->interval;
            if (lp->next_at < now) {
                lp->next_at = now + top->interval;
            }
        }
        if (lp->in_flight && now - lp->sent_at >= top->timeout) {
            /* A REQ waiting for a reply that will not come can send no
             * more: a new socket. */
            zmq_close(lp->req);
            lp->req = NULL;
            lp->in_flight = false;
            if (!lp->screen || !lp->answered) {
                s_term_leave();
                return cli_error(CLI_FAILURE,
                                 "top: no reply from %s within %lld ms (is a "
                                 "relay running there with a control "
                                 "endpoint?)",
                                 top->endpoint, (long long) top->timeout);
            }
            char at[16];
            s_clock(at, sizeof at);
            snprintf(lp->status, sizeof lp->status,
                     "%s: no reply from %s within %lld ms; asking again", at,
                     top->endpoint, (long long) top->timeout);
            s_show(lp);
            continue;
        }
        int64_t wait = lp->in_flight ? lp->sent_at + top->timeout - now
                                     : lp->next_at - now;
        zmq_pollitem_t items[2] = {
            {.socket = lp->req, .events = ZMQ_POLLIN},
            {.fd = STDIN_FILENO, .events = ZMQ_POLLIN},
        };
        int nitems = lp->screen && s_raw ? 2 : 1;
        if (!lp->in_flight) {
            items[0] = items[1];
            nitems--;
        }
        int rc = zmq_poll(items, nitems, (long) (wait > 0 ? wait : 0));
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            s_term_leave();
            return cli_error(CLI_FAILURE, "top: %s", zr_strerror(errno));
        }
        for (int i = 0; i < nitems; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) {
                continue;
            }
            int status = items[i].socket ? s_receive(lp) : s_keys(lp);
            if (status >= 0) {
                return status;
            }
        }
    }
}

/* Options, then [EP]: -1 to go on, or the exit status. */
static int
s_parse(s_top_t *top, int argc, char **argv)
{
    static const struct option options[] = {
        {"once", no_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"interval", required_argument, NULL, 'i'},
        {"sort", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        CLI_CTL_AUTH_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":hc:", options, NULL)) != -1) {
        if (cli_ctl_auth_option(&top->auth, opt, optarg)) {
            continue;
        }
        switch (opt) {
        case 'o': top->once = true; break;
        case 'j': top->json = true; break;
        case 'c': top->config = optarg; break;
        case 'i':
            if (cli_duration("--interval", optarg, &top->interval) != 0) {
                return CLI_USAGE;
            }
            if (top->interval < 10) {
                return cli_error(CLI_USAGE,
                                 "top: --interval: '%s' is below 10ms", optarg);
            }
            break;
        case 't':
            if (cli_duration("--timeout", optarg, &top->timeout) != 0) {
                return CLI_USAGE;
            }
            break;
        case 's': {
            bool known = false;
            for (int i = 0; i < 3; i++) {
                if (strcmp(optarg, s_sort_names[i]) == 0) {
                    top->sort = (s_sort_t) i;
                    known = true;
                }
            }
            if (!known) {
                return cli_error(CLI_USAGE,
                                 "top: --sort: '%s' is not rate, drops or "
                                 "name",
                                 optarg);
            }
            break;
        }
        case 'h': fputs(s_help, stdout); return CLI_OK;
        case ':':
            return cli_error(CLI_USAGE, "top: option '%s' needs a value",
                             argv[optind - 1]);
        default: return cli_bad_option("top", argv, optind, options);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (strstr(argv[i], "://") && !top->endpoint) {
            top->endpoint = argv[i];
        }
        else {
            return cli_error(CLI_USAGE,
                             "top: unexpected argument '%s' (the control "
                             "endpoint contains '://')",
                             argv[i]);
        }
    }
    return -1;
}

int
cmd_top(int argc, char **argv)
{
    s_top_t top = {.interval = 1000, .timeout = 2000, .sort = S_SORT_NAME};
    int status = s_parse(&top, argc, argv);
    if (status >= 0) {
        return status;
    }
    if (!top.endpoint && top.config) {
        status = cli_ctl_config_endpoint("top", top.config, top.from_config,
                                         sizeof top.from_config);
        if (status != CLI_OK) {
            return status;
        }
        top.endpoint = top.from_config;
    }
    if (!top.endpoint) {
        top.endpoint = CLI_DEFAULT_CONTROL;
    }
    /* No SA_RESTART: the signal ends zmq_poll's wait (EINTR). */
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);

    s_loop_t lp = {.top = &top};
    lp.screen = !top.once && !top.json && isatty(STDOUT_FILENO);
    lp.ctx = zmq_ctx_new();
    /* The socket before the screen: a bad endpoint or key is said on a
     * terminal left as it was. */
    lp.req = cli_ctl_socket(lp.ctx, "top", top.endpoint, &top.auth, &status);
    if (lp.req) {
        if (lp.screen) {
            s_term_enter();
        }
        status = s_run(&lp);
        s_term_leave();
        if (lp.req) {
            zmq_close(lp.req);
        }
    }
    zmq_ctx_term(lp.ctx);
    s_sample_free(&lp.now);
    s_sample_free(&lp.then);
    return status;
}
