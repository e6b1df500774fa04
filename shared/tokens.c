/* tokens.c: token counts and estimates (kiro-protocol.md §5, §6.5). */
#include "autoconfig.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "constrain.h"
#include "conv.h"
#include "kiro_req.h"
#include "strset.h"
#include "tokens.h"

/* Decodes one UTF-8 sequence; invalid bytes count as one code point each. */
static unsigned long
utf8_next(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char	*p = *pp;
	unsigned long		 cp;
	int			 n, i;

	if (*p < 0x80) {
		*pp = p + 1;
		return *p;
	}
	if ((*p & 0xe0) == 0xc0) {
		n = 1;
		cp = *p & 0x1f;
	} else if ((*p & 0xf0) == 0xe0) {
		n = 2;
		cp = *p & 0x0f;
	} else if ((*p & 0xf8) == 0xf0) {
		n = 3;
		cp = *p & 0x07;
	} else {
		*pp = p + 1;
		return 0xfffd;
	}
	if (end - p <= n) {
		*pp = end;
		return 0xfffd;
	}
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			*pp = p + 1;
			return 0xfffd;
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	*pp = p + n + 1;
	return cp;
}

static int
is_western(unsigned long cp)
{
	return cp <= 0x024f || (cp >= 0x1e00 && cp <= 0x1eff) ||
	    (cp >= 0x2c60 && cp <= 0x2c7f) || (cp >= 0xa720 && cp <= 0xa7ff) ||
	    (cp >= 0xab30 && cp <= 0xab6f);
}

static unsigned long long
text_units(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	unsigned long long	 units = 0;

	while (p < end)
		units += is_western(utf8_next(&p, end)) ? 1 : 4;
	return units;
}

static long
units_to_tokens(unsigned long long units)
{
	double	tokens = (double)units / 4.0;

	if (tokens < 100)
		tokens *= 1.5;
	else if (tokens < 200)
		tokens *= 1.3;
	else if (tokens < 300)
		tokens *= 1.25;
	else if (tokens < 800)
		tokens *= 1.2;
	return (long)tokens;
}

long
tokens_count_text(const char *s, size_t len)
{
	return units_to_tokens(text_units(s, len));
}

/*
 * The estimator of tokens_count_conv: each text Kiro will see is read once,
 * counting character classes, runs and word lengths, each weighed (in
 * thousandths of a token) by a least-squares fit against
 * tests/mock/tokentruth.py's counts of the texts of the three client
 * fixtures and of synthetic Claude Code sessions (tool results of code,
 * shell output, prose, JSON and CJK).  No per-character allocation and no
 * JSON serialisation: schemas and tool inputs are walked as their compact
 * JSON would read.
 *
 * Speed (make bench: under 10% of request conversion): the loop has no
 * branch that depends on the text.  Each byte's class (by lead byte for
 * UTF-8) and its predecessor's index a histogram of class pairs, from which
 * every count is summed at the end; four histograms take turns so that a
 * long run does not wait on one counter.
 */
enum tally_class {
	TC_LOWER,
	TC_UPPER,
	TC_DIGIT,
	TC_PUNCT,
	TC_UNDERSCORE,
	TC_CJK,			/* lead of U+3000-DFFF: CJK, kana, Hangul */
	TC_OTHER,		/* lead of a 2-byte character: other letters */
	TC_SYMBOL,		/* any other lead or stray byte */
	TC_CONT,		/* UTF-8 continuation */
	TC_NONE,		/* before the first byte of a text */
	TC_WS,			/* \t \n \v \f \r */
	TC_BLANK,		/* ' ' */
	TC_BLANK1,		/* ' ' after something not blank */
	TC__MAX
};

#define TC_PAIR(a, b)	((a) << 4 | (b))

enum tally_feature {
	TF_WORDS,		/* letter runs and camelCase humps */
	TF_LETTERS,		/* ASCII letters */
	TF_LONG,		/* letters past the 8th of one word */
	TF_NUMBERS,		/* digit runs */
	TF_DIGITS,
	TF_PUNCTS,		/* punctuation runs */
	TF_PUNCT,
	TF_UNDERSCORES,		/* runs of '_' */
	TF_SPACES,		/* whitespace runs but a lone space before a word */
	TF_SPACE,		/* their characters */
	TF_CJK,
	TF_OTHER,
	TF_SYMBOL,
	TF__MAX
};

/* Thousandths of a token per feature (the fit, rounded). */
static const long tally_weights[TF__MAX] = {
	1252, -46, 448, 734, 231, 450, 448, 608, 1093, 12, 1000, 333, 1000
};

/* Bias in thousandths: Claude Code compacts late when counts are low. */
#define TALLY_BIAS	20

/*
 * pairs[h][a << 4 | b]: how often a byte of class b followed one of class
 * a (TC_BLANK1 only ever as a).  The open text's last class, its last raw
 * class and the word bits carry over between the pieces of one text.
 */
struct tally {
	uint32_t		 pairs[4][256];
	unsigned long long	 long_letters;
	uint64_t		 word_bits;	/* bit i: byte -i went on a word */
	unsigned		 prev;		/* TC_BLANK1 told apart */
	unsigned		 prev_raw;
	size_t			 turn;
};

static unsigned char	byte_class[256];
/* 1 for a pair that goes on with a word: a lowercase after a letter... */
static unsigned char	pair_word[256];
static pthread_once_t	tables_once = PTHREAD_ONCE_INIT;

static void
tables_init(void)
{
	unsigned	c;

	for (c = 0; c < 256; c++) {
		if (c >= 'a' && c <= 'z')
			byte_class[c] = TC_LOWER;
		else if (c >= 'A' && c <= 'Z')
			byte_class[c] = TC_UPPER;
		else if (c >= '0' && c <= '9')
			byte_class[c] = TC_DIGIT;
		else if (c == '_')
			byte_class[c] = TC_UNDERSCORE;
		else if (c == ' ')
			byte_class[c] = TC_BLANK;
		else if (c >= '\t' && c <= '\r')
			byte_class[c] = TC_WS;
		else if (c < 0x80)
			byte_class[c] = TC_PUNCT;
		else if (c < 0xc0)
			byte_class[c] = TC_CONT;
		else if (c < 0xe0)
			byte_class[c] = TC_OTHER;
		else if (c >= 0xe3 && c <= 0xed)
			byte_class[c] = TC_CJK;
		else
			byte_class[c] = TC_SYMBOL;
	}
	/* ...an uppercase after an uppercase: "toolUseId" is 3 words. */
	pair_word[TC_PAIR(TC_LOWER, TC_LOWER)] = 1;
	pair_word[TC_PAIR(TC_UPPER, TC_LOWER)] = 1;
	pair_word[TC_PAIR(TC_UPPER, TC_UPPER)] = 1;
}

static void
tally_init(struct tally *t)
{
	(void)pthread_once(&tables_once, tables_init);
	memset(t, 0, sizeof(*t));
	t->prev = t->prev_raw = TC_NONE;
}

/* Ends a text: the next one starts fresh (the tokenizer sees them apart). */
static void
tally_break(struct tally *t)
{
	t->prev = t->prev_raw = TC_NONE;
	t->word_bits = 0;
}

static void
tally_bytes(struct tally *t, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		*h;
	uint64_t		 bits = t->word_bits;
	unsigned long long	 long_letters = 0;
	unsigned		 prev = t->prev, raw = t->prev_raw, k, pair;
	size_t			 i, turn = t->turn;

	for (i = 0; i < len; i++) {
		k = byte_class[p[i]];
		pair = TC_PAIR(prev, k);
		h = t->pairs[turn++ & 3];
		h[pair]++;
		bits = bits << 1 | pair_word[pair];
		long_letters += (bits & 0xff) == 0xff;
		/* A ' ' after a non-blank may be a word's leading space. */
		prev = k + (k == TC_BLANK && raw < TC_WS);
		raw = k;
	}
	t->long_letters += long_letters;
	t->word_bits = bits;
	t->prev = prev;
	t->prev_raw = raw;
	t->turn = turn;
}

/* The features, summed from the pair histograms. */
static void
tally_features(const struct tally *t, unsigned long long n[TF__MAX])
{
	unsigned long long	into[TC__MAX], count[TC__MAX], pair[256];
	unsigned		a, b;

	memset(into, 0, sizeof(into));
	memset(count, 0, sizeof(count));
	for (a = 0; a < 256; a++)
		pair[a] = (unsigned long long)t->pairs[0][a] + t->pairs[1][a] +
		    t->pairs[2][a] + t->pairs[3][a];
	for (a = 0; a < TC__MAX; a++)
		for (b = 0; b < TC__MAX; b++) {
			count[b] += pair[TC_PAIR(a, b)];
			if (a != b)
				into[b] += pair[TC_PAIR(a, b)];
		}
	memset(n, 0, TF__MAX * sizeof(n[0]));
	n[TF_WORDS] = into[TC_LOWER] + into[TC_UPPER] -
	    pair[TC_PAIR(TC_UPPER, TC_LOWER)];
	n[TF_LETTERS] = count[TC_LOWER] + count[TC_UPPER];
	n[TF_LONG] = t->long_letters;
	n[TF_NUMBERS] = into[TC_DIGIT];
	n[TF_DIGITS] = count[TC_DIGIT];
	n[TF_PUNCTS] = into[TC_PUNCT];
	n[TF_PUNCT] = count[TC_PUNCT];
	n[TF_UNDERSCORES] = into[TC_UNDERSCORE];
	/*
	 * Whitespace runs: entered from anything else (a blank after a
	 * blank, or after \n, is one run).  A lone ' ' before a letter,
	 * punctuation or another script rides with it: not a run.
	 */
	n[TF_SPACES] = into[TC_WS] + into[TC_BLANK] -
	    pair[TC_PAIR(TC_WS, TC_BLANK)] - pair[TC_PAIR(TC_BLANK, TC_WS)] -
	    pair[TC_PAIR(TC_BLANK1, TC_WS)] - pair[TC_PAIR(TC_BLANK1, TC_BLANK)];
	n[TF_SPACE] = count[TC_WS] + count[TC_BLANK];
	for (b = 0; b < TC_CONT; b++)
		if (b != TC_DIGIT && b != TC_UNDERSCORE) {
			n[TF_SPACES] -= pair[TC_PAIR(TC_BLANK1, b)];
			n[TF_SPACE] -= pair[TC_PAIR(TC_BLANK1, b)];
		}
	n[TF_CJK] = count[TC_CJK];
	n[TF_OTHER] = count[TC_OTHER];
	n[TF_SYMBOL] = count[TC_SYMBOL];
}

static void
tally_str(struct tally *t, const char *s)
{
	if (s != NULL)
		tally_bytes(t, s, strlen(s));
}

/* One whole text: a field Kiro's tokenizer sees on its own. */
static void
tally_text(struct tally *t, const char *s)
{
	tally_str(t, s);
	tally_break(t);
}

/* A JSON string as compact JSON writes it: quoted, escaped. */
static void
tally_json_string(struct tally *t, const char *s, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	char			esc[6];
	size_t			i, from = 0;
	unsigned char		c;

	tally_bytes(t, "\"", 1);
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		tally_bytes(t, s + from, i - from);
		from = i + 1;
		esc[0] = '\\';
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			tally_bytes(t, esc, 2);
			break;
		case '\n':
			tally_bytes(t, "\\n", 2);
			break;
		case '\t':
			tally_bytes(t, "\\t", 2);
			break;
		case '\r':
			tally_bytes(t, "\\r", 2);
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			tally_bytes(t, esc, 6);
			break;
		}
	}
	tally_bytes(t, s + from, len - from);
	tally_bytes(t, "\"", 1);
}

/* A JSON value as compact JSON reads; depth is bounded by the parser. */
static void
tally_json(struct tally *t, json_object *v)
{
	char	num[64];
	size_t	i, n;
	int	first = 1;

	switch (json_object_get_type(v)) {
	case json_type_object:
		tally_bytes(t, "{", 1);
		json_object_object_foreach(v, key, val) {
			if (!first)
				tally_bytes(t, ",", 1);
			first = 0;
			tally_json_string(t, key, strlen(key));
			tally_bytes(t, ":", 1);
			tally_json(t, val);
		}
		tally_bytes(t, "}", 1);
		break;
	case json_type_array:
		tally_bytes(t, "[", 1);
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				tally_bytes(t, ",", 1);
			tally_json(t, json_object_array_get_idx(v, i));
		}
		tally_bytes(t, "]", 1);
		break;
	case json_type_string:
		tally_json_string(t, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_int:
		(void)snprintf(num, sizeof(num), "%lld",
		    (long long)json_object_get_int64(v));
		tally_str(t, num);
		break;
	case json_type_double:
		(void)snprintf(num, sizeof(num), "%.15g",
		    json_object_get_double(v));
		tally_str(t, num);
		break;
	case json_type_boolean:
		tally_str(t, json_object_get_boolean(v) ? "true" : "false");
		break;
	default:
		tally_str(t, "null");
		break;
	}
}

static long
tally_tokens(const struct tally *t)
{
	unsigned long long	n[TF__MAX];
	long long		milli = 0;
	size_t			i;

	tally_features(t, n);
	for (i = 0; i < TF__MAX; i++)
		milli += (long long)n[i] * tally_weights[i];
	if (milli < 0)
		milli = 0;
	return (long)((milli * (1000 + TALLY_BIAS) + 999999) / 1000000);
}

static int
blank(const char *s)
{
	if (s == NULL)
		return 1;
	for (; *s != '\0'; s++)
		if (strchr(" \t\r\n\f\v", *s) == NULL)
			return 0;
	return 1;
}

/* Kiro takes jpeg, png, gif and webp; kiro_req_build drops the rest. */
static int
image_sent(const struct conv_block *b)
{
	static const char *const types[] = { "image/jpeg", "image/jpg",
	    "image/png", "image/gif", "image/webp" };
	size_t			 i;

	if (b->data == NULL || b->media_type == NULL)
		return 0;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(b->media_type, types[i]) == 0)
			return 1;
	return 0;
}

/* A tool result: its id and texts ("(no output)" when none), its images. */
static long
tally_result(struct tally *t, const struct conv_block *b)
{
	long	fixed = TOKENS_PER_TOOL_RESULT;
	size_t	i;
	int	texts = 0;

	tally_text(t, b->id);
	for (i = 0; i < b->n_content; i++) {
		if (b->content[i].type == CONV_BLOCK_IMAGE &&
		    image_sent(&b->content[i]))
			fixed += TOKENS_PER_IMAGE;
		if (b->content[i].type != CONV_BLOCK_TEXT ||
		    b->content[i].text == NULL || b->content[i].text[0] == '\0')
			continue;
		tally_text(t, b->content[i].text);
		texts++;
	}
	if (texts == 0)
		tally_text(t, KIRO_NO_OUTPUT);
	return fixed;
}

/* A userInputMessage: texts joined by "\n" or a placeholder (kiro_req.c). */
static long
tally_user(struct tally *t, const struct conv_msg *m)
{
	const struct conv_block	*b;
	long			 fixed = TOKENS_PER_MESSAGE;
	size_t			 i;
	int			 words = 0, results = 0, texts = 0;

	for (i = 0; i < m->n_blocks; i++) {
		b = &m->blocks[i];
		if (b->type == CONV_BLOCK_TEXT && !blank(b->text))
			words = 1;
		else if (b->type == CONV_BLOCK_TOOL_RESULT)
			results = 1;
	}
	for (i = 0; i < m->n_blocks; i++) {
		b = &m->blocks[i];
		if (b->type == CONV_BLOCK_TEXT && words) {
			if (texts++ > 0)
				tally_bytes(t, "\n", 1);
			tally_str(t, b->text);
		} else if (b->type == CONV_BLOCK_IMAGE && image_sent(b))
			fixed += TOKENS_PER_IMAGE;
	}
	if (!words)
		tally_str(t, results ? "Tool results provided." : "Continue");
	tally_break(t);
	for (i = 0; i < m->n_blocks; i++)
		if (m->blocks[i].type == CONV_BLOCK_TOOL_RESULT)
			fixed += tally_result(t, &m->blocks[i]);
	return fixed;
}

/* Appends the non-blank texts of one type, joined by sep. */
static int
tally_joined(struct tally *t, const struct conv_msg *m,
    enum conv_block_type type, const char *sep)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < m->n_blocks; i++) {
		if (m->blocks[i].type != type || blank(m->blocks[i].text))
			continue;
		if (n++ > 0)
			tally_str(t, sep);
		tally_str(t, m->blocks[i].text);
	}
	return n;
}

static int
has_text(const struct conv_msg *m, enum conv_block_type type)
{
	size_t	i;

	for (i = 0; i < m->n_blocks; i++)
		if (m->blocks[i].type == type && !blank(m->blocks[i].text))
			return 1;
	return 0;
}

/*
 * An assistantResponseMessage: <thinking>...</thinking>\n\n before the
 * texts, " " or "I understand." when empty; each tool use's id, Kiro name
 * and input JSON.  used collects the names, for placeholders.
 */
static long
tally_assistant(struct tally *t, const struct conv_msg *m,
    struct strset *used)
{
	const struct conv_block	*b;
	char			 name[KIRO_TOOL_NAME_MAX + 1];
	long			 fixed = TOKENS_PER_MESSAGE;
	size_t			 i;
	int			 uses = 0, thinking, text;

	for (i = 0; i < m->n_blocks; i++)
		if (m->blocks[i].type == CONV_BLOCK_TOOL_USE &&
		    m->blocks[i].id != NULL && m->blocks[i].name != NULL)
			uses++;
	thinking = has_text(m, CONV_BLOCK_THINKING);
	text = has_text(m, CONV_BLOCK_TEXT);
	if (thinking) {
		tally_str(t, "<thinking>");
		(void)tally_joined(t, m, CONV_BLOCK_THINKING, "\n");
		tally_str(t, "</thinking>");
		if (text)
			tally_str(t, "\n\n");
	}
	if (text)
		(void)tally_joined(t, m, CONV_BLOCK_TEXT, "\n\n");
	else if (!thinking)
		tally_str(t, uses > 0 ? " " : "I understand.");
	tally_break(t);
	for (i = 0; i < m->n_blocks; i++) {
		b = &m->blocks[i];
		if (b->type != CONV_BLOCK_TOOL_USE || b->id == NULL ||
		    b->name == NULL)
			continue;
		fixed += TOKENS_PER_TOOL_USE;
		kiro_tool_name(b->name, name);
		if (!strset_has(used, name))
			strset_add(used, name);
		tally_text(t, b->id);
		tally_text(t, name);
		if (json_object_is_type(b->input, json_type_object))
			tally_json(t, b->input);
		else
			tally_str(t, "{}");
		tally_break(t);
	}
	return fixed;
}

/*
 * A tool's schema as kiro_req.c's tool_schema normalises it: type a
 * non-empty string, properties an object, required strings only,
 * additionalProperties a bool or an object.
 */
static void
tally_schema(struct tally *t, json_object *schema)
{
	json_object	*v;
	size_t		 i, n, k = 0;
	int		 first = 1;

	tally_bytes(t, "{", 1);
	if (json_object_is_type(schema, json_type_object)) {
		json_object_object_foreach(schema, key, val) {
			if (strcmp(key, "type") == 0 ||
			    strcmp(key, "properties") == 0 ||
			    strcmp(key, "required") == 0 ||
			    strcmp(key, "additionalProperties") == 0)
				continue;
			if (!first)
				tally_bytes(t, ",", 1);
			first = 0;
			tally_json_string(t, key, strlen(key));
			tally_bytes(t, ":", 1);
			tally_json(t, val);
		}
	}
	tally_str(t, first ? "\"type\":" : ",\"type\":");
	if (json_object_object_get_ex(schema, "type", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0)
		tally_json(t, v);
	else
		tally_str(t, "\"object\"");
	tally_str(t, ",\"properties\":");
	if (json_object_object_get_ex(schema, "properties", &v) &&
	    json_object_is_type(v, json_type_object))
		tally_json(t, v);
	else
		tally_str(t, "{}");
	tally_str(t, ",\"required\":[");
	if (json_object_object_get_ex(schema, "required", &v) &&
	    json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			if (!json_object_is_type(json_object_array_get_idx(v,
			    i), json_type_string))
				continue;
			if (k++ > 0)
				tally_bytes(t, ",", 1);
			tally_json(t, json_object_array_get_idx(v, i));
		}
	}
	tally_str(t, "],\"additionalProperties\":");
	if (json_object_object_get_ex(schema, "additionalProperties", &v) &&
	    (json_object_is_type(v, json_type_boolean) ||
	    json_object_is_type(v, json_type_object)))
		tally_json(t, v);
	else
		tally_str(t, "true");
	tally_str(t, "}");
	tally_break(t);
}

/* The length of desc Kiro gets: cut at KIRO_TOOL_DESC_MAX on a character. */
static size_t
desc_len(const char *desc)
{
	size_t	len = strlen(desc);

	if (len <= KIRO_TOOL_DESC_MAX)
		return len;
	len = KIRO_TOOL_DESC_MAX;
	while (len > 0 && ((unsigned char)desc[len] & 0xc0) == 0x80)
		len--;
	return len;
}

/* The tools array (kiro_req.c's tools_array): definitions, placeholders. */
static long
tally_tools(struct tally *t, const struct conv *c, const struct strset *used)
{
	static const char	*placeholder = "{\"$schema\":\"http://json-"
	    "schema.org/draft-07/schema#\",\"type\":\"object\",\"properties\""
	    ":{},\"required\":[],\"additionalProperties\":true}";
	struct strset		 defined = STRSET_INIT(1);
	const struct conv_tool	*tool;
	const char		*desc;
	char			 name[KIRO_TOOL_NAME_MAX + 1];
	long			 fixed = 0;
	size_t			 i;

	for (i = 0; c->tool_choice != CONV_TOOL_CHOICE_NONE &&
	    i < c->n_tools; i++) {
		tool = &c->tools[i];
		if (tool->name == NULL || tool->name[0] == '\0')
			continue;
		if (c->tool_choice == CONV_TOOL_CHOICE_TOOL &&
		    c->tool_choice_name != NULL &&
		    strcmp(tool->name, c->tool_choice_name) != 0)
			continue;
		kiro_tool_name(tool->name, name);
		if (strset_has(&defined, name))
			continue;
		strset_add(&defined, name);
		fixed += TOKENS_PER_TOOL;
		tally_text(t, name);
		desc = blank(tool->description) ? tool->name :
		    tool->description;
		tally_bytes(t, desc, desc_len(desc));
		tally_break(t);
		tally_schema(t, tool->schema);
	}
	for (i = 0; i < used->n; i++) {
		if (strset_has(&defined, used->items[i]))
			continue;
		strset_add(&defined, used->items[i]);
		fixed += TOKENS_PER_TOOL;
		tally_text(t, used->items[i]);
		tally_text(t, KIRO_PLACEHOLDER_DESC);
		tally_text(t, placeholder);
	}
	if (defined.n > 0)
		fixed += TOKENS_TOOLS_PREAMBLE;
	strset_free(&defined);
	return fixed;
}

/* History pair 0: thinking prefix, system, constraints; the ack. */
static long
tally_system(struct tally *t, const struct conv *c)
{
	char	*rules;
	int	 has_system = !blank(c->system);

	rules = constrain_instructions(c);
	if (!has_system && rules == NULL && c->thinking == CONV_THINKING_OFF)
		return 0;
	/* The prefix's longest form; a system that has one gets none. */
	if (c->thinking == CONV_THINKING_ENABLED)
		tally_str(t, "<thinking_mode>enabled</thinking_mode>"
		    "<max_thinking_length>20000</max_thinking_length>");
	else if (c->thinking == CONV_THINKING_ADAPTIVE)
		tally_str(t, "<thinking_mode>adaptive</thinking_mode>"
		    "<thinking_effort>medium</thinking_effort>");
	if (has_system)
		tally_str(t, c->system);
	if (has_system && rules != NULL)
		tally_str(t, "\n\n");
	tally_str(t, rules);
	tally_break(t);
	tally_text(t, KIRO_SYSTEM_ACK);
	free(rules);
	return 2 * TOKENS_PER_MESSAGE;
}

long
tokens_count_conv(const struct conv *c)
{
	struct tally		 t;
	struct strset		 used = STRSET_INIT(1);
	const struct conv_msg	*m;
	enum conv_role		 prev = CONV_ROLE_ASSISTANT;
	long			 fixed = TOKENS_KIRO_SYSTEM, tokens;
	size_t			 i, last;

	tally_init(&t);
	fixed += tally_system(&t, c);
	/*
	 * As kiro_req_build: the last user message is current, what follows
	 * it is not sent, and fillers keep history alternating.
	 */
	for (last = c->n_msgs; last > 0; last--)
		if (c->msgs[last - 1].role == CONV_ROLE_USER)
			break;
	for (i = 0; last > 0 && i < last - 1; i++) {
		m = &c->msgs[i];
		if (m->role == prev) {
			fixed += TOKENS_PER_MESSAGE;
			tally_text(&t, prev == CONV_ROLE_USER ? "OK" :
			    "Continue");
		}
		if (m->role == CONV_ROLE_USER)
			fixed += tally_user(&t, m);
		else
			fixed += tally_assistant(&t, m, &used);
		prev = m->role;
	}
	if (last > 0) {
		if (prev == CONV_ROLE_USER) {
			fixed += TOKENS_PER_MESSAGE;
			tally_text(&t, "OK");
		}
		fixed += tally_user(&t, &c->msgs[last - 1]);
	}
	fixed += tally_tools(&t, c, &used);
	strset_free(&used);
	tokens = fixed + tally_tokens(&t);
	return tokens < 1 ? 1 : tokens;
}

long
tokens_count_output(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	unsigned long		 cjk = 0, other = 0, cp;
	long			 tokens;

	while (p < end) {
		cp = utf8_next(&p, end);
		if (cp >= 0x4e00 && cp <= 0x9fff)
			cjk++;
		else
			other++;
	}
	tokens = (long)((cjk * 2 + 2) / 3 * (cjk > 0) + (other + 3) / 4);
	return tokens < 1 ? 1 : tokens;
}

long
tokens_count_tool_input(size_t len)
{
	return (long)((len + 3) / 4);
}

long
tokens_from_context_usage(double pct, long window)
{
	if (pct <= 0)
		return 0;
	return (long)(pct * (double)window / 100.0);
}
