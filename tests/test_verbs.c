/* test_verbs.c - the client verbs and commands of issue 12's items 13-15:
 * `run -c`, `ctl stop NAME` / `ctl start NAME`, the xpub, xsub and stream
 * verbs, --reconnect-ivl, --tcp-keepalive and --sockopt, `--input json`
 * (replaying what `sub --format json` printed), `sub --timestamp`, and the
 * capture's direction header.
 * SPDX-License-Identifier: MIT
 *
 * Every test spawns ZRELAY_BIN and meets it over TCP on 127.0.0.1, on
 * ports the kernel chose. Every wait has a deadline.
 */
#include "zrtest_proc.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>

#define S_MAX_ARGS 40

#define S_CONTAINS(text, want)                                                 \
    do {                                                                       \
        const char *zrt_t_ = (text), *zrt_w_ = (want);                         \
        ZR_CHECKF(strstr(zrt_t_, zrt_w_), "%s lacks '%s'; it is:\n%s", #text,  \
                  zrt_w_, zrt_t_);                                             \
    } while (0)

/* Start `zrelay ARG...` (NULL-ended); stdin is /dev/null, or a pipe whose
 * write end goes to *FD when FD is set. */
static zrt_proc_t *__attribute__((sentinel))
s_start(int *fd, const char *first, ...)
{
    const char *argv[S_MAX_ARGS + 1];
    int n = 0;
    argv[n++] = ZRELAY_BIN;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        ZR_CHECKF(n < S_MAX_ARGS, "too many arguments");
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    return fd ? zrt_proc_start_stdin(argv, NULL, fd)
              : zrt_proc_start(argv, NULL);
}

/* Run `zrelay ARG...` to its end (stdin /dev/null): its exit status, and
 * stdout then stderr into OUT. */
static int __attribute__((sentinel))
s_run(char *out, size_t len, const char *first, ...)
{
    const char *argv[S_MAX_ARGS + 1];
    int n = 0;
    argv[n++] = ZRELAY_BIN;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        ZR_CHECKF(n < S_MAX_ARGS, "too many arguments");
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    ZR_CHECKF(zrt_proc_wait(p, ZRT_DEADLINE_MS), "'%s' did not end",
              p->cmdline);
    snprintf(out, len, "%s%s", zrt_proc_stdout(p), zrt_proc_stderr(p));
    int code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
    zrt_proc_destroy(&p);
    return code;
}

/* Wait until P's stderr holds WANT. */
static void
s_wait_stderr(zrt_proc_t *p, const char *want)
{
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (!strstr(zrt_proc_stderr(p), want)) {
        ZR_CHECKF(zrt_now_ms() < end, "'%s' never said '%s'; stderr:\n%s",
                  p->cmdline, want, zrt_proc_stderr(p));
        zrt_proc_pump(p, 20);
    }
}

/* The address after "VERB: bound " on P's stderr, into OUT. */
static void
s_bound(zrt_proc_t *p, const char *verb, char *out, size_t len)
{
    char want[64];
    snprintf(want, sizeof want, "%s: bound ", verb);
    s_wait_stderr(p, want);
    const char *at = strstr(zrt_proc_stderr(p), want) + strlen(want);
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    while (!strchr(at, '\n')) {
        ZR_CHECK(zrt_now_ms() < end);
        zrt_proc_pump(p, 20);
        at = strstr(zrt_proc_stderr(p), want) + strlen(want);
    }
    snprintf(out, len, "%.*s", (int) strcspn(at, "\n"), at);
}

/* ---------------------------------------------------------------------
 * The daemon: `zrelay run -c FILE`.
 */

/* `zrelay run -c FILE` on TEXT, its table read up to "ready". */
static void
s_daemon_start(zrt_daemon_t *d, const char *text)
{
    zrt_daemon_config(d, "/tmp/zrelay-verbs-XXXXXX", text);
    const char *argv[] = {ZRELAY_BIN, "run", "-c", d->path, NULL};
    zrt_daemon_start(d, argv);
}

/* DEVICE's state in `zrelay ctl list --json`. */
static void
s_state(zrt_daemon_t *d, const char *device, char *state, size_t len)
{
    char out[16384];
    ZR_EQ(s_run(out, sizeof out, "ctl", d->control, "list", "--json", NULL), 0);
    cJSON *root = cJSON_Parse(out);
    ZR_CHECKF(root, "list --json: %s", out);
    cJSON *dev;
    state[0] = 0;
    cJSON_ArrayForEach(dev, cJSON_GetObjectItem(root, "devices"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(dev, "name")),
                   device) == 0) {
            snprintf(state, len, "%s",
                     cJSON_GetStringValue(cJSON_GetObjectItem(dev, "state")));
        }
    }
    cJSON_Delete(root);
}

/* DEVICE's ROLE address in `zrelay ctl list --json`, into OUT. */
static void
s_listed_ep(zrt_daemon_t *d, const char *device, const char *role, char *out,
            size_t len)
{
    char text[16384];
    ZR_EQ(s_run(text, sizeof text, "ctl", d->control, "list", "--json", NULL),
          0);
    cJSON *root = cJSON_Parse(text);
    ZR_CHECKF(root, "list --json: %s", text);
    cJSON *dev, *ep;
    out[0] = 0;
    cJSON_ArrayForEach(dev, cJSON_GetObjectItem(root, "devices"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(dev, "name")),
                   device) != 0) {
            continue;
        }
        cJSON_ArrayForEach(ep, cJSON_GetObjectItem(dev, "endpoints"))
        {
            if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ep, "role")),
                       role) == 0) {
                snprintf(
                    out, len, "%s",
                    cJSON_GetStringValue(cJSON_GetObjectItem(ep, "address")));
            }
        }
    }
    cJSON_Delete(root);
    ZR_CHECKF(*out, "no %s %s listed: %s", device, role, text);
}

static bool
s_state_is(zrt_daemon_t *d, const char *device, const char *want)
{
    char state[32];
    s_state(d, device, state, sizeof state);
    return strcmp(state, want) == 0;
}

/* One message through a streamer: PUSH to FRONT, PULL from BACK. */
static void
s_through(void *ctx, const char *front, const char *back, const char *text)
{
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    zrt_connect(push, front);
    zrt_connect(pull, back);
    ZR_SEND(push, text);
    ZR_CHECKF(zrt_readable(pull, ZRT_DEADLINE_MS), "'%s' did not come through",
              text);
    ZR_RECV(pull, text);
    zmq_close(push);
    zmq_close(pull);
}

#define S_TWO_STREAMERS                                                        \
    "[zrelay]\ncontrol = @tcp://127.0.0.1:*\n"                                 \
    "[streamer one]\nfrontend = @tcp://127.0.0.1:*\n"                          \
    "backend = @tcp://127.0.0.1:*\nlinger = 0\n"                               \
    "[streamer two]\nfrontend = @tcp://127.0.0.1:*\n"                          \
    "backend = @tcp://127.0.0.1:*\nlinger = 0\n"

/* `run -c FILE` runs FILE as `run FILE` does; -c with CONFIG too is a
 * usage error. */
static void
test_run_config_option(void)
{
    zrt_daemon_t d;
    s_daemon_start(&d, S_TWO_STREAMERS);
    ZR_EQ(d.neps, 4);
    ZR_STREQ(d.eps[0].device, "one");
    ZR_STREQ(d.eps[2].device, "two");
    void *ctx = zmq_ctx_new();
    s_through(ctx, zrt_daemon_ep(&d, "one", "frontend"),
              zrt_daemon_ep(&d, "one", "backend"), "via -c");
    zmq_ctx_term(ctx);
    char out[4096];
    ZR_EQ(s_run(out, sizeof out, "run", "-c", d.path, d.path, NULL), 2);
    S_CONTAINS(out, "give the config file once");
    ZR_EQ(s_run(out, sizeof out, "run", "-c", NULL), 2);
    S_CONTAINS(out, "needs a value");
    ZR_EQ(s_run(out, sizeof out, "run", "--help", NULL), 0);
    S_CONTAINS(out, "-c, --config F");
    zrt_daemon_stop(&d);
}

/* `ctl stop NAME` stops one device (listed "stopped", the others run),
 * `ctl start NAME` starts it again on the same ports; `ctl stop` without
 * a name is refused and stops nothing. */
static void
test_ctl_stop_start(void)
{
    zrt_daemon_t d;
    s_daemon_start(&d, S_TWO_STREAMERS);
    void *ctx = zmq_ctx_new();
    const char *f1 = zrt_daemon_ep(&d, "one", "frontend");
    const char *b1 = zrt_daemon_ep(&d, "one", "backend");
    s_through(ctx, f1, b1, "before");
    char out[8192];

    ZR_EQ(s_run(out, sizeof out, "ctl", d.control, "stop", NULL), 1);
    S_CONTAINS(out, "STOP needs a device name (devices: one, two); "
                    "TERMINATE stops the whole daemon");
    ZR_CHECK(zrt_proc_alive(d.proc));
    ZR_CHECK(s_state_is(&d, "one", "running"));

    ZR_EQ(s_run(out, sizeof out, "ctl", d.control, "stop", "one", NULL), 0);
    ZR_STREQ(out, "stopped\n");
    /* The reply comes once the device has stopped. */
    ZR_CHECK(s_state_is(&d, "one", "stopped"));
    ZR_CHECK(s_state_is(&d, "two", "running"));
    s_through(ctx, zrt_daemon_ep(&d, "two", "frontend"),
              zrt_daemon_ep(&d, "two", "backend"), "two goes on");
    /* Stopping a stopped device is no error. */
    ZR_EQ(s_run(out, sizeof out, "ctl", d.control, "stop", "one", NULL), 0);

    ZR_EQ(s_run(out, sizeof out, "ctl", d.control, "start", "nosuch", NULL), 1);
    S_CONTAINS(out, "no device 'nosuch'");
    ZR_EQ(s_run(out, sizeof out, "ctl", d.control, "start", "one", "--json",
                NULL),
          0);
    ZR_STREQ(out, "{\"ok\":true,\"result\":\"started\"}\n");
    ZR_WAIT(s_state_is(&d, "one", "running"), ZRT_DEADLINE_MS);
    /* Its section binds port *: the new device has new ports (as after
     * a reload). */
    char f2[128], b2[128];
    s_listed_ep(&d, "one", "frontend", f2, sizeof f2);
    s_listed_ep(&d, "one", "backend", b2, sizeof b2);
    s_through(ctx, f2, b2, "after a restart");
    /* Starting a running device changes nothing. */
    ZR_EQ(s_run(out, sizeof out, "ctl", d.control, "start", "one", NULL), 0);
    ZR_CHECK(s_state_is(&d, "one", "running"));
    s_wait_stderr(d.proc, "one: stopped by control command");
    s_wait_stderr(d.proc, "one: started by control command");
    zmq_ctx_term(ctx);
    zrt_daemon_stop(&d);
}

/* A device's own control endpoint takes STOP as TERMINATE, and knows no
 * START. */
static void
test_ctl_stop_own_endpoint(void)
{
    zrt_proc_t *p =
        s_start(NULL, "streamer", "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*",
                "--control", "@tcp://127.0.0.1:*", NULL);
    char line[512], control[256] = "";
    while (!*control) {
        ZR_CHECKF(zrt_proc_read_line(p, line, sizeof line, ZRT_DEADLINE_MS),
                  "no control line; stderr:\n%s", zrt_proc_stderr(p));
        char role[32], mode[32], address[256];
        if (sscanf(line, "%31s %31s %255s", role, mode, address) == 3 &&
            strcmp(role, "control") == 0) {
            snprintf(control, sizeof control, "%s", address);
        }
    }
    char out[4096];
    ZR_EQ(s_run(out, sizeof out, "ctl", control, "start", NULL), 1);
    S_CONTAINS(out, "START is answered by the daemon's control endpoint only");
    ZR_EQ(s_run(out, sizeof out, "ctl", control, "stop", NULL), 0);
    ZR_STREQ(out, "stopped\n");
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&p);
}

/* ---------------------------------------------------------------------
 * xpub, xsub, stream; --sockopt, --reconnect-ivl, --tcp-keepalive.
 */

/* xpub prints the subscriptions that reach it; --sockopt
 * xpub_verbose=on (applied to the verb's socket) shows the second
 * subscription to the same topic, which libzmq otherwise keeps back. */
static void
test_xpub_sees_subscriptions(void)
{
    zrt_proc_t *p =
        s_start(NULL, "xpub", "@tcp://127.0.0.1:*", "--format", "quoted",
                "--count", "2", "--sockopt", "ZMQ_XPUB_VERBOSE=on", NULL);
    char ep[256];
    s_bound(p, "xpub", ep, sizeof ep);
    void *ctx = zmq_ctx_new();
    void *sub1 = zrt_socket(ctx, ZMQ_SUB);
    void *sub2 = zrt_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(sub1, ZMQ_SUBSCRIBE, "abc", 3);
    zmq_setsockopt(sub2, ZMQ_SUBSCRIBE, "abc", 3);
    zrt_connect(sub1, ep);
    zrt_connect(sub2, ep);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    ZR_STREQ(zrt_proc_stdout(p), "\"\\x01abc\"\n\"\\x01abc\"\n");
    zrt_proc_destroy(&p);
    zmq_close(sub1);
    zmq_close(sub2);
    zmq_ctx_term(ctx);
}

/* xsub subscribes to its --topic with a subscription message upstream,
 * and prints what comes down. */
static void
test_xsub_subscribes(void)
{
    void *ctx = zmq_ctx_new();
    void *xpub = zrt_socket(ctx, ZMQ_XPUB);
    char ep[256];
    zrt_bind(xpub, "tcp://127.0.0.1:*", ep, sizeof ep);
    zrt_proc_t *p =
        s_start(NULL, "xsub", ep, "--topic", "t1", "--count", "1", NULL);
    ZR_CHECKF(zrt_readable(xpub, ZRT_DEADLINE_MS), "no subscription came");
    char buf[64];
    int n = zmq_recv(xpub, buf, sizeof buf, 0);
    ZR_EQ(n, 3);
    ZR_CHECK(memcmp(buf, "\x01t1", 3) == 0);
    ZR_SEND(xpub, "t2 not this");
    ZR_SEND(xpub, "t1 hello");
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    ZR_STREQ(zrt_proc_stdout(p), "t1 hello\n");
    zrt_proc_destroy(&p);
    zmq_close(xpub);
    zmq_ctx_term(ctx);
}

static int
s_tcp_connect(const char *address)
{
    const char *colon = strrchr(address, ':');
    ZR_CHECK(colon);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ZR_CHECK(fd >= 0);
    ZR_CHECKF(connect(fd, (struct sockaddr *) &sa, sizeof sa) == 0,
              "connect %s: %s", address, strerror(errno));
    return fd;
}

/* stream speaks raw TCP: a peer's connection, then its bytes, each after
 * the peer's identity; a message for an unknown identity is dropped
 * with a warning. */
static void
test_stream_raw_tcp(void)
{
    zrt_proc_t *p = s_start(NULL, "stream", "@tcp://127.0.0.1:*", "--format",
                            "quoted", "--count", "2", NULL);
    char ep[256];
    s_bound(p, "stream", ep, sizeof ep);
    int fd = s_tcp_connect(ep);
    ZR_EQ(write(fd, "ping\n", 5), 5);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    const char *out = zrt_proc_stdout(p);
    /* "ID"|"" when the peer connects, then "ID"|"ping\n". */
    const char *nl = strchr(out, '\n');
    ZR_CHECKF(nl && nl - out > 5 && strncmp(nl - 3, "|\"\"\n", 4) == 0,
              "stdout:\n%s", out);
    size_t idlen = (size_t) (nl - out) - 3;
    ZR_CHECKF(strncmp(nl + 1, out, idlen) == 0 &&
                  strcmp(nl + 1 + idlen, "|\"ping\\n\"\n") == 0,
              "stdout:\n%s", out);
    zrt_proc_destroy(&p);
    close(fd);

    int in;
    p = s_start(&in, "stream", "@tcp://127.0.0.1:*", "--frames-sep", "|",
                "--count", "0", NULL);
    ZR_EQ(write(in, "0x0011223344|x\n", 15), 15);
    close(in);
    zrt_proc_expect_exit(p, 1, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stderr(p),
               "no peer with identity 0x0011223344; message dropped");
    zrt_proc_destroy(&p);
}

/* --sockopt: an unknown name or a bad value is a usage error saying so;
 * so is a value libzmq refuses. --reconnect-ivl and --tcp-keepalive set
 * their options (as -vv shows). */
static void
test_sockopt_errors_and_shorthands(void)
{
    char out[8192];
    ZR_EQ(s_run(out, sizeof out, "pub", "tcp://127.0.0.1:1", "--sockopt",
                "nosuch=1", "--data", "x", NULL),
          2);
    S_CONTAINS(out, "pub: --sockopt 'nosuch': no such socket option (known, "
                    "ZMQ_ prefix and case optional: affinity, ");
    ZR_EQ(s_run(out, sizeof out, "sub", "tcp://127.0.0.1:1", "--sockopt",
                "Zmq_RcvHwm=lots", NULL),
          2);
    S_CONTAINS(out, "sub: --sockopt rcvhwm: 'lots' is not a whole number");
    ZR_EQ(s_run(out, sizeof out, "sub", "tcp://127.0.0.1:1", "--sockopt",
                "rcvhwm", NULL),
          2);
    S_CONTAINS(out, "--sockopt 'rcvhwm': not NAME=VALUE");
    ZR_EQ(s_run(out, sizeof out, "pull", "tcp://127.0.0.1:1", "--sockopt",
                "tcp_keepalive=7", NULL),
          2);
    S_CONTAINS(out, "pull: --sockopt tcp_keepalive=7: Invalid argument");
    ZR_EQ(s_run(out, sizeof out, "pull", "tcp://127.0.0.1:1", "--reconnect-ivl",
                "soon", NULL),
          2);
    S_CONTAINS(out, "--reconnect-ivl: 'soon' is not a duration");
    ZR_EQ(s_run(out, sizeof out, "pull", "tcp://127.0.0.1:1", "--tcp-keepalive",
                "x", NULL),
          2);
    S_CONTAINS(out, "--tcp-keepalive: 'x' is not a duration");

    ZR_EQ(s_run(out, sizeof out, "pull", "tcp://127.0.0.1:1", "--reconnect-ivl",
                "2s", "--tcp-keepalive", "6500ms", "--sockopt",
                "heartbeat_ivl=250", "--timeout", "10ms", "-vv", NULL),
          3);
    S_CONTAINS(out, "socket option reconnect_ivl = 2000 (--reconnect-ivl 2s)");
    S_CONTAINS(out, "socket option tcp_keepalive = 1");
    S_CONTAINS(out, "socket option tcp_keepalive_idle = 7 (--tcp-keepalive "
                    "6500ms)");
    S_CONTAINS(out, "socket option heartbeat_ivl = 250");
    ZR_EQ(s_run(out, sizeof out, "pull", "tcp://127.0.0.1:1", "--tcp-keepalive",
                "off", "--timeout", "10ms", "-vv", NULL),
          3);
    S_CONTAINS(out, "socket option tcp_keepalive = 0");
    ZR_EQ(s_run(out, sizeof out, "xsub", "--help", NULL), 0);
    S_CONTAINS(out, "--sockopt NAME=VALUE");
    S_CONTAINS(out, "--topic T");
}

/* ---------------------------------------------------------------------
 * --input json, --timestamp, the capture's direction.
 */

/* Frames a replay must give back byte for byte: a NUL inside text,
 * bytes that are not UTF-8, UTF-8 beyond the BMP, escapes, an empty
 * frame. */
typedef struct {
    const char *data;
    size_t len;
} s_frame_t;

static const s_frame_t s_msgs[][3] = {
    {{"plain", 5}, {NULL, 0}},
    {{"a\0b", 3}, {"\xff\xfe\x00\x01", 4}, {"", 0}},
    {{"\xf0\x9f\x98\x80 \"q\" \\ \n\t\x1f", 14}, {NULL, 0}},
    {{"", 0}, {"\xc3\x28", 2}, {NULL, 0}},
};
#define S_NMSGS (sizeof s_msgs / sizeof s_msgs[0])

static void
s_send_msg(void *sock, const s_frame_t *m)
{
    size_t n = 0;
    while (n < 3 && m[n].data) {
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        ZR_CHECK(zmq_send(sock, m[i].data, m[i].len,
                          i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
    }
}

static void
s_recv_check(void *sock, const s_frame_t *m)
{
    ZR_CHECKF(zrt_readable(sock, ZRT_DEADLINE_MS), "the replay did not come");
    for (size_t i = 0; i < 3 && m[i].data; i++) {
        char buf[64];
        int n = zmq_recv(sock, buf, sizeof buf, 0);
        ZR_EQ(n, (int) m[i].len);
        ZR_CHECKF(memcmp(buf, m[i].data, m[i].len) == 0, "frame %zu differs",
                  i);
        int more;
        size_t ml = sizeof more;
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
        ZR_EQ(more, i + 1 < 3 && m[i + 1].data);
    }
}

/* What pull --format json prints, push --input json sends again, byte
 * for byte; --timestamp's "time" member does not get in the way. A line
 * that is not of that format is an error naming it. */
static void
test_input_json_roundtrip(void)
{
    void *ctx = zmq_ctx_new();
    void *src = zrt_socket(ctx, ZMQ_PUSH);
    char ep[256];
    zrt_bind(src, "tcp://127.0.0.1:*", ep, sizeof ep);
    char count[16];
    snprintf(count, sizeof count, "%zu", S_NMSGS);
    zrt_proc_t *cap = s_start(NULL, "pull", ep, "--format", "json",
                              "--timestamp", "--count", count, NULL);
    for (size_t i = 0; i < S_NMSGS; i++) {
        s_send_msg(src, s_msgs[i]);
    }
    zrt_proc_expect_exit(cap, 0, ZRT_DEADLINE_MS);
    const char *captured = zrt_proc_stdout(cap);
    ZR_CHECKF(strstr(captured, "{\"time\":\""), "no time member:\n%s",
              captured);

    void *dst = zrt_socket(ctx, ZMQ_PULL);
    char ep2[256];
    zrt_bind(dst, "tcp://127.0.0.1:*", ep2, sizeof ep2);
    int in;
    zrt_proc_t *replay = s_start(&in, "push", ep2, "--input", "json", NULL);
    signal(SIGPIPE, SIG_IGN);
    size_t len = strlen(captured);
    ZR_EQ(write(in, captured, len), (ssize_t) len);
    close(in);
    for (size_t i = 0; i < S_NMSGS; i++) {
        s_recv_check(dst, s_msgs[i]);
    }
    zrt_proc_expect_exit(replay, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&replay);
    zrt_proc_destroy(&cap);

    replay = s_start(&in, "push", ep2, "--input", "json", NULL);
    ZR_EQ(write(in, "{\"frames\":[{\"hex\":\"00\"}]}\n", 27), 27);
    close(in);
    zrt_proc_expect_exit(replay, 1, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stderr(replay), "json input: not a line of --format "
                                        "json");
    zrt_proc_destroy(&replay);
    char out[4096];
    ZR_EQ(s_run(out, sizeof out, "push", ep2, "--input", "json", "--data", "x",
                NULL),
          2);
    S_CONTAINS(out, "--input json reads standard input or one --file");
    ZR_EQ(s_run(out, sizeof out, "push", ep2, "--input", "yaml", NULL), 2);
    S_CONTAINS(out, "--input 'yaml': not one of text|raw|json");
    zmq_close(src);
    zmq_close(dst);
    zmq_ctx_term(ctx);
}

/* ATTACK12: "\\u" takes exactly four hex digits. strtoul also took a
 * sign, blanks and 0x: "\\u-001" was sent as bytes ff bf bf bf, and
 * "\\u+041", "\\u 041", "\\u0x41" as "A". Each line must be refused
 * (exit 1, the line named), nothing sent. */
static void
test_attack12_json_bad_escapes(void)
{
    static const char *lines[] = {
        "{\"frames\":[{\"text\":\"\\u-001\"}]}\n",
        "{\"frames\":[{\"text\":\"\\u+041\"}]}\n",
        "{\"frames\":[{\"text\":\"\\u 041\"}]}\n",
        "{\"frames\":[{\"text\":\"\\u0x41\"}]}\n",
    };
    void *ctx = zmq_ctx_new();
    void *dst = zrt_socket(ctx, ZMQ_PULL);
    char ep[256];
    zrt_bind(dst, "tcp://127.0.0.1:*", ep, sizeof ep);
    signal(SIGPIPE, SIG_IGN);
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        int in;
        zrt_proc_t *p = s_start(&in, "push", ep, "--input", "json", NULL);
        size_t len = strlen(lines[i]);
        ZR_EQ(write(in, lines[i], len), (ssize_t) len);
        close(in);
        ZR_CHECK(zrt_proc_wait(p, ZRT_DEADLINE_MS));
        int status = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
        /* Whatever it sent went out before it exited (linger). */
        zmq_pollitem_t item = {.socket = dst, .events = ZMQ_POLLIN};
        zmq_poll(&item, 1, 500);
        zmq_msg_t m;
        zmq_msg_init(&m);
        int got = zmq_msg_recv(&m, dst, ZMQ_DONTWAIT);
        ZR_CHECKF(status == 1 && got < 0,
                  "%s: exit %d, and a frame of %d byte(s) was sent", lines[i],
                  status, got);
        zmq_msg_close(&m);
        zrt_proc_destroy(&p);
    }
    zmq_close(dst);
    zmq_ctx_term(ctx);
}

/* --timestamp puts the UTC time before each message printed. */
static void
test_timestamp_text(void)
{
    void *ctx = zmq_ctx_new();
    void *src = zrt_socket(ctx, ZMQ_PUSH);
    char ep[256];
    zrt_bind(src, "tcp://127.0.0.1:*", ep, sizeof ep);
    zrt_proc_t *p =
        s_start(NULL, "pull", ep, "--timestamp", "--count", "1", NULL);
    ZR_SEND(src, "hello");
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    const char *out = zrt_proc_stdout(p);
    int y, mo, d, h, mi, sec;
    long us;
    char rest[32] = "";
    ZR_CHECKF(sscanf(out, "%4d-%2d-%2dT%2d:%2d:%2d.%6ldZ %31[^\n]", &y, &mo, &d,
                     &h, &mi, &sec, &us, rest) == 8 &&
                  strlen(out) == 34 && strcmp(rest, "hello") == 0,
              "stdout: '%s'", out);
    zrt_proc_destroy(&p);
    char text[4096];
    ZR_EQ(s_run(text, sizeof text, "pull", ep, "--timestamp", "--format", "raw",
                NULL),
          2);
    S_CONTAINS(text, "--timestamp does not apply to --format raw");
    zmq_close(src);
    zmq_ctx_term(ctx);
}

ZR_TESTS = {
    {"run -c FILE", test_run_config_option},
    {"ctl stop NAME, ctl start NAME", test_ctl_stop_start},
    {"ctl stop on a device's own endpoint", test_ctl_stop_own_endpoint},
    {"xpub prints subscriptions; --sockopt applies",
     test_xpub_sees_subscriptions},
    {"xsub subscribes and prints", test_xsub_subscribes},
    {"stream speaks raw TCP", test_stream_raw_tcp},
    {"--sockopt, --reconnect-ivl, --tcp-keepalive",
     test_sockopt_errors_and_shorthands},
    {"--input json replays --format json byte for byte",
     test_input_json_roundtrip},
    {"ATTACK12: --input json refuses \\u with a sign, blank or 0x",
     test_attack12_json_bad_escapes},
    {"--timestamp in text", test_timestamp_text},
    {NULL, NULL},
};
ZR_MAIN
