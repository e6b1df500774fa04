/* overflow.c: a conversation larger than the model's input window. */
#include "autoconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "conv.h"
#include "digest.h"
#include "json.h"
#include "overflow.h"
#include "store.h"
#include "tokens.h"
#include "xmalloc.h"

long
overflow_budget(long window)
{
	long	budget;

	budget = window - window / 100 * OVERFLOW_MARGIN_PCT;
	return budget < 1 ? 1 : budget;
}

int
overflow_exceeds(long estimate, long window)
{
	return window > 0 && estimate > overflow_budget(window);
}

char *
overflow_cause(long estimate, long window)
{
	return xasprintf("Context window is full: about %ld tokens, the "
	    "model's window is %ld. Reduce the conversation history, the "
	    "system prompt or the tools.", estimate, window);
}

static size_t
first_user(const struct conv *c)
{
	size_t	i;

	for (i = 0; i < c->n_msgs; i++)
		if (c->msgs[i].role == CONV_ROLE_USER)
			return i;
	return c->n_msgs;
}

/*
 * Where to cut: messages first + 1 up to the cut (excluded) go, the cut
 * being an assistant message after first + 1 and before the last
 * message, the first whose drop covers want (in shares), else the last
 * one; *shares is what it covers.  0 when there is none.
 */
static size_t
find_cut(const struct conv *c, size_t first, long want, long *shares)
{
	long		sum = 0;
	size_t		i, cut = 0;

	for (i = first + 1; i + 1 < c->n_msgs; i++) {
		if (i > first + 1 && c->msgs[i].role == CONV_ROLE_ASSISTANT) {
			cut = i;
			*shares = sum;
			if (sum >= want)
				break;
		}
		/* Each message's part of the estimate (tokens.h). */
		sum += tokens_count_msg(&c->msgs[i]);
	}
	return cut;
}

/*
 * Frees messages from up to to (excluded), or moves them to the end of
 * old when it is not NULL, and closes the gap in one move.
 */
static void
drop_range(struct conv *c, size_t from, size_t to, struct conv *old)
{
	size_t	i;

	if (old != NULL && to > from) {
		if (old->n_msgs + (to - from) > old->cap_msgs) {
			old->cap_msgs = old->n_msgs + (to - from) +
			    old->cap_msgs;
			old->msgs = xreallocarray(old->msgs, old->cap_msgs,
			    sizeof(*old->msgs));
		}
		memcpy(&old->msgs[old->n_msgs], &c->msgs[from],
		    (to - from) * sizeof(*c->msgs));
		old->n_msgs += to - from;
	} else
		for (i = from; i < to; i++)
			conv_msg_clear(&c->msgs[i]);
	memmove(&c->msgs[from], &c->msgs[to],
	    (c->n_msgs - to) * sizeof(*c->msgs));
	c->n_msgs -= to - from;
}

enum kf_err
overflow_truncate(struct conv *c, long budget, size_t *dropped, long *estimate,
    char **cause)
{
	return overflow_split(c, budget, NULL, dropped, estimate, cause);
}

enum kf_err
overflow_split(struct conv *c, long budget, struct conv *old, size_t *dropped,
    long *estimate, char **cause)
{
	double		scale = 1.0;
	long		est, prev, want, shares = 0;
	size_t		first, cut;
	int		round;

	*dropped = 0;
	est = *estimate > 0 ? *estimate : tokens_count_conv(c);
	for (round = 0; est > budget; round++) {
		first = first_user(c);
		/*
		 * The excess in shares: scale is what a token of the estimate
		 * cost in shares at the last cut (shares round up, and the
		 * texts' edges count a little differently alone), and a round
		 * after the third asks for twice as much each time, so the
		 * rounds stay few.
		 */
		want = (long)((double)(est - budget) * scale * 1.01) + 1;
		if (round >= 3)
			want <<= round - 2 < 20 ? round - 2 : 20;
		if (first >= c->n_msgs ||
		    (cut = find_cut(c, first, want, &shares)) == 0) {
			xsetprintf(cause, "Context window is full: about %ld "
			    "tokens with only the system prompt, the tools, "
			    "the first message and the last exchange left, "
			    "over the %ld the model's window allows. Reduce "
			    "the system prompt, the tools or the last "
			    "message.", est, budget);
			*estimate = est;
			return KF_ECONTEXT;
		}
		drop_range(c, first + 1, cut, old);
		*dropped += cut - (first + 1);
		prev = est;
		est = tokens_count_conv(c);
		if (prev > est && shares > prev - est)
			scale = (double)shares / (double)(prev - est);
	}
	*estimate = est;
	return KF_OK;
}

char *
overflow_describe(const struct overflow_report *rep, char *out, size_t size)
{
	if (size == 0)
		return out;
	out[0] = '\0';
	if (!rep->applied)
		return out;
	if (rep->mode == OVERFLOW_SUMMARIZE && !rep->fell_back &&
	    rep->dropped > 0)
		(void)snprintf(out, size, "summarized; turns=%zu; cached=%s; "
		    "dropped=%zu", rep->turns, rep->cached ? "yes" : "no",
		    rep->dropped);
	else if (rep->mode == OVERFLOW_SUMMARIZE && !rep->fell_back)
		(void)snprintf(out, size, "summarized; turns=%zu; cached=%s",
		    rep->turns, rep->cached ? "yes" : "no");
	else if (rep->fell_back)
		(void)snprintf(out, size, "truncated; dropped=%zu; "
		    "summary=failed", rep->dropped);
	else
		(void)snprintf(out, size, "truncated; dropped=%zu",
		    rep->dropped);
	return out;
}

/* Appends len and the bytes of s (NULL: a marker), so fields cannot blur. */
static void
digest_field(struct buf *b, const char *s)
{
	if (s == NULL) {
		buf_puts(b, "-;");
		return;
	}
	buf_printf(b, "%zu:", strlen(s));
	buf_puts(b, s);
}

static void
digest_block(struct buf *b, const struct conv_block *blk)
{
	size_t	i;

	buf_printf(b, "b%d", (int)blk->type);
	digest_field(b, blk->text);
	digest_field(b, blk->id);
	digest_field(b, blk->name);
	digest_field(b, blk->data);
	digest_field(b, blk->input != NULL ? json_object_to_json_string_ext(
	    blk->input, JSON_C_TO_STRING_PLAIN) : NULL);
	for (i = 0; i < blk->n_content; i++)
		digest_block(b, &blk->content[i]);
}

void
overflow_digest(const struct conv *c, size_t n, char out[65])
{
	struct buf	b = BUF_INIT;
	size_t		i, j;

	if (n > c->n_msgs)
		n = c->n_msgs;
	for (i = 0; i < n; i++) {
		buf_printf(&b, "m%d", (int)c->msgs[i].role);
		for (j = 0; j < c->msgs[i].n_blocks; j++)
			digest_block(&b, &c->msgs[i].blocks[j]);
	}
	sha256_hex(b.ptr != NULL ? b.ptr : "", b.len, out);
	buf_free(&b);
}

int
overflow_take_prefix(struct conv *c, size_t n, const char *hex,
    struct conv *old)
{
	struct conv	view;
	size_t		first = first_user(c);
	char		have[SHA256_HEX_LEN + 1];

	if (n == 0 || first >= c->n_msgs || first + 1 + n + 1 >= c->n_msgs ||
	    c->msgs[first + 1 + n].role != CONV_ROLE_ASSISTANT)
		return 0;
	conv_init(&view);
	view.msgs = &c->msgs[first + 1];	/* borrowed */
	view.n_msgs = n;
	overflow_digest(&view, n, have);
	if (strcmp(have, hex) != 0)
		return 0;
	drop_range(c, first + 1, first + 1 + n, old);
	return 1;
}

static void
transcript_block(struct buf *b, const struct conv_block *blk)
{
	size_t	i;

	switch (blk->type) {
	case CONV_BLOCK_TEXT:
		buf_printf(b, "%s\n", blk->text != NULL ? blk->text : "");
		break;
	case CONV_BLOCK_TOOL_USE:
		buf_printf(b, "[called tool %s with %s]\n",
		    blk->name != NULL ? blk->name : "?", blk->input != NULL ?
		    json_object_to_json_string_ext(blk->input,
		    JSON_C_TO_STRING_PLAIN) : "{}");
		break;
	case CONV_BLOCK_TOOL_RESULT:
		buf_printf(b, "[tool result%s]\n", blk->is_error ?
		    " (error)" : "");
		for (i = 0; i < blk->n_content; i++)
			transcript_block(b, &blk->content[i]);
		break;
	case CONV_BLOCK_IMAGE:
		buf_puts(b, "[an image]\n");
		break;
	case CONV_BLOCK_THINKING:
	case CONV_BLOCK__MAX:
		break;
	}
}

char *
overflow_transcript(const struct conv *old, size_t from, const char *previous,
    size_t max_bytes)
{
	struct buf	 body = BUF_INIT, out = BUF_INIT;
	size_t		 i, j, skip = 0;

	for (i = from; i < old->n_msgs; i++) {
		buf_puts(&body, old->msgs[i].role == CONV_ROLE_USER ?
		    "User:\n" : "Assistant:\n");
		for (j = 0; j < old->msgs[i].n_blocks; j++)
			transcript_block(&body, &old->msgs[i].blocks[j]);
	}
	/* The newest part is what the conversation goes on from. */
	if (max_bytes > 0 && body.len > max_bytes) {
		skip = body.len - max_bytes;
		while (skip < body.len &&
		    ((unsigned char)body.ptr[skip] & 0xc0) == 0x80)
			skip++;	/* not inside a UTF-8 character */
	}
	if (previous != NULL)
		buf_printf(&out, "Summary of what came before:\n%s\n\n",
		    previous);
	if (skip > 0)
		buf_puts(&out, "[the oldest part is left out]\n");
	if (body.len > skip)
		buf_append(&out, body.ptr + skip, body.len - skip);
	buf_free(&body);
	if (out.ptr == NULL)
		buf_puts(&out, "");
	return buf_detach(&out);
}

const char overflow_summary_prompt[] = "You summarise the earlier part of "
    "a conversation between a user and an AI coding assistant, which will "
    "continue the conversation from your summary without seeing those "
    "turns.  In at most 300 words, keep: the user's goals and "
    "instructions, decisions made, files, commands and names involved, "
    "tool results that still matter, and what was being done last.  Answer "
    "with the summary only.";

void
overflow_insert_summary(struct conv *c, const char *summary, size_t n_replaced)
{
	struct conv_msg		*m;
	struct conv_block	*b;
	size_t			 first = first_user(c);

	if (first >= c->n_msgs)
		return;
	m = conv_insert_msg(c, first + 1, CONV_ROLE_ASSISTANT);
	b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
	b->text = xasprintf("(The %zu messages that came next were "
	    "summarised to fit the context window.)", n_replaced);
	m = conv_insert_msg(c, first + 2, CONV_ROLE_USER);
	b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
	b->text = xasprintf("Summary of the earlier conversation:\n%s",
	    summary);
}

int
overflow_anchor(const struct conv *c, char out[65])
{
	struct conv	view;
	size_t		first = first_user(c);

	if (first + 1 >= c->n_msgs)
		return -1;
	conv_init(&view);
	view.msgs = &c->msgs[first];	/* borrowed */
	view.n_msgs = 2;
	overflow_digest(&view, 2, out);
	return 0;
}

/* A record's "at" younger than the TTL at now: 1. */
static int
fresh(json_object *rec, long now)
{
	int64_t	at;

	return json_get_int(rec, "at", &at) == 1 && at <= now &&
	    now - at < OVERFLOW_SUMMARY_TTL;
}

enum kf_err
overflow_cache_find(struct store *st, const char *anchor, long now, size_t *n,
    char *hex, char **summary)
{
	struct store_txn	*txn = NULL;
	struct buf		 val = BUF_INIT;
	json_object		*arec = NULL, *rec = NULL;
	const char		*h, *text;
	char			 key[128];
	int64_t			 count;
	enum kf_err		 er = KF_ENOTFOUND;

	*summary = NULL;
	if (st == NULL || snprintf(key, sizeof(key), "summary-anchor/%s",
	    anchor) >= (int)sizeof(key) ||
	    store_begin(st, STORE_READ, &txn, NULL) != KF_OK)
		return KF_ENOTFOUND;
	if (store_get(txn, key, &val) != KF_OK ||
	    json_parse(val.ptr, val.len, 4, &arec, NULL) != KF_OK ||
	    !fresh(arec, now) || json_get_str(arec, "h", &h) != 1 ||
	    strlen(h) != SHA256_HEX_LEN || json_get_int(arec, "n",
	    &count) != 1 || count < 1)
		goto out;
	(void)snprintf(key, sizeof(key), "summary/%s", h);
	if (store_get(txn, key, &val) != KF_OK ||
	    json_parse(val.ptr, val.len, 4, &rec, NULL) != KF_OK ||
	    !fresh(rec, now) || json_get_str(rec, "summary", &text) != 1)
		goto out;
	memcpy(hex, h, SHA256_HEX_LEN + 1);
	*n = (size_t)count;
	*summary = xstrdup(text);
	er = KF_OK;
out:
	(void)store_end(txn, NULL);
	json_object_put(arec);
	json_object_put(rec);
	buf_free(&val);
	return er;
}

/* Collects the keys of summaries past the TTL (store_each). */
struct stale {
	long		 now;
	char		**keys;
	size_t		 n;
};

static int
stale_one(void *arg, const char *key, const char *val, size_t len)
{
	struct stale	*s = arg;
	json_object	*rec = NULL;

	if (s->n >= 1000)
		return 1;	/* enough for one write */
	if (json_parse(val, len, 4, &rec, NULL) != KF_OK || !fresh(rec,
	    s->now)) {
		s->keys = xreallocarray(s->keys, s->n + 1, sizeof(*s->keys));
		s->keys[s->n++] = xstrdup(key);
	}
	json_object_put(rec);
	return 0;
}

enum kf_err
overflow_cache_put(struct store *st, const char *anchor, size_t n,
    const char *hex, const char *summary, long now, char **cause)
{
	struct store_txn	*txn = NULL;
	struct stale		 old;
	struct buf		 rec = BUF_INIT, arec = BUF_INIT;
	char			 key[128], akey[128];
	size_t			 i;
	enum kf_err		 er;

	if (snprintf(akey, sizeof(akey), "summary-anchor/%s", anchor) >=
	    (int)sizeof(akey) || snprintf(key, sizeof(key), "summary/%s",
	    hex) >= (int)sizeof(key)) {
		xsetprintf(cause, "a summary key too long");
		return KF_EINVAL;
	}
	buf_printf(&rec, "{\"v\":1,\"at\":%ld,\"n\":%zu,\"summary\":", now,
	    n);
	buf_json_str(&rec, summary, strlen(summary));
	buf_putc(&rec, '}');
	buf_printf(&arec, "{\"v\":1,\"at\":%ld,\"n\":%zu,\"h\":\"%s\"}",
	    now, n, hex);
	memset(&old, 0, sizeof(old));
	old.now = now;
	/* Everything is ready before the lock: only GDBM work under it. */
	if ((er = store_begin(st, STORE_WRITE_NOSYNC, &txn, cause)) != KF_OK)
		goto out;
	(void)store_each(txn, "summary/", stale_one, &old);
	(void)store_each(txn, "summary-anchor/", stale_one, &old);
	for (i = 0; i < old.n; i++)
		(void)store_del(txn, old.keys[i]);
	if ((er = store_put(txn, key, rec.ptr, rec.len)) == KF_OK)
		er = store_put(txn, akey, arec.ptr, arec.len);
	if (er != KF_OK)
		xsetprintf(cause, "could not store a summary");
	if (store_end(txn, er == KF_OK ? cause : NULL) != KF_OK &&
	    er == KF_OK)
		er = KF_ESTORE;
out:
	for (i = 0; i < old.n; i++)
		free(old.keys[i]);
	free(old.keys);
	buf_free(&rec);
	buf_free(&arec);
	return er;
}
