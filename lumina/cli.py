"""The `lumina` command: worker, embedded run, brokers, search, SQL, demo, set-up."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lumina.config import Settings, agent_list, get_settings
from lumina.core.symbols import ROLES
from lumina.display import print_hits, print_table
from lumina.errors import LuminaError


def _print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


# -- commands -------------------------------------------------------------------------------
def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.worker import run_worker

    brokers = settings.kafka_brokers
    if not brokers:
        raise LuminaError(
            "set LUMINA_KAFKA_BROKERS (host:port) or use `lumina up` for the embedded broker"
        )
    if args.agents:
        settings = Settings.model_validate({**settings.model_dump(), "worker_agents": args.agents})
    return run_worker(settings, brokers)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.brokers import TansuBroker
    from lumina.streams.fetch_wait import embedded_fetch_wait
    from lumina.worker import reset_local_state, run_worker

    if settings.kafka_brokers:
        return run_worker(settings, settings.kafka_brokers)
    broker = TansuBroker(port=settings.embedded_port, data_dir=settings.home / "tansu")
    broker.start()
    reset_local_state(settings)  # the embedded broker is memory-only: it starts empty
    settings = embedded_fetch_wait(settings)
    print(
        f"embedded broker on {broker.bootstrap}; worker API on "
        f"http://{settings.api_host}:{settings.api_port}",
        flush=True,
    )
    try:
        return run_worker(settings, broker.bootstrap)
    finally:
        broker.stop()


def cmd_broker(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.brokers import make_broker

    broker = make_broker(args.kind, args.port, Path(args.data_dir) if args.data_dir else None)
    broker.start()
    print(f"{args.kind} broker ready on {broker.bootstrap} (Ctrl-C stops it)", flush=True)
    try:
        return broker.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()


def agent_names(value: str) -> str:
    """A comma-separated list of worker agents from the command line."""
    try:
        return agent_list(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def instant_ms(value: str) -> int:
    """An instant from the command line: epoch milliseconds, or an ISO date or date-time
    (UTC unless it names a zone)."""
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date (2026-05-03, 2026-05-03T14:00) or epoch ms"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def _filters(args: argparse.Namespace) -> Any:
    from lumina.store.retrieval import Filters

    return Filters(
        since_ms=args.since, until_ms=args.until, author=args.author, session=args.session
    )


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.query import open_queries

    with open_queries(settings) as queries:
        hits = queries.search(args.text, args.scope, args.k, _filters(args))
    _print_json(hits) if args.json else print_hits(hits)
    return 0


def cmd_recall(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.query import open_queries

    roles = {role: getattr(args, role) for role in ROLES if getattr(args, role)}
    with open_queries(settings) as queries:
        hits = queries.recall(roles, args.scope, args.k, _filters(args))
    _print_json(hits) if args.json else print_hits(hits)
    return 0


def cmd_unbind(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.query import open_queries

    with open_queries(settings) as queries:
        fillers = queries.unbind(args.unit_id, args.role, args.scope, args.k)
    if args.json:
        _print_json(fillers)
    else:
        print_table(["filler", "similarity"], [[f["filler"], f["similarity"]] for f in fillers])
    return 0


def cmd_sql(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.query import open_queries

    with open_queries(settings) as queries:
        result = queries.sql(args.query)
    if args.json:
        _print_json(result)
    else:
        print_table(result["columns"], result["rows"])
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.demo import run_demo

    return run_demo(settings)


def cmd_enrich(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.enrich import Pipeline
    from lumina.heap import settle_heap
    from lumina.offline import enrich_file, rejects_path_for

    if args.profile:
        settings = settings.model_copy(update={"profile": args.profile})
    output = Path(args.output)
    pipeline = Pipeline.from_settings(settings)
    settle_heap()  # the models are loaded: out of every later collection, as in a worker
    counts = enrich_file(Path(args.input), output, settings, pipeline=pipeline)
    print(
        f"read {counts.read}, units {counts.units}, rejected {counts.rejected}"
        f" (rejects in {rejects_path_for(output)})"
    )
    return 0


def cmd_eval_sixw(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.enrich.evaluation import (
        evaluate,
        extractor_for,
        format_markdown,
        format_side_by_side,
        load_gold,
    )

    gold = load_gold(Path(args.gold) if args.gold else None)
    names = [args.attribution] if args.attribution else ["fast", "spacy"]
    reports = {name: evaluate(extractor_for(name, settings), gold) for name in names}
    print(format_markdown(reports) if args.markdown else format_side_by_side(reports))
    if args.errors:
        for name, report in reports.items():
            print(f"\n# {name}: {len(report.mismatches)} mismatches")
            for m in report.mismatches:
                print(f"{m.id} {m.role:<5} gold={m.gold!r} predicted={m.predicted!r}")
    return 0


def cmd_schemas(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.schemas.export import export_schemas
    from lumina.store.migrate import export_ddl

    out = Path(args.out)
    for path in export_schemas(out) + export_ddl(out / "clickhouse"):
        print(f"wrote {path}")
    return 0


def cmd_setup_models(args: argparse.Namespace, settings: Settings) -> int:
    from lumina.enrich.embed import ensure_static_model

    path = ensure_static_model(settings.models_dir)
    print(f"static embedding model ready at {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lumina", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", help="run a worker against LUMINA_KAFKA_BROKERS")
    worker.add_argument(
        "--agents",
        type=agent_names,
        default=None,
        help="comma-separated agents to run, of enrich, state, reinforce, sink "
        "(default LUMINA_WORKER_AGENTS: all)",
    )
    worker.set_defaults(func=cmd_worker)
    sub.add_parser(
        "up", help="embedded broker (unless LUMINA_KAFKA_BROKERS is set) and a worker"
    ).set_defaults(func=cmd_up)

    broker = sub.add_parser("broker", help="run a local broker in the foreground on 127.0.0.1")
    broker.add_argument("--kind", choices=("kafka", "tansu"), default="tansu")
    broker.add_argument("--port", type=int, default=None, help="default: a free port")
    broker.add_argument(
        "--data-dir", default=None, help="default: a temporary folder, removed on stop"
    )
    broker.set_defaults(func=cmd_broker)

    def within_scope(command: argparse.ArgumentParser, k: int = 10) -> None:
        command.add_argument("--scope", required=True, help="the one scope to look in")
        command.add_argument("-k", type=int, default=k, help=f"results (default {k})")
        command.add_argument("--json", action="store_true")

    def narrowing(command: argparse.ArgumentParser) -> None:
        command.add_argument("--since", type=instant_ms, help="event time from (ISO or ms)")
        command.add_argument("--until", type=instant_ms, help="event time before (ISO or ms)")
        command.add_argument("--author")
        command.add_argument("--session")

    search = sub.add_parser(
        "search", help="hybrid search (embedding + BM25, weighed by strength) in one scope"
    )
    search.add_argument("text")
    within_scope(search)
    narrowing(search)
    search.set_defaults(func=cmd_search)

    recall = sub.add_parser("recall", help="units whose roles match, by holographic probe")
    within_scope(recall)
    for role in ROLES:
        recall.add_argument(f"--{role}", help=f"the {role} filler to match")
    narrowing(recall)
    recall.set_defaults(func=cmd_recall)

    unbind = sub.add_parser("unbind", help="read one role back out of a stored unit's shape")
    unbind.add_argument("unit_id")
    unbind.add_argument("--role", required=True, choices=ROLES)
    within_scope(unbind, k=5)
    unbind.set_defaults(func=cmd_unbind)

    sql = sub.add_parser("sql", help="read-only SQL over the store")
    sql.add_argument("query")
    sql.add_argument("--json", action="store_true")
    sql.set_defaults(func=cmd_sql)

    enrich = sub.add_parser("enrich", help="TextEvents JSONL in, MemoryUnits JSONL out, no Kafka")
    enrich.add_argument("input")
    enrich.add_argument("-o", "--output", required=True)
    enrich.add_argument("--profile", choices=("fast", "full"), default=None)
    enrich.set_defaults(func=cmd_enrich)

    evaluation = sub.add_parser("eval", help="measured accuracy")
    eval_sub = evaluation.add_subparsers(dest="what", required=True)
    sixw = eval_sub.add_parser("sixw", help="6W precision/recall/F1 on the gold set")
    sixw.add_argument(
        "--attribution",
        choices=("fast", "spacy"),
        default=None,
        help="one attributor (default: both, side by side)",
    )
    sixw.add_argument("--gold", default=None, help="a gold JSONL (default: tests/data)")
    sixw.add_argument("--markdown", action="store_true")
    sixw.add_argument("--errors", action="store_true", help="list every mismatch")
    sixw.set_defaults(func=cmd_eval_sixw)

    sub.add_parser("demo", help="run the bundled conversation end to end").set_defaults(
        func=cmd_demo
    )

    schemas = sub.add_parser("schemas", help="contracts for other languages")
    schemas_sub = schemas.add_subparsers(dest="action", required=True)
    export = schemas_sub.add_parser("export", help="write JSON Schema files")
    export.add_argument("--out", default="schemas")
    export.set_defaults(func=cmd_schemas)

    setup = sub.add_parser("setup", help="prepare caches under LUMINA_HOME")
    setup_sub = setup.add_subparsers(dest="action", required=True)
    setup_sub.add_parser("models", help="distill the static embedding model").set_defaults(
        func=cmd_setup_models
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args, settings) or 0)
    except LuminaError as exc:
        print(f"lumina: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
