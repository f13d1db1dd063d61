/* zrtest.h - zrelay's test harness: real sockets, deadlines, no sleeps.
 * SPDX-License-Identifier: MIT
 *
 * A test file defines static void functions and lists them:
 *     ZR_TESTS = { {"queue roundtrip", test_queue_roundtrip}, {NULL, NULL} };
 * It runs every case, or those whose name contains argv[1] (`--list`
 * prints the names). Each case runs in a child process of its own, so a
 * failed check, a skip, a crash (a sanitizer's report, SIGSEGV) or a hang
 * (past ZRT_TIMEOUT seconds, 60 by default: the child is killed) ends
 * that case only. One line per case: `ok`, `FAIL` with file:line and what
 * the check saw, or `SKIP` with the reason; then a summary. Exit status:
 * 1 if any case failed, 77 (CTest's skip) only if every case run skipped,
 * else 0.
 *
 * ZRT_NOFORK=1 runs the cases in this process instead, for a debugger:
 * then the first failed check or skip ends the run, as exit status 1 or
 * 77.
 *
 * A case shares nothing with the others: it makes its own ZeroMQ context
 * (a context must not cross a fork, so none may exist before main). A
 * case that passes ends with exit(), so LeakSanitizer still checks it; a
 * failed check or a skip ends with _exit() after killing the case's
 * child processes (zrtest_proc.h), since what it leaves behind is no
 * leak.
 */
#ifndef ZRTEST_H_INCLUDED
#define ZRTEST_H_INCLUDED

#include "zrelay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

typedef struct {
    const char *name;
    void (*fn)(void);
} zrt_test_t;

#define ZR_TESTS static const zrt_test_t zrt_tests[]

/* The case running in this process. */
static const char *zrt_current;
/* Where a case's child process writes its one-line verdict ('F' or 'S'
 * and the text) for the runner; -1 with ZRT_NOFORK. */
static int zrt_verdict_fd = -1;
/* Called before a failed or skipped case ends its process (zrtest_proc.h
 * kills the case's child processes there). */
static void (*zrt_end_hook)(void);

static inline int64_t
zrt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Ends the case's process with CODE once its verdict KIND ('F', 'S') and
 * the first line of TEXT (after PREFIX) are on their way to the runner. */
__attribute__((noreturn)) static inline void
zrt_end(char kind, const char *prefix, const char *text, int code)
{
    if (zrt_verdict_fd >= 0) {
        /* One write of less than PIPE_BUF: atomic, and it cannot block
         * on the runner's empty pipe. */
        char line[1024];
        int n = snprintf(line, sizeof line, "%c%s%.*s", kind, prefix,
                         (int) strcspn(text, "\n"), text);
        if (n > 0) {
            ssize_t rc =
                write(zrt_verdict_fd, line,
                      (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
            (void) rc;
        }
    }
    void (*hook)(void) = zrt_end_hook;
    zrt_end_hook = NULL;
    if (hook) {
        hook();
    }
    fflush(NULL);
    _exit(code);
}

/* A failed check at FILE:LINE: says what it saw (all of it on stderr, its
 * first line to the runner) and ends the case. */
__attribute__((noreturn, format(printf, 3, 4))) static inline void
zrt_fail(const char *file, int line, const char *fmt, ...)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fprintf(stderr, "FAIL %s (%s:%d): ", zrt_current, base, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    char where[300];
    snprintf(where, sizeof where, "%s:%d: ", base, line);
    zrt_end('F', where, what, 1);
}

/* The case cannot run here, for the reason given. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void
zrt_skip(const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(stderr, "SKIP %s: %s\n", zrt_current, why);
    zrt_end('S', "", why, 77);
}

#define ZR_FAILF(...) zrt_fail(__FILE__, __LINE__, __VA_ARGS__)

/* ZR_SKIP("reason", ...): the reason, a printf format, is mandatory and
 * must be a non-empty string literal. */
#define ZRT_FIRST_(first, ...) first
#define ZRT_FIRST(...) ZRT_FIRST_(__VA_ARGS__, 0)
#define ZR_SKIP(...)                                                           \
    do {                                                                       \
        _Static_assert(sizeof(ZRT_FIRST(__VA_ARGS__) "") > 1,                  \
                       "ZR_SKIP needs a reason");                              \
        zrt_skip(__VA_ARGS__);                                                 \
    } while (0)

#define ZR_CHECK(cond)                                                         \
    do {                                                                       \
        if (!(cond)) {                                                         \
            ZR_FAILF("%s", #cond);                                             \
        }                                                                      \
    } while (0)

#define ZR_CHECKF(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) {                                                         \
            ZR_FAILF(__VA_ARGS__);                                             \
        }                                                                      \
    } while (0)

/* EXPR must succeed (not -1, not NULL); prints errno's text if not. */
#define ZR_PASS(expr)                                                          \
    do {                                                                       \
        errno = 0;                                                             \
        if ((intptr_t) (expr) == -1) {                                         \
            ZR_FAILF("%s failed: %s", #expr, zmq_strerror(errno));             \
        }                                                                      \
    } while (0)

/* EXPR must fail with -1 and errno ERR. */
#define ZR_FAIL(expr, err)                                                     \
    do {                                                                       \
        errno = 0;                                                             \
        intptr_t zrt_rc_ = (intptr_t) (expr);                                  \
        int zrt_e_ = errno;                                                    \
        if (zrt_rc_ != -1 || zrt_e_ != (err)) {                                \
            ZR_FAILF("%s: want -1/%s, got %" PRIdPTR "/%s", #expr, #err,       \
                     zrt_rc_, zmq_strerror(zrt_e_));                           \
        }                                                                      \
    } while (0)

/* EXPR must return NULL with errno ERR. */
#define ZR_FAILP(expr, err)                                                    \
    do {                                                                       \
        errno = 0;                                                             \
        const void *zrt_p_ = (expr);                                           \
        int zrt_e_ = errno;                                                    \
        if (zrt_p_ != NULL || zrt_e_ != (err)) {                               \
            ZR_FAILF("%s: want NULL/%s, got %p/%s", #expr, #err, zrt_p_,       \
                     zmq_strerror(zrt_e_));                                    \
        }                                                                      \
    } while (0)

#define ZR_EQ(a, b)                                                            \
    do {                                                                       \
        long long zrt_a_ = (long long) (a), zrt_b_ = (long long) (b);          \
        if (zrt_a_ != zrt_b_) {                                                \
            ZR_FAILF("%s == %s: %lld != %lld", #a, #b, zrt_a_, zrt_b_);        \
        }                                                                      \
    } while (0)

#define ZR_STREQ(a, b)                                                         \
    do {                                                                       \
        const char *zrt_a_ = (a), *zrt_b_ = (b);                               \
        if (!zrt_a_ || !zrt_b_ || strcmp(zrt_a_, zrt_b_) != 0) {               \
            ZR_FAILF("%s == %s: '%s' != '%s'", #a, #b,                         \
                     zrt_a_ ? zrt_a_ : "(null)", zrt_b_ ? zrt_b_ : "(null)");  \
        }                                                                      \
    } while (0)

/* Default deadline for anything a test waits on. */
#define ZRT_DEADLINE_MS 10000

/* Wait until COND holds, re-checking at least every 2 ms (an event the
 * test cannot poll, such as a counter in another thread), or fail at the
 * deadline. */
#define ZR_WAIT(cond, ms)                                                      \
    do {                                                                       \
        int64_t zrt_end_ = zrt_now_ms() + (ms);                                \
        while (!(cond)) {                                                      \
            if (zrt_now_ms() > zrt_end_) {                                     \
                ZR_FAILF("gave up after %d ms waiting for %s", (int) (ms),     \
                         #cond);                                               \
            }                                                                  \
            zmq_poll(NULL, 0, 2);                                              \
        }                                                                      \
    } while (0)

/* Wait until DEV's counters, read into ST (a zr_stats_t), satisfy COND
 * while the relay waits for traffic: its counters then include every
 * message it moved. */
#define ZR_WAIT_STATS(dev, st, cond, ms)                                       \
    ZR_WAIT((zr_device_stats((dev), &(st)), (st).waiting && (cond)), ms)

static inline void
zrt_setint(void *socket, int option, int value)
{
    if (zmq_setsockopt(socket, option, &value, sizeof value) != 0) {
        ZR_FAILF("setsockopt %d: %s", option, zmq_strerror(errno));
    }
}

/* A socket with linger 0, so a test never hangs at exit. */
static inline void *
zrt_socket(void *ctx, int type)
{
    void *s = zmq_socket(ctx, type);
    if (!s) {
        ZR_FAILF("zmq_socket: %s", zmq_strerror(errno));
    }
    zrt_setint(s, ZMQ_LINGER, 0);
    return s;
}

/* Bind to ENDPOINT (e.g. tcp://127.0.0.1:*) and return the resolved one
 * in BUF. */
static inline const char *
zrt_bind(void *socket, const char *endpoint, char *buf, size_t len)
{
    if (zmq_bind(socket, endpoint) != 0) {
        ZR_FAILF("bind %s: %s", endpoint, zmq_strerror(errno));
    }
    zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, buf, &len);
    return buf;
}

static inline void
zrt_connect(void *socket, const char *endpoint)
{
    if (zmq_connect(socket, endpoint) != 0) {
        ZR_FAILF("connect %s: %s", endpoint, zmq_strerror(errno));
    }
}

/* Wait for SOCKET to become readable within MS; false on timeout. */
static inline bool
zrt_readable(void *socket, long ms)
{
    zmq_pollitem_t item = {.socket = socket, .events = ZMQ_POLLIN};
    return zmq_poll(&item, 1, ms) == 1;
}

static inline void
zrt_send_str(void *socket, const char *text, int flags)
{
    if (zmq_send(socket, text, strlen(text), flags) < 0) {
        ZR_FAILF("send '%s': %s", text, zmq_strerror(errno));
    }
}

/* Receive one frame as a string (truncated to LEN-1) within the deadline. */
static inline char *
zrt_recv_str(void *socket, char *buf, size_t len)
{
    if (!zrt_readable(socket, ZRT_DEADLINE_MS)) {
        ZR_FAILF("nothing received within %d ms", ZRT_DEADLINE_MS);
    }
    int n = zmq_recv(socket, buf, len - 1, 0);
    if (n < 0) {
        ZR_FAILF("recv: %s", zmq_strerror(errno));
    }
    buf[(size_t) n < len - 1 ? (size_t) n : len - 1] = 0;
    return buf;
}

#define ZR_SEND(socket, text) zrt_send_str((socket), (text), 0)
#define ZR_SENDMORE(socket, text) zrt_send_str((socket), (text), ZMQ_SNDMORE)
#define ZR_RECV(socket, text)                                                  \
    do {                                                                       \
        char zrt_buf_[256];                                                    \
        ZR_STREQ(zrt_recv_str((socket), zrt_buf_, sizeof zrt_buf_), (text));   \
    } while (0)

/* A device of TYPE between FRONT and BACK (endpoint lists), configured by
 * CONFIGURE when not NULL, running in a thread of its own. */
static inline zr_device_t *
zrt_device(void *ctx, zr_device_type_t type, const char *front,
           const char *back, void (*configure)(zr_device_t *))
{
    zr_device_t *dev = zr_device_new(ctx, type, NULL);
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, front));
    ZR_PASS(zr_device_set_backend(dev, back));
    if (configure) {
        configure(dev);
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("device start: %s", zr_device_error(dev));
    }
    return dev;
}

/* A device named TAG between @inproc://TAG-front and @inproc://TAG-back,
 * with the options of KV (key, value, ..., NULL; KV may be NULL),
 * started. */
static inline zr_device_t *
zrt_tag_device(void *ctx, zr_device_type_t type, const char *tag,
               const char *const *kv)
{
    char front[64], back[64];
    snprintf(front, sizeof front, "@inproc://%s-front", tag);
    snprintf(back, sizeof back, "@inproc://%s-back", tag);
    zr_device_t *dev = zr_device_new(ctx, type, tag);
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, front));
    ZR_PASS(zr_device_set_backend(dev, back));
    for (; kv && kv[0]; kv += 2) {
        if (zr_device_set(dev, kv[0], kv[1]) != 0) {
            ZR_FAILF("%s = %s: %s", kv[0], kv[1], zr_device_error(dev));
        }
    }
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(dev));
    }
    return dev;
}

/* The number at the path KEY, ... (NULL-terminated) in DEV's STATS JSON,
 * e.g. zrt_stat(dev, "last_value", "sent", NULL). */
static inline double
zrt_stat(zr_device_t *dev, const char *key, ...)
{
    char *text = zr_device_stats_json(dev);
    cJSON *root = cJSON_Parse(text);
    free(text);
    ZR_CHECK(root != NULL);
    cJSON *o = root;
    char path[256] = "";
    va_list ap;
    va_start(ap, key);
    for (const char *k = key; k; k = va_arg(ap, const char *)) {
        o = cJSON_GetObjectItem(o, k);
        size_t at = strlen(path);
        snprintf(path + at, sizeof path - at, "%s%s", at ? "." : "", k);
    }
    va_end(ap);
    ZR_CHECKF(cJSON_IsNumber(o), "no %s in STATS", path);
    double v = o->valuedouble;
    cJSON_Delete(root);
    return v;
}

/* The resolved address of DEV's endpoint number I (see zr_device_endpoint). */
static inline const char *
zrt_device_endpoint(zr_device_t *dev, size_t i)
{
    const char *address = NULL;
    ZR_PASS(zr_device_endpoint(dev, i, NULL, NULL, &address));
    return address;
}

/* ---------------------------------------------------------------------
 * The runner.
 */

#define ZRT_TIMEOUT_S 60

typedef struct {
    char kind; /* 'o' ok, 'F' failed, 'S' skipped */
    char text[1100];
} zrt_verdict_t;

static inline void
zrt_on_sigchld(int sig)
{
    (void) sig;
}

static inline void zrt_verdict(zrt_verdict_t *v, char kind, const char *fmt,
                               ...) __attribute__((format(printf, 3, 4)));

static inline void
zrt_verdict(zrt_verdict_t *v, char kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    v->kind = kind;
    vsnprintf(v->text, sizeof v->text, fmt, ap);
    va_end(ap);
}

/* Runs T in a child process for at most TIMEOUT_S seconds; SIGCHLD is
 * blocked (the runner waits for it with sigtimedwait). */
static inline void
zrt_run_forked(const zrt_test_t *t, int timeout_s, const sigset_t *chld,
               const sigset_t *mask, zrt_verdict_t *v)
{
    int fds[2];
    if (pipe(fds) != 0) {
        zrt_verdict(v, 'F', "pipe: %s", strerror(errno));
        return;
    }
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    pid_t runner = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        zrt_verdict(v, 'F', "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        signal(SIGCHLD, SIG_DFL);
        sigprocmask(SIG_SETMASK, mask, NULL);
#ifdef __linux__
        /* The case ends with the runner (killed by CTest's timeout, say);
         * its own children (zrtest_proc.h) end with it in turn. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != runner) {
            _exit(1);
        }
#endif
        (void) runner;
        close(fds[0]);
        zrt_verdict_fd = fds[1];
        zrt_current = t->name;
        t->fn();
        exit(0); /* not _exit: LeakSanitizer checks at exit */
    }
    close(fds[1]);
    int64_t deadline = zrt_now_ms() + (int64_t) timeout_s * 1000;
    bool hung = false;
    int status = 0;
    for (;;) {
        pid_t rc = waitpid(pid, &status, WNOHANG);
        if (rc == pid) {
            break;
        }
        if (rc < 0 && errno != EINTR) {
            zrt_verdict(v, 'F', "waitpid: %s", strerror(errno));
            close(fds[0]);
            return;
        }
        int64_t left = deadline - zrt_now_ms();
        if (left <= 0 && !hung) {
            hung = true;
            kill(pid, SIGKILL);
            continue;
        }
        if (left <= 0) {
            left = 100; /* killed: reaping is a moment away */
        }
        struct timespec ts = {(time_t) (left / 1000),
                              (long) (left % 1000) * 1000000};
        sigtimedwait(chld, NULL, &ts);
    }
    char said[sizeof v->text];
    ssize_t n = read(fds[0], said, sizeof said - 1);
    close(fds[0]);
    said[n > 0 ? n : 0] = 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (hung) {
        zrt_verdict(v, 'F',
                    "still running after %d s (ZRT_TIMEOUT): "
                    "killed",
                    timeout_s);
    }
    else if (said[0] == 'F') {
        zrt_verdict(v, 'F', "%s", said + 1);
    }
    else if (WIFSIGNALED(status)) {
        zrt_verdict(v, 'F', "killed by signal %d (%s)", WTERMSIG(status),
                    strsignal(WTERMSIG(status)));
    }
    else if (said[0] == 'S' && code == 77) {
        zrt_verdict(v, 'S', "%s", said + 1);
    }
    else if (code == 0 && !said[0]) {
        zrt_verdict(v, 'o', "%s", "");
    }
    else {
        zrt_verdict(v, 'F',
                    "exited %d with no failed check (a "
                    "sanitizer's report? see above)",
                    code);
    }
}

static inline int
zrt_run(const zrt_test_t *tests, int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    const char *filter = argc > 1 ? argv[1] : NULL;
    if (filter && strcmp(filter, "--list") == 0) {
        for (const zrt_test_t *t = tests; t->name; t++) {
            puts(t->name);
        }
        return 0;
    }
    const char *env = getenv("ZRT_NOFORK");
    bool nofork = env && *env && strcmp(env, "0") != 0;
    int timeout_s = ZRT_TIMEOUT_S;
    env = getenv("ZRT_TIMEOUT");
    if (env && atoi(env) > 0) {
        timeout_s = atoi(env);
    }
    sigset_t chld, mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    /* A handler, so that a blocked SIGCHLD stays pending. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = zrt_on_sigchld;
    sigemptyset(&sa.sa_mask);
    if (!nofork) {
        sigaction(SIGCHLD, &sa, NULL);
        sigprocmask(SIG_BLOCK, &chld, &mask);
    }
    size_t ntests = 0;
    while (tests[ntests].name) {
        ntests++;
    }
    char *kinds = calloc(ntests + 1, 1);
    if (!kinds) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    int ran = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < ntests; i++) {
        const zrt_test_t *t = &tests[i];
        if (filter && !strstr(t->name, filter)) {
            continue;
        }
        printf("RUN  %s\n", t->name);
        int64_t start = zrt_now_ms();
        zrt_verdict_t v = {'o', ""};
        if (nofork) {
            zrt_current = t->name;
            t->fn();
        }
        else {
            zrt_run_forked(t, timeout_s, &chld, &mask, &v);
        }
        int64_t ms = zrt_now_ms() - start;
        kinds[i] = v.kind;
        ran++;
        failed += v.kind == 'F';
        skipped += v.kind == 'S';
        printf("%-4s %s (%" PRId64 " ms)%s%s\n",
               v.kind == 'F'   ? "FAIL"
               : v.kind == 'S' ? "SKIP"
                               : "ok",
               t->name, ms, v.text[0] ? ": " : "", v.text);
    }
    if (ran == 0) {
        fprintf(stderr, "%s: no test matches '%s'\n", prog,
                filter ? filter : "");
        free(kinds);
        return 1;
    }
    printf("%s: %d case%s: %d ok, %d failed, %d skipped\n", prog, ran,
           ran == 1 ? "" : "s", ran - failed - skipped, failed, skipped);
    for (size_t i = 0; i < ntests; i++) {
        if (kinds[i] == 'F') {
            printf("  failed: %s\n", tests[i].name);
        }
    }
    free(kinds);
    return failed ? 1 : skipped == ran ? 77 : 0;
}

#define ZR_MAIN                                                                \
    int main(int argc, char **argv)                                            \
    {                                                                          \
        return zrt_run(zrt_tests, argc, argv);                                 \
    }

#endif
