/* cmd_client.c - `zrelay pub|sub|req|rep|push|pull|dealer|router|pair`:
 * a ZeroMQ socket of each type for the shell, to poke a broker without
 * writing a program (as nngcat, nats pub/sub or mosquitto_pub/sub do).
 * Messages in come from --data/--file or standard input; messages out are
 * printed in one of cli_format.c's formats. This is a verb's run from
 * start to end; client.h says which file does what.
 * SPDX-License-Identifier: MIT
 */
#include "client.h"

#include <errno.h>
#include <unistd.h>

/* Open the socket, wait at --sync, send and receive: the exit status. */
static int
s_run(client_t *c)
{
    const char *name = c->verb->name;
    cli_log_to_stderr(c->verbosity);
    if (client_signal_install() != 0) {
        return cli_error(CLI_FAILURE, "%s: signal pipe: %s", name,
                         zr_strerror(errno));
    }
    int status = client_open(c);
    if (status == CLI_OK && c->sync) {
        status = client_sync(c);
    }
    if (status != CLI_OK) {
        return status;
    }
    if (c->src.fd >= 0 && isatty(c->src.fd)) {
        fprintf(stderr,
                "zrelay: %s: sending each line of standard input (Ctrl-D "
                "ends it)\n",
                name);
    }
    return client_loop(c);
}

int
cmd_client(int socket_type, int argc, char **argv)
{
    const client_verb_t *v = client_verb(socket_type);
    if (!v) {
        return cli_error(CLI_USAGE, "no client verb for socket type %d",
                         socket_type);
    }
    client_t c;
    int status = client_init(&c, v, argc) == 0
                     ? client_parse(&c, argc, argv)
                     : cli_error(CLI_FAILURE, "out of memory");
    if (status < 0 && v->role != CLIENT_RECV) {
        status = client_build_input(&c);
        status = status == CLI_OK ? -1 : status;
    }
    if (status < 0) {
        status = s_run(&c);
    }
    status = client_close(&c, status);
    client_free(&c);
    return status;
}
