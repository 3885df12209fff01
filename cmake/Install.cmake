# Install rules (NEXIOS_INSTALL, on when nexios is the top-level project): the public headers
# (with the generated version.hpp), the libraries, a CMake package (find_package(nexios 0.2
# CONFIG), targets nexios::*) and nexios.pc for pkg-config. Tests and examples install nothing.
include(CMakePackageConfigHelpers)

# In link order: each library before the ones it depends on (nexios.pc lists them this way).
set(NEXIOS_INSTALLED_LIBRARIES nexios_redis nexios_resp nexios nexios_ws nexios_http nexios_routing nexios_detail)
set(NEXIOS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nexios)

install(TARGETS ${NEXIOS_INSTALLED_LIBRARIES}
  EXPORT nexiosTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/nexios DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${NEXIOS_GENERATED_INCLUDE_DIR}/nexios/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nexios)
# BSL-1.0 asks for the licence to go with the sources, which the headers are.
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The CMake package: nexiosTargets.cmake (the exported targets), nexiosConfig.cmake (finds the
# dependencies recorded by nexios_dependency(), then includes the targets) and the version file.
install(EXPORT nexiosTargets NAMESPACE nexios:: DESTINATION ${NEXIOS_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nexiosConfig.cmake.in
  ${PROJECT_BINARY_DIR}/nexiosConfig.cmake
  INSTALL_DESTINATION ${NEXIOS_CMAKE_DIR})
# 0.x: a request for 0.2 accepts any 0.2.x, not 0.3 (minor versions may break the API).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nexiosConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/nexiosConfig.cmake ${PROJECT_BINARY_DIR}/nexiosConfigVersion.cmake
  DESTINATION ${NEXIOS_CMAKE_DIR})

# nexios.pc. The prefix is only known at install time (`cmake --install --prefix X`), so the
# configure step leaves @NEXIOS_PC_PREFIX@ in place and the install step fills it in, writing the
# file straight into the prefix (two installs of one build tree to different prefixes can run
# at the same time, as the package tests do).
list(TRANSFORM NEXIOS_PUBLIC_DEFINITIONS PREPEND "-D" OUTPUT_VARIABLE _pc_defs)
list(TRANSFORM NEXIOS_INSTALLED_LIBRARIES PREPEND "-l" OUTPUT_VARIABLE _pc_libs)
string(JOIN " " NEXIOS_PC_CFLAGS ${_pc_defs})
string(JOIN " " NEXIOS_PC_LIBS_LINE ${_pc_libs} ${NEXIOS_PC_LIBS})
string(JOIN " " NEXIOS_PC_REQUIRES_LINE ${NEXIOS_PC_REQUIRES})
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(NEXIOS_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(NEXIOS_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
else()
  set(_pc_dir "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
set(NEXIOS_PC_PREFIX "@NEXIOS_PC_PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/nexios.pc.in ${PROJECT_BINARY_DIR}/nexios.pc.in @ONLY)
install(CODE "
  set(NEXIOS_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(_pc \"\$ENV{DESTDIR}${_pc_dir}/nexios.pc\")
  message(STATUS \"Installing: \${_pc}\")
  configure_file(\"${PROJECT_BINARY_DIR}/nexios.pc.in\" \"\${_pc}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_pc}\")
")
