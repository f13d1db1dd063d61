/* client.h - what the client verbs' files share: `zrelay pub|sub|req|rep|
 * push|pull|dealer|router|pair`, a ZeroMQ socket of each type for the
 * shell. cmd_client.c runs a verb from start to end, with
 *   client_options.c  the verbs, their options and their --help
 *   client_input.c    the messages to send, from --data and --file
 *   client_socket.c   the socket: open, pub's --sync wait, close
 *   client_sockopt.c  --sockopt NAME=VALUE, libzmq's options by name
 *   client_loop.c     sending and receiving until done
 *   client_signal.c   SIGINT, SIGTERM and SIGHUP
 * SPDX-License-Identifier: MIT
 */
#ifndef ZR_CLIENT_H_INCLUDED
#define ZR_CLIENT_H_INCLUDED

#include "cli.h"
#include "cli_format.h"

#include <pthread.h>
#include <zmq.h>

/* What a verb does with its socket. */
typedef enum {
    CLIENT_SEND,  /* pub, push: send the input, then exit */
    CLIENT_RECV,  /* sub, pull: print what arrives */
    CLIENT_REQ,   /* req: send each message, print its reply */
    CLIENT_REP,   /* rep: print each request, answer it */
    CLIENT_DUPLEX /* dealer, router, pair: send the input, print what
                     arrives */
} client_role_t;
#define CLIENT_NROLES 5

typedef struct {
    const char *name;
    int type; /* ZMQ_PUB ... */
    client_role_t role;
    const char *what; /* the help's description */
    const char *example;
} client_verb_t;

/* A socket option to set, from --sockopt NAME=VALUE or a shorthand
 * (--reconnect-ivl, --tcp-keepalive). */
typedef enum {
    CLIENT_SOCKOPT_INT,
    CLIENT_SOCKOPT_INT64,
    CLIENT_SOCKOPT_STRING,
    CLIENT_SOCKOPT_BYTES /* 0x and hex is decoded */
} client_sockopt_kind_t;

typedef struct {
    const char *flag, *spec; /* for messages: "--sockopt", "NAME=VALUE" */
    int option;              /* ZMQ_... */
    client_sockopt_kind_t kind;
    int64_t num;       /* INT, INT64 */
    const char *value; /* STRING, BYTES */
} client_sockopt_t;

/* A --data or --file part of the message, in the order given. */
typedef struct {
    bool file;
    const char *arg;
} client_part_t;

typedef struct {
    const client_verb_t *verb;
    /* Options (client_options.c). */
    int64_t count; /* -1: none */
    int64_t interval, delay, timeout, linger, hwm, wait;
    const char *timeout_text, *linger_text;
    const char *sync, *sync_prefix, *identity, *frames_sep;
    /* auth lane: --curve-server-key, --curve-cert, --plain-user,
     * --plain-password (NULL: not given). */
    const char *curve_server_key, *curve_cert, *plain_user, *plain_password;
    bool echo, quiet, wait_given, help, timestamp;
    cli_format_t format;
    int input; /* --input: a cli_format_t (text, raw, json); -1: none */
    int verbosity;
    client_part_t *parts; /* argc of room */
    size_t nparts;
    const char **topics; /* argc of room */
    size_t ntopics;
    zr_endpoints_t **eps;
    size_t neps;
    client_sockopt_t *sockopts; /* 2 * argc of room */
    size_t nsockopts;
    /* The run. */
    cli_input_t src;
    cli_msg_t reply; /* rep, without --echo */
    void *ctx, *sock;
    int64_t received, sent, dropped;
    int64_t error_replies; /* req: "ZRELAY-ERROR ..." replies */
    /* req --retries (Lazy Pirate): requests sent again, at most, each on
     * a new socket to the next endpoint; which endpoint it is on now. */
    int64_t retries;
    size_t endpoint;
    char first_error[160];
} client_t;

/* Whether V's messages start with a peer's identity (router, stream). */
static inline bool
client_routes(const client_verb_t *v)
{
    return v->type == ZMQ_ROUTER || v->type == ZMQ_STREAM;
}

/* Whether C reads raw messages: --input raw, or --format raw without
 * --input. */
static inline bool
client_raw_input(const client_t *c)
{
    return c->input == CLI_FMT_RAW ||
           (c->input < 0 && c->format == CLI_FMT_RAW);
}

/* client_options.c. The verb for SOCKET_TYPE, or NULL. */
const client_verb_t *client_verb(int socket_type);
/* SELF for verb V, with every default; room for ARGC parts and topics.
 * -1 with ENOMEM. client_free frees what it and client_parse hold. */
int client_init(client_t *self, const client_verb_t *v, int argc);
void client_free(client_t *self);
/* The command line into SELF: options, what goes together, endpoints.
 * -1 to go on, or the exit status (after --help, CLI_OK). */
int client_parse(client_t *self, int argc, char **argv);
void client_help(const client_verb_t *v, FILE *out);

/* client_sockopt.c. SPEC (NAME=VALUE) into OUT; -1, having said why, for
 * an unknown NAME or a bad VALUE. */
int client_sockopt_parse(const char *verb, const char *spec,
                         client_sockopt_t *out);
/* An int option ZMQ_OPTION = VALUE, from FLAG SPEC, into OUT. */
void client_sockopt_int(client_sockopt_t *out, const char *flag,
                        const char *spec, int option, int64_t value);
/* Set O on SOCK: CLI_OK, or CLI_USAGE having said why libzmq refused. */
int client_sockopt_apply(const client_sockopt_t *o, void *sock,
                         const char *verb);

/* client_input.c. The messages to send (or rep's reply) from the parts,
 * or standard input. CLI_OK, or the exit status. */
int client_build_input(client_t *self);

/* pub --sync's deadline without --timeout. */
#define CLIENT_SYNC_TIMEOUT 10000
#define CLIENT_SYNC_TIMEOUT_TEXT "10s"

/* client_socket.c. Each returns CLI_OK or an exit status; client_close
 * returns STATUS, or CLI_FAILURE when --linger ran out. */
int client_open(client_t *self);
/* req --retries: a new socket (linger 0 for the old one) connected to
 * the next endpoint only; its address in *TO. */
int client_failover(client_t *self, const char **to);
int client_sync(client_t *self);
int client_close(client_t *self, int status);

/* client_loop.c. Send what there is to send and print what comes, until
 * done; the exit status. */
int client_loop(client_t *self);

/* client_signal.c. The first signal asks the verb to stop: the loop and
 * pub's --sync wait see it; a second one, or any once client_signal_hard
 * was called, ends the process at once. */
int client_signal_install(void);
/* The signal that asked to stop, 0 if none yet. */
int client_signal(void);
const char *client_signal_name(int sig);
/* Readable once a signal came: the loop polls it, so that a signal
 * between its look at client_signal() and its zmq_poll still wakes it. */
int client_signal_fd(void);
void client_signal_hard(void);
/* While pub waits in zr_sync_wait, which a signal interrupts only inside
 * its zmq_poll: a thread that shuts CTX down when a signal comes, which
 * ends the wait wherever it is. */
typedef struct {
    void *ctx;
    int stop[2];
    pthread_t thread;
} client_watch_t;
int client_watch_start(client_watch_t *self, void *ctx);
void client_watch_stop(client_watch_t *self);

#endif
