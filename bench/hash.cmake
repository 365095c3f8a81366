# bench_hash: content hashing (lib/core/sha256.c, libcrypto) against a
# portable C SHA-256 on the same buffers. It calls the internal interface,
# so it links the core objects rather than libcerebro.so.
add_executable(bench_hash ${CMAKE_CURRENT_LIST_DIR}/bench_hash.c)
target_include_directories(bench_hash PRIVATE ${PROJECT_SOURCE_DIR}/lib)
target_link_libraries(bench_hash PRIVATE cerebro_core cerebro_warnings)
