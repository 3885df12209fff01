# nexios_dependency(<find_package arguments> [PKG_CONFIG_LIBS flags...] [PKG_CONFIG_REQUIRES modules...])
#
# One line per dependency of the nexios libraries: finds the package now (REQUIRED) and records
#   - the same arguments for the installed nexiosConfig.cmake (find_dependency), and
#   - what nexios.pc needs for it: PKG_CONFIG_LIBS go into its Libs (for packages without a .pc
#     file, such as Debian's Boost), PKG_CONFIG_REQUIRES into its Requires (for packages with one,
#     e.g. `PKG_CONFIG_REQUIRES fmt`).
# cmake/Install.cmake writes them out.
set(NEXIOS_CONFIG_DEPENDENCIES "")
set(NEXIOS_PC_LIBS "")
set(NEXIOS_PC_REQUIRES "")

macro(nexios_dependency)
  cmake_parse_arguments(_nexios_dep "" "" "PKG_CONFIG_LIBS;PKG_CONFIG_REQUIRES" ${ARGN})
  find_package(${_nexios_dep_UNPARSED_ARGUMENTS} REQUIRED)
  string(JOIN " " _nexios_dep_args ${_nexios_dep_UNPARSED_ARGUMENTS})
  string(APPEND NEXIOS_CONFIG_DEPENDENCIES "find_dependency(${_nexios_dep_args})\n")
  list(APPEND NEXIOS_PC_LIBS ${_nexios_dep_PKG_CONFIG_LIBS})
  list(APPEND NEXIOS_PC_REQUIRES ${_nexios_dep_PKG_CONFIG_REQUIRES})
endmacro()
