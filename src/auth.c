/* auth.c - who may talk to a device: CURVE with an allow directory of
 * public certificates, PLAIN with a password file, allow and deny lists of
 * address ranges, all decided by one ZAP handler (RFC 27) per context, and
 * every refusal counted by reason.
 * SPDX-License-Identifier: MIT
 *
 * libzmq asks the ZAP handler bound at inproc://zeromq.zap.01 of a socket's
 * context about each new connection of a CURVE or PLAIN server socket, and
 * of a NULL socket that has a ZAP domain. The handler serves the whole
 * context, so the devices of a daemon share one: each device's sockets
 * carry its name as their ZAP domain, and the handler looks the device's
 * policy up by it. Without a handler libzmq 4.3.4 lets any CURVE client in
 * (measured), which is why a CURVE server needs an allow list or an
 * explicit curve_allow_any before it starts.
 *
 * CZMQ's zauth does not fit: it knows no address ranges, counts nothing
 * and keeps one policy for the whole context (docs/DEPENDENCIES.md). Its
 * zcert reads and writes the certificate files, so that those of CZMQ,
 * pyzmq and zrelay are interchangeable.
 */
#define _GNU_SOURCE
#include "zr_impl.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* Refusals logged per device and second; the rest are counted only. */
#define S_LOG_PER_SEC 10
/* A bound socket's ZAP domain: its policy's key ("zr" and a number of
 * its own: devices of one name may share a context) and, after a '#', the
 * side ('f' frontend, 'b' backend, 'o' any other socket). The side tells
 * the handler whether the policy applies (secure_side) and which socket's
 * connections to count against max_connections. */
#define S_SIDES "fbo"

typedef struct {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int bits;
} s_cidr_t;

typedef struct {
    char *user, *password;
} s_user_t;

typedef struct s_handler_t s_handler_t;

struct zr__auth_t {
    char *domain; /* the device's name, for the log */
    char key[40]; /* in the ZAP domain: unique in the process */
    int side;     /* ZR__AUTH_ALL, _FRONTEND, _BACKEND */
    char *curve_secret, *curve_allow, *passwords;
    char *curve_server_key, *curve_cert;
    bool allow_any;
    s_cidr_t *allow, *deny;
    size_t nallow, ndeny;
    /* Loaded at open and on reload; read by the handler under s_lock. */
    unsigned char (*keys)[32];
    size_t nkeys;
    s_user_t *users;
    size_t nusers;
    unsigned char server_public[32], server_secret[32];
    /* Written by the handler's thread; read by anyone. */
    _Atomic uint64_t allowed, unknown_key, bad_password, address;
    _Atomic uint64_t nkeys_now, protocol_seen;
    uint64_t (*failed)(const void *arg);
    const void *failed_arg;
    zr__log_limit_t log_limit; /* the handler's thread's */
    bool guard;                /* ZAP even with NULL and no lists */
    /* [limits] The sides' connection counters, which decide
     * max_connections at the handshake; set and read under s_lock. */
    zr__monitor_t *monitors[2];
    s_handler_t *handler; /* while registered */
    zr__auth_t *next;
};

/* One per context that has a device with a policy. */
struct s_handler_t {
    void *ctx;
    void *socket;
    pthread_t thread;
    int wake[2];
    atomic_bool stop;
    size_t refs;
    zr__auth_t *policies;
    s_handler_t *next;
};

/* s_life serializes starting and stopping handlers (and reloads); s_lock
 * guards the policy lists and what the policies hold, for the handler's
 * thread. */
static pthread_mutex_t s_life = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_handler_t *s_handlers;

static char *
s_dup(const char *text)
{
    return text && *text ? strdup(text) : NULL;
}

zr__auth_t *
zr__auth_new(const char *domain)
{
    zr__auth_t *self = calloc(1, sizeof *self);
    if (self) {
        /* A number never used before in this process: an address could
         * come back after a device is gone, with a ZAP request of the
         * old one still on its way. */
        static _Atomic unsigned long long s_keys;
        snprintf(self->key, sizeof self->key, "zr%llu",
                 atomic_fetch_add(&s_keys, 1) + 1);
        self->domain = strdup(domain);
        if (!self->domain) {
            free(self);
            self = NULL;
        }
    }
    if (!self) {
        errno = ENOMEM;
    }
    return self;
}

static void
s_users_free(s_user_t *users, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(users[i].user);
        if (users[i].password) {
            explicit_bzero(users[i].password, strlen(users[i].password));
        }
        free(users[i].password);
    }
    free(users);
}

void
zr__auth_destroy(zr__auth_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__auth_t *self = *self_p;
    zr__auth_close(self);
    free(self->domain);
    free(self->curve_secret);
    free(self->curve_allow);
    free(self->passwords);
    free(self->curve_server_key);
    free(self->curve_cert);
    free(self->allow);
    free(self->deny);
    free(self->keys);
    s_users_free(self->users, self->nusers);
    explicit_bzero(self->server_secret, sizeof self->server_secret);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------
 * Settings, from option.c.
 */

static int
s_set_text(char **field, const char *text)
{
    char *copy = s_dup(text);
    if (text && *text && !copy) {
        errno = ENOMEM;
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

int
zr__auth_set(zr__auth_t *self, zr__auth_key_t key, const char *text)
{
    switch (key) {
    case ZR__AUTH_CURVE_SECRET: return s_set_text(&self->curve_secret, text);
    case ZR__AUTH_CURVE_ALLOW: return s_set_text(&self->curve_allow, text);
    case ZR__AUTH_PASSWORDS: return s_set_text(&self->passwords, text);
    case ZR__AUTH_SERVER_KEY: return s_set_text(&self->curve_server_key, text);
    case ZR__AUTH_CURVE_CERT: return s_set_text(&self->curve_cert, text);
    }
    errno = EINVAL;
    return -1;
}

void
zr__auth_set_allow_any(zr__auth_t *self, bool on)
{
    self->allow_any = on;
}

void
zr__auth_set_side(zr__auth_t *self, int side)
{
    self->side = side;
}

/* TEXT ("10.0.0.0/8", "::1") into *OUT; -1 when it is none. */
static int
s_cidr_parse(const char *text, s_cidr_t *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t) (slash - text) : strlen(text);
    if (len == 0 || len >= sizeof host) {
        return -1;
    }
    memcpy(host, text, len);
    host[len] = 0;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, host, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
    }
    else if (inet_pton(AF_INET6, host, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = 128;
    }
    else {
        return -1;
    }
    if (slash) {
        int64_t bits;
        if (zr__parse_int(slash + 1, 0, out->bits, &bits) != 0) {
            return -1;
        }
        out->bits = (int) bits;
    }
    return 0;
}

int
zr__auth_set_addresses(zr__auth_t *self, bool deny, const char *list, char *err,
                       size_t errlen)
{
    s_cidr_t *items = NULL;
    size_t n = 0;
    const char *p = list ? list : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        char one[80];
        while (len && (*p == ' ')) {
            p++;
            len--;
        }
        if (len == 0 || len >= sizeof one) {
            goto bad;
        }
        memcpy(one, p, len);
        one[len] = 0;
        while (len && one[len - 1] == ' ') {
            one[--len] = 0;
        }
        s_cidr_t *more = realloc(items, (n + 1) * sizeof *items);
        if (!more) {
            free(items);
            errno = ENOMEM;
            zr__errf(err, errlen, "out of memory");
            return -1;
        }
        items = more;
        if (s_cidr_parse(one, &items[n]) != 0) {
            zr__errf(err, errlen,
                     "'%s' is not an address or range (10.0.0.0/8, ::1, "
                     "fd00::/8)",
                     one);
            free(items);
            errno = EINVAL;
            return -1;
        }
        n++;
        p += strcspn(p, ",");
        p += *p == ',';
    }
    if (deny) {
        free(self->deny);
        self->deny = items;
        self->ndeny = n;
    }
    else {
        free(self->allow);
        self->allow = items;
        self->nallow = n;
    }
    return 0;
bad:
    free(items);
    zr__errf(err, errlen, "'%s' is not a list of addresses or ranges", list);
    errno = EINVAL;
    return -1;
}

/* ---------------------------------------------------------------------
 * Certificates (CZMQ's zcert: the ZPL files of CZMQ and pyzmq).
 */

static bool
s_zero(const unsigned char *key)
{
    for (int i = 0; i < 32; i++) {
        if (key[i]) {
            return false;
        }
    }
    return true;
}

int
zr__cert_load(const char *path, unsigned char public_key[32],
              unsigned char secret_key[32], char *err, size_t errlen)
{
    char secret[4096];
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (access(path, R_OK) != 0) {
        int e = errno; /* why PATH itself cannot be read */
        if (access(secret, R_OK) != 0) {
            zr__errf(err, errlen, "cannot read certificate %s: %s", path,
                     strerror(e));
            errno = e;
            return -1;
        }
    }
    /* zcert_load prefers PATH_secret when there is one. */
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        zr__errf(err, errlen,
                 "%s is not a certificate (zrelay keygen writes one)", path);
        errno = EINVAL;
        return -1;
    }
    memcpy(public_key, zcert_public_key(cert), 32);
    int rc = 0;
    if (secret_key) {
        memcpy(secret_key, zcert_secret_key(cert), 32);
        if (s_zero(secret_key)) {
            zr__errf(err, errlen,
                     "%s holds no secret key (give the NAME_secret file "
                     "zrelay keygen wrote)",
                     path);
            errno = EINVAL;
            rc = -1;
        }
    }
    zcert_destroy(&cert);
    return rc;
}

int
zr_cert_generate(const char *name, bool force, char *err, size_t errlen)
{
    char secret[4096];
    if (!name || !*name || strlen(name) + 8 > sizeof secret) {
        zr__errf(err, errlen, "no certificate name given");
        errno = EINVAL;
        return -1;
    }
    snprintf(secret, sizeof secret, "%s_secret", name);
    const char *paths[2] = {name, secret};
    for (int i = 0; i < 2 && !force; i++) {
        struct stat st;
        if (lstat(paths[i], &st) == 0) {
            zr__errf(err, errlen, "%s exists; --force overwrites it", paths[i]);
            errno = EEXIST;
            return -1;
        }
    }
    /* Both files are made here before a key is written into them: the
     * secret one with mode 0600, never readable by others, not even for a
     * moment; neither through a symlink, and without FORCE neither over
     * a file that appeared since the check (O_EXCL). */
    for (int i = 1; i >= 0; i--) {
        int flags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC |
                    (force ? 0 : O_EXCL);
        mode_t mode = i == 1 ? 0600 : 0644;
        int fd = open(paths[i], flags, mode);
        if (fd < 0 || fchmod(fd, mode) != 0) {
            int e = errno;
            zr__errf(err, errlen, "cannot write %s: %s", paths[i],
                     e == ELOOP ? "it is a symbolic link" : strerror(e));
            if (fd >= 0) {
                close(fd);
            }
            if (i == 0) {
                unlink(secret); /* made above: no secret without its pair */
            }
            errno = e;
            return -1;
        }
        close(fd);
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        zr__errf(err, errlen, "cannot make a key pair");
        errno = ENOMEM;
        return -1;
    }
    zcert_set_meta(cert, "created-by", "zrelay keygen");
    zcert_set_meta(cert, "name", "%s", name);
    int rc = zcert_save_secret(cert, secret);
    if (rc == 0) {
        rc = zcert_save_public(cert, name);
    }
    zcert_destroy(&cert);
    if (rc != 0) {
        zr__errf(err, errlen, "cannot write %s: %s", name, strerror(errno));
        errno = EIO;
        return -1;
    }
    return 0;
}

/* The Z85 text of a certificate's public key ("" on failure). */
int
zr_cert_public_text(const char *path, char out[41], char *err, size_t errlen)
{
    unsigned char pub[32];
    out[0] = 0;
    if (zr__cert_load(path, pub, NULL, err, errlen) != 0) {
        return -1;
    }
    zmq_z85_encode(out, pub, 32);
    return 0;
}

/* ---------------------------------------------------------------------
 * Loading the allow directory and the password file.
 */

/* The text of certificate PATH, or NULL (logged) when it is not a
 * regular file of at most S_CERT_MAX bytes: a FIFO swapped in cannot hang
 * a reload, a huge file cannot fill memory. */
#define S_CERT_MAX (64 * 1024)
static char *
s_read_cert(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > S_CERT_MAX) {
        if (fd >= 0) {
            ZR_LOG_W("%s: not a certificate file (a regular file of at most "
                     "%d bytes), ignored",
                     path, S_CERT_MAX);
            close(fd);
        }
        return NULL;
    }
    char *body = malloc((size_t) st.st_size + 1);
    ssize_t n = body ? read(fd, body, (size_t) st.st_size) : -1;
    close(fd);
    if (n < 0) {
        free(body);
        return NULL;
    }
    body[n] = 0;
    return body;
}

static int
s_load_keys(const char *dir, unsigned char (**keys)[32], size_t *nkeys,
            char *err, size_t errlen)
{
    *keys = NULL;
    *nkeys = 0;
    DIR *d = opendir(dir);
    if (!d) {
        zr__errf(err, errlen, "cannot read the allow directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    unsigned char(*list)[32] = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' ||
            (len >= 7 && strcmp(e->d_name + len - 7, "_secret") == 0)) {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *body = s_read_cert(path);
        if (!body) {
            continue;
        }
        /* Not through zcert_load: it prefers a _secret file beside; and
         * not zconfig_load: it leaks when the file does not parse. */
        zconfig_t *root = zconfig_str_load(body);
        free(body);
        const char *text =
            root ? zconfig_get(root, "/curve/public-key", NULL) : NULL;
        unsigned char key[32];
        if (!text || strlen(text) != 40 || !zmq_z85_decode(key, text)) {
            ZR_LOG_W("%s: not a public certificate, ignored", path);
            zconfig_destroy(&root);
            continue;
        }
        zconfig_destroy(&root);
        unsigned char(*more)[32] = realloc(list, (n + 1) * sizeof *list);
        if (!more) {
            free(list);
            closedir(d);
            zr__errf(err, errlen, "out of memory");
            return -1;
        }
        list = more;
        memcpy(list[n++], key, 32);
    }
    closedir(d);
    *keys = list;
    *nkeys = n;
    return 0;
}

static int
s_load_users(const char *path, s_user_t **users, size_t *nusers, char *err,
             size_t errlen)
{
    *users = NULL;
    *nusers = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        zr__errf(err, errlen, "cannot read the password file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    s_user_t *list = NULL;
    size_t n = 0;
    char line[1024];
    int lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') {
            continue;
        }
        char *eq = strchr(line, '=');
        if (!eq || eq == line) {
            zr__errf(err, errlen, "%s:%d: not user=password", path, lineno);
            rc = -1;
            break;
        }
        *eq = 0;
        s_user_t *more = realloc(list, (n + 1) * sizeof *list);
        if (!more) {
            zr__errf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        list = more;
        list[n].user = strdup(line);
        list[n].password = strdup(eq + 1);
        n++;
        if (!list[n - 1].user || !list[n - 1].password) {
            zr__errf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    explicit_bzero(line, sizeof line);
    fclose(f);
    if (rc != 0) {
        s_users_free(list, n);
        return -1;
    }
    *users = list;
    *nusers = n;
    return 0;
}

/* Read what the policy names on disk into it (under s_lock for the swap);
 * on failure the policy keeps what it had. */
static int
s_load(zr__auth_t *self, char *err, size_t errlen)
{
    unsigned char(*keys)[32] = NULL;
    size_t nkeys = 0;
    s_user_t *users = NULL;
    size_t nusers = 0;
    if (self->curve_allow &&
        s_load_keys(self->curve_allow, &keys, &nkeys, err, errlen) != 0) {
        return -1;
    }
    if (self->passwords &&
        s_load_users(self->passwords, &users, &nusers, err, errlen) != 0) {
        free(keys);
        return -1;
    }
    pthread_mutex_lock(&s_lock);
    unsigned char(*old_keys)[32] = self->keys;
    s_user_t *old_users = self->users;
    size_t old_nusers = self->nusers;
    self->keys = keys;
    self->nkeys = nkeys;
    self->users = users;
    self->nusers = nusers;
    pthread_mutex_unlock(&s_lock);
    zr__stat_set(&self->nkeys_now, nkeys);
    free(old_keys);
    s_users_free(old_users, old_nusers);
    return 0;
}

/* ---------------------------------------------------------------------
 * The handler: a thread with a REP socket at inproc://zeromq.zap.01.
 */

static zr__auth_t *
s_find(s_handler_t *h, const char *domain, size_t len)
{
    for (zr__auth_t *p = h->policies; p; p = p->next) {
        if (strlen(p->key) == len && memcmp(p->key, domain, len) == 0) {
            return p;
        }
    }
    return NULL;
}

static bool
s_cidr_match(const s_cidr_t *c, int family, const unsigned char *addr)
{
    if (c->family != family) {
        return false;
    }
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, (size_t) full) != 0) {
        return false;
    }
    if (rest) {
        unsigned char mask = (unsigned char) (0xff << (8 - rest));
        return (c->addr[full] & mask) == (addr[full] & mask);
    }
    return true;
}

static bool
s_cidr_any(const s_cidr_t *list, size_t n, int family,
           const unsigned char *addr)
{
    for (size_t i = 0; i < n; i++) {
        if (s_cidr_match(&list[i], family, addr)) {
            return true;
        }
    }
    return false;
}

/* Whether ADDRESS may connect. A peer with no IP address (ipc://, whose
 * address libzmq gives as ":uid:gid:pid") is not filtered. */
static bool
s_address_ok(const zr__auth_t *p, const char *address)
{
    unsigned char addr[16];
    int family;
    if (inet_pton(AF_INET, address, addr) == 1) {
        family = AF_INET;
    }
    else if (inet_pton(AF_INET6, address, addr) == 1) {
        family = AF_INET6;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(addr, mapped, 12) == 0) {
            memmove(addr, addr + 12, 4); /* an IPv4 peer on an IPv6 socket */
            family = AF_INET;
        }
    }
    else {
        return true;
    }
    if (s_cidr_any(p->deny, p->ndeny, family, addr)) {
        return false;
    }
    return !p->nallow || s_cidr_any(p->allow, p->nallow, family, addr);
}

/* TEXT as printable ASCII, for a log line (peers choose user names). */
static void
s_printable(char *out, size_t outlen, const void *data, size_t size)
{
    const unsigned char *s = data;
    size_t o = 0;
    for (size_t i = 0; i < size && o + 5 < outlen; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
            out[o++] = (char) s[i];
        }
        else {
            o += (size_t) snprintf(out + o, outlen - o, "\\x%02x", s[i]);
        }
    }
    out[o < outlen ? o : outlen - 1] = 0;
}

/* Log a refusal at info, at most S_LOG_PER_SEC a second per device. */
static void
s_log_refusal(zr__auth_t *p, const char *address, const char *why)
{
    char what[160];
    snprintf(what, sizeof what, "%s: refused connections", p->domain);
    if (zr__log_limit(&p->log_limit, S_LOG_PER_SEC, what)) {
        ZR_LOG_I("%s: refused a connection from %s: %s", p->domain,
                 *address ? address : "(local)", why);
    }
}

/* Whether SECRET (a C string) is the LEN bytes at GIVEN, in a time that
 * depends on LEN only: what a wrong password costs does not say how much
 * of it was right. */
static bool
s_same_secret(const char *secret, const char *given, size_t len)
{
    size_t slen = strlen(secret);
    unsigned char diff = slen != len;
    for (size_t i = 0; i < len; i++) {
        diff |= (unsigned char) (given[i] ^ (slen ? secret[i % slen] : 0));
    }
    return diff == 0 && slen == len;
}

typedef struct {
    zmq_msg_t frames[8];
    int n;
} s_request_t;

/* Decide request R: "200", or "400" with the reason counted and logged. */
static const char *
s_decide(s_handler_t *h, s_request_t *r, char *user_id, size_t idlen)
{
    user_id[0] = 0;
    if (r->n < 6) {
        return "500";
    }
    char address[INET6_ADDRSTRLEN + 64];
    s_printable(address, sizeof address, zmq_msg_data(&r->frames[3]),
                zmq_msg_size(&r->frames[3]));
    const char *mech = zmq_msg_data(&r->frames[5]);
    size_t mlen = zmq_msg_size(&r->frames[5]);
    /* The domain: the policy's key, '#', the side. */
    const char *domain = zmq_msg_data(&r->frames[2]);
    size_t dlen = zmq_msg_size(&r->frames[2]);
    const char *letter =
        dlen >= 2 && domain[dlen - 2] == '#' && domain[dlen - 1]
            ? strchr(S_SIDES, domain[dlen - 1])
            : NULL;
    if (!letter) {
        return "400"; /* not a domain of ours */
    }
    int side = letter[0] == 'f'   ? ZR__AUTH_FRONTEND
               : letter[0] == 'b' ? ZR__AUTH_BACKEND
                                  : -1;
    pthread_mutex_lock(&s_lock);
    zr__auth_t *p = s_find(h, domain, dlen - 2);
    if (!p) {
        pthread_mutex_unlock(&s_lock);
        return "400"; /* a device gone meanwhile */
    }
    const char *code = "200";
    if (!zr__auth_applies(p, side)) {
        /* Outside secure_side: every NULL peer; libzmq, because it asked
         * a handler, has refused unversioned ones already. */
    }
    else if (!s_address_ok(p, address)) {
        zr__stat_add(&p->address, 1);
        s_log_refusal(p, address, "address not allowed");
        code = "400";
    }
    else if (mlen == 5 && memcmp(mech, "CURVE", 5) == 0) {
        bool known = p->allow_any;
        const unsigned char *key = zmq_msg_data(&r->frames[6]);
        if (r->n >= 7 && zmq_msg_size(&r->frames[6]) == 32) {
            for (size_t i = 0; !known && i < p->nkeys; i++) {
                known = memcmp(p->keys[i], key, 32) == 0;
            }
            zmq_z85_encode(user_id, key, 32);
        }
        if (!known) {
            zr__stat_add(&p->unknown_key, 1);
            char why[80];
            snprintf(why, sizeof why, "unknown client key %s", user_id);
            s_log_refusal(p, address, why);
            code = "400";
        }
    }
    else if (mlen == 5 && memcmp(mech, "PLAIN", 5) == 0) {
        bool ok = false;
        if (r->n >= 8) {
            const char *u = zmq_msg_data(&r->frames[6]);
            size_t ulen = zmq_msg_size(&r->frames[6]);
            const char *pw = zmq_msg_data(&r->frames[7]);
            size_t pwlen = zmq_msg_size(&r->frames[7]);
            for (size_t i = 0; !ok && i < p->nusers; i++) {
                ok = strlen(p->users[i].user) == ulen &&
                     memcmp(p->users[i].user, u, ulen) == 0 &&
                     s_same_secret(p->users[i].password, pw, pwlen);
            }
            s_printable(user_id, idlen, u, ulen);
        }
        if (!ok) {
            zr__stat_add(&p->bad_password, 1);
            char why[200];
            snprintf(why, sizeof why, "bad user or password (user '%.120s')",
                     user_id);
            s_log_refusal(p, address, why);
            code = "400";
        }
    }
    zr__monitor_t *m = side > 0 ? p->monitors[side - 1] : NULL;
    if (code[0] == '2' && m && !zr__monitor_admit(m)) {
        s_log_refusal(p, address, "max_connections reached");
        /* Counted by the monitor, as its own refusals. A temporary
         * failure: libzmq (4.3.4 zap_client.cpp) then closes the
         * connection without an ERROR command, and the client reconnects
         * later; after a 400 a libzmq client never reconnects, so a
         * client that came while the socket was full (a stranger's idle
         * connections count too) stayed out for good
         * (attack14_slotsquat.py). */
        code = "300";
    }
    else if (code[0] == '2' && zr__auth_applies(p, side)) {
        zr__stat_add(&p->allowed, 1);
    }
    pthread_mutex_unlock(&s_lock);
    return code;
}

static void
s_reply(void *socket, s_request_t *r, const char *code, const char *user_id)
{
    const char *text = code[0] == '2' ? "OK" : "refused";
    zmq_send(socket, "1.0", 3, ZMQ_SNDMORE);
    if (r->n >= 2) {
        zmq_send(socket, zmq_msg_data(&r->frames[1]),
                 zmq_msg_size(&r->frames[1]), ZMQ_SNDMORE);
    }
    else {
        zmq_send(socket, "", 0, ZMQ_SNDMORE);
    }
    zmq_send(socket, code, 3, ZMQ_SNDMORE);
    zmq_send(socket, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(socket, user_id, code[0] == '2' ? strlen(user_id) : 0,
             ZMQ_SNDMORE);
    zmq_send(socket, "", 0, 0);
}

/* Read one request (all of it; its first 8 frames are kept) and answer. */
static void
s_serve(s_handler_t *h)
{
    s_request_t r = {.n = 0};
    int more = 1;
    while (more) {
        zmq_msg_t extra, *m = r.n < 8 ? &r.frames[r.n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, h->socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break;
        }
        more = zmq_msg_more(m);
        if (m == &extra) {
            zmq_msg_close(m);
        }
        else {
            r.n++;
        }
    }
    if (r.n > 0) {
        char user_id[128];
        const char *code = s_decide(h, &r, user_id, sizeof user_id);
        s_reply(h->socket, &r, code, user_id);
    }
    for (int i = 0; i < r.n; i++) {
        zmq_msg_close(&r.frames[i]);
    }
}

static void *
s_thread(void *arg)
{
    s_handler_t *h = arg;
    while (!atomic_load(&h->stop)) {
        zmq_pollitem_t items[2] = {
            {.socket = h->socket, .events = ZMQ_POLLIN},
            {.fd = h->wake[0], .events = ZMQ_POLLIN},
        };
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == ETERM) {
                break;
            }
            continue;
        }
        zr__wake_drain(h->wake[0]);
        if (items[0].revents & ZMQ_POLLIN) {
            s_serve(h);
        }
    }
    return NULL;
}

static s_handler_t *
s_handler_start(void *ctx, char *err, size_t errlen)
{
    s_handler_t *h = calloc(1, sizeof *h);
    if (!h) {
        zr__errf(err, errlen, "out of memory");
        return NULL;
    }
    h->ctx = ctx;
    h->wake[0] = h->wake[1] = -1;
    h->socket = zmq_socket(ctx, ZMQ_REP);
    int zero = 0;
    if (!h->socket ||
        zmq_setsockopt(h->socket, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(h->socket, S_ZAP_ENDPOINT) != 0) {
        zr__errf(err, errlen, "cannot start the authentication handler: %s%s",
                 zmq_strerror(errno),
                 errno == EADDRINUSE
                     ? " (another ZAP handler serves this context)"
                     : "");
        goto fail;
    }
    if (zr__wake_pipe(h->wake) != 0) {
        zr__errf(err, errlen, "cannot start the authentication handler: %s",
                 strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&h->thread, NULL, s_thread, h);
    if (rc != 0) {
        zr__errf(err, errlen, "cannot start the authentication handler: %s",
                 strerror(rc));
        goto fail;
    }
    return h;
fail:
    if (h->socket) {
        zmq_close(h->socket);
    }
    if (h->wake[0] >= 0) {
        close(h->wake[0]);
        close(h->wake[1]);
    }
    free(h);
    return NULL;
}

static void
s_handler_stop(s_handler_t *h)
{
    atomic_store(&h->stop, true);
    zr__wake(h->wake[1]);
    pthread_join(h->thread, NULL);
    /* Unbound first, so that a handler started next can bind at once. */
    zmq_unbind(h->socket, S_ZAP_ENDPOINT);
    zmq_close(h->socket);
    close(h->wake[0]);
    close(h->wake[1]);
    free(h);
}

/* ---------------------------------------------------------------------
 * A device's policy in its context's handler.
 */

bool
zr__auth_needs_zap(const zr__auth_t *self)
{
    return self && (self->curve_secret || self->passwords || self->nallow ||
                    self->ndeny || self->guard);
}

void
zr__auth_set_guard(zr__auth_t *self, bool on)
{
    self->guard = on;
}

bool
zr__auth_applies(const zr__auth_t *self, int side)
{
    return self && (self->side == ZR__AUTH_ALL || self->side == side);
}

int
zr__auth_check_settings(const zr__auth_t *self, char *err, size_t errlen)
{
    if (!self) {
        return 0;
    }
    if (self->curve_secret && self->passwords) {
        zr__errf(err, errlen,
                 "curve_secret and plain_passwords both given: a socket "
                 "speaks one mechanism (secure_side splits them)");
        return -1;
    }
    if (self->curve_secret && !self->curve_allow && !self->allow_any) {
        zr__errf(err, errlen,
                 "a CURVE server needs --curve-allow DIR (curve_allow: the "
                 "public certificates of the clients let in) or, to encrypt "
                 "without knowing clients, --curve-allow-any "
                 "(curve_allow_any)");
        return -1;
    }
    if ((self->curve_allow || self->allow_any) && !self->curve_secret) {
        zr__errf(err, errlen,
                 "%s needs --curve-secret FILE (this device's certificate)",
                 self->curve_allow ? "--curve-allow" : "--curve-allow-any");
        return -1;
    }
    if (self->curve_cert && !self->curve_server_key) {
        zr__errf(err, errlen,
                 "--curve-cert needs --curve-server-key FILE (the public "
                 "certificate of the server it connects to)");
        return -1;
    }
    return 0;
}

int
zr__auth_check(zr__auth_t *self, char *err, size_t errlen)
{
    if (zr__auth_check_settings(self, err, errlen) != 0) {
        return -1;
    }
    if (!self) {
        return 0;
    }
    if (self->curve_secret &&
        zr__cert_load(self->curve_secret, self->server_public,
                      self->server_secret, err, errlen) != 0) {
        return -1;
    }
    return 0;
}

int
zr__auth_open(zr__auth_t *self, void *ctx, char *err, size_t errlen)
{
    if (zr__auth_check(self, err, errlen) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (!zr__auth_needs_zap(self) || self->handler) {
        return 0;
    }
    if (s_load(self, err, errlen) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (self->curve_secret) {
        if (self->curve_allow) {
            ZR_LOG_I("%s: CURVE, %zu client keys allowed from %s", self->domain,
                     self->nkeys, self->curve_allow);
        }
        else {
            ZR_LOG_N("%s: CURVE with curve_allow_any: encrypted, but any "
                     "client key gets in",
                     self->domain);
        }
    }
    if (self->passwords) {
        ZR_LOG_I("%s: PLAIN, %zu users (cleartext on the wire)", self->domain,
                 self->nusers);
    }
    pthread_mutex_lock(&s_life);
    s_handler_t *h = s_handlers;
    while (h && h->ctx != ctx) {
        h = h->next;
    }
    if (!h) {
        h = s_handler_start(ctx, err, errlen);
        if (!h) {
            pthread_mutex_unlock(&s_life);
            return -1;
        }
        h->next = s_handlers;
        s_handlers = h;
    }
    pthread_mutex_lock(&s_lock);
    self->next = h->policies;
    h->policies = self;
    h->refs++;
    self->handler = h;
    pthread_mutex_unlock(&s_lock);
    pthread_mutex_unlock(&s_life);
    return 0;
}

void
zr__auth_close(zr__auth_t *self)
{
    if (!self || !self->handler) {
        return;
    }
    pthread_mutex_lock(&s_life);
    s_handler_t *h = self->handler;
    pthread_mutex_lock(&s_lock);
    for (zr__auth_t **pp = &h->policies; *pp; pp = &(*pp)->next) {
        if (*pp == self) {
            *pp = self->next;
            break;
        }
    }
    self->handler = NULL;
    self->next = NULL;
    bool last = --h->refs == 0;
    if (last) {
        for (s_handler_t **hp = &s_handlers; *hp; hp = &(*hp)->next) {
            if (*hp == h) {
                *hp = h->next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&s_lock);
    if (last) {
        s_handler_stop(h);
    }
    pthread_mutex_unlock(&s_life);
}

int
zr__auth_reload(void *ctx)
{
    int failed = 0;
    pthread_mutex_lock(&s_life);
    for (s_handler_t *h = s_handlers; h; h = h->next) {
        if (h->ctx != ctx) {
            continue;
        }
        /* Under s_life no policy leaves the list. */
        for (zr__auth_t *p = h->policies; p; p = p->next) {
            char err[512];
            if (s_load(p, err, sizeof err) != 0) {
                ZR_LOG_E("%s: reload: %s; the old keys and passwords stay",
                         p->domain, err);
                failed++;
            }
            else if (p->curve_allow) {
                ZR_LOG_N("%s: %llu client keys allowed", p->domain,
                         (unsigned long long) zr__stat_get(&p->nkeys_now));
            }
        }
    }
    pthread_mutex_unlock(&s_life);
    return failed;
}

/* ---------------------------------------------------------------------
 * Socket setup, from device.c.
 */

static int
s_setopt(void *socket, int option, const void *value, size_t size, char *err,
         size_t errlen)
{
    if (zmq_setsockopt(socket, option, value, size) != 0) {
        zr__errf(err, errlen, "cannot secure the socket: %s",
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

int
zr__auth_server_socket(zr__auth_t *self, int side, void *socket, char *err,
                       size_t errlen)
{
    if (!zr__auth_needs_zap(self)) {
        return 0;
    }
    char domain[sizeof self->key + 2];
    snprintf(domain, sizeof domain, "%s#%c", self->key,
             side == ZR__AUTH_FRONTEND  ? 'f'
             : side == ZR__AUTH_BACKEND ? 'b'
                                        : 'o');
    if (s_setopt(socket, ZMQ_ZAP_DOMAIN, domain, strlen(domain), err, errlen) !=
        0) {
        return -1;
    }
    if (!zr__auth_applies(self, side)) {
        return 0; /* the guard only */
    }
    int on = 1;
    if (self->curve_secret) {
        return s_setopt(socket, ZMQ_CURVE_SERVER, &on, sizeof on, err,
                        errlen) ||
               s_setopt(socket, ZMQ_CURVE_SECRETKEY, self->server_secret, 32,
                        err, errlen);
    }
    if (self->passwords) {
        return s_setopt(socket, ZMQ_PLAIN_SERVER, &on, sizeof on, err, errlen);
    }
    return 0;
}

void
zr__auth_set_monitor(zr__auth_t *self, int side, zr__monitor_t *monitor)
{
    if (!self || (side != ZR__AUTH_FRONTEND && side != ZR__AUTH_BACKEND)) {
        return;
    }
    pthread_mutex_lock(&s_lock);
    self->monitors[side - 1] = monitor;
    pthread_mutex_unlock(&s_lock);
}

int
zr_curve_client(void *socket, const char *server_key, const char *cert,
                char *err, size_t errlen)
{
    unsigned char server[32], pub[32], sec[32];
    if (zr__cert_load(server_key, server, NULL, err, errlen) != 0) {
        return -1;
    }
    if (cert) {
        if (zr__cert_load(cert, pub, sec, err, errlen) != 0) {
            return -1;
        }
    }
    else {
        /* No certificate of its own: a fresh key pair, which only a
         * server with curve_allow_any lets in. */
        char zpub[41], zsec[41];
        if (zmq_curve_keypair(zpub, zsec) != 0) {
            zr__errf(err, errlen, "cannot make a key pair: %s",
                     zmq_strerror(errno));
            return -1;
        }
        zmq_z85_decode(pub, zpub);
        zmq_z85_decode(sec, zsec);
        explicit_bzero(zsec, sizeof zsec);
    }
    int rc = s_setopt(socket, ZMQ_CURVE_SERVERKEY, server, 32, err, errlen) ||
             s_setopt(socket, ZMQ_CURVE_PUBLICKEY, pub, 32, err, errlen) ||
             s_setopt(socket, ZMQ_CURVE_SECRETKEY, sec, 32, err, errlen);
    explicit_bzero(sec, sizeof sec);
    return rc ? -1 : 0;
}

int
zr_plain_client(void *socket, const char *user, const char *password, char *err,
                size_t errlen)
{
    if (s_setopt(socket, ZMQ_PLAIN_USERNAME, user, strlen(user), err, errlen) !=
            0 ||
        s_setopt(socket, ZMQ_PLAIN_PASSWORD, password, strlen(password), err,
                 errlen) != 0) {
        return -1;
    }
    return 0;
}

int
zr__auth_client_socket(zr__auth_t *self, void *socket, char *err, size_t errlen)
{
    if (!self || !self->curve_server_key) {
        return 0;
    }
    return zr_curve_client(socket, self->curve_server_key, self->curve_cert,
                           err, errlen);
}

/* ---------------------------------------------------------------------
 * Counters.
 */

void
zr__auth_set_failures(zr__auth_t *self, uint64_t (*failed)(const void *),
                      const void *arg)
{
    self->failed = failed;
    self->failed_arg = arg;
}

/* Handshakes on the secured sides that failed before a ZAP decision: a
 * mechanism mismatch (a NULL client at a CURVE port), garbage, a timeout
 * (the monitors' no_detail and protocol reasons; ZAP's refusals, over
 * max_connections among them, are counted by their own reasons). Kept
 * from going down. */
static double
s_protocol(const void *base)
{
    zr__auth_t *self = (zr__auth_t *) base;
    if (!self || !self->failed) {
        return 0;
    }
    uint64_t now = self->failed(self->failed_arg);
    uint64_t seen = zr__stat_get(&self->protocol_seen);
    while (now > seen &&
           !atomic_compare_exchange_weak(&self->protocol_seen, &seen, now)) {
    }
    return (double) (now > seen ? now : seen);
}

#define S_AT(field) offsetof(zr__auth_t, field)
static const zr__stat_t s_rows[] = {
    {.key = "allowed",
     .metric = "auth_allowed_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Connections the authentication handler let in.",
     .offset = S_AT(allowed)},
    {.key = "denied.unknown_key",
     .metric = "auth_denied_total",
     .labels = "reason=\"unknown_key\"",
     .kind = ZR__STAT_COUNTER,
     .help = "CURVE clients refused: their key is not in the allow "
             "directory.",
     .offset = S_AT(unknown_key)},
    {.key = "denied.bad_password",
     .metric = "auth_denied_total",
     .labels = "reason=\"bad_password\"",
     .kind = ZR__STAT_COUNTER,
     .help = "PLAIN clients refused: unknown user or wrong password.",
     .offset = S_AT(bad_password)},
    {.key = "denied.address",
     .metric = "auth_denied_total",
     .labels = "reason=\"address\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Connections refused by allow or deny (the peer's address).",
     .offset = S_AT(address)},
    {.key = "denied.protocol",
     .metric = "auth_denied_total",
     .labels = "reason=\"protocol\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Handshakes on secured sockets that failed before the check: "
             "another mechanism (a NULL client at a CURVE port), garbage, "
             "a timeout.",
     .get = s_protocol},
    {.key = "allowed_keys",
     .metric = "auth_allowed_keys",
     .kind = ZR__STAT_GAUGE,
     .help = "Client keys in the allow directory as last read.",
     .offset = S_AT(nkeys_now)},
};
#undef S_AT

zr__stat_section_t
zr__auth_section(const zr__auth_t *self)
{
    return (zr__stat_section_t){.path = "auth",
                                .labels = NULL,
                                .rows = s_rows,
                                .nrows = sizeof s_rows / sizeof s_rows[0],
                                .base = self};
}
