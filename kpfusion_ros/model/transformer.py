"""Keypoint transformers (paper §"Cross-modal Keypoint Feature Interaction"; reference §1.4(b,d,e)).

* :class:`PostLNEncoderLayer` — a BERT-style post-LN encoder layer (LayerNorm eps 1e-12,
  exact erf GELU, attention scaled by 1/√head_dim, dropout on attention probabilities and
  on both sub-layer outputs).
* :class:`KeypointTransformer` — the intra-modal (``init_TR``) and inter-modal encoder
  (``final_TR``): Linear input embedding + learned absolute position embedding (table of
  ``max_positions`` rows, rows 0..J−1 used) → dropout → encoder layers → pose head
  ``cls_head(hidden) + residual(input)`` (xyz_nl, absolute).
* :class:`CrossAttentionDecoderLayer` / :class:`CrossAttentionDecoder` — the inter-modal
  cross-attention decoder (no self-attention; q = query + E_q[j]; k = v = key + E_k[j];
  packed in_proj [Wq;Wk;Wv]; post-LN; ReLU FFN). ``official`` (``same_input=True``) reproduces
  the authors' loop that feeds the same inputs to every layer and keeps the last: only one
  layer is effective, so only that one is built.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    B, L, C = x.shape
    return x.view(B, L, heads, C // heads).transpose(1, 2)


def attention(q, k, v, heads: int, dropout: nn.Dropout) -> torch.Tensor:
    """Multi-head scaled dot-product attention on B×L×C tensors (already projected)."""
    B, Lq, C = q.shape
    qh, kh, vh = (_split_heads(t, heads) for t in (q, k, v))
    scores = qh @ kh.transpose(-1, -2) / math.sqrt(C // heads)
    probs = dropout(torch.softmax(scores, dim=-1))
    return (probs @ vh).transpose(1, 2).reshape(B, Lq, C)


class PostLNEncoderLayer(nn.Module):
    """BERT layer: x = LN(x + Drop(Dense(MHA(x)))); x = LN(x + Drop(Out(GELU(In(x)))))."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float = 0.1, eps: float = 1e-12):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.attn_out = nn.Linear(dim, dim)
        self.attn_norm = nn.LayerNorm(dim, eps=eps)
        self.ffn_in = nn.Linear(dim, ffn)
        self.ffn_out = nn.Linear(ffn, dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=eps)
        self.attn_drop = nn.Dropout(dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        a = attention(self.query(x), self.key(x), self.value(x), self.heads, self.attn_drop)
        x = self.attn_norm(x + self.drop(self.attn_out(a)))
        h = self.ffn_out(F.gelu(self.ffn_in(x)))
        return self.ffn_norm(x + self.drop(h))


class KeypointTransformer(nn.Module):
    """Keypoint transformer encoder with pose head (reference §1.4(b) ``KP_Interaction_TR``).

    Input B×J×in_dim → (hidden B×J×dim, pose B×J×3). Init (reference §1.4 "Init detail"):
    Linear weights N(0, 0.001) and biases 0, position table N(0, 0.02), LN 1/0.
    """

    def __init__(self, in_dim: int, dim: int = 128, layers: int = 4, heads: int = 4, ffn: int = 16,
                 dropout: float = 0.1, max_positions: int = 512, out_dim: int = 3):
        super().__init__()
        self.img_embedding = nn.Linear(in_dim, dim)
        self.position_embeddings = nn.Embedding(max_positions, dim)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList([PostLNEncoderLayer(dim, heads, ffn, dropout) for _ in range(layers)])
        self.cls_head = nn.Linear(dim, out_dim)
        self.residual = nn.Linear(in_dim, out_dim)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.001)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.position_embeddings.weight, 0, 0.02)

    def forward(self, x):
        J = x.shape[1]
        pos = torch.arange(J, device=x.device)
        h = self.drop(self.img_embedding(x) + self.position_embeddings(pos).unsqueeze(0))
        for layer in self.layers:
            h = layer(h)
        return h, self.cls_head(h) + self.residual(x)


class CrossAttentionDecoderLayer(nn.Module):
    """Cross-attention-only decoder layer (reference §1.4(d); authors' ``TransformerDecoderLayer``
    with cross_only): q = query + E_q, k = v = key + E_k, query = LN2(query + Drop(MHA)),
    query = LN3(query + Drop(FFN_relu(query)))."""

    def __init__(self, dim: int, heads: int, ffn: int, num_tokens: int, dropout: float = 0.1):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        self.linear1 = nn.Linear(dim, ffn)
        self.linear2 = nn.Linear(ffn, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.self_posembed = nn.Embedding(num_tokens, dim)
        self.cross_posembed = nn.Embedding(num_tokens, dim)
        self.attn_drop = nn.Dropout(dropout)
        self.drop = nn.Dropout(dropout)
        # init: in_proj Xavier (MHA default), block Linears N(0, 0.001), pos-emb Xavier-uniform
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)
        for m in (self.out_proj, self.linear1, self.linear2):
            nn.init.normal_(m.weight, 0, 0.001)
        nn.init.xavier_uniform_(self.self_posembed.weight)
        nn.init.xavier_uniform_(self.cross_posembed.weight)

    def forward(self, query, key):
        J = query.shape[1]
        ids = torch.arange(J, device=query.device)
        q_in = query + self.self_posembed(ids).unsqueeze(0)
        kv = key + self.cross_posembed(ids).unsqueeze(0)
        wq, wk, wv = self.in_proj_weight.chunk(3, 0)
        bq, bk, bv = self.in_proj_bias.chunk(3, 0)
        a = attention(F.linear(q_in, wq, bq), F.linear(kv, wk, bk), F.linear(kv, wv, bv), self.heads, self.attn_drop)
        query = self.norm2(query + self.drop(self.out_proj(a)))
        h = self.linear2(self.drop(F.relu(self.linear1(query))))
        return self.norm3(query + self.drop(h))


class CrossAttentionDecoder(nn.Module):
    """Inter-modal cross-attention decoder: query = RGB keypoint features, key/value = depth
    keypoint features (B×J×C each) → B×J×C.

    ``same_input=True`` (official quirk, reference §1.4(d)/§7.8): the authors compute each of
    their ``num_layers`` layers on the same original inputs and keep the last output, so the
    result equals a single layer; we build just that one (imported from ``decoder.<last>``).
    ``same_input=False`` chains ``num_layers`` layers (query ← previous output)."""

    def __init__(self, dim: int, heads: int, ffn: int, num_tokens: int, num_layers: int = 4,
                 dropout: float = 0.1, same_input: bool = True):
        super().__init__()
        self.configured_layers = num_layers
        built = 1 if same_input else num_layers
        self.layers = nn.ModuleList([CrossAttentionDecoderLayer(dim, heads, ffn, num_tokens, dropout)
                                     for _ in range(built)])

    def forward(self, query, key):
        for layer in self.layers:
            query = layer(query, key)
        return query
