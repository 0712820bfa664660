/* SPDX-License-Identifier: Apache-2.0 */
/* jsonskim: JSON values decoded into jansson, skipping (but validating) unwanted members. */
/*
 * jansson reads a byte at a time through a stream callback (~45 MB/s here) and builds every
 * member; a 30 MB state List is then mostly decoding work thrown away, since the index needs
 * a handful of fields per object. This decoder walks the text in place, builds only the
 * members a reader declared (struct jsonget_fields), and for everything else checks exactly
 * what json_loadb with JSON_REJECT_DUPLICATES refuses: the grammar, control characters,
 * UTF-8, escapes (\u0000 and lone surrogates included), integers beyond json_int_t, reals
 * that overflow, duplicate keys at every level, and nesting deeper than jansson's 2048.
 */
#include "jsonskim.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSONSKIM_MAX_DEPTH 2048   /* jansson's JSON_PARSER_MAX_DEPTH */

/* A key of an object being read: its decoded bytes are in the text, or in kbuf when escaped. */
struct jsonskim_key {
	const char *p;     /* NULL: at kbuf + off */
	size_t      off, len;
};

void
jsonskim_init(struct jsonskim *s, const char *buf, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->p = buf;
	s->len = len;
}

void
jsonskim_release(struct jsonskim *s)
{
	free(s->keys);
	free(s->kbuf);
	s->keys = NULL;
	s->kbuf = NULL;
	s->n_keys = s->cap_keys = s->n_kbuf = s->cap_kbuf = 0;
}

void
jsonskim_ws(struct jsonskim *s)
{
	while (s->pos < s->len && (s->p[s->pos] == ' ' || s->p[s->pos] == '\t' ||
	    s->p[s->pos] == '\n' || s->p[s->pos] == '\r'))
		s->pos++;
}

static int
hex4(const unsigned char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		unsigned char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Length of the valid UTF-8 sequence at p (n bytes left) as jansson's utf8_check_full has it, or 0. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	uint32_t v;

	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		v = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) || v > 0x10FFFF ||
	    (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	return len;
}

/*
 * The string at pos (at its '"'): its raw bytes are [*start, *start + *raw) and *esc says
 * whether they hold escapes; pos moves past the closing quote. -1 when it is not one jansson
 * accepts.
 */
static int
scan_string(struct jsonskim *s, size_t *start, size_t *raw, bool *esc)
{
	const unsigned char *p = (const unsigned char *)s->p;
	size_t i = s->pos + 1, n = s->len;

	*start = i;
	*esc = false;
	for (;;) {
		while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\')
			i++;
		if (i >= n || p[i] < 0x20)
			return -1;
		if (p[i] == '"')
			break;
		if (p[i] >= 0x80) {
			size_t l = utf8_seq(p + i, n - i);
			if (l == 0)
				return -1;
			i += l;
			continue;
		}
		/* a backslash */
		*esc = true;
		if (++i >= n)
			return -1;
		if (strchr("\"\\/bfnrt", p[i]) != NULL && p[i] != '\0') {
			i++;
			continue;
		}
		uint32_t u, lo;
		if (p[i] != 'u' || n - i < 5 || hex4(p + i + 1, &u) != 0 || u == 0 ||
		    (u >= 0xDC00 && u <= 0xDFFF))
			return -1;
		i += 5;
		if (u >= 0xD800 && u <= 0xDBFF) {
			/* a high surrogate: its low half must follow */
			if (n - i < 6 || p[i] != '\\' || p[i + 1] != 'u' || hex4(p + i + 2, &lo) != 0 ||
			    lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			i += 6;
		}
	}
	*raw = i - *start;
	s->pos = i + 1;
	return 0;
}

static size_t
utf8_put(uint32_t u, char *out)
{
	if (u < 0x80) {
		out[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		out[0] = (char)(0xC0 | (u >> 6));
		out[1] = (char)(0x80 | (u & 0x3F));
		return 2;
	}
	if (u < 0x10000) {
		out[0] = (char)(0xE0 | (u >> 12));
		out[1] = (char)(0x80 | ((u >> 6) & 0x3F));
		out[2] = (char)(0x80 | (u & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (u >> 18));
	out[1] = (char)(0x80 | ((u >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((u >> 6) & 0x3F));
	out[3] = (char)(0x80 | (u & 0x3F));
	return 4;
}

/* Decodes raw string bytes scan_string accepted into out (room for n bytes); the length. */
static size_t
unescape(const char *raw, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t i = 0, o = 0;

	while (i < n) {
		if (p[i] != '\\') {
			out[o++] = (char)p[i++];
			continue;
		}
		char c = (char)p[i + 1];
		i += 2;
		switch (c) {
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			uint32_t u, lo;
			hex4(p + i, &u);
			i += 4;
			if (u >= 0xD800 && u <= 0xDBFF) {
				hex4(p + i + 2, &lo);
				i += 6;
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			}
			o += utf8_put(u, out + o);
			break;
		}
		default: out[o++] = c; break;   /* " \ / */
		}
	}
	return o;
}

static const char *
key_bytes(const struct jsonskim *s, size_t k)
{
	return s->keys[k].p != NULL ? s->keys[k].p : s->kbuf + s->keys[k].off;
}

/*
 * Records the key [start, start + raw) of the object whose keys begin at keys[base]; its index
 * in *k. -1 when the object already has it, or out of memory.
 */
static int
key_push(struct jsonskim *s, size_t base, size_t start, size_t raw, bool esc, size_t *k)
{
	struct jsonskim_key key = { s->p + start, 0, raw };

	if (s->n_keys == s->cap_keys) {
		size_t ncap = s->cap_keys ? s->cap_keys * 2 : 64;
		struct jsonskim_key *nk = realloc(s->keys, ncap * sizeof(*nk));
		if (nk == NULL)
			return -1;
		s->keys = nk;
		s->cap_keys = ncap;
	}
	if (esc) {
		if (s->cap_kbuf - s->n_kbuf < raw) {
			size_t ncap = s->cap_kbuf ? s->cap_kbuf : 256;
			while (ncap - s->n_kbuf < raw)
				ncap *= 2;
			char *nb = realloc(s->kbuf, ncap);
			if (nb == NULL)
				return -1;
			s->kbuf = nb;
			s->cap_kbuf = ncap;
		}
		key.p = NULL;
		key.off = s->n_kbuf;
		key.len = unescape(s->p + start, raw, s->kbuf + s->n_kbuf);
		s->n_kbuf += key.len;
	}
	s->keys[s->n_keys] = key;
	/*
	 * Compared without a hash: an object has a handful of keys, and hashing each one cost
	 * more than the comparisons it saved (the lengths differ first).
	 */
	const char *kb = key_bytes(s, s->n_keys);
	for (size_t i = base; i < s->n_keys; i++)
		if (s->keys[i].len == key.len && memcmp(key_bytes(s, i), kb, key.len) == 0)
			return -1;   /* a duplicate key */
	*k = s->n_keys++;
	return 0;
}

static const struct jsonget_fields *
field_find(const struct jsonget_fields *keep, const char *key, size_t len)
{
	/* Once per member of every item: the first byte settles most names without a strlen. */
	for (; keep->key != NULL; keep++)
		if (len > 0 && keep->key[0] == key[0] && strlen(keep->key) == len &&
		    memcmp(keep->key, key, len) == 0)
			return keep;
	return NULL;
}

static int value(struct jsonskim *s, const struct jsonget_fields *keep, json_t **out);

/* The object at pos ('{'); built into *out unless out is NULL (only checked). */
static int
object(struct jsonskim *s, const struct jsonget_fields *keep, json_t **out)
{
	size_t base = s->n_keys, kbase = s->n_kbuf;
	json_t *obj = NULL;
	int rc = -1;

	if (out != NULL && (obj = json_object()) == NULL)
		goto out;
	s->pos++;
	jsonskim_ws(s);
	if (s->pos < s->len && s->p[s->pos] == '}') {
		s->pos++;
		rc = 0;
		goto out;
	}
	for (;;) {
		size_t start, raw, k;
		bool esc;
		json_t *v = NULL;

		jsonskim_ws(s);
		if (s->pos >= s->len || s->p[s->pos] != '"' ||
		    scan_string(s, &start, &raw, &esc) != 0 ||
		    key_push(s, base, start, raw, esc, &k) != 0)
			goto out;
		jsonskim_ws(s);
		if (s->pos >= s->len || s->p[s->pos] != ':')
			goto out;
		s->pos++;
		/* Nothing is built of a member the reader does not name. */
		const struct jsonget_fields *f = NULL;
		bool want = obj != NULL && (keep == NULL ||
		    (f = field_find(keep, key_bytes(s, k), s->keys[k].len)) != NULL);
		if (value(s, f != NULL ? f->sub : NULL, want ? &v : NULL) != 0)
			goto out;
		if (want && json_object_setn_new_nocheck(obj, key_bytes(s, k), s->keys[k].len,
		    v) != 0)
			goto out;
		jsonskim_ws(s);
		if (s->pos >= s->len)
			goto out;
		char c = s->p[s->pos++];
		if (c == '}')
			break;
		if (c != ',')
			goto out;
	}
	rc = 0;
out:
	s->n_keys = base;
	s->n_kbuf = kbase;
	if (rc == 0 && out != NULL)
		*out = obj;
	else
		json_decref(obj);
	return rc;
}

/* The array at pos ('['); each element read with keep, built into *out unless out is NULL. */
static int
array(struct jsonskim *s, const struct jsonget_fields *keep, json_t **out)
{
	json_t *arr = NULL;

	if (out != NULL && (arr = json_array()) == NULL)
		return -1;
	s->pos++;
	jsonskim_ws(s);
	if (s->pos < s->len && s->p[s->pos] == ']') {
		s->pos++;
		goto done;
	}
	for (;;) {
		json_t *v = NULL;
		if (value(s, keep, arr != NULL ? &v : NULL) != 0 ||
		    (arr != NULL && json_array_append_new(arr, v) != 0))
			goto fail;
		jsonskim_ws(s);
		if (s->pos >= s->len)
			goto fail;
		char c = s->p[s->pos++];
		if (c == ']')
			break;
		if (c != ',')
			goto fail;
	}
done:
	if (out != NULL)
		*out = arr;
	return 0;
fail:
	json_decref(arr);
	return -1;
}

static bool
digit(const struct jsonskim *s, size_t i)
{
	return i < s->len && s->p[i] >= '0' && s->p[i] <= '9';
}

/* The number at pos, with jansson's grammar and range; built into *out unless out is NULL. */
static int
number(struct jsonskim *s, json_t **out)
{
	size_t i = s->pos, start = s->pos;
	bool real = false;
	char small[64], *text = small;
	int rc = -1;

	if (i < s->len && s->p[i] == '-')
		i++;
	if (!digit(s, i))
		return -1;
	if (s->p[i] == '0') {
		if (digit(s, ++i))
			return -1;   /* a leading zero */
	} else {
		while (digit(s, i))
			i++;
	}
	if (i < s->len && s->p[i] == '.') {
		real = true;
		if (!digit(s, ++i))
			return -1;
		while (digit(s, i))
			i++;
	}
	if (i < s->len && (s->p[i] == 'e' || s->p[i] == 'E')) {
		real = true;
		i++;
		if (i < s->len && (s->p[i] == '+' || s->p[i] == '-'))
			i++;
		if (!digit(s, i))
			return -1;
		while (digit(s, i))
			i++;
	}
	s->pos = i;
	size_t n = i - start;
	/* Up to 18 digits always fits json_int_t: only longer integers and reals need strto*. */
	if (!real && n <= 18 && out == NULL)
		return 0;
	if (n >= sizeof(small) && (text = malloc(n + 1)) == NULL)
		return -1;
	memcpy(text, s->p + start, n);
	text[n] = '\0';
	errno = 0;
	if (real) {
		/* Locale: the C locale's '.', which is all this process uses. */
		double d = strtod(text, NULL);
		if (errno == ERANGE && (d > 1.0 || d < -1.0))
			goto out;   /* overflow, as jansson says; underflow is accepted */
		rc = out == NULL || (*out = json_real(d)) != NULL ? 0 : -1;
	} else {
		long long v = strtoll(text, NULL, 10);
		if (errno == ERANGE)
			goto out;
		rc = out == NULL || (*out = json_integer(v)) != NULL ? 0 : -1;
	}
out:
	if (text != small)
		free(text);
	return rc;
}

static int
literal(struct jsonskim *s, const char *word, json_t *(*make)(void), json_t **out)
{
	size_t n = strlen(word);

	if (s->len - s->pos < n || memcmp(s->p + s->pos, word, n) != 0)
		return -1;
	s->pos += n;
	if (out != NULL && (*out = make()) == NULL)
		return -1;
	return 0;
}

static json_t *make_true(void) { return json_true(); }
static json_t *make_false(void) { return json_false(); }
static json_t *make_null(void) { return json_null(); }

static int
string(struct jsonskim *s, json_t **out)
{
	size_t start, raw;
	bool esc;
	char small[256], *buf = small;

	if (scan_string(s, &start, &raw, &esc) != 0)
		return -1;
	if (out == NULL)
		return 0;
	if (!esc)
		return (*out = json_stringn_nocheck(s->p + start, raw)) != NULL ? 0 : -1;
	if (raw > sizeof(small) && (buf = malloc(raw)) == NULL)
		return -1;
	size_t n = unescape(s->p + start, raw, buf);
	*out = json_stringn_nocheck(buf, n);
	if (buf != small)
		free(buf);
	return *out != NULL ? 0 : -1;
}

static int
value(struct jsonskim *s, const struct jsonget_fields *keep, json_t **out)
{
	int rc;

	jsonskim_ws(s);
	if (s->pos >= s->len)
		return -1;
	switch (s->p[s->pos]) {
	case '{':
	case '[':
		if (s->depth >= JSONSKIM_MAX_DEPTH)
			return -1;
		s->depth++;
		rc = s->p[s->pos] == '{' ? object(s, keep, out) : array(s, keep, out);
		s->depth--;
		return rc;
	case '"':
		return string(s, out);
	case 't':
		return literal(s, "true", make_true, out);
	case 'f':
		return literal(s, "false", make_false, out);
	case 'n':
		return literal(s, "null", make_null, out);
	default:
		return number(s, out);
	}
}

json_t *
jsonskim_value(struct jsonskim *s, const struct jsonget_fields *keep)
{
	json_t *v = NULL;

	if (value(s, keep, &v) != 0)
		return NULL;
	return v;
}
