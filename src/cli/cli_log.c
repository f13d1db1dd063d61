/* cli_log.c - the command's log: lines from any thread (the devices',
 * the CLI's own) go through a bounded queue to one writer thread, so a
 * log that does not keep up (a stderr pipe nobody reads, a stalled
 * journald) costs lines, counted and said, never a relay's time.
 * SPDX-License-Identifier: MIT
 */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#define S_LINES 512
/* The longest line: a device's final statistics (a JSON object of a few
 * KiB) must go out whole. Queued lines are copies on the heap. */
#define S_LINE 16384
/* At exit, how long to wait for the writer to empty the queue. */
#define S_FLUSH_MS 2000

typedef void(s_sink_fn)(zr_log_level_t level, const char *line);

static struct {
    pthread_mutex_t lock;
    pthread_cond_t more, idle;
    struct {
        zr_log_level_t level;
        char *text;
    } ring[S_LINES];
    size_t head, count;
    unsigned long long lost;
    bool writing, started, json;
    s_sink_fn *sink;
} s_log = {.lock = PTHREAD_MUTEX_INITIALIZER,
           .more = PTHREAD_COND_INITIALIZER,
           .idle = PTHREAD_COND_INITIALIZER};

static void
s_to_stderr(zr_log_level_t level, const char *line)
{
    static const char *names[] = {"error: ", "warning: ", "",
                                  "info: ", "debug: "};
    /* One write per line so lines from several processes do not mix. */
    if (s_log.json && line[0] == '{') {
        fprintf(stderr, "%s\n", line); /* one JSON object, as it is */
    }
    else {
        fprintf(stderr, "zrelay: %s%s\n", names[level], line);
    }
}

static void
s_to_syslog(zr_log_level_t level, const char *line)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO,
                               LOG_DEBUG};
    syslog(prio[level], "%s", line);
}

static void *
s_writer(void *arg)
{
    (void) arg;
    for (;;) {
        pthread_mutex_lock(&s_log.lock);
        while (s_log.count == 0) {
            s_log.writing = false;
            pthread_cond_broadcast(&s_log.idle);
            pthread_cond_wait(&s_log.more, &s_log.lock);
        }
        s_log.writing = true;
        zr_log_level_t level = s_log.ring[s_log.head].level;
        char *line = s_log.ring[s_log.head].text;
        s_log.ring[s_log.head].text = NULL;
        s_log.head = (s_log.head + 1) % S_LINES;
        s_log.count--;
        unsigned long long lost = s_log.lost;
        s_log.lost = 0;
        pthread_mutex_unlock(&s_log.lock);
        if (lost) {
            char note[128];
            snprintf(note, sizeof note,
                     "%llu log line(s) lost: the log did not keep up", lost);
            s_log.sink(ZR_LOG_WARNING, note);
        }
        s_log.sink(level, line ? line : "(a log line lost: out of memory)");
        free(line);
    }
    return NULL;
}

/* The handler the library calls, from any thread: never blocks on the
 * log's output. */
static void
s_enqueue(zr_log_level_t level, const char *line, void *arg)
{
    (void) arg;
    pthread_mutex_lock(&s_log.lock);
    if (s_log.count == S_LINES) {
        s_log.lost++;
    }
    else {
        size_t at = (s_log.head + s_log.count) % S_LINES;
        s_log.ring[at].level = level;
        s_log.ring[at].text = strndup(line, S_LINE - 1);
        s_log.count++;
        pthread_cond_signal(&s_log.more);
    }
    pthread_mutex_unlock(&s_log.lock);
}

/* At exit: what is queued goes out, unless the log is stuck. */
static void
s_flush(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += S_FLUSH_MS / 1000;
    pthread_mutex_lock(&s_log.lock);
    while (s_log.count || s_log.writing) {
        if (pthread_cond_timedwait(&s_log.idle, &s_log.lock, &until) != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&s_log.lock);
}

static void
s_start(s_sink_fn *sink, int verbosity)
{
    s_log.sink = sink;
    if (!s_log.started) {
        /* Signals belong to the main thread. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        pthread_t thread;
        s_log.started = pthread_create(&thread, NULL, s_writer, NULL) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (s_log.started) {
            pthread_detach(thread);
            atexit(s_flush);
        }
    }
    zr_log_set_handler(s_log.started ? s_enqueue : NULL, NULL);
    zr_log_set_level(verbosity >= 2   ? ZR_LOG_DEBUG
                     : verbosity == 1 ? ZR_LOG_INFO
                                      : ZR_LOG_NOTICE);
}

int
cli_log_format(const char *name)
{
    if (strcmp(name, "text") != 0 && strcmp(name, "json") != 0) {
        return cli_error(CLI_USAGE,
                         "--log-format: '%s' is not one of text, json", name);
    }
    s_log.json = strcmp(name, "json") == 0;
    zr_log_set_format(s_log.json ? ZR_LOG_JSON : ZR_LOG_TEXT);
    return CLI_OK;
}

void
cli_log_to_stderr(int verbosity)
{
    s_start(s_to_stderr, verbosity);
}

void
cli_log_to_syslog(int verbosity)
{
    openlog("zrelay", LOG_PID, LOG_DAEMON);
    s_start(s_to_syslog, verbosity);
}

void
cli_log(zr_log_level_t level, const char *fmt, ...)
{
    if (level > zr_log_level()) {
        return;
    }
    char line[S_LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s_log.started) {
        zr_log_text(level, line); /* JSON when asked, rate-limited */
    }
    else {
        s_to_stderr(level, line);
    }
}
