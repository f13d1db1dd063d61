/* cmd_run.c - `zrelay run` (the daemon) and `zrelay check` (a config
 * file's problems, without starting anything).
 * SPDX-License-Identifier: MIT
 */
#include "cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <zmq.h>

static const char *s_run_help =
    "usage: zrelay run [CONFIG | -c CONFIG] [OPTIONS]\n"
    "\n"
    "Run every device of CONFIG, each on a thread of its own, and serve the\n"
    "control endpoint ([zrelay] control, default " CLI_DEFAULT_CONTROL ")\n"
    "and, with [zrelay] http = ADDRESS:PORT, Prometheus /metrics, /stats,\n"
    "/healthz and /readyz over HTTP (the embedded default: 127.0.0.1:9558).\n"
    "Without CONFIG: the embedded default, the seed's topology on "
    "loopback\n"
    "(see --print-default). The config format is zrelay.conf(5).\n"
    "\n"
    "Options:\n"
    "  -c, --config F   run config file F (as CONFIG; 'zrelay ctl -c F'\n"
    "                   finds the same daemon's control endpoint)\n"
    "  --keep-going     start the devices that can start even when others\n"
    "                   cannot (default: refuse to start at all)\n"
    "  --print-default  print the embedded default as a config file to "
    "start\n"
    "                   from, and exit\n"
    "  --syslog         log to syslog (journald) instead of stderr\n"
    "  --log-format F   text (default) or json: one JSON object per line\n"
    "                   (time, level, device, event, msg, fields)\n"
    "  -v, --verbose    more log lines (-vv: debug)\n"
    "  -h, --help       this text\n"
    "\n"
    "Signals: SIGHUP reloads CONFIG (unchanged devices keep their\n"
    "connections), SIGTERM and SIGINT stop every device, each delivering\n"
    "what it holds within its linger, and exit 0. Under systemd it\n"
    "reports READY/RELOADING/STOPPING (Type=notify).\n"
    "Steer it with 'zrelay ctl [EP] list|stats|pause|resume|stop|start|"
    "reload|\nterminate'.\n"
    "Exit status: 0 clean stop, 1 a device or the control endpoint cannot\n"
    "start, 2 a usage error or a config with errors.\n";

static const char *s_check_help =
    "usage: zrelay check CONFIG\n"
    "       zrelay check - < CONFIG\n"
    "\n"
    "Validate CONFIG (- : standard input) without starting anything:\n"
    "section types and keys,\n"
    "values, endpoints, duplicate names, two devices binding the same\n"
    "endpoint. Prints every problem as FILE:LINE: what, and suggests the\n"
    "nearest key for a misspelt one.\n"
    "Exit status: 0 valid, 2 problems found or the file cannot be read.\n";

static zr_daemon_t *volatile s_daemon;

static void
s_on_stop(int sig)
{
    (void) sig;
    if (s_daemon) {
        zr_daemon_stop(s_daemon);
    }
}

static void
s_on_reload(int sig)
{
    (void) sig;
    if (s_daemon) {
        zr_daemon_reload(s_daemon);
    }
}

static void
s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = s_on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = s_on_reload;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void
s_notify(const char *state, void *arg)
{
    (void) arg;
    /* A no-op outside systemd (NOTIFY_SOCKET unset). */
    sd_notify(0, state);
}

static int
s_print_errors(const zr_config_t *config)
{
    size_t n = zr_config_error_count(config);
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "zrelay: %s\n", zr_config_error(config, i));
    }
    return (int) n;
}

/* What listens where, one line per endpoint:
 * "DEVICE TYPE ROLE bind|connect ADDRESS  who". */
static void
s_print_table(zr_daemon_t *daemon, const char *from)
{
    size_t n = zr_daemon_device_count(daemon);
    bool loopback = true;
    printf("zrelay %s: %zu device%s from %s\n", zr_version(), n,
           n == 1 ? "" : "s", from);
    for (size_t i = 0; i < n; i++) {
        zr_device_t *dev = zr_daemon_device(daemon, i);
        size_t neps = zr_device_endpoint_count(dev);
        for (size_t e = 0; e < neps; e++) {
            const char *role, *address;
            bool bind;
            zr_device_endpoint(dev, e, &role, &bind, &address);
            const char *who = cli_who(dev, role, bind);
            if (bind && strcmp(role, "sync") == 0) {
                /* The one a newcomer needs against the lost first
                 * message (the seed's S2). */
                who = "publishers wait here: zrelay pub --sync";
            }
            printf("  %-16s %-9s %-8s %-7s %-28s %s\n", zr_device_name(dev),
                   zr_device_type_name(zr_device_type(dev)), role,
                   bind ? "bind" : "connect", address, who ? who : "");
            if (bind && !zr_address_is_local(address)) {
                loopback = false;
            }
        }
    }
    printf("  %-16s %-9s %-8s %-7s %-28s %s\n", "-", "daemon", "control",
           "bind", zr_daemon_control(daemon), "zrelay ctl");
    if (!zr_address_is_local(zr_daemon_control(daemon))) {
        loopback = false; /* and the daemon warned about it */
    }
    const char *http = zr_daemon_http(daemon);
    if (http) {
        printf("  %-16s %-9s %-8s %-7s %-28s %s\n", "-", "daemon", "http",
               "bind", http, "status page, /metrics /stats /healthz /readyz");
        if (strncmp(http, "http://127.", 11) != 0 &&
            strncmp(http, "http://[::1]", 12) != 0) {
            loopback = false;
        }
    }
    if (loopback) {
        printf("Listening on loopback only. To open a device to the "
               "network, bind\n'*' or an address of this host instead "
               "(zrelay run --print-default\nshows the config to edit).\n");
    }
    printf("ready\n");
    fflush(stdout);
}

int
cmd_run(int argc, char **argv)
{
    enum { O_KEEP_GOING = 256, O_PRINT_DEFAULT, O_SYSLOG, O_LOG_FORMAT };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"keep-going", no_argument, NULL, O_KEEP_GOING},
        {"print-default", no_argument, NULL, O_PRINT_DEFAULT},
        {"syslog", no_argument, NULL, O_SYSLOG},
        {"log-format", required_argument, NULL, O_LOG_FORMAT},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool keep_going = false, use_syslog = false;
    int verbosity = 0, opt;
    const char *config_opt = NULL;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":vhc:", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config_opt = optarg; break;
        case ':':
            return cli_error(CLI_USAGE, "run: option '%s' needs a value",
                             argv[optind - 1]);
        case O_KEEP_GOING: keep_going = true; break;
        case O_PRINT_DEFAULT:
            fputs(zr_config_default_text(), stdout);
            return CLI_OK;
        case O_SYSLOG: use_syslog = true; break;
        case O_LOG_FORMAT:
            if (cli_log_format(optarg) != CLI_OK) {
                return CLI_USAGE;
            }
            break;
        case 'v': verbosity++; break;
        case 'h': fputs(s_run_help, stdout); return CLI_OK;
        default: return cli_bad_option("run", argv, optind, options);
        }
    }
    if (argc - optind > 1) {
        return cli_error(CLI_USAGE, "run: one CONFIG at most (see 'zrelay "
                                    "run --help')");
    }
    if (config_opt && argc - optind > 0) {
        return cli_error(CLI_USAGE,
                         "run: -c %s and CONFIG '%s': give the config file "
                         "once",
                         config_opt, argv[optind]);
    }
    const char *path = config_opt      ? config_opt
                       : optind < argc ? argv[optind]
                                       : NULL;
    if (path && strcmp(path, "-") == 0) {
        return cli_error(CLI_USAGE,
                         "run: a config from standard input cannot be read "
                         "again at reload: give a file ('zrelay check -' "
                         "checks standard input)");
    }
    if (use_syslog) {
        cli_log_to_syslog(verbosity);
    }
    else {
        cli_log_to_stderr(verbosity);
    }
    zr_config_t *config =
        path ? zr_config_load(path)
             : zr_config_parse(zr_config_default_text(), "<default>");
    if (!config) {
        return cli_error(CLI_FAILURE, "run: %s", zr_strerror(errno));
    }
    if (s_print_errors(config) > 0) {
        zr_config_destroy(&config);
        return CLI_USAGE;
    }
    if (zr_config_log_level(config) >= 0 && verbosity == 0) {
        zr_log_set_level((zr_log_level_t) zr_config_log_level(config));
    }
    zr_daemon_t *daemon = zr_daemon_new(NULL);
    if (!daemon) {
        zr_config_destroy(&config);
        return cli_error(CLI_FAILURE, "run: %s", zr_strerror(errno));
    }
    zr_daemon_set_notify(daemon, s_notify, NULL);
    zr_daemon_set_keep_going(daemon, keep_going);
    zr_daemon_set_config_log_level(daemon, verbosity == 0);
    s_daemon = daemon;
    s_signals();
    int status = CLI_OK;
    if (zr_daemon_start(daemon, config, path) != 0) {
        /* Devices that cannot start were each logged already: only the
         * count is news ("... (1 device failed; --keep-going ...)"). */
        const char *why = zr_daemon_error(daemon);
        const char *count = strrchr(why, '(');
        if (count && strstr(count, "failed; --keep-going")) {
            status = cli_error(CLI_FAILURE, "run: nothing started %s", count);
        }
        else {
            status = cli_error(CLI_FAILURE, "%s", why);
        }
    }
    else {
        s_print_table(daemon, path ? path : "the embedded default");
        if (zr_daemon_run(daemon) != 0) {
            status = cli_error(CLI_FAILURE, "run: %s", zr_strerror(errno));
        }
    }
    s_daemon = NULL;
    zr_daemon_destroy(&daemon);
    return status;
}

/* The warning 'zrelay run' logs when it binds such a control endpoint,
 * said before it runs. */
static void
s_warn_control(const char *spec)
{
    char err[256];
    zr_endpoints_t *eps = zr_endpoints_parse(spec, true, err, sizeof err);
    if (!eps) {
        return; /* the config's own check names what is wrong */
    }
    for (size_t i = 0; i < zr_endpoints_size(eps); i++) {
        const char *address = zr_endpoints_address(eps, i);
        if (zr_endpoints_is_bind(eps, i) && !zr_address_is_local(address)) {
            fprintf(stderr,
                    "zrelay: warning: control endpoint %s is reachable from "
                    "the network: anyone who can connect can pause, reload "
                    "or stop zrelay\n",
                    address);
        }
    }
    zr_endpoints_destroy(&eps);
}

int
cmd_check(int argc, char **argv)
{
    if (argc == 2 &&
        (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(s_check_help, stdout);
        return CLI_OK;
    }
    if (argc != 2 || (argv[1][0] == '-' && argv[1][1])) {
        return cli_error(CLI_USAGE, "check: expected one CONFIG file, or - "
                                    "for standard input (see 'zrelay check "
                                    "--help')");
    }
    zr_config_t *config = zr_config_load(argv[1]);
    if (!config) {
        return cli_error(CLI_FAILURE, "check: %s", zr_strerror(errno));
    }
    int errors = s_print_errors(config);
    if (errors == 0) {
        s_warn_control(zr_config_control(config));
        size_t n = zr_config_device_count(config);
        printf("%s: ok, %zu device%s, control %s\n",
               strcmp(argv[1], "-") ? argv[1] : "<stdin>", n, n == 1 ? "" : "s",
               zr_config_control(config));
    }
    zr_config_destroy(&config);
    return errors ? CLI_USAGE : CLI_OK;
}
