# The FAISS shim (lib/index/faiss_shim.cpp) against brute force. It links
# core and the shim only, so the rest of the index area cannot break it.
# OMP_WAIT_POLICY=PASSIVE: on a loaded machine libgomp's spinning workers
# made PQ training 5x slower (8 s instead of 1.5 s for 2000 vectors).
include(${CMAKE_CURRENT_LIST_DIR}/ann_shim.cmake)
cerebro_check_test(NAME check_ann SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ann.c AREAS core LABELS index
  ENVIRONMENT "OMP_WAIT_POLICY=PASSIVE")
target_link_libraries(check_ann PRIVATE cerebro_ann_shim Threads::Threads m)
set_target_properties(check_ann PROPERTIES LINKER_LANGUAGE CXX)
set_tests_properties(check_ann PROPERTIES TIMEOUT 900)
