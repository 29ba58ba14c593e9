"""microlift: pick micro-influencers for a social-commerce campaign and forecast what a budget does to sales.

The import names live under this package while the folders stay at the top of the repository:

- `microlift.models` (folder `models/`): the domain, imported by both sides and importing neither;
- `microlift.training` (folder `training/`): the data scientist's side;
- `microlift.serving` (folder `serving/`): the planner's side;
- `microlift.cli` and `microlift.bootstrap` (this folder): what composes both sides, above them.
"""

__version__ = "0.1.0"
