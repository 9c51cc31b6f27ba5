// Small POSIX process helpers for the sweep: the path of the running executable, the host name,
// whether a process is alive. Running a child process is core/subprocess.hpp's.
#pragma once

#include <sys/types.h>

#include <string>

namespace pepr::sweep {

// Whether `program` can be run: a path (with a '/') to an executable file, or a name found as
// one on PATH.
bool find_program(const std::string& program);

// The running executable (/proc/self/exe), or "" when unknown.
std::string self_exe();

std::string host_name();

// True when a process with this id exists (on this host).
bool pid_alive(pid_t pid);

// The file of the BLAS library that provides sgemm_ in this process (resolved through symbolic
// links), or "" when no BLAS is loaded. LibTorch's CPU matrix products run on it, so it decides
// their speed: Debian's libtorch links libblas.so.3, which the alternatives system points at the
// netlib reference implementation unless an optimised one (OpenBLAS, BLIS, MKL) is installed.
std::string loaded_blas();
// True for the netlib reference BLAS (Debian installs it as .../blas/libblas.so.3).
bool is_reference_blas(const std::string& path);

// The UTC time now as 2024-05-01T12:00:00Z.
std::string utc_now();

}  // namespace pepr::sweep
