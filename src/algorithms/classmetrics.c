/*-------------------------------------------------------------------------
 *
 * classmetrics.c
 *	  Classification metrics as scikit-learn 1.2 defines them.
 *
 * The definitions are sklearn's (precision_recall_fscore_support with
 * average='macro', accuracy_score, roc_auc_score, log_loss); see
 * classmetrics.h for the choices where sklearn has options.
 *
 * ROC AUC.  With P positives and N negatives, the area under the ROC
 * curve (trapezoidal, as sklearn integrates it) is the probability that a
 * random positive scores above a random negative, ties counting one half:
 *
 *		AUC = sum over positives of (#negatives below + #negatives equal / 2)
 *			  / (P N)
 *
 * Positives' and negatives' scores are sorted separately and walked
 * together once.  Twice the numerator is an integer below 2 P N, so it is
 * counted exactly in a uint64 (P N < 2^63 for any n below 6e9).  The sort
 * is an LSD radix sort on the scores' bit patterns mapped to unsigned
 * order: linear time, and interruptible between passes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <string.h>

#include "miscadmin.h"

#include "algorithms/classmetrics.h"

/* largest key array a single palloc can hold */
#define CLASS_MAX_SORT_KEYS		((int64) (0x3fffffff / sizeof(uint64)))

static void ClassCheckClass(const ClassConfusion *cm, int c, const char *what);
static uint64 ScoreKey(double score);
static uint64 *RadixSort(uint64 *keys, uint64 *tmp, int64 n);


ClassConfusion *
ClassConfusionCreate(int nclasses)
{
	ClassConfusion *cm;

	if (nclasses < 1 || nclasses > CLASS_CONFUSION_MAX_CLASSES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("classification metrics support 1 to %d classes, got %d",
						CLASS_CONFUSION_MAX_CLASSES, nclasses)));
	cm = (ClassConfusion *) palloc(sizeof(ClassConfusion));
	cm->nclasses = nclasses;
	cm->counts = (int64 *) palloc0(sizeof(int64) * nclasses * nclasses);
	return cm;
}

void
ClassConfusionFree(ClassConfusion *cm)
{
	pfree(cm->counts);
	pfree(cm);
}

/* A class outside 0..nclasses-1 is the caller's bug, not the user's. */
static void
ClassCheckClass(const ClassConfusion *cm, int c, const char *what)
{
	if (c < 0 || c >= cm->nclasses)
		elog(ERROR, "%s class %d is outside 0..%d", what, c, cm->nclasses - 1);
}

void
ClassConfusionAdd(ClassConfusion *cm, int truth, int predicted)
{
	if (unlikely(truth < 0 || truth >= cm->nclasses))
		ClassCheckClass(cm, truth, "true");
	if (unlikely(predicted < 0 || predicted >= cm->nclasses))
		ClassCheckClass(cm, predicted, "predicted");
	cm->counts[truth * cm->nclasses + predicted]++;
}

void
ClassConfusionMerge(ClassConfusion *into, const ClassConfusion *from)
{
	int			k = into->nclasses;
	int			i;

	if (from->nclasses != k)
		elog(ERROR, "cannot merge confusion matrices of %d and %d classes",
			 k, from->nclasses);
	for (i = 0; i < k * k; i++)
		into->counts[i] += from->counts[i];
}

Size
ClassConfusionSerializedSize(int nclasses)
{
	return sizeof(int64) * (1 + (Size) nclasses * nclasses);
}

void
ClassConfusionSerialize(const ClassConfusion *cm, char *dst)
{
	int64		k = cm->nclasses;

	memcpy(dst, &k, sizeof(int64));
	memcpy(dst + sizeof(int64), cm->counts,
		   sizeof(int64) * (Size) cm->nclasses * cm->nclasses);
}

/*
 * Rebuild a matrix from ClassConfusionSerialize's output.  The bytes may
 * come from a parallel worker or from disk, so the header and the counts
 * are checked before use.
 */
ClassConfusion *
ClassConfusionDeserialize(const char *src, Size len)
{
	int64		k;
	ClassConfusion *cm;
	int			i;

	if (len < sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid confusion matrix"),
				 errdetail("The state is %zu bytes, shorter than its header.", len)));
	memcpy(&k, src, sizeof(int64));
	if (k < 1 || k > CLASS_CONFUSION_MAX_CLASSES ||
		len != ClassConfusionSerializedSize((int) k))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid confusion matrix"),
				 errdetail("The state is %zu bytes with a class count of %lld.",
						   len, (long long) k)));
	cm = ClassConfusionCreate((int) k);
	memcpy(cm->counts, src + sizeof(int64), sizeof(int64) * (Size) k * k);
	for (i = 0; i < k * k; i++)
		if (cm->counts[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("invalid confusion matrix"),
					 errdetail("A count is negative.")));
	return cm;
}

/*
 * sklearn's macro averages: per class k, precision = tp / predicted k
 * (0 if never predicted), recall = tp / true k (0 if absent), F1 =
 * 2 P R / (P + R) (0 if both are 0), then the plain mean over the classes
 * that occur as a label or as a prediction.
 */
void
ClassConfusionMetrics(const ClassConfusion *cm, ClassMetrics *out)
{
	int			K = cm->nclasses;
	int64		n = 0;
	int64		correct = 0;
	double		psum = 0;
	double		rsum = 0;
	double		fsum = 0;
	int			present = 0;
	int			k;
	int			j;

	for (k = 0; k < K; k++)
	{
		int64		tp = cm->counts[k * K + k];
		int64		true_k = 0;
		int64		pred_k = 0;
		double		precision;
		double		recall;
		double		denom;

		for (j = 0; j < K; j++)
		{
			true_k += cm->counts[k * K + j];
			pred_k += cm->counts[j * K + k];
		}
		n += true_k;
		correct += tp;
		if (true_k == 0 && pred_k == 0)
			continue;
		present++;
		precision = pred_k > 0 ? (double) tp / (double) pred_k : 0.0;
		recall = true_k > 0 ? (double) tp / (double) true_k : 0.0;
		denom = precision + recall;
		psum += precision;
		rsum += recall;
		fsum += denom > 0 ? 2.0 * precision * recall / denom : 0.0;
	}

	out->n = n;
	out->nlabels = present;
	if (n == 0)
	{
		out->accuracy = NAN;
		out->precision = NAN;
		out->recall = NAN;
		out->f1 = NAN;
		return;
	}
	out->accuracy = (double) correct / (double) n;
	out->precision = psum / present;
	out->recall = rsum / present;
	out->f1 = fsum / present;
}

/*
 * The bits of a double as an unsigned key in the doubles' order: flip
 * every bit of a negative, only the sign bit of a positive.  -0 becomes
 * +0 first so that equal scores have equal keys.
 */
static uint64
ScoreKey(double score)
{
	uint64		bits;

	score += 0.0;				/* -0 + 0 = +0 */
	memcpy(&bits, &score, sizeof(bits));
	return (bits & UINT64_C(0x8000000000000000)) ? ~bits :
		bits | UINT64_C(0x8000000000000000);
}

/*
 * Sort n keys ascending by an LSD radix sort of 8 bits per pass, using
 * tmp (n entries) as the other buffer; returns whichever of the two holds
 * the result.  One counting pass histograms all 8 bytes; a byte that is
 * the same in every key needs no pass (the exponent bytes of scores in a
 * narrow range, say).
 */
static uint64 *
RadixSort(uint64 *keys, uint64 *tmp, int64 n)
{
	int64	   *count = (int64 *) palloc0(sizeof(int64) * 8 * 256);
	uint64	   *src = keys;
	uint64	   *dst = tmp;
	int64		i;
	int			b;

	for (i = 0; i < n; i++)
	{
		uint64		k = keys[i];

		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		for (b = 0; b < 8; b++)
			count[b * 256 + ((k >> (8 * b)) & 0xff)]++;
	}
	for (b = 0; b < 8 && n > 1; b++)
	{
		int64	   *c = count + b * 256;
		int64		sum = 0;
		uint64	   *swap;
		int			d;

		if (c[(src[0] >> (8 * b)) & 0xff] == n)
			continue;
		for (d = 0; d < 256; d++)
		{
			int64		t = c[d];

			c[d] = sum;
			sum += t;
		}
		for (i = 0; i < n; i++)
		{
			uint64		k = src[i];

			if ((i & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
			dst[c[(k >> (8 * b)) & 0xff]++] = k;
		}
		swap = src;
		src = dst;
		dst = swap;
	}
	pfree(count);
	return src;
}

/* See the top of the file for the method. */
double
BinaryRocAuc(const double *scores, const int *labels, int64 n)
{
	int64		npos = 0;
	int64		nneg = 0;
	uint64	   *pos;
	uint64	   *neg;
	uint64	   *tmp;
	const uint64 *ps;
	const uint64 *ns;
	uint64		twice = 0;
	int64		i;
	int64		j;

	for (i = 0; i < n; i++)
	{
		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		if (unlikely(labels[i] != 0 && labels[i] != 1))
			elog(ERROR, "ROC AUC label %d of row %lld is not 0 or 1",
				 labels[i], (long long) i);
		if (unlikely(isnan(scores[i])))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("cannot compute ROC AUC: the score of row %lld is NaN",
							(long long) i + 1)));
		npos += labels[i];
	}
	nneg = n - npos;
	if (npos == 0 || nneg == 0)
		return NAN;
	if (Max(npos, nneg) > CLASS_MAX_SORT_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("cannot compute ROC AUC over more than %lld rows of one class",
						(long long) CLASS_MAX_SORT_KEYS)));

	pos = (uint64 *) palloc(sizeof(uint64) * npos);
	neg = (uint64 *) palloc(sizeof(uint64) * nneg);
	tmp = (uint64 *) palloc(sizeof(uint64) * Max(npos, nneg));
	npos = nneg = 0;
	for (i = 0; i < n; i++)
	{
		if (labels[i])
			pos[npos++] = ScoreKey(scores[i]);
		else
			neg[nneg++] = ScoreKey(scores[i]);
	}
	ps = RadixSort(pos, tmp, npos);
	if (ps == tmp)
	{
		/* keep the sorted positives out of the scratch the next sort uses */
		memcpy(pos, tmp, sizeof(uint64) * npos);
		ps = pos;
	}
	ns = RadixSort(neg, tmp, nneg);

	/*
	 * For each run of equal positive scores v: j is the number of negatives
	 * below v, then the run of negatives equal to v counts one half.
	 */
	i = 0;
	j = 0;
	while (i < npos)
	{
		uint64		v = ps[i];
		uint64		run = 0;
		uint64		ties = 0;
		int64		jj;

		if ((i & 0xffff) == 0)
			CHECK_FOR_INTERRUPTS();
		while (i < npos && ps[i] == v)
		{
			run++;
			i++;
		}
		while (j < nneg && ns[j] < v)
			j++;
		for (jj = j; jj < nneg && ns[jj] == v; jj++)
			ties++;
		twice += run * (2 * (uint64) j + ties);
	}

	pfree(pos);
	pfree(neg);
	pfree(tmp);
	return (double) twice / (2.0 * (double) npos * (double) nneg);
}

void
LogLossInit(LogLossState *st)
{
	st->sum = 0;
	st->n = 0;
}

/*
 * sklearn's log_loss for one row: clip every probability to [eps, 1 -
 * eps], divide by their sum, take -log of the true class's share.
 */
void
LogLossAdd(LogLossState *st, int truth, const double *proba, int nclasses)
{
	double		sum = 0;
	double		pt = 0;
	int			k;

	if (unlikely(nclasses < 2 || truth < 0 || truth >= nclasses))
		elog(ERROR, "log loss: class %d is outside 0..%d", truth, nclasses - 1);
	for (k = 0; k < nclasses; k++)
	{
		double		p = Min(Max(proba[k], CLASS_LOG_LOSS_EPS), 1.0 - CLASS_LOG_LOSS_EPS);

		sum += p;
		if (k == truth)
			pt = p;
	}
	st->sum -= log(pt / sum);
	st->n++;
}

/* The same for two classes given P(class 1), as sklearn reads a 1-D y_pred. */
void
LogLossAddBinary(LogLossState *st, int truth, double p1)
{
	double		p = Min(Max(p1, CLASS_LOG_LOSS_EPS), 1.0 - CLASS_LOG_LOSS_EPS);
	double		q = 1.0 - p;

	if (unlikely(truth != 0 && truth != 1))
		elog(ERROR, "log loss: class %d is outside 0..1", truth);
	st->sum -= log((truth ? p : q) / (q + p));
	st->n++;
}

void
LogLossMerge(LogLossState *into, const LogLossState *from)
{
	into->sum += from->sum;
	into->n += from->n;
}

double
LogLossValue(const LogLossState *st)
{
	if (st->n == 0)
		return NAN;
	return st->sum / (double) st->n;
}
