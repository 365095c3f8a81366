# bench_ann calls the internal ANN interface (lib/index/ann.h), so it links
# the core objects and the FAISS shim rather than libcerebro.so.
include(${PROJECT_SOURCE_DIR}/tests/index/ann_shim.cmake)
add_executable(bench_ann ${CMAKE_CURRENT_LIST_DIR}/bench_ann.c)
target_include_directories(bench_ann PRIVATE ${PROJECT_SOURCE_DIR}/lib ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(bench_ann PRIVATE cerebro_core cerebro_ann_shim cerebro_warnings m)
set_target_properties(bench_ann PROPERTIES LINKER_LANGUAGE CXX)
# bench_ann_scale: the chosen structure built from a training sample and
# chunks (collections larger than memory), docs/scaling.md's ANN figures.
add_executable(bench_ann_scale ${CMAKE_CURRENT_LIST_DIR}/bench_ann_scale.c)
target_include_directories(bench_ann_scale PRIVATE ${PROJECT_SOURCE_DIR}/lib ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(bench_ann_scale PRIVATE cerebro_core cerebro_ann_shim cerebro_warnings m)
set_target_properties(bench_ann_scale PROPERTIES LINKER_LANGUAGE CXX)
