/* constrain.c: enforce stop, tool_choice, parallel calls and JSON answers. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "clock.h"
#include "constrain.h"
#include "json.h"
#include "jsonschema.h"
#include "log.h"
#include "stopseq.h"
#include "xmalloc.h"

struct constrain {
	const struct conv	*conv;
	struct sink		*inner;
	struct sink		 outer;
	struct stopseq		*ss;		/* NULL: no stop sequences */
	int64_t			 ping_ms;
	int64_t			 last_out;
	/* The inner sink, for the whole response. */
	int			 inner_started;
	int			 delivered;	/* text or a call reached it */
	struct sink_start	 st;
	char			*message_id;
	char			*model;
	size_t			 n_out_tools;	/* calls it has had */
	enum sink_stop		 stop;
	/* One answer (one upstream call). */
	int			 halted;	/* a stop sequence matched */
	int			 satisfied;	/* ANY / TOOL: a call started */
	int			 json_on;	/* text is JSON, held to the end */
	int			 dropped;	/* a call was dropped */
	int			 had_text;
	struct buf		 held;
	long			*tmap;		/* relay call index -> ours, -1 */
	size_t			 n_tmap;
	char			*unmet;
};

static int
wants_tool(const struct constrain *w)
{
	return w->conv->tool_choice == CONV_TOOL_CHOICE_ANY ||
	    w->conv->tool_choice == CONV_TOOL_CHOICE_TOOL;
}

static int
holding(const struct constrain *w)
{
	return (wants_tool(w) && !w->satisfied) || w->json_on;
}

static void
answer_reset(struct constrain *w)
{
	if (w->ss != NULL)
		stopseq_reset(w->ss);
	buf_reset(&w->held);
	free(w->tmap);
	w->tmap = NULL;
	w->n_tmap = 0;
	w->halted = w->satisfied = w->dropped = w->had_text = 0;
	w->json_on = w->conv->json_mode;
	free(w->unmet);
	w->unmet = NULL;
}

/* After a call into the inner sink: mirror what it committed. */
static int
sync_rc(struct constrain *w, int rc)
{
	w->outer.committed = w->inner->committed;
	w->last_out = clock_mono_ms();
	return rc;
}

static int
inner_start(struct constrain *w)
{
	if (w->inner_started)
		return 0;
	w->inner_started = 1;
	return sync_rc(w, w->inner->ops->start(w->inner->arg, &w->st));
}

static int
w_ping(void *arg)
{
	struct constrain	*w = arg;
	int			 rc;

	if (w->inner->ops->ping == NULL)
		return 0;
	/*
	 * Before any answer has started (a buffered sink pings while Kiro
	 * has not answered yet) there is nothing to start the inner sink
	 * with; it takes such pings unstarted, as from the relay.
	 */
	if (w->message_id != NULL && (rc = inner_start(w)) != 0)
		return rc;
	return sync_rc(w, w->inner->ops->ping(w->inner->arg));
}

/* While text is held, keep-alives still go to a client that gets them. */
static int
maybe_ping(struct constrain *w)
{
	if (w->inner->ops->ping == NULL ||
	    !(w->inner->streams || w->inner->ping_before_start) ||
	    clock_mono_ms() - w->last_out < w->ping_ms)
		return 0;
	return w_ping(w);
}

static int
put_text(struct constrain *w, const char *s, size_t len)
{
	int	rc;

	if (len == 0)
		return 0;
	w->had_text = 1;
	if (holding(w)) {
		buf_append(&w->held, s, len);
		return maybe_ping(w);
	}
	if ((rc = inner_start(w)) != 0)
		return rc;
	w->delivered = 1;
	return sync_rc(w, w->inner->ops->text(w->inner->arg, s, len));
}

static int
flush_held(struct constrain *w)
{
	int	rc;

	if (w->held.len == 0)
		return 0;
	if ((rc = inner_start(w)) != 0)
		return rc;
	w->delivered = 1;
	rc = w->inner->ops->text(w->inner->arg, w->held.ptr, w->held.len);
	buf_reset(&w->held);
	return sync_rc(w, rc);
}

static int
w_start(void *arg, const struct sink_start *st)
{
	struct constrain	*w = arg;

	/* Only the first answer's start reaches the inner sink. */
	if (!w->inner_started) {
		free(w->message_id);
		free(w->model);
		w->message_id = xstrdup(st->message_id);
		w->model = xstrdup(st->model);
		w->st = *st;
		w->st.message_id = w->message_id;
		w->st.model = w->model;
	}
	answer_reset(w);
	return 0;
}

static int
w_text(void *arg, const char *s, size_t len)
{
	struct constrain	*w = arg;
	const char		*out;
	size_t			 n;
	int			 rc, m;

	if (w->halted)
		return 0;
	if (w->ss == NULL)
		return put_text(w, s, len);
	m = stopseq_feed(w->ss, s, len, &out, &n);
	if ((rc = put_text(w, out, n)) != 0)
		return rc;
	if (m < 0)
		return 0;
	w->halted = 1;
	return SINK_HALT;
}

static int
w_thinking(void *arg, const char *s, size_t len)
{
	struct constrain	*w = arg;
	int			 rc;

	if (w->halted)
		return 0;
	if ((rc = inner_start(w)) != 0)
		return rc;
	return sync_rc(w, w->inner->ops->thinking(w->inner->arg, s, len));
}

static int
w_thinking_end(void *arg, const char *signature)
{
	struct constrain	*w = arg;

	if (w->halted || !w->inner_started)
		return 0;
	return sync_rc(w, w->inner->ops->thinking_end(w->inner->arg,
	    signature));
}

/* Whether a call may reach the client, by tool_choice and parallelism. */
static int
call_allowed(const struct constrain *w, const char *name)
{
	const struct conv	*c = w->conv;

	if (c->tool_choice == CONV_TOOL_CHOICE_NONE)
		return 0;
	if (c->tool_choice == CONV_TOOL_CHOICE_TOOL &&
	    (c->tool_choice_name == NULL || name == NULL ||
	    strcmp(name, c->tool_choice_name) != 0))
		return 0;
	if (c->single_tool_call && w->n_out_tools > 0)
		return 0;
	return 1;
}

static int
w_tool_start(void *arg, size_t index, const char *id, const char *name)
{
	struct constrain	*w = arg;
	int			 rc;

	if (w->halted)
		return 0;
	if (index >= w->n_tmap) {
		w->tmap = xreallocarray(w->tmap, index + 1, sizeof(*w->tmap));
		while (w->n_tmap <= index)
			w->tmap[w->n_tmap++] = -1;
	}
	if (!call_allowed(w, name)) {
		log_info("dropped a call to %s: the request's tool_choice or "
		    "parallel setting does not allow it", name);
		w->dropped = 1;
		return 0;
	}
	w->satisfied = 1;
	w->json_on = 0;		/* a tool call is not a JSON answer */
	if ((rc = flush_held(w)) != 0 || (rc = inner_start(w)) != 0)
		return rc;
	w->tmap[index] = (long)w->n_out_tools++;
	w->delivered = 1;
	return sync_rc(w, w->inner->ops->tool_start(w->inner->arg,
	    (size_t)w->tmap[index], id, name));
}

static int
w_tool_input(void *arg, size_t index, const char *s, size_t len)
{
	struct constrain	*w = arg;

	if (index >= w->n_tmap || w->tmap[index] < 0)
		return 0;
	return sync_rc(w, w->inner->ops->tool_input(w->inner->arg,
	    (size_t)w->tmap[index], s, len));
}

static int
w_tool_end(void *arg, size_t index, const char *input)
{
	struct constrain	*w = arg;

	if (index >= w->n_tmap || w->tmap[index] < 0)
		return 0;
	return sync_rc(w, w->inner->ops->tool_end(w->inner->arg,
	    (size_t)w->tmap[index], input));
}

/* json_mode: the held text becomes its JSON value, or w->unmet says why. */
static void
json_answer(struct constrain *w)
{
	json_object	*v;
	char		*err = NULL;
	size_t		 off = 0, len = 0;

	v = jsonschema_extract(w->held.ptr != NULL ? w->held.ptr : "",
	    w->held.len, &off, &len);
	if (v == NULL) {
		w->unmet = xstrdup("the answer is not JSON");
		return;
	}
	if (w->conv->response_schema != NULL) {
		if (!jsonschema_validate(w->conv->response_schema, v, &err)) {
			w->unmet = xasprintf("the answer's JSON does not match "
			    "the response schema: %s", err);
			free(err);
		}
	} else if (!json_object_is_type(v, json_type_object))
		w->unmet = xasprintf("the answer's JSON is %s %s, not an "
		    "object", strchr("aeiou", json_type_label(v)[0]) != NULL ?
		    "an" : "a", json_type_label(v));
	json_object_put(v);
	if (w->unmet == NULL) {
		buf_consume(&w->held, off);
		w->held.len = len;
		w->held.ptr[len] = '\0';
	}
}

static int
w_finish(void *arg, enum sink_stop stop, const struct sink_usage *usage)
{
	struct constrain	*w = arg;
	const struct conv	*c = w->conv;
	struct sink_usage	 u;
	const char		*out;
	size_t			 n;
	int			 rc;

	if (w->ss != NULL && !w->halted) {
		stopseq_flush(w->ss, &out, &n);
		if ((rc = put_text(w, out, n)) != 0)
			return rc;
	}
	free(w->unmet);
	w->unmet = NULL;
	if (wants_tool(w) && !w->satisfied) {
		if (c->tool_choice == CONV_TOOL_CHOICE_TOOL)
			w->unmet = xasprintf("the model answered without "
			    "calling the tool \"%s\" that tool_choice names",
			    c->tool_choice_name != NULL ? c->tool_choice_name :
			    "");
		else
			w->unmet = xstrdup("the model answered without "
			    "calling a tool, although tool_choice requires "
			    "one");
	} else if (w->json_on)
		json_answer(w);
	else if (c->tool_choice == CONV_TOOL_CHOICE_NONE && w->dropped &&
	    !w->had_text)
		w->unmet = xstrdup("the model called a tool, although "
		    "tool_choice is none");
	if (w->unmet != NULL) {
		log_info("answer not delivered: %s", w->unmet);
		return 0;
	}
	w->json_on = 0;
	if ((rc = flush_held(w)) != 0 || (rc = inner_start(w)) != 0)
		return rc;
	u = *usage;
	u.stop_sequence = NULL;
	if (w->halted) {
		stop = SINK_STOP_STOP_SEQUENCE;
		u.stop_sequence = stopseq_matched(w->ss);
	} else if (stop == SINK_STOP_TOOL_USE && w->n_out_tools == 0)
		stop = SINK_STOP_END_TURN;	/* every call was dropped */
	w->stop = stop;
	return sync_rc(w, w->inner->ops->finish(w->inner->arg, stop, &u));
}

static int
w_error(void *arg, enum kf_err er, const char *message)
{
	struct constrain	*w = arg;

	return sync_rc(w, w->inner->ops->error(w->inner->arg, er, message));
}

static void
w_reset(void *arg)
{
	struct constrain	*w = arg;

	answer_reset(w);
	if (w->inner_started && w->inner->ops->reset != NULL)
		w->inner->ops->reset(w->inner->arg);
	w->inner_started = 0;
	w->delivered = 0;
	w->n_out_tools = 0;
	w->outer.committed = w->inner->committed;
}

/* A search the gateway ran is no part of the answer's constraints. */
static int
w_web_search(void *arg, const char *id, const struct websearch *ws)
{
	struct constrain	*w = arg;
	int			 rc;

	if (w->inner->ops->web_search == NULL)
		return 0;
	if ((rc = inner_start(w)) != 0)
		return rc;
	return sync_rc(w, w->inner->ops->web_search(w->inner->arg, id, ws));
}

static const struct sink_ops constrain_ops = {
	w_start, w_text, w_thinking, w_thinking_end, w_tool_start,
	w_tool_input, w_tool_end, w_finish, w_error, w_ping, w_reset,
	w_web_search,
};

/* For an inner sink that cannot forget: neither can we. */
static const struct sink_ops constrain_ops_noreset = {
	w_start, w_text, w_thinking, w_thinking_end, w_tool_start,
	w_tool_input, w_tool_end, w_finish, w_error, w_ping, NULL,
	w_web_search,
};

struct constrain *
constrain_new(const struct conv *c, struct sink *inner,
    int64_t ping_interval_ms)
{
	struct constrain	*w;
	struct stopseq		*ss;

	ss = stopseq_new(c->stop, c->n_stop);
	if (ss == NULL && c->tool_choice == CONV_TOOL_CHOICE_AUTO &&
	    !c->single_tool_call && !c->json_mode)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->conv = c;
	w->inner = inner;
	w->ss = ss;
	w->ping_ms = ping_interval_ms > 0 ? ping_interval_ms : 25000;
	w->last_out = clock_mono_ms();
	w->json_on = c->json_mode;
	w->outer = *inner;
	w->outer.ops = inner->ops->reset != NULL ? &constrain_ops :
	    &constrain_ops_noreset;
	w->outer.arg = w;
	return w;
}

void
constrain_free(struct constrain *w)
{
	if (w == NULL)
		return;
	stopseq_free(w->ss);
	buf_free(&w->held);
	free(w->tmap);
	free(w->unmet);
	free(w->message_id);
	free(w->model);
	free(w);
}

struct sink *
constrain_sink(struct constrain *w)
{
	return &w->outer;
}

const char *
constrain_unmet(const struct constrain *w)
{
	return w->unmet;
}

enum sink_stop
constrain_stop(const struct constrain *w)
{
	return w->stop;
}

int
constrain_retry(struct constrain *w)
{
	return !w->delivered;
}

char *
constrain_retry_note(const struct constrain *w)
{
	return xasprintf("IMPORTANT: your previous answer to this request was "
	    "rejected because %s. Follow the instructions about the form of "
	    "your answer exactly.", w->unmet != NULL ? w->unmet :
	    "it did not follow the instructions");
}

char *
constrain_instructions(const struct conv *c)
{
	struct buf	b = BUF_INIT;
	char		*schema;

	switch (c->tool_choice) {
	case CONV_TOOL_CHOICE_NONE:
		buf_puts(&b, "Do not call any tool in this answer: answer "
		    "with text only.");
		break;
	case CONV_TOOL_CHOICE_ANY:
		buf_puts(&b, "You must call at least one of the provided "
		    "tools in this answer; do not answer with text alone.");
		break;
	case CONV_TOOL_CHOICE_TOOL:
		buf_printf(&b, "You must call the tool \"%s\" in this answer; "
		    "do not answer with text alone and do not call any other "
		    "tool.", c->tool_choice_name != NULL ?
		    c->tool_choice_name : "");
		break;
	case CONV_TOOL_CHOICE_AUTO:
	case CONV_TOOL_CHOICE__MAX:
		break;
	}
	if (c->single_tool_call && c->tool_choice != CONV_TOOL_CHOICE_NONE &&
	    c->n_tools > 0)
		buf_printf(&b, "%sCall at most one tool in this answer.",
		    b.len > 0 ? " " : "");
	if (c->json_mode) {
		buf_printf(&b, "%sAnswer with one JSON value only: no text "
		    "before or after it and no Markdown code fence.",
		    b.len > 0 ? "\n" : "");
		if (c->response_schema != NULL) {
			schema = json_to_str(c->response_schema);
			buf_printf(&b, " The JSON must match this JSON "
			    "Schema:\n%s", schema);
			free(schema);
		} else
			buf_puts(&b, " The JSON value must be an object.");
	}
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b);
}
