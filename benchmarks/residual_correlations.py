"""Why the pre-decoder's residual loses correlated matching's gain: which events the network
removes, and what is left of the X-Z correlations correlated matching uses.

    python benchmarks/residual_correlations.py --distance 5 --rounds 4 --p 0.006 --shots 20000 \
        --model small --seed 31 --out docs/results/residual_correlations_d5.json

Shots are sampled from the DEM with the errors that fired (Stim's ``return_errors``), so every
event can be traced to the DEM errors behind it. A DEM error is *XZ* when it flips both X-type
and Z-type detectors (a Y error on a data qubit, a hook error of a CZ/CX schedule: what
correlated matching's second pass reweights for), else X-only or Z-only. The network's
corrections at the model's threshold give the residual (``PipelineDecoder.corrections``).

Measured, on the same shots:

- errors of plain and correlated PyMatching on the raw events and on the residual (the gain
  correlated matching adds in each case);
- the removed events (raw event, no residual event) by the kind of the one fired DEM error behind
  them (events behind two or more fired errors are "shared");
- every fired XZ error whose detectors no other fired error touches ("isolated", so its events
  are exactly its detectors): both sides removed, only its X side, only its Z side, or neither;
- X-Z co-occurrence: for each X-type event, whether a Z-type detector that shares an XZ DEM error
  with it (a partner) also has an event, in the raw events and in the residual, against the same
  rate with the Z-type events of another shot (chance).

Prints a markdown summary; ``--out`` writes JSON.
"""

from __future__ import annotations

import json

import numpy as np
import scipy.sparse as sp
from _experiment_flags import experiment_parser, resolve_rounds

from predecoder import PipelineDecoder, load_model
from qec import MemoryExperiment, PyMatchingDecoder

KINDS = ("xz", "x", "z")


def dem_error_detectors(dem) -> list[frozenset[int]]:
    """Each error instruction's detectors (components of a decomposed error XOR-ed together)."""
    out = []
    for inst in dem.flattened():
        if inst.type != "error":
            continue
        dets: set[int] = set()
        for t in inst.targets_copy():
            if t.is_relative_detector_id():
                dets ^= {t.val}
        out.append(frozenset(dets))
    return out


def error_kinds(errors: list[frozenset[int]], channel: np.ndarray) -> np.ndarray:
    """str array (M,): 'xz', 'x', 'z' or '' (no detectors) per DEM error; channel 0 = X type."""
    kinds = []
    for dets in errors:
        ch = {int(channel[d]) for d in dets}
        kinds.append("xz" if ch == {0, 1} else "x" if ch == {0} else "z" if ch == {1} else "")
    return np.array(kinds)


def co_occurrence(events: np.ndarray, partners: sp.csr_matrix, x_dets: np.ndarray, z_dets: np.ndarray) -> dict:
    """P(a partner Z-type detector has an event | X-type event), in these shots and with the
    Z-type events of the next shot (chance). ``partners``: (N, N) X-type -> Z-type detectors
    sharing an XZ DEM error."""
    ev = events.astype(np.float32)
    shifted = np.roll(events, 1, axis=0).astype(np.float32)
    zmask = np.zeros(events.shape[1], dtype=np.float32)
    zmask[z_dets] = 1
    hit = (sp.csr_matrix(ev * zmask) @ partners.T.tocsr()).toarray() > 0  # (S, N): a partner has an event
    hit_chance = (sp.csr_matrix(shifted * zmask) @ partners.T.tocsr()).toarray() > 0
    xe = events[:, x_dets]
    n = int(xe.sum())
    return {"x_events": n, "z_events": int(events[:, z_dets].sum()),
            "partner_rate": float(hit[:, x_dets][xe].mean()) if n else float("nan"),
            "chance_rate": float(hit_chance[:, x_dets][xe].mean()) if n else float("nan")}


def run(distance: int, rounds: int, p: float, basis: str, model_path: str, shots: int, seed: int) -> dict:
    exp = MemoryExperiment(distance, rounds, p, basis=basis)
    circuit, dem = exp.circuit(), exp.dem()
    model = load_model(model_path)
    dec = PipelineDecoder(circuit, dem, model=model)
    layout = dec.layout
    channel = np.asarray(layout.detector_channel)
    x_dets, z_dets = np.flatnonzero(channel == 0), np.flatnonzero(channel == 1)
    errors = dem_error_detectors(dem)
    kinds = error_kinds(errors, channel)
    rows = np.concatenate([[j] * len(d) for j, d in enumerate(errors)]).astype(np.int64)
    cols = np.concatenate([sorted(d) for d in errors]).astype(np.int64)
    E = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=(len(errors), dem.num_detectors))

    events, obs, fired = dem.compile_sampler(seed=seed).sample(shots, return_errors=True)
    events, obs, fired = events.astype(bool), obs.astype(bool), fired.astype(bool)
    corrections = dec.corrections(events)
    _, residual = dec.decode_corrections(events, corrections)
    plain, corr = PyMatchingDecoder(dem), PyMatchingDecoder(dem, correlated=True)
    L = np.asarray(dec.correction_basis.L, dtype=np.int64).reshape(-1)
    flip = ((corrections.reshape(shots, -1).astype(np.int64) @ L) & 1).astype(bool)[:, None]
    failures = {
        "pymatching": plain.decode_batch(events, bit_packed=False) != obs,
        "pymatching-correlated": corr.decode_batch(events, bit_packed=False) != obs,
        "predecoder": (flip ^ plain.decode_batch(residual, bit_packed=False)) != obs,
        "predecoder-correlated": (flip ^ corr.decode_batch(residual, bit_packed=False)) != obs,
    }
    fails = {k: np.any(v, axis=1) for k, v in failures.items()}
    errors_by = {k: int(v.sum()) for k, v in fails.items()}
    # The shots correlated matching rescues on the raw events, and what the residual pipelines do there.
    rescued = fails["pymatching"] & ~fails["pymatching-correlated"]
    rescues = {"count": int(rescued.sum()), "predecoder_ok": int((rescued & ~fails["predecoder"]).sum()),
               "predecoder_correlated_ok": int((rescued & ~fails["predecoder-correlated"]).sum()),
               "residual_rescued": int((fails["predecoder"] & ~fails["predecoder-correlated"]).sum()),
               "residual_broken": int((~fails["predecoder"] & fails["predecoder-correlated"]).sum()),
               "raw_broken": int((~fails["pymatching"] & fails["pymatching-correlated"]).sum())}

    F = sp.csr_matrix(fired.astype(np.int32))
    count = (F @ E).toarray()  # (S, N): fired errors at each detector
    by_kind = {k: (F @ sp.diags((kinds == k).astype(np.int32), dtype=np.int32) @ E).toarray() for k in KINDS}
    removed = events & ~residual
    added = residual & ~events
    single = removed & (count == 1)
    removed_by = {k: int((single & (by_kind[k] == 1)).sum()) for k in KINDS}
    removed_by["shared"] = int((removed & (count > 1)).sum())

    # Isolated fired XZ errors: each of their detectors flipped by them alone.
    xz = np.flatnonzero(kinds == "xz")
    sides = {"both": 0, "x_only": 0, "z_only": 0, "neither": 0}
    orphans = 0  # residual events of an isolated XZ error whose other side the network removed
    partial = 0
    isolated = 0
    s_idx, j_idx = np.nonzero(fired[:, xz])
    for s, jj in zip(s_idx, j_idx):
        j = xz[jj]
        dets = np.fromiter(errors[j], dtype=np.int64)
        if np.any(count[s, dets] != 1):
            continue
        isolated += 1
        xd, zd = dets[channel[dets] == 0], dets[channel[dets] == 1]
        rx, rz = removed[s, xd], removed[s, zd]
        partial += int((rx.any() and not rx.all()) or (rz.any() and not rz.all()))
        key = ("both" if rx.any() and rz.any() else "x_only" if rx.any() else "z_only" if rz.any() else "neither")
        sides[key] += 1
        if key == "x_only":
            orphans += int(residual[s, zd].sum())
        elif key == "z_only":
            orphans += int(residual[s, xd].sum())

    xz_E = E[xz]
    pair = (xz_E[:, x_dets].T @ xz_E[:, z_dets]).tocoo()  # X-type index -> Z-type index
    partners = sp.csr_matrix((np.ones(pair.nnz, dtype=np.float32), (x_dets[pair.row], z_dets[pair.col])),
                             shape=(dem.num_detectors, dem.num_detectors))
    partners.data[:] = 1
    co = {"raw": co_occurrence(events, partners, x_dets, z_dets),
          "residual": co_occurrence(residual, partners, x_dets, z_dets)}
    return {
        "distance": distance, "rounds": rounds, "p": p, "basis": basis, "model": model_path,
        "model_sha256": model.sha256, "shots": shots, "seed": seed, "errors": errors_by,
        "dem_errors": {k: int((kinds == k).sum()) for k in KINDS},
        "fired": {k: int(fired[:, kinds == k].sum()) for k in KINDS},
        "events": {"raw": int(events.sum()), "residual": int(residual.sum()), "removed": int(removed.sum()),
                   "added": int(added.sum())},
        "removed_by_kind": removed_by,
        "isolated_xz": {"count": isolated, **sides, "partial_side": partial, "orphaned_residual_events": orphans},
        "correlated_rescues": rescues,
        "co_occurrence": co,
    }


def summary(r: dict) -> str:
    e = r["errors"]
    lines = [f"d={r['distance']}, rounds {r['rounds']}, p={r['p']}, {r['basis']} basis, {r['shots']} shots, "
             f"model {r['model']} ({r['model_sha256'][:12]})",
             f"errors: PyMatching {e['pymatching']}, correlated {e['pymatching-correlated']} "
             f"(gain {e['pymatching'] / e['pymatching-correlated']:.3f}x); residual: PyMatching {e['predecoder']}, "
             f"correlated {e['predecoder-correlated']} (gain {e['predecoder'] / e['predecoder-correlated']:.3f}x)"]
    ev = r["events"]
    rb = r["removed_by_kind"]
    n = max(ev["removed"], 1)
    lines.append(f"events: raw {ev['raw']}, residual {ev['residual']} ({ev['residual'] / ev['raw']:.3f}), removed "
                 f"{ev['removed']}, added {ev['added']}")
    lines.append("removed events by the fired DEM error behind them: " + ", ".join(
        f"{k} {rb[k]} ({rb[k] / n:.1%})" for k in (*KINDS, "shared")))
    lines.append(f"fired DEM errors: " + ", ".join(f"{k} {r['fired'][k]}" for k in KINDS))
    iso = r["isolated_xz"]
    m = max(iso["count"], 1)
    lines.append(f"isolated fired XZ errors ({iso['count']}): both sides removed {iso['both']} ({iso['both'] / m:.1%}), "
                 f"X side only {iso['x_only']} ({iso['x_only'] / m:.1%}), Z side only {iso['z_only']} "
                 f"({iso['z_only'] / m:.1%}), neither {iso['neither']} ({iso['neither'] / m:.1%}); a side partly "
                 f"removed {iso['partial_side']}")
    lines.append(f"residual events left by an isolated XZ error whose other side was removed: "
                 f"{iso['orphaned_residual_events']} ({iso['orphaned_residual_events'] / max(ev['residual'], 1):.1%} "
                 f"of the residual's events)")
    c = r["correlated_rescues"]
    lines.append(f"shots correlated matching rescues on the raw events (PyMatching fails, correlated does not): "
                 f"{c['count']}; the residual pipeline gets {c['predecoder_ok']} of them right with plain matching, "
                 f"{c['predecoder_correlated_ok']} with correlated; correlated matching on the residual rescues "
                 f"{c['residual_rescued']} shots and breaks {c['residual_broken']} (on the raw events: rescues "
                 f"{c['count']}, breaks {c['raw_broken']})")
    for k in ("raw", "residual"):
        c = r["co_occurrence"][k]
        lines.append(f"X-Z co-occurrence, {k}: {c['x_events']} X-type events, {c['z_events']} Z-type; a partner "
                     f"Z event at {c['partner_rate']:.3f} of X events (chance {c['chance_rate']:.3f}, lift "
                     f"{c['partner_rate'] / c['chance_rate']:.2f}x)")
    return "\n".join(lines)


def main() -> None:
    parser = experiment_parser(__doc__, rounds="d-1")
    parser.add_argument("--shots", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    r = run(args.distance, resolve_rounds(args.rounds, args.distance), args.p, args.basis, args.model, args.shots, args.seed)
    print(summary(r))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(r, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
