// libFuzzer target: the readers of text pasted from Python (`--module`, `--query` ...):
// parse_module_call, place_of_name and parse_shape_text on the same bytes, and module_call_text on
// whatever module was accepted. Only InputError is an expected outcome.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mhacheck/location.hpp"
#include "mhacheck/python_text.hpp"

namespace {

mhacheck::Location start_of(const std::shared_ptr<const mhacheck::SourceText>& source) {
  mhacheck::Location location;
  location.source = source;
  location.line = 1;
  location.column = 1;
  location.length = static_cast<int>(source->text.empty() ? 1 : source->text.size());
  return location;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mhacheck;
  auto source = std::make_shared<SourceText>();
  source->name = "--module";
  source->text.assign(reinterpret_cast<const char*>(data), size);
  const Location origin = start_of(source);
  try {
    nlohmann::json module = parse_module_call(source->text, origin);
    std::string text = module_call_text(module);
    (void)text;
  } catch (const InputError&) {
  }
  // Never throws: nullopt for a text it cannot read.
  std::optional<Location> place = place_of_name(source->text, origin, "d_model");
  (void)place;
  try {
    ShapeText shape = parse_shape_text(source->text, origin);
    std::string dump = shape.shape.dump();
    (void)dump;
  } catch (const InputError&) {
  }
  return 0;
}
