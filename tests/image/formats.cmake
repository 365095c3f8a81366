# The other formats (WebP, GIF, TIFF, BMP, HEIF/AVIF, JPEG XL, RAW): for each
# format whose generator exists, formats/gen_<format>.py (a fixture) writes
# files made with Debian's tools and their reference pixels, and
# check_image_<format> (test_formats.c, one program for all) walks them.
set(CEREBRO_IMAGE_FORMATS webp gif tiff bmp heif jxl raw)
foreach(format IN LISTS CEREBRO_IMAGE_FORMATS)
  set(gen ${CMAKE_CURRENT_LIST_DIR}/formats/gen_${format}.py)
  if(NOT EXISTS ${gen})
    continue()
  endif()
  set(corpus ${CMAKE_CURRENT_BINARY_DIR}/formats/${format})
  add_test(NAME gen_${format}_corpus COMMAND ${CEREBRO_PYTHON} ${gen} ${corpus})
  set_tests_properties(gen_${format}_corpus PROPERTIES
    FIXTURES_SETUP ${format}_corpus LABELS "unit;fixture" TIMEOUT 300)
  cerebro_check_test(NAME check_image_${format}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_formats.c
    AREAS core image
    ENVIRONMENT CEREBRO_FORMAT_CORPUS=${corpus})
  set_tests_properties(check_image_${format} PROPERTIES
    FIXTURES_REQUIRED ${format}_corpus TIMEOUT 900)
endforeach()
