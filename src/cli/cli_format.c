/* cli_format.c - the client verbs' messages in and out: the output
 * formats (text, quoted, hex, json, raw), and the input (lines, raw).
 * SPDX-License-Identifier: MIT
 */
#include "cli_format.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

int
cli_format_from_name(const char *name)
{
    static const char *names[] = {"text", "quoted", "hex", "json", "raw"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            return (int) i;
        }
    }
    return -1;
}

bool
cli_utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        /* The well-formed sequences of Unicode's table 3-7: the second
         * byte's range excludes overlongs (E0, F0), surrogates (ED) and
         * code points past U+10FFFF (F4). */
        size_t n;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        }
        else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        }
        else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        }
        else {
            return false; /* 80..C1 (continuation, overlong), F5..FF */
        }
        if (len - i < n || s[i + 1] < lo || s[i + 1] > hi) {
            return false;
        }
        for (size_t k = 2; k < n; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) {
                return false;
            }
        }
        i += n;
    }
    return true;
}

/* Written here: cJSON has no base64, and libzmq offers only Z85
 * (zmq_z85_encode), which is not what JSON consumers expect. */
size_t
cli_base64_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

size_t
cli_base64_encode(const unsigned char *in, size_t len, char *out)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v =
            (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t) in[i] << 16;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    }
    else if (len - i == 2) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = 0;
    return o;
}

int
cli_hex_decode(const char *text, size_t len, unsigned char *out)
{
    if (len < 4 || len % 2 != 0 || text[0] != '0' || text[1] != 'x') {
        return -1;
    }
    static const char digits[] = "0123456789abcdef0123456789ABCDEF";
    size_t n = 0;
    for (size_t i = 2; i < len; i += 2) {
        const char *h = text[i] ? strchr(digits, text[i]) : NULL;
        const char *l = text[i + 1] ? strchr(digits, text[i + 1]) : NULL;
        if (!h || !l) {
            return -1;
        }
        out[n++] =
            (unsigned char) (((h - digits) & 15) << 4 | ((l - digits) & 15));
    }
    return (int) n;
}

/* ---------------------------------------------------------------------
 * Output: each message is built in a buffer and written with one fwrite,
 * so that messages never interleave and a reader sees whole lines.
 */

typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} s_buf_t;

static void
s_reserve(s_buf_t *b, size_t more)
{
    if (b->failed || b->len + more + 1 <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1) {
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data) {
        b->failed = true;
        return;
    }
    b->data = data;
    b->cap = cap;
}

static void
s_put(s_buf_t *b, const void *data, size_t len)
{
    s_reserve(b, len);
    if (!b->failed) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = 0;
    }
}

static void
s_puts(s_buf_t *b, const char *text)
{
    s_put(b, text, strlen(text));
}

static void
s_put_hex(s_buf_t *b, const unsigned char *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    s_reserve(b, 2 * len);
    for (size_t i = 0; i < len && !b->failed; i++) {
        b->data[b->len++] = hex[data[i] >> 4];
        b->data[b->len++] = hex[data[i] & 15];
    }
    if (!b->failed) {
        b->data[b->len] = 0;
    }
}

/* DATA between double quotes, escaped for JSON (JSON: UTF-8 passes
 * through, other control bytes become \u00XX; cJSON's own strings end at
 * the first NUL, and U+0000 is valid UTF-8, so text frames are escaped
 * here and handed to cJSON as raw values) or for a terminal (anything but
 * printable ASCII becomes \xXX). */
static void
s_put_escaped(s_buf_t *b, const unsigned char *data, size_t len, bool json)
{
    s_puts(b, "\"");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = data[i];
        char esc[8];
        switch (c) {
        case '"': s_puts(b, "\\\""); break;
        case '\\': s_puts(b, "\\\\"); break;
        case '\n': s_puts(b, "\\n"); break;
        case '\r': s_puts(b, "\\r"); break;
        case '\t': s_puts(b, "\\t"); break;
        default:
            if (c >= 0x20 && (json || c < 0x7f)) {
                s_put(b, &c, 1);
            }
            else {
                snprintf(esc, sizeof esc, json ? "\\u%04x" : "\\x%02x", c);
                s_puts(b, esc);
            }
        }
    }
    s_puts(b, "\"");
}

static bool
s_printable_identity(const unsigned char *data, size_t len)
{
    if (len == 0 || (len >= 2 && data[0] == '0' && data[1] == 'x')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (data[i] < 0x21 || data[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

/* {"frames":[...]} built with cJSON; each frame's value is written by
 * s_put_escaped or base64, and added as a raw item. */
static void
s_put_json(s_buf_t *b, const cli_msg_t *msg, const char *time)
{
    cJSON *root = cJSON_CreateObject();
    if (root && time) {
        cJSON_AddStringToObject(root, "time", time);
    }
    cJSON *frames = cJSON_AddArrayToObject(root, "frames");
    s_buf_t value = {NULL, 0, 0, false};
    bool ok = root && frames;
    for (size_t i = 0; ok && i < msg->size; i++) {
        zmq_msg_t *f = (zmq_msg_t *) &msg->frames[i];
        const unsigned char *data = zmq_msg_data(f);
        size_t len = zmq_msg_size(f);
        bool text = cli_utf8_valid(data, len);
        value.len = 0;
        if (text) {
            s_put_escaped(&value, data, len, true);
        }
        else {
            s_puts(&value, "\"");
            s_reserve(&value, cli_base64_len(len));
            if (!value.failed) {
                value.len +=
                    cli_base64_encode(data, len, value.data + value.len);
            }
            s_puts(&value, "\"");
        }
        cJSON *frame = cJSON_CreateObject();
        if (!frame || !cJSON_AddItemToArray(frames, frame)) {
            cJSON_Delete(frame);
            ok = false;
            break;
        }
        cJSON *item = value.failed ? NULL : cJSON_CreateRaw(value.data);
        if (!item ||
            !cJSON_AddItemToObject(frame, text ? "text" : "base64", item)) {
            cJSON_Delete(item);
            ok = false;
        }
    }
    char *line = ok ? cJSON_PrintUnformatted(root) : NULL;
    if (line) {
        s_puts(b, line);
        s_puts(b, "\n");
        cJSON_free(line);
    }
    else {
        b->failed = true;
    }
    cJSON_Delete(root);
    free(value.data);
}

static void
s_put_raw(s_buf_t *b, const cli_msg_t *msg)
{
    for (size_t i = 0; i < msg->size; i++) {
        zmq_msg_t *f = (zmq_msg_t *) &msg->frames[i];
        uint64_t len = zmq_msg_size(f);
        unsigned char head[CLI_RAW_HEADER];
        head[0] = i + 1 < msg->size ? CLI_RAW_MORE : 0;
        for (int k = 0; k < 8; k++) {
            head[1 + k] = (unsigned char) (len >> (56 - 8 * k));
        }
        s_put(b, head, sizeof head);
        s_put(b, zmq_msg_data(f), (size_t) len);
    }
}

int
cli_format_write(FILE *out, cli_format_t format, const cli_msg_t *msg,
                 const char *sep, bool identity_first)
{
    return cli_format_write_at(out, format, msg, sep, identity_first, NULL);
}

int
cli_format_write_at(FILE *out, cli_format_t format, const cli_msg_t *msg,
                    const char *sep, bool identity_first, const char *time)
{
    s_buf_t b = {NULL, 0, 0, false};
    if (format == CLI_FMT_JSON) {
        s_put_json(&b, msg, time);
    }
    else if (format == CLI_FMT_RAW) {
        s_put_raw(&b, msg);
    }
    else {
        if (time) {
            s_puts(&b, time);
            s_puts(&b, " ");
        }
        for (size_t i = 0; i < msg->size; i++) {
            zmq_msg_t *f = (zmq_msg_t *) &msg->frames[i];
            const unsigned char *data = zmq_msg_data(f);
            size_t len = zmq_msg_size(f);
            if (i > 0) {
                s_puts(&b, sep);
            }
            if (format == CLI_FMT_QUOTED) {
                s_put_escaped(&b, data, len, false);
            }
            else if (format == CLI_FMT_HEX) {
                s_put_hex(&b, data, len);
            }
            else if (i == 0 && identity_first &&
                     !s_printable_identity(data, len)) {
                s_puts(&b, "0x");
                s_put_hex(&b, data, len);
            }
            else {
                s_put(&b, data, len);
            }
        }
        s_puts(&b, "\n");
    }
    int rc = 0;
    if (b.failed) {
        errno = ENOMEM;
        rc = -1;
    }
    else if ((b.len && fwrite(b.data, 1, b.len, out) != b.len) ||
             fflush(out) != 0) {
        rc = -1;
    }
    free(b.data);
    return rc;
}

int
cli_raw_parse(const unsigned char *buf, size_t len, size_t *pos, cli_msg_t *msg,
              char *err, size_t errlen)
{
    /* First find the whole message, consuming nothing; then copy it. */
    size_t p = *pos;
    for (;;) {
        if (len - p < CLI_RAW_HEADER) {
            return 0;
        }
        unsigned char flags = buf[p];
        if (flags & ~CLI_RAW_MORE) {
            snprintf(err, errlen,
                     "raw input: byte %zu: flags 0x%02x (only bit 0, more, "
                     "may be set): not the raw format",
                     p, flags);
            return -1;
        }
        uint64_t flen = 0;
        for (int k = 0; k < 8; k++) {
            flen = flen << 8 | buf[p + 1 + k];
        }
        if (flen > (uint64_t) (SIZE_MAX / 2)) {
            snprintf(err, errlen,
                     "raw input: byte %zu: a frame of %llu bytes: not the raw "
                     "format",
                     p, (unsigned long long) flen);
            return -1;
        }
        if (len - p - CLI_RAW_HEADER < flen) {
            return 0;
        }
        p += CLI_RAW_HEADER + (size_t) flen;
        if (!(flags & CLI_RAW_MORE)) {
            break;
        }
    }
    cli_msg_clear(msg);
    size_t q = *pos;
    while (q < p) {
        uint64_t flen = 0;
        for (int k = 0; k < 8; k++) {
            flen = flen << 8 | buf[q + 1 + k];
        }
        if (cli_msg_add(msg, buf + q + CLI_RAW_HEADER, (size_t) flen) != 0) {
            snprintf(err, errlen, "raw input: %s", zmq_strerror(errno));
            return -1;
        }
        q += CLI_RAW_HEADER + (size_t) flen;
    }
    *pos = p;
    return 1;
}

/* ---------------------------------------------------------------------
 * Input.
 */

/* A frame of TEXT (LEN bytes) onto MSG; the first frame of a router's
 * message is decoded when it is 0x-hex. */
static int
s_add_frame(cli_input_t *src, cli_msg_t *msg, const char *text, size_t len)
{
    if (src->identity_first && msg->size == 0 && len >= 4 && text[0] == '0' &&
        text[1] == 'x') {
        unsigned char id[256];
        if (len / 2 <= sizeof id) {
            int n = cli_hex_decode(text, len, id);
            if (n >= 0) {
                return cli_msg_add(msg, id, (size_t) n);
            }
        }
    }
    return cli_msg_add(msg, text, len);
}

/* The line LINE (LEN bytes) as a message: split at SEP when set. */
static int
s_line_msg(cli_input_t *src, const char *line, size_t len, cli_msg_t *msg)
{
    cli_msg_clear(msg);
    size_t seplen = src->sep ? strlen(src->sep) : 0;
    size_t start = 0;
    for (size_t i = 0; seplen && i + seplen <= len;) {
        if (memcmp(line + i, src->sep, seplen) == 0) {
            if (s_add_frame(src, msg, line + start, i - start) != 0) {
                return -1;
            }
            i += seplen;
            start = i;
        }
        else {
            i++;
        }
    }
    return s_add_frame(src, msg, line + start, len - start);
}

/* The next message into MSG: 1; 0 when more input is needed (poll FD,
 * then cli_input_fill); -1 at the end; -2 on bad input (why in ERR). */
int
cli_input_next(cli_input_t *src, cli_msg_t *msg)
{
    if (src->kind == CLI_INPUT_NONE ||
        (src->limit >= 0 && src->produced >= src->limit)) {
        return -1;
    }
    if (src->kind == CLI_INPUT_FIXED) {
        if (cli_msg_copy(msg, &src->fixed) != 0) {
            snprintf(src->err, sizeof src->err, "%s", zmq_strerror(errno));
            return -2;
        }
        src->produced++;
        return 1;
    }
    if (src->raw) {
        int rc = cli_raw_parse(src->buf, src->len, &src->pos, msg, src->err,
                               sizeof src->err);
        if (rc < 0) {
            return -2;
        }
        if (rc == 0 && src->eof) {
            if (src->pos == src->len) {
                return -1;
            }
            snprintf(src->err, sizeof src->err,
                     "raw input ends inside a message (%zu bytes left over): "
                     "truncated, or not the raw format",
                     src->len - src->pos);
            return -2;
        }
        src->produced += rc;
        return rc;
    }
    const char *start = (const char *) src->buf + src->pos;
    size_t avail = src->len - src->pos;
    const char *nl = avail ? memchr(start, '\n', avail) : NULL;
    size_t len;
    if (nl) {
        len = (size_t) (nl - start);
        src->pos += len + 1;
    }
    else if (src->eof && avail > 0) {
        len = avail; /* a last line without a newline */
        src->pos += len;
    }
    else {
        return src->eof ? -1 : 0;
    }
    if (src->json) {
        if (cli_json_parse(start, len, msg, src->err, sizeof src->err) != 0) {
            return -2;
        }
    }
    else if (s_line_msg(src, start, len, msg) != 0) {
        snprintf(src->err, sizeof src->err, "%s", zmq_strerror(errno));
        return -2;
    }
    src->produced++;
    return 1;
}

/* Read what standard input has now. -1 on a read error (why in ERR). */
int
cli_input_fill(cli_input_t *src)
{
    if (src->pos > 0 && (src->pos == src->len || src->cap - src->len < 4096)) {
        memmove(src->buf, src->buf + src->pos, src->len - src->pos);
        src->len -= src->pos;
        src->pos = 0;
    }
    if (src->cap - src->len < 4096) {
        size_t cap = src->cap ? src->cap * 2 : 65536;
        unsigned char *buf = realloc(src->buf, cap);
        if (!buf) {
            snprintf(src->err, sizeof src->err, "out of memory");
            return -1;
        }
        src->buf = buf;
        src->cap = cap;
    }
    ssize_t n = read(src->fd, src->buf + src->len, src->cap - src->len);
    if (n > 0) {
        src->len += (size_t) n;
    }
    else if (n == 0) {
        src->eof = true;
    }
    else if (errno != EINTR && errno != EAGAIN) {
        snprintf(src->err, sizeof src->err, "cannot read standard input: %s",
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* The whole file PATH into *DATA (malloc'd), *LEN; -1 with ERR set. */
int
cli_read_file(const char *path, unsigned char **data, size_t *len, char *err,
              size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "--file: cannot read '%s': %s", path,
                 strerror(errno));
        return -1;
    }
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int rc = 0;
    if (!buf || ferror(f)) {
        snprintf(err, errlen, "--file: cannot read '%s': %s", path,
                 buf ? strerror(errno) : "out of memory");
        free(buf);
        rc = -1;
    }
    else {
        *data = buf;
        *len = n;
    }
    fclose(f);
    return rc;
}
