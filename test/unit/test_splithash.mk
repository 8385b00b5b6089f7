# The split hash of a row of float8 values (src/algorithms/splithash.c).
TESTS += test_splithash

test_splithash.bin: test_splithash.c $(ALG)/splithash.c $(ALG)/splithash.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
