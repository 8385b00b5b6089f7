/*-------------------------------------------------------------------------
 *
 * sketch.c
 *	  Mergeable baseline summaries: a bottom-k sample with exact moments
 *	  for numeric features, bottom-k-by-label counts for categorical ones.
 *	  The design and the error bounds are in sketch.h.
 *
 * Everything that goes into a sketch is either an exact integer count or
 * chosen by a total order on (hash, value), so a sketch is a function of
 * the multiset of rows alone; NumSketchCanonicalize and the serializers
 * put it in one canonical layout, which is what lets the tests compare a
 * merged sketch with the one-pass sketch byte for byte.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdlib.h>

#include "miscadmin.h"

#include "algorithms/sketch.h"

#define NUMSKETCH_MAGIC		0x4e464941	/* "AIFN" */
#define CATSKETCH_MAGIC		0x43464941	/* "AIFC" */
#define SKETCH_VERSION		1

/* Cells of an ExactSum hold 32-bit digits; the lowest is 2^-1126. */
#define EXACTSUM_BIAS		1126
#define EXACTSUM_DIGIT		INT64CONST(4294967296)
#define EXACTSUM_MAXPENDING (1 << 29)

/*
 * Row counts beyond 2^53 are not exactly representable as the doubles the
 * statistics divide by; no table has that many rows, so a serialized
 * summary claiming more is corrupt.
 */
#define SKETCH_MAX_COUNT	(INT64CONST(1) << 53)

static void ExactSumNormalize(ExactSum *s);


/* ---------------------------------------------------------------------
 * Hashes
 * ---------------------------------------------------------------------
 */

/* FNV-1a over the bytes, then the finalizer for avalanche. */
uint64
SketchHashBytes(const char *data, Size len)
{
	uint64		h = UINT64_C(0xcbf29ce484222325);
	Size		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) data[i];
		h *= UINT64_C(0x100000001b3);
	}
	return SketchHash64(h ^ (uint64) len);
}


/* ---------------------------------------------------------------------
 * Exact sums
 * ---------------------------------------------------------------------
 */

void
ExactSumInit(ExactSum *s)
{
	memset(s, 0, sizeof(ExactSum));
}

/*
 * x = mant * 2^(e - 53) with a 53-bit integer mant; its bits land in
 * three adjacent 32-bit cells.  Cells accumulate up to 2^29 additions of
 * less than 2^32 before a carry pass, far from int64's range.
 */
void
ExactSumAdd(ExactSum *s, double x)
{
	int			e;
	double		f;
	uint64		mant;
	int			pos;
	int			c;
	unsigned __int128 v;
	int64		d0,
				d1,
				d2;

	if (x == 0)
		return;
	if (!isfinite(x))
	{
		s->overflow = true;
		return;
	}
	f = frexp(fabs(x), &e);
	mant = (uint64) ldexp(f, 53);
	pos = e - 53 + EXACTSUM_BIAS;
	c = pos / 32;
	v = (unsigned __int128) mant << (pos % 32);
	d0 = (int64) (uint32) v;
	d1 = (int64) (uint32) (v >> 32);
	d2 = (int64) (uint32) (v >> 64);
	if (x > 0)
	{
		s->cell[c] += d0;
		s->cell[c + 1] += d1;
		s->cell[c + 2] += d2;
	}
	else
	{
		s->cell[c] -= d0;
		s->cell[c + 1] -= d1;
		s->cell[c + 2] -= d2;
	}
	if (++s->pending >= EXACTSUM_MAXPENDING)
		ExactSumNormalize(s);
}

/*
 * Propagate carries so that every cell but the last is in [0, 2^32): the
 * one representation of the exact value, whatever the history.
 */
static void
ExactSumNormalize(ExactSum *s)
{
	int			i;

	for (i = 0; i < EXACTSUM_CELLS - 1; i++)
	{
		int64		low = (int64) ((uint64) s->cell[i] & UINT64_C(0xFFFFFFFF));
		int64		carry = (s->cell[i] - low) / EXACTSUM_DIGIT;

		s->cell[i] = low;
		s->cell[i + 1] += carry;
	}
	s->pending = 0;
}

void
ExactSumMerge(ExactSum *dst, const ExactSum *src)
{
	int			i;

	/*
	 * After normalizing, dst's cells are below 2^32; src's, even with
	 * carries pending, are below 2^61, so the cell sums cannot overflow.
	 */
	ExactSumNormalize(dst);
	for (i = 0; i < EXACTSUM_CELLS; i++)
		dst->cell[i] += src->cell[i];
	dst->overflow = dst->overflow || src->overflow;
	ExactSumNormalize(dst);
}

/*
 * The sum as a double-double from its four leading digits (128 bits, more
 * than a double-double holds).  Deterministic because it reads the
 * canonical form.
 */
DD
ExactSumValue(ExactSum *s)
{
	ExactSum	mag;
	bool		negative;
	DD			r = {0, 0};
	int			top;
	int			i;

	if (s->overflow)
	{
		r.hi = NAN;
		return r;
	}
	ExactSumNormalize(s);
	mag = *s;
	negative = mag.cell[EXACTSUM_CELLS - 1] < 0;
	if (negative)
	{
		for (i = 0; i < EXACTSUM_CELLS; i++)
			mag.cell[i] = -mag.cell[i];
		ExactSumNormalize(&mag);
	}
	for (top = EXACTSUM_CELLS - 1; top >= 0 && mag.cell[top] == 0; top--)
		;
	for (i = top; i >= 0 && i > top - 4; i--)
		r = dd_add(r, dd_two_sum(ldexp((double) mag.cell[i], 32 * i - EXACTSUM_BIAS), 0.0));
	if (negative)
	{
		r.hi = -r.hi;
		r.lo = -r.lo;
	}
	return r;
}


/* ---------------------------------------------------------------------
 * Sorting
 *
 * Sketches sort their samples twice per use (by hash into the canonical
 * layout, by value for the statistics), tens of thousands of entries per
 * feature; LSD radix sorts on 8-bit digits do that in a few linear passes
 * instead of qsort's n log n indirect comparisons, and skip the digits
 * every key shares (the high bytes of doubles of one magnitude).
 * ---------------------------------------------------------------------
 */

/* Order-preserving map of a double's bits to an unsigned key. */
static inline uint64
DoubleKey(double d)
{
	uint64		u;

	memcpy(&u, &d, sizeof(u));
	return (u >> 63) ? ~u : (u | (UINT64_C(1) << 63));
}

static inline double
KeyDouble(uint64 k)
{
	uint64		u = (k >> 63) ? (k & ~(UINT64_C(1) << 63)) : ~k;
	double		d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

/*
 * Stable LSD radix sort of *keys[0..n) (with a payload permuted alike when
 * vals is not NULL), ascending; *tmpk and *tmpv are scratch of n entries.
 * The pointers are swapped as the passes go: on return *keys and *vals
 * point at the sorted data, which is in either of the two allocations.
 */
static void
RadixSort64(uint64 **keys, uint64 **vals, uint64 **tmpk, uint64 **tmpv, int64 n)
{
	int64		(*count)[256] = palloc0(sizeof(int64) * 8 * 256);

	for (int64 i = 0; i < n; i++)
	{
		uint64		k = (*keys)[i];

		for (int d = 0; d < 8; d++)
			count[d][(k >> (8 * d)) & 0xFF]++;
	}
	for (int d = 0; d < 8; d++)
	{
		int64		pos = 0;
		uint64	   *k = *keys;
		uint64	   *v = vals ? *vals : NULL;
		uint64	   *tk = *tmpk;
		uint64	   *tv = vals ? *tmpv : NULL;
		int			shift = 8 * d;

		if (count[d][(k[0] >> shift) & 0xFF] == n)
			continue;			/* every key has this digit */
		for (int b = 0; b < 256; b++)
		{
			int64		c = count[d][b];

			count[d][b] = pos;
			pos += c;
		}
		for (int64 i = 0; i < n; i++)
		{
			int64		to = count[d][(k[i] >> shift) & 0xFF]++;

			tk[to] = k[i];
			if (v)
				tv[to] = v[i];
		}
		*tmpk = *keys;
		*keys = tk;
		if (vals)
		{
			*tmpv = *vals;
			*vals = tv;
		}
		CHECK_FOR_INTERRUPTS();
	}
	pfree(count);
}

/* Sort doubles ascending (-0 before +0; no NaN expected). */
void
SketchSortDoubles(double *x, int64 n)
{
	uint64	   *a;
	uint64	   *b;
	uint64	   *keys;
	uint64	   *scratch;

	if (n < 2)
		return;
	a = palloc(sizeof(uint64) * n);
	b = palloc(sizeof(uint64) * n);
	for (int64 i = 0; i < n; i++)
		a[i] = DoubleKey(x[i]);
	keys = a;
	scratch = b;
	RadixSort64(&keys, NULL, &scratch, NULL, n);
	for (int64 i = 0; i < n; i++)
		x[i] = KeyDouble(keys[i]);
	pfree(a);
	pfree(b);
}

/* ---------------------------------------------------------------------
 * Numeric sketch
 * ---------------------------------------------------------------------
 */

/* Total order of sample entries: by hash, then by the value's bits. */
static inline int
EntryCompare(const NumSketchEntry *a, const NumSketchEntry *b)
{
	uint64		va;
	uint64		vb;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	memcpy(&va, &a->value, sizeof(uint64));
	memcpy(&vb, &b->value, sizeof(uint64));
	if (va != vb)
		return va < vb ? -1 : 1;
	return 0;
}

/*
 * Sort entries descending by (hash, value bits): radix on the complemented
 * hashes, then the rare runs of equal hashes (duplicate rows) by value.
 */
static void
EntrySortDesc(NumSketchEntry *e, int n)
{
	uint64	   *k = palloc(sizeof(uint64) * Max(n, 1));
	uint64	   *v = palloc(sizeof(uint64) * Max(n, 1));
	uint64	   *tk = palloc(sizeof(uint64) * Max(n, 1));
	uint64	   *tv = palloc(sizeof(uint64) * Max(n, 1));
	uint64	   *keys = k;
	uint64	   *vals = v;
	uint64	   *skeys = tk;
	uint64	   *svals = tv;

	for (int i = 0; i < n; i++)
	{
		k[i] = ~e[i].hash;
		memcpy(&v[i], &e[i].value, sizeof(uint64));
	}
	if (n > 1)
		RadixSort64(&keys, &vals, &skeys, &svals, n);
	for (int i = 0; i < n; i++)
	{
		e[i].hash = ~keys[i];
		memcpy(&e[i].value, &vals[i], sizeof(double));
	}
	/* insertion sort within runs of equal hashes: larger value bits first */
	for (int i = 1; i < n; i++)
	{
		NumSketchEntry x = e[i];
		int			j = i;

		while (j > 0 && EntryCompare(&e[j - 1], &x) < 0)
		{
			e[j] = e[j - 1];
			j--;
		}
		e[j] = x;
	}
	pfree(k);
	pfree(v);
	pfree(tk);
	pfree(tv);
}

NumSketch *
NumSketchCreate(int k)
{
	NumSketch  *s;

	if (k < 1 || k > NUMSKETCH_MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sketch size %d is out of range", k),
				 errhint("The sample size must be between 1 and %d.", NUMSKETCH_MAX_K)));
	s = palloc0(sizeof(NumSketch));
	s->k = k;
	s->sample = palloc(sizeof(NumSketchEntry) * 2 * k);
	s->canonical = true;
	s->min = INFINITY;
	s->max = -INFINITY;
	ExactSumInit(&s->sum);
	ExactSumInit(&s->sumsq);
	s->moments = true;
	return s;
}

/*
 * Stop keeping the exact sums (and forget them): NumSketchMean and
 * NumSketchStd of this sketch become errors.
 */
void
NumSketchNoMoments(NumSketch *s)
{
	s->moments = false;
	ExactSumInit(&s->sum);
	ExactSumInit(&s->sumsq);
}

void
NumSketchFree(NumSketch *s)
{
	pfree(s->sample);
	pfree(s);
}

static inline void
EntrySwap(NumSketchEntry *x, int i, int j)
{
	NumSketchEntry t = x[i];

	x[i] = x[j];
	x[j] = t;
}

/*
 * Rearrange x[0..n) so that its k smallest entries come first, the k-th
 * smallest at x[k - 1] (Hoare's selection with a median-of-three pivot;
 * deterministic, O(n) expected).
 */
static void
EntrySelect(NumSketchEntry *x, int n, int k)
{
	int			lo = 0;
	int			hi = n - 1;
	int			target = k - 1;

	while (hi > lo)
	{
		int			mid = lo + (hi - lo) / 2;
		NumSketchEntry pivot;
		int			i;
		int			j;

		/* median of three to x[mid], then use it as the pivot */
		if (EntryCompare(&x[mid], &x[lo]) < 0)
			EntrySwap(x, mid, lo);
		if (EntryCompare(&x[hi], &x[lo]) < 0)
			EntrySwap(x, hi, lo);
		if (EntryCompare(&x[hi], &x[mid]) < 0)
			EntrySwap(x, hi, mid);
		pivot = x[mid];
		i = lo;
		j = hi;
		while (i <= j)
		{
			while (EntryCompare(&x[i], &pivot) < 0)
				i++;
			while (EntryCompare(&x[j], &pivot) > 0)
				j--;
			if (i <= j)
			{
				EntrySwap(x, i, j);
				i++;
				j--;
			}
		}
		/* now x[lo..j] <= pivot <= x[i..hi], and j < i */
		if (target <= j)
			hi = j;
		else if (target >= i)
			lo = i;
		else
			break;
	}
}

/*
 * Keep only the k smallest entries (k at most the sketch's); once k are
 * kept, an entry at or above the largest of them can never enter the
 * bottom-k, which is the limit additions test.
 */
static void
NumSketchPruneTo(NumSketch *s, int k)
{
	if (s->nsample > k)
	{
		EntrySelect(s->sample, s->nsample, k);
		s->nsample = k;
		s->canonical = false;
		s->limited = false;
	}
	if (s->nsample == k && k > 0 && !s->limited)
	{
		s->limit = s->sample[0];
		for (int i = 1; i < k; i++)
			if (EntryCompare(&s->sample[i], &s->limit) > 0)
				s->limit = s->sample[i];
		s->limited = true;
	}
}

static void
NumSketchPrune(NumSketch *s)
{
	NumSketchPruneTo(s, s->k);
}

/* Count a distinct value while there are few; -1 once there are many. */
static void
DistinctAdd(NumSketch *s, double value, int64 count)
{
	int			lo = 0;
	int			hi = s->ndistinct;

	if (s->ndistinct < 0)
		return;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (s->dvalue[mid] < value)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->ndistinct && s->dvalue[lo] == value)
	{
		s->dcount[lo] += count;
		return;
	}
	if (s->ndistinct == NUMSKETCH_DISCRETE_MAX)
	{
		s->ndistinct = -1;
		return;
	}
	memmove(&s->dvalue[lo + 1], &s->dvalue[lo], sizeof(double) * (s->ndistinct - lo));
	memmove(&s->dcount[lo + 1], &s->dcount[lo], sizeof(int64) * (s->ndistinct - lo));
	s->dvalue[lo] = value;
	s->dcount[lo] = count;
	s->ndistinct++;
}

/*
 * The part of an addition past the counts and the range (sketch.h has the
 * inline NumSketchAdd): the moments, the distinct values, the sample.
 * The sample is a buffer of up to 2k entries in arrival order: an entry
 * is appended unless it is at or above the limit (the k-th smallest entry
 * at the last pruning); a full buffer is pruned to its k smallest.  So an
 * addition costs a comparison, and past the first rows almost every one
 * stops there (the chance that row n enters is about 2k/n); a heap would
 * pay a sift through a k-entry array, a cache miss per level, for every
 * entry it takes.
 */
void
NumSketchAddRest(NumSketch *s, double value, uint64 rowhash)
{
	NumSketchEntry e;
	DD			sq;

	if (s->moments)
	{
		ExactSumAdd(&s->sum, value);
		sq = dd_two_prod(value, value);
		ExactSumAdd(&s->sumsq, sq.hi);
		if (isfinite(sq.hi))
			ExactSumAdd(&s->sumsq, sq.lo);
	}
	if (s->ndistinct >= 0)
		DistinctAdd(s, value, 1);

	e.hash = rowhash;
	e.value = value;
	if (s->limited && EntryCompare(&e, &s->limit) >= 0)
		return;
	if (s->nsample == 2 * s->k)
	{
		NumSketchPrune(s);
		if (EntryCompare(&e, &s->limit) >= 0)
			return;
	}
	s->sample[s->nsample++] = e;
	s->canonical = false;
}

void
NumSketchAddMissing(NumSketch *s)
{
	s->nmissing++;
}

void
NumSketchCanonicalize(NumSketch *s)
{
	if (!s->canonical)
	{
		NumSketchPrune(s);
		EntrySortDesc(s->sample, s->nsample);
		s->canonical = true;
	}
}

/*
 * dst := the sketch of the union.  The sample keeps the Min(k_dst, k_src)
 * smallest entries of both samples, which is the bottom-k of the union
 * because each input's entries include its own bottom-k.
 */
void
NumSketchMerge(NumSketch *dst, NumSketch *src)
{
	int			k = Min(dst->k, src->k);
	int64		n = (int64) dst->nsample + src->nsample;
	NumSketchEntry *out;

	/*
	 * The union's bottom-k is among the two samples' entries: pool them
	 * and select, in linear time (canonical order waits for whoever needs
	 * it).  src is left as it is.
	 */
	out = palloc(sizeof(NumSketchEntry) * Max(n, 2 * (int64) k));
	memcpy(out, dst->sample, sizeof(NumSketchEntry) * dst->nsample);
	memcpy(out + dst->nsample, src->sample, sizeof(NumSketchEntry) * src->nsample);
	pfree(dst->sample);
	dst->sample = out;
	dst->nsample = (int32) n;
	dst->k = k;
	dst->canonical = false;
	dst->limited = false;
	NumSketchPruneTo(dst, k);

	dst->count += src->count;
	dst->nmissing += src->nmissing;
	dst->min = Min(dst->min, src->min);
	dst->max = Max(dst->max, src->max);
	if (dst->moments && src->moments)
	{
		ExactSumMerge(&dst->sum, &src->sum);
		ExactSumMerge(&dst->sumsq, &src->sumsq);
	}
	else if (dst->moments)
		NumSketchNoMoments(dst);
	if (src->ndistinct < 0)
		dst->ndistinct = -1;
	for (int i = 0; i < src->ndistinct && dst->ndistinct >= 0; i++)
		DistinctAdd(dst, src->dvalue[i], src->dcount[i]);
}

/* True when the sample is every finite value of the feature. */
bool
NumSketchIsExact(const NumSketch *s)
{
	return s->count <= s->k;
}

double
NumSketchMean(NumSketch *s)
{
	DD			sum;

	if (!s->moments)
		elog(ERROR, "the sketch keeps no moments");
	if (s->count == 0)
		return NAN;
	sum = ExactSumValue(&s->sum);
	return (sum.hi + sum.lo) / (double) s->count;
}

/*
 * Population standard deviation (ddof = 0, numpy's default, which
 * Evidently uses to norm the Wasserstein distance), from the exact sums:
 * var = (N S2 - S1^2) / N^2 in double-double, so that a mean large
 * against the spread keeps its digits.
 */
double
NumSketchStd(NumSketch *s)
{
	DD			s1;
	DD			s2;
	DD			a;
	DD			b;
	double		n = (double) s->count;
	double		var;

	if (!s->moments)
		elog(ERROR, "the sketch keeps no moments");
	if (s->count == 0)
		return NAN;
	if (s->min == s->max)
		return 0.0;
	s1 = ExactSumValue(&s->sum);
	s2 = ExactSumValue(&s->sumsq);
	if (isnan(s2.hi) || isinf(s2.hi))
		return INFINITY;
	a = dd_mul_d(s2, n);
	/* s1^2 as a double-double */
	b = dd_two_prod(s1.hi, s1.hi);
	b.lo += 2.0 * s1.hi * s1.lo;
	b = dd_two_sum(b.hi, b.lo);
	b.hi = -b.hi;
	b.lo = -b.lo;
	a = dd_add(a, b);
	var = (a.hi + a.lo) / n / n;
	return var > 0 ? sqrt(var) : 0.0;
}

/* The sample's values, ascending, in a new array. */
double *
NumSketchSortedSample(NumSketch *s, int *n)
{
	double	   *v;
	int			i;

	NumSketchPrune(s);
	v = palloc(sizeof(double) * Max(s->nsample, 1));
	for (i = 0; i < s->nsample; i++)
		v[i] = s->sample[i].value;
	SketchSortDoubles(v, s->nsample);
	*n = s->nsample;
	return v;
}

/*
 * The DKW bound on sup |F_sample - F_full| holding with probability
 * 1 - alpha: sqrt(log(2 / alpha) / (2 k)); 0 when the sample is complete.
 */
double
NumSketchKsErrorBound(const NumSketch *s, double alpha)
{
	if (NumSketchIsExact(s) || s->nsample == 0)
		return 0.0;
	return sqrt(log(2.0 / alpha) / (2.0 * Min(s->nsample, s->k)));
}


/* ---------------------------------------------------------------------
 * Serialization helpers: little-endian, bounds-checked reads
 * ---------------------------------------------------------------------
 */

typedef struct SketchWriter
{
	char	   *buf;
	Size		len;
	Size		cap;
} SketchWriter;

typedef struct SketchReader
{
	const unsigned char *buf;
	Size		len;
	Size		pos;
	const char *what;
} SketchReader;

static inline void
WriterReserve(SketchWriter *w, Size n)
{
	if (w->len + n > w->cap)
	{
		while (w->len + n > w->cap)
			w->cap *= 2;
		w->buf = repalloc(w->buf, w->cap);
	}
}

static inline void
WriteU64(SketchWriter *w, uint64 x)
{
	int			i;

	WriterReserve(w, 8);
#ifdef WORDS_BIGENDIAN
	for (i = 0; i < 8; i++)
		w->buf[w->len++] = (char) (x >> (8 * i));
#else
	(void) i;
	memcpy(w->buf + w->len, &x, 8);
	w->len += 8;
#endif
}

static inline void
WriteU32(SketchWriter *w, uint32 x)
{
	int			i;

	WriterReserve(w, 4);
	for (i = 0; i < 4; i++)
		w->buf[w->len++] = (char) (x >> (8 * i));
}

static inline void
WriteDouble(SketchWriter *w, double x)
{
	uint64		u;

	memcpy(&u, &x, sizeof(u));
	WriteU64(w, u);
}

static void
WriteBytes(SketchWriter *w, const char *data, Size n)
{
	WriterReserve(w, n);
	memcpy(w->buf + w->len, data, n);
	w->len += n;
}

static void
CorruptSketch(const SketchReader *r, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt %s baseline summary", r->what),
			 errdetail("%s (at byte %zu of %zu).", detail, r->pos, r->len)));
}

static inline uint64
ReadU64(SketchReader *r)
{
	uint64		x = 0;
	int			i;

	if (r->len - r->pos < 8)
		CorruptSketch(r, "the data ends early");
#ifdef WORDS_BIGENDIAN
	for (i = 0; i < 8; i++)
		x |= (uint64) r->buf[r->pos + i] << (8 * i);
#else
	(void) i;
	memcpy(&x, r->buf + r->pos, 8);
#endif
	r->pos += 8;
	return x;
}

static inline uint32
ReadU32(SketchReader *r)
{
	uint32		x = 0;
	int			i;

	if (r->len - r->pos < 4)
		CorruptSketch(r, "the data ends early");
	for (i = 0; i < 4; i++)
		x |= (uint32) r->buf[r->pos + i] << (8 * i);
	r->pos += 4;
	return x;
}

static inline double
ReadDouble(SketchReader *r)
{
	uint64		u = ReadU64(r);
	double		x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

static void
ReadHeader(SketchReader *r, uint32 magic)
{
	uint32		version;

	if (ReadU32(r) != magic)
		CorruptSketch(r, "wrong magic number");
	version = ReadU32(r);
	if (version != SKETCH_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("%s baseline summary has version %u, expected %d",
						r->what, version, SKETCH_VERSION),
				 errhint("Retrain the model to rebuild its baseline.")));
}

static void
WriteExactSum(SketchWriter *w, ExactSum *s)
{
	int			i;

	ExactSumNormalize(s);
	WriteU32(w, s->overflow ? 1 : 0);
	for (i = 0; i < EXACTSUM_CELLS; i++)
		WriteU64(w, (uint64) s->cell[i]);
}

/* Only the normalized form is accepted, so a sum read back is canonical. */
static void
ReadExactSum(SketchReader *r, ExactSum *s)
{
	uint32		flag = ReadU32(r);
	int			i;

	if (flag > 1)
		CorruptSketch(r, "bad flag in an exact sum");
	ExactSumInit(s);
	s->overflow = flag == 1;
	for (i = 0; i < EXACTSUM_CELLS; i++)
	{
		s->cell[i] = (int64) ReadU64(r);
		if (i < EXACTSUM_CELLS - 1 && (s->cell[i] < 0 || s->cell[i] >= EXACTSUM_DIGIT))
			CorruptSketch(r, "an exact sum is not normalized");
		if (i == EXACTSUM_CELLS - 1 && (s->cell[i] < -EXACTSUM_DIGIT || s->cell[i] >= EXACTSUM_DIGIT))
			CorruptSketch(r, "an exact sum is out of range");
	}
}


/* ---------------------------------------------------------------------
 * Numeric sketch serialization
 * ---------------------------------------------------------------------
 */

/*
 * Layout: magic, version, k, nsample, count, nmissing, min, max,
 * ndistinct, the two exact sums, the distinct (value, count) pairs, the
 * sample's (hash, value) pairs in descending order.
 */
char *
NumSketchSerialize(NumSketch *s, Size *len)
{
	SketchWriter w;
	int			i;

	NumSketchCanonicalize(s);
	w.cap = 2048 + (Size) s->nsample * 16;
	w.buf = palloc(w.cap);
	w.len = 0;
	WriteU32(&w, NUMSKETCH_MAGIC);
	WriteU32(&w, SKETCH_VERSION);
	WriteU32(&w, (uint32) s->k);
	WriteU32(&w, (uint32) s->nsample);
	WriteU64(&w, (uint64) s->count);
	WriteU64(&w, (uint64) s->nmissing);
	WriteDouble(&w, s->min);
	WriteDouble(&w, s->max);
	WriteU32(&w, (uint32) s->ndistinct);
	WriteExactSum(&w, &s->sum);
	WriteExactSum(&w, &s->sumsq);
	for (i = 0; i < s->ndistinct; i++)
	{
		WriteDouble(&w, s->dvalue[i]);
		WriteU64(&w, (uint64) s->dcount[i]);
	}
	for (i = 0; i < s->nsample; i++)
	{
		WriteU64(&w, s->sample[i].hash);
		WriteDouble(&w, s->sample[i].value);
	}
	*len = w.len;
	return w.buf;
}

/*
 * Read and check everything a later computation relies on: sizes against
 * the data's length before allocating, the bottom-k invariant
 * nsample = Min(count, k), the order of the sample and of the distinct
 * values, finiteness and range of values, and that distinct counts add up.
 */
NumSketch *
NumSketchDeserialize(const char *data, Size len)
{
	SketchReader r = {(const unsigned char *) data, len, 0, "numeric"};
	NumSketch  *s;
	int32		k;
	int32		nsample;
	int64		count;
	int64		nmissing;
	double		min;
	double		max;
	int32		ndistinct;
	int64		dsum = 0;
	int			i;

	ReadHeader(&r, NUMSKETCH_MAGIC);
	k = (int32) ReadU32(&r);
	nsample = (int32) ReadU32(&r);
	count = (int64) ReadU64(&r);
	nmissing = (int64) ReadU64(&r);
	min = ReadDouble(&r);
	max = ReadDouble(&r);
	ndistinct = (int32) ReadU32(&r);
	if (k < 1 || k > NUMSKETCH_MAX_K)
		CorruptSketch(&r, "sample capacity out of range");
	if (count < 0 || nmissing < 0 || count > SKETCH_MAX_COUNT || nmissing > SKETCH_MAX_COUNT)
		CorruptSketch(&r, "count out of range");
	if (nsample < 0 || (int64) nsample != Min(count, (int64) k))
		CorruptSketch(&r, "sample size does not match the count");
	if (ndistinct < -1 || ndistinct > NUMSKETCH_DISCRETE_MAX ||
		(count == 0 && ndistinct != 0) || (count > 0 && ndistinct == 0))
		CorruptSketch(&r, "distinct-value count out of range");
	if (count > 0 ? !(isfinite(min) && isfinite(max) && min <= max)
		: !(min == INFINITY && max == -INFINITY))
		CorruptSketch(&r, "bad minimum or maximum");
	/* every remaining byte is accounted for: check the length up front */
	if (len - r.pos != 2 * (4 + 8 * EXACTSUM_CELLS) +
		(Size) Max(ndistinct, 0) * 16 + (Size) nsample * 16)
		CorruptSketch(&r, "length does not match the header");

	s = NumSketchCreate(k);
	s->nsample = nsample;
	s->count = count;
	s->nmissing = nmissing;
	s->min = min;
	s->max = max;
	s->ndistinct = ndistinct;
	ReadExactSum(&r, &s->sum);
	ReadExactSum(&r, &s->sumsq);
	for (i = 0; i < ndistinct; i++)
	{
		s->dvalue[i] = ReadDouble(&r);
		s->dcount[i] = (int64) ReadU64(&r);
		if (!isfinite(s->dvalue[i]) || s->dvalue[i] < min || s->dvalue[i] > max ||
			(i > 0 && !(s->dvalue[i] > s->dvalue[i - 1])))
			CorruptSketch(&r, "distinct values out of order or range");
		if (s->dcount[i] <= 0 || s->dcount[i] > count - dsum)
			CorruptSketch(&r, "distinct-value counts do not add up");
		dsum += s->dcount[i];
	}
	if (ndistinct > 0 && dsum != count)
		CorruptSketch(&r, "distinct-value counts do not add up");
	for (i = 0; i < nsample; i++)
	{
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		s->sample[i].hash = ReadU64(&r);
		s->sample[i].value = ReadDouble(&r);
		if (!isfinite(s->sample[i].value) || s->sample[i].value < min ||
			s->sample[i].value > max)
			CorruptSketch(&r, "sample value out of range");
		if (i > 0 && EntryCompare(&s->sample[i - 1], &s->sample[i]) < 0)
			CorruptSketch(&r, "sample out of order");
	}
	s->canonical = true;
	s->limited = nsample == k;
	if (s->limited)
		s->limit = s->sample[0];
	return s;
}


/* ---------------------------------------------------------------------
 * Categorical sketch
 * ---------------------------------------------------------------------
 */

CatSketch *
CatSketchCreate(int maxlevels)
{
	CatSketch  *s;

	if (maxlevels < 1 || maxlevels > CATSKETCH_MAX_LEVELS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("category limit %d is out of range", maxlevels),
				 errhint("The limit must be between 1 and %d.", CATSKETCH_MAX_LEVELS)));
	s = palloc0(sizeof(CatSketch));
	s->maxlevels = maxlevels;
	s->levels = palloc(sizeof(CatSketchLevel) * 8);
	return s;
}

void
CatSketchFree(CatSketch *s)
{
	int			i;

	for (i = 0; i < s->nlevels; i++)
		pfree(s->levels[i].label);
	pfree(s->levels);
	pfree(s);
}

/* Order of levels: by hash of the full label, then by the kept bytes. */
int
CatSketchCompareKey(uint64 ha, const char *la, int32 lena,
					uint64 hb, const char *lb, int32 lenb)
{
	int			c;

	if (ha != hb)
		return ha < hb ? -1 : 1;
	c = memcmp(la, lb, Min(lena, lenb));
	if (c != 0)
		return c < 0 ? -1 : 1;
	return lena < lenb ? -1 : (lena > lenb ? 1 : 0);
}

/* Position of a key in the sorted levels, or where it would go. */
static int
CatFind(const CatSketch *s, uint64 h, const char *label, int32 len, bool *found)
{
	int			lo = 0;
	int			hi = s->nlevels;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;
		const CatSketchLevel *l = &s->levels[mid];

		if (CatSketchCompareKey(l->hash, l->label, l->len, h, label, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->nlevels &&
		CatSketchCompareKey(s->levels[lo].hash, s->levels[lo].label,
							s->levels[lo].len, h, label, len) == 0;
	return lo;
}

/*
 * Count rows of one level.  A new level beyond the capacity either goes
 * to "other" (its key is above every kept one) or displaces the largest
 * kept level into "other": the kept set is always the maxlevels smallest
 * keys among the levels seen.
 */
void
CatSketchAddCount(CatSketch *s, const char *label, Size len, int64 count)
{
	CatSketchAddCountHashed(s, label, len, SketchHashBytes(label, len), count);
}

/* The same, with h = SketchHashBytes(label, len) already computed. */
void
CatSketchAddCountHashed(CatSketch *s, const char *label, Size len, uint64 h, int64 count)
{
	int32		keep = (int32) Min(len, (Size) CATSKETCH_MAX_LABEL);
	bool		found;
	int			pos;
	CatSketchLevel *l;

	if (count <= 0)
		return;
	s->count += count;
	pos = CatFind(s, h, label, keep, &found);
	if (found)
	{
		s->levels[pos].count += count;
		return;
	}
	if (s->nlevels == s->maxlevels)
	{
		s->saturated = true;
		if (pos == s->nlevels)
		{
			s->other += count;
			return;
		}
		l = &s->levels[s->nlevels - 1];
		s->other += l->count;
		pfree(l->label);
		s->nlevels--;
	}
	if ((s->nlevels & (s->nlevels - 1)) == 0 && s->nlevels >= 8)
		s->levels = repalloc(s->levels, sizeof(CatSketchLevel) * s->nlevels * 2);
	memmove(&s->levels[pos + 1], &s->levels[pos],
			sizeof(CatSketchLevel) * (s->nlevels - pos));
	l = &s->levels[pos];
	l->hash = h;
	l->count = count;
	l->len = keep;
	l->label = palloc(Max(keep, 1));
	memcpy(l->label, label, keep);
	s->nlevels++;
}

void
CatSketchAdd(CatSketch *s, const char *label, Size len)
{
	CatSketchAddCount(s, label, len, 1);
}

void
CatSketchAddMissing(CatSketch *s)
{
	s->nmissing++;
}

/*
 * dst := the summary of the union: merge the sorted level lists adding
 * counts, keep the smallest Min(maxlevels) keys, lump the rest in other.
 * Any level of the union's bottom set is in the bottom set of every
 * input that saw it, so its count is exact.
 */
void
CatSketchMerge(CatSketch *dst, const CatSketch *src)
{
	int			cap = Min(dst->maxlevels, src->maxlevels);
	CatSketchLevel *out = palloc(sizeof(CatSketchLevel) * Max(dst->nlevels + src->nlevels, 8));
	int			n = 0;
	int			i = 0;
	int			j = 0;
	int64		other = dst->other + src->other;
	bool		saturated = dst->saturated || src->saturated;

	while (i < dst->nlevels || j < src->nlevels)
	{
		int			c;

		if (i >= dst->nlevels)
			c = 1;
		else if (j >= src->nlevels)
			c = -1;
		else
			c = CatSketchCompareKey(dst->levels[i].hash, dst->levels[i].label,
									dst->levels[i].len, src->levels[j].hash,
									src->levels[j].label, src->levels[j].len);
		if (c <= 0)
		{
			out[n] = dst->levels[i++];
			if (c == 0)
				out[n].count += src->levels[j++].count;
		}
		else
		{
			const CatSketchLevel *l = &src->levels[j++];

			out[n] = *l;
			out[n].label = palloc(Max(l->len, 1));
			memcpy(out[n].label, l->label, l->len);
		}
		n++;
	}
	if (n > cap)
	{
		saturated = true;
		for (i = cap; i < n; i++)
		{
			other += out[i].count;
			pfree(out[i].label);
		}
		n = cap;
	}
	pfree(dst->levels);
	dst->levels = out;
	dst->nlevels = n;
	dst->maxlevels = cap;
	dst->saturated = saturated;
	dst->other = other;
	dst->count += src->count;
	dst->nmissing += src->nmissing;
	/* keep the growth rule of CatSketchAddCount valid: capacity >= 8, 2^i */
	if (n >= 8)
	{
		int			c = 8;

		while (c <= n)
			c *= 2;
		dst->levels = repalloc(dst->levels, sizeof(CatSketchLevel) * c);
	}
	else
		dst->levels = repalloc(dst->levels, sizeof(CatSketchLevel) * 8);
}

/*
 * Layout: magic, version, maxlevels, nlevels, saturated, count, nmissing,
 * other, then per level hash, count, length and bytes.
 */
char *
CatSketchSerialize(const CatSketch *s, Size *len)
{
	SketchWriter w;
	int			i;

	w.cap = 64 + (Size) s->nlevels * 32;
	w.buf = palloc(w.cap);
	w.len = 0;
	WriteU32(&w, CATSKETCH_MAGIC);
	WriteU32(&w, SKETCH_VERSION);
	WriteU32(&w, (uint32) s->maxlevels);
	WriteU32(&w, (uint32) s->nlevels);
	WriteU32(&w, s->saturated ? 1 : 0);
	WriteU64(&w, (uint64) s->count);
	WriteU64(&w, (uint64) s->nmissing);
	WriteU64(&w, (uint64) s->other);
	for (i = 0; i < s->nlevels; i++)
	{
		WriteU64(&w, s->levels[i].hash);
		WriteU64(&w, (uint64) s->levels[i].count);
		WriteU32(&w, (uint32) s->levels[i].len);
		WriteBytes(&w, s->levels[i].label, s->levels[i].len);
	}
	*len = w.len;
	return w.buf;
}

/*
 * Checks: limits, each level's length against the remaining data, the
 * hash of every untruncated label, strict key order, positive counts that
 * add up to count with other, and that other is used only when saturated.
 */
CatSketch *
CatSketchDeserialize(const char *data, Size len)
{
	SketchReader r = {(const unsigned char *) data, len, 0, "categorical"};
	CatSketch  *s;
	int32		maxlevels;
	int32		nlevels;
	uint32		saturated;
	int64		count;
	int64		nmissing;
	int64		other;
	int64		sum = 0;
	int			i;

	ReadHeader(&r, CATSKETCH_MAGIC);
	maxlevels = (int32) ReadU32(&r);
	nlevels = (int32) ReadU32(&r);
	saturated = ReadU32(&r);
	count = (int64) ReadU64(&r);
	nmissing = (int64) ReadU64(&r);
	other = (int64) ReadU64(&r);
	if (maxlevels < 1 || maxlevels > CATSKETCH_MAX_LEVELS)
		CorruptSketch(&r, "level capacity out of range");
	if (nlevels < 0 || nlevels > maxlevels || saturated > 1 ||
		(saturated && nlevels != maxlevels) || (!saturated && other != 0))
		CorruptSketch(&r, "level count out of range");
	if (count < 0 || nmissing < 0 || other < 0 || other > count ||
		count > SKETCH_MAX_COUNT || nmissing > SKETCH_MAX_COUNT)
		CorruptSketch(&r, "count out of range");
	/* each level takes at least 20 bytes: reject before allocating */
	if ((len - r.pos) / 20 < (Size) nlevels)
		CorruptSketch(&r, "the data ends early");

	s = CatSketchCreate(maxlevels);
	s->levels = repalloc(s->levels, sizeof(CatSketchLevel) * Max(8, nlevels * 2));
	s->saturated = saturated == 1;
	s->count = count;
	s->nmissing = nmissing;
	s->other = other;
	for (i = 0; i < nlevels; i++)
	{
		CatSketchLevel *l = &s->levels[i];
		uint32		llen;

		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		l->hash = ReadU64(&r);
		l->count = (int64) ReadU64(&r);
		llen = ReadU32(&r);
		if (llen > CATSKETCH_MAX_LABEL || len - r.pos < llen)
			CorruptSketch(&r, "bad label length");
		if (l->count <= 0 || l->count > count - other - sum)
			CorruptSketch(&r, "level counts do not add up");
		sum += l->count;
		l->len = (int32) llen;
		l->label = palloc(Max(llen, 1));
		memcpy(l->label, r.buf + r.pos, llen);
		r.pos += llen;
		s->nlevels = i + 1;
		if (llen < CATSKETCH_MAX_LABEL && SketchHashBytes(l->label, llen) != l->hash)
			CorruptSketch(&r, "label does not match its hash");
		if (i > 0 && CatSketchCompareKey(s->levels[i - 1].hash, s->levels[i - 1].label,
										 s->levels[i - 1].len, l->hash, l->label,
										 l->len) >= 0)
			CorruptSketch(&r, "levels out of order");
	}
	if (sum + other != count)
		CorruptSketch(&r, "level counts do not add up");
	if (r.pos != len)
		CorruptSketch(&r, "trailing bytes");
	return s;
}
