"""``outreach ml ...``: train the send-time model, explain a patient's best hour, and measure the
model against the synthetic clinic's planted truth."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Annotated, Any

import typer

from outreach.cli.app import load_settings

app = typer.Typer(
    name="ml",
    help="The send-time model (best hour) and fatigue scores.",
    no_args_is_help=True,
)


def _figure(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _hours(window: timedelta) -> str:
    return f"{window.total_seconds() / 3600:g}"


@app.command("train")
def train_command(
    url: Annotated[str | None, typer.Option(help="Database URL (default: settings).")] = None,
) -> None:
    """Train a best-hour model on the training window, promote it if it does no worse on the
    held-out sends than the model in use, then give every patient the best hour of the model in
    use and a fresh fatigue score (what the scheduler does nightly)."""
    from outreach import wiring
    from outreach.services.assign_send_times import assign_send_times
    from outreach.services.train_send_time_model import train_send_time_model
    from outreach.sql.engine import build_engine
    from outreach.sql.store import Store

    settings = load_settings()
    engine = build_engine(url or settings.resolved_database_url())
    store = Store(engine)
    now = wiring.clock(settings)()
    learning = wiring.send_time_learning(settings)
    try:
        report = train_send_time_model(store, now, learning)
        assigned = assign_send_times(store, now, learning, wiring.fatigue_policy(settings))
    finally:
        engine.dispose()
    if report.version is None:
        typer.echo(f"no model trained: {report.reason}")
    else:
        metrics = report.metrics
        typer.echo(
            f"best_hour model version {report.version}: "
            f"{'promoted' if report.promoted else 'not promoted'} ({report.reason})"
        )
        typer.echo(
            f"  trained on {metrics['training_sends']} sends, judged on "
            f"{metrics['heldout_sends']} held-out sends of {metrics['patients']} patients"
        )
        typer.echo(
            f"  held-out policy value {_figure(metrics['heldout_policy_value'])} "
            f"(cohort prior alone {_figure(metrics['cohort_prior_policy_value'])}, "
            f"everyone at {metrics['population_hour']}:00 "
            f"{_figure(metrics['population_hour_policy_value'])}); "
            f"log loss {_figure(metrics['heldout_log_loss'])}"
        )
    typer.echo(f"model in use: {_figure(report.active_version)}")
    typer.echo(
        f"best hours assigned: {assigned.patients} patients "
        f"({assigned.from_history} from their own history, {assigned.from_cohort} from their "
        f"cohort); fatigued: {assigned.fatigued}"
    )


@app.command("show")
def show_command(
    patient_id: Annotated[str, typer.Argument(help="The patient's id.")],
    url: Annotated[str | None, typer.Option(help="Database URL (default: settings).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Explain a patient's best hour and fatigue score: value, where it came from, how sure."""
    from outreach.ml.registry import BEST_HOUR_MODEL
    from outreach.sql.engine import build_engine
    from outreach.sql.store import Store

    settings = load_settings()
    engine = build_engine(url or settings.resolved_database_url())
    try:
        with Store(engine).reading() as repos:
            profile = repos.engagement.send_time_profile(patient_id)
            active = repos.models.active(BEST_HOUR_MODEL)
    finally:
        engine.dispose()
    if profile is None:
        typer.echo(f"error: no preferences stored for patient {patient_id}", err=True)
        raise typer.Exit(code=1)
    fatigued = (
        profile.fatigue_score is not None and profile.fatigue_score >= settings.ml_fatigue_threshold
    )
    figures = {
        "patient_id": patient_id,
        "best_hour": profile.best_hour,
        "source": profile.source,
        "model_version": profile.model_version,
        "confidence": profile.confidence,
        "interactions": profile.interactions,
        "learnt_at": profile.learnt_at.isoformat() if profile.learnt_at else None,
        "fatigue_score": profile.fatigue_score,
        "fatigue_threshold": settings.ml_fatigue_threshold,
        "fatigued": fatigued,
        "model_in_use": active.version if active is not None else None,
    }
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    if profile.best_hour is None:
        typer.echo(f"patient {patient_id}: no best hour yet (messages go at the default time)")
    else:
        origin = (
            f"their own history of {profile.interactions} message(s)"
            if profile.source == "model"
            else "their cohort (age band, channel, language, region): no history of theirs yet"
        )
        typer.echo(
            f"patient {patient_id}: best hour {profile.best_hour:02d}:00 local, from {origin}, "
            f"model version {profile.model_version}, learnt {figures['learnt_at']}"
        )
        typer.echo(
            f"  confidence {_figure(profile.confidence, 2)}: the chance the true best hour is "
            "within an hour of it"
        )
        typer.echo(
            "  used only for flexible messages, only inside the allowed hours and before the "
            "deadline"
        )
    typer.echo(
        f"fatigue score {_figure(profile.fatigue_score, 2)} (threshold "
        f"{settings.ml_fatigue_threshold}): "
        + (
            f"fatigued, marketing capped at {settings.ml_fatigued_marketing_max_per_day}/day and "
            f"{settings.ml_fatigued_marketing_max_per_week}/week; transactional messages unchanged"
            if fatigued
            else "not fatigued"
        )
    )
    typer.echo(f"model in use: {_figure(figures['model_in_use'])}")


@app.command("evaluate")
def evaluate_command(
    patients: Annotated[int, typer.Option(help="Synthetic patients.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    exploration: Annotated[
        float, typer.Option(help="Share of flexible sends at a random allowed hour.")
    ] = 0.10,
    flexible_share: Annotated[
        float, typer.Option(help="Share of messages the model may time (flexible purposes).")
    ] = 0.35,
    max_weight: Annotated[float, typer.Option(help="Cap on inverse-propensity weights.")] = 3.0,
    max_history: Annotated[int, typer.Option(help="Most past messages of one patient.")] = 60,
) -> None:
    """Measure the best-hour model on a simulated experiment with a hold-out.

    Trains on a synthetic clinic's simulated past (the planted preferred hours reach the model
    only through simulated engagement), then reports the share of patients whose learnt best
    hour is within an hour of the planted one by number of past messages, and the engagement of
    hold-out sends at the learnt hour against 10:00 and against the population's best hour.
    """
    from outreach.sim.send_time_experiment import ExperimentOptions, run_send_time_experiment

    options = ExperimentOptions(
        patients=patients,
        seed=seed,
        exploration_share=exploration,
        flexible_share=flexible_share,
        max_weight=max_weight,
        max_history=max_history,
    )
    report = run_send_time_experiment(options)
    metrics = report.model_metrics
    typer.echo(
        f"synthetic clinic: {patients} patients (seed {seed}), {report.past_sends} messages in "
        f"the past half year; flexible share {flexible_share:.0%}, exploration "
        f"{exploration:.0%}, weights capped at {max_weight:g}"
    )
    typer.echo(
        f"model: kernel {metrics['bandwidth_hours']} h, prior strength "
        f"{metrics['prior_strength']}, later-engagement weight {metrics['later_weight']}; "
        f"held-out policy value {_figure(metrics['heldout_policy_value'])} vs cohort prior "
        f"{_figure(metrics['cohort_prior_policy_value'])}"
    )
    typer.echo("")
    typer.echo("learning curve: learnt best hour within 1 h of the planted one")
    typer.echo(f"  {'past messages':>13}  {'patients':>8}  {'within 1 h':>10}  {'confidence':>10}")
    for row in report.learning_curve:
        typer.echo(
            f"  {row.label:>13}  {row.patients:>8}  {_figure(row.within_one_hour, 3):>10}  "
            f"{_figure(row.mean_confidence, 3):>10}"
        )
    typer.echo("")
    typer.echo(
        f"hold-out: {options.holdout_sends_per_arm} future messages per patient per arm, "
        "engagement drawn from the planted truth (engaged: within "
        f"{_hours(options.engagement_window)} h; prompt: within {_hours(options.prompt_window)} h)"
    )
    names = {
        "fixed": "everyone at 10:00",
        "population": f"everyone at {report.population_best_hour}:00 (population's best)",
        "model": "each at their learnt best hour",
    }
    for arm in report.arms:
        typer.echo(
            f"  {names[arm.name]:<42} {arm.sends:>8} sent  {arm.rate:6.1%} engaged  "
            f"{arm.prompt_rate:6.1%} prompt"
        )
    model = report.arm("model")
    typer.echo(
        f"  prompt engagement lift: {model.prompt_lift_over(report.arm('fixed')):+.1f} % over "
        f"10:00, {model.prompt_lift_over(report.arm('population')):+.1f} % over the population's "
        "best hour"
    )
    typer.echo("")
    typer.echo(f"best_hour_lift_over_population_hour: {report.lift_over_population_hour:.1f} %")
    typer.echo(f"best_hour_within_1h: {report.within_one_hour:.3f}")
    typer.echo(f"best_hour_lift: {report.lift_over_fixed_hour:.1f} %")
