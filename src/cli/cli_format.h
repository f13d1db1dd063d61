/* cli_format.h - the client verbs' (cmd_client.c) messages in and out:
 * how they print messages, and where the ones they send come from.
 * SPDX-License-Identifier: MIT
 */
#ifndef ZR_CLI_FORMAT_H_INCLUDED
#define ZR_CLI_FORMAT_H_INCLUDED

#include "cli_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    CLI_FMT_TEXT,   /* frames as they are, joined by a separator */
    CLI_FMT_QUOTED, /* each frame "in quotes", \" \\ \n \r \t \xHH */
    CLI_FMT_HEX,    /* each frame as lower-case hex */
    CLI_FMT_JSON,   /* {"frames":[{"text":...}|{"base64":...}]} */
    CLI_FMT_RAW     /* per frame: flags byte, 8-byte length, bytes */
} cli_format_t;

#define CLI_FORMAT_NAMES "text|quoted|hex|json|raw"

/* The format called NAME, or -1. */
int cli_format_from_name(const char *name);

/* Whether DATA (LEN bytes) is well-formed UTF-8 (RFC 3629): no overlong
 * forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
 * truncated sequence. U+0000 is valid. */
bool cli_utf8_valid(const unsigned char *data, size_t len);

/* Standard base64 (RFC 4648, with '=' padding) of DATA into OUT, which
 * must hold cli_base64_len(LEN) + 1 bytes; returns the length written
 * (OUT is terminated). */
size_t cli_base64_len(size_t len);
size_t cli_base64_encode(const unsigned char *data, size_t len, char *out);

/* The raw format, for output and input alike. Each frame is
 *   1 byte   flags: bit 0 set when more frames of the message follow;
 *            the other bits are 0
 *   8 bytes  the frame's length, unsigned, big-endian
 *   N bytes  the frame
 * and a message ends with the frame whose bit 0 is clear. */
#define CLI_RAW_HEADER 9
#define CLI_RAW_MORE 0x01

/* Write MSG to OUT in FORMAT, then flush. In text, quoted and hex, SEP
 * goes between frames and a newline ends the message; json writes one
 * line per message; raw writes bytes only. IDENTITY_FIRST (ROUTER): in
 * text, the first frame is written as 0x-hex unless it is printable ASCII
 * not starting with "0x". 0, or -1 with errno when writing failed. */
int cli_format_write(FILE *out, cli_format_t format, const cli_msg_t *msg,
                     const char *sep, bool identity_first);
/* The same, with TIME (NULL: none) before the message: in json a "time"
 * member, first; in text, quoted and hex TIME and a space; raw has no
 * room for it. */
int cli_format_write_at(FILE *out, cli_format_t format, const cli_msg_t *msg,
                        const char *sep, bool identity_first, const char *time);

/* One raw message from BUF (LEN bytes) at *POS: 1 and the message in MSG
 * (cleared first), *POS past it; 0 when BUF ends inside it (nothing
 * consumed); -1 when it is malformed, why in ERR. */
int cli_raw_parse(const unsigned char *buf, size_t len, size_t *pos,
                  cli_msg_t *msg, char *err, size_t errlen);

/* TEXT as bytes: "0x" and an even number (>= 2) of hex digits is decoded
 * into OUT (room for strlen(TEXT) / 2 bytes); returns the byte count, or
 * -1 when TEXT is not of that form. */
int cli_hex_decode(const char *text, size_t len, unsigned char *out);

/* ---------------------------------------------------------------------
 * Input: the messages a client verb sends.
 */
typedef enum {
    CLI_INPUT_NONE,  /* nothing to send */
    CLI_INPUT_FIXED, /* the --data/--file message, LIMIT times (default once) */
    CLI_INPUT_STREAM /* lines or raw messages, from stdin or a raw file */
} cli_input_kind_t;

typedef struct {
    cli_input_kind_t kind;
    cli_msg_t fixed;
    int64_t limit; /* messages at most; -1: no limit */
    int64_t produced;
    bool raw;
    bool json;           /* lines of --format json (cli_json_input.c) */
    const char *sep;     /* lines: split into frames here; NULL: don't */
    bool identity_first; /* router: 0x-hex in the first frame is decoded */
    int fd;              /* stdin, or -1: BUF holds the whole input */
    unsigned char *buf;
    size_t len, cap, pos;
    bool eof;
    char err[300];
} cli_input_t;

/* A line of what --format json prints, LINE (LEN bytes), as the message
 * it was into MSG (cleared first); -1 with ERR set when it is not one. */
int cli_json_parse(const char *line, size_t len, cli_msg_t *msg, char *err,
                   size_t errlen);

/* The next message into MSG: 1; 0 when more input is needed (poll FD,
 * then cli_input_fill); -1 at the end; -2 on bad input (why in ERR). */
int cli_input_next(cli_input_t *src, cli_msg_t *msg);
/* Read what FD has now (EOF sets EOF). -1 on a read error (why in ERR). */
int cli_input_fill(cli_input_t *src);
/* The whole file PATH into *DATA (malloc'd) and *LEN; -1 with ERR set. */
int cli_read_file(const char *path, unsigned char **data, size_t *len,
                  char *err, size_t errlen);

#endif
