// A one-thread HTTP/1.1 server on 127.0.0.1 for download tests: GET only, one request per
// connection, `Range: bytes=N-` (206), 404 for unknown paths, redirects with extra headers (as
// the Hugging Face hub answers), and a mode that closes the connection after K body bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pepr::test {

class LocalHttpServer {
 public:
  LocalHttpServer();
  ~LocalHttpServer();
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Serves `body` at `path`, with extra response headers ("X-Linked-Etag: \"...\"").
  void serve(const std::string& path, std::string body, std::vector<std::string> headers = {});
  // Answers `path` with 302 Found to `location` (a path on this server), with extra headers, as
  // the Hugging Face hub answers /resolve/ with the file's SHA-256 and a redirect to its CDN.
  void redirect(const std::string& path, const std::string& location,
                std::vector<std::string> headers = {});
  // The next `times` responses send only `k` body bytes, then close the connection.
  void cut_after(std::size_t k, int times);
  void ignore_range(bool v) { ignore_range_ = v; }
  std::vector<std::string> ranges() const;  // the Range header of every request ("" if none)
  std::vector<std::string> paths() const;   // the path of every request

 private:
  void loop();
  void handle(int c);

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ignore_range_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> files_, redirects_;
  std::map<std::string, std::vector<std::string>> headers_;
  std::size_t cut_bytes_ = 0;
  int cuts_left_ = 0;
  std::vector<std::string> ranges_, paths_;
};

}  // namespace pepr::test
