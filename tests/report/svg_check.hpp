// Test helper: parses an SVG document with libexpat (so a document that is not well-formed XML
// fails) and counts its data points (elements of class "pt") per panel.
#pragma once

#include <expat.h>

#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace pepr::test {

struct SvgPanel {
  std::string experiment, label;
  long declared = -1;      // data-points
  std::size_t points = 0;  // elements of class "pt" inside
};

struct SvgInfo {
  bool well_formed = false;
  std::string error;                           // expat's message with line and column
  std::string root;                            // the root element's name
  std::string root_id;                         // its id
  std::size_t points = 0;                      // elements of class "pt" in the whole document
  std::size_t titled_points = 0;               // of those, with a <title> child
  std::vector<SvgPanel> panels;                // <g class="panel">, in document order
  std::map<std::string, std::size_t> classes;  // elements per class token
};

namespace svg_check_detail {

inline bool has_token(const std::string& list, const std::string& token) {
  std::istringstream in(list);
  std::string t;
  while (in >> t)
    if (t == token) return true;
  return false;
}

struct State {
  SvgInfo info;
  int depth = 0;
  std::vector<int> panel_stack;  // index into info.panels per open element (-1: none)
  std::vector<bool> pt_stack;    // whether the open element is a point
  bool title_counted = false;
};

inline void XMLCALL on_start(void* data, const XML_Char* name, const XML_Char** attrs) {
  auto* s = static_cast<State*>(data);
  std::map<std::string, std::string> a;
  for (int i = 0; attrs[i]; i += 2) a[attrs[i]] = attrs[i + 1];
  if (s->depth == 0) {
    s->info.root = name;
    s->info.root_id = a["id"];
  }
  ++s->depth;
  const std::string cls = a.count("class") ? a["class"] : "";
  {
    std::istringstream in(cls);
    std::string t;
    while (in >> t) ++s->info.classes[t];
  }
  int panel = s->panel_stack.empty() ? -1 : s->panel_stack.back();
  if (has_token(cls, "panel")) {
    SvgPanel p;
    p.experiment = a["data-experiment"];
    p.label = a["data-label"];
    if (a.count("data-points")) p.declared = std::stol(a["data-points"]);
    s->info.panels.push_back(p);
    panel = static_cast<int>(s->info.panels.size() - 1);
  }
  const bool parent_is_pt = !s->pt_stack.empty() && s->pt_stack.back();
  const bool is_pt = has_token(cls, "pt");
  if (is_pt) {
    ++s->info.points;
    if (panel >= 0) ++s->info.panels[static_cast<std::size_t>(panel)].points;
    s->title_counted = false;
  }
  if (parent_is_pt && std::string(name) == "title" && !s->title_counted) {
    ++s->info.titled_points;
    s->title_counted = true;
  }
  s->panel_stack.push_back(panel);
  s->pt_stack.push_back(is_pt);
}

inline void XMLCALL on_end(void* data, const XML_Char*) {
  auto* s = static_cast<State*>(data);
  --s->depth;
  s->panel_stack.pop_back();
  s->pt_stack.pop_back();
}

}  // namespace svg_check_detail

// Where the parser stopped (line, column). Expat 2.9 (Debian 13) deprecates the XML_Size getters
// for 64-bit twins that Expat 2.5 (Debian 12) does not have.
inline std::pair<unsigned long long, unsigned long long> parser_position(XML_Parser p) {
#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 9)
  return {XML_GetCurrentLineNumber64(p), XML_GetCurrentColumnNumber64(p)};
#else
  return {XML_GetCurrentLineNumber(p), XML_GetCurrentColumnNumber(p)};
#endif
}

inline SvgInfo check_svg(const std::string& text) {
  svg_check_detail::State state;
  XML_Parser p = XML_ParserCreate("UTF-8");
  XML_SetUserData(p, &state);
  XML_SetElementHandler(p, svg_check_detail::on_start, svg_check_detail::on_end);
  if (XML_Parse(p, text.data(), static_cast<int>(text.size()), 1) == XML_STATUS_ERROR) {
    std::ostringstream e;
    const auto [line, column] = parser_position(p);
    e << "line " << line << ", column " << column << ": " << XML_ErrorString(XML_GetErrorCode(p));
    state.info.error = e.str();
  } else {
    state.info.well_formed = true;
  }
  XML_ParserFree(p);
  return state.info;
}

}  // namespace pepr::test
