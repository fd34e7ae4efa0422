/* abi-mismatch - a plugin built for a future major ABI: the host must
 * refuse it at start-up with a message naming both versions. */
#include <eccr/plugin.h>

static int never_init(const struct eccr_host *host, void **state)
{
	return -1;
}

static int never_emit(void *state, const struct eccr_event *ev)
{
	return ECCR_EMIT_FAIL;
}

static const struct eccr_plugin descriptor = {
	.abi_major = ECCR_PLUGIN_ABI_MAJOR + 1,
	.abi_minor = 0,
	.struct_size = sizeof(struct eccr_plugin),
	.name = "abi-mismatch",
	.version = "9.9.9",
	.kind = ECCR_PLUGIN_SINK,
	.init = never_init,
	.emit = never_emit,
};

ECCR_PLUGIN_DECLARE_ENTRY
{
	return &descriptor;
}
