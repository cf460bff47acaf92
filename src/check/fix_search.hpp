// Searched fixes: candidate repairs generated from the graph, for the diagnostics no operator
// rule could repair. fixes.cpp re-checks each on the whole patched graph and ranks them.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"
#include "recheck.hpp"

namespace mhacheck {

// The calls that read each named tensor, by slot and by what else the call is (operator, module,
// other arguments), built once per search: whether two tensors are read alike is then a lookup
// per way the first is read, not a walk over every pair of calls (a graph holds up to 100,000).
class ReadIndex {
 public:
  explicit ReadIndex(const Spec& spec);
  // Whether `twin` is read as `name` is: by another call of the same operator and other
  // arguments, in the same slot (k_cache and v_cache each concatenated on dim 2 with the new keys
  // and values). The two then meet the same tensors alike and share one layout fault: the
  // likeness is no sign that one of them is laid out on purpose.
  bool read_alike(const std::string& name, const std::string& twin) const;
  // The work read_alike did so far: one lookup per way a tensor asked about is read.
  std::size_t lookups() const { return lookups_; }

 private:
  // tensor -> (slot, the reading call's operator, module and arguments) -> the calls' indices
  std::map<std::string, std::map<std::pair<std::string, std::string>, std::vector<std::size_t>>> readers_;
  mutable std::size_t lookups_ = 0;
};

// Unverified candidates for call `call_id` of `spec`, at most `limit`, in this order:
//  - the called module's batch_first flipped; enable_gqa=True for scaled_dot_product_attention;
//  - masks in the layout the operator reads: a (B, S) mask viewed as (B, 1, 1, S) for a 4-D
//    query, an (N, L, S) attn_mask of nn.MultiheadAttention repeated per head (repeat_interleave);
//  - a layer module's input reached through layers transposed where it entered
//    (entered_relayout_candidates, checked already);
//  - the cats that made arguments joining on another dim (those with one dim together, then
//    each alone); the repeats that made arguments with two of their counts exchanged; the
//    getitems that made arguments with a cutting slice moved to a dim they leave whole;
//  - arguments whose batch is a whole factor smaller than another's that was tiled upstream
//    (cat([x, x]), repeat, repeat_interleave): tiled the same way where they enter, through the
//    Linears that made them (torch.cat([ctx, ctx]) for classifier-free guidance);
//  - for an elementwise operator that broadcasts two tensors: an operand larger than the other
//    in constant dims sliced to its sizes (bias[:, :, :T, :T]), a table shared over the batch
//    made for another number of positions resampled to the other's (F.interpolate), then the
//    smaller operand permuted to fit the other (before an unsqueeze that made it:
//    rel_bias.permute(2, 0, 1)), and, where both come through reshaping chains written alike,
//    the odd one permuted to the other's layout where it is made (pos.permute(0, 3, 1, 2));
//  - the arguments of one rank transposed together, the same pair of dims each (q, k and v; then
//    every smaller subset of two or more), then each argument alone, every pair of dims; each
//    also with the call's output transposed back, when later calls read it.
// Every change is made where the tensor's layout entered the graph: a declared or inline
// tensor's shape, or a call's output (a call inserted right after the call that made it, so
// that every consumer reads the new layout), looking through the operators that keep a layout
// (LayerNorm, the elementwise ones): a Conv1d's (B, C, T) output is transposed before its LayerNorm.
// Then the dim arguments of the calls upstream rewritten in place (a view's shape list too; a
// squeeze that changes nothing made an index of its dim, ahead of every transpose), and calls
// inserted on the arguments (insertion_candidates).
// Last, the transposes and permutes that made arguments, dropped.
// `report` is the check of `spec`: the producers' output shapes.
std::vector<Fix> search_candidates(const Spec& spec, const Report& report, const std::string& call_id, std::size_t limit);
// The same, with `reads` built from `spec` once by the caller.
std::vector<Fix> search_candidates(const Spec& spec, const Report& report, const std::string& call_id, std::size_t limit, const ReadIndex& reads);
// The same, the checks made to find candidates (insertion_candidates, entered_relayout_candidates)
// made by `rechecker`, on its work budget, and remembered there for the search's own re-checks.
std::vector<Fix> search_candidates(const Spec& spec, const Report& report, const std::string& call_id, std::size_t limit, const ReadIndex& reads,
                                   Rechecker& rechecker);

// Unverified candidates that give key and value one source (attn(x, memory, x): value=memory)
// and that exchange two tensor arguments of call `index` of `spec` whose roles
// the operator tells apart, where they are given different named tensors: query and key
// (value following key when it is the same tensor) of nn.MultiheadAttention and
// scaled_dot_product_attention, src and tgt of nn.Transformer, tgt and memory of the decoders.
// A condition between two sequences (valid only if T == S) that such a swap removes comes from
// arguments given in each other's place.
std::vector<Fix> argument_swap_candidates(const Spec& spec, std::size_t index);

// `base`, or base_2, base_3, ...: the first that names no tensor, module, call or output of `spec`.
std::string fresh_name(const Spec& spec, const std::string& base);

// The index in spec.calls of the call `id`; nullopt when there is none.
std::optional<std::size_t> call_index(const Spec& spec, const std::string& id);

// The report of call `id`; null when `report` has none.
const CallReport* call_report(const Report& report, const std::string& id);

}  // namespace mhacheck
