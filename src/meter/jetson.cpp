#include "meter/jetson.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "meter/util.hpp"

namespace pepr::meter {

namespace fs = std::filesystem;

namespace {

// The folders of `dir` whose names start with `prefix`, sorted.
std::vector<fs::path> subdirs(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0 && e.is_directory(ec))
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// A rail's name file: the name, or the rail with its problem; nullopt when the channel has none.
std::optional<JetsonRail> named_rail(const fs::path& name_file) {
  const FileRead r = read_small_file(name_file.string());
  if (!r.text && r.error == ENOENT) return std::nullopt;
  JetsonRail rail;
  if (!r.text) {
    rail.name = name_file.filename().string();
    rail.problem = fmt::format("{}: {}", name_file.string(), r.message());
    return rail;
  }
  rail.name = trim(*r.text);
  if (rail.name.empty() || rail.name == "NC") return std::nullopt;  // not connected
  return rail;
}

// Older L4T: NVIDIA's ina3221x IIO driver, power in mW per channel 0-2.
std::vector<JetsonRail> iio_rails(const fs::path& root) {
  std::vector<JetsonRail> out;
  for (const auto& sensor : subdirs(root / "bus/i2c/drivers/ina3221x", ""))
    for (const auto& dev : subdirs(sensor, "iio:device"))
      for (int ch = 0; ch < 4; ++ch)
        if (auto rail = named_rail(dev / fmt::format("rail_name_{}", ch))) {
          rail->power_file = (dev / fmt::format("in_power{}_input", ch)).string();
          out.push_back(*rail);
        }
  return out;
}

// L4T 34 and later: the kernel's ina3221 hwmon driver, bus voltage and current per channel 1-3.
std::vector<JetsonRail> hwmon_rails(const fs::path& root) {
  std::vector<JetsonRail> out;
  for (const auto& dir : subdirs(root / "class/hwmon", "hwmon")) {
    const FileRead name = read_small_file((dir / "name").string());
    if (!name.text || trim(*name.text) != "ina3221") continue;
    for (int ch = 1; ch <= 3; ++ch)
      if (auto rail = named_rail(dir / fmt::format("in{}_label", ch))) {
        rail->volt_file = (dir / fmt::format("in{}_input", ch)).string();
        rail->curr_file = (dir / fmt::format("curr{}_input", ch)).string();
        out.push_back(*rail);
      }
  }
  return out;
}

std::optional<double> read_number(const std::string& path, std::string& why) {
  const FileRead r = read_small_file(path);
  if (!r.text) {
    why = fmt::format("{}: {}", path, r.message());
    return std::nullopt;
  }
  auto v = parse_double(*r.text);
  if (!v) why = fmt::format("{}: not a number ('{}')", path, trim(*r.text));
  return v;
}

bool impossible(double w) {
  return !std::isfinite(w) || w < 0 || w > JetsonSource::kMaxWatts;
}

bool has(const std::string& s, const char* part) {
  return s.find(part) != std::string::npos;
}

// What a rail measures: the board, a GPU, a CPU (or a part of the board's input).
std::string rail_kind(const JetsonRail& r, bool part) {
  std::string n = r.name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::toupper(c); });
  if (r.board_input()) return "board";
  if (has(n, "GPU") && !has(n, "CPU")) return "gpu";
  if (has(n, "CPU")) return part ? "cpu-part" : "cpu";
  return part ? "board-part" : "board";
}

}  // namespace

bool JetsonRail::board_input() const {
  return name == "VDD_IN" || name == "POM_5V_IN" || name == "5V_IN";
}

std::size_t JetsonScan::readable() const {
  return static_cast<std::size_t>(
      std::count_if(rails.begin(), rails.end(), [](const JetsonRail& r) { return r.readable; }));
}

std::string jetson_sysfs_root() {
  return env("PEPR_JETSON_SYSFS_ROOT").value_or("/sys");
}

std::optional<double> read_rail_w(const JetsonRail& rail, std::string& why) {
  if (rail.feed) return rail.feed->power_w(rail.name, why);
  if (!rail.power_file.empty()) {
    auto mw = read_number(rail.power_file, why);
    return mw ? std::optional<double>(*mw * 1e-3) : std::nullopt;
  }
  auto mv = read_number(rail.volt_file, why);
  if (!mv) return std::nullopt;
  auto ma = read_number(rail.curr_file, why);
  if (!ma) return std::nullopt;
  return *mv * *ma * 1e-6;
}

JetsonScan scan_jetson(const std::string& root) {
  JetsonScan s;
  s.root = root;
  s.rails = iio_rails(root);
  s.layout = s.rails.empty() ? "" : "ina3221x (iio)";
  if (s.rails.empty()) {
    s.rails = hwmon_rails(root);
    if (!s.rails.empty()) s.layout = "ina3221 (hwmon)";
  }
  std::string first_problem;
  for (auto& r : s.rails) {
    if (r.problem.empty()) {
      std::string why;
      r.power_w = read_rail_w(r, why);
      if (r.power_w && impossible(*r.power_w))
        why = fmt::format("impossible reading {:g} W", *r.power_w), r.power_w.reset();
      r.readable = r.power_w.has_value();
      r.problem = why;
    }
    if (!r.readable && first_problem.empty()) first_problem = r.problem;
  }
  if (s.rails.empty())
    s.problem = fmt::format(
        "no INA3221 rails under {}/bus/i2c/drivers/ina3221x or {}/class/hwmon (not a Jetson, or "
        "one without INA3221 monitors such as the Nano 2GB)",
        root, root);
  else if (s.readable() == 0)
    s.problem =
        fmt::format("INA3221 rails not readable ({}): run as root or add the user to the i2c group",
                    first_problem);
  return s;
}

JetsonScan scan_tegrastats(const std::string& program, int interval_ms) {
  JetsonScan s;
  s.root = program;
  std::string why;
  const auto feed =
      TegrastatsFeed::start(program, interval_ms, 2.0 + 3 * interval_ms / 1000.0, why);
  if (!feed) {
    s.problem = why;
    return s;
  }
  s.layout = "tegrastats";
  for (const auto& name : feed->rails()) {
    JetsonRail r;
    r.name = name;
    r.feed = feed;
    std::string problem;
    r.power_w = feed->power_w(name, problem);
    if (r.power_w && impossible(*r.power_w))
      problem = fmt::format("impossible reading {:g} W", *r.power_w), r.power_w.reset();
    r.readable = r.power_w.has_value();
    r.problem = problem;
    s.rails.push_back(std::move(r));
  }
  if (s.readable() == 0) s.problem = fmt::format("{} gave no readable rail", program);
  return s;
}

JetsonScan scan_jetson_or_tegrastats(const std::string& root) {
  JetsonScan sysfs = scan_jetson(root);
  if (sysfs.readable() > 0) return sysfs;
  const std::string program = find_tegrastats();
  if (program.empty()) return sysfs;
  JetsonScan t = scan_tegrastats(program);
  if (t.readable() > 0) return t;
  sysfs.problem += fmt::format("; tegrastats: {}", t.problem);
  return sysfs;
}

SourceChoice choose_jetson(const std::string& root) {
  SourceChoice c;
  const JetsonScan scan = scan_jetson_or_tegrastats(root.empty() ? jetson_sysfs_root() : root);
  auto src = std::make_unique<JetsonSource>(scan);
  if (src->empty()) {
    c.status = scan.problem;
    return c;
  }
  for (const auto& r : scan.rails)
    if (!r.readable)
      c.notes.push_back(fmt::format(
          "Jetson rail {} skipped: {}{}", r.name, r.problem,
          r.board_input() ? "; the total is the sum of the other rails, which miss part of the "
                            "board"
                          : ""));
  c.status = scan.layout == "tegrastats" ? fmt::format("used: tegrastats ({})", scan.root)
                                         : fmt::format("used: {} under {}", scan.layout, scan.root);
  c.covers_cpu = true;
  c.source = std::move(src);
  return c;
}

JetsonSource::JetsonSource(const JetsonScan& scan) {
  const bool has_total = std::any_of(scan.rails.begin(), scan.rails.end(),
                                     [](const auto& r) { return r.readable && r.board_input(); });
  for (const auto& r : scan.rails) {
    if (!r.readable) continue;
    const bool part = has_total && !r.board_input();
    Component c;
    c.name = "jetson." + r.name;
    c.kind = rail_kind(r, part);
    c.method = r.feed ? "jetson-tegrastats" : "jetson-ina3221";
    c.source = r.feed                 ? r.feed->program() + " (its lines, sample and hold)"
               : r.power_file.empty() ? r.volt_file + " x " + r.curr_file
                                      : r.power_file;
    c.in_total = !part;
    components_.push_back(c);
    rails_.emplace_back(r);
  }
}

std::optional<double> JetsonSource::read(Rail& r) {
  std::string why;
  auto w = read_rail_w(r.rail, why);
  if (!w) {
    ++r.failed, r.last_error = why;
    return std::nullopt;
  }
  if (impossible(*w)) {
    ++r.rejected, r.last_rejected = fmt::format("{:g} W", *w);
    return std::nullopt;
  }
  return w;
}

void JetsonSource::begin(const SampleContext& ctx) {
  for (auto& r : rails_) {
    r = Rail(r.rail);
    if (auto w = read(r)) r.last_w = *w, r.last_t = ctx.t_s, r.have_last = true;
    r.failed = r.rejected = 0;
  }
}

void JetsonSource::sample(const SampleContext& ctx) {
  for (auto& r : rails_) {
    ++r.reads;
    auto w = read(r);
    if (!w) continue;  // the gap is bridged by the next trapezoid
    if (r.have_last && ctx.t_s > r.last_t) r.joules += 0.5 * (*w + r.last_w) * (ctx.t_s - r.last_t);
    r.last_w = *w;
    r.last_t = ctx.t_s;
    r.have_last = true;
  }
}

std::vector<double> JetsonSource::joules() const {
  std::vector<double> out;
  for (const auto& r : rails_) out.push_back(r.joules);
  return out;
}

std::vector<std::string> JetsonSource::notes() const {
  std::vector<std::string> out;
  for (const auto& r : rails_) {
    if (r.failed > 0)
      out.push_back(fmt::format("Jetson rail {}: {} of {} readings failed ({}){}", r.rail.name,
                                r.failed, r.reads, r.last_error,
                                r.failed == r.reads ? ": its energy is missing"
                                                    : "; power is interpolated across the gaps"));
    if (r.rejected > 0)
      out.push_back(fmt::format(
          "Jetson rail {}: {} impossible reading{} rejected (the last: {}; above {:g} W, "
          "negative or not a number): power is interpolated across them",
          r.rail.name, r.rejected, r.rejected == 1 ? "" : "s", r.last_rejected, kMaxWatts));
  }
  return out;
}

}  // namespace pepr::meter
