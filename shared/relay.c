/* relay.c: pick an account, refresh, call Kiro, stream the answer to a sink. */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts.h"
#include "buf.h"
#include "catalogue.h"
#include "clock.h"
#include "config.h"
#include "constrain.h"
#include "cred.h"
#include "digest.h"
#include "eventstream.h"
#include "history.h"
#include "http.h"
#include "json.h"
#include "kiro_event.h"
#include "kiro_req.h"
#include "log.h"
#include "metrics.h"
#include "models.h"
#include "overflow.h"
#include "pool.h"
#include "preflight.h"
#include "rand.h"
#include "refresh.h"
#include "relay.h"
#include "store.h"
#include "thinking.h"
#include "tokens.h"
#include "toolcont.h"
#include "upstream.h"
#include "websearch.h"
#include "xmalloc.h"

static const char *const stop_names[SINK_STOP__MAX] = {
	"end_turn", "tool_use", "max_tokens", "model_context_window_exceeded",
	"stop_sequence",
};

const char *
sink_stop_name(enum sink_stop stop)
{
	return (unsigned)stop < SINK_STOP__MAX ? stop_names[stop] :
	    "end_turn";
}

/* One tool call being streamed. */
struct tool_call {
	char		*id;		/* Kiro's toolUseId */
	size_t		 index;
	struct buf	 input;
	int		 done;
	int		 search;	/* the gateway's search: hidden */
};

/* What one upstream call produced; reset before each attempt. */
struct attempt {
	struct relay_env		*env;
	const struct conv		*conv;
	struct sink			*sink;
	const struct kiro_toolmap	*map;
	struct kiro_event_parser	*parser;
	struct es_decoder		*decoder;
	struct thinking_splitter	*splitter;	/* NULL: thinking off */
	char				 message_id[40];
	long				 input_estimate;
	const char			*context_note;	/* sink_start's */
	int				 started;
	int				 native_open;	/* reasoning events */
	char				*native_signature;
	int				 thinking_seen;
	int				 content_seen;	/* text or tool */
	struct tool_call		*tools;
	size_t				 n_tools;
	long				 output_tokens;
	double				 context_pct;
	long				 metrics_in;
	long				 metrics_out;
	int				 have_kiro_usage;
	struct kiro_token_usage		 kiro_usage;	/* §12 tokenUsage */
	/* Over every attempt: Kiro charges for each answer it sent. */
	double				 credits;
	int				 metered;
	int				 have_stop;
	enum sink_stop			 stop;
	/* A failure inside a 200 stream (exception frame, garbage). */
	enum kf_err			 stream_err;
	char				*stream_msg;
	int				 stream_retryable;
	int				 client_gone;
	int				 halted;	/* SINK_HALT: done */
	int64_t				 last_emit_ms;
	/*
	 * Web search (websearch.h): the calls the client sees are counted
	 * apart from the searches the relay runs; this call's text goes
	 * into the search turn; over the whole request, the searches run,
	 * the follow-up calls made and their output tokens.
	 */
	size_t				 n_visible;
	struct buf			 answer_text;
	long				 searches;
	int				 rounds;
	long				 round_output_tokens;
};

static void
attempt_clear(struct attempt *a)
{
	size_t	i;

	for (i = 0; i < a->n_tools; i++) {
		free(a->tools[i].id);
		buf_free(&a->tools[i].input);
	}
	free(a->tools);
	a->tools = NULL;
	a->n_tools = 0;
	thinking_free(a->splitter);
	a->splitter = NULL;
	free(a->native_signature);
	a->native_signature = NULL;
	free(a->stream_msg);
	a->stream_msg = NULL;
	a->halted = 0;
	a->n_visible = 0;
	buf_free(&a->answer_text);
}

static int
gone(struct attempt *a, int rc)
{
	if (rc == SINK_HALT)
		a->halted = 1;	/* the sink ended the answer */
	else if (rc != 0)
		a->client_gone = 1;
	return rc;
}

static void
emitted(struct attempt *a)
{
	if (a->sink->streams)
		a->last_emit_ms = clock_mono_ms();
}

static int
ensure_started(struct attempt *a)
{
	struct sink_start	st;

	if (a->started)
		return 0;
	a->started = 1;
	memset(&st, 0, sizeof(st));
	st.message_id = a->message_id;
	st.model = a->conv->model != NULL ? a->conv->model :
	    a->conv->kiro_model;
	st.input_tokens = a->input_estimate;
	st.thinking = a->conv->thinking != CONV_THINKING_OFF;
	st.context = a->context_note;
	emitted(a);
	return gone(a, a->sink->ops->start(a->sink->arg, &st));
}

static int
splitter_emit(void *arg, enum thinking_part part, const char *s, size_t len)
{
	struct attempt	*a = arg;
	int		 rc = 0;

	switch (part) {
	case THINKING_PART_TEXT:
		a->content_seen = 1;
		rc = a->sink->ops->text(a->sink->arg, s, len);
		break;
	case THINKING_PART_THINKING:
		a->thinking_seen = 1;
		rc = a->sink->ops->thinking(a->sink->arg, s, len);
		break;
	case THINKING_PART_THINKING_END:
		rc = a->sink->ops->thinking_end(a->sink->arg, NULL);
		break;
	case THINKING_PART__MAX:
		break;
	}
	emitted(a);
	return gone(a, rc);
}

/* Closes native reasoning before other content. */
static int
close_native(struct attempt *a)
{
	if (!a->native_open)
		return 0;
	a->native_open = 0;
	emitted(a);
	return gone(a, a->sink->ops->thinking_end(a->sink->arg,
	    a->native_signature));
}

static int
on_text(struct attempt *a, const char *s, size_t len)
{
	int	rc;

	if (len == 0)
		return 0;
	if ((rc = ensure_started(a)) != 0 || (rc = close_native(a)) != 0)
		return rc;
	a->output_tokens += tokens_count_output(s, len);
	if (a->conv->web_search.enabled)
		buf_append(&a->answer_text, s, len);
	if (a->splitter != NULL)
		return thinking_feed(a->splitter, s, len) != 0 ? 1 : 0;
	a->content_seen = 1;
	emitted(a);
	return gone(a, a->sink->ops->text(a->sink->arg, s, len));
}

static int
on_reasoning(struct attempt *a, const struct kiro_event *ev)
{
	int	rc;

	if ((rc = ensure_started(a)) != 0)
		return rc;
	if (ev->signature != NULL) {
		free(a->native_signature);
		a->native_signature = xstrdup(ev->signature);
	}
	if (ev->text_len == 0)
		return 0;
	a->native_open = 1;
	a->thinking_seen = 1;
	a->output_tokens += tokens_count_output(ev->text, ev->text_len);
	emitted(a);
	return gone(a, a->sink->ops->thinking(a->sink->arg, ev->text,
	    ev->text_len));
}

/* 1 when Kiro's call is to the search tool the relay runs itself. */
static int
is_search_call(const struct attempt *a, const char *kiro_name)
{
	return a->conv->web_search.enabled && !a->conv->web_search.only &&
	    strcmp(kiro_toolmap_original(a->map, kiro_name),
	    WEBSEARCH_TOOL) == 0;
}

/* 1 when the answer called the search tool: the relay has work to do. */
static int
search_pending(const struct attempt *a)
{
	size_t	i;

	for (i = 0; i < a->n_tools; i++)
		if (a->tools[i].search)
			return 1;
	return 0;
}

static struct tool_call *
find_tool(struct attempt *a, const char *id)
{
	size_t	i;

	for (i = 0; i < a->n_tools; i++)
		if (strcmp(a->tools[i].id, id) == 0)
			return &a->tools[i];
	return NULL;
}

/* The whole input of a finished call: an object, "{}" when unusable. */
static int
tool_finish(struct attempt *a, struct tool_call *t)
{
	json_object	*v = NULL;
	char		*text;
	int		 rc;

	t->done = 1;
	if (t->input.len > 0 && json_parse(t->input.ptr, t->input.len, 256,
	    &v, NULL) == KF_OK && json_object_is_type(v, json_type_object))
		text = json_to_str(v);
	else {
		if (t->input.len > 0)
			log_warnx("tool call %s: input is not a whole JSON "
			    "object", t->id);
		text = xstrdup("{}");
	}
	json_object_put(v);
	if (t->search) {
		/* The relay runs it (search_turn) from its input alone. */
		buf_reset(&t->input);
		buf_puts(&t->input, text);
		free(text);
		return 0;
	}
	emitted(a);
	rc = a->sink->ops->tool_end(a->sink->arg, t->index, text);
	free(text);
	return gone(a, rc);
}

static int
on_tool(struct attempt *a, const struct kiro_event *ev)
{
	struct tool_call	*t;
	int			 rc;

	if (ev->tool_use_id == NULL)
		return 0;
	if ((t = find_tool(a, ev->tool_use_id)) == NULL) {
		if (ev->tool_name == NULL) {
			log_warnx("tool call %s: fragment without a name for "
			    "an unknown call; skipped", ev->tool_use_id);
			return 0;
		}
		if ((rc = ensure_started(a)) != 0 || (rc = close_native(a)) !=
		    0)
			return rc;
		/* A tool call is a boundary for the <thinking> splitter. */
		if (a->splitter != NULL && thinking_flush(a->splitter) != 0)
			return 1;
		a->tools = xreallocarray(a->tools, a->n_tools + 1,
		    sizeof(*a->tools));
		t = &a->tools[a->n_tools++];
		memset(t, 0, sizeof(*t));
		t->id = xstrdup(ev->tool_use_id);
		t->search = is_search_call(a, ev->tool_name);
		a->content_seen = 1;
		if (!t->search)
			t->index = a->n_visible++;
		emitted(a);
		if (!t->search && (rc = gone(a, a->sink->ops->tool_start(
		    a->sink->arg, t->index, t->id, kiro_toolmap_original(
		    a->map, ev->tool_name)))) != 0)
			return rc;
	}
	if (t->done)
		return 0;
	if (ev->tool_input_len > 0) {
		buf_append(&t->input, ev->tool_input, ev->tool_input_len);
		a->output_tokens += tokens_count_tool_input(ev->tool_input_len);
		emitted(a);
		if (!t->search && (rc = gone(a, a->sink->ops->tool_input(
		    a->sink->arg, t->index, ev->tool_input,
		    ev->tool_input_len))) != 0)
			return rc;
	}
	if (ev->tool_stop)
		return tool_finish(a, t);
	return 0;
}

static void
stream_failure(struct attempt *a, enum kf_err er, int retryable,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
stream_failure(struct attempt *a, enum kf_err er, int retryable,
    const char *fmt, ...)
{
	struct buf	msg = BUF_INIT;
	va_list		ap;

	if (a->stream_msg != NULL)
		return;		/* the first failure is the one to report */
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	a->stream_err = er;
	a->stream_retryable = retryable;
	a->stream_msg = buf_detach(&msg);
}

static int
on_exception(struct attempt *a, const struct kiro_event *ev)
{
	const char	*kind = ev->kind != NULL ? ev->kind : "";
	const char	*msg = ev->text != NULL ? ev->text : "";

	/* The model ran out of room: a normal end with max_tokens (§7.2). */
	if (strcmp(kind, "ContentLengthExceededException") == 0) {
		a->have_stop = 1;
		a->stop = SINK_STOP_MAX_TOKENS;
		return 0;
	}
	log_warnx("upstream %s in stream: %s: %s",
	    ev->type == KIRO_EV_ERROR ? "error" : "exception", kind, msg);
	if (strstr(kind, "Throttling") != NULL)
		stream_failure(a, KF_ERATE, 1, "Kiro is rate limiting: %s",
		    msg);
	else if (strstr(kind, "InternalServer") != NULL ||
	    strstr(kind, "ServiceUnavailable") != NULL ||
	    strstr(kind, "ModelTemporarilyUnavailable") != NULL)
		stream_failure(a, KF_EOVERLOADED, 1,
		    "Kiro is temporarily unavailable: %s", msg);
	else if (strstr(kind, "Validation") != NULL &&
	    strstr(msg, "too long") != NULL)
		stream_failure(a, KF_ECONTEXT, 0,
		    "Input is too long. Reduce the size of your messages. (%s)",
		    msg);
	else if (strstr(kind, "Validation") != NULL)
		stream_failure(a, KF_EINVAL, 0, "Kiro rejected the request: %s",
		    msg);
	else
		stream_failure(a, KF_EUPSTREAM, 0, "Kiro reported an error: %s",
		    msg);
	return 1;	/* stop reading: the answer is over */
}

/* A stop reason from metadata: only running out of tokens changes one. */
static void
on_stop_reason(struct attempt *a, const char *reason)
{
	if (reason != NULL && (strcasecmp(reason, "max_tokens") == 0 ||
	    strcasecmp(reason, "length") == 0)) {
		a->have_stop = 1;
		a->stop = SINK_STOP_MAX_TOKENS;
	}
}

static int
on_event(struct attempt *a, const struct kiro_event *ev)
{
	switch (ev->type) {
	case KIRO_EV_TEXT:
		return on_text(a, ev->text, ev->text_len);
	case KIRO_EV_TOOL_USE:
		return on_tool(a, ev);
	case KIRO_EV_REASONING:
		return on_reasoning(a, ev);
	case KIRO_EV_CONTEXT_USAGE:
		a->context_pct = ev->value;
		return 0;
	case KIRO_EV_STOP_REASON:
		on_stop_reason(a, ev->kind);
		return 0;
	case KIRO_EV_METRICS:
		if (ev->input_tokens >= 0)
			a->metrics_in = ev->input_tokens;
		if (ev->output_tokens >= 0)
			a->metrics_out = ev->output_tokens;
		return 0;
	case KIRO_EV_TOKEN_USAGE:
		on_stop_reason(a, ev->kind);
		a->have_kiro_usage = 1;
		a->kiro_usage = ev->usage;
		return 0;
	case KIRO_EV_METERING:
		a->credits += ev->value;
		a->metered = 1;
		return 0;
	case KIRO_EV_EXCEPTION:
	case KIRO_EV_ERROR:
		return on_exception(a, ev);
	case KIRO_EV_END:
	case KIRO_EV_IGNORED:
	case KIRO_EV__MAX:
		break;
	}
	return 0;
}

static int
on_frame(void *arg, const struct es_frame *frame)
{
	struct attempt		*a = arg;
	struct kiro_event	 ev;
	char			*why = NULL;

	if (kiro_event_parse(a->parser, frame, &ev, &why) != KF_OK) {
		log_warnx("skipping an upstream frame: %s", why);
		free(why);
		return 0;
	}
	return on_event(a, &ev);
}

static int
on_data(void *arg, const char *data, size_t len)
{
	struct attempt	*a = arg;
	struct sink	*s = a->sink;
	enum es_status	 st;

	/* The events of one piece of the stream leave in one write. */
	if (s->batch != NULL)
		(void)s->batch(s->batch_arg, 1);
	st = es_decoder_feed(a->decoder, data, len);
	if (s->batch != NULL && s->batch(s->batch_arg, 0) != 0 &&
	    st == ES_OK) {
		a->client_gone = 1;
		return 1;
	}
	switch (st) {
	case ES_OK:
		return 0;
	case ES_FATAL:
		stream_failure(a, KF_EUPSTREAM, 1, "%s",
		    "Kiro's answer could not be decoded (corrupt event "
		    "stream)");
		return 1;
	case ES_STOPPED:
	case ES__MAX:
		break;
	}
	return 1;
}

static int
on_tick(void *arg)
{
	struct attempt	*a = arg;
	struct sink	*s = a->sink;
	int64_t		 now = clock_mono_ms();

	if (s->gone != NULL && s->gone(s->gone_arg)) {
		a->client_gone = 1;
		return 1;
	}
	if (s->ops->ping == NULL ||
	    now - a->last_emit_ms < a->env->cfg->ping_interval_seconds * 1000)
		return 0;
	if (!(a->started && s->streams) && !s->ping_before_start)
		return 0;
	a->last_emit_ms = now;
	return gone(a, s->ops->ping(s->arg));
}

/*
 * The input tokens Kiro's tokenUsage gives (§12): the sum of the three
 * parts it sent, else its total less the output; 0 when it gave neither.
 */
static long
kiro_input_tokens(const struct kiro_token_usage *u)
{
	const long	parts[] = { u->uncached_input_tokens,
			    u->cache_read_input_tokens,
			    u->cache_write_input_tokens };
	long		sum = 0;
	size_t		i;
	int		have = 0;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (parts[i] >= 0 && parts[i] <= LONG_MAX / 4) {
			sum += parts[i];
			have = 1;
		}
	if (have)
		return sum;
	if (u->total_tokens >= 0 && u->output_tokens >= 0 &&
	    u->total_tokens > u->output_tokens)
		return u->total_tokens - u->output_tokens;
	return 0;
}

/*
 * The usage a client sees.  Kiro's own figures win over estimates:
 * tokenUsage (§12) first, then metricsEvent, then the input derived from
 * the context percentage (§5), then the local counts.  The cache figures
 * are part of input_tokens and 0 when Kiro sent none.
 */
static void
answer_usage(const struct attempt *a, struct sink_usage *usage)
{
	const struct kiro_token_usage	*u = a->have_kiro_usage ?
					    &a->kiro_usage : NULL;
	const struct model_info		*m;

	memset(usage, 0, sizeof(*usage));
	m = models_find(a->conv->kiro_model);
	if (u != NULL)
		usage->input_tokens = kiro_input_tokens(u);
	if (usage->input_tokens < 1)
		usage->input_tokens = a->metrics_in > 0 ? a->metrics_in :
		    a->context_pct > 0 ? tokens_from_context_usage(
		    a->context_pct, m != NULL ? m->context_window : 200000) :
		    a->input_estimate;
	if (usage->input_tokens < 1)
		usage->input_tokens = a->input_estimate;
	if (u != NULL && u->output_tokens >= 0)
		usage->output_tokens = u->output_tokens;
	else
		usage->output_tokens = a->metrics_out > 0 ? a->metrics_out :
		    a->output_tokens;
	if (u != NULL && u->cache_read_input_tokens > 0 &&
	    u->cache_read_input_tokens <= usage->input_tokens)
		usage->cache_read_tokens = u->cache_read_input_tokens;
	if (u != NULL && u->cache_write_input_tokens > 0 &&
	    u->cache_write_input_tokens <= usage->input_tokens -
	    usage->cache_read_tokens)
		usage->cache_write_tokens = u->cache_write_input_tokens;
}

/* Ends a complete 200 stream: close what is open, then finish (§6.1). */
static int
finalize(struct attempt *a, struct relay_result *res)
{
	struct sink_usage	 usage;
	enum sink_stop		 stop;
	size_t			 i;
	int			 rc;

	if (a->splitter != NULL && thinking_flush(a->splitter) != 0)
		return 1;
	if ((rc = close_native(a)) != 0)
		return rc;
	for (i = 0; i < a->n_tools; i++)
		if (!a->tools[i].done && (rc = tool_finish(a,
		    &a->tools[i])) != 0)
			return rc;
	/* Thinking and nothing else: the answer was cut (kiro.rs). */
	if (a->thinking_seen && !a->content_seen) {
		a->content_seen = 1;
		if ((rc = gone(a, a->sink->ops->text(a->sink->arg, " ", 1))) !=
		    0)
			return rc;
		a->have_stop = 1;
		a->stop = SINK_STOP_MAX_TOKENS;
	}
	/* tokenUsage's percentage when no contextUsageEvent gave one. */
	if (a->context_pct <= 0 && a->have_kiro_usage &&
	    a->kiro_usage.context_pct > 0)
		a->context_pct = a->kiro_usage.context_pct;
	if (a->have_stop)
		stop = a->stop;
	else if (a->context_pct >= 100)
		stop = SINK_STOP_CONTEXT_WINDOW;
	else if (a->n_visible > 0)
		stop = SINK_STOP_TOOL_USE;
	else
		stop = SINK_STOP_END_TURN;
	answer_usage(a, &usage);
	usage.output_tokens += a->round_output_tokens;
	usage.web_search_requests = a->searches;
	res->input_tokens = usage.input_tokens;
	res->output_tokens = usage.output_tokens;
	res->cache_read_tokens = usage.cache_read_tokens;
	res->cache_write_tokens = usage.cache_write_tokens;
	res->stop = stop;
	emitted(a);
	return gone(a, a->sink->ops->finish(a->sink->arg, stop, &usage));
}

/* What to do after one upstream call. */
enum next_step {
	STEP_DONE,		/* finished: success */
	STEP_FAIL,		/* stop with the error */
	STEP_RETRY,		/* same account, after a backoff */
	STEP_REFRESH,		/* force a refresh, then same account */
	STEP_NEXT,		/* next account */
	STEP_SEARCH,		/* run the searches, then call again */
};

struct outcome {
	enum next_step		 step;
	enum kf_err		 err;
	char			*msg;		/* fit for a client */
	char			*detail;	/* for the account's record */
	enum pool_outcome	 report;	/* POOL_OUTCOME__MAX: none */
	/*
	 * The HTTP status of a refusal, 0 when Kiro could not be reached at
	 * all (DNS, connection), -1 otherwise: what a route switch reads.
	 */
	long			 status;
};

static void
outcome_set(struct outcome *o, enum next_step step, enum kf_err er,
    enum pool_outcome report, char *msg)
{
	o->step = step;
	o->err = er;
	o->report = report;
	o->status = -1;
	free(o->msg);
	o->msg = msg;
	free(o->detail);
	o->detail = NULL;
}

static void
judge_http(const struct http_resp *resp, struct outcome *o)
{
	enum upstream_verdict	 v;
	char			*text;

	v = upstream_classify(resp->status, resp->body.ptr, resp->body.len);
	text = upstream_error_text(resp->body.ptr, resp->body.len);
	log_warnx("upstream answered HTTP %ld (%s): %s", resp->status,
	    upstream_verdict_name(v), text);
	switch (v) {
	case UV_CONTEXT_FULL:
		outcome_set(o, STEP_FAIL, KF_ECONTEXT, POOL_OUTCOME__MAX,
		    xstrdup("Context window is full. Reduce conversation "
		    "history, system prompt, or tools."));
		break;
	case UV_INPUT_TOO_LONG:
		outcome_set(o, STEP_FAIL, KF_ECONTEXT, POOL_OUTCOME__MAX,
		    xstrdup("Input is too long. Reduce the size of your "
		    "messages."));
		break;
	case UV_BAD_REQUEST:
		/* No retry can fix it: a 5xx would make SDKs try again. */
		outcome_set(o, STEP_FAIL, KF_EINVAL, POOL_OUTCOME__MAX,
		    xasprintf("Kiro rejected the request (HTTP 400): %s",
		    text));
		break;
	case UV_UNAUTHORIZED:
	case UV_BEARER_INVALID:
		/*
		 * The account's token, not the client's key: a 401 would make
		 * Claude Code ask its user to log in again.  502 (kiro.rs).
		 * Whether it counts against the account is the loop's call.
		 */
		outcome_set(o, STEP_REFRESH, KF_EUPSTREAM, POOL_OUTCOME__MAX,
		    xstrdup("Kiro refused the access token of the account "
		    "chosen, even after a refresh"));
		break;
	case UV_SUSPENDED:
		outcome_set(o, STEP_NEXT, KF_ESUSPENDED, POOL_SUSPENDED,
		    xstrdup("the Kiro account chosen is suspended"));
		break;
	case UV_QUOTA:
		outcome_set(o, STEP_NEXT, KF_EQUOTA, POOL_QUOTA,
		    xstrdup("the monthly quota of the Kiro account chosen is "
		    "used up"));
		break;
	case UV_FORBIDDEN:
		outcome_set(o, STEP_NEXT, KF_EPERM, POOL_FAILURE,
		    xstrdup("Kiro refused the account chosen (HTTP 403)"));
		break;
	case UV_THROTTLED:
		outcome_set(o, STEP_RETRY, KF_ERATE, POOL_THROTTLED,
		    xasprintf("Kiro is rate limiting (HTTP %ld): %s",
		    resp->status, text));
		break;
	case UV_SERVER:
		outcome_set(o, STEP_RETRY, KF_EOVERLOADED, POOL_OUTCOME__MAX,
		    xasprintf("Kiro is unavailable (HTTP %ld): %s",
		    resp->status, text));
		break;
	case UV_NETWORK:
		outcome_set(o, STEP_RETRY, KF_EUPSTREAM, POOL_OUTCOME__MAX,
		    xstrdup("no answer from Kiro"));
		break;
	case UV_CLIENT_ERROR:
		/* Another 4xx: the request's own problem, never retried. */
		outcome_set(o, STEP_FAIL, resp->status == 413 ? KF_ECONTEXT :
		    KF_EINVAL, POOL_OUTCOME__MAX, resp->status == 413 ?
		    xstrdup("Input is too long. Reduce the size of your "
		    "messages.") : xasprintf("Kiro refused the request "
		    "(HTTP %ld): %s", resp->status, text));
		break;
	case UV_OK:
	case UV__MAX:
		outcome_set(o, STEP_FAIL, KF_EUPSTREAM, POOL_OUTCOME__MAX,
		    xasprintf("Kiro answered HTTP %ld: %s", resp->status,
		    text));
		break;
	}
	/* The account's record keeps upstream's words; clients get msg. */
	o->detail = xasprintf("HTTP %ld: %s", resp->status, text);
	o->status = resp->status;
	free(text);
}

/* One upstream call with this account's body. */
static void
run_attempt(struct attempt *a, const struct cred *cred,
    const struct upstream_route *route, const struct buf *body,
    struct relay_result *res, struct outcome *o)
{
	struct upstream_call	 call;
	struct http_resp	 resp;
	char			*why = NULL;
	enum kf_err		 er;

	memset(&call, 0, sizeof(call));
	call.cfg = a->env->cfg;
	call.cred = cred;
	call.route = *route;
	call.body = body->ptr;
	call.body_len = body->len;
	call.on_data = on_data;
	call.on_tick = on_tick;
	call.arg = a;
	er = upstream_generate(a->env->http, &call, &resp, &why);

	if (a->halted && !a->client_gone) {
		/* A stop sequence: the transfer was stopped on purpose. */
		if (finalize(a, res) != 0) {
			outcome_set(o, STEP_FAIL, KF_ECLIENTGONE,
			    POOL_OUTCOME__MAX, xstrdup("the client went away"));
			goto out;
		}
		outcome_set(o, STEP_DONE, KF_OK, POOL_SUCCESS, NULL);
		goto out;
	}
	if (a->client_gone) {
		outcome_set(o, STEP_FAIL, KF_ECLIENTGONE, POOL_OUTCOME__MAX,
		    xstrdup("the client went away"));
		goto out;
	}
	if (a->stream_msg != NULL) {
		/* An exception frame or corrupt stream inside a 200. */
		outcome_set(o, a->stream_retryable ? STEP_RETRY : STEP_FAIL,
		    a->stream_err, POOL_OUTCOME__MAX, xstrdup(a->stream_msg));
		goto out;
	}
	if (er == KF_OK && resp.status >= 200 && resp.status < 300) {
		if (es_decoder_pending(a->decoder) > 0) {
			outcome_set(o, STEP_RETRY, KF_EUPSTREAM,
			    POOL_OUTCOME__MAX, xstrdup("Kiro's answer was cut "
			    "off in the middle of an event"));
			goto out;
		}
		if (!a->content_seen && !a->thinking_seen && !a->have_stop) {
			outcome_set(o, STEP_RETRY, KF_EOVERLOADED,
			    POOL_OUTCOME__MAX, xstrdup("Kiro sent an empty "
			    "answer"));
			goto out;
		}
		if (search_pending(a)) {
			outcome_set(o, STEP_SEARCH, KF_OK, POOL_SUCCESS, NULL);
			goto out;
		}
		if (ensure_started(a) != 0 || finalize(a, res) != 0) {
			outcome_set(o, STEP_FAIL, KF_ECLIENTGONE,
			    POOL_OUTCOME__MAX, xstrdup("the client went away"));
			goto out;
		}
		outcome_set(o, STEP_DONE, KF_OK, POOL_SUCCESS, NULL);
		goto out;
	}
	if (er == KF_OK) {
		judge_http(&resp, o);
		goto out;
	}
	log_warnx("upstream call failed: %s", why);
	outcome_set(o, STEP_RETRY, er == KF_ETIMEOUT ? KF_ETIMEOUT :
	    KF_EUPSTREAM, POOL_OUTCOME__MAX, resp.body_started ?
	    xstrdup("Kiro's answer was cut off") :
	    xasprintf("could not reach Kiro: %s", resp.error));
	if (!resp.body_started && resp.status == 0)
		o->status = 0;
out:
	free(why);
	http_resp_free(&resp);
}

/*
 * After a refusal that another host or style may not give (§12), moves
 * route to that one: 1 when the caller should try again, once per
 * account, and only while the client has nothing.
 */
static int
route_switch(const struct relay_env *env, const struct attempt *a,
    long account_id, const struct outcome *o, struct upstream_route *route,
    int *switched)
{
	struct upstream_route	 next;
	const char		*text = o->detail != NULL ? o->detail : "";

	if (*switched || o->step == STEP_DONE || o->status < 0 ||
	    a->started || a->sink->committed)
		return 0;
	if (!upstream_route_fallback(env->cfg, route, o->status, text,
	    strlen(text), &next))
		return 0;
	log_warnx("account %ld: the %s host, %s style, did not serve (%s): "
	    "trying the %s host, %s style", account_id,
	    config_api_host_name(route->host),
	    config_api_style_name(route->style),
	    o->status == 0 ? o->msg : text, config_api_host_name(next.host),
	    config_api_style_name(next.style));
	*route = next;
	*switched = 1;
	return 1;
}

/*
 * The runtime host refuses a social account without its profile (§12):
 * one imported without it learns it here, once (then it is stored).  A
 * failure is no error: the legacy host may still serve (route_switch).
 * A miss this process already warned about (KF_ENOTFOUND) is not news.
 */
static void
ensure_profile(const struct relay_env *env, const struct upstream_route *route,
    struct cred *cred)
{
	char		*why = NULL;
	enum kf_err	 er;

	if (route->host != API_HOST_RUNTIME || cred->profile_arn != NULL ||
	    cred->auth_method != CRED_AUTH_SOCIAL)
		return;
	er = refresh_resolve_profile(env->store, env->http, env->cfg, cred,
	    &why);
	if (er != KF_OK && er != KF_ENOTFOUND)
		log_warnx("account %ld: %s", cred->id, why);
	free(why);
}

/* A switched route served: the account keeps it (accounts.h). */
static void
route_served(const struct relay_env *env, long account_id,
    const struct upstream_route *route, int switched)
{
	char	*why = NULL;
	int	 recorded;

	if (!switched)
		return;
	if (accounts_switch_route(env->store, account_id, route->host,
	    route->style, clock_now(), &recorded, &why) != KF_OK)
		log_warnx("account %ld: could not record its route: %s",
		    account_id, why);
	else if (recorded)
		log_info("account %ld: switched to the %s host, %s style, "
		    "which served; it stays there", account_id,
		    config_api_host_name(route->host),
		    config_api_style_name(route->style));
	free(why);
}

/* kiro.rs: min(200 ms * 2^n, 2 s) plus up to 25% jitter. */
static void
backoff(int n)
{
	struct timespec	ts;
	unsigned char	r;
	long		ms;

	ms = 200L << (n < 4 ? n : 4);
	if (ms > 2000)
		ms = 2000;
	rand_bytes(&r, 1);
	ms += ms * r / 1024;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * profileArn goes in the body except in the target style, which carries
 * it in its header (upstream.c) and refuses top-level fields it does not
 * know (§12: agentMode, systemPrompt): kiro-fcgi(8), "Kiro hosts".
 */
static const char *
body_profile(const struct upstream_route *route, const struct cred *cred)
{
	if (route->host == API_HOST_RUNTIME && route->style == API_STYLE_TARGET)
		return NULL;
	return cred->profile_arn;
}

/*
 * The Kiro body for conv; over history.maxPayloadBytes, the oldest turns
 * go, as many at once as the excess covers (history_build_within), not
 * one rebuild per turn.
 */
static enum kf_err
build_body(struct relay_env *env, struct conv *conv, const struct cred *cred,
    const struct upstream_route *route, const char *conversation_id,
    struct buf *body, struct kiro_toolmap *map, json_object **tree,
    char **cause)
{
	struct history_opts	hopts;
	struct history_fit	fit;
	struct kiro_req_opts	opts;
	size_t			max_bytes;
	enum kf_err		er;

	memset(&opts, 0, sizeof(opts));
	opts.model_id = conv->kiro_model;
	/* The client's session UUID, else the pool's one for the session. */
	opts.conversation_id = conv->session_id != NULL ? conv->session_id :
	    conversation_id != NULL && conversation_id[0] != '\0' ?
	    conversation_id : NULL;
	opts.profile_arn = body_profile(route, cred);
	opts.prompt_caching = env->cfg->prompt_caching;
	opts.tree = tree;	/* for the pre-flight check */
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = (size_t)env->cfg->history.max_image_msgs;
	max_bytes = env->cfg->history.max_payload_bytes > 0 ?
	    (size_t)env->cfg->history.max_payload_bytes : 0;
	er = history_build_within(conv, &hopts, &opts, max_bytes, body, map,
	    &fit, cause);
	if (er == KF_OK && fit.turns_dropped > 0)
		log_info("request over %zu bytes: dropped the oldest %zu "
		    "turns (%zu builds)", max_bytes, fit.turns_dropped,
		    fit.builds);
	return er;
}

/*
 * Sends the final error into a response that has begun: after content, or
 * after nothing but pings (a buffered /cc stream commits with its first
 * ping, before Kiro has answered at all).
 */
static void
fail_committed(struct attempt *a, enum kf_err er, const char *msg)
{
	if (a->client_gone || er == KF_ECLIENTGONE || !a->sink->committed)
		return;
	(void)a->sink->ops->error(a->sink->arg, er, msg);
}

/*
 * A failed refresh: its cause names the account and the auth service's
 * words, which belong in the log; the client learns what it means.
 */
static void
refresh_failed(const struct account *seen, enum kf_err er, const char *why,
    enum kf_err *last_err, char **last_msg)
{
	log_warnx("account %ld: no usable access token: %s", seen->cred.id,
	    why);
	free(*last_msg);
	if (er == KF_ELOGIN && seen->cred.auth_method == CRED_AUTH_API_KEY) {
		*last_err = KF_ELOGIN;
		*last_msg = xstrdup("Kiro refused the API key of the account "
		    "chosen; the gateway's operator must add a new one");
	} else if (er == KF_ELOGIN) {
		*last_err = KF_ELOGIN;
		*last_msg = xstrdup("the Kiro account chosen needs a new login "
		    "(its refresh token was refused); the gateway's operator "
		    "must run kiroctl login");
	} else {
		*last_err = KF_EUPSTREAM;
		*last_msg = xstrdup("could not refresh the access token of the "
		    "Kiro account chosen");
	}
}

/*
 * An attempt's parts that live for the whole request; estimate is
 * tokens_count_conv(conv).
 */
static void
attempt_init(struct attempt *a, struct relay_env *env, struct conv *conv,
    struct sink *sink, const char *note, long estimate)
{
	a->env = env;
	a->conv = conv;
	a->sink = sink;
	a->input_estimate = estimate;
	a->context_note = note;
	memcpy(a->message_id, "msg_", 4);
	rand_hex(a->message_id + 4, 32);
}

/*
 * The account serving a request and what its calls use: the one owner of
 * both, from the pick to the next pick or the end of the request.  seen
 * is the account as the pick read it (what pool_report compares with);
 * cred is a copy of its credential, or a refreshed one.
 */
struct lease {
	struct account		 seen;
	struct cred		 cred;
	struct upstream_route	 route;
	int			 forced;	/* cred came after a refusal */
	int			 switched;	/* route_switch moved route */
};

static void
lease_init(struct lease *l)
{
	memset(l, 0, sizeof(*l));
	cred_init(&l->cred);
}

static void
lease_free(struct lease *l)
{
	account_free(&l->seen);
	cred_free(&l->cred);
	lease_init(l);
}

/* Takes the account a pick returned; the previous one goes. */
static void
lease_take(struct lease *l, struct account *acct)
{
	lease_free(l);
	l->seen = *acct;
	memset(acct, 0, sizeof(*acct));
}

/*
 * Ready to call: the token (the pick read the account, so only a stale
 * token costs a refresh), then the route and the profile it needs.
 */
static enum kf_err
lease_ready(struct relay_env *env, struct lease *l, char **why)
{
	enum kf_err	er;

	cred_free(&l->cred);
	if (!refresh_needed(&l->seen.cred, REFRESH_AHEAD_REQUEST, clock_now()))
		cred_copy(&l->cred, &l->seen.cred);
	else if ((er = refresh_ensure(env->store, env->http, env->cfg,
	    l->seen.cred.id, REFRESH_AHEAD_REQUEST, NULL, &l->cred, why)) !=
	    KF_OK)
		return er;
	account_route(&l->seen, env->cfg, &l->route);
	ensure_profile(env, &l->route, &l->cred);
	return KF_OK;
}

/*
 * Kiro refused cred's access token: cred gets the account's current
 * token, or a new one when the refused one is still current (refresh.h).
 * On error cred stays as it was.
 */
static enum kf_err
token_after_refusal(struct relay_env *env, struct cred *cred, char **why)
{
	struct cred	fresh;
	enum kf_err	er;

	cred_init(&fresh);
	if ((er = refresh_ensure(env->store, env->http, env->cfg, cred->id,
	    REFRESH_AHEAD_REQUEST, cred->access_token != NULL ?
	    cred->access_token : "", &fresh, why)) != KF_OK) {
		cred_free(&fresh);
		return er;
	}
	cred_free(cred);	/* wipes the refused token */
	*cred = fresh;
	return KF_OK;
}

/*
 * A Kiro body over maxKiroBodyBytes would only come back refused (and as
 * a 5xx SDKs retry): refuse it here, in the client's terms.
 */
static enum kf_err
check_body_size(const struct config *cfg, const struct buf *body,
    char **cause)
{
	if (cfg->max_kiro_body_bytes <= 0 ||
	    body->len <= (size_t)cfg->max_kiro_body_bytes)
		return KF_OK;
	xsetprintf(cause, "Input is too long: the Kiro request would be %zu "
	    "bytes, the limit is %ld (maxKiroBodyBytes). Reduce the size of "
	    "your messages.", body->len, cfg->max_kiro_body_bytes);
	return KF_ECONTEXT;
}

/*
 * Kiro's rules (preflight.h): a body it would answer "Improperly formed
 * request" is refused here, naming the rule and the client's path.
 */
static enum kf_err
check_preflight(const struct config *cfg, const struct conv *conv,
    json_object *tree, const struct buf *body, char **cause)
{
	struct preflight_limits	lim;
	enum kf_err		er;

	preflight_limits_default(&lim);
	if (cfg->max_kiro_body_bytes > 0)
		lim.max_body_bytes = (size_t)cfg->max_kiro_body_bytes;
	if ((er = preflight_check_tree(tree, body->len, conv, &lim, NULL,
	    cause)) != KF_OK)
		log_info("pre-flight check refused the request: %s", *cause);
	return er;
}

/*
 * Web search (issue 10, doc/protocol.md §10).  The client's search tool
 * is run by the gateway through Kiro's /mcp: alone in an Anthropic
 * request, the search is the whole answer (search_only: one /mcp call,
 * no model call); among other tools, the model gets a web_search tool of
 * its own, each of its calls becomes a search whose results the client
 * sees (sink web_search) and the model reads in a follow-up call
 * (search_turn).  A failed search finds nothing; it never fails the
 * answer.
 */
#define SEARCH_MAX_ROUNDS	5
/* Searches per request when the client set no max_uses (or a larger one). */
#define SEARCH_MAX_PER_REQUEST	20

/*
 * One /mcp call for the account of cred; a refused token is refreshed
 * (or replaced by the one another request got) and the call made once
 * more, as for generateAssistantResponse.  Failures are logged: the
 * search then finds nothing.
 */
static void
search_upstream(struct relay_env *env, struct cred *cred,
    const struct upstream_route *route, const char *query,
    struct websearch *ws)
{
	char	*why = NULL;
	int	 refused = 0;

	if (websearch_run(env->http, env->cfg, cred, route->host, query, ws,
	    &refused, &why) == KF_OK)
		goto out;
	if (refused && cred->auth_method != CRED_AUTH_API_KEY) {
		log_info("account %ld: web search: the token was refused; "
		    "refreshing it once", cred->id);
		free(why);
		why = NULL;
		if (token_after_refusal(env, cred, &why) != KF_OK)
			goto out;
		if (websearch_run(env->http, env->cfg, cred, route->host,
		    query, ws, NULL, &why) == KF_OK)
			goto out;
	}
out:
	if (why != NULL)
		log_warnx("web search failed, answering with no results: %s",
		    why);
	free(why);
}

/*
 * One search for the model (or its refusal past max_uses), shown to the
 * client: 0, or non-zero when the client is gone.
 */
static int
search_run_one(struct attempt *a, struct cred *cred,
    const struct upstream_route *route, const char *query,
    struct websearch *ws)
{
	char	 id[9 + 32 + 1];
	long	 limit = a->conv->web_search.max_uses;
	int	 rc;

	if (limit <= 0 || limit > SEARCH_MAX_PER_REQUEST)
		limit = SEARCH_MAX_PER_REQUEST;
	if (a->searches >= limit) {
		websearch_free(ws);
		ws->query = xstrdup(query);
		ws->error = "max_uses_exceeded";
	} else {
		a->searches++;
		if (*query == '\0') {
			websearch_free(ws);
			ws->query = xstrdup(query);
		} else
			search_upstream(a->env, cred, route, query, ws);
		websearch_filter(ws, &a->conv->web_search);
	}
	if ((rc = ensure_started(a)) != 0 || (rc = close_native(a)) != 0)
		return rc;
	if (a->sink->ops->web_search == NULL)
		return 0;
	memcpy(id, "srvtoolu_", 9);
	rand_hex(id + 9, 32);
	emitted(a);
	return gone(a, a->sink->ops->web_search(a->sink->arg, id, ws));
}

/*
 * The model called the search tool: run each search, show it, and put
 * the turn into conv (the model's text and calls, then the results) for
 * the follow-up call.  *more is 0 when the answer must end here instead:
 * the model also called client tools (the client runs those first), or
 * the rounds are spent.  Returns non-zero when the client is gone.
 */
static int
search_turn(struct attempt *a, struct conv *conv, struct cred *cred,
    const struct upstream_route *route, int *more)
{
	struct conv_msg		*m;
	struct conv_block	*b, *c;
	struct websearch	 ws;
	struct tool_call	*t;
	json_object		*input;
	char			*query, *text;
	size_t			 i, first;
	int			 rc = 0;

	memset(&ws, 0, sizeof(ws));
	*more = a->n_visible == 0 && a->rounds < SEARCH_MAX_ROUNDS;
	if (*more) {
		m = conv_add_msg(conv, CONV_ROLE_ASSISTANT);
		if (a->answer_text.len > 0) {
			b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
			b->text = xstrdup(buf_cstr(&a->answer_text));
		}
		for (i = 0; i < a->n_tools; i++) {
			t = &a->tools[i];
			b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
			b->id = xstrdup(t->id);
			b->name = xstrdup(WEBSEARCH_TOOL);
			input = NULL;
			if (json_parse(t->input.ptr != NULL ? t->input.ptr :
			    "{}", t->input.len > 0 ? t->input.len : 2, 16,
			    &input, NULL) != KF_OK)
				input = json_object_new_object();
			b->input = input;
		}
		first = conv->n_msgs;
		(void)conv_add_msg(conv, CONV_ROLE_USER);
	} else
		first = 0;
	for (i = 0; i < a->n_tools && rc == 0; i++) {
		t = &a->tools[i];
		if (!t->search)
			continue;
		query = websearch_call_query(t->input.ptr, t->input.len);
		rc = search_run_one(a, cred, route, query, &ws);
		if (*more) {
			text = websearch_result_text(&ws);
			b = conv_msg_add_block(&conv->msgs[first],
			    CONV_BLOCK_TOOL_RESULT);
			b->id = xstrdup(t->id);
			c = conv_block_add_content(b, CONV_BLOCK_TEXT);
			c->text = text;
		}
		free(query);
		websearch_free(&ws);
	}
	if (*more) {
		a->rounds++;
		a->round_output_tokens += a->output_tokens;
	}
	return rc;
}

/*
 * An Anthropic request whose one tool is web_search (§10): one /mcp call
 * with the first account the pool gives, and an answer made of it, in
 * the client's format, streamed or not: a short text, the search and its
 * results, then the summary.  Kiro's model is not called.
 */
static enum kf_err
search_only(struct relay_env *env, struct conv *conv, struct sink *sink,
    const char *note, long estimate, struct relay_result *res, char **cause)
{
	struct attempt		 a;
	struct account		 acct;
	struct lease		 lease;
	struct pool_pick_req	 pick;
	struct sink_usage	 usage;
	struct websearch	 ws;
	char			 session[POOL_SESSION_LEN + 1];
	char			*query, *text = NULL, *why = NULL;
	enum kf_err		 er = KF_OK;
	int			 rc;

	memset(&a, 0, sizeof(a));
	memset(&ws, 0, sizeof(ws));
	memset(&acct, 0, sizeof(acct));
	lease_init(&lease);
	if ((query = websearch_query(conv)) == NULL) {
		xsetprintf(cause, "web search: the first user message names "
		    "no query");
		return KF_EINVAL;
	}
	pool_session_hash(conv, session);
	memset(&pick, 0, sizeof(pick));
	pick.model_id = conv->kiro_model;
	pick.session = session;		/* the pool drops it when not sticky */
	pick.retry_after = &res->retry_after;
	if ((er = pool_pick(env->store, env->cfg, &pick, &acct, cause)) !=
	    KF_OK)
		goto out;
	res->account_id = acct.cred.id;
	lease_take(&lease, &acct);
	if ((er = lease_ready(env, &lease, &why)) != KF_OK) {
		refresh_failed(&lease.seen, er, why, &er, cause);
		goto out;
	}
	res->attempts = 1;

	attempt_init(&a, env, conv, sink, note, estimate);
	text = xasprintf("I'll search for \"%s\".", query);
	a.content_seen = 1;
	if ((rc = ensure_started(&a)) == 0)
		rc = sink->ops->text(sink->arg, text, strlen(text));
	free(text);
	if (rc == 0) {
		a.searches = 1;
		search_upstream(env, &lease.cred, &lease.route, query, &ws);
		websearch_filter(&ws, &conv->web_search);
		if (sink->ops->web_search != NULL) {
			char	id[9 + 32 + 1];

			memcpy(id, "srvtoolu_", 9);
			rand_hex(id + 9, 32);
			rc = sink->ops->web_search(sink->arg, id, &ws);
		}
	}
	text = websearch_summary(&ws);
	if (rc == 0)
		rc = sink->ops->text(sink->arg, text, strlen(text));
	if (rc == 0) {
		memset(&usage, 0, sizeof(usage));
		usage.input_tokens = a.input_estimate;
		usage.output_tokens = (long)(strlen(text) + 3) / 4;
		usage.web_search_requests = 1;
		res->input_tokens = usage.input_tokens;
		res->output_tokens = usage.output_tokens;
		res->stop = SINK_STOP_END_TURN;
		rc = sink->ops->finish(sink->arg, SINK_STOP_END_TURN, &usage);
	}
	if (rc != 0) {
		er = KF_ECLIENTGONE;
		xsetprintf(cause, "the client went away");
	}
out:
	free(text);
	free(why);
	free(query);
	websearch_free(&ws);
	account_free(&acct);
	lease_free(&lease);
	return er;
}

/*
 * One request's way down the retry ladder (relay.h): pick an account,
 * make its token ready, call, classify the failure, let the account
 * cool down, be disabled or fail over, back off, and report.  Every rung
 * reads and writes this; ladder_end frees it.
 */
struct ladder {
	struct relay_env	*env;
	struct conv		*conv;
	struct sink		*sink;
	struct relay_result	*res;
	struct attempt		 a;
	struct lease		 lease;		/* the account serving now */
	struct buf		 body;
	struct kiro_toolmap	*map;
	json_object		*tree;		/* the body's */
	struct outcome		 o;		/* of the last call */
	char			 session[POOL_SESSION_LEN + 1];
	char			 conversation_id[POOL_CONV_ID_LEN + 1];
	long			*tried;		/* every account picked */
	size_t			 n_tried;
	int			 total;		/* calls made */
	long			 pick_wait;	/* the pool's retry_after */
	enum kf_err		 last_err;	/* the last real failure */
	char			*last_msg;
};

/* Where a rung sends the request next. */
enum rung {
	RUNG_AGAIN,		/* the same account again */
	RUNG_NEXT,		/* the next account */
	RUNG_OUT,		/* over: answered, or an error with its cause */
	RUNG_FAIL,		/* over: the last failure is the answer */
};

/*
 * Each thread keeps an event parser between requests: making and freeing
 * one costs about 1,100 instructions a request (#13).  A ladder takes the
 * thread's (a ladder already running on the thread has it: then a new
 * one) and gives it back at its end.
 */
static pthread_once_t	parser_once = PTHREAD_ONCE_INIT;
static pthread_key_t	parser_key;

static void
parser_thread_free(void *kp)
{
	kiro_event_parser_free(kp);
}

static void
parser_key_make(void)
{
	if (pthread_key_create(&parser_key, parser_thread_free) != 0)
		abort();
}

static struct kiro_event_parser *
parser_take(void)
{
	struct kiro_event_parser	*kp;

	(void)pthread_once(&parser_once, parser_key_make);
	if ((kp = pthread_getspecific(parser_key)) == NULL)
		return kiro_event_parser_new();
	if (pthread_setspecific(parser_key, NULL) != 0)
		abort();
	return kp;
}

static void
parser_give_back(struct kiro_event_parser *kp)
{
	if (kp == NULL)
		return;
	kiro_event_parser_reset(kp);
	if (pthread_getspecific(parser_key) != NULL ||
	    pthread_setspecific(parser_key, kp) != 0)
		kiro_event_parser_free(kp);
}

static void
ladder_begin(struct ladder *l, struct relay_env *env, struct conv *conv,
    struct sink *sink, const char *note, long estimate,
    struct relay_result *res)
{
	memset(l, 0, sizeof(*l));
	l->env = env;
	l->conv = conv;
	l->sink = sink;
	l->res = res;
	l->last_err = KF_ENOACCOUNT;
	lease_init(&l->lease);
	attempt_init(&l->a, env, conv, sink, note, estimate);
	l->a.parser = parser_take();
	l->a.decoder = es_decoder_new(on_frame, &l->a);
	l->a.last_emit_ms = clock_mono_ms();
	pool_session_hash(conv, l->session);
}

static void
ladder_end(struct ladder *l)
{
	l->res->credits = l->a.credits;
	l->res->metered = l->a.metered;
	lease_free(&l->lease);
	attempt_clear(&l->a);
	es_decoder_free(l->a.decoder);
	parser_give_back(l->a.parser);
	kiro_toolmap_free(l->map);
	json_object_put(l->tree);
	buf_free(&l->body);
	free(l->tried);
	free(l->last_msg);
	free(l->o.msg);
	free(l->o.detail);
}

/* The last failure becomes the answer's message; *why is taken. */
static void
ladder_failed(struct ladder *l, enum kf_err er, char **why)
{
	l->last_err = er;
	free(l->last_msg);
	l->last_msg = *why;
	*why = NULL;
}

/* What the pool is asked: this conversation, minus the accounts tried. */
static void
pick_req(struct ladder *l, struct pool_pick_req *req)
{
	memset(req, 0, sizeof(*req));
	req->model_id = l->conv->kiro_model;
	req->session = l->session;	/* the pool drops it when not sticky */
	req->exclude = l->tried;
	req->n_exclude = l->n_tried;
}

/*
 * The pick: the next account, leased.  When none may serve, an attempt
 * that failed otherwise stays the answer, not another account's
 * cooldown: 429 only when throttling is what stopped the request.
 */
static enum kf_err
ladder_pick(struct ladder *l)
{
	struct pool_pick_req	 req;
	struct account		 acct;
	long			 retry_after = 0;
	char			*why = NULL;
	enum kf_err		 er;

	pick_req(l, &req);
	req.conversation_id = l->conversation_id;
	req.retry_after = &retry_after;
	if ((er = pool_pick(l->env->store, l->env->cfg, &req, &acct,
	    &why)) != KF_OK) {
		/* No account offers the model: say which ones do. */
		if (er == KF_ENOTFOUND)
			catalogue_cause_add_list(&why);
		if (l->last_msg == NULL || (l->last_err == KF_ERATE &&
		    er == KF_ERATE)) {
			ladder_failed(l, er, &why);
			if (er == KF_ERATE)
				l->pick_wait = retry_after;
		}
		free(why);
		return er;
	}
	/* Metrics: another account takes over from a failed one. */
	if (l->n_tried > 0)
		metrics_add(metrics_global(), METRIC_FAILOVERS, NULL, 1);
	l->tried = xreallocarray(l->tried, l->n_tried + 1, sizeof(*l->tried));
	l->tried[l->n_tried++] = acct.cred.id;
	l->res->account_id = acct.cred.id;
	lease_take(&l->lease, &acct);
	return KF_OK;
}

/* The leased account's token; a failed refresh is the last failure. */
static enum kf_err
ladder_token(struct ladder *l)
{
	char		*why = NULL;
	enum kf_err	 er;

	if ((er = lease_ready(l->env, &l->lease, &why)) != KF_OK)
		refresh_failed(&l->lease.seen, er, why, &l->last_err,
		    &l->last_msg);
	free(why);
	return er;
}

/* The Kiro body for the leased account and its route, with a new map. */
static enum kf_err
ladder_build(struct ladder *l, char **cause)
{
	kiro_toolmap_free(l->map);
	l->map = kiro_toolmap_new();
	l->a.map = l->map;
	return build_body(l->env, l->conv, &l->lease.cred, &l->lease.route,
	    l->conversation_id, &l->body, l->map, &l->tree, cause);
}

/* What Kiro would refuse anyway: the body's size, its pre-flight rules. */
static enum kf_err
ladder_check(struct ladder *l, char **cause)
{
	enum kf_err	er;

	if ((er = check_body_size(l->env->cfg, &l->body, cause)) != KF_OK)
		return er;
	return check_preflight(l->env->cfg, l->conv, l->tree, &l->body,
	    cause);
}

/* The call: a fresh decoder and state; the message id stays. */
static void
ladder_call(struct ladder *l)
{
	struct attempt	*a = &l->a;

	attempt_clear(a);
	es_decoder_reset(a->decoder);
	a->started = a->native_open = a->thinking_seen = 0;
	/* After a search turn the answer goes on. */
	if (a->rounds > 0)
		a->started = 1;
	a->content_seen = a->have_stop = 0;
	a->output_tokens = a->metrics_in = a->metrics_out = 0;
	a->context_pct = 0;
	a->have_kiro_usage = 0;
	if (l->conv->thinking != CONV_THINKING_OFF)
		a->splitter = thinking_new(splitter_emit, a);
	run_attempt(a, &l->lease.cred, &l->lease.route, &l->body, l->res,
	    &l->o);
}

/*
 * What the failure means for the account (judge_http classified it):
 * throttled, it cools down and another one serves when one can, else it
 * is retried as before; a refused token counts against it only when it
 * was fetched after a refusal (the first may just be stale: another
 * request refreshed, or one refresh cures it).
 */
static void
ladder_weigh(struct ladder *l)
{
	struct pool_pick_req	 req;
	struct outcome		*o = &l->o;

	if (o->step == STEP_RETRY && o->err == KF_ERATE) {
		pick_req(l, &req);	/* this account is in tried too */
		if (pool_can_serve(l->env->store, l->env->cfg, &req)) {
			o->report = POOL_THROTTLED;
			o->step = STEP_NEXT;
		} else
			o->report = POOL_OUTCOME__MAX;
	}
	if (o->step == STEP_REFRESH && l->lease.forced) {
		o->step = STEP_NEXT;
		o->report = POOL_FAILURE;
	}
}

/* The account learns the outcome: cooldown, failure, disable (pool.h). */
static void
ladder_report(struct ladder *l)
{
	const struct outcome	*o = &l->o;

	if (o->report != POOL_OUTCOME__MAX)
		(void)pool_report(l->env->store, l->env->cfg, &l->lease.seen,
		    o->report, o->detail != NULL ? o->detail : o->msg, NULL);
}

/*
 * The model called the search tool (search_turn): the answer ends, or
 * the follow-up call's body is built with the turn in it.
 */
static enum rung
ladder_search(struct ladder *l, enum kf_err *er, char **cause)
{
	int	more;

	if (search_turn(&l->a, l->conv, &l->lease.cred, &l->lease.route,
	    &more) != 0 || (!more && finalize(&l->a, l->res) != 0)) {
		xsetprintf(cause, "the client went away");
		*er = KF_ECLIENTGONE;
		return RUNG_OUT;
	}
	if (!more) {
		*er = KF_OK;
		return RUNG_OUT;
	}
	if ((*er = ladder_build(l, cause)) != KF_OK ||
	    (*er = ladder_check(l, cause)) != KF_OK) {
		fail_committed(&l->a, *er, *cause);
		return RUNG_OUT;
	}
	return RUNG_AGAIN;
}

/*
 * A failed call: it is the last failure.  Nothing may be retried once
 * the client has bytes, or has had search results; a started answer
 * the sink can take back is reset.
 */
static enum rung
ladder_failure(struct ladder *l)
{
	struct sink	*sink = l->sink;
	struct outcome	*o = &l->o;

	l->last_err = o->err;
	free(l->last_msg);
	l->last_msg = xstrdup(o->msg);
	if (sink->committed || o->step == STEP_FAIL || l->a.rounds > 0) {
		l->res->context_refused = o->err == KF_ECONTEXT &&
		    !sink->committed && !l->a.started && l->a.rounds == 0;
		if (sink->committed)
			fail_committed(&l->a, o->err, o->msg);
		return RUNG_FAIL;
	}
	if (l->a.started) {
		if (sink->ops->reset == NULL)
			return RUNG_FAIL;
		sink->ops->reset(sink->arg);
	}
	return o->step == STEP_NEXT ? RUNG_NEXT : RUNG_AGAIN;
}

/* The token was refused: the current one, or a new one, and again. */
static enum rung
ladder_refresh(struct ladder *l)
{
	char		*why = NULL;
	enum kf_err	 er;

	l->lease.forced = 1;
	if ((er = token_after_refusal(l->env, &l->lease.cred, &why)) !=
	    KF_OK)
		refresh_failed(&l->lease.seen, er, why, &l->last_err,
		    &l->last_msg);
	free(why);
	return er == KF_OK ? RUNG_AGAIN : RUNG_NEXT;
}

/*
 * The leased account's calls: at most RELAY_MAX_ATTEMPTS_PER_ACCOUNT,
 * within the request's RELAY_MAX_ATTEMPTS.  A route switch and a
 * refreshed token try again at once, a search turn's follow-up is no
 * retry, anything else retryable backs off first.
 */
static enum rung
ladder_account(struct ladder *l, enum kf_err *er, char **cause)
{
	enum rung	rung;
	int		per_account;

	for (per_account = 0; per_account < RELAY_MAX_ATTEMPTS_PER_ACCOUNT &&
	    l->total < RELAY_MAX_ATTEMPTS; per_account++) {
		l->res->attempts = ++l->total;
		/* Metrics: the same account asked again. */
		if (per_account > 0)
			metrics_add(metrics_global(), METRIC_UPSTREAM_RETRIES,
			    NULL, 1);
		ladder_call(l);
		if (route_switch(l->env, &l->a, l->res->account_id, &l->o,
		    &l->lease.route, &l->lease.switched)) {
			/* The other style: the profile elsewhere. */
			if ((*er = ladder_build(l, cause)) != KF_OK)
				return RUNG_OUT;
			continue;
		}
		ladder_weigh(l);
		ladder_report(l);
		if (l->o.step == STEP_DONE) {
			route_served(l->env, l->res->account_id, &l->lease.route,
			    l->lease.switched);
			*er = KF_OK;
			return RUNG_OUT;
		}
		if (l->o.step == STEP_SEARCH) {
			if ((rung = ladder_search(l, er, cause)) != RUNG_AGAIN)
				return rung;
			per_account = -1;
			l->total--;
			continue;
		}
		if ((rung = ladder_failure(l)) != RUNG_AGAIN)
			return rung;
		if (l->o.step == STEP_REFRESH) {
			if (ladder_refresh(l) != RUNG_AGAIN)
				return RUNG_NEXT;
			continue;
		}
		if (per_account + 1 < RELAY_MAX_ATTEMPTS_PER_ACCOUNT)
			backoff(per_account);
	}
	return RUNG_NEXT;
}

/*
 * One request upstream: known is the conv's estimate when the caller
 * counted it as it is (fit_window), else 0.
 */
static enum kf_err
relay_serve(struct relay_env *env, struct conv *conv, struct sink *sink,
    const char *note, long known, struct relay_result *res, char **cause)
{
	struct history_opts	 hopts;
	struct ladder		 l;
	enum rung		 rung = RUNG_NEXT;
	enum kf_err		 er = KF_OK;
	size_t			 n_tools;

	memset(res, 0, sizeof(*res));
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = (size_t)env->cfg->history.max_image_msgs;
	if ((er = history_repair(conv, &hopts, cause)) != KF_OK)
		return er;
	if (models_find(conv->kiro_model) == NULL) {
		xsetprintf(cause, "no Kiro model chosen for the request");
		return KF_EINVAL;
	}
	/* tool_choice none: the client wants no tool, no search either. */
	if (conv->web_search.only &&
	    conv->tool_choice != CONV_TOOL_CHOICE_NONE)
		return search_only(env, conv, sink, note, known > 0 ? known :
		    tokens_count_conv(conv), res, cause);
	n_tools = conv->n_tools;
	websearch_offer(conv);
	/*
	 * The repair above changes nothing fit_window repaired
	 * (history_repair is idempotent): its count holds unless the search
	 * tool was just added.
	 */
	if (known <= 0 || conv->n_tools != n_tools)
		known = tokens_count_conv(conv);

	ladder_begin(&l, env, conv, sink, note, known, res);
	while (l.total < RELAY_MAX_ATTEMPTS && rung == RUNG_NEXT) {
		if (ladder_pick(&l) != KF_OK)
			break;
		if (ladder_token(&l) != KF_OK)
			continue;
		if ((er = ladder_build(&l, cause)) != KF_OK)
			goto out;
		if ((er = ladder_check(&l, cause)) != KF_OK) {
			/* The request's own doing: no account answered. */
			res->account_id = 0;
			goto out;
		}
		if ((rung = ladder_account(&l, &er, cause)) == RUNG_OUT)
			goto out;
	}
	er = l.last_err;
	xsetprintf(cause, "%s", l.last_msg != NULL ? l.last_msg :
	    kf_strerror(er));
	/* Retry-After only with the 429 itself. */
	if (er == KF_ERATE)
		res->retry_after = l.pick_wait > 0 ? l.pick_wait : 5;
out:
	ladder_end(&l);
	return er;
}

/*
 * A tool call cut off mid-input (toolcont.h): up to toolContinuations
 * more upstream calls finish it, each with the conversation plus the
 * partial input; res adds up every call's attempts and credits.  known:
 * as relay_serve's, for the first call (the others add turns).
 */
static enum kf_err
serve_continuing(struct relay_env *env, struct conv *conv, struct sink *sink,
    const char *note, long known, struct relay_result *res, char **cause)
{
	struct toolcont	*tc;
	double		 credits = 0;
	long		 max_cont = env->cfg->tool_continuations;
	size_t		 base = 0;
	int		 attempts = 0, metered = 0, used = 0, added = 0;
	enum kf_err	 er;

	if (max_cont > TOOLCONT_MAX_CONTINUATIONS)
		max_cont = TOOLCONT_MAX_CONTINUATIONS;
	tc = toolcont_new(sink, env->cfg->ping_interval_seconds * 1000,
	    max_cont > 0);
	for (;;) {
		er = relay_serve(env, conv, toolcont_sink(tc), note, known,
		    res, cause);
		known = 0;
		if (added) {
			toolcont_remove_turns(conv, base);
			added = 0;
			/* e.g. no account could serve it: no answer at all */
			if (er != KF_OK)
				toolcont_failed(tc, er, *cause);
		}
		attempts += res->attempts;
		credits += res->credits;
		metered |= res->metered;
		if (!toolcont_pending(tc) || er == KF_ECLIENTGONE)
			break;
		if (used >= max_cont || toolcont_cut_bytes(tc) == 0) {
			er = toolcont_give_up(tc, cause);
			break;
		}
		used++;
		log_info("tool call %s cut off after %zu bytes of input (%s): "
		    "continuation %d of %ld", toolcont_cut_name(tc),
		    toolcont_cut_bytes(tc), toolcont_cut_broke(tc) ?
		    "the stream broke" : "the answer ended", used, max_cont);
		free(*cause);
		*cause = NULL;
		base = toolcont_add_turns(tc, conv);
		added = 1;
	}
	if (toolcont_finished(tc) && er != KF_ECLIENTGONE) {
		if (er != KF_OK && toolcont_stop(tc) == SINK_STOP_TOOL_USE &&
		    used > 0) {
			/* The call was complete before the stream broke. */
			free(*cause);
			*cause = NULL;
			er = KF_OK;
		}
		if (er == KF_OK)
			res->stop = toolcont_stop(tc);
	}
	if (used > 0)
		log_info("tool call continuations used: %d, the call %s", used,
		    er == KF_OK && res->stop == SINK_STOP_TOOL_USE ?
		    "completed" : "not sent");
	res->attempts = attempts;
	res->credits = credits;
	res->metered = metered;
	toolcont_free(tc);
	return er;
}

/*
 * Answer constraints (constrain.h): an answer that misses one gets one
 * more upstream call with a firmer instruction while nothing but
 * thinking and pings has reached the client; then it is an error.
 * known: as relay_serve's, for the first call (a retry adds to the
 * system prompt).
 */
static enum kf_err
serve_constrained(struct relay_env *env, struct conv *conv, struct sink *sink,
    const char *context, long known, struct relay_result *res, char **cause)
{
	struct constrain	*c;
	char			*note;
	double			 credits = 0;
	enum kf_err		 er;
	int			 attempts = 0, retried = 0, metered = 0;

	c = constrain_new(conv, sink, env->cfg->ping_interval_seconds * 1000);
	if (c == NULL)
		return serve_continuing(env, conv, sink, context, known, res,
		    cause);
	for (;;) {
		er = serve_continuing(env, conv, constrain_sink(c), context,
		    known, res, cause);
		known = 0;
		attempts += res->attempts;
		res->attempts = attempts;
		credits += res->credits;
		res->credits = credits;
		metered |= res->metered;
		res->metered = metered;
		sink->committed = constrain_sink(c)->committed;
		if (er != KF_OK)
			break;
		if (constrain_unmet(c) == NULL) {
			res->stop = constrain_stop(c);
			break;
		}
		if (!retried && constrain_retry(c)) {
			retried = 1;
			log_info("the answer missed a constraint (%s): asking "
			    "once more", constrain_unmet(c));
			note = constrain_retry_note(c);
			conv_append_system(conv, note);
			free(note);
			continue;
		}
		er = KF_EUPSTREAM;
		xsetprintf(cause, "the model's answer did not honour the "
		    "request%s: %s", retried ? ", even when asked again" : "",
		    constrain_unmet(c));
		if (sink->committed)
			(void)sink->ops->error(sink->arg, er, *cause);
		break;
	}
	constrain_free(c);
	return er;
}

/*
 * The summary call's sink: it keeps the answer's text (at most
 * OVERFLOW_SUMMARY_MAX bytes), and nothing reaches the client.
 */
struct collect {
	struct buf	text;
	int		finished;
};

static int
collect_start(void *arg, const struct sink_start *st)
{
	(void)arg;
	(void)st;
	return 0;
}

static int
collect_text(void *arg, const char *s, size_t len)
{
	struct collect	*col = arg;

	if (col->text.len < OVERFLOW_SUMMARY_MAX)
		buf_append(&col->text, s, len < OVERFLOW_SUMMARY_MAX -
		    col->text.len ? len : OVERFLOW_SUMMARY_MAX - col->text.len);
	return 0;
}

static int
collect_none(void *arg, const char *s, size_t len)
{
	(void)arg;
	(void)s;
	(void)len;
	return 0;
}

static int
collect_thinking_end(void *arg, const char *signature)
{
	(void)arg;
	(void)signature;
	return 0;
}

static int
collect_tool_start(void *arg, size_t index, const char *id, const char *name)
{
	(void)arg;
	(void)index;
	(void)id;
	(void)name;
	return 0;
}

static int
collect_tool_input(void *arg, size_t index, const char *s, size_t len)
{
	(void)arg;
	(void)index;
	(void)s;
	(void)len;
	return 0;
}

static int
collect_tool_end(void *arg, size_t index, const char *input)
{
	(void)arg;
	(void)index;
	(void)input;
	return 0;
}

static int
collect_finish(void *arg, enum sink_stop stop, const struct sink_usage *usage)
{
	struct collect	*col = arg;

	(void)stop;
	(void)usage;
	col->finished = 1;
	return 0;
}

static int
collect_error(void *arg, enum kf_err er, const char *message)
{
	(void)arg;
	(void)er;
	(void)message;
	return 0;
}

static void
collect_reset(void *arg)
{
	struct collect	*col = arg;

	buf_reset(&col->text);
}

static const struct sink_ops collect_ops = {
	.start = collect_start,
	.text = collect_text,
	.thinking = collect_none,
	.thinking_end = collect_thinking_end,
	.tool_start = collect_tool_start,
	.tool_input = collect_tool_input,
	.tool_end = collect_tool_end,
	.finish = collect_finish,
	.error = collect_error,
	.ping = NULL,
	.reset = collect_reset,
	.web_search = NULL,
};

/*
 * One non-streamed Kiro call, through the pool like any request, that
 * summarises transcript: *summary (caller frees) or an error with a
 * cause.  Its attempts and credits are added to extra.
 */
static enum kf_err
summary_call(struct relay_env *env, const struct conv *conv,
    const char *transcript, char **summary, struct relay_result *extra,
    char **cause)
{
	struct conv		 sc;
	struct conv_msg		*m;
	struct collect		 col;
	struct sink		 sink;
	struct relay_result	 res;
	enum kf_err		 er;

	conv_init(&sc);
	sc.system = xstrdup(overflow_summary_prompt);
	sc.model = conv->model != NULL ? xstrdup(conv->model) : NULL;
	sc.kiro_model = conv->kiro_model;
	/*
	 * No session key: the call is a conversation of its own (its own
	 * conversationId), not a turn of the client's.
	 */
	sc.max_tokens = 1024;
	m = conv_add_msg(&sc, CONV_ROLE_USER);
	conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xasprintf(
	    "Summarise this conversation:\n\n%s", transcript);
	memset(&col, 0, sizeof(col));
	memset(&sink, 0, sizeof(sink));
	sink.ops = &collect_ops;
	sink.arg = &col;
	memset(&res, 0, sizeof(res));
	er = relay_serve(env, &sc, &sink, NULL, 0, &res, cause);
	extra->attempts += res.attempts;
	extra->credits += res.credits;
	extra->metered |= res.metered;
	if (er == KF_OK && (!col.finished || col.text.len == 0)) {
		er = KF_EUPSTREAM;
		xsetprintf(cause, "the model answered no summary");
	}
	if (er == KF_OK)
		*summary = buf_detach(&col.text);
	buf_free(&col.text);
	conv_free(&sc);
	return er;
}

/*
 * summarize (overflow.h): the session's stored summary when its turns
 * are still the oldest ones and what follows fits; else the oldest
 * turns (after that summary's, which it then covers too) are cut to
 * leave room, summarised by one model call and stored.  A failed call
 * leaves the truncated conversation, and says so in rep.
 */
static enum kf_err
summarize(struct relay_env *env, struct conv *conv, long window, long budget,
    const struct history_opts *hopts, struct overflow_report *rep,
    struct relay_result *extra, char **cause)
{
	struct conv	 old;
	char		 hex[SHA256_HEX_LEN + 1], anchor[SHA256_HEX_LEN + 1];
	char		*summary = NULL, *previous = NULL, *transcript = NULL;
	char		*why = NULL;
	size_t		 n_prev = 0, dropped = 0, from, max_bytes;
	long		 target, estimate = 0, now = (long)clock_now();
	enum kf_err	 er = KF_OK;

	conv_init(&old);
	/* The session, named before any message moves. */
	if (overflow_anchor(conv, anchor) == -1)
		anchor[0] = '\0';
	if (anchor[0] != '\0' && overflow_cache_find(env->store, anchor, now,
	    &n_prev, hex, &previous) == KF_OK && overflow_take_prefix(conv,
	    n_prev, hex, &old)) {
		if (tokens_count_conv(conv) + OVERFLOW_SUMMARY_RESERVE <=
		    budget) {
			summary = previous;
			previous = NULL;
			rep->cached = 1;
			goto insert;
		}
	} else {
		free(previous);
		previous = NULL;
	}
	target = budget / 100 * OVERFLOW_SUMMARY_TARGET_PCT -
	    OVERFLOW_SUMMARY_RESERVE;
	if (target < budget / 4)
		target = budget / 4;
	from = old.n_msgs;
	er = overflow_split(conv, target, &old, &dropped, &estimate, cause);
	if (er == KF_ECONTEXT && estimate + OVERFLOW_SUMMARY_RESERVE <= budget)
		er = KF_OK;	/* not the room hoped for, but it fits */
	if (er != KF_OK || old.n_msgs == 0) {
		if (er == KF_OK) {
			er = KF_ECONTEXT;
			xsetprintf(cause, "%s", "Context window is full: "
			    "nothing old enough to summarise. Reduce the "
			    "system prompt, the tools or the last message.");
		}
		goto out;
	}
	overflow_digest(&old, old.n_msgs, hex);
	max_bytes = (size_t)window * 2 < 400000 ? (size_t)window * 2 : 400000;
	transcript = overflow_transcript(&old, from, previous, max_bytes);
	if (summary_call(env, conv, transcript, &summary, extra, &why) !=
	    KF_OK) {
		log_warnx("context: the summary call failed (%s): the %zu "
		    "oldest messages are dropped instead", why, old.n_msgs);
		rep->fell_back = 1;
		rep->dropped += old.n_msgs;
		goto repair;
	}
	if (anchor[0] != '\0' && overflow_cache_put(env->store, anchor,
	    old.n_msgs, hex, summary, now, &why) != KF_OK)
		log_warnx("context: the summary is not stored: %s", why);
insert:
	overflow_insert_summary(conv, summary, old.n_msgs);
	rep->turns = old.n_msgs;
repair:
	er = history_repair(conv, hopts, cause);
out:
	free(why);
	free(summary);
	free(previous);
	free(transcript);
	conv_free(&old);
	return er;
}

/*
 * The conversation against the model's input window (overflow.h), before
 * any upstream call.  budget 0: the window's own (overflow_budget), and
 * nothing happens to a conv within it; else Kiro refused the conv and
 * the strategy (mode) must bring it under budget.  rep says what was
 * done; a summary call's attempts and credits go to extra.  *known: the
 * estimate of the conv as it is left, when it was not cut (else 0), so
 * that the request counts it once.
 */
static enum kf_err
fit_window(struct relay_env *env, struct conv *conv, enum overflow_mode mode,
    long budget, struct overflow_report *rep, struct relay_result *extra,
    long *known, char **cause)
{
	struct history_opts	 hopts;
	const struct model_info	*model;
	enum kf_err		 er;
	size_t			 dropped = 0;
	long			 estimate, after = 0;

	*known = 0;
	if ((model = models_find(conv->kiro_model)) == NULL)
		return KF_OK;	/* relay_serve says so */
	/*
	 * Counted once, as relay_serve will send it: repaired first (what
	 * relay_serve's repair then finds to do is nothing).
	 */
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = (size_t)env->cfg->history.max_image_msgs;
	if ((er = history_repair(conv, &hopts, cause)) != KF_OK)
		return er;
	estimate = tokens_count_conv(conv);
	rep->window = model->context_window;
	if (budget == 0) {
		if (!overflow_exceeds(estimate, model->context_window)) {
			*known = estimate;
			return KF_OK;
		}
		budget = overflow_budget(model->context_window);
	}
	if (mode == OVERFLOW_ERROR) {
		free(*cause);
		*cause = overflow_cause(estimate, model->context_window);
		log_info("context: about %ld tokens for a window of %ld "
		    "(history.onOverflow error): refused before any upstream "
		    "call", estimate, model->context_window);
		return KF_ECONTEXT;
	}
	if (rep->before == 0)
		rep->before = estimate;
	if (mode == OVERFLOW_SUMMARIZE) {
		rep->mode = mode;
		rep->applied = 1;
		er = summarize(env, conv, model->context_window, budget,
		    &hopts, rep, extra, cause);
		rep->after = tokens_count_conv(conv);
		if (er == KF_OK && !rep->fell_back)
			log_info("context: about %ld tokens for a window of "
			    "%ld (budget %ld): summarized the oldest %zu "
			    "messages (%s), about %ld tokens left", estimate,
			    model->context_window, budget, rep->turns,
			    rep->cached ? "stored summary" : "one model call",
			    rep->after);
		if (er != KF_OK || !rep->fell_back)
			return er;
		/* Truncated instead: the log line below says so. */
		dropped = rep->dropped;
		after = rep->after;
	} else {
		after = estimate;
		er = overflow_truncate(conv, budget, &dropped, &after, cause);
		if (rep->mode != OVERFLOW_SUMMARIZE)
			rep->mode = mode;
		rep->applied = 1;
		rep->after = after;
		rep->dropped += dropped;
	}
	if (er != KF_OK) {
		log_info("context: about %ld tokens for a window of %ld: "
		    "cannot fit even when truncated (%s)", estimate,
		    model->context_window, *cause);
		return er;
	}
	log_info("context: about %ld tokens for a window of %ld (budget "
	    "%ld): truncated, dropped the oldest %zu messages, about %ld "
	    "tokens left", estimate, model->context_window, budget, dropped,
	    after);
	return KF_OK;
}

/*
 * The conversation is made to fit the model's window first (fit_window);
 * if Kiro still finds it too long before the client has anything, the
 * oldest turns are dropped to a quarter less (truncate, even for
 * summarize: one summary call per request at most) and the request is
 * retried, once: the estimate erred, and a second refusal is the
 * client's answer.
 */
enum kf_err
relay_run(struct relay_env *env, struct conv *conv, struct sink *sink,
    struct relay_result *res, char **cause)
{
	struct overflow_report	 rep;
	struct relay_result	 extra;
	enum overflow_mode	 mode = env->cfg->history.on_overflow;
	char			 note[96];
	long			 estimate, known;
	enum kf_err		 er;

	memset(&rep, 0, sizeof(rep));
	memset(&extra, 0, sizeof(extra));
	memset(res, 0, sizeof(*res));
	er = fit_window(env, conv, mode, 0, &rep, &extra, &known, cause);
	if (er == KF_OK) {
		overflow_describe(&rep, note, sizeof(note));
		er = serve_constrained(env, conv, sink, note[0] != '\0' ?
		    note : NULL, known, res, cause);
	}
	if (er == KF_ECONTEXT && res->context_refused && !sink->committed &&
	    mode != OVERFLOW_ERROR) {
		extra.attempts += res->attempts;
		extra.credits += res->credits;
		extra.metered |= res->metered;
		estimate = tokens_count_conv(conv);
		log_info("context: Kiro refused about %ld tokens as too long "
		    "(%s): dropping the oldest turns to %d%% of that, then "
		    "one retry", estimate, *cause, OVERFLOW_RETRY_PCT);
		free(*cause);
		*cause = NULL;
		er = fit_window(env, conv, OVERFLOW_TRUNCATE,
		    estimate / 100 * OVERFLOW_RETRY_PCT, &rep, &extra, &known,
		    cause);
		if (er == KF_OK) {
			overflow_describe(&rep, note, sizeof(note));
			er = serve_constrained(env, conv, sink, note, known, res,
			    cause);
		}
	}
	res->attempts += extra.attempts;
	res->credits += extra.credits;
	res->metered |= extra.metered;
	return er;
}
