#include "mhacheck/plot.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

namespace mhacheck {
namespace {

constexpr int kMaxCell = 28;     // pixels per weight, shrunk for long sequences
constexpr int kMaxPanelSide = 360;
constexpr int kTitleCharWidth = 7;  // at font-size 12, enough for the common sans fonts
constexpr int kMaxBatches = 4;
constexpr int kMargin = 40;
// Cells per panel side at most: beyond, blocks of weights are averaged into one cell, so a panel
// of a 4096-token call is 128 x 128 cells (a few MB of SVG), not 16M.
constexpr std::int64_t kMaxCellsPerSide = 128;

// Viridis at five stops, linearly interpolated: perceptually even and readable in grey.
std::string colour(double t) {
  static const std::array<std::array<double, 3>, 5> stops = {{{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}};
  t = std::clamp(t, 0.0, 1.0) * (stops.size() - 1);
  std::size_t i = std::min<std::size_t>(static_cast<std::size_t>(t), stops.size() - 2);
  double f = t - static_cast<double>(i);
  std::array<int, 3> rgb{};
  for (int c = 0; c < 3; ++c) rgb[c] = static_cast<int>(std::lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c])));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

struct Panel {
  std::string title;
  std::vector<double> values;  // rows x columns
  std::int64_t rows, columns;
  std::int64_t row_block = 1, column_block = 1;  // query and key positions per cell
  std::int64_t source_rows = 0, source_columns = 0;  // the positions before downsampling
};

// A panel with more than kMaxCellsPerSide cells on a side, as blocks of row_block x
// column_block weights (fewer at the last row and column), each cell their mean: NaN when any
// is, so a fully masked row stays visible. The title says so.
Panel downsampled(Panel panel) {
  if (panel.rows <= kMaxCellsPerSide && panel.columns <= kMaxCellsPerSide) return panel;
  std::int64_t row_block = (panel.rows + kMaxCellsPerSide - 1) / kMaxCellsPerSide;
  std::int64_t column_block = (panel.columns + kMaxCellsPerSide - 1) / kMaxCellsPerSide;
  std::int64_t rows = (panel.rows + row_block - 1) / row_block, columns = (panel.columns + column_block - 1) / column_block;
  std::vector<double> sums(static_cast<std::size_t>(rows * columns), 0.0), counts(sums.size(), 0.0);
  for (std::int64_t r = 0; r < panel.rows; ++r) {
    for (std::int64_t c = 0; c < panel.columns; ++c) {
      std::size_t cell = static_cast<std::size_t>((r / row_block) * columns + c / column_block);
      sums[cell] += panel.values[static_cast<std::size_t>(r * panel.columns + c)];
      counts[cell] += 1;
    }
  }
  for (std::size_t i = 0; i < sums.size(); ++i) sums[i] /= counts[i];
  Panel small{fmt::format("{} (downsampled: {} x {} weights, each cell the mean of up to {} x {})", panel.title, panel.rows,
                          panel.columns, row_block, column_block),
              std::move(sums), rows, columns, row_block, column_block, panel.rows, panel.columns};
  return small;
}

// A cell's tooltip: its query and key positions (ranges when downsampled).
std::string cell_label(const Panel& panel, std::int64_t row, std::int64_t column) {
  auto span = [](const char* one, const char* many, std::int64_t index, std::int64_t block, std::int64_t count) {
    if (block == 1) return fmt::format("{} {}", one, index);
    return fmt::format("{} {}-{}", many, index * block, std::min(index * block + block, count) - 1);
  };
  return span("query", "queries", row, panel.row_block, panel.source_rows) + ", " +
         span("key", "keys", column, panel.column_block, panel.source_columns);
}

// One panel per batch entry of (N, H, L, S) probabilities: one head's, or their average.
std::vector<Panel> panels_of(const PlottedAttention& attention, std::optional<std::int64_t> head) {
  std::vector<double> values = attention.probabilities.to_double();
  const std::vector<std::int64_t>& shape = attention.probabilities.shape;
  std::int64_t batches = shape[0], heads = shape[1], rows = shape[2], columns = shape[3], plane = rows * columns;
  std::string source = attention.block.empty() ? attention.call : fmt::format("{} {}", attention.call, attention.block);
  std::string which = head ? fmt::format("head {} of {}", *head, heads) : fmt::format("average of {} head{}", heads, heads == 1 ? "" : "s");
  std::vector<Panel> panels;
  for (std::int64_t n = 0; n < std::min<std::int64_t>(batches, kMaxBatches); ++n) {
    Panel panel{fmt::format("{}: {}{}", source, attention.batched ? fmt::format("batch {}, ", n) : "", which),
                std::vector<double>(static_cast<std::size_t>(plane), 0.0), rows, columns, 1, 1, rows, columns};
    for (std::int64_t h = head.value_or(0); h < (head ? *head + 1 : heads); ++h) {
      const double* first = values.data() + (n * heads + h) * plane;
      for (std::int64_t i = 0; i < plane; ++i) panel.values[static_cast<std::size_t>(i)] += first[i];
    }
    if (!head) {
      for (double& value : panel.values) value /= static_cast<double>(heads);
    }
    panels.push_back(downsampled(std::move(panel)));
  }
  return panels;
}

}  // namespace

std::string attention_heatmap_svg(const PlottedAttention& attention, std::optional<std::int64_t> head) {
  std::vector<Panel> panels = panels_of(attention, head);
  double top = 0;
  for (const Panel& panel : panels) {
    for (double value : panel.values) {
      if (std::isfinite(value)) top = std::max(top, value);
    }
  }
  if (top <= 0) top = 1;

  std::string body;
  int y = kMargin;
  int width = 0;
  for (const Panel& panel : panels) {
    std::int64_t longest = std::max<std::int64_t>(1, std::max(panel.rows, panel.columns));
    int cell = static_cast<int>(std::clamp<std::int64_t>(kMaxPanelSide / longest, 1, kMaxCell));
    body += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\">{}</text>\n", kMargin, y - 6, escape(panel.title));
    body += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#555\">key position &#8594;</text>\n", kMargin,
                        y + static_cast<int>(panel.rows) * cell + 14);
    body += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#555\" transform=\"rotate(-90 {} {})\">query &#8594;</text>\n",
                        kMargin - 6, y + 40, kMargin - 6, y + 40);
    for (std::int64_t r = 0; r < panel.rows; ++r) {
      for (std::int64_t c = 0; c < panel.columns; ++c) {
        double value = panel.values[r * panel.columns + c];
        int x0 = kMargin + static_cast<int>(c) * cell, y0 = y + static_cast<int>(r) * cell;
        if (std::isnan(value)) {
          body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#bbb\"><title>{}: NaN</title></rect>"
                              "<path d=\"M{} {}l{} {}M{} {}l{} {}\" stroke=\"#666\"/>\n",
                              x0, y0, cell, cell, cell_label(panel, r, c), x0, y0, cell, cell, x0 + cell, y0, -cell, cell);
        } else {
          body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {:.4f}</title></rect>\n",
                              x0, y0, cell, cell, colour(value / top), cell_label(panel, r, c), value);
        }
      }
    }
    width = std::max({width, kMargin + static_cast<int>(panel.columns) * cell,
                      kMargin + kTitleCharWidth * static_cast<int>(panel.title.size())});
    y += static_cast<int>(panel.rows) * cell + 50;
  }
  // The colour scale.
  int scale_x = width + 30, scale_height = 160;
  std::string scale = fmt::format("<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">");
  for (int stop = 0; stop <= 4; ++stop) scale += fmt::format("<stop offset=\"{}\" stop-color=\"{}\"/>", stop / 4.0, colour(stop / 4.0));
  scale += "</linearGradient></defs>\n";
  scale += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"{}\" fill=\"url(#scale)\"/>\n", scale_x, kMargin, scale_height);
  scale += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">{:.3g}</text>\n", scale_x + 18, kMargin + 8, top);
  scale += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">0</text>\n", scale_x + 18, kMargin + scale_height);
  int total_width = scale_x + 70;
  return fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\">\n"
                     "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{}{}</svg>\n",
                     total_width, std::max(y, kMargin + scale_height + 20), scale, body);
}

}  // namespace mhacheck
