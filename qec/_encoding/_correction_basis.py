"""The correction basis: the local moves a pre-decoder may make, with their GF(2) effects.

Basis elements live on the layout's grid as a (4, T, H, W) tensor, indexed by flat position:

- channel 0, ``z_data``: Pauli Z on the data qubit at (row, col) in round t (t = 0 .. rounds;
  round ``rounds`` is the final readout). Flips the round-t detectors of the adjacent X-type
  stabilizers; flips the observable in an X-basis memory when the qubit is in its support.
- channel 1, ``x_data``: Pauli X likewise (Z-type detectors; Z-basis observable).
- channel 2, ``x_meas``: the X-type stabilizer at (row, col) misread in round t (t = 0 ..
  rounds - 1); flips its detectors at t and t + 1 where they exist.
- channel 3, ``z_meas``: the same for Z-type stabilizers.

``H`` maps basis elements to detectors and ``L`` to the observable; ``residual_syndrome`` and
``observable_flip`` apply them to whole batches.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse

from qec._errors import QecError
from qec._encoding._layout import SpaceTimeLayout

CORRECTION_CHANNELS = ("z_data", "x_data", "x_meas", "z_meas")

# Grid offsets from a data qubit's site to the sites of its (up to four) neighbouring stabilizers.
_DATA_NEIGHBOURS = ((0, 0), (0, 1), (1, 0), (1, 1))


def gf2_product(active: np.ndarray, matrix: scipy.sparse.csr_matrix) -> np.ndarray:
    """Batched GF(2) product: bool (batch, n) times sparse (n, m) -> bool (batch, m).

    Row b of the result is the XOR of the rows of ``matrix`` selected by ``active[b]``.
    """
    active = np.asarray(active)
    b, item = np.nonzero(active)
    return gf2_product_pairs(b, item, active.shape[0], matrix)


def gf2_product_pairs(
    rows: np.ndarray, items: np.ndarray, batch: int, matrix: scipy.sparse.csr_matrix
) -> np.ndarray:
    """Like :func:`gf2_product` with the active entries given as (row, item) index pairs."""
    fired = scipy.sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.int32), (rows, items)), shape=(batch, matrix.shape[0])
    )
    product = fired @ matrix
    odd = (product.data & 1) == 1
    rows = np.repeat(np.arange(batch), np.diff(product.indptr))[odd]
    out = np.zeros((batch, matrix.shape[1]), dtype=bool)
    out[rows, product.indices[odd]] = True
    return out


def xor_rows(active: np.ndarray, indptr: np.ndarray, indices: np.ndarray, num_cols: int) -> np.ndarray:
    """XOR together, per batch row, the sparse rows selected by ``active``.

    Args:
        active: bool (batch, num_items): which items are on in each row of the batch.
        indptr, indices: CSR structure, item k -> columns ``indices[indptr[k]:indptr[k + 1]]``.
        num_cols: number of columns of the result.

    Returns:
        bool (batch, num_cols): parity of how many active items touch each column.
    """
    matrix = scipy.sparse.csr_matrix(
        (np.ones(len(indices), dtype=np.int32), indices, indptr), shape=(len(indptr) - 1, num_cols)
    )
    return gf2_product(active, matrix)


@dataclasses.dataclass(frozen=True, eq=False)
class CorrectionBasis:
    """Basis elements on the layout's grid and their effect on detectors and the observable.

    Attributes:
        layout: the space-time layout the basis lives on.
        valid: bool (4, T, H, W): which grid positions are basis elements.
        H: scipy CSR uint8 (num_detectors, 4 * T * H * W): element -> detectors it flips.
        L: bool (4 * T * H * W,): elements that flip observable 0.

    Example:
        >>> from qec._circuits._memory_experiment import memory_circuit
        >>> basis = CorrectionBasis.from_layout(SpaceTimeLayout.from_circuit(memory_circuit(3, p=0.001)))
        >>> basis.shape
        (4, 4, 4, 4)
    """

    layout: SpaceTimeLayout
    valid: np.ndarray
    H: scipy.sparse.csr_matrix
    L: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(4, T, H, W)."""
        return (4, *self.layout.shape)

    @property
    def num_elements(self) -> int:
        """Number of flat grid positions 4 * T * H * W (invalid ones have empty columns)."""
        return int(np.prod(self.shape))

    @staticmethod
    def from_layout(layout: SpaceTimeLayout) -> "CorrectionBasis":
        """The correction basis of ``layout``'s space-time volume (which data-qubit and measurement
        errors flip which detectors)."""
        T, Hh, W = layout.shape
        det_index = -np.ones((2, T + 1, Hh + 1, W + 1), dtype=np.int64)  # padded by one
        det_index[layout.detector_channel, layout.detector_t, layout.detector_row, layout.detector_col] = np.arange(
            layout.num_detectors
        )
        valid = np.zeros((4, T, Hh, W), dtype=bool)
        data_sites = np.zeros((Hh, W), dtype=bool)
        for q in layout.data_qubits:
            data_sites[q.row, q.col] = True
        valid[0] = data_sites
        valid[1] = data_sites
        for s in layout.stabilizers:
            valid[2 if s.kind == "X" else 3, : T - 1, s.row, s.col] = True

        t, r, c = np.meshgrid(np.arange(T), np.arange(Hh), np.arange(W), indexing="ij")
        t, r, c = t.ravel(), r.ravel(), c.ravel()
        rows_list, cols_list = [], []
        for ch in range(4):
            element = ((ch * T + t) * Hh + r) * W + c
            ok = valid[ch].ravel()
            if ch < 2:
                det_channel = 0 if ch == 0 else 1  # Z flips -> X-type detectors; X flips -> Z-type
                taps = [(det_channel, t, r + dr, c + dc) for dr, dc in _DATA_NEIGHBOURS]
            else:
                det_channel = 0 if ch == 2 else 1
                taps = [(det_channel, t, r, c), (det_channel, t + 1, r, c)]
            for dch, tt, rr, cc in taps:
                det = det_index[dch, tt, rr, cc]
                keep = ok & (det >= 0)
                rows_list.append(det[keep])
                cols_list.append(element[keep])
        rows = np.concatenate(rows_list)
        cols = np.concatenate(cols_list)
        n_el = 4 * T * Hh * W
        H = scipy.sparse.csr_matrix(
            (np.ones(len(rows), dtype=np.uint8), (rows, cols)), shape=(layout.num_detectors, n_el)
        )
        L = np.zeros((4, T, Hh, W), dtype=bool)
        flipping_channel = 0 if layout.basis == "x" else 1  # Z flips an X observable, X flips a Z one
        for q in layout.data_qubits:
            if q.qubit in layout.observable_qubits:
                L[flipping_channel, :, q.row, q.col] = True
        basis = CorrectionBasis(layout=layout, valid=valid, H=H, L=L.ravel())
        object.__setattr__(basis, "_Hcsc", H.tocsc())
        object.__setattr__(basis, "_HT", H.T.tocsr().astype(np.int32))
        return basis

    # -----------------------------------------------------------------------------------------

    def element_detectors(self, element: int) -> np.ndarray:
        """int64 array: the detectors that basis element ``element`` (flat index) flips."""
        Hc = self._Hcsc
        return Hc.indices[Hc.indptr[element]:Hc.indptr[element + 1]].astype(np.int64)

    def _flat(self, corrections: np.ndarray) -> np.ndarray:
        corrections = np.asarray(corrections)
        if corrections.ndim == 5:
            if corrections.shape[1:] != self.shape:
                raise QecError(f"corrections must have shape (batch, {', '.join(map(str, self.shape))})")
            corrections = corrections.reshape(corrections.shape[0], -1)
        if corrections.ndim != 2 or corrections.shape[1] != self.num_elements:
            raise QecError(f"corrections must have {self.num_elements} elements per shot")
        return corrections != 0

    def syndrome(self, corrections: np.ndarray) -> np.ndarray:
        """H * c: bool (batch, num_detectors) from corrections (batch, 4, T, H, W) or flat."""
        return gf2_product(self._flat(corrections), self._HT)

    def residual_syndrome(self, events: np.ndarray, corrections: np.ndarray) -> np.ndarray:
        """events XOR H * c: bool (batch, num_detectors)."""
        events = np.asarray(events, dtype=bool)
        return events ^ self.syndrome(corrections)

    def observable_flip(self, corrections: np.ndarray) -> np.ndarray:
        """L * c: bool (batch, 1)."""
        c = self._flat(corrections)
        return (np.count_nonzero(c & self.L[None, :], axis=1) & 1).astype(bool)[:, None]
