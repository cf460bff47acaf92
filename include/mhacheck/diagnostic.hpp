// Diagnostics: one catalogue of stable codes (severity, title, explanation), and the
// diagnostic records the propagation pass produces. Renderers only format these facts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/dtype.hpp"
#include "mhacheck/location.hpp"
#include "mhacheck/shape.hpp"

namespace mhacheck {

enum class Severity { Error, Warning, Note };
std::string severity_name(Severity severity);  // "error", "warning", "note"

enum class DiagId {
  InputSyntax,            // MHA001
  InputSchema,            // MHA002
  InputReference,         // MHA003
  ModuleNonPositive,      // MHA010
  ModuleHeadsDivide,      // MHA011
  ModuleNegativeKvDim,    // MHA012
  QueryRank,              // MHA020
  KeyValueRank,           // MHA021
  KeyPaddingMaskRank,     // MHA022
  AttnMaskRank,           // MHA023
  TransposeRank,          // MHA024
  QueryEmbedDim,          // MHA030
  KeyFeatureDim,          // MHA031
  ValueFeatureDim,        // MHA032
  KeyValueShape,          // MHA033
  KeyValueLeadingDims,    // MHA034
  BatchMismatch,          // MHA040
  AttnMask2dShape,        // MHA050
  AttnMask3dShape,        // MHA051
  KeyPaddingMaskShape,    // MHA052
  MaskDType,              // MHA060
  MaskDTypeMismatch,      // MHA061
  MaskQueryDType,         // MHA062
  InputModuleDType,       // MHA063
  CausalWithoutMask,      // MHA070
  CausalIgnoresMask,      // MHA071
  SymbolConstraint,       // MHA080
  SymbolNameRole,         // MHA081
  SymbolRoleConflict,     // MHA082
  Interpretation,         // MHA090
  WeightsMissing,         // MHA100
  WeightsShape,           // MHA101
  WeightsUnexpected,      // MHA102
  InputDataMissing,       // MHA103
  RunDType,               // MHA104
  IndexOutOfRange,        // MHA105
  FullyMaskedRows,        // MHA110
  SdpaDType,              // MHA200
  SdpaRank,               // MHA201
  SdpaMaskDType,          // MHA202
  SdpaCausalWithMask,     // MHA203
  SdpaHeads,              // MHA204
  SdpaFeatures,           // MHA205
  SdpaKeyValueLength,     // MHA206
  SdpaBatch,              // MHA207
  SdpaMaskShape,          // MHA208
  DimOutOfRange,          // MHA300
  PermuteDims,            // MHA301
  ReshapeInvalid,         // MHA302
  ShapeNotDerivable,      // MHA303
  FlattenDims,            // MHA304
  AddBroadcast,           // MHA305
  MatmulRank,             // MHA306
  MatmulContraction,      // MHA307
  MatmulBatch,            // MHA308
  MatmulDType,            // MHA309
  SoftmaxDType,           // MHA310
  CatShapes,              // MHA311
  ActivationInvalid,      // MHA400
  NoLayers,               // MHA401
  NegativeSize,           // MHA402
  LayerNormShape,         // MHA403
  LinearFeatures,         // MHA404
  IndicesDType,           // MHA405
  PaddingIdx,             // MHA406
  SequenceDim,            // MHA407
  TransformerBatch,       // MHA408
  TransformerFeatures,    // MHA409
  CausalDetectDType,      // MHA410
  InputRank,              // MHA411
  DropoutRange,           // MHA412
  RoleCondition,          // MHA083
  MaskMeaning,            // MHA084
  SdpaLayoutRole,         // MHA209
  ReshapeMovesDim,        // MHA312
};

struct DiagInfo {
  DiagId id;
  const char* code;       // "MHA040"
  Severity severity;
  const char* name;       // "batch-mismatch"
  const char* title;      // one line
  const char* explanation;  // several sentences: what, why, how to fix
  const char* example;    // a spec (JSON) that triggers it, for docs and tests
  bool needs_run = false; // found by `mhacheck run` (data and weights), not by `check`
};

const std::vector<DiagInfo>& diagnostic_catalogue();
const DiagInfo& diag_info(DiagId id);
const DiagInfo* find_diag_info(const std::string& code);

struct RelatedLocation {
  std::string message;
  Location location;
};

struct PytorchError {
  std::string type;     // "RuntimeError"
  std::string message;  // as str(exception)
  bool raised_first = true;  // false: PyTorch raises it only once the earlier errors are fixed
};

struct NamedOutput {
  std::string name;  // "attn_output", or the call's own output name
  Shape shape;
  DType dtype;
  // Per dim, the name it stands for when the rule knows it better than the pass's tracing
  // (a transpose's swapped names, a view's written symbols); empty: traced by the pass.
  std::vector<std::string> dim_names = {};
};

// Whether a fix keeps what each dim stands for (its role: batch, sequence, heads, features, a
// mask's meaning). A fix PyTorch accepts can still read a batch dim as a sequence dim, or mix
// batch entries; such a fix is `Suspect` and never ranked first.
enum class FixSemantics { Unknown, Consistent, Suspect };
std::string semantics_name(FixSemantics semantics);  // "unknown", "consistent", "suspect"

// An error left in the whole patched graph.
struct RemainingError {
  std::string code;  // "MHA040"
  std::string call;
  std::string message;
};

// A candidate repair: facts only; renderers write the prose ("valid: ...").
struct Fix {
  std::string description;   // "construct with batch_first=True"
  nlohmann::json patch;      // RFC 6902 operations against the spec document
  bool verified = false;     // re-checked on a patched copy of the spec
  FixSemantics semantics = FixSemantics::Unknown;
  std::string semantics_note;  // why it is consistent or suspect; empty when unknown
  // Set by verification: the errors of the whole patched graph, and the diagnostic's call's
  // outputs there (when that call is valid).
  std::vector<RemainingError> remaining_errors;
  std::vector<NamedOutput> outputs;

  // PyTorch accepts the whole patched graph.
  bool valid() const { return verified && remaining_errors.empty(); }
};

struct Diagnostic {
  DiagId id;
  std::string message;
  std::string call;      // call id; empty for spec-level diagnostics
  std::string argument;  // "key", "attn_mask", "module.num_heads", ...
  std::optional<int> dim;
  Location location;
  std::vector<RelatedLocation> related;
  std::vector<std::string> notes;
  std::optional<PytorchError> pytorch_error;
  std::vector<Fix> fixes;

  const DiagInfo& info() const { return diag_info(id); }
  Severity severity() const { return info().severity; }
};

}  // namespace mhacheck
