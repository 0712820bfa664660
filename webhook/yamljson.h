/* SPDX-License-Identifier: Apache-2.0 */
/* yamljson: YAML (1.1, libyaml) documents to jansson values, with source lines kept. */
#ifndef TG_YAMLJSON_H
#define TG_YAMLJSON_H
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

/* Source line of every value converted, for "file:line" messages. */
struct yamljson_lines;

/*
 * Converts every document of a YAML stream (JSON is accepted: it is YAML) into a JSON array
 * of documents (new reference); an empty stream gives [], an empty document null.
 * Plain scalars resolve as YAML 1.1 types, narrowed to avoid surprises:
 *  - null: "", "~", null, Null, NULL;
 *  - bool: true/True/TRUE, false/False/FALSE only. The YAML 1.1 yes/no/on/off/y/n forms
 *    stay strings (the "Norway problem": country code NO must not become false);
 *  - int: decimal, 0x hex, 0o octal and YAML 1.1 "0[0-7]+" octal (as kubectl reads it);
 *    out of int64 range is an error. Sexagesimal (1:30) and "1_000" stay strings;
 *  - float: YAML 1.2 / JSON number syntax ("1.5", ".5", "1e3"); .inf/.nan are errors
 *    (JSON has none).
 * Quoted and block scalars, and those tagged "!" or "!!str", are always strings; the
 * !!int/!!float/!!bool/!!null tags force (and check) that type; any other tag is refused.
 * Mapping keys must be scalars and are taken as their literal text ("80:" is key "80");
 * duplicate keys are an error. Anchors/aliases and nesting deeper than 64 collections are
 * refused. When lines != NULL, *lines receives a new table (yamljson_lines_free), valid
 * while the returned documents are alive. Returns NULL with "name:line: reason" in err.
 */
json_t *yamljson_load(const char *name, const char *buf, size_t len,
    struct yamljson_lines **lines, char *err, size_t errsz);

/*
 * 1-based line where v started, or 0 when unknown. Always 0 for true, false and null:
 * jansson shares them, so use yamljson_key_line (or the parent's line) for those.
 */
unsigned yamljson_line(const struct yamljson_lines *lines, const json_t *v);
/* 1-based line of `key` inside mapping `obj`, or 0 when unknown. */
unsigned yamljson_key_line(const struct yamljson_lines *lines, const json_t *obj,
    const char *key);
void yamljson_lines_free(struct yamljson_lines *lines);

/*
 * Writes each element of the JSON array `docs` to `out` as one YAML document (block style;
 * strings a YAML 1.1 reader would take for another type are double-quoted). 0, or -1 with
 * the reason in err.
 */
int yamljson_dump(const json_t *docs, FILE *out, char *err, size_t errsz);

#endif
