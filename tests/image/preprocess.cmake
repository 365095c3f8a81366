# Resampling and CLIP preprocessing against PIL + torchvision.
# gen_preprocess_ref.py (a fixture) writes the images and reference tensors
# into the build tree; check_image_preprocess compares against them.
set(CEREBRO_PREPROCESS_REF ${CMAKE_CURRENT_BINARY_DIR}/preprocess_ref)

add_test(NAME gen_preprocess_ref
  COMMAND ${CEREBRO_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/gen_preprocess_ref.py
          --out ${CEREBRO_PREPROCESS_REF})
set_tests_properties(gen_preprocess_ref PROPERTIES
  FIXTURES_SETUP preprocess_ref LABELS "unit;fixture" TIMEOUT 600)

cerebro_check_test(NAME check_image_preprocess
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_preprocess.c
  AREAS core image
  ENVIRONMENT CEREBRO_PREPROCESS_REF=${CEREBRO_PREPROCESS_REF})
set_tests_properties(check_image_preprocess PROPERTIES
  FIXTURES_REQUIRED preprocess_ref TIMEOUT 1800)
