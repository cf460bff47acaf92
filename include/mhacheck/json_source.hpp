// Reading JSON spec text: nlohmann/json parses (comments allowed), and a light second scan of
// the already-validated text records where every value and key starts, by JSON pointer.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "mhacheck/location.hpp"

namespace mhacheck {

struct JsonDocument {
  std::shared_ptr<const SourceText> source;
  nlohmann::json value;
  // `value` is what `source`'s text parses to (parse_json_document made it), so a reader may
  // free it and parse the text again when it needs it; not so for a patched copy or a document
  // made from command-line flags.
  bool value_from_source = false;
  LocationMap values;  // where each value starts
  LocationMap keys;    // where each object member's key starts
};

constexpr int kMaxJsonDepth = 64;

// Parses `source` or throws InputError naming line, column and what was expected.
JsonDocument parse_json_document(std::shared_ptr<const SourceText> source);

// Reads a whole file ("-" reads stdin). Refuses directories, devices and files over
// `max_bytes` with an InputError rather than reading them.
std::shared_ptr<const SourceText> read_source_file(const std::string& path, std::size_t max_bytes);

}  // namespace mhacheck
