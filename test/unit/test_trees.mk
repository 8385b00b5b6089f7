# Tree-ensemble prediction, TreeSHAP and validation (src/algorithms/trees.c)
TESTS += test_trees

test_trees.bin: test_trees.c $(ALG)/trees.c $(ALG)/trees.h $(COMMON_DEPS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
