/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_state: any bytes as a --state file (a List, an array or multi-document YAML), read
 * through the same path the server reads (a memfd stands in for the file), then built into a
 * state against the default config. Every object the reader accepts must be one the state
 * builder can take or refuse with a reason. The same bytes then go through what `serve
 * --state` runs (statefile_load: a JSON List walked on a second thread, each item reduced to
 * an extract): it must accept exactly what the whole-object way accepts, and index the same
 * number of objects and claims.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "claims.h"
#include "config.h"
#include "config_load.h"
#include "fuzz.h"
#include "state.h"
#include "statefile.h"

static struct config *cfg;
static int fd = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024] = "", path[64];
	json_t *objs;
	struct state *st, *loaded;

	if (cfg == NULL && (cfg = config_load_default(err, sizeof(err))) == NULL)
		abort();
	if (fd < 0 && (fd = memfd_create("state", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	loaded = statefile_load(cfg, path, err, sizeof(err));
	FUZZ_ASSERT(loaded != NULL || err[0] != '\0', "load refused without a reason");
	err[0] = '\0';
	objs = statefile_read_objects(path, err, sizeof(err));
	if (objs == NULL) {
		FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
		FUZZ_ASSERT(loaded == NULL, "the load took what the reader refused");
		return 0;
	}
	FUZZ_ASSERT(json_is_array(objs), "the objects are not an array");
	err[0] = '\0';
	st = statefile_from_objects(cfg, objs, err, sizeof(err));
	FUZZ_ASSERT(st != NULL || err[0] != '\0', "state refused without a reason");
	FUZZ_ASSERT((st != NULL) == (loaded != NULL), "the load and the reader disagree");
	FUZZ_ASSERT(st == NULL || (st->n_objects == loaded->n_objects &&
	    claims_count(st->claims) == claims_count(loaded->claims)),
	    "the load indexed other objects or claims than the reader");
	state_free(st);
	state_free(loaded);
	json_decref(objs);
	return 0;
}
