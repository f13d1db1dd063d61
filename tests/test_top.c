/* test_top.c - `zrelay top` as people and scripts meet it: the live
 * screen in a real terminal (tmux: new-session, send-keys, capture-pane),
 * its keys, the terminal given back on q, Ctrl-C, SIGTERM and on error;
 * --once and --json on a pipe.
 * SPDX-License-Identifier: MIT
 *
 * A daemon with two devices (a forwarder and a queue) runs on ports it
 * chose; the test sends traffic through both while it reads the screen
 * or the output. Every wait has a deadline. Without tmux the terminal
 * cases skip (scripts/deps.sh installs it).
 */
#include "zrtest_proc.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

static const char s_config[] = "[zrelay]\n"
                               "control = tcp://127.0.0.1:*\n"
                               "[forwarder fw]\n"
                               "frontend = @tcp://127.0.0.1:*\n"
                               "backend = @tcp://127.0.0.1:*\n"
                               "[queue q]\n"
                               "frontend = @tcp://127.0.0.1:*\n"
                               "backend = @tcp://127.0.0.1:*\n";

/* ---------------------------------------------------------------------
 * The relay and its traffic.
 */

typedef struct {
    zrt_daemon_t daemon;
    void *ctx;
    void *pub, *sub;       /* through fw */
    void *client, *worker; /* through q: DEALER to ROUTER, DEALER */
    int got_sub, got_worker;
} s_relay_t;

/* The daemon, no client yet. */
static void
s_relay_start(s_relay_t *r)
{
    memset(r, 0, sizeof *r);
    zrt_daemon_config(&r->daemon, "/tmp/zrt-top-XXXXXX", s_config);
    const char *argv[] = {ZRELAY_BIN, "run", r->daemon.path, NULL};
    zrt_daemon_start(&r->daemon, argv);
    r->ctx = zmq_ctx_new();
}

/* A few messages through each device, and what came out read. */
static void
s_relay_traffic(s_relay_t *r)
{
    for (int i = 0; i < 20; i++) {
        zmq_send(r->pub, "tick", 4, ZMQ_DONTWAIT);
        zmq_send(r->client, "job", 3, ZMQ_DONTWAIT);
    }
    char buf[64];
    while (zmq_recv(r->sub, buf, sizeof buf, ZMQ_DONTWAIT) >= 0) {
        r->got_sub++;
    }
    while (zmq_recv(r->worker, buf, sizeof buf, ZMQ_DONTWAIT) >= 0) {
        r->got_worker++;
    }
}

/* The clients, connected: messages came through both devices. */
static void
s_relay_connect(s_relay_t *r)
{
    r->pub = zrt_socket(r->ctx, ZMQ_PUB);
    r->sub = zrt_socket(r->ctx, ZMQ_SUB);
    zmq_setsockopt(r->sub, ZMQ_SUBSCRIBE, "", 0);
    r->client = zrt_socket(r->ctx, ZMQ_DEALER);
    r->worker = zrt_socket(r->ctx, ZMQ_DEALER);
    zrt_connect(r->pub, zrt_daemon_ep(&r->daemon, "fw", "frontend"));
    zrt_connect(r->sub, zrt_daemon_ep(&r->daemon, "fw", "backend"));
    zrt_connect(r->client, zrt_daemon_ep(&r->daemon, "q", "frontend"));
    zrt_connect(r->worker, zrt_daemon_ep(&r->daemon, "q", "backend"));
    ZR_WAIT((s_relay_traffic(r), r->got_sub > 0 && r->got_worker > 0),
            ZRT_DEADLINE_MS);
}

static void
s_relay_stop(s_relay_t *r)
{
    void *sockets[] = {r->pub, r->sub, r->client, r->worker};
    for (int i = 0; i < 4; i++) {
        if (sockets[i]) {
            zmq_close(sockets[i]);
        }
    }
    zmq_ctx_term(r->ctx);
    zrt_daemon_stop(&r->daemon);
}

/* ---------------------------------------------------------------------
 * tmux: a server of the test's own (-S, its socket in the case's
 * temporary directory), one detached session of a fixed size running a
 * bash script that keeps the terminal's settings before and after
 * `zrelay top` and its exit status, then stays (so the pane can be read
 * after top left it). The server and the directory go when the case
 * ends, passed or failed (the harness's end hook).
 */

typedef struct {
    char tmux[256];   /* its path */
    char dir[64];     /* sock, before, after, rc */
    char socket[128]; /* dir/sock */
    bool started;
} s_tmux_t;

static s_tmux_t s_tmux;

static void
s_tmux_kill(void)
{
    if (s_tmux.started) {
        s_tmux.started = false;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s -S %s kill-server 2>/dev/null",
                 s_tmux.tmux, s_tmux.socket);
        if (system(cmd) != 0) {
            /* gone already */
        }
        static const char *const files[] = {"sock", "before", "after", "rc",
                                            "rc.tmp"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            char path[128];
            snprintf(path, sizeof path, "%s/%s", s_tmux.dir, files[i]);
            unlink(path);
        }
        rmdir(s_tmux.dir);
    }
}

/* A failed case ends its process from the harness's end hook, without
 * atexit handlers: the tmux server goes there too. */
static void
s_end_hook(void)
{
    s_tmux_kill();
    zrt_proc_cleanup();
}

/* Run tmux ARGS... on the test's server: its stdout, which the caller
 * frees; it must exit 0. */
static char *
s_tmux_run(const char *first, ...)
{
    const char *argv[24] = {s_tmux.tmux, "-S", s_tmux.socket};
    int n = 3;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 23; a = va_arg(ap, const char *)) {
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    char *out = strdup(zrt_proc_stdout(p) ? zrt_proc_stdout(p) : "");
    zrt_proc_destroy(&p);
    ZR_CHECK(out != NULL);
    return out;
}

static void
s_tmux_start(const char *top_args)
{
    /* Its path: the children are started with execv. */
    const char *path = getenv("PATH");
    char dirs[1024];
    snprintf(dirs, sizeof dirs, "%s", path ? path : "/usr/bin:/bin");
    s_tmux.tmux[0] = 0;
    for (char *save, *d = strtok_r(dirs, ":", &save); d && !*s_tmux.tmux;
         d = strtok_r(NULL, ":", &save)) {
        snprintf(s_tmux.tmux, sizeof s_tmux.tmux, "%s/tmux", d);
        if (access(s_tmux.tmux, X_OK) != 0) {
            s_tmux.tmux[0] = 0;
        }
    }
    if (!*s_tmux.tmux) {
        ZR_SKIP("tmux is not installed (scripts/deps.sh installs it)");
    }
    snprintf(s_tmux.dir, sizeof s_tmux.dir, "/tmp/zrt-top-XXXXXX");
    ZR_CHECK(mkdtemp(s_tmux.dir) != NULL);
    snprintf(s_tmux.socket, sizeof s_tmux.socket, "%s/sock", s_tmux.dir);
    char script[2048];
    snprintf(script, sizeof script,
             "stty -g > %s/before; %s top %s; echo $? > %s/rc.tmp; "
             "stty -g > %s/after; mv %s/rc.tmp %s/rc; exec cat",
             s_tmux.dir, ZRELAY_BIN, top_args, s_tmux.dir, s_tmux.dir,
             s_tmux.dir, s_tmux.dir);
    s_tmux.started = true;
    atexit(s_tmux_kill);
    /* zrtest_proc.h installs its end hook with the first child: one
     * first (tmux -V, which also shows that tmux runs), then ours. */
    free(s_tmux_run("-V", NULL));
    zrt_end_hook = s_end_hook;
    free(s_tmux_run("-f", "/dev/null", "new-session", "-d", "-s", "top", "-x",
                    "120", "-y", "30", "bash", "-c", script, NULL));
}

static char *
s_tmux_screen(void)
{
    return s_tmux_run("capture-pane", "-p", "-t", "top", NULL);
}

static char *
s_tmux_format(const char *format)
{
    return s_tmux_run("display-message", "-p", "-t", "top", format, NULL);
}

/* The file NAME in the session's directory, or NULL before it exists. */
static char *
s_tmux_file(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", s_tmux.dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    char *text = calloc(1, 4096);
    ZR_CHECK(text != NULL);
    size_t n = fread(text, 1, 4095, f);
    fclose(f);
    text[n] = 0;
    return text;
}

/* top's exit status, and the terminal's settings as before it ran. */
static void
s_tmux_expect_exit(int want)
{
    char *rc = NULL;
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (!(rc = s_tmux_file("rc"))) {
        if (zrt_now_ms() > end) {
            char *screen = s_tmux_screen();
            ZR_FAILF("zrelay top did not exit; the screen:\n%s", screen);
        }
        usleep(20 * 1000); /* polling a file, within the deadline */
    }
    ZR_CHECKF(atoi(rc) == want, "zrelay top exited %d, not %d", atoi(rc), want);
    free(rc);
    char *before = s_tmux_file("before"), *after = s_tmux_file("after");
    ZR_CHECK(before && after);
    ZR_CHECKF(strcmp(before, after) == 0,
              "the terminal's settings changed:\n  before %s  after  %s",
              before, after);
    free(before);
    free(after);
    /* Back on the normal screen, with a cursor. */
    char *alt = s_tmux_format("#{alternate_on} #{cursor_flag}");
    ZR_CHECKF(strcmp(alt, "0 1\n") == 0,
              "alternate screen and cursor after top: '%s' (want '0 1')", alt);
    free(alt);
}

/* The pane's process (bash) and its child, zrelay top. */
static pid_t
s_tmux_top_pid(void)
{
    char *pane = s_tmux_format("#{pane_pid}");
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", atoi(pane),
             atoi(pane));
    free(pane);
    FILE *f = fopen(path, "r");
    ZR_CHECKF(f != NULL, "%s: %s", path, strerror(errno));
    int pid = 0;
    ZR_CHECKF(fscanf(f, "%d", &pid) == 1, "no child of the pane's shell");
    fclose(f);
    return (pid_t) pid;
}

/* A rate as top shows it (12.3, 4.5k, 6.7M) as a number; -1 for "-". */
static double
s_rate(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text) {
        return -1;
    }
    switch (*end) {
    case 'k': return v * 1e3;
    case 'M': return v * 1e6;
    case 'G': return v * 1e9;
    default: return v;
    }
}

/* The row of DEVICE on SCREEN: its messages in per second (-1: no row,
 * -2: a row still without rates). */
static double
s_row_rate(const char *screen, const char *device)
{
    char want[80];
    snprintf(want, sizeof want, "\n%s ", device);
    const char *row = strstr(screen, want);
    if (!row) {
        return -1;
    }
    char name[64], type[32], state[32], in[32];
    if (sscanf(row + 1, "%63s %31s %31s %31s", name, type, state, in) != 4) {
        return -1;
    }
    double v = s_rate(in);
    return v < 0 ? -2 : v;
}

/* Wait, with traffic flowing, until both devices have a row and the
 * rates of both are above zero. */
static void
s_wait_rows_moving(s_relay_t *r)
{
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    char *screen = NULL;
    for (;;) {
        s_relay_traffic(r);
        free(screen);
        screen = s_tmux_screen();
        if (s_row_rate(screen, "fw") > 0 && s_row_rate(screen, "q") > 0 &&
            strstr(screen, "\nTOTAL ")) {
            break;
        }
        ZR_CHECKF(zrt_now_ms() < end,
                  "no rows for fw and q with rates above 0; the screen:\n%s",
                  screen);
        usleep(50 * 1000); /* traffic keeps flowing between two looks */
    }
    ZR_CHECKF(strstr(screen, "MSG/S IN") && strstr(screen, "sort: name"),
              "no header; the screen:\n%s", screen);
    free(screen);
}

/* Wait until the screen shows TEXT. */
static void
s_wait_screen(const char *text)
{
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    for (;;) {
        char *screen = s_tmux_screen();
        bool found = strstr(screen, text) != NULL;
        if (!found && zrt_now_ms() > end) {
            ZR_FAILF("no '%s' on the screen:\n%s", text, screen);
        }
        free(screen);
        if (found) {
            return;
        }
        usleep(20 * 1000);
    }
}

/* ---------------------------------------------------------------------
 * The cases.
 */

static void
test_screen_q(void)
{
    s_relay_t r;
    s_relay_start(&r);
    s_relay_connect(&r);
    s_tmux_start(r.daemon.control);
    s_wait_rows_moving(&r);
    char *alt = s_tmux_format("#{alternate_on} #{cursor_flag}");
    ZR_CHECKF(strcmp(alt, "1 0\n") == 0,
              "top runs on the alternate screen without a cursor: '%s'", alt);
    free(alt);
    /* The keys sort; the title says by what. */
    free(s_tmux_run("send-keys", "-t", "top", "r", NULL));
    s_wait_screen("sort: rate");
    free(s_tmux_run("send-keys", "-t", "top", "d", NULL));
    s_wait_screen("sort: drops");
    free(s_tmux_run("send-keys", "-t", "top", "n", NULL));
    s_wait_screen("sort: name");
    free(s_tmux_run("send-keys", "-t", "top", "q", NULL));
    s_tmux_expect_exit(0);
    s_tmux_kill();
    s_relay_stop(&r);
}

static void
test_screen_ctrl_c(void)
{
    s_relay_t r;
    s_relay_start(&r);
    s_relay_connect(&r);
    s_tmux_start(r.daemon.control);
    s_wait_rows_moving(&r);
    free(s_tmux_run("send-keys", "-t", "top", "C-c", NULL));
    s_tmux_expect_exit(0);
    s_tmux_kill();
    s_relay_stop(&r);
}

static void
test_screen_sigterm(void)
{
    s_relay_t r;
    s_relay_start(&r);
    s_relay_connect(&r);
    s_tmux_start(r.daemon.control);
    s_wait_rows_moving(&r);
    ZR_CHECK(kill(s_tmux_top_pid(), SIGTERM) == 0);
    s_tmux_expect_exit(0);
    s_tmux_kill();
    s_relay_stop(&r);
}

/* No relay there: top says so, exits 1, and the terminal is as it was
 * (it had switched to its screen before asking). */
static void
test_screen_error(void)
{
    /* A port nothing listens on: bind one, note it, close it. */
    void *ctx = zmq_ctx_new();
    void *s = zrt_socket(ctx, ZMQ_REP);
    char ep[128], args[256];
    zrt_bind(s, "tcp://127.0.0.1:*", ep, sizeof ep);
    zmq_close(s);
    zmq_ctx_term(ctx);
    snprintf(args, sizeof args, "%s --timeout 300ms", ep);
    s_tmux_start(args);
    s_tmux_expect_exit(1);
    s_wait_screen("zrelay: top: no reply from");
    s_tmux_kill();
}

/* --once on a pipe: one plain block with rates over one interval. */
static void
test_once(void)
{
    s_relay_t r;
    s_relay_start(&r);
    s_relay_connect(&r);
    const char *argv[] = {ZRELAY_BIN, "top",        r.daemon.control,
                          "--once",   "--interval", "300ms",
                          NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (zrt_proc_alive(p) && zrt_now_ms() < end) {
        s_relay_traffic(&r);
        zrt_proc_pump(p, 10);
    }
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    const char *out = zrt_proc_stdout(p);
    ZR_CHECKF(strncmp(out, "zrelay top - ", 13) == 0 &&
                  strstr(out, "\nDEVICE ") && strstr(out, "\nTOTAL "),
              "not a block:\n%s", out);
    ZR_CHECKF(!strchr(out, '\033'), "escapes on a pipe:\n%s", out);
    ZR_CHECKF(s_row_rate(out, "fw") > 0 && s_row_rate(out, "q") > 0,
              "rates of fw and q not above 0:\n%s", out);
    zrt_proc_destroy(&p);
    s_relay_stop(&r);
}

static cJSON *
s_json_device(cJSON *root, const char *name)
{
    cJSON *dev;
    cJSON_ArrayForEach(dev, cJSON_GetObjectItem(root, "devices"))
    {
        const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(dev, "name"));
        if (n && strcmp(n, name) == 0) {
            return dev;
        }
    }
    ZR_FAILF("no device %s in the JSON", name);
}

static double
s_json_num(cJSON *obj, const char *key)
{
    cJSON *item = cJSON_GetObjectItem(obj, key);
    ZR_CHECKF(cJSON_IsNumber(item), "no number '%s'", key);
    return item->valuedouble;
}

/* --json --once: one object; rates exactly 0 before any client, above
 * 0 with traffic; the queue names no subscriptions, the forwarder no
 * workers. */
static void
test_json(void)
{
    s_relay_t r;
    s_relay_start(&r);
    for (int round = 0; round < 2; round++) {
        bool quiet = round == 0;
        if (!quiet) {
            s_relay_connect(&r);
        }
        const char *argv[] = {ZRELAY_BIN, "top",    r.daemon.control,
                              "--json",   "--once", "--interval",
                              "300ms",    NULL};
        zrt_proc_t *p = zrt_proc_start(argv, NULL);
        int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
        while (zrt_proc_alive(p) && zrt_now_ms() < end) {
            if (!quiet) {
                s_relay_traffic(&r);
            }
            zrt_proc_pump(p, 10);
        }
        zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
        const char *out = zrt_proc_stdout(p);
        ZR_CHECKF(strchr(out, '\n') == out + strlen(out) - 1,
                  "not one line:\n%s", out);
        cJSON *root = cJSON_Parse(out);
        ZR_CHECKF(root != NULL, "not JSON:\n%s", out);
        ZR_CHECK(s_json_num(root, "seconds") > 0);
        cJSON *fw = s_json_device(root, "fw"), *q = s_json_device(root, "q");
        for (int i = 0; i < 2; i++) {
            cJSON *dev = i ? q : fw;
            double in = s_json_num(dev, "msgs_in_per_s");
            ZR_CHECKF(quiet ? in == 0 : in > 0, "%s msgs_in_per_s %g (%s)",
                      i ? "q" : "fw", in, quiet ? "quiet" : "traffic");
            s_json_num(dev, "bytes_out_per_s");
            s_json_num(dev, "drops_per_s");
            s_json_num(dev, "connections");
            ZR_CHECK(cJSON_IsObject(
                cJSON_GetObjectItem(dev, "drops_by_reason_per_s")));
        }
        ZR_CHECK(s_json_num(fw, "connections") == (quiet ? 0 : 2));
        ZR_CHECK(s_json_num(fw, "subscriptions") == (quiet ? 0 : 1));
        ZR_CHECK(!cJSON_GetObjectItem(q, "subscriptions"));
        ZR_CHECK(!cJSON_GetObjectItem(fw, "workers"));
        cJSON *totals = cJSON_GetObjectItem(root, "totals");
        ZR_CHECK(s_json_num(totals, "msgs_in_per_s") ==
                 s_json_num(fw, "msgs_in_per_s") +
                     s_json_num(q, "msgs_in_per_s"));
        cJSON_Delete(root);
        zrt_proc_destroy(&p);
    }
    s_relay_stop(&r);
}

/* On a pipe without --once: a block per interval until SIGTERM, exit 0. */
static void
test_plain_stream(void)
{
    s_relay_t r;
    s_relay_start(&r);
    const char *argv[] = {ZRELAY_BIN,   "top",   r.daemon.control,
                          "--interval", "100ms", NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    int blocks = 0;
    while (blocks < 3) {
        ZR_CHECKF(zrt_now_ms() < end, "fewer than 3 blocks:\n%s",
                  zrt_proc_stdout(p));
        zrt_proc_pump(p, 50);
        blocks = 0;
        for (const char *s = zrt_proc_stdout(p); s && (s = strstr(s, "TOTAL "));
             s++) {
            blocks++;
        }
    }
    zrt_proc_signal(p, SIGTERM);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&p);
    s_relay_stop(&r);
}

/* After the first reply, a relay that stops answering: the screen says
 * so and top asks again; q still exits 0. */
static void
test_screen_lost(void)
{
    s_relay_t r;
    s_relay_start(&r);
    s_relay_connect(&r);
    char args[256];
    snprintf(args, sizeof args, "%s --timeout 300ms", r.daemon.control);
    s_tmux_start(args);
    s_wait_rows_moving(&r);
    s_relay_stop(&r);
    s_wait_screen("asking again");
    free(s_tmux_run("send-keys", "-t", "top", "q", NULL));
    s_tmux_expect_exit(0);
    s_tmux_kill();
}

static char *
s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ZR_CHECKF(f != NULL, "%s: %s", path, strerror(errno));
    char *text = calloc(1, 8192);
    ZR_CHECK(text != NULL);
    size_t n = fread(text, 1, 8191, f);
    fclose(f);
    text[n] = 0;
    return text;
}

/* A daemon whose control endpoint is a CURVE server: top gets through
 * with ctl's --curve-server-key and --curve-cert, not without. */
static void
test_curve(void)
{
    char dir[] = "/tmp/zrt-top-curve-XXXXXX", path[512], allow[256];
    char server[256], client[256], err[256];
    ZR_CHECK(mkdtemp(dir) != NULL);
    snprintf(server, sizeof server, "%s/server", dir);
    snprintf(client, sizeof client, "%s/client", dir);
    snprintf(allow, sizeof allow, "%s/allow", dir);
    ZR_CHECK(mkdir(allow, 0700) == 0);
    ZR_CHECKF(zr_cert_generate(server, false, err, sizeof err) == 0, "%s", err);
    ZR_CHECKF(zr_cert_generate(client, false, err, sizeof err) == 0, "%s", err);
    char *pub = s_slurp(client);
    snprintf(path, sizeof path, "%s/client", allow);
    zrt_write_file(path, pub);
    free(pub);
    char config[1024];
    snprintf(config, sizeof config,
             "[zrelay]\n"
             "control = tcp://127.0.0.1:*\n"
             "control_curve_secret = %s_secret\n"
             "control_curve_allow = %s\n"
             "[queue q]\n"
             "frontend = @tcp://127.0.0.1:*\n"
             "backend = @tcp://127.0.0.1:*\n",
             server, allow);
    zrt_daemon_t d;
    zrt_daemon_config(&d, "/tmp/zrt-top-XXXXXX", config);
    const char *run[] = {ZRELAY_BIN, "run", d.path, NULL};
    zrt_daemon_start(&d, run);

    char secret[300];
    snprintf(secret, sizeof secret, "%s_secret", client);
    const char *with[] = {
        ZRELAY_BIN, "top",          d.control, "--json",
        "--once",   "--interval",   "100ms",   "--curve-server-key",
        server,     "--curve-cert", secret,    NULL};
    zrt_proc_t *p = zrt_proc_start(with, NULL);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    ZR_CHECKF(strstr(zrt_proc_stdout(p), "\"name\":\"q\"") != NULL,
              "no device q: %s", zrt_proc_stdout(p));
    zrt_proc_destroy(&p);

    const char *without[] = {ZRELAY_BIN,  "top",   d.control, "--once",
                             "--timeout", "500ms", NULL};
    p = zrt_proc_start(without, NULL);
    zrt_proc_expect_exit(p, 1, ZRT_DEADLINE_MS);
    ZR_CHECKF(strstr(zrt_proc_stderr(p), "no reply from") != NULL, "%s",
              zrt_proc_stderr(p));
    zrt_proc_destroy(&p);
    zrt_daemon_stop(&d);
    const char *files[] = {"server",        "server_secret", "client",
                           "client_secret", "allow/client",  "allow"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
}

static void
test_usage(void)
{
    static const char *const bad[][4] = {
        {"--sort", "size", NULL},
        {"--interval", "1ms", NULL},
        {"--bogus", NULL},
        {"tcp://127.0.0.1:1", "extra", NULL},
        {"--curve-cert", "/nonexistent", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[8] = {ZRELAY_BIN, "top"};
        for (int j = 0; bad[i][j]; j++) {
            argv[2 + j] = bad[i][j];
        }
        zrt_proc_t *p = zrt_proc_start(argv, NULL);
        zrt_proc_expect_exit(p, 2, ZRT_DEADLINE_MS);
        ZR_CHECKF(strstr(zrt_proc_stderr(p), "zrelay: top: ") ||
                      strstr(zrt_proc_stderr(p), "zrelay: --interval"),
                  "%s: %s", bad[i][0], zrt_proc_stderr(p));
        zrt_proc_destroy(&p);
    }
    const char *help[] = {ZRELAY_BIN, "top", "--help", NULL};
    zrt_proc_t *p = zrt_proc_start(help, NULL);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    ZR_CHECK(strstr(zrt_proc_stdout(p), "--curve-server-key") != NULL);
    zrt_proc_destroy(&p);
}

/* ---------------------------------------------------------------------
 * A hostile relay: a ROUTER that answers every request with REPLY, "%N"
 * in it replaced by a number that grows (so rates move). top must show
 * what it says without letting it steer the terminal, and must not
 * crash on JSON of an unexpected shape.
 */
typedef struct {
    void *ctx, *router;
    char endpoint[64];
    const char *reply;
    pthread_t thread;
    _Atomic bool stop;
} s_fake_t;

static void *
s_fake_main(void *arg)
{
    s_fake_t *f = arg;
    int n = 0;
    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t item = {.socket = f->router, .events = ZMQ_POLLIN};
        if (zmq_poll(&item, 1, 20) <= 0) {
            continue;
        }
        zmq_msg_t id;
        zmq_msg_init(&id);
        zmq_msg_recv(&id, f->router, 0);
        int more = 1;
        size_t ml = sizeof more;
        while (zmq_getsockopt(f->router, ZMQ_RCVMORE, &more, &ml) == 0 &&
               more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, f->router, 0);
            zmq_msg_close(&m);
        }
        char body[4096], num[32];
        snprintf(num, sizeof num, "%d", ++n * 100);
        size_t o = 0;
        for (const char *p = f->reply; *p && o + 40 < sizeof body; p++) {
            if (p[0] == '%' && p[1] == 'N') {
                o += (size_t) snprintf(body + o, sizeof body - o, "%s", num);
                p++;
            }
            else {
                body[o++] = *p;
            }
        }
        zmq_msg_send(&id, f->router, ZMQ_SNDMORE);
        zmq_send(f->router, "", 0, ZMQ_SNDMORE);
        zmq_send(f->router, body, o, 0);
        zmq_msg_close(&id);
    }
    return NULL;
}

static void
s_fake_start(s_fake_t *f, const char *reply)
{
    memset(f, 0, sizeof *f);
    f->reply = reply;
    f->ctx = zmq_ctx_new();
    f->router = zmq_socket(f->ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(f->router, ZMQ_LINGER, &zero, sizeof zero);
    ZR_PASS(zmq_bind(f->router, "tcp://127.0.0.1:*"));
    size_t len = sizeof f->endpoint;
    ZR_PASS(zmq_getsockopt(f->router, ZMQ_LAST_ENDPOINT, f->endpoint, &len));
    ZR_CHECK(pthread_create(&f->thread, NULL, s_fake_main, f) == 0);
}

static void
s_fake_stop(s_fake_t *f)
{
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    zmq_close(f->router);
    zmq_ctx_term(f->ctx);
}

/* TEXT has no control character but newlines (C0, DEL, UTF-8 C1). */
static void
s_check_clean(const char *what, const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        ZR_CHECKF((*p >= 0x20 && *p != 0x7f &&
                   !(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) ||
                      *p == '\n',
                  "%s: a control character 0x%02x at %d: %s", what, *p,
                  (int) ((const char *) p - text), text);
    }
}

/* top EP --once against REPLY: its exit status EXIT; stdout and stderr
 * free of control characters; no sanitizer report. */
static void
s_top_against(const char *reply, int exit, const char *expect)
{
    s_fake_t f;
    s_fake_start(&f, reply);
    const char *argv[] = {ZRELAY_BIN,   "top",       f.endpoint,
                          "--once",     "--timeout", "5s",
                          "--interval", "50ms",      NULL};
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    zrt_proc_expect_exit(p, exit, ZRT_DEADLINE_MS);
    s_check_clean("stdout", zrt_proc_stdout(p));
    s_check_clean("stderr", zrt_proc_stderr(p));
    ZR_CHECKF(!strstr(zrt_proc_stderr(p), "runtime error"), "%s",
              zrt_proc_stderr(p));
    ZR_CHECKF(strstr(zrt_proc_stdout(p), expect) ||
                  strstr(zrt_proc_stderr(p), expect),
              "no '%s' in:\n%s%s", expect, zrt_proc_stdout(p),
              zrt_proc_stderr(p));
    zrt_proc_destroy(&p);
    s_fake_stop(&f);
}

/* Names, types, states and drop reasons that carry escape sequences (a
 * title change, a screen clear, a colour, CR/LF forging a row, C1 CSI):
 * shown with '?' in their place; error replies likewise. */
static void
test_hostile_text(void)
{
    s_top_against("{\"devices\":[{\"name\":\"x\\u001b]0;PWNED\\u0007"
                  "\\u001b[2Jred\",\"type\":\"\\u001b[5mt\\u009b1m\","
                  "\"state\":\"s\\r\\nFAKE\",\"frontend\":{\"msgs_in\":%N,"
                  "\"drops\":{\"r\\u001b[1m\":%N}}}]}",
                  0, "x?]0;PWNED??[2Jred");
    s_top_against("ERROR \033]0;PWNED\007\033[2J", 1, "answered: ERROR ?]0;");
    s_top_against("nope \033[2J\r\n", 1, "not STATS: nope ?[2J");
}

/* JSON of another shape than STATS: "drops" an array (its items have no
 * name), devices that are not objects, numbers as strings. */
static void
test_hostile_shape(void)
{
    s_top_against("{\"name\":\"a\",\"frontend\":{\"msgs_in\":%N,"
                  "\"drops\":[1,2,3]}}",
                  0, "TOTAL");
    s_top_against("{\"devices\":[1,\"x\",null,[],{\"name\":7,"
                  "\"frontend\":\"no\",\"backend\":{\"msgs_in\":\"9\"}}]}",
                  0, "TOTAL");
}

ZR_TESTS = {
    {"screen: rows move, keys sort, q exits 0", test_screen_q},
    {"screen: Ctrl-C exits 0, terminal restored", test_screen_ctrl_c},
    {"screen: SIGTERM exits 0, terminal restored", test_screen_sigterm},
    {"screen: no relay, exit 1, terminal restored", test_screen_error},
    {"screen: a relay that stops answering, then q", test_screen_lost},
    {"curve: through a CURVE control endpoint", test_curve},
    {"once: a plain block with rates", test_once},
    {"json: rates with traffic, 0 without", test_json},
    {"plain: a block per interval until SIGTERM", test_plain_stream},
    {"usage errors", test_usage},
    {"hostile relay: escapes in names and errors", test_hostile_text},
    {"hostile relay: STATS of another shape", test_hostile_shape},
    {NULL, NULL},
};

ZR_MAIN
