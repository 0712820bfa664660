/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_state: any bytes as a --state file (a List, an array or multi-document YAML), read
 * through the same path the server reads (a memfd stands in for the file), then built into a
 * state against the default config. Every object the reader accepts must be one the state
 * builder can take or refuse with a reason. The same bytes then go through what `serve
 * --state` runs (statefile_load: a JSON List walked on a second thread, each item reduced to
 * an extract): it must accept exactly what the whole-object way accepts, and index the same
 * number of objects and claims. review's and audit's streamed read of them (statefile_open,
 * statefile_index, statefile_audit_source) must refuse with the same words, gather the same
 * Tenant objects, hand out the same objects one by one and index as many.
 */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audit.h"
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
	char err[1024] = "", serr[1024] = "", path[64];
	json_t *objs, *tenants;
	struct statefile *sf;
	struct state *st, *loaded, *sst;

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
	sf = statefile_open(path, true, serr, sizeof(serr));
	FUZZ_ASSERT((objs == NULL) == (sf == NULL), "the streamed read decides otherwise");
	if (objs == NULL) {
		FUZZ_ASSERT(err[0] != '\0', "refused without a reason");
		FUZZ_ASSERT(loaded == NULL, "the load took what the reader refused");
		FUZZ_ASSERT(strcmp(err, serr) == 0, "the streamed read refuses in other words");
		return 0;
	}
	FUZZ_ASSERT(json_is_array(objs), "the objects are not an array");
	tenants = statefile_select_tenants(objs);
	FUZZ_ASSERT(tenants != NULL && json_equal(tenants, statefile_tenants(sf)),
	    "the streamed read gathers other Tenant objects");
	struct audit_source src;
	statefile_audit_source(sf, &src);
	FUZZ_ASSERT(src.n == json_array_size(objs), "the streamed read counts other objects");
	for (size_t i = 0; i < json_array_size(objs); i++) {
		json_t *one = src.object(src.arg, i, NULL);
		FUZZ_ASSERT(json_equal(one, json_array_get(objs, i)),
		    "an object decoded from its place differs");
		json_decref(one);
	}
	err[0] = serr[0] = '\0';
	st = statefile_from_objects(cfg, objs, err, sizeof(err));
	FUZZ_ASSERT(st != NULL || err[0] != '\0', "state refused without a reason");
	FUZZ_ASSERT((st != NULL) == (loaded != NULL), "the load and the reader disagree");
	FUZZ_ASSERT(st == NULL || (st->n_objects == loaded->n_objects &&
	    claims_count(st->claims) == claims_count(loaded->claims)),
	    "the load indexed other objects or claims than the reader");
	sst = statefile_index(sf, cfg, serr, sizeof(serr));
	FUZZ_ASSERT((st == NULL) == (sst == NULL) && (st == NULL ||
	    st->n_objects == sst->n_objects), "the streamed read indexes otherwise");
	state_free(sst);
	statefile_close(sf);
	json_decref(tenants);
	state_free(st);
	state_free(loaded);
	json_decref(objs);
	return 0;
}
