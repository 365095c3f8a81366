# The decoder's own full size and content box under the 8 EXIF orientations,
# exact and fast (test_exif_geometry.c); needs no corpus.
cerebro_check_test(NAME check_image_exif_geometry
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_exif_geometry.c
  AREAS core image)
target_link_libraries(check_image_exif_geometry PRIVATE m)
