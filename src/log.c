/* log.c - the library's log: silent until the application installs a
 * handler, level-tested before anything is formatted.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

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

void
zr__log(zr_log_level_t level, const char *fmt, ...)
{
    zr_log_fn *fn = s_handler;
    if (!fn) {
        return;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(level, line, s_handler_arg);
}
