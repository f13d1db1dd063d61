/* test_docs.c - the documentation in step with the code: every device
 * option, config key, verb and control command the code knows is in
 * docs/zrelay.1, docs/zrelay.conf.5 and docs/CONTROL.md.
 * SPDX-License-Identifier: MIT
 *
 * What the code knows comes from the code wherever it can: the option
 * table (zr_option), the device types, the embedded default, the default
 * control endpoint, and the commands a control endpoint names when it
 * refuses an unknown one. What only the CLI knows (its own options, the
 * verbs run, check, ctl) is listed here.
 *
 * The pages are read from the source tree (ZR_SOURCE_DIR) with roff's
 * escapes undone (\- is -, \(aq is '), so "\-\-max\-msg\-size" and
 * "--max-msg-size" both count. An option or a key is documented by a
 * tagged paragraph: a ".TP" whose tag line is ".B", ".BI" or ".BR" with
 * the name first and its value after it; the paragraph runs to the next
 * .TP, .SS or .SH. In zrelay.1: .BI \-\-max\-msg\-size " BYTES". In
 * zrelay.conf.5: .BI "max_msg_size = " BYTES, under the .SH heading
 * naming its section ("DEVICE SECTIONS", "THE [zrelay] SECTION"), and
 * the paragraph gives the option's default (and, for an option of some
 * device types only, those types; for a choice, every choice).
 *
 * The option lists themselves are generated from the table: zrelay.1's
 * items (grouped under the devices they apply to, each with its help and
 * default) and zrelay.conf.5's summary table (key, value, default,
 * devices), between ".\" BEGIN OPTIONS" and ".\" END OPTIONS". A page
 * whose list differs fails; ZRT_WRITE_DOCS=1 rewrites the lists.
 */
#include "zrtest.h"

#include <ctype.h>
#include <pthread.h>

#ifndef ZR_SOURCE_DIR
#error "ZR_SOURCE_DIR (the source tree) comes from tests/CMakeLists.txt"
#endif

/* The CLI's options that are not device options (src/cli/). */
static const char *const s_cli_options[] = {
    "--help",    "--version", "--keep-going", "--print-default",
    "--syslog",  "--verbose", "--io-threads", "--json",
    "--timeout", "--config",  "--once",       "--interval",
    "--sort",    "--http",    NULL};
/* Verbs that are not device types (src/cli/zrelay.c). */
static const char *const s_cli_verbs[] = {"run",      "check",      "ctl",
                                           "top",      "mdp-call",   "mdp-worker",
                                           NULL};
/* Device options that the device verbs take as their two arguments, not
 * as options (src/cli/cmd_device.c): zrelay.1 names them in capitals. */
static const char *const s_positional[][2] = {{"frontend", "FRONTEND"},
                                              {"backend", "BACKEND"}};
/* The [zrelay] keys (src/config.c keeps them to itself). */
static const char *const s_global_keys[][2] = {
    {"control", "tcp://127.0.0.1:5558"},
    {"log_level", "info"},
    {"io_threads", "1"},
    {"linger", "1s"},
    {"http", "127.0.0.1:9558"},
};
/* The daemon's commands (src/daemon.c); the test also asks the daemon. */
static const char *const s_daemon_commands[] = {
    "LIST",   "STATS",  "STATISTICS", "PAUSE",
    "RESUME", "RELOAD", "TERMINATE",  NULL};

#define S_NGLOBAL (sizeof s_global_keys / sizeof s_global_keys[0])
#define S_NPOSITIONAL (sizeof s_positional / sizeof s_positional[0])

/* ---------------------------------------------------------------------
 * Reading the pages.
 */

/* TEXT with the roff escapes the pages use undone. */
static char *
s_unroff(const char *text)
{
    static const struct {
        const char *escape, *plain;
    } map[] = {
        {"\\-", "-"},   {"\\(aq", "'"}, {"\\(lq", "\""}, {"\\(rq", "\""},
        {"\\(hy", "-"}, {"\\(bu", "*"}, {"\\e", "\\"},   {"\\~", " "},
        {"\\&", ""},    {"\\c", ""},    {"\\%", ""},     {"\\fB", ""},
        {"\\fI", ""},   {"\\fR", ""},   {"\\fP", ""},    {"\\f(CW", ""},
    };
    char *out = malloc(strlen(text) + 1);
    ZR_CHECK(out != NULL);
    char *o = out;
    for (const char *p = text; *p;) {
        bool done = false;
        for (size_t i = 0; *p == '\\' && i < sizeof map / sizeof map[0]; i++) {
            size_t len = strlen(map[i].escape);
            if (strncmp(p, map[i].escape, len) == 0) {
                o += sprintf(o, "%s", map[i].plain);
                p += len;
                done = true;
                break;
            }
        }
        if (!done) {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

/* File REL of the source tree, whole; roff escapes undone when ROFF. */
static char *
s_read(const char *rel, bool roff)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", ZR_SOURCE_DIR, rel);
    FILE *f = fopen(path, "rb");
    ZR_CHECKF(f != NULL, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 65536, len = 0;
    char *text = malloc(cap);
    ZR_CHECK(text != NULL);
    size_t n;
    while ((n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            text = realloc(text, cap);
            ZR_CHECK(text != NULL);
        }
    }
    fclose(f);
    text[len] = 0;
    if (!roff) {
        return text;
    }
    char *plain = s_unroff(text);
    free(text);
    return plain;
}

static bool
s_wordchar(char c)
{
    return isalnum((unsigned char) c) || c == '_' || c == '-';
}

/* WORD in TEXT (LEN bytes), not as part of a longer word or option:
 * "--heartbeat" is not found in "--heartbeat-ivl". */
static bool
s_has_word(const char *text, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = text; p + wl <= text + len; p++) {
        if (strncmp(p, word, wl) == 0 && (p == text || !s_wordchar(p[-1])) &&
            (p + wl == text + len || !s_wordchar(p[wl]))) {
            return true;
        }
    }
    return false;
}

/* TEXT (LEN bytes) contains PHRASE, blanks and line ends counting as one
 * space, so a phrase may be broken across lines. */
static bool
s_has_phrase(const char *text, size_t len, const char *phrase)
{
    for (size_t i = 0; i < len; i++) {
        size_t t = i;
        const char *p = phrase;
        while (*p && t < len) {
            if (isspace((unsigned char) *p)) {
                if (!isspace((unsigned char) text[t])) {
                    break;
                }
                while (t < len && isspace((unsigned char) text[t])) {
                    t++;
                }
                while (isspace((unsigned char) *p)) {
                    p++;
                }
            }
            else if (*p == text[t]) {
                p++;
                t++;
            }
            else {
                break;
            }
        }
        if (!*p) {
            return true;
        }
    }
    return false;
}

static bool
s_line_starts(const char *line, const char *prefix)
{
    return strncmp(line, prefix, strlen(prefix)) == 0;
}

/* The part of PAGE under the first ".SH" heading that contains WORD, up to
 * the next .SH; NULL when there is none. */
static const char *
s_section(const char *page, const char *word, size_t *len)
{
    for (const char *line = page; *line;) {
        const char *end = strchr(line, '\n');
        size_t ll = end ? (size_t) (end - line) : strlen(line);
        if (s_line_starts(line, ".SH ") && s_has_phrase(line, ll, word)) {
            const char *start = end ? end + 1 : line + ll;
            const char *next = strstr(start, "\n.SH ");
            *len = next ? (size_t) (next - start) + 1 : strlen(start);
            return start;
        }
        line = end ? end + 1 : line + ll;
    }
    return NULL;
}

/* In TEXT (LEN bytes), the paragraph tagged with KEY: a line ".B KEY...",
 * ".BI KEY..." or ".BR KEY..." (KEY possibly in quotes) right after a
 * .TP, up to the next .TP, .SS or .SH. The tag line in *TAG, *TAGLEN. */
static const char *
s_tagged(const char *text, size_t len, const char *key, size_t *plen,
         const char **tag, size_t *taglen)
{
    const char *limit = text + len;
    bool after_tp = false;
    for (const char *line = text; line < limit;) {
        const char *end = memchr(line, '\n', (size_t) (limit - line));
        const char *next = end ? end + 1 : limit;
        if (after_tp &&
            (s_line_starts(line, ".B ") || s_line_starts(line, ".BI ") ||
             s_line_starts(line, ".BR "))) {
            const char *p = strchr(line, ' ');
            while (*p == ' ' || *p == '"') {
                p++;
            }
            size_t kl = strlen(key);
            if (strncmp(p, key, kl) == 0 && !s_wordchar(p[kl])) {
                *tag = line;
                *taglen = (size_t) ((end ? end : limit) - line);
                const char *stop = next;
                while (stop < limit && !s_line_starts(stop, ".TP") &&
                       !s_line_starts(stop, ".SS") &&
                       !s_line_starts(stop, ".SH")) {
                    const char *e = memchr(stop, '\n', (size_t) (limit - stop));
                    stop = e ? e + 1 : limit;
                }
                *plen = (size_t) (stop - line);
                return line;
            }
        }
        after_tp = s_line_starts(line, ".TP");
        line = next;
    }
    return NULL;
}

/* Append NAME (and WHY) to the list of what is missing, once. */
static void
s_missing(char *list, size_t len, const char *name, const char *why)
{
    char item[512];
    snprintf(item, sizeof item, "\n  %s: %s", name, why);
    if (!strstr(list, item)) {
        size_t used = strlen(list);
        snprintf(list + used, len - used, "%s", item);
    }
}

/* ---------------------------------------------------------------------
 * The checks, each a function of the page's text so that the last test
 * can try them on a page with something taken out.
 */

/* zrelay.conf.5 (unroffed) documents every device option: a tagged
 * paragraph under DEVICE SECTIONS, with the option's value syntax in the
 * tag, its default, the device types it is limited to and its choices.
 * What is missing goes to MISSING. */
static void
s_check_conf_options(const char *conf, char *missing, size_t mlen)
{
    size_t slen;
    const char *devices = s_section(conf, "DEVICE SECTIONS", &slen);
    if (!devices) {
        s_missing(missing, mlen, "zrelay.conf.5", "no .SH DEVICE SECTIONS");
        return;
    }
    const zr_option_t *o;
    for (size_t i = 0; (o = zr_option(i)); i++) {
        size_t plen, tlen;
        const char *tag;
        const char *para = s_tagged(devices, slen, o->name, &plen, &tag, &tlen);
        if (!para) {
            s_missing(missing, mlen, o->name,
                      "no '.TP' paragraph tagged with the key under DEVICE "
                      "SECTIONS");
            continue;
        }
        if (o->arg && !s_has_word(tag, tlen, o->arg)) {
            s_missing(missing, mlen, o->name, "the tag line lacks its value");
        }
        if (o->fallback && !s_has_phrase(para, plen, o->fallback)) {
            s_missing(missing, mlen, o->name, "its default is not given");
        }
        for (int t = 1; zr_device_type_name((zr_device_type_t) t); t++) {
            const char *type = zr_device_type_name((zr_device_type_t) t);
            if (zr_option_applies(o, (zr_device_type_t) t) &&
                o->types != ((1u << ZR_FORWARDER) | (1u << ZR_QUEUE) |
                             (1u << ZR_STREAMER) | (1u << ZR_MAJORDOMO)) &&
                !s_has_word(para, plen, type)) {
                s_missing(missing, mlen, o->name,
                          "its paragraph does not say which devices it "
                          "applies to");
                break;
            }
        }
        for (const char *c = o->choices; o->kind == ZR_OPT_CHOICE && c && *c;) {
            size_t cl = strcspn(c, "|");
            char choice[64];
            snprintf(choice, sizeof choice, "%.*s", (int) cl, c);
            if (!s_has_word(para, plen, choice)) {
                s_missing(missing, mlen, o->name, "a choice is not described");
            }
            c += cl + (c[cl] == '|');
        }
    }
}

/* zrelay.1 (unroffed) documents every device option as a tagged item,
 * ".TP" then ".BI --name-with-dashes ARG", and names the ones the verbs
 * take as arguments in capitals. */
static void
s_check_man_options(const char *man, char *missing, size_t mlen)
{
    const zr_option_t *o;
    for (size_t i = 0; (o = zr_option(i)); i++) {
        const char *word = NULL;
        for (size_t p = 0; p < S_NPOSITIONAL; p++) {
            if (strcmp(o->name, s_positional[p][0]) == 0) {
                word = s_positional[p][1];
            }
        }
        if (word) {
            if (!s_has_word(man, strlen(man), word)) {
                s_missing(missing, mlen, word, "not in zrelay.1");
            }
            continue;
        }
        char flag[128];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *c = flag; *c; c++) {
            *c = *c == '_' ? '-' : *c;
        }
        size_t plen, tlen;
        const char *tag;
        if (!s_tagged(man, strlen(man), flag, &plen, &tag, &tlen)) {
            s_missing(missing, mlen, flag,
                      "no '.TP' item tagged with the option in zrelay.1");
        }
        else if (o->arg && !s_has_word(tag, tlen, o->arg)) {
            s_missing(missing, mlen, flag, "the tag line lacks its value");
        }
    }
}

/* ---------------------------------------------------------------------
 * The option lists, generated from the table: zrelay.1's items and
 * zrelay.conf.5's summary table, between S_BEGIN and S_END. Grouped by
 * the device types an option applies to, so that an option stands
 * under its types with its default; ZRT_WRITE_DOCS=1 rewrites them.
 */

#define S_BEGIN                                                                \
    ".\\\" BEGIN OPTIONS: generated from src/option.c; edit the table, then "  \
    "run ZRT_WRITE_DOCS=1 tests/test_docs\n"
#define S_END ".\\\" END OPTIONS\n"

typedef struct {
    char *text;
    size_t len, cap;
} s_doc_t;

static void
s_put(s_doc_t *doc, const char *text, size_t len)
{
    if (doc->len + len + 1 > doc->cap) {
        doc->cap = 2 * (doc->len + len + 1) + 4096;
        doc->text = realloc(doc->text, doc->cap);
        ZR_CHECK(doc->text != NULL);
    }
    memcpy(doc->text + doc->len, text, len);
    doc->len += len;
    doc->text[doc->len] = 0;
}

static void
s_puts(s_doc_t *doc, const char *text)
{
    s_put(doc, text, strlen(text));
}

/* TEXT in roff: '-' and '\' escaped. */
static void
s_put_roff(s_doc_t *doc, const char *text)
{
    for (const char *p = text; *p; p++) {
        s_puts(doc, *p == '-' ? "\\-" : *p == '\\' ? "\\e" : (char[2]){*p, 0});
    }
}

/* TEXT as roff filling lines of at most 72 columns (a word longer than
 * that stands alone); no line starts with '.' or '\''. */
static void
s_put_filled(s_doc_t *doc, const char *text)
{
    s_doc_t line = {0};
    s_puts(&line, "");
    for (const char *p = text; *p;) {
        while (*p == ' ') {
            p++;
        }
        size_t wl = strcspn(p, " ");
        if (!wl) {
            break;
        }
        s_doc_t word = {0};
        char raw[512];
        snprintf(raw, sizeof raw, "%.*s", (int) wl, p);
        s_put_roff(&word, raw);
        if (line.len && line.len + 1 + word.len > 72) {
            s_puts(doc, line.text);
            s_puts(doc, "\n");
            line.len = 0;
        }
        if (line.len) {
            s_puts(&line, " ");
        }
        else if (word.text[0] == '.' || word.text[0] == '\'') {
            s_puts(&line, "\\&");
        }
        s_puts(&line, word.text);
        free(word.text);
        p += wl;
    }
    if (line.len) {
        s_puts(doc, line.text);
        s_puts(doc, "\n");
    }
    free(line.text);
}

/* The groups, in order: every device, then one type only, then any
 * other set of types. */
#define S_ALL_TYPES                                                            \
    ((1u << ZR_FORWARDER) | (1u << ZR_QUEUE) | (1u << ZR_STREAMER) |          \
     (1u << ZR_MAJORDOMO))

static size_t
s_groups(unsigned groups[], size_t max)
{
    size_t n = 0;
    groups[n++] = S_ALL_TYPES;
    for (int t = 1; zr_device_type_name((zr_device_type_t) t) && n < max; t++) {
        groups[n++] = 1u << t;
    }
    const zr_option_t *o;
    for (size_t i = 0; (o = zr_option(i)); i++) {
        bool known = false;
        for (size_t g = 0; g < n; g++) {
            known = known || groups[g] == o->types;
        }
        if (!known && n < max) {
            groups[n++] = o->types;
        }
    }
    return n;
}

/* "queue", "forwarder and queue": the types of TYPES. */
static void
s_type_names(unsigned types, char *out, size_t len)
{
    *out = 0;
    int count = 0, seen = 0;
    for (int t = 1; zr_device_type_name((zr_device_type_t) t); t++) {
        count += (types >> t) & 1;
    }
    for (int t = 1; zr_device_type_name((zr_device_type_t) t); t++) {
        if ((types >> t) & 1) {
            size_t used = strlen(out);
            seen++;
            snprintf(out + used, len - used, "%s%s",
                     seen == 1       ? ""
                     : seen == count ? " and "
                                     : ", ",
                     zr_device_type_name((zr_device_type_t) t));
        }
    }
}

static bool
s_positional_option(const zr_option_t *o)
{
    for (size_t p = 0; p < S_NPOSITIONAL; p++) {
        if (strcmp(o->name, s_positional[p][0]) == 0) {
            return true;
        }
    }
    return false;
}

/* zrelay.1's items: ".TP", ".BI \-\-name " ARG"", the help, the default;
 * under a line naming the group's devices. */
static void
s_gen_man(s_doc_t *doc)
{
    unsigned groups[16];
    size_t ngroups = s_groups(groups, 16);
    s_puts(doc, S_BEGIN);
    for (size_t g = 0; g < ngroups; g++) {
        bool first = true;
        const zr_option_t *o;
        for (size_t i = 0; (o = zr_option(i)); i++) {
            if (o->types != groups[g] || s_positional_option(o)) {
                continue;
            }
            if (first) {
                char names[128], head[192];
                s_type_names(groups[g], names, sizeof names);
                if (groups[g] == S_ALL_TYPES) {
                    snprintf(head, sizeof head, ".PP\nEvery device:\n");
                }
                else {
                    snprintf(head, sizeof head, ".PP\n%c%s only:\n",
                             toupper((unsigned char) names[0]), names + 1);
                }
                s_puts(doc, head);
                first = false;
            }
            bool flagged = o->kind == ZR_OPT_BOOL;
            s_puts(doc, flagged ? ".TP\n.BR \\-\\-" : ".TP\n.BI \\-\\-");
            char flag[128];
            snprintf(flag, sizeof flag, "%s", o->name);
            for (char *c = flag; *c; c++) {
                *c = *c == '_' ? '-' : *c;
            }
            s_put_roff(doc, flag);
            if (flagged) {
                /* A flag: --FLAG[=BOOL], --no-FLAG (zrelay(1), OPTIONS). */
                s_puts(doc, " \"[=\\fIBOOL\\fR], \" \\-\\-no\\-");
                s_put_roff(doc, flag);
            }
            else if (o->arg) {
                s_puts(doc, " \" ");
                s_put_roff(doc, o->arg);
                s_puts(doc, "\"");
            }
            s_puts(doc, "\n");
            char help[1024], range[80], ranged[100] = "";
            if (*zr_option_range(o, range, sizeof range)) {
                snprintf(ranged, sizeof ranged, " Range: %s.", range);
            }
            snprintf(help, sizeof help, "%c%s. Default: %s.%s",
                     toupper((unsigned char) o->help[0]), o->help + 1,
                     o->fallback ? o->fallback : "none", ranged);
            s_put_filled(doc, help);
        }
    }
    s_puts(doc, S_END);
}

/* zrelay.conf.5's summary: a tbl table of key, value, default, devices,
 * grouped as zrelay.1's list. */
static void
s_gen_conf(s_doc_t *doc)
{
    unsigned groups[16];
    size_t ngroups = s_groups(groups, 16);
    s_puts(doc, S_BEGIN);
    s_puts(doc, ".TS\nallbox tab(;);\nlb lb lb lb lb\nl li l l l.\n"
                "key;value;default;range;devices\n");
    for (size_t g = 0; g < ngroups; g++) {
        const zr_option_t *o;
        for (size_t i = 0; (o = zr_option(i)); i++) {
            if (o->types != groups[g]) {
                continue;
            }
            char names[128];
            s_type_names(groups[g], names, sizeof names);
            s_put_roff(doc, o->name);
            s_puts(doc, ";");
            s_put_roff(doc, o->arg ? o->arg : "");
            s_puts(doc, ";");
            s_put_roff(doc, o->fallback              ? o->fallback
                            : s_positional_option(o) ? "required"
                                                     : "none");
            s_puts(doc, ";");
            char range[80];
            s_put_roff(doc, zr_option_range(o, range, sizeof range));
            s_puts(doc, ";");
            s_put_roff(doc, groups[g] == S_ALL_TYPES ? "all" : names);
            s_puts(doc, "\n");
        }
    }
    s_puts(doc, ".TE\n");
    s_puts(doc, S_END);
}

/* PAGE's generated block is GEN: NULL, or what is wrong. */
static const char *
s_block_differs(const char *page, const s_doc_t *gen)
{
    const char *begin = strstr(page, S_BEGIN);
    const char *end = begin ? strstr(begin, S_END) : NULL;
    if (!begin || !end) {
        return "no generated option list (its markers are missing)";
    }
    end += strlen(S_END);
    if ((size_t) (end - begin) != gen->len ||
        memcmp(begin, gen->text, gen->len) != 0) {
        return "its option list differs from src/option.c's table";
    }
    return NULL;
}

/* Check REL's block against GEN; with ZRT_WRITE_DOCS=1, rewrite it. */
static void
s_check_block(const char *rel, const s_doc_t *gen)
{
    char *page = s_read(rel, false);
    const char *why = s_block_differs(page, gen);
    if (why && getenv("ZRT_WRITE_DOCS") && strstr(page, S_BEGIN) &&
        strstr(strstr(page, S_BEGIN), S_END)) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", ZR_SOURCE_DIR, rel);
        const char *begin = strstr(page, S_BEGIN);
        const char *end = strstr(begin, S_END) + strlen(S_END);
        FILE *f = fopen(path, "wb");
        ZR_CHECK(f != NULL);
        fwrite(page, 1, (size_t) (begin - page), f);
        fwrite(gen->text, 1, gen->len, f);
        fputs(end, f);
        fclose(f);
        printf("     wrote the option list into %s\n", path);
        why = NULL;
    }
    free(page);
    ZR_CHECKF(!why,
              "%s: %s; run ZRT_WRITE_DOCS=1 tests/test_docs and review the "
              "diff",
              rel, why);
}

/* ---------------------------------------------------------------------
 * What a control endpoint says it knows: the list in its reply to an
 * unknown command, "... (known: A, B, C)".
 */

static void *
s_daemon_main(void *arg)
{
    zr_daemon_run(arg);
    return NULL;
}

/* The commands named in REPLY, into OUT (N of them). */
static size_t
s_known(const char *reply, char out[][32], size_t max)
{
    const char *k = strstr(reply, "(known: ");
    ZR_CHECKF(k != NULL,
              "the reply to an unknown command no longer lists the known "
              "ones, which this test reads: '%s'",
              reply);
    k += strlen("(known: ");
    size_t n = 0;
    while (*k && *k != ')' && n < max) {
        size_t len = strcspn(k, ",)");
        snprintf(out[n++], 32, "%.*s", (int) len, k);
        k += len;
        while (*k == ',' || *k == ' ') {
            k++;
        }
    }
    return n;
}

/* Ask the control endpoint at ENDPOINT of CTX an unknown command. */
static void
s_ask_unknown(void *ctx, const char *endpoint, char *reply, size_t len)
{
    void *req = zrt_socket(ctx, ZMQ_REQ);
    zrt_connect(req, endpoint);
    ZR_SEND(req, "NO-SUCH-COMMAND");
    zrt_recv_str(req, reply, len);
    zmq_close(req);
}

/* ---------------------------------------------------------------------
 * The tests.
 */

static void
test_conf_options(void)
{
    char *conf = s_read("docs/zrelay.conf.5", true);
    char missing[8192] = "";
    s_check_conf_options(conf, missing, sizeof missing);
    ZR_CHECKF(!*missing,
              "docs/zrelay.conf.5 does not document every device option of "
              "src/option.c:%s",
              missing);
    free(conf);
}

static void
test_man_options(void)
{
    char *man = s_read("docs/zrelay.1", true);
    char missing[8192] = "";
    s_check_man_options(man, missing, sizeof missing);
    for (const char *const *o = s_cli_options; *o; o++) {
        if (!s_has_word(man, strlen(man), *o)) {
            s_missing(missing, sizeof missing, *o, "not in zrelay.1");
        }
    }
    ZR_CHECKF(!*missing, "docs/zrelay.1 lacks options:%s", missing);
    free(man);
}

static void
test_global_keys(void)
{
    char *conf = s_read("docs/zrelay.conf.5", true);
    char *man = s_read("docs/zrelay.1", true);
    char missing[4096] = "";
    size_t slen;
    const char *global = s_section(conf, "[zrelay]", &slen);
    ZR_CHECKF(global != NULL, "zrelay.conf.5 has no .SH about [zrelay]");

    /* The keys listed here are the parser's... */
    for (size_t i = 0; i < S_NGLOBAL; i++) {
        char text[256];
        snprintf(text, sizeof text, "[zrelay]\n%s = %s\n", s_global_keys[i][0],
                 s_global_keys[i][1]);
        zr_config_t *cfg = zr_config_parse(text, "docs.conf");
        ZR_CHECK(cfg != NULL);
        ZR_CHECKF(zr_config_error_count(cfg) == 0,
                  "'%s' is no longer a [zrelay] key: %s", s_global_keys[i][0],
                  zr_config_error(cfg, 0));
        zr_config_destroy(&cfg);
    }
    /* ... and so are those the parser names for an unknown key. */
    char keys[16][64];
    size_t nkeys = 0;
    for (size_t i = 0; i < S_NGLOBAL; i++) {
        snprintf(keys[nkeys++], 64, "%s", s_global_keys[i][0]);
    }
    zr_config_t *cfg = zr_config_parse(
        "[zrelay]\nqqqqqqqqqqqqqqqqqqqqqqqq = 1\n", "docs.conf");
    ZR_CHECK(cfg != NULL && zr_config_error_count(cfg) == 1);
    const char *listed = strstr(zr_config_error(cfg, 0), "(keys: ");
    for (const char *k = listed ? listed + 7 : ")"; *k && *k != ')';) {
        size_t len = strcspn(k, ",)");
        if (nkeys < 16) {
            snprintf(keys[nkeys++], 64, "%.*s", (int) len, k);
        }
        k += len;
        while (*k == ',' || *k == ' ') {
            k++;
        }
    }
    zr_config_destroy(&cfg);

    for (size_t i = 0; i < nkeys; i++) {
        size_t plen, tlen;
        const char *tag;
        if (!s_tagged(global, slen, keys[i], &plen, &tag, &tlen)) {
            s_missing(missing, sizeof missing, keys[i],
                      "no '.TP' paragraph tagged with the key under the "
                      "[zrelay] heading");
        }
    }
    /* The default control endpoint, in both pages. */
    cfg = zr_config_parse("", "docs.conf");
    ZR_CHECK(cfg != NULL);
    const char *control = zr_config_control(cfg);
    size_t plen, tlen;
    const char *tag;
    const char *para = s_tagged(global, slen, "control", &plen, &tag, &tlen);
    if (para && !s_has_phrase(para, plen, control)) {
        s_missing(missing, sizeof missing, control,
                  "the default control endpoint is not given in "
                  "zrelay.conf.5");
    }
    if (!s_has_phrase(man, strlen(man), control)) {
        s_missing(missing, sizeof missing, control,
                  "the default control endpoint is not in zrelay.1");
    }
    zr_config_destroy(&cfg);
    ZR_CHECKF(!*missing, "[zrelay] keys undocumented:%s", missing);
    free(man);
    free(conf);
}

static void
test_verbs(void)
{
    char *man = s_read("docs/zrelay.1", true);
    char missing[4096] = "";
    char verbs[16][64];
    size_t n = 0;
    for (int t = 1; zr_device_type_name((zr_device_type_t) t) && n < 16; t++) {
        snprintf(verbs[n++], 64, "%s",
                 zr_device_type_name((zr_device_type_t) t));
    }
    for (const char *const *v = s_cli_verbs; *v && n < 16; v++) {
        snprintf(verbs[n++], 64, "%s", *v);
    }
    for (size_t i = 0; i < n; i++) {
        char phrase[80];
        snprintf(phrase, sizeof phrase, "zrelay %.63s", verbs[i]);
        if (!s_has_phrase(man, strlen(man), phrase)) {
            s_missing(missing, sizeof missing, phrase, "not in zrelay.1");
        }
    }
    /* zrelay ctl's commands: every command of the daemon, in lower case,
     * as a tagged item. */
    for (const char *const *c = s_daemon_commands; *c; c++) {
        char lower[32];
        size_t i = 0;
        for (; (*c)[i] && i + 1 < sizeof lower; i++) {
            lower[i] = (char) tolower((unsigned char) (*c)[i]);
        }
        lower[i] = 0;
        size_t plen, tlen;
        const char *tag;
        if (!s_tagged(man, strlen(man), lower, &plen, &tag, &tlen)) {
            s_missing(missing, sizeof missing, lower,
                      "not a tagged item of zrelay ctl in zrelay.1");
        }
    }
    ZR_CHECKF(!*missing, "docs/zrelay.1 lacks verbs:%s", missing);
    free(man);
}

static void
test_control_commands(void)
{
    char *md = s_read("docs/CONTROL.md", false);
    char missing[4096] = "";
    char names[64][32];
    size_t n = 0;
    for (const char *const *c = s_daemon_commands; *c; c++) {
        snprintf(names[n++], 32, "%s", *c);
    }

    void *ctx = zmq_ctx_new();
    ZR_CHECK(ctx != NULL);
    char reply[1024];

    /* The daemon, with no device and an inproc control endpoint. */
    zr_daemon_t *daemon = zr_daemon_new(ctx);
    ZR_CHECK(daemon != NULL);
    zr_config_t *cfg = zr_config_parse(
        "[zrelay]\ncontrol = @inproc://zr-docs-daemon\n", "docs.conf");
    ZR_CHECK(cfg != NULL);
    if (zr_daemon_start(daemon, cfg, NULL) != 0) {
        ZR_FAILF("daemon start: %s", zr_daemon_error(daemon));
    }
    pthread_t thread;
    ZR_EQ(pthread_create(&thread, NULL, s_daemon_main, daemon), 0);
    s_ask_unknown(ctx, "inproc://zr-docs-daemon", reply, sizeof reply);
    zr_daemon_stop(daemon);
    pthread_join(thread, NULL);
    zr_daemon_destroy(&daemon);
    n += s_known(reply, names + n, 64 - n);

    /* A device's own control endpoint. */
    zr_device_t *dev = zr_device_new(ctx, ZR_STREAMER, "docs");
    ZR_CHECK(dev != NULL);
    ZR_PASS(zr_device_set_frontend(dev, "@inproc://zr-docs-front"));
    ZR_PASS(zr_device_set_backend(dev, "@inproc://zr-docs-back"));
    ZR_PASS(zr_device_set_control(dev, "@inproc://zr-docs-control"));
    if (zr_device_start(dev) != 0) {
        ZR_FAILF("device start: %s", zr_device_error(dev));
    }
    s_ask_unknown(ctx, "inproc://zr-docs-control", reply, sizeof reply);
    zr_device_destroy(&dev);
    n += s_known(reply, names + n, 64 - n);
    zmq_ctx_term(ctx);

    for (size_t i = 0; i < n; i++) {
        char quoted[40];
        snprintf(quoted, sizeof quoted, "`%.36s`", names[i]);
        if (!strstr(md, quoted)) {
            s_missing(missing, sizeof missing, quoted,
                      "not in docs/CONTROL.md");
        }
    }
    ZR_CHECKF(!*missing, "docs/CONTROL.md lacks control commands:%s", missing);
    free(md);
}

static void
test_default(void)
{
    char *conf = s_read("docs/zrelay.conf.5", true);
    const char *text = zr_config_default_text();
    const char *from = conf;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > 0) {
            /* The same line, whole, after the previous one. */
            const char *at = from;
            for (;;) {
                at = strstr(at, "\n");
                ZR_CHECKF(at != NULL,
                          "docs/zrelay.conf.5 does not show the embedded "
                          "default as 'zrelay run --print-default' prints "
                          "it; missing or out of order:\n  %.*s",
                          (int) len, line);
                at++;
                if (strncmp(at, line, len) == 0 &&
                    (at[len] == '\n' || at[len] == 0)) {
                    break;
                }
            }
            from = at;
        }
        line += len + (line[len] == '\n');
    }
    free(conf);
}

static void
test_generated_lists(void)
{
    s_doc_t man = {0}, conf = {0};
    s_gen_man(&man);
    s_gen_conf(&conf);
    s_check_block("docs/zrelay.1", &man);
    s_check_block("docs/zrelay.conf.5", &conf);
    free(man.text);
    free(conf.text);
}

/* The generated lists put an option under its devices with its default,
 * and the check fails on a list that does not. */
static void
test_generated_placement(void)
{
    s_doc_t man = {0}, conf = {0};
    s_gen_man(&man);
    s_gen_conf(&conf);
    /* strategy: under "Queue only:", before the next group; with its
     * default. */
    const char *queue = strstr(man.text, "\nQueue only:\n");
    ZR_CHECK(queue != NULL);
    const char *next = strstr(queue + 1, "\n.PP\n");
    const char *strategy = strstr(man.text, "\\-\\-strategy");
    ZR_CHECK(strategy && queue < strategy && (!next || strategy < next));
    ZR_CHECK(strstr(strategy, "Default: rr.") != NULL);
    ZR_CHECK(strstr(conf.text, "strategy;rr|lru|hash;rr;;queue\n") != NULL);
    ZR_CHECK(strstr(conf.text, "sndhwm;N;1000;0 to 2147483647;all\n") != NULL);
    ZR_CHECK(strstr(man.text, "Default: 30s. Range: 0 to 24h.") != NULL);
    /* A page whose list has a default changed, or an option under the
     * wrong devices, is caught. */
    char *page = s_read("docs/zrelay.1", false);
    ZR_CHECK(s_block_differs(page, &man) == NULL);
    char *at = strstr(page, "Default: rr.");
    ZR_CHECK(at != NULL);
    memcpy(at, "Default: lr.", 12);
    ZR_CHECK(s_block_differs(page, &man) != NULL);
    free(page);
    page = s_read("docs/zrelay.conf.5", false);
    ZR_CHECK(s_block_differs(page, &conf) == NULL);
    at = strstr(page, "strategy;rr|lru|hash;rr;;queue");
    ZR_CHECK(at != NULL);
    memcpy(at + strlen("strategy;rr|lru|hash;rr;;"), "forwa", 5);
    ZR_CHECK(s_block_differs(page, &conf) != NULL);
    free(page);
    free(man.text);
    free(conf.text);
}

/* The checks do fail: a page with an option taken out. */
static void
test_checks_fail(void)
{
    char *conf = s_read("docs/zrelay.conf.5", true);
    char *man = s_read("docs/zrelay.1", true);
    char missing[8192] = "";
    s_check_conf_options(conf, missing, sizeof missing);
    s_check_man_options(man, missing, sizeof missing);
    ZR_CHECKF(!*missing, "the pages are incomplete:%s", missing);

    /* Every "max_msg_size" and "--max-msg-size" made into something else. */
    for (char *p = conf; (p = strstr(p, "max_msg_size")); p++) {
        memcpy(p, "max_msg_sizz", 12);
    }
    for (char *p = man; (p = strstr(p, "--max-msg-size")); p++) {
        memcpy(p, "--max-msg-sizz", 14);
    }
    s_check_conf_options(conf, missing, sizeof missing);
    ZR_CHECKF(strstr(missing, "max_msg_size:") != NULL,
              "a zrelay.conf.5 without max_msg_size passes: '%s'", missing);
    *missing = 0;
    s_check_man_options(man, missing, sizeof missing);
    ZR_CHECKF(strstr(missing, "--max-msg-size:") != NULL,
              "a zrelay.1 without --max-msg-size passes: '%s'", missing);
    free(man);
    free(conf);
}

ZR_TESTS = {
    {"zrelay.conf.5: every device option, with its default", test_conf_options},
    {"zrelay.1: every option", test_man_options},
    {"zrelay.conf.5: every [zrelay] key", test_global_keys},
    {"zrelay.1: every verb and ctl command", test_verbs},
    {"CONTROL.md: every control command", test_control_commands},
    {"zrelay.conf.5: the embedded default", test_default},
    {"the checks fail on a page without an option", test_checks_fail},
    {"zrelay.1, zrelay.conf.5: the option lists are the table's",
     test_generated_lists},
    {"the option lists: an option under its devices, with its default",
     test_generated_placement},
    {NULL, NULL},
};
ZR_MAIN
