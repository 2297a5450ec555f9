"""The paper's learned noise estimator (arXiv:2604.12841, section V), small CPU version.

Syndromes of two consecutive bulk rounds, laid out on the (d+1) x (d+1) grid of stabilizer
positions, 8 channels: (memory-type events, other-type events) of round t and of round t+1, and
the two stabilizer-presence masks, once per round. A 2D CNN with GroupNorm and GELU, global
average pooling over space, then -- the one change from the paper -- the pooled features are
averaged over all round pairs of all shots *before* the MLP (the paper averages the per-shot
25-vector outputs; a per-shot regression output is a posterior mean shrunk toward the training
prior, and averaging those does not converge to the true parameters, whereas averaged features
are sample statistics that do). MLP -> 25 parameters, bounded by a log-sigmoid in [1e-5, 3e-2].
The 25 parameters build a circuit (:class:`qec.CircuitNoise`), then a DEM, then PyMatching.

Trained on simulated d=5 data with p log-uniform in [1e-3, 1e-2] (depolarizing mapping, so the
targets are a function of p). The network is fully convolutional plus pooling, so it applies to
any distance. A single global 25-vector cannot represent noise that varies across the patch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time

import numpy as np
import stim
import torch
from torch import nn

from qec import CircuitNoise, MemoryExperiment, QecError
from qec.files import write_bytes

__all__ = [
    "NoiseNet",
    "RoundPairLayout",
    "learn_dem_with_network",
    "load_noise_net",
    "predict_noise",
    "save_noise_net",
    "train_noise_net",
]

MODEL_DIR = pathlib.Path(__file__).resolve().parent / "models"
DEFAULT_NOISE_NET = MODEL_DIR / "noise_net_d5"
LOW, HIGH = 1e-5, 3e-2


@dataclasses.dataclass
class RoundPairLayout:
    """Maps a circuit's detectors to (bulk layer, type, row, col) from Stim's coordinates."""

    grid: int
    layers: list[int]  # bulk detector layers (both stabilizer types present)
    det_index: np.ndarray  # detectors of the bulk layers
    layer_pos: np.ndarray
    type_pos: np.ndarray  # 0 = memory-basis type (present at t=0), 1 = the other type
    row: np.ndarray
    col: np.ndarray
    masks: np.ndarray  # (2, grid, grid) float32

    @staticmethod
    def from_circuit(circuit: stim.Circuit) -> "RoundPairLayout":
        """The layout of ``circuit``'s detectors as consecutive-round pairs (needs (x, y, t) coordinates)."""
        coords = circuit.get_detector_coordinates()
        if not coords or any(len(v) < 3 for v in coords.values()):
            raise QecError("the network needs detector coordinates (x, y, t)")
        ts = sorted({v[2] for v in coords.values()})
        first = {(v[0], v[1]) for v in coords.values() if v[2] == ts[0]}
        per_layer: dict[float, set] = {}
        for v in coords.values():
            per_layer.setdefault(v[2], set()).add((v[0], v[1]))
        full = max(len(s) for s in per_layer.values())
        layers = [t for t in ts if len(per_layer[t]) == full]
        if len(layers) < 2:
            raise QecError("the network needs at least two bulk rounds (rounds >= 3)")
        xs = [v[0] for v in coords.values()]
        ys = [v[1] for v in coords.values()]
        x0, y0 = min(xs), min(ys)
        grid = int(max(max(xs) - x0, max(ys) - y0) // 2) + 1
        det, lp, tp, rr, cc = [], [], [], [], []
        masks = np.zeros((2, grid, grid), dtype=np.float32)
        lindex = {t: k for k, t in enumerate(layers)}
        for d, v in coords.items():
            if v[2] not in lindex:
                continue
            r, c = int((v[1] - y0) // 2), int((v[0] - x0) // 2)
            typ = 0 if (v[0], v[1]) in first else 1
            det.append(d), lp.append(lindex[v[2]]), tp.append(typ), rr.append(r), cc.append(c)
            masks[typ, r, c] = 1.0
        a = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
        return RoundPairLayout(grid, layers, a(det), a(lp), a(tp), a(rr), a(cc), masks)

    def tensor(self, events: np.ndarray) -> torch.Tensor:
        """(shots, detectors) bool -> (shots * (layers-1), 8, grid, grid) float32."""
        n = events.shape[0]
        L, G = len(self.layers), self.grid
        vol = np.zeros((n, L, 2, G, G), dtype=np.float32)
        vol[:, self.layer_pos, self.type_pos, self.row, self.col] = events[:, self.det_index]
        pairs = np.concatenate([vol[:, :-1], vol[:, 1:]], axis=2)  # (n, L-1, 4, G, G)
        pairs = pairs.reshape(n * (L - 1), 4, G, G)
        masks = np.broadcast_to(np.concatenate([self.masks, self.masks])[None], (pairs.shape[0], 4, G, G))
        return torch.from_numpy(np.concatenate([pairs, masks], axis=1))


class NoiseNet(nn.Module):
    """2D CNN -> spatial mean -> mean over samples -> MLP -> 25 bounded parameters."""

    def __init__(self, widths=(32, 64, 64, 32), mlp=(64, 64)):
        super().__init__()
        self.widths, self.mlp_widths = tuple(widths), tuple(mlp)
        layers, c = [], 8
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.GroupNorm(min(8, w // 4), w), nn.GELU()]
            c = w
        self.conv = nn.Sequential(*layers)
        head, h = [], c
        for w in mlp:
            head += [nn.Linear(h, w), nn.GELU()]
            h = w
        head.append(nn.Linear(h, 25))
        self.head = nn.Sequential(*head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """float (bags, C, H, W) statistics -> float (bags, F) pooled features."""
        return self.conv(x).mean(dim=(2, 3))

    def params(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, C) -> log of the 25 parameters, bounded in [LOW, HIGH]."""
        z = self.head(pooled)
        return math.log(LOW) + torch.sigmoid(z) * (math.log(HIGH) - math.log(LOW))

    def forward(self, x: torch.Tensor, bags: int = 1) -> torch.Tensor:
        """float (bags * n, C, H, W) statistics -> float (bags, 25) noise parameters, averaged per bag."""
        f = self.features(x)
        return self.params(f.reshape(bags, -1, f.shape[1]).mean(dim=1))


def _target(p: float) -> np.ndarray:
    v = np.asarray(CircuitNoise.depolarizing(p).as_vector())
    return np.log(np.clip(v, LOW, HIGH))


def make_dataset(n_bags: int, shots: int, distance: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Training bags for the estimator: (features, target parameters, the bags' p) at random p in
    [1e-3, 1e-2]."""
    rng = np.random.default_rng(seed)
    ps = np.exp(rng.uniform(math.log(1e-3), math.log(1e-2), n_bags))
    layout = None
    xs, ys = [], []
    for k, p in enumerate(ps):
        c = MemoryExperiment(distance, distance, float(p)).circuit()
        layout = layout or RoundPairLayout.from_circuit(c)
        events = c.compile_detector_sampler(seed=int(rng.integers(2**62))).sample(shots)
        xs.append(layout.tensor(events).to(torch.uint8))
        ys.append(_target(float(p)))
    return torch.stack(xs), torch.tensor(np.stack(ys), dtype=torch.float32), ps


def train_noise_net(
    distance: int = 5, n_bags: int = 4000, shots: int = 64, epochs: int = 12, bags_per_step: int = 8,
    lr: float = 2e-3, seed: int = 0, widths=(32, 64, 64, 32), log=print,
) -> tuple[NoiseNet, dict]:
    """Train on simulated data; returns the model and a metadata record."""
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    x, y, _ = make_dataset(n_bags, shots, distance, seed)
    xv, yv, pv = make_dataset(max(64, n_bags // 20), shots, distance, seed + 1)
    t_data = time.perf_counter() - t0
    model = NoiseNet(widths)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (n_bags // bags_per_step)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    history = []
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n_bags)
        total = 0.0
        for b in range(0, n_bags - bags_per_step + 1, bags_per_step):
            idx = perm[b : b + bags_per_step]
            xb = x[idx].float().reshape(-1, *x.shape[2:])
            loss = ((model(xb, bags=len(idx)) - y[idx]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        val = _validate(model, xv, yv)
        history.append({"epoch": epoch + 1, "train_mse_log": total / n_bags, **val})
        log(f"epoch {epoch + 1}/{epochs}: train mse(log) {total / n_bags:.4f}, val mse(log) "
            f"{val['val_mse_log']:.4f}, val rel err of p {val['val_p_rel_rms']:.3f} ({time.perf_counter() - t0:.0f} s)")
    meta = {
        "distance": distance, "n_bags": n_bags, "shots_per_bag": shots, "round_pairs_per_bag": shots * (distance - 2),
        "epochs": epochs, "bags_per_step": bags_per_step, "lr": lr, "seed": seed, "widths": list(widths),
        "mlp": list(model.mlp_widths), "parameters": sum(p.numel() for p in model.parameters()),
        "p_range": [1e-3, 1e-2], "noise": "depolarizing (paper mapping), p log-uniform",
        "data_seconds": round(t_data, 1), "train_seconds": round(time.perf_counter() - t0 - t_data, 1),
        "threads": torch.get_num_threads(), "history": history,
    }
    return model, meta


@torch.no_grad()
def _validate(model: NoiseNet, xv: torch.Tensor, yv: torch.Tensor) -> dict:
    model.eval()
    pred = torch.cat([model(xv[k].float(), bags=1) for k in range(len(xv))])
    # p is recovered from the CNOT parameters (p/15 each).
    p_hat = pred[:, 10:25].exp().sum(dim=1)
    p_true = yv[:, 10:25].exp().sum(dim=1)
    return {
        "val_mse_log": float(((pred - yv) ** 2).mean()),
        "val_p_rel_rms": float(((p_hat / p_true - 1) ** 2).mean().sqrt()),
    }


def save_noise_net(model: NoiseNet, meta: dict, path: pathlib.Path) -> None:
    """Write ``path``.safetensors and ``path``.json (atomically; no default: the shipped model
    is never an implicit output)."""
    from safetensors.torch import save

    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    write_bytes(path.with_suffix(".safetensors"), save(tensors), what="noise network")
    write_bytes(path.with_suffix(".json"), (json.dumps(meta, indent=1) + "\n").encode(), what="noise network metadata")


def load_noise_net(path: pathlib.Path = DEFAULT_NOISE_NET) -> tuple[NoiseNet, dict]:
    """Read ``path``.safetensors and ``path``.json (default: the shipped model), in eval mode."""
    from safetensors.torch import load_file

    path = pathlib.Path(path)
    if not path.with_suffix(".safetensors").exists():
        raise FileNotFoundError(f"no trained noise network at {path.with_suffix('.safetensors')}; "
                                "train one with benchmarks/noise_learning_network.py")
    meta = json.loads(path.with_suffix(".json").read_text())
    model = NoiseNet(tuple(meta["widths"]), tuple(meta["mlp"]))
    model.load_state_dict(load_file(str(path.with_suffix(".safetensors"))))
    model.eval()
    return model, meta


@torch.no_grad()
def predict_noise(model: NoiseNet, circuit: stim.Circuit, events: np.ndarray, bit_packed: bool = False,
                  chunk: int = 4096) -> CircuitNoise:
    """The 25 parameters from detection events: features averaged over all shots."""
    layout = RoundPairLayout.from_circuit(circuit)
    n_det = circuit.num_detectors
    total, count = None, 0
    for s in range(0, events.shape[0], chunk):
        block = events[s : s + chunk]
        if bit_packed:
            block = np.unpackbits(block, axis=1, bitorder="little")[:, :n_det].astype(bool)
        f = model.features(layout.tensor(block))
        total = f.sum(0) if total is None else total + f.sum(0)
        count += f.shape[0]
    logp = model.params((total / count)[None])[0]
    return CircuitNoise.from_vector(logp.exp().double().numpy().tolist())


def learn_dem_with_network(exp: MemoryExperiment, events: np.ndarray, bit_packed: bool = False,
                           model_path: pathlib.Path = DEFAULT_NOISE_NET) -> stim.DetectorErrorModel:
    """Network estimate -> 25 parameters -> circuit of ``exp``'s layout -> DEM."""
    if exp.noise != "depolarizing":
        raise QecError("the noise network builds a depolarizing-model (25-parameter) circuit; "
                         f"got noise={exp.noise!r}")
    model, _ = load_noise_net(model_path)
    noise = predict_noise(model, exp.circuit(), events, bit_packed=bit_packed)
    learned = MemoryExperiment(exp.distance, exp.rounds, exp.p, exp.basis, "depolarizing", circuit_noise=noise)
    return learned.dem()
