#!/usr/bin/python3
"""End-to-end numerics check of one example in examples/variants/.

    check_variant.py --variant NAME --workdir DIR --lq L [--lk L] [--batch B]

Generates seeded random inputs of the shapes the variant's @main takes, runs
it with attn-run on the cpu and reference backends and compares each output
with a float64 NumPy implementation of the variant's math written here from
the papers' formulas (docs/variants.md), independent of the compiler. Output
lines and the pass criterion are those of check_attention.py.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_attention import attend, backend_tol, compare, load, run_attn, store  # noqa: E402
from check_linear import recurrence  # noqa: E402
from check_routing import router_softmax_topk  # noqa: E402


def attend_sink(q, k, v, sinks):
    """Causal softmax attention with one extra logit sinks[h] (value 0) in
    the denominator: appended as a key column that every row sees."""
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    o = np.zeros(q.shape[:3] + (v.shape[3],))
    for b in range(B):
        for h in range(H):
            s = (q[b, h] @ k[b, h].T) / np.sqrt(D)
            s = np.where(np.tril(np.ones((Lq, Lk), bool), Lk - Lq), s, -np.inf)
            s = np.concatenate([s, np.full((Lq, 1), sinks[h])], axis=1)
            p = np.exp(s - s.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            o[b, h] = p[:, :Lk] @ v[b, h]
    return o


def attend_sigmoid(q, k, v):
    """Causal unnormalized sigmoid attention with bias -log(Lk)."""
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    o = np.zeros(q.shape[:3] + (v.shape[3],))
    for b in range(B):
        for h in range(H):
            s = (q[b, h] @ k[b, h].T) / np.sqrt(D) - np.log(Lk)
            w = np.where(np.tril(np.ones((Lq, Lk), bool), Lk - Lq), sigmoid(s), 0.0)
            o[b, h] = w @ v[b, h]
    return o


def fox_c(f):
    """c = cumsum over the sequence of log sigmoid(f), in float64."""
    return np.cumsum(-np.logaddexp(0.0, -f), axis=-1)


def differential(x):
    """(1 - 0.2) * RMSNorm_d(A1 v - lam[h] A2 v), eps 1e-5, causal maps."""
    o1 = attend(x["q1"], x["k1"], x["v"])[0]
    o2 = attend(x["q2"], x["k2"], x["v"])[0]
    d = o1 - x["lam"][None, :, None, None] * o2
    rms = np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5)
    return 0.8 * d / rms


def softmax_rows(s, vis):
    """Row softmax of s over the visible entries (rows with none give 0)."""
    s = np.where(vis, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    p = np.where(vis, np.exp(s - m), 0.0)
    l = p.sum(axis=-1, keepdims=True)
    return p / np.where(l > 0, l, 1.0)


def pasta(x, alpha=0.01):
    """PASTA: causal softmax probabilities, then on the steered heads the
    keys outside the emphasised span scaled by alpha and each row
    renormalised (the paper's post-softmax form)."""
    q, k, v = x["q"], x["k"], x["v"]
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    vis = np.tril(np.ones((Lq, Lk), bool), Lk - Lq)
    o = np.zeros(q.shape[:3] + (v.shape[3],))
    for b in range(B):
        for h in range(H):
            a = softmax_rows(q[b, h] @ k[b, h].T / np.sqrt(D), vis)
            if x["steer"][h]:
                a = a * np.where(x["emph"][b] != 0, 1.0, alpha)[None, :]
                c = a.sum(axis=1, keepdims=True)
                a = a / np.where(c > 0, c, 1.0)
            o[b, h] = a @ v[b, h]
    return o


def deberta(x, k_rel=16):
    """DeBERTa's disentangled attention: A = Qc Kc^T + Qc Kr_d(i,j)^T +
    Kc_j Qr_d(j,i)^T, softmax(A / sqrt(3 D)) Vc, bidirectional."""
    q, k, v, qr, kr = x["q"], x["k"], x["v"], x["qr"], x["kr"]
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    i = np.arange(Lq)[:, None]
    j = np.arange(Lk)[None, :]
    dij = np.clip(i - j + k_rel, 0, 2 * k_rel - 1)
    dji = np.clip(j - i + k_rel, 0, 2 * k_rel - 1)
    o = np.zeros(q.shape[:3] + (v.shape[3],))
    for b in range(B):
        for h in range(H):
            c2c = q[b, h] @ k[b, h].T
            c2p = np.einsum("id,ijd->ij", q[b, h], kr[h][dij])
            p2c = np.einsum("jd,ijd->ij", k[b, h], qr[h][dji])
            a = softmax_rows((c2c + c2p + p2c) / np.sqrt(3.0 * D), np.ones((Lq, Lk), bool))
            o[b, h] = a @ v[b, h]
    return o


def sepllm_mask(ids, n_init=4, n_nb=64, separators=(0, 1, 2)):
    """SepLLM: initial tokens, separator tokens (by id) and a window of the
    n_nb most recent tokens (the causal mask is added by attend)."""
    def f(b, h, I, J):
        sep = np.isin(ids[b], separators)[J]
        return (J < n_init) | sep | (I - n_nb < J)
    return f


def selected(sel):
    """A mask(b, h, I, J) from a boolean [B, H, Lq, Lk] selection."""
    return lambda b, h, I, J: sel[b, h][I, J]


def loki_selection(x, top=32, chunk=256):
    """Loki: the top-k visible keys of every row by the low-rank logits
    (q P_h) . (k_j P_h), ties to the lower position (the causal mask is
    added by attend). Keys at most k: all visible ones. Rows in chunks (the
    [Lq, Lk] logits of one head at L = 8192 would be 512 MB)."""
    q, k, P = x["q"], x["k"], x["p"]
    B, H, Lq, _ = q.shape
    Lk = k.shape[2]
    qp = np.einsum("bhid,hdr->bhir", q, P)
    kp = np.einsum("bhjd,hdr->bhjr", k, P)
    sel = np.zeros((B, H, Lq, Lk), dtype=bool)
    J = np.arange(Lk)[None, :]
    for b in range(B):
        for h in range(H):
            for i0 in range(0, Lq, chunk):
                I = np.arange(i0, min(i0 + chunk, Lq))[:, None]
                s = np.where(J <= I + (Lk - Lq), qp[b, h, I[:, 0]] @ kp[b, h].T, -np.inf)
                order = np.argsort(-s, axis=1, kind="stable")[:, :top]
                keep = np.isfinite(np.take_along_axis(s, order, axis=1))
                rows = np.broadcast_to(I, order.shape)
                sel[b, h, rows[keep], order[keep]] = True
    return sel


def evict_ref(scores, k, v, budget, sink, recent, lowest=False):
    """Keep, per (batch, KV head), the sink first and recent last positions
    and the budget best-scoring ones between them (ties: lower position),
    in position order; fewer positions than slots: all, padded with -1 and
    zero rows."""
    B, H, S = scores.shape
    n = sink + budget + recent
    idx = np.full((B, H, n), -1, dtype=np.int64)
    kk = np.zeros((B, H, n, k.shape[3]))
    vv = np.zeros((B, H, n, v.shape[3]))
    for b in range(B):
        for h in range(H):
            if S <= n:
                keep = np.arange(S)
            else:
                middle = np.arange(sink, S - recent)
                sign = 1 if lowest else -1
                order = sorted(middle, key=lambda j: (sign * scores[b, h, j], j))
                keep = np.sort(np.concatenate([np.arange(sink), order[:budget],
                                               np.arange(S - recent, S)]))
            idx[b, h, :len(keep)] = keep
            kk[b, h, :len(keep)] = k[b, h, keep]
            vv[b, h, :len(keep)] = v[b, h, keep]
    return idx, kk, vv


def q_filters(x):
    """Q-Filters: score_j = -<f_h, k_j>, then the cache policy."""
    s = -np.einsum("bhjd,hd->bhj", x["k"], x["f"])
    idx, kk, vv = evict_ref(s, x["k"], x["v"], budget=44, sink=4, recent=16)
    return [(idx, "i32"), (kk, "f32"), (vv, "f32"), (s, "f32")]


def trim_kv(x):
    """TRIM-KV: causal attention with each logit times beta_j^(t - j),
    beta = sigmoid(g); eviction by the retention beta_j^(T - j) at the
    newest position T."""
    q, k, v = x["q"], x["k"], x["v"]
    Lq, Lk = q.shape[2], k.shape[2]
    log_beta = np.log(sigmoid(x["g"]))
    # The query's position t = I + Lk - Lq; its age for key J is t - J.
    o = attend(q, k, v, score=lambda s, b, h, I, J: s * np.exp((I + Lk - Lq - J) * log_beta[b, h][J]))[0]
    retention = (Lk - 1 - np.arange(Lk))[None, None, :] * log_beta
    idx, kk, vv = evict_ref(retention, k, v, budget=44, sink=4, recent=16)
    return [(o, "f32"), (idx, "i32"), (kk, "f32"), (vv, "f32")]


def zipcache(x):
    """ZipCache: column sums of the causal probabilities over the number of
    queries that see each key."""
    q, k, v = x["q"], x["k"], x["v"]
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    vis = np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + (Lk - Lq)
    o = np.zeros(q.shape[:3] + (v.shape[3],))
    s = np.zeros((B, H, Lk))
    for b in range(B):
        for h in range(H):
            p = softmax_rows(q[b, h] @ k[b, h].T / np.sqrt(D), vis)
            o[b, h] = p @ v[b, h]
            s[b, h] = p.sum(axis=0) / np.maximum(vis.sum(axis=0), 1)
    return [(o, "f32"), (s, "f32")]


def dense_to_sparse_gate(x, threshold=0.01):
    """G = softmax(tanh(x W + b) / tau) over all experts, in decreasing
    order (ties: lower expert), weights below the threshold dropped."""
    z = np.tanh(x["x"] @ x["w"] + x["bias"]) / x["tau"][0]
    g = np.exp(z - z.max(axis=1, keepdims=True))
    g /= g.sum(axis=1, keepdims=True)
    order = np.argsort(-g, axis=1, kind="stable")
    w = np.take_along_axis(g, order, axis=1)
    drop = w < threshold
    return [(np.where(drop, 0.0, w), "f32"), (np.where(drop, -1, order), "i32")]


def global_batch_lbl(x, k=2):
    """The global-batch load-balancing loss: frequencies of top-k choices over
    every micro-batch plus the other ranks' counts; mean probabilities per
    micro-batch; LBL_m = E sum_i f_i p_m,i. Also the routing itself."""
    l = x["l"]
    M, T, E = l.shape
    p = np.exp(l - l.max(axis=2, keepdims=True))
    p /= p.sum(axis=2, keepdims=True)
    order = np.argsort(-p, axis=2, kind="stable")[..., :k]
    w = np.take_along_axis(p, order, axis=2)
    counts = np.bincount(order.ravel(), minlength=E)
    g = counts + x["other"]
    f = g / g.sum()
    lbl = E * (p.mean(axis=1) * f[None, :]).sum(axis=1)
    return [(w, "f32"), (order, "i32"), (counts, "i32"), (lbl, "f32")]


def transnormer(x, eps=1e-6):
    """NormAttention: u_t = phi(q_t) sum_{s<=t} phi(k_s)^T v_s (no
    denominator), phi = elu + 1, then RMSNorm over d with gain g."""
    phi = lambda z: np.where(z > 0, z + 1.0, np.exp(np.minimum(z, 0.0)))
    q, k, v = phi(x["q"]), phi(x["k"]), x["v"]
    Lq, Lk = q.shape[2], k.shape[2]
    # Causal: the attention weights phi(q_t) . phi(k_s) for s <= t.
    a = np.einsum("bhtd,bhsd->bhts", q, k)
    a = np.where(np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + (Lk - Lq), a, 0.0)
    u = np.einsum("bhts,bhsd->bhtd", a, v)
    return u / np.sqrt((u * u).mean(axis=-1, keepdims=True) + eps) * x["g"]


def ltp(x):
    """Learned token pruning: the mean attention each token receives over
    heads and rows (bidirectional), kept where it reaches theta."""
    q, k, v = x["q"], x["k"], x["v"]
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    o = np.zeros(q.shape[:3] + (v.shape[3],))
    s = np.zeros((B, Lk))
    for b in range(B):
        for h in range(H):
            p = softmax_rows(q[b, h] @ k[b, h].T / np.sqrt(D), np.ones((Lq, Lk), bool))
            o[b, h] = p @ v[b, h]
            s[b] += p.sum(axis=0) / (H * Lq)
    keep = (s >= x["theta"][0]).astype(np.int64)
    return [(o, "f32"), (s, "f32"), (keep, "i32"), (keep.sum(axis=1), "i32")]


def attention_gate(x):
    """Attention-Gate: a causal 1-head gate attention, per-head keep logits
    u . w_h + c_h, keep iff sigmoid >= 0.5; causal attention over each
    head's kept keys and the row's own token."""
    u = attend(x["qg"], x["kg"], x["vg"])[0][:, 0]
    keep = (np.einsum("bjd,hd->bhj", u, x["w"]) + x["c"][None, :, None] >= 0)
    o = attend(x["q"], x["k"], x["v"], mask=lambda b, h, I, J: keep[b, h][J] | (I == J))[0]
    return [(o, "f32"), (keep.astype(np.int64), "i32")]


def scissorhands(x, window=16):
    """Scissorhands: per key, the rows of the last `window` that see it and
    give it less than half of 1 / (number of keys they see); keep the 16
    most recent and the 48 others with the lowest counts."""
    q, k, v = x["q"], x["k"], x["v"]
    B, H, L, D = q.shape
    o = attend(q, k, v)[0]
    w = min(window, L)
    cnt = np.zeros((B, H, L))
    vis = np.tril(np.ones((L, L), bool))
    for b in range(B):
        for h in range(H):
            p = softmax_rows(q[b, h] @ k[b, h].T / np.sqrt(D), vis)
            rows = np.arange(L - w, L)
            low = (p[rows] < 0.5 / (rows + 1)[:, None]) & vis[rows]
            cnt[b, h] = low.sum(axis=0)
    idx, kk, vv = evict_ref(cnt, k, v, budget=48, sink=0, recent=16, lowest=True)
    return [(o, "f32"), (cnt, "f32"), (idx, "i32"), (kk, "f32"), (vv, "f32")]


def hedgehog(x):
    """Hedgehog: phi(x) = [softmax(W x + b); softmax(-W x - b)] per head,
    then causal normalised linear attention over phi(q), phi(k)."""
    def phi(t):
        z = np.einsum("bhtd,hfd->bhtf", t, x["w"]) + x["bias"][None, :, None, :]

        def softmax(u):
            e = np.exp(u - u.max(-1, keepdims=True))
            return e / e.sum(-1, keepdims=True)
        return np.concatenate([softmax(z), softmax(-z)], axis=-1)
    fq, fk, v = phi(x["q"]), phi(x["k"]), x["v"]
    L = fq.shape[2]
    a = np.einsum("bhtf,bhsf->bhts", fq, fk) * np.tril(np.ones((L, L)))
    return (a @ v) / a.sum(-1, keepdims=True)


def lina(x):
    """LINA: bidirectional normalised linear attention with per-position KV
    gates w[h, j] (phi = elu + 1), plus a width-3 depth-wise convolution of
    v over the tokens (zero padded)."""
    phi = lambda z: np.where(z > 0, z + 1.0, np.exp(np.minimum(z, 0.0)))
    fq, fk, v, w = phi(x["q"]), phi(x["k"]), x["v"], x["w"]
    gk = fk * w[None, :, :, None]
    S = np.einsum("bhjd,bhje->bhde", gk, v)
    z = gk.sum(axis=2)
    o = np.einsum("bhid,bhde->bhie", fq, S) / np.einsum("bhid,bhd->bhi", fq, z)[..., None]
    vp = np.pad(v, ((0, 0), (0, 0), (1, 1), (0, 0)))
    L = v.shape[2]
    conv = sum(x["cw"][:, t] * vp[:, :, t:t + L, :] for t in range(3))
    return o + conv


def flatten(x, p=3, eps=1e-6):
    """FLatten: phi(x) = |relu x| relu(x)^p / |relu(x)^p| (rows over d),
    bidirectional linear attention + 1e-6 in the denominator, plus the
    width-3 depth-wise convolution of v over the tokens."""
    def phi(t):
        r = np.maximum(t, 0.0)
        rp = r ** p
        n1 = np.linalg.norm(r, axis=-1, keepdims=True)
        n3 = np.linalg.norm(rp, axis=-1, keepdims=True)
        return np.where(n3 > 0, n1 * rp / np.where(n3 > 0, n3, 1.0), 0.0)
    fq, fk, v = phi(x["q"]), phi(x["k"]), x["v"]
    S = np.einsum("bhjd,bhje->bhde", fk, v)
    z = fk.sum(axis=2)
    o = np.einsum("bhid,bhde->bhie", fq, S) / (np.einsum("bhid,bhd->bhi", fq, z)[..., None] + eps)
    vp = np.pad(v, ((0, 0), (0, 0), (1, 1), (0, 0)))
    L = v.shape[2]
    return o + sum(x["cw"][:, t] * vp[:, :, t:t + L, :] for t in range(3))


def gla(q, k, v, log_a, reverse=False):
    """check_linear's GLA recurrence; reverse: on the step-reversed
    sequences, read back reversed."""
    if not reverse:
        return recurrence(q, k, v, log_a, "channel")[0]
    flip = lambda t: t[:, :, ::-1]
    return flip(recurrence(flip(q), flip(k), flip(v), flip(log_a), "channel")[0])


def vig(x, width=16):
    """ViG: forward + backward GLA, gated with a 3 x 3 depth-wise conv of v
    on a grid `width` tokens wide (zero padded; a last partial row)."""
    q, k, v = x["q"], x["k"], x["v"]
    L = q.shape[2]
    glob = gla(q, k, v, x["log_af"]) + gla(q, k, v, x["log_ab"], reverse=True)
    conv = np.zeros(v.shape)
    for t in range(L):
        r, c = divmod(t, width)
        for dr in range(3):
            for dc in range(3):
                nr, nc = r + dr - 1, c + dc - 1
                n = nr * width + nc
                if 0 <= nc < width and nr >= 0 and n < L:
                    conv[:, :, t] += x["cw"][:, dr, dc] * v[:, :, n]
    g = sigmoid(x["u"])
    return g * glob + (1 - g) * conv


def dcmha(x, R=2):
    """DCFormer: Compose_s(A)[h] = sum_g A[g] (M^q_s[i,g,h] + M^k_s[j,g,h])
    with M^q = W_b + w1q w2q^T + diag(tanh gq), M^k = w1k w2k^T +
    diag(tanh gk), projected from the tokens' concatenated head vectors;
    O = Compose_1(softmax_causal(Compose_0(Q K^T / sqrt(D)))) V."""
    q, k, v = x["q"], x["k"], x["v"]
    B, H, Lq, D = q.shape
    Lk = k.shape[2]

    def mix(t, proj, wb=None):
        # proj[s, head, d, c, r, e]: c = 0: w1[e, r]; 1: w2[e, r]; 2 (r = 0):
        # the gate logit of head e.
        d = np.einsum("bhid,shdcre->bsicre", t, proj)
        w1, w2 = d[:, :, :, 0], d[:, :, :, 1]
        m = np.einsum("bsirg,bsirh->bsigh", w1, w2)
        m = m + np.tanh(d[:, :, :, 2, 0])[..., None, :] * np.eye(H)
        return m + (wb[None, :, None] if wb is not None else 0)

    mq, mk = mix(q, x["pq"], x["wb"]), mix(k, x["pk"])

    def compose(a, s):
        return (np.einsum("bgij,bigh->bhij", a, mq[:, s]) +
                np.einsum("bgij,bjgh->bhij", a, mk[:, s]))

    a = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(D)
    s0 = compose(a, 0)
    vis = np.arange(Lk)[None, :] <= np.arange(Lq)[:, None] + (Lk - Lq)
    p = np.zeros(s0.shape)
    for b in range(B):
        for h in range(H):
            p[b, h] = softmax_rows(s0[b, h], vis)
    return np.einsum("bhij,bhje->bhie", compose(p, 1), v)


def hip_selection(x, bq=64, bk=32, k=4):
    """HiP: per query block, k branches over the key blocks it sees, split in
    halves and pruned to the best k by max_q q . k_rep (first token) until
    each is one block; each row also sees its own block. [B, H, Lq, Lk]."""
    q, kk = x["q"], x["k"]
    B, H, Lq, D = q.shape
    Lk = kk.shape[2]
    off = Lk - Lq
    nk = -(-Lk // bk)
    levels = (-(-nk // k) - 1).bit_length()
    sel = np.zeros((B, H, Lq, Lk), dtype=bool)
    for b in range(B):
        for h in range(H):
            for n in range(-(-Lq // bq)):
                rows = np.arange(n * bq, min(n * bq + bq, Lq))
                lastk = rows[-1] + off
                m = lastk // bk + 1 if lastk >= 0 else 0
                ranges = [(s * m // k, (s + 1) * m // k) for s in range(k)]
                for _ in range(levels):
                    halves, scores = [], []
                    for lo, hi in ranges:
                        mid = lo + (hi - lo + 1) // 2
                        for clo, chi in ((lo, mid), (mid, hi)):
                            halves.append((clo, chi))
                            rep = kk[b, h, min(clo * bk, Lk - 1)]
                            scores.append(np.max(q[b, h, rows] @ rep) if clo < chi else -np.inf)
                    scores = np.array(scores)
                    order = [c for c in np.lexsort((np.arange(len(scores)), -scores))
                             if np.isfinite(scores[c])][:k]
                    ranges = [halves[c] for c in order] + [(0, 0)] * (k - len(order))
                blocks = [lo for lo, hi in ranges if lo < hi]
                for i in rows:
                    own = [(i + off) // bk] if i + off >= 0 else []
                    J = np.arange(Lk) // bk
                    sel[b, h, i] = np.isin(J, blocks + own)
    return sel


def zipvl_selection(x, chunk=256):
    """ZipVL: per (b, h), the fewest keys whose ZipCache-normalised scores
    reach tau of the total (largest first, ties to the lower position), and
    each row's own token. The column sums a chunk of rows at a time."""
    q, k = x["q"], x["k"]
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    seen = np.maximum(Lq - np.maximum(np.arange(Lk) - (Lk - Lq), 0), 1)
    keep = np.zeros((B, H, Lk), dtype=bool)
    for b in range(B):
        for h in range(H):
            cols = np.zeros(Lk)
            for i0 in range(0, Lq, chunk):
                I = np.arange(i0, min(i0 + chunk, Lq))
                vis = np.arange(Lk)[None, :] <= I[:, None] + (Lk - Lq)
                cols += softmax_rows(q[b, h, I] @ k[b, h].T / np.sqrt(D), vis).sum(axis=0)
            s = cols / seen
            order = np.lexsort((np.arange(Lk), -s))
            mass = np.cumsum(s[order])
            n = int(np.searchsorted(mass, x["tau"][0] * s.sum())) + 1
            keep[b, h, order[:n]] = True
    return keep, lambda b, h, I, J: keep[b, h][J] | (J == I + (Lk - Lq))


def zipvl(x):
    keep, mask = zipvl_selection(x)
    return [(attend(x["q"], x["k"], x["v"], mask=mask)[0], "f32"),
            (keep.sum(axis=2).astype(np.float64), "f32")]


def easy_ep(x, keep=6):
    """EASY-EP: I = g ||E_e(h)||, c_t = 1 - cos(h_t, h_t + MoE(h_t)),
    S_e = sum_t c_t sum_{s: idx = e} I, the `keep` best experts."""
    h = x["h"]
    r = router_softmax_topk({"logits": h @ x["wr"]})
    g, idx = r["w"], r["i"]
    swish = lambda z: z / (1 + np.exp(-z))
    T, k = idx.shape
    y = np.zeros(h.shape)
    norms = np.zeros((T, k))
    for t in range(T):
        for s in range(k):
            e = idx[t, s]
            out = (swish(h[t] @ x["w1"][e]) * (h[t] @ x["w3"][e])) @ x["w2"][e]
            y[t] += g[t, s] * out
            norms[t, s] = np.linalg.norm(out)
    after = h + y
    c = 1 - (h * after).sum(1) / np.sqrt((h * h).sum(1) * (after * after).sum(1))
    imp = g * norms
    scores = np.zeros(x["w1"].shape[0])
    np.add.at(scores, idx.ravel(), (c[:, None] * imp).ravel())
    best = np.lexsort((np.arange(scores.size), -scores))[:keep]
    return [(y, "f32"), (imp, "f32"), (scores, "f32"), (best[None], "i32")]


def sta_mask(L):
    """Sliding tile attention on a T x 16 x 16 latent in 4 x 4 x 4 tiles
    stored tile-major: a 3 x 3 x 3 window of tiles around the query's tile,
    its centre clamped so that it stays inside the nT x 4 x 4 tile grid."""
    nt = -(-L // 1024)

    def coords(n):
        tile = n // 64
        return tile // 16, (tile // 4) % 4, tile % 4

    def f(b, h, I, J):
        qt, qy, qx = coords(I)
        kt, ky, kx = coords(J)
        ct = np.minimum(np.maximum(qt, 1), nt - 2)
        cy = np.minimum(np.maximum(qy, 1), 2)
        cx = np.minimum(np.maximum(qx, 1), 2)
        return (np.abs(kt - ct) <= 1) & (np.abs(ky - cy) <= 1) & (np.abs(kx - cx) <= 1)
    return f


def alibi_score(H):
    def f(s, b, h, I, J):
        return s - 2.0 ** (-8.0 * (h + 1) / H) * (I - J)
    return f


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# Each variant: (inputs, reference). inputs: list of (name, shape(B, Lq, Lk),
# dtype, kind) where kind says how to draw the values; reference(args, x)
# returns the list of outputs (float64), with their dtypes.
def qkv(H, D, dtype="f32", Hkv=None, Dv=None):
    Hkv = Hkv or H
    Dv = Dv or D
    return [("q", lambda B, Lq, Lk: (B, H, Lq, D), dtype, "normal"),
            ("k", lambda B, Lq, Lk: (B, Hkv, Lk, D), dtype, "normal"),
            ("v", lambda B, Lq, Lk: (B, Hkv, Lk, Dv), dtype, "normal")]


VARIANTS = {
    "sliding_window": (qkv(4, 64), lambda a, x: [
        (attend(x["q"], x["k"], x["v"], mask=lambda b, h, I, J: I < J + 64)[0], "f32")]),
    "alibi": (qkv(8, 64), lambda a, x: [
        (attend(x["q"], x["k"], x["v"], score=alibi_score(8))[0], "f32")]),
    "softcap": (qkv(4, 64), lambda a, x: [
        (attend(x["q"], x["k"], x["v"], score=lambda s, b, h, I, J: 30 * np.tanh(s / 30))[0], "f32")]),
    "streaming_sink": (qkv(4, 64), lambda a, x: [
        (attend(x["q"], x["k"], x["v"], mask=lambda b, h, I, J: (J < 4) | (I < J + 64))[0], "f32")]),
    "ssmax": (qkv(4, 64) + [("s", lambda B, Lq, Lk: (4,), "f32", "uniform:0.2:0.6")],
              lambda a, x: [(attend(
                  x["q"], x["k"], x["v"],
                  score=lambda s, b, h, I, J: s * x["s"][h] * np.log(I + 1 + (a.lk - a.lq)))[0], "f32")]),
    "lse": (qkv(4, 64), lambda a, x: list(zip(attend(x["q"], x["k"], x["v"]), ["f32", "f32"]))),
    "prefix_lm": (qkv(4, 64) + [("p", lambda B, Lq, Lk: (1,), "i32", "prefix")],
                  lambda a, x: [(attend(x["q"], x["k"], x["v"], causal=False,
                                        mask=lambda b, h, I, J: (J <= I) | (J < x["p"][0]))[0], "f32")]),
    "gated_elementwise": (qkv(4, 64) + [("g", lambda B, Lq, Lk: (B, 4, Lq, 64), "f32", "normal")],
                          lambda a, x: [(attend(x["q"], x["k"], x["v"])[0] * sigmoid(x["g"]), "f32")]),
    "gated_headwise": (qkv(4, 64) + [("g", lambda B, Lq, Lk: (B, 4, Lq), "f32", "normal")],
                       lambda a, x: [(attend(x["q"], x["k"], x["v"])[0] * sigmoid(x["g"])[..., None], "f32")]),
    "alibi_window_bf16": (qkv(8, 64, "bf16"), lambda a, x: [
        (attend(x["q"], x["k"], x["v"], score=alibi_score(8),
                mask=lambda b, h, I, J: I < J + 256)[0], "f32")]),
    "sink_logit": (qkv(4, 64) + [("sinks", lambda B, Lq, Lk: (4,), "f32", "uniform:-2:6")],
                   lambda a, x: [(attend_sink(x["q"], x["k"], x["v"], x["sinks"]), "f32")]),
    "sigmoid_attn": (qkv(4, 64), lambda a, x: [(attend_sigmoid(x["q"], x["k"], x["v"]), "f32")]),
    "fox": (qkv(4, 64) + [("f", lambda B, Lq, Lk: (B, 4, Lk), "f32", "forget")],
            lambda a, x: [(attend(
                x["q"], x["k"], x["v"],
                score=lambda s, b, h, I, J: s + fox_c(x["f"])[b, h][I + a.lk - a.lq] - fox_c(x["f"])[b, h][J])[0],
                "f32")]),
    "decode_gqa": ([("q", lambda B, Lq, Lk: (B, 32, 1, 128), "f32", "normal"),
                    ("k", lambda B, Lq, Lk: (B, 8, Lk, 128), "f32", "normal"),
                    ("v", lambda B, Lq, Lk: (B, 8, Lk, 128), "f32", "normal")],
                   lambda a, x: [(attend(x["q"], x["k"], x["v"])[0], "f32")]),
    # test/Integration/Inputs/decode_padded.mlir (run with --examples).
    "decode_padded": ([("q", lambda B, Lq, Lk: (B, 8, 1, 64), "f32", "normal"),
                       ("k", lambda B, Lq, Lk: (B, 2, Lk, 64), "f32", "normal"),
                       ("v", lambda B, Lq, Lk: (B, 2, Lk, 64), "f32", "normal"),
                       ("valid", lambda B, Lq, Lk: (B, Lk), "i8", "padding"),
                       ("g", lambda B, Lq, Lk: (B, 8, 1, 64), "f32", "normal")],
                      lambda a, x: [
                          (attend(x["q"], x["k"], x["v"],
                                  mask=lambda b, h, I, J: x["valid"][b][J] != 0)[0] * x["g"], "f32"),
                          (attend(x["q"], x["k"], x["v"],
                                  mask=lambda b, h, I, J: x["valid"][b][J] != 0)[1], "f32")]),
    "mla_absorbed": ([("q_lat", lambda B, Lq, Lk: (B, 16, Lq, 512), "f32", "normal"),
                      ("q_rope", lambda B, Lq, Lk: (B, 16, Lq, 64), "f32", "normal"),
                      ("c_kv", lambda B, Lq, Lk: (B, Lk, 512), "f32", "normal"),
                      ("k_rope", lambda B, Lq, Lk: (B, Lk, 64), "f32", "normal")],
                     lambda a, x: [(attend(
                         np.concatenate([x["q_lat"], x["q_rope"]], axis=-1),
                         np.concatenate([x["c_kv"], x["k_rope"]], axis=-1)[:, None],
                         x["c_kv"][:, None], scale=1.0 / np.sqrt(192.0))[0], "f32")]),
    "differential": ([("q1", lambda B, Lq, Lk: (B, 4, Lq, 64), "f32", "normal"),
                      ("k1", lambda B, Lq, Lk: (B, 4, Lk, 64), "f32", "normal"),
                      ("q2", lambda B, Lq, Lk: (B, 4, Lq, 64), "f32", "normal"),
                      ("k2", lambda B, Lq, Lk: (B, 4, Lk, 64), "f32", "normal"),
                      ("v", lambda B, Lq, Lk: (B, 4, Lk, 128), "f32", "normal"),
                      ("lam", lambda B, Lq, Lk: (4,), "f32", "uniform:0.1:0.9")],
                     lambda a, x: [(differential(x), "f32")]),
    "document_mask": (qkv(4, 64) + [("doc", lambda B, Lq, Lk: (B, Lk), "i32", "documents")],
                      lambda a, x: [(attend(x["q"], x["k"], x["v"],
                                            mask=lambda b, h, I, J: x["doc"][b][I] == x["doc"][b][J])[0], "f32")]),
    # Issue 25: priority-2 catalogue variants (examples/variants, sparse, ...).
    "attention_reweight_pasta": (
        qkv(4, 64) + [("emph", lambda B, Lq, Lk: (B, Lk), "i32", "span"),
                      ("steer", lambda B, Lq, Lk: (4,), "i32", "heads")],
        lambda a, x: [(pasta(x), "f32")]),
    "deberta_disentangled_attention": (
        qkv(4, 64) + [("qr", lambda B, Lq, Lk: (4, 32, 64), "f32", "normal"),
                      ("kr", lambda B, Lq, Lk: (4, 32, 64), "f32", "normal")],
        lambda a, x: [(deberta(x), "f32")]),
    "dcmha_composable_heads": (
        qkv(4, 64) + [("pq", lambda B, Lq, Lk: (2, 4, 64, 3, 2, 4), "f32", "uniform:-0.06:0.06"),
                      ("pk", lambda B, Lq, Lk: (2, 4, 64, 3, 2, 4), "f32", "uniform:-0.06:0.06"),
                      ("wb", lambda B, Lq, Lk: (2, 4, 4), "f32", "uniform:-0.5:0.5")],
        lambda a, x: [(dcmha(x), "f32")]),
    "sepllm_separator_mask": (
        qkv(4, 64) + [("ids", lambda B, Lq, Lk: (B, Lk), "i32", "tokens")],
        lambda a, x: [(attend(x["q"], x["k"], x["v"], mask=sepllm_mask(x["ids"]))[0], "f32")]),
    "sliding_tile_attention": (
        qkv(4, 64),
        lambda a, x: [(attend(x["q"], x["k"], x["v"], causal=False, mask=sta_mask(a.lk))[0], "f32")]),
    "loki_lowrank_key_topk": (
        [("q", lambda B, Lq, Lk: (B, 4, Lq, 64), "f32", "grid"),
         ("k", lambda B, Lq, Lk: (B, 4, Lk, 64), "f32", "grid"),
         ("v", lambda B, Lq, Lk: (B, 4, Lk, 64), "f32", "normal"),
         ("p", lambda B, Lq, Lk: (4, 64, 16), "f32", "grid_small")],
        lambda a, x: [(attend(x["q"], x["k"], x["v"], mask=selected(loki_selection(x)))[0], "f32")]),
    "hip_hierarchical_pruning": (
        [("q", lambda B, Lq, Lk: (B, 4, Lq, 64), "f32", "grid"),
         ("k", lambda B, Lq, Lk: (B, 4, Lk, 64), "f32", "grid"),
         ("v", lambda B, Lq, Lk: (B, 4, Lk, 64), "f32", "normal")],
        lambda a, x: [(attend(x["q"], x["k"], x["v"], mask=selected(hip_selection(x)))[0], "f32")]),
    "zipvl_cumulative_mass_tokens": (
        qkv(4, 64) + [("tau", lambda B, Lq, Lk: (1,), "f32", "uniform:0.5:0.9")],
        lambda a, x: zipvl(x)),
    "q_filters_projection_score": (
        [("k", lambda B, Lq, Lk: (B, 4, Lk, 64), "f32", "normal"),
         ("v", lambda B, Lq, Lk: (B, 4, Lk, 64), "f32", "normal"),
         ("f", lambda B, Lq, Lk: (4, 64), "f32", "normal")],
        lambda a, x: q_filters(x)),
    "trim_kv_retention_gate": (
        qkv(4, 64) + [("g", lambda B, Lq, Lk: (B, 4, Lk), "f32", "uniform:1:6")],
        lambda a, x: trim_kv(x)),
    "zipcache_normalized_attention_score": (qkv(4, 64), lambda a, x: zipcache(x)),
    "transnormer_norm_attention": (
        qkv(4, 64) + [("g", lambda B, Lq, Lk: (64,), "f32", "uniform:0.5:1.5")],
        lambda a, x: [(transnormer(x), "f32")]),
    "ltp_threshold_token_pruning": (
        qkv(4, 64) + [("theta", lambda B, Lq, Lk: (1,), "f32", "mean_share")],
        lambda a, x: ltp(x)),
    "attention_gate_kv_eviction": (
        qkv(4, 64) + [("qg", lambda B, Lq, Lk: (B, 1, Lq, 16), "f32", "normal"),
                      ("kg", lambda B, Lq, Lk: (B, 1, Lk, 16), "f32", "normal"),
                      ("vg", lambda B, Lq, Lk: (B, 1, Lk, 16), "f32", "normal"),
                      ("w", lambda B, Lq, Lk: (4, 16), "f32", "normal"),
                      ("c", lambda B, Lq, Lk: (4,), "f32", "uniform:-0.5:1.0")],
        lambda a, x: attention_gate(x)),
    "scissorhands_persistence_count": (qkv(4, 64), lambda a, x: scissorhands(x)),
    "vig_bidirectional_gla": (
        qkv(4, 64) + [("log_af", lambda B, Lq, Lk: (B, 4, Lq, 64), "f32", "uniform:-1:0"),
                      ("log_ab", lambda B, Lq, Lk: (B, 4, Lq, 64), "f32", "uniform:-1:0"),
                      ("u", lambda B, Lq, Lk: (B, 4, Lq, 64), "f32", "normal"),
                      ("cw", lambda B, Lq, Lk: (64, 3, 3), "f32", "uniform:-0.5:0.5")],
        lambda a, x: [(vig(x), "f32")]),
    "hedgehog_learned_feature_map": (
        qkv(4, 64) + [("w", lambda B, Lq, Lk: (4, 32, 64), "f32", "uniform:-0.3:0.3"),
                      ("bias", lambda B, Lq, Lk: (4, 32), "f32", "uniform:-0.5:0.5")],
        lambda a, x: [(hedgehog(x), "f32")]),
    "lina_kv_gate_bidirectional": (
        qkv(4, 64) + [("w", lambda B, Lq, Lk: (4, Lk), "f32", "uniform:0.2:1.5"),
                      ("cw", lambda B, Lq, Lk: (64, 3), "f32", "uniform:-0.5:0.5")],
        lambda a, x: [(lina(x), "f32")]),
    "flatten_focused_linear": (
        qkv(4, 64) + [("cw", lambda B, Lq, Lk: (64, 3), "f32", "uniform:-0.5:0.5")],
        lambda a, x: [(flatten(x), "f32")]),
    # Routing: T = --lq tokens.
    "dense_to_sparse_temperature_gating": (
        [("x", lambda B, Lq, Lk: (Lq, 64), "f32", "normal"),
         ("w", lambda B, Lq, Lk: (64, 8), "f32", "uniform:-0.2:0.2"),
         ("bias", lambda B, Lq, Lk: (8,), "f32", "uniform:-0.5:0.5"),
         ("tau", lambda B, Lq, Lk: (1,), "f32", "uniform:0.15:0.4")],
        lambda a, x: dense_to_sparse_gate(x)),
    "easy_ep_expert_importance": (
        [("h", lambda B, Lq, Lk: (Lq, 64), "f32", "normal"),
         ("wr", lambda B, Lq, Lk: (64, 8), "f32", "uniform:-0.3:0.3"),
         ("w1", lambda B, Lq, Lk: (8, 64, 128), "f32", "uniform:-0.15:0.15"),
         ("w3", lambda B, Lq, Lk: (8, 64, 128), "f32", "uniform:-0.15:0.15"),
         ("w2", lambda B, Lq, Lk: (8, 128, 64), "f32", "uniform:-0.15:0.15")],
        lambda a, x: easy_ep(x)),
    # M = --batch micro-batches of T = --lq tokens.
    "load_balancing_loss_global_batch": (
        [("l", lambda B, Lq, Lk: (B, Lq, 8), "f32", "normal"),
         ("other", lambda B, Lq, Lk: (8,), "i32", "counts")],
        lambda a, x: global_batch_lbl(x)),
}

# The visibility of the sparse variants, (mask(b, h, I, J), causal), for
# --count-pairs: the (query, key) pairs their selection keeps.
SELECTIONS = {
    "sepllm_separator_mask": lambda a, x: (sepllm_mask(x["ids"]), True),
    "sliding_tile_attention": lambda a, x: (sta_mask(a.lk), False),
    "loki_lowrank_key_topk": lambda a, x: (selected(loki_selection(x)), True),
    "zipvl_cumulative_mass_tokens": lambda a, x: (zipvl_selection(x)[1], True),
    "hip_hierarchical_pruning": lambda a, x: (selected(hip_selection(x)), True),
}


def count_pairs(a, x, heads):
    """Visible (b, h, i, j) of a sparse variant, a block of rows at a time."""
    mask, causal = SELECTIONS[a.variant](a, x)
    total = 0
    for b in range(a.batch):
        for h in range(heads):
            for i0 in range(0, a.lq, 256):
                I = np.arange(i0, min(i0 + 256, a.lq))[:, None] + np.zeros((1, a.lk), dtype=int)
                J = np.arange(a.lk)[None, :] + np.zeros((I.shape[0], 1), dtype=int)
                vis = mask(b, h, I, J)
                if causal:
                    vis = vis & (J <= I + (a.lk - a.lq))
                total += int(np.count_nonzero(vis))
    return total


# Where a variant's example lives, if not in examples/variants.
EXAMPLE_DIRS = ("variants", "sparse", "linear", "routing", "kvcache")


def draw(rng, kind, shape, a):
    if kind == "normal":
        return a.magnitude * rng.standard_normal(shape)
    if kind.startswith("uniform:"):
        lo, hi = map(float, kind.split(":")[1:])
        return rng.uniform(lo, hi, shape)
    if kind == "grid":
        # Normal values on a grid of 1/4 (and small multiples of 1/8 for
        # grid_small): every product sum a top-k selection compares is then
        # exact in f32 as in float64, so the selections agree exactly.
        return np.round(a.magnitude * rng.standard_normal(shape) * 4) / 4
    if kind == "grid_small":
        return rng.integers(-2, 3, shape) / 8
    if kind == "forget":
        # Forget-gate logits around +3 (gates near 0.95, as in trained FoX
        # models) with some strongly forgetting positions.
        return rng.normal(3.0, 2.0, shape)
    if kind == "padding":
        # Each batch row has its own valid length; the last row has none.
        B, L = shape
        out = np.zeros(shape, dtype=np.int64)
        for b in range(B - 1 if B > 1 else B):
            out[b, :rng.integers(1, L + 1)] = 1
        return out
    if kind == "prefix":
        return np.full(shape, a.prefix if a.prefix is not None else max(1, a.lk // 3))
    if kind == "documents":
        # Non-decreasing ids: documents of random lengths (some shorter than
        # a tile, some longer), different per batch row.
        B, L = shape
        out = np.zeros(shape, dtype=np.int64)
        for b in range(B):
            cuts = np.sort(rng.choice(np.arange(1, max(L, 2)), size=min(5, max(L - 1, 0)), replace=False))
            out[b] = np.searchsorted(cuts, np.arange(L), side="right")
        return out
    if kind == "span":
        # One emphasised span [s, e) per batch row, anywhere in the keys.
        B, L = shape
        out = np.zeros(shape, dtype=np.int64)
        for b in range(B):
            s = rng.integers(0, L)
            out[b, s:rng.integers(s + 1, L + 1)] = 1
        return out
    if kind == "heads":
        # A head subset with at least one steered and one plain head.
        out = rng.integers(0, 2, shape)
        out[0], out[-1] = 1, 0
        return out
    if kind == "mean_share":
        # Around the mean attention a key receives (1 / Lk): keeps about half.
        return rng.uniform(0.9, 1.1, shape) / a.lk
    if kind == "counts":
        # Another rank's expert counts: skewed towards the low experts.
        return rng.integers(0, 400, shape) * (np.arange(shape[0]) < 4)
    if kind == "tokens":
        # Token ids of a toy vocabulary of 16; ids 0-2 (about 19%) are
        # SepLLM's separators.
        return rng.integers(0, 16, shape)
    raise ValueError(kind)


def save(path, x, dtype):
    if dtype in ("i32", "i8"):
        np.save(path, x.astype(np.int32 if dtype == "i32" else np.int8))
        return x.astype(np.int64)
    return store(path, x, dtype)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    p.add_argument("--workdir", required=True)
    p.add_argument("--examples", default=None,
                   help="the directory of the variant's example (default: the "
                        "one of examples/{%s} that has it)" % ",".join(EXAMPLE_DIRS))
    p.add_argument("--attn-run", default="attn-run")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--lq", type=int, required=True)
    p.add_argument("--lk", type=int)
    p.add_argument("--prefix", type=int)
    p.add_argument("--magnitude", type=float, default=1.0)
    p.add_argument("--backends", default="cpu,reference")
    p.add_argument("--threads", type=int)
    p.add_argument("--tol", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tune", help="attn-run --tune for the cpu backend (tile sizes)")
    p.add_argument("--inputs-only", action="store_true",
                   help="write the inputs, print their paths, run nothing")
    p.add_argument("--count-pairs", action="store_true",
                   help="with --inputs-only, a sparse variant: also print "
                        "pairs=N, the (b, h, i, j) its selection keeps")
    a = p.parse_args()
    a.lk = a.lk if a.lk is not None else a.lq
    inputs, reference = VARIANTS[a.variant]
    os.makedirs(a.workdir, exist_ok=True)
    if a.examples is None:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
        dirs = [os.path.join(root, d) for d in EXAMPLE_DIRS]
        a.examples = next((d for d in dirs if os.path.exists(os.path.join(d, a.variant + ".mlir"))),
                          dirs[0])
    src = os.path.join(a.examples, a.variant + ".mlir")
    rng = np.random.default_rng(a.seed)
    x, files = {}, []
    low_precision = False
    for name, shape, dtype, kind in inputs:
        path = os.path.join(a.workdir, name + ".npy")
        x[name] = save(path, draw(rng, kind, shape(a.batch, a.lq, a.lk), a), dtype)
        files.append(path)
        low_precision |= dtype in ("bf16", "f16")
    if a.inputs_only:
        print(" ".join(files))
        if a.count_pairs:
            print("pairs=%d" % count_pairs(a, x, heads=4))
        return 0
    refs = reference(a, x)
    tol = a.tol if a.tol is not None else (2e-2 if low_precision else 1e-4)

    ok = True
    for backend in a.backends.split(","):
        outs = [os.path.join(a.workdir, "out%d_%s.npy" % (n, backend)) for n in range(len(refs))]
        extra = ["--tune=" + a.tune] if a.tune and backend == "cpu" else []
        if not run_attn(a.attn_run, src, backend, files, outs, a.threads, extra=extra):
            ok = False
            continue
        for n, ((ref, dtype), path) in enumerate(zip(refs, outs)):
            got = load(path, dtype)
            name = "%s out%d" % (backend, n)
            if got.shape != ref.shape:
                print("%s: shape %s, expected %s FAIL" % (name, got.shape, ref.shape))
                ok = False
                continue
            ok &= compare(name, got, ref, backend_tol(backend, tol, low_precision, a.tol))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
