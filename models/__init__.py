"""Domain logic of microlift: vocabularies, the data contract, features, estimators, ranking and forecasts.

Nothing here knows about Flask or the command line; `training` and `serving` both import it.
"""
