"""Quality and cost of claim extraction (:mod:`corpus.claim_rules`) on our gold set.

Gold: ``bench/claims/gold.jsonl``, 15 short fictional articles we wrote (``split``
``tune``: g01-g10, used while writing the rules; ``heldout``: g11-g15, not run while
tuning) and ``bench/claims/gold_blind.jsonl`` (``split`` ``blind``: b01-b06, 80 claims
written by a helper who never read or ran the extractor, measured only, never tuned on)
plus the customer's seed article, read from ``../shared/seeds`` at run time (its
text is not copied here; its gold claims name substrings of it). A gold claim gives
``speaker``, ``cue`` and ``content`` as substrings of the text (``content_occurrence``,
default 1), and ``resolved`` for a pronoun or "the company"-style speaker.

Measures (one row per split):

- claims are paired greedily by content token F1 (word tokens by position; a pair needs
  F1 >= 0.3);
- speaker precision / recall: paired claims whose speaker name (``resolved`` when set,
  else ``speaker``; lower-cased, "the"/"Dr." dropped; one name's words contained in the
  other's) matches, over predicted / gold claims;
- content F1: micro token overlap of paired contents over all predicted and all gold
  content tokens (an unpaired claim adds to the denominators only);
- pronoun accuracy: gold claims with ``resolved`` whose paired prediction names it;
- ms per article: extraction time (spaCy parse included) on this machine, mean.

Run: ``.venv/bin/python bench/claims_quality.py [--json] [--show SPLIT]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOLD = ROOT / "bench" / "claims" / "gold.jsonl"
GOLD_BLIND = ROOT / "bench" / "claims" / "gold_blind.jsonl"
SHARED = ROOT.parent / "shared"
_WORD = re.compile(r"\w+")
_DROP = re.compile(r"^(?:the|a|an|dr\.?|its|his|her)\s+", re.I)
PAIR_MIN_F1 = 0.3


def load_gold(path: Path = GOLD, shared: Path = SHARED) -> list[dict]:
    """Gold articles ``{"id", "split", "text", "claims": [...]}``; the seed's text is read
    from ``shared`` (body after the headline, as ``byline add`` stores it) and left out
    when that folder is absent. Each claim gains ``content_start`` / ``content_end``.
    Raises ``ValueError`` naming the article and field of a substring not in the text."""
    from corpus.loaders import ArticleFactory, load_path

    articles = []
    for line in path.read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        if "path" in article:
            source = shared / article["path"]
            if not source.exists():
                continue
            loaded = next(iter(load_path(source, ArticleFactory())))  # as `byline add` reads it
            article["title"], article["text"] = loaded.article.title, loaded.article.text
        text = article["text"]
        for i, claim in enumerate(article["claims"]):
            for field in ("speaker", "cue", "content"):
                if claim[field] not in text:
                    raise ValueError(f"gold {article['id']} claim {i}: {field} {claim[field]!r} is not in the text")
            start = -1
            for _ in range(int(claim.get("content_occurrence", 1))):
                start = text.index(claim["content"], start + 1)
            claim["content_start"], claim["content_end"] = start, start + len(claim["content"])
        articles.append(article)
    return articles


def _tokens(text: str, start: int, end: int) -> set[int]:
    return {m.start() for m in _WORD.finditer(text, start, end)}


def _name(value: str | None) -> set[str]:
    value = _DROP.sub("", (value or "").strip().lower())
    return set(_WORD.findall(value.replace("’s", "").replace("'s", "")))


def names_match(predicted: str | None, gold: str | None) -> bool:
    """One name's words contained in the other's ("Moustapha" ~ "Imad Moustapha")."""
    a, b = _name(predicted), _name(gold)
    return bool(a and b) and (a <= b or b <= a)


def score(articles: list[dict], extract) -> dict[str, float]:  # text -> list[Claim]
    """The measures of the module docstring over ``articles`` with ``extract``."""
    n_pred = n_gold = speaker_ok = 0
    overlap = pred_tokens = gold_tokens = 0
    pronouns = pronouns_ok = 0
    elapsed = 0.0
    for article in articles:
        text = article["text"]
        started = time.perf_counter()
        predicted = extract(text)
        elapsed += time.perf_counter() - started
        gold = article["claims"]
        n_pred += len(predicted)
        n_gold += len(gold)
        p_tok = [_tokens(text, c.content.start, c.content.end) for c in predicted]
        g_tok = [_tokens(text, g["content_start"], g["content_end"]) for g in gold]
        pred_tokens += sum(map(len, p_tok))
        gold_tokens += sum(map(len, g_tok))
        pairs = []
        for gi, g in enumerate(g_tok):
            for pi, p in enumerate(p_tok):
                shared = len(g & p)
                if shared:
                    f1 = 2 * shared / (len(g) + len(p))
                    if f1 >= PAIR_MIN_F1:
                        pairs.append((f1, gi, pi, shared))
        used_g, used_p = set(), set()
        for _f1, gi, pi, shared in sorted(pairs, reverse=True):
            if gi in used_g or pi in used_p:
                continue
            used_g.add(gi)
            used_p.add(pi)
            overlap += shared
            g, p = gold[gi], predicted[pi]
            if names_match(p.speaker_name, g.get("resolved") or g["speaker"]):
                speaker_ok += 1
            if g.get("resolved"):
                pronouns_ok += names_match(p.speaker_name, g["resolved"])
        article["_unpaired"] = ([gold[i] for i in range(len(gold)) if i not in used_g],
                                [predicted[i] for i in range(len(predicted)) if i not in used_p])
        pronouns += sum(1 for g in gold if g.get("resolved"))
    precision = overlap / pred_tokens if pred_tokens else 0.0
    recall = overlap / gold_tokens if gold_tokens else 0.0
    return {
        "articles": len(articles), "gold_claims": n_gold, "predicted_claims": n_pred,
        "speaker_precision": speaker_ok / n_pred if n_pred else 0.0,
        "speaker_recall": speaker_ok / n_gold if n_gold else 0.0,
        "content_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "pronoun_accuracy": pronouns_ok / pronouns if pronouns else 0.0,
        "pronouns": pronouns,
        "ms_per_article": 1000 * elapsed / len(articles) if articles else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the measures per split (tune, heldout, blind, seed) side by side."""
    from config.environment import use_offline_environment

    use_offline_environment()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--splits", default="tune,heldout,blind,seed", help="comma-separated splits to run")
    parser.add_argument("--show", help="print unpaired gold and predicted claims of this split")
    args = parser.parse_args(argv)
    from corpus.claim_rules import extract_claims
    from corpus.nlp import get_nlp

    get_nlp()("Warm up.")  # loading spaCy is not extraction cost
    articles = load_gold() + load_gold(GOLD_BLIND)
    rows = {}
    for split in args.splits.split(","):
        part = [a for a in articles if a["split"] == split]
        if part:
            rows[split] = score(part, extract_claims)
        if split == args.show:
            for a in part:
                missed, extra = a["_unpaired"]
                for g in missed:
                    print(f"MISSED {a['id']}: {g['speaker']} | {g['cue']} | {g['content']}")
                for c in extra:
                    print(f"EXTRA  {a['id']}: {c.speaker.text} | {c.cue.text} | {c.content.text}")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    keys = ["articles", "gold_claims", "predicted_claims", "speaker_precision", "speaker_recall", "content_f1",
            "pronoun_accuracy", "pronouns", "ms_per_article"]
    print(f"{'':20}" + "".join(f"{s:>10}" for s in rows))
    for key in keys:
        cells = "".join(f"{rows[s][key]:>10.2f}" if isinstance(rows[s][key], float) else f"{rows[s][key]:>10}"
                        for s in rows)
        print(f"{key:20}{cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
