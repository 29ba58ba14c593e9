"""What one process sets once for speed, and the small-input path of categorical codes."""

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info

from microlift.models import features as F
from microlift.models.settings import process_environment


def test_blas_runs_on_one_thread_once_the_process_environment_is_set(monkeypatch):
    # given: no thread count set by the operator
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setattr("microlift.models.settings._BLAS_SET", False)
    # when
    process_environment()
    # then: every BLAS library loaded in the process takes one thread
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)


@pytest.mark.parametrize("kind", ["platform", "niche", "country"])
def test_a_few_values_are_coded_as_many_are(kind):
    # given: spellings, unknown values and every kind of missing value, repeated past the one-by-one threshold
    vocabulary = F.VOCABULARIES[kind]
    values = [vocabulary[0], f" {vocabulary[-1].upper()} ", "nowhere", None, float("nan"), pd.NA, vocabulary[1]]
    many = np.array(values * 100, dtype=object)
    # when / then: the one-by-one path (few values), the factorised one (many) and a repeated value agree
    np.testing.assert_array_equal(F.codes(np.array(values, dtype=object), vocabulary),
                                  F.codes(many, vocabulary)[:len(values)])
    np.testing.assert_array_equal(F.codes(pd.Series(values * 100, dtype="str"), vocabulary)[:len(values)],
                                  F.codes(np.array(values, dtype=object), vocabulary))
    repeated = np.broadcast_to(np.array(vocabulary[2], dtype=object), (500,))
    assert (F.codes(repeated, vocabulary) == vocabulary.index(vocabulary[2])).all()
    assert F.codes(np.array(values, dtype=object), vocabulary)[3:6].tolist() == [len(vocabulary)] * 3
