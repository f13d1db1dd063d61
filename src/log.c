/* log.c - the library's log: silent until the application installs a
 * handler, level-tested before anything is formatted.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

_Atomic int zr__log_threshold = -1;

static zr_log_fn *s_handler;
static void *s_handler_arg;
static _Atomic int s_level = ZR_LOG_NOTICE;

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

void
zr__log(zr_log_level_t level, const char *fmt, ...)
{
    zr_log_fn *fn = s_handler;
    uint64_t suppressed;
    if (!fn || (unsigned) level > ZR_LOG_DEBUG ||
        !s_allow(level, &suppressed)) {
        return;
    }
    char line[8192]; /* a device's final statistics, whole */
    if (suppressed) {
        snprintf(line, sizeof line,
                 "%" PRIu64 " log line(s) like the next suppressed (at most "
                 "%d a second)",
                 suppressed, S_RATE);
        fn(level, line, s_handler_arg);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char safe[4 * sizeof line];
    s_escape(line, safe, sizeof safe);
    fn(level, safe, s_handler_arg);
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
