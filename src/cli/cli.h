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

int cmd_device(zr_device_type_t type, int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
/* keygen NAME [--force]: a CURVE certificate pair (cmd_keygen.c). */
int cmd_keygen(int argc, char **argv);
/* pub, sub, req, rep, push, pull, dealer, router, pair: a socket of
 * SOCKET_TYPE (ZMQ_PUB...) for the shell (cmd_client.c). */
#define CLI_TIMEOUT 3     /* a client verb's --timeout ran out */
#define CLI_ERROR_REPLY 4 /* req: a broker's "ZRELAY-ERROR" reply came */
int cmd_client(int socket_type, int argc, char **argv);

#endif
