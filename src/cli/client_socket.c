/* client_socket.c - a client verb's socket: its options and endpoints,
 * pub's --sync wait, and the close that delivers what is queued within
 * --linger.
 * SPDX-License-Identifier: MIT
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static void
s_setint(void *sock, int option, int value)
{
    zmq_setsockopt(sock, option, &value, sizeof value);
}

/* XSUB has no ZMQ_SUBSCRIBE: it sends its subscriptions as messages, a
 * byte 1 and the topic, which it keeps and sends to every peer that
 * connects later. */
static int
s_xsub_subscribe(client_t *c)
{
    size_t n = c->ntopics ? c->ntopics : 1;
    for (size_t i = 0; i < n; i++) {
        const char *topic = c->ntopics ? c->topics[i] : "";
        size_t len = strlen(topic);
        zmq_msg_t msg;
        zmq_msg_init_size(&msg, len + 1);
        unsigned char *data = zmq_msg_data(&msg);
        data[0] = 1;
        memcpy(data + 1, topic, len);
        if (zmq_msg_send(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return cli_error(CLI_FAILURE, "%s: subscribe: %s", c->verb->name,
                             zr_strerror(errno));
        }
    }
    return CLI_OK;
}

/* auth lane (issue 14): CURVE or PLAIN client, before it connects. */
static int
s_secure(client_t *c)
{
    char err[600];
    const char *name = c->verb->name;
    const char *password = c->plain_password;
    if (!password && c->plain_user) {
        password = getenv("ZRELAY_PLAIN_PASSWORD");
    }
    if (c->curve_cert && !c->curve_server_key) {
        return cli_error(CLI_USAGE, "%s: --curve-cert needs --curve-server-key",
                         name);
    }
    if (c->curve_server_key && c->plain_user) {
        return cli_error(CLI_USAGE,
                         "%s: CURVE or PLAIN: a socket speaks one mechanism",
                         name);
    }
    if (c->curve_server_key &&
        zr_curve_client(c->sock, c->curve_server_key, c->curve_cert, err,
                        sizeof err) != 0) {
        return cli_error(CLI_USAGE, "%s: %s", name, err);
    }
    if ((c->plain_user || password) &&
        zr_plain_client(c->sock, c->plain_user ? c->plain_user : "",
                        password ? password : "", err, sizeof err) != 0) {
        return cli_error(CLI_USAGE, "%s: %s", name, err);
    }
    return CLI_OK;
}

/* The socket options the verb and its options ask for. */
static int
s_options(client_t *c)
{
    const client_verb_t *v = c->verb;
    s_setint(c->sock, ZMQ_LINGER, (int) c->linger);
    if (c->hwm >= 0) {
        s_setint(c->sock, ZMQ_SNDHWM, (int) c->hwm);
        s_setint(c->sock, ZMQ_RCVHWM, (int) c->hwm);
    }
    if (v->type == ZMQ_PUSH) {
        /* Queue only on connections that are up: a PUSH whose peer is not
         * there blocks (and --timeout can tell) instead of queueing for a
         * peer that may never come. Not on sockets that receive: libzmq
         * then drops what they received and had not read yet when the
         * peer disconnects (the pipe is terminated at once on reconnect),
         * so a reply sent just before the peer exits was lost. */
        s_setint(c->sock, ZMQ_IMMEDIATE, 1);
    }
    if (v->type == ZMQ_ROUTER) {
        /* A message for a gone peer is an error, not lost. */
        s_setint(c->sock, ZMQ_ROUTER_MANDATORY, 1);
    }
    if (c->identity) {
        unsigned char id[256];
        size_t len = strlen(c->identity);
        int n =
            len / 2 <= sizeof id ? cli_hex_decode(c->identity, len, id) : -1;
        const void *data = n >= 0 ? (const void *) id : c->identity;
        size_t size = n >= 0 ? (size_t) n : len;
        if (zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, data, size) != 0) {
            return cli_error(CLI_USAGE,
                             "%s: --identity '%s': %s (1 to 255 bytes, not "
                             "starting with a zero byte)",
                             v->name, c->identity, zr_strerror(errno));
        }
    }
    if (s_secure(c) != CLI_OK) {
        return CLI_USAGE;
    }
    if (v->type == ZMQ_XSUB) {
        return s_xsub_subscribe(c);
    }
    for (size_t i = 0; i < c->ntopics; i++) {
        zmq_setsockopt(c->sock, ZMQ_SUBSCRIBE, c->topics[i],
                       strlen(c->topics[i]));
    }
    if (v->type == ZMQ_SUB && c->ntopics == 0) {
        zmq_setsockopt(c->sock, ZMQ_SUBSCRIBE, "", 0);
    }
    return CLI_OK;
}

/* req --retries: endpoint K of all those given, counted across the
 * lists; NULL when it binds (a failover needs servers to connect to). */
static const char *
s_endpoint_at(const client_t *c, size_t k, size_t *total)
{
    const char *at = NULL;
    size_t n = 0;
    for (size_t i = 0; i < c->neps; i++) {
        for (size_t e = 0; e < zr_endpoints_size(c->eps[i]); e++, n++) {
            if (n == k && !zr_endpoints_is_bind(c->eps[i], e)) {
                at = zr_endpoints_address(c->eps[i], e);
            }
        }
    }
    *total = n;
    return at;
}

/* A new socket with the verb's options and --sockopt. */
static int
s_socket(client_t *self)
{
    const char *name = self->verb->name;
    self->sock = self->ctx ? zmq_socket(self->ctx, self->verb->type) : NULL;
    if (!self->sock) {
        return cli_error(CLI_FAILURE, "%s: cannot create a socket: %s", name,
                         zr_strerror(errno));
    }
    int status = s_options(self);
    /* --sockopt and its shorthands last: they override the verb's own. */
    for (size_t i = 0; status == CLI_OK && i < self->nsockopts; i++) {
        status = client_sockopt_apply(&self->sockopts[i], self->sock, name);
    }
    return status;
}

/* Connect to endpoint K only (req --retries). */
static int
s_connect_one(client_t *self, size_t k, const char **to)
{
    size_t total;
    const char *address = s_endpoint_at(self, k, &total);
    if (!address) {
        return cli_error(CLI_USAGE,
                         "%s: --retries: endpoint %zu binds; the endpoints "
                         "are servers to connect to, one at a time",
                         self->verb->name, k + 1);
    }
    if (zmq_connect(self->sock, address) != 0) {
        return cli_error(CLI_FAILURE, "%s: connect %s: %s", self->verb->name,
                         address, zr_strerror(errno));
    }
    self->endpoint = k;
    *to = address;
    cli_log(ZR_LOG_INFO, "%s: connecting to %s", self->verb->name, address);
    return CLI_OK;
}

int
client_failover(client_t *self, const char **to)
{
    int zero = 0;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(self->sock);
    self->sock = NULL;
    size_t total;
    s_endpoint_at(self, 0, &total);
    int status = s_socket(self);
    return status == CLI_OK
               ? s_connect_one(self, (self->endpoint + 1) % total, to)
               : status;
}

int
client_open(client_t *self)
{
    const char *name = self->verb->name;
    self->ctx = zmq_ctx_new();
    int status = s_socket(self);
    if (status == CLI_OK && self->retries > 0) {
        const char *to;
        return s_connect_one(self, 0, &to);
    }
    for (size_t i = 0; status == CLI_OK && i < self->neps; i++) {
        zr_endpoints_t *eps = self->eps[i];
        char err[512];
        if (zr_endpoints_attach(eps, self->sock, err, sizeof err) != 0) {
            return cli_error(CLI_FAILURE, "%s: %s", name, err);
        }
        for (size_t k = 0; k < zr_endpoints_size(eps); k++) {
            bool bind = zr_endpoints_is_bind(eps, k);
            const char *written = zr_endpoints_address(eps, k);
            const char *real = zr_endpoints_resolved(eps, k);
            /* A port the system chose is news; say where. */
            if (bind && strcmp(written, real) != 0) {
                fprintf(stderr, "zrelay: %s: bound %s\n", name, real);
            }
            else {
                cli_log(ZR_LOG_INFO, "%s: %s %s", name,
                        bind ? "bound" : "connecting to", real);
            }
        }
    }
    return status;
}

/* Where zrelay run's embedded default config has a sync endpoint, as a
 * hint for a --sync that went wrong: read from the default's text, so
 * that it follows the default. */
static void
s_default_sync_hint(char *out, size_t len)
{
    const char *text = zr_config_default_text();
    for (const char *line = text; line && *line;) {
        const char *p = line + strspn(line, " \t");
        size_t key = strcspn(p, " \t=");
        if (key == 4 && strncmp(p, "sync", 4) == 0) {
            p += key;
            p += strspn(p, " \t=");
            p += *p == '@';
            int vlen = (int) strcspn(p, " \t;#\n");
            snprintf(out, len,
                     "zrelay run's embedded default has its sync endpoint "
                     "at %.*s",
                     vlen, p);
            return;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    snprintf(out, len,
             "zrelay run's embedded default has none: give a forwarder "
             "--sync @EP, or 'sync = @EP' in its config section");
}

int
client_sync(client_t *self)
{
    const char *name = self->verb->name;
    /* A default deadline: a wrong endpoint (a queue's frontend, a ROUTER)
     * may never answer at all. */
    int64_t timeout = self->timeout >= 0 ? self->timeout : CLIENT_SYNC_TIMEOUT;
    const char *timeout_text =
        self->timeout >= 0 ? self->timeout_text : CLIENT_SYNC_TIMEOUT_TEXT;
    int64_t start = cli_now_ms();
    client_watch_t watch;
    if (client_watch_start(&watch, self->ctx) != 0) {
        return cli_error(CLI_FAILURE, "%s: --sync: %s", name,
                         zr_strerror(errno));
    }
    int n = client_signal() ? -1
                            : zr_sync_wait(self->ctx, self->sock, self->sync,
                                           (unsigned) self->wait,
                                           self->sync_prefix, (int) timeout);
    int e = errno;
    client_watch_stop(&watch);
    int sig = client_signal();
    if (sig) {
        /* Nothing was sent: the job was cut short, whatever its input. */
        return cli_error(128 + sig,
                         "%s: --sync %s: interrupted by %s while waiting for "
                         "%lld subscription(s); nothing sent",
                         name, self->sync, client_signal_name(sig),
                         (long long) self->wait);
    }
    if (n >= 0) {
        cli_log(ZR_LOG_INFO, "%s: --sync: %d subscription(s) there, sending",
                name, n);
        return CLI_OK;
    }
    char hint[256];
    s_default_sync_hint(hint, sizeof hint);
    /* A forwarder answers TIMEOUT at the deadline; zr_sync_wait waits a
     * while longer (a second) for an answer that never comes. */
    bool answered = cli_now_ms() - start < timeout + 500;
    if (e == ETIMEDOUT && answered) {
        return cli_error(CLI_TIMEOUT,
                         "%s: --sync %s: fewer than %lld subscription(s) "
                         "reached this PUB within %s (--timeout): is it "
                         "connected to that forwarder's frontend?",
                         name, self->sync, (long long) self->wait,
                         timeout_text);
    }
    if (e == ETIMEDOUT || e == EPROTO) {
        char what[96] = "it answered something else";
        if (e == ETIMEDOUT) {
            snprintf(what, sizeof what, "no answer within %s", timeout_text);
        }
        return cli_error(e == ETIMEDOUT ? CLI_TIMEOUT : CLI_FAILURE,
                         "%s: --sync %s did not answer like a forwarder's "
                         "sync endpoint: is it one? (%s; %s)",
                         name, self->sync, what, hint);
    }
    return cli_error(CLI_FAILURE, "%s: --sync %s: %s", name, self->sync,
                     zr_strerror(e));
}

int
client_close(client_t *self, int status)
{
    if (!self->ctx) {
        return status;
    }
    client_signal_hard(); /* a signal during the linger ends the process */
    int64_t start = cli_now_ms();
    if (self->sock) {
        zmq_close(self->sock);
    }
    while (zmq_ctx_term(self->ctx) != 0 && errno == EINTR) {
    }
    int64_t took = cli_now_ms() - start;
    /* libzmq gives up at the linger, and says nothing of what it held. */
    if (self->sent > 0 && self->linger > 0 && took + 2 >= self->linger) {
        cli_error(0,
                  "%s: could not deliver everything within --linger %s; the "
                  "last messages may be lost",
                  self->verb->name, self->linger_text);
        if (status == CLI_OK) {
            status = CLI_FAILURE;
        }
    }
    cli_log(ZR_LOG_INFO, "%s: sent %lld, received %lld", self->verb->name,
            (long long) self->sent, (long long) self->received);
    return status;
}
