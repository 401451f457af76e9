//===- Compiler.h - shared driver logic of the attn tools -------*- C++ -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_TOOLS_COMPILER_H
#define ATTN_TOOLS_COMPILER_H

#include "codegen/cpu/Target.h"
#include "codegen/gpu/Target.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/SourceMgr.h"

#include <optional>
#include <string>
#include <vector>

namespace llvm {
class MemoryBuffer;
class Module;
} // namespace llvm

namespace mlir::attn {

/// One argument of an exported function, parsed from its signature string.
struct AbiArg {
  bool isOutput = false;
  bool isInOut = false;      ///< an input the function updates in place
  std::string dtype;         ///< f32, bf16, ...
  std::vector<int64_t> dims; ///< >= 0 static; < 0 symbol -(d + 1)
};

/// A function exported with the C ABI.
struct ExportedFunction {
  std::string name;      ///< MLIR function name
  std::string symbol;    ///< public C symbol
  std::string signature; ///< signature string (see attn/runtime.h)
  std::vector<AbiArg> args;
  /// (result, argument) pairs: results the function returns by updating an
  /// in/out argument in place (attn.append_kv's pools), which have no
  /// output argument of their own.
  std::vector<std::pair<unsigned, unsigned>> aliases;
  /// What each argument is, where the function says (attn.arg_roles:
  /// @f_train and @f_backward); empty otherwise.
  std::vector<std::string> roles;
};

/// Parses a signature string.
std::vector<AbiArg> parseSignature(llvm::StringRef signature);
/// The `alias:K:A` clauses of a signature: result K is argument A.
std::vector<std::pair<unsigned, unsigned>>
parseAliases(llvm::StringRef signature);

/// Formats dims as `[?0, 8, ?1, 64]`.
std::string formatDims(const std::vector<int64_t> &dims);

/// An input file parsed into a module, with the context it lives in and a
/// diagnostic handler that prints `file:line:col: error: ...` (without the
/// generic form of the op, which adds nothing for a user). `get()` is null
/// if the file could not be read or parsed; the error has been printed.
class SourceModule {
public:
  /// Parses `path` ("-" for stdin).
  explicit SourceModule(llvm::StringRef path);
  /// Parses `source`, named `bufferName` in locations; diagnostics (of the
  /// parse and of everything later done with this context) go to `os`.
  SourceModule(std::unique_ptr<llvm::MemoryBuffer> source,
               llvm::raw_ostream &os);
  ModuleOp get() { return module.get(); }
  MLIRContext &getContext() { return ctx; }

private:
  DialectRegistry registry;
  MLIRContext ctx;
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagHandler;
  OwningOpRef<ModuleOp> module;
};

/// The CPU pipeline's tile sizes. A module records the ones chosen for it
/// (by attn-tune, or by hand) as the attribute
///   attn.cpu_tuning = {q_tile = 64, kv_tile = 64, decode_split_keys = 512,
///                      scan_chunk = 32, strip_rows = 32}
/// (every entry optional); a tool's --tune flag overrides entries of it.
/// Unset entries take the pipeline's defaults.
struct CPUTuning {
  std::optional<int64_t> qTile, kvTile, decodeSplitKeys, scanChunk, stripRows;
  /// Entries of `other` that are set replace those of this.
  void override(const CPUTuning &other);
  /// `q_tile=64,kv_tile=32` (also with '-' for '_'), as --tune takes it.
  static llvm::Expected<CPUTuning> parse(llvm::StringRef text);
  /// parse(text) with the tools' single-entry flags (--scan-chunk,
  /// --kv-tile) on top where they were given.
  static llvm::Expected<CPUTuning>
  parse(llvm::StringRef text, std::optional<int64_t> scanChunk,
        std::optional<int64_t> kvTile);
  /// The module's attn.cpu_tuning (none: all unset); emits an error at the
  /// module on a malformed attribute.
  static FailureOr<CPUTuning> fromModule(ModuleOp module);
  /// The attribute that records these entries.
  DictionaryAttr toAttr(MLIRContext *ctx) const;
};

/// Runs attn-cpu-pipeline on `module` (in place) for `target`, with public
/// symbols named `<prefix><function>`. Fills `functions`. The tile sizes are
/// the module's attn.cpu_tuning with `overrides` on top, defaults elsewhere.
LogicalResult lowerForCPU(ModuleOp module, const CPUTarget &target,
                          llvm::StringRef prefix,
                          std::vector<ExportedFunction> &functions,
                          const CPUTuning &overrides = {});

/// Runs attn-nvptx-pipeline on `module` (in place) for `target`: host code
/// in the LLVM dialect with the kernels' PTX embedded (cubins assembled by
/// the ptxas of `cubinToolkit` when it is given). Fills `functions`.
LogicalResult lowerForNVPTX(ModuleOp module, const NVPTXTarget &target,
                            llvm::StringRef prefix,
                            std::vector<ExportedFunction> &functions,
                            llvm::StringRef cubinToolkit = "");

/// The Halide backend ahead of time: compiles each public function of
/// `module` with Halide (LLVM 14 bitcode, one string per function, in
/// `bitcode`) and replaces `module` by an LLVM-dialect module holding the
/// DLPack entry points, which call attnrt_halide_invoke with the function's
/// signature. Fills `functions`. Link the bitcode into the translated
/// module with linkBitcode.
LogicalResult lowerForHalide(ModuleOp module, llvm::StringRef prefix,
                             std::vector<ExportedFunction> &functions,
                             std::vector<std::string> &bitcode);

/// The tensor-level passes that prepare a module for the Halide lowering
/// (the same fusion as the MLIR path).
void buildHalideTensorPasses(OpPassManager &pm);

/// Links bitcode (of any older LLVM) into `module`.
llvm::Error linkBitcode(llvm::Module &module,
                        const std::vector<std::string> &bitcode);

/// Runs attn-simt-emulation-pipeline on `module` (in place): the NVPTX
/// pipeline's SIMT kernels compiled for the host, with the CPU entry points.
LogicalResult lowerForSIMTEmulation(ModuleOp module, llvm::StringRef prefix,
                                    std::vector<ExportedFunction> &functions);

/// Runs attn-gpu-emulation-pipeline on `module` (in place): every launch of
/// the NVPTX pipeline, tensor-core kernels included, compiled for the host
/// and run by libattnrt's GPU emulator. Fills `functions`.
LogicalResult lowerForGPUEmulation(ModuleOp module, llvm::StringRef prefix,
                                   std::vector<ExportedFunction> &functions);

/// Runs attn-generate-backward on `module`: every public function `@f` gets
/// `@f_train` and `@f_backward` (docs/training.md). With `combine`, also
/// `@<combine>_grad(x..., dy...) -> (dx...)`, the training forward of
/// `@<combine>` followed by its backward in one function (what
/// `attn-run --grad` calls), which is returned.
FailureOr<func::FuncOp> generateGradients(ModuleOp module,
                                          llvm::StringRef combine = "");

/// Turns an arbitrary string into a C identifier.
std::string sanitizeIdentifier(llvm::StringRef name);

} // namespace mlir::attn

#endif // ATTN_TOOLS_COMPILER_H
