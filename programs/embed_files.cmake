# Turns files into C arrays for cerebro serve: one serve_asset per file of
# programs/web, so the program carries its web page and needs no folder at
# run time. Run by the build (cmake -P) whenever a file changes:
#   -DWEB_DIR=<folder> -DFILES=<names relative to it, separated by |> -DOUT=<file.c>
string(REPLACE "|" ";" FILES "${FILES}")
# CMake's regular expressions have no {n}: a row of 16 bytes spelled out.
string(REPEAT "0x..," 16 row)
set(arrays "")
set(table "")
set(i 0)
foreach(name IN LISTS FILES)
  if(name MATCHES "[\"\\\\]")
    message(FATAL_ERROR "embed_files: cannot embed a file whose name has a quote or backslash: ${name}")
  endif()
  file(READ "${WEB_DIR}/${name}" hex HEX)
  file(SIZE "${WEB_DIR}/${name}" size)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "(${row})" "\\1\n    " hex "${hex}")
  # A trailing 0: empty files still make a valid array, and text stays a C string.
  string(APPEND arrays "static const unsigned char asset_${i}[] = {\n    ${hex}0};\n\n")
  string(APPEND table "    {\"${name}\", asset_${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
set(text "/* Generated from programs/web by programs/embed_files.cmake: do not edit. */
#include \"serve.h\"

${arrays}const serve_asset serve_assets[] = {
${table}    {NULL, NULL, 0} /* C99 has no empty arrays */
};
const size_t serve_asset_count = ${i};
")
# Rewritten only when different, so an unchanged page relinks nothing.
file(WRITE "${OUT}.tmp" "${text}")
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
file(REMOVE "${OUT}.tmp")
