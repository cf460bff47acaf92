// reshape / view beyond the PyTorch fixtures: symbols (the element count as a product of
// symbols), the -1 inferred exactly or not at all, and the verified -1 fix.
#include <algorithm>

#include <fmt/format.h>

#include "ops/op_test_support.hpp"

using namespace mhacheck;
using test::op_call;

TEST_CASE("reshape infers -1 from a product of symbols when the quotient is exact", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("reshape", R"("input": ["B", "L", 512], "shape": ["B", "L", 8, -1])"))) ==
        "(B, L, 8, 64)");
  CHECK(test::single_output(test::check_text(op_call("view", R"("input": ["B", "L", 8, 64], "shape": ["B", -1, 512])"))) ==
        "(B, L, 512)");
  CHECK(test::single_output(test::check_text(op_call("reshape", R"("input": ["B", 4, 8], "shape": [-1, 8])"))) == "(4*B, 8)");
}

TEST_CASE("a size written on both sides cancels, even one that is not a multiple of a symbol", "[glue]") {
  // torchaudio's ConvTasNet: the decoder's (batch * sources, 1, frames) back to (batch, sources, frames)
  CHECK(test::single_output(test::check_text(op_call("reshape", R"("input": ["2*B", 1, "T+1"], "shape": ["B", 2, "T+1"])"))) ==
        "(B, 2, T+1)");
  CHECK(test::single_output(test::check_text(op_call("view", R"("input": ["B", "T+1", 8], "shape": ["B", "T+1", 2, -1])"))) ==
        "(B, T+1, 2, 4)");
  Report miscounted = test::check_text(op_call("reshape", R"("input": ["B", "T+1", 8], "shape": ["B", "T+1", 3])"));
  CHECK(test::raised_message(miscounted) == "RuntimeError: shape '[B, T+1, 3]' is invalid for input of size 8*B*(T+1)");
  CHECK(test::find(test::check_text(op_call("reshape", R"("input": ["B", "T+1", 8], "shape": ["B", -1])")), "MHA303") != nullptr);
}

TEST_CASE("a size that can be 0 does not cancel", "[glue]") {
  // T == 1: torch.zeros(0, 3).reshape(0, 4) is valid, so (T-1, 3) to [T-1, 4] is no error.
  Report maybe_empty = test::check_text(op_call("reshape", R"("input": ["T-1", 3], "shape": ["T-1", 4])"));
  CHECK(test::find(maybe_empty, "MHA302") == nullptr);
  CHECK(test::find(maybe_empty, "MHA303") != nullptr);
  // 2*S-1 is at least 1, so it cancels as before.
  Report positive = test::check_text(op_call("reshape", R"("input": ["2*S-1", 3], "shape": ["2*S-1", 4])"));
  CHECK(test::find(positive, "MHA302") != nullptr);
}

TEST_CASE("a product of symbols is a dim: merged by view(-1), split back by name", "[glue]") {
  CHECK(test::single_output(test::check_text(op_call("reshape", R"("input": ["B", "L", 8], "shape": [-1, 8])"))) == "(B*L, 8)");
  CHECK(test::single_output(test::check_text(op_call("view", R"("input": ["B", "T", 8, 64], "shape": [-1, 512])"))) == "(B*T, 512)");
  Report merged = test::check_text(op_call("view", R"("input": ["B", "T", 8, 64], "shape": ["T*B", -1])"));
  CHECK(merged.diagnostics.empty());
  CHECK(test::single_output(merged) == "(B*T, 512)");
  Report split = test::check_text(op_call("view", R"("input": ["B*T", 512], "shape": ["B", "T", 8, -1])"));
  CHECK(split.diagnostics.empty());
  CHECK(test::single_output(split) == "(B, T, 8, 64)");
  CHECK(test::single_output(test::check_text(op_call("view", R"("input": ["B*T", 512], "shape": ["B", -1, 512])"))) == "(B, T, 512)");
  Report miscounted = test::check_text(op_call("view", R"("input": ["B*T", 8], "shape": ["B", "T", 16])"));
  CHECK(test::raised_message(miscounted) == "RuntimeError: shape '[B, T, 16]' is invalid for input of size 8*B*T");
}

TEST_CASE("a -1 not known to be whole, or over a dim that is not a product, is MHA303", "[glue]") {
  Report sum = test::check_text(op_call("reshape", R"("input": ["S+1", "L", 8], "shape": [-1, 8])"));
  REQUIRE(test::find(sum, "MHA303") != nullptr);
  CHECK_FALSE(test::find(sum, "MHA303")->pytorch_error.has_value());
  CHECK(test::find(test::check_text(op_call("reshape", R"("input": ["B", 8], "shape": [3, -1])")), "MHA303") != nullptr);
}

TEST_CASE("element counts that differ only through unbound symbols warn", "[glue]") {
  Report report = test::check_text(op_call("reshape", R"("input": ["B", "L", "E"], "shape": ["B", "L", "H", "D"])"));
  CHECK(report.ok());
  REQUIRE(test::find(report, "MHA080") != nullptr);
  CHECK(test::find(report, "MHA080")->message == "valid only if B*L*E == B*L*H*D (the element counts of input and shape)");
  Report unequal = test::check_text(op_call("reshape", R"("input": ["B", 8], "shape": ["B", 3])"));
  CHECK(test::raised_message(unequal) == "RuntimeError: shape '[B, 3]' is invalid for input of size 8*B");
}

TEST_CASE("a miscounted size gets a verified -1 fix", "[glue]") {
  Report report = test::check_text(op_call("reshape", R"("input": [2, 5, 64], "shape": [2, 5, 8, 16])"));
  const Diagnostic* invalid = test::find(report, "MHA302");
  REQUIRE(invalid != nullptr);
  CHECK(invalid->pytorch_error->message == "shape '[2, 5, 8, 16]' is invalid for input of size 640");
  REQUIRE_FALSE(invalid->fixes.empty());
  CHECK(invalid->fixes[0].description == "let PyTorch infer the head count (size 2 of shape): reshape(2, 5, -1, 16)");
  CHECK(invalid->fixes[0].verified);
  // Not a split of the last dim: the last size is inferred.
  Report flat = test::check_text(op_call("reshape", R"("input": [6, 4], "shape": [5, 4])"));
  const Diagnostic* flat_invalid = test::find(flat, "MHA302");
  REQUIRE(flat_invalid != nullptr);
  REQUIRE_FALSE(flat_invalid->fixes.empty());
  CHECK(flat_invalid->fixes[0].description == "let PyTorch infer a size (size 0 of shape): reshape(-1, 4)");
}

TEST_CASE("a split into heads that miscounts infers the head count and keeps the head size", "[glue]") {
  // Mistral's v_proj output (B, L, 8*128) viewed with the query's 32 heads: the keys' head count is
  // the one miscounted; the head size must stay the query's for their dot product.
  Report report = test::check_text(op_call("view", R"("input": ["B", "L", 1024], "shape": ["B", "L", 32, 128])"));
  const Diagnostic* invalid = test::find(report, "MHA302");
  REQUIRE(invalid != nullptr);
  REQUIRE_FALSE(invalid->fixes.empty());
  CHECK(invalid->fixes[0].description == "let PyTorch infer the head count (size 2 of shape): view(B, L, -1, 128)");
  CHECK(invalid->fixes[0].valid());
}

TEST_CASE("a miscounted split that becomes the query keeps the head count and infers the head size", "[glue]") {
  // An attention narrowed to 192 features (Linear(384, 192)) whose head size was computed from
  // 384: the query's 6 heads are the model's, so the head size is the miscount; the same split
  // read as grouped-query keys (3 heads of the query's size 64) keeps the head size.
  const std::string spec = R"json({"version": 1, "modules": {"proj": "nn.Linear(384, 192)"},
    "tensors": {"x": ["B", "T", 384], "kv": ["B", 6, "T", 32], "q12": ["B", 12, "T", 64], "v3": ["B", 3, "T", 64]},
    "calls": [{"id": "p", "module": "proj", "input": "x", "outputs": ["h0"]},
              {"id": "r", "op": "view", "input": "h0", "shape": ["B", "T", 6, 64], "outputs": ["h1"]},
              {"id": "t", "op": "transpose", "input": "h1", "dim0": 1, "dim1": 2, "outputs": ["h"]},
              {"id": "a", "op": "F.scaled_dot_product_attention", "query": QUERY, "key": KEY, "value": VALUE, "enable_gqa": true, "outputs": ["o"]}]})json";
  auto with = [&](const std::string& query, const std::string& key, const std::string& value) {
    std::string text = spec;
    text.replace(text.find("QUERY"), 5, query);
    text.replace(text.find("KEY"), 3, key);
    text.replace(text.find("VALUE"), 5, value);
    return text;
  };
  Report as_query = test::check_text(with("\"h\"", "\"kv\"", "\"kv\""));
  const Diagnostic* invalid = test::find(as_query, "MHA302");
  REQUIRE(invalid != nullptr);
  REQUIRE_FALSE(invalid->fixes.empty());
  CHECK(invalid->fixes[0].description == "let PyTorch infer the head size, keeping the query's head count (size 3 of shape): view(B, T, 6, -1)");
  CHECK(invalid->fixes[0].valid());
  Report as_key = test::check_text(with("\"q12\"", "\"h\"", "\"v3\""));
  const Diagnostic* key_invalid = test::find(as_key, "MHA302");
  REQUIRE(key_invalid != nullptr);
  REQUIRE_FALSE(key_invalid->fixes.empty());
  CHECK(key_invalid->fixes[0].description == "let PyTorch infer the head count (size 2 of shape): view(B, T, -1, 64)");
}

TEST_CASE("a memory viewed with the query's length infers the length and keeps the head size", "[glue]") {
  // Cross-attention copied from self-attention: k_proj(memory) (B, S, 512) viewed (B, T, 8, 64).
  // 8 heads of 64 split 512 exactly: the length is the miscount, not the head size (heads of S*64/T).
  for (const auto& [arguments, fix] :
       {std::pair{R"("input": [2, 100, 512], "shape": [2, 64, 8, 64])", "view(2, -1, 8, 64)"},
        std::pair{R"("input": ["B", 100, 512], "shape": ["B", 64, 8, 64])", "view(B, -1, 8, 64)"}}) {
    Report report = test::check_text(op_call("view", arguments));
    const Diagnostic* invalid = test::find(report, "MHA302");
    REQUIRE(invalid != nullptr);
    REQUIRE_FALSE(invalid->fixes.empty());
    CHECK(invalid->fixes[0].description == std::string("let PyTorch infer a size (size 1 of shape): ") + fix);
    CHECK(invalid->fixes[0].valid());
  }
}

TEST_CASE("a split into heads that divide neither way gets no fix, and a note saying why", "[glue]") {
  // view(B, T, 5, E // 5) of (B, T, 64): 5 heads of 12; 4 or 8 heads would divide, a guess between them
  Report report = test::check_text(op_call("view", R"("input": ["B", "T", 64], "shape": ["B", "T", 5, 12])"));
  const Diagnostic* invalid = test::find(report, "MHA302");
  REQUIRE(invalid != nullptr);
  CHECK(invalid->fixes.empty());
  REQUIRE(invalid->notes.size() == 1);
  CHECK(invalid->notes[0] ==
        "no fix is offered: neither 5 heads nor a head size of 12 divides 64; the head counts that do nearest 5 are 4 (head size "
        "16) and 8 (head size 8), but which one was meant (the model's num_heads) the shape does not tell");
  // one of them dividing: the other is inferred (-1), no note
  Report divides = test::check_text(op_call("view", R"("input": ["B", "T", 64], "shape": ["B", "T", 5, 16])"));
  const Diagnostic* inferred = test::find(divides, "MHA302");
  REQUIRE(inferred != nullptr);
  REQUIRE_FALSE(inferred->fixes.empty());
  CHECK(inferred->notes.empty());
}

TEST_CASE("a split into heads that divide neither way is fixed as the spec's other views split that width", "[glue]") {
  auto views = [](const std::string& others) {
    return test::check_text(R"({"tensors": {"x": ["B", "T", 64]}, "modules": {}, "calls": [)" + others +
                            R"({"id": "k", "op": "view", "input": "x", "shape": ["B", "T", 5, 12]}]})");
  };
  Report told = views(R"({"id": "q", "op": "view", "input": "x", "shape": ["B", "T", 4, 16]},
                         {"id": "v", "op": "reshape", "input": "x", "shape": ["B", "T", 4, 16]},)");
  const Diagnostic* invalid = test::find(told, "MHA302");
  REQUIRE(invalid != nullptr);
  REQUIRE(invalid->fixes.size() == 1);
  CHECK(invalid->fixes[0].description == "split 64 into 4 heads of 16, as the spec's other views of that width do");
  CHECK(invalid->fixes[0].valid());
  CHECK(invalid->notes.empty());
  // two splits elsewhere: which one is a guess again
  Report disagree = views(R"({"id": "q", "op": "view", "input": "x", "shape": ["B", "T", 4, 16]},
                             {"id": "v", "op": "view", "input": "x", "shape": ["B", "T", 8, 8]},)");
  const Diagnostic* guessed = test::find(disagree, "MHA302");
  REQUIRE(guessed != nullptr);
  CHECK(guessed->fixes.empty());
  REQUIRE(guessed->notes.size() == 1);
  CHECK(guessed->notes[0].find("the spec's other views do not agree on") != std::string::npos);
}

TEST_CASE("a fused qkv split with the 3 inside the heads warns MHA312 only where the blocks' order is known", "[glue][roles]") {
  // torch.cat of the q, k and v projections lays out (3, 768): reshape(B, N, 12, 3, 64) reads
  // (H, 3, D), so q, k and v each take features of all three projections. The fix splits the
  // blocks first and renumbers the permute that reads the result (reshape(B, N, 3, H, D).permute(2, 0, 3, 1, 4)).
  const std::string joined = R"json({"version": 1, "dims": {"B": 2, "N": 197},
    "modules": {"q_proj": "nn.Linear(768, 768)", "k_proj": "nn.Linear(768, 768)", "v_proj": "nn.Linear(768, 768)"},
    "tensors": {"x": ["B", "N", 768]}, "calls": [{"id": "pq", "module": "q_proj", "input": "x", "outputs": ["q0"]},
    {"id": "pk", "module": "k_proj", "input": "x", "outputs": ["k0"]}, {"id": "pv", "module": "v_proj", "input": "x", "outputs": ["v0"]},
    {"id": "j", "op": "cat", "tensors": ["q0", "k0", "v0"], "dim": -1, "outputs": ["y"]},
    {"id": "r", "op": "reshape", "input": "y", "shape": )json";
  Report cut = test::check_text(joined + R"json(["B", "N", 12, 3, 64], "outputs": ["y5"]},
    {"id": "pm", "op": "permute", "input": "y5", "dims": [3, 0, 2, 1, 4], "outputs": ["qkv3"]},
    {"id": "q", "op": "select", "input": "qkv3", "dim": 0, "index": 0, "outputs": ["q"]},
    {"id": "s", "op": "F.scaled_dot_product_attention", "query": "q", "key": "q", "value": "q"}]})json");
  const Diagnostic* blocks = test::find(cut, "MHA312");
  REQUIRE(blocks != nullptr);
  CHECK(blocks->call == "r");
  CHECK(blocks->message.find("splits the 2304 features that call \"j\" joins (3 projections of 768") != std::string::npos);
  REQUIRE_FALSE(blocks->fixes.empty());
  CHECK(blocks->fixes[0].description ==
        "split the 3 blocks first and renumber call \"pm\": y.reshape(B, N, 3, 12, 64).permute(2, 0, 3, 1, 4)");
  CHECK(blocks->fixes[0].valid());
  CHECK(blocks->fixes[0].semantics == FixSemantics::Consistent);
  // Read by select on dim 3 instead of a permute: a permute after the fixed reshape keeps the old order.
  Report selected = test::check_text(joined + R"json(["B", "N", 12, 3, 64], "outputs": ["y5"]},
    {"id": "q", "op": "select", "input": "y5", "dim": 3, "index": 0}]})json");
  REQUIRE(test::find(selected, "MHA312") != nullptr);
  REQUIRE_FALSE(test::find(selected, "MHA312")->fixes.empty());
  CHECK(test::find(selected, "MHA312")->fixes[0].description ==
        "split the 3 blocks first, then keep the dims' order: y.reshape(B, N, 3, 12, 64).permute(0, 1, 3, 2, 4)");
  CHECK(test::find(selected, "MHA312")->fixes[0].valid());
  CHECK(test::find(test::check_text(joined + R"json(["B", "N", 3, 12, 64]}]})json"), "MHA312") == nullptr);

  // One fused nn.Linear(768, 2304): the order of its output features is its weights'. BLOOM's and
  // GPT-NeoX's checkpoints lay them out per head, read by fused_qkv.view(B, T, H, 3, D); timm's and
  // GPT-2's one projection after the other. The split is right for one of them: a note, no warning.
  const std::string fused = R"json({"version": 1, "dims": {"B": 2, "N": 197}, "modules": {"qkv": "nn.Linear(768, 2304)"},
    "tensors": {"x": ["B", "N", 768]}, "calls": [{"id": "p", "module": "qkv", "input": "x", "outputs": ["y"]},
    {"id": "r", "op": "view", "input": "y", "shape": )json";
  Report bloom = test::check_text(fused + R"json(["B", "N", 12, 3, 64], "outputs": ["y5"]},
    {"id": "q", "op": "select", "input": "y5", "dim": 3, "index": 0}]})json");
  CHECK(test::find(bloom, "MHA312") == nullptr);
  CHECK(std::none_of(bloom.diagnostics.begin(), bloom.diagnostics.end(), [](const Diagnostic& d) { return d.severity() != Severity::Note; }));
  const Diagnostic* layout = test::find(bloom, "MHA326");
  REQUIRE(layout != nullptr);
  CHECK(layout->call == "r");
  CHECK(layout->message.find("only if the Linear's weights lay each head's 3 projections side by side (H, 3, D, per head)") !=
        std::string::npos);
  // Not reported: the blocks outermost, a (H, 3*D) split without a written 3 (GPT-NeoX's view).
  CHECK(test::find(test::check_text(fused + R"json(["B", "N", 3, 12, 64]}]})json"), "MHA326") == nullptr);
  CHECK(test::find(test::check_text(fused + R"json(["B", "N", 12, 192]}]})json"), "MHA326") == nullptr);
}

TEST_CASE("heads merged into the features with the head size outside the heads warns MHA312", "[glue][roles]") {
  // permute(0, 2, 3, 1) of (B, H, T, D) gives (B, T, D, H); reshape(B, T, 256) merges (D, H), where a
  // Linear reads H blocks of D. The fix moves the dims where the permute made them.
  auto merged = [](const std::string& dims, const std::string& last) {
    return test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 8, "T": 10, "D": 32, "E": 256}, "tensors": {"o": ["B", "H", "T", "D"]},
      "calls": [{"id": "pm", "op": "permute", "input": "o", "dims": )" + dims + R"(, "outputs": ["o2"]},
                {"id": "r", "op": "reshape", "input": "o2", "shape": ["B", "T", )" + last + "]}]}");
  };
  Report interleaved = merged("[0, 2, 3, 1]", "256");
  const Diagnostic* order = test::find(interleaved, "MHA312");
  REQUIRE(order != nullptr);
  CHECK(order->message ==
        "reshape merges (D*H) of input (2, 10, 32, 8) into its last dim in memory order: the head size D is outside the heads H, so the "
        "features interleave the heads (a Linear reads them as H blocks of D, heads outer)");
  REQUIRE_FALSE(order->fixes.empty());
  CHECK(order->fixes[0].description == "move the dims where call \"pm\" permutes them: o.permute(0, 2, 1, 3).reshape(B, T, 256)");
  CHECK(order->fixes[0].valid());
  CHECK(test::find(merged("[0, 2, 3, 1]", "\"E\""), "MHA312") != nullptr);
  // Through .contiguous() the move is still folded into the permute.
  Report copied = test::check_text(R"({"version": 1, "dims": {"B": 2, "H": 8, "T": 10, "D": 32}, "tensors": {"o": ["B", "H", "T", "D"]},
    "calls": [{"id": "pm", "op": "permute", "input": "o", "dims": [0, 2, 3, 1], "outputs": ["o2"]},
              {"id": "c", "op": "contiguous", "input": "o2", "outputs": ["o3"]},
              {"id": "r", "op": "view", "input": "o3", "shape": ["B", "T", -1]}]})");
  REQUIRE(test::find(copied, "MHA312") != nullptr);
  REQUIRE_FALSE(test::find(copied, "MHA312")->fixes.empty());
  CHECK(test::find(copied, "MHA312")->fixes[0].description ==
        "move the dims where call \"pm\" permutes them: o.permute(0, 2, 1, 3).contiguous().view(B, T, -1)");
  CHECK(test::find(copied, "MHA312")->fixes[0].valid());
  CHECK(test::find(merged("[0, 2, 3, 1]", "-1"), "MHA312") != nullptr);
  // Not reported: (H, D) merged, unnamed dims.
  CHECK(test::find(merged("[0, 2, 1, 3]", "256"), "MHA312") == nullptr);
  Report unnamed = test::check_text(R"({"version": 1, "tensors": {"o": [2, 8, 10, 32]},
    "calls": [{"id": "pm", "op": "permute", "input": "o", "dims": [0, 2, 3, 1], "outputs": ["o2"]},
              {"id": "r", "op": "reshape", "input": "o2", "shape": [2, 10, 256]}]})");
  CHECK(test::find(unnamed, "MHA312") == nullptr);
}

TEST_CASE("a view that cuts sizes in another order than memory holds them warns MHA312, where the order is known", "[glue][roles]") {
  // Swin's window_partition without its permute: (B, 56, 56, C) viewed (B, 8, 8, 7, 7, C) takes
  // dim 2 (8) across the rows' 7 and the columns' 8.
  auto view = [](const std::string& input, const std::string& shape, const std::string& dims = "{}") {
    return test::check_text(R"({"version": 1, "dims": )" + dims + R"(, "tensors": {"x": )" + input +
                            R"(}, "calls": [{"id": "v", "op": "view", "input": "x", "shape": )" + shape + R"(, "outputs": ["y"]}]})");
  };
  Report swin = view(R"(["B", 56, 56, 96])", R"(["B", 8, 8, 7, 7, 96])");
  const Diagnostic* windows = test::find(swin, "MHA312");
  REQUIRE(windows != nullptr);
  CHECK(windows->message ==
        "view cuts input (B, 56, 56, 96) into (B, 8, 8, 7, 7, 96) in another order than memory holds the factors (row-major: (B, 8, 7, 8, 7, "
        "96)): a dim of the result mixes entries of different input dims or factors");
  REQUIRE_FALSE(windows->fixes.empty());
  CHECK(windows->fixes[0].description == "cut in memory order, then move the dims: x.view(B, 8, 7, 8, 7, 96).transpose(2, 3)");
  CHECK(windows->fixes[0].valid());
  CHECK(windows->fixes[0].semantics == FixSemantics::Consistent);
  // Local attention's chunks: (B, N*64, E) viewed (B, 64, N, E) reads positions 64 apart as a chunk.
  Report chunks = view(R"(["B", "N*64", 256])", R"(["B", 64, "N", 256])", R"({"N": 8})");
  const Diagnostic* chunk = test::find(chunks, "MHA312");
  REQUIRE(chunk != nullptr);
  REQUIRE_FALSE(chunk->fixes.empty());
  CHECK(chunk->fixes[0].description == "cut in the product's order: x.view(B, N, 64, 256)");
  CHECK(chunk->fixes[0].valid());
  // The product made by a reshape in the graph is known too.
  Report made = test::check_text(R"({"version": 1, "dims": {"N": 8}, "tensors": {"x": ["B", "N", 64, 256]}, "calls": [
      {"id": "m", "op": "reshape", "input": "x", "shape": ["B", "N*64", 256], "outputs": ["flat"]},
      {"id": "v", "op": "view", "input": "flat", "shape": ["B", 64, "N", 256]}]})");
  CHECK(test::find(made, "MHA312") != nullptr);
  // Not reported: Swin's real cut, a plain number cut (its order is not known), a
  // relative-position shift (no dim cut), and a plain product cut in its order.
  CHECK(test::find(view(R"(["B", 56, 56, 96])", R"(["B", 8, 7, 8, 7, 96])"), "MHA312") == nullptr);
  CHECK(test::find(view(R"(["B", 3136, 96])", R"(["B", 56, 56, 96])"), "MHA312") == nullptr);
  CHECK(test::find(view(R"(["B", 512, 256])", R"(["B", 64, 8, 256])"), "MHA312") == nullptr);
  CHECK(test::find(view(R"(["B", 4, 10, 11])", R"(["B", 4, 11, 10])"), "MHA312") == nullptr);
  CHECK(test::find(view(R"(["B", "N*64", 256])", R"(["B", "N", 64, 256])", R"({"N": 8})"), "MHA312") == nullptr);
  CHECK(test::find(view(R"(["B", 56, 56, 96])", R"(["B", 3136, 96])"), "MHA312") == nullptr);
}

TEST_CASE("a multi-query fused projection cut by chunk(3) is fixed by split into its query, key and value widths", "[glue]") {
  // Falcon: nn.Linear(E, E + 2*D), E of queries then one key and one value head of D.
  Report falcon = test::check_text(R"j({"version": 1, "modules": {"qkv": "nn.Linear(64, 80, bias=False)"}, "tensors": {"x": ["B", "T", 64]},
    "calls": [{"id": "p", "module": "qkv", "input": "x", "outputs": ["fused"]},
              {"id": "ch", "op": "chunk", "input": "fused", "chunks": 3, "dim": -1, "outputs": ["q", "k", "v"]},
              {"id": "vq", "op": "view", "input": "q", "shape": ["B", "T", 8, 8], "outputs": ["q4"]}]})j");
  const Diagnostic* invalid = test::find(falcon, "MHA302");
  REQUIRE(invalid != nullptr);
  REQUIRE_FALSE(invalid->fixes.empty());
  CHECK(invalid->fixes[0].description ==
        "cut the fused projection of call \"p\" (64 queries, then 8 keys and 8 values) as laid out: fused.split([64, 8, 8], dim=-1)");
  CHECK(invalid->fixes[0].valid());
  // An equal three-way projection (E to 3*E) is not this case.
  Report equal = test::check_text(R"j({"version": 1, "modules": {"qkv": "nn.Linear(64, 192)"}, "tensors": {"x": ["B", "T", 64]},
    "calls": [{"id": "p", "module": "qkv", "input": "x", "outputs": ["fused"]},
              {"id": "ch", "op": "chunk", "input": "fused", "chunks": 3, "dim": -1, "outputs": ["q", "k", "v"]},
              {"id": "vq", "op": "view", "input": "q", "shape": ["B", "T", 6, 8], "outputs": ["q4"]}]})j");
  REQUIRE(test::find(equal, "MHA302") != nullptr);
  for (const auto& fix : test::find(equal, "MHA302")->fixes) CHECK(fix.description.find("split(") == std::string::npos);
}

TEST_CASE("a view that keeps one dim whole and moves it before a dim it cuts warns MHA312: the fix moves the dims first", "[glue][roles]") {
  // SegFormer's Mix-FFN without its transpose: tokens (B, N, C) viewed (B, C, H, W).
  Report report = test::check_text(R"j({"version": 1, "modules": {"dw": "nn.Conv2d(64, 64, 3, padding=1, groups=64)"},
      "tensors": {"x": ["B", 256, 64]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", 64, 16, 16], "outputs": ["xm"]},
                {"id": "dw", "module": "dw", "input": "xm", "outputs": ["y"]}]})j");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  CHECK(moved->message ==
        "view of (B, 256, 64) to (B, 64, 16, 16) is no split or merge of the input's dims in memory order, but is one once they are "
        "moved: each result dim mixes entries of different input dims (a transpose written as a view)");
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes[0].description == "move the dims first: x.transpose(1, 2).view(B, 64, 16, 16)");
  CHECK(moved->fixes[0].valid());
  CHECK(moved->fixes[0].semantics == FixSemantics::Consistent);
  // ResNet features (B, C, H, W) viewed (B, H*W, C) without the permute: moved, then merged by reshape.
  Report resnet = test::check_text(R"({"version": 1, "dims": {"B": 2}, "tensors": {"feat": ["B", 512, 7, 7]},
      "calls": [{"id": "v", "op": "view", "input": "feat", "shape": ["B", 49, 512], "outputs": ["x"]}]})");
  REQUIRE(test::find(resnet, "MHA312") != nullptr);
  REQUIRE_FALSE(test::find(resnet, "MHA312")->fixes.empty());
  CHECK(test::find(resnet, "MHA312")->fixes[0].description == "move the dims first: feat.permute(0, 2, 3, 1).reshape(B, 49, 512)");
  CHECK(test::find(resnet, "MHA312")->fixes[0].valid());
  // With the transpose, and Transformer-XL's shift (no dim cut), nothing is said.
  Report fixed = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 256, 64]},
      "calls": [{"id": "t", "op": "transpose", "input": "x", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
                {"id": "v", "op": "view", "input": "xt", "shape": ["B", 64, 16, 16]}]})");
  CHECK(test::find(fixed, "MHA312") == nullptr);
  Report shift = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 8, 16, 25]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", 8, 25, 16]}]})");
  CHECK(test::find(shift, "MHA312") == nullptr);
}

TEST_CASE("view: a stage's positions viewed at the previous stage's resolution are viewed at their own, channels kept", "[reshape]") {
  Report report = test::check_text(R"j({"version": 1, "tensors": {"y": ["B", 784, 192]},
    "calls": [{"id": "nv", "op": "view", "input": "y", "shape": ["B", 56, 56, 192], "outputs": ["grid"]}]})j");
  const Diagnostic* invalid = test::find(report, "MHA302");
  REQUIRE(invalid != nullptr);
  REQUIRE(!invalid->fixes.empty());
  CHECK(invalid->fixes.front().description == "view the 784 positions at their own resolution, every other size as declared: view(B, 28, 28, 192)");
  CHECK(invalid->fixes.front().valid());
  CHECK(invalid->fixes.front().semantics == FixSemantics::Consistent);
}

TEST_CASE("view: a window partition of a non-square map with the two sides' counts exchanged gets them exchanged back first", "[reshape][roles]") {
  // (B, 12, 30, 32) in 3 x 3 windows: view(B, 12 // 3, 3, 30 // 3, 3, C), written with H and W in
  // each other's place. Only one exchange cuts each dim into factors of its own.
  const std::string swapped = R"({"version": 1, "tensors": {"x": ["B", 12, 30, 32]},
    "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", 10, 3, 4, 3, 32], "outputs": ["xw"]},
              {"id": "pm", "op": "permute", "input": "xw", "dims": [0, 1, 3, 2, 4, 5], "outputs": ["xp"]},
              {"id": "c", "op": "contiguous", "input": "xp", "outputs": ["xc"]},
              {"id": "w", "op": "view", "input": "xc", "shape": [-1, 9, 32], "outputs": ["windows"]}]})";
  Report report = test::check_text(swapped);
  const Fix* fix = test::first_fix(report, "MHA312");
  REQUIRE(fix != nullptr);
  CHECK(fix->description == "exchange the sizes given in each other's place: x.view(B, 4, 3, 10, 3, 32)");
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  // The permute fix, which keeps the written result, is still offered after it.
  const Diagnostic* diagnostic = test::find(report, "MHA312");
  CHECK(std::any_of(diagnostic->fixes.begin(), diagnostic->fixes.end(),
                    [](const Fix& f) { return f.description.rfind("cut in memory order, then move the dims", 0) == 0; }));
  // Written in the right order, nothing to say.
  std::string right = swapped;
  right.replace(right.find("[\"B\", 10, 3, 4, 3, 32]"), 22, "[\"B\", 4, 3, 10, 3, 32]");
  CHECK(test::check_text(right).diagnostics.empty());
}

TEST_CASE("view: two exchanges that would each cut every dim leave the choice to the permute fix", "[reshape][roles]") {
  // (B, 16, 48, C) in 4 x 4 windows written (B, 12, 4, 4, 4, C): (B, 4, 4, 12, 4, C) and
  // (B, 4, 4, 4, 12, C) both cut each dim; nothing says which was meant.
  Report report = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 16, 48, 64]},
    "calls": [{"id": "v", "op": "view", "input": "x", "shape": ["B", 12, 4, 4, 4, 64], "outputs": ["xw"]}]})");
  const Diagnostic* diagnostic = test::find(report, "MHA312");
  REQUIRE(diagnostic != nullptr);
  CHECK(std::none_of(diagnostic->fixes.begin(), diagnostic->fixes.end(),
                     [](const Fix& f) { return f.description.rfind("exchange the sizes", 0) == 0; }));
}

TEST_CASE("a relative-position skew views a dim grown by a zero slice with the dim before it exchanged, on purpose", "[glue]") {
  // Transformer-XL's _rel_shift (kimiyoung/transformer-xl pytorch/mem_transformer.py): scores
  // (qlen, klen, B, H), a zero column concatenated on klen, viewed (klen+1, qlen, B, H).
  auto rel_shift = [](const std::string& zeros_op, const std::string& dims) {
    return test::check_text(R"j({"version": 1, "dims": )j" + dims + R"j(, "tensors": {"x": ["T", 9, "B", 4]}, "calls": [
        {"id": "z", "op": ")j" + zeros_op + R"j(", "size": ["T", 1, "B", 4], "outputs": ["zero_pad"]},
        {"id": "c", "op": "cat", "tensors": ["zero_pad", "x"], "dim": 1, "outputs": ["padded"]},
        {"id": "v", "op": "view", "input": "padded", "shape": [10, "T", "B", 4], "outputs": ["skewed"]},
        {"id": "s", "op": "getitem", "input": "skewed", "index": "[1:]", "outputs": ["cut"]},
        {"id": "back", "op": "view_as", "input": "cut", "other": "x"}]})j");
  };
  for (const std::string dims : {R"({})", R"({"T": 7, "B": 2})", R"({"T": 43, "B": 53})"}) {
    Report report = rel_shift("zeros", dims);
    CHECK(report.calls.back().ok);
    CHECK(test::find(report, "MHA312") == nullptr);
  }
  // Music Transformer's skewing: F.pad(QEr, (1, 0)) of (B, H, L, L), reshaped (B, H, L+1, L).
  Report music = test::check_text(R"j({"version": 1, "tensors": {"qer": ["B", 4, "L", "L"]}, "calls": [
      {"id": "p", "op": "pad", "input": "qer", "pad": [1, 0], "outputs": ["padded"]},
      {"id": "r", "op": "reshape", "input": "padded", "shape": ["B", 4, "L+1", "L"], "outputs": ["skewed"]}]})j");
  CHECK(test::find(music, "MHA312") == nullptr);
  // Still reported: the batch is one of the exchanged dims ((B, klen+1) viewed (klen+1, B): a
  // transpose forgotten, not a skew), or the slice added holds ones, which shift nothing into place.
  auto grown = [](const std::string& x, const std::string& fill, const std::string& slice, const std::string& viewed) {
    return test::check_text(R"j({"version": 1, "dims": {"T": 7, "B": 2}, "tensors": {"x": )j" + x + R"j(}, "calls": [
        {"id": "z", "op": ")j" + fill + R"j(", "size": )j" + slice + R"j(, "outputs": ["pad"]},
        {"id": "c", "op": "cat", "tensors": ["pad", "x"], "dim": 1, "outputs": ["padded"]},
        {"id": "v", "op": "view", "input": "padded", "shape": )j" + viewed + R"j(}]})j");
  };
  CHECK(test::find(grown(R"(["T", 9, "B", 4])", "zeros", R"(["T", 1, "B", 4])", R"([10, "T", "B", 4])"), "MHA312") == nullptr);
  CHECK(test::find(grown(R"(["B", 9, "T", 4])", "zeros", R"(["B", 1, "T", 4])", R"([10, "B", "T", 4])"), "MHA312") != nullptr);
  CHECK(test::find(grown(R"(["T", 9, "B", 4])", "ones", R"(["T", 1, "B", 4])", R"([10, "T", "B", 4])"), "MHA312") != nullptr);
  // Heads (B, H, N, D) grown on N, by a declared null key joined or a zero pad, then merged by
  // view(B, N+1, H, D): the merge's transpose forgotten, heads exchanged with positions.
  const std::string heads = R"({"version": 1, "dims": {"B": 2, "H": 8, "N": 16, "D": 32},
      "tensors": {"o": ["B", "H", "N", "D"], "null_kv": ["B", "H", 1, "D"]}, "calls": [GROW,
      {"id": "v", "op": "view", "input": "oj", "shape": ["B", "N+1", "H", "D"], "outputs": ["ov"]}]})";
  for (const std::string grow : {R"({"id": "j", "op": "cat", "tensors": ["null_kv", "o"], "dim": 2, "outputs": ["oj"]})",
                                 R"({"id": "p", "op": "pad", "input": "o", "pad": [0, 0, 1, 0], "outputs": ["oj"]})"}) {
    std::string text = heads;
    text.replace(text.find("GROW"), 4, grow);
    CHECK(test::find(test::check_text(text), "MHA312") != nullptr);
  }
  // A declared slice joined holds values of its own, not the skew's zeros.
  CHECK(test::find(test::check_text(R"({"version": 1, "tensors": {"x": ["T", 9, "B", 4], "pad": ["T", 1, "B", 4]}, "calls": [
      {"id": "c", "op": "cat", "tensors": ["pad", "x"], "dim": 1, "outputs": ["padded"]},
      {"id": "v", "op": "view", "input": "padded", "shape": [10, "T", "B", 4]}]})"), "MHA312") != nullptr);
}

TEST_CASE("a declared slice counts as the skew's zeros by its fill, or a whole word of its name, not a substring", "[glue]") {
  // Transformer-XL's zero_pad is torch.zeros made outside the spec: "fill": 0 says so whatever the
  // name; a name says it only as a whole word (zero_pad, zeros), not inside another (nonzero_keys).
  auto skew = [](const std::string& name, const std::string& declared) {
    return test::check_text(R"({"version": 1, "tensors": {"x": ["T", 9, "B", 4], ")" + name + R"(": )" + declared + R"(}, "calls": [
        {"id": "c", "op": "cat", "tensors": [")" + name + R"(", "x"], "dim": 1, "outputs": ["padded"]},
        {"id": "v", "op": "view", "input": "padded", "shape": [10, "T", "B", 4]}]})");
  };
  const std::string slice = R"(["T", 1, "B", 4])";
  CHECK(test::find(skew("pad_col", R"({"shape": ["T", 1, "B", 4], "fill": 0})"), "MHA312") == nullptr);
  CHECK(test::find(skew("zero_pad", slice), "MHA312") == nullptr);
  CHECK(test::find(skew("nonzero_keys", slice), "MHA312") != nullptr);
  CHECK(test::find(skew("zero_pad", R"({"shape": ["T", 1, "B", 4], "fill": 1})"), "MHA312") != nullptr);
  // A fill that is not a value is refused where it is written.
  Report bad = skew("pad_col", R"({"shape": ["T", 1, "B", 4], "fill": "zeros"})");
  const Diagnostic* schema = test::find(bad, "MHA002");
  REQUIRE(schema != nullptr);
  CHECK(schema->location.pointer == "/tensors/pad_col/fill");
}

TEST_CASE("reshape: relative attention's skew (L, L) to (L+1, L) without the pad gets F.pad(x, (1, 0)) first", "[reshape]") {
  // Transformer-XL / Music Transformer skewing: pad one column on the left, view (L+1, L), drop row 0.
  Report report = test::check_text(R"({"version": 1, "tensors": {"rel_logits": ["B", 4, 32, 32]},
      "calls": [{"id": "skew", "op": "view", "input": "rel_logits", "shape": ["B", 4, 33, 32], "outputs": ["skewed"]},
                {"id": "drop", "op": "getitem", "input": "skewed", "index": "[:, :, 1:]", "outputs": ["rel"]}]})");
  const Fix* fix = test::first_fix(report, "MHA302");
  REQUIRE(fix != nullptr);
  CHECK(fix->description.find("F.pad(rel_logits, (1, 0)) gives (B, 4, 32, 33)") != std::string::npos);
  CHECK(fix->valid());
  CHECK(fix->semantics == FixSemantics::Consistent);
  // Not square: (L, M) relative logits padded to (L, M+1) and viewed (M+1, L).
  Report wide = test::check_text(R"({"version": 1, "tensors": {"rel_logits": [2, 4, 10, 19]},
      "calls": [{"id": "skew", "op": "reshape", "input": "rel_logits", "shape": [2, 4, 20, 10], "outputs": ["skewed"]}]})");
  const Fix* wide_fix = test::first_fix(wide, "MHA302");
  REQUIRE(wide_fix != nullptr);
  CHECK(wide_fix->description.find("F.pad(rel_logits, (1, 0)) gives (2, 4, 10, 20)") != std::string::npos);
  CHECK(wide_fix->valid());
  // A last dim short by k that is no skew (its rows are not the input's): no pad.
  Report short_rows = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 10, 6]},
      "calls": [{"id": "r", "op": "reshape", "input": "x", "shape": ["B", 5, 16]}]})");
  REQUIRE(test::find(short_rows, "MHA302") != nullptr);
  for (const Fix& f : test::find(short_rows, "MHA302")->fixes) CHECK(f.description.find("F.pad") == std::string::npos);
  // Not relative logits: a Conv1d map (8, 64, 100) viewed (8, 101, 64) miscounts the frames; a
  // 2-D (3, 2) viewed (4, 3) is short by more than one column. Neither gets the pad.
  auto no_pad = [](const Report& r) {
    const Diagnostic* d = test::find(r, "MHA302");
    return d != nullptr && std::none_of(d->fixes.begin(), d->fixes.end(), [](const Fix& f) { return f.description.find("F.pad") != std::string::npos; });
  };
  CHECK(no_pad(test::check_text(R"J({"version": 1, "modules": {"conv": "nn.Conv1d(80, 64, 3)"}, "tensors": {"mel": [8, 80, 102]},
      "calls": [{"id": "c", "module": "conv", "input": "mel", "outputs": ["h"]},
                {"id": "v", "op": "view", "input": "h", "shape": [8, 101, 64], "outputs": ["frames"]}]})J")));
  CHECK(no_pad(test::check_text(R"({"version": 1, "tensors": {"y": [3, 2]}, "calls": [{"id": "v", "op": "view", "input": "y", "shape": [4, 3]}]})")));
  // Relative logits made by q @ Er^T, short by two columns, or with fewer positions than queries: no pad.
  auto product = [](const std::string& er, const std::string& shape) {
    return test::check_text(R"({"version": 1, "tensors": {"q": [2, 4, 10, 8], "er": )" + er + R"(}, "calls": [
        {"id": "qe", "op": "matmul", "input": "q", "other": "er", "outputs": ["qer"]},
        {"id": "v", "op": "view", "input": "qer", "shape": )" + shape + R"(}]})");
  };
  CHECK_FALSE(no_pad(product("[8, 19]", "[2, 4, 20, 10]")));
  CHECK(no_pad(product("[8, 18]", "[2, 4, 20, 10]")));
  CHECK(no_pad(product("[8, 6]", "[2, 4, 7, 10]")));
  // Fewer elements wanted, or more than a row again: no pad.
  Report fewer = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 10, 6]},
      "calls": [{"id": "r", "op": "reshape", "input": "x", "shape": ["B", 10, 5]}]})");
  REQUIRE(test::find(fewer, "MHA302") != nullptr);
  for (const Fix& f : test::find(fewer, "MHA302")->fixes) CHECK(f.description.find("F.pad") == std::string::npos);
}

TEST_CASE("a reshape that merges constant dims into the leading batch needs them right after it in memory", "[glue]") {
  // EEG windows (B, 1000, 19): 1000 samples of 19 electrodes, cut into 50 patches of 20 samples
  // per electrode. reshape(-1, 50, 20) gives (19*B, 50, 20) whose rows mix the electrodes.
  Report report = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 1000, 19]},
    "calls": [{"id": "r", "op": "reshape", "input": "x", "shape": [-1, 50, 20], "outputs": ["patches"]}]})");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  REQUIRE(!moved->fixes.empty());
  CHECK(moved->fixes[0].description == "move the dims first: x.transpose(1, 2).reshape(-1, 50, 20)");
  CHECK(moved->fixes[0].verified);
  // The electrodes already before the time: a plain split and merge.
  Report channels_first = test::check_text(R"({"version": 1, "tensors": {"x": ["B", 19, 1000]},
    "calls": [{"id": "r", "op": "reshape", "input": "x", "shape": [-1, 50, 20], "outputs": ["patches"]}]})");
  CHECK(test::find(channels_first, "MHA312") == nullptr);
  CHECK(test::single_output(channels_first) == "(19*B, 50, 20)");
}

TEST_CASE("a view that cuts a merged dim in the other order than it was merged warns MHA312, and a transpose that only moves it back is dropped", "[glue][roles]") {
  // Clips folded into the batch as (n c): "N*4" rows, each clip's 4 crops next to each other; the
  // merged name is carried through the class-token getitem. view(4, N, 32) reads the crops outer:
  // each "clip" gets crops of several clips.
  const std::string prefix = R"json({"version": 1, "modules": {"att": "nn.MultiheadAttention(32, 4, batch_first=True)"},
    "tensors": {"clips": ["N*4", 10, 32]}, "calls": [{"id": "g", "op": "getitem", "input": "clips", "index": "[:, 0]", "outputs": ["f"]},
    {"id": "v", "op": "view", "input": "f", "shape": )json";
  const std::string suffix = R"json(, "outputs": ["fv"]},
    {"id": "t", "op": "transpose", "input": "fv", "dim0": 0, "dim1": 1, "outputs": ["ft"]},
    {"id": "a", "module": "att", "query": "ft", "key": "ft", "value": "ft", "need_weights": false}]})json";
  Report crossed = test::check_text(prefix + R"json([4, "N", 32])json" + suffix);
  const Diagnostic* moved = test::find(crossed, "MHA312");
  REQUIRE(moved != nullptr);
  CHECK(moved->call == "v");
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes[0].description == "view in the input's order, which call \"t\" (transpose) only moved back to: f.view(N, 4, 32) (call \"t\" dropped)");
  CHECK(moved->fixes[0].valid());
  CHECK(moved->fixes[0].semantics == FixSemantics::Consistent);
  // Symbols on both sides, and a traced spec whose product is not the tracer's own form ("4*N").
  Report symbols = test::check_text(R"json({"version": 1, "tensors": {"c": ["N*K", 5, 32]}, "calls": [{"id": "g", "op": "getitem", "input": "c", "index": "[:, 0]", "outputs": ["f"]},
    {"id": "v", "op": "view", "input": "f", "shape": ["K", "N", 32], "outputs": ["fv"]},
    {"id": "t", "op": "permute", "input": "fv", "dims": [1, 0, 2], "outputs": ["ft"]}]})json");
  REQUIRE(test::find(symbols, "MHA312") != nullptr);
  CHECK(test::find(symbols, "MHA312")->fixes[0].description ==
        "view in the input's order, which call \"t\" (permute) only moved back to: f.view(N, K, 32) (call \"t\" dropped)");
  Report traced = test::check_text(R"json({"version": 1, "tensors": {"c": ["N*4", 5, 32]}, "calls": [{"id": "g", "op": "getitem", "input": "c", "index": "[:, 0]", "outputs": ["f"], "source": "m.py:2"},
    {"id": "v", "op": "view", "input": "f", "shape": [4, "N", 32], "outputs": ["fv"], "source": "m.py:3"}]})json");
  CHECK(test::find(traced, "MHA312") != nullptr);
  // Not reported: the cut in the merge's order (also when N == 4), a count written first ("4*N",
  // the tracer's form and the usual way to write a size: no order).
  CHECK(test::find(test::check_text(prefix + R"json(["N", 4, 32])json" + suffix), "MHA312") == nullptr);
  CHECK(test::find(test::check_text(R"json({"version": 1, "dims": {"N": 4}, "tensors": {"c": ["N*4", 5, 32]}, "calls": [{"id": "g", "op": "getitem", "input": "c", "index": "[:, 0]", "outputs": ["f"]},
    {"id": "v", "op": "view", "input": "f", "shape": ["N", 4, 32]}]})json"), "MHA312") == nullptr);
  CHECK(test::find(test::check_text(R"json({"version": 1, "tensors": {"c": ["4*N", 5, 32]}, "calls": [{"id": "g", "op": "getitem", "input": "c", "index": "[:, 0]", "outputs": ["f"]},
    {"id": "v", "op": "view", "input": "f", "shape": ["N", 4, 32], "source": "m.py:3"}]})json"), "MHA312") == nullptr);
  CHECK(test::find(test::check_text(R"json({"version": 1, "tensors": {"c": ["4*N", 5, 32]}, "calls": [{"id": "g", "op": "getitem", "input": "c", "index": "[:, 0]", "outputs": ["f"]},
    {"id": "v", "op": "view", "input": "f", "shape": [4, "N", 32]}]})json"), "MHA312") == nullptr);
}

TEST_CASE("a repeat that tiles a dim whole, cut per entry by a view, warns MHA312 with unsqueeze and expand", "[glue][roles]") {
  // A style vector per utterance (N, 32) tiled over L frames: repeat(L, 1) holds rows (l n), which
  // view(N, L, 32) reads as (n l): frames get other utterances' vectors.
  const std::string prefix = R"json({"version": 1, "tensors": {"s": ["N", 32], "x": ["N", "L", 32]}, "calls": [)json";
  Report tiled = test::check_text(prefix + R"json({"id": "r", "op": "repeat", "input": "s", "repeats": ["L", 1], "outputs": ["s2"]},
    {"id": "v", "op": "view", "input": "s2", "shape": ["N", "L", 32], "outputs": ["s3"]},
    {"id": "a", "op": "add", "input": "x", "other": "s3"}]})json");
  const Diagnostic* moved = test::find(tiled, "MHA312");
  REQUIRE(moved != nullptr);
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes[0].description ==
        "give each entry its own copies, next to each other: s.unsqueeze(1).expand(-1, L, -1) in place of call \"r\"'s repeat, which tiles the "
        "whole of dim 0, and this view");
  CHECK(moved->fixes[0].valid());
  CHECK(moved->fixes[0].semantics == FixSemantics::Consistent);
  // Not reported: the tiles cut outer first (view(L, N, 32)), the features tiled (repeat(1, L)).
  CHECK(test::find(test::check_text(prefix + R"json({"id": "r", "op": "repeat", "input": "s", "repeats": ["L", 1], "outputs": ["s2"]},
    {"id": "v", "op": "view", "input": "s2", "shape": ["L", "N", 32]}]})json"), "MHA312") == nullptr);
  CHECK(test::find(test::check_text(prefix + R"json({"id": "r", "op": "repeat", "input": "s", "repeats": [1, "L"], "outputs": ["s2"]},
    {"id": "v", "op": "view", "input": "s2", "shape": ["N", "L", 32]}]})json"), "MHA312") == nullptr);
}

TEST_CASE("a reshape of a slice that keeps more entries than the shape holds offers a later slice start", "[glue]") {
  // Tokens laid out 1 class token + 3 extra tokens + 25 patches: [.., 1:] keeps 28 for a 5 x 5 map.
  Report sliced = test::check_text(R"json({"version": 1, "tensors": {"w": [2, 3, 29, 29]}, "calls": [
    {"id": "g", "op": "getitem", "input": "w", "index": "[0, :, 0, 1:]", "outputs": ["c"]},
    {"id": "r", "op": "reshape", "input": "c", "shape": [3, 5, 5]}]})json");
  const Diagnostic* invalid = test::find(sliced, "MHA302");
  REQUIRE(invalid != nullptr);
  CHECK(test::has_valid_fix(*invalid, "start the slice of call \"g\" 3 later, past the 4 entries before the ones the shape lays out: w[0, :, 0, 4:]"));
  CHECK(invalid->fixes[0].description.find("w[0, :, 0, 4:]") != std::string::npos);
  // A surplus no later start removes (the shape holds more than the slice): no such fix.
  Report short_slice = test::check_text(R"json({"version": 1, "tensors": {"w": [2, 3, 29, 29]}, "calls": [
    {"id": "g", "op": "getitem", "input": "w", "index": "[0, :, 0, 1:]", "outputs": ["c"]},
    {"id": "r", "op": "reshape", "input": "c", "shape": [3, 6, 6]}]})json");
  REQUIRE(test::find(short_slice, "MHA302") != nullptr);
  for (const Fix& fix : test::find(short_slice, "MHA302")->fixes) CHECK(fix.description.find("start the slice") == std::string::npos);
}

TEST_CASE("a -1 equal to a bound symbol is not that symbol's dim when another written dim has its size", "[glue]") {
  // Whisper's q.view(*q.shape[:2], n_head, -1) traced at B = 2, T = 6 with 24 features in 4 heads:
  // view(2, 6, 4, -1) keeps T first and infers the head size 6, which only equals T.
  auto view_of = [](const std::string& shape) {
    return R"json({"version": 1, "dims": {"B": 2, "T": 6}, "tensors": {"x": ["B", "T", 24]},
      "calls": [{"id": "v", "op": "view", "input": "x", "shape": )json" + shape + R"json(, "outputs": ["y"]}]})json";
  };
  Report kept = test::check_text(view_of("[2, 6, 4, -1]"));
  CHECK(test::find(kept, "MHA312") == nullptr);
  CHECK(test::single_output(kept) == "(2, 6, 4, 6)");
  // The heads taken before the tokens are still a moved dim.
  Report moved = test::check_text(view_of("[2, 4, 6, -1]"));
  CHECK(test::find(moved, "MHA312") != nullptr);
}

TEST_CASE("a count moved across symbolic dims by a view warns MHA312 with the move first", "[glue]") {
  // A per-head pair bias computed heads last, (B, N, N, 12), viewed as (B, 12, N, N) for self-attention scores over N nodes: the
  // view reads the 12 at stride N*N where memory holds it at stride 1 (N twice: the names cannot say which dim is which). Also a
  // 3-D (L, S, 6) viewed (6, L, S), where the names do.
  auto bias_spec = [](const std::string& bias, const std::string& call) {
    return R"json({"version": 1, "tensors": {"scores": ["B", 12, "N", "N"], "rel": )json" + bias + R"json(},
      "calls": [)json" + call + R"json(, {"id": "a", "op": "add", "input": "scores", "other": "bias", "outputs": ["biased"]},
                {"id": "sm", "op": "softmax", "input": "biased", "dim": -1, "outputs": ["w"]}]})json";
  };
  Report viewed = test::check_text(bias_spec(R"(["B", "N", "N", 12])", R"({"id": "p", "op": "view", "input": "rel", "shape": ["B", 12, "N", "N"], "outputs": ["bias"]})"));
  const Diagnostic* moved = test::find(viewed, "MHA312");
  REQUIRE(moved != nullptr);
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes[0].description == "move the dims first: rel.permute(0, 3, 1, 2).view(B, 12, N, N)");
  CHECK(moved->fixes[0].verified);
  Report three = test::check_text(op_call("reshape", R"("input": ["L", "S", 6], "shape": [6, "L", "S"])"));
  REQUIRE(test::find(three, "MHA312") != nullptr);
  // Silent: the permute itself, a view keeping the order, numbers only (a weight reinterpreted), a size of 1 moved.
  CHECK(test::find(test::check_text(bias_spec(R"(["B", "N", "N", 12])", R"({"id": "p", "op": "permute", "input": "rel", "dims": [0, 3, 1, 2], "outputs": ["bias"]})")),
                   "MHA312") == nullptr);
  CHECK(test::find(test::check_text(bias_spec(R"(["B", 12, "N", "N"])", R"({"id": "p", "op": "view", "input": "rel", "shape": ["B", 12, "N", "N"], "outputs": ["bias"]})")),
                   "MHA312") == nullptr);
  for (const char* quiet : {R"("input": [4, 6], "shape": [6, 4])", R"("input": ["B", "T", 1], "shape": ["B", 1, "T"])"}) {
    INFO(quiet);
    CHECK(test::find(test::check_text(op_call("view", quiet)), "MHA312") == nullptr);
  }
}

TEST_CASE("rows merged as (position, head) by reshape(B, -1, D) are split in that order: MHA312 for (B, H, L, S)", "[glue]") {
  // Multi-query attention with one shared key: the query (B, L, H*D) reshaped (B, L*H, D) for one bmm, its rows in (L, H) order.
  // Splitting the scores' rows as (H, L) reads row l*H + h as head l; the split in the merge's order, then the transpose, is the fix.
  auto mqa = [](const std::string& split) {
    return test::check_text(R"json({"version": 1, "tensors": {"query": ["B", "L", 256], "key": ["B", 32, "M"]},
      "calls": [{"id": "r", "op": "reshape", "input": "query", "shape": ["B", -1, 32], "outputs": ["q"]},
                {"id": "bm", "op": "bmm", "input": "q", "mat2": "key", "outputs": ["sc"]},
                {"id": "v", "op": "view", "input": "sc", "shape": )json" + split + R"json(, "outputs": ["w"]},
                {"id": "sm", "op": "softmax", "input": "w", "dim": -1, "outputs": ["p"]}]})json");
  };
  Report heads_first = mqa(R"(["B", 8, "L", "M"])");
  const Diagnostic* mixed = test::find(heads_first, "MHA312");
  REQUIRE(mixed != nullptr);
  REQUIRE_FALSE(mixed->fixes.empty());
  CHECK(mixed->fixes[0].description == "view in the input's order, then move the dims: sc.view(B, L, 8, M).transpose(1, 2)");
  CHECK(mixed->fixes[0].verified);
  Report in_order = mqa(R"(["B", "L", 8, "M"])");
  CHECK(test::find(in_order, "MHA312") == nullptr);
  CHECK(in_order.count(Severity::Warning) == 0);
}

TEST_CASE("channels-first patches regrouped as tokens by reshape(-1, N, C) without moving the channels: MHA312, transpose first", "[glue]") {
  // An unfolded feature map (B, C, N, P) = (B, 64, 49, 4) read as (B*P, N, C) tokens: the -1 is B*P, which memory holds only once
  // P is next to B and C last (transpose(1, 3)); reshaped as it is, each token holds one channel's pixels.
  auto tokens = [](const std::string& before) {
    return test::check_text(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(64, 4, batch_first=True)"},
      "tensors": {"patches": ["B", 64, 49, 4]},
      "calls": [)json" + before + R"json({"id": "r", "op": "reshape", "input": "x", "shape": [-1, 49, 64], "outputs": ["tok"]},
                {"id": "a", "module": "attn", "query": "tok", "key": "tok", "value": "tok", "outputs": ["y"]}]})json");
  };
  Report unmoved = tokens(R"({"id": "c", "op": "contiguous", "input": "patches", "outputs": ["x"]}, )");
  const Diagnostic* regrouped = test::find(unmoved, "MHA312");
  REQUIRE(regrouped != nullptr);
  REQUIRE_FALSE(regrouped->fixes.empty());
  CHECK(regrouped->fixes[0].description == "move the dims first: x.transpose(1, 3).reshape(-1, 49, 64)");
  CHECK(regrouped->fixes[0].verified);
  Report moved = tokens(R"({"id": "t", "op": "transpose", "input": "patches", "dim0": 1, "dim1": 3, "outputs": ["x"]}, )");
  CHECK(test::find(moved, "MHA312") == nullptr);
  CHECK(moved.count(Severity::Warning) == 0);
}

TEST_CASE("a heads merge after an attention never split into heads gets the split before it first", "[glue][fixes]") {
  // SDPA on (N, L, 512) is one head 512 wide; y.transpose(1, 2).contiguous().view(N, L, 512),
  // written for (N, H, L, D), then reorders the elements. The split belongs before the attention.
  Report report = test::check_text(R"json({"version": 1, "tensors": {"q": ["N", "L", 512], "k": ["N", "L", 512], "v": ["N", "L", 512]},
    "calls": [
      {"id": "att", "op": "F.scaled_dot_product_attention", "query": "q", "key": "k", "value": "v", "outputs": ["y"]},
      {"id": "t", "op": "transpose", "input": "y", "dim0": 1, "dim1": 2, "outputs": ["yt"]},
      {"id": "c", "op": "contiguous", "input": "yt", "outputs": ["yc"]},
      {"id": "merge", "op": "view", "input": "yc", "shape": ["N", "L", 512], "outputs": ["out"]}]})json");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  REQUIRE(moved->fixes.size() >= 2);
  CHECK(moved->fixes[0].valid());
  CHECK(moved->fixes[0].description.find("q = q.view(N, L, 8, 64).transpose(1, 2); k = k.view(N, L, 8, 64).transpose(1, 2)") !=
        std::string::npos);
  // Undoing the merge's transpose leaves the attention one head wide.
  for (std::size_t f = 1; f < moved->fixes.size(); ++f) {
    if (moved->fixes[f].description.rfind("move the dims first", 0) == 0) CHECK(moved->fixes[f].semantics == FixSemantics::Suspect);
  }
}

TEST_CASE("the heads split before a one-tensor self-attention is inserted once", "[glue][fixes]") {
  Report report = test::check_text(R"json({"version": 1, "tensors": {"x": ["B", "T", 768]},
    "calls": [
      {"id": "att", "op": "F.scaled_dot_product_attention", "query": "x", "key": "x", "value": "x", "is_causal": true, "outputs": ["y"]},
      {"id": "t", "op": "transpose", "input": "y", "dim0": 2, "dim1": 1, "outputs": ["yt"]},
      {"id": "merge", "op": "reshape", "input": "yt", "shape": ["B", "T", 768], "outputs": ["out"]}]})json");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  REQUIRE_FALSE(moved->fixes.empty());
  CHECK(moved->fixes[0].valid());
  CHECK(moved->fixes[0].description.find("x = x.view(B, T, 12, 64).transpose(1, 2) (12 heads of 64") != std::string::npos);
}

TEST_CASE("a skew whose view keeps the padded shape, the pad column dropped again, warns and exchanges the sizes", "[glue]") {
  // (H, L, L) relative scores padded with a zero column on the left, viewed (H, L, L+1) and cut [:, :, 1:]: the same scores back.
  auto spec = [](const char* shape, const char* index) {
    return fmt::format(R"j({{"version": 1, "tensors": {{"rel": [4, 10, 10]}},
      "calls": [{{"id": "p", "op": "pad", "input": "rel", "pad": [1, 0], "outputs": ["padded"]}},
        {{"id": "v", "op": "view", "input": "padded", "shape": {}, "outputs": ["skewed"]}},
        {{"id": "s", "op": "getitem", "input": "skewed", "index": "{}", "outputs": ["srel"]}}]}})j", shape, index);
  };
  Report unskewed = test::check_text(spec("[4, 10, 11]", "[:, :, 1:]"));
  const Diagnostic* undone = test::find(unskewed, "MHA338");
  REQUIRE(undone != nullptr);
  CHECK(undone->call == "v");
  REQUIRE_FALSE(undone->fixes.empty());
  CHECK(undone->fixes[0].description ==
        "view the last two sizes exchanged and drop the first row, as the skew does: view(4, 11, 10), then skewed[:, 1:, :] in call \"s\"");
  CHECK(undone->fixes[0].valid());
  // The skew itself, and the padded view read whole, say nothing.
  for (const auto& [shape, index] : {std::pair{"[4, 11, 10]", "[:, 1:, :]"}, std::pair{"[4, 10, 11]", "[:, :, :]"}}) {
    INFO(shape);
    CHECK(test::check_text(spec(shape, index)).diagnostics.empty());
  }
}

TEST_CASE("a pad undone through a same-shape view is a skew undone only on scores, the slice its only reader", "[glue]") {
  // q @ e^T scaled, padded with a zero column, viewed as it is and cut [..., 1:]: the skew undone.
  auto spec = [](const char* padded, const char* more) {
    return fmt::format(R"j({{"version": 1, "modules": {{"proj": "nn.Linear(16, 12)"}}, "tensors": {{"q": [3, 12, 16], "e": [3, 12, 16]}},
      "calls": [{{"id": "t", "op": "transpose", "input": "e", "dim0": 1, "dim1": 2, "outputs": ["et"]}},
        {{"id": "m", "op": "matmul", "input": "q", "other": "et", "outputs": ["qe"]}},
        {{"id": "sc", "op": "mul", "input": "qe", "other": 0.25, "outputs": ["rel"]}},
        {{"id": "l", "module": "proj", "input": "q", "outputs": ["feat"]}},
        {{"id": "p", "op": "pad", "input": "{}", "pad": [1, 0], "outputs": ["padded"]}},
        {{"id": "v", "op": "view", "input": "padded", "shape": [3, 12, 13], "outputs": ["flat"]}},
        {{"id": "s", "op": "getitem", "input": "flat", "index": "[..., 1:]", "outputs": ["cut"]}}{}]}})j", padded, more);
  };
  Report undone = test::check_text(spec("rel", ""));
  const Fix* skew = test::first_fix(undone, "MHA338");
  REQUIRE(skew != nullptr);
  CHECK(skew->description ==
        "view the last two sizes exchanged and drop the first row, as the skew does: view(3, 13, 12), then flat[:, 1:, :] in call \"s\"");
  // A projection padded is no skew's input; nor is a view a softmax also reads whole (a zero sink logit kept on purpose).
  CHECK(test::find(test::check_text(spec("feat", "")), "MHA338") == nullptr);
  CHECK(test::find(test::check_text(spec("rel", R"(, {"id": "sm", "op": "softmax", "input": "flat", "dim": -1, "outputs": ["w"]})")), "MHA338") == nullptr);
}

TEST_CASE("frame-major tokens regrouped by reshape(-1, F, E): MHA312, patches moved first", "[glue]") {
  // A divided space-time block: x (B, F, P, E) flattened frame-major into (B, F*P, E), then reshape(-1, F, E) for the temporal
  // attention. Memory holds each frame's P patches together, so each "time" sequence is F neighbouring patches of one frame.
  // The merged dim remembers its factors (frames outer) whether they are named, bound or numbers.
  auto video = [](const std::string& x, const std::string& dims, const std::string& regroup) {
    return test::check_text(R"json({"version": 1, )json" + dims + R"json("modules": {"tattn": "nn.MultiheadAttention(768, 12, batch_first=True)"},
        "tensors": {"x": )json" + x + R"json(}, "calls": [{"id": "f", "op": "flatten", "input": "x", "start_dim": 1, "end_dim": 2, "outputs": ["xf"]}, )json" +
                            regroup + R"json(, {"id": "a", "module": "tattn", "query": "xs", "key": "xs", "value": "xs", "outputs": ["y"]}]})json");
  };
  const std::string temporal_numbers = R"({"id": "r", "op": "reshape", "input": "xf", "shape": [-1, 8, 768], "outputs": ["xs"]})";
  Report numbers = video(R"(["B", 8, 196, 768])", "", temporal_numbers);
  const Diagnostic* mixed = test::find(numbers, "MHA312");
  REQUIRE(mixed != nullptr);
  REQUIRE_FALSE(mixed->fixes.empty());
  CHECK(mixed->fixes[0].description ==
        "reshape to the factors in the input's order, move them, then reshape: xf.reshape(B, 8, 196, 768).transpose(1, 2).reshape(-1, 8, 768)");
  CHECK(mixed->fixes[0].verified);
  const std::string temporal_names = R"({"id": "r", "op": "reshape", "input": "xf", "shape": [-1, "F", 768], "outputs": ["xs"]})";
  for (const char* dims : {"", R"("dims": {"F": 8, "P": 196}, )"}) {
    INFO(dims);
    Report named = video(R"(["B", "F", "P", 768])", dims, temporal_names);
    REQUIRE(test::find(named, "MHA312") != nullptr);
    REQUIRE_FALSE(test::find(named, "MHA312")->fixes.empty());
    CHECK(test::find(named, "MHA312")->fixes[0].description ==
          "reshape to the factors in the input's order, move them, then reshape: xf.reshape(B, F, P, 768).transpose(1, 2).reshape(-1, F, 768)");
  }
  // Written out, view(B*196, 8, 768) is the same regrouping.
  Report written = video(R"(["B", 8, 196, 768])", "", R"({"id": "r", "op": "view", "input": "xf", "shape": ["B*196", 8, 768], "outputs": ["xs"]})");
  REQUIRE(test::find(written, "MHA312") != nullptr);
  CHECK(test::find(written, "MHA312")->fixes[0].description ==
        "view to the factors in the input's order, move them, then reshape: xf.view(B, 8, 196, 768).transpose(1, 2).reshape(B*196, 8, 768)");
  // Silent: the spatial regrouping reshape(-1, P, E), the patches moved before the frames first, patch-major tokens,
  // frames == patches (the order cannot tell which is which), and tokens declared (B, 1568, E) with nothing saying their order.
  for (const Report& quiet :
       {video(R"(["B", 8, 196, 768])", "", R"({"id": "r", "op": "reshape", "input": "xf", "shape": [-1, 196, 768], "outputs": ["xs"]})"),
        video(R"(["B", 8, 196, 768])", "",
              R"({"id": "v", "op": "view", "input": "xf", "shape": ["B", 8, 196, 768], "outputs": ["x4"]},
                 {"id": "t", "op": "transpose", "input": "x4", "dim0": 1, "dim1": 2, "outputs": ["xt"]},
                 {"id": "r", "op": "reshape", "input": "xt", "shape": [-1, 8, 768], "outputs": ["xs"]})"),
        video(R"(["B", 196, 8, 768])", "", temporal_numbers),
        video(R"(["B", 14, 14, 768])", "", R"({"id": "r", "op": "reshape", "input": "xf", "shape": [-1, 14, 768], "outputs": ["xs"]})"),
        video(R"(["B", "F", "P", 768])", "", R"({"id": "r", "op": "reshape", "input": "xf", "shape": [-1, "P", 768], "outputs": ["xs"]})"),
        test::check_text(R"json({"version": 1, "modules": {"tattn": "nn.MultiheadAttention(768, 12, batch_first=True)"},
            "tensors": {"x": ["B", 1568, 768]}, "calls": [{"id": "r", "op": "reshape", "input": "x", "shape": [-1, 8, 768], "outputs": ["xs"]},
            {"id": "a", "module": "tattn", "query": "xs", "key": "xs", "value": "xs", "outputs": ["y"]}]})json")}) {
    CHECK(test::find(quiet, "MHA312") == nullptr);
    CHECK(quiet.count(Severity::Warning) == 0);
  }
}

TEST_CASE("a -1 read as the merge of the factors left, after a permute: the move folds into that permute first", "[glue]") {
  // Axial attention over the width: (B, C, H, W) permuted to (B, H, W, C), then reshape(-1, W, C) would be right; reshape(-1, H, C)
  // takes runs of one row as the "columns". The -1 is B*W, so the fix moves W before H, in the permute that is already there.
  Report report = test::check_text(R"json({"version": 1, "modules": {"attn": "nn.MultiheadAttention(32, 4, batch_first=True)"},
      "tensors": {"x": ["B", 32, "H", "W"]},
      "calls": [{"id": "p", "op": "permute", "input": "x", "dims": [0, 2, 3, 1], "outputs": ["xp"]},
                {"id": "r", "op": "reshape", "input": "xp", "shape": [-1, "H", 32], "outputs": ["cols"]},
                {"id": "a", "module": "attn", "query": "cols", "key": "cols", "value": "cols", "outputs": ["y"]}]})json");
  const Diagnostic* moved = test::find(report, "MHA312");
  REQUIRE(moved != nullptr);
  REQUIRE(moved->fixes.size() >= 2);
  CHECK(moved->fixes[0].description == "move the dims where call \"p\" permutes them: x.permute(0, 3, 2, 1).reshape(-1, H, 32)");
  CHECK(moved->fixes[0].verified);
  CHECK(moved->fixes[1].description == "move the dims first: xp.transpose(1, 2).reshape(-1, H, 32)");
}
