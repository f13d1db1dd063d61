/* cli_json_input.c - `--input json`: a line of what `--format json`
 * prints, {"frames":[{"text":...}|{"base64":...}, ...]}, back into the
 * message it was, byte for byte, so that a capture can be replayed
 * through any verb. Other members ("time", "dir") are ignored.
 * SPDX-License-Identifier: MIT
 */
#include "cli_format.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Standard base64 (RFC 4648, padded) of TEXT into OUT (room for
 * strlen(TEXT) / 4 * 3 bytes); the byte count, or -1 when malformed. */
static long
s_base64_decode(const char *text, unsigned char *out)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(text), n = 0;
    if (len % 4 != 0) {
        return -1;
    }
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + k];
            const char *at = c ? strchr(abc, c) : NULL;
            if (c == '=' && i + 4 == len && k >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!at || pad) {
                return -1;
            }
            v = v << 6 | (uint32_t) (at - abc);
        }
        out[n++] = (unsigned char) (v >> 16);
        if (pad < 2) {
            out[n++] = (unsigned char) (v >> 8);
        }
        if (pad < 1) {
            out[n++] = (unsigned char) v;
        }
    }
    return (long) n;
}

/* The 4 hex digits at P (exactly those: no sign, blank or 0x, which
 * strtoul would take), or -1. */
static long
s_hex4(const char *p)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = p[k] >= '0' && p[k] <= '9'   ? p[k] - '0'
                : p[k] >= 'a' && p[k] <= 'f' ? p[k] - 'a' + 10
                : p[k] >= 'A' && p[k] <= 'F' ? p[k] - 'A' + 10
                                             : -1;
        if (d < 0) {
            return -1;
        }
        v = v << 4 | d;
    }
    return v;
}

/* The UTF-8 of JSON string literal TEXT (quotes included, LEN bytes)
 * into OUT (room for LEN bytes): cJSON's own strings end at the first
 * NUL, and "\u0000" is a valid frame byte, so literals are decoded here.
 * The byte count, or -1. */
static long
s_unescape(const char *text, size_t len, unsigned char *out)
{
    size_t n = 0;
    for (size_t i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char) text[i];
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        if (++i + 1 >= len) {
            return -1;
        }
        switch (text[i]) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            if (i + 4 >= len) {
                return -1;
            }
            long hex = s_hex4(text + i + 1);
            if (hex < 0) {
                return -1;
            }
            unsigned long cp = (unsigned long) hex;
            i += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && i + 6 < len &&
                text[i + 1] == '\\' && text[i + 2] == 'u') {
                long lo = s_hex4(text + i + 3);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) +
                         (unsigned long) (lo - 0xdc00);
                    i += 6;
                }
            }
            if (cp < 0x80) {
                out[n++] = (unsigned char) cp;
            }
            else if (cp < 0x800) {
                out[n++] = (unsigned char) (0xc0 | cp >> 6);
                out[n++] = (unsigned char) (0x80 | (cp & 0x3f));
            }
            else if (cp < 0x10000) {
                out[n++] = (unsigned char) (0xe0 | cp >> 12);
                out[n++] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
                out[n++] = (unsigned char) (0x80 | (cp & 0x3f));
            }
            else {
                out[n++] = (unsigned char) (0xf0 | cp >> 18);
                out[n++] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
                out[n++] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
                out[n++] = (unsigned char) (0x80 | (cp & 0x3f));
            }
            break;
        }
        default: return -1;
        }
    }
    return (long) n;
}

/* ---------------------------------------------------------------------
 * A small scanner over the line: cJSON keeps no positions and ends its
 * strings at the first NUL, so the frames' literals are found here.
 */

typedef struct {
    const char *p, *end;
} s_scan_t;

static void
s_ws(s_scan_t *s)
{
    while (s->p < s->end &&
           (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) {
        s->p++;
    }
}

static bool
s_char(s_scan_t *s, char c)
{
    s_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

/* A string literal at P: its span, quotes included. */
static bool
s_string(s_scan_t *s, const char **lit, size_t *len)
{
    s_ws(s);
    if (s->p >= s->end || *s->p != '"') {
        return false;
    }
    const char *q = s->p + 1;
    while (q < s->end && *q != '"') {
        q += *q == '\\' ? 2 : 1;
    }
    if (q >= s->end) {
        return false;
    }
    *lit = s->p;
    *len = (size_t) (q + 1 - s->p);
    s->p = q + 1;
    return true;
}

static bool
s_key_is(const char *lit, size_t len, const char *key)
{
    return len == strlen(key) + 2 && memcmp(lit + 1, key, len - 2) == 0;
}

/* Any value. */
static bool
s_skip(s_scan_t *s, int depth)
{
    const char *lit;
    size_t len;
    s_ws(s);
    if (s->p >= s->end || depth > 64) {
        return false;
    }
    char c = *s->p;
    if (c == '"') {
        return s_string(s, &lit, &len);
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        s->p++;
        if (s_char(s, close)) {
            return true;
        }
        do {
            if (c == '{' && (!s_string(s, &lit, &len) || !s_char(s, ':'))) {
                return false;
            }
            if (!s_skip(s, depth + 1)) {
                return false;
            }
        } while (s_char(s, ','));
        return s_char(s, close);
    }
    const char *start = s->p;
    while (s->p < s->end && strchr("+-.0123456789eEtruefalsn", *s->p)) {
        s->p++;
    }
    return s->p > start;
}

/* One frame object onto MSG. */
static bool
s_frame(s_scan_t *s, cli_msg_t *msg)
{
    const char *key, *lit = NULL;
    size_t klen, len = 0;
    bool b64 = false;
    if (!s_char(s, '{')) {
        return false;
    }
    do {
        if (!s_string(s, &key, &klen) || !s_char(s, ':')) {
            return false;
        }
        bool text = s_key_is(key, klen, "text");
        bool base = s_key_is(key, klen, "base64");
        if (text || base) {
            if (lit || !s_string(s, &lit, &len)) {
                return false;
            }
            b64 = base;
        }
        else if (!s_skip(s, 1)) {
            return false;
        }
    } while (s_char(s, ','));
    if (!s_char(s, '}') || !lit) {
        return false;
    }
    unsigned char *buf = malloc(len + 1);
    long n = -1;
    if (buf && b64) {
        char *copy = malloc(len);
        if (copy) {
            memcpy(copy, lit + 1, len - 2);
            copy[len - 2] = 0;
            n = s_base64_decode(copy, buf);
            free(copy);
        }
    }
    else if (buf) {
        n = s_unescape(lit, len, buf);
    }
    bool ok = n >= 0 && cli_msg_add(msg, buf, (size_t) n) == 0;
    free(buf);
    return ok;
}

int
cli_json_parse(const char *line, size_t len, cli_msg_t *msg, char *err,
               size_t errlen)
{
    cli_msg_clear(msg);
    s_scan_t s = {line, line + len};
    bool ok = s_char(&s, '{'), seen = false;
    while (ok && !seen) {
        const char *key;
        size_t klen;
        ok = s_string(&s, &key, &klen) && s_char(&s, ':');
        if (ok && s_key_is(key, klen, "frames")) {
            seen = true;
            ok = s_char(&s, '[');
            do {
                ok = ok && s_frame(&s, msg);
            } while (ok && s_char(&s, ','));
            ok = ok && s_char(&s, ']');
        }
        else if (ok) {
            ok = s_skip(&s, 1);
        }
        if (ok && !seen && !s_char(&s, ',')) {
            break;
        }
    }
    /* Members after "frames", then the end. */
    while (ok && seen && s_char(&s, ',')) {
        const char *key;
        size_t klen;
        ok = s_string(&s, &key, &klen) && s_char(&s, ':') && s_skip(&s, 1);
    }
    ok = ok && seen && s_char(&s, '}');
    s_ws(&s);
    if (!ok || s.p != s.end) {
        cli_msg_clear(msg);
        snprintf(err, errlen,
                 "json input: not a line of --format json, {\"frames\":[{"
                 "\"text\":...}|{\"base64\":...}, ...]}: %.*s",
                 (int) (len > 80 ? 80 : len), line);
        return -1;
    }
    return 0;
}
