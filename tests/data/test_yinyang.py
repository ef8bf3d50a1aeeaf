"""The Yin-Yang generator against its published definition (Kriener, Göltz & Petrovici 2021)."""

import numpy as np
import pytest

from snnlib.data import yinyang


def test_class_geometry_at_hand_picked_points():
    # dot centres; the left dot's disc of radius r_big/2 (outside the dot) is yin at any height;
    # the right dot's disc of radius r_big/2 is yang above the centre too; the upper half elsewhere is yin
    pts = {(0.25, 0.5): 2, (0.75, 0.5): 2, (0.25, 0.5 + 0.15): 1, (0.75, 0.5 + 0.15): 0,
           (0.9, 0.55): 0, (0.1, 0.45): 1, (0.4, 0.55): 1, (0.5, 0.95): 1, (0.5, 0.05): 0}
    for (x, y), c in pts.items():
        assert yinyang.which_class(x, y) == c, (x, y)


def test_areas_match_the_symbol():
    """Uniform points in the big circle: the dots cover 2 (r_small / r_big)^2 = 8% of it, yin and yang
    the rest in equal halves (the symbol's point symmetry about the centre)."""
    rng = np.random.default_rng(0)
    xy = rng.random((400_000, 2))
    xy = xy[np.hypot(xy[:, 0] - 0.5, xy[:, 1] - 0.5) <= 0.5]
    c = yinyang.which_class(xy[:, 0], xy[:, 1])
    frac = np.bincount(c, minlength=3) / len(c)
    assert frac[2] == pytest.approx(0.08, abs=0.003)
    assert frac[0] == pytest.approx(0.46, abs=0.004) and frac[1] == pytest.approx(0.46, abs=0.004)
    # point symmetry: (x, y) -> (1 - x, 1 - y) swaps yin and yang and keeps the dots
    swapped = yinyang.which_class(1 - xy[:, 0], 1 - xy[:, 1])
    on_edge = np.isclose(np.hypot(xy[:, 0] - 0.25, xy[:, 1] - 0.5), 0.25) | (np.abs(xy[:, 1] - 0.5) < 1e-9)
    keep = ~on_edge
    assert np.all(swapped[keep & (c == 2)] == 2)
    assert np.mean(swapped[keep & (c < 2)] == 1 - c[keep & (c < 2)]) > 0.999


def test_generated_split_is_balanced_inside_the_circle_and_seeded():
    d = yinyang.generate(6000, seed=42)
    x, y = d.x, d.y
    assert x.shape == (6000, 4) and y.dtype == np.int64
    np.testing.assert_allclose(x[:, 2:], 1 - x[:, :2])
    assert np.all(np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5) <= 0.5)
    np.testing.assert_array_equal(yinyang.which_class(x[:, 0], x[:, 1]), y)
    counts = np.bincount(y, minlength=3)
    assert np.all(np.abs(counts - 2000) < 4 * np.sqrt(6000 * (1 / 3) * (2 / 3)))  # multinomial, 4 sd
    again = yinyang.generate(6000, seed=42)
    np.testing.assert_array_equal(again.x, x)
    assert not np.array_equal(yinyang.generate(6000, seed=41).x, x)


def test_published_split_sizes_and_spike_times():
    assert [len(yinyang.load(s).y) for s in ("train", "val", "test")] == [5000, 1000, 1000]
    d = yinyang.generate(3, seed=0)
    t = yinyang.spike_times(d.x, t_late=20.0, t_early=2.0, t_bias=0.0)
    assert t.shape == (3, 5, 1)
    np.testing.assert_allclose(t[:, :4, 0].numpy(), 2.0 + d.x * 18.0)
    assert np.all(t[:, 4, 0].numpy() == 0.0)
    assert yinyang.spike_times(d.x, t_late=10.0, t_bias=None).shape == (3, 4, 1)


@pytest.mark.parametrize("kw, match", [({"t_late": 0.0}, "t_late"), ({"t_late": 5.0, "t_early": 6.0}, "t_early"),
                                       ({"t_late": 5.0, "t_bias": -1.0}, "t_bias")])
def test_bad_encoding_parameters_are_refused(kw, match):
    with pytest.raises(ValueError, match=match):
        yinyang.spike_times(np.full((2, 4), 0.5), **kw)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="n = 0"):
        yinyang.generate(0, seed=1)
    with pytest.raises(ValueError, match="split"):
        yinyang.load("validation")
