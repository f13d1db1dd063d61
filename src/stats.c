/* stats.c - one table of counters, many renderers.
 * SPDX-License-Identifier: MIT
 *
 * Every counter and gauge zrelay keeps is a row of a table (zr__stat_t):
 * its key in STATS JSON, its Prometheus family and labels, its kind, one
 * sentence of help, and where its value lives (a relaxed atomic at an
 * offset in the struct of the module that writes it, or a getter). A
 * module lists its rows next to the struct they describe and hands out
 * sections (rows + the struct); the renderers here read them, so a
 * counter added once appears in STATS, STATISTICS and, later, metrics
 * and the status page. Reading takes no lock: a snapshot is a sequence of
 * relaxed loads, each value exact, the set as of one moment only where a
 * reader waits until the device is idle (zr_stats_t.waiting).
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double
zr__stat_value(const zr__stat_t *row, const void *base)
{
    if (row->kind == ZR__STAT_TEXT) {
        return 0;
    }
    if (row->get) {
        return row->get(base);
    }
    if (!base) {
        return 0;
    }
    const _Atomic uint64_t *v =
        (const _Atomic uint64_t *) ((const char *) base + row->offset);
    return (double) zr__stat_get(v);
}

uint64_t
zr__stat_u64(const zr__stat_t *row, const void *base)
{
    if (row->kind == ZR__STAT_TEXT) {
        return 0;
    }
    if (row->get) {
        double v = row->get(base);
        return v > 0 ? (uint64_t) v : 0;
    }
    if (!base) {
        return 0;
    }
    return zr__stat_get(
        (const _Atomic uint64_t *) ((const char *) base + row->offset));
}

/* The object at PATH ("a.b.c") under ROOT, made where missing. */
static cJSON *
s_object(cJSON *root, const char *path, size_t len)
{
    cJSON *o = root;
    while (len > 0) {
        const char *dot = memchr(path, '.', len);
        size_t n = dot ? (size_t) (dot - path) : len;
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int) n, path);
        cJSON *next = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!next) {
            next = cJSON_AddObjectToObject(o, key);
        }
        o = next;
        if (!dot) {
            break;
        }
        len -= n + 1;
        path = dot + 1;
    }
    return o;
}

static void
s_add_row(cJSON *root, const zr__stat_section_t *sec, const zr__stat_t *row)
{
    char path[160];
    snprintf(path, sizeof path, "%s%s%s", sec->path, *sec->path ? "." : "",
             row->key);
    const char *leaf = strrchr(path, '.');
    cJSON *parent = leaf ? s_object(root, path, (size_t) (leaf - path)) : root;
    leaf = leaf ? leaf + 1 : path;
    if (row->kind == ZR__STAT_TEXT) {
        const char *text = sec->base ? row->text(sec->base) : NULL;
        cJSON_AddStringToObject(parent, leaf, text ? text : "");
        return;
    }
    double v = zr__stat_value(row, sec->base);
    if (row->kind == ZR__STAT_FLAG) {
        cJSON_AddBoolToObject(parent, leaf, v != 0);
    }
    else {
        cJSON_AddNumberToObject(parent, leaf, v);
    }
}

void
zr__stats_add(cJSON *root, const zr__stat_section_t *sections, size_t n)
{
    for (size_t s = 0; s < n; s++) {
        const zr__stat_section_t *sec = &sections[s];
        for (size_t i = 0; i < sec->nrows; i++) {
            s_add_row(root, sec, &sec->rows[i]);
        }
    }
}

const zr__stat_t *
zr__stats_find(const zr__stat_section_t *sections, size_t n, const char *path,
               const void **base)
{
    size_t plen = strlen(path);
    for (size_t s = 0; s < n; s++) {
        const zr__stat_section_t *sec = &sections[s];
        size_t slen = strlen(sec->path);
        if (slen && (plen <= slen || strncmp(path, sec->path, slen) != 0 ||
                     path[slen] != '.')) {
            continue;
        }
        const char *key = slen ? path + slen + 1 : path;
        for (size_t i = 0; i < sec->nrows; i++) {
            if (strcmp(sec->rows[i].key, key) == 0) {
                *base = sec->base;
                return &sec->rows[i];
            }
        }
    }
    return NULL;
}

void
zr__stats_statistics(const zr__stat_section_t *sections, size_t n,
                     uint64_t out[8])
{
    /* libzmq's zmq_proxy_steerable layout. */
    static const char *const paths[8] = {
        "frontend.msgs_in",   "frontend.bytes_in", "frontend.msgs_out",
        "frontend.bytes_out", "backend.msgs_in",   "backend.bytes_in",
        "backend.msgs_out",   "backend.bytes_out"};
    for (int i = 0; i < 8; i++) {
        const void *base = NULL;
        const zr__stat_t *row = zr__stats_find(sections, n, paths[i], &base);
        out[i] = row ? zr__stat_u64(row, base) : 0;
    }
}
