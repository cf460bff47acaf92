// A layout that entered the graph wrong far upstream of the call that refuses it: a torchaudio
// MelSpectrogram's (B, n_mels, time) given to a subsampling stack written for (B, time, idim), its
// two Conv2d and its view passing, the Linear at the end refusing 25344 features. The transpose
// belongs where the tensor entered, several calls back, and not in a module rebuilt to fit.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mhacheck/check.hpp"
#include "recheck.hpp"

namespace mhacheck {

// A tensor argument followed up through the calls that each read that one tensor (a Conv2d, an
// activation, an unsqueeze, a transpose, a view) to the declared tensor, with a written shape,
// that it entered the graph as.
struct EnteredChain {
  const TensorDecl* root = nullptr;
  std::vector<std::size_t> calls;  // indices in spec.calls, the root's reader first
  // A call of the chain is a layer module that declares its input's size (a Conv2d's
  // in_channels): the model's other declared sizes, which the data must fit on its way.
  bool through_layers = false;
};

// The chain behind argument `argument` of call `index`; nullopt when a call on the way reads more
// than one tensor or is not written at its place in the spec, or after 16 calls.
std::optional<EnteredChain> entered_chain(const Spec& spec, std::size_t index, const std::string& argument);

// Unverified candidates for call `call` (checked in `report`), a layer module that declares its
// input's size and that PyTorch refuses: the declared tensor behind its input, reached through
// layers (entered_chain), with two of
// its dims exchanged, every pair but those that move a dim named as a batch. The sizes a view or
// reshape on the way reads of its input, as `x.view(b, t, -1)` does after `b, c, t, f = x.size()`
// (the leading entries of its shape list equal to its input's sizes at those places), follow the
// new layout. Kept only where the whole patched graph is then valid and gets no diagnostic the
// graph lacks: every module's declared size fits the data laid out so, which says the layout
// entered wrong (consistent).
// Checked by `rechecker`, on its work budget (a check of the calls up to the refusing one costs
// those calls): a layout its work left cannot check is dropped.
std::vector<Fix> entered_relayout_candidates(const Spec& spec, const Report& report, const CallDecl& call, const CallReport& checked,
                                             Rechecker& rechecker);

}  // namespace mhacheck
