# The store through the public API: unit checks (check_index) and the
# kill-and-resume integration test (index_kill), both on the tiny bundle the
# `model` fixture writes.
set(INDEX_MODEL_FIXTURES ${CMAKE_BINARY_DIR}/tests/model/fixtures)

cerebro_check_test(NAME check_index SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_index.c LABELS index
  ENVIRONMENT "CEREBRO_MODEL_FIXTURES=${INDEX_MODEL_FIXTURES}")
target_link_libraries(check_index PRIVATE Threads::Threads m)
set_tests_properties(check_index PROPERTIES FIXTURES_REQUIRED model TIMEOUT 900)
