"""Training and batch scoring on a Dask cluster, for data that outgrows one machine (DESIGN §8).

`cluster` connects to a scheduler (or starts a small local cluster), `data` reads partitioned contract tables and
prepares model rows one partition at a time, `train` fits the engagement and conversion models with LightGBM's
Dask estimators into the same artifacts as single-machine training, and `score` scores a creator catalog.
"""
