# Gaussian naive Bayes (src/algorithms/naivebayes.c) against scikit-learn's
# numbers.  The Makefile includes this fragment before its own "all" rule;
# keep "all" the default goal so that a plain "make" still builds every test.
.DEFAULT_GOAL := all
TESTS += test_naivebayes

test_naivebayes.bin: test_naivebayes.c $(ALG)/naivebayes.c $(ALG)/naivebayes.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
