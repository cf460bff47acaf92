#pragma once

#include <string>
#include <vector>

namespace mhacheck {

// " (did you mean \"x\"?)" naming the candidate closest to `word` by edit distance, when it is
// close enough to be a likely typo; "" otherwise.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace mhacheck
