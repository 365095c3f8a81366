# Debian packages, one per install component:
#   libcerebro0     runtime  libcerebro.so.0 (the SOVERSION is in the name, so
#                            a future libcerebro1 installs beside it)
#   libcerebro-dev  dev      header, libcerebro.so link, pkg-config and CMake
#                            package files
#   cerebro-tools   tools    the cerebro program (server and web page built
#                            in), the default model, CLIP's merges
# Made by `cmake --build <build> --target package` (or `cpack -G DEB` in the
# build folder); configure with -DCMAKE_INSTALL_PREFIX=/usr for Debian's
# multiarch library folder. The packages always install under /usr.
# tests/install/check_packages.sh checks their names, files and Depends.
set(CPACK_GENERATOR DEB)
set(CPACK_VERBATIM_VARIABLES ON) # the descriptions below hold quotes
set(CPACK_PACKAGE_NAME cerebro)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "libcerebro maintainers <maintainers@users.noreply.r-seed-73ba8c0d.example>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev tools) # examples: `cmake --install` only
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_STRIP_FILES ON) # as Debian's packages: no debug information
# Depends from the ELF files' NEEDED entries, the way debhelper does it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(_cerebro_deb_version "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libcerebro${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "The shared library. libcerebro embeds images and video frames with a
CLIP-style dual encoder, keeps the vectors in a durable SQLite + FAISS store
and answers searches such as \"a snow leopard on rocks\".")
# A shlibs file, so packages built against this one depend on it, and an
# ldconfig trigger instead of running ldconfig for every library installed.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
file(WRITE ${PROJECT_BINARY_DIR}/deb/runtime/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deb/runtime/triggers)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# libblas.so.3 is satisfied by the reference BLAS; OpenBLAS is much faster.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS libopenblas0-pthread)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libcerebro-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION "Development files: the header cerebro/cerebro.h, the libcerebro.so link,
cerebro.pc for pkg-config and the CMake package (find_package(cerebro),
target cerebro::cerebro).")
# cerebro.pc names its dependencies in Requires.private, which pkg-config
# resolves even for a shared link: their .pc files must be installed.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${CPACK_DEBIAN_RUNTIME_PACKAGE_NAME} (= ${_cerebro_deb_version}), \
libturbojpeg0-dev, libpng-dev, libwebp-dev, libheif-dev, libtiff-dev, libgif-dev, \
libjxl-dev, libraw-dev, libgdk-pixbuf-2.0-dev, libutf8proc-dev, libcjson-dev, zlib1g-dev, libsqlite3-dev, libssl-dev, \
libavformat-dev, libavcodec-dev, libswscale-dev, libavutil-dev, pkg-config")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME cerebro-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION graphics)
set(CPACK_DEBIAN_TOOLS_DESCRIPTION "The cerebro program: it indexes folders of images and videos
incrementally, searches them by text or by example image and serves a
search-as-you-type web page (cerebro serve), and cerebro-import, which
turns OpenAI CLIP, open_clip, Hugging Face CLIP and SigLIP checkpoints into
bundles. The bundled default model is installed as
/usr/share/cerebro/default.pt.")
# dpkg-shlibdeps cannot tell which package holds libcerebro.so.0 (another
# component of this build), so that dependency is named here ...
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${CPACK_DEBIAN_RUNTIME_PACKAGE_NAME} (>= ${PROJECT_VERSION})")
# cerebro-import runs on Debian's PyTorch (and SentencePiece for SigLIP).
set(CPACK_DEBIAN_TOOLS_PACKAGE_RECOMMENDS "python3-torch, python3-sentencepiece")
# ... but it must find the library to read the rest: the build folder's copy.
get_target_property(_cerebro_lib_dir cerebro BINARY_DIR)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${_cerebro_lib_dir})

# Every package carries /usr/share/doc/<package>/copyright (Debian policy
# 12.5). EXCLUDE_FROM_ALL: only a component install (CPack's) writes them,
# a plain `cmake --install` does not.
set(_cerebro_tools_copyright ${PROJECT_BINARY_DIR}/deb/tools/copyright)
file(READ ${PROJECT_SOURCE_DIR}/LICENSE _cerebro_license)
file(READ ${PROJECT_SOURCE_DIR}/third_party/clip/LICENSE _cerebro_clip_license)
file(WRITE ${_cerebro_tools_copyright} "${_cerebro_license}
Files: usr/share/cerebro/clip/*
${_cerebro_clip_license}
Files: usr/share/cerebro/default.pt
The default model was trained from random weights by libcerebro's training
pipeline; the licences of its training data are listed in
/usr/share/cerebro/MODEL_CARD.md, which is redistributed with it.
")
# And changelog.Debian.gz (policy 12.7): one entry for this build, dated
# SOURCE_DATE_EPOCH when set (reproducible builds), compressed with gzip -9n.
string(TIMESTAMP _cerebro_deb_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${PROJECT_BINARY_DIR}/deb/changelog.Debian "\
cerebro (${_cerebro_deb_version}) unstable; urgency=medium

  * Built with CPack from the libcerebro source tree (cmake/packaging.cmake);
    the changes of each release are in CHANGELOG.md of the source.

 -- ${CPACK_PACKAGE_CONTACT}  ${_cerebro_deb_date}
")
execute_process(COMMAND gzip -9nf ${PROJECT_BINARY_DIR}/deb/changelog.Debian
  RESULT_VARIABLE _cerebro_gzip)
if(NOT _cerebro_gzip EQUAL 0)
  message(FATAL_ERROR "gzip of ${PROJECT_BINARY_DIR}/deb/changelog.Debian failed")
endif()
foreach(component runtime dev tools)
  string(TOUPPER ${component} _upper)
  if(component STREQUAL "tools")
    set(_file ${_cerebro_tools_copyright})
  else()
    set(_file ${PROJECT_SOURCE_DIR}/LICENSE)
  endif()
  set(_doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_${_upper}_PACKAGE_NAME})
  install(FILES ${_file} RENAME copyright DESTINATION ${_doc} COMPONENT ${component} EXCLUDE_FROM_ALL)
  install(FILES ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz DESTINATION ${_doc}
    COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

include(CPack)
