"""Ranking quality over several simulated worlds: NDCG@50 of ranking by predicted profit against each creator's
true expected profit, beside the best a ranking could know, for each way of paying.

`tests/test_quality.py` measures one world (seed 22) and one pool of 800 creators. NDCG@50 rests on the pool's
top creators, so this script repeats the measurement on other seeds to show how much it moves from world to
world, and how much of that the data themselves allow. The baseline measured in the same run is the ranking
informed by the truth except for each creator's own conversion effect (`ranking.ndcg50_informed_prior` of
`training.backtest.ranking_backtest`): what the best model of the data could reach on that pool. Beside it,
"knowable, engine" values those knowable engagements and units by the engine's own arithmetic, as the ranking
values its predictions: where it is no better than the model, better predictions would not help, and the gap to
"informed" is the engine's value arithmetic (audience overlap, lift slopes).

    python bench/ranking_worlds.py                  # seeds 22, 23 and 24: about 5 minutes a seed
    python bench/ranking_worlds.py --seeds 22,25    # other worlds
    python bench/ranking_worlds.py --tiny           # a small world, for the smoke test
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from training.backtest import backtest_case, conversion_evidence, ranking_backtest
from training.datasets import Dataset
from training.prepare import prepare
from training.simulation.generator import simulate
from training.train import train_all

COLUMNS = {"ranking.ndcg50": "model", "ranking.ndcg50_informed_prior": "informed",
           "ranking.ndcg50_informed_posterior": "informed+track",
           "ranking.ndcg50_knowable_engine": "knowable, engine", "ranking.ndcg50_followers": "followers",
           "ranking.ndcg50_tier_median": "tier median"}


def world(seed: int, creators: int, campaigns: int, pool: int, budget: float) -> list[dict]:
    started = time.perf_counter()
    tables = simulate(creators, campaigns, seed=seed, progress=False)
    dataset = Dataset(tables["creators"], tables["posts"], tables["campaigns"],
                      {k: v for k, v in tables.items() if k.startswith("truth")})
    models = train_all(prepare(dataset), progress=False).models
    evidence = conversion_evidence(dataset)
    rows = []
    for compensation in ("gifting", "paid", "affiliate"):
        brief, candidates = backtest_case(dataset, compensation, size=pool)
        result = ranking_backtest(brief, candidates, dataset.truth["truth_creators"], models, budget, evidence)
        rows.append({"seed": seed, "paying": compensation, **{COLUMNS[k]: result[k] for k in COLUMNS}})
    print(f"seed {seed}: {time.perf_counter() - started:,.0f} s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="22,23,24", help="simulated worlds, comma-separated (default 22,23,24)")
    parser.add_argument("--tiny", action="store_true", help="one small world, for the smoke test")
    args = parser.parse_args()
    seeds = [22] if args.tiny else [int(s) for s in args.seeds.split(",")]
    creators, campaigns, pool, budget = (3_000, 120, 150, 1_500.0) if args.tiny else (50_000, 1_000, 800, 8_000.0)
    rows = [row for seed in seeds for row in world(seed, creators, campaigns, pool, budget)]
    table = pd.DataFrame(rows)
    table["model/informed"] = table["model"] / table["informed"]
    print(f"\nNDCG@50 on {pool} Instagram and TikTok creators a world (target: model >= 0.9)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("\nmean over worlds")
    print(table.drop(columns="seed").groupby("paying", sort=False).mean().to_string(
        float_format=lambda v: f"{v:.3f}"))
    worst = table.loc[table["model/informed"].idxmin()]
    print(f"\nratio model / informed NDCG@50: mean {np.mean(table['model/informed']):.3f}, worst "
          f"{worst['model/informed']:.3f} (seed {worst['seed']}, {worst['paying']})")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
