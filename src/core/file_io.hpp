// Whole-file reading (memory-mapped where possible) and atomic writing.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace pepr {

// The bytes of a file, mapped read-only when it is a regular file, read otherwise ("-" is stdin).
class FileBytes {
 public:
  static FileBytes open(const std::string& path);
  FileBytes(FileBytes&&) noexcept;
  FileBytes& operator=(FileBytes&&) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  std::string_view view() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  FileBytes() = default;
  std::string path_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
  void* map_ = nullptr;     // mmap'd region, or nullptr
  std::string owned_;       // contents when not mapped
};

// Reads a whole file into a string; throws pepr::Error naming the file on failure.
std::string read_text_file(const std::string& path);

// Writes `content` to `path` atomically: a temporary file in the same folder, flushed to disk,
// then renamed over `path`. Readers see the old file or the new one, never a part. "-" is stdout.
void write_file_atomic(const std::string& path, std::string_view content);

// Creates a folder and its parents; no error if it exists.
void make_dirs(const std::string& path);

// Checks, before any work, that a file can later be written at `path`: its folder exists, is a
// folder and is writable, and `path` is not itself a folder. "-" (stdout) and "" pass. Throws
// pepr::Error "WHAT PATH: folder 'X' does not exist" / "... is not writable" (WHAT names the
// option, e.g. "-o"; may be empty).
void check_output_path(const std::string& path, const std::string& what);

// The same for a folder that is made if absent (make_dirs): `path` is a writable folder, or
// its nearest existing parent is.
void check_output_folder(const std::string& path, const std::string& what);

}  // namespace pepr
