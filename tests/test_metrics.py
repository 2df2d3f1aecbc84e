"""Accuracy metrics against hand-computed cases (agent/evaluate/metrics.py, skab.py, nab.py)."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.evaluate import metrics, nab, skab


# ---- point-wise ---------------------------------------------------------------------------------

def test_confusion_and_prf_hand_case():
    labels = [0, 0, 1, 1, 1, 0, 0, 1, 0, 0]
    predicted = [0, 1, 1, 1, 0, 0, 0, 1, 0, 0]
    counts = metrics.confusion(labels, predicted)
    assert counts == metrics.Confusion(tp=3, fp=1, tn=5, fn=1)
    scores = metrics.precision_recall_f1(counts)
    assert scores["precision"] == pytest.approx(0.75)
    assert scores["recall"] == pytest.approx(0.75)
    assert scores["f1"] == pytest.approx(0.75)


def test_no_predictions_gives_zero_not_nan():
    scores = metrics.pointwise_scores([0, 1, 1], [0, 0, 0])
    assert scores == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_average_precision_hand_case():
    # thresholds 0.9: P=1 R=.5 | 0.8: P=.5 R=.5 | 0.7: P=2/3 R=1 | 0.6: P=.5 R=1
    # AP = .5·1 + 0·.5 + .5·(2/3) + 0 = 5/6
    assert metrics.average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6]) == pytest.approx(5 / 6)


def test_average_precision_ties_share_one_threshold():
    # both rows enter at once: P = 1/2, R = 1
    assert metrics.average_precision([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert metrics.average_precision([0, 0], [0.5, 0.1]) is None


def test_point_adjust_trap():
    """One alarm inside a 1000-row anomaly is not an F1 of 1; point-adjust would say it is."""
    labels = np.zeros(2000, int)
    labels[500:1500] = 1
    predicted = np.zeros(2000, int)
    predicted[1200] = 1
    honest = metrics.pointwise_scores(labels, predicted)["f1"]
    assert honest == pytest.approx(2 / 1001)          # 2·TP / (2·TP + FP + FN) = 2 / (2 + 0 + 999)
    assert honest < 0.01
    assert metrics.point_adjusted_f1(labels, predicted) == pytest.approx(1.0)


def test_runs_and_event_spans():
    assert metrics.runs([0, 1, 1, 0, 1]) == [(1, 3), (4, 5)]
    assert metrics.runs([]) == []
    ts = np.arange(6) * 10.0
    assert metrics.event_spans(ts, [0, 1, 1, 0, 1, 1]) == [(10.0, 20.0), (40.0, 50.0)]
    # With ids, one id is one event even across a gap in the labels.
    ids = [None, "a", None, "a", "b", None]
    assert metrics.event_spans(ts, [0, 1, 0, 1, 1, 0], ids) == [(10.0, 30.0), (40.0, 40.0)]


def test_event_scores_hand_case():
    events = [(10.0, 20.0), (50.0, 60.0)]
    alerts = [(15.0, 17.0), (61.0, 62.0), (70.0, 80.0)]
    strict = metrics.event_scores(events, alerts, n_sensors=2, scored_seconds=86400.0)
    assert strict["events_detected"] == 1 and strict["events_total"] == 2
    assert strict["false_alarm_events"] == 2
    assert strict["false_alarms_per_sensor_day"] == pytest.approx(1.0)   # 2 / (2 sensors × 1 day)
    assert strict["ttd_mean_s"] == pytest.approx(5.0)
    tolerant = metrics.event_scores(events, alerts, n_sensors=2, scored_seconds=86400.0, tolerance_s=2.0)
    assert tolerant["events_detected"] == 2
    assert tolerant["false_alarm_events"] == 1
    assert tolerant["ttd_mean_s"] == pytest.approx((5.0 + 11.0) / 2)
    assert tolerant["ttd_median_s"] == pytest.approx(8.0)


def test_alert_running_before_event_detects_it_at_once():
    out = metrics.event_scores([(10.0, 20.0)], [(5.0, 12.0)], n_sensors=1, scored_seconds=100.0)
    assert out["events_detected"] == 1 and out["ttd_mean_s"] == 0.0


# ---- SKAB ---------------------------------------------------------------------------------------

def test_skab_far_mar_f1_pooled_over_files():
    # file 1: tp=2 fp=1 tn=3 fn=0 ; file 2: tp=1 fp=0 tn=2 fn=1  -> tp=3 fp=1 tn=5 fn=1
    files = [(np.array([1, 1, 0, 0, 0, 0]), np.array([1, 1, 1, 0, 0, 0])),
             (np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0]))]
    out = skab.skab_binary_scores(files)
    assert out["f1"] == pytest.approx(3 / (3 + (1 + 1) / 2))
    assert out["far_pct"] == pytest.approx(100 / 6)
    assert out["mar_pct"] == pytest.approx(25.0)


def test_skab_null_and_perfect_detectors():
    labels = np.array([0, 0, 1, 1])
    assert skab.skab_binary_scores([(labels, np.zeros(4))]) == {"f1": 0.0, "far_pct": 0.0, "mar_pct": 100.0}
    assert skab.skab_binary_scores([(labels, labels)]) == {"f1": 1.0, "far_pct": 0.0, "mar_pct": 0.0}


def test_skab_test_part_skips_first_400_rows():
    mask = skab.test_part_mask(1000)
    assert not mask[:400].any() and mask[400:].all()
    assert not skab.test_part_mask(300).any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_skab_f1_equals_pointwise_f1(pairs):
    labels = np.array([a for a, _ in pairs])
    predicted = np.array([b for _, b in pairs])
    assert skab.skab_binary_scores([(labels, predicted)])["f1"] == pytest.approx(
        metrics.pointwise_scores(labels, predicted)["f1"])


# ---- NAB ----------------------------------------------------------------------------------------

def test_scaled_sigmoid_published_values():
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(3.5) == -1.0


def test_probationary_rows():
    assert nab.probationary_rows(20) == 3          # floor(0.15 · 20)
    assert nab.probationary_rows(4032) == 604
    assert nab.probationary_rows(100_000) == 750   # capped at 0.15 · 5000


# A 20-row file, probation = 3 rows, one window at rows 10..14 (width 5).
# Detections at rows 1 (probation: ignored), 5 (FP, no window before it: −fp),
# 12 and 13 (in the window: only the first counts), 16 (FP 2 rows past a width-5 window).
#   TP  = σ(−(14 − 12 + 1)/5) / σ(−1) = σ(−0.6)/σ(−1) = 0.905148 / 0.986614 = 0.917429
#   FP5 = −fp
#   FP16 = fp · σ(|16 − 14| / (5 − 1)) = fp · σ(0.5) = fp · (−0.848284)
# standard: raw = 0.917429 − 0.11 − 0.093311 = 0.714117 ; normalised 100·(0.714117 + 1)/(1 + 1) = 85.7059
HAND_DETECTIONS = np.zeros(20, bool)
HAND_DETECTIONS[[1, 5, 12, 13, 16]] = True
HAND_SPANS = [(10, 14)]


def test_nab_hand_case_standard():
    out = nab.file_score(HAND_DETECTIONS, HAND_SPANS, nab.PROFILES["standard"])
    assert out.raw == pytest.approx(0.7141175, abs=1e-6)
    assert out.windows_detected == 1 and out.false_positives == 2
    corpus = nab.corpus_scores([(HAND_DETECTIONS, HAND_SPANS)])
    assert corpus["standard"]["score"] == pytest.approx(85.70587, abs=1e-4)
    # low FP: FP weight 0.22 -> raw 0.917429 − 0.22 − 0.186622 = 0.510806 -> 75.5403
    assert corpus["reward_low_FP_rate"]["score"] == pytest.approx(75.54031, abs=1e-4)
    # low FN: null = −2 -> 100·(0.714117 + 2)/(1 + 2) = 90.4706
    assert corpus["reward_low_FN_rate"]["score"] == pytest.approx(90.47058, abs=1e-4)


def test_nab_detection_at_window_start_is_worth_tp_weight():
    det = np.zeros(20, bool)
    det[10] = True
    assert nab.file_score(det, HAND_SPANS, nab.PROFILES["standard"]).raw == pytest.approx(1.0)
    assert nab.corpus_scores([(det, HAND_SPANS)])["standard"]["score"] == pytest.approx(100.0)


def test_nab_null_detector_scores_zero():
    assert nab.corpus_scores([(np.zeros(20, bool), HAND_SPANS)])["standard"]["score"] == pytest.approx(0.0)


def test_nab_window_spans_from_timestamps():
    ts = np.arange(10) * 300.0
    assert nab.window_index_spans(ts, [(600.0, 1200.0), (5000.0, 6000.0)]) == [(2, 4)]


def test_nab_swept_threshold_finds_the_best_cut():
    scores = np.zeros(20)
    scores[11] = 0.9    # early in the window
    scores[16] = 0.95   # a false positive ranked above it
    out = nab.swept_best_score([(scores, HAND_SPANS)], nab.PROFILES["standard"])
    tp = nab.scaled_sigmoid(-4 / 5) / nab.scaled_sigmoid(-1.0)
    fp = 0.11 * nab.scaled_sigmoid(0.5)
    assert out["threshold"] == pytest.approx(0.9)
    assert out["score"] == pytest.approx(100 * (tp + fp + 1) / 2)
    # The window rows never cross any threshold (NaN ranks lowest): detecting nothing is best.
    flat = np.zeros(20)
    flat[10:15] = np.nan
    flat[16] = 1.0
    assert nab.swept_best_score([(flat, HAND_SPANS)], nab.PROFILES["standard"])["score"] == pytest.approx(0.0)
    assert math.isinf(nab.swept_best_score([(flat, HAND_SPANS)], nab.PROFILES["standard"])["threshold"])
