"""Labels: H * labels == events and L * labels == observables, bit for bit, everywhere."""

import numpy as np
import pytest
import stim

from qec._circuits._memory_experiment import MemoryExperiment
from qec._encoding._correction_basis import CorrectionBasis
from qec._encoding._labels import LabelError, dem_error_labels
from qec._encoding._sampling import LabeledSampler
from qec._encoding._layout import SpaceTimeLayout

SHOTS = 100_000


def _basis(exp: MemoryExperiment) -> CorrectionBasis:
    return CorrectionBasis.from_layout(SpaceTimeLayout.from_circuit(exp.circuit()))


@pytest.mark.parametrize("distance", [3, 5, pytest.param(7, marks=pytest.mark.slow), pytest.param(9, marks=pytest.mark.slow)])
@pytest.mark.parametrize("basis", ["x", "z"])
@pytest.mark.parametrize("noise", ["depolarizing", "si1000", "stim"])
def test_labels_reproduce_events_and_observables(distance, basis, noise):
    exp = MemoryExperiment(distance, distance, 0.006, basis, noise)
    cb = _basis(exp)
    sampler = LabeledSampler(exp.dem(), cb, seed=distance)
    chunk = 20_000
    for _ in range(SHOTS // chunk):
        events, obs, labels = sampler.sample(chunk)
        assert labels.shape == (chunk, *cb.shape)
        assert not np.any(labels & ~cb.valid[None])
        assert np.array_equal(cb.syndrome(labels), events)
        assert np.array_equal(cb.observable_flip(labels), obs)
        # The oracle correction leaves no residual and no logical error.
        assert not np.any(cb.residual_syndrome(events, labels))


@pytest.mark.parametrize("rounds", [1, 2, 7])
def test_every_dem_error_label_is_exact(rounds):
    exp = MemoryExperiment(5, rounds, 0.006, "x")
    cb = _basis(exp)
    dem = exp.dem()
    labels = dem_error_labels(dem, cb)
    assert labels.num_errors == dem.num_errors
    Hc = cb.H.tocsc()
    errors = [inst for inst in dem.flattened() if inst.type == "error"]
    for k, inst in enumerate(errors):
        dets = set()
        for t in inst.targets_copy():
            if t.is_relative_detector_id():
                dets ^= {t.val}
        label = labels.indices[labels.indptr[k]:labels.indptr[k + 1]]
        flipped = set()
        for e in label:
            flipped ^= set(Hc.indices[Hc.indptr[e]:Hc.indptr[e + 1]].tolist())
        assert flipped == dets, str(inst)
        assert bool(cb.L[label].sum() % 2) == labels.observables[k]


def test_equivalent_errors_share_one_label_and_labels_are_deterministic():
    exp = MemoryExperiment(3, 3, 0.006, "z")
    cb = _basis(exp)
    dem = exp.dem()
    a = dem_error_labels(dem, cb)
    b = dem_error_labels(dem, cb)
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    # Two copies of the same mechanism get identical labels.
    first = next(iter(dem.flattened()))
    doubled = stim.DetectorErrorModel()
    doubled.append(first)
    doubled.append(first)
    doubled.append("detector", [], [stim.target_relative_detector_id(dem.num_detectors - 1)])
    c = dem_error_labels(doubled, cb)
    assert np.array_equal(c.indices[c.indptr[0]:c.indptr[1]], c.indices[c.indptr[1]:c.indptr[2]])


def test_undecomposed_error_is_named():
    exp = MemoryExperiment(3, 3, 0.006, "z")
    cb = _basis(exp)
    dem = exp.dem(decompose_errors=False)
    with pytest.raises(LabelError, match="DEM term `error"):
        dem_error_labels(dem, cb)


def test_dem_of_another_circuit_is_rejected():
    cb = _basis(MemoryExperiment(3, 3, 0.006, "z"))
    with pytest.raises(LabelError, match="detectors"):
        dem_error_labels(MemoryExperiment(5, 3, 0.006, "z").dem(), cb)


def test_errors_with_equal_effect_share_one_label():
    exp = MemoryExperiment(5, 5, 0.006, "x")
    cb = _basis(exp)
    dem = exp.dem()
    labels = dem_error_labels(dem, cb)
    seen: dict = {}
    errors = [inst for inst in dem.flattened() if inst.type == "error"]
    split = 0
    for k, inst in enumerate(errors):
        dets, obs = set(), 0
        for t in inst.targets_copy():
            if t.is_relative_detector_id():
                dets ^= {t.val}
            elif t.is_logical_observable_id():
                obs ^= 1
        if len(dets) > 2:
            continue
        split += any(t.is_separator() for t in inst.targets_copy())
        key = (tuple(sorted(dets)), obs)
        label = tuple(labels.indices[labels.indptr[k]:labels.indptr[k + 1]])
        assert seen.setdefault(key, label) == label, str(inst)
    assert split > 0  # Stim does split some graphlike errors; they must not change the label
