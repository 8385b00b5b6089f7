# one-pass covariance and PCA (src/algorithms/pca.c)
TESTS += test_pca

test_pca.bin: test_pca.c $(ALG)/pca.c $(ALG)/pca.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
