#include "report/findings.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/robustness.hpp"
#include "report/html.hpp"
#include "report/svg.hpp"

namespace pepr::report {

namespace {

std::string share_text(double share) {
  return std::isfinite(share) ? fmt::format("{:.0f} %", 100 * share) : std::string("-");
}

ReportTable findings_table(const ReportData& d, const std::vector<Finding>& all) {
  ReportTable t;
  t.name = "findings";
  t.title = "What choosing by PePR saves";
  t.caption =
      "Per experiment and resource, the model each PePR score ranks first against the most "
      "accurate model (the highest P): the resource the PePR winner does without, in the "
      "resource's unit and as a share of the most accurate model's, and the performance it "
      "gives up. 0 % and 0 P: the most accurate model is also the PePR winner.";
  t.normalisation = d.norm_text();
  Table data({"experiment", "score", "resource", "unit", "pepr_winner", "winner_p",
              "winner_resource", "most_accurate", "most_accurate_p", "most_accurate_resource",
              "saved", "saved_share", "p_given_up"},
             "findings");
  Table view({"experiment", "by", "PePR winner", "P", "most accurate", "P (best)", "saved",
              "saved %", "P given up"},
             "findings");
  for (const auto& f : all) {
    data.add_row({f.experiment, f.score_name, f.resource_name, f.unit, f.winner_id,
                  format_number(f.winner_p), format_number(f.winner_resource), f.most_accurate_id,
                  format_number(f.most_accurate_p), format_number(f.most_accurate_resource),
                  format_number(f.saved()),
                  std::isfinite(f.saved_share()) ? format_number(f.saved_share()) : "",
                  format_number(f.p_given_up())});
    view.add_row({f.experiment, f.score_name, f.winner_id, fmt::format("{:.4f}", f.winner_p),
                  f.same_model() ? "(the same)" : f.most_accurate_id,
                  fmt::format("{:.4f}", f.most_accurate_p),
                  format_quantity(f.saved(), f.unit) + " " + f.resource_name,
                  share_text(f.saved_share()), fmt::format("{:.3f}", f.p_given_up())});
  }
  t.data = std::move(data);
  t.view = std::move(view);
  t.notes.push_back(fmt::format("P = {}", d.performance_label));
  t.notes.push_back(t.normalisation);
  return t;
}

// One row per experiment, one bar per resource: the share of the most accurate model's resource
// that the PePR winner does without, and the performance it gives up.
Figure findings_figure(const ReportData& d, const std::vector<Finding>& all) {
  std::vector<std::string> scores;  // in the report's order
  for (const auto& s : d.scores)
    for (const auto& f : all)
      if (f.score_name == s.name && std::find(scores.begin(), scores.end(), s.name) == scores.end())
        scores.push_back(s.name);
  const char* palette[] = {colors::kBlue,   colors::kOrange, colors::kGreen,
                           colors::kPurple, colors::kSky,    colors::kVermillion};
  auto color_of = [&](const std::string& name) {
    const auto i =
        static_cast<std::size_t>(std::find(scores.begin(), scores.end(), name) - scores.begin());
    return palette[i % std::size(palette)];
  };
  std::vector<std::string> experiments;
  for (const auto& f : all)
    if (std::find(experiments.begin(), experiments.end(), f.experiment) == experiments.end())
      experiments.push_back(f.experiment);
  const double font = 12, bar_h = 10, gap = 2, row_pad = 12;
  double name_w = 0;
  for (const auto& e : experiments) name_w = std::max(name_w, Svg::text_width(e, font));
  const double left = 16 + name_w + 10, plot_w = 420, note_w = 150;
  const double width = left + plot_w + note_w + 16;
  const double row_h = static_cast<double>(scores.size()) * (bar_h + gap) + row_pad;
  const double top = 84;
  const double height = top + static_cast<double>(experiments.size()) * row_h + 36;
  Svg svg(width, height, "fig-findings", "What choosing by PePR saves",
          "Per experiment, the share of the most accurate model's resource that the PePR winner "
          "does without, and the performance it gives up");
  svg.text(16, 20, "What choosing by PePR saves against choosing the most accurate model", "start",
           "font-size=\"14\" font-weight=\"bold\"");
  std::vector<LegendItem> legend;
  for (const auto& s : scores)
    legend.push_back({s, color_of(s), LegendItem::Kind::Box, Shape::Circle, false, 0.85});
  svg.legend(16, 28, legend);
  // The 0..100 % scale.
  for (int pct = 0; pct <= 100; pct += 25) {
    const double x = left + plot_w * pct / 100.0;
    svg.line(x, top - 4, x, height - 30, "stroke=\"#dddddd\"");
    svg.text(x, height - 16, fmt::format("{} %", pct), "middle", "font-size=\"11\"");
  }
  svg.text(left + plot_w / 2, height - 3, "less of the resource than the most accurate model",
           "middle", "font-size=\"11\"");
  svg.text(left + plot_w + 8, top - 8, "P given up", "start", "font-size=\"11\"");
  for (std::size_t i = 0; i < experiments.size(); ++i) {
    const double y0 = top + static_cast<double>(i) * row_h;
    svg.text(left - 8, y0 + row_h / 2, experiments[i], "end",
             fmt::format("font-size=\"{}\" dominant-baseline=\"middle\"", font));
    double given = 0;
    for (std::size_t k = 0; k < scores.size(); ++k) {
      const auto f = std::find_if(all.begin(), all.end(), [&](const Finding& x) {
        return x.experiment == experiments[i] && x.score_name == scores[k];
      });
      if (f == all.end()) continue;
      given = std::max(given, f->p_given_up());
      const double share =
          std::isfinite(f->saved_share()) ? std::clamp(f->saved_share(), 0.0, 1.0) : 0.0;
      const double y = y0 + static_cast<double>(k) * (bar_h + gap);
      const std::string tip =
          f->same_model()
              ? fmt::format("{}: {} is the most accurate and the {} winner", experiments[i],
                            f->winner_id, f->score_name)
              : fmt::format("{}: {} picks {} (P {:.4f}) over {} (P {:.4f}): {} less {} ({})",
                            experiments[i], f->score_name, f->winner_id, f->winner_p,
                            f->most_accurate_id, f->most_accurate_p, share_text(f->saved_share()),
                            f->resource_name, format_quantity(f->saved(), f->unit));
      svg.rect(left, y, std::max(1.0, plot_w * share), bar_h,
               fmt::format("class=\"pt\" fill=\"{}\" fill-opacity=\"0.85\"", color_of(scores[k])),
               tip);
    }
    svg.text(left + plot_w + 8, y0 + row_h / 2, fmt::format("{:.3f}", given), "start",
             fmt::format("font-size=\"{}\" dominant-baseline=\"middle\"", font));
  }
  Figure fig;
  fig.name = "findings";
  fig.title = "What choosing by PePR saves";
  fig.caption =
      "Each bar: the share of the most accurate model's energy (CO2eq, memory, time) that the "
      "model ranked first by that PePR score does without; right, the most P any of them gives "
      "up. No bar: the most accurate model is also the winner.";
  fig.normalisation = d.norm_text();
  fig.svg_inline = svg.str(false);  // the page links the glossary instead
  svg.footnote("Normalisation: " + fig.normalisation);
  fig.svg = svg.str(true);
  fig.panels.push_back({"", "saved share", all.size()});
  return fig;
}

}  // namespace

Findings make_findings(const ReportData& d) {
  Findings out;
  for (std::size_t i = 0; i < d.scores.size(); ++i) {
    const ScoreSeries& s = d.scores[i];
    if (!s.merged.empty() || s.spec.kind == "data") continue;
    auto f = pepr_findings(
        {d.scored.groups, d.ids, d.performance, s.raw, s.score, s.name, s.resource, s.unit});
    out.all.insert(out.all.end(), f.begin(), f.end());
  }
  // Experiment by experiment, the scores in the report's order.
  std::stable_sort(out.all.begin(), out.all.end(), [&](const Finding& a, const Finding& b) {
    return d.experiment_index(a.experiment) < d.experiment_index(b.experiment);
  });
  for (std::size_t k = 0; k < out.all.size(); ++k)
    if (out.all[k].score_name == d.primary_score().name) out.primary.push_back(k);
  out.table = findings_table(d, out.all);
  if (!out.all.empty()) out.figure = findings_figure(d, out.all);
  const ScoreSeries& p = d.primary_score();
  if (p.merged.empty())
    if (const auto b = resource_bounds(d.scored.table, p.spec, d.norm, std::nullopt)) {
      const ScoreBounds sb = pepr_bounds(d.performance, *b, d.scored.groups, d.norm, d.alpha);
      for (const auto& g : ranking_robustness(p.score, sb, d.scored.groups, 3))
        out.robustness.push_back(robustness_sentence(g, d.ids));
      out.robustness_basis = b->basis;
    }
  if (p.merged.empty() && d.scored.table.find_column("seed"))
    out.seed_robustness = seed_sentences(p.score, d.scored.groups, d.ids, p.name);
  return out;
}

}  // namespace pepr::report
