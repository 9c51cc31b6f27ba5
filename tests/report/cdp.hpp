// Test helper: drives headless Chromium through the Chrome DevTools protocol over
// --remote-debugging-pipe (the browser reads commands on fd 3 and writes replies and events on
// fd 4, one JSON message per NUL-terminated record). No network, no extra dependencies.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pepr::test {

class Chromium {
 public:
  // /usr/bin/chromium (or $PEPR_CHROMIUM) when it exists and is executable.
  static std::optional<std::string> find();

  // Starts the browser with a fresh profile in `profile_dir`; its stderr goes to
  // profile_dir/chromium.log. Throws std::runtime_error when it cannot start.
  Chromium(const std::string& binary, const std::filesystem::path& profile_dir);
  ~Chromium();
  Chromium(const Chromium&) = delete;
  Chromium& operator=(const Chromium&) = delete;

  // Sends a command and waits for its reply: the "result" object. Events that arrive meanwhile
  // are kept in events(). Throws std::runtime_error on a protocol error or a timeout.
  nlohmann::json call(const std::string& method, const nlohmann::json& params = {},
                      const std::string& session = "", double timeout_s = 60);
  // Waits for an event of `session` among those from index `from` of events() on (keeping the
  // others). Throws on timeout.
  nlohmann::json wait_event(const std::string& method, const std::string& session, std::size_t from,
                            double timeout_s = 60);

  // A page target with a flat session: the session id.
  std::string open_page();

  const std::vector<nlohmann::json>& events() const { return events_; }
  void clear_events() { events_.clear(); }
  // The last lines of the browser's own log, for failure messages.
  std::string log_tail(std::size_t bytes = 3000) const;

 private:
  std::optional<nlohmann::json> read_message(double timeout_s);

  int pid_ = -1;
  int to_browser_ = -1, from_browser_ = -1;
  int next_id_ = 1;
  std::string buffer_;
  std::vector<nlohmann::json> events_;
  std::filesystem::path log_;
};

// Decodes standard base64 (as in Page.captureScreenshot's data).
std::string base64_decode(const std::string& in);

}  // namespace pepr::test
