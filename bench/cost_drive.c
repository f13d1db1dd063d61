/* cost_drive.c - zrelay-bench-cost: a fixed amount of traffic through a
 * relay process, for counting what the relay spends on it.
 * SPDX-License-Identifier: MIT
 *
 *   zrelay-bench-cost PATTERN SIZE COUNT [--window W] [--control CTL,ACK]
 *       -- COMMAND [ARG...]
 *
 * Starts COMMAND (a relay: `zrelay streamer @tcp://127.0.0.1:*
 * @tcp://127.0.0.1:*`, `zrelay-bench-zmq-proxy ...`, either of them under
 * `valgrind --tool=callgrind` or `perf stat`) in a process group of its
 * own, reads its "frontend bind ADDRESS", "backend bind ADDRESS" and
 * "ready" lines, sends COUNT messages of SIZE bytes (COUNT round trips
 * for the queue) through it, waits until the far end has acknowledged the
 * end of the stream, then sends the group SIGINT and waits for the relay
 * to exit. Running it twice, with COUNT and 2 x COUNT, the difference of
 * any count the relay's wrapper reports (instructions, system calls),
 * divided by COUNT, is what one message costs: starting and stopping
 * cancel out (bench/cost.sh does that).
 *
 * --control CTL,ACK: two FIFOs of `perf stat --control fifo:CTL,ACK -D -1`
 * (counting starts disabled): "enable" is written to CTL just before the
 * traffic and "disable" just after it, each acknowledged on ACK, so that
 * perf counts the traffic only (a count that depends on timing, such as
 * system calls, cannot use the difference of two runs).
 *
 * PATTERN (the traffic is native, in this process, one context per side):
 *   streamer   PUSH -> PULL/PUSH -> PULL
 *   forwarder  XPUB (ZMQ_XPUB_NODROP, so it never drops) -> XSUB/XPUB ->
 *              SUB: sends only once the subscription has reached it; the
 *              relay's XPUB may drop (libzmq's default), so 'E' is repeated
 *              until the subscriber has it; "delivered" says how many data
 *              messages arrived
 *   reqrep     REQ -> ROUTER/DEALER -> REP echo, one round trip at a time
 *   dealer     DEALER -> ROUTER/DEALER -> DEALER echo, W (default 64)
 *              requests in flight
 *
 * Prints one line: "PATTERN SIZE COUNT delivered=D seconds=S". Exit 0, or
 * 1 when the relay did not start, a message took more than a minute, or
 * the relay did not exit cleanly (exit 0 or killed by the SIGINT, as
 * `perf stat` re-raises it); 2 on a usage error. No sleep anywhere: every
 * wait is on an event with a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MSG_TIMEOUT_MS 60000   /* one message, one round trip */
#define S_START_TIMEOUT_MS 60000 /* the relay's "ready" (valgrind: slow) */
#define S_STOP_TIMEOUT_MS 60000  /* the relay's exit after SIGINT */
#define S_E_REPEAT_MS 10         /* forwarder: 'E' again this often */

typedef enum { S_STREAMER, S_FORWARDER, S_REQREP, S_DEALER } s_pattern_t;

typedef struct {
    s_pattern_t pattern;
    size_t size;
    long count;
    int window;
    char front[256], back[256];
    char *payload;
    /* The far end's side. */
    void *far_ctx;
    void *far;
    atomic_long delivered;
    atomic_bool done; /* the far end has its 'E' */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char error[200];
} s_run_t;

static void
s_fail(s_run_t *run, const char *what)
{
    pthread_mutex_lock(&run->mu);
    if (!run->error[0]) {
        snprintf(run->error, sizeof run->error, "%s: %s", what,
                 zmq_strerror(errno));
    }
    pthread_mutex_unlock(&run->mu);
}

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
s_socket(void *ctx, int type, const char *endpoint)
{
    void *s = zmq_socket(ctx, type);
    int timeout = S_MSG_TIMEOUT_MS, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (type == ZMQ_XPUB) {
        int on = 1;
        zmq_setsockopt(s, ZMQ_XPUB_NODROP, &on, sizeof on);
    }
    if (type == ZMQ_SUB) {
        zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    }
    if (zmq_connect(s, endpoint) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Receive one whole message into FRAMES (at most 8); the number of frames,
 * or -1. */
static int
s_recv_all(void *s, zmq_msg_t *frames)
{
    int n = 0;
    for (;;) {
        zmq_msg_t *m = &frames[n < 8 ? n : 7];
        if (n >= 8) {
            zmq_msg_close(m);
        }
        zmq_msg_init(m);
        while (zmq_msg_recv(m, s, 0) < 0) {
            if (errno != EINTR) {
                zmq_msg_close(m);
                return -1;
            }
        }
        n++;
        if (!zmq_msg_more(m)) {
            return n < 8 ? n : 8;
        }
    }
}

static char
s_tag(zmq_msg_t *m)
{
    return zmq_msg_size(m) ? *(char *) zmq_msg_data(m) : 0;
}

static void
s_set_done(s_run_t *run)
{
    pthread_mutex_lock(&run->mu);
    atomic_store(&run->done, true);
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
}

/* ---------------------------------------------------------------------
 * The far end: the consumer (streamer, forwarder) or the worker (queue).
 */

static void *
s_far_end(void *arg)
{
    s_run_t *run = arg;
    zmq_msg_t frames[8];
    for (;;) {
        int n = s_recv_all(run->far, frames);
        if (n < 0) {
            s_fail(run, "far end: receive");
            break;
        }
        char tag = s_tag(&frames[n - 1]);
        bool echo = run->pattern == S_REQREP || run->pattern == S_DEALER;
        for (int i = 0; i < n; i++) {
            if (echo && zmq_msg_send(&frames[i], run->far,
                                     i + 1 < n ? ZMQ_SNDMORE : 0) < 0) {
                s_fail(run, "far end: send");
                echo = false;
            }
            zmq_msg_close(&frames[i]);
        }
        if (tag == 'E') {
            s_set_done(run);
            break;
        }
        if (tag == 'D') {
            atomic_fetch_add(&run->delivered, 1);
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * The near end: producer or client, in the main thread.
 */

static int
s_send(void *s, const void *buf, size_t len, int flags)
{
    while (zmq_send(s, buf, len, flags) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

static int
s_recv(void *s)
{
    zmq_msg_t frames[8];
    int n = s_recv_all(s, frames);
    for (int i = 0; i < n; i++) {
        zmq_msg_close(&frames[i]);
    }
    return n < 0 ? -1 : 0;
}

static int
s_near_streamer(s_run_t *run, void *s)
{
    for (long i = 0; i < run->count; i++) {
        if (s_send(s, run->payload, run->size, 0) != 0) {
            return -1;
        }
    }
    return s_send(s, "E", 1, 0);
}

static int
s_near_forwarder(s_run_t *run, void *s)
{
    /* The subscription has come through the relay: from here on every
     * message reaches the subscriber unless the relay's XPUB drops it. */
    zmq_msg_t sub;
    zmq_msg_init(&sub);
    int rc = zmq_msg_recv(&sub, s, 0);
    zmq_msg_close(&sub);
    if (rc < 0 || s_near_streamer(run, s) != 0) {
        return -1;
    }
    pthread_mutex_lock(&run->mu);
    while (!atomic_load(&run->done) && !run->error[0]) {
        pthread_mutex_unlock(&run->mu);
        if (s_send(s, "E", 1, 0) != 0) {
            return -1;
        }
        pthread_mutex_lock(&run->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += S_E_REPEAT_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&run->cv, &run->mu, &until);
    }
    pthread_mutex_unlock(&run->mu);
    return 0;
}

static int
s_near_reqrep(s_run_t *run, void *s)
{
    for (long i = 0; i < run->count; i++) {
        if (s_send(s, run->payload, run->size, 0) != 0 || s_recv(s) != 0) {
            return -1;
        }
    }
    return s_send(s, "E", 1, 0) != 0 || s_recv(s) != 0 ? -1 : 0;
}

static int
s_near_dealer(s_run_t *run, void *s)
{
    long sent = 0, got = 0;
    while (got < run->count) {
        while (sent < run->count && sent - got < run->window) {
            if (s_send(s, run->payload, run->size, 0) != 0) {
                return -1;
            }
            sent++;
        }
        if (s_recv(s) != 0) {
            return -1;
        }
        got++;
    }
    return s_send(s, "E", 1, 0) != 0 || s_recv(s) != 0 ? -1 : 0;
}

/* Run the traffic through the relay at run->front/back: 0 or -1. */
static int
s_traffic(s_run_t *run)
{
    static const int near_type[] = {ZMQ_PUSH, ZMQ_XPUB, ZMQ_REQ, ZMQ_DEALER};
    static const int far_type[] = {ZMQ_PULL, ZMQ_SUB, ZMQ_REP, ZMQ_DEALER};
    void *near_ctx = zmq_ctx_new();
    run->far_ctx = zmq_ctx_new();
    void *near = s_socket(near_ctx, near_type[run->pattern], run->front);
    run->far = s_socket(run->far_ctx, far_type[run->pattern], run->back);
    int rc = -1;
    pthread_t far;
    bool started = false;
    if (!near || !run->far) {
        s_fail(run, "connect");
    }
    else if (pthread_create(&far, NULL, s_far_end, run) != 0) {
        snprintf(run->error, sizeof run->error, "cannot start a thread");
    }
    else {
        started = true;
        int (*near_fn[])(s_run_t *, void *) = {
            s_near_streamer, s_near_forwarder, s_near_reqrep, s_near_dealer};
        rc = near_fn[run->pattern](run, near);
        if (rc != 0) {
            s_fail(run, "near end");
        }
    }
    if (started) {
        if (rc != 0) {
            /* The far end may wait for a message that never comes. */
            zmq_ctx_shutdown(run->far_ctx);
        }
        pthread_join(far, NULL);
    }
    if (near) {
        zmq_close(near);
    }
    if (run->far) {
        zmq_close(run->far);
    }
    zmq_ctx_term(near_ctx);
    zmq_ctx_term(run->far_ctx);
    return rc == 0 && !run->error[0] ? 0 : -1;
}

/* ---------------------------------------------------------------------
 * The relay process.
 */

/* Start ARGV in a process group of its own with its stdout on a pipe:
 * the pid, or -1. */
static pid_t
s_spawn(char **argv, int *out_fd)
{
    int p[2];
    if (pipe(p) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "zrelay-bench-cost: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    setpgid(pid, pid); /* as the child does: whichever runs first */
    *out_fd = p[0];
    return pid;
}

/* Read one line from FD into LINE within TIMEOUT_MS: its length, or -1
 * on end of file, an error or the deadline. */
static int
s_read_line(int fd, char *line, size_t cap, int timeout_ms)
{
    size_t n = 0;
    double until = s_now() + timeout_ms / 1000.0;
    for (;;) {
        int left = (int) ((until - s_now()) * 1000);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) <= 0) {
            return -1;
        }
        char c;
        ssize_t got = read(fd, &c, 1);
        if (got <= 0) {
            return -1;
        }
        if (c == '\n') {
            line[n] = 0;
            return (int) n;
        }
        /* perf's "ack\n" comes with its terminating NUL. */
        if (c && n + 1 < cap) {
            line[n++] = c;
        }
    }
}

/* Write CMD to perf's control FIFO and wait for its "ack": 0 or -1. */
static int
s_control(int ctl, int ack, const char *cmd)
{
    char line[64];
    if (write(ctl, cmd, strlen(cmd)) != (ssize_t) strlen(cmd) ||
        s_read_line(ack, line, sizeof line, S_START_TIMEOUT_MS) < 0 ||
        strcmp(line, "ack") != 0) {
        fprintf(stderr, "zrelay-bench-cost: no 'ack' to '%.*s'\n",
                (int) strlen(cmd) - 1, cmd);
        return -1;
    }
    return 0;
}

/* Stop the relay: SIGINT to its group, then its exit within the deadline
 * (its stdout closing: it is gone). 0 when it exited cleanly. */
static int
s_stop(pid_t pid, int fd)
{
    kill(-pid, SIGINT);
    char line[512];
    int rc = 0;
    double until = s_now() + S_STOP_TIMEOUT_MS / 1000.0;
    while (s_now() < until &&
           s_read_line(fd, line, sizeof line,
                       (int) ((until - s_now()) * 1000) + 1) >= 0) {
    }
    if (s_now() >= until) {
        fprintf(stderr, "zrelay-bench-cost: the relay did not stop\n");
        kill(-pid, SIGKILL);
        rc = -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    close(fd);
    bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                 (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
    if (rc == 0 && !clean) {
        fprintf(stderr, "zrelay-bench-cost: the relay exited with %s %d\n",
                WIFEXITED(status) ? "status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        rc = -1;
    }
    return rc;
}

static int
s_usage(void)
{
    fprintf(stderr, "usage: zrelay-bench-cost streamer|forwarder|reqrep|dealer "
                    "SIZE COUNT [--window W] [--control CTL,ACK] -- COMMAND "
                    "[ARG...]\n");
    return 2;
}

int
main(int argc, char **argv)
{
    static const char *names[] = {"streamer", "forwarder", "reqrep", "dealer"};
    static s_run_t run = {.window = 64,
                          .mu = PTHREAD_MUTEX_INITIALIZER,
                          .cv = PTHREAD_COND_INITIALIZER};
    if (argc < 5) {
        return s_usage();
    }
    int p = 0;
    while (p < 4 && strcmp(argv[1], names[p]) != 0) {
        p++;
    }
    run.pattern = (s_pattern_t) p;
    char *end;
    run.size = strtoul(argv[2], &end, 10);
    run.count = strtol(argv[3], &end, 10);
    if (p == 4 || run.size < 1 || run.count < 1 || *end) {
        return s_usage();
    }
    int i = 4;
    int ctl = -1, ack = -1;
    while (i + 1 < argc && strcmp(argv[i], "--") != 0) {
        if (strcmp(argv[i], "--window") == 0) {
            run.window = atoi(argv[i + 1]);
        }
        else if (strcmp(argv[i], "--control") == 0 && ctl < 0) {
            char *comma = strchr(argv[i + 1], ',');
            if (!comma) {
                return s_usage();
            }
            *comma = 0;
            /* Read and write: opening a FIFO so never waits for the
             * other end. */
            ctl = open(argv[i + 1], O_RDWR);
            ack = open(comma + 1, O_RDWR);
            if (ctl < 0 || ack < 0) {
                fprintf(stderr, "zrelay-bench-cost: %s: %s\n", argv[i + 1],
                        strerror(errno));
                return 1;
            }
        }
        else {
            return s_usage();
        }
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 == argc ||
        run.window < 1) {
        return s_usage();
    }
    run.payload = malloc(run.size);
    memset(run.payload, 'x', run.size);
    run.payload[0] = 'D';
    signal(SIGPIPE, SIG_IGN);

    int fd;
    pid_t pid = s_spawn(argv + i + 1, &fd);
    if (pid < 0) {
        fprintf(stderr, "zrelay-bench-cost: fork: %s\n", strerror(errno));
        return 1;
    }
    char line[512];
    bool ready = false;
    while (!ready &&
           s_read_line(fd, line, sizeof line, S_START_TIMEOUT_MS) >= 0) {
        char addr[256];
        if (sscanf(line, "frontend bind %255s", addr) == 1) {
            snprintf(run.front, sizeof run.front, "%s", addr);
        }
        else if (sscanf(line, "backend bind %255s", addr) == 1) {
            snprintf(run.back, sizeof run.back, "%s", addr);
        }
        ready = strcmp(line, "ready") == 0;
    }
    int status = 0;
    double took = 0;
    if (!ready || !run.front[0] || !run.back[0]) {
        fprintf(stderr, "zrelay-bench-cost: no 'ready' with a frontend and "
                        "a backend it binds from the relay\n");
        status = 1;
    }
    else {
        double t0 = s_now();
        if (ctl >= 0 && s_control(ctl, ack, "enable\n") != 0) {
            status = 1;
        }
        else if (s_traffic(&run) != 0) {
            fprintf(stderr, "zrelay-bench-cost: %s\n", run.error);
            status = 1;
        }
        took = s_now() - t0;
        if (status == 0 && ctl >= 0 && s_control(ctl, ack, "disable\n") != 0) {
            status = 1;
        }
    }
    if (s_stop(pid, fd) != 0) {
        status = 1;
    }
    if (status == 0) {
        printf("%s %zu %ld delivered=%ld seconds=%.3f\n", names[p], run.size,
               run.count, atomic_load(&run.delivered), took);
    }
    free(run.payload);
    return status;
}
