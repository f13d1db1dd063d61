/* http.c - the HTTP endpoint: /metrics, /stats, /healthz, /readyz and /,
 * served by libmicrohttpd on a thread of its own.
 * SPDX-License-Identifier: MIT
 *
 * Why a slow or hostile client cannot slow the relay, nor crash it:
 *
 * - One libmicrohttpd thread (MHD_USE_INTERNAL_POLLING_THREAD, epoll)
 *   serves every connection without blocking on any of them: a client
 *   that trickles its request (slowloris) holds one connection slot, not
 *   the thread, and is dropped after S_IDLE_S seconds of silence. At most
 *   S_MAX_CONNS connections are open at once (more are closed as soon as
 *   accepted, and counted); each may hold S_CONN_MEMORY bytes of request.
 *   /metrics and /stats are rendered at most once per S_CACHE_MS (or
 *   ten times the rendering's own time, for a large relay) and the
 *   copy served in between, so a flood of scrapers costs the process
 *   about ten renderings a second, not one per request (a scrape sees
 *   counters up to 100 ms old). /healthz and /readyz are kept ten
 *   times their rendering's time only (s_cache_ttl). The thread runs at
 *   nice 10, so that when
 *   the CPU is short the devices' threads have it first. No device
 *   thread ever waits for this one.
 *
 * - Where the pages come from, and why a scrape never races a stop or a
 *   reload. With zrelay run (zr__http_new with a context) the daemon's
 *   own loop renders: the HTTP thread sends "page P, request N" over an
 *   inproc DEALER to a ROUTER the daemon polls next to its control
 *   socket (zr__http_socket, zr__http_answer), and waits for the answer
 *   up to S_BRIDGE_MS (then 503). Devices are created, stopped, reloaded
 *   and destroyed only on that same daemon thread, between two answers,
 *   so a page never sees a device half gone; reading the counters takes
 *   no lock (stats.c: relaxed atomic loads), so the devices never wait
 *   for a scrape either. A late answer (after the timeout) carries an old
 *   request number and is thrown away.
 *   With one device in the foreground (zr_http_new, zrelay forwarder
 *   --http) there is no daemon loop: the HTTP thread renders itself. That
 *   device is never stopped or replaced while the server runs (the caller
 *   destroys the server first, zr_http_new's contract), and again every
 *   read is a relaxed atomic load.
 */
#include "zr_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_CONNS 256      /* open at once */
#define S_IDLE_S 10          /* silence before a connection is dropped */
#define S_CONN_MEMORY 16384  /* request buffer per connection */
#define S_BRIDGE_MS 5000     /* the daemon loop answers within this */
#define S_BRIDGE_SLICE_MS 50 /* and the wait checks for shutdown */
#define S_NICE 10        /* the HTTP thread's nice value: below the devices' */
#define S_CACHE_MS 100   /* /metrics and /stats rendered at most this often */
#define S_CACHE_SHARE 10 /* and at most a tenth of the time (s_cache_ttl) */

struct zr_http_t {
    struct MHD_Daemon *mhd;
    zr__render_t render;
    void *arg;
    zr_device_t *device; /* zr_http_new's */
    char url[128];
    /* Bridge mode (a context given): the owner's ROUTER; the HTTP
     * thread's DEALER, made on that thread on first use. */
    void *ctx, *router, *dealer;
    char bridge[64];
    uint64_t seq;
    char type[64]; /* the content type of the last answer */
    atomic_bool closing;
    bool niced; /* the HTTP thread lowered its priority (first accept) */
    /* The last /metrics, /stats, /healthz, /readyz (HTTP thread only;
     * s_cache_ttl says how long each is served again): a flood of
     * scrapers costs one rendering per S_CACHE_MS, not one each. The
     * response itself is kept and queued to each connection that asks:
     * libmicrohttpd counts its references, so every slow reader of one
     * rendering shares its body (a copy each: 250 slow readers of a
     * 7 MB /metrics held 1.75 GB). */
    struct {
        struct MHD_Response *response; /* NULL: none yet */
        int64_t at;                    /* when its rendering ended */
        int64_t ttl;                   /* served until at + ttl (s_cache_ttl) */
        int status;                    /* 200, or 503 (health pages) */
    } cache[ZR__PAGE_COUNT];
    /* Counters (stats table, section "http"); written by the HTTP thread
     * only. */
    _Atomic uint64_t open_now, accepted, refused;
    _Atomic uint64_t req_ok, req_client, req_server, timeouts;
};

/* ---------------------------------------------------------------------
 * A growing text.
 */
void
zr__buf_add(zr__buf_t *self, const char *text, size_t len)
{
    if (self->oom) {
        return;
    }
    if (self->len + len + 1 > self->cap) {
        size_t cap = self->cap ? self->cap : 4096;
        while (cap < self->len + len + 1) {
            cap *= 2;
        }
        char *data = realloc(self->data, cap);
        if (!data) {
            self->oom = true;
            return;
        }
        self->data = data;
        self->cap = cap;
    }
    memcpy(self->data + self->len, text, len);
    self->len += len;
    self->data[self->len] = 0;
}

void
zr__buf_printf(zr__buf_t *self, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t) n < sizeof small) {
        zr__buf_add(self, small, (size_t) n);
        return;
    }
    char *big = malloc((size_t) n + 1);
    if (!big) {
        self->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t) n + 1, fmt, ap);
    va_end(ap);
    zr__buf_add(self, big, (size_t) n);
    free(big);
}

/* ---------------------------------------------------------------------
 * The address.
 */
int
zr__http_parse(const char *spec, struct sockaddr_storage *sa, unsigned *salen,
               char *err, size_t errlen)
{
    char host[256];
    const char *colon = NULL, *port;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':') {
            zr__errf(err, errlen,
                     "'%s' is not ADDRESS:PORT ([::1]:9558 for IPv6)", spec);
            errno = EINVAL;
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int) (close - spec - 1), spec + 1);
        port = close + 2;
    }
    else {
        colon = strrchr(spec, ':');
        if (!colon || colon == spec || strchr(spec, ':') != colon ||
            (size_t) (colon - spec) >= sizeof host) {
            zr__errf(err, errlen,
                     "'%s' is not ADDRESS:PORT (127.0.0.1:9558, *:9558, "
                     "[::1]:9558)",
                     spec);
            errno = EINVAL;
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int) (colon - spec), spec);
        port = colon + 1;
    }
    int64_t p;
    if (zr__parse_int(port, 0, 65535, &p) != 0) {
        zr__errf(err, errlen,
                 "'%s': the port '%s' is not a number from 0 to "
                 "65535",
                 spec, port);
        errno = EINVAL;
        return -1;
    }
    memset(sa, 0, sizeof *sa);
    if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0) {
        struct sockaddr_in *in = (struct sockaddr_in *) sa;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t) p);
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        *salen = sizeof *in;
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV};
    if (strcmp(host, "localhost") != 0) {
        hints.ai_flags |= AI_NUMERICHOST; /* no name service at parse */
    }
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        zr__errf(err, errlen,
                 "'%s': '%s' is not an IP address (or *, or localhost)", spec,
                 host);
        errno = EINVAL;
        return -1;
    }
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *salen = (unsigned) res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* A listening socket at SPEC; -1 with the reason in ERR. */
static int
s_listen(const char *spec, char *url, size_t urllen, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    unsigned salen;
    char why[300];
    if (zr__http_parse(spec, &sa, &salen, why, sizeof why) != 0) {
        zr__errf(err, errlen, "http: %s", why);
        return -1;
    }
    int fd =
        socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int on = 1;
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, (struct sockaddr *) &sa, salen) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        zr__errf(err, errlen, "http: cannot bind %s: %s", spec, strerror(e));
        if (fd >= 0) {
            close(fd);
        }
        errno = e;
        return -1;
    }
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *) &sa, &len);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) &sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(url, urllen, "http://%s:%d/", host, port);
    }
    else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        snprintf(url, urllen, "http://[%s]:%d/", host, port);
    }
    return fd;
}

/* ---------------------------------------------------------------------
 * The bridge to the owner's loop. Request: [seq 8][page 1]. Answer:
 * [seq 8][status 4][type][body].
 */
static void *
s_dealer(zr_http_t *self)
{
    if (self->dealer) {
        return self->dealer;
    }
    void *s = zmq_socket(self->ctx, ZMQ_DEALER);
    int zero = 0;
    if (!s || zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(s, self->bridge) != 0) {
        if (s) {
            zmq_close(s);
        }
        return NULL;
    }
    self->dealer = s;
    return s;
}

static bool
s_more(void *socket)
{
    int more = 0;
    size_t len = sizeof more;
    zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &len);
    return more != 0;
}

/* Drop the rest of a message. */
static void
s_drain(void *socket)
{
    while (s_more(socket)) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, socket, 0);
        zmq_msg_close(&m);
    }
}

/* Page PAGE from the owner's loop; its status, or 503 (busy) / 500. */
static int
s_ask(zr_http_t *self, zr__page_t page, zr__buf_t *out, const char **type)
{
    char *ctype = self->type;
    void *s = s_dealer(self);
    if (!s) {
        return 500;
    }
    uint64_t seq = ++self->seq;
    unsigned char p = (unsigned char) page;
    if (zmq_send(s, &seq, sizeof seq, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s, &p, 1, ZMQ_DONTWAIT) < 0) {
        return 500;
    }
    int64_t deadline = zr__now_ms() + S_BRIDGE_MS;
    while (!atomic_load(&self->closing)) {
        int64_t left = deadline - zr__now_ms();
        if (left <= 0) {
            break;
        }
        zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
        int rc = zmq_poll(&item, 1,
                          left < S_BRIDGE_SLICE_MS ? left : S_BRIDGE_SLICE_MS);
        if (rc < 0 && errno != EINTR) {
            return 500;
        }
        if (rc <= 0) {
            continue;
        }
        uint64_t got = 0;
        int status = 0;
        if (zmq_recv(s, &got, sizeof got, 0) != sizeof got || !s_more(s) ||
            got != seq || zmq_recv(s, &status, sizeof status, 0) < 0 ||
            !s_more(s)) {
            s_drain(s); /* a late answer to an earlier request */
            continue;
        }
        int n = zmq_recv(s, ctype, sizeof self->type - 1, 0);
        ctype[n < 0 ? 0 : n < (int) sizeof self->type ? n : 0] = 0;
        zmq_msg_t body;
        zmq_msg_init(&body);
        if (!s_more(s) || zmq_msg_recv(&body, s, 0) < 0) {
            zmq_msg_close(&body);
            s_drain(s);
            return 500;
        }
        zr__buf_add(out, zmq_msg_data(&body), zmq_msg_size(&body));
        zmq_msg_close(&body);
        s_drain(s);
        *type = ctype;
        return status;
    }
    zr__stat_add(&self->timeouts, 1);
    zr__buf_printf(out,
                   "{\"status\":\"busy\",\"why\":\"zrelay did not "
                   "answer within %d ms (a reload?)\"}\n",
                   S_BRIDGE_MS);
    *type = "application/json";
    return 503;
}

void *
zr__http_socket(zr_http_t *self)
{
    return self ? self->router : NULL;
}

void
zr__http_answer(zr_http_t *self)
{
    zmq_msg_t id;
    zmq_msg_init(&id);
    uint64_t seq = 0;
    unsigned char page = 0;
    if (zmq_msg_recv(&id, self->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&id);
        return;
    }
    if (!s_more(self->router) ||
        zmq_recv(self->router, &seq, sizeof seq, 0) != sizeof seq ||
        !s_more(self->router) || zmq_recv(self->router, &page, 1, 0) != 1 ||
        page >= ZR__PAGE_COUNT) {
        s_drain(self->router);
        zmq_msg_close(&id);
        return;
    }
    s_drain(self->router);
    zr__buf_t out = {0};
    const char *type = "text/plain; charset=utf-8";
    int status = self->render(self->arg, (zr__page_t) page, &out, &type);
    if (out.oom) {
        status = 500;
        out.len = 0;
    }
    /* A ROUTER drops what it cannot deliver at once: never waits. */
    zmq_msg_send(&id, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->router, &seq, sizeof seq, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->router, &status, sizeof status, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->router, type, strlen(type), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->router, out.data ? out.data : "", out.len, ZMQ_DONTWAIT);
    zmq_msg_close(&id);
    free(out.data);
}

/* ---------------------------------------------------------------------
 * HTTP.
 */
static const struct {
    const char *path;
    zr__page_t page;
} s_routes[] = {
    {"/metrics", ZR__PAGE_METRICS},
    {"/stats", ZR__PAGE_STATS},
    {"/healthz", ZR__PAGE_HEALTH},
    {"/readyz", ZR__PAGE_READY},
};

/* The status page, src/status.html as compiled in (cmake/embed.cmake). */
extern const unsigned char zr__status_html[];
extern const size_t zr__status_html_len;

/* What the status page may load: nothing but its own inline script and
 * style, and /stats and /healthz from where it came (connect-src): no
 * font, image, script or frame from anywhere (the icon is an empty data:
 * URL, which spares a request for /favicon.ico), so a page altered to
 * reach out is stopped by the browser, and it works on an air-gapped
 * host. */
#define S_INDEX_CSP                                                            \
    "default-src 'none'; script-src 'unsafe-inline'; "                         \
    "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "           \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* GET /: the status page, static, so served on this thread without
 * asking the daemon's loop; the numbers it shows it reads from /stats. */
static enum MHD_Result
s_index(zr_http_t *self, struct MHD_Connection *c)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        zr__status_html_len, (void *) zr__status_html, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy", S_INDEX_CSP);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    zr__stat_add(&self->req_ok, 1);
    return rc;
}

/* BODY (taken) as a response of STATUS; NULL out of memory. */
static struct MHD_Response *
s_response(int status, const char *type, zr__buf_t *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        body->len, body->data ? body->data : (char *) "",
        body->data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body->data);
        return NULL;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (status == 405) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }
    return r;
}

/* R queued on C with STATUS, and counted; R stays the caller's. */
static enum MHD_Result
s_queue(zr_http_t *self, struct MHD_Connection *c, int status,
        struct MHD_Response *r)
{
    enum MHD_Result rc = MHD_queue_response(c, (unsigned) status, r);
    zr__stat_add(status < 400   ? &self->req_ok
                 : status < 500 ? &self->req_client
                                : &self->req_server,
                 1);
    return rc;
}

static enum MHD_Result
s_send(zr_http_t *self, struct MHD_Connection *c, int status, const char *type,
       zr__buf_t *body)
{
    struct MHD_Response *r = s_response(status, type, body);
    if (!r) {
        return MHD_NO;
    }
    enum MHD_Result rc = s_queue(self, c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* How long a page that took TOOK ms to render is served again: at least
 * S_CACHE_MS, and S_CACHE_SHARE times its rendering, so that scrapers
 * keep the daemon's loop busy rendering at most 1/S_CACHE_SHARE of the
 * time however many devices there are. Counted from the end of the
 * rendering: from its start, a rendering longer than S_CACHE_MS (1000
 * devices: 300 ms) was stale when stored, every scrape rendered again,
 * and four scrapers kept the daemon's thread 95% busy. */
/* /healthz and /readyz have no floor: a probe must see a stopped
 * device at once on a small relay (a rendering under 1 ms is not kept at
 * all); on a large one they are S_CACHE_SHARE times their rendering late
 * at most (attack15_bigmetrics.py: four probers of 1000 devices kept the
 * daemon's thread 53% busy before). */
static int64_t
s_cache_ttl(zr__page_t page, int64_t took)
{
    if (page == ZR__PAGE_HEALTH || page == ZR__PAGE_READY) {
        return took * S_CACHE_SHARE;
    }
    return took * S_CACHE_SHARE > S_CACHE_MS ? took * S_CACHE_SHARE
                                             : S_CACHE_MS;
}

/* TEXT, the client's (a path %XX-decoded, a method), into OUT with
 * every byte but printable ASCII as \xNN: raw, a crafted link writes
 * escape sequences (C0, or C1 in UTF-8) to the terminal of whoever
 * curls it. */
static void
s_echo(zr__buf_t *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
        if (*p < 0x20 || *p >= 0x7f) {
            zr__buf_printf(out, "\\x%02x", *p);
        }
        else {
            zr__buf_add(out, (const char *) p, 1);
        }
    }
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *c, const char *url,
         const char *method, const char *version, const char *upload,
         size_t *upload_size, void **state)
{
    (void) version;
    (void) upload;
    zr_http_t *self = cls;
    zr__buf_t body = {0};
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        /* At once, the body unread: libmicrohttpd then closes. */
        s_echo(&body, method);
        zr__buf_printf(&body, ": only GET and HEAD here\n");
        return s_send(self, c, 405, "text/plain; charset=utf-8", &body);
    }
    if (!*state) {
        /* The first call sees the headers only; answered on the next,
         * once the request is whole, the connection can be kept alive
         * (a response queued earlier makes libmicrohttpd close it). */
        static int s_headers_seen;
        *state = &s_headers_seen;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        /* A body on a GET (some checkers send one): read and ignored.
         * An answer queued before the body is whole is refused by
         * libmicrohttpd, which then closes the connection unanswered;
         * the last call, with no data left, answers. */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/") == 0) {
        return s_index(self, c);
    }
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        if (strcmp(url, s_routes[i].path) != 0) {
            continue;
        }
        zr__page_t page = s_routes[i].page;
        bool health = page == ZR__PAGE_HEALTH || page == ZR__PAGE_READY;
        bool cached =
            health || page == ZR__PAGE_METRICS || page == ZR__PAGE_STATS;
        int64_t now = zr__now_ms();
        if (cached && self->cache[page].response &&
            now - self->cache[page].at < self->cache[page].ttl) {
            return s_queue(self, c, self->cache[page].status,
                           self->cache[page].response);
        }
        const char *type = "text/plain; charset=utf-8";
        int status = self->ctx ? s_ask(self, page, &body, &type)
                               : self->render(self->arg, page, &body, &type);
        if (body.oom) {
            free(body.data);
            body = (zr__buf_t){0};
            status = 500;
        }
        if (!cached || (status != 200 && !(health && status == 503))) {
            return s_send(self, c, status, type, &body);
        }
        struct MHD_Response *r = s_response(status, type, &body);
        if (!r) {
            return MHD_NO;
        }
        /* The previous one lives on in the connections still sending it. */
        if (self->cache[page].response) {
            MHD_destroy_response(self->cache[page].response);
        }
        int64_t done = zr__now_ms();
        self->cache[page].response = r;
        self->cache[page].at = done;
        self->cache[page].ttl = s_cache_ttl(page, done - now);
        self->cache[page].status = status;
        return s_queue(self, c, status, r);
    }
    zr__buf_add(&body, "not found: ", 11);
    s_echo(&body, url);
    zr__buf_printf(&body, " (try /, /metrics, /stats, /healthz, /readyz)\n");
    return s_send(self, c, 404, "text/plain; charset=utf-8", &body);
}

/* The cap on connections, counted (libmicrohttpd's own limit, set above
 * ours, would refuse silently). Runs on the HTTP thread, as s_notify. */
static enum MHD_Result
s_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void) addr;
    (void) addrlen;
    zr_http_t *self = cls;
    if (!self->niced) {
        /* This thread yields the CPU to the devices' when both want it
         * (Linux: a thread's own nice value). */
        self->niced = true;
        if (setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), S_NICE) !=
            0) {
            ZR_LOG_D("http: cannot lower the HTTP thread's priority: %s",
                     strerror(errno));
        }
    }
    if (zr__stat_get(&self->open_now) >= S_MAX_CONNS) {
        zr__stat_add(&self->refused, 1);
        return MHD_NO;
    }
    return MHD_YES;
}

static void
s_notify(void *cls, struct MHD_Connection *c, void **socket_context,
         enum MHD_ConnectionNotificationCode code)
{
    (void) c;
    (void) socket_context;
    zr_http_t *self = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        zr__stat_add(&self->open_now, 1);
        zr__stat_add(&self->accepted, 1);
    }
    else if (zr__stat_get(&self->open_now) > 0) {
        zr__stat_set(&self->open_now, zr__stat_get(&self->open_now) - 1);
    }
}

static void
s_mhd_log(void *arg, const char *fmt, va_list ap)
{
    (void) arg;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    ZR_LOG_D("http: %s", line);
}

/* A server with RENDER(ARG, ...), ARG NULL: the server itself; DEVICE
 * for zr_http_new. */
static zr_http_t *
s_new(const char *spec, void *ctx, zr__render_t render, void *arg,
      zr_device_t *device, char *err, size_t errlen)
{
    zr_http_t *self = calloc(1, sizeof *self);
    if (!self) {
        zr__errf(err, errlen, "http: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    self->render = render;
    self->arg = arg ? arg : self;
    self->device = device;
    self->ctx = ctx;
    if (ctx) {
        snprintf(self->bridge, sizeof self->bridge, "inproc://zr-http-%p",
                 (void *) self);
        self->router = zmq_socket(ctx, ZMQ_ROUTER);
        int zero = 0;
        if (!self->router ||
            zmq_setsockopt(self->router, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_bind(self->router, self->bridge) != 0) {
            zr__errf(err, errlen, "http: %s", zmq_strerror(errno));
            zr_http_destroy(&self);
            return NULL;
        }
    }
    int fd = s_listen(spec, self->url, sizeof self->url, err, errlen);
    if (fd < 0) {
        int e = errno;
        zr_http_destroy(&self);
        errno = e;
        return NULL;
    }
    self->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0,
        s_accept, self, s_access, self,
        /* First: libmicrohttpd prints what comes before it to stderr
         * itself, past --log-format json and --syslog. */
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET,
        fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned) S_MAX_CONNS + 16,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) S_IDLE_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) S_CONN_MEMORY,
        MHD_OPTION_NOTIFY_CONNECTION, s_notify, self, MHD_OPTION_END);
    if (!self->mhd) {
        int e = errno ? errno : EIO;
        close(fd);
        zr__errf(err, errlen, "http: cannot serve at %s: %s", spec,
                 strerror(e));
        zr_http_destroy(&self);
        errno = e;
        return NULL;
    }
    struct sockaddr_storage sa;
    unsigned salen;
    if (zr__http_parse(spec, &sa, &salen, NULL, 0) == 0 &&
        ((sa.ss_family == AF_INET &&
          ((struct sockaddr_in *) &sa)->sin_addr.s_addr !=
              htonl(INADDR_LOOPBACK)) ||
         (sa.ss_family == AF_INET6 &&
          !IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *) &sa)->sin6_addr)))) {
        ZR_LOG_W("http: %s is reachable from the network: anyone who can "
                 "connect can read the counters and device names",
                 self->url);
    }
    ZR_LOG_I("http: serving %s (the status page; /metrics /stats /healthz /readyz)",
             self->url);
    return self;
}

zr_http_t *
zr__http_new(const char *spec, void *ctx, zr__render_t render, void *arg,
             char *err, size_t errlen)
{
    return s_new(spec, ctx, render, arg, NULL, err, errlen);
}

/* One device's pages, on the HTTP thread (see the head comment). */
static int
s_device_page(void *arg, zr__page_t page, zr__buf_t *out, const char **type)
{
    zr_http_t *self = arg;
    zr__devview_t view = {zr_device_name(self->device), self->device};
    return zr__metrics_render(&view, 1, self, page, out, type);
}

zr_http_t *
zr_http_new(zr_device_t *device, const char *address, char *err, size_t errlen)
{
    if (!device || !address) {
        zr__errf(err, errlen, "http: no device or no address");
        errno = EINVAL;
        return NULL;
    }
    return s_new(address, NULL, s_device_page, NULL, device, err, errlen);
}

void
zr_http_destroy(zr_http_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr_http_t *self = *self_p;
    atomic_store(&self->closing, true);
    if (self->mhd) {
        MHD_stop_daemon(self->mhd); /* joins the HTTP thread */
    }
    if (self->dealer) {
        zmq_close(self->dealer);
    }
    if (self->router) {
        zmq_close(self->router);
    }
    for (int i = 0; i < ZR__PAGE_COUNT; i++) {
        if (self->cache[i].response) {
            MHD_destroy_response(self->cache[i].response);
        }
    }
    free(self);
    *self_p = NULL;
}

const char *
zr_http_url(const zr_http_t *self)
{
    return self->url;
}

/* ---------------------------------------------------------------------
 * Its counters.
 */
#define S_AT(field) offsetof(zr_http_t, field)
static const zr__stat_t s_rows[] = {
    {.key = "connections",
     .metric = "http_connections",
     .kind = ZR__STAT_GAUGE,
     .help = "HTTP connections open now.",
     .offset = S_AT(open_now)},
    {.key = "accepted",
     .metric = "http_connections_accepted_total",
     .kind = ZR__STAT_COUNTER,
     .help = "HTTP connections accepted.",
     .offset = S_AT(accepted)},
    {.key = "refused",
     .metric = "http_connections_refused_total",
     .labels = "reason=\"max_connections\"",
     .kind = ZR__STAT_COUNTER,
     .help = "HTTP connections closed as soon as accepted: 256 were open.",
     .offset = S_AT(refused)},
    {.key = "requests.ok",
     .metric = "http_requests_total",
     .labels = "code=\"2xx\"",
     .kind = ZR__STAT_COUNTER,
     .help = "HTTP requests answered with a page (200).",
     .offset = S_AT(req_ok)},
    {.key = "requests.client_error",
     .metric = "http_requests_total",
     .labels = "code=\"4xx\"",
     .kind = ZR__STAT_COUNTER,
     .help = "HTTP requests refused: unknown path (404), not GET (405).",
     .offset = S_AT(req_client)},
    {.key = "requests.unavailable",
     .metric = "http_requests_total",
     .labels = "code=\"5xx\"",
     .kind = ZR__STAT_COUNTER,
     .help = "HTTP requests answered 503 (unhealthy, not ready, busy) or "
             "500.",
     .offset = S_AT(req_server)},
    {.key = "timeouts",
     .metric = "http_render_timeouts_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Pages the daemon did not render within 5 s (answered 503).",
     .offset = S_AT(timeouts)},
};
#undef S_AT

zr__stat_section_t
zr__http_section(const zr_http_t *self)
{
    return (zr__stat_section_t){"http", NULL, ZR__STAT_ROWS(s_rows), self};
}
