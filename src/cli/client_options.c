/* client_options.c - the client verbs, their options and their --help:
 * one row per option, naming the setter that applies it, and the command
 * line read into a client_t.
 * SPDX-License-Identifier: MIT
 */
#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static const client_verb_t s_verbs[] = {
    {"pub", ZMQ_PUB, CLIENT_SEND,
     "Publish messages on a PUB socket: to a forwarder's frontend, or to SUB "
     "sockets. A PUB drops what it sends before a subscription has reached "
     "it (ZeroMQ's slow joiner): a publisher that starts, sends and exits "
     "usually loses everything. Against a zrelay forwarder with a sync "
     "endpoint, --sync EP --wait N waits until N subscriptions have reached "
     "this PUB, so nothing is lost to them; otherwise --delay gives "
     "subscribers time, without a guarantee. A PUB also drops what a slow "
     "subscriber has no room for (see --hwm).",
     "zrelay pub '>tcp://127.0.0.1:5559' --sync tcp://127.0.0.1:5565 "
     "--wait 1 --data prices --data 42   # 'zrelay run' default"},
    {"sub", ZMQ_SUB, CLIENT_RECV,
     "Receive messages on a SUB socket (from a forwarder's backend, or from "
     "PUB sockets) and print them.",
     "zrelay sub '>tcp://127.0.0.1:5560' --topic prices --format quoted"},
    {"req", ZMQ_REQ, CLIENT_REQ,
     "Send each message as a request on a REQ socket (to a queue's frontend, "
     "or to REP and ROUTER servers) and print each reply before sending the "
     "next.",
     "zrelay req '>tcp://127.0.0.1:5561' --data hello --timeout 2s"},
    {"rep", ZMQ_REP, CLIENT_REP,
     "Answer requests on a REP socket (at a queue's backend, or for REQ "
     "clients): print each request and reply with the --data/--file message "
     "or, with --echo, with the request itself.",
     "zrelay rep '>tcp://127.0.0.1:5562' --echo"},
    {"push", ZMQ_PUSH, CLIENT_SEND,
     "Send messages on a PUSH socket: to a streamer's frontend, or to PULL "
     "consumers. A PUSH waits until a peer is connected and has room, so "
     "nothing is dropped.",
     "seq 10000 | zrelay push '>tcp://127.0.0.1:5563'"},
    {"pull", ZMQ_PULL, CLIENT_RECV,
     "Receive messages on a PULL socket (from a streamer's backend, or from "
     "PUSH producers) and print them.",
     "zrelay pull '>tcp://127.0.0.1:5564' --count 10000 | wc -l"},
    {"dealer", ZMQ_DEALER, CLIENT_DUPLEX,
     "A DEALER socket: send the messages (to a queue's frontend, or to "
     "ROUTER servers; a REP server needs an empty first frame) without "
     "waiting for replies, and print every message that arrives.",
     "zrelay dealer '>tcp://127.0.0.1:5570' --identity client1 --data '' "
     "--data hello --count 1"},
    {"router", ZMQ_ROUTER, CLIENT_DUPLEX,
     "A ROUTER socket: print every message that arrives, its first frame "
     "the identity of the peer that sent it (in --format text as 0x and "
     "hex, unless it is printable); a message sent must start with the "
     "identity of the peer it is for (0x and hex is decoded). A message for "
     "a peer that is not connected is dropped with a warning (exit 1).",
     "zrelay router @tcp://127.0.0.1:6010 --frames-sep '|'"},
    {"pair", ZMQ_PAIR, CLIENT_DUPLEX,
     "A PAIR socket: send the messages to its one peer and print every "
     "message that arrives.",
     "zrelay pair @ipc:///tmp/pair.ipc"},
    {"xpub", ZMQ_XPUB, CLIENT_DUPLEX,
     "An XPUB socket: publish the messages, as pub does, and print every "
     "subscription message that arrives from subscribers (or from a "
     "forwarder's frontend): a first byte 1 and the topic subscribes, 0 "
     "unsubscribes (--format quoted shows \\x01topic). libzmq passes on "
     "only the first subscription to a topic: --sockopt xpub_verbose=1 "
     "shows them all.",
     "zrelay xpub @tcp://127.0.0.1:6011 --format quoted --count 1"},
    {"xsub", ZMQ_XSUB, CLIENT_DUPLEX,
     "An XSUB socket: subscribe (to each --topic; default everything, as "
     "sub does) and print every message that arrives; the messages sent go "
     "upstream as they are, so a first byte 1 or 0 and a topic subscribes "
     "or unsubscribes.",
     "zrelay xsub '>tcp://127.0.0.1:5560' --topic prices --format quoted"},
    {"stream", ZMQ_STREAM, CLIENT_DUPLEX,
     "A STREAM socket: raw TCP, no ZeroMQ framing. Each message printed is "
     "the identity of a TCP peer (0x and hex), then the bytes that came "
     "from it; an empty second frame says the peer connected or went. A "
     "message sent is a peer's identity (0x and hex), then the bytes to "
     "write to it (an empty one closes that connection). A message for a "
     "peer that is not connected is dropped with a warning (exit 1).",
     "zrelay stream @tcp://127.0.0.1:8080 --format quoted"},
};

const client_verb_t *
client_verb(int socket_type)
{
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++) {
        if (s_verbs[i].type == socket_type) {
            return &s_verbs[i];
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------------
 * The setters: each applies one option's VALUE to C; -1, having said
 * why, on a bad value.
 */

static int
s_set_data(client_t *c, const char *value)
{
    c->parts[c->nparts++] = (client_part_t){false, value};
    return 0;
}

static int
s_set_file(client_t *c, const char *value)
{
    c->parts[c->nparts++] = (client_part_t){true, value};
    return 0;
}

static int
s_set_frames_sep(client_t *c, const char *value)
{
    if (!*value) {
        return cli_error(-1, "%s: --frames-sep: empty", c->verb->name);
    }
    c->frames_sep = value;
    return 0;
}

/* "VERB: --OPTION", for a message about a value. */
static const char *
s_label(const client_t *c, const char *option)
{
    static char label[64];
    snprintf(label, sizeof label, "%s: %s", c->verb->name, option);
    return label;
}

static int
s_set_count(client_t *c, const char *value)
{
    return cli_int(s_label(c, "--count"), value, 0, INT32_MAX, &c->count);
}

static int
s_set_interval(client_t *c, const char *value)
{
    return cli_duration(s_label(c, "--interval"), value, &c->interval);
}

static int
s_set_delay(client_t *c, const char *value)
{
    return cli_duration(s_label(c, "--delay"), value, &c->delay);
}

static int
s_set_timeout(client_t *c, const char *value)
{
    c->timeout_text = value;
    return cli_duration(s_label(c, "--timeout"), value, &c->timeout);
}

static int
s_set_retries(client_t *c, const char *value)
{
    return cli_int(s_label(c, "--retries"), value, 0, INT32_MAX, &c->retries);
}

static int
s_set_sync(client_t *c, const char *value)
{
    c->sync = value;
    return 0;
}

static int
s_set_wait(client_t *c, const char *value)
{
    c->wait_given = true;
    return cli_int(s_label(c, "--wait"), value, 1, INT32_MAX, &c->wait);
}

static int
s_set_sync_prefix(client_t *c, const char *value)
{
    c->sync_prefix = value;
    return 0;
}

static int
s_set_topic(client_t *c, const char *value)
{
    c->topics[c->ntopics++] = value;
    return 0;
}

/* A flag's setter gets "true" or "false" (see s_flag_value). */
static int
s_set_echo(client_t *c, const char *value)
{
    c->echo = strcmp(value, "true") == 0;
    return 0;
}

static int
s_set_identity(client_t *c, const char *value)
{
    c->identity = value;
    return 0;
}

/* auth lane (issue 14): the client's side of CURVE and PLAIN. */
static int
s_set_curve_server_key(client_t *c, const char *value)
{
    c->curve_server_key = value;
    return 0;
}

static int
s_set_curve_cert(client_t *c, const char *value)
{
    c->curve_cert = value;
    return 0;
}

static int
s_set_plain_user(client_t *c, const char *value)
{
    c->plain_user = value;
    return 0;
}

static int
s_set_plain_password(client_t *c, const char *value)
{
    c->plain_password = value;
    return 0;
}

static int
s_set_format(client_t *c, const char *value)
{
    int f = cli_format_from_name(value);
    if (f < 0) {
        return cli_error(-1, "%s: --format '%s': not one of " CLI_FORMAT_NAMES,
                         c->verb->name, value);
    }
    c->format = (cli_format_t) f;
    return 0;
}

static int
s_set_input(client_t *c, const char *value)
{
    int f = cli_format_from_name(value);
    if (f != CLI_FMT_TEXT && f != CLI_FMT_RAW && f != CLI_FMT_JSON) {
        return cli_error(-1, "%s: --input '%s': not one of text|raw|json",
                         c->verb->name, value);
    }
    c->input = f;
    return 0;
}

static int
s_set_hwm(client_t *c, const char *value)
{
    return cli_int(s_label(c, "--hwm"), value, 0, INT32_MAX, &c->hwm);
}

static int
s_set_linger(client_t *c, const char *value)
{
    c->linger_text = value;
    return cli_duration(s_label(c, "--linger"), value, &c->linger);
}

static int
s_set_timestamp(client_t *c, const char *value)
{
    c->timestamp = strcmp(value, "true") == 0; /* a flag: --no-timestamp */
    return 0;
}

static int
s_set_quiet(client_t *c, const char *value)
{
    c->quiet = strcmp(value, "true") == 0;
    return 0;
}

static int
s_set_verbose(client_t *c, const char *value)
{
    (void) value;
    c->verbosity++;
    return 0;
}

static int
s_set_sockopt(client_t *c, const char *value)
{
    if (client_sockopt_parse(c->verb->name, value,
                             &c->sockopts[c->nsockopts]) != 0) {
        return -1;
    }
    c->nsockopts++;
    return 0;
}

static int
s_set_reconnect_ivl(client_t *c, const char *value)
{
    int64_t ms;
    if (cli_duration("--reconnect-ivl", value, &ms) != 0) {
        return -1;
    }
    client_sockopt_int(&c->sockopts[c->nsockopts++], "--reconnect-ivl", value,
                       ZMQ_RECONNECT_IVL, ms);
    return 0;
}

static int
s_set_tcp_keepalive(client_t *c, const char *value)
{
    int64_t ms = 0;
    bool off = strcmp(value, "off") == 0;
    if (!off && cli_duration("--tcp-keepalive", value, &ms) != 0) {
        return -1;
    }
    client_sockopt_int(&c->sockopts[c->nsockopts++], "--tcp-keepalive", value,
                       ZMQ_TCP_KEEPALIVE, !off);
    if (!off) {
        /* The kernel counts whole seconds, at least one. */
        int64_t s = ms <= 1000 ? 1 : (ms + 999) / 1000;
        client_sockopt_int(&c->sockopts[c->nsockopts++], "--tcp-keepalive",
                           value, ZMQ_TCP_KEEPALIVE_IDLE, s);
    }
    return 0;
}

static int
s_set_help(client_t *c, const char *value)
{
    (void) value;
    c->help = true;
    return 0;
}

/* ---------------------------------------------------------------------
 * The options: what --help shows of each, for whom, and its setter.
 */

#define S_ROLE(role) (1u << (role))
#define S_SENDING                                                              \
    (S_ROLE(CLIENT_SEND) | S_ROLE(CLIENT_REQ) | S_ROLE(CLIENT_DUPLEX))
#define S_PRINTING                                                             \
    (S_ROLE(CLIENT_RECV) | S_ROLE(CLIENT_REQ) | S_ROLE(CLIENT_REP) |           \
     S_ROLE(CLIENT_DUPLEX))
#define S_ALL (S_SENDING | S_PRINTING)

typedef struct {
    const char *name; /* --name */
    int letter;       /* -x, or 0 */
    const char *arg;  /* what its value is called; NULL: it takes none */
    unsigned roles;   /* the roles it applies to */
    const char *only; /* or only these verbs ("pub", "req dealer") */
    const char *help; /* the help line, unless one of these is set: */
    const char *role_help[CLIENT_NROLES]; /* this role's own */
    const char *pub_help;                 /* pub's own */
    int (*set)(client_t *c, const char *value);
} s_option_t;

#define S_FORMAT_PRINT                                                         \
    "how to print messages: text (default), quoted, hex, json or raw (see "    \
    "FORMATS)"
#define S_SEP_SPLIT "split each line of standard input into frames at SEP"
#define S_SEP_JOIN "join the frames printed with SEP (default: |)"

static const s_option_t s_options[] = {
    {.name = "data",
     .letter = 'd',
     .arg = "TEXT",
     .roles = S_SENDING | S_ROLE(CLIENT_REP),
     .help = "a frame of the message to send; repeat for a multipart "
             "message (then standard input is not read)",
     .role_help[CLIENT_REP] = "a frame of the reply; repeat for a multipart "
                              "reply",
     .set = s_set_data},
    {.name = "file",
     .letter = 'f',
     .arg = "PATH",
     .roles = S_SENDING | S_ROLE(CLIENT_REP),
     .help = "the file's bytes as a frame, after the --data frames given "
             "before it (with --format raw: the file holds raw messages, all "
             "sent)",
     .role_help[CLIENT_REP] = "the file's bytes as a frame of the reply "
                              "(with --format raw: the file holds the reply "
                              "as one raw message)",
     .set = s_set_file},
    {.name = "frames-sep",
     .arg = "SEP",
     .roles = S_ALL,
     .help = S_SEP_SPLIT "; " S_SEP_JOIN,
     .role_help[CLIENT_SEND] = S_SEP_SPLIT,
     .role_help[CLIENT_RECV] = S_SEP_JOIN,
     .role_help[CLIENT_REP] = S_SEP_JOIN,
     .set = s_set_frames_sep},
    {.name = "count",
     .letter = 'n',
     .arg = "N",
     .roles = S_ALL,
     .role_help[CLIENT_SEND] = "send N messages (N >= 1): the --data/--file "
                               "message N times (default: once, or for ever "
                               "with --interval); from standard input or a "
                               "raw file, at most N (default: all)",
     .role_help[CLIENT_REQ] = "make N requests (N >= 1): the --data/--file "
                              "message N times (default: once, or for ever "
                              "with --interval); from standard input or a "
                              "raw file, at most N (default: all)",
     .role_help[CLIENT_RECV] = "exit 0 after N messages (default: run until "
                               "stopped)",
     .role_help[CLIENT_REP] = "exit 0 after answering N requests (default: "
                              "run until stopped)",
     .role_help[CLIENT_DUPLEX] = "exit 0 after receiving N messages "
                                 "(default: run until stopped; 0: exit once "
                                 "the input is sent)",
     .set = s_set_count},
    {.name = "interval",
     .arg = "D",
     .roles = S_SENDING,
     .help = "wait D between two messages sent (default: 0); the "
             "--data/--file message is then sent for ever, unless --count",
     .set = s_set_interval},
    {.name = "delay",
     .arg = "D",
     .roles = S_SENDING,
     .help = "wait D before the first message (default: 0)",
     .pub_help = "wait D before the first message (after --sync), to give "
                 "subscriptions time to arrive (default: 0)",
     .set = s_set_delay},
    {.name = "timeout",
     .arg = "D",
     .roles = S_ALL,
     .help = "exit 3 when no message comes for D (default: wait for ever)",
     .role_help[CLIENT_SEND] = "exit 3 when a message cannot be sent for D: "
                               "no peer, or no room (default: wait for "
                               "ever)",
     .role_help[CLIENT_REQ] = "exit 3 when a reply does not come within D, "
                              "or a request cannot be sent for D (default: "
                              "wait for ever)",
     .role_help[CLIENT_REP] = "exit 3 when no request comes for D (default: "
                              "wait for ever)",
     .pub_help = "give up the --sync wait after D (default 10s): exit 3",
     .set = s_set_timeout},
    {.name = "retries",
     .arg = "N",
     .only = "req",
     .help = "Lazy Pirate failover: when no reply comes within --timeout, "
             "send the request again on a new socket connected to the next "
             "endpoint given (the endpoints are then alternatives, one at a "
             "time: a high-availability pair's two nodes), up to N times; "
             "then exit 3 (default: 0, no retry; every endpoint is "
             "connected at once)",
     .set = s_set_retries},
    {.name = "sync",
     .arg = "EP",
     .only = "pub",
     .help = "before sending, wait at the forwarder's sync endpoint EP (its "
             "--sync; a bare EP connects) until --wait subscriptions have "
             "reached this PUB (docs/SYNC.md); the PUB must be connected to "
             "that forwarder's frontend",
     .set = s_set_sync},
    {.name = "wait",
     .arg = "N",
     .only = "pub",
     .help = "with --sync: how many subscriptions to wait for (default: 1; a "
             "SUB with two --topic counts twice)",
     .set = s_set_wait},
    {.name = "sync-prefix",
     .arg = "P",
     .only = "pub",
     .help = "with --sync: count only subscriptions overlapping topic prefix "
             "P (default: every subscription)",
     .set = s_set_sync_prefix},
    {.name = "topic",
     .arg = "T",
     .only = "sub xsub",
     .help = "subscribe to messages whose first frame starts with T; repeat "
             "for more (default: everything)",
     .set = s_set_topic},
    {.name = "echo",
     .only = "rep",
     .help = "answer each request with the request itself",
     .set = s_set_echo},
    {.name = "identity",
     .arg = "ID",
     .only = "req dealer router",
     .help = "this socket's routing identity (ZMQ_ROUTING_ID), as a ROUTER "
             "peer sees it; 0x and hex for bytes",
     .set = s_set_identity},
    {.name = "format",
     .arg = "F",
     .roles = S_ALL,
     .help = S_FORMAT_PRINT,
     .role_help[CLIENT_SEND] = "text (default): standard input is lines; "
                               "raw: standard input and --file hold raw "
                               "messages (see FORMATS)",
     .role_help[CLIENT_REQ] = S_FORMAT_PRINT "; raw also reads raw input",
     .role_help[CLIENT_DUPLEX] = S_FORMAT_PRINT "; raw also reads raw input",
     .set = s_set_format},
    {.name = "input",
     .arg = "F",
     .roles = S_SENDING,
     .help = "what standard input (or one --file) holds: text lines "
             "(default), raw messages, or json: lines of what --format json "
             "prints (sub --format json's capture, replayed byte for byte)",
     .set = s_set_input},
    {.name = "hwm",
     .arg = "N",
     .roles = S_ALL,
     .help = "send and receive high-water mark, in messages (default: 1000, "
             "libzmq's)",
     .set = s_set_hwm},
    {.name = "linger",
     .arg = "D",
     .roles = S_SENDING | S_ROLE(CLIENT_REP),
     .help = "at exit, how long to deliver what is still queued (default: "
             "2s); exit 1 when it was not enough",
     .set = s_set_linger},
    {.name = "timestamp",
     .roles = S_PRINTING,
     .help = "print when each message came (UTC, RFC 3339, microseconds) "
             "before it; in json as a \"time\" member (--input json "
             "ignores it)",
     .set = s_set_timestamp},
    {.name = "quiet",
     .letter = 'q',
     .roles = S_PRINTING,
     .help = "print no messages (they still count for --count)",
     .role_help[CLIENT_REP] = "do not print the requests",
     .set = s_set_quiet},
    {.name = "reconnect-ivl",
     .arg = "D",
     .roles = S_ALL,
     .help = "wait D before connecting again to a peer that went "
             "(ZMQ_RECONNECT_IVL; default: 100ms, libzmq's)",
     .set = s_set_reconnect_ivl},
    {.name = "tcp-keepalive",
     .arg = "D",
     .roles = S_ALL,
     .help = "TCP keepalive on its connections, the first probe after D "
             "idle (whole seconds); off: none (default: the system's)",
     .set = s_set_tcp_keepalive},
    /* auth lane (issue 14). */
    {.name = "curve-server-key",
     .arg = "FILE",
     .roles = S_ALL,
     .help = "CURVE: the relay's public certificate (docs/SECURITY.md); "
             "encrypts, and tells the relay this client's key",
     .set = s_set_curve_server_key},
    {.name = "curve-cert",
     .arg = "FILE",
     .roles = S_ALL,
     .help = "CURVE: this client's certificate (NAME_secret from zrelay "
             "keygen; default: a fresh key pair, let in only by "
             "curve_allow_any)",
     .set = s_set_curve_cert},
    {.name = "plain-user",
     .arg = "USER",
     .roles = S_ALL,
     .help = "PLAIN: the user name (sent in cleartext)",
     .set = s_set_plain_user},
    {.name = "plain-password",
     .arg = "PW",
     .roles = S_ALL,
     .help = "PLAIN: the password (cleartext on the wire and visible in "
             "ps; ZRELAY_PLAIN_PASSWORD in the environment is read when "
             "this is not given)",
     .set = s_set_plain_password},
    {.name = "sockopt",
     .arg = "NAME=VALUE",
     .roles = S_ALL,
     .help = "set libzmq's socket option NAME (zmq_setsockopt(3): "
             "rcvbuf, heartbeat_ivl, xpub_verbose...; ZMQ_ prefix and case "
             "optional; on/off for 1/0; 0x and hex for bytes) after the "
             "verb's own; repeat for more",
     .set = s_set_sockopt},
    {.name = "verbose",
     .letter = 'v',
     .roles = S_ALL,
     .help = "more on stderr: endpoints, sync, counts (-vv: debug)",
     .set = s_set_verbose},
    {.name = "help",
     .letter = 'h',
     .roles = S_ALL,
     .help = "this text",
     .set = s_set_help},
};
#define S_NOPTIONS (sizeof s_options / sizeof s_options[0])
/* getopt_long's value for option I's long name, and for a flag's
 * --no-NAME. */
#define S_LONG_BASE 256
#define S_NO_BASE (S_LONG_BASE + (int) S_NOPTIONS)

/* A flag: on or off, --NAME, --no-NAME or --NAME=BOOL. -v counts and -h
 * acts: they are not flags. */
static bool
s_is_flag(const s_option_t *o)
{
    return !o->arg && o->set != s_set_verbose && o->set != s_set_help;
}

static bool
s_applies(const s_option_t *o, const client_verb_t *v)
{
    if (o->roles & S_ROLE(v->role)) {
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

static const char *
s_help_line(const s_option_t *o, const client_verb_t *v)
{
    if (v->type == ZMQ_PUB && o->pub_help) {
        return o->pub_help;
    }
    return o->role_help[v->role] ? o->role_help[v->role] : o->help;
}

/* ---------------------------------------------------------------------
 * --help.
 */

static void
s_help_intro(const client_verb_t *v, FILE *out)
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
    if (S_ROLE(v->role) & S_SENDING) {
        fprintf(out, "\n");
        cli_wrap(out,
                 "Input: the message of the --data frames (and --file), "
                 "sent once or --count times; without --data or --file, each "
                 "line of standard input is a message (without its newline; "
                 "--frames-sep splits it into frames); with --format raw, "
                 "standard input and --file hold raw messages.",
                 0, 0);
    }
    if (client_routes(v)) {
        fprintf(out, "\n");
        cli_wrap(out,
                 "To answer a peer, give its identity as the first frame: "
                 "with --frames-sep '|', a line '0x0080000001|hello'.",
                 0, 0);
    }
}

static void
s_help_options(const client_verb_t *v, FILE *out)
{
    fprintf(out, "\nOptions:\n");
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const s_option_t *o = &s_options[i];
        if (!s_applies(o, v)) {
            continue;
        }
        char flag[64] = "  ";
        if (o->letter) {
            snprintf(flag + 2, sizeof flag - 2, "-%c, ", o->letter);
        }
        size_t at = strlen(flag);
        if (s_is_flag(o)) {
            snprintf(flag + at, sizeof flag - at, "--%s[=BOOL], --no-%s",
                     o->name, o->name);
        }
        else {
            snprintf(flag + at, sizeof flag - at, "--%s%s%s", o->name,
                     o->arg ? " " : "", o->arg ? o->arg : "");
        }
        fputs(flag, out);
        int col = (int) strlen(flag);
        if (col > 23) {
            fputc('\n', out);
            col = 0;
        }
        cli_wrap(out, s_help_line(o, v), 25, col);
    }
    fprintf(out, "\nDurations (D): 500ms, 2s, 1m; a bare number is "
                 "milliseconds.\n");
    fprintf(out, "Flags ([=BOOL]): --FLAG sets one, --no-FLAG clears it, and "
                 "--FLAG=BOOL\nsays which (true/false, yes/no, on/off, "
                 "1/0).\n");
}

static void
s_help_formats(const client_verb_t *v, FILE *out)
{
    static const char *formats[][2] = {
        {"text", "the frames as they are, joined by | (--frames-sep), a "
                 "newline after each message"},
        {"quoted", "each frame in double quotes, bytes other than printable "
                   "ASCII escaped: \\\" \\\\ \\n \\r \\t \\xHH"},
        {"hex", "each frame in hex"},
        {"json", "one line per message, {\"frames\": [...]}, each frame "
                 "{\"text\": ...} when it is valid UTF-8, else {\"base64\": "
                 "...}"},
        {"raw", "binary, per frame: 1 byte of flags (bit 0: more frames "
                "follow), the length as 8 bytes big-endian, the bytes; "
                "senders read it back with --format raw"},
    };
    bool prints = S_ROLE(v->role) & S_PRINTING;
    fprintf(out, "\nFORMATS%s:\n",
            prints ? " (how each message is printed; multipart messages as "
                     "one)"
                   : " (of the input)");
    for (size_t i = prints ? 0 : 4; i < sizeof formats / sizeof formats[0];
         i++) {
        fprintf(out, "  %-7s", formats[i][0]);
        cli_wrap(out, formats[i][1], 10, 9);
    }
}

void
client_help(const client_verb_t *v, FILE *out)
{
    s_help_intro(v, out);
    s_help_options(v, out);
    s_help_formats(v, out);
    fprintf(out, "\n");
    cli_wrap(out,
             "Exit status: 0 done (the input sent, --count reached); 1 a "
             "runtime failure (cannot bind, a send failed, --linger too "
             "short); 2 a usage error; 3 --timeout; 4 (req) a broker's error "
             "reply, ZRELAY-ERROR (printed; the other requests still go). "
             "SIGINT, SIGTERM or SIGHUP "
             "stop it cleanly: exit 0 when it had no end (no --count: "
             "standard input, or --interval), else 128 + the signal (130 for "
             "Ctrl-C), and "
             "always 128 + the signal during pub's --sync wait (nothing was "
             "sent). A second signal ends it at once.",
             0, 0);
    fprintf(out, "\nExample:\n  %s\n", v->example);
}

/* ---------------------------------------------------------------------
 * The command line.
 */

int
client_init(client_t *self, const client_verb_t *v, int argc)
{
    *self = (client_t){
        .verb = v,
        .count = -1,
        .timeout = -1,
        .linger = 2000,
        .linger_text = "2s",
        .hwm = -1,
        .wait = 1,
        .format = CLI_FMT_TEXT,
        .input = -1,
        .src = {.kind = CLI_INPUT_NONE, .fd = -1, .limit = -1},
    };
    self->parts = calloc((size_t) argc + 1, sizeof *self->parts);
    self->topics = calloc((size_t) argc + 1, sizeof *self->topics);
    self->sockopts = calloc(2 * (size_t) argc + 2, sizeof *self->sockopts);
    if (!self->parts || !self->topics || !self->sockopts) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

void
client_free(client_t *self)
{
    for (size_t i = 0; self->eps && i < self->neps; i++) {
        zr_endpoints_destroy(&self->eps[i]);
    }
    free(self->eps);
    cli_msg_destroy(&self->src.fixed);
    cli_msg_destroy(&self->reply);
    free(self->src.buf);
    free(self->parts);
    free(self->topics);
    free(self->sockopts);
}

/* getopt_long's tables, from the options: long names with values
 * S_LONG_BASE + I, a flag's --no-NAME (its name in NOS[I]) S_NO_BASE + I,
 * and the letters. */
static void
s_getopt_tables(struct option *longs, char (*nos)[40], char *letters)
{
    size_t n = 0, l = 0;
    letters[n++] = ':'; /* a missing value is ':', not '?' */
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const s_option_t *o = &s_options[i];
        int has_arg = o->arg         ? required_argument
                      : s_is_flag(o) ? optional_argument
                                     : no_argument;
        longs[l++] =
            (struct option){o->name, has_arg, NULL, S_LONG_BASE + (int) i};
        if (s_is_flag(o)) {
            snprintf(nos[i], sizeof nos[i], "no-%s", o->name);
            longs[l++] =
                (struct option){nos[i], no_argument, NULL, S_NO_BASE + (int) i};
        }
        if (o->letter) {
            letters[n++] = (char) o->letter;
            if (o->arg) {
                letters[n++] = ':';
            }
        }
    }
    longs[l] = (struct option){NULL, 0, NULL, 0};
    letters[n] = 0;
}

/* The option getopt_long returned as OPT, or NULL. */
static const s_option_t *
s_option_for(int opt)
{
    if (opt >= S_LONG_BASE && opt < S_LONG_BASE + (int) S_NOPTIONS) {
        return &s_options[opt - S_LONG_BASE];
    }
    if (opt >= S_NO_BASE && opt < S_NO_BASE + (int) S_NOPTIONS) {
        return &s_options[opt - S_NO_BASE];
    }
    for (size_t i = 0; opt > 0 && i < S_NOPTIONS; i++) {
        if (s_options[i].letter == opt) {
            return &s_options[i];
        }
    }
    return NULL;
}

/* One option, as getopt_long returned it: -1 to go on, or the exit
 * status. */
static int
s_apply(client_t *c, int opt, char **argv, const struct option *longs)
{
    const char *name = c->verb->name;
    if (opt == ':') {
        return cli_error(CLI_USAGE, "%s: option '%s' needs a value", name,
                         argv[optind - 1]);
    }
    const s_option_t *o = s_option_for(opt);
    if (!o) {
        return cli_bad_option(name, argv, optind, longs);
    }
    if (!s_applies(o, c->verb)) {
        return cli_error(CLI_USAGE,
                         "%s: option '--%s' does not apply to %s (see "
                         "'zrelay %s --help')",
                         name, o->name, name, name);
    }
    const char *value = optarg;
    if (s_is_flag(o)) {
        bool on = opt < S_NO_BASE;
        bool next;
        if (opt < S_NO_BASE && optarg && zr_parse_bool(optarg, &on) != 0) {
            return cli_error(CLI_USAGE,
                             "%s: --%s: '%s' is not a boolean (true/false, "
                             "yes/no, on/off, 1/0)",
                             name, o->name, optarg);
        }
        if (opt < S_NO_BASE && !optarg && argv[optind] &&
            zr_parse_bool(argv[optind], &next) == 0) {
            return cli_flag_value(name, o->name, argv[optind]);
        }
        value = on ? "true" : "false";
    }
    if (o->set(c, value) != 0) {
        return CLI_USAGE;
    }
    if (c->help) {
        client_help(c->verb, stdout);
        return CLI_OK;
    }
    return -1;
}

/* Options that do not go together, or lack another: why, or NULL. */
static const char *
s_conflict(const client_t *c)
{
    size_t nfiles = 0, ndata = 0;
    for (size_t i = 0; i < c->nparts; i++) {
        nfiles += c->parts[i].file;
        ndata += !c->parts[i].file;
    }
    client_role_t role = c->verb->role;
    bool raw = client_raw_input(c);
    if (c->input == CLI_FMT_JSON && (ndata || nfiles > 1)) {
        return "--input json reads standard input or one --file, not --data";
    }
    if (c->input == CLI_FMT_JSON && c->frames_sep) {
        return "--frames-sep does not apply to --input json";
    }
    if (role == CLIENT_SEND && c->format != CLI_FMT_TEXT && !raw) {
        return "only --format raw (raw input) or text applies: it prints "
               "nothing";
    }
    if (raw && nfiles && (ndata || nfiles > 1)) {
        return "with --format raw, --file holds whole raw messages: one "
               "--file, and no --data";
    }
    if (c->timestamp && c->format == CLI_FMT_RAW) {
        return "--timestamp does not apply to --format raw";
    }
    if (raw && c->frames_sep) {
        return "--frames-sep does not apply to --format raw";
    }
    if ((role == CLIENT_SEND || role == CLIENT_REQ) && c->count == 0) {
        return "--count 0 would send nothing (--count N sends N messages; "
               "--interval D without --count repeats for ever)";
    }
    if (role == CLIENT_REP && !c->echo && !c->nparts) {
        return "how to answer? --echo, or --data/--file";
    }
    if (role == CLIENT_REP && c->echo && c->nparts) {
        return "--echo and --data/--file: choose one";
    }
    if (!c->sync && (c->wait_given || c->sync_prefix)) {
        return "--wait and --sync-prefix need --sync";
    }
    if (c->retries > 0 && c->timeout < 0) {
        return "--retries needs --timeout (how long to wait for each reply "
               "before trying the next endpoint)";
    }
    return NULL;
}

/* The endpoint in V's example (the first word with "://" after "zrelay
 * VERB", without quotes), the side of a relay this verb meets: LEN bytes
 * into OUT. */
static const char *
s_example_endpoint(const client_verb_t *v, char *out, size_t len)
{
    char verb[32];
    snprintf(verb, sizeof verb, "zrelay %s ", v->name);
    const char *line = strstr(v->example, verb);
    const char *at = line ? strstr(line, "://") : NULL;
    if (!at) {
        return "'>tcp://127.0.0.1:5559'";
    }
    const char *start = at;
    while (start > line && !strchr(" '", start[-1])) {
        start--;
    }
    snprintf(out, len, "'%.*s'", (int) strcspn(start, " '"), start);
    return out;
}

/* The endpoint lists ARGS (N of them) and --sync's: -1 to go on, or the
 * exit status. */
static int
s_endpoints(client_t *c, char **args, size_t n)
{
    const char *name = c->verb->name;
    char err[400];
    if (c->sync) {
        zr_endpoints_t *probe =
            zr_endpoints_parse(c->sync, false, err, sizeof err);
        if (!probe) {
            return cli_error(CLI_USAGE, "%s: --sync: %s", name, err);
        }
        zr_endpoints_destroy(&probe);
    }
    if (n == 0) {
        char example[128];
        return cli_error(
            CLI_USAGE,
            "%s: which endpoint? (for example %s; see 'zrelay "
            "%s --help')",
            name, s_example_endpoint(c->verb, example, sizeof example), name);
    }
    c->eps = calloc(n, sizeof *c->eps);
    if (!c->eps) {
        return cli_error(CLI_FAILURE, "out of memory");
    }
    c->neps = n;
    for (size_t i = 0; i < n; i++) {
        c->eps[i] = zr_endpoints_parse(args[i], false, err, sizeof err);
        if (!c->eps[i]) {
            return cli_error(CLI_USAGE, "%s: %s", name, err);
        }
    }
    return -1;
}

int
client_parse(client_t *self, int argc, char **argv)
{
    struct option longs[2 * S_NOPTIONS + 1];
    char nos[S_NOPTIONS][40];
    char letters[2 * S_NOPTIONS + 2];
    s_getopt_tables(longs, nos, letters);
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, letters, longs, NULL)) != -1) {
        int status = s_apply(self, opt, argv, longs);
        if (status >= 0) {
            return status;
        }
    }
    const char *conflict = s_conflict(self);
    if (conflict) {
        const char *name = self->verb->name;
        return cli_error(CLI_USAGE, "%s: %s (see 'zrelay %s --help')", name,
                         conflict, name);
    }
    return s_endpoints(self, argv + optind, (size_t) (argc - optind));
}
