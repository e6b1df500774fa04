/* toolcont.c: tool calls cut off mid-input are held, continued and spliced. */
#include "autoconfig.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "clock.h"
#include "json.h"
#include "log.h"
#include "toolcont.h"
#include "xmalloc.h"

/* ------------------------------------------------------------ the scanner */

void
toolcont_scan_init(struct toolcont_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->state = TOOLCONT_SCAN_MORE;
}

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* Inside a string: 1 to go on, 0 when the byte makes it invalid. */
static int
scan_string_byte(struct toolcont_scan *sc, unsigned char c)
{
	static const char	escapes[] = "\"\\/bfnrtu";

	if (sc->hex_left > 0) {
		sc->hex_left--;
		return is_hex(c);
	}
	if (sc->escape) {
		sc->escape = 0;
		if (c == '\0' || memchr(escapes, c, sizeof(escapes) - 1) ==
		    NULL)
			return 0;
		if (c == 'u')
			sc->hex_left = 4;
		return 1;
	}
	if (c == '\\')
		sc->escape = 1;
	else if (c == '"')
		sc->in_string = 0;
	else if (c < 0x20)
		return 0;	/* a raw control byte is never valid JSON */
	return 1;
}

/* Outside strings; the top-level '{' has been seen. */
static int
scan_structure_byte(struct toolcont_scan *sc, unsigned char c)
{
	unsigned char	open;

	switch (c) {
	case '"':
		sc->in_string = 1;
		return 1;
	case '{':
	case '[':
		if (sc->depth >= TOOLCONT_MAX_DEPTH)
			return 0;
		sc->stack[sc->depth++] = c;
		return 1;
	case '}':
	case ']':
		open = c == '}' ? '{' : '[';
		if (sc->depth == 0 || sc->stack[sc->depth - 1] != open)
			return 0;
		sc->depth--;
		return 1;
	case ',':
	case ':':
	case '-':
	case '+':
	case '.':
		return 1;
	default:
		/* Numbers and literals: their spelling is the parser's job. */
		return is_ws(c) || (c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
	}
}

enum toolcont_scan_state
toolcont_scan_feed(struct toolcont_scan *sc, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i;
	int			 ok;

	for (i = 0; i < len && sc->state == TOOLCONT_SCAN_MORE; i++) {
		if (sc->in_string)
			ok = scan_string_byte(sc, p[i]);
		else if (!sc->begun) {
			ok = is_ws(p[i]) || p[i] == '{';
			if (p[i] == '{') {
				sc->begun = 1;
				sc->stack[sc->depth++] = '{';
			}
		} else {
			ok = scan_structure_byte(sc, p[i]);
			if (ok && sc->depth == 0) {
				sc->state = TOOLCONT_SCAN_DONE;
				sc->end = sc->fed + i + 1;
			}
		}
		if (!ok)
			sc->state = TOOLCONT_SCAN_BAD;
	}
	sc->fed += i;
	return sc->state;
}

/* ------------------------------------------------------------ the sink */

/* One tool call of the current answer, held until its input is whole. */
struct held {
	size_t			 relay_index;
	char			*id;
	char			*name;
	struct buf		 input;
	size_t			*frag_ends;	/* where each fragment ended */
	size_t			 n_frags;
	size_t			 cap_frags;
	struct toolcont_scan	 scan;
	int			 ended;		/* the relay's tool_end came */
	int			 gone;		/* released or dropped */
};

struct toolcont {
	struct sink		*inner;
	struct sink		 outer;
	int64_t			 ping_ms;
	int64_t			 last_out;
	int			 may_continue;	/* held input commits */
	int			 started;	/* the inner sink has its start */
	size_t			 n_out;		/* calls it has had */
	/* The current answer's calls. */
	struct held		*calls;
	size_t			 n_calls;
	/* The call being continued, once an answer left it incomplete. */
	struct held		 cut;
	int			 have_cut;
	int			 continuing;	/* this answer continues cut */
	/* A continuation that calls the same tool again: its own input. */
	struct held		 recall;
	int			 have_recall;
	/* A continuation's text on its own, should it start over with '{'. */
	struct held		 restart;
	int			 pending;	/* an answer ended with cut open */
	int			 broke;		/* ... by an error */
	enum kf_err		 err;
	char			*err_msg;
	/* A continuation's first bytes, until a code fence is ruled out. */
	struct buf		 lead;
	int			 lead_done;
	struct sink_usage	 usage;
	int			 have_usage;
	enum sink_stop		 stop;
	int			 finished;
};

static void
held_clear(struct held *h)
{
	free(h->id);
	free(h->name);
	buf_free(&h->input);
	free(h->frag_ends);
	memset(h, 0, sizeof(*h));
}

static void
calls_clear(struct toolcont *tc)
{
	size_t	i;

	for (i = 0; i < tc->n_calls; i++)
		held_clear(&tc->calls[i]);
	free(tc->calls);
	tc->calls = NULL;
	tc->n_calls = 0;
}

/* Held input the relay would otherwise retry from scratch. */
static int
holding_input(const struct toolcont *tc)
{
	size_t	i;

	if (!tc->may_continue)
		return 0;
	if (tc->have_cut)
		return 1;
	for (i = 0; i < tc->n_calls; i++)
		if (!tc->calls[i].gone && tc->calls[i].input.len > 0)
			return 1;
	return 0;
}

static int
sync_rc(struct toolcont *tc, int rc)
{
	tc->outer.committed = tc->inner->committed || holding_input(tc);
	return rc;
}

static int
sent(struct toolcont *tc, int rc)
{
	tc->last_out = clock_mono_ms();
	return sync_rc(tc, rc);
}

/* While input is held, keep-alives still reach a streaming client. */
static int
maybe_ping(struct toolcont *tc)
{
	if (tc->inner->ops->ping == NULL || !tc->inner->streams ||
	    !tc->started || clock_mono_ms() - tc->last_out < tc->ping_ms)
		return sync_rc(tc, 0);
	return sent(tc, tc->inner->ops->ping(tc->inner->arg));
}

static struct held *
find_call(struct toolcont *tc, size_t relay_index)
{
	size_t	i;

	for (i = 0; i < tc->n_calls; i++)
		if (tc->calls[i].relay_index == relay_index &&
		    !tc->calls[i].gone)
			return &tc->calls[i];
	return NULL;
}

/*
 * Appends a fragment of input, remembering where it ends so the call goes
 * out in the fragments Kiro sent (past TOOLCONT_MAX_FRAGMENTS the last
 * one grows).  0 when the input would grow past TOOLCONT_MAX_INPUT.
 */
static int
add_input(struct held *h, const char *s, size_t len)
{
	if (len == 0 || h->scan.state != TOOLCONT_SCAN_MORE)
		return 1;
	if (h->input.len + len > TOOLCONT_MAX_INPUT) {
		h->scan.state = TOOLCONT_SCAN_BAD;
		return 0;
	}
	buf_append(&h->input, s, len);
	(void)toolcont_scan_feed(&h->scan, s, len);
	if (h->n_frags < TOOLCONT_MAX_FRAGMENTS) {
		if (h->n_frags == h->cap_frags) {
			/* Doubling: appending stays linear in the fragments. */
			h->cap_frags = h->cap_frags == 0 ? 16 : h->cap_frags * 2;
			h->frag_ends = xreallocarray(h->frag_ends, h->cap_frags,
			    sizeof(*h->frag_ends));
		}
		h->n_frags++;
	}
	h->frag_ends[h->n_frags - 1] = h->input.len;
	return 1;
}

/* The input's fragments up to the object's end, as tool_input calls. */
static int
send_fragments(struct toolcont *tc, const struct held *h, size_t index)
{
	size_t	i, from = 0, to;
	int	rc;

	for (i = 0; i < h->n_frags && from < h->scan.end; i++) {
		to = h->frag_ends[i] < h->scan.end ? h->frag_ends[i] :
		    h->scan.end;
		if (to > from && (rc = tc->inner->ops->tool_input(
		    tc->inner->arg, index, h->input.ptr + from, to - from)) != 0)
			return rc;
		from = to;
	}
	return 0;
}

/*
 * Sends a whole call to the inner sink: its input as one fragment and the
 * parsed object.  An input that is complete but no object (a model's
 * mistake, not a cut) becomes {}, as the relay always did.
 */
static int
release(struct toolcont *tc, struct held *h)
{
	json_object	*v = NULL;
	size_t		 index;
	char		*text = NULL;
	int		 rc;

	h->gone = 1;
	if (h->scan.state == TOOLCONT_SCAN_DONE &&
	    json_parse(h->input.ptr, h->scan.end, TOOLCONT_MAX_DEPTH, &v,
	    NULL) == KF_OK && json_object_is_type(v, json_type_object))
		text = json_to_str(v);
	else if (h->input.len > 0)
		log_warnx("tool call %s: input is not a JSON object; using {}",
		    h->id);
	json_object_put(v);
	index = tc->n_out++;
	rc = tc->inner->ops->tool_start(tc->inner->arg, index, h->id,
	    h->name);
	if (rc == 0)
		rc = text != NULL ? send_fragments(tc, h, index) :
		    tc->inner->ops->tool_input(tc->inner->arg, index, "{}", 2);
	if (rc == 0)
		rc = tc->inner->ops->tool_end(tc->inner->arg, index,
		    text != NULL ? text : "{}");
	free(text);
	return sent(tc, rc);
}

/* Appends continuation text to the cut call's input. */
static void
splice(struct toolcont *tc, const char *s, size_t len)
{
	(void)add_input(&tc->cut, s, len);
	/* Its scanner gives up at once unless the text opens an object. */
	(void)add_input(&tc->restart, s, len);
}

/*
 * A model asked to continue may open with a code fence ("```json\n"),
 * which can never continue JSON (a raw newline is invalid in a string and
 * a backquote outside one): drop it.  Bytes are held only until the fence
 * is ruled out or its line is over.
 */
static void
splice_lead(struct toolcont *tc, const char *s, size_t len, int flush)
{
	const char	*nl;
	size_t		 skip = 0;

	if (tc->lead_done) {
		splice(tc, s, len);
		return;
	}
	buf_append(&tc->lead, s, len);
	if (tc->lead.len < 3 && !flush)
		return;
	if (tc->lead.len >= 3 && memcmp(tc->lead.ptr, "```", 3) == 0) {
		nl = memchr(tc->lead.ptr, '\n', tc->lead.len);
		if (nl == NULL && !flush && tc->lead.len < 64)
			return;
		if (nl != NULL)
			skip = (size_t)(nl - tc->lead.ptr) + 1;
	}
	tc->lead_done = 1;
	splice(tc, tc->lead.ptr + skip, tc->lead.len - skip);
	buf_reset(&tc->lead);
}

/*
 * The answer is over with a call still incomplete: keep the first such
 * call for a continuation (later ones cannot be continued in the same
 * turn and are dropped).
 */
static void
keep_cut(struct toolcont *tc)
{
	size_t	i;

	for (i = 0; i < tc->n_calls; i++) {
		if (tc->calls[i].gone)
			continue;
		if (!tc->have_cut) {
			tc->cut = tc->calls[i];
			memset(&tc->calls[i], 0, sizeof(tc->calls[i]));
			tc->have_cut = 1;
		} else
			log_warnx("tool call %s (%s) cut off too: dropped",
			    tc->calls[i].id, tc->calls[i].name);
	}
	calls_clear(tc);
	if (tc->have_cut)
		tc->pending = 1;
}

static int
t_start(void *arg, const struct sink_start *st)
{
	struct toolcont	*tc = arg;

	if (tc->started)
		return 0;	/* a continuation's start: already sent */
	tc->started = 1;
	return sent(tc, tc->inner->ops->start(tc->inner->arg, st));
}

static int
t_text(void *arg, const char *s, size_t len)
{
	struct toolcont	*tc = arg;

	if (tc->continuing) {
		splice_lead(tc, s, len, 0);
		return maybe_ping(tc);
	}
	return sent(tc, tc->inner->ops->text(tc->inner->arg, s, len));
}

static int
t_thinking(void *arg, const char *s, size_t len)
{
	struct toolcont	*tc = arg;

	if (tc->continuing)
		return maybe_ping(tc);
	return sent(tc, tc->inner->ops->thinking(tc->inner->arg, s, len));
}

static int
t_thinking_end(void *arg, const char *signature)
{
	struct toolcont	*tc = arg;

	if (tc->continuing)
		return 0;
	return sent(tc, tc->inner->ops->thinking_end(tc->inner->arg,
	    signature));
}

static int
t_tool_start(void *arg, size_t index, const char *id, const char *name)
{
	struct toolcont	*tc = arg;
	struct held	*h;

	if (tc->continuing) {
		if (tc->have_recall || strcmp(name != NULL ? name : "",
		    tc->cut.name) != 0) {
			log_info("continuation answer: ignoring its call to %s",
			    name);
			return 0;
		}
		h = &tc->recall;
		tc->have_recall = 1;
		h->relay_index = index;
		h->id = xstrdup(id != NULL ? id : "");
		h->name = xstrdup(tc->cut.name);
		toolcont_scan_init(&h->scan);
		return maybe_ping(tc);
	}
	tc->calls = xreallocarray(tc->calls, tc->n_calls + 1,
	    sizeof(*tc->calls));
	h = &tc->calls[tc->n_calls++];
	memset(h, 0, sizeof(*h));
	h->relay_index = index;
	h->id = xstrdup(id != NULL ? id : "");
	h->name = xstrdup(name != NULL ? name : "");
	toolcont_scan_init(&h->scan);
	return maybe_ping(tc);
}

static int
t_tool_input(void *arg, size_t index, const char *s, size_t len)
{
	struct toolcont	*tc = arg;
	struct held	*h;

	if (tc->continuing && tc->have_recall &&
	    tc->recall.relay_index == index)
		h = &tc->recall;
	else if (tc->continuing || (h = find_call(tc, index)) == NULL)
		return 0;
	(void)add_input(h, s, len);
	return maybe_ping(tc);
}

static int
t_tool_end(void *arg, size_t index, const char *input)
{
	struct toolcont	*tc = arg;
	struct held	*h;

	(void)input;	/* our own copy decides: the relay's may be "{}" */
	if (tc->continuing || (h = find_call(tc, index)) == NULL)
		return 0;
	h->ended = 1;
	/* No input at all is a call without arguments: {} (as before). */
	if (h->scan.state == TOOLCONT_SCAN_MORE && h->input.len > 0)
		return sync_rc(tc, 0);	/* cut: held for a continuation */
	return release(tc, h);
}

static void
add_usage(struct toolcont *tc, const struct sink_usage *u)
{
	if (!tc->have_usage) {
		tc->usage = *u;
		tc->have_usage = 1;
	} else
		tc->usage.output_tokens += u->output_tokens;
}

static int
finish_inner(struct toolcont *tc, enum sink_stop stop)
{
	struct sink_usage	u = tc->usage;

	tc->stop = stop;
	tc->finished = 1;
	tc->pending = 0;
	if (stop != SINK_STOP_STOP_SEQUENCE)
		u.stop_sequence = NULL;
	return sent(tc, tc->inner->ops->finish(tc->inner->arg, stop, &u));
}

/* 1 when h's input is one whole JSON object (what release will send). */
static int
held_whole(const struct held *h)
{
	json_object	*v = NULL;
	int		 whole;

	if (h->scan.state != TOOLCONT_SCAN_DONE)
		return 0;
	whole = json_parse(h->input.ptr, h->scan.end, TOOLCONT_MAX_DEPTH, &v,
	    NULL) == KF_OK && json_object_is_type(v, json_type_object);
	json_object_put(v);
	return whole;
}

/* The cut call takes other's input (and fragments), keeping its id. */
static void
take_input(struct toolcont *tc, struct held *other)
{
	free(other->id);
	free(other->name);
	other->id = tc->cut.id;
	other->name = tc->cut.name;
	tc->cut.id = tc->cut.name = NULL;
	held_clear(&tc->cut);
	tc->cut = *other;
	memset(other, 0, sizeof(*other));
}

/*
 * After a continuation: 1 when the cut call is whole, from the spliced
 * text or, failing that, from what a model may do instead of continuing:
 * start the object over in its text, or call the same tool again.  A
 * spliced input that scans whole but does not parse (a model that
 * repeated itself) is never sent.
 */
static int
cut_complete(struct toolcont *tc)
{
	if (held_whole(&tc->cut))
		return 1;
	if (held_whole(&tc->restart)) {
		take_input(tc, &tc->restart);
		return 1;
	}
	if (tc->have_recall && held_whole(&tc->recall)) {
		take_input(tc, &tc->recall);
		tc->have_recall = 0;
		return 1;
	}
	return 0;
}

/* Sends the completed cut call and ends the answer with it. */
static int
release_cut(struct toolcont *tc)
{
	int	rc;

	tc->continuing = 0;
	rc = release(tc, &tc->cut);
	held_clear(&tc->cut);
	tc->have_cut = 0;
	held_clear(&tc->recall);
	tc->have_recall = 0;
	held_clear(&tc->restart);
	if (rc != 0)
		return rc;
	return finish_inner(tc, SINK_STOP_TOOL_USE);
}

static int
t_finish(void *arg, enum sink_stop stop, const struct sink_usage *usage)
{
	struct toolcont	*tc = arg;

	add_usage(tc, usage);
	if (tc->continuing) {
		splice_lead(tc, "", 0, 1);
		if (!cut_complete(tc)) {
			tc->pending = 1;
			tc->broke = 0;
			return sync_rc(tc, 0);
		}
		return release_cut(tc);
	}
	keep_cut(tc);
	if (tc->have_cut) {
		tc->broke = 0;
		return sync_rc(tc, 0);
	}
	return finish_inner(tc, stop);
}

static int
t_error(void *arg, enum kf_err er, const char *message)
{
	struct toolcont	*tc = arg;

	if (er != KF_ECLIENTGONE) {
		if (!tc->continuing)
			keep_cut(tc);
		else
			splice_lead(tc, "", 0, 1);
	}
	if (er == KF_ECLIENTGONE || !tc->have_cut) {
		tc->finished = 1;
		return sent(tc, tc->inner->ops->error(tc->inner->arg, er,
		    message));
	}
	/* What came before the break may already complete the call. */
	if (tc->continuing && cut_complete(tc))
		return release_cut(tc);
	tc->pending = 1;
	tc->broke = 1;
	tc->err = er;
	free(tc->err_msg);
	tc->err_msg = xstrdup(message != NULL ? message : kf_strerror(er));
	return sync_rc(tc, 0);
}

static int
t_ping(void *arg)
{
	struct toolcont	*tc = arg;

	if (tc->inner->ops->ping == NULL)
		return 0;
	return sent(tc, tc->inner->ops->ping(tc->inner->arg));
}

/* The relay retries from scratch: only while nothing is held with input. */
static void
t_reset(void *arg)
{
	struct toolcont	*tc = arg;

	calls_clear(tc);
	if (tc->started && tc->inner->ops->reset != NULL)
		tc->inner->ops->reset(tc->inner->arg);
	tc->started = 0;
	tc->n_out = 0;
	tc->have_usage = 0;
	tc->outer.committed = tc->inner->committed;
}

/* A search the gateway ran holds no tool input: it passes straight on. */
static int
t_web_search(void *arg, const char *id, const struct websearch *ws)
{
	struct toolcont	*tc = arg;

	if (tc->inner->ops->web_search == NULL)
		return 0;
	return sent(tc, tc->inner->ops->web_search(tc->inner->arg, id, ws));
}

static const struct sink_ops toolcont_ops = {
	t_start, t_text, t_thinking, t_thinking_end, t_tool_start,
	t_tool_input, t_tool_end, t_finish, t_error, t_ping, t_reset,
	t_web_search,
};

/* For an inner sink that cannot forget: neither can we. */
static const struct sink_ops toolcont_ops_noreset = {
	t_start, t_text, t_thinking, t_thinking_end, t_tool_start,
	t_tool_input, t_tool_end, t_finish, t_error, t_ping, NULL,
	t_web_search,
};

struct toolcont *
toolcont_new(struct sink *inner, int64_t ping_interval_ms, int may_continue)
{
	struct toolcont	*tc;

	tc = xcalloc(1, sizeof(*tc));
	tc->inner = inner;
	tc->may_continue = may_continue;
	tc->ping_ms = ping_interval_ms > 0 ? ping_interval_ms : 25000;
	tc->last_out = clock_mono_ms();
	tc->outer = *inner;
	tc->outer.ops = inner->ops->reset != NULL ? &toolcont_ops :
	    &toolcont_ops_noreset;
	tc->outer.arg = tc;
	return tc;
}

void
toolcont_free(struct toolcont *tc)
{
	if (tc == NULL)
		return;
	calls_clear(tc);
	held_clear(&tc->cut);
	held_clear(&tc->recall);
	held_clear(&tc->restart);
	buf_free(&tc->lead);
	free(tc->err_msg);
	free(tc);
}

struct sink *
toolcont_sink(struct toolcont *tc)
{
	return &tc->outer;
}

int
toolcont_pending(const struct toolcont *tc)
{
	return tc->pending && !tc->finished;
}

const char *
toolcont_cut_name(const struct toolcont *tc)
{
	return tc->have_cut ? tc->cut.name : "";
}

size_t
toolcont_cut_bytes(const struct toolcont *tc)
{
	return tc->have_cut ? tc->cut.input.len : 0;
}

int
toolcont_cut_broke(const struct toolcont *tc)
{
	return tc->broke;
}

size_t
toolcont_add_turns(struct toolcont *tc, struct conv *conv)
{
	struct conv_msg		*m;
	struct conv_block	*b;
	size_t			 base = conv->n_msgs;

	m = conv_add_msg(conv, CONV_ROLE_ASSISTANT);
	b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
	b->text = xstrndup(tc->cut.input.ptr != NULL ? tc->cut.input.ptr : "",
	    tc->cut.input.len);
	m = conv_add_msg(conv, CONV_ROLE_USER);
	b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
	b->text = xasprintf("Your previous answer was cut off in the middle "
	    "of the JSON input of a call to the tool \"%s\"; that input, as "
	    "far as it got, is your last message. Continue it from exactly "
	    "where it stopped: answer with only the remaining characters of "
	    "the JSON input, starting with the very next character, without "
	    "repeating anything, without a code fence and without any other "
	    "text.", tc->cut.name);
	/* Pending until its answer says otherwise (it may never come). */
	tc->continuing = 1;
	held_clear(&tc->recall);
	tc->have_recall = 0;
	held_clear(&tc->restart);
	toolcont_scan_init(&tc->restart.scan);
	tc->lead_done = 0;
	buf_reset(&tc->lead);
	return base;
}

void
toolcont_remove_turns(struct conv *conv, size_t base)
{
	while (conv->n_msgs > base)
		conv_remove_msg(conv, conv->n_msgs - 1);
}

void
toolcont_failed(struct toolcont *tc, enum kf_err er, const char *message)
{
	if (!toolcont_pending(tc) || er == KF_OK)
		return;
	tc->broke = 1;
	tc->err = er;
	free(tc->err_msg);
	tc->err_msg = xstrdup(message != NULL ? message : kf_strerror(er));
}

enum kf_err
toolcont_give_up(struct toolcont *tc, char **cause)
{
	enum kf_err	er = tc->err;

	log_info("tool call %s (%s) could not be completed (%zu bytes of "
	    "input): not sent", tc->cut.id, tc->cut.name, tc->cut.input.len);
	tc->continuing = 0;
	held_clear(&tc->cut);
	tc->have_cut = 0;
	held_clear(&tc->recall);
	tc->have_recall = 0;
	held_clear(&tc->restart);
	if (!tc->broke) {
		(void)finish_inner(tc, SINK_STOP_MAX_TOKENS);
		return KF_OK;
	}
	xsetprintf(cause, "%s", tc->err_msg);
	tc->finished = 1;
	tc->pending = 0;
	if (tc->inner->committed)
		(void)sent(tc, tc->inner->ops->error(tc->inner->arg, er,
		    tc->err_msg));
	sync_rc(tc, 0);
	return er;
}

enum sink_stop
toolcont_stop(const struct toolcont *tc)
{
	return tc->stop;
}

int
toolcont_finished(const struct toolcont *tc)
{
	return tc->finished;
}
