# Logistic regression (src/algorithms/logistic.c, logistic_kernel.c); see test_logistic.c for
# how its scikit-learn reference values were produced.
TESTS += test_logistic

test_logistic.bin: test_logistic.c $(ALG)/logistic.c $(ALG)/logistic.h $(ALG)/logistic_kernel.c $(ALG)/logistic_kernel.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
