"""The soak's memory verdict (scripts/soak.py): a trend after warm-up, not the climb out of it."""
import importlib.util

import pytest

from shared.config import REPO_ROOT


@pytest.fixture
def soak(monkeypatch):
    monkeypatch.setenv("SOAK_SECONDS", "600")  # warm-up: max(60, a tenth) = 60 s
    monkeypatch.delenv("SOAK_WARMUP_SECONDS", raising=False)
    monkeypatch.delenv("SOAK_MAX_GROWTH_MB", raising=False)
    spec = importlib.util.spec_from_file_location("soak_under_test", REPO_ROOT / "scripts" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TIMES = [20.0 * i for i in range(1, 31)]  # 10 minutes sampled every 20 s


def test_a_climb_during_warm_up_then_flat_passes(soak, capsys):
    series = [150.0, 170.0, 180.0] + [181.0 + (i % 3) * 0.5 for i in range(27)]
    assert soak.judge(TIMES, {"intake": series}) is False
    assert "GROWTH" not in capsys.readouterr().out


def test_a_steady_climb_after_warm_up_fails(soak, capsys):
    series = [180.0 + 0.4 * t / 60 for t in TIMES]  # 0.4 MB/min, as intake's workers did before paging
    assert soak.judge(TIMES, {"intake": series, "nginx": [11.0] * 30}) is True
    out = capsys.readouterr().out
    assert "intake" in out and "GROWTH" in out and "+24.0/h" in out
    assert "GROWTH" not in [line for line in out.splitlines() if "nginx" in line][0]


def test_too_few_samples_after_warm_up_fail_rather_than_pass(soak):
    assert soak.judge([20.0, 40.0, 60.0, 80.0], {"intake": [180.0] * 4}) is True


def test_slope_is_per_hour(soak):
    assert soak.slope_per_hour([0.0, 1800.0, 3600.0], [100.0, 105.0, 110.0]) == pytest.approx(10.0)
