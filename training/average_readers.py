"""Average the weights of several trained readers (a "uniform model soup").

    python -m training.average_readers OUT_DIR READER_DIR READER_DIR [READER_DIR ...]

Every input must be an ``AutoModelForQuestionAnswering`` fine-tuned from the same base
encoder (here: the packaged all-MiniLM-L6-v2 with a fresh span head), saved by
``training/train_reader.py``. The output holds the element-wise mean of their tensors (in
fp32, saved as fp16 safetensors) with the first input's config and tokenizer files; its
``training_args.json`` lists the inputs' own ``training_args.json``.

Method: Wortsman et al. 2022, "Model soups: averaging weights of multiple fine-tuned models
improves accuracy without increasing inference time" (ICML), the uniform soup. It costs
nothing at inference: one model, the same size and speed. Our measurement (span model alone,
``training/sweep_reader.py``'s SQuAD 2.0 best-threshold F1 on the dev calib split and the
written held-out articles, never trained on): the two-stage reader 0.710, the single-stage
5-epoch reader 0.719, their average 0.729 (news 0.788 / 0.781 -> 0.792, SQuAD pages
0.544 / 0.564 -> 0.562, written 0.797 / 0.811 -> 0.832); averaging three readers (a second
seed of the single-stage recipe added) gave 0.723.

Raises ``ValueError`` naming the reader whose tensor names or shapes differ from the first's.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

__all__ = ["average_state_dicts", "main"]

_COPIED = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def average_state_dicts(states: list[dict], names: list[str]) -> dict:
    """Element-wise mean of ``states`` (``{tensor name: torch.Tensor}``, one per reader) in
    fp32, returned in fp16. ``names`` label the readers in errors. Raises ``ValueError`` if a
    reader lacks a tensor of the first, has an extra one, or a shape differs."""
    import torch

    if len(states) < 2:
        raise ValueError(f"average at least two readers, got {len(states)}")
    first = states[0]
    for state, name in zip(states[1:], names[1:]):
        if set(state) != set(first):
            diff = sorted(set(state) ^ set(first))[:5]
            raise ValueError(f"{name}: tensor names differ from {names[0]}'s ({', '.join(diff)} ...)")
        for key, tensor in state.items():
            if tensor.shape != first[key].shape:
                raise ValueError(f"{name}: {key} has shape {tuple(tensor.shape)}, {names[0]} {tuple(first[key].shape)}")
    return {key: (sum(s[key].float() for s in states) / len(states)).to(torch.float16).contiguous() for key in first}


def main(argv: list[str] | None = None) -> None:
    """CLI entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("readers", type=Path, nargs="+")
    args = parser.parse_args(argv)

    from safetensors.torch import load_file, save_file

    names = [str(p) for p in args.readers]
    for path in args.readers:
        if not (path / "model.safetensors").is_file():
            raise SystemExit(f"{path}: no model.safetensors (train it with training/train_reader.py)")
    averaged = average_state_dicts([load_file(str(p / "model.safetensors")) for p in args.readers], names)
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = args.out / "model.safetensors.tmp"
    save_file(averaged, str(tmp), metadata={"format": "pt"})
    tmp.replace(args.out / "model.safetensors")
    for name in _COPIED:
        if (args.readers[0] / name).exists() and args.readers[0].resolve() != args.out.resolve():
            shutil.copyfile(args.readers[0] / name, args.out / name)
    inputs = {}
    for path in args.readers:
        info = path / "training_args.json"
        inputs[path.name] = json.loads(info.read_text()) if info.exists() else {}
    (args.out / "training_args.json").write_text(json.dumps({"uniform_soup_of": inputs}, indent=2) + "\n")
    print(f"averaged {len(args.readers)} readers into {args.out}")


if __name__ == "__main__":
    main()
