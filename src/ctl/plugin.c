/* plugin.c - eccrctl plugin check FILE: load a plugin the way the servers
 * do (without its init) and say what it is, or why it cannot load. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "plugins.h"

static const char *option_type(int t)
{
	switch (t) {
	case ECCR_OPT_STRING: return "string";
	case ECCR_OPT_INT: return "integer";
	case ECCR_OPT_BOOL: return "boolean";
	case ECCR_OPT_FILE: return "file";
	default: return "?";
	}
}

int ctl_plugin(int argc, char **argv, const struct eccr_config *cfg)
{
	struct eccr_plugin_instance *pi;
	const struct eccr_plugin_option *o;
	char err[4096 + 256];

	if (argc != 3 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: eccrctl plugin check FILE\n");
		return 2;
	}
	if ((pi = eccr_plugin_open(argv[2], err, sizeof err)) == NULL) {
		fprintf(stderr, "eccrctl plugin check: %s\n", err);
		return 1;
	}
	printf("name:        %s\n", pi->desc.name);
	printf("kind:        %s\n", eccr_plugin_kind_name(pi->desc.kind));
	printf("version:     %s\n", pi->desc.version);
	printf("abi:         %u.%u (host %u.%u)\n", pi->desc.abi_major, pi->desc.abi_minor,
	    ECCR_PLUGIN_ABI_MAJOR, ECCR_PLUGIN_ABI_MINOR);
	if (pi->desc.description != NULL)
		printf("description: %s\n", pi->desc.description);
	if (pi->desc.job_type != NULL)
		printf("job type:    %s\n", pi->desc.job_type);
	printf("query:       %s\n", pi->desc.query ? "yes" : "no");
	for (o = pi->desc.options; o != NULL && o->key != NULL; o++)
		printf("option:      %s (%s, default %s)%s%s\n", o->key, option_type(o->type),
		    o->default_value ? o->default_value : "unset",
		    o->description ? ": " : "", o->description ? o->description : "");
	eccr_plugin_close(pi);
	return 0;
}
