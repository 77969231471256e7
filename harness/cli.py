"""The `shiftwork` command. Settings are built here and passed down; logging is configured once here."""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from grader.errors import ShiftworkError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="shiftwork: take-home exercises graded on shifted traffic")
scenarios_app = typer.Typer(no_args_is_help=True, help="Held-back scenarios: calibration")
app.add_typer(scenarios_app, name="scenarios")

err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger(__name__)


@app.callback()
def _root(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
def data(
    exercise: str = typer.Argument(..., help="Exercise id, e.g. support-triage"),
    seed: int = typer.Option(7, help="Seed (ignored when --candidate is given: the seed is derived)"),
    out: Path = typer.Option(..., help="Folder to write into"),
    candidate: Optional[str] = typer.Option(None, help="Candidate id: derive the per-candidate seed"),
    heldout: bool = typer.Option(False, "--heldout", help="Also write held-back scenario traffic and its ground truth"),
) -> None:
    """Write training data (train.csv) and a data dictionary; --heldout adds scenario traffic."""
    from harness.datacmd import write_data

    write_data(exercise, seed=seed, out=out, candidate=candidate, heldout=heldout, console=err)


@app.command()
def solution(
    exercise: str = typer.Argument(..., help="Exercise id, e.g. support-triage"),
    name: str = typer.Argument(..., help="starter, or a folder under solutions/ (reference, accuracy-only, robust-demo)"),
    out: Path = typer.Option(..., help="Folder to write the runnable submission into"),
    seed: int = typer.Option(7, help="Seed of the training data it gets"),
) -> None:
    """Write a shipped solution with its training data, ready to grade (shipped solutions carry no data)."""
    from harness.solutions import materialize_solution

    dest = materialize_solution(exercise, name, out, seed=seed)
    err.print(f"wrote {exercise}/{name} with data/train.csv (seed {seed}) to {dest}; grade it with "
              f"`make grade SUBMISSION={dest} EXERCISE={exercise}`", highlight=False, markup=False)


@scenarios_app.command("check")
def scenarios_check(
    exercise: str = typer.Argument(..., help="Exercise id"),
    windows: int = typer.Option(40, help="Simulated windows per phase"),
    seed: int = typer.Option(7, help="Seed of the simulation"),
    ship: bool = typer.Option(False, "--ship", help="Also write the report to calibration/, where the checkout "
                              "ships it (so no grading calibrates; `make calibration`)"),
) -> None:
    """Simulate every scenario with the calibrated reference detector and evidently; fail when unfair."""
    from harness.calibration_render import check_command

    check_command(exercise, windows=windows, seed=seed, console=Console(), write_shipped=ship)


@app.command()
def grade(
    submission: Optional[str] = typer.Argument(None, help="Folder, .zip, .tar.gz or git URL of one submission"),
    exercise: Optional[str] = typer.Option(None, help="Exercise id (default: from the submission's .exercise.json)"),
    out: Optional[Path] = typer.Option(None, help="Report folder (default: reports/<submission name>/)"),
    runtime: str = typer.Option("auto", help="auto (Docker; an error without an engine) | docker | "
                                "local (runs the submission as a plain process: NOT isolated)"),
    submissions: Optional[Path] = typer.Option(None, help="Grade every submission in this folder; writes a cohort table"),
    seed: Optional[int] = typer.Option(None, help="Traffic seed for a submission without a valid token "
                                       "(default: a random one per run)"),
    allow_bad_token: bool = typer.Option(False, help="Grade a submission whose token fails, flagging the report "
                                         "(its seed never comes from the unverified candidate id)"),
    allow_local_git: bool = typer.Option(False, help="Allow file:// and local-path git repositories "
                                         "(refused by default: a local path can name the grader's own files)"),
) -> None:
    """Grade a submission: build, run, replay held-back traffic, write report.json/.md/.html.

    With SHIFTWORK_BROKER_URL (and SHIFTWORK_DATABASE_URL) set, --submissions goes through the
    grading queue: the workers grade, this command waits and writes the table."""
    from harness.cohort import grade_command

    if submissions is not None and not submission and os.environ.get("SHIFTWORK_BROKER_URL"):
        from harness.queue.cohort import grade_cohort_via_queue

        if runtime not in ("auto", "docker"):
            raise typer.BadParameter("workers grade in Docker: --runtime local cannot go through the queue "
                                     "(unset SHIFTWORK_BROKER_URL to grade here)", param_hint="--runtime")
        raise typer.Exit(grade_cohort_via_queue(submissions, exercise=exercise, out=out, console=Console()))

    code = grade_command(
        submission=submission, submissions=submissions, exercise=exercise, out=out,
        runtime=runtime, seed=seed, allow_bad_token=allow_bad_token, console=Console(),
        allow_local_git=allow_local_git,
    )
    raise typer.Exit(code)


@app.command()
def package(
    exercise: str = typer.Argument(..., help="Exercise id"),
    candidate: str = typer.Option(..., help="Candidate id"),
    out: Path = typer.Option(Path("bundles"), help="Folder to write the bundle into"),
) -> None:
    """Write a per-candidate exercise repository (one git commit) and a .zip of it."""
    from harness.bundle import package_command

    package_command(exercise, candidate=candidate, out=out, console=err)


@app.command()
def check(
    path: Path = typer.Argument(Path("."), help="The exercise repository (bundle) to check"),
    runtime: str = typer.Option("auto", help="auto | docker | local"),
) -> None:
    """Public self-check: run your service against the public scenario and print each check."""
    from harness.selfcheck import check_command

    raise typer.Exit(check_command(path, runtime=runtime, console=Console()))


@app.command()
def openapi(out: Path = typer.Option(..., help="File to write contract v1's OpenAPI JSON to")) -> None:
    """Write contract v1 as OpenAPI (built from the contract models)."""
    from grader.openapi import render_openapi

    out.write_text(render_openapi())


@app.command("base-image")
def base_image(
    name: str = typer.Option("shiftwork/base:py311", help="Image name to build"),
    exercise: str = typer.Option("support-triage", help="Exercise whose runtime requirements go in"),
) -> None:
    """Build the offline base image (debootstrap + wheelhouse) graders use when python:3.11-slim cannot be pulled."""
    from harness.runtime.images import build_base_image

    build_base_image(name=name, exercise=exercise, console=err)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (keep 127.0.0.1 unless run networks are "
                             "firewalled from the host)"),
    port: int = typer.Option(8080, help="Port to listen on"),
    data: Path = typer.Option(Path("shiftwork-data"), help="Data folder: SQLite database, bundles, uploads, reports"),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="Start the embedded grading worker "
                                "(--no-worker when `shiftwork worker` runs elsewhere)"),
    public_url: str = typer.Option("", envvar="SHIFTWORK_PUBLIC_URL", help="The address candidates and "
                                   "recruiters use, e.g. https://hiring.example.com: every link starts with it "
                                   "(default: http://HOST:PORT)"),
    secure_cookies: Optional[bool] = typer.Option(None, "--secure-cookies/--no-secure-cookies",
                                                  envvar="SHIFTWORK_COOKIE_SECURE", show_default=False,
                                                  help="Send session cookies over HTTPS only (default: on when "
                                                  "the public URL is https://)"),
    forwarded_allow_ips: str = typer.Option("", envvar="SHIFTWORK_FORWARDED_ALLOW_IPS",
                                            help="Addresses of the reverse proxy in front (comma-separated, e.g. "
                                            "127.0.0.1): their X-Forwarded-For/-Proto give the real client's "
                                            "address and scheme (default: none believed)"),
    smtp_host: str = typer.Option("", envvar="SHIFTWORK_SMTP_HOST", help="SMTP server for the app's e-mail "
                                  "(invite links, reminders, graded notices); none: no e-mail is sent"),
    smtp_port: Optional[int] = typer.Option(None, envvar="SHIFTWORK_SMTP_PORT", show_default=False,
                                            help="SMTP port (default: 587 starttls, 465 tls, 25 none)"),
    smtp_security: str = typer.Option("starttls", envvar="SHIFTWORK_SMTP_SECURITY",
                                      help="starttls, tls (implicit TLS) or none (a relay on this machine)"),
    smtp_user: str = typer.Option("", envvar="SHIFTWORK_SMTP_USER", help="SMTP login (none: no login)"),
    smtp_password_file: str = typer.Option("", envvar="SHIFTWORK_SMTP_PASSWORD_FILE",
                                           help="A file holding the SMTP password (or set SHIFTWORK_SMTP_PASSWORD; "
                                           "never on the command line)"),
    smtp_from: str = typer.Option("", envvar="SHIFTWORK_SMTP_FROM", help="From address of the app's e-mail"),
    reminder_before_h: float = typer.Option(24.0, envvar="SHIFTWORK_REMINDER_BEFORE_H",
                                            help="E-mail candidates a reminder this many hours before their "
                                            "deadline (0: no reminders)"),
    webhook_allowed_host: list[str] = typer.Option([], "--webhook-allowed-host",
                                                   help="A host (or host:port) webhooks may reach over http:// "
                                                   "or on a private address (repeat; default: https:// to "
                                                   "public addresses only). Env: SHIFTWORK_WEBHOOK_ALLOWED_HOSTS"),
    greenhouse_path: str = typer.Option("/greenhouse", envvar="SHIFTWORK_GREENHOUSE_PATH",
                                        help="Where the Greenhouse assessment partner endpoints live "
                                        "(list_tests, send_test, test_status)"),
) -> None:
    """Run the web app (recruiter pages, candidate links, JSON API) with an embedded grading worker.

    Behind a TLS proxy: --public-url https://your.host --forwarded-allow-ips PROXY_ADDRESS (docs/web.md).
    E-mail, webhooks and Greenhouse: docs/integrations.md."""
    import os

    from harness.store.settings import smtp_from_env
    from harness.web.serve import serve as run

    smtp_env = {k: v for k, v in {
        "SHIFTWORK_SMTP_HOST": smtp_host, "SHIFTWORK_SMTP_PORT": str(smtp_port or ""),
        "SHIFTWORK_SMTP_SECURITY": smtp_security, "SHIFTWORK_SMTP_USER": smtp_user,
        "SHIFTWORK_SMTP_PASSWORD": os.environ.get("SHIFTWORK_SMTP_PASSWORD", ""),
        "SHIFTWORK_SMTP_PASSWORD_FILE": smtp_password_file, "SHIFTWORK_SMTP_FROM": smtp_from}.items() if v}
    allowed = tuple(h.strip().lower() for h in webhook_allowed_host if h.strip()) or tuple(
        h.strip().lower() for h in os.environ.get("SHIFTWORK_WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip())
    run(data, host=host, port=port, console=err, worker=worker, public_url=public_url,
        secure_cookies=secure_cookies, forwarded_allow_ips=forwarded_allow_ips,
        smtp=smtp_from_env(smtp_env), reminder_before_h=reminder_before_h, webhook_allowed_hosts=allowed,
        greenhouse_path=greenhouse_path)


admin_app = typer.Typer(no_args_is_help=True, help="Recruiter accounts and API tokens of the web app")
app.add_typer(admin_app, name="admin")


@admin_app.command("encryption-key")
def admin_encryption_key() -> None:
    """Print a new encryption key for SHIFTWORK_ENCRYPTION_KEY (give the app and every worker the same one;
    without it, `serve` makes one in its data folder)."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())


@admin_app.command("create-user")
def admin_create_user(
    email: str = typer.Argument(..., help="The recruiter's e-mail (their login)"),
    name: str = typer.Option("", help="Display name"),
    admin: Optional[bool] = typer.Option(None, "--admin/--no-admin", help="Administrator (default: only the first account)"),
    team: list[str] = typer.Option([], "--team", help="A team the recruiter belongs to (repeat for several; "
                                   "created if new); they see only their teams' invites. Default: the default team"),
    role: str = typer.Option("recruiter", help="recruiter (invites, decisions) or interviewer (fills scorecards "
                             "on the invites a recruiter assigns them)"),
    data: Path = typer.Option(Path("shiftwork-data"), help="Data folder of `shiftwork serve`"),
) -> None:
    """Create a recruiter or interviewer account; the password is prompted for (or read from SHIFTWORK_ADMIN_PASSWORD)."""
    from harness.web.admin_cli import create_user_command

    create_user_command(data, email, name=name, admin=admin, teams=team or None, console=err, role=role)


@admin_app.command("team-add")
def admin_team_add(
    email: str = typer.Argument(..., help="The recruiter's e-mail"),
    team: str = typer.Argument(..., help="The team (created if new)"),
    data: Path = typer.Option(Path("shiftwork-data"), help="Data folder of `shiftwork serve`"),
) -> None:
    """Add a recruiter to a team: they then see that team's invites, uploads, reports and cohorts."""
    from harness.web.admin_cli import team_add_command

    team_add_command(data, email, team, console=err)


@admin_app.command("token")
def admin_token(
    email: str = typer.Argument(..., help="The recruiter the token acts as"),
    name: str = typer.Option("", help="What the token is for (e.g. the tracking system's name)"),
    data: Path = typer.Option(Path("shiftwork-data"), help="Data folder of `shiftwork serve`"),
) -> None:
    """Print a new API token (swt_...) once; only its hash is stored."""
    from harness.web.admin_cli import token_command

    token_command(data, email, name=name, console=err)


@admin_app.command("partner-key")
def admin_partner_key(
    team: str = typer.Option(..., "--team", help="The organisation's team: invites Greenhouse sends belong to it"),
    name: str = typer.Option("", help="What the key is for (e.g. Greenhouse production)"),
    data: Path = typer.Option(Path("shiftwork-data"), help="Data folder of `shiftwork serve`"),
) -> None:
    """Print a new Greenhouse partner key once (Greenhouse sends it as the HTTP Basic username)."""
    from harness.web.admin_cli import partner_key_command

    partner_key_command(data, team, name=name, console=err)


@admin_app.command("partner-keys")
def admin_partner_keys(
    data: Path = typer.Option(Path("shiftwork-data"), help="Data folder of `shiftwork serve`"),
) -> None:
    """List the Greenhouse partner keys (redacted): id, team, state, when made and last used."""
    from harness.web.admin_cli import partner_keys_command

    partner_keys_command(data, console=err)


@admin_app.command("partner-key-revoke")
def admin_partner_key_revoke(
    key_id: int = typer.Argument(..., help="The key's id (`shiftwork admin partner-keys`)"),
    data: Path = typer.Option(Path("shiftwork-data"), help="Data folder of `shiftwork serve`"),
) -> None:
    """Revoke a Greenhouse partner key: calls made with it are refused from now on."""
    from harness.web.admin_cli import partner_key_revoke_command

    partner_key_revoke_command(data, key_id, console=err)



# -- `shiftwork worker` (the grading queue) ---------------------------------------------------
@app.command()
def worker(
    data: Path = typer.Option(Path("shiftwork-data"), help="Data folder (the one `serve` uses, or any folder "
                              "with the same SHIFTWORK_DATABASE_URL and SHIFTWORK_BROKER_URL)"),
    name: Optional[str] = typer.Option(None, help="Worker name on the admin page (default: host:pid)"),
) -> None:
    """Run one grading worker in the foreground: grades queued jobs in Docker, one at a time."""
    from harness.queue.embedded import run_foreground
    from harness.store.db import make_engine, migrate
    from harness.store.settings import build_settings

    logging.getLogger("harness.queue").setLevel(logging.INFO)
    settings = build_settings(data)
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)  # idempotent; a worker started first on a fresh data folder finds its tables
    finally:
        engine.dispose()
    err.print(f"worker on {settings.data_dir} (broker {settings.broker_url.split('@')[-1]}); Ctrl-C stops it",
              highlight=False, markup=False)
    raise typer.Exit(run_foreground(settings, name))


exercise_app = typer.Typer(no_args_is_help=True, help="Exercises: write a new one from your own table")
app.add_typer(exercise_app, name="exercise")


@exercise_app.command("new")
def exercise_new(
    exercise_id: str = typer.Argument(..., metavar="ID", help="The new exercise's id, e.g. crash-survival"),
    table: Path = typer.Option(..., "--from", help="Your table: a CSV file (.csv or .csv.gz), read here only"),
    target: str = typer.Option(..., help="The column to predict"),
    group: list[str] = typer.Option([], help="A column whose groups are watched on their own (repeatable)"),
    time: Optional[str] = typer.Option(None, help="A date/time column (default: rows spread over six months)"),
    id_column: Optional[str] = typer.Option(None, "--id", help="The column identifying a row (never a feature)"),
    keep: list[str] = typer.Option([], help="Keep a column found to leak the target (repeatable)"),
    task: Optional[str] = typer.Option(None, help="classification or regression (default: read from the target)"),
    title: str = typer.Option("", help="One line saying what is predicted"),
    licence: str = typer.Option("", help="Where the table comes from and its licence (written to the README)"),
    citation: str = typer.Option("", help="How to cite the table"),
    force: bool = typer.Option(False, "--force", help="Write over an exercise of the same id"),
) -> None:
    """Turn a table into an exercise: infer its schema, leave out personal data and leaks, propose and calibrate
    scenarios; writes datasets/ID, exercises/ID and calibration/."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from harness.authoring import Authoring, new_dataset, new_exercise
    from harness.authoring.report import print_schema, print_tuned

    if task not in (None, "classification", "regression"):
        raise typer.BadParameter("classification or regression", param_hint="--task")
    ask = Authoring(exercise_id=exercise_id, table=table, target=target, groups=group, time=time,
                    id_column=id_column, keep=keep, task=task, title=title, licence=licence, citation=citation)
    data = new_dataset(ask, force=force)
    print_schema(err, data.schema)
    err.print(f"wrote {data.folder} (the table's kept columns, recipe.toml, README.md); the engine generated "
              f"{data.sample_rows} records from it", highlight=False, markup=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("calibrating the proposed scenarios", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=f"calibrating: {label}")

        written = new_exercise(ask, data, progress=progress,
                               say=lambda line: bar.console.print(line, highlight=False, markup=False))
    print_tuned(err, written)


# The top-level module of each package an extra brings (pyproject.toml), and that extra.
EXTRA_OF = {**dict.fromkeys(("sqlalchemy", "alembic", "psycopg", "celery", "kombu", "redis"), "queue"),
            **dict.fromkeys(("argon2", "itsdangerous", "multipart", "python_multipart", "dulwich"), "web"),
            "tomlkit": "author"}


def _missing_extra(exc: BaseException) -> str | None:
    """The extra to install when `exc` is a package of one missing (the base install grades and self-checks)."""
    if not isinstance(exc, ModuleNotFoundError):
        return None
    extra = EXTRA_OF.get((exc.name or "").split(".")[0])
    if extra == "queue" and sys.argv[1:2] in (["serve"], ["admin"]):
        return "web"  # the web app needs the queue's packages and its own
    return extra


def _one_line(text: str) -> str:
    return " ".join(text.split())[:2000]


def main() -> None:
    from rich.markup import escape

    try:
        app()
    except ShiftworkError as exc:
        # The message may quote a candidate's file names or Dockerfile words: never read it as markup.
        err.print(f"[bold red]error:[/] {escape(_one_line(str(exc)))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except RecursionError as exc:
        log.debug("recursion", exc_info=True)
        err.print(f"[bold red]error:[/] input nested too deeply: {escape(_one_line(str(exc)))}", highlight=False)
        sys.exit(1)
    except Exception as exc:  # a fault of ours: one line; the traceback with --verbose
        log.debug("unexpected error", exc_info=True)
        extra = _missing_extra(exc)
        if extra:
            err.print(f"[bold red]error:[/] this command needs shiftwork's {extra} extra "
                      f"({getattr(exc, 'name', '')} is not installed): pip install 'shiftwork[{extra}]'", highlight=False)
            sys.exit(2)
        err.print(f"[bold red]error:[/] internal error: {type(exc).__name__}: {escape(_one_line(str(exc)))} "
                  "(run with -v for the traceback)", highlight=False)
        sys.exit(1)
