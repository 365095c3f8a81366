# bench_video: decode + sample + encode of one video and the share of time
# spent decoding; bench/bench_video.py makes a 1080p clip and runs it next to
# a Python reference. It links the library's internals for the time split.
add_executable(bench_video ${CMAKE_CURRENT_LIST_DIR}/bench_video.c)
target_include_directories(bench_video PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(bench_video PRIVATE cerebro_core cerebro_image cerebro_text cerebro_model
  cerebro_video cerebro_index cerebro_warnings m)
set_target_properties(bench_video PROPERTIES LINKER_LANGUAGE CXX)
