/* fuzz_cli_input.c - what the client verbs read and send (cli_format.c's
 * cli_input_next over the buffer client_input.c sets up for a --file or
 * standard input): lines split at a separator, router identities in hex,
 * lines of --format json (cli_json_input.c) and the raw format. Every
 * message read is written back in json and in raw and read again: it
 * must come back byte for byte (a capture replays exactly).
 * Input: a byte (bits 0-1: text, json or raw; bit 2: a separator; bit 3:
 * identity first), then the input.
 * SPDX-License-Identifier: MIT
 */
#include "fuzz.h"

#include "cli_format.h"

static bool
s_same(const cli_msg_t *a, const cli_msg_t *b)
{
    if (a->size != b->size) {
        return false;
    }
    for (size_t i = 0; i < a->size; i++) {
        size_t n = zmq_msg_size((zmq_msg_t *) &a->frames[i]);
        if (n != zmq_msg_size((zmq_msg_t *) &b->frames[i]) ||
            memcmp(zmq_msg_data((zmq_msg_t *) &a->frames[i]),
                   zmq_msg_data((zmq_msg_t *) &b->frames[i]), n) != 0) {
            return false;
        }
    }
    return true;
}

/* MSG written in FORMAT; malloc'd, *LEN bytes. */
static char *
s_write(const cli_msg_t *msg, cli_format_t format, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    ZR_FUZZ_CHECK(f != NULL);
    ZR_FUZZ_CHECK(cli_format_write(f, format, msg, " ", false) == 0);
    fclose(f);
    return text;
}

static void
s_round_trip(const cli_msg_t *msg)
{
    cli_msg_t back = {NULL, 0, 0};
    char err[300];
    size_t len;
    char *json = s_write(msg, CLI_FMT_JSON, &len);
    ZR_FUZZ_CHECK(len > 0 && json[len - 1] == '\n');
    ZR_FUZZ_CHECK(memchr(json, '\n', len - 1) == NULL); /* one line */
    if (cli_json_parse(json, len - 1, &back, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz: json written cannot be read: %s\n", err);
        ZR_FUZZ_CHECK(!"json round trip");
    }
    ZR_FUZZ_CHECK(s_same(msg, &back));
    free(json);
    char *raw = s_write(msg, CLI_FMT_RAW, &len);
    size_t pos = 0;
    ZR_FUZZ_CHECK(cli_raw_parse((unsigned char *) raw, len, &pos, &back, err,
                                sizeof err) == 1);
    ZR_FUZZ_CHECK(pos == len);
    ZR_FUZZ_CHECK(s_same(msg, &back));
    free(raw);
    cli_msg_destroy(&back);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zr_fuzz_in_t in = {data, size, 0};
    uint8_t how = zr_fuzz_byte(&in);
    size_t len = size - in.pos;
    cli_input_t src = {.kind = CLI_INPUT_STREAM,
                       .limit = -1,
                       .raw = (how & 3) == 2,
                       .json = (how & 3) == 1,
                       .sep = how & 4 ? "|" : NULL,
                       .identity_first = how & 8,
                       .fd = -1,
                       .eof = true};
    /* The buffer is the input's bytes and no more, as a --file's. */
    src.buf = malloc(len ? len : 1);
    if (!src.buf) {
        return 0;
    }
    memcpy(src.buf, data + in.pos, len);
    src.len = src.cap = len;
    cli_msg_t msg = {NULL, 0, 0};
    int rc;
    size_t count = 0;
    while ((rc = cli_input_next(&src, &msg)) == 1) {
        ZR_FUZZ_CHECK(++count <= len + 1); /* each consumes input */
        s_round_trip(&msg);
    }
    ZR_FUZZ_CHECK(rc == -1 || rc == -2);
    if (rc == -2) {
        ZR_FUZZ_CHECK(src.err[0] != 0);
    }
    cli_msg_destroy(&msg);
    free(src.buf);
    return 0;
}
