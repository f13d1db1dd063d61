/* util.c - small helpers shared by the library's modules.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

int64_t
zr__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
zr__errf(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || len == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

const char *
zr__socket_type_name(int type)
{
    switch (type) {
    case ZMQ_PAIR: return "PAIR";
    case ZMQ_PUB: return "PUB";
    case ZMQ_SUB: return "SUB";
    case ZMQ_REQ: return "REQ";
    case ZMQ_REP: return "REP";
    case ZMQ_DEALER: return "DEALER";
    case ZMQ_ROUTER: return "ROUTER";
    case ZMQ_PULL: return "PULL";
    case ZMQ_PUSH: return "PUSH";
    case ZMQ_XPUB: return "XPUB";
    case ZMQ_XSUB: return "XSUB";
    case ZMQ_STREAM: return "STREAM";
    default: return "?";
    }
}

/* Parse a whole decimal number into *OUT; -1 unless S is one. Digits
 * only after an optional '-' (strtoll would take blanks and '+'), and
 * no "-0": a sign on zero is a typo, not a value. */
static int
s_parse_number(const char *s, const char **rest, int64_t *out)
{
    if (!s || !*s || !(isdigit((unsigned char) *s) || *s == '-') ||
        (*s == '-' && !isdigit((unsigned char) s[1]))) {
        return -1;
    }
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || (*s == '-' && v == 0)) {
        return -1;
    }
    *rest = end;
    *out = v;
    return 0;
}

int
zr__parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    const char *rest;
    int64_t v;
    if (s_parse_number(s, &rest, &v) != 0 || *rest || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

int
zr__parse_duration_us(const char *s, int64_t *us)
{
    const char *unit;
    int64_t v;
    if (s_parse_number(s, &unit, &v) != 0 || v < 0) {
        return -1;
    }
    static const struct {
        const char *name;
        int64_t us;
    } units[] = {{"", 1000},         {"us", 1},       {"ms", 1000},
                 {"s", 1000000},     {"m", 60000000}, {"min", 60000000},
                 {"h", 3600000000LL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].name) == 0) {
            if (v > INT64_MAX / units[i].us) {
                return -1;
            }
            *us = v * units[i].us;
            return 0;
        }
    }
    return -1;
}

int
zr__parse_duration(const char *s, int64_t *ms)
{
    int64_t us;
    if (zr__parse_duration_us(s, &us) != 0 || us % 1000 != 0) {
        return -1;
    }
    *ms = us / 1000;
    return 0;
}

int
zr__parse_size(const char *s, int64_t *bytes)
{
    const char *unit;
    int64_t v;
    if (s_parse_number(s, &unit, &v) != 0 || v < 0) {
        return -1;
    }
    static const struct {
        const char *name;
        int64_t mult;
    } units[] = {{"", 1},          {"B", 1},          {"k", 1024},
                 {"K", 1024},      {"KiB", 1024},     {"M", 1048576},
                 {"MiB", 1048576}, {"G", 1073741824}, {"GiB", 1073741824}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].name) == 0) {
            if (v > INT64_MAX / units[i].mult) {
                return -1;
            }
            *bytes = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

int
zr__parse_cpus(const char *text)
{
    const char *p = text;
    if (!p || !*p) {
        return -1;
    }
    for (;;) {
        int64_t a, b;
        const char *rest;
        if (!isdigit((unsigned char) *p) || s_parse_number(p, &rest, &a) != 0 ||
            a >= 1024) {
            return -1;
        }
        p = rest;
        if (*p == '-') {
            p++;
            if (!isdigit((unsigned char) *p) ||
                s_parse_number(p, &rest, &b) != 0 || b < a || b >= 1024) {
                return -1;
            }
            p = rest;
        }
        if (!*p) {
            return 0;
        }
        if (*p++ != ',') {
            return -1;
        }
    }
}

/* libzmq 4.3.4 starts each ROUTER's counter of anonymous peers at rand()
 * and never calls srand(): every process draws 0x6b8b4567 first. A peer
 * that claims the ids that counter will hand out (a zero byte, then the
 * number, as ZMTP reserves for generated ids) makes the next anonymous
 * peer's id collide, and libzmq asserts (socket_base.cpp:2130): the whole
 * process aborts. Seeded, the counter starts anywhere in 2^32. */
static pthread_once_t s_seeded = PTHREAD_ONCE_INIT;

static void
s_seed(void)
{
    unsigned seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t) sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (unsigned) ts.tv_nsec ^ (unsigned) ts.tv_sec ^
               ((unsigned) getpid() << 16);
    }
    srand(seed);
}

void
zr__seed_random(void)
{
    pthread_once(&s_seeded, s_seed);
}

void
zr_seed_random(void)
{
    zr__seed_random();
}

/* At load, before the application can make a context or a socket. */
__attribute__((constructor)) static void
s_seed_at_load(void)
{
    zr__seed_random();
}

int
zr__wake_pipe(int fds[2])
{
    if (pipe(fds) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

void
zr__wake(int fd)
{
    /* write(2) is async-signal-safe; a full pipe means already woken.
     * errno is kept for the code the signal interrupted. */
    int e = errno;
    ssize_t rc = write(fd, "w", 1);
    (void) rc;
    errno = e;
}

void
zr__wake_drain(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0) {
    }
}

uint64_t
zr__hash(const void *data, size_t size)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a mix */
    for (size_t i = 0; i < size; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int
zr__socket_type(void *socket)
{
    int type = -1;
    size_t len = sizeof type;
    zmq_getsockopt(socket, ZMQ_TYPE, &type, &len);
    return type;
}

int
zr__peer_name(int fd, char *out, size_t len)
{
    struct sockaddr_storage sa;
    socklen_t salen = sizeof sa;
    char host[48], port[8];
    if (getpeername(fd, (struct sockaddr *) &sa, &salen) != 0 ||
        (sa.ss_family != AF_INET && sa.ss_family != AF_INET6) ||
        getnameinfo((struct sockaddr *) &sa, salen, host, sizeof host, port,
                    sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return -1;
    }
    snprintf(out, len, sa.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
             port);
    return 0;
}

bool
zr__shutdown_connection(int fd)
{
    int listening = 1;
    socklen_t len = sizeof listening;
    if (fd < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
        listening) {
        return false;
    }
    return shutdown(fd, SHUT_RDWR) == 0;
}
