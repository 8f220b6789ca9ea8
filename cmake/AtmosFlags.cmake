# Compiler flags shared by every target.
add_compile_definitions(_GNU_SOURCE)   # liburing 2.3's header needs it under -std=c17
add_compile_options(-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wstrict-prototypes -Wvla
                    -Wno-sign-conversion -fno-strict-aliasing)
if(ATMOS_WERROR)
  add_compile_options(-Werror)
endif()
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  add_compile_options(-O0 -g3)
endif()
# The hardening Debian builds its packages with (dpkg-buildflags): checked
# libc calls where sizes are known, stack protector, read-only relocations
# bound at start. A relay faces the internet; lintian looks for these.
# _FORTIFY_SOURCE needs optimisation, and sanitizer builds check more anyway.
if(CMAKE_BUILD_TYPE MATCHES "^(Release|RelWithDebInfo|MinSizeRel)$" AND NOT ATMOS_SANITIZE AND NOT ATMOS_FUZZ)
  add_compile_definitions(_FORTIFY_SOURCE=2)
  add_compile_options(-fstack-protector-strong)
  add_link_options(-Wl,-z,relro,-z,now)
endif()
if(ATMOS_SANITIZE)
  add_compile_definitions(ATMOS_ASAN=1)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
if(ATMOS_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ATMOS_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
  endif()
  # Instrument every library for coverage; only fuzz targets link libFuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()

# atmos_module(name dir deps...): one static library per folder, built from
# every .c in it; headers are included as "<folder>/<file>.h" from the top.
function(atmos_module name)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.c)
  if(NOT srcs)
    # A module with headers only (or none yet) is an interface library.
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE ${ARGN})
  else()
    add_library(${name} STATIC ${srcs})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PUBLIC ${ARGN})
  endif()
  # Each public header must compile on its own (STYLE.md §8).
  file(GLOB hdrs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.h)
  set(hsrcs "")
  foreach(h ${hdrs})
    get_filename_component(hn ${h} NAME_WE)
    if(hn STREQUAL "internal")
      continue()
    endif()
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${h})
    set(out ${CMAKE_CURRENT_BINARY_DIR}/hdrcheck/${hn}.c)
    file(CONFIGURE OUTPUT ${out} CONTENT "#include \"${rel}\"\n#include \"${rel}\"\nint hdrcheck_${name}_${hn};\n")
    list(APPEND hsrcs ${out})
  endforeach()
  if(hsrcs)
    add_library(${name}_hdrcheck OBJECT ${hsrcs})
    target_link_libraries(${name}_hdrcheck PRIVATE ${name})
  endif()
endfunction()
