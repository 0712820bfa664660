/* SPDX-License-Identifier: Apache-2.0 */
/* jsonget: the small lookups every rule makes, so a missing member is NULL and not a crash. */
#include "jsonget.h"

#include <string.h>

const char *
jsonget_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

const json_t *
jsonget_path(const json_t *obj, const char *dotted)
{
	char key[64];
	const char *p = dotted;
	while (obj != NULL && *p != '\0') {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		obj = json_object_get(obj, key);
		p += n + (dot ? 1 : 0);
	}
	return obj;
}
