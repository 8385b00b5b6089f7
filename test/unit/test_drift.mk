# Drift statistics and baseline summaries (src/algorithms/drift.c,
# sketch.c) against scipy 1.10 and Evidently's stattests.
TESTS += test_drift

test_drift.bin: test_drift.c $(ALG)/drift.c $(ALG)/drift.h $(ALG)/sketch.c $(ALG)/sketch.h $(ALG)/distributions.c $(ALG)/distributions.h $(ALG)/doubledouble.h $(ALG)/rng.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
