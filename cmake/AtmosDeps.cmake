# Finds every third-party library and fails with the Debian package to install.
# .ci/deps installs all of them.
include(FindPkgConfig)

function(atmos_require_lib var name header pkg)
  find_library(${var}_LIB NAMES ${name} ${ARGN})
  if(NOT ${var}_LIB)
    message(FATAL_ERROR "lib${name} not found: install the Debian package '${pkg}' (apt-get install ${pkg}, or run .ci/deps)")
  endif()
  find_path(${var}_INC NAMES ${header})
  if(NOT ${var}_INC)
    message(FATAL_ERROR "${header} not found: install the Debian package '${pkg}' (apt-get install ${pkg}, or run .ci/deps)")
  endif()
  set(${var}_LIB ${${var}_LIB} PARENT_SCOPE)
  set(${var}_INC ${${var}_INC} PARENT_SCOPE)
endfunction()

atmos_require_lib(URING uring liburing.h liburing-dev)
add_library(atmos::uring INTERFACE IMPORTED)
target_link_libraries(atmos::uring INTERFACE ${URING_LIB})
target_include_directories(atmos::uring INTERFACE ${URING_INC})

atmos_require_lib(JSONC json-c json-c/json.h libjson-c-dev)
add_library(atmos::jsonc INTERFACE IMPORTED)
target_link_libraries(atmos::jsonc INTERFACE ${JSONC_LIB})

# Router port mapping (portmap/): UPnP IGD and NAT-PMP through Debian's client
# libraries; PCP is our own codec.
atmos_require_lib(MINIUPNPC miniupnpc miniupnpc/miniupnpc.h libminiupnpc-dev)
add_library(atmos::miniupnpc INTERFACE IMPORTED)
target_link_libraries(atmos::miniupnpc INTERFACE ${MINIUPNPC_LIB})
atmos_require_lib(NATPMP natpmp natpmp.h libnatpmp-dev)
add_library(atmos::natpmp INTERFACE IMPORTED)
target_link_libraries(atmos::natpmp INTERFACE ${NATPMP_LIB})

# BoringSSL from android-libboringssl-dev. Its headers share the name openssl/
# with OpenSSL's, so they are searched only in /usr/include/android, and its
# libraries live outside the linker's default path, hence the rpath.
set(ATMOS_BORINGSSL_INC /usr/include/android CACHE PATH "BoringSSL headers")
set(ATMOS_BORINGSSL_LIBDIR /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android CACHE PATH "BoringSSL libraries")
if(NOT CMAKE_LIBRARY_ARCHITECTURE)
  set(ATMOS_BORINGSSL_LIBDIR /usr/lib/x86_64-linux-gnu/android CACHE PATH "" FORCE)
endif()
find_library(BSSL_CRYPTO NAMES crypto PATHS ${ATMOS_BORINGSSL_LIBDIR} NO_DEFAULT_PATH)
find_library(BSSL_SSL NAMES ssl PATHS ${ATMOS_BORINGSSL_LIBDIR} NO_DEFAULT_PATH)
if(NOT BSSL_CRYPTO OR NOT BSSL_SSL OR NOT EXISTS ${ATMOS_BORINGSSL_INC}/openssl/base.h)
  message(FATAL_ERROR "BoringSSL not found in ${ATMOS_BORINGSSL_LIBDIR}: install the Debian package 'android-libboringssl-dev' (or run .ci/deps)")
endif()
add_library(atmos::boringssl INTERFACE IMPORTED)
target_include_directories(atmos::boringssl SYSTEM INTERFACE ${ATMOS_BORINGSSL_INC})
target_link_libraries(atmos::boringssl INTERFACE ${BSSL_SSL} ${BSSL_CRYPTO})
set(CMAKE_BUILD_RPATH ${ATMOS_BORINGSSL_LIBDIR})
set(CMAKE_INSTALL_RPATH ${ATMOS_BORINGSSL_LIBDIR})

if(ATMOS_TESTS)
  atmos_require_lib(CRITERION criterion criterion/criterion.h libcriterion-dev)
  add_library(atmos::criterion INTERFACE IMPORTED)
  target_link_libraries(atmos::criterion INTERFACE ${CRITERION_LIB})

  # wslay is a second, independent WebSocket peer for the relay's tests; the
  # relay keeps its own codec on the data path (docs/RELAY.md).
  atmos_require_lib(WSLAY wslay wslay/wslay.h libwslay-dev)
  add_library(atmos::wslay INTERFACE IMPORTED)
  target_link_libraries(atmos::wslay INTERFACE ${WSLAY_LIB})
  target_include_directories(atmos::wslay INTERFACE ${WSLAY_INC})
endif()

find_package(Threads REQUIRED)
