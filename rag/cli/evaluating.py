"""`rag eval`, `rag eval-kinds`, `rag calibrate`, `rag eval-table`: measuring answers and retrieval."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rag.cli import (
    EXIT_OK, LLM_MODEL, QA_MODEL, RERANK, RERANK_DEPTH, SOURCE, WHERE, BACKEND, STORE_HELP, _settings, command,
)
from rag.readers import READERS


@command("eval", "evaluate on a question set",
         click.Argument(["questions"], required=False, metavar="[QUESTIONS.jsonl]"),
         click.Option(["--corpus"], metavar="PATH",
                      help="documents to index for the questions (default: the seed corpus)"),
         click.Option(["--index"], metavar="DIR", help="evaluate on an existing index instead"),
         click.Option(["--store"], metavar="URI", help=STORE_HELP + ": the corpus is indexed there (parity runs)"),
         click.Option(["--squad"], metavar="FILE", help="SQuAD 2.0 JSON (corpus = its paragraphs)"),
         click.Option(["--gold-context"], is_flag=True,
                      help="SQuAD: read each question's own paragraph (reader alone)"),
         click.Option(["--fold"], type=click.Choice(["tune", "test"]),
                      help="SQuAD: the articles (RGB: the questions) in even (tune) or odd (test) places, to choose settings on "
                  "one half and report on the other"),
         click.Option(["--beir"], metavar="DIR", help="BEIR dataset folder (retrieval only)"),
         click.Option(["--split"], default="test"),
         click.Option(["--rgb"], metavar="FILE", help="RGB news questions (JSON lines)"),
         click.Option(["--hotpot"], metavar="FILE",
                      help="HotpotQA, processed JSON lines (corpus = every question's paragraphs)"),
         click.Option(["--baseline"], type=click.Choice(["stuff"]),
                      help="also answer with the textbook chain (dense top-4, the classic stuff prompt, the same local model)"),
         click.Option(["--negatives-only"], is_flag=True, help="RGB: only passages without the answer"),
         click.Option(["--reader"], type=click.Choice([*READERS, "none"]), help="none: retrieval only"),
         QA_MODEL, LLM_MODEL,
         click.Option(["--retrieval"], type=click.Choice(["hybrid", "dense", "lexical"]),
                      help="mode the reader uses (all are measured)"),
         click.Option(["-k"], type=int, metavar="N", help="passages given to the reader (default 5)"), RERANK, RERANK_DEPTH,
         click.Option(["--no-abstain"], is_flag=True,
                      help="the reader always answers (its confidence is still recorded)"),
         click.Option(["--limit"], type=int, metavar="N", help="a seeded random sample of N questions"), SOURCE, WHERE,
         click.Option(["--embedder"], metavar="NAME"), BACKEND, click.Option(["--out"], required=True, metavar="DIR"))
def cmd_eval(args) -> int:
    """Evaluate retrieval and answers on a question set; writes summary.json, results.jsonl, report.md and plots.

    Retrieval is measured in every mode (dense, lexical, hybrid) side by side; the reader uses --retrieval.

    Examples:
      rag eval seeds/questions.jsonl --out eval-results/seeds
      rag eval --squad ../shared/data/squad-v2-dev/dev-v2.0-25articles.json --gold-context --out eval-results/squad-gold
      rag eval --beir ../shared/data/scifact --split test --out eval-results/scifact
      rag eval --rgb ../shared/data/rgb-en-fact/en_fact.json --negatives-only --out eval-results/rgb-negatives
      rag eval my-questions.jsonl --corpus ~/reports --source '2026-*.pdf' --out eval-results/2026-reports
    """
    from rag.embedding import Embedder
    from rag.evaluation.runner import EvalConfig, run
    from rag.paths import cache_dir

    eval_set, gold = _eval_set(args)
    base = _settings(args)
    embedder = Embedder(base.embedder, backend=base.embedder_backend)
    factory = _eval_assistants(args, base, embedder)
    from tqdm import tqdm

    bar = tqdm(total=0, file=sys.stderr, disable=None, leave=False)

    def progress(done, total, label):
        bar.set_description(label)
        bar.total, bar.n = total, done
        bar.refresh()

    config = EvalConfig(
        reader=None if eval_set.retrieval_only or args.reader == "none" else (args.reader or "extractive"),
        k=args.k or 5,
        mode=args.retrieval or base.retrieval.mode,
        gold_context=args.gold_context,
        limit=args.limit,
        embedder=embedder.model_id,
        rerank=base.retrieval.rerank,
        rerank_depth=base.retrieval.rerank_depth,
        abstain=not args.no_abstain,
        baseline=args.baseline,
        sources=tuple(args.source),
        where=tuple(args.where),
    )
    summary = run(eval_set, factory, config, Path(args.out), cache_root=cache_dir() / "eval-indexes" / embedder.model_id.replace("/", "--").replace(":", "-"), gold_docs=gold, progress=progress)
    bar.close()
    keys = ["questions", "answerable", "hit@1", "hit@5", "hit@10", "mrr", "ndcg@10", "recall@100", "mrr@10", "em", "f1",
            "f1_answerable", "f1_yes_no", "support_recall", "citation_support", "abstention_precision", "abstention_recall",
            "latency_ms_p50", "latency_ms_p95", "f1_vs_baseline", "baseline", "by_kind"]
    print(json.dumps({k: summary[k] for k in keys if k in summary}, indent=2))
    print(f"Wrote {args.out}/summary.json, results.jsonl, report.md, hit_at_k.png, latency.png", file=sys.stderr)
    return EXIT_OK


def _eval_set(args):
    """(the question set, its gold passage ids or None) from the arguments of `rag eval`."""
    from rag.errors import RagError
    from rag.evaluation import datasets

    given = [bool(args.questions), bool(args.squad), bool(args.beir), bool(args.rgb), bool(args.hotpot)]
    if sum(given) != 1:
        raise RagError("give exactly one question set",
                       hint="QUESTIONS.jsonl, --squad FILE, --beir DIR, --rgb FILE or --hotpot FILE")
    gold = None
    if args.questions:
        from rag.loaders import load_paths
        from rag.paths import SEED_CORPUS

        eval_set = datasets.load_jsonl(args.questions)
        if args.corpus or not args.index:
            loaded = load_paths([args.corpus or SEED_CORPUS])
            for item in loaded.skipped:
                print(f"warning: skipped {item.path}: {item.reason}", file=sys.stderr)
            eval_set.documents = loaded.documents
    elif args.squad:
        eval_set, gold = datasets.load_squad(args.squad, fold=args.fold)
    elif args.hotpot:
        eval_set, gold = datasets.load_hotpot(args.hotpot, fold=args.fold)
    elif args.beir:
        eval_set = datasets.load_beir(args.beir, args.split)
    else:
        eval_set = datasets.load_rgb(args.rgb, negatives_only=args.negatives_only, fold=args.fold)
    if args.gold_context and gold is None:
        raise RagError("--gold-context needs a dataset that labels each question's passage",
                       hint="use it with --squad or --hotpot")
    return eval_set, gold


def _eval_assistants(args, base, embedder):
    """folder -> an Assistant for the run: the corpus's (cached by content, or the given --index / --store), or with
    folder None a scratch one for throw-away passage sets (kept in memory)."""
    from dataclasses import replace

    from rag.assistant import Assistant

    scratch = Path(args.out) / ".scratch"

    def factory(folder):
        if base.store:  # the corpus goes into the given store; throw-away passage sets stay in memory
            return Assistant(base if folder is not None else replace(base, store=None, index_dir=scratch), embedder=embedder)
        if folder is None:
            return Assistant(replace(base, index_dir=Path(args.index) if args.index else scratch), embedder=embedder)
        return Assistant(replace(base, index_dir=folder), embedder=embedder)

    return factory


@command("eval-kinds", "ask a labelled question-kinds set and score the answers",
         click.Argument(["questions"], metavar="KINDS.jsonl"),
         click.Option(["--data"], default="../shared/data", metavar="DIR",
                      help="the public evaluation data the set's squad/hotpot/rgb rows refer to"),
         click.Option(["--labels-only"], is_flag=True, help="only how often each kind is read right (no models)"),
         click.Option(["--limit"], type=int, metavar="N", help="a seeded random sample of N questions"),
         click.Option(["--out"], required=True, metavar="DIR"))
def cmd_eval_kinds(args) -> int:
    """Ask every question of a kinds set (seeds/kinds.jsonl) with the auto reader, each over its own documents, and
    report how often its kind was read right and how often the answer is one a person would accept (the rule per
    kind is in rag/evaluation/kinds.py). Writes summary.json, results.jsonl and report.md.

    Example: rag eval-kinds seeds/kinds.jsonl --out eval-results/kinds
    """
    import random

    from rag.evaluation import kinds

    questions = kinds.load(args.questions, args.data)
    if args.limit and args.limit < len(questions):
        questions = random.Random(0).sample(questions, args.limit)
    out = Path(args.out)
    if args.labels_only:
        summary = kinds.kind_accuracy(questions)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        print(json.dumps(summary, indent=2))
        return EXIT_OK
    from rag.assistant import Assistant, Settings
    from rag.embedding import Embedder
    from rag.loaders import load_paths
    from rag.paths import SEED_CORPUS

    embedder = Embedder()
    seed = load_paths([SEED_CORPUS]).documents

    def assistant_for(documents):
        return Assistant(Settings(index_dir=out / ".scratch", reader="auto"), embedder=embedder).over(list(documents) or seed)

    from tqdm import tqdm

    with tqdm(total=len(questions), file=sys.stderr, disable=None, leave=False, desc="answering") as bar:
        summary = kinds.run(questions, assistant_for, out, progress=lambda done, total: bar.update(done - bar.n))
    print(json.dumps(summary, indent=2))
    print(f"Wrote {out}/summary.json, results.jsonl, report.md", file=sys.stderr)
    return EXIT_OK


@command("calibrate", "fit a reader's confidence on eval runs", click.Argument(["folders"], nargs=-1, required=True,
                                                                               metavar="DIR"),
         click.Option(["--reader"], type=click.Choice(["extractive", "llm"]), required=True),
         click.Option(["--precision"], type=float, default=0.8,
                      help="decline below the highest confidence where this share of declined questions is unanswerable"),
         click.Option(["--write"], is_flag=True, help="store it as the reader's shipped calibration"))
def cmd_calibrate(args) -> int:
    """Fit a reader's confidence on `rag eval --no-abstain` runs and choose the threshold below which it declines.

    Prints what was fitted (AUC, how the runs score answering everything and declining below the threshold);
    --write stores it as the reader's shipped calibration (rag/readers/calibration.json).

    Example: rag calibrate eval-results/cal-llm-gold eval-results/cal-llm-open --reader llm --write
    """
    from rag.evaluation import calibrate

    rows = calibrate.load_rows([Path(f) for f in args.folders])
    fitted = calibrate.fit(rows, args.reader, precision=args.precision)
    report = {"reader": args.reader, "rows": fitted.rows, "auc": fitted.auc, "threshold": fitted.calibration.threshold,
              "declined": fitted.declined, "objective": calibrate.OBJECTIVES[args.reader],
              "score_always_answering": fitted.score_always_answering, "score_declining": fitted.score_declining,
              "weights": dict(zip(fitted.calibration.features, [round(w, 4) for w in fitted.calibration.weights]))}
    print(json.dumps(report, indent=2))
    if args.write:
        calibrate.write(fitted, args.reader, [Path(f) for f in args.folders])
        print(f"Wrote the {args.reader} calibration to {calibrate.CALIBRATION_FILE}", file=sys.stderr)
    return EXIT_OK


@command("eval-table", "summarise eval runs as one Markdown table", click.Argument(["folders"], nargs=-1,
                                                                                   required=True,
                                                                                   metavar="DIR"),
         click.Option(["--publish"], metavar="DIR",
                      help="also write the table as DIR/TABLE.md and each run's summary.json and report.md under DIR"))
def cmd_eval_table(args) -> int:
    """Print one Markdown table from `rag eval` output folders (each holding a summary.json).

    Example: rag eval-table eval-results/* --publish docs/results
    """
    from rag.evaluation.table import publish, table

    folders = [Path(p) for p in args.folders]
    print(table(folders), end="")
    if args.publish:
        written = publish(folders, Path(args.publish))
        print(f"Wrote {written}", file=sys.stderr)
    return EXIT_OK
