//===- AttnOps.td - attn operations ------------------------*- tablegen -*-===//
//
// Part of the attn project.
//
//===----------------------------------------------------------------------===//

#ifndef ATTN_DIALECT_ATTNOPS_TD
#define ATTN_DIALECT_ATTNOPS_TD

include "dialect/AttnBase.td"
include "dialect/AttnAttrs.td"
include "dialect/AttnInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// attn.attention
//===----------------------------------------------------------------------===//

def Attn_AttentionOp : Attn_Op<"attention", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Scaled dot-product attention with score, mask and epilogue regions";
  let description = [{
    Computes, for every batch `b`, query head `h`, query row `i` and value
    channel `d`:

    ```
    s[j]   = score(scale * dot(Q[b,h,i,:], K[b,h/G,j,:]), b, h, i, j)
    vis[j] = mask(b, h, i, j) && (!causal || j <= i + (Lk - Lq))
    p[j]   = exp(s[j]) / sum_{vis} exp(s[j'])     for visible j, else 0
    O[b,h,i,d] = epilogue(sum_j p[j] * V[b,h/G,j,d], b, h, i, d)
    LSE[b,h,i] = log(sum_{vis} exp(s[j]))          (optional second output)
    ```

    With a `sink` region, its value `sink(b, h, i)` is one more logit in the
    softmax denominator with a zero value vector (a learned attention sink):
    `p[j] = exp(s[j]) / (exp(sink) + sum_{vis} exp(s[j']))`, and the LSE
    includes it. With `normalizer(sigmoid)` the weights are
    `p[j] = sigmoid(s[j])` for visible keys with no normalization (sigmoid
    attention); there is then no LSE and no sink.

    A `second(%q2, %k2)` pair adds a second attention map over the same values
    (same scale, regions and mask): `O2 = softmax(score(q2.k2)) V`, and the
    `combine(%o1, %o2, %b, %h, %i, %d)` region yields the combined element
    (Differential Transformer: `o1 - lambda_h * o2`). `rms_norm(eps)` then
    divides each output row by `sqrt(mean_d(x^2) + eps)` before the epilogue.
    Both maps are computed in the same tiled loop, which reads each value
    tile once.

    `blocks(%sel) block_size(n)` makes the attention block-sparse (MoBA,
    SeerAttention): `%sel` is an i32 `[batch, heads, Lq, k]` list of key
    blocks per query row, and key `j` is visible to row `i` only if block
    `j / n` is in `sel[b, h, i, :]` (entries outside `[0, ceil(Lk / n))`,
    such as the -1 of an unfilled routing slot, select nothing). Together
    with `causal` and `mask`. Key tiles selected by no row of a query tile
    are skipped at run time, tiles selected by all rows run unmasked.

    `column_scores` adds a last output, the attention each key receives
    (KV-cache importance scores: H2O, A2SF, VATP), an f32
    `[batch, kv heads, key length]` buffer:

    ```
    scores[b,g,j] = sum_{h in group g} sum_i w_i p[b,h,i,j]   (* |V[b,g,j,:]|_1)
    w_i = score_decay ^ (Lq - 1 - i)     (1 without score_decay)
    ```

    `row_entropy` adds an output before the column scores, the entropy of
    each row's attention distribution, an f32 `[batch, heads, query length]`
    buffer (0 for a row with no visible key):

    ```
    entropy[b,h,i] = -sum_j p[j] log p[j]   (with a sink: - p_sink log p_sink too)
    ```

    (Entropy-Guided Attention, attention-entropy collapse monitoring).
    `attn-expand-side-outputs` computes it in a second pass over the keys
    from the saved log-sum-exp: an attention whose logits are
    `s - LSE + log(LSE - s)`, so that its own LSE is `log(entropy)`
    (softmax normalizer only, not with a second map; block selections are
    fine).

    `score_decay(alpha)` is A2SF's forgetting factor (0 < alpha <= 1),
    `value_norm` VATP's factor. Probabilities are never materialized:
    `attn-expand-side-outputs` computes them in a second attention pass
    from the saved log-sum-exp (softmax normalizer only; not with a second
    map or a block selection).

    Operands are laid out `[batch, heads, seq, head_dim]` (PyTorch SDPA).
    Batch and sequence lengths may be dynamic; head counts and head dims are
    static. `G = Hq / Hkv` query heads share one key/value head (GQA/MQA).
    Query and key lengths may differ (cross-attention, decode); the causal
    mask is aligned to the bottom-right corner so that a single query row
    sees the whole cache. A row with no visible key produces 0 (and an LSE of
    -inf), never NaN.

    The op is destination-passing: `outs` holds the output (and optionally a
    `[batch, heads, seq]` f32 LSE buffer). On tensors it returns one result
    per output; on memrefs it writes them and returns nothing.

    `kv_lens(%lens)` (an i32 `[batch]` buffer) gives each batch entry its own
    key length (FlashAttention's `cache_seqlens`): request `b` sees keys
    `j < lens[b]` only, and its causal mask is aligned to its own bottom-right
    corner, `j <= i + lens[b] - Lq`. A row with no key (`lens[b] = 0`) is
    empty. `pages(%table)` (with `kv_lens`) reads keys and values through a
    page table (vLLM, FlashInfer): `%key` and `%value` are then page pools
    `[pages, page_size, kv_heads, D]` (`page_layout(nhd)`, the default) or
    `[pages, kv_heads, page_size, D]` (`page_layout(hnd)`), and `%table` an
    i32 `[batch, max_pages]` block table; logical key `j` of request `b` is
    row `j % page_size` of page `table[b, j / page_size]`. Pages may be
    shared between requests and appear in any order; entries of the table
    beyond a request's `ceil(lens[b] / page_size)` pages are never read.
    Regions see logical positions. Not with a second map, a block
    selection, column scores or a row entropy. The runtime checks every
    length against the table's capacity (or the key length) and every read
    entry against the pool before a call.

    `rope <...>` (a `#attn.rope`) applies a rotary position embedding to
    the queries and keys inside the kernel, at their logical positions: key
    `j` at `j`, query row `i` at `i + Lk - Lq` (`i + lens[b] - Lq` with
    `kv_lens`), the positions of the causal alignment. A cache then holds
    keys before RoPE (StreamingLLM's cache-slot positions, Block-Attention's
    re-encoded blocks), and a paged pool's rows take the position their
    request reads them at. Not with a second map.

    `qo_indptr(%indptr)` makes the batch ragged (FlashInfer's batch
    prefill, FlashAttention-2's `cu_seqlens_q`): the query is
    `[tokens, heads, 1, D]`, every request's queries packed one after the
    other, and `%indptr` (i32 `[batch + 1]`, with `kv_lens`) says that
    request `b` owns tokens `indptr[b] .. indptr[b+1] - 1`: a chunk of
    `Lq_b = indptr[b+1] - indptr[b]` queries (1 for a decode step, 0 for
    none) against its own `lens[b]` keys, causal aligned to its own
    bottom-right corner. The output and LSE are per token (`[tokens, heads,
    1, Dv]`, `[tokens, heads, 1]`); regions see the request `b` and the
    query's row `i` within its chunk. `plan(%plan)` (i32 `[2, batch + 1]`,
    from `attnrt_plan_ragged`) is an optional host-side work partition
    reused by every layer of a step: the order requests are processed in
    and their first work item (docs/serving.md). The runtime checks the
    pointer and the plan against the batch before a call.

    `key_scale(%ks)` / `value_scale(%vs)` make the keys / values a
    quantized cache (dense or paged): an 8-bit operand (`i8`, `f8E4M3FN`
    or `f8E5M2`) whose element `x` stands for `scale * decode(x)`. The
    scale (f32, f16 or bf16) has the operand's rank and derives the
    granularity from its shape: each dim is 1 (one scale along it), the
    operand's size (one per index) or, static, a divisor of it (blocks).
    Per-tensor fp8 (vLLM's `k_scale`) is `1x1x1x1`, int8 per token
    `[pages, page_size, kv_heads, 1]`, int8 per channel `[1, 1, kv_heads,
    D]`, q8_0 `[pages, page_size, kv_heads, D/32]` with f16 scales.
    Dequantized into the query's element type as tiles are read; not with
    a second map, a block selection, rms_norm, column scores or a row
    entropy. `attn.quantize_kv` produces the formats.

    Regions (all optional; a missing region is the identity / always-visible):
    * `score(%s: f32, %b: index, %h: index, %i: index, %j: index)` yields the
      modified f32 logit (FlexAttention's `score_mod`);
    * `mask(%b: index, %h: index, %i: index, %j: index)` yields `i1`, true
      where key `j` is visible to query `i` (FlexAttention's `mask_mod`);
    * `epilogue(%o: f32, %b: index, %h: index, %i: index, %d: index)` yields
      the output element (of the output element type);
    * `sink(%b: index, %h: index, %i: index)` yields an f32 logit that enters
      only the softmax denominator.
    Regions may read tensors defined above them with `tensor.extract`
    (after bufferization: `memref.load`), e.g. a bias or document ids.

    Example (causal GQA with a soft cap):

    ```mlir
    %o = attn.attention causal
        ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
        outs(%init : tensor<?x8x?x64xf32>)
        score {
        ^bb0(%s: f32, %b: index, %h: index, %i: index, %j: index):
          %c = arith.constant 30.0 : f32
          %x = arith.divf %s, %c : f32
          %t = math.tanh %x : f32
          %r = arith.mulf %t, %c : f32
          attn.yield %r : f32
        } -> tensor<?x8x?x64xf32>
    ```
  }];

  let arguments = (ins AnyShaped:$query, AnyShaped:$key, AnyShaped:$value,
                       Optional<AnyShaped>:$query2, Optional<AnyShaped>:$key2,
                       Optional<AnyShaped>:$blocks,
                       Optional<AnyShaped>:$kv_lens,
                       Optional<AnyShaped>:$page_table,
                       Optional<AnyShaped>:$key_scale,
                       Optional<AnyShaped>:$value_scale,
                       Optional<AnyShaped>:$qo_indptr,
                       Optional<AnyShaped>:$plan,
                       Variadic<AnyShaped>:$outputs,
                       UnitAttr:$causal,
                       OptionalAttr<F32Attr>:$scale,
                       DefaultValuedAttr<Attn_Normalizer,
                                         "::mlir::attn::Normalizer::softmax">:$normalizer,
                       OptionalAttr<F32Attr>:$rms_norm_eps,
                       OptionalAttr<I64Attr>:$block_size,
                       UnitAttr:$row_entropy,
                       UnitAttr:$column_scores,
                       OptionalAttr<F32Attr>:$score_decay,
                       UnitAttr:$value_norm,
                       DefaultValuedAttr<Attn_PageLayout,
                                         "::mlir::attn::PageLayout::nhd">:$page_layout,
                       OptionalAttr<Attn_RopeAttr>:$rope);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region AnyRegion:$score, AnyRegion:$mask,
                        AnyRegion:$epilogue, AnyRegion:$sink,
                        AnyRegion:$combine);

  let assemblyFormat = [{
    (`causal` $causal^)? (`scale` `(` $scale^ `)`)?
    (`normalizer` `(` $normalizer^ `)`)?
    (`rope` $rope^)?
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,` type($value) `)`
    (`second` `(` $query2^ `,` $key2 `:` type($query2) `,` type($key2) `)`)?
    (`blocks` `(` $blocks^ `:` type($blocks) `)`)?
    (`block_size` `(` $block_size^ `)`)?
    (`kv_lens` `(` $kv_lens^ `:` type($kv_lens) `)`)?
    (`pages` `(` $page_table^ `:` type($page_table) `)`)?
    (`page_layout` `(` $page_layout^ `)`)?
    (`key_scale` `(` $key_scale^ `:` type($key_scale) `)`)?
    (`value_scale` `(` $value_scale^ `:` type($value_scale) `)`)?
    (`qo_indptr` `(` $qo_indptr^ `:` type($qo_indptr) `)`)?
    (`plan` `(` $plan^ `:` type($plan) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)`
    (`row_entropy` $row_entropy^)?
    (`column_scores` $column_scores^)?
    (`score_decay` `(` $score_decay^ `)`)?
    (`value_norm` $value_norm^)?
    (`score` $score^)?
    (`mask` $mask^)?
    (`sink` $sink^)?
    (`combine` $combine^)?
    (`rms_norm` `(` $rms_norm_eps^ `)`)?
    (`epilogue` $epilogue^)?
    attr-dict (`->` type($results)^)?
  }];

  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let hasCanonicalizer = 1;

  let extraClassDeclaration = [{
    /// DestinationStyleOpInterface.
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }

    ::mlir::ShapedType getQueryType() { return ::llvm::cast<::mlir::ShapedType>(getQuery().getType()); }
    ::mlir::ShapedType getKeyType() { return ::llvm::cast<::mlir::ShapedType>(getKey().getType()); }
    ::mlir::ShapedType getValueType() { return ::llvm::cast<::mlir::ShapedType>(getValue().getType()); }
    ::mlir::Value getOutput() { return getOutputs()[0]; }
    ::mlir::ShapedType getOutputType() { return ::llvm::cast<::mlir::ShapedType>(getOutput().getType()); }
    /// Outputs after the first: [log-sum-exp], [row entropy], [column scores].
    unsigned getNumSideOutputs() {
      return (getRowEntropy() ? 1u : 0u) + (getColumnScores() ? 1u : 0u);
    }
    /// The optional log-sum-exp output buffer, or null.
    ::mlir::Value getLse() {
      return getOutputs().size() > 1 + getNumSideOutputs() ? getOutputs()[1] : ::mlir::Value();
    }
    /// The row entropy output (`row_entropy`), or null.
    ::mlir::Value getEntropyOutput() {
      unsigned n = getOutputs().size();
      return getRowEntropy() && n > getNumSideOutputs()
                 ? getOutputs()[n - getNumSideOutputs()] : ::mlir::Value();
    }
    /// The key-importance scores output (`column_scores`), or null.
    ::mlir::Value getScoresOutput() {
      return getColumnScores() && getOutputs().size() > 1 ? getOutputs().back() : ::mlir::Value();
    }
    ::mlir::ShapedType getBlocksType() { return getBlocks() ? ::llvm::cast<::mlir::ShapedType>(getBlocks().getType()) : ::mlir::ShapedType(); }

    int64_t getNumQueryHeads() { return getQueryType().getDimSize(1); }
    /// Whether keys and values live in page pools read through `pages(...)`.
    bool isPaged() { return bool(getPageTable()); }
    /// The dim of the key/value operands that holds the KV heads: 1, or 2
    /// for a pool in the `nhd` layout.
    unsigned getKvHeadsDim() {
      return isPaged() && getPageLayout() == ::mlir::attn::PageLayout::nhd ? 2 : 1;
    }
    /// The dim of the key/value operands along the keys (of a page, for a
    /// pool).
    unsigned getKeyRowsDim() { return getKvHeadsDim() == 2 ? 1 : 2; }
    /// Keys per page of a paged pool (0 when not paged).
    int64_t getPageSize() {
      return isPaged() ? getKeyType().getDimSize(getKeyRowsDim()) : 0;
    }
    int64_t getNumKvHeads() { return getKeyType().getDimSize(getKvHeadsDim()); }
    /// Whether the keys or values are an 8-bit cache with scales.
    bool isQuantized() { return getKeyScale() || getValueScale(); }
    /// Whether the queries are a ragged batch packed by `qo_indptr`.
    bool isRagged() { return bool(getQoIndptr()); }
    int64_t getHeadDim() { return getQueryType().getDimSize(3); }
    int64_t getValueHeadDim() { return getValueType().getDimSize(3); }

    /// The softmax scale: the `scale` attribute or 1/sqrt(head_dim).
    float getScaleValue();

    /// The yielded value of a region's terminator (null if the region is empty).
    static ::mlir::Value getYieldedValue(::mlir::Region &region);

    /// Clones a (non-empty) region's body as scalar code at `b`'s insertion
    /// point with `args` for its block arguments; returns the yielded value.
    static ::mlir::Value inlineScalarRegion(::mlir::OpBuilder &b,
                                            ::mlir::Region &region,
                                            ::mlir::ValueRange args);

    /// A copy of this op with new operands (in this op's operand order) and
    /// result types, taking over this op's regions (left empty).
    AttentionOp cloneWithOperands(::mlir::RewriterBase &rewriter,
                                  ::mlir::ValueRange operands,
                                  ::mlir::TypeRange resultTypes);
  }];
}

//===----------------------------------------------------------------------===//
// attn.attention_backward
//===----------------------------------------------------------------------===//

def Attn_AttentionBackwardOp : Attn_Op<"attention_backward", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Gradients of an attention from its saved output and log-sum-exp";
  let description = [{
    The FlashAttention-2 backward of an `attn.attention` with a softmax
    normalizer. Given the forward's inputs, its saved output `O` and row
    log-sum-exp `LSE` (what the training forward keeps: never the
    probabilities), and the gradients `dO` (and `dLSE` where the LSE is a
    result with a gradient), it computes for every visible (query, key)
    pair, recomputing the probability from the LSE:

    ```
    r[i,j]  = scale * dot(Q[b,h,i,:], K[b,h/G,j,:])
    s[i,j]  = score(r[i,j], b, h, i, j)
    P[i,j]  = exp(s[i,j] - LSE[b,h,i])
    Di      = sum_d dO[b,h,i,d] O[b,h,i,d] - dLSE[b,h,i]
    dV[j]  += P[i,j] dO[i]                       (summed over the group)
    dS[i,j] = P[i,j] (dot(dO[i], V[j]) - Di)
    dR[i,j] = score_grad(r[i,j], dS[i,j], b, h, i, j)
    dQ[i]  += scale dR[i,j] K[j]
    dK[j]  += scale dR[i,j] Q[i]                 (summed over the group)
    ```

    With `normalizer(sigmoid)` (sigmoid attention: `P = sigmoid(s)`, no
    normalization) there is no LSE: `dS = (dO . V_j) P (1 - P)` and no `D`.

    Visibility is the forward's: the `mask` region and `causal` (aligned to
    the bottom-right corner). `score_grad(%r, %g, %b, %h, %i, %j)` yields the
    gradient of the raw logit given the gradient `%g` of the score region's
    result: `g * d score / d r`, derived from the score region by
    `attn-generate-backward` (absent: the identity). A sink logit is part of
    the saved LSE, so it needs nothing here. A row with no visible key
    (`LSE = -inf`) contributes nothing.

    Outputs are f32 `dQ`, `dK`, `dV` of the shapes of `Q`, `K`, `V`,
    overwritten (not accumulated into), then one f32 gradient per float
    tensor the score or sink region reads (a bias, ALiBi slopes, FoX's
    cumulative gates, sink logits), zeroed and accumulated into by the
    `attn.grad_accumulate` ops of `score_grad` and `sink_grad`:
    `score_grad` adds `dS · d score / d c[idx]` per visible pair, and
    `sink_grad(%g, %b, %h, %i)` the sink's share `g = -P_sink D_i` (with
    `P_sink = exp(sink - LSE)`) per row; `sink` is the forward's sink region
    (it yields the sink logit). Those accumulations run in a separate nest,
    in parallel only over the batch and head indices every accumulation is
    indexed by, and in a fixed order otherwise. `attn-lower-attention-backward`
    lowers the memref form into two loop nests without atomics: one over
    (batch, KV head) for dK and dV, one over (batch, query head) for dQ, so
    two runs give bit-identical gradients.

    ```mlir
    %dq, %dk, %dv = attn.attention_backward causal scale(0.125)
        ins(%q, %k, %v : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
        saved(%o : tensor<?x8x?x64xf32>) lse(%lse : tensor<?x8x?xf32>)
        grads(%do : tensor<?x8x?x64xf32>)
        outs(%dq0, %dk0, %dv0 : tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>)
        -> tensor<?x8x?x64xf32>, tensor<?x2x?x64xf32>, tensor<?x2x?x64xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$query, AnyShaped:$key, AnyShaped:$value,
                       AnyShaped:$out, Optional<AnyShaped>:$lse,
                       AnyShaped:$grad_out,
                       Optional<AnyShaped>:$grad_lse,
                       Variadic<AnyShaped>:$outputs,
                       UnitAttr:$causal, F32Attr:$scale,
                       DefaultValuedAttr<Attn_Normalizer,
                                         "::mlir::attn::Normalizer::softmax">:$normalizer);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region AnyRegion:$score, AnyRegion:$mask,
                        AnyRegion:$score_grad, AnyRegion:$sink,
                        AnyRegion:$sink_grad);
  let assemblyFormat = [{
    (`causal` $causal^)? `scale` `(` $scale `)`
    (`normalizer` `(` $normalizer^ `)`)?
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,` type($value) `)`
    `saved` `(` $out `:` type($out) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    `grads` `(` $grad_out `:` type($grad_out) `)`
    (`grad_lse` `(` $grad_lse^ `:` type($grad_lse) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)`
    (`score` $score^)?
    (`mask` $mask^)?
    (`score_grad` $score_grad^)?
    (`sink` $sink^)?
    (`sink_grad` $sink_grad^)?
    attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
    /// The gradients of the tensors the regions read, after dQ, dK, dV.
    ::mlir::OperandRange getCaptureGrads() { return getOutputs().drop_front(3); }
  }];
}

//===----------------------------------------------------------------------===//
// attn.append_kv
//===----------------------------------------------------------------------===//

def Attn_AppendKVOp : Attn_Op<"append_kv", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Writes new key/value rows into their slots of paged pools";
  let description = [{
    vLLM's `reshape_and_cache`: for every new token `t` with
    `s = slots[t] >= 0`, row `s % page_size` of page `s / page_size` of the
    key pool gets `keys[t]` and that of the value pool `values[t]`
    (`[tokens, kv_heads, D]` each, converted to the pools' element type);
    a negative slot (padding) writes nothing. Every other row of the pools
    keeps its contents: the pools are read-write outputs, updated in place
    when they are arguments of an exported function (their C entry point
    takes them as in/out arguments and returns nothing for them). Pools
    are `[pages, page_size, kv_heads, D]` (`page_layout(nhd)`, the default)
    or `[pages, kv_heads, page_size, D]`, the layouts `attn.attention
    ... pages(...)` reads. The runtime checks every slot against the
    pool's `pages * page_size` rows before a call; two tokens with the same
    slot leave an unspecified row there (possibly a mix of both). Heads,
    page size and head dims are static.

    ```mlir
    %kc, %vc = attn.append_kv ins(%k, %v : tensor<?x2x64xf16>, tensor<?x2x64xf16>)
        slots(%slots : tensor<?xi32>)
        outs(%kpool, %vpool : tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>)
        -> tensor<?x16x2x64xf16>, tensor<?x16x2x64xf16>
    ```
  }];
  let arguments = (ins AnyShaped:$keys, AnyShaped:$values, AnyShaped:$slots,
                       Variadic<AnyShaped>:$outputs,
                       DefaultValuedAttr<Attn_PageLayout,
                                         "::mlir::attn::PageLayout::nhd">:$page_layout);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    `ins` `(` $keys `,` $values `:` type($keys) `,` type($values) `)`
    `slots` `(` $slots `:` type($slots) `)`
    (`page_layout` `(` $page_layout^ `)`)?
    `outs` `(` $outputs `:` type($outputs) `)`
    attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
    ::mlir::Value getKeyPool() { return getOutputs()[0]; }
    ::mlir::Value getValuePool() { return getOutputs()[1]; }
    /// The pools' dim of the KV heads (2 in nhd) and of a page's rows.
    unsigned getKvHeadsDim() {
      return getPageLayout() == ::mlir::attn::PageLayout::nhd ? 2 : 1;
    }
    unsigned getPageRowsDim() { return getKvHeadsDim() == 2 ? 1 : 2; }
    int64_t getPageSize() {
      return ::llvm::cast<::mlir::ShapedType>(getKeyPool().getType())
          .getDimSize(getPageRowsDim());
    }
  }];
}

//===----------------------------------------------------------------------===//
// attn.quantize_kv
//===----------------------------------------------------------------------===//

def Attn_QuantizeKVOp : Attn_Op<"quantize_kv", [
    Pure, AttrSizedOperandSegments, DestinationStyleOpInterface]> {
  let summary = "Quantizes keys or values into an 8-bit cache format";
  let description = [{
    Produces the 8-bit formats `attn.attention`'s `key_scale` /
    `value_scale` read: `q = encode(x / s)` with `s` the scale of `x`'s
    group, rounded to nearest even and saturated (`i8`: to [-127, 127];
    `f8E4M3FN`: to +-448; `f8E5M2`: to +-57344). The scale's shape gives
    the groups, as for `attn.attention`: each dim is 1, the input's size,
    or a static divisor of it (blocks).

    Without `scale(...)` the scales are computed and returned:
    `s = max |x| over the group / max code` (127, 448 or 57344), rounded to
    the scale's element type before `x` is divided by it (so that
    `s * decode(q)` is what a reader sees; a group of zeros has `s = 0` and
    codes 0). With `scale(%s)` the given scales are used (vLLM's
    calibrated per-tensor `k_scale`) and only the codes are returned.

    ```mlir
    // int8, one scale per token and head (KIVI's values, per-token K)
    %q, %s = attn.quantize_kv ins(%k : tensor<?x8x128xf32>)
        outs(%qi, %si : tensor<?x8x128xi8>, tensor<?x8x1xf32>)
        -> tensor<?x8x128xi8>, tensor<?x8x1xf32>
    // fp8 with a calibrated per-tensor scale
    %q8 = attn.quantize_kv ins(%k : tensor<?x8x128xf32>) scale(%ks : tensor<1x1x1xf32>)
        outs(%qi8 : tensor<?x8x128xf8E4M3FN>) -> tensor<?x8x128xf8E4M3FN>
    ```

    Tensors only; `attn-lower-quantize-kv` lowers it to `linalg.generic`s.
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       Optional<AnyRankedTensor>:$scale,
                       Variadic<AnyRankedTensor>:$outputs);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    `ins` `(` $input `:` type($input) `)`
    (`scale` `(` $scale^ `:` type($scale) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)` attr-dict `->` type($results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
    /// The scales: given (`scale(...)`) or computed (the second output).
    ::mlir::Value getScales() {
      return getScale() ? getScale() : getOutputs()[1];
    }
  }];
}

//===----------------------------------------------------------------------===//
// attn.cumsum
//===----------------------------------------------------------------------===//

def Attn_CumsumOp : Attn_Op<"cumsum", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Inclusive prefix sum along one dimension";
  let description = [{
    `output[..., t, ...] = sum_{t' <= t} input[..., t', ...]` along `dim`,
    accumulated in f32; with `reverse`, the suffix sum `sum_{t' >= t}` (the
    adjoint of the prefix sum, what `attn-generate-backward` emits for it). The scan that some variants need before attention
    (the Forgetting Transformer's cumulative log forget gates); elementwise
    work before it is an ordinary `linalg.generic`. Destination-passing, on
    tensors or memrefs, like `attn.attention`; `attn-lower-cumsum` turns the
    memref form into loops.

    ```mlir
    %c = attn.cumsum dim(2) ins(%x : tensor<?x4x?xf32>) outs(%init : tensor<?x4x?xf32>) -> tensor<?x4x?xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$input, AnyShaped:$output, I64Attr:$dim,
                       UnitAttr:$reverse);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    (`reverse` $reverse^)? `dim` `(` $dim `)` `ins` `(` $input `:` type($input) `)`
    `outs` `(` $output `:` type($output) `)` attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputMutable(); }
  }];
}


//===----------------------------------------------------------------------===//
// attn.rope
//===----------------------------------------------------------------------===//

def Attn_RopeOp : Attn_Op<"rope", [
    Pure,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Rotary position embedding of query or key rows";
  let description = [{
    Rotates every row `x[b, h, i, :]` of a `[batch, heads, len, head_dim]`
    tensor by the `#attn.rope` embedding at position `positions[b, i]` (an
    integer `[batch, len]` tensor: HF's `position_ids`, vLLM's
    `positions`). With `inverse` the angles are negated: the inverse
    rotation, which is also the adjoint (`attn-generate-backward` emits it).
    What `attn.attention`'s `rope` becomes outside the CPU kernel
    (`attn-materialize-rope`), and the form for explicit positions
    (rotating keys as they are appended to a cache, block offsets).

    ```mlir
    %r = attn.rope <theta = 500000.0> ins(%k : tensor<?x8x?x128xbf16>)
        positions(%pos : tensor<?x?xi32>) outs(%init : tensor<?x8x?x128xbf16>)
        -> tensor<?x8x?x128xbf16>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$positions,
                       AnyRankedTensor:$output, Attn_RopeAttr:$rope,
                       UnitAttr:$inverse);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $rope (`inverse` $inverse^)? `ins` `(` $input `:` type($input) `)`
    `positions` `(` $positions `:` type($positions) `)`
    `outs` `(` $output `:` type($output) `)` attr-dict `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputMutable(); }
  }];
}

//===----------------------------------------------------------------------===//
// attn.scan
//===----------------------------------------------------------------------===//

def Attn_ScanOp : Attn_Op<"scan", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Linear attention as a causal scan over a matrix state";
  let description = [{
    Linear and gated-linear attention (variant catalogue §2.4, axis A9). Per
    batch and head, with `phi` the `feature_map` region (identity when
    absent) applied to every element of the queries and keys:

    ```
    S_t = D_t S_{t-1} + phi(k_t)^T v_t        (S [Dk, Dv], S_{-1} = state or 0)
    o_t = phi(q_t) S_t                        (normalize: / (phi(q_t) . z_t))
    z_t = D_t z_{t-1} + phi(k_t)
    ```

    where `D_t` is the identity (`decay(none)`), `lambda_h` (`decay(head)`,
    `decays` of shape `[H]`) or `diag(exp(decays[b, h, t, :]))`
    (`decay(channel)`, log-decays `<= 0` shaped like the keys). q, k
    `[B, H, L, Dk]` and v `[B, H, L, Dv]` share batch, heads and length.
    The outputs are `o [B, H, L, Dv]` and optionally the final state
    `[B, H, Dk, Dv]` (decode takes the state in and returns it).

    `reverse` runs the recurrence from the last step to the first (the
    backward half of a bidirectional scan, ViG, Vision-LSTM):
    `S_t = D_t S_{t+1} + phi(k_t)^T v_t` (`S_L` = state or 0), and likewise
    `z_t`; the final state is then `S_0`. It is lowered as the forward scan
    reading row `L - 1 - t` at step `t`. The
    `feature_map` region takes the element and its head-dim index and yields
    the mapped value (e.g. `elu(x) + 1`).

    ```mlir
    %o, %s = attn.scan decay(channel)
        ins(%q, %k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
        decays(%log_alpha : tensor<?x4x?x64xf32>)
        state(%s0 : tensor<?x4x64x64xf32>)
        outs(%o0, %s1 : tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>)
        -> tensor<?x4x?x64xf32>, tensor<?x4x64x64xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$query, AnyShaped:$key, AnyShaped:$value,
                       Optional<AnyShaped>:$decays,
                       Optional<AnyShaped>:$state,
                       Variadic<AnyShaped>:$outputs,
                       Attn_DecayKind:$decay, UnitAttr:$normalize,
                       UnitAttr:$reverse);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region AnyRegion:$feature_map);
  let assemblyFormat = [{
    `decay` `(` $decay `)` (`reverse` $reverse^)? (`normalize` $normalize^)?
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,` type($value) `)`
    (`decays` `(` $decays^ `:` type($decays) `)`)?
    (`state` `(` $state^ `:` type($state) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)`
    (`feature_map` $feature_map^)? attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
    ::mlir::Value getOutput() { return getOutputs()[0]; }
    ::mlir::Value getFinalState() {
      return getOutputs().size() > 1 ? getOutputs()[1] : ::mlir::Value();
    }
  }];
}

//===----------------------------------------------------------------------===//
// attn.route
//===----------------------------------------------------------------------===//

def Attn_RouteOp : Attn_Op<"route", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Top-k router: expert weights, indices and load statistics";
  let description = [{
    Routes every token (row) to `k` of `E` experts. The input is either the
    router logits `[..., T, E]`, or `x [..., T, Dm]` and `W [..., Dm, E]`
    whose product the kernel computes itself (`W` without the leading dims
    is shared). For each row `t`:

    ```
    z[e]  = score(l[t, e] / temperature, t, e)          (region optional)
    p     = softmax(z) | sigmoid(z) | z                 (scoring)
    c[e]  = (topk_softmax or none ? z : p)[e] + bias[e] (selection key)
    chosen = the k largest c among kept experts (ties: lower index), within
             the `top` best of `groups` equal groups if `groups = [n, top]`
             (a group's score is the sum of its two largest c)
    w     = p[chosen], or softmax(z[chosen]) for topk_softmax;
            / sum(w) with renormalize; * routed_scale
    ```

    Then a chosen expert whose weight is below `skip_threshold` is dropped,
    and with `capacity_factor` each expert takes at most
    `ceil(capacity_factor * T * k / E)` (token, expert) pairs, in token order
    (then slot order); a dropped or unfilled slot has index -1 and weight 0.
    Experts whose `keep` entry is false are pruned: never chosen, excluded
    from the softmax. `-inf` keys (e.g. from the score region) are never
    chosen.

    Outputs (destination-passing): weights `[..., T, k]` f32 and indices
    `[..., T, k]` i32, optionally the load statistics `counts [E]` i32
    (pairs kept per expert, after skipping and capacity) and `prob_sums [E]`
    f32 (`sum_t p[t, e]`), which give the Switch and global-batch auxiliary
    losses. `T` counts the rows of all leading dims together.

    ```mlir
    %w, %i = attn.route top(2) scoring(softmax) renormalize
        ins(%logits : tensor<?x8xf32>)
        outs(%w0, %i0 : tensor<?x2xf32>, tensor<?x2xi32>) -> tensor<?x2xf32>, tensor<?x2xi32>
    ```

    The `score(%z: f32, %t: index, %e: index)` region modifies a logit; `%t`
    is the row's index along the token dim. Block routing uses it to forbid
    future blocks (`-inf`) and force the diagonal one (`+inf`).
  }];
  let arguments = (ins AnyShaped:$input, Optional<AnyShaped>:$weight,
                       Optional<AnyShaped>:$bias,
                       Variadic<AnyShaped>:$outputs,
                       I64Attr:$k,
                       DefaultValuedAttr<Attn_RouteScoring,
                                         "::mlir::attn::RouteScoring::softmax">:$scoring,
                       UnitAttr:$renormalize,
                       OptionalAttr<F32Attr>:$temperature,
                       OptionalAttr<DenseI64ArrayAttr>:$groups,
                       OptionalAttr<F32Attr>:$routed_scale,
                       OptionalAttr<F32Attr>:$skip_threshold,
                       OptionalAttr<F32Attr>:$capacity_factor,
                       OptionalAttr<DenseBoolArrayAttr>:$keep);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let regions = (region AnyRegion:$score);
  let assemblyFormat = [{
    `top` `(` $k `)` (`scoring` `(` $scoring^ `)`)? (`renormalize` $renormalize^)?
    `ins` `(` $input (`,` $weight^)? `:` type($input) (`,` type($weight)^)? `)`
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)`
    (`score` $score^)?
    attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
    ::mlir::Value getWeights() { return getOutputs()[0]; }
    ::mlir::Value getIndices() { return getOutputs()[1]; }
    ::mlir::Value getCounts() { return getOutputs().size() > 2 ? getOutputs()[2] : ::mlir::Value(); }
    ::mlir::Value getProbSums() { return getOutputs().size() > 3 ? getOutputs()[3] : ::mlir::Value(); }
    /// The number of experts E.
    int64_t getNumExperts();
    /// The rank of the token/expert matrix's leading (batch) dims.
    int64_t getNumBatchDims() { return ::llvm::cast<::mlir::ShapedType>(getInput().getType()).getRank() - 2; }
  }];
}

//===----------------------------------------------------------------------===//
// attn.experts
//===----------------------------------------------------------------------===//

def Attn_ExpertsOp : Attn_Op<"experts", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Gated (GLU) expert FFNs over the routed (token, expert) pairs";
  let description = [{
    The expert half of a mixture-of-experts layer:

    ```
    y[t] = sum_{s : e = idx[t, s] in [0, E)} w[t, s] *
           ((act(x[t] W1[e]) * (x[t] W3[e])) W2[e])
    ```

    with `x [T, Dm]`, routing weights `w [T, k]` f32 and indices `idx [T, k]`
    i32 (an `attn.route`'s outputs), `W1`, `W3 [E, Dm, F]`, `W2 [E, F, Dm]`
    and `act` the activation (`swish`: SwiGLU, `gelu`: GeGLU, `identity`:
    bilinear, `sigmoid`: GLU, `relu`: ReGLU). Slots with an index outside
    `[0, E)` (dropped, skipped) contribute nothing and cost nothing: the
    lowering sorts the pairs by expert and runs grouped matmuls over the
    selected pairs only.

    ```mlir
    %y = attn.experts swish
        ins(%x, %w, %idx, %w1, %w3, %w2 : tensor<?x256xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
            tensor<8x256x512xf32>, tensor<8x256x512xf32>, tensor<8x512x256xf32>)
        outs(%init : tensor<?x256xf32>) -> tensor<?x256xf32>
    ```

    An optional second output `norms [T, k]` f32 receives, per slot, the
    L2 norm of the expert's own (unweighted) output,
    `norms[t, s] = ||(act(x[t] W1[e]) * (x[t] W3[e])) W2[e]||_2` with
    `e = idx[t, s]`, and 0 for a slot outside `[0, E)`: output-aware expert
    importance (EASY-EP's `g * ||E_e(h)||`), computed in the grouped matmuls'
    epilogue with no second pass.
  }];
  let arguments = (ins AnyShaped:$input, AnyShaped:$weights, AnyShaped:$indices,
                       AnyShaped:$w1, AnyShaped:$w3, AnyShaped:$w2,
                       Variadic<AnyShaped>:$outputs, Attn_Activation:$activation);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $activation
    `ins` `(` $input `,` $weights `,` $indices `,` $w1 `,` $w3 `,` $w2 `:`
        type($input) `,` type($weights) `,` type($indices) `,` type($w1) `,`
        type($w3) `,` type($w2) `)`
    `outs` `(` $outputs `:` type($outputs) `)` attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
    ::mlir::Value getOutput() { return getOutputs()[0]; }
    /// The per-slot expert output norms, if requested.
    ::mlir::Value getNorms() {
      return getOutputs().size() > 1 ? getOutputs()[1] : ::mlir::Value();
    }
  }];
}

//===----------------------------------------------------------------------===//
// attn.gate
//===----------------------------------------------------------------------===//

def Attn_GateOp : Attn_Op<"gate", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Elementwise gate out = x * act(g), g broadcast";
  let description = [{
    `out[idx] = x[idx] * act(g[idx[dims]])`: `g` is indexed by the dims of
    `x` listed in `dims` (default: all of them, an elementwise gate), so a
    gate per (batch, head, token) of a `[B, H, L, D]` output has
    `dims = [0, 1, 2]` and one per head `dims = [1]`. Gated attention (G1),
    the GLA output gate and, with `x` and `g` two projections of the same
    input, the GLU family. `attn-fuse-elementwise` rewrites the gate into a
    `linalg.generic` and folds it into the epilogue of the attention that
    produces `x` (or `g`'s other operand), so it costs no extra pass over
    memory.

    ```mlir
    %y = attn.gate sigmoid ins(%o, %g : tensor<?x8x?x64xf32>, tensor<?x8x?xf32>)
        outs(%init : tensor<?x8x?x64xf32>) dims([0, 1, 2]) -> tensor<?x8x?x64xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$input, AnyShaped:$gate, AnyShaped:$output,
                       Attn_Activation:$activation,
                       OptionalAttr<DenseI64ArrayAttr>:$dims);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $activation `ins` `(` $input `,` $gate `:` type($input) `,` type($gate) `)`
    `outs` `(` $output `:` type($output) `)`
    (`dims` `(` $dims^ `)`)? attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputMutable(); }
    /// The dims of the input that index the gate.
    ::llvm::SmallVector<int64_t> getGateDims();
    /// `act(g)` in f32 at `b`'s insertion point.
    static ::mlir::Value emitActivation(::mlir::OpBuilder &b, ::mlir::Location loc,
                                        ::mlir::attn::Activation act, ::mlir::Value g);
    /// The equivalent elementwise linalg.generic (`x * act(g)`, g through a
    /// projected map) on `input`, `gate` and `output` (tensors).
    ::mlir::Operation *buildGeneric(::mlir::OpBuilder &b, ::mlir::Value input,
                                    ::mlir::Value gate, ::mlir::Value output);
  }];
}

//===----------------------------------------------------------------------===//
// attn.merge
//===----------------------------------------------------------------------===//

def Attn_MergeOp : Attn_Op<"merge", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Merge partial attention outputs by their log-sum-exp";
  let description = [{
    Exact merge of attentions over disjoint key sets (catalogue
    `lse_partial_merge`): given partial outputs `O_s [..., L, D]` and their
    natural-log row log-sum-exps `LSE_s [..., L]` (f32), as
    `attn.attention` returns them,

    ```
    LSE = log sum_s exp(LSE_s)
    O   = sum_s exp(LSE_s - LSE) O_s
    ```

    A partial whose rows saw no key (`LSE_s = -inf`, `O_s = 0`) weighs
    nothing; a row no partial saw gets `O = 0` and `LSE = -inf`, as
    `attn.attention` gives it. The merge is associative, so a ring of
    devices (context-parallel attention, BurstAttention), split-KV decode
    and multi-branch attention (a sink branch and a window branch) merge
    pairwise or all at once. `outs` holds the merged output and,
    optionally, the merged LSE (f32).

    With `stacked`, a number of partials known only at run time comes as one
    operand: `O [S, ..., L, D]` and `LSE [S, ..., L]` hold partial `s` at
    index `s` of their leading dim (a split-KV decode's key splits, a ring's
    steps); `stacked(p)` puts that dim at position `p` of both instead
    (FlashInfer's `merge_states` layout `[L, S, H, D]` is `stacked(1)`),
    any position before the last dim of `O`. The CPU split-KV decode form
    of `attn-tile-attention` merges its splits with this op.

    `attn-decompose-merge` rewrites the op on tensors into
    `linalg.generic`s, which every backend compiles, and on buffers into a
    loop nest parallel over the rows; its adjoint differentiates the same
    generics.

    ```mlir
    %o, %l = attn.merge ins(%o1, %o2 : tensor<?x8x?x64xf32>, tensor<?x8x?x64xf32>)
        lse(%l1, %l2 : tensor<?x8x?xf32>, tensor<?x8x?xf32>)
        outs(%oi, %li : tensor<?x8x?x64xf32>, tensor<?x8x?xf32>)
        -> tensor<?x8x?x64xf32>, tensor<?x8x?xf32>
    %m = attn.merge stacked ins(%os : tensor<?x?x8x1x64xf32>)
        lse(%ls : tensor<?x?x8x1xf32>)
        outs(%oi : tensor<?x8x1x64xbf16>) -> tensor<?x8x1x64xbf16>
    ```
  }];
  let arguments = (ins Variadic<AnyShaped>:$partials, Variadic<AnyShaped>:$lses,
                       Variadic<AnyShaped>:$outputs,
                       OptionalAttr<I64Attr>:$stacked);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    (`stacked` `` custom<StackDim>($stacked)^)?
    `ins` `(` $partials `:` type($partials) `)`
    `lse` `(` $lses `:` type($lses) `)`
    `outs` `(` $outputs `:` type($outputs) `)` attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
    /// The position of the partials' dim in the stacked form, if stacked.
    ::std::optional<int64_t> getStackDim() {
      if (auto a = getStackedAttr())
        return a.getInt();
      return ::std::nullopt;
    }
    /// The merged LSE output, or null.
    ::mlir::Value getLseOutput() {
      return getOutputs().size() > 1 ? getOutputs()[1] : ::mlir::Value();
    }
    /// The merge as linalg.generics on tensors: the merged output into
    /// `output` (if non-null) and the merged LSE into `lseOutput` (if
    /// non-null); returns those results, null where not built.
    /// With `stackDim`, `partials` and `lses` are the single stacked operands;
    /// the generics that only stabilize (the row maximum, which the result
    /// does not depend on) are added to `stabilizers` when given.
    static ::llvm::SmallVector<::mlir::Value, 2>
    buildGenerics(::mlir::OpBuilder &b, ::mlir::Location loc,
                  ::mlir::ValueRange partials, ::mlir::ValueRange lses,
                  ::mlir::Value output, ::mlir::Value lseOutput,
                  ::std::optional<int64_t> stackDim = ::std::nullopt,
                  ::llvm::SmallVectorImpl<::mlir::Operation *> *stabilizers =
                      nullptr);
  }];
}

//===----------------------------------------------------------------------===//
// attn.pool
//===----------------------------------------------------------------------===//

def Attn_PoolOp : Attn_Op<"pool", [
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "Block pooling along the sequence dim (max, min, mean)";
  let description = [{
    Pools `input [..., L, D]` over blocks of `block` rows:
    `out[..., n, c * D + d]` is the `kinds[c]` (`max`, `min` or `mean`) of
    `input[..., n * block + r, d]` over the rows `r` of block `n` (the last
    block may be short; its mean divides by its own length). The output is
    `[..., ceil(L / block), len(kinds) * D]` f32: MoBA's mean-pooled keys,
    SeerAttention's pooled queries and `[max, min, mean]` keys.

    ```mlir
    %kp = attn.pool block(64) kinds(["max", "min", "mean"])
        ins(%k : tensor<?x4x?x64xf32>) outs(%init : tensor<?x4x?x192xf32>) -> tensor<?x4x?x192xf32>
    ```
  }];
  let arguments = (ins AnyShaped:$input, AnyShaped:$output, I64Attr:$block,
                       StrArrayAttr:$kinds);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    `block` `(` $block `)` `kinds` `(` $kinds `)`
    `ins` `(` $input `:` type($input) `)`
    `outs` `(` $output `:` type($output) `)` attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputMutable(); }
  }];
}

//===----------------------------------------------------------------------===//
// attn.evict
//===----------------------------------------------------------------------===//

def Attn_EvictOp : Attn_Op<"evict", [
    AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>,
    DeclareOpInterfaceMethods<Attn_AdjointOpInterface>,
    DestinationStyleOpInterface]> {
  let summary = "KV-cache eviction: keep sinks, recent tokens and the top-budget";
  let description = [{
    Compacts a KV cache per (leading dims, KV head). Of the `S` cached
    positions it keeps

    - the `sink` first positions (attention sinks, StreamingLLM),
    - the `recent` last positions (the local window),
    - and, among the positions in between, the `budget` with the best
      score (H2O, A2SF, VATP, Scissorhands; the L2-norm policy with
      `key_norm lowest`); ties go to the lower position.

    "Best" is the highest score, or the lowest with `lowest`. The scores
    are the `scores [..., S]` operand (e.g. the `column_scores` side output
    of an `attn.attention`, or any caller tensor), or with `key_norm` the L2
    norm of each key, `||k_j||_2`, computed by the op. NaN scores rank
    last.

    Outputs (destination-passing): the kept positions `indices [..., N]`
    i32 in increasing order, and the compacted `keys [..., N, Dk]` and
    `values [..., N, Dv]` (the rows at those positions, in the inputs'
    element types), with `N = sink + budget + recent`. When `S < N` every
    position is kept and the tail is padded with index -1 and zero rows.

    ```mlir
    %i, %k1, %v1 = attn.evict budget(64) sink(4) recent(32)
        scores(%s : tensor<?x4x?xf32>)
        ins(%k, %v : tensor<?x4x?x64xf32>, tensor<?x4x?x64xf32>)
        outs(%i0, %k0, %v0 : tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>)
        -> tensor<?x4x100xi32>, tensor<?x4x100x64xf32>, tensor<?x4x100x64xf32>
    ```
  }];
  let arguments = (ins Optional<AnyShaped>:$scores, AnyShaped:$keys,
                       AnyShaped:$values, Variadic<AnyShaped>:$outputs,
                       I64Attr:$budget,
                       DefaultValuedAttr<I64Attr, "0">:$sink,
                       DefaultValuedAttr<I64Attr, "0">:$recent,
                       UnitAttr:$key_norm, UnitAttr:$lowest);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    `budget` `(` $budget `)` (`sink` `(` $sink^ `)`)? (`recent` `(` $recent^ `)`)?
    (`key_norm` $key_norm^)? (`lowest` $lowest^)?
    (`scores` `(` $scores^ `:` type($scores) `)`)?
    `ins` `(` $keys `,` $values `:` type($keys) `,` type($values) `)`
    `outs` `(` $outputs `:` type($outputs) `)` attr-dict (`->` type($results)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() { return getOutputsMutable(); }
    ::mlir::Value getIndicesOutput() { return getOutputs()[0]; }
    ::mlir::Value getKeysOutput() { return getOutputs()[1]; }
    ::mlir::Value getValuesOutput() { return getOutputs()[2]; }
    /// The number of kept slots N = sink + budget + recent.
    int64_t getNumKept() {
      return static_cast<int64_t>(getSink() + getBudget() + getRecent());
    }
  }];
}

//===----------------------------------------------------------------------===//
// Tile-level ops (produced by attn-tile-attention)
//===----------------------------------------------------------------------===//

def Attn_TileAttendOp : Attn_Op<"tile_attend", [AttrSizedOperandSegments]> {
  let summary = "One online-softmax step of a query tile over one key/value tile";
  let description = [{
    The FlashAttention-2 inner step. `query` is a `[nq, D]` tile, `key` a
    `[nk, D]` tile and `value` a `[nk, Dv]` tile (views into the operands);
    `maxes` (`[TQ]`), `sums` (`[TQ]`) and `acc` (`[TQ, Dv]`) hold the running
    row maximum, the running sum of exponentials and the unnormalized output
    accumulator of the query tile. Maxima are kept in base-2 units
    (`log2(e) * logit`) so that backends can use `exp2`.

    The logits are `scale * q.k`, passed through the `score` region, and, if
    the `mask` region is present, set to -inf where it yields false. The tile
    pass emits the mask region only for partially visible tiles: full tiles
    carry no mask at all. `batch`, `head`, `q_offset` and `k_offset` give the
    global coordinates of the tile's first element for the regions. With
    `normalizer(sigmoid)` the step adds `sigmoid(logit) * v` to `acc` and
    leaves `maxes` alone.

    With `weights(%w)` (a `[nk, TQ]` f32 view, key-major) the step also
    stores the unnormalized softmax weights it computes,
    `w[j, i] = exp2(logit[i, j] - maxes[i])` with `maxes` as the step leaves
    them (0 where masked or while a row has seen no visible key; rows
    beyond the tile's own are unspecified). Once the rows are final,
    `attn.tile_column_scores` turns them into probabilities with one factor
    per row and key tile (no exponential per element).

    With `entropy(%u)` (`[TQ]` f32) the step also keeps, per row, the
    running sum `u = sum_j w_j (logit_j - maxes)` of the weights times the
    logits relative to the running maximum (base-2 units, masked keys add
    nothing), rescaled like `sums` when the maximum grows:
    `u' = 2^(m - m') (u + sums (m - m'))`. `attn.tile_finalize` turns it into
    the row entropy `ln 2 (log2(sums) - u / sums)` in the same pass.

    ```mlir
    attn.tile_attend ins(%qt, %kt, %vt : memref<?x64xf32, strided<[64, 1], offset: ?>>, ...)
        state(%m, %l, %acc : memref<64xf32>, memref<64xf32>, memref<64x64xf32>)
        at [%b, %h, %q0, %k0] scale(1.250000e-01)
    ```
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "query tile", [MemRead]>:$query,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "key tile", [MemRead]>:$key,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "value tile", [MemRead]>:$value,
    Arg<MemRefRankOf<[F32], [1]>, "running maxima", [MemRead, MemWrite]>:$maxes,
    Arg<MemRefRankOf<[F32], [1]>, "running sums", [MemRead, MemWrite]>:$sums,
    Arg<MemRefRankOf<[F32], [2]>, "accumulator", [MemRead, MemWrite]>:$acc,
    Arg<Optional<MemRefRankOf<[F32], [2]>>,
        "the tile's softmax weights, key-major", [MemWrite]>:$weights,
    Arg<Optional<MemRefRankOf<[F32], [1]>>,
        "running sums of weights times relative logits (row entropy)",
        [MemRead, MemWrite]>:$logit_sums,
    Index:$batch, Index:$head, Index:$q_offset, Index:$k_offset,
    F32Attr:$scale,
    DefaultValuedAttr<Attn_Normalizer, "::mlir::attn::Normalizer::softmax">:$normalizer);
  let regions = (region AnyRegion:$score, AnyRegion:$mask);
  let assemblyFormat = [{
    `ins` `(` $query `,` $key `,` $value `:` type($query) `,` type($key) `,` type($value) `)`
    `state` `(` $maxes `,` $sums `,` $acc `:` type($maxes) `,` type($sums) `,` type($acc) `)`
    (`weights` `(` $weights^ `:` type($weights) `)`)?
    (`entropy` `(` $logit_sums^ `:` type($logit_sums) `)`)?
    `at` `[` $batch `,` $head `,` $q_offset `,` $k_offset `]`
    `scale` `(` $scale `)`
    (`normalizer` `(` $normalizer^ `)`)?
    (`score` $score^)?
    (`mask` $mask^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_TileColumnScoresOp : Attn_Op<"tile_column_scores"> {
  let summary = "Adds a finished query tile's probabilities to per-key sums";
  let description = [{
    The fused form of `column_scores` (H2O, A2SF). `weights` is the
    `[nk, TQ]` key-major view of the weights that `attn.tile_attend` stored
    for one key tile, `step_maxes` the row maxima right after that step, and
    `maxes`, `sums` the final state of the query tile; for each key `j` of
    the tile:

    ```
    partial[j] += sum_{i < rows} a_i * weights[j, i] * exp2(step_maxes[i] - maxes[i]) / sums[i]
    a_i = score_decay ^ (length - 1 - (q_offset + i))    (1 without score_decay)
    ```

    Rows with `sums[i] = 0` (no visible key) add nothing. `rows` is the
    number of valid rows of the tile, `length` the query length. A
    `sink(b, h, i)` region adds its logit to the denominator, as in
    `attn.tile_finalize`.

    ```mlir
    attn.tile_column_scores ins(%w, %sm : memref<?x64xf32, strided<[64, 1], offset: ?>>, memref<64xf32, strided<[1], offset: ?>>)
        state(%m, %l : memref<64xf32>, memref<64xf32>)
        outs(%part : memref<?xf32, strided<[1], offset: ?>>)
        rows(%nq) length(%lq) at [%b, %h, %q0] score_decay(9.000000e-01)
    ```
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32], [2]>, "weights", [MemRead]>:$weights,
    Arg<MemRefRankOf<[F32], [1]>, "row maxima after the step",
        [MemRead]>:$step_maxes,
    Arg<MemRefRankOf<[F32], [1]>, "final row maxima", [MemRead]>:$maxes,
    Arg<MemRefRankOf<[F32], [1]>, "final row sums", [MemRead]>:$sums,
    Arg<MemRefRankOf<[F32], [1]>, "per-key partial sums",
        [MemRead, MemWrite]>:$partial,
    Index:$rows, Index:$length, Index:$batch, Index:$head, Index:$q_offset,
    OptionalAttr<F32Attr>:$score_decay);
  let regions = (region AnyRegion:$sink);
  let assemblyFormat = [{
    `ins` `(` $weights `,` $step_maxes `:` type($weights) `,` type($step_maxes) `)`
    `state` `(` $maxes `,` $sums `:` type($maxes) `,` type($sums) `)`
    `outs` `(` $partial `:` type($partial) `)`
    `rows` `(` $rows `)` `length` `(` $length `)`
    `at` `[` $batch `,` $head `,` $q_offset `]`
    (`score_decay` `(` $score_decay^ `)`)?
    (`sink` $sink^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Attn_TileFinalizeOp : Attn_Op<"tile_finalize", [AttrSizedOperandSegments]> {
  let summary = "Normalizes a query tile's accumulator and writes the output tile";
  let description = [{
    Writes `output[i, d] = epilogue(acc[i, d] / sums[i], b, h, q_offset + i, d)`
    for the `nq` rows of the `[nq, Dv]` output view (0 where `sums[i]` is 0,
    i.e. the row saw no visible key) and, if present, the row log-sum-exp
    `lse[i] = ln(2) * (maxes[i] + log2(sums[i]))` (-inf for empty rows).
    A `sink(b, h, i)` region adds `exp(sink)` to the denominator (and to the
    LSE). With `normalizer(sigmoid)` the accumulator is written as is.

    With `entropy(%u -> %h)` (`u` the `[TQ]` running sums of
    `attn.tile_attend ... entropy(%u)`, `h` an `[nq]` f32 view) it also
    writes each row's attention entropy
    `h[i] = -sum_j p_j ln p_j = ln 2 (log2(sums[i]) - u[i] / sums[i])`, the
    sink counted as one more logit, 0 for a row with no visible key.

    ```mlir
    attn.tile_finalize state(%m, %l, %acc : memref<64xf32>, memref<64xf32>, memref<64x64xf32>)
        outs(%ot : memref<?x64xf32, strided<[64, 1], offset: ?>>) at [%b, %h, %q0]
    ```
  }];
  let arguments = (ins
    Arg<MemRefRankOf<[F32], [1]>, "running maxima", [MemRead]>:$maxes,
    Arg<MemRefRankOf<[F32], [1]>, "running sums", [MemRead]>:$sums,
    Arg<MemRefRankOf<[F32], [2]>, "accumulator", [MemRead]>:$acc,
    Arg<MemRefRankOf<[F32, F16, BF16], [2]>, "output tile", [MemWrite]>:$output,
    Arg<Optional<MemRefRankOf<[F32], [1]>>, "log-sum-exp tile", [MemWrite]>:$lse,
    Arg<Optional<MemRefRankOf<[F32], [1]>>,
        "running sums of weights times relative logits", [MemRead]>:$logit_sums,
    Arg<Optional<MemRefRankOf<[F32], [1]>>, "row entropy tile", [MemWrite]>:$entropy,
    Index:$batch, Index:$head, Index:$q_offset,
    DefaultValuedAttr<Attn_Normalizer, "::mlir::attn::Normalizer::softmax">:$normalizer);
  let regions = (region AnyRegion:$epilogue, AnyRegion:$sink);
  let assemblyFormat = [{
    `state` `(` $maxes `,` $sums `,` $acc `:` type($maxes) `,` type($sums) `,` type($acc) `)`
    `outs` `(` $output (`,` $lse^)? `:` type($output) (`,` type($lse)^)? `)`
    (`entropy` `(` $logit_sums^ `->` $entropy `:` type($logit_sums) `->` type($entropy) `)`)?
    `at` `[` $batch `,` $head `,` $q_offset `]`
    (`normalizer` `(` $normalizer^ `)`)?
    (`sink` $sink^)?
    (`epilogue` $epilogue^)?
    attr-dict
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

//===----------------------------------------------------------------------===//
// attn.parallel_for
//===----------------------------------------------------------------------===//

def Attn_ParallelForOp : Attn_Op<"parallel_for", [RecursiveMemoryEffects]> {
  let summary = "Independent iterations run on libattnrt's thread pool";
  let description = [{
    Runs the body once for every index in `[0, count)`, in any order and
    concurrently. The body has one `i64` block argument (the iteration index)
    and may contain any number of blocks (it survives the conversion to the
    LLVM dialect); it ends with `attn.yield`. `attn-cpu-outline-parallel`
    outlines it into a function called by `attnrt_parallel_for`.

    ```mlir
    attn.parallel_for (%n) {
    ^bb0(%t: i64):
      ...
      attn.yield
    }
    ```
  }];
  let arguments = (ins I64:$count);
  let regions = (region AnyRegion:$body);
  let assemblyFormat = "`(` $count `)` $body attr-dict";
  let hasRegionVerifier = 1;
}

//===----------------------------------------------------------------------===//
// attn.yield
//===----------------------------------------------------------------------===//

def Attn_GradAccumulateOp : Attn_Op<"grad_accumulate", [
    ParentOneOf<["AttentionBackwardOp"]>]> {
  let summary = "Adds a scalar into the gradient of a tensor a region reads";
  let description = [{
    Inside the `score_grad` and `sink_grad` regions of
    `attn.attention_backward`: adds `%g` to element `[indices]` of the op's
    capture gradient number `capture` (its output `3 + capture`). Written by
    `attn-generate-backward` where the score or sink region reads a float
    tensor with `tensor.extract`: the indices are the extract's.

    ```mlir
    attn.grad_accumulate %g, capture(0) [%b, %h, %i] : f32
    ```
  }];
  let arguments = (ins F32:$value, I64Attr:$capture, Variadic<Index>:$indices);
  let assemblyFormat = [{
    $value `,` `capture` `(` $capture `)` `[` $indices `]` attr-dict `:` type($value)
  }];
}

def Attn_YieldOp : Attn_Op<"yield", [Pure, ReturnLike, Terminator,
    ParentOneOf<["AttentionOp", "AttentionBackwardOp", "TileAttendOp", "TileFinalizeOp", "TileColumnScoresOp", "ParallelForOp", "RouteOp", "ScanOp"]>]> {
  let summary = "Yields the value of an attn region";
  let description = [{
    Terminates the regions of `attn` ops: yields the modified score, the mask
    bit, the output element, or nothing (parallel body).
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // ATTN_DIALECT_ATTNOPS_TD
