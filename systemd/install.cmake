# The install-time half of the install rules (CMakeLists.txt, at the end):
# what depends on the prefix, which `cmake --install --prefix DIR` may change
# after configuration, so it cannot be decided when configuring.
#
# - The configuration directory: /etc/coolingd for the prefixes /usr and
#   /usr/local (coolingd's built-in default, -c /etc/coolingd/coolingd.conf),
#   PREFIX/etc/coolingd for any other prefix (/opt/coolingd, a staging tree).
# - coolingd.conf is installed only where none is: an upgrade never
#   overwrites an operator's configuration. When theirs differs from the
#   example, the example goes beside it as coolingd.conf.new.
# - The units in systemd/ are written for /usr/local and /etc/coolingd; here
#   their paths are rewritten for the real prefix, so that ExecStart names the
#   binaries this very install puts in place.
#
# Set by CMakeLists.txt: COOLINGD_SOURCE_DIR, COOLINGD_BINDIR and
# COOLINGD_DOCDIR (GNUInstallDirs, relative or absolute).
# DESTDIR is honoured: file(INSTALL) prepends it.

get_filename_component(prefix "${CMAKE_INSTALL_PREFIX}" ABSOLUTE)
if(prefix STREQUAL "/usr" OR prefix STREQUAL "/usr/local")
  set(confdir "/etc/coolingd")
else()
  set(confdir "${prefix}/etc/coolingd")
endif()
foreach(var BINDIR DOCDIR)
  if(IS_ABSOLUTE "${COOLINGD_${var}}")
    set(${var} "${COOLINGD_${var}}")
  else()
    set(${var} "${prefix}/${COOLINGD_${var}}")
  endif()
endforeach()

# coolingd.conf
set(example "${COOLINGD_SOURCE_DIR}/config/coolingd.conf")
set(installed "$ENV{DESTDIR}${confdir}/coolingd.conf")
if(NOT EXISTS "${installed}")
  file(INSTALL "${example}" DESTINATION "${confdir}"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
else()
  file(SHA256 "${example}" example_sum)
  file(SHA256 "${installed}" installed_sum)
  if(example_sum STREQUAL installed_sum)
    message(STATUS "Up-to-date: ${installed}")
  else()
    file(INSTALL "${example}" DESTINATION "${confdir}" RENAME coolingd.conf.new
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    message(STATUS "Kept: ${installed} (this version's example is coolingd.conf.new)")
  endif()
endif()

# The units, with this install's paths. Written to a fresh temporary
# directory rather than the build tree, which `sudo cmake --install` would
# leave with root-owned files.
set(tmp "$ENV{TMPDIR}")
if(tmp STREQUAL "")
  set(tmp "/tmp")
endif()
string(RANDOM LENGTH 12 tag)
set(generated "${tmp}/coolingd-units-${tag}")
file(MAKE_DIRECTORY "${generated}")
set(units "")
foreach(unit coolingd.service coolingd-export.service coolingd-export.timer)
  file(READ "${COOLINGD_SOURCE_DIR}/systemd/${unit}" text)
  string(REPLACE "/etc/coolingd" "${confdir}" text "${text}")
  string(REPLACE "/usr/local/share/doc/coolingd" "${DOCDIR}" text "${text}")
  string(REPLACE "/usr/local/bin/" "${BINDIR}/" text "${text}")
  file(WRITE "${generated}/${unit}" "${text}")
  list(APPEND units "${generated}/${unit}")
endforeach()
file(INSTALL ${units} DESTINATION "${prefix}/lib/systemd/system"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(REMOVE_RECURSE "${generated}")
