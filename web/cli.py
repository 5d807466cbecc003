"""The `ideas-portal` command line."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ideas import accounts, demo, migrate, weekly, weekly_render, worker
from ideas.accounts import ROLES
from ideas.db import Database
from ideas.errors import Conflict, ValidationError
from ideas.models import utcnow
from ideas.settings import Settings


def _database(settings: Settings) -> Database:
    database = Database.from_settings(settings)
    click.get_current_context().call_on_close(database.dispose)
    return database


def _require_schema(db: Database) -> None:
    if not migrate.is_current(db.engine):
        raise click.ClickException(
            "The database schema is not current: run `ideas-portal db upgrade`."
        )


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Ideas portal: customers submit, discuss and vote on ideas. Settings come from the
    environment (DATABASE_URL and the others in the README)."""
    try:
        ctx.obj = Settings.from_env()
    except ValueError as error:  # a bad setting: its message, not a traceback
        raise click.ClickException(str(error)) from None


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Apply the migrations up to the newest schema."""
    database = _database(settings)
    migrate.upgrade(database.engine)
    click.echo(f"Schema up to date ({database.engine.url.render_as_string(hide_password=True)}).")


@main.command("demo")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing (and succeed) when there is data already."
)
@click.pass_obj
def demo_command(settings: Settings, if_empty: bool) -> None:
    """Fill an empty database with a realistic demo community."""
    database = _database(settings)
    _require_schema(database)
    with database.transaction() as session:
        if not demo.is_empty(session):
            if not if_empty:
                raise click.ClickException(
                    "The database is not empty: demo data goes into an empty one."
                )
            click.echo("The database has data already: demo data not loaded.")
            has_demo_team = accounts.find_by_email(session, demo.STAFF_EMAIL) is not None
        else:
            summary = demo.load(session)
            click.echo(
                f"Demo data loaded: {summary.boards} boards, {summary.ideas} ideas, "
                f"{summary.members} members, {summary.votes} votes, {summary.comments} comments."
            )
            has_demo_team = True
    if has_demo_team:
        click.echo(f"Sign in as staff: {demo.STAFF_EMAIL} / {demo.STAFF_PASSWORD}")
        click.echo(f"Sign in as admin: {demo.ADMIN_EMAIL} / {demo.ADMIN_PASSWORD}")


@main.group()
def user() -> None:
    """People's accounts."""


@user.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Display name.")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--role", type=click.Choice(ROLES), default="member", show_default=True)
@click.pass_obj
def user_create(settings: Settings, email: str, name: str, password: str, role: str) -> None:
    """Create an account."""
    database = _database(settings)
    _require_schema(database)
    try:
        with database.transaction() as session:
            created = accounts.create_user(session, email, name, password, role)
    except ValidationError as error:
        raise click.ClickException(
            "; ".join(f"{field}: {message.render(str)}" for field, message in error.fields.items())
        ) from None
    click.echo(f"Created {created.role} {created.email} (id {created.id}).")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("email")
@click.pass_obj
def token_create(settings: Settings, email: str) -> None:
    """Print a new personal API token for EMAIL (shown once)."""
    database = _database(settings)
    _require_schema(database)
    with database.transaction() as session:
        found = accounts.find_by_email(session, email)
        if found is None:
            raise click.ClickException(f"No account with the email {email}.")
        click.echo(accounts.create_api_token(session, found))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Web processes.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve the portal over HTTP."""
    import uvicorn

    _require_schema(_database(settings))
    click.echo(f"Serving on http://{host}:{port}")
    uvicorn.run(
        "web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@main.command("worker")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit (for cron).")
@click.pass_obj
def worker_command(settings: Settings, once: bool) -> None:
    """Run background jobs (mail, the weekly digest) in this process until interrupted."""
    database = _database(settings)
    _require_schema(database)
    if once:
        done = worker.run_once(database, settings)
        click.echo(f"{done} jobs run.")
        return
    stop = threading.Event()
    click.echo("Worker running; Ctrl-C to stop.")
    try:
        worker.run(database, settings, stop)
    except KeyboardInterrupt:
        stop.set()
        sys.exit(0)


@main.group()
def embeddings() -> None:
    """Stored idea vectors (for similar ideas and duplicates)."""


@embeddings.command("rebuild")
@click.pass_obj
def embeddings_rebuild(settings: Settings) -> None:
    """Compute the vector of every idea that has none by the configured model."""
    from tqdm import tqdm

    from ideas import embeddings as idea_embeddings

    database = _database(settings)
    _require_schema(database)
    embedder = idea_embeddings.make_shared(settings.embedding_backend, settings.embedding_cache_dir)
    total = idea_embeddings.stale_count(database, embedder.name)
    with tqdm(total=total, unit="idea", desc=embedder.name, disable=total == 0) as bar:
        done = idea_embeddings.rebuild(database, embedder, bar.update)
    click.echo(f"{done} ideas embedded with {embedder.name}.")


@embeddings.command("export-onnx")
@click.option("--force", is_flag=True, help="Export again even if the file is there.")
@click.pass_obj
def embeddings_export_onnx(settings: Settings, force: bool) -> None:
    """Export MiniLM to an int8 ONNX model in EMBEDDING_CACHE_DIR (needs torch, once)."""
    from ml.embedders import OnnxMiniLMEmbedder

    embedder = OnnxMiniLMEmbedder(cache_dir=settings.embedding_cache_dir)
    if embedder.onnx_path.exists() and not force:
        click.echo(f"{embedder.onnx_path} is there already (--force exports it again).")
        return
    try:
        path = embedder.export()
    except ImportError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{embedder.name} written to {path}.")


def _stored_vectors(settings: Settings) -> tuple[Database, str]:
    """The database and the configured model's name, for commands that work on the stored
    vectors; says how many ideas have none yet (they are left out)."""
    from ideas import embeddings as idea_embeddings

    database = _database(settings)
    _require_schema(database)
    model = idea_embeddings.make_shared(settings.embedding_backend).name
    missing = idea_embeddings.stale_count(database, model)
    if missing:
        click.echo(f"{missing} ideas have no vector yet: run `ideas-portal embeddings rebuild`.")
    return database, model


@main.group()
def duplicates() -> None:
    """The team's duplicate queue."""


@duplicates.command("scan")
@click.pass_obj
def duplicates_scan(settings: Settings) -> None:
    """Queue the duplicate pairs found across all stored ideas (e.g. after an import)."""
    from tqdm import tqdm

    from ideas import duplicates as duplicate_queue

    database, model = _stored_vectors(settings)
    total = duplicate_queue.scannable_count(database, model)
    with tqdm(total=total, unit="idea", desc="scan", disable=total == 0) as bar:
        queued = duplicate_queue.scan(database, model, bar.update)
    click.echo(f"{queued} new pairs in the duplicate queue.")


@main.group()
def themes() -> None:
    """Themes: the active ideas grouped by what they ask for."""


@themes.command("rebuild")
@click.pass_obj
def themes_rebuild(settings: Settings) -> None:
    """Re-cluster the ideas of every board and across boards, keeping each theme's identity."""
    from tqdm import tqdm

    from ideas import themes as idea_themes

    database, model = _stored_vectors(settings)
    scopes = idea_themes.scopes(database)
    with tqdm(total=len(scopes), unit="scope", desc="themes") as bar:
        report = idea_themes.rebuild(database, model, bar.update)
    for scope in report.scopes:
        where = "all boards" if scope.board_id is None else f"board {scope.board_id}"
        click.echo(
            f"{where}: {scope.ideas} ideas, {scope.themes} themes, {scope.unassigned} unassigned"
            f" ({scope.created} new, {scope.retired} retired, {scope.splits} split,"
            f" {scope.merges} merged)"
        )
    click.echo(f"Done in {report.seconds:.1f} s.")


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "json", "fider"]),
    default="auto",
    show_default=True,
    help="auto: by the extension and the header (Fider's posts.csv is recognised).",
)
@click.option("--board", default=None, help="Board (name) of the rows that name none.")
@click.option("--source", default=None, help="Name of the tool imported from (default: format).")
@click.option("--strict", is_flag=True, help="Import nothing when any row is bad.")
@click.option("--no-ml", is_flag=True, help="Skip embedding, the duplicate scan and themes.")
@click.pass_obj
def import_command(
    settings: Settings,
    file: Path,
    fmt: str,
    board: str | None,
    source: str | None,
    strict: bool,
    no_ml: bool,
) -> None:
    """Import ideas from FILE: a generic CSV or JSON file, or Fider's posts.csv export.
    Importing the same file again updates the ideas it made."""
    from tqdm import tqdm

    from ideas import importer

    database = _database(settings)
    _require_schema(database)
    with tqdm(total=0, unit="row", desc="import") as bar:

        def total(count: int) -> None:
            bar.reset(total=count)

        try:
            report = importer.run(database, file, fmt, board, source, strict, bar.update, total)
        except importer.ImportFileError as error:
            raise click.ClickException(f"{file}: {error}") from None
        except importer.ImportAborted as error:
            for problem in error.problems:
                click.echo(f"{file}: {problem}", err=True)
            raise click.ClickException(
                f"{len(error.problems)} bad rows (--strict): nothing imported."
            ) from None
    for problem in report.skipped:
        click.echo(f"skipped: {file}: {problem}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(
        f"{report.rows} rows ({report.format}, source {report.source!r}): {report.created} created,"
        f" {report.updated} updated, {report.unchanged} unchanged, {len(report.skipped)} skipped;"
        f" {report.people_created} people created (no email sent)."
    )
    if report.duplicates_from_file:
        click.echo(f"{report.duplicates_from_file} duplicates marked in the file queued.")
    if no_ml or not report.idea_ids:
        return
    from ideas import embeddings as idea_embeddings

    embedder = idea_embeddings.make_shared(settings.embedding_backend, settings.embedding_cache_dir)
    with tqdm(total=len(set(report.idea_ids)), unit="idea", desc=embedder.name) as bar:
        embedded = importer.embed_ideas(database, embedder, report.idea_ids, bar.update)
    from ideas import duplicates as duplicate_queue

    scannable = duplicate_queue.scannable_count(database, embedder.name)
    with tqdm(total=scannable, unit="idea", desc="scan", disable=scannable == 0) as bar:
        queued, rebuilt = importer.scan_and_cluster(database, embedder.name, bar.update)
    found = sum(scope.themes for scope in rebuilt.scopes)
    click.echo(
        f"{embedded} ideas embedded with {embedder.name}; {queued} new pairs in the duplicate"
        f" queue; {found} themes in {len(rebuilt.scopes)} scopes."
    )


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def backup_command(settings: Settings, file: Path) -> None:
    """Write all the portal's data to FILE (gzip'd JSON Lines), to restore exactly."""
    from tqdm import tqdm

    from ideas import backup

    database = _database(settings)
    with tqdm(unit="row", desc="backup") as bar:
        try:
            written = backup.backup(database, file, bar.update)
        except backup.BackupError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{sum(written.values())} rows of {len(written)} tables written to {file}.")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the data of a database that has some.")
@click.pass_obj
def restore_command(settings: Settings, file: Path, force: bool) -> None:
    """Restore a backup FILE into an empty database (with --force, into one whose data it
    replaces). Stop the portal first."""
    from tqdm import tqdm

    from ideas import backup

    database = _database(settings)
    try:
        total = sum(spec["rows"] for spec in backup.read_header(file)["tables"].values())
        with tqdm(total=total, unit="row", desc="restore") as bar:
            restored = backup.restore(database, file, force, bar.update)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{sum(restored.values())} rows of {len(restored)} tables restored from {file}.")


@main.group()
def export() -> None:
    """Exports."""


@export.command("weekly")
@click.option("--week", help="An ISO week such as 2026-W48. Default: the last complete week.")
@click.option(
    "--format",
    "format_",
    type=click.Choice(weekly.FORMATS),
    help="One format; without it, all three (with --out).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="A folder for roadmap-WEEK.md|csv|json; without it the format goes to standard output.",
)
@click.option("--locale", help="Language of the Markdown and CSV texts. Default: DEFAULT_LOCALE.")
@click.pass_obj
def export_weekly(
    settings: Settings,
    week: str | None,
    format_: str | None,
    out: Path | None,
    locale: str | None,
) -> None:
    """The weekly roadmap update of a week, snapshotting it first if it has none (only a week
    that is over). The same week always gives the same bytes."""
    database = _database(settings)
    _require_schema(database)
    if out is None and format_ is None:
        raise click.UsageError("Say which --format to print, or give --out DIR for all three.")
    if week is None:
        week = weekly.last_complete_week(utcnow(), settings.time_zone)
    try:
        week = weekly.week_name(*weekly.parse_week(week))
    except ValueError:
        raise click.BadParameter(
            f"{week!r}: a week looks like 2026-W48.", param_hint="--week"
        ) from None
    try:
        made = weekly.make(database, week, settings.time_zone, base_url=settings.base_url)
    except Conflict:
        raise click.ClickException(
            f"{week} is not over yet: its update can be made once it has ended "
            f"(weeks run Monday to Sunday in {settings.time_zone})."
        ) from None
    language = locale or settings.default_locale
    data = made.snapshot.data
    if out is None:
        assert format_ is not None
        sys.stdout.buffer.write(weekly_render.render(data, format_, language, settings.base_url))
        sys.stdout.buffer.flush()
        return
    formats = (format_,) if format_ else weekly.FORMATS
    for path in weekly_render.write_files(data, out, language, settings.base_url, formats):
        click.echo(f"Wrote {path}", err=True)


@main.group("eval")
def evaluate() -> None:
    """Measure the ML components on labelled data."""


def _backend_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--backend",
        type=click.Choice(["onnx", "minilm", "hashing", "tfidf"]),
        default=None,
        help="Embedder (default: EMBEDDING_BACKEND).",
    )(command)


def _labelled(settings: Settings, file: str, backend: str | None) -> tuple[list[Any], Any]:
    """The records of a labelled file and the embedder to measure."""
    from ml.embedders import make_embedder
    from ml.evaluate import load_jsonl

    records = load_jsonl(file)
    if len(records) < 2:
        raise click.ClickException(f"{file}: at least two records are needed.")
    backend = backend or settings.embedding_backend
    params = {"cache_dir": settings.embedding_cache_dir} if backend == "onnx" else {}
    return records, make_embedder(backend, **params)


def _print_metrics(embedder: Any, records: list[Any], metrics: dict[str, Any]) -> None:
    import json

    result = {"backend": embedder.name, "records": len(records), **metrics}
    click.echo(json.dumps(result, indent=2))


@evaluate.command("duplicates")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_backend_option
@click.option("--threshold", type=float, default=None, help="Default: the shipped threshold.")
@click.pass_obj
def evaluate_duplicates(
    settings: Settings, file: str, backend: str | None, threshold: float | None
) -> None:
    """Duplicate-detection metrics of FILE.jsonl ({"id", "title", "description", "group"}),
    with the baselines (BM25 on the title, TF-IDF, the backend's plain cosine) from the same run."""
    from ml.evaluate import evaluate_embedder

    records, embedder = _labelled(settings, file, backend)
    # fits a backend that learns
    _print_metrics(embedder, records, evaluate_embedder(records, embedder, threshold))


@evaluate.command("themes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@_backend_option
@click.pass_obj
def evaluate_themes(settings: Settings, file: str, backend: str | None) -> None:
    """Theme clustering metrics of FILE.jsonl ({"id", "title", "description", "theme"}):
    ARI, NMI, themes found, share unassigned, seconds."""
    from ml.evaluate import evaluate_themes as theme_metrics

    records, embedder = _labelled(settings, file, backend)
    _print_metrics(embedder, records, theme_metrics(records, embedder))


if __name__ == "__main__":
    main()
