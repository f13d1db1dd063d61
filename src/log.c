/* log.c - the library's log: silent until the application installs a
 * handler, level-tested before anything is formatted.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Atomic int zr__log_threshold = -1;

static zr_log_fn *s_handler;
static void *s_handler_arg;
static _Atomic int s_level = ZR_LOG_NOTICE;
static _Atomic int s_format = ZR_LOG_TEXT;

/* Open devices' names, for JSON lines: a short list, read per line. */
static struct {
    pthread_mutex_t lock;
    char **names;
    size_t n;
} s_devices = {.lock = PTHREAD_MUTEX_INITIALIZER};

void
zr_log_set_format(zr_log_format_t format)
{
    atomic_store(&s_format, (int) format);
}

void
zr__log_device(const char *name, bool add)
{
    pthread_mutex_lock(&s_devices.lock);
    if (add) {
        char **names =
            realloc(s_devices.names, (s_devices.n + 1) * sizeof *names);
        char *copy = strdup(name);
        if (names && copy) {
            s_devices.names = names;
            names[s_devices.n++] = copy;
        }
        else {
            s_devices.names = names ? names : s_devices.names;
            free(copy);
        }
    }
    else {
        for (size_t i = 0; i < s_devices.n; i++) {
            if (strcmp(s_devices.names[i], name) == 0) {
                free(s_devices.names[i]);
                s_devices.names[i] = s_devices.names[--s_devices.n];
                break;
            }
        }
        if (s_devices.n == 0) {
            free(s_devices.names);
            s_devices.names = NULL;
        }
    }
    pthread_mutex_unlock(&s_devices.lock);
}

/* The length of the device name LINE starts with (and ": "), or 0. */
static size_t
s_device_prefix(const char *line)
{
    size_t best = 0;
    pthread_mutex_lock(&s_devices.lock);
    for (size_t i = 0; i < s_devices.n; i++) {
        size_t n = strlen(s_devices.names[i]);
        if (n > best && strncmp(line, s_devices.names[i], n) == 0 &&
            line[n] == ':' && line[n + 1] == ' ') {
            best = n;
        }
    }
    pthread_mutex_unlock(&s_devices.lock);
    return best;
}

static void
s_update_threshold(void)
{
    atomic_store(&zr__log_threshold, s_handler ? atomic_load(&s_level) : -1);
}

void
zr_log_set_handler(zr_log_fn *fn, void *arg)
{
    s_handler = fn;
    s_handler_arg = arg;
    s_update_threshold();
}

void
zr_log_set_level(zr_log_level_t level)
{
    atomic_store(&s_level, (int) level);
    s_update_threshold();
}

zr_log_level_t
zr_log_level(void)
{
    return (zr_log_level_t) atomic_load(&s_level);
}

int
zr_log_level_from_name(const char *name)
{
    static const char *names[] = {"error", "warning", "notice", "info",
                                  "debug"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, names[i]) == 0) {
            return i;
        }
    }
    if (strcmp(name, "warn") == 0) {
        return ZR_LOG_WARNING;
    }
    return -1;
}

/* A log line costs the thread that writes it: a peer that makes the
 * relay log (refused commands, failed handshakes, refused subscriptions)
 * must not make it log without bound. Each level may write S_BURST lines
 * at once and S_RATE a second after that; what is over is counted and
 * said with the next line of that level that goes out. */
#define S_RATE 50
#define S_BURST 200

typedef struct {
    double tokens;
    int64_t at;
    uint64_t suppressed;
} s_bucket_t;

static struct {
    pthread_mutex_t lock;
    s_bucket_t level[5];
} s_limit = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Whether a line of LEVEL may go out; *SUPPRESSED: how many of that
 * level did not since the last that did. */
static bool
s_allow(zr_log_level_t level, uint64_t *suppressed)
{
    int64_t now = zr__now_ms();
    pthread_mutex_lock(&s_limit.lock);
    s_bucket_t *l = &s_limit.level[level];
    if (l->at == 0) {
        l->tokens = S_BURST;
    }
    else {
        l->tokens += (double) (now - l->at) * S_RATE / 1000.0;
        if (l->tokens > S_BURST) {
            l->tokens = S_BURST;
        }
    }
    l->at = now;
    bool ok = l->tokens >= 1;
    *suppressed = 0;
    if (ok) {
        l->tokens -= 1;
        *suppressed = l->suppressed;
        l->suppressed = 0;
    }
    else {
        l->suppressed++;
    }
    pthread_mutex_unlock(&s_limit.lock);
    return ok;
}

/* IN with every control character (below 0x20, and 0x7f) written as
 * \xNN into OUT (LEN bytes), cut at a whole character. Names and text
 * from the network (device names in control commands, identities) end
 * up in log lines: raw, a newline forges a line of its own and an escape
 * sequence rewrites the terminal. */
static void
s_escape(const char *in, char *out, size_t len)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *) in; *p; p++) {
        bool ctl = *p < 0x20 || *p == 0x7f;
        size_t need = ctl ? 4 : 1;
        if (o + need >= len) {
            break;
        }
        if (ctl) {
            snprintf(out + o, 5, "\\x%02x", *p);
        }
        else {
            out[o] = (char) *p;
        }
        o += need;
    }
    out[o] = 0;
}

/* MSG as one JSON object (see zr_log_set_format), to FN. DEVICE NULL:
 * taken from MSG's start when it names an open device. */
static void
s_json(zr_log_fn *fn, zr_log_level_t level, const char *device,
       const char *event, const char *const *fields, const char *msg)
{
    static const char *names[] = {"error", "warning", "notice", "info",
                                  "debug"};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        return;
    }
    cJSON_AddStringToObject(o, "time", when);
    cJSON_AddStringToObject(o, "level", names[level]);
    size_t skip = 0;
    char name[256];
    if (!device && (skip = s_device_prefix(msg)) > 0) {
        snprintf(name, sizeof name, "%.*s", (int) skip, msg);
        device = name;
        skip += 2;
    }
    if (device) {
        cJSON_AddStringToObject(o, "device", device);
    }
    cJSON_AddStringToObject(o, "event", event ? event : "log");
    cJSON_AddStringToObject(o, "msg", msg + skip);
    for (size_t i = 0; fields && fields[i]; i += 2) {
        if (fields[i + 1] && *fields[i + 1]) {
            cJSON_AddStringToObject(o, fields[i], fields[i + 1]);
        }
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (text) {
        fn(level, text, s_handler_arg);
        free(text);
    }
}

/* One line out: formatted, escaped (text) or encoded (JSON). */
static void
s_emit(zr_log_level_t level, const char *device, const char *event,
       const char *const *fields, const char *fmt, va_list ap)
{
    zr_log_fn *fn = s_handler;
    uint64_t suppressed;
    if (!fn || (unsigned) level > ZR_LOG_DEBUG ||
        !s_allow(level, &suppressed)) {
        return;
    }
    bool json = atomic_load(&s_format) == ZR_LOG_JSON;
    char line[8192]; /* a device's final statistics, whole */
    if (suppressed) {
        snprintf(line, sizeof line,
                 "%" PRIu64 " log line(s) like the next suppressed (at most "
                 "%d a second)",
                 suppressed, S_RATE);
        if (json) {
            s_json(fn, level, NULL, "suppressed", NULL, line);
        }
        else {
            fn(level, line, s_handler_arg);
        }
    }
    int at = device && !json ? snprintf(line, sizeof line, "%s: ", device)
                             : 0;
    at = at < 0 || at >= (int) sizeof line ? 0 : at;
    vsnprintf(line + at, sizeof line - (size_t) at, fmt, ap);
    if (json) {
        s_json(fn, level, device, event, fields, line);
        return;
    }
    char safe[4 * sizeof line];
    s_escape(line, safe, sizeof safe);
    fn(level, safe, s_handler_arg);
}

void
zr__log(zr_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_emit(level, NULL, NULL, NULL, fmt, ap);
    va_end(ap);
}

void
zr_log_text(zr_log_level_t level, const char *text)
{
    if ((int) level <=
        atomic_load_explicit(&zr__log_threshold, memory_order_relaxed)) {
        zr__log(level, "%s", text);
    }
}

void
zr__log_event(zr_log_level_t level, const char *device, const char *event,
              const char *const *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_emit(level, device, event, fields, fmt, ap);
    va_end(ap);
}

bool
zr__log_limit(zr__log_limit_t *self, int per_sec, const char *what)
{
    int64_t second = zr__now_ms() / 1000;
    if (second != self->second) {
        if (self->unlogged) {
            ZR_LOG_I("%s: %" PRIu64 " more not logged (at most %d a second)",
                     what, self->unlogged, per_sec);
        }
        self->second = second;
        self->logged = 0;
        self->unlogged = 0;
    }
    if (self->logged >= per_sec) {
        self->unlogged++;
        return false;
    }
    self->logged++;
    return true;
}
