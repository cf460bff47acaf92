// The table `mhacheck explain` reads PyTorch's messages with: one row per message pattern, the
// texts exactly as the rules in src/ops/ (and src/run/run.cpp) quote them (tests/check/explain_test.cpp
// feeds it every message of the golden fixtures in tests/pytorch/), and where PyTorch 1.13
// words a message otherwise, that wording too (quoted in the fixtures' "pytorch_2x" notes).
// Each cause reads the numbers by the rules of the operator that raises the message.
#include "pytorch_messages.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace mhacheck {

namespace {

// A placeholder's value as an integer; the pattern guarantees the digits, not the range.
std::int64_t integer(const Captures& captures, const std::string& name) {
  const std::string& text = captures.at(name);
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) throw std::out_of_range("number out of range: " + text);
  return value;
}

std::vector<std::int64_t> integers(const Captures& captures, const std::string& name) {
  std::vector<std::int64_t> values;
  const std::string& text = captures.at(name);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::size_t first = text.find_first_not_of(' ', start);
    Captures one{{"n", text.substr(first, comma - first)}};
    values.push_back(integer(one, "n"));
    start = comma + 1;
  }
  return values;
}

bool has(const Captures& captures, const std::string& name) { return captures.count(name) > 0; }

// a * b, or nullopt past int64 (the numbers come from pasted text).
std::optional<std::int64_t> product(const std::vector<std::int64_t>& values) {
  std::int64_t result = 1;
  for (std::int64_t value : values) {
    if (__builtin_mul_overflow(result, value, &result)) return std::nullopt;
  }
  return result;
}

std::string times(const std::vector<std::int64_t>& values) { return fmt::format("{}", fmt::join(values, " x ")); }

// PyTorch's names of a dtype in its messages (ScalarType, TypeMeta, legacy tensor type)
// -> the torch.dtype a user writes.
std::string torch_dtype(std::string name) {
  if (name.starts_with("c10::")) name = name.substr(5);
  if (name.starts_with("torch.")) name = name.substr(6);
  static const std::map<std::string, std::string> names = {
      {"Double", "float64"}, {"double", "float64"},   {"Float", "float32"},   {"float", "float32"},     {"Half", "float16"},
      {"BFloat16", "bfloat16"}, {"Long", "int64"},    {"long int", "int64"},  {"int64", "int64"},       {"Int", "int32"},
      {"int", "int32"},      {"Short", "int16"},      {"short int", "int16"}, {"Char", "int8"},         {"signed char", "int8"},
      {"Byte", "uint8"},     {"unsigned char", "uint8"}, {"uint8", "uint8"},  {"Bool", "bool"},         {"bool", "bool"},
      {"DoubleTensor", "float64"}, {"FloatTensor", "float32"}, {"HalfTensor", "float16"}, {"LongTensor", "int64"},
      {"IntTensor", "int32"}, {"ShortTensor", "int16"}, {"CharTensor", "int8"}, {"ByteTensor", "uint8"},
      {"CPUBFloat16Type", "bfloat16"}, {"CPUBoolType", "bool"}};
  auto found = names.find(name);
  return found == names.end() ? name : found->second;
}

std::vector<Reading> one(std::string meaning, std::vector<std::string> fixes) { return {Reading{std::move(meaning), std::move(fixes)}}; }

// Head counts in the order people pick them, for readings that must guess num_heads.
std::vector<std::int64_t> likely_head_counts(std::int64_t rows, const ModuleHints& hints) {
  if (hints.num_heads) return {*hints.num_heads};
  std::vector<std::int64_t> counts;
  for (std::int64_t h : {8, 16, 12, 4, 32, 2, 6, 24, 1}) {
    if (h <= rows && rows % h == 0) counts.push_back(h);
  }
  for (std::int64_t h = 1; h <= rows && counts.size() < 12; ++h) {
    if (rows % h == 0 && std::find(counts.begin(), counts.end(), h) == counts.end()) counts.push_back(h);
  }
  return counts;
}

const std::vector<std::string> kTransformers = {"TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
                                                "TransformerDecoder", "Transformer"};

std::vector<std::string> with_transformers(std::vector<std::string> modules) {
  modules.insert(modules.end(), kTransformers.begin(), kTransformers.end());
  return modules;
}

const std::vector<std::string> kAttention = with_transformers({"MultiheadAttention"});
const std::vector<std::string> kLinear = with_transformers({"Linear"});
const std::vector<std::string> kLayerNorm = with_transformers({"LayerNorm"});
const std::vector<std::string> kEmbedding = {"Embedding"};
const std::vector<std::string> kConv = {"Conv1d", "Conv2d"};
const std::vector<std::string> kAnyModule = with_transformers({"MultiheadAttention", "Linear", "LayerNorm", "Embedding", "Conv1d", "Conv2d"});
const std::vector<std::string> kSdpaFrames = {"scaled_dot_product_attention"};
const std::vector<std::string> kMhaFrames = {"multi_head_attention_forward", "MultiheadAttention", "self_attn", "multihead_attn"};

// --- readings shared by several messages ---------------------------------------------------

// k.view(k.shape[0], bsz * num_heads, head_dim) in F.multi_head_attention_forward: the key has
// S * Nk * E elements, E = num_heads * head_dim, while bsz is the query's batch N.
std::vector<Reading> key_batch_view(const Captures& c, const ModuleHints& hints) {
  std::vector<std::int64_t> shape = integers(c, "shape");
  std::int64_t size = integer(c, "size");
  if (shape.size() != 3 || std::any_of(shape.begin(), shape.end(), [](std::int64_t d) { return d <= 0; })) return {};
  std::int64_t length = shape[0], rows = shape[1], head_dim = shape[2];
  std::optional<std::int64_t> row_size = product({length, head_dim});
  if (!row_size || size % *row_size != 0) return {};
  std::int64_t per_head = size / *row_size;  // Nk * num_heads
  std::vector<Reading> readings;
  for (std::int64_t heads : likely_head_counts(rows, hints)) {
    if (rows % heads != 0 || per_head % heads != 0) continue;
    std::int64_t batch = rows / heads, key_batch = per_head / heads, embed_dim = heads * head_dim;
    if (key_batch == batch) continue;
    readings.push_back(Reading{
        fmt::format("{} = {} x {} x {}: key/value batch {} against query batch {} (with num_heads {}: embed_dim {} = {} x {}, key length {})",
                    size, length, key_batch, embed_dim, key_batch, batch, heads, embed_dim, heads, head_dim, length),
        {"construct with batch_first=True if the tensors are (batch, sequence, features)",
         "or transpose query, key and value with .transpose(0, 1)",
         fmt::format("or give key and value the query's batch size {}", batch)}});
  }
  return readings;
}

std::vector<Reading> reshape_elements(const Captures& c, const ModuleHints&) {
  std::vector<std::int64_t> shape = integers(c, "shape");
  std::int64_t size = integer(c, "size");
  std::vector<std::int64_t> known;
  for (std::int64_t d : shape) {
    if (d != -1) known.push_back(d);
  }
  std::optional<std::int64_t> count = product(known);
  if (!count) return {};
  std::string shape_text = fmt::format("[{}]", fmt::join(shape, ", "));
  if (known.size() < shape.size()) {
    return one(fmt::format("the input has {} elements, which the sizes besides -1 ({} = {}) do not divide", size,
                           known.empty() ? "1" : times(known), *count),
               {fmt::format("reshape to sizes whose product divides {} (the input's shape decides which)", size),
                "print x.shape just before the view/reshape: an earlier layer may have produced another shape"});
  }
  return one(fmt::format("shape {} holds {} = {} elements, but the input has {}", shape_text, *count, times(shape), size),
             {fmt::format("let PyTorch infer one size with -1, or reshape to sizes whose product is {}", size),
              "print x.shape just before the view/reshape: an earlier layer may have produced another shape"});
}

std::string dtype_fix(const std::string& to) { return fmt::format("convert the input with .to(torch.{})", to); }

std::vector<Reading> input_weights_dtype(const Captures& c, const ModuleHints&) {
  if (!has(c, "input")) {
    return one("an input's dtype differs from the layer's parameters (float32 unless the module was converted)",
               {"convert the input to the module's dtype, e.g. x.float()", "or convert the module, e.g. module.double()"});
  }
  std::string input = torch_dtype(c.at("input")), weights = torch_dtype(c.at("weights"));
  return one(fmt::format("the input is {} but the layer's parameters are {}", input, weights),
             {dtype_fix(weights), fmt::format("or build the module in {} (dtype=torch.{}, or .to(torch.{}))", input, input, input)});
}

std::vector<Reading> matmul_dtype(const Captures& c, const ModuleHints&) {
  if (!has(c, "input")) return one("torch.matmul's operands have different dtypes; it does not promote", {"cast one operand with .to(...)"});
  return one(fmt::format("torch.matmul's operands are {} and {}; it does not promote", torch_dtype(c.at("input")), torch_dtype(c.at("weights"))),
             {fmt::format("cast the second operand with .to(torch.{})", torch_dtype(c.at("input")))});
}

std::vector<Reading> any_dim_out_of_range(const Captures& c, const ModuleHints&) {
  std::int64_t low = integer(c, "low"), high = integer(c, "high"), dim = integer(c, "dim");
  return one(fmt::format("the tensor has {} dim{} (valid dims {} to {}), so dim {} does not exist", high + 1, high == 0 ? "" : "s", low, high, dim),
             {fmt::format("use a dim between {} and {}", low, high), "or check the tensor's rank: it may have lost or never had a dim"});
}

// The mask is added to the attention scores: (N*num_heads, L, S) or (N, num_heads, L, S).
std::vector<Reading> broadcast_mask(const Captures& c, const ModuleHints&) {
  return one(fmt::format("attn_mask does not broadcast to the attention scores (..., L, S): size {} against {} at dim {}", c.at("b"), c.at("a"),
                         c.at("dim")),
             {"pass attn_mask as (L, S), or with one dim per leading dim of the scores: (N, 1 or heads, L, S)"});
}

// torch.matmul broadcasts only the batch dims (all but the last two) and numbers the failing
// dim among them: (N, heads) are dims 0 and 1, a dim 2 or later needs 5-D operands.
bool past_usual_batch_dims(const Captures& c) { return integer(c, "dim") >= 2; }

std::vector<Reading> sdpa_batch(const Captures& c, const ModuleHints&) {
  std::int64_t a = integer(c, "a"), b = integer(c, "b");
  Reading reading{fmt::format("query's and key/value's batch dims (N, heads) differ at dim {}: {} against {}", c.at("dim"), a, b),
                  {"give query, key and value the same batch and head dims (or 1 to broadcast)"}};
  reading.uncommon = past_usual_batch_dims(c);
  if (b > 1 && a % b == 0) {
    reading.fixes.insert(reading.fixes.begin(),
                         fmt::format("if {} query heads share {} key/value heads (grouped-query attention), pass enable_gqa=True "
                                     "(PyTorch 2.5+) or key.repeat_interleave({}, dim=-3) and the same for value",
                                     a, b, a / b));
  }
  return {reading};
}

std::vector<Reading> mask_dtype(const Captures& c, const ModuleHints&) {
  std::string mask = c.at("mask");
  std::string dtype = has(c, "dtype") ? fmt::format(" ({})", torch_dtype(c.at("dtype"))) : "";
  return one(fmt::format("{} has an integer dtype{}; PyTorch 2.x takes bool masks (True = not allowed to attend) or float masks "
                         "(added to the scores), uint8 included no more",
                         mask, dtype),
             {fmt::format("pass {} as bool: {}.bool()", mask, mask), fmt::format("or as the query's float dtype: {}.float()", mask)});
}

std::vector<Reading> attn_mask_query_dtype(const Captures& c, const ModuleHints&) {
  std::string mask = torch_dtype(c.at("mask")), query = torch_dtype(c.at("query"));
  return one(fmt::format("attn_mask is {} but the query is {}: a float mask must have the query's dtype", mask, query),
             {fmt::format("pass attn_mask as bool, or as {} (attn_mask.to(query.dtype))", query)});
}

std::vector<Reading> negative_kv_dim(const Captures& c, const ModuleHints&) {
  std::vector<std::int64_t> sizes = integers(c, "sizes");
  if (sizes.size() != 2 || sizes[1] >= 0 || sizes[0] < 0) return {};
  return one(fmt::format("kdim or vdim is {}: the key/value projection weight would be ({}, {})", sizes[1], sizes[0], sizes[1]),
             {"construct with positive kdim and vdim (the key's and value's feature sizes), or leave them out"});
}

std::vector<Reading> negative_size(const Captures& c, const ModuleHints&) {
  return one(fmt::format("a module size is {}: a parameter of shape [{}] cannot be created", c.at("dim"), c.at("sizes")),
             {"construct the module with positive sizes (in_features, out_features, dim_feedforward, normalized_shape, ...)"});
}

// mat1 (rows x features) @ mat2 (in x out): F.linear flattens the input's leading dims.
std::vector<Reading> linear_features(const Captures& c, const ModuleHints&) {
  std::int64_t features = integer(c, "k"), in = integer(c, "a");
  if (features == in) return {};
  return one(fmt::format("the input has {} features (its last dim) but the Linear's in_features is {} (out_features {}); {} = the "
                         "product of the input's other dims",
                         features, in, c.at("b"), c.at("rows")),
             {fmt::format("construct with in_features={}", features), fmt::format("or pass an input whose last dim is {}", in)});
}

// The packed in-projection: linear(k, w_kv) with w_kv (2E, E) when key is value, else (E, E).
std::vector<Reading> key_projection(const Captures& c, const ModuleHints& hints) {
  std::int64_t features = integer(c, "k"), in = integer(c, "a"), out = integer(c, "b");
  if (features == in || (out != in && out != 2 * in)) return {};
  if (hints.embed_dim && *hints.embed_dim != in) return {};
  std::string which = out == 2 * in ? "the key (passed as value too) goes through the packed key/value projection"
                                    : "the key goes through the key projection";
  return one(fmt::format("{}: it has {} features but embed_dim is {}; {} = key length x batch", which, features, in, c.at("rows")),
             {fmt::format("construct with kdim={}, vdim={} (separate key/value projections)", features, features),
              fmt::format("or give key and value {} features", in)});
}

std::vector<Reading> matmul_inner(const Captures& c, const ModuleHints&) {
  std::int64_t k = integer(c, "k"), a = integer(c, "a");
  if (k == a) return {};
  std::vector<std::string> fixes = {fmt::format("make the first operand's last dim ({}) equal the second's second-to-last ({})", k, a)};
  if (has(c, "b") && c.at("b") == c.at("k")) fixes.insert(fixes.begin(), "the second operand looks transposed: use other.transpose(-2, -1)");
  return one(fmt::format("torch.matmul multiplies ({} x {}) by ({} x {}): the contracted sizes {} and {} differ", c.at("rows"), k, a,
                         has(c, "b") ? c.at("b") : "...", k, a),
             fixes);
}

std::vector<Reading> sdpa_features(const Captures& c, const ModuleHints&) {
  if (c.at("k") == c.at("a")) return {};
  return one(fmt::format("query has {} features per position but key has {}: query @ key.transpose(-2, -1) cannot contract them", c.at("k"),
                         c.at("a")),
             {"give query and key the same last dim (E)"});
}

std::vector<Reading> sdpa_lengths(const Captures& c, const ModuleHints&) {
  if (c.at("k") == c.at("a")) return {};
  return one(fmt::format("the attention weights cover {} key positions but value has {}: softmax(scores) @ value cannot contract them",
                         c.at("k"), c.at("a")),
             {"give key and value the same sequence length (dim -2)"});
}

std::vector<Reading> bmm_inner(const Captures& c, const ModuleHints&) {
  return one(fmt::format("a batched matmul (bmm) of batch {}: the first operand's last dim is {} but the second has {} rows", c.at("batch"),
                         c.at("k"), c.at("a")),
             {"make the first operand's last dim equal the second's second-to-last"});
}

// "value cannot be converted to type {type} without overflow", c10's checked conversion of a
// Scalar to a dtype's C++ type: masked_fill's value, for any type (-1e9 on float16 scores is the
// common case), or the Transformer modules' causal-mask detection, which builds -inf in an
// integer mask's dtype and so only for an integer type.
bool floating_cpp_type(const std::string& type) {
  return type == "at::Half" || type == "c10::Half" || type == "at::BFloat16" || type == "c10::BFloat16" || type == "float" ||
         type == "double";
}

std::vector<Reading> fill_value_overflow(const Captures& c, const ModuleHints&) {
  const std::string& type = c.at("type");
  if (type == "at::Half" || type == "c10::Half") {
    return one("masked_fill's value does not fit float16, whose finite values reach 65504: a fill of -1e9 or -1e10 written for float32 "
               "overflows under half precision",
               {"fill with torch.finfo(scores.dtype).min (-65504 in float16) or float('-inf')"});
  }
  return one(fmt::format("masked_fill's value does not fit the tensor's dtype ({}){}", type,
                         floating_cpp_type(type) ? "" : ": an integer dtype holds no infinity or NaN"),
             {floating_cpp_type(type) ? "fill with torch.finfo(dtype).min or float('-inf')"
                                      : "fill with torch.iinfo(dtype).min, or make the tensor floating before filling it with -inf"});
}

std::vector<Reading> causal_detect_overflow(const Captures& c, const ModuleHints&) {
  const std::string& type = c.at("type");
  if (floating_cpp_type(type)) return {};
  return one(fmt::format("an integer ({}) mask met the causal-mask detection, which builds a mask of -inf in the mask's dtype", type),
             {"pass the mask as bool (True = not allowed to attend) or float"});
}

// "embed_dim must be divisible by num_heads": the numbers come from --module, if at all.
std::vector<Reading> heads_dividing(const Captures&, const ModuleHints& hints) {
  std::string meaning = "each head gets embed_dim / num_heads features, so num_heads must divide embed_dim";
  if (!hints.embed_dim || !hints.num_heads || *hints.embed_dim <= 0 || *hints.num_heads <= 0) {
    return one(meaning, {"pick a num_heads that divides embed_dim (512: 1, 2, 4, 8, 16, ...), or an embed_dim that is a multiple of it"});
  }
  std::int64_t embed_dim = *hints.embed_dim, heads = *hints.num_heads;
  if (embed_dim % heads == 0) return {};
  std::int64_t below = heads, above = heads;
  while (embed_dim % below != 0) --below;
  while (above < embed_dim && embed_dim % above != 0) ++above;
  std::vector<std::string> fixes = {fmt::format("construct with num_heads={}", below)};
  if (above != below) fixes.push_back(fmt::format("or num_heads={}", above));
  fixes.push_back(fmt::format("or embed_dim={} ({} heads of {})", (embed_dim / heads + 1) * heads, heads, embed_dim / heads + 1));
  return one(fmt::format("{}: {} / {} is not whole", meaning, embed_dim, heads), fixes);
}

// "expecting {which} weights shape of (E, features), but got torch.Size([E, size])": the
// separate projections' check, `which` "key" (sized by kdim) or "value" (vdim).
std::vector<Reading> projection_features(const Captures& c, const std::string& which, const std::string& option) {
  if (c.at("which") != which) return {};
  return one(fmt::format("the {} has {} features but the module's {} is {}", which, c.at("features"), option, c.at("size")),
             {fmt::format("construct with {}={}", option, c.at("features")), fmt::format("or give the {} {} features", which, c.at("size"))});
}

// Dimension out of range for dim 1 of a 1-D tensor.
bool dim_1_of_1d(const Captures& c) { return c.at("low") == "-1" && c.at("high") == "0" && c.at("dim") == "1"; }

}  // namespace

const std::vector<MessagePattern>& pytorch_message_table() {
  static const std::vector<MessagePattern> table = {
      // --- nn.MultiheadAttention -----------------------------------------------------------
      {"RuntimeError",
       {{"1.13 and 2.x", "shape '[{shape:list}]' is invalid for input of size {size}"}},
       {{.id = DiagId::BatchMismatch, .read = key_batch_view, .modules = kAttention, .frames = kMhaFrames},
        {.id = DiagId::ReshapeInvalid, .read = reshape_elements, .frames = {"view(", "reshape(", ".view", ".reshape"}}}},
      {"ValueError",
       {{"2.x", "embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and num_heads={num_heads} instead"},
        {"1.13", "integer division or modulo by zero", "ZeroDivisionError"}},
       {{.id = DiagId::ModuleNonPositive,
         .meaning = "embed_dim and num_heads must both be positive (1.13 fails dividing embed_dim by num_heads=0)",
         .fixes = {"construct with a positive embed_dim and a positive num_heads that divides it"},
         .modules = kAttention}}},
      {"AssertionError",
       {{"1.13 and 2.x", "embed_dim must be divisible by num_heads"}},
       {{.id = DiagId::ModuleHeadsDivide, .read = heads_dividing, .modules = kAttention}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Trying to create tensor with negative dimension {dim}: [{sizes:list}]"}},
       {{.id = DiagId::ModuleNegativeKvDim, .read = negative_kv_dim, .modules = {"MultiheadAttention"}},
        {.id = DiagId::NegativeSize, .read = negative_size, .modules = kAnyModule},
        {.id = DiagId::ConstructorSize, .meaning = "a tensor constructor (ones, zeros, full, empty, new_*) was given the size {dim}: [{sizes}]",
         .fixes = {"give sizes of 0 or more; a size computed from other sizes (T - window) may be negative for short inputs"},
         .frames = {"ones(", "zeros(", "full(", "empty(", "new_", "rand(", "randn("}},
        {.id = DiagId::ExpandSizes, .meaning = "Tensor.repeat (or expand) would make a tensor of size {dim}: [{sizes}]",
         .fixes = {"give repeat counts of 0 or more, and expand sizes of 0 or more (or -1 to keep a size)"},
         .frames = {"repeat(", "expand("}}}},
      {"AssertionError",
       {{"1.13 and 2.x", "query should be unbatched 2D or batched 3D tensor but received {rank}-D query tensor"}},
       {{.id = DiagId::QueryRank,
         .meaning = "the query is {rank}-D; nn.MultiheadAttention takes (L, N, E), (N, L, E) with batch_first=True, or unbatched (L, E)",
         .fixes = {"drop or merge the extra dims (a 4-D (N, heads, L, head_dim) tensor is already split into heads)"},
         .modules = kAttention}}},
      {"AssertionError",
       {{"1.13 and 2.x",
         "For {kind:word} ({query_rank}-D) `query`, expected `key` and `value` to be {rank}-D but found {key_rank}-D and {value_rank}-D "
         "tensors respectively"}},
       {{.id = DiagId::KeyValueRank,
         .meaning = "the query is {query_rank}-D ({kind}), so key and value must be {rank}-D; they are {key_rank}-D and {value_rank}-D",
         .fixes = {"give key and value the query's rank: all batched (3-D) or all unbatched (2-D)"},
         .modules = kAttention}}},
      {"AssertionError",
       {{"1.13 and 2.x",
         "For {kind:word} ({query_rank}-D) `query`, expected `key_padding_mask` to be `None` or {rank}-D but found {mask_rank}-D tensor "
         "instead"}},
       {{.id = DiagId::KeyPaddingMaskRank,
         .meaning = "key_padding_mask is {mask_rank}-D; with a {kind} query it must be {rank}-D: (N, S) batched, (S,) unbatched",
         .fixes = {"pass key_padding_mask as (batch, key length), True where a key position is padding"},
         .modules = kAttention}}},
      {"AssertionError",
       {{"1.13 and 2.x",
         "For {kind:word} ({query_rank}-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found {mask_rank}-D tensor instead"}},
       {{.id = DiagId::AttnMaskRank,
         .meaning = "attn_mask is {mask_rank}-D; it must be (L, S) or (N*num_heads, L, S)",
         .fixes = {"reshape a (N, num_heads, L, S) mask with attn_mask.flatten(0, 1)", "or pass one (L, S) mask shared by all"},
         .modules = kAttention}}},
      {"IndexError",
       {{"1.13 and 2.x", "Dimension out of range (expected to be in range of [{low}, {high}], but got {dim})"}},
       {{.id = DiagId::DimOutOfRange, .read = any_dim_out_of_range, .frames = {"transpose", "softmax", "flatten", "unsqueeze", "squeeze", "cat("}},
        {.id = DiagId::SdpaHeads,
         .read =
             [](const Captures& c, const ModuleHints&) {
               if (c.at("dim") != "-3") return std::vector<Reading>{};
               return one(fmt::format("with enable_gqa=True, F.scaled_dot_product_attention reads the heads from dim -3 of a {}-D tensor",
                                      integer(c, "high") + 1),
                          {"pass query, key and value as (N, heads, L, E) with enable_gqa=True, or leave enable_gqa off"});
             },
         .frames = kSdpaFrames},
        {.id = DiagId::TransposeRank,
         .read =
             [](const Captures& c, const ModuleHints&) {
               if (!dim_1_of_1d(c)) return std::vector<Reading>{};
               return one("with batch_first=True nn.MultiheadAttention transposes key and value with .transpose(1, 0); a 1-D key or value "
                          "has no dim 1",
                          {"pass key and value as (N, S, E) (or (S, E) unbatched)"});
             },
         .modules = kAttention,
         .frames = kMhaFrames},
        {.id = DiagId::SequenceDim,
         .read =
             [](const Captures& c, const ModuleHints&) {
               if (!dim_1_of_1d(c)) return std::vector<Reading>{};
               return one("a Transformer stack or nn.Transformer reads the sequence length or batch from dim 1 of a 1-D input",
                          {"pass src/tgt as (L, N, E), (N, L, E) with batch_first=True, or unbatched (L, E)"});
             },
         .modules = kTransformers,
         .frames = {"_get_seq_len", "transformer"}}}},
      {"IndexError",
       {{"1.13 and 2.x", "Dimension specified as {dim} but tensor has no dimensions"}},
       {{.id = DiagId::SequenceDim,
         .meaning = "a 0-D tensor has no dim {dim}: nn.Transformer reads the batch size from dim {dim} of src and tgt",
         .fixes = {"pass src and tgt as (S, N, E) and (T, N, E), or (N, S, E) with batch_first=True"},
         .modules = kTransformers},
        {.id = DiagId::DimOutOfRange,
         .meaning = "a 0-D tensor has no dim {dim}",
         .fixes = {"index dims of tensors that have them; a 0-D tensor (a scalar) has none"}},
        {.id = DiagId::IndexRank, .meaning = "unbind of a 0-D tensor: it has no dim {dim} to take apart",
         .fixes = {"unbind a tensor with at least one dim (a 0-D tensor is one number already)"}, .frames = {"unbind"}}}},
      {"AssertionError",
       {{"1.13 and 2.x", "was expecting embedding dimension of {embed_dim}, but got {features}"}},
       {{.id = DiagId::QueryEmbedDim,
         .meaning = "the query's last dim is {features} but the module was built with embed_dim={embed_dim}",
         .fixes = {"construct with embed_dim={features} (and a num_heads dividing it)",
                   "or, if another dim of the query is {embed_dim}, the query is permuted: batch_first=False reads (L, N, E), "
                   "batch_first=True (N, L, E)"},
         .modules = kAttention}}},
      {"AssertionError",
       {{"1.13 and 2.x", "key shape torch.Size([{key:list}]) does not match value shape torch.Size([{value:list}])"}},
       {{.id = DiagId::KeyValueShape,
         .meaning = "key is ({key}) but value is ({value}); with one packed projection (no kdim/vdim) they must be identical",
         .fixes = {"pass key and value of one shape", "or, when only their feature sizes differ, construct with kdim= and vdim="},
         .modules = kAttention}}},
      {"AssertionError",
       {{"1.13 and 2.x", "key's sequence and batch dims torch.Size([{key:list}]) do not match value's torch.Size([{value:list}])"}},
       {{.id = DiagId::KeyValueLeadingDims,
         .meaning = "key's (sequence, batch) dims are ({key}) but value's are ({value}); they must agree",
         .fixes = {"give key and value the same sequence length and batch size"},
         .modules = kAttention}}},
      {"AssertionError",
       {{"1.13 and 2.x", "expecting {which:word} weights shape of ({embed_dim}, {features}), but got torch.Size([{rows}, {size}])"}},
       {{.id = DiagId::KeyFeatureDim,
         .read = [](const Captures& c, const ModuleHints&) { return projection_features(c, "key", "kdim"); },
         .modules = kAttention},
        {.id = DiagId::ValueFeatureDim,
         .read = [](const Captures& c, const ModuleHints&) { return projection_features(c, "value", "vdim"); },
         .modules = kAttention}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and {a}x{b})"}},
       {{.id = DiagId::KeyFeatureDim, .read = key_projection, .modules = kAttention, .frames = kMhaFrames},
        {.id = DiagId::LinearFeatures, .read = linear_features, .modules = kLinear, .frames = {"linear", "Linear"}},
        {.id = DiagId::MatmulContraction, .read = matmul_inner, .frames = {"matmul", " @ ", ".mm("}},
        {.id = DiagId::SdpaFeatures, .read = sdpa_features, .frames = kSdpaFrames},
        {.id = DiagId::SdpaKeyValueLength, .read = sdpa_lengths, .frames = kSdpaFrames}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "t() expects a tensor with <= 2 dimensions, but self is {rank}D"}},
       {{.id = DiagId::InputRank, .meaning = "F.linear's weight is {rank}-D; it transposes a 2-D (out_features, in_features) weight with t()",
         .fixes = {"pass the weight as (out_features, in_features); a stack of weights is applied with torch.matmul or einsum instead"},
         .frames = {"linear"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "mat2 must be a matrix, got 1-D tensor"}},
       {{.id = DiagId::InputRank, .meaning = "F.linear with a bias runs addmm, which takes a 2-D (out_features, in_features) weight; the weight is 1-D",
         .fixes = {"pass weight[None], the (1, in_features) matrix of one output feature"}, .frames = {"linear"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "self and mat2 must have the same dtype, but got {bias:word} and {weights:word}"}},
       {{.id = DiagId::InputModuleDType,
         .read =
             [](const Captures& c, const ModuleHints&) {
               return one(fmt::format("F.linear's bias is {} but its weight is {}; addmm adds them in one dtype", torch_dtype(c.at("bias")),
                                      torch_dtype(c.at("weights"))),
                          {fmt::format("pass the bias as {}: bias.to(weight.dtype)", torch_dtype(c.at("weights")))});
             },
         .frames = {"linear"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Expected size for first two dimensions of batch2 tensor to be: [{batch}, {k}] but got: [{batch2}, {a}]."}},
       {{.id = DiagId::MatmulContraction, .read = bmm_inner, .frames = {"matmul", " @ ", "bmm"}},
        {.id = DiagId::SdpaFeatures, .read = sdpa_features, .frames = kSdpaFrames},
        {.id = DiagId::SdpaKeyValueLength, .read = sdpa_lengths, .frames = kSdpaFrames},
        {.id = DiagId::BmmShapes,
         .meaning = "torch.bmm called directly: mat2 must be ({batch}, {k}, p) for input's batch and columns, and is ({batch2}, {a}, p); bmm does "
                    "not broadcast",
         .fixes = {"make mat2's batch and rows match input's batch and columns", "or use torch.matmul, which broadcasts a batch of 1"},
         .frames = {"bmm("}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "The shape of the {rank}D attn_mask is torch.Size([{got:list}]), but should be ({expected:list})."}},
       {{.id = DiagId::AttnMask2dShape,
         .read =
             [](const Captures& c, const ModuleHints&) {
               std::vector<std::int64_t> got = integers(c, "got"), expected = integers(c, "expected");
               if (c.at("rank") != "2" || got.size() != 2 || expected.size() != 2) return std::vector<Reading>{};
               Reading reading{fmt::format("a 2-D attn_mask is (L, S) = ({}, {}): the query's length {} by the key's {}; got ({}, {})", expected[0],
                                           expected[1], expected[0], expected[1], got[0], got[1]),
                               {fmt::format("pass an attn_mask of shape ({}, {})", expected[0], expected[1]),
                                "with batch_first=True, L and S are dim 1 of query and key (masks are never transposed)"}};
               if (got[0] == expected[1] && got[1] == expected[0]) reading.fixes.insert(reading.fixes.begin(), "the mask is transposed: pass attn_mask.T");
               return std::vector<Reading>{reading};
             },
         .modules = kAttention},
        {.id = DiagId::AttnMask3dShape,
         .read =
             [](const Captures& c, const ModuleHints&) {
               std::vector<std::int64_t> got = integers(c, "got"), expected = integers(c, "expected");
               if (c.at("rank") != "3" || got.size() != 3 || expected.size() != 3) return std::vector<Reading>{};
               Reading reading{fmt::format("a 3-D attn_mask is (N*num_heads, L, S) = ({}); got ({})", c.at("expected"), c.at("got")),
                               {fmt::format("pass an attn_mask of shape ({})", c.at("expected"))}};
               if (got[0] > 0 && got[0] < expected[0] && expected[0] % got[0] == 0 && got[1] == expected[1] && got[2] == expected[2]) {
                 reading.meaning += fmt::format(": one mask per batch entry ({}) where one per batch entry and head ({}) is needed", got[0], expected[0]);
                 reading.fixes.insert(reading.fixes.begin(), fmt::format("attn_mask.repeat_interleave({}, dim=0)", expected[0] / got[0]));
               }
               return std::vector<Reading>{reading};
             },
         .modules = kAttention}}},
      {"AssertionError",
       {{"1.13 and 2.x", "Expected `attn_mask` shape to be ({expected:list}) but got torch.Size([{got:list}])"}},
       {{.id = DiagId::AttnMask3dShape,
         .meaning = "with an unbatched query a 3-D attn_mask is (num_heads, L, S) = ({expected}); got ({got})",
         .fixes = {"pass an attn_mask of shape ({expected}), or one (L, S) mask shared by every head"},
         .modules = kAttention}}},
      {"AssertionError",
       {{"2.x", "Expected key_padded_mask.shape[{dim}] to be {expected}, but got {got}"},
        {"1.13", "expecting key_padding_mask shape of ({batch}, {length}), but got torch.Size([{got_batch}, {got_length}])"}},
       {{.id = DiagId::KeyPaddingMaskShape,
         .read =
             [](const Captures& c, const ModuleHints&) {
               std::vector<std::string> fixes = {"pass key_padding_mask as (batch, key length): (N, S), never transposed by batch_first"};
               if (has(c, "batch")) {
                 if (c.at("got_batch") == c.at("length") && c.at("got_length") == c.at("batch")) fixes.insert(fixes.begin(), "the mask is transposed: pass key_padding_mask.T");
                 return one(fmt::format("key_padding_mask is ({}, {}) but must be (N, S) = ({}, {})", c.at("got_batch"), c.at("got_length"),
                                        c.at("batch"), c.at("length")),
                            fixes);
               }
               if (c.at("dim") == "0") {
                 return one(fmt::format("key_padding_mask's batch (dim 0) is {} but the query's batch is {}", c.at("got"), c.at("expected")),
                            fixes);
               }
               fixes.push_back("add_bias_kv and add_zero_attn append key positions to the mask themselves: pass it for the key's own length");
               return one(fmt::format("key_padding_mask covers {} key positions (dim 1) but the key has {}", c.at("got"), c.at("expected")), fixes);
             },
         .modules = kAttention}}},
      {"AssertionError",
       {{"2.x", "only bool and floating types of {mask:word} are supported"},
        {"1.13", "Only float, byte, and bool types are supported for {mask:word}, not torch.{dtype:word}"}},
       {{.id = DiagId::MaskDType, .read = mask_dtype, .modules = kAttention}}},
      {"UserWarning",
       {{"2.x", "Support for mismatched {mask:word} and {other:word} is deprecated. Use same type for both instead."}},
       {{.id = DiagId::MaskDTypeMismatch,
         .meaning = "{mask} and {other} have different dtypes; a float key_padding_mask is added to the attention mask, not or-ed",
         .fixes = {"pass both masks as bool (True = not allowed to attend)"},
         .modules = kAttention}}},
      {"RuntimeError",
       {{"2.x", "Expected attn_mask dtype to be bool or float or to match query dtype, but got attn_mask.dtype: {mask:text} and query.dtype: "
                "{query:text} instead."}},
       {{.id = DiagId::SdpaMaskDType, .read = attn_mask_query_dtype, .frames = kSdpaFrames},
        {.id = DiagId::MaskQueryDType, .read = attn_mask_query_dtype, .modules = kAttention, .frames = kMhaFrames}}},
      {"RuntimeError",
       {{"2.x", "Input dtypes must be the same, got: input {mask:word}, batch1: {query:word}, batch2: {key:word}"}},
       {{.id = DiagId::MaskQueryDType, .read = attn_mask_query_dtype, .modules = kAttention}}},
      {"RuntimeError",
       {{"2.x", "mat1 and mat2 must have the same dtype, but got {input:word} and {weights:word}"},
        {"1.13", "mat1 and mat2 must have the same dtype"}},
       {{.id = DiagId::InputModuleDType, .read = input_weights_dtype, .modules = kAnyModule},
        {.id = DiagId::MatmulDType, .read = matmul_dtype}}},
      {"RuntimeError",
       {{"2.x", "expected m1 and m2 to have the same dtype, but got: {input:text} != {weights:rest}"},
        {"1.13", "expected scalar type {input:word} but found {weights:word}"}},
       {{.id = DiagId::InputModuleDType, .read = input_weights_dtype, .modules = kAnyModule},
        {.id = DiagId::MatmulDType, .read = matmul_dtype},
        {.id = DiagId::BmmDType, .meaning = "torch.bmm's operands are {input} and {weights}; it does not promote",
         .fixes = {"cast one operand with .to(...)"}, .frames = {"bmm("}},
        {.id = DiagId::EinsumDType,
         .meaning = "torch.einsum summed a dim two operands share with bmm, and they are {input} and {weights}; einsum promotes only products "
                    "without a sum",
         .fixes = {"cast the operands to one dtype with .to(...)"}, .frames = {"einsum("}}}},
      {"RuntimeError",
       {{"2.x", "mixed dtype (CPU): expect parameter to have scalar type of {weights:word}"},
        {"2.x", "mixed dtype (CPU): all inputs must share same datatype."}},
       {{.id = DiagId::InputModuleDType, .read = input_weights_dtype, .modules = kLayerNorm}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"LayerNormKernelImpl\" not implemented for '{dtype:word}'"}},
       {{.id = DiagId::InputModuleDType,
         .meaning = "LayerNorm's input is {dtype}; it takes floating point input",
         .fixes = {"convert the input with .float() (or the module's dtype)"},
         .modules = kLayerNorm}}},
      {"RuntimeError",
       {{"2.x", "Need attn_mask if specifying the is_causal hint. You may use the Transformer module method "
                "`generate_square_subsequent_mask` to create this mask."}},
       {{.id = DiagId::CausalWithoutMask,
         .meaning = "in nn.MultiheadAttention is_causal=True is only a hint that attn_mask is causal; the mask itself must be passed",
         .fixes = {"pass attn_mask=nn.Transformer.generate_square_subsequent_mask(L) with is_causal=True", "or drop is_causal"},
         .modules = kAttention}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Sizes of tensors must match except in dimension {dim}. Expected size {expected} but got size {got} for tensor number "
                         "{index} in the list."}},
       {{.id = DiagId::CatShapes,
         .meaning = "torch.cat along dim {dim}: tensor number {index} has size {got} in another dim where the first has {expected}",
         .fixes = {"make every dim but the joined one equal, or join along the dim where they differ"},
         .frames = {"cat("}},
        {.id = DiagId::BatchMismatch,
         .read =
             [](const Captures& c, const ModuleHints&) {
               if (c.at("dim") != "0" || c.at("index") != "1") return std::vector<Reading>{};
               return one(fmt::format("add_bias_kv: the key's rows hold batch {} where the query's batch is {}", c.at("got"), c.at("expected")),
                          {"construct with batch_first=True if the tensors are (batch, sequence, features)",
                           "or give key and value the query's batch size"});
             },
         .modules = kAttention,
         .frames = kMhaFrames}}},
      // --- F.scaled_dot_product_attention --------------------------------------------------
      {"RuntimeError",
       {{"2.x", "Expected query, key, and value to have the same dtype, but got query.dtype: {query:text} key.dtype: {key:text} and "
                "value.dtype: {value:text} instead."}},
       {{.id = DiagId::SdpaDType,
         .read =
             [](const Captures& c, const ModuleHints&) {
               return one(fmt::format("query is {}, key {}, value {}; they must have one dtype", torch_dtype(c.at("query")),
                                      torch_dtype(c.at("key")), torch_dtype(c.at("value"))),
                          {fmt::format("cast them to one dtype, e.g. .to(torch.{})", torch_dtype(c.at("query")))});
             }}}},
      {"RuntimeError",
       {{"2.x", "Expected query, key, and value to all be at least 2 dimensional, but got query.dim: {query} key.dim: {key} and value.dim: "
                "{value} instead."}},
       {{.id = DiagId::SdpaRank,
         .meaning = "query is {query}-D, key {key}-D, value {value}-D; each needs at least (sequence, features)",
         .fixes = {"add the missing dims, e.g. x.unsqueeze(0) for one position"}}}},
      {"RuntimeError",
       {{"2.x", "_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"}},
       {{.id = DiagId::SdpaCausalWithMask,
         .meaning = "F.scaled_dot_product_attention takes either is_causal=True or an attn_mask, not both",
         .fixes = {"drop attn_mask (is_causal builds the causal mask)", "or pass is_causal=False with the full mask"}}}},
      {"RuntimeError",
       {{"2.x", "Number of heads in key and value must divide the number of heads in"}},
       {{.id = DiagId::SdpaHeads,
         .meaning = "with enable_gqa=True the key/value head count must divide the query's",
         .fixes = {"use a key/value head count that divides the query's (8 query heads: 1, 2, 4 or 8)"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "The size of tensor a ({a}) must match the size of tensor b ({b}) at non-singleton dimension {dim}"}},
       {{.id = DiagId::AddBroadcast,
         .meaning = "the operands differ at dim {dim} of the broadcast result: {a} against {b}, and neither is 1",
         .fixes = {"make the shapes equal or 1 in each dim, aligned from the right; a residual added in another layout ((L, N, E) "
                   "against (N, L, E)) is a common cause"},
         // ".mul(": torch.mul(, x.mul( but not matmul(, a torch.matmul frame being MHA308's
         .frames = {" + ", "add(", "+=", " - ", " * ", " / ", "sub(", ".mul(", "div("}},
        {.id = DiagId::MaskedFillShape,
         .meaning = "masked_fill's mask and input differ at dim {dim} of the broadcast result: {a} (mask) against {b} (input)",
         .fixes = {"give the mask the input's layout with size-1 dims where it repeats (a padding mask (N, S) on scores (N, H, L, S): "
                   "mask[:, None, None, :])"},
         .frames = {"masked_fill"}},
        {.id = DiagId::SdpaBatch, .read = sdpa_batch, .frames = kSdpaFrames},
        {.id = DiagId::SdpaMaskShape, .read = broadcast_mask, .frames = {"attn_mask", "mask"}},
        {.id = DiagId::MatmulBatch,
         .read =
             [](const Captures& c, const ModuleHints&) {
               std::vector<Reading> readings = one(fmt::format("torch.matmul's batch dims (all but the last two) differ at dim {}: {} against {}",
                                                               c.at("dim"), c.at("a"), c.at("b")),
                                                   {"make the batch dims equal or 1"});
               readings.front().uncommon = past_usual_batch_dims(c);
               return readings;
             },
         .frames = {"matmul", " @ "}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "output with shape [{output:list}] doesn't match the broadcast shape [{broadcast:list}]"}},
       {{.id = DiagId::SdpaMaskShape,
         .meaning = "the attn_mask broadcasts to [{broadcast}], larger than the attention scores [{output}] it is added to in place",
         .fixes = {"pass attn_mask as (L, S), or with at most the scores' leading dims"},
         .frames = kSdpaFrames},
        {.id = DiagId::ReduceDims,
         .meaning = "torch.logsumexp over dim=() without keepdim: the 0-D sum gets the max, kept as [{broadcast}], added in place",
         .fixes = {"pass keepdim=True, or list the dims"},
         .frames = {"logsumexp"}}}},
      // --- glue operators ------------------------------------------------------------------
      {"RuntimeError",
       {{"1.13 and 2.x", "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of "
                         "dimensions i.e. input.dim() = {rank} is not equal to len(dims) = {count}"}},
       {{.id = DiagId::PermuteDims,
         .meaning = "the input has {rank} dims but permute was given {count}",
         .fixes = {"name each of the input's {rank} dims once"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "permute(): duplicate dims are not allowed."}},
       {{.id = DiagId::PermuteDims, .meaning = "permute names one dim twice", .fixes = {"name each dim of the input exactly once"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "only one dimension can be inferred"}},
       {{.id = DiagId::ReshapeInvalid, .meaning = "the shape has two -1 sizes", .fixes = {"give every size but one; -1 marks the one to infer"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "invalid shape dimension {size}"}},
       {{.id = DiagId::ReshapeInvalid, .meaning = "the shape has the negative size {size}; only -1 (infer) may be negative",
         .fixes = {"use -1 for the size to infer, positive sizes otherwise"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "cannot reshape tensor of {size} elements into shape [{shape:list}] because the unspecified dimension size -1 can be "
                         "any value and is ambiguous"}},
       {{.id = DiagId::ReshapeInvalid, .meaning = "the input is empty and the shape [{shape}] has a 0 size, so -1 could be anything",
         .fixes = {"give the size explicitly instead of -1"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "view size is not compatible with input tensor's size and stride (at least one dimension spans across two "
                         "contiguous subspaces). Use .reshape(...) instead."}},
       {{.id = DiagId::ViewLayout,
         .meaning = "view merges or splits dims that are not adjacent in memory: the input comes from transpose, permute, expand or "
                    "slicing",
         .fixes = {"x.reshape(...) instead of x.view(...) (a copy only when needed)", "x.contiguous().view(...)"},
         .frames = {"view(", ".view"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "flatten() has invalid args: start_dim cannot come after end_dim"}},
       {{.id = DiagId::FlattenDims, .meaning = "flatten's start_dim comes after its end_dim (after wrapping negative dims)",
         .fixes = {"swap start_dim and end_dim"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "both arguments to {op:word} need to be at least 1D, but they are {rank_a}D and {rank_b}D"}},
       {{.id = DiagId::MatmulRank,
         .read =
             [](const Captures& c, const ModuleHints&) {
               if (c.at("op") != "matmul") return std::vector<Reading>{};
               return one(fmt::format("torch.matmul got a {}-D and a {}-D operand; both need at least one dim", c.at("rank_a"), c.at("rank_b")),
                          {"multiply by a scalar with * instead"});
             },
         .frames = {"matmul", " @ "}},
        {.id = DiagId::InputRank,
         .read =
             [](const Captures& c, const ModuleHints&) {
               // 2.x names linear; 1.13's F.linear went through matmul with the 2-D weight.
               if (c.at("rank_a") != "0" || (c.at("op") != "linear" && c.at("rank_b") != "2")) return std::vector<Reading>{};
               return one("the Linear's input is 0-D (a scalar); nn.Linear needs at least its features dim",
                          {"pass the input as (*, in_features)"});
             },
         .modules = kLinear,
         .frames = {"linear"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "inconsistent tensor size, expected tensor [{a}] and src [{b}] to have the same number of elements, but got {k} and "
                         "{a2} elements respectively"}},
       {{.id = DiagId::MatmulContraction, .meaning = "a dot product of two 1-D tensors of {a} and {b} elements",
         .fixes = {"give both operands the same length"}}}},
      {"RuntimeError",
       {{"2.x", "size mismatch, got input ({rows}), mat ({rows2}x{k}), vec ({a})"}, {"1.13", "size mismatch, got {rows}, {rows2}x{k},{a}"}},
       {{.id = DiagId::MatmulContraction, .meaning = "a matrix-vector product: the matrix has {k} columns but the vector {a} elements",
         .fixes = {"make the matrix's last dim equal the vector's length"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"softmax{kernel:word}\" not implemented for '{dtype:word}'"},
        {"1.13 and 2.x", "\"log_softmax{kernel:word}\" not implemented for '{dtype:word}'"}},
       {{.id = DiagId::SoftmaxDType, .meaning = "softmax or log_softmax of a {dtype} tensor: the CPU kernels take floating point only",
         .fixes = {"convert the scores with .float() first, or pass dtype=torch.float32"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "zero-dimensional tensor (at position {index}) cannot be concatenated"}},
       {{.id = DiagId::CatShapes, .meaning = "tensor number {index} is 0-D; torch.cat joins tensors along a dim",
         .fixes = {"unsqueeze the scalar to 1-D first (x.unsqueeze(0)), or use torch.stack"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Tensors must have same number of dimensions: got {rank_a} and {rank_b}"}},
       {{.id = DiagId::CatShapes, .meaning = "torch.cat got a {rank_a}-D and a {rank_b}-D tensor; all must have one rank",
         .fixes = {"unsqueeze or reshape the tensors to one rank first"}}}},
      // --- elementwise, activations, reductions, expand ------------------------------------
      {"RuntimeError",
       {{"1.13 and 2.x", "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead."}},
       {{.id = DiagId::SubBool, .meaning = "a - b of two bool tensors", .fixes = {"use a ^ b (logical_xor) for bools"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert a mask, use the "
                         "`~` or `logical_not()` operator instead."}},
       {{.id = DiagId::SubBool, .meaning = "a subtraction with a bool tensor, usually 1 - mask",
         .fixes = {"invert a bool mask with ~mask", "or convert it first: 1 - mask.float()"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{mode:text}'"}},
       {{.id = DiagId::DivRoundingMode, .meaning = "torch.div's rounding_mode is '{mode}'", .fixes = {"pass rounding_mode=None, \"trunc\" or \"floor\""}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the "
                         "`~` or `logical_not()` operator instead."}},
       {{.id = DiagId::ActivationDType, .meaning = "-x (torch.neg) of a bool tensor", .fixes = {"invert a bool mask with ~mask"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"abs_cpu\" not implemented for '{dtype:word}'"}},
       {{.id = DiagId::ActivationDType, .meaning = "abs of a {dtype} tensor", .fixes = {"convert the input with .float() first"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Integers to negative integer powers are not allowed."}},
       {{.id = DiagId::ActivationDType, .meaning = "an integer tensor to a negative integer power: pow keeps the integer dtype, which has no fractions",
         .fixes = {"convert the base first: x.float() ** -1 (or pass a float exponent, -1.0)"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"pow\" not implemented for 'Bool'"}},
       {{.id = DiagId::ActivationDType, .meaning = "pow of bool operands: its CPU kernel takes numbers only",
         .fixes = {"convert the base with .float() (or .long()) first"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Boolean inputs not supported for relu"}},
       {{.id = DiagId::ActivationDType, .meaning = "relu of a bool tensor", .fixes = {"convert the input with .float() first"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"GeluKernelImpl\" not implemented for '{dtype:word}'"}, {"1.13 and 2.x", "\"silu_cpu\" not implemented for '{dtype:word}'"}},
       {{.id = DiagId::ActivationDType, .meaning = "gelu or silu of a {dtype} tensor: their CPU kernels take floating point only",
         .fixes = {"convert the input with .float() first"}, .frames = {"gelu", "silu", "GELU", "SiLU"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"bitwise_not_cpu\" not implemented for '{dtype:word}'"}},
       {{.id = DiagId::ActivationDType, .meaning = "bitwise_not (~) of a {dtype} tensor: it takes bool and integer tensors only",
         .fixes = {"invert a float 0/1 mask with mask == 0, or make it bool first: ~mask.bool()"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"bitwise_and_cpu\" not implemented for '{dtype:word}'"}, {"1.13 and 2.x", "\"bitwise_or_cpu\" not implemented for '{dtype:word}'"}},
       {{.id = DiagId::ActivationDType, .meaning = "a & b or a | b (bitwise_and/or) with a {dtype} operand: they take bool and integer tensors only",
         .fixes = {"combine masks with torch.logical_and / torch.logical_or, which take any dtype, or make float 0/1 masks bool first: mask.bool()"}}}},
      {"TypeError",
       {{"1.13 and 2.x", "~ (operator.invert) is only implemented on integer and Boolean-type tensors"}},
       {{.id = DiagId::ActivationDType, .meaning = "~x of a floating tensor: ~ takes bool and integer tensors only",
         .fixes = {"invert a float 0/1 mask with mask == 0, or make it bool first: ~mask.bool()"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "approximate argument must be either none or tanh."}},
       {{.id = DiagId::GeluApproximate, .meaning = "F.gelu's approximate is not 'none' or 'tanh'", .fixes = {"pass approximate=\"none\" or \"tanh\""}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "dim {dim} appears multiple times in the list of dims"}},
       {{.id = DiagId::ReduceDims, .meaning = "dim {dim} is listed twice (after wrapping negative dims) in a reduction's dims",
         .fixes = {"list each dim once: -1 and the last dim's index are the same dim"}},
        {.id = DiagId::PermuteDims, .meaning = "torch.flip's dims name dim {dim} twice (after wrapping negative dims)",
         .fixes = {"list each dim to flip once: -1 and the last dim's index are the same dim"}, .frames = {"flip("}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"argmax_cpu\" not implemented for '{dtype:word}'"}, {"1.13 and 2.x", "\"argmin_cpu\" not implemented for '{dtype:word}'"}},
       {{.id = DiagId::ReduceDType, .meaning = "argmax or argmin of a {dtype} tensor: their CPU kernels take numbers only",
         .fixes = {"convert the input with .float() (or .long()) first; the first True of a bool mask is mask.long().argmax()"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {dtype:word}"}},
       {{.id = DiagId::ReduceDType, .meaning = "torch.mean of a {dtype} tensor", .fixes = {"convert the input with .float() first, or pass dtype=torch.float32"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "where expected condition to be a boolean tensor, but got a tensor with dtype {dtype:word}"}},
       {{.id = DiagId::WhereConditionDType, .meaning = "torch.where's condition is {dtype}, not bool",
         .fixes = {"compare it first: mask != 0, or attention_mask == 1 for a 1 = keep mask"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {dtype:word}"}},
       {{.id = DiagId::ReduceDType, .meaning = "torch.linalg.vector_norm (or Tensor.norm) of a {dtype} tensor",
         .fixes = {"convert the input with .float() first"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "{op:word}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."},
        {"1.13 and 2.x", "{op:word}(): Expected reduction dim to be specified for input.numel() == 0.", "IndexError"}},
       {{.id = DiagId::ReduceDims, .meaning = "{op} of a tensor with no elements, over every dim: the max of nothing has no identity",
         .fixes = {"reduce over a dim that is not empty, or skip the call on an empty tensor"}}}},
      {"IndexError",
       {{"1.13 and 2.x", "{op:word}(): Expected reduction dim {dim} to have non-zero size."}},
       {{.id = DiagId::ReduceDims, .meaning = "{op} over dim {dim}, which has size 0: the max of nothing has no identity",
         .fixes = {"reduce over a dim that is not empty"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "linalg.vector_norm cannot compute the {ord:text} norm on an empty tensor because the operation does not have an identity"},
        {"1.13 and 2.x", "linalg.vector_norm cannot compute the {ord:text} norm on the dimension {dim}because this dimension is empty and the "
                         "operation does not have an identity"}},
       {{.id = DiagId::ReduceDims, .meaning = "vector_norm of order {ord} (a max or a negative power) of an empty tensor or dim has no identity",
         .fixes = {"use ord=2, or reduce over a dim that is not empty"}}}},
      {"RuntimeError",
       {{"2.x", "masked_fill_ only supports boolean masks, but got mask with dtype {dtype:text}"}},
       {{.id = DiagId::MaskedFillDType, .meaning = "masked_fill's mask is {dtype}, not bool (1.13 accepted uint8 and float masks)",
         .fixes = {"pass mask.bool(), or compare: mask != 0"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "expand({tensor:text}, size=[{target:list}]): the number of sizes provided ({count}) must be greater or "
                         "equal to the number of dimensions in the tensor ({rank})"}},
       {{.id = DiagId::ExpandSizes, .meaning = "expand got {count} sizes for a {rank}-D tensor; it can add leading dims but not drop any",
         .fixes = {"give one size per dim (-1 keeps a size): x.expand(B, -1, -1) for a (1, 1, E) tensor"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "The expanded size of the tensor ({target}) must match the existing size ({size}) at non-singleton dimension {dim}.  "
                         "Target sizes: [{sizes:list}].  Tensor sizes: [{existing:list}]"}},
       {{.id = DiagId::ExpandSizes, .meaning = "expand asks for {target} at dim {dim}, where the tensor has {size}; only size-1 dims stretch",
         .fixes = {"pass -1 (or {size}) at dim {dim}", "or use repeat to tile a dim that is not 1"}},
        {.id = DiagId::AddBroadcast,
         .read =
             [](const Captures& c, const ModuleHints&) {
               // addmm expands a 1-D bias to (rows, out_features): the target's dim 1 is the weight's out_features.
               if (c.at("dim") != "1" || integers(c, "sizes").size() != 2 || integers(c, "existing").size() != 1) return std::vector<Reading>{};
               return one(fmt::format("F.linear's bias has {} entries but the weight makes {} output features", c.at("size"), c.at("target")),
                          {fmt::format("pass a bias of {} entries (the weight's out_features), or none", c.at("target"))});
             },
         .frames = {"linear"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension {dim}"}},
       {{.id = DiagId::ExpandSizes, .meaning = "expand's -1 at dim {dim} is a new leading dim, which has no size to keep",
         .fixes = {"give the new dim's size, e.g. x.expand(B, -1, -1)"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"}},
       {{.id = DiagId::ExpandSizes, .meaning = "Tensor.repeat got fewer repeat counts than the tensor has dims",
         .fixes = {"give one count per dim (1 keeps a dim): x.repeat(B, 1, 1) for a 3-D tensor"}}}},
      {"RuntimeError",
       {{"2.x", "Repeats must be non-negative"}, {"1.13", "repeats can not be negative"}},
       {{.id = DiagId::ExpandSizes, .meaning = "repeat_interleave's repeats is negative", .fixes = {"pass repeats of 0 or more"}}}},
      // --- stack and the constructors ------------------------------------------------------
      {"RuntimeError",
       {{"1.13 and 2.x", "stack expects each tensor to be equal size, but got [{first:list}] at entry 0 and [{other:list}] at entry {index}"}},
       {{.id = DiagId::StackShapes,
         .meaning = "torch.stack's tensor number {index} is [{other}] where the first is [{first}]; stack adds a new dim and needs tensors of one "
                    "shape",
         .fixes = {"give every tensor one shape", "or join them along a dim they already have with torch.cat"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "n must be greater or equal to 0, got {n}"}, {"1.13 and 2.x", "m must be greater or equal to 0, got {n}"}},
       {{.id = DiagId::ConstructorSize, .meaning = "torch.eye was given the negative size {n}", .fixes = {"give eye sizes of 0 or more"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "upper bound and larger bound inconsistent with step sign"}},
       {{.id = DiagId::ConstructorSize, .meaning = "torch.arange's step leads away from end: from start it never reaches end",
         .fixes = {"swap start and end, or pass a step of the other sign (arange(T - 1, -1, -1) counts down)"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "step must be nonzero"}},
       {{.id = DiagId::ConstructorSize, .meaning = "torch.arange's step is 0", .fixes = {"pass a step that is not 0 (the default is 1)"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "unsupported range: {start:text} -> {end:rest}"}},
       {{.id = DiagId::ConstructorSize, .meaning = "torch.arange from {start} to {end}: start and end must be finite",
         .fixes = {"pass finite start and end"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "invalid size, possible overflow?"}},
       {{.id = DiagId::ConstructorSize, .meaning = "torch.arange would hold more elements than an int64 counts", .fixes = {"use a larger step or a shorter range"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Storage size calculation overflowed with sizes=[{sizes:list}]"}},
       {{.id = DiagId::ConstructorSize, .meaning = "a tensor of sizes [{sizes}] needs more bytes than an int64 counts",
         .fixes = {"check the sizes: one is far larger than meant"}}}},
      // --- Transformer modules, Linear, LayerNorm, Embedding -------------------------------
      {"RuntimeError",
       {{"1.13 and 2.x", "activation should be relu/gelu, not {activation:rest}"}},
       {{.id = DiagId::ActivationInvalid, .meaning = "the layer's activation string is \"{activation}\"; only \"relu\" and \"gelu\" (lower case) are known",
         .fixes = {"construct with activation=\"relu\" or \"gelu\", or pass the function itself (activation=F.silu)"},
         .modules = kTransformers}}},
      {"IndexError",
       {{"1.13 and 2.x", "index {index} is out of range"}},
       {{.id = DiagId::NoLayers, .meaning = "the stack's ModuleList is empty (num_layers <= 0); forward reads self.layers[0]",
         .fixes = {"construct with num_layers=1 or more"}, .modules = kTransformers}}},
      {"IndexError",
       {{"1.13 and 2.x", "tuple index out of range"}},
       {{.id = DiagId::SequenceDim, .meaning = "a Transformer stack reads the sequence length from a dim its 1-D or 0-D input does not have",
         .fixes = {"pass src as (S, N, E), (N, S, E) with batch_first=True, or unbatched (S, E)"}, .modules = kTransformers}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "the batch number of src and tgt must be equal"}},
       {{.id = DiagId::TransformerBatch, .meaning = "nn.Transformer's src and tgt have different batch sizes (dim 1, or 0 with batch_first=True)",
         .fixes = {"construct with batch_first=True if the tensors are (batch, sequence, features)", "or give src and tgt one batch size"},
         .modules = {"Transformer"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "the feature number of src and tgt must be equal to d_model"}},
       {{.id = DiagId::TransformerFeatures, .meaning = "the last dim of src or tgt is not nn.Transformer's d_model",
         .fixes = {"give src and tgt d_model features (project them with nn.Linear or nn.Embedding first)"}, .modules = {"Transformer"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "value cannot be converted to type {type:word} without overflow"}},
       {{.id = DiagId::MaskedFillValueOverflow, .read = fill_value_overflow, .frames = {"masked_fill"}},
        {.id = DiagId::CausalDetectDType, .read = causal_detect_overflow, .modules = kTransformers}}},
      {"ValueError",
       {{"1.13 and 2.x", "dropout probability has to be between 0 and 1, but got {p:rest}"}},
       {{.id = DiagId::DropoutRange, .meaning = "dropout={p} is not a probability", .fixes = {"construct with a dropout in [0, 1], e.g. 0.1"},
         .modules = kTransformers},
        {.id = DiagId::DropoutProbability, .meaning = "F.dropout's p={p} is not a probability", .fixes = {"pass p in [0, 1], e.g. 0.1"},
         .frames = {"dropout("}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Given normalized_shape=[{normalized:list}], expected input with shape [*, {trailing:list}], but got input of "
                         "size[{input:list}]"}},
       {{.id = DiagId::LayerNormShape,
         .meaning = "LayerNorm normalises over the last dims [{normalized}], but the input is [{input}]",
         .fixes = {"construct the LayerNorm with the input's trailing dims as normalized_shape", "or pass an input ending in [{normalized}]"},
         .modules = kLayerNorm}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one element, but got "
                         "normalized_shape = []"}},
       {{.id = DiagId::LayerNormShape, .meaning = "LayerNorm was constructed with an empty normalized_shape",
         .fixes = {"construct with the features dim, e.g. nn.LayerNorm(512)"}, .modules = kLayerNorm}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Expected {parameter:word} to be of same shape as normalized_shape, but got {name:word} of shape [{shape:list}] and "
                         "normalized_shape = [{normalized:list}]"}},
       {{.id = DiagId::LayerNormShape, .meaning = "F.layer_norm's {parameter} is [{shape}] but normalized_shape is [{normalized}]",
         .fixes = {"pass a {parameter} of shape [{normalized}], one entry per normalised element"}, .frames = {"layer_norm"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but got {dtype:word} "
                         "instead (while checking arguments for embedding)"}},
       {{.id = DiagId::IndicesDType,
         .read =
             [](const Captures& c, const ModuleHints&) {
               return one(fmt::format("nn.Embedding's input is {}; it looks rows up by int64 or int32 indices", torch_dtype(c.at("dtype"))),
                          {"pass the token ids as int64: input.long()"});
             },
         .modules = kEmbedding}}},
      {"AssertionError",
       {{"1.13 and 2.x", "Padding_idx must be within num_embeddings"}},
       {{.id = DiagId::PaddingIdx, .meaning = "padding_idx is outside [-num_embeddings, num_embeddings - 1]",
         .fixes = {"use a padding_idx inside the table, or enlarge num_embeddings"}, .modules = kEmbedding}}},
      {"IndexError",
       {{"1.13 and 2.x", "index {index} is out of bounds for dimension 0 with size {size}"}},
       {{.id = DiagId::PaddingIdx,
         .read =
             [](const Captures& c, const ModuleHints&) {
               if (c.at("size") != "0") return std::vector<Reading>{};
               return one("an nn.Embedding with num_embeddings=0 zeroes row padding_idx of its empty table",
                          {"construct with num_embeddings of at least 1"});
             },
         .modules = kEmbedding}}},
      // --- nn.Conv1d, nn.Conv2d ----------------------------------------------------------------
      {"ValueError",
       {{"1.13 and 2.x", "groups must be a positive integer"}},
       {{.id = DiagId::ConvGroups, .meaning = "the convolution was constructed with groups of 0 or less",
         .fixes = {"construct with groups=1, or a positive count that divides in_channels and out_channels"}, .modules = kConv}}},
      {"ValueError",
       {{"1.13 and 2.x", "{channels:word} must be divisible by groups"}},
       {{.id = DiagId::ConvGroups, .meaning = "the convolution's {channels} do not split into `groups` equal groups",
         .fixes = {"construct with groups that divides in_channels and out_channels"}, .modules = kConv}}},
      {"ValueError",
       {{"1.13 and 2.x", "Invalid padding string '{padding:text}', should be one of {choices:rest}"}},
       {{.id = DiagId::ConvPadding, .meaning = "padding='{padding}' is not 'same' or 'valid'",
         .fixes = {"construct with padding='same', padding='valid' or an int"}, .modules = kConv}}},
      {"ValueError",
       {{"1.13 and 2.x", "padding='same' is not supported for strided convolutions"}},
       {{.id = DiagId::ConvPadding, .meaning = "padding='same' keeps the length, which a stride other than 1 cannot",
         .fixes = {"construct with stride=1, or with padding=kernel_size // 2"}, .modules = kConv}}},
      {"ValueError",
       {{"1.13 and 2.x", "padding_mode must be one of {modes:text}, but got padding_mode='{mode:text}'"}},
       {{.id = DiagId::ConvPadding, .meaning = "padding_mode='{mode}' is not one of PyTorch's", .fixes = {"construct with padding_mode='zeros'"},
         .modules = kConv}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Expected {unbatched}D (unbatched) or {batched}D (batched) input to conv{dims}d, but got input of size: [{input:list}]"}},
       {{.id = DiagId::ConvInputRank, .meaning = "conv{dims}d takes a {batched}-D (N, C, ...) or {unbatched}-D (C, ...) input, not [{input}]",
         .fixes = {"add the channel dim (unsqueeze(1)) or the batch dim, or remove an extra dim"}, .modules = kConv, .frames = {"conv"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "expected {option:word} to be a single integer value or a list of {count} values to match the convolution dimensions, "
                         "but got {again:word}=[{sizes:list}]"}},
       {{.id = DiagId::ConvArgumentLength, .meaning = "the convolution's {option} has the wrong number of sizes for its {count}-D kernel",
         .fixes = {"pass one int, or one size per spatial dim (and as many kernel_size sizes)"}, .modules = kConv}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Expected {rank}-dimensional input for {weight_rank}-dimensional weight [{weight:list}], but got {input_rank}-dimensional "
                         "input of size [{input:list}] instead"}},
       {{.id = DiagId::ConvArgumentLength, .meaning = "the convolution's weight [{weight}] has more kernel dims than the input [{input}] has",
         .fixes = {"pass kernel_size with one size per spatial dim"}, .modules = kConv}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "negative padding is not supported"}},
       {{.id = DiagId::ConvArgumentValue, .meaning = "the convolution's padding is negative", .fixes = {"construct with padding of 0 or more"},
         .modules = kConv}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "non-positive stride is not supported"}},
       {{.id = DiagId::ConvArgumentValue, .meaning = "the convolution's stride is 0 or less", .fixes = {"construct with stride of 1 or more"},
         .modules = kConv}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "non-positive dilation is not supported"}},
       {{.id = DiagId::ConvArgumentValue, .meaning = "the convolution's dilation is 0 or less", .fixes = {"construct with dilation of 1 or more"},
         .modules = kConv}}},
      {"RuntimeError",
       {{"1.13", "kernel size should be greater than zero, but got kernel_height: {height} kernel_width: {width}"}},
       {{.id = DiagId::ConvArgumentValue, .meaning = "the convolution's kernel_size is 0", .fixes = {"construct with kernel_size of 1 or more"},
         .modules = kConv}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Given groups={groups}, expected weight to be at least {least} at dimension 0, but got weight of size [{weight:list}] instead"}},
       {{.id = DiagId::ConvArgumentValue, .meaning = "the convolution has fewer out_channels than groups={groups}",
         .fixes = {"construct with out_channels of at least groups"}, .modules = kConv}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Given groups={groups}, weight of size [{weight:list}], expected input[{input:list}] to have {expected} channels, but got "
                         "{actual} channels instead"}},
       {{.id = DiagId::ConvChannels,
         .meaning = "the input [{input}] has {actual} channels at dim 1 but the convolution takes {expected}",
         .fixes = {"construct with in_channels={actual}", "or pass the channels at dim 1: a channels-last input needs a permute"},
         .modules = kConv, .frames = {"conv"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Calculated padded input size per channel: ({padded:text}). Kernel size: ({kernel:text}). Kernel size can't be greater than "
                         "actual input size"}},
       {{.id = DiagId::ConvKernelSize, .meaning = "the padded input ({padded}) is smaller than the dilated kernel ({kernel})",
         .fixes = {"pass a larger input, pad it (padding=), or use a smaller kernel_size or dilation"}, .modules = kConv}}},
      {"RuntimeError",
       {{"1.13", "Argument #{argument}: Padding size should be less than the corresponding input dimension, but got: padding ({before}, {after}) "
                 "at dimension {dim} of input {input:rest}"}},
       {{.id = DiagId::ConvPadding, .meaning = "reflect padding ({before}, {after}) reaches past dim {dim}, which F.pad cannot reflect",
         .fixes = {"pad less than the dim's size, or construct with padding_mode='zeros'"}, .modules = kConv, .frames = {"pad"}}}},
      {"RuntimeError",
       {{"1.13", "Padding value causes wrapping around more than once."}},
       {{.id = DiagId::ConvPadding, .meaning = "circular padding larger than the dim it wraps around",
         .fixes = {"pad at most the dim's size, or construct with padding_mode='zeros'"}, .modules = kConv, .frames = {"pad"}}}},
      {"RuntimeError",
       {{"1.13", "Expected {low}D or {high}D (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, but got: "
                 "[{input:list}]"}},
       {{.id = DiagId::ConvPadding, .meaning = "replicate padding of the empty input [{input}]: it has no element to repeat",
         .fixes = {"pass an input with at least one element per spatial dim, or construct with padding_mode='zeros'"}, .modules = kConv,
         .frames = {"pad"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Input type ({input:text}) and bias type ({bias:text}) should be the same"}},
       {{.id = DiagId::InputModuleDType, .meaning = "the input is {input} but the convolution's parameters are {bias}",
         .fixes = {"convert the input to the parameters' dtype, or the module to the input's"}, .modules = kConv}}},
      // --- split, split_with_sizes, chunk --------------------------------------------------
      {"RuntimeError",
       {{"1.13 and 2.x", "split expects at least a 1-dimensional tensor"}},
       {{.id = DiagId::IndexRank, .meaning = "split (an int or a list of sizes) was given a 0-D tensor, which has no dim to cut",
         .fixes = {"split a tensor with at least one dim"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "chunk expects at least a 1-dimensional tensor"}},
       {{.id = DiagId::IndexRank, .meaning = "chunk was given a 0-D tensor, which has no dim to cut", .fixes = {"chunk a tensor with at least one dim"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "chunk expects `chunks` to be greater than 0, got: {chunks}"}},
       {{.id = DiagId::ChunkCount, .meaning = "chunk({chunks}) asks for no chunks", .fixes = {"pass the number of chunks, at least 1"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "split expects split_size be non-negative, but got split_size={size}"}},
       {{.id = DiagId::SplitSize, .meaning = "split_size={size} is negative", .fixes = {"pass the size of each piece, a positive integer"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "split_size can only be 0 if dimension size is 0, but got dimension size of {size}"}},
       {{.id = DiagId::SplitSize, .meaning = "split_size=0 cannot cut a dim of size {size} into pieces",
         .fixes = {"pass the size of each piece, or use chunk(n) for n pieces"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes=[{sizes:list}]"}},
       {{.id = DiagId::SplitSizesSum, .meaning = "the sizes [{sizes}] of split have a negative entry", .fixes = {"pass sizes of 0 or more"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's size at dimension {dim}), but got "
                         "split_sizes=[{sizes:list}]"}},
       {{.id = DiagId::SplitSizesSum, .meaning = "the sizes [{sizes}] of split do not add up to {size}, the size of dim {dim}",
         .fixes = {"make the sizes add up to {size}", "or split the dim whose size they add up to"}}}},
      {"ValueError",
       {{"1.13 and 2.x", "not enough values to unpack (expected {names}, got {count})"}},
       {{.id = DiagId::UnpackCount, .meaning = "{names} names were unpacked from {count} tensors (split or chunk returns as many as the dim's size makes)",
         .fixes = {"split into pieces of size / {names}, or chunk({names}) a dim that {names} divides"},
         .frames = {"split(", "chunk("}}}},
      // --- einsum, bmm -----------------------------------------------------------------------
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): subscript {label:word} has size {size} for operand {operand} which does not broadcast with previously seen "
                         "size {seen}"}},
       {{.id = DiagId::EinsumSize,
         .meaning = "subscript {label} labels a dim of size {size} in operand {operand} but of size {seen} in an earlier operand; only a size of 1 "
                    "broadcasts",
         .fixes = {"check which dim each letter labels in every operand (a transposed or unsplit tensor moves the sizes)",
                   "or give the dims their own letters if they are different dims"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): dimension {dim} covered by ellipsis in operand {operand}has size {size} which does not broadcast with "
                         "previously seen ellipsis with size {seen} for the respective dimension"},
        {"later 2.x", "einsum(): dimension {dim} covered by ellipsis in operand {operand} has size {size} which does not broadcast with "
                      "previously seen ellipsis with size {seen} for the respective dimension"}},
       {{.id = DiagId::EinsumSize,
         .meaning = "the dims under \"...\" do not broadcast: dim {dim} of operand {operand} is {size} where an earlier operand has {seen}",
         .fixes = {"make the leading (batch) dims of the operands equal or 1", "or name the dims with letters"}}}},
      {"RuntimeError",
       {{"1.12 and earlier", "einsum(): operands do not broadcast with remapped shapes [original->remapped]: {shapes:rest}"}},
       {{.id = DiagId::EinsumSize,
         .meaning = "a subscript labels dims of different sizes in two operands (the shapes, as written and aligned: {shapes})",
         .fixes = {"check which dim each letter labels in every operand"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): subscript {label:word} is repeated for operand {operand} but the sizes don't match, {size} != {other}"}},
       {{.id = DiagId::EinsumDiagonal,
         .meaning = "subscript {label} appears twice in operand {operand}'s term, a diagonal, but labels dims of sizes {size} and {other}",
         .fixes = {"use two letters for two different dims"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): the number of subscripts in the equation ({labels}) does not match the number of dimensions ({dims}) for "
                         "operand {operand} and no ellipsis was given"},
        {"1.13 and 2.x", "einsum(): the number of subscripts in the equation ({labels}) is more than the number of dimensions ({dims}) for "
                         "operand {operand}"}},
       {{.id = DiagId::EinsumRank,
         .meaning = "operand {operand}'s term names {labels} dims but the tensor has {dims}",
         .fixes = {"pass a tensor of the rank the equation says (heads split off or merged as it expects)", "or write one letter per dim"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): invalid subscript given at index {index} in the equation string, subscripts must be in [a-zA-Z]"}},
       {{.id = DiagId::EinsumEquation, .meaning = "the equation's character at index {index} is not a letter, ',', '->', '...' or a space",
         .fixes = {"write subscripts as single letters a-z, A-Z"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): found '.' for operand {operand} for which an ellipsis was already found"},
        {"1.13 and 2.x", "einsum(): found '.' for operand {operand} that is not part of any ellipsis"}},
       {{.id = DiagId::EinsumEquation, .meaning = "operand {operand}'s term has a '.' outside one \"...\"",
         .fixes = {"write the ellipsis as exactly three dots, once per term"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): found '.' for output but an ellipsis (...) was already found"},
        {"1.13 and 2.x", "einsum(): found '.' for output that is not part of any ellipsis (...)"}},
       {{.id = DiagId::EinsumEquation, .meaning = "the output (after '->') has a '.' outside one \"...\"",
         .fixes = {"write the ellipsis as exactly three dots, once in the output"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): output subscript {label:word} appears more than once in the output"},
        {"1.13 and 2.x", "einsum(): output subscript {label:word} does not appear in the equation for any input operand"}},
       {{.id = DiagId::EinsumOutput, .meaning = "the output subscript {label} is written twice, or no operand has it",
         .fixes = {"write each output letter once, and only letters the operands have"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "einsum(): fewer operands were provided than specified in the equation"},
        {"1.13 and 2.x", "einsum(): more operands were provided than specified in the equation"},
        {"1.13 and 2.x", "einsum(): must specify the equation string and at least one operand, or at least one operand and its subscripts list",
         "ValueError"}},
       {{.id = DiagId::EinsumOperandCount, .meaning = "the equation has one comma-separated term per operand, and the call passes another number",
         .fixes = {"pass one tensor per term"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "batch1 must be a 3D tensor"}, {"1.13 and 2.x", "batch2 must be a 3D tensor"}},
       {{.id = DiagId::BmmRank, .meaning = "torch.bmm takes two 3-D tensors (batch, rows, columns) and broadcasts nothing",
         .fixes = {"use torch.matmul for other ranks", "or reshape the operands to 3-D"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"bmm\" not implemented for 'Bool'"}},
       {{.id = DiagId::BmmDType, .meaning = "a batched matrix product of bool tensors: bmm has no bool kernel", .fixes = {"convert to a float dtype first"},
         .frames = {"bmm("}},
        {.id = DiagId::EinsumDType, .meaning = "torch.einsum summed a dim of two bool operands with bmm, which has no bool kernel",
         .fixes = {"convert the operands to a float dtype first"}, .frames = {"einsum("}},
        {.id = DiagId::MatmulDType, .meaning = "torch.matmul (or @) of two batched bool tensors: bmm has no bool kernel",
         .fixes = {"convert both operands to a float dtype first (mask.float())"}, .frames = {"matmul", "@"}}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "\"dot\" not implemented for 'Bool'"},
        {"1.13 and 2.x", "\"addmv_impl_cpu\" not implemented for 'Bool'"},
        {"1.13 and 2.x", "\"addmm_impl_cpu_\" not implemented for 'Bool'"}},
       {{.id = DiagId::MatmulDType, .meaning = "torch.matmul (or @, mm, mv, dot) of bool tensors: no CPU product kernel takes bool",
         .fixes = {"convert both operands to a float dtype first (mask.float())"}}}},
      // --- mhacheck run: weights and data --------------------------------------------------
      {"IndexError",
       {{"1.13 and 2.x", "index out of range in self"}},
       {{.id = DiagId::IndexOutOfRange, .meaning = "an nn.Embedding input holds an index outside 0 to num_embeddings - 1",
         .fixes = {"check the tokenizer's vocabulary size against num_embeddings", "a negative id does not count from the end here"},
         .modules = kEmbedding}}},
      {"IndexError",
       {{"1.13 and 2.x", "select(): index {index} out of range for tensor of size [{rows}, {dim}] at dimension 0"}},
       {{.id = DiagId::IndexOutOfRange, .meaning = "index {index} is outside the embedding's {rows} rows (max_norm renormalises them first)",
         .fixes = {"use indices 0 to num_embeddings - 1"}, .modules = kEmbedding}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "size mismatch for {parameter:word}: copying a param with shape torch.Size([{saved:list}]) from checkpoint, the shape in "
                         "current model is torch.Size([{model:list}])."}},
       {{.id = DiagId::WeightsShape,
         .meaning = "the checkpoint's {parameter} is [{saved}] but the module's is [{model}]: the module was built with other sizes",
         .fixes = {"construct the module with the sizes the checkpoint was saved with (embed_dim, num_heads, kdim, vdim, ...)"},
         .modules = kAnyModule}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Missing key(s) in state_dict: {keys:rest}"}},
       {{.id = DiagId::WeightsMissing, .meaning = "the checkpoint lacks {keys}: it was saved from a module built with other arguments",
         .fixes = {"construct the module as it was saved (kdim/vdim, bias, add_bias_kv change the parameters)",
                   "or load with strict=False if the parameters are meant to stay initialised"},
         .modules = kAnyModule}}},
      {"RuntimeError",
       {{"1.13 and 2.x", "Unexpected key(s) in state_dict: {keys:rest}"}},
       {{.id = DiagId::WeightsUnexpected, .meaning = "the checkpoint has {keys}, which the module does not have",
         .fixes = {"construct the module as it was saved (kdim/vdim, bias, add_bias_kv change the parameters)"},
         .modules = kAnyModule}}},
  };
  return table;
}

}  // namespace mhacheck
