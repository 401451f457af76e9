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

def Attn_Activation : I32EnumAttr<"Activation",
    "a gate's activation", [
      I32EnumAttrCase<"sigmoid", 0>,
      I32EnumAttrCase<"swish", 1>,
      I32EnumAttrCase<"tanh", 2>,
      I32EnumAttrCase<"gelu", 3>,
      I32EnumAttrCase<"relu", 4>,
      I32EnumAttrCase<"identity", 5>
    ]> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    `act(g)` of a gate `x * act(g)`: `sigmoid`, `swish` (`g * sigmoid(g)`,
    SiLU), `tanh`, `gelu` (tanh approximation), `relu`, `identity`. With two
    projections of the same input they give the GLU family: GLU (sigmoid),
    SwiGLU (swish), GeGLU (gelu), ReGLU (relu), bilinear (identity).
  }];
}

def Attn_RouteScoring : I32EnumAttr<"RouteScoring",
    "how a router turns logits into expert weights", [
      I32EnumAttrCase<"softmax", 0>,
      I32EnumAttrCase<"topk_softmax", 1>,
      I32EnumAttrCase<"sigmoid", 2>,
      I32EnumAttrCase<"none", 3>
    ]> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    * `softmax`: softmax over all (kept) experts, then top-k of the
      probabilities (Switch, Mixtral with `renormalize`);
    * `topk_softmax`: top-k of the logits, then softmax over the k chosen;
    * `sigmoid`: independent sigmoid scores (DeepSeek-V3);
    * `none`: the (modified) logits themselves (block routing: MoBA,
      SeerAttention).
  }];
}

#endif // ATTN_DIALECT_ATTNATTRS_TD
