/* fuzz-elfinfo.c - libFuzzer entry point for oc_inspect().
 *
 * Invariant under test: any byte string gives either 0 or -1 with a
 * message, never a crash, a sanitizer report or a hang.  The input is
 * copied because oc_inspect() may modify its image in place.
 */
#include "elfinfo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *img = malloc(size ? size : 1);
	struct oc_info *info = malloc(sizeof *info);
	char err[300];
	if (!img || !info)
		abort();
	memcpy(img, data, size);
	int r = oc_inspect(img, size, info, err, sizeof err);
	/* A failure must explain itself. */
	if (r < 0 && !err[0])
		abort();
	free(info);
	free(img);
	return 0;
}
