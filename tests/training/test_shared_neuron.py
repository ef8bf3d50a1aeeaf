"""The time-bin study's shared neuron: the BPTT scheme's exact-grid clock network and the spike-time
scheme's exact flow on the grid (snap rule, inputs on the grid) simulate the same CuBa-LIF network,
with the same initial weights, loss and read-out; the count targets are reachable on every grid."""

import numpy as np
import pytest
import torch

from snnlib.clock.network import ClockNetwork
from snnlib.clock.raster import Raster
from snnlib.data import encoding, yinyang
from snnlib.data.splits import yinyang_splits
from snnlib.config import ConfigError
from snnlib.events.network import EventNetwork
from snnlib.model.discretization import ClockDiscretization, Discretization, grid_capacity
from snnlib.model.neuron import NeuronParams
from snnlib.study import plan
from snnlib.training import losses
from snnlib.training.schemes import bptt, integrated

WINDOW = 150.0


def configs(k: int, tau_s: float, theta, common: dict, **bptt_only):
    """A BPTT config and a spike-time config of the same network (``common``: data and network fields) on the
    grid of ``h = k`` ms."""
    b = bptt.BPTTConfig(**common, **bptt_only, dt=1.0, n_steps=int(WINDOW) + 1, k=k, tau_s=tau_s, tau=2 * tau_s,
                        theta=theta, clock="exact", init="uniform", loss="count_mse", targets=(15.0, 3.0),
                        fit_targets=True)
    s = integrated.IntegratedConfig(**common, dt=float(k), t_max=WINDOW, tau_s=tau_s,
                                    theta_bats=tuple(t / 1000 for t in theta), max_spikes=int(WINDOW) + 1,
                                    targets=(15.0, 3.0), fit_targets=True, integration="exact",
                                    spike_rule="snap", input="grid", gradient="piggyback")
    return b, s


def pair(k: int, tau_s: float = 5.0, theta=(1.0, 2.0), hidden=(30,), **kw):
    """:func:`configs` on Yin-Yang."""
    return configs(k, tau_s, theta, dict(dataset="yinyang", hidden=hidden, t_in=100.0, n_val=1000, **kw))


def assert_same_network(cb, cs, nb, ns, x, y, idx, loss: bool = True):
    """The two networks ``nb`` (BPTT's clock) and ``ns`` (the spike-time scheme's) of configs ``cb``, ``cs`` on
    the samples ``idx`` of ``x``: the same output spikes on the grid and hidden spike counts, and with ``loss``
    the same loss and predictions."""
    sb, ss = bptt.BPTTScheme(), integrated.IntegratedScheme()
    out_b, hid_b = nb(sb.encoder(cb, "val")(x, idx))
    out_s, hid_s = ns(ss.encoder(cs, "val")(x, idx).double())
    assert out_b.sum() > 50 and hid_b[0].sum() > 1000  # spikes to compare
    assert torch.equal(to_raster(out_s, float(cb.k), out_b.shape[0]), out_b)
    assert torch.equal(hid_b[0], torch.isfinite(hid_s[0]).sum((1, 2)).to(hid_b[0].dtype)) if hid_s[0].dim() == 3 \
        else torch.equal(hid_b[0], hid_s[0].to(hid_b[0].dtype))
    if loss:
        labels = torch.as_tensor(y[idx])
        assert sb.loss(cb)(out_b, labels).item() == pytest.approx(ss.loss(cs)(out_s, labels).item(), rel=1e-12)
        assert torch.equal(sb.predict(cb)(out_b), ss.predict(cs)(out_s))
    return out_b


def to_raster(times: torch.Tensor, h: float, T: int) -> torch.Tensor:
    """Event-network output times ``[B, C, K]`` on the grid as a raster ``[T, B, C]`` of counts."""
    r = torch.zeros(T, times.shape[0], times.shape[1], dtype=torch.float64)
    b, c, k = torch.isfinite(times).nonzero(as_tuple=True)
    step = (times[b, c, k] / h).round().long()
    assert torch.allclose(step.to(times.dtype) * h, times[b, c, k], atol=1e-6)  # snapped to the grid
    r.index_put_((step, b, c), torch.ones(len(step), dtype=r.dtype), accumulate=True)
    return r


@pytest.mark.parametrize("k", [1, 5, 25])
def test_the_two_schemes_simulate_the_same_network(k):
    """Same initial weights (one generator rule), same spikes at every layer, same loss and predictions,
    at a fine and at coarse steps (h / tau_s = 0.2, 1, 5)."""
    cb, cs = pair(k)
    sb, ss = bptt.BPTTScheme(), integrated.IntegratedScheme()
    nb = sb.build(cb, torch.Generator().manual_seed(3)).double()
    ns = ss.build(cs, torch.Generator().manual_seed(3)).double()
    for wb, ws in zip(nb.weights, ns.weights):
        assert torch.equal(wb, ws)
        with torch.no_grad():  # a livelier network than the initial one: many spikes to compare
            wb.add_(0.6)
            ws.add_(0.6)
    x, y = sb.data(cb)["val"]
    out_b = assert_same_network(cb, cs, nb, ns, x, y, np.arange(64))
    assert out_b.sum() > 100 and out_b.shape[0] == bptt.grid_steps_of(cb) == int(WINDOW // k) + 1  # points 0 .. 150 ms
    assert bptt.targets(cb) == ss.targets(cs)


def mnist_pair(k: int, tau_s: float, hidden=(40,)):
    """:func:`configs` on MNIST's time-to-first-spike input (784 inputs in [0, 100] ms), thresholds 0.1 / 0.4 tau."""
    common = dict(dataset="mnist", hidden=hidden, t_in=100.0, n_train=100, n_val=100, n_test=0)
    return configs(k, tau_s, (0.2 * tau_s, 0.8 * tau_s), common, encoding="ttfs")


@pytest.mark.parametrize("tau_s,k", [(5.0, 1), (5.0, 5), (130.0, 1), (130.0, 5), (130.0, 25)])
def test_the_two_schemes_simulate_the_same_mnist_network(tau_s, k):
    """MNIST's input times land on grid points (pixel 51 m: t = 100 - 20 m ms): both schemes deliver
    them at the same point (the spike-time scheme's float32 times were once a step late at 60 ms)."""
    cb, cs = mnist_pair(k, tau_s)
    sb, ss = bptt.BPTTScheme(), integrated.IntegratedScheme()
    nb = sb.build(cb, torch.Generator().manual_seed(3)).double()
    ns = ss.build(cs, torch.Generator().manual_seed(3)).double()
    for wb, ws in zip(nb.weights, ns.weights):
        assert torch.equal(wb, ws)
    rng = np.random.default_rng(0)  # digit-like inputs: a third of the pixels lit, many at 51 m
    x = np.where(rng.random((32, 784)) < 0.3, rng.integers(1, 256, (32, 784)), 0).astype(np.uint8)
    x[:, ::7] = rng.choice([0, 51, 102, 153, 204, 255], (32, 112))
    assert assert_same_network(cb, cs, nb, ns, x, None, np.arange(32), loss=False).sum() > 100


@pytest.mark.data
@pytest.mark.parametrize("tau_s,k", [(5.0, 1), (5.0, 10), (130.0, 5), (130.0, 25)])
def test_the_two_schemes_simulate_the_same_nmnist_network(data_dir, tau_s, k):
    """N-MNIST's event streams (the first 150 ms): a pixel fires several times within one step, and both
    schemes deliver every event (BPTT's ``binning="count"``; the OR binning once left 0.3 % fewer output
    spikes at 1 ms and 5 % fewer hidden spikes at 25 ms)."""
    common = dict(dataset="nmnist", hidden=(40,), n_val=100, test_from_train=200)
    cb, cs = configs(k, tau_s, (0.4 * tau_s, 1.6 * tau_s), common, binning="count")
    sb, ss = bptt.BPTTScheme(), integrated.IntegratedScheme()
    nb = sb.build(cb, torch.Generator().manual_seed(3)).double()
    ns = ss.build(cs, torch.Generator().manual_seed(3)).double()
    x, y = sb.data(cb)["val"]
    with torch.no_grad():
        assert_same_network(cb, cs, nb, ns, x, y, np.arange(16))


@pytest.mark.parametrize("h", [1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 25.0, 50.0])
def test_grid_capacity_is_what_a_saturated_network_emits(h):
    """With every weight large, each layer fires at every grid point it can reach: the output's count
    is :func:`grid_capacity` in both simulations (one spike per point, one step of delay per layer)."""
    p = NeuronParams(tau_s=5.0, theta=1.0)
    sizes = (3, 4, 2)
    T = int(WINDOW // h) + 1
    ev = EventNetwork(sizes, p, max_spikes=T + 5, t_max=WINDOW, discretization=Discretization("exact", None, h, "snap", "grid"),
                      init=(1e3, 2e3), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ck = ClockNetwork(sizes, p, dtype=torch.float64, discretization=ClockDiscretization("exact", h=h), init=(1e3, 2e3),
                      generator=torch.Generator().manual_seed(0))
    x = torch.zeros(1, 3, 1, dtype=torch.float64)  # every input at t = 0
    out_t, _ = ev(x)
    out_r, _ = ck(Raster((T, 1, 3), torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.long), torch.arange(3)))
    cap = grid_capacity(WINDOW, h, depth=2)
    assert torch.isfinite(out_t).sum(-1).eq(cap).all()
    assert out_r.sum(0).eq(cap).all()


def test_targets_are_reachable_at_every_step_of_the_time_bin_grid():
    """Over the bins the study sweeps (150 ms cut into 150 .. 3 bins), the fitted true-class target is
    at most half the output's capacity in both schemes, BATS's 15 / 3 wherever the grid allows 30."""
    for k in (1, 2, 3, 5, 6, 10, 15, 25, 50):
        cb, cs = pair(k)
        cap = grid_capacity(WINDOW, float(k), depth=2)
        yt, yf = bptt.targets(cb)
        assert (yt, yf) == integrated.IntegratedScheme().targets(cs)
        assert 0 < yt <= cap / 2 and yf == pytest.approx(yt / 5)
        assert (yt, yf) == pytest.approx((15.0, 3.0) if cap >= 30 else (cap / 2, cap / 10))


def test_fit_targets():
    assert losses.fit_targets(15, 3, 151) == (15, 3)
    assert losses.fit_targets(15, 3, 10) == pytest.approx((5.0, 1.0))
    with pytest.raises(ValueError, match="capacity"):
        losses.fit_targets(15, 3, 0)
    with pytest.raises(ValueError, match="true > false"):
        losses.fit_targets(3, 15, 30)


def test_count_mse_and_its_prediction_match_the_event_rule():
    raster = torch.zeros(5, 2, 3)
    raster[[1, 3], 0, 0] = 1  # sample 0: classes 0 and 2 both spike twice, class 2 first
    raster[[0, 4], 0, 2] = 1
    raster[2, 1, 1] = 1
    labels = torch.tensor([2, 1])
    assert losses.predict_by_count_then_first(raster).tolist() == [2, 1]
    assert losses.predict_by_count(raster).tolist() == [0, 1]  # the lowest index: another rule
    n = raster.sum(0)
    expected = 0.5 * (((n - torch.tensor([[3.0, 3, 15], [3, 15, 3]])) ** 2).sum(1)).mean()
    assert losses.count_mse(raster, labels).item() == pytest.approx(expected.item())


def test_times_raster_bins_like_the_ttfs_raster_and_merges_repeats():
    img = np.array([[0, 255, 128, 1]], dtype=np.uint8)
    for rounding in ("floor", "ceil"):
        a = encoding.ttfs_raster(img, 120, 1.0, 100.0, rounding).to_dense()
        b = encoding.times_raster(encoding.ttfs(img, 100.0), 120, 1.0, rounding).to_dense()
        assert torch.equal(a, b)
    t = torch.tensor([[[0.2, 0.7, 3.0, np.inf]]])
    r = encoding.times_raster(t, 3, 1.0, "ceil").to_dense()  # 0.2, 0.7 -> point 1; 3.0 dropped (window 0..2)
    assert r[:, 0, 0].tolist() == [0.0, 1.0, 0.0]


def test_yinyang_splits():
    class C:
        n_val, n_train, n_test = 1000, 200, None

    sets = yinyang_splits(C)
    assert [len(sets[s][1]) for s in ("train", "val", "test")] == [200, 1000, 1000]
    np.testing.assert_array_equal(sets["val"][0], yinyang.load("val").x)
    C.n_val = 5000
    with pytest.raises(ConfigError, match="validation split has 1000"):
        yinyang_splits(C)


def test_surrogate_width_in_units_of_each_layers_threshold():
    cb = bptt.BPTTConfig(hidden=(30,), theta=(2.0, 8.0), surrogate_unit="theta", surrogate_width=0.5)
    assert [s.width for s in bptt.surrogates(cb)] == [1.0, 4.0]
    with pytest.raises(ConfigError, match="surrogate_unit"):
        bptt.BPTTConfig(surrogate="arctan", surrogate_unit="theta")
    with pytest.raises(ConfigError, match="fit_targets"):
        bptt.BPTTConfig(fit_targets=True)  # the Loihi clock: no grid capacity


def test_seed_000_skipped_steps_in_training_only():
    """Seed 000 as it ran: skipping in training, the base recurrence at evaluation. By hand, decays
    0.5 / 0.5, threshold 1.2, unit weight, inputs in bins 0 and 1, k = 2: the base recurrence reaches
    u = 1, 1.5, 0.75, 0.375 and v = 1, 2.0 (a spike, v -> 0.8), 1.15, 0.95; skipping keeps u and v at
    bins 0 and 2 only (v = 1, 0.5, 1.0, 0.5): no spike."""
    from snnlib.clock.recurrence import CubaDiscrete

    p = CubaDiscrete(0.5, 0.5, 1.2, "subtract")
    x = torch.zeros(4, 1, 1, dtype=torch.float64)
    x[0, 0, 0] = x[1, 0, 0] = 1.0
    for eval_skip, trained, evaluated in ((False, [0, 0, 0, 0], [0, 1, 0, 0]), (True, [0, 0, 0, 0], [0, 0, 0, 0])):
        net = ClockNetwork((1, 1), p, dtype=torch.float64, sparse_hidden=False,
                           discretization=ClockDiscretization("skip", k=2, eval_skip=eval_skip))
        with torch.no_grad():
            net.weights[0].fill_(1.0)
        net.train()
        assert net(x)[0].flatten().tolist() == trained
        net.eval()
        assert net(x)[0].flatten().tolist() == evaluated
    assert ClockDiscretization("skip", k=2, eval_skip=False).label == "skip-k2-train-only"
    with pytest.raises(ValueError, match="eval_skip"):
        ClockDiscretization("loihi", eval_skip=False)


def test_seed_000_decays_per_bin_and_nearest_binning():
    """decay_step = 1: the 1 ms decays per bin whatever the bin width (lava-dl's fixed per-bin decays);
    rounding = 'nearest' bins an event at 7.6 ms into the 10 ms bin (index 2 of 5 ms bins)."""
    cfg = bptt.BPTTConfig(dataset="nmnist", dt=5.0, n_steps=60, k=5, clock="skip", skip_eval=False,
                          decay_step=1.0, rounding="nearest")
    n = bptt.neuron(cfg)
    assert n.alpha == pytest.approx(np.exp(-1.0 / cfg.tau_s)) and n.beta == pytest.approx(np.exp(-1.0 / cfg.tau))
    ev = np.zeros(2, dtype=[("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
    ev["t"] = [7600, 12400]  # us
    r = bptt.encoder(cfg, 0, "val")([(ev, 0)], [0]).to_dense()
    assert r.sum((1, 2)).nonzero().flatten().tolist() == [2]  # both round to bin 2 (10 ms)
    with pytest.raises(ConfigError, match="skip_eval"):
        bptt.BPTTConfig(skip_eval=False)
    with pytest.raises(ConfigError, match="rounding"):
        bptt.BPTTConfig(clock="exact", rounding="nearest", tau_s=5.0)


def test_the_skip_gain_control_restores_the_steady_voltage():
    """No synaptic memory (alpha = 0: u = x), a constant unit input: the base recurrence's voltage tends
    to 1 / (1 - beta); skipping k = 5 steps reaches only 1 / (1 - beta^5) at its kept steps (a threshold
    just under 1 / (1 - beta) is never crossed), with the gain g = (1 - beta^5) / (1 - beta) the base
    recurrence's steady voltage again (crossed). The network applies g to the layer's input."""
    from snnlib.clock.recurrence import CubaDiscrete
    from snnlib.clock.stepping import skip_sequence

    beta, k, T = 0.9, 5, 400
    g = (1 - beta ** k) / (1 - beta)
    p = CubaDiscrete(0.0, beta, 1 / (1 - beta) - 1e-6, "subtract")
    x = torch.ones(T, 1, 1, dtype=torch.float64)
    assert skip_sequence(x, p, k, "slayer").sum() == 0
    assert skip_sequence(g * x, p, k, "slayer").sum() > 0

    def net(gain):
        n = ClockNetwork((1, 1), p, dtype=torch.float64, sparse_hidden=False,
                         discretization=ClockDiscretization("skip", k=k, skip_gain=gain))
        with torch.no_grad():
            n.weights[0].fill_(1.0)
        return n

    assert torch.equal(net(True)(x)[0], skip_sequence(g * x, p, k, "slayer"))
    assert torch.equal(net(False)(x)[0], skip_sequence(x, p, k, "slayer"))
    assert net(True).discretization.label == "skip-k5-gain"


def test_the_withheld_spikes_of_the_one_spike_per_point_rule():
    """The measurement's spikes are the exact grid's; a neuron driven far above threshold at one point
    withholds floor(V / theta) - 1 spikes there."""
    from snnlib.clock.stepping import exact_grid_excess, exact_grid_sequence

    p = NeuronParams(tau_s=5.0, theta=1.0)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(60, 4, 7, generator=g, dtype=torch.float64) < 0.2) * torch.rand(60, 4, 7, generator=g,
                                                                                       dtype=torch.float64) * 3
    for h in (0.5, 2.0, 10.0):
        s, e = exact_grid_excess(x, p, h)
        assert torch.equal(s, exact_grid_sequence(x, p, h)[0]) and s.sum() > 10
        assert (e[s == 0] == 0).all() and (e >= 0).all()
    big = torch.zeros(3, 1, 1, dtype=torch.float64)
    big[0] = 100.0  # I jumps by 100 at t = 0: V_1 = k(h) 100
    from snnlib.clock.stepping import exact_grid_constants

    kh = exact_grid_constants(p, 10.0)[2]
    s, e = exact_grid_excess(big, p, 10.0)
    assert s[1].item() == 1 and e[1].item() == np.floor(100 * kh) - 1 > 5


def test_seed_000_as_it_ran_bins_skips_and_evaluates_as_the_seed():
    """clock='seed000', dt = 1 ms, k = 5, a 20 ms window: 4 bins of 5 ms, events to the nearest bin
    (7.4 ms -> bin 1, 12.6 ms -> bin 3), the 1 ms decays per bin, skipping 5 of those bins in training
    (only bin 0 kept), none at evaluation."""
    cfg = bptt.BPTTConfig(dataset="nmnist", hidden=(4,), dt=1.0, n_steps=20, k=5, clock="seed000")
    ev = np.zeros(2, dtype=[("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])
    ev["t"] = [7400, 12600]  # us
    ev["x"] = [1, 2]
    r = bptt.encoder(cfg, 0, "train")([(ev, 0)], [0]).to_dense()
    assert r.shape[0] == bptt.grid_steps_of(cfg) == 4
    assert r.sum((1, 2)).tolist() == [0.0, 1.0, 0.0, 1.0]
    n = bptt.neuron(cfg)
    assert n.alpha == pytest.approx(np.exp(-1.0 / cfg.tau_s))  # the decays of dt = 1 ms, per 5 ms bin
    d = bptt.clock_discretization(cfg)
    assert (d.method, d.k, d.eval_skip) == ("skip", 5, False)
    with pytest.raises(ConfigError, match="rounding"):
        bptt.BPTTConfig(clock="seed000", rounding="nearest")


def _twin_pair(depth=2, k=1, **kw):
    cb = bptt.BPTTConfig(dataset="yinyang", hidden=(30,) * depth, t_in=100.0, n_val=1000, dt=1.0,
                         n_steps=int(WINDOW) + 1, k=k, tau_s=5.0, tau=10.0, theta=(1.2,) * depth + (4.0,),
                         clock="exact", init="uniform", loss="count_mse", targets=(15.0, 3.0), fit_targets=True,
                         surrogate_unit="theta", surrogate_width=0.3, probe_alignment=True, **kw)
    return cb, bptt.exact_twin(cb)


def test_the_exact_twin_is_the_continuous_network_of_the_same_neuron_and_weights():
    from snnlib.training.schemes import spiketime

    cb, tw = _twin_pair(k=5)
    assert tw.t_max == WINDOW and tw.tau_s == 5.0 and tw.theta_bats == (0.0012, 0.004)
    assert tw.targets == bptt.targets(cb) and tw.max_spikes == cb.n_steps and tw.dt is None
    nb = bptt.BPTTScheme().build(cb, torch.Generator().manual_seed(4))
    nt = spiketime.SpikeTimeScheme().build(tw, torch.Generator().manual_seed(4))
    assert all(torch.equal(a, b) for a, b in zip(nb.weights, nt.weights))
    assert [p.shape for p in nb.parameters()] == [p.shape for p in nt.parameters()]


def test_the_surrogate_probe_is_one_against_the_exact_gradient_itself():
    """The probe's plumbing: the twin measured against a copy of itself aligns exactly (cosine 1, norm
    ratio 1); the BPTT network's alignment is a cosine per layer, in [-1, 1]."""
    import copy

    from snnlib.training import loop
    from snnlib.training.probes import SurrogateProbe
    from snnlib.training.schemes import spiketime

    cb, tw = _twin_pair()
    st, sb = spiketime.SpikeTimeScheme(), bptt.BPTTScheme()
    b = loop.split_batches(sb.data(cb), cb.batch_size, lambda s: sb.encoder(cb, s), seed=0)
    twin = st.build(tw, torch.Generator().manual_seed(1))
    x, y = b["val"].x, torch.as_tensor(b["val"].y[:64])
    times = st.encoder(tw, "val")(x, np.arange(64))
    same = SurrogateProbe(twin, times, st.loss(tw), times, y, st.loss(tw))(copy.deepcopy(twin))
    assert same["cosine"] == pytest.approx(1.0) and same["norm_ratio"] == pytest.approx(1.0)
    assert same["cosine_layer1"] == pytest.approx(1.0) and same["cosine_layer3"] == pytest.approx(1.0)
    net = sb.build(cb, torch.Generator().manual_seed(3))
    probe = sb.probe(cb, b, net)
    got = probe(net)
    assert set(got) == {"cosine", "norm_ratio", "cosine_layer1", "cosine_layer2", "cosine_layer3"}
    assert all(-1.0 <= got[k] <= 1.0 for k in got if k.startswith("cosine"))
    assert all(torch.equal(a, w) for a, w in zip(probe.twin.weights, net.weights))  # measured at the model's weights
    assert all(p.grad is None for p in net.parameters())  # the model's own gradients untouched
    with pytest.raises(ConfigError, match="probe_alignment"):
        bptt.BPTTConfig(dataset="yinyang", clock="exact", tau_s=5.0, tau=10.0, probe_alignment=True)
    assert bptt.BPTTScheme().probe(bptt.BPTTConfig(dataset="yinyang"), b, net) is None


@pytest.mark.parametrize("dataset", ["yinyang", "mnist", "nmnist"])
def test_every_planned_shared_neuron_point_has_reachable_targets_and_one_neuron(dataset):
    """Over every point of the planned shared-neuron sweeps (both neurons): the fitted true-class target
    is at most half the output's grid capacity, BPTT's and the spike-time scheme's targets agree at each
    step, and the two schemes (and the continuous network) share tau_s and thresholds."""
    for regime in plan.TB_REGIMES:
        name = f"timebins-{dataset}-{regime}"
        bp = {p.config["k"]: bptt.BPTTConfig.from_dict(p.config) for p in plan.sweep(f"{name}-bptt").points("quick")}
        st = {int(p.config["dt"]): integrated.IntegratedConfig.from_dict(p.config)
              for p in plan.sweep(f"{name}-spiketime").points("quick")}
        ex = plan.sweep(f"{name}-exact").points("quick")[0].config
        assert set(bp) == set(st) and len(bp) >= (1 if (dataset, regime) == ("mnist", "fast") else 3)  # see plan.TB_MNIST_K
        for k, cb in bp.items():
            cap = grid_capacity(plan.TB_WINDOW, float(k), depth=len(cb.hidden) + 1)
            yt, yf = bptt.targets(cb)
            assert 0 < yt <= cap / 2 and yf < yt
            assert (yt, yf) == integrated.IntegratedScheme().targets(st[k])
            assert cb.tau_s == st[k].tau_s == ex["tau_s"] and cb.tau == 2 * cb.tau_s
            assert np.allclose([1000 * t for t in st[k].theta_bats], cb.theta)
            assert np.allclose([1000 * t for t in ex["theta_bats"]], cb.theta)
