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
