/* fuzz.h - what zrelay's fuzz targets share: the libFuzzer entry points,
 * a reader that cuts an input into frames, and a check that aborts (a
 * finding, under libFuzzer and in the replay alike).
 * SPDX-License-Identifier: MIT
 *
 * Every target defines LLVMFuzzerTestOneInput and LLVMFuzzerInitialize.
 * Built with -DZR_FUZZ=ON (clang), libFuzzer calls them; otherwise
 * replay_main.c does, once per file of the corpus and crash directories
 * (`ctest -L fuzz`), so any compiler replays what the fuzzers found.
 */
#ifndef ZR_FUZZ_H_INCLUDED
#define ZR_FUZZ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zrelay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property a target checks: false is a finding (abort, with where). */
#define ZR_FUZZ_CHECK(cond)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* Every log line is formatted (code the input reaches) and checked:
 * text from the network is escaped, so no line holds a control byte (a
 * newline or an ANSI escape would forge log lines). */
static inline void
zr_fuzz_log(zr_log_level_t level, const char *line, void *arg)
{
    (void) level;
    (void) arg;
    for (const unsigned char *p = (const unsigned char *) line; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "fuzz: a log line with byte 0x%02x: %s\n", *p,
                    line);
            ZR_FUZZ_CHECK(!"a control byte in a log line");
        }
    }
}

static inline void
zr_fuzz_log_on(void)
{
    zr_log_set_handler(zr_fuzz_log, NULL);
    zr_log_set_level(ZR_LOG_DEBUG);
}

/* An input read front to back; past its end every read gives zeros. */
typedef struct {
    const uint8_t *data;
    size_t size, pos;
} zr_fuzz_in_t;

static inline bool
zr_fuzz_more(const zr_fuzz_in_t *in)
{
    return in->pos < in->size;
}

static inline uint8_t
zr_fuzz_byte(zr_fuzz_in_t *in)
{
    return in->pos < in->size ? in->data[in->pos++] : 0;
}

/* The next frame: a length byte, then that many bytes (fewer at the
 * end). *LEN bytes at the returned pointer. */
static inline const uint8_t *
zr_fuzz_frame(zr_fuzz_in_t *in, size_t *len)
{
    size_t want = zr_fuzz_byte(in);
    size_t left = in->size - in->pos;
    *len = want < left ? want : left;
    const uint8_t *at = in->data + in->pos;
    in->pos += *len;
    return at;
}

/* The next frame as a terminated string (malloc'd; NULL on ENOMEM). */
static inline char *
zr_fuzz_string(zr_fuzz_in_t *in)
{
    size_t len;
    const uint8_t *at = zr_fuzz_frame(in, &len);
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, at, len);
        s[len] = 0;
    }
    return s;
}

/* The rest of the input as a terminated string (malloc'd). */
static inline char *
zr_fuzz_rest(zr_fuzz_in_t *in)
{
    size_t len = in->size - in->pos;
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, in->data + in->pos, len);
        s[len] = 0;
    }
    in->pos = in->size;
    return s;
}

#endif
