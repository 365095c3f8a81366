add_executable(bench_model ${CMAKE_CURRENT_LIST_DIR}/bench_model.c)
target_link_libraries(bench_model PRIVATE cerebro cerebro_warnings)
