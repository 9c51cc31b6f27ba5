// A generic resumable HTTP(S) downloader (libcurl) with digest verification: for datasets now,
// model weights later. The file is written to DEST.part and renamed to DEST only after the
// digest verifies; an interrupted transfer leaves DEST.part, which the next call resumes with an
// HTTP Range request.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "data/digest.hpp"

namespace pepr::data {

struct ExpectedDigest {
  DigestAlgo algo = DigestAlgo::md5;
  std::string hex;  // lower- or upper-case hex
};

struct DownloadOptions {
  std::string url;
  std::string dest;                        // final path; DEST.part while downloading
  std::optional<ExpectedDigest> expected;  // none: the digest is computed and reported only
  DigestAlgo compute = DigestAlgo::md5;    // what to compute when `expected` is absent
  // A response header carrying the server's digest of the file (algorithm `compute`), e.g.
  // "X-Linked-Etag", which the Hugging Face hub sends with the SHA-256 of an LFS file. When
  // `expected` is absent and a response (redirects included) has it, the file is verified
  // against it.
  std::string digest_header;
  int retries = 3;            // automatic resumptions after an interrupted transfer
  int retry_delay_ms = 1000;  // multiplied by the attempt number
  long connect_timeout_s = 30;
  long low_speed_time_s = 60;  // abort when below 1 byte/s for this long (then resume)
  // Called with (bytes on disk, total bytes or 0 when unknown) as data arrives.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct DownloadResult {
  std::string path;        // == dest
  std::string digest_hex;  // the computed digest (algo of `expected`, else `compute`)
  DigestAlgo algo = DigestAlgo::md5;
  bool verified = false;           // an expected digest was given and matched
  std::string verified_against;    // "expected" or the digest header's name, when verified
  std::uint64_t bytes = 0;         // file size
  std::uint64_t resumed_from = 0;  // bytes already in DEST.part when this call began
  int attempts = 0;                // HTTP requests made
  int resumes = 0;                 // requests answered with the rest of a partial file (206)
};

// Downloads `url` to `dest`. Throws pepr::Error naming the URL for: HTTP errors (404 ...), a
// digest mismatch (DEST.part is removed), transfers still interrupted after `retries`
// resumptions (DEST.part is kept for the next call), local write failures.
DownloadResult download_file(const DownloadOptions& opt);

// `url` with its prefix `default_base` replaced by the value of the environment variable
// `env_var` when that is set and non-empty (for mirrors and for tests).
std::string apply_base_override(const std::string& url, std::string_view default_base,
                                const char* env_var);

}  // namespace pepr::data
