# Run after the static archive is made (cmake -P, from library.cmake):
# link every object of ARCHIVE into one relocatable object, make its hidden
# symbols (all but VDMZIP_API, thanks to -fvisibility=hidden) local, and make
# the archive of that object alone.  A program linked with libvdmzip.a then
# sees only vdmzip_* and the undefined references to the dependencies, so the
# codec's internal names cannot collide with the program's.
#   -DARCHIVE=... -DLD=... -DOBJCOPY=... -DAR=... -DRANLIB=...
foreach(v ARCHIVE LD OBJCOPY AR)
  if(NOT ${v})
    message(FATAL_ERROR "localize_archive.cmake: ${v} is not set")
  endif()
endforeach()
get_filename_component(_dir "${ARCHIVE}" DIRECTORY)
set(_obj "${_dir}/vdmzip_localized.o")
execute_process(COMMAND "${LD}" -r -o "${_obj}" --whole-archive "${ARCHIVE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ld -r on ${ARCHIVE} failed (${rc})")
endif()
execute_process(COMMAND "${OBJCOPY}" --localize-hidden "${_obj}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "objcopy --localize-hidden failed (${rc})")
endif()
file(REMOVE "${ARCHIVE}")
execute_process(COMMAND "${AR}" rc "${ARCHIVE}" "${_obj}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ar failed (${rc})")
endif()
if(RANLIB)
  execute_process(COMMAND "${RANLIB}" "${ARCHIVE}")
endif()
file(REMOVE "${_obj}")
