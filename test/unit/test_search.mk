# Hyperparameter search strategies (src/algorithms/search.c)
TESTS += test_search

test_search.bin: test_search.c $(ALG)/search.c $(ALG)/search.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
