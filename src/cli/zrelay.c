/* zrelay.c - the zrelay command: one verb per job, each in a cmd_*.c.
 * SPDX-License-Identifier: MIT
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static const char *s_usage =
    "usage: zrelay VERB [OPTIONS] [ARGS]\n"
    "\n"
    "ZeroMQ middleware: proxies, queues, forwarders and streamers.\n"
    "\n"
    "The daemon:\n"
    "  run [CONFIG]                every device of a config file (without "
    "one:\n"
    "                              the seed's topology on loopback)\n"
    "  check CONFIG                validate a config file without starting\n"
    "\n"
    "One device in the foreground (until Ctrl-C, SIGTERM or TERMINATE):\n"
    "  forwarder FRONTEND BACKEND  pub/sub: XSUB <- publishers, XPUB -> "
    "subscribers\n"
    "  queue FRONTEND BACKEND      request/reply: ROUTER <- clients, DEALER "
    "-> workers\n"
    "  streamer FRONTEND BACKEND   pipeline: PULL <- producers, PUSH -> "
    "consumers\n"
    "  majordomo ENDPOINT...       Majordomo broker (MDP/0.1, 0.2, MMI): "
    "one ROUTER\n"
    "                              for clients and workers\n"
    "\n"
    "Clients, to poke a relay from the shell (a bare endpoint connects):\n"
    "  pub|push ENDPOINT...        send --data, or lines of standard input\n"
    "  sub|pull ENDPOINT...        print what arrives (sub --topic T)\n"
    "  req ENDPOINT...             send requests, print the replies\n"
    "  rep ENDPOINT...             print requests, answer (--echo, --data)\n"
    "  dealer|router|pair ENDPOINT...\n"
    "                              send and print both ways\n"
    "  xpub|xsub ENDPOINT...       pub and sub that see subscriptions\n"
    "  stream ENDPOINT...          raw TCP: a peer's identity, then bytes\n"
    "\n"
    "Majordomo, from the shell (docs/MAJORDOMO.md):\n"
    "  mdp-call SERVICE [BODY...]  one request to a service, print the "
    "reply\n"
    "                              (resends, --broker failover)\n"
    "  mdp-worker SERVICE --exec CMD\n"
    "                              serve it: CMD per request, stdin to "
    "stdout\n"
    "\n"
    "Steering:\n"
    "  ctl [EP] COMMAND [NAME]     ask a running relay: list, stats,\n"
    "                              statistics, pause, resume, stop, start,\n"
    "                              reload, terminate (see 'zrelay ctl "
    "--help')\n"
    "  top [EP]                    a live view: rates, drops, connections\n"
    "                              per device (q quits; --once, --json)\n"
    "\n"
    "Security (docs/SECURITY.md):\n"
    "  keygen NAME [--force]       write a CURVE certificate pair: NAME and\n"
    "                              NAME_secret (mode 0600)\n"
    "\n"
    "Endpoints: '@tcp://*:5559' binds, '>tcp://host:5559' connects; devices\n"
    "bind a bare endpoint. Lists mix both: '@tcp://*:5559,>ipc:///run/a'.\n"
    "\n"
    "Options:\n"
    "  -h, --help     this text; 'zrelay VERB --help' for a verb's own\n"
    "  -V, --version  zrelay's and libzmq's versions\n"
    "\n"
    "Durations: 500ms, 2s, 1m; a bare number is milliseconds.\n"
    "\n"
    "Exit status: 0 clean stop, 1 runtime failure, 2 usage error (client\n"
    "verbs: 3 when --timeout ran out; req, mdp-call: 4 on a ZRELAY-ERROR\n"
    "reply).\n"
    "Documentation: zrelay(1), README.md, docs/.\n";

int
cli_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("zrelay: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

int64_t
cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
cli_int(const char *option, const char *value, int64_t min, int64_t max,
        int64_t *out)
{
    if (zr_parse_int(value, min, max, out) != 0) {
        cli_error(0, "%s: '%s' is not a whole number from %lld to %lld", option,
                  value, (long long) min, (long long) max);
        return -1;
    }
    return 0;
}

int
cli_size(const char *option, const char *value, int64_t *out)
{
    if (zr_parse_size(value, out) != 0) {
        cli_error(0, "%s: '%s' is not a size (bytes, or with k, M, G)", option,
                  value);
        return -1;
    }
    return 0;
}

int
cli_duration(const char *option, const char *value, int64_t *out)
{
    if (zr_parse_duration(value, out) != 0) {
        /* Microseconds that are not whole milliseconds: the rule, not a
         * list of examples the value seems to follow. */
        char *end;
        long long us = strtoll(value, &end, 10);
        if (end != value && us >= 0 && strcmp(end, "us") == 0) {
            cli_error(0, "%s: '%s' is not whole milliseconds (2000us is 2ms)",
                      option, value);
            return -1;
        }
        cli_error(0,
                  "%s: '%s' is not a duration (500ms, 2s, 1m; a bare "
                  "number is milliseconds)",
                  option, value);
        return -1;
    }
    if (*out > INT32_MAX) {
        cli_error(0, "%s: '%s' is too long (at most %d ms, about 24 days)",
                  option, value, INT32_MAX);
        return -1;
    }
    return 0;
}

int
cli_bad_option(const char *verb, char **argv, int optind,
               const struct option *options)
{
    const char *arg = argv[optind - 1];
    if (strncmp(arg, "--", 2) == 0) {
        size_t len = strcspn(arg + 2, "=");
        int matches = 0;
        for (const struct option *o = options; o->name; o++) {
            matches += strncmp(o->name, arg + 2, len) == 0;
        }
        if (matches > 1) {
            fprintf(stderr, "zrelay: %s: option '%.*s' is ambiguous:", verb,
                    (int) len + 2, arg);
            for (const struct option *o = options; o->name; o++) {
                if (strncmp(o->name, arg + 2, len) == 0) {
                    fprintf(stderr, " --%s", o->name);
                }
            }
            fputc('\n', stderr);
            return CLI_USAGE;
        }
    }
    return cli_error(CLI_USAGE,
                     "%s: unknown option '%s' (see 'zrelay %s --help')", verb,
                     arg, verb);
}

int
cli_flag_value(const char *verb, const char *name, const char *value)
{
    return cli_error(CLI_USAGE,
                     "%s: --%s takes no separate value: write --%s, --no-%s "
                     "or --%s=%s",
                     verb, name, name, name, name, value);
}

static int
s_version(void)
{
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    printf("zrelay %s (libzmq %d.%d.%d)\n", zr_version(), major, minor, patch);
    return CLI_OK;
}

int
main(int argc, char **argv)
{
    /* Before any context or socket: libzmq numbers a ROUTER's anonymous
     * peers from rand(), which nothing else seeds (issue 14.1). */
    zr_seed_random();
    if (argc < 2) {
        fputs(s_usage, stderr);
        return CLI_USAGE;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "-h") == 0 || strcmp(verb, "--help") == 0 ||
        strcmp(verb, "help") == 0) {
        fputs(s_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(verb, "-V") == 0 || strcmp(verb, "--version") == 0 ||
        strcmp(verb, "version") == 0) {
        return s_version();
    }
    int type = zr_device_type_from_name(verb);
    if (type > 0) {
        return cmd_device((zr_device_type_t) type, argc - 1, argv + 1);
    }
    static const struct {
        const char *name;
        int type;
    } clients[] = {
        {"pub", ZMQ_PUB},       {"sub", ZMQ_SUB},       {"req", ZMQ_REQ},
        {"rep", ZMQ_REP},       {"push", ZMQ_PUSH},     {"pull", ZMQ_PULL},
        {"dealer", ZMQ_DEALER}, {"router", ZMQ_ROUTER}, {"pair", ZMQ_PAIR},
        {"xpub", ZMQ_XPUB},     {"xsub", ZMQ_XSUB},     {"stream", ZMQ_STREAM}};
    for (size_t i = 0; i < sizeof clients / sizeof clients[0]; i++) {
        if (strcmp(verb, clients[i].name) == 0) {
            return cmd_client(clients[i].type, argc - 1, argv + 1);
        }
    }
    if (strcmp(verb, "ctl") == 0) {
        return cmd_ctl(argc - 1, argv + 1);
    }
    if (strcmp(verb, "top") == 0) {
        return cmd_top(argc - 1, argv + 1);
    }
    if (strcmp(verb, "run") == 0) {
        return cmd_run(argc - 1, argv + 1);
    }
    if (strcmp(verb, "check") == 0) {
        return cmd_check(argc - 1, argv + 1);
    }
    if (strcmp(verb, "keygen") == 0) {
        return cmd_keygen(argc - 1, argv + 1);
    }
    if (strcmp(verb, "mdp-call") == 0) {
        return cmd_mdp_call(argc - 1, argv + 1);
    }
    if (strcmp(verb, "mdp-worker") == 0) {
        return cmd_mdp_worker(argc - 1, argv + 1);
    }
    if (verb[0] == '-') {
        return cli_error(CLI_USAGE,
                         "unknown option '%s' (a verb comes first; see "
                         "'zrelay --help')",
                         verb);
    }
    return cli_error(
        CLI_USAGE,
        "unknown verb '%s' (run, check, keygen, forwarder, queue, "
        "streamer, majordomo, mdp-call, mdp-worker, ctl, top, pub, sub, "
        "req, rep, push, pull, "
        "dealer, router, pair, xpub, xsub, stream; see 'zrelay "
        "--help')",
        verb);
}
