# Takes the console's chart library out of the npm tarball vendored in
# daemon/console/vendor/ (daemon/console/vendor/README.md), after checking
# the tarball against the `integrity` that daemon/console/package-lock.json
# records for it: the bytes embedded are the bytes the lock pins, and the
# build needs no network. The integrity is sha512 over the whole tarball,
# base64 (Subresource Integrity form), hence the tarball rather than the one
# file taken from it.
#
#   cmake -DLOCK=package-lock.json -DTARBALL=chart.js-V.tgz -DOUT_DIR=DIR
#         -DOPENSSL=openssl -P vendored_chart.cmake
#
# Writes DIR/chart.umd.min.js and DIR/LICENSE.md.

file(READ "${LOCK}" lock)
string(JSON integrity GET "${lock}" packages node_modules/chart.js integrity)
if(NOT integrity MATCHES "^sha512-(.+)$")
  message(FATAL_ERROR "${LOCK}: chart.js's integrity is not sha512: ${integrity}")
endif()
set(expected "${CMAKE_MATCH_1}")

execute_process(COMMAND "${OPENSSL}" dgst -sha512 -binary "${TARBALL}"
                COMMAND "${OPENSSL}" base64 -A
                OUTPUT_VARIABLE actual RESULTS_VARIABLE rcs)
if(NOT rcs STREQUAL "0;0")
  message(FATAL_ERROR "cannot hash ${TARBALL} with ${OPENSSL} (exit ${rcs})")
endif()
string(STRIP "${actual}" actual)
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "${TARBALL} does not match ${LOCK}:\n"
                      "  the lock says sha512-${expected}\n  the file is  sha512-${actual}\n"
                      "See daemon/console/vendor/README.md.")
endif()

set(tmp "${OUT_DIR}/extract")
file(REMOVE_RECURSE "${tmp}")
file(ARCHIVE_EXTRACT INPUT "${TARBALL}" DESTINATION "${tmp}"
     PATTERNS package/dist/chart.umd.min.js package/LICENSE.md)
foreach(f dist/chart.umd.min.js LICENSE.md)
  if(NOT EXISTS "${tmp}/package/${f}")
    message(FATAL_ERROR "${TARBALL} holds no package/${f}")
  endif()
  get_filename_component(n "${f}" NAME)
  file(COPY_FILE "${tmp}/package/${f}" "${OUT_DIR}/${n}")
endforeach()
file(REMOVE_RECURSE "${tmp}")
# The tarball's dates are older than the tarball itself: a fresh date keeps
# the step from running again on every build.
file(TOUCH "${OUT_DIR}/chart.umd.min.js" "${OUT_DIR}/LICENSE.md")
