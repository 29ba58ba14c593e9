"""Per-feature contributions of a LightGBM model's prediction, read off each row's decision paths.

Along a tree's path from the root to a row's leaf, every split moves the expected output from the parent node's
value to the child's; that move is credited to the split's feature (Saabas, "Interpreting random forests", 2014).
Per tree the credits add up to the leaf value minus the root's value, so over the model a row's contributions plus
the model's base value equal its raw prediction exactly, as LightGBM's own SHAP values do. Unlike TreeSHAP, whose
cost grows with leaves x depth^2 per tree and row, a path's credits depend on its leaf alone: they are tabulated
once per model, and explaining rows costs one leaf lookup per tree (LightGBM's `pred_leaf`) and a sum.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from scipy import sparse


class PathContributions:
    """Contributions of each feature to a booster's raw prediction, from a table of per-leaf path credits."""

    def __init__(self, booster: lgb.Booster):
        dump = booster.dump_model()
        names = dump["feature_names"]
        self.n_features = len(names)
        trees = dump["tree_info"]
        sizes = [int(t["num_leaves"]) for t in trees]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.table = np.zeros((int(sum(sizes)), self.n_features))
        self.base = 0.0
        for tree, start in zip(trees, self.offsets, strict=True):
            root = tree["tree_structure"]
            if "split_feature" not in root:  # a single-leaf tree moves nothing (its dump has no leaf_index)
                self.base += float(root["leaf_value"])
                continue
            self.base += float(root["internal_value"])
            self._credit(root, np.zeros(self.n_features), int(start))

    def _credit(self, node: dict, credit: np.ndarray, start: int) -> None:
        value = node["internal_value"]
        for side in ("left_child", "right_child"):
            child = node[side]
            moved = credit.copy()
            moved[node["split_feature"]] += (child["leaf_value"] if "leaf_index" in child
                                             else child["internal_value"]) - value
            if "leaf_index" in child:
                self.table[start + int(child["leaf_index"])] = moved
            else:
                self._credit(child, moved, start)

    def __call__(self, booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
        """(rows, features) contributions of `X`'s rows to `booster`'s raw prediction (the booster this table was
        built from)."""
        # a few rows (a ranking's shown creators) on one thread: waking the booster's other thread costs more than
        # the lookup, and on a busy machine it waits for a core
        threads = {"num_threads": 1} if len(X) < 20_000 else {}
        leaves = booster.predict(X, pred_leaf=True, **threads).reshape(len(X), -1)
        if leaves.shape[1] != len(self.offsets):
            raise ValueError(f"the booster has {leaves.shape[1]} trees, its contribution table {len(self.offsets)}")
        rows, trees = leaves.shape
        # one 1 per row and tree, at the row's leaf: a sparse product sums the leaves' credits row by row
        hits = sparse.csr_matrix((np.ones(rows * trees), (leaves.astype(np.int64) + self.offsets).ravel(),
                                  np.arange(0, rows * trees + 1, trees)), shape=(rows, len(self.table)))
        return np.asarray(hits @ self.table)
