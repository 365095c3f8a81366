# FindFAISS: Debian's libfaiss-dev (1.7.3) ships a static, PIC libfaiss.a
# and headers but no CMake package. Defines the imported target FAISS::faiss
# carrying what libfaiss.a needs at link time: LAPACK, BLAS (OpenBLAS through
# Debian's alternatives) and OpenMP. Link it PRIVATE: only
# lib/index/faiss_shim.cpp includes FAISS, and lib/cerebro.map keeps its
# symbols out of libcerebro's exports.
find_path(FAISS_INCLUDE_DIR faiss/Index.h)
find_library(FAISS_LIBRARY NAMES libfaiss.a faiss)
find_library(FAISS_BLAS_LIBRARY NAMES blas)
find_library(FAISS_LAPACK_LIBRARY NAMES lapack)
find_package(OpenMP QUIET COMPONENTS CXX)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(FAISS
  REQUIRED_VARS FAISS_LIBRARY FAISS_INCLUDE_DIR FAISS_BLAS_LIBRARY FAISS_LAPACK_LIBRARY OpenMP_CXX_FOUND)

if(FAISS_FOUND AND NOT TARGET FAISS::faiss)
  add_library(FAISS::faiss UNKNOWN IMPORTED)
  set_target_properties(FAISS::faiss PROPERTIES
    IMPORTED_LOCATION ${FAISS_LIBRARY}
    IMPORTED_LINK_INTERFACE_LANGUAGES CXX
    INTERFACE_INCLUDE_DIRECTORIES ${FAISS_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES "${FAISS_LAPACK_LIBRARY};${FAISS_BLAS_LIBRARY};OpenMP::OpenMP_CXX")
endif()
mark_as_advanced(FAISS_INCLUDE_DIR FAISS_LIBRARY FAISS_BLAS_LIBRARY FAISS_LAPACK_LIBRARY)
