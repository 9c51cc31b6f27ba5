// The HTML report in a real browser: headless Chromium (Debian's `chromium`) driven through the
// DevTools protocol opens index.html of the paper's results: no console errors or exceptions,
// no network requests, a screenshot, every point of every figure in the DOM, sortable tables;
// then every SVG file on its own. Every text of every figure is measured where the browser lays
// it out: inside its figure, clear of every other text, no placeholder left in it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/table.hpp"
#include "report/cdp.hpp"
#include "report/fixtures.hpp"
#include "report/svg_check.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using pepr::test::Chromium;
using pepr::test::read_file;

namespace {

// What the page holds after its scripts ran.
constexpr const char* kProbe = R"JS(JSON.stringify({
  ready: document.documentElement.getAttribute("data-ready"),
  tables: document.querySelectorAll("table.sortable").length,
  figures: Array.from(document.querySelectorAll("figure[data-figure]")).map(f => ({
    name: f.dataset.figure,
    declared: Number(f.dataset.points),
    points: f.querySelectorAll(".pt").length,
    titled: Array.from(f.querySelectorAll(".pt")).filter(
        p => p.querySelector("title") && p.querySelector("title").textContent.length > 0).length,
    width: f.querySelector("svg").getBoundingClientRect().width,
    panels: Array.from(f.querySelectorAll("g.panel")).map(g => ({
      experiment: g.dataset.experiment, label: g.dataset.label,
      points: g.querySelectorAll(".pt").length}))
  })),
  leftOut: document.querySelectorAll("ul.left-out li").length,
  // Where a reader at 1400 px finds the answer and the p-values (issue 32).
  findingTop: (() => {
    const li = document.querySelector("#findings li");
    return li ? li.getBoundingClientRect().top + window.scrollY : -1; })(),
  pStudentRight: (() => {
    const t = document.getElementById("table-tests");
    const h = t ? Array.from(t.tHead.rows[0].cells).find(c => c.textContent === "p_student")
                : null;
    return h ? h.getBoundingClientRect().right : -1; })()
}))JS";

// Clicks the PePR-E header of the Table 1 twice: the values ascending, then descending.
constexpr const char* kSort = R"JS((() => {
  const t = document.getElementById("table-top_pepr_e");
  const heads = Array.from(t.tHead.rows[0].cells);
  const col = heads.findIndex(h => h.textContent === "PePR-E");
  const values = () => Array.from(t.tBodies[0].rows).map(r => Number(r.cells[col].dataset.v));
  heads[col].click();
  const asc = values();
  heads[col].click();
  return JSON.stringify({col: col, asc: asc, desc: values(), rows: t.tBodies[0].rows.length});
})())JS";

json evaluate(Chromium& b, const std::string& session, const std::string& expression) {
  json r =
      b.call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}}, session);
  if (r.contains("exceptionDetails"))
    throw std::runtime_error("script failed: " + r["exceptionDetails"].dump());
  return json::parse(r["result"]["value"].get<std::string>());
}

// Navigates and waits for the load event.
void open(Chromium& b, const std::string& session, const fs::path& file) {
  std::size_t mark = b.events().size();
  json nav = b.call("Page.navigate", {{"url", "file://" + file.string()}}, session);
  ASSERT_FALSE(nav.contains("errorText")) << nav.dump();
  b.wait_event("Page.loadEventFired", session, mark);
}

// The PNG's width and height (from its IHDR chunk).
std::pair<unsigned, unsigned> png_size(const std::string& png) {
  auto be32 = [&](std::size_t at) {
    return (static_cast<unsigned>(static_cast<unsigned char>(png[at])) << 24) |
           (static_cast<unsigned>(static_cast<unsigned char>(png[at + 1])) << 16) |
           (static_cast<unsigned>(static_cast<unsigned char>(png[at + 2])) << 8) |
           static_cast<unsigned>(static_cast<unsigned char>(png[at + 3]));
  };
  if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) return {0, 0};
  return {be32(16), be32(20)};
}

void save(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

// Every attribute or CSS value that would make the browser fetch something: src, href,
// xlink:href, url(...), @import. Relative paths, fragments and data: URLs stay on this machine.
std::vector<std::string> remote_references(const std::string& html) {
  std::vector<std::string> out;
  std::regex attr(R"re((?:src|href|action|poster|data)\s*=\s*"([^"]*)")re", std::regex::icase);
  std::regex css(R"re(url\(\s*['"]?([^'")]*)|@import)re", std::regex::icase);
  for (auto it = std::sregex_iterator(html.begin(), html.end(), attr); it != std::sregex_iterator();
       ++it) {
    std::string v = (*it)[1];
    if (v.find("//") != std::string::npos || v.find(':') != std::string::npos) {
      if (v.rfind("data:", 0) == 0) continue;
      out.push_back(v);
    }
  }
  for (auto it = std::sregex_iterator(html.begin(), html.end(), css); it != std::sregex_iterator();
       ++it)
    out.push_back(it->str());
  // Any URL scheme that fetches, anywhere in the text, other than the SVG namespace.
  std::regex scheme(R"re((https?|ftp|wss?)://[^\s"'<>)]*)re", std::regex::icase);
  for (auto it = std::sregex_iterator(html.begin(), html.end(), scheme);
       it != std::sregex_iterator(); ++it)
    if (it->str() != "http://www.w3.org/2000/svg") out.push_back(it->str());
  return out;
}

// Opens `report`/index.html (made from `csv`, experiments in column `dataset`) and then every
// SVG file in the browser, checking everything the page must do; returns the page's probe.
json check_in_browser(const std::string& chromium, const fs::path& csv, const fs::path& report,
                      const fs::path& work, const std::string& shot_prefix) {
  const std::string html = read_file(report / "index.html");
  EXPECT_EQ(remote_references(html), std::vector<std::string>{})
      << "index.html refers to something a browser would fetch";

  // Expected points per experiment, from the input itself.
  auto input = pepr::Table::read_csv(csv.string());
  std::map<std::string, std::size_t> per_experiment;
  for (std::size_t r = 0; r < input.num_rows(); ++r)
    ++per_experiment[std::string(input.cell(r, input.require_column("dataset")))];

  Chromium browser(chromium, work / "chromium");
  const std::string s = browser.open_page();
  for (const char* domain : {"Page.enable", "Runtime.enable", "Network.enable", "Log.enable"})
    browser.call(domain, {}, s);
  browser.call("Emulation.setDeviceMetricsOverride",
               {{"width", 1400}, {"height", 3000}, {"deviceScaleFactor", 1}, {"mobile", false}}, s);
  open(browser, s, report / "index.html");

  json probe = evaluate(browser, s, kProbe);
  EXPECT_EQ(probe["ready"], "1") << "the page's script did not run to its end";
  const std::set<std::string> scatter{"model_space",      "pareto",           "pepr_c_vs_params",
                                      "pepr_m_vs_params", "pepr_t_vs_params", "p_pepr_vs_params"};
  for (const auto& f : probe["figures"]) {
    const std::string name = f["name"];
    EXPECT_EQ(f["points"], f["declared"]) << name;
    EXPECT_EQ(f["titled"], f["points"]) << name << ": every point has a tooltip";
    EXPECT_GT(f["width"].get<double>(), 300) << name << " is drawn";
    auto svg = pepr::test::check_svg(read_file(report / "figures" / (name + ".svg")));
    EXPECT_EQ(f["points"].get<std::size_t>(), svg.points) << name << ": DOM vs file";
    if (scatter.count(name)) {
      std::size_t panels = per_experiment.size() * (name == "p_pepr_vs_params" ? 2 : 1);
      EXPECT_EQ(f["panels"].size(), panels) << name;
      for (const auto& p : f["panels"])
        EXPECT_EQ(p["points"].get<std::size_t>(),
                  per_experiment.at(p["experiment"].get<std::string>()))
            << name << " " << p["experiment"] << " " << p["label"];
    }
    if (name == "violin_pretraining" || name == "violin_data_fraction") {
      for (const auto& p : f["panels"]) {
        // "A vs B": every model of both, for P and the score.
        std::string pair = p["experiment"];
        auto vs = pair.find(" vs ");
        EXPECT_NE(vs, std::string::npos) << pair;
        if (vs == std::string::npos) continue;
        std::size_t n =
            per_experiment.at(pair.substr(0, vs)) + per_experiment.at(pair.substr(vs + 4));
        EXPECT_EQ(p["points"].get<std::size_t>(), 2 * n) << name << " " << pair;
      }
    }
  }

  json sorted = evaluate(browser, s, kSort);
  EXPECT_GE(sorted["col"].get<int>(), 0);
  auto asc = sorted["asc"].get<std::vector<double>>();
  auto desc = sorted["desc"].get<std::vector<double>>();
  EXPECT_FALSE(asc.empty());
  EXPECT_TRUE(std::is_sorted(asc.begin(), asc.end()));
  EXPECT_TRUE(std::is_sorted(desc.rbegin(), desc.rend()));
  probe["sorted_rows"] = asc.size();

  // Screenshots: the top of the page, and the first figures.
  const fs::path artifacts = fs::path(PEPR_TEST_ARTIFACTS);
  json shot = browser.call("Page.captureScreenshot", {{"format", "png"}}, s);
  std::string png = pepr::test::base64_decode(shot["data"].get<std::string>());
  EXPECT_EQ(png_size(png), std::make_pair(1400u, 3000u));
  save(work / "index.png", png);
  save(artifacts / (shot_prefix + "_index.png"), png);
  EXPECT_TRUE(fs::exists(work / "index.png"));
  double top = evaluate(browser, s,
                        "JSON.stringify(document.getElementById('figures')"
                        ".getBoundingClientRect().top + window.scrollY)")
                   .get<double>();
  json fig_shot = browser.call(
      "Page.captureScreenshot",
      {{"format", "png"},
       {"captureBeyondViewport", true},
       {"clip", {{"x", 0}, {"y", top}, {"width", 1400}, {"height", 3000}, {"scale", 1}}}},
      s);
  std::string fig_png = pepr::test::base64_decode(fig_shot["data"].get<std::string>());
  EXPECT_EQ(png_size(fig_png), std::make_pair(1400u, 3000u));
  save(artifacts / (shot_prefix + "_figures.png"), fig_png);

  // Every SVG file renders on its own: an SVG document, no XML error page, every point.
  for (const auto& e : fs::directory_iterator(report / "figures")) {
    open(browser, s, e.path());
    json doc = evaluate(browser, s,
                        "JSON.stringify({root: document.documentElement.localName, "
                        "error: document.getElementsByTagName('parsererror').length, "
                        "points: document.querySelectorAll('.pt').length, "
                        "width: document.documentElement.getBoundingClientRect().width})");
    const std::string name = e.path().filename().string();
    EXPECT_EQ(doc["root"], "svg") << name;
    EXPECT_EQ(doc["error"], 0) << name;
    EXPECT_GT(doc["width"].get<double>(), 300) << name;
    EXPECT_EQ(doc["points"].get<std::size_t>(), pepr::test::check_svg(read_file(e.path())).points)
        << name;
  }

  // No console errors or warnings, no uncaught exceptions, no requests but the files opened.
  std::vector<std::string> problems;
  for (const auto& ev : browser.events()) {
    const std::string m = ev.value("method", "");
    const json& p = ev.contains("params") ? ev["params"] : json::object();
    if (m == "Runtime.exceptionThrown") problems.push_back("exception: " + p.dump());
    if (m == "Runtime.consoleAPICalled") {
      std::string type = p.value("type", "");
      if (type == "error" || type == "warning" || type == "assert")
        problems.push_back("console " + type + ": " + p["args"].dump());
    }
    if (m == "Log.entryAdded") {
      std::string level = p["entry"].value("level", "");
      if (level == "error" || level == "warning")
        problems.push_back("log " + level + ": " + p["entry"].dump());
    }
    if (m == "Network.requestWillBeSent") {
      std::string url = p["request"].value("url", "");
      bool local =
          url.rfind("file://" + report.string() + "/", 0) == 0 || url.rfind("data:", 0) == 0;
      if (!local) problems.push_back("request: " + url);
    }
    if (m == "Network.loadingFailed") problems.push_back("failed load: " + p.dump());
  }
  EXPECT_EQ(problems, std::vector<std::string>{}) << browser.log_tail();
  return probe;
}

// Every non-empty <text> of the SVG document open in the page: its content, its box in the root's
// user space (the viewBox's coordinates) as four corners (getBBox through the text's transform:
// a rotated label is a rotated box), whether it is a tick label (inside a g.axis), and the
// viewBox.
constexpr const char* kTextBoxes = R"JS((() => {
  const root = document.documentElement;
  const vb = root.viewBox.baseVal;
  const toRoot = root.getScreenCTM().inverse();
  const texts = Array.from(document.querySelectorAll("text"))
      .filter(t => t.textContent.trim().length > 0)
      .map(t => {
        const b = t.getBBox();
        const m = toRoot.multiply(t.getScreenCTM());
        const corner = (x, y) => {
          const p = new DOMPoint(x, y).matrixTransform(m);
          return [p.x, p.y];
        };
        const axis = t.closest("g.axis");
        return {text: t.textContent,
                corners: [corner(b.x, b.y), corner(b.x + b.width, b.y),
                          corner(b.x + b.width, b.y + b.height), corner(b.x, b.y + b.height)],
                axis: axis ? Array.from(document.querySelectorAll("g.axis")).indexOf(axis) : -1};
      });
  return JSON.stringify({viewBox: [vb.x, vb.y, vb.width, vb.height], texts: texts});
})())JS";

using Quad = std::vector<std::pair<double, double>>;

// How far two convex quadrilaterals overlap: the smallest overlap of their projections over the
// normals of their edges (separating axis theorem); negative: the gap between them.
double overlap_depth(const Quad& a, const Quad& b) {
  double depth = std::numeric_limits<double>::infinity();
  for (const Quad* q : {&a, &b})
    for (std::size_t i = 0; i < q->size(); ++i) {
      auto [x0, y0] = (*q)[i];
      auto [x1, y1] = (*q)[(i + 1) % q->size()];
      double nx = y0 - y1, ny = x1 - x0, len = std::hypot(nx, ny);
      if (!(len > 1e-9)) continue;
      nx /= len, ny /= len;
      auto project = [&](const Quad& p) {
        double lo = std::numeric_limits<double>::infinity(), hi = -lo;
        for (auto [x, y] : p)
          lo = std::min(lo, x * nx + y * ny), hi = std::max(hi, x * nx + y * ny);
        return std::make_pair(lo, hi);
      };
      auto [alo, ahi] = project(a);
      auto [blo, bhi] = project(b);
      depth = std::min(depth, std::min(ahi, bhi) - std::max(alo, blo));
    }
  return depth;
}

// A label that was meant to be filled in: <N>, <name>, {}, {0}, {:.2f}, %s, %d.
bool has_placeholder(const std::string& text) {
  static const std::regex kPlaceholder(
      R"re(<[A-Za-z_][A-Za-z0-9_ ]*>|\{[0-9]*(:[^}]*)?\}|%[sd])re");
  return std::regex_search(text, kPlaceholder);
}

// What is wrong with the text of the SVG file open in the page, one line per problem, each
// naming the file: a text whose box reaches outside the viewBox (by more than half a pixel), two
// texts whose boxes overlap by more than a pixel, two tick labels of one axis less than 2 px
// apart (they read as one number: "0.00000.0005"), a placeholder left in a text.
std::vector<std::string> text_problems(Chromium& b, const std::string& session,
                                       const std::string& name) {
  json r = evaluate(b, session, kTextBoxes);
  const auto vb = r["viewBox"].get<std::vector<double>>();
  struct Text {
    std::string text;
    Quad q;
    int axis;
  };
  std::vector<Text> texts;
  for (const auto& t : r["texts"])
    texts.push_back({t["text"], t["corners"].get<Quad>(), t["axis"].get<int>()});
  std::vector<std::string> out;
  auto box_text = [](const Quad& q) {
    double x0 = q[0].first, x1 = x0, y0 = q[0].second, y1 = y0;
    for (auto [x, y] : q)
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    return fmt::format("[{:.0f}..{:.0f} x {:.0f}..{:.0f}]", x0, x1, y0, y1);
  };
  const double tol = 0.5;
  for (const auto& t : texts) {
    for (auto [x, y] : t.q)
      if (x < vb[0] - tol || x > vb[0] + vb[2] + tol || y < vb[1] - tol ||
          y > vb[1] + vb[3] + tol) {
        out.push_back(fmt::format("{}: \"{}\" {} reaches outside the viewBox {} x {}", name, t.text,
                                  box_text(t.q), vb[2], vb[3]));
        break;
      }
    if (has_placeholder(t.text))
      out.push_back(fmt::format("{}: \"{}\" holds a placeholder", name, t.text));
  }
  for (std::size_t i = 0; i < texts.size(); ++i)
    for (std::size_t j = i + 1; j < texts.size(); ++j) {
      double depth = overlap_depth(texts[i].q, texts[j].q);
      const bool ticks = texts[i].axis >= 0 && texts[i].axis == texts[j].axis;
      if (depth > 1 || (ticks && depth > -2))
        out.push_back(fmt::format("{}: \"{}\" {} and \"{}\" {} {} ({:.1f} px)", name, texts[i].text,
                                  box_text(texts[i].q), texts[j].text, box_text(texts[j].q),
                                  depth > 0 ? "overlap" : "run into each other", std::fabs(depth)));
    }
  return out;
}

#define PEPR_REQUIRE_CHROMIUM(var)                                                            \
  auto var##_opt = Chromium::find();                                                          \
  if (!var##_opt)                                                                             \
    GTEST_SKIP() << "needs /usr/bin/chromium (Debian package `chromium`, or $PEPR_CHROMIUM) " \
                    "for the browser test; not found, skipping";                              \
  const std::string var = *var##_opt

}  // namespace

// The report of the paper's data (P = test_09, experiments by dataset), made under `dir`.
fs::path paper_report(const fs::path& csv, const fs::path& dir) {
  const fs::path report = dir / "report";
  auto made = pepr::test::run_pepr(
      {"report", csv.string(), "-g", "dataset", "-p", "test_09", "-o", report.string()});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  return report;
}

// The report of a small synthetic sweep (three experiments of six models, top 3), under `dir`.
fs::path small_sweep_report(const fs::path& dir) {
  pepr::test::write_file(dir / "results.csv", pepr::test::synthetic_results(
                                                  {"synth", "synth_scratch", "synth_small"}, 6));
  const fs::path report = dir / "report";
  auto made = pepr::test::run_pepr({"report", (dir / "results.csv").string(), "-g", "dataset",
                                    "--top", "3", "-o", report.string()});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  return report;
}

TEST(ReportBrowser, PaperReportOpensOfflineWithoutErrorsAndHoldsEveryPoint) {
  PEPR_REQUIRE_CHROMIUM(chromium);
  PEPR_REQUIRE_SHARED(csv, "pepr-paper/all_results.csv");
  pepr::test::TempDir dir;
  const fs::path report = paper_report(csv, dir.path());
  ASSERT_TRUE(fs::exists(report / "index.html"));
  json probe = check_in_browser(chromium, csv, report, dir.path(), "report");
  EXPECT_EQ(probe["figures"].size(), 18u);  // 17 and the findings' at a glance
  // At 1400 px the first finding is on the first screen, the tests' p-values need no scrolling.
  EXPECT_GT(probe["findingTop"].get<double>(), 0);
  EXPECT_LT(probe["findingTop"].get<double>(), 800);
  EXPECT_GT(probe["pStudentRight"].get<double>(), 0);
  EXPECT_LE(probe["pStudentRight"].get<double>(), 1400);
  EXPECT_GE(probe["tables"].get<int>(), 8);
  EXPECT_EQ(probe["leftOut"], 0);
  // Table 1: top 5 and the best P of 8 experiments; two models tie for the best P of
  // pneumonia_small, and both are listed.
  EXPECT_EQ(probe["sorted_rows"], 8u * (5u + 1u) + 1u);
  for (const auto& f : probe["figures"])
    if (f["name"] == "model_space" || f["name"] == "pareto") {
      for (const auto& p : f["panels"]) EXPECT_EQ(p["points"], 131) << f["name"];
    }
}

TEST(ReportBrowser, SmallPeprSweepReportOpensOfflineWithoutErrors) {
  PEPR_REQUIRE_CHROMIUM(chromium);
  pepr::test::TempDir dir;
  const fs::path report = small_sweep_report(dir.path());
  ASSERT_TRUE(fs::exists(report / "index.html"));
  json probe = check_in_browser(chromium, dir / "results.csv", report, dir.path(), "synthetic");
  EXPECT_EQ(probe["figures"].size(), 18u);  // 17 and the findings' at a glance
  EXPECT_EQ(probe["leftOut"], 0);
  EXPECT_EQ(probe["sorted_rows"], 3u * (3u + 1u));
}

// The text check itself, on a figure made here: a text out of the viewBox, two that overlap,
// two tick labels that touch, a rotated label clear of its neighbour, a placeholder.
TEST(ReportBrowser, TextCheckFindsOverflowOverlapAndPlaceholders) {
  PEPR_REQUIRE_CHROMIUM(chromium);
  pepr::test::TempDir dir;
  pepr::test::write_file(
      dir / "t.svg",
      R"svg(<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" )svg"
      R"svg(viewBox="0 0 400 200" )svg"
      R"svg(font-family="DejaVu Sans" font-size="14">)svg"
      R"svg(<text x="10" y="30">clear</text>)svg"
      R"svg(<text x="380" y="30">cut off</text>)svg"
      R"svg(<text x="10" y="80">first label</text><text x="40" y="84">second</text>)svg"
      R"svg(<g class="axis"><text x="200" y="120">0.0000</text>)svg"
      R"svg(<text x="250" y="120">0.0005</text>)svg"
      R"svg(<text x="310" y="120">0.0010</text></g>)svg"
      R"svg(<text x="150" y="190" transform="rotate(-90 150 190)">rotated far</text>)svg"
      R"svg(<text x="180" y="190" transform="rotate(-90 180 190)">rotated near</text>)svg"
      R"svg(<text x="230" y="190">P (test_&lt;N&gt;) {}</text></svg>)svg");
  Chromium browser(chromium, dir / "chromium");
  const std::string s = browser.open_page();
  browser.call("Page.enable", {}, s);
  open(browser, s, dir / "t.svg");
  auto problems = text_problems(browser, s, "t.svg");
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  auto count = [&](const std::string& what) {
    return std::count_if(problems.begin(), problems.end(),
                         [&](const std::string& p) { return p.find(what) != std::string::npos; });
  };
  EXPECT_EQ(count("\"cut off\""), 1) << all;
  EXPECT_EQ(count("reaches outside"), 1) << all;
  EXPECT_EQ(count("\"first label\""), 1) << all;
  EXPECT_EQ(count("overlap ("), 1) << all;
  EXPECT_EQ(count("\"0.0000\""), 1) << all;  // 0.0000 and 0.0005 touch; 0.0010 is clear
  EXPECT_EQ(count("run into each other"), 1) << all;
  EXPECT_EQ(count("holds a placeholder"), 1) << all;
  EXPECT_EQ(count("rotated"), 0) << all;  // 30 px apart as drawn, though their upright boxes meet
  EXPECT_EQ(problems.size(), 4u) << all;
}

namespace {

// The text problems of every SVG file of `report`/figures, in name order.
std::vector<std::string> figure_text_problems(const std::string& chromium, const fs::path& report,
                                              const fs::path& work, std::size_t* files_seen) {
  Chromium browser(chromium, work / "chromium");
  const std::string s = browser.open_page();
  browser.call("Page.enable", {}, s);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(report / "figures")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  *files_seen = files.size();
  std::vector<std::string> problems;
  for (const auto& f : files) {
    open(browser, s, f);
    auto p = text_problems(browser, s, f.filename().string());
    problems.insert(problems.end(), p.begin(), p.end());
  }
  return problems;
}

std::string lines(const std::vector<std::string>& v) {
  std::string all;
  for (const auto& p : v) all += "\n  " + p;
  return all;
}

}  // namespace

// Every figure of the paper's report: no text reaches outside its figure or into another text,
// no label keeps a placeholder.
TEST(ReportBrowser, PaperFiguresTextFitsAndDoesNotOverlap) {
  PEPR_REQUIRE_CHROMIUM(chromium);
  PEPR_REQUIRE_SHARED(csv, "pepr-paper/all_results.csv");
  pepr::test::TempDir dir;
  const fs::path report = paper_report(csv, dir.path());
  ASSERT_TRUE(fs::exists(report / "index.html"));
  std::size_t files = 0;
  auto problems = figure_text_problems(chromium, report, dir.path(), &files);
  EXPECT_EQ(files, 18u);  // 17 and the findings' at a glance
  EXPECT_TRUE(problems.empty()) << problems.size() << " text problems:" << lines(problems);
}

// The same for a small sweep's report (few models, short names, one score's bounds).
TEST(ReportBrowser, SmallSweepFiguresTextFitsAndDoesNotOverlap) {
  PEPR_REQUIRE_CHROMIUM(chromium);
  pepr::test::TempDir dir;
  const fs::path report = small_sweep_report(dir.path());
  ASSERT_TRUE(fs::exists(report / "index.html"));
  std::size_t files = 0;
  auto problems = figure_text_problems(chromium, report, dir.path(), &files);
  EXPECT_EQ(files, 18u);  // 17 and the findings' at a glance
  EXPECT_TRUE(problems.empty()) << problems.size() << " text problems:" << lines(problems);
}
