// The report's figures, each a function from the prepared data to an SVG document.
//
// Every data point is an SVG element of class "pt" with a <title> tooltip naming the model;
// every panel is a <g class="panel" data-experiment=".." data-label=".." data-points="N">
// holding its N points. A figure that has no data for the table is not drawn: its function
// returns nullopt and says why.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "report/data.hpp"
#include "report/tables.hpp"

namespace pepr::report {

struct PanelCount {
  std::string experiment;  // "" for panels not tied to one experiment
  std::string label;       // what the panel shows, e.g. "P" or "PePR-E"
  std::size_t points = 0;
};

struct Figure {
  std::string name;  // file stem under figures/ and the SVG root id "fig-<name>"
  std::string title;
  std::string caption;        // what it shows
  std::string normalisation;  // how the R behind its numbers is normalised, in words (never
                              // empty: "none" says why there is no R)
  std::string paper;          // the paper's figure it reproduces ("" for pepr's own)
  std::string svg;            // the SVG document, with its XML declaration
  std::string svg_inline;     // the same without the declaration, for HTML
  std::vector<PanelCount> panels;
  std::size_t points() const;
};

struct FigureSet {
  std::vector<Figure> figures;
  std::vector<std::pair<std::string, std::string>> left_out;  // figure name, why
};

// Every figure of the report, in the report's order.
FigureSet make_figures(const ReportData& d, const GroupTests& tests);

// The figures one by one. `why` receives the reason when one returns nullopt.
Figure isocline_figure(double alpha);
std::optional<Figure> curve_figure(const ReportData& d, std::string* why);
std::optional<Figure> model_space_figure(const ReportData& d, std::string* why);
// kind: "pretraining" (pretrained vs from scratch) or "data_fraction" (10 % vs 100 %).
std::optional<Figure> violin_figure(const ReportData& d, const GroupTests& tests,
                                    const std::string& kind, std::string* why);
std::optional<Figure> performance_params_figure(const ReportData& d, std::string* why);
Figure pareto_figure(const ReportData& d);
std::optional<Figure> score_params_figure(const ReportData& d, std::size_t score, std::string* why);
std::optional<Figure> small_large_figure(const ReportData& d, const GroupTests& tests,
                                         std::string* why);

// The paper's figures as the paper drew them (names paper_fig*):
// Figs. 4, 5c, 5d, 7: one point per model, its mean over the main experiments (which = "fig4":
// energy / the largest mean energy; "fig5c": P; "fig5d": the primary score; "fig7": every other
// score, one panel each) against parameters. Fig. 5a/5b: violins of P, pretrained vs scratch and
// each model's P averaged over the 10 % vs the 100 % experiments. Fig. 6: every model after every
// epoch of one experiment (derma_pt when present), P vs the normalised cumulative resource, the
// Pareto front over the PePR contours.
std::optional<Figure> mean_params_figure(const ReportData& d, const std::string& which,
                                         std::string* why);
std::optional<Figure> fig5ab_figure(const ReportData& d, const GroupTests& tests, std::string* why);
std::optional<Figure> fig6_figure(const ReportData& d, std::string* why);

// The main experiments: those on all of their dataset's training data and not the from-scratch
// side of a pair (the paper's derma_pt, lidc, pneumonia), indices into d.experiments.
std::vector<std::size_t> main_experiments(const ReportData& d);
// Per model, the mean over the main experiments of what the paper's averaged figures draw;
// models found once in every main experiment, in the order of the first.
struct ModelMeans {
  std::vector<std::size_t> experiments;  // the main experiments
  std::vector<std::string> ids;
  std::vector<std::size_t> rows;  // a row of the model (for its type and efficient flag)
  std::vector<double> params, p, energy;
  std::vector<std::vector<double>> score;  // per score
};
ModelMeans model_means(const ReportData& d);

// The region of the rectangle [r0, r1] x [p0, p1] where lo <= PePR(R, P) <= hi, as a polygon in
// (R, P) (PePR = alpha * P / (alpha + R): the level sets are straight lines). Empty when the
// band misses the rectangle.
std::vector<std::pair<double, double>> pepr_band(double r0, double r1, double p0, double p1,
                                                 double lo, double hi, double alpha);

}  // namespace pepr::report
