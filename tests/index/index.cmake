# The store through the public API: unit checks (check_index) and the
# kill-and-resume integration test (index_kill), both on the tiny bundle the
# `model` fixture writes.
set(INDEX_MODEL_FIXTURES ${CMAKE_BINARY_DIR}/tests/model/fixtures)

cerebro_check_test(NAME check_index SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_index.c LABELS index
  ENVIRONMENT "CEREBRO_MODEL_FIXTURES=${INDEX_MODEL_FIXTURES}")
target_link_libraries(check_index PRIVATE Threads::Threads m)
set_tests_properties(check_index PROPERTIES FIXTURES_REQUIRED model TIMEOUT 900)

# Kill-and-resume: a child indexes a few thousand generated images with
# frequent commits and is SIGKILLed at random moments; the store must be
# consistent on reopen and, resumed, give the same results as an
# uninterrupted run. index_tool is also what bench/bench_index.py drives.
add_executable(index_tool ${CMAKE_CURRENT_LIST_DIR}/index_tool.c)
target_link_libraries(index_tool PRIVATE cerebro cerebro_warnings cerebro_sanitize m)
add_test(NAME index_kill
  COMMAND ${CEREBRO_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/kill_test.py --tool $<TARGET_FILE:index_tool>
          --model ${INDEX_MODEL_FIXTURES}/tiny.pt --work ${CMAKE_CURRENT_BINARY_DIR}/kill)
set_tests_properties(index_kill PROPERTIES LABELS "integration;index" FIXTURES_REQUIRED model TIMEOUT 900)
