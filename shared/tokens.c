/* tokens.c: token counts and estimates (kiro-protocol.md §5, §6.5). */
#include "autoconfig.h"

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
 * The estimator of tokens_count_conv: one pass over each text Kiro will
 * see, counting character classes and runs, each weighed (in thousandths of
 * a token) by a least-squares fit against tests/mock/tokentruth.py's counts
 * of the texts of the three client fixtures and of synthetic Claude Code
 * sessions (tool results of code, shell output, prose, JSON and CJK).  No
 * per-character allocation and no JSON serialisation: schemas and tool
 * inputs are walked as their compact JSON would read.
 */
enum tally_class {
	TC_NONE,
	TC_LETTER,
	TC_DIGIT,
	TC_PUNCT,
	TC_UNDERSCORE,
	TC_SPACE,
	TC_CJK,
	TC_OTHER,		/* other letters: 2-byte UTF-8 */
	TC_SYMBOL,		/* any other character */
	TC__MAX
};

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
	TF_CJK,			/* Han, kana, Hangul, full-width forms */
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

struct tally {
	unsigned long long	 n[TF__MAX];
	enum tally_class	 prev;
	int			 prev_lower;
	size_t			 word_len;
	size_t			 space_run;
	int			 space_lone;	/* the run is one ' ' */
};

static void
tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
	t->prev = TC_NONE;
}

/* Ends a whitespace run: a lone space before a word rides with it. */
static void
tally_spaces(struct tally *t, enum tally_class next)
{
	if (t->space_run == 0)
		return;
	if (!(t->space_lone && next != TC_DIGIT && next != TC_NONE &&
	    next != TC_UNDERSCORE)) {
		t->n[TF_SPACES]++;
		t->n[TF_SPACE] += t->space_run;
	}
	t->space_run = 0;
}

/* Ends a text: the next one starts fresh (the tokenizer sees them apart). */
static void
tally_break(struct tally *t)
{
	tally_spaces(t, TC_NONE);
	t->prev = TC_NONE;
}

static void
tally_char(struct tally *t, enum tally_class cl, unsigned char c)
{
	int	lower;

	if (cl == TC_SPACE) {
		if (t->space_run == 0)
			t->space_lone = c == ' ';
		else
			t->space_lone = 0;
		t->space_run++;
		t->prev = cl;
		return;
	}
	if (t->prev == TC_SPACE)
		tally_spaces(t, cl);
	switch (cl) {
	case TC_LETTER:
		lower = c >= 'a';
		if (t->prev != TC_LETTER || (!lower && t->prev_lower)) {
			t->n[TF_WORDS]++;
			t->word_len = 0;
		}
		if (++t->word_len > 8)
			t->n[TF_LONG]++;
		t->n[TF_LETTERS]++;
		t->prev_lower = lower;
		break;
	case TC_DIGIT:
		if (t->prev != TC_DIGIT)
			t->n[TF_NUMBERS]++;
		t->n[TF_DIGITS]++;
		break;
	case TC_PUNCT:
		if (t->prev != TC_PUNCT)
			t->n[TF_PUNCTS]++;
		t->n[TF_PUNCT]++;
		break;
	case TC_UNDERSCORE:
		if (t->prev != TC_UNDERSCORE)
			t->n[TF_UNDERSCORES]++;
		break;
	case TC_CJK:
		t->n[TF_CJK]++;
		break;
	case TC_OTHER:
		t->n[TF_OTHER]++;
		break;
	default:
		t->n[TF_SYMBOL]++;
		break;
	}
	t->prev = cl;
}

/* Classes by lead byte; a cut or stray sequence counts as one symbol. */
static void
tally_bytes(struct tally *t, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s, *end = p + len;
	enum tally_class	 cl;
	size_t			 step;
	unsigned char		 c;

	while (p < end) {
		c = *p;
		step = 1;
		if (c < 0x80) {
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
				cl = TC_LETTER;
			else if (c >= '0' && c <= '9')
				cl = TC_DIGIT;
			else if (c == ' ' || (c >= '\t' && c <= '\r'))
				cl = TC_SPACE;
			else if (c == '_')
				cl = TC_UNDERSCORE;
			else
				cl = TC_PUNCT;
		} else if (c >= 0xf0) {
			cl = TC_SYMBOL;
			step = 4;
		} else if (c >= 0xe0) {
			/* U+3000-DFFF, U+FF00-FFFF: CJK, kana, Hangul. */
			cl = (c >= 0xe3 && c <= 0xed) || (c == 0xef &&
			    end - p > 1 && p[1] >= 0xbc) ? TC_CJK : TC_SYMBOL;
			step = 3;
		} else if (c >= 0xc0) {
			cl = TC_OTHER;
			step = 2;
		} else
			cl = TC_SYMBOL;
		if (step > (size_t)(end - p))
			step = (size_t)(end - p);
		p += step;
		tally_char(t, cl, c);
	}
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
	long long	milli = 0;
	size_t		i;

	for (i = 0; i < TF__MAX; i++)
		milli += (long long)t->n[i] * tally_weights[i];
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
