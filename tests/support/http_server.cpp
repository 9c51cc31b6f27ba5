#include "support/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace pepr::test {

namespace {

void send_all(int c, const char* d, std::size_t n) {
  while (n > 0) {
    ssize_t k = ::send(c, d, n, MSG_NOSIGNAL);
    if (k <= 0) return;
    d += k;
    n -= static_cast<std::size_t>(k);
  }
}

void send_all(int c, const std::string& s) {
  send_all(c, s.data(), s.size());
}

}  // namespace

LocalHttpServer::LocalHttpServer() {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { loop(); });
}

LocalHttpServer::~LocalHttpServer() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void LocalHttpServer::serve(const std::string& path, std::string body,
                            std::vector<std::string> headers) {
  std::lock_guard<std::mutex> lk(mu_);
  files_[path] = std::move(body);
  headers_[path] = std::move(headers);
}

void LocalHttpServer::redirect(const std::string& path, const std::string& location,
                               std::vector<std::string> headers) {
  std::lock_guard<std::mutex> lk(mu_);
  redirects_[path] = location;
  headers_[path] = std::move(headers);
}

void LocalHttpServer::cut_after(std::size_t k, int times) {
  std::lock_guard<std::mutex> lk(mu_);
  cut_bytes_ = k;
  cuts_left_ = times;
}

std::vector<std::string> LocalHttpServer::ranges() const {
  std::lock_guard<std::mutex> lk(mu_);
  return ranges_;
}

std::vector<std::string> LocalHttpServer::paths() const {
  std::lock_guard<std::mutex> lk(mu_);
  return paths_;
}

void LocalHttpServer::loop() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) continue;
    handle(c);
    ::close(c);
  }
}

void LocalHttpServer::handle(int c) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos) {
    pollfd p{c, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) return;
    ssize_t n = ::recv(c, buf, sizeof buf, 0);
    if (n <= 0) return;
    req.append(buf, static_cast<std::size_t>(n));
  }
  auto sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
  std::string path = req.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  std::string range;
  std::string lower = req;
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (auto r = lower.find("\r\nrange: "); r != std::string::npos) {
    auto e = lower.find("\r\n", r + 2);
    range = req.substr(r + 9, e - r - 9);
  }
  std::string body, location, extra;
  bool found = false;
  std::size_t cut = std::string::npos;
  {
    std::lock_guard<std::mutex> lk(mu_);
    paths_.push_back(path);
    ranges_.push_back(range);
    if (auto it = headers_.find(path); it != headers_.end())
      for (const auto& h : it->second) extra += h + "\r\n";
    if (auto it = redirects_.find(path); it != redirects_.end()) location = it->second;
    auto it = files_.find(path);
    found = it != files_.end();
    if (found) body = it->second;
    if (found && cuts_left_ > 0) {
      --cuts_left_;
      cut = cut_bytes_;
    }
  }
  if (!location.empty()) {
    send_all(c, "HTTP/1.1 302 Found\r\nLocation: " + base() + location + "\r\n" + extra +
                    "Content-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  if (!found) {
    std::string msg = "not found\n";
    send_all(c, "HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(msg.size()) +
                    "\r\nConnection: close\r\n\r\n" + msg);
    return;
  }
  std::string head;
  std::size_t from = 0;
  if (!range.empty() && !ignore_range_ && range.rfind("bytes=", 0) == 0) {
    from = std::stoull(range.substr(6));
    if (from >= body.size()) {
      send_all(c, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */" +
                      std::to_string(body.size()) +
                      "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(from) + "-" +
           std::to_string(body.size() - 1) + "/" + std::to_string(body.size()) + "\r\n";
  } else {
    head = "HTTP/1.1 200 OK\r\n";
  }
  head += extra + "Content-Length: " + std::to_string(body.size() - from) +
          "\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
  send_all(c, head);
  std::size_t n = std::min(body.size() - from, cut);
  send_all(c, body.data() + from, n);
  if (cut != std::string::npos) ::shutdown(c, SHUT_RDWR);
}

}  // namespace pepr::test
