//===- AttnAttrs.td - attn enums and attributes -------------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNATTRS_TD
#define ATTN_DIALECT_ATTNATTRS_TD

include "mlir/IR/EnumAttr.td"

def Attn_Normalizer : I32EnumAttr<"Normalizer",
    "how logits become attention weights", [
      I32EnumAttrCase<"softmax", 0>,
      I32EnumAttrCase<"sigmoid", 1>
    ]> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    * `softmax`: `p_ij = exp(s_ij) / sum_j' exp(s_ij')` over the visible keys
      (online softmax, optional sink logit in the denominator);
    * `sigmoid`: `p_ij = sigmoid(s_ij)` for visible keys, no normalization
      (sigmoid attention; a bias such as `-log(Lk)` goes in the score region).
  }];
}

#endif // ATTN_DIALECT_ATTNATTRS_TD
