# The FAISS shim alone as an object library, for check_ann and bench_ann:
# they exercise lib/index/ann.h and need none of the store's files (nor
# their dependencies). Compiled like lib/CMakeLists.txt compiles cerebro_index.
if(NOT TARGET cerebro_ann_shim)
  add_library(cerebro_ann_shim OBJECT ${PROJECT_SOURCE_DIR}/lib/index/faiss_shim.cpp)
  target_include_directories(cerebro_ann_shim PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/lib)
  target_compile_definitions(cerebro_ann_shim PUBLIC CEREBRO_BUILDING _GNU_SOURCE)
  set_target_properties(cerebro_ann_shim PROPERTIES
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(cerebro_ann_shim PRIVATE cerebro_warnings PUBLIC cerebro_sanitize FAISS::faiss)
endif()
