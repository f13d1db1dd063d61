/* test_client.c - the client verbs (zrelay pub, sub, req, rep, push,
 * pull, dealer, router, pair) against the device verbs and against this
 * program's own sockets: round trips, topics with the publisher synced
 * (no sleeps), 10,000 lines from stdin, binary multipart frames byte-exact
 * in --format raw and json, timeouts (exit 3), signals, usage errors.
 * SPDX-License-Identifier: MIT
 *
 * Every test spawns ZRELAY_BIN and meets it over TCP on 127.0.0.1, on
 * ports the kernel chose. Every wait has a deadline.
 */
#include "zrtest_proc.h"

#include <cjson/cJSON.h>
#include <stdarg.h>

#define S_MAX_ARGS 40

/* ---------------------------------------------------------------------
 * Running zrelay.
 */

static void
s_argv(const char **argv, const char *first, va_list ap)
{
    int n = 0;
    argv[n++] = ZRELAY_BIN;
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        ZR_CHECKF(n < S_MAX_ARGS, "too many arguments");
        argv[n++] = a;
    }
    argv[n] = NULL;
}

/* Start `zrelay ARG...` (NULL-ended); stdin is /dev/null. */
static zrt_proc_t *__attribute__((sentinel)) s_start(const char *first, ...)
{
    const char *argv[S_MAX_ARGS + 1];
    va_list ap;
    va_start(ap, first);
    s_argv(argv, first, ap);
    va_end(ap);
    return zrt_proc_start(argv, NULL);
}

/* The same with stdin on a pipe whose write end goes to *FD. */
static zrt_proc_t *__attribute__((sentinel))
s_start_stdin(int *fd, const char *first, ...)
{
    const char *argv[S_MAX_ARGS + 1];
    va_list ap;
    va_start(ap, first);
    s_argv(argv, first, ap);
    va_end(ap);
    return zrt_proc_start_stdin(argv, NULL, fd);
}

#define S_CONTAINS(text, want)                                                 \
    do {                                                                       \
        const char *zrt_t_ = (text), *zrt_w_ = (want);                         \
        ZR_CHECKF(strstr(zrt_t_, zrt_w_), "%s lacks '%s'; it is:\n%s", #text,  \
                  zrt_w_, zrt_t_);                                             \
    } while (0)

/* A device verb's endpoints, from its lines up to "ready". */
typedef struct {
    zrt_proc_t *proc;
    char front[256], back[256], sync[256];
} s_device_t;

static void __attribute__((sentinel))
s_device_start(s_device_t *d, const char *verb, ...)
{
    const char *argv[S_MAX_ARGS + 1] = {ZRELAY_BIN, verb, "@tcp://127.0.0.1:*",
                                        "@tcp://127.0.0.1:*"};
    int n = 4;
    va_list ap;
    va_start(ap, verb);
    for (const char *a = va_arg(ap, const char *); a;
         a = va_arg(ap, const char *)) {
        argv[n++] = a;
    }
    va_end(ap);
    argv[n] = NULL;
    memset(d, 0, sizeof *d);
    d->proc = zrt_proc_start(argv, NULL);
    for (;;) {
        char line[512], role[32], mode[32], address[256];
        ZR_CHECKF(
            zrt_proc_read_line(d->proc, line, sizeof line, ZRT_DEADLINE_MS),
            "zrelay %s printed no 'ready'; stderr:\n%s", verb,
            zrt_proc_stderr(d->proc));
        if (strcmp(line, "ready") == 0) {
            break;
        }
        ZR_CHECKF(sscanf(line, "%31s %31s %255s", role, mode, address) == 3,
                  "line '%s'", line);
        char *to = strcmp(role, "frontend") == 0  ? d->front
                   : strcmp(role, "backend") == 0 ? d->back
                   : strcmp(role, "sync") == 0    ? d->sync
                                                  : NULL;
        if (to) {
            /* The client verbs connect a bare endpoint. */
            snprintf(to, 256, "%s", address);
        }
    }
    ZR_CHECK(d->front[0] && d->back[0]);
}

static void
s_device_stop(s_device_t *d)
{
    zrt_proc_signal(d->proc, SIGTERM);
    zrt_proc_expect_exit(d->proc, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&d->proc);
}

/* Wait until the client's stderr says "VERB: bound ADDRESS"; ADDRESS into
 * OUT. Printed once the socket is bound and the signal handlers are in
 * place. */
static void
s_bound(zrt_proc_t *p, char *out, size_t len)
{
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    const char *at;
    while (!(at = strstr(zrt_proc_stderr(p), ": bound ")) ||
           !strchr(at, '\n')) {
        ZR_CHECKF(zrt_now_ms() < end, "'%s' said no 'bound'; stderr:\n%s",
                  p->cmdline, zrt_proc_stderr(p));
        zrt_proc_pump(p, 50);
    }
    at += strlen(": bound ");
    snprintf(out, len, "%.*s", (int) strcspn(at, "\n"), at);
}

/* Write LEN bytes of DATA to FD (a child's stdin) and close it, reading
 * DRAIN's output meanwhile so that neither side blocks the other. */
static void
s_feed(int fd, const void *data, size_t len, zrt_proc_t *drain)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int64_t end = zrt_now_ms() + ZRT_DEADLINE_MS;
    size_t done = 0;
    while (done < len) {
        ZR_CHECKF(zrt_now_ms() < end, "stdin took only %zu of %zu bytes", done,
                  len);
        ssize_t n = write(fd, (const char *) data + done, len - done);
        if (n > 0) {
            done += (size_t) n;
            continue;
        }
        ZR_CHECKF(n < 0 && (errno == EAGAIN || errno == EINTR),
                  "write to stdin: %s", strerror(errno));
        if (drain) {
            zrt_proc_pump(drain, 1);
        }
        else {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            poll(&pfd, 1, 10);
        }
    }
    close(fd);
}

static void
s_feed_str(int fd, const char *text)
{
    s_feed(fd, text, strlen(text), NULL);
}

/* Run `zrelay ARG...` to its end, stdin /dev/null; it must exit WANT. */
static zrt_proc_t *__attribute__((sentinel))
s_run(int want, const char *first, ...)
{
    const char *argv[S_MAX_ARGS + 1];
    va_list ap;
    va_start(ap, first);
    s_argv(argv, first, ap);
    va_end(ap);
    zrt_proc_t *p = zrt_proc_start(argv, NULL);
    zrt_proc_expect_exit(p, want, ZRT_DEADLINE_MS);
    return p;
}

/* P's whole stdout must be WANT. */
static void
s_stdout_is(zrt_proc_t *p, const char *want)
{
    ZR_CHECKF(strcmp(zrt_proc_stdout(p), want) == 0,
              "'%s' printed:\n%s\nwant:\n%s", p->cmdline, zrt_proc_stdout(p),
              want);
}

/* ---------------------------------------------------------------------
 * Messages as byte strings.
 */

typedef struct {
    const char *data;
    size_t len;
} s_frame_t;

#define S_F(literal)                                                           \
    {                                                                          \
        literal, sizeof literal - 1                                            \
    }

static void
s_send_frames(void *socket, const s_frame_t *frames, int n)
{
    for (int i = 0; i < n; i++) {
        ZR_CHECKF(zmq_send(socket, frames[i].data, frames[i].len,
                           i + 1 < n ? ZMQ_SNDMORE : 0) == (int) frames[i].len,
                  "send: %s", zmq_strerror(errno));
    }
}

/* The next raw message of BUF (LEN bytes) at *POS, checked against
 * FRAMES (N of them) byte for byte. */
static void
s_check_raw(const unsigned char *buf, size_t len, size_t *pos,
            const s_frame_t *frames, int n, int msg)
{
    for (int i = 0; i < n; i++) {
        ZR_CHECKF(len - *pos >= 9, "message %d frame %d: output ends", msg, i);
        unsigned char flags = buf[*pos];
        uint64_t flen = 0;
        for (int k = 0; k < 8; k++) {
            flen = flen << 8 | buf[*pos + 1 + k];
        }
        ZR_CHECKF(flags == (i + 1 < n ? 1 : 0),
                  "message %d frame %d: flags 0x%02x", msg, i, flags);
        ZR_CHECKF(flen == frames[i].len,
                  "message %d frame %d: length %llu, want %zu", msg, i,
                  (unsigned long long) flen, frames[i].len);
        ZR_CHECKF(len - *pos - 9 >= flen &&
                      memcmp(buf + *pos + 9, frames[i].data, flen) == 0,
                  "message %d frame %d: bytes differ", msg, i);
        *pos += 9 + (size_t) flen;
    }
}

/* Standard base64 (with padding) into OUT; its length, or -1. */
static long
s_base64_decode(const char *in, unsigned char *out)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(in);
    if (len % 4) {
        return -1;
    }
    long o = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            const char *p = in[i + k] == '=' ? NULL : strchr(abc, in[i + k]);
            if (in[i + k] == '=') {
                pad++;
            }
            else if (!p || !*p || pad) {
                return -1;
            }
            v = v << 6 | (uint32_t) (p ? p - abc : 0);
        }
        out[o++] = (unsigned char) (v >> 16);
        if (pad < 2) {
            out[o++] = (unsigned char) (v >> 8);
        }
        if (pad < 1) {
            out[o++] = (unsigned char) v;
        }
    }
    return o;
}

/* A temporary file holding DATA; its path in PATH. */
static void
s_temp_file(char *path, size_t len, const void *data, size_t size)
{
    snprintf(path, len, "/tmp/zrelay-test-client-XXXXXX");
    int fd = mkstemp(path);
    ZR_CHECKF(fd >= 0, "mkstemp: %s", strerror(errno));
    ZR_CHECK(write(fd, data, size) == (ssize_t) size);
    close(fd);
}

/* ---------------------------------------------------------------------
 * The tests.
 */

static const char *s_verbs[] = {"pub",  "sub",    "req",    "rep", "push",
                                "pull", "dealer", "router", "pair"};

/* --help of every verb: exit 0, its options, durations explained; the
 * top-level help lists the verbs. */
static void
test_help(void)
{
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++) {
        char usage[64];
        snprintf(usage, sizeof usage, "usage: zrelay %s ENDPOINT", s_verbs[i]);
        zrt_proc_t *p = s_run(0, s_verbs[i], "--help", NULL);
        const char *out = zrt_proc_stdout(p);
        ZR_CHECKF(strncmp(out, usage, strlen(usage)) == 0, "%s", out);
        const char *want[] = {"--count",
                              "--timeout",
                              "--format",
                              "--hwm",
                              "--linger",
                              "--help",
                              "a bare EP connects",
                              "a bare number is milliseconds",
                              "Exit status"};
        for (size_t j = 0; j < sizeof want / sizeof want[0]; j++) {
            S_CONTAINS(out, want[j]);
        }
        ZR_STREQ(zrt_proc_stderr(p), "");
        zrt_proc_destroy(&p);
    }
    zrt_proc_t *p = s_run(0, "pub", "-h", NULL);
    S_CONTAINS(zrt_proc_stdout(p), "--sync");
    S_CONTAINS(zrt_proc_stdout(p), "slow joiner");
    zrt_proc_destroy(&p);
    p = s_run(0, "pull", "--help", NULL);
    S_CONTAINS(zrt_proc_stdout(p), "8 bytes big-endian");
    zrt_proc_destroy(&p);
    p = s_run(0, "--help", NULL);
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++) {
        S_CONTAINS(zrt_proc_stdout(p), s_verbs[i]);
    }
    zrt_proc_destroy(&p);
}

/* Usage errors exit 2 with the cause on stderr, before any socket. */
static void
test_usage_errors(void)
{
    static const struct {
        const char *args[10];
        const char *says;
    } cases[] = {
        {{"pub"}, "pub: which endpoint?"},
        {{"sub", ">tcp://127.0.0.1:1", "--data", "x"},
         "option '--data' does not apply to sub"},
        {{"push", ">tcp://127.0.0.1:1", "--topic", "x"},
         "option '--topic' does not apply to push"},
        {{"rep", ">tcp://127.0.0.1:1"}, "rep: how to answer?"},
        {{"rep", ">tcp://127.0.0.1:1", "--echo", "--data", "x"},
         "--echo and --data/--file"},
        {{"sub", ">tcp://127.0.0.1:1", "--format", "yaml"},
         "--format 'yaml': not one of text|quoted|hex|json|raw"},
        {{"push", ">tcp://127.0.0.1:1", "--format", "json"},
         "only --format raw"},
        {{"pull", ">tcp://127.0.0.1:1", "--timeout", "5parsecs"},
         "--timeout: '5parsecs' is not a duration"},
        {{"pull", ">tcp://127.0.0.1:1", "--count", "-1"},
         "pull: --count: '-1' is not a whole number from 0 to 2147483647"},
        {{"pub", ">tcp://127.0.0.1:1", "--wait", "2"}, "need --sync"},
        {{"pub", ">tcp://127.0.0.1:1", "--sync", "5561"},
         "--sync: endpoint '5561' has no transport"},
        {{"pull", "5559"}, "endpoint '5559' has no transport"},
        {{"pull", "tcp://*:5559"}, "did you mean 'tcp://127.0.0.1:5559'?"},
        {{"push", ">tcp://127.0.0.1:1", "--file", "/nonexistent/zrelay"},
         "cannot read '/nonexistent/zrelay'"},
        {{"router", ">tcp://127.0.0.1:1", "--data", "x"},
         "needs the peer's identity"},
        {{"sub", ">tcp://127.0.0.1:1", "--frobnicate"},
         "unknown option '--frobnicate'"},
        {{"sub", ">tcp://127.0.0.1:1", "--count"}, "'--count' needs a value"},
        {{"push", ">tcp://127.0.0.1:1", "--frames-sep", ""}, "--frames-sep"},
        {{"push", ">tcp://127.0.0.1:1", "--format", "raw", "--data", "x",
          "--file", "/etc/hostname"},
         "one --file, and no --data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[12] = {ZRELAY_BIN};
        for (int k = 0; cases[i].args[k]; k++) {
            argv[k + 1] = cases[i].args[k];
        }
        zrt_proc_t *p = zrt_proc_start(argv, NULL);
        zrt_proc_expect_exit(p, 2, ZRT_DEADLINE_MS);
        S_CONTAINS(zrt_proc_stderr(p), cases[i].says);
        ZR_STREQ(zrt_proc_stdout(p), "");
        zrt_proc_destroy(&p);
    }
    /* A raw file that is not raw is refused before anything is sent. */
    char path[64];
    s_temp_file(path, sizeof path, "hello\n", 6);
    zrt_proc_t *p = s_run(2, "push", ">tcp://127.0.0.1:1", "--format", "raw",
                          "--file", path, NULL);
    S_CONTAINS(zrt_proc_stderr(p), "not the raw format");
    zrt_proc_destroy(&p);
    unlink(path);
    /* A runtime failure is 1: the port is taken. */
    void *ctx = zmq_ctx_new();
    void *pull = zrt_socket(ctx, ZMQ_PULL);
    char ep[256], bind[300];
    zrt_bind(pull, "tcp://127.0.0.1:*", ep, sizeof ep);
    snprintf(bind, sizeof bind, "@%s", ep);
    p = s_run(1, "pull", bind, NULL);
    S_CONTAINS(zrt_proc_stderr(p), "cannot bind");
    zrt_proc_destroy(&p);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

/* pub -> forwarder -> three subs with topics. The publisher waits at the
 * forwarder's sync endpoint for the three subscriptions (--sync --wait
 * 3), so every subscriber gets every message of its topic: no sleeps. */
static void
test_pubsub_sync(void)
{
    s_device_t fw;
    s_device_start(&fw, "forwarder", "--sync", "@tcp://127.0.0.1:*", NULL);
    ZR_CHECK(fw.sync[0]);
    char back[300], front[300];
    snprintf(back, sizeof back, ">%s", fw.back);
    snprintf(front, sizeof front, ">%s", fw.front);
    zrt_proc_t *a = s_start("sub", back, "--topic", "A", "--count", "3",
                            "--timeout", "10s", NULL);
    zrt_proc_t *b = s_start("sub", back, "--topic", "B", "--count", "2",
                            "--format", "json", "--timeout", "10s", NULL);
    zrt_proc_t *all = s_start("sub", back, "--count", "5", "--format", "quoted",
                              "--frames-sep", " ", "--timeout", "10s", NULL);
    int in;
    zrt_proc_t *pub =
        s_start_stdin(&in, "pub", front, "--sync", fw.sync, "--wait", "3",
                      "--frames-sep", "|", "--timeout", "10s", NULL);
    s_feed_str(in, "A|one\nB|two\nA|three\nB|fo\xffur\nA|five");
    zrt_proc_expect_exit(pub, 0, ZRT_DEADLINE_MS);
    zrt_proc_expect_exit(a, 0, ZRT_DEADLINE_MS);
    zrt_proc_expect_exit(b, 0, ZRT_DEADLINE_MS);
    zrt_proc_expect_exit(all, 0, ZRT_DEADLINE_MS);
    s_stdout_is(a, "A|one\nA|three\nA|five\n");
    s_stdout_is(b, "{\"frames\":[{\"text\":\"B\"},{\"text\":\"two\"}]}\n"
                   "{\"frames\":[{\"text\":\"B\"},{\"base64\":\"Zm//dXI=\"}]}"
                   "\n");
    s_stdout_is(all, "\"A\" \"one\"\n\"B\" \"two\"\n\"A\" \"three\"\n"
                     "\"B\" \"fo\\xffur\"\n\"A\" \"five\"\n");
    zrt_proc_destroy(&pub);
    zrt_proc_destroy(&a);
    zrt_proc_destroy(&b);
    zrt_proc_destroy(&all);
    s_device_stop(&fw);
}

/* req -> queue -> rep --echo: each request printed by rep, each reply by
 * req, a multipart one too; then req -> rep directly, rep exiting right
 * after its reply, which must still arrive. */
static void
test_reqrep_echo(void)
{
    s_device_t q;
    s_device_start(&q, "queue", NULL);
    char back[300], front[300];
    snprintf(back, sizeof back, ">%s", q.back);
    snprintf(front, sizeof front, ">%s", q.front);
    zrt_proc_t *rep = s_start("rep", back, "--echo", "--count", "4",
                              "--timeout", "10s", NULL);
    int in;
    zrt_proc_t *req =
        s_start_stdin(&in, "req", front, "--timeout", "10s", NULL);
    s_feed_str(in, "one\ntwo\n\nthree\n");
    zrt_proc_expect_exit(req, 0, ZRT_DEADLINE_MS);
    s_stdout_is(req, "one\ntwo\n\nthree\n");
    zrt_proc_destroy(&req);
    zrt_proc_expect_exit(rep, 0, ZRT_DEADLINE_MS);
    s_stdout_is(rep, "one\ntwo\n\nthree\n");
    zrt_proc_destroy(&rep);

    /* Multipart, and a reply of rep's own. */
    rep = s_start("rep", back, "--data", "re", "--data", "ply", "--count", "1",
                  "--timeout", "10s", NULL);
    req = s_run(0, "req", front, "-d", "a", "-d", "", "-d", "b", "--format",
                "hex", "--timeout", "10s", NULL);
    s_stdout_is(req, "7265|706c79\n");
    zrt_proc_expect_exit(rep, 0, ZRT_DEADLINE_MS);
    s_stdout_is(rep, "a||b\n");
    zrt_proc_destroy(&req);
    zrt_proc_destroy(&rep);
    s_device_stop(&q);

    /* Directly, with a rep that exits right after its reply: the reply
     * must not be lost on the way in (as ZMQ_IMMEDIATE on the req would
     * make it, now and then). */
    for (int i = 0; i < 10; i++) {
        char bound[256];
        rep = s_start("rep", "@tcp://127.0.0.1:*", "--data", "pong", "--count",
                      "1", "--timeout", "10s", NULL);
        s_bound(rep, bound, sizeof bound);
        req = s_run(0, "req", bound, "--data", "ping", "--timeout", "5s", NULL);
        s_stdout_is(req, "pong\n");
        zrt_proc_expect_exit(rep, 0, ZRT_DEADLINE_MS);
        s_stdout_is(rep, "ping\n");
        zrt_proc_destroy(&req);
        zrt_proc_destroy(&rep);
    }
}

/* push -> streamer -> pull: 10,000 lines from push's stdin, counted and
 * checked in order at pull's stdout. */
static void
test_push_pull_10000(void)
{
    enum { N = 10000 };
    s_device_t st;
    s_device_start(&st, "streamer", NULL);
    char back[300], front[300], count[16];
    snprintf(back, sizeof back, ">%s", st.back);
    snprintf(front, sizeof front, ">%s", st.front);
    snprintf(count, sizeof count, "%d", N);
    zrt_proc_t *pull =
        s_start("pull", back, "--count", count, "--timeout", "10s", NULL);
    static char lines[N * 16];
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        len += (size_t) snprintf(lines + len, sizeof lines - len, "line %05d\n",
                                 i);
    }
    int in;
    zrt_proc_t *push =
        s_start_stdin(&in, "push", front, "--timeout", "10s", NULL);
    s_feed(in, lines, len, pull);
    zrt_proc_expect_exit(push, 0, ZRT_DEADLINE_MS);
    zrt_proc_expect_exit(pull, 0, ZRT_DEADLINE_MS);
    ZR_EQ(pull->text[0].len, len);
    ZR_CHECKF(memcmp(zrt_proc_stdout(pull), lines, len) == 0,
              "pull's lines differ from those pushed");
    ZR_STREQ(zrt_proc_stderr(push), "");
    zrt_proc_destroy(&push);
    zrt_proc_destroy(&pull);
    s_device_stop(&st);
}

/* Frames whose UTF-8 validity --format json must judge right: text when
 * valid (U+0000 included), base64 otherwise. */
static const struct {
    s_frame_t frame;
    bool text;
} s_utf8_cases[] = {
    {S_F(""), true},
    {S_F("plain ascii \"quoted\" \\ \t\n"), true},
    {S_F("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), true},
    {S_F("a\0b"), true},
    {S_F("\xed\x9f\xbf"), true},      /* U+D7FF, below the surrogates */
    {S_F("\xee\x80\x80"), true},      /* U+E000, above them */
    {S_F("\xef\xbf\xbf"), true},      /* U+FFFF */
    {S_F("\xf4\x8f\xbf\xbf"), true},  /* U+10FFFF, the last */
    {S_F("\xc0\x80"), false},         /* overlong NUL */
    {S_F("\xc1\xbf"), false},         /* overlong */
    {S_F("\xe0\x80\xaf"), false},     /* overlong '/' */
    {S_F("\xf0\x8f\xbf\xbf"), false}, /* overlong U+FFFF */
    {S_F("\xed\xa0\x80"), false},     /* U+D800, a surrogate */
    {S_F("\xed\xbf\xbf"), false},     /* U+DFFF */
    {S_F("\xf4\x90\x80\x80"), false}, /* U+110000 */
    {S_F("\xc3"), false},             /* truncated */
    {S_F("ok\xe2\x82"), false},       /* truncated at the end */
    {S_F("\x80"), false},             /* a lone continuation byte */
    {S_F("\xff\xfe"), false},
    {S_F("\xf8\x88\x80\x80\x80"), false}, /* 5-byte form */
};
#define S_NCASES (sizeof s_utf8_cases / sizeof s_utf8_cases[0])

/* The messages of the byte-exact test: every UTF-8 case as a frame of one
 * multipart message, each also alone, a 200 KB binary frame, an empty
 * one. */
typedef struct {
    s_frame_t frames[S_NCASES];
    int n;
} s_msg_t;

static int
s_binary_msgs(s_msg_t *msgs)
{
    static unsigned char big[200 * 1024];
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (unsigned char) (i * 7 + i / 256);
    }
    int n = 0;
    msgs[n].n = (int) S_NCASES;
    for (size_t i = 0; i < S_NCASES; i++) {
        msgs[n].frames[i] = s_utf8_cases[i].frame;
    }
    n++;
    for (size_t i = 0; i < S_NCASES; i++) {
        msgs[n].frames[0] = s_utf8_cases[i].frame;
        msgs[n++].n = 1;
    }
    msgs[n].frames[0] = (s_frame_t){(const char *) big, sizeof big};
    msgs[n].frames[1] = (s_frame_t) S_F("\0");
    msgs[n++].n = 2;
    return n;
}

/* A PULL of this program's, bound; the client connects to CONNECT. */
static void *
s_bound_socket(void *ctx, int type, char *connect, size_t len)
{
    void *s = zrt_socket(ctx, type);
    char ep[256];
    zrt_bind(s, "tcp://127.0.0.1:*", ep, sizeof ep);
    snprintf(connect, len, ">%s", ep);
    zrt_setint(s, ZMQ_SNDTIMEO, ZRT_DEADLINE_MS);
    return s;
}

/* Receive the messages MSGS (N) on PULL, byte for byte. */
static void
s_expect_msgs(void *pull, const s_msg_t *msgs, int n)
{
    for (int m = 0; m < n; m++) {
        for (int i = 0; i < msgs[m].n; i++) {
            ZR_CHECKF(zrt_readable(pull, ZRT_DEADLINE_MS),
                      "message %d frame %d did not come", m, i);
            zmq_msg_t f;
            zmq_msg_init(&f);
            ZR_CHECK(zmq_msg_recv(&f, pull, 0) >= 0);
            ZR_CHECKF(zmq_msg_size(&f) == msgs[m].frames[i].len &&
                          memcmp(zmq_msg_data(&f), msgs[m].frames[i].data,
                                 msgs[m].frames[i].len) == 0,
                      "message %d frame %d differs (%zu bytes, want %zu)", m, i,
                      zmq_msg_size(&f), msgs[m].frames[i].len);
            ZR_EQ(zmq_msg_more(&f), i + 1 < msgs[m].n);
            zmq_msg_close(&f);
        }
    }
}

/* Binary multipart frames through `pull --format raw` and `--format json`
 * come out byte-exact; the raw output, replayed by `push --format raw`
 * from a file and from stdin, arrives byte-exact again. */
static void
test_binary_raw_json(void)
{
    static s_msg_t msgs[S_NCASES + 4];
    int n = s_binary_msgs(msgs);
    char count[16];
    snprintf(count, sizeof count, "%d", n);
    void *ctx = zmq_ctx_new();
    char connect[300];
    void *push = s_bound_socket(ctx, ZMQ_PUSH, connect, sizeof connect);

    /* raw */
    zrt_proc_t *p = s_start("pull", connect, "--format", "raw", "--count",
                            count, "--timeout", "10s", NULL);
    for (int m = 0; m < n; m++) {
        s_send_frames(push, msgs[m].frames, msgs[m].n);
    }
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    const unsigned char *raw = (const unsigned char *) zrt_proc_stdout(p);
    size_t rawlen = p->text[0].len, pos = 0;
    for (int m = 0; m < n; m++) {
        s_check_raw(raw, rawlen, &pos, msgs[m].frames, msgs[m].n, m);
    }
    ZR_EQ(pos, rawlen);
    char path[64];
    s_temp_file(path, sizeof path, raw, rawlen);

    /* json */
    zrt_proc_t *j = s_start("pull", connect, "--format", "json", "--count",
                            count, "--timeout", "10s", NULL);
    for (int m = 0; m < n; m++) {
        s_send_frames(push, msgs[m].frames, msgs[m].n);
    }
    zrt_proc_expect_exit(j, 0, ZRT_DEADLINE_MS);
    char *text = strdup(zrt_proc_stdout(j));
    ZR_CHECK(text != NULL);
    static unsigned char decoded[300 * 1024];
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    for (int m = 0; m < n; m++, line = strtok_r(NULL, "\n", &save)) {
        ZR_CHECKF(line, "json: %d lines, want %d", m, n);
        cJSON *root = cJSON_Parse(line);
        ZR_CHECKF(root, "json: line %d is not JSON: %s", m, line);
        cJSON *frames = cJSON_GetObjectItemCaseSensitive(root, "frames");
        ZR_CHECKF(cJSON_IsArray(frames) &&
                      cJSON_GetArraySize(frames) == msgs[m].n,
                  "json: line %d: %s", m, line);
        for (int i = 0; i < msgs[m].n; i++) {
            const s_frame_t *want = &msgs[m].frames[i];
            cJSON *f = cJSON_GetArrayItem(frames, i);
            cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "text");
            cJSON *b = cJSON_GetObjectItemCaseSensitive(f, "base64");
            ZR_CHECKF(cJSON_GetArraySize(f) == 1 &&
                          (cJSON_IsString(t) || cJSON_IsString(b)),
                      "json: line %d frame %d: %s", m, i, line);
            for (size_t c = 0; c < S_NCASES; c++) {
                if (s_utf8_cases[c].frame.data == want->data) {
                    ZR_CHECKF(s_utf8_cases[c].text == cJSON_IsString(t),
                              "json: frame %d of line %d as %s: %s", i, m,
                              t ? "text" : "base64", line);
                }
            }
            if (t && memchr(want->data, 0, want->len)) {
                /* cJSON's strings end at a NUL: compare the escapes (these
                 * frames are otherwise plain ASCII). */
                char esc[64] = "{\"text\":\"";
                for (size_t k = 0; k < want->len; k++) {
                    size_t at = strlen(esc);
                    if (want->data[k]) {
                        esc[at] = want->data[k];
                        esc[at + 1] = 0;
                    }
                    else {
                        snprintf(esc + at, sizeof esc - at, "\\u0000");
                    }
                }
                strcat(esc, "\"}");
                S_CONTAINS(line, esc);
            }
            else if (t) {
                ZR_CHECKF(strlen(t->valuestring) == want->len &&
                              memcmp(t->valuestring, want->data, want->len) ==
                                  0,
                          "json: line %d frame %d: text differs", m, i);
            }
            else {
                long len = s_base64_decode(b->valuestring, decoded);
                ZR_CHECKF(len == (long) want->len &&
                              memcmp(decoded, want->data, want->len) == 0,
                          "json: line %d frame %d: base64 differs", m, i);
            }
        }
        cJSON_Delete(root);
    }
    ZR_CHECKF(!line, "json: more lines than messages: %s", line);
    free(text);
    zrt_proc_destroy(&j);

    /* Replay the raw output: from the file, then from stdin. */
    void *pull = s_bound_socket(ctx, ZMQ_PULL, connect, sizeof connect);
    zrt_proc_t *r = s_start("push", connect, "--format", "raw", "--file", path,
                            "--timeout", "10s", NULL);
    s_expect_msgs(pull, msgs, n);
    zrt_proc_expect_exit(r, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&r);
    int in;
    r = s_start_stdin(&in, "push", connect, "--format", "raw", "--timeout",
                      "10s", NULL);
    s_feed(in, raw, rawlen, NULL);
    s_expect_msgs(pull, msgs, n);
    zrt_proc_expect_exit(r, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&r);
    /* Cut short, the same input is refused: exit 1 after what came. */
    r = s_start_stdin(&in, "push", connect, "--format", "raw", "--timeout",
                      "10s", NULL);
    s_feed(in, raw, rawlen - 1, NULL);
    s_expect_msgs(pull, msgs, n - 1);
    zrt_proc_expect_exit(r, 1, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stderr(r), "raw input ends inside a message");
    zrt_proc_destroy(&r);

    unlink(path);
    zrt_proc_destroy(&p);
    zmq_close(push);
    zmq_close(pull);
    zmq_ctx_term(ctx);
}

/* --timeout: a receiver that gets nothing (or too little) exits 3, one
 * that gets its --count first exits 0; req without a reply and push
 * without a peer exit 3 too. */
static void
test_timeouts(void)
{
    void *ctx = zmq_ctx_new();
    char connect[300];
    void *pub = s_bound_socket(ctx, ZMQ_PUB, connect, sizeof connect);
    int64_t start = zrt_now_ms();
    zrt_proc_t *p = s_run(3, "sub", connect, "--timeout", "300ms", NULL);
    ZR_CHECK(zrt_now_ms() - start >= 300);
    S_CONTAINS(zrt_proc_stderr(p), "sub: no message within 300ms (--timeout)");
    ZR_STREQ(zrt_proc_stdout(p), "");
    zrt_proc_destroy(&p);
    zmq_close(pub);

    void *push = s_bound_socket(ctx, ZMQ_PUSH, connect, sizeof connect);
    p = s_start("pull", connect, "--count", "2", "--timeout", "300ms", NULL);
    ZR_SEND(push, "only one");
    zrt_proc_expect_exit(p, 3, ZRT_DEADLINE_MS);
    s_stdout_is(p, "only one\n");
    S_CONTAINS(zrt_proc_stderr(p), "got 1 of 2");
    zrt_proc_destroy(&p);
    p = s_start("pull", connect, "--count", "1", "--timeout", "5s", NULL);
    ZR_SEND(push, "enough");
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    s_stdout_is(p, "enough\n");
    zrt_proc_destroy(&p);
    zmq_close(push);

    /* A server that never answers. */
    void *router = s_bound_socket(ctx, ZMQ_ROUTER, connect, sizeof connect);
    p = s_run(3, "req", connect, "--data", "hello?", "--timeout", "300ms",
              NULL);
    S_CONTAINS(zrt_proc_stderr(p), "req: no reply within 300ms");
    zrt_proc_destroy(&p);
    p = s_run(3, "rep", connect, "--echo", "--timeout", "200ms", NULL);
    S_CONTAINS(zrt_proc_stderr(p), "rep: no request within 200ms");
    zrt_proc_destroy(&p);
    zmq_close(router);

    /* Nobody to push to: the port was just released. */
    void *gone = s_bound_socket(ctx, ZMQ_PULL, connect, sizeof connect);
    zmq_close(gone);
    p = s_run(3, "push", connect, "--data", "x", "--timeout", "300ms", NULL);
    S_CONTAINS(zrt_proc_stderr(p), "push: could not send for 300ms");
    zrt_proc_destroy(&p);
    zmq_ctx_term(ctx);
}

/* SIGINT or SIGTERM end a receiver cleanly: 0 without --count, 128 + the
 * signal when it stopped short of its --count. */
static void
test_signals(void)
{
    char bound[256];
    zrt_proc_t *p = s_start("pull", "@tcp://127.0.0.1:*", NULL);
    s_bound(p, bound, sizeof bound);
    void *ctx = zmq_ctx_new();
    void *push = zrt_socket(ctx, ZMQ_PUSH);
    zrt_connect(push, bound);
    ZR_SEND(push, "before the signal");
    char line[64];
    ZR_CHECK(zrt_proc_read_line(p, line, sizeof line, ZRT_DEADLINE_MS));
    ZR_STREQ(line, "before the signal");
    zrt_proc_signal(p, SIGINT);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&p);
    zmq_close(push);

    p = s_start("sub", "@tcp://127.0.0.1:*", "--count", "5", NULL);
    s_bound(p, bound, sizeof bound);
    zrt_proc_signal(p, SIGTERM);
    zrt_proc_expect_exit(p, 128 + SIGTERM, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&p);
    zmq_ctx_term(ctx);
}

/* pub --sync at a sync endpoint that takes the request and never
 * answers: SIGINT while pub waits there ends it by exit(), 128 + SIGINT,
 * with a line saying the wait was interrupted, not by the signal. */
static void
test_sync_interrupted(void)
{
    void *ctx = zmq_ctx_new();
    char front[300], sync[300], frame[64];
    void *xsub = s_bound_socket(ctx, ZMQ_XSUB, front, sizeof front);
    void *router = s_bound_socket(ctx, ZMQ_ROUTER, sync, sizeof sync);
    zrt_proc_t *p = s_start("pub", front, "--sync", sync, "--wait", "2",
                            "--data", "never sent", NULL);
    /* The WAIT request has come: pub is in zr_sync_wait now. */
    const char *want[] = {NULL, "", "WAIT", "2"};
    for (int i = 0; i < 4; i++) {
        ZR_CHECKF(zrt_readable(router, ZRT_DEADLINE_MS),
                  "no sync request; stderr:\n%s", zrt_proc_stderr(p));
        int n = zmq_recv(router, frame, sizeof frame - 1, 0);
        ZR_CHECK(n >= 0);
        frame[n < (int) sizeof frame ? n : (int) sizeof frame - 1] = 0;
        if (want[i]) {
            ZR_STREQ(frame, want[i]);
        }
    }
    zrt_proc_signal(p, SIGINT);
    zrt_proc_expect_exit(p, 128 + SIGINT, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stderr(p), "pub: --sync ");
    S_CONTAINS(zrt_proc_stderr(p), "interrupted by SIGINT");
    ZR_STREQ(zrt_proc_stdout(p), "");
    zrt_proc_destroy(&p);
    zmq_close(router);
    zmq_close(xsub);
    zmq_ctx_term(ctx);
}

/* Issue 12, item 5: the client verbs connect, so their hints must keep
 * a connect a connect: a bare port or a '*' host suggests
 * tcp://127.0.0.1:PORT, never a bind; no endpoint suggests the side the
 * verb meets (sub: a forwarder's backend). */
static void
test_endpoint_hints(void)
{
    static const struct {
        const char *args[5];
        const char *says;
    } cases[] = {
        {{"sub", "5560"},
         "endpoint '5560' has no transport; did you mean "
         "'tcp://127.0.0.1:5560'?"},
        {{"sub", "tcp://*:5560"},
         "cannot connect to 'tcp://*:5560': '*' and port 0 only make sense "
         "for bind; did you mean 'tcp://127.0.0.1:5560'?"},
        {{"pub", ">tcp://127.0.0.1:1", "--sync", "5561"},
         "--sync: endpoint '5561' has no transport; did you mean "
         "'tcp://127.0.0.1:5561'?"},
        {{"sub"}, "sub: which endpoint? (for example '>tcp://127.0.0.1:5560'"},
        {{"pub"}, "pub: which endpoint? (for example '>tcp://127.0.0.1:5559'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[6] = {ZRELAY_BIN};
        for (int k = 0; cases[i].args[k]; k++) {
            argv[k + 1] = cases[i].args[k];
        }
        zrt_proc_t *p = zrt_proc_start(argv, NULL);
        zrt_proc_expect_exit(p, 2, ZRT_DEADLINE_MS);
        S_CONTAINS(zrt_proc_stderr(p), cases[i].says);
        ZR_CHECKF(!strstr(zrt_proc_stderr(p), "'@") &&
                      !strstr(zrt_proc_stderr(p), "mean 'tcp://*:"),
                  "'%s' suggests a bind: %s", p->cmdline, zrt_proc_stderr(p));
        zrt_proc_destroy(&p);
    }
}

/* Issue 12, item 4: the client verbs' flags take the device verbs'
 * grammar, --flag, --no-flag or --flag=BOOL, and the help shows it. */
static void
test_flag_grammar(void)
{
    zrt_proc_t *p =
        s_run(2, "rep", ">tcp://127.0.0.1:1", "--echo", "true", NULL);
    S_CONTAINS(zrt_proc_stderr(p),
               "rep: --echo takes no separate value: write --echo, "
               "--no-echo or --echo=true");
    zrt_proc_destroy(&p);
    /* Switched off again: then rep does not know how to answer. */
    const char *off[] = {"--no-echo", "--echo=no", "--echo=0"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        p = s_run(2, "rep", ">tcp://127.0.0.1:1", "--echo", off[i], NULL);
        S_CONTAINS(zrt_proc_stderr(p), "rep: how to answer?");
        zrt_proc_destroy(&p);
    }
    p = s_run(2, "rep", ">tcp://127.0.0.1:1", "--echo=perhaps", NULL);
    S_CONTAINS(zrt_proc_stderr(p), "rep: --echo: 'perhaps' is not a boolean");
    zrt_proc_destroy(&p);
    p = s_run(2, "rep", ">tcp://127.0.0.1:1", "--echo=yes", "--data", "x",
              NULL);
    S_CONTAINS(zrt_proc_stderr(p), "--echo and --data/--file");
    zrt_proc_destroy(&p);
    p = s_run(0, "rep", "--help", NULL);
    S_CONTAINS(zrt_proc_stdout(p), "--echo[=BOOL]");
    S_CONTAINS(zrt_proc_stdout(p), "--no-echo");
    zrt_proc_destroy(&p);
}

/* Issue 12, item 12: --interval without --count repeats the --data
 * message for ever (as nngcat does), until a signal (exit 0: it had no
 * end); --count 0 is refused, never a silent nothing. Item 6: --count's
 * message names the verb and the range zrelay(1) gives for N. */
static void
test_repeat(void)
{
    void *ctx = zmq_ctx_new();
    char connect[300];
    void *sub = s_bound_socket(ctx, ZMQ_SUB, connect, sizeof connect);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zrt_proc_t *p =
        s_start("pub", connect, "--data", "tick", "--interval", "20ms", NULL);
    for (int i = 0; i < 3; i++) {
        ZR_RECV(sub, "tick"); /* the first ones may go before the SUB */
    }
    zrt_proc_signal(p, SIGTERM);
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    zrt_proc_destroy(&p);
    zmq_close(sub);
    zmq_ctx_term(ctx);

    p = s_run(2, "pub", ">tcp://127.0.0.1:1", "--data", "x", "--count", "0",
              NULL);
    S_CONTAINS(zrt_proc_stderr(p), "pub: --count 0 would send nothing");
    zrt_proc_destroy(&p);
    p = s_run(2, "pub", ">tcp://127.0.0.1:1", "--count", "-1", NULL);
    S_CONTAINS(zrt_proc_stderr(p),
               "zrelay: pub: --count: '-1' is not a whole number from 0 to "
               "2147483647");
    zrt_proc_destroy(&p);
}

/* Issue 12, item 7: a broker's error reply ("ZRELAY-ERROR CODE text",
 * docs/BROKER.md) is printed like any reply, said on stderr, and makes
 * req exit 4, so that a script notices; the other requests still go. */
static void
test_req_error_reply(void)
{
    void *ctx = zmq_ctx_new();
    char connect[300];
    void *rep = s_bound_socket(ctx, ZMQ_REP, connect, sizeof connect);
    zrt_proc_t *p =
        s_start("req", connect, "--data", "hello", "--count", "2", NULL);
    ZR_RECV(rep, "hello");
    ZR_SEND(rep, "ZRELAY-ERROR busy 100 requests already wait");
    ZR_RECV(rep, "hello");
    ZR_SEND(rep, "world");
    zrt_proc_expect_exit(p, 4, ZRT_DEADLINE_MS);
    s_stdout_is(p, "ZRELAY-ERROR busy 100 requests already wait\nworld\n");
    S_CONTAINS(zrt_proc_stderr(p),
               "req: 1 error reply (ZRELAY-ERROR busy 100 requests already "
               "wait)");
    zrt_proc_destroy(&p);
    zmq_close(rep);
    zmq_ctx_term(ctx);
}

/* Read one request on ROUTER (identity, "", body): it must be BODY; it
 * is not answered. */
static void
s_swallow(void *router, const char *body)
{
    ZR_CHECKF(zrt_readable(router, ZRT_DEADLINE_MS), "no request came");
    char id[256], empty[8];
    ZR_CHECK(zmq_recv(router, id, sizeof id, 0) >= 0);
    ZR_CHECK(zmq_recv(router, empty, sizeof empty, 0) == 0);
    ZR_RECV(router, body);
}

/* Issue 17: req --retries fails over as the Guide's Lazy Pirate client:
 * a request unanswered within --timeout goes again, on a new socket, to
 * the next endpoint (a high-availability pair's other node), and the
 * requests after it stay there; with the retries used up, exit 3. */
static void
test_req_retries(void)
{
    void *ctx = zmq_ctx_new();
    char dead[300], live[300];
    void *hole = s_bound_socket(ctx, ZMQ_ROUTER, dead, sizeof dead);
    void *rep = s_bound_socket(ctx, ZMQ_REP, live, sizeof live);
    zrt_proc_t *p = s_start("req", "--retries", "2", "--timeout", "300ms", dead,
                            live, "--data", "hello", "--count", "2", NULL);
    s_swallow(hole, "hello");
    ZR_RECV(rep, "hello");
    ZR_SEND(rep, "one");
    ZR_RECV(rep, "hello");
    ZR_SEND(rep, "two");
    zrt_proc_expect_exit(p, 0, ZRT_DEADLINE_MS);
    s_stdout_is(p, "one\ntwo\n");
    char want[400];
    snprintf(want, sizeof want,
             "req: no reply within 300ms (--timeout); sending it again to "
             "%s (retry 1 of 2)",
             live + 1);
    S_CONTAINS(zrt_proc_stderr(p), want);
    ZR_CHECK(!zrt_readable(hole, 0)); /* one request, swallowed, no more */
    zrt_proc_destroy(&p);

    /* The retries used up: the first endpoint again, then exit 3. */
    p = s_start("req", "--retries", "1", "--timeout", "200ms", dead, "--data",
                "again", "--linger", "0", NULL);
    s_swallow(hole, "again");
    s_swallow(hole, "again");
    zrt_proc_expect_exit(p, 3, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stderr(p), "(retry 1 of 1)");
    S_CONTAINS(zrt_proc_stderr(p), "req: no reply within 200ms (--timeout)");
    zrt_proc_destroy(&p);
    p = s_run(2, "req", "--retries", "1", dead, "--data", "x", NULL);
    S_CONTAINS(zrt_proc_stderr(p), "--retries needs --timeout");
    zrt_proc_destroy(&p);
    zmq_close(hole);
    zmq_close(rep);
    zmq_ctx_term(ctx);
}

/* A ROUTER at SYNC takes pub's WAIT request: its frames after the
 * identity into FRAMES (5 of 64 bytes: "", WAIT, N, prefix, ms); the
 * identity into ID. */
static void
s_take_wait(void *router, char frames[5][64], zmq_msg_t *id)
{
    ZR_CHECKF(zrt_readable(router, ZRT_DEADLINE_MS), "no sync request");
    zmq_msg_init(id);
    ZR_CHECK(zmq_msg_recv(id, router, 0) >= 0);
    for (int i = 0; i < 5; i++) {
        int n = zmq_recv(router, frames[i], 63, 0);
        ZR_CHECK(n >= 0);
        frames[i][n < 63 ? n : 63] = 0;
    }
}

/* Issue 12, item 3: pub --sync has a default deadline (10s, sent in the
 * WAIT request), and an endpoint that answers something else, or
 * nothing, is named as the likely cause, not "Protocol error". The
 * help's example does not hang against the default daemon. */
static void
test_sync_wrong_endpoint(void)
{
    void *ctx = zmq_ctx_new();
    char front[300], sync[300], frames[5][64];
    void *xsub = s_bound_socket(ctx, ZMQ_XSUB, front, sizeof front);
    void *router = s_bound_socket(ctx, ZMQ_ROUTER, sync, sizeof sync);
    zmq_msg_t id;

    /* No --timeout: the wait still has a deadline, 10 s. */
    zrt_proc_t *p = s_start("pub", front, "--sync", sync, "--data", "x", NULL);
    s_take_wait(router, frames, &id);
    ZR_STREQ(frames[1], "WAIT");
    ZR_STREQ(frames[4], "10000");
    /* An answer that is not a sync verdict: as a control endpoint or a
     * REP server would answer. */
    zmq_msg_send(&id, router, ZMQ_SNDMORE);
    zrt_send_str(router, "", ZMQ_SNDMORE);
    zrt_send_str(router, "ERROR: unknown command 'WAIT'", 0);
    zrt_proc_expect_exit(p, 1, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stderr(p), "did not answer like a forwarder's sync "
                                   "endpoint: is it one?");
    S_CONTAINS(zrt_proc_stderr(p), "zrelay run's embedded default");
    ZR_CHECKF(!strstr(zrt_proc_stderr(p), "Protocol error"), "%s",
              zrt_proc_stderr(p));
    zrt_proc_destroy(&p);

    /* No answer at all (a queue's frontend with no worker). */
    p = s_start("pub", front, "--sync", sync, "--data", "x", "--timeout",
                "200ms", NULL);
    s_take_wait(router, frames, &id);
    zmq_msg_close(&id);
    zrt_proc_expect_exit(p, 3, ZRT_DEADLINE_MS);
    S_CONTAINS(zrt_proc_stderr(p), "did not answer like a forwarder's sync "
                                   "endpoint: is it one?");
    zrt_proc_destroy(&p);
    zmq_close(router);
    zmq_close(xsub);
    zmq_ctx_term(ctx);

    p = s_run(0, "pub", "--help", NULL);
    S_CONTAINS(zrt_proc_stdout(p), "(default 10s)");
    S_CONTAINS(zrt_proc_stdout(p), "zrelay forwarder ");
    zrt_proc_destroy(&p);
}

ZR_TESTS = {
    {"help of every verb", test_help},
    {"usage errors: exit 2 and the cause", test_usage_errors},
    {"pub --sync -> forwarder -> sub with topics", test_pubsub_sync},
    {"req -> queue -> rep --echo", test_reqrep_echo},
    {"push -> streamer -> pull: 10,000 lines", test_push_pull_10000},
    {"binary multipart: --format raw and json byte-exact",
     test_binary_raw_json},
    {"--timeout: exit 3", test_timeouts},
    {"signals end a receiver cleanly", test_signals},
    {"pub --sync: SIGINT while it waits exits 130", test_sync_interrupted},
    {"endpoint hints keep a connect a connect", test_endpoint_hints},
    {"flags: --flag, --no-flag, --flag=BOOL", test_flag_grammar},
    {"--interval repeats for ever, --count 0 refused", test_repeat},
    {"req: an error reply exits 4", test_req_error_reply},
    {"req --retries: Lazy Pirate failover", test_req_retries},
    {"pub --sync: a default deadline, a wrong endpoint named",
     test_sync_wrong_endpoint},
    {NULL, NULL},
};
ZR_MAIN
