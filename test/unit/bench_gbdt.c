/*-------------------------------------------------------------------------
 *
 * bench_gbdt.c
 *	  Time TreeBinsBuild + GbdtFit on the project's benchmark data (not
 *	  part of make check): 1M x 20 uniform(-1, 1) features, the label of
 *	  bench/bench_table.sql, binary logistic, 100 trees of depth 6,
 *	  learning rate 0.3, 256 bins; accuracy on 250k further rows.
 *
 *	  make bench_gbdt && ./bench_gbdt [rows] [trees] [reps] [forest]
 *
 *	  With a fourth argument, a classification forest (max_features
 *	  sqrt(p)/p, unlimited depth) instead of boosting.
 *
 *	  The reference is XGBoost 1.7.4 (/usr/bin/python3) on data drawn the
 *	  same way with numpy, timing xgb.train alone:
 *		xgb.train({'tree_method': 'hist', 'nthread': 1, 'max_depth': 6,
 *				   'eta': 0.3, 'objective': 'binary:logistic', 'max_bin': 256},
 *				  xgb.DMatrix(X, label=y), 100)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "algorithms/gbdt.h"
#include "algorithms/rng.h"
#include "tap.h"

static void
MakeData(AifRng *rng, int64 n, int p, double *X, double *y)
{
	for (int64 i = 0; i < n; i++)
	{
		double		s = 0.0;

		for (int j = 0; j < p; j++)
		{
			double		f = AifRngDouble(rng) * 2.0 - 1.0;

			X[(Size) j * n + i] = f;
			s += f * (((j + 1) % 5) - 2);
		}
		s += 4.0 * X[i] * X[(Size) n + i] + 0.5 * (AifRngDouble(rng) - 0.5);
		y[i] = s > 0.0 ? 1.0 : 0.0;
	}
}

static double
Margin(const TreeEnsemble *ens, const double *X, int64 n, int64 i)
{
	double		m = ens->base_score[0];

	for (int t = 0; t < ens->ntrees; t++)
	{
		const TreeNode *nd = &ens->nodes[ens->roots[t]];

		while (!TREE_IS_LEAF(nd))
		{
			double		x = X[(Size) (nd->split & TREE_FEATURE_MASK) * n + i];
			bool		left = isnan(x) ? (nd->split & TREE_DEFAULT_LEFT) != 0 : x < nd->value;

			nd = &ens->nodes[left ? nd->left : nd->left + 1];
		}
		m += nd->value;
	}
	return m;
}

int
main(int argc, char **argv)
{
	int64		n = argc > 1 ? atoll(argv[1]) : 1000000;
	int			trees = argc > 2 ? atoi(argv[2]) : 100;
	int			reps = argc > 3 ? atoi(argv[3]) : 3;
	int64		nt = n / 4;
	int			p = 20;
	double	   *X = malloc(sizeof(double) * n * p);
	double	   *y = malloc(sizeof(double) * n);
	double	   *Xt = malloc(sizeof(double) * nt * p);
	double	   *yt = malloc(sizeof(double) * nt);
	AifRng		rng;
	GbdtOptions opts;

	AifRngSeed(&rng, 42);
	MakeData(&rng, n, p, X, y);
	MakeData(&rng, nt, p, Xt, yt);
	GbdtDefaultOptions(&opts);
	opts.objective = TREE_LOGISTIC;
	opts.n_estimators = trees;

	if (argc > 4)
	{
		ForestOptions fo;

		ForestDefaultOptions(&fo);
		fo.nclasses = 2;
		fo.n_estimators = trees;
		fo.max_features = sqrt((double) p) / p;
		for (int r = 0; r < reps; r++)
		{
			double		t0 = now_seconds();
			TreeBins   *bins = TreeBinsBuild(X, n, p, 256);
			double		t1 = now_seconds();
			TreeEnsemble *ens = ForestFit(bins, y, &fo);
			double		t2 = now_seconds();
			int64		right = 0;

			for (int64 i = 0; i < nt; i++)
			{
				double		p1 = 0.0;

				for (int t = 0; t < ens->ntrees; t++)
				{
					const TreeNode *nd = &ens->nodes[ens->roots[t]];

					while (!TREE_IS_LEAF(nd))
					{
						double		x = Xt[(Size) (nd->split & TREE_FEATURE_MASK) * nt + i];

						nd = &ens->nodes[x < nd->value ? nd->left : nd->left + 1];
					}
					p1 += ens->leaf_values[(Size) TREE_LEAF_NUMBER(nd) * 2 + 1];
				}
				right += (p1 / ens->ntrees > 0.5) == (yt[i] > 0.5);
			}
			printf("forest: bins %.2fs fit %.2fs acc %.4f nodes %d\n",
				   t1 - t0, t2 - t1, (double) right / nt, ens->nnodes);
		}
		return 0;
	}

	for (int r = 0; r < reps; r++)
	{
		double		t0 = now_seconds();
		TreeBins   *bins = TreeBinsBuild(X, n, p, 256);
		double		t1 = now_seconds();
		GbdtFitInfo info;
		TreeEnsemble *ens = GbdtFit(bins, y, &opts, NULL, 0, NULL, &info);
		double		t2 = now_seconds();
		int64		right = 0;

		for (int64 i = 0; i < nt; i++)
			right += (Margin(ens, Xt, nt, i) > 0.0) == (yt[i] > 0.5);
		printf("bins %.2fs fit %.2fs total %.2fs acc %.4f nodes %d\n",
			   t1 - t0, t2 - t1, t2 - t0, (double) right / nt, ens->nnodes);
		fflush(stdout);
	}
	return 0;
}
