/*-------------------------------------------------------------------------
 *
 * pass.h
 *	  One scan of a training source, as a parallel-safe aggregate.
 *
 * train() reads its source only through the aggregate
 * aifactory._train_pass(plan bytea, VARIADIC "any"), whose arguments after
 * the plan are the raw target and feature columns.  The plan says what the
 * scan computes:
 *
 *	  PASS_PROFILE	per-feature counts, sums and category levels of the
 *					training rows (needed before encoding categoricals);
 *	  PASS_LSQ		the least-squares state of the training rows, plus the
 *					encoded test rows (within a memory budget) so that the
 *					test metrics need no second scan;
 *	  PASS_EVAL		error metrics of a fitted model on the test rows (or on
 *					all rows when test_size = 0);
 *	  PASS_REFINE	X^T (y - X b) over the training rows in extended
 *					precision, for iterative refinement of an
 *					ill-conditioned least-squares fit;
 *	  PASS_LOAD		every row, encoded (NaN where a numeric value is
 *					missing) with its target and split hash, into memory
 *					for the iterative algorithms (dataset.c);
 *	  PASS_NB		naive Bayes' per-class statistics of the training rows,
 *					plus the kept test rows, like PASS_LSQ;
 *	  PASS_COV		the covariance state of every row, for PCA.
 *
 * For classification the target is a label (any type, by its text); the
 * profile collects the labels, the other passes turn them into class
 * indices.  Clustering and decomposition have no target: the query passes
 * a constant in its place.
 *
 * Every pass splits rows the same way: a row is a test row when a seeded
 * hash of its raw values falls below test_size, so the split does not
 * depend on scan order or on how parallel workers divide the table.
 *
 *-------------------------------------------------------------------------
 */
#ifndef AIF_PASS_H
#define AIF_PASS_H

#include "postgres.h"

#include "algorithms/abserr.h"
#include "algorithms/doubledouble.h"
#include "algorithms/lsq.h"
#include "algorithms/naivebayes.h"
#include "algorithms/pca.h"
#include "core/model.h"
#include "core/preprocess.h"

typedef enum PassMode
{
	PASS_PROFILE = 1,
	PASS_LSQ = 2,
	PASS_EVAL = 3,
	PASS_REFINE = 4,
	PASS_LOAD = 5,
	PASS_NB = 6,
	PASS_COV = 7
} PassMode;

/* What train() asks of one scan. */
typedef struct PassPlan
{
	PassMode	mode;
	uint64		seed;
	double		test_size;
	bool		impute_known;	/* LSQ: impute NULLs (else skip and count) */
	int64		stash_limit;	/* LSQ: bytes of test rows kept at most */
	Model	   *model;			/* features (all modes), coefficients (EVAL) */

	/*
	 * LSQ with test rows: the fit's options, for the pilot fits that let
	 * the scan sum most test rows' errors instead of keeping them
	 * (algorithms/abserr.h).
	 */
	bool		pilots;
	bool		fit_intercept;
	double		alpha;
	bool		standardize;
} PassPlan;

/* Distinct values of a categorical feature, with counts. */
typedef struct LevelDict
{
	int			nentries;
	int			capacity;		/* power of two */
	bool		overflow;		/* more than PASS_MAX_LEVELS values */
	char	  **keys;
	int		   *lens;
	uint32	   *hashes;
	int64	   *counts;
} LevelDict;

#define PASS_MAX_LEVELS 4096

/*
 * Kept test rows, in chunks: combining states links chunks instead of
 * copying rows, and growing never reallocates.
 */
#define STASH_CHUNK_ROWS 8192

typedef struct StashChunk
{
	struct StashChunk *next;
	int			nrows;
	int			capacity;		/* rows it has room for */

	/*
	 * A load's chunk keeps each row's target and split hash (the last two
	 * values of its row) side by side, apart from its design values: the
	 * target of row r in side[r], the hash's bits in side[capacity + r],
	 * so that the split reads them without touching the rows, which hold
	 * the design values alone (nrows x (stash_width - 2)).  NULL in other
	 * chunks, whose rows are whole (nrows x stash_width).
	 */
	double	   *side;
	bool		in_slab;		/* carved from a load's slab, not palloc'd */
	double		rows[FLEXIBLE_ARRAY_MEMBER];
} StashChunk;

/* The doubles of one row in c->rows. */
#define StashRowStride(width, c) ((c)->side ? (width) - 2 : (width))

/* Error metrics accumulated over rows (Welford for the target). */
typedef struct MetricAcc
{
	int64		n;
	double		sse;
	double		sae;
	double		ymean;
	double		ym2;
} MetricAcc;

/*
 * A classification target's recent labels, by Datum (by-value types only;
 * see label_cache_lookup in pass.c).  Per backend, never serialized.
 */
#define PASS_LABEL_CACHE 16

typedef struct LabelCacheEntry
{
	Datum		value;
	bool		valid;
	uint64		word;			/* the label's split-hash word */
	double		y;				/* class index, or in a load the label's hash */
	int			slot;			/* its target_dict slot (with a target_dict) */
} LabelCacheEntry;

typedef struct PassState
{
	PassMode	mode;
	int			nfeatures;
	bool		all_numeric;	/* every feature numeric (per backend, not serialized) */
	bool		all_float8;		/* ... and float8, in design order (idem) */
	bool		row_has_null;	/* the current row has a NULL feature */

	int64		rows_train;
	int64		rows_test;
	int64		rows_null_target;
	int64		rows_skipped_missing;	/* LSQ without impute_known */

	/* per feature, over training rows */
	int64	   *nonnull;
	double	   *sum;
	LevelDict **dicts;			/* PROFILE, categorical features */

	/* LSQ */
	int64		stash_limit;	/* bytes */
	LsqState   *lsq;
	AbsErrState *abserr;		/* error sums of test rows under pilots */
	int64		next_pilot;		/* training rows at which to fit the next */			/* [1 | design | y] of training rows */
	int			stash_width;	/* design columns + 1 (y last) */
	int64		stash_rows;		/* in all chunks */
	StashChunk *stash;			/* newest chunk first */
	StashChunk *spare;			/* LOAD: the next chunk, made resident ahead */
	struct AifPrefault *spare_pf;	/* ... with the matrix rows of its rows */
	char	  **slabs;			/* LOAD: the allocations its chunks are carved from */
	int			nslabs;
	Size		slab_free;		/* bytes left in the newest slab */
	double	   *matrix;			/* LOAD: room for the dataset (PassLoadMatrix) */
	int64		matrix_rows;	/* rows it has room for */
	bool		stash_overflow;

	/* EVAL */
	MetricAcc	acc;

	/* REFINE: gradient, intercept first, in double-double */
	int			ngrad;
	DD		   *grad;

	/* PROFILE of a classification: the labels; NB; COV */
	LevelDict  *target_dict;
	NbState    *nb;
	CovState   *cov;

	/* per-backend working memory, never serialized */
	MemoryContext mcxt;
	PassPlan   *plan;
	InputColumn *cols;			/* target first, then the features */
	double	   *row;			/* [1 | design | y] */
	double	   *vals;			/* current row: numeric values */
	bool	   *isnull;			/* current row: NULL flags */
	const char **strs;			/* current row: categorical strings */
	int		   *lens;
	uint64	   *words;			/* current row: what the split hashes */
	uint64	   *salts;			/* per word: seed + (i + 1) * golden ratio */
	int		   *class_lookup;	/* class indices in bytewise label order */
	LabelCacheEntry *label_cache;	/* PASS_LABEL_CACHE entries, or NULL */
	int			label_cache_capacity;	/* target_dict's, when filled */
} PassState;

extern bytea *PassPlanSerialize(const PassPlan *plan);
extern PassPlan *PassPlanDeserialize(bytea *bytes);
extern PassState *PassStateDeserialize(bytea *bytes, MemoryContext mcxt);

/*
 * A load's room for the dataset built from its nrows rows: nrows x
 * (design columns + 1) doubles, made resident while the rows were read,
 * in the state's memory; NULL when it has none (the caller allocates).
 */
extern double *PassLoadMatrix(PassState *st, int64 nrows);

/* The bytes of chunk c's allocation; of each of a load's slabs. */
extern Size PassChunkBytes(const PassState *st, const StashChunk *c);
extern Size PassSlabBytes(const PassState *st);

/* Class index of a label (classification), or -1; lookup from ClassLookup. */
extern int *ClassLookup(const Model *model);
extern int	ClassIndex(const Model *model, const int *lookup, const char *s, int len);

/*
 * Where LOAD keeps the split hash of a row: the slot after the target.
 * Inline: building a dataset reads it for every row.
 */
static inline uint64
PassRowHash(const double *row, int width)
{
	uint64		h;

	memcpy(&h, &row[width - 1], sizeof(h));
	return h;
}

extern double PassHashFraction(uint64 h);

/*
 * The row intake, for a pass fed by other means than the aggregate: a
 * state for inputs (target first, then the features) of the given types,
 * set up in cxt for the serialized plan; one row (in[0] the target); and,
 * once every row is in, the state's data moved under parent, away from
 * its working memory (which stays in cxt).
 */
extern PassState *PassStateForRows(bytea *plan, const Oid *types, int nargs,
								   MemoryContext cxt);
extern void PassAddRow(PassState *st, const NullableDatum *in);

/*
 * Whether st's features are all float8 in design order; then a row can
 * also be given as its target and its nfeatures values, none NULL.
 */
extern bool PassTakesFloat8Rows(const PassState *st);
extern void PassAddFloat8Row(PassState *st, const NullableDatum *target, const double *x);
extern void PassStateDetach(PassState *st, MemoryContext parent);

/*
 * A load read straight from a table (tableload.c), when sql -- the target,
 * then the features, as columns -- plans as a bare scan of one heap table:
 * true, with the state (NULL for no rows at all) in *result, its data under
 * cxt; false when the executor must run it.
 */
extern bool PassLoadFromTable(const char *sql, bytea *plan, MemoryContext cxt,
							  PassState **result);

extern void PassHandoffBegin(MemoryContext cxt);
extern PassState *PassHandoffEnd(void);
extern bool PassIsHandoffMarker(const bytea *value);

extern void MetricAccAdd(MetricAcc *acc, double y, double yhat);
extern void MetricAccMerge(MetricAcc *into, const MetricAcc *from);

#endif							/* AIF_PASS_H */
