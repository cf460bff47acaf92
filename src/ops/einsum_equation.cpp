// torch.einsum's equation, read with PyTorch 2.x's checks in its order and with its messages
// (aten/src/ATen/native/Linear.cpp; PyTorch 1.13 raises the same).
#include "ops/einsum_equation.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace mhacheck {
namespace {

// ASCII letters only, as std::isalpha in the C locale PyTorch runs in: a UTF-8 byte is no label.
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
int label_of(char letter) { return letter <= 'Z' ? letter - 'A' : letter - 'a' + 26; }

// "..." starting at text[i]: PyTorch asks for two more '.' and a character after them within the
// text (`i + 2 < length`), then skips past them.
bool ellipsis_at(std::string_view text, std::size_t& i) {
  if (!(i + 2 < text.size() && text[i + 1] == '.' && text[i + 2] == '.')) return false;
  i += 2;
  return true;
}

std::string_view input_part(std::string_view equation) { return equation.substr(0, equation.find("->")); }

std::array<int, kEinsumLabels> label_counts(const EinsumEquation& equation) {
  std::array<int, kEinsumLabels> counts{};
  for (const std::vector<int>& term : equation.terms) {
    for (int label : term) {
      if (label != kEinsumEllipsis) ++counts[static_cast<std::size_t>(label)];
    }
  }
  return counts;
}

EinsumFailure failure(DiagId id, std::string message, std::optional<std::size_t> operand = std::nullopt) {
  return {id, "einsum(): " + std::move(message), operand};
}

std::string invalid_subscript(std::size_t index) {
  return fmt::format("invalid subscript given at index {} in the equation string, subscripts must be in [a-zA-Z]", index);
}

}  // namespace

char einsum_letter(int label) { return static_cast<char>(label < 26 ? 'A' + label : 'a' + label - 26); }

std::optional<EinsumFailure> read_einsum_terms(std::string_view equation, std::size_t operands, EinsumEquation& read) {
  std::string_view lhs = input_part(equation);
  read.terms.assign(operands, {});
  std::size_t operand = 0;
  bool ellipsis = false;
  for (std::size_t i = 0; i < lhs.size(); ++i) {
    char c = lhs[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (ellipsis) {
        return failure(DiagId::EinsumEquation, fmt::format("found '.' for operand {} for which an ellipsis was already found", operand), operand);
      }
      if (!ellipsis_at(lhs, i)) {
        return failure(DiagId::EinsumEquation, fmt::format("found '.' for operand {} that is not part of any ellipsis", operand), operand);
      }
      read.terms[operand].push_back(kEinsumEllipsis);
      ellipsis = true;
    } else if (c == ',') {
      if (++operand >= operands) return failure(DiagId::EinsumOperandCount, "fewer operands were provided than specified in the equation");
      ellipsis = false;
    } else if (!is_letter(c)) {
      return failure(DiagId::EinsumEquation, invalid_subscript(i));
    } else {
      read.terms[operand].push_back(label_of(c));
    }
  }
  if (operand != operands - 1) return failure(DiagId::EinsumOperandCount, "more operands were provided than specified in the equation");
  return std::nullopt;
}

std::optional<EinsumFailure> check_einsum_ranks(const EinsumEquation& equation, const std::vector<int>& ranks) {
  for (std::size_t i = 0; i < equation.terms.size(); ++i) {
    const std::vector<int>& term = equation.terms[i];
    bool ellipsis = std::find(term.begin(), term.end(), kEinsumEllipsis) != term.end();
    int labels = static_cast<int>(term.size()) - (ellipsis ? 1 : 0);
    if (ellipsis ? labels <= ranks[i] : labels == ranks[i]) continue;
    return failure(DiagId::EinsumRank,
                   ellipsis ? fmt::format("the number of subscripts in the equation ({}) is more than the number of dimensions ({}) for operand {}",
                                          labels, ranks[i], i)
                            : fmt::format("the number of subscripts in the equation ({}) does not match the number of dimensions ({}) for "
                                          "operand {} and no ellipsis was given",
                                          labels, ranks[i], i),
                   i);
  }
  return std::nullopt;
}

std::optional<EinsumFailure> read_einsum_output(std::string_view equation, EinsumEquation& read) {
  std::size_t arrow = equation.find("->");
  read.explicit_output = arrow != std::string_view::npos;
  read.output.clear();
  if (!read.explicit_output) return std::nullopt;
  std::string_view rhs = equation.substr(arrow + 2);
  std::array<int, kEinsumLabels> counts = label_counts(read);
  std::array<bool, kEinsumLabels> written{};
  bool ellipsis = false;
  for (std::size_t i = 0; i < rhs.size(); ++i) {
    char c = rhs[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (ellipsis) return failure(DiagId::EinsumEquation, "found '.' for output but an ellipsis (...) was already found");
      if (!ellipsis_at(rhs, i)) return failure(DiagId::EinsumEquation, "found '.' for output that is not part of any ellipsis (...)");
      read.output.push_back(kEinsumEllipsis);
      ellipsis = true;
    } else if (!is_letter(c)) {
      return failure(DiagId::EinsumEquation, invalid_subscript(arrow + 2 + i));
    } else {
      std::size_t label = static_cast<std::size_t>(label_of(c));
      if (counts[label] == 0 || written[label]) {
        return failure(DiagId::EinsumOutput, fmt::format("output subscript {}{}", c,
                                                         written[label] ? " appears more than once in the output"
                                                                        : " does not appear in the equation for any input operand"));
      }
      written[label] = true;
      read.output.push_back(static_cast<int>(label));
    }
  }
  return std::nullopt;
}

EinsumSlots einsum_slots(const EinsumEquation& equation, const std::vector<int>& ranks) {
  EinsumSlots slots;
  for (std::size_t i = 0; i < equation.terms.size(); ++i) {
    const std::vector<int>& term = equation.terms[i];
    if (std::find(term.begin(), term.end(), kEinsumEllipsis) != term.end()) {
      slots.ellipsis_dims = std::max(slots.ellipsis_dims, ranks[i] - static_cast<int>(term.size() - 1));
    }
  }
  std::array<int, kEinsumLabels> counts = label_counts(equation);
  std::array<int, kEinsumLabels> slot_of_label;
  slot_of_label.fill(-1);
  int ellipsis_slot = 0;
  bool ellipsis_in_output = !equation.explicit_output;
  auto add_ellipsis = [&] {
    ellipsis_slot = slots.count;
    for (int k = 0; k < slots.ellipsis_dims; ++k) slots.label_of_slot.push_back(kEinsumEllipsis);
    slots.count += slots.ellipsis_dims;
  };
  auto add_label = [&](int label) {
    slot_of_label[static_cast<std::size_t>(label)] = slots.count++;
    slots.label_of_slot.push_back(label);
  };
  if (!equation.explicit_output) {
    add_ellipsis();
    for (int label = 0; label < kEinsumLabels; ++label) {
      if (counts[static_cast<std::size_t>(label)] == 1) add_label(label);
    }
  } else {
    for (int label : equation.output) {
      if (label == kEinsumEllipsis) {
        add_ellipsis();
        ellipsis_in_output = true;
      } else {
        add_label(label);
      }
    }
  }
  slots.output_dims = slots.count;
  if (!ellipsis_in_output) add_ellipsis();
  for (int label = 0; label < kEinsumLabels; ++label) {
    if (counts[static_cast<std::size_t>(label)] > 0 && slot_of_label[static_cast<std::size_t>(label)] == -1) add_label(label);
  }
  for (std::size_t i = 0; i < equation.terms.size(); ++i) {
    std::vector<int>& dims = slots.of_operand.emplace_back();
    int covered = ranks[i] - static_cast<int>(equation.terms[i].size() - 1);  // used only when the term has "..."
    for (int label : equation.terms[i]) {
      if (label != kEinsumEllipsis) {
        dims.push_back(slot_of_label[static_cast<std::size_t>(label)]);
        continue;
      }
      for (int k = slots.ellipsis_dims - covered; k < slots.ellipsis_dims; ++k) dims.push_back(ellipsis_slot + k);
    }
  }
  return slots;
}

}  // namespace mhacheck
