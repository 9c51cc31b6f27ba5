#include "core/file_io.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr {

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

FileBytes FileBytes::open(const std::string& path) {
  FileBytes fb;
  fb.path_ = path;
  if (path == "-") {
    fb.owned_.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    fb.data_ = fb.owned_.data();
    fb.size_ = fb.owned_.size();
    return fb;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("{}: cannot open: {}", path, errno_text()));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string e = errno_text();
    ::close(fd);
    throw Error(fmt::format("{}: cannot stat: {}", path, e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("{}: is a directory, not a file", path));
  }
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    void* m = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      ::close(fd);
      ::madvise(m, static_cast<std::size_t>(st.st_size), MADV_SEQUENTIAL);
      fb.map_ = m;
      fb.data_ = static_cast<const char*>(m);
      fb.size_ = static_cast<std::size_t>(st.st_size);
      return fb;
    }
  }
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string e = errno_text();
      ::close(fd);
      throw Error(fmt::format("{}: read failed: {}", path, e));
    }
    if (n == 0) break;
    fb.owned_.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  fb.data_ = fb.owned_.data();
  fb.size_ = fb.owned_.size();
  return fb;
}

FileBytes::FileBytes(FileBytes&& o) noexcept { *this = std::move(o); }

FileBytes& FileBytes::operator=(FileBytes&& o) noexcept {
  if (this == &o) return *this;
  if (map_) ::munmap(map_, size_);
  path_ = std::move(o.path_);
  owned_ = std::move(o.owned_);
  map_ = o.map_;
  size_ = o.size_;
  data_ = map_ ? static_cast<const char*>(map_) : owned_.data();
  o.map_ = nullptr;
  o.data_ = nullptr;
  o.size_ = 0;
  return *this;
}

FileBytes::~FileBytes() {
  if (map_) ::munmap(map_, size_);
}

std::string read_text_file(const std::string& path) {
  FileBytes fb = FileBytes::open(path);
  return std::string(fb.view());
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw Error(fmt::format("{}: cannot create folder: {}", path, ec.message()));
}

namespace {

std::string prefix(const std::string& path, const std::string& what) {
  return what.empty() ? path : fmt::format("{} {}", what, path);
}

// Whether a file can be created in `dir` (an existing folder): access() first, then a real
// probe, since root passes access() on file systems that refuse new files.
bool folder_writable(const std::filesystem::path& dir) {
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return false;
  std::random_device rd;
  const std::string probe =
      (dir / fmt::format(".pepr-write-check.{}.{:x}", ::getpid(), rd())).string();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST;
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

void check_folder(const std::filesystem::path& dir, const std::string& path,
                  const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string shown = dir.string();
  if (!fs::exists(dir, ec))
    throw Error(fmt::format("{}: folder '{}' does not exist", prefix(path, what), shown));
  if (!fs::is_directory(dir, ec))
    throw Error(fmt::format("{}: '{}' is not a folder", prefix(path, what), shown));
  if (!folder_writable(dir))
    throw Error(fmt::format("{}: folder '{}' is not writable", prefix(path, what), shown));
}

}  // namespace

void check_output_path(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  if (path.empty() || path == "-") return;
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw Error(fmt::format("{}: is a folder, not a file", prefix(path, what)));
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  check_folder(dir, path, what);
}

void check_output_folder(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  if (path.empty()) return;
  std::error_code ec;
  fs::path p = fs::path(path);
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec))
      throw Error(fmt::format("{}: exists and is not a folder", prefix(path, what)));
    if (!folder_writable(p))
      throw Error(fmt::format("{}: folder '{}' is not writable", prefix(path, what), path));
    return;
  }
  // The nearest existing parent: make_dirs will create the rest there.
  fs::path dir = fs::absolute(p, ec).lexically_normal();
  while (dir.has_parent_path() && dir != dir.parent_path() && !fs::exists(dir, ec))
    dir = dir.parent_path();
  if (!fs::is_directory(dir, ec))
    throw Error(fmt::format("{}: '{}' is not a folder", prefix(path, what), dir.string()));
  if (!folder_writable(dir))
    throw Error(fmt::format("{}: folder '{}' is not writable", prefix(path, what), dir.string()));
}

void write_file_atomic(const std::string& path, std::string_view content) {
  if (path == "-") {
    std::fwrite(content.data(), 1, content.size(), stdout);
    std::fflush(stdout);
    return;
  }
  std::filesystem::path target(path);
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::random_device rd;
  std::string tmp =
      (dir / fmt::format(".{}.tmp.{}.{:x}", target.filename().string(), ::getpid(), rd()))
          .string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(fmt::format("{}: cannot write: {}", path, errno_text()));
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string e = errno_text();
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(fmt::format("{}: write failed: {}", path, e));
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string e = errno_text();
    ::unlink(tmp.c_str());
    throw Error(fmt::format("{}: write failed: {}", path, e));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string e = errno_text();
    ::unlink(tmp.c_str());
    throw Error(fmt::format("{}: cannot replace: {}", path, e));
  }
}

}  // namespace pepr
