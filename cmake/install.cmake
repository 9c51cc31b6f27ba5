# `cmake --install BUILD --prefix PREFIX` installs pepr as a library people can build on:
#   PREFIX/bin/pepr                         the command
#   PREFIX/lib/libpepr_*.a                  the libraries (static)
#   PREFIX/include/pepr/*.hpp               the public API (include/pepr in the source tree)
#   PREFIX/include/pepr/<module>/*.hpp      the module headers the public ones build on
#   PREFIX/lib/cmake/pepr/                  the package: find_package(pepr) gives pepr::core,
#                                           pepr::run, pepr::meter, pepr::report, pepr::data, pepr::sweep,
#                                           pepr::zoo, pepr::weights, and with LibTorch
#                                           pepr::models and pepr::train
# examples/cpp builds against it; tests/install checks that it does.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(pepr_libraries GLOBAL PROPERTY PEPR_INSTALLED_LIBRARIES)
install(TARGETS ${pepr_libraries} EXPORT peprTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS pepr RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY "${CMAKE_SOURCE_DIR}/include/pepr" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The module headers, without the command's own (src/cli).
install(DIRECTORY "${CMAKE_SOURCE_DIR}/src/"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/pepr
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.def"
        PATTERN "cli" EXCLUDE)
install(EXPORT peprTargets NAMESPACE pepr:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pepr)

# What the package's users need found again: the libraries' own dependencies.
set(PEPR_PACKAGE_WITH_TORCH ${PEPR_WITH_TORCH})
set(PEPR_PACKAGE_WITH_CURL ${PEPR_WITH_CURL})
set(PEPR_PACKAGE_TORCH_PREFIX "")
set(PEPR_PACKAGE_TORCH_LIB_DIR "")
if(PEPR_TORCH_FROM_PYTHON)
  set(PEPR_PACKAGE_TORCH_PREFIX "${PEPR_PYTHON_TORCH_PREFIX}")
  set(PEPR_PACKAGE_TORCH_LIB_DIR "${_pepr_torch_lib}")
endif()
configure_package_config_file("${CMAKE_SOURCE_DIR}/cmake/peprConfig.cmake.in"
                              "${CMAKE_BINARY_DIR}/peprConfig.cmake"
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pepr)
write_basic_package_version_file("${CMAKE_BINARY_DIR}/peprConfigVersion.cmake"
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${CMAKE_BINARY_DIR}/peprConfig.cmake" "${CMAKE_BINARY_DIR}/peprConfigVersion.cmake"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/pepr)
