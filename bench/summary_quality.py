"""Summary quality and speed of bantin's summarizer against the first-sentence baseline.

    python bench/summary_quality.py /path/to/vnds-dev-2000.jsonl [--limit N] [--max-chars N]

Reads JSON lines with ``id``, ``title``, ``body`` (one sentence a line) and ``reference`` (the
newsroom's sapo). The summarizer only ever sees the title and the body; the reference is read
into a separate list and used for scoring alone, and ``sapo=None`` because the corpus has none.

Prints ROUGE-1/2/L F1 (whole lowercased syllables, see bench/rouge.py) for bantin and lead-1,
the time summarize() takes per article on one core, and the average summary length. Figures
only: nothing here asserts, and the data stays outside the repository.

Measured on vnds-dev-2000 (2,000 articles, max_chars=400, 2-core dev machine):

    shipped: 1 sentence, a 2nd if under 15 syllables   R1 32.2  R2 18.3  RL 24.8  38.8 syl
    always 1 sentence                                  R1 31.9  R2 18.2  RL 24.9  35.5 syl
    1-2 sentences up to 40 syllables                   R1 32.3  R2 18.0  RL 24.0  53.8 syl
    always 2 sentences                                 R1 32.0  R2 17.9  RL 23.8  59.1 syl
    title overlap only (no centrality, no length brake) R1 32.0 R2 18.0  RL 24.3  41.8 syl
    lead-1 (this script)                               R1 26.6  R2 14.5  RL 20.7  33.7 syl
    bantin speed: 0.61 ms/article median, 0.75 mean, one core

ROUGE-L is over the whole summary, so every extra sentence costs precision: the reference is
a ~35-syllable sapo. The lead-1 row differs from the data README's (26.3/14.1/20.3) by
0.3-0.4 points, presumably a detail of how that table was produced; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.rouge import score, tokenize  # noqa: E402
from jobs.enrich.summarize import summarize  # noqa: E402


@dataclass(frozen=True)
class Article:
    """What the summarizer is allowed to see."""

    title: str
    body: str


def load(path: Path, limit: int | None) -> tuple[list[Article], list[str]]:
    """Articles and, in a separate list, their references (never handed to the summarizer)."""
    articles: list[Article] = []
    references: list[str] = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if limit is not None and len(articles) >= limit:
                break
            row = json.loads(line)
            articles.append(Article(title=row["title"], body=row["body"]))
            references.append(row["reference"])
    return articles, references


def lead1(article: Article) -> str:
    """The first sentence: the corpus body holds one sentence a line."""
    for line in article.body.splitlines():
        if line.strip():
            return line.strip()
    return ""


def report(name: str, summaries: list[str], references: list[str]) -> None:
    r1 = r2 = rl = 0.0
    length = 0
    for summary, reference in zip(summaries, references, strict=True):
        s = score(summary, reference)
        r1 += s.rouge1
        r2 += s.rouge2
        rl += s.rougeL
        length += len(tokenize(summary))
    n = len(summaries)
    print(
        f"{name:<8} R1 {100 * r1 / n:5.1f}  R2 {100 * r2 / n:5.1f}  RL {100 * rl / n:5.1f}"
        f"  length {length / n:5.1f} syllables"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--max-chars", type=int, default=400)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):  # measure on one core, as the target says
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    articles, references = load(args.path, args.limit)
    for article in articles[:50]:  # warm caches and compiled regexes outside the timing
        summarize(article.title, article.body, max_chars=args.max_chars)

    summaries: list[str] = []
    timings: list[float] = []
    for article in articles:
        started = time.perf_counter()
        summary = summarize(article.title, article.body, sapo=None, max_chars=args.max_chars)
        timings.append((time.perf_counter() - started) * 1000)
        summaries.append(summary)

    print(f"{len(articles)} articles from {args.path.name}, max_chars={args.max_chars}")
    report("bantin", summaries, references)
    report("lead-1", [lead1(a) for a in articles], references)
    print(
        f"bantin   {statistics.median(timings):.3f} ms/article median, "
        f"{statistics.fmean(timings):.3f} mean, {max(timings):.2f} max (one core)"
    )


if __name__ == "__main__":
    main()
