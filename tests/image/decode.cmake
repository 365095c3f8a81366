# Decoders (JPEG, PNG, EXIF) against PIL 9.4. gen_decode_corpus.py (a
# fixture) writes valid images with PIL's decoded pixels and a bad-input
# corpus into the build tree; check_image_decode walks it.
set(CEREBRO_DECODE_CORPUS ${CMAKE_CURRENT_BINARY_DIR}/decode_corpus)

add_test(NAME gen_decode_corpus
  COMMAND ${CEREBRO_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/gen_decode_corpus.py
          ${CEREBRO_DECODE_CORPUS})
set_tests_properties(gen_decode_corpus PROPERTIES
  FIXTURES_SETUP decode_corpus LABELS "unit;fixture" TIMEOUT 300)

cerebro_check_test(NAME check_image_decode
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_decode.c
  AREAS core image
  ENVIRONMENT CEREBRO_DECODE_CORPUS=${CEREBRO_DECODE_CORPUS})
set_tests_properties(check_image_decode PROPERTIES
  FIXTURES_REQUIRED decode_corpus TIMEOUT 900)
