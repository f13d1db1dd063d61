/* client_input.c - what a client verb sends: the message of its --data
 * and --file parts (rep: its reply), the raw messages of a --file, or
 * standard input; read by cli_format.c's cli_input_next.
 * SPDX-License-Identifier: MIT
 */
#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* A raw --file PATH, DATA (LEN bytes, taken): every message is checked
 * before anything is sent. rep's reply goes into MSG; a sender's
 * messages become the input. */
static int
s_add_raw_file(client_t *c, const char *path, unsigned char *data, size_t len,
               cli_msg_t *msg)
{
    bool rep = c->verb->role == CLIENT_REP;
    char err[512];
    size_t pos = 0, nmsgs = 0;
    cli_msg_t scratch = {NULL, 0, 0};
    int rc;
    while ((rc = cli_raw_parse(data, len, &pos, &scratch, err, sizeof err)) ==
           1) {
        nmsgs++;
    }
    cli_msg_destroy(&scratch);
    if (rc == 0 && pos < len) {
        snprintf(err, sizeof err,
                 "raw input ends inside a message (%zu bytes left over): "
                 "truncated, or not the raw format",
                 len - pos);
        rc = -1;
    }
    if (rc < 0 || (rep && nmsgs != 1)) {
        free(data);
        return cli_error(CLI_USAGE, "%s: --file %s: %s", c->verb->name, path,
                         rc < 0 ? err
                                : "a raw reply file must hold exactly one "
                                  "message");
    }
    if (rep) {
        pos = 0;
        cli_raw_parse(data, len, &pos, msg, err, sizeof err);
        free(data);
        return CLI_OK;
    }
    c->src.kind = CLI_INPUT_STREAM;
    c->src.raw = true;
    c->src.buf = data;
    c->src.len = c->src.cap = len;
    c->src.eof = true;
    return CLI_OK;
}

/* One part onto MSG: a --data frame, a --file frame, or a raw --file. */
static int
s_add_part(client_t *c, const client_part_t *part, cli_msg_t *msg)
{
    const char *name = c->verb->name;
    if (!part->file) {
        return cli_msg_addstr(msg, part->arg) == 0
                   ? CLI_OK
                   : cli_error(CLI_FAILURE, "%s: out of memory", name);
    }
    unsigned char *data = NULL;
    size_t len = 0;
    char err[512];
    if (cli_read_file(part->arg, &data, &len, err, sizeof err) != 0) {
        return cli_error(CLI_USAGE, "%s: %s", name, err);
    }
    if (c->input == CLI_FMT_JSON) {
        c->src.kind = CLI_INPUT_STREAM; /* checked line by line */
        c->src.json = true;
        c->src.buf = data;
        c->src.len = c->src.cap = len;
        c->src.eof = true;
        return CLI_OK;
    }
    if (client_raw_input(c)) {
        return s_add_raw_file(c, part->arg, data, len, msg);
    }
    int rc = cli_msg_add(msg, data, len);
    free(data);
    return rc == 0 ? CLI_OK : cli_error(CLI_FAILURE, "%s: out of memory", name);
}

/* Where a sender's messages come from, and how many. */
static int
s_choose_source(client_t *c)
{
    cli_input_t *src = &c->src;
    /* dealer, router and pair count what they receive, not what they
     * send. */
    int64_t limit = c->verb->role == CLIENT_DUPLEX ? -1 : c->count;
    if (src->fixed.size) {
        /* Once, or with --interval for ever (-1), as nngcat does. */
        src->kind = CLI_INPUT_FIXED;
        src->limit = limit >= 0 ? limit : c->interval > 0 ? -1 : 1;
    }
    else if (src->kind == CLI_INPUT_NONE) {
        src->kind = CLI_INPUT_STREAM; /* standard input */
        src->raw = client_raw_input(c);
        src->json = c->input == CLI_FMT_JSON;
        src->fd = STDIN_FILENO;
        src->limit = limit;
    }
    else {
        src->limit = limit; /* a raw file */
    }
    if (client_routes(c->verb) && src->kind == CLI_INPUT_FIXED &&
        src->fixed.size < 2) {
        return cli_error(CLI_USAGE,
                         "%s: a message needs the peer's identity and at "
                         "least one more frame: give --data twice",
                         c->verb->name);
    }
    return CLI_OK;
}

int
client_build_input(client_t *self)
{
    self->src.sep = self->frames_sep;
    self->src.identity_first = client_routes(self->verb);
    bool rep = self->verb->role == CLIENT_REP;
    cli_msg_t *msg = rep ? &self->reply : &self->src.fixed;
    for (size_t i = 0; i < self->nparts; i++) {
        int status = s_add_part(self, &self->parts[i], msg);
        if (status != CLI_OK) {
            return status;
        }
    }
    return rep ? CLI_OK : s_choose_source(self);
}
