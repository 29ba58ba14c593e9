"""What `serve --bootstrap` says about the models it serves: each headline figure against its baseline, and a
warning naming the model, its figures and how to train a better one when a model does not beat its baseline."""

from __future__ import annotations

from microlift.bootstrap import BETTER_WORLD, summarize

GOOD = {"engagement.r2": 0.84, "engagement.r2_baseline": 0.55,
        "conversion.poisson_deviance": 10.03, "conversion.poisson_deviance_baseline": 17.37,
        "lift.mdape": 0.41, "lift.mdape_baseline": 0.68,
        "posting.log_loss": 0.354, "posting.log_loss_baseline": 0.464}


def test_every_model_beating_its_baseline_is_said_per_model_without_a_warning():
    # when every model is better than its baseline
    summary = summarize(GOOD)
    # then each model has its line with both figures, and nothing is a warning
    assert summary.lines == ["engagement: R² 0.84 vs baseline 0.55 (beats it)",
                             "conversion: Poisson deviance 10.03 vs baseline 17.37 (beats it)",
                             "lift: MdAPE 0.41 vs baseline 0.68 (beats it)",
                             "posting: log loss 0.354 vs baseline 0.464 (beats it)"]
    assert summary.warnings == []


def test_a_lift_model_worse_than_its_baseline_is_a_warning_naming_it_its_figures_and_the_fix():
    # given a lift model whose held-out MdAPE is above its baseline's (lower is better)
    metrics = {**GOOD, "lift.mdape": 0.693, "lift.mdape_baseline": 0.681}
    # when summarised
    summary = summarize(metrics)
    # then its line says so, one warning names it and its figures, and the last tells how to train a better one
    assert "lift: MdAPE 0.693 vs baseline 0.681 (does NOT beat it)" in summary.lines
    assert summary.warnings[0] == ("WARNING: the lift model does not beat its baseline on held-out data: MdAPE 0.693 "
                                   "vs baseline 0.681 (lower is better)")
    assert len(summary.warnings) == 2 and all(command in summary.warnings[-1] for command in BETTER_WORLD)
    assert all(warning.startswith("WARNING") for warning in summary.warnings)


def test_direction_follows_the_metric_an_r2_below_its_baseline_and_a_tie_do_not_beat_it():
    metrics = {**GOOD, "engagement.r2": 0.50, "posting.log_loss": 0.464}
    warned = " ".join(summarize(metrics).warnings)
    assert "the engagement model" in warned and "R² 0.5 vs baseline 0.55 (higher is better)" in warned
    assert "the posting model" in warned
    assert "conversion" not in warned and "the lift model" not in warned


def test_a_model_without_figures_is_said_so_and_a_missing_baseline_is_no_warning():
    metrics = {k: v for k, v in GOOD.items() if not k.startswith("posting.") and k != "lift.mdape_baseline"}
    summary = summarize(metrics)
    assert "posting: no held-out log loss" in summary.lines
    assert "lift: MdAPE 0.41 (no baseline)" in summary.lines
    assert summary.warnings == []


def test_a_figure_that_could_not_be_computed_does_not_beat_its_baseline():
    summary = summarize({**GOOD, "lift.mdape": float("nan")})
    assert any("the lift model" in warning for warning in summary.warnings)
