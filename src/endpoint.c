/* endpoint.c - parse "@bind,>connect" endpoint lists and attach them to a
 * socket, reporting each failure by the endpoint that caused it.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    bool bind;
    char *address;  /* as written, without prefix */
    char *resolved; /* after attach: what libzmq reports */
} s_endpoint_t;

struct zr_endpoints_t {
    size_t size;
    s_endpoint_t *items;
};

/* Transports libzmq knows by name; whether this build of libzmq has each
 * one is libzmq's to say at bind time. */
static const char *s_transports[] = {"tcp",  "ipc",  "inproc", "pgm",
                                     "epgm", "tipc", "vmci",   "ws",
                                     "wss",  "udp",  "norm",   NULL};

static bool
s_known_transport(const char *name, size_t len)
{
    for (const char **t = s_transports; *t; t++) {
        if (strlen(*t) == len && strncmp(*t, name, len) == 0) {
            return true;
        }
    }
    return false;
}

static bool
s_is_port(const char *s)
{
    if (!*s || strlen(s) > 5) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char) *p)) {
            return false;
        }
    }
    return atoi(s) <= 65535;
}

/* Check the "host:port" part ADDR of a tcp-like address EP (ADDR is a
 * copy of what follows "://" in EP). DEFAULT_BIND: what a bare endpoint
 * does in this list; a hint never turns the list's usual way around. */
static int
s_check_tcp(const char *ep, const char *addr, bool bind, bool default_bind,
            char *err, size_t errlen)
{
    /* "interface;host:port" names a source address on connect. */
    const char *semi = strrchr(addr, ';');
    const char *hostport = semi ? semi + 1 : addr;
    const char *colon;
    if (*hostport == '[') {
        const char *close = strchr(hostport, ']');
        if (!close) {
            zr__errf(err, errlen, "endpoint '%s': IPv6 address lacks ']'", ep);
            return -1;
        }
        colon = close[1] == ':' ? close + 1 : NULL;
    }
    else {
        colon = strrchr(hostport, ':');
    }
    if (!colon) {
        zr__errf(err, errlen,
                 "endpoint '%s' has no port (write tcp://HOST:PORT, or "
                 "tcp://HOST:* to bind any free port)",
                 ep);
        return -1;
    }
    size_t hostlen = (size_t) (colon - hostport);
    const char *port = colon + 1;
    if (hostlen == 0) {
        zr__errf(err, errlen,
                 "endpoint '%s' has no host (use '*' to bind "
                 "every interface)",
                 ep);
        return -1;
    }
    bool wild_host = hostlen == 1 && hostport[0] == '*';
    bool wild_port = strcmp(port, "*") == 0 || strcmp(port, "0") == 0;
    if (strcmp(port, "*") != 0 && !s_is_port(port)) {
        zr__errf(err, errlen, "endpoint '%s': bad port '%s' (0-65535 or *)", ep,
                 port);
        return -1;
    }
    if (!bind && (wild_host || wild_port)) {
        if (default_bind || wild_port) {
            zr__errf(err, errlen,
                     "cannot connect to '%s': '*' and port 0 only make sense "
                     "for bind; did you mean '@%s'?",
                     ep, ep);
            return -1;
        }
        /* Where endpoints usually connect (clients), the likely meaning
         * is this host, not a bind. */
        int base = (int) (strstr(ep, "://") + 3 - ep);
        int host = base + (int) (hostport - addr);
        zr__errf(err, errlen,
                 "cannot connect to '%s': '*' and port 0 only make sense "
                 "for bind; did you mean '%.*s127.0.0.1%s'?",
                 ep, host, ep, ep + base + (colon - addr));
        return -1;
    }
    return 0;
}

static int
s_check(const char *ep, bool bind, bool default_bind, char *err, size_t errlen)
{
    const char *sep = strstr(ep, "://");
    if (!sep) {
        if (strchr(ep, ':') || s_is_port(ep)) {
            /* A bare port: every interface to bind, this host to connect. */
            const char *host = !s_is_port(ep) ? "" : bind ? "*:" : "127.0.0.1:";
            zr__errf(err, errlen,
                     "endpoint '%s' has no transport; did you mean "
                     "'tcp://%s%s'?",
                     ep, host, ep);
        }
        else {
            zr__errf(err, errlen,
                     "endpoint '%s' has no transport (write tcp://HOST:PORT, "
                     "ipc://PATH or inproc://NAME)",
                     ep);
        }
        return -1;
    }
    size_t tlen = (size_t) (sep - ep);
    if (!s_known_transport(ep, tlen)) {
        zr__errf(err, errlen,
                 "endpoint '%s': unknown transport '%.*s' (tcp, ipc, inproc, "
                 "pgm, epgm, tipc, vmci, ws, wss)",
                 ep, (int) tlen, ep);
        return -1;
    }
    const char *addr = sep + 3;
    if (!*addr) {
        zr__errf(err, errlen, "endpoint '%s' has no address", ep);
        return -1;
    }
    if (strncmp(ep, "tcp", tlen) == 0 || strncmp(ep, "ws", tlen) == 0 ||
        strncmp(ep, "wss", tlen) == 0) {
        /* ws addresses may carry a path after host:port. */
        char hostport[512];
        size_t n = strcspn(addr, "/");
        if (n >= sizeof hostport) {
            zr__errf(err, errlen, "endpoint '%.40s...' is too long", ep);
            return -1;
        }
        memcpy(hostport, addr, n);
        hostport[n] = 0;
        return s_check_tcp(ep, hostport, bind, default_bind, err, errlen);
    }
    if (!bind && strcmp(addr, "*") == 0) {
        zr__errf(err, errlen,
                 "cannot connect to '%s': '*' only makes sense for bind; "
                 "did you mean '@%s'?",
                 ep, ep);
        return -1;
    }
    return 0;
}

void
zr_endpoints_destroy(zr_endpoints_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr_endpoints_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++) {
        free(self->items[i].address);
        free(self->items[i].resolved);
    }
    free(self->items);
    free(self);
    *self_p = NULL;
}

zr_endpoints_t *
zr_endpoints_parse(const char *spec, bool default_bind, char *err,
                   size_t errlen)
{
    if (!spec) {
        zr__errf(err, errlen, "no endpoint given");
        errno = EINVAL;
        return NULL;
    }
    zr_endpoints_t *self = calloc(1, sizeof *self);
    char *copy = strdup(spec);
    if (!self || !copy) {
        free(self);
        free(copy);
        errno = ENOMEM;
        return NULL;
    }
    size_t cap = 1;
    for (const char *p = spec; *p; p++) {
        cap += *p == ',';
    }
    self->items = calloc(cap, sizeof *self->items);
    if (!self->items) {
        goto nomem;
    }
    char *cursor = copy;
    /* strtok would skip empty items; walk commas by hand to report them. */
    for (;;) {
        char *comma = strchr(cursor, ',');
        if (comma) {
            *comma = 0;
        }
        char *item = cursor;
        while (isspace((unsigned char) *item)) {
            item++;
        }
        char *end = item + strlen(item);
        while (end > item && isspace((unsigned char) end[-1])) {
            *--end = 0;
        }
        bool bind = default_bind;
        if (*item == '@' || *item == '>') {
            bind = *item == '@';
            item++;
        }
        if (!*item) {
            zr__errf(err, errlen, "empty endpoint in '%s'", spec);
            goto invalid;
        }
        if (s_check(item, bind, default_bind, err, errlen) != 0) {
            goto invalid;
        }
        s_endpoint_t *ep = &self->items[self->size];
        ep->bind = bind;
        ep->address = strdup(item);
        ep->resolved = strdup(item);
        if (!ep->address || !ep->resolved) {
            free(ep->address);
            free(ep->resolved);
            goto nomem;
        }
        self->size++;
        if (!comma) {
            break;
        }
        cursor = comma + 1;
    }
    free(copy);
    return self;

invalid:
    free(copy);
    zr_endpoints_destroy(&self);
    errno = EINVAL;
    return NULL;
nomem:
    free(copy);
    zr_endpoints_destroy(&self);
    zr__errf(err, errlen, "out of memory");
    errno = ENOMEM;
    return NULL;
}

size_t
zr_endpoints_size(const zr_endpoints_t *self)
{
    return self ? self->size : 0;
}

const char *
zr_endpoints_address(const zr_endpoints_t *self, size_t i)
{
    return self && i < self->size ? self->items[i].address : NULL;
}

bool
zr_endpoints_is_bind(const zr_endpoints_t *self, size_t i)
{
    return self && i < self->size && self->items[i].bind;
}

const char *
zr_endpoints_resolved(const zr_endpoints_t *self, size_t i)
{
    return self && i < self->size ? self->items[i].resolved : NULL;
}

static bool
s_is_ipv6(const char *address)
{
    return strncmp(address, "tcp://", 6) == 0 && strchr(address, '[');
}

/* A hint after libzmq's own words where those alone leave a user stuck. */
static const char *
s_hint(int err, const s_endpoint_t *ep)
{
    switch (err) {
    case EADDRINUSE:
        return " (another process, or another endpoint here, holds it)";
    case EPROTONOSUPPORT:
        return " (this libzmq was built without that transport)";
    case ENODEV: return " (no such interface or address on this host)";
    case EINVAL:
        return ep->bind ? " (bind needs an interface, an IP address of this "
                          "host, or '*')"
                        : "";
    default: return "";
    }
}

int
zr_endpoints_attach(zr_endpoints_t *self, void *socket, char *err,
                    size_t errlen)
{
    for (size_t i = 0; i < self->size; i++) {
        if (s_is_ipv6(self->items[i].address)) {
            int on = 1;
            zmq_setsockopt(socket, ZMQ_IPV6, &on, sizeof on);
            break;
        }
    }
    for (size_t i = 0; i < self->size; i++) {
        s_endpoint_t *ep = &self->items[i];
        int rc = ep->bind ? zmq_bind(socket, ep->address)
                          : zmq_connect(socket, ep->address);
        if (rc != 0) {
            int e = errno;
            zr__errf(err, errlen, "cannot %s %s: %s%s",
                     ep->bind ? "bind" : "connect to", ep->address,
                     zmq_strerror(e), s_hint(e, ep));
            errno = e;
            return -1;
        }
        if (ep->bind) {
            char last[1024];
            size_t len = sizeof last;
            if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, last, &len) == 0 &&
                len > 1) {
                char *copy = strdup(last);
                if (copy) {
                    free(ep->resolved);
                    ep->resolved = copy;
                }
            }
        }
    }
    return 0;
}

bool
zr_address_is_local(const char *address)
{
    if (strncmp(address, "tcp://", 6) != 0 &&
        strncmp(address, "ws://", 5) != 0) {
        return strncmp(address, "ipc://", 6) == 0 ||
               strncmp(address, "inproc://", 9) == 0;
    }
    const char *host = strstr(address, "://") + 3;
    return strncmp(host, "127.", 4) == 0 || strncmp(host, "[::1]", 5) == 0 ||
           strncmp(host, "localhost:", 10) == 0 || strncmp(host, "lo:", 3) == 0;
}
