#pragma once

#include <string>
#include <vector>

namespace mhacheck {

// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
// " (did you mean \"x\"?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace mhacheck
