/* test_daemon.c - many devices in one process: chained over inproc, the
 * control endpoint, reload without loss, SIGTERM drain, --keep-going.
 * SPDX-License-Identifier: MIT
 */
#include "zrtest_proc.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---------------------------------------------------------------------
 * In-process: zr_daemon on the test's own context.
 */

typedef struct {
    zr_daemon_t *daemon;
    int rc;
} s_runner_t;

static void *
s_run(void *arg)
{
    s_runner_t *r = arg;
    r->rc = zr_daemon_run(r->daemon);
    return NULL;
}

/* Send COMMAND (and NAME) to the control socket; the first reply frame
 * into BUF, the number of frames returned. */
static int
s_ask(void *req, const char *command, const char *name, char *buf, size_t len)
{
    zrt_send_str(req, command, name ? ZMQ_SNDMORE : 0);
    if (name) {
        ZR_SEND(req, name);
    }
    ZR_CHECKF(zrt_readable(req, ZRT_DEADLINE_MS), "no reply to %s", command);
    int frames = 0, more = 1;
    size_t ml = sizeof more;
    while (more) {
        int n = zmq_recv(req, frames ? NULL : buf, frames ? 0 : len - 1, 0);
        ZR_CHECK(n >= 0);
        if (!frames) {
            buf[(size_t) n < len - 1 ? (size_t) n : len - 1] = 0;
        }
        frames++;
        zmq_getsockopt(req, ZMQ_RCVMORE, &more, &ml);
    }
    return frames;
}

static double
s_num(cJSON *root, const char *a, const char *b)
{
    cJSON *o = cJSON_GetObjectItem(root, a);
    if (b) {
        o = cJSON_GetObjectItem(o, b);
    }
    ZR_CHECKF(cJSON_IsNumber(o), "no number at %s.%s", a, b ? b : "");
    return o->valuedouble;
}

/* Two forwarders chained over inproc in one daemon: a subscription at
 * the far end reaches the publisher at the near end, and data flows. */
static void
test_inproc_chain(void)
{
    void *ctx = zmq_ctx_new();
    zr_config_t *cfg = zr_config_parse("[zrelay]\n"
                                       "control = @inproc://daemon-ctl\n"
                                       "[forwarder near]\n"
                                       "frontend = @inproc://pubs\n"
                                       "backend = @inproc://chain\n"
                                       "[forwarder far]\n"
                                       "frontend = >inproc://chain\n"
                                       "backend = @inproc://subs\n",
                                       "chain.conf");
    ZR_EQ(zr_config_error_count(cfg), 0);
    zr_daemon_t *daemon = zr_daemon_new(ctx);
    ZR_PASS(zr_daemon_start(daemon, cfg, NULL));
    ZR_EQ(zr_daemon_device_count(daemon), 2);
    ZR_STREQ(zr_daemon_control(daemon), "inproc://daemon-ctl");
    s_runner_t runner = {daemon, -1};
    pthread_t thread;
    pthread_create(&thread, NULL, s_run, &runner);

    void *pub = zrt_socket(ctx, ZMQ_PUB);
    zrt_connect(pub, "inproc://pubs");
    void *sub = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "A", 1);
    zrt_connect(sub, "inproc://subs");
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    do {
        ZR_SEND(pub, "B never");
        ZR_SEND(pub, "A through two forwarders");
        ZR_CHECK(zrt_now_ms() < end);
    } while (!zrt_readable(sub, 5));
    ZR_RECV(sub, "A through two forwarders");

    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, "inproc://daemon-ctl");
    char reply[16384];
    /* The near forwarder passed the far subscriber's subscription up to
     * the publisher, and received only A (a SUB filters locally, so the
     * counters prove it, not the subscriber). */
    s_ask(req, "STATS", "near", reply, sizeof reply);
    cJSON *near = cJSON_Parse(reply);
    ZR_CHECKF(near, "STATS near: %s", reply);
    ZR_EQ(s_num(near, "frontend", "msgs_out"), 1);
    double in = s_num(near, "frontend", "msgs_in");
    ZR_CHECK(in >= 1);
    cJSON_Delete(near);

    s_ask(req, "LIST", NULL, reply, sizeof reply);
    cJSON *list = cJSON_Parse(reply);
    cJSON *devices = cJSON_GetObjectItem(list, "devices");
    ZR_EQ(cJSON_GetArraySize(devices), 2);
    cJSON *far = cJSON_GetArrayItem(devices, 1);
    ZR_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(far, "name")), "far");
    ZR_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(far, "state")),
             "running");
    cJSON *ep = cJSON_GetArrayItem(cJSON_GetObjectItem(far, "endpoints"), 0);
    ZR_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(ep, "mode")), "connect");
    ZR_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(ep, "address")),
             "inproc://chain");
    cJSON_Delete(list);

    s_ask(req, "STATS", NULL, reply, sizeof reply);
    cJSON *all = cJSON_Parse(reply);
    ZR_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(all, "devices")), 2);
    cJSON_Delete(all);

    /* Pause one device by name; the other goes on answering. */
    ZR_EQ(s_ask(req, "PAUSE", "far", reply, sizeof reply), 1);
    ZR_STREQ(reply, "");
    s_ask(req, "LIST", NULL, reply, sizeof reply);
    ZR_CHECKF(strstr(reply, "\"name\":\"far\",\"type\":\"forwarder\","
                            "\"state\":\"paused\""),
              "%s", reply);
    ZR_EQ(s_ask(req, "RESUME", "far", reply, sizeof reply), 1);
    ZR_STREQ(reply, "");

    uint64_t v[8];
    ZR_SENDMORE(req, "STATISTICS");
    ZR_SEND(req, "near");
    for (int i = 0; i < 8; i++) {
        ZR_CHECK(zrt_readable(req, ZRT_DEADLINE_MS));
        ZR_EQ(zmq_recv(req, &v[i], 8, 0), 8);
    }
    ZR_EQ(v[2], 1); /* frontend msgs out: the subscription */

    /* Mistakes are answered, and the daemon goes on. */
    s_ask(req, "PAUSE", NULL, reply, sizeof reply);
    ZR_STREQ(reply, "ERROR: PAUSE needs a device name (devices: near, far)");
    s_ask(req, "PAUSE", "nowhere", reply, sizeof reply);
    ZR_STREQ(reply, "ERROR: no device 'nowhere' (devices: near, far)");
    s_ask(req, "STATISTICS", NULL, reply, sizeof reply);
    ZR_STREQ(reply,
             "ERROR: STATISTICS needs a device name (devices: near, far)");
    s_ask(req, "TERMINATE", "near", reply, sizeof reply);
    ZR_STREQ(reply, "ERROR: TERMINATE is for the whole daemon and takes no "
                    "device name (to stop one device: STOP NAME)");
    s_ask(req, "FROB", NULL, reply, sizeof reply);
    ZR_STREQ(reply, "ERROR: unknown command 'FROB' (known: LIST, STATS, "
                    "STATISTICS, PAUSE, RESUME, STOP, START, RELOAD, "
                    "TERMINATE)");

    ZR_EQ(s_ask(req, "TERMINATE", NULL, reply, sizeof reply), 1);
    ZR_STREQ(reply, "");
    pthread_join(thread, NULL);
    ZR_EQ(runner.rc, 0);
    zmq_close(req);
    zmq_close(pub);
    zmq_close(sub);
    zr_daemon_destroy(&daemon);
    ZR_CHECK(daemon == NULL);
    zmq_ctx_term(ctx);
}

/* A config with errors is refused at start, with the first error. */
static void
test_start_errors(void)
{
    zr_config_t *cfg =
        zr_config_parse("[queue q]\nfrontend = @inproc://a\n", "bad.conf");
    zr_daemon_t *daemon = zr_daemon_new(NULL);
    ZR_FAIL(zr_daemon_start(daemon, cfg, NULL), EINVAL);
    ZR_STREQ(zr_daemon_error(daemon), "bad.conf:1: [queue q] needs a backend");
    zr_daemon_destroy(&daemon);
}

/* ---------------------------------------------------------------------
 * The binary: zrelay run CONFIG.
 */

/* Start `zrelay run` on TEXT (written to a temporary file) with EXTRA
 * arguments, and read its table up to "ready". */
static void
s_daemon_start(zrt_daemon_t *d, const char *text, const char *extra)
{
    zrt_daemon_config(d, "/tmp/zrelay-daemon-XXXXXX", text);
    const char *argv[] = {ZRELAY_BIN, "run", d->path, extra, NULL};
    zrt_daemon_start(d, argv);
}

/* `zrelay ctl` against the daemon; its stdout into OUT. */
static int
s_ctl(zrt_daemon_t *d, char *out, size_t len, const char *cmd, const char *name,
      const char *flag)
{
    const char *argv[] = {ZRELAY_BIN, "ctl", d->control, cmd, name, flag, NULL};
    if (!name) {
        argv[4] = flag;
        argv[5] = NULL;
    }
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    ZR_CHECK(zrt_proc_wait(p, ZRT_DEADLINE_MS));
    snprintf(out, len, "%s%s", zrt_proc_stdout(p), zrt_proc_stderr(p));
    int code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
    zrt_proc_destroy(&p);
    return code;
}

static cJSON *
s_stats_json(zrt_daemon_t *d, const char *name)
{
    char out[16384];
    ZR_EQ(s_ctl(d, out, sizeof out, "stats", name, "--json"), 0);
    cJSON *json = cJSON_Parse(out);
    ZR_CHECKF(json, "stats --json: %s", out);
    return json;
}

static double
s_msgs_in(zrt_daemon_t *d, const char *name)
{
    cJSON *json = s_stats_json(d, name);
    double n = s_num(json, "frontend", "msgs_in");
    cJSON_Delete(json);
    return n;
}

static int
s_count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++) {
        n++;
    }
    return n;
}

typedef struct {
    void *ctx;
    const char *endpoint;
    atomic_bool *stop;
    uint32_t sent;
} s_producer_t;

/* Send numbered messages until told to stop. */
static void *
s_produce(void *arg)
{
    s_producer_t *p = arg;
    void *push = zrt_socket(p->ctx, ZMQ_PUSH);
    zrt_connect(push, p->endpoint);
    while (!atomic_load(p->stop)) {
        if (zmq_send(push, &p->sent, sizeof p->sent, 0) == 4) {
            p->sent++;
        }
        if (p->sent % 64 == 0) {
            zmq_poll(NULL, 0, 1); /* a steady stream, not a flood */
        }
    }
    zrt_setint(push, ZMQ_LINGER, -1);
    zmq_close(push);
    return NULL;
}

#define S_STEADY                                                               \
    "[zrelay]\ncontrol = @tcp://127.0.0.1:*\n"                                 \
    "[streamer steady]\nfrontend = @tcp://127.0.0.1:*\n"                       \
    "backend = @tcp://127.0.0.1:*\n"

/* A reload adds, changes and keeps devices: the kept one keeps its
 * connections and counters and loses nothing of a stream through it. */
static void
test_reload_keeps_untouched(void)
{
    zrt_daemon_t d;
    s_daemon_start(&d,
                   S_STEADY "[queue other]\nfrontend = @tcp://127.0.0.1:*\n"
                            "backend = @tcp://127.0.0.1:*\nsndhwm = 100\n",
                   NULL);
    void *ctx = zmq_ctx_new();
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, zrt_daemon_ep(&d, "steady", "backend"));
    atomic_bool stop = false;
    s_producer_t producer = {ctx, zrt_daemon_ep(&d, "steady", "frontend"),
                             &stop, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, s_produce, &producer);
    uint32_t next = 0;
    /* Some traffic before the reload. */
    while (next < 2000) {
        uint32_t n;
        ZR_CHECK(zrt_readable(pull, ZRT_DEADLINE_MS));
        ZR_EQ(zmq_recv(pull, &n, 4, 0), 4);
        ZR_EQ(n, next);
        next++;
    }
    cJSON *before = s_stats_json(&d, "steady");
    double in_before = s_num(before, "frontend", "msgs_in");
    cJSON_Delete(before);

    /* other changes, added is new, steady stays as it was. */
    zrt_write_file(d.path,
                   S_STEADY "[queue other]\nfrontend = @tcp://127.0.0.1:*\n"
                            "backend = @tcp://127.0.0.1:*\nsndhwm = 200\n"
                            "[forwarder added]\nfrontend = @inproc://x\n"
                            "backend = @inproc://y\n");
    char out[8192];
    ZR_EQ(s_ctl(&d, out, sizeof out, "reload", NULL, NULL), 0);
    ZR_STREQ(out, "reloaded\n");
    /* And the stream keeps going through it. */
    uint32_t target = next + 2000;
    while (next < target) {
        uint32_t n;
        ZR_CHECK(zrt_readable(pull, ZRT_DEADLINE_MS));
        ZR_EQ(zmq_recv(pull, &n, 4, 0), 4);
        ZR_CHECKF(n == next, "got %u, want %u: lost in the reload", n, next);
        next++;
    }
    /* SIGHUP does the same; a config with errors changes nothing. */
    zrt_write_file(d.path, S_STEADY "[queue other]\nfrontend = 5559\n");
    ZR_EQ(s_ctl(&d, out, sizeof out, "reload", NULL, NULL), 1);
    ZR_CHECKF(strstr(out, "reload refused, the running set is unchanged"), "%s",
              out);
    ZR_EQ(s_ctl(&d, out, sizeof out, "list", NULL, NULL), 0);
    ZR_CHECKF(strstr(out, "added") && strstr(out, "other"), "%s", out);
    zrt_write_file(d.path,
                   S_STEADY "[queue other]\nfrontend = @tcp://127.0.0.1:*\n"
                            "backend = @tcp://127.0.0.1:*\nsndhwm = 300\n");
    zrt_proc_signal(d.proc, SIGHUP);
    ZR_WAIT((zrt_proc_pump(d.proc, 5),
             s_count(zrt_proc_stderr(d.proc), "reloaded:") == 2),
            ZRT_DEADLINE_MS);
    ZR_CHECKF(strstr(zrt_proc_stderr(d.proc),
                     "reloaded: 1 kept, 2 stopped, 1 started, 0 failed"),
              "%s", zrt_proc_stderr(d.proc));
    ZR_EQ(s_ctl(&d, out, sizeof out, "list", NULL, NULL), 0);
    ZR_CHECKF(!strstr(out, "added"), "%s", out);

    /* The peers never reconnected: one connection each, still open. */
    cJSON *conns = s_stats_json(&d, "steady");
    cJSON *fc = cJSON_GetObjectItem(cJSON_GetObjectItem(conns, "frontend"),
                                    "connections");
    cJSON *bc = cJSON_GetObjectItem(cJSON_GetObjectItem(conns, "backend"),
                                    "connections");
    ZR_EQ(s_num(fc, "accepted", NULL), 1);
    ZR_EQ(s_num(fc, "disconnected", NULL), 0);
    ZR_EQ(s_num(bc, "accepted", NULL), 1);
    ZR_EQ(s_num(bc, "disconnected", NULL), 0);
    cJSON_Delete(conns);

    atomic_store(&stop, true);
    pthread_join(thread, NULL);
    while (next < producer.sent) {
        uint32_t n;
        ZR_CHECKF(zrt_readable(pull, ZRT_DEADLINE_MS), "lost from %u of %u",
                  next, producer.sent);
        ZR_EQ(zmq_recv(pull, &n, 4, 0), 4);
        ZR_EQ(n, next);
        next++;
    }
    /* Counters were not reset by the reloads. They are published at the
     * end of a burst, so the last message can arrive before its count. */
    ZR_WAIT(s_msgs_in(&d, "steady") == producer.sent, ZRT_DEADLINE_MS);
    ZR_CHECK(s_msgs_in(&d, "steady") > in_before);
    printf("%u messages through a reload, none lost\n", producer.sent);
    zrt_daemon_stop(&d);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

typedef struct {
    void *ctx;
    const char *endpoint;
    atomic_bool *stop;
    uint32_t sent;
} s_flood_t;

/* Send numbered messages as fast as the relay takes them, until told to
 * stop (never blocking: the relay may be gone). */
static void *
s_flood(void *arg)
{
    s_flood_t *f = arg;
    void *push = zrt_socket(f->ctx, ZMQ_PUSH);
    zrt_connect(push, f->endpoint);
    while (!atomic_load(f->stop)) {
        if (zmq_send(push, &f->sent, sizeof f->sent, ZMQ_DONTWAIT) == 4) {
            f->sent++;
        }
        else {
            zmq_pollitem_t item = {.socket = push, .events = ZMQ_POLLOUT};
            zmq_poll(&item, 1, 5);
        }
    }
    zmq_close(push);
    return NULL;
}

/* SIGTERM mid-stream: every message the relay took in is delivered, or
 * the log says how many were not. */
static void
test_sigterm_drain(void)
{
    zrt_daemon_t d;
    s_daemon_start(&d,
                   "[zrelay]\ncontrol = @tcp://127.0.0.1:*\nlinger = 2s\n"
                   "[streamer s]\nfrontend = @tcp://127.0.0.1:*\n"
                   "backend = @tcp://127.0.0.1:*\n",
                   NULL);
    void *ctx = zmq_ctx_new();
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(pull, zrt_daemon_ep(&d, "s", "backend"));
    atomic_bool stop = false;
    s_flood_t flood = {ctx, zrt_daemon_ep(&d, "s", "frontend"), &stop, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, s_flood, &flood);
    uint32_t got = 0;
    while (got < 5000) {
        uint32_t n;
        ZR_CHECK(zrt_readable(pull, ZRT_DEADLINE_MS));
        ZR_EQ(zmq_recv(pull, &n, 4, 0), 4);
        ZR_EQ(n, got);
        got++;
    }
    zrt_proc_signal(d.proc, SIGTERM);
    /* Keep reading while it stops; then whatever it sent has arrived
     * (the process is gone; only this side's I/O thread is left). */
    while (!zrt_proc_wait(d.proc, 0)) {
        uint32_t n;
        if (zrt_readable(pull, 10)) {
            ZR_EQ(zmq_recv(pull, &n, 4, 0), 4);
            ZR_EQ(n, got);
            got++;
        }
    }
    while (zrt_readable(pull, 500)) {
        uint32_t n;
        ZR_EQ(zmq_recv(pull, &n, 4, 0), 4);
        ZR_EQ(n, got);
        got++;
    }
    atomic_store(&stop, true);
    pthread_join(thread, NULL);
    zrt_proc_expect_exit(d.proc, 0, ZRT_DEADLINE_MS);
    const char *log = zrt_proc_stderr(d.proc);
    const char *line = strstr(log, "s: stopped: ");
    ZR_CHECKF(line, "no stop line in:\n%s", log);
    unsigned long long fin, fout, bin, bout, held;
    ZR_CHECKF(sscanf(line,
                     "s: stopped: %llu messages in, %llu out on the "
                     "frontend; %llu in, %llu out on the backend; %llu "
                     "undelivered",
                     &fin, &fout, &bin, &bout, &held) == 5,
              "%s", line);
    printf("sent %u, relay took %llu, passed on %llu, held %llu; the "
           "consumer got %u\n",
           flood.sent, fin, bout, held, got);
    ZR_EQ(bout + held, fin);
    ZR_EQ(got, bout);
    ZR_CHECK(fin > 5000);
    zrt_proc_destroy(&d.proc);
    unlink(d.path);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

/* A device that cannot start: by default nothing runs; --keep-going runs
 * the others. */
static void
test_keep_going(void)
{
    void *ctx = zmq_ctx_new();
    void *holder = zrt_socket(ctx, ZMQ_PULL);
    char taken[128], text[512];
    zrt_bind(holder, "tcp://127.0.0.1:*", taken, sizeof taken);
    snprintf(text, sizeof text,
             "[zrelay]\ncontrol = @tcp://127.0.0.1:*\n"
             "[streamer fine]\nfrontend = @tcp://127.0.0.1:*\n"
             "backend = @tcp://127.0.0.1:*\n"
             "[queue blocked]\nfrontend = @%s\nbackend = @inproc://b\n",
             taken);
    char path[] = "/tmp/zrelay-keep-XXXXXX";
    zrt_temp_file(path, text);
    const char *argv[] = {ZRELAY_BIN, "run", path, NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    zrt_proc_expect_exit(p, 1, ZRT_DEADLINE_MS);
    char want[256];
    snprintf(want, sizeof want,
             "blocked: cannot bind %s: Address already in use", taken);
    ZR_CHECKF(strstr(zrt_proc_stderr(p), want), "%s", zrt_proc_stderr(p));
    ZR_CHECKF(strstr(zrt_proc_stderr(p),
                     "(1 device failed; --keep-going runs the others)"),
              "%s", zrt_proc_stderr(p));
    ZR_CHECK(!strstr(zrt_proc_stdout(p), "ready"));
    zrt_proc_destroy(&p);

    zrt_daemon_t d;
    s_daemon_start(&d, text, "--keep-going");
    ZR_EQ(d.neps, 2); /* fine's frontend and backend only */
    char out[4096];
    ZR_EQ(s_ctl(&d, out, sizeof out, "list", NULL, NULL), 0);
    ZR_CHECKF(strstr(out, "fine") && !strstr(out, "blocked"), "%s", out);
    /* The log line comes through the log's own thread: wait for it. */
    int64_t until = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (!strstr(zrt_proc_stderr(d.proc),
                   "1 device failed to start and is not running")) {
        ZR_CHECKF(zrt_now_ms() < until, "%s", zrt_proc_stderr(d.proc));
        zrt_proc_pump(d.proc, 20);
    }
    zrt_daemon_stop(&d);
    unlink(path);
    zmq_close(holder);
    zmq_ctx_term(ctx);
}

/* Two devices swap ports in one reload: both stop first, then both
 * start; a device stopped by its own TERMINATE starts again; the control
 * endpoint moves after answering. */
static void
test_reload_moves(void)
{
    void *ctx = zmq_ctx_new();
    char a[128], b[128], c[128], text[1024];
    void *probe = zrt_socket(ctx, ZMQ_PULL);
    zrt_bind(probe, "tcp://127.0.0.1:*", a, sizeof a);
    zrt_bind(probe, "tcp://127.0.0.1:*", b, sizeof b);
    zrt_bind(probe, "tcp://127.0.0.1:*", c, sizeof c);
    zmq_close(probe); /* three ports the kernel just gave out */
    snprintf(text, sizeof text,
             "[zrelay]\ncontrol = @tcp://127.0.0.1:*\n"
             "[streamer one]\nfrontend = @%s\nbackend = @inproc://one\n"
             "control = @inproc://one-ctl\n"
             "[streamer two]\nfrontend = @%s\nbackend = @inproc://two\n",
             a, b);
    zrt_daemon_t d;
    s_daemon_start(&d, text, NULL);
    char out[8192];
    snprintf(text, sizeof text,
             "[zrelay]\ncontrol = @%s\n"
             "[streamer one]\nfrontend = @%s\nbackend = @inproc://one\n"
             "control = @inproc://one-ctl\n"
             "[streamer two]\nfrontend = @%s\nbackend = @inproc://two\n",
             c, b, a);
    zrt_write_file(d.path, text);
    ZR_EQ(s_ctl(&d, out, sizeof out, "reload", NULL, NULL), 0);
    ZR_STREQ(out, "reloaded\n");
    ZR_WAIT((zrt_proc_pump(d.proc, 5),
             strstr(zrt_proc_stderr(d.proc),
                    "reloaded: 0 kept, 2 stopped, 2 started, 0 failed")),
            ZRT_DEADLINE_MS);
    /* The control endpoint moved to c. */
    const char *argv[] = {ZRELAY_BIN, "ctl", c, "list", NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    ZR_CHECKF(strstr(zrt_proc_stdout(p), a) && strstr(zrt_proc_stdout(p), b),
              "%s", zrt_proc_stdout(p));
    zrt_proc_destroy(&p);
    snprintf(d.control, sizeof d.control, "%s", c);
    zrt_daemon_stop(&d);
    zmq_ctx_term(ctx);
}

/* A device stopped by TERMINATE on its own control endpoint starts again
 * at the next reload, though its section did not change. */
static void
test_reload_restarts_stopped(void)
{
    zrt_daemon_t d;
    s_daemon_start(&d,
                   "[zrelay]\ncontrol = @tcp://127.0.0.1:*\n"
                   "[streamer one]\nfrontend = @tcp://127.0.0.1:*\n"
                   "backend = @tcp://127.0.0.1:*\n"
                   "control = @tcp://127.0.0.1:*\n",
                   NULL);
    void *ctx = zmq_ctx_new();
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, zrt_daemon_ep(&d, "one", "control"));
    ZR_SEND(req, "TERMINATE");
    ZR_RECV(req, "");
    char out[8192];
    ZR_WAIT((s_ctl(&d, out, sizeof out, "list", NULL, NULL),
             strstr(out, "stopped")),
            ZRT_DEADLINE_MS);
    ZR_EQ(s_ctl(&d, out, sizeof out, "reload", NULL, NULL), 0);
    ZR_EQ(s_ctl(&d, out, sizeof out, "list", NULL, NULL), 0);
    ZR_CHECKF(strstr(out, "running") && !strstr(out, "stopped"), "%s", out);
    ZR_WAIT((zrt_proc_pump(d.proc, 5),
             strstr(zrt_proc_stderr(d.proc),
                    "one: stopped by its control endpoint, starting again")),
            ZRT_DEADLINE_MS);
    zrt_daemon_stop(&d);
    zmq_close(req);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"inproc: two forwarders chained in one daemon", test_inproc_chain},
    {"inproc: a config with errors does not start", test_start_errors},
    {"tcp: reload keeps untouched devices", test_reload_keeps_untouched},
    {"tcp: SIGTERM delivers what the relay took in", test_sigterm_drain},
    {"tcp: --keep-going runs the devices that can start", test_keep_going},
    {"tcp: a reload swaps ports and moves the control endpoint",
     test_reload_moves},
    {"tcp: a reload restarts a device stopped by TERMINATE",
     test_reload_restarts_stopped},
    {NULL, NULL},
};
ZR_MAIN
