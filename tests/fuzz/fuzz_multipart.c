/* libFuzzer target for the multipart parser: the first byte picks a chunk
 * size, so the fuzzer also explores delimiters split across feeds. */
#include <stddef.h>
#include <stdint.h>

#include "multipart.h"

static int sink(void *user, enum eccr_mp_event ev, const struct eccr_mp_part *part,
    const char *data, size_t n)
{
	size_t *total = user;

	if (ev == ECCR_MP_DATA)
		*total += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eccr_multipart mp;
	size_t total = 0, chunk, i;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 64 + 1;
	if (eccr_multipart_init(&mp, "multipart/form-data; boundary=fuzz-B0undary", sink, &total) != 0)
		return 0;
	for (i = 1; i < size; i += chunk) {
		size_t n = size - i < chunk ? size - i : chunk;

		if (eccr_multipart_feed(&mp, (const char *)data + i, n) != 0)
			return 0;
	}
	(void)eccr_multipart_finish(&mp);
	return 0;
}
