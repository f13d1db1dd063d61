/* test_log.c - the log never holds a relay up: a peer that makes it log
 * is rate-limited, and a log output nobody reads costs lines, not
 * traffic.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include "zrtest.h"
#include "zrtest_proc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
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

/* Connection events: counted by reason, logged at info with the peer's
 * address, and in JSON (zr_log_set_format) one object per line with
 * time, level, device, event and the event's fields. */
static struct {
    pthread_mutex_t lock;
    char text[64 * 1024];
    size_t len;
} s_lines = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void
s_keep(zr_log_level_t level, const char *line, void *arg)
{
    (void) level;
    (void) arg;
    pthread_mutex_lock(&s_lines.lock);
    int n = snprintf(s_lines.text + s_lines.len,
                     sizeof s_lines.text - s_lines.len, "%s\n", line);
    if (n > 0 && s_lines.len + (size_t) n < sizeof s_lines.text) {
        s_lines.len += (size_t) n;
    }
    pthread_mutex_unlock(&s_lines.lock);
}

/* The first kept JSON line whose "event" is EVENT about the frontend,
 * parsed, or NULL. */
static cJSON *
s_event(const char *event)
{
    cJSON *found = NULL;
    pthread_mutex_lock(&s_lines.lock);
    for (char *line = s_lines.text; !found && *line;) {
        char *end = strchr(line, '\n');
        *end = 0;
        cJSON *o = cJSON_Parse(line);
        *end = '\n';
        cJSON *e = cJSON_GetObjectItem(o, "event");
        cJSON *side = cJSON_GetObjectItem(o, "socket");
        if (cJSON_IsString(e) && strcmp(e->valuestring, event) == 0 &&
            cJSON_IsString(side) && strcmp(side->valuestring, "frontend") == 0) {
            found = o;
        }
        else {
            cJSON_Delete(o);
        }
        line = end + 1;
    }
    pthread_mutex_unlock(&s_lines.lock);
    return found;
}

static cJSON *
s_wait_event(const char *event)
{
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    cJSON *o;
    while (!(o = s_event(event))) {
        ZR_CHECKF(zrt_now_ms() < end, "no '%s' event logged; the log:\n%s",
                  event, s_lines.text);
        zmq_poll(NULL, 0, 20);
    }
    return o;
}

static const char *
s_field(cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItem(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void
test_connection_events_json(void)
{
    zr_log_set_handler(s_keep, NULL);
    zr_log_set_level(ZR_LOG_INFO);
    zr_log_set_format(ZR_LOG_JSON);
    void *ctx = zmq_ctx_new();
    zr_device_t *dev = zr_device_new(ctx, ZR_STREAMER, "evt");
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set_backend(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_set_control(dev, "@tcp://127.0.0.1:*"));
    ZR_PASS(zr_device_start(dev));
    const char *front = zrt_device_endpoint(dev, 0);
    const char *control = zrt_device_endpoint(dev, 2);
    /* The control socket's connections are counted too. */
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, control);
    ZR_SEND(req, "PING");
    char pong[64];
    ZR_CHECK(zrt_readable(req, ZRT_DEADLINE_MS) &&
             zmq_recv(req, pong, sizeof pong, 0) > 0);
    zmq_close(req);
    int64_t until = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (zrt_stat(dev, "control", "connections", "accepted", NULL) < 1) {
        ZR_CHECKF(zrt_now_ms() < until, "control.connections.accepted 0");
        zmq_poll(NULL, 0, 20);
    }
    /* A ZeroMQ peer: accepted, then closed. */
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, front);
    cJSON *o = s_wait_event("accepted");
    ZR_STREQ(s_field(o, "device"), "evt");
    ZR_STREQ(s_field(o, "level"), "info");
    ZR_STREQ(s_field(o, "socket"), "frontend");
    ZR_CHECKF(strncmp(s_field(o, "peer"), "127.0.0.1:", 10) == 0, "peer '%s'",
              s_field(o, "peer"));
    ZR_CHECKF(strlen(s_field(o, "time")) == 24 &&
                  s_field(o, "time")[23] == 'Z',
              "time '%s'", s_field(o, "time"));
    char peer[64];
    snprintf(peer, sizeof peer, "%s", s_field(o, "peer"));
    cJSON_Delete(o);
    zmq_close(push);
    o = s_wait_event("disconnected");
    ZR_STREQ(s_field(o, "peer"), peer);
    cJSON_Delete(o);
    /* Garbage: a failed handshake, counted under its reason. */
    unsigned port = 0;
    ZR_CHECK(sscanf(front, "tcp://127.0.0.1:%u", &port) == 1);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ZR_PASS(connect(fd, (struct sockaddr *) &sa, sizeof sa));
    static const char junk[] = "\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f"
                               "\x03\x00BOGUS-MECHANISM-XXXXXXXXXXXXXXXXXXXX"
                               "XXXXXXXXXXXXXXXXXXXXXXXXXXXX";
    ZR_CHECK(write(fd, junk, sizeof junk - 1) == (ssize_t) sizeof junk - 1);
    o = s_wait_event("handshake_failed");
    ZR_STREQ(s_field(o, "socket"), "frontend");
    ZR_CHECKF(*s_field(o, "reason"), "no reason");
    cJSON_Delete(o);
    close(fd);
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (zrt_stat(dev, "frontend", "connections", "handshake_failures",
                    "protocol", NULL) +
               zrt_stat(dev, "frontend", "connections", "handshake_failures",
                        "no_detail", NULL) <
           1) {
        ZR_CHECKF(zrt_now_ms() < end, "the failure was not counted");
        zmq_poll(NULL, 0, 20);
    }
    ZR_EQ(zrt_stat(dev, "frontend", "connections", "handshake_failed", NULL),
          1);
    zr_device_destroy(&dev);
    zr_log_set_handler(NULL, NULL);
    zr_log_set_format(ZR_LOG_TEXT);
    zmq_ctx_term(ctx);
}

/* zrelay VERB --log-format json: every line on stderr is one JSON object
 * (the CLI's own lines too), and a bad format is a usage error. */
static void
test_log_format_json(void)
{
    s_eps_t e;
    s_eps(&e);
    const char *argv[] = {ZRELAY_BIN, "streamer",     e.front, e.back, "-v",
                          "--log-format", "json", NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (!strstr(zrt_proc_stdout(p), "ready")) {
        ZR_CHECKF(zrt_now_ms() < end, "no ready line");
        zrt_proc_pump(p, 50);
    }
    zrt_proc_signal(p, SIGTERM);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    char *text = strdup(zrt_proc_stderr(p));
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        ZR_CHECKF(o && cJSON_IsString(cJSON_GetObjectItem(o, "time")) &&
                      cJSON_IsString(cJSON_GetObjectItem(o, "level")) &&
                      cJSON_IsString(cJSON_GetObjectItem(o, "event")) &&
                      cJSON_IsString(cJSON_GetObjectItem(o, "msg")),
                  "not a log object: %s", line);
        cJSON_Delete(o);
        lines++;
    }
    ZR_CHECKF(lines >= 3, "%d lines", lines);
    free(text);
    zrt_proc_destroy(&p);
    const char *bad[] = {ZRELAY_BIN, "streamer", e.front, e.back,
                         "--log-format", "xml", NULL};
    p = zrt_proc_start(bad, NULL);
    zrt_proc_expect_exit(p, 2, ZRT_DEADLINE_MS);
    ZR_CHECKF(strstr(zrt_proc_stderr(p), "not one of text, json"), "%s",
              zrt_proc_stderr(p));
    zrt_proc_destroy(&p);
    s_eps_done(&e);
}

ZR_TESTS = {
    {"a stderr nobody reads does not stop the relay", test_unread_stderr},
    {"a flood of warnings is rate-limited, and says so", test_rate_limited},
    {"connection events, in JSON", test_connection_events_json},
    {"--log-format json: one object a line", test_log_format_json},
    {NULL, NULL},
};
ZR_MAIN
