# Image preprocessing throughput; bench_preprocess.py drives it next to
# PIL + torchvision on the same files.
add_executable(bench_preprocess ${CMAKE_CURRENT_LIST_DIR}/bench_preprocess.c)
target_link_libraries(bench_preprocess PRIVATE cerebro cerebro_warnings)

# Thumbnails as `cerebro serve` makes them, full-size and draft decoding;
# bench_thumbnail.py drives it next to PIL on the same files.
add_executable(bench_thumbnail ${CMAKE_CURRENT_LIST_DIR}/bench_thumbnail.c)
target_link_libraries(bench_thumbnail PRIVATE cerebro cerebro_warnings)
