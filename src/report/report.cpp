#include "report/report.hpp"
#include "core/version.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/format.hpp"
#include "report/findings.hpp"
#include "report/html.hpp"
#include "report/reproduction.hpp"

namespace pepr::report {

namespace fs = std::filesystem;

namespace {

using json = nlohmann::json;

// A JSON value as one line of text: strings as they are, objects as "k: v, ...".
std::string json_text(const json& j) {
  if (j.is_null()) return "";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object()) {
    std::string s;
    for (auto it = j.begin(); it != j.end(); ++it)
      s += (s.empty() ? "" : ", ") + it.key() + ": " + json_text(it.value());
    return s;
  }
  if (j.is_array()) {
    std::string s;
    for (const auto& v : j) s += (s.empty() ? "" : ", ") + json_text(v);
    return s;
  }
  return j.dump();
}

const json* member(const json& j, const char* a, const char* b = nullptr) {
  if (!j.is_object() || !j.contains(a)) return nullptr;
  const json* v = &j.at(a);
  if (!b) return v;
  if (!v->is_object() || !v->contains(b)) return nullptr;
  return &v->at(b);
}

// The run environments and meter methods of the records behind the table.
struct RunsSummary {
  std::optional<ReportTable> environments;
  std::optional<ReportTable> methods;
  std::vector<std::string> notes;
};

RunsSummary summarise_runs(const ReportData& d, const Table& input, const ReportOptions& o) {
  RunsSummary out;
  if (!o.runs.empty() || !o.runs_dir.empty()) {
    std::set<std::string> wanted;
    if (auto c = input.find_column("run_id"))
      for (std::size_t r = 0; r < input.num_rows(); ++r) wanted.emplace(input.cell(r, *c));
    std::map<std::vector<std::string>, std::size_t> envs;
    std::size_t used = 0;
    for (const auto& rec : o.runs) {
      if (!wanted.empty() && (!rec.run_id || !wanted.count(*rec.run_id))) continue;
      ++used;
      std::vector<std::string> key;
      const json env = rec.environment.value_or(json::object());
      for (const char* k :
           {"hostname", "cpu", "gpu", "threads", "libtorch", "pepr_version", "meter_methods"}) {
        const json* v = member(env, k);
        key.push_back(v ? json_text(*v) : "");
      }
      key.push_back(rec.config ? rec.config->device.value_or("") : "");
      ++envs[key];
    }
    ReportTable t;
    t.name = "environment";
    t.title = "Run environment";
    t.data = Table({"runs", "hostname", "cpu", "gpu", "threads", "libtorch", "pepr_version",
                    "meter_methods", "device"},
                   "environment");
    for (const auto& [key, n] : envs) {
      std::vector<std::string> row{std::to_string(n)};
      row.insert(row.end(), key.begin(), key.end());
      t.data.add_row(row);
    }
    t.view = t.data;
    t.normalisation = "none: no score in this table";
    t.caption = fmt::format(
        "The machines and meters behind the results: {} run records read from {}{}, grouped by "
        "host, CPU, GPU, threads, LibTorch and pepr versions, the meter method of each "
        "component and the training device.",
        used, o.runs_dir.empty() ? "the given records" : "'" + o.runs_dir + "'",
        wanted.empty() ? "" : " (those whose run_id is in the table)");
    if (used == 0)
      out.notes.push_back(
          fmt::format("no run record in '{}' matches a run_id of the table", o.runs_dir));
    else
      out.environments = std::move(t);
  }
  if (auto mc = input.find_column("energy_method")) {
    std::map<std::pair<std::string, std::string>, std::size_t> counts;
    for (std::size_t r = 0; r < input.num_rows(); ++r)
      ++counts[{d.experiments[d.scored.groups.group_of[r]].name, std::string(input.cell(r, *mc))}];
    ReportTable t;
    t.name = "energy_methods";
    t.title = "Energy meter methods";
    t.data = Table({"experiment", "energy_method", "runs"}, "energy_methods");
    for (const auto& [k, n] : counts) t.data.add_row({k.first, k.second, std::to_string(n)});
    t.view = t.data;
    t.normalisation = "none: no score in this table";
    t.caption =
        "How the energy of the runs was measured, per experiment (the table's energy_method "
        "column, from pepr collect): rapl and perf read the CPU's energy counters, nvml the "
        "GPU's, estimate is a model of the power draw (see docs/meters.md).";
    out.methods = std::move(t);
  }
  return out;
}

// The cells of the paper's printed Table 1 that differ from its released data, and why (the print
// itself is not in the data: these are read off it). Matched by experiment and model; the value
// the print shows is given where the data has it (another epoch's accuracy).
struct PrintedCell {
  const char* experiment;
  const char* model;
  const char* epoch_column;  // the column the printed P was taken from, or nullptr
  const char* note;          // {} is that column's value
};
constexpr PrintedCell kPrintedCells[] = {
    {"derma", "ese_vovnet19b_dw", "test_07",
     "printed P {} is test_07, the run's best epoch; its printed PePR-E uses test_09, as here"},
    {"lidc", "resnet34d", nullptr,
     "printed energy 21.7 Wh; the printed PePR-E 0.6273 fits the data's 31.68 Wh, as here"},
};

// The print_note column of the printed table: each known difference, where the table has its
// row (and when its data carries the columns the note quotes).
void flag_printed_cells(const ReportData& d, ReportTable& t) {
  std::vector<std::string> notes(t.data.num_rows());
  bool any = false;
  const std::size_t ec = t.data.require_column("experiment"), mc = t.data.require_column("model");
  for (std::size_t r = 0; r < t.data.num_rows(); ++r)
    for (const auto& c : kPrintedCells) {
      if (t.data.cell(r, ec) != c.experiment || t.data.cell(r, mc) != c.model) continue;
      std::string value;
      if (c.epoch_column) {
        const auto col = d.scored.table.find_column(c.epoch_column);
        if (!col) continue;
        for (std::size_t i = 0; i < d.ids.size(); ++i)
          if (d.ids[i] == c.model &&
              d.experiments[d.scored.groups.group_of[i]].name == c.experiment)
            value = fmt::format("{:.4f}", d.scored.table.number(i, *col));
      }
      notes[r] = fmt::format(fmt::runtime(c.note), value);
      any = true;
    }
  if (!any) return;
  t.data.add_column("print_note", notes);
  t.view.add_column("printed", notes);
  t.caption +=
      " The column printed flags the cells the paper prints differently from its data, "
      "with the reason; three more printed cells are truncated rather than rounded "
      "(not identified here).";
}

// With min-max R (the default) and an energy score: the Table 1 layout under the convention the
// paper printed, R = E / E_max within each experiment, so that its numbers can be read against
// the print. Nothing when the report already uses that convention (or fixed bounds).
std::optional<ReportTable> printed_table1(const ReportData& d, std::size_t top) {
  if (d.norm.kind != Normalization::Kind::MinMax) return std::nullopt;
  for (std::size_t i = 0; i < d.scores.size(); ++i) {
    if (d.scores[i].spec.kind != "energy") continue;
    ReportData z = d;
    z.norm.kind = Normalization::Kind::Zero;
    ScoreSeries& s = z.scores[i];
    const Grouping& g = d.scored.groups;
    s.norm = normalize(s.raw, g.group_of, g.names.size(), z.norm);
    for (std::size_t r = 0; r < s.raw.size(); ++r)
      s.score[r] = pepr_score(d.performance[r], s.norm[r], d.alpha);
    ReportTable t = top_table(z, i, top);
    t.name = "table1_printed";
    t.title = "The paper's Table 1 as printed: " + t.title + ", with R = E / E_max";
    t.paper = "Table 1";
    flag_printed_cells(d, t);
    return t;
  }
  return std::nullopt;
}

// Which item of the report reproduces which of the paper's figures and tables.
ReportTable paper_map(const Report& r) {
  ReportTable t;
  t.name = "paper_map";
  t.title = "The report's items and the paper's figures and tables";
  t.data = Table({"item", "kind", "title", "paper", "file"}, "paper_map");
  for (const auto& f : r.figures.figures)
    t.data.add_row({f.name, "figure", f.title, f.paper.empty() ? "pepr's own" : f.paper,
                    "figures/" + f.name + ".svg"});
  for (const auto& x : r.tables)
    t.data.add_row({x.name, "table", x.title, x.paper.empty() ? "pepr's own" : x.paper,
                    "tables/" + x.name + ".csv"});
  t.view = t.data;
  t.normalisation = "none: a list of the report's items";
  t.caption =
      "Each figure and table of this report, by name and title, and the figure or table of the "
      "paper it reproduces (in the page: \"As the paper's Fig. N\"); the paper's Fig. 1 "
      "(publications per capita) is not about results "
      "tables and is not drawn.";
  return t;
}

std::string table_files(const ReportTable& t) {
  return fmt::format(
      "<p class=\"files\">Files: <a href=\"tables/{0}.csv\">tables/{0}.csv</a> · "
      "<a href=\"tables/{0}.md\">.md</a> · <a href=\"tables/{0}.tex\">.tex</a></p>\n",
      html_escape(t.name));
}

std::string notes_html(const std::vector<std::string>& notes) {
  if (notes.empty()) return "";
  std::string s = "<ul class=\"notes\">\n";
  for (const auto& n : notes) s += "<li>" + html_escape(n) + "</li>\n";
  return s + "</ul>\n";
}

std::string pairs_text(const std::vector<ExperimentPair>& pairs) {
  if (pairs.empty()) return "none";
  std::string s;
  for (const auto& p : pairs) s += (s.empty() ? "" : ", ") + p.a + " vs " + p.b;
  return s;
}

std::string manifest(const ReportData& d, const Report& r, const ReportOptions& o) {
  json m;
  m["schema"] = "pepr.report/1";
  m["input"] = o.input_name.empty() ? d.source : o.input_name;
  m["rows"] = d.ids.size();
  m["performance"] = d.performance_label;
  m["group_by"] = d.group_by;
  m["normalisation"] = d.norm.describe();
  m["alpha"] = d.alpha;
  m["resources"] = json::array();
  for (const auto& s : d.scores)
    m["resources"].push_back({{"kind", s.spec.kind},
                              {"column", s.spec.column},
                              {"score", s.spec.score_name},
                              {"name", s.name}});
  m["experiments"] = json::array();
  for (const auto& e : d.experiments)
    m["experiments"].push_back({{"name", e.name}, {"rows", e.rows.size()}});
  auto pairs = [](const std::vector<ExperimentPair>& ps) {
    json a = json::array();
    for (const auto& p : ps) a.push_back({p.a, p.b});
    return a;
  };
  m["pairs"] = {{"pretrained_vs_scratch", pairs(d.pretrain_pairs)},
                {"data_10_vs_100", pairs(d.fraction_pairs)}};
  m["figures"] = json::array();
  for (const auto& f : r.figures.figures) {
    json panels = json::array();
    for (const auto& p : f.panels)
      panels.push_back({{"experiment", p.experiment}, {"label", p.label}, {"points", p.points}});
    m["figures"].push_back({{"name", f.name},
                            {"file", "figures/" + f.name + ".svg"},
                            {"title", f.title},
                            {"paper", f.paper},
                            {"normalisation", f.normalisation},
                            {"points", f.points()},
                            {"panels", panels}});
  }
  m["left_out"] = json::array();
  for (const auto& [name, why] : r.figures.left_out)
    m["left_out"].push_back({{"name", name}, {"why", why}});
  m["tables"] = json::array();
  for (const auto& t : r.tables)
    m["tables"].push_back(
        {{"name", t.name}, {"paper", t.paper}, {"normalisation", t.normalisation}});
  m["notes"] = r.notes;
  return m.dump(2) + "\n";
}

}  // namespace

namespace {

// Runs pepr bench pruned (pepr collect's status column): scored with their projected totals.
std::optional<std::string> pruned_runs_note(const ReportData& d, const Table& input) {
  auto sc = input.find_column("status");
  if (!sc) return std::nullopt;
  std::vector<std::string> pruned;
  auto spent = input.find_column("energy_kwh");
  auto projected = input.find_column("energy");
  for (std::size_t r = 0; r < input.num_rows(); ++r)
    if (input.cell(r, *sc) == "pruned")
      pruned.push_back(fmt::format("{} ({}): projected {} kWh, spent {} kWh", d.ids[r],
                                   d.experiments[d.scored.groups.group_of[r]].name,
                                   projected ? std::string(input.cell(r, *projected)) : "?",
                                   spent ? std::string(input.cell(r, *spent)) : "?"));
  if (pruned.empty()) return std::nullopt;
  return fmt::format(
      "{} run{} pruned by pepr bench --prune-top (they could not reach the top K): scored "
      "with the projected total energy their pruning bound used, not with what they spent "
      "before they were stopped: {}",
      pruned.size(), pruned.size() == 1 ? " was" : "s were", fmt::join(pruned, "; "));
}

// index.html, section by section; tables and figures numbered in the order they appear.
class IndexPage {
 public:
  IndexPage(const ReportData& d, const Report& rep, const ReportOptions& o)
      : d_(d), rep_(rep), o_(o), input_name_(o.input_name.empty() ? d.source : o.input_name) {}

  void header(bool runs_section) {
    b_ += fmt::format(
        "<header>\n<h1>{}</h1>\n<p class=\"sub\">{} · {} · {} experiment{} · "
        "P = {} · PePR = {}</p>\n</header>\n",
        html_escape(o_.title), html_escape(input_name_),
        plural(static_cast<long long>(d_.ids.size()), "row"), d_.experiments.size(),
        d_.experiments.size() == 1 ? "" : "s", html_escape(d_.performance_label),
        d_.alpha == 1.0 ? "P / (1 + R)"
                        : html_escape(fmt::format("{0} P / ({0} + R)", format_number(d_.alpha))));
    b_ +=
        "<nav><a href=\"#findings\">Findings</a><a href=\"#summary\">Summary</a>"
        "<a href=\"#tables\">Tables</a><a href=\"#reproduction\">Reproduction</a>"
        "<a href=\"#figures\">Figures</a>";
    if (runs_section) b_ += "<a href=\"#runs\">Runs</a>";
    b_ +=
        "<a href=\"#paper-map\">Paper map</a>"
        "<a href=\"#all-rows\">All rows</a><a href=\"#glossary\">Glossary</a></nav>\n<main>\n";
  }

  // The answer first: per experiment, what the primary PePR winner saves against the most
  // accurate model (a sentence each), the figure at a glance, the table of every resource.
  void findings(const Findings& f) {
    b_ += "<section id=\"findings\">\n<h2>Findings</h2>\n";
    if (f.all.empty()) {
      b_ += "<p>No experiment has a row with P, a resource and its score.</p>\n</section>\n";
      return;
    }
    b_ += "<ul class=\"findings\">\n";
    for (std::size_t i : f.primary) b_ += "<li>" + html_escape(f.all[i].sentence()) + "</li>\n";
    b_ += "</ul>\n";
    b_ += fmt::format("<p class=\"norm\">P = {}; R: {}.</p>\n", html_escape(d_.performance_label),
                      norm_link());
    // What the numbers behind them are worth (estimated energy, a loaded machine, ...).
    if (!d_.caveat_notes.empty())
      b_ += "<div class=\"note\">" + notes_html(d_.caveat_notes) + "</div>\n";
    if (!f.robustness.empty()) {
      b_ += fmt::format(
          "<p id=\"robustness\">Within the measurement error ({}; "
          "<a href=\"#glossary\">docs/meters.md</a> has the error model):</p>\n<ul>\n",
          html_escape(f.robustness_basis));
      for (const auto& s : f.robustness) b_ += "<li>" + html_escape(s) + "</li>\n";
      b_ += "</ul>\n";
    }
    if (!f.seed_robustness.empty()) {
      b_ +=
          "<p id=\"seed-robustness\">Over the seeds (the mean score of each model's runs and "
          "its 95 % Student-t interval):</p>\n<ul>\n";
      for (const auto& s : f.seed_robustness) b_ += "<li>" + html_escape(s) + "</li>\n";
      b_ += "</ul>\n";
    }
    if (f.figure)
      b_ += fmt::format(
          "<figure id=\"figure-findings\" data-figure=\"findings\" data-points=\"{}\">\n{}"
          "<figcaption><b>At a glance. {}.</b> {} <a href=\"figures/findings.svg\">SVG "
          "file</a>.</figcaption>\n</figure>\n",
          f.figure->points(), f.figure->svg_inline, html_escape(f.figure->title),
          html_escape(f.figure->caption));
    table_block(f.table, /*folded=*/true);
    b_ += "</section>\n";
  }

  // Every definition once: P, each score's normalisation, small-scale, the paper's names.
  void glossary() {
    b_ += "<section id=\"glossary\">\n<h2>Glossary</h2>\n<dl class=\"meta\">\n";
    dt("P", html_escape(d_.performance_label + ": the performance, in [0, 1]"));
    b_ += fmt::format("<dt id=\"normalisation\">R</dt><dd>{}</dd>\n",
                      html_escape("the resource cost normalised to [0, 1], score by score:"));
    for (const auto& s : d_.scores)
      b_ += fmt::format(
          "<dt>{}</dt><dd>{} = {}; {}{}</dd>\n", html_escape(s.name), html_escape(s.name),
          d_.alpha == 1.0 ? std::string("P / (1 + R)")
                          : html_escape(fmt::format("{0} P / ({0} + R)", format_number(d_.alpha))),
          html_escape(d_.norm_text(s)),
          s.unit.empty() ? "" : html_escape(fmt::format(" ({} in {})", s.resource, s.unit)));
    if (d_.has_params())
      dt("small-scale", html_escape(fmt::format("{} ('{}')", d_.small_text(), d_.params_column)));
    std::string names;
    for (const auto& [ours, paper] :
         {std::pair<const char*, const char*>{"derma", "Derma_NPT"}, {"derma_pt", "Derma_PT"}})
      if (d_.experiment_index(ours) != static_cast<std::size_t>(-1))
        names += fmt::format("{}{} is the paper's {}", names.empty() ? "" : "; ", ours, paper);
    if (!names.empty()) dt("experiments", html_escape(names));
    b_ += "</dl>\n</section>\n";
  }

  void summary() {
    b_ += "<section id=\"summary\">\n<h2>Summary</h2>\n<dl class=\"meta\">\n";
    dt("input", "<code>" + html_escape(input_name_) + "</code>");
    if (!o_.command_line.empty())
      dt("command", "<code>" + html_escape(o_.command_line) + "</code>");
    dt("performance P", html_escape(d_.performance_label) + " (in [0, 1])");
    std::string res;
    for (const auto& s : d_.scores)
      res += (res.empty() ? "" : "; ") + fmt::format("{}: {} ('{}'{})", s.name, s.resource,
                                                     s.spec.column,
                                                     s.unit.empty() ? "" : ", " + s.unit);
    dt("resources", html_escape(res));
    dt("normalisation", norm_link());
    std::string ex;
    for (const auto& e : d_.experiments)
      ex += (ex.empty() ? "" : ", ") + fmt::format("{} ({})", e.name, e.rows.size());
    dt("experiments", html_escape(ex));
    dt("pretrained vs scratch", html_escape(pairs_text(d_.pretrain_pairs)));
    dt("10 % vs 100 % data", html_escape(pairs_text(d_.fraction_pairs)));
    if (d_.has_params())
      dt("small-scale",
         html_escape(fmt::format("{} ('{}'; --size-split)", d_.small_text(), d_.params_column)));
    b_ += "</dl>\n";
    if (!rep_.notes.empty()) b_ += "<div class=\"note\">" + notes_html(rep_.notes) + "</div>\n";
    b_ += "</section>\n";
  }

  // The score tables (the primary one open, the others folded), then the group tests with the
  // comparisons they left out.
  void tables(std::size_t n_score_tables) {
    b_ += "<section id=\"tables\">\n<h2>Tables</h2>\n";
    for (std::size_t i = 0; i < n_score_tables; ++i) table_block(rep_.tables[i], i > 0);
    const ReportTable& t = rep_.tables[n_score_tables];
    table_block(t, false);
    if (t.notes.size() > 1) {
      std::vector<std::string> left(t.notes.begin() + 1, t.notes.end());
      b_ += fmt::format("<details><summary>{} comparison{} left out</summary>\n{}</details>\n",
                        left.size(), left.size() == 1 ? "" : "s", notes_html(left));
    }
    b_ += "</section>\n";
  }

  // The paper's figures first, each named "As the paper's Fig. N" (in the paper's order), then
  // pepr's own in a section of their own: no numbering of the report's that could be mistaken for
  // the paper's.
  void figures() {
    b_ +=
        "<section id=\"figures\">\n<h2>The paper's figures</h2>\n<p class=\"caption\">Drawn by "
        "pepr as SVG (files under <code>figures/</code>) from this table; hover a point for the "
        "model.</p>\n";
    std::vector<const Figure*> paper, own;
    for (const auto& f : rep_.figures.figures) (f.paper.empty() ? own : paper).push_back(&f);
    std::stable_sort(paper.begin(), paper.end(), [](const Figure* a, const Figure* b) {
      return paper_number(a->paper) < paper_number(b->paper);
    });
    for (const Figure* f : paper) figure_block(*f, "As the paper's " + f->paper + ": ");
    if (!own.empty()) {
      b_ +=
          "<h2 id=\"pepr-figures\">pepr's own figures</h2>\n<p class=\"caption\">Views the paper "
          "does not have: per experiment, per score and per pair of experiments.</p>\n";
      for (const Figure* f : own) figure_block(*f, "");
    }
    if (!rep_.figures.left_out.empty()) {
      b_ += "<h3 id=\"left-out\">Figures left out</h3>\n<ul class=\"left-out\">\n";
      for (const auto& [name, why] : rep_.figures.left_out)
        b_ += fmt::format("<li><code>{}</code>: {}</li>\n", html_escape(name), html_escape(why));
      b_ += "</ul>\n";
    }
    b_ += "</section>\n";
  }

  // A section of whole tables (id, heading, the tables; the last one folded when asked).
  void section(const char* id, const char* heading, std::vector<const ReportTable*> tables,
               bool fold = false) {
    b_ += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n", id, heading);
    for (const ReportTable* t : tables) table_block(*t, fold);
    b_ += "</section>\n";
  }

  std::string finish() {
    b_ += "</main>\n";
    b_ += fmt::format(
        "<footer>Made by pepr {} (<code>pepr report</code>). PePR: Selvan et al., \"Equity "
        "through Access: A Case for Small-scale Deep Learning\". Ranked by {}; every number is in "
        "<code>tables/</code> and <code>manifest.json</code>.</footer>",
        kVersion, html_escape(d_.primary_score().name));
    return html_page(o_.title + ": " + input_name_, b_);
  }

 private:
  const ReportData& d_;
  const Report& rep_;
  const ReportOptions& o_;
  const std::string input_name_;
  std::string b_;

  // The normalisation in a few words, linked to the glossary's full statement.
  std::string norm_link() const {
    return fmt::format("<a href=\"#normalisation\">{}</a>", html_escape(d_.norm_label()));
  }

  void dt(const std::string& k, const std::string& v_html) {
    b_ += fmt::format("<dt>{}</dt><dd>{}</dd>\n", html_escape(k), v_html);
  }

  // "Fig. 5c" -> 5.03: the paper's order (figures without a number last).
  static double paper_number(const std::string& paper) {
    const auto at = paper.find_first_of("0123456789");
    if (at == std::string::npos) return 1e9;
    std::size_t used = 0;
    const double n = std::stod(paper.substr(at), &used);
    const std::size_t letter = at + used;
    return n + (letter < paper.size() && std::isalpha(static_cast<unsigned char>(paper[letter]))
                    ? (paper[letter] - 'a' + 1) / 100.0
                    : 0.0);
  }

  // The report's normalisation as the glossary's link; a figure's own (the PePR curves', or
  // "none") in full.
  std::string figure_norm(const Figure& f) const {
    std::string out = html_escape(f.normalisation);
    std::vector<std::string> stated{html_escape(d_.norm_text())};
    for (const auto& s : d_.scores) stated.push_back(html_escape(d_.norm_text(s)));
    for (const auto& text : stated)  // the whole report's statement first: it holds the others
      for (std::size_t at; !text.empty() && (at = out.find(text)) != std::string::npos;)
        out.replace(at, text.size(), norm_link());
    return out;
  }

  void figure_block(const Figure& f, const std::string& prefix) {
    b_ += fmt::format(
        "<figure id=\"figure-{0}\" data-figure=\"{0}\" data-points=\"{1}\">\n{2}<figcaption><b>"
        "{3}{4}.</b> {5} R: {6}. <a href=\"figures/{0}.svg\">SVG file</a>.</figcaption>\n"
        "</figure>\n",
        html_escape(f.name), f.points(), f.svg_inline, html_escape(prefix), html_escape(f.title),
        html_escape(f.caption), figure_norm(f));
  }

  void table_block(const ReportTable& t, bool folded) {
    std::string head = t.paper.empty() ? t.title : "As the paper's " + t.paper + ": " + t.title;
    std::string inner = fmt::format("<p class=\"caption\">{}</p>\n", html_escape(t.caption)) +
                        fmt::format("<p class=\"norm\">R: {}</p>\n", norm_link()) + table_files(t) +
                        html_table(t.view, "table-" + t.name);
    if (folded)
      b_ += fmt::format("<details id=\"{}\"><summary>{}</summary>\n{}</details>\n",
                        html_escape("section-" + t.name), html_escape(head), inner);
    else
      b_ += fmt::format("<h3 id=\"{}\">{}</h3>\n{}", html_escape("section-" + t.name),
                        html_escape(head), inner);
  }
};

// Every table as CSV, Markdown and LaTeX; every figure as SVG; the manifest.
void add_files(Report& rep, const ReportData& d, const ReportOptions& o) {
  for (const auto& t : rep.tables) {
    RenderOptions ro;
    ro.title = t.title;
    ro.notes = t.notes;
    rep.files.emplace_back("tables/" + t.name + ".csv", t.data.to_csv());
    rep.files.emplace_back("tables/" + t.name + ".md", render(t.view, Format::Markdown, ro));
    rep.files.emplace_back("tables/" + t.name + ".tex", render(t.view, Format::Latex, ro));
  }
  for (const auto& f : rep.figures.figures)
    rep.files.emplace_back("figures/" + f.name + ".svg", f.svg);
  rep.files.emplace_back("manifest.json", manifest(d, rep, o));
}

}  // namespace

Report build_report(const Table& input, const ReportOptions& o) {
  ReportData d = prepare_data(input, o);
  Report rep;
  rep.notes = d.notes;

  // Tables: the primary score's Table 1 first, then the other scores', the tests, every row.
  std::vector<std::size_t> order{d.primary};
  for (std::size_t i = 0; i < d.scores.size(); ++i)
    if (i != d.primary) order.push_back(i);
  for (std::size_t i : order)
    rep.tables.push_back(top_table(d, i, std::max<std::size_t>(1, o.top)));
  // The paper's Table 1 as printed (R = E / E_max) beside pepr's min-max ranking, each labelled.
  std::size_t n_score_tables = order.size();
  if (auto printed = printed_table1(d, std::max<std::size_t>(1, o.top))) {
    for (auto& t : rep.tables)
      if (t.paper == "Table 1") {
        t.paper = "";  // pepr's own: the authors' released (min-max) convention
        t.title += " (pepr's ranking, min-max as the authors' released scores)";
      }
    rep.tables.insert(rep.tables.begin() + 1, std::move(*printed));
    ++n_score_tables;
  }
  GroupTests tests = group_tests(d);
  rep.tables.push_back(tests_table(d, tests));
  rep.tables.push_back(scores_table(d));
  RunsSummary runs = summarise_runs(d, input, o);
  if (auto note = pruned_runs_note(d, input)) rep.notes.push_back(*note);
  if (runs.environments) rep.tables.push_back(*runs.environments);
  if (runs.methods) rep.tables.push_back(*runs.methods);
  rep.notes.insert(rep.notes.end(), runs.notes.begin(), runs.notes.end());
  rep.tables.push_back(reproduction_table(d, tests));
  rep.figures = make_figures(d, tests);
  Findings findings = make_findings(d);
  rep.findings = findings.all;
  rep.robustness = findings.robustness;
  rep.seed_robustness = findings.seed_robustness;
  rep.tables.push_back(findings.table);
  rep.tables.push_back(paper_map(rep));
  add_files(rep, d, o);
  if (findings.figure) rep.files.emplace_back("figures/findings.svg", findings.figure->svg);

  const ReportTable& reproduction = rep.tables[rep.tables.size() - 3];
  const ReportTable& map = rep.tables[rep.tables.size() - 2];
  IndexPage page(d, rep, o);
  page.header(runs.environments || runs.methods);
  page.findings(findings);
  page.summary();
  page.tables(n_score_tables);
  // The verdicts on the paper's claims before the figures (17 of them on the paper's data).
  page.section("reproduction", "Reproduction of the paper", {&reproduction});
  page.figures();
  if (runs.environments || runs.methods) {
    std::vector<const ReportTable*> run_tables;
    if (runs.environments) run_tables.push_back(&*runs.environments);
    if (runs.methods) run_tables.push_back(&*runs.methods);
    page.section("runs", "Runs", run_tables);
  }
  page.section("paper-map", "Paper map", {&map});
  page.section("all-rows", "All rows", {&rep.tables[n_score_tables + 1]}, /*fold=*/true);
  page.glossary();
  rep.files.emplace_back("index.html", page.finish());
  return rep;
}

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

void write_all(const Report& rep, const fs::path& dir) {
  for (const auto& [rel, content] : rep.files) {
    fs::path target = dir / rel;
    make_dirs(target.parent_path().string());
    write_file_atomic(target.string(), content);
  }
}

}  // namespace

namespace {

// The top-level entries of a report folder.
bool is_report_entry(const std::string& name) {
  return name == "index.html" || name == "manifest.json" || name == "tables" || name == "figures";
}

// Whether `dir` holds a report pepr wrote: its manifest says so.
bool holds_report(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "manifest.json", ec)) return false;
  try {
    auto m = json::parse(read_text_file((dir / "manifest.json").string()));
    return m.is_object() && m.value("schema", std::string()) == "pepr.report/1";
  } catch (const std::exception&) {
    return false;
  }
}

// Entries of `dir` that are not a report's (hidden files left out).
std::vector<std::string> foreign_entries(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (!n.empty() && n[0] != '.' && !is_report_entry(n)) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Writes the report into a fresh temporary sibling of `dir`; returns its path.
fs::path write_sibling(const Report& rep, const fs::path& dir, const std::string& text) {
  fs::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw Error(fmt::format("{}: cannot create the report folder: {}", text, ec.message()));
  std::random_device rd;
  fs::path tmp = parent / fmt::format(".{}.tmp.{}.{:x}", dir.filename().string(), ::getpid(), rd());
  if (!fs::create_directory(tmp, ec) || ec)
    throw Error(fmt::format("{}: cannot create the report folder: {}", text,
                            ec ? ec.message() : "it exists"));
  try {
    write_all(rep, tmp);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return tmp;
}

}  // namespace

void write_report(const Report& rep, const std::string& dir_text, bool force) {
  std::string text = dir_text;
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  if (text.empty() || text == "-") throw Error("the report needs an output folder (-o DIR)");
  fs::path dir(text);
  std::error_code ec;
  fs::file_status st = fs::status(dir, ec);
  const bool exists = fs::exists(st);
  if (exists && !fs::is_directory(st))
    throw Error(fmt::format("{}: exists and is not a folder", text));
  const bool empty = exists && fs::is_empty(dir, ec) && !ec;
  if (exists && !empty) {
    if (::access(text.c_str(), W_OK | X_OK) != 0)
      throw Error(fmt::format("{}: cannot write into the folder: {}", text, errno_text()));
    const bool report = holds_report(dir);
    const std::vector<std::string> foreign = foreign_entries(dir);
    if (report && foreign.empty()) {
      // A previous report, nothing else: replaced whole, so none of its files outlives it. The
      // new one is made aside, then swapped in.
      fs::path tmp = write_sibling(rep, dir, text);
      fs::path old = tmp;
      old += ".old";
      if (std::rename(dir.c_str(), old.c_str()) != 0 ||
          std::rename(tmp.c_str(), dir.c_str()) != 0) {
        const std::string e = errno_text();
        if (!fs::exists(dir, ec)) std::rename(old.c_str(), dir.c_str());
        fs::remove_all(tmp, ec);
        throw Error(fmt::format("{}: cannot replace the previous report: {}", text, e));
      }
      fs::remove_all(old, ec);
      return;
    }
    if (!force) {
      std::vector<std::string> shown(foreign.begin(),
                                     foreign.begin() + std::min<std::ptrdiff_t>(3, foreign.size()));
      throw Error(fmt::format(
          "{}: the folder holds files that are not a pepr report ({}{}); give --force to write "
          "the report into it (those files are kept), or choose another folder",
          text, fmt::join(shown, ", "), foreign.size() > shown.size() ? ", ..." : ""));
    }
    // --force: the user's files stay; a previous report's files go, so none is left stale.
    if (report)
      for (const char* n : {"tables", "figures", "manifest.json", "index.html"})
        fs::remove_all(dir / n, ec);
    write_all(rep, dir);
    return;
  }
  fs::path tmp = write_sibling(rep, dir, text);
  if (std::rename(tmp.c_str(), dir.c_str()) != 0) {
    const std::string e = errno_text();
    fs::remove_all(tmp, ec);
    throw Error(fmt::format("{}: cannot move the report into place: {}", text, e));
  }
}

}  // namespace pepr::report
