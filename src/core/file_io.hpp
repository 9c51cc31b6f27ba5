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

}  // namespace pepr
