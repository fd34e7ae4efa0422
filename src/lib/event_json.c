/* event_json.c - see event_json.h.  Written by hand rather than with
 * json-c: every field is already JSON text or a string to quote, so a
 * json_object tree would be built only to be printed again.  The outbox
 * used to have PostgreSQL build it (json_build_object): a quarter of the
 * dispatcher's database time (docs/performance.md). */
#include <string.h>

#include "event_json.h"

static void add_str(struct eccr_buf *b, const char *s)
{
	eccr_buf_add_json_str(b, s, strlen(s));
}

void eccr_event_json(struct eccr_buf *b, const struct eccr_event *ev)
{
	eccr_buf_adds(b, "{\"id\":");
	if (ev->transient)
		eccr_buf_adds(b, "null");
	else
		add_str(b, ev->id_text);
	eccr_buf_adds(b, ",\"type\":");
	add_str(b, ev->type);
	eccr_buf_adds(b, ",\"occurred_at\":");
	add_str(b, ev->occurred_at);
	eccr_buf_adds(b, ",\"actor\":{\"id\":");
	add_str(b, ev->actor_id);
	if (ev->actor_name != NULL && ev->actor_name[0] != '\0') {
		eccr_buf_adds(b, ",\"name\":");
		add_str(b, ev->actor_name);
	}
	eccr_buf_adds(b, "},\"resource\":{\"type\":");
	add_str(b, ev->resource_type);
	eccr_buf_adds(b, ",\"id\":");
	add_str(b, ev->resource_id);
	eccr_buf_adds(b, "},\"episode_id\":");
	if (ev->episode_id != NULL)
		add_str(b, ev->episode_id);
	else
		eccr_buf_adds(b, "null");
	eccr_buf_adds(b, ",\"data\":");
	eccr_buf_adds(b, ev->data_json);
	eccr_buf_addc(b, '}');
}
