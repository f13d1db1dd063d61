/* test_mdp_cli.c - `zrelay mdp-call` and `zrelay mdp-worker` as a shell
 * user meets them: a command as a service, its failures as error
 * replies and exit codes, no reply, a clean stop with DISCONNECT, the
 * help. The broker is a majordomo device in this process (so its
 * counters can be read), on tcp; the verbs are the zrelay binary.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest_proc.h"

#include <stdarg.h>
#include <sys/stat.h>

#define S_MAX_ARGS 32

typedef struct {
    void *ctx;
    zr_device_t *dev;
    char ep[256];
} s_broker_t;

static void
s_broker_start(s_broker_t *b, const char *request_timeout)
{
    b->ctx = zmq_ctx_new();
    b->dev = zr_device_new(b->ctx, ZR_MAJORDOMO, "mdp");
    ZR_CHECK(b->dev != NULL);
    ZR_PASS(zr_device_set_frontend(b->dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set(b->dev, "request_timeout", request_timeout));
    if (zr_device_start(b->dev) != 0) {
        ZR_FAILF("start: %s", zr_device_error(b->dev));
    }
    snprintf(b->ep, sizeof b->ep, "%s", zrt_device_endpoint(b->dev, 0));
}

static void
s_broker_stop(s_broker_t *b)
{
    zr_device_destroy(&b->dev);
    zmq_ctx_term(b->ctx);
}

/* Start `zrelay ARG...` (NULL-ended); with STDIN_FD, its stdin is a
 * pipe whose write end goes there. */
static zrt_proc_t *
s_start(int *stdin_fd, const char *first, ...)
{
    const char *argv[S_MAX_ARGS + 2] = {ZRELAY_BIN};
    int n = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        ZR_CHECKF(n <= S_MAX_ARGS, "too many arguments");
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    return stdin_fd ? zrt_proc_start_stdin(argv, NULL, stdin_fd)
                    : zrt_proc_start(argv, NULL);
}

/* A worker that printed 'ready'. */
static void
s_ready(zrt_proc_t *p)
{
    char line[256];
    ZR_CHECKF(zrt_proc_read_line(p, line, sizeof line, ZRT_DEADLINE_MS),
              "'%s' printed no line; stderr:\n%s", p->cmdline,
              zrt_proc_stderr(p));
    ZR_STREQ(line, "ready");
}

#define S_CONTAINS(text, want)                                                 \
    do {                                                                       \
        const char *s_t_ = (text), *s_w_ = (want);                             \
        ZR_CHECKF(strstr(s_t_, s_w_), "%s lacks '%s'; it is:\n%s", #text,      \
                  s_w_, s_t_);                                                 \
    } while (0)

/* The call C of a worker that stops right after its reply (a signal,
 * --count): it prints WANT and exits 0. The worker's connection closes
 * just after its REPLY; the broker reads the REPLY before it takes the
 * close for the worker's end (test_mdp: "a reply, then the worker's
 * close"). */
static void
s_expect_reply(s_broker_t *b, zrt_proc_t *c, const char *want)
{
    ZR_CHECKF(zrt_proc_wait(c, ZRT_DEADLINE_MS), "'%s' still running",
              c->cmdline);
    ZR_CHECKF(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
              "'%s' exited 0x%x, late replies %g; stderr:\n%s", c->cmdline,
              c->status,
              zrt_stat(b->dev, "majordomo", "requests", "late_replies", NULL),
              zrt_proc_stderr(c));
    ZR_STREQ(zrt_proc_stdout(c), want);
}

/* mdp-worker echo --exec cat, mdp-call echo hello: hello. Both
 * versions, bodies from arguments and from stdin, the environment. */
static void
test_echo(void)
{
    s_broker_t b;
    s_broker_start(&b, "10s");
    zrt_proc_t *w1 = s_start(NULL, "mdp-worker", "echo", "--exec", "cat",
                             "--broker", b.ep, NULL);
    zrt_proc_t *w2 = s_start(NULL, "mdp-worker", "env", "-e",
                             "echo $ZRELAY_SERVICE $ZRELAY_FRAMES", "--mdp",
                             "2", "-b", b.ep, NULL);
    s_ready(w1);
    s_ready(w2);
    zrt_proc_t *c =
        s_start(NULL, "mdp-call", "echo", "hello", "--broker", b.ep, NULL);
    zrt_proc_expect_exit(c, 0, ZRT_DEADLINE_MS);
    ZR_STREQ(zrt_proc_stdout(c), "hello\n");
    zrt_proc_destroy(&c);
    /* Two frames: two lines in, two lines out (the final newline goes). */
    c = s_start(NULL, "mdp-call", "echo", "a", "b", "--mdp", "2", "-b", b.ep,
                NULL);
    zrt_proc_expect_exit(c, 0, ZRT_DEADLINE_MS);
    ZR_STREQ(zrt_proc_stdout(c), "a\nb\n");
    zrt_proc_destroy(&c);
    /* Standard input is one frame, without its final newline. */
    int in;
    c = s_start(&in, "mdp-call", "echo", "-b", b.ep, "--format", "quoted",
                NULL);
    ZR_EQ(write(in, "one\ntwo\n", 8), 8);
    close(in);
    zrt_proc_expect_exit(c, 0, ZRT_DEADLINE_MS);
    ZR_STREQ(zrt_proc_stdout(c), "\"one\\ntwo\"\n");
    zrt_proc_destroy(&c);
    c = s_start(NULL, "mdp-call", "env", "x", "y", "-b", b.ep, NULL);
    zrt_proc_expect_exit(c, 0, ZRT_DEADLINE_MS);
    ZR_STREQ(zrt_proc_stdout(c), "env 2\n");
    zrt_proc_destroy(&c);
    ZR_EQ(zrt_stat(b.dev, "majordomo", "requests", "answered", NULL), 4);
    zrt_proc_signal(w1, SIGTERM);
    zrt_proc_signal(w2, SIGINT);
    zrt_proc_expect_exit(w1, 0, ZRT_DEADLINE_MS);
    zrt_proc_expect_exit(w2, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&w1);
    zrt_proc_destroy(&w2);
    s_broker_stop(&b);
}

/* A command that fails, runs too long or prints too much: the error
 * reply, and mdp-call exits 4 with it on stderr. */
static void
test_command_fails(void)
{
    s_broker_t b;
    s_broker_start(&b, "10s");
    zrt_proc_t *w1 = s_start(NULL, "mdp-worker", "fail", "--exec", "exit 3",
                             "-b", b.ep, NULL);
    zrt_proc_t *w2 = s_start(NULL, "mdp-worker", "slow", "--exec", "sleep 30",
                             "--exec-timeout", "100ms", "-b", b.ep, NULL);
    zrt_proc_t *w3 =
        s_start(NULL, "mdp-worker", "big", "--exec", "head -c 5000 /dev/zero",
                "--max-output", "1k", "-b", b.ep, NULL);
    s_ready(w1);
    s_ready(w2);
    s_ready(w3);
    static const char *const cases[][2] = {
        {"fail", "ZRELAY-ERROR failed fail: the command exited with status 3"},
        {"slow", "ZRELAY-ERROR failed slow: the command ran longer than 100 "
                 "ms (--exec-timeout): killed"},
        {"big", "ZRELAY-ERROR failed big: the command printed more than 1024 "
                "bytes (--max-output): killed"},
    };
    for (size_t i = 0; i < 3; i++) {
        zrt_proc_t *c =
            s_start(NULL, "mdp-call", cases[i][0], "x", "-b", b.ep, NULL);
        zrt_proc_expect_exit(c, 4, ZRT_DEADLINE_MS);
        ZR_STREQ(zrt_proc_stdout(c), "");
        S_CONTAINS(zrt_proc_stderr(c), cases[i][1]);
        zrt_proc_destroy(&c);
    }
    /* The worker goes on serving after a failure. */
    zrt_proc_t *c = s_start(NULL, "mdp-call", "fail", "y", "-b", b.ep, NULL);
    zrt_proc_expect_exit(c, 4, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&c);
    zrt_proc_t *w[] = {w1, w2, w3};
    for (size_t i = 0; i < 3; i++) {
        zrt_proc_signal(w[i], SIGTERM);
        zrt_proc_expect_exit(w[i], 0, ZRT_DEADLINE_MS);
        zrt_proc_destroy(&w[i]);
    }
    s_broker_stop(&b);
}

/* A service nobody serves: the broker's timeout reply (exit 4), or no
 * reply at all within mdp-call's attempts (exit 3). */
static void
test_no_worker(void)
{
    s_broker_t b;
    s_broker_start(&b, "200ms");
    zrt_proc_t *c = s_start(NULL, "mdp-call", "nobody", "x", "-b", b.ep,
                            "--timeout", "10s", NULL);
    zrt_proc_expect_exit(c, 4, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stderr(c), "mdp-call: nobody: ZRELAY-ERROR timeout");
    zrt_proc_destroy(&c);
    s_broker_stop(&b);
    s_broker_start(&b, "1h");
    c = s_start(NULL, "mdp-call", "nobody", "x", "-b", b.ep, "-t", "100ms",
                "-r", "1", NULL);
    zrt_proc_expect_exit(c, 3, ZRT_DEADLINE_MS);
    char want[512];
    snprintf(want, sizeof want,
             "zrelay: mdp-call: nobody: no reply to 'nobody' within 100 ms, 2 "
             "attempts (%s)\n",
             b.ep);
    ZR_STREQ(zrt_proc_stderr(c), want);
    zrt_proc_destroy(&c);
    s_broker_stop(&b);
}

/* SIGTERM while the command runs: it finishes, its reply goes, then
 * DISCONNECT and exit 0. */
static void
test_stop_while_busy(void)
{
    s_broker_t b;
    s_broker_start(&b, "1s");
    char dir[] = "/tmp/zrelay-mdp-XXXXXX";
    ZR_CHECK(mkdtemp(dir) != NULL);
    char cmd[1024], started[300], go[300];
    snprintf(started, sizeof started, "%s/started", dir);
    snprintf(go, sizeof go, "%s/go", dir);
    snprintf(cmd, sizeof cmd,
             "touch %s; while [ ! -e %s ]; do sleep 0.01; done; cat", started,
             go);
    zrt_proc_t *w =
        s_start(NULL, "mdp-worker", "busy", "--exec", cmd, "-b", b.ep, NULL);
    s_ready(w);
    zrt_proc_t *c = s_start(NULL, "mdp-call", "busy", "late", "-b", b.ep, "-t",
                            "20s", NULL);
    struct stat st;
    ZR_WAIT(stat(started, &st) == 0, ZRT_DEADLINE_MS);
    zrt_proc_signal(w, SIGTERM);
    ZR_CHECK(zrt_proc_alive(w));
    zrt_write_file(go, "");
    s_expect_reply(&b, c, "late\n");
    zrt_proc_expect_exit(w, 0, ZRT_DEADLINE_MS);
    /* DISCONNECT, or its connection closing first. */
    ZR_WAIT(zrt_stat(b.dev, "majordomo", "workers", "disconnected", NULL) +
                    zrt_stat(b.dev, "majordomo", "workers", "gone", NULL) >=
                1,
            ZRT_DEADLINE_MS);
    zrt_proc_destroy(&c);
    zrt_proc_destroy(&w);
    unlink(started);
    unlink(go);
    rmdir(dir);
    s_broker_stop(&b);
}

/* --count N: exit 0 after N requests; --help answers what a user asks;
 * usage errors exit 2. */
static void
test_help_and_usage(void)
{
    zrt_proc_t *p = s_start(NULL, "mdp-call", "--help", NULL);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stdout(p), "usage: zrelay mdp-call SERVICE");
    S_CONTAINS(zrt_proc_stdout(p), "default tcp://127.0.0.1:5555");
    S_CONTAINS(zrt_proc_stdout(p), "Exit status: 0 a reply");
    S_CONTAINS(zrt_proc_stdout(p), "zrelay mdp-call echo hello");
    zrt_proc_destroy(&p);
    p = s_start(NULL, "mdp-worker", "--help", NULL);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stdout(p), "--exec-timeout D");
    S_CONTAINS(zrt_proc_stdout(p), "ZRELAY-ERROR failed SERVICE");
    zrt_proc_destroy(&p);
    p = s_start(NULL, "--help", NULL);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stdout(p), "mdp-worker SERVICE --exec CMD");
    zrt_proc_destroy(&p);
    static const char *const bad[][6] = {
        {"mdp-call", NULL},
        {"mdp-call", "echo", "x", "--mdp", "3", NULL},
        {"mdp-call", "echo", "x", "--broker", "@tcp://127.0.0.1:1", NULL},
        {"mdp-call", "echo", "x", "--bogus", NULL},
        {"mdp-worker", "echo", NULL},
        {"mdp-worker", "mmi.x", "--exec", "cat", NULL},
    };
    static const char *const why[] = {
        "mdp-call: no SERVICE given",
        "mdp-call: --mdp: '3' is not a whole number from 1 to 2",
        "mdp-call: --broker: not an endpoint to connect to",
        "mdp-call: unknown option '--bogus'",
        "mdp-worker: no --exec CMD given",
        "the broker answers mmi.* itself",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = s_start(NULL, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4],
                    NULL);
        zrt_proc_expect_exit(p, 2, ZRT_DEADLINE_MS);
        S_CONTAINS(zrt_proc_stderr(p), why[i]);
        zrt_proc_destroy(&p);
    }
    s_broker_t b;
    s_broker_start(&b, "1s");
    p = s_start(NULL, "mdp-worker", "once", "--exec", "tr a-z A-Z", "-n", "1",
                "-b", b.ep, NULL);
    s_ready(p);
    zrt_proc_t *c =
        s_start(NULL, "mdp-call", "once", "hello", "-b", b.ep, NULL);
    s_expect_reply(&b, c, "HELLO\n");
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&c);
    zrt_proc_destroy(&p);
    s_broker_stop(&b);
}

ZR_TESTS = {
    {"mdp-worker --exec cat answers mdp-call", test_echo},
    {"a failing command: the error reply, exit 4", test_command_fails},
    {"no worker: exit 4 (broker timeout) or 3 (no reply)", test_no_worker},
    {"SIGTERM while busy: the reply goes, then DISCONNECT",
     test_stop_while_busy},
    {"help, usage errors, --count", test_help_and_usage},
    {NULL, NULL},
};

ZR_MAIN
