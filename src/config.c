/* config.c - the config file: INI parsed by libinih, a [zrelay] section
 * for the daemon and one [TYPE NAME] section per device, every problem
 * named by file:line.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_DEFAULT_CONTROL "tcp://127.0.0.1:5558"
/* The embedded default's HTTP endpoint; without the key there is none. */
#define S_DEFAULT_HTTP "127.0.0.1:9558"
/* A config file is read no further: a file this large is not one. */
#define S_MAX_BYTES (1 << 20)
#define S_MAX_BYTES_TEXT "1 MiB"

static const char *const s_global_keys[] = {
    "control", "log_level", "io_threads", "linger", "allow_empty",
    /* auth lane: the control endpoint's security */
    "control_curve_secret", "control_curve_allow", "control_insecure",
    /* the HTTP endpoint */
    "http"};
#define S_NGLOBAL (sizeof s_global_keys / sizeof s_global_keys[0])

typedef struct {
    char *key, *value;
    int line;
} s_kv_t;

typedef struct {
    zr_device_type_t type;
    char *name;
    int line; /* of the section header */
    s_kv_t *keys;
    size_t nkeys;
} s_section_t;

struct zr_config_t {
    char *path;
    char *control;
    int control_line;
    int log_level, io_threads, linger; /* -1: not set */
    bool allow_empty;                  /* no device section is no error */
    char *control_curve_secret;        /* auth lane: NULL when not set */
    char *control_curve_allow;
    bool control_insecure;
    char *http;                  /* [zrelay] http, NULL: off */
    int global_lines[S_NGLOBAL]; /* where each [zrelay] key was set */
    s_section_t *devices;
    size_t ndevices;
    size_t *names, names_cap; /* a hash set of devices: index + 1, 0 free */
    char **errors;
    int *error_lines;
    size_t nerrors;
    /* While parsing: */
    int line;             /* the line inih is on */
    s_section_t *current; /* NULL: [zrelay] or a bad section */
    bool refused;         /* the current section was refused */
    bool in_global;
    int global_line;
    bool oom;
};

static const char s_default[] =
    "# zrelay's embedded default: the seed's topology, on loopback as the\n"
    "# seed's own proxies bind. To open it to the network, bind '*' or an\n"
    "# address of this host instead of 127.0.0.1 (see zrelay.conf(5)).\n"
    "\n"
    "[zrelay]\n"
    "control = " S_DEFAULT_CONTROL "\n"
    "# Prometheus /metrics, /stats, /healthz, /readyz (docs/METRICS.md).\n"
    "http = " S_DEFAULT_HTTP "\n"
    "\n"
    "# S1: publishers connect to 5559, subscribers to 5560. S2's lost first\n"
    "# message: a publisher that must not lose it waits at 5565 until the\n"
    "# subscriptions reached it (zrelay pub --sync, zr_sync_wait()).\n"
    "[forwarder seed-pubsub]\n"
    "frontend = @tcp://127.0.0.1:5559\n"
    "backend = @tcp://127.0.0.1:5560\n"
    "sync = @tcp://127.0.0.1:5565\n"
    "\n"
    "# S2: the handshake's requesters connect to 5561, repliers to 5562.\n"
    "[queue seed-handshake]\n"
    "frontend = @tcp://127.0.0.1:5561\n"
    "backend = @tcp://127.0.0.1:5562\n"
    "\n"
    "# S6: asynchronous clients connect to 5570, workers to 5571.\n"
    "[queue seed-async]\n"
    "frontend = @tcp://127.0.0.1:5570\n"
    "backend = @tcp://127.0.0.1:5571\n"
    "\n"
    "# Services by name (the ZeroMQ Guide's Majordomo, MDP/0.1 and 0.2):\n"
    "# clients and workers both connect to 5555 (docs/MAJORDOMO.md).\n"
    "[majordomo services]\n"
    "frontend = @tcp://127.0.0.1:5555\n";

const char *
zr_config_default_text(void)
{
    return s_default;
}

static char *
s_strdup(zr_config_t *self, const char *s)
{
    char *copy = strdup(s ? s : "");
    if (!copy) {
        self->oom = true;
    }
    return copy;
}

/* The room an array of N elements is given to take one more: twice as
 * much each time it is full (8, 16, 32, ...), never one more, which cost
 * a copy of the whole array per device (quadratic under ASan). */
static size_t
s_room(size_t n)
{
    if (n < 8) {
        return 8;
    }
    return (n & (n - 1)) == 0 ? 2 * n : n + 1;
}

/* PTR (N elements of SIZE) with room for one more: PTR itself when it
 * has it (the room is s_room's, implied by N), else grown; NULL when out
 * of memory, PTR still valid. */
static void *
s_grow(void *ptr, size_t n, size_t size)
{
    if (ptr && n >= 8 && (n & (n - 1)) != 0) {
        return ptr;
    }
    return realloc(ptr, s_room(n) * size);
}

static void s_error(zr_config_t *self, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_error(zr_config_t *self, int line, const char *fmt, ...)
{
    char msg[600], full[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) {
        snprintf(full, sizeof full, "%s:%d: %s", self->path, line, msg);
    }
    else {
        snprintf(full, sizeof full, "%s: %s", self->path, msg);
    }
    char **errors = s_grow(self->errors, self->nerrors, sizeof *errors);
    if (errors) {
        self->errors = errors;
    }
    int *lines = s_grow(self->error_lines, self->nerrors, sizeof *lines);
    if (lines) {
        self->error_lines = lines;
    }
    char *copy = strdup(full);
    if (!errors || !lines || !copy) {
        free(copy);
        self->oom = true;
        return;
    }
    self->error_lines[self->nerrors] = line;
    self->errors[self->nerrors++] = copy;
}

/* Levenshtein distance, for "did you mean". */
static size_t
s_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) {
        return 99;
    }
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best) {
                best = row[j] + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The candidate nearest WORD, when near enough to be a typo. */
static const char *
s_nearest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = 99;
    for (size_t i = 0; i < n; i++) {
        size_t d = s_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    size_t limit = strlen(word) / 3 + 1;
    return best && best_d <= limit ? best : NULL;
}

/* Every key a section of TYPE accepts (global keys for type 0). */
static size_t
s_keys_for(int type, const char **out, size_t max)
{
    size_t n = 0;
    if (type == 0) {
        for (size_t i = 0; i < S_NGLOBAL && n < max; i++) {
            out[n++] = s_global_keys[i];
        }
        return n;
    }
    const zr_option_t *o;
    for (size_t i = 0; (o = zr_option(i)) && n < max; i++) {
        if (zr_option_applies(o, (zr_device_type_t) type)) {
            out[n++] = o->name;
        }
    }
    return n;
}

static bool
s_valid_name(const char *name)
{
    if (!*name) {
        return false;
    }
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char) *p) && !strchr("-_.", *p)) {
            return false;
        }
    }
    return true;
}

/* A new section: "[zrelay]" or "[TYPE NAME]". */
/* The slot of NAME in the set of device names: holding its index + 1,
 * or 0 where it would go; NULL out of memory. A set, not a walk over
 * every device: `zrelay check` of 20,000 devices took 10 s. */
static size_t *
s_name_slot(zr_config_t *self, const char *name)
{
    if (2 * (self->ndevices + 1) > self->names_cap) {
        size_t cap = self->names_cap ? 2 * self->names_cap : 64;
        size_t *names = calloc(cap, sizeof *names);
        if (!names) {
            return NULL;
        }
        for (size_t i = 0; i < self->ndevices; i++) {
            const char *n = self->devices[i].name;
            if (!n) {
                continue;
            }
            size_t at = zr__hash(n, strlen(n)) & (cap - 1);
            while (names[at]) {
                at = (at + 1) & (cap - 1);
            }
            names[at] = i + 1;
        }
        free(self->names);
        self->names = names;
        self->names_cap = cap;
    }
    size_t at = zr__hash(name, strlen(name)) & (self->names_cap - 1);
    while (self->names[at] &&
           strcmp(self->devices[self->names[at] - 1].name, name) != 0) {
        at = (at + 1) & (self->names_cap - 1);
    }
    return &self->names[at];
}

static void
s_section(zr_config_t *self, const char *header, int line)
{
    self->current = NULL;
    self->in_global = false;
    self->refused = true; /* until proven good */
    char type[64] = "", name[200] = "", extra[8] = "";
    int n = sscanf(header, "%63s %199s %7s", type, name, extra);
    if (n <= 0) {
        s_error(self, line, "empty section name []");
        return;
    }
    if (strcmp(type, "zrelay") == 0) {
        if (n > 1) {
            s_error(self, line, "[zrelay] takes no name");
            return;
        }
        if (self->global_line) {
            s_error(self, line,
                    "a second [zrelay] section (the first is at "
                    "line %d)",
                    self->global_line);
            return;
        }
        self->in_global = true;
        self->refused = false;
        self->global_line = line;
        return;
    }
    int t = zr_device_type_from_name(type);
    if (t < 0) {
        static const char *const types[] = {"forwarder", "queue", "streamer",
                                            "zrelay"};
        const char *near = s_nearest(type, types, 4);
        if (near) {
            s_error(self, line,
                    "unknown section type '%s' (did you mean "
                    "'%s'?)",
                    type, near);
        }
        else {
            s_error(self, line,
                    "unknown section type '%s' (sections are [zrelay], "
                    "[forwarder NAME], [queue NAME], [streamer NAME])",
                    type);
        }
        return;
    }
    if (n == 1) {
        s_error(self, line, "section [%s] needs a name: [%s NAME]", type, type);
        return;
    }
    if (n > 2 || !s_valid_name(name)) {
        s_error(self, line,
                "bad device name in [%s]: a name is one word of letters, "
                "digits, '-', '_', '.'",
                header);
        return;
    }
    size_t *first = s_name_slot(self, name);
    if (first && *first) {
        s_error(self, line, "duplicate device name '%s' (first at line %d)",
                name, self->devices[*first - 1].line);
        return;
    }
    if (!first) {
        self->oom = true;
        return;
    }
    s_section_t *devices =
        s_grow(self->devices, self->ndevices, sizeof *devices);
    if (!devices) {
        self->oom = true;
        return;
    }
    self->devices = devices;
    s_section_t *d = &self->devices[self->ndevices++];
    memset(d, 0, sizeof *d);
    d->type = (zr_device_type_t) t;
    d->name = s_strdup(self, name);
    d->line = line;
    if (d->name) {
        *first = self->ndevices;
    }
    self->current = d;
    self->refused = false;
}

static void
s_global_key(zr_config_t *self, const char *key, const char *value, int line)
{
    int64_t n;
    for (size_t i = 0; i < S_NGLOBAL; i++) {
        if (strcmp(key, s_global_keys[i]) == 0) {
            if (self->global_lines[i]) {
                s_error(self, line,
                        "'%s' is set twice in [zrelay] (first at line %d)", key,
                        self->global_lines[i]);
                return;
            }
            self->global_lines[i] = line;
        }
    }
    if (strcmp(key, "control") == 0) {
        char err[400];
        zr_endpoints_t *eps = zr_endpoints_parse(value, true, err, sizeof err);
        if (!eps) {
            s_error(self, line, "control: %s", err);
            return;
        }
        zr_endpoints_destroy(&eps);
        free(self->control);
        self->control = s_strdup(self, value);
        self->control_line = line;
    }
    else if (strcmp(key, "log_level") == 0) {
        int level = zr_log_level_from_name(value);
        if (level < 0) {
            s_error(self, line,
                    "log_level: '%s' is not one of error, "
                    "warning, notice, info, debug",
                    value);
            return;
        }
        self->log_level = level;
    }
    else if (strcmp(key, "io_threads") == 0) {
        if (zr__parse_int(value, 1, 64, &n) != 0) {
            s_error(self, line,
                    "io_threads: '%s' is not a number from 1 to "
                    "64",
                    value);
            return;
        }
        self->io_threads = (int) n;
    }
    else if (strcmp(key, "linger") == 0) {
        if (zr__parse_duration(value, &n) != 0 || n > INT32_MAX) {
            s_error(self, line,
                    "linger: '%s' is not a duration (500ms, 2s, 1m; a bare "
                    "number is milliseconds)",
                    value);
            return;
        }
        self->linger = (int) n;
    }
    else if (strcmp(key, "http") == 0) {
        struct sockaddr_storage sa;
        unsigned salen;
        char err[300];
        if (*value && zr__http_parse(value, &sa, &salen, err, sizeof err)) {
            s_error(self, line, "http: %s", err);
            return;
        }
        free(self->http);
        self->http = *value ? s_strdup(self, value) : NULL;
    }
    else if (strcmp(key, "control_curve_secret") == 0) {
        free(self->control_curve_secret);
        self->control_curve_secret = s_strdup(self, value);
    }
    else if (strcmp(key, "control_curve_allow") == 0) {
        free(self->control_curve_allow);
        self->control_curve_allow = s_strdup(self, value);
    }
    else if (strcmp(key, "control_insecure") == 0) {
        if (zr_parse_bool(value, &self->control_insecure) != 0) {
            s_error(self, line, "control_insecure: '%s' is not true or false",
                    value);
        }
    }
    else if (strcmp(key, "allow_empty") == 0) {
        if (zr_parse_bool(value, &self->allow_empty) != 0) {
            s_error(self, line, "allow_empty: '%s' is not true or false",
                    value);
        }
    }
    else {
        const char *near = s_nearest(key, s_global_keys, S_NGLOBAL);
        if (near) {
            s_error(self, line,
                    "unknown key '%s' in [zrelay] (did you mean "
                    "'%s'?)",
                    key, near);
        }
        else {
            s_error(self, line,
                    "unknown key '%s' in [zrelay] (keys: control, log_level, "
                    "io_threads, linger, allow_empty, control_curve_secret, "
                    "control_curve_allow, control_insecure, http)",
                    key);
        }
    }
}

static void
s_device_key(zr_config_t *self, s_section_t *d, const char *key,
             const char *value, int line)
{
    const zr_option_t *opt = zr_option_find(key);
    if (!opt || strchr(key, '-')) {
        const char *keys[64];
        size_t n = s_keys_for((int) d->type, keys, 64);
        const char *near = s_nearest(key, keys, n);
        if (near) {
            s_error(self, line,
                    "unknown key '%s' in [%s %s] (did you mean "
                    "'%s'?)",
                    key, zr_device_type_name(d->type), d->name, near);
        }
        else {
            s_error(self, line,
                    "unknown key '%s' in [%s %s] (see zrelay.conf(5) for "
                    "the keys of a %s)",
                    key, zr_device_type_name(d->type), d->name,
                    zr_device_type_name(d->type));
        }
        return;
    }
    if (!zr_option_applies(opt, d->type)) {
        s_error(self, line, "'%s' does not apply to a %s", key,
                zr_device_type_name(d->type));
        return;
    }
    for (size_t i = 0; i < d->nkeys; i++) {
        if (strcmp(d->keys[i].key, key) == 0) {
            s_error(self, line,
                    "'%s' is set twice in [%s %s] (first at line "
                    "%d)",
                    key, zr_device_type_name(d->type), d->name,
                    d->keys[i].line);
            return;
        }
    }
    s_kv_t *keys = realloc(d->keys, (d->nkeys + 1) * sizeof *keys);
    if (!keys) {
        self->oom = true;
        return;
    }
    d->keys = keys;
    d->keys[d->nkeys].key = s_strdup(self, key);
    d->keys[d->nkeys].value = s_strdup(self, value);
    d->keys[d->nkeys].line = line;
    d->nkeys++;
}

static int
s_handler(void *user, const char *section, const char *key, const char *value)
{
    zr_config_t *self = user;
    (void) section; /* sections are tracked by the reader, with lines */
    if (self->in_global) {
        s_global_key(self, key, value, self->line);
    }
    else if (self->current) {
        s_device_key(self, self->current, key, value, self->line);
    }
    else if (!self->refused) {
        s_error(self, self->line,
                "'%s' is outside any section (put it under [zrelay] or a "
                "device's [TYPE NAME])",
                key);
    }
    /* Keys of a refused section: the section was reported once. */
    return 1; /* we keep our own list of errors */
}

/* libinih reads through this, so we know each line's number and can check
 * what libinih would only report by the first line number. */
typedef struct {
    zr_config_t *self;
    const char *text; /* parse from a string, or */
    FILE *file;       /* from a file, */
    size_t bytes;     /* of which this much was read */
} s_source_t;

/* One whole line of SRC, however long, into LINE (LEN bytes kept and
 * terminated; *TOOLONG when there was more). False at the end, or past
 * S_MAX_BYTES of a file. */
static bool
s_read_line(s_source_t *src, char *line, size_t max, size_t *len, bool *toolong)
{
    bool got = false;
    *len = 0;
    *toolong = false;
    for (;;) {
        if (src->file && src->bytes++ == S_MAX_BYTES) {
            s_error(src->self, 0,
                    "larger than " S_MAX_BYTES_TEXT ": not a config file");
            return false;
        }
        int c = src->file    ? fgetc(src->file)
                : *src->text ? (unsigned char) *src->text++
                             : EOF;
        if (c == EOF || c == '\n') {
            got = got || c == '\n';
            break;
        }
        got = true;
        if (*len + 1 < max) {
            line[(*len)++] = (char) c;
        }
        else {
            *toolong = true;
        }
    }
    line[*len] = 0;
    return got;
}

static char *
s_reader(char *buf, int size, void *arg)
{
    s_source_t *src = arg;
    zr_config_t *self = src->self;
    char line[4096];
    bool toolong;
    size_t len;
    if (!s_read_line(src, line, sizeof line, &len, &toolong)) {
        return NULL;
    }
    self->line++;
    if (len > 0 && line[len - 1] == '\r') {
        line[--len] = 0;
    }
    if (toolong || len + 2 > (size_t) size) {
        s_error(self, self->line, "line too long (at most %d characters)",
                size - 2);
        buf[0] = 0;
        return buf;
    }
    if (memchr(line, 0, len)) {
        /* Not text: the line would end there, silently. */
        s_error(self, self->line, "a NUL byte: not text");
        buf[0] = 0;
        return buf;
    }
    /* What the line is, in our words. Leading blanks go: libinih would
     * take an indented line for the continuation of the value above, and
     * zrelay.conf has no continuation lines. */
    const char *p = line;
    if (self->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0) {
        p += 3; /* a UTF-8 byte order mark */
    }
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    len -= (size_t) (p - line);
    memmove(line, p, len + 1);
    p = line;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end) {
            s_error(self, self->line, "section header lacks ']'");
            self->current = NULL;
            self->in_global = false;
            self->refused = true;
            buf[0] = 0;
            return buf;
        }
        char header[256];
        size_t hl = (size_t) (end - p - 1);
        hl = hl < sizeof header - 1 ? hl : sizeof header - 1;
        memcpy(header, p + 1, hl);
        header[hl] = 0;
        s_section(self, header, self->line);
    }
    else if (*p && *p != ';' && *p != '#' && !strchr(p, '=')) {
        s_error(self, self->line,
                "expected 'key = value' or '[section]', not '%.60s'", p);
        buf[0] = 0;
        return buf;
    }
    memcpy(buf, line, len);
    buf[len] = '\n';
    buf[len + 1] = 0;
    return buf;
}

/* Bind endpoints that collide: the same ipc path or inproc name, or the
 * same TCP port where one address covers the other. */
static bool
s_tcp_split(const char *ep, char *host, size_t hlen, char *port, size_t plen)
{
    if (strncmp(ep, "tcp://", 6) != 0) {
        return false;
    }
    const char *a = ep + 6;
    const char *semi = strrchr(a, ';');
    a = semi ? semi + 1 : a;
    const char *colon = strrchr(a, ':');
    if (!colon) {
        return false;
    }
    snprintf(host, hlen, "%.*s", (int) (colon - a), a);
    snprintf(port, plen, "%s", colon + 1);
    return true;
}

static bool
s_collide(const char *a, const char *b)
{
    char ha[256], pa[16], hb[256], pb[16];
    if (s_tcp_split(a, ha, sizeof ha, pa, sizeof pa) &&
        s_tcp_split(b, hb, sizeof hb, pb, sizeof pb)) {
        if (strcmp(pa, pb) != 0 || strcmp(pa, "*") == 0 ||
            strcmp(pa, "0") == 0) {
            return false;
        }
        bool wa = strcmp(ha, "*") == 0 || strcmp(ha, "0.0.0.0") == 0;
        bool wb = strcmp(hb, "*") == 0 || strcmp(hb, "0.0.0.0") == 0;
        return wa || wb || strcmp(ha, hb) == 0;
    }
    if (strcmp(a, "ipc://*") == 0) {
        return false;
    }
    return strcmp(a, b) == 0;
}

typedef struct {
    const char *device, *role, *address;
    int line;
    size_t order; /* in the file: the daemon's control first */
    bool tcp;     /* then PORT is its port, else ADDRESS is its key */
    char port[16];
} s_bind_t;

/* Binds that may collide sort next to each other: by TCP port, else by
 * address; in file order among equals. */
static int
s_bind_cmp(const void *pa, const void *pb)
{
    const s_bind_t *a = pa, *b = pb;
    int c = a->tcp != b->tcp ? (a->tcp ? -1 : 1)
            : a->tcp         ? strcmp(a->port, b->port)
                             : strcmp(a->address, b->address);
    return c ? c : (a->order > b->order) - (a->order < b->order);
}

/* BIND binds what FIRST binds already. */
static void
s_bind_error(zr_config_t *self, const s_bind_t *bind, const s_bind_t *first)
{
    char who[300], already[320];
    if (*bind->device != '[') {
        snprintf(who, sizeof who, "device '%s' %s", bind->device, bind->role);
    }
    else {
        snprintf(who, sizeof who, "[zrelay] control");
    }
    if (*first->device != '[') {
        snprintf(already, sizeof already,
                 "device '%s' %s binds already (line %d)", first->device,
                 first->role, first->line);
    }
    else if (first->line) {
        snprintf(already, sizeof already,
                 "[zrelay] control binds already (line %d)", first->line);
    }
    else {
        snprintf(already, sizeof already,
                 "the daemon's default control endpoint binds already");
    }
    s_error(self, bind->line, "%s binds %s, which %s", who, bind->address,
            already);
}

static void
s_check_binds(zr_config_t *self)
{
    size_t cap = 8, n = 0;
    s_bind_t *binds = malloc(cap * sizeof *binds);
    zr_endpoints_t **lists = NULL;
    size_t nlists = 0;
    if (!binds) {
        self->oom = true;
        return;
    }
    /* The daemon's control endpoint first, then the devices in order. */
    for (size_t ii = 0; ii <= self->ndevices; ii++) {
        size_t i = ii == 0 ? self->ndevices : ii - 1;
        s_kv_t global = {"control", self->control, self->control_line};
        s_kv_t *keys = i < self->ndevices ? self->devices[i].keys : &global;
        size_t nkeys = i < self->ndevices ? self->devices[i].nkeys : 1;
        const char *device =
            i < self->ndevices ? self->devices[i].name : "[zrelay]";
        for (size_t k = 0; k < nkeys; k++) {
            const zr_option_t *o = zr_option_find(keys[k].key);
            if (!keys[k].value ||
                (i < self->ndevices && (!o || o->kind != ZR_OPT_ENDPOINTS))) {
                continue;
            }
            zr_endpoints_t *eps =
                zr_endpoints_parse(keys[k].value, true, NULL, 0);
            if (!eps) {
                continue;
            }
            zr_endpoints_t **l = s_grow(lists, nlists, sizeof *l);
            if (!l) {
                zr_endpoints_destroy(&eps);
                self->oom = true;
                continue;
            }
            lists = l;
            lists[nlists++] = eps;
            for (size_t e = 0; e < zr_endpoints_size(eps); e++) {
                if (!zr_endpoints_is_bind(eps, e)) {
                    continue;
                }
                const char *addr = zr_endpoints_address(eps, e);
                s_bind_t bind = {device, keys[k].key, addr, keys[k].line,
                                 n,      false,       ""};
                char host[256];
                bind.tcp = s_tcp_split(addr, host, sizeof host, bind.port,
                                       sizeof bind.port);
                if (n == cap) {
                    s_bind_t *b = realloc(binds, 2 * cap * sizeof *b);
                    if (!b) {
                        self->oom = true;
                        continue;
                    }
                    binds = b;
                    cap *= 2;
                }
                binds[n++] = bind;
            }
        }
    }
    /* Each bind against the earlier ones that may collide with it only:
     * against all of them, 20,000 devices took 10 s. */
    qsort(binds, n, sizeof *binds, s_bind_cmp);
    for (size_t g = 0, end; g < n; g = end) {
        end = g + 1;
        while (end < n && binds[end].tcp == binds[g].tcp &&
               strcmp(binds[g].tcp ? binds[g].port : binds[g].address,
                      binds[end].tcp ? binds[end].port : binds[end].address) ==
                   0) {
            end++;
        }
        const char *key = binds[g].tcp ? binds[g].port : binds[g].address;
        if (strcmp(key, "*") == 0 || strcmp(key, "0") == 0 ||
            strcmp(key, "ipc://*") == 0) {
            continue; /* a port or path of the system's choosing */
        }
        for (size_t j = g + 1; j < end; j++) {
            for (size_t i = g; i < j; i++) {
                if (s_collide(binds[i].address, binds[j].address)) {
                    s_bind_error(self, &binds[j], &binds[i]);
                }
            }
        }
    }
    for (size_t i = 0; i < nlists; i++) {
        zr_endpoints_destroy(&lists[i]);
    }
    free(lists);
    free(binds);
}

/* Try every device's values on a device object, so bad numbers and bad
 * endpoints are reported now, with their line. */
static void
s_check_devices(zr_config_t *self)
{
    for (size_t i = 0; i < self->ndevices; i++) {
        s_section_t *d = &self->devices[i];
        zr_device_t *dev = zr_device_new(NULL, d->type, d->name);
        if (!dev) {
            self->oom = true;
            return;
        }
        bool front = false, back = false;
        for (size_t k = 0; k < d->nkeys; k++) {
            front |= strcmp(d->keys[k].key, "frontend") == 0;
            back |= strcmp(d->keys[k].key, "backend") == 0;
            if (zr_device_set(dev, d->keys[k].key, d->keys[k].value) != 0) {
                s_error(self, d->keys[k].line, "%s: %s", d->keys[k].key,
                        zr_device_error(dev));
            }
        }
        /* auth lane: security settings that cannot work together (the
         * files they name are read when the device opens). */
        char why[400];
        if (zr__auth_check_settings(zr__device_auth(dev), why, sizeof why) !=
            0) {
            s_error(self, d->line, "[%s %s]: %s", zr_device_type_name(d->type),
                    d->name, why);
        }
        /* [ha] ha, ha_bind and ha_peer go together. */
        if ((d->type == ZR_QUEUE || d->type == ZR_MAJORDOMO) &&
            zr__device_check_ha(dev, why, sizeof why) != 0) {
            s_error(self, d->line, "[%s %s]: %s", zr_device_type_name(d->type),
                    d->name, why);
        }
        if (d->type == ZR_MAJORDOMO) {
            back = true; /* one socket: its frontend */
        }
        if (!front || !back) {
            s_error(self, d->line, "[%s %s] needs %s",
                    zr_device_type_name(d->type), d->name,
                    !front && !back ? "a frontend and a backend"
                    : !front        ? "a frontend"
                                    : "a backend");
        }
        zr_device_destroy(&dev);
    }
}

static zr_config_t *
s_new(const char *path)
{
    zr_config_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->path = strdup(path ? path : "<config>");
    self->control = strdup(S_DEFAULT_CONTROL);
    self->log_level = self->io_threads = self->linger = -1;
    if (!self->path || !self->control) {
        zr_config_destroy(&self);
        errno = ENOMEM;
        return NULL;
    }
    return self;
}

typedef struct {
    int line;
    size_t order;
    char *error;
} s_numbered_t;

static int
s_numbered_cmp(const void *pa, const void *pb)
{
    const s_numbered_t *a = pa, *b = pb;
    if (a->line != b->line) {
        return a->line < b->line ? -1 : 1;
    }
    return (a->order > b->order) - (a->order < b->order);
}

/* Errors in the order of their lines, stable (a file of many bad devices
 * has many errors: no insertion sort). */
static void
s_sort_errors(zr_config_t *self)
{
    if (self->nerrors < 2) {
        return;
    }
    s_numbered_t *all = malloc(self->nerrors * sizeof *all);
    if (!all) {
        self->oom = true;
        return;
    }
    for (size_t i = 0; i < self->nerrors; i++) {
        all[i] = (s_numbered_t){self->error_lines[i], i, self->errors[i]};
    }
    qsort(all, self->nerrors, sizeof *all, s_numbered_cmp);
    for (size_t i = 0; i < self->nerrors; i++) {
        self->errors[i] = all[i].error;
        self->error_lines[i] = all[i].line;
    }
    free(all);
}

/* auth lane: a control endpoint beyond loopback and ipc:// is secured
 * with CURVE and an allow directory, or said to be open on purpose; what
 * zrelay run refuses, zrelay check and a reload report. */
static void
s_check_control(zr_config_t *self)
{
    if (!self->control_curve_secret != !self->control_curve_allow) {
        s_error(self, self->control_line,
                "control: control_curve_secret and control_curve_allow go "
                "together (docs/SECURITY.md)");
        return;
    }
    if (self->control_insecure || self->control_curve_secret) {
        return;
    }
    zr_endpoints_t *eps = zr_endpoints_parse(self->control, true, NULL, 0);
    for (size_t i = 0; eps && i < zr_endpoints_size(eps); i++) {
        const char *address = zr_endpoints_address(eps, i);
        if (!zr_address_is_local(address)) {
            s_error(self, self->control_line,
                    "control: %s is reachable from the network: secure it "
                    "with control_curve_secret and control_curve_allow "
                    "(docs/SECURITY.md), or write control_insecure = yes",
                    address);
            break;
        }
    }
    zr_endpoints_destroy(&eps);
}

static zr_config_t *
s_parse(zr_config_t *self, s_source_t *src)
{
    src->self = self;
    ini_parse_stream(s_reader, src, s_handler, self);
    s_check_devices(self);
    s_check_binds(self);
    s_check_control(self);
    s_sort_errors(self);
    if (self->oom) {
        zr_config_destroy(&self);
        errno = ENOMEM;
        return NULL;
    }
    return self;
}

zr_config_t *
zr_config_parse(const char *text, const char *name)
{
    zr_config_t *self = s_new(name);
    if (!self) {
        return NULL;
    }
    s_source_t src = {.text = text ? text : ""};
    return s_parse(self, &src);
}

/* PATH opened for reading if it is a regular file; NULL, the reason told
 * SELF, otherwise. Opened without waiting (a FIFO would wait for a
 * writer), checked on what was opened. */
static FILE *
s_open(zr_config_t *self, const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        s_error(self, 0, "cannot open: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            s_error(self, 0, "is a directory");
        }
        else {
            s_error(self, 0, "not a regular file (%s)",
                    S_ISCHR(st.st_mode)    ? "a character device"
                    : S_ISBLK(st.st_mode)  ? "a block device"
                    : S_ISFIFO(st.st_mode) ? "a FIFO"
                    : S_ISSOCK(st.st_mode) ? "a socket"
                                           : "of another kind");
        }
        close(fd);
        return NULL;
    }
    FILE *file = fdopen(fd, "r");
    if (!file) {
        s_error(self, 0, "cannot open: %s", strerror(errno));
        close(fd);
    }
    return file;
}

/* A file is read to be run: one that starts no device is most likely
 * the wrong file (an empty one, a path mistyped), unless it says it
 * means to. Text handed to zr_config_parse is the program's business. */
zr_config_t *
zr_config_load(const char *path)
{
    bool in = strcmp(path, "-") == 0; /* standard input */
    zr_config_t *self = s_new(in ? "<stdin>" : path);
    if (!self) {
        return NULL;
    }
    int fd = in ? dup(0) : -1;
    FILE *file = in ? (fd >= 0 ? fdopen(fd, "r") : NULL) : s_open(self, path);
    if (in && !file) {
        s_error(self, 0, "cannot read: %s", strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
    }
    if (!file) {
        return self;
    }
    s_source_t src = {.file = file};
    self = s_parse(self, &src);
    fclose(file);
    if (self && self->nerrors == 0 && self->ndevices == 0 &&
        !self->allow_empty) {
        s_error(self, 0,
                "no device section ([forwarder NAME], [queue NAME] or "
                "[streamer NAME]); a config without devices needs "
                "allow_empty = yes in [zrelay]");
    }
    return self;
}

void
zr_config_destroy(zr_config_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr_config_t *self = *self_p;
    for (size_t i = 0; i < self->ndevices; i++) {
        for (size_t k = 0; k < self->devices[i].nkeys; k++) {
            free(self->devices[i].keys[k].key);
            free(self->devices[i].keys[k].value);
        }
        free(self->devices[i].keys);
        free(self->devices[i].name);
    }
    free(self->devices);
    free(self->names);
    for (size_t i = 0; i < self->nerrors; i++) {
        free(self->errors[i]);
    }
    free(self->errors);
    free(self->error_lines);
    free(self->control);
    free(self->control_curve_secret);
    free(self->control_curve_allow);
    free(self->http);
    free(self->path);
    free(self);
    *self_p = NULL;
}

size_t
zr_config_error_count(const zr_config_t *self)
{
    return self->nerrors;
}

const char *
zr_config_error(const zr_config_t *self, size_t i)
{
    return i < self->nerrors ? self->errors[i] : NULL;
}

const char *
zr_config_path(const zr_config_t *self)
{
    return self->path;
}

const char *
zr_config_control(const zr_config_t *self)
{
    return self->control;
}

int
zr_config_io_threads(const zr_config_t *self)
{
    return self->io_threads > 0 ? self->io_threads : 1;
}

int
zr_config_log_level(const zr_config_t *self)
{
    return self->log_level;
}

size_t
zr_config_device_count(const zr_config_t *self)
{
    return self->ndevices;
}

const char *
zr_config_device_name(const zr_config_t *self, size_t i)
{
    return i < self->ndevices ? self->devices[i].name : NULL;
}

zr_device_type_t
zr_config_device_type(const zr_config_t *self, size_t i)
{
    return i < self->ndevices ? self->devices[i].type : (zr_device_type_t) 0;
}

int
zr_config_device_line(const zr_config_t *self, size_t i)
{
    return i < self->ndevices ? self->devices[i].line : 0;
}

zr_device_t *
zr_config_device_new(const zr_config_t *self, size_t i, void *ctx)
{
    if (i >= self->ndevices) {
        errno = EINVAL;
        return NULL;
    }
    const s_section_t *d = &self->devices[i];
    zr_device_t *dev = zr_device_new(ctx, d->type, d->name);
    if (!dev) {
        return NULL;
    }
    if (self->linger >= 0) {
        zr_device_set_linger(dev, self->linger);
    }
    for (size_t k = 0; k < d->nkeys; k++) {
        if (zr_device_set(dev, d->keys[k].key, d->keys[k].value) != 0) {
            /* A checked config cannot get here. */
            zr_device_destroy(&dev);
            errno = EINVAL;
            return NULL;
        }
    }
    return dev;
}

/* Same type, name, global linger and keys (in any order) with the same
 * values: a reload leaves such a device alone. */
bool
zr_config_device_same(const zr_config_t *a, size_t i, const zr_config_t *b,
                      size_t j)
{
    if (i >= a->ndevices || j >= b->ndevices) {
        return false;
    }
    const s_section_t *x = &a->devices[i], *y = &b->devices[j];
    if (x->type != y->type || strcmp(x->name, y->name) != 0 ||
        x->nkeys != y->nkeys || a->linger != b->linger) {
        return false;
    }
    for (size_t k = 0; k < x->nkeys; k++) {
        bool found = false;
        for (size_t m = 0; m < y->nkeys && !found; m++) {
            found = strcmp(x->keys[k].key, y->keys[m].key) == 0 &&
                    strcmp(x->keys[k].value, y->keys[m].value) == 0;
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

/* The device called NAME in SELF, or -1. */
int
zr_config_device_find(const zr_config_t *self, const char *name)
{
    for (size_t i = 0; i < self->ndevices; i++) {
        if (strcmp(self->devices[i].name, name) == 0) {
            return (int) i;
        }
    }
    return -1;
}

/* auth lane: the control endpoint's security ([zrelay] keys). */
const char *
zr__config_control_curve_secret(const zr_config_t *self)
{
    return self->control_curve_secret;
}

const char *
zr__config_control_curve_allow(const zr_config_t *self)
{
    return self->control_curve_allow;
}

bool
zr__config_control_insecure(const zr_config_t *self)
{
    return self->control_insecure;
}

/* [zrelay] http: the HTTP endpoint's address, NULL when off. */
const char *
zr__config_http(const zr_config_t *self)
{
    return self->http;
}
