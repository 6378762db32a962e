#pragma once

// asyncio-cpp: Python's asyncio, native in C++20. Include this one header.

#include "asyncio/clock.hpp"
#include "asyncio/errors.hpp"
#include "asyncio/event_loop.hpp"
#include "asyncio/future.hpp"
#include "asyncio/log.hpp"
#include "asyncio/run.hpp"
#include "asyncio/sleep.hpp"
#include "asyncio/task.hpp"
