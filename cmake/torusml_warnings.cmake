# Compiler flags shared by every TorusML target.
#
# torusml_configure_target(<target>) turns on the project's warnings (warning-free with
# -Wall -Wextra is a project rule) and, with TORUSML_SANITIZE, ASan + UBSan.

function(torusml_configure_target target)
  # (-Wnon-virtual-dtor is C++ only; C targets, e.g. the C ABI's test, get the others.)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow
                                           $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>
                                           -Wconversion -Wno-sign-conversion)
  if(TORUSML_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

if(TORUSML_SANITIZE)
  # Sanitized builds keep some optimisation so that the fast tests stay fast.
  set(CMAKE_CXX_FLAGS_RELEASE "-O1 -g" CACHE STRING "" FORCE)
endif()
