/*-------------------------------------------------------------------------
 *
 * treebins.c
 *	  Quantile binning of a data matrix for the histogram tree builders.
 *
 * Each feature is cut into at most max_bin bins: its distinct values when
 * there are few, else quantiles of a sample of at most TREE_BINS_SAMPLE
 * rows (drawn with a fixed seed, so binning is deterministic).  A NaN goes
 * to a bin of its own after the value bins.  The codes are stored
 * row-major, one byte per value when max_bin <= 256, in one flat block
 * (layout in treebuild.h) that can be copied and re-attached elsewhere.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "algorithms/gbdt.h"
#include "algorithms/rng.h"
#include "algorithms/treebuild.h"

/* Rows sampled per feature to place the quantile cuts. */
#define TREE_BINS_SAMPLE	200000

/* Rows coded per block, so the row-major writes stay in cache. */
#define TREE_BINS_BLOCK		4096

#define ALIGN16(x)	(((x) + 15) & ~((Size) 15))

/* Allocation beyond 1 GB for per-row arrays. */
void *
TreeAllocHuge(Size size)
{
	return palloc_extended(size, MCXT_ALLOC_HUGE);
}

/*
 * The block's layout for the given sizes; fills the offsets of hdr and
 * returns the total size.  nbounds is the number of bound values.
 */
static Size
TreeBinsLayout(TreeBinsHeader *hdr, int64 n, int p, int64 nbounds, int code_bytes)
{
	Size		off = ALIGN16(sizeof(TreeBinsHeader));

	hdr->off_nbins = off;
	off = ALIGN16(off + sizeof(int32) * p);
	hdr->off_has_missing = off;
	off = ALIGN16(off + sizeof(int32) * p);
	hdr->off_offset = off;
	off = ALIGN16(off + sizeof(uint32) * (p + 1));
	hdr->off_bound_start = off;
	off = ALIGN16(off + sizeof(int64) * p);
	hdr->off_bounds = off;
	off = ALIGN16(off + sizeof(double) * nbounds);
	hdr->off_codes = off;
	off = ALIGN16(off + (Size) code_bytes * (Size) n * p);
	hdr->off_colcodes = off;
	off = ALIGN16(off + (Size) code_bytes * (Size) n * p);
	hdr->bytes = off;
	return off;
}

static int
TreeBinsCodeBytes(int max_bin)
{
	return max_bin <= 256 ? 1 : 2;
}

Size
TreeBinsMemory(int64 n, int p, int max_bin)
{
	TreeBinsHeader hdr;

	return sizeof(TreeBins) +
		TreeBinsLayout(&hdr, n, p, (int64) p * (max_bin + 1),
					   TreeBinsCodeBytes(max_bin));
}

/* Point a view at the parts of a block whose header is filled in. */
static TreeBins *
TreeBinsView(const TreeBinsHeader *hdr)
{
	TreeBins   *bins = palloc0(sizeof(TreeBins));
	const char *base = (const char *) hdr;

	bins->hdr = hdr;
	bins->n = hdr->nrows;
	bins->p = hdr->nfeatures;
	bins->code_bytes = hdr->code_bytes;
	bins->total_bins = hdr->total_bins;
	bins->nbins = (const int32 *) (base + hdr->off_nbins);
	bins->has_missing = (const int32 *) (base + hdr->off_has_missing);
	bins->offset = (const uint32 *) (base + hdr->off_offset);
	bins->bound_start = (const int64 *) (base + hdr->off_bound_start);
	bins->bounds = (const double *) (base + hdr->off_bounds);
	if (hdr->code_bytes == 1)
	{
		bins->codes8 = (const uint8 *) (base + hdr->off_codes);
		bins->colcodes8 = (const uint8 *) (base + hdr->off_colcodes);
	}
	else
	{
		bins->codes16 = (const uint16 *) (base + hdr->off_codes);
		bins->colcodes16 = (const uint16 *) (base + hdr->off_colcodes);
	}
	return bins;
}

/* Order-preserving map of a double to an unsigned key (for radix sort). */
static inline uint64
DoubleKey(double x)
{
	uint64		u;

	memcpy(&u, &x, sizeof(u));
	return (u & UINT64_C(0x8000000000000000)) ? ~u : (u | UINT64_C(0x8000000000000000));
}

static inline double
KeyDouble(uint64 k)
{
	uint64		u = (k & UINT64_C(0x8000000000000000)) ? (k & ~UINT64_C(0x8000000000000000)) : ~k;
	double		x;

	memcpy(&x, &u, sizeof(x));
	return x;
}

/*
 * Sort m doubles (no NaN) in place: LSD radix sort on their order keys,
 * 8 bits a pass, skipping passes where every key has the same byte.  The
 * sketch sorts a 200k sample per feature; this is several times faster than
 * a comparison sort there.
 */
static void
SortDoubles(double *v, int64 m, uint64 *keys, uint64 *tmp)
{
	int64		i;
	int			pass;
	uint64	   *src = keys;
	uint64	   *dst = tmp;

	for (i = 0; i < m; i++)
		keys[i] = DoubleKey(v[i]);
	for (pass = 0; pass < 8; pass++)
	{
		int64		count[256];
		int64		sum = 0;
		int			shift = pass * 8;
		int			b;
		bool		trivial = false;

		memset(count, 0, sizeof(count));
		for (i = 0; i < m; i++)
			count[(src[i] >> shift) & 0xff]++;
		for (b = 0; b < 256; b++)
		{
			int64		c = count[b];

			if (c == m)
				trivial = true;
			count[b] = sum;
			sum += c;
		}
		if (trivial)
			continue;
		for (i = 0; i < m; i++)
			dst[count[(src[i] >> shift) & 0xff]++] = src[i];
		{
			uint64	   *t = src;

			src = dst;
			dst = t;
		}
	}
	for (i = 0; i < m; i++)
		v[i] = KeyDouble(src[i]);
}

/* Number of cuts[0..ncuts) that are <= x (branch-free binary search). */
static inline int
CountCutsBelow(const double *cuts, int ncuts, double x)
{
	const double *base = cuts;
	int			len = ncuts;

	if (len == 0)
		return 0;
	while (len > 1)
	{
		int			half = len / 2;

		base = (base[half] <= x) ? base + half : base;
		len -= half;
	}
	return (int) (base - cuts) + (*base <= x);
}

/*
 * The cuts of one feature from its sorted sample vals[0..m): the distinct
 * values after the first when there are at most maxb of them, else
 * quantiles.  Returns the number of cuts written to cuts (< maxb).
 */
static int
ChooseCuts(const double *vals, int64 m, int maxb, double *cuts)
{
	int64		distinct = 0;
	int64		i;
	int			ncuts = 0;

	for (i = 0; i < m && distinct <= maxb; i++)
		if (i == 0 || vals[i] != vals[i - 1])
			distinct++;
	if (distinct <= maxb)
	{
		for (i = 1; i < m; i++)
			if (vals[i] != vals[i - 1])
				cuts[ncuts++] = vals[i];
		return ncuts;
	}
	for (i = 1; i < maxb; i++)
	{
		double		v = vals[(int64) ((double) i * m / maxb)];

		if (v > vals[0] && (ncuts == 0 || v > cuts[ncuts - 1]))
			cuts[ncuts++] = v;
	}
	return ncuts;
}

/*
 * Bin X: a first pass finds each feature's range and whether it has NaNs,
 * the sketch places the cuts, then the rows are coded block by block.
 */
TreeBins *
TreeBinsBuild(const double *X, int64 n, int p, int max_bin)
{
	int			code_bytes;
	int			code_limit;
	int64		m;
	int64	   *sample_rows = NULL;
	double	   *vals;
	uint64	   *keys;
	uint64	   *tmp;
	double	   *minv;
	double	   *maxv;
	bool	   *nan_seen;
	int32	   *nbins;
	double	   *allcuts;		/* p x max_bin */
	TreeBinsHeader hdr;
	TreeBinsHeader *h;
	TreeBins   *bins;
	char	   *base;
	int32	   *hnbins;
	int32	   *hmiss;
	uint32	   *hoff;
	int64	   *hbstart;
	double	   *hbounds;
	int64		nbounds;
	int64		total;
	int			j;
	int64		i;

	if (n < 1 || p < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tree models need at least one row and one feature")));
	if (n > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("tree models are limited to %d training rows", PG_INT32_MAX)));
	if (max_bin < 2 || max_bin > 65536)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_bin must be between 2 and 65536, not %d", max_bin)));

	code_bytes = TreeBinsCodeBytes(max_bin);
	code_limit = code_bytes == 1 ? 256 : 65536;

	/* Range and missing values of every feature. */
	minv = palloc(sizeof(double) * p);
	maxv = palloc(sizeof(double) * p);
	nan_seen = palloc0(sizeof(bool) * p);
	for (j = 0; j < p; j++)
	{
		const double *col = X + (Size) j * n;
		double		lo = INFINITY;
		double		hi = -INFINITY;
		bool		nan = false;

		for (i = 0; i < n; i++)
		{
			double		x = col[i];

			if (isnan(x))
				nan = true;
			else
			{
				lo = Min(lo, x);
				hi = Max(hi, x);
			}
		}
		minv[j] = lo;
		maxv[j] = hi;
		nan_seen[j] = nan;
		CHECK_FOR_INTERRUPTS();
	}

	/* The sketch: sorted sample values, cuts per feature. */
	m = Min(n, TREE_BINS_SAMPLE);
	if (m < n)
	{
		AifRng		rng;

		AifRngSeed(&rng, UINT64_C(0x5eed7b1e5));
		sample_rows = palloc(sizeof(int64) * m);
		for (i = 0; i < m; i++)
			sample_rows[i] = (int64) AifRngBelow(&rng, (uint64) n);
	}
	vals = palloc(sizeof(double) * m);
	keys = palloc(sizeof(uint64) * m);
	tmp = palloc(sizeof(uint64) * m);
	nbins = palloc(sizeof(int32) * p);
	allcuts = palloc(sizeof(double) * (Size) p * max_bin);
	nbounds = 0;
	total = 0;
	for (j = 0; j < p; j++)
	{
		const double *col = X + (Size) j * n;
		int64		k = 0;
		int			maxb = Min(max_bin, code_limit - (nan_seen[j] ? 1 : 0));

		for (i = 0; i < m; i++)
		{
			double		x = col[sample_rows ? sample_rows[i] : i];

			if (!isnan(x))
				vals[k++] = x;
		}
		SortDoubles(vals, k, keys, tmp);
		nbins[j] = ChooseCuts(vals, k, maxb, allcuts + (Size) j * max_bin) + 1;
		nbounds += nbins[j] + 1;
		total += nbins[j] + (nan_seen[j] ? 1 : 0);
		CHECK_FOR_INTERRUPTS();
	}
	if (total > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many histogram bins (%lld)", (long long) total),
				 errhint("Lower max_bin.")));

	/* The block. */
	memset(&hdr, 0, sizeof(hdr));
	TreeBinsLayout(&hdr, n, p, nbounds, code_bytes);
	base = TreeAllocHuge(hdr.bytes);
	memset(base, 0, hdr.off_codes);
	h = (TreeBinsHeader *) base;
	*h = hdr;
	h->magic = TREE_BINS_MAGIC;
	h->version = TREE_BINS_VERSION;
	h->nrows = n;
	h->nfeatures = p;
	h->max_bin = max_bin;
	h->code_bytes = code_bytes;
	h->total_bins = total;
	h->nbounds = nbounds;
	hnbins = (int32 *) (base + h->off_nbins);
	hmiss = (int32 *) (base + h->off_has_missing);
	hoff = (uint32 *) (base + h->off_offset);
	hbstart = (int64 *) (base + h->off_bound_start);
	hbounds = (double *) (base + h->off_bounds);
	{
		int64		bpos = 0;
		uint32		off = 0;

		for (j = 0; j < p; j++)
		{
			int			nb = nbins[j];
			const double *cuts = allcuts + (Size) j * max_bin;
			double		lo = minv[j];
			double		hi = maxv[j];

			hnbins[j] = nb;
			hmiss[j] = nan_seen[j] ? 1 : 0;
			hoff[j] = off;
			off += nb + hmiss[j];
			hbstart[j] = bpos;
			if (lo > hi)
			{
				/* only NaN: no value bin is ever used */
				lo = 0.0;
				hi = 0.0;
			}
			hbounds[bpos] = lo;
			for (int b = 1; b < nb; b++)
				hbounds[bpos + b] = cuts[b - 1];
			/* above every training value, the threshold "all values left" */
			hbounds[bpos + nb] = isinf(hi) ? hi : nextafter(hi, INFINITY);
			bpos += nb + 1;
		}
		hoff[p] = off;
	}

	/* The codes, TREE_BINS_BLOCK rows at a time. */
	for (int64 start = 0; start < n; start += TREE_BINS_BLOCK)
	{
		int64		stop = Min(n, start + TREE_BINS_BLOCK);

		for (j = 0; j < p; j++)
		{
			const double *col = X + (Size) j * n;
			const double *cuts = allcuts + (Size) j * max_bin;
			int			ncuts = nbins[j] - 1;
			int			miss = nbins[j];

			if (code_bytes == 1)
			{
				uint8	   *codes = (uint8 *) (base + h->off_codes);
				uint8	   *colcodes = (uint8 *) (base + h->off_colcodes) + (Size) j * n;

				for (i = start; i < stop; i++)
				{
					double		x = col[i];

					colcodes[i] = (uint8)
						(isnan(x) ? miss : CountCutsBelow(cuts, ncuts, x));
					codes[(Size) i * p + j] = colcodes[i];
				}
			}
			else
			{
				uint16	   *codes = (uint16 *) (base + h->off_codes);
				uint16	   *colcodes = (uint16 *) (base + h->off_colcodes) + (Size) j * n;

				for (i = start; i < stop; i++)
				{
					double		x = col[i];

					colcodes[i] = (uint16)
						(isnan(x) ? miss : CountCutsBelow(cuts, ncuts, x));
					codes[(Size) i * p + j] = colcodes[i];
				}
			}
		}
		CHECK_FOR_INTERRUPTS();
	}

	bins = TreeBinsView(h);
	pfree(minv);
	pfree(maxv);
	pfree(nan_seen);
	pfree(nbins);
	pfree(allcuts);
	pfree(vals);
	pfree(keys);
	pfree(tmp);
	if (sample_rows)
		pfree(sample_rows);
	return bins;
}

int64
TreeBinsRows(const TreeBins *bins)
{
	return bins->n;
}

int
TreeBinsFeatures(const TreeBins *bins)
{
	return bins->p;
}

void
TreeBinsFlat(const TreeBins *bins, const void **data, Size *bytes)
{
	*data = bins->hdr;
	*bytes = bins->hdr->bytes;
}

/*
 * A view over a block made by TreeBinsBuild and copied elsewhere (shared
 * memory).  The block is checked so that a wrong pointer or a truncated
 * copy is an error rather than a wild read.
 */
TreeBins *
TreeBinsAttach(const void *data, Size bytes)
{
	const TreeBinsHeader *hdr = data;
	TreeBinsHeader check;
	TreeBins   *bins;
	int64		nbounds = 0;
	uint32		off = 0;

	if (data == NULL || bytes < sizeof(TreeBinsHeader) ||
		hdr->magic != TREE_BINS_MAGIC || hdr->version != TREE_BINS_VERSION)
		elog(ERROR, "tree bins block has a bad header");
	if (hdr->nrows < 1 || hdr->nfeatures < 1 ||
		(hdr->code_bytes != 1 && hdr->code_bytes != 2))
		elog(ERROR, "tree bins block has bad sizes");
	memset(&check, 0, sizeof(check));
	if (TreeBinsLayout(&check, hdr->nrows, hdr->nfeatures, hdr->nbounds,
					   hdr->code_bytes) != bytes ||
		hdr->bytes != bytes || check.off_codes != hdr->off_codes ||
		check.off_bounds != hdr->off_bounds ||
		check.off_colcodes != hdr->off_colcodes)
		elog(ERROR, "tree bins block is %zu bytes, its header says otherwise",
			 (size_t) bytes);
	bins = TreeBinsView(hdr);
	for (int j = 0; j < bins->p; j++)
	{
		if (bins->nbins[j] < 1 || bins->offset[j] != off ||
			bins->bound_start[j] != nbounds)
			elog(ERROR, "tree bins block has inconsistent feature %d", j);
		off += bins->nbins[j] + (bins->has_missing[j] ? 1 : 0);
		nbounds += bins->nbins[j] + 1;
	}
	if (bins->offset[bins->p] != off || off != bins->total_bins ||
		nbounds != hdr->nbounds)
		elog(ERROR, "tree bins block has inconsistent totals");
	return bins;
}

double
TreeBinsThreshold(const TreeBins *bins, int j, int b)
{
	return bins->bounds[bins->bound_start[j] + b + 1];
}

/*
 * The rows rows[0 .. nrows-1] of bins (in that order) as a binned matrix
 * of their own, with the same cuts: what cross-validation fits a fold on,
 * without binning again.  The cuts were placed on all of bins' rows, so a
 * fold's thresholds may sit where its own quantiles would not; the codes,
 * and so every split a fold can choose, stay exact for its rows.
 */
TreeBins *
TreeBinsSubset(const TreeBins *bins, const int64 *rows, int64 nrows)
{
	const TreeBinsHeader *src = bins->hdr;
	TreeBinsHeader *hdr;
	Size		bytes;
	int			p = bins->p;
	int			cb = bins->code_bytes;
	char	   *block;

	if (nrows < 1)
		elog(ERROR, "a subset of tree bins needs at least one row");
	{
		TreeBinsHeader sizing;

		memset(&sizing, 0, sizeof(sizing));
		bytes = TreeBinsLayout(&sizing, nrows, p, src->nbounds, cb);
	}
	block = TreeAllocHuge(bytes);
	hdr = (TreeBinsHeader *) block;
	memcpy(hdr, src, sizeof(TreeBinsHeader));
	hdr->nrows = nrows;
	TreeBinsLayout(hdr, nrows, p, src->nbounds, cb);
	/* everything before the codes (cuts, offsets) is the same */
	memcpy(block + hdr->off_nbins, (const char *) src + src->off_nbins,
		   src->off_codes - src->off_nbins);
	for (int64 r = 0; r < nrows; r++)
	{
		int64		i = rows[r];

		if (i < 0 || i >= bins->n)
			elog(ERROR, "row %lld is not in the tree bins", (long long) i);
		memcpy(block + hdr->off_codes + (Size) r * p * cb,
			   (const char *) src + src->off_codes + (Size) i * p * cb, (Size) p * cb);
		if ((r & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	for (int j = 0; j < p; j++)
	{
		char	   *dst = block + hdr->off_colcodes + (Size) j * nrows * cb;
		const char *col = (const char *) src + src->off_colcodes + (Size) j * bins->n * cb;

		if (cb == 1)
			for (int64 r = 0; r < nrows; r++)
				((uint8 *) dst)[r] = ((const uint8 *) col)[rows[r]];
		else
			for (int64 r = 0; r < nrows; r++)
				((uint16 *) dst)[r] = ((const uint16 *) col)[rows[r]];
		CHECK_FOR_INTERRUPTS();
	}
	return TreeBinsView(hdr);
}
