"""Data page: upload a file for a baby, see every bad line, ingest and label it, and see what the lake holds."""

from __future__ import annotations

import logging
import zoneinfo
from pathlib import Path

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from sleepmoves.dashboard import state
from sleepmoves.dashboard.components import table
from sleepmoves.dashboard.uploads import analysed, discard, progress_reporter, received, safe_name
from sleepmoves.dashboard.words import age_words
from sleepmoves.ingest import BadInputError, Limits, ingest_file
from sleepmoves.ingest.limits import format_size
from sleepmoves.process import process
from sleepmoves.schema import SleepmovesError
from sleepmoves.wording import counted

log = logging.getLogger("sleepmoves.dashboard")

dash.register_page(__name__, path="/data", name="Data", title="sleepmoves · data", order=2)

ZONES = ["UTC"] + sorted(
    z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
)
LIMIT_HINT = "the dashboard's limits are set with `sleepmoves serve --max-upload-mb / --max-upload-rows`"
MANIFEST_COLUMNS = ["file", "format", "baby", "rows", "nights", "ingested", "sha256"]


def _manifest_rows(lake) -> list[dict]:
    manifest = lake.manifest()
    if manifest.empty:
        return []
    manifest = manifest.sort_values("ingested_at", ascending=False)
    return [
        {
            "file": Path(str(r.path)).name,
            "format": r.format,
            "baby": r.subject,
            "rows": int(r.rows),
            "nights": int(r.nights),
            "ingested": r.ingested_at.strftime("%Y-%m-%d %H:%M UTC"),
            "sha256": r.sha256[:12],
        }
        for r in manifest.itertuples()
    ]


def _baby_rows(lake) -> list[dict]:
    today = pd.Timestamp.now(tz="UTC")
    rows = []
    for row in lake.subjects().itertuples():
        nights = lake.nights(row.subject)
        born = None if pd.isna(row.born) or not str(row.born) else str(row.born)[:10]
        rows.append(
            {
                "baby": row.label or row.subject,
                "age today": age_words(born, str(today.tz_convert(row.tz).date()))
                if born
                else "birth date not given",
                "time zone": row.tz,
                "nights": len(nights),
                "latest night": nights[-1] if nights else "—",
            }
        )
    return rows


def _lake_tables(lake) -> list:
    """The babies (with their age) and the files the lake holds."""
    return [
        html.H3("Babies"),
        table(_baby_rows(lake), ["baby", "age today", "time zone", "nights", "latest night"]),
        html.H3("Files"),
        table(_manifest_rows(lake), MANIFEST_COLUMNS),
    ]


def layout(**_query):
    lake = state.lake()
    subjects = list(lake.subjects()["subject"])
    return html.Div(
        [
            html.H2("Add a file"),
            html.Div(
                [
                    html.Div(
                        [
                            html.Label("Baby", htmlFor="data-subject"),
                            dcc.Dropdown(subjects, subjects[0] if subjects else None, id="data-subject"),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("or a new baby id", htmlFor="data-new-subject"),
                            dcc.Input(id="data-new-subject", placeholder="e.g. ada", debounce=True),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label(
                                "Time zone of the baby / of times without an offset", htmlFor="data-tz"
                            ),
                            # picked from the zones the machine knows (type to search): never a misspelt zone
                            dcc.Dropdown(ZONES, None, id="data-tz", placeholder="type a city, e.g. London"),
                        ]
                    ),
                    html.Div(
                        [
                            html.Label("Born (optional)", htmlFor="data-born"),
                            dcc.Input(id="data-born", placeholder="YYYY-MM-DD", debounce=True),
                        ]
                    ),
                ],
                className="controls",
            ),
            # assets/upload.js takes the file chosen or dropped here and streams it to /upload, after checking its
            # size in the browser; the drop zone itself reads nothing (every file is over its max_size)
            dcc.Upload(
                id="upload",
                children=html.Div(
                    [
                        "Drop a file here or ",
                        html.A("choose one"),
                        f" (up to {format_size(state.max_upload_bytes())})",
                    ]
                ),
                className="upload",
                multiple=False,
                max_size=1,
            ),
            html.Div(
                id="upload-config",
                hidden=True,
                **{
                    "data-limit": str(state.max_upload_bytes()),
                    "data-url": dash.get_relative_path("/upload"),
                },
            ),
            html.Div(id="upload-progress", className="hint"),
            # a video takes minutes to analyse: while its ingest runs, the page asks how far it is each second
            html.Div(id="analysis-progress", className="hint"),
            dcc.Interval(id="analysis-poll", interval=1000),
            dcc.Store(id="upload-accepted"),
            html.Div(id="upload-refused"),
            dcc.Loading(html.Div(id="upload-result")),
            html.H2("What the lake holds"),
            html.Div(_lake_tables(lake), id="manifest"),
        ]
    )


@callback(
    Output("analysis-progress", "children"),
    Input("analysis-poll", "n_intervals"),
    State("upload-accepted", "data"),
    State("analysis-progress", "children"),
    prevent_initial_call=True,
)
def analysis_progress(_n, accepted, shown):
    """How far the uploaded video is analysed (nothing for other files, or for someone else's upload, or once
    the ingest is over). The poll runs all the time the page is open; it answers no_update when there is
    nothing to change (switching the poll on and off around the ingest took two more callbacks on the ingest's
    input and output, and once in a browser test the upload then never showed its result)."""
    token = accepted.get("token") if isinstance(accepted, dict) else None
    name = safe_name(accepted.get("filename") if isinstance(accepted, dict) else None)
    done = analysed(token)
    if done is None:
        return "" if shown else no_update
    seconds, total = done
    share = seconds / total if total else 1.0
    return html.Div(
        [
            html.Span(f"Analysing {name}: {seconds / 3600:.1f} of {total / 3600:.1f} h of video "),
            html.Progress(value=f"{share:.3f}", max="1", id="analysis-bar"),
        ]
    )


@callback(
    Output("upload-result", "children"),
    Output("manifest", "children"),
    Input("upload-accepted", "data"),
    State("data-subject", "value"),
    State("data-new-subject", "value"),
    State("data-tz", "value"),
    State("data-born", "value"),
    prevent_initial_call=True,
)
def upload(accepted, subject, new_subject, tz, born):
    if not accepted:
        return no_update, no_update
    lake = state.lake()
    token = accepted.get("token") if isinstance(accepted, dict) else None
    name = safe_name(accepted.get("filename") if isinstance(accepted, dict) else None)
    limits = Limits(
        max_bytes=state.max_upload_bytes(), max_rows=state.max_upload_rows(), how_to_raise=LIMIT_HINT
    )
    created, landed = None, False  # a baby this upload added is taken out again if the file does not land
    try:
        subject = (new_subject or "").strip() or subject
        if not subject:
            raise SleepmovesError("choose a baby, or type a new baby id and its time zone")
        if subject not in set(lake.subjects()["subject"]):
            lake.check_may_add(subject)
            if not tz:
                raise SleepmovesError(f"{subject} is new: give its time zone (e.g. Europe/London)")
            lake.add_subject(subject, tz.strip(), born=(born or "").strip() or None)
            created = subject
        path = received(token, name)
        report = ingest_file(
            lake,
            path,
            subject,
            tz=(tz or "").strip() or None,
            source_name=name,
            limits=limits,
            video_progress=progress_reporter(token),
        )
        result, landed = report.result, True
        if result.already_ingested:
            done = process(lake, [subject], {subject: result.nights})  # what a killed upload left unlabelled
            finished = f" {len(done)} of its nights were labelled now." if done else ""
            message = [
                html.P(
                    f"{name}: already in the lake (same content), nothing added.{finished}", className="ok"
                )
            ]
        else:
            done = process(lake, [subject], {subject: result.nights})
            message = [
                html.P(
                    f"{name}: {counted(result.rows, 'row')} ({report.format}) over "
                    f"{counted(len(result.nights), 'night')} for {subject}; {counted(len(done), 'night')} labelled.",
                    className="ok",
                )
            ]
            # how the file was read where the parent should know: repeats kept once, damaged blocks, ...
            message += [html.P(note, className="note") for note in report.notes]
    except BadInputError as exc:
        message = [
            html.P(f"{name}: nothing was written. Fix these lines and upload again:", className="error")
        ]
        message += [html.Pre("\n".join(str(e) for e in exc.errors[:50]), className="errors")]
    except SleepmovesError as exc:
        message = [html.P(str(exc), className="error")]
    # a bug of ours: the lake is unchanged (writes are transactions); say so, and log the details
    except Exception:
        log.exception("upload of %s failed", name)
        message = [
            html.P(
                f"{name}: something went wrong on our side and nothing was stored; "
                "the details are in the server's log.",
                className="error",
            )
        ]
    discard(token)  # stored or refused: the received copy goes
    if created and not landed:
        lake.delete_subject(created)  # the file did not land: no empty baby left behind
    return message, _lake_tables(lake)
