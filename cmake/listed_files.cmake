# Sources, tests and migrations are listed by name in the CMakeLists.txt
# files rather than found with file(GLOB), so that each new file is placed
# (in its layer, with its libraries) on purpose. The one risk of a list is a
# file that it lacks: a test that is never built or run, a migration that is
# never embedded, a source that only shows up as an undefined reference. cd_check_listed stops the configure step (and, for the
# migrations, their embedding) when DIR holds a file matching PATTERN that
# NAMES does not list, or NAMES lists one that DIR does not hold. The glob
# here checks the lists; it never defines what is built.
#
#   cd_check_listed(LIST_NAME DIR PATTERN NAMES)
#     LIST_NAME  what to name in the message ("CD_SQL_FILES in CMakeLists.txt")
#     NAMES      paths or names; only their file names are compared
function(cd_check_listed list_name dir pattern names)
  file(GLOB present RELATIVE ${dir} ${dir}/${pattern})
  set(listed "")
  foreach(f ${names})
    get_filename_component(n ${f} NAME)
    list(APPEND listed ${n})
  endforeach()
  list(SORT present)
  list(SORT listed)
  if(NOT present STREQUAL listed)
    set(missing ${present})
    if(listed)
      list(REMOVE_ITEM missing ${listed})
    endif()
    set(extra ${listed})
    if(present)
      list(REMOVE_ITEM extra ${present})
    endif()
    message(FATAL_ERROR "${list_name} and ${dir}/${pattern} differ: "
                        "not listed: [${missing}]; listed but absent: [${extra}]")
  endif()
endfunction()
