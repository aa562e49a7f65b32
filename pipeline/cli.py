"""The ``sleepmoves`` command line. Exit codes: 0 ok, 1 bad input (a message, never a traceback), 2 usage,
3 an unexpected error of ours (a message; ``SLEEPMOVES_DEBUG=1`` shows the traceback)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

# Arrow's default pool (mimalloc) keeps what it frees: storing a 60 MB log's nights one at a time stayed 40 MB more
# resident than with the C library's allocator, which gives it back (benchmarks/run.py, log memory). Read when
# pyarrow loads, so it is set before the imports below; a user's own setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

import pandas as pd  # noqa: E402 - after the pool is chosen

from .lake import Lake, default_lake_path  # noqa: E402
from .motion import HEADS  # noqa: E402
from .progress import progress_hours  # noqa: E402
from .schema import SleepmovesError  # noqa: E402
from .sleepwake import ALGORITHMS  # noqa: E402
from .trends import TREND_METRICS  # noqa: E402
from .wording import counted  # noqa: E402

DEMO_INPUT = Path("data/demo")


def _lake(args) -> Lake:
    return Lake(args.lake) if args.lake else Lake(default_lake_path())


def _say(*parts) -> None:
    print(*parts, flush=True)


def _setting_argument(parser) -> None:
    """The simulator's ``--setting`` (simulate and demo)."""
    parser.add_argument(
        "--setting",
        choices=("realistic", "clean"),
        default="realistic",
        help="how cleanly movement tells the phases apart: realistic (as in real recordings; default) or clean "
        "(a logic test)",
    )


# ---------------------------------------------------------------------- commands
def cmd_simulate(args) -> int:
    from .simulate import write_raw, write_simulation

    summary = write_simulation(
        args.out, babies=args.babies, weeks=args.weeks, seed=args.seed, start=args.start, setting=args.setting
    )
    _say(
        f"simulated {len(summary['babies'])} babies x {args.weeks} weeks: {summary['events']} events, "
        f"{summary['epochs']} labelled epochs -> {args.out}"
    )
    if args.raw:
        files = write_raw(args.out, summary["babies"], args.start, args.weeks)
        _say(
            f"rendered {files} nights of 50-Hz left/right ankle acceleration -> {args.out}/raw/<subject>/<night>.csv.gz"
        )
    return 0


SLEEPWAKE_CHOICES = ("auto", *ALGORITHMS)


def cmd_subject_delete(args) -> int:
    removed = _lake(args).delete_subject(args.id)
    _say(f"subject {args.id} deleted: {removed} files and its manifest rows removed")
    return 0


def cmd_camera_place(args) -> int:
    from .videos import camera_template, found_box, place_camera, preview

    if args.box == "auto":
        if not args.preview:
            raise SleepmovesError(
                "--box auto finds the baby in a video of this camera: give it with --preview"
            )
        box = found_box(args.preview, args.head)
    else:
        try:
            box = [float(v) for v in args.box.split(",")]
        except ValueError:
            raise SleepmovesError(
                f"--box is x0,y0,x1,y1 as fractions of the picture (or auto), not {args.box!r}"
            ) from None
    lake = _lake(args)
    place_camera(lake, args.subject, args.name, box, args.head)
    found = " (found from where she moved: check it in the preview)" if args.box == "auto" else ""
    _say(
        f"camera {args.name} of {args.subject}: the baby within {', '.join(f'{v:g}' for v in box)} of the "
        f"picture{found}, head at the {args.head}; `ingest --camera {args.name}` uses it"
    )
    if args.preview:
        out = preview(args.preview, camera_template(lake, args.subject, args.name), args.out)
        _say(f"the zones drawn on a frame of {Path(args.preview).name}: {out}")
    return 0


def cmd_camera_list(args) -> int:
    from .videos import cameras

    placed = cameras(_lake(args), args.subject)
    if not placed:
        _say(
            f"{args.subject}: no camera placed (videos use the built-in template: on her back, head at the top)"
        )
    for name, where in sorted(placed.items()):
        box = ", ".join(f"{v:g}" for v in where["box"])
        _say(f"{name}: box {box}, head at the {where['head']} (placed {where['placed_at'][:16]})")
    return 0


def cmd_labels_export(args) -> int:
    from .labels import export_labels

    lake = _lake(args)
    subjects = [lake.subject(args.subject)["subject"]] if args.subject else None
    frame = export_labels(lake, subjects, scorer=args.scorer)
    if frame.empty:
        raise SleepmovesError("no scored night to export: score nights on the dashboard's Score page first")
    out = Path(args.out)
    if out.suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False)
    _say(
        f"wrote {len(frame)} labelled epochs ({frame['scorer'].nunique()} scorer(s), {frame['subject'].nunique()} "
        f"baby/babies) to {out}: the train / evaluate format"
    )
    return 0


def cmd_labels_list(args) -> int:
    from .labels import scored_nights

    lake = _lake(args)
    table = scored_nights(lake, [lake.subject(args.subject)["subject"]] if args.subject else None)
    if table.empty:
        _say("no scored night yet")
    for row in table.itertuples():
        _say(f"{row.subject} {row.night}: {row.scorer}, {row.epochs} epochs (last {str(row.scored_at)[:16]})")
    return 0


def cmd_subject_add(args) -> int:
    lake = _lake(args)
    changed = lake.add_subject(args.id, args.tz, born=args.born, label=args.label, sleepwake=args.sleepwake)
    _say(f"subject {args.id} ({args.tz}) {'added' if changed else 'already in the lake'}")
    return 0


def ingest_paths(
    lake: Lake,
    paths,
    subject: str,
    tz=None,
    fmt="auto",
    skip_bad=False,
    limb=None,
    limits=None,
    replace=False,
    sleepwake=None,
    video_start=None,
    camera=None,
) -> list[str]:
    """Ingest files for one subject; prints one line per file; returns the nights touched.

    ``replace``: a file overlapping an earlier file's recording replaces it (else it is refused).
    ``sleepwake``: the algorithm that scores these recordings' counts (stored with them)."""
    from .ingest import Limits, ingest_file
    from .ingest.errors import MAX_ERRORS_SHOWN

    touched: set[str] = set()
    for path in paths:
        report = ingest_file(
            lake,
            path,
            subject,
            tz=tz,
            fmt=fmt,
            skip_bad=skip_bad,
            limb=limb,
            limits=limits or Limits(),
            replace=replace,
            sleepwake=sleepwake,
            video_start=video_start,
            video_progress=progress_hours(f"analysing {Path(path).name}"),
            camera=camera,
        )
        result = report.result
        touched.update(
            result.nights
        )  # a stored file's nights too: any left unlabelled (a killed run) are done
        if result.already_ingested:
            _say(f"{path}: already ingested (same content), nothing added")
            continue
        for earlier in result.replaced:
            _say(f"{path}: replaces {Path(earlier).name} (the same recording), which was removed")
        what = counted(result.rows, "event" if report.format in ("csv", "jsonl") else "row")
        of = "" if report.format in ("csv", "jsonl") else f" of {report.format}"
        _say(f"{path}: {what}{of} over {counted(len(result.nights), 'night')} for {subject}")
        for note in report.notes:  # how the file was read, where the user should know (e.g. --tz applied)
            _say(f"{path}: note: {note}")
        if report.skipped:
            print(f"{path}: skipped {report.skipped_count} bad row(s):", file=sys.stderr)
            for error in report.skipped[:MAX_ERRORS_SHOWN]:
                print(f"  {error}", file=sys.stderr)
            if report.skipped_count > MAX_ERRORS_SHOWN:
                print(f"  ... and {report.skipped_count - MAX_ERRORS_SHOWN} more", file=sys.stderr)
    return sorted(touched)


def cmd_ingest(args) -> int:
    from .ingest import Limits
    from .ingest.limits import MB

    lake = _lake(args)
    if args.max_mb <= 0 or args.max_rows <= 0:
        raise SleepmovesError("--max-mb and --max-rows must be positive")
    limits = Limits(max_bytes=int(args.max_mb * MB), max_rows=args.max_rows)
    touched = ingest_paths(
        lake,
        args.paths,
        args.subject,
        tz=args.tz,
        fmt=args.format,
        skip_bad=args.skip_bad,
        limb=args.limb,
        limits=limits,
        replace=args.replace,
        sleepwake=args.sleepwake,
        video_start=args.video_start,
        camera=args.camera,
    )
    if touched and not args.no_process:
        from .process import process

        done = process(lake, [args.subject], {args.subject: touched}, model_path=args.model)
        _say(
            f"processed {counted(len(done), 'night')}"
            if done
            else "those nights are up to date: nothing to label"
        )
    return 0


def cmd_process(args) -> int:
    from .process import process

    lake = _lake(args)
    subjects = [args.subject] if args.subject else None
    done = process(
        lake,
        subjects,
        model_path=args.model,
        force=args.force,
        scheduler=args.scheduler,
        workers=args.workers,
        sleepwake=args.sleepwake,
    )
    _say(
        f"processed {counted(len(done), 'night')}"
        if done
        else "every night is up to date (inputs and model unchanged)"
    )
    return 0


def cmd_remove_file(args) -> int:
    from .process import finish_pending

    lake = _lake(args)
    name, gone, held = lake.remove_file(args.subject, args.file)
    relabelled = finish_pending(lake) if held and not args.no_process else []
    print(
        f"removed {name} from {args.subject}: {len(gone)} nights left without data were removed, "
        f"{len(held)} nights that hold other data were labelled again ({len(relabelled)} done)"
    )
    return 0


def cmd_check(args) -> int:
    from .integrity import check

    root = Path(args.lake) if args.lake else default_lake_path()
    problems = check(root)
    for p in problems:
        print(f"DAMAGED  {p.where}: {p.what}")
    if problems:
        print(f"sleepmoves check: {len(problems)} damaged; run `sleepmoves repair --lake {root}`")
        return 1
    print(f"sleepmoves check: {root} is sound (every file matches its table log and checksums)")
    return 0


def cmd_repair(args) -> int:
    from .integrity import repair

    root = Path(args.lake) if args.lake else default_lake_path()
    report = repair(root, model_path=args.model)
    for line in report.quarantined:
        print(f"quarantined  {line}")
    for line in report.lost:
        print(f"LOST         {line}")
    for line in report.unrepairable:
        print(f"CANNOT       {line}", file=sys.stderr)
    if report.unrepairable:
        return 1
    print(
        f"sleepmoves repair: {len(report.quarantined)} damaged put aside in {root / '.quarantine'}; "
        f"{report.rebuilt} nights rebuilt from the stored inputs"
    )
    return 0


def cmd_demo(args) -> int:
    from .process import process
    from .simulate import write_simulation

    lake = _lake(args)
    started = dt.datetime.now()
    out = Path(args.input) if args.input else DEMO_INPUT
    write_simulation(out, babies=args.babies, weeks=args.weeks, seed=args.seed, setting=args.setting)
    subjects = pd.read_csv(out / "subjects.csv", dtype=str)
    touched = {}
    for row in subjects.itertuples():
        lake.add_subject(row.subject, row.tz, born=row.born)
        touched[row.subject] = ingest_paths(
            lake, [out / "logs" / f"{row.subject}.csv", out / "diary" / f"{row.subject}.csv"], row.subject
        )
    done = [] if args.no_process else process(lake, list(touched), touched)
    seconds = (dt.datetime.now() - started).total_seconds()
    _say(
        f"demo lake ready at {lake.root}: {len(subjects)} babies, {len(done)} nights processed in {seconds:.1f} s"
    )
    if args.no_serve:
        return 0
    return _serve(lake, args.host, args.port, args.users)


def cmd_train(args) -> int:
    from .evaluate import feature_columns, night_groups
    from .model import PhaseModel

    lake = _lake(args)
    if args.from_lake:
        return _train_from_lake(lake, args)
    if not args.labels or not args.out:
        raise SleepmovesError("say what to learn from: LABELS... --out MODEL, or --from-lake")
    frame = _labelled(lake, args.labels)
    model = PhaseModel(random_state=args.seed)
    model.fit(frame[feature_columns(frame)], frame["phase"], groups=night_groups(frame))
    version = model.save(args.out)
    hmm = "with" if model.use_hmm_ else "without"
    _say(
        f"trained on {len(frame)} epochs of {frame['subject'].nunique()} subjects -> {args.out} ({version}; "
        f"{hmm} HMM smoothing, chosen on held-out nights)"
    )
    return 0


def _train_from_lake(lake: Lake, args) -> int:
    from .learn import train_from_lake
    from .process import process

    report = train_from_lake(lake, scorer=args.scorer, seed=args.seed)
    _say(
        f"trained {report.new_version} on {report.epochs - report.held_out_epochs} scored epochs of "
        f"{len(report.babies) - len(report.held_out)} babies; held out {', '.join(report.held_out)} "
        f"({report.held_out_epochs} epochs) to compare"
    )
    _say(
        f"agreement with the scorers on the held-out babies (Cohen's kappa): new {report.new_kappa:.3f}, "
        f"active {report.active_version} {report.active_kappa:.3f}"
    )
    if not report.replaced:
        _say(
            "the active model stays: the new one is not better on babies it never saw (kept in the lake's models/)"
        )
        return 0
    kept = report.kept or "in the package (the shipped model)"
    _say(f"the new model is now active; the one before is kept: {kept}")
    done = process(lake)
    _say(f"relabelled {len(done)} nights with {report.new_version}")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate_model
    from .model import load_model

    lake = _lake(args)
    model = load_model(args.model)
    version = model.version_
    frame = _labelled(lake, args.labels)
    tables = evaluate_model(frame, model)
    _say(f"model {version} on {len(frame)} labelled epochs of {frame['subject'].nunique()} subjects")
    for name, title in [
        ("summary", "agreement (rules only = the architecture table; the model uses the row marked True)"),
        ("gain", "the model's kappa over the rules baseline's (95 % bootstrap interval over babies)"),
        ("by_age", "Cohen's kappa by age band"),
        ("per_class", "per phase (model)"),
        ("confusion", "confusion (rows true, columns predicted)"),
        ("reliability", "reliability of the most probable phase"),
    ]:
        table = tables[name]
        _say(f"\n{title}:\n" + table.to_string(index=name == "confusion", float_format=lambda v: f"{v:.3f}"))
    if args.csv:
        out = Path(args.csv)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            table.to_csv(out / f"{name}.csv", index=name == "confusion")
        _say(f"\nwrote {', '.join(f'{n}.csv' for n in tables)} to {out}")
    if args.png:
        from sleepmoves.dashboard.export import write_png
        from sleepmoves.dashboard.figures import evaluation_figure

        write_png(evaluation_figure(tables, version), args.png, width=1200, height=560)
        _say(f"wrote {args.png}")
    return 0


def _labelled(lake: Lake, paths) -> pd.DataFrame:
    from .evaluate import read_labels
    from .learn import lake_features

    return lake_features(lake, pd.concat([read_labels(p) for p in paths], ignore_index=True))


def cmd_export(args) -> int:
    import logging

    from sleepmoves.dashboard.export import export_night_png, export_trend_png, export_weeks_png

    # kaleido's browser driver logs its own tracebacks when the browser pipe closes at exit, even after a
    # good image: a failure reaches the user as our one-line message (and exit 1), never as their traceback
    for name in ("choreographer", "kaleido"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    lake = _lake(args)
    ranged = bool(args.first_night or args.last_night)
    if sum((bool(args.night), bool(args.weeks), ranged)) != 1:
        raise SleepmovesError(
            "export needs one of --night YYYY-MM-DD, --weeks W1,W2 (ISO weeks such as 2026-W10) "
            "or --from YYYY-MM-DD --to YYYY-MM-DD (a trend)"
        )
    if args.night:
        export_night_png(lake, args.subject, args.night, args.out, anonymise=args.anonymise)
    elif ranged:
        if not (args.first_night and args.last_night):
            raise SleepmovesError("a trend needs both --from and --to (YYYY-MM-DD)")
        export_trend_png(
            lake,
            args.subject.split(","),
            args.first_night,
            args.last_night,
            args.metric,
            args.out,
            anonymise=args.anonymise,
        )
    else:
        weeks = args.weeks.split(",")
        if len(weeks) != 2:
            raise SleepmovesError(f"--weeks takes two periods separated by a comma, got {args.weeks!r}")
        export_weeks_png(
            lake, args.subject.split(","), weeks[0], weeks[1], args.out, anonymise=args.anonymise
        )
    with open(args.out, "rb") as written:
        if written.read(8) != b"\x89PNG\r\n\x1a\n":
            raise SleepmovesError(f"PNG export failed: {args.out} is not a PNG image")
    _say(f"wrote {args.out}")
    return 0


def cmd_report(args) -> int:
    import logging

    from sleepmoves.dashboard.report import export_report

    for name in ("choreographer", "kaleido"):  # as export: our one-line message, never the driver's traceback
        logging.getLogger(name).setLevel(logging.CRITICAL)
    out = export_report(
        _lake(args), args.subject, args.first_night, args.last_night, args.out, anonymise=args.anonymise
    )
    _say(f"wrote {out}")
    return 0


def cmd_serve(args) -> int:
    return _serve(
        _lake(args),
        args.host,
        args.port,
        args.users,
        args.max_upload_mb,
        args.max_upload_rows,
        args.allowed_host,
    )


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _users_path(value: str | None) -> str | None:
    import os

    return value or os.environ.get("SLEEPMOVES_USERS") or None


def _serve(
    lake: Lake,
    host: str,
    port: int,
    users_path=None,
    max_upload_mb=None,
    max_upload_rows=None,
    allowed_hosts=None,
) -> int:
    from waitress import serve

    from sleepmoves.dashboard.auth import Users

    users_path = _users_path(users_path)
    users = Users.load(users_path) if users_path else None
    if users is not None and not users.users:
        raise SleepmovesError(
            f"{users_path} has no users: add one with `sleepmoves user add NAME --users {users_path}`"
        )
    if host not in LOOPBACK and not host.startswith("127.") and users is None:
        # without a login, a baby's nights must not be served to the network
        raise SleepmovesError(
            f"refusing to serve on {host} without a login: pass --users FILE (made with `sleepmoves user add`) "
            "and put a TLS reverse proxy in front (see README, Data safety); or keep 127.0.0.1 and use an SSH tunnel"
        )
    if max_upload_mb is not None and max_upload_mb <= 0:
        raise SleepmovesError("--max-upload-mb must be a positive number of megabytes")
    if max_upload_rows is not None and max_upload_rows <= 0:
        raise SleepmovesError("--max-upload-rows must be a positive number")

    from sleepmoves.dashboard.app import create_app
    from sleepmoves.dashboard.uploads import clear_uploads

    from .process import finish_pending

    clear_uploads(lake.root)  # uploads a killed server was receiving: never stored, nothing to keep
    if lake.pending():
        _say("labelling the nights an earlier ingest stored but did not finish ...")
        done = finish_pending(lake)
        _say(f"{len(done)} nights labelled")

    # the names requests may use: loopback, the address it binds (when not a wildcard), and a proxy's names
    names = [*(allowed_hosts or ()), *([host] if host not in ("0.0.0.0", "::") else [])]
    app = create_app(
        lake.root,
        users=users,
        max_upload_mb=max_upload_mb,
        max_upload_rows=max_upload_rows,
        allowed_hosts=names,
    )
    login = f"login required ({len(users.users)} users)" if users else "no login: this computer only"
    _say(f"sleepmoves dashboard on http://{host}:{port}/  (lake {lake.root}; {login}; Ctrl+C to stop)")
    # waitress refuses a body over the upload cap before reading it (a request carries the upload base64-encoded:
    # 4/3 of the file, plus the rest), drops idle connections, and bounds how many it holds at once
    body_cap = int((max_upload_mb or 200) * 1024 * 1024 * 4 // 3 + 1024 * 1024)
    serve(
        app.server,
        host=host,
        port=port,
        threads=8,
        ident="",  # no Server header
        _quiet=True,
        max_request_body_size=body_cap,
        channel_timeout=30,
        # idle or half-open connections cost a socket each, not a thread: hold enough that a crowd of them
        # (slowloris) does not fill the table before channel_timeout drops them, within the usual 1024 files
        connection_limit=600,
    )
    return 0


def _required_users_path(args) -> str:
    users_path = _users_path(args.users)
    if not users_path:
        raise SleepmovesError("say which users file: --users FILE (or set SLEEPMOVES_USERS)")
    return users_path


def cmd_user_add(args) -> int:
    import getpass

    from sleepmoves.dashboard.auth import Users

    users_path = _required_users_path(args)
    users = Users.load(users_path, missing_ok=True)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise SleepmovesError("the two passwords differ; nothing changed")
    subjects = None if args.all else [s for s in (args.subjects or "").split(",") if s]
    if subjects is not None and not subjects:
        raise SleepmovesError("say which babies the user sees: --subjects ada,bo (or --all)")
    existed = args.name in users.users
    # a new password keeps the role unless one is given
    clinician = args.role == "clinician" if args.role else existed and users.users[args.name].clinician
    users.set(args.name, password, subjects, clinician=clinician)
    users.save()
    sees = "every baby" if subjects is None else ", ".join(subjects)
    role = "a clinician: scores nights" if clinician else "a parent"
    _say(f"user {args.name} {'updated' if existed else 'added'} in {users_path} (sees {sees}; {role})")
    return 0


def cmd_user_remove(args) -> int:
    from sleepmoves.dashboard.auth import Users

    users_path = _required_users_path(args)
    users = Users.load(users_path)
    users.remove(args.name)
    users.save()
    _say(f"user {args.name} removed from {users_path}")
    return 0


def cmd_user_list(args) -> int:
    from sleepmoves.dashboard.auth import Users

    users_path = _required_users_path(args)
    for user in Users.load(users_path).users.values():
        sees = "every baby" if user.subjects is None else ", ".join(sorted(user.subjects))
        _say(f"{user.name}: {sees}{' (clinician)' if user.clinician else ''}")
    return 0


# ---------------------------------------------------------------------- parser
def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lake", help="lake folder (default $SLEEPMOVES_LAKE or data/lake)")
    parser = argparse.ArgumentParser(
        prog="sleepmoves", description="Infant sleep movements: ingest, label, summarise, view."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "demo", parents=[common], help="simulate babies, ingest, process and serve the dashboard"
    )
    p.add_argument("--babies", type=int, default=3)
    p.add_argument("--weeks", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    _setting_argument(p)
    p.add_argument("--input", help="where to write the simulated files (default data/demo)")
    p.add_argument("--no-serve", action="store_true", help="build the demo lake and stop")
    p.add_argument(
        "--no-process", action="store_true", help="ingest only (for training a model on the cohort)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--users", help="users file: require a login (default $SLEEPMOVES_USERS)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulate", parents=[common], help="write simulated nights (logs, labels, subjects)")
    p.add_argument("--out", required=True)
    p.add_argument("--babies", type=int, default=3)
    p.add_argument("--weeks", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    _setting_argument(p)
    p.add_argument("--start", type=_date, default=None, help="first night (default 2026-03-02)")
    p.add_argument(
        "--raw",
        action="store_true",
        help="also render 50-Hz left and right ankle acceleration (~20 MB a night)",
    )
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("subject", help="manage subjects")
    subsub = p.add_subparsers(dest="action", required=True)
    a = subsub.add_parser("add", parents=[common], help="add a subject (baby) to the lake")
    a.add_argument("id")
    a.add_argument("--tz", required=True, help="IANA time zone, e.g. Europe/London")
    a.add_argument("--born", help="birth date YYYY-MM-DD (lets the model use the age)")
    a.add_argument("--label", help="display name (default: the id)")
    a.add_argument(
        "--sleepwake",
        choices=SLEEPWAKE_CHOICES,
        help="algorithm for this baby's activity counts (default auto: the device software's own)",
    )
    a.set_defaults(func=cmd_subject_add)
    d = subsub.add_parser(
        "delete", parents=[common], help="remove a subject and every file of it from the lake"
    )
    d.add_argument("id")
    d.set_defaults(func=cmd_subject_delete)

    p = sub.add_parser("camera", help="where the baby lies in a camera's picture (for its videos)")
    subsub = p.add_subparsers(dest="camera_command", required=True)
    c = subsub.add_parser("place", parents=[common], help="place the zone template once per baby and camera")
    c.add_argument("name", help="the camera's name, e.g. nursery")
    c.add_argument("--subject", required=True)
    c.add_argument(
        "--box",
        required=True,
        help="x0,y0,x1,y1: the baby from head to feet, arms out, as fractions of the picture (0,0 top left); "
        "auto: found from where she moves in the --preview video's first 20 minutes",
    )
    c.add_argument("--head", default="top", choices=HEADS, help="the side of the picture her head is at")
    c.add_argument("--preview", help="a video of this camera: draw the zones on one of its frames")
    c.add_argument("--out", default="zones.png", help="where --preview writes its PNG (default zones.png)")
    c.set_defaults(func=cmd_camera_place)
    c = subsub.add_parser("list", parents=[common], help="the baby's placed cameras")
    c.add_argument("--subject", required=True)
    c.set_defaults(func=cmd_camera_list)

    p = sub.add_parser("labels", help="people's scoring of nights (the Score page)")
    subsub = p.add_subparsers(dest="labels_command", required=True)
    c = subsub.add_parser(
        "export", parents=[common], help="every stored label, in the train / evaluate format"
    )
    c.add_argument("--out", required=True, help="a .csv or .parquet file")
    c.add_argument("--subject", help="one baby (default: all)")
    c.add_argument("--scorer", help="one scorer (default: all)")
    c.set_defaults(func=cmd_labels_export)
    c = subsub.add_parser("list", parents=[common], help="who scored which nights")
    c.add_argument("--subject", help="one baby (default: all)")
    c.set_defaults(func=cmd_labels_list)

    p = sub.add_parser(
        "ingest", parents=[common], help="ingest files for a subject, then process the nights touched"
    )
    p.add_argument("paths", nargs="+")
    p.add_argument("--subject", required=True)
    p.add_argument("--tz", help="zone of timestamps written without a UTC offset")
    p.add_argument(
        "--format", default="auto", help="auto (default; by content), csv or jsonl (event logs), raw-csv"
    )
    p.add_argument("--limb", help="where a single raw sensor was worn, e.g. left_leg")
    p.add_argument(
        "--start",
        dest="video_start",
        help="when a video began, e.g. 2026-03-02T19:30 (in the baby's zone unless it has an offset); "
        "default: the file's creation time, else its name",
    )
    p.add_argument(
        "--camera",
        help="the camera a video is from, placed with `sleepmoves camera place` (default: default)",
    )
    p.add_argument("--skip-bad", action="store_true", help="store the good rows and list the bad ones")
    p.add_argument(
        "--replace",
        action="store_true",
        help="a file whose recording overlaps an earlier file's (same baby and limb) replaces it",
    )
    p.add_argument(
        "--sleepwake",
        choices=SLEEPWAKE_CHOICES,
        help="algorithm for these recordings' counts, kept with them (default auto: by device)",
    )
    p.add_argument("--no-process", action="store_true", help="store only; run `sleepmoves process` later")
    p.add_argument(
        "--max-mb",
        type=float,
        default=2048,
        help="refuse files (or their decompressed content) over this size",
    )
    p.add_argument("--max-rows", type=int, default=100_000_000, help="refuse files with more rows or samples")
    p.add_argument("--model", help="phase model file (default: the shipped model)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("process", parents=[common], help="(re)build epochs, phases and nights")
    p.add_argument("--subject")
    p.add_argument("--all", action="store_true", help="every subject (the default)")
    p.add_argument("--force", action="store_true", help="redo every night, even unchanged ones")
    p.add_argument("--scheduler", help="address of a Dask scheduler (its workers must see the lake folder)")
    p.add_argument("--workers", type=int, help="run on a local Dask cluster of N worker processes")
    p.add_argument(
        "--sleepwake",
        choices=SLEEPWAKE_CHOICES,
        help="score every recording's counts with this algorithm in this run (over recording and baby)",
    )
    p.add_argument("--model", help="phase model file (default: the shipped model)")
    p.set_defaults(func=cmd_process)

    p = sub.add_parser(
        "train", parents=[common], help="train a phase model on labelled epochs of lake subjects"
    )
    p.add_argument("labels", nargs="*", help="labels files (train / evaluate format); or --from-lake")
    p.add_argument("--out", help="where to save the model trained on LABELS")
    p.add_argument(
        "--from-lake",
        action="store_true",
        help="learn from the nights scored on the Score page; made the lake's active model only when it agrees "
        "better with the scorers on held-out babies",
    )
    p.add_argument("--scorer", help="with --from-lake: one scorer's labels only (default: every scorer's)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[common], help="agreement of a phase model with labelled epochs")
    p.add_argument("labels", nargs="+")
    p.add_argument("--model")
    p.add_argument("--csv", help="folder for the tables as CSV")
    p.add_argument("--png", help="confusion matrix and reliability curve as PNG")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "export", parents=[common], help="one-page PNG of a night, a weeks comparison or a trend over dates"
    )
    p.add_argument("--subject", required=True, help="a subject id (several, comma-separated, for --weeks)")
    p.add_argument("--night")
    p.add_argument("--weeks", help="two ISO weeks (2026-W10,2026-W12) or ranges (START..END,START..END)")
    p.add_argument(
        "--from", dest="first_night", help="a trend from this night (YYYY-MM-DD; at most a year with --to)"
    )
    p.add_argument("--to", dest="last_night", help="a trend to this night (YYYY-MM-DD)")
    p.add_argument(
        "--metric",
        default="sleep_24h_min",
        choices=list(TREND_METRICS),
        help="what the trend follows (default: sleep in 24 hours)",
    )
    p.add_argument("--out", required=True)
    p.add_argument(
        "--anonymise", action="store_true", help="show Baby A, Baby B... instead of the babies' names and ids"
    )
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "report", parents=[common], help="a baby's visit report over a range of nights (PDF, or one PNG)"
    )
    p.add_argument("--subject", required=True, help="the baby's id")
    p.add_argument("--from", dest="first_night", required=True, help="first night (YYYY-MM-DD)")
    p.add_argument(
        "--to", dest="last_night", required=True, help="last night (YYYY-MM-DD; at most a year after --from)"
    )
    p.add_argument(
        "--out", required=True, help="report.pdf (a page each) or report.png (the pages in one image)"
    )
    p.add_argument("--anonymise", action="store_true", help="show Baby A instead of the baby's name and id")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "remove-file",
        parents=[common],
        help="take one stored file (its sha256 or name) and all its rows out of a baby's data",
    )
    p.add_argument("file", help="the file's sha256 (8 or more hex digits) or its file name")
    p.add_argument("--subject", required=True, help="the baby it was ingested for")
    p.add_argument("--no-process", action="store_true", help="do not label the affected nights again now")
    p.set_defaults(func=cmd_remove_file)

    p = sub.add_parser(
        "check", parents=[common], help="verify every stored file against its table log; exit 1 on damage"
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "repair",
        parents=[common],
        help="put damaged files aside, say what input was lost, rebuild epochs, phases and nights",
    )
    p.add_argument("--model", default=None, help="phase model (default: the shipped one)")
    p.set_defaults(func=cmd_repair)

    p = sub.add_parser("serve", parents=[common], help="serve the dashboard")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (other than 127.0.0.1 needs --users)"
    )
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--users", help="users file: require a login (default $SLEEPMOVES_USERS)")
    p.add_argument("--max-upload-mb", type=int, help="largest file the Data page accepts (default 200)")
    p.add_argument(
        "--max-upload-rows",
        type=int,
        help="most rows or samples in a file the Data page accepts (default 100 M)",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        help="a host name browsers may use to reach it besides 127.0.0.1/localhost (a proxy's; repeatable)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("user", help="manage dashboard logins (a users file of salted password hashes)")
    subsub = p.add_subparsers(dest="action", required=True)
    a = subsub.add_parser("add", help="add a user or change their password and babies")
    a.add_argument("name")
    a.add_argument("--users", help="users file (default $SLEEPMOVES_USERS)")
    who = a.add_mutually_exclusive_group(required=True)
    who.add_argument("--subjects", help="comma-separated baby ids this user sees")
    who.add_argument("--all", action="store_true", help="the user sees (and may add) every baby")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    role = a.add_mutually_exclusive_group()
    role.add_argument(
        "--clinician",
        dest="role",
        action="store_const",
        const="clinician",
        help="the user may also score nights (the Score page)",
    )
    role.add_argument(
        "--parent",
        dest="role",
        action="store_const",
        const="parent",
        help="the user does not score (the default)",
    )
    a.set_defaults(func=cmd_user_add)
    r = subsub.add_parser("remove", help="remove a user")
    r.add_argument("name")
    r.add_argument("--users", help="users file (default $SLEEPMOVES_USERS)")
    r.set_defaults(func=cmd_user_remove)
    li = subsub.add_parser("list", help="list users and the babies each sees")
    li.add_argument("--users", help="users file (default $SLEEPMOVES_USERS)")
    li.set_defaults(func=cmd_user_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    # a baby's data is for its owner only: every file and folder sleepmoves writes is 0600 / 0700
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "start", "absent") is None:
        from .simulate import DEFAULT_START

        args.start = DEFAULT_START
    try:
        return args.func(args)
    except SleepmovesError as exc:
        print(f"sleepmoves: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except (
        Exception
    ) as exc:  # a bug of ours: no traceback for the user (writes are transactions: nothing half-done)
        import os

        if os.environ.get("SLEEPMOVES_DEBUG"):
            raise
        print(
            f"sleepmoves: unexpected error ({type(exc).__name__}: {str(exc)[:200]}); nothing was half-written. "
            "Run again with SLEEPMOVES_DEBUG=1 to see the details, and please report them.",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
