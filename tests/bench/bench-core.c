/* bench-core.c: micro-benchmarks of the decoder, the request builder and the store, as JSON. */

/*
 * Measures, in this process, with no web server or network:
 *   decoder   a realistic Kiro event stream (~8 MiB: short text frames as
 *             Kiro streams them, tool-call fragments, metering and context
 *             usage) fed to es_decoder_feed in 4 KiB slices, each frame
 *             parsed with kiro_event_parse: MB/s and frames/s; the decoder
 *             alone as well, for the split.
 *   builder   a Claude Code-sized request: the captured first request of
 *             Claude Code (tests/fixtures/claude-code-first-request.json:
 *             25 tools with nested schemas, system blocks, ~85 KB) plus
 *             several turns of tool calls and tool results, run through
 *             anthropic_parse, history_repair and kiro_req_build as the
 *             responder does: MB/s of input, requests/s, time per phase.
 *   frontends the builder's conversation translated into the OpenAI Chat
 *             Completions, OpenAI Responses and Gemini protocols (checked
 *             to parse and repair into the same messages and tools and to
 *             make the same Kiro body as the Anthropic request), then
 *             per front end: parse + history_repair + kiro_req_build (µs
 *             per request, MB/s of its own input, time per phase), and its
 *             streaming emitter fed one answer (a thinking block, 200 text
 *             deltas, two tool calls in fragments, finish) into memory: µs
 *             per answer and MB/s of output (JSON keys request_conversion
 *             and answer_emission, per front end).  The front ends take
 *             turns in each round.  -d DIR writes the translated requests,
 *             their Kiro bodies and the answers there, to look at.
 *   store     the store work one request does (pool_pick, the token check,
 *             pool_report, which only tallies a plain success) against a
 *             fresh state
 *             directory under each -s DIR: µs per transaction, mean, p50
 *             and p99.
 *   pairs     50k tool_use/tool_result pairs, in two shapes: alternating
 *             turns (an assistant turn with one use, a user turn with its
 *             result) and one turn of 50k parallel uses answered by one
 *             user turn of 50k results, each plus a last user text, built
 *             as a conv and run through what the responder does before the
 *             upstream call (conv_check_limits, then history_repair and
 *             kiro_req_build): ms per request, and whether the caps
 *             refused it; and the largest alternating conv the caps let
 *             through (at_caps).
 *   trim      a 5000-turn session (as many as the caps let through, each
 *             a tool round trip with a 2 KB file, ~16 MB as a Kiro body)
 *             trimmed to history.maxPayloadBytes 600,000 as the relay
 *             does (history_repair, history_build_within): ms, builds,
 *             turns dropped, the body's size.
 *   overflow  history.onOverflow on a 500-turn session of the same kind
 *             (~1.4 MB of text, ~360k tokens estimated): truncate to a
 *             200k-token window's budget (overflow_truncate after
 *             history_repair), and summarize's lookup of a stored summary
 *             (overflow_cache_find in a fresh store under the first -s
 *             DIR, overflow_take_prefix): ms each (goal: under 2).
 *             -p runs only the pairs, trim and overflow rows (no fixture
 *             needed).
 *   preflight the pre-flight check of the Kiro body (shared/preflight.h)
 *             against request conversion (parse, history_repair,
 *             kiro_req_build), on the builder's request and on a long
 *             Claude Code session (400 tool turns): µs each and the ratio
 *             (goal: under 10%).
 *   estimate  the token estimate (tokens_count_conv, shared/tokens.h) on
 *             the repaired conv, against the same request conversion, on
 *             the same two requests: µs each and the ratio (goal: under
 *             10%).
 *   metrics   prom_record, what the responder adds to each request for the
 *             Prometheus counters (shared/metrics.h): µs per request alone,
 *             with two processes recording into the same series at once,
 *             and request conversion of the builder's request with and
 *             without it, interleaved (the ratio); and GET /metrics
 *             (prom_page) with METRICS_PAGE_ACCOUNTS accounts, each with
 *             cached usage and request series on the four APIs: ms per
 *             scrape and bytes.
 *   clientkeys what a request with a client key adds (shared/clientkeys.h):
 *             clientkeys_authorise (hash lookup, limits, count: one
 *             unsynced write transaction) with no rpm and with a full
 *             window (a request every 61 ms: 60 seconds of counts), and
 *             clientkeys_add_tokens after the answer: µs each.  A request
 *             with apiKey does none of it.
 *   modelmap  what the admin API's modelMap adds to a request
 *             (shared/modelmap.h) with the largest map (MODELMAP_MAX
 *             globs, none matching): modelmap_sync while nothing changed
 *             (ns), models_resolve through the whole map (µs), and the
 *             reload after a change (modelmap_effective + models_use_map:
 *             one read transaction, µs), which each request would pay
 *             without the shared counter.
 * Each measurement runs for about -t seconds (default 1) after a warm-up
 * and reports the median of its rounds.  Output: one JSON object on stdout.
 *
 * Usage: bench-core -f FIXTURE [-s STATE_PARENT_DIR]... [-t SECONDS] [-n STORE_N]
 *                   [-d DUMP_DIR]
 *        bench-core -p [-t SECONDS]
 */

#include "autoconfig.h"

#include <errno.h>
#include <ftw.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "accounts.h"
#include "anthropic.h"
#include "buf.h"
#include "clientkeys.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "cred.h"
#include "eventstream.h"
#include "fileio.h"
#include "flowlog.h"
#include "gemini.h"
#include "history.h"
#include "json.h"
#include "kiro_event.h"
#include "kiro_req.h"
#include "log.h"
#include "metrics.h"
#include "modelmap.h"
#include "models.h"
#include "openai-chat.h"
#include "openai-responses.h"
#include "out.h"
#include "overflow.h"
#include "pool.h"
#include "preflight.h"
#include "prom.h"
#include "refresh.h"
#include "relay.h"
#include "request.h"
#include "sink.h"
#include "store.h"
#include "tokens.h"
#include "usage.h"
#include "xmalloc.h"

#define STREAM_BYTES	(8u * 1024 * 1024)
#define SLICE		4096
#define MAX_ROUNDS	64
#define MB		1e6

static double	seconds_per_test = 1.0;
static const char *dump_dir;	/* -d: requests, Kiro bodies, answers */

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Sorted v's p-th percentile (nearest rank). */
static double
percentile(const double *v, size_t n, double p)
{
	size_t	i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)n + 0.5);
	if (i >= 1)
		i--;
	return v[i < n ? i : n - 1];
}

static uint32_t	rng_state = 2463534242u;

static uint32_t
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* --- decoder ---------------------------------------------------------------- */

static const char *const	 vocabulary[] = {
	"the", " function", " returns", " a", " value", ".", "\n", " I'll",
	" read", " file", " `src/main.c`", " and", " check", " its", " tests",
	"\n\n```c\n", "int x = 0;", "\n```\n", " \"quoted\"", " — ", " ünïcödé",
	" 日本語", " because", " of", " the", " error", ":", " 42", " lines",
};

static void
text_event(struct buf *stream, struct buf *scratch)
{
	size_t	words = 1 + rng() % 6, i;
	struct buf text = BUF_INIT;

	for (i = 0; i < words; i++)
		buf_puts(&text, vocabulary[rng() % (sizeof(vocabulary) /
		    sizeof(vocabulary[0]))]);
	buf_reset(scratch);
	buf_puts(scratch, "{\"content\":");
	buf_json_str(scratch, text.ptr, text.len);
	buf_putc(scratch, '}');
	es_encode_event(stream, "assistantResponseEvent", scratch->ptr);
	buf_free(&text);
}

static void
tool_events(struct buf *stream, struct buf *scratch, unsigned n)
{
	static const char *const fragments[] = {
		"{\"file_path\": \"/home/user/project/src/",
		"main.c\", \"offset\": 120,", " \"limit\": 400}",
	};
	size_t	i;

	for (i = 0; i < 3; i++) {
		buf_reset(scratch);
		buf_printf(scratch, "{\"toolUseId\":\"tooluse_bench%06u\","
		    "\"name\":\"Read\",\"input\":", n);
		buf_json_str(scratch, fragments[i], strlen(fragments[i]));
		buf_puts(scratch, "}");
		es_encode_event(stream, "toolUseEvent", scratch->ptr);
	}
	buf_reset(scratch);
	buf_printf(scratch, "{\"toolUseId\":\"tooluse_bench%06u\","
	    "\"name\":\"Read\",\"stop\":true}", n);
	es_encode_event(stream, "toolUseEvent", scratch->ptr);
}

static size_t
make_stream(struct buf *stream)
{
	struct buf	scratch = BUF_INIT;
	unsigned	n = 0;
	size_t		frames = 0;

	while (stream->len < STREAM_BYTES) {
		if (++n % 200 == 0) {
			tool_events(stream, &scratch, n);
			frames += 4;
		} else if (n % 97 == 0) {
			es_encode_event(stream, "meteringEvent", "{\"unit\":"
			    "\"credit\",\"unitPlural\":\"credits\","
			    "\"usage\":0.01}");
			frames++;
		} else {
			text_event(stream, &scratch);
			frames++;
		}
	}
	es_encode_event(stream, "contextUsageEvent",
	    "{\"contextUsagePercentage\":12.5}");
	buf_free(&scratch);
	return frames + 1;
}

struct decode_state {
	struct kiro_event_parser	*parser;	/* NULL: decoder only */
	size_t				 frames;
	size_t				 bad;
	size_t				 text_bytes;
};

static int
on_frame(void *arg, const struct es_frame *f)
{
	struct decode_state	*ds = arg;
	struct kiro_event	 ev;
	char			*why = NULL;

	ds->frames++;
	if (ds->parser == NULL) {
		ds->text_bytes += f->payload.len;
		return 0;
	}
	if (kiro_event_parse(ds->parser, f, &ev, &why) != KF_OK) {
		ds->bad++;
		free(why);
		return 0;
	}
	if (ev.type == KIRO_EV_TEXT)
		ds->text_bytes += ev.text_len;
	return 0;
}

/* Decodes the stream once; seconds taken. */
static double
decode_once(const struct buf *stream, struct decode_state *ds)
{
	struct es_decoder	*dec;
	size_t			 off, n;
	double			 t0;

	ds->frames = ds->bad = ds->text_bytes = 0;
	dec = es_decoder_new(on_frame, ds);
	t0 = now_s();
	for (off = 0; off < stream->len; off += n) {
		n = stream->len - off < SLICE ? stream->len - off : SLICE;
		if (es_decoder_feed(dec, stream->ptr + off, n) != ES_OK)
			break;
	}
	t0 = now_s() - t0;
	es_decoder_free(dec);
	return t0;
}

static void
bench_decoder(json_object *out)
{
	struct buf		 stream = BUF_INIT;
	struct decode_state	 ds;
	double			 full[MAX_ROUNDS], bare[MAX_ROUNDS], spent;
	size_t			 frames, rounds;
	json_object		*o = json_object_new_object();

	frames = make_stream(&stream);
	memset(&ds, 0, sizeof(ds));
	ds.parser = kiro_event_parser_new();
	(void)decode_once(&stream, &ds);		/* warm-up */
	for (rounds = 0, spent = 0; rounds < MAX_ROUNDS &&
	    (rounds < 3 || spent < seconds_per_test); rounds++)
		spent += full[rounds] = decode_once(&stream, &ds);
	if (ds.frames != frames || ds.bad != 0)
		fprintf(stderr, "bench-core: decoder saw %zu frames (%zu bad), "
		    "expected %zu\n", ds.frames, ds.bad, frames);
	kiro_event_parser_free(ds.parser);
	ds.parser = NULL;
	{
		size_t	r2;

		for (r2 = 0, spent = 0; r2 < MAX_ROUNDS && (r2 < 3 ||
		    spent < seconds_per_test / 2); r2++)
			spent += bare[r2] = decode_once(&stream, &ds);
		json_object_object_add(o, "decoder_only_mb_s",
		    json_object_new_double((double)stream.len / MB /
		    median(bare, r2)));
	}
	spent = median(full, rounds);
	json_object_object_add(o, "stream_bytes",
	    json_object_new_int64((int64_t)stream.len));
	json_object_object_add(o, "frames", json_object_new_int64(
	    (int64_t)frames));
	json_object_object_add(o, "avg_frame_bytes", json_object_new_double(
	    (double)stream.len / (double)frames));
	json_object_object_add(o, "slice_bytes", json_object_new_int(SLICE));
	json_object_object_add(o, "rounds", json_object_new_int((int)rounds));
	json_object_object_add(o, "mb_s", json_object_new_double(
	    (double)stream.len / MB / spent));
	json_object_object_add(o, "frames_per_s", json_object_new_double(
	    (double)frames / spent));
	json_object_object_add(o, "ns_per_frame", json_object_new_double(
	    spent * 1e9 / (double)frames));
	json_object_object_add(out, "decoder", o);
	buf_free(&stream);
}

/* --- request builder -------------------------------------------------------- */

/* tool_result text of about n bytes: a file listing, as Read returns. */
static json_object *
file_listing(size_t n, unsigned seed)
{
	struct buf	text = BUF_INIT;
	unsigned	line = 1;
	json_object	*v;

	for (; text.len < n; line++)
		buf_printf(&text, "%6u\t    if (ctx->count[%u] > limit) "
		    "return error(\"over %u\");\n", line, seed, line * seed);
	v = json_object_new_string_len(text.ptr, (int)text.len);
	buf_free(&text);
	return v;
}

/*
 * The fixture's body plus `turns` rounds of assistant tool_use and user
 * tool_result, then a user question: the JSON text a client would send.
 */
static char *
make_request(const char *fixture, int turns, size_t *len)
{
	static const char *const tool_names[] = { "Read", "Bash", "Edit",
	    "Read", "TaskCreate", "Read" };
	json_object	*root = NULL, *body, *msgs, *msg, *content, *blk, *in;
	char		*text = NULL, *id;
	const char	*s;
	struct buf	 raw = BUF_INIT;
	int		 t;

	if (fileio_read(fixture, 4u * 1024 * 1024, &raw, NULL) != KF_OK ||
	    json_parse(raw.ptr, raw.len, 256, &root, NULL) != KF_OK) {
		fprintf(stderr, "bench-core: cannot read %s\n", fixture);
		exit(1);
	}
	if (!json_get_obj(root, "body", &body) || !json_get_arr(body,
	    "messages", &msgs)) {
		fprintf(stderr, "bench-core: %s has no body.messages\n",
		    fixture);
		exit(1);
	}
	for (t = 0; t < turns; t++) {
		id = xasprintf("toolu_01Bench%04dAbCdEfGhIjKlMn", t);
		msg = json_object_new_object();
		json_object_object_add(msg, "role", json_object_new_string(
		    "assistant"));
		content = json_object_new_array();
		blk = json_object_new_object();
		json_object_object_add(blk, "type", json_object_new_string(
		    "text"));
		json_object_object_add(blk, "text", json_object_new_string(
		    "Let me look at the next part of the code before I change "
		    "anything."));
		json_object_array_add(content, blk);
		blk = json_object_new_object();
		json_object_object_add(blk, "type", json_object_new_string(
		    "tool_use"));
		json_object_object_add(blk, "id", json_object_new_string(id));
		json_object_object_add(blk, "name", json_object_new_string(
		    tool_names[t % 6]));
		in = json_object_new_object();
		json_object_object_add(in, "file_path", json_object_new_string(
		    "/home/user/project/src/relay.c"));
		json_object_object_add(in, "offset", json_object_new_int(
		    t * 100));
		json_object_object_add(in, "limit", json_object_new_int(100));
		json_object_object_add(blk, "input", in);
		json_object_array_add(content, blk);
		json_object_object_add(msg, "content", content);
		json_object_array_add(msgs, msg);

		msg = json_object_new_object();
		json_object_object_add(msg, "role", json_object_new_string(
		    "user"));
		content = json_object_new_array();
		blk = json_object_new_object();
		json_object_object_add(blk, "type", json_object_new_string(
		    "tool_result"));
		json_object_object_add(blk, "tool_use_id",
		    json_object_new_string(id));
		json_object_object_add(blk, "content", file_listing(2500,
		    (unsigned)t + 3));
		json_object_array_add(content, blk);
		json_object_object_add(msg, "content", content);
		json_object_array_add(msgs, msg);
		free(id);
	}
	msg = json_object_new_object();
	json_object_object_add(msg, "role", json_object_new_string("user"));
	json_object_object_add(msg, "content", json_object_new_string(
	    "Now fix the off-by-one error in the loop you just read, and run "
	    "the tests."));
	json_object_array_add(msgs, msg);
	json_object_object_add(body, "stream", json_object_new_boolean(1));
	s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	*len = strlen(s);
	text = xstrdup(s);
	json_object_put(root);
	buf_free(&raw);
	return text;
}

struct build_times {
	double	parse, repair, build;
	size_t	out_len;
};

/* The four front ends, in the order run-bench.py prints them. */
enum front {
	FE_ANTHROPIC,
	FE_CHAT,
	FE_RESPONSES,
	FE_GEMINI,
	FE__MAX
};

static const char *const	 front_names[FE__MAX] = {
	"anthropic", "chat", "responses", "gemini",
};

/* What a parser learns beyond the conv, which its emitter needs. */
struct front_state {
	struct openai_chat_opts		chat;
	struct openai_responses_req	responses;
	struct gemini_opts		gemini;
};

/* The request's model: Gemini names it in the path, not the body. */
static char	*bench_model;

static void
front_state_free(struct front_state *fs)
{
	openai_responses_req_free(&fs->responses);
	memset(fs, 0, sizeof(*fs));
}

/* The front end's parser, as its route handler calls it. */
static enum kf_err
front_parse(enum front fe, const char *req, size_t len, struct conv *conv,
    struct front_state *fs, char **why)
{
	char		*param = NULL;
	enum kf_err	 er;

	memset(fs, 0, sizeof(*fs));
	switch (fe) {
	case FE_ANTHROPIC:
		return anthropic_parse(req, len, 0, conv, why);
	case FE_CHAT:
		er = openai_chat_parse(req, len, NULL, conv, &fs->chat, why,
		    &param);
		break;
	case FE_RESPONSES:
		er = openai_responses_parse(req, len, conv, &fs->responses,
		    NULL, NULL, why, &param);
		break;
	case FE_GEMINI:
		return gemini_parse(req, len, bench_model, 0, conv,
		    &fs->gemini, why);
	default:
		abort();
	}
	free(param);
	return er;
}

static int
build_once(enum front fe, const char *req, size_t len, struct build_times *bt)
{
	struct conv		 conv;
	struct front_state	 fs;
	struct history_opts	 hopts;
	struct kiro_req_opts	 opts;
	struct kiro_toolmap	*map;
	struct buf		 out = BUF_INIT;
	char			*why = NULL;
	double			 t0, t1, t2, t3;
	int			 rc = -1;

	conv_init(&conv);
	map = kiro_toolmap_new();
	t0 = now_s();
	if (front_parse(fe, req, len, &conv, &fs, &why) != KF_OK) {
		fprintf(stderr, "bench-core: %s parser: %s\n",
		    front_names[fe], why);
		goto out;
	}
	t1 = now_s();
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	if (history_repair(&conv, &hopts, &why) != KF_OK) {
		fprintf(stderr, "bench-core: history_repair: %s\n", why);
		goto out;
	}
	t2 = now_s();
	memset(&opts, 0, sizeof(opts));
	opts.model_id = conv.kiro_model;
	opts.conversation_id = conv.session_id;
	if (kiro_req_build(&conv, &opts, &out, map, &why) != KF_OK) {
		fprintf(stderr, "bench-core: kiro_req_build: %s\n", why);
		goto out;
	}
	t3 = now_s();
	bt->parse += t1 - t0;
	bt->repair += t2 - t1;
	bt->build += t3 - t2;
	bt->out_len = out.len;
	rc = 0;
out:
	front_state_free(&fs);
	conv_free(&conv);
	kiro_toolmap_free(map);
	buf_free(&out);
	free(why);
	return rc;
}

static void
bench_builder(json_object *out, const char *fixture)
{
	struct build_times	 bt, round[MAX_ROUNDS];
	double			 per_req[MAX_ROUNDS], t0, spent, total;
	size_t			 len, rounds, i, n;
	char			*req;
	json_object		*o = json_object_new_object();

	req = make_request(fixture, 6, &len);
	memset(&bt, 0, sizeof(bt));
	for (i = 0; i < 20; i++)		/* warm-up */
		if (build_once(FE_ANTHROPIC, req, len, &bt) != 0)
			exit(1);
	for (rounds = 0, spent = 0; rounds < 10 && (rounds < 3 ||
	    spent < seconds_per_test); rounds++) {
		memset(&round[rounds], 0, sizeof(round[rounds]));
		t0 = now_s();
		for (n = 0; now_s() - t0 < seconds_per_test / 5; n++)
			if (build_once(FE_ANTHROPIC, req, len,
			    &round[rounds]) != 0)
				exit(1);
		t0 = now_s() - t0;
		spent += t0;
		per_req[rounds] = t0 / (double)n;
		round[rounds].parse /= (double)n;
		round[rounds].repair /= (double)n;
		round[rounds].build /= (double)n;
	}
	total = median(per_req, rounds);
	{
		double	p[MAX_ROUNDS], r[MAX_ROUNDS], b[MAX_ROUNDS];

		for (i = 0; i < rounds; i++) {
			p[i] = round[i].parse;
			r[i] = round[i].repair;
			b[i] = round[i].build;
		}
		json_object_object_add(o, "parse_us", json_object_new_double(
		    median(p, rounds) * 1e6));
		json_object_object_add(o, "repair_us", json_object_new_double(
		    median(r, rounds) * 1e6));
		json_object_object_add(o, "build_us", json_object_new_double(
		    median(b, rounds) * 1e6));
	}
	json_object_object_add(o, "input_bytes", json_object_new_int64(
	    (int64_t)len));
	json_object_object_add(o, "kiro_body_bytes", json_object_new_int64(
	    (int64_t)round[0].out_len));
	json_object_object_add(o, "turns", json_object_new_int(6));
	json_object_object_add(o, "us_per_request", json_object_new_double(
	    total * 1e6));
	json_object_object_add(o, "requests_per_s", json_object_new_double(
	    1.0 / total));
	json_object_object_add(o, "mb_s", json_object_new_double(
	    (double)len / MB / total));
	json_object_object_add(out, "builder", o);
	free(req);
}

/* --- pre-flight check ---------------------------------------------------- */

/*
 * One request of the builder's conversation grown to `turns` tool turns:
 * parse, history_repair and kiro_req_build as the responder does, then
 * preflight_check on the body (shared/preflight.h) with the relay's
 * limits; the seconds of each go to *convert and *check.
 */
static void
preflight_once(const char *req, size_t len, double *convert, double *check,
    size_t *body_len)
{
	struct conv		 conv;
	struct history_opts	 hopts;
	struct kiro_req_opts	 opts;
	struct preflight_limits	 lim;
	struct buf		 body = BUF_INIT;
	json_object		*tree = NULL;
	char			*why = NULL;
	double			 t0, t1, t2;

	conv_init(&conv);
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	memset(&opts, 0, sizeof(opts));
	opts.tree = &tree;		/* as the relay checks it */
	preflight_limits_default(&lim);
	t0 = now_s();
	if (anthropic_parse(req, len, 0, &conv, &why) != KF_OK ||
	    history_repair(&conv, &hopts, &why) != KF_OK ||
	    (opts.model_id = conv.kiro_model, kiro_req_build(&conv, &opts,
	    &body, NULL, &why)) != KF_OK) {
		fprintf(stderr, "bench-core: preflight request: %s\n", why);
		exit(1);
	}
	t1 = now_s();
	if (preflight_check_tree(tree, body.len, &conv, &lim, NULL, &why) !=
	    KF_OK) {
		fprintf(stderr, "bench-core: preflight_check: %s\n", why);
		exit(1);
	}
	t2 = now_s();
	*convert += t1 - t0;
	*check += t2 - t1;
	*body_len = body.len;
	json_object_put(tree);
	buf_free(&body);
	conv_free(&conv);
	free(why);
}

static json_object *
bench_preflight_turns(const char *fixture, int turns)
{
	double		 conv_r[MAX_ROUNDS], check_r[MAX_ROUNDS], t0, spent;
	double		 convert, check;
	size_t		 len, body_len = 0, rounds, n;
	char		*req;
	json_object	*o = json_object_new_object();

	req = make_request(fixture, turns, &len);
	convert = check = 0;
	for (n = 0; n < 3; n++)			/* warm-up */
		preflight_once(req, len, &convert, &check, &body_len);
	for (rounds = 0, spent = 0; rounds < 10 && (rounds < 3 ||
	    spent < seconds_per_test); rounds++) {
		convert = check = 0;
		t0 = now_s();
		for (n = 0; n == 0 || now_s() - t0 < seconds_per_test / 5; n++)
			preflight_once(req, len, &convert, &check, &body_len);
		spent += now_s() - t0;
		conv_r[rounds] = convert / (double)n;
		check_r[rounds] = check / (double)n;
	}
	convert = median(conv_r, rounds);
	check = median(check_r, rounds);
	json_object_object_add(o, "turns", json_object_new_int(turns));
	json_object_object_add(o, "input_bytes", json_object_new_int64(
	    (int64_t)len));
	json_object_object_add(o, "kiro_body_bytes", json_object_new_int64(
	    (int64_t)body_len));
	json_object_object_add(o, "conversion_us", json_object_new_double(
	    convert * 1e6));
	json_object_object_add(o, "preflight_us", json_object_new_double(
	    check * 1e6));
	json_object_object_add(o, "ratio", json_object_new_double(
	    convert > 0 ? check / convert : 0));
	json_object_object_add(o, "preflight_mb_s", json_object_new_double(
	    check > 0 ? (double)body_len / MB / check : 0));
	free(req);
	return o;
}

/*
 * The pre-flight check's cost against request conversion (goal: under
 * 10%), on the builder's request (6 tool turns) and on a long Claude Code
 * session of PREFLIGHT_BENCH_TURNS tool turns.
 */
#define PREFLIGHT_BENCH_TURNS	400

static void
bench_preflight(json_object *out, const char *fixture)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "builder", bench_preflight_turns(fixture, 6));
	json_object_object_add(o, "long_session", bench_preflight_turns(fixture,
	    PREFLIGHT_BENCH_TURNS));
	json_object_object_add(out, "preflight", o);
}

/* --- token estimate ----------------------------------------------------- */

/*
 * One request converted as the responder does (parse, history_repair,
 * kiro_req_build), then tokens_count_conv on the conv, as the relay
 * estimates it; the seconds of each go to *convert and *estimate.
 */
static void
estimate_once(const char *req, size_t len, double *convert, double *estimate,
    long *tokens)
{
	struct conv		 conv;
	struct history_opts	 hopts;
	struct kiro_req_opts	 opts;
	struct buf		 body = BUF_INIT;
	char			*why = NULL;
	double			 t0, t1, t2;

	conv_init(&conv);
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	memset(&opts, 0, sizeof(opts));
	t0 = now_s();
	if (anthropic_parse(req, len, 0, &conv, &why) != KF_OK ||
	    history_repair(&conv, &hopts, &why) != KF_OK ||
	    (opts.model_id = conv.kiro_model, kiro_req_build(&conv, &opts,
	    &body, NULL, &why)) != KF_OK) {
		fprintf(stderr, "bench-core: estimate request: %s\n", why);
		exit(1);
	}
	t1 = now_s();
	*tokens = tokens_count_conv(&conv);
	t2 = now_s();
	*convert += t1 - t0;
	*estimate += t2 - t1;
	buf_free(&body);
	conv_free(&conv);
	free(why);
}

static json_object *
bench_estimate_turns(const char *fixture, int turns)
{
	double		 conv_r[MAX_ROUNDS], est_r[MAX_ROUNDS], t0, spent;
	double		 convert, estimate;
	size_t		 len, rounds, n;
	long		 tokens = 0;
	char		*req;
	json_object	*o = json_object_new_object();

	req = make_request(fixture, turns, &len);
	convert = estimate = 0;
	for (n = 0; n < 3; n++)			/* warm-up */
		estimate_once(req, len, &convert, &estimate, &tokens);
	for (rounds = 0, spent = 0; rounds < 10 && (rounds < 3 ||
	    spent < seconds_per_test); rounds++) {
		convert = estimate = 0;
		t0 = now_s();
		for (n = 0; n == 0 || now_s() - t0 < seconds_per_test / 5; n++)
			estimate_once(req, len, &convert, &estimate, &tokens);
		spent += now_s() - t0;
		conv_r[rounds] = convert / (double)n;
		est_r[rounds] = estimate / (double)n;
	}
	convert = median(conv_r, rounds);
	estimate = median(est_r, rounds);
	json_object_object_add(o, "turns", json_object_new_int(turns));
	json_object_object_add(o, "input_bytes", json_object_new_int64(
	    (int64_t)len));
	json_object_object_add(o, "tokens", json_object_new_int64(tokens));
	json_object_object_add(o, "conversion_us", json_object_new_double(
	    convert * 1e6));
	json_object_object_add(o, "estimate_us", json_object_new_double(
	    estimate * 1e6));
	json_object_object_add(o, "ratio", json_object_new_double(
	    convert > 0 ? estimate / convert : 0));
	json_object_object_add(o, "estimate_mb_s", json_object_new_double(
	    estimate > 0 ? (double)len / MB / estimate : 0));
	free(req);
	return o;
}

/* The token estimate's cost against request conversion (goal: < 10%). */
static void
bench_estimate(json_object *out, const char *fixture)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "builder", bench_estimate_turns(fixture, 6));
	json_object_object_add(o, "long_session", bench_estimate_turns(fixture,
	    PREFLIGHT_BENCH_TURNS));
	json_object_object_add(out, "estimate", o);
}

/* --- metrics: the per-request record ------------------------------------ */

#define METRICS_BENCH_N	200000

static void	tu_rmrf_dir(const char *);

/* A served Anthropic request, as serve_one has it when it records. */
static void
metrics_request(struct request *req)
{
	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->path = "/v1/messages";
	req->model = "claude-sonnet-4.5";
	req->account_id = 1;
	req->input_tokens = 3000;
	req->output_tokens = 200;
	req->attempts = 1;
	req->out.status = 200;
	req->started_ms = clock_mono_ms() - 800;
	req->out.first_byte_ms = req->started_ms + 300;
}

/* Seconds per prom_record over n calls. */
static double
record_loop(const struct request *req, size_t n)
{
	double	t0 = now_s();
	size_t	i;

	for (i = 0; i < n; i++)
		prom_record(req, req->started_ms + 800);
	return (now_s() - t0) / (double)n;
}

/* Seconds per record of each of `procs` processes recording at once. */
static double
record_procs(const struct request *req, int procs, size_t n)
{
	pid_t	pids[8];
	double	t0 = now_s();
	int	i, status;

	for (i = 0; i < procs; i++)
		if ((pids[i] = fork()) == 0) {
			(void)record_loop(req, n);
			_exit(0);
		}
	for (i = 0; i < procs; i++)
		if (pids[i] > 0)
			(void)waitpid(pids[i], &status, 0);
	return (now_s() - t0) / (double)n;
}

/*
 * GET /metrics as a scraper sees it, with METRICS_PAGE_ACCOUNTS accounts
 * in a store under dir, a cached usage record each, and a served request
 * of each API counted for each account: ms per scrape, bytes.
 */
#define METRICS_PAGE_ACCOUNTS	100

static void
bench_metrics_page(json_object *o, const char *dir, struct request *req)
{
	static const char *const apis[] = { "/v1/messages",
	    "/v1/chat/completions", "/v1/responses",
	    "/v1beta/models/gemini-2.5-flash:generateContent" };
	char *const		 envp[] = { "HTTP_X_API_KEY=bench-key", NULL };
	struct store		*st = NULL;
	struct store_txn	*txn = NULL;
	struct config		*cfg = NULL;
	struct relay_env	 relay;
	struct cred		*creds;
	struct import_result	*res;
	struct usage		 u;
	struct request		 scrape;
	struct buf		 page = BUF_INIT;
	json_object		*uj;
	double			 times[MAX_ROUNDS], t0;
	char			 key[32], *why = NULL;
	size_t			 i, a, rounds, n = METRICS_PAGE_ACCOUNTS;
	const char		*cfg_text = "{\"metricsKey\":\"bench-key\"}";

	if (store_open(&st, dir, &why) != KF_OK ||
	    config_parse(cfg_text, strlen(cfg_text), NULL, &cfg, NULL,
	    &why) != KF_OK)
		goto fail;
	creds = xcalloc(n, sizeof(*creds));
	res = xcalloc(n, sizeof(*res));
	for (i = 0; i < n; i++) {
		cred_init(&creds[i]);
		creds[i].refresh_token = xasprintf("aor-bench-metrics-%06zu-"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		    i);
		creds[i].expires_at = clock_now() + 86400;
	}
	if (accounts_import(st, creds, n, res, &why) != KF_OK ||
	    store_begin(st, STORE_WRITE, &txn, &why) != KF_OK)
		goto fail_creds;
	memset(&u, 0, sizeof(u));
	u.used = 12.5;
	u.limit = 1000;
	u.remaining = 987.5;
	u.fetched_at = clock_now();
	for (i = 0; i < n; i++) {
		u.id = res[i].id;
		uj = usage_to_json(&u);
		snprintf(key, sizeof(key), "usage/%ld", res[i].id);
		if (store_put(txn, key, json_object_to_json_string(uj),
		    strlen(json_object_to_json_string(uj))) != KF_OK)
			xsetprintf(&why, "store_put %s failed", key);
		json_object_put(uj);
		for (a = 0; a < sizeof(apis) / sizeof(apis[0]); a++) {
			req->path = (char *)apis[a];
			req->account_id = res[i].id;
			prom_record(req, req->started_ms + 800);
		}
	}
	req->path = "/v1/messages";
	req->account_id = 1;
	(void)store_end(txn, NULL);
	if (why != NULL)
		goto fail_creds;

	memset(&relay, 0, sizeof(relay));
	relay.cfg = cfg;
	relay.store = st;
	for (rounds = 0; rounds < 10; rounds++) {
		memset(&scrape, 0, sizeof(scrape));
		scrape.envp = envp;
		scrape.cfg = cfg;
		scrape.relay = &relay;
		scrape.method = "GET";
		scrape.path = "/metrics";
		buf_reset(&page);
		out_init_buf(&scrape.out, &page);
		t0 = now_s();
		prom_page(&scrape);
		times[rounds] = now_s() - t0;
	}
	json_object_object_add(o, "page_accounts", json_object_new_int64(
	    (int64_t)n));
	json_object_object_add(o, "page_ms", json_object_new_double(
	    median(times, rounds) * 1000));
	json_object_object_add(o, "page_bytes", json_object_new_int64(
	    (int64_t)page.len));
	json_object_object_add(o, "page_status", json_object_new_int(
	    scrape.out.status));
fail_creds:
	for (i = 0; i < n; i++)
		cred_free(&creds[i]);
	free(creds);
	free(res);
fail:
	if (why != NULL)
		json_object_object_add(o, "page_error",
		    json_object_new_string(why));
	buf_free(&page);
	config_free(cfg);
	store_close(st);
	free(why);
}

static void
bench_metrics(json_object *out, const char *fixture, const char *parent)
{
	struct metrics	*m = NULL;
	struct request	 req;
	double		 alone[MAX_ROUNDS], with[MAX_ROUNDS];
	double		 without[MAX_ROUNDS];
	double		 convert, check, t0;
	size_t		 rounds, n, len, body_len;
	char		*dir, *why = NULL, *creq;
	json_object	*o = json_object_new_object();

	dir = xasprintf("%s/kiro-bench-metrics.XXXXXX", parent);
	if (mkdtemp(dir) == NULL || metrics_open(&m, dir, &why) != KF_OK) {
		json_object_object_add(o, "error", json_object_new_string(
		    why != NULL ? why : strerror(errno)));
		goto out;
	}
	metrics_install(m);
	metrics_request(&req);
	(void)record_loop(&req, 1000);		/* warm-up */
	for (rounds = 0; rounds < 5; rounds++)
		alone[rounds] = record_loop(&req, METRICS_BENCH_N);
	json_object_object_add(o, "record_us", json_object_new_double(
	    median(alone, rounds) * 1e6));
	json_object_object_add(o, "record_us_2_procs", json_object_new_double(
	    record_procs(&req, 2, METRICS_BENCH_N) * 1e6));

	/* The same conversions with and without the record, interleaved. */
	creq = make_request(fixture, 6, &len);
	for (rounds = 0; rounds < 6; rounds++) {
		convert = check = 0;
		t0 = now_s();
		for (n = 0; n == 0 || now_s() - t0 < seconds_per_test / 12;
		    n++)
			preflight_once(creq, len, &convert, &check, &body_len);
		without[rounds] = (now_s() - t0) / (double)n;
		t0 = now_s();
		for (n = 0; n == 0 || now_s() - t0 < seconds_per_test / 12;
		    n++) {
			preflight_once(creq, len, &convert, &check, &body_len);
			prom_record(&req, req.started_ms + 800);
		}
		with[rounds] = (now_s() - t0) / (double)n;
	}
	json_object_object_add(o, "conversion_us", json_object_new_double(
	    median(without, rounds) * 1e6));
	json_object_object_add(o, "conversion_with_record_us",
	    json_object_new_double(median(with, rounds) * 1e6));
	json_object_object_add(o, "ratio", json_object_new_double(
	    median(with, rounds) / median(without, rounds)));
	free(creq);
	bench_metrics_page(o, dir, &req);
out:
	metrics_install(NULL);
	metrics_close(m);
	if (dir != NULL)
		tu_rmrf_dir(dir);
	free(dir);
	free(why);
	json_object_object_add(out, "metrics", o);
}

/* --- client keys: the auth and count of a request ---------------------- */

/* µs per clientkeys_authorise, the clock moving step_ms per call. */
static double
auth_loop(struct store *st, const char *key, int64_t *now_ms, int step_ms)
{
	struct clientkeys_grant	 g;
	double			 t0, took[MAX_ROUNDS];
	size_t			 n, rounds;
	long			 retry;

	for (rounds = 0; rounds < 5; rounds++) {
		t0 = now_s();
		for (n = 0; n == 0 || now_s() - t0 < seconds_per_test / 10;
		    n++) {
			*now_ms += step_ms;
			if (clientkeys_authorise(st, key, *now_ms, &g, &retry,
			    NULL) != KF_OK)
				return -1;
		}
		took[rounds] = (now_s() - t0) / (double)n;
	}
	return median(took, rounds) * 1e6;
}

static void
bench_clientkeys(json_object *out, const char *parent)
{
	struct store		*st = NULL;
	struct clientkey	 spec;
	char			 plain[CLIENTKEYS_KEY_LEN + 1];
	char			 limited[CLIENTKEYS_KEY_LEN + 1];
	char			*dir, *why = NULL;
	double			 t0, took[MAX_ROUNDS];
	size_t			 n, rounds;
	int64_t			 now_ms = (int64_t)time(NULL) * 1000;
	json_object		*o = json_object_new_object();

	dir = xasprintf("%s/kiro-bench-keys.XXXXXX", parent);
	if (mkdtemp(dir) == NULL || store_open(&st, dir, &why) != KF_OK)
		goto fail;
	memset(&spec, 0, sizeof(spec));
	snprintf(spec.name, sizeof(spec.name), "plain");
	if (clientkeys_add(st, &spec, plain, &why) != KF_OK)
		goto fail;
	snprintf(spec.name, sizeof(spec.name), "limited");
	spec.rpm = CLIENTKEYS_RPM_MAX;
	if (clientkeys_add(st, &spec, limited, &why) != KF_OK)
		goto fail;
	json_object_object_add(o, "auth_us", json_object_new_double(
	    auth_loop(st, plain, &now_ms, 1)));
	/* 61 ms apart: every second of the window has requests. */
	(void)auth_loop(st, limited, &now_ms, 61);
	json_object_object_add(o, "auth_full_window_us",
	    json_object_new_double(auth_loop(st, limited, &now_ms, 61)));
	json_object_object_add(o, "window", json_object_new_int(
	    60000 / 61));
	for (rounds = 0; rounds < 5; rounds++) {
		t0 = now_s();
		for (n = 0; n == 0 || now_s() - t0 < seconds_per_test / 10;
		    n++)
			if (clientkeys_add_tokens(st, "plain", 100, &why) !=
			    KF_OK)
				goto fail;
		took[rounds] = (now_s() - t0) / (double)n;
	}
	json_object_object_add(o, "add_tokens_us", json_object_new_double(
	    median(took, rounds) * 1e6));
	goto out;
fail:
	json_object_object_add(o, "error", json_object_new_string(
	    why != NULL ? why : strerror(errno)));
out:
	explicit_bzero(plain, sizeof(plain));
	explicit_bzero(limited, sizeof(limited));
	store_close(st);
	if (dir != NULL)
		tu_rmrf_dir(dir);
	free(dir);
	free(why);
	json_object_object_add(out, "clientkeys", o);
}

/* Median seconds per call of fn over 5 rounds. */
static double
per_call(void (*fn)(void))
{
	double	t0, took[MAX_ROUNDS];
	size_t	n, rounds;

	for (rounds = 0; rounds < 5; rounds++) {
		t0 = now_s();
		for (n = 0; n == 0 || now_s() - t0 < seconds_per_test / 10;
		    n++)
			fn();
		took[rounds] = (now_s() - t0) / (double)n;
	}
	return median(took, rounds);
}

static struct store		*mm_store;
static const struct config	*mm_cfg;

static void
mm_sync(void)
{
	modelmap_sync();
}

static void
mm_resolve(void)
{
	int	thinking;

	/* Through every glob of the map, then the built-in rules. */
	(void)models_resolve("gpt-5.1-codex-max", &thinking);
}

static void
mm_reload(void)
{
	struct model_alias	*a = NULL;
	size_t			 n = 0;
	int			 stored;

	if (modelmap_effective(mm_store, mm_cfg, &a, &n, &stored, NULL) ==
	    KF_OK)
		models_use_map(a, n);
	modelmap_free(a, n);
}

static void
bench_modelmap(json_object *out, const char *parent)
{
	struct model_alias	 map[MODELMAP_MAX];
	struct config		*cfg = NULL;
	char			*dir, *why = NULL;
	size_t			 i;
	json_object		*o = json_object_new_object();

	memset(map, 0, sizeof(map));
	dir = xasprintf("%s/kiro-bench-modelmap.XXXXXX", parent);
	if (mkdtemp(dir) == NULL || store_open(&mm_store, dir, &why) != KF_OK ||
	    config_parse("{}", 2, NULL, &cfg, NULL, &why) != KF_OK)
		goto fail;
	mm_cfg = cfg;
	for (i = 0; i < MODELMAP_MAX; i++) {
		map[i].pattern = xasprintf("team-%zu-*-model", i);
		map[i].target = xstrdup("claude-haiku-4.5");
	}
	if (modelmap_put(mm_store, map, MODELMAP_MAX, &why) != KF_OK)
		goto fail;
	modelmap_install(mm_store, cfg);
	json_object_object_add(o, "entries", json_object_new_int(
	    MODELMAP_MAX));
	json_object_object_add(o, "sync_ns", json_object_new_double(
	    per_call(mm_sync) * 1e9));
	json_object_object_add(o, "resolve_us", json_object_new_double(
	    per_call(mm_resolve) * 1e6));
	json_object_object_add(o, "reload_us", json_object_new_double(
	    per_call(mm_reload) * 1e6));
	goto out;
fail:
	json_object_object_add(o, "error", json_object_new_string(
	    why != NULL ? why : strerror(errno)));
out:
	modelmap_install(NULL, NULL);
	models_use_map(NULL, 0);
	for (i = 0; i < MODELMAP_MAX; i++) {
		free(map[i].pattern);
		free(map[i].target);
	}
	store_close(mm_store);
	mm_store = NULL;
	config_free(cfg);
	if (dir != NULL)
		tu_rmrf_dir(dir);
	free(dir);
	free(why);
	json_object_object_add(out, "modelmap", o);
}

/* --- front ends: one conversation and one answer in each protocol ------- */

/*
 * The builder's request, translated into the other three protocols as
 * their clients send it: the system prompt, the 25 tools as function tools
 * (Chat, Responses) or functionDeclarations with parametersJsonSchema
 * (Gemini), and each tool_use / tool_result pair as tool_calls and a tool
 * message, a function_call and a function_call_output item, or a
 * functionCall and a functionResponse part.  Claude Code's
 * mid-conversation "system" message goes as a system (Chat) or developer
 * (Responses) message, which those parsers keep in place as user text as
 * parse-anthropic does; Gemini has no such role, so it is user text.
 */

/* One Anthropic message, split. */
struct anth_msg {
	const char	*role;		/* user, assistant, system */
	json_object	*texts;		/* strings */
	json_object	*uses;		/* tool_use blocks */
	json_object	*results;	/* {"id":..., "text":...} */
};

static void __attribute__((noreturn))
translate_fail(size_t i, const char *what)
{
	fprintf(stderr, "bench-core: cannot translate messages[%zu]: %s\n", i,
	    what);
	exit(1);
}

static json_object *
obj2(const char *k1, json_object *v1, const char *k2, json_object *v2)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, k1, v1);
	if (k2 != NULL)
		json_object_object_add(o, k2, v2);
	return o;
}

/* A new reference to obj's member key, which must be there. */
static json_object *
member(json_object *obj, const char *key, size_t i)
{
	json_object	*v;

	if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
		translate_fail(i, key);
	return json_object_get(v);
}

static const char *
member_str(json_object *obj, const char *key, size_t i)
{
	const char	*s;

	if (json_get_str(obj, key, &s) != 1)
		translate_fail(i, key);
	return s;
}

/* A tool result's content, string or text blocks, as one string. */
static json_object *
result_text(json_object *content, size_t i)
{
	struct buf	 text = BUF_INIT;
	json_object	*v;
	size_t		 k;

	if (json_object_is_type(content, json_type_string))
		return json_object_get(content);
	for (k = 0; k < json_object_array_length(content); k++)
		buf_puts(&text, member_str(json_object_array_get_idx(content,
		    k), "text", i));
	v = json_strn(text.ptr != NULL ? text.ptr : "", text.len);
	buf_free(&text);
	return v;
}

static void
anth_msg_split(json_object *msg, size_t i, struct anth_msg *m)
{
	json_object	*content, *blk, *v;
	const char	*type;
	size_t		 j;

	m->role = member_str(msg, "role", i);
	if (strcmp(m->role, "user") != 0 && strcmp(m->role, "assistant") != 0 &&
	    strcmp(m->role, "system") != 0)
		translate_fail(i, m->role);
	if (!json_object_object_get_ex(msg, "content", &content))
		translate_fail(i, "content");
	m->texts = json_object_new_array();
	m->uses = json_object_new_array();
	m->results = json_object_new_array();
	if (json_object_is_type(content, json_type_string)) {
		json_object_array_add(m->texts, json_object_get(content));
		return;
	}
	for (j = 0; j < json_object_array_length(content); j++) {
		blk = json_object_array_get_idx(content, j);
		type = member_str(blk, "type", i);
		if (strcmp(type, "text") == 0)
			json_object_array_add(m->texts, member(blk, "text", i));
		else if (strcmp(type, "tool_use") == 0)
			json_object_array_add(m->uses, json_object_get(blk));
		else if (strcmp(type, "tool_result") == 0) {
			v = member(blk, "content", i);
			json_object_array_add(m->results, obj2("id", member(blk,
			    "tool_use_id", i), "text", result_text(v, i)));
			json_object_put(v);
		} else
			translate_fail(i, type);
	}
}

static void
anth_msg_free(struct anth_msg *m)
{
	json_object_put(m->texts);
	json_object_put(m->uses);
	json_object_put(m->results);
}

/* An array of strings joined by "\n"; caller frees. */
static char *
joined(json_object *texts)
{
	struct buf	b = BUF_INIT;
	size_t		i;

	for (i = 0; i < json_object_array_length(texts); i++) {
		if (i > 0)
			buf_putc(&b, '\n');
		buf_puts(&b, json_object_get_string(
		    json_object_array_get_idx(texts, i)));
	}
	return buf_detach(&b);
}

static json_object *
arguments(json_object *use, size_t i)
{
	json_object	*in = member(use, "input", i), *v;

	v = json_str(json_object_to_json_string_ext(in,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(in);
	return v;
}

static void
chat_msg(const struct anth_msg *m, size_t i, json_object *out)
{
	json_object	*o, *v, *parts, *calls, *call;
	size_t		 j, n;
	char		*text;

	if (strcmp(m->role, "system") == 0) {
		text = joined(m->texts);
		json_object_array_add(out, obj2("role", json_str("system"),
		    "content", json_str(text)));
		free(text);
		return;
	}
	if (strcmp(m->role, "assistant") == 0) {
		text = joined(m->texts);
		o = obj2("role", json_str("assistant"), "content",
		    json_object_array_length(m->texts) > 0 ? json_str(text) :
		    NULL);
		free(text);
		if ((n = json_object_array_length(m->uses)) > 0) {
			calls = json_object_new_array();
			for (j = 0; j < n; j++) {
				v = json_object_array_get_idx(m->uses, j);
				call = obj2("id", member(v, "id", i), "type",
				    json_str("function"));
				json_object_object_add(call, "function", obj2(
				    "name", member(v, "name", i), "arguments",
				    arguments(v, i)));
				json_object_array_add(calls, call);
			}
			json_object_object_add(o, "tool_calls", calls);
		}
		json_object_array_add(out, o);
		return;
	}
	/* Tool results first, as Anthropic has them, then the user's text. */
	for (j = 0; j < json_object_array_length(m->results); j++) {
		v = json_object_array_get_idx(m->results, j);
		o = obj2("role", json_str("tool"), "tool_call_id", member(v,
		    "id", i));
		json_object_object_add(o, "content", member(v, "text", i));
		json_object_array_add(out, o);
	}
	if ((n = json_object_array_length(m->texts)) == 0)
		return;
	parts = json_object_new_array();
	for (j = 0; j < n; j++)
		json_object_array_add(parts, obj2("type", json_str("text"),
		    "text", json_object_get(json_object_array_get_idx(m->texts,
		    j))));
	json_object_array_add(out, obj2("role", json_str("user"), "content",
	    parts));
}

static void
responses_msg(const struct anth_msg *m, size_t i, json_object *out)
{
	json_object	*o, *v, *parts;
	size_t		 j, n;
	int		 assistant = strcmp(m->role, "assistant") == 0;

	/* A user message's tool results come first, as in chat_msg. */
	for (j = 0; j < json_object_array_length(m->results); j++) {
		v = json_object_array_get_idx(m->results, j);
		o = obj2("type", json_str("function_call_output"), "call_id",
		    member(v, "id", i));
		json_object_object_add(o, "output", member(v, "text", i));
		json_object_array_add(out, o);
	}
	if ((n = json_object_array_length(m->texts)) > 0) {
		parts = json_object_new_array();
		for (j = 0; j < n; j++)
			json_object_array_add(parts, obj2("type", json_str(
			    assistant ? "output_text" : "input_text"), "text",
			    json_object_get(json_object_array_get_idx(m->texts,
			    j))));
		o = obj2("type", json_str("message"), "role", json_str(
		    strcmp(m->role, "system") == 0 ? "developer" : m->role));
		json_object_object_add(o, "content", parts);
		json_object_array_add(out, o);
	}
	for (j = 0; j < json_object_array_length(m->uses); j++) {
		v = json_object_array_get_idx(m->uses, j);
		o = obj2("type", json_str("function_call"), "call_id",
		    member(v, "id", i));
		json_object_object_add(o, "name", member(v, "name", i));
		json_object_object_add(o, "arguments", arguments(v, i));
		json_object_array_add(out, o);
	}
}

/* names maps tool_use ids to tool names: functionResponse carries both. */
static void
gemini_msg(const struct anth_msg *m, size_t i, json_object *out,
    json_object *names)
{
	json_object	*o, *v, *parts = json_object_new_array();
	const char	*id;
	size_t		 j;

	for (j = 0; j < json_object_array_length(m->results); j++) {
		v = json_object_array_get_idx(m->results, j);
		id = member_str(v, "id", i);
		o = obj2("id", json_str(id), "name", member(names, id, i));
		json_object_object_add(o, "response", obj2("output",
		    member(v, "text", i), NULL, NULL));
		json_object_array_add(parts, obj2("functionResponse", o, NULL,
		    NULL));
	}
	for (j = 0; j < json_object_array_length(m->texts); j++)
		json_object_array_add(parts, obj2("text", json_object_get(
		    json_object_array_get_idx(m->texts, j)), NULL, NULL));
	for (j = 0; j < json_object_array_length(m->uses); j++) {
		v = json_object_array_get_idx(m->uses, j);
		json_object_object_add(names, member_str(v, "id", i),
		    member(v, "name", i));
		o = obj2("id", member(v, "id", i), "name", member(v, "name",
		    i));
		json_object_object_add(o, "args", member(v, "input", i));
		json_object_array_add(parts, obj2("functionCall", o, NULL,
		    NULL));
	}
	json_object_array_add(out, obj2("role", json_str(strcmp(m->role,
	    "assistant") == 0 ? "model" : "user"), "parts", parts));
}

/* Translates body, an Anthropic request, into fe's protocol, as JSON text. */
static char *
translate(json_object *body, enum front fe, size_t *len)
{
	json_object	*root, *msgs, *tools, *tool, *sys_arr, *out_msgs;
	json_object	*out_tools, *o, *names;
	struct anth_msg	 m;
	const char	*s, *effort = "high";
	char		*sys, level[16], *text;
	int64_t		 max_tokens = 4096;
	size_t		 i;

	if (json_get_arr(body, "messages", &msgs) != 1 ||
	    json_get_arr(body, "tools", &tools) != 1 ||
	    json_get_arr(body, "system", &sys_arr) != 1)
		translate_fail(0, "the body has no messages, tools or system "
		    "array");
	(void)json_get_int(body, "max_tokens", &max_tokens);
	if (json_get_obj(body, "output_config", &o) == 1)
		(void)json_get_str(o, "effort", &effort);
	o = json_object_new_array();
	for (i = 0; i < json_object_array_length(sys_arr); i++)
		if (json_get_str(json_object_array_get_idx(sys_arr, i), "text",
		    &s) == 1 && *s != '\0')
			json_object_array_add(o, json_str(s));
	sys = joined(o);
	json_object_put(o);

	out_tools = json_object_new_array();
	for (i = 0; i < json_object_array_length(tools); i++) {
		tool = json_object_array_get_idx(tools, i);
		o = obj2("name", member(tool, "name", i), "description",
		    member(tool, "description", i));
		json_object_object_add(o, fe == FE_GEMINI ?
		    "parametersJsonSchema" : "parameters", member(tool,
		    "input_schema", i));
		if (fe == FE_CHAT)
			o = obj2("type", json_str("function"), "function", o);
		else if (fe == FE_RESPONSES)
			json_object_object_add(o, "type", json_str("function"));
		json_object_array_add(out_tools, o);
	}
	root = json_object_new_object();
	out_msgs = json_object_new_array();
	if (fe != FE_GEMINI)
		json_object_object_add(root, "model", member(body, "model", 0));
	switch (fe) {
	case FE_CHAT:
		json_object_array_add(out_msgs, obj2("role", json_str("system"),
		    "content", json_str(sys)));
		json_object_object_add(root, "messages", out_msgs);
		json_object_object_add(root, "tools", out_tools);
		json_object_object_add(root, "max_completion_tokens",
		    json_object_new_int64(max_tokens));
		json_object_object_add(root, "reasoning_effort",
		    json_str(effort));
		json_object_object_add(root, "stream_options", obj2(
		    "include_usage", json_object_new_boolean(1), NULL, NULL));
		break;
	case FE_RESPONSES:
		json_object_object_add(root, "instructions", json_str(sys));
		json_object_object_add(root, "input", out_msgs);
		json_object_object_add(root, "tools", out_tools);
		json_object_object_add(root, "max_output_tokens",
		    json_object_new_int64(max_tokens));
		json_object_object_add(root, "reasoning", obj2("effort",
		    json_str(effort), NULL, NULL));
		json_object_object_add(root, "store",
		    json_object_new_boolean(0));
		break;
	case FE_GEMINI:
		o = json_object_new_array();
		json_object_array_add(o, obj2("text", json_str(sys), NULL,
		    NULL));
		json_object_object_add(root, "systemInstruction", obj2("parts",
		    o, NULL, NULL));
		json_object_object_add(root, "contents", out_msgs);
		o = json_object_new_array();
		json_object_array_add(o, obj2("functionDeclarations", out_tools,
		    NULL, NULL));
		json_object_object_add(root, "tools", o);
		/* Gemini's thinking levels are upper case. */
		for (i = 0; effort[i] != '\0' && i < sizeof(level) - 1; i++)
			level[i] = (char)(effort[i] >= 'a' && effort[i] <= 'z' ?
			    effort[i] - 'a' + 'A' : effort[i]);
		level[i] = '\0';
		json_object_object_add(root, "generationConfig", obj2(
		    "maxOutputTokens", json_object_new_int64(max_tokens),
		    "thinkingConfig", obj2("includeThoughts",
		    json_object_new_boolean(1), "thinkingLevel",
		    json_str(level))));
		break;
	default:
		abort();
	}
	if (fe != FE_GEMINI)
		json_object_object_add(root, "stream",
		    json_object_new_boolean(1));
	free(sys);

	names = json_object_new_object();
	for (i = 0; i < json_object_array_length(msgs); i++) {
		anth_msg_split(json_object_array_get_idx(msgs, i), i, &m);
		if (fe == FE_CHAT)
			chat_msg(&m, i, out_msgs);
		else if (fe == FE_RESPONSES)
			responses_msg(&m, i, out_msgs);
		else
			gemini_msg(&m, i, out_msgs, names);
		anth_msg_free(&m);
	}
	json_object_put(names);
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	*len = strlen(s);
	text = xstrdup(s);
	json_object_put(root);
	return text;
}

/* With -d, writes data to DIR/<what>-<front end>.<ext>. */
static void
dump(const char *what, enum front fe, const char *ext, const char *data,
    size_t len)
{
	char	*path, *why = NULL;

	if (dump_dir == NULL)
		return;
	path = xasprintf("%s/%s-%s.%s", dump_dir, what, front_names[fe], ext);
	if (fileio_write_atomic(path, data, len, 0644, &why) != KF_OK) {
		fprintf(stderr, "bench-core: %s\n", why);
		exit(1);
	}
	free(path);
}

/* What a parsed and repaired conversation holds, to compare front ends. */
struct conv_shape {
	size_t	msgs, tools, texts, uses, results, system_len;
};

static void
conv_shape(const struct conv *c, struct conv_shape *s)
{
	size_t	i, j;

	memset(s, 0, sizeof(*s));
	s->msgs = c->n_msgs;
	s->tools = c->n_tools;
	s->system_len = c->system != NULL ? strlen(c->system) : 0;
	for (i = 0; i < c->n_msgs; i++)
		for (j = 0; j < c->msgs[i].n_blocks; j++)
			switch (c->msgs[i].blocks[j].type) {
			case CONV_BLOCK_TEXT:
				s->texts++;
				break;
			case CONV_BLOCK_TOOL_USE:
				s->uses++;
				break;
			case CONV_BLOCK_TOOL_RESULT:
				s->results++;
				break;
			default:
				break;
			}
}

/*
 * Parses, repairs and builds req as fe, for its shape, its Kiro body
 * without the random agentContinuationId (*kiro, a new reference) and the
 * state its emitter needs (fs, freed by the caller); with -d, writes the
 * Kiro body.  The protocols split turns differently
 * (Chat puts the text after tool results in the tool turn, the Responses
 * parser joins adjacent items of one role), which history_repair evens
 * out by merging runs of a role: the shapes are compared after it.
 */
static void
front_check(enum front fe, const char *req, size_t len, struct conv_shape *s,
    json_object **kiro, struct front_state *fs)
{
	struct conv		 conv;
	struct history_opts	 hopts;
	struct kiro_req_opts	 opts;
	struct kiro_toolmap	*map = kiro_toolmap_new();
	struct buf		 body = BUF_INIT;
	json_object		*cs;
	char			*why = NULL;

	conv_init(&conv);
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	memset(&opts, 0, sizeof(opts));
	opts.conversation_id = "00000000-0000-4000-8000-000000000000";
	if (front_parse(fe, req, len, &conv, fs, &why) != KF_OK ||
	    history_repair(&conv, &hopts, &why) != KF_OK ||
	    (opts.model_id = conv.kiro_model, kiro_req_build(&conv, &opts,
	    &body, map, &why)) != KF_OK) {
		fprintf(stderr, "bench-core: the %s request does not convert: "
		    "%s\n", front_names[fe], why);
		exit(1);
	}
	conv_shape(&conv, s);
	dump("kiro", fe, "json", body.ptr, body.len);
	if (json_parse(body.ptr, body.len, 256, kiro, &why) != KF_OK ||
	    json_get_obj(*kiro, "conversationState", &cs) != 1) {
		fprintf(stderr, "bench-core: the %s Kiro body: %s\n",
		    front_names[fe], why != NULL ? why :
		    "no conversationState");
		exit(1);
	}
	json_object_object_del(cs, "agentContinuationId");
	buf_free(&body);
	kiro_toolmap_free(map);
	conv_free(&conv);
}

/* Parse + repair + build of each front end's request, measured in turns. */
static json_object *
bench_convert(char *const reqs[], const size_t lens[])
{
	struct build_times	 bt[FE__MAX][MAX_ROUNDS];
	double			 per_req[FE__MAX][MAX_ROUNDS], v[MAX_ROUNDS];
	double			 t0, spent, total;
	size_t			 rounds, f, i, n;
	json_object		*o = json_object_new_object(), *fo;

	for (f = 0; f < FE__MAX; f++)
		for (i = 0; i < 20; i++)		/* warm-up */
			if (build_once(f, reqs[f], lens[f], &bt[f][0]) != 0)
				exit(1);
	/* Front ends take turns, so that drift on the machine hits all. */
	for (rounds = 0, spent = 0; rounds < 10 && (rounds < 3 ||
	    spent < seconds_per_test); rounds++)
		for (f = 0; f < FE__MAX; f++) {
			memset(&bt[f][rounds], 0, sizeof(bt[f][rounds]));
			t0 = now_s();
			for (n = 0; now_s() - t0 < seconds_per_test / 5; n++)
				if (build_once(f, reqs[f], lens[f],
				    &bt[f][rounds]) != 0)
					exit(1);
			t0 = now_s() - t0;
			spent += t0 / FE__MAX;
			per_req[f][rounds] = t0 / (double)n;
			bt[f][rounds].parse /= (double)n;
			bt[f][rounds].repair /= (double)n;
			bt[f][rounds].build /= (double)n;
		}
	json_object_object_add(o, "rounds", json_object_new_int((int)rounds));
	for (f = 0; f < FE__MAX; f++) {
		fo = json_object_new_object();
		total = median(per_req[f], rounds);
		json_object_object_add(fo, "input_bytes", json_object_new_int64(
		    (int64_t)lens[f]));
		json_object_object_add(fo, "kiro_body_bytes",
		    json_object_new_int64((int64_t)bt[f][0].out_len));
		json_object_object_add(fo, "us_per_request",
		    json_object_new_double(total * 1e6));
		json_object_object_add(fo, "mb_s", json_object_new_double(
		    (double)lens[f] / MB / total));
		for (i = 0; i < rounds; i++)
			v[i] = bt[f][i].parse;
		json_object_object_add(fo, "parse_us", json_object_new_double(
		    median(v, rounds) * 1e6));
		for (i = 0; i < rounds; i++)
			v[i] = bt[f][i].repair;
		json_object_object_add(fo, "repair_us", json_object_new_double(
		    median(v, rounds) * 1e6));
		for (i = 0; i < rounds; i++)
			v[i] = bt[f][i].build;
		json_object_object_add(fo, "build_us", json_object_new_double(
		    median(v, rounds) * 1e6));
		json_object_object_add(o, front_names[f], fo);
	}
	return o;
}

/*
 * The answer every emitter is fed: a thinking block, text deltas as Kiro
 * streams them, two tool calls whose input arrives in fragments, then
 * finish; the sentinels are checked in each front end's output.
 */
#define ANSWER_TEXT_DELTAS	200
#define ANSWER_THINKING_DELTAS	20
#define ANSWER_TOOLS		2
#define ANSWER_FRAGMENTS	3
#define TEXT_SENTINEL		"(end of answer)"
#define THINKING_SENTINEL	"(end of thinking)"

static struct buf	answer_text[ANSWER_TEXT_DELTAS];
static struct buf	answer_thinking[ANSWER_THINKING_DELTAS];

static const char *const	tool_ids[ANSWER_TOOLS] = {
	"tooluse_BenchAnswer0001AbCdEf", "tooluse_BenchAnswer0002AbCdEf",
};
static const char *const	tool_names[ANSWER_TOOLS] = { "Read", "Bash" };
static const char *const	tool_frags[ANSWER_TOOLS][ANSWER_FRAGMENTS] = {
	{ "{\"file_path\": \"/home/user/project/src/", "relay.c\", \"offset\"",
	    ": 120, \"limit\": 400}" },
	{ "{\"command\": \"make -j2 check TESTS=", "tests/unit/test-relay\", ",
	    "\"description\": \"Run the relay unit tests\"}" },
};

static void
answer_make(void)
{
	size_t	i, w, words;

	for (i = 0; i < ANSWER_TEXT_DELTAS; i++) {
		if (i == ANSWER_TEXT_DELTAS - 1) {
			buf_puts(&answer_text[i], TEXT_SENTINEL);
			continue;
		}
		words = 1 + rng() % 6;
		for (w = 0; w < words; w++)
			buf_puts(&answer_text[i], vocabulary[rng() %
			    (sizeof(vocabulary) / sizeof(vocabulary[0]))]);
	}
	for (i = 0; i < ANSWER_THINKING_DELTAS; i++)
		buf_puts(&answer_thinking[i], i == ANSWER_THINKING_DELTAS - 1 ?
		    THINKING_SENTINEL : " The user wants the loop fixed, so I "
		    "read relay.c first and then run its tests.");
}

static void
answer_free(void)
{
	size_t	i;

	for (i = 0; i < ANSWER_TEXT_DELTAS; i++)
		buf_free(&answer_text[i]);
	for (i = 0; i < ANSWER_THINKING_DELTAS; i++)
		buf_free(&answer_thinking[i]);
}

/* Plays the answer into a sink as the relay would; non-zero on a failure. */
static int
answer_play(const struct sink *s)
{
	const struct sink_ops	*op = s->ops;
	struct sink_start	 st;
	struct sink_usage	 u;
	struct buf		 input = BUF_INIT;
	size_t			 i, j;
	int			 rc = 0;

	memset(&st, 0, sizeof(st));
	st.message_id = "msg_0123456789abcdef0123456789abcdef";
	st.model = bench_model;
	st.input_tokens = 31000;
	st.thinking = 1;
	if ((rc = op->start(s->arg, &st)) != 0)
		return rc;
	for (i = 0; i < ANSWER_THINKING_DELTAS; i++)
		if ((rc = op->thinking(s->arg, answer_thinking[i].ptr,
		    answer_thinking[i].len)) != 0)
			return rc;
	if ((rc = op->thinking_end(s->arg, "EqQBCkYIBxgCKkBench"
	    "SignatureAbCdEfGhIjKlMnOpQrStUvWxYz0123456789")) != 0)
		return rc;
	for (i = 0; i < ANSWER_TEXT_DELTAS; i++)
		if ((rc = op->text(s->arg, answer_text[i].ptr,
		    answer_text[i].len)) != 0)
			return rc;
	for (i = 0; rc == 0 && i < ANSWER_TOOLS; i++) {
		if ((rc = op->tool_start(s->arg, i, tool_ids[i],
		    tool_names[i])) != 0)
			break;
		buf_reset(&input);
		for (j = 0; rc == 0 && j < ANSWER_FRAGMENTS; j++) {
			rc = op->tool_input(s->arg, i, tool_frags[i][j],
			    strlen(tool_frags[i][j]));
			buf_puts(&input, tool_frags[i][j]);
		}
		if (rc == 0)
			rc = op->tool_end(s->arg, i, buf_cstr(&input));
	}
	buf_free(&input);
	if (rc != 0)
		return rc;
	memset(&u, 0, sizeof(u));
	u.input_tokens = st.input_tokens;
	u.output_tokens = 850;
	return op->finish(s->arg, SINK_STOP_TOOL_USE, &u);
}

/* One streamed answer from fe's emitter into raw; seconds taken. */
static double
emit_once(enum front fe, const struct front_state *fs, struct buf *raw)
{
	struct out	 out;
	struct sink	 sink;
	void		*e;
	double		 t0;
	int		 rc;

	buf_reset(raw);
	memset(&sink, 0, sizeof(sink));
	t0 = now_s();
	out_init_buf(&out, raw);
	switch (fe) {
	case FE_ANTHROPIC:
		e = anthropic_emit_stream(&out, &sink);
		rc = answer_play(&sink);
		anthropic_emit_free(e);
		break;
	case FE_CHAT:
		e = openai_chat_emit_stream(&out, &sink,
		    fs->chat.include_usage);
		rc = answer_play(&sink);
		openai_chat_emit_free(e);
		break;
	case FE_RESPONSES:
		e = openai_responses_emit_stream(&out, &sink, &fs->responses);
		rc = answer_play(&sink);
		openai_responses_emit_free(e);
		break;
	case FE_GEMINI:
		e = gemini_emit_new(GEMINI_EMIT_SSE, &out, &sink, &fs->gemini);
		rc = answer_play(&sink);
		gemini_emit_free(e);
		break;
	default:
		abort();
	}
	t0 = now_s() - t0;
	if (rc != 0 || out.failed) {
		fprintf(stderr, "bench-core: the %s emitter failed\n",
		    front_names[fe]);
		exit(1);
	}
	return t0;
}

/* Each front end's streaming emitter on the same answer, in turns. */
static json_object *
bench_emit(const struct front_state fs[])
{
	static const char *const sentinels[] = { TEXT_SENTINEL,
	    THINKING_SENTINEL, "Read", "Bash", NULL };
	struct buf	 raw = BUF_INIT;
	double		 per[FE__MAX][MAX_ROUNDS], t0, spent, one, total;
	size_t		 bytes[FE__MAX], rounds, f, i, n;
	json_object	*o = json_object_new_object(), *fo;

	answer_make();
	for (f = 0; f < FE__MAX; f++) {
		for (i = 0; i < 20; i++)		/* warm-up */
			(void)emit_once(f, &fs[f], &raw);
		bytes[f] = raw.len;
		dump("answer", f, "txt", raw.ptr, raw.len);
		for (i = 0; sentinels[i] != NULL; i++)
			if (memmem(raw.ptr, raw.len, sentinels[i],
			    strlen(sentinels[i])) == NULL) {
				fprintf(stderr, "bench-core: the %s emitter's "
				    "answer lacks \"%s\"\n", front_names[f],
				    sentinels[i]);
				exit(1);
			}
	}
	for (rounds = 0, spent = 0; rounds < 10 && (rounds < 3 ||
	    spent < seconds_per_test); rounds++)
		for (f = 0; f < FE__MAX; f++) {
			t0 = now_s();
			one = 0;
			for (n = 0; now_s() - t0 < seconds_per_test / 5; n++)
				one += emit_once(f, &fs[f], &raw);
			spent += (now_s() - t0) / FE__MAX;
			per[f][rounds] = one / (double)n;
		}
	json_object_object_add(o, "rounds", json_object_new_int((int)rounds));
	json_object_object_add(o, "text_deltas", json_object_new_int(
	    ANSWER_TEXT_DELTAS));
	json_object_object_add(o, "thinking_deltas", json_object_new_int(
	    ANSWER_THINKING_DELTAS));
	json_object_object_add(o, "tool_calls", json_object_new_int(
	    ANSWER_TOOLS));
	for (f = 0; f < FE__MAX; f++) {
		fo = json_object_new_object();
		total = median(per[f], rounds);
		json_object_object_add(fo, "output_bytes",
		    json_object_new_int64((int64_t)bytes[f]));
		json_object_object_add(fo, "us_per_answer",
		    json_object_new_double(total * 1e6));
		json_object_object_add(fo, "answers_per_s",
		    json_object_new_double(1.0 / total));
		json_object_object_add(fo, "mb_s", json_object_new_double(
		    (double)bytes[f] / MB / total));
		json_object_object_add(o, front_names[f], fo);
	}
	buf_free(&raw);
	answer_free();
	return o;
}

/*
 * Request conversion and answer emission of every front end for the
 * builder's conversation, after checking that each translation holds the
 * same conversation.
 */
static void
bench_frontends(json_object *out, const char *fixture)
{
	struct conv_shape	 shape[FE__MAX];
	struct front_state	 fs[FE__MAX];
	json_object		*body, *kiro[FE__MAX];
	char			*reqs[FE__MAX];
	size_t			 lens[FE__MAX], f;

	reqs[FE_ANTHROPIC] = make_request(fixture, 6, &lens[FE_ANTHROPIC]);
	if (json_parse(reqs[FE_ANTHROPIC], lens[FE_ANTHROPIC], 256, &body,
	    NULL) != KF_OK) {
		fprintf(stderr, "bench-core: the builder's request is not "
		    "JSON\n");
		exit(1);
	}
	bench_model = xstrdup(json_object_get_string(json_object_object_get(
	    body, "model")));
	for (f = FE_ANTHROPIC + 1; f < FE__MAX; f++)
		reqs[f] = translate(body, f, &lens[f]);
	json_object_put(body);
	for (f = 0; f < FE__MAX; f++) {
		dump("request", f, "json", reqs[f], lens[f]);
		front_check(f, reqs[f], lens[f], &shape[f], &kiro[f], &fs[f]);
		if (memcmp(&shape[f], &shape[FE_ANTHROPIC],
		    sizeof(shape[f])) != 0) {
			fprintf(stderr, "bench-core: the %s request converts "
			    "to %zu messages (%zu texts, %zu tool uses, %zu "
			    "results), %zu tools, %zu bytes of system prompt; "
			    "anthropic to %zu (%zu, %zu, %zu), %zu, %zu\n",
			    front_names[f], shape[f].msgs, shape[f].texts,
			    shape[f].uses, shape[f].results, shape[f].tools,
			    shape[f].system_len, shape[0].msgs, shape[0].texts,
			    shape[0].uses, shape[0].results, shape[0].tools,
			    shape[0].system_len);
			exit(1);
		}
		/* The same conversation makes the same Kiro request. */
		if (!json_object_equal(kiro[f], kiro[FE_ANTHROPIC])) {
			fprintf(stderr, "bench-core: the %s request makes "
			    "another Kiro body than the anthropic one (see "
			    "-d)\n", front_names[f]);
			exit(1);
		}
	}
	for (f = 0; f < FE__MAX; f++)
		json_object_put(kiro[f]);
	json_object_object_add(out, "request_conversion", bench_convert(reqs,
	    lens));
	json_object_object_add(json_object_object_get(out,
	    "request_conversion"), "messages", json_object_new_int64(
	    (int64_t)shape[0].msgs));
	json_object_object_add(json_object_object_get(out,
	    "request_conversion"), "tools", json_object_new_int64(
	    (int64_t)shape[0].tools));
	json_object_object_add(out, "answer_emission", bench_emit(fs));
	for (f = 0; f < FE__MAX; f++) {
		front_state_free(&fs[f]);
		free(reqs[f]);
	}
	free(bench_model);
	bench_model = NULL;
}

/* --- store ------------------------------------------------------------------ */

struct series {
	double	*v;
	size_t	 n;
};

static json_object *
series_json(struct series *s)
{
	json_object	*o = json_object_new_object();
	double		 sum = 0;
	size_t		 i;

	for (i = 0; i < s->n; i++)
		sum += s->v[i];
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	json_object_object_add(o, "mean_us", json_object_new_double(
	    s->n ? sum / (double)s->n * 1e6 : 0));
	json_object_object_add(o, "p50_us", json_object_new_double(
	    percentile(s->v, s->n, 50) * 1e6));
	json_object_object_add(o, "p99_us", json_object_new_double(
	    percentile(s->v, s->n, 99) * 1e6));
	return o;
}

static json_object *
bench_store_in(const char *parent, size_t n)
{
	struct store		*st = NULL;
	struct config		*cfg = NULL;
	struct cred		 c, got;
	struct import_result	 res;
	struct pool_pick_req	 pick;
	struct account		 acct;
	struct series		 s_pick, s_read, s_report, s_all;
	char			*dir, *why = NULL;
	double			 t0, t1, t2, t3, t_start;
	unsigned long		 txn0, txns = 0;
	size_t			 i;
	json_object		*o = json_object_new_object();

	dir = xasprintf("%s/kiro-bench-store.XXXXXX", parent);
	if (mkdtemp(dir) == NULL) {
		json_object_object_add(o, "error", json_object_new_string(
		    strerror(errno)));
		free(dir);
		return o;
	}
	json_object_object_add(o, "dir", json_object_new_string(parent));
	if (store_open(&st, dir, &why) != KF_OK ||
	    config_parse("{}", 2, NULL, &cfg, NULL, &why) != KF_OK)
		goto fail;
	cred_init(&c);
	c.refresh_token = xstrdup("aor-bench-refresh-token-"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	c.access_token = xstrdup("aoa-bench-access-token");
	c.expires_at = clock_now() + 86400;
	if (accounts_import(st, &c, 1, &res, &why) != KF_OK)
		goto fail;
	cred_free(&c);

	s_pick.v = xcalloc(n, sizeof(double));
	s_read.v = xcalloc(n, sizeof(double));
	s_report.v = xcalloc(n, sizeof(double));
	s_all.v = xcalloc(n, sizeof(double));
	s_pick.n = s_read.n = s_report.n = s_all.n = n;
	t_start = now_s();
	for (i = 0; i < n + 20; i++) {
		/* A slow disk (fsync per write) gets a time limit instead. */
		if (i >= 120 && now_s() - t_start > 2 * seconds_per_test) {
			n = i - 20;
			break;
		}
		memset(&pick, 0, sizeof(pick));
		pick.model_id = "claude-sonnet-4.5";
		txn0 = store_txn_count();
		t0 = now_s();
		if (pool_pick(st, cfg, &pick, &acct, &why) != KF_OK)
			goto fail;
		t1 = now_s();
		/* As the relay does: the picked account is read already. */
		cred_init(&got);
		if (refresh_needed(&acct.cred, REFRESH_AHEAD_REQUEST,
		    clock_now()) && refresh_ensure(st, NULL, cfg, acct.cred.id,
		    REFRESH_AHEAD_REQUEST, NULL, &got, &why) != KF_OK)
			goto fail;
		t2 = now_s();
		if (pool_report(st, cfg, &acct, POOL_SUCCESS, NULL, &why) != KF_OK)
			goto fail;
		t3 = now_s();
		account_free(&acct);
		cred_free(&got);
		if (i < 20)
			continue;	/* warm-up */
		txns += store_txn_count() - txn0;
		s_pick.v[i - 20] = t1 - t0;
		s_read.v[i - 20] = t2 - t1;
		s_report.v[i - 20] = t3 - t2;
		s_all.v[i - 20] = t3 - t0;
	}
	(void)pool_flush(st, NULL);
	s_pick.n = s_read.n = s_report.n = s_all.n = n;
	json_object_object_add(o, "n", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "pool_pick", series_json(&s_pick));
	json_object_object_add(o, "refresh_read", series_json(&s_read));
	json_object_object_add(o, "pool_report", series_json(&s_report));
	json_object_object_add(o, "per_request", series_json(&s_all));
	json_object_object_add(o, "txns_per_request", json_object_new_double(
	    n > 0 ? (double)txns / (double)n : 0));
	free(s_pick.v);
	free(s_read.v);
	free(s_report.v);
	free(s_all.v);
	goto out;
fail:
	json_object_object_add(o, "error", json_object_new_string(
	    why != NULL ? why : "failed"));
out:
	free(why);
	config_free(cfg);
	store_close(st);
	{
		/* Only what store_open and the locks created. */
		static const char *const names[] = { "kiro.db", "kiro.db.lock",
		    "refresh-1.lock" };
		char	*p;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			p = xasprintf("%s/%s", dir, names[i]);
			(void)unlink(p);
			free(p);
		}
		(void)rmdir(dir);
	}
	free(dir);
	return o;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* Removes a scratch directory and what the store made in it. */
static void
tu_rmrf_dir(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The cost of choosing an account with 1, 10 and 100 accounts in the
 * store, per mode: priority (a read transaction), balanced with a sticky
 * session (a read, plus a write every POOL_STICKY_TOUCH s), round-robin
 * and with rate limits on (a write transaction on every pick).  The last
 * two also run with synced set, where store_sync_always makes the pick's
 * unsynced write fsync as it did before STORE_WRITE_NOSYNC: the baseline.
 * Rate limits are realistic (120 a minute per account, 1200 in all) and
 * the fake clock moves a second per pick, so that the logs hold what they
 * would in service (at most a minute's requests) and the limit is never
 * reached; without that, a faster run would carry longer logs.
 */
static json_object *
bench_pool_one(const char *parent, size_t n_accts, const char *mode,
    const char *cfg_text, const char *session, int synced)
{
	struct store		*st = NULL;
	struct config		*cfg = NULL;
	struct cred		*creds;
	struct import_result	*res;
	struct pool_pick_req	 pick;
	struct account		 acct;
	struct series		 s;
	char			*dir, *why = NULL;
	double			 t0, t_start;
	long			 txns = 0;
	size_t			 i, n = 0, max_n = 5000;
	int			 step_clock;
	json_object		*o = json_object_new_object();

	step_clock = strstr(cfg_text, "rateLimits") != NULL;
	json_object_object_add(o, "accounts", json_object_new_int64(
	    (int64_t)n_accts));
	json_object_object_add(o, "mode", json_object_new_string(mode));
	json_object_object_add(o, "synced", json_object_new_boolean(synced));
	dir = xasprintf("%s/kiro-bench-pool.XXXXXX", parent);
	if (mkdtemp(dir) == NULL) {
		json_object_object_add(o, "error", json_object_new_string(
		    strerror(errno)));
		free(dir);
		return o;
	}
	if (store_open(&st, dir, &why) != KF_OK ||
	    config_parse(cfg_text, strlen(cfg_text), NULL, &cfg, NULL, &why) !=
	    KF_OK)
		goto fail;
	store_sync_always(st, synced);
	creds = xcalloc(n_accts, sizeof(*creds));
	res = xcalloc(n_accts, sizeof(*res));
	for (i = 0; i < n_accts; i++) {
		cred_init(&creds[i]);
		creds[i].refresh_token = xasprintf("aor-bench-pool-%06zu-"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", i);
		creds[i].access_token = xstrdup("aoa-bench-access-token");
		creds[i].expires_at = clock_now() + 86400;
		creds[i].priority = (long)(i % 7);
	}
	if (accounts_import(st, creds, n_accts, res, &why) != KF_OK) {
		for (i = 0; i < n_accts; i++)
			cred_free(&creds[i]);
		free(creds);
		free(res);
		goto fail;
	}
	for (i = 0; i < n_accts; i++)
		cred_free(&creds[i]);
	free(creds);
	free(res);

	s.v = xcalloc(max_n, sizeof(double));
	t_start = now_s();
	for (i = 0; i < max_n + 20; i++) {
		if (i >= 120 && now_s() - t_start > seconds_per_test / 3)
			break;
		memset(&pick, 0, sizeof(pick));
		pick.model_id = "claude-sonnet-4.5";
		pick.session = session;
		if (step_clock)
			clock_set_offset((time_t)i);
		t0 = now_s();
		if (pool_pick(st, cfg, &pick, &acct, &why) != KF_OK) {
			free(s.v);
			goto fail;
		}
		if (i >= 20) {
			s.v[n++] = now_s() - t0;
			txns += pool_pick_txns();
		}
		(void)pool_report(st, cfg, &acct, POOL_SUCCESS, NULL, NULL);
		account_free(&acct);
	}
	(void)pool_flush(st, NULL);
	s.n = n;
	json_object_object_add(o, "n", json_object_new_int64((int64_t)n));
	json_object_object_add(o, "txns_per_pick", json_object_new_double(
	    n > 0 ? (double)txns / (double)n : 0));
	json_object_object_add(o, "pick", series_json(&s));
	free(s.v);
	goto out;
fail:
	json_object_object_add(o, "error", json_object_new_string(
	    why != NULL ? why : "failed"));
out:
	clock_set_offset(0);
	free(why);
	config_free(cfg);
	store_close(st);
	tu_rmrf_dir(dir);
	free(dir);
	return o;
}

static json_object *
bench_pool(const char *parent)
{
	static const size_t	 sizes[] = { 1, 10, 100 };
	static const char	 rr[] = "{\"loadBalancingMode\":\"round-robin\"}";
	static const char	 rl[] = "{\"rateLimits\":{\"perAccountRpm\":"
	    "120,\"globalRpm\":1200}}";
	json_object		*arr = json_object_new_array();
	size_t			 i;
	int			 synced;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		json_object_array_add(arr, bench_pool_one(parent, sizes[i],
		    "priority", "{}", NULL, 0));
		json_object_array_add(arr, bench_pool_one(parent, sizes[i],
		    "balanced+session", "{\"loadBalancingMode\":\"balanced\"}",
		    "bench-session", 0));
		/* Synced first: the baseline, then the same without fsync. */
		for (synced = 1; synced >= 0; synced--) {
			json_object_array_add(arr, bench_pool_one(parent,
			    sizes[i], "round-robin", rr, NULL, synced));
			json_object_array_add(arr, bench_pool_one(parent,
			    sizes[i], "rate-limited", rl, NULL, synced));
		}
	}
	return arr;
}

#define PAIRS	50000

/* The most alternating pairs the message cap lets through. */
#define PAIRS_AT_CAPS	((CONV_MAX_MESSAGES - 1) / 2)

/*
 * A conv of n_pairs tool_use/tool_result pairs and a last user text;
 * one_turn puts every use in one assistant turn and every result in the
 * next.
 */
static void
pairs_conv(struct conv *c, size_t n_pairs, int one_turn)
{
	struct conv_msg		*m = NULL;
	struct conv_block	*b, *text;
	char			 id[40];
	size_t			 i;

	conv_init(c);
	c->model = xstrdup("claude-sonnet-4-5");
	c->kiro_model = "claude-sonnet-4.5";
	for (i = 0; i < n_pairs; i++) {
		snprintf(id, sizeof(id), "tooluse_pair%07zu", i);
		if (!one_turn || i == 0)
			m = conv_add_msg(c, CONV_ROLE_ASSISTANT);
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
		b->id = xstrdup(id);
		b->name = xstrdup(i % 2 ? "Read" : "Bash");
		b->input = json_object_new_object();
		if (one_turn)
			continue;
		m = conv_add_msg(c, CONV_ROLE_USER);
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
		b->id = xstrdup(id);
		text = conv_block_add_content(b, CONV_BLOCK_TEXT);
		text->text = xstrdup("ok");
	}
	if (one_turn) {
		m = conv_add_msg(c, CONV_ROLE_USER);
		for (i = 0; i < n_pairs; i++) {
			snprintf(id, sizeof(id), "tooluse_pair%07zu", i);
			b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
			b->id = xstrdup(id);
			text = conv_block_add_content(b, CONV_BLOCK_TEXT);
			text->text = xstrdup("ok");
		}
	}
	m = conv_add_msg(c, CONV_ROLE_USER);
	b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
	b->text = xstrdup("What now?");
}

/* One request's work before the upstream call: seconds, *refused set. */
static double
pairs_once(size_t n_pairs, int one_turn, int *refused)
{
	struct conv		 conv;
	struct history_opts	 hopts;
	struct kiro_req_opts	 opts;
	struct buf		 out = BUF_INIT;
	char			*why = NULL;
	double			 t0, t1;

	pairs_conv(&conv, n_pairs, one_turn);
	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	memset(&opts, 0, sizeof(opts));
	opts.model_id = conv.kiro_model;
	*refused = 1;
	t0 = now_s();
	if (conv_check_limits(&conv, &why) == KF_OK &&
	    history_repair(&conv, &hopts, &why) == KF_OK &&
	    kiro_req_build(&conv, &opts, &out, NULL, &why) == KF_OK)
		*refused = 0;
	t1 = now_s();
	conv_free(&conv);
	buf_free(&out);
	free(why);
	return t1 - t0;
}

static void
bench_pairs(json_object *out)
{
	static const struct {
		const char	*name;
		size_t		 n_pairs;
		int		 one_turn;
	} shapes[] = {
		{ "alternating", PAIRS, 0 },
		{ "one_turn", PAIRS, 1 },
		{ "at_caps", PAIRS_AT_CAPS, 0 },
	};
	json_object	*row, *shape;
	double		 times[MAX_ROUNDS], start;
	size_t		 n, s;
	int		 refused = 0;

	row = json_object_new_object();
	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		start = now_s();
		n = 0;
		do
			times[n++] = pairs_once(shapes[s].n_pairs,
			    shapes[s].one_turn, &refused);
		while (n < MAX_ROUNDS && now_s() - start < seconds_per_test);
		shape = json_object_new_object();
		json_object_object_add(shape, "ms", json_object_new_double(
		    median(times, n) * 1000));
		json_object_object_add(shape, "refused",
		    json_object_new_boolean(refused));
		json_object_object_add(shape, "rounds",
		    json_object_new_int((int)n));
		json_object_object_add(shape, "pairs",
		    json_object_new_int((int)shapes[s].n_pairs));
		json_object_object_add(row, shapes[s].name, shape);
	}
	json_object_object_add(out, "pairs", row);
}

#define TRIM_TURNS	5000
#define TRIM_MAX_BYTES	600000

/*
 * A Claude Code-like session of n_turns turns within the caps: each user
 * message answers the previous tool use (a 2 KB file) and asks again
 * (600 B), each assistant message uses a tool; the last is the question.
 */
static void
trim_conv(struct conv *c, size_t n_turns)
{
	struct conv_msg		*m;
	struct conv_block	*b;
	char			 id[40], ask[700], file[2100];
	size_t			 i;

	conv_init(c);
	c->model = xstrdup("claude-sonnet-4-5");
	c->kiro_model = "claude-sonnet-4.5";
	memset(file, 'x', sizeof(file) - 1);
	file[sizeof(file) - 1] = '\0';
	memcpy(file, "int main(void)\n{\n\treturn 0;\n}\n", 30);
	for (i = 0; i + 1 < n_turns; i++) {
		m = conv_add_msg(c, CONV_ROLE_USER);
		if (i > 0) {
			b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
			snprintf(id, sizeof(id), "tooluse_trim%07zu", i - 1);
			b->id = xstrdup(id);
			conv_block_add_content(b, CONV_BLOCK_TEXT)->text =
			    xstrdup(file);
		}
		snprintf(ask, sizeof(ask), "Step %zu: now look at \"the next "
		    "file\" and say what it does.\n%0560d", i, 0);
		conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xstrdup(ask);
		m = conv_add_msg(c, CONV_ROLE_ASSISTANT);
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
		snprintf(id, sizeof(id), "tooluse_trim%07zu", i);
		b->id = xstrdup(id);
		b->name = xstrdup("Read");
		b->input = json_object_new_object();
		snprintf(ask, sizeof(ask), "/src/module_%zu/file.c", i);
		json_object_object_add(b->input, "file_path",
		    json_object_new_string(ask));
	}
	m = conv_add_msg(c, CONV_ROLE_USER);
	b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
	snprintf(id, sizeof(id), "tooluse_trim%07zu", n_turns - 2);
	b->id = xstrdup(id);
	conv_block_add_content(b, CONV_BLOCK_TEXT)->text = xstrdup(file);
	conv_msg_add_block(m, CONV_BLOCK_TEXT)->text = xstrdup("What now?");
}

/*
 * history.maxPayloadBytes at work: a 5000-turn session (the caps let it
 * through) trimmed to 600 KB as the relay does (history_build_within
 * after history_repair): ms, builds, turns dropped, body sizes.
 */
static void
bench_trim(json_object *out)
{
	struct conv		 conv, whole;
	struct history_opts	 hopts;
	struct history_fit	 fit;
	struct kiro_req_opts	 opts;
	struct buf		 body = BUF_INIT;
	json_object		*row;
	double			 times[MAX_ROUNDS], start, t0;
	size_t			 n = 0, full_bytes = 0;
	char			*why = NULL;
	int			 refused = 0, failed = 0;

	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	memset(&opts, 0, sizeof(opts));
	opts.model_id = "claude-sonnet-4.5";
	memset(&fit, 0, sizeof(fit));
	start = now_s();
	do {
		trim_conv(&conv, TRIM_TURNS);
		if (n == 0) {
			/* The untrimmed body, from a conv of its own. */
			refused = conv_check_limits(&conv, &why) != KF_OK;
			trim_conv(&whole, TRIM_TURNS);
			if (history_repair(&whole, &hopts, &why) == KF_OK &&
			    kiro_req_build(&whole, &opts, &body, NULL, &why) ==
			    KF_OK)
				full_bytes = body.len;
			conv_free(&whole);
		}
		t0 = now_s();
		if (history_repair(&conv, &hopts, &why) != KF_OK ||
		    history_build_within(&conv, &hopts, &opts,
		    TRIM_MAX_BYTES, &body, NULL, &fit, &why) != KF_OK)
			failed = 1;
		times[n++] = now_s() - t0;
		conv_free(&conv);
	} while (!failed && n < MAX_ROUNDS &&
	    now_s() - start < seconds_per_test);
	row = json_object_new_object();
	json_object_object_add(row, "turns", json_object_new_int(TRIM_TURNS));
	json_object_object_add(row, "max_bytes",
	    json_object_new_int(TRIM_MAX_BYTES));
	json_object_object_add(row, "untrimmed_bytes",
	    json_object_new_int64((int64_t)full_bytes));
	json_object_object_add(row, "refused_by_caps",
	    json_object_new_boolean(refused));
	if (failed)
		json_object_object_add(row, "error", json_object_new_string(
		    why != NULL ? why : "failed"));
	json_object_object_add(row, "ms", json_object_new_double(
	    median(times, n) * 1000));
	json_object_object_add(row, "rounds", json_object_new_int((int)n));
	json_object_object_add(row, "builds",
	    json_object_new_int((int)fit.builds));
	json_object_object_add(row, "turns_dropped",
	    json_object_new_int((int)fit.turns_dropped));
	json_object_object_add(row, "body_bytes",
	    json_object_new_int64((int64_t)body.len));
	json_object_object_add(out, "trim", row);
	buf_free(&body);
	free(why);
}

#define OVERFLOW_TURNS	500
#define OVERFLOW_WINDOW	200000

/*
 * history.onOverflow at work on a 500-turn session: truncation to a
 * 200k window, and the stored summary's lookup (anchor and summary read
 * in one transaction, the prefix digested and taken): ms, medians.
 */
static void
bench_overflow(json_object *out, const char *parent)
{
	struct conv		 conv, old;
	struct history_opts	 hopts;
	struct store		*st = NULL;
	json_object		*row;
	double			 t_trunc[MAX_ROUNDS], t_find[MAX_ROUNDS];
	double			 t_est[MAX_ROUNDS];
	double			 start, t0;
	size_t			 n = 0, m = 0, dropped = 0, n_prefix = 0;
	long			 before = 0, after = 0;
	char			*why = NULL, *dir, *summary = NULL, hex[65];
	char			 anchor[65];
	int			 failed = 0, hit = 0;

	memset(&hopts, 0, sizeof(hopts));
	hopts.max_image_msgs = HISTORY_DEFAULT_MAX_IMAGE_MSGS;
	start = now_s();
	do {
		trim_conv(&conv, OVERFLOW_TURNS);
		if (history_repair(&conv, &hopts, &why) != KF_OK)
			failed = 1;
		t0 = now_s();
		before = tokens_count_conv(&conv);
		t_est[n] = now_s() - t0;
		after = before;	/* the relay has it too */
		t0 = now_s();
		if (!failed && overflow_truncate(&conv, overflow_budget(
		    OVERFLOW_WINDOW), &dropped, &after, &why) != KF_OK)
			failed = 1;
		t_trunc[n++] = now_s() - t0;
		conv_free(&conv);
	} while (!failed && n < MAX_ROUNDS &&
	    now_s() - start < seconds_per_test);

	/* A stored summary of the oldest 400 messages, then its lookups. */
	dir = xasprintf("%s/bench-overflow-%ld", parent, (long)getpid());
	if (!failed && store_open(&st, dir, &why) == KF_OK) {
		trim_conv(&conv, OVERFLOW_TURNS);
		(void)history_repair(&conv, &hopts, &why);
		conv_init(&old);
		old.msgs = &conv.msgs[1];	/* borrowed view */
		old.n_msgs = 400;
		overflow_digest(&old, 400, hex);
		(void)overflow_anchor(&conv, anchor);
		if (overflow_cache_put(st, anchor, 400, hex, "a summary",
		    (long)clock_now(), &why) != KF_OK)
			failed = 1;
		conv_free(&conv);
		start = now_s();
		while (!failed && m < MAX_ROUNDS &&
		    now_s() - start < seconds_per_test) {
			trim_conv(&conv, OVERFLOW_TURNS);
			conv_init(&old);
			t0 = now_s();
			hit = overflow_anchor(&conv, anchor) == 0 &&
			    overflow_cache_find(st, anchor, (long)clock_now(),
			    &n_prefix, hex, &summary) == KF_OK &&
			    overflow_take_prefix(&conv, n_prefix, hex, &old);
			t_find[m++] = now_s() - t0;
			free(summary);
			summary = NULL;
			conv_free(&old);
			conv_free(&conv);
		}
		store_close(st);
	} else
		failed = 1;
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);

	row = json_object_new_object();
	json_object_object_add(row, "turns",
	    json_object_new_int(OVERFLOW_TURNS));
	json_object_object_add(row, "window",
	    json_object_new_int(OVERFLOW_WINDOW));
	json_object_object_add(row, "estimate_before",
	    json_object_new_int64(before));
	json_object_object_add(row, "estimate_after",
	    json_object_new_int64(after));
	json_object_object_add(row, "dropped", json_object_new_int64(
	    (int64_t)dropped));
	json_object_object_add(row, "truncate_ms", json_object_new_double(
	    median(t_trunc, n) * 1000));
	json_object_object_add(row, "estimate_ms", json_object_new_double(
	    median(t_est, n) * 1000));
	json_object_object_add(row, "cache_hit", json_object_new_boolean(hit));
	json_object_object_add(row, "cache_lookup_ms", json_object_new_double(
	    median(t_find, m) * 1000));
	json_object_object_add(row, "rounds", json_object_new_int((int)n));
	if (failed)
		json_object_object_add(row, "error", json_object_new_string(
		    why != NULL ? why : "failed"));
	json_object_object_add(out, "overflow", row);
	free(why);
}

/* --- the request log (issue 11) ------------------------------------------ */

static double
cpu_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A record like a served Anthropic request's: every field set. */
static struct flowrec
flow_sample(char id[17])
{
	struct flowrec	r;

	memset(&r, 0, sizeof(r));
	r.t_ms = flowlog_now_ms();
	r.id = id;
	r.key = "default";
	r.api = "anthropic";
	r.method = "POST";
	r.route = "/v1/messages";
	r.model = "claude-sonnet-4-5-20250929";
	r.kiro_model = "claude-sonnet-4.5";
	r.stream = 1;
	r.account_id = 3;
	r.status = 200;
	r.attempts = 1;
	r.latency_ms = 1843;
	r.ttfb_ms = 412;
	r.input_tokens = 18231;
	r.output_tokens = 512;
	r.request_bytes = 84211;
	r.answer_bytes = 9120;
	return r;
}

/*
 * Appends records for `seconds` (wall) into dir with the default options
 * (1 MB segments, so rotations and pruning are in the figure): CPU and
 * wall seconds per record, and how many.
 */
static void
flow_append_loop(const char *dir, double seconds, double *cpu_per,
    double *wall_per, size_t *count)
{
	struct flowlog_opts	 o;
	struct flowrec		 r;
	char			 id[17], *why = NULL;
	double			 t0, c0;
	size_t			 n;

	memset(&o, 0, sizeof(o));
	o.enabled = 1;
	o.max_records = 100000;
	o.max_age_days = 30;
	o.body_max_bytes = 16384;
	o.segment_bytes = FLOWLOG_SEGMENT_BYTES;
	t0 = now_s();
	c0 = cpu_s();
	for (n = 0; n < 200 || now_s() - t0 < seconds; n++) {
		(void)snprintf(id, sizeof(id), "%08zx", n);
		r = flow_sample(id);
		if (flowlog_append(dir, &o, &r, &why) != KF_OK) {
			fprintf(stderr, "bench-core: flowlog_append: %s\n",
			    why);
			exit(1);
		}
	}
	*cpu_per = (cpu_s() - c0) / (double)n;
	*wall_per = (now_s() - t0) / (double)n;
	*count = n;
}

/*
 * flowlog_append's CPU per record, alone and with two processes appending
 * to the same log at once (no lock per record: the second should cost no
 * more), and flowlog_format alone.
 */
static void
bench_flowlog(json_object *out, const char *parent)
{
	json_object	*o = json_object_new_object(), *two;
	struct buf	 line = BUF_INIT;
	struct flowlog_opts opts;
	struct flowrec	 r;
	char		*dir, *flows, id[17] = "0123abcd";
	double		 cpu_per, wall_per, t0, c0, results[2][2];
	size_t		 n, i;
	pid_t		 pids[2];
	int		 fds[2][2], status;

	dir = xasprintf("%s/kiro-bench-flows.XXXXXX", parent);
	if (mkdtemp(dir) == NULL) {
		json_object_object_add(o, "error", json_object_new_string(
		    strerror(errno)));
		goto out;
	}
	flows = xasprintf("%s/flows", dir);
	memset(&opts, 0, sizeof(opts));
	c0 = cpu_s();
	t0 = now_s();
	for (n = 0; n < 1000 || now_s() - t0 < seconds_per_test / 4; n++) {
		r = flow_sample(id);
		buf_reset(&line);
		flowlog_format(&opts, &r, &line);
	}
	json_object_object_add(o, "format_us", json_object_new_double(
	    (cpu_s() - c0) / (double)n * 1e6));
	json_object_object_add(o, "record_bytes", json_object_new_int64(
	    (int64_t)line.len));
	flow_append_loop(flows, seconds_per_test, &cpu_per, &wall_per, &n);
	json_object_object_add(o, "us_cpu_per_record",
	    json_object_new_double(cpu_per * 1e6));
	json_object_object_add(o, "us_wall_per_record",
	    json_object_new_double(wall_per * 1e6));
	json_object_object_add(o, "records", json_object_new_int64((int64_t)n));
	/* Two processes at once, each reporting its own figures by a pipe. */
	for (i = 0; i < 2; i++) {
		if (pipe(fds[i]) == -1 || (pids[i] = fork()) == -1) {
			fprintf(stderr, "bench-core: fork: %s\n",
			    strerror(errno));
			exit(1);
		}
		if (pids[i] == 0) {
			flow_append_loop(flows, seconds_per_test, &cpu_per,
			    &wall_per, &n);
			results[0][0] = cpu_per;
			results[0][1] = wall_per;
			if (write(fds[i][1], results[0], sizeof(results[0])) !=
			    (ssize_t)sizeof(results[0]))
				_exit(1);
			_exit(0);
		}
		close(fds[i][1]);
	}
	two = json_object_new_array();
	for (i = 0; i < 2; i++) {
		if (read(fds[i][0], results[i], sizeof(results[i])) !=
		    (ssize_t)sizeof(results[i]) ||
		    waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench-core: a flowlog writer "
			    "failed\n");
			exit(1);
		}
		close(fds[i][0]);
		json_object_array_add(two, json_object_new_double(
		    results[i][0] * 1e6));
	}
	json_object_object_add(o, "two_procs_us_cpu_per_record", two);
	free(flows);
	tu_rmrf_dir(dir);
out:
	free(dir);
	buf_free(&line);
	json_object_object_add(out, "flowlog", o);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench-core -f FIXTURE [-s STATE_PARENT_DIR]... "
	    "[-t SECONDS] [-n STORE_N] [-d DUMP_DIR]\n"
	    "       bench-core -p [-t SECONDS]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*fixture = NULL, *dirs[8];
	size_t		 n_dirs = 0, store_n = 2000, i;
	json_object	*out, *stores;
	char		*end;
	int		 ch, only_pairs = 0;

	log_init("bench-core", LOG_LEVEL_WARN);
	while ((ch = getopt(argc, argv, "d:f:ps:t:n:")) != -1) {
		switch (ch) {
		case 'p':
			only_pairs = 1;
			break;
		case 'd':
			dump_dir = optarg;
			break;
		case 'f':
			fixture = optarg;
			break;
		case 's':
			if (n_dirs == sizeof(dirs) / sizeof(dirs[0]))
				usage();
			dirs[n_dirs++] = optarg;
			break;
		case 't':
			seconds_per_test = strtod(optarg, &end);
			if (*end != '\0' || seconds_per_test <= 0 ||
			    seconds_per_test > 60)
				usage();
			break;
		case 'n':
			store_n = strtoul(optarg, &end, 10);
			if (*end != '\0' || store_n < 10 || store_n > 1000000)
				usage();
			break;
		default:
			usage();
		}
	}
	if ((fixture == NULL && !only_pairs) || optind != argc)
		usage();
	if (n_dirs == 0)
		dirs[n_dirs++] = getenv("TMPDIR") != NULL ? getenv("TMPDIR") :
		    "/tmp";

	out = json_object_new_object();
	if (only_pairs) {
		bench_pairs(out);
		bench_trim(out);
		bench_overflow(out, dirs[0]);
		goto print;
	}
	bench_decoder(out);
	bench_builder(out, fixture);
	bench_preflight(out, fixture);
	bench_estimate(out, fixture);
	bench_frontends(out, fixture);
	stores = json_object_new_array();
	for (i = 0; i < n_dirs; i++)
		json_object_array_add(stores, bench_store_in(dirs[i], store_n));
	json_object_object_add(out, "store", stores);
	json_object_object_add(out, "pool", bench_pool(dirs[0]));
	bench_flowlog(out, dirs[0]);
	bench_pairs(out);
	bench_trim(out);
	bench_metrics(out, fixture, dirs[0]);
	bench_overflow(out, dirs[0]);
	bench_clientkeys(out, dirs[0]);
	bench_modelmap(out, dirs[0]);
print:
	printf("%s\n", json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	return 0;
}
