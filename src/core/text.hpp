// Text helpers shared by the spec reader, the checks and the renderers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mhacheck {

// `text` in lower case (ASCII), for reading names ("Padding_Mask" as "padding_mask") and words.
std::string lowered(std::string text);

// A Python identifier in ASCII: a letter or '_' first, then letters, digits and '_'.
bool is_identifier(std::string_view text);

// `text` cut at every `separator`, empty pieces kept: "B*H*T" at '*' is {"B", "H", "T"}, "" is {""}.
std::vector<std::string> split_at(std::string_view text, char separator);

}  // namespace mhacheck
