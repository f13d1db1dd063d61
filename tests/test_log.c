/* test_log.c - the log never holds a relay up: a peer that makes it log
 * is rate-limited, and a log output nobody reads costs lines, not
 * traffic.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include "zrtest.h"
#include "zrtest_proc.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* A streamer's endpoints, ipc:// in a directory of their own. */
typedef struct {
    char dir[32], front[96], back[96], ctl[96];
} s_eps_t;

static void
s_eps(s_eps_t *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/zrelay-log-XXXXXX");
    ZR_CHECK(mkdtemp(e->dir) != NULL);
    snprintf(e->front, sizeof e->front, "@ipc://%s/front", e->dir);
    snprintf(e->back, sizeof e->back, "@ipc://%s/back", e->dir);
    snprintf(e->ctl, sizeof e->ctl, "@ipc://%s/ctl", e->dir);
}

static void
s_eps_done(const s_eps_t *e)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    ZR_CHECK(system(cmd) == 0);
}

/* Send N unknown commands to the control endpoint CTL, each answered. */
static void
s_refused_commands(void *ctx, const char *ctl, int n)
{
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, ctl);
    for (int i = 0; i < n; i++) {
        ZR_SEND(req, "FROB");
        char reply[256];
        ZR_CHECKF(zrt_readable(req, ZRT_DEADLINE_MS),
                  "control answered %d of %d refused commands, then "
                  "nothing",
                  i, n);
        ZR_CHECK(zmq_recv(req, reply, sizeof reply, 0) > 0);
    }
    zmq_close(req);
}

/* A streamer whose stderr is a small pipe nobody reads: 3000 refused
 * control commands (a warning each) fill it many times over. Before the
 * log had a writer thread of its own, the relay's thread blocked in the
 * write: traffic and control stopped. */
static void
test_unread_stderr(void)
{
    s_eps_t e;
    s_eps(&e);
    const char *front = e.front, *back = e.back, *ctl = e.ctl;
    int err[2];
    ZR_PASS(pipe(err));
    fcntl(err[1], F_SETPIPE_SZ, 4096);
    pid_t pid = fork();
    ZR_CHECK(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(ZRELAY_BIN, "zrelay", "streamer", front, back, "--control", ctl,
              (char *) NULL);
        _exit(127);
    }
    close(err[1]); /* err[0] stays open and unread */
    void *ctx = zmq_ctx_new();
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(push, front + 1);
    zrt_connect(pull, back + 1);
    ZR_SEND(push, "before");
    ZR_RECV(pull, "before");
    s_refused_commands(ctx, ctl + 1, 3000);
    ZR_SEND(push, "after");
    ZR_RECV(pull, "after");
    kill(pid, SIGTERM);
    int status = 0;
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        ZR_CHECKF(zrt_now_ms() < end, "zrelay did not stop on SIGTERM");
        zmq_poll(NULL, 0, 10);
    }
    ZR_CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "zrelay ended with status 0x%x", status);
    close(err[0]);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
    s_eps_done(&e);
}

/* A flood of warnings is cut to a burst, then said in one line. */
static void
test_rate_limited(void)
{
    s_eps_t e;
    s_eps(&e);
    const char *front = e.front, *back = e.back, *ctl = e.ctl;
    const char *argv[] = {ZRELAY_BIN,  "streamer", front, back,
                          "--control", ctl,        NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    void *ctx = zmq_ctx_new();
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (!strstr(zrt_proc_stdout(p), "ready")) {
        ZR_CHECKF(zrt_now_ms() < end, "no ready line");
        zrt_proc_pump(p, 50);
    }
    s_refused_commands(ctx, ctl + 1, 1000);
    zrt_proc_signal(p, SIGTERM);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    const char *text = zrt_proc_stderr(p);
    int lines = 0;
    for (const char *c = text; (c = strstr(c, "unknown command")); c++) {
        lines++;
    }
    printf("     1000 refused commands: %d warnings logged\n", lines);
    ZR_CHECKF(lines < 1000, "every refusal logged: %d", lines);
    ZR_CHECKF(strstr(text, "log line(s) like the next suppressed"),
              "no word of the lines suppressed: %s", text);
    zrt_proc_destroy(&p);
    zmq_ctx_term(ctx);
    s_eps_done(&e);
}

ZR_TESTS = {
    {"a stderr nobody reads does not stop the relay", test_unread_stderr},
    {"a flood of warnings is rate-limited, and says so", test_rate_limited},
    {NULL, NULL},
};
ZR_MAIN
