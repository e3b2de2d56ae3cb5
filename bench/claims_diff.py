"""Claims extracted before and after a change to the extractor, compared claim by claim.

``dump`` writes every claim of the dev corpus (``../shared/data/dev/articles.jsonl``, all
articles) and of the tuned gold articles and the seed to a JSONL file (one line per article: id and
claims as :meth:`corpus.claims.Claim.to_dict`); ``compare`` counts the articles and claims
that differ between two dumps and prints each difference.

Run: ``.venv/bin/python bench/claims_diff.py dump OUT.jsonl`` (before and after), then
``.venv/bin/python bench/claims_diff.py compare BEFORE.jsonl AFTER.jsonl [--show 20]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import ARTICLES  # noqa: E402  (sets HF_HUB_OFFLINE)


def _texts() -> list[tuple[str, str]]:
    from bench.claims_quality import load_gold

    # the tuned gold articles and the seed only: held-out and blind texts stay unread
    out = [(f"gold:{a['id']}", a["text"]) for a in load_gold() if a["split"] in ("tune", "seed")]
    for line in ARTICLES.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        out.append((f"dev:{row['id']}", row["text"]))
    return out


def dump(path: Path) -> None:
    from corpus.claim_rules import extract_claims

    with path.open("w", encoding="utf-8") as out:
        for key, text in _texts():
            claims = [c.to_dict() for c in extract_claims(text)]
            out.write(json.dumps({"id": key, "claims": claims}, ensure_ascii=False) + "\n")


def _load(path: Path) -> dict[str, list[dict]]:
    return {row["id"]: row["claims"] for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def _brief(c: dict) -> str:
    resolved = f" -> {c['resolved']['text']}" if c.get("resolved") else ""
    return (f"{c['speaker']['text']}{resolved} | {c['cue']['text']} | {c['content']['text'][:90]!r} "
            f"@{c['content']['start']}")


def compare(before: Path, after: Path, show: int) -> int:
    a, b = _load(before), _load(after)
    changed_articles = removed = added = 0
    lines = []
    for key in a.keys() | b.keys():
        old = {json.dumps(c, sort_keys=True) for c in a.get(key, [])}
        new = {json.dumps(c, sort_keys=True) for c in b.get(key, [])}
        if old == new:
            continue
        changed_articles += 1
        removed += len(old - new)
        added += len(new - old)
        lines += [f"{key} - {_brief(json.loads(c))}" for c in sorted(old - new)]
        lines += [f"{key} + {_brief(json.loads(c))}" for c in sorted(new - old)]
    total = sum(map(len, a.values()))
    print(f"articles {len(a)}; claims before {total}, after {sum(map(len, b.values()))}; "
          f"articles that differ {changed_articles}; claims only before {removed}, only after {added}")
    for line in sorted(lines)[:show]:
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--show", type=int, default=40)
    args = parser.parse_args(argv)
    if args.command == "dump":
        dump(args.out)
        return 0
    return compare(args.before, args.after, args.show)


if __name__ == "__main__":
    raise SystemExit(main())
