// Diagnostics: one catalogue of stable codes (severity, title, explanation), and the
// diagnostic records the propagation pass produces. Renderers only format these facts.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mhacheck/location.hpp"

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

struct Fix {
  std::string description;   // "construct with batch_first=True"
  nlohmann::json patch;      // RFC 6902 operations against the spec document
  bool verified = false;     // re-checked on a patched copy of the spec
  std::string result;        // "valid: attn_output (32, 1, 512), ..."
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
