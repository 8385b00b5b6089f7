# Elastic net (src/algorithms/elasticnet.c) against scikit-learn's numbers.
# The Makefile includes this fragment before its own "all" rule; keep "all"
# the default goal so that a plain "make" still builds every test.
.DEFAULT_GOAL := all
TESTS += test_elasticnet

test_elasticnet.bin: test_elasticnet.c $(ALG)/elasticnet.c $(ALG)/elasticnet.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
