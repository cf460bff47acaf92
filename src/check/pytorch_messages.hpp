// The messages PyTorch raises that mhacheck's catalogue predicts, as `mhacheck explain` reads
// them back: one row per message pattern (its PyTorch 2.x wording and, where 1.13 words it
// otherwise, the 1.13 one), each with the diagnostics that can cause it, most likely first.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mhacheck/diagnostic.hpp"

namespace mhacheck {

// A message's placeholders as matched: "{size}" -> "163840".
using Captures = std::map<std::string, std::string>;

// What --module tells about the failing module: its type and the sizes that a message leaves
// open. Layers' d_model/nhead count as embed_dim/num_heads.
struct ModuleHints {
  std::string type;
  std::optional<std::int64_t> embed_dim, num_heads;
};

// One reading of the numbers under one cause: what they mean and the usual fixes.
struct Reading {
  std::string meaning;
  std::vector<std::string> fixes;
  // The numbers fit this cause only in an uncommon layout (a batch dim at index 2 needs a 5-D
  // input, say): ranked after the causes they fit plainly.
  bool uncommon = false;
};

// Reads a message's numbers under one cause, best reading first; no reading means the numbers
// rule the cause out (a reshape whose sizes no batch mismatch can produce, say).
using Reader = std::vector<Reading> (*)(const Captures& captures, const ModuleHints& hints);

struct MessageCause {
  DiagId id;
  // Without `read`: what the message means and the usual fixes, with {name} standing for the
  // placeholder's text.
  const char* meaning = nullptr;
  std::vector<const char*> fixes = {};
  Reader read = nullptr;
  // The module types whose calls raise the message under this cause; empty for torch functions
  // (reshape, matmul, ...), which any code can call.
  std::vector<std::string> modules = {};
  // Words in a pasted traceback's other lines (frames, source lines) that point to this cause.
  std::vector<std::string> frames = {};
};

struct MessageWording {
  const char* version;  // "1.13 and 2.x", "2.x", "1.13"
  // The message with placeholders: {name} an integer, {name:list} comma-separated integers,
  // {name:word} a word (letters, digits, _ . :), {name:text} any text up to what follows,
  // {name:rest} the rest of the line. Any run of spaces matches any run of white space.
  const char* text;
  const char* exception = nullptr;  // when this wording comes with another exception type than the row's
};

struct MessagePattern {
  const char* exception;  // the exception type PyTorch raises with it
  std::vector<MessageWording> wordings;
  std::vector<MessageCause> causes;  // most likely first
};

const std::vector<MessagePattern>& pytorch_message_table();

}  // namespace mhacheck
