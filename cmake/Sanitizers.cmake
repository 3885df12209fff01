# NEXIOS_SANITIZE="address,undefined" or "thread" instruments every target in the build.
if(NEXIOS_SANITIZE)
  message(STATUS "nexios: building with -fsanitize=${NEXIOS_SANITIZE}")
  add_compile_options(-fsanitize=${NEXIOS_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${NEXIOS_SANITIZE})
endif()
