//===- AttnInterfaces.td - attn op interfaces ---------------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNINTERFACES_TD
#define ATTN_DIALECT_ATTNINTERFACES_TD

include "mlir/IR/OpBase.td"

def Attn_AdjointOpInterface : OpInterface<"AdjointOpInterface"> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    Reverse-mode differentiation: an op states its adjoint, the
    vector-Jacobian product that turns the gradients of its results into
    gradients of its operands. `attn-generate-backward` walks a function's
    ops in reverse and asks each one; the scalar ops of a region (the score
    region of an attention, the body of an elementwise `linalg.generic`) are
    differentiated the same way, one op at a time (models attached to the
    `arith` and `math` ops by `registerAdjointExternalModels`).

    Ops without this interface whose results are integers, indices or
    booleans are constants for differentiation (comparisons, index
    arithmetic, masks); a floating-point result of an op without it is a
    located error when a gradient has to flow through it.
  }];
  let methods = [
    InterfaceMethod<[{
        Emits at `b`'s insertion point the adjoint of this op. `mapping`
        takes the op's operands and results (and values its regions read
        from above) to their primal values where the adjoint is built: the
        op itself may live in another function, only its attributes and
        regions are read. `resultAdjoints` holds one gradient per result,
        null where a result has none (at least one is set). Fills
        `operandAdjoints` with one value per operand: the gradient that
        flows into it, null where none does (integers, inits of
        destination-passing ops). Adjoints of tensors are f32 tensors of the
        primal's shape; of scalars, f32 (f64 for f64). An op whose regions
        read tensors defined above it (a bias read by a score region) appends
        their gradients to `capturedAdjoints` as (value above the op, its
        adjoint). Fails with an error at the op when the adjoint cannot be
        formed.
      }],
      "::llvm::LogicalResult", "buildAdjoint",
      (ins "::mlir::OpBuilder &":$b, "::mlir::IRMapping &":$mapping,
           "::llvm::ArrayRef<::mlir::Value>":$resultAdjoints,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandAdjoints,
           "::llvm::SmallVectorImpl<std::pair<::mlir::Value, ::mlir::Value>> &":$capturedAdjoints)>
  ];
}

#endif // ATTN_DIALECT_ATTNINTERFACES_TD
