"""Tests of the correlation estimator, its DEM output and the ``qec learn-noise`` command."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import stim

from qec import MemoryExperiment
from noise_learning._comparison import LearnedDemUndecodable, compare_learned_dem
from noise_learning._correlations import CorrelationEstimator, SlidingWindowEstimator
from noise_learning._evaluate import DecodedShots, hot_edges, paired_difference, paired_ler, unmatchable_shots
from noise_learning._structure import DemStructure, graph_edge_probabilities


def _graphlike_dem(seed: int = 0) -> stim.DetectorErrorModel:
    """The graphlike terms of a d=3 circuit-level DEM with random probabilities in [2e-3, 2e-2]."""
    rng = np.random.default_rng(seed)
    out = stim.DetectorErrorModel()
    for inst in MemoryExperiment(3, 3, 0.001).dem().flattened():
        if inst.type != "error":
            out.append(inst)
        elif not any(t.is_separator() for t in inst.targets_copy()):
            out.append("error", float(rng.uniform(2e-3, 2e-2)), inst.targets_copy())
    return out


def test_recovers_graphlike_dem():
    dem = _graphlike_dem()
    dets = dem.compile_sampler(seed=1).sample(200_000)[0]
    structure = DemStructure.from_dem(dem)
    model = CorrelationEstimator(structure).fit(dets)
    truth = structure.probabilities_of(dem)
    est = model.term_probabilities
    assert est.shape == truth.shape
    # Binomial standard error of one edge ~ sqrt(p/N); allow 5 sigma plus 5%.
    tol = 5 * np.sqrt(truth / 200_000) + 0.05 * truth
    assert np.all(np.abs(est - truth) < tol), np.max(np.abs(est - truth) / tol)
    assert abs(np.mean(est - truth)) < 2e-4


def test_bit_packed_and_bool_give_same_counts():
    exp = MemoryExperiment(3, 3, 0.01)
    est = CorrelationEstimator(DemStructure.from_dem(exp.dem()), method="hyperedge")
    sampler = exp.circuit().compile_detector_sampler(seed=3)
    packed = sampler.sample(5000, bit_packed=True)
    unpacked = np.unpackbits(packed, axis=1, bitorder="little")[:, : exp.circuit().num_detectors].astype(bool)
    c1, n1 = est.counts(packed, bit_packed=True)
    c2, n2 = est.counts(unpacked, chunk_shots=1024)  # chunking must not change the counts
    assert n1 == n2 == 5000
    np.testing.assert_array_equal(c1, c2)
    # Brute force for a few sets: odd-parity counts.
    for k in (0, len(est.sets) // 2, len(est.sets) - 1):
        s = est.sets[k]
        assert c1[k] == int(np.sum(np.logical_xor.reduce(unpacked[:, list(s)], axis=1)))


def test_hyperedge_method_recovers_identifiable_weights():
    """Terms with the same detector set are indistinguishable; their summed weight is not.

    1e6 shots: at 3e5 the 37 four-detector terms' summed weight scatters by about 5% between
    seeds (noise version 2); at 1e6 every order stays within 2% for seeds 5 and 6."""
    exp = MemoryExperiment(3, 3, 0.006)
    dem = exp.dem()
    structure = DemStructure.from_dem(dem)
    dets = exp.circuit().compile_detector_sampler(seed=5).sample(1_000_000)
    tp = structure.probabilities_of(dem)
    truth: dict = {}
    for t, term in enumerate(structure.terms):
        truth[term.support] = truth.get(term.support, 0.0) - np.log(1 - 2 * tp[t])
    ratio = {}
    for method in ("pairwise", "hyperedge"):
        m = CorrelationEstimator(structure, method=method).fit(dets)
        w = -np.log(1 - 2 * m.probabilities)
        for order in (1, 2, 3, 4):
            ks = [k for k, s in enumerate(m.mechanisms) if len(s) == order]
            if ks:
                ratio[method, order] = w[ks].sum() / sum(truth[m.mechanisms[k]] for k in ks)
    # Pairwise over-counts edges and boundaries (hyperedges leak into them).
    assert ratio["pairwise", 2] > 1.2 and ratio["pairwise", 1] > 1.2
    for order in (1, 2, 3, 4):
        assert ratio["hyperedge", order] == pytest.approx(1.0, abs=0.03), (order, ratio)


def test_dem_output_keeps_structure_and_round_trips(tmp_path):
    exp = MemoryExperiment(3, 3, 0.004, basis="x")
    dem = exp.dem()
    structure = DemStructure.from_dem(dem)
    dets = exp.circuit().compile_detector_sampler(seed=2).sample(20_000)
    for method in ("pairwise", "hyperedge"):
        learned = CorrelationEstimator(structure, method=method).fit(dets).dem()
        assert learned.num_detectors == dem.num_detectors
        assert learned.num_observables == dem.num_observables
        # Same instructions in the same order (shift_detectors included); only probabilities differ.
        assert len(learned) == len(dem)
        for x, y in zip(dem, learned):
            assert x.type == y.type
            if x.type == "error":
                assert x.targets_copy() == y.targets_copy()
            else:
                assert x == y
        assert learned.get_detector_coordinates() == dem.get_detector_coordinates()
        path = tmp_path / f"{method}.dem"
        learned.to_file(path)
        assert stim.DetectorErrorModel.from_file(path) == learned
    # Hyperedge output keeps hyperedges with nonzero probability (for correlated matching).
    model = CorrelationEstimator(structure, method="hyperedge").fit(dets)
    multi = [t for t, term in enumerate(structure.terms) if len(term.components) > 1]
    assert np.sum(model.term_probabilities[multi] > 0) > len(multi) // 3
    model.matching(correlated=True)


def test_clamping_is_counted():
    # Two detectors that never fire together but often alone: negative covariance.
    dem = stim.DetectorErrorModel("error(0.1) D0 D1\nerror(0.1) D0\nerror(0.1) D1")
    structure = DemStructure.from_dem(dem)
    events = np.zeros((1000, 2), dtype=bool)
    events[:100, 0] = True
    events[100:200, 1] = True
    model = CorrelationEstimator(structure).fit(events)
    assert model.clamped["negative_edge"] == 1
    assert model.probabilities.min() >= 0
    p = model.mechanism_probability()
    assert p[(0, 1)] == 0 and p[(0,)] == pytest.approx(0.1)
    # Detector 1 fires only with detector 0: its boundary remainder comes out slightly negative.
    events = np.zeros((1000, 2), dtype=bool)
    events[:100] = True
    events[100:105, 0] = True
    model = CorrelationEstimator(structure).fit(events)
    assert model.clamped["negative_boundary"] == 1 and model.clamped["negative_edge"] == 0
    p = model.mechanism_probability()
    assert p[(1,)] == 0 and p[(0, 1)] == pytest.approx(0.1, rel=0.05)
    # Few shots of a real circuit: artifacts happen and are all counted and clamped.
    exp = MemoryExperiment(3, 3, 0.002)
    dets = exp.circuit().compile_detector_sampler(seed=0).sample(300)
    model = CorrelationEstimator(DemStructure.from_dem(exp.dem()), method="hyperedge").fit(dets)
    assert sum(model.clamped.values()) > 0
    assert np.all(model.probabilities >= 0) and np.all(model.term_probabilities >= 0)


def test_hot_spot_edges_ranked_highest():
    hot = ((5.0, 5.0, 6.0),)  # a central data qubit of d=5, six times noisier
    exp = MemoryExperiment(5, 5, 0.003, "z", scale_qubits=hot)
    nominal = MemoryExperiment(5, 5, 0.003, "z")
    truth = graph_edge_probabilities(exp.dem())
    base = graph_edge_probabilities(nominal.dem())
    hot_set = {e for e, p in truth.items() if p > 2.5 * base[e]}
    assert len(hot_set) >= 10
    dets = exp.circuit().compile_detector_sampler(seed=7).sample(100_000)
    for method in ("pairwise", "hyperedge"):
        learned = CorrelationEstimator(DemStructure.from_dem(nominal.dem()), method=method).fit(dets)
        # Rank by the learned probability relative to the single global (nominal) model.
        ratio = {e: p / base[e] for e, p in learned.edge_probabilities().items()}
        top = set(hot_edges(ratio, len(hot_set)))
        assert top == hot_set, (method, len(top & hot_set), len(hot_set))


def test_sliding_window_follows_step_change():
    lo, hi = MemoryExperiment(3, 3, 0.002), MemoryExperiment(3, 3, 0.008)
    est = CorrelationEstimator(DemStructure.from_dem(lo.dem()))
    win = SlidingWindowEstimator(est, window_shots=40_000)
    mean_p = lambda m: float(np.mean(list(m.edge_probabilities().values())))  # noqa: E731
    for s in range(4):
        win.push(lo.circuit().compile_detector_sampler(seed=s).sample(10_000))
    before = mean_p(win.estimate())
    for s in range(4):
        win.push(hi.circuit().compile_detector_sampler(seed=10 + s).sample(10_000))
    after = win.estimate()
    assert after.shots == 40_000
    truth_hi = float(np.mean(list(graph_edge_probabilities(hi.dem()).values())))
    assert before < 0.5 * truth_hi
    assert mean_p(after) == pytest.approx(truth_hi, rel=0.15)


def test_learned_dem_decodes_as_well_as_true():
    exp = MemoryExperiment(3, 3, 0.006)
    c = exp.circuit()
    train = c.compile_detector_sampler(seed=1).sample(100_000)
    dets, obs = c.compile_detector_sampler(seed=2).sample(100_000, separate_observables=True)
    learned = CorrelationEstimator(DemStructure.from_dem(exp.dem())).fit(train).dem()
    r = paired_ler(dets, obs, {"true": exp.dem(), "learned": learned})
    assert r["learned"].low <= r["true"].high and r["true"].low <= r["learned"].high
    assert r["learned"].ler < 1.05 * r["true"].ler


def test_decoded_shots_intervals_and_paired_z_are_qec_statistics():
    from qec._data._statistics import fit_ler, paired_z

    exp = MemoryExperiment(3, 3, 0.01)
    dets, obs = exp.circuit().compile_detector_sampler(seed=3).sample(4000, separate_observables=True)
    r = paired_ler(dets, obs, {"true": exp.dem(), "copy": stim.DetectorErrorModel(str(exp.dem()))})
    a = r["true"]
    assert isinstance(a, DecodedShots) and a.shots == 4000 and a.errors == int(a.mistakes.sum())
    fit = fit_ler(a.errors, a.shots)
    assert (a.low, a.high) == (fit.low, fit.high) and a.low < a.ler < a.high
    m = np.zeros(10, dtype=bool)
    x, y = m.copy(), m.copy()
    x[:4], y[3:5] = True, True
    d = paired_difference(DecodedShots(4, 10, 0, 1, x), DecodedShots(2, 10, 0, 1, y))
    assert d == {"only_a": 3, "only_b": 1, "z": paired_z(3, 1)}


def test_compare_learned_dem_is_what_the_cli_prints(capsys):
    hot = ((3.0, 3.0, 4.0),)
    exp = MemoryExperiment(3, 3, 0.005, "x", scale_qubits=hot)
    nominal = MemoryExperiment(3, 3, 0.005, "x")
    c = compare_learned_dem(exp, nominal, train_shots=20_000, test_shots=3000, seed=3, correlated=True)
    assert c.method == "likelihood" and list(c.decoded) == ["plain", "correlated"]
    # The likelihood estimator's start, the correlation estimate, is decoded beside it.
    assert list(c.decoded["plain"]) == ["true", "learned", "nominal", "uniform", "correlations"]
    assert "learned_vs_correlations" in c.paired["correlated"]
    rc, out, _ = _cli(["--distance", "3", "--p", "0.005", "--train-shots", "20000", "--test-shots", "3000",
                       "--seed", "3", "--scale-qubit", "3", "3", "4", "--correlated", "--json"], capsys)
    assert rc == 0
    printed = json.loads(out)
    summary = json.loads(json.dumps(c.summary()))
    for r in (printed, summary):
        r.pop("estimate_seconds")
        r["likelihood_fit"].pop("seconds")
    assert printed == {"d": 3, "rounds": 3, "p": 0.005, "noise": "depolarizing", "basis": "x", "seed": 3,
                       "scale": [[3.0, 3.0, 4.0]], "train_shots": 20000, "test_shots": 3000, **summary}
    # Correlated decoding only: the same shots, the same correlated results.
    only = compare_learned_dem(exp, nominal, train_shots=20_000, test_shots=3000, seed=3, correlated=True,
                               plain=False)
    assert list(only.decoded) == ["correlated"]
    assert only.decoded["correlated"]["learned"].errors == c.decoded["correlated"]["learned"].errors


def test_unmatchable_shots_are_exactly_those_pymatching_cannot_decode():
    import pymatching

    exp = MemoryExperiment(3, 3, 0.003, "x")
    circuit = exp.circuit()
    train = circuit.compile_detector_sampler(seed=1).sample(10, bit_packed=True)  # too few: mechanisms at zero
    thin = CorrelationEstimator(DemStructure.from_dem(exp.dem())).fit(train, bit_packed=True).dem()
    dets = circuit.compile_detector_sampler(seed=2).sample(300)
    flags = unmatchable_shots(thin, dets)
    matching = pymatching.Matching.from_detector_error_model(thin)
    failed = []
    for shot in dets:
        try:
            matching.decode(shot)
            failed.append(False)
        except ValueError:
            failed.append(True)
    assert 0 < flags.sum() < len(flags)  # the check is exercised both ways
    assert flags.tolist() == failed
    assert not unmatchable_shots(exp.dem(), dets).any()


def test_compare_learned_dem_with_too_few_shots_says_so():
    exp = MemoryExperiment(3, 3, 0.003, "x")
    with pytest.raises(LearnedDemUndecodable, match="give more training shots") as e:
        compare_learned_dem(exp, exp, train_shots=10, test_shots=200, estimator="correlations")
    assert e.value.train_shots == 10 and e.value.zeroed > 0
    assert e.value.learned.num_detectors == exp.dem().num_detectors
    with pytest.raises(ValueError, match="order"):
        compare_learned_dem(exp, exp, train_shots=10, test_shots=10, order=3)


# --- CLI ---------------------------------------------------------------------------------------


def _cli(argv, capsys):
    from experiments.cli import main

    rc = main(["learn-noise", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_simulated_json(capsys):
    rc, out, _ = _cli(["--distance", "3", "--p", "0.005", "--train-shots", "20000", "--test-shots",
                       "5000", "--scale-qubit", "3", "3", "4", "--correlated", "--json"], capsys)
    assert rc == 0
    r = json.loads(out)
    for name in ("true", "learned", "nominal", "uniform"):
        for pre in ("", "corr_"):
            k = f"{pre}ler_{name}"
            assert r[f"{k}_low"] <= r[k] <= r[f"{k}_high"]
    assert r["edge_stats"]["edges"] > 0 and r["method"] == "likelihood"
    assert r["likelihood_fit"]["log_likelihood"] >= r["likelihood_fit"]["log_likelihood_start"]


def test_cli_files_round_trip(tmp_path, capsys):
    exp = MemoryExperiment(3, 3, 0.005)
    circuit_path = tmp_path / "c.stim"
    stim.Circuit.generated("surface_code:rotated_memory_z", distance=3, rounds=3).to_file(circuit_path)
    dets = exp.circuit().compile_detector_sampler(seed=4).sample(10_000)
    for fmt in ("b8", "01", "r8"):
        path = tmp_path / f"d.{fmt}"
        stim.write_shot_data_file(data=dets, path=str(path), format=fmt, num_detectors=dets.shape[1])
        out_path = tmp_path / f"learned_{fmt}.dem"
        rc, out, err = _cli(["--circuit", str(exp_path(tmp_path, exp)), "--dets", str(path),
                             "--dets-format", fmt, "--out", str(out_path), "--json"], capsys)
        assert rc == 0, err
        assert json.loads(out)["shots"] == 10_000
        learned = stim.DetectorErrorModel.from_file(out_path)
        assert learned.num_detectors == exp.dem().num_detectors
    # A noiseless generated circuit gives the structure too.
    rc, out, err = _cli(["--circuit", str(circuit_path), "--dets", str(tmp_path / "d.b8"),
                         "--out", str(tmp_path / "x.dem")], capsys)
    assert rc == 0, err


def exp_path(tmp_path, exp):
    path = tmp_path / "noisy.stim"
    exp.circuit().to_file(path)
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["--p", "0.01"],
        ["--circuit", "c.stim"],
        ["--distance", "4", "--p", "0.01"],
        ["--distance", "3", "--p", "0.01", "--train-shots", "0"],
    ],
)
def test_cli_usage_errors(argv, capsys):
    rc, _, err = _cli(argv, capsys)
    assert rc == 2
    assert err.startswith("qec learn-noise: error:") and err.count("\n") == 1


def test_repeat_blocks_are_flattened():
    dem = stim.DetectorErrorModel("""
        error(0.05) D0
        repeat 3 {
            error(0.02) D0 D1
            error(0.03) D1
            shift_detectors 1
        }
    """)
    structure = DemStructure.from_dem(dem)
    assert structure.num_detectors == 4 and len(structure.terms) == 7
    dets = dem.compile_sampler(seed=0).sample(100_000)[0]
    learned = CorrelationEstimator(structure).fit(dets).dem()
    assert not any(i.type == "repeat" for i in learned)
    np.testing.assert_allclose(structure.probabilities_of(learned), structure.probabilities_of(dem), atol=0.006)


# ---------------------------------------------------------------------------------------------
# Pooling over rounds.


def _graphlike(dem: stim.DetectorErrorModel) -> stim.DetectorErrorModel:
    out = stim.DetectorErrorModel()
    for inst in dem.flattened():
        if inst.type != "error" or not any(t.is_separator() for t in inst.targets_copy()):
            out.append(inst)
    return out


def test_pooling_over_rounds_shares_weights_between_translates_and_helps_stationary_noise():
    """A DEM whose bulk rounds repeat (the graphlike part of a 10-round memory experiment):
    translates share one weight, the two first and last layers keep their own, and the pooled
    bulk estimates are closer to the truth than each round's own."""
    dem = _graphlike(MemoryExperiment(3, 10, 0.006, "x").dem())
    structure = DemStructure.from_dem(dem)
    dets = dem.compile_sampler(seed=4).sample(20_000)[0]
    per_round = CorrelationEstimator(structure).fit(dets)
    pooled = CorrelationEstimator(structure, pool_rounds=True).fit(dets)
    coords = dem.get_detector_coordinates()
    T = max(c[2] for c in coords.values())
    w, w0 = pooled.mechanism_probability(), per_round.mechanism_probability()
    bulk, ends = {}, []
    for m, p in w.items():
        ts = [coords[d][2] for d in m]
        if min(ts) >= 2 and max(ts) <= T - 2:
            key = tuple(sorted((coords[d][0], coords[d][1], coords[d][2] - min(ts)) for d in m))
            bulk.setdefault(key, []).append(m)
        else:
            ends.append(m)
    assert bulk and all(len({w[m] for m in ms}) == 1 for ms in bulk.values())
    assert ends and all(w[m] == w0[m] for m in ends)
    truth = dict.fromkeys(per_round.mechanisms, 0.0)
    for term, p in zip(structure.terms, structure.probabilities_of(dem)):  # XOR-combined per support
        truth[term.support] = truth[term.support] * (1 - p) + p * (1 - truth[term.support])
    pooled_bulk = [m for ms in bulk.values() for m in ms]
    rms = {name: np.sqrt(np.mean([(model[m] - truth[m]) ** 2 for m in pooled_bulk]))
           for name, model in (("per_round", w0), ("pooled", w))}
    assert rms["pooled"] < 0.5 * rms["per_round"], rms


def test_pooling_needs_detector_times():
    dem = stim.DetectorErrorModel("error(0.1) D0 D1\nerror(0.1) D1\nerror(0.1) D0")
    with pytest.raises(ValueError, match="needs detector coordinates"):
        CorrelationEstimator(DemStructure.from_dem(dem), pool_rounds=True)


# --- Issue 30: faults, round three ---------------------------------------------------------------


def _one_line(capsys, argv, match):
    rc, _, err = _cli(argv, capsys)
    assert rc == 2 and err.count("\n") == 1 and match in err, err
    return err


def test_a_dem_learned_from_too_few_shots_is_refused_not_written(tmp_path, capsys):
    """Item 3: 10 shots, 1 shot or --experiment ... --max-shots 3 wrote an all-zero DEM without a
    word (`qec ler --dem` then crashed); the simulated mode already refused the same."""
    exp = MemoryExperiment(3, 3, 0.003, "x")
    circuit = tmp_path / "c.stim"
    exp.circuit().to_file(circuit)
    for shots in (1, 10):
        dets = tmp_path / f"d{shots}.b8"
        exp.circuit().compile_detector_sampler(seed=2).sample_write(shots, filepath=str(dets), format="b8")
        out = tmp_path / f"l{shots}.dem"
        err = _one_line(capsys, ["--circuit", str(circuit), "--dets", str(dets), "--out", str(out)],
                        "without a path to a boundary through errors of positive probability")
        assert f"learned from the {shots} shot{'s' if shots > 1 else ''} of" in err and "more shots" in err
        assert not out.exists()
    folder = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5" / "surface_code_bX_d3_r03_center_3_5"
    out = tmp_path / "lx.dem"
    _one_line(capsys, ["--experiment", str(folder), "--half", "even", "--max-shots", "3", "--out", str(out)],
              "the DEM learned from the 2 even shots of surface_code_bX_d3_r03_center_3_5")
    assert not out.exists()
    dets = tmp_path / "d20k.b8"
    exp.circuit().compile_detector_sampler(seed=2).sample_write(20_000, filepath=str(dets), format="b8")
    rc, _, err = _cli(["--circuit", str(circuit), "--dets", str(dets), "--out", str(out), "--shots", "20000"], capsys)
    assert rc == 0 and out.exists(), err  # enough shots: written


@pytest.mark.parametrize("extra, match", [
    (["--distance", "3", "--p", "0.003"], "--distance, --p do not apply to file mode"),
    (["--train-shots", "5", "--correlated"], "--train-shots, --correlated do not apply to file mode"),
    (["--max-shots", "100"], "--max-shots does not apply to file mode"),
])
def test_flags_of_another_mode_are_refused(tmp_path, capsys, extra, match):
    """Item 5: simulated-mode flags given with --circuit and --dets were ignored without a word."""
    exp = MemoryExperiment(3, 3, 0.003, "x")
    exp.circuit().to_file(tmp_path / "c.stim")
    exp.circuit().compile_detector_sampler(seed=2).sample_write(100, filepath=str(tmp_path / "d.b8"), format="b8")
    _one_line(capsys, ["--circuit", str(tmp_path / "c.stim"), "--dets", str(tmp_path / "d.b8"), "--out",
                       str(tmp_path / "l.dem"), *extra], match)
    assert not (tmp_path / "l.dem").exists()


def test_mode_flags_in_the_other_modes(capsys):
    folder = pathlib.Path(__file__).resolve().parents[1] / "data" / "google_qec3v5" / "surface_code_bX_d3_r03_center_3_5"
    _one_line(capsys, ["--experiment", str(folder), "--half", "even", "--out", "x.dem", "--p", "0.01"],
              "--p does not apply to --experiment")
    _one_line(capsys, ["--experiment", str(folder), "--half", "even", "--out", "x.dem", "--shots", "5"],
              "--shots does not apply to --experiment")
    _one_line(capsys, ["--distance", "3", "--p", "0.01", "--per-round"], "--per-round does not apply to simulated")


def test_learn_noise_refuses_another_circuits_shots(tmp_path, capsys):
    """Item 2: learn-noise learned from a d=3 file read as d=5 shots (its size divides)."""
    c3, c5 = (MemoryExperiment(d, d, 0.003, "x").circuit() for d in (3, 5))
    c5.to_file(tmp_path / "c5.stim")
    c3.compile_detector_sampler(seed=1).sample_write(2000, filepath=str(tmp_path / "d3.b8"), format="b8")
    _one_line(capsys, ["--circuit", str(tmp_path / "c5.stim"), "--dets", str(tmp_path / "d3.b8"), "--out",
                       str(tmp_path / "l.dem")], "does not look like shots of this circuit")
    assert not (tmp_path / "l.dem").exists()
