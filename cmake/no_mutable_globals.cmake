# Fails when an object of the archive LIB has writable static storage: a
# non-empty .data, .bss, .tdata or .tbss section (or one of their -ffunction-
# or -fdata-sections children). Read-only tables, also those that hold
# pointers (.data.rel.ro), are not counted. Run after cd_domain is built
# (CMakeLists.txt), so that mutable global state in the domain, a file-scope
# counter or a function's `static` buffer, fails the build.
#
#   cmake -DOBJDUMP=objdump -DLIB=libcd_domain.a -P no_mutable_globals.cmake
execute_process(COMMAND ${OBJDUMP} -h ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OBJDUMP} -h ${LIB} failed")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(object "")
set(found "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([^ ]+\\.o): +file format")
    set(object ${CMAKE_MATCH_1})
  elseif(line MATCHES "^ *[0-9]+ +(\\.(t?data|t?bss)(\\.[^ ]*)?) +([0-9a-f]+) ")
    set(section ${CMAKE_MATCH_1})
    set(size ${CMAKE_MATCH_4})
    if(NOT section MATCHES "^\\.data\\.rel\\.ro" AND NOT size MATCHES "^0+$")
      list(APPEND found "${object}: ${section} (0x${size} bytes)")
    endif()
  endif()
endforeach()
if(found)
  list(JOIN found "\n  " found)
  message(FATAL_ERROR "${LIB}: the domain holds mutable global state (docs: README, Layout):\n  ${found}")
endif()
