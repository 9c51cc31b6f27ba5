#include "data/digest.hpp"

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>

#include "core/error.hpp"

namespace pepr::data {

std::string_view digest_name(DigestAlgo a) {
  return a == DigestAlgo::md5 ? "MD5" : "SHA-256";
}

Hasher::Hasher(DigestAlgo a) : ctx_(EVP_MD_CTX_new()) {
  auto* c = static_cast<EVP_MD_CTX*>(ctx_);
  if (!c || EVP_DigestInit_ex(c, a == DigestAlgo::md5 ? EVP_md5() : EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(c);
    throw Error(fmt::format("OpenSSL: cannot initialise {}", digest_name(a)));
  }
}

Hasher::~Hasher() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Hasher::update(const void* data, std::size_t n) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n) != 1) {
    throw Error("OpenSSL: digest update failed");
  }
}

std::string Hasher::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &len) != 1) {
    throw Error("OpenSSL: digest final failed");
  }
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

std::string digest_hex(std::string_view data, DigestAlgo a) {
  Hasher h(a);
  h.update(data.data(), data.size());
  return h.hex();
}

std::string digest_file(const std::string& path, DigestAlgo a) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  Hasher h(a);
  std::vector<char> buf(1 << 20);
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) h.update(buf.data(), n);
  if (std::ferror(f.get())) throw Error(fmt::format("{}: read failed", path));
  return h.hex();
}

}  // namespace pepr::data
