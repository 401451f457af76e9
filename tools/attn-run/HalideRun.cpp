//===- HalideRun.cpp - attn-run --backend=halide ----------------*- C++ -*-===//
//
// Part of the attn project.
//
// The only file of attn-run that includes Halide.h: the .npy arrays become
// Halide buffers over the same bytes (dimension 0 innermost), the pipeline
// is JIT-compiled by Halide's LLVM 14 inside the same process as MLIR's
// LLVM 22, and the results are realized into the output arrays.
//
//===----------------------------------------------------------------------===//

#include "tools/attn-run/HalideRun.h"
#include "tools/Compiler.h"

#include "codegen/halide/Lowering.h"
#include "tools/attn-run/DType.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include <algorithm>
#include <chrono>

using namespace mlir;
using namespace mlir::attn;

static Halide::Buffer<> view(const ::attn::HostArray &a, Halide::Type type) {
  std::vector<int> sizes(a.shape.rbegin(), a.shape.rend());
  return Halide::Buffer<>(type, a.data, sizes);
}

LogicalResult mlir::attn::runHalide(func::FuncOp func,
                                    const std::vector<::attn::HostArray> &inputs,
                                    std::vector<::attn::HostArray> &outputs,
                                    int benchmark, double &medianMs) {
  // The same tensor-level fusion as the MLIR path.
  ModuleOp module = func->getParentOfType<ModuleOp>();
  PassManager pm(module.getContext());
  buildHalideTensorPasses(pm);
  if (failed(pm.run(module)))
    return failure();

  FailureOr<halide::LoweredFunction> lowered = halide::lowerToHalide(func);
  if (failed(lowered))
    return failure();
  try {
    for (auto [param, array, type] :
         llvm::zip(lowered->inputs, inputs, func.getArgumentTypes()))
      param.set(view(array, halide::storageType(
                                cast<ShapedType>(type).getElementType())));
    std::vector<Halide::Buffer<>> buffers;
    for (auto [shape, type] :
         llvm::zip(lowered->outputShapes, func.getResultTypes())) {
      std::vector<int64_t> dims;
      for (const Halide::Expr &e : shape)
        dims.push_back(Halide::evaluate<int>(e));
      Type elem = cast<ShapedType>(type).getElementType();
      outputs.push_back(::attn::HostArray::allocate(dtypeOf(elem), dims));
      buffers.push_back(view(outputs.back(), halide::storageType(elem)));
    }
    Halide::Pipeline pipeline(lowered->outputs);
    Halide::Target target =
        halide::hostTarget().with_feature(Halide::Target::JIT);
    pipeline.compile_jit(target);
    Halide::Realization realization(buffers);
    pipeline.realize(realization, target);
    std::vector<double> times;
    for (int n = 0; n < benchmark; ++n) {
      auto start = std::chrono::steady_clock::now();
      pipeline.realize(realization, target);
      times.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    if (!times.empty()) {
      std::sort(times.begin(), times.end());
      medianMs = times[times.size() / 2];
    }
  } catch (const Halide::Error &e) {
    return func.emitOpError("halide backend: ") << e.what();
  }
  return success();
}
