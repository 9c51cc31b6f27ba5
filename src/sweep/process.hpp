// Small POSIX process helpers for the sweep: the path of the running executable, whether a process
// is alive. Running a child process is core/subprocess.hpp's; what a run records about the machine
// (host, BLAS, time) is run/environment.hpp's.
#pragma once

#include <sys/types.h>

#include <string>

namespace pepr::sweep {

// Whether `program` can be run: a path (with a '/') to an executable file, or a name found as
// one on PATH.
bool find_program(const std::string& program);

// The running executable (/proc/self/exe), or "" when unknown.
std::string self_exe();

// True when a process with this id exists (on this host).
bool pid_alive(pid_t pid);

}  // namespace pepr::sweep
