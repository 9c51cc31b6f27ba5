// MD5 and SHA-256 digests (OpenSSL EVP), incremental or of a whole file.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pepr::data {

enum class DigestAlgo { md5, sha256 };

std::string_view digest_name(DigestAlgo a);  // "MD5", "SHA-256"

class Hasher {
 public:
  explicit Hasher(DigestAlgo a);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;
  void update(const void* data, std::size_t n);
  // Lower-case hex of the digest; the hasher cannot be used afterwards.
  std::string hex();

 private:
  void* ctx_;
};

std::string digest_hex(std::string_view data, DigestAlgo a);
// Streams the file; throws pepr::Error naming it when unreadable.
std::string digest_file(const std::string& path, DigestAlgo a);

}  // namespace pepr::data
