// pepr's version, from CMake's project(VERSION ...), for records, reports and --version.
#pragma once

namespace pepr {

inline constexpr const char* kVersion = PEPR_VERSION;

}  // namespace pepr
