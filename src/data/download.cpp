#include "data/download.hpp"
#include "core/version.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#ifdef PEPR_WITH_CURL
#include <curl/curl.h>
#endif
#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace pepr::data {

namespace fs = std::filesystem;

namespace {

#ifdef PEPR_WITH_CURL
#ifdef CURL_WRITEFUNC_ERROR
constexpr size_t kAbort = CURL_WRITEFUNC_ERROR;
#else
constexpr size_t kAbort = 0xFFFFFFFF;
#endif
#endif

#ifdef PEPR_WITH_CURL
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}
#endif

[[maybe_unused]] std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

[[maybe_unused]] std::uint64_t file_size_or_zero(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

#ifdef PEPR_WITH_CURL
// State of one HTTP request.
struct Transfer {
  CURL* curl = nullptr;
  std::FILE* file = nullptr;
  std::string part;
  std::uint64_t offset = 0;  // bytes in the .part file before this request
  std::uint64_t written = 0;
  bool started = false;  // the first body byte was seen and the status checked
  long status = 0;
  bool restart = false;    // the server ignored the Range request: start over
  bool bad_range = false;  // 206 with a Content-Range not starting at `offset`
  std::int64_t range_start = -1;
  std::string error;          // a local error that aborted the transfer
  std::string header_digest;  // the value of opt->digest_header, when a response had it
  const DownloadOptions* opt = nullptr;
};

// A digest header's value without quotes or a weak-validator prefix: W/"abc" -> abc.
std::string header_value(std::string v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  std::size_t i = 0;
  while (i < v.size() && std::isspace(static_cast<unsigned char>(v[i]))) ++i;
  v = v.substr(i);
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return lower(v);
}

size_t on_header(char* buf, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  std::string line(buf, size * n);
  std::string l = lower(line);
  if (l.rfind("http/", 0) == 0) t->range_start = -1;  // a new response (redirects)
  if (!t->opt->digest_header.empty()) {
    const std::string name = lower(t->opt->digest_header) + ":";
    if (l.rfind(name, 0) == 0) t->header_digest = header_value(line.substr(name.size()));
  }
  if (l.rfind("content-range:", 0) == 0) {
    auto p = l.find("bytes");
    if (p != std::string::npos) {
      p += 5;
      while (p < l.size() && l[p] == ' ') ++p;
      t->range_start = std::strtoll(l.c_str() + p, nullptr, 10);
    }
  }
  return size * n;
}

size_t on_body(char* buf, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const size_t bytes = size * n;
  if (!t->started) {
    t->started = true;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->status >= 400) return kAbort;  // no error page in the .part file
    if (t->offset > 0) {
      if (t->status == 206) {
        if (t->range_start != static_cast<std::int64_t>(t->offset)) {
          t->bad_range = true;
          return kAbort;
        }
      } else {  // 200: the whole file again
        t->restart = true;
        t->offset = 0;
        if (std::fflush(t->file) != 0 || ::ftruncate(::fileno(t->file), 0) != 0 ||
            std::fseek(t->file, 0, SEEK_SET) != 0) {
          t->error = fmt::format("{}: cannot truncate: {}", t->part, std::strerror(errno));
          return kAbort;
        }
      }
    }
  }
  if (std::fwrite(buf, 1, bytes, t->file) != bytes) {
    t->error = fmt::format("{}: write failed: {}", t->part, std::strerror(errno));
    return kAbort;
  }
  t->written += bytes;
  return bytes;
}

int on_progress(void* ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(ud);
  if (t->opt->progress && t->started && t->status < 400) {
    std::uint64_t total = dltotal > 0 ? t->offset + static_cast<std::uint64_t>(dltotal) : 0;
    t->opt->progress(t->offset + static_cast<std::uint64_t>(std::max<curl_off_t>(dlnow, 0)), total);
  }
  return 0;
}

enum class Outcome { done, retry, range_not_satisfiable };

Outcome one_request(const DownloadOptions& opt, const std::string& part, std::uint64_t offset,
                    int attempt, int max_attempts, int& resumes, std::string& header_digest) {
  Transfer t;
  t.opt = &opt;
  t.part = part;
  t.offset = offset;
  t.file = std::fopen(part.c_str(), offset > 0 ? "ab" : "wb");
  if (!t.file) throw Error(fmt::format("{}: cannot write: {}", part, std::strerror(errno)));
  t.curl = curl_easy_init();
  if (!t.curl) {
    std::fclose(t.file);
    throw Error("libcurl: cannot create a handle");
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::string range;
  curl_easy_setopt(t.curl, CURLOPT_URL, opt.url.c_str());
  curl_easy_setopt(t.curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(t.curl, CURLOPT_MAXREDIRS, 10L);
  static const std::string agent = std::string("pepr/") + kVersion + " (+libcurl)";
  curl_easy_setopt(t.curl, CURLOPT_USERAGENT, agent.c_str());
  curl_easy_setopt(t.curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(t.curl, CURLOPT_CONNECTTIMEOUT, opt.connect_timeout_s);
  curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_TIME, opt.low_speed_time_s);
  curl_easy_setopt(t.curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t.curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(t.curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(t.curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(t.curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(t.curl, CURLOPT_NOPROGRESS, 0L);
  if (offset > 0) {
    // A plain Range header (not CURLOPT_RESUME_FROM): a server that ignores it and answers 200
    // is handled in on_body by starting over.
    range = fmt::format("{}-", offset);
    curl_easy_setopt(t.curl, CURLOPT_RANGE, range.c_str());
  }
  CURLcode rc = curl_easy_perform(t.curl);
  long status = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(t.curl);
  bool close_ok = std::fflush(t.file) == 0 && ::fsync(::fileno(t.file)) == 0;
  close_ok = std::fclose(t.file) == 0 && close_ok;
  if (!t.header_digest.empty()) header_digest = t.header_digest;
  if (!t.error.empty()) throw Error(t.error);
  if (t.started && t.status == 206 && !t.bad_range) ++resumes;
  if (!close_ok) throw Error(fmt::format("{}: write failed: {}", part, std::strerror(errno)));
  if (status == 416 && offset > 0) return Outcome::range_not_satisfiable;
  if (status >= 400) {
    if (offset == 0) std::remove(part.c_str());
    if (status >= 500 && attempt < max_attempts) return Outcome::retry;
    throw Error(fmt::format("{}: HTTP {} {}", opt.url, status,
                            status == 404 ? "(not found)" : "(server refused the download)"));
  }
  if (t.bad_range) {
    std::remove(part.c_str());  // the server sent another range: start over
    if (attempt < max_attempts) return Outcome::retry;
    throw Error(
        fmt::format("{}: the server answered the resume request with a different "
                    "range",
                    opt.url));
  }
  if (rc == CURLE_OK) return Outcome::done;
  // Interrupted transfers (connection closed early, timeouts, resets) are resumed.
  bool transient = rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR ||
                   rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
                   rc == CURLE_SEND_ERROR || rc == CURLE_COULDNT_CONNECT ||
                   rc == CURLE_HTTP2_STREAM || rc == CURLE_SSL_CONNECT_ERROR;
  std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (transient && attempt < max_attempts) return Outcome::retry;
  // Nothing received: no empty .part is left behind, and a server that cannot be reached says so.
  if (file_size_or_zero(part) == 0) std::remove(part.c_str());
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
      rc == CURLE_COULDNT_RESOLVE_PROXY)
    throw Error(fmt::format("{}: cannot connect ({}){}", opt.url, why,
                            file_size_or_zero(part) > 0
                                ? fmt::format("; the {} bytes in {} are kept for the next attempt",
                                              file_size_or_zero(part), part)
                                : std::string()));
  if (transient) {
    throw Error(
        fmt::format("{}: transfer interrupted ({}); {} bytes are kept in {} and the next "
                    "attempt resumes from there",
                    opt.url, why, file_size_or_zero(part), part));
  }
  throw Error(fmt::format("{}: download failed: {}", opt.url, why));
}

#endif  // PEPR_WITH_CURL

}  // namespace

std::string apply_base_override(const std::string& url, std::string_view default_base,
                                const char* env_var) {
  const char* v = env_var ? std::getenv(env_var) : nullptr;
  if (!v || !*v || url.rfind(default_base, 0) != 0) return url;
  std::string base(v);
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string rest = url.substr(default_base.size());
  if (!rest.empty() && rest.front() != '/') rest.insert(rest.begin(), '/');
  return base + rest;
}

DownloadResult download_file(const DownloadOptions& opt) {
#ifndef PEPR_WITH_CURL
  throw Error(
      fmt::format("{}: this pepr was built without downloads (PEPR_WITH_CURL=OFF); "
                  "fetch the file by other means and pass its path",
                  opt.url));
#else
  global_init();
  if (opt.dest.empty()) throw Error("download: no destination given");
  fs::path dest(opt.dest);
  if (dest.has_parent_path()) make_dirs(dest.parent_path().string());
  const std::string part = opt.dest + ".part";
  DownloadResult res;
  res.path = opt.dest;
  res.algo = opt.expected ? opt.expected->algo : opt.compute;
  res.resumed_from = file_size_or_zero(part);
  const int max_attempts = 1 + std::max(opt.retries, 0);
  bool fresh_after_416 = false;
  std::string header_digest;
  for (int attempt = 1;; ++attempt) {
    res.attempts = attempt;
    std::uint64_t offset = file_size_or_zero(part);
    Outcome o = one_request(opt, part, offset, attempt, max_attempts, res.resumes, header_digest);
    if (o == Outcome::retry) {
      std::this_thread::sleep_for(std::chrono::milliseconds(opt.retry_delay_ms * attempt));
      continue;
    }
    if (o == Outcome::range_not_satisfiable) {
      // The .part may already be complete: keep it if it verifies, else start over once.
      if (opt.expected && !fresh_after_416 &&
          lower(opt.expected->hex) == digest_file(part, opt.expected->algo)) {
        break;
      }
      std::remove(part.c_str());
      if (fresh_after_416) {
        throw Error(
            fmt::format("{}: the server refused to resume (HTTP 416); the partial file "
                        "was removed, try again",
                        opt.url));
      }
      fresh_after_416 = true;
      continue;
    }
    break;
  }
  res.digest_hex = digest_file(part, res.algo);
  res.bytes = file_size_or_zero(part);
  std::optional<std::string> want;
  if (opt.expected) {
    want = lower(opt.expected->hex);
    res.verified_against = "expected";
  } else if (!header_digest.empty()) {
    want = header_digest;
    res.verified_against = opt.digest_header;
  }
  if (want) {
    if (*want != res.digest_hex) {
      std::remove(part.c_str());
      throw Error(fmt::format(
          "{}: {} mismatch: expected {}{}, got {} ({} bytes); the download was discarded", opt.url,
          digest_name(res.algo), *want,
          opt.expected ? "" : fmt::format(" (the server's {})", opt.digest_header), res.digest_hex,
          res.bytes));
    }
    res.verified = true;
  }
  if (std::rename(part.c_str(), opt.dest.c_str()) != 0) {
    throw Error(fmt::format("{}: cannot rename from {}: {}", opt.dest, part, std::strerror(errno)));
  }
  return res;
#endif
}

}  // namespace pepr::data
