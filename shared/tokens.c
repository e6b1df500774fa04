/* tokens.c: token counts and estimates (doc/protocol.md §5, §6.5). */
#include "autoconfig.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "buf.h"
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
 * Speed (make bench: under 10% of request conversion): texts are read 64
 * bytes at a time into one bit mask per class (bit i: byte i), and every
 * count is a population count of masks combined with the previous block's
 * last bits, so that branches do not follow the runs of the text.  Classes
 * go by byte; UTF-8 characters by their lead byte.  Blocks are counted in
 * runs (a long text in place, JSON pieces through a 2 KiB stage) by the
 * best copy of the counting the CPU runs (AVX-512 with 8 blocks side by
 * side, AVX2, SSE2, plain C: equal counts, test-tokens-simd), and JSON
 * strings go into the stage 16 bytes at a time up to an escape.
 */
enum tally_feature {
	TF_WORDS,		/* letter runs and camelCase humps */
	TF_LETTERS,		/* ASCII letters */
	TF_LONG,		/* letters past the 8th of one word */
	TF_NUMBERS,		/* digit runs */
	TF_DIGITS,
	TF_PUNCTS,		/* ASCII punctuation runs */
	TF_PUNCT,
	TF_UNDERSCORES,		/* runs of '_' */
	TF_SPACES,		/* whitespace runs (not a word's one space) */
	TF_SPACE,		/* their characters */
	TF_OTHER,		/* leads of 2-byte characters: other letters */
	TF_WIDE,		/* longer leads: CJK, kana, Hangul, symbols */
	TF__MAX
};

/* Thousandths of a token per feature (the fit, rounded). */
static const long tally_weights[TF__MAX] = {
	1252, -46, 448, 734, 231, 450, 448, 607, 1093, 12, 333, 1000
};

/* Bias in thousandths: Claude Code compacts late when counts are low. */
#define TALLY_BIAS	20

/*
 * One block's classes, a bit per byte: ASCII letters (bit5 tells lowercase),
 * digits, '_', ' ', \t-\r, bytes >= 0x80 (bit6 and bit5 tell a
 * continuation 10xxxxxx from a 2-byte lead 110xxxxx and the longer leads).
 */
struct tally_masks {
	uint64_t	letter, bit5, bit6, high;
	uint64_t	digit, under, blank, ws;
};

/*
 * What a block leaves to the next block of the same text: its letters
 * (lower and upper), runs, the word bits for long words, and a lone ' '
 * at its end.
 */
struct tally_carry {
	uint64_t	letter, lower, upper, digit, punct, under, space;
	uint64_t	word1, word2, word4;
	uint64_t	lone;
};

/*
 * The instruction sets a run of blocks can be counted with, best last:
 * each is a copy of the same counting (tally_run) compiled for it.
 */
enum tally_isa {
	TALLY_ISA_C,		/* plain C, software popcount */
	TALLY_ISA_SSE2,		/* x86-64's baseline */
	TALLY_ISA_POPCNT,	/* SSE2 and the popcnt instruction */
	TALLY_ISA_AVX2,		/* 32 bytes at a time, popcnt, andn */
	TALLY_ISA_AVX512,	/* AVX-512BW: a mask per class, no shuffle */
	TALLY_ISA_AVX512_X8,	/* and VPOPCNTQ: 8 blocks side by side */
	TALLY_ISA__MAX
};

/*
 * A text may come in pieces (JSON is walked piece by piece): they are
 * staged, and counted when many blocks are (a run costs some work
 * besides its blocks).
 */
#define TALLY_STAGE	2048

struct tally {
	unsigned long long	 n[TF__MAX];
	unsigned char		 stage[TALLY_STAGE];
	size_t			 staged;
	struct tally_carry	 last;
	enum tally_isa		 isa;	/* the copy that counts */
};

static enum tally_isa	tally_isa_choose(void);

static void
tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
	t->isa = tally_isa_choose();
}

static unsigned long long
pop64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/*
 * The plain C classes: the reference the vector ones must equal
 * (test-tokens-portable, test-tokens-simd), and the path of CPUs without
 * them.
 */
static void
block_masks_c(const unsigned char *p, struct tally_masks *m)
{
	uint64_t	bit;
	unsigned	c;
	int		i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < 64; i++) {
		c = p[i];
		bit = (uint64_t)1 << i;
		if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			m->letter |= bit;
		if (c & 0x20)
			m->bit5 |= bit;
		if (c & 0x40)
			m->bit6 |= bit;
		if (c & 0x80)
			m->high |= bit;
		if (c >= '0' && c <= '9')
			m->digit |= bit;
		if (c == '_')
			m->under |= bit;
		if (c == ' ')
			m->blank |= bit;
		if (c >= '\t' && c <= '\r')
			m->ws |= bit;
	}
}

/* TOKENS_PORTABLE: the plain C paths only (test-tokens-portable). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TOKENS_PORTABLE)
#define TALLY_X86	1
#include <immintrin.h>

/*
 * Bytes of v in [lo, hi]: adding 0x80 - lo moves the range to the bottom
 * of the signed bytes, where one comparison bounds it.
 */
#define IN_RANGE(w, v, lo, hi)						\
	_mm##w##_cmpgt_epi8(_mm##w##_set1_epi8((char)(-128 + (hi) - (lo) + 1)), \
	    _mm##w##_add_epi8((v), _mm##w##_set1_epi8((char)(0x80 - (lo)))))
#define LETTER(w, v)	IN_RANGE(w, OR20_##w(v), 'a', 'z')
#define BIT5(w, v)	_mm##w##_slli_epi16((v), 2)
#define BIT6(w, v)	_mm##w##_slli_epi16((v), 1)
#define HIGH(w, v)	(v)
#define DIGIT(w, v)	IN_RANGE(w, v, '0', '9')
#define UNDER(w, v)	_mm##w##_cmpeq_epi8((v), _mm##w##_set1_epi8('_'))
#define BLANK(w, v)	_mm##w##_cmpeq_epi8((v), _mm##w##_set1_epi8(' '))
#define WS(w, v)	IN_RANGE(w, v, '\t', '\r')
#define OR20_(v)	_mm_or_si128((v), _mm_set1_epi8(0x20))
#define OR20_256(v)	_mm256_or_si256((v), _mm256_set1_epi8(0x20))

/* The block as four 16-byte quarters: the top bit of each byte. */
#define Q(c, v)	((uint64_t)(uint16_t)_mm_movemask_epi8(c(, v)))
#define SSE2_MASK(c)	(Q(c, v0) | Q(c, v1) << 16 | Q(c, v2) << 32 | \
    Q(c, v3) << 48)
static inline __attribute__((always_inline)) void
block_masks_sse2(const unsigned char *p, struct tally_masks *m)
{
	__m128i	v0, v1, v2, v3;

	v0 = _mm_loadu_si128((const __m128i *)(const void *)p);
	v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	v2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	v3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
	m->letter = SSE2_MASK(LETTER);
	m->bit5 = SSE2_MASK(BIT5);
	m->bit6 = SSE2_MASK(BIT6);
	m->high = SSE2_MASK(HIGH);
	m->digit = SSE2_MASK(DIGIT);
	m->under = SSE2_MASK(UNDER);
	m->blank = SSE2_MASK(BLANK);
	m->ws = SSE2_MASK(WS);
}
#undef SSE2_MASK
#undef Q

/* The block as two 32-byte halves. */
#define H(c, v)	((uint64_t)(uint32_t)_mm256_movemask_epi8(c(256, v)))
#define AVX2_MASK(c)	(H(c, v0) | H(c, v1) << 32)
static inline __attribute__((always_inline, target("avx2"))) void
block_masks_avx2(const unsigned char *p, struct tally_masks *m)
{
	__m256i	v0, v1;

	v0 = _mm256_loadu_si256((const __m256i *)(const void *)p);
	v1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
	m->letter = AVX2_MASK(LETTER);
	m->bit5 = AVX2_MASK(BIT5);
	m->bit6 = AVX2_MASK(BIT6);
	m->high = AVX2_MASK(HIGH);
	m->digit = AVX2_MASK(DIGIT);
	m->under = AVX2_MASK(UNDER);
	m->blank = AVX2_MASK(BLANK);
	m->ws = AVX2_MASK(WS);
}
#undef AVX2_MASK
#undef H

/* The block at once: AVX-512BW compares give the masks themselves. */
static inline __attribute__((always_inline, target("avx512bw"))) void
block_masks_avx512(const unsigned char *p, struct tally_masks *m)
{
	__m512i	v;

#define B(c)	_mm512_set1_epi8((char)(c))
#define UNDER_N(x, lo, n)	_mm512_cmplt_epu8_mask(_mm512_sub_epi8((x), \
    B(lo)), B(n))
	v = _mm512_loadu_si512((const void *)p);
	m->letter = UNDER_N(_mm512_or_si512(v, B(0x20)), 'a', 26);
	m->bit5 = _mm512_test_epi8_mask(v, B(0x20));
	m->bit6 = _mm512_test_epi8_mask(v, B(0x40));
	m->high = _mm512_movepi8_mask(v);
	m->digit = UNDER_N(v, '0', 10);
	m->under = _mm512_cmpeq_epi8_mask(v, B('_'));
	m->blank = _mm512_cmpeq_epi8_mask(v, B(' '));
	m->ws = UNDER_N(v, '\t', 5);
#undef UNDER_N
#undef B
}
#undef LETTER
#undef BIT5
#undef BIT6
#undef HIGH
#undef DIGIT
#undef UNDER
#undef BLANK
#undef WS
#undef OR20_
#undef OR20_256
#undef IN_RANGE
#endif

/* x's bits moved up by k, the previous block's top bits below them. */
static inline __attribute__((always_inline)) uint64_t
after(uint64_t x, uint64_t last, int k)
{
	return x << k | last >> (64 - k);
}

/*
 * Counts n blocks of one text from p, each 64 bytes but the last, whose
 * text bytes are those of last_valid.  The carry and the counts stay in
 * registers for the run; masks and hw are constants in each copy below,
 * so that the choices fold away and the classes are inlined.
 */
typedef void (*tally_masks_fn)(const unsigned char *, struct tally_masks *);

static inline __attribute__((always_inline)) void
tally_run(struct tally *t, const unsigned char *p, size_t n,
    uint64_t last_valid, tally_masks_fn masks, int hw)
{
	struct tally_masks	 m;
	struct tally_carry	 l = t->last;
	unsigned long long	 c[TF__MAX];
	uint64_t		 valid, lower, upper, space, lead, punct;
	uint64_t		 w1, w2, w4, w8, start, blank1, wordish, lone;
	size_t			 b, i;

#define POP(x)	(hw ? (unsigned long long)__builtin_popcountll(x) : pop64(x))
	memset(c, 0, sizeof(c));
	for (b = 0; b < n; b++, p += 64) {
		valid = b + 1 < n ? ~(uint64_t)0 : last_valid;
		masks(p, &m);
		m.letter &= valid;
		m.high &= valid;
		m.digit &= valid;
		m.under &= valid;
		m.blank &= valid;
		m.ws &= valid;
		lower = m.letter & m.bit5;
		upper = m.letter & ~m.bit5;
		space = m.blank | m.ws;
		punct = valid & ~m.high & ~(m.letter | m.digit | m.under |
		    space);
		lead = m.high & m.bit6;

		/* A word starts after a non-letter, or at a hump ("toolUseId"). */
		c[TF_WORDS] += POP(m.letter & ~after(m.letter, l.letter, 1)) +
		    POP(upper & after(lower, l.lower, 1));
		c[TF_LETTERS] += POP(m.letter);
		/* Letters that go on with a word; 8 in a row make a long word. */
		w1 = (lower & after(m.letter, l.letter, 1)) |
		    (upper & after(upper, l.upper, 1));
		w2 = w1 & after(w1, l.word1, 1);
		w4 = w2 & after(w2, l.word2, 2);
		w8 = w4 & after(w4, l.word4, 4);
		c[TF_LONG] += POP(w8);
		c[TF_NUMBERS] += POP(m.digit & ~after(m.digit, l.digit, 1));
		c[TF_DIGITS] += POP(m.digit);
		c[TF_PUNCTS] += POP(punct & ~after(punct, l.punct, 1));
		c[TF_PUNCT] += POP(punct);
		c[TF_UNDERSCORES] += POP(m.under & ~after(m.under, l.under, 1));
		/*
		 * Whitespace runs; a lone ' ' (after a non-blank) before a
		 * letter, punctuation or another script rides with that word
		 * (modulo 2^64: the sums come out right).
		 */
		start = space & ~after(space, l.space, 1);
		blank1 = m.blank & start;
		wordish = m.letter | punct | lead;
		lone = POP(blank1 & wordish >> 1) + (l.lone & wordish);
		c[TF_SPACES] += POP(start) - lone;
		c[TF_SPACE] += POP(space) - lone;
		/* Leads: 2-byte (other letters), or CJK and symbols alike. */
		c[TF_OTHER] += POP(lead & ~m.bit5);
		c[TF_WIDE] += POP(lead & m.bit5);

		l.letter = m.letter;
		l.lower = lower;
		l.upper = upper;
		l.digit = m.digit;
		l.punct = punct;
		l.under = m.under;
		l.space = space;
		l.word1 = w1;
		l.word2 = w2;
		l.word4 = w4;
		l.lone = blank1 >> 63;
	}
	for (i = 0; i < TF__MAX; i++)
		t->n[i] += c[i];
	t->last = l;
#undef POP
}

static void
tally_run_c(struct tally *t, const unsigned char *p, size_t n, uint64_t valid)
{
	tally_run(t, p, n, valid, block_masks_c, 0);
}

#if defined(TALLY_X86)
static void
tally_run_sse2(struct tally *t, const unsigned char *p, size_t n,
    uint64_t valid)
{
	tally_run(t, p, n, valid, block_masks_sse2, 0);
}

/*
 * x86-64 has popcnt on every CPU from 2008 on and AVX2 on most from 2013
 * on, but the default target assumes neither (and would call libgcc for
 * each count): copies for CPUs that have them, chosen at run time.
 */
__attribute__((target("popcnt"))) static void
tally_run_popcnt(struct tally *t, const unsigned char *p, size_t n,
    uint64_t valid)
{
	tally_run(t, p, n, valid, block_masks_sse2, 1);
}

__attribute__((target("avx2,popcnt,bmi"))) static void
tally_run_avx2(struct tally *t, const unsigned char *p, size_t n,
    uint64_t valid)
{
	tally_run(t, p, n, valid, block_masks_avx2, 1);
}

__attribute__((target("avx512bw,avx2,popcnt,bmi"))) static void
tally_run_avx512(struct tally *t, const unsigned char *p, size_t n,
    uint64_t valid)
{
	tally_run(t, p, n, valid, block_masks_avx512, 1);
}

/*
 * tally_run's counting for 8 blocks at once, one block per 64-bit lane:
 * a class's masks of the 8 blocks make one vector, the previous block's
 * bits come from the lane below (the carry's lane 7 for lane 0), and
 * VPOPCNTQ counts all lanes.  Runs of up to 8 blocks go to tally_run
 * (setting up the vectors costs more).
 */
#define X8_TARGET	"avx512f,avx512bw,avx512vpopcntdq,avx2,popcnt,bmi"
#define X8_AFTER(x, c, k)	_mm512_or_si512(_mm512_slli_epi64((x), (k)), \
    _mm512_srli_epi64(_mm512_alignr_epi64((x), (c), 7), 64 - (k)))
#define X8_ANDN(a, b)		_mm512_andnot_si512((a), (b))	/* ~a & b */
#define X8_POP(x)		_mm512_popcnt_epi64(x)

__attribute__((target(X8_TARGET))) static void
tally_run_x8(struct tally *t, const unsigned char *p, size_t n,
    uint64_t valid)
{
	uint64_t __attribute__((aligned(64)))	 lane[8];
	struct tally_masks	 m;
	__m512i		 letter, bit5, bit6, high, digit, under, blank, ws;
	__m512i		 lower, upper, space, punct, lead, w1, w2, w4, w8;
	__m512i		 start, blank1, wordish, lone, v;
	__m512i		 c_letter, c_lower, c_upper, c_digit, c_punct;
	__m512i		 c_under, c_space, c_w1, c_w2, c_w4, c_blank1;
	__m512i		 acc[TF__MAX];
	const __m512i	 one = _mm512_set1_epi64(1);
	__m512i		 vvalid = _mm512_set1_epi64(-1);
	size_t		 b, j, i, r = 8;

	if (n <= 8) {
		tally_run(t, p, n, valid, block_masks_avx512, 1);
		return;
	}
	c_letter = _mm512_set1_epi64((long long)t->last.letter);
	c_lower = _mm512_set1_epi64((long long)t->last.lower);
	c_upper = _mm512_set1_epi64((long long)t->last.upper);
	c_digit = _mm512_set1_epi64((long long)t->last.digit);
	c_punct = _mm512_set1_epi64((long long)t->last.punct);
	c_under = _mm512_set1_epi64((long long)t->last.under);
	c_space = _mm512_set1_epi64((long long)t->last.space);
	c_w1 = _mm512_set1_epi64((long long)t->last.word1);
	c_w2 = _mm512_set1_epi64((long long)t->last.word2);
	c_w4 = _mm512_set1_epi64((long long)t->last.word4);
	/* What tally_run keeps of the last blank1: its top bit. */
	c_blank1 = _mm512_set1_epi64((long long)(t->last.lone << 63));
	for (i = 0; i < TF__MAX; i++)
		acc[i] = _mm512_setzero_si512();
	/*
	 * Groups of 8 blocks; the last may have fewer (its empty lanes
	 * count nothing) and its last block has last_valid's bytes.
	 */
	for (b = 0; b < n; b += 8, p += 512) {
		r = n - b < 8 ? n - b : 8;
		/*
		 * Each mask into its lane with a masked broadcast: through
		 * memory, 8 stores read back as one vector would wait for
		 * the stores to retire.
		 */
		letter = bit5 = bit6 = high = _mm512_setzero_si512();
		digit = under = blank = ws = _mm512_setzero_si512();
		for (j = 0; j < r; j++) {
#define INTO(x, f)	(x) = _mm512_mask_set1_epi64((x), (__mmask8)(1u << j), \
    (long long)m.f)
			block_masks_avx512(p + 64 * j, &m);
			INTO(letter, letter);
			INTO(bit5, bit5);
			INTO(bit6, bit6);
			INTO(high, high);
			INTO(digit, digit);
			INTO(under, under);
			INTO(blank, blank);
			INTO(ws, ws);
#undef INTO
		}
		if (b + r == n) {
			vvalid = _mm512_mask_set1_epi64(_mm512_maskz_set1_epi64(
			    (__mmask8)((1u << (r - 1)) - 1), -1),
			    (__mmask8)(1u << (r - 1)), (long long)valid);
			letter = _mm512_and_si512(letter, vvalid);
			high = _mm512_and_si512(high, vvalid);
			digit = _mm512_and_si512(digit, vvalid);
			under = _mm512_and_si512(under, vvalid);
			blank = _mm512_and_si512(blank, vvalid);
			ws = _mm512_and_si512(ws, vvalid);
		}

		lower = _mm512_and_si512(letter, bit5);
		upper = X8_ANDN(bit5, letter);
		space = _mm512_or_si512(blank, ws);
		punct = X8_ANDN(_mm512_or_si512(_mm512_or_si512(high, letter),
		    _mm512_or_si512(_mm512_or_si512(digit, under), space)),
		    vvalid);
		lead = _mm512_and_si512(high, bit6);

		acc[TF_WORDS] = _mm512_add_epi64(acc[TF_WORDS], _mm512_add_epi64(
		    X8_POP(X8_ANDN(X8_AFTER(letter, c_letter, 1), letter)),
		    X8_POP(_mm512_and_si512(upper, X8_AFTER(lower, c_lower,
		    1)))));
		acc[TF_LETTERS] = _mm512_add_epi64(acc[TF_LETTERS],
		    X8_POP(letter));
		w1 = _mm512_or_si512(_mm512_and_si512(lower, X8_AFTER(letter,
		    c_letter, 1)), _mm512_and_si512(upper, X8_AFTER(upper,
		    c_upper, 1)));
		w2 = _mm512_and_si512(w1, X8_AFTER(w1, c_w1, 1));
		w4 = _mm512_and_si512(w2, X8_AFTER(w2, c_w2, 2));
		w8 = _mm512_and_si512(w4, X8_AFTER(w4, c_w4, 4));
		acc[TF_LONG] = _mm512_add_epi64(acc[TF_LONG], X8_POP(w8));
		acc[TF_NUMBERS] = _mm512_add_epi64(acc[TF_NUMBERS], X8_POP(
		    X8_ANDN(X8_AFTER(digit, c_digit, 1), digit)));
		acc[TF_DIGITS] = _mm512_add_epi64(acc[TF_DIGITS], X8_POP(digit));
		acc[TF_PUNCTS] = _mm512_add_epi64(acc[TF_PUNCTS], X8_POP(
		    X8_ANDN(X8_AFTER(punct, c_punct, 1), punct)));
		acc[TF_PUNCT] = _mm512_add_epi64(acc[TF_PUNCT], X8_POP(punct));
		acc[TF_UNDERSCORES] = _mm512_add_epi64(acc[TF_UNDERSCORES],
		    X8_POP(X8_ANDN(X8_AFTER(under, c_under, 1), under)));
		start = X8_ANDN(X8_AFTER(space, c_space, 1), space);
		blank1 = _mm512_and_si512(blank, start);
		wordish = _mm512_or_si512(_mm512_or_si512(letter, punct), lead);
		v = _mm512_srli_epi64(_mm512_alignr_epi64(blank1, c_blank1, 7),
		    63);
		lone = _mm512_add_epi64(X8_POP(_mm512_and_si512(blank1,
		    _mm512_srli_epi64(wordish, 1))), _mm512_and_si512(
		    _mm512_and_si512(v, wordish), one));
		acc[TF_SPACES] = _mm512_add_epi64(acc[TF_SPACES],
		    _mm512_sub_epi64(X8_POP(start), lone));
		acc[TF_SPACE] = _mm512_add_epi64(acc[TF_SPACE],
		    _mm512_sub_epi64(X8_POP(space), lone));
		acc[TF_OTHER] = _mm512_add_epi64(acc[TF_OTHER],
		    X8_POP(X8_ANDN(bit5, lead)));
		acc[TF_WIDE] = _mm512_add_epi64(acc[TF_WIDE],
		    X8_POP(_mm512_and_si512(lead, bit5)));

		c_letter = letter;
		c_lower = lower;
		c_upper = upper;
		c_digit = digit;
		c_punct = punct;
		c_under = under;
		c_space = space;
		c_w1 = w1;
		c_w2 = w2;
		c_w4 = w4;
		c_blank1 = blank1;
	}
	for (i = 0; i < TF__MAX; i++)
		t->n[i] += (unsigned long long)_mm512_reduce_add_epi64(acc[i]);
#define LAST(x)	(_mm512_store_si512(lane, (x)), lane[r - 1])
	t->last.letter = LAST(c_letter);
	t->last.lower = LAST(c_lower);
	t->last.upper = LAST(c_upper);
	t->last.digit = LAST(c_digit);
	t->last.punct = LAST(c_punct);
	t->last.under = LAST(c_under);
	t->last.space = LAST(c_space);
	t->last.word1 = LAST(c_w1);
	t->last.word2 = LAST(c_w2);
	t->last.word4 = LAST(c_w4);
	t->last.lone = LAST(c_blank1) >> 63;
#undef LAST
}
#undef X8_POP
#undef X8_ANDN
#undef X8_AFTER
#undef X8_TARGET
#endif

/* The copy tally_blocks uses; TALLY_ISA__MAX: the best the CPU has. */
static enum tally_isa	tally_isa_forced = TALLY_ISA__MAX;

static int
tally_isa_usable(enum tally_isa isa)
{
	switch (isa) {
	case TALLY_ISA_C:
		return 1;
#if defined(TALLY_X86)
	case TALLY_ISA_SSE2:
		return 1;
	case TALLY_ISA_POPCNT:
		return __builtin_cpu_supports("popcnt");
	case TALLY_ISA_AVX2:
		return __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("popcnt") &&
		    __builtin_cpu_supports("bmi");
	case TALLY_ISA_AVX512:
		return __builtin_cpu_supports("avx512bw") &&
		    tally_isa_usable(TALLY_ISA_AVX2);
	case TALLY_ISA_AVX512_X8:
		return __builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx512vpopcntdq") &&
		    tally_isa_usable(TALLY_ISA_AVX512);
#endif
	default:
		return 0;
	}
}

/*
 * The best copy for this CPU, once per tally: the CPU checks cost as
 * much as a short run.
 */
static enum tally_isa
tally_isa_choose(void)
{
	enum tally_isa	isa = tally_isa_forced;

	if (isa == TALLY_ISA__MAX)
		for (isa = TALLY_ISA__MAX - 1; isa > TALLY_ISA_C &&
		    !tally_isa_usable(isa); isa--)
			;
	return isa;
}

/* Counts n blocks (see tally_run) with the tally's copy. */
static void
tally_blocks(struct tally *t, const unsigned char *p, size_t n,
    uint64_t last_valid)
{
	switch (t->isa) {
#if defined(TALLY_X86)
	case TALLY_ISA_AVX512_X8:
		tally_run_x8(t, p, n, last_valid);
		break;
	case TALLY_ISA_AVX512:
		tally_run_avx512(t, p, n, last_valid);
		break;
	case TALLY_ISA_AVX2:
		tally_run_avx2(t, p, n, last_valid);
		break;
	case TALLY_ISA_POPCNT:
		tally_run_popcnt(t, p, n, last_valid);
		break;
	case TALLY_ISA_SSE2:
		tally_run_sse2(t, p, n, last_valid);
		break;
#endif
	default:
		tally_run_c(t, p, n, last_valid);
		break;
	}
}

/* Ends a text: the next one starts fresh (the tokenizer sees them apart). */
static void
tally_break(struct tally *t)
{
	size_t	rest = t->staged % 64;

	if (t->staged > 0)
		tally_blocks(t, t->stage, (t->staged + 63) / 64, rest == 0 ?
		    ~(uint64_t)0 : ((uint64_t)1 << rest) - 1);
	t->staged = 0;
	memset(&t->last, 0, sizeof(t->last));
}

/* Counts the full stage. */
static void
tally_flush(struct tally *t)
{
	tally_blocks(t, t->stage, TALLY_STAGE / 64, ~(uint64_t)0);
	t->staged = 0;
}

static void
tally_byte(struct tally *t, unsigned char c)
{
	t->stage[t->staged++] = c;
	if (t->staged == TALLY_STAGE)
		tally_flush(t);
}

static void
tally_bytes(struct tally *t, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	/* JSON comes in many short pieces: no call for those. */
	if (len <= 8) {
		while (len-- > 0)
			tally_byte(t, *p++);
		return;
	}
	while (len > 0) {
		/* Whole blocks in place when nothing is staged. */
		if (t->staged == 0 && len >= 64) {
			n = len / 64;
			tally_blocks(t, p, n, ~(uint64_t)0);
			p += 64 * n;
			len -= 64 * n;
			continue;
		}
		n = TALLY_STAGE - t->staged < len ? TALLY_STAGE - t->staged :
		    len;
		memcpy(t->stage + t->staged, p, n);
		t->staged += n;
		p += n;
		len -= n;
		if (t->staged == TALLY_STAGE)
			tally_flush(t);
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

/* The escaped form of c in a JSON string (2 or 6 bytes) into out. */
static size_t
json_escape(unsigned char c, char out[6])
{
	static const char	hex[] = "0123456789abcdef";

	out[0] = '\\';
	switch (c) {
	case '"':
	case '\\':
		out[1] = (char)c;
		return 2;
	case '\n':
		out[1] = 'n';
		return 2;
	case '\t':
		out[1] = 't';
		return 2;
	case '\r':
		out[1] = 'r';
		return 2;
	default:
		memcpy(out + 1, "u00", 3);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 0xf];
		return 6;
	}
}

/*
 * Copies the bytes of p that JSON writes as they are into out, up to n
 * or the first that needs an escape: how many.  Schemas' descriptions
 * are long, with a newline or a quote every few words: 16 bytes at a
 * time (a copy may write past the count, within n).
 */
/*
 * Whether a byte of x is under n (n <= 128), or is c: exact, though the
 * bits above the first such byte may be wrong (Bit Twiddling Hacks).
 */
#define SWAR_ONES	0x0101010101010101ULL
#define SWAR_LESS(x, n)	(((x) - SWAR_ONES * (n)) & ~(x) & SWAR_ONES * 0x80)
#define SWAR_EQ(x, c)	SWAR_LESS((x) ^ SWAR_ONES * (c), 1)

static size_t
json_plain_copy(unsigned char *out, const unsigned char *p, size_t n)
{
	uint64_t	x;
	size_t		i = 0;
	unsigned	c;
#if defined(TALLY_X86)
	__m128i		v, esc;
	unsigned	found;

	for (; i + 16 <= n; i += 16) {
		v = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
		_mm_storeu_si128((__m128i *)(void *)(out + i), v);
		esc = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
		esc = _mm_or_si128(esc, _mm_cmpeq_epi8(_mm_min_epu8(v,
		    _mm_set1_epi8(0x1f)), v));
		if ((found = (unsigned)_mm_movemask_epi8(esc)) != 0)
			return i + (size_t)__builtin_ctz(found);
	}
#endif
	/* Keys and short values: 8 bytes at a time, with no escape in them. */
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, p + i, 8);
		if ((SWAR_LESS(x, 0x20) | SWAR_EQ(x, '"') |
		    SWAR_EQ(x, '\\')) != 0)
			break;
		memcpy(out + i, &x, 8);
	}
	for (; i < n; i++) {
		c = p[i];
		if (c < 0x20 || c == '"' || c == '\\')
			break;
		out[i] = (unsigned char)c;
	}
	return i;
}

#if defined(TALLY_X86)
/*
 * json_plain_copy with AVX-512BW/VL: most strings of a schema are a few
 * bytes, and a masked load and store takes them (or a long one's tail)
 * whole, with no loop whose end depends on their length.
 */
__attribute__((target("avx512bw,avx512vl"))) static size_t
json_plain_copy_avx512(unsigned char *out, const unsigned char *p, size_t n)
{
	__m128i		v;
	__mmask16	k, esc;
	size_t		i;

	for (i = 0;; i += 16) {
		k = n - i >= 16 ? (__mmask16)0xffff :
		    (__mmask16)((1u << (n - i)) - 1);
		v = _mm_maskz_loadu_epi8(k, p + i);
		_mm_mask_storeu_epi8(out + i, k, v);
		esc = _mm_mask_cmple_epu8_mask(k, v, _mm_set1_epi8(0x1f)) |
		    _mm_mask_cmpeq_epi8_mask(k, v, _mm_set1_epi8('"')) |
		    _mm_mask_cmpeq_epi8_mask(k, v, _mm_set1_epi8('\\'));
		if (esc != 0)
			return i + (size_t)__builtin_ctz(esc);
		if (n - i <= 16)
			return n;
	}
}
#endif

/* A JSON string as compact JSON writes it: quoted, escaped. */
static void
tally_json_string(struct tally *t, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 esc[6];
	size_t			 n, plain;

	tally_byte(t, '"');
	while (len > 0) {
		n = TALLY_STAGE - t->staged < len ? TALLY_STAGE - t->staged :
		    len;
#if defined(TALLY_X86)
		if (t->isa >= TALLY_ISA_AVX512)
			plain = json_plain_copy_avx512(t->stage + t->staged, p,
			    n);
		else
#endif
			plain = json_plain_copy(t->stage + t->staged, p, n);
		t->staged += plain;
		p += plain;
		len -= plain;
		if (t->staged == TALLY_STAGE)
			tally_flush(t);
		if (plain < n) {
			tally_bytes(t, esc, json_escape(*p++, esc));
			len--;
		}
	}
	tally_byte(t, '"');
}

/* An integer as JSON writes it: snprintf's work, without its cost. */
static void
tally_json_int(struct tally *t, int64_t v)
{
	char		 num[BUF_DECIMAL_LEN];
	const char	*p;
	size_t		 len;

	p = buf_decimal((long long)v, num, &len);
	tally_bytes(t, p, len);
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
		tally_byte(t, '{');
		json_object_object_foreach(v, key, val) {
			if (!first)
				tally_byte(t, ',');
			first = 0;
			tally_json_string(t, key, strlen(key));
			tally_byte(t, ':');
			tally_json(t, val);
		}
		tally_byte(t, '}');
		break;
	case json_type_array:
		tally_byte(t, '[');
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			if (i > 0)
				tally_byte(t, ',');
			tally_json(t, json_object_array_get_idx(v, i));
		}
		tally_byte(t, ']');
		break;
	case json_type_string:
		tally_json_string(t, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_int:
		tally_json_int(t, json_object_get_int64(v));
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

/* Kiro takes jpeg, png, gif and webp; kiro_req_build drops the rest. */
static int
image_sent(const struct conv_block *b)
{
	return b->data != NULL && kiro_image_format(b->media_type) != NULL;
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
		if (b->type == CONV_BLOCK_TEXT && !kiro_text_blank(b->text))
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
		if (m->blocks[i].type != type || kiro_text_blank(m->blocks[i].text))
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
		if (m->blocks[i].type == type && !kiro_text_blank(m->blocks[i].text))
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
		desc = kiro_text_blank(tool->description) ? tool->name :
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
	int	 has_system = !kiro_text_blank(c->system);

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
tokens_count_msg(const struct conv_msg *m)
{
	struct tally	t;
	struct strset	used = STRSET_INIT(1);
	long		fixed;

	tally_init(&t);
	fixed = m->role == CONV_ROLE_USER ? tally_user(&t, m) :
	    tally_assistant(&t, m, &used);
	strset_free(&used);
	return fixed + tally_tokens(&t);
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
