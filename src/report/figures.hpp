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
  std::string caption;     // what it shows
  std::string svg;         // the SVG document, with its XML declaration
  std::string svg_inline;  // the same without the declaration, for HTML
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

// Gaussian kernel density estimation for the violins.
// Silverman's rule of thumb: 0.9 * min(sd, IQR / 1.34) * n^(-1/5) (sd alone when the IQR is
// 0); 0 for fewer than two distinct values.
double silverman_bandwidth(const std::vector<double>& x);
// The density at each of `at` (integrates to 1).
std::vector<double> gaussian_kde(const std::vector<double>& x, double bandwidth,
                                 const std::vector<double>& at);
// Quantile with linear interpolation (numpy's default), q in [0, 1].
double quantile(std::vector<double> x, double q);

// The region of the rectangle [r0, r1] x [p0, p1] where lo <= PePR(R, P) <= hi, as a polygon in
// (R, P) (PePR = alpha * P / (alpha + R): the level sets are straight lines). Empty when the
// band misses the rectangle.
std::vector<std::pair<double, double>> pepr_band(double r0, double r1, double p0, double p1,
                                                 double lo, double hi, double alpha);

}  // namespace pepr::report
