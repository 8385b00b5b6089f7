# Classification metrics (src/algorithms/classmetrics.c); see
# test_classmetrics.c for how its scikit-learn reference values were
# produced.
TESTS += test_classmetrics

test_classmetrics.bin: test_classmetrics.c $(ALG)/classmetrics.c $(ALG)/classmetrics.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
