# Exact error sums under pilot fits (src/algorithms/abserr.c) against direct
# computation.  Keep "all" the default goal (see test_naivebayes.mk).
.DEFAULT_GOAL := all
TESTS += test_abserr

test_abserr.bin: test_abserr.c $(ALG)/abserr.c $(ALG)/abserr.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
