#include "ops/conv_geometry.hpp"

namespace mhacheck {

int conv_spatial_dims(const std::string& module_type) { return module_type == "Conv1d" ? 1 : 2; }

std::vector<std::int64_t> conv_sizes(const nlohmann::json& written, int spatial) {
  std::vector<std::int64_t> sizes;
  for (const nlohmann::json& size : written) sizes.push_back(size.get<std::int64_t>());
  if (sizes.size() == 1) sizes.assign(static_cast<std::size_t>(spatial), sizes.front());
  return sizes;
}

std::vector<std::int64_t> conv_weight_shape(const ModuleDecl& module) {
  int spatial = conv_spatial_dims(module.type);
  std::int64_t groups = module.integer("groups");
  std::vector<std::int64_t> shape = {module.integer("out_channels"), module.integer("in_channels") / (groups > 0 ? groups : 1)};
  for (std::int64_t size : conv_sizes(module.options.at("kernel_size"), spatial)) shape.push_back(size);
  return shape;
}

ConvGeometry conv_geometry(const ModuleDecl& module) {
  ConvGeometry geometry;
  geometry.kernel = conv_sizes(module.options.at("kernel_size"), conv_spatial_dims(module.type));
  // ATen expands a single size to every kernel dim.
  const int dims = static_cast<int>(geometry.kernel.size());
  geometry.stride = conv_sizes(module.options.at("stride"), dims);
  geometry.dilation = conv_sizes(module.options.at("dilation"), dims);
  geometry.groups = module.integer("groups");
  const nlohmann::json& padding = module.options.at("padding");
  if (padding.is_string()) {
    geometry.pad_before.assign(static_cast<std::size_t>(dims), 0);
    geometry.pad_after.assign(static_cast<std::size_t>(dims), 0);
    if (padding.get<std::string>() == "same") {
      for (std::size_t d = 0; d < geometry.kernel.size(); ++d) {
        std::int64_t total = geometry.dilation[d] * (geometry.kernel[d] - 1);
        geometry.pad_before[d] = total / 2;
        geometry.pad_after[d] = total - total / 2;
      }
    }
  } else {
    geometry.pad_before = conv_sizes(padding, dims);
    geometry.pad_after = geometry.pad_before;
  }
  return geometry;
}

}  // namespace mhacheck
