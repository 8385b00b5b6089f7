# Histogram tree ensembles: binning, boosting, forests
# (src/algorithms/treebins.c, treebuild.c, gbdt.c, forest.c)
TESTS += test_gbdt

GBDT_SRCS = $(ALG)/treebins.c $(ALG)/treebuild.c $(ALG)/gbdt.c $(ALG)/forest.c
GBDT_DEPS = $(GBDT_SRCS) $(ALG)/gbdt.h $(ALG)/trees.h $(ALG)/treebuild.h $(ALG)/rng.h

test_gbdt.bin: test_gbdt.c $(GBDT_DEPS) $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)

# The benchmark against XGBoost (by hand, not part of check).
bench_gbdt: bench_gbdt.c $(GBDT_DEPS) $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
