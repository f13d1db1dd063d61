/* cli.h - what the zrelay command's verbs share.
 * SPDX-License-Identifier: MIT
 */
#ifndef ZR_CLI_H_INCLUDED
#define ZR_CLI_H_INCLUDED

#include "zrelay.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses: documented in zrelay(1). */
#define CLI_OK 0
#define CLI_FAILURE 1 /* a runtime failure: bind, no reply, ... */
#define CLI_USAGE 2   /* a usage error: unknown verb, bad option value */

/* The default control endpoint of `zrelay run` and `zrelay ctl`. */
#define CLI_DEFAULT_CONTROL "tcp://127.0.0.1:5558"

/* Print "zrelay: " + message to stderr; returns STATUS for tail calls. */
int cli_error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Log lines to stderr at LEVEL and above (-v: info, -vv: debug). */
void cli_log_to_stderr(int verbosity);
/* --log-format NAME: "text" or "json" (one object per line); CLI_OK, or
 * CLI_USAGE said. */
int cli_log_format(const char *name);
/* The same, to syslog (journald). Lines go through a bounded queue to a
 * writer thread of their own (cli_log.c): a log that does not keep up
 * loses lines, counted, and never holds a relay up. */
void cli_log_to_syslog(int verbosity);
/* The CLI's own log line at LEVEL, through the handler cli_log_to_stderr
 * installed, when zr_log_level() lets it through. */
void cli_log(zr_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Monotonic milliseconds. */
int64_t cli_now_ms(void);

/* Option values; on a bad value they print why and return -1. */
int cli_int(const char *option, const char *value, int64_t min, int64_t max,
            int64_t *out);
int cli_size(const char *option, const char *value, int64_t *out);
int cli_duration(const char *option, const char *value, int64_t *out);
/* After getopt_long returned '?': "unknown option" or "ambiguous option"
 * (a prefix of several long options). Returns CLI_USAGE. */
struct option;
int cli_bad_option(const char *verb, char **argv, int optind,
                   const struct option *options);

/* "--NAME true": a flag takes its value only after '=' (--NAME=true), so
 * VALUE would be read as an argument. Says so for VERB; CLI_USAGE. */
int cli_flag_value(const char *verb, const char *name, const char *value);

/* Help text: TEXT wrapped at 78 columns and indented; every option of a
 * device TYPE with its help and default. */
void cli_wrap(FILE *out, const char *text, int indent, int first_col);
void cli_option_help(FILE *out, zr_device_type_t type);

/* Who meets DEV at ROLE, bound there: "publishers (PUB/XPUB) connect
 * here"; NULL for a connect endpoint. */
const char *cli_who(const zr_device_t *dev, const char *role, bool bind);

/* The client side of a control endpoint, as `zrelay ctl` and `zrelay top`
 * take it (cli_control.c): the relay's CURVE key or PLAIN credentials. */
typedef struct {
    const char *curve_server_key, *curve_cert, *plain_user, *plain_password;
} cli_ctl_auth_t;
/* Their getopt_long codes and entries (with <getopt.h>), and help. */
#define CLI_OPT_CURVE_SERVER_KEY 'K'
#define CLI_OPT_CURVE_CERT 'C'
#define CLI_OPT_PLAIN_USER 'U'
#define CLI_OPT_PLAIN_PASSWORD 'P'
/* clang-format off */
#define CLI_CTL_AUTH_OPTIONS                                                   \
    {"curve-server-key", required_argument, NULL, CLI_OPT_CURVE_SERVER_KEY},   \
    {"curve-cert", required_argument, NULL, CLI_OPT_CURVE_CERT},               \
    {"plain-user", required_argument, NULL, CLI_OPT_PLAIN_USER},               \
    {"plain-password", required_argument, NULL, CLI_OPT_PLAIN_PASSWORD}
#define CLI_CTL_AUTH_HELP                                                      \
    "  --curve-server-key F  CURVE: the relay's public certificate\n"          \
    "  --curve-cert F  CURVE: this client's certificate (NAME_secret)\n"       \
    "  --plain-user U  PLAIN: the user (password from --plain-password P\n"    \
    "                  or ZRELAY_PLAIN_PASSWORD)\n"
/* clang-format on */
/* OPT (a code above) with VALUE into AUTH: false when OPT is another. */
bool cli_ctl_auth_option(cli_ctl_auth_t *auth, int opt, const char *value);
/* A REQ socket of CTX, secured as AUTH says, connected to ENDPOINT (a
 * bare endpoint connects); NULL after printing why, with *STATUS
 * CLI_USAGE or CLI_FAILURE. VERB prefixes the messages. */
void *cli_ctl_socket(void *ctx, const char *verb, const char *endpoint,
                     const cli_ctl_auth_t *auth, int *status);
/* The control endpoint of config file PATH, to connect to (a bind to
 * every interface is reached on loopback): CLI_OK, or the exit status. */
int cli_ctl_config_endpoint(const char *verb, const char *path, char *out,
                            size_t len);

int cmd_device(zr_device_type_t type, int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
/* top [EP]: a live view of a relay's devices over its control endpoint
 * (cmd_top.c). */
int cmd_top(int argc, char **argv);
/* keygen NAME [--force]: a CURVE certificate pair (cmd_keygen.c). */
int cmd_keygen(int argc, char **argv);
/* pub, sub, req, rep, push, pull, dealer, router, pair: a socket of
 * SOCKET_TYPE (ZMQ_PUB...) for the shell (cmd_client.c). */
#define CLI_TIMEOUT 3     /* a client verb's --timeout ran out */
#define CLI_ERROR_REPLY 4 /* req: a broker's "ZRELAY-ERROR" reply came */
int cmd_client(int socket_type, int argc, char **argv);
/* mdp-call SERVICE [BODY...] and mdp-worker SERVICE --exec CMD: a
 * Majordomo client and worker for the shell (cmd_mdp.c); they exit
 * CLI_TIMEOUT on no reply, CLI_ERROR_REPLY on a ZRELAY-ERROR reply. */
int cmd_mdp_call(int argc, char **argv);
int cmd_mdp_worker(int argc, char **argv);

#endif
