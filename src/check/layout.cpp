#include "layout.hpp"

#include <algorithm>
#include <numeric>

namespace mhacheck {
namespace {

using Sizes = std::vector<std::int64_t>;

// A symbol's value under a probe: a prime chosen by the name's hash, different per probe, so
// that two symbols rarely coincide under both probes.
std::int64_t probe_value(const std::string& symbol, int probe) {
  static const std::vector<std::int64_t> primes = [] {
    std::vector<std::int64_t> found;
    for (std::int64_t n = 11; n < 400; ++n) {
      bool prime = true;
      for (std::int64_t d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
      if (prime) found.push_back(n);
    }
    return found;
  }();
  std::uint64_t hash = 1469598103934665603ULL + static_cast<std::uint64_t>(probe) * 7919;
  for (char c : symbol) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return primes[hash % primes.size()];
}

std::optional<std::int64_t> multiplied(std::int64_t a, std::int64_t b) {
  std::int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

Sizes contiguous_strides(const Sizes& sizes) {
  Sizes strides(sizes.size(), 1);
  std::int64_t stride = 1;
  for (std::size_t d = sizes.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= std::max<std::int64_t>(sizes[d], 1);  // sizes are bounded: probe_sizes checked the product
  }
  return strides;
}

bool probe_contiguous(const Layout::Probe& probe) {
  std::int64_t expected = 1;
  for (std::size_t d = probe.sizes.size(); d-- > 0;) {
    if (probe.sizes[d] == 0) return true;
  }
  for (std::size_t d = probe.sizes.size(); d-- > 0;) {
    if (probe.sizes[d] == 1) continue;
    if (probe.strides[d] != expected) return false;
    expected *= probe.sizes[d];
  }
  return true;
}

// c10's is_non_overlapping_and_dense: the dims sorted by stride are contiguous.
bool probe_dense(const Layout::Probe& probe) {
  std::vector<std::size_t> order;
  for (std::size_t d = 0; d < probe.sizes.size(); ++d) {
    if (probe.sizes[d] != 1) order.push_back(d);
  }
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return probe.strides[a] < probe.strides[b]; });
  std::int64_t expected = 1;
  for (std::size_t d : order) {
    if (probe.strides[d] != expected) return false;
    expected *= probe.sizes[d];
  }
  return true;
}

// A rule applied under each probe; unknown as soon as one probe has no answer.
template <typename Rule>
Layout each_probe(const Layout& input, Rule rule) {
  Layout output;
  if (!input.known()) return output;
  if (!input.is_contiguous()) output.made_by = input.made_by;
  for (int p = 0; p < Layout::kProbes; ++p) {
    std::optional<Layout::Probe> probe = rule(input.probes[static_cast<std::size_t>(p)], p);
    if (!probe) return Layout::unknown();
    output.probes.push_back(std::move(*probe));
  }
  return output;
}

// computeStride_impl of aten/src/ATen/TensorUtils.cpp, for a tensor with elements.
std::optional<Sizes> compute_stride(const Sizes& oldshape, const Sizes& oldstride, const Sizes& newshape) {
  if (oldshape.empty()) return Sizes(newshape.size(), 1);
  std::int64_t numel = 1;
  for (std::int64_t size : oldshape) numel *= size;
  if (numel == 0 && oldshape == newshape) return oldstride;
  Sizes newstride(newshape.size());
  if (numel == 0) {
    for (std::int64_t view_d = static_cast<std::int64_t>(newshape.size()) - 1; view_d >= 0; --view_d) {
      std::size_t d = static_cast<std::size_t>(view_d);
      newstride[d] = d + 1 == newshape.size() ? 1 : std::max<std::int64_t>(newshape[d + 1], 1) * newstride[d + 1];
    }
    return newstride;
  }
  std::int64_t view_d = static_cast<std::int64_t>(newshape.size()) - 1;
  std::int64_t chunk_base_stride = oldstride.back();
  std::int64_t tensor_numel = 1;
  std::int64_t view_numel = 1;
  for (std::int64_t tensor_d = static_cast<std::int64_t>(oldshape.size()) - 1; tensor_d >= 0; --tensor_d) {
    std::size_t t = static_cast<std::size_t>(tensor_d);
    tensor_numel *= oldshape[t];
    std::optional<std::int64_t> chunk_end = multiplied(tensor_numel, chunk_base_stride);
    if (!chunk_end) return std::nullopt;
    if (tensor_d == 0 || (oldshape[t - 1] != 1 && oldstride[t - 1] != *chunk_end)) {
      while (view_d >= 0 && (view_numel < tensor_numel || newshape[static_cast<std::size_t>(view_d)] == 1)) {
        newstride[static_cast<std::size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel *= newshape[static_cast<std::size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = oldstride[t - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return newstride;
}

std::int64_t element_count(const Sizes& sizes) {
  std::int64_t count = 1;
  for (std::int64_t size : sizes) count *= size;  // probe_sizes bounds the product
  return count;
}

}  // namespace

std::optional<std::vector<std::int64_t>> probe_sizes(const Shape& shape, int probe) {
  Sizes sizes;
  sizes.reserve(shape.size());
  std::int64_t numel = 1;
  for (const DimExpr& dim : shape) {
    std::int64_t value = 1;
    if (!dim.is_constant() && !dim.is_monomial()) {
      value = probe_value(dim.symbol, probe);  // one factor: no list of factors made per dim and probe
    } else {
      for (const std::string& factor : dim.factors()) {
        std::optional<std::int64_t> product = multiplied(value, probe_value(factor, probe));
        if (!product) return std::nullopt;
        value = *product;
      }
    }
    std::optional<std::int64_t> scaled = dim.is_constant() ? std::optional<std::int64_t>(0) : multiplied(value, dim.coeff);
    if (!scaled || __builtin_add_overflow(*scaled, dim.offset, &value) || value < 0) return std::nullopt;
    std::optional<std::int64_t> total = multiplied(numel, std::max<std::int64_t>(value, 1));
    if (!total || *total > (std::int64_t{1} << 62)) return std::nullopt;  // strides stay far from overflow
    numel = *total;
    sizes.push_back(value);
  }
  return sizes;
}

Layout Layout::contiguous(const Shape& shape) {
  Layout layout;
  layout.probes.reserve(kProbes);
  for (int p = 0; p < kProbes; ++p) {
    std::optional<Sizes> sizes = probe_sizes(shape, p);
    if (!sizes) return unknown();
    Sizes strides = contiguous_strides(*sizes);
    layout.probes.push_back({std::move(*sizes), std::move(strides)});
  }
  return layout;
}

bool Layout::is_contiguous() const { return known() && std::all_of(probes.begin(), probes.end(), probe_contiguous); }

bool Layout::fits(const Shape& shape) const {
  if (!known()) return false;
  for (int p = 0; p < kProbes; ++p) {
    if (probe_sizes(shape, p) != probes[static_cast<std::size_t>(p)].sizes) return false;
  }
  return true;
}

Layout permuted_layout(const Layout& input, const std::vector<int>& order) {
  return each_probe(input, [&](const Layout::Probe& in, int) -> std::optional<Layout::Probe> {
    Layout::Probe out;
    for (int d : order) {
      out.sizes.push_back(in.sizes[static_cast<std::size_t>(d)]);
      out.strides.push_back(in.strides[static_cast<std::size_t>(d)]);
    }
    return out;
  });
}

Layout unsqueezed_layout(const Layout& input, int dim) {
  return each_probe(input, [&](const Layout::Probe& in, int) -> std::optional<Layout::Probe> {
    Layout::Probe out = in;
    std::size_t d = static_cast<std::size_t>(dim);
    std::int64_t stride = d >= in.sizes.size() ? 1 : in.sizes[d] * in.strides[d];
    out.sizes.insert(out.sizes.begin() + dim, 1);
    out.strides.insert(out.strides.begin() + dim, stride);
    return out;
  });
}

Layout without_dims(const Layout& input, const std::vector<int>& dims) {
  return each_probe(input, [&](const Layout::Probe& in, int) -> std::optional<Layout::Probe> {
    Layout::Probe out;
    for (std::size_t d = 0; d < in.sizes.size(); ++d) {
      if (std::find(dims.begin(), dims.end(), static_cast<int>(d)) != dims.end()) continue;
      out.sizes.push_back(in.sizes[d]);
      out.strides.push_back(in.strides[d]);
    }
    return out;
  });
}

Layout resized_layout(const Layout& input, const Shape& shape) {
  return each_probe(input, [&](const Layout::Probe& in, int p) -> std::optional<Layout::Probe> {
    std::optional<Sizes> sizes = probe_sizes(shape, p);
    if (!sizes || sizes->size() != in.sizes.size()) return std::nullopt;
    return Layout::Probe{*sizes, in.strides};
  });
}

// at::inferExpandGeometry.
Layout expanded_layout(const Layout& input, const Shape& shape) {
  return each_probe(input, [&](const Layout::Probe& in, int p) -> std::optional<Layout::Probe> {
    std::optional<Sizes> target = probe_sizes(shape, p);
    if (!target || target->size() < in.sizes.size()) return std::nullopt;
    std::int64_t ndim = static_cast<std::int64_t>(target->size()), tensor_dim = static_cast<std::int64_t>(in.sizes.size());
    Layout::Probe out{Sizes(target->size()), Sizes(target->size())};
    for (std::int64_t i = ndim - 1; i >= 0; --i) {
      std::int64_t dim = tensor_dim - 1 - (ndim - 1 - i);
      std::size_t at = static_cast<std::size_t>(i);
      std::int64_t size = dim >= 0 ? in.sizes[static_cast<std::size_t>(dim)] : 1;
      std::int64_t stride = dim >= 0 ? in.strides[static_cast<std::size_t>(dim)] : i + 1 < ndim ? out.sizes[at + 1] * out.strides[at + 1] : 1;
      if (size != (*target)[at]) {
        size = (*target)[at];
        stride = 0;
      }
      out.sizes[at] = size;
      out.strides[at] = stride;
    }
    return out;
  });
}

ViewResult view_layout(const Layout& input, const Shape& shape) {
  if (!input.known()) return {};
  ViewResult result;
  if (!input.is_contiguous()) result.layout.made_by = input.made_by;
  int compatible = 0;
  for (int p = 0; p < Layout::kProbes; ++p) {
    const Layout::Probe& in = input.probes[static_cast<std::size_t>(p)];
    std::optional<Sizes> sizes = probe_sizes(shape, p);
    if (!sizes) return {};
    // Symbols the check cannot relate (a (B, L, C) tensor viewed (B, H, W, C), "valid only if
    // L == H*W") take independent probe values: the counts differ there, and computeStride's
    // refusal would say nothing about memory (a contiguous tensor views as any shape of its count).
    if (element_count(in.sizes) != element_count(*sizes)) return {};
    std::optional<Sizes> strides = compute_stride(in.sizes, in.strides, *sizes);
    if (strides) {
      ++compatible;
      result.layout.probes.push_back({*sizes, *strides});
    }
  }
  if (compatible == Layout::kProbes) {
    result.verdict = ViewVerdict::Compatible;
    return result;
  }
  if (compatible == 0) return {ViewVerdict::Incompatible, {}};
  return {};
}

Layout reshaped_layout(const Layout& input, const Shape& shape) {
  ViewResult view = view_layout(input, shape);
  if (view.verdict == ViewVerdict::Compatible) return view.layout;
  if (view.verdict == ViewVerdict::Incompatible) return Layout::contiguous(shape);
  return Layout::unknown();
}

namespace {

// TensorIterator without a fast setup (aten/src/ATen/TensorIterator.cpp): the dims ordered by
// reorder_dimensions (an insertion sort by the operands' strides, a broadcast dim ambiguous), and
// the output allocated dense in that order (allocate_or_resize_outputs).
std::optional<Layout::Probe> iterator_output(const std::vector<const Layout::Probe*>& inputs, const Sizes& shape) {
  std::size_t ndim = shape.size();
  std::vector<Sizes> strides;  // per operand, right-aligned to the output, 0 where broadcast
  for (const Layout::Probe* input : inputs) {
    if (input->sizes.size() > ndim) return std::nullopt;
    std::size_t offset = ndim - input->sizes.size();
    Sizes aligned(ndim, 0);
    for (std::size_t d = 0; d < input->sizes.size(); ++d) {
      aligned[offset + d] = input->sizes[d] == 1 && shape[offset + d] != 1 ? 0 : input->strides[d];
    }
    strides.push_back(std::move(aligned));
  }
  std::vector<std::size_t> perm(ndim);  // innermost first
  for (std::size_t i = 0; i < ndim; ++i) perm[i] = ndim - 1 - i;
  auto should_swap = [&](std::size_t dim0, std::size_t dim1) {
    for (const Sizes& operand : strides) {
      std::int64_t stride0 = operand[dim0], stride1 = operand[dim1];
      if (stride0 == 0 || stride1 == 0) continue;
      if (stride0 < stride1) return -1;
      if (stride0 > stride1) return 1;
      if (shape[dim0] > shape[dim1]) return 1;
    }
    return 0;
  };
  for (std::size_t i = 1; i < ndim; ++i) {
    std::size_t dim1 = i;
    for (std::size_t dim0 = i; dim0-- > 0;) {
      int comparison = should_swap(perm[dim0], perm[dim1]);
      if (comparison > 0) {
        std::swap(perm[dim0], perm[dim1]);
        dim1 = dim0;
      } else if (comparison < 0) {
        break;
      }
    }
  }
  Layout::Probe output{shape, Sizes(ndim, 1)};
  std::int64_t stride = 1;
  for (std::size_t i = 0; i < ndim; ++i) {
    output.strides[perm[i]] = stride;
    stride *= shape[perm[i]];
  }
  return output;
}

}  // namespace

// TensorIterator's fast setups (all contiguous; one shape and the same dense strides), else
// its general order of dims.
Layout elementwise_layout(const std::vector<const Layout*>& inputs, const Shape& shape) {
  if (std::all_of(inputs.begin(), inputs.end(), [](const Layout* layout) { return layout->is_contiguous(); })) return Layout::contiguous(shape);
  if (inputs.empty() || std::any_of(inputs.begin(), inputs.end(), [](const Layout* layout) { return !layout->known(); })) return Layout::unknown();
  Layout output;
  output.made_by = inputs.front()->made_by;
  for (int p = 0; p < Layout::kProbes; ++p) {
    std::optional<Sizes> sizes = probe_sizes(shape, p);
    if (!sizes) return Layout::unknown();
    std::vector<const Layout::Probe*> probes;
    for (const Layout* layout : inputs) probes.push_back(&layout->probes[static_cast<std::size_t>(p)]);
    // The fast setup: operands of one shape and the same dense strides give the output those strides.
    bool same = std::all_of(probes.begin(), probes.end(), [&](const Layout::Probe* probe) {
      return probe->sizes == *sizes && probe->strides == probes.front()->strides && probe_dense(*probe);
    });
    std::optional<Layout::Probe> probe = same ? std::optional<Layout::Probe>(*probes.front()) : iterator_output(probes, *sizes);
    if (!probe) return Layout::unknown();
    output.probes.push_back(std::move(*probe));
  }
  return output;
}

}  // namespace mhacheck
