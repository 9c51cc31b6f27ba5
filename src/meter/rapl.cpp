#include "meter/rapl.hpp"

#include <algorithm>
#include <filesystem>
#include <regex>

#include <fmt/format.h>

#include "meter/util.hpp"

namespace pepr::meter {

namespace fs = std::filesystem;

std::string powercap_root() {
  return env("PEPR_POWERCAP_ROOT").value_or("/sys/class/powercap");
}

std::uint64_t rapl_delta(std::uint64_t prev, std::uint64_t cur, std::uint64_t max_range_uj) {
  if (cur >= prev) return cur - prev;
  // The counter passed max_range_uj and started again from 0.
  if (prev > max_range_uj) return cur;  // inconsistent: count only what we know
  return (max_range_uj - prev) + cur;
}

namespace {

std::string kind_of(const std::string& name, bool top) {
  if (top) {
    if (name.rfind("package", 0) == 0) return "package";
    if (name == "psys") return "psys";
    return "other";
  }
  if (name == "core" || name == "uncore" || name == "dram") return name;
  return "other";
}

std::string snippet(const std::string& s) {
  std::string t = trim(s);
  if (t.size() > 24) t = t.substr(0, 24) + "...";
  return t;
}

}  // namespace

bool RaplScan::usable() const {
  return std::any_of(domains.begin(), domains.end(),
                     [](const RaplDomain& d) { return d.readable && d.kind == "package"; });
}

std::string RaplScan::problem() const {
  if (usable()) return "";
  if (!root_exists) return fmt::format("no powercap tree at {}", root);
  if (domains.empty()) return fmt::format("no RAPL zones (intel-rapl:N) under {}", root);
  for (const auto& d : domains)
    if (d.kind == "package" && d.permission_denied) return d.problem;
  for (const auto& d : domains)
    if (d.kind == "package" && !d.problem.empty()) return d.problem;
  return fmt::format("no RAPL package zone under {}", root);
}

RaplScan scan_rapl(const std::string& root) {
  RaplScan scan;
  scan.root = root;
  std::error_code ec;
  scan.root_exists = fs::is_directory(root, ec);
  if (!scan.root_exists) return scan;
  static const std::regex zone_re(R"((intel-rapl|amd-rapl):(\d+)(:(\d+))?)");
  std::vector<std::string> zones;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    std::string n = entry.path().filename().string();
    if (std::regex_match(n, zone_re)) zones.push_back(n);
  }
  // Numeric order: intel-rapl:0, intel-rapl:0:0, intel-rapl:0:1, intel-rapl:1, ...
  auto key = [](const std::string& z) {
    std::smatch m;
    std::regex_match(z, m, zone_re);
    int a = std::stoi(m[2].str());
    int b = m[4].matched ? std::stoi(m[4].str()) : -1;
    return std::make_tuple(m[1].str(), a, b);
  };
  std::sort(zones.begin(), zones.end(),
            [&](const std::string& x, const std::string& y) { return key(x) < key(y); });

  for (const auto& z : zones) {
    RaplDomain d;
    d.zone = z;
    d.dir = (fs::path(root) / z).string();
    auto [type, pkg_index, sub_index] = key(z);
    const bool top = sub_index < 0;
    auto name = read_small_file(d.dir + "/name");
    d.name = name.text ? trim(*name.text) : z;
    d.kind = kind_of(d.name, top);
    if (top) {
      d.package = d.name;
    } else {
      auto parent = read_small_file(
          (fs::path(root) / fmt::format("{}:{}", type, pkg_index)).string() + "/name");
      d.package = parent.text ? trim(*parent.text) : fmt::format("package-{}", pkg_index);
    }
    const std::string efile = d.dir + "/energy_uj";
    const std::string mfile = d.dir + "/max_energy_range_uj";
    auto e = read_small_file(efile);
    if (!e.text) {
      if (e.error == EACCES || e.error == EPERM) {
        d.permission_denied = true;
        d.problem = fmt::format(
            "permission denied reading {} (RAPL counters are root-only since the 2020 security "
            "fix for CVE-2020-8694); to allow it until reboot: sudo chmod a+r {}/*/energy_uj "
            "(or run as root, or add a udev rule)",
            efile, root);
      } else {
        d.problem = fmt::format("cannot read {}: {}", efile, e.message());
      }
      scan.domains.push_back(std::move(d));
      continue;
    }
    auto ev = parse_u64(*e.text);
    if (!ev) {
      d.problem = fmt::format("{} is not a counter: '{}'", efile, snippet(*e.text));
      scan.domains.push_back(std::move(d));
      continue;
    }
    d.energy_uj = *ev;
    auto m = read_small_file(mfile);
    auto mv = m.text ? parse_u64(*m.text) : std::nullopt;
    if (!mv || *mv == 0) {
      d.problem = m.text ? fmt::format(
                               "{} is not a positive number: '{}' (wraparound cannot be "
                               "handled)",
                               mfile, snippet(*m.text))
                         : fmt::format("cannot read {}: {} (wraparound cannot be handled)", mfile,
                                       m.message());
      scan.domains.push_back(std::move(d));
      continue;
    }
    d.max_range_uj = *mv;
    d.readable = true;
    scan.domains.push_back(std::move(d));
  }
  return scan;
}

RaplSource::RaplSource(const RaplScan& scan) {
  for (const auto& d : scan.domains) {
    if (!d.readable) continue;
    Component c;
    c.method = "rapl-powercap";
    c.source = d.dir + "/energy_uj";
    if (d.kind == "package") {
      c.name = "cpu." + d.name;
      c.kind = "cpu";
    } else if (d.kind == "dram") {
      c.name = "dram." + d.package;
      c.kind = "dram";
    } else if (d.kind == "psys") {
      c.name = "psys." + d.zone.substr(d.zone.find(':') + 1);
      c.kind = "psys";
      c.in_total = false;
    } else {
      c.name = "cpu." + d.package + "." + d.name;
      c.kind = "cpu-part";
      c.in_total = false;
    }
    components_.push_back(c);
    Counter k;
    k.path = c.source;
    k.max_range_uj = d.max_range_uj;
    counters_.push_back(k);
  }
}

void RaplSource::read_into(Counter& c, bool reset) {
  auto r = read_small_file(c.path);
  if (!r.text) return;  // a transient failure: the next reading covers the gap
  auto v = parse_u64(*r.text);
  if (!v || *v > c.max_range_uj) return;
  if (reset || !c.have_last) {
    c.last_uj = *v;
    c.have_last = true;
    if (reset) c.joules = 0;
    return;
  }
  c.joules += static_cast<double>(rapl_delta(c.last_uj, *v, c.max_range_uj)) * 1e-6;
  c.last_uj = *v;
}

void RaplSource::begin(const SampleContext&) {
  for (auto& c : counters_) {
    c.have_last = false;
    c.joules = 0;
    read_into(c, true);
  }
}

void RaplSource::sample(const SampleContext&) {
  for (auto& c : counters_) read_into(c, false);
}

std::vector<double> RaplSource::joules() const {
  std::vector<double> out;
  for (const auto& c : counters_) out.push_back(c.joules);
  return out;
}

double RaplSource::max_interval_s() const {
  double best = std::numeric_limits<double>::infinity();
  for (const auto& c : counters_)
    best =
        std::min(best, static_cast<double>(c.max_range_uj) * 1e-6 / (2 * kRaplMaxPlausibleWatts));
  return best;
}

}  // namespace pepr::meter
