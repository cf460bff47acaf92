// nn.Conv1d and nn.Conv2d beyond the PyTorch fixtures: symbolic sizes, the patch-embedding
// warning, the fixes offered, constructor strings, the checks the fixtures leave out.
#include <algorithm>

#include "ops/op_test_support.hpp"

using namespace mhacheck;

namespace {

std::string conv(const std::string& module, const std::string& input) {
  return R"({"module": )" + module + R"(, "input": )" + input + "}";
}


}  // namespace

TEST_CASE("a ViT patch embedding keeps the batch symbol and divides a symbolic image by the patch", "[conv]") {
  Report report = test::check_text(conv(R"({"type": "Conv2d", "in_channels": 3, "out_channels": 768, "kernel_size": 16, "stride": 16})",
                                        R"(["B", 3, "16*P", 224])"));
  CHECK(report.ok());
  CHECK(test::single_output(report) == "(B, 768, P, 14)");
}

TEST_CASE("a stride-1 convolution of a symbolic length adds the padding and removes the kernel", "[conv]") {
  Report same = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 80, "out_channels": 16, "kernel_size": 4, "padding": "same"})",
                                      R"(["B", 80, "T"])"));
  CHECK(same.ok());
  CHECK(test::single_output(same) == "(B, 16, T)");
  Report valid = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 80, "out_channels": 16, "kernel_size": 3, "dilation": 2})",
                                       R"([80, "T"])"));
  CHECK(test::single_output(valid) == "(16, T-4)");
}

TEST_CASE("a strided convolution of a symbolic length the stride does not divide cannot be written", "[conv]") {
  Report report = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 4, "out_channels": 4, "kernel_size": 3, "stride": 2})",
                                        R"(["B", 4, "T"])"));
  CHECK(test::find(report, "MHA303") != nullptr);
  Report bound = test::check_text(R"({"dims": {"T": 11}, "module": {"type": "Conv1d", "in_channels": 4, "out_channels": 4, "kernel_size": 3,
    "stride": 2}, "input": ["B", 4, "T"]})");
  CHECK(bound.ok());
  CHECK(test::single_output(bound) == "(B, 4, 5)");
}

TEST_CASE("a patch embedding whose patch does not divide the image warns, an overlapping kernel or a Conv1d does not", "[conv]") {
  Report patch = test::check_text(conv(R"({"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 16, "stride": 16})",
                                       "[2, 3, 40, 32]"));
  CHECK(patch.ok());
  const Diagnostic* warning = test::find(patch, "MHA357");
  REQUIRE(warning != nullptr);
  CHECK(warning->message.find("last 8 element(s)") != std::string::npos);
  CHECK(test::single_output(patch) == "(2, 8, 2, 2)");
  Report overlapping = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 3, "out_channels": 8, "kernel_size": 3, "stride": 2})",
                                             "[2, 3, 10]"));
  CHECK(overlapping.ok());
  CHECK(overlapping.diagnostics.empty());
  // wav2vec2's last feature-extractor layers: kernel 2, stride 2 on an odd length drop one sample.
  Report audio = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 512, "out_channels": 512, "kernel_size": 2, "stride": 2,
                                           "bias": false})",
                                       "[1, 512, 49]"));
  CHECK(audio.ok());
  CHECK(audio.diagnostics.empty());
  CHECK(test::single_output(audio) == "(1, 512, 24)");
}

TEST_CASE("a channels-last image is refused with PyTorch's message and a permute offered", "[conv]") {
  Report report = test::check_text(conv(R"({"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3})", "[2, 10, 10, 3]"));
  CHECK(test::raised_message(report) ==
        "RuntimeError: Given groups=1, weight of size [8, 3, 3, 3], expected input[2, 10, 10, 3] to have 3 channels, but got 10 channels instead");
  const Diagnostic* channels = test::find(report, "MHA355");
  REQUIRE(channels != nullptr);
  CHECK(test::has_valid_fix(*channels, "pass input channels first (permute its last dim to dim 1)"));
  CHECK(test::has_valid_fix(*channels, "construct with in_channels=10"));
}

TEST_CASE("groups that do not divide the channels: the largest groups that does is offered", "[conv]") {
  Report report = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 6, "out_channels": 9, "kernel_size": 3, "groups": 6})", "[2, 6, 10]"));
  CHECK(test::raised_message(report) == "ValueError: out_channels must be divisible by groups");
  const Diagnostic* groups = test::find(report, "MHA350");
  REQUIRE(groups != nullptr);
  CHECK(test::has_valid_fix(*groups, "construct with groups=3"));
}

TEST_CASE("the groups offered divides the channels' gcd, found at once for a huge groups", "[conv]") {
  Report gcd_above = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 12, "out_channels": 18, "kernel_size": 3, "groups": 5})", "[2, 12, 10]"));
  const Diagnostic* below = test::find(gcd_above, "MHA350");
  REQUIRE(below != nullptr);
  CHECK(test::has_valid_fix(*below, "construct with groups=3"));
  // 2^40 groups: counting down from groups - 1 would take about 10^12 steps.
  Report huge = test::check_text(conv(R"({"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3, "groups": 1099511627776})",
                                      "[1, 3, 8, 8]"));
  const Diagnostic* groups = test::find(huge, "MHA350");
  REQUIRE(groups != nullptr);
  CHECK(test::has_valid_fix(*groups, "construct with groups=1"));
}

TEST_CASE("a dilated kernel too large for int64 is refused, not overflowed", "[conv]") {
  Report report = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 1, "out_channels": 1, "kernel_size": 1099511627776,
    "dilation": 1099511627776})", "[1, 1, 4]"));
  const Diagnostic* reach = test::find(report, "MHA353");
  REQUIRE(reach != nullptr);
  CHECK_THAT(reach->message, Catch::Contains("beyond 2^62"));
  CHECK(report.calls.at(0).outputs.empty());
  Report negative = test::check_text(conv(R"({"type": "Conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": [1099511627776, 1],
    "dilation": -1099511627776, "padding": "same"})", "[1, 1, 4, 4]"));
  CHECK(test::find(negative, "MHA353") != nullptr);
}

TEST_CASE("kernel_size 0 is refused with the CPU slow path's message", "[conv]") {
  Report report = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 3, "out_channels": 8, "kernel_size": 0})", "[1, 3, 4]"));
  CHECK(test::raised_message(report) == "RuntimeError: kernel size should be greater than zero, but got kernel_height: 1 kernel_width: 0");
  CHECK(test::find(report, "MHA353") != nullptr);
}

TEST_CASE("a constructor string reads padding as a number, a tuple or a string", "[conv]") {
  Report same = test::check_text(R"j({"module": "nn.Conv2d(3, 8, kernel_size=(3, 5), padding='same', padding_mode='reflect')", "input": [1, 3, 9, 9]})j");
  CHECK(same.ok());
  CHECK(test::single_output(same) == "(1, 8, 9, 9)");
  Report tuple = test::check_text(R"j({"module": "nn.Conv2d(3, 8, 3, 2, (1, 0))", "input": [1, 3, 9, 9]})j");
  CHECK(test::single_output(tuple) == "(1, 8, 5, 4)");
  Report wrong = test::check_text(R"({"module": {"type": "Conv2d", "in_channels": 3, "out_channels": 8, "kernel_size": 3, "padding": [1, "p"]},
    "input": [1, 3, 9, 9]})");
  CHECK(test::find(wrong, "MHA002") != nullptr);
}

TEST_CASE("padding a reflect or circular convolution past what F.pad reads is refused before the run", "[conv]") {
  Report reflect = test::check_text(conv(R"({"type": "Conv1d", "in_channels": 2, "out_channels": 2, "kernel_size": 3, "padding": 3,
    "padding_mode": "reflect"})", "[1, 2, 3]"));
  CHECK(test::raised_message(reflect) ==
        "RuntimeError: Argument #4: Padding size should be less than the corresponding input dimension, but got: padding (3, 3) at dimension 2 of "
        "input [1, 2, 3]");
  const Diagnostic* padding = test::find(reflect, "MHA351");
  REQUIRE(padding != nullptr);
  CHECK(test::has_valid_fix(*padding, "construct with padding_mode='zeros'"));
  Report circular = test::check_text(conv(R"({"type": "Conv2d", "in_channels": 3, "out_channels": 2, "kernel_size": 3, "padding": [1, 4],
    "padding_mode": "circular"})", "[1, 3, 3, 3]"));
  CHECK(test::raised_message(circular) == "RuntimeError: Padding value causes wrapping around more than once.");
}

namespace {

// A Conv1d front end (B, 80, T) -> (B, 128, T), T == 128, then LayerNorm(128) and batch-first
// attention; with `transposed`, the conv output transposed to (B, T, 128) first.
std::string conv_front_end(bool transposed) {
  std::string conv_output = transposed ? "h0" : "h";
  std::string transpose = transposed ? R"j({"id": "t", "op": "transpose", "input": "h0", "dim0": 1, "dim1": 2, "outputs": ["h"]},)j" : "";
  return R"j({"version": 1, "dims": {"B": 4, "T": 128}, "modules": {"conv": "nn.Conv1d(80, 128, 3, padding=1)", "norm": "nn.LayerNorm(128)",
    "attn": "nn.MultiheadAttention(128, 4, batch_first=True)"}, "tensors": {"mel": ["B", 80, "T"]},
    "calls": [{"id": "c", "module": "conv", "input": "mel", "outputs": [")j" + conv_output + R"j("]}, )j" + transpose +
         R"j({"id": "n", "module": "norm", "input": "h", "outputs": ["y"]}, {"id": "a", "module": "attn", "query": "y", "key": "y", "value": "y"}]})j";
}

}  // namespace

TEST_CASE("Conv1d's output keeps the batch and time names, not the channels', even when T == C", "[conv][roles]") {
  Report report = test::check_text(conv_front_end(false));
  CHECK(report.calls.at(0).outputs.at(0).dim_names == std::vector<std::string>{"B", "", "T"});
}

TEST_CASE("Conv1d (B, C, T) into LayerNorm(C) with T == C warns MHA261, and the first fix transposes right after the Conv1d", "[conv][roles]") {
  Report report = test::check_text(conv_front_end(false));
  CHECK(report.ok());
  REQUIRE_FALSE(report.diagnostics.empty());
  const Diagnostic& first = report.diagnostics.front();
  CHECK(first.info().code == std::string("MHA261"));
  CHECK(first.message == "input (4, 128, 128): the LayerNorm normalises over dim 2, which holds \"T\", a sequence length");
  REQUIRE_FALSE(first.fixes.empty());
  CHECK(first.fixes.front().description == "transpose h where it is made, after call \"c\", to (B, T, 128): h = h.transpose(1, 2)");
  CHECK(first.fixes.front().valid());
  // The attention's own warning (T in its feature slot) is fixed by the same transpose, through the
  // LayerNorm: one cause, so it is a note of MHA261.
  CHECK(test::find(report, "MHA241") == nullptr);
  CHECK(std::any_of(first.notes.begin(), first.notes.end(), [](const std::string& note) { return note.starts_with("same cause: MHA241 "); }));
}

TEST_CASE("Conv1d output transposed to (B, T, C) before LayerNorm(C) and attention is silent, T == C", "[conv][roles]") {
  Report report = test::check_text(conv_front_end(true));
  CHECK(report.ok());
  CHECK(report.diagnostics.empty());
}

TEST_CASE("LayerNorm([T, C]) over (B, T, C) warns MHA261 with LayerNorm(C) first, and LayerNorm(N) over timm's token count is silent", "[conv][roles]") {
  // normalized_shape covering the sequence normalises each sequence as one block.
  Report over_tokens = test::check_text(R"j({"version": 1, "dims": {"T": 100},
    "modules": {"ln2": "nn.LayerNorm([100, 64])"}, "tensors": {"x": ["B", "T", 64]},
    "calls": [{"id": "a", "module": "ln2", "input": "x", "outputs": ["y1"]}]})j");
  const Diagnostic* block = test::find(over_tokens, "MHA261");
  REQUIRE(block != nullptr);
  CHECK(block->message ==
        "input (B, 100, 64): the LayerNorm normalises over dims 1 to 2, among them dim 1 \"T\", a sequence length: each sequence is "
        "normalised as one block, over all its positions");
  REQUIRE_FALSE(block->fixes.empty());
  CHECK(block->fixes.front().description == "normalise the features only: nn.LayerNorm(64), normalized_shape=64");
  CHECK(block->fixes.front().valid());
  CHECK(block->fixes.front().semantics == FixSemantics::Consistent);
  // Over the features only, over unnamed dims ((C, H, W) of an image), and LayerNorm(N) of (B, C, N): silent.
  Report report = test::check_text(R"j({"version": 1, "dims": {"B": 2, "T": 100, "N": 50, "C": 64},
    "modules": {"ln1": "nn.LayerNorm(64)", "img": "nn.LayerNorm([3, 8, 8])", "ln50": {"type": "LayerNorm", "normalized_shape": 50}},
    "tensors": {"x": ["B", "T", "C"], "im": ["B", 3, 8, 8], "xn": ["B", "N", "C"]},
    "calls": [{"id": "a", "module": "ln1", "input": "x", "outputs": ["y1"]},
              {"id": "i", "module": "img", "input": "im", "outputs": ["y2"]},
              {"id": "tn", "op": "transpose", "input": "xn", "dim0": 1, "dim1": 2, "outputs": ["xnt"]},
              {"id": "f", "module": "ln50", "input": "xnt", "outputs": ["y5"]}]})j");
  CHECK(report.ok());
  CHECK(test::find(report, "MHA261") == nullptr);
}

TEST_CASE("padding='same' with a stride keeps the stride and pads kernel_size // 2 first, stride=1 second", "[conv][fixes]") {
  // Whisper's second front-end conv: kernel 3, stride 2 downsamples 3000 frames to 1500.
  Report report = test::check_text(R"j({"module": "nn.Conv1d(80, 384, kernel_size=3, stride=2, padding='same')", "input": ["B", 80, 3000]})j");
  const Diagnostic* padding = test::find(report, "MHA351");
  REQUIRE(padding != nullptr);
  REQUIRE(padding->fixes.size() >= 2);
  CHECK_THAT(padding->fixes[0].description, Catch::StartsWith("construct with padding=1 "));
  CHECK(padding->fixes[0].valid());
  CHECK(padding->fixes[1].description == "construct with stride=1");
  // Per dim when the kernel differs by dim; an even kernel's 'same' padding is lopsided, no number says it.
  Report wide = test::check_text(R"j({"module": "nn.Conv2d(3, 8, kernel_size=(3, 5), stride=2, padding='same')", "input": [1, 3, 9, 9]})j");
  const Diagnostic* per_dim = test::find(wide, "MHA351");
  REQUIRE(per_dim != nullptr);
  CHECK_THAT(per_dim->fixes.front().description, Catch::StartsWith("construct with padding=(1, 2) "));
  Report even = test::check_text(R"j({"module": "nn.Conv1d(8, 8, kernel_size=4, stride=2, padding='same')", "input": [1, 8, 16]})j");
  const Diagnostic* lopsided = test::find(even, "MHA351");
  REQUIRE(lopsided != nullptr);
  CHECK(lopsided->fixes.front().description == "construct with stride=1");
  // A dilated kernel reaches dilation * (kernel_size - 1): 'same' pads half that, and the text says so.
  Report dilated = test::check_text(R"j({"module": "nn.Conv1d(8, 8, kernel_size=3, stride=2, dilation=2, padding='same')", "input": [1, 8, 16]})j");
  const Diagnostic* reach = test::find(dilated, "MHA351");
  REQUIRE(reach != nullptr);
  REQUIRE_FALSE(reach->fixes.empty());
  CHECK(reach->fixes.front().description ==
        "construct with padding=2 (dilation * (kernel_size - 1) // 2 per side, as 'same' pads), keeping stride=2 to downsample");
}
