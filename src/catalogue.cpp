// The single table of diagnostic codes. Codes are stable: never renumber, only add.
// Each example is a flat spec that triggers the code; tests/catalogue_test.cpp checks that it
// does, and that docs/diagnostics.md lists every code.
#include <cctype>
#include <stdexcept>

#include "mhacheck/diagnostic.hpp"

namespace mhacheck {

std::string severity_name(Severity severity) {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "error";
}

std::string semantics_name(FixSemantics semantics) {
  switch (semantics) {
    case FixSemantics::Unknown: return "unknown";
    case FixSemantics::Consistent: return "consistent";
    case FixSemantics::Suspect: return "suspect";
  }
  return "unknown";
}

#define MHA(q, k, v, extra) \
  R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2)" extra R"(}, "query": )" q R"(, "key": )" k R"(, "value": )" v

#define SDPA(q, k, v, extra) \
  R"({"op": "scaled_dot_product_attention", "query": )" q R"(, "key": )" k R"(, "value": )" v extra "}"

const std::vector<DiagInfo>& diagnostic_catalogue() {
  static const std::vector<DiagInfo> catalogue = {
      {DiagId::InputSyntax, "MHA001", Severity::Error, "input-syntax", "an input cannot be read: bad JSON or Python text, or a bad file",
       "The spec file, a value given on the command line, or a file it names could not be read: a JSON syntax "
       "error, invalid UTF-8, a constructor call or shape that does not parse, a missing or unreadable file, "
       "a malformed or oversized .npy/.npz, or an output file that cannot be written. The location points at "
       "the first character that could not be read, or names the file. mhacheck exits with code 2.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 8 "num_heads": 2}})"},
      {DiagId::InputSchema, "MHA002", Severity::Error, "input-schema", "the spec does not have the expected structure",
       "The input is well-formed but is not a spec: an unknown key (with the closest known key suggested), "
       "a value of the wrong type, a missing required argument, a negative or oversized dim. See "
       "docs/spec-format.md. mhacheck exits with code 2.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_head": 2}, "query": [3, 2, 8], "key": [3, 2, 8], "value": [3, 2, 8]})"},
      {DiagId::InputReference, "MHA003", Severity::Error, "input-reference", "a call names a tensor that is not defined",
       "A call argument names a tensor that is neither declared under \"tensors\" nor produced by an earlier "
       "call, or an output name is defined twice. mhacheck exits with code 2.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2}, "query": "q", "key": [3, 2, 8], "value": [3, 2, 8]})"},
      {DiagId::ModuleNonPositive, "MHA010", Severity::Error, "module-nonpositive", "embed_dim and num_heads must be positive",
       "nn.MultiheadAttention refuses embed_dim <= 0 or num_heads <= 0 when it is constructed (PyTorch 2.x raises "
       "ValueError before any other check). No call of the module is checked further.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 0}, "query": [3, 2, 8], "key": [3, 2, 8], "value": [3, 2, 8]})"},
      {DiagId::ModuleHeadsDivide, "MHA011", Severity::Error, "heads-not-dividing", "embed_dim is not divisible by num_heads",
       "Each head gets embed_dim / num_heads features, so num_heads must divide embed_dim. The constructor "
       "raises AssertionError. Fixes offered: the nearest num_heads that divides embed_dim.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 10, "num_heads": 4}, "query": [3, 2, 10], "key": [3, 2, 10], "value": [3, 2, 10]})"},
      {DiagId::ModuleNegativeKvDim, "MHA012", Severity::Error, "negative-kdim", "kdim or vdim is negative",
       "kdim and vdim size the key and value projection weights; a negative size makes the constructor fail "
       "while allocating them (RuntimeError: Trying to create tensor with negative dimension).",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "kdim": -4}, "query": [3, 2, 8], "key": [3, 2, 8], "value": [3, 2, 8]})"},
      {DiagId::QueryRank, "MHA020", Severity::Error, "query-rank", "query must be 2-D (unbatched) or 3-D (batched)",
       "nn.MultiheadAttention takes a 3-D query, (L, N, E) or (N, L, E) with batch_first=True, or an unbatched 2-D "
       "query (L, E). Any other rank raises AssertionError before anything else is checked.",
       MHA("[2, 3, 4, 8]", "[3, 2, 8]", "[3, 2, 8]", "") "}"},
      {DiagId::KeyValueRank, "MHA021", Severity::Error, "key-value-rank", "key and value must have the query's rank",
       "A batched (3-D) query needs 3-D key and value; an unbatched (2-D) query needs 2-D key and value. A 4-D "
       "key is often an extra head or batch dimension left in by mistake.",
       MHA("[3, 2, 8]", "[5, 8]", "[5, 8]", "") "}"},
      {DiagId::KeyPaddingMaskRank, "MHA022", Severity::Error, "key-padding-mask-rank", "key_padding_mask has the wrong rank",
       "key_padding_mask is (N, S) for a batched call and (S,) for an unbatched one.",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") R"(, "key_padding_mask": [2, 5, 1]})"},
      {DiagId::AttnMaskRank, "MHA023", Severity::Error, "attn-mask-rank", "attn_mask must be 2-D or 3-D",
       "attn_mask is (L, S), shared by every batch entry and head, or (N*num_heads, L, S) with one mask per "
       "batch entry and head (num_heads, L, S for an unbatched call). A 4-D (N, num_heads, L, S) mask must be "
       "reshaped to (N*num_heads, L, S).",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") R"(, "attn_mask": [2, 2, 3, 5]})"},
      {DiagId::TransposeRank, "MHA024", Severity::Error, "batch-first-transpose", "batch_first=True transposes a key or value with fewer than 2 dims",
       "With batch_first=True and a 3-D query, the module transposes query, key and value with .transpose(1, 0) "
       "before checking their ranks, so a 1-D key or value fails with IndexError first.",
       MHA("[2, 3, 8]", "[8]", "[8]", R"(, "batch_first": true)") "}"},
      {DiagId::QueryEmbedDim, "MHA030", Severity::Error, "query-embed-dim", "the query's feature size is not embed_dim",
       "The last dim of query must equal the module's embed_dim. When another dim of the query equals "
       "embed_dim, the query is probably permuted.",
       MHA("[3, 2, 6]", "[5, 2, 8]", "[5, 2, 8]", "") "}"},
      {DiagId::KeyFeatureDim, "MHA031", Severity::Error, "key-feature-dim", "the key's feature size is not kdim",
       "The last dim of key must be kdim (embed_dim when kdim is not given). Keys of another size need "
       "kdim=<size> (and vdim for values) in the constructor, which switches to separate projection weights.",
       MHA("[3, 2, 8]", "[5, 2, 4]", "[5, 2, 4]", "") "}"},
      {DiagId::ValueFeatureDim, "MHA032", Severity::Error, "value-feature-dim", "the value's feature size is not vdim",
       "The last dim of value must be vdim (embed_dim when vdim is not given).",
       MHA("[3, 2, 8]", "[5, 2, 6]", "[5, 2, 4]", R"(, "kdim": 6, "vdim": 6)") "}"},
      {DiagId::KeyValueShape, "MHA033", Severity::Error, "key-value-shape", "key and value shapes differ",
       "Without kdim/vdim (one packed projection), key and value must have identical shapes.",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[6, 2, 8]", "") "}"},
      {DiagId::KeyValueLeadingDims, "MHA034", Severity::Error, "key-value-leading-dims", "key and value sequence or batch dims differ",
       "With kdim/vdim (separate projections), key and value may differ in their feature size but must agree "
       "in sequence length and batch size.",
       MHA("[3, 2, 8]", "[5, 2, 4]", "[6, 2, 6]", R"(, "kdim": 4, "vdim": 6)") "}"},
      {DiagId::BatchMismatch, "MHA040", Severity::Error, "batch-mismatch", "key/value batch size differs from query batch size",
       "query, key and value must have the same batch size N. PyTorch does not check this directly: it fails "
       "late, reshaping the projected key (RuntimeError: shape '[S, N*num_heads, head_dim]' is invalid for input "
       "of size ...), or concatenating bias_k. Most often the inputs are batch-major, (N, L, E), while the module "
       "has batch_first=False and reads dim 1 as the batch: construct with batch_first=True, or transpose.",
       MHA("[3, 1, 8]", "[3, 5, 8]", "[3, 5, 8]", "") "}"},
      {DiagId::AttnMask2dShape, "MHA050", Severity::Error, "attn-mask-2d-shape", "2-D attn_mask is not (L, S)",
       "A 2-D attn_mask is (target length L, source length S), taken from query and key as the module reads "
       "them (batch_first changes which dims those are; masks are never transposed).",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") R"(, "attn_mask": [5, 3]})"},
      {DiagId::AttnMask3dShape, "MHA051", Severity::Error, "attn-mask-3d-shape", "3-D attn_mask is not (N*num_heads, L, S)",
       "A 3-D attn_mask holds one (L, S) mask per batch entry and head: (N*num_heads, L, S), batch-major "
       "(entry n, head h at index n*num_heads + h). A per-batch (N, L, S) mask must be repeated per head with "
       "mask.repeat_interleave(num_heads, dim=0). Unbatched calls take (num_heads, L, S).",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") R"(, "attn_mask": [2, 3, 5]})"},
      {DiagId::KeyPaddingMaskShape, "MHA052", Severity::Error, "key-padding-mask-shape", "key_padding_mask is not (N, S)",
       "key_padding_mask marks padded key positions per batch entry: (N, S), or (S,) unbatched. It is never "
       "transposed by batch_first. add_bias_kv and add_zero_attn append positions to it themselves.",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") R"(, "key_padding_mask": [5, 2]})"},
      {DiagId::MaskDType, "MHA060", Severity::Error, "mask-dtype", "mask dtype is neither bool nor floating",
       "PyTorch 2.x accepts bool masks (True = not allowed to attend) and float masks (added to the scores). "
       "Integer masks, uint8 included, raise AssertionError (PyTorch 1.x accepted uint8 with a warning).",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") R"(, "key_padding_mask": {"shape": [2, 5], "dtype": "uint8"}})"},
      {DiagId::MaskDTypeMismatch, "MHA061", Severity::Warning, "mask-dtype-mismatch", "key_padding_mask and attn_mask have different dtypes",
       "PyTorch 2.x warns that mismatched mask types are deprecated; a float key_padding_mask is added to the "
       "attention mask rather than or-ed with it.",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") R"(, "key_padding_mask": {"shape": [2, 5], "dtype": "bool"}, "attn_mask": {"shape": [3, 5], "dtype": "float32"}})"},
      {DiagId::MaskQueryDType, "MHA062", Severity::Error, "mask-query-dtype", "a float mask's dtype differs from the query's",
       "A float mask is added to the attention scores, which have the query's dtype; PyTorch does not promote "
       "it, so a float64 mask with a float32 query fails. Use the query's dtype or a bool mask.",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") R"(, "attn_mask": {"shape": [3, 5], "dtype": "float64"}})"},
      {DiagId::InputModuleDType, "MHA063", Severity::Error, "input-module-dtype", "an input's dtype differs from the module's parameters",
       "The in-projection multiplies query, key and value with the module's weights, whose dtype is the "
       "module's (float32 unless constructed with dtype= or converted with .double()/.half()).",
       MHA(R"({"shape": [3, 2, 8], "dtype": "float64"})", "[5, 2, 8]", "[5, 2, 8]", "") "}"},
      {DiagId::CausalWithoutMask, "MHA070", Severity::Error, "causal-without-mask", "is_causal=True needs an attn_mask",
       "In nn.MultiheadAttention, is_causal is only a hint that attn_mask is causal; the mask itself must be "
       "passed (nn.Transformer.generate_square_subsequent_mask(L) makes one).",
       MHA("[3, 2, 8]", "[3, 2, 8]", "[3, 2, 8]", "") R"(, "is_causal": true})"},
      {DiagId::CausalIgnoresMask, "MHA071", Severity::Warning, "causal-ignores-mask", "is_causal=True makes PyTorch ignore attn_mask",
       "With is_causal=True, need_weights=False and no key_padding_mask, PyTorch 2.x drops attn_mask and applies "
       "its own causal mask, so the mask passed is neither checked nor used.",
       MHA("[3, 2, 8]", "[3, 2, 8]", "[3, 2, 8]", "") R"(, "attn_mask": [3, 3], "is_causal": true, "need_weights": false})"},
      {DiagId::SymbolConstraint, "MHA080", Severity::Warning, "symbol-constraint", "the call is valid only if symbols take particular values",
       "Distinct symbols are independent sizes. When the call is valid only if two symbols are equal, or a symbol "
       "has one value, mhacheck says so rather than assuming it; bind the symbol under \"dims\" or use one name.",
       MHA(R"(["L", "B", 8])", R"(["S", "N", 8])", R"(["S", "N", 8])", "") "}"},
      {DiagId::SymbolNameRole, "MHA081", Severity::Warning, "symbol-name-role", "a symbol's name says batch but it sits in a sequence position (or the reverse)",
       "With batch_first=False, (32, 10, 512) is read as (L=32, N=10, E=512). A dim named like a batch size (B, N, "
       "batch, bs, bsz) in the sequence slot, or a sequence name (L, S, T, seq, len) in the batch slot, usually "
       "means the module reads the layout the wrong way round, which PyTorch does not detect: attention then "
       "runs across the batch.",
       MHA(R"(["B", "T", 8])", R"(["B", "T", 8])", R"(["B", "T", 8])", "") "}"},
      {DiagId::SymbolRoleConflict, "MHA082", Severity::Warning, "symbol-role-conflict", "one symbol is a batch dim in one tensor and a sequence dim in another",
       "The same symbol is read as the batch size in one argument and as a sequence length in another: one of "
       "the two tensors is laid out differently from what the module expects. A name-role warning (MHA081) "
       "of the same call is folded into it as a note.",
       MHA(R"(["T", "X", 8])", R"(["S", "T", 8])", R"(["S", "T", 8])", "") "}"},
      {DiagId::RoleCondition, "MHA083", Severity::Error, "role-condition", "the call is valid only if a batch size equals a sequence length",
       "The call is valid only if two symbols are equal, and their names say one is a batch size and the other a "
       "sequence length (B == T). That holds by accident at best: PyTorch fails whenever the sizes differ, and when "
       "they happen to be equal it runs attention across the batch. Usually the module reads the layout the wrong "
       "way round (batch_first), or one tensor is transposed. The role warnings of the same call (MHA081, MHA082) "
       "are folded into this diagnostic as notes.",
       MHA(R"(["B", "T", 8])", R"(["B", "T", 8])", R"(["B", "T", 8])", "") R"(, "key_padding_mask": ["B", "T"]})"},
      {DiagId::MaskMeaning, "MHA084", Severity::Warning, "mask-meaning", "a mask's values mean the opposite of what the argument expects",
       "Boolean masks have opposite meanings: nn.MultiheadAttention's masks mark with True the positions to ignore, "
       "F.scaled_dot_product_attention's attn_mask marks with True the positions that take part. A padding mask "
       "(named like pad, padding_mask, key_padding_mask: True = padding) passed to SDPA as is attends only to the "
       "padding; a Hugging Face attention_mask (an integer mask, 1 = keep) needs mask == 0 for nn.MultiheadAttention "
       "and .bool() for SDPA. PyTorch raises nothing.",
       R"({"op": "scaled_dot_product_attention", "tensors": {"key_padding_mask": {"shape": [2, 1, 1, 6], "dtype": "bool"}}, "query": [2, 4, 5, 8], "key": [2, 4, 6, 8], "value": [2, 4, 6, 8], "attn_mask": "key_padding_mask"})"},
      {DiagId::Interpretation, "MHA090", Severity::Note, "interpretation", "how the module reads the inputs' dims",
       "States which dim of each input is the sequence, the batch and the features, as batch_first dictates. "
       "With plain numbers mhacheck cannot know the intent, so it shows the reading; name dims with symbols to "
       "let it check the reading.",
       MHA("[4, 2, 8]", "[4, 2, 8]", "[4, 2, 8]", "") "}"},
      {DiagId::WeightsMissing, "MHA100", Severity::Error, "weights-missing", "the weights file lacks a parameter the module has",
       "mhacheck run loads a module's parameters from an .npz of its state_dict (PyTorch's names, after the "
       "module's \"prefix\"). A parameter that is not there fails as load_state_dict(strict=True) does. The "
       "parameters depend on the constructor: kdim/vdim other than embed_dim replace in_proj_weight by "
       "q_proj_weight, k_proj_weight and v_proj_weight; bias=False drops the biases; add_bias_kv adds bias_k "
       "and bias_v.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "kdim": 4, "vdim": 4, "weights": "examples/run/mha_e8_h2.npz"}, "query": [3, 2, 8], "key": [5, 2, 4], "value": [5, 2, 4]})",
       true},
      {DiagId::WeightsShape, "MHA101", Severity::Error, "weights-shape", "a weight's shape differs from the module's parameter",
       "A checkpoint saved from a module with another embed_dim, kdim, vdim or num_heads layout has parameters "
       "of other shapes; PyTorch refuses to copy them (size mismatch for ...). The message names the "
       "constructor arguments that would produce the checkpoint's shapes when they can be read off it.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 16, "num_heads": 2, "weights": "examples/run/mha_e8_h2.npz"}, "query": [3, 2, 16], "key": [5, 2, 16], "value": [5, 2, 16]})",
       true},
      {DiagId::WeightsUnexpected, "MHA102", Severity::Error, "weights-unexpected", "the weights file has a parameter the module lacks",
       "Under the module's prefix, the .npz holds a parameter of nn.MultiheadAttention that this module does not "
       "have, which load_state_dict(strict=True) refuses (Unexpected key(s) in state_dict): the checkpoint was "
       "saved from a module built with other arguments (bias, add_bias_kv, kdim/vdim). Other names in the file "
       "(inputs, other modules' weights) are ignored.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "bias": false, "weights": "examples/run/mha_e8_h2.npz"}, "query": [3, 2, 8], "key": [5, 2, 8], "value": [5, 2, 8]})",
       true},
      {DiagId::InputDataMissing, "MHA103", Severity::Error, "input-data-missing", "a tensor has a shape but no data to run on",
       "mhacheck run needs values: give the tensor as {\"file\": ...}, or pass --random-inputs to fill tensors "
       "that have only a shape with seeded standard-normal data (masks with nothing masked). Symbolic dims "
       "need a value under \"dims\" first.",
       MHA("[3, 2, 8]", "[5, 2, 8]", "[5, 2, 8]", "") "}", true},
      {DiagId::RunDType, "MHA104", Severity::Error, "run-dtype", "the forward pass runs in float32 or float64 only",
       "The reference forward pass computes in the query's dtype, float32 or float64; float16 and bfloat16 "
       "calls can be checked but not run.",
       MHA(R"({"shape": [3, 2, 8], "dtype": "float16"})", R"({"shape": [5, 2, 8], "dtype": "float16"})",
           R"({"shape": [5, 2, 8], "dtype": "float16"})", R"(, "dtype": "float16")") "}",
       true},
      {DiagId::IndexOutOfRange, "MHA105", Severity::Error, "index-out-of-range", "an Embedding index is outside the table",
       "nn.Embedding(num_embeddings, ...) has rows 0 to num_embeddings - 1; its input's values are row numbers, so only "
       "running can find one outside that range (PyTorch raises IndexError: index out of range in self; with max_norm, "
       "embedding_renorm_'s 'select(): index ... out of range' for one beyond either end). A negative index does not count "
       "from the end. The message names the call, the index's position in the input and its value. Usual causes: a tokenizer "
       "with a larger vocabulary than num_embeddings, or a padding id such as -1.",
       R"({"module": {"type": "Embedding", "num_embeddings": 10, "embedding_dim": 4}, "input": {"file": "examples/run/embedding_ids.npy"}})",
       true},
      {DiagId::FullyMaskedRows, "MHA110", Severity::Warning, "fully-masked-rows", "every key position of a query row is masked",
       "When attn_mask and key_padding_mask together mask all key positions of a query row, the softmax "
       "divides zero by zero: with need_weights=True PyTorch returns NaN for that row (and, through out_proj, "
       "for the whole output token), which then spreads through training; with need_weights=False PyTorch "
       "2.5+ gives the row no attention, so the token's output is out_proj's bias alone (earlier releases gave "
       "NaN). The warning names batch entry, head and row; unmask at least one position (a padded sequence "
       "still needs one real key) or drop the row.",
       R"({"module": {"type": "MultiheadAttention", "embed_dim": 8, "num_heads": 2, "weights": "examples/run/mha_e8_h2.npz"}, "query": {"file": "examples/run/inputs.npz", "key": "query"}, "key": {"file": "examples/run/inputs.npz", "key": "key"}, "value": {"file": "examples/run/inputs.npz", "key": "key"}, "key_padding_mask": {"file": "examples/run/inputs.npz", "key": "blank_row_mask"}})",
       true},
      {DiagId::SdpaDType, "MHA200", Severity::Error, "sdpa-dtype", "query, key and value of scaled_dot_product_attention differ in dtype",
       "F.scaled_dot_product_attention computes in one dtype; it refuses query, key and value of different dtypes "
       "before looking at their shapes.",
       SDPA(R"({"shape": [2, 4, 5, 8], "dtype": "float64"})", "[2, 4, 6, 8]", "[2, 4, 6, 8]", "")},
      {DiagId::SdpaRank, "MHA201", Severity::Error, "sdpa-rank", "scaled_dot_product_attention needs 2-D or larger inputs",
       "query, key and value are (..., L, E), (..., S, E) and (..., S, Ev): at least a sequence and a feature dim.",
       SDPA("[8]", "[6, 8]", "[6, 8]", "")},
      {DiagId::SdpaMaskDType, "MHA202", Severity::Error, "sdpa-mask-dtype", "scaled_dot_product_attention's attn_mask has an unsupported dtype",
       "The mask is bool (True: take part in attention, the opposite of nn.MultiheadAttention), float32, or the "
       "query's dtype (added to the scores).",
       SDPA("[2, 4, 5, 8]", "[2, 4, 6, 8]", "[2, 4, 6, 8]", R"(, "attn_mask": {"shape": [5, 6], "dtype": "int64"})")},
      {DiagId::SdpaCausalWithMask, "MHA203", Severity::Error, "sdpa-causal-with-mask", "is_causal=True together with an attn_mask",
       "F.scaled_dot_product_attention builds its own causal mask with is_causal=True and refuses an explicit one as "
       "well; fold the causality into the mask or drop it.",
       SDPA("[2, 4, 5, 8]", "[2, 4, 5, 8]", "[2, 4, 5, 8]", R"(, "attn_mask": [5, 5], "is_causal": true)")},
      {DiagId::SdpaHeads, "MHA204", Severity::Error, "sdpa-heads", "key/value heads do not divide the query heads (enable_gqa)",
       "With enable_gqa=True, key and value may have fewer heads (dim -3) than the query, as long as their count "
       "divides the query's; each is repeated Hq/H times.",
       SDPA("[2, 8, 5, 16]", "[2, 3, 6, 16]", "[2, 3, 6, 16]", R"(, "enable_gqa": true)")},
      {DiagId::SdpaFeatures, "MHA205", Severity::Error, "sdpa-features", "query and key feature sizes differ",
       "The scores are query @ key.transpose(-2, -1): query's last dim E must equal key's.",
       SDPA("[2, 4, 5, 8]", "[2, 4, 6, 16]", "[2, 4, 6, 16]", "")},
      {DiagId::SdpaKeyValueLength, "MHA206", Severity::Error, "sdpa-key-value-length", "key and value sequence lengths differ",
       "The output is softmax(scores) @ value: value needs one row per key position, so key and value share S.",
       SDPA("[2, 4, 5, 8]", "[2, 4, 6, 8]", "[2, 4, 7, 8]", "")},
      {DiagId::SdpaBatch, "MHA207", Severity::Error, "sdpa-batch", "batch or head dims of query, key and value do not broadcast",
       "Every dim before the last two broadcasts: equal, or 1 on one side. Without enable_gqa the head dims must "
       "match (or be 1).",
       SDPA("[2, 4, 5, 8]", "[3, 4, 6, 8]", "[3, 4, 6, 8]", "")},
      {DiagId::SdpaMaskShape, "MHA208", Severity::Error, "sdpa-mask-shape", "attn_mask does not broadcast to the scores (..., L, S)",
       "The mask is added in place to the scores (batch..., L, S): it must broadcast to that shape without making "
       "it larger; (L, S) works for every batch entry and head.",
       SDPA("[2, 4, 5, 8]", "[2, 4, 6, 8]", "[2, 4, 6, 8]", R"(, "attn_mask": [6, 5])")},
      {DiagId::SdpaLayoutRole, "MHA209", Severity::Warning, "sdpa-layout-role", "a sequence dim in scaled_dot_product_attention's heads slot, or heads in its sequence slot",
       "F.scaled_dot_product_attention reads its inputs as (..., L, D): the dim before the last is the sequence. "
       "A tensor viewed as (B, T, H, D) and not transposed to (B, H, T, D) has the heads there: PyTorch accepts it "
       "and attends over the heads of each position instead of over the positions. Found from the dims' names "
       "(kept through view, transpose and the other operators).",
       SDPA(R"(["B", "T", "H", 8])", R"(["B", "T", "H", 8])", R"(["B", "T", "H", 8])", "")},
      {DiagId::DimOutOfRange, "MHA300", Severity::Error, "dim-out-of-range", "a dim argument is outside the tensor's dims",
       "A dim of an r-D tensor is in [-r, r-1]: negative dims count from the end, and a 0-D tensor accepts 0 and -1 as if it "
       "were 1-D. unsqueeze counts the result's dims (r+1). PyTorch raises an IndexError.",
       R"({"op": "softmax", "input": [2, 5, 5], "dim": 3})"},
      {DiagId::PermuteDims, "MHA301", Severity::Error, "permute-dims", "permute's dims are not an ordering of the input's dims",
       "permute takes one entry per input dim, each dim exactly once; x.permute(0, 2, 1, 3) on a 3-D tensor is refused "
       "before any dim is looked at.",
       R"({"op": "permute", "input": [2, 5, 8], "dims": [0, 2, 1, 3]})"},
      {DiagId::ReshapeInvalid, "MHA302", Severity::Error, "reshape-invalid", "reshape/view cannot produce the requested shape",
       "The target shape must hold exactly the input's elements; one size may be -1 and is then inferred. Two -1s, a "
       "negative size, or a -1 beside a 0 size for an empty input are refused too. A common cause is splitting heads "
       "with the wrong head count or sequence length.",
       R"({"op": "reshape", "input": [2, 5, 8], "shape": [2, 5, 3, 4]})"},
      {DiagId::ShapeNotDerivable, "MHA303", Severity::Error, "shape-not-derivable", "a size depends on symbols in a way mhacheck cannot write",
       "mhacheck writes a dim as an integer or a multiple of one symbol. A reshape's -1 with symbols, or a flatten of "
       "several symbolic dims, can give a product of symbols (B*T) or a quotient that is not known to be whole; "
       "PyTorch may well accept the call, but its result cannot be checked further. Bind the symbols under \"dims\".",
       R"({"op": "flatten", "input": ["B", "T", 8], "start_dim": 0, "end_dim": 1})"},
      {DiagId::FlattenDims, "MHA304", Severity::Error, "flatten-dims", "flatten's start_dim comes after its end_dim",
       "flatten merges dims start_dim..end_dim (after wrapping negative dims); start_dim must not be after end_dim.",
       R"({"op": "flatten", "input": [2, 5, 8], "start_dim": 2, "end_dim": 1})"},
      {DiagId::AddBroadcast, "MHA305", Severity::Error, "add-broadcast", "the operands of add do not broadcast",
       "Shapes are aligned from the right; each pair of dims must be equal or one of them 1. A residual connection "
       "added to a tensor still in (L, N, E) layout while the other is (N, L, E) is a common cause.",
       R"({"op": "add", "input": [2, 5, 8], "other": [5, 2, 8]})"},
      {DiagId::MatmulRank, "MHA306", Severity::Error, "matmul-rank", "an operand of matmul is 0-D",
       "torch.matmul needs both operands to have at least one dim; multiply by a scalar with * instead.",
       R"({"op": "matmul", "input": [], "other": [3, 4]})"},
      {DiagId::MatmulContraction, "MHA307", Severity::Error, "matmul-contraction", "matmul's contracted dims differ",
       "input's last dim must equal other's second-to-last (its only dim when other is 1-D). PyTorch's message names "
       "the kernel that ran: dot, mv, mm (a 2-D product, or N-D @ 2-D folded into one) or bmm (batched).",
       R"({"op": "matmul", "input": [2, 5, 8], "other": [16, 4]})"},
      {DiagId::MatmulBatch, "MHA308", Severity::Error, "matmul-batch", "matmul's batch dims do not broadcast",
       "Every dim before the last two broadcasts between the operands: equal, or 1 on one side.",
       R"({"op": "matmul", "input": [2, 5, 8], "other": [3, 8, 4]})"},
      {DiagId::MatmulDType, "MHA309", Severity::Error, "matmul-dtype", "matmul's operands differ in dtype",
       "torch.matmul does not promote: both operands must have the same dtype (cast one with .to(...)). PyTorch's message "
       "depends on the kernel (dot, mv, mm, bmm).",
       R"({"op": "matmul", "input": [2, 5, 8], "other": {"shape": [8, 4], "dtype": "float64"}})"},
      {DiagId::SoftmaxDType, "MHA310", Severity::Error, "softmax-dtype", "softmax of a tensor that is not floating point",
       "The CPU softmax kernels take float16, bfloat16, float32 and float64 only; convert integer or bool scores with "
       ".float() first (or pass dtype=).",
       R"({"op": "softmax", "input": {"shape": [2, 5], "dtype": "int64"}, "dim": -1})"},
      {DiagId::CatShapes, "MHA311", Severity::Error, "cat-shapes", "torch.cat's tensors do not line up",
       "torch.cat joins tensors along dim: every tensor must have the same number of dims and the same size in every other "
       "dim (1-D tensors of size 0 are skipped, for backwards compatibility), and none may be 0-D. The result's dtype is "
       "the promotion of all the tensors' dtypes.",
       R"({"op": "cat", "tensors": [[2, 5, 8], [2, 4, 8]], "dim": 2})"},
      {DiagId::ReshapeMovesDim, "MHA312", Severity::Warning, "reshape-moves-dim", "a reshape puts a named dim where its data is not",
       "reshape and view keep the elements in memory order: a dim survives a reshape only where the dims before it "
       "hold as many elements as before. view(B, H, T, D) straight from (B, T, H*D), or reshape(B, T, H*D) of a "
       "(B, H, T, D) attention output, gives a dim of size T that mixes positions and heads; PyTorch accepts it. "
       "Transpose first: x.view(B, T, H, D).transpose(1, 2), out.transpose(1, 2).reshape(B, T, H*D).",
       R"({"op": "view", "input": ["B", "T", 8], "shape": ["B", 2, "T", 4]})"},
      {DiagId::ActivationInvalid, "MHA400", Severity::Error, "activation-invalid", "a Transformer layer's activation is not relu or gelu",
       "TransformerEncoderLayer and TransformerDecoderLayer take activation=\"relu\" or \"gelu\" as a string (or the "
       "functions F.relu, F.gelu); any other string makes the constructor raise RuntimeError.",
       R"({"module": {"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2, "activation": "tanh"}, "src": [5, 2, 8]})"},
      {DiagId::NoLayers, "MHA401", Severity::Error, "no-layers", "a Transformer stack has no layers",
       "TransformerEncoder and TransformerDecoder read self.layers[0] in forward (its batch_first decides how the "
       "sequence length is read); with num_layers <= 0 the ModuleList is empty and forward raises IndexError.",
       R"({"module": {"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2}, "num_layers": 0}, "src": [5, 2, 8]})"},
      {DiagId::NegativeSize, "MHA402", Severity::Error, "negative-size", "a module size is negative",
       "A module's parameters are allocated from its sizes (in_features, out_features, dim_feedforward, "
       "normalized_shape, num_embeddings, embedding_dim); a negative one makes the constructor fail with "
       "RuntimeError: Trying to create tensor with negative dimension.",
       R"({"module": {"type": "Linear", "in_features": 8, "out_features": -4}, "input": [5, 8]})"},
      {DiagId::LayerNormShape, "MHA403", Severity::Error, "layer-norm-shape", "the input's last dims are not LayerNorm's normalized_shape",
       "LayerNorm(normalized_shape) normalises over the input's trailing dims, which must equal normalized_shape. In "
       "a Transformer layer with norm_first=True, norm1 sees the input before attention does, so a wrong d_model "
       "is reported by LayerNorm.",
       R"({"module": {"type": "LayerNorm", "normalized_shape": 8}, "input": [5, 2, 6]})"},
      {DiagId::LinearFeatures, "MHA404", Severity::Error, "linear-features", "the input's last dim is not the Linear's in_features",
       "nn.Linear(in_features, out_features) maps (*, in_features) to (*, out_features). PyTorch flattens the leading "
       "dims and reports the two matrices it tried to multiply.",
       R"({"module": {"type": "Linear", "in_features": 8, "out_features": 4}, "input": [5, 2, 6]})"},
      {DiagId::IndicesDType, "MHA405", Severity::Error, "indices-dtype", "Embedding's input is not an integer index tensor",
       "nn.Embedding looks rows up by index: its input must be int64 (torch.long) or int32. A float tensor of "
       "token ids needs .long() first.",
       R"({"module": {"type": "Embedding", "num_embeddings": 100, "embedding_dim": 8}, "input": {"shape": [2, 5], "dtype": "float32"}})"},
      {DiagId::PaddingIdx, "MHA406", Severity::Error, "padding-idx", "Embedding's padding_idx is outside num_embeddings",
       "padding_idx must be in [-num_embeddings, num_embeddings - 1]; the constructor asserts it.",
       R"({"module": {"type": "Embedding", "num_embeddings": 100, "embedding_dim": 8, "padding_idx": 100}, "input": {"shape": [2, 5], "dtype": "int64"}})"},
      {DiagId::SequenceDim, "MHA407", Severity::Error, "sequence-dim", "a Transformer stack cannot read the sequence length",
       "TransformerEncoder and TransformerDecoder read the sequence length from dim 1 (batch_first) or 0 of a batched "
       "input, and nn.Transformer reads the batch from dim 1 (or 0) of src and tgt, before any layer runs; a 1-D or "
       "0-D input has no such dim and PyTorch raises IndexError.",
       R"({"module": {"type": "TransformerEncoder", "encoder_layer": {"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2, "batch_first": true}, "num_layers": 2}, "src": [8]})"},
      {DiagId::TransformerBatch, "MHA408", Severity::Error, "transformer-batch", "nn.Transformer's src and tgt differ in batch size",
       "nn.Transformer checks that src and tgt have the same batch size, read from dim 1 (dim 0 with batch_first=True), "
       "before it runs the encoder. Tensors laid out (N, S, E) for a batch_first=False model are a common cause.",
       R"({"module": {"type": "Transformer", "d_model": 8, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1, "dim_feedforward": 16}, "src": [5, 2, 8], "tgt": [4, 3, 8]})"},
      {DiagId::TransformerFeatures, "MHA409", Severity::Error, "transformer-features", "nn.Transformer's src or tgt features are not d_model",
       "nn.Transformer checks that the last dim of both src and tgt is d_model before it runs the encoder.",
       R"({"module": {"type": "Transformer", "d_model": 8, "nhead": 2, "num_encoder_layers": 1, "num_decoder_layers": 1, "dim_feedforward": 16}, "src": [5, 2, 8], "tgt": [4, 2, 6]})"},
      {DiagId::CausalDetectDType, "MHA410", Severity::Error, "causal-detect-dtype", "an integer mask meets the causal-mask detection",
       "With is_causal left as None, TransformerEncoder, TransformerDecoder and nn.Transformer compare the mask with a "
       "causal mask built in the mask's own dtype: torch.full(..., float(\"-inf\")) cannot build an integer one, and "
       "PyTorch raises RuntimeError before the mask's type is checked. Pass a bool or float mask.",
       R"({"module": {"type": "TransformerDecoder", "decoder_layer": {"type": "TransformerDecoderLayer", "d_model": 8, "nhead": 2}, "num_layers": 1}, "tgt": [4, 2, 8], "memory": [5, 2, 8], "tgt_mask": {"shape": [4, 4], "dtype": "int64"}})"},
      {DiagId::InputRank, "MHA411", Severity::Error, "input-rank", "a module's input has a rank it cannot take",
       "nn.Linear needs an input with at least one dim (the features).",
       R"({"module": {"type": "Linear", "in_features": 8, "out_features": 4}, "input": []})"},
      {DiagId::DropoutRange, "MHA412", Severity::Error, "dropout-range", "a Transformer layer's dropout is not a probability",
       "The Transformer layers build nn.Dropout(dropout) modules in their constructors, which refuse a probability "
       "outside [0, 1] with ValueError. (nn.MultiheadAttention stores its dropout without checking it.)",
       R"({"module": {"type": "TransformerEncoderLayer", "d_model": 8, "nhead": 2, "dropout": 1.5}, "src": [5, 2, 8]})"},
  };
  return catalogue;
}

#undef MHA
#undef SDPA

const DiagInfo& diag_info(DiagId id) {
  for (const DiagInfo& info : diagnostic_catalogue()) {
    if (info.id == id) return info;
  }
  throw std::logic_error("diagnostic id missing from the catalogue");
}

const DiagInfo* find_diag_info(const std::string& code) {
  std::string upper = code;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const DiagInfo& info : diagnostic_catalogue()) {
    if (upper == info.code || code == info.name) return &info;
  }
  return nullptr;
}

}  // namespace mhacheck
