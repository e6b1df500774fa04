/* test-tokens-simd.c: the estimator's vector paths against its plain C one. */
#include "autoconfig.h"

/*
 * shared/tokens.c compiled in, so that each copy of the block counting
 * (plain C, SSE2, SSE2 with popcnt, AVX2, AVX-512BW, AVX-512 with 8
 * blocks side by side) can be forced in turn; those the CPU lacks are
 * skipped, and the plain C one is the oracle (as in test-tokens-portable,
 * which tests it by hand).
 * Covers: the vector classes for every byte value at every position of a
 * block; the counts and the carry of every copy on random texts of every
 * class, fed in random pieces (staged and in place, short and long, runs
 * across blocks and stage flushes); the same counts whether a text comes
 * byte by byte or at once; tally_json's walk of random JSON values (strings
 * with quotes, backslashes, control bytes and UTF-8 at every offset, keys,
 * integers to INT64_MIN, doubles, booleans, null) against the compact JSON
 * text they read as, counted in one piece; tokens_count_conv equal under
 * every copy on a conversation with tools, tool uses and results.
 */
#include "tokens.c"

#include <check.h>

#include "buf.h"
#include "xmalloc.h"

#if defined(TALLY_X86)
/* block_masks_avx2 and _avx512 from functions that may use them. */
__attribute__((target("avx2"))) static void
masks_avx2(const unsigned char *p, struct tally_masks *m)
{
	block_masks_avx2(p, m);
}

__attribute__((target("avx512bw"))) static void
masks_avx512(const unsigned char *p, struct tally_masks *m)
{
	block_masks_avx512(p, m);
}
#endif

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A byte of a random class, so that every feature and run is met. */
static unsigned char
rand_byte(void)
{
	static const char	 pick[] = "aZqT_ 0 9\t\n\r\v{}\"\\,.:/-  x";
	uint64_t		 r = next_rand();

	switch (r % 6) {
	case 0:
		return (unsigned char)(r >> 8);		/* any byte */
	case 1:
		return (unsigned char)(0xc0 + (r >> 8) % 0x40);	/* leads */
	case 2:
		return (unsigned char)(0x80 + (r >> 8) % 0x40);	/* continuations */
	default:
		return (unsigned char)pick[(r >> 8) % (sizeof(pick) - 1)];
	}
}

static void
rand_text(unsigned char *p, size_t len)
{
	size_t	i;
	int	run = (int)(next_rand() % 4);

	for (i = 0; i < len; i++)
		/* Long runs of letters too, for long words across blocks. */
		p[i] = run == 0 && next_rand() % 8 != 0 ?
		    (unsigned char)('a' + next_rand() % 3) : rand_byte();
}

static int
usable(enum tally_isa isa)
{
	return tally_isa_usable(isa);
}

static void
same_tally(const struct tally *got, const struct tally *want, int isa)
{
	size_t	i;

	for (i = 0; i < TF__MAX; i++)
		ck_assert_msg(got->n[i] == want->n[i],
		    "isa %d feature %zu: %llu, want %llu", isa, i,
		    got->n[i], want->n[i]);
	ck_assert_msg(memcmp(&got->last, &want->last, sizeof(got->last)) == 0,
	    "isa %d: carry differs", isa);
	ck_assert_uint_eq(got->staged, want->staged);
}

START_TEST(vector_classes_every_byte_everywhere)
{
#if defined(TALLY_X86)
	struct tally_masks	got, want;
	unsigned char		block[64];
	unsigned		c, pos, i;
	int			avx2 = usable(TALLY_ISA_AVX2);
	int			avx512 = usable(TALLY_ISA_AVX512);

	for (c = 0; c < 256; c++)
		for (pos = 0; pos < 64; pos++) {
			for (i = 0; i < 64; i++)
				block[i] = i == pos ? (unsigned char)c :
				    (unsigned char)(i * 37 + c);
			block_masks_c(block, &want);
			block_masks_sse2(block, &got);
			ck_assert(memcmp(&got, &want, sizeof(got)) == 0);
			if (avx2) {
				masks_avx2(block, &got);
				ck_assert(memcmp(&got, &want, sizeof(got)) ==
				    0);
			}
			if (avx512) {
				masks_avx512(block, &got);
				ck_assert(memcmp(&got, &want, sizeof(got)) ==
				    0);
			}
		}
#endif
}
END_TEST

/* Feeds text in random pieces, with breaks now and then, under isa. */
static void
feed(struct tally *t, const unsigned char *text, size_t len, uint64_t seed,
    enum tally_isa isa)
{
	uint64_t	saved = rng;
	size_t		off = 0, n;

	tally_isa_forced = isa;
	rng = seed;
	tally_init(t);
	while (off < len) {
		switch (next_rand() % 4) {
		case 0:
			n = next_rand() % 9;		/* JSON-sized */
			break;
		case 1:
			n = next_rand() % 200;
			break;
		default:
			n = next_rand() % 5000;		/* past the stage */
			break;
		}
		if (n > len - off)
			n = len - off;
		if (next_rand() % 3 == 0) {
			while (n-- > 0)
				tally_byte(t, text[off++]);
		} else {
			tally_bytes(t, (const char *)text + off, n);
			off += n;
		}
		if (next_rand() % 16 == 0)
			tally_break(t);
	}
	tally_break(t);
	tally_isa_forced = TALLY_ISA__MAX;
	rng = saved;
}

START_TEST(every_copy_counts_as_plain_c)
{
	struct tally	 want, got;
	unsigned char	*text;
	size_t		 len;
	uint64_t	 seed;
	int		 round, isa;

	text = xmalloc(20000);
	for (round = 0; round < 300; round++) {
		len = round < 100 ? (size_t)round : next_rand() % 20000;
		rand_text(text, len);
		seed = next_rand();
		feed(&want, text, len, seed, TALLY_ISA_C);
		for (isa = TALLY_ISA_C + 1; isa < TALLY_ISA__MAX; isa++) {
			if (!usable((enum tally_isa)isa))
				continue;
			feed(&got, text, len, seed, (enum tally_isa)isa);
			same_tally(&got, &want, isa);
		}
	}
	free(text);
}
END_TEST

START_TEST(pieces_count_as_one_text)
{
	struct tally	 whole, pieces;
	unsigned char	*text;
	size_t		 len, i;
	int		 round;

	text = xmalloc(9000);
	for (round = 0; round < 100; round++) {
		len = next_rand() % 9000;
		rand_text(text, len);
		tally_init(&whole);
		tally_bytes(&whole, (const char *)text, len);
		tally_break(&whole);
		tally_init(&pieces);
		for (i = 0; i < len; i++)
			tally_byte(&pieces, text[i]);
		tally_break(&pieces);
		same_tally(&pieces, &whole, -1);
	}
	free(text);
}
END_TEST

/* The compact JSON the old walk read, byte by byte (json_escape's forms). */
static void
reference_json(json_object *v, struct buf *out)
{
	char	esc[6], num[64];
	size_t	i, n;
	int	first = 1;

	switch (json_object_get_type(v)) {
	case json_type_object:
		buf_append(out, "{", 1);
		json_object_object_foreach(v, key, val) {
			if (!first)
				buf_append(out, ",", 1);
			first = 0;
			buf_append(out, "\"", 1);
			for (i = 0; key[i] != '\0'; i++)
				if ((unsigned char)key[i] >= 0x20 &&
				    key[i] != '"' && key[i] != '\\')
					buf_append(out, key + i, 1);
				else
					buf_append(out, esc, json_escape(
					    (unsigned char)key[i], esc));
			buf_append(out, "\":", 2);
			reference_json(val, out);
		}
		buf_append(out, "}", 1);
		break;
	case json_type_array:
		buf_append(out, "[", 1);
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_append(out, ",", 1);
			reference_json(json_object_array_get_idx(v, i), out);
		}
		buf_append(out, "]", 1);
		break;
	case json_type_string: {
		const char	*s = json_object_get_string(v);

		n = (size_t)json_object_get_string_len(v);
		buf_append(out, "\"", 1);
		for (i = 0; i < n; i++)
			if ((unsigned char)s[i] >= 0x20 && s[i] != '"' &&
			    s[i] != '\\')
				buf_append(out, s + i, 1);
			else
				buf_append(out, esc, json_escape(
				    (unsigned char)s[i], esc));
		buf_append(out, "\"", 1);
		break;
	}
	case json_type_int:
		(void)snprintf(num, sizeof(num), "%lld",
		    (long long)json_object_get_int64(v));
		buf_append(out, num, strlen(num));
		break;
	case json_type_double:
		(void)snprintf(num, sizeof(num), "%.15g",
		    json_object_get_double(v));
		buf_append(out, num, strlen(num));
		break;
	case json_type_boolean:
		buf_append(out, json_object_get_boolean(v) ? "true" : "false",
		    json_object_get_boolean(v) ? 4 : 5);
		break;
	default:
		buf_append(out, "null", 4);
		break;
	}
}

static json_object *
rand_json(int depth)
{
	static const int64_t	 ints[] = { 0, -1, 7, 1234567890123LL,
	    INT64_MIN, INT64_MAX, -42 };
	static const char	 odd[] = "\"\\\n\t\x01\x1f\x7f\xe4";
	json_object		*v;
	unsigned char		 s[100];
	char			 key[24];
	size_t			 len, i, n;

	switch (next_rand() % (depth > 3 ? 5 : 7)) {
	case 0:
		return json_object_new_int64(ints[next_rand() % 7]);
	case 1:
		return json_object_new_double((double)(int64_t)next_rand() /
		    1e7);
	case 2:
		return json_object_new_boolean((int)(next_rand() & 1));
	case 3:
		return NULL;
	case 4:
		len = next_rand() % sizeof(s);
		for (i = 0; i < len; i++)
			s[i] = next_rand() % 4 == 0 ?
			    (unsigned char)odd[next_rand() % 8] :
			    (unsigned char)('a' + next_rand() % 26);
		return json_object_new_string_len((const char *)s, (int)len);
	case 5:
		v = json_object_new_array();
		n = next_rand() % 5;
		for (i = 0; i < n; i++)
			json_object_array_add(v, rand_json(depth + 1));
		return v;
	default:
		v = json_object_new_object();
		n = next_rand() % 5;
		for (i = 0; i < n; i++) {
			(void)snprintf(key, sizeof(key), "k%s%zu",
			    next_rand() % 3 == 0 ? "\"q\\\n" : "ey", i);
			json_object_object_add(v, key, rand_json(depth + 1));
		}
		return v;
	}
}

START_TEST(json_walk_reads_as_its_text)
{
	struct tally	 walked, text;
	struct buf	 ref = BUF_INIT;
	json_object	*v;
	int		 round, isa;

	for (round = 0; round < 2000; round++) {
		v = rand_json(0);
		buf_reset(&ref);
		reference_json(v, &ref);
		for (isa = TALLY_ISA_C; isa < TALLY_ISA__MAX; isa++) {
			if (!usable((enum tally_isa)isa))
				continue;
			tally_isa_forced = (enum tally_isa)isa;
			tally_init(&text);
			/* An offset in the stage, as after other pieces. */
			tally_bytes(&text, "x", 1);
			tally_bytes(&text, ref.ptr, ref.len);
			tally_break(&text);
			tally_init(&walked);
			tally_bytes(&walked, "x", 1);
			tally_json(&walked, v);
			tally_break(&walked);
			tally_isa_forced = TALLY_ISA__MAX;
			same_tally(&walked, &text, isa);
		}
		json_object_put(v);
	}
	buf_free(&ref);
}
END_TEST

START_TEST(conv_counts_the_same_under_every_copy)
{
	struct conv		 c;
	struct conv_msg		*m;
	struct conv_block	*b;
	struct conv_tool	*tool;
	unsigned char		 text[3000];
	long			 want = 0, got;
	int			 i, isa;

	conv_init(&c);
	c.system = xstrdup("You are a helpful assistant.\nBe brief.");
	tool = conv_add_tool(&c);
	tool->name = xstrdup("Write");
	tool->description = xstrdup("Writes a file.\n\"Use\" with care.");
	tool->schema = json_tokener_parse("{\"type\":\"object\",\"properties\""
	    ":{\"path\":{\"type\":\"string\",\"description\":\"Where\\tto\"},"
	    "\"n\":{\"type\":\"integer\",\"minimum\":-5}},\"required\":"
	    "[\"path\"]}");
	for (i = 0; i < 6; i++) {
		rand_text(text, sizeof(text) - 1);
		text[sizeof(text) - 1] = '\0';
		m = conv_add_msg(&c, CONV_ROLE_USER);
		b = conv_msg_add_block(m, CONV_BLOCK_TEXT);
		b->text = xstrdup((const char *)text + i * 100);
		m = conv_add_msg(&c, CONV_ROLE_ASSISTANT);
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_USE);
		b->id = xstrdup("toolu_01");
		b->name = xstrdup("Write");
		b->input = rand_json(1);
		if (!json_object_is_type(b->input, json_type_object)) {
			json_object_put(b->input);
			b->input = json_tokener_parse("{\"path\":\"a\\nb\"}");
		}
		m = conv_add_msg(&c, CONV_ROLE_USER);
		b = conv_msg_add_block(m, CONV_BLOCK_TOOL_RESULT);
		b->id = xstrdup("toolu_01");
		b = conv_block_add_content(b, CONV_BLOCK_TEXT);
		b->text = xstrdup((const char *)text + i * 200);
	}
	for (isa = TALLY_ISA_C; isa < TALLY_ISA__MAX; isa++) {
		if (!usable((enum tally_isa)isa))
			continue;
		tally_isa_forced = (enum tally_isa)isa;
		got = tokens_count_conv(&c);
		tally_isa_forced = TALLY_ISA__MAX;
		if (isa == TALLY_ISA_C)
			want = got;
		ck_assert_int_eq(got, want);
	}
	ck_assert_int_gt(want, TOKENS_KIRO_SYSTEM + 1000);
	conv_free(&c);
}
END_TEST

int
main(void)
{
	Suite	*s;
	TCase	*tc;
	SRunner	*sr;
	int	 failed;

	s = suite_create("tokens-simd");
	tc = tcase_create("simd");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, vector_classes_every_byte_everywhere);
	tcase_add_test(tc, every_copy_counts_as_plain_c);
	tcase_add_test(tc, pieces_count_as_one_text);
	tcase_add_test(tc, json_walk_reads_as_its_text);
	tcase_add_test(tc, conv_counts_the_same_under_every_copy);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
