/* event_json.c - see event_json.h.  Written by hand rather than with
 * json-c: every field is already JSON text or a string to quote, so a
 * json_object tree would be built only to be printed again.  The outbox
 * used to have PostgreSQL build it (json_build_object): a quarter of the
 * dispatcher's database time (docs/performance.md). */
#include <string.h>

#include "event_json.h"

/* prefix (JSON text: punctuation and a key) then s as a JSON string. */
static void member(struct eccr_buf *b, const char *prefix, const char *s)
{
	eccr_buf_adds(b, prefix);
	eccr_buf_add_json_str(b, s, strlen(s));
}

void eccr_event_json(struct eccr_buf *b, const struct eccr_event *ev)
{
	if (ev->transient)
		eccr_buf_adds(b, "{\"id\":null");
	else
		member(b, "{\"id\":", ev->id_text);
	member(b, ",\"type\":", ev->type);
	member(b, ",\"occurred_at\":", ev->occurred_at);
	member(b, ",\"actor\":{\"id\":", ev->actor_id);
	if (ev->actor_name != NULL && ev->actor_name[0] != '\0')
		member(b, ",\"name\":", ev->actor_name);
	member(b, "},\"resource\":{\"type\":", ev->resource_type);
	member(b, ",\"id\":", ev->resource_id);
	if (ev->episode_id != NULL)
		member(b, "},\"episode_id\":", ev->episode_id);
	else
		eccr_buf_adds(b, "},\"episode_id\":null");
	eccr_buf_adds(b, ",\"data\":");
	eccr_buf_adds(b, ev->data_json);
	eccr_buf_addc(b, '}');
}
