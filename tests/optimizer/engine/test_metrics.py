"""Metrics: hand-checkable values, plain Python types, None where undefined."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optimizer.engine.metrics import (
    classification_metrics,
    regression_metrics,
    top_decile_capture,
)


def test_classification_metrics_by_hand():
    m = classification_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    assert m["auc"] == pytest.approx(0.75)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert m["base_rate"] == pytest.approx(0.5)
    assert all(type(v) in (int, float) for v in m.values())


def test_classification_metrics_undefined_auc_is_none():
    m = classification_metrics(np.ones(3), np.array([0.2, 0.5, 0.9]))
    assert m["auc"] is None
    assert m["brier"] == pytest.approx((0.64 + 0.25 + 0.01) / 3)
    assert classification_metrics(np.zeros(0), np.zeros(0))["brier"] is None


def test_top_decile_capture_by_hand():
    actual = np.array([10.0, 0, 0, 0, 0, 0, 0, 0, 0, 30.0])
    assert top_decile_capture(actual, np.arange(10.0)) == pytest.approx(0.75)
    assert top_decile_capture(np.zeros(5), np.arange(5.0)) is None


def test_regression_metrics_by_hand_and_json_ready():
    m = regression_metrics(np.array([0.0, 1, 2, 3]), np.array([0.5, 1, 1.5, 5]))
    assert m["mae"] == pytest.approx((0.5 + 0 + 0.5 + 2) / 4)
    assert m["spearman"] == pytest.approx(1.0)
    assert regression_metrics(np.ones(3), np.arange(3.0))["spearman"] is None
    json.dumps(m, allow_nan=False)
