// Code pasted as users paste it from real model files (tests/pasted/snippets/*.py, each citing
// its source on its first line): PyTorch's own transformer.py and activation.py, torchvision,
// torchaudio, nanoGPT, Hugging Face, timm and x-transformers. Each is read as --module reads it,
// with the names a user would bind on the command line; the module it builds, the notes that say
// what was assumed, or the refusal with its place.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "mhacheck/inline_call.hpp"
#include "mhacheck/python_text.hpp"
#include "test_support.hpp"

using namespace mhacheck;
using nlohmann::json;

namespace {

struct Pasted {
  json module;              // what the text constructs
  Report report;            // the check of one call of it
  std::string refusal;      // "LINE:COLUMN: message | help" when the text is refused
  std::vector<std::string> notes;  // MHA004's assumptions
};

Pasted paste(const std::string& snippet, const std::vector<std::string>& dims, const std::vector<std::string>& args) {
  InlineCall call;
  call.module = test::read_file(std::string(MHACHECK_SOURCE_DIR) + "/tests/pasted/snippets/" + snippet + ".py");
  call.dims = dims;
  call.args = args;
  Pasted pasted;
  try {
    JsonDocument document = inline_document(call);
    pasted.module = document.value["module"];
    pasted.report = check_document(std::move(document));
  } catch (const InputError& error) {
    pasted.refusal = std::to_string(error.location().line) + ":" + std::to_string(error.location().column) + ": " + error.what() + " | " +
                     error.help();
    return pasted;
  }
  for (const Diagnostic& diagnostic : pasted.report.diagnostics) {
    if (diagnostic.id == DiagId::Assumption) pasted.notes.push_back(diagnostic.message);
    // Refused while the spec is read (a size that must be bound): reported, not thrown.
    if (diagnostic.id == DiagId::InputSyntax || diagnostic.id == DiagId::InputSchema) {
      pasted.refusal = std::to_string(diagnostic.location.line) + ":" + std::to_string(diagnostic.location.column) + ": " + diagnostic.message +
                       " | " + (diagnostic.notes.empty() ? std::string() : diagnostic.notes[0]);
    }
  }
  return pasted;
}

// A snippet that is read and checks clean: the module it builds.
json clean(const std::string& snippet, const std::vector<std::string>& dims, const std::vector<std::string>& args) {
  Pasted pasted = paste(snippet, dims, args);
  INFO(snippet << ": " << pasted.refusal);
  REQUIRE(pasted.refusal.empty());
  CHECK(pasted.report.ok());
  return pasted.module;
}

const json kFactoryDefaults = {{"device", {{"$unbound", "**factory_kwargs"}}}, {"dtype", {{"$unbound", "**factory_kwargs"}}}};

}  // namespace

TEST_CASE("pasted: PyTorch's own TransformerEncoderLayer lines", "[pasted]") {
  // **factory_kwargs with nothing building it: device and dtype keep PyTorch's defaults, said once each.
  Pasted linear1 = paste("torch_encoder_layer_linear1", {"d_model=512", "dim_feedforward=2048"}, {"input=(10, 2, 512)"});
  REQUIRE(linear1.refusal.empty());
  CHECK(linear1.module == json{{"type", "Linear"}, {"in_features", 512}, {"out_features", 2048}, {"device", kFactoryDefaults["device"]},
                               {"dtype", kFactoryDefaults["dtype"]}});
  CHECK(linear1.report.ok());
  REQUIRE(linear1.notes.size() == 2);
  CHECK_THAT(linear1.notes[0], Catch::StartsWith("device would come from **factory_kwargs, which nothing binds: it changes no shape, so the "
                                                 "check keeps PyTorch's default device=None"));
  CHECK_THAT(linear1.notes[1], Catch::StartsWith("dtype would come from **factory_kwargs, which nothing binds"));
  CHECK(module_call_text(linear1.module) == "nn.Linear(512, 2048, **factory_kwargs)");

  // bias=bias (PyTorch 2.1+): a flag that changes no shape keeps PyTorch's default, with a note.
  Pasted bias = paste("torch_encoder_layer_linear1_bias", {"d_model=512", "dim_feedforward=2048"}, {"input=(10, 2, 512)"});
  REQUIRE(bias.refusal.empty());
  CHECK(bias.module["bias"] == json{{"$unbound", "bias"}});
  CHECK(bias.report.ok());
  REQUIRE(bias.notes.size() == 3);
  CHECK_THAT(bias.notes[0], Catch::StartsWith("bias is the name bias, which nothing binds: it changes no shape, so the check keeps PyTorch's "
                                              "default bias=True"));

  Pasted norm = paste("torch_encoder_layer_norm1_bias", {"d_model=512"}, {"input=(10, 2, 512)"});
  REQUIRE(norm.refusal.empty());
  CHECK(norm.module["normalized_shape"] == 512);
  CHECK(norm.module["eps"] == json{{"$unbound", "layer_norm_eps"}});
  CHECK(norm.report.ok());
  CHECK(norm.notes.size() == 4);  // eps, bias, device, dtype

  // d_model left unbound decides the output: refused, naming it and how to bind it.
  Pasted unbound = paste("torch_encoder_layer_linear1", {"dim_feedforward=2048"}, {"input=(10, 2, 512)"});
  CHECK(unbound.refusal ==
        "2:31: \"in_features\" is the symbol d_model, which nothing binds | bind it: \"dims\": {\"d_model\": SIZE} in the spec, "
        "--dim d_model=SIZE on the command line; no input's shape uses d_model, so it alone would decide the output's shape");
}

TEST_CASE("pasted: batch_first=batch_first decides the layout, so it must be bound", "[pasted]") {
  Pasted refused = paste("torch_encoder_layer_self_attn", {"d_model=512", "nhead=8"}, {"query=(10, 2, 512)"});
  CHECK(refused.refusal ==
        "3:90: batch_first must be True or False, found 'batch_first', which nothing binds | it decides shapes, so mhacheck does not guess "
        "it (PyTorch's default is False): bind it with --dim batch_first=True (or False), a line \"batch_first = True\" before the call, "
        "a pasted `def __init__(..., batch_first=...)` line, or write the value");
  // --dim binds it, as the hint says.
  Pasted bound = paste("torch_encoder_layer_self_attn", {"d_model=512", "nhead=8", "batch_first=True"}, {"query=(2, 10, 512)"});
  REQUIRE(bound.refusal.empty());
  CHECK(bound.module["batch_first"] == true);
  CHECK(bound.module["embed_dim"] == 512);
  CHECK(bound.report.ok());
  // The pasted def line binds it to its default, False: a (batch, seq) query then meets the
  // layout diagnostics it would meet in PyTorch.
  Pasted header = paste("torch_encoder_layer_header_and_attn", {"d_model=512", "nhead=8"}, {"query=(10, 2, 512)"});
  REQUIRE(header.refusal.empty());
  CHECK(header.module["batch_first"] == false);
  CHECK(header.module["dropout"] == 0.1);
  CHECK(header.report.ok());

  for (const char* snippet : {"torch_decoder_layer_multihead_attn", "torch_encoder_layer_self_attn_bias"}) {
    Pasted attention = paste(snippet, {"d_model=512", "nhead=8", "batch_first=False"}, {"query=(10, 2, 512)"});
    INFO(snippet);
    REQUIRE(attention.refusal.empty());
    CHECK(attention.module["type"] == "MultiheadAttention");
    CHECK(attention.report.ok());
  }
  Pasted layer = paste("torch_transformer_encoder_layer_positional", {"d_model=512", "nhead=8", "dim_feedforward=2048", "batch_first=True",
                                                                      "norm_first=False"},
                       {"src=(2, 10, 512)"});
  REQUIRE(layer.refusal.empty());
  CHECK(layer.module["type"] == "TransformerEncoderLayer");
  CHECK(layer.module["activation"] == json{{"$unbound", "activation"}});
  CHECK(layer.report.ok());
  Pasted stack = paste("torch_transformer_encoder_stack",
                       {"d_model=512", "nhead=8", "dim_feedforward=2048", "batch_first=True", "num_encoder_layers=6"}, {"src=(2, 10, 512)"});
  REQUIRE(stack.refusal.empty());
  CHECK(stack.module["type"] == "TransformerEncoder");
  CHECK(stack.module["num_layers"] == 6);
  CHECK(stack.module["norm"]["type"] == "LayerNorm");
  CHECK(stack.report.ok());
  Pasted norm = paste("torch_transformer_encoder_norm", {"d_model=512"}, {"input=(2, 10, 512)"});
  REQUIRE(norm.refusal.empty());
  CHECK(norm.report.ok());
}

TEST_CASE("pasted: MultiheadAttention's own lines", "[pasted]") {
  // Its out_proj is a NonDynamicallyQuantizableLinear: a Linear.
  Pasted out_proj = paste("torch_mha_out_proj", {"embed_dim=512"}, {"input=(10, 2, 512)"});
  REQUIRE(out_proj.refusal.empty());
  CHECK(out_proj.module["type"] == "Linear");
  CHECK(out_proj.module["out_features"] == 512);
  CHECK(out_proj.report.ok());
  // self.head_dim = head_dim = embed_dim // num_heads binds both names.
  Pasted chained = paste("torch_mha_head_dim_chained", {"embed_dim=512", "num_heads=8"}, {"input=(10, 2, 512)"});
  REQUIRE(chained.refusal.empty());
  CHECK(chained.module["out_features"] == 512);
  CHECK(chained.report.ok());
}

TEST_CASE("pasted: torchvision and torchaudio lines", "[pasted]") {
  Pasted vit = paste("torchvision_vit_encoder_block", {"hidden_dim=768", "num_heads=12"}, {"query=(2, 197, 768)"});
  REQUIRE(vit.refusal.empty());
  CHECK(vit.module["batch_first"] == true);
  CHECK(vit.report.ok());
  Pasted qkv = paste("torchvision_swin_qkv", {"dim=96"}, {"input=(2, 49, 96)"});
  REQUIRE(qkv.refusal.empty());
  CHECK(qkv.module["out_features"] == 288);
  CHECK(qkv.module["bias"] == json{{"$unbound", "qkv_bias"}});
  CHECK(qkv.report.ok());
  Pasted proj = paste("torchvision_swin_proj_header", {"dim=96"}, {"input=(2, 49, 96)"});
  REQUIRE(proj.refusal.empty());
  CHECK(proj.module["bias"] == true);  // proj_bias: bool = True, from the def line
  CHECK(proj.report.ok());
  // head_dim, a torch.nn.Dropout line (a module mhacheck does not model), then the projection.
  Pasted wav2vec2 = paste("torchaudio_wav2vec2_self_attention", {"embed_dim=768", "num_heads=12"}, {"input=(2, 50, 768)"});
  REQUIRE(wav2vec2.refusal.empty());
  CHECK(wav2vec2.module["type"] == "Linear");
  CHECK(wav2vec2.report.ok());
  // `if ...: raise ValueError(...)`, the model's own check, is passed over.
  Pasted raise = paste("torchaudio_wav2vec2_raise_check", {"embed_dim=768", "num_heads=12"}, {"input=(2, 50, 768)"});
  REQUIRE(raise.refusal.empty());
  CHECK(raise.report.ok());
  Pasted projection = paste("torchaudio_feature_projection", {"in_features=512", "out_features=768"}, {"input=(2, 50, 512)"});
  REQUIRE(projection.refusal.empty());
  CHECK(projection.module["out_features"] == 768);
  // ConformerLayer's attention reads (T, B, D): a (B, T, D) input of another batch is the layout error.
  Pasted conformer = paste("torchaudio_conformer_self_attn", {"input_dim=144", "num_attention_heads=4"}, {"query=(50, 2, 144)"});
  REQUIRE(conformer.refusal.empty());
  CHECK_FALSE(conformer.module.contains("batch_first"));
  CHECK(conformer.report.ok());
}

TEST_CASE("pasted: nanoGPT, Hugging Face, timm and x-transformers lines", "[pasted]") {
  Pasted c_attn = paste("nanogpt_c_attn_bias", {"config.n_embd=768", "config.n_head=12"}, {"input=(2, 64, 768)"});
  REQUIRE(c_attn.refusal.empty());
  CHECK(c_attn.module["out_features"] == 2304);
  CHECK(c_attn.module["bias"] == json{{"$unbound", "config.bias"}});
  CHECK(c_attn.report.ok());
  // nanoGPT's own assert, with sizes that break it: AssertionError as Python raises it.
  Pasted broken = paste("nanogpt_c_attn_bias", {"config.n_embd=768", "config.n_head=10"}, {"input=(2, 64, 768)"});
  CHECK_THAT(broken.refusal, Catch::StartsWith("2:9: AssertionError: the pasted assert is False"));
  Pasted c_proj = paste("nanogpt_c_proj_bias", {"config.n_embd=768"}, {"input=(2, 64, 768)"});
  REQUIRE(c_proj.refusal.empty());
  CHECK(c_proj.report.ok());

  CHECK(clean("hf_bert_self_attention_query", {"config.hidden_size=768", "config.num_attention_heads=12"}, {"input=(2, 128, 768)"})
            ["out_features"] == 768);
  // getattr(config, "head_dim", default): the default when nothing binds config.head_dim...
  Pasted llama = paste("hf_llama_q_proj", {"config.hidden_size=4096", "config.num_attention_heads=32"}, {"input=(1, 16, 4096)"});
  REQUIRE(llama.refusal.empty());
  CHECK(llama.module["out_features"] == 4096);
  CHECK(llama.module["bias"] == json{{"$unbound", "config.attention_bias"}});
  // ... and config.head_dim when it is bound (Gemma 7B: head_dim 256, 16 heads, hidden size 3072).
  Pasted gemma = paste("hf_llama_q_proj", {"config.hidden_size=3072", "config.num_attention_heads=16", "config.head_dim=256"}, {"input=(1, 16, 3072)"});
  REQUIRE(gemma.refusal.empty());
  CHECK(gemma.module["out_features"] == 4096);

  // self.scale = qk_scale or head_dim ** -0.5: more than mhacheck computes, passed over; the
  // Linear after it does not use it.
  CHECK(clean("timm_attention_qkv", {"dim=768", "num_heads=12"}, {"input=(2, 197, 768)"})["out_features"] == 2304);
  CHECK(clean("timm_attention_head_dim_self", {"dim=768", "num_heads=12"}, {"input=(2, 197, 768)"})["in_features"] == 768);
  CHECK(clean("xtransformers_to_q", {"dim=512", "dim_head=64", "heads=8"}, {"input=(2, 10, 512)"}) ==
        json{{"type", "Linear"}, {"in_features", 512}, {"out_features", 512}, {"bias", false}});
}

TEST_CASE("pasted: what stays refused says where and why", "[pasted]") {
  // A forward body: a call of a module attribute, not its constructor.
  Pasted forward = paste("forward_mha_call", {}, {"query=(2, 197, 768)"});
  CHECK(forward.refusal ==
        "2:13: self.ln_1(...) calls a module, as a forward line does: --module takes the line that constructs it | paste the line of "
        "__init__ that builds it (self.ln_1 = nn.MultiheadAttention(...)), and give the call's tensors with --query/--key/--value or "
        "--arg NAME=SHAPE");
  // A whole __init__ body: several modules, one checked at a time.
  Pasted body = paste("torch_encoder_layer_init_body", {"d_model=512", "nhead=8", "dim_feedforward=2048", "batch_first=False"},
                      {"query=(10, 2, 512)"});
  CHECK_THAT(body.refusal, Catch::StartsWith("5:9: the text constructs 2 modules (self.self_attn, self.linear1); one is checked at a time"));
  // A size computed from a line mhacheck does not compute names that line.
  Pasted scale = paste("timm_attention_qkv", {"num_heads=12"}, {"input=(2, 197, 768)"});
  CHECK_THAT(scale.refusal, Catch::Contains("which nothing binds"));
}
