/*-------------------------------------------------------------------------
 *
 * test_classmetrics.c
 *	  Unit tests of the classification metrics (src/algorithms/
 *	  classmetrics.c): hand-computed cases, scikit-learn's values on
 *	  generated data, ROC AUC with ties and at the extremes, log loss with
 *	  clipping, merging and serialization, error paths, and the AUC time
 *	  on 1M rows.
 *
 * Where the references come from.  The data are generated here with
 * rng.h; the expected values were computed once with scikit-learn 1.2.1
 * (Debian 12's python3-sklearn) on exactly these data:
 *
 *		./test_classmetrics.bin --dump /tmp/cm
 *		/usr/bin/python3 - /tmp/cm <<'EOF'
 *		import sys, numpy as np
 *		from sklearn import metrics as M
 *		d = sys.argv[1]
 *		ld = lambda name, t: np.fromfile(f'{d}/{name}', dtype=t)
 *		t, p = ld('multi.truth', np.int32), ld('multi.pred', np.int32)
 *		print('%.17g' % M.accuracy_score(t, p))
 *		for f in (M.precision_score, M.recall_score, M.f1_score):
 *			print('%.17g' % f(t, p, average='macro', zero_division=0))
 *		y, s = ld('auc.label', np.int32), ld('auc.score', np.float64)
 *		print('%.17g' % M.roc_auc_score(y, s))
 *		print('%.17g' % M.log_loss(y, s))
 *		y3, p3 = ld('ll3.truth', np.int32), ld('ll3.proba', np.float64).reshape(-1, 3)
 *		print('%.17g' % M.log_loss(y3, p3, labels=[0, 1, 2]))
 *		EOF
 *
 * The test itself never runs Python.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/classmetrics.h"
#include "algorithms/rng.h"
#include "tap.h"

#define MULTI_N		1000
#define AUC_N		2000
#define LL3_N		300

/* scikit-learn 1.2.1's values on the generated data (see the header) */
static const double SK_ACCURACY = 0.61799999999999999;
static const double SK_PRECISION = 0.50574399065721776;
static const double SK_RECALL = 0.60688736100500806;
static const double SK_F1 = 0.53762421756630596;
static const double SK_AUC = 0.80735905440825395;
static const double SK_LOG_LOSS = 0.88663409794646564;
static const double SK_LOG_LOSS3 = 1.2655843472876072;

/*
 * Labels 0..3 and predictions: right 70 % of the time, otherwise a
 * random class, and class 3 is never predicted (a prediction of 3 becomes
 * 2), so its precision is 0 by sklearn's zero_division.
 */
static void
MakeMulti(int *truth, int *pred)
{
	AifRng		rng;
	int			i;

	AifRngSeed(&rng, 11);
	for (i = 0; i < MULTI_N; i++)
	{
		truth[i] = (int) AifRngBelow(&rng, 4);
		pred[i] = AifRngDouble(&rng) < 0.7 ? truth[i] : (int) AifRngBelow(&rng, 4);
		if (pred[i] == 3)
			pred[i] = 2;
	}
}

/*
 * Binary labels and scores in [0, 1] rounded to 0.05 (many ties),
 * higher for positives on average; a few scores are exactly 0 and 1, so
 * that the log loss clips.
 */
static void
MakeAuc(int *label, double *score)
{
	AifRng		rng;
	int			i;

	AifRngSeed(&rng, 22);
	for (i = 0; i < AUC_N; i++)
	{
		double		s;

		label[i] = AifRngDouble(&rng) < 0.4;
		s = 0.5 * AifRngDouble(&rng) + (label[i] ? 0.35 : 0.15);
		s = round(s * 20) / 20;
		if (i % 97 == 0)
			s = label[i] ? 0.0 : 1.0;	/* confidently wrong */
		if (i % 89 == 0)
			s = label[i] ? 1.0 : 0.0;	/* confidently right */
		score[i] = s;
	}
}

/* Three-class probabilities, some rows with zeros and ones. */
static void
MakeLogLoss3(int *truth, double *proba)
{
	AifRng		rng;
	int			i;
	int			k;

	AifRngSeed(&rng, 33);
	for (i = 0; i < LL3_N; i++)
	{
		double		s = 0;

		truth[i] = (int) AifRngBelow(&rng, 3);
		for (k = 0; k < 3; k++)
		{
			proba[i * 3 + k] = AifRngDouble(&rng) + (k == truth[i] ? 0.8 : 0);
			s += proba[i * 3 + k];
		}
		for (k = 0; k < 3; k++)
			proba[i * 3 + k] /= s;
		if (i % 31 == 0)
		{
			/* all mass on one class, right or wrong */
			for (k = 0; k < 3; k++)
				proba[i * 3 + k] = k == (i % 3) ? 1.0 : 0.0;
		}
	}
}

static void
WriteFile(const char *dir, const char *name, const void *data, size_t size)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size)
	{
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
	fclose(f);
}

static void
Dump(const char *dir)
{
	int			truth[MULTI_N];
	int			pred[MULTI_N];
	int			label[AUC_N];
	double		score[AUC_N];
	int			t3[LL3_N];
	double		p3[LL3_N * 3];

	MakeMulti(truth, pred);
	WriteFile(dir, "multi.truth", truth, sizeof(truth));
	WriteFile(dir, "multi.pred", pred, sizeof(pred));
	MakeAuc(label, score);
	WriteFile(dir, "auc.label", label, sizeof(label));
	WriteFile(dir, "auc.score", score, sizeof(score));
	MakeLogLoss3(t3, p3);
	WriteFile(dir, "ll3.truth", t3, sizeof(t3));
	WriteFile(dir, "ll3.proba", p3, sizeof(p3));
}

static bool
Close(double got, double want, double tol)
{
	return fabs(got - want) <= tol * Max(fabs(want), 1e-300);
}

static ClassMetrics
MetricsOf(const int *truth, const int *pred, int n, int nclasses)
{
	ClassConfusion *cm = ClassConfusionCreate(nclasses);
	ClassMetrics m;
	int			i;

	for (i = 0; i < n; i++)
		ClassConfusionAdd(cm, truth[i], pred[i]);
	ClassConfusionMetrics(cm, &m);
	ClassConfusionFree(cm);
	return m;
}

/*
 * By hand: truth 0 0 0 1 1 2, predicted 0 0 1 1 3 1 (four classes, the
 * fifth of nclasses = 5 never seen).
 *	  class 0: tp 2, true 3, predicted 2: P 1,	 R 2/3, F 0.8
 *	  class 1: tp 1, true 2, predicted 3: P 1/3, R 1/2, F 0.4
 *	  class 2: never predicted:			  P 0,	 R 0,	F 0
 *	  class 3: predicted, never true:	  P 0,	 R 0,	F 0
 * macro over 4 classes: P 1/3, R 7/24, F 0.3; accuracy 1/2 (sklearn
 * agrees: precision_recall_fscore_support(..., average='macro')).
 */
static void
TestHandConfusion(void)
{
	int			truth[6] = {0, 0, 0, 1, 1, 2};
	int			pred[6] = {0, 0, 1, 1, 3, 1};
	ClassMetrics m = MetricsOf(truth, pred, 6, 5);
	ClassConfusion *cm = ClassConfusionCreate(3);
	int			perfect[3] = {0, 1, 2};

	tap_ok(m.n == 6 && m.nlabels == 4 && Close(m.accuracy, 0.5, 1e-15),
		   "hand: accuracy 1/2 over 6 rows, 4 classes present of 5");
	tap_ok(Close(m.precision, 1.0 / 3, 1e-15) && Close(m.recall, 7.0 / 24, 1e-15) &&
		   Close(m.f1, 0.3, 1e-15),
		   "hand: macro precision 1/3, recall 7/24, F1 0.3 (a class never predicted, one never true)");

	m = MetricsOf(perfect, perfect, 3, 3);
	tap_ok(m.accuracy == 1 && m.precision == 1 && m.recall == 1 && m.f1 == 1,
		   "perfect predictions: every metric is 1");

	ClassConfusionMetrics(cm, &m);
	tap_ok(m.n == 0 && m.nlabels == 0 && isnan(m.accuracy) && isnan(m.f1),
		   "no rows: metrics are NaN");
	ClassConfusionFree(cm);
}

/* Against sklearn on 1000 generated rows; merging and serialization. */
static void
TestSklearnConfusion(void)
{
	int			truth[MULTI_N];
	int			pred[MULTI_N];
	ClassConfusion *whole = ClassConfusionCreate(4);
	ClassConfusion *part[3];
	ClassConfusion *back;
	ClassMetrics m;
	ClassMetrics mm;
	char	   *buf;
	Size		len = ClassConfusionSerializedSize(4);
	int			i;

	MakeMulti(truth, pred);
	for (i = 0; i < 3; i++)
		part[i] = ClassConfusionCreate(4);
	for (i = 0; i < MULTI_N; i++)
	{
		ClassConfusionAdd(whole, truth[i], pred[i]);
		ClassConfusionAdd(part[i % 3], truth[i], pred[i]);
	}
	ClassConfusionMetrics(whole, &m);
	tap_ok(Close(m.accuracy, SK_ACCURACY, 1e-15) && Close(m.precision, SK_PRECISION, 1e-14) &&
		   Close(m.recall, SK_RECALL, 1e-14) && Close(m.f1, SK_F1, 1e-14),
		   "1000 rows, 4 classes, class 3 never predicted: accuracy %.6f, precision %.6f, recall %.6f, F1 %.6f as sklearn",
		   m.accuracy, m.precision, m.recall, m.f1);

	/* three partial matrices, merged by way of their serialized form */
	buf = palloc(len);
	for (i = 1; i < 3; i++)
	{
		ClassConfusionSerialize(part[i], buf);
		back = ClassConfusionDeserialize(buf, len);
		ClassConfusionMerge(part[0], back);
		ClassConfusionFree(back);
	}
	ClassConfusionMetrics(part[0], &mm);
	tap_ok(memcmp(part[0]->counts, whole->counts, sizeof(int64) * 16) == 0 &&
		   mm.accuracy == m.accuracy && mm.f1 == m.f1,
		   "three partial matrices merged through serialization equal the whole");

	/* corrupt states are clean errors */
	ClassConfusionSerialize(whole, buf);
	SHIM_TRY();
	{
		ClassConfusionDeserialize(buf, len - 1);
	}
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_DATA_CORRUPTED,
		   "truncated state: ERROR %s", shim_unpack_sqlstate(shim_error.sqlerrcode));
	((int64 *) buf)[3] = -5;	/* buf is palloc'd, so aligned */
	SHIM_TRY();
	{
		ClassConfusionDeserialize(buf, len);
	}
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_DATA_CORRUPTED,
		   "negative count: ERROR %s", shim_unpack_sqlstate(shim_error.sqlerrcode));

	SHIM_TRY();
	{
		ClassConfusionAdd(whole, 4, 0);
	}
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INTERNAL_ERROR,
		   "class out of range: ERROR \"%s\"", shim_error.message);
	back = ClassConfusionCreate(3);
	SHIM_TRY();
	{
		ClassConfusionMerge(whole, back);
	}
	SHIM_END_TRY();
	tap_ok(shim_error_raised, "merging matrices of different sizes: ERROR");
	ClassConfusionFree(back);

	pfree(buf);
	for (i = 0; i < 3; i++)
		ClassConfusionFree(part[i]);
	ClassConfusionFree(whole);
}

/*
 * Reference AUC by counting all pairs, O(P N): independent of the sort
 * and of the tie handling of the code under test.
 */
static double
PairsAuc(const double *s, const int *y, int n)
{
	double		num = 0;
	double		np = 0;
	double		nn = 0;
	int			i;
	int			j;

	for (i = 0; i < n; i++)
	{
		np += y[i];
		nn += 1 - y[i];
		if (!y[i])
			continue;
		for (j = 0; j < n; j++)
			if (!y[j])
				num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
	}
	return num / (np * nn);
}

static void
TestAuc(void)
{
	double		s1[4] = {0.1, 0.4, 0.35, 0.8};
	int			y1[4] = {0, 0, 1, 1};
	double		s2[5] = {0.5, 0.5, 0.5, 0.2, 0.9};
	int			y2[5] = {1, 0, 1, 0, 1};
	double		s3[6] = {-0.0, 0.0, -INFINITY, INFINITY, 1e-300, -1e-300};
	int			y3[6] = {1, 0, 0, 1, 1, 0};
	double		same[4] = {3, 3, 3, 3};
	int			one[4] = {1, 1, 1, 1};
	int			label[AUC_N];
	double		score[AUC_N];
	double		inv[AUC_N];
	double		auc;
	int			i;

	tap_ok(BinaryRocAuc(s1, y1, 4) == 0.75, "sklearn's docstring example: 0.75");
	tap_ok(Close(BinaryRocAuc(s2, y2, 5), 5.0 / 6, 1e-15),
		   "a tie across the classes counts one half: 5/6 (sklearn 0.8333...)");
	tap_ok(BinaryRocAuc(s3, y3, 6) == PairsAuc(s3, y3, 6) && Close(BinaryRocAuc(s3, y3, 6), 17.0 / 18, 1e-15),
		   "-0 ties +0, infinities and tiny scores order as numbers: 17/18");
	tap_ok(BinaryRocAuc(same, y1, 4) == 0.5, "all scores equal: 0.5");
	tap_ok(isnan(BinaryRocAuc(s1, one, 4)), "one class only: NaN (sklearn raises)");

	MakeAuc(label, score);
	auc = BinaryRocAuc(score, label, AUC_N);
	tap_ok(Close(auc, SK_AUC, 1e-14) && auc == PairsAuc(score, label, AUC_N),
		   "2000 rows, 21 distinct scores: AUC %.12f as sklearn and as counting all pairs", auc);
	for (i = 0; i < AUC_N; i++)
		inv[i] = label[i] ? 1.0 + i : -1.0 - i;
	tap_ok(BinaryRocAuc(inv, label, AUC_N) == 1.0, "perfect scores: 1");
	for (i = 0; i < AUC_N; i++)
		inv[i] = -inv[i];
	tap_ok(BinaryRocAuc(inv, label, AUC_N) == 0.0, "inverted scores: 0");
	for (i = 0; i < AUC_N; i++)
		inv[i] = -score[i];
	tap_ok(Close(BinaryRocAuc(inv, label, AUC_N), 1 - auc, 1e-14), "negated scores: 1 - AUC");

	score[7] = NAN;
	SHIM_TRY();
	{
		BinaryRocAuc(score, label, AUC_N);
	}
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_DATA_EXCEPTION,
		   "a NaN score: ERROR %s \"%s\"", shim_unpack_sqlstate(shim_error.sqlerrcode),
		   shim_error.message);
	label[3] = 2;
	SHIM_TRY();
	{
		BinaryRocAuc(s1, label, 4);
	}
	SHIM_END_TRY();
	tap_ok(shim_error_raised && shim_error.sqlerrcode == ERRCODE_INTERNAL_ERROR,
		   "a label other than 0/1: ERROR \"%s\"", shim_error.message);
}

/*
 * 1M random scores (continuous, then rounded to 3 digits for ties): the
 * AUC against a qsort-based rank-sum reference, and its time.
 */
typedef struct Scored
{
	double		s;
	int			y;
} Scored;

static int
CompareScored(const void *a, const void *b)
{
	double		x = ((const Scored *) a)->s;
	double		y = ((const Scored *) b)->s;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Mann-Whitney with average ranks in long double */
static double
RankSumAuc(const double *s, const int *y, int n)
{
	Scored	   *v = palloc(sizeof(Scored) * n);
	long double rsum = 0;
	long double np = 0;
	int			i;
	int			j;

	for (i = 0; i < n; i++)
	{
		v[i].s = s[i];
		v[i].y = y[i];
		np += y[i];
	}
	qsort(v, n, sizeof(Scored), CompareScored);
	for (i = 0; i < n; i = j)
	{
		long double avg;

		for (j = i; j < n && v[j].s == v[i].s; j++)
			;
		avg = (i + 1 + j) / 2.0L;	/* ranks i+1 .. j */
		for (int k = i; k < j; k++)
			if (v[k].y)
				rsum += avg;
	}
	pfree(v);
	return (double) ((rsum - np * (np + 1) / 2) / (np * (n - np)));
}

static void
TestAucLarge(void)
{
	int			n = 1000000;
	double	   *s = palloc(sizeof(double) * n);
	int		   *y = palloc(sizeof(int) * n);
	AifRng		rng;
	double		best = INFINITY;
	double		auc = 0;
	int			rep;
	int			i;

	AifRngSeed(&rng, 44);
	for (i = 0; i < n; i++)
	{
		y[i] = AifRngDouble(&rng) < 0.3;
		s[i] = AifRngDouble(&rng) + 0.3 * y[i] - 0.5;
	}
	for (rep = 0; rep < 3; rep++)
	{
		double		t0 = now_seconds();

		auc = BinaryRocAuc(s, y, n);
		best = Min(best, now_seconds() - t0);
	}
	tap_diag("BinaryRocAuc on 1M rows: %.3f s (best of 3)", best);
	tap_ok(Close(auc, RankSumAuc(s, y, n), 1e-13),
		   "1M continuous scores: AUC %.10f equals the rank-sum reference", auc);
	for (i = 0; i < n; i++)
		s[i] = round(s[i] * 1000) / 1000;
	auc = BinaryRocAuc(s, y, n);
	tap_ok(Close(auc, RankSumAuc(s, y, n), 1e-13),
		   "1M scores with ~1800 distinct values: AUC %.10f equals the rank-sum reference", auc);
	pfree(s);
	pfree(y);
}

static void
TestLogLoss(void)
{
	int			label[AUC_N];
	double		score[AUC_N];
	int			t3[LL3_N];
	double		p3[LL3_N * 3];
	LogLossState whole;
	LogLossState part[2];
	LogLossState st;
	double		two[2];
	int			i;

	MakeAuc(label, score);
	LogLossInit(&whole);
	LogLossInit(&part[0]);
	LogLossInit(&part[1]);
	for (i = 0; i < AUC_N; i++)
	{
		LogLossAddBinary(&whole, label[i], score[i]);
		LogLossAddBinary(&part[i % 2], label[i], score[i]);
	}
	tap_ok(Close(LogLossValue(&whole), SK_LOG_LOSS, 1e-13),
		   "binary log loss with 0 and 1 probabilities (clipped): %.12f as sklearn",
		   LogLossValue(&whole));
	LogLossMerge(&part[0], &part[1]);
	tap_ok(part[0].n == AUC_N && Close(LogLossValue(&part[0]), LogLossValue(&whole), 1e-14),
		   "two merged halves give the same log loss");

	LogLossInit(&st);
	for (i = 0; i < AUC_N; i++)
	{
		two[1] = score[i];
		two[0] = 1 - score[i];
		LogLossAdd(&st, label[i], two, 2);
	}
	tap_ok(Close(LogLossValue(&st), SK_LOG_LOSS, 1e-13),
		   "the same as two-column probabilities");

	MakeLogLoss3(t3, p3);
	LogLossInit(&st);
	for (i = 0; i < LL3_N; i++)
		LogLossAdd(&st, t3[i], p3 + i * 3, 3);
	tap_ok(Close(LogLossValue(&st), SK_LOG_LOSS3, 1e-13),
		   "three-class log loss with zero probabilities (clipped, renormalized): %.12f as sklearn",
		   LogLossValue(&st));

	LogLossInit(&st);
	LogLossAddBinary(&st, 1, 0.0);
	tap_ok(Close(LogLossValue(&st), -log(DBL_EPSILON), 1e-15),
		   "P = 0 for the true class costs -log(eps) = %.4f, sklearn 1.2's clip", LogLossValue(&st));
	LogLossInit(&st);
	tap_ok(isnan(LogLossValue(&st)), "no rows: NaN");
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--dump") == 0)
	{
		Dump(argv[2]);
		return 0;
	}
	TestHandConfusion();
	TestSklearnConfusion();
	TestAuc();
	TestAucLarge();
	TestLogLoss();
	return tap_done();
}
