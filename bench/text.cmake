# Tokenizer throughput; bench_tokenizer.py drives it next to the Python
# reference (training/cerebro_train/tokenizer.py) on the same texts.
add_executable(bench_tokenizer ${CMAKE_CURRENT_LIST_DIR}/bench_tokenizer.c)
target_link_libraries(bench_tokenizer PRIVATE cerebro cerebro_warnings Threads::Threads)

# The same tokenizer built without its per-call BPE cache, to measure what
# the cache buys.
file(GLOB cerebro_text_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/lib/text/*.c)
add_executable(bench_tokenizer_nocache ${CMAKE_CURRENT_LIST_DIR}/bench_tokenizer.c
  ${cerebro_text_sources})
target_compile_definitions(bench_tokenizer_nocache PRIVATE CB_CACHE_AFTER_PIECES=SIZE_MAX)
target_include_directories(bench_tokenizer_nocache PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(bench_tokenizer_nocache PRIVATE cerebro_core PkgConfig::UTF8PROC ZLIB::ZLIB
  cerebro_warnings Threads::Threads)
