/* example.h - the few helpers every example shares: option values, clocks
 * and a clean stop on Ctrl-C. Plain C and libzmq, no zrelay.
 * SPDX-License-Identifier: MIT
 *
 * Exit statuses, the same in every example: 0 success, 1 failure (the
 * message says why), 2 usage error.
 */
#ifndef ZR_EXAMPLE_H_INCLUDED
#define ZR_EXAMPLE_H_INCLUDED

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define EX_OK 0
#define EX_FAILURE 1
#define EX_USAGE 2

/* The program's name for messages; set by ex_init. */
static const char *ex_name = "example";

static inline void
ex_init(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');
    ex_name = slash ? slash + 1 : argv0;
}

/* Print "NAME: message" to stderr and return STATUS, for tail calls. */
static inline int ex_error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int
ex_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", ex_name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

/* Parse VALUE of OPTION as a whole number in [MIN, MAX]; on a bad value,
 * say why and exit with EX_USAGE (options are parsed before any socket
 * exists, so there is nothing to clean up). */
static inline long
ex_number(const char *option, const char *value, long min, long max)
{
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (errno || end == value || *end || n < min || n > max) {
        exit(ex_error(EX_USAGE,
                      "%s: '%s' is not a whole number from %ld "
                      "to %ld",
                      option, value, min, max));
    }
    return n;
}

/* Monotonic milliseconds. */
static inline long long
ex_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep MS milliseconds; a signal cuts it short (that is how Ctrl-C stops
 * a publisher between two sends without waiting the whole interval). */
static inline void
ex_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline int
ex_setint(void *socket, int option, int value)
{
    return zmq_setsockopt(socket, option, &value, sizeof value);
}

/* Set by SIGINT/SIGTERM once ex_catch_signals was called. No SA_RESTART,
 * so a blocking zmq_recv or nanosleep returns EINTR and the loop around it
 * sees the flag. */
static volatile sig_atomic_t ex_interrupted = 0;

static inline void
ex_on_signal(int sig)
{
    (void) sig;
    ex_interrupted = 1;
}

static inline void
ex_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ex_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The one-line usage, for --help (stdout) and usage errors (stderr). */
static inline void
ex_usage(FILE *out, const char *usage)
{
    fprintf(out, "usage: %s %s\n", ex_name, usage);
}

/* The options of the examples that receive: -n/--count COUNT and
 * -t/--timeout SECONDS (0: no limit), then at most MAX_ARGS endpoints.
 * Returns the index of the first endpoint in ARGV; exits after --help
 * (status 0) or on a usage error (status 2). */
static inline int
ex_count_options(int argc, char **argv, const char *usage, int max_args,
                 long *count, long *timeout)
{
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "n:t:h", options, NULL)) != -1) {
        switch (opt) {
        case 'n': *count = ex_number("--count", optarg, 0, LONG_MAX); break;
        case 't': *timeout = ex_number("--timeout", optarg, 0, 86400); break;
        case 'h': ex_usage(stdout, usage); exit(EX_OK);
        default: ex_usage(stderr, usage); exit(EX_USAGE);
        }
    }
    if (argc - optind > max_args) {
        ex_usage(stderr, usage);
        exit(EX_USAGE);
    }
    return optind;
}

#endif
