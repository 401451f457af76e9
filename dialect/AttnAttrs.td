//===- AttnAttrs.td - attn enums and attributes -------------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNATTRS_TD
#define ATTN_DIALECT_ATTNATTRS_TD

include "dialect/AttnBase.td"
include "mlir/IR/AttrTypeBase.td"
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

def Attn_RopeStyle : I32EnumAttr<"RopeStyle",
    "which channels a rotary embedding pairs", [
      I32EnumAttrCase<"llama", 0>,
      I32EnumAttrCase<"gptj", 1>
    ]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
  let description = [{
    * `llama`: channel `d` pairs with `d + R/2` (half rotation; GPT-NeoX,
      Llama, HF's `rotate_half`);
    * `gptj`: channel `2k` pairs with `2k + 1` (interleaved; GPT-J, the
      original RoFormer).
  }];
}

def Attn_RopeScaling : I32EnumAttr<"RopeScaling",
    "how a rotary embedding's frequencies are rescaled for long contexts", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"linear", 1>,
      I32EnumAttrCase<"ntk", 2>,
      I32EnumAttrCase<"yarn", 3>,
      I32EnumAttrCase<"llama3", 4>
    ]> {
  let cppNamespace = "::mlir::attn";
  let genSpecializedAttr = 0;
  let description = [{
    With `s = factor`, `R` rotated channels and `f_k = theta^(-2k/R)`:
    * `linear`: position interpolation, `f_k / s`;
    * `ntk`: NTK-aware base change, `theta * s^(R / (R - 2))`;
    * `yarn`: YaRN's per-frequency blend of `f_k` and `f_k / s` by a ramp
      between `beta_fast` and `beta_slow` rotations over
      `original_context`, and cos/sin scaled by `0.1 ln(s) + 1`
      (or `attention_factor`);
    * `llama3`: Llama 3.1's blend by wavelength between
      `original_context / low_freq_factor` and `/ high_freq_factor`.
  }];
}

class Attn_F64Param<string value>
    : DefaultValuedParameter<"::llvm::APFloat", "::llvm::APFloat(" # value # ")"> {
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::APFloat> {
    double v;
    if ($_parser.parseFloat(v))
      return ::mlir::failure();
    return ::llvm::APFloat(v);
  }() }];
  let printer = [{ $_printer.printFloat($_self) }];
}

class Attn_EnumParam<EnumAttrInfo info, string value>
    : EnumParameter<info> {
  let defaultValue = value;
}

def Attn_RopeAttr : AttrDef<Attn_Dialect, "Rope"> {
  let mnemonic = "rope";
  let summary = "A rotary position embedding: pairing, base and scaling";
  let description = [{
    Rotates each pair of channels `(x[a], x[b])` of a query or key row at
    position `p` by the angle `p * f_k`:
    `y[a] = x[a] cos - x[b] sin`, `y[b] = x[b] cos + x[a] sin`, with
    `f_k = theta^(-2k/R)` for pair `k < R/2` (after `scaling`) and `R =
    dims` rotated channels (0: all of them; the others pass through,
    partial RoPE). Every parameter has a default and may be left out:

    ```mlir
    #attn.rope<theta = 500000.0, scaling = llama3, factor = 8.0,
               original_context = 8192>
    #attn.rope<style = gptj, dims = 64>
    ```

    The frequencies are computed at compile time (in double precision);
    angles are formed in double precision and reduced by whole turns before
    the f32 cosine and sine, so positions far beyond 2^24 stay exact.
  }];
  let parameters = (ins
    Attn_EnumParam<Attn_RopeStyle, "::mlir::attn::RopeStyle::llama">:$style,
    Attn_F64Param<"10000.0">:$theta,
    DefaultValuedParameter<"int64_t", "0">:$dims,
    Attn_EnumParam<Attn_RopeScaling, "::mlir::attn::RopeScaling::none">:$scaling,
    Attn_F64Param<"1.0">:$factor,
    DefaultValuedParameter<"int64_t", "0">:$original_context,
    Attn_F64Param<"32.0">:$beta_fast,
    Attn_F64Param<"1.0">:$beta_slow,
    Attn_F64Param<"1.0">:$low_freq_factor,
    Attn_F64Param<"4.0">:$high_freq_factor,
    Attn_F64Param<"0.0">:$attention_factor
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The rotated channel count for rows of `headDim` channels.
    int64_t getRotatedDims(int64_t headDim) const {
      return getDims() ? getDims() : headDim;
    }
    /// The signed angular frequency of every channel of a `headDim` row:
    /// a row at position p turns channel d by p * f[d] against its pair
    /// partner (negative for the first channel of a pair, 0 for channels
    /// that are not rotated).
    ::llvm::SmallVector<double> getChannelFrequencies(int64_t headDim) const;
    /// The pair partner of channel d (itself where not rotated).
    int64_t getPartner(int64_t d, int64_t headDim) const;
    /// The factor on cos and sin (YaRN's attention temperature; else 1).
    double getMagnitude() const;
  }];
}

#endif // ATTN_DIALECT_ATTNATTRS_TD
