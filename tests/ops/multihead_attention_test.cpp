// Rules of nn.MultiheadAttention beyond what the PyTorch fixtures cover: symbolic dims, silent
// problems, provenance, and the reading batch_first imposes.
#include <catch2/catch.hpp>

#include <algorithm>

#include <fmt/format.h>

#include "check/roles.hpp"

#include "test_support.hpp"

using namespace mhacheck;

namespace {

std::string flat(const std::string& module_options, const std::string& rest) {
  return R"({"module": {"type": "MultiheadAttention", "embed_dim": 512, "num_heads": 8)" + module_options + "}, " + rest + "}";
}

std::string outputs(const Report& report) {
  std::string text;
  for (const NamedOutput& output : report.calls.at(0).outputs) text += output.name + tuple_str(output.shape) + " ";
  return text;
}

}  // namespace

TEST_CASE("output shapes follow batch_first, batching, need_weights and averaging", "[mha]") {
  CHECK(outputs(test::check_text(flat("", R"("query": [4, 2, 512], "key": [6, 2, 512], "value": [6, 2, 512])"))) ==
        "attn_output(4, 2, 512) attn_output_weights(2, 4, 6) ");
  CHECK(outputs(test::check_text(flat(R"(, "batch_first": true)", R"("query": [2, 4, 512], "key": [2, 6, 512], "value": [2, 6, 512], "average_attn_weights": false)"))) ==
        "attn_output(2, 4, 512) attn_output_weights(2, 8, 4, 6) ");
  CHECK(outputs(test::check_text(flat(R"(, "add_bias_kv": true, "add_zero_attn": true)", R"("query": [4, 512], "key": [6, 512], "value": [6, 512])"))) ==
        "attn_output(4, 512) attn_output_weights(4, 8) ");
  CHECK(outputs(test::check_text(flat("", R"("query": [4, 2, 512], "key": [6, 2, 512], "value": [6, 2, 512], "need_weights": false)"))) ==
        "attn_output(4, 2, 512) ");
}

TEST_CASE("outputs are expressed in the symbols that remain", "[mha]") {
  Report report = test::check_text(flat(R"(, "batch_first": true, "add_bias_kv": true)",
                                        R"("dims": {"B": 3}, "query": ["B", "L", 512], "key": ["B", "S", 512], "value": ["B", "S", 512])"));
  CHECK(report.ok());
  CHECK(report.count(Severity::Warning) == 0);
  CHECK(outputs(report) == "attn_output(3, L, 512) attn_output_weights(3, L, S+1) ");
}

TEST_CASE("a mask's rows bind the batch symbol, with a warning that says so", "[mha]") {
  Report report = test::check_text(flat("", R"("query": ["L", "N", 512], "key": ["S", "N", 512], "value": ["S", "N", 512], "attn_mask": [16, "L", "S"])"));
  CHECK(report.ok());
  const Diagnostic* constraint = test::find(report, "MHA080");
  REQUIRE(constraint != nullptr);
  CHECK(constraint->message == "valid only if N == 2 (attn_mask shape)");
  CHECK(outputs(report) == "attn_output(L, 2, 512) attn_output_weights(2, L, S) ");
}

TEST_CASE("distinct symbols forced equal are a warning, not an assumption", "[mha]") {
  Report report = test::check_text(flat("", R"("query": ["T", "N", 512], "key": ["S", "M", 512], "value": ["S", "M", 512], "attn_mask": ["T", "S"])"));
  CHECK(report.ok());
  const Diagnostic* constraint = test::find(report, "MHA080");
  REQUIRE(constraint != nullptr);
  CHECK(constraint->message == "valid only if M == N (key batch == query batch)");
  CHECK(constraint->argument == "key");
  CHECK(constraint->dim == 1);
}

TEST_CASE("N is a batch in PyTorch's (L, N, E), but the tokens beside a batch-named dim (timm's (B, N, C))", "[mha][roles]") {
  // Batch-first (B, N, 768) with a (B, N) padding mask: N is the sequence, nothing to report.
  Report timm = test::check_text(R"j({"version": 1, "dims": {"B": 4, "N": 197},
    "tensors": {"x": ["B", "N", 768], "pad": {"shape": ["B", "N"], "dtype": "bool"}},
    "calls": [{"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "key_padding_mask": "pad"}],
    "modules": {"mha": "nn.MultiheadAttention(768, 12, batch_first=True)"}})j");
  CHECK(timm.diagnostics.empty());
  Report seq_first = test::check_text(R"j({"version": 1, "dims": {"B": 4, "N": 197}, "tensors": {"x": ["N", "B", 768]},
    "calls": [{"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x"}], "modules": {"mha": "nn.MultiheadAttention(768, 12)"}})j");
  // Seq-first (N, B, 768): only MHA090's layout note, no warning.
  CHECK(std::all_of(seq_first.diagnostics.begin(), seq_first.diagnostics.end(),
                    [](const Diagnostic& diagnostic) { return diagnostic.severity() == Severity::Note; }));
  CHECK(test::find(seq_first, "MHA081") == nullptr);
  // PyTorch's own (L, N, E) with no other batch name: N is the batch, and in the sequence slot it is reported.
  Report docs = test::check_text(flat(R"(, "batch_first": true)", R"("tensors": {"x": ["L", "N", 512]}, "query": "x", "key": "x", "value": "x")"));
  const Diagnostic* misplaced = test::find(docs, "MHA081");
  REQUIRE(misplaced != nullptr);
  CHECK(misplaced->message.rfind("\"N\" looks like a batch size", 0) == 0);
  // timm's (B, N, C) with batch_first forgotten: both names are out of place, N as the tokens in the
  // batch slot (a note of the one primary diagnostic), and the fix is batch_first=True.
  Report forgotten = test::check_text(flat("", R"("tensors": {"x": ["B", "N", 512]}, "query": "x", "key": "x", "value": "x")"));
  const Diagnostic* primary = test::find(forgotten, "MHA081");
  REQUIRE(primary != nullptr);
  CHECK(primary->message == "\"B\" looks like a batch size but is query's sequence dim (dim 0, because batch_first=False)");
  CHECK(std::find(primary->notes.begin(), primary->notes.end(),
                  "same cause: MHA081 \"N\" looks like a sequence length but is query's batch dim (dim 1, because batch_first=False)") !=
        primary->notes.end());
  REQUIRE_FALSE(primary->fixes.empty());
  CHECK(primary->fixes[0].description == "construct with batch_first=True");
}

TEST_CASE("a batch of one built by a reshape that puts the batch in the sequence slot is deliberate: no MHA081", "[mha]") {
  // Attention across the batch: each (T, C) entry flattened to one token of a single sequence.
  auto across = [](const std::string& shape, const std::string& options) {
    return R"j({"version": 1, "modules": {"mha": "nn.MultiheadAttention(192, 4)j" + options + R"j()"}, "tensors": {"x": ["B", 12, 16]},
      "calls": [{"id": "r", "op": "view", "input": "x", "shape": )j" + shape + R"j(, "outputs": ["rows"]},
                {"id": "a", "module": "mha", "query": "rows", "key": "rows", "value": "rows"}]})j";
  };
  CHECK(test::find(test::check_text(across(R"([1, "B", 192])", ", batch_first=True")), "MHA081") == nullptr);
  CHECK(test::find(test::check_text(across(R"(["B", 1, 192])", "")), "MHA081") == nullptr);
  // A (B, E) pooled query viewed (B, 1, E) only gains the axis: into a seq-first module the batch
  // is still read as the sequence.
  const Report pooled = test::check_text(R"j({"version": 1, "modules": {"mha": "nn.MultiheadAttention(64, 4)"}, "tensors": {"x": ["B", 64]},
      "calls": [{"id": "r", "op": "view", "input": "x", "shape": ["B", 1, 64], "outputs": ["q"]},
                {"id": "a", "module": "mha", "query": "q", "key": "q", "value": "q"}]})j");
  CHECK(test::find(pooled, "MHA081") != nullptr);
}

TEST_CASE("a symbol that cannot take the required value is an error", "[mha]") {
  Report report = test::check_text(flat("", R"("query": ["L", "N", 512], "key": ["S", "N", 512], "value": ["S", "N", 512], "attn_mask": [12, "L", "S"])"));
  REQUIRE(test::find(report, "MHA051") != nullptr);
  CHECK(test::find(report, "MHA051")->pytorch_error->message == "The shape of the 3D attn_mask is torch.Size([12, L, S]), but should be (8*N, L, S).");
}

TEST_CASE("batch-like names in sequence slots are reported, PyTorch raises nothing", "[mha]") {
  Report report = test::check_text(flat("", R"("tensors": {"x": ["B", "T", 512]}, "query": "x", "key": "x", "value": "x")"));
  CHECK(report.ok());
  const Diagnostic* misplaced = test::find(report, "MHA081");
  REQUIRE(misplaced != nullptr);
  CHECK(misplaced->message == "\"B\" looks like a batch size but is query's sequence dim (dim 0, because batch_first=False)");
  REQUIRE(!misplaced->fixes.empty());
  CHECK(misplaced->fixes[0].description == "construct with batch_first=True");
  CHECK(misplaced->fixes[0].verified);
  // The same names in the right slots are fine.
  Report right = test::check_text(flat(R"(, "batch_first": true)", R"("tensors": {"x": ["B", "T", 512]}, "query": "x", "key": "x", "value": "x")"));
  CHECK(test::find(right, "MHA081") == nullptr);
  CHECK(right.diagnostics.empty());
}

TEST_CASE("one symbol as batch in one argument and sequence in another", "[mha]") {
  Report report = test::check_text(flat("", R"("query": ["T", "X", 512], "key": ["S", "T", 512], "value": ["S", "T", 512])"));
  const Diagnostic* conflict = test::find(report, "MHA082");
  REQUIRE(conflict != nullptr);
  CHECK(conflict->message == "\"T\" is the batch dim of key but a sequence dim of query");
  // One cause, one diagnostic: T's name in key's batch slot is a note of the conflict.
  CHECK(test::find(report, "MHA081") == nullptr);
  CHECK(std::find_if(conflict->notes.begin(), conflict->notes.end(), [](const std::string& note) {
          return note.rfind("same cause: MHA081", 0) == 0;
        }) != conflict->notes.end());
}

TEST_CASE("a condition that reads a batch size as a sequence length is one error with the layout fix", "[mha][roles]") {
  // Batch-major query and key, batch_first forgotten: valid only if B == T.
  Report report = test::check_text(flat("", R"("query": ["T", "B", 512], "key": ["B", "T", 512], "value": ["B", "T", 512])"));
  const Diagnostic* condition = test::find(report, "MHA083");
  REQUIRE(condition != nullptr);
  CHECK(condition->severity() == Severity::Error);
  CHECK(condition->message == "valid only if T == B (key batch == query batch), but T is a sequence length and B a batch size");
  // The query is sequence-first as batch_first=False reads it: key and value are the odd ones.
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes[0].description == "transpose key and value with .transpose(0, 1)");
  CHECK(condition->fixes[0].valid());
  CHECK(condition->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(test::find(report, "MHA082") == nullptr);
  CHECK(test::find(report, "MHA081") == nullptr);
  CHECK(test::find(report, "MHA090") == nullptr);
  CHECK(report.count(Severity::Error) == 1);
}

TEST_CASE("a query with a batch of 1 against batched keys is expanded first, not transposed", "[mha][roles]") {
  // Learned object queries (1, 100, E) cross-attending to (B, HW, E) features without expand:
  // the transpose would read the 100 queries as the batch.
  Report report = test::check_text(
      flat(R"(, "batch_first": true)", R"("query": [1, 100, 512], "key": ["B", "S", 512], "value": ["B", "S", 512])"));
  const Diagnostic* condition = test::find(report, "MHA083");
  REQUIRE(condition != nullptr);
  REQUIRE_FALSE(condition->fixes.empty());
  CHECK(condition->fixes[0].description == "give it the batch: one sequence shared by every batch entry: query.expand(B, -1, -1)");
  CHECK(condition->fixes[0].valid());
  CHECK(condition->fixes[0].semantics == FixSemantics::Consistent);
  Report seq_first = test::check_text(flat("", R"("query": [100, 1, 512], "key": ["S", "B", 512], "value": ["S", "B", 512])"));
  const Diagnostic* seq_condition = test::find(seq_first, "MHA083");
  REQUIRE(seq_condition != nullptr);
  REQUIRE_FALSE(seq_condition->fixes.empty());
  CHECK(seq_condition->fixes[0].description == "give it the batch: one sequence shared by every batch entry: query.expand(-1, B, -1)");
}

TEST_CASE("the batch mismatch names both dims, the reading and PyTorch's late error", "[mha]") {
  Report report = test::check_text(flat("", R"("query": [32, 1, 512], "key": [32, 10, 512], "value": [32, 10, 512])"));
  const Diagnostic* mismatch = test::find(report, "MHA040");
  REQUIRE(mismatch != nullptr);
  CHECK(mismatch->message == "key batch size (10) differs from query batch size (1)");
  CHECK(mismatch->argument == "key");
  CHECK(mismatch->dim == 1);
  CHECK(mismatch->location.pointer == "/key/1");
  REQUIRE(mismatch->related.size() == 2);
  CHECK(mismatch->related[0].message == "query batch N = 1 (dim 1, because batch_first=False)");
  CHECK(mismatch->related[0].location.pointer == "/query/1");
  CHECK(mismatch->notes.at(0) ==
        "with batch_first=False, query (32, 1, 512) is read as (L=32, N=1, E=512) and key (32, 10, 512) is read as (S=32, N=10, E=512)");
  CHECK(mismatch->pytorch_error->message == "shape '[32, 8, 64]' is invalid for input of size 163840");
}

TEST_CASE("every problem of a call is reported, PyTorch's first one marked", "[mha]") {
  Report report = test::check_text(flat("", R"("query": [32, 1, 512], "key": [32, 10, 256], "value": [32, 10, 256], "key_padding_mask": [10, 33])"));
  CHECK(report.count(Severity::Error) == 3);
  REQUIRE(test::raised(report) != nullptr);
  CHECK(std::string(test::raised(report)->info().code) == "MHA031");
  int raised_first = 0;
  for (const Diagnostic& diagnostic : report.diagnostics) raised_first += diagnostic.pytorch_error && diagnostic.pytorch_error->raised_first;
  CHECK(raised_first == 1);
  CHECK(test::find(report, "MHA052") != nullptr);
}

TEST_CASE("is_causal: an error without a mask, a warning when the mask is ignored (not a Transformer layer's hinted (L, L) mask)", "[mha]") {
  Report missing = test::check_text(flat("", R"("query": [4, 2, 512], "key": [4, 2, 512], "value": [4, 2, 512], "is_causal": true)"));
  REQUIRE(test::find(missing, "MHA070") != nullptr);
  CHECK(test::find(missing, "MHA070")->fixes.size() == 2);
  Report ignored = test::check_text(flat("", R"("query": [4, 2, 512], "key": [4, 2, 512], "value": [4, 2, 512], "attn_mask": [7, 7], "is_causal": true, "need_weights": false)"));
  CHECK(ignored.ok());
  CHECK(test::find(ignored, "MHA071") != nullptr);
  // In a Transformer layer, the hint as PyTorch's docs give it: the causal (L, L) mask itself with
  // is_causal=True. It fits the slot, so it may be the mask the hint stands for: no warning.
  Report hinted = test::check_text(R"J({"module": "nn.TransformerEncoderLayer(64, 4, batch_first=True)", "src": ["B", "T", 64],
    "src_mask": {"shape": ["T", "T"], "dtype": "bool"}, "is_causal": true})J");
  CHECK(hinted.ok());
  CHECK(test::find(hinted, "MHA071") == nullptr);
  Report decoder = test::check_text(R"J({"module": "nn.TransformerDecoderLayer(d_model=256, nhead=8, batch_first=True)", "tgt": ["B", "T", 256],
    "memory": ["B", "S", 256], "tgt_mask": {"shape": ["T", "T"], "dtype": "float32"}, "tgt_is_causal": true})J");
  CHECK(test::find(decoder, "MHA071") == nullptr);
  // A mask sized for other lengths cannot be the hinted one, even there.
  Report other = test::check_text(R"J({"module": "nn.TransformerEncoderLayer(64, 4)", "src": [4, 2, 64],
    "src_mask": {"shape": [7, 7], "dtype": "bool"}, "is_causal": true})J");
  CHECK(test::find(other, "MHA071") != nullptr);
  Report used = test::check_text(flat("", R"("query": [4, 2, 512], "key": [4, 2, 512], "value": [4, 2, 512], "attn_mask": [7, 7], "is_causal": true)"));
  CHECK(test::find(used, "MHA050") != nullptr);
}

TEST_CASE("is_causal with an (L, L) mask whose values are known not causal warns, causal or unknown values stay silent", "[mha]") {
  auto hinted = [](const std::string& tensors, const std::string& calls, const std::string& mask) {
    return test::check_text(R"J({"version": 1, "modules": {"attn": "nn.MultiheadAttention(32, 4, batch_first=True)"},
      "tensors": {"x": ["B", 6, 32], )J" + tensors + R"J(},
      "calls": [)J" + calls + R"J({"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": ")J" + mask +
                            R"J(", "is_causal": true, "need_weights": false, "outputs": ["y"]}]})J");
  };
  // A float 0/1 triangle (masked_fill to -inf forgotten) adds 1 to the future: MHA275 says so with
  // its fix, and MHA071 does not repeat it.
  Report added = hinted(R"J("ones": [6, 6])J", R"J({"id": "m", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["future"]},)J", "future");
  CHECK(test::find(added, "MHA275") != nullptr);
  CHECK(test::find(added, "MHA071") == nullptr);
  // A declared bool mask filled with True masks every key: the causal mask first too.
  Report all_masked = hinted(R"J("m": {"shape": [6, 6], "dtype": "bool", "fill": 1})J", "", "m");
  REQUIRE(test::find(all_masked, "MHA071") != nullptr);
  CHECK(test::find(all_masked, "MHA071")->message.find("every key is masked") != std::string::npos);
  REQUIRE(test::find(all_masked, "MHA071")->fixes.size() == 2);
  CHECK(test::find(all_masked, "MHA071")->fixes.front().description == "pass the causal mask: attn_mask=nn.Transformer.generate_square_subsequent_mask(6)");
  CHECK(test::find(all_masked, "MHA071")->fixes.front().verified);
  // A zero float mask hides nothing: it is what was meant, so the hint goes first.
  Report open = hinted(R"J("m": {"shape": [6, 6], "dtype": "float32", "fill": 0})J", "", "m");
  REQUIRE(test::find(open, "MHA071") != nullptr);
  CHECK(test::find(open, "MHA071")->fixes.front().description == "drop the is_causal hint, so that attn_mask is used");
  // The causal mask as nn.MultiheadAttention reads it (bool True above the diagonal, or -inf there): silent.
  CHECK(test::find(hinted(R"J("ones": {"shape": [6, 6], "dtype": "bool"})J",
                          R"J({"id": "m", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["future"]},)J", "future"),
                   "MHA071") == nullptr);
  CHECK(test::find(hinted(R"J("neg_inf": [6, 6])J", R"J({"id": "m", "op": "triu", "input": "neg_inf", "diagonal": 1, "outputs": ["future"]},)J", "future"),
                   "MHA071") == nullptr);
  // Values not known: silent, as PyTorch documents the hint.
  CHECK(test::find(hinted(R"J("m": {"shape": [6, 6], "dtype": "bool"})J", "", "m"), "MHA071") == nullptr);
  // The same rule inside a Transformer layer, under the layer's names.
  Report layer = test::check_text(R"J({"version": 1, "modules": {"enc": "nn.TransformerEncoderLayer(64, 4, batch_first=True)"},
    "tensors": {"x": ["B", "T", 64], "m": {"shape": ["T", "T"], "dtype": "float32", "fill": 0}},
    "calls": [{"id": "e", "module": "enc", "src": "x", "src_mask": "m", "is_causal": true, "outputs": ["y"]}]})J");
  REQUIRE(test::find(layer, "MHA071") != nullptr);
  CHECK(test::find(layer, "MHA071")->message.find("src_mask \"m\"") == 0);
}

TEST_CASE("plain numbers with batch_first=False get a note on how they are read", "[mha]") {
  Report report = test::check_text(flat("", R"("query": [32, 10, 512], "key": [32, 10, 512], "value": [32, 10, 512])"));
  const Diagnostic* note = test::find(report, "MHA090");
  REQUIRE(note != nullptr);
  CHECK(note->message == "with batch_first=False, query (32, 10, 512) is read as (L=32, N=10, E=512) and key (32, 10, 512) is read as (S=32, N=10, E=512)");
  Report batch_first = test::check_text(flat(R"(, "batch_first": true)", R"("query": [32, 10, 512], "key": [32, 10, 512], "value": [32, 10, 512])"));
  CHECK(batch_first.diagnostics.empty());
}

TEST_CASE("a per-batch 3-D mask with symbolic dims is the error it is for every batch size", "[mha]") {
  Report report = test::check_text(flat("", R"("query": ["T", "B", 512], "key": ["T", "B", 512], "value": ["T", "B", 512], "attn_mask": ["B", "T", "T"])"));
  CHECK_FALSE(report.ok());
  REQUIRE(test::find(report, "MHA051") != nullptr);
  CHECK(test::find(report, "MHA051")->pytorch_error->message ==
        "The shape of the 3D attn_mask is torch.Size([B, T, T]), but should be (8*B, T, T).");
}

TEST_CASE("an empty key never trips the batch check without bias_k", "[mha]") {
  Report empty = test::check_text(flat("", R"("query": [3, 2, 512], "key": [0, 5, 512], "value": [0, 5, 512])"));
  CHECK(empty.ok());
  CHECK(outputs(empty) == "attn_output(3, 2, 512) attn_output_weights(2, 3, 0) ");
  Report with_bias = test::check_text(flat(R"(, "add_bias_kv": true)", R"("query": [3, 2, 512], "key": [0, 5, 512], "value": [0, 5, 512])"));
  REQUIRE(test::find(with_bias, "MHA040") != nullptr);
}

TEST_CASE("one symbol cannot take two values across the dims of one shape", "[mha]") {
  // PyTorch refuses these for every X; each dim alone could match.
  Report padding = test::check_text(flat("", R"("query": [3, 2, 512], "key": [5, 2, 512], "value": [5, 2, 512], "key_padding_mask": ["X", "X"])"));
  CHECK_FALSE(padding.ok());
  CHECK(test::find(padding, "MHA052") != nullptr);
  CHECK(test::find(padding, "MHA080") == nullptr);
  Report mask = test::check_text(flat("", R"("query": [3, 2, 512], "key": [5, 2, 512], "value": [5, 2, 512], "attn_mask": ["X", "X"])"));
  REQUIRE(test::find(mask, "MHA050") != nullptr);
  CHECK(test::find(mask, "MHA050")->pytorch_error->message == "The shape of the 2D attn_mask is torch.Size([X, X]), but should be (3, 5).");
  Report fits = test::check_text(flat("", R"("query": [3, 2, 512], "key": [5, 2, 512], "value": [5, 2, 512], "key_padding_mask": ["X", "Y"])"));
  CHECK(fits.ok());
  CHECK(outputs(fits) == "attn_output(3, 2, 512) attn_output_weights(2, 3, 5) ");
}

TEST_CASE("a key_padding_mask of the wrong rank: the message's article fits the query's kind", "[mha]") {
  Report unbatched = test::check_text(flat("", R"("query": [3, 512], "key": [5, 512], "value": [5, 512], "key_padding_mask": [2, 5])"));
  REQUIRE(test::find(unbatched, "MHA022") != nullptr);
  CHECK(test::find(unbatched, "MHA022")->message == "key_padding_mask is 2-D; an unbatched (2-D) query needs (S,)");
  Report batched = test::check_text(flat("", R"("query": [3, 2, 512], "key": [5, 2, 512], "value": [5, 2, 512], "key_padding_mask": [5])"));
  CHECK(test::find(batched, "MHA022")->message == "key_padding_mask is 1-D; a batched (3-D) query needs (N, S)");
}

TEST_CASE("an unbatched query's (1, S) key_padding_mask: the fix squeezes the unit dim and says the shape", "[mha]") {
  Report unit = test::check_text(flat("", R"("query": [10, 512], "key": [12, 512], "value": [12, 512], "key_padding_mask": [1, 12])"));
  const Fix* squeezed = test::first_fix(unit, "MHA022");
  REQUIRE(squeezed != nullptr);
  CHECK(squeezed->description == "key_padding_mask.squeeze(0) gives (12,)");
  CHECK(squeezed->verified);
  // A leading dim other than 1 is not a batch of one: the mask is replaced, as before.
  Report two = test::check_text(flat("", R"("query": [3, 512], "key": [5, 512], "value": [5, 512], "key_padding_mask": [2, 5])"));
  const Fix* replaced = test::first_fix(two, "MHA022");
  REQUIRE(replaced != nullptr);
  CHECK(replaced->description == "pass a (S,) = (5,) key_padding_mask");
}

TEST_CASE("a batched query of one entry with a 1-D (S,) key_padding_mask: the fix unsqueezes the batch dim and says the shape", "[mha]") {
  Report one = test::check_text(R"json({"module": "nn.MultiheadAttention(256, 4, batch_first=True)", "query": [1, 77, 256], "key": [1, 77, 256],
      "value": [1, 77, 256], "key_padding_mask": {"shape": [77], "dtype": "bool"}})json");
  const Fix* unsqueezed = test::first_fix(one, "MHA022");
  REQUIRE(unsqueezed != nullptr);
  CHECK(unsqueezed->description == "key_padding_mask.unsqueeze(0) gives (1, 77)");
  CHECK(unsqueezed->verified);
  // A batch of two: one (S,) mask is no batch entry's own; the mask is replaced, as before.
  Report two = test::check_text(flat("", R"("query": [3, 2, 512], "key": [5, 2, 512], "value": [5, 2, 512], "key_padding_mask": [5])"));
  const Fix* replaced = test::first_fix(two, "MHA022");
  REQUIRE(replaced != nullptr);
  CHECK(replaced->description == "pass a (N, S) = (2, 5) key_padding_mask");
}

TEST_CASE("a per-head (num_heads, L, S) attn_mask for a batch of several entries: the fix repeats the heads per entry, batch-major", "[mha]") {
  Report four = test::check_text(R"json({"module": "nn.MultiheadAttention(512, 8, batch_first=True)", "query": [4, 64, 512], "key": [4, 64, 512],
      "value": [4, 64, 512], "attn_mask": {"shape": [8, 64, 64], "dtype": "float32"}})json");
  const Diagnostic* shape = test::find(four, "MHA051");
  REQUIRE(shape != nullptr);
  REQUIRE_FALSE(shape->fixes.empty());
  CHECK(shape->fixes[0].description == "repeat the per-head mask for every batch entry: attn_mask.repeat(4, 1, 1)");
  CHECK(shape->fixes[0].valid());
  CHECK(shape->fixes[0].semantics == FixSemantics::Consistent);
  // A batch of one needs no tiling: (num_heads, L, S) is (N*num_heads, L, S) already.
  Report one = test::check_text(R"json({"module": "nn.MultiheadAttention(512, 8, batch_first=True)", "query": [1, 64, 512], "key": [1, 64, 512],
      "value": [1, 64, 512], "attn_mask": {"shape": [8, 64, 64], "dtype": "float32"}})json");
  CHECK(one.diagnostics.empty());
  // A leading dim that is the batch, not the heads, is still repeated per head.
  Report per_entry = test::check_text(R"json({"module": "nn.MultiheadAttention(512, 8, batch_first=True)", "query": [4, 64, 512], "key": [4, 64, 512],
      "value": [4, 64, 512], "attn_mask": {"shape": [4, 64, 64], "dtype": "float32"}})json");
  REQUIRE(test::find(per_entry, "MHA051") != nullptr);
  CHECK(test::find(per_entry, "MHA051")->fixes.at(0).description == "repeat the mask per head: attn_mask.repeat_interleave(8, dim=0)");
}

TEST_CASE("a batch/sequence diagnostic says when batch_first is PyTorch's default, not written", "[mha]") {
  const std::string left_out = "batch_first is left out of the constructor, so it is PyTorch's default False: dim 0 is the sequence and dim 1 the batch";
  auto notes_of = [](const Report& report, DiagId id) {
    for (const Diagnostic& diagnostic : report.diagnostics) {
      if (diagnostic.id == id) return diagnostic.notes;
    }
    FAIL("no " << diag_info(id).code);
    return std::vector<std::string>{};
  };
  auto has = [&](const std::vector<std::string>& notes) { return std::find(notes.begin(), notes.end(), left_out) != notes.end(); };
  std::string batch_major = R"("query": [32, 1, 512], "key": [32, 10, 512], "value": [32, 10, 512])";
  // Pasted without batch_first, in an object without it: said; written, even as False: not.
  CHECK(has(notes_of(test::check_text(R"js({"module": "self.attn = nn.MultiheadAttention(512, 8, dropout=0.1)", )js" + batch_major + "}"),
                     DiagId::BatchMismatch)));
  CHECK(has(notes_of(test::check_text(flat("", batch_major)), DiagId::BatchMismatch)));
  CHECK(!has(notes_of(test::check_text(flat(R"(, "batch_first": false)", batch_major)), DiagId::BatchMismatch)));
  // A name that says batch where the default reads the sequence (MHA081): said.
  CHECK(has(notes_of(test::check_text(flat("", R"("tensors": {"x": ["B", "T", 512]}, "query": "x", "key": "x", "value": "x")")),
                     DiagId::SymbolNameRole)));
  // A clean run's reading (MHA090) stays as it was.
  Report clean = test::check_text(flat("", R"("query": [4, 2, 512], "key": [6, 2, 512], "value": [6, 2, 512])"));
  CHECK(clean.ok());
  CHECK(!has(notes_of(clean, DiagId::Interpretation)));
  // A layer passes its own batch_first on: written for the layer is written for its attention.
  std::string mask = R"("src": [32, 10, 512], "src_key_padding_mask": {"shape": [10, 32], "dtype": "bool"})";
  CHECK(!has(notes_of(test::check_text(R"js({"module": "nn.TransformerEncoderLayer(512, 8, batch_first=True)", )js" + mask + "}"),
                      DiagId::KeyPaddingMaskShape)));
  CHECK(has(notes_of(test::check_text(R"js({"module": "nn.TransformerEncoderLayer(512, 8)", "src": [32, 10, 512], )js"
                                      R"("src_key_padding_mask": {"shape": [32, 10], "dtype": "bool"}})"),
                     DiagId::KeyPaddingMaskShape)));
}

TEST_CASE("a 2-D side against a 3-D side (MHA021): the missing dim is added where its size says", "[mha]") {
  // Perceiver latents (N, E) against batched keys: one sequence shared by the batch, expanded.
  Report latents = test::check_text(flat(R"(, "batch_first": true)", R"("query": [256, 512], "key": ["B", "S", 512], "value": ["B", "S", 512])"));
  const Diagnostic* shared = test::find(latents, "MHA021");
  REQUIRE(shared != nullptr);
  REQUIRE_FALSE(shared->fixes.empty());
  CHECK(shared->fixes[0].description ==
        "give it the batch: one sequence shared by every batch entry: query.unsqueeze(0).expand(B, -1, -1) gives (B, 256, 512)");
  CHECK(shared->fixes[0].valid());
  // A pooled (N, E) key and value against a batched query: one position per batch entry.
  Report pooled = test::check_text(flat(R"(, "batch_first": true)", R"("query": ["B", "T", 512], "key": ["B", 512], "value": ["B", 512])"));
  const Diagnostic* per_entry = test::find(pooled, "MHA021");
  REQUIRE(per_entry != nullptr);
  REQUIRE_FALSE(per_entry->fixes.empty());
  CHECK(per_entry->fixes[0].description ==
        "add the missing sequence dim (one position per batch entry): key.unsqueeze(1) and value.unsqueeze(1) gives (B, 1, 512)");
  CHECK(per_entry->fixes[0].valid());
  // Seq-first: the batch is dim 1, so the shared query is unsqueezed there.
  Report seq_first = test::check_text(flat("", R"("query": [10, 512], "key": ["S", "N", 512], "value": ["S", "N", 512])"));
  const Diagnostic* seq = test::find(seq_first, "MHA021");
  REQUIRE(seq != nullptr);
  REQUIRE_FALSE(seq->fixes.empty());
  CHECK(seq->fixes[0].description ==
        "give it the batch: one sequence shared by every batch entry: query.unsqueeze(1).expand(-1, N, -1) gives (10, N, 512)");
}

TEST_CASE("an N beside a named batch is a token count (timm, DETR, Perceiver), not a misplaced batch", "[mha][roles]") {
  // Perceiver's latents (B, N, D) as batch-first keys: N is in the sequence slot, B in the batch slot.
  Report latents = test::check_text(flat(R"(, "batch_first": true)",
                                         R"("tensors": {"x": ["B", "L", 512], "latents": ["B", "N", 512]}, "query": "x", "key": "latents", "value": "latents")"));
  CHECK(latents.diagnostics.empty());
  // Alone, N still names a batch: (N, 2, E) read seq-first is reported, and so is a B in a sequence slot beside an N.
  Report alone = test::check_text(flat("", R"("tensors": {"x": ["N", 2, 512]}, "query": "x", "key": "x", "value": "x")"));
  REQUIRE(test::find(alone, "MHA081") != nullptr);
  CHECK(test::find(alone, "MHA081")->message == "\"N\" looks like a batch size but is query's sequence dim (dim 0, because batch_first=False)");
  Report timm = test::check_text(flat("", R"("tensors": {"x": ["B", "N", 512]}, "query": "x", "key": "x", "value": "x")"));
  REQUIRE(test::find(timm, "MHA081") != nullptr);
  CHECK(test::find(timm, "MHA081")->message == "\"B\" looks like a batch size but is query's sequence dim (dim 0, because batch_first=False)");
}

TEST_CASE("expand names its dims by the sizes written: expand(B, -1, -1) makes a batch even when B == O", "[mha][roles]") {
  // Perceiver IO's output queries (O, E) expanded over the batch; O and B bound to one number.
  Report report = test::check_text(R"json({"version": 1, "dims": {"O": 8, "B": 8, "S": 128},
      "modules": {"attn": "nn.MultiheadAttention(256, 8, kdim=512, vdim=512, batch_first=True)"},
      "tensors": {"queries": ["O", 256], "memory": ["B", "S", 512]},
      "calls": [{"id": "u", "op": "unsqueeze", "input": "queries", "dim": 0, "outputs": ["q1"]},
                {"id": "e", "op": "expand", "input": "q1", "size": ["B", -1, -1], "outputs": ["q"]},
                {"id": "a", "module": "attn", "query": "q", "key": "memory", "value": "memory"}]})json");
  CHECK(report.diagnostics.empty());
  // The names follow: the query's batch dim is B, its sequence dim O.
  Report swapped = test::check_text(R"json({"version": 1, "dims": {"O": 8, "B": 8, "S": 128},
      "modules": {"attn": "nn.MultiheadAttention(256, 8, kdim=512, vdim=512, batch_first=True)"},
      "tensors": {"queries": ["O", 256], "memory": ["B", "S", 512]},
      "calls": [{"id": "u", "op": "unsqueeze", "input": "queries", "dim": 1, "outputs": ["q1"]},
                {"id": "e", "op": "expand", "input": "q1", "size": [-1, "B", -1], "outputs": ["q"]},
                {"id": "a", "module": "attn", "query": "q", "key": "memory", "value": "memory"}]})json");
  REQUIRE(test::find(swapped, "MHA082") != nullptr);
  CHECK(test::find(swapped, "MHA082")->message == "\"B\" is the batch dim of key but a sequence dim of query");
}

TEST_CASE("an input of another dtype than the module: every data input is cast, the module's chosen dtype kept", "[mha]") {
  // numpy's float64 for query, key and value: one fix casts all three; no float64 module is offered.
  Report double_input = test::check_text(flat(R"(, "batch_first": true)", R"("query": {"shape": [2, 5, 512], "dtype": "float64"},
      "key": {"shape": [2, 5, 512], "dtype": "float64"}, "value": {"shape": [2, 5, 512], "dtype": "float64"})"));
  const Diagnostic* mismatch = test::find(double_input, "MHA063");
  REQUIRE(mismatch != nullptr);
  REQUIRE(mismatch->fixes.size() == 1);
  CHECK(mismatch->fixes[0].description ==
        "pass query, key, value as float32 (query.to(torch.float32), key.to(torch.float32), value.to(torch.float32))");
  CHECK(mismatch->fixes[0].verified);
  CHECK(mismatch->fixes[0].remaining_errors.empty());
  // A module made float16 on purpose keeps its dtype: the float32 input is cast.
  Report half = test::check_text(flat(R"(, "batch_first": true, "dtype": "float16")", R"("query": [2, 5, 512], "key": [2, 5, 512], "value": [2, 5, 512])"));
  mismatch = test::find(half, "MHA063");
  REQUIRE(mismatch != nullptr);
  REQUIRE(mismatch->fixes.size() == 1);
  CHECK(mismatch->fixes[0].description ==
        "pass query, key, value as float16 (query.to(torch.float16), key.to(torch.float16), value.to(torch.float16))");
  CHECK(mismatch->fixes[0].verified);
  // A default float32 module with float16 data may also be made float16.
  Report data_half = test::check_text(flat(R"(, "batch_first": true)", R"("tensors": {"x": {"shape": [2, 5, 512], "dtype": "float16"}}, "query": "x", "key": "x", "value": "x")"));
  mismatch = test::find(data_half, "MHA063");
  REQUIRE(mismatch != nullptr);
  std::vector<std::string> descriptions;
  for (const Fix& fix : mismatch->fixes) descriptions.push_back(fix.description);
  CHECK(std::find(descriptions.begin(), descriptions.end(), "construct the module with dtype=torch.float16") != descriptions.end());
  CHECK(std::find(descriptions.begin(), descriptions.end(), "pass query, key, value as float32 (query.to(torch.float32), key.to(torch.float32), value.to(torch.float32))") !=
        descriptions.end());
}

TEST_CASE("a square (S, S) attn_mask for fewer queries than keys: the first fix keeps the queries' rows, the last L", "[mha]") {
  // One decode step over 30 cached keys, given the whole causal mask.
  Report decode = test::check_text(flat(R"(, "batch_first": true)", R"("query": [8, 1, 512], "key": [8, 30, 512], "value": [8, 30, 512],
      "attn_mask": {"shape": [30, 30], "dtype": "bool"})"));
  const Diagnostic* mask = test::find(decode, "MHA050");
  REQUIRE(mask != nullptr);
  REQUIRE_FALSE(mask->fixes.empty());
  CHECK(mask->fixes[0].description == "keep the queries' rows, the mask's last 1: attn_mask[-1:]");
  CHECK(mask->fixes[0].verified);
  // A mask of another shape gets no such fix.
  Report other = test::check_text(flat(R"(, "batch_first": true)", R"("query": [8, 1, 512], "key": [8, 30, 512], "value": [8, 30, 512],
      "attn_mask": {"shape": [30, 20], "dtype": "bool"})"));
  REQUIRE(test::find(other, "MHA050") != nullptr);
  for (const Fix& fix : test::find(other, "MHA050")->fixes) CHECK(fix.description.find("[-1:]") == std::string::npos);
}

TEST_CASE("a channel-last map (B, H, W, E) as the query gets its positions flattened into the sequence", "[mha][fixes]") {
  // SAM keeps (B, H, W, C) maps; nn.MultiheadAttention takes (N, L, E) only.
  Report report = test::check_text(
      R"j({"module": "nn.MultiheadAttention(256, 8, batch_first=True)", "tensors": {"x": [4, 16, 16, 256]}, "query": "x", "key": "x", "value": "x"})j");
  const Diagnostic* rank = test::find(report, "MHA020");
  REQUIRE(rank != nullptr);
  REQUIRE_FALSE(rank->fixes.empty());
  CHECK(rank->fixes.front().description ==
        "flatten the positions between the batch and the features into one sequence: x.flatten(1, 2) gives (4, 256, 256)");
  CHECK(rank->fixes.front().valid());
  // Seq-first, the flattened positions go first; a last dim other than embed_dim is no such map.
  Report seq_first = test::check_text(flat("", R"("tensors": {"x": ["B", "H", "W", 512]}, "query": "x", "key": "x", "value": "x")"));
  const Diagnostic* seq_rank = test::find(seq_first, "MHA020");
  REQUIRE(seq_rank != nullptr);
  REQUIRE_FALSE(seq_rank->fixes.empty());
  CHECK_THAT(seq_rank->fixes.front().description, Catch::Contains("x.flatten(1, 2).transpose(0, 1) gives (H*W, B, 512)"));
  CHECK(seq_rank->fixes.front().valid());
  Report other = test::check_text(flat("", R"("tensors": {"x": [2, 3, 4, 5]}, "query": "x", "key": "x", "value": "x")"));
  const Diagnostic* other_rank = test::find(other, "MHA020");
  REQUIRE(other_rank != nullptr);
  CHECK(other_rank->fixes.empty());
}

TEST_CASE("a (B, 1, T) mask made [:, None, :] as key_padding_mask: squeezed where it was made, and inverted when True keeps", "[mha]") {
  auto spec = [](const std::string& made) {
    return R"J({"version": 1, "modules": {"mha": "nn.MultiheadAttention(256, 4, batch_first=True)"},
      "tensors": {"x": ["B", "T", 256], "pad_mask": {"shape": ["B", "T"], "dtype": "bool"}},
      "calls": [)J" + made + R"J(
                {"id": "un", "op": "getitem", "input": "keep", "index": "[:, None, :]", "outputs": ["masks"]},
                {"id": "att", "module": "mha", "query": "x", "key": "x", "value": "x", "key_padding_mask": "masks", "need_weights": false,
                 "outputs": ["y"]}]})J";
  };
  // ESPnet's ~make_pad_mask(lengths)[:, None, :]: True on the frames to keep.
  Report keep = test::check_text(spec(R"J({"id": "inv", "op": "bitwise_not", "input": "pad_mask", "outputs": ["keep"]},)J"));
  const Fix* inverted = test::first_fix(keep, "MHA022");
  REQUIRE(inverted != nullptr);
  CHECK(inverted->description.find("~masks.squeeze(1) gives (B, T)") != std::string::npos);
  CHECK(inverted->semantics == FixSemantics::Consistent);
  CHECK(inverted->verified);
  CHECK(inverted->valid());
  // The padding mask itself, True = padding: squeezed only.
  Report padding = test::check_text(spec(R"J({"id": "cp", "op": "clone", "input": "pad_mask", "outputs": ["keep"]},)J"));
  const Fix* squeezed = test::first_fix(padding, "MHA022");
  REQUIRE(squeezed != nullptr);
  CHECK(squeezed->description == "masks.squeeze(1) gives (B, T)");
  CHECK(squeezed->valid());
}

TEST_CASE("causal attention over a stack's tokens merged with the stacked dim outside the steps warns, fix: stack after the steps", "[mha]") {
  // Observation and action embeddings (B, 16, 64) stacked on dim 1 (B, 2, 16, 64) and merged to
  // (B, 32, 64): all observations, then all actions, so under the causal mask every action token
  // sees the observations of later steps.
  // The calls before and after the stack's dim, joined around it (no find-and-replace of a
  // placeholder: gcc 12 warns -Wrestrict on string::replace at a position it cannot bound).
  const std::string calls_to_dim = R"j("calls": [{"id": "st", "op": "stack", "tensors": ["obs", "act"], "dim": )j";
  const std::string calls_from_dim = R"j(, "outputs": ["pairs"]},
              {"id": "rs", "op": "reshape", "input": "pairs", "shape": ["B", 32, 64], "outputs": ["tokens"]},
              {"id": "m", "op": "triu", "input": "ones", "diagonal": 1, "outputs": ["future"]},
              {"id": "a", "module": "attn", "query": "tokens", "key": "tokens", "value": "tokens", "attn_mask": "future",
               "need_weights": false, "outputs": ["y"]}]})j";
  const std::string head = R"j({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
    "tensors": {"obs": ["B", 16, 64], "act": ["B", 16, 64], "ones": {"shape": [32, 32], "dtype": "bool"}},
    )j";
  auto with_stack_dim = [&](int dim) { return test::check_text(head + calls_to_dim + std::to_string(dim) + calls_from_dim); };
  Report grouped = with_stack_dim(1);
  const Diagnostic* order = test::find(grouped, "MHA421");
  REQUIRE(order != nullptr);
  CHECK(order->severity() == Severity::Warning);
  CHECK(order->call == "a");
  REQUIRE(!order->fixes.empty());
  CHECK(order->fixes.front().description ==
        "stack after the steps, so that the tokens interleave per step: torch.stack([...], dim=2) in call \"st\"");
  CHECK(order->fixes.front().verified);
  CHECK(order->fixes.front().semantics == FixSemantics::Consistent);
  // Stacked after the steps, the tokens interleave: nothing to say.
  CHECK(test::find(with_stack_dim(2), "MHA421") == nullptr);
  // Without a causal mask the grouping is only an order: nothing to say either.
  Report unmasked = test::check_text(R"j({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
    "tensors": {"obs": ["B", 16, 64], "act": ["B", 16, 64]},
    "calls": [{"id": "st", "op": "stack", "tensors": ["obs", "act"], "dim": 1, "outputs": ["pairs"]},
              {"id": "rs", "op": "reshape", "input": "pairs", "shape": ["B", 32, 64], "outputs": ["tokens"]},
              {"id": "a", "module": "attn", "query": "tokens", "key": "tokens", "value": "tokens", "need_weights": false, "outputs": ["y"]}]})j");
  CHECK(test::find(unmasked, "MHA421") == nullptr);
}

TEST_CASE("scaled_dot_product_attention with is_causal over stacked tokens merged outside the steps warns", "[sdpa]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"obs": ["B", 16, 64], "act": ["B", 16, 64]},
    "calls": [{"id": "st", "op": "stack", "tensors": ["obs", "act"], "dim": 1, "outputs": ["pairs"]},
              {"id": "rs", "op": "reshape", "input": "pairs", "shape": ["B", 32, 64], "outputs": ["tokens"]},
              {"id": "a", "op": "scaled_dot_product_attention", "query": "tokens", "key": "tokens", "value": "tokens", "is_causal": true,
               "outputs": ["y"]}]})j");
  const Diagnostic* order = test::find(report, "MHA421");
  REQUIRE(order != nullptr);
  REQUIRE(!order->fixes.empty());
  CHECK_THAT(order->fixes.front().description, Catch::Contains("torch.stack([...], dim=2)"));
}

TEST_CASE("a batch declared X*k (copies adjacent) against a key tiled by repeat(k, ...) warns MHA240", "[mha]") {
  // Sampling 3 continuations per prompt: queries declared bsz*3, prompts' memory tiled by repeat.
  auto sampled = [](const std::string& rows) {
    return test::check_text(R"j({"version": 1, "modules": {"x": "nn.MultiheadAttention(64, 4)"},
      "tensors": {"prompt": ["S", "bsz", 64], "h": [1, ")j" + rows + R"j(", 64]},
      "calls": [{"id": "r", "op": "repeat", "input": "prompt", "repeats": [1, 3, 1], "outputs": ["mem"]},
                {"id": "a", "module": "x", "query": "h", "key": "mem", "value": "mem", "need_weights": false}]})j");
  };
  Report adjacent = sampled("bsz*3");
  const Diagnostic* orders = test::find(adjacent, "MHA240");
  REQUIRE(orders != nullptr);
  REQUIRE_FALSE(orders->fixes.empty());
  CHECK(orders->fixes[0].description == "tile mem as h is: mem = prompt.repeat_interleave(3, dim=1)");
  CHECK(orders->fixes[0].valid());
  // Written 3*bsz, the copies of the batch follow each other as repeat gives them: no warning.
  CHECK(test::find(sampled("3*bsz"), "MHA240") == nullptr);
}

TEST_CASE("a 3-D attn_mask made from a padding mask tiled by repeat(H, 1, 1) warns MHA240 through the calls after the repeat", "[mha]") {
  // (N, S) padding flags made (N, L, S), tiled batch-major to (H*N, L, S), then made float with
  // masked_fill on zeros: entry b*H + h is read as batch entry b, head h.
  auto made = [](const std::string& tile, const std::string& after) {
    return test::check_text(R"j({"version": 1, "dims": {"T": 6}, "modules": {"attn": "nn.MultiheadAttention(32, 4, batch_first=True)"},
      "tensors": {"x": [3, "T", 32], "pad": {"shape": [3, "T"], "dtype": "bool"}, "zeros": [12, "T", "T"]},
      "calls": [{"id": "u", "op": "unsqueeze", "input": "pad", "dim": 1, "outputs": ["p1"]},
                {"id": "e", "op": "expand", "input": "p1", "size": [-1, "T", -1], "outputs": ["p2"]},
                {"id": "r", "op": ")j" + tile + R"j(, "input": "p2", "outputs": ["tiled"]},)j" + after + R"j(
                {"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "m", "need_weights": false, "outputs": ["y"]}]})j");
  };
  const std::string after = R"j({"id": "n", "op": "bitwise_not", "input": "tiled", "outputs": ["keep"]},
                {"id": "k", "op": "bitwise_not", "input": "keep", "outputs": ["hidden"]},
                {"id": "f", "op": "masked_fill", "input": "zeros", "mask": "hidden", "value": "-inf", "outputs": ["m"]},)j";
  Report tiled = made(R"j(repeat", "repeats": [4, 1, 1])j", after);
  const Diagnostic* order = test::find(tiled, "MHA240");
  REQUIRE(order != nullptr);
  CHECK(order->message.rfind("m is made from a repeat (call \"r\"), which tiles dim 0", 0) == 0);
  REQUIRE(!order->fixes.empty());
  CHECK(order->fixes.front().description == "use repeat_interleave instead of repeat: tiled = p2.repeat_interleave(4, dim=0)");
  CHECK(order->fixes.front().valid());
  // repeat_interleave, as PyTorch reads the mask: silent.
  CHECK(test::find(made(R"j(repeat_interleave", "repeats": 4, "dim": 0)j", after), "MHA240") == nullptr);
  // A masked_fill on a tensor of other values mixes them in: not followed.
  Report mixed = test::check_text(R"j({"version": 1, "dims": {"T": 6}, "modules": {"attn": "nn.MultiheadAttention(32, 4, batch_first=True)"},
      "tensors": {"x": [3, "T", 32], "pad": {"shape": [3, "T"], "dtype": "bool"}, "bias": [12, "T", "T"]},
      "calls": [{"id": "u", "op": "unsqueeze", "input": "pad", "dim": 1, "outputs": ["p1"]},
                {"id": "e", "op": "expand", "input": "p1", "size": [-1, "T", -1], "outputs": ["p2"]},
                {"id": "r", "op": "repeat", "input": "p2", "repeats": [4, 1, 1], "outputs": ["tiled"]},
                {"id": "f", "op": "masked_fill", "input": "bias", "mask": "tiled", "value": "-inf", "outputs": ["m"]},
                {"id": "a", "module": "attn", "query": "x", "key": "x", "value": "x", "attn_mask": "m", "need_weights": false, "outputs": ["y"]}]})j");
  CHECK(test::find(mixed, "MHA240") == nullptr);
}

TEST_CASE("a padding mask tiled along its positions by repeat warns MHA240 only for tokens interleaved by a stack", "[mha]") {
  // Two interleaved streams (a video frame token and an audio token per step), stacked on dim 2
  // and merged; the (B, T) padding mask widened for them.
  auto streams = [](const std::string& tokens_call, const std::string& widen) {
    return test::check_text(R"j({"version": 1, "modules": {"x": "nn.MultiheadAttention(32, 2, batch_first=True)"},
      "tensors": {"v": ["B", 12, 32], "a": ["B", 12, 32], "pad": {"shape": ["B", 12], "dtype": "bool"}},
      "calls": [)j" + tokens_call + R"j(,
                {"id": "w", )j" + widen + R"j(, "input": "pad", "outputs": ["pad2"]},
                {"id": "att", "module": "x", "query": "tok", "key": "tok", "value": "tok", "key_padding_mask": "pad2", "need_weights": false}]})j");
  };
  const std::string interleaved = R"j({"id": "s", "op": "stack", "tensors": ["v", "a"], "dim": 2, "outputs": ["st"]},
                {"id": "r", "op": "reshape", "input": "st", "shape": ["B", 24, 32], "outputs": ["tok"]})j";
  Report tiled = streams(interleaved, R"("op": "repeat", "repeats": [1, 2])");
  const Diagnostic* positions = test::find(tiled, "MHA240");
  REQUIRE(positions != nullptr);
  REQUIRE_FALSE(positions->fixes.empty());
  CHECK(positions->fixes[0].description == "give each position's flag to its 2 tokens side by side: pad2 = pad.repeat_interleave(2, dim=1)");
  CHECK(positions->fixes[0].valid());
  CHECK(positions->fixes[0].semantics == FixSemantics::Consistent);
  CHECK(test::find(streams(interleaved, R"("op": "repeat_interleave", "repeats": 2, "dim": 1)"), "MHA240") == nullptr);
  // The streams joined one after the other: the tiled mask is theirs.
  CHECK(test::find(streams(R"j({"id": "c", "op": "cat", "tensors": ["v", "a"], "dim": 1, "outputs": ["tok"]})j",
                           R"("op": "repeat", "repeats": [1, 2])"),
                   "MHA240") == nullptr);
  // Stacked outside the steps (grouped: all of v, then all of a) or tiled by repeat: the tiled
  // mask is theirs too.
  const std::string grouped = R"j({"id": "s", "op": "stack", "tensors": ["v", "a"], "dim": 1, "outputs": ["st"]},
                {"id": "r", "op": "reshape", "input": "st", "shape": ["B", 24, 32], "outputs": ["tok"]})j";
  CHECK(test::find(streams(grouped, R"("op": "repeat", "repeats": [1, 2])"), "MHA240") == nullptr);
  CHECK(test::find(streams(R"j({"id": "t", "op": "repeat", "input": "v", "repeats": [1, 2, 1], "outputs": ["tok"]})j",
                           R"("op": "repeat", "repeats": [1, 2])"),
                   "MHA240") == nullptr);
}

TEST_CASE("a batch-like name that a mask also holds as a sequence is a sequence: no MHA081", "[mha][roles]") {
  // A point cloud of N points at batch 1: the (N, N) mask is written over the module's sequence, so
  // N is the points, whatever the name suggests; with batch_first=False and the same sizes too.
  Report points = test::check_text(R"j({"version": 1, "tensors": {"x": [1, "N", 64], "far": {"shape": ["N", "N"], "dtype": "bool"}},
    "calls": [{"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "attn_mask": "far"}],
    "modules": {"mha": "nn.MultiheadAttention(64, 4, batch_first=True)"}})j");
  CHECK(test::find(points, "MHA081") == nullptr);
  Report key_padding = test::check_text(R"j({"version": 1, "tensors": {"x": ["n", 1, 64], "pad": {"shape": [1, "n"], "dtype": "bool"}},
    "calls": [{"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "key_padding_mask": "pad"}],
    "modules": {"mha": "nn.MultiheadAttention(64, 4)"}})j");
  CHECK(test::find(key_padding, "MHA081") == nullptr);
  // Without the mask's word the name still speaks, and a mask that also holds N in its batch slot
  // says nothing for it.
  Report bare = test::check_text(R"j({"version": 1, "tensors": {"x": [1, "N", 64]},
    "calls": [{"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x"}],
    "modules": {"mha": "nn.MultiheadAttention(64, 4, batch_first=True)"}})j");
  CHECK(test::find(bare, "MHA081") != nullptr);
  Report batch_too = test::check_text(R"j({"version": 1, "tensors": {"x": ["N", "T", 64], "pad": {"shape": ["N", "T"], "dtype": "bool"}},
    "calls": [{"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "key_padding_mask": "pad"}],
    "modules": {"mha": "nn.MultiheadAttention(64, 4)"}})j");
  CHECK((test::find(batch_too, "MHA081") != nullptr || test::find(batch_too, "MHA082") != nullptr || test::find(batch_too, "MHA083") != nullptr));
}

TEST_CASE("a graph's adjacency given as nn.MultiheadAttention's bool attn_mask is inverted: True = edge is True = keep", "[mha][masks]") {
  Report edges = test::check_text(R"j({"version": 1, "tensors": {"x": [2, "V", 32], "edges": {"shape": ["V", "V"], "dtype": "bool"}},
    "calls": [{"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "attn_mask": "edges"}],
    "modules": {"mha": "nn.MultiheadAttention(32, 2, batch_first=True)"}})j");
  const Diagnostic* meaning = test::find(edges, "MHA084");
  REQUIRE(meaning != nullptr);
  REQUIRE_FALSE(meaning->fixes.empty());
  CHECK(meaning->fixes[0].description == "pass ~edges");
  CHECK(meaning->fixes[0].valid());
  // Negated names mark the pairs without an edge, MHA's convention; a word that merely contains
  // "adj" or "edge" names no graph.
  for (const char* quiet : {"non_adjacent_pairs", "no_edge", "disconnected", "adjusted", "hedge"}) {
    INFO(quiet);
    Report report = test::check_text(fmt::format(R"j({{"version": 1, "tensors": {{"x": [2, "V", 32], "{0}": {{"shape": ["V", "V"], "dtype": "bool"}}}},
      "calls": [{{"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "attn_mask": "{0}"}}],
      "modules": {{"mha": "nn.MultiheadAttention(32, 2, batch_first=True)"}}}})j", quiet));
    CHECK(test::find(report, "MHA084") == nullptr);
  }
  CHECK(mask_convention_of_name("adj_matrix") == MaskConvention::TrueKeeps);
  CHECK(mask_convention_of_name("nonadj") == MaskConvention::TrueIgnores);
  CHECK(mask_convention_of_name("is_not_neighbor") == MaskConvention::TrueIgnores);
  // A region thresholded from a predicted mask marks the pixels inside it, those to attend.
  CHECK(mask_convention_of_name("inside") == MaskConvention::TrueKeeps);
  CHECK(mask_convention_of_name("foreground_mask") == MaskConvention::TrueKeeps);
  CHECK(mask_convention_of_name("not_inside") == MaskConvention::TrueIgnores);
  CHECK(mask_convention_of_name("outside") == MaskConvention::Unknown);
  // Graph values that are no 0/1 links: an additive edge bias, edge weights.
  CHECK(mask_convention_of_name("edge_bias") == MaskConvention::Unknown);
  CHECK(mask_convention_of_name("adj_weight") == MaskConvention::Unknown);
}

TEST_CASE("a padding mask computed on the features (B, T, C) is reduced to the positions (B, T): all features zero", "[mha][mask]") {
  Report report = test::check_text(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(16, 2, batch_first=True)"},
    "tensors": {"feats": ["B", 20, 16]},
    "calls": [{"id": "eq", "op": "eq", "input": "feats", "other": 0, "outputs": ["pad"]},
              {"id": "att", "module": "attn", "query": "feats", "key": "feats", "value": "feats", "key_padding_mask": "pad", "need_weights": false}]})json");
  const Diagnostic* rank = test::find(report, "MHA022");
  REQUIRE(rank != nullptr);
  REQUIRE_FALSE(rank->fixes.empty());
  // A padded position has every feature 0: all(2) is the reading that keeps that, not one feature.
  CHECK(rank->fixes.front().description ==
        "reduce dim 2 (size 16), which holds features, not positions: pad.all(-1) gives (B, 20), True where every feature is 0 "
        "(written ~pad summed over dim -1, == 0)");
  CHECK(rank->fixes.front().valid());
  CHECK(rank->fixes.front().semantics == FixSemantics::Consistent);
  // Seq-first: (T, B, C) features give (T, B), which is not the (B, T) mask; no such reduction is offered.
  Report seq_first = test::check_text(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(16, 2)"},
    "tensors": {"feats": [20, "B", 16]},
    "calls": [{"id": "eq", "op": "eq", "input": "feats", "other": 0, "outputs": ["pad"]},
              {"id": "att", "module": "attn", "query": "feats", "key": "feats", "value": "feats", "key_padding_mask": "pad", "need_weights": false}]})json");
  const Diagnostic* other = test::find(seq_first, "MHA022");
  REQUIRE(other != nullptr);
  for (const Fix& fix : other->fixes) CHECK(fix.description.find("reduce dim") == std::string::npos);
}

TEST_CASE("a channels-first map flattened over its positions becomes tokens before kdim is offered", "[mha]") {
  // A (B, C, H, W) map flattened to (B, C, H*W) and given as key and value: its C == embed_dim channels are the
  // features. The tokens are the transposed map (seq-first: permute(2, 0, 1)); kdim=H*W runs but reads channels as tokens.
  for (const auto& [flattening, module, spelled] :
       {std::tuple{R"({"id": "fl", "op": "reshape", "input": "fmap", "shape": ["B", 128, 48], "outputs": ["mem"]})",
                   "nn.MultiheadAttention(128, 4, batch_first=True)", "mem = mem.transpose(1, 2)"},
        std::tuple{R"({"id": "fl", "op": "flatten", "input": "fmap", "start_dim": 2, "outputs": ["mem"]})", "nn.MultiheadAttention(128, 4)",
                   "mem = mem.permute(2, 0, 1)"}}) {
    const bool batch_first = std::string(module).find("batch_first") != std::string::npos;
    Report report = test::check_text(fmt::format(
        R"json({{"version": 1, "modules": {{"attn": "{}"}}, "tensors": {{"q": {}, "fmap": ["B", 128, 6, 8]}},
           "calls": [{}, {{"id": "a", "module": "attn", "query": "q", "key": "mem", "value": "mem", "need_weights": false, "outputs": ["y"]}}]}})json",
        module, batch_first ? R"(["B", 5, 128])" : R"([5, "B", 128])", flattening));
    const Diagnostic* features = test::find(report, "MHA031");
    REQUIRE(features != nullptr);
    REQUIRE(features->fixes.size() >= 2);
    CHECK(features->fixes[0].description.find(spelled) != std::string::npos);
    CHECK(features->fixes[0].valid());
    CHECK(features->fixes[1].description == "construct with kdim=48, vdim=48");
    CHECK(features->fixes[1].semantics == FixSemantics::Suspect);
  }
  // Not a flattened map: the key's features are its own, kdim stays the fix.
  Report plain = test::check_text(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(128, 4, batch_first=True)"},
      "tensors": {"q": ["B", 5, 128], "mem": ["B", 128, 48]},
      "calls": [{"id": "a", "module": "attn", "query": "q", "key": "mem", "value": "mem", "need_weights": false, "outputs": ["y"]}]})json");
  const Diagnostic* plain_features = test::find(plain, "MHA031");
  REQUIRE(plain_features != nullptr);
  REQUIRE_FALSE(plain_features->fixes.empty());
  CHECK(plain_features->fixes[0].description == "construct with kdim=48, vdim=48");
}

TEST_CASE("MHA430: per-head masks tiled over the batch by repeat_interleave, where entry b*num_heads + h needs head h", "[mha]") {
  auto tiled = [](const std::string& source, const std::string& tiling) {
    return test::check_text(R"j({"version": 1, "dims": {"T": 6}, "modules": {"mha": "nn.MultiheadAttention(64, 4)"},
      "tensors": {"x": ["T", 3, 64], "m": )j" + source + R"j(},
      "calls": [{"id": "t", "op": )j" + tiling + R"j(, "input": "m", "outputs": ["bias"]},
                {"id": "a", "module": "mha", "query": "x", "key": "x", "value": "x", "attn_mask": "bias", "outputs": ["y", "w"]}]})j");
  };
  Report interleaved = tiled(R"([4, "T", "T"])", R"("repeat_interleave", "repeats": 3, "dim": 0)");
  const Diagnostic* order = test::find(interleaved, "MHA430");
  REQUIRE(order != nullptr);
  CHECK(order->message.rfind("attn_mask bias is made from 4 per-head masks by repeat_interleave (call \"t\")", 0) == 0);
  REQUIRE_FALSE(order->fixes.empty());
  CHECK(order->fixes.front().description == "tile the per-head masks over the batch: bias = m.repeat(3, 1, 1)");
  CHECK(order->fixes.front().valid());
  // Tiled by repeat, or a per-batch (3, T, T) mask interleaved per head: as PyTorch reads them.
  CHECK(test::find(tiled(R"([4, "T", "T"])", R"("repeat", "repeats": [3, 1, 1])"), "MHA430") == nullptr);
  CHECK(test::find(tiled(R"([3, "T", "T"])", R"("repeat_interleave", "repeats": 4, "dim": 0)"), "MHA430") == nullptr);
}

TEST_CASE("a region mask True inside the predicted mask, tiled per head, passed as attn_mask: MHA084, fixed with ~", "[mha][masks]") {
  // Mask2Former's masked attention attends inside the region: nn.MultiheadAttention ignores True.
  auto region = [](const std::string& first) {
    return test::check_text(R"j({"version": 1, "dims": {"B": 2, "N": 30}, "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
      "tensors": {"q": ["B", 10, 64], "mem": ["B", "N", 64], "inside": {"shape": ["B", 10, "N"], "dtype": "bool"}},
      "calls": [)j" + first + R"j(, {"id": "r", "op": "repeat_interleave", "input": "m", "repeats": 4, "dim": 0, "outputs": ["m4"]},
      {"id": "a", "module": "attn", "query": "q", "key": "mem", "value": "mem", "attn_mask": "m4", "outputs": ["o", "w"]}]})j");
  };
  Report wrong = region(R"({"id": "c", "op": "contiguous", "input": "inside", "outputs": ["m"]})");
  const Diagnostic* meaning = test::find(wrong, "MHA084");
  REQUIRE(meaning != nullptr);
  REQUIRE_FALSE(meaning->fixes.empty());
  CHECK(meaning->fixes[0].description == "pass ~m4");
  CHECK(meaning->fixes[0].valid());
  Report right = region(R"({"id": "c", "op": "logical_not", "input": "inside", "outputs": ["m"]})");
  CHECK(std::all_of(right.diagnostics.begin(), right.diagnostics.end(), [](const Diagnostic& d) { return d.severity() == Severity::Note; }));
}

namespace {
// No error and no warning (notes allowed).
bool derived_mask_silent(const Report& report) {
  return std::none_of(report.diagnostics.begin(), report.diagnostics.end(), [](const Diagnostic& d) { return d.severity() != Severity::Note; });
}
}  // namespace

TEST_CASE("mha: a full-length key padding mask against strided keys is downsampled by the same stride", "[mha][mask]") {
  Report strided = test::check_text(R"json({"version": 1, "dims": {"T": 120, "S3": 40}, "modules": {"mha": "nn.MultiheadAttention(256, 8)"}, "tensors": {"h": ["S3", "B", 256], "pad_mask": {"shape": ["B", "T"], "dtype": "bool"}}, "calls": [{"id": "a", "module": "mha", "query": "h", "key": "h", "value": "h", "key_padding_mask": "pad_mask", "outputs": ["o", "w"]}]})json");
  const Diagnostic* shape = test::find(strided, "MHA052");
  REQUIRE(shape != nullptr);
  REQUIRE(!shape->fixes.empty());
  CHECK(shape->fixes.front().description == "downsample the mask as the frames were (120 -> 40, stride 3): pad_mask[:, ::3] gives (B, 40)");
  CHECK(shape->fixes.front().verified);
  CHECK(shape->fixes.front().semantics == FixSemantics::Consistent);
  // ceil(99 / 2) == 50: the odd length's last frame keeps its own flag.
  Report odd = test::check_text(R"json({"version": 1, "modules": {"mha": "nn.MultiheadAttention(96, 4, batch_first=True)"}, "tensors": {"h": ["B", 50, 96], "pad": {"shape": ["B", 99], "dtype": "bool"}}, "calls": [{"id": "a", "module": "mha", "query": "h", "key": "h", "value": "h", "key_padding_mask": "pad", "outputs": ["o", "w"]}]})json");
  const Fix* halved = test::first_fix(odd, "MHA052");
  REQUIRE(halved != nullptr);
  CHECK(halved->description.find("pad[:, ::2] gives (B, 50)") != std::string::npos);
  // The mask sliced so is silent.
  CHECK(derived_mask_silent(test::check_text(R"json({"version": 1, "dims": {"T": 120, "S3": 40}, "modules": {"mha": "nn.MultiheadAttention(256, 8)"}, "tensors": {"h": ["S3", "B", 256], "pad_mask": {"shape": ["B", "T"], "dtype": "bool"}}, "calls": [{"id": "g", "op": "getitem", "input": "pad_mask", "index": "[:, ::3]", "outputs": ["pm"]}, {"id": "a", "module": "mha", "query": "h", "key": "h", "value": "h", "key_padding_mask": "pm", "outputs": ["o", "w"]}]})json")));
}

TEST_CASE("mha: a (B, N, K) neighbour mask for B*N single-query rows is flattened into the batch", "[mha][mask]") {
  Report folded = test::check_text(R"json({"version": 1, "dims": {"B": 2, "P": 7}, "modules": {"mha": "nn.MultiheadAttention(32, 2)"}, "tensors": {"q": [1, "B*P", 32], "kv": [8, "B*P", 32], "nbr_pad": {"shape": ["B", "P", 8], "dtype": "bool"}}, "calls": [{"id": "a", "module": "mha", "query": "q", "key": "kv", "value": "kv", "key_padding_mask": "nbr_pad", "outputs": ["o", "w"]}]})json");
  const Fix* fix = test::first_fix(folded, "MHA022");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "nbr_pad.reshape(-1, 8) gives (14, 8): its dims B and P flattened into the batch");
  CHECK(fix->verified);
  CHECK(fix->semantics == FixSemantics::Consistent);
  CHECK(derived_mask_silent(test::check_text(R"json({"version": 1, "dims": {"B": 2, "P": 7}, "modules": {"mha": "nn.MultiheadAttention(32, 2)"}, "tensors": {"q": [1, "B*P", 32], "kv": [8, "B*P", 32], "nbr_pad": {"shape": ["B", "P", 8], "dtype": "bool"}}, "calls": [{"id": "r", "op": "reshape", "input": "nbr_pad", "shape": [-1, 8], "outputs": ["m2"]}, {"id": "a", "module": "mha", "query": "q", "key": "kv", "value": "kv", "key_padding_mask": "m2", "outputs": ["o", "w"]}]})json")));
}
