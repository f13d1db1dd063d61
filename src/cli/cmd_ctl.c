/* cmd_ctl.c - `zrelay ctl`: the client of the control protocol
 * (docs/CONTROL.md).
 * SPDX-License-Identifier: MIT
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static const char *s_help =
    "usage: zrelay ctl [EP] COMMAND [NAME] [--json] [--timeout D] [-c "
    "CONFIG]\n"
    "\n"
    "Ask a running relay through its control endpoint: the daemon's\n"
    "(zrelay run) or one device's (--control).\n"
    "  EP       the control endpoint (an argument containing '://'); "
    "default\n"
    "           -c CONFIG's, else " CLI_DEFAULT_CONTROL " (the daemon's)\n"
    "  COMMAND  list        the daemon's devices, their state and "
    "endpoints\n"
    "           stats       counters per socket, drops by reason, "
    "connections\n"
    "                       (of every device, or of NAME)\n"
    "           statistics  libzmq's 8 STATISTICS numbers, as "
    "zmq_proxy_steerable\n"
    "           pause       stop forwarding NAME (messages wait in the "
    "queues)\n"
    "           resume      forward again\n"
    "           stop        stop the device NAME; it stays listed, "
    "stopped\n"
    "                       (a device's own endpoint: as terminate)\n"
    "           start       start the stopped device NAME again, from its\n"
    "                       section of the daemon's config\n"
    "           reload      re-read the daemon's config (as SIGHUP)\n"
    "           terminate   stop the daemon (or the device) and exit\n"
    "  NAME     the device meant; a device's own control endpoint refuses\n"
    "           another name\n"
    "\n"
    "Options:\n"
    "  --json          print the reply as JSON, for scripts\n"
    "  --timeout D     give up without a reply after D (default 2s; "
    "500ms, 2s;\n"
    "                  a bare number is milliseconds)\n"
    "  -c, --config F  use the control endpoint of config file F\n"
    /* clang-format off */
    CLI_CTL_AUTH_HELP
    /* clang-format on */
    "  -h, --help      this text\n"
    "\n"
    "Exit status: 0 answered, 1 no reply or an error reply, 2 usage error.\n"
    "Example: zrelay ctl tcp://127.0.0.1:6000 stats\n";

typedef struct {
    const char *verb;
    const char *wire; /* the command on the wire */
    const char *done; /* printed on success */
} s_command_t;

static const s_command_t s_commands[] = {
    {"list", "LIST", NULL},
    {"reload", "RELOAD", "reloaded"},
    {"stats", "STATS", NULL},
    {"statistics", "STATISTICS", NULL},
    {"pause", "PAUSE", "paused"},
    {"resume", "RESUME", "resumed"},
    {"stop", "STOP", "stopped"},
    {"start", "START", "started"},
    {"terminate", "TERMINATE", "terminated"},
};

static void
s_print_drops(const char *label, cJSON *side)
{
    cJSON *drops = cJSON_GetObjectItem(side, "drops");
    double total = 0;
    cJSON *d;
    cJSON_ArrayForEach(d, drops)
    {
        total += d->valuedouble;
    }
    printf("%-9s %12.0f %12.0f %14.0f %12.0f %12.0f %14.0f %9.0f\n", label,
           cJSON_GetNumberValue(cJSON_GetObjectItem(side, "msgs_in")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(side, "frames_in")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(side, "bytes_in")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(side, "msgs_out")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(side, "frames_out")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(side, "bytes_out")), total);
}

static void
s_print_drop_reasons(const char *label, cJSON *side)
{
    cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(side, "drops"))
    {
        if (d->valuedouble > 0) {
            printf("  %s dropped, %s: %.0f\n", label, d->string,
                   d->valuedouble);
        }
    }
}

/* "NAME: key n, key n" for the numbers and strings of OBJ, then the same
 * for each object in it ("broker.workers: ..."). */
static void
s_print_numbers(const char *name, cJSON *obj)
{
    cJSON *field;
    const char *sep = " ";
    bool any = false;
    cJSON_ArrayForEach(field, obj)
    {
        if (cJSON_IsNumber(field) || cJSON_IsString(field)) {
            if (!any) {
                printf("%s:", name);
                any = true;
            }
            if (cJSON_IsNumber(field)) {
                printf("%s%s %.0f", sep, field->string, field->valuedouble);
            }
            else {
                printf("%s%s %s", sep, field->string, field->valuestring);
            }
            sep = ", ";
        }
    }
    if (any) {
        printf("\n");
    }
    cJSON_ArrayForEach(field, obj)
    {
        if (cJSON_IsObject(field)) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s.%s", name, field->string);
            s_print_numbers(sub, field);
        }
    }
}

/* A readable table of one device's STATS object. */
static void
s_print_device(cJSON *dev)
{
    /* A device verb's device is named after its type: say it once. */
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(dev, "type"));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(dev, "name"));
    bool same = type && name && strcmp(type, name) == 0;
    printf("%s%s%s: %s\n", same ? "" : type, same ? "" : " ", name,
           cJSON_GetStringValue(cJSON_GetObjectItem(dev, "state")));
    printf("%-9s %12s %12s %14s %12s %12s %14s %9s\n", "socket", "msgs in",
           "frames in", "bytes in", "msgs out", "frames out", "bytes out",
           "dropped");
    s_print_drops("frontend", cJSON_GetObjectItem(dev, "frontend"));
    s_print_drops("backend", cJSON_GetObjectItem(dev, "backend"));
    s_print_drop_reasons("frontend", cJSON_GetObjectItem(dev, "frontend"));
    s_print_drop_reasons("backend", cJSON_GetObjectItem(dev, "backend"));
    cJSON *cap = cJSON_GetObjectItem(dev, "capture");
    if (cJSON_IsTrue(cJSON_GetObjectItem(cap, "enabled"))) {
        printf("capture: %.0f messages copied, %.0f missed by slow "
               "listeners\n",
               cJSON_GetNumberValue(cJSON_GetObjectItem(cap, "msgs")),
               cJSON_GetNumberValue(cJSON_GetObjectItem(cap, "drops")));
    }
    const char *sides[2] = {"frontend", "backend"};
    for (int i = 0; i < 2; i++) {
        cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(dev, sides[i]),
                                       "connections");
        if (!c) {
            continue;
        }
        printf(
            "%s connections: %.0f open (%.0f accepted, %.0f made, %.0f "
            "closed, %.0f failed handshakes)\n",
            sides[i], cJSON_GetNumberValue(cJSON_GetObjectItem(c, "connected")),
            cJSON_GetNumberValue(cJSON_GetObjectItem(c, "accepted")),
            cJSON_GetNumberValue(cJSON_GetObjectItem(c, "connected_out")),
            cJSON_GetNumberValue(cJSON_GetObjectItem(c, "disconnected")),
            cJSON_GetNumberValue(cJSON_GetObjectItem(c, "handshake_failed")));
    }
    /* The forwarder's extras, and whatever later handlers report: every
     * other object of numbers as one line. */
    static const char *known[] = {"frontend", "backend", "capture", "control"};
    cJSON *item;
    cJSON_ArrayForEach(item, dev)
    {
        bool skip = !cJSON_IsObject(item);
        for (size_t i = 0; !skip && i < sizeof known / sizeof known[0]; i++) {
            skip = strcmp(item->string, known[i]) == 0;
        }
        if (skip) {
            continue;
        }
        s_print_numbers(item->string, item);
    }
    cJSON *ctl = cJSON_GetObjectItem(dev, "control");
    double commands =
        cJSON_GetNumberValue(cJSON_GetObjectItem(ctl, "commands"));
    if (commands > 0) {
        printf("control: %.0f command%s, %.0f refused\n", commands,
               commands == 1 ? "" : "s",
               cJSON_GetNumberValue(cJSON_GetObjectItem(ctl, "errors")));
    }
    printf("cpu: %.3f s in %.0f polls\n",
           cJSON_GetNumberValue(cJSON_GetObjectItem(dev, "cpu_seconds")),
           cJSON_GetNumberValue(cJSON_GetObjectItem(dev, "polls")));
}

static int
s_print_stats(const char *text, size_t len, bool json)
{
    if (json) {
        printf("%.*s\n", (int) len, text);
        return CLI_OK;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        return cli_error(CLI_FAILURE, "ctl: the reply is not JSON: %.*s",
                         (int) (len > 200 ? 200 : len), text);
    }
    cJSON *devices = cJSON_GetObjectItem(root, "devices");
    if (cJSON_IsArray(devices)) {
        cJSON *dev;
        bool first = true;
        cJSON_ArrayForEach(dev, devices)
        {
            if (!first) {
                printf("\n");
            }
            first = false;
            s_print_device(dev);
        }
    }
    else {
        s_print_device(root);
    }
    cJSON_Delete(root);
    return CLI_OK;
}

static int
s_print_list(const char *text, size_t len, bool json)
{
    if (json) {
        printf("%.*s\n", (int) len, text);
        return CLI_OK;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    cJSON *devices = cJSON_GetObjectItem(root, "devices");
    if (!cJSON_IsArray(devices)) {
        cJSON_Delete(root);
        return cli_error(CLI_FAILURE,
                         "ctl: the reply is not a device list: "
                         "%.*s",
                         (int) (len > 200 ? 200 : len), text);
    }
    printf("%-16s %-9s %-8s %-8s %-7s %s\n", "DEVICE", "TYPE", "STATE", "ROLE",
           "MODE", "ADDRESS");
    cJSON *dev;
    cJSON_ArrayForEach(dev, devices)
    {
        cJSON *ep;
        cJSON_ArrayForEach(ep, cJSON_GetObjectItem(dev, "endpoints"))
        {
            printf("%-16s %-9s %-8s %-8s %-7s %s\n",
                   cJSON_GetStringValue(cJSON_GetObjectItem(dev, "name")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(dev, "type")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(dev, "state")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(ep, "role")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(ep, "mode")),
                   cJSON_GetStringValue(cJSON_GetObjectItem(ep, "address")));
        }
    }
    cJSON_Delete(root);
    return CLI_OK;
}

static int
s_print_statistics(zmq_msg_t *frames, int n, bool json)
{
    static const char *names[8] = {"frontend_msgs_in",  "frontend_bytes_in",
                                   "frontend_msgs_out", "frontend_bytes_out",
                                   "backend_msgs_in",   "backend_bytes_in",
                                   "backend_msgs_out",  "backend_bytes_out"};
    if (n != 8) {
        return cli_error(CLI_FAILURE,
                         "ctl: STATISTICS reply has %d frames, not 8", n);
    }
    uint64_t v[8];
    for (int i = 0; i < 8; i++) {
        if (zmq_msg_size(&frames[i]) != sizeof v[i]) {
            return cli_error(CLI_FAILURE,
                             "ctl: STATISTICS frame %d is %zu bytes, not 8", i,
                             zmq_msg_size(&frames[i]));
        }
        memcpy(&v[i], zmq_msg_data(&frames[i]), sizeof v[i]);
    }
    for (int i = 0; i < 8; i++) {
        if (json) {
            printf("%s\"%s\":%" PRIu64 "%s", i ? "," : "{", names[i], v[i],
                   i == 7 ? "}\n" : "");
        }
        else {
            printf("%-20s %" PRIu64 "\n", names[i], v[i]);
        }
    }
    return CLI_OK;
}

/* What the command line asks. */
typedef struct {
    bool json;
    int64_t timeout;
    const char *config, *endpoint, *name;
    cli_ctl_auth_t auth; /* the client's side of CURVE and PLAIN */
    const s_command_t *cmd;
    char from_config[512];
} s_ask_t;

/* Options, then [EP] COMMAND [NAME]: -1 to go on, or the exit status. */
static int
s_parse(s_ask_t *a, int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"timeout", required_argument, NULL, 't'},
        {"config", required_argument, NULL, 'c'},
        CLI_CTL_AUTH_OPTIONS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":hc:", options, NULL)) != -1) {
        if (cli_ctl_auth_option(&a->auth, opt, optarg)) {
            continue;
        }
        switch (opt) {
        case 'j': a->json = true; break;
        case 'c': a->config = optarg; break;
        case 't':
            if (cli_duration("--timeout", optarg, &a->timeout) != 0) {
                return CLI_USAGE;
            }
            break;
        case 'h': fputs(s_help, stdout); return CLI_OK;
        case ':':
            return cli_error(CLI_USAGE, "ctl: option '%s' needs a value",
                             argv[optind - 1]);
        default: return cli_bad_option("ctl", argv, optind, options);
        }
    }
    const char *verb = NULL;
    for (int i = optind; i < argc; i++) {
        if (strstr(argv[i], "://") && !a->endpoint) {
            a->endpoint = argv[i];
        }
        else if (!verb) {
            verb = argv[i];
        }
        else if (!a->name) {
            a->name = argv[i];
        }
        else {
            return cli_error(CLI_USAGE, "ctl: unexpected argument '%s'",
                             argv[i]);
        }
    }
    if (!verb) {
        return cli_error(CLI_USAGE,
                         "ctl: which command? (list, stats, statistics, "
                         "pause, resume, stop, start, reload, terminate; see "
                         "'zrelay ctl --help')");
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++) {
        if (strcmp(verb, s_commands[i].verb) == 0) {
            a->cmd = &s_commands[i];
        }
    }
    if (!a->cmd) {
        return cli_error(CLI_USAGE,
                         "ctl: unknown command '%s' (list, stats, "
                         "statistics, pause, resume, stop, start, reload, "
                         "terminate)",
                         verb);
    }
    return -1;
}

/* Print the reply FRAMES (N of them) to A's command: the exit status. */
static int
s_print_reply(const s_ask_t *a, zmq_msg_t *frames, int n)
{
    const char *wire = a->cmd->wire;
    const char *text = n ? zmq_msg_data(&frames[0]) : "";
    size_t len = n ? zmq_msg_size(&frames[0]) : 0;
    if (n == 1 && len >= 5 && strncmp(text, "ERROR", 5) == 0) {
        return cli_error(CLI_FAILURE, "ctl: %s answered: %.*s", a->endpoint,
                         (int) len, text);
    }
    if (strcmp(wire, "STATISTICS") == 0) {
        return s_print_statistics(frames, n, a->json);
    }
    if (strcmp(wire, "STATS") == 0) {
        return s_print_stats(text, len, a->json);
    }
    if (strcmp(wire, "LIST") == 0) {
        return s_print_list(text, len, a->json);
    }
    if (n == 1 && len == 0) {
        if (a->json) {
            printf("{\"ok\":true,\"result\":\"%s\"}\n", a->cmd->done);
        }
        else {
            printf("%s\n", a->cmd->done);
        }
        return CLI_OK;
    }
    return cli_error(CLI_FAILURE, "ctl: unexpected reply: %.*s",
                     (int) (len > 200 ? 200 : len), text);
}

/* Send A's request on REQ, wait for the reply, print it. */
static int
s_ask(const s_ask_t *a, void *req)
{
    const char *wire = a->cmd->wire;
    zmq_send(req, wire, strlen(wire), a->name ? ZMQ_SNDMORE : 0);
    if (a->name) {
        zmq_send(req, a->name, strlen(a->name), 0);
    }
    zmq_pollitem_t item = {.socket = req, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, (long) a->timeout) <= 0) {
        if (a->config) {
            /* The likeliest cause: [zrelay] control was edited, and the
             * daemon listens where the file said when it last read it. */
            return cli_error(
                CLI_FAILURE,
                "ctl: no reply from %s (the control endpoint of %s) within "
                "%lld ms. If [zrelay] control changed since the daemon "
                "started, the running daemon may still listen on the old "
                "endpoint: reload it with SIGHUP (kill -HUP PID, or "
                "systemctl reload zrelay) or with 'zrelay ctl OLD-ENDPOINT "
                "%s'",
                a->endpoint, a->config, (long long) a->timeout, a->cmd->verb);
        }
        return cli_error(CLI_FAILURE,
                         "ctl: no reply from %s within %lld ms (is a relay "
                         "running there with a control endpoint?)",
                         a->endpoint, (long long) a->timeout);
    }
    zmq_msg_t frames[16];
    int n = 0;
    bool more = true;
    while (more && n < 16) {
        zmq_msg_init(&frames[n]);
        if (zmq_msg_recv(&frames[n], req, 0) < 0) {
            zmq_msg_close(&frames[n]);
            break;
        }
        more = zmq_msg_more(&frames[n]);
        n++;
    }
    int status = s_print_reply(a, frames, n);
    for (int i = 0; i < n; i++) {
        zmq_msg_close(&frames[i]);
    }
    return status;
}

int
cmd_ctl(int argc, char **argv)
{
    s_ask_t a = {.timeout = 2000};
    int status = s_parse(&a, argc, argv);
    if (status >= 0) {
        return status;
    }
    if (!a.endpoint && a.config) {
        status = cli_ctl_config_endpoint("ctl", a.config, a.from_config,
                                         sizeof a.from_config);
        if (status != CLI_OK) {
            return status;
        }
        a.endpoint = a.from_config;
    }
    if (!a.endpoint) {
        a.endpoint = CLI_DEFAULT_CONTROL;
    }
    void *ctx = zmq_ctx_new();
    void *req = cli_ctl_socket(ctx, "ctl", a.endpoint, &a.auth, &status);
    if (req) {
        status = s_ask(&a, req);
        zmq_close(req);
    }
    zmq_ctx_term(ctx);
    return status;
}
