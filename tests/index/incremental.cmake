# Re-indexing and search-by-id bugs a user would see (test_incremental.c):
# same-size rewrites with a later mtime or within the same second, and
# similar() under a prefix that excludes the item. scripts/mutants.txt
# names this test for the mutants it must kill.
cerebro_check_test(NAME check_index_incremental SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_incremental.c
  LABELS index ENVIRONMENT "CEREBRO_MODEL_FIXTURES=${CMAKE_BINARY_DIR}/tests/model/fixtures")
set_tests_properties(check_index_incremental PROPERTIES FIXTURES_REQUIRED model TIMEOUT 900)
