#include "data/npz.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace pepr::data {

namespace {
std::string member_name(std::string_view key) {
  std::string k(key);
  if (k.size() < 4 || k.substr(k.size() - 4) != ".npy") k += ".npy";
  return k;
}
}  // namespace

NpzFile NpzFile::open(const std::string& path) {
  NpzFile f;
  f.path_ = path;
  f.bytes_ = std::make_unique<FileBytes>(FileBytes::open(path));
  f.zip_ = std::make_unique<ZipReader>(f.bytes_->view(), path);
  return f;
}

NpzFile NpzFile::from_memory(std::string bytes, const std::string& name) {
  NpzFile f;
  f.path_ = name;
  f.owned_ = std::make_unique<std::string>(std::move(bytes));
  f.zip_ = std::make_unique<ZipReader>(*f.owned_, name);
  return f;
}

NpzFile::NpzFile(NpzFile&&) noexcept = default;
NpzFile& NpzFile::operator=(NpzFile&&) noexcept = default;
NpzFile::~NpzFile() = default;

std::vector<std::string> NpzFile::keys() const {
  std::vector<std::string> out;
  for (const auto& e : zip_->entries()) {
    std::string n = e.name;
    if (n.size() > 4 && n.substr(n.size() - 4) == ".npy") n.resize(n.size() - 4);
    out.push_back(n);
  }
  return out;
}

bool NpzFile::has(std::string_view key) const {
  return zip_->find(member_name(key)) != nullptr;
}

const ZipEntry& NpzFile::entry(std::string_view key) const {
  const ZipEntry* e = zip_->find(member_name(key));
  if (!e) {
    std::string have;
    for (const auto& k : keys()) have += (have.empty() ? "" : ", ") + k;
    throw Error(fmt::format("{}: missing member '{}' (the archive holds: {})", path_,
                            member_name(key), have.empty() ? "nothing" : have));
  }
  return *e;
}

NpyHeader NpzFile::header(std::string_view key) const {
  const ZipEntry& e = entry(key);
  std::string what = fmt::format("{}: member {}", path_, e.name);
  std::vector<std::uint8_t> head = zip_->extract_prefix(e, 65536 + 16);
  NpyHeader h = parse_npy_header(
      std::string_view(reinterpret_cast<const char*>(head.data()), head.size()), what);
  std::uint64_t payload = e.uncompressed_size - h.data_offset;
  if (h.data_offset > e.uncompressed_size || payload != h.nbytes) {
    throw Error(
        fmt::format("{}: shape {} of dtype '{}' needs {} bytes of data but the member holds {}{}",
                    what, shape_string(h.shape), h.dtype.descr, h.nbytes,
                    h.data_offset > e.uncompressed_size ? 0 : payload,
                    h.nbytes > payload ? " (absurd shape or truncated member)" : ""));
  }
  return h;
}

void NpzFile::verify() const {
  for (const auto& e : zip_->entries()) zip_->verify(e);
}

NpyArray NpzFile::read(std::string_view key) const {
  header(key);  // validates the shape against the declared size before allocating
  const ZipEntry& e = entry(key);
  return parse_npy(zip_->extract(e), fmt::format("{}: member {}", path_, e.name));
}

std::string npz_bytes(const std::vector<NpzMember>& members, bool compress) {
  ZipWriter w;
  for (const auto& m : members) {
    w.add(member_name(m.key), npy_bytes(m.descr, m.shape, m.data), compress);
  }
  return w.finish();
}

void write_npz(const std::string& path, const std::vector<NpzMember>& members, bool compress) {
  write_file_atomic(path, npz_bytes(members, compress));
}

}  // namespace pepr::data
