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
 *   store     the store work one request does (pool_pick, the token check,
 *             pool_report, which only tallies a plain success) against a
 *             fresh state
 *             directory under each -s DIR: µs per transaction, mean, p50
 *             and p99.
 * Each measurement runs for about -t seconds (default 1) after a warm-up
 * and reports the median of its rounds.  Output: one JSON object on stdout.
 *
 * Usage: bench-core -f FIXTURE [-s STATE_PARENT_DIR]... [-t SECONDS] [-n STORE_N]
 */

#include "autoconfig.h"

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "accounts.h"
#include "anthropic.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "conv.h"
#include "cred.h"
#include "eventstream.h"
#include "fileio.h"
#include "history.h"
#include "json.h"
#include "kiro_event.h"
#include "kiro_req.h"
#include "log.h"
#include "pool.h"
#include "refresh.h"
#include "store.h"
#include "xmalloc.h"

#define STREAM_BYTES	(8u * 1024 * 1024)
#define SLICE		4096
#define MAX_ROUNDS	64
#define MB		1e6

static double	seconds_per_test = 1.0;

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

static int
build_once(const char *req, size_t len, struct build_times *bt)
{
	struct conv		 conv;
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
	if (anthropic_parse(req, len, 0, &conv, &why) != KF_OK) {
		fprintf(stderr, "bench-core: anthropic_parse: %s\n", why);
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
		if (build_once(req, len, &bt) != 0)
			exit(1);
	for (rounds = 0, spent = 0; rounds < 10 && (rounds < 3 ||
	    spent < seconds_per_test); rounds++) {
		memset(&round[rounds], 0, sizeof(round[rounds]));
		t0 = now_s();
		for (n = 0; now_s() - t0 < seconds_per_test / 5; n++)
			if (build_once(req, len, &round[rounds]) != 0)
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

static void
usage(void)
{
	fprintf(stderr, "usage: bench-core -f FIXTURE [-s STATE_PARENT_DIR]... "
	    "[-t SECONDS] [-n STORE_N]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char	*fixture = NULL, *dirs[8];
	size_t		 n_dirs = 0, store_n = 2000, i;
	json_object	*out, *stores;
	char		*end;
	int		 ch;

	log_init("bench-core", LOG_LEVEL_WARN);
	while ((ch = getopt(argc, argv, "f:s:t:n:")) != -1) {
		switch (ch) {
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
	if (fixture == NULL || optind != argc)
		usage();
	if (n_dirs == 0)
		dirs[n_dirs++] = getenv("TMPDIR") != NULL ? getenv("TMPDIR") :
		    "/tmp";

	out = json_object_new_object();
	bench_decoder(out);
	bench_builder(out, fixture);
	stores = json_object_new_array();
	for (i = 0; i < n_dirs; i++)
		json_object_array_add(stores, bench_store_in(dirs[i], store_n));
	json_object_object_add(out, "store", stores);
	json_object_object_add(out, "pool", bench_pool(dirs[0]));
	printf("%s\n", json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	return 0;
}
