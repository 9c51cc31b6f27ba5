#include "meter/tegrastats.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "meter/util.hpp"

namespace pepr::meter {

namespace {

// "5000mW" or "5000": the mW figure; nullopt for anything else ("3964MB", "0%").
std::optional<double> milliwatts(std::string_view s) {
  if (s.size() > 2 && s.substr(s.size() - 2) == "mW") s.remove_suffix(2);
  if (s.empty() || s.size() > 9) return std::nullopt;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  return std::stod(std::string(s));
}

bool rail_name(const std::string& s) {
  if (s.empty() || s.size() > 40) return false;
  bool upper = false;
  for (char c : s) {
    if (!(std::isupper(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
      return false;
    upper = upper || std::isupper(static_cast<unsigned char>(c));
  }
  return upper;
}

}  // namespace

std::vector<std::pair<std::string, double>> parse_tegrastats_line(const std::string& line) {
  std::vector<std::string> tokens;
  std::istringstream in(line);
  for (std::string t; in >> t;) tokens.push_back(t);
  std::vector<std::pair<std::string, double>> out;
  for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& v = tokens[i + 1];
    const auto slash = v.find('/');
    if (!rail_name(tokens[i]) || slash == std::string::npos) continue;
    const std::string_view cur = std::string_view(v).substr(0, slash);
    const std::string_view avg = std::string_view(v).substr(slash + 1);
    // Both in mW, written the same way: "RAM 2000/3964MB" is not a rail.
    const bool cur_mw = cur.ends_with("mW"), avg_mw = avg.ends_with("mW");
    const auto c = milliwatts(cur), a = milliwatts(avg);
    if (!c || !a || cur_mw != avg_mw) continue;
    out.emplace_back(tokens[i], *c * 1e-3);
    ++i;
  }
  return out;
}

std::string find_tegrastats() {
  if (auto e = env("PEPR_TEGRASTATS")) return *e == "off" ? std::string() : *e;
  const auto path = env("PATH").value_or("/usr/bin:/bin");
  std::istringstream dirs(path);
  for (std::string d; std::getline(dirs, d, ':');) {
    const std::string f = (d.empty() ? "." : d) + "/tegrastats";
    if (::access(f.c_str(), X_OK) == 0) return f;
  }
  return {};
}

std::shared_ptr<TegrastatsFeed> TegrastatsFeed::start(const std::string& program, int interval_ms,
                                                      double first_line_s, std::string& why) {
  std::shared_ptr<TegrastatsFeed> f(new TegrastatsFeed());
  f->program_ = program;
  f->interval_s_ = interval_ms / 1000.0;
  SpawnOptions o;
  o.output = SpawnOptions::Output::separate;
  o.null_stdin = true;
  o.die_with_parent = true;
  try {
    f->child_ = Subprocess::spawn({program, "--interval", std::to_string(interval_ms)}, o);
  } catch (const std::exception& e) {
    why = fmt::format("{}: {}", program, e.what());
    return nullptr;
  }
  if (f->child_.exec_error() != 0) {
    why = fmt::format("{}: cannot run it ({})", program, std::strerror(f->child_.exec_error()));
    return nullptr;
  }
  f->child_.close_err();
  f->reader_ = std::thread([p = f.get()] { p->read_lines(); });
  std::unique_lock<std::mutex> lock(f->m_);
  f->first_.wait_for(lock, std::chrono::duration<double>(first_line_s),
                     [&] { return !f->order_.empty() || f->ended_; });
  if (f->order_.empty()) {
    why = fmt::format("{} printed no power rails within {:g} s{}", program, first_line_s,
                      f->ended_ ? " (it exited)" : "");
    lock.unlock();
    return nullptr;  // the destructor stops it
  }
  return f;
}

void TegrastatsFeed::read_lines() {
  std::string pending;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(child_.out_fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
      const auto rails = parse_tegrastats_line(pending.substr(0, nl));
      pending.erase(0, nl + 1);
      if (rails.empty()) continue;
      std::lock_guard<std::mutex> lock(m_);
      for (const auto& [name, w] : rails) latest_[name] = w;
      if (order_.empty())
        for (const auto& r : rails) order_.push_back(r.first);
      last_line_t_ = now_s();
      first_.notify_all();
    }
    if (pending.size() > (1u << 16)) pending.clear();  // no newline in 64 KiB: not tegrastats
  }
  std::lock_guard<std::mutex> lock(m_);
  ended_ = true;
  first_.notify_all();
}

TegrastatsFeed::~TegrastatsFeed() {
  if (!child_.reaped()) {
    child_.kill(SIGTERM);
    child_.wait();
  }
  if (reader_.joinable()) reader_.join();
}

std::optional<double> TegrastatsFeed::power_w(const std::string& rail, std::string& why) const {
  std::lock_guard<std::mutex> lock(m_);
  const double quiet = now_s() - last_line_t_;
  if (ended_) {
    why = fmt::format("{} has stopped", program_);
    return std::nullopt;
  }
  if (quiet > 3 * interval_s_ + 0.5) {
    why = fmt::format("{} printed nothing for {:.1f} s", program_, quiet);
    return std::nullopt;
  }
  const auto it = latest_.find(rail);
  if (it == latest_.end()) {
    why = fmt::format("{}'s lines have no rail {}", program_, rail);
    return std::nullopt;
  }
  return it->second;
}

std::vector<std::string> TegrastatsFeed::rails() const {
  std::lock_guard<std::mutex> lock(m_);
  return order_;
}

}  // namespace pepr::meter
