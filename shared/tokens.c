/* tokens.c: token estimates where Kiro reports none (kiro-protocol.md §6.5). */
#include "autoconfig.h"

#include <string.h>

#include <json-c/json.h>

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

static unsigned long long
str_units(const char *s)
{
	return s == NULL ? 0 : text_units(s, strlen(s));
}

static unsigned long long
block_units(const struct conv_block *b)
{
	unsigned long long	units = 0;
	size_t			i;

	switch (b->type) {
	case CONV_BLOCK_TEXT:
	case CONV_BLOCK_THINKING:
		units += str_units(b->text);
		break;
	case CONV_BLOCK_TOOL_USE:
		units += str_units(b->name);
		if (b->input != NULL)
			units += str_units(json_object_to_json_string_ext(
			    b->input, JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
		break;
	case CONV_BLOCK_TOOL_RESULT:
		for (i = 0; i < b->n_content; i++)
			units += block_units(&b->content[i]);
		break;
	case CONV_BLOCK_IMAGE:
	case CONV_BLOCK__MAX:
		break;
	}
	return units;
}

long
tokens_count_conv(const struct conv *c)
{
	unsigned long long	units = 0;
	size_t			i, j;
	long			tokens;

	/*
	 * Sum the units and scale once: scaling each piece separately would
	 * inflate a request made of many short messages.
	 */
	units += str_units(c->system);
	for (i = 0; i < c->n_msgs; i++)
		for (j = 0; j < c->msgs[i].n_blocks; j++)
			units += block_units(&c->msgs[i].blocks[j]);
	for (i = 0; i < c->n_tools; i++) {
		units += str_units(c->tools[i].name);
		units += str_units(c->tools[i].description);
		if (c->tools[i].schema != NULL)
			units += str_units(json_object_to_json_string_ext(
			    c->tools[i].schema, JSON_C_TO_STRING_PLAIN |
			    JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	tokens = units_to_tokens(units);
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
