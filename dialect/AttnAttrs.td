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

def Attn_PageLayout : I32EnumAttr<"PageLayout",
    "the layout of a paged key/value pool", [
      I32EnumAttrCase<"nhd", 0>,
      I32EnumAttrCase<"hnd", 1>
    ]> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    * `nhd`: `[pages, page_size, kv_heads, head_dim]` (vLLM's flash layout,
      FlashInfer's default): a token's heads are adjacent;
    * `hnd`: `[pages, kv_heads, page_size, head_dim]`: a page's rows of one
      head are contiguous.
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

def Attn_DecayKind : I32EnumAttr<"DecayKind",
    "how the state of a linear-attention scan decays", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"head", 1>,
      I32EnumAttrCase<"channel", 2>
    ]> {
  let cppNamespace = "::mlir::attn";
  let description = [{
    * `none`: `S_t = S_{t-1} + phi(k_t)^T v_t` (kernelized linear attention);
    * `head`: `S_t = lambda_h S_{t-1} + ...` with one decay per head
      (Lightning / TransNormer), `decays` of shape `[H]`;
    * `channel`: `S_t = diag(alpha_t) S_{t-1} + ...` with a data-dependent
      decay per key channel (GLA), `decays = log(alpha)` of the keys' shape.
  }];
}

#endif // ATTN_DIALECT_ATTNATTRS_TD
