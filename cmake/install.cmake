# `cmake --install build --prefix P` and `cpack -G DEB` (README "Install"): the binary, a man page
# generated from the CLI's own help, bash completion, the documentation and the examples.
include(GNUInstallDirs)

set(MHACHECK_MAN_PAGE ${CMAKE_CURRENT_BINARY_DIR}/mhacheck.1)
add_custom_command(
  OUTPUT ${MHACHECK_MAN_PAGE}
  COMMAND ${CMAKE_COMMAND} -DMHACHECK=$<TARGET_FILE:mhacheck> -DVERSION=${PROJECT_VERSION}
          -DOUTPUT=${MHACHECK_MAN_PAGE} -P ${CMAKE_CURRENT_LIST_DIR}/manpage.cmake
  DEPENDS mhacheck ${CMAKE_CURRENT_LIST_DIR}/manpage.cmake
  COMMENT "Generating the man page mhacheck.1 from mhacheck --help")
add_custom_target(mhacheck_man_page ALL DEPENDS ${MHACHECK_MAN_PAGE})

install(TARGETS mhacheck RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${MHACHECK_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/completions/mhacheck.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME mhacheck)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/examples DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The Debian package. dpkg-shlibdeps (package dpkg-dev) turns the libraries the binary links into
# Depends; OpenBLAS (src/forward/blas.cpp) and libzip (src/input/zip_library.cpp) are loaded with
# dlopen when first needed, so they are named by hand, and Graphviz only serves `graph -o x.svg`.
set(CPACK_PACKAGE_NAME mhacheck)
set(CPACK_PACKAGE_VENDOR "mhacheck developers")
set(CPACK_PACKAGE_CONTACT "mhacheck developers <mhacheck@example.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "finds and explains shape errors in PyTorch attention layers, without PyTorch")
set(CPACK_PACKAGE_FILE_NAME_DEFAULT OFF)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libopenblas0, libzip4")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "graphviz")
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
include(CPack)
