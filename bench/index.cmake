# bench_index: the store end to end (indexing throughput, model-bound rate,
# unchanged re-runs, query latency); bench/bench_index.py runs it next to a
# Python reference and prints the figures.
add_executable(bench_index ${CMAKE_CURRENT_LIST_DIR}/bench_index.c)
target_link_libraries(bench_index PRIVATE cerebro cerebro_warnings m)
# tests/index/clustered.h: the synthetic embeddings `fill` stores.
target_include_directories(bench_index PRIVATE ${PROJECT_SOURCE_DIR}/tests)
