/* cmd_device.c - `zrelay forwarder|queue|streamer FRONTEND BACKEND` and
 * `zrelay majordomo ENDPOINT...`: one device in the foreground.
 * SPDX-License-Identifier: MIT
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

typedef struct {
    zr_device_type_t type;
    const char *sockets;   /* "XSUB frontend, XPUB backend" */
    const char *front_who; /* who uses the frontend */
    const char *back_who;
    const char *example;
} s_kind_t;

static const s_kind_t s_kinds[] = {
    {ZR_FORWARDER, "XSUB frontend, XPUB backend",
     "publishers (PUB/XPUB) connect here",
     "subscribers (SUB/XSUB) connect here",
     "zrelay forwarder @tcp://127.0.0.1:5559 @tcp://127.0.0.1:5560"},
    {ZR_QUEUE, "ROUTER frontend, DEALER backend",
     "clients (REQ/DEALER) connect here", "workers (REP/DEALER) connect here",
     "zrelay queue @tcp://127.0.0.1:5559 @tcp://127.0.0.1:5560"},
    {ZR_STREAMER, "PULL frontend, PUSH backend",
     "producers (PUSH) connect here", "consumers (PULL) connect here",
     "zrelay streamer @tcp://127.0.0.1:5563 @tcp://127.0.0.1:5564"},
    {ZR_MAJORDOMO, "one ROUTER for clients and workers",
     "MDP clients and workers (MDPC0x, MDPW0x) connect here",
     NULL, "zrelay majordomo @tcp://127.0.0.1:5555"},
};

static const s_kind_t *
s_kind(zr_device_type_t type)
{
    for (size_t i = 0; i < sizeof s_kinds / sizeof s_kinds[0]; i++) {
        if (s_kinds[i].type == type) {
            return &s_kinds[i];
        }
    }
    return NULL;
}

/* Print TEXT wrapped at 78 columns, every line indented by INDENT. */
void
cli_wrap(FILE *out, const char *text, int indent, int first_col)
{
    int col = first_col;
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > indent && col + 1 + (int) word > 78) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        }
        else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        while (col < indent) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int) word, p);
        col += (int) word;
        p += word;
        while (*p == ' ') {
            p++;
        }
    }
    fputc('\n', out);
}

/* "  --max-msg-size BYTES  help (default: none)" for every option of TYPE
 * but the positional frontend and backend. */
void
cli_option_help(FILE *out, zr_device_type_t type)
{
    const zr_option_t *o;
    for (size_t i = 0; (o = zr_option(i)); i++) {
        if (!zr_option_applies(o, type) || strcmp(o->name, "frontend") == 0 ||
            strcmp(o->name, "backend") == 0) {
            continue;
        }
        char flag[64], help[512];
        if (o->kind == ZR_OPT_BOOL) {
            snprintf(flag, sizeof flag, "  --%s[=%s], --no-%s", o->name, o->arg,
                     o->name);
        }
        else {
            snprintf(flag, sizeof flag, "  --%s %s", o->name, o->arg);
        }
        for (char *c = flag; *c; c++) {
            *c = *c == '_' ? '-' : *c;
        }
        snprintf(help, sizeof help, "%s%s%s%s", o->help,
                 o->fallback ? " (default: " : "",
                 o->fallback ? o->fallback : "", o->fallback ? ")" : "");
        fputs(flag, out);
        int col = (int) strlen(flag);
        if (col > 24) {
            fputc('\n', out);
            col = 0;
        }
        cli_wrap(out, help, 25, col);
    }
}

const char *
cli_who(const zr_device_t *dev, const char *role, bool bind)
{
    if (!bind) {
        return NULL; /* it goes to them: nobody connects here */
    }
    if (strcmp(role, "sync") == 0) {
        return "publishers ask here (zr_sync_wait)";
    }
    if (strcmp(role, "capture") == 0) {
        return "capture listeners (SUB) connect here";
    }
    if (strcmp(role, "control") == 0) {
        return "zrelay ctl";
    }
    switch (zr_device_socket_type(dev, role)) {
    case ZMQ_XSUB: return "publishers (PUB/XPUB) connect here";
    case ZMQ_XPUB: return "subscribers (SUB/XSUB) connect here";
    case ZMQ_ROUTER:
        if (zr_device_type(dev) == ZR_MAJORDOMO) {
            return "MDP clients and workers connect here";
        }
        return strcmp(role, "backend") == 0
                   ? "workers (Paranoid Pirate DEALER or REQ) connect here"
                   : "clients (REQ/DEALER) connect here";
    case ZMQ_DEALER: return "workers (REP/DEALER) connect here";
    case ZMQ_PULL:
        return zr_device_type(dev) == ZR_FORWARDER
                   ? "publishers (PUSH) connect here"
                   : "producers (PUSH) connect here";
    case ZMQ_PUSH: return "consumers (PULL) connect here";
    default: return NULL;
    }
}

static void
s_help(const s_kind_t *k, FILE *out)
{
    const char *verb = zr_device_type_name(k->type);
    bool flags = false;
    const zr_option_t *o;
    for (size_t i = 0; (o = zr_option(i)); i++) {
        flags =
            flags || (o->kind == ZR_OPT_BOOL && zr_option_applies(o, k->type));
    }
    if (k->type == ZR_MAJORDOMO) {
        fprintf(out,
                "usage: zrelay majordomo [OPTIONS] ENDPOINT...\n"
                "\n"
                "Run a Majordomo broker (MDP/0.1 and 0.2 with MMI,\n"
                "docs/MAJORDOMO.md) in the foreground: %s.\n"
                "  ENDPOINT  %s\n",
                k->sockets, k->front_who);
    }
    else {
        fprintf(out,
                "usage: zrelay %s [OPTIONS] FRONTEND BACKEND\n"
                "\n"
                "Run a %s (%s) in the foreground.\n"
                "  FRONTEND  %s\n"
                "  BACKEND   %s\n",
                verb, verb, k->sockets, k->front_who, k->back_who);
    }
    fprintf(out,
            "Endpoints: '@EP' binds, '>EP' connects, a bare EP binds; a\n"
            "comma-separated list mixes both. tcp://HOST:* binds a free "
            "port.\n"
            "Durations: 500ms, 2s, 1m; a bare number is milliseconds.\n"
            "%s"
            "\n"
            "LIMITS (what a stranger can cost; each an option below):\n"
            "  frames of at most 32M on a port bound beyond loopback/ipc\n"
            "  (--max-msg-size), messages of at most 1000 frames and 64M\n"
            "  (--max-msg-frames, --max-msg-bytes), 10000 connections per\n"
            "  socket (--max-connections), handshakes within 5s\n"
            "  (--handshake-ivl); a forwarder: 10000 subscriptions of at\n"
            "  most 256 bytes (--max-subscriptions,\n"
            "  --max-subscription-size).\n"
            "  Memory: libzmq queues up to --sndhwm/--rcvhwm messages per\n"
            "  connection, whatever their size: see zrelay(1), LIMITS.\n"
            "\n"
            "Options:\n",
            flags ? "Flags ([=BOOL]): --FLAG sets one, --no-FLAG clears it, "
                    "and\n--FLAG=BOOL says which (true/false, yes/no, on/off, "
                    "1/0).\n"
                  : "");
    cli_option_help(out, k->type);
    fprintf(
        out,
        "  --io-threads N         libzmq I/O threads (default: 1)\n"
        "  --http ADDRESS:PORT    serve Prometheus /metrics, /stats, /healthz\n"
        "                         and /readyz there (127.0.0.1:9558; port 0:\n"
        "                         any free one; default: none)\n"
        "  -v, --verbose          more log lines on stderr (-vv: "
        "debug)\n"
        "  --log-format F         text (default) or json: one JSON object "
        "per line\n"
        "  -h, --help             this text\n"
        "\n"
        "Every option is also a config key for 'zrelay run' (--max-msg-size\n"
        "is max_msg_size); see zrelay.conf(5).\n"
        "\n"
        "Once every endpoint is up it prints one line per endpoint,\n"
        "'ROLE bind|connect ADDRESS' with the real port, then 'ready'.\n"
        "SIGINT, SIGTERM or SIGHUP stop it cleanly (exit 0). Exit 1 on a "
        "runtime\n"
        "failure (a port in use), 2 on a usage error.\n"
        "\n"
        "Example:\n  %s\n",
        k->example);
}

static zr_device_t *volatile s_running;

static void
s_on_signal(int sig)
{
    (void) sig;
    zr_device_t *dev = s_running;
    if (dev) {
        zr_device_stop(dev); /* async-signal-safe: a flag and a write(2) */
    }
}

static void
s_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: zmq_poll returns EINTR and the loop sees the flag. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed terminal: one device has no config to reload, so it stops
     * as cleanly as on SIGTERM. */
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* "frontend bind tcp://127.0.0.1:5559" per endpoint, "http bind URL"
 * when it serves HTTP, then "ready". */
static void
s_print_endpoints(zr_device_t *dev, zr_http_t *http)
{
    size_t n = zr_device_endpoint_count(dev);
    for (size_t i = 0; i < n; i++) {
        const char *role, *address;
        bool bind;
        zr_device_endpoint(dev, i, &role, &bind, &address);
        printf("%s %s %s\n", role, bind ? "bind" : "connect", address);
        const char *who = cli_who(dev, role, bind);
        if (who &&
            (strcmp(role, "frontend") == 0 || strcmp(role, "backend") == 0 ||
             strcmp(role, "sync") == 0)) {
            cli_log(ZR_LOG_NOTICE, "%s: %s", address, who);
        }
    }
    if (http) {
        printf("http bind %s\n", zr_http_url(http));
        cli_log(ZR_LOG_NOTICE, "%smetrics: Prometheus scrapes here",
                zr_http_url(http));
    }
    printf("ready\n");
    fflush(stdout);
}

/* getopt_long's table for TYPE's options, built from the option table:
 * option I of the table gets the value S_OPT_BASE + I, and a flag's
 * --no-NAME S_OPT_NO_BASE + I. */
#define S_OPT_BASE 1000
#define S_OPT_NO_BASE 2000
#define S_MAX_OPTIONS 64
enum { S_OPT_IOTHREADS = 900, S_OPT_HTTP, S_OPT_LOG_FORMAT };

static void
s_build_options(zr_device_type_t type, struct option *options, char names[][40])
{
    int n = 0;
    const zr_option_t *o;
    for (size_t i = 0; (o = zr_option(i)) && n < S_MAX_OPTIONS - 7; i++) {
        if (!zr_option_applies(o, type) || strcmp(o->name, "frontend") == 0 ||
            strcmp(o->name, "backend") == 0) {
            continue;
        }
        bool flag = o->kind == ZR_OPT_BOOL;
        for (int no = 0; no <= flag; no++) {
            snprintf(names[n], 40, "%s%s", no ? "no-" : "", o->name);
            for (char *c = names[n]; *c; c++) {
                *c = *c == '_' ? '-' : *c;
            }
            int has_arg = no     ? no_argument
                          : flag ? optional_argument
                                 : required_argument;
            options[n] =
                (struct option){names[n], has_arg, NULL,
                                (no ? S_OPT_NO_BASE : S_OPT_BASE) + (int) i};
            n++;
        }
    }
    options[n++] =
        (struct option){"io-threads", required_argument, NULL, S_OPT_IOTHREADS};
    options[n++] = (struct option){"http", required_argument, NULL, S_OPT_HTTP};
    options[n++] = (struct option){"verbose", no_argument, NULL, 'v'};
    options[n++] = (struct option){"log-format", required_argument, NULL,
                                   S_OPT_LOG_FORMAT};
    options[n++] = (struct option){"help", no_argument, NULL, 'h'};
    options[n] = (struct option){NULL, 0, NULL, 0};
}

/* Whether ARGV[I] is a boolean's value, given apart from its flag. */
static bool
s_bool_word(int argc, char **argv, int i)
{
    bool on;
    return i < argc && zr_parse_bool(argv[i], &on) == 0;
}

/* An option getopt_long did not take: one of another device type's
 * ("--sync is for the forwarder only"), or cli_bad_option's. */
static int
s_bad_option(zr_device_type_t type, char **argv, int optind,
             const struct option *options)
{
    const char *verb = zr_device_type_name(type);
    const char *arg = argv[optind - 1];
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int) strcspn(arg, "="), arg);
    const char *bare = strncmp(name, "--no-", 5) == 0 ? name + 5 : name;
    const zr_option_t *o =
        strncmp(name, "--", 2) == 0 ? zr_option_find(bare) : NULL;
    if (!o || strcmp(o->name, "frontend") == 0 ||
        strcmp(o->name, "backend") == 0) {
        return cli_bad_option(verb, argv, optind, options);
    }
    static const zr_device_type_t types[] = {ZR_FORWARDER, ZR_QUEUE,
                                             ZR_STREAMER, ZR_MAJORDOMO};
    char whose[64] = "";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (zr_option_applies(o, types[i])) {
            size_t at = strlen(whose);
            snprintf(whose + at, sizeof whose - at, "%s%s",
                     at ? " and the " : "", zr_device_type_name(types[i]));
        }
    }
    if (!whose[0]) {
        return cli_bad_option(verb, argv, optind, options);
    }
    return cli_error(CLI_USAGE,
                     "%s: option '%s' is for the %s only (see 'zrelay %s "
                     "--help')",
                     verb, name, whose, verb);
}

/* An option given, checked once the device exists. */
typedef struct {
    const zr_option_t *opt;
    const char *value;
} s_given_t;

/* FRONTEND and BACKEND (ENDS) and the options GIVEN (N of them), on DEV:
 * CLI_OK, or the exit status. */
static int
s_configure(zr_device_t *dev, char **ends, const s_given_t *given, int n)
{
    if (zr_device_set_frontend(dev, ends[0]) != 0) {
        return cli_error(CLI_USAGE, "frontend: %s", zr_device_error(dev));
    }
    if (ends[1] && zr_device_set_backend(dev, ends[1]) != 0) {
        return cli_error(CLI_USAGE, "backend: %s", zr_device_error(dev));
    }
    for (int i = 0; i < n; i++) {
        if (zr_device_set(dev, given[i].opt->name, given[i].value) != 0) {
            char flag[48];
            snprintf(flag, sizeof flag, "--%s", given[i].opt->name);
            for (char *c = flag; *c; c++) {
                *c = *c == '_' ? '-' : *c;
            }
            return cli_error(CLI_USAGE, "%s: %s", flag, zr_device_error(dev));
        }
    }
    return CLI_OK;
}

/* [limits] Take the hard limit on file descriptors (up to 2^20): every
 * connection costs one, and the device keeps the last eighth free for
 * its control endpoint; as many sockets as descriptors (up to 65535). As
 * zr_daemon_start does for 'zrelay run'. */
static void
s_fd_limit(void *ctx)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    rlim_t want = rl.rlim_max < (1 << 20) ? rl.rlim_max : (1 << 20);
    if (rl.rlim_cur < want) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rl.rlim_cur = was;
        }
    }
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS,
                rl.rlim_cur > 65535  ? 65535
                : rl.rlim_cur < 1023 ? 1023
                                     : (int) rl.rlim_cur);
}

/* Open DEV, say where it listens, and run it until a signal or
 * TERMINATE: the exit status. */
static int
s_serve(zr_device_t *dev, const char *http_spec, int verbosity)
{
    if (zr_device_open(dev) != 0) {
        return cli_error(CLI_FAILURE, "%s", zr_device_error(dev));
    }
    zr_http_t *http = NULL;
    if (http_spec) {
        char err[512];
        http = zr_http_new(dev, http_spec, err, sizeof err);
        if (!http) {
            /* A bad address is a usage error, a taken port a failure. */
            return cli_error(errno == EINVAL ? CLI_USAGE : CLI_FAILURE,
                             "--http: %s",
                             strncmp(err, "http: ", 6) == 0 ? err + 6 : err);
        }
    }
    int status = CLI_OK;
    s_running = dev;
    s_install_signals();
    s_print_endpoints(dev, http);
    if (zr_device_run(dev) != 0) {
        status = cli_error(CLI_FAILURE, "%s", zr_device_error(dev));
    }
    s_running = NULL;
    /* Before the device goes: the server reads it (zr_http_new). */
    zr_http_destroy(&http);
    if (verbosity) {
        char *json = zr_device_stats_json(dev);
        cli_log(ZR_LOG_INFO, "final statistics: %s", json ? json : "?");
        free(json);
    }
    return status;
}

int
cmd_device(zr_device_type_t type, int argc, char **argv)
{
    const s_kind_t *k = s_kind(type);
    const char *verb = zr_device_type_name(type);
    struct option options[S_MAX_OPTIONS];
    char names[S_MAX_OPTIONS][40];
    s_build_options(type, options, names);
    s_given_t given[S_MAX_OPTIONS * 4];
    int ngiven = 0;
    int64_t io_threads = 1;
    const char *http = NULL;
    int verbosity = 0;
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":vh", options, NULL)) != -1) {
        if (opt >= S_OPT_BASE) {
            bool no = opt >= S_OPT_NO_BASE;
            const zr_option_t *o =
                zr_option((size_t) (opt - (no ? S_OPT_NO_BASE : S_OPT_BASE)));
            if (ngiven == (int) (sizeof given / sizeof given[0])) {
                return cli_error(CLI_USAGE, "%s: too many options", verb);
            }
            if (o->kind == ZR_OPT_BOOL && !no && !optarg &&
                s_bool_word(argc, argv, optind)) {
                return cli_flag_value(verb, argv[optind - 1] + 2, argv[optind]);
            }
            given[ngiven++] = (s_given_t){o, no                       ? "false"
                                             : optarg                 ? optarg
                                             : o->kind == ZR_OPT_BOOL ? "true"
                                                                      : ""};
            continue;
        }
        switch (opt) {
        case S_OPT_IOTHREADS:
            if (cli_int("--io-threads", optarg, 1, 64, &io_threads) != 0) {
                return CLI_USAGE;
            }
            break;
        case S_OPT_HTTP: http = optarg; break;
        case 'v': verbosity++; break;
        case S_OPT_LOG_FORMAT:
            if (cli_log_format(optarg) != CLI_OK) {
                return CLI_USAGE;
            }
            break;
        case 'h': s_help(k, stdout); return CLI_OK;
        case ':':
            return cli_error(CLI_USAGE, "%s: option '%s' needs a value", verb,
                             argv[optind - 1]);
        default: return s_bad_option(type, argv, optind, options);
        }
    }
    int npos = argc - optind;
    char *ends[2] = {NULL, NULL};
    char *joined = NULL;
    if (type == ZR_MAJORDOMO) {
        /* One socket: every ENDPOINT is one of its endpoints. */
        if (npos < 1) {
            return cli_error(CLI_USAGE,
                             "majordomo: expected at least one ENDPOINT (see "
                             "'zrelay majordomo --help')");
        }
        size_t len = 1;
        for (int i = optind; i < argc; i++) {
            len += strlen(argv[i]) + 1;
        }
        joined = calloc(1, len);
        if (!joined) {
            return cli_error(CLI_FAILURE, "out of memory");
        }
        for (int i = optind; i < argc; i++) {
            strcat(joined, i > optind ? "," : "");
            strcat(joined, argv[i]);
        }
        ends[0] = joined;
    }
    else if (npos != 2) {
        return cli_error(CLI_USAGE,
                         "%s: expected FRONTEND and BACKEND endpoints, got "
                         "%d argument%s (see 'zrelay %s --help')",
                         verb, npos, npos == 1 ? "" : "s", verb);
    }
    else {
        ends[0] = argv[optind];
        ends[1] = argv[optind + 1];
    }
    cli_log_to_stderr(verbosity);
    void *ctx = zmq_ctx_new();
    if (!ctx || zmq_ctx_set(ctx, ZMQ_IO_THREADS, (int) io_threads) != 0) {
        free(joined);
        return cli_error(CLI_FAILURE, "cannot create a ZeroMQ context: %s",
                         zr_strerror(errno));
    }
    s_fd_limit(ctx); /* [limits] */
    zr_device_t *dev = zr_device_new(ctx, type, NULL);
    int status = dev ? s_configure(dev, ends, given, ngiven)
                     : cli_error(CLI_FAILURE, "cannot create the %s: %s", verb,
                                 zr_strerror(errno));
    if (status == CLI_OK) {
        status = s_serve(dev, http, verbosity);
    }
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
    free(joined);
    return status;
}
