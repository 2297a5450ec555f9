"""On-device labeled sampling for GPU training.

Every DEM error fires by a Bernoulli draw on the device; events, observable and labels are one
sparse GF(2) product of the fired errors with the DEM's [detectors | observable | label] table.
Nothing leaves the device, so data keeps up with the model. Same statistics as Stim's sampler
(checked in tests).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
import stim
import torch

from qec import CorrectionBasis, dem_error_labels
from qec.encoding import dem_error_table


class TorchLabeledSampler:
    """Samples (grid inputs, labels) batches as tensors on ``device``.

    Args:
        dem: graphlike-decomposed detector error model.
        correction_basis: correction basis of the experiment's layout.
        device: torch device.
        seed: generator seed.

    ``sample(shots)`` returns inputs float32 (shots, 4, T, H, W) in the layout's channel order,
    observables bool (shots, 1) and labels float32 (shots, 4, T, H, W).
    """

    def __init__(self, dem: stim.DetectorErrorModel, correction_basis: CorrectionBasis, device="cpu", seed: int = 0):
        self.device = torch.device(device)
        self.correction_basis = correction_basis
        layout = correction_basis.layout
        probs, dets, obs = dem_error_table(dem)
        labels = dem_error_labels(dem, correction_basis)
        lab = scipy.sparse.csr_matrix(
            (np.ones(len(labels.indices), dtype=np.int32), labels.indices, labels.indptr),
            shape=(len(probs), correction_basis.num_elements),
        )
        table = scipy.sparse.hstack([dets, scipy.sparse.csr_matrix(obs[:, None].astype(np.int32)), lab], format="csr")
        table_t = table.T.tocoo()  # (columns, errors)
        indices = torch.from_numpy(np.vstack([table_t.row, table_t.col]).astype(np.int64))
        self._table_t = torch.sparse_coo_tensor(
            indices, torch.from_numpy(table_t.data.astype(np.float32)), size=table_t.shape, check_invariants=True
        ).coalesce().to(self.device)
        self._probs = torch.as_tensor(probs, dtype=torch.float32, device=self.device)
        self._num_detectors = dem.num_detectors
        self._det_flat = torch.as_tensor(layout.detector_flat_index, device=self.device)
        T, H, W = layout.shape
        self._grid_size = 2 * T * H * W
        self._mask = torch.as_tensor(layout.detector_mask(), dtype=torch.float32, device=self.device)
        self._generator = torch.Generator(device=self.device)
        self._generator.manual_seed(int(seed))

    def reseed(self, seed: int) -> None:
        """Restart the sampler's random stream from ``seed``."""
        self._generator.manual_seed(int(seed))

    def sample(self, shots: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``shots`` labeled samples on the device: (events, observables, labels) float tensors."""
        u = torch.rand((shots, len(self._probs)), generator=self._generator, device=self.device)
        fired = (u < self._probs).to(torch.float32)
        counts = torch.sparse.mm(self._table_t, fired.T).T  # (shots, columns), small integers
        bits = torch.remainder(counts, 2.0)
        n = self._num_detectors
        events = bits[:, :n]
        obs = bits[:, n:n + 1] > 0.5
        labels = bits[:, n + 1:].reshape(shots, *self.correction_basis.shape)
        T, H, W = self.correction_basis.layout.shape
        grid = torch.zeros((shots, self._grid_size), device=self.device)
        grid[:, self._det_flat] = events
        inputs = torch.cat([grid.reshape(shots, 2, T, H, W), self._mask.expand(shots, 2, T, H, W)], dim=1)
        return inputs, obs, labels
