// Small helpers shared by the meter sources: sysfs reads, environment, clocks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace pepr::meter {

// The result of reading a small text file (sysfs, /proc): the text, or the errno and a message.
struct FileRead {
  std::optional<std::string> text;
  int error = 0;  // errno when text is empty
  std::string message() const;
};
FileRead read_small_file(const std::string& path);

// Parses an unsigned integer with optional surrounding whitespace; nullopt for anything else.
std::optional<std::uint64_t> parse_u64(const std::string& text);
std::optional<double> parse_double(const std::string& text);
std::string trim(const std::string& s);

// "Key:   1234 kB" in a /proc file (status, meminfo, smaps_rollup): the value of the line that
// starts with `key`, in bytes; nullopt when the line is absent or its value is not a number of kB.
std::optional<double> proc_kb_field(const std::string& text, const std::string& key);

// An environment variable, or nullopt when unset or empty.
std::optional<std::string> env(const char* name);

// Seconds on the steady clock (monotonic), from an arbitrary origin.
double now_s();
// CPU time of the calling thread, seconds.
double thread_cpu_s();

// The first value of `key` in /proc/cpuinfo ("model name", "vendor_id"); empty when absent.
std::string cpuinfo_field(const std::string& key);

// Online logical CPUs.
int online_cpus();
// Installed memory in GB (MemTotal), 0 when unknown.
double mem_total_gb();

}  // namespace pepr::meter
