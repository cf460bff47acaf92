// libFuzzer target: the JSON spec reader and the checker behind `mhacheck check spec.json`.
// Bytes -> SourceText -> parse_json_document -> check_document -> both renderers.
// Unusable input must be an InputError; any other exception, crash or sanitizer report is a
// finding. Built with -fsanitize=fuzzer by fuzz/CMakeLists.txt (MHACHECK_FUZZ=ON), and without
// libFuzzer as fuzz_spec_replay, which replays the corpus and tests/fuzz_regressions/spec/.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"
#include "mhacheck/json_source.hpp"
#include "mhacheck/location.hpp"
#include "mhacheck/render.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mhacheck;
  auto source = std::make_shared<SourceText>();
  // A name like stdin's: relative "file" paths in the spec resolve against the working directory.
  source->name = "<fuzz>";
  source->text.assign(reinterpret_cast<const char*>(data), size);
  try {
    JsonDocument document = parse_json_document(source);
    std::vector<Report> reports{check_document(std::move(document))};
    std::string text = render_text(reports, TextStyle{});
    std::string json = render_json(reports).dump();
    (void)text;
    (void)json;
  } catch (const InputError&) {
    // Unusable input, reported as such: the expected outcome for most inputs.
  }
  return 0;
}
