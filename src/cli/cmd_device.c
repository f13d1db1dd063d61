/* cmd_device.c - `zrelay forwarder|queue|streamer`: one device in the
 * foreground.
 * SPDX-License-Identifier: MIT
 */
#include "cli/cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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
     "zrelay streamer @tcp://127.0.0.1:5557 @tcp://127.0.0.1:5558"},
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

static void
s_help(const s_kind_t *k, FILE *out)
{
    const char *verb = zr_device_type_name(k->type);
    fprintf(
        out,
        "usage: zrelay %s [OPTIONS] FRONTEND BACKEND\n"
        "\n"
        "Run a %s (%s) in the foreground.\n"
        "  FRONTEND  %s\n"
        "  BACKEND   %s\n"
        "Endpoints: '@EP' binds, '>EP' connects, a bare EP binds; a\n"
        "comma-separated list mixes both. tcp://HOST:* binds a free port.\n"
        "\n"
        "Options:\n"
        "  --capture EP       copy every frame, with its more-flag, to an\n"
        "                     XPUB for SUB listeners; a slow listener "
        "loses\n"
        "                     whole copies (counted), never the relay's "
        "speed\n"
        "  --control EP       a REP socket answering zmq_proxy_steerable's\n"
        "                     PAUSE, RESUME, TERMINATE, STATISTICS, and "
        "STATS\n"
        "                     (JSON); use 'zrelay ctl EP stats'\n"
        "  --sndhwm N         send high-water mark, messages (default "
        "1000)\n"
        "  --rcvhwm N         receive high-water mark, messages (default "
        "1000)\n"
        "  --max-msg-size B   largest frame accepted (ZMQ_MAXMSGSIZE; k, M, "
        "G\n"
        "                     suffixes); a peer sending more is "
        "disconnected\n"
        "                     by libzmq (default: no limit)\n"
        "  --io-threads N     libzmq I/O threads (default 1)\n"
        "  --linger D         at stop, time to deliver what the relay "
        "holds\n"
        "                     (default 1s; 500ms, 2s, a bare number is ms)\n"
        "  -v, --verbose      more log lines on stderr (-vv: debug)\n"
        "  -h, --help         this text\n"
        "\n"
        "Once every endpoint is up it prints one line per endpoint,\n"
        "'ROLE bind|connect ADDRESS' with the real port, then 'ready'.\n"
        "SIGINT or SIGTERM stop it cleanly (exit 0). Exit 1 on a runtime\n"
        "failure (a port in use), 2 on a usage error.\n"
        "\n"
        "Example:\n  %s\n",
        verb, verb, k->sockets, k->front_who, k->back_who, k->example);
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
    signal(SIGPIPE, SIG_IGN);
}

/* "frontend bind tcp://127.0.0.1:5559" per endpoint, then "ready". */
static void
s_print_endpoints(zr_device_t *dev, const s_kind_t *k)
{
    size_t n = zr_device_endpoint_count(dev);
    for (size_t i = 0; i < n; i++) {
        const char *role, *address;
        bool bind;
        zr_device_endpoint(dev, i, &role, &bind, &address);
        printf("%s %s %s\n", role, bind ? "bind" : "connect", address);
        if (bind && strcmp(role, "frontend") == 0) {
            ZR_LOG_N("%s: %s", address, k->front_who);
        }
        else if (bind && strcmp(role, "backend") == 0) {
            ZR_LOG_N("%s: %s", address, k->back_who);
        }
    }
    printf("ready\n");
    fflush(stdout);
}

int
cmd_device(zr_device_type_t type, int argc, char **argv)
{
    const s_kind_t *k = s_kind(type);
    const char *verb = zr_device_type_name(type);
    enum {
        O_CAPTURE = 256,
        O_CONTROL,
        O_SNDHWM,
        O_RCVHWM,
        O_MAXMSG,
        O_LINGER,
        O_IOTHREADS
    };
    static const struct option options[] = {
        {"capture", required_argument, NULL, O_CAPTURE},
        {"control", required_argument, NULL, O_CONTROL},
        {"sndhwm", required_argument, NULL, O_SNDHWM},
        {"rcvhwm", required_argument, NULL, O_RCVHWM},
        {"max-msg-size", required_argument, NULL, O_MAXMSG},
        {"linger", required_argument, NULL, O_LINGER},
        {"io-threads", required_argument, NULL, O_IOTHREADS},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *capture = NULL, *control = NULL;
    int64_t sndhwm = -1, rcvhwm = -1, maxmsg = -1, linger = -1;
    int64_t io_threads = 1;
    int verbosity = 0;
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":vh", options, NULL)) != -1) {
        switch (opt) {
        case O_CAPTURE: capture = optarg; break;
        case O_CONTROL: control = optarg; break;
        case O_SNDHWM:
            if (cli_int("--sndhwm", optarg, 0, INT32_MAX, &sndhwm) != 0) {
                return CLI_USAGE;
            }
            break;
        case O_RCVHWM:
            if (cli_int("--rcvhwm", optarg, 0, INT32_MAX, &rcvhwm) != 0) {
                return CLI_USAGE;
            }
            break;
        case O_MAXMSG:
            if (cli_size("--max-msg-size", optarg, &maxmsg) != 0) {
                return CLI_USAGE;
            }
            break;
        case O_LINGER:
            if (cli_duration("--linger", optarg, &linger) != 0) {
                return CLI_USAGE;
            }
            break;
        case O_IOTHREADS:
            if (cli_int("--io-threads", optarg, 1, 64, &io_threads) != 0) {
                return CLI_USAGE;
            }
            break;
        case 'v': verbosity++; break;
        case 'h': s_help(k, stdout); return CLI_OK;
        case ':':
            return cli_error(CLI_USAGE, "%s: option '%s' needs a value", verb,
                             argv[optind - 1]);
        default: return cli_bad_option(verb, argv, optind, options);
        }
    }
    int npos = argc - optind;
    if (npos != 2) {
        return cli_error(CLI_USAGE,
                         "%s: expected FRONTEND and BACKEND endpoints, got "
                         "%d argument%s (see 'zrelay %s --help')",
                         verb, npos, npos == 1 ? "" : "s", verb);
    }
    cli_log_to_stderr(verbosity);

    void *ctx = zmq_ctx_new();
    if (!ctx || zmq_ctx_set(ctx, ZMQ_IO_THREADS, (int) io_threads) != 0) {
        return cli_error(CLI_FAILURE, "cannot create a ZeroMQ context: %s",
                         zr_strerror(errno));
    }
    zr_device_t *dev = zr_device_new(ctx, type, NULL);
    if (!dev) {
        zmq_ctx_term(ctx);
        return cli_error(CLI_FAILURE, "cannot create %s: %s", verb,
                         zr_strerror(errno));
    }
    int status = CLI_OK;
    if (zr_device_set_frontend(dev, argv[optind]) != 0 ||
        zr_device_set_backend(dev, argv[optind + 1]) != 0 ||
        (capture && zr_device_set_capture(dev, capture) != 0) ||
        (control && zr_device_set_control(dev, control) != 0) ||
        (sndhwm >= 0 && zr_device_set_sndhwm(dev, (int) sndhwm) != 0) ||
        (rcvhwm >= 0 && zr_device_set_rcvhwm(dev, (int) rcvhwm) != 0) ||
        (maxmsg >= 0 && zr_device_set_max_msg_size(dev, maxmsg) != 0) ||
        (linger >= 0 && zr_device_set_linger(dev, (int) linger) != 0)) {
        status = cli_error(CLI_USAGE, "%s", zr_device_error(dev));
        goto done;
    }
    if (zr_device_open(dev) != 0) {
        status = cli_error(CLI_FAILURE, "%s", zr_device_error(dev));
        goto done;
    }
    s_running = dev;
    s_install_signals();
    s_print_endpoints(dev, k);
    if (zr_device_run(dev) != 0) {
        status = cli_error(CLI_FAILURE, "%s", zr_device_error(dev));
    }
    s_running = NULL;
    if (verbosity) {
        char *json = zr_device_stats_json(dev);
        ZR_LOG_I("final statistics: %s", json ? json : "?");
        free(json);
    }
done:
    zr_device_destroy(&dev);
    zmq_ctx_term(ctx);
    return status;
}
