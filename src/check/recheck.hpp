#pragma once
// Re-checks of a spec under patches, made for its fixes. The search's share is bounded by the
// work it does, counted in calls re-checked, never by time: the same spec gets the same fixes on
// every machine, however loaded. Each patched graph is checked once per report while it is
// remembered: the same patch comes again for another diagnostic of its call (a rule's fix given
// to two diagnostics), for another call reading the same tensor (a mask shared by every layer),
// and as a searched candidate once insertion_candidates has checked it.

#include <cstddef>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "mhacheck/check.hpp"
#include "mhacheck/spec.hpp"

namespace mhacheck {

struct Recheck {
  bool usable = false;  // the patched spec could be read and checked
  Report report;        // its diagnostics carry no fixes: nothing reads them
};

class Rechecker {
 public:
  // `search_work`: the calls the search may re-check for the whole report (budgeted()).
  explicit Rechecker(const Spec& spec, std::size_t search_work = std::numeric_limits<std::size_t>::max());

  // The check of `spec` patched by `patch`, of its first `kept_calls` calls only when given
  // (calls read only earlier calls' outputs). Not charged to the search's work: a rule's fix is
  // verified, however large the graph.
  std::shared_ptr<const Recheck> check(const nlohmann::json& patch, std::optional<std::size_t> kept_calls = std::nullopt);
  // The same for a searched candidate, charged the calls it re-checks when it is not
  // remembered; nullptr, unchecked, once the work left affords no whole-graph re-check.
  std::shared_ptr<const Recheck> budgeted(const nlohmann::json& patch, std::optional<std::size_t> kept_calls = std::nullopt);

  // Whether the work left affords a re-check of the whole graph; once it does not, it never does again.
  bool affords() const { return whole() <= work_; }
  // How many more whole-graph re-checks the work left allows.
  std::size_t rechecks_left() const { return whole() == 0 ? work_ : work_ / whole(); }
  // The checks made (not remembered), for tests.
  std::size_t checks_made() const { return made_; }

 private:
  std::size_t whole() const { return spec_.calls.size(); }
  std::shared_ptr<const Recheck> find(const std::string& key) const;
  std::shared_ptr<const Recheck> make(std::string key, const nlohmann::json& patch, std::optional<std::size_t> kept_calls);

  const Spec& spec_;
  std::size_t work_;
  std::size_t made_ = 0;
  // The remembered checks, oldest first, at most kRememberedCalls calls' reports in all (the
  // latest always).
  std::map<std::string, std::shared_ptr<const Recheck>> remembered_;
  std::deque<std::pair<std::string, std::size_t>> order_;  // key, its report's calls
  std::size_t remembered_calls_ = 0;
};

}  // namespace mhacheck
