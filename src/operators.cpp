// The operator table (src/operators.hpp): each operator's schemas, written as PyTorch's
// signatures, and its row tying them to its rules, parameters and forward pass.
#include "operators.hpp"

#include <stdexcept>

namespace mhacheck {
namespace {

// A Bool option with what its value does to the shapes (FlagEffect).
OptionSchema flag(std::string name, bool default_value, FlagEffect effect) {
  return {std::move(name), OptionKind::Bool, false, default_value, {}, effect};
}

// torch.nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
//     add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None, dtype=None)
const ModuleSchema kMultiheadAttention{
    "MultiheadAttention",
    {
        {"embed_dim", OptionKind::Int, true},
        {"num_heads", OptionKind::Int, true},
        {"dropout", OptionKind::Float, false, 0.0},
        flag("bias", true, FlagEffect::ChangesNoShape),          // a parameter more or less
        flag("add_bias_kv", false, FlagEffect::DecidesShapes),   // one key more
        flag("add_zero_attn", false, FlagEffect::DecidesShapes),  // one key more
        {"kdim", OptionKind::OptionalInt, false},
        {"vdim", OptionKind::OptionalInt, false},
        flag("batch_first", false, FlagEffect::DecidesShapes),  // which dim is the batch
        {"device", OptionKind::Device, false},
        {"dtype", OptionKind::DType, false},
    }};

// The options TransformerEncoderLayer and TransformerDecoderLayer share, after d_model and
// nhead: (dim_feedforward=2048, dropout=0.1, activation=relu, layer_norm_eps=1e-5,
// batch_first=False, norm_first=False, bias=True, device=None, dtype=None).
std::vector<OptionSchema> layer_options(std::vector<OptionSchema> leading) {
  std::vector<OptionSchema> options = std::move(leading);
  for (OptionSchema option : std::initializer_list<OptionSchema>{
           {"dim_feedforward", OptionKind::Int, false, 2048},
           {"dropout", OptionKind::Float, false, 0.1},
           {"activation", OptionKind::String, false, "relu"},
           {"layer_norm_eps", OptionKind::Float, false, 1e-5},
           flag("batch_first", false, FlagEffect::DecidesShapes),  // which dim is the batch
           flag("norm_first", false, FlagEffect::ChangesNoShape),  // the order of the same sublayers
           flag("bias", true, FlagEffect::ChangesNoShape),
           {"device", OptionKind::Device, false},
           {"dtype", OptionKind::DType, false},
       }) {
    options.push_back(std::move(option));
  }
  return options;
}

const ModuleSchema kTransformerEncoderLayer{
    "TransformerEncoderLayer", layer_options({{"d_model", OptionKind::Int, true}, {"nhead", OptionKind::Int, true}})};
const ModuleSchema kTransformerDecoderLayer{
    "TransformerDecoderLayer", layer_options({{"d_model", OptionKind::Int, true}, {"nhead", OptionKind::Int, true}})};
// nn.TransformerEncoder(encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True)
const ModuleSchema kTransformerEncoder{"TransformerEncoder",
                                       {{"encoder_layer", OptionKind::Module, true, nullptr, "TransformerEncoderLayer"},
                                        {"num_layers", OptionKind::Int, true},
                                        {"norm", OptionKind::OptionalModule, false, nullptr, "LayerNorm"},
                                        // a fast path that gives the same shapes
                                        flag("enable_nested_tensor", true, FlagEffect::ChangesNoShape),
                                        flag("mask_check", true, FlagEffect::ChangesNoShape)}};
// nn.TransformerDecoder(decoder_layer, num_layers, norm=None)
const ModuleSchema kTransformerDecoder{"TransformerDecoder",
                                       {{"decoder_layer", OptionKind::Module, true, nullptr, "TransformerDecoderLayer"},
                                        {"num_layers", OptionKind::Int, true},
                                        {"norm", OptionKind::OptionalModule, false, nullptr, "LayerNorm"}}};
// nn.Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, ...the
// layers' options...); custom_encoder and custom_decoder are not supported.
const ModuleSchema kTransformer{"Transformer", layer_options({{"d_model", OptionKind::Int, false, 512},
                                                               {"nhead", OptionKind::Int, false, 8},
                                                               {"num_encoder_layers", OptionKind::Int, false, 6},
                                                               {"num_decoder_layers", OptionKind::Int, false, 6}})};
// nn.Linear(in_features, out_features, bias=True, device=None, dtype=None)
const ModuleSchema kLinear{"Linear",
                           {{"in_features", OptionKind::Int, true},
                            {"out_features", OptionKind::Int, true},
                            flag("bias", true, FlagEffect::ChangesNoShape),
                            {"device", OptionKind::Device, false},
                            {"dtype", OptionKind::DType, false}}};
// nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None)
const ModuleSchema kLayerNorm{"LayerNorm",
                              {{"normalized_shape", OptionKind::IntOrList, true},
                               {"eps", OptionKind::Float, false, 1e-5},
                               flag("elementwise_affine", true, FlagEffect::ChangesNoShape),
                               flag("bias", true, FlagEffect::ChangesNoShape),
                               {"device", OptionKind::Device, false},
                               {"dtype", OptionKind::DType, false}}};
// nn.Embedding(num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
//     scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None)
const ModuleSchema kEmbedding{"Embedding",
                              {{"num_embeddings", OptionKind::Int, true},
                               {"embedding_dim", OptionKind::Int, true},
                               {"padding_idx", OptionKind::OptionalInt, false},
                               {"max_norm", OptionKind::Float, false},
                               {"norm_type", OptionKind::Float, false, 2.0},
                               flag("scale_grad_by_freq", false, FlagEffect::ChangesNoShape),  // gradients only
                               flag("sparse", false, FlagEffect::ChangesNoShape),              // gradients only
                               {"device", OptionKind::Device, false},
                               {"dtype", OptionKind::DType, false}}};
// nn.Conv1d and nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
//     groups=1, bias=True, padding_mode='zeros', device=None, dtype=None)
ModuleSchema conv_schema(std::string type) {
  return {std::move(type),
          {{"in_channels", OptionKind::Int, true},
           {"out_channels", OptionKind::Int, true},
           {"kernel_size", OptionKind::IntOrList, true},
           {"stride", OptionKind::IntOrList, false, 1},
           {"padding", OptionKind::IntOrListOrString, false, 0},
           {"dilation", OptionKind::IntOrList, false, 1},
           {"groups", OptionKind::Int, false, 1},
           flag("bias", true, FlagEffect::ChangesNoShape),
           {"padding_mode", OptionKind::String, false, "zeros"},
           {"device", OptionKind::Device, false},
           {"dtype", OptionKind::DType, false}}};
}
const ModuleSchema kConv1d = conv_schema("Conv1d");
const ModuleSchema kConv2d = conv_schema("Conv2d");

// MultiheadAttention.forward(query, key, value, key_padding_mask=None, need_weights=True,
//     attn_mask=None, average_attn_weights=True, is_causal=False)
const OperatorSchema kMultiheadAttentionCall{
    "MultiheadAttention",
    true,
    {
        {"query", ArgKind::Tensor, true, nullptr},
        {"key", ArgKind::Tensor, true, nullptr},
        {"value", ArgKind::Tensor, true, nullptr},
        {"key_padding_mask", ArgKind::Mask, false, nullptr},
        {"need_weights", ArgKind::Bool, false, true},
        {"attn_mask", ArgKind::Mask, false, nullptr},
        {"average_attn_weights", ArgKind::Bool, false, true},
        {"is_causal", ArgKind::Bool, false, false},
    },
    {"attn_output", "attn_output_weights"},
    "need_weights"};

// F.scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
//     is_causal=False, scale=None, enable_gqa=False)
const OperatorSchema kScaledDotProductAttention{
    "scaled_dot_product_attention",
    false,
    {
        {"query", ArgKind::Tensor, true, nullptr},
        {"key", ArgKind::Tensor, true, nullptr},
        {"value", ArgKind::Tensor, true, nullptr},
        {"attn_mask", ArgKind::Mask, false, nullptr},
        {"dropout_p", ArgKind::Float, false, 0.0},
        {"is_causal", ArgKind::Bool, false, false},
        {"scale", ArgKind::OptionalFloat, false, nullptr},
        {"enable_gqa", ArgKind::Bool, false, false},
    },
    {"output"},
    ""};

// The Transformer modules' forwards, as PyTorch 2.x names their arguments.
// TransformerEncoderLayer.forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)
const OperatorSchema kTransformerEncoderLayerCall{"TransformerEncoderLayer",
                                                  true,
                                                  {{"src", ArgKind::Tensor, true, nullptr},
                                                   {"src_mask", ArgKind::Mask, false, nullptr},
                                                   {"src_key_padding_mask", ArgKind::Mask, false, nullptr},
                                                   {"is_causal", ArgKind::Bool, false, false}},
                                                  {"output"},
                                                  ""};
// TransformerDecoderLayer.forward(tgt, memory, tgt_mask=None, memory_mask=None,
//     tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)
// TransformerDecoder.forward: the same, but tgt_is_causal=None.
std::vector<ArgSchema> decoder_arguments(const nlohmann::json& tgt_is_causal_default) {
  return {{"tgt", ArgKind::Tensor, true, nullptr},
          {"memory", ArgKind::Tensor, true, nullptr},
          {"tgt_mask", ArgKind::Mask, false, nullptr},
          {"memory_mask", ArgKind::Mask, false, nullptr},
          {"tgt_key_padding_mask", ArgKind::Mask, false, nullptr},
          {"memory_key_padding_mask", ArgKind::Mask, false, nullptr},
          {"tgt_is_causal", tgt_is_causal_default.is_null() ? ArgKind::OptionalBool : ArgKind::Bool, false, tgt_is_causal_default},
          {"memory_is_causal", ArgKind::Bool, false, false}};
}
const OperatorSchema kTransformerDecoderLayerCall{"TransformerDecoderLayer", true, decoder_arguments(false), {"output"}, ""};
// TransformerEncoder.forward(src, mask=None, src_key_padding_mask=None, is_causal=None)
const OperatorSchema kTransformerEncoderCall{"TransformerEncoder",
                                             true,
                                             {{"src", ArgKind::Tensor, true, nullptr},
                                              {"mask", ArgKind::Mask, false, nullptr},
                                              {"src_key_padding_mask", ArgKind::Mask, false, nullptr},
                                              {"is_causal", ArgKind::OptionalBool, false, nullptr}},
                                             {"output"},
                                             ""};
const OperatorSchema kTransformerDecoderCall{"TransformerDecoder", true, decoder_arguments(nullptr), {"output"}, ""};
// Transformer.forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
//     src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
//     src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)
const OperatorSchema kTransformerCall{"Transformer",
                                      true,
                                      {{"src", ArgKind::Tensor, true, nullptr},
                                       {"tgt", ArgKind::Tensor, true, nullptr},
                                       {"src_mask", ArgKind::Mask, false, nullptr},
                                       {"tgt_mask", ArgKind::Mask, false, nullptr},
                                       {"memory_mask", ArgKind::Mask, false, nullptr},
                                       {"src_key_padding_mask", ArgKind::Mask, false, nullptr},
                                       {"tgt_key_padding_mask", ArgKind::Mask, false, nullptr},
                                       {"memory_key_padding_mask", ArgKind::Mask, false, nullptr},
                                       {"src_is_causal", ArgKind::OptionalBool, false, nullptr},
                                       {"tgt_is_causal", ArgKind::OptionalBool, false, nullptr},
                                       {"memory_is_causal", ArgKind::Bool, false, false}},
                                      {"output"},
                                      ""};
// Linear, LayerNorm, Embedding, Conv1d and Conv2d: forward(input).
const OperatorSchema kLinearCall{"Linear", true, {{"input", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
const OperatorSchema kLayerNormCall{"LayerNorm", true, {{"input", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
const OperatorSchema kConv1dCall{"Conv1d", true, {{"input", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
const OperatorSchema kConv2dCall{"Conv2d", true, {{"input", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
const OperatorSchema kEmbeddingCall{"Embedding", true, {{"input", ArgKind::Indices, true, nullptr}}, {"output"}, ""};

// The "glue" between attention layers, as torch's functions (and Tensor methods) take them.
// torch.transpose(input, dim0, dim1)
const OperatorSchema kTranspose{
    "transpose", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim0", ArgKind::Int, true, nullptr}, {"dim1", ArgKind::Int, true, nullptr}},
    {"output"}, ""};
// torch.permute(input, dims)
const OperatorSchema kPermute{
    "permute", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dims", ArgKind::IntList, true, nullptr}}, {"output"}, ""};
// torch.reshape(input, shape); Tensor.view(shape) has the same shape rules.
const OperatorSchema kReshape{
    "reshape", false, {{"input", ArgKind::Tensor, true, nullptr}, {"shape", ArgKind::SizeList, true, nullptr}}, {"output"}, ""};
const OperatorSchema kView{
    "view", false, {{"input", ArgKind::Tensor, true, nullptr}, {"shape", ArgKind::SizeList, true, nullptr}}, {"output"}, ""};
// torch.unsqueeze(input, dim)
const OperatorSchema kUnsqueeze{
    "unsqueeze", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Int, true, nullptr}}, {"output"}, ""};
// torch.squeeze(input, dim=None)
const OperatorSchema kSqueeze{
    "squeeze", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::OptionalInt, false, nullptr}}, {"output"}, ""};
// torch.flatten(input, start_dim=0, end_dim=-1)
const OperatorSchema kFlatten{"flatten",
                              false,
                              {{"input", ArgKind::Tensor, true, nullptr},
                               {"start_dim", ArgKind::Int, false, 0},
                               {"end_dim", ArgKind::Int, false, -1}},
                              {"output"},
                              ""};
// torch.add, torch.sub and torch.mul(input, other), other a tensor or a number;
// torch.div(input, other, *, rounding_mode=None); torch.matmul(input, other).
OperatorSchema arithmetic_schema(std::string name) {
  return {std::move(name), false, {{"input", ArgKind::Tensor, true, nullptr}, {"other", ArgKind::TensorOrNumber, true, nullptr}}, {"output"}, ""};
}
const OperatorSchema kAdd = arithmetic_schema("add");
const OperatorSchema kSub = arithmetic_schema("sub");
const OperatorSchema kMul = arithmetic_schema("mul");
// torch.eq and torch.ne(input, other): `mask == 0`, `mask != 0`; torch.gt, ge, lt and le: the
// length and threshold masks (`arange(T)[None, :] < lengths[:, None]`, `prob >= 0.5`).
const OperatorSchema kEq = arithmetic_schema("eq");
const OperatorSchema kNe = arithmetic_schema("ne");
const OperatorSchema kGt = arithmetic_schema("gt");
const OperatorSchema kGe = arithmetic_schema("ge");
const OperatorSchema kLt = arithmetic_schema("lt");
const OperatorSchema kLe = arithmetic_schema("le");
// torch.bitwise_and and torch.bitwise_or(input, other): `a & b`, `a | b`, other a tensor or a number.
const OperatorSchema kBitwiseAnd = arithmetic_schema("bitwise_and");
const OperatorSchema kBitwiseOr = arithmetic_schema("bitwise_or");
// torch.logical_and and torch.logical_or(input, other): other is a tensor (PyTorch refuses a number).
OperatorSchema logical_schema(std::string name) {
  return {std::move(name), false, {{"input", ArgKind::Tensor, true, nullptr}, {"other", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
}
const OperatorSchema kLogicalAnd = logical_schema("logical_and");
const OperatorSchema kLogicalOr = logical_schema("logical_or");
const OperatorSchema kDiv{"div",
                          false,
                          {{"input", ArgKind::Tensor, true, nullptr},
                           {"other", ArgKind::TensorOrNumber, true, nullptr},
                           {"rounding_mode", ArgKind::OptionalString, false, nullptr}},
                          {"output"},
                          ""};
const OperatorSchema kMatmul{
    "matmul", false, {{"input", ArgKind::Tensor, true, nullptr}, {"other", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
// torch.bmm(input, mat2)
const OperatorSchema kBmm{
    "bmm", false, {{"input", ArgKind::Tensor, true, nullptr}, {"mat2", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
// torch.einsum(equation, *operands), also einsum(equation, [a, b]): the operands as a list.
const OperatorSchema kEinsum{
    "einsum", false, {{"equation", ArgKind::String, true, nullptr}, {"operands", ArgKind::TensorList, true, nullptr}}, {"output"}, ""};
// torch.cat(tensors, dim=0)
const OperatorSchema kCat{"cat", false, {{"tensors", ArgKind::TensorList, true, nullptr}, {"dim", ArgKind::Int, false, 0}}, {"output"}, ""};
// torch.softmax(input, dim)
const OperatorSchema kSoftmax{
    "softmax", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Int, true, nullptr}}, {"output"}, ""};

// Tensor.contiguous(), torch.clone(input), torch.relu/F.silu/torch.tanh/torch.sigmoid(input), ...:
// one tensor in, one out.
OperatorSchema unary_schema(std::string name) { return {std::move(name), false, {{"input", ArgKind::Tensor, true, nullptr}}, {"output"}, ""}; }
const OperatorSchema kContiguous = unary_schema("contiguous");
const OperatorSchema kClone = unary_schema("clone");
const OperatorSchema kRelu = unary_schema("relu");
const OperatorSchema kSilu = unary_schema("silu");
const OperatorSchema kTanh = unary_schema("tanh");
const OperatorSchema kSigmoid = unary_schema("sigmoid");
// torch.exp, log, sqrt, rsqrt, sin, cos (RoPE tables, ALiBi slopes, scaling): floating functions.
const OperatorSchema kExp = unary_schema("exp");
const OperatorSchema kLog = unary_schema("log");
const OperatorSchema kSqrt = unary_schema("sqrt");
const OperatorSchema kRsqrt = unary_schema("rsqrt");
const OperatorSchema kSin = unary_schema("sin");
const OperatorSchema kCos = unary_schema("cos");
// torch.where(condition, input, other): input and other tensors or Python numbers.
const OperatorSchema kWhere{"where",
                            false,
                            {{"condition", ArgKind::Mask, true, nullptr},
                             {"input", ArgKind::TensorOrNumber, true, nullptr},
                             {"other", ArgKind::TensorOrNumber, true, nullptr}},
                            {"output"},
                            ""};
// torch.neg (`-x`) and torch.abs: the input's dtype.
const OperatorSchema kNeg = unary_schema("neg");
const OperatorSchema kAbs = unary_schema("abs");
// torch.logical_not(input) and torch.bitwise_not(input), `~input`: the mask inversions.
const OperatorSchema kLogicalNot = unary_schema("logical_not");
const OperatorSchema kBitwiseNot = unary_schema("bitwise_not");
// F.gelu(input, approximate="none")
const OperatorSchema kGelu{
    "gelu", false, {{"input", ArgKind::Tensor, true, nullptr}, {"approximate", ArgKind::String, false, "none"}}, {"output"}, ""};
// F.dropout(input, p=0.5, training=True): the forward pass is the identity (evaluation mode).
const OperatorSchema kDropout{"dropout",
                              false,
                              {{"input", ArgKind::Tensor, true, nullptr}, {"p", ArgKind::Float, false, 0.5}, {"training", ArgKind::Bool, false, true}},
                              {"output"},
                              ""};
// torch.sum and torch.mean(input, dim=None, keepdim=False)
OperatorSchema reduction_schema(std::string name) {
  return {std::move(name),
          false,
          {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Dims, false, nullptr}, {"keepdim", ArgKind::Bool, false, false}},
          {"output"},
          ""};
}
const OperatorSchema kSum = reduction_schema("sum");
const OperatorSchema kMean = reduction_schema("mean");
// torch.max(input) and torch.max(input, dim, keepdim=False) -> (values, indices): the indices
// only with a dim. (torch.max(input, other), the elementwise maximum, is not modelled.)
const OperatorSchema kMax{"max",
                          false,
                          {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::OptionalInt, false, nullptr}, {"keepdim", ArgKind::Bool, false, false}},
                          {"values", "indices"},
                          "dim"};
// torch.amax(input, dim=(), keepdim=False): () reduces every dim.
const OperatorSchema kAmax{"amax",
                           false,
                           {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Dims, false, nlohmann::json::array()}, {"keepdim", ArgKind::Bool, false, false}},
                           {"output"},
                           ""};
// torch.logsumexp(input, dim, keepdim=False)
const OperatorSchema kLogsumexp{"logsumexp",
                                false,
                                {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Dims, true, nullptr}, {"keepdim", ArgKind::Bool, false, false}},
                                {"output"},
                                ""};
// torch.linalg.vector_norm(x, ord=2, dim=None, keepdim=False); Tensor.norm(p, dim, keepdim) with a
// number p (or "fro" over at most two dims) calls it in PyTorch 2.x.
const OperatorSchema kVectorNorm{"vector_norm",
                                 false,
                                 {{"input", ArgKind::Tensor, true, nullptr},
                                  {"ord", ArgKind::Float, false, 2.0},
                                  {"dim", ArgKind::Dims, false, nullptr},
                                  {"keepdim", ArgKind::Bool, false, false}},
                                 {"output"},
                                 ""};
// Tensor.masked_fill(mask, value)
const OperatorSchema kMaskedFill{"masked_fill",
                                 false,
                                 {{"input", ArgKind::Tensor, true, nullptr}, {"mask", ArgKind::Mask, true, nullptr}, {"value", ArgKind::Float, true, nullptr}},
                                 {"output"},
                                 ""};
// Tensor.expand(*size), Tensor.repeat(*repeats), torch.repeat_interleave(input, repeats, dim=None)
const OperatorSchema kExpand{
    "expand", false, {{"input", ArgKind::Tensor, true, nullptr}, {"size", ArgKind::SizeList, true, nullptr}}, {"output"}, ""};
const OperatorSchema kRepeat{
    "repeat", false, {{"input", ArgKind::Tensor, true, nullptr}, {"repeats", ArgKind::SizeList, true, nullptr}}, {"output"}, ""};
const OperatorSchema kRepeatInterleave{"repeat_interleave",
                                       false,
                                       {{"input", ArgKind::Tensor, true, nullptr},
                                        {"repeats", ArgKind::Int, true, nullptr},
                                        {"dim", ArgKind::OptionalInt, false, nullptr}},
                                       {"output"},
                                       ""};
// Tensor.__getitem__(index) with integers, slices, None and ..., written as in Python: "[:, 0]".
const OperatorSchema kGetitem{
    "getitem", false, {{"input", ArgKind::Tensor, true, nullptr}, {"index", ArgKind::Index, true, nullptr}}, {"output"}, ""};
// Tensor.to(dtype) (the dtype by name: "float32", "torch.float16", "half", ...) and the
// shorthands x.float(), x.double(), x.half(), x.bfloat16(), x.bool(), x.long(), x.int().
const OperatorSchema kTo{"to", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dtype", ArgKind::String, true, nullptr}}, {"output"}, ""};
const OperatorSchema kFloat = unary_schema("float");
const OperatorSchema kDouble = unary_schema("double");
const OperatorSchema kHalf = unary_schema("half");
const OperatorSchema kBFloat16 = unary_schema("bfloat16");
const OperatorSchema kBoolCast = unary_schema("bool");
const OperatorSchema kLong = unary_schema("long");
const OperatorSchema kIntCast = unary_schema("int");
// torch.tril(input, diagonal=0), torch.triu(input, diagonal=0)
const OperatorSchema kTril{"tril", false, {{"input", ArgKind::Tensor, true, nullptr}, {"diagonal", ArgKind::Int, false, 0}}, {"output"}, ""};
const OperatorSchema kTriu{"triu", false, {{"input", ArgKind::Tensor, true, nullptr}, {"diagonal", ArgKind::Int, false, 0}}, {"output"}, ""};
// F.pad(input, pad, value=None) in mode "constant" (the spec has no mode: the others are not modelled)
const OperatorSchema kPad{"pad",
                          false,
                          {{"input", ArgKind::Tensor, true, nullptr}, {"pad", ArgKind::IntList, true, nullptr}, {"value", ArgKind::OptionalFloat, false, nullptr}},
                          {"output"},
                          ""};
// torch.select(input, dim, index)
const OperatorSchema kSelect{
    "select", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Int, true, nullptr}, {"index", ArgKind::Int, true, nullptr}},
    {"output"}, ""};
// torch.narrow(input, dim, start, length)
const OperatorSchema kNarrow{"narrow",
                             false,
                             {{"input", ArgKind::Tensor, true, nullptr},
                              {"dim", ArgKind::Int, true, nullptr},
                              {"start", ArgKind::Int, true, nullptr},
                              {"length", ArgKind::Int, true, nullptr}},
                             {"output"},
                             ""};
// torch.split(input, split_size, dim=0) with an integer split_size; with a list of sizes
// torch.split is split_with_sizes(input, split_sizes, dim=0); torch.chunk(input, chunks, dim=0).
// Each returns as many tensors as the arguments and the dim's size make.
OperatorSchema split_schema(std::string name, const std::string& sizes, ArgKind kind) {
  OperatorSchema schema{std::move(name),
                        false,
                        {{"input", ArgKind::Tensor, true, nullptr}, {sizes, kind, true, nullptr}, {"dim", ArgKind::Int, false, 0}},
                        {},
                        ""};
  schema.variadic_outputs = true;
  return schema;
}
const OperatorSchema kSplit = split_schema("split", "split_size", ArgKind::Int);
const OperatorSchema kSplitWithSizes = split_schema("split_with_sizes", "split_sizes", ArgKind::IntList);
const OperatorSchema kChunk = split_schema("chunk", "chunks", ArgKind::Int);
// torch.unbind(input, dim=0): one output per position of dim.
OperatorSchema unbind_schema() {
  OperatorSchema schema{"unbind", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Int, false, 0}}, {}, ""};
  schema.variadic_outputs = true;
  return schema;
}
const OperatorSchema kUnbind = unbind_schema();

// torch.stack(tensors, dim=0)
const OperatorSchema kStack{"stack", false, {{"tensors", ArgKind::TensorList, true, nullptr}, {"dim", ArgKind::Int, false, 0}}, {"output"}, ""};
// F.log_softmax(input, dim)
const OperatorSchema kLogSoftmax{
    "log_softmax", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Int, true, nullptr}}, {"output"}, ""};
// F.linear(input, weight, bias=None)
const OperatorSchema kFunctionalLinear{"linear",
                                       false,
                                       {{"input", ArgKind::Tensor, true, nullptr},
                                        {"weight", ArgKind::Tensor, true, nullptr},
                                        {"bias", ArgKind::Tensor, false, nullptr}},
                                       {"output"},
                                       ""};
// F.layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5)
const OperatorSchema kFunctionalLayerNorm{"layer_norm",
                                          false,
                                          {{"input", ArgKind::Tensor, true, nullptr},
                                           {"normalized_shape", ArgKind::IntList, true, nullptr},
                                           {"weight", ArgKind::Tensor, false, nullptr},
                                           {"bias", ArgKind::Tensor, false, nullptr},
                                           {"eps", ArgKind::Float, false, 1e-5}},
                                          {"output"},
                                          ""};
// F.normalize(input, p=2.0, dim=1, eps=1e-12)
const OperatorSchema kNormalize{"normalize",
                                false,
                                {{"input", ArgKind::Tensor, true, nullptr},
                                 {"p", ArgKind::Float, false, 2.0},
                                 {"dim", ArgKind::Int, false, 1},
                                 {"eps", ArgKind::Float, false, 1e-12}},
                                {"output"},
                                ""};
// The constructors: torch.ones(*size, dtype=None), zeros, full(size, fill_value, dtype=None);
// ones_like(input, dtype=None), zeros_like, full_like(input, fill_value); Tensor.new_ones(size),
// new_zeros; eye(n, m=None); arange(start=0, end, step=1). Sizes may be symbols.
OperatorSchema constructor_schema(std::string name, std::vector<ArgSchema> leading) {
  leading.push_back({"dtype", ArgKind::OptionalString, false, nullptr});
  return {std::move(name), false, std::move(leading), {"output"}, ""};
}
const OperatorSchema kOnes = constructor_schema("ones", {{"size", ArgKind::SizeList, true, nullptr}});
const OperatorSchema kZeros = constructor_schema("zeros", {{"size", ArgKind::SizeList, true, nullptr}});
const OperatorSchema kFull =
    constructor_schema("full", {{"size", ArgKind::SizeList, true, nullptr}, {"fill_value", ArgKind::Float, true, nullptr}});
const OperatorSchema kOnesLike = constructor_schema("ones_like", {{"input", ArgKind::Tensor, true, nullptr}});
const OperatorSchema kZerosLike = constructor_schema("zeros_like", {{"input", ArgKind::Tensor, true, nullptr}});
const OperatorSchema kFullLike =
    constructor_schema("full_like", {{"input", ArgKind::Tensor, true, nullptr}, {"fill_value", ArgKind::Float, true, nullptr}});
const OperatorSchema kNewOnes =
    constructor_schema("new_ones", {{"input", ArgKind::Tensor, true, nullptr}, {"size", ArgKind::SizeList, true, nullptr}});
const OperatorSchema kNewZeros =
    constructor_schema("new_zeros", {{"input", ArgKind::Tensor, true, nullptr}, {"size", ArgKind::SizeList, true, nullptr}});
const OperatorSchema kEye = constructor_schema("eye", {{"n", ArgKind::Size, true, nullptr}, {"m", ArgKind::Size, false, nullptr}});
const OperatorSchema kArange = constructor_schema(
    "arange", {{"start", ArgKind::Size, false, 0}, {"end", ArgKind::Size, true, nullptr}, {"step", ArgKind::Size, false, 1}});
// Tensor.expand_as(other), view_as, reshape_as, type_as
OperatorSchema as_other_schema(std::string name) {
  return {std::move(name), false, {{"input", ArgKind::Tensor, true, nullptr}, {"other", ArgKind::Tensor, true, nullptr}}, {"output"}, ""};
}
const OperatorSchema kExpandAs = as_other_schema("expand_as");
const OperatorSchema kViewAs = as_other_schema("view_as");
const OperatorSchema kReshapeAs = as_other_schema("reshape_as");
const OperatorSchema kTypeAs = as_other_schema("type_as");
// torch.clamp(input, min=None, max=None), clamp_min(input, min), with numbers.
const OperatorSchema kClamp{"clamp",
                            false,
                            {{"input", ArgKind::Tensor, true, nullptr},
                             {"min", ArgKind::OptionalFloat, false, nullptr},
                             {"max", ArgKind::OptionalFloat, false, nullptr}},
                            {"output"},
                            ""};
const OperatorSchema kClampMin{
    "clamp_min", false, {{"input", ArgKind::Tensor, true, nullptr}, {"min", ArgKind::Float, true, nullptr}}, {"output"}, ""};
// torch.pow(input, exponent), exponent a tensor or a number
const OperatorSchema kPow{
    "pow", false, {{"input", ArgKind::Tensor, true, nullptr}, {"exponent", ArgKind::TensorOrNumber, true, nullptr}}, {"output"}, ""};
// torch.argmax and argmin(input, dim=None, keepdim=False)
OperatorSchema arg_reduction_schema(std::string name) {
  return {std::move(name),
          false,
          {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::OptionalInt, false, nullptr}, {"keepdim", ArgKind::Bool, false, false}},
          {"output"},
          ""};
}
const OperatorSchema kArgmax = arg_reduction_schema("argmax");
const OperatorSchema kArgmin = arg_reduction_schema("argmin");
// torch.min(input) and torch.min(input, dim, keepdim=False) -> (values, indices), as max.
const OperatorSchema kMin{"min",
                          false,
                          {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::OptionalInt, false, nullptr}, {"keepdim", ArgKind::Bool, false, false}},
                          {"values", "indices"},
                          "dim"};
// torch.cumsum(input, dim)
const OperatorSchema kCumsum{
    "cumsum", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dim", ArgKind::Int, true, nullptr}}, {"output"}, ""};
// torch.flip(input, dims)
const OperatorSchema kFlip{
    "flip", false, {{"input", ArgKind::Tensor, true, nullptr}, {"dims", ArgKind::IntList, true, nullptr}}, {"output"}, ""};

// Every name a MultiheadAttention may have in its state_dict, whatever its arguments.
const std::vector<std::string> kAttentionParameters = {"in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                                                       "bias_k",         "bias_v",        "out_proj.weight", "out_proj.bias"};

std::vector<OperatorDef> build_table() {
  // A function's row: schema, display name, rule, forward pass, whether it computes, how its
  // bool masks read.
  auto function = [](const OperatorSchema& call, std::string display, InferFn infer, ForwardFn forward, bool arithmetic,
                     bool mask_true_attends = false, WorkFn work = nullptr) {
    OperatorDef row{call, std::move(display), infer, forward, work};
    row.arithmetic = arithmetic;
    row.mask_true_attends = mask_true_attends;
    return row;
  };
  // A module's row: the same, its constructor and its parameters (modules compute).
  auto module = [](const OperatorSchema& call, const ModuleSchema& constructor, InferFn infer, ForwardFn forward, WorkFn work,
                   ParametersFn parameters, InitialFn initial, std::vector<std::string> own_parameters, std::vector<Submodule> submodules) {
    OperatorDef row{call, "nn." + call.name, infer, forward, work};
    row.arithmetic = true;
    row.constructor = constructor;
    row.parameters = parameters;
    row.initial = initial;
    row.own_parameters = std::move(own_parameters);
    row.submodules = std::move(submodules);
    return row;
  };
  OperatorDef attention = module(kMultiheadAttentionCall, kMultiheadAttention, infer_multihead_attention, forward_multihead_attention, work_multihead_attention,
                                 parameters_multihead_attention, initial_multihead_attention, kAttentionParameters, {});
  attention.attn_mask_layout = attn_mask_layout_multihead_attention;
  OperatorDef cat = function(kCat, "torch.cat", infer_cat, forward_cat, false);
  cat.single_argument_order = cat_single_argument_order;
  return {
      std::move(attention),
      module(kTransformerEncoderLayerCall, kTransformerEncoderLayer, infer_transformer_encoder_layer, forward_transformer_encoder_layer, work_transformer_encoder_layer,
             parameters_transformer_encoder_layer, initial_transformer_encoder_layer, {},
             {{"self_attn", "MultiheadAttention"}, {"linear1", "Linear"}, {"linear2", "Linear"}, {"norm1", "LayerNorm"}, {"norm2", "LayerNorm"}}),
      module(kTransformerDecoderLayerCall, kTransformerDecoderLayer, infer_transformer_decoder_layer, forward_transformer_decoder_layer, work_transformer_decoder_layer,
             parameters_transformer_decoder_layer, initial_transformer_decoder_layer, {},
             {{"self_attn", "MultiheadAttention"},
              {"multihead_attn", "MultiheadAttention"},
              {"linear1", "Linear"},
              {"linear2", "Linear"},
              {"norm1", "LayerNorm"},
              {"norm2", "LayerNorm"},
              {"norm3", "LayerNorm"}}),
      module(kTransformerEncoderCall, kTransformerEncoder, infer_transformer_encoder, forward_transformer_encoder, work_transformer_encoder, parameters_transformer_stack,
             initial_transformer_stack, {}, {{"layers", "TransformerEncoderLayer", true}, {"norm", "LayerNorm"}}),
      module(kTransformerDecoderCall, kTransformerDecoder, infer_transformer_decoder, forward_transformer_decoder, work_transformer_decoder, parameters_transformer_stack,
             initial_transformer_stack, {}, {{"layers", "TransformerDecoderLayer", true}, {"norm", "LayerNorm"}}),
      module(kTransformerCall, kTransformer, infer_transformer, forward_transformer, work_transformer, parameters_transformer, initial_transformer, {},
             {{"encoder", "TransformerEncoder"}, {"decoder", "TransformerDecoder"}}),
      module(kLinearCall, kLinear, infer_linear, forward_linear, work_linear, parameters_linear, initial_linear, {"weight", "bias"}, {}),
      module(kLayerNormCall, kLayerNorm, infer_layer_norm, forward_layer_norm, nullptr, parameters_layer_norm, initial_layer_norm, {"weight", "bias"}, {}),
      module(kEmbeddingCall, kEmbedding, infer_embedding, forward_embedding, nullptr, parameters_embedding, initial_embedding, {"weight"}, {}),
      module(kConv1dCall, kConv1d, infer_conv, forward_conv, work_conv, parameters_conv, initial_conv, {"weight", "bias"}, {}),
      module(kConv2dCall, kConv2d, infer_conv, forward_conv, work_conv, parameters_conv, initial_conv, {"weight", "bias"}, {}),
      function(kScaledDotProductAttention, "F.scaled_dot_product_attention", infer_scaled_dot_product_attention,
               forward_scaled_dot_product_attention, true, true, work_scaled_dot_product_attention),
      function(kTranspose, "torch.transpose", infer_transpose, forward_transpose, false),
      function(kPermute, "torch.permute", infer_permute, forward_permute, false),
      function(kReshape, "torch.reshape", infer_reshape, forward_reshape, false),
      function(kView, "Tensor.view", infer_reshape, forward_reshape, false),  // a method only
      function(kUnsqueeze, "torch.unsqueeze", infer_unsqueeze, forward_reshape, false),
      function(kSqueeze, "torch.squeeze", infer_squeeze, forward_reshape, false),
      function(kFlatten, "torch.flatten", infer_flatten, forward_reshape, false),
      std::move(cat),
      function(kAdd, "torch.add", infer_add, forward_arithmetic, true),
      function(kSub, "torch.sub", infer_sub, forward_arithmetic, true),
      function(kMul, "torch.mul", infer_mul, forward_arithmetic, true),
      function(kDiv, "torch.div", infer_div, forward_arithmetic, true),
      // Comparisons and inversions give bool (bitwise_not of an integer: that integer type),
      // which the forward pass stores exactly: they run on any dtype.
      function(kEq, "torch.eq", infer_eq, forward_arithmetic, false),
      function(kNe, "torch.ne", infer_ne, forward_arithmetic, false),
      function(kGt, "torch.gt", infer_gt, forward_arithmetic, false),
      function(kGe, "torch.ge", infer_ge, forward_arithmetic, false),
      function(kLt, "torch.lt", infer_lt, forward_arithmetic, false),
      function(kLe, "torch.le", infer_le, forward_arithmetic, false),
      function(kLogicalAnd, "torch.logical_and", infer_logical_and, forward_arithmetic, false),
      function(kLogicalOr, "torch.logical_or", infer_logical_or, forward_arithmetic, false),
      function(kBitwiseAnd, "torch.bitwise_and", infer_bitwise_and, forward_arithmetic, false),
      function(kBitwiseOr, "torch.bitwise_or", infer_bitwise_or, forward_arithmetic, false),
      function(kLogicalNot, "torch.logical_not", infer_logical_not, forward_logical_not, false),
      function(kBitwiseNot, "torch.bitwise_not", infer_bitwise_not, forward_logical_not, false),
      function(kGetitem, "Tensor.__getitem__", infer_getitem, forward_getitem, false),  // a method only
      function(kSelect, "torch.select", infer_select, forward_select, false),
      function(kTo, "Tensor.to", infer_to, forward_to, false),  // methods only: the casts copy values of any dtype
      function(kFloat, "Tensor.float", infer_to, forward_to, false),
      function(kDouble, "Tensor.double", infer_to, forward_to, false),
      function(kHalf, "Tensor.half", infer_to, forward_to, false),
      function(kBFloat16, "Tensor.bfloat16", infer_to, forward_to, false),
      function(kBoolCast, "Tensor.bool", infer_to, forward_to, false),
      function(kLong, "Tensor.long", infer_to, forward_to, false),
      function(kIntCast, "Tensor.int", infer_to, forward_to, false),
      function(kTril, "torch.tril", infer_triangle, forward_triangle, false),
      function(kTriu, "torch.triu", infer_triangle, forward_triangle, false),
      function(kPad, "F.pad", infer_pad, forward_pad, false),
      function(kNarrow, "torch.narrow", infer_narrow, forward_narrow, false),
      function(kSplit, "torch.split", infer_split, forward_split, false),
      function(kSplitWithSizes, "torch.split_with_sizes", infer_split_with_sizes, forward_split, false),
      function(kChunk, "torch.chunk", infer_chunk, forward_split, false),
      function(kMatmul, "torch.matmul", infer_matmul, forward_matmul, true, false, work_matrix_product),
      function(kBmm, "torch.bmm", infer_bmm, forward_bmm, true, false, work_matrix_product),
      function(kEinsum, "torch.einsum", infer_einsum, forward_einsum, true, false, work_einsum),
      function(kSoftmax, "F.softmax", infer_softmax, forward_softmax, true),
      function(kContiguous, "Tensor.contiguous", infer_same_shape, forward_reshape, false),  // a method only
      function(kClone, "torch.clone", infer_same_shape, forward_reshape, false),
      function(kDropout, "F.dropout", infer_dropout, forward_reshape, false),
      function(kRelu, "F.relu", infer_relu, forward_activation, true),
      function(kGelu, "F.gelu", infer_gelu, forward_activation, true),
      function(kSilu, "F.silu", infer_silu, forward_activation, true),
      function(kTanh, "torch.tanh", infer_tanh, forward_activation, true),
      function(kSigmoid, "torch.sigmoid", infer_tanh, forward_activation, true),
      function(kExp, "torch.exp", infer_tanh, forward_activation, true),
      function(kLog, "torch.log", infer_tanh, forward_activation, true),
      function(kSqrt, "torch.sqrt", infer_tanh, forward_activation, true),
      function(kRsqrt, "torch.rsqrt", infer_tanh, forward_activation, true),
      function(kSin, "torch.sin", infer_tanh, forward_activation, true),
      function(kCos, "torch.cos", infer_tanh, forward_activation, true),
      function(kWhere, "torch.where", infer_where, forward_where, true),
      function(kNeg, "torch.neg", infer_neg_abs, forward_activation, true),
      function(kAbs, "torch.abs", infer_neg_abs, forward_activation, true),
      function(kSum, "torch.sum", infer_sum, forward_reduction, true),
      function(kMean, "torch.mean", infer_mean, forward_reduction, true),
      function(kMax, "torch.max", infer_max, forward_reduction, true),
      function(kAmax, "torch.amax", infer_amax, forward_reduction, true),
      function(kLogsumexp, "torch.logsumexp", infer_logsumexp, forward_reduction, true),
      function(kVectorNorm, "torch.linalg.vector_norm", infer_vector_norm, forward_reduction, true),
      function(kMaskedFill, "Tensor.masked_fill", infer_masked_fill, forward_masked_fill, true),
      function(kExpand, "Tensor.expand", infer_expand, forward_expand, false),
      function(kRepeat, "Tensor.repeat", infer_repeat, forward_repeat, false),
      function(kRepeatInterleave, "torch.repeat_interleave", infer_repeat_interleave, forward_repeat_interleave, false),
      function(kStack, "torch.stack", infer_stack, forward_stack, false),
      function(kUnbind, "torch.unbind", infer_unbind, forward_split, false),
      function(kLogSoftmax, "F.log_softmax", infer_log_softmax, forward_softmax, true),
      function(kFunctionalLinear, "F.linear", infer_functional_linear, forward_functional_linear, true),
      function(kFunctionalLayerNorm, "F.layer_norm", infer_functional_layer_norm, forward_functional_layer_norm, true),
      function(kNormalize, "F.normalize", infer_normalize, forward_normalize, true),
      // The constructors make their values from their arguments alone: exact in any dtype.
      function(kOnes, "torch.ones", infer_constructor, forward_constructor, false),
      function(kZeros, "torch.zeros", infer_constructor, forward_constructor, false),
      function(kFull, "torch.full", infer_constructor, forward_constructor, false),
      function(kOnesLike, "torch.ones_like", infer_constructor_like, forward_constructor, false),
      function(kZerosLike, "torch.zeros_like", infer_constructor_like, forward_constructor, false),
      function(kFullLike, "torch.full_like", infer_constructor_like, forward_constructor, false),
      function(kNewOnes, "Tensor.new_ones", infer_new_constructor, forward_constructor, false),
      function(kNewZeros, "Tensor.new_zeros", infer_new_constructor, forward_constructor, false),
      function(kEye, "torch.eye", infer_eye, forward_constructor, false),
      function(kArange, "torch.arange", infer_arange, forward_constructor, false),
      function(kExpandAs, "Tensor.expand_as", infer_expand_as, forward_expand, false),  // methods only
      function(kViewAs, "Tensor.view_as", infer_view_as, forward_reshape, false),
      function(kReshapeAs, "Tensor.reshape_as", infer_view_as, forward_reshape, false),
      function(kTypeAs, "Tensor.type_as", infer_type_as, forward_to, false),
      function(kClamp, "torch.clamp", infer_clamp, forward_clamp, true),
      function(kClampMin, "torch.clamp_min", infer_clamp, forward_clamp, true),
      function(kPow, "torch.pow", infer_pow, forward_pow, true),
      function(kArgmax, "torch.argmax", infer_argmax, forward_reduction, false),
      function(kArgmin, "torch.argmin", infer_argmax, forward_reduction, false),
      function(kMin, "torch.min", infer_max, forward_reduction, true),
      function(kCumsum, "torch.cumsum", infer_cumsum, forward_cumsum, true),
      function(kFlip, "torch.flip", infer_flip, forward_flip, false),
  };
}

}  // namespace

const ArgSchema* OperatorSchema::argument(const std::string& name) const {
  for (const ArgSchema& candidate : arguments) {
    if (candidate.name == name) return &candidate;
  }
  return nullptr;
}

const std::vector<OperatorDef>& operator_table() {
  static const std::vector<OperatorDef> kTable = build_table();
  return kTable;
}

const OperatorDef* find_operator(const std::string& name) {
  for (const OperatorDef& row : operator_table()) {
    if (row.name() == name) return &row;
  }
  return nullptr;
}

const OperatorDef& known_operator(const std::string& name) {
  const OperatorDef* row = find_operator(name);
  if (row == nullptr) throw std::logic_error("no operator \"" + name + "\" in the operator table");
  return *row;
}

const OperatorDef& module_operator(const std::string& type) {
  const OperatorDef& row = known_operator(type);
  if (!row.is_module()) throw std::logic_error("\"" + type + "\" is a function, not a module");
  return row;
}

const OperatorSchema* find_operator_schema(const std::string& name) {
  const OperatorDef* row = find_operator(name);
  return row == nullptr ? nullptr : &row->call;
}

std::vector<std::string> function_names() {
  std::vector<std::string> names;
  for (const OperatorDef& row : operator_table()) {
    if (!row.is_module()) names.push_back(row.name());
  }
  return names;
}

std::string arg_kind_text(ArgKind kind) {
  switch (kind) {
    case ArgKind::Tensor: return "a tensor";
    case ArgKind::Mask: return "a mask tensor";
    case ArgKind::Indices: return "a tensor of indices";
    case ArgKind::TensorList: return "a list of tensors";
    case ArgKind::TensorOrNumber: return "a tensor or a number";
    case ArgKind::String: return "a string";
    case ArgKind::OptionalString: return "a string or null";
    case ArgKind::Dims: return "an integer, a list of integers or null";
    case ArgKind::Bool: return "true or false";
    case ArgKind::OptionalBool: return "true, false or null";
    case ArgKind::Float: return "a number";
    case ArgKind::OptionalFloat: return "a number or null";
    case ArgKind::Int: return "an integer";
    case ArgKind::OptionalInt: return "an integer or null";
    case ArgKind::IntList: return "a list of integers";
    case ArgKind::SizeList: return "a list of sizes (integers or symbol names)";
    case ArgKind::Size: return "a number or a size (a symbol name)";
    case ArgKind::Index: return "an index as Python writes it, such as \"[:, 0]\"";
  }
  return "a value";
}

const ModuleSchema* find_module_schema(const std::string& canonical_type) {
  const OperatorDef* row = find_operator(canonical_type);
  return row == nullptr || !row->is_module() ? nullptr : &*row->constructor;
}

std::optional<std::string> canonical_module_type(const std::string& type) {
  std::string bare = type;
  for (const char* prefix : {"torch.nn.", "nn."}) {
    if (bare.rfind(prefix, 0) == 0) {
      bare = bare.substr(std::string(prefix).size());
      break;
    }
  }
  if (find_module_schema(bare) != nullptr) return bare;
  // nn.MultiheadAttention's out_proj: a Linear subclass with Linear's constructor, named so only
  // to keep dynamic quantization off it (torch/nn/modules/linear.py).
  if (bare == "NonDynamicallyQuantizableLinear" || bare == "modules.linear.NonDynamicallyQuantizableLinear") return std::string("Linear");
  return std::nullopt;
}

std::vector<std::string> module_type_names() {
  std::vector<std::string> names;
  for (const OperatorDef& row : operator_table()) {
    if (row.is_module()) names.push_back(row.name());
  }
  return names;
}

std::string option_kind_text(OptionKind kind) {
  switch (kind) {
    case OptionKind::Int: return "an integer";
    case OptionKind::OptionalInt: return "an integer or null";
    case OptionKind::Float: return "a number";
    case OptionKind::Bool: return "true or false";
    case OptionKind::DType: return "a dtype name such as \"float32\"";
    case OptionKind::Device: return "a device name such as \"cpu\"";
    case OptionKind::String: return "a string";
    case OptionKind::IntOrList: return "an integer or a list of integers";
    case OptionKind::IntOrListOrString: return "an integer, a list of integers or a string";
    case OptionKind::Module: return "a module";
    case OptionKind::OptionalModule: return "a module or null";
  }
  return "a value";
}

bool is_comparison(std::string_view op) { return op == "eq" || op == "ne" || op == "gt" || op == "ge" || op == "lt" || op == "le"; }

}  // namespace mhacheck
