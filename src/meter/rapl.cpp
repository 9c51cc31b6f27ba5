#include "meter/rapl.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <thread>

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
            "permission denied reading {} (RAPL counters are root-only since the 2020 fix for "
            "CVE-2020-8694: power readings let any user infer secrets); let a trusted group "
            "read them with a udev rule, not chmod a+r: see 'RAPL permissions' in "
            "docs/meters.md (or run as root)",
            efile);
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

int rapl_package_number(const std::string& name) {
  static const std::regex re(R"(package-(\d{1,6})(-die-\d{1,6})?)");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return -1;
  return std::stoi(m[1].str());
}

namespace {

std::optional<std::uint64_t> read_uj(const std::string& path) {
  auto r = read_small_file(path);
  return r.text ? parse_u64(*r.text) : std::nullopt;
}

// For each readable domain, the index of the domain whose counter it mirrors, or -1. Candidates
// are zones of one package number and one kind (the packages themselves, or their dram/core/...
// sub-zones); a candidate mirrors the first of its group when every one of `rounds` readings is
// within kRaplMirrorToleranceJ of that zone's.
std::vector<int> find_mirrors(const std::vector<const RaplDomain*>& ds, int rounds) {
  std::vector<int> mirror(ds.size(), -1);
  std::map<std::pair<int, std::string>, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < ds.size(); ++i) {
    const RaplDomain& d = *ds[i];
    if (d.kind == "psys" || d.kind == "other") continue;
    const int pkg = rapl_package_number(d.package);
    if (pkg < 0) continue;
    groups[{pkg, d.kind == "package" ? std::string("package") : d.name}].push_back(i);
  }
  for (const auto& [key, members] : groups) {
    if (members.size() < 2) continue;
    std::vector<bool> same(members.size(), true);
    for (int r = 0; r < rounds; ++r) {
      if (r > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::vector<std::optional<std::uint64_t>> v;
      for (std::size_t m : members) v.push_back(read_uj(ds[m]->dir + "/energy_uj"));
      for (std::size_t k = 1; k < members.size(); ++k) {
        if (!v[0] || !v[k]) {
          same[k] = false;
          continue;
        }
        const double diff_j =
            std::abs(static_cast<double>(*v[k]) - static_cast<double>(*v[0])) * 1e-6;
        if (diff_j > kRaplMirrorToleranceJ) same[k] = false;
      }
    }
    for (std::size_t k = 1; k < members.size(); ++k)
      if (same[k]) mirror[members[k]] = static_cast<int>(members[0]);
  }
  return mirror;
}

}  // namespace

RaplSource::RaplSource(const RaplScan& scan, int mirror_rounds) {
  std::vector<const RaplDomain*> ds;
  for (const auto& d : scan.domains)
    if (d.readable) ds.push_back(&d);
  const std::vector<int> mirror = find_mirrors(ds, std::max(1, mirror_rounds));
  std::set<std::string> names;
  for (std::size_t i = 0; i < ds.size(); ++i) {
    const RaplDomain& d = *ds[i];
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
    // One name listed by two zones (AMD lists some sockets twice): the zone tells them apart.
    if (!names.insert(c.name).second) {
      c.name += "@" + d.zone;
      names.insert(c.name);
    }
    Counter k;
    k.path = c.source;
    k.zone = d.zone;
    k.name = d.name;
    k.max_range_uj = d.max_range_uj;
    if (mirror[i] >= 0) {
      const RaplDomain& p = *ds[static_cast<std::size_t>(mirror[i])];
      c.in_total = false;
      c.source += fmt::format(" (mirror of {}: the same counter, counted once)", p.zone);
      mirror_notes_.push_back(fmt::format(
          "RAPL zone {} ({}) reads the same counter as {} ({}) (readings within {:g} J): the "
          "socket is counted once, {} is reported but not added to the total",
          d.zone, d.name, p.zone, p.name, kRaplMirrorToleranceJ, d.zone));
      k.mirror_of = mirror[i];  // one counter per readable domain, in the same order
    }
    components_.push_back(c);
    counters_.push_back(k);
  }
}

void RaplSource::read_into(Counter& c, bool reset, double t) {
  auto r = read_small_file(c.path);
  if (!r.text) return;  // a transient failure: the next reading covers the gap
  auto v = parse_u64(*r.text);
  if (!v || *v > c.max_range_uj) return;
  if (reset || !c.have_last) {
    c.last_uj = *v;
    c.last_t = t;
    c.have_last = true;
    if (reset) c.joules = 0;
    return;
  }
  const double dt = std::max(0.0, t - c.last_t);
  const double bound_j = kRaplResetWatts * dt + kRaplResetSlackJ;
  const double delta_j = static_cast<double>(rapl_delta(c.last_uj, *v, c.max_range_uj)) * 1e-6;
  if (delta_j <= bound_j) {
    c.joules += delta_j;
  } else {
    // Not a wrap: the counter was reset (suspend/resume, driver reload) or misread. A counter
    // that restarted from 0 holds the energy since the reset, which is kept when plausible.
    const double since_j = *v < c.last_uj ? static_cast<double>(*v) * 1e-6 : 0.0;
    const double kept_j = since_j <= bound_j ? since_j : 0.0;
    c.joules += kept_j;
    c.dropped_j += delta_j - kept_j;
    if (c.resets++ == 0)
      c.first_reset = fmt::format("{} J in {:.3g} s (from {} to {} uJ), more than {:g} W could use",
                                  delta_j, dt, c.last_uj, *v, kRaplResetWatts);
  }
  c.last_uj = *v;
  c.last_t = t;
}

void RaplSource::begin(const SampleContext& ctx) {
  for (auto& c : counters_) {
    c.have_last = false;
    c.joules = 0;
    c.resets = 0;
    c.dropped_j = 0;
    read_into(c, true, ctx.t_s);
  }
}

void RaplSource::sample(const SampleContext& ctx) {
  for (auto& c : counters_) read_into(c, false, ctx.t_s);
}

std::vector<double> RaplSource::joules() const {
  std::vector<double> out;
  for (const auto& c : counters_) out.push_back(c.joules);
  return out;
}

std::vector<std::string> RaplSource::notes() const {
  std::vector<std::string> out = mirror_notes_;
  for (const auto& c : counters_) {
    if (c.resets > 0)
      out.push_back(fmt::format(
          "RAPL zone {} ({}): {} counter reset{} dropped, not counted as wraps ({:.1f} J in "
          "all; the first: {})",
          c.zone, c.name, c.resets, c.resets == 1 ? "" : "s", c.dropped_j, c.first_reset));
    if (c.mirror_of >= 0) {
      const Counter& p = counters_[static_cast<std::size_t>(c.mirror_of)];
      if (std::abs(c.joules - p.joules) > std::max(kRaplMirrorToleranceJ, 0.02 * p.joules))
        out.push_back(fmt::format(
            "RAPL zones {} and {} looked like one counter at the start but measured {:.1f} J and "
            "{:.1f} J: {} is not in the total, which may therefore be low",
            p.zone, c.zone, p.joules, c.joules, c.zone));
    }
  }
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
