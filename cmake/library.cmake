# libvdmzip as installed, like zstd's: a shared library (libvdmzip.so.0) and a
# static archive (libvdmzip.a), each holding every layer, and the install of
# those, the header, vdmzip.pc, the CMake package, the program, the default
# model and the man page.  Included by the top-level CMakeLists.txt once the
# layers and the CLI exist.  The layers stay static libraries for the CLI,
# tests and benchmarks, which use internal headers.

include(GNUInstallDirs)
set(VDM_LAYERS vdm_api vdm_codec vdm_model vdm_ans vdm_kernels vdm_common)
set(VDM_LAYER_OBJECTS "")
foreach(layer IN LISTS VDM_LAYERS)
  list(APPEND VDM_LAYER_OBJECTS $<TARGET_OBJECTS:${layer}>)
endforeach()

# What the layers' code needs from outside.
set(VDM_LIB_DEPS PNG::PNG PkgConfig::ZSTD OpenSSL::Crypto PkgConfig::OPENBLAS Threads::Threads m ${CMAKE_DL_LIBS})
if(VDMZIP_HAVE_CUDA)
  # the .cu objects are C++ (guards, personality routine): a C program that
  # links libvdmzip.a needs libstdc++ as nvcc's host compiler does
  list(APPEND VDM_LIB_DEPS CUDA::cudart_static CUDA::cublas stdc++)
endif()
set(VDM_LIB_INCLUDES $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)

# ---- the shared library ------------------------------------------------------
# Exports vdmzip_* only: the C code is compiled with -fvisibility=hidden (top
# level) and the version script also hides what linked-in archives bring.
add_library(vdmzip_shared SHARED ${VDM_LAYER_OBJECTS})
target_link_libraries(vdmzip_shared PRIVATE ${VDM_LIB_DEPS})
target_include_directories(vdmzip_shared INTERFACE ${VDM_LIB_INCLUDES})
set_target_properties(vdmzip_shared PROPERTIES
  OUTPUT_NAME vdmzip EXPORT_NAME vdmzip LINKER_LANGUAGE C
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/vdmzip.map)
target_link_options(vdmzip_shared PRIVATE
  "LINKER:--version-script=${CMAKE_CURRENT_LIST_DIR}/vdmzip.map" "LINKER:--exclude-libs,ALL")
if(NOT VDMZIP_SANITIZE AND NOT VDMZIP_BUILD_FUZZERS)   # sanitizer runtimes come from the program
  target_link_options(vdmzip_shared PRIVATE "LINKER:--no-undefined")
endif()
add_library(vdmzip::vdmzip ALIAS vdmzip_shared)

# ---- the static archive -------------------------------------------------------
# One relocatable object whose internal symbols are local (localize_archive.cmake),
# where the tools for that exist; else a plain archive of the layers' objects.
add_library(vdmzip_static STATIC ${VDM_LAYER_OBJECTS})
target_link_libraries(vdmzip_static PRIVATE ${VDM_LIB_DEPS})
target_include_directories(vdmzip_static INTERFACE ${VDM_LIB_INCLUDES})
set_target_properties(vdmzip_static PROPERTIES OUTPUT_NAME vdmzip EXPORT_NAME vdmzip_static LINKER_LANGUAGE C)
add_library(vdmzip::vdmzip_static ALIAS vdmzip_static)
option(VDMZIP_LOCALIZE_STATIC "Make the internal symbols of libvdmzip.a local (ld -r + objcopy)" ON)
if(VDMZIP_LOCALIZE_STATIC AND CMAKE_LINKER AND CMAKE_OBJCOPY AND CMAKE_AR)
  add_custom_command(TARGET vdmzip_static POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DARCHIVE=$<TARGET_FILE:vdmzip_static> -DLD=${CMAKE_LINKER}
            -DOBJCOPY=${CMAKE_OBJCOPY} -DAR=${CMAKE_AR} -DRANLIB=${CMAKE_RANLIB}
            -P ${CMAKE_CURRENT_LIST_DIR}/localize_archive.cmake
    COMMENT "Localizing the internal symbols of libvdmzip.a" VERBATIM)
endif()

# ---- pkg-config ---------------------------------------------------------------
# The .pc finds its prefix from its own place (${pcfiledir}), so an installed
# tree can be moved and `cmake --install --prefix P` needs no reconfigure.
set(VDM_PC_REQUIRES_PRIVATE "libpng libzstd libcrypto")
set(VDM_PC_LIBS_PRIVATE "")
if(OPENBLAS_FOUND)
  string(APPEND VDM_PC_REQUIRES_PRIVATE " openblas")
else()
  string(APPEND VDM_PC_LIBS_PRIVATE " -lopenblas")
endif()
if(VDMZIP_HAVE_CUDA)
  string(APPEND VDM_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcublas -lcudart_static -lrt -lstdc++")
endif()
string(APPEND VDM_PC_LIBS_PRIVATE " -lpthread -lm")
if(CMAKE_DL_LIBS)
  string(APPEND VDM_PC_LIBS_PRIVATE " -l${CMAKE_DL_LIBS}")
endif()
string(STRIP "${VDM_PC_LIBS_PRIVATE}" VDM_PC_LIBS_PRIVATE)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(VDM_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(VDM_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(VDM_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  file(RELATIVE_PATH _up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  set(VDM_PC_PREFIX "\${pcfiledir}/${_up}")
  string(REGEX REPLACE "/$" "" VDM_PC_PREFIX "${VDM_PC_PREFIX}")
  set(VDM_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(VDM_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/vdmzip.pc.in ${CMAKE_BINARY_DIR}/vdmzip.pc @ONLY)

# ---- CMake package --------------------------------------------------------------
include(CMakePackageConfigHelpers)
set(VDM_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/vdmzip)
set(VDM_CFG_CUDA_TEXT "")
if(VDMZIP_HAVE_CUDA)
  set(VDM_CFG_CUDA_TEXT ", the CUDA runtime, cuBLAS")
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/vdmzipConfig.cmake.in
  ${CMAKE_BINARY_DIR}/vdmzipConfig.cmake INSTALL_DESTINATION ${VDM_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_DATADIR)
# The SONAME is libvdmzip.so.<major>: the same major version is compatible.
write_basic_package_version_file(${CMAKE_BINARY_DIR}/vdmzipConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)

# ---- install --------------------------------------------------------------------
# The program stays linked to the static layers: train/eval/info use internals
# that the shared library does not export, and a self-contained binary finds
# its model next to itself (PREFIX/bin/../share/vdmzip) via /proc/self/exe.
install(TARGETS vdmzip_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS vdmzip_shared EXPORT vdmzipTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Unspecified
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS vdmzip_static EXPORT vdmzipStaticTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/vdmzip.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_BINARY_DIR}/vdmzip.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(EXPORT vdmzipTargets NAMESPACE vdmzip:: DESTINATION ${VDM_CMAKEDIR})
install(EXPORT vdmzipStaticTargets NAMESPACE vdmzip:: DESTINATION ${VDM_CMAKEDIR})
install(FILES ${CMAKE_BINARY_DIR}/vdmzipConfig.cmake ${CMAKE_BINARY_DIR}/vdmzipConfigVersion.cmake
  DESTINATION ${VDM_CMAKEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/models/default.vdm DESTINATION ${CMAKE_INSTALL_DATADIR}/vdmzip)
install(FILES ${CMAKE_SOURCE_DIR}/man/vdmzip.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
