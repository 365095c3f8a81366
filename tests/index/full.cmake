# A full disk, for real: the index on a small tmpfs in a private mount
# namespace (test_full.c). Needs root; without it the test says SKIPPED
# (exit 77) rather than passing.
cerebro_check_test(NAME check_index_full SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_full.c LABELS index
  ENVIRONMENT "CEREBRO_MODEL_FIXTURES=${INDEX_MODEL_FIXTURES}")
target_link_libraries(check_index_full PRIVATE PkgConfig::SQLITE3)
set_tests_properties(check_index_full PROPERTIES FIXTURES_REQUIRED model SKIP_RETURN_CODE 77 TIMEOUT 900)

# The same through the cerebro program: the message, the summary's counts
# against the store, searching while full, the rerun after a bigger remount.
if(TARGET cerebro-cli)
  add_test(NAME index_full_cli
    COMMAND ${CEREBRO_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/full_cli.py $<TARGET_FILE:cerebro-cli>
            ${INDEX_MODEL_FIXTURES}/tiny.pt ${CMAKE_CURRENT_BINARY_DIR}/full-cli)
  set_tests_properties(index_full_cli PROPERTIES LABELS "integration;index;cli" FIXTURES_REQUIRED model
    SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()
