# Runtime options of a REBOUND_SANITIZE build (included by the top-level
# CMakeLists.txt after every subdirectory). ctest includes the generated
# sanitizer_env.cmake from every directory's CTestTestfile before it runs a
# test, so a plain `ctest` (in the build directory or any subdirectory of it)
# runs every test, and every process a test starts, with these options and
# the suppression files next to this one. Options already in the environment
# are kept and, coming last, win.
if(NOT REBOUND_SANITIZE)
  return()
endif()

set(REBOUND_SANITIZER_DIR ${CMAKE_CURRENT_LIST_DIR})
configure_file(${CMAKE_CURRENT_LIST_DIR}/sanitizer_env.cmake.in
               ${CMAKE_BINARY_DIR}/sanitizer_env.cmake @ONLY)

function(rebound_add_sanitizer_env dir)
  set_property(DIRECTORY ${dir} APPEND PROPERTY TEST_INCLUDE_FILES
               ${CMAKE_BINARY_DIR}/sanitizer_env.cmake)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    rebound_add_sanitizer_env(${sub})
  endforeach()
endfunction()
rebound_add_sanitizer_env(${CMAKE_SOURCE_DIR})

# ThreadSanitizer: every executable gets tsan_absl_mutex.cc and
# tsan_grpc_handoff.cc (why: see those files), exported with -rdynamic so
# that gRPC's and Abseil's own calls bind to them too.
if(REBOUND_SANITIZE MATCHES "thread")
  add_library(rebound_tsan_shims OBJECT ${CMAKE_CURRENT_LIST_DIR}/tsan_absl_mutex.cc
                                        ${CMAKE_CURRENT_LIST_DIR}/tsan_grpc_handoff.cc)
  target_link_libraries(rebound_tsan_shims PUBLIC absl::synchronization gRPC::grpc
                                                  ${CMAKE_DL_LIBS})
  target_compile_options(rebound_tsan_shims PRIVATE ${REBOUND_WARNINGS})
  function(rebound_add_tsan_shims dir)
    get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    foreach(target IN LISTS targets)
      get_target_property(type ${target} TYPE)
      if(type STREQUAL "EXECUTABLE")
        # An object library's objects go into every executable linking it.
        target_link_libraries(${target} PRIVATE rebound_tsan_shims)
        target_link_options(${target} PRIVATE -rdynamic)
      endif()
    endforeach()
    get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    foreach(sub IN LISTS subdirs)
      rebound_add_tsan_shims(${sub})
    endforeach()
  endfunction()
  rebound_add_tsan_shims(${CMAKE_SOURCE_DIR})
endif()
