// A port of torch/_tensor_str.py for plain dense CPU tensors: _Formatter, _vector_str,
// _tensor_str_with_formatter, get_summarized_data and _add_suffixes, in that file's terms.
// Python's float formatting ("{:.4f}", "{:.4e}") is correctly rounded, as glibc's printf is, so
// "%.*f" and "%.*e" give the same digits; only NaN and infinity are spelled differently.
#include "mhacheck/tensor_text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace mhacheck {
namespace {

// The elements shown, in C order, as the Python values tolist() would give: floats as double
// (exact for every dtype here), integers as int64 (exact, unlike double), bools as 0/1. Only
// those shown are read: a summarized output of a million elements shows a few hundred.
struct Elements {
  bool floating = false;
  bool boolean = false;
  std::vector<std::int64_t> held;      // their flat indices, ascending
  std::vector<double> reals;           // when floating
  std::vector<std::int64_t> integers;  // otherwise

  // Where the element at flat `index`, one of `held`, is in reals or integers.
  std::size_t position(std::int64_t index) const {
    return static_cast<std::size_t>(std::lower_bound(held.begin(), held.end(), index) - held.begin());
  }
};

Elements read_elements(const Array& array, std::vector<std::int64_t> shown) {
  Elements elements;
  elements.floating = is_floating(array.dtype);
  elements.boolean = array.dtype == DType::Bool;
  Array held;  // the shown elements, copied out in their order
  held.dtype = array.dtype;
  held.shape = {static_cast<std::int64_t>(shown.size())};
  const std::size_t item = array.element_size();
  held.bytes.resize(shown.size() * item);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    std::memcpy(held.bytes.data() + i * item, array.bytes.data() + static_cast<std::size_t>(shown[i]) * item, item);
  }
  elements.held = std::move(shown);
  if (elements.floating) {
    elements.reals = held.to_double();
    return elements;
  }
  const std::size_t count = elements.held.size();
  elements.integers.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::int64_t value = 0;
    switch (array.dtype) {
      case DType::Bool: value = held.bytes[i] != 0; break;
      case DType::UInt8: value = held.data<std::uint8_t>()[i]; break;
      case DType::Int8: value = held.data<std::int8_t>()[i]; break;
      case DType::Int16: value = held.data<std::int16_t>()[i]; break;
      case DType::Int32: value = held.data<std::int32_t>()[i]; break;
      case DType::Int64: value = held.data<std::int64_t>()[i]; break;
      default: break;  // floating types are read above
    }
    elements.integers[i] = value;
  }
  return elements;
}

// Python's format(value, ".{precision}f") and format(value, ".{precision}e"). glibc would write
// a NaN with its sign bit set as "-nan"; Python always writes "nan".
std::string python_float(double value, int precision, bool scientific) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  int length = scientific ? std::snprintf(nullptr, 0, "%.*e", precision, value)
                          : std::snprintf(nullptr, 0, "%.*f", precision, value);
  std::string text(static_cast<std::size_t>(length) + 1, '\0');
  if (scientific) {
    std::snprintf(text.data(), text.size(), "%.*e", precision, value);
  } else {
    std::snprintf(text.data(), text.size(), "%.*f", precision, value);
  }
  text.resize(static_cast<std::size_t>(length));
  return text;
}

std::string pad_left(const std::string& text, std::size_t width) {
  return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

// _Formatter: one element width and one notation for the whole tensor, chosen from the
// elements it is shown (the summarized ones when the tensor is summarized).
class Formatter {
 public:
  Formatter(const Elements& elements, int precision) : elements_(elements), precision_(precision) {
    if (!elements.floating) {
      for (std::int64_t index : elements.held) max_width_ = std::max(max_width_, integer_text(index).size());
      return;
    }
    std::vector<double> nonzero_finite;
    for (double value : elements.reals) {
      if (std::isfinite(value) && value != 0) nonzero_finite.push_back(value);
    }
    if (nonzero_finite.empty()) return;  // "no valid number": int mode, width 1

    double min_abs = std::numeric_limits<double>::infinity();
    double max_abs = 0;
    for (double value : nonzero_finite) {
      min_abs = std::min(min_abs, std::fabs(value));
      max_abs = std::max(max_abs, std::fabs(value));
      if (value != std::ceil(value)) int_mode_ = false;
    }
    // Integer-valued floats cannot be below 1e-4, so the third test only matters outside int
    // mode (2.x writes one condition for both; the outcome is the same).
    sci_mode_ = max_abs / min_abs > 1000.0 || max_abs > 1.0e8 || (!int_mode_ && min_abs < 1.0e-4);
    for (double value : nonzero_finite) {
      std::size_t width = sci_mode_ ? python_float(value, precision_, true).size()
                          : int_mode_ ? python_float(value, 0, false).size() + 1  // for the "."
                                      : python_float(value, precision_, false).size();
      max_width_ = std::max(max_width_, width);
    }
  }

  std::size_t width() const { return max_width_; }

  std::string format(std::int64_t index) const {
    if (!elements_.floating) return pad_left(integer_text(index), max_width_);
    double value = elements_.reals[elements_.position(index)];
    std::string text;
    if (sci_mode_) {
      text = python_float(value, precision_, true);
    } else if (int_mode_) {
      // The "." marks a floating tensor; nan and inf have no room for it.
      text = python_float(value, 0, false);
      if (std::isfinite(value)) text += ".";
    } else {
      text = python_float(value, precision_, false);
    }
    return pad_left(text, max_width_);
  }

 private:
  std::string integer_text(std::int64_t index) const {
    std::int64_t value = elements_.integers[elements_.position(index)];
    if (elements_.boolean) return value ? "True" : "False";
    return std::to_string(value);
  }

  const Elements& elements_;
  int precision_;
  bool int_mode_ = true;
  bool sci_mode_ = false;
  std::size_t max_width_ = 1;
};

std::string shape_tuple(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (d > 0) text += ", ";
    text += std::to_string(shape[d]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string text;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) text += separator;
    text += parts[i];
  }
  return text;
}

// "[" + ("," + newlines + spaces).join(parts) + "]", built by appending (GCC 12 warns falsely
// about "," + std::string(...)).
std::string bracketed(const std::vector<std::string>& parts, std::size_t newlines, int spaces) {
  std::string separator(1, ',');
  separator.append(newlines, '\n');
  separator.append(static_cast<std::size_t>(std::max(spaces, 0)), ' ');
  std::string text(1, '[');
  text += join(parts, separator);
  text += ']';
  return text;
}

// Walks the tensor by flat offset and dimension; self[i] of the Python code is
// offset + i * strides[dim].
class TensorPrinter {
 public:
  TensorPrinter(const Array& array, const PrintOptions& options)
      : shape_(array.shape),
        options_(options),
        strides_(c_order_strides(array.shape)),
        summarize_(static_cast<double>(array.size()) > options.threshold),
        elements_(read_elements(array, shown_indices(array.size()))),
        formatter_(elements_, options.precision) {}

  // _tensor_str_with_formatter
  std::string text(std::int64_t offset, std::size_t dim, int indent) const {
    std::size_t rank = shape_.size() - dim;
    if (rank == 0) return formatter_.format(offset);
    if (rank == 1) return vector_text(offset, indent);

    std::int64_t size = shape_[dim];
    std::int64_t edge = options_.edgeitems;
    std::vector<std::string> slices;
    auto add_slice = [&](std::int64_t i) { slices.push_back(text(offset + i * strides_[dim], dim + 1, indent + 1)); };
    if (summarize_ && size > 2 * edge) {
      for (std::int64_t i = 0; i < edge; ++i) add_slice(i);
      slices.push_back("...");
      for (std::int64_t i = size - edge; i < size; ++i) add_slice(i);
    } else {
      for (std::int64_t i = 0; i < size; ++i) add_slice(i);
    }
    return bracketed(slices, rank - 1, indent + 1);
  }

 private:
  // _vector_str: the last dimension, wrapped to the line width.
  std::string vector_text(std::int64_t offset, int indent) const {
    std::int64_t element_length = static_cast<std::int64_t>(formatter_.width()) + 2;  // with ", "
    std::int64_t per_line = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(std::floor(static_cast<double>(options_.linewidth - indent) /
                                                static_cast<double>(element_length))));
    std::int64_t size = shape_.back();
    std::int64_t edge = options_.edgeitems;
    std::vector<std::string> data;
    if (summarize_ && edge == 0) {
      // 2.x prints nothing but the ellipsis; 1.13 cannot print this at all for 2-d and up.
      data.push_back("...");
    } else if (summarize_ && size > 2 * edge) {
      for (std::int64_t i = 0; i < edge; ++i) data.push_back(formatter_.format(offset + i));
      data.push_back(" ...");
      for (std::int64_t i = size - edge; i < size; ++i) data.push_back(formatter_.format(offset + i));
    } else {
      for (std::int64_t i = 0; i < size; ++i) data.push_back(formatter_.format(offset + i));
    }
    std::vector<std::string> lines;
    for (std::size_t start = 0; start < data.size(); start += static_cast<std::size_t>(per_line)) {
      std::size_t end = std::min(data.size(), start + static_cast<std::size_t>(per_line));
      lines.push_back(join(std::vector<std::string>(data.begin() + static_cast<std::ptrdiff_t>(start),
                                                    data.begin() + static_cast<std::ptrdiff_t>(end)),
                           ", "));
    }
    return bracketed(lines, 1, indent + 1);
  }

  static std::vector<std::int64_t> c_order_strides(const std::vector<std::int64_t>& shape) {
    std::vector<std::int64_t> strides(shape.size(), 1);
    for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
    return strides;
  }

  // The elements shown, which the formatter is built from: all `count` of them, or when
  // summarizing those that get_summarized_data keeps.
  std::vector<std::int64_t> shown_indices(std::int64_t count) const {
    std::vector<std::int64_t> shown;
    if (summarize_) {
      summarized_indices(0, 0, shown);
    } else {
      shown.reserve(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i) shown.push_back(i);
    }
    return shown;
  }

  // get_summarized_data
  void summarized_indices(std::int64_t offset, std::size_t dim, std::vector<std::int64_t>& out) const {
    if (dim == shape_.size()) {
      out.push_back(offset);
      return;
    }
    std::int64_t size = shape_[dim];
    std::int64_t edge = options_.edgeitems;
    auto visit = [&](std::int64_t i) { summarized_indices(offset + i * strides_[dim], dim + 1, out); };
    if (size > 2 * edge) {
      for (std::int64_t i = 0; i < edge; ++i) visit(i);
      for (std::int64_t i = size - edge; i < size; ++i) visit(i);
    } else {
      for (std::int64_t i = 0; i < size; ++i) visit(i);
    }
  }

  // In this order: each is initialized from the ones before it.
  const std::vector<std::int64_t>& shape_;
  const PrintOptions& options_;
  std::vector<std::int64_t> strides_;
  bool summarize_;
  Elements elements_;
  Formatter formatter_;
};

// _add_suffixes: ", dtype=..." on the last line while it fits, else on a new line at `indent`.
std::string add_suffixes(std::string text, const std::vector<std::string>& suffixes, int indent, int linewidth) {
  std::size_t newline = text.rfind('\n');
  std::int64_t last_line_length = static_cast<std::int64_t>(text.size()) -
                                  (newline == std::string::npos ? -1 : static_cast<std::int64_t>(newline)) + 1;
  for (const std::string& suffix : suffixes) {
    std::int64_t suffix_length = static_cast<std::int64_t>(suffix.size());
    if (last_line_length + suffix_length + 2 > linewidth) {
      text += ",\n" + std::string(static_cast<std::size_t>(indent), ' ') + suffix;
      last_line_length = indent + suffix_length;
    } else {
      text += ", " + suffix;
      last_line_length += suffix_length + 2;
    }
  }
  return text + ")";
}

}  // namespace

std::string tensor_repr(const Array& array, const PrintOptions& options) {
  if (options.precision < 0 || options.edgeitems < 0) {
    throw std::invalid_argument("print precision and edgeitems must not be negative");
  }
  if (array.bytes.size() != static_cast<std::size_t>(array.size()) * array.element_size()) {
    throw std::invalid_argument("array data does not match its shape and dtype");
  }
  const std::string prefix = "tensor(";
  const int indent = static_cast<int>(prefix.size());
  const std::string dtype_suffix = "dtype=torch." + dtype_name(array.dtype);
  std::vector<std::string> suffixes;
  std::string body;
  if (array.size() == 0) {
    // NumPy's rule: the shape is shown unless it is (0,). With no elements to tell int64 from
    // float, every dtype but the default float32 is named.
    if (array.shape.size() != 1) suffixes.push_back("size=" + shape_tuple(array.shape));
    if (array.dtype != DType::Float32) suffixes.push_back(dtype_suffix);
    body = "[]";
  } else {
    if (options.edgeitems == 0) suffixes.push_back("size=" + shape_tuple(array.shape));  // 2.x
    // has_default_dtype: float32 (the default dtype), int64 and bool.
    if (array.dtype != DType::Float32 && array.dtype != DType::Int64 && array.dtype != DType::Bool) {
      suffixes.push_back(dtype_suffix);
    }
    body = TensorPrinter(array, options).text(0, 0, indent);
  }
  return add_suffixes(prefix + body, suffixes, indent, options.linewidth);
}

}  // namespace mhacheck
