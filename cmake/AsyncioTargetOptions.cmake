include_guard(GLOBAL)

# Warnings and sanitizers for one of our own targets. PRIVATE only: nothing leaks into
# projects that link asyncio, and nothing touches CMAKE_CXX_FLAGS.
#
# The sanitizer flags go to the link step too. The library is static, so its link options
# never reach an executable: call this on every executable that links it (tests, examples,
# bench), or the sanitizer runtime is missing at link time.
function(asyncio_target_options target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
    if(ASYNCIO_WERROR)
        target_compile_options(${target} PRIVATE -Werror)
    endif()
    if(ASYNCIO_SANITIZE)
        set(flags
            -fsanitize=${ASYNCIO_SANITIZE}
            -fno-omit-frame-pointer
            -fno-sanitize-recover=all)
        target_compile_options(${target} PRIVATE ${flags})
        target_link_options(${target} PRIVATE ${flags})
    endif()
endfunction()
