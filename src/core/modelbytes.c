/*-------------------------------------------------------------------------
 *
 * modelbytes.c
 *	  The versioned binary format of a stored model.
 *
 * Layout (all integers and doubles little-endian):
 *
 *	  "AIFM"				4 bytes magic
 *	  format version		uint16 (MODEL_FORMAT_VERSION)
 *	  algorithm				uint16 (AlgorithmId)
 *	  payload length		uint32
 *	  payload				task, target, preprocessing (features, then
 *							since format 2 the optional standardization),
 *							class labels (format 2), the algorithm's
 *							parameters; format 3 adds keep_missing per
 *							feature and the tree ensembles
 *	  CRC-32C				uint32 over everything before it
 *
 * Formats 1 (aifactory's first builds: linear and ridge only) and 2 are
 * still read.
 *
 * Loading never trusts the bytes: the magic, version, lengths and checksum
 * are verified first and every read is bounds-checked, so a corrupt or
 * foreign blob is a clean error rather than a crash.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "core/model.h"
#include "lib/stringinfo.h"
#include "port/pg_bswap.h"
#include "port/pg_crc32c.h"
#include "utils/memutils.h"

#define MODEL_MAGIC			"AIFM"
#define MODEL_FORMAT_VERSION 3
#define MODEL_HEADER_SIZE	12
#define MODEL_MAX_STRING	(64 * 1024 * 1024)

typedef struct Reader
{
	const char *data;
	Size		len;
	Size		pos;
} Reader;

static void
corrupt(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("model bytes are corrupt or not an aifactory model"),
			 errdetail("%s", detail),
			 errhint("Export models with aifactory.export_model() and import them unchanged.")));
}

/* ---- writing ---- */

static void
put_u16(StringInfo buf, uint16 v)
{
#ifdef WORDS_BIGENDIAN
	v = pg_bswap16(v);
#endif
	appendBinaryStringInfo(buf, (char *) &v, sizeof(v));
}

static void
put_u32(StringInfo buf, uint32 v)
{
#ifdef WORDS_BIGENDIAN
	v = pg_bswap32(v);
#endif
	appendBinaryStringInfo(buf, (char *) &v, sizeof(v));
}

static void
put_f64(StringInfo buf, double v)
{
	uint64		bits;

	memcpy(&bits, &v, sizeof(bits));
#ifdef WORDS_BIGENDIAN
	bits = pg_bswap64(bits);
#endif
	appendBinaryStringInfo(buf, (char *) &bits, sizeof(bits));
}

static void
put_str(StringInfo buf, const char *s)
{
	uint32		n = s ? strlen(s) : 0;

	put_u32(buf, n);
	if (n > 0)
		appendBinaryStringInfo(buf, s, n);
}

/* ---- reading ---- */

static void
need(Reader *r, Size n)
{
	if (n > r->len || r->pos > r->len - n)
		corrupt("The payload ends early.");
}

static uint16
get_u16(Reader *r)
{
	uint16		v;

	need(r, sizeof(v));
	memcpy(&v, r->data + r->pos, sizeof(v));
	r->pos += sizeof(v);
#ifdef WORDS_BIGENDIAN
	v = pg_bswap16(v);
#endif
	return v;
}

static uint32
get_u32(Reader *r)
{
	uint32		v;

	need(r, sizeof(v));
	memcpy(&v, r->data + r->pos, sizeof(v));
	r->pos += sizeof(v);
#ifdef WORDS_BIGENDIAN
	v = pg_bswap32(v);
#endif
	return v;
}

static double
get_f64(Reader *r)
{
	uint64		bits;
	double		v;

	need(r, sizeof(bits));
	memcpy(&bits, r->data + r->pos, sizeof(bits));
	r->pos += sizeof(bits);
#ifdef WORDS_BIGENDIAN
	bits = pg_bswap64(bits);
#endif
	memcpy(&v, &bits, sizeof(v));
	return v;
}

static char *
get_str(Reader *r)
{
	uint32		n = get_u32(r);
	char	   *s;

	if (n > MODEL_MAX_STRING)
		corrupt("A string is implausibly long.");
	need(r, n);
	s = palloc(n + 1);
	memcpy(s, r->data + r->pos, n);
	s[n] = '\0';
	r->pos += n;
	return s;
}

static uint32
get_count(Reader *r, uint32 max, const char *what)
{
	uint32		n = get_u32(r);

	if (n > max)
		corrupt(psprintf("The %s count %u is out of range.", what, n));
	return n;
}

/* ---- names ---- */

static const struct
{
	AlgorithmId id;
	const char *name;
	TaskKind	task;
}			algorithms[] =
{
	{ALGO_LINEAR, "linear", TASK_REGRESSION},
	{ALGO_RIDGE, "ridge", TASK_REGRESSION},
	{ALGO_ELASTIC_NET, "elastic_net", TASK_REGRESSION},
	{ALGO_LOGISTIC, "logistic", TASK_CLASSIFICATION},
	{ALGO_NAIVE_BAYES, "naive_bayes", TASK_CLASSIFICATION},
	{ALGO_KMEANS, "kmeans", TASK_CLUSTERING},
	{ALGO_PCA, "pca", TASK_DECOMPOSITION},
	/* trees do either; the project or the target decides */
	{ALGO_GBDT, "gbdt", 0},
	{ALGO_RANDOM_FOREST, "random_forest", 0},
};

const char *
AlgorithmName(AlgorithmId algorithm)
{
	for (int i = 0; i < lengthof(algorithms); i++)
		if (algorithms[i].id == algorithm)
			return algorithms[i].name;
	return "unknown";
}

bool
AlgorithmFromName(const char *name, AlgorithmId *algorithm)
{
	for (int i = 0; i < lengthof(algorithms); i++)
		if (strcmp(algorithms[i].name, name) == 0)
		{
			*algorithm = algorithms[i].id;
			return true;
		}
	return false;
}

/*
 * The task an algorithm is for, or 0 for those that do regression and
 * classification both (the trees).
 */
TaskKind
AlgorithmTask(AlgorithmId algorithm)
{
	for (int i = 0; i < lengthof(algorithms); i++)
		if (algorithms[i].id == algorithm)
			return algorithms[i].task;
	elog(ERROR, "unknown algorithm %d", algorithm);
	return TASK_REGRESSION;		/* keep compiler quiet */
}

const char *
TaskName(TaskKind task)
{
	switch (task)
	{
		case TASK_REGRESSION:
			return "regression";
		case TASK_CLASSIFICATION:
			return "classification";
		case TASK_CLUSTERING:
			return "clustering";
		case TASK_DECOMPOSITION:
			return "decomposition";
	}
	return "unknown";
}

bool
TaskFromName(const char *name, TaskKind *task)
{
	if (strcmp(name, "regression") == 0)
		*task = TASK_REGRESSION;
	else if (strcmp(name, "classification") == 0)
		*task = TASK_CLASSIFICATION;
	else if (strcmp(name, "clustering") == 0)
		*task = TASK_CLUSTERING;
	else if (strcmp(name, "decomposition") == 0)
		*task = TASK_DECOMPOSITION;
	else
		return false;
	return true;
}

/*
 * A fresh, empty model in its own memory context.
 */
Model *
ModelCreate(MemoryContext parent)
{
	MemoryContext mcxt = AllocSetContextCreate(parent, "aifactory model",
											   ALLOCSET_SMALL_SIZES);
	Model	   *model = MemoryContextAllocZero(mcxt, sizeof(Model));

	model->mcxt = mcxt;
	return model;
}

/* ---- the format ---- */

static void
put_f64s(StringInfo buf, const double *v, int n)
{
	for (int i = 0; i < n; i++)
		put_f64(buf, v[i]);
}

static double *
get_f64s(Reader *r, int n)
{
	double	   *v = palloc(sizeof(double) * Max(n, 1));

	if ((Size) n * sizeof(double) > r->len - r->pos)
		corrupt("An array runs past the end of the payload.");
	for (int i = 0; i < n; i++)
		v[i] = get_f64(r);
	return v;
}

static void
write_preprocessor(StringInfo buf, const Preprocessor *pre)
{
	put_u32(buf, pre->nfeatures);
	put_u32(buf, pre->ndesign);
	for (int i = 0; i < pre->nfeatures; i++)
	{
		const FeatureSpec *f = &pre->features[i];

		put_str(buf, f->name);
		put_u16(buf, f->kind);
		put_str(buf, f->type_name);
		put_f64(buf, f->impute);
		put_u16(buf, f->keep_missing ? 1 : 0);
		put_u16(buf, f->drop_first ? 1 : 0);
		put_u32(buf, f->nlevels);
		for (int j = 0; j < f->nlevels; j++)
			put_str(buf, f->levels[j]);
	}
	put_u16(buf, pre->scaled ? 1 : 0);
	if (pre->scaled)
	{
		put_f64s(buf, pre->center, pre->ndesign);
		put_f64s(buf, pre->scale, pre->ndesign);
	}
}

/*
 * Read the preprocessing and recompute each feature's design columns, so
 * that the offsets can never disagree with the levels.
 */
static void
read_preprocessor(Reader *r, Preprocessor *pre, int version)
{
	int			offset = 0;

	pre->nfeatures = get_count(r, 100000, "feature");
	pre->ndesign = get_count(r, 10000000, "design column");
	pre->features = palloc0(sizeof(FeatureSpec) * Max(pre->nfeatures, 1));
	for (int i = 0; i < pre->nfeatures; i++)
	{
		FeatureSpec *f = &pre->features[i];

		f->name = get_str(r);
		f->kind = get_u16(r);
		if (f->kind != FEATURE_NUMERIC && f->kind != FEATURE_CATEGORICAL)
			corrupt("Unknown feature kind.");
		f->type_name = get_str(r);
		f->impute = get_f64(r);
		if (version >= 3)
			f->keep_missing = get_u16(r) != 0;
		f->drop_first = get_u16(r) != 0;
		f->nlevels = get_count(r, 10000000, "level");
		f->levels = palloc(sizeof(char *) * Max(f->nlevels, 1));
		for (int j = 0; j < f->nlevels; j++)
			f->levels[j] = get_str(r);
		f->design_offset = offset;
		if (f->kind == FEATURE_NUMERIC)
			f->ncols = 1;
		else
			f->ncols = f->nlevels - ((f->drop_first && f->nlevels > 0) ? 1 : 0);
		offset += f->ncols;
	}
	if (offset != pre->ndesign)
		corrupt("The design width does not match the features.");
	pre->scaled = false;
	if (version >= 2 && get_u16(r) != 0)
	{
		pre->scaled = true;
		pre->center = get_f64s(r, pre->ndesign);
		pre->scale = get_f64s(r, pre->ndesign);
		for (int j = 0; j < pre->ndesign; j++)
			if (!(pre->scale[j] > 0) || !isfinite(pre->center[j]))
				corrupt("A scaling factor is not positive.");
	}
}

static void
write_classes(StringInfo buf, const Model *model)
{
	put_u32(buf, model->nclasses);
	put_u16(buf, model->label_kind);
	for (int i = 0; i < model->nclasses; i++)
		put_str(buf, model->classes[i]);
}

static void
read_classes(Reader *r, Model *model)
{
	model->nclasses = get_count(r, 1000000, "class");
	model->label_kind = get_u16(r);
	if (model->nclasses > 0 &&
		(model->label_kind < LABEL_TEXT || model->label_kind > LABEL_BOOL))
		corrupt("Unknown label kind.");
	model->classes = palloc(sizeof(char *) * Max(model->nclasses, 1));
	for (int i = 0; i < model->nclasses; i++)
		model->classes[i] = get_str(r);
}

/*
 * A model to predict with must have everything its algorithm uses; only
 * the plan of a training pass may lack the fitted parameters.
 */
static void
check_complete(const Model *model)
{
	if (model->task == TASK_CLASSIFICATION && model->nclasses < 2)
		corrupt("A classifier without two classes.");
	switch (model->algorithm)
	{
		case ALGO_LOGISTIC:
			if ((model->nsets == 1) != (model->nclasses == 2))
				corrupt("The coefficient sets do not match the classes.");
			break;
		case ALGO_NAIVE_BAYES:
			if (model->nb_prior == NULL)
				corrupt("Naive Bayes without its statistics.");
			break;
		case ALGO_KMEANS:
			if (model->k < 1)
				corrupt("k-means without centers.");
			break;
		case ALGO_PCA:
			if (model->ncomp < 1)
				corrupt("PCA without components.");
			break;
		case ALGO_GBDT:
		case ALGO_RANDOM_FOREST:
			if (model->trees == NULL)
				corrupt("A tree model without trees.");
			break;
		default:
			break;
	}
}

/*
 * A tree ensemble: its shape, then each array in turn.  A plan for a
 * training pass has no trees yet (ntrees 0).
 */
static void
write_trees(StringInfo buf, const TreeEnsemble *ens)
{
	if (ens == NULL)
	{
		put_u32(buf, 0);
		return;
	}
	put_u32(buf, ens->ntrees);
	put_u16(buf, ens->kind);
	put_u16(buf, ens->objective);
	put_u32(buf, ens->nfeatures);
	put_u32(buf, ens->noutputs);
	put_u32(buf, ens->nvalues);
	put_u32(buf, ens->nnodes);
	put_u32(buf, ens->nleaves);
	for (int t = 0; t < ens->ntrees; t++)
	{
		put_u32(buf, ens->roots[t]);
		put_u32(buf, ens->tree_output[t]);
	}
	for (int i = 0; i < ens->nnodes; i++)
	{
		put_f64(buf, ens->nodes[i].value);
		put_u32(buf, ens->nodes[i].split);
		put_u32(buf, (uint32) ens->nodes[i].left);
		put_f64(buf, ens->cover[i]);
		put_f64(buf, ens->gain[i]);
	}
	if (ens->nvalues > 1)
		put_f64s(buf, ens->leaf_values, ens->nleaves * ens->nvalues);
	put_f64s(buf, ens->base_score, ens->noutputs);
}

static TreeEnsemble *
read_trees(Reader *r, const Model *model)
{
	TreeEnsemble *ens;
	const char *fault;
	int			ntrees = get_count(r, 10000000, "tree");

	if (ntrees == 0)
		return NULL;
	ens = palloc0(sizeof(TreeEnsemble));
	ens->ntrees = ntrees;
	ens->kind = get_u16(r);
	ens->objective = get_u16(r);
	ens->nfeatures = get_count(r, 10000000, "tree feature");
	ens->noutputs = get_count(r, 1000000, "tree output");
	ens->nvalues = get_count(r, 1000000, "leaf value");
	ens->nnodes = get_count(r, 200000000, "tree node");
	ens->nleaves = get_count(r, 200000000, "tree leaf");
	if ((Size) ntrees * 8 + (Size) ens->nnodes * 32 > r->len - r->pos)
		corrupt("The trees run past the end of the payload.");
	ens->roots = palloc(sizeof(int32) * ntrees);
	ens->tree_output = palloc(sizeof(int32) * ntrees);
	for (int t = 0; t < ntrees; t++)
	{
		ens->roots[t] = (int32) get_u32(r);
		ens->tree_output[t] = (int32) get_u32(r);
	}
	ens->nodes = MemoryContextAllocHuge(CurrentMemoryContext,
										sizeof(TreeNode) * Max(ens->nnodes, 1));
	ens->cover = MemoryContextAllocHuge(CurrentMemoryContext,
										sizeof(double) * Max(ens->nnodes, 1));
	ens->gain = MemoryContextAllocHuge(CurrentMemoryContext,
									   sizeof(double) * Max(ens->nnodes, 1));
	for (int i = 0; i < ens->nnodes; i++)
	{
		ens->nodes[i].value = get_f64(r);
		ens->nodes[i].split = get_u32(r);
		ens->nodes[i].left = (int32) get_u32(r);
		ens->cover[i] = get_f64(r);
		ens->gain[i] = get_f64(r);
	}
	ens->leaf_values = NULL;
	if (ens->nvalues > 1)
	{
		if ((Size) ens->nleaves * ens->nvalues > 100000000)
			corrupt("Too many leaf values.");
		ens->leaf_values = get_f64s(r, ens->nleaves * ens->nvalues);
	}
	ens->base_score = get_f64s(r, ens->noutputs);
	fault = TreeEnsembleValidate(ens);
	if (fault != NULL)
		corrupt(psprintf("The trees are malformed: %s.", fault));
	if (ens->nfeatures != model->pre.ndesign)
		corrupt("The trees do not match the design.");
	if (model->task == TASK_REGRESSION ? ens->objective != TREE_SQUARED_ERROR :
		ens->objective == TREE_LOGISTIC ? model->nclasses != 2 :
		ens->objective == TREE_SQUARED_ERROR || ens->noutputs != model->nclasses)
		corrupt("The trees' outputs do not match the task.");
	if ((ens->kind == TREES_BOOSTED) != (model->algorithm == ALGO_GBDT))
		corrupt("The trees are not of the model's kind.");
	return ens;
}

bytea *
ModelSerialize(const Model *model)
{
	StringInfoData buf;
	pg_crc32c	crc;
	uint32		payload_len;
	bytea	   *result;
	int			p = model->pre.ndesign;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, MODEL_MAGIC, 4);
	put_u16(&buf, MODEL_FORMAT_VERSION);
	put_u16(&buf, model->algorithm);
	put_u32(&buf, 0);			/* payload length, patched below */

	put_u16(&buf, model->task);
	put_str(&buf, model->target);
	write_preprocessor(&buf, &model->pre);
	write_classes(&buf, model);

	switch (model->algorithm)
	{
		case ALGO_LINEAR:
		case ALGO_RIDGE:
		case ALGO_ELASTIC_NET:
		case ALGO_LOGISTIC:
			{
				int			nsets = Max(model->nsets, 1);

				put_u16(&buf, model->fit_intercept ? 1 : 0);
				put_u32(&buf, nsets);
				if (model->intercepts)
					put_f64s(&buf, model->intercepts, nsets);
				else
					put_f64(&buf, model->intercept);
				/* a plan for a training pass has no coefficients yet */
				put_u32(&buf, model->coef ? nsets * p : 0);
				if (model->coef)
					put_f64s(&buf, model->coef, nsets * p);
				put_u16(&buf, (model->has_stats && model->coef) ? 1 : 0);
				if (model->has_stats && model->coef)
				{
					put_f64(&buf, model->df_resid);
					put_f64(&buf, model->intercept_se);
					put_f64s(&buf, model->coef_se, p);
				}
			}
			break;
		case ALGO_NAIVE_BAYES:
			put_u16(&buf, model->nb_prior ? 1 : 0);
			if (model->nb_prior)
			{
				put_f64s(&buf, model->nb_prior, model->nclasses);
				put_f64s(&buf, model->nb_mean, model->nclasses * p);
				put_f64s(&buf, model->nb_var, model->nclasses * p);
			}
			break;
		case ALGO_KMEANS:
			put_u32(&buf, model->centers ? model->k : 0);
			if (model->centers)
				put_f64s(&buf, model->centers, model->k * p);
			break;
		case ALGO_PCA:
			put_u32(&buf, model->components ? model->ncomp : 0);
			if (model->components)
			{
				put_f64s(&buf, model->pca_mean, p);
				put_f64s(&buf, model->components, model->ncomp * p);
				put_f64s(&buf, model->explained_variance, model->ncomp);
			}
			break;
		case ALGO_GBDT:
		case ALGO_RANDOM_FOREST:
			write_trees(&buf, model->trees);
			break;
		default:
			elog(ERROR, "cannot serialize algorithm %d", model->algorithm);
	}

	payload_len = buf.len - MODEL_HEADER_SIZE;
#ifdef WORDS_BIGENDIAN
	payload_len = pg_bswap32(payload_len);
#endif
	memcpy(buf.data + 8, &payload_len, sizeof(uint32));

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf.data, buf.len);
	FIN_CRC32C(crc);
	put_u32(&buf, crc);

	result = palloc(VARHDRSZ + buf.len);
	SET_VARSIZE(result, VARHDRSZ + buf.len);
	memcpy(VARDATA(result), buf.data, buf.len);
	pfree(buf.data);
	return result;
}

/* The linear family's payload; format 1 had a single coefficient set. */
static void
read_linear(Reader *r, Model *model, int version)
{
	int			p = model->pre.ndesign;
	uint32		n;

	model->fit_intercept = get_u16(r) != 0;
	model->nsets = version >= 2 ? (int) get_count(r, 1000000, "coefficient set") : 1;
	if (model->nsets < 1 ||
		(model->algorithm != ALGO_LOGISTIC && model->nsets != 1) ||
		(model->algorithm == ALGO_LOGISTIC && model->nsets != 1 &&
		 model->nsets != model->nclasses))
		corrupt("The number of coefficient sets does not match the model.");
	model->intercepts = get_f64s(r, model->nsets);
	model->intercept = model->intercepts[0];
	n = get_u32(r);
	if (n != (uint32) (model->nsets * p) && n != 0)
		corrupt("The coefficient count does not match the design.");
	model->coef = palloc0(sizeof(double) * Max(model->nsets * p, 1));
	for (uint32 j = 0; j < n; j++)
		model->coef[j] = get_f64(r);
	model->has_stats = get_u16(r) != 0;
	if (model->has_stats && n == 0)
		corrupt("Statistics without coefficients.");
	if (model->has_stats)
	{
		model->df_resid = get_f64(r);
		model->intercept_se = get_f64(r);
		model->coef_se = get_f64s(r, p);
	}
}

/*
 * Verify and decode model bytes into a new Model under `parent`.
 */
Model *
ModelDeserialize(const bytea *bytes, MemoryContext parent)
{
	return ModelDeserializeExt(bytes, parent, false);
}

Model *
ModelDeserializeExt(const bytea *bytes, MemoryContext parent, bool allow_incomplete)
{
	const char *data = VARDATA_ANY(bytes);
	Size		len = VARSIZE_ANY_EXHDR(bytes);
	Reader		r;
	uint16		version;
	uint32		payload_len;
	uint32		stored_crc;
	pg_crc32c	crc;
	Model	   *model;
	MemoryContext old;
	int			p;

	if (len < MODEL_HEADER_SIZE + sizeof(uint32) ||
		memcmp(data, MODEL_MAGIC, 4) != 0)
		corrupt("The magic number is missing.");

	r.data = data;
	r.len = len;
	r.pos = 4;
	version = get_u16(&r);
	if (version < 1 || version > MODEL_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model format version %u is not supported", version),
				 errhint("This build of aifactory reads format versions 1 to %d; upgrade the extension.",
						 MODEL_FORMAT_VERSION)));
	(void) get_u16(&r);
	payload_len = get_u32(&r);
	if ((Size) payload_len != len - MODEL_HEADER_SIZE - sizeof(uint32))
		corrupt("The payload length does not match the size of the bytes.");

	memcpy(&stored_crc, data + len - sizeof(uint32), sizeof(uint32));
#ifdef WORDS_BIGENDIAN
	stored_crc = pg_bswap32(stored_crc);
#endif
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, data, len - sizeof(uint32));
	FIN_CRC32C(crc);
	if (crc != stored_crc)
		corrupt("The checksum does not match.");

	model = ModelCreate(parent);
	old = MemoryContextSwitchTo(model->mcxt);

	r.len = len - sizeof(uint32);
	r.pos = 6;
	model->algorithm = get_u16(&r);
	if (model->algorithm < ALGO_LINEAR || model->algorithm > ALGO_MAX)
		corrupt(psprintf("Unknown algorithm %u.", (unsigned) model->algorithm));
	r.pos = MODEL_HEADER_SIZE;
	model->task = get_u16(&r);
	if (AlgorithmTask(model->algorithm) == 0 ?
		(model->task != TASK_REGRESSION && model->task != TASK_CLASSIFICATION) :
		model->task != AlgorithmTask(model->algorithm))
		corrupt("The task does not match the algorithm.");
	model->target = get_str(&r);
	read_preprocessor(&r, &model->pre, version);
	if (version >= 2)
		read_classes(&r, model);
	else if (model->task == TASK_CLASSIFICATION)
		corrupt("A classifier without classes.");
	p = model->pre.ndesign;

	switch (model->algorithm)
	{
		case ALGO_LINEAR:
		case ALGO_RIDGE:
		case ALGO_ELASTIC_NET:
		case ALGO_LOGISTIC:
			read_linear(&r, model, version);
			break;
		case ALGO_NAIVE_BAYES:
			if (get_u16(&r) != 0)
			{
				model->nb_prior = get_f64s(&r, model->nclasses);
				model->nb_mean = get_f64s(&r, model->nclasses * p);
				model->nb_var = get_f64s(&r, model->nclasses * p);
				for (int j = 0; j < model->nclasses * p; j++)
					if (!(model->nb_var[j] > 0))
						corrupt("A variance is not positive.");
			}
			break;
		case ALGO_KMEANS:
			model->k = get_count(&r, 1000000, "cluster");
			if (model->k > 0)
				model->centers = get_f64s(&r, model->k * p);
			break;
		case ALGO_PCA:
			model->ncomp = get_count(&r, p, "component");
			if (model->ncomp > 0)
			{
				model->pca_mean = get_f64s(&r, p);
				model->components = get_f64s(&r, model->ncomp * p);
				model->explained_variance = get_f64s(&r, model->ncomp);
			}
			break;
		case ALGO_GBDT:
		case ALGO_RANDOM_FOREST:
			model->trees = read_trees(&r, model);
			break;
	}
	if (r.pos != r.len)
		corrupt("Trailing bytes after the payload.");
	if (!allow_incomplete)
		check_complete(model);

	MemoryContextSwitchTo(old);
	return model;
}
