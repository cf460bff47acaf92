// Mask conventions followed up the graph, from a call's argument to the declared tensor it was
// made from (mask_origin.hpp).
#include "mask_origin.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include <fmt/format.h>

#include "dim_origin.hpp"

namespace mhacheck {

using namespace std::string_view_literals;

// Names as string_views: every `add` of a big graph walks up to kMaxSteps producers through this
// and the tests below, and a view compares lengths before bytes where a C string is measured first.
bool keeps_values(std::string_view op) {
  static constexpr std::array<std::string_view, 17> ops = {"getitem", "unsqueeze", "squeeze", "view", "reshape", "flatten",
                                                           "expand", "transpose", "permute", "contiguous", "clone", "repeat",
                                                           "repeat_interleave", "detach", "expand_as", "view_as", "reshape_as"};
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

std::string number_text(const nlohmann::json& number) {
  if (number.is_string()) return fmt::format("float('{}')", number.get<std::string>());
  // The shortest text that reads back as the same double: finfo.min is -3.4028234663852886e+38,
  // which {:g} cut to another number; a whole one is written as the code writes it (10000).
  return number.is_number_float() ? fmt::format("{}", number.get<double>()) : number.dump();
}

namespace {

// A graph has no cycles, but a chain is walked call by call: a bound keeps a 100,000-call spec's
// checks linear.
constexpr int kMaxSteps = 16;

MaskConvention inverted(MaskConvention convention) {
  switch (convention) {
    case MaskConvention::TrueIgnores: return MaskConvention::TrueKeeps;
    case MaskConvention::TrueKeeps: return MaskConvention::TrueIgnores;
    default: return MaskConvention::Unknown;
  }
}


// Token ids compared with one value (the padding index): ids, input_ids, src_tokens, tgt.
bool named_like_token_ids(const std::string& written) {
  std::string name = lowered(written);
  static const std::array<const char*, 6> words = {"ids", "token", "input", "src", "tgt", "seq"};
  return std::any_of(words.begin(), words.end(), [&](const char* word) { return name.find(word) != std::string::npos; });
}

// A declared tensor named as attention scores or logits (scores, attn_scores, logits).
bool named_like_scores(const std::string& written) {
  std::string name = lowered(written);
  return name.find("score") != std::string::npos || name.find("logit") != std::string::npos;
}

// A call that makes a bool tensor True exactly where its input is nonzero: .bool(),
// .to(torch.bool).
bool casts_to_bool(const CallDecl& call) {
  if (call.op == "bool") return true;
  if (call.op == "to") {
    const nlohmann::json& dtype = call.arguments.value("dtype", nlohmann::json());
    return dtype.is_string() && parse_dtype(dtype.get<std::string>()) == DType::Bool;
  }
  return false;
}

// The call as Python writes it: "attention_mask.bool()", "attention_mask.to(torch.bool)".
std::string bool_cast_text(const CallDecl& call, const std::string& input) {
  return call.op == "bool" ? fmt::format("{}.bool()", input) : fmt::format("{}.to(torch.bool)", input);
}

bool holds_bools(const Spec& spec, std::string name, const CallDecl* producer);

// What the other readers of the declared mask `declared` say True means, when its name says
// nothing (PyG's `h, mask = to_dense_batch(x, batch)`): a mask that multiplies a tensor of values
// (x * mask.unsqueeze(-1), masked mean pooling) keeps those values where it is True; one that is
// masked_fill's mask, filled with 0, has its True positions left out. Only for 0/1 flags (a bool or
// integer tensor): a float mask may be additive. Followed through calls that keep
// the values, casts and ~. Unknown when no reader says, or two disagree.
MaskOrigin origin_from_readers(const Spec& spec, const std::string& declared) {
  struct Reached {
    std::string name;
    const CallDecl* maker;  // null: the declared tensor
    bool inverted;
  };
  std::vector<Reached> pending = {{declared, nullptr, false}};
  MaskOrigin found;
  for (int step = 0; step < kMaxSteps && !pending.empty(); ++step) {
    Reached at = pending.back();
    pending.pop_back();
    for (std::size_t reader : spec.readers_of(at.name)) {
      const CallDecl& call = spec.calls[reader];
      auto reads = [&](const std::string& argument) {
        return input_name(call, argument) == at.name && producer_of(spec, at.name, &call) == at.maker;
      };
      MaskConvention said = MaskConvention::Unknown;
      std::string how;
      // Only a fill with 0 (zeroed values, masked pooling): a fill of scores with -inf is what the
      // mask rules check, and would vouch for itself.
      const nlohmann::json& fill = call.arguments.value("value", nlohmann::json());
      if (call.op == "masked_fill" && reads("mask") && fill.is_number() && fill.get<double>() == 0.0) {
        said = MaskConvention::TrueIgnores;
        how = fmt::format("masked_fill zeroes its True positions in call \"{}\"", call.id);
      } else if (call.op == "mul" && (reads("input") || reads("other"))) {
        // The other factor holds values: a number (mask * -10000, an additive mask) or another
        // mask (one mask joined with another) says nothing.
        std::string values = input_name(call, reads("input") ? "other" : "input");
        if (values.empty() || values == at.name || holds_bools(spec, values, producer_of(spec, values, &call))) continue;
        said = MaskConvention::TrueKeeps;
        how = fmt::format("it multiplies {} in call \"{}\", keeping its values where True", values, call.id);
      } else if (reads("input") && !call.outputs.empty() &&
                 (keeps_values(call.op) || casts_to_float(call) || casts_to_bool(call) || call.op == "bitwise_not" || call.op == "logical_not")) {
        pending.push_back({call.outputs[0], &call, at.inverted != (call.op == "bitwise_not" || call.op == "logical_not")});
        continue;
      } else {
        continue;
      }
      if (at.inverted) said = inverted(said);
      if (found.convention != MaskConvention::Unknown && found.convention != said) return {};
      if (found.convention == MaskConvention::Unknown) {
        found = {said, fmt::format("\"{}\" is read as True = {}: {}{}", declared, said == MaskConvention::TrueKeeps ? "keep" : "left out",
                                   at.inverted ? "its inverse: " : "", how),
                 nullptr};
      }
    }
  }
  return found;
}

// The origin of the tensor `name` as made by `producer` (null: declared under that name), within
// `steps` calls up the graph.
MaskOrigin origin_of(const Spec& spec, std::string name, const CallDecl* producer, int& steps) {
  while (steps-- > 0) {
    if (producer == nullptr) {
      MaskOrigin origin;
      // Hugging Face's extended mask is already additive (0 / large negative): not 0/1. Declared
      // as an integer or bool, it is still the 0/1 attention_mask, only reshaped to (B, 1, 1, T).
      const TensorDecl* declared = spec.find_tensor(name);
      bool holds_flags = declared && declared->dtype && !is_floating(*declared->dtype);
      if (name.find("extended") != std::string::npos && !holds_flags) return origin;
      origin.convention = mask_convention_of_name(name);
      if (origin.convention == MaskConvention::Unknown && holds_flags) return origin_from_readers(spec, name);
      if (origin.convention == MaskConvention::TrueKeeps) origin.reason = fmt::format("\"{}\" is named like 1 = keep", name);
      if (origin.convention == MaskConvention::TrueIgnores) origin.reason = fmt::format("\"{}\" is named like True = padding", name);
      return origin;
    }
    const std::string& op = producer->op;
    std::string input = input_name(*producer, "input");
    if (input.empty()) return {};
    if (keeps_values(op)) {
      name = input;
      producer = producer_of(spec, input, producer);
      continue;
    }
    if (op == "bitwise_not" || op == "logical_not") {
      MaskOrigin upstream = origin_of(spec, input, producer_of(spec, input, producer), steps);
      if (upstream.convention == MaskConvention::Unknown) return {};
      return {inverted(upstream.convention), fmt::format("{} inverts a mask where {}", op, upstream.reason), producer};
    }
    if (op == "tril" || op == "triu") {
      // A triangle of a 0/1 matrix is a causal mask by its diagonal: tril (diagonal >= 0) keeps
      // each query's past and itself, SDPA's True = take part; triu (diagonal >= 1) marks the
      // future, nn.MultiheadAttention's True = masked. Other diagonals mean neither.
      std::int64_t diagonal = 0;
      auto written = producer->arguments.find("diagonal");
      if (written != producer->arguments.end() && written->is_number_integer()) diagonal = written->get<std::int64_t>();
      std::string call_text = fmt::format("{}({}, diagonal={})", op, input, diagonal);
      if (op == "tril" && diagonal >= 0) {
        return {MaskConvention::TrueKeeps, fmt::format("made by {}: True marks each query's past and itself", call_text), producer};
      }
      if (op == "triu" && diagonal >= 1) {
        return {MaskConvention::TrueIgnores, fmt::format("made by {}: True marks each query's future", call_text), producer};
      }
      return {};
    }
    if ((op == "eq" || op == "ne") && producer->arguments.contains("other")) {
      // Compared with a number. A mask compared with 0 or 1 keeps or inverts its meaning; token
      // ids compared with one value single it out: eq(ids, pad) marks the padding, ne(ids, pad)
      // every other token. A tensor of unknown meaning (a 0/1 causal matrix) says nothing.
      const nlohmann::json& value = producer->arguments.at("other");
      bool equal = op == "eq";
      std::string call_text = fmt::format("{}({}, {})", op, input, number_text(value));
      const CallDecl* made = producer_of(spec, input, producer);
      bool zero = value.is_number() && value.get<double>() == 0.0, one = value.is_number() && value.get<double>() == 1.0;
      // An additive mask made from a 0/1 mask, (mask - 1) * 10000 (BERT's extended mask): it is 0
      // exactly where the mask is 1, whatever the nonzero scale, so comparing it with 0 is
      // comparing the mask with 1.
      std::string compared = input;
      if (zero) {
        const CallDecl* scaled = made;
        std::string scaled_input = input;
        while (scaled != nullptr && (scaled->op == "mul" || scaled->op == "div") && scaled->arguments.contains("other") &&
               scaled->arguments.at("other").is_number() && scaled->arguments.at("other").get<double>() != 0.0) {
          scaled_input = input_name(*scaled, "input");
          scaled = scaled_input.empty() ? nullptr : producer_of(spec, scaled_input, scaled);
        }
        if (scaled != nullptr && scaled != made && scaled->op == "sub" && scaled->arguments.contains("other") &&
            scaled->arguments.at("other").is_number() && scaled->arguments.at("other").get<double>() == 1.0 &&
            !input_name(*scaled, "input").empty()) {
          compared = input_name(*scaled, "input");
          made = producer_of(spec, compared, scaled);
          zero = false;
          one = true;
          call_text = fmt::format("{}({}, 0) (an additive mask, 0 exactly where {} is 1)", op, input, compared);
        }
      }
      MaskOrigin upstream = origin_of(spec, compared, made, steps);
      if (upstream.convention != MaskConvention::Unknown && (zero || one)) {
        bool keeps = equal == one;
        return {keeps ? upstream.convention : inverted(upstream.convention),
                fmt::format("made by {} where {}", call_text, upstream.reason), producer};
      }
      if (!named_like_token_ids(input)) return {};
      return {equal ? MaskConvention::TrueIgnores : MaskConvention::TrueKeeps,
              fmt::format("made by {}: True marks the entries {} {}", call_text, equal ? "equal to" : "other than", number_text(value)),
              producer};
    }
    if (casts_to_bool(*producer)) {
      // A 0/1 mask cast to bool keeps its meaning: True where it held 1.
      MaskOrigin upstream = origin_of(spec, input, producer_of(spec, input, producer), steps);
      if (upstream.convention == MaskConvention::Unknown) return {};
      return {upstream.convention, fmt::format("made by {} where {}", bool_cast_text(*producer, input), upstream.reason), producer};
    }
    return {};
  }
  return {};
}

// Whether the tensor `name` (made by `producer`; null: declared) holds bools: declared so, or
// made by a comparison, a logical operator or a cast to bool, through calls that keep values.
bool holds_bools(const Spec& spec, std::string name, const CallDecl* producer) {
  static constexpr std::array<std::string_view, 12> boolean = {"eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and",
                                                               "logical_or", "isnan", "isinf", "bool"};
  for (int step = 0; step < kMaxSteps; ++step) {
    if (producer == nullptr) {
      const TensorDecl* declared = spec.find_tensor(name);
      return declared && declared->dtype == DType::Bool;
    }
    std::string_view op = producer->op;
    if (std::find(boolean.begin(), boolean.end(), op) != boolean.end()) return true;
    if (op == "to"sv) return casts_to_bool(*producer);
    name = input_name(*producer, "input");
    if (!keeps_values(op) || name.empty()) return false;
    producer = producer_of(spec, name, producer);
  }
  return false;
}

// A rank-2 shape whose two dims differ: a (B, T) tensor, not a square (T, T) causal matrix.
bool batch_by_sequence(const TensorDecl* declared) {
  return declared && declared->shape.size() == 2 && declared->shape[0] != declared->shape[1];
}

// The dims of the None-and-colon index `index` ("[:, None, :]") applied to `axes`; nullopt for
// any other index.
std::optional<std::vector<bool>> indexed_axes(const std::string& index, const std::vector<bool>& axes) {
  if (index.size() < 2 || index.front() != '[' || index.back() != ']') return std::nullopt;
  std::vector<bool> out;
  std::size_t next = 0, from = 1;
  while (from < index.size()) {
    std::size_t comma = index.find(',', from);
    if (comma == std::string::npos) comma = index.size() - 1;
    std::string item = index.substr(from, comma - from);
    item.erase(std::remove_if(item.begin(), item.end(), [](unsigned char c) { return std::isspace(c) != 0; }), item.end());
    if (item == "None") {
      out.push_back(false);
    } else if (item == ":" && next < axes.size()) {
      out.push_back(axes[next++]);
    } else if (!(item.empty() && comma == index.size() - 1)) {
      return std::nullopt;
    }
    from = comma + 1;
  }
  out.insert(out.end(), axes.begin() + static_cast<std::ptrdiff_t>(next), axes.end());
  return out;
}

std::optional<PaddingAxes> axes_of(const Spec& spec, const std::string& name, const CallDecl* producer, int& steps, bool any_bool) {
  if (steps-- <= 0) return std::nullopt;
  if (producer == nullptr) {
    const TensorDecl* declared = spec.find_tensor(name);
    const bool unnamed_mask = any_bool && batch_by_sequence(declared) && declared->dtype == DType::Bool &&
                              role_of_dim(written_names(declared->shape), 0) == DimRole::Batch;
    if (!batch_by_sequence(declared) || (mask_convention_of_name(name) == MaskConvention::Unknown && !unnamed_mask)) return std::nullopt;
    return PaddingAxes{{false, true}, nullptr};
  }
  static constexpr std::array<std::string_view, 14> same_dims = {"eq",    "ne",   "bitwise_not", "logical_not", "bool", "float", "half",
                                                                 "double", "long", "int",         "to",          "contiguous", "clone", "expand"};
  const std::string& op = producer->op;
  const std::string input = input_name(*producer, "input");
  if (input.empty()) return std::nullopt;
  const CallDecl* made = producer_of(spec, input, producer);
  if ((op == "eq" || op == "ne") && producer->arguments.contains("other") && producer->arguments.at("other").is_number() &&
      made == nullptr && batch_by_sequence(spec.find_tensor(input)) && named_like_token_ids(input)) {
    return PaddingAxes{{false, true}, nullptr};  // ids != pad
  }
  const std::string other = input_name(*producer, "other");
  static constexpr std::array<std::string_view, 8> joins = {"bitwise_and", "logical_and", "bitwise_or", "logical_or",
                                                            "mul",         "add",         "__and__",    "__or__"};
  if (!other.empty() && std::find(joins.begin(), joins.end(), std::string_view(op)) != joins.end()) {
    std::optional<PaddingAxes> left = axes_of(spec, input, made, steps, any_bool);
    std::optional<PaddingAxes> right = axes_of(spec, other, producer_of(spec, other, producer), steps, any_bool);
    if (!left || !right) return left ? left : right;
    PaddingAxes joined{left->padded.size() >= right->padded.size() ? left->padded : right->padded, left->placed ? left->placed : right->placed};
    const std::vector<bool>& shorter = left->padded.size() >= right->padded.size() ? right->padded : left->padded;
    for (std::size_t i = 0; i < shorter.size(); ++i) {
      std::size_t at = joined.padded.size() - shorter.size() + i;
      joined.padded[at] = joined.padded[at] || shorter[i];
    }
    return joined;
  }
  if (std::find(same_dims.begin(), same_dims.end(), std::string_view(op)) != same_dims.end()) {
    if ((op == "eq" || op == "ne") && !producer->arguments.contains("other")) return std::nullopt;
    return axes_of(spec, input, made, steps, any_bool);
  }
  std::optional<PaddingAxes> axes = axes_of(spec, input, made, steps, any_bool);
  if (!axes) return std::nullopt;
  const int rank = static_cast<int>(axes->padded.size());
  if (op == "unsqueeze" && producer->arguments.contains("dim") && producer->arguments.at("dim").is_number_integer()) {
    int dim = producer->arguments.at("dim").get<int>();
    if (dim < 0) dim += rank + 1;
    if (dim < 0 || dim > rank) return std::nullopt;
    if (axes->placed == nullptr && rank > 0 && axes->padded.back() && dim == rank) axes->placed = producer;
    axes->padded.insert(axes->padded.begin() + dim, false);
    return axes;
  }
  if (op == "getitem" && producer->arguments.contains("index") && producer->arguments.at("index").is_string()) {
    std::optional<std::vector<bool>> indexed = indexed_axes(producer->arguments.at("index").get<std::string>(), axes->padded);
    if (!indexed) return std::nullopt;
    // New dims after the padded last one ([:, :, None]) chose the axis, as unsqueeze(-1) does.
    if (axes->placed == nullptr && rank > 0 && axes->padded.back() && !indexed->empty() && !indexed->back()) axes->placed = producer;
    axes->padded = std::move(*indexed);
    return axes;
  }
  return std::nullopt;
}

}  // namespace

std::optional<PaddingAxes> padding_axes(const Spec& spec, const std::string& name, const CallDecl* producer, bool any_bool) {
  int steps = kMaxSteps;
  return axes_of(spec, name, producer, steps, any_bool);
}

bool casts_to_float(const CallDecl& call) {
  static constexpr std::array<std::string_view, 4> shorthands = {"float", "double", "half", "bfloat16"};
  if (std::find(shorthands.begin(), shorthands.end(), std::string_view(call.op)) != shorthands.end()) return true;
  if (call.op != "to") return false;
  const nlohmann::json& dtype = call.arguments.value("dtype", nlohmann::json());
  std::optional<DType> parsed = dtype.is_string() ? parse_dtype(dtype.get<std::string>()) : std::nullopt;
  return parsed && is_floating(*parsed);
}

std::optional<BoolMaskCast> bool_mask_cast(const CallContext& ctx, const ArgValue& arg) {
  const CallDecl* producer = arg.producer;
  for (int step = 0; step < kMaxSteps && producer != nullptr; ++step) {
    std::string input = input_name(*producer, "input");
    if (input.empty()) return std::nullopt;
    const CallDecl* made = producer_of(ctx.spec, input, producer);
    if (casts_to_float(*producer)) {
      if (!holds_bools(ctx.spec, input, made)) return std::nullopt;
      int steps = kMaxSteps;
      return BoolMaskCast{producer, input, origin_of(ctx.spec, input, made, steps)};
    }
    if (!keeps_values(producer->op)) return std::nullopt;
    producer = made;
  }
  return std::nullopt;
}

MaskOrigin mask_origin(const CallContext& ctx, const ArgValue& mask) {
  std::string name = tensor_name(mask);
  if (name.empty()) return {};
  int steps = kMaxSteps;
  return origin_of(ctx.spec, name, mask.producer, steps);
}

MaskOrigin mask_origin_of(const Spec& spec, const std::string& name, const CallDecl* producer) {
  int steps = kMaxSteps;
  return origin_of(spec, name, producer, steps);
}

std::optional<ComparisonFlip> flip_comparison(const MaskOrigin& origin) {
  const CallDecl* maker = origin.maker;
  if (maker != nullptr && casts_to_bool(*maker) && CallContext::index_in_calls(*maker)) {
    // True where the 0/1 mask is nonzero: == 0 marks the other entries.
    std::string input = input_name(*maker, "input");
    if (input.empty()) return std::nullopt;
    nlohmann::json patch = nlohmann::json::array({{{"op", "replace"}, {"path", maker->pointer + "/op"}, {"value", "eq"}},
                                                  {{"op", "add"}, {"path", maker->pointer + "/other"}, {"value", 0}}});
    if (maker->arguments.contains("dtype")) patch.push_back({{"op", "remove"}, {"path", maker->pointer + "/dtype"}});
    return ComparisonFlip{fmt::format("{} == 0 in call \"{}\", in place of the cast to bool", input, maker->id), patch};
  }
  if (maker == nullptr || (maker->op != "eq" && maker->op != "ne") || !CallContext::index_in_calls(*maker)) return std::nullopt;
  std::string input = input_name(*maker, "input");
  if (input.empty()) return std::nullopt;
  bool equal = maker->op == "eq";
  return ComparisonFlip{fmt::format("{} {} {} ({}, not {}) in call \"{}\"", input, equal ? "!=" : "==", number_text(maker->arguments.at("other")),
                                    equal ? "ne" : "eq", maker->op, maker->id),
                        nlohmann::json::array({{{"op", "replace"}, {"path", maker->pointer + "/op"}, {"value", equal ? "ne" : "eq"}}})};
}

bool is_attention_scores(const CallContext& ctx, const ArgValue& arg) {
  if (!is_floating(arg.dtype) || arg.rank() < 2) return false;
  const CallDecl* producer = arg.producer;
  if (producer == nullptr) return named_like_scores(tensor_name(arg));
  for (int step = 0; step < kMaxSteps && producer != nullptr; ++step) {
    std::string_view op = producer->op;
    if (op == "matmul"sv || op == "bmm"sv || op == "einsum"sv) return true;
    bool on_the_way = keeps_values(op) || op == "mul"sv || op == "div"sv || op == "add"sv || op == "sub"sv || op == "masked_fill"sv;
    std::string input = on_the_way ? input_name(*producer, "input") : std::string();
    if (input.empty()) return false;
    producer = producer_of(ctx.spec, input, producer);
  }
  return false;
}

const CallDecl* values_maker(const CallContext& ctx, const ArgValue& arg) { return values_maker(ctx.spec, arg.producer); }

const CallDecl* values_maker(const Spec& spec, const CallDecl* producer) {
  for (int step = 0; step < kMaxSteps && producer != nullptr; ++step) {
    static const std::array<const char*, 8> elementwise = {"mul", "div", "add", "sub", "masked_fill", "dropout", "contiguous", "clone"};
    if (std::none_of(elementwise.begin(), elementwise.end(), [&](const char* op) { return producer->op == op; })) return producer;
    std::string input = input_name(*producer, "input");
    if (input.empty()) return nullptr;
    producer = producer_of(spec, input, producer);
  }
  return nullptr;
}

std::optional<ScoresProduct> scores_product(const Spec& spec, const CallDecl* producer) {
  const CallDecl* product = values_maker(spec, producer);
  if (product == nullptr || (product->op != "matmul" && product->op != "bmm")) return std::nullopt;
  return ScoresProduct{product, "input", product->op == "matmul" ? "other" : "mat2"};
}

}  // namespace mhacheck
