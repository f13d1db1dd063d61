/* cmd_client.c - `zrelay pub|sub|req|rep|push|pull|dealer|router|pair`:
 * a ZeroMQ socket of each type for the shell, to poke a broker without
 * writing a program (as nngcat, nats pub/sub or mosquitto_pub/sub do).
 * Messages in come from --data/--file or standard input; messages out are
 * printed in one of cli_format.c's formats.
 * SPDX-License-Identifier: MIT
 */
#include "cli.h"
#include "cli_format.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* What a verb does with its socket. */
typedef enum {
    S_SEND,  /* pub, push: send the input, then exit */
    S_RECV,  /* sub, pull: print what arrives */
    S_REQ,   /* req: send each message, print its reply */
    S_REP,   /* rep: print each request, answer it */
    S_DUPLEX /* dealer, router, pair: send the input, print what arrives */
} s_role_t;

typedef struct {
    const char *name;
    int type;
    s_role_t role;
    const char *what; /* the help's description */
    const char *example;
} s_verb_t;

static const s_verb_t s_verbs[] = {
    {"pub", ZMQ_PUB, S_SEND,
     "Publish messages on a PUB socket: to a forwarder's frontend, or to SUB "
     "sockets. A PUB drops what it sends before a subscription has reached "
     "it (ZeroMQ's slow joiner): a publisher that starts, sends and exits "
     "usually loses everything. Against a zrelay forwarder with a sync "
     "endpoint, --sync EP --wait N waits until N subscriptions have reached "
     "this PUB, so nothing is lost to them; otherwise --delay gives "
     "subscribers time, without a guarantee. A PUB also drops what a slow "
     "subscriber has no room for (see --hwm).",
     "zrelay pub '>tcp://127.0.0.1:5559' --sync tcp://127.0.0.1:5561 "
     "--wait 2 --data prices --data 42"},
    {"sub", ZMQ_SUB, S_RECV,
     "Receive messages on a SUB socket (from a forwarder's backend, or from "
     "PUB sockets) and print them.",
     "zrelay sub '>tcp://127.0.0.1:5560' --topic prices --format quoted"},
    {"req", ZMQ_REQ, S_REQ,
     "Send each message as a request on a REQ socket (to a queue's frontend, "
     "or to REP and ROUTER servers) and print each reply before sending the "
     "next.",
     "zrelay req '>tcp://127.0.0.1:5559' --data hello --timeout 2s"},
    {"rep", ZMQ_REP, S_REP,
     "Answer requests on a REP socket (at a queue's backend, or for REQ "
     "clients): print each request and reply with the --data/--file message "
     "or, with --echo, with the request itself.",
     "zrelay rep '>tcp://127.0.0.1:5560' --echo"},
    {"push", ZMQ_PUSH, S_SEND,
     "Send messages on a PUSH socket: to a streamer's frontend, or to PULL "
     "consumers. A PUSH waits until a peer is connected and has room, so "
     "nothing is dropped.",
     "seq 10000 | zrelay push '>tcp://127.0.0.1:5563'"},
    {"pull", ZMQ_PULL, S_RECV,
     "Receive messages on a PULL socket (from a streamer's backend, or from "
     "PUSH producers) and print them.",
     "zrelay pull '>tcp://127.0.0.1:5564' --count 10000 | wc -l"},
    {"dealer", ZMQ_DEALER, S_DUPLEX,
     "A DEALER socket: send the messages (to a queue's frontend, or to "
     "ROUTER servers; a REP server needs an empty first frame) without "
     "waiting for replies, and print every message that arrives.",
     "zrelay dealer '>tcp://127.0.0.1:5559' --identity client1 --data '' "
     "--data hello --count 1"},
    {"router", ZMQ_ROUTER, S_DUPLEX,
     "A ROUTER socket: print every message that arrives, its first frame "
     "the identity of the peer that sent it (in --format text as 0x and "
     "hex, unless it is printable); a message sent must start with the "
     "identity of the peer it is for (0x and hex is decoded). A message for "
     "a peer that is not connected is dropped with a warning (exit 1).",
     "zrelay router @tcp://127.0.0.1:5570 --frames-sep '|'"},
    {"pair", ZMQ_PAIR, S_DUPLEX,
     "A PAIR socket: send the messages to its one peer and print every "
     "message that arrives.",
     "zrelay pair @ipc:///tmp/pair.ipc"},
};

static const s_verb_t *
s_verb(int type)
{
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++) {
        if (s_verbs[i].type == type) {
            return &s_verbs[i];
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * Options.
 */

enum {
    OPT_DATA = 'd',
    OPT_FILE = 'f',
    OPT_COUNT = 'n',
    OPT_QUIET = 'q',
    OPT_VERBOSE = 'v',
    OPT_HELP = 'h',
    OPT_FRAMES_SEP = 300,
    OPT_INTERVAL,
    OPT_DELAY,
    OPT_TIMEOUT,
    OPT_SYNC,
    OPT_WAIT,
    OPT_SYNC_PREFIX,
    OPT_TOPIC,
    OPT_ECHO,
    OPT_IDENTITY,
    OPT_FORMAT,
    OPT_HWM,
    OPT_LINGER,
};

#define R(role) (1u << (role))
#define S_SENDING (R(S_SEND) | R(S_REQ) | R(S_DUPLEX))
#define S_PRINTING (R(S_RECV) | R(S_REQ) | R(S_REP) | R(S_DUPLEX))
#define S_ALL (S_SENDING | S_PRINTING)

typedef struct {
    int id;
    const char *flag; /* as the help shows it */
    unsigned roles;   /* the roles it applies to */
    const char *only; /* or only these verbs ("pub", "req dealer") */
} s_opt_t;

static const s_opt_t s_opts[] = {
    {OPT_DATA, "-d, --data TEXT", S_SENDING | R(S_REP), NULL},
    {OPT_FILE, "-f, --file PATH", S_SENDING | R(S_REP), NULL},
    {OPT_FRAMES_SEP, "--frames-sep SEP", S_ALL, NULL},
    {OPT_COUNT, "-n, --count N", S_ALL, NULL},
    {OPT_INTERVAL, "--interval D", S_SENDING, NULL},
    {OPT_DELAY, "--delay D", S_SENDING, NULL},
    {OPT_TIMEOUT, "--timeout D", S_ALL, NULL},
    {OPT_SYNC, "--sync EP", 0, "pub"},
    {OPT_WAIT, "--wait N", 0, "pub"},
    {OPT_SYNC_PREFIX, "--sync-prefix P", 0, "pub"},
    {OPT_TOPIC, "--topic T", 0, "sub"},
    {OPT_ECHO, "--echo", 0, "rep"},
    {OPT_IDENTITY, "--identity ID", 0, "req dealer router"},
    {OPT_FORMAT, "--format F", S_ALL, NULL},
    {OPT_HWM, "--hwm N", S_ALL, NULL},
    {OPT_LINGER, "--linger D", S_SENDING | R(S_REP), NULL},
    {OPT_QUIET, "-q, --quiet", S_PRINTING, NULL},
    {OPT_VERBOSE, "-v, --verbose", S_ALL, NULL},
    {OPT_HELP, "-h, --help", S_ALL, NULL},
};

static const struct option s_long[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"file", required_argument, NULL, OPT_FILE},
    {"frames-sep", required_argument, NULL, OPT_FRAMES_SEP},
    {"count", required_argument, NULL, OPT_COUNT},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"sync", required_argument, NULL, OPT_SYNC},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"sync-prefix", required_argument, NULL, OPT_SYNC_PREFIX},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"echo", no_argument, NULL, OPT_ECHO},
    {"identity", required_argument, NULL, OPT_IDENTITY},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"hwm", required_argument, NULL, OPT_HWM},
    {"linger", required_argument, NULL, OPT_LINGER},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static bool
s_applies(const s_opt_t *o, const s_verb_t *v)
{
    if (o->roles & R(v->role)) {
        return true;
    }
    if (!o->only) {
        return false;
    }
    size_t len = strlen(v->name);
    for (const char *p = o->only; (p = strstr(p, v->name)); p += len) {
        if ((p == o->only || p[-1] == ' ') && (p[len] == ' ' || !p[len])) {
            return true;
        }
    }
    return false;
}

static const s_opt_t *
s_opt(int id)
{
    for (size_t i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++) {
        if (s_opts[i].id == id) {
            return &s_opts[i];
        }
    }
    return NULL;
}

/* The help line of option ID for verb V. */
static const char *
s_opt_help(int id, const s_verb_t *v, char *buf, size_t len)
{
    switch (id) {
    case OPT_DATA:
        return v->role == S_REP
                   ? "a frame of the reply; repeat for a multipart reply"
                   : "a frame of the message to send; repeat for a "
                     "multipart message (then standard input is not read)";
    case OPT_FILE:
        return v->role == S_REP
                   ? "the file's bytes as a frame of the reply (with "
                     "--format raw: the file holds the reply as one raw "
                     "message)"
                   : "the file's bytes as a frame, after the --data frames "
                     "given before it (with --format raw: the file holds raw "
                     "messages, all sent)";
    case OPT_FRAMES_SEP:
        return v->role == S_SEND
                   ? "split each line of standard input into frames at SEP"
               : v->role == S_RECV || v->role == S_REP
                   ? "join the frames printed with SEP (default: |)"
                   : "split each line of standard input into frames at SEP; "
                     "join the frames printed with SEP (default: |)";
    case OPT_COUNT:
        switch (v->role) {
        case S_SEND:
            return "send N messages: the --data/--file message N times "
                   "(default: once); from standard input or a raw file, at "
                   "most N (default: all)";
        case S_REQ:
            return "make N requests: the --data/--file message N times "
                   "(default: once); from standard input or a raw file, at "
                   "most N (default: all)";
        case S_RECV:
            return "exit 0 after N messages (default: run until stopped)";
        case S_REP:
            return "exit 0 after answering N requests (default: run until "
                   "stopped)";
        case S_DUPLEX:
            return "exit 0 after receiving N messages (default: run until "
                   "stopped; 0: exit once the input is sent)";
        }
        break;
    case OPT_INTERVAL: return "wait D between two messages sent (default: 0)";
    case OPT_DELAY:
        return v->type == ZMQ_PUB
                   ? "wait D before the first message (after --sync), to "
                     "give subscriptions time to arrive (default: 0)"
                   : "wait D before the first message (default: 0)";
    case OPT_TIMEOUT:
        switch (v->role) {
        case S_SEND:
            return v->type == ZMQ_PUB
                       ? "give up the --sync wait after D, exit 3 (default: "
                         "wait for ever)"
                       : "exit 3 when a message cannot be sent for D: no "
                         "peer, or no room (default: wait for ever)";
        case S_REQ:
            return "exit 3 when a reply does not come within D, or a "
                   "request cannot be sent for D (default: wait for ever)";
        case S_REP:
            return "exit 3 when no request comes for D (default: wait for "
                   "ever)";
        default:
            return "exit 3 when no message comes for D (default: wait for "
                   "ever)";
        }
    case OPT_SYNC:
        return "before sending, wait at the forwarder's sync endpoint EP "
               "(its --sync; a bare EP connects) until --wait subscriptions "
               "have reached this PUB (docs/SYNC.md); the PUB must be "
               "connected to that forwarder's frontend";
    case OPT_WAIT:
        return "with --sync: how many subscriptions to wait for (default: "
               "1; a SUB with two --topic counts twice)";
    case OPT_SYNC_PREFIX:
        return "with --sync: count only subscriptions overlapping topic "
               "prefix P (default: every subscription)";
    case OPT_TOPIC:
        return "subscribe to messages whose first frame starts with T; "
               "repeat for more (default: everything)";
    case OPT_ECHO: return "answer each request with the request itself";
    case OPT_IDENTITY:
        return "this socket's routing identity (ZMQ_ROUTING_ID), as a ROUTER "
               "peer sees it; 0x and hex for bytes";
    case OPT_FORMAT:
        if (v->role == S_SEND) {
            return "text (default): standard input is lines; raw: standard "
                   "input and --file hold raw messages (see FORMATS)";
        }
        snprintf(buf, len,
                 "how to print messages: text (default), quoted, hex, json "
                 "or raw (see FORMATS)%s",
                 v->role == S_REQ || v->role == S_DUPLEX
                     ? "; raw also reads raw input"
                     : "");
        return buf;
    case OPT_HWM:
        return "send and receive high-water mark, in messages (default: "
               "1000, libzmq's)";
    case OPT_LINGER:
        return "at exit, how long to deliver what is still queued "
               "(default: 2s); exit 1 when it was not enough";
    case OPT_QUIET:
        return v->role == S_REP ? "do not print the requests"
                                : "print no messages (they still count "
                                  "for --count)";
    case OPT_VERBOSE:
        return "more on stderr: endpoints, sync, counts (-vv: "
               "debug)";
    case OPT_HELP: return "this text";
    }
    return "";
}

static void
s_help(const s_verb_t *v, FILE *out)
{
    fprintf(out, "usage: zrelay %s ENDPOINT... [OPTIONS]\n\n", v->name);
    cli_wrap(out, v->what, 0, 0);
    fprintf(out, "\n");
    cli_wrap(out,
             "ENDPOINT: '>EP' connects, '@EP' binds, and a bare EP connects "
             "(clients usually connect; the device verbs bind theirs). A "
             "comma-separated list mixes both; quote '>' in a shell. "
             "@tcp://HOST:* binds a free port, printed on stderr.",
             0, 0);
    if ((1u << v->role) & S_SENDING) {
        fprintf(out, "\n");
        cli_wrap(out,
                 "Input: the message of the --data frames (and --file), "
                 "sent once or --count times; without --data or --file, each "
                 "line of standard input is a message (without its newline; "
                 "--frames-sep splits it into frames); with --format raw, "
                 "standard input and --file hold raw messages.",
                 0, 0);
    }
    if (v->type == ZMQ_ROUTER) {
        fprintf(out, "\n");
        cli_wrap(out,
                 "To answer a peer, give its identity as the first frame: "
                 "with --frames-sep '|', a line '0x0080000001|hello'.",
                 0, 0);
    }
    fprintf(out, "\nOptions:\n");
    char buf[512];
    for (size_t i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++) {
        const s_opt_t *o = &s_opts[i];
        if (!s_applies(o, v)) {
            continue;
        }
        char flag[64];
        snprintf(flag, sizeof flag, "  %s", o->flag);
        fputs(flag, out);
        int col = (int) strlen(flag);
        if (col > 23) {
            fputc('\n', out);
            col = 0;
        }
        cli_wrap(out, s_opt_help(o->id, v, buf, sizeof buf), 25, col);
    }
    fprintf(out, "\nDurations (D): 500ms, 2s, 1m; a bare number is "
                 "milliseconds.\n");
    {
        bool prints = (1u << v->role) & S_PRINTING;
        fprintf(out, "\nFORMATS%s:\n",
                prints ? " (how each message is printed; multipart "
                         "messages as one)"
                       : " (of the input)");
        static const char *formats[][2] = {
            {"text", "the frames as they are, joined by | (--frames-sep), "
                     "a newline after each message"},
            {"quoted", "each frame in double quotes, bytes other than "
                       "printable ASCII escaped: \\\" \\\\ \\n \\r \\t "
                       "\\xHH"},
            {"hex", "each frame in hex"},
            {"json", "one line per message, {\"frames\": [...]}, each frame "
                     "{\"text\": ...} when it is valid UTF-8, else "
                     "{\"base64\": ...}"},
            {"raw", "binary, per frame: 1 byte of flags (bit 0: more frames "
                    "follow), the length as 8 bytes big-endian, the bytes; "
                    "senders read it back with --format raw"},
        };
        for (size_t i = prints ? 0 : 4; i < sizeof formats / sizeof formats[0];
             i++) {
            fprintf(out, "  %-7s", formats[i][0]);
            cli_wrap(out, formats[i][1], 10, 9);
        }
    }
    fprintf(out, "\n");
    cli_wrap(out,
             "Exit status: 0 done (the input sent, --count reached); 1 a "
             "runtime failure (cannot bind, a send failed, --linger too "
             "short); 2 a usage error; 3 --timeout. SIGINT, SIGTERM or SIGHUP "
             "stop it cleanly: exit 0 when it had no end (no --count, "
             "standard input), else 128 + the signal (130 for Ctrl-C), and "
             "always 128 + the signal during pub's --sync wait (nothing was "
             "sent). A second signal ends it at once.",
             0, 0);
    fprintf(out, "\nExample:\n  %s\n", v->example);
}

/* ---------------------------------------------------------------------
 * Signals: the first ends the loop, or pub's --sync wait; a second, or
 * one while the exit waits for --linger, ends the process at once.
 */

static volatile sig_atomic_t s_signal;
static volatile sig_atomic_t s_hard;
/* Written by the handler and polled by the loop: a signal that comes
 * between the loop's look at s_signal and its zmq_poll still wakes it. */
static int s_wake[2] = {-1, -1};

static void
s_on_signal(int sig)
{
    if (s_signal || s_hard) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    s_signal = sig;
    if (s_wake[1] >= 0) {
        /* write(2) is async-signal-safe; a full pipe is woken already.
         * errno is kept for the code the signal interrupted. */
        int e = errno;
        ssize_t rc = write(s_wake[1], "w", 1);
        (void) rc;
        errno = e;
    }
}

static int
s_install_signals(void)
{
    if (pipe(s_wake) != 0) {
        return -1;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(s_wake[i], F_SETFL, O_NONBLOCK);
        fcntl(s_wake[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: zmq_poll and read return EINTR, the loop looks. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    return 0;
}

/* ---------------------------------------------------------------------
 * The verb.
 */

typedef struct {
    const s_verb_t *verb;
    /* options */
    int64_t count; /* -1: none */
    int64_t interval, delay, timeout, linger, hwm, wait;
    const char *timeout_text, *linger_text;
    const char *sync, *sync_prefix, *identity, *frames_sep;
    bool echo, quiet;
    cli_format_t format;
    int verbosity;
    /* state */
    cli_input_t src;
    cli_msg_t reply; /* rep, without --echo */
    void *ctx, *sock;
    zr_endpoints_t **eps;
    size_t neps;
    int64_t received, sent, dropped;
} s_client_t;

/* Whether it had an end of its own, which a signal cut short. */
static bool
s_bounded(const s_client_t *c)
{
    if (c->count >= 0) {
        return true;
    }
    bool sends = c->verb->role == S_SEND || c->verb->role == S_REQ;
    return sends && c->src.fd < 0;
}

static int
s_print(s_client_t *c, const cli_msg_t *msg)
{
    if (c->quiet) {
        return 0;
    }
    const char *sep = c->frames_sep ? c->frames_sep : "|";
    if (cli_format_write(stdout, c->format, msg, sep,
                         c->verb->type == ZMQ_ROUTER) != 0) {
        return cli_error(CLI_FAILURE, "%s: cannot write standard output: %s",
                         c->verb->name, strerror(errno));
    }
    return 0;
}

/* The identity of MSG's first frame, for a warning. */
static void
s_identity_text(const cli_msg_t *msg, char *out, size_t len)
{
    zmq_msg_t *f = (zmq_msg_t *) &msg->frames[0];
    const unsigned char *d = zmq_msg_data(f);
    size_t n = zmq_msg_size(f);
    bool printable = n > 0;
    for (size_t i = 0; i < n; i++) {
        printable = printable && d[i] > 0x20 && d[i] < 0x7f;
    }
    if (printable) {
        snprintf(out, len, "'%.*s'", (int) n, (const char *) d);
        return;
    }
    size_t o = (size_t) snprintf(out, len, "0x");
    for (size_t i = 0; i < n && o + 3 < len; i++) {
        o += (size_t) snprintf(out + o, len - o, "%02x", d[i]);
    }
}

/* Send what there is to send and print what comes, until done. Returns
 * the exit status. */
static int
s_loop(s_client_t *c)
{
    const s_verb_t *v = c->verb;
    s_role_t role = v->role;
    bool receives = role != S_SEND;
    cli_msg_t out = {NULL, 0, 0}, in = {NULL, 0, 0};
    bool pending = false;  /* OUT waits to be sent */
    bool awaiting = false; /* req: a request is out */
    bool src_done = c->src.kind == CLI_INPUT_NONE;
    bool need_input = false; /* the source waits for stdin */
    int64_t now = cli_now_ms();
    int64_t next_send = now + c->delay;
    int64_t activity = now;     /* the last receive (or send, see below) */
    int64_t blocked_since = -1; /* since when OUT could not go */
    int status = -1;

    while (status < 0) {
        if (s_signal) {
            status = s_bounded(c) ? 128 + s_signal : CLI_OK;
            break;
        }
        if (!pending && !src_done && !need_input && role != S_REP &&
            !(role == S_REQ && awaiting)) {
            int rc = cli_input_next(&c->src, &out);
            if (rc == 1) {
                pending = true;
            }
            else if (rc == 0) {
                need_input = true;
            }
            else if (rc == -1) {
                src_done = true;
            }
            else {
                status = cli_error(CLI_FAILURE, "%s: %s", v->name, c->src.err);
                break;
            }
        }
        /* Done? */
        bool idle = src_done && !pending;
        switch (role) {
        case S_SEND: status = idle ? CLI_OK : -1; break;
        case S_REQ: status = idle && !awaiting ? CLI_OK : -1; break;
        case S_RECV:
            status = c->count >= 0 && c->received >= c->count ? CLI_OK : -1;
            break;
        case S_REP:
            status = c->count >= 0 && c->sent >= c->count ? CLI_OK : -1;
            break;
        case S_DUPLEX:
            status = (c->count > 0 && c->received >= c->count) ||
                             (c->count == 0 && idle)
                         ? CLI_OK
                         : -1;
            break;
        }
        if (status >= 0) {
            break;
        }

        now = cli_now_ms();
        zmq_pollitem_t items[3];
        items[0] = (zmq_pollitem_t){NULL, s_wake[0], ZMQ_POLLIN, 0};
        int n = 1, sock_i = -1, in_i = -1;
        short events = 0;
        bool time_to_send = pending && now >= next_send;
        if (receives && (role != S_REQ || awaiting) &&
            (role != S_REP || !pending)) {
            events |= ZMQ_POLLIN;
        }
        if (time_to_send) {
            events |= ZMQ_POLLOUT;
            if (blocked_since < 0) {
                blocked_since = now;
            }
        }
        if (events) {
            items[n] = (zmq_pollitem_t){c->sock, 0, events, 0};
            sock_i = n++;
        }
        if (need_input && !pending) {
            items[n] = (zmq_pollitem_t){NULL, c->src.fd, ZMQ_POLLIN, 0};
            in_i = n++;
        }
        int64_t wait = pending && !time_to_send ? next_send - now : -1;
        /* --timeout: what it waits for, by role. */
        int64_t deadline = -1;
        if (c->timeout >= 0) {
            if (role == S_SEND || (role == S_REQ && !awaiting)) {
                deadline = time_to_send ? blocked_since + c->timeout : -1;
            }
            else {
                deadline = activity + c->timeout;
            }
        }
        if (deadline >= 0) {
            if (now >= deadline) {
                const char *what =
                    role == S_SEND || (role == S_REQ && !awaiting)
                        ? "could not send for"
                    : role == S_REQ ? "no reply within"
                    : role == S_REP ? "no request within"
                                    : "no message within";
                char got[64] = "";
                if (role == S_RECV || role == S_DUPLEX) {
                    if (c->count >= 0) {
                        snprintf(got, sizeof got, "; got %lld of %lld",
                                 (long long) c->received, (long long) c->count);
                    }
                    else {
                        snprintf(got, sizeof got, "; got %lld",
                                 (long long) c->received);
                    }
                }
                status = cli_error(CLI_TIMEOUT, "%s: %s %s (--timeout)%s%s",
                                   v->name, what, c->timeout_text, got,
                                   strcmp(what, "could not send for") == 0
                                       ? ": no peer, or no room"
                                       : "");
                break;
            }
            if (wait < 0 || deadline - now < wait) {
                wait = deadline - now;
            }
        }
        int rc = zmq_poll(items, n, (long) wait);
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            status =
                cli_error(CLI_FAILURE, "%s: %s", v->name, zr_strerror(errno));
            break;
        }
        now = cli_now_ms();
        if (sock_i >= 0 && (items[sock_i].revents & ZMQ_POLLIN)) {
            /* Sinks take what is there, a burst at a time. */
            int burst = role == S_RECV || role == S_DUPLEX ? 1000 : 1;
            for (int i = 0; i < burst && status < 0; i++) {
                if (c->count > 0 && c->received >= c->count && role != S_REP) {
                    break;
                }
                int got = cli_msg_recv(&in, c->sock);
                if (got < 0) {
                    status = cli_error(CLI_FAILURE, "%s: receive: %s", v->name,
                                       zr_strerror(errno));
                }
                if (got <= 0) {
                    break;
                }
                c->received++;
                activity = now;
                if (s_print(c, &in) != 0) {
                    status = CLI_FAILURE;
                }
                else if (role == S_REQ) {
                    awaiting = false;
                }
                else if (role == S_REP) {
                    if (c->echo) {
                        cli_msg_move(&out, &in);
                    }
                    else if (cli_msg_copy(&out, &c->reply) != 0) {
                        status = cli_error(CLI_FAILURE, "%s: %s", v->name,
                                           zr_strerror(errno));
                    }
                    pending = true;
                    next_send = now;
                }
            }
            if (status >= 0) {
                break;
            }
        }
        if (sock_i >= 0 && (items[sock_i].revents & ZMQ_POLLOUT) && pending) {
            int sent = cli_msg_send(&out, c->sock);
            if (sent == 1) {
                pending = false;
                blocked_since = -1;
                c->sent++;
                next_send = now + c->interval;
                if (role == S_REQ) {
                    awaiting = true;
                    activity = now;
                }
                else if (role == S_REP || role == S_DUPLEX) {
                    activity = now;
                }
            }
            else if (sent == 0) {
                next_send = now + 1; /* room elsewhere, not for this one */
            }
            else if (errno == EHOSTUNREACH && v->type == ZMQ_ROUTER) {
                char id[128];
                s_identity_text(&out, id, sizeof id);
                cli_error(0, "%s: no peer with identity %s; message dropped",
                          v->name, id);
                cli_msg_clear(&out);
                pending = false;
                blocked_since = -1;
                c->dropped++;
            }
            else {
                status = cli_error(CLI_FAILURE, "%s: send: %s", v->name,
                                   zr_strerror(errno));
                break;
            }
        }
        if (in_i >= 0 && items[in_i].revents) {
            if (cli_input_fill(&c->src) != 0) {
                status = cli_error(CLI_FAILURE, "%s: %s", v->name, c->src.err);
                break;
            }
            need_input = false;
        }
    }
    cli_msg_destroy(&out);
    cli_msg_destroy(&in);
    if (status == CLI_OK && c->dropped) {
        status = cli_error(CLI_FAILURE, "%s: %lld message(s) dropped", v->name,
                           (long long) c->dropped);
    }
    return status;
}

/* The socket, its options, its endpoints. */
static int
s_open(s_client_t *c, const char *const *topics, size_t ntopics)
{
    const s_verb_t *v = c->verb;
    c->ctx = zmq_ctx_new();
    c->sock = c->ctx ? zmq_socket(c->ctx, v->type) : NULL;
    if (!c->sock) {
        return cli_error(CLI_FAILURE, "%s: cannot create a socket: %s", v->name,
                         zr_strerror(errno));
    }
    int linger = (int) c->linger;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (c->hwm >= 0) {
        int hwm = (int) c->hwm;
        zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    }
    if (v->type == ZMQ_PUSH) {
        /* Queue only on connections that are up: a PUSH whose peer is not
         * there blocks (and --timeout can tell) instead of queueing for a
         * peer that may never come. Not on sockets that receive: libzmq
         * then drops what they received and had not read yet when the
         * peer disconnects (the pipe is terminated at once on reconnect),
         * so a reply sent just before the peer exits was lost. */
        int one = 1;
        zmq_setsockopt(c->sock, ZMQ_IMMEDIATE, &one, sizeof one);
    }
    if (v->type == ZMQ_ROUTER) {
        int one = 1; /* a message for a gone peer is an error, not lost */
        zmq_setsockopt(c->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    }
    if (c->identity) {
        unsigned char id[256];
        size_t len = strlen(c->identity);
        int n =
            len / 2 <= sizeof id ? cli_hex_decode(c->identity, len, id) : -1;
        const void *data = n >= 0 ? (const void *) id : c->identity;
        size_t size = n >= 0 ? (size_t) n : len;
        if (zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, data, size) != 0) {
            return cli_error(CLI_USAGE,
                             "%s: --identity '%s': %s (1 to 255 bytes, not "
                             "starting with a zero byte)",
                             v->name, c->identity, zr_strerror(errno));
        }
    }
    for (size_t i = 0; i < ntopics; i++) {
        zmq_setsockopt(c->sock, ZMQ_SUBSCRIBE, topics[i], strlen(topics[i]));
    }
    if (v->type == ZMQ_SUB && ntopics == 0) {
        zmq_setsockopt(c->sock, ZMQ_SUBSCRIBE, "", 0);
    }
    for (size_t i = 0; i < c->neps; i++) {
        char err[512];
        if (zr_endpoints_attach(c->eps[i], c->sock, err, sizeof err) != 0) {
            return cli_error(CLI_FAILURE, "%s: %s", v->name, err);
        }
        for (size_t k = 0; k < zr_endpoints_size(c->eps[i]); k++) {
            bool bind = zr_endpoints_is_bind(c->eps[i], k);
            const char *written = zr_endpoints_address(c->eps[i], k);
            const char *real = zr_endpoints_resolved(c->eps[i], k);
            /* A port the system chose is news; say where. */
            if (bind && strcmp(written, real) != 0) {
                fprintf(stderr, "zrelay: %s: bound %s\n", v->name, real);
            }
            else {
                cli_log(ZR_LOG_INFO, "%s: %s %s", v->name,
                        bind ? "bound" : "connecting to", real);
            }
        }
    }
    return CLI_OK;
}

/* zr_sync_wait returns -1/EINTR when a signal interrupts its zmq_poll,
 * but a signal that comes just before that poll, or between two of its
 * polls, would leave it waiting. So while it waits, this thread watches
 * the wake pipe the handler writes and shuts the context down, which
 * ends any wait on it at once (ETERM). */
typedef struct {
    void *ctx;
    int stop[2];
    pthread_t thread;
} s_watch_t;

static void *
s_watch_main(void *arg)
{
    s_watch_t *w = arg;
    struct pollfd fds[2] = {{s_wake[0], POLLIN, 0}, {w->stop[0], POLLIN, 0}};
    while (poll(fds, 2, -1) < 0 && errno == EINTR) {
    }
    if (fds[0].revents & POLLIN) {
        zmq_ctx_shutdown(w->ctx);
    }
    return NULL;
}

static int
s_watch_start(s_watch_t *w, void *ctx)
{
    w->ctx = ctx;
    if (pipe(w->stop) != 0) {
        return -1;
    }
    /* Signals stay with the main thread, whose zmq_poll they interrupt. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, s_watch_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(w->stop[0]);
        close(w->stop[1]);
        errno = rc;
        return -1;
    }
    return 0;
}

static void
s_watch_stop(s_watch_t *w)
{
    ssize_t rc = write(w->stop[1], "s", 1);
    (void) rc;
    pthread_join(w->thread, NULL);
    close(w->stop[0]);
    close(w->stop[1]);
}

static const char *
s_signal_name(int sig)
{
    return sig == SIGINT    ? "SIGINT"
           : sig == SIGTERM ? "SIGTERM"
           : sig == SIGHUP  ? "SIGHUP"
                            : "a signal";
}

/* pub --sync: wait until the subscribers are there. */
static int
s_sync(s_client_t *c)
{
    int64_t timeout = c->timeout >= 0 ? c->timeout : INT32_MAX - 2000;
    s_watch_t watch;
    if (s_watch_start(&watch, c->ctx) != 0) {
        return cli_error(CLI_FAILURE, "%s: --sync: %s", c->verb->name,
                         zr_strerror(errno));
    }
    int n = s_signal
                ? -1
                : zr_sync_wait(c->ctx, c->sock, c->sync, (unsigned) c->wait,
                               c->sync_prefix, (int) timeout);
    int e = errno;
    s_watch_stop(&watch);
    if (s_signal) {
        /* Nothing was sent: the job was cut short, whatever its input. */
        return cli_error(128 + s_signal,
                         "%s: --sync %s: interrupted by %s while waiting for "
                         "%lld subscription(s); nothing sent",
                         c->verb->name, c->sync, s_signal_name(s_signal),
                         (long long) c->wait);
    }
    if (n >= 0) {
        cli_log(ZR_LOG_INFO, "%s: --sync: %d subscription(s) there, sending",
                c->verb->name, n);
        return CLI_OK;
    }
    if (e == ETIMEDOUT) {
        return cli_error(CLI_TIMEOUT,
                         "%s: --sync %s: fewer than %lld subscription(s) "
                         "within %s (--timeout), or no forwarder answered",
                         c->verb->name, c->sync, (long long) c->wait,
                         c->timeout_text);
    }
    return cli_error(CLI_FAILURE, "%s: --sync %s: %s", c->verb->name, c->sync,
                     zr_strerror(e));
}

/* Close the socket and wait for what it still has to deliver, within
 * --linger. Returns STATUS, or CLI_FAILURE when the linger ran out. */
static int
s_close(s_client_t *c, int status)
{
    if (!c->ctx) {
        return status;
    }
    s_hard = 1; /* a signal during the linger ends the process */
    int64_t start = cli_now_ms();
    if (c->sock) {
        zmq_close(c->sock);
    }
    while (zmq_ctx_term(c->ctx) != 0 && errno == EINTR) {
    }
    int64_t took = cli_now_ms() - start;
    /* libzmq gives up at the linger, and says nothing of what it held. */
    if (c->sent > 0 && c->linger > 0 && took + 2 >= c->linger) {
        cli_error(0,
                  "%s: could not deliver everything within --linger %s; the "
                  "last messages may be lost",
                  c->verb->name, c->linger_text);
        if (status == CLI_OK) {
            status = CLI_FAILURE;
        }
    }
    cli_log(ZR_LOG_INFO, "%s: sent %lld, received %lld", c->verb->name,
            (long long) c->sent, (long long) c->received);
    return status;
}

/* The --data/--file parts of the message, in the order given. */
typedef struct {
    int kind; /* OPT_DATA or OPT_FILE */
    const char *arg;
} s_part_t;

/* Build the fixed message, or the raw-file source, from PARTS. */
static int
s_build_input(s_client_t *c, const s_part_t *parts, size_t nparts)
{
    const char *name = c->verb->name;
    bool raw = c->format == CLI_FMT_RAW;
    cli_msg_t *msg = c->verb->role == S_REP ? &c->reply : &c->src.fixed;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].kind == OPT_DATA) {
            if (cli_msg_addstr(msg, parts[i].arg) != 0) {
                return cli_error(CLI_FAILURE, "%s: out of memory", name);
            }
            continue;
        }
        unsigned char *data = NULL;
        size_t len = 0;
        char err[512];
        if (cli_read_file(parts[i].arg, &data, &len, err, sizeof err) != 0) {
            return cli_error(CLI_USAGE, "%s: %s", name, err);
        }
        if (!raw) {
            int rc = cli_msg_add(msg, data, len);
            free(data);
            if (rc != 0) {
                return cli_error(CLI_FAILURE, "%s: out of memory", name);
            }
            continue;
        }
        /* A raw file: every message is checked before anything is sent. */
        size_t pos = 0, nmsgs = 0;
        cli_msg_t scratch = {NULL, 0, 0};
        int rc;
        while ((rc = cli_raw_parse(data, len, &pos, &scratch, err,
                                   sizeof err)) == 1) {
            nmsgs++;
        }
        cli_msg_destroy(&scratch);
        if (rc == 0 && pos < len) {
            snprintf(err, sizeof err,
                     "raw input ends inside a message (%zu bytes left "
                     "over): truncated, or not the raw format",
                     len - pos);
            rc = -1;
        }
        if (rc < 0 || (c->verb->role == S_REP && nmsgs != 1)) {
            free(data);
            return cli_error(CLI_USAGE, "%s: --file %s: %s", name, parts[i].arg,
                             rc < 0 ? err
                                    : "a raw reply file must hold exactly "
                                      "one message");
        }
        if (c->verb->role == S_REP) {
            pos = 0;
            cli_raw_parse(data, len, &pos, msg, err, sizeof err);
            free(data);
            continue;
        }
        c->src.kind = CLI_INPUT_STREAM;
        c->src.raw = true;
        c->src.buf = data;
        c->src.len = c->src.cap = len;
        c->src.eof = true;
    }
    if (c->verb->role == S_REP) {
        return CLI_OK;
    }
    /* dealer, router and pair count what they receive, not what they
     * send. */
    int64_t limit = c->verb->role == S_DUPLEX ? -1 : c->count;
    if (c->src.fixed.size) {
        c->src.kind = CLI_INPUT_FIXED;
        c->src.limit = limit >= 0 ? limit : 1;
    }
    else if (c->src.kind == CLI_INPUT_NONE) {
        c->src.kind = CLI_INPUT_STREAM; /* standard input */
        c->src.raw = raw;
        c->src.fd = STDIN_FILENO;
        c->src.limit = limit;
    }
    else {
        c->src.limit = limit;
    }
    if (c->verb->type == ZMQ_ROUTER && c->src.kind == CLI_INPUT_FIXED &&
        c->src.fixed.size < 2) {
        return cli_error(CLI_USAGE,
                         "%s: a message needs the peer's identity and at "
                         "least one more frame: give --data twice",
                         name);
    }
    return CLI_OK;
}

int
cmd_client(int socket_type, int argc, char **argv)
{
    const s_verb_t *v = s_verb(socket_type);
    if (!v) {
        return cli_error(CLI_USAGE, "no client verb for socket type %d",
                         socket_type);
    }
    const char *name = v->name;
    s_client_t c = {
        .verb = v,
        .count = -1,
        .timeout = -1,
        .linger = 2000,
        .linger_text = "2s",
        .hwm = -1,
        .wait = 1,
        .format = CLI_FMT_TEXT,
        .src = {.kind = CLI_INPUT_NONE, .fd = -1, .limit = -1},
    };
    int status = CLI_OK;
    s_part_t *parts = calloc((size_t) argc + 1, sizeof *parts);
    const char **topics = calloc((size_t) argc + 1, sizeof *topics);
    size_t nparts = 0, ntopics = 0;
    bool given[512] = {false};
    if (!parts || !topics) {
        status = cli_error(CLI_FAILURE, "out of memory");
        goto done;
    }

    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":d:f:n:qvh", s_long, NULL)) != -1) {
        const s_opt_t *o = s_opt(opt);
        if (o && !s_applies(o, v)) {
            const char *flag = "?";
            for (const struct option *l = s_long; l->name; l++) {
                flag = l->val == opt ? l->name : flag;
            }
            status = cli_error(CLI_USAGE,
                               "%s: option '--%s' does not apply to %s (see "
                               "'zrelay %s --help')",
                               name, flag, name, name);
            goto done;
        }
        if (opt >= 0 && opt < 512) {
            given[opt] = true;
        }
        int bad = 0;
        switch (opt) {
        case OPT_DATA:
        case OPT_FILE: parts[nparts++] = (s_part_t){opt, optarg}; break;
        case OPT_TOPIC: topics[ntopics++] = optarg; break;
        case OPT_FRAMES_SEP:
            if (!*optarg) {
                status = cli_error(CLI_USAGE, "%s: --frames-sep: empty", name);
                goto done;
            }
            c.frames_sep = optarg;
            break;
        case OPT_COUNT:
            bad = cli_int("--count", optarg, 0, INT64_MAX, &c.count);
            break;
        case OPT_INTERVAL:
            bad = cli_duration("--interval", optarg, &c.interval);
            break;
        case OPT_DELAY: bad = cli_duration("--delay", optarg, &c.delay); break;
        case OPT_TIMEOUT:
            bad = cli_duration("--timeout", optarg, &c.timeout);
            c.timeout_text = optarg;
            break;
        case OPT_LINGER:
            bad = cli_duration("--linger", optarg, &c.linger);
            c.linger_text = optarg;
            break;
        case OPT_HWM:
            bad = cli_int("--hwm", optarg, 0, INT32_MAX, &c.hwm);
            break;
        case OPT_WAIT:
            bad = cli_int("--wait", optarg, 1, UINT32_MAX, &c.wait);
            break;
        case OPT_SYNC: c.sync = optarg; break;
        case OPT_SYNC_PREFIX: c.sync_prefix = optarg; break;
        case OPT_ECHO: c.echo = true; break;
        case OPT_IDENTITY: c.identity = optarg; break;
        case OPT_QUIET: c.quiet = true; break;
        case OPT_VERBOSE: c.verbosity++; break;
        case OPT_FORMAT: {
            int f = cli_format_from_name(optarg);
            if (f < 0) {
                status = cli_error(CLI_USAGE,
                                   "%s: --format '%s': not one of "
                                   "" CLI_FORMAT_NAMES,
                                   name, optarg);
                goto done;
            }
            c.format = (cli_format_t) f;
            break;
        }
        case OPT_HELP: s_help(v, stdout); goto done;
        case ':':
            status = cli_error(CLI_USAGE, "%s: option '%s' needs a value", name,
                               argv[optind - 1]);
            goto done;
        default: status = cli_bad_option(name, argv, optind, s_long); goto done;
        }
        if (bad) {
            status = CLI_USAGE;
            goto done;
        }
    }

    /* What goes together. */
    size_t nfiles = 0;
    for (size_t i = 0; i < nparts; i++) {
        nfiles += parts[i].kind == OPT_FILE;
    }
    const char *conflict = NULL;
    if (v->role == S_SEND && c.format != CLI_FMT_TEXT &&
        c.format != CLI_FMT_RAW) {
        conflict = "only --format raw (raw input) or text applies: it "
                   "prints nothing";
    }
    else if (c.format == CLI_FMT_RAW && nfiles &&
             (given[OPT_DATA] || nfiles > 1)) {
        conflict = "with --format raw, --file holds whole raw messages: "
                   "one --file, and no --data";
    }
    else if (c.format == CLI_FMT_RAW && c.frames_sep) {
        conflict = "--frames-sep does not apply to --format raw";
    }
    else if (v->role == S_REP && !c.echo && !nparts) {
        conflict = "how to answer? --echo, or --data/--file";
    }
    else if (v->role == S_REP && c.echo && nparts) {
        conflict = "--echo and --data/--file: choose one";
    }
    else if (!c.sync && (given[OPT_WAIT] || given[OPT_SYNC_PREFIX])) {
        conflict = "--wait and --sync-prefix need --sync";
    }
    if (conflict) {
        status = cli_error(CLI_USAGE, "%s: %s (see 'zrelay %s --help')", name,
                           conflict, name);
        goto done;
    }
    if (c.sync) {
        char err[400];
        zr_endpoints_t *probe =
            zr_endpoints_parse(c.sync, false, err, sizeof err);
        if (!probe) {
            status = cli_error(CLI_USAGE, "%s: --sync: %s", name, err);
            goto done;
        }
        zr_endpoints_destroy(&probe);
    }
    if (optind >= argc) {
        status = cli_error(CLI_USAGE,
                           "%s: which endpoint? (for example "
                           "'>tcp://127.0.0.1:5559'; see 'zrelay %s --help')",
                           name, name);
        goto done;
    }
    c.neps = (size_t) (argc - optind);
    c.eps = calloc(c.neps, sizeof *c.eps);
    if (!c.eps) {
        status = cli_error(CLI_FAILURE, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c.neps; i++) {
        char err[400];
        c.eps[i] =
            zr_endpoints_parse(argv[optind + (int) i], false, err, sizeof err);
        if (!c.eps[i]) {
            status = cli_error(CLI_USAGE, "%s: %s", name, err);
            goto done;
        }
    }
    c.src.sep = c.frames_sep;
    c.src.identity_first = v->type == ZMQ_ROUTER;
    if (v->role != S_RECV) {
        status = s_build_input(&c, parts, nparts);
        if (status != CLI_OK) {
            goto done;
        }
    }

    cli_log_to_stderr(c.verbosity);
    if (s_install_signals() != 0) {
        status = cli_error(CLI_FAILURE, "%s: signal pipe: %s", name,
                           zr_strerror(errno));
        goto done;
    }
    status = s_open(&c, topics, ntopics);
    if (status == CLI_OK && c.sync) {
        status = s_sync(&c);
    }
    if (status == CLI_OK) {
        if (c.src.fd >= 0 && isatty(c.src.fd)) {
            fprintf(stderr,
                    "zrelay: %s: sending each line of standard input "
                    "(Ctrl-D ends it)\n",
                    name);
        }
        status = s_loop(&c);
    }
done:
    status = s_close(&c, status);
    for (size_t i = 0; c.eps && i < c.neps; i++) {
        zr_endpoints_destroy(&c.eps[i]);
    }
    free(c.eps);
    cli_msg_destroy(&c.src.fixed);
    cli_msg_destroy(&c.reply);
    free(c.src.buf);
    free(parts);
    free(topics);
    return status;
}
